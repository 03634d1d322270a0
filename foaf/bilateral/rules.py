"""The rules of the ledger: `apply_op` computes the only valid next state, and genesis checks.

`apply_op(state, update)` is the single place where a transition is computed. A proposal is valid
exactly when its state equals `apply_op(prev_state, proposal.state.update)`. All guards raise
RemoteProtocolError with a stable code (callers proposing locally re-raise as local errors).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .crypto import TAG_CHANNEL, TAG_HISTORY, check_public_key, sha256, signing_message, verify
from .errors import ErrorCode, ProtocolError, remote
from .jcs import MAX_SAFE_INTEGER, canonicalize, canonicalize_trusted, encode_string, parse
from .machine import OP_STATUS
from .model import (
    _CURRENCY,
    _HEX_DIGITS,
    _SOURCE,
    IMPORT_OPS,
    MAX_HOLDS,
    PROPOSERS,
    SIDES,
    STATUSES,
    VERSION,
    ZERO_HASH,
    Hold,
    Import,
    ImportSync,
    Member,
    Open,
    Recoveries,
    RotateKey,
    State,
    Update,
    check_fields,
    get_hex,
    get_int,
    get_str,
    op_type,
)
from .recovery import check_recovery, check_set_recovery

OTHER = {"a": "b", "b": "a"}


@lru_cache(maxsize=4096)  # pure; a genesis is checked several times (built, attested, verified)
def channel_id(a_id: str, b_id: str, nonce: str) -> str:
    """SHA-256(tag || 0x00 || SHA-256(JCS({"a": a_id, "b": b_id, "nonce": genesis nonce}))), hex."""
    obj = {"a": a_id, "b": b_id, "nonce": nonce}
    return sha256(signing_message(TAG_CHANNEL, sha256(canonicalize_trusted(obj)))).hex()


def exposure(balance: int, holds: Iterable[Hold], side: str) -> int:
    """A party's exposure: its debt (its side of the balance, at least 0) plus its outgoing holds."""
    debt = max(balance, 0) if side == "a" else max(-balance, 0)
    return debt + sum(h.amount for h in holds if h.payer == side)


def _in_range(v: int) -> int:
    if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        raise remote(ErrorCode.AMOUNT_OUT_OF_RANGE, str(v))
    return v


def _check_update_common(prev: State, u: Update) -> None:
    if u.proposer not in SIDES:
        raise remote(ErrorCode.WRONG_PROPOSER, f"proposer {u.proposer!r} after genesis")
    if u.deadline <= u.created:
        raise remote(ErrorCode.BAD_DEADLINE, "deadline must be after created")


def _find_hold(holds: tuple[Hold, ...], hold_id: str) -> Hold:
    for h in holds:
        if h.id == hold_id:
            return h
    raise remote(ErrorCode.UNKNOWN_HOLD, hold_id)


@dataclass(slots=True)
class _Next:
    """The fields of the state being computed (only while `apply_op` computes it)."""

    balance: int
    lab: int
    lba: int
    holds: tuple[Hold, ...]
    a: Member
    b: Member
    recovery: Recoveries | None = None


def _payment(prev: State, u: Update, op: Any, n: _Next) -> None:
    n.balance = _in_range(n.balance + op.amount if op.from_ == "a" else n.balance - op.amount)


def _settlement(prev: State, u: Update, op: Any, n: _Next) -> None:
    n.balance = _in_range(n.balance - op.amount if op.from_ == "a" else n.balance + op.amount)
    if prev.status == "closed" and (abs(n.balance) >= abs(prev.balance) or n.balance * prev.balance < 0):
        raise remote(ErrorCode.CHANNEL_CLOSED, "while closed a settlement must move the balance toward zero")


def _set_limit(prev: State, u: Update, op: Any, n: _Next) -> None:
    if prev.status == "closed" and op.amount > (n.lab if op.which == "a_to_b" else n.lba):
        raise remote(ErrorCode.CHANNEL_CLOSED, "while closed a limit may only be lowered")
    if op.which == "a_to_b":
        n.lab = op.amount
    else:
        n.lba = op.amount


