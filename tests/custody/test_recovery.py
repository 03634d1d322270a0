"""Recovery with real keys, real signatures, the imported dump and real services (issue 11 item 3).

Mae (legacy 4) has claimed her account onto a phone. Her counterparties: Ida (line 2) and Zoë
(line 5), whose keys the service holds, and Olu (line 3), on his own phone. Mae chooses all three
as helpers, two of whom must approve, with a one-day delay. She loses her phone; a new one
recovers her account. The clock is simulated: the views read it from ``now_unix``, which the
``clock`` fixture moves, and every device's bilateral core is given the same ``now``.

- Two of three approve (Olu from his phone, Ida through the legacy app, the service making her
  approval with the key it holds for her on her request); after the delay every relationship names
  the new phone's key and the legacy API treats Mae as holding it.
- One approval (k-1) never completes, whatever the time; a stranger's approval is refused.
- The old phone cancels during the delay: the recovery fails in every relationship (the hosted
  counterparties' copies and Olu's phone refuse it with RECOVERY_CANCELLED).
- Before the delay, on the counterparty's own clock, the recover_key is refused
  (RECOVERY_TOO_EARLY).
- Every request again (and a crash mid-way) changes nothing twice.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from nacl.public import Box, PublicKey

from foaf import bilateral as core
from foaf.custody import recovery
from foaf.custody import services as custody
from foaf.custody.models import Cohort, CohortMember, RecoveryApproval, RecoveryRequest, RecoveryStep
from foaf.custody.tasks import tell_recoveries
from foaf.ledger import services
from foaf.ledger.models import Party, PendingProposal, Relationship, StateEntry
from migration import models as m
from migration.api import claim_views, recovery_views
from relay.models import MailboxMessage, Profile
from tests.custody.conftest import IDA, MAE, OLU, ZOE, Phone
from tests.custody.test_claim import assert_log_valid, assert_no_technical_words
from tests.ledger.test_hosting import run_deliveries
from tests.legacy_api.conftest import Tokens
from tests.legacy_api.test_trustlines import Api
from tests.relay.clients import ack, ciphertext_of, deposit, fetch, mailbox_secret, publish_profiles, signed

pytestmark = pytest.mark.django_db

DAY = 86_400
BASE = "/api/claim/v1"


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings: Any) -> None:
    """Each test its own rate-limit buckets: the phones here call far more often than a person would."""
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex


@dataclass
class Clock:
    now: int


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(int(time.time()))
    monkeypatch.setattr(claim_views, "now_unix", lambda: c.now)
    monkeypatch.setattr(recovery_views, "now_unix", lambda: c.now)
    return c


@dataclass
class App:
    """A member's app on a phone: signed calls to the claim API, and its relay mailbox, whose
    messages it hands to its own copy of each relationship (the bilateral core), answering as a
    conforming party does (a must-accept proposal accepted, a refusal sent back where it came from)."""

    phone: Phone
    clock: Clock
    parties: dict[str, core.Party] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)

    @property
    def signer(self) -> core.SeedSigner:
        return self.phone.signer

    @property
    def party_id(self) -> str:
        return m.Member.objects.get(legacy_id=self.phone.legacy_id).party.party_id

    def post(self, path: str, body: dict[str, Any], *, signer: core.SeedSigner | None = None) -> Any:
        data = json.dumps(body).encode()
        headers = signed(signer or self.signer, "POST", path, data)
        r = self.phone.client.post(path, data=data, content_type="application/json", headers=headers)
        self.phone.answers.append(r)
        return r

    def get(self, path: str) -> Any:
        r = self.phone.client.get(path, headers=signed(self.signer, "GET", path))
        self.phone.answers.append(r)
        return r

    def party(self, channel: str) -> core.Party:
        if channel not in self.parties:
            rel = Relationship.objects.get(channel_id=channel)
            self.parties[channel] = core.Party.restore(
                self.signer, list(services.log_entries(rel)), now=self.clock.now, operator_keys=settings.OPERATOR_KEYS
            )
        return self.parties[channel]

    def channels_with(self, party_id: str) -> list[str]:
        me = Party.objects.get(party_id=self.party_id)
        rels = Relationship.objects.filter(party_a=me) | Relationship.objects.filter(party_b=me)
        return [
            r.channel_id
            for r in rels.select_related("party_a", "party_b")
            if party_id == self.party_id or party_id in (r.party_a.party_id, r.party_b.party_id)
        ]

    def poll(self) -> int:
        messages = fetch(self.phone.client, self.signer).json()["messages"]
        for message in messages:
            box_key = Profile.objects.get(key=message["sender"]).mailbox_key
            box = Box(mailbox_secret(self.signer), PublicKey(bytes.fromhex(box_key)))
            data = bytes(box.decrypt(ciphertext_of(message)))
            msg = core.decode(data)
            if isinstance(msg, core.RecoveryNotice):
                channels = self.channels_with(msg.statement.party)
            elif isinstance(msg, core.RecoveryCancelMessage):
                channels = self.channels_with(msg.cancel.party)
            else:
                assert isinstance(msg, core.Proposal), msg
                channels = [msg.state.channel]
            for channel in channels:
                events = self.party(channel).receive(data, now=self.clock.now)
                self.events.extend(events)
                for e in events:
                    answer = None
                    if isinstance(e, core.ProposalReceived):
                        assert e.must_accept
                        answer = self.party(channel).accept(now=self.clock.now)
                    elif isinstance(e, core.Send):
                        answer = e.data
                    if answer is not None:
                        r = deposit(self.phone.client, self.signer, message["sender"], bytes(box.encrypt(answer)))
                        assert r.status_code in (200, 201), r.content
        if messages:
            ack(self.phone.client, self.signer, [x["id"] for x in messages])
        return len(messages)

    def seen(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class World:
    clock: Clock
    olu: App
    mae: App  # Mae's first phone: the one she loses
    policy: core.RecoveryPolicy
    tokens: Tokens

    def member(self, legacy_id: int) -> Party:
        return m.Member.objects.get(legacy_id=legacy_id).party

    def lines(self) -> list[Relationship]:
        mae = self.member(MAE)
        return list(
            (Relationship.objects.filter(party_a=mae) | Relationship.objects.filter(party_b=mae)).order_by("pk")
        )

    def legacy(self, legacy_id: int) -> Api:
        return Api(Client(), self.tokens.v1(legacy_id))


def sign_policy_updates(app: App, body: dict[str, Any], policy: core.RecoveryPolicy) -> dict[str, str]:
    out = {}
    for item in body["to_sign"]:
        state = core.State.from_json(item["state"])
        assert state.hash_hex == item["state_hash"]
        op = state.update.op
        assert isinstance(op, core.SetRecovery) and op.policy == policy
        assert state.member(state.update.proposer).key == app.signer.public_key.hex()
        out[state.hash_hex] = core.sign_state(state, app.signer)
    return out


@pytest.fixture
def world(members: dict[int, m.Member], cohort: Cohort, clock: Clock, tokens: Tokens) -> World:
    """Olu and Mae have claimed (Olu's phone accepting Mae's move of their line), and Mae's phone
    has chosen Ida, Olu and Zoë, two of three, one day."""
    olu, mae = App(Phone(b"\xa1" * 32, OLU), clock), App(Phone(b"\xa2" * 32, MAE), clock)
    assert olu.phone.claim().json()["status"] == "complete"
    publish_profiles(olu.signer)
    assert mae.phone.claim().json()["status"] == "waiting_for_contacts"
    assert olu.poll() == 1
    assert mae.phone.status().json()["status"] == "complete"
    publish_profiles(mae.signer)
    party = {i: m.Member.objects.get(legacy_id=i).party for i in (IDA, OLU, ZOE, MAE)}
    policy = core.make_recovery_policy(
        mae.signer,
        party=party[MAE].party_id,
        guardians=[core.Member(party[i].party_id, party[i].public_key) for i in (IDA, OLU, ZOE)],
        threshold=2,
        delay=DAY,
        counter=1,
        time=clock.now,
    )
    w = World(clock, olu, mae, policy, tokens)
    set_policy(w, policy)
    return w


def set_policy(w: World, policy: core.RecoveryPolicy) -> None:
    r = w.mae.post(f"{BASE}/recovery/policy", {"policy": policy.to_json()})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "setting" and len(body["to_sign"]) == 3
    r = w.mae.post(f"{BASE}/recovery/policy", {"signatures": sign_policy_updates(w.mae, body, policy)})
    body = r.json()
    assert body["status"] == "setting"
    assert sorted(x["status"] for x in body["relationships"]) == ["done", "done", "waiting_counterparty"]
    assert w.olu.poll() == 1  # Olu's phone accepts the update (must-accept, §5.13)
    body = w.mae.get(f"{BASE}/recovery/policy").json()
    assert body["status"] == "in_force", body
    for rel in w.lines():
        head = assert_log_valid(rel).head
        side = "a" if rel.party_a_id == w.member(MAE).pk else "b"
        assert head.recovery is not None and head.recovery.side(side).policy == policy.hash_hex  # type: ignore[union-attr]


def start(w: World, phone: App) -> dict[str, Any]:
    """The new phone starts with Mae's credentials and confirms the statement it is shown."""
    r = phone.phone.start_recovery()
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "confirm_on_device"
    st = body["statement"]
    assert st["new_key"] == phone.signer.public_key.hex() and st["policy"] == w.policy.hash_hex
    sig = phone.signer.sign(core.RecoveryStatement(**st, sig="").signing_message).hex()
    r = phone.phone.post(f"{BASE}/recoveries/{body['recovery_id']}", {"new_sig": sig})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "waiting_for_approvals" and body["approvals"] == {
        "have": 0,
        "need": 2,
        "guardians": [{"party": g.id, "approved": False} for g in w.policy.guardians],
    }
    return body


