"""Typed errors of the bilateral core: a stable string code each, and whose fault it was.

`LocalProtocolError`: we (or our caller) broke the rules. `RemoteProtocolError`: the bytes we were
given break the rules (the peer, or whoever produced a log or proof we were asked to check).
Pure validators raise `RemoteProtocolError`; `Party` re-raises as `LocalProtocolError` when the
offending data came from its own caller.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every error code of the protocol. The string value is the stable wire/vector code."""

    # encoding (strict JSON profile)
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    INVALID_UTF8 = "INVALID_UTF8"
    INVALID_JSON = "INVALID_JSON"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    NON_ASCII_KEY = "NON_ASCII_KEY"
    LONE_SURROGATE = "LONE_SURROGATE"
    FLOAT_NOT_ALLOWED = "FLOAT_NOT_ALLOWED"
    INTEGER_OUT_OF_RANGE = "INTEGER_OUT_OF_RANGE"
    NESTING_TOO_DEEP = "NESTING_TOO_DEEP"
    # schema
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    UNKNOWN_OP = "UNKNOWN_OP"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    MISSING_FIELD = "MISSING_FIELD"
    WRONG_TYPE = "WRONG_TYPE"
    BAD_HEX = "BAD_HEX"
    BAD_VALUE = "BAD_VALUE"
    # signatures (checked in this order)
    SIGNATURE_LENGTH = "SIGNATURE_LENGTH"
    KEY_LENGTH = "KEY_LENGTH"
    KEY_SMALL_ORDER = "KEY_SMALL_ORDER"
    KEY_NON_CANONICAL = "KEY_NON_CANONICAL"
    R_SMALL_ORDER = "R_SMALL_ORDER"
    R_NON_CANONICAL = "R_NON_CANONICAL"
    S_NON_CANONICAL = "S_NON_CANONICAL"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    MISSING_SIGNATURE = "MISSING_SIGNATURE"
    # chain
    WRONG_CHANNEL = "WRONG_CHANNEL"
    CHAIN_BROKEN = "CHAIN_BROKEN"
    RESYNC_NEEDED = "RESYNC_NEEDED"
    CHAIN_FORK = "CHAIN_FORK"
    STATE_MISMATCH = "STATE_MISMATCH"
    NOT_EQUIVOCATION = "NOT_EQUIVOCATION"
    # genesis
    BAD_GENESIS = "BAD_GENESIS"
    BAD_CHANNEL_ID = "BAD_CHANNEL_ID"
    MISSING_ATTESTATION = "MISSING_ATTESTATION"
    UNEXPECTED_ATTESTATION = "UNEXPECTED_ATTESTATION"
    UNKNOWN_OPERATOR = "UNKNOWN_OPERATOR"
    GENESIS_NOT_COUNTERSIGNED = "GENESIS_NOT_COUNTERSIGNED"
    # imported prefix and legacy history
    NOT_IN_IMPORT_PREFIX = "NOT_IN_IMPORT_PREFIX"
    IMPORT_SOURCE_CHANGED = "IMPORT_SOURCE_CHANGED"
    HISTORY_SHRANK = "HISTORY_SHRANK"
    HISTORY_MISMATCH = "HISTORY_MISMATCH"
    HISTORY_BALANCE_MISMATCH = "HISTORY_BALANCE_MISMATCH"
    # ops and guards
    NOT_A_PARTY = "NOT_A_PARTY"
    WRONG_PROPOSER = "WRONG_PROPOSER"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    CHANNEL_FROZEN = "CHANNEL_FROZEN"
    CHANNEL_CLOSED = "CHANNEL_CLOSED"
    BAD_STATUS_CHANGE = "BAD_STATUS_CHANGE"
    HOLDS_OPEN = "HOLDS_OPEN"
    TOO_MANY_HOLDS = "TOO_MANY_HOLDS"
    DUPLICATE_HOLD = "DUPLICATE_HOLD"
    UNKNOWN_HOLD = "UNKNOWN_HOLD"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    HOLD_NOT_EXPIRED = "HOLD_NOT_EXPIRED"
    BAD_PREIMAGE = "BAD_PREIMAGE"
    BAD_KEY_ROTATION = "BAD_KEY_ROTATION"
    # social recovery (spec §5.14-§5.16)
    BAD_RECOVERY_POLICY = "BAD_RECOVERY_POLICY"
    RECOVERY_POLICY_MISMATCH = "RECOVERY_POLICY_MISMATCH"
    BAD_RECOVERY = "BAD_RECOVERY"
    RECOVERY_TOO_EARLY = "RECOVERY_TOO_EARLY"
    TOO_FEW_APPROVALS = "TOO_FEW_APPROVALS"
    NOT_A_GUARDIAN = "NOT_A_GUARDIAN"
    DUPLICATE_APPROVAL = "DUPLICATE_APPROVAL"
    RECOVERY_CANCELLED = "RECOVERY_CANCELLED"
    # timing, concurrency, replay
    BAD_DEADLINE = "BAD_DEADLINE"
    CREATED_IN_FUTURE = "CREATED_IN_FUTURE"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    NONCE_REUSED = "NONCE_REUSED"
    PROPOSAL_PENDING = "PROPOSAL_PENDING"
    DECISION_PENDING = "DECISION_PENDING"
    NOTHING_PENDING = "NOTHING_PENDING"
    UNKNOWN_PROPOSAL = "UNKNOWN_PROPOSAL"
    REJECT_NOT_ALLOWED = "REJECT_NOT_ALLOWED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    WRONG_SIGNER = "WRONG_SIGNER"


class ProtocolError(Exception):
    """Base of all core errors. `code` is an `ErrorCode`; `detail` is for humans only."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, detail: str = "", *, data: Any = None) -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail
        self.data = data  # e.g. an EquivocationProof for CHAIN_FORK


class LocalProtocolError(ProtocolError):
    """We, or the code calling us, broke the rules (nothing was sent)."""


class RemoteProtocolError(ProtocolError):
    """The bytes we were given (from the peer, or a log/proof being checked) break the rules."""


def remote(code: ErrorCode, detail: str = "") -> RemoteProtocolError:
    """Shorthand used by validators: `raise remote(ErrorCode.X, "...")`."""
    return RemoteProtocolError(code, detail)