def _hold(prev: State, u: Update, op: Any, n: _Next) -> None:
    if any(h.id == op.id for h in n.holds):
        raise remote(ErrorCode.DUPLICATE_HOLD, op.id)
    if len(n.holds) >= MAX_HOLDS:
        raise remote(ErrorCode.TOO_MANY_HOLDS, str(len(n.holds)))
    if op.expires <= u.created:
        raise remote(ErrorCode.HOLD_EXPIRED, "a hold must expire after it is created")
    n.holds = tuple(sorted((*n.holds, Hold(op.id, op.from_, op.amount, op.lock, op.expires)), key=lambda h: h.id))


def _release(prev: State, u: Update, op: Any, n: _Next) -> None:
    h = _find_hold(n.holds, op.id)
    if u.created >= h.expires:
        raise remote(ErrorCode.HOLD_EXPIRED, "release must be created before the hold expires")
    if hashlib.sha256(bytes.fromhex(op.preimage)).hexdigest() != h.lock:
        raise remote(ErrorCode.BAD_PREIMAGE, op.id)
    n.holds = tuple(x for x in n.holds if x.id != op.id)
    n.balance = _in_range(n.balance + h.amount if h.payer == "a" else n.balance - h.amount)


def _cancel(prev: State, u: Update, op: Any, n: _Next) -> None:
    h = _find_hold(n.holds, op.id)
    if u.proposer == h.payer and u.created < h.expires:
        raise remote(ErrorCode.HOLD_NOT_EXPIRED, "the payer may cancel only after the hold expires")
    n.holds = tuple(x for x in n.holds if x.id != op.id)


def _status(prev: State, u: Update, op: Any, n: _Next) -> None:
    if op.type == "close" and n.holds:
        raise remote(ErrorCode.HOLDS_OPEN, f"{len(n.holds)} holds open")


def _rotate_key(prev: State, u: Update, op: Any, n: _Next) -> None:
    n.a, n.b = _rotate(prev, op)
    if n.recovery is not None:  # a policy is bound to the key that signed it (spec §5.14)
        n.recovery = Recoveries.replace(n.recovery, "a" if prev.a.id == op.statement.party else "b", None)


def _set_recovery(prev: State, u: Update, op: Any, n: _Next) -> None:
    side, record = check_set_recovery(prev, op.policy)
    n.recovery = Recoveries.replace(n.recovery, side, record)


def _recover_key(prev: State, u: Update, op: Any, n: _Next) -> None:
    side = check_recovery(prev, op, created=u.created)
    new = Member(prev.member(side).id, op.statement.new_key)
    n.a, n.b = (new, prev.b) if side == "a" else (prev.a, new)
    n.recovery = Recoveries.replace(n.recovery, side, None)


_HANDLERS: dict[str, Callable[[State, Update, Any, _Next], None]] = {
    "payment": _payment,
    "settlement": _settlement,
    "set_limit": _set_limit,
    "hold": _hold,
    "release": _release,
    "cancel": _cancel,
    "freeze": _status,
    "unfreeze": _status,
    "close": _status,
    "reopen": _status,
    "rotate_key": _rotate_key,
    "set_recovery": _set_recovery,
    "recover_key": _recover_key,
}


