"""Social recovery (spec §5.14-§5.16, §6.7, §6.8, §7.8) with real Ed25519 signatures.

Alice (0x11) has channels with Bob (0x22), Carol (0x44) and Dave (0x66) and names all three her
guardians, two of whom must approve; the delay is one day, counted on a simulated clock. Her new
device holds 0x77; Mallory (0x55) is an outsider."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from foaf.bilateral import (
    Approval,
    ErrorCode,
    LocalProtocolError,
    Member,
    Party,
    Payment,
    Proposal,
    ProposalReceived,
    ProposalRejected,
    ProposalVoided,
    RecoverKey,
    RecoveryCancelled,
    RecoveryCancelMessage,
    RecoveryNotice,
    RecoveryNoticed,
    RecoveryPolicy,
    RecoveryStatement,
    RemoteProtocolError,
    SeedSigner,
    Send,
    SetRecovery,
    State,
    StateCommitted,
    Update,
    apply_op,
    approve_recovery,
    cancel_recovery,
    check_recovery_cancel,
    check_recovery_policy,
    decode,
    make_genesis,
    make_recovery,
    make_recovery_policy,
    recovery_due,
)
from foaf.bilateral.crypto import TAG_KEY_ROTATION, sha256, signing_message
from foaf.bilateral.jcs import canonicalize
from foaf.bilateral.model import approval_body

ALICE, BOB, CAROL, DAVE = (SeedSigner(bytes([b]) * 32) for b in (0x11, 0x22, 0x44, 0x66))
MALLORY, NEW = SeedSigner(b"\x55" * 32), SeedSigner(b"\x77" * 32)
T0 = 1767225600
DAY = 86_400
A_ID = ALICE.public_key.hex()


def nonce(i: int) -> str:
    return f"{i:032x}"


def member(s: SeedSigner) -> Member:
    return Member.inception(s.public_key)


def the(events: list[object], kind: type) -> object:
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, events
    return found[0]


def sent(events: list[object]) -> bytes:
    s = the(events, Send)
    assert isinstance(s, Send)
    return s.data


@dataclass
class Channel:
    """Alice (old device) and one counterparty, with a co-signed genesis."""

    alice: Party
    peer: Party
    n: int = 100

    @classmethod
    def open(cls, peer: SeedSigner, i: int) -> Channel:
        g = make_genesis(
            a=member(ALICE),
            b=member(peer),
            currency="USD",
            limit_a_to_b=10000,
            limit_b_to_a=5000,
            proposer="a",
            created=T0,
            deadline=T0 + 600,
            nonce=nonce(i),
        )
        alice, out = Party.open(ALICE, g, now=T0)
        other, _ = Party.join(peer, out, now=T0 + 1)
        alice.receive(other.accept(now=T0 + 2), now=T0 + 3)
        return cls(alice, other)

    def nonce(self) -> str:
        self.n += 1
        return nonce(self.n)

    def round(self, proposer: Party, decider: Party, op: object, now: int) -> list[object]:
        """`proposer` proposes, `decider` accepts (it must be offered), `proposer` commits."""
        evs = decider.receive(proposer.propose(op, now=now, deadline=now + 300, nonce=self.nonce()), now=now)  # type: ignore[arg-type]
        got = the(evs, ProposalReceived)
        assert isinstance(got, ProposalReceived)
        done = proposer.receive(decider.accept(now=now + 1), now=now + 1)
        assert isinstance(the(done, StateCommitted), StateCommitted)
        return [got]


@dataclass
class World:
    channels: dict[str, Channel]
    policy: RecoveryPolicy

    @classmethod
    def with_policy(cls, threshold: int = 2, delay: int = DAY) -> World:
        chans = {"bob": Channel.open(BOB, 1), "carol": Channel.open(CAROL, 2), "dave": Channel.open(DAVE, 3)}
        policy = make_recovery_policy(
            ALICE,
            party=A_ID,
            guardians=[member(DAVE), member(BOB), member(CAROL)],
            threshold=threshold,
            delay=delay,
            counter=1,
            time=T0 + 3000,
        )
        for c in chans.values():
            (got,) = c.round(c.alice, c.peer, SetRecovery(policy), T0 + 3600)
            assert isinstance(got, ProposalReceived) and got.must_accept
            head = c.peer.state
            assert head is not None and head.recovery is not None and head.recovery.a is not None
            assert head.recovery.a.policy == policy.hash_hex and head.recovery.b is None
        return cls(chans, policy)

    def statement(self, time: int = T0 + 10_000, key: SeedSigner = NEW) -> RecoveryStatement:
        return make_recovery(key, party=A_ID, old_key=A_ID, policy=self.policy, counter=2, time=time)

    def new_device(self, name: str) -> Party:
        """Alice's new device on one channel, from the counterparty's copy of the log."""
        return Party.recovering(NEW, self.channels[name].peer.log, party=A_ID)


def approvals(st: RecoveryStatement, *guardians: SeedSigner) -> tuple[Approval, ...]:
    return tuple(approve_recovery(g, g.public_key.hex(), st) for g in guardians)


def test_two_of_three_guardians_recover_every_channel_after_the_delay() -> None:
    w = World.with_policy()
    st = w.statement()
    apps = approvals(st, BOB, CAROL)  # the same two approvals serve every channel
    op = RecoverKey(st, w.policy, apps)
    notice = RecoveryNotice(st, w.policy, apps).encode()
    for name, c in w.channels.items():
        dev = w.new_device(name)
        seen = the(c.peer.receive(notice, now=st.time + 5), RecoveryNoticed)
        assert isinstance(seen, RecoveryNoticed)
        assert (seen.noticed, seen.due, seen.own, seen.cancelled) == (st.time + 5, st.time + 5 + DAY, False, False)
        # the old device hears of it too (the counterparty forwards the notice): it is its own
        own = the(c.alice.receive(notice, now=st.time + 6), RecoveryNoticed)
        assert isinstance(own, RecoveryNoticed) and own.own
        now = st.time + 5 + DAY
        evs = c.peer.receive(dev.propose(op, now=now, deadline=now + 300, nonce=nonce(7)), now=now)
        got = the(evs, ProposalReceived)
        assert isinstance(got, ProposalReceived) and got.must_accept
        with pytest.raises(LocalProtocolError) as e:  # must-accept: refusing it is not allowed
            c.peer.reject("DECLINED", now=now + 1)
        assert e.value.code is ErrorCode.REJECT_NOT_ALLOWED
        assert isinstance(the(dev.receive(c.peer.accept(now=now + 1), now=now + 2), StateCommitted), StateCommitted)
        head = dev.state
        assert head is not None and head == c.peer.state
        assert head.a == Member(A_ID, NEW.public_key.hex())  # id unchanged, key replaced
        assert head.recovery is None  # the policy was bound to the old key
        # the new device now signs as Alice
        c.round(dev, c.peer, Payment("a", 100, "after recovery"), now + 10)
        # a fresh policy under the new key can be set
        p2 = make_recovery_policy(
            NEW, party=A_ID, guardians=[member(BOB), member(CAROL)], threshold=2, delay=DAY, counter=1, time=now
        )
        c.round(dev, c.peer, SetRecovery(p2), now + 20)


def test_too_few_contacts_cannot_recover() -> None:
    w = World.with_policy()
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB))
    c = w.channels["bob"]
    with pytest.raises(RemoteProtocolError) as e:
        c.peer.receive(RecoveryNotice(st, w.policy, op.approvals).encode(), now=st.time)
    assert e.value.code is ErrorCode.TOO_FEW_APPROVALS
    dev = w.new_device("bob")
    later = st.time + 2 * DAY
    with pytest.raises(LocalProtocolError) as le:
        dev.propose(op, now=later, deadline=later + 300, nonce=nonce(7))
    assert le.value.code is ErrorCode.TOO_FEW_APPROVALS
    # a proposal built anyway is refused by the counterparty with the same code
    head = c.peer.state
    assert head is not None
    full = RecoverKey(st, w.policy, approvals(st, BOB, CAROL))
    built = apply_op(head, Update("a", full, later, later + 300, nonce(7))).json
    forged = State.from_json({**built, "update": {**built["update"], "op": op.to_json()}})
    data = Proposal(forged, NEW.sign(forged.signing_message).hex()).encode()
    with pytest.raises(RemoteProtocolError) as re_:
        c.peer.receive(data, now=later)
    assert re_.value.code is ErrorCode.TOO_FEW_APPROVALS
    assert c.peer.state == head


def test_the_old_key_cancels_during_the_delay() -> None:
    w = World.with_policy()
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB, DAVE))
    bob, carol = w.channels["bob"], w.channels["carol"]
    for c in (bob, carol):
        c.peer.receive(RecoveryNotice(st, w.policy, op.approvals).encode(), now=st.time)
    # Alice's old device still works: it cancels, and the cancel goes to every counterparty
    cancel = RecoveryCancelMessage(cancel_recovery(ALICE, st, time=st.time + 3600)).encode()
    for c in (bob, carol):
        got = the(c.peer.receive(cancel, now=st.time + 3600), RecoveryCancelled)
        assert isinstance(got, RecoveryCancelled) and got.cancel.recovery == st.hash_hex
    assert bob.peer.recovery_cancels == [cancel]
    # at the due time Bob refuses the recover_key with a signed reject
    due = st.time + DAY
    dev = w.new_device("bob")
    evs = bob.peer.receive(dev.propose(op, now=due, deadline=due + 300, nonce=nonce(7)), now=due)
    voided = the(evs, ProposalVoided)
    assert isinstance(voided, ProposalVoided) and voided.reason == "RECOVERY_CANCELLED"
    rej = the(dev.receive(sent(evs), now=due + 1), ProposalRejected)
    assert isinstance(rej, ProposalRejected) and rej.reject.reason == "RECOVERY_CANCELLED"
    assert rej.violation is None  # an allowed refusal of a must-accept op
    assert bob.peer.state is not None and bob.peer.state.a.key == A_ID
    # a cancel that arrives while the recover_key awaits Carol's decision voids it
    fresh = w.channels["dave"]
    fresh.peer.receive(RecoveryNotice(st, w.policy, op.approvals).encode(), now=st.time)
    dave_dev = w.new_device("dave")
    evs = fresh.peer.receive(dave_dev.propose(op, now=due, deadline=due + 300, nonce=nonce(8)), now=due)
    assert isinstance(the(evs, ProposalReceived), ProposalReceived)
    evs = fresh.peer.receive(cancel, now=due + 10)
    assert isinstance(the(evs, RecoveryCancelled), RecoveryCancelled)
    assert the(evs, ProposalVoided).reason == "RECOVERY_CANCELLED"  # type: ignore[attr-defined]
    assert decode(sent(evs)).reason == "RECOVERY_CANCELLED"  # type: ignore[union-attr]
    with pytest.raises(LocalProtocolError) as e:
        fresh.peer.accept(now=due + 11)
    assert e.value.code is ErrorCode.NOTHING_PENDING
    # a recovery started after the cancel is a new attempt: new approvals, its own delay
    st2 = w.statement(time=st.time + 7200)
    op2 = RecoverKey(st2, w.policy, approvals(st2, BOB, CAROL))
    seen = the(bob.peer.receive(RecoveryNotice(st2, w.policy, op2.approvals).encode(), now=st2.time), RecoveryNoticed)
    assert isinstance(seen, RecoveryNoticed) and not seen.cancelled and seen.due == st2.time + DAY


def test_a_cancel_must_be_signed_by_the_current_key() -> None:
    w = World.with_policy()
    st = w.statement()
    c = w.channels["bob"]
    head = c.peer.state
    assert head is not None
    for signer, code in ((MALLORY, ErrorCode.BAD_RECOVERY), (NEW, ErrorCode.BAD_RECOVERY)):
        with pytest.raises(RemoteProtocolError) as e:
            c.peer.receive(RecoveryCancelMessage(cancel_recovery(signer, st, time=st.time)).encode(), now=st.time)
        assert e.value.code is code
    good = cancel_recovery(ALICE, st, time=st.time)
    forged = type(good)(good.party, good.key, good.recovery, good.time + 1, good.sig)
    with pytest.raises(RemoteProtocolError) as e:
        check_recovery_cancel(head, forged)
    assert e.value.code is ErrorCode.BAD_SIGNATURE
    assert check_recovery_cancel(head, good) == "a"


def test_approvals_serve_every_channel_but_only_their_own_statement() -> None:
    w = World.with_policy()
    st = w.statement()
    apps = approvals(st, BOB, CAROL)
    due = st.time + DAY
    heads = [c.peer.state for c in w.channels.values()]
    nexts = [apply_op(h, Update("a", RecoverKey(st, w.policy, apps), due, due + 300, nonce(9))) for h in heads if h]
    assert len({n.a.key for n in nexts}) == 1 and len({n.channel for n in nexts}) == 3
    other = w.statement(time=st.time + 1)  # another statement: the approvals do not carry over
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(heads[0], Update("a", RecoverKey(other, w.policy, apps), due + 1, due + 300, nonce(9)))  # type: ignore[arg-type]
    assert e.value.code is ErrorCode.BAD_SIGNATURE


def test_a_stale_policy_after_a_later_key_rotation_is_refused() -> None:
    w = World.with_policy()
    c = w.channels["bob"]
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB, CAROL))
    # Alice rotates to a fresh key of her own (her device is fine), which drops the policy
    rotated = SeedSigner(b"\x88" * 32)
    data = c.alice.rotate_key(rotated, counter=2, now=T0 + 5000, deadline=T0 + 5300, nonce=nonce(50))
    assert the(c.peer.receive(data, now=T0 + 5000), ProposalReceived).must_accept  # type: ignore[attr-defined]
    c.alice.receive(c.peer.accept(now=T0 + 5001), now=T0 + 5002)
    head = c.peer.state
    assert head is not None and head.recovery is None
    due = st.time + DAY
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(head, Update("a", op, due, due + 300, nonce(9)))
    assert e.value.code is ErrorCode.RECOVERY_POLICY_MISMATCH
    # a new policy under the rotated key does not revive the old one's approvals either
    p2 = make_recovery_policy(
        rotated, party=A_ID, guardians=[member(BOB), member(CAROL)], threshold=2, delay=DAY, counter=1, time=T0 + 6000
    )
    c.round(c.alice, c.peer, SetRecovery(p2), T0 + 6000)
    head = c.peer.state
    assert head is not None
    for bad in (op, RecoverKey(st, p2, op.approvals)):
        with pytest.raises(RemoteProtocolError) as e:
            apply_op(head, Update("a", bad, due, due + 300, nonce(9)))
        assert e.value.code is ErrorCode.RECOVERY_POLICY_MISMATCH
    # and a statement under the new policy from the old key is a bad recovery
    st3 = make_recovery(NEW, party=A_ID, old_key=A_ID, policy=p2, counter=3, time=T0 + 7000)
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(head, Update("a", RecoverKey(st3, p2, approvals(st3, BOB, CAROL)), due, due + 300, nonce(9)))
    assert e.value.code is ErrorCode.BAD_RECOVERY


def test_the_delay_counts_from_when_the_counterparty_first_saw_the_recovery() -> None:
    w = World.with_policy()
    c = w.channels["bob"]
    head = c.peer.state
    assert head is not None
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB, CAROL))
    early = st.time + DAY - 1
    with pytest.raises(RemoteProtocolError) as e:  # pure rule: created - started >= delay
        apply_op(head, Update("a", op, early, early + 300, nonce(9)))
    assert e.value.code is ErrorCode.RECOVERY_TOO_EARLY
    # a statement dated far back (guardians colluding) passes the pure rule, but Bob first sees it
    # now: he refuses until a delay has passed on his clock
    old = w.statement(time=T0 + 4000)
    op_old = RecoverKey(old, w.policy, approvals(old, BOB, CAROL))
    now = T0 + 4000 + 30 * DAY
    dev = w.new_device("bob")
    evs = c.peer.receive(dev.propose(op_old, now=now, deadline=now + 300, nonce=nonce(7)), now=now)
    assert the(evs, ProposalVoided).reason == "RECOVERY_TOO_EARLY"  # type: ignore[attr-defined]
    assert c.peer.recoveries_noticed == {old.hash_hex: now}
    rej = the(dev.receive(sent(evs), now=now + 1), ProposalRejected)
    assert isinstance(rej, ProposalRejected) and rej.violation is None
    assert recovery_due(old, w.policy, now) == now + DAY
    # a restarted counterparty still remembers when it saw it
    restored = Party.restore(BOB, c.peer.log, now=now + 2, recoveries_noticed=c.peer.recoveries_noticed)
    later = now + DAY - 1
    evs = restored.receive(dev.propose(op_old, now=later, deadline=later + 300, nonce=nonce(8)), now=later)
    assert the(evs, ProposalVoided).reason == "RECOVERY_TOO_EARLY"  # type: ignore[attr-defined]
    dev.receive(sent(evs), now=later)
    ok = now + DAY
    evs = restored.receive(dev.propose(op_old, now=ok, deadline=ok + 300, nonce=nonce(9)), now=ok)
    assert isinstance(the(evs, ProposalReceived), ProposalReceived)


def test_a_restored_counterparty_keeps_the_cancels_it_holds() -> None:
    w = World.with_policy()
    c = w.channels["carol"]
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB, CAROL))
    c.peer.receive(RecoveryCancelMessage(cancel_recovery(ALICE, st, time=st.time)).encode(), now=st.time)
    restored = Party.restore(CAROL, c.peer.log, now=st.time + 1, recovery_cancels=c.peer.recovery_cancels)
    seen = the(restored.receive(RecoveryNotice(st, w.policy, op.approvals).encode(), now=st.time + 2), RecoveryNoticed)
    assert isinstance(seen, RecoveryNoticed) and seen.cancelled
    # proposing the peer's cancelled recovery ourselves is refused locally
    due = st.time + DAY + 5
    with pytest.raises(LocalProtocolError) as e:
        restored.propose(op, now=due, deadline=due + 300, nonce=nonce(3))
    assert e.value.code is ErrorCode.RECOVERY_CANCELLED
    with pytest.raises(LocalProtocolError):
        Party.restore(CAROL, c.peer.log, now=st.time, recovery_cancels=[c.peer.reestablish()])


@pytest.mark.parametrize(
    ("what", "code"),
    [
        ("duplicate-guardian", ErrorCode.DUPLICATE_APPROVAL),
        ("not-a-guardian", ErrorCode.NOT_A_GUARDIAN),
        ("wrong-tag", ErrorCode.BAD_SIGNATURE),
        ("approval-by-wrong-key", ErrorCode.BAD_SIGNATURE),
        ("statement-not-signed-by-new-key", ErrorCode.BAD_SIGNATURE),
        ("policy-signature-forged", ErrorCode.BAD_SIGNATURE),
        ("new-key-is-counterparty", ErrorCode.BAD_RECOVERY),
        ("new-key-is-old-key", ErrorCode.BAD_RECOVERY),
        ("old-key-not-current", ErrorCode.BAD_RECOVERY),
        ("not-a-party", ErrorCode.NOT_A_PARTY),
        ("statement-names-another-policy", ErrorCode.RECOVERY_POLICY_MISMATCH),
    ],
)
def test_invalid_recoveries_get_their_code(what: str, code: ErrorCode) -> None:
    w = World.with_policy()
    head = w.channels["bob"].peer.state
    assert head is not None
    st = w.statement()
    pol = w.policy
    apps = approvals(st, BOB, CAROL)
    if what == "duplicate-guardian":
        apps = approvals(st, BOB, BOB)
    elif what == "not-a-guardian":
        apps = (*approvals(st, BOB), *approvals(st, MALLORY))
    elif what == "wrong-tag":  # Carol signs the approval body under the key-rotation tag
        body = approval_body(CAROL.public_key.hex(), st.hash_hex)
        sig = CAROL.sign(signing_message(TAG_KEY_ROTATION, sha256(canonicalize(body)))).hex()
        apps = (*approvals(st, BOB), Approval(CAROL.public_key.hex(), sig))
    elif what == "approval-by-wrong-key":
        apps = (*approvals(st, BOB), approve_recovery(MALLORY, CAROL.public_key.hex(), st))
    elif what == "statement-not-signed-by-new-key":
        signed = make_recovery(MALLORY, party=A_ID, old_key=A_ID, policy=pol, counter=2, time=st.time)
        st = RecoveryStatement(st.party, st.old_key, NEW.public_key.hex(), st.policy, 2, st.time, signed.sig)
        apps = approvals(st, BOB, CAROL)
    elif what == "policy-signature-forged":
        pol = replace(pol, sig=MALLORY.sign(pol.signing_message).hex())
    elif what == "new-key-is-counterparty":
        st = w.statement(key=BOB)
        apps = approvals(st, BOB, CAROL)
    elif what == "new-key-is-old-key":
        st = w.statement(key=ALICE)
        apps = approvals(st, BOB, CAROL)
    elif what == "old-key-not-current":
        st = make_recovery(NEW, party=A_ID, old_key=MALLORY.public_key.hex(), policy=pol, counter=2, time=st.time)
        apps = approvals(st, BOB, CAROL)
    elif what == "not-a-party":
        st = make_recovery(NEW, party=MALLORY.public_key.hex(), old_key=A_ID, policy=pol, counter=2, time=st.time)
    elif what == "statement-names-another-policy":
        st = make_recovery(NEW, party=A_ID, old_key=A_ID, policy="ab" * 32, counter=2, time=st.time)
        apps = approvals(st, BOB, CAROL)
    due = st.time + DAY
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(head, Update("a", RecoverKey(st, pol, apps), due, due + 300, nonce(9)))
    assert e.value.code is code


@pytest.mark.parametrize(
    ("what", "code"),
    [
        ("threshold-above-guardians", ErrorCode.BAD_RECOVERY_POLICY),
        ("member-is-own-guardian", ErrorCode.BAD_RECOVERY_POLICY),
        ("guardians-share-a-key", ErrorCode.BAD_RECOVERY_POLICY),
        ("signed-by-another-key", ErrorCode.BAD_SIGNATURE),
        ("guardian-small-order-key", ErrorCode.KEY_SMALL_ORDER),
    ],
)
def test_invalid_policies_get_their_code(what: str, code: ErrorCode) -> None:
    gs = [member(BOB), member(CAROL)]
    threshold = 2
    signer = ALICE
    if what == "threshold-above-guardians":
        threshold = 3
    elif what == "member-is-own-guardian":
        gs = [member(BOB), member(ALICE)]
    elif what == "guardians-share-a-key":
        gs = [member(BOB), Member("ff" * 32, BOB.public_key.hex())]
    elif what == "guardian-small-order-key":
        gs = [member(BOB), Member("ff" * 32, "00" * 32)]
    p = make_recovery_policy(signer, party=A_ID, guardians=gs, threshold=threshold, delay=DAY, counter=1, time=T0)
    if what == "signed-by-another-key":
        p = make_recovery_policy(MALLORY, party=A_ID, guardians=gs, threshold=2, delay=DAY, counter=1, time=T0)
        p = RecoveryPolicy(A_ID, A_ID, p.guardians, 2, DAY, 1, T0, p.sig)
    with pytest.raises(RemoteProtocolError) as e:
        check_recovery_policy(p)
    assert e.value.code is code


def test_set_recovery_rules_in_the_channel() -> None:
    w = World.with_policy()
    c = w.channels["bob"]
    head = c.peer.state
    assert head is not None
    t = T0 + 9000

    def policy(signer: SeedSigner, counter: int, party: str = A_ID) -> RecoveryPolicy:
        return make_recovery_policy(
            signer,
            party=party,
            guardians=[member(CAROL), member(DAVE)],
            threshold=1,
            delay=DAY,
            counter=counter,
            time=t,
        )

    for p, code in (
        (policy(ALICE, 1), ErrorCode.BAD_RECOVERY_POLICY),  # the counter must increase
        (policy(MALLORY, 2), ErrorCode.BAD_RECOVERY_POLICY),  # not the party's current key
        (policy(MALLORY, 2, party=MALLORY.public_key.hex()), ErrorCode.NOT_A_PARTY),
    ):
        with pytest.raises(RemoteProtocolError) as e:
            apply_op(head, Update("a", SetRecovery(p), t, t + 300, nonce(9)))
        assert e.value.code is code
    # Bob sets his own policy beside Alice's; Alice must accept it
    bob_policy = make_recovery_policy(
        BOB, party=BOB.public_key.hex(), guardians=[member(CAROL)], threshold=1, delay=2 * DAY, counter=1, time=t
    )
    (got,) = c.round(c.peer, c.alice, SetRecovery(bob_policy), t)
    assert isinstance(got, ProposalReceived) and got.must_accept
    head = c.alice.state
    assert head is not None and head.recovery is not None
    assert head.recovery.b is not None and head.recovery.b.policy == bob_policy.hash_hex
    assert head.recovery.a is not None
    assert State.from_json(head.json) == head  # the record survives a decode
    # Alice replaces hers (counter 2): a set by the counterparty is a request she may refuse
    (got,) = c.round(c.alice, c.peer, SetRecovery(policy(ALICE, 2)), t + 100)
    assert isinstance(got, ProposalReceived) and got.must_accept
    data = c.peer.propose(SetRecovery(policy(ALICE, 3)), now=t + 200, deadline=t + 500, nonce=nonce(77))
    got = the(c.alice.receive(data, now=t + 200), ProposalReceived)
    assert isinstance(got, ProposalReceived) and not got.must_accept
    c.alice.reject("DECLINED", now=t + 201)


def test_a_genesis_cannot_carry_a_recovery_policy_and_the_record_is_strictly_decoded() -> None:
    w = World.with_policy()
    head = w.channels["bob"].peer.state
    assert head is not None
    g = w.channels["bob"].peer.log[0].state
    from foaf.bilateral.rules import check_genesis

    bad = State.from_json({**g.json, "recovery": head.json["recovery"]})
    with pytest.raises(RemoteProtocolError) as e:
        check_genesis(bad)
    assert e.value.code is ErrorCode.BAD_GENESIS
    for rec, code in (
        ({}, ErrorCode.BAD_VALUE),
        ({"c": {}}, ErrorCode.UNKNOWN_FIELD),
        ([], ErrorCode.WRONG_TYPE),
        ({"a": {"policy": "00" * 32}}, ErrorCode.MISSING_FIELD),
        ({"a": {"policy": "00" * 32, "counter": 0}}, ErrorCode.BAD_VALUE),
    ):
        with pytest.raises(RemoteProtocolError) as e:
            State.from_json({**head.json, "recovery": rec})
        assert e.value.code is code


def test_recovery_messages_are_strictly_parsed() -> None:
    w = World.with_policy()
    st = w.statement()
    good = RecoveryNotice(st, w.policy, approvals(st, BOB, CAROL))
    assert decode(good.encode()) == good
    d = good.to_json()
    for mutate, code in (
        (lambda x: x["policy"].update(delay=DAY - 1), ErrorCode.BAD_VALUE),
        (lambda x: x["policy"].update(threshold=0), ErrorCode.BAD_VALUE),
        (lambda x: x["policy"].update(guardians=[]), ErrorCode.BAD_VALUE),
        (lambda x: x["policy"].update(guardians={}), ErrorCode.WRONG_TYPE),
        (lambda x: x["policy"]["guardians"].reverse(), ErrorCode.BAD_VALUE),
        (lambda x: x.update(approvals=x["approvals"] * 9), ErrorCode.BAD_VALUE),
        (lambda x: x["statement"].update(extra=1), ErrorCode.UNKNOWN_FIELD),
        (lambda x: x["approvals"][0].pop("sig"), ErrorCode.MISSING_FIELD),
        (lambda x: x.update(v=2), ErrorCode.UNSUPPORTED_VERSION),
    ):
        import copy

        x = copy.deepcopy(d)
        mutate(x)
        with pytest.raises(RemoteProtocolError) as e:
            decode(canonicalize(x))
        assert e.value.code is code, (x, code)
    cancel = RecoveryCancelMessage(cancel_recovery(ALICE, st, time=st.time))
    assert decode(cancel.encode()) == cancel
    with pytest.raises(RemoteProtocolError) as e:
        decode(canonicalize({**cancel.to_json(), "cancel": {**cancel.cancel.to_json(), "time": -1}}))
    assert e.value.code is ErrorCode.BAD_VALUE


def test_the_new_device_needs_to_be_a_party_of_the_channel() -> None:
    w = World.with_policy()
    log = w.channels["bob"].peer.log
    with pytest.raises(LocalProtocolError) as e:
        Party.recovering(NEW, log, party=MALLORY.public_key.hex())
    assert e.value.code is ErrorCode.NOT_A_PARTY
    with pytest.raises(LocalProtocolError) as e:
        Party.recovering(NEW, [], party=A_ID)
    assert e.value.code is ErrorCode.BAD_GENESIS


def test_a_restarted_new_device_keeps_its_unresolved_recover_key() -> None:
    w = World.with_policy()
    c = w.channels["bob"]
    st = w.statement()
    op = RecoverKey(st, w.policy, approvals(st, BOB, CAROL))
    c.peer.receive(RecoveryNotice(st, w.policy, op.approvals).encode(), now=st.time)
    dev = w.new_device("bob")
    due = st.time + DAY
    data = dev.propose(op, now=due, deadline=due + 300, nonce=nonce(7))
    back = Party.restore(NEW, dev.log, now=due + 1, unresolved=dev.unresolved, recovering=A_ID)
    assert back.pending is not None and back.side == "a"
    c.peer.receive(data, now=due + 2)
    done = back.receive(c.peer.accept(now=due + 3), now=due + 4)
    assert isinstance(the(done, StateCommitted), StateCommitted)
    assert back.state is not None and back.state.a.key == NEW.public_key.hex()
