"""Over 100,000 mutated messages: each is refused with a typed error, never crashes, never accepted.

A seeded `random.Random` mutates valid messages of a real channel (proposals, accepts, rejects,
reestablish, entries, equivocation proofs, genesis) and old ones (replays): bit flips, byte
insert/delete, truncation, wrong types for every field, huge/negative/float/exponent numbers,
unknown, missing and duplicate keys, deep nesting, non-UTF-8, lone surrogate escapes, signatures
that are valid hex but wrong bytes, and re-signed states with a reused nonce, a wrong prev, seq,
channel, proposer, timing or content. They go to `decode`, to `Party.receive` on a party in each
machine state (IDLE with a head, AWAITING_COUNTERSIGN, AWAITING_DECISION, and one that is behind),
to `LogEntry` parsing + `verify_log`, and to `verify_equivocation_proof`.

What is asserted, for every message:
- the only exception is `RemoteProtocolError` with an `ErrorCode` (no other type, no hang);
- "accepted" means an effect: StateCommitted, ProposalReceived, ProposalRejected, ProposalVoided or
  InSync from `receive`, a result from `verify_log`/`verify_equivocation_proof`. A mutated message
  has an effect only if it is the same message as the valid one it came from: the same canonical
  (JCS) bytes, since the profile parses insignificant whitespace and escapes (see the encoding
  vectors) and signatures cover the canonical form. `decode` alone may parse a mutation (it checks
  syntax and schema, not meaning); its result must then re-encode to what was parsed;
- a party never commits an entry that the honest run did not produce, even when it raises;
- a message the protocol answers without authenticating it (a proposal at an old seq is answered
  with our entries, a reestablish with PeerAhead/PeerBehind, a duplicate accept/reject of a
  committed state is ignored) leaves the party exactly as it was.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from foaf.bilateral import (
    Entries,
    EquivocationProof,
    ErrorCode,
    InSync,
    LogEntry,
    Member,
    Party,
    Payment,
    PlaceHold,
    ProposalReceived,
    ProposalRejected,
    ProposalVoided,
    RemoteProtocolError,
    SeedSigner,
    SetLimit,
    StateCommitted,
    canonicalize,
    decode,
    make_genesis,
    parse,
    verify_equivocation_proof,
    verify_log,
)
from foaf.bilateral.crypto import TAG_STATE, L, sha256, signing_message

ALICE = SeedSigner(b"\x11" * 32)
BOB = SeedSigner(b"\x22" * 32)
CAROL = SeedSigner(b"\x44" * 32)
T0 = 1_767_225_600
SEED = 0xF0AF_2026
MESSAGES = 102_400  # at least 100,000
TIME_BUDGET = 150.0  # seconds: a hang or a pathological slowdown fails the test
DEEP_CODES = {
    ErrorCode(c)
    for c in (
        "INVALID_UTF8",
        "INVALID_JSON",
        "DUPLICATE_KEY",
        "LONE_SURROGATE",
        "FLOAT_NOT_ALLOWED",
        "INTEGER_OUT_OF_RANGE",
        "NESTING_TOO_DEEP",
        "MESSAGE_TOO_LARGE",
        "UNKNOWN_FIELD",
        "MISSING_FIELD",
        "WRONG_TYPE",
        "BAD_HEX",
        "BAD_VALUE",
        "S_NON_CANONICAL",
        "R_SMALL_ORDER",
        "BAD_SIGNATURE",
        "WRONG_CHANNEL",
        "CHAIN_BROKEN",
        "RESYNC_NEEDED",
        "NONCE_REUSED",
        "STATE_MISMATCH",
        "NOT_EQUIVOCATION",
        "WRONG_PROPOSER",
        "LIMIT_EXCEEDED",
        "CREATED_IN_FUTURE",
        "BAD_DEADLINE",
        "UNKNOWN_PROPOSAL",
        "UNKNOWN_MESSAGE_TYPE",
        "UNSUPPORTED_VERSION",
    )
}
EFFECTS = (StateCommitted, ProposalReceived, ProposalRejected, ProposalVoided, InSync)


# ---------------------------------------------------------------- a real channel
def nonce(n: int) -> str:
    return f"{n:032x}"


class World:
    """A channel with history; parties frozen in each machine state; the valid messages around them."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []  # every message the honest run produced (replays)
        genesis = make_genesis(
            a=Member.inception(ALICE.public_key),
            b=Member.inception(BOB.public_key),
            currency="USD",
            limit_a_to_b=10_000,
            limit_b_to_a=5_000,
            proposer="a",
            created=T0,
            deadline=T0 + 600,
            nonce=nonce(1),
        )
        alice, opening = Party.open(ALICE, genesis, now=T0)
        bob, _ = Party.join(BOB, opening, now=T0)
        self.genesis_proposal = opening
        accept0 = bob.accept(now=T0)
        alice.receive(accept0, now=T0)
        self.sent += [opening, accept0]
        now = T0 + 100
        ops = [
            ("a", Payment("a", 250, "coffee")),
            ("b", Payment("b", 40, "caf\u00e9 \u2615")),
            ("a", PlaceHold("0" * 31 + "1", "a", 70, "ab" * 32, now + 10_000)),
            ("b", SetLimit("b_to_a", 4_000)),
            ("a", Payment("b", 1, "")),
        ]
        for i, (side, op) in enumerate(ops):
            proposer, answerer = (alice, bob) if side == "a" else (bob, alice)
            p = proposer.propose(op, now=now, deadline=now + 300, nonce=nonce(10 + i))
            answerer.receive(p, now=now)
            a = answerer.accept(now=now)
            proposer.receive(a, now=now)
            self.sent += [p, a]
            now += 10
        # a proposal Bob answered with a reject at the last seq, then a replayed reestablish
        p = alice.propose(Payment("a", 9, "no"), now=now, deadline=now + 300, nonce=nonce(30))
        bob.receive(p, now=now)
        r = bob.reject(now=now)
        alice.receive(r, now=now)
        self.sent += [p, r, alice.reestablish(), bob.reestablish()]
        self.now = now + 5
        self.log: list[LogEntry] = list(alice.log)
        assert [e.state.hash_hex for e in bob.log] == [e.state.hash_hex for e in self.log]
        self.alice, self.bob = alice, bob

        # the four receivers (always used through a clone)
        self.idle = alice
        self.counter = clone(alice)
        self.p = self.counter.propose(Payment("a", 5, "pay me"), now=self.now, deadline=self.now + 300, nonce=nonce(40))
        bob_deciding = clone(bob)
        bob_deciding.receive(self.p, now=self.now)
        self.accept_p = clone(bob_deciding).accept(now=self.now)
        self.reject_p = clone(bob_deciding).reject(now=self.now)
        self.q = clone(bob).propose(Payment("b", 7, "q"), now=self.now, deadline=self.now + 300, nonce=nonce(41))
        self.decide = clone(alice)
        self.decide.receive(self.q, now=self.now)
        self.behind = Party(ALICE, self.log[:3])
        self.entries = Entries(self.log[0].state.channel, tuple(self.log[3:])).encode()
        self.proof = self.make_proof()
        self.valid_entries = {canonicalize(e.to_json()) for e in self.log}
        committed_p = clone(self.counter)
        committed_p.receive(self.accept_p, now=self.now)
        assert committed_p.head is not None
        self.valid_entries.add(canonicalize(committed_p.head.to_json()))
        self.receivers: dict[str, Party] = {
            "idle": self.idle,
            "counter": self.counter,
            "decide": self.decide,
            "behind": self.behind,
        }
        self.fresh = [self.q, self.accept_p, self.reject_p, bob.reestablish(), self.entries]

    def make_proof(self) -> bytes:
        """Two fully signed states at the last seq (the head, and a re-signed variant)."""
        head = self.log[-1]
        d = copy.deepcopy(head.state.json)
        d["update"]["op"]["memo"] = "forked"
        other = sign_entry(d)
        return EquivocationProof(head, other).encode()


