"""Merkle batching and proofs for anchoring, against hashing the same leaves with hashlib alone.

Ours, timed as one: hash every leaf (JCS of {channel, seq, state_hash} under the leaf tag), build
the tree (every level kept, odd nodes promoted), and generate the inclusion path of every leaf.
The baseline, timed in the same run: ``hashlib.sha256`` of each leaf's exact preimage bytes (built
beforehand, so the baseline does the hashing only). The ratio is baseline/ours (above 1 would be
faster than hashing alone, which a tree cannot be: it reports the cost of batching and proofs per
leaf hash). ``proof_bytes`` is the compact JSON of the longest proof (no anchor member);
a sample of proofs is then checked with ``verify_proof`` (untimed).

    .venv/bin/python bench/anchoring.py [--quick]     # 1,000,000 leaves; --quick: 100,000

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anchoring.merkle import Leaf, Tree, leaf_hash, leaf_preimage, verify_proof  # noqa: E402


def make_leaves(n: int) -> list[Leaf]:
    channels = [hashlib.sha256(b"channel-%d" % i).hexdigest() for i in range(1000)]
    return [
        Leaf(channel=channels[i % 1000], seq=i // 1000, state_hash=hashlib.sha256(b"state-%d" % i).hexdigest())
        for i in range(n)
    ]


def run_ours(leaves: list[Leaf]) -> tuple[float, Tree, int]:
    gc.collect()
    started = time.perf_counter()
    tree = Tree([leaf_hash(x) for x in leaves])
    steps = 0
    path = tree.path
    for i in range(len(leaves)):
        steps += len(path(i))
    return time.perf_counter() - started, tree, steps


def run_baseline(preimages: list[bytes]) -> tuple[float, bytes]:
    gc.collect()
    sha = hashlib.sha256
    started = time.perf_counter()
    last = b""
    for p in preimages:
        last = sha(p).digest()
    return time.perf_counter() - started, last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    rounds = 3 if args.quick else 1
    leaves = make_leaves(n)
    preimages = [leaf_preimage(x) for x in leaves]
    best_ours = best_base = float("inf")
    tree: Tree | None = None
    steps = 0
    for _ in range(rounds):
        base, _ = run_baseline(preimages)
        ours, tree, steps = run_ours(leaves)
        best_ours, best_base = min(best_ours, ours), min(best_base, base)
    assert tree is not None
    longest = max(range(n), key=lambda i: len(tree.path(i)) * n - i)
    proof = tree.proof(longest, leaves[longest])
    proof_bytes = len(json.dumps(proof, separators=(",", ":")).encode())
    stride = max(1, n // 1000)
    for i in range(0, n, stride):
        got = verify_proof(tree.proof(i, leaves[i]))
        assert got.index == i and got.root == tree.root.hex()
    figures: dict[str, Any] = {
        "bench": "anchoring",
        "ratio": round(best_base / best_ours, 4),
        "proof_bytes": proof_bytes,
        "proof_steps": len(proof["path"]),
        "leaves": n,
        "ours_s": round(best_ours, 3),
        "baseline_s": round(best_base, 3),
        "ours_leaves_per_s": round(n / best_ours, 1),
        "baseline_per_s": round(n / best_base, 1),
        "proof_steps_total": steps,
        "proofs_verified": len(range(0, n, stride)),
        "rounds": rounds,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "root": tree.root.hex(),
    }
    print(
        f"ours: {n} leaves hashed, batched and proved in {best_ours:.2f} s; hashlib alone: {best_base:.2f} s",
        file=sys.stderr,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
