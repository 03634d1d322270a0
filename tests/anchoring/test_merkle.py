"""The Merkle tree, proofs and their verification (anchoring.merkle), and the checked-in vectors."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.conformance import render, run_vector
from anchoring.merkle import (
    ZERO_HASH,
    AnchorError,
    Leaf,
    ProofError,
    ProofErrorCode,
    Tree,
    leaf_hash,
    local_entry_hash,
    node_hash,
    path_sides,
    root_hash,
    verify_local_anchor,
    verify_proof,
)

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "docs" / "spec" / "vectors" / "anchoring.json"


def leaf(i: int) -> Leaf:
    return Leaf(
        channel=hashlib.sha256(b"c%d" % i).hexdigest(), seq=i, state_hash=hashlib.sha256(b"s%d" % i).hexdigest()
    )


def test_a_leaf_hash_is_the_tagged_jcs_of_channel_seq_and_state_hash() -> None:
    x = Leaf(channel="ab" * 32, seq=7, state_hash="cd" * 32)
    jcs = b'{"channel":"' + b"ab" * 32 + b'","seq":7,"state_hash":"' + b"cd" * 32 + b'"}'
    assert leaf_hash(x) == hashlib.sha256(b"\x00FOAF-ANCHOR-1/leaf" + jcs).digest()


def test_three_leaves_promote_the_third_instead_of_duplicating_it() -> None:
    a, b, c = (leaf_hash(leaf(i)) for i in range(3))
    tree = Tree([a, b, c])
    top = node_hash(node_hash(a, b), c)
    assert tree.root == hashlib.sha256(b"\x02" + (3).to_bytes(8, "big") + top).digest()
    four = Tree([a, b, c, c])
    assert four.root != tree.root


def test_one_leaf_is_its_own_top_node() -> None:
    h = leaf_hash(leaf(0))
    assert Tree([h]).root == root_hash(h, 1)
    assert Tree([h]).path(0) == []


def test_an_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        Tree([])


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_proof_of_every_tree_verifies_and_names_its_leaf(n: int, data: st.DataObject) -> None:
    leaves = [leaf(i) for i in range(n)]
    tree = Tree.of_leaves(leaves)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = json.loads(json.dumps(tree.proof(i, leaves[i])))
    assert [s["side"] for s in proof["path"]] == path_sides(i, n)
    got = verify_proof(proof)
    assert (got.leaf, got.index, got.leaf_count, got.root) == (leaves[i], i, n, tree.root.hex())


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=40), st.data())
def test_a_proof_with_any_one_byte_of_its_path_or_root_changed_is_refused(n: int, data: st.DataObject) -> None:
    leaves = [leaf(i) for i in range(n)]
    tree = Tree.of_leaves(leaves)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = tree.proof(i, leaves[i])
    bad = copy.deepcopy(proof)
    target = data.draw(st.sampled_from(["root", *[f"path{k}" for k in range(len(proof["path"]))]]))
    pos = data.draw(st.integers(min_value=0, max_value=63))
    h = bad["root"] if target == "root" else bad["path"][int(target[4:])]["hash"]
    flipped = h[:pos] + ("0" if h[pos] != "0" else "1") + h[pos + 1 :]
    if target == "root":
        bad["root"] = flipped
    else:
        bad["path"][int(target[4:])]["hash"] = flipped
    with pytest.raises(ProofError) as err:
        verify_proof(bad)
    assert err.value.code is ProofErrorCode.ROOT_MISMATCH


def test_no_other_index_or_leaf_count_reuses_a_proof() -> None:
    leaves = [leaf(i) for i in range(21)]
    tree = Tree.of_leaves(leaves)
    for i in range(21):
        proof = tree.proof(i, leaves[i])
        for j in range(21):
            for n in range(j + 1, 40):
                if (j, n) == (i, 21):
                    continue
                with pytest.raises(ProofError):
                    verify_proof({**proof, "index": j, "leaf_count": n})


def test_a_proof_of_a_leaf_not_in_the_tree_cannot_be_made() -> None:
    tree = Tree.of_leaves([leaf(0), leaf(1)])
    with pytest.raises(ValueError, match="is not"):
        tree.proof(0, leaf(1))


def test_the_checked_in_vectors_equal_a_fresh_generation() -> None:
    assert VECTORS.read_bytes() == render()["anchoring.json"], "stale: run python -m anchoring.conformance"


def test_the_vector_checker_exits_1_on_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "anchoring.json").write_text("{}")
    cmd = [sys.executable, "-m", "anchoring.conformance", "--check", "--out", str(tmp_path)]
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode == 1
    subprocess.run([sys.executable, "-m", "anchoring.conformance", "--out", str(tmp_path)], cwd=ROOT, check=True)
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode == 0


def all_vectors() -> list[dict[str, Any]]:
    return list(json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"])


def test_there_are_at_least_20_vectors_and_half_are_invalid() -> None:
    vs = all_vectors()
    assert len(vs) >= 20
    assert sum(not v["valid"] for v in vs) * 2 >= len(vs)
    assert len({v["name"] for v in vs}) == len(vs)


@pytest.mark.parametrize("vector", all_vectors(), ids=lambda v: v["name"])
def test_each_vector_passes_against_our_verifier(vector: dict[str, Any]) -> None:
    assert run_vector(vector) == vector["expected"]
    if not vector["valid"]:
        assert vector["expected"] == {"error": vector["error"]}


def local_log(roots: list[str]) -> list[tuple[int, str, str, str]]:
    out, prev = [], ZERO_HASH
    for seq, root in enumerate(roots):
        h = local_entry_hash(seq=seq, root=root, prev=prev)
        out.append((seq, root, prev, h))
        prev = h
    return out


def test_a_local_anchor_is_checked_against_an_exported_log_without_django() -> None:
    log = local_log(["aa" * 32, "bb" * 32, "cc" * 32])
    anchor = {"backend": "local", "entry": 1, "entry_hash": log[1][3]}
    assert verify_local_anchor(anchor, "bb" * 32, log) == 1
    cases = [
        ({**anchor, "entry": 5}, "bb" * 32, log, "anchor_unknown_entry"),
        ({**anchor, "entry_hash": log[2][3]}, "bb" * 32, log, "anchor_entry_hash_mismatch"),
        (anchor, "cc" * 32, log, "anchor_root_mismatch"),
        ({**anchor, "extra": 1}, "bb" * 32, log, "anchor_malformed"),
        # entry 0 rewritten (and rehashed): entry 1 no longer links to it.
        (anchor, "bb" * 32, [local_log(["dd" * 32])[0], *log[1:]], "anchor_broken_chain"),
        # entry 1's root rewritten without rehashing.
        (anchor, "ee" * 32, [log[0], (1, "ee" * 32, log[1][2], log[1][3]), log[2]], "anchor_broken_chain"),
    ]
    for bad_anchor, root, entries, code in cases:
        with pytest.raises(AnchorError) as err:
            verify_local_anchor(bad_anchor, root, entries)
        assert err.value.code == code
