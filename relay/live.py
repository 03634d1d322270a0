"""Live fan-out: what a WebSocket subscriber receives, and how it is told (docs/relay.md §15).

After a public event or a mailbox message is committed, ``transaction.on_commit`` hands it to the
channel layer (Redis in production and CI, in memory embedded): public events to one group that
every graph or listing subscriber joins, a mailbox message to its recipient's group. A group
message is a shortcut, not the record: the database is. A subscriber keeps, per subscription, the
last cursor (mailbox: seq) it has considered, and

- takes a group message at exactly ``last + 1`` as it is (the common case: no query);
- ignores one at or below ``last`` (already sent from the database: no duplicate);
- on one beyond ``last + 1`` (a notice lost, or two commits' notices crossed), reads everything
  after ``last`` from the database instead (no gap).

Cursors are handed out in commit order without gaps (``LogHead``, ``MailboxHead``), so "everything
after ``last`` in the database" is exactly what the subscriber has not considered yet. Joining the
group before the first database read closes the race between the backlog and live events: an event
committed after the join is announced to us; one committed before it is in the database we read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from relay import services
from relay.models import Event, LogHead
from relay.protocol import Kind
from relay.protocol.frames import GraphFilter, ListingFilter, Stream

logger = logging.getLogger(__name__)

PUBLIC_GROUP = "relay.public"
BATCH = 200
GRAPH_KINDS = frozenset(
    {Kind.RELATIONSHIP.value, Kind.LIMIT.value, Kind.RELATIONSHIP_WITHDRAWAL.value, Kind.CAPACITY_HINT.value}
)
# Events about an edge that never add, remove or re-flag it: they cannot change a neighbourhood.
_EDGE_DETAIL_KINDS = frozenset({Kind.LIMIT.value, Kind.CAPACITY_HINT.value})


def mailbox_group(recipient: str) -> str:
    return f"relay.mailbox.{recipient}"


# --- telling subscribers (called by on_commit, in the process that committed) ------------------
def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # Stored all the same: subscribers read it from the database at the next notice or ping.
        logger.exception("relay: live fan-out to %s failed", group)


def event_committed(cursor: int, envelope: str) -> None:
    """A public event is committed at ``cursor`` (``envelope``: its canonical signed JSON)."""
    _group_send(PUBLIC_GROUP, {"type": "relay.public", "cursor": cursor, "envelope": envelope})


def mailbox_committed(recipient: str, message: dict[str, Any]) -> None:
    """A message for ``recipient`` is committed (``message``: as the recipient receives it)."""
    _group_send(mailbox_group(recipient), {"type": "relay.mailbox", "message": message})


# --- reading what was committed -------------------------------------------------------------------
def public_after(after: int, limit: int = BATCH) -> list[tuple[int, str]]:
    """Public events after cursor ``after``, oldest first."""
    rows = Event.objects.filter(cursor__gt=after).order_by("cursor").values_list("cursor", "envelope")[:limit]
    return [(cursor, envelope) for cursor, envelope in rows if cursor is not None]


def public_head() -> int:
    return LogHead.objects.filter(pk=1).values_list("last_cursor", flat=True).first() or 0


# --- which events a subscription receives -----------------------------------------------------------
def listing_matches(flt: ListingFilter, event: dict[str, Any], *, now: int) -> bool:
    """A ``listing`` that is not expired and matches the filter as search does; every ``listing_withdrawal``
    (it names only the listing: a client ignores withdrawals of listings it never saw)."""
    if event["kind"] == Kind.LISTING_WITHDRAWAL.value:
        return True
    if event["kind"] != Kind.LISTING.value or event["expires"] <= now:
        return False
    body = event["body"]
    if flt.category is not None and body["category"] != flt.category:
        return False
    if flt.type is not None and body["type"] != flt.type:
        return False
    text = services.search_text(body["title"], body["text"], body["category"])
    return all(word in text for word in flt.words)


@dataclass
class Subscription:
    """One named subscription of a connection: its stream, filter and the last cursor considered."""

    name: str
    stream: Stream
    filter: GraphFilter | ListingFilter | None
    last: int
    recipient: str | None = None  # the mailbox stream's authenticated key
    distances: dict[str, int] = field(default_factory=dict)  # graph with a key: the neighbourhood

    @property
    def neighbourhood(self) -> GraphFilter | None:
        flt = self.filter
        return flt if isinstance(flt, GraphFilter) and flt.key is not None else None

    def refresh(self) -> None:
        """Recompute the neighbourhood from the relay's current state (database access)."""
        flt = self.neighbourhood
        if flt is not None and flt.key is not None:
            self.distances = services.neighbourhood(flt.key, depth=flt.depth).distances

    def matches(self, event: dict[str, Any], *, now: int) -> bool:
        if isinstance(self.filter, ListingFilter):
            return listing_matches(self.filter, event, now=now)
        if event["kind"] not in GRAPH_KINDS:
            return False
        flt = self.neighbourhood
        if flt is None:
            return True
        body = event["body"]
        return any(self.distances.get(party, math.inf) < flt.depth for party in (body["a"], body["b"]))

    def reshapes(self, event: dict[str, Any]) -> bool:
        """Whether the event can change this subscription's neighbourhood (a new, changed or
        withdrawn edge at one of its members); limits and capacity hints never do."""
        if self.neighbourhood is None or event["kind"] not in GRAPH_KINDS or event["kind"] in _EDGE_DETAIL_KINDS:
            return False
        return event["body"]["a"] in self.distances or event["body"]["b"] in self.distances
