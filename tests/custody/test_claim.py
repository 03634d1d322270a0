"""A member claims their account from a phone: real keys, real signatures, the imported dump.

- With hosted counterparties the claim completes in three calls: each relationship's imported tip
  is countersigned (the member's with the held key on their request, the counterparty's on its
  behalf, both recorded), a rotate_key state signed by the phone and the counterparty's held key is
  appended, and the held key is destroyed. The service never signs for the member afterwards.
- A counterparty on their own phone gets the rotation in their relay mailbox and must accept it;
  the claim waits and completes when their answer arrives.
- Crash, retry, duplicate: a crash between relationships resumes; the same calls again give the
  same claim; another phone is refused while a claim is under way; bad input loses nothing.
- No message the flow returns uses a technical word.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from nacl.public import Box, PublicKey

from foaf import bilateral as core
from foaf.custody import services as custody
from foaf.custody.models import Claim, ClaimStep, Cohort
from foaf.ledger import services
from foaf.ledger.models import HeldKey, Party, PendingProposal, Relationship, StateEntry
from migration import models as m
from relay.models import MailboxMessage, Profile
from tests.custody.conftest import ADMIN, CLAIMS, IDA, MAE, OLU, RAVI, ZOE, Phone
from tests.ledger.test_hosting import run_deliveries
from tests.legacy_api.conftest import Tokens
from tests.legacy_api.test_trustlines import Api
from tests.relay.clients import ack, ciphertext_of, deposit, fetch, mailbox_secret, publish_profiles, signed

pytestmark = pytest.mark.django_db

FORBIDDEN = re.compile(r"key|sign|crypto|blockchain|wallet|private|seed", re.IGNORECASE)


def relationships_of(member: m.Member) -> list[Relationship]:
    party = member.party
    return list(Relationship.objects.filter(party_a=party) | Relationship.objects.filter(party_b=party))


def rotations(rel: Relationship) -> list[core.State]:
    return [e.state for e in services.log_entries(rel) if isinstance(e.state.update.op, core.RotateKey)]


def assert_log_valid(rel: Relationship) -> core.VerifiedLog:
    return core.verify_log(list(services.log_entries(rel)), settings.OPERATOR_KEYS)


def human_texts(answer: Any) -> list[str]:
    """Every text of an answer a member may read, and the codes an app shows or branches on: of
    the claim API (claims and recovery) and of the legacy API's recovery listing and approval."""
    body = answer.json()
    if isinstance(body.get("error"), dict):
        return [body["error"]["message"], body["error"]["code"]]
    if isinstance(body.get("error"), str):  # the legacy API's recovery endpoints
        return [body["error"], body.get("code", "")]
    if "entries" in body:
        return []  # a log: data for the app, nothing to show
    listed = [
        *body.get("to_approve", []),
        *body.get("own", []),
        *body.get("recoveries", []),
        *body.get("approved_for_you", []),
    ]
    texts = [body[k] for k in ("message", "status") if k in body]
    assert texts or "to_approve" in body or "recoveries" in body, body
    return [
        *texts,
        *(r["status"] for r in body.get("relationships", [])),
        *(r["reason"] for r in body.get("relationships", [])),
        *(r["status"] for r in listed),
    ]


def assert_no_technical_words(phones: list[Phone]) -> None:
    seen = 0
    for phone in phones:
        for answer in phone.answers:
            for text in human_texts(answer):
                assert not FORBIDDEN.search(text), (answer.status_code, text)
                seen += 1
    assert seen


