"""Writes and reads of the relay. Every event is stored through ``event_accept``.

The protocol package decides whether an event is well formed and signed (``decode_event``); this
module decides it against what the relay holds (precedence of versions, known relationships)
and stores it with the state it changes. The relay never imports the bilateral ledger or the
migration: it holds public statements only, never a balance or a payment.

Write path (``event_accept``) on crash, retry and duplicate delivery:
- One transaction stores the event row, moves the public log's head (public events only) and
  updates the state rows the event wins. A crash leaves all of it or none of it.
- A retry after a crash that happened before commit stores the event then; a retry after commit
  (the answer was lost) finds the event id and answers ``duplicate``, changing nothing.
- Duplicate delivery (the same event from a client, a second client, or a federating peer) is
  answered ``duplicate`` and changes nothing: the event id is unique, and it covers every signed
  field. The same statement re-signed with another valid signature has the same id: duplicate.
- Two writers at once: the log head row is locked first, so accepts run one after another; the
  second of two identical events sees the first and answers ``duplicate``. Should anything slip
  past (the head row re-created after a flush), the unique event id and cursor refuse it and the
  accept runs once more against what the winner stored.
- A refused event (``EventError``) stores nothing: the transaction is rolled back, and no state
  row can exist without the stored, verified event it points at (foreign keys).
- Live subscribers (``relay.live``) are told of a public event after its transaction commits
  (``transaction.on_commit``): never of one rolled back, and a duplicate tells nobody again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When

from relay.models import CapacityHint, Edge, Event, Listing, LogHead, Profile
from relay.protocol import CapacityHint as CapacityHintBody
from relay.protocol import Event as SignedEvent
from relay.protocol import (
    EventError,
    Kind,
    LimitUpdate,
    Precedence,
    RelationshipAnnouncement,
    RelationshipWithdrawal,
    RelayErrorCode,
    decode_event,
    precedence,
)
from relay.protocol import Listing as ListingBody
from relay.protocol import ListingWithdrawal as ListingWithdrawalBody
from relay.protocol import Profile as ProfileBody
from relay.protocol.envelope import EventInput

MAX_DEPTH = 3
MAX_PAGE = 500
MAX_SEARCH_WORDS = 8
_IN_CHUNK = 500  # keys per IN (...) list: far below SQLite's limit on parameters


class Outcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Accepted:
    outcome: Outcome
    event_id: str
    kind: Kind
    cursor: int | None  # the event's place in the public log; None: not public, never served


@dataclass(frozen=True)
class _Plan:
    """What storing an event does, decided before anything is written."""

    public: bool
    write: Callable[[], None]


def _stale(held: Precedence) -> EventError:
    return EventError(
        RelayErrorCode.EVENT_STALE_VERSION,
        f"the relay holds version {held.version} of this, which this event does not supersede",
        current_version=held.version,
    )


# --- accepting events ------------------------------------------------------------------------
def event_accept(data: EventInput, *, now: int, from_peer: bool = False) -> Accepted:
    """Verify an event (bytes as received, or a parsed JSON object) and store it with its effects.

    ``now`` is the relay's clock in unix seconds (for the skew and expiry checks). ``from_peer``:
    the event comes from a peer's public log (federation), where an event that has expired since
    still holds its register and is stored (docs/relay.md §12.2). Returns ``stored`` or
    ``duplicate``; raises ``EventError`` (nothing stored) otherwise.
    """
    event = decode_event(data, now=now, expired_ok=from_peer)
    try:
        with transaction.atomic():
            return _accept(event, now)
    except IntegrityError:
        # Another writer stored this event (or took this cursor) first: decide again against it.
        with transaction.atomic():
            return _accept(event, now)


def _lock_head() -> LogHead:
    head = LogHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # the row from migration 0002 is gone (a test flush): start the log again
        head = LogHead.objects.create(pk=1, last_cursor=0)
    return head


def _accept(event: SignedEvent, now: int) -> Accepted:
    head = _lock_head()
    stored = Event.objects.filter(event_id=event.id).values_list("cursor").first()
    if stored is not None:
        return Accepted(Outcome.DUPLICATE, event.id, event.kind, stored[0])
    plan = _PLANNERS[event.kind](event)
    cursor = None
    if plan.public:
        head.last_cursor += 1
        cursor = head.last_cursor
        head.save(update_fields=["last_cursor"])
    Event.objects.create(
        event_id=event.id,
        kind=event.kind.value,
        author=event.author,
        created=event.created,
        expires=event.expires,
        cursor=cursor,
        envelope=event.canonical.decode("utf-8"),
        received_at=datetime.fromtimestamp(now, UTC),
    )
    plan.write()
    if cursor is not None:
        _announce_on_commit(cursor, event.canonical.decode("utf-8"))
    return Accepted(Outcome.STORED, event.id, event.kind, cursor)


def _announce_on_commit(cursor: int, envelope: str) -> None:
    """Live subscribers hear of a public event once it is committed, never before (relay.live)."""
    from relay import live  # live reads through this module: imported when first needed

    transaction.on_commit(partial(live.event_committed, cursor, envelope), robust=True)


def _relationship_stored(relationship: str) -> Edge:
    edge = Edge.objects.filter(relationship_id=relationship).first()
    if edge is None:
        # Refused rather than held for later: one party alone must not be able to publish a pair
        # that never co-signed anything. Retry once the announcement is in (federation: cursor order).
        raise EventError(
            RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP, "the relay holds no announcement of a relationship between them"
        )
    return edge


def _plan_announcement(event: SignedEvent) -> _Plan:
    body = event.body
    assert isinstance(body, RelationshipAnnouncement)
    new = precedence(event)
    edge = Edge.objects.filter(relationship_id=body.relationship).first()
    if edge is None:

        def create() -> None:
            Edge.objects.create(
                relationship_id=body.relationship,
                party_a=body.a,
                party_b=body.b,
                currency=body.currency,
                public=body.public,
                routable=body.routable,
                version=new.version,
                announcement_id=event.id,
                withdrawn=False,
                limit_a_to_b=body.limit_a_to_b,
                limit_a_to_b_version=new.version,
                limit_a_to_b_event_id=event.id,
                limit_b_to_a=body.limit_b_to_a,
                limit_b_to_a_version=new.version,
                limit_b_to_a_event_id=event.id,
            )

        return _Plan(body.public, create)
    # Both limit registers always hold something at least as recent as the announcement, so an
    # announcement that does not beat the announcement register beats nothing.
    if not new.beats(edge.announcement_precedence):
        raise _stale(edge.announcement_precedence)
    if edge.visible and not body.public:
        # Peers that federated the public edge would keep showing it: a public withdrawal must
        # take it down everywhere before the relationship goes on privately.
        raise EventError(
            RelayErrorCode.EVENT_RELATIONSHIP_PUBLIC,
            "this relationship is public here: publish a relationship_withdrawal before a non-public announcement",
        )

    def update() -> None:
        edge.public, edge.routable = body.public, body.routable
        edge.version, edge.announcement_id = new.version, event.id
        for direction in ("limit_a_to_b", "limit_b_to_a"):
            if new.beats(edge.limit_precedence(direction)):
                _set_limit(edge, direction, getattr(body, direction), new.version, event.id)
        edge.settle_withdrawn()
        edge.save()

    return _Plan(body.public, update)


def _set_limit(edge: Edge, direction: str, limit: int, version: int, event_id: str) -> None:
    setattr(edge, direction, limit)
    setattr(edge, f"{direction}_version", version)
    setattr(edge, f"{direction}_event_id", event_id)


def _plan_limit(event: SignedEvent) -> _Plan:
    body = event.body
    assert isinstance(body, LimitUpdate)
    edge = _relationship_stored(body.relationship)
    direction = body.direction(event.author)
    new = precedence(event)
    held = edge.limit_precedence(direction)
    if not new.beats(held):
        raise _stale(held)

    def update() -> None:
        _set_limit(edge, direction, body.limit, new.version, event.id)
        edge.save()

    # Public exactly when the relationship was announced publicly: a private edge stays private.
    return _Plan(edge.public, update)


def _plan_withdrawal(event: SignedEvent) -> _Plan:
    body = event.body
    assert isinstance(body, RelationshipWithdrawal)
    edge = _relationship_stored(body.relationship)
    new = precedence(event)
    held = edge.withdrawal_precedence
    if not new.beats(held):
        assert held is not None
        raise _stale(held)

    def update() -> None:
        edge.withdrawal_version, edge.withdrawal_id = new.version, event.id
        edge.settle_withdrawn()
        edge.save()

    return _Plan(edge.public, update)


def _plan_capacity_hint(event: SignedEvent) -> _Plan:
    """A hint for one direction of an edge in the routing view (docs/relay.md §4.7, §6.1).

    Its register is (relationship, direction); the hint must beat the register and the edge's
    withdrawal (a withdrawal takes the hints down with the edge, so an older hint stays down), else
    it is stale. An edge not in the routing view (withdrawn, not public, not routable) has nothing
    to hint at: refused like an unknown relationship, and like one it may succeed after an
    announcement (federation sets it aside and retries).
    """
    body = event.body
    assert isinstance(body, CapacityHintBody)
    edge = _relationship_stored(body.relationship)
    new = precedence(event)
    held = CapacityHint.objects.filter(edge=edge, direction=body.direction).first()
    if held is not None and not new.beats(held.precedence):
        raise _stale(held.precedence)
    withdrawal = edge.withdrawal_precedence
    if withdrawal is not None and not new.beats(withdrawal):
        raise _stale(withdrawal)
    if not (edge.visible and edge.routable):
        raise EventError(
            RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP,
            "the relay holds no relationship between them in its routing view (withdrawn, not public or not routable)",
        )
    assert event.expires is not None  # the envelope's expiry rule (§5 step 8)
    fields = {"exponent": body.exponent, "expires": event.expires, "version": new.version, "event_id": event.id}

    def write() -> None:
        CapacityHint.objects.update_or_create(edge=edge, direction=body.direction, defaults=fields)

    return _Plan(True, write)


def _plan_profile(event: SignedEvent) -> _Plan:
    body = event.body
    assert isinstance(body, ProfileBody)
    new = precedence(event)
    profile = Profile.objects.filter(key=event.author).first()
    if profile is not None and not new.beats(profile.precedence):
        raise _stale(profile.precedence)

    def write() -> None:
        Profile.objects.update_or_create(
            key=event.author,
            defaults={
                "name": body.name,
                "relays": list(body.relays),
                "mailbox_key": body.mailbox_key,
                "version": new.version,
                "event_id": event.id,
            },
        )

    return _Plan(True, write)


def search_text(title: str, text: str, category: str) -> str:
    """What text search looks in: case-folded (the same on SQLite and PostgreSQL, any script)."""
    return f"{title}\n{text}\n{category}".casefold()


def _plan_listing(event: SignedEvent) -> _Plan:
    body = event.body
    assert isinstance(body, (ListingBody, ListingWithdrawalBody))
    new = precedence(event)
    held = Listing.objects.filter(author=event.author, listing=body.listing).first()
    if held is not None and not new.beats(held.precedence):
        raise _stale(held.precedence)
    fields: dict[str, Any] = {"version": new.version, "rank": new.rank, "event_id": event.id}
    if isinstance(body, ListingBody):
        fields |= {
            "withdrawn": False,
            "type": body.type,
            "title": body.title,
            "text": body.text,
            "category": body.category,
            "quantity": body.quantity,
            "price_cents": body.price_cents,
            "currency": body.currency,
            "created": event.created,
            "expires": event.expires,
            "search_text": search_text(body.title, body.text, body.category),
        }
    else:
        # A tombstone (also for a listing not seen yet), so an older copy delivered later is stale.
        fields |= {"withdrawn": True, "type": "", "title": "", "text": "", "category": "", "search_text": ""}
        fields |= {"quantity": None, "price_cents": None, "currency": None, "created": None, "expires": None}

    def write() -> None:
        Listing.objects.update_or_create(author=event.author, listing=body.listing, defaults=fields)

    return _Plan(True, write)


_PLANNERS: dict[Kind, Callable[[SignedEvent], _Plan]] = {
    Kind.RELATIONSHIP: _plan_announcement,
    Kind.LIMIT: _plan_limit,
    Kind.RELATIONSHIP_WITHDRAWAL: _plan_withdrawal,
    Kind.PROFILE: _plan_profile,
    Kind.LISTING: _plan_listing,
    Kind.LISTING_WITHDRAWAL: _plan_listing,
    Kind.CAPACITY_HINT: _plan_capacity_hint,
}


# --- reading: the public log -------------------------------------------------------------------
@dataclass(frozen=True)
class ChangesPage:
    events: list[tuple[int, str]]  # (cursor, canonical signed envelope)
    next_cursor: int  # pass as `since` to continue; equals `since` when nothing is new
    more: bool


def changes_since(*, since: int, limit: int) -> ChangesPage:
    """Public events after cursor ``since``, oldest first, at most ``limit``."""
    rows = list(
        Event.objects.filter(cursor__gt=since).order_by("cursor").values_list("cursor", "envelope")[: limit + 1]
    )
    page = [(cursor, envelope) for cursor, envelope in rows[:limit] if cursor is not None]
    return ChangesPage(page, page[-1][0] if page else since, len(rows) > limit)


def public_event_get(event_id: str) -> tuple[int, str] | None:
    """A public event by id: (cursor, canonical signed envelope); None for unknown and non-public alike."""
    row = Event.objects.filter(event_id=event_id, cursor__isnull=False).values_list("cursor", "envelope").first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


# --- reading: the graph ----------------------------------------------------------------------
def visible_edges(*, routable_only: bool = False) -> QuerySet[Edge]:
    """Edges the relay serves: announced, not withdrawn, public (and routable, for routing views)."""
    edges = Edge.objects.filter(withdrawn=False, public=True)
    return edges.filter(routable=True) if routable_only else edges


def hints_in_effect(*, now: int) -> QuerySet[CapacityHint]:
    """Hints the relay serves and routes with: the edge in the routing view (announced, not
    withdrawn, public, routable), not expired at ``now``, newer than the edge's withdrawal if any."""
    return CapacityHint.objects.filter(
        edge__withdrawn=False, edge__public=True, edge__routable=True, expires__gt=now
    ).filter(Q(edge__withdrawal_version__isnull=True) | Q(version__gt=F("edge__withdrawal_version")))