def apply_op(prev: State, update: Update) -> State:
    """The next state after `update` on `prev`, or RemoteProtocolError naming the broken guard.

    Order of checks: proposer, deadline, status table (OP_STATUS), the op's own guards, then the
    exposure rule for a, then for b. `import_sync` has its own rule (`_import_sync`)."""
    if type(update.op) is ImportSync:
        return _import_sync(prev, update, update.op)
    _check_update_common(prev, update)
    t = op_type(update.op)
    nxt_status = OP_STATUS.get((prev.status, t))
    if nxt_status is None:
        raise _status_error(prev.status, t)
    n = _Next(prev.balance, prev.limit_a_to_b, prev.limit_b_to_a, prev.holds, prev.a, prev.b, prev.recovery)
    _HANDLERS[t](prev, update, update.op, n)
    # exposure rule: each party ends within the credit extended to it, or no more exposed than before
    for side, limit in (("a", n.lab), ("b", n.lba)):
        after = exposure(n.balance, n.holds, side)
        if after > limit and after > exposure(prev.balance, prev.holds, side):
            raise remote(ErrorCode.LIMIT_EXCEEDED, f"{side} exposure {after} > limit {limit}")
        if after > MAX_SAFE_INTEGER:
            raise remote(ErrorCode.AMOUNT_OUT_OF_RANGE, f"{side} exposure {after}")
    return _successor(prev, update, n, nxt_status)


def _successor(prev: State, update: Update, n: _Next, status: str) -> State:
    """The state after `prev` that `update` produced, with the fields the rule computed in `n`."""
    return State(
        channel=prev.channel,
        seq=prev.seq + 1,
        prev=prev.hash_hex,
        a=n.a,
        b=n.b,
        currency=prev.currency,
        balance=n.balance,
        limit_a_to_b=n.lab,
        limit_b_to_a=n.lba,
        holds=n.holds,
        status=status,
        update=update,
        recovery=n.recovery,
    )


def _import_sync(prev: State, u: Update, op: ImportSync) -> State:
    """Catch-up of an imported relationship: only right after `import` or `import_sync` (the
    imported prefix), same source and legacy id, history not shorter. The new state takes the op's
    balance, limits and status (no exposure rule: legacy balances may exceed limits)."""
    if u.proposer != "operator":
        raise remote(ErrorCode.WRONG_PROPOSER, "import_sync is proposed by the operator")
    if u.deadline <= u.created:
        raise remote(ErrorCode.BAD_DEADLINE, "deadline must be after created")
    p = prev.update.op
    if not isinstance(p, IMPORT_OPS):
        raise remote(ErrorCode.NOT_IN_IMPORT_PREFIX, f"import_sync after {op_type(p)}")
    if op.source != p.source or op.legacy_id != p.legacy_id:
        raise remote(ErrorCode.IMPORT_SOURCE_CHANGED, f"{op.source}/{op.legacy_id} after {p.source}/{p.legacy_id}")
    if op.history_rows < p.history_rows:
        raise remote(ErrorCode.HISTORY_SHRANK, f"{op.history_rows} rows after {p.history_rows}")
    if (op.history_rows == p.history_rows) != (op.history_root == p.history_root):
        raise remote(ErrorCode.HISTORY_MISMATCH, "the root changes exactly when rows are added")
    n = _Next(op.balance, op.limit_a_to_b, op.limit_b_to_a, (), prev.a, prev.b)
    return _successor(prev, u, n, op.status)


def _status_error(status: str, t: str) -> ProtocolError:
    if t in ("open", "import"):
        return remote(ErrorCode.BAD_GENESIS, f"{t} is only a genesis op")
    if t in ("freeze", "unfreeze", "close", "reopen"):
        return remote(ErrorCode.BAD_STATUS_CHANGE, f"{t} not allowed while {status}")
    code = ErrorCode.CHANNEL_FROZEN if status == "frozen" else ErrorCode.CHANNEL_CLOSED
    return remote(code, f"{t} not allowed while {status}")


def check_rotation(statement: Any) -> None:
    """Both signatures of a KeyRotation statement, and the new key's pre-checks."""
    if statement.old_key == statement.new_key:
        raise remote(ErrorCode.BAD_KEY_ROTATION, "new key equals old key")
    new = bytes.fromhex(statement.new_key)
    check_public_key(new)
    msg = statement.signing_message
    verify(bytes.fromhex(statement.old_key), msg, bytes.fromhex(statement.old_sig))
    verify(new, msg, bytes.fromhex(statement.new_sig))


