"""On-chain settlement, off-chain side: freeze, anchor, package (docs/spec/settlement.md)."""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import radix_engine_toolkit as ret
from django.core.management import call_command
from django.test import Client

from anchoring import settlement
from anchoring.backends import LocalBackend
from anchoring.merkle import Leaf, Tree, verify_proof
from anchoring.models import AnchorRequest, SettlementRequest
from anchoring.services import anchors_process
from foaf import bilateral as core
from foaf.errors import ApiError, ErrorCode
from foaf.ledger import services as ledger
from foaf.ledger.models import Party, Relationship, StateEntry
from relay.protocol.auth import sign_http_request
from tests.ledger.builders import ALICE, BOB, OPERATOR_KEY, Channel, fresh_channel, imported_genesis

NOW = 1_790_000_000
SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "settlement.md"
# A well-formed stokenet component address (entity byte 0xc0, a generic component); nothing is deployed there.
COMPONENT = ret.Address.from_raw(bytes([0xC0]) + hashlib.sha256(b"foaf-settlement-example").digest()[:29], 2).as_str()


@pytest.fixture(autouse=True)
def radix_settings(settings: Any) -> None:
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex
    settings.SETTLEMENT_NETWORK = "stokenet"
    settings.SETTLEMENT_COMPONENT_ADDRESS = COMPONENT
    settings.SETTLEMENT_FEE_LOCK = "10"


def hosted(payments: tuple[int, ...] = (1200, 300)) -> Relationship:
    """Two hosted members (keys held by the service) with payments from a to b: a owes b."""
    a = ledger.party_create_with_held_key(display_name="a")
    b = ledger.party_create_with_held_key(display_name="b")
    rel = ledger.relationship_open_custodial(a, b, limit_a_to_b=10_000, limit_b_to_a=5_000, currency="CAD", now=NOW)
    for i, amount in enumerate(payments, start=1):
        ledger.update_custodial(rel, core.Payment("a", amount, "eggs"), proposer="a", now=NOW + i, nonce=f"{i:032x}")
    rel.refresh_from_db()
    return rel


def anchored(row: SettlementRequest) -> SettlementRequest:
    anchors_process(backend=LocalBackend())
    advanced: SettlementRequest = settlement.settlement_advance(row)
    return advanced


def nacl_verify(key_hex: str, message: bytes, sig_hex: str) -> None:
    nacl.signing.VerifyKey(bytes.fromhex(key_hex)).verify(message, bytes.fromhex(sig_hex))


# --- a hosted relationship, end to end --------------------------------------------------------------


@pytest.mark.django_db
def test_a_hosted_relationship_is_frozen_anchored_and_packaged(tmp_path: Path) -> None:
    rel = hosted()
    row, created = settlement.settlement_request_create(party=rel.party_b, relationship=rel)
    assert (created, row.custodial, row.status) == (True, True, "anchoring")
    rel.refresh_from_db()
    head = StateEntry.objects.get(relationship=rel, seq=rel.head_seq)
    frozen = ledger.entry_from_row(head).state
    assert (rel.status, frozen.status, frozen.update.proposer, frozen.update.op) == (
        "frozen",
        "frozen",
        "b",
        core.StatusOp("freeze"),
    )
    assert (row.seq, row.state_hash) == (head.seq, head.state_hash)
    assert row.anchor_request is not None and row.anchor_request.urgent

    with pytest.raises(ApiError) as early:
        settlement.settlement_package(row, reader=rel.party_b)
    assert early.value.error_code is ErrorCode.SETTLEMENT_NOT_READY

    row = anchored(row)
    assert row.status == "ready"
    package = settlement.settlement_package(row, reader=rel.party_b)
    assert (package["type"], package["v"], package["debtor"], package["owed"], package["currency"]) == (
        "foaf-settlement-package",
        1,
        "a",
        1500,
        "CAD",
    )

    # The final state and both signatures, checked with PyNaCl alone.
    state = package["entry"]["state"]
    canonical = core.canonicalize(state)
    digest = hashlib.sha256(canonical).digest()
    assert digest.hex() == package["state_hash"] == head.state_hash
    message = b"FOAF-BILATERAL-1/state" + b"\x00" + digest
    assert package["signing_message"] == message.hex()
    nacl_verify(state["a"]["key"], message, package["entry"]["sigs"]["a"])
    nacl_verify(state["b"]["key"], message, package["entry"]["sigs"]["b"])
    assert state["status"] == "frozen" and state["holds"] == []

    # The anchor proof verifies with the existing verifier, for this very state, and with verify_anchor.
    proof = package["anchor_proof"]
    got = verify_proof(proof)
    assert (got.leaf.channel, got.leaf.seq, got.leaf.state_hash) == (rel.channel_id, head.seq, head.state_hash)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    call_command("verify_anchor", str(path))

    # The log is the whole co-signed history up to the final state.
    verified = core.verify_log([core.LogEntry.from_json(e) for e in package["log"]])
    assert verified.head.hash_hex == head.state_hash
    assert package["log_entries"] == len(package["log"]) == head.seq + 1

    # The manifest compiles for the configured network and calls the component with the claim.
    radix = package["radix"]
    assert (radix["network"], radix["network_id"], radix["component"], radix["caller"]) == (
        "stokenet",
        2,
        COMPONENT,
        "b",
    )
    b_account = ret.derive_preallocated_account_address_from_public_key(
        ret.PublicKey.ED25519(bytes.fromhex(state["b"]["key"])), 2
    ).as_str()
    assert radix["accounts"]["b"] == b_account
    compiled = settlement.manifest_compile(radix["manifest"], 2)
    assert compiled
    text = ret.TransactionManifestV1(ret.InstructionsV1.from_string(radix["manifest"], 2), []).instructions().as_str()
    assert f'Address("{b_account}")' in text and f'Address("{COMPONENT}")' in text and '"open_settlement"' in text
    with pytest.raises(ValueError):
        settlement.manifest_compile(radix["manifest"], 1)  # stokenet addresses are not mainnet's

    # The claim in the package is what the component checks (spec §6) and rebuilds the state from.
    assert settlement.claim_state_bytes(package["claim"]["state"]) == canonical
    checked = settlement.claim_check(package["claim"])
    assert (checked.state_hash, checked.root, checked.balance) == (head.state_hash, proof["root"], 1500)