def statement_of(rid: str) -> core.RecoveryStatement:
    return core.RecoveryStatement.from_json(RecoveryRequest.objects.get(request_id=rid).statement)


def olu_approves(w: World, rid: str) -> Any:
    listed = w.olu.get(f"{BASE}/recovery/requests").json()["to_approve"]
    assert [x["recovery_id"] for x in listed] == [rid]
    st = core.RecoveryStatement.from_json(listed[0]["statement"])
    assert st.hash_hex == listed[0]["recovery_hash"]  # Olu called Mae: it is really her
    approval = core.approve_recovery(w.olu.signer, w.olu.party_id, st)
    return w.olu.post(f"{BASE}/recoveries/{rid}/approvals", {"approval": approval.to_json()})


def ida_approves(w: World, rid: str) -> Any:
    ida = w.legacy(IDA)
    listed = ida("GET", "foaf/recoveries").json()["recoveries"]
    assert [(x["recovery_id"], x["approved"]) for x in listed] == [(rid, False)]
    return ida("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True})


def new_phone(w: World, seed: bytes = b"\xa3" * 32) -> App:
    app = App(Phone(seed, MAE), w.clock)
    return app


def sign_recovery_updates(app: App, body: dict[str, Any]) -> dict[str, str]:
    out = {}
    for item in body["to_sign"]:
        state = core.State.from_json(item["state"])
        op = state.update.op
        assert isinstance(op, core.RecoverKey) and op.statement.new_key == app.signer.public_key.hex()
        assert state.member(state.update.proposer).key == app.signer.public_key.hex()
        out[state.hash_hex] = core.sign_state(state, app.signer)
    return out


def keys_of_mae(w: World) -> set[str]:
    out = set()
    for rel in w.lines():
        head = services.head_state(rel)
        side = "a" if rel.party_a_id == w.member(MAE).pk else "b"
        out.add(head.member(side).key)
    return out


# ------------------------------------------------------------------ the whole recovery
def test_two_of_three_contacts_recover_the_account_after_the_delay(world: World) -> None:
    w = world
    old_key = w.mae.signer.public_key.hex()
    phone = new_phone(w)
    body = start(w, phone)
    rid = body["recovery_id"]
    # Olu approves from his phone.
    r = olu_approves(w, rid)
    assert r.status_code == 201, r.content
    assert phone.phone.recovery_status().json()["approvals"]["have"] == 1
    # Ida approves through the legacy app: the service makes her approval, on her request.
    r = ida_approves(w, rid)
    assert r.status_code == 201, r.content
    assert r.json()["approved_for_you_by_service"] is True
    row = RecoveryApproval.objects.get(request__request_id=rid, guardian=w.member(IDA))
    assert row.on_behalf and row.requested_by_legacy_id == IDA
    st = statement_of(rid)
    core.verify(
        bytes.fromhex(w.member(IDA).public_key),
        core.model.approval_message(w.member(IDA).party_id, st.hash_hex),
        bytes.fromhex(row.sig),
    )
    listed = w.legacy(IDA)("GET", "foaf/recoveries").json()
    assert listed["approved_for_you"][0]["recovery_id"] == rid
    # Two of three: the recovery is announced; the delay runs from now on the service's clock.
    req = RecoveryRequest.objects.get(request_id=rid)
    assert req.status == "waiting_for_delay" and req.due_at == req.noticed_at + DAY  # type: ignore[operator]
    hosted_steps = RecoveryStep.objects.filter(request=req, counterparty_hosted=True)
    assert sorted(s.noticed for s in hosted_steps) == [req.noticed_at, req.noticed_at]
    assert RecoveryStep.objects.get(request=req, counterparty_hosted=False).told
    assert req.old_device_told
    # Olu's phone and Mae's old phone hear of it (the old one: it is its own).
    w.olu.poll()
    (seen,) = w.olu.seen(core.RecoveryNoticed)
    assert not seen.own and seen.due == req.due_at
    w.mae.poll()
    assert {e.own for e in w.mae.seen(core.RecoveryNoticed)} == {True}
    assert w.mae.get(f"{BASE}/recovery/requests").json()["own"][0]["recovery_id"] == rid
    # During the delay nothing is offered.
    w.clock.now = req.due_at - 1  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    assert body["status"] == "waiting_for_delay" and body["to_sign"] == [] and body["due"] == req.due_at
    # After it: the new phone signs each relationship's update.
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    assert body["status"] == "confirm_updates" and len(body["to_sign"]) == 3
    body = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": sign_recovery_updates(phone, body)}).json()
    assert body["status"] == "waiting_for_contacts"
    assert sorted(x["status"] for x in body["relationships"]) == ["done", "done", "waiting_counterparty"]
    assert w.olu.poll() == 1
    body = phone.phone.recovery_status().json()
    assert body["status"] == "complete" and body["message"] == "Your account is now on this device."
    new_key = phone.signer.public_key.hex()
    assert keys_of_mae(w) == {new_key}
    for rel in w.lines():
        log = assert_log_valid(rel)
        assert isinstance(log.head.update.op, core.RecoverKey)
    assert Party.objects.get(pk=w.member(MAE).pk).public_key == new_key
    cm = CohortMember.objects.get(party=w.member(MAE))
    assert cm.recovered_at is not None and cm.recovered_key == new_key
    assert custody.cohort_progress(cm.cohort)["recovered"] == 1
    # Olu's phone's copy agrees with the ledger.
    line3 = Relationship.objects.get(legacy_trustline__legacy_id=3)
    assert w.olu.party(line3.channel_id).state.hash_hex == line3.head_hash  # type: ignore[union-attr]
    # The hosted counterparties' countersignatures are recorded on their behalf.
    rows = m.SignatureOnBehalf.objects.filter(endpoint="recovery", op_type="recover_key")
    assert sorted(s.member_legacy_id for s in rows) == [IDA, ZOE]
    # The new phone takes its relationships' logs.
    for item in body["relationships"]:
        path = f"{BASE}/recoveries/{rid}/entries/{item['channel']}"
        assert w.mae.get(path).status_code == 403
        r = phone.get(path)
        assert r.status_code == 200
        log = [core.LogEntry.from_json(e) for e in r.json()["entries"]]
        assert core.Party.restore(phone.signer, log, now=w.clock.now, operator_keys=settings.OPERATOR_KEYS)
    # The legacy API treats Mae as holding the new key: Ida's payment to her is a proposal for
    # the new phone's mailbox, and nothing is signed for Mae.
    publish_profiles(phone.signer)
    before = m.SignatureOnBehalf.objects.filter(member_legacy_id=MAE).count()
    r = w.legacy(IDA)("POST", "trustlines/2/payment", {"amount": 5}, **{"Idempotency-Key": "after-recovery"})
    assert r.status_code == 202, r.content
    run_deliveries(w.clock.now)
    assert MailboxMessage.objects.filter(recipient=new_key).count() == 1
    assert not MailboxMessage.objects.filter(recipient=old_key, acked_at__isnull=True).exists()
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=MAE).count() == before
    # The old phone's key cancels nothing any more.
    cancel = core.cancel_recovery(w.mae.signer, st, time=w.clock.now)
    r = w.mae.post(f"{BASE}/recovery/cancels", {"cancel": cancel.to_json()})
    assert r.status_code == 409 and r.json()["error"]["code"] == "recovery_complete"
    assert_no_technical_words([w.mae.phone, w.olu.phone, phone.phone])
    assert_no_legacy_technical_words(w)


