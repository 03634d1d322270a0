"""Frozen dataclasses for everything the protocol signs or sends, with strict JSON (de)coding.

`from_json` validates exactly: unknown fields, missing fields, wrong types (bool is not an int),
hex that is not lowercase fixed-length, out-of-range values all raise RemoteProtocolError.
`to_json` returns the plain JSON object whose JCS bytes are hashed and signed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar, overload

from .crypto import (
    TAG_KEY_ROTATION,
    TAG_RECOVERY,
    TAG_RECOVERY_APPROVAL,
    TAG_RECOVERY_CANCEL,
    TAG_RECOVERY_POLICY,
    TAG_REJECT,
    TAG_STATE,
    sha256,
    signing_message,
)
from .errors import ErrorCode, remote
from .jcs import MAX_SAFE_INTEGER, canonicalize_trusted

VERSION = 1
SIDES = ("a", "b")
ZERO_HASH = "0" * 64
MAX_HOLDS = 64
MAX_MEMO_BYTES = 256
JSON = dict[str, Any]

_HEX_DIGITS = "0123456789abcdef"
_CURRENCY = re.compile(r"[A-Z]{3}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REASON = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


_T = TypeVar("_T")


class cached_property(Generic[_T]):
    """Computed once per instance, then read from the instance dict (frozen dataclasses allow it)."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__

    @overload
    def __get__(self, obj: None, cls: type) -> cached_property[_T]: ...
    @overload
    def __get__(self, obj: object, cls: type) -> _T: ...
    def __get__(self, obj: object | None, cls: type) -> _T | cached_property[_T]:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


# ---------------------------------------------------------------- field helpers
def check_fields(d: Any, fields: frozenset[str], what: str) -> None:
    """`d` must be an object with exactly `fields`."""
    if type(d) is not dict:
        raise remote(ErrorCode.WRONG_TYPE, f"{what} must be an object")
    if d.keys() != fields:
        extra = sorted(d.keys() - fields)
        if extra:
            raise remote(ErrorCode.UNKNOWN_FIELD, f"{what}.{extra[0]}")
        raise remote(ErrorCode.MISSING_FIELD, f"{what}.{sorted(fields - d.keys())[0]}")


def get_int(d: JSON, k: str, lo: int = 0, hi: int = MAX_SAFE_INTEGER) -> int:
    v = d[k]
    if type(v) is not int:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be an integer")
    if not lo <= v <= hi:
        raise remote(ErrorCode.BAD_VALUE, f"{k}={v} outside [{lo}, {hi}]")
    return v


def get_hex(d: JSON, k: str, nbytes: int) -> str:
    v = d[k]
    if type(v) is not str:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be a string")
    if len(v) != 2 * nbytes or v.strip(_HEX_DIGITS):  # strip leaves something iff a non-hex char
        raise remote(ErrorCode.BAD_HEX, f"{k} must be {2 * nbytes} lowercase hex digits")
    return v


def get_enum(d: JSON, k: str, values: tuple[str, ...]) -> str:
    v = d[k]
    if type(v) is not str:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be a string")
    if v not in values:
        raise remote(ErrorCode.BAD_VALUE, f"{k}={v!r} not one of {values}")
    return v


def get_str(d: JSON, k: str, max_bytes: int) -> str:
    v = d[k]
    if type(v) is not str:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be a string")
    if len(v) > max_bytes or (not v.isascii() and len(v.encode("utf-8", "surrogatepass")) > max_bytes):
        raise remote(ErrorCode.BAD_VALUE, f"{k} longer than {max_bytes} UTF-8 bytes")
    return v


def get_match(d: JSON, k: str, pattern: re.Pattern[str]) -> str:
    v = d[k]
    if type(v) is not str:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be a string")
    if not pattern.fullmatch(v):
        raise remote(ErrorCode.BAD_VALUE, f"{k}={v[:40]!r}")
    return v


def check_version(d: Any) -> None:
    """`v` is checked before anything else so a v2 object gets UNSUPPORTED_VERSION."""
    if type(d) is dict and "v" in d:
        v = d["v"]
        if type(v) is not int:
            raise remote(ErrorCode.WRONG_TYPE, "v must be an integer")
        if v != VERSION:
            raise remote(ErrorCode.UNSUPPORTED_VERSION, f"v={v}")


# ---------------------------------------------------------------- parties, holds
@dataclass(frozen=True, slots=True)
class Member:
    """One party as named in a state: stable `id` (hex of its inception key) and current `key`."""

    id: str
    key: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"id", "key"})

    def to_json(self) -> JSON:
        return {"id": self.id, "key": self.key}

    @classmethod
    def from_json(cls, d: Any) -> Member:
        check_fields(d, cls.FIELDS, "party")
        return cls(get_hex(d, "id", 32), get_hex(d, "key", 32))

    @classmethod
    def inception(cls, public_key: bytes) -> Member:
        """A new party whose id is the hex of its first public key."""
        return cls(public_key.hex(), public_key.hex())