@pytest.mark.django_db
def test_a_frozen_relationship_refuses_payments_afterwards() -> None:
    rel = hosted()
    row, _ = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    entries = StateEntry.objects.filter(relationship=rel).count()
    for payer in ("a", "b"):
        with pytest.raises(core.ProtocolError) as refused:
            ledger.update_custodial(rel, core.Payment(payer, 1, "more"), proposer=payer, now=NOW + 50, nonce="f" * 32)
        assert refused.value.code is core.ErrorCode.CHANNEL_FROZEN
    rel.refresh_from_db()
    head = ledger.head_state(rel)
    assert head.status == "frozen"
    with pytest.raises(core.ProtocolError) as hold:
        core.apply_op(
            head,
            core.Update("a", core.PlaceHold("01" * 16, "a", 5, "22" * 32, NOW + 900), NOW + 51, NOW + 99, "e" * 32),
        )
    assert hold.value.code is core.ErrorCode.CHANNEL_FROZEN
    assert StateEntry.objects.filter(relationship=rel).count() == entries
    assert row.status == "anchoring"


# --- idempotence and crashes -----------------------------------------------------------------------


@pytest.mark.django_db
def test_asking_twice_returns_the_same_request_and_freezes_once() -> None:
    rel = hosted()
    first, created = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    again, created_again = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    assert (created, created_again, first.pk) == (True, False, again.pk)
    entries = StateEntry.objects.filter(relationship=rel).count()
    for _ in range(3):
        settlement.settlement_advance(first)
    assert StateEntry.objects.filter(relationship=rel).count() == entries
    assert AnchorRequest.objects.filter(relationship=rel).count() == 1
    ready = anchored(first)
    package = settlement.settlement_package(ready, reader=rel.party_a)
    assert package == settlement.settlement_package(ready, reader=rel.party_a)
    assert package["radix"]["caller"] == "a"
    other = settlement.settlement_package(ready, reader=rel.party_b)  # the other party reads it too
    assert other["radix"]["caller"] == "b" and other["claim"] == package["claim"]


