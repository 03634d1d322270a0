"""export_to_legacy: exactly once, resumable after kill -9, one at a time, and it refuses to
overwrite a row Rails wrote after the freeze."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import MySQLdb
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from foaf.ledger.models import StateEntry
from migration import models as m
from migration.cutover import export, phase
from migration.legacy_db import connection_args
from tests.conftest import ROOT, database_url_for_subprocess
from tests.legacy_api.conftest import IDA, Tokens, bearer

pytestmark = pytest.mark.services
Phase = m.CutoverState.Phase


def legacy(url: str) -> Any:
    return MySQLdb.connect(**connection_args(url))


def rows(url: str, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with legacy(url) as db, db.cursor() as cur:
        cur.execute(sql, args or [])
        return list(cur.fetchall())


def switched(legacy_url: str, settings: Any) -> None:
    """shadow → frozen → final catch-up → switched, without the command's waits."""
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"  # never asked: nothing is read or forwarded here
    phase.move(Phase.SHADOW)
    phase.move(Phase.FROZEN)
    call_command("import_legacy", source=legacy_url, stdout=io.StringIO(), stderr=io.StringIO())
    phase.move(Phase.SWITCHED)
    settings.LEGACY_UPSTREAM_URL = ""


def pay(tokens: Tokens, member: int, line: int, amount: float) -> None:
    answer = Client().post(f"/v1/trustlines/{line}/payment", {"amount": amount}, content_type="application/json",
                           headers=bearer(tokens.v1(member)))  # fmt: skip
    assert answer.status_code == 200, answer.content


def exported_states(url: str) -> list[tuple[Any, ...]]:
    """(foaf_operation_id, count) of the history rows the export wrote."""
    ids = list(StateEntry.objects.values_list("pk", flat=True))
    marks = ", ".join(["%s"] * len(ids))
    return rows(url, f"SELECT foaf_operation_id, COUNT(*) FROM trustline_transactions WHERE foaf_operation_id IN "
                f"({marks}) AND foaf_direction IS NOT NULL AND initiated_by_id IS NOT NULL GROUP BY foaf_operation_id",
                ids)  # fmt: skip


def test_an_export_killed_mid_trustline_leaves_whole_trustlines_and_the_next_run_finishes_exactly_once(
    imported_live: str, settings: Any, tokens: Tokens, project_env: dict[str, str]
) -> None:
    url = imported_live
    switched(url, settings)
    for amount in (1, 2, 3):
        pay(tokens, IDA, 1, amount)
        pay(tokens, IDA, 2, amount)
    history_before = rows(url, "SELECT trustline_id, COUNT(*) FROM trustline_transactions GROUP BY trustline_id")

    holder = legacy(url)  # holds line 2's row: the export blocks on it after writing line 2's history
    holder.autocommit(False)
    holder.cursor().execute("SELECT id FROM trustlines WHERE id = 2 FOR UPDATE")
    project_env["DATABASE_URL"] = database_url_for_subprocess()
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "export_to_legacy", "--target", url],
        env=project_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        waiting = "SELECT 1 FROM information_schema.processlist WHERE info LIKE 'UPDATE trustlines %%WHERE id = 2'"
        while not rows(url, waiting):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the export never reached line 2"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        holder.rollback()
        holder.close()
    # Once MariaDB has seen the killed connection go (its export lock is free again), its open
    # transaction is rolled back.
    with legacy(url) as db, db.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 30)", [export.LOCK_NAME])
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT RELEASE_LOCK(%s)", [export.LOCK_NAME])

    assert export.exported_counts(url) == {1: 3}  # line 1 whole, nothing of line 2
    after_kill = dict(rows(url, "SELECT trustline_id, COUNT(*) FROM trustline_transactions GROUP BY trustline_id"))
    assert after_kill[2] == dict(history_before)[2]
    assert rows(url, "SELECT current_balance FROM trustlines WHERE id = 2") == [(Decimal("30.00"),)]

    first = export.export(url)
    assert (first.transactions_already, first.transactions_inserted) == (3, 3)
    assert export.exported_counts(url) == {1: 3, 2: 3}
    assert [n for _, n in exported_states(url)] == [1] * 6  # every state once
    assert rows(url, "SELECT current_balance FROM trustlines WHERE id = 2") == [(Decimal("36.00"),)]
    balances = [r[0] for r in rows(url, "SELECT balance_after FROM trustline_transactions WHERE trustline_id = 2 "
                                        "ORDER BY id DESC LIMIT 3")]  # fmt: skip
    assert balances == [Decimal("36.00"), Decimal("33.00"), Decimal("31.00")]

    again = export.export(url)
    assert (again.transactions_inserted, again.transactions_already) == (0, 6)
    assert [n for _, n in exported_states(url)] == [1] * 6


def test_a_second_export_at_once_stops_with_export_running(imported_live: str, settings: Any, tokens: Tokens) -> None:
    switched(imported_live, settings)
    pay(tokens, IDA, 2, 1)
    with legacy(imported_live) as db, db.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", [export.LOCK_NAME])
        with pytest.raises(CommandError, match="export_running"):
            call_command("export_to_legacy", target=imported_live, stdout=io.StringIO())
    assert export.export(imported_live).transactions_inserted == 1


