"""Merkle batches of anchored states and their inclusion proofs: plain Python, no Django, no I/O.

The normative description is ``docs/spec/anchoring.md``. In short:

- a leaf is one state of one relationship: ``{"channel", "seq", "state_hash"}``, hashed as
  ``SHA-256(0x00 || "FOAF-ANCHOR-1/leaf" || JCS(leaf))``;
- an inner node is ``SHA-256(0x01 || left || right)``;
- the root anchored is ``SHA-256(0x02 || leaf_count as 8 bytes big-endian || top node)``, so that a
  proof cannot claim another batch size for the same path;
- a level with an odd number of nodes promotes its last node unchanged to the next level (never
  duplicated, so no two leaf lists share a root the way Bitcoin's CVE-2012-2459 allowed);
- a proof carries the leaf, its index, the leaf count, the sibling path with sides and the root;
  the verifier recomputes the sides and the path length from ``index`` and ``leaf_count`` and
  refuses a proof whose path disagrees, before it folds the hashes.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from foaf.bilateral.jcs import MAX_SAFE_INTEGER, canonicalize_trusted

VERSION = 1
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
ROOT_PREFIX = b"\x02"
TAG_LEAF = b"FOAF-ANCHOR-1/leaf"
MAX_LEAVES = 2**32
_HEX32 = re.compile(r"[0-9a-f]{64}")
PROOF_FIELDS = frozenset({"v", "leaf", "leaf_hash", "index", "leaf_count", "path", "root", "anchor"})
LEAF_FIELDS = frozenset({"channel", "seq", "state_hash"})
LEFT, RIGHT = "left", "right"


class ProofErrorCode(enum.StrEnum):
    """Why a proof is refused (stable; the vectors and ``verify_anchor`` report these)."""

    MALFORMED = "proof_malformed"
    BAD_LEAF = "proof_bad_leaf"
    LEAF_HASH_MISMATCH = "proof_leaf_hash_mismatch"
    BAD_INDEX = "proof_bad_index"
    BAD_PATH = "proof_bad_path"
    ROOT_MISMATCH = "proof_root_mismatch"


class ProofError(ValueError):
    def __init__(self, code: ProofErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Leaf:
    """Which state of which relationship: the channel id, the sequence number, the state hash."""

    channel: str
    seq: int
    state_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "seq": self.seq, "state_hash": self.state_hash}

    def canonical(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> Leaf:
        if not isinstance(obj, dict):
            raise ProofError(ProofErrorCode.BAD_LEAF, "the leaf is not an object")
        if set(obj) != LEAF_FIELDS:
            raise ProofError(ProofErrorCode.BAD_LEAF, f"the leaf has fields {sorted(obj)}, not {sorted(LEAF_FIELDS)}")
        channel, seq, state_hash = obj["channel"], obj["seq"], obj["state_hash"]
        if not _is_hex32(channel):
            raise ProofError(ProofErrorCode.BAD_LEAF, "channel is not 64 lowercase hex digits")
        if not _is_hex32(state_hash):
            raise ProofError(ProofErrorCode.BAD_LEAF, "state_hash is not 64 lowercase hex digits")
        if type(seq) is not int or not 0 <= seq <= MAX_SAFE_INTEGER:
            raise ProofError(ProofErrorCode.BAD_LEAF, "seq is not an integer in [0, 2^53-1]")
        return cls(channel=channel, seq=seq, state_hash=state_hash)


def _is_hex32(value: Any) -> bool:
    return isinstance(value, str) and _HEX32.fullmatch(value) is not None


def leaf_preimage(leaf: Leaf) -> bytes:
    return LEAF_PREFIX + TAG_LEAF + leaf.canonical()


def leaf_hash(leaf: Leaf) -> bytes:
    return hashlib.sha256(leaf_preimage(leaf)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_hash(top: bytes, leaf_count: int) -> bytes:
    return hashlib.sha256(ROOT_PREFIX + leaf_count.to_bytes(8, "big") + top).digest()


def path_sides(index: int, leaf_count: int) -> list[str]:
    """The side of each sibling on the path of leaf `index` in a tree of `leaf_count` leaves,
    bottom up (``left``: the sibling is hashed first). A level where the node is the promoted
    last one of an odd level contributes no sibling."""
    if not 0 <= index < leaf_count <= MAX_LEAVES:
        raise ProofError(ProofErrorCode.BAD_INDEX, f"index {index} is not in [0, {leaf_count})")
    sides: list[str] = []
    width = leaf_count
    while width > 1:
        if index % 2 == 1:
            sides.append(LEFT)
        elif index + 1 < width:
            sides.append(RIGHT)
        index //= 2
        width = (width + 1) // 2
    return sides


class Tree:
    """Every level of the tree, leaves first, so that any leaf's proof is a walk up."""

    __slots__ = ("levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        if not leaf_hashes:
            raise ValueError("a tree needs at least one leaf")
        if len(leaf_hashes) > MAX_LEAVES:
            raise ValueError(f"a tree holds at most {MAX_LEAVES} leaves")
        sha = hashlib.sha256
        level = list(leaf_hashes)
        levels = [level]
        while len(level) > 1:
            nxt = [sha(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            levels.append(nxt)
            level = nxt
        self.levels = levels

    @classmethod
    def of_leaves(cls, leaves: Sequence[Leaf]) -> Tree:
        return cls([leaf_hash(leaf) for leaf in leaves])

    @property
    def top(self) -> bytes:
        return self.levels[-1][0]

    @property
    def root(self) -> bytes:
        return root_hash(self.top, self.leaf_count)

    @property
    def leaf_count(self) -> int:
        return len(self.levels[0])

    def path(self, index: int) -> list[tuple[str, bytes]]:
        """The sibling path of leaf `index`, bottom up, as (side, hash)."""
        if not 0 <= index < self.leaf_count:
            raise IndexError(index)
        out: list[tuple[str, bytes]] = []
        for level in self.levels[:-1]:
            if index % 2 == 1:
                out.append((LEFT, level[index - 1]))
            elif index + 1 < len(level):
                out.append((RIGHT, level[index + 1]))
            index //= 2
        return out

    def proof(self, index: int, leaf: Leaf) -> dict[str, Any]:
        """The proof JSON (spec §4) of `leaf` at `index`, without the ``anchor`` member."""
        own = leaf_hash(leaf)
        if own != self.levels[0][index]:
            raise ValueError(f"leaf {index} of this tree is not {leaf}")
        return {
            "v": VERSION,
            "leaf": leaf.to_json(),
            "leaf_hash": own.hex(),
            "index": index,
            "leaf_count": self.leaf_count,
            "path": [{"side": side, "hash": h.hex()} for side, h in self.path(index)],
            "root": self.root.hex(),
        }


def fold(leaf_digest: bytes, path: Sequence[tuple[str, bytes]]) -> bytes:
    """The top node that `path` leads to from `leaf_digest` (not yet bound to the leaf count)."""
    acc = leaf_digest
    for side, sibling in path:
        acc = node_hash(sibling, acc) if side == LEFT else node_hash(acc, sibling)
    return acc


@dataclass(frozen=True, slots=True)
class Verified:
    """What a valid proof proves: this state of this relationship is leaf `index` of the tree with `root`."""

    leaf: Leaf
    index: int
    leaf_count: int
    root: str


def _check_fields(proof: Any) -> None:
    if not isinstance(proof, dict):
        raise ProofError(ProofErrorCode.MALFORMED, "a proof is a JSON object")
    missing = PROOF_FIELDS - {"anchor"} - set(proof)
    if missing:
        raise ProofError(ProofErrorCode.MALFORMED, f"missing {sorted(missing)}")
    unknown = set(proof) - PROOF_FIELDS
    if unknown:
        raise ProofError(ProofErrorCode.MALFORMED, f"unknown fields {sorted(unknown)}")
    if type(proof["v"]) is not int or proof["v"] != VERSION:
        raise ProofError(ProofErrorCode.MALFORMED, f"v is not {VERSION}")
    if "anchor" in proof and not isinstance(proof["anchor"], dict):
        raise ProofError(ProofErrorCode.MALFORMED, "anchor is not an object")
    for name in ("leaf_hash", "root"):
        if not _is_hex32(proof[name]):
            raise ProofError(ProofErrorCode.MALFORMED, f"{name} is not 64 lowercase hex digits")
    if type(proof["index"]) is not int or type(proof["leaf_count"]) is not int:
        raise ProofError(ProofErrorCode.MALFORMED, "index and leaf_count are integers")
    if not isinstance(proof["path"], list):
        raise ProofError(ProofErrorCode.MALFORMED, "path is not an array")


def _parse_path(steps: list[Any]) -> list[tuple[str, bytes]]:
    path: list[tuple[str, bytes]] = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or set(step) != {"side", "hash"} or not _is_hex32(step["hash"]):
            raise ProofError(ProofErrorCode.MALFORMED, f"path[{i}] is not {{side, hash (hex32)}}")
        if step["side"] not in (LEFT, RIGHT):
            raise ProofError(ProofErrorCode.MALFORMED, f"path[{i}].side is neither left nor right")
        path.append((step["side"], bytes.fromhex(step["hash"])))
    return path


def verify_proof(proof: Any) -> Verified:
    """Check a proof object (spec §5); return what it proves or raise ProofError with its code.

    This checks the Merkle path only. That the root itself was anchored is the backend's question
    (the ``anchor`` member, spec §6), which this function does not look at beyond its type.
    """
    _check_fields(proof)
    index, leaf_count = proof["index"], proof["leaf_count"]
    leaf = Leaf.from_json(proof["leaf"])
    own = leaf_hash(leaf)
    if own.hex() != proof["leaf_hash"]:
        raise ProofError(ProofErrorCode.LEAF_HASH_MISMATCH, "leaf_hash is not the hash of leaf")
    sides = path_sides(index, leaf_count)
    path = _parse_path(proof["path"])
    if len(path) != len(sides):
        raise ProofError(
            ProofErrorCode.BAD_PATH, f"a leaf at {index} of {leaf_count} has {len(sides)} siblings, not {len(path)}"
        )
    for i, ((side, _), expected) in enumerate(zip(path, sides, strict=True)):
        if side != expected:
            raise ProofError(ProofErrorCode.BAD_PATH, f"path[{i}].side is {side}, the position says {expected}")
    if root_hash(fold(own, path), leaf_count).hex() != proof["root"]:
        raise ProofError(ProofErrorCode.ROOT_MISMATCH, "the path does not lead to root")
    return Verified(leaf=leaf, index=index, leaf_count=leaf_count, root=proof["root"])


TAG_LOCAL = b"FOAF-ANCHOR-1/local"
LOCAL_PREFIX = b"\x03"
ZERO_HASH = "0" * 64


def local_entry_hash(*, seq: int, root: str, prev: str) -> str:
    """Entry `seq` of the local backend's log (spec §6): SHA-256(0x03 || tag || JCS(entry)), hex."""
    return hashlib.sha256(
        LOCAL_PREFIX + TAG_LOCAL + canonicalize_trusted({"prev": prev, "root": root, "seq": seq})
    ).hexdigest()


class AnchorError(ValueError):
    """The anchor a proof names does not hold its root (spec §6)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def verify_local_anchor(anchor: Any, root: str, entries: Sequence[tuple[int, str, str, str]]) -> int:
    """Check a ``local`` anchor against the local log's entries 0..n as (seq, root, prev, entry_hash),
    in order: the chain links from 64 zeros, each entry hash is its fields' hash (spec §6), the
    entry named is there with the entry hash named and holds `root`. Returns its seq; raises
    AnchorError. Plain Python: the log may come from the database or from an export."""
    if not isinstance(anchor, dict) or set(anchor) != {"backend", "entry", "entry_hash"}:
        raise AnchorError("anchor_malformed", "a local anchor is {backend, entry, entry_hash}")
    seq, entry_hash = anchor["entry"], anchor["entry_hash"]
    if anchor["backend"] != "local" or type(seq) is not int or not _is_hex32(entry_hash):
        raise AnchorError("anchor_malformed", "a local anchor is {backend: local, entry: int, entry_hash: hex32}")
    if seq < 0 or seq >= len(entries):
        raise AnchorError("anchor_unknown_entry", f"the local log has no entry {seq}")
    prev = ZERO_HASH
    for i, (s, r, p, h) in enumerate(entries[: seq + 1]):
        if s != i or p != prev or local_entry_hash(seq=s, root=r, prev=p) != h:
            raise AnchorError("anchor_broken_chain", f"the local log's chain breaks at entry {i}")
        prev = h
    _, stored_root, _, stored_hash = entries[seq]
    if stored_hash != entry_hash:
        raise AnchorError("anchor_entry_hash_mismatch", f"entry {seq}'s hash is {stored_hash}, not {entry_hash}")
    if stored_root != root:
        raise AnchorError("anchor_root_mismatch", f"entry {seq} holds another root")
    return seq
