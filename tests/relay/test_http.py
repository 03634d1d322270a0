"""The relay's HTTP API under /relay/v1/: request and response shapes, typed errors, what is never served."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from foaf.errors import ErrorCode
from relay.models import Event
from relay.protocol import MAX_EVENT_BYTES, RelayErrorCode, canonical_bytes
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    announce,
    key,
    lid,
    limit_update,
    listing,
    profile,
    withdrawal,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
V1 = "/relay/v1"
# Names a balance or a payment could hide under: the relay never holds either, so never serves one.
FORBIDDEN_KEYS = {"balance", "amount", "amounts", "payment", "payments", "paid", "exposure", "holds", "owed", "debt"}


def now() -> int:
    return int(time.time())


def post(client: Client, envelope: dict[str, Any] | bytes, **extra: Any) -> Any:
    data = envelope if isinstance(envelope, bytes) else canonical_bytes(envelope)
    return client.post(f"{V1}/events", data=data, content_type=extra.pop("content_type", "application/json"), **extra)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response["X-Request-ID"]
    assert set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def community(client: Client) -> dict[str, Any]:
    """Alice - Bob (public), Bob - Carol (not public), profiles and listings: one event of each kind."""
    t = now()
    accepted = {
        "announcement": post(client, announce(ALICE, BOB, now=t)),
        "limit": post(client, limit_update(ALICE, BOB, 1234, version=2, now=t)),
        "private": post(client, announce(BOB, CAROL, now=t, public=False)),
        "profile": post(client, profile(BOB, "Bob", now=t)),
        "listing": post(client, listing(BOB, lid(1), "Duck eggs", now=t, price_cents=600, quantity="12")),
        "carol_listing": post(client, listing(CAROL, lid(1), "Carol's jam", now=t)),
        "withdrawal": post(client, withdrawal(BOB, CAROL, version=2, now=t)),
    }
    for name, response in accepted.items():
        assert response.status_code == 201, (name, response.json())
    return accepted


# --- posting events --------------------------------------------------------------------------
def test_a_posted_event_is_stored_and_a_second_post_is_a_duplicate(client: Client) -> None:
    envelope = profile(ALICE, "Alice", now=now())
    first = post(client, envelope)
    assert first.status_code == 201
    body = first.json()
    assert body["outcome"] == "stored" and body["kind"] == "profile" and body["cursor"] == 1
    second = post(client, envelope)
    assert second.status_code == 200
    assert second.json() == {**body, "outcome": "duplicate"}
    assert Event.objects.count() == 1


def test_an_event_about_a_private_relationship_is_stored_without_a_cursor(client: Client) -> None:
    response = post(client, announce(ALICE, BOB, now=now(), public=False))
    assert response.status_code == 201 and response.json()["cursor"] is None


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda: b'{"v": 1,', 400, ErrorCode.EVENT_MALFORMED),
        (lambda: b'{"v": 1, "v": 1}', 400, ErrorCode.EVENT_MALFORMED),
        (lambda: profile(ALICE, "A", now=now()) | {"kind": "payment"}, 400, ErrorCode.EVENT_UNKNOWN_KIND),
        (
            lambda: {k: v for k, v in profile(ALICE, "A", now=now()).items() if k != "sig"},
            400,
            ErrorCode.EVENT_MISSING_FIELD,
        ),
        (lambda: profile(ALICE, "A", now=now()) | {"author": key(BOB)}, 400, ErrorCode.EVENT_BAD_SIGNATURE),
        (lambda: profile(ALICE, "A", now=now() + 3600), 400, ErrorCode.EVENT_FROM_FUTURE),
        (lambda: listing(ALICE, lid(1), "Eggs", now=now() - 7200, ttl=3600), 400, ErrorCode.EVENT_EXPIRED),
        (lambda: limit_update(ALICE, BOB, 1, version=1, now=now()), 409, ErrorCode.EVENT_UNKNOWN_RELATIONSHIP),
        (lambda: b"{" + b" " * MAX_EVENT_BYTES + b"}", 413, ErrorCode.EVENT_TOO_LARGE),
    ],
)
def test_a_bad_event_gets_its_typed_code_in_the_one_error_format_and_nothing_is_stored(
    client: Client, make: Any, status: int, code: ErrorCode
) -> None:
    response = post(client, make())
    assert response.status_code == status
    assert error_of(response)["code"] == code.value
    assert Event.objects.count() == 0


def test_a_replayed_older_version_is_a_conflict_naming_the_current_version(client: Client) -> None:
    t = now()
    post(client, profile(ALICE, "Alice", version=3, now=t))
    response = post(client, profile(ALICE, "Old", version=2, now=t))
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["details"]) == ("event_stale_version", {"current_version": 3})


def test_the_error_details_name_the_field(client: Client) -> None:
    envelope = profile(ALICE, "A", now=now())
    envelope["body"]["extra"] = 1
    error = error_of(post(client, envelope))
    assert (error["code"], error["details"]) == ("event_unknown_field", {"field": "body.extra"})


def test_an_event_declared_too_large_is_refused_before_its_body_is_read(client: Client) -> None:
    response = post(client, b"{}", CONTENT_LENGTH=str(MAX_EVENT_BYTES + 1))
    assert response.status_code == 413
    assert error_of(response)["code"] == "event_too_large"


def test_an_event_must_be_sent_as_json(client: Client) -> None:
    response = post(client, profile(ALICE, "A", now=now()), content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_reading_endpoints_refuse_writes(client: Client) -> None:
    response = client.post(f"{V1}/graph")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


# --- reading ---------------------------------------------------------------------------------
def test_the_graph_neighbourhood_changes_profile_and_listings_answer_in_their_documented_shapes(
    client: Client,
) -> None:
    accepted = community(client)
    graph = client.get(f"{V1}/graph").json()
    [edge] = graph["edges"]
    assert graph["next"] is None
    assert {edge["a"], edge["b"]} == {key(ALICE), key(BOB)} and 1234 in (edge["limit_a_to_b"], edge["limit_b_to_a"])

    hood = client.get(f"{V1}/neighbourhood/{key(BOB)}", {"depth": 2}).json()
    assert hood["members"] == [{"key": key(BOB), "distance": 0}, {"key": key(ALICE), "distance": 1}]
    assert [e["relationship"] for e in hood["edges"]] == [edge["relationship"]]

    changes = client.get(f"{V1}/changes", {"since": 0, "limit": 2}).json()
    assert [c["cursor"] for c in changes["events"]] == [1, 2] and changes["more"] and changes["next"] == 2
    rest = client.get(f"{V1}/changes", {"since": changes["next"]}).json()
    assert not rest["more"]
    served_ids = {c["event"]["sig"] for c in changes["events"] + rest["events"]}
    assert len(served_ids) == 5  # the announcement, the limit, the profile, two listings

    one = client.get(f"{V1}/events/{accepted['profile'].json()['id']}").json()
    assert one["event"]["body"]["name"] == "Bob" and one["cursor"] == accepted["profile"].json()["cursor"]

    bob = client.get(f"{V1}/profiles/{key(BOB)}").json()
    assert bob["name"] == "Bob" and bob["event"]["author"] == key(BOB)

    found = client.get(f"{V1}/listings", {"q": "eggs", "from": key(ALICE), "depth": 2}).json()
    assert [(x["title"], x["distance"], x["price_cents"]) for x in found["listings"]] == [("Duck eggs", 1, 600)]
    assert found["next_offset"] is None


def test_nothing_about_a_non_public_relationship_is_served_by_any_endpoint(client: Client) -> None:
    accepted = community(client)
    for name in ("private", "withdrawal"):
        event_id = accepted[name].json()["id"]
        assert accepted[name].json()["cursor"] is None
        response = client.get(f"{V1}/events/{event_id}")
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    bob_carol = {key(BOB), key(CAROL)}
    everything = [
        client.get(f"{V1}/graph").json(),
        client.get(f"{V1}/changes").json(),
        client.get(f"{V1}/neighbourhood/{key(BOB)}", {"depth": 3}).json(),
        client.get(f"{V1}/neighbourhood/{key(CAROL)}", {"depth": 3}).json(),
        client.get(f"{V1}/listings", {"from": key(BOB), "depth": 3}).json(),
    ]
    text = json.dumps(everything)
    assert accepted["private"].json()["id"] not in text and accepted["withdrawal"].json()["id"] not in text
    for edge in everything[0]["edges"] + everything[2]["edges"] + everything[3]["edges"]:
        assert {edge["a"], edge["b"]} != bob_carol
    for change in everything[1]["events"]:
        body = change["event"]["body"]
        assert {body.get("a"), body.get("b")} != bob_carol
    assert everything[3]["members"] == [{"key": key(CAROL), "distance": 0}]
    assert everything[4]["listings"] == []


def test_no_relay_response_carries_a_balance_or_a_payment(client: Client) -> None:
    accepted = community(client)
    responses = [
        client.get(f"{V1}/graph"),
        client.get(f"{V1}/graph", {"routable": "true", "currency": "CAD"}),
        client.get(f"{V1}/changes"),
        client.get(f"{V1}/neighbourhood/{key(ALICE)}", {"depth": 3}),
        client.get(f"{V1}/profiles/{key(BOB)}"),
        client.get(f"{V1}/listings"),
        client.get(f"{V1}/listings", {"from": key(ALICE)}),
        *(client.get(f"{V1}/events/{r.json()['id']}") for r in accepted.values()),
        post(client, announce(ALICE, BOB, now=now())),
        post(client, profile(ALICE, "A", now=now()) | {"sig": "00" * 64}),
    ]
    seen: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            seen.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for response in responses:
        walk(response.json())
    assert {"limit_a_to_b", "price_cents", "event"} <= seen  # the walk does reach into every body
    assert not {k for k in seen if k.lower() in FORBIDDEN_KEYS or "balance" in k.lower() or "payment" in k.lower()}


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("changes", {"since": "-1"}),
        ("changes", {"limit": "0"}),
        ("graph", {"currency": "cad"}),
        ("graph", {"after": "xyz"}),
        ("listings", {"depth": "4"}),
        ("listings", {"from": "ab"}),
        ("listings", {"type": "gift"}),
        ("neighbourhood/" + "ab" * 32, {"depth": "0"}),
    ],
)
def test_bad_query_parameters_are_an_invalid_request_naming_the_parameter(
    client: Client, path: str, query: dict[str, str]
) -> None:
    response = client.get(f"{V1}/{path}", query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request" and set(error["details"]["fields"]) == set(query)


def test_unknown_profiles_and_events_are_not_found(client: Client) -> None:
    assert error_of(client.get(f"{V1}/profiles/{'ab' * 32}"))["code"] == "not_found"
    assert error_of(client.get(f"{V1}/events/{'ab' * 32}"))["code"] == "not_found"
    assert client.get(f"{V1}/profiles/ABC").status_code == 404


def test_the_relay_endpoints_are_in_the_openapi_schema(client: Client) -> None:
    schema = json.loads(client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).content)
    assert {"/relay/v1/events", "/relay/v1/graph", "/relay/v1/changes", "/relay/v1/listings"} <= set(schema["paths"])


# --- codes and boundaries ----------------------------------------------------------------------
def test_every_relay_error_code_is_an_api_error_code_and_is_documented() -> None:
    doc = (ROOT / "docs" / "relay.md").read_text()
    for code in RelayErrorCode:
        assert ErrorCode(code.value).value == code.value
        assert f"`{code.value}`" in doc, f"{code.value} is not in docs/relay.md"


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_relay_never_imports_the_ledger_or_the_migration() -> None:
    for path in (ROOT / "relay").rglob("*.py"):
        for name in imports_of(path):
            assert not name.startswith(("foaf.ledger", "migration.")), f"{path} imports {name}"
            if "protocol" in path.parts:
                assert not name.startswith(("django", "rest_framework", "relay.models")), f"{path} imports {name}"
            if name.startswith("foaf.bilateral"):  # its pure JCS and verifier, never a second copy
                assert name.startswith(("foaf.bilateral.jcs", "foaf.bilateral.crypto", "foaf.bilateral.errors")), name
