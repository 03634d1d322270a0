"""Tables of the relay. Rows are written only through ``relay.services``.

``Event`` is the record: every accepted event's signed envelope, exactly as verified, append-only.
``Edge`` (with its ``CapacityHint`` registers), ``Profile`` and ``Listing`` are the current state
derived from it (docs/relay.md §6): each register points at the stored event that holds it, so no
state row exists without a signed event behind it. Nothing here holds a balance or a payment: the
relay never sees them.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from relay.protocol import Precedence


class LogHead(models.Model):
    """A single row: the cursor of the newest public event.

    Every accept locks it, so cursors are handed out in commit order and without gaps: a reader
    that has seen cursor n never later finds a new public event at or below n.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_cursor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="relay_log_head_single_row")]


class Event(models.Model):
    """A verified event. Public events have a ``cursor`` (their place in the public log); events
    about a non-public relationship have none and are never served."""

    event_id = models.CharField(max_length=64, unique=True, help_text="hex SHA-256 of the unsigned envelope")
    kind = models.CharField(max_length=32)
    author = models.CharField(max_length=64, db_index=True)
    created = models.BigIntegerField(help_text="unix seconds, as signed")
    expires = models.BigIntegerField(null=True, blank=True, help_text="unix seconds, as signed")
    cursor = models.BigIntegerField(null=True, blank=True, unique=True, help_text="null: not public, never served")
    envelope = models.TextField(help_text="the signed envelope's canonical JSON (JCS), exactly as verified")
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(cursor__isnull=True) | Q(cursor__gte=1), name="relay_event_cursor_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id[:16]}"


# Every state row points at the stored event holding each of its registers, by event id (the
# column holds the hex id itself): a state row cannot exist without a verified event behind it.
_BY_EVENT_ID: dict[str, Any] = {"to": Event, "to_field": "event_id", "on_delete": models.PROTECT, "related_name": "+"}