def _rotate(prev: State, op: RotateKey) -> tuple[Member, Member]:
    st = op.statement
    side = "a" if prev.a.id == st.party else "b" if prev.b.id == st.party else None
    if side is None:
        raise remote(ErrorCode.NOT_A_PARTY, st.party)
    m = prev.member(side)
    if st.old_key != m.key:
        raise remote(ErrorCode.BAD_KEY_ROTATION, "old_key is not the party's current key")
    if st.new_key == prev.member(OTHER[side]).key:
        raise remote(ErrorCode.BAD_KEY_ROTATION, "new key is the counterparty's key")
    check_rotation(st)
    new = Member(m.id, st.new_key)
    return (new, prev.b) if side == "a" else (prev.a, new)


def check_genesis(state: State) -> None:
    """Static checks of a seq-0 state (signatures are checked by the log verifier).

    A state is immutable and these checks are pure, so a state that passed them passes again:
    that is remembered on the state (an imported genesis is checked when built, when attested
    and when stored)."""
    if state.__dict__.get(_GENESIS_CHECKED):
        return
    _check_genesis(state)
    state.__dict__[_GENESIS_CHECKED] = True


_GENESIS_CHECKED = "_genesis_checked"  # an entry of a State's __dict__, beside its cached bytes


def _check_genesis(state: State) -> None:
    u = state.update
    if state.seq != 0 or state.prev != ZERO_HASH:
        raise remote(ErrorCode.BAD_GENESIS, "genesis has seq 0 and prev of 64 zeros")
    if state.recovery is not None:
        raise remote(ErrorCode.BAD_GENESIS, "a genesis carries no recovery policy (set_recovery sets one)")
    if state.a.id == state.b.id or state.a.key == state.b.key:
        raise remote(ErrorCode.BAD_GENESIS, "a and b must be different parties")
    for m in (state.a, state.b):
        check_public_key(bytes.fromhex(m.key))
    if u.deadline <= u.created:
        raise remote(ErrorCode.BAD_DEADLINE, "deadline must be after created")
    if isinstance(u.op, Open):
        _check_open(state)
    elif isinstance(u.op, Import):
        if u.proposer != "operator":
            raise remote(ErrorCode.WRONG_PROPOSER, "an imported genesis is proposed by the operator")
        if state.holds:
            raise remote(ErrorCode.BAD_GENESIS, "an imported genesis has no holds")
    else:
        raise remote(ErrorCode.BAD_GENESIS, f"op {op_type(u.op)} at seq 0")
    if state.channel != channel_id(state.a.id, state.b.id, u.nonce):
        raise remote(ErrorCode.BAD_CHANNEL_ID, state.channel)


def _check_open(state: State) -> None:
    if state.update.proposer not in SIDES:
        raise remote(ErrorCode.WRONG_PROPOSER, "a fresh genesis is proposed by a or b")
    if state.a.id != state.a.key or state.b.id != state.b.key:
        raise remote(ErrorCode.BAD_GENESIS, "in a fresh genesis each party id is its key")
    if state.balance != 0 or state.holds or state.status != "open":
        raise remote(ErrorCode.BAD_GENESIS, "a fresh genesis has balance 0, no holds, status open")


