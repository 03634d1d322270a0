"""The cut-over's phases: the moves the table allows, their preconditions, the record of each,
and what shadow comparisons record (and never record)."""

from __future__ import annotations

import hashlib
import io
import json
import socket
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from migration import models as m
from migration.cutover import errors, phase, shadow
from tests.legacy_api.conftest import IDA, Tokens, bearer
from tests.shadow.rails import StandInRails

Phase = m.CutoverState.Phase
pytestmark = pytest.mark.services


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("cutover", *args, stdout=out)
    return out.getvalue()


def test_before_any_move_the_phase_is_standalone_and_this_service_writes(db: None) -> None:
    assert phase.current() == Phase.STANDALONE
    assert "phase: standalone (writer: here)" in run("status")


def test_moves_outside_the_table_are_refused_and_change_nothing(db: None, settings: Any) -> None:
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    settings.LEGACY_CUTOVER_PHASE_SECONDS = 0
    settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS = 1
    with pytest.raises(CommandError, match=r"\[phase_transition_refused\] the phase is standalone"):
        run("switch")
    with pytest.raises(CommandError, match="phase_transition_refused"):
        run("freeze")
    run("shadow", "--note", "starts")
    with pytest.raises(errors.PhaseTransitionRefused):
        phase.move(Phase.SWITCHED)
    with pytest.raises(errors.PhaseTransitionRefused, match="not a phase"):
        phase.move("live")
    assert phase.state().phase == Phase.SHADOW
    assert list(m.CutoverEvent.objects.values_list("from_phase", "to_phase", "note")) == [
        ("standalone", "shadow", "starts")
    ]


def test_shadow_needs_rails(db: None, settings: Any) -> None:
    settings.LEGACY_UPSTREAM_URL = ""
    with pytest.raises(CommandError, match="no_upstream"):
        run("shadow")


def test_after_a_switch_rails_writes_again_only_after_an_export(db: None, settings: Any) -> None:
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    phase.move(Phase.SHADOW)
    phase.move(Phase.FROZEN)
    assert phase.move(Phase.SHADOW).switched_at is None  # no switch yet: aborting the cut-over is fine
    phase.move(Phase.FROZEN)
    m.ImportRun.objects.create(source="catch-up", status=m.ImportRun.Status.FINISHED)
    phase.move(Phase.SWITCHED)
    phase.move(Phase.FROZEN)
    with pytest.raises(errors.PhaseTransitionRefused, match="export_to_legacy"):
        phase.move(Phase.SHADOW)
    with pytest.raises(CommandError, match="nothing to roll back"):
        m.CutoverState.objects.update(switched_at=None)
        run("rollback", "--target", "mysql://root@127.0.0.1/none")


def test_a_catch_up_that_started_before_the_freeze_does_not_count(db: None, settings: Any) -> None:
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    m.ImportRun.objects.create(source="earlier", status=m.ImportRun.Status.FINISHED)
    phase.move(Phase.SHADOW)
    phase.move(Phase.FROZEN)
    m.ImportRun.objects.create(source="failed", status=m.ImportRun.Status.FAILED)
    with pytest.raises(errors.CatchUpMissing):
        phase.move(Phase.SWITCHED)


def test_a_comparison_records_the_member_but_never_the_token(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens, transactional_db: None
) -> None:
    phase.move(Phase.SHADOW)
    token = tokens.v1(IDA)
    api = Client()
    assert api.get("/v1/trustlines/99", headers=bearer(token)).status_code == 404  # Rails agrees: no row
    assert api.get("/v1/admin/credit_loops?token=x", headers=bearer(token)).status_code == 403
    assert shadow.pool.wait_idle(10)
    [diff] = m.ShadowDiff.objects.all()  # Ida is no superuser here; the stand-in answers anyone
    assert (diff.member_legacy_id, diff.kind, diff.field) == (IDA, "expected", "status")
    assert diff.path == "/v1/admin/credit_loops?token=%5Bredacted%5D"
    stored = " ".join(str(v) for v in m.ShadowDiff.objects.values().get().values())
    assert token not in stored and "Bearer" not in stored
    assert upstream.requests[1]["headers"]["authorization"] == f"Bearer {token}"  # Rails got the same request
    assert upstream.requests[1]["query"] == "token=x"


def test_kept_answers_are_compared_too(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens, transactional_db: None, settings: Any
) -> None:
    settings.LEGACY_API_CACHE_ANSWERS = 100
    phase.move(Phase.SHADOW)
    api, ida = Client(), bearer(tokens.v1(IDA))
    first = api.get("/v1/trustlines", headers=ida)
    second = api.get("/v1/trustlines", headers=ida)
    assert first.content == second.content
    assert shadow.pool.wait_idle(10)
    assert [r["path"] for r in upstream.requests] == ["/v1/trustlines", "/v1/trustlines"]


