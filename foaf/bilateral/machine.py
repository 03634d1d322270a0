"""The transition tables, as data: the party state machine and the channel status machine.

`TRANSITIONS` lists, from one party's point of view, every (machine state, event, guard) and its
outcome: the next machine state, or an error (whose fault, code). `step` looks a row up; a
combination with no row is an illegal transition and raises. `OP_STATUS` says which ops each
channel status allows and the status after them. The spec's tables and the Mermaid diagram are
generated from these tuples (`python -m foaf.bilateral.diagram`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError


class MState(StrEnum):
    """Where one party stands in the current round."""

    IDLE = "IDLE"  # no proposal in flight at head seq + 1
    AWAITING_COUNTERSIGN = "AWAITING_COUNTERSIGN"  # our proposal is out
    AWAITING_DECISION = "AWAITING_DECISION"  # the peer's proposal is in, our decision is pending


class Event(StrEnum):
    LOCAL_PROPOSE = "LOCAL_PROPOSE"
    LOCAL_ACCEPT = "LOCAL_ACCEPT"
    LOCAL_REJECT = "LOCAL_REJECT"
    PEER_PROPOSAL = "PEER_PROPOSAL"
    PEER_ACCEPT = "PEER_ACCEPT"
    PEER_REJECT = "PEER_REJECT"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    PEER_REESTABLISH = "PEER_REESTABLISH"
    PEER_ENTRIES = "PEER_ENTRIES"
    PEER_RECOVERY_NOTICE = "PEER_RECOVERY_NOTICE"
    PEER_RECOVERY_CANCEL = "PEER_RECOVERY_CANCEL"

    @property
    def local(self) -> bool:
        return self.value.startswith("LOCAL_") or self is Event.DEADLINE_PASSED


LOCAL = "local"
REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: in `state`, on `event`, if `guard` holds, go to `next` (or raise `error`)."""

    state: MState
    event: Event
    guard: str
    next: MState | None
    action: str
    error: tuple[str, ErrorCode] | None = None


IDLE, COUNTER, DECIDE = MState.IDLE, MState.AWAITING_COUNTERSIGN, MState.AWAITING_DECISION
E = Event
T = Transition

