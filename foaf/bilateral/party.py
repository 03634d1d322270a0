"""`Party`: one side of a channel as a sans-I/O state machine (h11 style).

Methods return the bytes to send; `receive(data, now=...)` returns a list of events (some are
`Send(data)`: answers to deliver). No clock, no I/O: time is an integer argument. Transitions go
through `machine.step`, so an event the table does not allow raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .crypto import Signer, as_signer, verify
from .errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError, remote
from .log import verify_genesis, verify_log, verify_next
from .machine import Event, MState, step
from .model import (
    Accept,
    Entries,
    EquivocationProof,
    KeyRotation,
    LogEntry,
    Op,
    Proposal,
    RecoverKey,
    RecoveryCancel,
    RecoveryCancelMessage,
    RecoveryNotice,
    RecoveryStatement,
    Reestablish,
    Reject,
    RotateKey,
    SetLimit,
    SetRecovery,
    State,
    Update,
    decode,
)
from .recovery import check_recovery, check_recovery_cancel, recovery_due
from .rules import OTHER, apply_op, check_genesis

MAX_CLOCK_SKEW = 300  # seconds a peer's `created` may be ahead of our clock
VOID_REASONS = ("DEADLINE_PASSED", "TIE_LOST")
# reasons a counterparty may refuse a must-accept recover_key with (spec §5.13, §7.8)
RECOVERY_REASONS = ("RECOVERY_CANCELLED", "RECOVERY_TOO_EARLY")
_REFUSAL_GUARDS = {  # the transition rows of proposals we refuse without asking the caller
    "DEADLINE_PASSED": "valid but deadline passed by our clock",
    "RECOVERY_CANCELLED": "recover_key cancelled by the old key",
    "RECOVERY_TOO_EARLY": "recover_key not yet due by our clock",
}


# ---------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class Send:
    """Bytes to deliver to the peer (an answer produced while receiving)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """The peer proposes `proposal.state`; call `accept` or `reject` before its deadline."""

    proposal: Proposal
    must_accept: bool


@dataclass(frozen=True, slots=True)
class StateCommitted:
    """A fully co-signed entry was appended to our log."""

    entry: LogEntry


@dataclass(frozen=True, slots=True)
class ProposalRejected:
    """The peer rejected our proposal. `violation` is set if it was not allowed to."""

    reject: Reject
    state: State
    violation: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class ProposalVoided:
    """A proposal is void: `own` tells whose; reason TIE_LOST, DEADLINE_PASSED or SUPERSEDED."""

    state: State
    own: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PeerBehind:
    peer_seq: int
    our_seq: int


@dataclass(frozen=True, slots=True)
class PeerAhead:
    peer_seq: int
    our_seq: int


@dataclass(frozen=True, slots=True)
class InSync:
    seq: int


@dataclass(frozen=True, slots=True)
class RecoveryNoticed:
    """A valid recovery of `statement.party` was announced (spec §6.7, §7.8). `noticed`: when we
    first saw it (keep it durably: `Party.recoveries_noticed`); `due`: the first time we may
    countersign its `recover_key`; `own`: it is a recovery of our own party (someone holds
    guardians' approvals for our account: cancel it if it is not us); `cancelled`: we hold the old
    key's cancel of it. Tell the member on every path there is (its old device may cancel)."""

    statement: RecoveryStatement
    noticed: int
    due: int
    own: bool
    cancelled: bool


@dataclass(frozen=True, slots=True)
class RecoveryCancelled:
    """The old key cancelled a recovery (spec §5.16): we refuse its `recover_key` from now on
    (keep it durably: `Party.recovery_cancels`)."""

    cancel: RecoveryCancel


EventT = (
    Send
    | ProposalReceived
    | StateCommitted
    | ProposalRejected
    | ProposalVoided
    | PeerBehind
    | PeerAhead
    | InSync
    | RecoveryNoticed
    | RecoveryCancelled
)


def must_accept(prev: State, update: Update) -> bool:
    """Ops the counterparty must countersign when valid: a limit set by its owner, a key
    rotation of the proposer's own key, the proposer's own recovery policy (`set_recovery`) and
    the proposer's own recovery (`recover_key`, unless cancelled or not yet due: §7.8)."""
    op = update.op
    if isinstance(op, SetLimit):
        return op.owner == update.proposer
    if isinstance(op, RotateKey):
        return op.statement.party == prev.member(update.proposer).id
    if isinstance(op, SetRecovery):
        return op.policy.party == prev.member(update.proposer).id
    if isinstance(op, RecoverKey):
        return op.statement.party == prev.member(update.proposer).id
    return False