def clone(p: Party) -> Party:
    """A copy of a party whose containers are its own (the entries themselves are immutable)."""
    q = copy.copy(p)
    for k, v in vars(p).items():
        if isinstance(v, (list, dict, set)):
            setattr(q, k, copy.copy(v))
    return q


def sign_state(d: dict[str, Any], signer: SeedSigner) -> str:
    return signer.sign(signing_message(TAG_STATE, sha256(canonicalize(d)))).hex()


def sign_entry(d: dict[str, Any]) -> LogEntry:
    data = canonicalize({"state": d, "sigs": {"a": sign_state(d, ALICE), "b": sign_state(d, BOB)}})
    return LogEntry.from_json(parse(data))


def fingerprint(p: Party) -> tuple[Any, ...]:
    pend = p.pending
    return (
        p.mstate,
        tuple(e.state.hash_hex for e in p.log),
        pend.state.hash_hex if pend else None,
        tuple(sorted((k, repr(v)) for k, v in vars(p).items() if isinstance(v, (dict, set, list)) and k != "log")),
    )


# ---------------------------------------------------------------- mutations
WRONG_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**53 - 1,
    -(2**53) + 1,
    "",
    "x",
    "0" * 64,
    [],
    {},
    [1],
    {"a": 1},
    "A" * 300,
]
RAW_NUMBERS = [
    "1.0",
    "1e3",
    "1E+2",
    "-0",
    "0.5",
    "1e400",
    "-1e400",
    "9007199254740992",
    "-9007199254740992",
    "1" * 40,
    "-" + "9" * 25,
    "00",
    "01",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "+1",
    ".5",
    "1.",
]
RAW_STRINGS = [
    '"\\ud800"',
    '"\\udfff"',
    '"a\\ud834b"',
    '"\\u0000"',
    '"\\"',
    '"\\x41"',
    '"\\u12"',
    "'x'",
    '"\\ud834\\udd1e"',
    '"\u00e9"',
    '"\t"',
    '"\\/"',
]
BAD_UTF8 = [
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\x00",
]
MARK = "\x00MUTATION\x00"


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        node = node[k]
    return node


