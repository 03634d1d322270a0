"""Routes over the relay's public graph (docs/routing.md): the routing view of a currency, loaded
into a ``foaf.routing.RouteIndex`` and kept until an edge changes.

What is loaded is exactly what the routing view of the graph serves (docs/relay.md §6.2, §8.4 with
``routable=true``): edges announced, not withdrawn, public and routable, with their two limits.
Never a non-public edge, never a balance: the relay has none.

The cache, per process and per currency, is tagged with the public log's head, the newest public
event (its cursor and id), read **before** the edges:

- Every change to a served edge (an announcement, limit or withdrawal of a public relationship) is
  a public event, so it moves the head. Events about non-public relationships do not, and change
  nothing that is served.
- When the head has moved, the index is still good if no relationship event came after its tag
  (profiles and listings move the head too): it is re-tagged, not rebuilt. The tag's own event
  must still be at its cursor, so a log that started over (a replaced database) is rebuilt.
- Reading the head first, an index can be newer than its tag (an event committed in between),
  never older: the next request looks again.

Building takes a lock per currency, so concurrent requests wait for one build instead of each
making their own. Queries do not change an index, so threads share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from foaf.routing import RouteIndex
from relay import services
from relay.models import Event
from relay.protocol import Kind

EDGE_KINDS = (Kind.RELATIONSHIP.value, Kind.LIMIT.value, Kind.RELATIONSHIP_WITHDRAWAL.value)


@dataclass(frozen=True)
class Head:
    """The newest public event: where the public log stood when an index was built or checked."""

    cursor: int
    event_id: str | None


@dataclass(frozen=True)
class Snapshot:
    index: RouteIndex
    head: Head


_cache: dict[str, Snapshot] = {}
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def log_head() -> Head:
    row = Event.objects.filter(cursor__isnull=False).order_by("-cursor").values_list("cursor", "event_id").first()
    if row is None or row[0] is None:
        return Head(0, None)
    return Head(row[0], row[1])


def routable_edges(currency: str) -> list[tuple[str, str, int, int]]:
    """The routing view of one currency as plain tuples (a, b, limit_a_to_b, limit_b_to_a)."""
    rows = (
        services.visible_edges(routable_only=True)
        .filter(currency=currency)
        .values_list("party_a", "party_b", "limit_a_to_b", "limit_b_to_a")
    )
    return list(rows.iterator(chunk_size=5000))


def _still_good(snapshot: Snapshot, head: Head) -> bool:
    """Nothing that changes an edge happened between the snapshot's tag and ``head``."""
    tag = snapshot.head
    if tag == head:
        return True
    if tag.cursor > head.cursor:
        return False
    if tag.event_id is not None and not Event.objects.filter(cursor=tag.cursor, event_id=tag.event_id).exists():
        return False  # the log started over
    return not Event.objects.filter(cursor__gt=tag.cursor, cursor__lte=head.cursor, kind__in=EDGE_KINDS).exists()


def route_index(currency: str) -> Snapshot:
    """The routing view of ``currency`` as of the public log's head, built or checked now."""
    head = log_head()
    held = _cache.get(currency)
    if held is not None and _still_good(held, head):
        if held.head != head:
            held = _cache[currency] = Snapshot(held.index, head)
        return held
    with _locks_lock:
        lock = _locks.setdefault(currency, threading.Lock())
    with lock:
        held = _cache.get(currency)  # another thread may have built it meanwhile
        if held is not None and _still_good(held, head):
            return held
        snapshot = Snapshot(RouteIndex(routable_edges(currency)), head)
        _cache[currency] = snapshot
        return snapshot


def forget() -> None:
    """Drop every cached index (tests; an operator after replacing the database is covered by the tag)."""
    _cache.clear()
