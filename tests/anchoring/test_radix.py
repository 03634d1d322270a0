"""The radix backend end to end against a local stand-in for the Babylon Gateway (tests/anchoring/
gateway.py), which decodes and checks every transaction it receives: anchoring, proofs verified
through the stand-in, rejections, refusals, failures, expiry, timeouts, 5xx, crashes and a worker
killed with -9 between submission and status."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import radix_engine_toolkit as ret
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from anchoring import services
from anchoring.merkle import verify_proof
from anchoring.models import AnchorBatch, AnchorRequest, RadixTransaction
from anchoring.radix import (
    AnchorCheckError,
    GatewayClient,
    GatewayError,
    RadixKey,
    build_anchor_transaction,
    verify_radix_anchor,
)
from anchoring.radix_backend import RadixBackend
from tests.anchoring.gateway import FEE_PAID, GatewayStandIn
from tests.anchoring.test_anchoring import pair, request_all

SEED = bytes(range(100, 132))


@pytest.fixture
def gateway() -> Iterator[GatewayStandIn]:
    stand_in = GatewayStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(autouse=True)
def radix(settings: Any, gateway: GatewayStandIn) -> None:
    settings.ANCHOR_BACKEND = "radix"
    settings.ANCHOR_RADIX_NETWORK = "stokenet"
    settings.ANCHOR_RADIX_GATEWAY_URL = gateway.url
    settings.ANCHOR_RADIX_KEY = SEED
    settings.ANCHOR_RADIX_SEALED_KEY_FILE = ""
    settings.ANCHOR_RADIX_POLL_SECONDS = 2
    settings.ANCHOR_RADIX_TIMEOUT_SECONDS = 0.5
    settings.ANCHOR_RADIX_MAX_BACKOFF_SECONDS = 0
    settings.ANCHOR_RADIX_MAX_ATTEMPTS = 3
    settings.ANCHOR_RADIX_EPOCH_WINDOW = 10
    settings.RELAY_RATE_NAMESPACE = f"radix-{time.monotonic_ns()}"


def run() -> services.RunSummary:
    return services.anchors_process(backend=RadixBackend())


def anchored(rows: list[AnchorRequest]) -> list[dict[str, Any]]:
    proofs = []
    for row in rows:
        row.refresh_from_db()
        assert row.status == "anchored"
        proofs.append(services.proof_for(row))
    return proofs


def verify_command(proof: dict[str, Any], path: Path, *extra: str) -> tuple[int, str]:
    path.write_text(json.dumps(proof))
    try:
        call_command("verify_anchor", str(path), *extra)
    except CommandError as e:
        return e.returncode, str(e)
    return 0, ""


# --- end to end ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_batched_submitted_polled_and_anchored_and_the_proofs_verify_through_the_gateway(
    gateway: GatewayStandIn, tmp_path: Path, capsys: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    rel, rel2 = pair(3), pair(2)
    rows = request_all(rel) + request_all(rel2, rel2.party_b)
    summary = run()
    assert (summary.built, summary.committed, summary.unfinished) == (1, 1, 0)
    batch = AnchorBatch.objects.get()
    tx = RadixTransaction.objects.get()
    assert (batch.status, batch.backend, batch.intent_id, batch.tx_id) == (
        "committed",
        "radix",
        tx.intent_hash,
        tx.intent_hash,
    )
    assert tx.intent_hash.startswith("txid_tdx_2_1")
    assert (tx.status, tx.fee_paid, tx.root, tx.network_id) == ("committed", FEE_PAID, batch.root, 2)
    assert tx.end_epoch - tx.start_epoch == 10 and tx.start_epoch == gateway.epoch
    assert gateway.problems == []
    assert gateway.intents() == {tx.intent_hash}
    assert [t.intent_hash for t in gateway.committed()] == [tx.intent_hash]
    statuses = [b for p, b in gateway.requests if p == "/transaction/status"]
    assert len(statuses) >= 2  # pending once, then committed: it polled
    proofs = anchored(rows)
    for proof in proofs:
        assert proof["anchor"] == {"backend": "radix", "network_id": 2, "intent_hash": tx.intent_hash}
        decoded = verify_radix_anchor(proof["anchor"], verify_proof(proof).root, gateway_url=gateway.url)
        assert decoded.message_root == batch.root
    assert verify_command(proofs[1], tmp_path / "proof.json", "--gateway", gateway.url) == (0, "")
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True and tx.intent_hash in out["anchored"]
    # the configured Gateway is the default when it serves the anchor's network
    assert verify_command(proofs[0], tmp_path / "proof.json") == (0, "")
    # nothing more to do, and the key never reached a log
    assert run().built == 0 and gateway.intents() == {tx.intent_hash}
    assert SEED.hex() not in caplog.text and SEED.hex() not in repr(RadixBackend().key)


@pytest.mark.django_db
def test_the_transaction_locks_the_fee_from_the_keys_account_and_carries_the_root() -> None:
    request_all(pair(1))
    run()
    tx = RadixTransaction.objects.get()
    decoded = ret.NotarizedTransactionV1.from_payload_bytes(bytes.fromhex(tx.payload_hex))
    intent = decoded.signed_intent().intent()
    account = RadixKey(SEED, 2).account
    manifest = intent.manifest().instructions().as_str()
    assert account in manifest and '"lock_fee"' in manifest and 'Decimal("10")' in manifest
    assert intent.header().notary_is_signatory is True
    assert bytes(intent.message().value.message.value).hex() == tx.root
    assert decoded.intent_hash().as_str() == tx.intent_hash


# --- rejections, failures, expiry: a clear state and a new intent --------------------------------


@pytest.mark.django_db
def test_a_permanently_rejected_transaction_fails_and_the_next_run_anchors_the_root_under_a_new_intent(
    gateway: GatewayStandIn,
) -> None:
    rows = request_all(pair(2))
    gateway.behaviour.reject = 1
    summary = run()
    assert (summary.committed, summary.unfinished) == (0, 1)
    batch = AnchorBatch.objects.get()
    first = RadixTransaction.objects.get()
    assert (batch.status, batch.intent_id) == ("pending", None)
    assert first.status == "failed" and first.error.startswith("PermanentlyRejected")
    assert {r.status for r in AnchorRequest.objects.all()} == {"batched"}
    assert run().committed == 1
    batch.refresh_from_db()
    second = RadixTransaction.objects.exclude(pk=first.pk).get()
    assert (batch.status, batch.intent_id, second.status) == ("committed", second.intent_hash, "committed")
    assert second.root == first.root and second.intent_hash != first.intent_hash
    assert gateway.intents() == {first.intent_hash, second.intent_hash}
    assert all(p["anchor"]["intent_hash"] == second.intent_hash for p in anchored(rows))


@pytest.mark.django_db
def test_a_transaction_committed_as_a_failure_is_failed_with_its_fee_and_retried_under_a_new_intent(
    gateway: GatewayStandIn,
) -> None:
    request_all(pair(1))
    gateway.behaviour.fail = 1
    run()
    failed = RadixTransaction.objects.get()
    assert (failed.status, failed.fee_paid) == ("failed", FEE_PAID)
    assert failed.error.startswith("CommittedFailure")
    assert run().committed == 1
    assert RadixTransaction.objects.filter(status="committed").count() == 1


@pytest.mark.django_db
def test_a_batch_fails_for_good_after_the_configured_number_of_attempts(gateway: GatewayStandIn, settings: Any) -> None:
    rows = request_all(pair(2))
    settings.ANCHOR_RADIX_MAX_ATTEMPTS = 2
    gateway.behaviour.reject = 5
    run()
    run()
    batch = AnchorBatch.objects.get()
    assert batch.status == "failed"
    assert {r.status for r in AnchorRequest.objects.filter(pk__in=[r.pk for r in rows])} == {"failed"}
    assert RadixTransaction.objects.filter(status="failed").count() == 2
    run()
    assert len(gateway.intents()) == 2  # nothing more is sent


@pytest.mark.django_db
def test_a_refused_submission_is_never_resent_and_is_replaced_only_once_past_its_end_epoch(
    gateway: GatewayStandIn,
) -> None:
    request_all(pair(1))
    gateway.behaviour.refuse_submits = 1
    run()
    first = RadixTransaction.objects.get()
    assert first.status == "refused" and "InvalidTransactionError" in first.error
    run()
    run()
    assert RadixTransaction.objects.count() == 1 and gateway.submissions == [first.intent_hash]
    gateway.advance_epoch(first.end_epoch - gateway.epoch)
    run()  # the Gateway's ledger is at its end epoch: it can never commit, a new intent next time
    first.refresh_from_db()
    assert first.status == "failed" and first.error.startswith("expired")
    assert run().committed == 1
    assert RadixTransaction.objects.filter(status="committed").count() == 1


@pytest.mark.django_db
def test_a_pending_transaction_is_never_replaced_until_it_expires(gateway: GatewayStandIn) -> None:
    rows = request_all(pair(2))
    gateway.behaviour.hold = True
    for _ in range(3):
        summary = run()
        assert (summary.committed, summary.unfinished) == (0, 1)
    first = RadixTransaction.objects.get()
    assert first.status == "submitted" and first.checks >= 1
    assert gateway.intents() == {first.intent_hash}  # the same root was never posted twice
    gateway.advance_epoch(10)  # its window passes: the Gateway reports it rejected (expired)
    run()
    first.refresh_from_db()
    assert first.status == "failed" and "expired" in first.error
    gateway.release()
    assert run().committed == 1
    assert len(gateway.intents()) == 2 and len(gateway.committed()) == 1
    anchored(rows)


# --- timeouts, 5xx, crashes ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_submission_that_times_out_is_found_on_the_next_run_and_not_sent_under_another_intent(
    gateway: GatewayStandIn,
) -> None:
    rows = request_all(pair(2))
    gateway.behaviour.slow["/transaction/submit"] = 3  # every attempt of this run times out
    summary = run()
    assert (summary.committed, summary.unfinished) == (0, 1)
    tx = RadixTransaction.objects.get()
    assert (tx.status, tx.gateway_failures) == ("prepared", 1)
    assert AnchorBatch.objects.get().intent_id == tx.intent_hash
    assert run().committed == 1  # it had arrived: the status says so, nothing is resubmitted
    assert gateway.intents() == {tx.intent_hash}
    assert gateway.submissions == [tx.intent_hash] * 3
    anchored(rows)


@pytest.mark.django_db
def test_a_gateway_not_synced_up_or_timing_out_is_retried_later(gateway: GatewayStandIn) -> None:
    rows = request_all(pair(1))
    gateway.behaviour.server_errors["/transaction/construction"] = 3
    assert run().unfinished == 1
    batch = AnchorBatch.objects.get()
    assert (batch.status, batch.intent_id) == ("pending", None) and not RadixTransaction.objects.exists()
    gateway.behaviour.server_errors["/transaction/status"] = 3
    assert run().unfinished == 1
    tx = RadixTransaction.objects.get()
    assert tx.gateway_failures == 1 and "500" in tx.error
    gateway.behaviour.slow["/transaction/status"] = 3
    assert run().unfinished == 1
    assert run().committed == 1
    assert len(gateway.intents()) == 1
    anchored(rows)


@pytest.mark.django_db
def test_backoff_holds_the_next_status_read_back(gateway: GatewayStandIn, settings: Any) -> None:
    request_all(pair(1))
    settings.ANCHOR_RADIX_MAX_BACKOFF_SECONDS = 600
    gateway.behaviour.server_errors["/transaction/status"] = 3
    run()
    tx = RadixTransaction.objects.get()
    assert tx.next_check_at is not None
    reads = sum(p == "/transaction/status" for p, _ in gateway.requests)
    run()
    assert sum(p == "/transaction/status" for p, _ in gateway.requests) == reads  # not asked before next_check_at
    RadixTransaction.objects.update(next_check_at=None)
    assert run().committed == 1


class KilledAfterSubmit(RadixBackend):
    """Dies after the Gateway took the transaction, before its status is read."""

    def submit(self, intent: str, root: str) -> None:
        super().submit(intent, root)
        raise SystemExit("killed between submit and status")


class KilledInsideSubmit(RadixBackend):
    """Dies after the Gateway took it but before the row says so."""

    def submit(self, intent: str, root: str) -> None:
        row = RadixTransaction.objects.get(intent_hash=intent)
        self.client.submit(bytes.fromhex(row.payload_hex))
        raise SystemExit("killed while submitting")


@pytest.mark.django_db
@pytest.mark.parametrize("killed", [KilledAfterSubmit, KilledInsideSubmit])
def test_a_worker_killed_between_submit_and_status_neither_loses_nor_duplicates_the_anchor(
    gateway: GatewayStandIn, killed: type[RadixBackend]
) -> None:
    rows = request_all(pair(3))
    with pytest.raises(SystemExit):
        services.anchors_process(backend=killed())
    batch = AnchorBatch.objects.get()
    assert batch.status == "pending" and batch.intent_id is not None
    assert run().committed == 1
    assert gateway.intents() == {batch.intent_id} and gateway.submissions == [batch.intent_id]
    assert RadixTransaction.objects.count() == 1
    anchored(rows)


@pytest.mark.django_db
def test_a_batch_whose_recorded_transaction_was_never_sent_and_expired_gets_a_new_intent(
    gateway: GatewayStandIn,
) -> None:
    request_all(pair(1))

    class KilledBeforeSubmit(RadixBackend):
        def submit(self, intent: str, root: str) -> None:
            raise SystemExit("killed before submitting")

    with pytest.raises(SystemExit):
        services.anchors_process(backend=KilledBeforeSubmit())
    gateway.advance_epoch(20)
    run()  # Unknown, and past its end epoch: it can never commit, and it does not count as an attempt
    assert RadixTransaction.objects.get().status == "failed"
    assert run().committed == 1
    assert len(gateway.intents()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_killed_with_9_during_submission_neither_loses_nor_duplicates_the_anchor(
    gateway: GatewayStandIn, project_env: dict[str, str]
) -> None:
    import threading

    from anchoring.tasks import anchor_pending
    from tests.conftest import database_url_for_subprocess
    from tests.workers import WorkerProcess

    project_env.update(
        {
            "FOAF_ANCHOR_BACKEND": "radix",
            "FOAF_ANCHOR_RADIX_GATEWAY_URL": gateway.url,
            "FOAF_ANCHOR_RADIX_KEY": SEED.hex(),
            "FOAF_ANCHOR_RADIX_POLL_SECONDS": "2",
            "FOAF_ANCHOR_RADIX_MAX_BACKOFF_SECONDS": "1",
            "DATABASE_URL": database_url_for_subprocess(),
        }
    )
    gateway.behaviour.block_submit = threading.Event()
    rel = pair(2)
    first = WorkerProcess(project_env)
    first.start()
    try:
        row, _ = services.anchor_request_create(party=rel.party_a, relationship=rel, seq=1, urgent=True)
        assert gateway.submit_arrived.wait(60), first.output()
        first.kill9()  # the Gateway has the transaction; the worker never heard back
    finally:
        first.stop()
    gateway.behaviour.block_submit.set()
    batch = AnchorBatch.objects.get()
    assert batch.status == "pending" and batch.intent_id is not None
    second = WorkerProcess(project_env)
    second.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            anchor_pending.delay()
            time.sleep(1.5)
            row.refresh_from_db()
            if row.status == "anchored":
                break
        assert row.status == "anchored", second.output()
    finally:
        second.stop()
    assert gateway.intents() == {batch.intent_id} and len(gateway.committed()) == 1
    assert RadixTransaction.objects.count() == 1
    verify_proof(services.proof_for(row))


# --- tampered proofs -------------------------------------------------------------------------------


@pytest.fixture
def radix_proof(gateway: GatewayStandIn) -> dict[str, Any]:
    rows = request_all(pair(3))
    run()
    return anchored(rows)[1]


def _flip(h: str) -> str:
    return ("1" if h[0] == "0" else "0") + h[1:]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda p: p.__setitem__("root", _flip(p["root"])), "proof_root_mismatch"),
        (lambda p: p["path"][0].__setitem__("hash", _flip(p["path"][0]["hash"])), "proof_root_mismatch"),
        (lambda p: p["path"].pop(), "proof_bad_path"),
        (lambda p: p["anchor"].__setitem__("network_id", 1), "anchor_malformed"),
        (lambda p: p["anchor"].__setitem__("intent_hash", "txid_nope"), "anchor_malformed"),
        (lambda p: p["anchor"].__setitem__("extra", 1), "anchor_malformed"),
    ],
)
def test_a_tampered_radix_proof_fails(
    radix_proof: dict[str, Any], gateway: GatewayStandIn, tmp_path: Path, tamper: Any, code: str
) -> None:
    tamper(radix_proof)
    status, message = verify_command(radix_proof, tmp_path / "p.json", "--gateway", gateway.url)
    assert status == 1 and message.startswith(code), message


@pytest.mark.django_db
def test_a_proof_naming_another_transaction_whose_message_holds_another_root_fails(
    radix_proof: dict[str, Any], gateway: GatewayStandIn, tmp_path: Path
) -> None:
    request_all(pair(1))
    run()
    other = RadixTransaction.objects.order_by("-id").first()
    assert other is not None and other.root != radix_proof["root"]
    radix_proof["anchor"]["intent_hash"] = other.intent_hash
    status, message = verify_command(radix_proof, tmp_path / "p.json", "--gateway", gateway.url)
    assert status == 1 and message.startswith("anchor_root_mismatch"), message


@pytest.mark.django_db
def test_a_gateway_serving_a_transaction_with_another_message_is_caught(
    radix_proof: dict[str, Any], gateway: GatewayStandIn, tmp_path: Path
) -> None:
    intent = radix_proof["anchor"]["intent_hash"]
    tx = RadixTransaction.objects.get(intent_hash=intent)
    payload = bytes.fromhex(tx.payload_hex)
    root = bytes.fromhex(tx.root)
    assert payload.count(root) == 1
    gateway.serve_payload[intent] = payload.replace(root, bytes(32))  # the message edited in place
    status, message = verify_command(radix_proof, tmp_path / "p.json", "--gateway", gateway.url)
    assert status == 1 and message.startswith("anchor_tx_mismatch"), message
    # the same transaction re-signed by someone else's key is another intent, and fails the same way
    forged = build_anchor_transaction(RadixKey(bytes(32), 2), bytes(32), epoch=gateway.epoch, window=5, fee_lock="1")
    gateway.serve_payload[intent] = forged.payload
    status, message = verify_command(radix_proof, tmp_path / "p.json", "--gateway", gateway.url)
    assert status == 1 and message.startswith("anchor_tx_mismatch"), message


@pytest.mark.django_db
def test_an_uncommitted_or_unreachable_transaction_does_not_verify(
    radix_proof: dict[str, Any], gateway: GatewayStandIn, tmp_path: Path
) -> None:
    key = RadixKey(SEED, 2)
    never = build_anchor_transaction(key, bytes.fromhex(radix_proof["root"]), epoch=1, window=5, fee_lock="1")
    radix_proof["anchor"]["intent_hash"] = never.intent_hash
    status, message = verify_command(radix_proof, tmp_path / "p.json", "--gateway", gateway.url)
    assert status == 1 and message.startswith("anchor_not_committed"), message
    status, message = verify_command(
        radix_proof, tmp_path / "p.json", "--gateway", "http://127.0.0.1:9", "--timeout", "0.5"
    )
    assert status == 1 and message.startswith("anchor_gateway_unavailable"), message


@pytest.mark.django_db
def test_a_transaction_committed_as_a_failure_does_not_anchor(gateway: GatewayStandIn) -> None:
    request_all(pair(1))
    gateway.behaviour.fail = 1
    run()
    failed = RadixTransaction.objects.get(status="failed")
    anchor = {"backend": "radix", "network_id": 2, "intent_hash": failed.intent_hash}
    with pytest.raises(AnchorCheckError) as caught:
        verify_radix_anchor(anchor, failed.root, gateway_url=gateway.url)
    assert caught.value.code == "anchor_tx_failed"


# --- the stand-in checks what it receives ----------------------------------------------------------


def test_the_stand_in_refuses_what_the_gateway_would_refuse(gateway: GatewayStandIn) -> None:
    client = GatewayClient(gateway.url, timeout=2, attempts=1)
    key = RadixKey(SEED, 2)
    root = bytes(range(32))
    epoch = gateway.epoch

    def refused(payload: bytes) -> str:
        with pytest.raises(GatewayError) as caught:
            client.submit(payload)
        assert (caught.value.status, caught.value.type) == (400, "InvalidTransactionError"), caught.value.body
        assert set(caught.value.body) == {"message", "code", "details", "trace_id"}
        return str(caught.value.body["message"])

    mainnet = build_anchor_transaction(RadixKey(SEED, 1), root, epoch=epoch, window=5, fee_lock="1")
    assert "InvalidNetwork" in refused(mainnet.payload)
    good = build_anchor_transaction(key, root, epoch=epoch, window=5, fee_lock="1")
    forged = bytearray(good.payload)
    forged[-5] ^= 1  # inside the notary signature
    assert "Signature" in refused(bytes(forged))
    assert "not yet close enough" in refused(
        build_anchor_transaction(key, root, epoch=epoch + 2, window=5, fee_lock="1").payload
    )
    assert "no longer valid" in refused(
        build_anchor_transaction(key, root, epoch=epoch - 5, window=5, fee_lock="1").payload
    )
    assert refused(b"garbage")
    with pytest.raises(GatewayError) as caught:
        client.post("/transaction/submit", {"notarized_transaction_hex": ""})
    assert caught.value.type == "InvalidRequestError"
    assert client.submit(good.payload) is False and client.submit(good.payload) is True  # duplicate
    unknown = client.status(build_anchor_transaction(key, root, epoch=epoch, window=6, fee_lock="1").intent_hash)
    assert (unknown["status"], unknown["intent_status"], unknown["known_payloads"]) == ("Unknown", "Unknown", [])
    assert "committed_state_version" not in unknown  # null fields are left out
    with pytest.raises(GatewayError) as caught:
        client.committed_details(good.intent_hash)
    assert (caught.value.status, caught.value.type) == (404, "TransactionNotFoundError")
    assert gateway.problems == []


def test_the_stand_in_notes_a_message_that_is_not_the_root(gateway: GatewayStandIn) -> None:
    key = RadixKey(SEED, 2)
    header = ret.TransactionHeaderV1(2, gateway.epoch, gateway.epoch + 5, 1, key.public_key, True, 0)
    manifest = ret.ManifestV1Builder().faucet_lock_fee().build(2)
    tx = key.notarize(header, manifest, ret.MessageV1.NONE())
    GatewayClient(gateway.url, timeout=2, attempts=1).submit(bytes(tx.to_payload_bytes()))
    assert gateway.problems == [
        "the message is not a binary plaintext message",
        "the manifest does not lock the fee from the notary's account",
    ]


# --- the key ---------------------------------------------------------------------------------------


def test_a_generated_sealed_key_file_is_the_key_the_backend_uses(settings: Any, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "radix-key"
    call_command("anchor_radix_key", "--generate", str(path))
    made = json.loads(capsys.readouterr().out)
    assert path.stat().st_mode & 0o777 == 0o600
    assert made["account"].startswith("account_tdx_2_1") and made["network_id"] == 2
    settings.ANCHOR_RADIX_KEY = None
    settings.ANCHOR_RADIX_SEALED_KEY_FILE = str(path)
    assert RadixBackend().key.account == made["account"]
    call_command("anchor_radix_key")
    assert json.loads(capsys.readouterr().out)["account"] == made["account"]
    with pytest.raises(CommandError):
        call_command("anchor_radix_key", "--generate", str(path))  # never overwritten
    path.write_text("0000:" + "ab" * 72)
    with pytest.raises(ImproperlyConfigured) as caught:
        RadixBackend().key  # noqa: B018 (loading is the point)
    assert "does not unseal" in str(caught.value) or "cannot unseal" in str(caught.value)


def test_the_configured_hex_key_is_shown_by_its_account_only(capsys: Any) -> None:
    call_command("anchor_radix_key")
    out = capsys.readouterr().out
    assert json.loads(out)["account"] == RadixKey(SEED, 2).account and SEED.hex() not in out