@dataclass(frozen=True, slots=True)
class Hold:
    """An open conditional hold: `payer` owes `amount` more once the lock's preimage is shown."""

    id: str
    payer: str
    amount: int
    lock: str
    expires: int

    FIELDS: ClassVar[frozenset[str]] = frozenset({"id", "payer", "amount", "lock", "expires"})

    def to_json(self) -> JSON:
        return {"id": self.id, "payer": self.payer, "amount": self.amount, "lock": self.lock, "expires": self.expires}

    @classmethod
    def from_json(cls, d: Any) -> Hold:
        check_fields(d, cls.FIELDS, "hold")
        return cls(
            get_hex(d, "id", 16),
            get_enum(d, "payer", SIDES),
            get_int(d, "amount", 1),
            get_hex(d, "lock", 32),
            get_int(d, "expires"),
        )


# ---------------------------------------------------------------- ops
@dataclass(frozen=True, slots=True)
class Open:
    """Genesis op of a fresh relationship."""

    TYPE: ClassVar[str] = "open"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type"})

    def to_json(self) -> JSON:
        return {"type": "open"}

    @classmethod
    def from_json(cls, d: JSON) -> Open:
        check_fields(d, cls.FIELDS, "op")
        return cls()


@dataclass(frozen=True, slots=True)
class Import:
    """Genesis op of a relationship imported from the legacy system (operator-attested)."""

    source: str
    legacy_id: int
    history_root: str
    history_rows: int

    TYPE: ClassVar[str] = "import"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "source", "legacy_id", "history_root", "history_rows"})

    def to_json(self) -> JSON:
        return {
            "type": "import",
            "source": self.source,
            "legacy_id": self.legacy_id,
            "history_root": self.history_root,
            "history_rows": self.history_rows,
        }

    @classmethod
    def from_json(cls, d: JSON) -> Import:
        check_fields(d, cls.FIELDS, "op")
        return cls(
            get_match(d, "source", _SOURCE),
            get_int(d, "legacy_id"),
            get_hex(d, "history_root", 32),
            get_int(d, "history_rows"),
        )


SYNC_STATUSES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class ImportSync:
    """Catch-up of an imported relationship still in its imported prefix (operator-attested).

    The state it produces has exactly this op's balance, limits and status; `history_root` extends
    the previous import's chain by the legacy rows added since (`history_rows` counts them all)."""

    source: str
    legacy_id: int
    history_root: str
    history_rows: int
    balance: int
    limit_a_to_b: int
    limit_b_to_a: int
    status: str

    TYPE: ClassVar[str] = "import_sync"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "type",
            "source",
            "legacy_id",
            "history_root",
            "history_rows",
            "balance",
            "limit_a_to_b",
            "limit_b_to_a",
            "status",
        }
    )

    def to_json(self) -> JSON:
        return {
            "type": "import_sync",
            "source": self.source,
            "legacy_id": self.legacy_id,
            "history_root": self.history_root,
            "history_rows": self.history_rows,
            "balance": self.balance,
            "limit_a_to_b": self.limit_a_to_b,
            "limit_b_to_a": self.limit_b_to_a,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, d: JSON) -> ImportSync:
        check_fields(d, cls.FIELDS, "op")
        return cls(
            get_match(d, "source", _SOURCE),
            get_int(d, "legacy_id"),
            get_hex(d, "history_root", 32),
            get_int(d, "history_rows"),
            get_int(d, "balance", -MAX_SAFE_INTEGER),
            get_int(d, "limit_a_to_b"),
            get_int(d, "limit_b_to_a"),
            get_enum(d, "status", SYNC_STATUSES),
        )


IMPORT_OPS = (Import, ImportSync)  # the ops of the imported prefix (proposer "operator", attested)


@dataclass(frozen=True, slots=True)
class _Transfer:
    """The shape shared by payments and settlements: who, how much, a memo."""

    from_: str
    amount: int
    memo: str = ""

    TYPE: ClassVar[str]
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "from", "amount", "memo"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "from": self.from_, "amount": self.amount, "memo": self.memo}

    @classmethod
    def from_json(cls, d: JSON) -> Self:
        check_fields(d, cls.FIELDS, "op")
        return cls(get_enum(d, "from", SIDES), get_int(d, "amount", 1), get_str(d, "memo", MAX_MEMO_BYTES))


@dataclass(frozen=True, slots=True)
class Payment(_Transfer):
    """`from_` pays the other party `amount` on credit (its debt grows)."""

    TYPE: ClassVar[str] = "payment"


@dataclass(frozen=True, slots=True)
class Settlement(_Transfer):
    """`from_` paid the other party outside the ledger (its debt shrinks)."""

    TYPE: ClassVar[str] = "settlement"


LIMITS = ("a_to_b", "b_to_a")
LIMIT_OWNER = {"a_to_b": "b", "b_to_a": "a"}  # b extends limit_a_to_b (credit to a)


@dataclass(frozen=True, slots=True)
class SetLimit:
    """Set `limit_<which>` to `amount`. The limit's owner is the party extending the credit."""

    which: str
    amount: int

    TYPE: ClassVar[str] = "set_limit"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "which", "amount"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "which": self.which, "amount": self.amount}

    @classmethod
    def from_json(cls, d: JSON) -> SetLimit:
        check_fields(d, cls.FIELDS, "op")
        return cls(get_enum(d, "which", LIMITS), get_int(d, "amount"))

    @property
    def owner(self) -> str:
        return LIMIT_OWNER[self.which]


