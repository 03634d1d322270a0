"""The demo community that ``make run`` loads: a few members, their relationships and trades.

Every state in it is made by the real core and signed with each demo member's own held key, so
the demo exercises the same path as real data. Demo parties are named ``Demo: ...`` and are not
Crawford Bay members. Loading twice adds nothing.
"""

from __future__ import annotations

from django.db import transaction

from foaf import bilateral as core
from foaf.ledger.models import Party, Relationship
from foaf.ledger.services import party_create_with_held_key, relationship_open_custodial, update_custodial

DEMO_PREFIX = "Demo: "
MEMBERS = ["Ada's Bakery", "Bo's Orchard", "Cy the Carpenter", "Dee's Eggs", "Eli's Bikes"]
# (a, b, limit a may owe b, limit b may owe a), in cents
RELATIONSHIPS = [
    (0, 1, 20_000, 15_000),
    (1, 2, 30_000, 30_000),
    (2, 3, 10_000, 25_000),
    (3, 4, 5_000, 5_000),
    (0, 3, 12_000, 8_000),
]
# (relationship index, payer side, op, amount, memo)
TRADES = [
    (0, "a", "payment", 4_500, "two sourdough loaves a week, for May"),
    (1, "b", "payment", 12_000, "shelving for the cold room"),
    (2, "a", "payment", 3_600, "three dozen eggs"),
    (0, "a", "settlement", 2_000, "paid part in cash"),
    (3, "b", "payment", 2_500, "bike tune-up"),
    (4, "b", "payment", 1_800, "eggs for the bakery"),
]
DEMO_TIME = 1_790_000_000


@transaction.atomic
def demo_community_load() -> tuple[int, int]:
    """Create the demo community unless it exists. Returns (members, relationships) present."""
    parties = list(Party.objects.filter(display_name__startswith=DEMO_PREFIX).order_by("id"))
    if len(parties) >= len(MEMBERS):
        return len(parties), Relationship.objects.filter(party_a__in=parties).count()
    parties = [party_create_with_held_key(display_name=DEMO_PREFIX + name) for name in MEMBERS]
    relationships = [
        relationship_open_custodial(
            parties[a], parties[b], limit_a_to_b=ab, limit_b_to_a=ba, currency="CAD", now=DEMO_TIME
        )
        for a, b, ab, ba in RELATIONSHIPS
    ]
    for step, (index, payer, kind, amount, memo) in enumerate(TRADES, start=1):
        op: core.model.Op = (core.Payment if kind == "payment" else core.Settlement)(payer, amount, memo)
        update_custodial(relationships[index], op, proposer=payer, now=DEMO_TIME + 60 * step, nonce=f"{step:032x}")
    return len(parties), len(relationships)
