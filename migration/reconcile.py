"""Reconciliation: the imported bilateral state against the legacy rows, to the cent.

Every figure in the report is read from what the import wrote (the bilateral logs and the kept
history), never copied from the MySQL rows; the legacy source is read only to compare. Anything
that does not add up goes into ``unexplained``; an empty ``unexplained`` is the pass mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

from foaf import bilateral as core
from foaf.ledger.models import Relationship, StateEntry
from foaf.ledger.services import entry_from_row
from migration import models as m
from migration.importer import HISTORY, NOT_MIGRATED, batched
from migration.legacy.source import LegacySource

# Legacy table -> the model its rows were imported into (by legacy id).
IMPORTED_TABLES: dict[str, type[Any]] = {
    "users": m.Member,
    "user_groups": m.Role,
    "subnets": m.Subnet,
    "subnet_memberships": m.SubnetMembership,
    "relationships": m.Contact,
    "trustlines": m.Trustline,
    HISTORY: m.HistoryRow,
    "pending_payments": m.PendingPayment,
    "categories": m.Category,
    "items": m.Listing,
    "jwt_blacklist": m.RevokedToken,
}


KEPT_FIELDS = ("legacy_id", "created_at", "amount", "delta", "balance_after", "transaction_type",
               "initiated_by_legacy_id")  # fmt: skip


def _committed_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_id, legacy_id, created_at, amount, delta, balance_after, kind, initiated_by in rows:
        yield (
            line_id,
            core.history_row(
                id=legacy_id,
                created_at=int(created_at.timestamp()),
                amount=amount,
                delta=delta or 0,  # the queries keep only rows whose delta is known
                balance_after=balance_after,
                kind=kind,
                initiated_by=initiated_by,
            ),
        )


def kept_histories() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Every trustline's kept rows (trustline id ascending), streamed in one query rather than one
    query per trustline: a region has tens of thousands of them."""
    rows = m.HistoryRow.objects.filter(delta__isnull=False).order_by("trustline_id", "legacy_id")
    stream = _committed_rows(rows.values_list("trustline_id", *KEPT_FIELDS).iterator(chunk_size=5000))
    for line_id, group in groupby(stream, key=itemgetter(0)):
        yield line_id, [row for _, row in group]


def reconcile(source: LegacySource) -> dict[str, Any]:
    unexplained: list[str] = []
    trustlines = imported_trustlines(unexplained)
    mismatches = compare_with_legacy(source, trustlines, unexplained)
    set_aside = [
        {"table": s.table, "id": s.legacy_id, "reason": s.reason, "detail": s.detail}
        for s in m.SetAside.objects.order_by("table", "legacy_id")
    ]
    counts = account_for_rows(source, set_aside, unexplained)
    recovered = m.HistoryRow.objects.filter(recovered=True).order_by("legacy_id").values_list("legacy_id", flat=True)
    demo = m.Member.objects.filter(community=m.Community.DEMO).order_by("legacy_id").values_list("legacy_id", flat=True)
    present = set(source.tables())
    return {
        "trustlines": trustlines,
        "cached_balance_mismatches": mismatches,
        "recovered_rows": list(recovered),
        "demo_user_ids": list(demo),
        "set_aside": set_aside,
        "not_migrated": {t: why for t, why in NOT_MIGRATED.items() if t in present},
        "counts": counts,
        "unexplained": unexplained,
    }


def imported_trustlines(unexplained: list[str]) -> dict[str, dict[str, Any]]:
    """Each trustline's figures as its bilateral log states them, checked against the kept history."""
    trustlines: dict[str, dict[str, Any]] = {}
    histories = kept_histories()
    pending: tuple[int, list[dict[str, Any]]] | None = next(histories, None)
    lines = m.Trustline.objects.select_related("relationship").order_by("legacy_id")
    for chunk in batched(lines.iterator(chunk_size=1000), 1000):
        heads = head_states([t.relationship for t in chunk if t.relationship is not None])
        for line in chunk:
            # The kept rows of this trustline (both streams ascend by trustline id).
            while pending is not None and pending[0] < line.legacy_id:
                pending = next(histories, None)
            kept: list[dict[str, Any]] = []
            if pending is not None and pending[0] == line.legacy_id:
                kept = pending[1]
            if line.relationship is None:
                unexplained.append(f"trustline {line.legacy_id}: imported but has no bilateral relationship")
                continue
            _reconcile_line(line, heads[line.relationship.pk], kept, trustlines, unexplained)
    return trustlines