EdgeHints = dict[int, dict[str, CapacityHint]]  # edge pk -> direction -> hint


def edge_hints(edges: Iterable[Edge], *, now: int) -> EdgeHints:
    """The hints in effect for these edges, by edge and direction (a few queries, not one per edge)."""
    found: EdgeHints = {}
    pks = [edge.pk for edge in edges]
    for start in range(0, len(pks), _IN_CHUNK):
        for hint in hints_in_effect(now=now).filter(edge_id__in=pks[start : start + _IN_CHUNK]):
            found.setdefault(hint.edge_id, {})[hint.direction] = hint
    return found


def hint_json(hint: CapacityHint) -> dict[str, Any]:
    """A hint as served: the bucket exponent, until when, and the signed event that says so."""
    return {"exponent": hint.exponent, "expires": hint.expires, "event": hint.event_id}


def edge_json(edge: Edge, hints: EdgeHints | None = None) -> dict[str, Any]:
    """An edge as served. ``events`` are the ids of the public events holding its registers;
    ``hints`` the capacity hints in effect, per direction (``a_to_b``, ``b_to_a``; absent: none)."""
    own = (hints or {}).get(edge.pk, {})
    return {
        "relationship": edge.relationship_id,
        "a": edge.party_a,
        "b": edge.party_b,
        "currency": edge.currency,
        "limit_a_to_b": edge.limit_a_to_b,
        "limit_b_to_a": edge.limit_b_to_a,
        "routable": edge.routable,
        "version": edge.version,
        "events": sorted({edge.announcement_id, edge.limit_a_to_b_event_id, edge.limit_b_to_a_event_id}),
        "hints": {direction: hint_json(hint) for direction, hint in sorted(own.items())},
    }


