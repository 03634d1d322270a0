"""Storing events: only verified ones, once, with the state they win; refusals store nothing."""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction

from foaf.bilateral import jcs
from relay import services
from relay.models import Edge, Event, Listing, LogHead, Profile
from relay.protocol import EventError, RelayErrorCode, canonical_bytes, relationship_id
from relay.services import Outcome, event_accept
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAY,
    T0,
    announce,
    key,
    lid,
    limit_update,
    listing,
    listing_withdrawal,
    ordered,
    profile,
    withdrawal,
)

pytestmark = pytest.mark.django_db


def accept(envelope: dict[str, Any], *, now: int = T0) -> services.Accepted:
    return event_accept(canonical_bytes(envelope), now=now)


def refused(envelope: Any, *, now: int = T0) -> EventError:
    before = counts()
    with pytest.raises(EventError) as caught:
        event_accept(envelope if isinstance(envelope, bytes) else canonical_bytes(envelope), now=now)
    assert counts() == before, "a refused event changed what the relay stores"
    return caught.value


def counts() -> tuple[Any, ...]:
    head = LogHead.objects.filter(pk=1).values_list("last_cursor", flat=True).first()
    edges = tuple(Edge.objects.order_by("pk").values_list())
    listings = tuple(Listing.objects.order_by("pk").values_list())
    profiles = tuple(Profile.objects.order_by("pk").values_list())
    return Event.objects.count(), head, edges, listings, profiles


def the_edge() -> Edge:
    a, b = ordered(ALICE, BOB)
    return Edge.objects.get(relationship_id=relationship_id(key(a), key(b), "CAD"))


# --- storing -----------------------------------------------------------------------------------
def test_a_valid_event_is_stored_with_its_exact_canonical_bytes_and_the_next_cursor() -> None:
    first = accept(announce(ALICE, BOB))
    second = accept(profile(ALICE, "Alice"))
    assert (first.outcome, first.cursor, second.cursor) == (Outcome.STORED, 1, 2)
    row = Event.objects.get(event_id=first.event_id)
    assert row.envelope.encode() == jcs.canonicalize(announce(ALICE, BOB))
    assert LogHead.objects.get().last_cursor == 2


def test_a_duplicate_delivery_answers_duplicate_and_changes_nothing() -> None:
    envelope = announce(ALICE, BOB)
    stored = accept(envelope)
    before = counts()
    again = accept(envelope)
    assert (again.outcome, again.event_id, again.cursor) == (Outcome.DUPLICATE, stored.event_id, stored.cursor)
    assert counts() == before


def test_a_duplicate_in_other_json_text_is_still_a_duplicate() -> None:
    envelope = profile(ALICE, "Alice")
    accept(envelope)
    import json

    assert event_accept(json.dumps(envelope, indent=1).encode(), now=T0).outcome is Outcome.DUPLICATE
    assert event_accept(envelope, now=T0).outcome is Outcome.DUPLICATE  # given as an object
    assert Event.objects.count() == 1


def test_an_announcement_creates_an_edge_with_both_limits_and_flags() -> None:
    accept(announce(ALICE, BOB, limit_a_to_b=700, limit_b_to_a=300, routable=False))
    edge = the_edge()
    assert (edge.limit_a_to_b, edge.limit_b_to_a, edge.routable, edge.public, edge.withdrawn) == (
        700,
        300,
        False,
        True,
        False,
    )


# --- refusals store nothing ----------------------------------------------------------------------
def test_forged_malformed_oversized_and_unknown_events_store_nothing() -> None:
    good = profile(ALICE, "Alice")
    forged = good | {"body": good["body"] | {"name": "Mallory"}}
    assert refused(forged).code is RelayErrorCode.EVENT_BAD_SIGNATURE
    assert refused(b'{"v":1,').code is RelayErrorCode.EVENT_MALFORMED
    assert refused(b"{" + b" " * 20000 + b"}").code is RelayErrorCode.EVENT_TOO_LARGE
    assert refused(good | {"kind": "payment"}).code is RelayErrorCode.EVENT_UNKNOWN_KIND
    missing = dict(good)
    del missing["sig"]
    assert refused(missing).code is RelayErrorCode.EVENT_MISSING_FIELD
    assert Event.objects.count() == 0


def test_an_expired_or_future_event_stores_nothing() -> None:
    assert refused(listing(ALICE, lid(1), "Eggs", ttl=DAY), now=T0 + DAY).code is RelayErrorCode.EVENT_EXPIRED
    assert refused(profile(ALICE, "A", now=T0 + 3600)).code is RelayErrorCode.EVENT_FROM_FUTURE


# --- versions: replays and races ------------------------------------------------------------------
def test_a_replayed_older_announcement_is_refused_and_the_newer_limits_stay() -> None:
    old = announce(ALICE, BOB, version=1, limit_a_to_b=100)
    accept(old)
    accept(announce(ALICE, BOB, version=2, limit_a_to_b=900))
    error = refused(announce(ALICE, BOB, version=1, limit_a_to_b=5))
    assert error.code is RelayErrorCode.EVENT_STALE_VERSION
    assert error.details == {"current_version": 2}
    assert accept(old).outcome is Outcome.DUPLICATE  # the very same event: still just a duplicate
    assert the_edge().limit_a_to_b == 900


