"""The machine-readable description (docs/relay/*.schema.json) agrees with what the relay accepts and serves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.test import Client
from referencing import Registry, Resource

from relay.protocol import canonical_bytes
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
    resigned,
    withdrawal,
)
from tests.relay.test_protocol import every_kind

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "relay"
EVENT_SCHEMA = json.loads((SCHEMAS / "event.schema.json").read_text())
API_SCHEMA = json.loads((SCHEMAS / "api.schema.json").read_text())
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in (EVENT_SCHEMA, API_SCHEMA)])


def event_errors(envelope: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(EVENT_SCHEMA, registry=REGISTRY)
    return [e.message for e in validator.iter_errors(envelope)]


def check_response(definition: str, body: Any) -> None:
    schema = {"$ref": f"urn:foaf:relay:1:api#/$defs/{definition}"}
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(body)


@pytest.mark.core
def test_the_schemas_are_valid_json_schemas() -> None:
    jsonschema.Draft202012Validator.check_schema(EVENT_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(API_SCHEMA)


@pytest.mark.core
@pytest.mark.parametrize("envelope", every_kind(), ids=lambda e: e["kind"])
def test_every_kind_of_real_event_validates(envelope: dict[str, Any]) -> None:
    assert event_errors(envelope) == []


@pytest.mark.core
@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"kind": "payment"},
        {"author": "AB" * 32},
        {"created": True},
        {"expires": 5},  # only a listing expires
        {"balance": 1},
        {"cosig": "00" * 64},  # only an announcement is co-signed
    ],
    ids=str,
)
def test_a_broken_envelope_fails_the_schema(change: dict[str, Any]) -> None:
    assert event_errors(profile(ALICE, "Alice") | change)


@pytest.mark.core
@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda: announce(ALICE, BOB), {"amount": 5}),
        (lambda: announce(ALICE, BOB), {"limit_a_to_b": -1}),
        (lambda: limit_update(ALICE, BOB, 1, version=2), {"version": 0}),
        (lambda: withdrawal(ALICE, BOB, version=2), {"currency": "cad"}),
        (lambda: profile(ALICE, "A"), {"relays": ["http://plain.example"]}),
        (lambda: listing(ALICE, lid(1), "Eggs"), {"price_cents": 100}),  # a price needs its currency
        (lambda: listing(ALICE, lid(1), "Eggs"), {"quantity": 2}),
        (lambda: listing(ALICE, lid(1), "Eggs"), {"type": "gift"}),
    ],
)
def test_a_broken_body_fails_the_schema(make: Any, change: dict[str, Any]) -> None:
    envelope = make()
    envelope["body"] |= change
    assert event_errors(envelope)


@pytest.mark.core
def test_an_announcement_without_its_cosignature_fails_the_schema() -> None:
    envelope = {k: v for k, v in announce(ALICE, BOB).items() if k != "cosig"}
    assert event_errors(envelope)
    assert event_errors(resigned(profile(ALICE, "A"), ALICE, kind="listing"))  # a profile body is no listing


@pytest.mark.django_db
def test_every_relay_response_validates_against_its_definition(client: Client) -> None:
    t = int(time.time())
    post = lambda e: client.post("/relay/v1/events", canonical_bytes(e), content_type="application/json")  # noqa: E731
    stored = post(announce(ALICE, BOB, now=t, routable=False))
    check_response("accepted", stored.json())
    check_response("accepted", post(announce(ALICE, BOB, now=t, routable=False)).json())
    check_response("accepted", post(announce(BOB, CAROL, now=t, public=False)).json())
    post(profile(ALICE, "Alice", now=t))
    post(listing(ALICE, lid(1), "Eggs", now=t, price_cents=500, quantity="12.5"))
    post(listing(BOB, lid(2), "Honey wanted", now=t, listing_type="want"))

    check_response("graph", client.get("/relay/v1/graph").json())
    check_response("neighbourhood", client.get(f"/relay/v1/neighbourhood/{key(ALICE)}", {"depth": 3}).json())
    changes = client.get("/relay/v1/changes").json()
    check_response("changes", changes)
    assert len(changes["events"]) == 4
    check_response("logged_event", client.get(f"/relay/v1/events/{stored.json()['id']}").json())
    check_response("profile", client.get(f"/relay/v1/profiles/{key(ALICE)}").json())
    found = client.get("/relay/v1/listings", {"from": key(BOB), "limit": 1}).json()
    check_response("listings", found)
    assert found["listings"][0]["distance"] == 1 and found["next_offset"] == 1
    check_response("listings", client.get("/relay/v1/listings").json())
    check_response("error", client.get("/relay/v1/changes", {"since": "x"}).json())
    check_response("error", post(profile(ALICE, "Alice", now=t) | {"sig": "00" * 64}).json())