def put(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    get(node, path[:-1])[path[-1]] = value
    return node


def dump(tree: Any, raw: str | None = None) -> bytes:
    """JSON text of `tree` (any Python values, floats too); `raw` replaces the marker string verbatim."""
    text = json.dumps(tree, separators=(",", ":"), sort_keys=False, ensure_ascii=False, allow_nan=True)
    if raw is not None:
        text = text.replace(json.dumps(MARK), raw)
    return text.encode("utf-8", "surrogatepass")


class Mutator:
    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.trees: dict[bytes, Any] = {}
        self.kinds: list[tuple[str, Callable[[bytes], bytes]]] = [
            ("bit flip", self.bit_flip),
            ("bit flips", self.bit_flips),
            ("insert byte", self.insert_byte),
            ("delete byte", self.delete_byte),
            ("truncate", self.truncate),
            ("wrong type", self.wrong_type),
            ("raw number", self.raw_number),
            ("raw string", self.raw_string),
            ("unknown field", self.unknown_field),
            ("missing field", self.missing_field),
            ("duplicate key", self.duplicate_key),
            ("deep nesting", self.deep_nesting),
            ("non-UTF-8", self.non_utf8),
            ("wrong signature", self.wrong_sig),
            ("changed value", self.changed_value),
            ("splice", self.splice),
            ("whitespace", self.whitespace),
        ]

    def tree(self, data: bytes) -> Any:
        if data not in self.trees:
            self.trees[data] = json.loads(data)
        return copy.deepcopy(self.trees[data])

    def mutate(self, data: bytes) -> tuple[str, bytes]:
        name, fn = self.rng.choice(self.kinds)
        return name, fn(data)

    # byte level
    def bit_flip(self, d: bytes) -> bytes:
        b = bytearray(d)
        i = self.rng.randrange(len(b))
        b[i] ^= 1 << self.rng.randrange(8)
        return bytes(b)

    def bit_flips(self, d: bytes) -> bytes:
        for _ in range(self.rng.randint(2, 8)):
            d = self.bit_flip(d)
        return d

    def insert_byte(self, d: bytes) -> bytes:
        i = self.rng.randrange(len(d) + 1)
        c = self.rng.choice([self.rng.randrange(256), *b'{}[]",:0-e.\\ '])
        return d[:i] + bytes([c]) + d[i:]

    def delete_byte(self, d: bytes) -> bytes:
        i = self.rng.randrange(len(d))
        return d[:i] + d[i + 1 :]

    def truncate(self, d: bytes) -> bytes:
        return d[: self.rng.randrange(len(d))]

    def non_utf8(self, d: bytes) -> bytes:
        i = self.rng.randrange(len(d) + 1)
        return d[:i] + self.rng.choice(BAD_UTF8) + d[i:]

    def whitespace(self, d: bytes) -> bytes:
        """Insignificant whitespace: the same message, not byte-identical (may be accepted)."""
        text = json.dumps(json.loads(d), indent=self.rng.choice([None, 1, 2]), separators=(", ", " : "))
        return text.encode()

    def splice(self, d: bytes) -> bytes:
        other = self.rng.choice(self.world.sent + self.world.fresh)
        i, j = self.rng.randrange(len(d) + 1), self.rng.randrange(len(other) + 1)
        return d[:i] + other[j:] if self.rng.random() < 0.5 else other[:j] + d[i:]

    # JSON level
    def pick(self, t: Any, want: type | tuple[type, ...] | None = None) -> tuple[Any, ...]:
        ps = [p for p in paths(t) if want is None or isinstance(get(t, p), want)]
        return self.rng.choice(ps) if ps else ()

    def wrong_type(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t)
        value = self.rng.choice(WRONG_VALUES)
        if self.rng.random() < 0.2:
            value = self.rng.choice([1.5, -0.0, 1e300, float("nan"), float("inf"), 10**30, -(10**20)])
        return dump(put(t, p, value))

    def raw_number(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t, int) or self.pick(t)
        return dump(put(t, p, MARK), self.rng.choice(RAW_NUMBERS))

    def raw_string(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t, str) or self.pick(t)
        raw = self.rng.choice(RAW_STRINGS)
        if self.rng.random() < 0.3 and isinstance(get(t, p[:-1]) if p else None, dict):
            parent = get(t, p[:-1])
            parent[MARK] = parent.pop(p[-1])
            return dump(t, raw)  # the key itself
        return dump(put(t, p, MARK), raw)

    def unknown_field(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t, dict)
        get(t, p)[self.rng.choice(["extra", "V", "sig2", "__proto__", "type "])] = self.rng.choice(WRONG_VALUES)
        return dump(t)

    def missing_field(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t, dict)
        node = get(t, p)
        if node:
            del node[self.rng.choice(list(node))]
        return dump(t)

    def duplicate_key(self, d: bytes) -> bytes:
        t = self.tree(d)
        p = self.pick(t, dict)
        node = get(t, p)
        if not node:
            return dump(t) + b" "
        k = self.rng.choice(list(node))
        v = node[k] if self.rng.random() < 0.5 else self.rng.choice(WRONG_VALUES)
        items = [
            *(f"{json.dumps(a)}:{json.dumps(b, ensure_ascii=False)}" for a, b in node.items()),
            f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}",
        ]
        self.rng.shuffle(items)
        return dump(put(t, p, MARK), "{" + ",".join(items) + "}")

    def deep_nesting(self, d: bytes) -> bytes:
        depth = self.rng.choice([14, 15, 16, 17, 40, 200, 1000, 20_000, 30_000])
        if depth > 200:  # as text: the stdlib encoder would recurse too
            if self.rng.random() < 0.5:
                return b"[" * depth + b"]" * depth
            return b'{"x":' * depth + d + b"}" * depth
        t = self.tree(d)
        p = self.pick(t)
        inner: Any = get(t, p)
        for _ in range(depth):
            inner = [inner] if self.rng.random() < 0.5 else {"x": inner}
        return dump(put(t, p, inner))

    def wrong_sig(self, d: bytes) -> bytes:
        """A signature field replaced by valid hex of the wrong bytes."""
        t = self.tree(d)
        ps = [
            p
            for p in paths(t)
            if p
            and isinstance(p[-1], str)
            and p[-1] in ("sig", "a", "b", "old_sig", "new_sig")
            and isinstance(get(t, p), str)
            and len(get(t, p)) == 128
        ]
        if not ps:
            return self.changed_value(d)
        p = self.rng.choice(ps)
        old = bytes.fromhex(get(t, p))
        choice = self.rng.randrange(6)
        if choice == 0:
            new = self.rng.randbytes(64)
        elif choice == 1:  # S + L: the same signature, not reduced
            new = old[:32] + ((int.from_bytes(old[32:], "little") + L) % 2**256).to_bytes(32, "little")
        elif choice == 2:  # small-order R
            new = bytes(32) + old[32:]
        elif choice == 3:  # one bit off
            i = self.rng.randrange(64)
            new = old[:i] + bytes([old[i] ^ (1 << self.rng.randrange(8))]) + old[i + 1 :]
        elif choice == 4:  # a real signature, over something else
            new = ALICE.sign(self.rng.randbytes(8))
        else:
            new = BOB.sign(old)
        return dump(put(t, p, new.hex()))

    def changed_value(self, d: bytes) -> bytes:
        """A plausible value change (a digit, a hex nibble, a side, a status): structure intact."""
        t = self.tree(d)
        p = self.pick(t, (int, str))
        v = get(t, p)
        if isinstance(v, bool) or v is None:
            return dump(t)
        if isinstance(v, int):
            v = v + self.rng.choice([-1, 1, 2, -(v or 1), 10**6, 2**52])
        elif v and all(c in "0123456789abcdef" for c in v):
            i = self.rng.randrange(len(v))
            v = v[:i] + self.rng.choice("0123456789abcdef") + v[i + 1 :]
        else:
            v = self.rng.choice(
                [
                    "a",
                    "b",
                    "operator",
                    "open",
                    "frozen",
                    "closed",
                    "payment",
                    "proposal",
                    "accept",
                    "reject",
                    "entries",
                    "reestablish",
                    "equivocation",
                    "EUR",
                    v + "x",
                    v[:-1],
                ]
            )
        return dump(put(t, p, v))


