"""Anchor requests, batches, the local backend's log, the API and verify_anchor, on the database."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client

from anchoring import services
from anchoring.backends import LocalBackend, Outcome, Status
from anchoring.merkle import ZERO_HASH, local_entry_hash, verify_proof
from anchoring.models import AnchorBatch, AnchorRequest, Inclusion, LocalLogEntry
from foaf import bilateral as core
from foaf.errors import ApiError, ErrorCode
from foaf.ledger import services as ledger
from foaf.ledger.models import Party, Relationship, StateEntry
from relay.protocol.auth import sign_http_request

NOW = 1_790_000_000


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings: Any) -> None:
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex


def pair(states: int = 3) -> Relationship:
    a = ledger.party_create_with_held_key(display_name="a")
    b = ledger.party_create_with_held_key(display_name="b")
    rel = ledger.relationship_open_custodial(a, b, limit_a_to_b=10_000, limit_b_to_a=10_000, currency="CAD", now=NOW)
    for i in range(1, states):
        ledger.update_custodial(rel, core.Payment("a", 10 * i), proposer="a", now=NOW + i, nonce=f"{i:032x}")
    rel.refresh_from_db()
    return rel


def request_all(rel: Relationship, party: Party | None = None) -> list[AnchorRequest]:
    party = party or rel.party_a
    return [services.anchor_request_create(party=party, relationship=rel, seq=s)[0] for s in range(rel.head_seq + 1)]


@pytest.mark.django_db
def test_a_request_is_idempotent_and_takes_the_state_hash_from_the_ledger() -> None:
    rel = pair()
    first, created = services.anchor_request_create(party=rel.party_b, relationship=rel, seq=1)
    again, created_again = services.anchor_request_create(party=rel.party_b, relationship=rel, seq=1)
    assert (created, created_again, first.pk) == (True, False, again.pk)
    assert first.state_hash == StateEntry.objects.get(relationship=rel, seq=1).state_hash


@pytest.mark.django_db
def test_only_a_party_may_ask_and_only_for_a_stored_state() -> None:
    rel, other = pair(), pair(1)
    with pytest.raises(ApiError) as caught:
        services.anchor_request_create(party=other.party_a, relationship=rel, seq=0)
    assert caught.value.error_code is ErrorCode.ANCHOR_NOT_A_PARTY
    with pytest.raises(ApiError) as caught:
        services.anchor_request_create(party=rel.party_a, relationship=rel, seq=9)
    assert caught.value.error_code is ErrorCode.ANCHOR_UNKNOWN_STATE


@pytest.mark.django_db
def test_a_run_batches_every_pending_request_and_each_proof_verifies_against_the_local_log() -> None:
    rel, rel2 = pair(4), pair(2)
    rows = request_all(rel) + request_all(rel2, rel2.party_b)
    summary = services.anchors_process(backend=LocalBackend())
    assert (summary.built, summary.committed, summary.unfinished) == (1, 1, 0)
    batch = AnchorBatch.objects.get()
    assert (batch.status, batch.leaf_count, batch.intent_id) == ("committed", 6, f"local:batch-{batch.pk}:{batch.root}")
    entry = LocalLogEntry.objects.get()
    assert (entry.seq, entry.root, entry.prev_hash) == (0, batch.root, ZERO_HASH)
    for row in rows:
        row.refresh_from_db()
        proof = services.proof_for(row)
        got = verify_proof(proof)
        assert (got.leaf.channel, got.leaf.seq, got.leaf.state_hash) == (
            row.relationship.channel_id,
            row.seq,
            row.state_hash,
        )
        assert proof["anchor"] == {"backend": "local", "entry": 0, "entry_hash": entry.entry_hash}
    assert services.anchors_process(backend=LocalBackend()).built == 0
    assert LocalLogEntry.objects.count() == 1


@pytest.mark.django_db
def test_batches_are_capped_and_the_local_log_chains_them() -> None:
    rel = pair(5)
    request_all(rel)
    summary = services.anchors_process(backend=LocalBackend(), max_leaves=2)
    assert (summary.built, summary.committed) == (3, 3)
    prev = ZERO_HASH
    for i, e in enumerate(LocalLogEntry.objects.order_by("seq")):
        assert (e.seq, e.prev_hash) == (i, prev)
        assert e.entry_hash == local_entry_hash(seq=e.seq, root=e.root, prev=e.prev_hash)
        prev = e.entry_hash
    assert sorted(AnchorBatch.objects.values_list("leaf_count", flat=True)) == [1, 2, 2]


@pytest.mark.django_db
def test_a_proof_before_the_batch_is_committed_is_refused_with_not_ready() -> None:
    rel = pair(1)
    (row,) = request_all(rel)
    with pytest.raises(ApiError) as caught:
        services.proof_for(row)
    assert caught.value.error_code is ErrorCode.ANCHOR_NOT_READY


class Crashing(LocalBackend):
    """Dies after the root reached the log, before its status is read (a worker killed there)."""

    def __init__(self, *, crash_on_submit: bool = False) -> None:
        self.crash_on_submit = crash_on_submit
        self.status_calls = 0

    def submit(self, intent: str, root: str) -> None:
        if self.crash_on_submit:
            raise ConnectionError("the backend went away before the root arrived")
        super().submit(intent, root)
        raise SystemExit("killed between submit and status")

    def status(self, intent: str) -> Status:
        self.status_calls += 1
        return super().status(intent)


@pytest.mark.django_db
def test_a_worker_killed_between_submit_and_status_is_finished_by_the_next_run_without_a_second_entry() -> None:
    rows = request_all(pair(3))
    with pytest.raises(SystemExit):
        services.anchors_process(backend=Crashing())
    batch = AnchorBatch.objects.get()
    assert batch.status == "pending" and batch.intent_id is not None
    assert LocalLogEntry.objects.filter(intent_id=batch.intent_id).count() == 1
    summary = services.anchors_process(backend=LocalBackend())
    assert (summary.built, summary.committed) == (0, 1)
    assert LocalLogEntry.objects.count() == 1
    for row in rows:
        row.refresh_from_db()
        assert row.status == "anchored"
        verify_proof(services.proof_for(row))


@pytest.mark.django_db
def test_the_intent_is_recorded_before_submission_so_a_failed_submit_is_retried_under_it() -> None:
    request_all(pair(2))
    with pytest.raises(ConnectionError):
        services.anchors_process(backend=Crashing(crash_on_submit=True))
    batch = AnchorBatch.objects.get()
    intent = batch.intent_id
    assert intent is not None and batch.status == "pending" and not LocalLogEntry.objects.exists()
    services.anchors_process(backend=LocalBackend())
    batch.refresh_from_db()
    assert (batch.status, batch.intent_id) == ("committed", intent)
    assert LocalLogEntry.objects.get().intent_id == intent


@pytest.mark.django_db
def test_a_second_submit_of_one_intent_appends_nothing() -> None:
    backend = LocalBackend()
    backend.submit("local:x:" + "ab" * 32, "ab" * 32)
    backend.submit("local:x:" + "ab" * 32, "ab" * 32)
    assert LocalLogEntry.objects.count() == 1
    assert backend.status("local:x:" + "ab" * 32).outcome is Outcome.COMMITTED
    assert backend.status("local:y").outcome is Outcome.UNKNOWN


@pytest.mark.django_db
def test_the_database_keeps_the_local_log_append_only_and_linked() -> None:
    backend = LocalBackend()
    backend.submit("i1", "11" * 32)
    entry = LocalLogEntry.objects.get()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        LocalLogEntry.objects.filter(pk=entry.pk).update(root="22" * 32)
    bad_prev = "33" * 32
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        root = "44" * 32
        entry_hash = local_entry_hash(seq=1, root=root, prev=bad_prev)
        LocalLogEntry.objects.create(seq=1, root=root, prev_hash=bad_prev, entry_hash=entry_hash, intent_id="i2")
    assert LocalLogEntry.objects.get().root == "11" * 32


@pytest.mark.django_db
def test_postgresql_refuses_to_delete_a_local_log_entry() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps no delete guard (Django's test flush deletes rows there)")
    LocalBackend().submit("i1", "11" * 32)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        LocalLogEntry.objects.all().delete()


# --- the API --------------------------------------------------------------------------------------


def signed_call(client: Client, party: Party, method: str, path: str, payload: Any = None) -> Any:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = sign_http_request(
        ledger.party_signer(party), method=method, path=path, body=body, relay="http://testserver", now=int(time.time())
    )
    if method == "POST":
        return client.post(path, data=body, content_type="application/json", headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.django_db
def test_a_party_asks_over_the_api_and_gets_a_proof_once_its_batch_is_committed(tmp_path: Path) -> None:
    rel = pair(2)
    client = Client()
    r = signed_call(client, rel.party_b, "POST", "/api/anchoring/v1/requests", {"channel": rel.channel_id, "seq": 1})
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    again = signed_call(
        client, rel.party_b, "POST", "/api/anchoring/v1/requests", {"channel": rel.channel_id, "seq": 1}
    )
    assert (again.status_code, again.json()["id"]) == (200, rid)
    early = signed_call(client, rel.party_b, "GET", f"/api/anchoring/v1/requests/{rid}/proof")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "anchor_not_ready")
    services.anchors_process(backend=LocalBackend())
    status = signed_call(client, rel.party_b, "GET", f"/api/anchoring/v1/requests/{rid}")
    assert status.json()["status"] == "anchored"
    proof = signed_call(client, rel.party_b, "GET", f"/api/anchoring/v1/requests/{rid}/proof").json()
    assert verify_proof(proof).leaf.seq == 1
    theirs = signed_call(client, rel.party_a, "GET", f"/api/anchoring/v1/requests/{rid}/proof")
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")

    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    call_command("verify_anchor", str(path))


@pytest.mark.django_db
def test_the_api_refuses_unsigned_requests_strangers_and_unknown_states() -> None:
    rel, stranger = pair(1), pair(1)
    client = Client()
    unsigned = client.post("/api/anchoring/v1/requests", data={"channel": rel.channel_id, "seq": 0})
    assert unsigned.json()["error"]["code"] == "auth_required"
    other = signed_call(
        client, stranger.party_a, "POST", "/api/anchoring/v1/requests", {"channel": rel.channel_id, "seq": 0}
    )
    assert (other.status_code, other.json()["error"]["code"]) == (403, "anchor_not_a_party")
    missing = signed_call(
        client, rel.party_a, "POST", "/api/anchoring/v1/requests", {"channel": rel.channel_id, "seq": 5}
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "anchor_unknown_state")
    bad = signed_call(client, rel.party_a, "POST", "/api/anchoring/v1/requests", {"channel": "xy", "seq": 0})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_request")


# --- verify_anchor ----------------------------------------------------------------------------------


@pytest.fixture
def anchored_proof(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    rows = request_all(pair(3))
    services.anchors_process(backend=LocalBackend())
    rows[1].refresh_from_db()
    return services.proof_for(rows[1]), tmp_path / "proof.json"


def run_verify(proof: dict[str, Any], path: Path) -> tuple[int, str]:
    path.write_text(json.dumps(proof))
    try:
        call_command("verify_anchor", str(path))
    except CommandError as e:
        return e.returncode, str(e)
    return 0, ""


@pytest.mark.django_db
def test_verify_anchor_accepts_an_anchored_proof(anchored_proof: tuple[dict[str, Any], Path], capsys: Any) -> None:
    proof, path = anchored_proof
    assert run_verify(proof, path) == (0, "")
    out = json.loads(capsys.readouterr().out)
    assert (out["valid"], out["seq"], out["anchored"]) == (True, 1, "local log entry 0")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda p: p["leaf"].__setitem__("seq", 2), "proof_leaf_hash_mismatch"),
        (lambda p: p.__setitem__("root", "ab" * 32), "proof_root_mismatch"),
        (lambda p: p["anchor"].__setitem__("entry", 3), "anchor_unknown_entry"),
        (lambda p: p["anchor"].__setitem__("entry_hash", "cd" * 32), "anchor_entry_hash_mismatch"),
        (lambda p: p.pop("anchor"), "anchor_missing"),
        (lambda p: p["anchor"].__setitem__("backend", "radix"), "anchor_malformed"),
        (lambda p: p["anchor"].__setitem__("backend", "bitcoin"), "anchor_backend_unsupported"),
    ],
)
def test_verify_anchor_refuses_a_tampered_proof_or_anchor(
    anchored_proof: tuple[dict[str, Any], Path], tamper: Any, code: str
) -> None:
    proof, path = anchored_proof
    tamper(proof)
    status, message = run_verify(proof, path)
    assert status == 1 and message.startswith(code), message


@pytest.mark.django_db
def test_verify_anchor_refuses_a_root_that_is_not_in_this_log(anchored_proof: tuple[dict[str, Any], Path]) -> None:
    proof, path = anchored_proof
    LocalBackend().submit("other", "ee" * 32)
    proof["anchor"] = {"backend": "local", "entry": 1, "entry_hash": LocalLogEntry.objects.get(seq=1).entry_hash}
    status, message = run_verify(proof, path)
    assert status == 1 and message.startswith("anchor_root_mismatch"), message


# --- a real worker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_urgent_request_is_anchored_at_once_by_a_real_worker(celery_worker: Any) -> None:
    rel = pair(2)
    row, _ = services.anchor_request_create(party=rel.party_a, relationship=rel, seq=1, urgent=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if row.status == "anchored":
            break
        time.sleep(0.2)
    assert row.status == "anchored", celery_worker.output()
    verify_proof(services.proof_for(row))


@pytest.mark.django_db(transaction=True)
def test_two_workers_batching_at_once_never_put_a_request_in_two_batches() -> None:
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them with 'database is locked')")
    rows = [r for _ in range(4) for r in request_all(pair(6))]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work() -> None:
        try:
            start.wait()
            for _ in range(5):
                services.anchors_process(backend=LocalBackend(), max_leaves=3)
        except BaseException as e:
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(Inclusion.objects.values_list("request_id", flat=True)) == sorted(r.pk for r in rows)
    assert AnchorBatch.objects.exclude(status="committed").count() == 0
    assert LocalLogEntry.objects.count() == AnchorBatch.objects.count()
    for row in rows:
        row.refresh_from_db()
        verify_proof(services.proof_for(row))
