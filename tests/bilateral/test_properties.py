"""Two honest peers over a lossy network never fork, never hold a half-signed state, stay within limits.

Hypothesis drives two `Party` objects through random interleavings over a network that drops,
duplicates, delays and reorders messages, with time advancing (deadlines fire through `expire`),
reconnections (`reestablish`), random valid or limit-breaking proposals of every op and random
accept/reject decisions. After every step:

(a) every entry of either log carries both valid signatures (`verify_log`);
(b) the two logs are prefix-consistent: same hash at every common seq (no fork);
(c) every committed state keeps each party's exposure within its limit, or no higher than before;

and at the end, after everything in flight is delivered, both reconnect and every deadline has
passed, both heads are the same state and the channel still makes progress (d). `receive` of an
honest peer's bytes may raise only the typed errors the transition table names for the situation.

A second machine adds crashes: a party is rebuilt from its durable log (`Party(signer, log)`),
losing its unresolved proposals and the answers it gave, and reconnects. The core cannot be given
those back, so a crash can make the restarted party sign a second state at a seq where its lost
proposal (or a proposal it rejected) was countersigned: that fork must be traceable to the lost
memory, and it must be detected (CHAIN_FORK) at the next reconnect. Anything else is as above.
The last tests are minimal reproductions of what the machines found: typed errors the table does
not name for honest bytes (ILLEGAL_TRANSITION for a duplicate reject, for a late or tie-losing
proposal while a decision is pending once a timer lags, for a reject after a crash; NONCE_REUSED for
an identical proposal), and the crash fork above, detected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from foaf.bilateral import (
    Cancel,
    EquivocationProof,
    ErrorCode,
    LocalProtocolError,
    LogEntry,
    Member,
    MState,
    Party,
    Payment,
    PlaceHold,
    Proposal,
    ProposalReceived,
    ProposalRejected,
    ProtocolError,
    Reject,
    Release,
    RemoteProtocolError,
    SeedSigner,
    Send,
    SetLimit,
    Settlement,
    StateCommitted,
    StatusOp,
    Update,
    apply_op,
    decode,
    exposure,
    make_genesis,
    must_accept,
    verify_equivocation_proof,
    verify_log,
)
from foaf.bilateral.party import EventT

ALICE = SeedSigner(b"\x11" * 32)
BOB = SeedSigner(b"\x22" * 32)
T0 = 1_767_225_600
LIMIT_A_TO_B, LIMIT_B_TO_A = 10_000, 5_000
MAX_TTL = 120
SIDES = ("a", "b")
OTHER = {"a": "b", "b": "a"}
OPS = (
    "payment",
    "payment",
    "payment",
    "settlement",
    "settlement",
    "set_limit",
    "hold",
    "hold",
    "release",
    "release",
    "cancel",
    "freeze",
    "unfreeze",
    "close",
    "reopen",
    "rotate_key",
)

settings.register_profile(
    "bilateral-properties",
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)
PROFILE = settings.get_profile("bilateral-properties")


def preimage_of(hold_number: int) -> str:
    return hashlib.sha256(b"preimage %d" % hold_number).hexdigest()


def lock_of(preimage: str) -> str:
    return hashlib.sha256(bytes.fromhex(preimage)).hexdigest()


def rotation_signer(side: str, k: int) -> SeedSigner:
    return SeedSigner(bytes([0x11 if side == "a" else 0x22, k]) + b"\x00" * 30)


@dataclass
class Net:
    """In-flight messages per destination side, and everything ever sent (for replays)."""

    inflight: dict[str, list[bytes]] = field(default_factory=lambda: {"a": [], "b": []})
    history: dict[str, list[bytes]] = field(default_factory=lambda: {"a": [], "b": []})

    def send(self, to: str, data: bytes) -> None:
        self.inflight[to].append(data)
        self.history[to].append(data)

    def total(self) -> int:
        return len(self.inflight["a"]) + len(self.inflight["b"])


class HonestPeers(RuleBasedStateMachine):
    """Alice (a) and Bob (b) with a co-signed genesis, over an unreliable network."""

    crashes = False

    def __init__(self) -> None:
        super().__init__()
        genesis = make_genesis(
            a=Member.inception(ALICE.public_key),
            b=Member.inception(BOB.public_key),
            currency="USD",
            limit_a_to_b=LIMIT_A_TO_B,
            limit_b_to_a=LIMIT_B_TO_A,
            proposer="a",
            created=T0,
            deadline=T0 + 600,
            nonce=f"{1:032x}",
        )
        alice, opening = Party.open(ALICE, genesis, now=T0)
        bob, _ = Party.join(BOB, opening, now=T0)
        alice.receive(bob.accept(now=T0), now=T0)
        self.parties: dict[str, Party] = {"a": alice, "b": bob}
        self.signers: dict[str, SeedSigner] = {ALICE.public_key.hex(): ALICE, BOB.public_key.hex(): BOB}
        self.now = T0 + 1000
        self.net = Net()
        self.nonce_counter = 1
        self.hold_counter = 0
        self.rotations = {"a": 0, "b": 0}
        self.preimages: dict[str, str] = {}  # hold id -> preimage
        self.verified = {"a": 0, "b": 0}  # length of each log already checked
        # what each side proposed and rejected (state hash -> seq), to know what a crash forgot
        self.proposed: dict[str, dict[str, int]] = {"a": {}, "b": {}}
        self.rejected: dict[str, dict[str, int]] = {"a": {}, "b": {}}
        self.forgotten: dict[str, set[str]] = {"a": set(), "b": set()}
        self.forked_at: int | None = None
        self.fork_detected = False

    # ------------------------------------------------------------ plumbing
    def next_nonce(self) -> str:
        self.nonce_counter += 1
        return f"{self.nonce_counter:032x}"

    def head(self, side: str) -> LogEntry:
        h = self.parties[side].head
        assert h is not None
        return h

    def emit(self, sender: str, data: bytes) -> None:
        """`sender` puts bytes on the wire to its peer; remember what it proposed or rejected."""
        msg = decode(data)
        if isinstance(msg, Proposal):
            self.proposed[sender][msg.state.hash_hex] = msg.state.seq
        elif isinstance(msg, Reject):
            assert msg.rejector == sender
            self.rejected[sender][msg.state_hash] = msg.seq
        self.net.send(OTHER[sender], data)

    def handle(self, side: str, events: list[EventT]) -> None:
        for ev in events:
            if isinstance(ev, Send):
                self.emit(side, ev.data)
            elif isinstance(ev, StateCommitted):
                assert ev.entry is self.parties[side].head
            elif isinstance(ev, ProposalRejected):
                assert ev.violation is None, "an honest peer rejected a must-accept proposal"

    def allowed(self, side: str, data: bytes, e: RemoteProtocolError) -> bool:
        """Is this typed error one the protocol produces for an honest peer's bytes, here?"""
        if e.code is ErrorCode.RESYNC_NEEDED:  # the peer committed more than we did: reestablish
            msg = decode(data)
            head = self.head(side)
            return isinstance(msg, Proposal) and msg.state.seq > head.state.seq + 1
        msg = decode(data)
        party = self.parties[side]
        if e.code is ErrorCode.PROPOSAL_PENDING:  # another live proposal of the peer at the same seq
            pend = party.pending
            return (
                party.mstate is MState.AWAITING_DECISION
                and pend is not None
                and self.now < pend.state.update.deadline
                and isinstance(msg, Proposal)
                and msg.state.seq == pend.state.seq
                and msg.state.hash_hex != pend.state.hash_hex
            )
        if not self.crashes:
            return False
        if e.code is ErrorCode.UNKNOWN_PROPOSAL:  # an answer to a proposal our crash forgot
            return getattr(msg, "state_hash", None) in self.forgotten[side]
        if e.code in (ErrorCode.CHAIN_FORK, ErrorCode.CHAIN_BROKEN):
            self.check_prefix()
            if self.forked_at is not None:
                self.fork_detected = True
                return True
        return False

    def deliver(self, side: str, data: bytes) -> None:
        party = self.parties[side]
        try:
            events = party.receive(data, now=self.now)
        except RemoteProtocolError as e:
            assert self.allowed(side, data, e), f"{side} refused honest bytes with {e!r}: {data!r}"
            event(f"receive raised {e.code.value}")
            return
        except LocalProtocolError as e:  # pragma: no cover - a failure
            raise AssertionError(f"receive raised a local error {e!r}") from e
        self.handle(side, events)

    def pump(self, limit: int = 200) -> None:
        """Deliver everything in flight, oldest first, including what that produces."""
        for _ in range(limit):
            for side in SIDES:
                if self.net.inflight[side]:
                    self.deliver(side, self.net.inflight[side].pop(0))
            if not self.net.total():
                return
        raise AssertionError("the peers keep talking: no quiescence")

    def reconnect_now(self) -> None:
        """Both send `reestablish` on a fresh connection; what that produces is delivered at once."""
        saved = self.net.inflight
        self.net.inflight = {"a": [], "b": []}
        for side in SIDES:
            self.emit(side, self.parties[side].reestablish())
        self.pump()
        self.net.inflight = saved

    def expire_all(self) -> None:
        for side in SIDES:
            self.handle(side, self.parties[side].expire(now=self.now))

    # ------------------------------------------------------------ rules
    @rule(
        side=st.sampled_from(SIDES),
        kind=st.sampled_from(OPS),
        who=st.sampled_from(SIDES),
        amount=st.one_of(st.integers(1, 500), st.integers(1, 12_000)),
        ttl=st.integers(1, MAX_TTL),
        pick=st.integers(0, 64),
        delta=st.integers(-20, 300),
    )
    def propose(self, side: str, kind: str, who: str, amount: int, ttl: int, pick: int, delta: int) -> None:
        """A party proposes an op that may be valid, or may break a limit or another guard."""
        if self.parties[side].mstate is not MState.IDLE and pick % 4:
            side = OTHER[side]  # mostly the idle party, sometimes one that must refuse locally
        party = self.parties[side]
        head = self.head(side).state
        nonce, deadline = self.next_nonce(), self.now + ttl
        if kind == "rotate_key":
            if self.crashes:
                return  # a rebuilt party holds one signer only
            self.rotations[side] += 1
            new = rotation_signer(side, self.rotations[side])
            self.signers[new.public_key.hex()] = new
            try:
                data = party.rotate_key(new, counter=self.rotations[side], now=self.now, deadline=deadline, nonce=nonce)
            except LocalProtocolError as e:
                assert party.mstate is not MState.IDLE, e
                assert e.code in (ErrorCode.PROPOSAL_PENDING, ErrorCode.DECISION_PENDING), e
                return
            self.emit(side, data)
            return
        op = self.make_op(kind, who, amount, head.holds, pick, delta)
        expected: ErrorCode | None = None
        if party.mstate is MState.AWAITING_COUNTERSIGN:
            expected = ErrorCode.PROPOSAL_PENDING
        elif party.mstate is MState.AWAITING_DECISION:
            expected = ErrorCode.DECISION_PENDING
        else:
            try:
                apply_op(head, Update(side, op, self.now, deadline, nonce))
            except RemoteProtocolError as e:
                expected = e.code
        try:
            data = party.propose(op, now=self.now, deadline=deadline, nonce=nonce)
        except LocalProtocolError as e:
            assert e.code is expected, f"propose {op!r} raised {e!r}, expected {expected}"
            return
        assert expected is None, f"propose {op!r} succeeded, expected {expected}"
        self.emit(side, data)

    def make_op(self, kind: str, who: str, amount: int, holds: tuple, pick: int, delta: int) -> object:
        if kind == "payment":
            return Payment(who, amount, "m")
        if kind == "settlement":
            return Settlement(who, amount, "")
        if kind == "set_limit":
            return SetLimit("a_to_b" if who == "b" else "b_to_a", amount)
        if kind == "hold":
            self.hold_counter += 1
            pre = preimage_of(self.hold_counter)
            hold_id = f"{self.hold_counter:032x}"
            self.preimages[hold_id] = pre
            return PlaceHold(hold_id, who, amount, lock_of(pre), self.now + delta)
        if kind in ("release", "cancel"):
            hold_id = holds[pick % len(holds)].id if holds and pick < 60 else f"{pick + 10_000:032x}"
            if kind == "cancel":
                return Cancel(hold_id)
            pre = self.preimages.get(hold_id, preimage_of(0))
            return Release(hold_id, pre if pick % 7 else preimage_of(0))
        return StatusOp(kind)

    @rule(side=st.sampled_from(SIDES), accept=st.sampled_from((True, True, True, False)))
    def decide(self, side: str, accept: bool) -> None:
        """A party deciding on a peer proposal accepts or rejects it (one with nothing to decide can't)."""
        if self.parties[side].mstate is not MState.AWAITING_DECISION and accept:
            side = OTHER[side]
        party = self.parties[side]
        pend = party.pending
        if party.mstate is not MState.AWAITING_DECISION:
            with pytest.raises(LocalProtocolError) as info:
                party.accept(now=self.now) if accept else party.reject(now=self.now)
            assert info.value.code is ErrorCode.NOTHING_PENDING
            return
        event("decide")
        assert pend is not None
        if accept:
            if self.now >= pend.state.update.deadline:
                with pytest.raises(LocalProtocolError) as info:
                    party.accept(now=self.now)
                assert info.value.code is ErrorCode.DEADLINE_PASSED
                return
            self.emit(side, party.accept(now=self.now))
            return
        if must_accept(self.head(side).state, pend.state.update):
            with pytest.raises(LocalProtocolError) as info:
                party.reject(now=self.now)
            assert info.value.code is ErrorCode.REJECT_NOT_ALLOWED
            return
        self.emit(side, party.reject("DECLINED", now=self.now))

    @precondition(lambda self: self.net.total() > 0)
    @rule(side=st.sampled_from(SIDES), i=st.integers(0, 1000))
    def deliver_one(self, side: str, i: int) -> None:
        """Deliver any in-flight message (the network reorders)."""
        q = self.net.inflight[side] or self.net.inflight[OTHER[side]]
        to = side if self.net.inflight[side] else OTHER[side]
        self.deliver(to, q.pop(i % len(q)))

    @precondition(lambda self: self.net.total() > 0)
    @rule(side=st.sampled_from(SIDES), i=st.integers(0, 1000))
    def drop_one(self, side: str, i: int) -> None:
        q = self.net.inflight[side] or self.net.inflight[OTHER[side]]
        q.pop(i % len(q))

    @precondition(lambda self: self.net.history["a"] or self.net.history["b"])
    @rule(side=st.sampled_from(SIDES), i=st.integers(0, 1000))
    def replay_one(self, side: str, i: int) -> None:
        """Deliver again anything ever sent (duplicates, and replays of old messages)."""
        to = side if self.net.history[side] else OTHER[side]
        h = self.net.history[to]
        self.deliver(to, h[-1 - (i % len(h))])

    @rule(dt=st.integers(1, 2 * MAX_TTL))
    def advance_time(self, dt: int) -> None:
        """Time passes; both parties' timers fire."""
        self.now += dt
        self.expire_all()

    @rule()
    def reconnect(self) -> None:
        self.reconnect_now()

    @rule(side=st.sampled_from(SIDES), amount=st.integers(1, 400))
    def happy_round(self, side: str, amount: int) -> None:
        """Everything in flight arrives; an idle party proposes a payment; the peer accepts it."""
        self.pump()
        party, peer = self.parties[side], self.parties[OTHER[side]]
        if party.mstate is not MState.IDLE:
            return
        head = self.head(side).state
        op = Payment(side, amount, "round")
        try:
            apply_op(head, Update(side, op, self.now, self.now + MAX_TTL, "0" * 32))
        except RemoteProtocolError:
            op = Settlement(side if head.balance * (1 if side == "a" else -1) < 0 else OTHER[side], 1, "")
        try:
            self.emit(side, party.propose(op, now=self.now, deadline=self.now + MAX_TTL, nonce=self.next_nonce()))
        except LocalProtocolError:
            return  # e.g. the channel is closed and this settlement would not move toward zero
        self.pump()
        if peer.mstate is MState.AWAITING_DECISION:
            self.emit(OTHER[side], peer.accept(now=self.now))
            self.pump()

    @precondition(lambda self: self.net.total() > 0)
    @rule()
    def deliver_all(self) -> None:
        """A calm moment: everything in flight arrives, in order, with what it produces."""
        self.pump()

    # ------------------------------------------------------------ invariants
    def check_prefix(self) -> None:
        la, lb = self.parties["a"].log, self.parties["b"].log
        for seq in range(min(len(la), len(lb))):
            if la[seq].state.hash_hex != lb[seq].state.hash_hex:
                if self.forked_at is None:
                    self.explain_fork(seq, la[seq], lb[seq])
                    self.forked_at = seq
                return

    def explain_fork(self, seq: int, x: LogEntry, y: LogEntry) -> None:
        """A fork is only allowed after a crash made a party forget a proposal or an answer at `seq`."""
        assert self.crashes, f"honest peers forked at seq {seq}: {x.state.hash_hex} vs {y.state.hash_hex}"
        for e in (x, y):
            proposer = e.state.update.proposer
            h = e.state.hash_hex
            if h in self.forgotten[proposer] or h in self.forgotten[OTHER[proposer]]:
                return
        raise AssertionError(f"fork at seq {seq} that no crash explains")

    @invariant()
    def logs_are_fully_signed_and_within_limits(self) -> None:
        for side in SIDES:
            log = self.parties[side].log
            if len(log) == self.verified[side]:
                continue
            verify_log(log)
            for prev, entry in zip(
                log[max(self.verified[side] - 1, 0) :], log[max(self.verified[side], 1) :], strict=False
            ):
                p, s = prev.state, entry.state
                for who, limit in (("a", s.limit_a_to_b), ("b", s.limit_b_to_a)):
                    after = exposure(s.balance, s.holds, who)
                    assert after <= limit or after <= exposure(p.balance, p.holds, who), (who, p, s)
            self.verified[side] = len(log)

    @invariant()
    def logs_never_fork(self) -> None:
        self.check_prefix()

    def teardown(self) -> None:
        """Quiescence: deliver everything, reconnect, let every deadline pass; then compare heads."""
        for _ in range(6):
            self.pump()
            self.reconnect_now()
            self.now += MAX_TTL + 1
            self.expire_all()
            self.pump()
            self.reconnect_now()  # every proposal re-sent now is void: its Reject resolves it for good
            self.check_prefix()
            if self.forked_at is not None:
                break
            if self.head("a").state.hash_hex == self.head("b").state.hash_hex:
                break
        event(f"final head seq {min(self.head('a').state.seq, self.head('b').state.seq, 10)}")
        if self.forked_at is not None:
            event("fork after a crash, detected")
            if not self.fork_detected:
                self.reconnect_now()
            assert self.fork_detected, "a fork was not detected at reconnect"
            return
        a, b = self.head("a"), self.head("b")
        assert a.state.hash_hex == b.state.hash_hex, f"heads differ: seq {a.state.seq} vs {b.state.seq}"
        assert self.parties["a"].mstate is MState.IDLE and self.parties["b"].mstate is MState.IDLE
        # and the channel still makes progress: Bob re-sets the limit he extends, Alice must accept
        limit = a.state.limit_a_to_b
        self.emit(
            "b",
            self.parties["b"].propose(
                SetLimit("a_to_b", limit), now=self.now, deadline=self.now + 60, nonce=self.next_nonce()
            ),
        )
        self.pump()
        self.emit("a", self.parties["a"].accept(now=self.now))
        self.pump()
        assert self.head("a").state.seq == self.head("b").state.seq == a.state.seq + 1
        assert self.head("a").state.hash_hex == self.head("b").state.hash_hex