@pytest.mark.django_db
def test_a_crash_after_the_freeze_or_the_anchor_request_is_finished_by_a_retry_without_doing_it_twice() -> None:
    rel = hosted()
    row = SettlementRequest.objects.create(relationship=rel, requested_by=rel.party_a, custodial=True)
    # The freeze reached the ledger, then the process died before the request row moved on.
    ledger.update_custodial(
        rel, core.StatusOp("freeze"), proposer="a", now=NOW + 40, nonce=settlement.freeze_nonce(rel.pk)
    )
    entries = StateEntry.objects.filter(relationship=rel).count()
    row = settlement.settlement_advance(row)
    assert row.status == "anchoring" and StateEntry.objects.filter(relationship=rel).count() == entries
    # The anchor request was made, then the process died before the row recorded it.
    SettlementRequest.objects.filter(pk=row.pk).update(anchor_request=None)
    row.refresh_from_db()
    again = settlement.settlement_advance(row)
    assert AnchorRequest.objects.filter(relationship=rel).count() == 1
    assert anchored(again).status == "ready"


@pytest.mark.django_db
def test_a_failed_anchor_fails_the_settlement_with_its_reason() -> None:
    rel = hosted()
    row, _ = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    AnchorRequest.objects.filter(settlements=row).update(status=AnchorRequest.Status.FAILED)
    row = settlement.settlement_advance(row)
    assert (row.status, row.error) == ("failed", "anchor_failed")
    with pytest.raises(ApiError) as caught:
        settlement.settlement_package(row, reader=rel.party_a)
    assert caught.value.error_code is ErrorCode.SETTLEMENT_NOT_READY


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stranger_a_second_asker_and_unsettleable_relationships_are_refused() -> None:
    rel, other = hosted(), hosted()
    with pytest.raises(ApiError) as stranger:
        settlement.settlement_request_create(party=other.party_a, relationship=rel)
    assert (stranger.value.error_code, stranger.value.status_code) == (ErrorCode.SETTLEMENT_NOT_A_PARTY, 403)

    row, _ = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    with pytest.raises(ApiError) as busy:
        settlement.settlement_request_create(party=rel.party_b, relationship=rel)
    assert (busy.value.error_code, busy.value.details["id"]) == (ErrorCode.SETTLEMENT_IN_PROGRESS, row.pk)
    with pytest.raises(ApiError) as not_theirs:
        settlement.settlement_package(anchored(row), reader=other.party_b)
    assert not_theirs.value.error_code is ErrorCode.SETTLEMENT_NOT_A_PARTY

    with_hold = hosted()
    ledger.update_custodial(
        with_hold,
        core.PlaceHold("0a" * 16, "a", 100, "33" * 32, NOW + 9_000),
        proposer="a",
        now=NOW + 9,
        nonce="9" * 32,
    )
    with pytest.raises(ApiError) as holds:
        settlement.settlement_request_create(party=with_hold.party_a, relationship=with_hold)
    assert (holds.value.error_code, holds.value.details["reason"]) == (
        ErrorCode.SETTLEMENT_NOT_SETTLEABLE,
        "holds_open",
    )

    closed = hosted()
    ledger.update_custodial(closed, core.StatusOp("close"), proposer="b", now=NOW + 9, nonce="8" * 32)
    with pytest.raises(ApiError) as shut:
        settlement.settlement_request_create(party=closed.party_b, relationship=closed)
    assert (shut.value.error_code, shut.value.details["reason"]) == (ErrorCode.SETTLEMENT_NOT_SETTLEABLE, "closed")
    assert not SettlementRequest.objects.filter(relationship__in=[with_hold, closed]).exists()


@pytest.mark.django_db
def test_an_imported_relationship_not_yet_countersigned_is_refused() -> None:
    result = ledger.entry_append(imported_genesis(), operator_keys=[OPERATOR_KEY])
    rel = result.relationship
    with pytest.raises(ApiError) as caught:
        settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    assert (caught.value.error_code, caught.value.status_code) == (ErrorCode.SETTLEMENT_NOT_COSIGNED, 409)


# --- members holding their own keys ----------------------------------------------------------------


def own_keys_relationship() -> tuple[Relationship, Channel]:
    """Alice and Bob hold their own keys (nothing held by the service); Alice owes Bob 700."""
    channel = fresh_channel()
    channel.pay("a", 700)
    for entry in channel.entries:
        ledger.entry_append(entry)
    rel = Relationship.objects.get(channel_id=channel.entries[0].state.channel)
    return rel, channel


def freeze_entry(channel: Channel, *, now: int = NOW + 120) -> core.LogEntry:
    data = channel.bob.propose(core.StatusOp("freeze"), now=now, deadline=now + 600, nonce=channel.nonce())
    channel.alice.receive(data, now=now)
    channel.bob.receive(channel.alice.accept(now=now), now=now)
    assert channel.bob.head is not None
    return channel.bob.head


