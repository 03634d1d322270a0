"""Which of two signed statements about the same thing wins, independent of arrival order.

The relay's state is a set of registers: a relationship's edge (written by announcements and
withdrawals), each of its two limits (announcements, and limit updates by the party that owns the
limit), a member's profile, and each listing (the listing and its withdrawal). A register holds
the event with the greatest precedence ``(version, rank, event id)``: the higher version wins; at
equal versions a withdrawal (rank 1) beats anything else (rank 0), so a party can always take an
edge down even if the other side has used up the versions; remaining ties go to the greater event
id. An event that would win no register it writes is refused as stale. Because the winner of each
register is the maximum over the events seen, relays that receive the same events in any order
(federation) end up holding the same state.
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