# ------------------------------------------------------------------ hosted counterparties
def test_a_member_claims_and_every_relationship_moves_to_the_phone(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    ida = members[IDA]
    held = HeldKey.objects.get(party=ida.party)
    phone = Phone(b"\x31" * 32, IDA)
    first = phone.start()
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "confirm_on_device" and body["to_sign"] == []
    assert body["statement"] == {
        "party": ida.party.party_id,
        "old_key": held.public_key,
        "new_key": phone.key,
        "counter": 1,
        "time": body["statement"]["time"],
    }
    confirmed = phone.confirm(body["statement"])
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert body["status"] == "confirm_updates" and len(body["to_sign"]) == 2
    # Both imported tips are countersigned now (the member's with the held key, the other's on its behalf).
    for rel in relationships_of(ida):
        rel.refresh_from_db()
        assert rel.genesis_complete
    done = phone.sign_offered(body)
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "complete" and body["progress"] == {"done": 2, "total": 2}
    assert body["message"] == "Your account is now on this device."
    # The statement carries both keys' signatures; every relationship names the phone's key.
    claim = Claim.objects.get(claim_id=phone.claim_id)
    statement = core.KeyRotation.from_json(claim.statement)
    core.rules.check_rotation(statement)
    assert (statement.old_key, statement.new_key) == (held.public_key, phone.key)
    for rel in relationships_of(ida):
        log = assert_log_valid(rel)
        head = log.head
        side = "a" if rel.party_a_id == ida.party_id else "b"
        assert head.member(side).key == phone.key and head.member(side).id == ida.party.party_id
        assert [r.update.op.statement for r in rotations(rel)] == [statement]  # type: ignore[attr-defined]
    # The held key is gone, and when.
    held.refresh_from_db()
    assert held.sealed_seed is None and held.destroyed_at is not None
    assert claim.held_key_destroyed_at == held.destroyed_at
    assert Party.objects.get(pk=ida.party_id).public_key == phone.key
    # What was signed with held keys is recorded: Ida's tips on her request, the others' on theirs.
    rows = m.SignatureOnBehalf.objects.filter(endpoint="claim").order_by("pk")
    assert sorted((s.member_legacy_id, s.what, s.op_type, s.role) for s in rows) == sorted(
        [
            (IDA, "genesis_countersignature", "import", "requester"),
            (OLU, "genesis_countersignature", "import", "counterparty"),
            (IDA, "genesis_countersignature", "import", "requester"),
            (MAE, "genesis_countersignature", "import", "counterparty"),
            (OLU, "update", "rotate_key", "counterparty"),
            (MAE, "update", "rotate_key", "counterparty"),
        ]
    )
    assert {s.requested_by_legacy_id for s in rows} == {IDA}
    assert_no_technical_words([phone])


def test_after_the_claim_the_service_never_signs_for_the_member(
    members: dict[int, m.Member], cohort: Cohort, tokens: Tokens
) -> None:
    phone = Phone(b"\x32" * 32, IDA)
    assert phone.claim().json()["status"] == "complete"
    publish_profiles(phone.signer)  # the app's profile on the relay, so its mailbox can be reached
    before = m.SignatureOnBehalf.objects.filter(member_legacy_id=IDA).count()
    # Ida pays Mae through the legacy API: Mae's hosted side asks Ida's phone ("Ida pays Mae 5").
    r = Api(Client(), tokens.v1(IDA))("POST", "trustlines/2/payment", {"amount": 5}, **{"Idempotency-Key": "after"})
    assert r.status_code == 202, r.content
    assert r.json()["operation"]["write_state"] == "buffered"
    # Mae pays Ida: a proposal signed by Mae's held key, waiting for Ida's phone.
    r = Api(Client(), tokens.v1(MAE))("POST", "trustlines/2/record_receipt", {"amount": 1})
    assert r.status_code == 202 or r.json()["operation"]["write_error"]["outcome"] == "PROPOSAL_PENDING"
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=IDA).count() == before
    proposal = PendingProposal.objects.select_related("relationship").get(status="open")
    mae_side = "a" if proposal.relationship.party_a_id == members[MAE].party_id else "b"
    assert proposal.proposer == mae_side
    run_deliveries(int(time.time()))
    assert MailboxMessage.objects.filter(recipient=phone.key).count() == 1


def test_a_member_with_no_relationship_claims_too(members: dict[int, m.Member], cohort: Cohort) -> None:
    admin = members[ADMIN]
    assert relationships_of(admin) == []
    custody.cohort_add(cohort, [admin.party])
    phone = Phone(b"\x33" * 32, ADMIN)
    assert phone.claim().json()["status"] == "complete"
    assert Party.objects.get(pk=admin.party_id).public_key == phone.key
    assert HeldKey.objects.get(party=admin.party).destroyed_at is not None