@pytest.mark.django_db
def test_members_holding_their_own_keys_hand_in_the_co_signed_freeze() -> None:
    rel, channel = own_keys_relationship()
    row, created = settlement.settlement_request_create(party=rel.party_b, relationship=rel)
    assert (created, row.custodial, row.status) == (True, False, "freezing")
    assert settlement.settlement_advance(row).status == "freezing"  # nothing to do until the entry comes

    entry = freeze_entry(channel)
    half = entry.to_json()
    del half["sigs"]["a"]
    with pytest.raises(ApiError) as unsigned:
        settlement.settlement_entry_submit(row, party=rel.party_b, entry_json=half)
    assert (unsigned.value.error_code, unsigned.value.details["code"]) == (
        ErrorCode.SETTLEMENT_BAD_ENTRY,
        "MISSING_SIGNATURE",
    )
    forged = copy.deepcopy(entry.to_json())
    forged["state"]["balance"] = 1
    with pytest.raises(ApiError) as bad:
        settlement.settlement_entry_submit(row, party=rel.party_b, entry_json=forged)
    assert bad.value.error_code is ErrorCode.SETTLEMENT_BAD_ENTRY

    row = settlement.settlement_entry_submit(row, party=rel.party_a, entry_json=entry.to_json())
    assert (row.status, row.seq, row.state_hash) == ("anchoring", entry.state.seq, entry.state.hash_hex)
    again = settlement.settlement_entry_submit(row, party=rel.party_a, entry_json=entry.to_json())
    assert again.pk == row.pk and StateEntry.objects.filter(relationship=rel).count() == entry.state.seq + 1
    package = settlement.settlement_package(anchored(row), reader=rel.party_a)
    assert (package["debtor"], package["owed"], package["radix"]["caller"]) == ("a", 700, "a")
    assert package["entry"] == entry.to_json()
    settlement.manifest_compile(package["radix"]["manifest"], 2)


# --- the claim, as the component sees it -----------------------------------------------------------


def one_leaf_proof(state: core.State) -> dict[str, Any]:
    leaf = Leaf(channel=state.channel, seq=state.seq, state_hash=state.hash_hex)
    return Tree.of_leaves([leaf]).proof(0, leaf)


@pytest.mark.parametrize(
    "op",
    [
        core.Payment("b", 250, 'memo with "quotes", \\ backslash, \n newline, é and \u2028'),
        core.PlaceHold("0f" * 16, "b", 40, "44" * 32, NOW + 5_000),
        core.Settlement("a", 10, ""),
        core.SetLimit("a_to_b", 0),
    ],
)
def test_the_component_rebuilds_the_canonical_bytes_of_any_state_from_the_claim(op: Any) -> None:
    channel = fresh_channel()
    channel.pay("a", 90)
    proposer = channel.alice
    data = proposer.propose(op, now=NOW + 300, deadline=NOW + 900, nonce=channel.nonce())
    channel.bob.receive(data, now=NOW + 300)
    proposer.receive(channel.bob.accept(now=NOW + 300), now=NOW + 300)
    entry = proposer.head
    assert entry is not None
    claim = settlement.claim_of(entry, one_leaf_proof(entry.state))
    assert settlement.claim_state_bytes(claim["state"]) == entry.state.canonical
    checked = settlement.claim_check(claim, require_frozen=False)
    assert checked.state_hash == entry.state.hash_hex


def test_the_claim_check_refuses_what_the_component_must_refuse() -> None:
    channel = fresh_channel()
    channel.pay("a", 900)
    frozen = freeze_entry(channel)
    good = settlement.claim_of(frozen, one_leaf_proof(frozen.state))
    settlement.claim_check(good)

    def refused(tamper: Any, code: str, **kw: Any) -> None:
        claim = copy.deepcopy(good)
        tamper(claim)
        with pytest.raises(settlement.ClaimError) as caught:
            settlement.claim_check(claim, **kw)
        assert caught.value.code == code

    refused(lambda c: c["state"].__setitem__("balance", 1), "BAD_SIGNATURE_A")
    refused(lambda c: c.__setitem__("sig_b", c["sig_a"]), "BAD_SIGNATURE_B")
    refused(lambda c: c["state"].__setitem__("currency", "cad"), "BAD_FIELD")
    refused(lambda c: c["state"].__setitem__("update_jcs", "5b5d"), "BAD_FIELD")
    refused(lambda c: c["anchor"].__setitem__("root", "00" * 32), "ANCHOR_ROOT_MISMATCH")
    refused(lambda c: c["anchor"].__setitem__("leaf_count", 2), "BAD_ANCHOR_PATH")
    opened = settlement.claim_of(channel.entries[-1], one_leaf_proof(channel.entries[-1].state))
    with pytest.raises(settlement.ClaimError) as not_frozen:
        settlement.claim_check(opened)
    assert not_frozen.value.code == "NOT_FROZEN"