@dataclass(frozen=True, slots=True)
class PlaceHold:
    """Open a conditional hold (`type: "hold"`): `from_` will owe `amount` on the lock's preimage."""

    id: str
    from_: str
    amount: int
    lock: str
    expires: int

    TYPE: ClassVar[str] = "hold"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "id", "from", "amount", "lock", "expires"})

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "id": self.id,
            "from": self.from_,
            "amount": self.amount,
            "lock": self.lock,
            "expires": self.expires,
        }

    @classmethod
    def from_json(cls, d: JSON) -> PlaceHold:
        check_fields(d, cls.FIELDS, "op")
        return cls(
            get_hex(d, "id", 16),
            get_enum(d, "from", SIDES),
            get_int(d, "amount", 1),
            get_hex(d, "lock", 32),
            get_int(d, "expires"),
        )


@dataclass(frozen=True, slots=True)
class Release:
    """Resolve a hold with its preimage: the held amount moves onto the balance."""

    id: str
    preimage: str

    TYPE: ClassVar[str] = "release"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "id", "preimage"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "id": self.id, "preimage": self.preimage}

    @classmethod
    def from_json(cls, d: JSON) -> Release:
        check_fields(d, cls.FIELDS, "op")
        return cls(get_hex(d, "id", 16), get_hex(d, "preimage", 32))


@dataclass(frozen=True, slots=True)
class Cancel:
    """Drop a hold without moving the balance."""

    id: str

    TYPE: ClassVar[str] = "cancel"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "id"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "id": self.id}

    @classmethod
    def from_json(cls, d: JSON) -> Cancel:
        check_fields(d, cls.FIELDS, "op")
        return cls(get_hex(d, "id", 16))


@dataclass(frozen=True, slots=True)
class StatusOp:
    """`freeze`, `unfreeze`, `close` or `reopen` (no fields besides `type`)."""

    type: str

    TYPES: ClassVar[tuple[str, ...]] = ("freeze", "unfreeze", "close", "reopen")
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type"})

    @property
    def TYPE(self) -> str:
        return self.type

    def to_json(self) -> JSON:
        return {"type": self.type}

    @classmethod
    def from_json(cls, d: JSON) -> StatusOp:
        check_fields(d, cls.FIELDS, "op")
        return cls(d["type"])


@dataclass(frozen=True)
class KeyRotation:
    """Statement that party `party` replaces `old_key` by `new_key`, signed by both keys."""

    party: str
    old_key: str
    new_key: str
    counter: int
    time: int
    old_sig: str
    new_sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"party", "old_key", "new_key", "counter", "time", "old_sig", "new_sig"}
    )

    def body_json(self) -> JSON:
        """The signed part (everything but the two signatures)."""
        return {
            "party": self.party,
            "old_key": self.old_key,
            "new_key": self.new_key,
            "counter": self.counter,
            "time": self.time,
        }

    @cached_property
    def body_canonical(self) -> bytes:
        return canonicalize_trusted(self.body_json())

    @cached_property
    def signing_message(self) -> bytes:
        return signing_message(TAG_KEY_ROTATION, sha256(self.body_canonical))

    def to_json(self) -> JSON:
        d = self.body_json()
        d["old_sig"] = self.old_sig
        d["new_sig"] = self.new_sig
        return d

    @classmethod
    def from_json(cls, d: Any) -> KeyRotation:
        check_fields(d, cls.FIELDS, "statement")
        return cls(
            get_hex(d, "party", 32),
            get_hex(d, "old_key", 32),
            get_hex(d, "new_key", 32),
            get_int(d, "counter", 1),
            get_int(d, "time"),
            get_hex(d, "old_sig", 64),
            get_hex(d, "new_sig", 64),
        )


@dataclass(frozen=True, slots=True)
class RotateKey:
    """Carry a KeyRotation statement into the channel: the party's key in the state changes."""

    statement: KeyRotation

    TYPE: ClassVar[str] = "rotate_key"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "statement"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "statement": self.statement.to_json()}

    @classmethod
    def from_json(cls, d: JSON) -> RotateKey:
        check_fields(d, cls.FIELDS, "op")
        return cls(KeyRotation.from_json(d["statement"]))


# ---------------------------------------------------------------- social recovery (spec §5.14-§5.16)
MAX_GUARDIANS = 16
MIN_RECOVERY_DELAY = 86_400  # one day: the old key's time to cancel
MAX_RECOVERY_DELAY = 7_776_000  # ninety days


def _get_array(d: JSON, k: str, max_len: int) -> list[Any]:
    v = d[k]
    if type(v) is not list:
        raise remote(ErrorCode.WRONG_TYPE, f"{k} must be an array")
    if len(v) > max_len:
        raise remote(ErrorCode.BAD_VALUE, f"{k} has more than {max_len} items")
    return v