def graph_page(
    *, currency: str | None = None, routable_only: bool = False, after: str | None = None, limit: int
) -> tuple[list[Edge], str | None]:
    """Visible edges ordered by relationship id, after ``after``; returns (edges, next ``after`` or None)."""
    edges = visible_edges(routable_only=routable_only)
    if currency:
        edges = edges.filter(currency=currency)
    if after:
        edges = edges.filter(relationship_id__gt=after)
    rows = list(edges.order_by("relationship_id")[: limit + 1])
    page = rows[:limit]
    return page, (page[-1].relationship_id if len(rows) > limit else None)


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _IN_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Neighbourhood:
    distances: dict[str, int]  # key -> hops from the origin (the origin itself: 0)
    edges: list[Edge]  # every visible edge from a member closer than the depth


def neighbourhood(origin: str, *, depth: int, routable_only: bool = False) -> Neighbourhood:
    """Breadth-first search over visible edges from ``origin``, ``depth`` hops (1..3) at most."""
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be 1..{MAX_DEPTH}")
    edges = visible_edges(routable_only=routable_only)
    distances = {origin: 0}
    seen_edges: dict[str, Edge] = {}
    frontier = [origin]
    for hop in range(1, depth + 1):
        reached: list[str] = []
        for batch in _chunks(frontier):
            for edge in edges.filter(Q(party_a__in=batch) | Q(party_b__in=batch)).order_by("relationship_id"):
                seen_edges[edge.relationship_id] = edge
                for key in (edge.party_a, edge.party_b):
                    if key not in distances:
                        distances[key] = hop
                        reached.append(key)
        if not reached:
            break
        frontier = reached
    return Neighbourhood(distances, sorted(seen_edges.values(), key=lambda e: e.relationship_id))