def make_genesis(
    *,
    a: Member,
    b: Member,
    currency: str,
    limit_a_to_b: int,
    limit_b_to_a: int,
    proposer: str,
    created: int,
    deadline: int,
    nonce: str,
    balance: int = 0,
    status: str = "open",
    op: Open | Import | None = None,
) -> State:
    """Build (and check) a genesis state. For an import pass `op=Import(...)` and `proposer="operator"`."""
    upd = Update(proposer, op or Open(), created, deadline, nonce)
    s = State(
        channel=channel_id(a.id, b.id, nonce),
        seq=0,
        prev=ZERO_HASH,
        a=a,
        b=b,
        currency=currency,
        balance=balance,
        limit_a_to_b=limit_a_to_b,
        limit_b_to_a=limit_b_to_a,
        holds=(),
        status=status,
        update=upd,
    )
    # A caller cannot build what a peer would refuse: the state's values pass the decoder's field
    # checks as they are, and only when they do not is the state parsed back from its canonical
    # bytes, which refuses with the parser's own code (FLOAT_NOT_ALLOWED rather than WRONG_TYPE)
    # or accepts what only looked different (a str subclass); the encoder has refused already
    # what it cannot write. Skipping the parse when nothing is wrong saves a third of the work
    # of an imported genesis.
    canonical = _canonical_or_refused(s)
    if not _plainly_valid_genesis(s):  # what the decoder would accept is accepted without it
        try:
            State.from_json(s.json)
        except ProtocolError:
            State.from_json(parse(canonical))
    check_genesis(s)
    return s


_GENESIS_KEYS = frozenset(
    {"v", "channel", "seq", "prev", "a", "b", "currency", "balance", "limit_a_to_b", "limit_b_to_a", "holds",
     "status", "update"}
)  # fmt: skip


def _plainly_valid_genesis(s: State) -> bool:
    """True only when `State.from_json(s.json)` certainly accepts a state `make_genesis` built:
    each field is of the exact type and in the range the decoder checks, with the decoder's own
    patterns (an import's genesis, or a fresh one). Anything else (a subclass, an op of another
    kind, a field this check does not know) goes through the decoder, which decides and gives
    its error. Decoding the state again was a third of the work of an imported genesis."""
    u, op, a, b = s.update, s.update.op, s.a, s.b
    # Only the fields checked below, nothing more; the objects the decoder would make.
    if s.json.keys() != _GENESIS_KEYS or not (type(a) is Member and type(b) is Member and type(u) is Update):
        return False
    if type(op) is Import:
        source, root = op.source, op.history_root
        if not (
            type(source) is str
            and _SOURCE.fullmatch(source) is not None
            and type(op.legacy_id) is int
            and 0 <= op.legacy_id <= MAX_SAFE_INTEGER
            and type(op.history_rows) is int
            and 0 <= op.history_rows <= MAX_SAFE_INTEGER
        ):
            return False
    elif type(op) is Open:
        root = ZERO_HASH
    else:
        return False
    # What `get_hex` accepts, for every hex field at once: each a str of its length, and
    # together nothing but lowercase hex digits.
    hexes = (s.channel, s.prev, a.id, a.key, b.id, b.key, root)
    if not all(type(v) is str and len(v) == 64 for v in hexes):
        return False
    nonce = u.nonce
    if not (type(nonce) is str and len(nonce) == 32) or "".join((*hexes, nonce)).strip(_HEX_DIGITS):
        return False
    return (
        type(s.v) is int
        and s.v == VERSION
        and type(s.holds) is tuple
        and not s.holds
        and type(s.seq) is int
        and 0 <= s.seq <= MAX_SAFE_INTEGER
        and type(s.currency) is str
        and _CURRENCY.fullmatch(s.currency) is not None
        and type(s.balance) is int
        and -MAX_SAFE_INTEGER <= s.balance <= MAX_SAFE_INTEGER
        and type(s.limit_a_to_b) is int
        and 0 <= s.limit_a_to_b <= MAX_SAFE_INTEGER
        and type(s.limit_b_to_a) is int
        and 0 <= s.limit_b_to_a <= MAX_SAFE_INTEGER
        and type(s.status) is str
        and s.status in STATUSES
        and type(u.proposer) is str
        and u.proposer in PROPOSERS
        and type(u.created) is int
        and 0 <= u.created <= MAX_SAFE_INTEGER
        and type(u.deadline) is int
        and 0 <= u.deadline <= MAX_SAFE_INTEGER
    )


