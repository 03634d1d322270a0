"""Capacity hints (docs/relay.md §4.7): accepted and refused, their registers and precedence, what
the graph serves of them, and how the relay's router uses them until they expire."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from relay import routes, services
from relay.models import CapacityHint, Edge, Event, LogHead
from relay.protocol import (
    MAX_HINT_LIFETIME,
    EventError,
    RelayErrorCode,
    canonical_bytes,
    parse_event,
    relationship_id,
)
from relay.services import Outcome, event_accept
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DAY,
    MALLORY,
    T0,
    announce,
    capacity_hint,
    key,
    limit_update,
    ordered,
    resigned,
    withdrawal,
)
from tests.relay.test_schema import check_response

pytestmark = pytest.mark.django_db

V1 = "/relay/v1"
A, B, C = key(ALICE), key(BOB), key(CAROL)


@pytest.fixture(autouse=True)
def fresh_cache_and_rate_limits(settings: Any) -> Iterator[None]:
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex
    routes.forget()
    yield
    routes.forget()


def accept(envelope: dict[str, Any], *, now: int = T0) -> services.Accepted:
    return event_accept(canonical_bytes(envelope), now=now)


def refused(envelope: dict[str, Any], *, now: int = T0) -> EventError:
    before = (Event.objects.count(), LogHead.objects.values_list("last_cursor", flat=True).first())
    hints = list(CapacityHint.objects.order_by("pk").values_list())
    with pytest.raises(EventError) as caught:
        accept(envelope, now=now)
    assert (Event.objects.count(), LogHead.objects.values_list("last_cursor", flat=True).first()) == before
    assert list(CapacityHint.objects.order_by("pk").values_list()) == hints
    return caught.value


def edge_of(x: Any, y: Any) -> Edge:
    a, b = ordered(x, y)
    return Edge.objects.get(relationship_id=relationship_id(key(a), key(b), "CAD"))


def direction(payer: Any, payee: Any) -> str:
    return "a_to_b" if ordered(payer, payee)[0] is payer else "b_to_a"


def held(payer: Any, payee: Any) -> tuple[int, int] | None:
    """(exponent, version) held in the register of ``payer -> payee``."""
    row = CapacityHint.objects.filter(edge=edge_of(payer, payee), direction=direction(payer, payee)).first()
    return None if row is None else (row.exponent, row.version)


# --- accepting -------------------------------------------------------------------------------------------------
def test_a_hint_on_a_routable_public_edge_is_stored_public_in_its_directions_register() -> None:
    accept(announce(ALICE, BOB))
    stored = accept(capacity_hint(ALICE, BOB, 3, version=2))
    assert stored.outcome is Outcome.STORED and stored.cursor == 2
    assert held(ALICE, BOB) == (3, 2) and held(BOB, ALICE) is None
    row = CapacityHint.objects.get()
    assert (row.expires, row.event_id) == (T0 + DAY, stored.event_id)
    assert accept(capacity_hint(ALICE, BOB, 3, version=2)).outcome is Outcome.DUPLICATE
    # The other direction is the other party's, with a register of its own.
    accept(capacity_hint(BOB, ALICE, 9, version=1))
    assert (held(ALICE, BOB), held(BOB, ALICE)) == ((3, 2), (9, 1))


@pytest.mark.parametrize(
    ("make", "code", "field"),
    [
        # Bob signs a hint for the direction Alice pays: only Alice speaks for what she can pay.
        (
            lambda: resigned(capacity_hint(ALICE, BOB, 3, version=2), BOB, author=B),
            RelayErrorCode.EVENT_WRONG_SIGNER,
            "author",
        ),
        (
            lambda: resigned(capacity_hint(ALICE, BOB, 3, version=2), MALLORY, author=key(MALLORY)),
            RelayErrorCode.EVENT_WRONG_SIGNER,
            "author",
        ),
        (
            lambda: resigned(
                capacity_hint(ALICE, BOB, 3, version=2),
                ALICE,
                body=capacity_hint(ALICE, BOB, 3, version=2)["body"] | {"exponent": 65},
            ),
            RelayErrorCode.EVENT_BAD_VALUE,
            "body.exponent",
        ),
        (
            lambda: capacity_hint(ALICE, BOB, 3, version=2, now=T0 - DAY - 1),
            RelayErrorCode.EVENT_EXPIRED,
            "expires",
        ),
        (
            lambda: resigned(capacity_hint(ALICE, BOB, 3, version=2), ALICE, expires=T0 + MAX_HINT_LIFETIME + 1),
            RelayErrorCode.EVENT_BAD_VALUE,
            "expires",
        ),
    ],
    ids=["other-party", "outsider", "exponent-65", "expired", "beyond-7-days"],
)
def test_a_hint_that_fails_decoding_is_refused_and_stores_nothing(make: Any, code: RelayErrorCode, field: str) -> None:
    accept(announce(ALICE, BOB))
    error = refused(make())
    assert (error.code, error.details.get("field")) == (code, field)


def test_a_hint_for_a_relationship_not_in_the_routing_view_is_refused_as_unknown() -> None:
    assert refused(capacity_hint(ALICE, BOB, 3, version=2)).code is RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP
    accept(announce(ALICE, BOB, routable=False))
    accept(announce(ALICE, CAROL, public=False))
    accept(announce(BOB, CAROL))
    accept(withdrawal(CAROL, BOB, version=2))
    for hint in (
        capacity_hint(ALICE, BOB, 3, version=2),  # served, but not for routing
        capacity_hint(ALICE, CAROL, 3, version=2),  # never served
        capacity_hint(BOB, CAROL, 3, version=3),  # withdrawn
    ):
        assert refused(hint).code is RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP
    # Once the edge is routable (a newer announcement), the same signed hint is accepted.
    accept(announce(ALICE, BOB, version=2))
    assert accept(capacity_hint(ALICE, BOB, 3, version=2)).outcome is Outcome.STORED


def test_over_http_refusals_carry_the_relays_codes(client: Client) -> None:
    def post(envelope: dict[str, Any]) -> Any:
        return client.post(f"{V1}/events", canonical_bytes(envelope), content_type="application/json")

    t = int(time.time())
    unknown = post(capacity_hint(ALICE, BOB, 3, version=2, now=t))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (409, "event_unknown_relationship")
    assert post(announce(ALICE, BOB, now=t)).status_code == 201
    stored = post(capacity_hint(ALICE, BOB, 3, version=5, now=t))
    assert stored.status_code == 201 and stored.json()["kind"] == "capacity_hint"
    stale = post(capacity_hint(ALICE, BOB, 7, version=4, now=t))
    assert stale.status_code == 409
    assert {k: stale.json()["error"][k] for k in ("code", "details")} == {
        "code": "event_stale_version",
        "details": {"current_version": 5},
    }
    wrong = post(resigned(capacity_hint(ALICE, BOB, 3, version=6, now=t), BOB, author=B))
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "event_wrong_signer")
    check_response("error", wrong.json())


# --- precedence ----------------------------------------------------------------------------------------------
def test_the_greatest_version_holds_each_directions_register_and_older_ones_are_stale() -> None:
    accept(announce(ALICE, BOB))
    accept(capacity_hint(ALICE, BOB, 3, version=5))
    error = refused(capacity_hint(ALICE, BOB, 10, version=4))
    assert (error.code, error.details) == (RelayErrorCode.EVENT_STALE_VERSION, {"current_version": 5})
    accept(capacity_hint(ALICE, BOB, 10, version=6))
    assert held(ALICE, BOB) == (10, 6)
    # Equal versions: the greater event id wins (here: two hints differing only in their expiry).
    one, two = (capacity_hint(ALICE, BOB, e, version=7, ttl=ttl) for e, ttl in ((1, DAY), (2, 2 * DAY)))
    low, high = sorted((one, two), key=event_id)
    accept(high)
    assert refused(low).code is RelayErrorCode.EVENT_STALE_VERSION
    assert held(ALICE, BOB) == (high["body"]["exponent"], 7)


def event_id(envelope: dict[str, Any]) -> str:
    return parse_event(envelope).id


def test_any_delivery_order_ends_with_the_same_registers() -> None:
    hints = [
        capacity_hint(ALICE, BOB, 3, version=2),
        capacity_hint(ALICE, BOB, 5, version=4),
        capacity_hint(BOB, ALICE, 1, version=3),
        capacity_hint(ALICE, BOB, 7, version=3),
    ]
    finals = set()
    for order in itertools.permutations(hints):
        with transaction.atomic():  # events are append-only: each order is rolled back after
            accept(announce(ALICE, BOB))
            for hint in order:
                try:
                    accept(hint)
                except EventError as e:
                    assert e.code is RelayErrorCode.EVENT_STALE_VERSION
            finals.add((held(ALICE, BOB), held(BOB, ALICE)))
            transaction.set_rollback(True)
    assert finals == {((5, 4), (1, 3))}


def test_a_withdrawal_takes_the_hints_down_and_only_newer_hints_come_back_with_the_edge() -> None:
    t = T0
    accept(announce(ALICE, BOB), now=t)
    accept(capacity_hint(ALICE, BOB, 3, version=2), now=t)
    assert services.hints_in_effect(now=t).count() == 1
    accept(withdrawal(BOB, ALICE, version=3), now=t)
    assert services.hints_in_effect(now=t).count() == 0
    accept(announce(ALICE, BOB, version=4), now=t)  # back, with its limits; the old hint stays down
    assert services.hints_in_effect(now=t).count() == 0
    # A hint older than the withdrawal can never count: stale, whatever its own register holds.
    error = refused(capacity_hint(BOB, ALICE, 3, version=3))
    assert (error.code, error.details) == (RelayErrorCode.EVENT_STALE_VERSION, {"current_version": 3})
    accept(capacity_hint(ALICE, BOB, 4, version=5), now=t)
    assert [(h.exponent, h.version) for h in services.hints_in_effect(now=t)] == [(4, 5)]


# --- what is served ---------------------------------------------------------------------------------------------
def test_the_graph_and_neighbourhood_serve_the_hints_in_effect_per_direction_and_nothing_more(client: Client) -> None:
    t = int(time.time())
    client.post(f"{V1}/events", canonical_bytes(announce(ALICE, BOB, now=t)), content_type="application/json")
    hint = capacity_hint(ALICE, BOB, 3, version=2, now=t)
    posted = client.post(f"{V1}/events", canonical_bytes(hint), content_type="application/json")
    assert posted.status_code == 201
    graph = client.get(f"{V1}/graph").json()
    check_response("graph", graph)
    [edge] = graph["edges"]
    assert edge["hints"] == {direction(ALICE, BOB): {"exponent": 3, "expires": t + DAY, "event": posted.json()["id"]}}
    assert posted.json()["id"] not in edge["events"]  # the limits' events stay what they were
    served = client.get(f"{V1}/events/{posted.json()['id']}").json()["event"]
    assert served == hint  # the signed statement behind it, to check
    hood = client.get(f"{V1}/neighbourhood/{A}").json()
    check_response("neighbourhood", hood)
    assert hood["edges"] == graph["edges"]
    # Expired (the relay's clock a day later): no longer served, but the event stays in the log.
    later = services.edge_hints(Edge.objects.all(), now=t + DAY)
    assert services.edge_json(Edge.objects.get(), later)["hints"] == {}


# --- routing with hints ------------------------------------------------------------------------------------------
def relationship_between(x: Any, y: Any, x_may_owe_y: int, y_may_owe_x: int, *, now: int) -> dict[str, Any]:
    a, _ = ordered(x, y)
    forward = a is x
    return announce(
        x,
        y,
        now=now,
        limit_a_to_b=x_may_owe_y if forward else y_may_owe_x,
        limit_b_to_a=y_may_owe_x if forward else x_may_owe_y,
    )


def route_capacities(client: Client, payer: str, payee: str, **query: Any) -> list[tuple[list[str], int]]:
    response = client.get(f"{V1}/routes", {"from": payer, "to": payee, "currency": "CAD", "k": 5, **query})
    assert response.status_code == 200, response.json()
    return [(r["members"], r["capacity"]) for r in response.json()["routes"]]


def test_a_direction_hinted_below_2_to_the_3_no_longer_carries_100(client: Client) -> None:
    t = int(time.time())
    accept(relationship_between(ALICE, BOB, 1000, 1000, now=t), now=t)
    accept(relationship_between(BOB, CAROL, 1000, 1000, now=t), now=t)
    accept(relationship_between(ALICE, DAVE, 500, 500, now=t), now=t)
    accept(relationship_between(DAVE, CAROL, 500, 500, now=t), now=t)
    D = key(DAVE)
    assert route_capacities(client, A, C, amount=100) == [([A, B, C], 1000), ([A, D, C], 500)]
    before = routes.route_index("CAD").index
    # Bob says what he can pay Carol now is below 2**3: Alice's 100 no longer goes through Bob.
    accept(capacity_hint(BOB, CAROL, 3, version=2, now=t), now=t)
    assert route_capacities(client, A, C, amount=100) == [([A, D, C], 500)]
    assert routes.route_index("CAD").index is not before  # the hint moved the log: rebuilt
    assert route_capacities(client, A, C, amount=7) == [([A, D, C], 500), ([A, B, C], 7)]
    found = client.get(f"{V1}/routes", {"from": A, "to": C, "currency": "CAD", "amount": 7}).json()["routes"]
    assert [s["capacity"] for s in found[1]["steps"]] == [1000, 7]  # the hinted hop, not its limit
    # A hint may also say more than the limit (Carol owes Bob): capped at what both limits allow.
    accept(capacity_hint(BOB, CAROL, 64, version=3, now=t), now=t)
    assert route_capacities(client, B, C) == [([B, C], 2000), ([B, A, D, C], 500)]
    flow = client.get(f"{V1}/maxflow", {"from": B, "to": C, "currency": "CAD"}).json()
    assert flow["max_flow"] == 2500


def test_the_router_ignores_expired_hints_and_rebuilds_when_the_earliest_expires() -> None:
    accept(relationship_between(ALICE, BOB, 1000, 1000, now=T0))
    accept(relationship_between(BOB, CAROL, 1000, 1000, now=T0))
    accept(capacity_hint(ALICE, BOB, 3, version=2, ttl=DAY))
    accept(capacity_hint(BOB, CAROL, 5, version=2, ttl=2 * DAY))
    hints, earliest = routes.routable_hints("CAD", now=T0)
    assert hints == {(A, B): 3, (B, C): 5} and earliest == T0 + DAY
    fresh = routes.route_index("CAD", now=T0)
    assert fresh.stale_at == T0 + DAY
    assert fresh.index.widest(A, C) is not None and fresh.index.widest(A, C).capacity == 7  # type: ignore[union-attr]
    assert routes.route_index("CAD", now=T0 + DAY - 1).index is fresh.index
    one_left = routes.route_index("CAD", now=T0 + DAY)  # Alice's hint expired: rebuilt without it
    assert one_left.index is not fresh.index and one_left.stale_at == T0 + 2 * DAY
    assert one_left.index.widest(A, C).capacity == 31  # type: ignore[union-attr]
    none_left = routes.route_index("CAD", now=T0 + 2 * DAY)
    assert none_left.stale_at is None and none_left.index.widest(A, C).capacity == 1000  # type: ignore[union-attr]
    assert routes.route_index("CAD", now=T0 + 30 * DAY).index is none_left.index


def test_a_limit_change_after_a_hint_still_caps_what_the_hint_allows() -> None:
    accept(relationship_between(ALICE, BOB, 1000, 0, now=T0))
    accept(capacity_hint(ALICE, BOB, 64, version=2))
    assert routes.route_index("CAD", now=T0).index.widest(A, B).capacity == 1000  # type: ignore[union-attr]
    accept(limit_update(BOB, ALICE, 40, version=3))  # Bob now lets Alice owe him 40 only
    assert routes.route_index("CAD", now=T0).index.widest(A, B).capacity == 40  # type: ignore[union-attr]