# ------------------------------------------------------------------ a counterparty on their own phone
def test_a_counterparty_on_their_own_phone_accepts_the_move_from_their_mailbox(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    olu_phone, ida_phone = Phone(b"\x41" * 32, OLU), Phone(b"\x42" * 32, IDA)
    assert olu_phone.claim().json()["status"] == "complete"
    publish_profiles(olu_phone.signer)
    # Olu's claim countersigned Ida's side of line 1 on her behalf, and Ravi's (deleted, hosted) too.
    olu_rows = m.SignatureOnBehalf.objects.filter(requested_by_legacy_id=OLU, role="counterparty")
    assert {(s.member_legacy_id, s.what) for s in olu_rows} >= {(IDA, "genesis_countersignature"), (RAVI, "update")}
    body = ida_phone.claim().json()
    assert body["status"] == "waiting_for_contacts"
    assert sorted(r["status"] for r in body["relationships"]) == ["done", "waiting_counterparty"]
    assert "1 of your contacts" in body["message"]
    ida_held = HeldKey.objects.get(party=members[IDA].party)
    assert ida_held.destroyed_at is None  # not before every relationship moved
    # Olu's phone finds the proposal in its mailbox and accepts it (a must-accept op, §5.13).
    line1 = Relationship.objects.get(legacy_trustline__legacy_id=1)
    now = int(time.time())
    device = core.Party.restore(
        olu_phone.signer, list(services.log_entries(line1)), now=now, operator_keys=settings.OPERATOR_KEYS
    )
    r = fetch(olu_phone.client, olu_phone.signer)
    messages = r.json()["messages"]
    assert len(messages) == 1 and messages[0]["sender"] == ida_held.public_key
    sender_box = Profile.objects.get(key=messages[0]["sender"]).mailbox_key
    data = bytes(
        Box(mailbox_secret(olu_phone.signer), PublicKey(bytes.fromhex(sender_box))).decrypt(ciphertext_of(messages[0]))
    )
    events = device.receive(data, now=now)
    received = [e for e in events if isinstance(e, core.ProposalReceived)]
    assert len(received) == 1 and received[0].must_accept
    accept = device.accept(now=now)
    # Olu's answer goes back to the mailbox the proposal came from.
    ours = Box(mailbox_secret(olu_phone.signer), PublicKey(bytes.fromhex(sender_box)))
    assert deposit(
        olu_phone.client, olu_phone.signer, ida_held.public_key, bytes(ours.encrypt(accept))
    ).status_code in (
        200,
        201,
    )
    ack(olu_phone.client, olu_phone.signer, [messages[0]["id"]])
    status = ida_phone.status()
    assert status.status_code == 200
    assert status.json()["status"] == "complete"
    ida_held.refresh_from_db()
    assert ida_held.destroyed_at is not None
    head = assert_log_valid(line1).head
    assert {head.a.key, head.b.key} == {olu_phone.key, ida_phone.key}
    assert device.head is not None and device.head.state.hash_hex == head.hash_hex  # Olu's copy agrees
    # The operator's progress: both claimed, every rotation countersigned by a counterparty.
    progress = custody.cohort_progress(cohort)
    assert progress["claimed"] == 2 and progress["counterparties_waiting"] == 0
    assert progress["counterparties_countersigned"] == len(relationships_of(members[OLU])) + 2
    assert_no_technical_words([olu_phone, ida_phone])


# ------------------------------------------------------------------ crash, retry, duplicate
def test_a_crash_between_relationships_resumes_where_it_stopped(
    members: dict[int, m.Member], cohort: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = Phone(b"\x51" * 32, IDA)
    body = phone.start().json()
    body = phone.confirm(body["statement"]).json()
    signatures = phone.signatures(body["to_sign"])
    real_append = services.entry_append
    rotated: list[str] = []

    def append_then_die(entry: core.LogEntry, **kw: Any) -> Any:
        if isinstance(entry.state.update.op, core.RotateKey):
            if rotated:
                raise RuntimeError("the process dies here")
            rotated.append(entry.state.channel)
        return real_append(entry, **kw)

    monkeypatch.setattr(services, "entry_append", append_then_die)
    with pytest.raises(RuntimeError):
        phone.post(f"{CLAIMS}/{phone.claim_id}", {"signatures": signatures})
    phone.answers.pop()  # no answer reached the phone
    monkeypatch.setattr(services, "entry_append", real_append)
    claim = Claim.objects.get(claim_id=phone.claim_id)
    assert sorted(ClaimStep.objects.filter(claim=claim).values_list("status", flat=True)) == ["done", "to_confirm"]
    assert HeldKey.objects.get(party=members[IDA].party).destroyed_at is None
    # The phone retries the same call: the rest is done, nothing twice.
    again = phone.post(f"{CLAIMS}/{phone.claim_id}", {"signatures": signatures})
    assert again.status_code == 200 and again.json()["status"] == "complete"
    for rel in relationships_of(members[IDA]):
        assert len(rotations(rel)) == 1
        assert_log_valid(rel)


def test_the_same_calls_again_give_the_same_claim_and_change_nothing(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    phone = Phone(b"\x52" * 32, IDA)
    first = phone.claim().json()
    entries = StateEntry.objects.count()
    again = phone.start()
    assert again.status_code == 200 and again.json()["claim_id"] == first["claim_id"]
    assert again.json()["status"] == "complete"
    assert phone.confirm({**custody.statement_body(Claim.objects.get(claim_id=phone.claim_id))}).status_code == 200
    assert phone.status().json() == again.json()
    assert StateEntry.objects.count() == entries


def test_a_retried_start_before_confirming_gives_the_same_claim(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone = Phone(b"\x53" * 32, IDA)
    one, two = phone.start(), phone.start()
    assert (one.status_code, two.status_code) == (201, 200)
    assert one.json() == two.json()
    assert Claim.objects.count() == 1


def test_another_phone_is_refused_while_a_claim_is_under_way(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone, other = Phone(b"\x54" * 32, IDA), Phone(b"\x55" * 32, IDA)
    phone.start()
    r = other.start()
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_other_device"
    phone.claim()
    r = other.start()
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_moved"
    assert_no_technical_words([phone, other])


def test_an_operator_cancelled_claim_lets_the_member_start_again(members: dict[int, m.Member], cohort: Cohort) -> None:
    lost, new = Phone(b"\x56" * 32, IDA), Phone(b"\x57" * 32, IDA)
    lost.start()
    assert custody.claim_cancel(Claim.objects.get(claim_id=lost.claim_id))
    r = lost.status()
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_cancelled"
    assert new.claim().json()["status"] == "complete"


# ------------------------------------------------------------------ who may claim, and bad input
def test_credentials_are_checked_as_the_legacy_login_checks_them(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone = Phone(b"\x61" * 32, IDA)
    r = phone.start(password="wrong")
    assert r.status_code == 401 and r.json()["error"]["code"] == "credentials_refused"
    r = phone.post(CLAIMS, {"username": "IDAQUIST2", "password": "crawford-2", "new_key": phone.key})
    assert r.status_code == 201  # the user name matched as MySQL's collation matched it
    # The legacy buckets: once the user name's is empty, the right password is refused too.
    other = Phone(b"\x62" * 32, MAE)
    for _ in range(10):
        other.start(password="guess")
    r = other.start()
    assert r.status_code == 401 and r.json()["error"]["code"] == "credentials_refused"
    assert Claim.objects.filter(party=members[MAE].party).count() == 0
    assert_no_technical_words([phone, other])


def test_only_members_of_an_open_cohort_may_start(members: dict[int, m.Member], cohort: Cohort) -> None:
    zoe = Phone(b"\x63" * 32, ZOE)
    r = zoe.start()
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_in_cohort"
    ida = Phone(b"\x64" * 32, IDA)
    ida.start()  # under way before the pause
    custody.cohort_set_status(cohort, Cohort.Status.PAUSED, now=timezone.now())
    mae = Phone(b"\x65" * 32, MAE)
    r = mae.start()
    assert r.status_code == 403 and r.json()["error"]["code"] == "cohort_not_open"
    assert ida.claim().json()["status"] == "complete"  # a claim under way finishes
    assert_no_technical_words([zoe, ida, mae])


@pytest.mark.parametrize("phase", ["shadow", "frozen"])
def test_no_claim_starts_while_rails_still_writes_credit(
    members: dict[int, m.Member], cohort: Cohort, phase: str, settings: Any
) -> None:
    from migration.cutover import phase as cutover_phase

    settings.LEGACY_CUTOVER_PHASE_SECONDS = 0  # every request reads the phase
    ida = Phone(b"\x66" * 32, IDA)
    ida.start()  # under way before the shadow period: it may finish
    m.CutoverState.objects.create(pk=1, phase=phase)
    cutover_phase.forget()
    mae = Phone(b"\x67" * 32, MAE)
    r = mae.start()
    assert r.status_code == 403 and r.json()["error"]["code"] == "before_switch"
    assert not Claim.objects.filter(party=members[MAE].party).exists()
    assert ida.start().status_code == 200  # the same device finds its claim again
    m.CutoverState.objects.filter(pk=1).update(phase="switched")
    assert mae.start().status_code == 201
    assert_no_technical_words([ida, mae])


@pytest.mark.parametrize(
    "new_key",
    [
        "",
        "zz" * 32,
        "AB" * 32,
        "00" * 31,
        "0000000000000000000000000000000000000000000000000000000000000000",  # small order
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # small order, non-canonical
        12,
    ],
)
def test_an_unusable_device_is_refused_and_nothing_is_kept(
    members: dict[int, m.Member], cohort: Cohort, new_key: Any
) -> None:
    phone = Phone(b"\x66" * 32, IDA)
    r = phone.post(CLAIMS, {"username": "idaquist2", "password": "crawford-2", "new_key": new_key})
    assert r.status_code == 422 and r.json()["error"]["code"] == "device_not_usable"
    assert Claim.objects.count() == 0
    assert_no_technical_words([phone])


def test_a_confirmation_from_another_device_is_refused_and_loses_nothing(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    phone, thief = Phone(b"\x67" * 32, IDA), Phone(b"\x68" * 32, IDA)
    body = phone.start().json()
    thief.claim_id = phone.claim_id
    rotation = core.KeyRotation(**body["statement"], old_sig="", new_sig="")
    r = thief.post(f"{CLAIMS}/{phone.claim_id}", {"new_sig": thief.signer.sign(rotation.signing_message).hex()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "confirmation_invalid"
    assert Claim.objects.get(claim_id=phone.claim_id).statement is None
    body = phone.confirm(body["statement"]).json()
    forged = {item["state_hash"]: "00" * 64 for item in body["to_sign"]}
    r = thief.post(f"{CLAIMS}/{phone.claim_id}", {"signatures": forged})
    assert r.status_code == 422 and r.json()["error"]["code"] == "confirmation_invalid"
    assert not ClaimStep.objects.exclude(device_sig="").exists()
    assert phone.sign_offered(body).json()["status"] == "complete"
    for bad in ({"signatures": ["x"]}, "[]"):
        r = phone.client.post(f"{CLAIMS}/{phone.claim_id}", data=bad, content_type="application/json")
        phone.answers.append(r)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = phone.get(f"{CLAIMS}/{'0' * 32}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_claim"
    assert_no_technical_words([phone, thief])


def test_a_claim_half_way_cannot_be_cancelled(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone = Phone(b"\x58" * 32, IDA)
    body = phone.confirm(phone.start().json()["statement"]).json()
    offered = body["to_sign"]
    # Only the first relationship's confirmation arrives: it moves, the other waits.
    first = phone.signatures(offered[:1])
    assert phone.post(f"{CLAIMS}/{phone.claim_id}", {"signatures": first}).json()["status"] == "confirm_updates"
    claim = Claim.objects.get(claim_id=phone.claim_id)
    assert not custody.claim_cancel(claim)
    assert Claim.objects.get(pk=claim.pk).status == "confirm_updates"
    assert phone.sign_offered(phone.status().json()).json()["status"] == "complete"


def test_the_phone_takes_its_relationships_logs_and_runs_them(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone = Phone(b"\x59" * 32, IDA)
    body = phone.claim().json()
    for rel in body["relationships"]:
        path = f"{CLAIMS}/{phone.claim_id}/entries/{rel['channel']}"
        r = phone.client.get(path)
        phone.answers.append(r)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_this_device"  # the claim id is not enough
        r = phone.client.get(path, headers=signed(core.SeedSigner(b"\x5e" * 32), "GET", path))
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_this_device"  # another device
        r = phone.client.get(path, headers=signed(phone.signer, "GET", path))
        phone.answers.append(r)
        assert r.status_code == 200
        log = [core.LogEntry.from_json(e) for e in r.json()["entries"]]
        party = core.Party.restore(phone.signer, log, now=int(time.time()), operator_keys=settings.OPERATOR_KEYS)
        assert (
            party.head is not None
            and party.head.state.hash_hex == Relationship.objects.get(channel_id=rel["channel"]).head_hash
        )
    other = Relationship.objects.get(legacy_trustline__legacy_id=3)  # Olu ~ Mae: not Ida's
    path = f"{CLAIMS}/{phone.claim_id}/entries/{other.channel_id}"
    r = phone.client.get(path, headers=signed(phone.signer, "GET", path))
    phone.answers.append(r)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_relationship"
    assert_no_technical_words([phone])


def test_a_rotation_the_relay_could_not_take_is_sent_again(members: dict[int, m.Member], cohort: Cohort) -> None:
    olu_phone, ida_phone = Phone(b"\x43" * 32, OLU), Phone(b"\x44" * 32, IDA)
    olu_phone.claim()
    body = ida_phone.claim().json()  # Olu's phone has no profile on the relay yet: no mailbox
    waiting = [r for r in body["relationships"] if r["status"] == "waiting_counterparty"]
    assert [r["reason"] for r in waiting] == ["CONTACT_UNREACHABLE"]
    assert not MailboxMessage.objects.filter(recipient=olu_phone.key).exists()
    publish_profiles(olu_phone.signer)
    body = ida_phone.status().json()
    assert [r["reason"] for r in body["relationships"] if r["status"] == "waiting_counterparty"] == [""]
    assert MailboxMessage.objects.filter(recipient=olu_phone.key).count() == 1
    ida_phone.status()  # again: the same bytes are not deposited twice
    assert MailboxMessage.objects.filter(recipient=olu_phone.key).count() == 1
    assert_no_technical_words([olu_phone, ida_phone])


def answer_rotations(phone: Phone, now: int) -> int:
    """What a counterparty's app does: open each proposal in its mailbox, accept it on its copy of
    the relationship (taken from the ledger here), send the accept back where it came from."""
    messages = fetch(phone.client, phone.signer).json()["messages"]
    for message in messages:
        sender_box = Profile.objects.get(key=message["sender"]).mailbox_key
        box = Box(mailbox_secret(phone.signer), PublicKey(bytes.fromhex(sender_box)))
        proposal = core.decode(bytes(box.decrypt(ciphertext_of(message))))
        assert isinstance(proposal, core.Proposal) and isinstance(proposal.state.update.op, core.RotateKey)
        rel = Relationship.objects.get(channel_id=proposal.state.channel)
        device = core.Party.restore(
            phone.signer, list(services.log_entries(rel)), now=now, operator_keys=settings.OPERATOR_KEYS
        )
        device.receive(proposal.encode(), now=now)
        r = deposit(phone.client, phone.signer, message["sender"], bytes(box.encrypt(device.accept(now=now))))
        assert r.status_code in (200, 201), r.content
    if messages:
        ack(phone.client, phone.signer, [m["id"] for m in messages])
    return len(messages)


def test_answers_collected_by_the_hosted_mailbox_collection_complete_the_claim_too(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    """Both of Ida's counterparties are on their own phones: until one rotation commits, her held
    key is her current key, so the worker's mailbox collection hands their answers to her hosted
    side, which commits them; the claim sees the relationships moved."""
    from foaf.ledger import mailbox

    olu_phone, mae_phone, ida_phone = Phone(b"\x45" * 32, OLU), Phone(b"\x46" * 32, MAE), Phone(b"\x47" * 32, IDA)
    now = int(time.time())
    assert olu_phone.claim().json()["status"] == "complete"
    publish_profiles(olu_phone.signer, mae_phone.signer)
    assert mae_phone.claim().json()["status"] == "waiting_for_contacts"  # line 3 waits for Olu's phone
    assert answer_rotations(olu_phone, now) == 1
    assert mae_phone.status().json()["status"] == "complete"
    assert ida_phone.claim().json()["status"] == "waiting_for_contacts"
    held = HeldKey.objects.get(party=members[IDA].party)
    assert answer_rotations(olu_phone, now) == 1 and answer_rotations(mae_phone, now) == 1
    assert mailbox.mailboxes_collect(now=now).handed == 2  # the worker got there first
    line1, line2 = (Relationship.objects.get(legacy_trustline__legacy_id=i) for i in (1, 2))
    assert len(rotations(line1)) == 2 and len(rotations(line2)) == 2  # Olu's or Mae's, then Ida's
    body = ida_phone.status().json()
    assert body["status"] == "complete", body
    held.refresh_from_db()
    assert held.destroyed_at is not None
    for rel in relationships_of(members[IDA]):
        assert_log_valid(rel)
    assert custody.cohort_progress(cohort)["claimed"] == 3


@pytest.mark.django_db(transaction=True)
def test_two_identical_confirmations_at_once_move_each_relationship_once(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    phone = Phone(b"\x5a" * 32, IDA)
    body = phone.confirm(phone.start().json()["statement"]).json()
    signatures = phone.signatures(body["to_sign"])
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        try:
            barrier.wait()
            answers.append(
                Phone(phone.seed, IDA, claim_id=phone.claim_id).post(
                    f"{CLAIMS}/{phone.claim_id}", {"signatures": signatures}
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert phone.status().json()["status"] == "complete"
    for rel in relationships_of(members[IDA]):
        assert len(rotations(rel)) == 1
        assert_log_valid(rel)
    assert m.SignatureOnBehalf.objects.filter(endpoint="claim", what="update").count() == 2


def test_a_rotation_left_unanswered_past_its_deadline_is_offered_again(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    olu_phone, ida_phone = Phone(b"\x48" * 32, OLU), Phone(b"\x49" * 32, IDA)
    olu_phone.claim()
    publish_profiles(olu_phone.signer)
    assert ida_phone.claim().json()["status"] == "waiting_for_contacts"
    claim = Claim.objects.get(claim_id=ida_phone.claim_id)
    first = PendingProposal.objects.get(status="open")
    later = int(first.deadline.timestamp()) + 1  # Olu's phone stayed silent for a week
    claim = custody.claim_advance(claim, now=later)
    assert claim.status == "confirm_updates"
    first.refresh_from_db()
    assert first.status == "expired"
    offered = custody.to_sign(claim)
    assert len(offered) == 1 and offered[0].state.hash_hex != first.state_hash
    signatures = {offered[0].state.hash_hex: core.sign_state(offered[0].state, ida_phone.signer)}
    claim = custody.claim_advance(claim, signatures=signatures, now=later)
    assert claim.status == "waiting_for_contacts"
    assert PendingProposal.objects.get(status="open").state_hash == offered[0].state.hash_hex
    assert MailboxMessage.objects.filter(recipient=olu_phone.key).count() == 2


def test_a_relationship_moved_by_something_else_blocks_and_is_left_alone(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    """As if a recovery moved Ida's side of line 1 to another key after her claim started: the claim
    does not touch it, and says so without technical words."""
    phone = Phone(b"\x5b" * 32, IDA)
    phone.start()
    line1 = Relationship.objects.get(legacy_trustline__legacy_id=1)
    ida, olu = members[IDA].party, members[OLU].party
    held_ida, held_olu = (services.held_key_secrets(HeldKey.objects.get(party=p)).signer for p in (ida, olu))
    tip = services.head_state(line1)
    services.entry_append(
        core.LogEntry(tip, core.sign_state(tip, held_ida), core.sign_state(tip, held_olu), tip_attest(line1))
    )
    other = core.SeedSigner(b"\x5c" * 32)
    body = core.KeyRotation(ida.party_id, held_ida.public_key.hex(), other.public_key.hex(), 1, 1, "", "")
    statement = core.KeyRotation(
        *[getattr(body, f) for f in ("party", "old_key", "new_key", "counter", "time")],
        held_ida.sign(body.signing_message).hex(),
        other.sign(body.signing_message).hex(),
    )
    now = int(time.time())
    line1.refresh_from_db()
    head = services.head_state(line1)
    state = core.apply_op(head, core.Update("a", core.RotateKey(statement), now, now + 60, "5c" * 16))
    services.entry_append(core.LogEntry(state, core.sign_state(state, other), core.sign_state(state, held_olu)))
    body_json = phone.confirm(phone.start().json()["statement"]).json()
    moved = [r for r in body_json["relationships"] if r["channel"] == line1.channel_id]
    assert moved == [
        {
            "channel": line1.channel_id,
            "counterparty": olu.party_id,
            "status": "blocked",
            "reason": "MEMBER_MOVED_ELSEWHERE",
        }
    ]
    assert HeldKey.objects.get(party=ida).destroyed_at is None  # not complete: nothing destroyed
    assert Relationship.objects.get(pk=line1.pk).head_hash == state.hash_hex  # untouched by the claim
    assert_no_technical_words([phone])


def tip_attest(rel: Relationship) -> Any:
    return services.entry_from_row(StateEntry.objects.get(relationship=rel, seq=rel.head_seq)).attest


def test_reasons_shown_to_the_app_are_plain() -> None:
    assert custody.public_reason("CONTACT_UNREACHABLE") == "CONTACT_UNREACHABLE"
    assert custody.public_reason("REFUSED_BAD_SIGNATURE") == "REFUSED"
    assert custody.public_reason("KEY_SMALL_ORDER") == "NEEDS_OPERATOR"
    for reason in custody.PUBLIC_REASONS:
        assert not FORBIDDEN.search(reason)


def test_a_relationship_opened_during_the_claim_moves_too(members: dict[int, m.Member], cohort: Cohort) -> None:
    phone = Phone(b"\x5d" * 32, IDA)
    body = phone.confirm(phone.start().json()["statement"]).json()
    assert len(body["to_sign"]) == 2
    # Before the phone answers, Ida and Zoë open a line (both still hosted: legacy POST /v1/trustlines).
    fresh = services.relationship_open_custodial(
        members[IDA].party, members[ZOE].party, limit_a_to_b=100, limit_b_to_a=100, currency="CAD", now=int(time.time())
    )
    body = phone.sign_offered(body).json()
    assert body["status"] == "confirm_updates" and [t["channel"] for t in body["to_sign"]] == [fresh.channel_id]
    assert phone.sign_offered(body).json()["status"] == "complete"
    assert len(rotations(fresh)) == 1
    assert_log_valid(fresh)


def test_a_claim_whose_moves_are_out_with_contacts_cannot_be_cancelled(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    """Ida's counterparties are on their own phones: her claim's moves are in their mailboxes, and
    they must accept them. No relationship has moved yet, but one may at any moment (their answers
    are collected by the hosted mailbox collection too): cancelling then would leave the account
    moving to the cancelled device. The operator's cancel is refused, before and after the answers
    arrive, and the claim finishes."""
    from foaf.ledger import mailbox

    olu_phone, mae_phone, ida_phone = Phone(b"\x61" * 32, OLU), Phone(b"\x62" * 32, MAE), Phone(b"\x63" * 32, IDA)
    now = int(time.time())
    assert olu_phone.claim().json()["status"] == "complete"
    publish_profiles(olu_phone.signer, mae_phone.signer)
    assert mae_phone.claim().json()["status"] == "waiting_for_contacts"
    assert answer_rotations(olu_phone, now) == 1
    assert mae_phone.status().json()["status"] == "complete"
    assert ida_phone.claim().json()["status"] == "waiting_for_contacts"
    claim = Claim.objects.get(claim_id=ida_phone.claim_id)
    assert not ClaimStep.objects.filter(claim=claim, status=ClaimStep.Status.DONE).exists()
    assert not custody.claim_cancel(claim)  # the moves are out: they may be accepted any time
    assert answer_rotations(olu_phone, now) == 1 and answer_rotations(mae_phone, now) == 1
    assert mailbox.mailboxes_collect(now=now).handed == 2  # committed, the claim's steps not updated yet
    assert not ClaimStep.objects.filter(claim=claim, status=ClaimStep.Status.DONE).exists()
    assert not custody.claim_cancel(claim)
    assert Claim.objects.get(pk=claim.pk).status != "cancelled"
    assert ida_phone.status().json()["status"] == "complete"


def test_a_cancel_while_a_call_of_the_claim_runs_stops_it_and_stays(
    members: dict[int, m.Member], cohort: Cohort
) -> None:
    """The operator cancels while the device's confirmations are being handled (the call read the
    claim before the cancel): nothing moves after the cancel, and the call does not bring the
    claim back to life (the member may start again from another phone)."""
    phone = Phone(b"\x64" * 32, IDA)
    body = phone.confirm(phone.start().json()["statement"]).json()
    signatures = phone.signatures(body["to_sign"])
    assert signatures
    read_before = Claim.objects.get(claim_id=phone.claim_id)
    assert custody.claim_cancel(Claim.objects.get(claim_id=phone.claim_id))
    with pytest.raises(custody.CustodyError) as refused:
        custody.claim_advance(read_before, signatures=signatures, now=int(time.time()))
    assert refused.value.code == "claim_cancelled"
    assert Claim.objects.get(pk=read_before.pk).status == "cancelled"
    for rel in relationships_of(members[IDA]):
        assert not rotations(rel)
    assert Party.objects.get(pk=members[IDA].party_id).public_key != phone.key
    assert Phone(b"\x65" * 32, IDA).claim().json()["status"] == "complete"


def test_a_cancelled_claim_s_device_reads_no_log(members: dict[int, m.Member], cohort: Cohort) -> None:
    """The operator cancelled a claim (started, say, by someone who knew the password, changed
    since): its device no longer reads the member's relationships, now or later."""
    lost = Phone(b"\x66" * 32, IDA)
    body = lost.confirm(lost.start().json()["statement"]).json()
    channel = body["relationships"][0]["channel"]
    path = f"{CLAIMS}/{lost.claim_id}/entries/{channel}"
    assert lost.client.get(path, headers=signed(lost.signer, "GET", path)).status_code == 200
    assert custody.claim_cancel(Claim.objects.get(claim_id=lost.claim_id))
    r = lost.client.get(path, headers=signed(lost.signer, "GET", path))
    lost.answers.append(r)
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_cancelled", r.content
    assert_no_technical_words([lost])