def assert_no_legacy_technical_words(w: World) -> None:
    from tests.custody.test_claim import FORBIDDEN

    for legacy_id in (IDA, ZOE):
        body = w.legacy(legacy_id)("GET", "foaf/recoveries").json()
        for item in [*body["recoveries"], *body["approved_for_you"]]:
            assert not FORBIDDEN.search(item["status"])


# ------------------------------------------------------------------ too few, a stranger, too early
def test_too_few_contacts_never_complete_the_recovery(world: World) -> None:
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    assert olu_approves(w, rid).status_code == 201
    for days in (1, 2, 30, 89):
        w.clock.now += days * DAY
        body = phone.phone.recovery_status().json()
        assert body["status"] == "waiting_for_approvals" and body["to_sign"] == []
    assert not MailboxMessage.objects.filter(recipient=w.olu.signer.public_key.hex(), acked_at__isnull=True).exists()
    assert keys_of_mae(w) == {w.mae.signer.public_key.hex()}
    # A recover_key built with the one approval anyway is refused by a hosted counterparty's copy
    # exactly as the core says.
    req = RecoveryRequest.objects.get(request_id=rid)
    st = statement_of(rid)
    line2 = Relationship.objects.get(legacy_trustline__legacy_id=2)
    (approval,) = [core.Approval(a.guardian.party_id, a.sig) for a in req.approvals.all()]
    op = core.RecoverKey(st, w.policy, (approval,))
    state, sig = forge_recover_key(phone, line2, op, w.clock.now)
    step = RecoveryStep.objects.create(request=req, relationship=line2, counterparty_hosted=True)
    assert recovery.hosted_decide(step, line2, state, sig, now=w.clock.now) == "TOO_FEW_APPROVALS"
    assert services.head_state(line2).hash_hex == Relationship.objects.get(pk=line2.pk).head_hash
    assert_no_technical_words([phone.phone, w.olu.phone])


