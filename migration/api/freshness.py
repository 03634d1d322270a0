"""What a legacy read may reuse, and for how long: answers kept in this process while the database
says nothing they were made from has changed (docs/legacy-api.md, "Caching").

The database records every change to what a member is shown (``ViewChange`` rows, written by the
triggers of migration 0006 whatever made the change). A member's *marks* are the sum of the
weights of their rows, which counts every change ever committed and only grows, in commit order,
and the largest row id, which moves when the rows are folded (``compact``). Member 0 stands for
changes that concern everyone (revoked tokens). One query reads the marks of a member and of
everyone; an answer made after reading marks is valid exactly as long as the marks are the same.

Why read the marks first: a change that commits after they were read moves them, so an answer
built from data read after them is at worst newer than its marks say, never older, and the next
request that reads the moved marks builds it again. Nothing is ever served that the database has
since changed (read-your-writes holds across processes: every process asks the database).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import psycopg
from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.dispatch import receiver
from django.http import HttpResponse
from psycopg import pq
from rest_framework.renderers import JSONRenderer

EVERYONE = 0
Marks = tuple[int, int, int, int]  # the member's (sum, max id), then everyone's

# The member's rows and everyone's, summed here: a plain index scan costs the server less than
# an aggregate, and compaction keeps a member's rows few.
_MARKS_SQL = "SELECT member_legacy_id, weight, id FROM migration_viewchange WHERE member_legacy_id IN (%s, %s)"
_MARKS_STATEMENT = b"foaf_view_marks"
_MARKS_SQL_PG = _MARKS_SQL.replace("%s", "$1", 1).replace("%s", "$2", 1).encode()
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name: a new session, not yet prepared here

V = TypeVar("V")


def marks_of(member_legacy_id: int) -> Marks:
    """The member's marks and everyone's, in one query."""
    rows = _rows_prepared(member_legacy_id) if connection.vendor == "postgresql" else None
    if rows is None:
        with connection.cursor() as cursor:
            cursor.execute(_MARKS_SQL, [member_legacy_id, EVERYONE])
            rows = cursor.fetchall()
    mine_sum = mine_top = all_sum = all_top = 0
    for member, weight, row_id in rows:
        if member == EVERYONE:
            all_sum += weight
            all_top = max(all_top, row_id)
        if member == member_legacy_id:
            mine_sum += weight
            mine_top = max(mine_top, row_id)
    return (mine_sum, mine_top, all_sum, all_top)


def _rows_prepared(member_legacy_id: int) -> list[tuple[int, int, int]] | None:
    """The marks query as a statement prepared once per session, run through libpq on the connection
    Django holds (opened and checked by Django; errors raised as Django's). Every legacy request
    asks it: this way it costs about one network round trip, where psycopg's cursor costs three
    times that. Outside a transaction only (None: use the cursor), so that a failure here, such as
    the statement not yet prepared in a new session, never aborts one."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return None
    params = [str(member_legacy_id).encode(), str(EVERYONE).encode()]
    with connection.wrap_database_errors:
        result = pgconn.exec_prepared(_MARKS_STATEMENT, params)
        if result.status == pq.ExecStatus.FATAL_ERROR and (
            result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT
        ):
            _check(pgconn.prepare(_MARKS_STATEMENT, _MARKS_SQL_PG), pq.ExecStatus.COMMAND_OK)
            result = pgconn.exec_prepared(_MARKS_STATEMENT, params)
        _check(result, pq.ExecStatus.TUPLES_OK)
        value = result.get_value
        return [
            (int(value(row, 0) or 0), int(value(row, 1) or 0), int(value(row, 2) or 0)) for row in range(result.ntuples)
        ]


def _check(result: Any, expected: pq.ExecStatus) -> None:
    if result.status != expected:
        message = (result.error_message or b"").decode("utf-8", "replace").strip()
        raise psycopg.OperationalError(f"the legacy API's marks query failed: {message or result.status}")


class Kept(Generic[V]):
    """A bounded map in least-recently-used order, each value kept with the marks it was made under."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Any, tuple[Marks, V]] = OrderedDict()

    def get(self, key: Any, marks: Marks) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != marks:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Any, marks: Marks, value: V) -> None:
        with self._lock:
            self._entries[key] = (marks, value)
            self._entries.move_to_end(key)
            while len(self._entries) > max(self._size(), 0):
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _answers_size() -> int:
    return int(settings.LEGACY_API_CACHE_ANSWERS)


answers: Kept[bytes] = Kept(_answers_size)
_RENDERER = JSONRenderer()


def answer(member_legacy_id: int, marks: Marks, name: str, build: Callable[[], Any]) -> HttpResponse:
    """A JSON answer of the member's, from the cache while ``marks`` hold, else ``build()`` rendered
    as DRF renders a ``Response`` (the same bytes) and kept. ``marks`` must have been read before
    anything ``build`` reads. Inside a transaction nothing is kept (``keepable``)."""
    key = (member_legacy_id, name)
    body = answers.get(key, marks)
    if body is None:
        body = _RENDERER.render(build())
        if keepable():
            answers.put(key, marks, body)
    return HttpResponse(body, content_type="application/json")


def keepable() -> bool:
    """Whether what was just read may be kept: not inside a transaction. Marks read there count its
    own changes, and should it roll back, later changes could bring the same marks back (SQLite
    reuses rolled-back ids) over different data."""
    return not connection.in_atomic_block


_forgetters: list[Callable[[], None]] = [answers.clear]


def on_forget(forget: Callable[[], None]) -> None:
    """Register another cache kept under marks, cleared with the rest by ``forget``."""
    _forgetters.append(forget)


def forget() -> None:
    """Drop everything kept in this process (settings changed; tests between databases)."""
    for clear in _forgetters:
        clear()


@receiver(setting_changed)
def _settings_changed(**_: Any) -> None:
    forget()


def compact() -> int:
    """Fold each member's rows into one that carries their sum; returns how many rows fewer there are.

    The sums do not move, so no cached answer is invalidated by compaction alone (the ids do, so
    some are, harmlessly). On PostgreSQL the delete and the insert are one statement: the rows
    folded are exactly the rows summed, whatever commits meanwhile."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT MAX(id) FROM migration_viewchange")
        top = cursor.fetchone()[0]
        if top is None:
            return 0
        if connection.vendor == "postgresql":
            cursor.execute(
                "WITH folded AS (DELETE FROM migration_viewchange WHERE id <= %s AND member_legacy_id IN ("
                "   SELECT member_legacy_id FROM migration_viewchange WHERE id <= %s"
                "    GROUP BY member_legacy_id HAVING COUNT(*) > 1)"
                "  RETURNING member_legacy_id, weight),"
                " kept AS (INSERT INTO migration_viewchange (member_legacy_id, weight)"
                "  SELECT member_legacy_id, SUM(weight) FROM folded GROUP BY member_legacy_id RETURNING 1)"
                " SELECT (SELECT COUNT(*) FROM folded) - (SELECT COUNT(*) FROM kept)",
                [top, top],
            )
            return int(cursor.fetchone()[0])
        # SQLite: one writer at a time, so several statements in one transaction are as good.
        cursor.execute(
            "CREATE TEMP TABLE folded AS SELECT member_legacy_id, SUM(weight) AS weight, COUNT(*) AS n"
            " FROM migration_viewchange WHERE id <= %s GROUP BY member_legacy_id HAVING COUNT(*) > 1",
            [top],
        )
        try:
            cursor.execute("SELECT COALESCE(SUM(n - 1), 0) FROM folded")
            removed = int(cursor.fetchone()[0])
            cursor.execute(
                "DELETE FROM migration_viewchange"
                " WHERE id <= %s AND member_legacy_id IN (SELECT member_legacy_id FROM folded)",
                [top],
            )
            cursor.execute(
                "INSERT INTO migration_viewchange (member_legacy_id, weight)"
                " SELECT member_legacy_id, weight FROM folded"
            )
        finally:
            cursor.execute("DROP TABLE folded")
        return removed
