"""The checked-in vectors are up to date, and each one passes when replayed against our core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foaf.bilateral.conformance import FILES, render, run_vector

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def all_vectors() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted(FILES):
        for v in json.loads((VECTORS / f).read_text(encoding="utf-8"))["vectors"]:
            out.append((f, v))
    return out


def test_the_checked_in_vector_files_equal_a_fresh_generation() -> None:
    for name, data in render().items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run python -m foaf.bilateral.conformance"


def test_there_are_at_least_100_vectors_and_most_are_invalid_cases() -> None:
    vs = all_vectors()
    assert len(vs) >= 100
    assert sum(not v["valid"] for _, v in vs) > len(vs) // 2


@pytest.mark.parametrize(("fname", "vector"), all_vectors(), ids=lambda x: x if isinstance(x, str) else x["name"])
def test_each_vector_passes_against_our_core(fname: str, vector: dict[str, Any]) -> None:
    observed = run_vector(vector)
    expected = dict(vector["expected"])
    if not vector["valid"] and vector["kind"] != "session":
        expected["error"] = vector["error"]
    assert observed == expected
    assert ("error" in vector) == (not vector["valid"])