def trust_distances(origin: str, *, depth: int) -> dict[str, int]:
    """Members within ``depth`` hops of ``origin`` over public edges (the origin left out)."""
    distances = neighbourhood(origin, depth=depth).distances
    distances.pop(origin)
    return distances


# --- reading: profiles and listings -------------------------------------------------------------
def profile_get(key: str) -> tuple[Profile, str] | None:
    """A member's newest profile and its signed envelope (clients verify the mailbox key with it)."""
    profile = Profile.objects.filter(key=key).select_related("event").first()
    return (profile, profile.event.envelope) if profile else None


def listing_json(listing: Listing, distance: int | None) -> dict[str, Any]:
    return {
        "author": listing.author,
        "listing": listing.listing,
        "type": listing.type,
        "title": listing.title,
        "text": listing.text,
        "category": listing.category,
        "quantity": listing.quantity,
        "price_cents": listing.price_cents,
        "currency": listing.currency,
        "created": listing.created,
        "expires": listing.expires,
        "version": listing.version,
        "event": listing.event_id,
        "distance": distance,
    }


def listings_search(
    *,
    now: int,
    text: str = "",
    category: str | None = None,
    listing_type: str | None = None,
    searcher: str | None = None,
    depth: int = MAX_DEPTH,
    limit: int,
    offset: int = 0,
) -> list[tuple[Listing, int | None]]:
    """Live listings (not withdrawn, not expired at ``now``) matching every word of ``text``.

    With ``searcher``: only listings by members within ``depth`` hops over public edges, nearest
    first (friends, then friends of friends, ...), newest first within a distance. Without it:
    newest first, no distance.
    """
    listings = Listing.objects.filter(withdrawn=False, expires__gt=now)
    if category:
        listings = listings.filter(category=category)
    if listing_type:
        listings = listings.filter(type=listing_type)
    for word in text.casefold().split()[:MAX_SEARCH_WORDS]:
        listings = listings.filter(search_text__contains=word)
    if searcher is None:
        rows = listings.order_by("-created", "author", "listing")[offset : offset + limit]
        return [(row, None) for row in rows]
    distances = trust_distances(searcher, depth=depth)
    if not distances:
        return []
    by_hop: dict[int, list[str]] = {}
    for key, hop in distances.items():
        by_hop.setdefault(hop, []).append(key)
    ranked = listings.filter(author__in=list(distances)).annotate(
        distance=Case(
            *(When(author__in=keys, then=Value(hop)) for hop, keys in sorted(by_hop.items())),
            output_field=IntegerField(),
        )
    )
    rows = ranked.order_by("distance", "-created", "author", "listing")[offset : offset + limit]
    return [(row, distances[row.author]) for row in rows]