def forge_recover_key(phone: App, rel: Relationship, op: core.RecoverKey, now: int) -> tuple[core.State, str]:
    """A recover_key state as the new phone would propose it, built on the head even when the
    core would refuse it (the check must then come from the counterparty)."""
    head = services.head_state(rel)
    side = "a" if head.a.id == op.statement.party else "b"
    full = core.RecoverKey(op.statement, op.policy, op.approvals or ())
    try:
        state = core.apply_op(head, core.Update(side, full, now, now + 300, "f" * 32))
    except core.ProtocolError:
        body = head.json | {"seq": head.seq + 1, "prev": head.hash_hex}
        member = {"id": op.statement.party, "key": op.statement.new_key}
        body[side] = member
        body.pop("recovery", None)
        body["update"] = {
            "proposer": side,
            "op": full.to_json(),
            "created": now,
            "deadline": now + 300,
            "nonce": "f" * 32,
        }
        state = core.State.from_json(body)
    return state, core.sign_state(state, phone.signer)


def test_an_approval_by_someone_not_chosen_is_refused(world: World) -> None:
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    st = statement_of(rid)
    # Mae's own line 4? No: a member she did not choose (Ravi is Olu's contact, not hers) and a
    # device nobody knows.
    stranger = App(Phone(b"\xa9" * 32, MAE), w.clock)
    approval = core.approve_recovery(stranger.signer, stranger.signer.public_key.hex(), st)
    r = stranger.post(f"{BASE}/recoveries/{rid}/approvals", {"approval": approval.to_json()})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_guardian"
    # The admin member (legacy 1) is hosted, and not one of Mae's helpers.
    r = w.legacy(1)("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True})
    assert r.status_code == 403 and r.json()["code"] == "not_a_guardian"
    # Olu signs for another statement, or in Ida's name: refused.
    other = core.RecoveryStatement(st.party, st.old_key, st.new_key, st.policy, st.counter, st.time + 1, st.sig)
    bad = core.approve_recovery(w.olu.signer, w.olu.party_id, other)
    r = w.olu.post(f"{BASE}/recoveries/{rid}/approvals", {"approval": bad.to_json()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "approval_invalid"
    as_ida = core.approve_recovery(w.olu.signer, w.member(IDA).party_id, st)
    r = w.olu.post(f"{BASE}/recoveries/{rid}/approvals", {"approval": as_ida.to_json()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "approval_invalid"
    # The legacy approval asks for an explicit confirmation.
    r = w.legacy(IDA)("POST", f"foaf/recoveries/{rid}/approve", {})
    assert r.status_code == 400 and r.json()["code"] == "confirmation_required"
    assert not RecoveryApproval.objects.exists()
    assert_no_technical_words([phone.phone, stranger.phone, w.olu.phone])


def test_completing_before_the_delay_is_refused_on_the_counterparty_s_clock(world: World) -> None:
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    started = w.clock.now
    # The approvals come in twelve hours later: the delay counts from then.
    w.clock.now += DAY // 2
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    assert req.noticed_at == started + DAY // 2 and req.due_at == started + DAY // 2 + DAY
    # A day after the start the statement's own delay has passed, but not the counterparties'.
    w.clock.now = started + DAY + 60
    assert phone.phone.recovery_status().json()["status"] == "waiting_for_delay"
    notice = core.decode(req.notice.encode())
    assert isinstance(notice, core.RecoveryNotice)
    line2 = Relationship.objects.get(legacy_trustline__legacy_id=2)
    state, sig = forge_recover_key(phone, line2, notice.op, w.clock.now)
    step = RecoveryStep.objects.get(request=req, relationship=line2)
    assert recovery.hosted_decide(step, line2, state, sig, now=w.clock.now) == "RECOVERY_TOO_EARLY"
    # Olu's phone, which saw the notice when it came, refuses too (a signed reject).
    w.olu.poll()
    line3 = Relationship.objects.get(legacy_trustline__legacy_id=3)
    device = core.Party.recovering(
        phone.signer,
        list(services.log_entries(line3)),
        party=w.member(MAE).party_id,
        operator_keys=settings.OPERATOR_KEYS,
    )
    data = device.propose(notice.op, now=w.clock.now, deadline=w.clock.now + 300, nonce="e" * 32)
    events = w.olu.party(line3.channel_id).receive(data, now=w.clock.now)
    assert [e.reason for e in events if isinstance(e, core.ProposalVoided)] == ["RECOVERY_TOO_EARLY"]
    assert keys_of_mae(w) == {w.mae.signer.public_key.hex()}
    assert_no_technical_words([phone.phone])


def test_a_phone_that_hears_of_it_late_counts_the_delay_from_then(world: World) -> None:
    """Olu's phone was off when the recovery was announced: it first sees it in the proposal, a
    day later, and refuses it as not yet due (its own clock, §7.8). The service proposes again a
    delay after that refusal, and it goes through."""
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    body = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": sign_recovery_updates(phone, body)}).json()
    assert w.olu.poll() == 2  # the notice and the proposal, at once
    assert [e.reason for e in w.olu.seen(core.ProposalVoided)] == ["RECOVERY_TOO_EARLY"]
    body = phone.phone.recovery_status().json()
    line3 = Relationship.objects.get(legacy_trustline__legacy_id=3).channel_id
    (mine,) = [x for x in body["relationships"] if x["channel"] == line3]
    assert (mine["status"], mine["reason"]) == ("waiting", "CONTACT_NOT_DUE") and body["to_sign"] == []
    w.clock.now += DAY // 2
    assert phone.phone.recovery_status().json()["to_sign"] == []  # still not: nothing to sign in vain
    w.clock.now += DAY // 2 + 60
    body = phone.phone.recovery_status().json()
    assert [x["channel"] for x in body["to_sign"]] == [line3]
    phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": sign_recovery_updates(phone, body)})
    assert w.olu.poll() == 1
    assert phone.phone.recovery_status().json()["status"] == "complete"
    assert keys_of_mae(w) == {phone.signer.public_key.hex()}
    assert_no_technical_words([phone.phone])


# ------------------------------------------------------------------ the old phone cancels
def test_the_old_phone_cancels_during_the_delay_and_the_recovery_fails_everywhere(world: World) -> None:
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    # Mae's old phone was not lost after all: it hears of the recovery and stops it.
    w.clock.now += 3600
    assert w.mae.poll() == 1
    own = w.mae.get(f"{BASE}/recovery/requests").json()["own"]
    st = core.RecoveryStatement.from_json(own[0]["statement"])
    # Only the old phone's key may: the new phone (or anyone else) is refused.
    for signer in (phone.signer, w.olu.signer):
        forged = core.cancel_recovery(signer, st, time=w.clock.now)
        r = w.mae.post(f"{BASE}/recovery/cancels", {"cancel": forged.to_json()}, signer=signer)
        assert r.status_code == 403 and r.json()["error"]["code"] == "cancel_invalid"
    cancel = core.cancel_recovery(w.mae.signer, st, time=w.clock.now)
    r = w.mae.post(f"{BASE}/recovery/cancels", {"cancel": cancel.to_json()})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    req.refresh_from_db()
    assert req.status == "cancelled" and req.cancel == cancel.to_json()
    assert all(s.cancel for s in RecoveryStep.objects.filter(request=req))
    w.olu.poll()
    assert [e.cancel.recovery for e in w.olu.seen(core.RecoveryCancelled)] == [st.hash_hex]
    # After the delay: nothing is offered, the new phone's confirmations are refused...
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    assert body["status"] == "cancelled" and body["to_sign"] == []
    r = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": {"00" * 32: "00" * 64}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "recovery_cancelled"
    # ...and every counterparty refuses the recover_key: the hosted ones' copies, persisted...
    notice = core.decode(req.notice.encode())
    assert isinstance(notice, core.RecoveryNotice)
    for line in (2, 5):
        rel = Relationship.objects.get(legacy_trustline__legacy_id=line)
        state, sig = forge_recover_key(phone, rel, notice.op, w.clock.now)
        step = RecoveryStep.objects.get(request=req, relationship=rel)
        assert recovery.hosted_decide(step, rel, state, sig, now=w.clock.now) == "RECOVERY_CANCELLED"
    # ...and Olu's phone.
    line3 = Relationship.objects.get(legacy_trustline__legacy_id=3)
    device = core.Party.recovering(
        phone.signer,
        list(services.log_entries(line3)),
        party=w.member(MAE).party_id,
        operator_keys=settings.OPERATOR_KEYS,
    )
    data = device.propose(notice.op, now=w.clock.now, deadline=w.clock.now + 300, nonce="e" * 32)
    events = w.olu.party(line3.channel_id).receive(data, now=w.clock.now)
    assert [e.reason for e in events if isinstance(e, core.ProposalVoided)] == ["RECOVERY_CANCELLED"]
    assert keys_of_mae(w) == {w.mae.signer.public_key.hex()}
    # Approving a cancelled recovery is refused; a new attempt may start (a new device, new approvals).
    r = w.legacy(ZOE)("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True})
    assert r.status_code == 409 and r.json()["code"] == "recovery_cancelled"
    again = new_phone(w, b"\xa4" * 32)
    assert start(w, again)["recovery_id"] != rid
    assert_no_technical_words([phone.phone, w.mae.phone, again.phone])


# ------------------------------------------------------------------ retry, duplicate, crash
def test_every_request_again_changes_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    # The same policy again: the same answer, nothing new.
    entries = StateEntry.objects.count()
    r = w.mae.post(f"{BASE}/recovery/policy", {"policy": w.policy.to_json()})
    assert r.status_code == 200 and r.json()["status"] == "in_force"
    assert StateEntry.objects.count() == entries
    phone = new_phone(w)
    body = start(w, phone)
    rid = body["recovery_id"]
    again = phone.phone.start_recovery()
    assert again.status_code == 200 and again.json()["recovery_id"] == rid
    st = statement_of(rid)
    sig = phone.signer.sign(core.RecoveryStatement(**{**st.to_json(), "sig": ""}).signing_message).hex()  # type: ignore[arg-type]
    assert phone.phone.post(f"{BASE}/recoveries/{rid}", {"new_sig": sig}).json()["status"] == "waiting_for_approvals"
    other = new_phone(w, b"\xa5" * 32).phone.start_recovery()
    assert other.status_code == 409 and other.json()["error"]["code"] == "recovery_other_device"
    # Each approval twice: one row each.
    assert olu_approves(w, rid).status_code == 201
    assert olu_approves(w, rid).status_code == 200
    assert ida_approves(w, rid).status_code == 201
    ida = w.legacy(IDA)
    assert ida("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True}).status_code == 200
    assert RecoveryApproval.objects.filter(request__request_id=rid).count() == 2
    assert w.olu.poll() == 1  # the notice: Olu's phone counts the delay from now
    req = RecoveryRequest.objects.get(request_id=rid)
    notice = req.notice
    # Telling again (a beat, a crash mid-way) deposits nothing twice.
    boxes = MailboxMessage.objects.count()
    recovery.tell_pending(now=w.clock.now)
    assert MailboxMessage.objects.count() == boxes
    assert tell_recoveries() >= 1  # beat's task, on the real clock: still nothing deposited twice
    assert MailboxMessage.objects.count() == boxes
    assert RecoveryRequest.objects.get(pk=req.pk).notice == notice
    # After the delay the new phone signs; the process dies after the first relationship moved.
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    signatures = sign_recovery_updates(phone, body)
    real_append = services.entry_append
    moved: list[str] = []

    def append_then_die(entry: core.LogEntry, **kw: Any) -> Any:
        if isinstance(entry.state.update.op, core.RecoverKey):
            if moved:
                raise RuntimeError("the process dies here")
            moved.append(entry.state.channel)
        return real_append(entry, **kw)

    monkeypatch.setattr(services, "entry_append", append_then_die)
    with pytest.raises(RuntimeError):
        phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": signatures})
    phone.phone.answers.pop()  # no answer reached the phone
    monkeypatch.setattr(services, "entry_append", real_append)
    assert len(keys_of_mae(w)) == 2  # half-way: one relationship on the new key
    # The same call again: the rest is done, nothing twice; and again: still nothing more.
    body = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": signatures}).json()
    assert body["status"] == "waiting_for_contacts"
    assert w.olu.poll() == 1
    assert phone.phone.recovery_status().json()["status"] == "complete"
    entries = StateEntry.objects.count()
    assert phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": signatures}).json()["status"] == "complete"
    assert StateEntry.objects.count() == entries
    for rel in w.lines():
        recovered = [e for e in services.log_entries(rel) if isinstance(e.state.update.op, core.RecoverKey)]
        assert len(recovered) == 1
        assert_log_valid(rel)
    assert not PendingProposal.objects.filter(status="open", relationship__in=w.lines()).exists()
    assert_no_technical_words([phone.phone, w.olu.phone, w.mae.phone])


def test_bad_input_gets_a_stable_code(world: World) -> None:
    w = world
    # A policy naming someone who is not a contact, or signed by another key, or unsigned calls.
    ravi = m.Member.objects.get(legacy_id=5).party
    bad = core.make_recovery_policy(
        w.mae.signer, party=w.member(MAE).party_id, guardians=[core.Member(ravi.party_id, ravi.public_key)],
        threshold=1, delay=DAY, counter=2, time=w.clock.now,
    )  # fmt: skip
    r = w.mae.post(f"{BASE}/recovery/policy", {"policy": bad.to_json()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_not_a_contact"
    short = {**w.policy.to_json(), "delay": 3600}
    r = w.mae.post(f"{BASE}/recovery/policy", {"policy": short})
    assert r.status_code == 422 and r.json()["error"]["code"] == "policy_invalid"
    r = w.mae.phone.post(f"{BASE}/recovery/policy", {"policy": w.policy.to_json()})  # not signed
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_this_device"
    # A hosted member has no device to set a policy from, nor to recover to.
    ida_phone = Phone(b"\xaa" * 32, IDA)
    r = ida_phone.start_recovery()
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_on_device"
    r = Phone(b"\xab" * 32, MAE).start_recovery(password="wrong")
    assert r.status_code == 401 and r.json()["error"]["code"] == "credentials_refused"
    r = w.mae.phone.get(f"{BASE}/recoveries/{'0' * 32}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_recovery"
    # While Rails still writes credit (the cut-over's shadow period) no recovery starts.
    from migration.cutover import phase as cutover_phase

    m.CutoverState.objects.create(pk=1, phase=m.CutoverState.Phase.SHADOW)
    cutover_phase.forget()
    late = Phone(b"\xac" * 32, MAE)
    r = late.start_recovery()
    assert r.status_code == 403 and r.json()["error"]["code"] == "before_switch"
    assert_no_technical_words([w.mae.phone, ida_phone, late])


# ------------------------------------------------------------------ the operator's views
def test_the_admin_shows_policies_and_recoveries_with_their_approvals_read_only(world: World) -> None:
    from django.contrib.auth import get_user_model
    from django.utils.html import escape

    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    cancel = core.cancel_recovery(w.mae.signer, statement_of(rid), time=w.clock.now)
    assert w.mae.post(f"{BASE}/recovery/cancels", {"cancel": cancel.to_json()}).status_code == 200
    operator = get_user_model().objects.create_superuser("operator", "op@example.org", "pw")
    client = Client()
    client.force_login(operator)
    r = client.get("/admin/custody/recoveryrequest/")
    assert r.status_code == 200 and rid.encode() in r.content and b"2 of 2" in r.content
    r = client.get(f"/admin/custody/recoveryrequest/{req.pk}/change/")
    assert r.status_code == 200
    page = r.content.decode()
    # Who approved, that the service made Ida's on her request (legacy id 2), when due, cancelled.
    assert "on behalf" in page and "requested by legacy id" in page.lower()
    assert escape(str(w.member(IDA))) in page and escape(str(w.member(OLU))) in page
    assert f">{IDA}<" in page  # requested_by_legacy_id
    assert "cancelled" in page
    r = client.get("/admin/custody/recoverypolicy/")
    assert r.status_code == 200 and w.policy.hash_hex.encode() in r.content
    pol = req.policy
    assert client.get(f"/admin/custody/recoverypolicy/{pol.pk}/change/").status_code == 200
    # Read-only: no add, no change, no delete.
    assert client.get("/admin/custody/recoveryrequest/add/").status_code == 403
    r = client.post(f"/admin/custody/recoveryrequest/{req.pk}/delete/", {"post": "yes"})
    assert r.status_code == 403 and RecoveryRequest.objects.filter(pk=req.pk).exists()
    # A recovery started from a device that went silent keeps others out until the operator stops
    # it; an announced one only the old key stops.
    silent = new_phone(w, b"\xa7" * 32)
    assert silent.phone.start_recovery().status_code == 201
    assert new_phone(w, b"\xa8" * 32).phone.start_recovery().status_code == 409
    stuck = RecoveryRequest.objects.get(request_id=silent.phone.recovery_id)
    announced = new_phone(w, b"\xac" * 32)
    r = client.post("/admin/custody/recoveryrequest/", {"action": "stop", "_selected_action": [stuck.pk]}, follow=True)
    assert r.status_code == 200 and b"1 recovery request(s) stopped" in r.content
    assert RecoveryRequest.objects.get(pk=stuck.pk).status == "cancelled"
    rid2 = start(w, announced)["recovery_id"]
    olu_approves(w, rid2)
    ida_approves(w, rid2)
    live = RecoveryRequest.objects.get(request_id=rid2)
    client.post("/admin/custody/recoveryrequest/", {"action": "stop", "_selected_action": [live.pk]}, follow=True)
    assert RecoveryRequest.objects.get(pk=live.pk).status == "waiting_for_delay"


def test_one_courier_mailbox_serves_every_member_s_flow(world: World) -> None:
    """Ida claims too, and she and Mae both choose helpers at once: their updates on the line they
    share go one at a time, and each member's call collects whatever answers the courier holds,
    the other member's included (none is dropped)."""
    w = world
    ida = App(Phone(b"\xa6" * 32, IDA), w.clock)
    assert ida.phone.claim().json()["status"] == "waiting_for_contacts"
    assert (w.olu.poll(), w.mae.poll()) == (1, 1)
    assert ida.phone.status().json()["status"] == "complete"
    publish_profiles(ida.signer)
    olu, mae = w.member(OLU), w.member(MAE)
    ida_policy = core.make_recovery_policy(
        ida.signer,
        party=w.member(IDA).party_id,
        guardians=[core.Member(p.party_id, p.public_key) for p in (olu, mae)],
        threshold=1,
        delay=2 * DAY,
        counter=1,
        time=w.clock.now,
    )
    second = core.make_recovery_policy(
        w.mae.signer,
        party=mae.party_id,
        guardians=[core.Member(p.party_id, p.public_key) for p in (w.member(IDA), olu)],
        threshold=2,
        delay=DAY,
        counter=2,
        time=w.clock.now,
    )
    body = ida.post(f"{BASE}/recovery/policy", {"policy": ida_policy.to_json()}).json()
    body = ida.post(f"{BASE}/recovery/policy", {"signatures": sign_policy_updates(ida, body, ida_policy)}).json()
    assert [x["status"] for x in body["relationships"]] == ["waiting_counterparty", "waiting_counterparty"]
    body = w.mae.post(f"{BASE}/recovery/policy", {"policy": second.to_json()}).json()
    body = w.mae.post(f"{BASE}/recovery/policy", {"signatures": sign_policy_updates(w.mae, body, second)}).json()
    line2 = Relationship.objects.get(legacy_trustline__legacy_id=2).channel_id
    (shared,) = [x for x in body["relationships"] if x["channel"] == line2]
    assert (shared["status"], shared["reason"]) == ("waiting_counterparty", "EARLIER_PROPOSAL_OPEN")
    assert w.olu.poll() == 2  # Ida's line 1 and Mae's line 3: both answers go to the courier
    w.mae.get(f"{BASE}/recovery/policy")  # Mae's call collects both
    body = ida.get(f"{BASE}/recovery/policy").json()
    assert sorted(x["status"] for x in body["relationships"]) == ["done", "waiting_counterparty"]
    assert w.mae.poll() == 1  # Mae's phone accepts Ida's update of line 2
    assert ida.get(f"{BASE}/recovery/policy").json()["status"] == "in_force"
    body = w.mae.get(f"{BASE}/recovery/policy").json()
    assert [x["channel"] for x in body["to_sign"]] == [line2]  # now Mae's turn on line 2
    w.mae.post(f"{BASE}/recovery/policy", {"signatures": sign_policy_updates(w.mae, body, second)})
    assert ida.poll() == 1
    assert w.mae.get(f"{BASE}/recovery/policy").json()["status"] == "in_force"
    head = assert_log_valid(Relationship.objects.get(channel_id=line2)).head
    assert head.recovery is not None
    assert {r.policy for r in (head.recovery.a, head.recovery.b) if r} == {ida_policy.hash_hex, second.hash_hex}
    assert_no_technical_words([ida.phone, w.mae.phone])


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_announce_once_and_two_confirmations_at_once_move_once(world: World) -> None:
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    st = statement_of(rid)
    approval = core.approve_recovery(w.olu.signer, w.olu.party_id, st)
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def run(call: Any) -> None:
        try:
            barrier.wait()
            answers.append(call())
        finally:
            connections.close_all()

    olu = App(Phone(w.olu.phone.seed, OLU), w.clock)
    calls = [
        lambda: olu.post(f"{BASE}/recoveries/{rid}/approvals", {"approval": approval.to_json()}),
        lambda: w.legacy(IDA)("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True}),
    ]
    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 201]
    req = RecoveryRequest.objects.get(request_id=rid)
    assert req.status == "waiting_for_delay" and req.notice
    assert MailboxMessage.objects.filter(recipient=w.olu.signer.public_key.hex(), acked_at__isnull=True).count() == 1
    assert w.olu.poll() == 1
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    signatures = sign_recovery_updates(phone, phone.phone.recovery_status().json())
    answers.clear()
    barrier = threading.Barrier(2)
    twins = [App(Phone(phone.phone.seed, MAE), w.clock) for _ in range(2)]
    calls = [lambda p=p: p.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": signatures}) for p in twins]
    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert w.olu.poll() == 1  # one proposal reached Olu's phone, not two
    assert phone.phone.recovery_status().json()["status"] == "complete"
    for rel in w.lines():
        assert len([e for e in services.log_entries(rel) if isinstance(e.state.update.op, core.RecoverKey)]) == 1
    assert m.SignatureOnBehalf.objects.filter(endpoint="recovery").count() == 2


def test_a_cancel_stored_while_the_new_phone_s_confirmations_are_handled_stops_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the delay the new phone's confirmations arrive; the call read the recovery just before
    the old phone's cancel was stored, and the cancel has not reached the counterparties' copies yet
    (its telling crashed, or is still under way). The service makes no counterparty accept the
    recovery after the cancel is stored: the member's account stays with the old phone."""
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    assert body["status"] == "confirm_updates" and len(body["to_sign"]) == 3
    signatures = sign_recovery_updates(phone, body)
    read_before = RecoveryRequest.objects.get(request_id=rid)

    def crash(*a: Any, **kw: Any) -> None:
        raise RuntimeError("crash after the cancel was stored")

    monkeypatch.setattr(recovery, "_tell_cancel", crash)
    cancel = core.cancel_recovery(w.mae.signer, statement_of(rid), time=w.clock.now)
    with pytest.raises(RuntimeError):
        recovery.cancel_submit(key=w.mae.signer.public_key.hex(), cancel=cancel.to_json(), now=w.clock.now)
    assert RecoveryRequest.objects.get(pk=req.pk).status == "cancelled"
    recovery.recovery_advance(read_before, signatures=signatures, now=w.clock.now, on_behalf=custody._nobody)
    assert keys_of_mae(w) == {w.mae.signer.public_key.hex()}
    assert RecoveryRequest.objects.get(pk=req.pk).status == "cancelled"


def test_a_crash_after_the_last_approval_is_announced_by_the_next_status_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval reaching the threshold is stored, then the service crashes before announcing.
    The helpers have nothing left to do; the new phone's next status poll does what is due."""
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    announce = recovery._announce_if_ready

    def crash(*a: Any, **kw: Any) -> None:
        raise RuntimeError("crash before announcing")

    monkeypatch.setattr(recovery, "_announce_if_ready", crash)
    req = RecoveryRequest.objects.get(request_id=rid)
    ida = w.member(IDA)
    with pytest.raises(RuntimeError):
        recovery.approve_on_behalf(req, guardian=ida, requested_by_legacy_id=IDA, now=w.clock.now)
    assert RecoveryApproval.objects.filter(request=req).count() == 2
    monkeypatch.setattr(recovery, "_announce_if_ready", announce)
    body = phone.phone.recovery_status().json()
    assert body["status"] == "waiting_for_delay" and body["due"] is not None
    req.refresh_from_db()
    assert req.notice and req.old_device_told


def test_the_old_phone_may_cancel_while_contacts_phones_have_not_answered_yet(world: World) -> None:
    """After the delay the new phone signed everything: the hosted contacts' copies moved at once,
    Olu's phone has not answered. Mae's old phone still holds her key in that relationship and may
    stop the recovery there (§5.16: the cancel is judged per relationship): the service takes the
    cancel and tells Olu's phone, rather than answering that this is not her device."""
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    olu_approves(w, rid)
    ida_approves(w, rid)
    req = RecoveryRequest.objects.get(request_id=rid)
    w.clock.now = req.due_at + 60  # type: ignore[operator]
    body = phone.phone.recovery_status().json()
    body = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": sign_recovery_updates(phone, body)}).json()
    assert body["status"] == "waiting_for_contacts"
    old_key = w.mae.signer.public_key.hex()
    assert keys_of_mae(w) == {old_key, phone.signer.public_key.hex()}  # half moved
    own = w.mae.get(f"{BASE}/recovery/requests").json()["own"]  # the old phone still sees it
    assert [x["recovery_id"] for x in own] == [rid]
    cancel = core.cancel_recovery(w.mae.signer, statement_of(rid), time=w.clock.now)
    r = w.mae.post(f"{BASE}/recovery/cancels", {"cancel": cancel.to_json()})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "cancelled"
    olu_step = RecoveryStep.objects.get(request=req, counterparty_hosted=False)
    assert olu_step.cancel
    w.olu.poll()
    assert [e.cancel.recovery for e in w.olu.seen(core.RecoveryCancelled)] == [statement_of(rid).hash_hex]


def test_a_helper_half_way_moving_to_their_own_phone_approves_there_not_through_the_service(world: World) -> None:
    """Ida (a helper Mae chose while the service held Ida's key) is half-way through moving her own
    account to her phone: one relationship moved, the other waits for Mae's phone. The service
    no longer signs for her (docs/claim.md, "A half-way member"): her legacy approval is refused
    as for a helper who moved, and nothing is signed with the key it still holds for her."""
    w = world
    ida_phone = Phone(b"\xa5" * 32, IDA)
    assert ida_phone.claim().json()["status"] == "waiting_for_contacts"
    assert w.olu.poll() == 1  # Olu's phone accepts Ida's move of their line; Mae's phone is lost
    assert ida_phone.status().json()["status"] == "waiting_for_contacts"
    assert Party.objects.get(pk=w.member(IDA).pk).public_key == ida_phone.key  # half-way
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    r = w.legacy(IDA)("POST", f"foaf/recoveries/{rid}/approve", {"confirm": True})
    assert r.status_code == 409 and r.json()["code"] == "guardian_moved", r.content
    assert not RecoveryApproval.objects.filter(request__request_id=rid).exists()


def test_a_stopped_or_cancelled_recovery_s_device_reads_no_log(world: World) -> None:
    """A recovery started by someone who knew the password, stopped by the operator (or cancelled
    by the old phone): its device reads none of the member's relationships any more."""
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    path = f"{BASE}/recoveries/{rid}/entries/{w.lines()[0].channel_id}"
    assert phone.get(path).status_code == 200
    assert recovery.recovery_stop(RecoveryRequest.objects.get(request_id=rid), now=w.clock.now)
    r = phone.get(path)
    assert r.status_code == 409 and r.json()["error"]["code"] == "recovery_cancelled", r.content
    assert_no_technical_words([phone.phone])


def test_a_recovery_the_operator_stopped_does_not_say_the_old_phone_stopped_it(world: World) -> None:
    w = world
    phone = new_phone(w)
    rid = start(w, phone)["recovery_id"]
    assert recovery.recovery_stop(RecoveryRequest.objects.get(request_id=rid), now=w.clock.now)
    body = phone.phone.recovery_status().json()
    assert body["status"] == "cancelled" and "old device" not in body["message"], body
    r = phone.phone.post(f"{BASE}/recoveries/{rid}", {"signatures": {"00" * 32: "00" * 64}})
    assert r.status_code == 409 and "old device" not in r.json()["error"]["message"]
    assert_no_technical_words([phone.phone])