def test_a_limit_update_by_its_owner_changes_only_that_limit() -> None:
    a, b = ordered(ALICE, BOB)
    accept(announce(a, b, limit_a_to_b=100, limit_b_to_a=200))
    accept(limit_update(b, a, 150, version=2))  # b extends 150 to a
    edge = the_edge()
    assert (edge.limit_a_to_b, edge.limit_b_to_a) == (150, 200)
    accept(limit_update(a, b, 250, version=2))  # a's own limit has its own register
    edge = the_edge()
    assert (edge.limit_a_to_b, edge.limit_b_to_a) == (150, 250)


def test_a_replayed_limit_update_is_refused() -> None:
    accept(announce(ALICE, BOB))
    accept(limit_update(ALICE, BOB, 1, version=3))
    assert refused(limit_update(ALICE, BOB, 999, version=2)).code is RelayErrorCode.EVENT_STALE_VERSION
    assert refused(limit_update(ALICE, BOB, 999, version=1)).code is RelayErrorCode.EVENT_STALE_VERSION


def test_an_older_announcement_cannot_undo_a_newer_limit_update() -> None:
    a, b = ordered(ALICE, BOB)
    accept(announce(a, b, version=1, limit_a_to_b=100, limit_b_to_a=100))
    accept(limit_update(b, a, 5, version=3))
    accept(announce(a, b, version=2, limit_a_to_b=800, limit_b_to_a=800))  # newer edge, older than b's update
    edge = the_edge()
    assert (edge.version, edge.limit_a_to_b, edge.limit_b_to_a) == (2, 5, 800)


def test_a_limit_update_or_withdrawal_for_a_relationship_never_announced_is_refused() -> None:
    assert refused(limit_update(ALICE, BOB, 1, version=1)).code is RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP
    assert refused(withdrawal(ALICE, CAROL, version=1)).code is RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP


def test_a_limit_update_while_withdrawn_is_kept_for_when_the_edge_comes_back() -> None:
    a, b = ordered(ALICE, BOB)
    accept(announce(a, b, version=1, limit_a_to_b=100))
    accept(withdrawal(a, b, version=2))
    accept(limit_update(b, a, 70, version=5))
    accept(announce(a, b, version=3, limit_a_to_b=300))
    edge = the_edge()
    assert (edge.withdrawn, edge.limit_a_to_b) == (False, 70)


def test_either_party_can_withdraw_and_only_a_newer_announcement_brings_the_edge_back() -> None:
    accept(announce(ALICE, BOB, version=1))
    accept(withdrawal(BOB, ALICE, version=2))
    assert the_edge().withdrawn
    assert refused(announce(ALICE, BOB, version=1, limit_a_to_b=1)).code is RelayErrorCode.EVENT_STALE_VERSION
    accept(announce(ALICE, BOB, version=2))  # newer than the announcement, but a withdrawal wins a tie
    assert the_edge().withdrawn
    assert refused(withdrawal(ALICE, BOB, version=1)).code is RelayErrorCode.EVENT_STALE_VERSION
    accept(announce(ALICE, BOB, version=3))
    assert not the_edge().withdrawn


def test_a_withdrawal_wins_a_tie_so_neither_party_can_lock_the_other_in() -> None:
    accept(announce(ALICE, BOB, version=2**53 - 1))
    accept(withdrawal(ALICE, BOB, version=2**53 - 1))
    assert the_edge().withdrawn


def test_a_replayed_profile_is_refused() -> None:
    accept(profile(ALICE, "Alice", version=2))
    assert refused(profile(ALICE, "Old Alice", version=1)).code is RelayErrorCode.EVENT_STALE_VERSION
    assert Profile.objects.get().name == "Alice"


def test_a_listing_is_updated_by_a_newer_version_and_withdrawn_for_good() -> None:
    accept(listing(ALICE, lid(1), "Eggs"))
    accept(listing(ALICE, lid(1), "Duck eggs", version=2))
    assert Listing.objects.get().title == "Duck eggs"
    accept(listing_withdrawal(ALICE, lid(1), version=3))
    assert refused(listing(ALICE, lid(1), "Eggs", version=3)).code is RelayErrorCode.EVENT_STALE_VERSION
    assert Listing.objects.get().withdrawn


def test_a_withdrawal_delivered_before_its_listing_keeps_the_listing_out() -> None:
    accept(listing_withdrawal(ALICE, lid(1), version=2))
    assert refused(listing(ALICE, lid(1), "Eggs", version=1)).code is RelayErrorCode.EVENT_STALE_VERSION


def test_two_authors_may_use_the_same_listing_id() -> None:
    accept(listing(ALICE, lid(1), "Eggs"))
    accept(listing(BOB, lid(1), "Honey"))
    assert Listing.objects.count() == 2