class CrashingPeers(HonestPeers):
    """The same, and a party may crash: it is rebuilt from its durable log and reconnects."""

    crashes = True

    @rule(side=st.sampled_from(SIDES))
    def crash_and_restart(self, side: str) -> None:
        old = self.parties[side]
        head = self.head(side)
        # everything above the durable head is forgotten: own proposals, answers given, nonces
        for book in (self.proposed[side], self.rejected[side]):
            self.forgotten[side] |= {h for h, seq in book.items() if seq > head.state.seq}
        signer = self.signers[head.state.member(side).key]
        self.parties[side] = Party(signer, list(old.log))
        self.verified[side] = 0
        self.reconnect_now()


TestHonestPeers = HonestPeers.TestCase
TestHonestPeers.settings = PROFILE
TestCrashingPeers = CrashingPeers.TestCase
TestCrashingPeers.settings = PROFILE


# ---------------------------------------------------------------- pinned findings (minimal repros)
def pair() -> tuple[Party, Party]:
    m = HonestPeers()
    return m.parties["a"], m.parties["b"]


def pay(party: Party, amount: int, now: int, ttl: int, n: int) -> bytes:
    return party.propose(Payment(party.side, amount, ""), now=now, deadline=now + ttl, nonce=f"{n:032x}")


def state_hash(data: bytes) -> str:
    msg = decode(data)
    assert isinstance(msg, Proposal)
    return msg.state.hash_hex