TRANSITIONS: tuple[Transition, ...] = (
    # --- IDLE
    T(IDLE, E.LOCAL_PROPOSE, "op valid on head", COUNTER, "sign and send proposal"),
    T(
        IDLE,
        E.LOCAL_PROPOSE,
        "op invalid on head",
        None,
        "nothing sent; the failing guard's code (LIMIT_EXCEEDED shown)",
        (LOCAL, ErrorCode.LIMIT_EXCEEDED),
    ),
    T(IDLE, E.LOCAL_PROPOSE, "nonce already used at this seq", None, "nothing sent", (LOCAL, ErrorCode.NONCE_REUSED)),
    T(
        IDLE,
        E.PEER_PROPOSAL,
        "valid next state, lower hash than our unresolved proposals",
        DECIDE,
        "report ProposalReceived",
    ),
    T(IDLE, E.PEER_PROPOSAL, "one of our unresolved proposals has a lower hash", IDLE, "send Reject(TIE_LOST)"),
    T(IDLE, E.PEER_PROPOSAL, "valid but deadline passed by our clock", IDLE, "send Reject(DEADLINE_PASSED)"),
    T(IDLE, E.PEER_ACCEPT, "countersigns one of our voided proposals", IDLE, "commit it: a co-signed state wins"),
    T(IDLE, E.PEER_ACCEPT, "for a committed state", IDLE, "ignore (duplicate)"),
    T(IDLE, E.PEER_ACCEPT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(IDLE, E.PEER_REJECT, "rejects one of our voided proposals", IDLE, "it is resolved (void for good)"),
    T(IDLE, E.PEER_REJECT, "for a committed or resolved state", IDLE, "ignore (duplicate)"),
    T(IDLE, E.PEER_REJECT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(IDLE, E.LOCAL_ACCEPT, "always", None, "nothing sent", (LOCAL, ErrorCode.NOTHING_PENDING)),
    T(IDLE, E.LOCAL_REJECT, "always", None, "nothing sent", (LOCAL, ErrorCode.NOTHING_PENDING)),
    T(IDLE, E.DEADLINE_PASSED, "always", IDLE, "nothing"),
    # --- AWAITING_COUNTERSIGN (our proposal is out)
    T(COUNTER, E.PEER_ACCEPT, "countersigns our pending proposal", IDLE, "commit, report StateCommitted"),
    T(
        COUNTER,
        E.PEER_ACCEPT,
        "countersigns one of our voided proposals",
        IDLE,
        "commit it; the pending proposal is superseded",
    ),
    T(COUNTER, E.PEER_ACCEPT, "for a committed state", COUNTER, "ignore (duplicate)"),
    T(COUNTER, E.PEER_ACCEPT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(COUNTER, E.PEER_REJECT, "rejects our pending proposal", IDLE, "report ProposalRejected"),
    T(COUNTER, E.PEER_REJECT, "rejects one of our voided proposals", COUNTER, "it is resolved (void for good)"),
    T(
        COUNTER,
        E.PEER_REJECT,
        "rejects a must-accept proposal without DEADLINE_PASSED/TIE_LOST",
        IDLE,
        "report ProposalRejected with violation REJECT_NOT_ALLOWED (evidence)",
    ),
    T(
        COUNTER,
        E.PEER_PROPOSAL,
        "same seq, peer's state hash is lower than all our unresolved ones",
        DECIDE,
        "our proposal is void (tie lost); report ProposalVoided + ProposalReceived",
    ),
    T(
        COUNTER,
        E.PEER_PROPOSAL,
        "same seq, one of our unresolved proposals has a lower hash",
        COUNTER,
        "peer's proposal is void (tie won): send Reject(TIE_LOST)",
    ),
    T(COUNTER, E.PEER_PROPOSAL, "valid but deadline passed by our clock", COUNTER, "send Reject(DEADLINE_PASSED)"),
    T(COUNTER, E.DEADLINE_PASSED, "our deadline passed", IDLE, "our proposal is void (kept: a late accept still wins)"),
    T(COUNTER, E.DEADLINE_PASSED, "our deadline not passed", COUNTER, "nothing"),
    T(COUNTER, E.LOCAL_PROPOSE, "always", None, "nothing sent", (LOCAL, ErrorCode.PROPOSAL_PENDING)),
    T(COUNTER, E.LOCAL_ACCEPT, "always", None, "nothing sent", (LOCAL, ErrorCode.NOTHING_PENDING)),
    T(COUNTER, E.LOCAL_REJECT, "always", None, "nothing sent", (LOCAL, ErrorCode.NOTHING_PENDING)),
    # --- AWAITING_DECISION (peer's proposal is in)
    T(DECIDE, E.LOCAL_ACCEPT, "before the proposal's deadline", IDLE, "countersign, commit, send Accept"),
    T(DECIDE, E.LOCAL_ACCEPT, "deadline passed", None, "nothing sent", (LOCAL, ErrorCode.DEADLINE_PASSED)),
    T(DECIDE, E.LOCAL_REJECT, "proposal is not must-accept", IDLE, "sign and send Reject"),
    T(DECIDE, E.LOCAL_REJECT, "proposal is must-accept", None, "nothing sent", (LOCAL, ErrorCode.REJECT_NOT_ALLOWED)),
    T(DECIDE, E.PEER_PROPOSAL, "same proposal again", DECIDE, "ignore (decision pending)"),
    T(
        DECIDE,
        E.PEER_PROPOSAL,
        "pending one's deadline passed",
        DECIDE,
        "send Reject(DEADLINE_PASSED) for the pending one, decide on the new one",
    ),
    T(DECIDE, E.PEER_PROPOSAL, "pending one's deadline not passed", None, "drop", (REMOTE, ErrorCode.PROPOSAL_PENDING)),
    T(DECIDE, E.PEER_ACCEPT, "for a committed state", DECIDE, "ignore (duplicate)"),
    T(
        DECIDE,
        E.PEER_ACCEPT,
        "countersigns one of our voided proposals",
        IDLE,
        "commit it: a co-signed state wins; the peer's pending proposal is superseded",
    ),
    T(DECIDE, E.PEER_ACCEPT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(DECIDE, E.PEER_REJECT, "rejects one of our voided proposals", DECIDE, "it is resolved (void for good)"),
    T(DECIDE, E.PEER_REJECT, "for a committed or resolved state", DECIDE, "ignore (duplicate)"),
    T(DECIDE, E.PEER_REJECT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(
        DECIDE,
        E.DEADLINE_PASSED,
        "peer's deadline passed",
        IDLE,
        "peer's proposal is void; we must not countersign: send Reject(DEADLINE_PASSED)",
    ),
    T(DECIDE, E.DEADLINE_PASSED, "peer's deadline not passed", DECIDE, "nothing"),
    T(COUNTER, E.PEER_REJECT, "for a committed or resolved state", COUNTER, "ignore (duplicate)"),
    T(COUNTER, E.PEER_REJECT, "for nothing we proposed", None, "drop", (REMOTE, ErrorCode.UNKNOWN_PROPOSAL)),
    T(DECIDE, E.PEER_PROPOSAL, "valid but deadline passed by our clock", DECIDE, "send Reject(DEADLINE_PASSED)"),
    T(DECIDE, E.PEER_PROPOSAL, "same seq, one of our unresolved proposals has a lower hash", DECIDE, "tie won"),
    T(DECIDE, E.LOCAL_PROPOSE, "always", None, "nothing sent", (LOCAL, ErrorCode.DECISION_PENDING)),
)
# validation, replays, reestablish and catch-up are the same from every machine state
for _s in MState:
    TRANSITIONS += (
        T(_s, E.PEER_PROPOSAL, "already answered (same hash)", _s, "re-send the same answer"),
        T(_s, E.PEER_PROPOSAL, "seq <= head seq", _s, "send Entries the peer misses (it is behind)"),
        T(_s, E.PEER_PROPOSAL, "seq > head seq + 1", None, "ask to reestablish", (REMOTE, ErrorCode.RESYNC_NEEDED)),
        T(_s, E.PEER_PROPOSAL, "prev is not head hash", None, "drop", (REMOTE, ErrorCode.CHAIN_BROKEN)),
        T(
            _s,
            E.PEER_PROPOSAL,
            "same nonce, different state at this seq",
            None,
            "drop",
            (REMOTE, ErrorCode.NONCE_REUSED),
        ),
        T(
            _s,
            E.PEER_PROPOSAL,
            "a guard of apply_op fails",
            None,
            "drop; the guard's code (LIMIT_EXCEEDED shown)",
            (REMOTE, ErrorCode.LIMIT_EXCEEDED),
        ),
        T(
            _s,
            E.PEER_PROPOSAL,
            "proposer signature fails the strict check",
            None,
            "drop; the check's code (BAD_SIGNATURE shown)",
            (REMOTE, ErrorCode.BAD_SIGNATURE),
        ),
        T(
            _s,
            E.PEER_PROPOSAL,
            "state differs from apply_op(head, update)",
            None,
            "drop",
            (REMOTE, ErrorCode.STATE_MISMATCH),
        ),
        T(_s, E.PEER_REESTABLISH, "same seq and hash", _s, "re-send our unresolved proposals byte-identically"),
        T(_s, E.PEER_REESTABLISH, "peer is behind, its hash matches ours at its seq", _s, "send Entries after its seq"),
        T(_s, E.PEER_REESTABLISH, "peer is ahead", _s, "wait for its Entries"),
        T(_s, E.PEER_REESTABLISH, "hash differs at a common seq", None, "stop", (REMOTE, ErrorCode.CHAIN_FORK)),
        T(
            _s,
            E.PEER_ENTRIES,
            "entries extend our head",
            IDLE,
            "commit them; proposals at committed seqs are superseded",
        ),
        T(
            _s,
            E.PEER_ENTRIES,
            "entry conflicts with our co-signed entry",
            None,
            "stop; proof attached",
            (REMOTE, ErrorCode.CHAIN_FORK),
        ),
    )

# social recovery (spec §7.8): notices and cancels are recorded in any machine state; a
# recover_key the old key cancelled, or not yet due by our clock, is refused like a void proposal
for _s in MState:
    TRANSITIONS += (
        T(
            _s,
            E.PEER_PROPOSAL,
            "recover_key cancelled by the old key",
            _s,
            "send Reject(RECOVERY_CANCELLED)",
        ),
        T(
            _s,
            E.PEER_PROPOSAL,
            "recover_key not yet due by our clock",
            _s,
            "remember when we first saw it; send Reject(RECOVERY_TOO_EARLY)",
        ),
        T(
            _s,
            E.PEER_RECOVERY_NOTICE,
            "valid on our head",
            _s,
            "remember when we first saw it; report RecoveryNoticed (tell the member)",
        ),
        T(
            _s,
            E.PEER_RECOVERY_NOTICE,
            "fails the recover_key checks (delay aside)",
            None,
            "drop; the check's code (TOO_FEW_APPROVALS shown)",
            (REMOTE, ErrorCode.TOO_FEW_APPROVALS),
        ),
        T(
            _s,
            E.PEER_RECOVERY_CANCEL,
            "valid, by the party's current key",
            _s,
            "remember it; report RecoveryCancelled",
        ),
        T(
            _s,
            E.PEER_RECOVERY_CANCEL,
            "fails the cancel checks",
            None,
            "drop; the check's code (BAD_SIGNATURE shown)",
            (REMOTE, ErrorCode.BAD_SIGNATURE),
        ),
    )
TRANSITIONS += (
    T(
        DECIDE,
        E.PEER_RECOVERY_CANCEL,
        "valid, cancels the pending recover_key",
        IDLE,
        "remember it; the pending proposal is void: send Reject(RECOVERY_CANCELLED)",
    ),
)

_INDEX: dict[tuple[MState, Event, str], Transition] = {(t.state, t.event, t.guard): t for t in TRANSITIONS}
_PAIRS: set[tuple[MState, Event]] = {(t.state, t.event) for t in TRANSITIONS}


def step(state: MState, event: Event, guard: str, detail: str = "") -> MState:
    """The next machine state for (state, event, guard); raises the row's error, or
    ILLEGAL_TRANSITION when the table has no such row."""
    t = _INDEX.get((state, event, guard))
    if t is None:
        err: type[ProtocolError] = LocalProtocolError if event.local else RemoteProtocolError
        raise err(ErrorCode.ILLEGAL_TRANSITION, f"{event.value} in {state.value} ({guard})")
    if t.error is not None:
        fault, code = t.error
        raise (LocalProtocolError if fault == LOCAL else RemoteProtocolError)(code, detail or guard)
    assert t.next is not None
    return t.next


def error_row(state: MState, event: Event, guard: str) -> Transition:
    """The row for a guard (used to name the transition an error belongs to)."""
    return _INDEX[(state, event, guard)]


# ---------------------------------------------------------------- channel status machine
OPS_BY_STATUS: dict[str, dict[str, str]] = {
    "open": {
        "payment": "open",
        "settlement": "open",
        "set_limit": "open",
        "hold": "open",
        "release": "open",
        "cancel": "open",
        "rotate_key": "open",
        "set_recovery": "open",
        "recover_key": "open",
        "freeze": "frozen",
        "close": "closed",
    },
    "frozen": {
        "settlement": "frozen",
        "set_limit": "frozen",
        "release": "frozen",
        "cancel": "frozen",
        "rotate_key": "frozen",
        "set_recovery": "frozen",
        "recover_key": "frozen",
        "unfreeze": "open",
        "close": "closed",
    },
    "closed": {
        "settlement": "closed",
        "set_limit": "closed",
        "rotate_key": "closed",
        "set_recovery": "closed",
        "recover_key": "closed",
        "reopen": "open",
    },
}
OP_STATUS: dict[tuple[str, str], str] = {(s, op): n for s, ops in OPS_BY_STATUS.items() for op, n in ops.items()}
STATUS_GUARDS: dict[tuple[str, str], str] = {
    ("closed", "settlement"): "moves the balance toward zero without crossing it",
    ("closed", "set_limit"): "lowers the limit",
    ("open", "close"): "no open holds",
    ("frozen", "close"): "no open holds",
}
