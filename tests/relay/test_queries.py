"""Reading the relay: the graph, a member's neighbourhood, changes since a cursor, listing search."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay import services
from relay.protocol import canonical_bytes
from relay.services import event_accept
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DAY,
    ERIN,
    T0,
    announce,
    key,
    lid,
    limit_update,
    listing,
    listing_withdrawal,
    profile,
    withdrawal,
)

pytestmark = pytest.mark.django_db


def accept(envelope: dict[str, Any], *, now: int = T0) -> services.Accepted:
    return event_accept(canonical_bytes(envelope), now=now)


def chain() -> None:
    """Alice - Bob - Carol - Dave, each edge public; Erin is connected to no one."""
    accept(announce(ALICE, BOB))
    accept(announce(BOB, CAROL))
    accept(announce(CAROL, DAVE))


def pairs(edges: list[Any]) -> set[frozenset[str]]:
    return {frozenset((e.party_a, e.party_b)) for e in edges}


def pair(x: Any, y: Any) -> frozenset[str]:
    return frozenset((key(x), key(y)))


# --- graph -----------------------------------------------------------------------------------
def test_the_graph_serves_announced_public_edges_with_their_limits_and_flags() -> None:
    accept(announce(ALICE, BOB, limit_a_to_b=111, limit_b_to_a=222, routable=False))
    edges, after = services.graph_page(limit=10)
    assert after is None
    [edge] = [services.edge_json(e) for e in edges]
    assert (edge["limit_a_to_b"], edge["limit_b_to_a"], edge["routable"], edge["currency"]) == (111, 222, False, "CAD")
    assert edge["events"] and all(services.public_event_get(i) for i in edge["events"])


def test_withdrawn_and_non_public_edges_are_not_in_the_graph() -> None:
    accept(announce(ALICE, BOB))
    accept(announce(BOB, CAROL, public=False))
    accept(announce(CAROL, DAVE))
    accept(withdrawal(DAVE, CAROL, version=2))
    edges, _ = services.graph_page(limit=10)
    assert pairs(edges) == {pair(ALICE, BOB)}


def test_a_routing_view_leaves_out_edges_marked_not_routable() -> None:
    accept(announce(ALICE, BOB))
    accept(announce(BOB, CAROL, routable=False))
    assert pairs(services.graph_page(limit=10)[0]) == {pair(ALICE, BOB), pair(BOB, CAROL)}
    assert pairs(services.graph_page(limit=10, routable_only=True)[0]) == {pair(ALICE, BOB)}


def test_the_graph_is_paged_by_relationship_id_and_filtered_by_currency() -> None:
    chain()
    accept(announce(ALICE, ERIN, currency="USD"))
    first, after = services.graph_page(limit=2, currency="CAD")
    assert after is not None and len(first) == 2
    rest, end = services.graph_page(limit=2, currency="CAD", after=after)
    assert end is None
    ids = [e.relationship_id for e in first + rest]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [e.currency for e in services.graph_page(limit=9, currency="USD")[0]] == ["USD"]


def test_the_latest_limit_is_served() -> None:
    accept(announce(ALICE, BOB, limit_a_to_b=100, limit_b_to_a=100))
    accept(limit_update(ALICE, BOB, 42, version=2))
    [edge] = services.graph_page(limit=5)[0]
    assert 42 in (edge.limit_a_to_b, edge.limit_b_to_a)
    assert len(services.edge_json(edge)["events"]) == 2


# --- neighbourhood ---------------------------------------------------------------------------
def test_a_neighbourhood_reaches_as_many_hops_as_asked() -> None:
    chain()
    assert services.neighbourhood(key(ALICE), depth=1).distances == {key(ALICE): 0, key(BOB): 1}
    two = services.neighbourhood(key(ALICE), depth=2)
    assert two.distances == {key(ALICE): 0, key(BOB): 1, key(CAROL): 2}
    assert pairs(two.edges) == {pair(ALICE, BOB), pair(BOB, CAROL)}
    three = services.neighbourhood(key(ALICE), depth=3).distances
    assert three[key(DAVE)] == 3 and key(ERIN) not in three


def test_a_neighbourhood_counts_the_shortest_path() -> None:
    chain()
    accept(announce(ALICE, CAROL))
    assert services.neighbourhood(key(ALICE), depth=3).distances[key(DAVE)] == 2


def test_a_non_public_edge_does_not_carry_a_neighbourhood() -> None:
    accept(announce(ALICE, BOB))
    accept(announce(BOB, CAROL, public=False))
    found = services.neighbourhood(key(ALICE), depth=3)
    assert key(CAROL) not in found.distances
    assert pairs(found.edges) == {pair(ALICE, BOB)}


def test_a_routing_neighbourhood_does_not_cross_non_routable_edges() -> None:
    accept(announce(ALICE, BOB, routable=False))
    assert key(BOB) in services.neighbourhood(key(ALICE), depth=1).distances
    assert services.neighbourhood(key(ALICE), depth=1, routable_only=True).distances == {key(ALICE): 0}


# --- changes since a cursor -------------------------------------------------------------------
def test_changes_come_in_cursor_order_in_pages_with_the_cursor_to_continue_from() -> None:
    chain()
    accept(profile(ALICE, "Alice"))
    page = services.changes_since(since=0, limit=3)
    assert [c for c, _ in page.events] == [1, 2, 3] and page.more and page.next_cursor == 3
    page = services.changes_since(since=page.next_cursor, limit=3)
    assert [c for c, _ in page.events] == [4] and not page.more and page.next_cursor == 4
    empty = services.changes_since(since=4, limit=3)
    assert (empty.events, empty.next_cursor, empty.more) == ([], 4, False)


def test_every_served_change_re_verifies_on_its_own() -> None:
    from relay.protocol import parse_event

    chain()
    accept(listing(ALICE, lid(1), "Eggs", ttl=DAY))
    for _, envelope in services.changes_since(since=0, limit=100).events:
        event = parse_event(envelope.encode())  # what a federating peer does, long after expiry too
        assert event.canonical.decode() == envelope


def test_events_about_a_non_public_relationship_never_appear_anywhere() -> None:
    accept(announce(ALICE, BOB))
    private = [
        accept(announce(BOB, CAROL, public=False)),
        accept(limit_update(CAROL, BOB, 5, version=2)),
        accept(withdrawal(BOB, CAROL, version=3)),
    ]
    accept(profile(CAROL, "Carol"))
    accept(listing(CAROL, lid(1), "Carol's jam"))
    served = json.dumps(services.changes_since(since=0, limit=100).events)
    for accepted in private:
        assert accepted.cursor is None
        assert services.public_event_get(accepted.event_id) is None
        assert accepted.event_id not in served
    for _, envelope in services.changes_since(since=0, limit=100).events:
        body = json.loads(envelope)["body"]
        assert not ({body.get("a"), body.get("b")} >= {key(BOB), key(CAROL)})
    assert key(CAROL) not in json.dumps([services.edge_json(e) for e in services.graph_page(limit=99)[0]])
    assert key(CAROL) not in services.neighbourhood(key(BOB), depth=3).distances
    assert services.listings_search(now=T0, searcher=key(BOB), depth=3, limit=10) == []


# --- listings --------------------------------------------------------------------------------
def titles(found: list[tuple[Any, int | None]]) -> list[str]:
    return [listing.title for listing, _ in found]


def test_search_matches_every_word_in_title_text_or_category_ignoring_case() -> None:
    accept(listing(ALICE, lid(1), "Duck eggs", text="Free range, Crawford Bay", category="food"))
    accept(listing(ALICE, lid(2), "Goose EGGS", category="food"))
    accept(listing(ALICE, lid(3), "Firewood", text="Split birch", category="fuel"))
    assert sorted(titles(services.listings_search(now=T0, text="eggs", limit=10))) == ["Duck eggs", "Goose EGGS"]
    assert titles(services.listings_search(now=T0, text="EGGS crawford", limit=10)) == ["Duck eggs"]
    assert titles(services.listings_search(now=T0, text="fuel", limit=10)) == ["Firewood"]
    assert services.listings_search(now=T0, text="eggs firewood", limit=10) == []


def test_search_folds_case_beyond_ascii_the_same_on_every_database() -> None:
    accept(listing(ALICE, lid(1), "Straße Äpfel"))
    assert titles(services.listings_search(now=T0, text="STRASSE äPFEL", limit=10)) == ["Straße Äpfel"]


def test_search_treats_like_wildcards_as_plain_characters() -> None:
    accept(listing(ALICE, lid(1), "100% wool"))
    accept(listing(ALICE, lid(2), "1000 wool socks"))
    assert titles(services.listings_search(now=T0, text="100%", limit=10)) == ["100% wool"]
    assert services.listings_search(now=T0, text="_", limit=10) == []


def test_search_filters_by_category_and_type() -> None:
    accept(listing(ALICE, lid(1), "Eggs", category="food"))
    accept(listing(ALICE, lid(2), "Eggs wanted", category="food", listing_type="want"))
    accept(listing(ALICE, lid(3), "Egg carton", category="household"))
    assert titles(services.listings_search(now=T0, category="food", listing_type="want", limit=10)) == ["Eggs wanted"]
    assert len(services.listings_search(now=T0, category="food", limit=10)) == 2


def test_expired_and_withdrawn_listings_are_not_found() -> None:
    accept(listing(ALICE, lid(1), "Eggs", ttl=DAY))
    accept(listing(ALICE, lid(2), "Honey", ttl=3 * DAY))
    accept(listing_withdrawal(ALICE, lid(2), version=2))
    assert titles(services.listings_search(now=T0, limit=10)) == ["Eggs"]
    assert services.listings_search(now=T0 + DAY, limit=10) == []


def test_search_from_a_member_orders_by_trust_distance_then_newest() -> None:
    chain()
    accept(listing(DAVE, lid(1), "Dave's eggs"))
    accept(listing(CAROL, lid(1), "Carol's eggs"))
    accept(listing(BOB, lid(1), "Bob's old eggs", now=T0 - 60))
    accept(listing(BOB, lid(2), "Bob's new eggs"))
    accept(listing(ERIN, lid(1), "Erin's eggs"))  # no path from Alice
    accept(listing(ALICE, lid(1), "Alice's own eggs"))  # the searcher's own listings are left out
    found = services.listings_search(now=T0, text="eggs", searcher=key(ALICE), depth=3, limit=10)
    assert [(listing.title, distance) for listing, distance in found] == [
        ("Bob's new eggs", 1),
        ("Bob's old eggs", 1),
        ("Carol's eggs", 2),
        ("Dave's eggs", 3),
    ]
    assert titles(services.listings_search(now=T0, searcher=key(ALICE), depth=1, limit=10)) == [
        "Bob's new eggs",
        "Bob's old eggs",
    ]


def test_search_pages_with_offset_and_limit() -> None:
    chain()
    for i in range(5):
        accept(listing(BOB, lid(i), f"Item {i}", now=T0 - i))
    first = services.listings_search(now=T0, searcher=key(ALICE), depth=2, limit=3)
    rest = services.listings_search(now=T0, searcher=key(ALICE), depth=2, limit=3, offset=3)
    assert titles(first) + titles(rest) == [f"Item {i}" for i in range(5)]


def test_a_searcher_with_no_public_relationship_finds_nothing_by_distance() -> None:
    accept(listing(BOB, lid(1), "Eggs"))
    assert services.listings_search(now=T0, searcher=key(ERIN), depth=3, limit=10) == []
    assert titles(services.listings_search(now=T0, limit=10)) == ["Eggs"]


def test_a_profile_is_served_with_the_signed_event_that_binds_its_mailbox_key() -> None:
    from relay.protocol import parse_event

    accept(profile(ALICE, "Alice", version=1))
    accept(profile(ALICE, "Alice Smith", version=2))
    found = services.profile_get(key(ALICE))
    assert found is not None
    stored, envelope = found
    event = parse_event(envelope.encode())
    assert (stored.name, event.author, event.body.to_json()["mailbox_key"]) == (
        "Alice Smith",
        key(ALICE),
        stored.mailbox_key,
    )
    assert services.profile_get(key(BOB)) is None
