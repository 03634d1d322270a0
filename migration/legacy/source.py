"""One interface over the legacy data, live or dumped: ``MySQLSource(url)`` and ``DumpSource(path)``.

Both yield the same Python values for the same data (``values`` holds the one normalization):

* ``rows(table, columns, *, after_id=None)`` -> dicts of the requested columns, in ascending ``id``
  order (tables without an ``id`` column: primary-key order live, file order in a dump);
* ``count(table, *, after_id=None)``, ``max_id(table)``, ``tables()``, ``columns(table)``.

Only the requested columns are read. The custodial-key columns of ``users`` (``foaf_private_key``,
``foaf_seed_phrase``) can never be requested: both sources refuse them with ``SourceError``
(code ``secret_column``) before touching the data.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from migration.legacy import values
from migration.legacy.dump import DumpFile
from migration.legacy.errors import SourceError, ValueConversionError
from migration.legacy.values import SECRET_COLUMNS, Kind, check_columns

FETCH_BATCH = 2000

# (column, k, n): the rows whose integer ``column`` is k modulo n, as Python's % counts (a NULL
# as 0): one process's share of a table.
Share = tuple[str, int, int]


def _check_share(table: str, columns: Sequence[str], share: Share | None) -> None:
    if share is None:
        return
    column, k, n = share
    if column not in columns or type(n) is not int or type(k) is not int or n < 1 or not 0 <= k < n:
        raise SourceError(f"a share of `{table}` must name a requested column and 0 <= k < n", code="bad_share")


class LegacySource(abc.ABC):
    """Where the legacy rows come from. Use as a context manager, or call ``close()``."""

    @abc.abstractmethod
    def tables(self) -> list[str]:
        """The tables there are, sorted by name."""

    @abc.abstractmethod
    def columns(self, table: str) -> list[str]:
        """All column names of a table, in table order (secret ones included: their names are not secret)."""

    @abc.abstractmethod
    def tuples(
        self, table: str, columns: Sequence[str], *, after_id: int | None = None, share: Share | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of ``table`` with ``id > after_id`` (all when None), ascending by id, as tuples
        of the values of ``columns`` in that order. ``share=(column, k, n)``: only the rows whose
        integer ``column`` (one of ``columns``) is k modulo n. Checks the request before returning."""

    def rows(
        self, table: str, columns: Sequence[str], *, after_id: int | None = None, share: Share | None = None
    ) -> Iterator[dict[str, Any]]:
        """``tuples`` as dicts keyed by column name (where a few rows are read; the big tables go
        as tuples)."""
        names = list(columns)
        values = self.tuples(table, names, after_id=after_id, share=share)
        return (dict(zip(names, row, strict=True)) for row in values)

    def count(self, table: str, *, after_id: int | None = None, share: Share | None = None) -> int:
        """How many rows ``tuples(table, ..., after_id=after_id, share=share)`` would yield."""
        column = self._first_column(table) if share is None else share[0]
        return sum(1 for _ in self.tuples(table, [column], after_id=after_id, share=share))

    def max_id(self, table: str) -> int | None:
        """The largest id of the table, None when it is empty."""
        if "id" not in self.columns(table):
            raise SourceError(f"table `{table}` has no id column", code="no_key")
        last = None
        for (key,) in self.tuples(table, ["id"]):
            last = key
        return last

    def readable_columns(self, table: str) -> list[str]:
        """The columns that may be read: all but the secret ones."""
        secret = SECRET_COLUMNS.get(table, frozenset())
        return [c for c in self.columns(table) if c not in secret]

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections or files."""

    def __enter__(self) -> LegacySource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _first_column(self, table: str) -> str:
        cols = self.columns(table)
        return "id" if "id" in cols else cols[0]


# ---- the dump ------------------------------------------------------------------------------------------


class DumpSource(LegacySource):
    """Rows from a mysqldump file, streamed; no server. Raises ``DumpError`` on malformed input."""

    def __init__(self, path: str, *, chunk_size: int | None = None) -> None:
        self.dump = DumpFile(path) if chunk_size is None else DumpFile(path, chunk_size=chunk_size)

    def tables(self) -> list[str]:
        return self.dump.tables()

    def columns(self, table: str) -> list[str]:
        return self.dump.columns(table)

    def tuples(
        self, table: str, columns: Sequence[str], *, after_id: int | None = None, share: Share | None = None
    ) -> Iterator[tuple[Any, ...]]:
        check_columns(table, columns)
        _check_share(table, columns, share)
        key = "id" if "id" in self.columns(table) else None
        rows = self.dump.tuples(table, columns, after_id=after_id, key=key)
        if share is None:
            return rows
        at, k, n = list(columns).index(share[0]), share[1], share[2]
        return (row for row in rows if (row[at] or 0) % n == k)


# ---- the live database ---------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# Conversions left to Python after the fetch. DECIMAL, DATETIME and DATE values are converted by
# mysqlclient as it builds each row (the converters set in ``_connect``: the same ``values``
# functions, or for DATETIME what it comes to, called from C), and money columns arrive as
# integer cents (see ``_select``).
_POST: dict[Kind, Callable[[Any], Any]] = {
    Kind.BOOL: values.boolean,
    Kind.FLOAT: float,
}
# decimal(p,2) with p up to this many digits: `col * 100` is an exact integer within a BIGINT.
_MAX_SQL_CENTS_DIGITS = 18
_DECIMAL_PARAMS = re.compile(r"\s*decimal\s*\(\s*(\d+)\s*,\s*2\s*\)", re.ASCII | re.IGNORECASE)


def _select(name: str, kind: Kind, column_type: str) -> tuple[str, Callable[[Any], Any] | None]:
    """The select expression of a column and the conversion left for Python (None: none)."""
    quoted = _quote(name)
    if kind is Kind.CENTS:
        m = _DECIMAL_PARAMS.match(column_type)
        if m and int(m.group(1)) <= _MAX_SQL_CENTS_DIGITS:
            # Exact: a decimal with 2 places times 100 is an integer, and within a BIGINT at this
            # precision. mysqlclient gives it as an int, with no Python conversion per value.
            return f"CAST({quoted} * 100 AS SIGNED)", None
        return f"CAST({quoted} AS CHAR)", values.cents  # wider money: the text, converted exactly
    if kind is Kind.DATETIME:
        # The zero date arrives as NULL (``values.datetime`` reads it as None), so every value the
        # server sends is a real date, read by ``datetime.fromisoformat`` straight from C
        # (``_connect``): a Python call per value was a tenth of reading the history.
        return f"NULLIF({quoted}, '0000-00-00 00:00:00')", None
    return quoted, _POST.get(kind)


class MySQLSource(LegacySource):
    """Rows from a live MariaDB/MySQL through mysqlclient (``migration.legacy_db``), streamed server-side.

    Each ``rows()`` runs on its own connection with ``SSCursor`` (``mysql_use_result``), so rows are not
    buffered client-side and other calls can run meanwhile. The connection is utf8mb4, so latin1 tables
    (``pending_payments``) arrive decoded by the server. DECIMAL and DATETIME values are fetched as the
    server's text and converted by the same functions the dump parser uses (for DATETIME, what
    ``values.datetime`` comes to once the zero date is NULL: ``datetime.fromisoformat``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._meta: Any = None
        self._schema: dict[str, list[tuple[str, Kind | None, str]]] = {}

    def _connect(self) -> Any:
        from MySQLdb.constants import FIELD_TYPE

        from migration.legacy_db import connect

        conn = connect(self.url)
        # The server's text, converted by the functions the dump parser uses (so both sources give
        # the same values); money columns are selected as integer cents instead (``_select``).
        for t in (FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.DECIMAL):
            conn.converter[t] = values.decimal
        for t in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP):
            # What values.datetime gives for the server's text of a DATETIME, but for the zero date,
            # which the SELECT turns into NULL (``_select``); a date fromisoformat cannot read
            # (a zero month or day) fails the read in ``_stream`` as values.datetime would.
            conn.converter[t] = dt.datetime.fromisoformat
        conn.converter[FIELD_TYPE.DATE] = values.date
        return conn

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._meta is None:
            self._meta = self._connect()
        cur = self._meta.cursor()
        try:
            cur.execute(sql, tuple(args) or None)
            return list(cur.fetchall())
        finally:
            cur.close()

    def close(self) -> None:
        if self._meta is not None:
            self._meta.close()
            self._meta = None

    def tables(self) -> list[str]:
        rows = self._query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        )
        return sorted(r[0] for r in rows)

    def _columns(self, table: str) -> list[tuple[str, Kind | None, str]]:
        if table not in self._schema:
            rows = self._query(
                "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                [table],
            )
            if not rows:
                raise SourceError(f"the database has no table `{table}`", code="unknown_table")
            schema = []
            for name, column_type, data_type in rows:
                try:
                    kind: Kind | None = values.kind_of(str(column_type), table=table, column=name)
                except SourceError:
                    kind = None
                schema.append((str(name), kind, str(column_type)))
                del data_type
            self._schema[table] = schema
        return self._schema[table]

    def columns(self, table: str) -> list[str]:
        return [name for name, _, _ in self._columns(table)]

    def _order(self, table: str) -> str:
        if "id" in self.columns(table):
            return "`id`"
        keys = self._query(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
            [table],
        )
        if not keys:
            raise SourceError(f"table `{table}` has neither an id nor a primary key to order by", code="no_key")
        return ", ".join(_quote(k[0]) for k in keys)

    def tuples(
        self, table: str, columns: Sequence[str], *, after_id: int | None = None, share: Share | None = None
    ) -> Iterator[tuple[Any, ...]]:
        check_columns(table, columns)
        _check_share(table, columns, share)
        kinds = {name: (kind, column_type) for name, kind, column_type in self._columns(table)}
        post: list[tuple[int, Callable[[Any], Any]]] = []
        selected: list[str] = []
        for name in columns:
            if name not in kinds:
                raise SourceError(f"table `{table}` has no column `{name}`", code="unknown_column")
            kind, column_type = kinds[name]
            if kind is None:
                raise SourceError(
                    f"column {table}.{name} has type {column_type!r}, not supported", code="unsupported_type"
                )
            expression, fn = _select(name, kind, column_type)
            selected.append(expression)
            if fn is not None:
                post.append((len(selected) - 1, fn))
        if after_id is not None and "id" not in kinds:
            raise SourceError("after_id needs an id column", code="no_key")
        # Identifiers only, each checked against information_schema above and quoted; values go as parameters.
        sql = f"SELECT {', '.join(selected)} FROM {_quote(table)}"  # noqa: S608
        args: list[Any] = []
        sql += self._where(table, after_id, share, args)
        sql += f" ORDER BY {self._order(table)}"
        return self._stream(sql, args, post)

    def _where(self, table: str, after_id: int | None, share: Share | None, args: list[Any]) -> str:
        """The WHERE clause of ``after_id`` and ``share`` (values appended to ``args``)."""
        conditions = []
        if after_id is not None:
            conditions.append("`id` > %s")
            args.append(after_id)
        if share is not None:
            column, k, n = share
            if column not in self.columns(table):
                raise SourceError(f"table `{table}` has no column `{column}`", code="unknown_column")
            if dict((name, kind) for name, kind, _ in self._columns(table))[column] is not Kind.INT:
                raise SourceError(f"a share of `{table}` needs an integer column, not `{column}`", code="bad_share")
            # As Python's %: MOD keeps the sign of a negative value; NULL counts as 0.
            conditions.append(f"MOD(COALESCE({_quote(column)}, 0), %s) IN (%s, %s)")
            args.extend([n, k, k - n])
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def _stream(
        self, sql: str, args: list[Any], post: list[tuple[int, Callable[[Any], Any]]]
    ) -> Iterator[tuple[Any, ...]]:
        import MySQLdb.cursors

        conn = self._connect()
        try:
            setup = conn.cursor()
            # A slow consumer must not make the server give up on the open result.
            setup.execute("SET SESSION net_write_timeout = 3600")
            setup.close()
            cur = conn.cursor(MySQLdb.cursors.SSCursor)
            cur.execute(sql, tuple(args) or None)
            while True:
                try:
                    batch = cur.fetchmany(FETCH_BATCH)
                except ValueError as e:  # from a converter: a DATETIME fromisoformat cannot read
                    if isinstance(e, UnicodeError):
                        raise
                    raise ValueConversionError(f"a DATETIME value is not a date: {e}", code="bad_datetime") from e
                if not batch:
                    break
                if not post:
                    yield from batch
                    continue
                for tup in batch:
                    row = list(tup)
                    for i, fn in post:
                        v = row[i]
                        if v is not None:
                            row[i] = fn(v)
                    yield tuple(row)
            cur.close()
        finally:
            conn.close()

    def count(self, table: str, *, after_id: int | None = None, share: Share | None = None) -> int:
        self._columns(table)
        if after_id is not None and "id" not in self.columns(table):
            raise SourceError("after_id needs an id column", code="no_key")
        args: list[Any] = []
        sql = f"SELECT COUNT(*) FROM {_quote(table)}{self._where(table, after_id, share, args)}"  # noqa: S608 - checked names
        return int(self._query(sql, args)[0][0])

    def max_id(self, table: str) -> int | None:
        if "id" not in self.columns(table):
            raise SourceError(f"table `{table}` has no id column", code="no_key")
        value = self._query(f"SELECT MAX(`id`) FROM {_quote(table)}")[0][0]  # noqa: S608 - a checked name
        return None if value is None else int(value)
