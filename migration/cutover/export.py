"""A rollback's export: the credit written here since the switch, written back into the legacy
MySQL as Rails keeps it (schema.sql), so that Rails can be the writer again without losing any of it.

What goes back:

- **trustline_transactions**: one row per state of a relationship's log after its imported
  prefix (its newest state attested by the operator's migration key) that moved the balance:
  ``amount`` = |change|, ``balance_after`` = the state's balance (legacy sign: > 0, A owes B),
  ``transaction_type`` the legacy write's (``payment``/``adjustment``) or ``payment`` for a
  payment, settlement or released hold (Rails stored settlements as ``payment`` too) and
  ``adjustment`` otherwise, ``initiated_by_id`` the caller of the legacy write, else the member
  paying, ``foaf_direction`` the legacy write's (else ``sent`` when the initiator's debt grew),
  ``foaf_operation_id`` and
  ``foaf_posted_at`` the state's id and time here (this service was the FOAF ledger meanwhile);
- **trustlines**: ``current_balance``, both limits (the newest state's), ``is_active``, ``notes``,
  ``last_activity``, ``updated_at`` (the columns as kept here) of every line written since the
  switch; a line created here is inserted with its id (ids continued Rails' sequence);
- **pending_payments**: every one created or changed here since the switch, inserted or updated
  by id (a latin1 table: characters it cannot hold become ``?``, counted in ``narrowed``);
- **jwt_blacklist**: the tokens logged out here (``DELETE /v1/sessions``), so that Rails keeps
  refusing them (a ``jti`` already listed is not listed again).

**Exactly once, resumable, kill -9 safe.** The legacy database holds the export's own record, a
table ``foaf_bridge_exports`` (one row per exported state: ``<channel>:<seq>`` → the
``trustline_transactions`` id it became), created on first use; Rails never reads it. Each
trustline is one MySQL transaction: its new history rows, their records and its columns commit
together or not at all. A run killed at any point (even ``kill -9``) leaves whole trustlines only
(MySQL rolls back the open transaction when the connection drops), and the next run skips every
state already recorded, so nothing is exported twice. The trustline and pending-payment columns
are written as they stand here, so writing them again changes nothing. Two runs at once: the
second stops at once (``export_running``, MySQL's ``GET_LOCK``, released when the first's
connection ends, even on a kill). A trustline id Rails gave another pair since the freeze stops the
run (``export_conflict``): something wrote credit to Rails after the freeze.

The export needs a legacy database user with ``SELECT``, ``INSERT`` and ``UPDATE`` on
``trustlines``, ``trustline_transactions`` and ``pending_payments``, ``SELECT`` and ``INSERT`` on
``jwt_blacklist``, and ``CREATE``, ``SELECT``,
``INSERT`` on ``foaf_bridge_exports`` (the import's reader cannot write).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from foaf import bilateral as core
from foaf.ledger.models import StateEntry
from foaf.ledger.services import entry_from_row
from migration import legacy_db
from migration import models as m
from migration.cutover.errors import ExportConflict, ExportRefused, ExportRunning

logger = logging.getLogger(__name__)

RECORD_TABLE = "foaf_bridge_exports"
LOCK_NAME = "foaf_bridge_export"
RECORD_DDL = f"""CREATE TABLE IF NOT EXISTS `{RECORD_TABLE}` (
  `entry_key` varchar(100) NOT NULL,
  `trustline_id` bigint NOT NULL,
  `trustline_transaction_id` bigint NOT NULL,
  `exported_at` datetime NOT NULL,
  PRIMARY KEY (`entry_key`),
  KEY `index_{RECORD_TABLE}_on_trustline_id` (`trustline_id`)
) ENGINE=InnoDB DEFAULT CHARSET=ascii"""
PENDING_COLUMNS = ("id", "from_user_id", "to_user_id", "trustline_id", "amount", "description", "status",
                   "rejected_reason", "confirmed_at", "resolved_at", "created_at", "updated_at", "kind",
                   "paid_at")  # fmt: skip


@dataclass
class Summary:
    trustlines_inserted: int = 0
    trustlines_updated: int = 0
    transactions_inserted: int = 0
    transactions_already: int = 0
    pending_payments_written: int = 0
    revocations_written: int = 0
    narrowed: int = 0
    trustline_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "trustline_ids"}


def money(cents: int) -> Decimal:
    return Decimal(cents) / 100


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Rails' DATETIME columns hold UTC without a zone."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def latin1(text: str | None, summary: Summary) -> str | None:
    if text is None:
        return None
    narrowed = text.encode("latin-1", "replace").decode("latin-1")
    if narrowed != text:
        summary.narrowed += 1
    return narrowed


# ------------------------------------------------------------------ what was written here
@dataclass(frozen=True)
class Change:
    """A state after the imported prefix that moved a trustline's balance."""

    key: str
    entry_id: int
    recorded_at: dt.datetime
    delta: int
    balance: int
    op: Any
    proposer: str
    holds_before: tuple[core.model.Hold, ...]
    seq: int