def test_a_trustline_rails_created_after_the_freeze_stops_the_export(
    imported_live: str, settings: Any, tokens: Tokens
) -> None:
    switched(imported_live, settings)
    created = Client().post("/v1/trustlines", {"other_user_id": 6, "my_credit_limit": 20},
                            content_type="application/json", headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert created.status_code == 201
    line_id = created.json()["id"]
    with legacy(imported_live) as db, db.cursor() as cur:
        cur.execute(
            "INSERT INTO trustlines (id, user_a_id, user_b_id, established_date, created_at, updated_at) "
            "VALUES (%s, 3, 6, NOW(), NOW(), NOW())",
            [line_id],
        )
        db.commit()
    with pytest.raises(CommandError, match="export_conflict"):
        call_command("export_to_legacy", target=imported_live, stdout=io.StringIO())


def test_a_trustline_created_here_is_inserted_with_its_id(imported_live: str, settings: Any, tokens: Tokens) -> None:
    switched(imported_live, settings)
    created = Client().post("/v1/trustlines", {"other_user_id": 6, "my_credit_limit": 20, "their_credit_limit": 30},
                            content_type="application/json", headers=bearer(tokens.v1(IDA)))  # fmt: skip
    line_id = created.json()["id"]
    out = io.StringIO()
    call_command("export_to_legacy", target=imported_live, stdout=out)
    assert "1 trustlines created" in out.getvalue()
    assert rows(imported_live, "SELECT user_a_id, user_b_id, credit_limit_a_to_b, credit_limit_b_to_a, "
                "current_balance, is_active FROM trustlines WHERE id = %s", [line_id]) == [
        (IDA, 6, Decimal("20.00"), Decimal("30.00"), Decimal("0.00"), 1)
    ]  # fmt: skip


def test_no_export_without_a_switch(imported_live: str) -> None:
    with pytest.raises(CommandError, match="export_refused"):
        call_command("export_to_legacy", target=imported_live, stdout=io.StringIO())


def test_a_pending_payment_confirmed_here_goes_back_confirmed_with_its_history_row(
    imported_live: str, settings: Any, tokens: Tokens
) -> None:
    switched(imported_live, settings)
    olu = 3  # user B of line 1; user A (Ida) is owed 40.00 by Olu
    created = Client().post("/v1/pending_payments", {"trustline_id": 1, "amount": "2.50", "description": "café ☕"},
                            content_type="application/json", headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert created.status_code == 201, created.content
    pending_id = created.json()["id"]
    confirmed = Client().put(f"/v1/pending_payments/{pending_id}/confirm", content_type="application/json",
                             headers=bearer(tokens.v1(olu)))  # fmt: skip
    assert confirmed.status_code == 200, confirmed.content
    summary = export.export(imported_live)
    assert (summary.transactions_inserted, summary.pending_payments_written, summary.narrowed) == (1, 1, 1)
    status, amount, description = rows(
        imported_live, "SELECT status, amount, description FROM pending_payments WHERE id = %s", [pending_id]
    )[0]
    assert (status, amount) == (1, Decimal("2.50"))
    assert description == "café ?"  # a latin1 table: what it cannot hold becomes ?
    assert rows(imported_live, "SELECT amount, balance_after, initiated_by_id, foaf_direction FROM "
                "trustline_transactions WHERE trustline_id = 1 ORDER BY id DESC LIMIT 1") == [
        (Decimal("2.50"), Decimal("-42.50"), olu, "received")
    ]  # fmt: skip
    assert rows(imported_live, "SELECT current_balance FROM trustlines WHERE id = 1") == [(Decimal("-42.50"),)]


def test_an_export_that_began_before_the_freeze_does_not_let_rails_write_again(
    imported_live: str, settings: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export run ahead of a rollback (while switched) that finishes after the freeze has not
    seen a write made here between its start and the freeze: Rails must not become the writer on it."""
    switched(imported_live, settings)
    pay(tokens, IDA, 1, 1)
    exporting_pending = export._export_pending

    def write_then_freeze(*args: Any, **kwargs: Any) -> None:
        pay(tokens, IDA, 1, 2)  # line 1 is exported already by this run
        settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
        settings.LEGACY_CUTOVER_PHASE_SECONDS, settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS = 0, 1
        phase.move(Phase.FROZEN)  # the operator starts the rollback meanwhile
        exporting_pending(*args, **kwargs)

    monkeypatch.setattr(export, "_export_pending", write_then_freeze)
    export.export(imported_live)
    with pytest.raises(phase.PhaseTransitionRefused, match="export_to_legacy"):
        phase.move(Phase.SHADOW)
    monkeypatch.undo()
    time.sleep(1.1)  # as `cutover freeze` waits: every process has acted on the freeze
    assert export.export(imported_live).transactions_inserted == 1  # the payment the first run missed
    phase.move(Phase.SHADOW)