def _canonical_or_refused(s: State) -> bytes:
    """The state's own canonical bytes (cached: hashing and signing reuse them). The strict parser
    then refuses what the profile refuses (floats, integers out of range) with the codes
    `canonicalize` gives; what the encoder cannot write at all goes through `canonicalize`, which
    raises the precise error."""
    try:
        return s.canonical
    except (TypeError, ValueError):  # not JSON at all, NaN, a lone surrogate
        canonicalize(s.json)
        raise


def history_row(
    *, id: int, created_at: int, amount: int, delta: int, balance_after: int | None, kind: str, initiated_by: int
) -> dict[str, Any]:
    """One legacy history row as committed by `history_extend` (amounts in integer cents).

    `amount` is the legacy amount (positive); `delta` the signed change of the balance the row made
    (> 0: a owes b more); `balance_after` the legacy column as it was (None when NULL); `kind` the
    legacy transaction type; `initiated_by` the legacy user id; `created_at` unix seconds."""
    return {
        "id": id,
        "created_at": created_at,
        "amount": amount,
        "delta": delta,
        "balance_after": balance_after,
        "kind": kind,
        "initiated_by": initiated_by,
    }


ROW_FIELDS = frozenset({"id", "created_at", "amount", "delta", "balance_after", "kind", "initiated_by"})
MAX_KIND_BYTES = 64


def check_history_row(row: Any) -> dict[str, Any]:
    """The row as a plain dict, if it has exactly the committed fields with their types and ranges."""
    d = dict(row) if isinstance(row, Mapping) else row
    check_fields(d, ROW_FIELDS, "history row")
    get_int(d, "id")
    get_int(d, "created_at")
    get_int(d, "amount", 1)
    get_int(d, "delta", -MAX_SAFE_INTEGER)
    if d["balance_after"] is not None:
        get_int(d, "balance_after", -MAX_SAFE_INTEGER)
    get_str(d, "kind", MAX_KIND_BYTES)
    get_int(d, "initiated_by")
    return d


def _row_jcs(row: Any) -> bytes | None:
    """JCS of a history row written straight from its fields, or None when the row is not plainly
    valid (then `check_history_row` and `canonicalize` decide, and raise the precise error).

    A legacy import chains millions of rows, and the generic path (profile walk, C encoder, key
    sort) is most of its cost. Only what is certainly inside the profile is formatted here: a dict
    with exactly the committed fields, exact ints in range (never bool), and an ASCII `kind` of at
    most MAX_KIND_BYTES. Keys are in code-point order, integers in shortest decimal form (what the
    encoder writes for an int), and the string is escaped by the same function the encoder uses, so
    the bytes are those of `canonicalize` (checked against it and the rfc8785 package in tests)."""
    if type(row) is not dict or row.keys() != ROW_FIELDS:
        return None
    return _values_jcs((
        row["id"], row["created_at"], row["amount"], row["delta"], row["balance_after"], row["kind"],
        row["initiated_by"],
    ))  # fmt: skip


def _values_jcs(values: Sequence[Any]) -> bytes | None:
    """`_row_jcs` of a row given as its 7 values in `ROW_ORDER`."""
    i, created, amount, delta, after, kind, by = values
    if not (
        type(i) is int
        and 0 <= i <= MAX_SAFE_INTEGER
        and type(created) is int
        and 0 <= created <= MAX_SAFE_INTEGER
        and type(amount) is int
        and 1 <= amount <= MAX_SAFE_INTEGER
        and type(delta) is int
        and -MAX_SAFE_INTEGER <= delta <= MAX_SAFE_INTEGER
        and (after is None or (type(after) is int and -MAX_SAFE_INTEGER <= after <= MAX_SAFE_INTEGER))
        and type(kind) is str
        and len(kind) <= MAX_KIND_BYTES
        and kind.isascii()
        and type(by) is int
        and 0 <= by <= MAX_SAFE_INTEGER
    ):
        return None
    return (
        f'{{"amount":{amount},"balance_after":{"null" if after is None else after},"created_at":{created},'
        f'"delta":{delta},"id":{i},"initiated_by":{by},"kind":{encode_string(kind)}}}'
    ).encode("ascii")