def test_any_delivery_order_ends_in_the_same_state() -> None:
    """What federation relies on: each register holds the greatest event, whatever came first."""
    a, b = ordered(ALICE, BOB)
    events = [
        announce(a, b, version=1, limit_a_to_b=1, limit_b_to_a=1),
        limit_update(b, a, 20, version=2),
        announce(a, b, version=3, limit_a_to_b=300, limit_b_to_a=300, routable=False),
        limit_update(a, b, 40, version=4),
        withdrawal(b, a, version=5),
        announce(a, b, version=6, limit_a_to_b=600, limit_b_to_a=600),
        withdrawal(a, b, version=6),
    ]
    # The announcement first (federation replays a relay's log in cursor order), then the rest in
    # 60 of their 720 orders, drawn once with a fixed seed.
    orders = [(0, *rest) for rest in itertools.permutations(range(1, len(events)))]
    finals = set()
    for order in random.Random(2026).sample(orders, 60):
        with transaction.atomic():
            for i in order:
                try:
                    accept(events[i])
                except EventError as e:
                    assert e.code is RelayErrorCode.EVENT_STALE_VERSION
            edge = the_edge()
            registers = (
                edge.announcement_id,
                edge.withdrawal_id,
                edge.limit_a_to_b_event_id,
                edge.limit_b_to_a_event_id,
            )
            finals.add((edge.withdrawn, edge.version, edge.routable, edge.limit_a_to_b, edge.limit_b_to_a, registers))
            transaction.set_rollback(True)
    assert len(finals) == 1
    assert next(iter(finals))[:5] == (True, 6, True, 600, 600)


# --- public and private ---------------------------------------------------------------------------
def test_events_about_a_non_public_relationship_are_stored_without_a_cursor() -> None:
    assert accept(announce(ALICE, BOB, public=False)).cursor is None
    assert accept(limit_update(ALICE, BOB, 1, version=2)).cursor is None
    assert accept(withdrawal(ALICE, BOB, version=3)).cursor is None
    assert LogHead.objects.get().last_cursor == 0
    assert accept(profile(ALICE, "A")).cursor == 1  # the public log has no gap


def test_a_public_relationship_must_be_withdrawn_before_it_goes_private() -> None:
    accept(announce(ALICE, BOB, version=1))
    error = refused(announce(ALICE, BOB, version=2, public=False))
    assert error.code is RelayErrorCode.EVENT_RELATIONSHIP_PUBLIC
    assert accept(withdrawal(ALICE, BOB, version=2)).cursor is not None
    assert accept(announce(ALICE, BOB, version=3, public=False)).cursor is None
    assert not the_edge().visible


# --- crash and retry ---------------------------------------------------------------------------
def test_a_crash_after_the_event_row_is_written_leaves_nothing_and_a_retry_stores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accept(profile(BOB, "Bob"))
    envelope = announce(ALICE, BOB)
    real = services._PLANNERS[services.Kind.RELATIONSHIP]

    def crashing(event: Any) -> services._Plan:
        plan = real(event)

        def write() -> None:
            plan.write()
            raise RuntimeError("power cut")

        return services._Plan(plan.public, write)

    monkeypatch.setitem(services._PLANNERS, services.Kind.RELATIONSHIP, crashing)
    with pytest.raises(RuntimeError):
        accept(envelope)
    assert (Event.objects.count(), Edge.objects.count(), LogHead.objects.get().last_cursor) == (1, 0, 1)
    monkeypatch.setitem(services._PLANNERS, services.Kind.RELATIONSHIP, real)
    retried = accept(envelope)
    assert (retried.outcome, retried.cursor) == (Outcome.STORED, 2)  # no gap where the crash was
    assert accept(envelope).outcome is Outcome.DUPLICATE  # the answer was lost: the client retries again


def test_a_stored_event_cannot_be_edited_in_the_database() -> None:
    accept(profile(ALICE, "Alice"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.update(envelope="{}")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            Event.objects.all().delete()


def test_no_state_row_can_point_at_an_event_that_is_not_stored() -> None:
    accept(profile(ALICE, "Alice"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Profile.objects.create(key=key(BOB), name="B", relays=[], mailbox_key="00" * 32, version=1, event_id="ab" * 32)
        connection.check_constraints(table_names=["relay_profile"])  # what commit would do


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_stored_once() -> None:
    envelope = canonical_bytes(announce(ALICE, BOB))
    LogHead.objects.get_or_create(pk=1)
    barrier = threading.Barrier(4)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            outcomes.append(event_accept(envelope, now=T0).outcome)
        except BaseException as e:
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(outcomes) == [Outcome.DUPLICATE] * 3 + [Outcome.STORED]
    assert list(Event.objects.values_list("cursor", flat=True)) == [1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_consecutive_cursors_in_commit_order() -> None:
    LogHead.objects.get_or_create(pk=1)
    envelopes = [canonical_bytes(listing(ALICE, lid(i), f"Item {i}")) for i in range(8)]
    barrier = threading.Barrier(len(envelopes))
    errors: list[BaseException] = []

    def deliver(data: bytes) -> None:
        try:
            barrier.wait()
            event_accept(data, now=T0)
        except BaseException as e:
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(e,)) for e in envelopes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Event.objects.values_list("cursor", flat=True)) == list(range(1, 9))