def imported_prefix_ends() -> dict[int, int]:
    """Each relationship's newest attested (imported) seq; relationships opened here have none."""
    rows = StateEntry.objects.filter(attest_key__isnull=False).values("relationship_id").annotate(top=Max("seq"))
    return {r["relationship_id"]: r["top"] for r in rows}


def changes_of(line: m.Trustline, after_seq: int) -> list[Change]:
    """The balance-moving states of ``line``'s relationship after ``after_seq``, oldest first."""
    assert line.relationship is not None
    rows = StateEntry.objects.filter(relationship=line.relationship, seq__gte=max(after_seq, 0)).order_by("seq")
    previous: core.State | None = None
    out: list[Change] = []
    for row in rows.iterator(chunk_size=500):
        state = entry_from_row(row).state
        if previous is not None and row.seq > after_seq and state.balance != previous.balance:
            out.append(
                Change(
                    key=f"{line.relationship.channel_id}:{row.seq}",
                    entry_id=row.pk,
                    recorded_at=row.recorded_at,
                    delta=state.balance - previous.balance,
                    balance=state.balance,
                    op=state.update.op,
                    proposer=state.update.proposer,
                    holds_before=previous.holds,
                    seq=row.seq,
                )
            )
        previous = state
    return out


def lines_to_export(since: dt.datetime, prefix_ends: dict[int, int]) -> list[m.Trustline]:
    """Trustlines written here since ``since``: a state after the imported prefix, a Rails column
    changed here, or created here."""
    moved = m.Trustline.objects.filter(relationship__isnull=False).values_list("legacy_id", "relationship_id",
                                                                              "relationship__head_seq")  # fmt: skip
    ids = {lid for lid, rel, head in moved if head > prefix_ends.get(rel, -1)}
    touched = m.Trustline.objects.filter(
        Q(updated_at__gte=since) | Q(last_activity__gte=since) | Q(created_at__gte=since)
    ).values_list("legacy_id", flat=True)
    ids.update(touched)
    return list(m.Trustline.objects.filter(legacy_id__in=ids).select_related("relationship").order_by("legacy_id"))


# ------------------------------------------------------------------ the rows Rails keeps
def _side_member(line: m.Trustline, side: str) -> int:
    return line.user_a_legacy_id if side == "a" else line.user_b_legacy_id


def transaction_row(line: m.Trustline, change: Change, write: m.LegacyWrite | None) -> dict[str, Any]:
    op = change.op
    if write is not None:
        initiator = write.member_legacy_id
    elif isinstance(op, core.model.Payment | core.model.Settlement):
        initiator = _side_member(line, op.from_)
    elif isinstance(op, core.model.Release):
        hold = next((h for h in change.holds_before if h.id == op.id), None)
        initiator = _side_member(line, hold.payer if hold is not None else "a")
    else:
        initiator = _side_member(line, change.proposer if change.proposer in ("a", "b") else "a")
    if write is not None and write.transaction_type in ("payment", "adjustment"):
        kind = write.transaction_type
    elif isinstance(op, core.model.Payment | core.model.Settlement | core.model.Release):
        kind = "payment"
    else:
        kind = "adjustment"
    initiator_is_a = initiator == line.user_a_legacy_id
    owes_more = change.delta > 0 if initiator_is_a else change.delta < 0
    direction = "sent" if owes_more else "received"
    if write is not None and write.direction in ("sent", "received"):
        direction = write.direction  # as the receipt told the caller (a confirm is "received")
    description = write.description if write is not None and write.description else getattr(op, "memo", "") or None
    path_info = None
    if write is not None and write.route_hash:
        path_info = json.dumps({"route": write.route_hash, "hop": write.hop})
    at = naive_utc(change.recorded_at)
    return {
        "trustline_id": line.legacy_id,
        "amount": money(abs(change.delta)),
        "description": description,
        "originating_request_id": None,
        "order_id": None,
        "path_info": path_info,
        "transaction_type": kind,
        "initiated_by_id": initiator,
        "balance_after": money(change.balance),
        "is_reversed": 0,
        "foaf_operation_id": change.entry_id,
        "foaf_posted_at": at,
        "foaf_direction": direction,
        "created_at": at,
        "updated_at": at,
    }