# --- the spec's worked example ---------------------------------------------------------------------


def worked_example() -> dict[str, Any]:
    """The example of docs/spec/settlement.md §10, recomputed: fixed keys, one payment, a freeze, a
    batch of three leaves with the final state at index 1, and the manifest for the creditor."""
    a = core.SeedSigner(hashlib.sha256(b"foaf-settlement-example-a").digest())
    b = core.SeedSigner(hashlib.sha256(b"foaf-settlement-example-b").digest())
    genesis = core.make_genesis(
        a=core.Member.inception(a.public_key),
        b=core.Member.inception(b.public_key),
        currency="CAD",
        limit_a_to_b=50_000,
        limit_b_to_a=20_000,
        proposer="a",
        created=NOW,
        deadline=NOW + 600,
        nonce=f"{1:032x}",
    )
    entries = [core.LogEntry(genesis, core.sign_state(genesis, a), core.sign_state(genesis, b))]
    for proposer, op, t, nonce in (
        ("a", core.Payment("a", 12_345, "seeds and soil"), NOW + 60, 2),
        ("b", core.StatusOp("freeze"), NOW + 120, 3),
    ):
        state = core.apply_op(entries[-1].state, core.Update(proposer, op, t, t + 600, f"{nonce:032x}"))
        entries.append(core.LogEntry(state, core.sign_state(state, a), core.sign_state(state, b)))
    final = entries[-1]
    leaves = [
        Leaf(hashlib.sha256(b"other-channel-0").hexdigest(), 4, hashlib.sha256(b"other-state-0").hexdigest()),
        Leaf(final.state.channel, final.state.seq, final.state.hash_hex),
        Leaf(hashlib.sha256(b"other-channel-2").hexdigest(), 9, hashlib.sha256(b"other-state-2").hexdigest()),
    ]
    proof = Tree.of_leaves(leaves).proof(1, leaves[1])
    claim = settlement.claim_of(final, proof)
    b_account = settlement.account_of(final.state.b.key, 2)
    manifest = settlement.manifest_format(
        settlement.manifest_text(claim, caller_account=b_account, component=COMPONENT, fee="10"), 2
    )
    return {
        "final": final,
        "proof": proof,
        "claim": claim,
        "accounts": {"a": settlement.account_of(final.state.a.key, 2), "b": b_account},
        "manifest": manifest,
        "leaf_hex": settlement.leaf_bytes(final.state.channel, final.state.seq, final.state.hash_hex).decode(),
    }


def test_the_spec_holds_the_worked_example_as_computed() -> None:
    example = worked_example()
    final = example["final"]
    spec = SPEC.read_text()
    for value in (
        final.state.canonical.decode(),
        final.state.hash_hex,
        final.state.signing_message.hex(),
        final.sig_a,
        final.sig_b,
        example["proof"]["root"],
        example["proof"]["leaf_hash"],
        *[step["hash"] for step in example["proof"]["path"]],
        example["accounts"]["a"],
        example["accounts"]["b"],
        example["leaf_hex"],
        example["claim"]["state"]["update_jcs"],
    ):
        assert value in spec, f"docs/spec/settlement.md lacks {value[:80]}"
    assert example["manifest"].strip() in spec
    settlement.manifest_compile(example["manifest"], 2)
    settlement.claim_check(example["claim"])


# --- the API ---------------------------------------------------------------------------------------


def signed_call(client: Client, signer: Any, method: str, path: str, payload: Any = None) -> Any:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = sign_http_request(
        signer, method=method, path=path, body=body, relay="http://testserver", now=int(time.time())
    )
    if method == "POST":
        return client.post(path, data=body, content_type="application/json", headers=headers)
    return client.get(path, headers=headers)


V1 = "/api/anchoring/v1/settlements"