def test_rails_unreachable_is_an_error_row_and_the_member_is_answered(
    imported: dict[int, m.Member], tokens: Tokens, transactional_db: None, settings: Any
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.LEGACY_UPSTREAM_URL = f"http://127.0.0.1:{port}"
    settings.LEGACY_CUTOVER_PHASE_SECONDS = 0
    phase.move(Phase.SHADOW)
    answer = Client().get("/v1/trustlines/2", headers=bearer(tokens.v1(IDA)))
    assert answer.status_code == 200 and answer.json()["id"] == 2
    assert shadow.pool.wait_idle(10)
    [diff] = m.ShadowDiff.objects.all()
    assert diff.kind == "error" and "could not be asked" in diff.detail and diff.rails_status is None
    phase.forget()


def test_the_diff_log_in_the_admin_is_read_only_and_filters(admin_client: Client, db: None) -> None:
    common = {"method": "GET", "ours_status": 200, "ours_body": "{}"}
    m.ShadowDiff.objects.create(kind="mismatch", route="trustline", path="/v1/trustlines/2", member_legacy_id=2,
                                field="$.current_balance", **common)  # fmt: skip
    m.ShadowDiff.objects.create(kind="expected", route="admin-credit-loops", path="/v1/admin/credit_loops",
                                member_legacy_id=1, field="$.credloops[0]", **common)  # fmt: skip
    url = "/admin/migration/shadowdiff/"
    page = admin_client.get(url, {"kind": "mismatch"})
    assert page.status_code == 200
    assert b"/v1/trustlines/2" in page.content and b"/v1/admin/credit_loops" not in page.content
    by_route = admin_client.get(url, {"route": "admin-credit-loops"})
    assert b"/v1/admin/credit_loops" in by_route.content and b"/v1/trustlines/2" not in by_route.content
    by_member = admin_client.get(url, {"member_legacy_id": "2"})
    assert b"/v1/trustlines/2" in by_member.content and b"/v1/admin/credit_loops" not in by_member.content
    assert admin_client.get(url + "add/").status_code == 403
    diff = m.ShadowDiff.objects.get(kind="mismatch")
    detail = admin_client.get(f"{url}{diff.pk}/change/")
    assert detail.status_code == 200 and b"$.current_balance" in detail.content
    assert admin_client.post(f"{url}{diff.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/migration/cutoverstate/").status_code == 200
    assert admin_client.get("/admin/migration/cutoverevent/").status_code == 200


def test_find_path_is_compared_with_the_same_body(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens, transactional_db: None
) -> None:
    phase.move(Phase.SHADOW)
    body = b'{"to_user_id": 6, "amount": 5}'
    answer = Client().post("/v1/trustlines/find_path", body, content_type="application/json",
                           headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert answer.status_code == 200 and "path_found" in answer.json()  # answered here
    assert shadow.pool.wait_idle(10)
    [seen] = upstream.requests
    assert (seen["method"], seen["path"], seen["body_sha256"]) == (
        "POST", "/v1/trustlines/find_path", hashlib.sha256(body).hexdigest()
    )  # fmt: skip
    [diff] = m.ShadowDiff.objects.all()  # the stand-in does not serve it: Rails' 404
    assert (diff.route, diff.field, diff.rails_status) == ("trustlines-find-path", "status", 404)


def test_a_secret_in_the_query_never_lands_in_a_timeout_row_or_the_log(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens, transactional_db: None,
    caplog: pytest.LogCaptureFixture, settings: Any,
) -> None:  # fmt: skip
    phase.move(Phase.SHADOW)
    upstream.slow_seconds = 2
    api = Client()
    assert api.get("/v1/pending_payments?access_token=s3cr3t", headers=bearer(tokens.v1(IDA))).status_code == 200
    assert shadow.pool.wait_idle(10)
    [diff] = m.ShadowDiff.objects.all()
    assert diff.kind == "timeout"
    stored = " ".join(str(v) for v in m.ShadowDiff.objects.values().get().values())
    assert "s3cr3t" not in stored
    upstream.slow_seconds = 0
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"  # Rails down: the pass-through logs why
    assert api.get("/v1/users/password/edit?reset_password_token=s3cr3t").status_code == 502
    assert "legacy upstream: Rails could not be asked GET /v1/users/password/edit" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_rollback_given_up_before_its_export_switches_back_without_an_import(db: None, settings: Any) -> None:
    """Frozen from switched, Rails has written nothing since the final catch-up, so switching back
    needs no new one; and an import then would mirror Rails' rows over the writes made here
    (docs/cutover.md §6)."""
    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    phase.move(Phase.SHADOW)
    phase.move(Phase.FROZEN)
    m.ImportRun.objects.create(source="catch-up", status=m.ImportRun.Status.FINISHED)
    first = phase.move(Phase.SWITCHED).switched_at
    phase.move(Phase.FROZEN)  # cutover rollback, stopped before its export
    again = phase.move(Phase.SWITCHED)
    assert again.phase == Phase.SWITCHED
    assert again.switched_at == first  # a later export still starts from the first switch


def test_status_counts_the_diffs_since_the_final_catch_up(db: None, settings: Any) -> None:
    """Between the freeze and the final catch-up, Rails' writes since the last cron run are
    mismatches the catch-up clears (docs/cutover.md §2); §5 asks for none after it."""
    from django.utils import timezone

    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    phase.move(Phase.SHADOW)
    phase.move(Phase.FROZEN)
    common = {"method": "GET", "route": "trustline", "path": "/v1/trustlines/2", "ours_status": 200}
    m.ShadowDiff.objects.create(kind="mismatch", field="$.current_balance", **common)
    m.ImportRun.objects.create(source="catch-up", status=m.ImportRun.Status.FINISHED, finished_at=timezone.now())
    assert "shadow diffs since the final catch-up" in run("status") and run("status").endswith("none\n")
    m.ShadowDiff.objects.create(kind="expected", field="$.credloops[0]", **common)
    assert '{"expected": 1}' in run("status")


def test_a_difference_spanning_a_whole_answer_is_kept_bounded(upstream: StandInRails, transactional_db: None) -> None:
    """The diff row keeps 256 KiB of each answer; a difference at ``$`` must not carry the whole
    parsed answer beside it (bounded resources)."""
    ours = json.dumps([{"n": i, "text": "x" * 100} for i in range(10000)]).encode()  # ~1.2 MB
    job = shadow.Job(route="trustlines", method="GET", full_path="/v1/trustlines", headers=[], body=b"",
                     token=None, ours_status=200, ours_body=ours)  # fmt: skip
    diff = shadow.run(job)  # no token: Rails' 404
    assert diff is not None and diff.field == "status"
    assert len(json.dumps(diff.differences)) < 64 * 1024
    assert [d["path"] for d in diff.differences] == ["status", "$"]


def test_rails_writes_again_only_once_the_export_has_seen_every_state_written_here(
    imported: dict[int, m.Member], settings: Any
) -> None:
    """A rollback's last move waits for what still arrives while frozen: a member's answer to a
    proposal made before the freeze (its state lands after the export began), a route finishing."""
    import datetime as dt

    from django.utils import timezone

    from foaf.ledger.models import PendingProposal, Relationship, StateEntry

    settings.LEGACY_UPSTREAM_URL = "http://127.0.0.1:9"
    settings.LEGACY_CUTOVER_PHASE_SECONDS = 0
    settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS = 0
    newest = StateEntry.objects.order_by("-recorded_at").values_list("recorded_at", flat=True).first()
    assert newest is not None
    switched = newest - dt.timedelta(minutes=10)
    # Switched, then frozen for the rollback; the last export began before the newest state.
    m.CutoverState.objects.create(
        pk=1, phase=Phase.FROZEN, switched_at=switched, frozen_at=switched + dt.timedelta(minutes=1),
        exported_at=newest - dt.timedelta(seconds=1),
    )  # fmt: skip
    with pytest.raises(errors.PhaseTransitionRefused) as refused:
        phase.move(Phase.SHADOW)
    assert refused.value.code == "written_after_export"
    # A proposal made here since the switch still waits for its answer: its state may yet land.
    rel = Relationship.objects.first()
    assert rel is not None
    waiting = PendingProposal.objects.create(
        relationship=rel, seq=rel.head_seq + 1, state_hash="ab" * 32, proposer="a", canonical="{}",
        proposer_sig="cd" * 64, deadline=timezone.now() + dt.timedelta(days=7),
    )  # fmt: skip
    m.CutoverState.objects.filter(pk=1).update(exported_at=timezone.now())
    with pytest.raises(errors.PhaseTransitionRefused) as refused:
        phase.move(Phase.SHADOW)
    assert refused.value.code == "proposals_open"
    assert phase.state().phase == Phase.FROZEN
    PendingProposal.objects.filter(pk=waiting.pk).update(status="expired", resolved_at=timezone.now())
    assert phase.move(Phase.SHADOW).phase == Phase.SHADOW  # every state seen by the export: Rails writes again