def head_states(relationships: list[Relationship]) -> dict[int, core.State]:
    """The newest state of each relationship's log (the entry at its head sequence number)."""
    head_seq = {r.pk: r.head_seq for r in relationships}
    entries = StateEntry.objects.filter(relationship_id__in=list(head_seq))
    return {
        row.relationship_id: entry_from_row(row).state
        for row in entries.only("relationship_id", "seq", "canonical", "sig_a", "sig_b", "attest_key", "attest_sig")
        if row.seq == head_seq[row.relationship_id]
    }


def _reconcile_line(
    line: m.Trustline,
    head: core.State,
    kept: list[dict[str, Any]],
    trustlines: dict[str, dict[str, Any]],
    unexplained: list[str],
) -> None:
    op = head.update.op
    if not isinstance(op, (core.Import, core.ImportSync)):
        unexplained.append(f"trustline {line.legacy_id}: members have taken it over; reconcile before claims")
        return
    trustlines[str(line.legacy_id)] = {
        "balance_cents": head.balance,
        "credit_limit_a_to_b_cents": head.limit_a_to_b,
        "credit_limit_b_to_a_cents": head.limit_b_to_a,
        "is_active": head.status != "closed",
        "history_rows": op.history_rows,
    }
    rows, total = len(kept), sum(r["delta"] for r in kept)
    if rows != op.history_rows or total != head.balance:
        unexplained.append(
            f"trustline {line.legacy_id}: the kept history ({rows} rows summing to {total}) does not give the "
            f"bilateral state ({op.history_rows} rows, balance {head.balance})"
        )
        return
    try:
        core.verify_history(kept, history_root=op.history_root, history_rows=op.history_rows, balance=head.balance)
    except core.ProtocolError as exc:
        unexplained.append(f"trustline {line.legacy_id}: kept history fails its commitment: {exc.code.value}")


def compare_with_legacy(
    source: LegacySource, trustlines: dict[str, dict[str, Any]], unexplained: list[str]
) -> list[int]:
    """Legacy trustlines whose cached balance differs from the history; limits and status must agree."""
    columns = ["id", "current_balance", "credit_limit_a_to_b", "credit_limit_b_to_a", "is_active"]
    mismatches = []
    for row in source.rows("trustlines", columns):
        ours = trustlines.get(str(row["id"]))
        if ours is None:
            continue
        if row["current_balance"] != ours["balance_cents"]:
            mismatches.append(row["id"])
        wanted = (row["credit_limit_a_to_b"], row["credit_limit_b_to_a"], bool(row["is_active"]))
        have = (ours["credit_limit_a_to_b_cents"], ours["credit_limit_b_to_a_cents"], ours["is_active"])
        if wanted != have:
            unexplained.append(f"trustline {row['id']}: legacy limits/status {wanted}, imported {have}: catch up")
    return sorted(mismatches)


def account_for_rows(
    source: LegacySource, set_aside: list[dict[str, Any]], unexplained: list[str]
) -> dict[str, dict[str, int]]:
    """Every legacy row of a migrated table is imported or set aside; nothing else."""
    aside_by_table: dict[str, set[int]] = defaultdict(set)
    for entry in set_aside:
        aside_by_table[str(entry["table"])].add(int(entry["id"]))
    counts: dict[str, dict[str, int]] = {}
    present = set(source.tables())
    for table, model in IMPORTED_TABLES.items():
        if table not in present:
            continue
        legacy_ids = {row["id"] for row in source.rows(table, ["id"])}
        imported = set(model.objects.values_list("pk", flat=True))
        aside = aside_by_table.get(table, set())
        counts[table] = {"legacy": len(legacy_ids), "imported": len(imported & legacy_ids), "set_aside": len(aside)}
        missing = legacy_ids - imported - aside
        if missing:
            unexplained.append(
                f"{table}: {len(missing)} rows neither imported nor set aside, e.g. {sorted(missing)[:5]}"
            )
        gone = imported - legacy_ids
        if gone:
            unexplained.append(f"{table}: {len(gone)} imported rows are gone from the source, e.g. {sorted(gone)[:5]}")
    # History rows carry no database foreign key (HistoryRow.trustline says why): checked here.
    orphans = m.HistoryRow.objects.exclude(trustline_id__in=m.Trustline.objects.values("legacy_id"))
    orphan_ids = list(orphans.order_by("legacy_id").values_list("legacy_id", flat=True)[:5])
    if orphan_ids:
        unexplained.append(f"{HISTORY}: rows kept for a trustline that is not imported, e.g. {orphan_ids}")
    waiting = list(m.HistoryRow.objects.filter(delta__isnull=True).values_list("legacy_id", flat=True)[:5])
    if waiting:
        unexplained.append(f"{HISTORY}: rows waiting for a later row to recover their balance, e.g. {waiting}")
    for table in NOT_MIGRATED:
        if table in present:
            counts[table] = {"legacy": source.count(table), "imported": 0, "set_aside": 0}
    return counts
