"""Tables of the bilateral ledger. Rows are written only through ``foaf.ledger.services``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Party(models.Model):
    """A member's identity: a stable id (the hex of its inception key) and its current key."""

    party_id = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "parties"

    def __str__(self) -> str:
        return self.display_name or self.party_id[:16]


class HeldKey(models.Model):
    """A private key the service holds for a party until the member claims their account.

    The seed is sealed (XSalsa20-Poly1305) under the key-encryption key from settings, with the
    public key as the associated identity check on unseal. It is never logged or shown; when the
    member moves to a key of their own the seed is wiped and ``destroyed_at`` records when.
    """

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="held_keys")
    public_key = models.CharField(max_length=64, unique=True)
    sealed_seed = models.BinaryField(null=True, editable=False)
    kek_id = models.CharField(max_length=16, help_text="which key-encryption key sealed it")
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(destroyed_at__isnull=True, sealed_seed__isnull=False)
                | Q(destroyed_at__isnull=False, sealed_seed__isnull=True),
                name="held_key_sealed_until_destroyed",
            )
        ]

    def __str__(self) -> str:
        return f"held key {self.public_key[:16]} of {self.party}"


class Relationship(models.Model):
    """A bilateral channel. The head fields mirror the newest stored state, for queries only:
    the log is the record, and ``check_ledger`` recomputes them from it."""

    class Status(models.TextChoices):
        OPEN = "open"
        FROZEN = "frozen"
        CLOSED = "closed"

    channel_id = models.CharField(max_length=64, unique=True)
    party_a = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="relationships_as_a")
    party_b = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="relationships_as_b")
    currency = models.CharField(max_length=8)
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    balance = models.BigIntegerField(help_text="cents; > 0 means party a owes party b")
    limit_a_to_b = models.BigIntegerField(help_text="cents party a may owe party b")
    limit_b_to_a = models.BigIntegerField(help_text="cents party b may owe party a")
    status = models.CharField(max_length=8, choices=Status.choices)
    genesis_complete = models.BooleanField(
        help_text="both members have signed the genesis, or the newest state of an imported prefix"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(party_a=models.F("party_b")), name="relationship_two_parties"),
            models.CheckConstraint(condition=Q(head_seq__gte=0), name="relationship_head_seq_natural"),
        ]

    def __str__(self) -> str:
        return f"{self.party_a} ~ {self.party_b}"


class StateEntry(models.Model):
    """One co-signed state of a relationship's log, stored as its exact canonical bytes.

    Append-only. The database itself refuses a fork (``prev`` is unique), a dangling or
    cross-relationship link, a sequence number that does not follow its predecessor's, a second
    entry at one sequence number, an entry that is neither co-signed nor operator-attested, and any
    change to a stored entry except adding a missing member signature (triggers in migration 0002).
    """

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="entries")
    seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64, unique=True)
    prev = models.OneToOneField(
        "self",
        to_field="state_hash",
        db_column="prev_hash",
        null=True,
        on_delete=models.PROTECT,
        related_name="next_entry",
    )
    canonical = models.TextField(help_text="the state's RFC 8785 bytes, exactly as hashed and signed")
    nonce = models.CharField(max_length=32, help_text="the update's nonce, for idempotent retries")
    sig_a = models.CharField(max_length=128, null=True)
    sig_b = models.CharField(max_length=128, null=True)
    attest_key = models.CharField(max_length=64, null=True)
    attest_sig = models.CharField(max_length=128, null=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["relationship", "seq"], name="state_entry_one_per_seq"),
            models.CheckConstraint(
                condition=Q(seq=0, prev__isnull=True) | Q(seq__gt=0, prev__isnull=False),
                name="state_entry_genesis_has_no_prev",
            ),
            models.CheckConstraint(
                condition=Q(attest_key__isnull=False) | Q(sig_a__isnull=False, sig_b__isnull=False),
                name="state_entry_cosigned_or_attested",
            ),
            models.CheckConstraint(
                condition=Q(attest_key__isnull=True, attest_sig__isnull=True)
                | Q(attest_key__isnull=False, attest_sig__isnull=False),
                name="state_entry_attestation_whole",
            ),
        ]
        indexes = [models.Index(fields=["relationship", "nonce"], name="state_entry_by_nonce")]
        ordering = ["relationship_id", "seq"]
        verbose_name_plural = "state entries"

    def __str__(self) -> str:
        return f"{self.relationship_id}#{self.seq}"