def trustline_columns(line: m.Trustline) -> dict[str, Any]:
    rel = line.relationship
    if rel is not None:
        balance, a_to_b, b_to_a = rel.balance, rel.limit_a_to_b, rel.limit_b_to_a
    else:
        balance, a_to_b, b_to_a = line.cached_balance, line.credit_limit_a_to_b, line.credit_limit_b_to_a
    return {
        "credit_limit_a_to_b": money(a_to_b),
        "credit_limit_b_to_a": money(b_to_a),
        "current_balance": money(balance),
        "is_active": 1 if line.is_active else 0,
        "last_activity": naive_utc(line.last_activity),
        "notes": line.notes,
        "updated_at": naive_utc(line.updated_at),
    }


# ------------------------------------------------------------------ the export
def export(target_url: str, *, since: dt.datetime | None = None) -> Summary:
    """Write what was written here since the switch into the legacy database at ``target_url``."""
    row = m.CutoverState.objects.filter(pk=1).first()
    since = since or (row.switched_at if row is not None else None)
    if since is None:
        raise ExportRefused("no switch is recorded: this service has not been the credit writer since a switch")
    if not target_url:
        raise ExportRefused("no legacy database to export to: give --target mysql://... or set LEGACY_DATABASE_URL")
    try:
        conn = legacy_db.connect(target_url)
    except Exception as exc:
        raise ExportRefused(f"the legacy database cannot be reached: {exc}") from exc
    summary = Summary()
    started = timezone.now()  # what this run reads is what was written before now, not before it ends
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", [LOCK_NAME])
        if cursor.fetchone()[0] != 1:
            raise ExportRunning("another export_to_legacy is running against this legacy database")
        cursor.execute(RECORD_DDL)
        conn.autocommit(False)
        prefix_ends = imported_prefix_ends()
        for line in lines_to_export(since, prefix_ends):
            _export_line(conn, line, prefix_ends, summary)
        _export_pending(conn, since, summary)
        _export_revocations(conn, since, summary)
    finally:
        conn.close()  # also releases the lock and rolls back an open transaction
    if row is not None:
        m.CutoverState.objects.filter(pk=1).update(exported_at=started)
    logger.info("export_to_legacy: %s", summary.as_json())
    return summary


def _writes_by_seq(line: m.Trustline) -> dict[int, m.LegacyWrite]:
    writes = m.LegacyWrite.objects.filter(relationship=line.relationship, seq__isnull=False)
    return {w.seq: w for w in writes.order_by("pk") if w.seq is not None}


def _export_line(conn: Any, line: m.Trustline, prefix_ends: dict[int, int], summary: Summary) -> None:
    cursor = conn.cursor()
    try:
        # The history rows first, the trustline's row last: its UPDATE is the transaction's last
        # statement, so its lock is held only while the transaction commits.
        cursor.execute("SELECT user_a_id, user_b_id FROM trustlines WHERE id = %s", [line.legacy_id])
        found = cursor.fetchone()
        columns = trustline_columns(line)
        if found is None:
            _insert(cursor, "trustlines", {
                "id": line.legacy_id, "user_a_id": line.user_a_legacy_id, "user_b_id": line.user_b_legacy_id,
                "established_date": naive_utc(line.established_date), "created_at": naive_utc(line.created_at),
                **columns,
            })  # fmt: skip
            summary.trustlines_inserted += 1
        elif tuple(found) != (line.user_a_legacy_id, line.user_b_legacy_id):
            raise ExportConflict(
                f"trustline {line.legacy_id} is ({found[0]}, {found[1]}) in the legacy database but "
                f"({line.user_a_legacy_id}, {line.user_b_legacy_id}) here: Rails created it after the freeze"
            )
        if line.relationship is not None:
            changes = changes_of(line, prefix_ends.get(line.relationship_id or 0, -1))
            if changes:
                _export_changes(cursor, line, changes, summary)
        if found is not None:
            sets = ", ".join(f"`{k}` = %s" for k in columns)
            update = f"UPDATE trustlines SET {sets} WHERE id = %s"  # noqa: S608 (our column names)
            cursor.execute(update, [*columns.values(), line.legacy_id])
            summary.trustlines_updated += 1
        conn.commit()
        summary.trustline_ids.append(line.legacy_id)
    except BaseException:
        conn.rollback()
        raise