def receive_ok(party: Party, data: bytes, now: int) -> list[EventT]:
    try:
        return party.receive(data, now=now)
    except ProtocolError as e:
        raise AssertionError(f"honest bytes refused with {e!r}") from e


def test_a_duplicated_reject_arriving_while_awaiting_a_countersign_is_ignored() -> None:
    """Bob's Reject(DEADLINE_PASSED) of Alice's first proposal arrives twice; the second copy comes
    while her next proposal waits for his countersignature. Only a network duplicate, no timer lag."""
    alice, bob = pair()
    now = T0 + 1000
    bob.receive(pay(alice, 5, now, 10, 50), now=now)
    now += 11
    alice.expire(now=now)
    (reject,) = [e.data for e in bob.expire(now=now) if isinstance(e, Send)]
    alice.receive(reject, now=now)
    pay(alice, 6, now, 10, 51)
    assert alice.mstate is MState.AWAITING_COUNTERSIGN
    assert receive_ok(alice, reject, now) == []


def test_an_identical_proposal_refused_while_another_was_pending_is_not_called_a_reused_nonce() -> None:
    """Alice's P1 loses the tie to Bob's Q; she rejects Q and proposes P2. Bob decides on P2 when the
    delayed P1 arrives (PROPOSAL_PENDING, as the table says); after he rejects P2, the very same P1
    bytes (re-sent on reconnect) must not be refused as NONCE_REUSED ('same nonce, different state')."""
    for k in range(64):
        alice, bob = pair()
        now = T0 + 1000
        p1, q = pay(alice, 1, now, 100, 60), pay(bob, 1 + k, now, 100, 61)
        if state_hash(q) < state_hash(p1):
            break
    receive_ok(alice, q, now)
    bob.receive(alice.reject(now=now), now=now)
    p2 = pay(alice, 2, now, 100, 62)
    receive_ok(bob, p2, now)
    with pytest.raises(RemoteProtocolError) as info:
        bob.receive(p1, now=now)
    assert info.value.code is ErrorCode.PROPOSAL_PENDING
    alice.receive(bob.reject(now=now), now=now)
    assert [type(e) for e in receive_ok(bob, p1, now)] == [ProposalReceived]


