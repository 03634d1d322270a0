"""Conformance vectors for anchoring proofs: generator (`--out DIR`), checker (`--check`), runner.

    python -m anchoring.conformance --out docs/spec/vectors          # write anchoring.json
    python -m anchoring.conformance --check --out docs/spec/vectors  # exit 1 if stale

Leaves are fixed and obviously fake: relationship `i` has channel SHA-256("channel-i") and its
state `s` the hash SHA-256("state-i-s"), so the file is byte-identical on every run. Plain Python.

Kind ``verify_radix_payload`` (spec §6.2): a radix anchor, a root and the raw notarized transaction
a Gateway would return, built with radix-engine-toolkit under a fixed key, epoch and nonce (Ed25519
signing is deterministic, so these too are byte-identical on every run).
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import radix_engine_toolkit as ret

from foaf.bilateral.conformance import vectors_cli

from .merkle import Leaf, ProofError, Tree, leaf_hash, leaf_preimage, verify_proof
from .radix import MIME, AnchorCheckError, RadixKey, build_anchor_transaction, check_anchor_payload, root_message

JSON = dict[str, Any]
FILE = "anchoring.json"


def fake_leaf(i: int) -> Leaf:
    return Leaf(
        channel=hashlib.sha256(f"channel-{i % 5}".encode()).hexdigest(),
        seq=i,
        state_hash=hashlib.sha256(f"state-{i % 5}-{i}".encode()).hexdigest(),
    )


def _tree(n: int) -> tuple[list[Leaf], Tree]:
    leaves = [fake_leaf(i) for i in range(n)]
    return leaves, Tree.of_leaves(leaves)


def _explain(leaves: list[Leaf], index: int) -> JSON:
    leaf = leaves[index]
    canonical = leaf.canonical()
    return {
        "leaf": {
            "json": leaf.to_json(),
            "canonical_hex": canonical.hex(),
            "sha256_hex": hashlib.sha256(canonical).hexdigest(),
        },
        "leaf_preimage_hex": leaf_preimage(leaf).hex(),
        "leaf_hashes": [leaf_hash(x).hex() for x in leaves],
    }


def _valid(name: str, description: str, n: int, index: int) -> JSON:
    leaves, tree = _tree(n)
    proof = tree.proof(index, leaves[index])
    return {
        "name": name,
        "description": description,
        "kind": "verify_proof",
        "proof": proof,
        "explain": _explain(leaves, index),
        "valid": True,
        "expected": {"root": proof["root"], "index": index, "leaf_count": n, "leaf": proof["leaf"]},
    }


def _invalid(  # noqa: PLR0917 (a row of the vector table below)
    name: str, description: str, n: int, index: int, error: str, tamper: Callable[[JSON], None]
) -> JSON:
    leaves, tree = _tree(n)
    proof = copy.deepcopy(tree.proof(index, leaves[index]))
    tamper(proof)
    return {
        "name": name,
        "description": description,
        "kind": "verify_proof",
        "proof": proof,
        "explain": _explain(leaves, index),
        "valid": False,
        "error": error,
        "expected": {"error": error},
    }


def _set(path: list[Any], value: Any) -> Callable[[JSON], None]:
    def tamper(proof: JSON) -> None:
        node: Any = proof
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return tamper


def _flip_hex(h: str) -> str:
    return ("1" if h[0] == "0" else "0") + h[1:]


def vectors() -> list[JSON]:
    out = [
        _valid("single-leaf", "one leaf: the root is the leaf hash, the path is empty", 1, 0),
        _valid("two-leaves-left", "two leaves, the left one: one sibling on the right", 2, 0),
        _valid("two-leaves-right", "two leaves, the right one: one sibling on the left", 2, 1),
        _valid("three-leaves-promoted", "three leaves, the last one is promoted at level 0 (one sibling)", 3, 2),
        _valid("three-leaves-first", "three leaves, the first one: two siblings", 3, 0),
        _valid("five-leaves-last", "five leaves, the last one is promoted twice (one sibling in all)", 5, 4),
        _valid("seven-leaves-middle", "seven leaves, index 3", 7, 3),
        _valid("eight-leaves-full", "a full tree of eight, index 6", 8, 6),
        _valid("thirteen-leaves-index-12", "thirteen leaves, the promoted last one", 13, 12),
        _valid("thirteen-leaves-index-9", "thirteen leaves, index 9", 13, 9),
        _valid("hundred-leaves-index-64", "a hundred leaves, index 64 (right half promoted twice)", 100, 64),
    ]

    def with_leaf_seq(proof: JSON) -> None:
        proof["leaf"]["seq"] += 1
        proof["leaf_hash"] = leaf_hash(Leaf.from_json(proof["leaf"])).hex()

    def with_other_state(proof: JSON) -> None:
        proof["leaf"]["state_hash"] = _flip_hex(proof["leaf"]["state_hash"])
        proof["leaf_hash"] = leaf_hash(Leaf.from_json(proof["leaf"])).hex()

    def with_path_hash(proof: JSON) -> None:
        proof["path"][1]["hash"] = _flip_hex(proof["path"][1]["hash"])

    def with_side_swapped(proof: JSON) -> None:
        proof["path"][0]["side"] = "left" if proof["path"][0]["side"] == "right" else "right"

    def with_step_dropped(proof: JSON) -> None:
        proof["path"].pop()

    def with_step_added(proof: JSON) -> None:
        proof["path"].append({"side": "right", "hash": proof["path"][-1]["hash"]})

    def duplicated_last(proof: JSON) -> None:
        # CVE-2012-2459 shape: claim four leaves, the third duplicated, with its own hash as sibling.
        proof["leaf_count"] = 4
        proof["path"].insert(0, {"side": "right", "hash": proof["leaf_hash"]})

    def unknown_field(proof: JSON) -> None:
        proof["note"] = "extra"

    def missing_root(proof: JSON) -> None:
        del proof["root"]

    out += [
        _invalid(
            "tampered-leaf-seq",
            "the leaf names another seq (leaf_hash recomputed to match): the root differs",
            8,
            2,
            "proof_root_mismatch",
            with_leaf_seq,
        ),
        _invalid(
            "tampered-leaf-state",
            "the leaf names another state hash (leaf_hash recomputed): the root differs",
            13,
            5,
            "proof_root_mismatch",
            with_other_state,
        ),
        _invalid(
            "tampered-leaf-channel-only",
            "the leaf's channel changed but leaf_hash left as it was",
            5,
            1,
            "proof_leaf_hash_mismatch",
            lambda p: p["leaf"].__setitem__("channel", _flip_hex(p["leaf"]["channel"])),
        ),
        _invalid(
            "tampered-leaf-hash",
            "leaf_hash is not the hash of the leaf",
            7,
            0,
            "proof_leaf_hash_mismatch",
            lambda p: p.__setitem__("leaf_hash", _flip_hex(p["leaf_hash"])),
        ),
        _invalid("tampered-path-hash", "a sibling hash changed", 8, 3, "proof_root_mismatch", with_path_hash),
        _invalid("tampered-side", "the first sibling's side swapped", 8, 4, "proof_bad_path", with_side_swapped),
        _invalid("path-too-short", "the last sibling dropped", 13, 6, "proof_bad_path", with_step_dropped),
        _invalid("path-too-long", "a sibling appended", 7, 2, "proof_bad_path", with_step_added),
        _invalid(
            "tampered-root",
            "the root changed",
            100,
            37,
            "proof_root_mismatch",
            lambda p: p.__setitem__("root", _flip_hex(p["root"])),
        ),
        _invalid(
            "index-moved",
            "index 5 claimed for the leaf at 4 (sides differ at level 0)",
            8,
            4,
            "proof_bad_path",
            _set(["index"], 5),
        ),
        _invalid(
            "leaf-count-changed",
            "leaf_count 7 claimed for leaf 4 of 8: the same sides and top node, but the root binds the count",
            8,
            4,
            "proof_root_mismatch",
            _set(["leaf_count"], 7),
        ),
        _invalid(
            "duplicated-last-leaf",
            "three leaves presented as four with the last duplicated (CVE-2012-2459 shape)",
            3,
            2,
            "proof_root_mismatch",
            duplicated_last,
        ),
        _invalid(
            "index-out-of-range",
            "index equal to leaf_count",
            5,
            4,
            "proof_bad_index",
            _set(["index"], 5),
        ),
        _invalid(
            "seq-negative",
            "a negative seq",
            2,
            0,
            "proof_bad_leaf",
            _set(["leaf", "seq"], -1),
        ),
        _invalid(
            "state-hash-uppercase",
            "hex must be lowercase",
            2,
            1,
            "proof_bad_leaf",
            lambda p: p["leaf"].__setitem__("state_hash", p["leaf"]["state_hash"].upper()),
        ),
        _invalid("unknown-field", "a field the format does not have", 3, 1, "proof_malformed", unknown_field),
        _invalid("missing-root", "no root", 3, 1, "proof_malformed", missing_root),
        _invalid("wrong-version", "v is 2", 3, 0, "proof_malformed", _set(["v"], 2)),
        _invalid(
            "bad-side-word",
            "a side that is neither left nor right",
            2,
            0,
            "proof_malformed",
            _set(["path", 0, "side"], "up"),
        ),
    ]
    out += radix_vectors()
    for v in out:
        if run_vector(v) != v["expected"]:
            raise AssertionError(f"vector {v['name']}: the generator disagrees with the verifier")
    return out


RADIX_SEED = hashlib.sha256(b"FOAF anchoring vectors: an obviously fake Radix key").digest()
RADIX_EPOCH = 50_000


def _notarized(key: RadixKey, message: Any, *, nonce: int = 7, network_id: int = 2) -> Any:
    header = ret.TransactionHeaderV1(
        network_id=network_id,
        start_epoch_inclusive=RADIX_EPOCH,
        end_epoch_exclusive=RADIX_EPOCH + 10,
        nonce=nonce,
        notary_public_key=key.public_key,
        notary_is_signatory=True,
        tip_percentage=0,
    )
    manifest = ret.ManifestV1Builder().account_lock_fee(ret.Address(key.account), ret.Decimal("10")).build(network_id)
    return key.notarize(header, manifest, message)


def _radix_case(  # noqa: PLR0917 (a row of the vector table below)
    name: str, description: str, anchor: JSON, root: str, payload: bytes, error: str | None
) -> JSON:
    vector: JSON = {
        "name": name,
        "description": description,
        "kind": "verify_radix_payload",
        "anchor": anchor,
        "root": root,
        "raw_hex": payload.hex(),
    }
    try:
        tx = ret.NotarizedTransactionV1.from_payload_bytes(payload)
        key = tx.signed_intent().intent().header().notary_public_key
        vector["explain"] = {
            "intent_hash": tx.intent_hash().as_str(),
            "notary": {
                "public_key_hex": bytes(key.value).hex(),
                "message_hex": bytes(tx.signed_intent_hash().bytes()).hex(),
                "signature_hex": bytes(tx.notary_signature().value).hex(),
            },
        }
    except Exception:  # noqa: S110 (an undecodable payload has nothing to explain)
        pass
    if error is None:
        vector["valid"] = True
        vector["expected"] = {"intent_hash": anchor["intent_hash"], "network_id": anchor["network_id"], "root": root}
    else:
        vector["valid"] = False
        vector["error"] = error
        vector["expected"] = {"error": error}
    return vector


def radix_vectors() -> list[JSON]:
    key = RadixKey(RADIX_SEED, 2)
    _, tree = _tree(5)
    root = tree.root.hex()
    other = hashlib.sha256(b"another root").hexdigest()
    good = build_anchor_transaction(key, tree.root, epoch=RADIX_EPOCH, window=10, fee_lock="10", nonce=7)
    anchor = {"backend": "radix", "network_id": 2, "intent_hash": good.intent_hash}

    def anchor_of(tx: Any) -> JSON:
        return {"backend": "radix", "network_id": 2, "intent_hash": tx.intent_hash().as_str()}

    text = _notarized(
        key, ret.MessageV1.PLAIN_TEXT(ret.PlainTextMessageV1("text/plain", ret.MessageContentV1.STR(root)))
    )
    another = _notarized(key, root_message(bytes.fromhex(other)))
    none = _notarized(key, ret.MessageV1.NONE())
    short = _notarized(
        key, ret.MessageV1.PLAIN_TEXT(ret.PlainTextMessageV1(MIME, ret.MessageContentV1.BYTES(tree.root[:31])))
    )
    edited = good.payload.replace(tree.root, bytes.fromhex(other))
    forged = bytearray(good.payload)
    forged[-1] ^= 1  # the last byte of the notary signature
    return [
        _radix_case(
            "radix-binary-message",
            "the message is the 32-byte root as a binary plaintext message: valid",
            anchor,
            root,
            good.payload,
            None,
        ),
        _radix_case(
            "radix-string-message",
            "the message is the root as 64 hex characters in a string plaintext message: also valid",
            anchor_of(text),
            root,
            bytes(text.to_payload_bytes()),
            None,
        ),
        _radix_case(
            "radix-other-root",
            "the transaction is the one named, but its message holds another root",
            anchor_of(another),
            root,
            bytes(another.to_payload_bytes()),
            "anchor_root_mismatch",
        ),
        _radix_case(
            "radix-message-edited",
            "the message of the named transaction edited in place: the intent hash recomputed differs",
            anchor,
            other,
            edited,
            "anchor_tx_mismatch",
        ),
        _radix_case(
            "radix-another-transaction",
            "the raw transaction is not the one the anchor names",
            anchor,
            other,
            bytes(another.to_payload_bytes()),
            "anchor_tx_mismatch",
        ),
        _radix_case(
            "radix-no-message",
            "the named transaction has no message",
            anchor_of(none),
            root,
            bytes(none.to_payload_bytes()),
            "anchor_message_missing",
        ),
        _radix_case(
            "radix-short-message",
            "the message holds 31 bytes, not a root",
            anchor_of(short),
            root,
            bytes(short.to_payload_bytes()),
            "anchor_message_missing",
        ),
        _radix_case(
            "radix-bad-notary-signature",
            "one bit of the notary signature flipped: the intent hash is the same, the transaction is not valid",
            anchor,
            root,
            bytes(forged),
            "anchor_tx_invalid",
        ),
        _radix_case(
            "radix-undecodable",
            "the raw transaction is not a notarized transaction",
            anchor,
            root,
            bytes.fromhex("4d2203020000"),
            "anchor_tx_undecodable",
        ),
        _radix_case(
            "radix-anchor-other-network",
            "the anchor names network 1 (mainnet) with a stokenet transaction id",
            {"backend": "radix", "network_id": 1, "intent_hash": good.intent_hash},
            root,
            good.payload,
            "anchor_malformed",
        ),
        _radix_case(
            "radix-anchor-extra-member",
            "the anchor has a member the format does not have",
            {**anchor, "tx": "x"},
            root,
            good.payload,
            "anchor_malformed",
        ),
    ]


def run_vector(vector: JSON) -> JSON:
    """Re-run one vector from its JSON alone; return what was observed, in `expected`'s shape."""
    if vector["kind"] == "verify_radix_payload":
        try:
            d = check_anchor_payload(vector["anchor"], vector["root"], bytes.fromhex(vector["raw_hex"]))
        except AnchorCheckError as exc:
            return {"error": exc.code}
        return {"intent_hash": d.intent_hash, "network_id": d.network_id, "root": d.message_root}
    if vector["kind"] != "verify_proof":
        raise ValueError(f"unknown kind {vector['kind']}")
    try:
        v = verify_proof(vector["proof"])
    except ProofError as exc:
        return {"error": exc.code.value}
    return {"root": v.root, "index": v.index, "leaf_count": v.leaf_count, "leaf": v.leaf.to_json()}


def render() -> dict[str, bytes]:
    data = {
        "description": "Anchoring (docs/spec/anchoring.md): kinds verify_proof (§5) and verify_radix_payload (§6.2).",
        "vectors": vectors(),
    }
    return {FILE: (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")}


def main(argv: list[str] | None = None) -> int:
    return vectors_cli(render, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