@dataclass(frozen=True)
class RecoveryPolicy:
    """A member's choice of guardians, signed by its current key (tag `/recovery-policy`):
    `threshold` of `guardians` (counterparties named by id and key, sorted by id) may approve a
    move of `party` to a new key, which takes effect `delay` seconds after it started at the
    earliest. Not channel-specific: the same statement is set in each of the member's channels
    (op `set_recovery`); its hash (of the body, without `sig`) names it."""

    party: str
    key: str
    guardians: tuple[Member, ...]
    threshold: int
    delay: int
    counter: int
    time: int
    sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"party", "key", "guardians", "threshold", "delay", "counter", "time", "sig"}
    )

    def body_json(self) -> JSON:
        """The signed part (everything but `sig`)."""
        return {
            "party": self.party,
            "key": self.key,
            "guardians": [g.to_json() for g in self.guardians],
            "threshold": self.threshold,
            "delay": self.delay,
            "counter": self.counter,
            "time": self.time,
        }

    @cached_property
    def hash(self) -> bytes:
        return sha256(canonicalize_trusted(self.body_json()))

    @cached_property
    def hash_hex(self) -> str:
        """The policy's name: hex SHA-256 of the JCS of its body."""
        return self.hash.hex()

    @cached_property
    def signing_message(self) -> bytes:
        return signing_message(TAG_RECOVERY_POLICY, self.hash)

    def guardian_key(self, guardian_id: str) -> str | None:
        for g in self.guardians:
            if g.id == guardian_id:
                return g.key
        return None

    def to_json(self) -> JSON:
        d = self.body_json()
        d["sig"] = self.sig
        return d

    @classmethod
    def from_json(cls, d: Any) -> RecoveryPolicy:
        check_fields(d, cls.FIELDS, "policy")
        raw = _get_array(d, "guardians", MAX_GUARDIANS)
        guardians = tuple(Member.from_json(g) for g in raw)
        if not guardians:
            raise remote(ErrorCode.BAD_VALUE, "a policy names at least one guardian")
        for i in range(1, len(guardians)):
            if guardians[i - 1].id >= guardians[i].id:
                raise remote(ErrorCode.BAD_VALUE, "guardians must be sorted by id, ids unique")
        return cls(
            get_hex(d, "party", 32),
            get_hex(d, "key", 32),
            guardians,
            get_int(d, "threshold", 1, MAX_GUARDIANS),
            get_int(d, "delay", MIN_RECOVERY_DELAY, MAX_RECOVERY_DELAY),
            get_int(d, "counter", 1),
            get_int(d, "time"),
            get_hex(d, "sig", 64),
        )


@dataclass(frozen=True)
class RecoveryStatement:
    """The lost key's replacement: `party` moves from `old_key` to `new_key` under the policy
    named by its hash, started at `time`; signed by the new key (tag `/recovery`). Guardians
    approve its hash; the old key may cancel it by that hash."""

    party: str
    old_key: str
    new_key: str
    policy: str
    counter: int
    time: int
    sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"party", "old_key", "new_key", "policy", "counter", "time", "sig"})

    def body_json(self) -> JSON:
        return {
            "party": self.party,
            "old_key": self.old_key,
            "new_key": self.new_key,
            "policy": self.policy,
            "counter": self.counter,
            "time": self.time,
        }

    @cached_property
    def hash(self) -> bytes:
        return sha256(canonicalize_trusted(self.body_json()))

    @cached_property
    def hash_hex(self) -> str:
        """The recovery's name: hex SHA-256 of the JCS of its body."""
        return self.hash.hex()

    @cached_property
    def signing_message(self) -> bytes:
        return signing_message(TAG_RECOVERY, self.hash)

    def to_json(self) -> JSON:
        d = self.body_json()
        d["sig"] = self.sig
        return d

    @classmethod
    def from_json(cls, d: Any) -> RecoveryStatement:
        check_fields(d, cls.FIELDS, "statement")
        return cls(
            get_hex(d, "party", 32),
            get_hex(d, "old_key", 32),
            get_hex(d, "new_key", 32),
            get_hex(d, "policy", 32),
            get_int(d, "counter", 1),
            get_int(d, "time"),
            get_hex(d, "sig", 64),
        )


def approval_body(guardian: str, recovery: str) -> JSON:
    """What a guardian signs (tag `/recovery-approval`): its id and the recovery's hash."""
    return {"guardian": guardian, "recovery": recovery}


@dataclass(frozen=True, slots=True)
class Approval:
    """A guardian's signature over `approval_body(guardian, recovery hash)`, by the key the
    policy names for it."""

    guardian: str
    sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"guardian", "sig"})

    def to_json(self) -> JSON:
        return {"guardian": self.guardian, "sig": self.sig}

    @classmethod
    def from_json(cls, d: Any) -> Approval:
        check_fields(d, cls.FIELDS, "approval")
        return cls(get_hex(d, "guardian", 32), get_hex(d, "sig", 64))


def approval_message(guardian: str, recovery_hash: str) -> bytes:
    return signing_message(TAG_RECOVERY_APPROVAL, sha256(canonicalize_trusted(approval_body(guardian, recovery_hash))))


