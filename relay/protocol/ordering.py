"""Which of two signed statements about the same thing wins, independent of arrival order.

The relay's state is a set of registers. A relationship has six: its announcement, its
withdrawal, each of its two limits (written by announcements and by limit updates of the
party that owns the limit), and a capacity hint per direction (written by the party the direction
starts from; a hint must also beat the withdrawal, so a withdrawal takes the hints down with it).
A member has a profile register; each listing one register (the listing and its withdrawal). A
register holds the event with the greatest precedence ``(version, rank, event id)``: the higher
version wins; at equal versions a withdrawal (rank 1) beats anything else (rank 0); remaining
ties go to the greater event id. A relationship is withdrawn while its withdrawal outranks its
announcement, so a party can always take an edge down, even at the greatest version, and only a
newer announcement brings it back. An event that would win no register it writes is refused as
stale. Because each register holds the maximum of the events seen, relays that receive the same
events in any order (federation), each relationship's announcement first, end up holding the
same state.
"""

from __future__ import annotations

from dataclasses import dataclass

from .envelope import Event
from .kinds import Kind

WITHDRAWALS = frozenset({Kind.RELATIONSHIP_WITHDRAWAL, Kind.LISTING_WITHDRAWAL})


@dataclass(frozen=True, order=True, slots=True)
class Precedence:
    version: int
    rank: int
    event_id: str

    def beats(self, held: Precedence | None) -> bool:
        return held is None or self > held


def precedence(event: Event) -> Precedence:
    return Precedence(event.body.version, 1 if event.kind in WITHDRAWALS else 0, event.id)
