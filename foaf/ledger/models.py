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
