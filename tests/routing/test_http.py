"""GET /relay/v1/routes and /relay/v1/maxflow over a graph published as signed events."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import networkx as nx
import pytest
from django.test import Client

from foaf.bilateral.crypto import SeedSigner
from relay import routes
from relay.protocol import canonical_bytes, relationship_id
from relay.services import event_accept
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    MALLORY,
    T0,
    announce,
    key,
    lid,
    limit_update,
    listing,
    ordered,
    profile,
    withdrawal,
)
from tests.relay.test_http import FORBIDDEN_KEYS
from tests.routing import reference as ref

pytestmark = pytest.mark.django_db

V1 = "/relay/v1"
A, B, C, D, E, M = (key(s) for s in (ALICE, BOB, CAROL, DAVE, ERIN, MALLORY))


@pytest.fixture(autouse=True)
def fresh_cache_and_rate_limits(settings: Any) -> Iterator[None]:
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex
    routes.forget()
    yield
    routes.forget()


def accept(envelope: dict[str, Any]) -> int | None:
    return event_accept(canonical_bytes(envelope), now=T0).cursor


def relationship(x: SeedSigner, y: SeedSigner, x_may_owe_y: int, y_may_owe_x: int, **body: Any) -> dict[str, Any]:
    """An announcement by x, co-signed by y, with the limits named by direction."""
    a, _ = ordered(x, y)
    forward = a is x
    return announce(
        x,
        y,
        limit_a_to_b=x_may_owe_y if forward else y_may_owe_x,
        limit_b_to_a=y_may_owe_x if forward else x_may_owe_y,
        **body,
    )


def community() -> dict[tuple[str, str], int]:
    """A small graph with every kind of edge the router must leave out; returns the routable directions."""
    accept(relationship(ALICE, BOB, 500, 100))
    accept(relationship(BOB, CAROL, 300, 0))
    accept(relationship(CAROL, ALICE, 50, 0))
    accept(relationship(ALICE, DAVE, 1000, 1000))
    accept(relationship(DAVE, CAROL, 5000, 5000, routable=False))  # served, but not for routing
    accept(relationship(ALICE, ERIN, 2000, 2000))
    accept(relationship(ERIN, CAROL, 2000, 2000, public=False))  # never served at all
    accept(relationship(MALLORY, CAROL, 9000, 9000))
    accept(withdrawal(MALLORY, CAROL, version=2))  # taken down
    accept(relationship(ALICE, CAROL, 7000, 7000, currency="USD"))  # another currency
    return {(A, B): 500, (B, A): 100, (B, C): 300, (C, A): 50, (A, D): 1000, (D, A): 1000, (A, E): 2000, (E, A): 2000}


def get(client: Client, path: str, **query: Any) -> Any:
    return client.get(f"{V1}/{path}", {"currency": "CAD", **query})


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error", "request_id"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def test_a_route_names_each_hop_with_its_relationship_and_the_limit_of_that_direction(client: Client) -> None:
    community()
    response = get(client, "routes", **{"from": A, "to": C})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in ("from", "to", "currency", "kind", "max_hops", "min_capacity")} == {
        "from": A,
        "to": C,
        "currency": "CAD",
        "kind": "shortest",
        "max_hops": 5,
        "min_capacity": 1,
    }
    assert body["cursor"] == routes.log_head().cursor
    assert body["routes"] == [
        {
            "hops": 2,
            "capacity": 300,
            "members": [A, B, C],
            "steps": [
                {"from": A, "to": B, "relationship": relationship_id(*sorted((A, B)), "CAD"), "capacity": 500},
                {"from": B, "to": C, "relationship": relationship_id(*sorted((B, C)), "CAD"), "capacity": 300},
            ],
        }
    ]
    back = get(client, "routes", **{"from": C, "to": A, "kind": "widest", "k": 5}).json()["routes"]
    assert [(r["members"], r["capacity"]) for r in back] == [([C, A], 50)]  # C may owe B nothing
    usd = client.get(f"{V1}/routes", {"from": A, "to": C, "currency": "USD"}).json()["routes"]
    assert [(r["members"], r["capacity"]) for r in usd] == [([A, C], 7000)]


def test_edges_not_routable_not_public_or_withdrawn_are_never_used(client: Client) -> None:
    routable = community()
    for kind in ("shortest", "widest"):
        found = get(client, "routes", **{"from": A, "to": C, "kind": kind, "k": 10, "max_hops": 10}).json()
        for route in found["routes"]:
            for step in route["steps"]:
                assert (step["from"], step["to"]) in routable
                assert routable[step["from"], step["to"]] == step["capacity"]
        assert [r["members"] for r in found["routes"]] == [[A, B, C]]
    for member in (M, key(SeedSigner(bytes([0x99]) * 32))):  # withdrawn, never seen
        error = error_of(get(client, "routes", **{"from": A, "to": member}))
        assert error == {"code": "route_unknown_member", "message": error["message"], "details": {"field": "to"}}


def test_an_amount_leaves_out_hops_that_cannot_carry_it(client: Client) -> None:
    community()
    assert get(client, "routes", **{"from": A, "to": C, "amount": 300}).json()["routes"][0]["capacity"] == 300
    body = get(client, "routes", **{"from": A, "to": C, "amount": 301}).json()
    assert body["routes"] == [] and body["min_capacity"] == 301


def test_from_a_member_to_itself_the_routes_are_credit_loops(client: Client) -> None:
    community()
    loops = get(client, "routes", **{"from": A, "to": A, "k": 5}).json()["routes"]
    assert [(r["members"], [s["capacity"] for s in r["steps"]]) for r in loops] == [([A, B, C, A], [500, 300, 50])]
    assert get(client, "routes", **{"from": A, "to": A, "max_hops": 2}).json()["routes"] == []


def test_maxflow_bounds_a_split_payment_with_and_without_the_hop_limit(client: Client) -> None:
    community()
    assert accept(relationship(DAVE, ERIN, 40, 0)) is not None  # A -> D -> E -> ... no way on to C
    assert accept(relationship(ERIN, BOB, 70, 0)) is not None  # A -> E -> B: B -> C is the bottleneck
    body = get(client, "maxflow", **{"from": A, "to": C}).json()
    assert body == {"from": A, "to": C, "currency": "CAD", "max_hops": 5, "max_flow": 300, "cursor": body["cursor"]}
    assert get(client, "maxflow", **{"from": A, "to": B, "max_hops": 1}).json()["max_flow"] == 500
    assert get(client, "maxflow", **{"from": A, "to": B}).json()["max_flow"] == 570
    unlimited = get(client, "maxflow", **{"from": A, "to": B, "max_hops": 0}).json()
    assert (unlimited["max_hops"], unlimited["max_flow"]) == (None, 570)
    error = error_of(get(client, "maxflow", **{"from": A, "to": A}))
    assert (error["code"], error["details"]) == ("route_same_member", {"field": "to"})


def test_the_answer_follows_the_public_log_and_is_rebuilt_only_when_an_edge_changes(client: Client) -> None:
    community()
    first = get(client, "routes", **{"from": A, "to": C}).json()
    held = routes.route_index("CAD")
    # A listing moves the log but changes no edge: the same index, re-tagged.
    assert accept(listing(BOB, lid(1), "Eggs")) is not None
    second = get(client, "routes", **{"from": A, "to": C}).json()
    assert second["cursor"] == first["cursor"] + 1 and second["routes"] == first["routes"]
    assert routes.route_index("CAD").index is held.index
    # Carol now lets Bob owe her 120 only: the index is rebuilt and the route narrower.
    assert accept(limit_update(CAROL, BOB, 120, version=2)) is not None
    third = get(client, "routes", **{"from": A, "to": C}).json()
    assert third["routes"][0]["capacity"] == 120 and third["cursor"] == second["cursor"] + 1
    assert routes.route_index("CAD").index is not held.index
    # A non-public event moves nothing and changes nothing served.
    accept(relationship(BOB, DAVE, 800, 800, public=False))
    assert get(client, "routes", **{"from": A, "to": C}).json() == third
    # Bob takes the edge down: no route is left.
    accept(withdrawal(BOB, CAROL, version=3))
    assert get(client, "routes", **{"from": A, "to": C}).json()["routes"] == []


@pytest.mark.parametrize(
    ("path", "query", "fields"),
    [
        ("routes", {"from": "ab"}, {"from"}),
        ("routes", {"to": None}, {"to"}),
        ("routes", {"currency": "cad"}, {"currency"}),
        ("routes", {"currency": None}, {"currency"}),
        ("routes", {"amount": "-1"}, {"amount"}),
        ("routes", {"amount": str(2**53)}, {"amount"}),
        ("routes", {"max_hops": "0", "k": "11"}, {"max_hops", "k"}),
        ("routes", {"max_hops": "11", "k": "0"}, {"max_hops", "k"}),
        ("routes", {"kind": "cheapest"}, {"kind"}),
        ("maxflow", {"max_hops": "-1"}, {"max_hops"}),
        ("maxflow", {"from": "AB" * 32}, {"from"}),
    ],
)
def test_bad_query_parameters_are_an_invalid_request_naming_them(
    client: Client, path: str, query: dict[str, str | None], fields: set[str]
) -> None:
    full = {"from": A, "to": C, "currency": "CAD"} | query
    response = client.get(f"{V1}/{path}", {k: v for k, v in full.items() if v is not None})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request" and set(error["details"]["fields"]) == fields


def test_no_answer_names_a_balance_or_a_payment(client: Client) -> None:
    community()
    seen: set[str] = set()

    def names(value: Any) -> None:
        if isinstance(value, dict):
            seen.update(value)
            for item in value.values():
                names(item)
        elif isinstance(value, list):
            for item in value:
                names(item)

    for response in (
        get(client, "routes", **{"from": A, "to": C, "k": 3}),
        get(client, "routes", **{"from": A, "to": A}),
        get(client, "maxflow", **{"from": A, "to": C}),
        get(client, "routes", **{"from": A, "to": M}),
    ):
        names(response.json())
    assert {"steps", "capacity", "max_flow", "error"} <= seen
    assert not {n for n in seen if n.lower() in FORBIDDEN_KEYS or "balance" in n.lower() or "payment" in n.lower()}


def test_the_route_endpoints_are_in_the_openapi_schema(client: Client) -> None:
    schema = json.loads(client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).content)
    assert {"/relay/v1/routes", "/relay/v1/maxflow"} <= set(schema["paths"])


def test_routes_over_a_random_published_graph_match_networkx_on_its_routing_view(client: Client) -> None:
    rng = random.Random(6)
    signers = [SeedSigner(bytes([i]) * 32) for i in range(1, 19)]
    routable: list[tuple[str, str, int, int]] = []
    for x, y in rng.sample([(x, y) for i, x in enumerate(signers) for y in signers[i + 1 :]], 45):
        a, b = ordered(x, y)
        limits = {"limit_a_to_b": rng.choice([0, 10, 25, 40, 100]), "limit_b_to_a": rng.choice([0, 10, 25, 40, 100])}
        fate = rng.random()
        if fate < 0.15:
            accept(announce(a, b, routable=False, **limits))
        elif fate < 0.3:
            accept(announce(a, b, public=False, **limits))
        elif fate < 0.4:
            accept(announce(a, b, **limits))
            accept(withdrawal(b, a, version=2))
        else:
            accept(announce(a, b, **limits))
            routable.append((key(a), key(b), limits["limit_a_to_b"], limits["limit_b_to_a"]))
    accept(profile(signers[0], "someone"))  # the log moves on without an edge
    graph = ref.digraph(routable)
    members = sorted(graph)
    checked = 0
    for _ in range(25):
        s, t = rng.choice(members), rng.choice(members)
        for kind in ("shortest", "widest"):
            response = get(client, "routes", **{"from": s, "to": t, "kind": kind, "k": 4})
            assert response.status_code == 200, response.json()
            found = response.json()["routes"]
            expected = sorted(ref.order(graph, p, kind) for p in ref.simple_routes(graph, s, t, 5))[:4]
            assert [ref.order(graph, r["members"], kind) for r in found] == expected
            checked += len(found)
        if s != t:
            flow = get(client, "maxflow", **{"from": s, "to": t, "max_hops": 0}).json()["max_flow"]
            assert flow == int(nx.maximum_flow_value(graph, s, t))
    assert checked > 30