@dataclass(frozen=True)
class RecoveryCancel:
    """The old key's veto of one recovery (named by hash), signed by that key (tag `/recovery-cancel`)."""

    party: str
    key: str
    recovery: str
    time: int
    sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"party", "key", "recovery", "time", "sig"})

    def body_json(self) -> JSON:
        return {"party": self.party, "key": self.key, "recovery": self.recovery, "time": self.time}

    @cached_property
    def signing_message(self) -> bytes:
        return signing_message(TAG_RECOVERY_CANCEL, sha256(canonicalize_trusted(self.body_json())))

    def to_json(self) -> JSON:
        d = self.body_json()
        d["sig"] = self.sig
        return d

    @classmethod
    def from_json(cls, d: Any) -> RecoveryCancel:
        check_fields(d, cls.FIELDS, "cancel")
        return cls(
            get_hex(d, "party", 32),
            get_hex(d, "key", 32),
            get_hex(d, "recovery", 32),
            get_int(d, "time"),
            get_hex(d, "sig", 64),
        )


@dataclass(frozen=True, slots=True)
class SetRecovery:
    """Carry a RecoveryPolicy into the channel: the state records its hash and counter for the party."""

    policy: RecoveryPolicy

    TYPE: ClassVar[str] = "set_recovery"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "policy"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "policy": self.policy.to_json()}

    @classmethod
    def from_json(cls, d: JSON) -> SetRecovery:
        check_fields(d, cls.FIELDS, "op")
        return cls(RecoveryPolicy.from_json(d["policy"]))


def _approvals(d: JSON) -> tuple[Approval, ...]:
    return tuple(Approval.from_json(a) for a in _get_array(d, "approvals", MAX_GUARDIANS))


@dataclass(frozen=True, slots=True)
class RecoverKey:
    """Move a party to the new key of a RecoveryStatement, with the policy the state names for the
    party and at least `threshold` guardians' approvals."""

    statement: RecoveryStatement
    policy: RecoveryPolicy
    approvals: tuple[Approval, ...]

    TYPE: ClassVar[str] = "recover_key"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "statement", "policy", "approvals"})

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "statement": self.statement.to_json(),
            "policy": self.policy.to_json(),
            "approvals": [a.to_json() for a in self.approvals],
        }

    @classmethod
    def from_json(cls, d: JSON) -> RecoverKey:
        check_fields(d, cls.FIELDS, "op")
        return cls(RecoveryStatement.from_json(d["statement"]), RecoveryPolicy.from_json(d["policy"]), _approvals(d))


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    """What a state keeps of a party's recovery policy: its hash and counter."""

    policy: str
    counter: int

    FIELDS: ClassVar[frozenset[str]] = frozenset({"policy", "counter"})

    def to_json(self) -> JSON:
        return {"policy": self.policy, "counter": self.counter}

    @classmethod
    def from_json(cls, d: Any) -> RecoveryRecord:
        check_fields(d, cls.FIELDS, "recovery")
        return cls(get_hex(d, "policy", 32), get_int(d, "counter", 1))


@dataclass(frozen=True, slots=True)
class Recoveries:
    """A state's optional `recovery` field: the policy record of a and/or b (never neither: a
    state without policies has no `recovery` field, so v1 states keep their bytes)."""

    a: RecoveryRecord | None = None
    b: RecoveryRecord | None = None

    def to_json(self) -> JSON:
        d: JSON = {}
        if self.a is not None:
            d["a"] = self.a.to_json()
        if self.b is not None:
            d["b"] = self.b.to_json()
        return d

    def side(self, side: str) -> RecoveryRecord | None:
        return self.a if side == "a" else self.b

    @staticmethod
    def replace(current: Recoveries | None, side: str, record: RecoveryRecord | None) -> Recoveries | None:
        """`current` with `side`'s record replaced (None removes it); None when neither remains."""
        a = current.a if current is not None else None
        b = current.b if current is not None else None
        if side == "a":
            a = record
        else:
            b = record
        return None if a is None and b is None else Recoveries(a, b)

    @classmethod
    def from_json(cls, d: Any) -> Recoveries:
        if type(d) is not dict:
            raise remote(ErrorCode.WRONG_TYPE, "recovery must be an object")
        extra = d.keys() - {"a", "b"}
        if extra:
            raise remote(ErrorCode.UNKNOWN_FIELD, f"recovery.{sorted(extra)[0]}")
        if not d:
            raise remote(ErrorCode.BAD_VALUE, "recovery names a, b or both (omit it when neither)")
        return cls(
            RecoveryRecord.from_json(d["a"]) if "a" in d else None,
            RecoveryRecord.from_json(d["b"]) if "b" in d else None,
        )


Op = (
    Open
    | Import
    | ImportSync
    | Payment
    | Settlement
    | SetLimit
    | PlaceHold
    | Release
    | Cancel
    | StatusOp
    | RotateKey
    | SetRecovery
    | RecoverKey
)

_OP_CLASSES: dict[str, Any] = {
    "open": Open,
    "import": Import,
    "import_sync": ImportSync,
    "payment": Payment,
    "settlement": Settlement,
    "set_limit": SetLimit,
    "hold": PlaceHold,
    "release": Release,
    "cancel": Cancel,
    "freeze": StatusOp,
    "unfreeze": StatusOp,
    "close": StatusOp,
    "reopen": StatusOp,
    "rotate_key": RotateKey,
    "set_recovery": SetRecovery,
    "recover_key": RecoverKey,
}
OP_TYPES = tuple(_OP_CLASSES)


