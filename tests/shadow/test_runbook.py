"""docs/cutover.md walked end to end against a stand-in Rails reading the legacy MariaDB database:
shadow (a Rails write, the diffs it causes, an expected credit-loop diff, a Rails too slow),
freeze, the final catch-up import, verify, switch, a write that lands only here, and a rollback
that exports it so Rails shows it and writes again."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import MySQLdb
import pytest
from django.core.management import call_command
from django.test import Client

from migration import models as m
from migration.cutover import shadow
from migration.legacy_db import connection_args
from tests.legacy_api.conftest import ADMIN, IDA, Tokens, bearer
from tests.shadow.rails import MARKET_CHUNKS, StandInRails, market_chunk

LINE = 2  # Ida (A, user 2) and Mae (B, user 4): A owes B 30.00

pytestmark = pytest.mark.services


def diffs(**filters: Any) -> list[m.ShadowDiff]:
    assert shadow.pool.wait_idle(10)
    return list(m.ShadowDiff.objects.filter(**filters).order_by("pk"))


def legacy_one(url: str, sql: str, args: list[Any]) -> Any:
    with MySQLdb.connect(**connection_args(url)) as db, db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def body(response: Any) -> Any:
    """The JSON of an answer, made here or streamed from Rails."""
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def test_the_runbook_from_shadow_to_switch_and_back(
    imported_live: str, upstream: StandInRails, tokens: Tokens, tmp_path: Path
) -> None:
    legacy_url, rails = imported_live, upstream
    api, ida, admin = Client(), bearer(tokens.v1(IDA)), bearer(tokens.v1(ADMIN))

    # 1. Shadow: Rails writes credit; reads answered here are compared with Rails'.
    assert "phase: shadow (writer: rails)" in run("cutover", "shadow")
    assert api.get(f"/v1/trustlines/{LINE}", headers=ida).json()["current_balance"] == 30.0
    assert diffs(route="trustline") == []  # the imported line and Rails' row agree

    paid = api.post(f"/v1/trustlines/{LINE}/payment", {"amount": 5, "description": "eggs"},
                    content_type="application/json", headers=ida)  # fmt: skip
    assert paid.status_code == 200 and body(paid)["message"] == "Payment processed successfully"
    assert [w["path"] for w in rails.credit_writes()] == [f"/v1/trustlines/{LINE}/payment"]
    assert not m.LegacyWrite.objects.exists()  # Rails wrote it, not this service
    assert legacy_one(legacy_url, "SELECT current_balance FROM trustlines WHERE id = %s", [LINE])[0] == Decimal("35")

    ours = api.get(f"/v1/trustlines/{LINE}", headers=ida)
    assert ours.json()["current_balance"] == 30.0  # the member gets this service's answer, not yet caught up
    [diff] = diffs(route="trustline")
    assert (diff.kind, diff.method, diff.path) == ("mismatch", "GET", f"/v1/trustlines/{LINE}")
    assert diff.member_legacy_id == IDA
    assert diff.field == "$.my_available_credit"
    assert {"path": "$.current_balance", "ours": 30.0, "rails": 35.0} in diff.differences
    assert (diff.ours_status, diff.rails_status) == (200, 200)
    assert json.loads(diff.rails_body)["current_balance"] == 35.0
    assert "Bearer" not in diff.ours_body + diff.rails_body + diff.path

    loops = api.get("/v1/admin/credit_loops", headers=admin)
    assert loops.json() == {"credloops": []}
    [loop_diff] = diffs(route="admin-credit-loops")
    assert loop_diff.kind == "expected" and "by design" in loop_diff.detail
    assert loop_diff.field == "$.credloops[0]"

    rails.slow_seconds = 3
    started = time.monotonic()
    assert api.get("/v1/pending_payments", headers=ida).status_code == 200
    assert time.monotonic() - started < 1.5  # the member did not wait for Rails
    [slow] = diffs(route="pending-payments")
    assert slow.kind == "timeout" and slow.rails_status is None
    rails.slow_seconds = 0

    # Paths this service does not serve pass through in every phase.
    market = api.get("/v1/marketplace/items?page=2", headers=ida)
    assert market.streaming and market.status_code == 200 and market["X-Rails-Page"] == "2"
    assert b"".join(market.streaming_content) == b"".join(market_chunk(i) for i in range(MARKET_CHUNKS))

    # 2. Freeze: nobody writes credit. Writes are refused here and never reach Rails.
    assert "phase: frozen (writer: nobody)" in run("cutover", "freeze")
    refused = api.post(f"/v1/trustlines/{LINE}/payment", {"amount": 1}, content_type="application/json", headers=ida)
    assert refused.status_code == 503 and refused["Retry-After"] == "60"
    assert "errors" in refused.json()
    assert len(rails.credit_writes()) == 1

    # 3. The final catch-up import: Rails' payment comes over.
    with pytest.raises(Exception, match="catch_up_missing"):
        run("cutover", "switch")
    run("import_legacy", source=legacy_url)
    assert api.get(f"/v1/trustlines/{LINE}", headers=ida).json()["current_balance"] == 35.0
    api.get("/v1/trustlines", headers=ida)
    frozen_at = m.CutoverState.objects.get().frozen_at
    after_freeze = diffs(recorded_at__gte=frozen_at)
    assert [d.kind for d in after_freeze] == [], [(d.route, d.field) for d in after_freeze]

    # 4. Verify: the import reconciles with Rails, and the diff log since the final catch-up is clean.
    run("reconcile_legacy", source=legacy_url, report=str(tmp_path / "report.json"))
    assert "shadow diffs since the final catch-up" in run("cutover", "status")

    # 5. Switch: this service writes credit; Rails' credit endpoints are no longer reached.
    assert "phase: switched (writer: here)" in run("cutover", "switch")
    mine = api.post(f"/v1/trustlines/{LINE}/payment", {"amount": 5, "description": "after the switch"},
                    content_type="application/json", headers=ida)  # fmt: skip
    assert mine.status_code == 200 and mine.json()["operation"]["write_state"] == "posted"
    limit = api.put("/v1/trustlines/1", {"credit_limit_b_to_a": "150"}, content_type="application/json", headers=ida)
    assert limit.status_code == 200
    pending = api.post("/v1/pending_payments", {"trustline_id": 1, "amount": 2.5, "description": "bread"},
                       content_type="application/json", headers=ida)  # fmt: skip
    assert pending.status_code == 201
    pending_id = pending.json()["id"]
    logged_out = tokens.v1(IDA)
    assert api.delete("/v1/sessions", headers=bearer(logged_out)).status_code == 200
    assert len(rails.credit_writes()) == 1  # the stand-in saw no credit write after the switch
    assert legacy_one(legacy_url, "SELECT current_balance FROM trustlines WHERE id = %s", [LINE])[0] == Decimal("35")
    assert api.get(f"/v1/trustlines/{LINE}", headers=ida).json()["current_balance"] == 40.0
    assert api.get("/v1/marketplace/items", headers=ida).status_code == 200  # still passed through
    before_rollback = len(diffs())
    assert api.get(f"/v1/trustlines/{LINE}", headers=ida).status_code == 200
    assert len(diffs()) == before_rollback  # switched: Rails is not asked any more

    # 6. Roll back: the writes made here go to MySQL, then Rails writes again.
    out = run("cutover", "rollback", target=legacy_url)
    assert "phase: shadow (writer: rails)" in out
    assert legacy_one(legacy_url, "SELECT current_balance FROM trustlines WHERE id = %s", [LINE]) == (Decimal("40"),)
    assert legacy_one(legacy_url, "SELECT credit_limit_b_to_a FROM trustlines WHERE id = 1", [])[0] == Decimal("150")
    row = legacy_one(
        legacy_url,
        "SELECT amount, balance_after, transaction_type, initiated_by_id, foaf_direction, description "
        "FROM trustline_transactions WHERE trustline_id = %s ORDER BY id DESC LIMIT 1",
        [LINE],
    )
    assert row == (Decimal("5.00"), Decimal("40.00"), "payment", IDA, "sent", "after the switch")
    assert legacy_one(legacy_url, "SELECT status, amount, from_user_id FROM pending_payments WHERE id = %s",
                      [pending_id]) == (0, Decimal("2.50"), IDA)  # fmt: skip
    jti = jwt.decode(logged_out, options={"verify_signature": False})["jti"]
    assert legacy_one(legacy_url, "SELECT COUNT(*) FROM jwt_blacklist WHERE jti = %s", [jti]) == (1,)
    with urllib.request.urlopen(
        urllib.request.Request(f"{rails.url}/v1/trustlines/{LINE}", headers=ida)
    ) as answer:  # Rails itself now shows the write made here
        assert json.loads(answer.read())["current_balance"] == 40.0

    again = api.post(f"/v1/trustlines/{LINE}/payment", {"amount": 1}, content_type="application/json", headers=ida)
    assert again.status_code == 200 and body(again)["message"] == "Payment processed successfully"
    assert len(rails.credit_writes()) == 2  # Rails is the writer again
