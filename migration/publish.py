"""The imported community on the relay: members' profiles, their relationships and limits, and
the legacy listings as offers, each signed with the member's key the service holds.

The relay (``relay.services.event_accept``) verifies each event as it would a member's; it never
sees a balance. What is published, for each Crawford Bay member whose key the service still holds
(demo accounts stay off the public relay; a member who has claimed their key publishes for
themselves):
- a ``profile``: display name, this relay's origin, a mailbox key derived from the member's key
  (``foaf.ledger.keys.mailbox_keypair``), version = the legacy row's ``updated_at`` (unix);
- for each open imported relationship between two such members, an announcement co-signed by
  both, with the limits of the relationship's newest bilateral state, version = that state's
  seq + 1; a relationship that is closed is withdrawn (once announced) or left unpublished;
- for each legacy item, a ``listing`` (an offer) with a listing id derived from the legacy id,
  version = ``updated_at`` (unix), expiring 400 days after publication (the longest the relay
  takes; publish again to renew).

Idempotent: every event is made the same way each time (its ``created`` is the time of what it
states, not of the publication, and Ed25519 signatures are deterministic), so publishing again
gives the same events, which the relay answers ``duplicate``; a thing that changed gets a greater
version. Counted as unchanged: duplicates, and ``event_stale_version`` (the relay holds something
newer, e.g. the member published since). Re-running after a crash publishes the rest; each event
is its own transaction on the relay. A listing's ``created`` is its legacy ``updated_at``, or the
last finished import when that is later (the relay takes no listing older than 400 days).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from foaf import bilateral as core
from foaf.ledger import keys
from foaf.ledger.models import HeldKey, Party, Relationship
from foaf.ledger.services import head_state, party_held_secrets
from migration import models as m
from relay.models import Edge
from relay.protocol import (
    MAX_LISTING_LIFETIME,
    MAX_NAME_BYTES,
    MAX_TITLE_BYTES,
    EventError,
    Kind,
    RelayErrorCode,
    cosign_event,
    relationship_id,
    sign_event,
)
from relay.services import Outcome, event_accept

CURRENCY = "CAD"
UNCHANGED_CODES = {RelayErrorCode.EVENT_STALE_VERSION}


@dataclass
class Published:
    """What a publication did, by kind: stored, unchanged (already there) and skipped by reason."""

    stored: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        kinds = sorted(set(self.stored) | set(self.unchanged) | {k.split(":")[0] for k in self.skipped})
        return {
            kind: {
                "stored": self.stored[kind],
                "unchanged": self.unchanged[kind],
                "skipped": {k.split(":", 1)[1]: n for k, n in self.skipped.items() if k.split(":")[0] == kind},
            }
            for kind in kinds
        }


def listing_id(legacy_item_id: int) -> str:
    """The relay listing id of a legacy item (docs/relay.md §4.5): stable, so publishing is idempotent."""
    return hashlib.sha256(f"growoperative-item:{legacy_item_id}".encode()).hexdigest()[:32]


def publish_imported(*, now: int) -> Published:
    """Publish the imported Crawford Bay community on this deployment's relay (see the module doc)."""
    done = Published()
    held = _held_secrets()
    signers = {party: secrets.signer for party, secrets in held.items()}
    members = m.Member.objects.filter(community=m.Community.CRAWFORD_BAY).select_related("party").order_by("pk")
    for member in members:
        secrets = held.get(member.party_id)
        if secrets is None:
            done.skipped["profile:member holds their own key"] += 1
            continue
        body = _profile_body(member, secrets)
        created = min(body["version"], now)
        _publish(done, Kind.PROFILE, sign_event(Kind.PROFILE, body, secrets.signer, now=created), now)
    lines = (
        m.Trustline.objects.filter(community=m.Community.CRAWFORD_BAY, relationship__isnull=False)
        .select_related("relationship__party_a", "relationship__party_b")
        .order_by("pk")
    )
    for line in lines:
        assert line.relationship is not None
        _publish_relationship(done, line.relationship, signers, now)
    members_by_id = {mem.legacy_id: mem for mem in members}
    categories = dict(m.Category.objects.values_list("legacy_id", "name"))
    last_import = (
        m.ImportRun.objects.filter(status=m.ImportRun.Status.FINISHED, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    listed_since = min(now, int(last_import.timestamp())) if last_import else now
    for item in m.Listing.objects.order_by("pk"):
        owner = members_by_id.get(item.member_legacy_id) if item.member_legacy_id is not None else None
        if owner is None:
            done.skipped["listing:not a Crawford Bay member's"] += 1
            continue
        signer = signers.get(owner.party_id)
        if signer is None:
            done.skipped["listing:member holds their own key"] += 1
            continue
        body = _listing_body(item, categories)
        created = max(min(body["version"], now), listed_since)
        envelope = sign_event(Kind.LISTING, body, signer, now=created, expires=created + MAX_LISTING_LIFETIME)
        _publish(done, Kind.LISTING, envelope, now)
    return done


def _held_secrets() -> dict[int, keys.HeldSecrets]:
    """The held keys of every party whose current key the service holds (by party pk)."""
    held = HeldKey.objects.filter(destroyed_at__isnull=True).values_list("party_id", flat=True)
    parties = Party.objects.filter(pk__in=held)
    return {party.pk: party_held_secrets(party) for party in parties}


def _publish(done: Published, kind: Kind, envelope: dict[str, Any], now: int) -> None:
    try:
        accepted = event_accept(envelope, now=now)
    except EventError as e:
        if e.code in UNCHANGED_CODES:
            done.unchanged[kind.value] += 1
            return
        raise
    if accepted.outcome is Outcome.DUPLICATE:
        done.unchanged[kind.value] += 1
    else:
        done.stored[kind.value] += 1


def _profile_body(member: m.Member, secrets: keys.HeldSecrets) -> dict[str, Any]:
    name = _cut(member.display_name or member.name or member.user_name or f"member {member.legacy_id}", MAX_NAME_BYTES)
    origin = settings.RELAY_ORIGIN
    return {
        "name": name,
        "relays": [origin] if origin else [],
        "mailbox_key": secrets.mailbox_public_key,
        "version": int(member.updated_at.timestamp()),
    }


def _publish_relationship(
    done: Published, relationship: Relationship, signers: dict[int, core.SeedSigner], now: int
) -> None:
    a_signer, b_signer = signers.get(relationship.party_a_id), signers.get(relationship.party_b_id)
    if a_signer is None or b_signer is None:
        done.skipped["relationship:a member holds their own key"] += 1
        return
    state = head_state(relationship)
    # The relay names the parties in key order; the bilateral state in channel order.
    swap = state.a.key > state.b.key
    first, second = (b_signer, a_signer) if swap else (a_signer, b_signer)
    key_a, key_b = (state.b.key, state.a.key) if swap else (state.a.key, state.b.key)
    version = state.seq + 1
    if state.status != "open":
        body = {"a": key_a, "b": key_b, "currency": state.currency, "version": version}
        if not relationship_announced(key_a, key_b, state.currency):
            done.skipped["relationship:closed, never announced"] += 1
            return
        withdrawal = sign_event(Kind.RELATIONSHIP_WITHDRAWAL, body, first, now=min(state.update.created, now))
        _publish(done, Kind.RELATIONSHIP_WITHDRAWAL, withdrawal, now)
        return
    limit_a_to_b, limit_b_to_a = (
        (state.limit_b_to_a, state.limit_a_to_b) if swap else (state.limit_a_to_b, state.limit_b_to_a)
    )
    body = {
        "a": key_a,
        "b": key_b,
        "currency": state.currency,
        "limit_a_to_b": limit_a_to_b,
        "limit_b_to_a": limit_b_to_a,
        "routable": True,
        "public": True,
        "version": version,
    }
    created = min(state.update.created, now)
    envelope = cosign_event(sign_event(Kind.RELATIONSHIP, body, first, now=created), second)
    _publish(done, Kind.RELATIONSHIP, envelope, now)


def relationship_announced(key_a: str, key_b: str, currency: str) -> bool:
    return Edge.objects.filter(relationship_id=relationship_id(key_a, key_b, currency)).exists()


def _listing_body(item: m.Listing, categories: dict[int, str | None]) -> dict[str, Any]:
    category = _slug(categories.get(item.category_legacy_id or -1) or "") or "other"
    quantity = None if item.quantity is None else _decimal_text(item.quantity)
    return {
        "listing": listing_id(item.legacy_id),
        "type": "offer",
        "title": _cut(item.name or f"item {item.legacy_id}", MAX_TITLE_BYTES),
        "text": "",
        "category": category,
        "quantity": quantity,
        "price_cents": item.price,
        "currency": CURRENCY if item.price is not None else None,
        "version": int(item.updated_at.timestamp()),
    }


def _cut(text: str, max_bytes: int) -> str:
    """``text`` on one line, at most ``max_bytes`` UTF-8 bytes (cut at a character boundary)."""
    line = " ".join(text.split()) or "-"
    data = line.encode("utf-8")[:max_bytes]
    return data.decode("utf-8", errors="ignore")


def _slug(name: str) -> str:
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split()
    return "-".join(words)[:40].strip("-")


def _decimal_text(value: Decimal) -> str | None:
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    if value < 0 or len(whole) > 10 or len(frac) > 5:
        return None  # not a quantity the relay can state exactly: left out
    return text
