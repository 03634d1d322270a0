"""The legacy import: GrowOperative rows in, bilateral relationships and their kept history out.

Phases run in order; each is idempotent and resumable:

- ``roles``, ``subnets``, ``subnet_memberships``, ``members``, ``contacts``, ``categories``,
  ``listings``, ``revoked_tokens``, ``trustlines``, ``pending_payments``: small tables, read whole
  every run and mirrored by legacy id (new rows created, changed rows updated, in batches of one
  transaction each). A member's new identity (a party with a held key) is created in the same
  transaction as its ``Member`` row, so a kill leaves either both or neither.
- ``history``: ``trustline_transactions``, streamed in id order after the checkpoint; each batch's
  rows, the reconstructed deltas, each touched trustline's running history state and the
  checkpoint commit together. The history is kept in ``HISTORY_SHARES`` shares by trustline (each
  with its checkpoint): with a second process, each process streams its own share; alone, one
  stream takes them all.
- ``relationships``: each trustline whose legacy state moved becomes (or moves) a bilateral
  relationship: an operator-attested genesis the first time, an attested ``import_sync`` state
  after that, while the members have not taken the relationship over.

Rows that cannot be imported are set aside (``SetAside``) with a stable reason code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, models, transaction
from django.db.models import QuerySet
from django.db.models.functions import Mod

from foaf import bilateral as core
from foaf.bulk import insert_rows, update_rows
from foaf.ledger.models import Relationship, StateEntry
from foaf.ledger.services import entry_from_row, imported_states_append, parties_create_with_held_keys
from migration import models as m
from migration.legacy import history as legacy_history
from migration.legacy.source import DumpSource, LegacySource, Share
from migration.progress import Progress
from migration.side import SidePhases

# Rows per transaction when mirroring a small table.
MIRROR_BATCH = 10000

# Reason codes for rows set aside: stable, listed in docs/migration.md.
MISSING_MEMBER = "MISSING_MEMBER"
MISSING_TRUSTLINE = "MISSING_TRUSTLINE"
DEMO_MIXED = "DEMO_AND_MEMBER_MIXED"
UNRECOVERABLE_BALANCE = "UNRECOVERABLE_BALANCE"
DEMO_LABEL = 6

# The columns of `users` the import reads: never the custodial secrets.
USER_COLUMNS = [
    "id", "encrypted_password", "sign_in_count", "last_sign_in_at", "name", "nickname", "email", "user_name",
    "parent_id", "depth", "invite_limit", "foaf_address", "foaf_registered", "foaf_id", "first_name", "last_name",
    "display_name", "deleted_at", "disabled_at", "created_at", "updated_at",
]  # fmt: skip
# The summary's order (the legacy tables' dependencies; side phases finish at any time).
SUMMARY_ORDER = ("user_groups", "users", "subnets", "subnet_memberships", "relationships", "categories", "items",
                 "jwt_blacklist", "trustlines", "trustline_transactions", "trustline_transactions (changed in place)",
                 "relationships (bilateral)", "pending_payments")  # fmt: skip
# Tables that stay with Rails (marketplace), counted in the summary but not imported.
NOT_MIGRATED = {"orders": "marketplace orders stay on Rails", "schema_migrations": "Rails bookkeeping"}


@dataclass
class Tally:
    """What one table's phase did: rows read, created, updated, unchanged, and set aside by reason."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    set_aside: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "imported": self.created + self.updated + self.unchanged,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "set_aside": dict(self.set_aside),
        }

    def add(self, other: Tally) -> None:
        """Count what ``other`` counted too (one phase done in two processes)."""
        self.read += other.read
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.set_aside.update(other.set_aside)