def may_refuse(prev: State, update: Update, reason: str) -> bool:
    """Whether a reject with `reason` is allowed (spec §5.13): always for an op that is not
    must-accept; else only DEADLINE_PASSED or TIE_LOST, and for a `recover_key` also
    RECOVERY_CANCELLED or RECOVERY_TOO_EARLY."""
    if reason in VOID_REASONS or not must_accept(prev, update):
        return True
    return isinstance(update.op, RecoverKey) and reason in RECOVERY_REASONS


def _local(e: ProtocolError) -> LocalProtocolError:
    return e if isinstance(e, LocalProtocolError) else LocalProtocolError(e.code, e.detail)


class Party:
    """One side of one channel. Build with `Party(signer, log)`, `Party.open` or `Party.join`."""

    def __init__(
        self,
        signer: Signer | bytes,
        entries: Sequence[LogEntry] = (),
        *,
        operator_keys: Iterable[bytes | str] = (),
        _pending_genesis: Proposal | None = None,
        _side: str | None = None,
    ) -> None:
        self._signers: dict[str, Signer] = {}
        self._add_signer(as_signer(signer))
        self.log: list[LogEntry] = []
        self.mstate = MState.IDLE
        self._pending: Proposal | None = None  # ours in AWAITING_COUNTERSIGN, peer's in AWAITING_DECISION
        self._own: dict[str, Proposal] = {}  # our unresolved proposals at head seq + 1 (incl. pending)
        self._answers: dict[str, bytes] = {}  # peer proposals at head seq + 1 we rejected -> our reject
        self._nonces: dict[str, str] = {}  # nonce -> state hash, proposals at head seq + 1
        self._resolved: set[str] = set()  # our proposals at head seq + 1 the peer rejected
        self._noticed: dict[str, int] = {}  # recovery hash -> when we first saw it (spec 7.8)
        self._cancels: dict[str, bytes] = {}  # recovery hash -> the recovery_cancel message we hold
        self._operator_keys: tuple[bytes | str, ...] = tuple(operator_keys)
        if entries:
            try:
                verified = verify_log(entries, self._operator_keys)
            except RemoteProtocolError as e:
                raise _local(e) from e
            if not verified.genesis_complete:
                raise LocalProtocolError(
                    ErrorCode.GENESIS_NOT_COUNTERSIGNED, "both members countersign the genesis (or imported tip) first"
                )
            self.log = list(entries)
            ref = self.log[-1].state
        elif _pending_genesis is not None:
            ref = _pending_genesis.state
        else:
            raise LocalProtocolError(ErrorCode.BAD_GENESIS, "a party needs a log or a genesis")
        side = _side if _side is not None else self._my_side(ref)
        if side is None:
            raise LocalProtocolError(ErrorCode.WRONG_SIGNER, "our key is neither a nor b of the channel")
        self.side: str = side
        self.peer: str = OTHER[side]
        self.channel: str = ref.channel

    # ------------------------------------------------------------ construction
    @classmethod
    def restore(
        cls,
        signer: Signer | bytes,
        entries: Sequence[LogEntry],
        *,
        now: int,
        unresolved: Sequence[Proposal] = (),
        rejects: Sequence[bytes] = (),
        operator_keys: Iterable[bytes | str] = (),
        recoveries_noticed: Mapping[str, int] | None = None,
        recovery_cancels: Sequence[bytes] = (),
        recovering: str | None = None,
    ) -> Party:
        """Rebuild a party after a restart from what it wrote durably before sending (spec 7.7).

        `unresolved`: our proposals at `head.seq + 1` that were sent and not yet resolved (the
        newest one whose deadline has not passed becomes pending again); `rejects`: the rejects we
        sent for the peer's proposals at `head.seq + 1`. Without them, a restarted party could
        countersign a second state at that seq. Items for an older seq are ignored (resolved by
        the log). `recoveries_noticed` and `recovery_cancels` are what `Party.recoveries_noticed`
        and `Party.recovery_cancels` held (spec 7.8); `recovering` is the member's party id when
        `signer` is a new device whose `recover_key` is not committed yet (`Party.recovering`)."""
        if recovering is not None:
            party = cls.recovering(signer, entries, party=recovering, operator_keys=operator_keys)
        else:
            party = cls(signer, entries, operator_keys=operator_keys)
        party._noticed.update(recoveries_noticed or {})
        for data in recovery_cancels:
            cmsg = decode(data)
            if not isinstance(cmsg, RecoveryCancelMessage):
                raise LocalProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, "not a recovery_cancel")
            party._cancels[cmsg.cancel.recovery] = data
        head = party._require_head()
        for prop in unresolved:
            st = prop.state
            if st.seq != head.seq + 1:
                continue
            if st.channel != party.channel or st.update.proposer != party.side or st.prev != head.hash_hex:
                raise LocalProtocolError(ErrorCode.UNKNOWN_PROPOSAL, "not one of our proposals on this head")
            verify(bytes.fromhex(st.member(party.side).key), st.signing_message, bytes.fromhex(prop.sig))
            party._own[st.hash_hex] = prop
            party._nonces[st.update.nonce] = st.hash_hex
        live = [p for p in party._own.values() if now < p.state.update.deadline]
        if live:
            party._pending = max(live, key=lambda p: p.state.update.deadline)
            party.mstate = MState.AWAITING_COUNTERSIGN
        for data in rejects:
            msg = decode(data)
            if not isinstance(msg, Reject) or msg.rejector != party.side or msg.channel != party.channel:
                raise LocalProtocolError(ErrorCode.UNKNOWN_PROPOSAL, "not a reject we sent on this channel")
            if msg.seq == head.seq + 1:
                party._answers[msg.state_hash] = data
        return party

    @classmethod
    def recovering(
        cls,
        new_signer: Signer | bytes,
        entries: Sequence[LogEntry],
        *,
        party: str,
        operator_keys: Iterable[bytes | str] = (),
    ) -> Party:
        """The member's new device on one of its channels before its `recover_key` is committed
        (spec §7.8): `entries` is the log (from the counterparty: every entry is checked),
        `party` the member's id. It can propose the `recover_key` (signed with the new key) and
        receive; it cannot countersign or reject until the new key is in the head."""
        s = as_signer(new_signer)
        if not entries:
            raise LocalProtocolError(ErrorCode.BAD_GENESIS, "a party needs a log or a genesis")
        head = entries[-1].state
        side = "a" if head.a.id == party else "b" if head.b.id == party else None
        if side is None:
            raise LocalProtocolError(ErrorCode.NOT_A_PARTY, party)
        return cls(s, entries, operator_keys=operator_keys, _side=side)

    @classmethod
    def open(cls, signer: Signer | bytes, genesis: State, *, now: int) -> tuple[Party, bytes]:
        """Propose a fresh genesis (built with `make_genesis`); returns the party and the bytes to send."""
        s = as_signer(signer)
        try:
            check_genesis(genesis)
        except RemoteProtocolError as e:
            raise _local(e) from e
        if genesis.member(genesis.update.proposer).key != s.public_key.hex():
            raise LocalProtocolError(ErrorCode.WRONG_PROPOSER, "the genesis names another proposer")
        if now >= genesis.update.deadline:
            raise LocalProtocolError(ErrorCode.DEADLINE_PASSED)
        prop = Proposal(genesis, s.sign(genesis.signing_message).hex())
        party = cls(s, _pending_genesis=prop)
        party.mstate = step(party.mstate, Event.LOCAL_PROPOSE, "op valid on head")
        party._pending = prop
        party._own[genesis.hash_hex] = prop
        party._nonces[genesis.update.nonce] = genesis.hash_hex
        return party, prop.encode()

    @classmethod
    def join(cls, signer: Signer | bytes, data: bytes, *, now: int) -> tuple[Party, list[EventT]]:
        """Receive a peer's genesis proposal; then `accept` or `reject` it."""
        msg = decode(data)
        if not isinstance(msg, Proposal):
            raise remote(ErrorCode.UNKNOWN_MESSAGE_TYPE, "expected a genesis proposal")
        st = msg.state
        check_genesis(st)
        if st.update.proposer not in ("a", "b"):
            raise remote(ErrorCode.WRONG_PROPOSER)
        verify(bytes.fromhex(st.member(st.update.proposer).key), st.signing_message, bytes.fromhex(msg.sig))
        party = cls(signer, _pending_genesis=msg)
        if party.side == st.update.proposer:
            raise LocalProtocolError(ErrorCode.WRONG_SIGNER, "this is our own genesis proposal")
        party._check_timing(st, now)
        party.mstate = step(
            party.mstate, Event.PEER_PROPOSAL, "valid next state, lower hash than our unresolved proposals"
        )
        party._pending = msg
        party._nonces[st.update.nonce] = st.hash_hex
        return party, [ProposalReceived(msg, False)]

    # ------------------------------------------------------------ views
    @property
    def head(self) -> LogEntry | None:
        """The latest fully co-signed entry (None before the genesis is co-signed)."""
        return self.log[-1] if self.log else None

    @property
    def state(self) -> State | None:
        return self.log[-1].state if self.log else None

    @property
    def pending(self) -> Proposal | None:
        return self._pending

    @property
    def public_key(self) -> str:
        return next(iter(self._signers))

    @property
    def unresolved(self) -> list[Proposal]:
        """Our proposals at `head.seq + 1` not yet resolved: with `sent_rejects`, what spec 7.7
        says to keep durably and hand back to `restore`."""
        return list(self._own.values())

    @property
    def sent_rejects(self) -> list[bytes]:
        """The rejects we sent for the peer's proposals at `head.seq + 1` (spec 7.7)."""
        return list(self._answers.values())

    @property
    def recoveries_noticed(self) -> dict[str, int]:
        """Recovery hash -> when we first saw it (spec 7.8): keep durably, give back to `restore`."""
        return dict(self._noticed)

    @property
    def recovery_cancels(self) -> list[bytes]:
        """The `recovery_cancel` messages we hold (spec 7.8): keep durably, give back to `restore`."""
        return list(self._cancels.values())

    # ------------------------------------------------------------ local actions
    def propose(self, op: Op, *, now: int, deadline: int, nonce: str) -> bytes:
        """Propose `op` as the next state; returns the proposal bytes to send."""
        head = self._require_head()
        if self.mstate is not MState.IDLE:
            step(self.mstate, Event.LOCAL_PROPOSE, "always")
        if nonce in self._nonces:
            step(self.mstate, Event.LOCAL_PROPOSE, "nonce already used at this seq")
        try:
            st = apply_op(head, Update(self.side, op, now, deadline, nonce))
        except RemoteProtocolError as e:
            raise _local(e) from e
        refusal = self._recovery_refusal(head, op, now)
        if refusal is not None:  # the peer's recovery, proposed by us: we hold its cancel or wait
            raise LocalProtocolError(ErrorCode(refusal), _REFUSAL_GUARDS[refusal])
        prop = Proposal(st, self._signer_for(st).sign(st.signing_message).hex())
        self.mstate = step(self.mstate, Event.LOCAL_PROPOSE, "op valid on head")
        self._pending = prop
        self._own[st.hash_hex] = prop
        self._nonces[nonce] = st.hash_hex
        return prop.encode()

    def rotate_key(self, new_signer: Signer | bytes, *, counter: int, now: int, deadline: int, nonce: str) -> bytes:
        """Propose replacing our key; the statement is signed by the old and the new key."""
        head = self._require_head()
        new = as_signer(new_signer)
        old = self._signer_for(head)
        me = head.member(self.side)
        body = KeyRotation(me.id, me.key, new.public_key.hex(), counter, now, "", "")
        msg = body.signing_message
        stmt = KeyRotation(me.id, me.key, new.public_key.hex(), counter, now, old.sign(msg).hex(), new.sign(msg).hex())
        self._add_signer(new)
        return self.propose(RotateKey(stmt), now=now, deadline=deadline, nonce=nonce)

    def accept(self, *, now: int) -> bytes:
        """Countersign the peer's pending proposal; returns the Accept bytes to send."""
        if self.mstate is not MState.AWAITING_DECISION or self._pending is None:
            step(self.mstate, Event.LOCAL_ACCEPT, "always")
            raise AssertionError("unreachable")
        prop = self._pending
        st = prop.state
        if now >= st.update.deadline:
            step(self.mstate, Event.LOCAL_ACCEPT, "deadline passed")
        sig = self._signer_for(st).sign(st.signing_message).hex()
        self.mstate = step(self.mstate, Event.LOCAL_ACCEPT, "before the proposal's deadline")
        entry = LogEntry(st, sig if self.side == "a" else prop.sig, prop.sig if self.side == "a" else sig)
        self._commit(entry)
        return Accept(st.channel, st.seq, st.hash_hex, sig).encode()

    def reject(self, reason: str = "DECLINED", *, now: int) -> bytes:
        """Refuse the peer's pending proposal with a signed Reject; returns its bytes."""
        if self.mstate is not MState.AWAITING_DECISION or self._pending is None:
            step(self.mstate, Event.LOCAL_REJECT, "always")
            raise AssertionError("unreachable")
        st = self._pending.state
        head = self.state
        if head is not None and not may_refuse(head, st.update, reason):
            step(self.mstate, Event.LOCAL_REJECT, "proposal is must-accept")
        data = self._reject_bytes(st, reason, now)
        self.mstate = step(self.mstate, Event.LOCAL_REJECT, "proposal is not must-accept")
        self._pending = None
        return data

    def expire(self, *, now: int) -> list[EventT]:
        """Tell the machine the time; voids a pending proposal whose deadline passed."""
        p = self._pending
        if self.mstate is MState.IDLE or p is None or now < p.state.update.deadline:
            guard = {
                MState.IDLE: "always",
                MState.AWAITING_COUNTERSIGN: "our deadline not passed",
                MState.AWAITING_DECISION: "peer's deadline not passed",
            }[self.mstate]
            self.mstate = step(self.mstate, Event.DEADLINE_PASSED, guard)
            return []
        self._pending = None
        if self.mstate is MState.AWAITING_COUNTERSIGN:
            self.mstate = step(self.mstate, Event.DEADLINE_PASSED, "our deadline passed")
            return [ProposalVoided(p.state, True, "DEADLINE_PASSED")]  # stays in _own: a late accept wins
        self.mstate = step(self.mstate, Event.DEADLINE_PASSED, "peer's deadline passed")
        return [
            ProposalVoided(p.state, False, "DEADLINE_PASSED"),
            Send(self._reject_bytes(p.state, "DEADLINE_PASSED", now)),
        ]

    def reestablish(self) -> bytes:
        """Our latest co-signed seq and hash, to send on (re)connect."""
        head = self._require_head()
        return Reestablish(self.channel, head.seq, head.hash_hex).encode()

    # ------------------------------------------------------------ receiving
    def receive(self, data: bytes, *, now: int) -> list[EventT]:
        """Handle bytes from the peer. Raises RemoteProtocolError if they break the rules."""
        msg = decode(data)
        if isinstance(msg, EquivocationProof):
            raise remote(ErrorCode.UNKNOWN_MESSAGE_TYPE, "equivocation proofs are not channel messages")
        if isinstance(msg, (RecoveryNotice, RecoveryCancelMessage)):  # not channel-specific (spec 6.7, 6.8)
            return (
                self._on_recovery_notice(msg, now)
                if isinstance(msg, RecoveryNotice)
                else self._on_recovery_cancel(msg, now)
            )
        if (msg.state.channel if isinstance(msg, Proposal) else msg.channel) != self.channel:
            raise remote(ErrorCode.WRONG_CHANNEL)
        if isinstance(msg, Proposal):
            return self._on_proposal(msg, now)
        if isinstance(msg, Accept):
            return self._on_accept(msg)
        if isinstance(msg, Reject):
            return self._on_reject(msg)
        if isinstance(msg, Reestablish):
            return self._on_reestablish(msg)
        return self._on_entries(msg)

    def _on_proposal(self, p: Proposal, now: int) -> list[EventT]:
        """Checks, in order: proposer, seq (old: answer or send entries; gap: RESYNC_NEEDED),
        already answered, prev, nonce, created, apply_op guards, state equality, signature,
        deadline, then the tie rule against our unresolved proposals."""
        st = p.state
        ms = self.mstate
        if st.update.proposer != self.peer:
            raise remote(ErrorCode.WRONG_PROPOSER, f"proposer {st.update.proposer!r} is not the peer")
        head = self.state
        head_seq = head.seq if head is not None else -1
        if st.seq <= head_seq:
            return self._answer_old(st)
        if st.seq > head_seq + 1:
            step(ms, Event.PEER_PROPOSAL, "seq > head seq + 1", f"seq {st.seq}, our head {head_seq}")
        fresh = not self._answers and not self._own and ms is MState.IDLE
        if not fresh:  # something already happened at this seq: duplicates are answered by hash
            h = st.hash_hex
            if h in self._answers:
                step(ms, Event.PEER_PROPOSAL, "already answered (same hash)")
                return [Send(self._answers[h])]
            pend = self._pending
            if ms is MState.AWAITING_DECISION and pend is not None and pend.state.hash_hex == h:
                step(ms, Event.PEER_PROPOSAL, "same proposal again")
                return []
        if head is None or st.prev != head.hash_hex:
            step(ms, Event.PEER_PROPOSAL, "prev is not head hash")
            raise AssertionError("unreachable")
        seen = self._nonces.get(st.update.nonce)  # hash the received state only when it matters
        if seen is not None and seen != st.hash_hex:
            step(ms, Event.PEER_PROPOSAL, "same nonce, different state at this seq")
        if st.update.created > now + MAX_CLOCK_SKEW:
            raise remote(ErrorCode.CREATED_IN_FUTURE, f"created {st.update.created}, now {now}")
        expected = apply_op(head, st.update)  # the only place the next state is computed
        if expected != st:
            step(ms, Event.PEER_PROPOSAL, "state differs from apply_op(head, update)")
        verify(bytes.fromhex(expected.member(self.peer).key), expected.signing_message, bytes.fromhex(p.sig))
        p, st = Proposal(expected, p.sig), expected  # reuse the expected state's cached bytes and hash
        self._nonces[st.update.nonce] = st.hash_hex
        # void by our clock, or (spec 7.8) a recover_key the old key cancelled or not yet due
        refusal = "DEADLINE_PASSED" if now >= st.update.deadline else self._recovery_refusal(head, st.update.op, now)
        if refusal is not None:
            step(ms, Event.PEER_PROPOSAL, _REFUSAL_GUARDS[refusal])
            return [ProposalVoided(st, False, refusal), Send(self._reject_bytes(st, refusal, now))]
        if self._own and min(self._own) < st.hash_hex:  # tie rule: the lower state hash wins
            step(
                ms,
                Event.PEER_PROPOSAL,
                "one of our unresolved proposals has a lower hash"
                if ms is MState.IDLE
                else "same seq, one of our unresolved proposals has a lower hash",
            )
            return [ProposalVoided(st, False, "TIE_LOST"), Send(self._reject_bytes(st, "TIE_LOST", now))]
        return self._take_proposal(p, head, now)

    def _take_proposal(self, p: Proposal, head: State, now: int) -> list[EventT]:
        ms = self.mstate
        pend = self._pending
        events: list[EventT] = []
        if ms is MState.AWAITING_DECISION:
            assert pend is not None
            if now < pend.state.update.deadline:
                step(ms, Event.PEER_PROPOSAL, "pending one's deadline not passed")
            step(ms, Event.PEER_PROPOSAL, "pending one's deadline passed")
            events += [
                ProposalVoided(pend.state, False, "DEADLINE_PASSED"),
                Send(self._reject_bytes(pend.state, "DEADLINE_PASSED", now)),
            ]
        elif ms is MState.AWAITING_COUNTERSIGN:
            assert pend is not None
            self.mstate = step(
                ms, Event.PEER_PROPOSAL, "same seq, peer's state hash is lower than all our unresolved ones"
            )
            events.append(ProposalVoided(pend.state, True, "TIE_LOST"))
        else:
            self.mstate = step(ms, Event.PEER_PROPOSAL, "valid next state, lower hash than our unresolved proposals")
        self._pending = p
        events.append(ProposalReceived(p, must_accept(head, p.state.update)))
        return events

    def _answer_old(self, st: State) -> list[EventT]:
        """A proposal at or below our head: answer again if we committed it, else the peer is behind."""
        entry = self.log[st.seq]
        if entry.state.hash_hex == st.hash_hex:
            step(self.mstate, Event.PEER_PROPOSAL, "already answered (same hash)")
            sig = entry.sig(self.side)
            assert sig is not None
            return [Send(Accept(st.channel, st.seq, st.hash_hex, sig).encode())]
        step(self.mstate, Event.PEER_PROPOSAL, "seq <= head seq")
        return [
            PeerBehind(st.seq - 1, len(self.log) - 1),
            Send(Entries(self.channel, tuple(self.log[st.seq :])).encode()),
        ]

    def _on_accept(self, a: Accept) -> list[EventT]:
        ms = self.mstate
        head = self.state
        if head is not None and a.seq <= head.seq:
            if self.log[a.seq].state.hash_hex == a.state_hash:
                step(ms, Event.PEER_ACCEPT, "for a committed state")
                return []
            own = None
        else:
            own = self._own.get(a.state_hash)
        if own is None:
            step(ms, Event.PEER_ACCEPT, "for nothing we proposed")
            raise AssertionError("unreachable")
        st = own.state
        if a.seq != st.seq:
            raise remote(ErrorCode.BAD_VALUE, "accept names the wrong seq")
        verify(bytes.fromhex(st.member(self.peer).key), st.signing_message, bytes.fromhex(a.sig))
        events: list[EventT] = []
        pend = self._pending
        if ms is MState.AWAITING_COUNTERSIGN and pend is not None and pend.state.hash_hex == a.state_hash:
            self.mstate = step(ms, Event.PEER_ACCEPT, "countersigns our pending proposal")
        else:
            self.mstate = step(ms, Event.PEER_ACCEPT, "countersigns one of our voided proposals")
            if pend is not None:
                events.append(ProposalVoided(pend.state, pend.state.update.proposer == self.side, "SUPERSEDED"))
        entry = LogEntry(st, own.sig if self.side == "a" else a.sig, a.sig if self.side == "a" else own.sig)
        self._commit(entry)
        events.append(StateCommitted(entry))
        return events

    def _on_reject(self, r: Reject) -> list[EventT]:
        ms = self.mstate
        own = self._own.get(r.state_hash)
        head = self.state
        if own is None:
            known = r.state_hash in self._resolved or (head is not None and r.seq <= head.seq)
            step(ms, Event.PEER_REJECT, "for a committed or resolved state" if known else "for nothing we proposed")
            return []
        st = own.state
        if r.rejector != self.peer or r.seq != st.seq:
            raise remote(ErrorCode.BAD_VALUE, "reject names the wrong rejector or seq")
        key = (head or st).member(self.peer).key  # a reject is signed with the rejector's head key
        verify(bytes.fromhex(key), r.signing_message, bytes.fromhex(r.sig))
        del self._own[r.state_hash]
        self._resolved.add(r.state_hash)
        pend = self._pending
        if ms is MState.AWAITING_COUNTERSIGN and pend is not None and pend.state.hash_hex == r.state_hash:
            violation = None
            if head is not None and not may_refuse(head, st.update, r.reason):
                violation = ErrorCode.REJECT_NOT_ALLOWED
                self.mstate = step(
                    ms, Event.PEER_REJECT, "rejects a must-accept proposal without DEADLINE_PASSED/TIE_LOST"
                )
            else:
                self.mstate = step(ms, Event.PEER_REJECT, "rejects our pending proposal")
            self._pending = None
            return [ProposalRejected(r, st, violation)]
        self.mstate = step(ms, Event.PEER_REJECT, "rejects one of our voided proposals")
        return [ProposalRejected(r, st, None)]

    def _on_reestablish(self, r: Reestablish) -> list[EventT]:
        head = self._require_head()
        ms = self.mstate
        if r.seq > head.seq:
            step(ms, Event.PEER_REESTABLISH, "peer is ahead")
            return [PeerAhead(r.seq, head.seq)]
        if self.log[r.seq].state.hash_hex != r.state_hash:
            step(ms, Event.PEER_REESTABLISH, "hash differs at a common seq", f"seq {r.seq}")
        if r.seq < head.seq:
            step(ms, Event.PEER_REESTABLISH, "peer is behind, its hash matches ours at its seq")
            return [PeerBehind(r.seq, head.seq), Send(Entries(self.channel, tuple(self.log[r.seq + 1 :])).encode())]
        step(ms, Event.PEER_REESTABLISH, "same seq and hash")
        return [InSync(head.seq), *(Send(p.encode()) for p in self._own.values())]

    def _on_entries(self, m: Entries) -> list[EventT]:
        events: list[EventT] = []
        for e in m.entries:
            head = self._require_head()
            st = e.state
            if st.seq <= head.seq:
                mine = self.log[st.seq]
                if mine.state.hash_hex != st.hash_hex:
                    proof = EquivocationProof(mine, e)
                    try:
                        from .log import verify_equivocation_proof

                        verify_equivocation_proof(proof)
                    except RemoteProtocolError:
                        step(self.mstate, Event.PEER_ENTRIES, "entry conflicts with our co-signed entry")
                    raise RemoteProtocolError(ErrorCode.CHAIN_FORK, f"seq {st.seq}", data=proof)
                continue
            if st.seq > head.seq + 1:
                raise remote(ErrorCode.RESYNC_NEEDED, f"entry seq {st.seq}, our head {head.seq}")
            if st.seq == 0:
                verify_genesis(e, self._operator_keys)
            else:
                verify_next(head, e, self._operator_keys)
                if not e.complete:  # an attested import_sync: we continue only from a countersigned one
                    raise remote(ErrorCode.MISSING_SIGNATURE, f"seq {st.seq}")
            pend = self._pending
            self.mstate = step(self.mstate, Event.PEER_ENTRIES, "entries extend our head")
            if pend is not None and pend.state.hash_hex != st.hash_hex:
                events.append(ProposalVoided(pend.state, pend.state.update.proposer == self.side, "SUPERSEDED"))
            self._commit(e)
            events.append(StateCommitted(e))
        return events

    def _on_recovery_notice(self, n: RecoveryNotice, now: int) -> list[EventT]:
        head = self._require_head()
        check_recovery(head, n.op, created=None)
        st = n.statement
        noticed = self._noticed.setdefault(st.hash_hex, now)
        self.mstate = step(self.mstate, Event.PEER_RECOVERY_NOTICE, "valid on our head")
        own = st.party == head.member(self.side).id
        return [RecoveryNoticed(st, noticed, recovery_due(st, n.policy, noticed), own, st.hash_hex in self._cancels)]

    def _on_recovery_cancel(self, m: RecoveryCancelMessage, now: int) -> list[EventT]:
        head = self._require_head()
        c = m.cancel
        check_recovery_cancel(head, c)
        self._cancels.setdefault(c.recovery, m.encode())
        ms, pend = self.mstate, self._pending
        events: list[EventT] = [RecoveryCancelled(c)]
        op = pend.state.update.op if pend is not None else None
        if (
            ms is MState.AWAITING_DECISION
            and pend is not None
            and isinstance(op, RecoverKey)
            and op.statement.hash_hex == c.recovery
        ):
            self.mstate = step(ms, Event.PEER_RECOVERY_CANCEL, "valid, cancels the pending recover_key")
            self._pending = None
            reject = self._reject_bytes(pend.state, "RECOVERY_CANCELLED", now)
            return [*events, ProposalVoided(pend.state, False, "RECOVERY_CANCELLED"), Send(reject)]
        self.mstate = step(ms, Event.PEER_RECOVERY_CANCEL, "valid, by the party's current key")
        return events

    def _recovery_refusal(self, head: State, op: object, now: int) -> str | None:
        """For a `recover_key` of the peer: RECOVERY_CANCELLED if we hold the old key's cancel,
        RECOVERY_TOO_EARLY before its delay has passed since we first saw it (spec 7.8)."""
        if not isinstance(op, RecoverKey) or op.statement.party == head.member(self.side).id:
            return None
        h = op.statement.hash_hex
        if h in self._cancels:
            return "RECOVERY_CANCELLED"
        noticed = self._noticed.setdefault(h, now)
        if now < recovery_due(op.statement, op.policy, noticed):
            return "RECOVERY_TOO_EARLY"
        return None

    # ------------------------------------------------------------ helpers
    def _commit(self, entry: LogEntry) -> None:
        self.log.append(entry)
        self.mstate = MState.IDLE
        self._pending = None
        self._own.clear()
        self._answers.clear()
        self._nonces.clear()
        self._resolved.clear()
        mine = entry.state.member(self.side).key
        if mine in self._signers:  # drop signers for keys no longer ours
            self._signers = {k: v for k, v in self._signers.items() if k == mine}

    def _reject_bytes(self, st: State, reason: str, now: int) -> bytes:
        body = Reject(st.channel, st.seq, st.hash_hex, self.side, reason, now, "")
        signer = self._current_signer()  # our key in the head state (in the genesis before there is a head)
        data = Reject(
            st.channel, st.seq, st.hash_hex, self.side, reason, now, signer.sign(body.signing_message).hex()
        ).encode()
        self._answers[st.hash_hex] = data
        return data

    def _check_timing(self, st: State, now: int) -> None:
        if st.update.created > now + MAX_CLOCK_SKEW:
            raise remote(ErrorCode.CREATED_IN_FUTURE)
        if now >= st.update.deadline:
            raise remote(ErrorCode.DEADLINE_PASSED)

    def _require_head(self) -> State:
        head = self.state
        if head is None:
            raise LocalProtocolError(ErrorCode.GENESIS_NOT_COUNTERSIGNED, "no co-signed genesis yet")
        return head

    def _add_signer(self, s: Signer) -> None:
        self._signers[s.public_key.hex()] = s

    def _my_side(self, st: State) -> str | None:
        for k in self._signers:
            side = st.side_of_key(k)
            if side is not None:
                return side
        return None

    def _signer_for(self, st: State) -> Signer:
        s = self._signers.get(st.member(self.side).key)
        if s is None:
            raise LocalProtocolError(ErrorCode.WRONG_SIGNER, "we hold no signer for our key in this state")
        return s

    def _current_signer(self) -> Signer:
        ref = self.state or (self._pending.state if self._pending is not None else None)
        if ref is not None:
            return self._signer_for(ref)
        return next(iter(self._signers.values()))