def op_from_json(d: Any) -> Op:
    if type(d) is not dict:
        raise remote(ErrorCode.WRONG_TYPE, "op must be an object")
    t = d.get("type")
    if type(t) is not str:
        raise remote(ErrorCode.MISSING_FIELD if t is None else ErrorCode.WRONG_TYPE, "op.type")
    cls = _OP_CLASSES.get(t)
    if cls is None:
        raise remote(ErrorCode.UNKNOWN_OP, t[:40])
    op: Op = cls.from_json(d)
    return op


def op_type(op: Op) -> str:
    return op.type if isinstance(op, StatusOp) else op.TYPE


# ---------------------------------------------------------------- update and state
PROPOSERS = ("a", "b", "operator")


@dataclass(frozen=True, slots=True)
class Update:
    """The update that produced a state: who proposed which op, when, until when, with which nonce."""

    proposer: str
    op: Op
    created: int
    deadline: int
    nonce: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"proposer", "op", "created", "deadline", "nonce"})

    def to_json(self) -> JSON:
        return {
            "proposer": self.proposer,
            "op": self.op.to_json(),
            "created": self.created,
            "deadline": self.deadline,
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, d: Any) -> Update:
        check_fields(d, cls.FIELDS, "update")
        return cls(
            get_enum(d, "proposer", PROPOSERS),
            op_from_json(d["op"]),
            get_int(d, "created"),
            get_int(d, "deadline"),
            get_hex(d, "nonce", 16),
        )


STATUSES = ("open", "frozen", "closed")


@dataclass(frozen=True)
class State:
    """One channel state; both parties sign SHA-256(JCS(state)). Hash and bytes are cached."""

    channel: str
    seq: int
    prev: str
    a: Member
    b: Member
    currency: str
    balance: int
    limit_a_to_b: int
    limit_b_to_a: int
    holds: tuple[Hold, ...]
    status: str
    update: Update
    v: int = VERSION
    recovery: Recoveries | None = None  # absent from the JSON when None (spec §4, §5.14)

    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "v",
            "channel",
            "seq",
            "prev",
            "a",
            "b",
            "currency",
            "balance",
            "limit_a_to_b",
            "limit_b_to_a",
            "holds",
            "status",
            "update",
        }
    )
    FIELDS_RECOVERY: ClassVar[frozenset[str]] = FIELDS | {"recovery"}

    @cached_property
    def json(self) -> JSON:
        if self.recovery is not None:
            d = self._json()
            d["recovery"] = self.recovery.to_json()
            return d
        return self._json()

    def _json(self) -> JSON:
        return {
            "v": self.v,
            "channel": self.channel,
            "seq": self.seq,
            "prev": self.prev,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "currency": self.currency,
            "balance": self.balance,
            "limit_a_to_b": self.limit_a_to_b,
            "limit_b_to_a": self.limit_b_to_a,
            "holds": [h.to_json() for h in self.holds],
            "status": self.status,
            "update": self.update.to_json(),
        }

    def to_json(self) -> JSON:
        return self.json

    @cached_property
    def canonical(self) -> bytes:
        return canonicalize_trusted(self.json)

    @cached_property
    def hash(self) -> bytes:
        return sha256(self.canonical)

    @cached_property
    def hash_hex(self) -> str:
        return self.hash.hex()

    @cached_property
    def signing_message(self) -> bytes:
        """tag || 0x00 || state hash: what each party signs."""
        return signing_message(TAG_STATE, self.hash)

    def member(self, side: str) -> Member:
        return self.a if side == "a" else self.b

    def side_of_key(self, key: str) -> str | None:
        return "a" if self.a.key == key else "b" if self.b.key == key else None

    @classmethod
    def from_json(cls, d: Any) -> State:
        check_version(d)
        check_fields(d, cls.FIELDS_RECOVERY if type(d) is dict and "recovery" in d else cls.FIELDS, "state")
        holds_raw = d["holds"]
        if type(holds_raw) is not list:
            raise remote(ErrorCode.WRONG_TYPE, "holds must be an array")
        if len(holds_raw) > MAX_HOLDS:
            raise remote(ErrorCode.TOO_MANY_HOLDS, str(len(holds_raw)))
        holds = tuple(Hold.from_json(h) for h in holds_raw)
        for i in range(1, len(holds)):
            if holds[i - 1].id >= holds[i].id:
                raise remote(ErrorCode.BAD_VALUE, "holds must be sorted by id, ids unique")
        s = cls(
            channel=get_hex(d, "channel", 32),
            seq=get_int(d, "seq"),
            prev=get_hex(d, "prev", 32),
            a=Member.from_json(d["a"]),
            b=Member.from_json(d["b"]),
            currency=get_match(d, "currency", _CURRENCY),
            balance=get_int(d, "balance", -MAX_SAFE_INTEGER),
            limit_a_to_b=get_int(d, "limit_a_to_b"),
            limit_b_to_a=get_int(d, "limit_b_to_a"),
            holds=holds,
            status=get_enum(d, "status", STATUSES),
            update=Update.from_json(d["update"]),
            v=VERSION,
            recovery=Recoveries.from_json(d["recovery"]) if "recovery" in d else None,
        )
        s.__dict__["json"] = d  # validated exactly: its JCS bytes are the state's canonical bytes
        return s