_NAIVE_EPOCH = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - legacy DATETIMEs are naive UTC
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Legacy DATETIMEs are naive UTC: the same moment, aware. By arithmetic (exact to the
    microsecond), which takes a tenth of ``value.replace(tzinfo=UTC)``: the small tables hold
    hundreds of thousands of datetimes."""
    return None if value is None else _UTC_EPOCH + (value - _NAIVE_EPOCH)


T = TypeVar("T")


def in_share(query: QuerySet[Any, Any], column: str, share: tuple[int, int]) -> QuerySet[Any, Any]:
    """The rows of ``query`` whose integer ``column`` is k modulo n (``share=(k, n)``), as Python's
    ``%`` and the legacy source's shares count (SQL's MOD keeps the sign of a negative id)."""
    k, n = share
    shared: QuerySet[Any, Any] = query.alias(share=Mod(column, n)).filter(share__in=[k, k - n])
    return shared


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last one shorter)."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def set_aside(table: str, legacy_id: int, reason: str, detail: str = "") -> None:
    m.SetAside.objects.update_or_create(table=table, legacy_id=legacy_id, defaults={"reason": reason, "detail": detail})


def clear_set_aside(table: str, legacy_ids: Collection[int]) -> None:
    """A row once set aside and now imported (its missing reference arrived) leaves the list."""
    if not legacy_ids:
        return
    # Look in the batch's id range first (nearly always empty): a query naming every id of a big
    # batch costs more than the lookup.
    listed = m.SetAside.objects.filter(table=table, legacy_id__gte=min(legacy_ids), legacy_id__lte=max(legacy_ids))
    ids = [i for i in listed.values_list("legacy_id", flat=True) if i in legacy_ids]
    if ids:
        m.SetAside.objects.filter(table=table, legacy_id__in=ids).delete()


Converter = Callable[[dict[str, Any]], "dict[str, Any] | tuple[str, str]"]


def stored_values(
    model: type[models.Model], fields: list[str], wanted: dict[int, tuple[Any, ...]], share: tuple[int, int] | None
) -> dict[int, tuple[Any, ...]]:
    """The stored values of ``fields`` of the rows ``wanted`` names (by primary key) that exist."""
    existing: dict[int, tuple[Any, ...]] = {}
    if not wanted:
        return existing
    pk = model._meta.pk
    assert pk is not None
    # The batch's id range rather than its ids (a query naming 10,000 ids is slow to build and
    # parse); rows in the range that the batch does not have are skipped.
    stored = model._default_manager.filter(pk__gte=min(wanted), pk__lte=max(wanted))
    if share is not None:  # the rows are one share (by id): the other's rows are not even read
        stored = in_share(stored, pk.name, share)
    for key, *values in stored.values_list(pk.name, *fields):
        if key in wanted:
            existing[key] = tuple(values)
    return existing


def mirror(
    table: str,
    model: type[models.Model],
    *,
    rows: Iterable[dict[str, Any]],
    convert: Converter,
    tally: Tally,
    progress: Progress,
    create: Callable[[list[str], list[tuple[int, tuple[Any, ...]]]], None] | None = None,
    share: tuple[int, int] | None = None,
) -> None:
    """Bring ``model`` in line with the legacy ``rows`` (keyed by legacy id), one batch per transaction.

    ``convert`` turns a legacy row into the model's fields (always the same fields, in the same
    order), or into ``(reason, detail)`` to set it aside. ``create(fields, new)`` makes new rows
    when a plain insert is not enough (members). Rows are compared and written as plain tuples
    (``values_list``, COPY, one ``UPDATE ... FROM``): no model instances, which cost more than the
    database's own work at hundreds of thousands of rows. ``share=(k, n)``: ``rows`` are only
    those whose id is k modulo n (another process mirrors the rest).
    """
    pk = model._meta.pk
    assert pk is not None
    for chunk in batched(rows, MIRROR_BATCH):
        with transaction.atomic():
            wanted: dict[int, tuple[Any, ...]] = {}
            fields: list[str] = []
            for row in chunk:
                converted = convert(row)
                if isinstance(converted, tuple):
                    reason, detail = converted
                    set_aside(table, row["id"], reason, detail)
                    tally.set_aside[reason] += 1
                else:
                    if not fields:
                        fields = list(converted)
                    wanted[row["id"]] = tuple(converted.values())
            tally.read += len(chunk)
            existing = stored_values(model, fields, wanted, share)
            new = [(legacy_id, values) for legacy_id, values in wanted.items() if legacy_id not in existing]
            changed = [
                (*wanted[legacy_id], legacy_id) for legacy_id, have in existing.items() if have != wanted[legacy_id]
            ]
            tally.unchanged += len(existing) - len(changed)
            if new:
                if create is not None:
                    create(fields, new)
                else:
                    # Columns the legacy row does not fill take the values the ORM would give them.
                    extra = [
                        f
                        for f in model._meta.concrete_fields
                        if not f.primary_key and f.name not in fields and f.attname not in fields
                    ]
                    defaults = tuple(f.get_default() for f in extra)
                    insert_rows(
                        model,
                        [pk.name, *fields, *(f.name for f in extra)],
                        [(legacy_id, *values, *defaults) for legacy_id, values in new],
                    )
                tally.created += len(new)
            if changed:
                update_rows(model, pk.name, fields, changed)
                tally.updated += len(changed)
            clear_set_aside(table, wanted)
        progress.advance(len(chunk))


class LegacyImport:
    """One run of the import over a legacy source. ``run()`` returns the summary by table."""

    def __init__(self, source: LegacySource, *, progress: Progress | None = None) -> None:
        self.source = source
        self.progress = progress or Progress()
        self.tallies: dict[str, Tally] = {}
        self.demo_ids: set[int] = set()
        self.member_ids: set[int] = set()

    def tally(self, table: str) -> Tally:
        return self.tallies.setdefault(table, Tally())

    def total(self, table: str, *, after_id: int | None = None, share: Share | None = None) -> int | None:
        """Rows to come, for the progress bar; unknown for a dump file (counting would read it twice)."""
        if isinstance(self.source, DumpSource):
            return None
        return self.source.count(table, after_id=after_id, share=share)

    def table_rows(
        self, table: str, columns: list[str], *, share: tuple[int, int] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The rows of ``table``, all or (``share=(k, n)``) those whose id is k modulo n."""
        by_id: Share | None = None if share is None else ("id", *share)
        self.progress.start(table, self.total(table, share=by_id))
        yield from self.source.rows(table, columns, share=by_id)

    def summary(self) -> dict[str, Any]:
        order = {name: i for i, name in enumerate(SUMMARY_ORDER)}
        named = sorted(self.tallies.items(), key=lambda item: order.get(item[0], len(order)))
        tables = {name: t.as_json() for name, t in named}
        present = set(self.source.tables())
        for name, why in NOT_MIGRATED.items():
            if name in present:
                tables[name] = {"read": 0, "imported": 0, "not_migrated": why, "rows": self.source.count(name)}
        return {"tables": tables}

    # --- phases ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        # A second process when it can (``SidePhases``): it starts now, so that its start-up
        # overlaps the members; it imports the simple tables beside the trustlines, then its share
        # of the pending payments, the history and the bilateral states, beside this one's.
        with SidePhases(self, shares=HISTORY_SHARES) as side:
            self.import_roles()
            self.import_members()
            side.members_in()
            self.import_trustlines()
            first_load = not any(history_checkpoints(range(HISTORY_SHARES)).values())
            with HistoryIndexDeferred(first_load=first_load) as index:
                side.start()  # after the index is dropped or put back: the second process writes history
                side.shared_phases()  # this process's share of them (all of them when alone)
                self.import_history(share=side.share)
                # Once the other share of the history is in too, the index is built beside the
                # bilateral states.
                with index.built_beside(side.wait_for_history):
                    self.import_relationships(share=side.share)
        return self.summary()

    def import_roles(self) -> None:
        rows = self.table_rows("user_groups", COLUMNS_READ["user_groups"])

        def convert(row: dict[str, Any]) -> dict[str, Any]:
            if row["group_label"] == DEMO_LABEL and row["user_id"] is not None:
                self.demo_ids.add(row["user_id"])
            return {
                "member_legacy_id": row["user_id"],
                "group_label": row["group_label"],
                "created_at": aware(row["created_at"]),
                "updated_at": aware(row["updated_at"]),
            }

        mirror(
            "user_groups", m.Role, rows=rows, convert=convert, tally=self.tally("user_groups"), progress=self.progress
        )
        self.progress.finish()

    def import_members(self) -> None:
        rows = self.table_rows("users", COLUMNS_READ["users"])

        def convert(row: dict[str, Any]) -> dict[str, Any]:
            self.member_ids.add(row["id"])
            return {
                "community": m.Community.DEMO if row["id"] in self.demo_ids else m.Community.CRAWFORD_BAY,
                "foaf_id": row["foaf_id"],
                "foaf_address": row["foaf_address"],
                "foaf_registered": bool(row["foaf_registered"]),
                "user_name": row["user_name"],
                "name": row["name"],
                "nickname": row["nickname"],
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "display_name": row["display_name"],
                "email": row["email"],
                "encrypted_password": row["encrypted_password"] or "",
                "sign_in_count": row["sign_in_count"] or 0,
                "last_sign_in_at": aware(row["last_sign_in_at"]),
                "inviter_legacy_id": row["parent_id"],
                "depth": row["depth"],
                "invite_limit": row["invite_limit"],
                "deleted_at": aware(row["deleted_at"]),
                "disabled_at": aware(row["disabled_at"]),
                "created_at": aware(row["created_at"]),
                "updated_at": aware(row["updated_at"]),
            }

        def create(fields: list[str], new: list[tuple[int, tuple[Any, ...]]]) -> None:
            name_at = [fields.index(f) for f in ("display_name", "name", "user_name")]
            names = [next((values[i] for i in name_at if values[i]), values[name_at[-1]]) for _, values in new]
            parties = parties_create_with_held_keys(names)
            insert_rows(
                m.Member,
                ["legacy_id", "party", *fields],
                [(legacy_id, party.pk, *values) for (legacy_id, values), party in zip(new, parties, strict=True)],
            )

        mirror(
            "users",
            m.Member,
            rows=rows,
            convert=convert,
            tally=self.tally("users"),
            progress=self.progress,
            create=create,
        )
        self.progress.finish()

    def import_simple_tables(self) -> None:
        def member_ref(*names: str) -> Callable[[dict[str, Any]], str | None]:
            def missing(row: dict[str, Any]) -> str | None:
                for name in names:
                    if row[name] is not None and row[name] not in self.member_ids:
                        return f"{name}={row[name]} is not a legacy user"
                return None

            return missing

        def with_check(
            check: Callable[[dict[str, Any]], str | None], build: Callable[[dict[str, Any]], dict[str, Any]]
        ) -> Converter:
            def convert(row: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
                problem = check(row)
                return (MISSING_MEMBER, problem) if problem else build(row)

            return convert

        def no_check(row: dict[str, Any]) -> None:
            return None

        specs: list[tuple[str, type[models.Model], Converter]] = [
            ("subnets", m.Subnet,
             with_check(no_check, lambda r: {
                 "seed_user_legacy_id": r["seed_user_id"], "name": r["name"],
                 "created_at": aware(r["created_at"]), "updated_at": aware(r["updated_at"])})),
            ("subnet_memberships", m.SubnetMembership,
             with_check(member_ref("user_id"), lambda r: {
                 "member_legacy_id": r["user_id"], "subnet_legacy_id": r["subnet_id"],
                 "is_primary": bool(r["is_primary"]), "created_at": aware(r["created_at"])})),
            ("relationships", m.Contact,
             with_check(member_ref("user_id", "friend_id"), lambda r: {
                 "user_legacy_id": r["user_id"], "friend_legacy_id": r["friend_id"],
                 "action_user_legacy_id": r["action_user_id"], "status": r["status"], "user_label": r["user_label"],
                 "friend_label": r["friend_label"], "created_at": aware(r["created_at"]),
                 "updated_at": aware(r["updated_at"])})),
            ("categories", m.Category,
             with_check(no_check, lambda r: {"name": r["category_name"]})),
            ("items", m.Listing,
             with_check(member_ref("user_id"), lambda r: {
                 "member_legacy_id": r["user_id"], "category_legacy_id": r["category_id"], "name": r["name"],
                 "quantity": r["quantity"], "price": r["price"], "date_available": aware(r["date_available"]),
                 "organic": bool(r["organic"]), "one_time_listing": bool(r["one_time_listing"]),
                 "created_at": aware(r["created_at"]), "updated_at": aware(r["updated_at"])})),
            ("jwt_blacklist", m.RevokedToken,
             with_check(no_check, lambda r: {"jti": r["jti"], "exp": aware(r["exp"])})),
        ]  # fmt: skip
        present = set(self.source.tables())
        for table, model, convert in specs:
            if table not in present:
                continue
            rows = self.table_rows(table, COLUMNS_READ[table])
            mirror(table, model, rows=rows, convert=convert, tally=self.tally(table), progress=self.progress)
            self.progress.finish()

    def import_trustlines(self) -> None:

        def convert(row: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
            a, b = row["user_a_id"], row["user_b_id"]
            for side, user in (("user_a_id", a), ("user_b_id", b)):
                if user not in self.member_ids:
                    return MISSING_MEMBER, f"{side}={user} is not a legacy user"
            demo_a, demo_b = a in self.demo_ids, b in self.demo_ids
            if demo_a != demo_b:
                return DEMO_MIXED, f"user {a if demo_a else b} is a demo account, the other is a member"
            return {
                "community": m.Community.DEMO if demo_a else m.Community.CRAWFORD_BAY,
                "user_a_legacy_id": a,
                "user_b_legacy_id": b,
                "credit_limit_a_to_b": row["credit_limit_a_to_b"],
                "credit_limit_b_to_a": row["credit_limit_b_to_a"],
                "cached_balance": row["current_balance"],
                "is_active": bool(row["is_active"]),
                "established_date": aware(row["established_date"]),
                "last_activity": aware(row["last_activity"]),
                "notes": row["notes"],
                "created_at": aware(row["created_at"]),
                "updated_at": aware(row["updated_at"]),
            }

        rows = self.table_rows("trustlines", COLUMNS_READ["trustlines"])
        mirror(
            "trustlines",
            m.Trustline,
            rows=rows,
            convert=convert,
            tally=self.tally("trustlines"),
            progress=self.progress,
        )
        self.progress.finish()

    def import_pending_payments(self, *, share: tuple[int, int] | None = None) -> None:
        """``share=(k, n)``: only the payments whose legacy id is k modulo n (another process
        takes the rest)."""
        trustline_ids = set(m.Trustline.objects.values_list("legacy_id", flat=True))

        def convert(row: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
            if row["trustline_id"] not in trustline_ids:
                return MISSING_TRUSTLINE, f"trustline_id={row['trustline_id']} was not imported"
            for name in ("from_user_id", "to_user_id"):
                if row[name] is not None and row[name] not in self.member_ids:
                    return MISSING_MEMBER, f"{name}={row[name]} is not a legacy user"
            return {
                "from_legacy_id": row["from_user_id"],
                "to_legacy_id": row["to_user_id"],
                "trustline_id": row["trustline_id"],
                "amount": row["amount"],
                "description": row["description"],
                "status": row["status"],
                "kind": row["kind"],
                "rejected_reason": row["rejected_reason"],
                "confirmed_at": aware(row["confirmed_at"]),
                "resolved_at": aware(row["resolved_at"]),
                "paid_at": aware(row["paid_at"]),
                "created_at": aware(row["created_at"]),
                "updated_at": aware(row["updated_at"]),
            }

        rows = self.table_rows("pending_payments", COLUMNS_READ["pending_payments"], share=share)
        tally = self.tally("pending_payments")
        mirror("pending_payments", m.PendingPayment, rows=rows, convert=convert, tally=tally, progress=self.progress,
               share=share)  # fmt: skip
        self.progress.finish()

    # --- history -----------------------------------------------------------------------------
    def import_history(self, *, share: tuple[int, int] | None = None) -> None:
        """Stream new ``trustline_transactions`` rows after the checkpoint, batch by batch.

        ``share=(k, HISTORY_SHARES)``: only the rows of the trustlines whose legacy id is k modulo
        HISTORY_SHARES (another process takes the rest); None: every row, in one stream. Each
        share has its own checkpoint (``history_checkpoints``), so a run of either kind resumes
        what a run of the other kind left: the rows of a trustline are chained in id order by
        whichever process holds its share, and never depend on another trustline's."""
        table = HISTORY
        tally = self.tally(table)
        shares = list(range(HISTORY_SHARES)) if share is None else [share[0]]
        if share is not None and share[1] != HISTORY_SHARES:
            raise ValueError(f"the history is shared {HISTORY_SHARES} ways, not {share[1]}")
        before = history_checkpoints(shares)
        running = ("user_a_legacy_id", "user_b_legacy_id", "history_root", "history_rows", "history_balance",
                   "history_last_id")  # fmt: skip
        trustlines = m.Trustline.objects.only(*running)
        held = m.HistoryRow.objects.filter(delta__isnull=True)
        source_share: Share | None = None
        if share is not None:
            trustlines = in_share(trustlines, "legacy_id", share)
            held = in_share(held, "trustline_id", share)
            source_share = ("trustline_id", share[0], share[1])
        lines = {t.legacy_id: t for t in trustlines}
        waiting: dict[int, list[m.HistoryRow]] = {}
        for row in held.order_by("legacy_id"):
            waiting.setdefault(row.trustline_id, []).append(row)
        after = min(before.values())
        rows: Iterable[tuple[Any, ...]] = self.source.tuples(
            table, HISTORY_ROW_COLUMNS, after_id=after, share=source_share
        )
        if max(before.values()) > after:  # one stream over shares left at different points
            rows = (r for r in rows if r[H_ID] > before[(r[H_LINE] or 0) % HISTORY_SHARES])
        self.progress.start(table, self.total(table, after_id=after, share=source_share))
        names = [history_checkpoint_name(k) for k in shares]
        # A share's batches are as much smaller as it has fewer rows: the same batches in all, and
        # the same memory, with the two processes' batches in memory at once.
        size = HISTORY_BATCH if share is None else HISTORY_BATCH // HISTORY_SHARES
        with BatchWriter() as writer:
            for chunk in batched(rows, size):
                writes = self._history_batch(chunk, lines, waiting, tally, writer)
                writes.checkpoints = names
                writer.submit(writes.commit)
                self.progress.advance(len(chunk))
        self.progress.finish()
        if any(before.values()):
            self._history_updates(before, share=source_share)

    def _history_batch(
        self,
        chunk: list[tuple[Any, ...]],
        lines: dict[int, m.Trustline],
        waiting: dict[int, list[m.HistoryRow]],
        tally: Tally,
        writer: BatchWriter,
    ) -> HistoryWrites:
        """Reconstruct and chain a batch (rows as ``HISTORY_ROW_COLUMNS`` tuples); returns what it
        writes (the caller commits it)."""
        writes = HistoryWrites(last_id=chunk[-1][H_ID])
        by_line: dict[int, list[tuple[Any, ...]]] = {}
        tally.read += len(chunk)
        for row in chunk:
            line_id = row[H_LINE]
            group = by_line.get(line_id)
            if group is None:
                if line_id not in lines:
                    writes.aside.append((row[H_ID], MISSING_TRUSTLINE, f"trustline_id={line_id} was not imported"))
                    tally.set_aside[MISSING_TRUSTLINE] += 1
                    continue
                group = by_line[line_id] = []
            group.append(row)
        for line_id, fresh in by_line.items():
            line = lines[line_id]
            held = waiting.pop(line_id, [])
            still_waiting = self._history_line(line, held, fresh, writes, tally, writer=writer)
            if still_waiting:
                waiting[line_id] = still_waiting
        writes.freeze()
        return writes

    def _history_line(
        self,
        line: m.Trustline,
        held: list[m.HistoryRow],
        fresh: list[tuple[Any, ...]],
        writes: HistoryWrites,
        tally: Tally,
        *,
        writer: BatchWriter,
    ) -> list[m.HistoryRow]:
        """Reconstruct one trustline's new rows (and its waiting ones) and chain what is known.

        Returns the rows still waiting for a later row of the same trustline."""
        if not held:
            columns = list(zip(*fresh, strict=True))
            deltas = legacy_history.stored_deltas(
                columns[H_ID],
                columns[H_BALANCE],
                columns[H_AMOUNT],
                start_balance=line.history_balance,
                after_id=line.history_last_id or None,
            )
            if deltas is not None:
                self._history_stored(line, fresh, columns, deltas, writes)
                tally.created += len(fresh)
                return []
        # The general path (a lost balance somewhere: rare), on dicts as ``reconstruct`` reads them.
        fresh_rows = [dict(zip(HISTORY_ROW_COLUMNS, row, strict=True)) for row in fresh]
        given = [history_input(r) for r in held] + fresh_rows if held else fresh_rows
        result = reconstruct_line(line, given, settle=writer.drain)
        held_by_id = {r.legacy_id: r for r in held}
        chain: list[dict[str, Any]] = []
        still_waiting: list[m.HistoryRow] = []
        new_rows = writes.new_rows
        line_id = line.legacy_id
        created = 0
        for source_row, res in zip(given, result.rows, strict=True):
            delta = res.delta
            if res.status is UNRECOVERABLE_STATUS:
                writes.aside.append((res.id, UNRECOVERABLE_BALANCE, res.reason or ""))
                tally.set_aside[UNRECOVERABLE_BALANCE] += 1
                if res.id in held_by_id:
                    writes.dropped.append(res.id)
                continue
            kept = held_by_id.get(res.id) if held_by_id else None
            if kept is None:
                new_rows.append(history_tuple(source_row, line_id, res))
                created += 1
                if delta is None:  # rare: a lost balance with no later row yet; carried to the next batch
                    still_waiting.append(history_model(source_row, line_id, res))
                    continue
            elif delta is None:
                still_waiting.append(kept)
                continue
            else:
                kept.delta, kept.recovered = delta, res.recovered
                writes.resolved.append(kept)
            if still_waiting:  # reconstruct resolves a run of lost balances whole, or leaves it at the end
                raise legacy_history.HistoryError(f"row {res.id} follows unresolved rows of trustline {line_id}")
            chain.append(
                core.history_row(
                    id=res.id,
                    created_at=unix(source_row["created_at"]),
                    amount=source_row["amount"],
                    delta=delta,
                    balance_after=source_row["balance_after"],
                    kind=source_row["transaction_type"],
                    initiated_by=source_row["initiated_by_id"],
                )
            )
        tally.created += created
        if chain:
            line.history_root, line.history_rows = core.history_extend(line.history_root, line.history_rows, chain)
            line.history_balance += sum(r["delta"] for r in chain)
            line.history_last_id = chain[-1]["id"]
            writes.touched.append(line)
        return still_waiting

    @staticmethod
    def _history_stored(
        line: m.Trustline,
        fresh: list[tuple[Any, ...]],
        columns: list[tuple[Any, ...]],
        deltas: list[int],
        writes: HistoryWrites,
    ) -> None:
        """``_history_line`` when every balance is stored (nearly always): each row is new, kept
        with its delta, and chained; the same rows and values, without a ``RowResult`` or a dict
        per row. ``columns`` are ``fresh`` transposed."""
        if not all(type(v) is bool for v in columns[H_REVERSED]):  # a NULL flag is false, as Rails reads it
            fresh = [(*r[:H_REVERSED], bool(r[H_REVERSED]), *r[H_REVERSED + 1 :]) for r in fresh]
        # The source's tuple is the stored row but for its delta and ``recovered`` (HISTORY_FIELDS).
        writes.new_rows.extend([row + (delta, False) for row, delta in zip(fresh, deltas, strict=True)])  # noqa: RUF005 - a third faster than unpacking
        # The rows as the history commitment holds them, as values in history_extend_values' order.
        try:  # unix() of each, inline: the datetimes are read naive (UTC)
            created = [(moment - _EPOCH) // _SECOND for moment in columns[H_CREATED]]
        except TypeError:  # an aware one
            created = list(map(unix, columns[H_CREATED]))
        chain = zip(
            columns[H_ID],
            created,
            columns[H_AMOUNT],
            deltas,
            columns[H_BALANCE],
            columns[H_KIND],
            columns[H_BY],
            strict=True,
        )
        line.history_root, line.history_rows = core.history_extend_values(line.history_root, line.history_rows, chain)
        line.history_balance += sum(deltas)
        line.history_last_id = columns[H_ID][-1]
        writes.touched.append(line)

    def _history_updates(self, before: dict[int, int], *, share: Share | None) -> None:
        """Columns Rails changes in place on rows imported by an earlier run (reversal marks, FOAF
        mirror), read again up to that run's checkpoint of each share (``before``); rows imported
        in this run are current."""
        table = HISTORY
        columns = ["id", "trustline_id", *MUTABLE_HISTORY_COLUMNS]
        tally = self.tally(f"{table} (changed in place)")
        self.progress.start(f"{table} updates", None)
        fields = list(MUTABLE_HISTORY_FIELDS)
        upto = max(before.values())
        for batch in batched(self.source.rows(table, columns, share=share), HISTORY_BATCH):
            if batch[0]["id"] > upto:
                break
            chunk = [r for r in batch if r["id"] <= before[(r["trustline_id"] or 0) % HISTORY_SHARES]]
            if not chunk:
                continue
            # Compared as plain tuples over the batch's id range (rows come in id order), written
            # with one UPDATE ... FROM: a catch-up re-reads every imported row.
            stored = m.HistoryRow.objects.filter(legacy_id__gte=chunk[0]["id"], legacy_id__lte=chunk[-1]["id"])
            if share is not None:  # not the other share's rows in the range
                stored = in_share(stored, "trustline_id", share[1:])
            ours = {key: tuple(values) for key, *values in stored.values_list("legacy_id", *fields)}
            changed = []
            for row in chunk:
                have = ours.get(row["id"])
                if have is None:
                    continue  # set aside
                tally.read += 1
                values = mutable_history_tuple(row)
                if have != values:
                    changed.append((*values, row["id"]))
            if changed:
                with transaction.atomic():
                    update_rows(m.HistoryRow, "legacy_id", fields, changed)
                tally.updated += len(changed)
            self.progress.advance(len(chunk))
        self.progress.finish()

    # --- bilateral relationships -------------------------------------------------------------
    def import_relationships(self, *, share: tuple[int, int] | None = None) -> None:
        """Each trustline whose legacy state moved becomes, or moves, an attested bilateral state.

        Batches are built and signed here and written by a ``BatchWriter`` (one transaction each:
        the states, the trustlines' links and fingerprints, the rows set aside), so PostgreSQL's
        work on one batch overlaps building the next. A kill leaves whole batches; the next run
        sees the rest by their fingerprints. ``share=(k, n)``: only the trustlines whose legacy id
        is k modulo n (another process takes the rest)."""
        tally = self.tally("relationships (bilateral)")
        signer = operator_signer()
        trustlines = m.Trustline.objects.order_by("legacy_id")
        if share is not None:
            trustlines = in_share(trustlines, "legacy_id", share)
        lines = trustlines.values_list(*LineState._fields)
        self.progress.start("bilateral states", lines.count())
        # Each member as the states name them, read as plain values (model instances of every
        # member and party, with their datetimes, cost a fifth of this phase).
        parties: dict[int, core.Member] = {}
        party_pks: dict[str, int] = {}
        members: Iterable[tuple[Any, ...]] = m.Member.objects.values_list(
            "legacy_id", "party", "party__party_id", "party__public_key"
        )
        for member_id, party_pk, party_id, public_key in members:
            parties[member_id] = core.Member(party_id, public_key)
            party_pks[party_id] = party_pk
        with BatchWriter() as writer:
            for chunk in batched(map(LineState._make, lines.iterator(chunk_size=2000)), 1000):
                moved = [(t, p) for t in chunk if t.imported_fingerprint != (p := fingerprint(t))]
                tally.read += len(chunk)
                tally.unchanged += len(chunk) - len(moved)
                heads = {e.relationship_id: e for e in head_entries([t.head_hash for t, _ in moved if t.head_hash])}
                entries, done, aside = [], [], []
                for line, print_ in moved:
                    head = None if line.relationship_id is None else heads.get(line.relationship_id)
                    outcome, entry = imported_state(line, head, parties, signer)
                    if entry is None:
                        tally.set_aside[outcome] += 1
                        aside.append((line.legacy_id, outcome))
                        continue
                    entries.append(entry)
                    done.append((line.legacy_id, line.relationship_id, print_, entry.state.channel))
                    if outcome == "created":
                        tally.created += 1
                    else:
                        tally.updated += 1
                writer.submit(partial(relationships_write, entries, done, aside, party_pks))
                self.progress.advance(len(chunk))
        self.progress.finish()


def relationships_write(
    entries: list[core.LogEntry],
    done: list[tuple[int, int | None, str, str]],
    aside: list[tuple[int, str]],
    party_pks: dict[str, int],
) -> None:
    """One batch of ``import_relationships``, in one transaction: the attested states, each
    trustline's link to its relationship and fingerprint ``done`` as (legacy id, relationship pk
    or None, fingerprint, channel), and the trustlines set aside as (legacy id, reason)."""
    with transaction.atomic():
        for legacy_id, reason in aside:
            set_aside("trustlines", legacy_id, reason, SET_ASIDE_DETAIL[reason])
        ids = imported_states_append(entries, party_pks=party_pks, attested_here=True)
        for _, relationship_id, _, channel in done:
            if relationship_id is not None:
                ids[channel] = relationship_id
        unknown = [channel for *_, channel in done if channel not in ids]  # appended the slow way
        if unknown:
            ids.update(Relationship.objects.filter(channel_id__in=unknown).values_list("channel_id", "pk"))
        update_rows(
            m.Trustline,
            "legacy_id",
            ["relationship", "imported_fingerprint"],
            [(ids[channel], print_, legacy_id) for legacy_id, _, print_, channel in done],
        )


HISTORY = "trustline_transactions"
HISTORY_INDEX = "history_by_trustline"  # HistoryRow.Meta.indexes
# The history is imported in this many shares (trustline legacy id modulo this), each with its own
# checkpoint: one per process when there are two, all of them in one stream otherwise.
HISTORY_SHARES = 2


def history_checkpoint_name(share: int) -> str:
    return f"{HISTORY} {share}/{HISTORY_SHARES}"


def history_checkpoints(shares: Iterable[int]) -> dict[int, int]:
    """The checkpoint (last id done) of each share of the history, created when missing: from
    the single checkpoint of an import made before the history was shared, or 0."""
    have = dict(m.Checkpoint.objects.filter(table__startswith=HISTORY).values_list("table", "last_id"))
    out = {}
    for k in shares:
        name = history_checkpoint_name(k)
        if name not in have:
            m.Checkpoint.objects.get_or_create(table=name, defaults={"last_id": have.get(HISTORY, 0)})
            have[name] = m.Checkpoint.objects.get(table=name).last_id
        out[k] = have[name]
    return out


class LineState(NamedTuple):
    """What the bilateral states of a trustline are made from, read as plain values (the names
    are the query's: ``Trustline`` fields and its relationship's head)."""

    legacy_id: int
    relationship_id: int | None
    user_a_legacy_id: int
    user_b_legacy_id: int
    credit_limit_a_to_b: int
    credit_limit_b_to_a: int
    is_active: bool
    created_at: dt.datetime
    history_root: str
    history_rows: int
    history_balance: int
    imported_fingerprint: str
    relationship__head_hash: str | None

    @property
    def head_hash(self) -> str | None:
        return self.relationship__head_hash


# Rows per history batch (one transaction with its checkpoint). Each batch rewrites the running
# state of every trustline it touches and pays a fixed cost per trustline, so bigger batches mean
# far fewer of both at scale (a region has ~50,000 trustlines): measured at 2M rows, 250,000 rows
# a batch used 5 s less CPU than 100,000, with a peak of ~600 MB (two batches in memory: the one
# being written and the next). FOAF_IMPORT_BATCH_ROWS makes them smaller (less memory; tests use
# it to land a kill -9 between batches).
HISTORY_BATCH = int(os.environ.get("FOAF_IMPORT_BATCH_ROWS", "250000"))
if HISTORY_BATCH < 100:
    raise ImproperlyConfigured("FOAF_IMPORT_BATCH_ROWS must be at least 100")
UNRECOVERABLE_STATUS = legacy_history.Status.UNRECOVERABLE


class HistoryIndexDeferred:
    """On a first load into PostgreSQL, the history's per-trustline index is built once after the
    rows are in, not row by row as they arrive (PostgreSQL's advice for populating a table: at two
    million rows, inserting into that index was half of the server's work on the history).

    A run killed in between leaves the index missing; every history phase starts by putting it
    back if it is, so only a first load runs without it, and the rare lookup of a trustline's
    earlier rows (``reconstruct_line``) is correct either way, only slower.
    """

    def __init__(self, *, first_load: bool) -> None:
        self.index = next(i for i in m.HistoryRow._meta.indexes if i.name == HISTORY_INDEX)
        self.deferred = first_load and connection.vendor == "postgresql" and not connection.in_atomic_block

    def _present(self) -> bool:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, m.HistoryRow._meta.db_table)
        return HISTORY_INDEX in constraints

    def __enter__(self) -> HistoryIndexDeferred:
        present = self._present()
        if self.deferred and present:
            with connection.schema_editor() as editor:
                editor.remove_index(m.HistoryRow, self.index)
        elif not self.deferred and not present:
            with connection.schema_editor() as editor:
                editor.add_index(m.HistoryRow, self.index)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self.deferred and exc is None:
            self._build()

    def _build(self) -> None:
        with connection.schema_editor() as editor:
            editor.add_index(m.HistoryRow, self.index)
        self.deferred = False  # built

    @contextmanager
    def built_beside(self, history_in: Callable[[], None]) -> Iterator[None]:
        """Build the index on a thread of its own (its own connection: PostgreSQL does the work,
        outside Python's lock) once ``history_in()`` returns, that is once every share of the
        history is in, while the block runs (the bilateral states, which never read the history).
        ``history_in`` runs on that thread; its error, or the build's, is raised on leaving. If
        the block fails, the thread is left to end with the process (a build cut short leaves
        the index to the next run, as a kill does)."""
        errors: list[BaseException] = []

        def work() -> None:
            try:
                history_in()
                if self.deferred:
                    self._build()
            except BaseException as e:  # handed to the main thread
                errors.append(e)
            finally:
                connections.close_all()  # this thread's connection

        if connection.in_atomic_block:  # another connection would not see the rows: here, after
            yield
            history_in()
            return
        thread = threading.Thread(target=work, name="history-index", daemon=True)
        thread.start()
        yield
        thread.join()
        if errors:
            raise errors[0]


@dataclass
class HistoryWrites:
    """What one history batch writes, gathered so that each table is written once, and written
    with the checkpoint in one transaction (``commit``)."""

    last_id: int
    # Datetimes as read: naive, meaning UTC (``insert_rows(naive_utc=True)``); making three per
    # row aware was a tenth of the history phase.
    new_rows: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[m.HistoryRow] = field(default_factory=list)
    touched: list[m.Trustline] = field(default_factory=list)
    aside: list[tuple[int, str, str]] = field(default_factory=list)  # (legacy id, reason, detail)
    dropped: list[int] = field(default_factory=list)  # waiting rows now set aside
    resolved_values: list[tuple[Any, ...]] = field(default_factory=list)
    line_values: list[tuple[Any, ...]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)  # the checkpoints (shares) the batch moves on

    def freeze(self) -> None:
        """Take the values of the changed objects as they stand now: the next batch moves the same
        objects on while this one is being written."""
        self.resolved_values = [(r.delta, r.recovered, r.legacy_id) for r in self.resolved]
        self.line_values = [
            (t.history_root, t.history_rows, t.history_balance, t.history_last_id, t.legacy_id) for t in self.touched
        ]
        self.resolved, self.touched = [], []

    def commit(self) -> None:
        with transaction.atomic():
            for legacy_id, reason, detail in self.aside:
                set_aside(HISTORY, legacy_id, reason, detail)
            if self.dropped:
                m.HistoryRow.objects.filter(legacy_id__in=self.dropped).delete()
            insert_rows(m.HistoryRow, HISTORY_FIELDS, self.new_rows, naive_utc=True)
            update_rows(m.HistoryRow, "legacy_id", ["delta", "recovered"], self.resolved_values)
            update_rows(
                m.Trustline,
                "legacy_id",
                ["history_root", "history_rows", "history_balance", "history_last_id"],
                self.line_values,
            )
            # Every row of these shares up to last_id is done (a share left further on keeps its mark).
            m.Checkpoint.objects.filter(table__in=self.checkpoints, last_id__lt=self.last_id).update(
                last_id=self.last_id
            )


class BatchWriter:
    """Commits history batches in order on a thread of its own, so that PostgreSQL's work on one
    batch (COPY, constraint checks, the trustline updates, the commit) overlaps reading and
    reconstructing the next one. The thread has its own database connection, so each batch is
    still one transaction with its checkpoint: a kill leaves whole batches only.

    Inline (no thread) when the import runs inside an outer transaction (a dry run, a test), where
    another connection would not see its uncommitted rows, and on SQLite (one writer at a time).
    Errors surface at the next ``submit``/``drain`` or on leaving the ``with`` block.
    """

    def __init__(self) -> None:
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BatchWriter:
        if self.threaded:
            self._thread = threading.Thread(target=self._work, name="history-writer", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if exc is None:
            self._raise()

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    if self._error is None:  # after a failure the rest is skipped, never committed
                        job()
                except BaseException as e:  # handed to the main thread
                    self._error = e
                finally:
                    self._jobs.task_done()
            self._jobs.task_done()
        finally:
            connections.close_all()  # this thread's connection

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job: Callable[[], None]) -> None:
        if self._thread is None:
            job()
            return
        self._raise()
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait until every submitted batch is committed (before reading what they wrote)."""
        if self._thread is not None:
            self._jobs.join()
        self._raise()


def reconstruct_line(
    line: m.Trustline, given: list[dict[str, Any]], *, settle: Callable[[], None] | None = None
) -> legacy_history.History:
    """The signed changes of a trustline's rows after its chained history (``settle`` makes the
    batches being written visible before the rare lookup of earlier deltas)."""
    args: dict[str, Any] = {
        "start_balance": line.history_balance,
        "after_id": line.history_last_id or None,
        "parties": (line.user_a_legacy_id, line.user_b_legacy_id),
    }
    result = legacy_history.reconstruct(given, **args)
    if any(r.status is legacy_history.Status.UNRECOVERABLE for r in result.rows):
        # A reversal of an older row may settle it: try again knowing every imported delta.
        if settle is not None:
            settle()
        known = m.HistoryRow.objects.filter(trustline=line, delta__isnull=False).values_list("legacy_id", "delta")
        result = legacy_history.reconstruct(given, known_deltas={i: d for i, d in known if d is not None}, **args)
    return result


SOURCE_NAME = "growoperative"
MEMBERS_SIGNING = "MEMBERS_SIGNING"  # a legacy change to a relationship the members already took over
SET_ASIDE_DETAIL = {MEMBERS_SIGNING: "the members sign this relationship now; the legacy change is not applied"}
MUTABLE_HISTORY_COLUMNS = ["is_reversed", "foaf_operation_id", "foaf_posted_at", "foaf_direction", "updated_at"]
MUTABLE_HISTORY_FIELDS = ("is_reversed", "foaf_operation_id", "foaf_posted_at", "foaf_direction", "updated_at")
# The history as read (tuples: millions of rows), in the order that makes each row, followed by
# its delta and ``recovered``, the values of HISTORY_FIELDS.
HISTORY_ROW_COLUMNS = [
    "id", "trustline_id", "amount", "balance_after", "transaction_type", "initiated_by_id", "description",
    "originating_request_id", "order_id", "path_info", "is_reversed", "foaf_operation_id", "foaf_posted_at",
    "foaf_direction", "created_at", "updated_at",
]  # fmt: skip
H_ID, H_LINE, H_AMOUNT, H_BALANCE, H_KIND, H_BY = range(6)
H_REVERSED, H_CREATED = HISTORY_ROW_COLUMNS.index("is_reversed"), HISTORY_ROW_COLUMNS.index("created_at")

# Every table the import reads, with exactly the columns it reads (never the custodial secrets).
# bench/import.py times MariaDB's own SELECT of these same rows and columns.
COLUMNS_READ: dict[str, list[str]] = {
    "user_groups": ["id", "user_id", "group_label", "created_at", "updated_at"],
    "users": USER_COLUMNS,
    "subnets": ["id", "seed_user_id", "name", "created_at", "updated_at"],
    "subnet_memberships": ["id", "user_id", "subnet_id", "is_primary", "created_at"],
    "relationships": ["id", "friend_id", "status", "action_user_id", "user_id", "user_label", "friend_label",
                      "created_at", "updated_at"],
    "categories": ["id", "category_name"],
    "items": ["id", "user_id", "quantity", "category_id", "name", "price", "date_available", "organic",
              "one_time_listing", "created_at", "updated_at"],
    "jwt_blacklist": ["id", "jti", "exp"],
    "trustlines": ["id", "user_a_id", "user_b_id", "credit_limit_a_to_b", "credit_limit_b_to_a", "current_balance",
                   "is_active", "established_date", "last_activity", "notes", "created_at", "updated_at"],
    "trustline_transactions": HISTORY_ROW_COLUMNS,
    "pending_payments": ["id", "from_user_id", "to_user_id", "trustline_id", "amount", "description", "status",
                         "rejected_reason", "confirmed_at", "resolved_at", "created_at", "updated_at", "kind",
                         "paid_at"],
}  # fmt: skip


_EPOCH = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - legacy DATETIMEs are naive UTC
_SECOND = dt.timedelta(seconds=1)


def unix(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        return (moment - _EPOCH) // _SECOND  # naive UTC; whole seconds, as int(timestamp()) after 1970
    return int(moment.timestamp())


def history_input(row: m.HistoryRow) -> dict[str, Any]:
    """A kept row as ``reconstruct`` reads it (a waiting row is handed over again)."""
    return {
        "id": row.legacy_id,
        "trustline_id": row.trustline_id,
        "amount": row.amount,
        "balance_after": row.balance_after,
        "transaction_type": row.transaction_type,
        "description": row.description,
        "initiated_by_id": row.initiated_by_legacy_id,
        "foaf_direction": row.foaf_direction,
        "created_at": row.created_at.replace(tzinfo=None),
    }


def mutable_history_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    """``mutable_history_values`` as the values of ``MUTABLE_HISTORY_FIELDS``."""
    posted, updated = row["foaf_posted_at"], row["updated_at"]
    return (
        bool(row["is_reversed"]), row["foaf_operation_id"], None if posted is None else posted.replace(tzinfo=dt.UTC),
        row["foaf_direction"], None if updated is None else updated.replace(tzinfo=dt.UTC),
    )  # fmt: skip


def mutable_history_values(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "is_reversed": bool(row["is_reversed"]),
        "foaf_operation_id": row["foaf_operation_id"],
        "foaf_posted_at": aware(row["foaf_posted_at"]),
        "foaf_direction": row["foaf_direction"],
        "updated_at": aware(row["updated_at"]),
    }


HISTORY_FIELDS = [
    "legacy_id", "trustline", "amount", "balance_after", "transaction_type", "initiated_by_legacy_id", "description",
    "originating_request_id", "order_id", "path_info", "is_reversed", "foaf_operation_id", "foaf_posted_at",
    "foaf_direction", "created_at", "updated_at", "delta", "recovered",
]  # fmt: skip


def history_tuple(row: dict[str, Any], line_id: int, res: legacy_history.RowResult) -> tuple[Any, ...]:
    """A new history row as the values of ``HISTORY_FIELDS``, datetimes naive UTC as read."""
    return (
        row["id"], line_id, row["amount"], row["balance_after"], row["transaction_type"], row["initiated_by_id"],
        row["description"], row["originating_request_id"], row["order_id"], row["path_info"],
        bool(row["is_reversed"]), row["foaf_operation_id"], row["foaf_posted_at"], row["foaf_direction"],
        row["created_at"], row["updated_at"], res.delta, res.recovered,
    )  # fmt: skip


def history_model(row: dict[str, Any], line_id: int, res: legacy_history.RowResult) -> m.HistoryRow:
    return m.HistoryRow(
        legacy_id=row["id"],
        trustline_id=line_id,
        amount=row["amount"],
        delta=res.delta,
        balance_after=row["balance_after"],
        recovered=res.recovered,
        transaction_type=row["transaction_type"],
        initiated_by_legacy_id=row["initiated_by_id"],
        description=row["description"],
        originating_request_id=row["originating_request_id"],
        order_id=row["order_id"],
        path_info=row["path_info"],
        created_at=row["created_at"].replace(tzinfo=dt.UTC),
        **mutable_history_values(row),
    )


def operator_signer() -> core.SeedSigner:
    if settings.OPERATOR_SIGNING_KEY is None:
        raise ImproperlyConfigured("FOAF_OPERATOR_SIGNING_KEY must be set: imported states are attested with it")
    return core.SeedSigner(settings.OPERATOR_SIGNING_KEY)


def channel_nonce(legacy_id: int) -> str:
    return hashlib.sha256(f"{SOURCE_NAME}/trustline/{legacy_id}".encode()).hexdigest()[:32]


def wanted_state(line: LineState) -> tuple[str, int, int, int, int, str]:
    """What the newest attested state of a trustline's relationship must say."""
    status = "open" if line.is_active else "closed"
    return (line.history_root, line.history_rows, line.history_balance, line.credit_limit_a_to_b,
            line.credit_limit_b_to_a, status)  # fmt: skip


def fingerprint(line: LineState) -> str:
    return hashlib.sha256(repr(wanted_state(line)).encode()).hexdigest()


def head_entries(head_hashes: list[str]) -> list[StateEntry]:
    return list(StateEntry.objects.filter(state_hash__in=head_hashes))


def imported_state(
    line: LineState, head_row: StateEntry | None, parties: dict[int, core.Member], signer: core.SeedSigner
) -> tuple[str, core.LogEntry | None]:
    """The attested state that brings a trustline's relationship up to date, if it needs one.

    Returns ("created", genesis) the first time, ("synced", import_sync state) when the legacy
    state moved, ("unchanged", None), or (reason code, None) when the change cannot be applied.
    """
    want = wanted_state(line)
    status = want[5]
    if head_row is None:
        created = unix(line.created_at)
        genesis = core.make_genesis(
            a=parties[line.user_a_legacy_id],
            b=parties[line.user_b_legacy_id],
            currency="CAD",
            limit_a_to_b=line.credit_limit_a_to_b,
            limit_b_to_a=line.credit_limit_b_to_a,
            proposer="operator",
            created=created,
            deadline=created + 1,
            nonce=channel_nonce(line.legacy_id),
            balance=line.history_balance,
            status=status,
            op=core.Import(SOURCE_NAME, line.legacy_id, line.history_root, line.history_rows),
        )
        return "created", core.attest_import(genesis, signer)
    head = entry_from_row(head_row).state
    op = head.update.op
    if isinstance(op, (core.Import, core.ImportSync)):
        have = (op.history_root, op.history_rows, head.balance, head.limit_a_to_b, head.limit_b_to_a, head.status)
        if have == want:
            return "unchanged", None
    else:
        return MEMBERS_SIGNING, None
    now = int(time.time())
    sync = core.ImportSync(SOURCE_NAME, line.legacy_id, *want)
    nonce = hashlib.sha256(f"{SOURCE_NAME}/trustline/{line.legacy_id}/{head.seq + 1}".encode()).hexdigest()[:32]
    state = core.apply_op(head, core.Update("operator", sync, now, now + 1, nonce))
    return "synced", core.attest_import(state, signer)