def signed_variants(world: World, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """States re-signed by Bob's real key (or a wrong key) that still break a rule: (receiver, name, bytes)."""
    out: list[tuple[str, str, bytes]] = []
    q = json.loads(world.q)
    head = world.log[-1].state

    def variant(
        name: str, edit: Callable[[dict[str, Any]], None], receivers: tuple[str, ...], signer: SeedSigner = BOB
    ) -> None:
        st = copy.deepcopy(q["state"])
        edit(st)
        msg = {"type": "proposal", "v": 1, "state": st, "sig": sign_state(st, signer)}
        for r in receivers:
            out.append((r, name, canonicalize(msg)))

    def setk(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda st: put(st, path, value)

    all_ = ("idle", "counter", "decide")
    p_nonce = json.loads(world.p)["state"]["update"]["nonce"]
    variant("reused nonce (ours)", setk(("update", "nonce"), p_nonce), ("counter",))
    variant("reused nonce (yours)", lambda st: put(st, ("update", "op", "memo"), "again"), ("decide",))
    variant("wrong prev", setk(("prev",), world.log[-2].state.hash_hex), all_)
    variant("random prev", setk(("prev",), rng.randbytes(32).hex()), all_)
    variant("seq gap", setk(("seq",), head.seq + 2), all_)
    variant("old seq", setk(("seq",), head.seq), all_)
    variant("seq zero", setk(("seq",), 0), all_)
    variant("wrong channel", setk(("channel",), rng.randbytes(32).hex()), all_)
    variant("wrong proposer", setk(("update", "proposer"), "a"), all_)
    variant("operator proposer", setk(("update", "proposer"), "operator"), all_)
    variant("balance off by one", setk(("balance",), q["state"]["balance"] + 1), all_)
    variant("limit raised", setk(("limit_a_to_b",), 10**9), all_)
    variant("status", setk(("status",), "frozen"), all_)
    variant("holds dropped", setk(("holds",), []), all_)
    variant("key swapped", setk(("b", "key"), CAROL.public_key.hex()), all_)
    variant("created in future", setk(("update", "created"), world.now + 10**6), all_)
    variant("deadline before created", setk(("update", "deadline"), q["state"]["update"]["created"]), all_)
    variant(
        "over the limit",
        lambda st: (put(st, ("update", "op", "amount"), 10**7), put(st, ("balance",), st["balance"] - 10**7 + 7)),
        all_,
    )
    variant("signed by Alice", lambda st: None, all_, ALICE)
    variant("signed by Carol", lambda st: None, all_, CAROL)
    return out


# ---------------------------------------------------------------- the run
def canonical(data: bytes) -> bytes | None:
    try:
        return canonicalize(parse(data))
    except RemoteProtocolError:
        return None


class Failure(AssertionError):
    pass


_FINGERPRINTS: dict[int, tuple[Any, ...]] = {}


def check_receive(world: World, name: str, base: Party, data: bytes, origin: bytes) -> str:
    party = clone(base)
    before = _FINGERPRINTS.setdefault(id(base), fingerprint(base))
    n_log = len(party.log)
    try:
        events = party.receive(data, now=world.now)
        outcome = "answered"
    except RemoteProtocolError as e:
        assert isinstance(e.code, ErrorCode)
        events, outcome = [], e.code.value
    for entry in party.log[n_log:]:
        assert canonicalize(entry.to_json()) in world.valid_entries, f"{name} committed a foreign entry"
    if outcome != "answered":
        return outcome
    same = canonical(data) == canonical(origin)
    if any(isinstance(e, EFFECTS) for e in events):
        assert same, f"{name}: a mutated message was accepted: {[type(e).__name__ for e in events]}"
        return "accepted (same message)"
    if not same:
        assert fingerprint(party) == before, f"{name}: an answered mutation changed the party"
    return "answered without effect"


def check_entry_log(world: World, data: bytes, origin: bytes) -> str:
    try:
        entry = LogEntry.from_json(parse(data))
        verify_log([*world.log[:-1], entry])
    except RemoteProtocolError as e:
        assert isinstance(e.code, ErrorCode)
        return e.code.value
    assert canonical(data) == canonical(origin), "verify_log accepted a mutated entry"
    return "accepted (same message)"


def check_proof(data: bytes, origin: bytes) -> str:
    try:
        verify_equivocation_proof(data)
    except RemoteProtocolError as e:
        assert isinstance(e.code, ErrorCode)
        return e.code.value
    assert canonical(data) == canonical(origin), "a mutated equivocation proof was accepted"
    return "accepted (same message)"


def check_decode(data: bytes) -> str:
    try:
        msg = decode(data)
    except RemoteProtocolError as e:
        assert isinstance(e.code, ErrorCode)
        return e.code.value
    assert canonicalize(msg.to_json()) == canonical(data), "decode lost or invented something"
    return "decoded"


def test_over_100000_mutated_messages_are_refused_with_typed_errors_and_never_accepted() -> None:
    rng = random.Random(SEED)
    world = World()
    mut = Mutator(rng, world)
    entry_origin = canonicalize(world.log[-1].to_json())
    seeds = [*world.fresh, *world.sent, world.proof, world.genesis_proposal]
    receivers = list(world.receivers.items())
    outcomes: Counter[str] = Counter()
    count = 0
    started = time.monotonic()

    def run(i: int, target: str, data: bytes, check: Callable[[], str]) -> None:
        nonlocal count
        try:
            outcomes[check()] += 1
        except Exception as e:
            raise Failure(f"seed {SEED:#x} message #{i} to {target}: {e!r}\nmutated bytes: {data!r}") from e
        count += 1

    # re-signed semantic attacks and plain replays of every old message, in every machine state
    for j, (r, _label, data) in enumerate(signed_variants(world, rng)):
        run(j, r, data, lambda r=r, data=data: check_receive(world, r, world.receivers[r], data, b""))
    for j, data in enumerate(world.sent):
        for r, party in receivers:
            run(
                j, f"{r} (replay)", data, lambda party=party, data=data, r=r: check_receive(world, r, party, data, data)
            )

    i = 0
    while count < MESSAGES:
        i += 1
        origin = rng.choice(seeds)
        kind, data = mut.mutate(origin)
        slot = i % 8
        if slot == 0:
            run(i, "decode", data, lambda data=data: check_decode(data))
        elif slot == 1:
            e_kind, e_data = mut.mutate(entry_origin)
            run(i, f"LogEntry+verify_log ({e_kind})", e_data, lambda d=e_data: check_entry_log(world, d, entry_origin))
        elif slot == 2:
            p_kind, p_data = mut.mutate(world.proof)
            run(i, f"verify_equivocation_proof ({p_kind})", p_data, lambda d=p_data: check_proof(d, world.proof))
        else:
            r, party = receivers[slot % len(receivers)]
            run(
                i,
                f"{r} ({kind})",
                data,
                lambda party=party, data=data, r=r, o=origin: check_receive(world, r, party, data, o),
            )
        if count % 4096 == 0:
            assert time.monotonic() - started < TIME_BUDGET, f"too slow: {count} messages"
    assert count >= 100_000
    # the mutations reach every layer: encoding, schema, signatures, chain, rules, timing
    reached = {ErrorCode(k) for k in outcomes if k in ErrorCode.__members__}
    assert reached >= DEEP_CODES, sorted(DEEP_CODES - reached)
    if os.environ.get("FUZZ_STATS"):
        print(count, sorted(outcomes.items(), key=lambda kv: -kv[1]))