# ---------------------------------------------------------------- log entries
@dataclass(frozen=True, slots=True)
class Attestation:
    """The operator's migration-key signature over the state hash of an entry of the imported prefix
    (the `import` genesis or an `import_sync` state)."""

    key: str
    sig: str

    FIELDS: ClassVar[frozenset[str]] = frozenset({"key", "sig"})

    def to_json(self) -> JSON:
        return {"key": self.key, "sig": self.sig}

    @classmethod
    def from_json(cls, d: Any) -> Attestation:
        check_fields(d, cls.FIELDS, "attest")
        return cls(get_hex(d, "key", 32), get_hex(d, "sig", 64))


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A state with the signatures it carries: `sigs` a/b (both, except on an entry of the imported
    prefix not yet countersigned) and, for an entry of the imported prefix only (`import`,
    `import_sync`), the operator's attestation."""

    state: State
    sig_a: str | None
    sig_b: str | None
    attest: Attestation | None = None

    def to_json(self) -> JSON:
        sigs: JSON = {}
        if self.sig_a is not None:
            sigs["a"] = self.sig_a
        if self.sig_b is not None:
            sigs["b"] = self.sig_b
        d: JSON = {"state": self.state.json, "sigs": sigs}
        if self.attest is not None:
            d["attest"] = self.attest.to_json()
        return d

    @property
    def complete(self) -> bool:
        return self.sig_a is not None and self.sig_b is not None

    def sig(self, side: str) -> str | None:
        return self.sig_a if side == "a" else self.sig_b

    @classmethod
    def from_json(cls, d: Any) -> LogEntry:
        if type(d) is not dict:
            raise remote(ErrorCode.WRONG_TYPE, "entry must be an object")
        fields = _ENTRY_ATTESTED if "attest" in d else _ENTRY
        check_fields(d, fields, "entry")
        sigs = d["sigs"]
        if type(sigs) is not dict:
            raise remote(ErrorCode.WRONG_TYPE, "sigs must be an object")
        extra = sigs.keys() - {"a", "b"}
        if extra:
            raise remote(ErrorCode.UNKNOWN_FIELD, f"sigs.{sorted(extra)[0]}")
        sa = get_hex(sigs, "a", 64) if "a" in sigs else None
        sb = get_hex(sigs, "b", 64) if "b" in sigs else None
        att = Attestation.from_json(d["attest"]) if "attest" in d else None
        return cls(State.from_json(d["state"]), sa, sb, att)


_ENTRY = frozenset({"state", "sigs"})
_ENTRY_ATTESTED = frozenset({"state", "sigs", "attest"})


# ---------------------------------------------------------------- wire messages
@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposed next state and the proposer's signature over its hash."""

    state: State
    sig: str

    TYPE: ClassVar[str] = "proposal"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "state", "sig"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "v": VERSION, "state": self.state.json, "sig": self.sig}

    def encode(self) -> bytes:
        # keys in JCS order: sig, state, type, v (the state's canonical bytes are reused)
        return b'{"sig":"' + self.sig.encode() + b'","state":' + self.state.canonical + b',"type":"proposal","v":1}'

    @classmethod
    def from_json(cls, d: JSON) -> Proposal:
        check_fields(d, cls.FIELDS, "proposal")
        return cls(State.from_json(d["state"]), get_hex(d, "sig", 64))


@dataclass(frozen=True, slots=True)
class Accept:
    """The counterparty's signature over the proposed state's hash (it completes the entry)."""

    channel: str
    seq: int
    state_hash: str
    sig: str

    TYPE: ClassVar[str] = "accept"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "channel", "seq", "state_hash", "sig"})

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "channel": self.channel,
            "seq": self.seq,
            "state_hash": self.state_hash,
            "sig": self.sig,
        }

    def encode(self) -> bytes:
        # JCS by hand (keys sorted: channel, seq, sig, state_hash, type, v); equal to canonicalize(to_json())
        return b'{"channel":"%s","seq":%d,"sig":"%s","state_hash":"%s","type":"accept","v":1}' % (
            self.channel.encode(),
            self.seq,
            self.sig.encode(),
            self.state_hash.encode(),
        )

    @classmethod
    def from_json(cls, d: JSON) -> Accept:
        check_fields(d, cls.FIELDS, "accept")
        return cls(get_hex(d, "channel", 32), get_int(d, "seq"), get_hex(d, "state_hash", 32), get_hex(d, "sig", 64))