def test_a_late_proposal_while_an_expired_decision_is_pending_is_answered_void() -> None:
    """Bob's first proposal expired on Bob's clock; Alice's timer has not fired yet when Bob's second
    proposal arrives, itself after its deadline. The table says: answer Reject(DEADLINE_PASSED)."""
    alice, bob = pair()
    now = T0 + 1000
    alice.receive(pay(bob, 5, now, 30, 70), now=now)
    now += 40
    bob.expire(now=now)
    late = pay(bob, 6, now, 30, 71)
    now += 40
    events = receive_ok(alice, late, now)
    assert any(isinstance(e, Send) and isinstance(decode(e.data), Reject) for e in events)


def test_a_proposal_losing_the_tie_while_deciding_is_answered_tie_lost() -> None:
    """Alice's P lost the tie to Bob's Q (she decides on Q, P stays unresolved). Q expires on Bob's
    clock first; Bob proposes Q2 whose hash is above P's. The tie rule says: Reject(TIE_LOST)."""
    for k in range(64):
        alice, bob = pair()
        now = T0 + 1000
        p, q = pay(alice, 1, now, 30, 80), pay(bob, 1 + k, now, 30, 81)
        if state_hash(q) < state_hash(p):
            break
    receive_ok(alice, q, now)
    assert alice.mstate is MState.AWAITING_DECISION
    now += 31
    bob.expire(now=now)
    for k in range(64):
        q2 = pay(bob, 100 + k, now + k, 300, 90 + k)
        if state_hash(q2) > state_hash(p):
            break
        bob.expire(now=now + k + 300)
    events = receive_ok(alice, q2, now + k)
    assert any(isinstance(e, Send) for e in events)