def _export_changes(cursor: Any, line: m.Trustline, changes: list[Change], summary: Summary) -> None:
    keys = [c.key for c in changes]
    placeholders = ", ".join(["%s"] * len(keys))
    query = f"SELECT entry_key FROM `{RECORD_TABLE}` WHERE entry_key IN ({placeholders})"  # noqa: S608
    cursor.execute(query, keys)
    done = {r[0] for r in cursor.fetchall()}
    writes = _writes_by_seq(line)
    now = naive_utc(timezone.now())
    for change in changes:
        if change.key in done:
            summary.transactions_already += 1
            continue
        tx_id = _insert(cursor, "trustline_transactions", transaction_row(line, change, writes.get(change.seq)))
        _insert(cursor, RECORD_TABLE, {
            "entry_key": change.key, "trustline_id": line.legacy_id, "trustline_transaction_id": tx_id,
            "exported_at": now,
        })  # fmt: skip
        summary.transactions_inserted += 1


def _insert(cursor: Any, table: str, values: dict[str, Any]) -> int:
    names = ", ".join(f"`{k}`" for k in values)
    marks = ", ".join(["%s"] * len(values))
    cursor.execute(f"INSERT INTO `{table}` ({names}) VALUES ({marks})", list(values.values()))  # noqa: S608
    return int(cursor.lastrowid)


def _pending_values(pp: m.PendingPayment, summary: Summary) -> list[Any]:
    return [
        pp.legacy_id, pp.from_legacy_id, pp.to_legacy_id, pp.trustline_id, money(pp.amount),
        latin1(pp.description, summary), pp.status, latin1(pp.rejected_reason, summary), naive_utc(pp.confirmed_at),
        naive_utc(pp.resolved_at), naive_utc(pp.created_at), naive_utc(pp.updated_at), pp.kind,
        naive_utc(pp.paid_at),
    ]  # fmt: skip


def _batches(items: Iterable[m.PendingPayment], size: int) -> Iterable[list[m.PendingPayment]]:
    batch: list[m.PendingPayment] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _export_pending(conn: Any, since: dt.datetime, summary: Summary) -> None:
    changed = m.PendingPayment.objects.filter(Q(updated_at__gte=since) | Q(created_at__gte=since)).order_by("legacy_id")
    names = ", ".join(f"`{c}`" for c in PENDING_COLUMNS)
    updates = ", ".join(f"`{c}` = VALUES(`{c}`)" for c in PENDING_COLUMNS if c != "id")
    row_marks = "(" + ", ".join(["%s"] * len(PENDING_COLUMNS)) + ")"
    cursor = conn.cursor()
    for batch in _batches(changed.iterator(chunk_size=500), 500):
        values: list[Any] = []
        for pp in batch:
            values += _pending_values(pp, summary)
        try:
            rows = ", ".join([row_marks] * len(batch))
            upsert = f"INSERT INTO pending_payments ({names}) VALUES {rows} ON DUPLICATE KEY UPDATE {updates}"  # noqa: S608
            cursor.execute(upsert, values)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        summary.pending_payments_written += len(batch)


def _export_revocations(conn: Any, since: dt.datetime, summary: Summary) -> None:
    """Logouts made here (``DELETE /v1/sessions``) into ``jwt_blacklist``, so Rails keeps refusing
    those tokens; a jti already listed there is not listed twice."""
    revoked = list(m.SessionRevocation.objects.filter(revoked_at__gte=since).values_list("jti", "exp"))
    cursor = conn.cursor()
    for start in range(0, len(revoked), 500):
        batch = revoked[start : start + 500]
        try:
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f"SELECT jti FROM jwt_blacklist WHERE jti IN ({marks})", [j for j, _ in batch])  # noqa: S608
            listed = {r[0] for r in cursor.fetchall()}
            for jti, exp in batch:
                if jti not in listed:
                    _insert(cursor, "jwt_blacklist", {"jti": jti, "exp": naive_utc(exp)})
                    summary.revocations_written += 1
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def exported_counts(target_url: str) -> dict[int, int]:
    """Trustline id → states recorded as exported (for the operator and the tests)."""
    conn = legacy_db.connect(target_url)
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT trustline_id, COUNT(*) FROM `{RECORD_TABLE}` GROUP BY trustline_id")  # noqa: S608
        counts: dict[int, int] = defaultdict(int)
        for line_id, n in cursor.fetchall():
            counts[int(line_id)] = int(n)
        return dict(counts)
    finally:
        conn.close()