@pytest.mark.django_db
def test_the_api_settles_a_hosted_relationship_for_its_parties_only() -> None:
    rel, other = hosted(), hosted()
    a, b, stranger = (ledger.party_signer(p) for p in (rel.party_a, rel.party_b, other.party_a))
    client = Client()
    unsigned = client.post(V1, data={"channel": rel.channel_id})
    assert unsigned.json()["error"]["code"] == "auth_required"
    r = signed_call(client, a, "POST", V1, {"channel": rel.channel_id})
    assert r.status_code == 201, r.content
    body = r.json()
    sid = body["id"]
    assert (body["status"], body["custodial"], body["channel"]) == ("anchoring", True, rel.channel_id)
    again = signed_call(client, a, "POST", V1, {"channel": rel.channel_id})
    assert (again.status_code, again.json()["id"]) == (200, sid)
    busy = signed_call(client, b, "POST", V1, {"channel": rel.channel_id})
    assert (busy.status_code, busy.json()["error"]["code"]) == (409, "settlement_in_progress")
    nope = signed_call(client, stranger, "POST", V1, {"channel": rel.channel_id})
    assert (nope.status_code, nope.json()["error"]["code"]) == (403, "settlement_not_a_party")
    missing = signed_call(client, a, "POST", V1, {"channel": "ab" * 32})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    bad = signed_call(client, a, "POST", V1, {"channel": "xy"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_request")

    early = signed_call(client, b, "GET", f"{V1}/{sid}/package")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "settlement_not_ready")
    anchors_process(backend=LocalBackend())
    status = signed_call(client, b, "GET", f"{V1}/{sid}")
    assert (status.status_code, status.json()["status"]) == (200, "ready")
    package = signed_call(client, b, "GET", f"{V1}/{sid}/package")
    assert package.status_code == 200, package.content
    settlement.manifest_compile(package.json()["radix"]["manifest"], 2)
    assert verify_proof(package.json()["anchor_proof"]).leaf.state_hash == status.json()["state_hash"]
    for path in (f"{V1}/{sid}", f"{V1}/{sid}/package"):
        theirs = signed_call(client, stranger, "GET", path)
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.django_db
def test_the_api_takes_the_co_signed_freeze_from_members_holding_their_own_keys() -> None:
    rel, channel = own_keys_relationship()
    client = Client()
    r = signed_call(client, ALICE, "POST", V1, {"channel": rel.channel_id})
    assert (r.status_code, r.json()["status"], r.json()["custodial"]) == (201, "freezing", False)
    sid = r.json()["id"]
    path = f"{V1}/{sid}/entry"
    junk = signed_call(client, BOB, "POST", path, {"entry": {"state": {}}})
    assert (junk.status_code, junk.json()["error"]["code"]) == (409, "settlement_bad_entry")
    shape = signed_call(client, BOB, "POST", path, {"state": 1})
    assert (shape.status_code, shape.json()["error"]["code"]) == (400, "invalid_request")
    entry = freeze_entry(channel)
    done = signed_call(client, BOB, "POST", path, {"entry": entry.to_json()})
    assert (done.status_code, done.json()["status"], done.json()["seq"]) == (200, "anchoring", entry.state.seq)
    anchors_process(backend=LocalBackend())
    package = signed_call(client, ALICE, "GET", f"{V1}/{sid}/package").json()
    assert (package["radix"]["caller"], package["state_hash"]) == ("a", entry.state.hash_hex)
    assert Party.objects.get(pk=rel.party_a_id).public_key == ALICE.public_key.hex()


@pytest.mark.django_db
def test_without_a_configured_component_the_package_says_so_instead_of_a_manifest(settings: Any) -> None:
    settings.SETTLEMENT_COMPONENT_ADDRESS = ""
    rel = hosted()
    row, _ = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    radix = settlement.settlement_package(anchored(row), reader=rel.party_a)["radix"]
    assert radix["manifest"] is None and radix["component"] is None
    assert "FOAF_SETTLEMENT_COMPONENT_ADDRESS" in radix["manifest_missing"]


@pytest.mark.django_db
def test_the_beat_task_moves_open_requests_on_without_anyone_reading_them() -> None:
    from anchoring.tasks import advance_settlements

    rel = hosted()
    row, _ = settlement.settlement_request_create(party=rel.party_a, relationship=rel)
    assert row.status == "anchoring"
    assert advance_settlements.run() == {"advanced": 0, "waiting": 1, "refused": 0}  # not anchored yet
    anchors_process(backend=LocalBackend())
    assert advance_settlements.run() == {"advanced": 1, "waiting": 0, "refused": 0}
    row.refresh_from_db()
    assert row.status == "ready"
    assert advance_settlements.run() == {"advanced": 0, "waiting": 0, "refused": 0}  # nothing left: a rerun is a no-op