def test_a_reject_of_a_proposal_forgotten_in_a_crash_is_an_unknown_proposal() -> None:
    """Alice crashes after sending P1 (rebuilt from her log) and proposes P2; Bob's Reject of P1 then
    arrives. In IDLE and AWAITING_DECISION that is UNKNOWN_PROPOSAL; in AWAITING_COUNTERSIGN too."""
    alice, bob = pair()
    now = T0 + 1000
    p1 = pay(alice, 5, now, 60, 100)
    alice = Party(ALICE, list(alice.log))
    bob.receive(p1, now=now)
    reject = bob.reject(now=now)
    pay(alice, 6, now, 60, 101)
    with pytest.raises(RemoteProtocolError) as info:
        alice.receive(reject, now=now)
    assert info.value.code is ErrorCode.UNKNOWN_PROPOSAL


def test_a_crash_that_forgets_an_in_flight_proposal_can_fork_and_the_fork_is_detected() -> None:
    """Alice sends P and crashes (her log has no trace of P). Bob had proposed Q; P wins the tie at
    Bob, who countersigns P; restarted Alice takes Q and countersigns it: Alice signed two states at
    seq 1. The core cannot prevent this without being given its unresolved proposals back; the
    fork must be detected (CHAIN_FORK), with a checkable proof naming Alice's key."""
    for k in range(64):
        alice, bob = pair()
        now = T0 + 1000
        p, q = pay(alice, 1, now, 60, 110), pay(bob, 1 + k, now, 60, 111)
        if state_hash(p) < state_hash(q):
            break
    alice = Party(ALICE, list(alice.log))
    receive_ok(bob, p, now)
    accept_p = bob.accept(now=now)
    receive_ok(alice, q, now)
    alice.accept(now=now)
    assert alice.head is not None and bob.head is not None
    assert alice.head.state.hash_hex != bob.head.state.hash_hex
    with pytest.raises(RemoteProtocolError) as info:
        bob.receive(alice.reestablish(), now=now)
    assert info.value.code is ErrorCode.CHAIN_FORK
    with pytest.raises(RemoteProtocolError) as info:
        alice.receive(accept_p, now=now)
    assert info.value.code is ErrorCode.UNKNOWN_PROPOSAL
    report = verify_equivocation_proof(EquivocationProof(alice.head, bob.head).encode())
    assert ALICE.public_key.hex() in report.keys
