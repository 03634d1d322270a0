"""Routes over the relay's public graph (docs/routing.md): the routing view of a currency, loaded
into a ``foaf.routing.RouteIndex`` and kept until an edge changes.

What is loaded is exactly what the routing view of the graph serves (docs/relay.md §6.2, §8.4 with
``routable=true``): edges announced, not withdrawn, public and routable, with their two limits,
and the capacity hints in effect on them (§4.7: a bucket exponent per direction, until it expires).
Never a non-public edge, never a balance: the relay has none.

The cache, per process and per currency, is tagged with the public log's head, the newest public
event (its cursor and id), read **before** the edges:

- Every change to a served edge (an announcement, limit, withdrawal or capacity hint of a public
  relationship) is a public event, so it moves the head. Events about non-public relationships do
  not, and change nothing that is served.
- A hint stops counting when it expires, with no event: an index that used hints is good only
  until the earliest of their expiries, then rebuilt without them.
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
import time
from dataclasses import dataclass

from foaf.routing import RouteIndex
from relay import services
from relay.models import Event
from relay.protocol import Kind

EDGE_KINDS = (
    Kind.RELATIONSHIP.value,
    Kind.LIMIT.value,
    Kind.RELATIONSHIP_WITHDRAWAL.value,
    Kind.CAPACITY_HINT.value,
)


@dataclass(frozen=True)
class Head:
    """The newest public event: where the public log stood when an index was built or checked."""

    cursor: int
    event_id: str | None


@dataclass(frozen=True)
class Snapshot:
    index: RouteIndex
    head: Head
    stale_at: int | None = None  # the earliest expiry of a hint it uses: rebuilt from then on


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


def routable_hints(currency: str, *, now: int) -> tuple[dict[tuple[str, str], int], int | None]:
    """The hints in effect at ``now`` on the routing view of one currency, as ``RouteIndex`` takes
    them (``{(payer, payee): exponent}``), and the earliest of their expiries (None: no hint)."""
    rows = (
        services.hints_in_effect(now=now)
        .filter(edge__currency=currency)
        .values_list("edge__party_a", "edge__party_b", "direction", "exponent", "expires")
    )
    hints: dict[tuple[str, str], int] = {}
    earliest: int | None = None
    for a, b, direction, exponent, expires in rows.iterator(chunk_size=5000):
        hints[(a, b) if direction == "a_to_b" else (b, a)] = exponent
        earliest = expires if earliest is None else min(earliest, expires)
    return hints, earliest


def _still_good(snapshot: Snapshot, head: Head, now: int) -> bool:
    """Nothing that changes an edge happened between the snapshot's tag and ``head``, and no hint
    it uses has expired."""
    if snapshot.stale_at is not None and now >= snapshot.stale_at:
        return False
    tag = snapshot.head
    if tag == head:
        return True
    if tag.cursor > head.cursor:
        return False
    if tag.event_id is not None and not Event.objects.filter(cursor=tag.cursor, event_id=tag.event_id).exists():
        return False  # the log started over
    return not Event.objects.filter(cursor__gt=tag.cursor, cursor__lte=head.cursor, kind__in=EDGE_KINDS).exists()


def route_index(currency: str, *, now: int | None = None) -> Snapshot:
    """The routing view of ``currency`` as of the public log's head and the relay's clock ``now``
    (unix seconds; default: the time now), built or checked now."""
    now = int(time.time()) if now is None else now
    head = log_head()
    held = _cache.get(currency)
    if held is not None and _still_good(held, head, now):
        if held.head != head:
            held = _cache[currency] = Snapshot(held.index, head, held.stale_at)
        return held
    with _locks_lock:
        lock = _locks.setdefault(currency, threading.Lock())
    with lock:
        held = _cache.get(currency)  # another thread may have built it meanwhile
        if held is not None and _still_good(held, head, now):
            return held
        edges = routable_edges(currency)
        hints, stale_at = routable_hints(currency, now=now)
        snapshot = Snapshot(RouteIndex(edges, hints=hints), head, stale_at)
        _cache[currency] = snapshot
        return snapshot


def forget() -> None:
    """Drop every cached index (tests; an operator after replacing the database is covered by the tag)."""
    _cache.clear()
