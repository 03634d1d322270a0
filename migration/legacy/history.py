"""Rebuild a trustline's signed history from its legacy ``trustline_transactions`` rows (pure functions).

The legacy rules (shared/legacy/README.md): rows are ordered by id; the record of each change is
``balance_after`` minus the previous row's ``balance_after`` (0 before the first row); ``delta > 0``
means user A owes B more. ``amount`` is always positive and every legacy change moves the balance by
exactly ``amount``, so ``|delta| == amount`` is checked on every row. Settlements are stored as
``payment``: only the balances tell the direction.

Rows written before September 2025 may have ``balance_after`` NULL. A run of such rows is recovered
from its neighbours: with the balance P before the run, the next known balance N and the amounts,
the signs must satisfy ``s1*x1 + ... + sk*xk + s*y = N - P``. A unique solution is accepted; when
several fit, hints decide, in this order: a reversal ("Reversal of transaction N": its delta is minus
row N's), then ``foaf_direction`` with who initiated ('sent' = the initiator owes more, 'received' =
the initiator owes less). Otherwise the rows are reported ``unrecoverable`` with a reason, never
guessed. NULL rows at the very end of the known history wait for the next row.

Every input row gets exactly one ``RowResult``: imported (``stored``/``recovered``), reported but kept
(``amount_mismatch``: the stored balances are the record) or set aside (``unrecoverable``,
``waiting_for_next_row``), with a reason an operator can read.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from migration.legacy.errors import LegacyError

#: The columns of ``trustline_transactions`` that ``reconstruct`` reads.
HISTORY_COLUMNS = (
    "id",
    "trustline_id",
    "amount",
    "balance_after",
    "transaction_type",
    "description",
    "initiated_by_id",
    "foaf_direction",
)

#: Longest run of consecutive NULL balances solved by trying every sign (2**(run+1) candidates).
MAX_RUN = 12

_REVERSAL = re.compile(r"Reversal of transaction (\d+)")


class HistoryError(LegacyError):
    """Rows handed over in a way the rules cannot apply to (not ascending, not after the checkpoint)."""

    code = "history_input"


class Status(StrEnum):
    """What became of one legacy row."""

    STORED = "stored"  # balance_after as stored; delta is its difference to the previous balance
    RECOVERED = "recovered"  # balance_after was NULL and is recovered from the neighbours (reason: how)
    AMOUNT_MISMATCH = "amount_mismatch"  # stored balances change by other than the amount: kept, reported
    UNRECOVERABLE = "unrecoverable"  # the sign cannot be told; set aside with the reason
    WAITING = "waiting_for_next_row"  # NULL balance with no later known balance yet: not guessed


class RowResult(NamedTuple):
    """One legacy row's signed change (cents) and the balance after it (a tuple: cheap to make by the million)."""

    id: int
    delta: int | None
    balance_after: int | None
    status: Status
    reason: str | None = None

    @property
    def recovered(self) -> bool:
        return self.status is Status.RECOVERED

    @property
    def imported(self) -> bool:
        """Whether the row has a signed change to import (stored, recovered, or kept despite a mismatch)."""
        return self.delta is not None


@dataclass(frozen=True, slots=True)
class History:
    """The reconstructed rows of one trustline (or of its rows after a checkpoint)."""

    rows: tuple[RowResult, ...]
    start_balance: int = 0
    after_id: int | None = None

    @property
    def final_balance(self) -> int | None:
        """The balance after the last row; None while the last rows wait for a successor."""
        if not self.rows:
            return self.start_balance
        return self.rows[-1].balance_after

    @property
    def checkpoint(self) -> tuple[int | None, int]:
        """(id, balance) of the last row whose balance is known: where the next incremental run resumes."""
        for row in reversed(self.rows):
            if row.balance_after is not None:
                return row.id, row.balance_after
        return self.after_id, self.start_balance

    @property
    def issues(self) -> list[RowResult]:
        """Rows that need an operator's eye: mismatches, unrecoverable and waiting rows."""
        return [r for r in self.rows if r.status not in (Status.STORED, Status.RECOVERED)]

    @property
    def recovered(self) -> list[RowResult]:
        return [r for r in self.rows if r.status is Status.RECOVERED]


