"""FOAF bilateral channels: the pure protocol core (no Django, no I/O, no clock).

Two members share one channel whose states are co-signed and hash-chained. See
docs/spec/bilateral.md. Public API re-exported here.
"""

from .crypto import SMALL_ORDER_ENCODINGS, SeedSigner, Signer, check_public_key, verify
from .errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from .jcs import MAX_DEPTH, MAX_MESSAGE_BYTES, MAX_SAFE_INTEGER, canonicalize, parse
from .log import (
    EquivocationReport,
    VerifiedLog,
    attest_genesis,
    countersign,
    sign_state,
    verify_equivocation_proof,
    verify_log,
)
from .machine import OPS_BY_STATUS, TRANSITIONS, Event, MState
from .model import (
    Accept,
    Cancel,
    Entries,
    EquivocationProof,
    Hold,
    Import,
    KeyRotation,
    LogEntry,
    Member,
    Open,
    Payment,
    PlaceHold,
    Proposal,
    Reestablish,
    Reject,
    Release,
    RotateKey,
    SetLimit,
    Settlement,
    State,
    StatusOp,
    Update,
    decode,
)
from .party import (
    InSync,
    Party,
    PeerAhead,
    PeerBehind,
    ProposalReceived,
    ProposalRejected,
    ProposalVoided,
    Send,
    StateCommitted,
    must_accept,
)
from .rules import apply_op, channel_id, exposure, history_root, history_row, make_genesis


def state_hash(state: State) -> str:
    """Lowercase hex SHA-256 of the state's JCS bytes."""
    return state.hash_hex


__all__ = [
    "MAX_DEPTH",
    "MAX_MESSAGE_BYTES",
    "MAX_SAFE_INTEGER",
    "OPS_BY_STATUS",
    "SMALL_ORDER_ENCODINGS",
    "TRANSITIONS",
    "Accept",
    "Cancel",
    "Entries",
    "EquivocationProof",
    "EquivocationReport",
    "ErrorCode",
    "Event",
    "Hold",
    "Import",
    "InSync",
    "KeyRotation",
    "LocalProtocolError",
    "LogEntry",
    "MState",
    "Member",
    "Open",
    "Party",
    "Payment",
    "PeerAhead",
    "PeerBehind",
    "PlaceHold",
    "Proposal",
    "ProposalReceived",
    "ProposalRejected",
    "ProposalVoided",
    "ProtocolError",
    "Reestablish",
    "Reject",
    "Release",
    "RemoteProtocolError",
    "RotateKey",
    "SeedSigner",
    "Send",
    "SetLimit",
    "Settlement",
    "Signer",
    "State",
    "StateCommitted",
    "StatusOp",
    "Update",
    "VerifiedLog",
    "apply_op",
    "attest_genesis",
    "canonicalize",
    "channel_id",
    "check_public_key",
    "countersign",
    "decode",
    "exposure",
    "history_root",
    "history_row",
    "make_genesis",
    "must_accept",
    "parse",
    "sign_state",
    "state_hash",
    "verify",
    "verify_equivocation_proof",
    "verify_log",
]