class Edge(models.Model):
    """A relationship of the public graph: who, which currency, both limits, the flags.

    Four registers (``relay.protocol.ordering``): the announcement (``public``, ``routable``,
    ``version``), the withdrawal, and each limit (the newest announcement or limit update by the
    party that owns the limit). The edge is withdrawn while its withdrawal outranks its
    announcement. Served only while announced, not withdrawn, and public.
    """

    relationship_id = models.CharField(max_length=64, unique=True)
    party_a = models.CharField(max_length=64, db_index=True)
    party_b = models.CharField(max_length=64, db_index=True)
    currency = models.CharField(max_length=3)
    public = models.BooleanField(help_text="as the newest announcement says; never served when false")
    routable = models.BooleanField(help_text="as the newest announcement says; left out of routing views when false")
    version = models.BigIntegerField(help_text="of the newest announcement")
    announcement = models.ForeignKey(**_BY_EVENT_ID)
    withdrawal_version = models.BigIntegerField(null=True, blank=True)
    withdrawal = models.ForeignKey(**_BY_EVENT_ID, null=True, blank=True)
    withdrawn = models.BooleanField(help_text="the withdrawal outranks the announcement (kept in step with both)")
    limit_a_to_b = models.BigIntegerField(help_text="cents a may owe b: the credit b extends to a")
    limit_a_to_b_version = models.BigIntegerField()
    limit_a_to_b_event = models.ForeignKey(**_BY_EVENT_ID)
    limit_b_to_a = models.BigIntegerField(help_text="cents b may owe a: the credit a extends to b")
    limit_b_to_a_version = models.BigIntegerField()
    limit_b_to_a_event = models.ForeignKey(**_BY_EVENT_ID)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(party_a__lt=models.F("party_b")), name="relay_edge_parties_ordered"),
            models.CheckConstraint(condition=Q(limit_a_to_b__gte=0, limit_b_to_a__gte=0), name="relay_edge_limits"),
            models.CheckConstraint(
                condition=Q(withdrawal__isnull=True, withdrawal_version__isnull=True, withdrawn=False)
                | Q(withdrawal__isnull=False, withdrawal_version__isnull=False),
                name="relay_edge_withdrawal_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party_a[:8]}-{self.party_b[:8]} {self.currency}"

    @property
    def visible(self) -> bool:
        return self.public and not self.withdrawn

    @property
    def announcement_precedence(self) -> Precedence:
        return Precedence(self.version, 0, self.announcement_id)

    @property
    def withdrawal_precedence(self) -> Precedence | None:
        if self.withdrawal_id is None or self.withdrawal_version is None:
            return None
        return Precedence(self.withdrawal_version, 1, self.withdrawal_id)

    def limit_precedence(self, direction: str) -> Precedence:
        return Precedence(getattr(self, f"{direction}_version"), 0, getattr(self, f"{direction}_event_id"))

    def settle_withdrawn(self) -> None:
        """Recompute ``withdrawn`` from the two registers (before saving)."""
        withdrawal = self.withdrawal_precedence
        self.withdrawn = withdrawal is not None and withdrawal.beats(self.announcement_precedence)


class CapacityHint(models.Model):
    """The capacity hint register of one direction of an edge: the newest ``capacity_hint`` by the
    party the direction starts from (docs/relay.md §4.7, §6.1). Only the bucket: ``exponent`` n
    says "this direction can carry below 2**n now", until ``expires``; never an amount.

    In effect (served, and given to the router) while the edge is served in the routing view, the
    hint has not expired, and its version is greater than the edge's withdrawal's, if any: a
    withdrawal takes the hints down with the edge.
    """

    DIRECTIONS = (("a_to_b", "a pays b"), ("b_to_a", "b pays a"))

    edge = models.ForeignKey(Edge, on_delete=models.PROTECT, related_name="hints")
    direction = models.CharField(max_length=6, choices=DIRECTIONS)
    exponent = models.PositiveSmallIntegerField(help_text="below 2**exponent: a bucket, not an amount")
    expires = models.BigIntegerField(db_index=True, help_text="unix seconds, as signed; ignored after")
    version = models.BigIntegerField()
    event = models.ForeignKey(**_BY_EVENT_ID)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["edge", "direction"], name="relay_hint_once_per_direction"),
            models.CheckConstraint(condition=Q(direction__in=("a_to_b", "b_to_a")), name="relay_hint_direction"),
            models.CheckConstraint(condition=Q(exponent__lte=64), name="relay_hint_exponent"),
        ]

    def __str__(self) -> str:
        return f"{self.edge} {self.direction} < 2**{self.exponent}"

    @property
    def precedence(self) -> Precedence:
        return Precedence(self.version, 0, self.event_id)


class Profile(models.Model):
    """A member's newest profile."""

    key = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=64)
    relays = models.JSONField()
    mailbox_key = models.CharField(max_length=64)
    version = models.BigIntegerField()
    event = models.ForeignKey(**_BY_EVENT_ID)

    def __str__(self) -> str:
        return self.name

    @property
    def precedence(self) -> Precedence:
        return Precedence(self.version, 0, self.event_id)


class Listing(models.Model):
    """An offer or a want, by (author, listing id). A withdrawal keeps the row as a tombstone
    (``withdrawn``), so that an older copy delivered later is refused as stale."""

    author = models.CharField(max_length=64)
    listing = models.CharField(max_length=32)
    withdrawn = models.BooleanField()
    type = models.CharField(max_length=8, blank=True)
    title = models.CharField(max_length=120, blank=True)
    text = models.TextField(blank=True)
    category = models.CharField(max_length=40, blank=True, db_index=True)
    quantity = models.CharField(max_length=20, null=True, blank=True)
    price_cents = models.BigIntegerField(null=True, blank=True, help_text="asking price per unit")
    currency = models.CharField(max_length=3, null=True, blank=True)
    created = models.BigIntegerField(null=True, blank=True)
    expires = models.BigIntegerField(null=True, blank=True, db_index=True)
    search_text = models.TextField(blank=True, help_text="title, text and category, case-folded, for search")
    version = models.BigIntegerField()
    rank = models.SmallIntegerField()
    event = models.ForeignKey(**_BY_EVENT_ID)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["author", "listing"], name="relay_listing_once_per_author")]
        indexes = [models.Index(fields=["author", "withdrawn", "expires"], name="relay_listing_author_live")]

    def __str__(self) -> str:
        return self.title or self.listing

    @property
    def precedence(self) -> Precedence:
        return Precedence(self.version, self.rank, self.event_id)