@dataclass(frozen=True, slots=True)
class Reject:
    """A signed refusal of one proposal (by state hash), with a reason code."""

    channel: str
    seq: int
    state_hash: str
    rejector: str
    reason: str
    time: int
    sig: str

    TYPE: ClassVar[str] = "reject"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"type", "v", "channel", "seq", "state_hash", "rejector", "reason", "time", "sig"}
    )

    def body_json(self) -> JSON:
        """The signed part: everything but `sig`."""
        return {
            "type": self.TYPE,
            "v": VERSION,
            "channel": self.channel,
            "seq": self.seq,
            "state_hash": self.state_hash,
            "rejector": self.rejector,
            "reason": self.reason,
            "time": self.time,
        }

    @property
    def signing_message(self) -> bytes:
        return signing_message(TAG_REJECT, sha256(canonicalize_trusted(self.body_json())))

    def to_json(self) -> JSON:
        d = self.body_json()
        d["sig"] = self.sig
        return d

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> Reject:
        check_fields(d, cls.FIELDS, "reject")
        return cls(
            get_hex(d, "channel", 32),
            get_int(d, "seq"),
            get_hex(d, "state_hash", 32),
            get_enum(d, "rejector", SIDES),
            get_match(d, "reason", _REASON),
            get_int(d, "time"),
            get_hex(d, "sig", 64),
        )


@dataclass(frozen=True, slots=True)
class Reestablish:
    """On (re)connect: my latest fully co-signed seq and state hash (BOLT 2 style)."""

    channel: str
    seq: int
    state_hash: str

    TYPE: ClassVar[str] = "reestablish"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "channel", "seq", "state_hash"})

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "channel": self.channel,
            "seq": self.seq,
            "state_hash": self.state_hash,
        }

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> Reestablish:
        check_fields(d, cls.FIELDS, "reestablish")
        return cls(get_hex(d, "channel", 32), get_int(d, "seq"), get_hex(d, "state_hash", 32))


@dataclass(frozen=True, slots=True)
class Entries:
    """Fully co-signed log entries the peer is missing, in seq order."""

    channel: str
    entries: tuple[LogEntry, ...]

    TYPE: ClassVar[str] = "entries"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "channel", "entries"})

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "channel": self.channel,
            "entries": [e.to_json() for e in self.entries],
        }

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> Entries:
        check_fields(d, cls.FIELDS, "entries")
        raw = d["entries"]
        if type(raw) is not list:
            raise remote(ErrorCode.WRONG_TYPE, "entries must be an array")
        return cls(get_hex(d, "channel", 32), tuple(LogEntry.from_json(e) for e in raw))


@dataclass(frozen=True, slots=True)
class EquivocationProof:
    """Two different fully signed entries at one (channel, seq): anyone can check it."""

    first: LogEntry
    second: LogEntry

    TYPE: ClassVar[str] = "equivocation"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "first", "second"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "v": VERSION, "first": self.first.to_json(), "second": self.second.to_json()}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> EquivocationProof:
        check_fields(d, cls.FIELDS, "equivocation")
        return cls(LogEntry.from_json(d["first"]), LogEntry.from_json(d["second"]))


@dataclass(frozen=True, slots=True)
class RecoveryNotice:
    """A recovery announced to a counterparty before its `recover_key` (spec §6.7): the
    counterparty checks it against its head, remembers when it first saw it, and tells the member
    (whose old key may cancel). Not channel-specific: the same notice goes to each channel."""

    statement: RecoveryStatement
    policy: RecoveryPolicy
    approvals: tuple[Approval, ...]

    TYPE: ClassVar[str] = "recovery_notice"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "statement", "policy", "approvals"})

    @property
    def op(self) -> RecoverKey:
        """The `recover_key` op this notice announces."""
        return RecoverKey(self.statement, self.policy, self.approvals)

    def to_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "statement": self.statement.to_json(),
            "policy": self.policy.to_json(),
            "approvals": [a.to_json() for a in self.approvals],
        }

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> RecoveryNotice:
        check_fields(d, cls.FIELDS, "recovery_notice")
        return cls(RecoveryStatement.from_json(d["statement"]), RecoveryPolicy.from_json(d["policy"]), _approvals(d))


@dataclass(frozen=True, slots=True)
class RecoveryCancelMessage:
    """Carries the old key's RecoveryCancel to a counterparty (spec §6.8); not channel-specific."""

    cancel: RecoveryCancel

    TYPE: ClassVar[str] = "recovery_cancel"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "cancel"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "v": VERSION, "cancel": self.cancel.to_json()}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: JSON) -> RecoveryCancelMessage:
        check_fields(d, cls.FIELDS, "recovery_cancel")
        return cls(RecoveryCancel.from_json(d["cancel"]))


Message = (
    Proposal | Accept | Reject | Reestablish | Entries | EquivocationProof | RecoveryNotice | RecoveryCancelMessage
)
_MESSAGES: dict[str, Any] = {
    c.TYPE: c
    for c in (
        Proposal,
        Accept,
        Reject,
        Reestablish,
        Entries,
        EquivocationProof,
        RecoveryNotice,
        RecoveryCancelMessage,
    )
}


def message_from_json(d: JSON) -> Message:
    check_version(d)
    t = d.get("type")
    if type(t) is not str:
        raise remote(ErrorCode.MISSING_FIELD if t is None else ErrorCode.WRONG_TYPE, "type")
    cls = _MESSAGES.get(t)
    if cls is None:
        raise remote(ErrorCode.UNKNOWN_MESSAGE_TYPE, t[:40])
    msg: Message = cls.from_json(d)
    return msg


def decode(data: bytes) -> Message:
    """Parse untrusted bytes into a message; raises only RemoteProtocolError."""
    from .jcs import parse

    return message_from_json(parse(data))