class PendingProposal(models.Model):
    """A proposed next state awaiting the counterparty, and how it ended."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        EXPIRED = "expired"
        SUPERSEDED = "superseded"

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="proposals")
    seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64, unique=True)
    proposer = models.CharField(max_length=1, choices=[("a", "a"), ("b", "b")])
    canonical = models.TextField()
    proposer_sig = models.CharField(max_length=128)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reject_reason = models.CharField(max_length=64, blank=True)
    reject_message = models.TextField(blank=True, help_text="the signed reject, canonical JSON")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "deadline"], name="proposal_open_by_deadline")]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "seq", "proposer"],
                condition=Q(status="open"),
                name="proposal_one_open_per_side_and_seq",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="proposal_resolved_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"proposal {self.relationship_id}#{self.seq} by {self.proposer} ({self.status})"


class EquivocationRecord(models.Model):
    """Two different fully co-signed states at one sequence number, kept as the fraud proof."""

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="equivocations")
    seq = models.BigIntegerField()
    proof = models.TextField(help_text="the equivocation proof, canonical JSON, verifiable by anyone")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["relationship", "seq"], name="equivocation_once_per_seq")]


# --- multi-hop payments of members whose keys the service holds (foaf.ledger.hosting) -----------
class SentReject(models.Model):
    """A signed reject a hosted member sent for its peer's proposal: kept until a state is committed
    at that seq, so a restarted member answers the same proposal the same way (bilateral §7.7)."""

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="sent_rejects")
    seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64)
    rejector = models.CharField(max_length=1, choices=[("a", "a"), ("b", "b")])
    message = models.TextField(help_text="the signed reject, canonical JSON")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["state_hash", "rejector"], name="sent_reject_once")]


class Route(models.Model):
    """A route of a multi-hop payment that a hosted member is on (docs/spec/routing.md §4)."""

    route_hash = models.CharField(max_length=64, unique=True)
    payment = models.CharField(max_length=32, db_index=True)
    payer_id = models.CharField(max_length=64, db_index=True)
    purpose = models.CharField(max_length=8)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    hops = models.PositiveSmallIntegerField()
    canonical = models.TextField(help_text="the signed route, canonical JSON")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"route {self.route_hash[:12]} ({self.purpose} {self.amount} {self.currency}, {self.hops} hops)"


class RouteNode(models.Model):
    """A hosted member's role on a route: its decision machine's fields (foaf.routing.node.Node)."""

    class Outcome(models.TextChoices):
        PENDING = "pending"
        SETTLED = "settled"
        CANCELLED = "cancelled"
        DISPUTED = "disputed"

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="route_nodes")
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="nodes")
    index = models.PositiveSmallIntegerField()
    state = models.JSONField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.CharField(max_length=40, default="OK")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route", "index"], name="route_node_once_per_index")]
        indexes = [models.Index(fields=["outcome", "party"], name="route_node_by_outcome")]


class RouteReport(models.Model):
    """The newest signed report on one hop of a route, kept for the payer's progress view."""

    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="reports")
    hop = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10)
    reason = models.CharField(max_length=40)
    message = models.TextField(help_text="the signed route_status, canonical JSON")
    reported_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route", "hop"], name="route_report_once_per_hop")]


class Invoice(models.Model):
    """An invoice a hosted member issued; the preimage is sealed like a held key until it is used."""

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="invoices")
    payment = models.CharField(max_length=32, unique=True)
    canonical = models.TextField(help_text="the signed invoice, canonical JSON")
    sealed_preimage = models.BinaryField(editable=False)
    kek_id = models.CharField(max_length=16)
    paid = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)


class Delivery(models.Model):
    """Bytes one party sends another, kept until delivered: written in the same transaction as the
    state that produced them, sent after commit, retried with backoff, and given up after a while."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    sender_id = models.CharField(max_length=64)
    recipient_id = models.CharField(max_length=64, db_index=True)
    data = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]
        verbose_name_plural = "deliveries"