# --- mailboxes and signed-request nonces (docs/relay.md: Mailboxes, Authentication) -------------
class MailboxHead(models.Model):
    """One row per recipient: the sequence number of its newest message.

    A deposit locks it, so a recipient's messages get consecutive ``seq`` 1, 2, 3 ... in commit
    order, and the bounds (count, bytes) are checked with no other deposit to that mailbox in
    between. It is never deleted, so a sequence number is never handed out twice.
    """

    recipient = models.CharField(max_length=64, unique=True, help_text="the recipient's Ed25519 key (hex)")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"mailbox {self.recipient[:16]} @{self.last_seq}"


class MailboxMessage(models.Model):
    """An end-to-end encrypted message waiting for its recipient's devices.

    The relay holds only what it needs to route and bound it: sender, recipient, size, times and
    the ciphertext, which it cannot read (a NaCl box to the recipient's mailbox key). It also keeps
    the sender's signed deposit request (timestamp, nonce, signature), so the sender's name on a
    message is a signed statement, not the relay's word. An acknowledged message loses its
    ciphertext at once and stays as a tombstone (``acked_at``) until it expires, so that a late
    retry of the same deposit is answered ``duplicate`` instead of being delivered again.
    """

    recipient = models.CharField(max_length=64, help_text="the recipient's Ed25519 key (hex)")
    seq = models.BigIntegerField(help_text="place in the recipient's mailbox: 1, 2, 3 ... without gaps")
    message_id = models.CharField(max_length=64, help_text="hex SHA-256 of the ciphertext")
    sender = models.CharField(max_length=64, help_text="the depositor's Ed25519 key (hex), authenticated")
    ciphertext = models.BinaryField(null=True, help_text="opaque to the relay; null once acknowledged")
    size = models.PositiveIntegerField(help_text="bytes of ciphertext")
    deposited = models.BigIntegerField(help_text="unix seconds, the relay's clock")
    expires = models.BigIntegerField(db_index=True, help_text="unix seconds; purged after")
    acked_at = models.BigIntegerField(null=True, blank=True, help_text="unix seconds; set when acknowledged")
    auth_timestamp = models.BigIntegerField(help_text="of the sender's signed deposit request")
    auth_nonce = models.CharField(max_length=32, help_text="of the sender's signed deposit request (hex)")
    auth_sig = models.CharField(max_length=128, help_text="the sender's signature of the deposit request (hex)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "seq"], name="relay_mailbox_seq_once"),
            models.UniqueConstraint(fields=["recipient", "message_id"], name="relay_mailbox_message_once"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="relay_mailbox_seq_positive"),
            models.CheckConstraint(
                condition=Q(acked_at__isnull=True, ciphertext__isnull=False)
                | Q(acked_at__isnull=False, ciphertext__isnull=True),
                name="relay_mailbox_acked_has_no_ciphertext",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender[:8]}->{self.recipient[:8]} #{self.seq}"


class AuthNonce(models.Model):
    """A nonce of a signed HTTP request, kept until its timestamp can no longer be accepted: a
    second request with the same key and nonce is a replay."""

    key = models.CharField(max_length=64)
    nonce = models.CharField(max_length=32)
    expires = models.BigIntegerField(db_index=True, help_text="unix seconds; purged after")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "nonce"], name="relay_auth_nonce_once")]

    def __str__(self) -> str:
        return f"{self.key[:16]} {self.nonce}"


from relay.federation import PeerCursor, PeerDeferredEvent  # noqa: E402, F401  (registers them; docs/relay.md §12)