def _cents(value: Any, row_id: int, column: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HistoryError(f"row {row_id}: {column} must be integer cents, not {type(value).__name__}")
    return value


def reconstruct(
    rows: Iterable[Mapping[str, Any]],
    *,
    start_balance: int = 0,
    after_id: int | None = None,
    parties: tuple[int, int] | None = None,
    known_deltas: Mapping[int, int] | None = None,
) -> History:
    """The signed history of one trustline from its rows in id order (as ``HISTORY_COLUMNS`` dicts).

    Incremental use: pass only the rows after the last imported one, with ``after_id`` its id and
    ``start_balance`` the balance after it (``History.checkpoint`` gives both); rows that were waiting
    must be passed again. ``parties`` (user_a_id, user_b_id) enables the ``foaf_direction`` hint;
    ``known_deltas`` (id -> delta of already imported rows) lets a reversal of an earlier row serve
    as a hint.
    """
    rows = list(rows)
    if _ascending_all_stored([r["id"] for r in rows], [r["balance_after"] for r in rows], after_id):
        # Every balance is stored (nearly every trustline of an import batch): each delta is the
        # difference to the previous balance, and there is no run to solve, so the hint tables
        # below are not needed.
        stored: list[RowResult] = []
        balance = start_balance
        for row in rows:
            stored.append(_stored(row, balance))
            balance = row["balance_after"]
        return History(tuple(stored), start_balance, after_id)
    deltas: dict[int, int] = dict(known_deltas or {})
    # Deltas the stored balances give directly, for reversal hints that point forward.
    prev: int | None = start_balance
    reversals: dict[int, int] = {}  # reversed row id -> id of the reversal row
    for row in rows:
        ba = row["balance_after"]
        if ba is not None and prev is not None:
            deltas[row["id"]] = ba - prev
        prev = ba
        target = _reversal_target(row)
        if target is not None:
            reversals[target] = row["id"]
    out: list[RowResult] = []
    prev_balance = start_balance
    i, n = 0, len(rows)
    while i < n:
        row = rows[i]
        ba = row["balance_after"]
        if ba is not None:
            out.append(_stored(row, prev_balance))
            deltas[row["id"]] = ba - prev_balance
            prev_balance = ba
            i += 1
            continue
        j = i
        while j < n and rows[j]["balance_after"] is None:
            j += 1
        if j == n:
            for waiting in rows[i:]:
                out.append(
                    RowResult(
                        waiting["id"],
                        None,
                        None,
                        Status.WAITING,
                        "balance_after is NULL and no later row with a known balance exists yet; "
                        "it is resolved when the next row arrives",
                    )
                )
            break
        run = rows[i : j + 1]
        results = _solve_run(run, prev_balance, deltas, reversals, parties)
        for result in results:
            if result.delta is not None:
                deltas[result.id] = result.delta
        out.extend(results)
        prev_balance = rows[j]["balance_after"]
        i = j + 1
    return History(tuple(out), start_balance, after_id)


def stored_deltas(
    ids: Sequence[int],
    balances: Sequence[Any],
    amounts: Sequence[Any],
    *,
    start_balance: int = 0,
    after_id: int | None = None,
) -> list[int] | None:
    """The deltas ``reconstruct`` gives when every row has its ``balance_after`` (each the
    difference to the previous balance; stored or kept despite an amount mismatch, never set
    aside), without building a ``RowResult`` per row; None when some balance is lost (then
    ``reconstruct`` decides). The rows come as columns: their ids, ``balance_after`` and
    ``amount`` values, in row order (the import holds rows as tuples). Raises ``HistoryError``
    as ``reconstruct`` does on bad order or types."""
    if not _ascending_all_stored(ids, balances, after_id):
        return None
    if any(type(v) is not int for v in balances) or any(type(v) is not int for v in amounts):
        for rid, after, amount in zip(ids, balances, amounts, strict=True):  # as _stored refuses them
            _cents(after, rid, "balance_after")
            _cents(amount, rid, "amount")
    return [after - before for before, after in zip([start_balance, *balances[:-1]], balances, strict=True)]


def _ascending_all_stored(ids: Sequence[int], balances: Sequence[Any], after_id: int | None) -> bool:
    """Raise unless the ids ascend after ``after_id``; whether every ``balance_after`` is stored."""
    last = after_id
    for rid in ids:
        if last is not None and rid <= last:
            raise HistoryError(f"row {rid} does not come after row {last}: pass the rows in ascending id order")
        last = rid
    return None not in balances


def _stored(row: Mapping[str, Any], prev: int) -> RowResult:
    rid, ba, amount = row["id"], row["balance_after"], row["amount"]
    delta = ba - prev
    if abs(delta) == amount and amount > 0 and type(ba) is int and type(amount) is int:
        return RowResult(rid, delta, ba, Status.STORED)
    ba = _cents(ba, rid, "balance_after")
    amount = _cents(amount, rid, "amount")
    return RowResult(
        rid,
        delta,
        ba,
        Status.AMOUNT_MISMATCH,
        f"the stored balance moves by {_money(delta)} ({_money(prev)} -> {_money(ba)}) but the amount is "
        f"{_money(amount)}; the stored balances are kept as the record",
    )


def _reversal_target(row: Mapping[str, Any]) -> int | None:
    if row.get("transaction_type") != "reversal":
        return None
    m = _REVERSAL.search(row.get("description") or "")
    return int(m.group(1)) if m else None


def _direction_sign(row: Mapping[str, Any], parties: tuple[int, int] | None) -> int | None:
    """+1/-1 when foaf_direction and the initiator fix the sign of the row's delta, else None."""
    direction = row.get("foaf_direction")
    if parties is None or direction not in ("sent", "received"):
        return None
    by = row.get("initiated_by_id")
    if by not in parties:
        return None
    owes_more = direction == "sent"  # 'sent': payment shape, the initiator owes more
    a_owes_more = owes_more if by == parties[0] else not owes_more
    return 1 if a_owes_more else -1


def _solve_run(
    run: Sequence[Mapping[str, Any]],
    prev: int,
    deltas: Mapping[int, int],
    reversals: Mapping[int, int],
    parties: tuple[int, int] | None,
) -> list[RowResult]:
    """Signs for a run of NULL balances and the known row after it."""
    ids = [r["id"] for r in run]
    amounts = [_cents(r["amount"], r["id"], "amount") for r in run]
    end = _cents(run[-1]["balance_after"], ids[-1], "balance_after")
    target = end - prev
    nulls = ", ".join(str(x) for x in ids[:-1])
    if len(run) - 1 > MAX_RUN:
        return _unrecoverable(run, f"{len(run) - 1} NULL balances in a row (rows {nulls}) are too many to solve")
    candidates = [
        signs
        for signs in itertools.product((1, -1), repeat=len(run))
        if sum(s * a for s, a in zip(signs, amounts, strict=True)) == target
    ]
    if not candidates:
        return _unrecoverable(
            run,
            f"no signs of the amounts {', '.join(_money(a) for a in amounts)} take the balance from "
            f"{_money(prev)} to {_money(end)} (rows {nulls} have NULL balance_after)",
        )
    how = "the neighbours' balances"
    if len(candidates) > 1:
        position = {rid: k for k, rid in enumerate(ids)}

        def reversal_ok(signs: tuple[int, ...]) -> bool:
            for k, row in enumerate(run):
                delta = signs[k] * amounts[k]
                target_id = _reversal_target(row)
                if target_id is not None:  # this row undoes row target_id
                    other = _delta_of(target_id, signs, amounts, position, deltas)
                    if other is not None and delta != -other:
                        return False
                undoer = reversals.get(row["id"])
                if undoer is not None:  # a reversal elsewhere undoes this row
                    other = _delta_of(undoer, signs, amounts, position, deltas)
                    if other is not None and delta != -other:
                        return False
            return True

        def direction_ok(signs: tuple[int, ...]) -> bool:
            for k, row in enumerate(run):
                sign = _direction_sign(row, parties)
                if sign is not None and signs[k] != sign:
                    return False
            return True

        for name, ok in (("a reversal's description", reversal_ok), ("foaf_direction", direction_ok)):
            narrowed = [c for c in candidates if ok(c)]
            if narrowed:
                candidates = narrowed
            if len(candidates) == 1:
                how = name
                break
    if len(candidates) > 1:
        options = sorted({prev + candidates_k[0] * amounts[0] for candidates_k in candidates})
        return _unrecoverable(
            run,
            f"{len(candidates)} sign combinations fit the neighbours and no hint decides (row {ids[0]} could "
            f"end at {' or '.join(_money(o) for o in options)}); an operator must decide",
        )
    signs = candidates[0]
    out = []
    balance = prev
    for k, row in enumerate(run[:-1]):
        delta = signs[k] * amounts[k]
        balance += delta
        out.append(RowResult(row["id"], delta, balance, Status.RECOVERED, f"recovered from {how}"))
    out.append(_stored(run[-1], balance))
    return out


def _delta_of(
    rid: int, signs: tuple[int, ...], amounts: Sequence[int], position: Mapping[int, int], deltas: Mapping[int, int]
) -> int | None:
    k = position.get(rid)
    if k is not None:
        return signs[k] * amounts[k]
    return deltas.get(rid)


def _unrecoverable(run: Sequence[Mapping[str, Any]], reason: str) -> list[RowResult]:
    out = [RowResult(r["id"], None, None, Status.UNRECOVERABLE, reason) for r in run[:-1]]
    last = run[-1]
    out.append(
        RowResult(
            last["id"],
            None,
            last["balance_after"],
            Status.UNRECOVERABLE,
            f"its balance is stored but its change depends on the rows before it: {reason}",
        )
    )
    return out


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def reconstruct_all(
    rows: Iterable[Mapping[str, Any]], *, parties: Mapping[int, tuple[int, int]] | None = None
) -> dict[int, History]:
    """Every trustline's history from all ``trustline_transactions`` rows in id order (holds them in memory)."""
    by_line: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_line.setdefault(row["trustline_id"], []).append(row)
    return {line: reconstruct(line_rows, parties=(parties or {}).get(line)) for line, line_rows in by_line.items()}


@dataclass(frozen=True, slots=True)
class BalanceDrift:
    """A trustline whose cached ``current_balance`` differs from its history (the history is the record)."""

    trustline_id: int
    history_cents: int | None
    cached_cents: int
    reason: str

    @property
    def difference(self) -> int | None:
        return None if self.history_cents is None else self.cached_cents - self.history_cents


def cached_balance_drift(trustline_id: int, history: History, cached_cents: int) -> BalanceDrift | None:
    """None when ``trustlines.current_balance`` agrees with the history, else what differs and why it matters."""
    final = history.final_balance
    if final is None:
        return BalanceDrift(
            trustline_id,
            None,
            cached_cents,
            "the history ends in rows waiting for their successor, so its final balance is not known yet",
        )
    if final == cached_cents:
        return None
    return BalanceDrift(
        trustline_id,
        final,
        cached_cents,
        f"cached current_balance {_money(cached_cents)} differs from the history's {_money(final)} by "
        f"{_money(cached_cents - final)}; the history is the record",
    )