def history_extend(root_hex: str, count: int, rows: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """Extend the history chain `(root_hex, count)` by `rows` (legacy id ascending); returns the new
    `(root_hex, count)`. h_i = SHA-256(tag || 0x00 || h_(i-1) || SHA-256(JCS(row_i)))."""
    h = bytes.fromhex(get_hex({"history_root": root_hex}, "history_root", 32))
    n = get_int({"history_rows": count}, "history_rows")
    prefix = TAG_HISTORY + b"\x00"
    last_id = -1
    digest = hashlib.sha256
    for row in rows:
        data = _row_jcs(row)
        if data is None:
            d = check_history_row(row)
            data = canonicalize(d)
            row_id = d["id"]
        else:
            row_id = row["id"]
        if row_id <= last_id:
            raise remote(ErrorCode.BAD_VALUE, f"history rows must be in ascending id order ({row_id} after {last_id})")
        last_id = row_id
        h = digest(prefix + h + digest(data).digest()).digest()
        n += 1
    return h.hex(), n


# A history row's fields in the order `history_extend_values` takes them.
ROW_ORDER = ("id", "created_at", "amount", "delta", "balance_after", "kind", "initiated_by")


def history_extend_values(root_hex: str, count: int, rows: Iterable[Sequence[Any]]) -> tuple[str, int]:
    """`history_extend` over rows given as their values in `ROW_ORDER` (tuples): the same chain and
    the same errors, without a dict per row (a legacy import chains millions of them)."""
    h = bytes.fromhex(get_hex({"history_root": root_hex}, "history_root", 32))
    n = get_int({"history_rows": count}, "history_rows")
    prefix = TAG_HISTORY + b"\x00"
    last_id = -1
    digest = hashlib.sha256
    width = len(ROW_ORDER)
    for values in rows:
        if len(values) != width:
            raise remote(ErrorCode.WRONG_TYPE, f"a history row has {width} values ({', '.join(ROW_ORDER)})")
        data = _values_jcs(values)
        if data is None:  # not plainly valid: the checked path decides, with the dict path's errors
            d = check_history_row(dict(zip(ROW_ORDER, values, strict=True)))
            data = canonicalize(d)
        row_id = values[0]
        if row_id <= last_id:
            raise remote(ErrorCode.BAD_VALUE, f"history rows must be in ascending id order ({row_id} after {last_id})")
        last_id = row_id
        h = digest(prefix + h + digest(data).digest()).digest()
        n += 1
    return h.hex(), n


def history_root(rows: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """The chained commitment to all of a relationship's legacy rows: `history_extend(ZERO, 0, rows)`."""
    return history_extend(ZERO_HASH, 0, rows)


def verify_history(rows: Iterable[Mapping[str, Any]], *, history_root: str, history_rows: int, balance: int) -> None:
    """Check legacy rows against an imported state: they chain to `history_root`/`history_rows`
    (HISTORY_MISMATCH) and their deltas sum to `balance` (HISTORY_BALANCE_MISMATCH)."""
    rows = list(rows)
    root, n = history_extend(ZERO_HASH, 0, rows)
    if (root, n) != (history_root, history_rows):
        raise remote(ErrorCode.HISTORY_MISMATCH, f"rows give {n} rows, root {root}")
    total = sum(r["delta"] for r in rows)
    if total != balance:
        raise remote(ErrorCode.HISTORY_BALANCE_MISMATCH, f"deltas sum to {total}, balance is {balance}")


__all__ = [
    "ProtocolError",
    "apply_op",
    "channel_id",
    "check_genesis",
    "exposure",
    "history_extend",
    "history_extend_values",
    "history_root",
    "history_row",
    "make_genesis",
    "verify_history",
]
