"""The relay's boundary, enforced: no balance or payment amount can appear in anything it serves.

Walks every HTTP route the relay mounts (the test fails when a route is added and not walked
here), every WebSocket frame a session receives, and every field name of every event kind and
frame in the published JSON Schemas. The import contract (``make lint``) keeps the ledger out of
the relay's code; this keeps its data out of the relay's answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from relay.protocol import BODY_TYPES, Kind
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    announce,
    capacity_hint,
    key,
    lid,
    limit_update,
    listing,
    profile,
    withdrawal,
)
from tests.relay.clients import Session, ack, deposit, fetch, now, publish_profiles, run, seal
from tests.relay.test_http import FORBIDDEN_KEYS, V1, post

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "relay"


def forbidden(name: str) -> bool:
    lowered = name.lower()
    return lowered in FORBIDDEN_KEYS or "balance" in lowered or "payment" in lowered


def names_in(value: Any) -> set[str]:
    """Every object member name in a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*(names_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(names_in(v) for v in value))
    return set()


def relay_routes() -> set[str]:
    """The names of every route mounted under the relay's namespace."""
    found: set[str] = set()

    def walk(patterns: list[Any], namespace: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern) and namespace == "relay" and p.name:
                found.add(p.name)

    walk(get_resolver().url_patterns, None)
    return found


def test_no_route_of_the_relay_answers_with_a_balance_or_a_payment(client: Client) -> None:
    t = now()
    stored = []
    for envelope in (
        announce(ALICE, BOB, now=t),
        limit_update(ALICE, BOB, 1234, version=2, now=t),
        capacity_hint(BOB, ALICE, 3, version=3, now=t),
        announce(BOB, CAROL, now=t, public=False),
        listing(BOB, lid(1), "Duck eggs", now=t, price_cents=600, quantity="12"),
        withdrawal(BOB, CAROL, version=2, now=t),
    ):
        response = post(client, envelope)
        assert response.status_code == 201
        stored.append(response.json()["id"])
    publish_profiles(ALICE, BOB)
    message = deposit(client, ALICE, key(BOB), seal(ALICE, BOB, b"a proposal, sealed"))
    assert message.status_code == 201, message.json()
    event_id = stored[1]  # the limit update: public
    calls: dict[str, Callable[[], Any]] = {
        "events": lambda: post(client, profile(CAROL, "Carol", now=t)),
        "event": lambda: client.get(f"{V1}/events/{event_id}"),
        "changes": lambda: client.get(f"{V1}/changes", {"since": 0}),
        "graph": lambda: client.get(f"{V1}/graph"),
        "neighbourhood": lambda: client.get(f"{V1}/neighbourhood/{key(ALICE)}", {"depth": 3}),
        "profile": lambda: client.get(f"{V1}/profiles/{key(BOB)}"),
        "listings": lambda: client.get(f"{V1}/listings", {"from": key(ALICE)}),
        "mailbox-deposit": lambda: deposit(client, CAROL, key(BOB), seal(CAROL, BOB, b"another")),
        "mailbox": lambda: fetch(client, BOB),
        "mailbox-ack": lambda: ack(client, BOB, [message.json()["id"]]),
        "routes": lambda: client.get(f"{V1}/routes", {"from": key(ALICE), "to": key(BOB), "currency": "CAD"}),
        "maxflow": lambda: client.get(f"{V1}/maxflow", {"from": key(ALICE), "to": key(BOB), "currency": "CAD"}),
    }
    assert set(calls) == relay_routes(), "a relay route is not walked here: add it"
    seen: set[str] = set()
    for name, call in calls.items():
        response = call()
        assert response.status_code < 300, (name, response.status_code, response.content[:300])
        seen |= names_in(response.json())
    # The walk reaches every body, capacity hints included (in the log and on the graph's edges).
    assert {"limit_a_to_b", "price_cents", "ciphertext", "events", "hints", "exponent", "direction"} <= seen
    assert not {n for n in seen if forbidden(n)}


def test_no_websocket_frame_carries_a_balance_or_a_payment() -> None:
    publish_profiles(ALICE, BOB)

    async def session() -> set[str]:
        ws = Session()
        names = names_in(await ws.open())
        names |= names_in(await ws.auth(BOB))
        for sub, stream in (("g", "graph"), ("l", "listings"), ("m", "mailbox")):
            for frame in await ws.subscribe(sub, stream, since=0):
                names |= names_in(frame)
        await ws.close()
        return names

    from django.test import Client as HttpClient

    client = HttpClient()
    t = now()
    assert post(client, announce(ALICE, BOB, now=t)).status_code == 201
    assert post(client, capacity_hint(ALICE, BOB, 5, version=2, now=t)).status_code == 201
    assert post(client, listing(BOB, lid(2), "Apples", now=t, price_cents=300)).status_code == 201
    assert deposit(client, ALICE, key(BOB), seal(ALICE, BOB, b"sealed")).status_code == 201
    seen = run(session())
    assert {"event", "message", "ciphertext", "limit_a_to_b", "exponent"} <= seen  # events, hints, messages walked
    assert not {n for n in seen if forbidden(n)}


@pytest.mark.parametrize("schema", sorted(p.name for p in SCHEMAS.glob("*.schema.json")))
def test_no_published_schema_names_a_balance_or_a_payment(schema: str) -> None:
    document = json.loads((SCHEMAS / schema).read_text())

    def properties(value: Any) -> set[str]:
        if isinstance(value, dict):
            own = set(value.get("properties", {})) | set(value.get("required", []))
            return own.union(*(properties(v) for v in value.values()))
        if isinstance(value, list):
            return set().union(*(properties(v) for v in value))
        return set()

    names = properties(document)
    assert names, f"{schema} declares no properties"
    assert not {n for n in names if forbidden(n)}


def test_no_event_kind_has_a_balance_or_a_payment_field() -> None:
    assert Kind.CAPACITY_HINT in BODY_TYPES  # every kind is walked, the capacity hint's bucket too
    for kind, body_type in BODY_TYPES.items():
        fields = set(getattr(body_type, "FIELDS", ())) or {f for f in getattr(body_type, "__dataclass_fields__", {})}
        assert fields, f"{kind}: no fields found to check"
        assert not {f for f in fields if forbidden(f)}, kind
