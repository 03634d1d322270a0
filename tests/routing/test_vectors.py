"""docs/spec/vectors/routing.json is current, and each vector passes when replayed against our core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foaf.routing.conformance import FILE, RUNNERS, render, run_vector

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def all_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / FILE).read_text(encoding="utf-8"))["vectors"]
    return vectors


def test_the_checked_in_vector_file_equals_a_fresh_generation() -> None:
    for name, data in render().items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run python -m foaf.routing.conformance"


def test_there_are_at_least_60_vectors_and_most_are_invalid_cases() -> None:
    vs = all_vectors()
    assert len(vs) >= 60
    assert sum(not v["valid"] for v in vs) > len(vs) // 2
    assert len({v["name"] for v in vs}) == len(vs)


def test_every_routing_code_check_route_and_check_offer_can_raise_has_a_vector() -> None:
    errors = {v["error"] for v in all_vectors() if not v["valid"]}
    for code in (
        "ROUTE_LENGTH", "ROUTE_BROKEN", "BAD_PURPOSE", "ROUTE_NOT_SIMPLE", "BAD_AMOUNTS", "BAD_EXPIRY",
        "NOT_ON_ROUTE", "HOLD_MISMATCH", "TOO_LATE", "UNKNOWN_PAYMENT", "AMOUNT_MISMATCH", "INVOICE_EXPIRED",
        "ALREADY_PAID", "NO_NEXT_HOP", "LIMIT_EXCEEDED", "LOOP_ADDS_DEBT",
    ):  # fmt: skip
        assert code in errors, code


def test_every_kind_and_every_decision_reason_has_a_vector() -> None:
    vs = all_vectors()
    assert {v["kind"] for v in vs} == set(RUNNERS)
    refusals = {v["expected"].get("reason") for v in vs if v["kind"] == "node" and "countersign" in v["expected"]}
    assert {"RELEASE_TOO_LATE", "PREIMAGE_KNOWN", "OUTGOING_OPEN"} <= refusals


def test_every_node_call_and_every_status_has_a_vector() -> None:
    vs = all_vectors()
    calls = {v["call"]["call"] for v in vs if v["kind"] == "node"}
    assert {
        "start", "incoming_held", "outgoing_held", "outgoing_refused", "outgoing_cancelled", "outgoing_released",
        "incoming_released", "incoming_cancelled", "outgoing_cancel_refused", "incoming_release_refused",
        "incoming_cancel_refused", "tick", "may_countersign_release", "may_countersign_cancel",
    } <= calls  # fmt: skip
    finished = {v["expected"]["node"]["outcome"] for v in vs if v["kind"] == "node" and "node" in v["expected"]}
    assert {"pending", "settled", "cancelled", "disputed"} <= finished
    decoded = {v["input"]["status"] for v in vs if v["kind"] == "decode" and v["valid"] and "status" in v["input"]}
    assert {"held", "cancelled", "disputed"} <= decoded


@pytest.mark.parametrize("vector", all_vectors(), ids=lambda v: v["name"])
def test_each_vector_passes_against_our_core(vector: dict[str, Any]) -> None:
    assert run_vector(vector) == vector["expected"]
    assert ("error" in vector) == (not vector["valid"])
    if not vector["valid"]:
        assert vector["expected"] == {"error": vector["error"]}
