"""Comparing this service's answer with Rails' (migration.cutover.compare): plain Python."""

from __future__ import annotations

import json

import pytest

from migration.cutover.compare import MISSING, compare, differences
from migration.cutover.shadow import redacted

pytestmark = pytest.mark.core


def j(value: object) -> bytes:
    return json.dumps(value).encode()


def test_equal_answers_are_no_difference() -> None:
    assert compare("trustline", 200, j({"a": 1, "b": [1, 2]}), 200, j({"a": 1, "b": [1, 2]})) is None


def test_fields_only_here_are_additions_not_differences() -> None:
    assert compare("trustline", 200, j({"id": 1, "state_hash": "ab"}), 200, j({"id": 1})) is None


def test_a_field_rails_sends_and_we_lack_is_a_difference() -> None:
    outcome = compare("trustline", 200, j({"id": 1}), 200, j({"id": 1, "notes": None}))
    assert outcome is not None and (outcome.kind, outcome.field) == ("mismatch", "$.notes")
    assert outcome.differences[0].ours == MISSING


def test_money_compares_by_value_but_types_stay_apart() -> None:
    assert differences({"x": 100}, {"x": 100.0}) == []
    assert [d.path for d in differences({"x": True}, {"x": 1})] == ["$.x"]
    assert [d.path for d in differences({"x": "1"}, {"x": 1})] == ["$.x"]


def test_arrays_of_objects_with_ids_pair_by_id_whatever_the_order() -> None:
    ours = [{"id": 2, "b": 20.0}, {"id": 1, "b": 10.0}]
    rails = [{"id": 1, "b": 10.0}, {"id": 2, "b": 21.0}, {"id": 3, "b": 0.0}]
    found = differences(ours, rails)
    assert [(d.path, d.ours, d.rails) for d in found] == [("$[id=2].b", 20.0, 21.0), ("$[id=3]", MISSING, rails[2])]


def test_other_arrays_compare_by_position_and_report_the_first_missing_index() -> None:
    assert [d.path for d in differences([1, 2], [1, 3, 4])] == ["$[1]", "$[2]"]
    assert [(d.path, d.rails) for d in differences([1, 2, 5], [1, 2])] == [("$[2]", MISSING)]


def test_the_status_line_comes_first() -> None:
    outcome = compare("trustline", 404, j({"errors": ["Trustline not found"]}), 200, j({"id": 1}))
    assert outcome is not None and outcome.field == "status"


def test_bodies_that_are_not_json_compare_as_bytes() -> None:
    outcome = compare("trustline", 500, b"oops", 500, b"<html>")
    assert outcome is not None and outcome.field == "$"
    assert compare("trustline", 204, b"", 204, b"") is None


def test_credit_loop_differences_are_expected() -> None:
    ours, rails = {"credloops": []}, {"credloops": [{"operation_id": 9}]}
    outcome = compare("admin-credit-loops", 200, j(ours), 200, j(rails))
    assert outcome is not None and outcome.kind == "expected" and "by design" in outcome.reason
    assert compare("admin-credit-loop", 404, j({"error": "Operation not found"}), 200, j({})).kind == "expected"  # type: ignore[union-attr]


def test_an_unexpected_difference_beside_an_expected_one_is_a_mismatch_named_by_the_unexpected_one() -> None:
    ours = {"rows": [{"transaction": {"id": 7, "amount": 5.0}}]}
    rails = {"rows": [{"transaction": {"id": 1234, "amount": 6.0}}]}
    outcome = compare("foaf-trustline-events", 200, j(ours), 200, j(rails))
    assert outcome is not None and (outcome.kind, outcome.field) == ("mismatch", "$.rows[0].transaction.amount")
    assert outcome.differences[0].expected is not None  # the id: ledger block numbers differ by design
    only_ids = compare("foaf-trustline-events", 200, j({"rows": [{"transaction": {"id": 7}}]}), 200,
                       j({"rows": [{"transaction": {"id": 8}}]}))  # fmt: skip
    assert only_ids is not None and only_ids.kind == "expected"


def test_secret_looking_query_values_are_redacted() -> None:
    assert redacted("/v1/trustlines?page=2&token=abc&Password=x") == (
        "/v1/trustlines?page=2&token=%5Bredacted%5D&Password=%5Bredacted%5D"
    )
    assert redacted("/v1/trustlines") == "/v1/trustlines"
