"""History reconstruction: the legacy credit rules, NULL-balance recovery and its hints, and the generator's truth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from migration.legacy.history import (
    HISTORY_COLUMNS,
    History,
    HistoryError,
    Status,
    cached_balance_drift,
    reconstruct,
    reconstruct_all,
)
from migration.legacy.source import DumpSource
from tests.migration.conftest import Snapshot

A, B = 10, 20


def tx(rid: int, amount: int, balance: int | None, **extra: Any) -> dict[str, Any]:
    row = {
        "id": rid,
        "trustline_id": 1,
        "amount": amount,
        "balance_after": balance,
        "transaction_type": "payment",
        "description": None,
        "initiated_by_id": A,
        "foaf_direction": None,
    }
    row.update(extra)
    return row


def deltas(history: History) -> list[int | None]:
    return [r.delta for r in history.rows]


def test_each_change_is_the_difference_of_stored_balances_from_zero() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, 300), tx(3, 400, -100)])
    assert deltas(history) == [500, -200, -400]
    assert [r.status for r in history.rows] == [Status.STORED] * 3
    assert history.final_balance == -100
    assert history.issues == []


def test_a_null_balance_with_a_unique_solution_is_recovered_from_its_neighbours() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, None), tx(3, 300, 0)])
    assert deltas(history) == [500, -200, -300]
    assert history.rows[1].balance_after == 300
    assert history.rows[1].recovered and history.rows[1].reason == "recovered from the neighbours' balances"
    assert not history.rows[2].recovered


def test_a_first_row_with_a_null_balance_starts_from_zero() -> None:
    history = reconstruct([tx(1, 500, None), tx(2, 200, 700)])
    assert deltas(history) == [500, 200]


def test_equal_amounts_are_ambiguous_and_reported_unrecoverable_without_a_hint() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, None), tx(3, 200, 500)])
    assert [r.status for r in history.rows] == [Status.STORED, Status.UNRECOVERABLE, Status.UNRECOVERABLE]
    assert history.rows[1].delta is None and history.rows[2].delta is None
    assert "2 sign combinations fit" in (history.rows[1].reason or "")
    assert history.rows[2].balance_after == 500  # stored, so the rows after it go on
    assert history.final_balance == 500


def test_a_reversal_description_decides_an_ambiguous_sign() -> None:
    rows = [
        tx(1, 200, 200),
        tx(2, 200, None, transaction_type="reversal", description="Reversal of transaction 1"),
        tx(3, 200, 200),
    ]
    history = reconstruct(rows)
    assert deltas(history) == [200, -200, 200]
    assert history.rows[1].reason == "recovered from a reversal's description"


def test_a_later_reversal_of_the_null_row_decides_its_sign() -> None:
    rows = [
        tx(1, 100, 100),
        tx(2, 300, None),
        tx(3, 300, 100),
        tx(4, 300, 400, transaction_type="reversal", description="Reversal of transaction 2"),
    ]
    history = reconstruct(rows)
    assert deltas(history) == [100, -300, 300, 300]


def test_foaf_direction_and_the_initiator_decide_when_no_reversal_does() -> None:
    # B initiated a 'received' (settlement shape) row: B owes less, so A owes more: +200
    rows = [tx(1, 500, 500), tx(2, 200, None, initiated_by_id=B, foaf_direction="received"), tx(3, 200, 500)]
    assert deltas(reconstruct(rows, parties=(A, B))) == [500, 200, -200]
    assert reconstruct(rows).rows[1].status is Status.UNRECOVERABLE  # without knowing the parties


def test_no_signs_fitting_the_neighbours_is_unrecoverable_with_a_reason() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, None), tx(3, 300, 9999)])
    assert history.rows[1].status is Status.UNRECOVERABLE
    assert "no signs of the amounts 2.00, 3.00 take the balance from 5.00 to 99.99" in (history.rows[1].reason or "")


def test_a_run_of_null_balances_is_solved_together() -> None:
    history = reconstruct([tx(1, 100, 100), tx(2, 200, None), tx(3, 400, None), tx(4, 800, 1500)])
    assert deltas(history) == [100, 200, 400, 800]
    assert len(history.recovered) == 2


def test_a_null_balance_at_the_end_waits_for_the_next_row() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, None)])
    assert history.rows[1].status is Status.WAITING
    assert history.final_balance is None
    assert history.checkpoint == (1, 500)


def test_a_stored_balance_that_moves_by_other_than_the_amount_is_kept_and_reported() -> None:
    history = reconstruct([tx(1, 500, 500), tx(2, 200, 450)])
    row = history.rows[1]
    assert (row.delta, row.status) == (-50, Status.AMOUNT_MISMATCH)
    assert "moves by -0.50 (5.00 -> 4.50) but the amount is 2.00" in (row.reason or "")
    assert history.final_balance == 450 and history.issues == [row]


def test_incremental_reconstruction_resumes_from_a_checkpoint() -> None:
    rows = [tx(1, 500, 500), tx(2, 200, 300), tx(3, 100, None), tx(4, 50, 150), tx(5, 25, None)]
    whole = reconstruct(rows)
    first = reconstruct(rows[:3])
    assert first.rows[-1].status is Status.WAITING
    last_id, balance = first.checkpoint
    assert (last_id, balance) == (2, 300)
    rest = reconstruct(rows[2:], start_balance=balance, after_id=last_id)
    assert list(first.rows[:2]) + list(rest.rows) == list(whole.rows)


def test_an_incremental_reversal_hint_can_use_an_already_imported_row() -> None:
    rows = [tx(5, 200, None, transaction_type="reversal", description="Reversal of transaction 1"), tx(6, 200, 0)]
    history = reconstruct(rows, start_balance=0, after_id=4, known_deltas={1: -200})
    assert deltas(history) == [200, -200]


def test_rows_out_of_order_or_before_the_checkpoint_are_refused() -> None:
    with pytest.raises(HistoryError):
        reconstruct([tx(2, 100, 100), tx(1, 100, 0)])
    with pytest.raises(HistoryError) as info:
        reconstruct([tx(3, 100, 100)], after_id=3)
    assert info.value.code == "history_input"


def test_the_cached_balance_is_compared_with_the_history() -> None:
    history = reconstruct([tx(1, 500, 500)])
    assert cached_balance_drift(1, history, 500) is None
    drift = cached_balance_drift(1, history, 400)
    assert drift is not None and drift.difference == -100 and "the history is the record" in drift.reason
    waiting = cached_balance_drift(1, reconstruct([tx(1, 500, None)]), 500)
    assert waiting is not None and waiting.history_cents is None


def check_against_truth(source: DumpSource, truth: dict[str, Any]) -> dict[int, History]:
    parties = {
        r["id"]: (r["user_a_id"], r["user_b_id"]) for r in source.rows("trustlines", ["id", "user_a_id", "user_b_id"])
    }
    histories = reconstruct_all(source.rows("trustline_transactions", HISTORY_COLUMNS), parties=parties)
    for line_id, expected in truth["trustlines"].items():
        history = histories.get(int(line_id), History(()))
        assert len(history.rows) == expected["transactions"], line_id
        assert history.final_balance == expected["balance_cents"], line_id
        assert history.issues == [], line_id
    assert set(histories) <= {int(x) for x in truth["trustlines"]}
    recovered = sum(len(h.recovered) for h in histories.values())
    assert recovered == truth["quirks"].get("null_balance_after", 0)
    cached = {r["id"]: r["current_balance"] for r in source.rows("trustlines", ["id", "current_balance"])}
    drifts = [d for i, c in cached.items() if (d := cached_balance_drift(i, histories.get(i, History(())), c))]
    assert len(drifts) == truth["quirks"].get("cached_balance_drift", 0)
    return histories


@pytest.mark.parametrize("seed", ["3", "11"])
def test_the_history_reproduces_the_generator_truth_for_every_trustline(snapshot: Snapshot, seed: str) -> None:
    sql, truth_path = snapshot("--users", "60", "--events", "3000", "--seed", seed)
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    histories = check_against_truth(DumpSource(str(sql)), truth)
    assert sum(len(h.recovered) for h in histories.values()) > 0  # the quirk is exercised


def test_an_earlier_snapshot_then_a_catch_up_reaches_the_later_truth(snapshot: Snapshot) -> None:
    args = ("--users", "60", "--events", "3000", "--seed", "3")
    early_sql, early_truth = snapshot(*args, "--until", "0.8")
    late_sql, late_truth = snapshot(*args)
    early = check_against_truth(DumpSource(str(early_sql)), json.loads(early_truth.read_text(encoding="utf-8")))
    truth = json.loads(late_truth.read_text(encoding="utf-8"))
    late = DumpSource(str(late_sql))
    for line_id, expected in truth["trustlines"].items():
        before = early.get(int(line_id), History(()))
        last_id, balance = before.checkpoint
        line_rows = [
            r
            for r in late.rows("trustline_transactions", HISTORY_COLUMNS, after_id=last_id)
            if r["trustline_id"] == int(line_id)
        ]
        after = reconstruct(line_rows, start_balance=balance, after_id=last_id)
        done = [r for r in before.rows if r.balance_after is not None and (last_id is None or r.id <= last_id)]
        assert len(done) + len(after.rows) == expected["transactions"], line_id
        assert after.final_balance == expected["balance_cents"], line_id
