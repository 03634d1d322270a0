"""Tables of anchoring. Rows are written only through ``anchoring.services``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from foaf.ledger.models import Party, Relationship


class AnchorRequest(models.Model):
    """A party asks for one state of one of its relationships to be anchored."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for the next batch
        BATCHED = "batched"  # a leaf of a batch not yet committed
        ANCHORED = "anchored"  # its batch is committed: a proof can be given
        FAILED = "failed"  # its batch failed; the request is not retried by itself

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="anchor_requests")
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="anchor_requests")
    seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64)
    urgent = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party", "relationship", "seq"], name="anchor_request_once_per_state"),
            models.CheckConstraint(condition=Q(seq__gte=0), name="anchor_request_seq_natural"),
        ]
        indexes = [models.Index(fields=["status", "id"], name="anchor_request_by_status")]

    def __str__(self) -> str:
        return f"anchor {self.relationship_id}#{self.seq} for {self.party_id}"


class AnchorBatch(models.Model):
    """One Merkle tree over the leaves of some requests, and where its root went.

    ``intent_id`` is recorded before the root is handed to the backend, so a worker that dies
    between submitting and reading the status leaves enough for the next run to ask again.
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # built, not yet submitted
        SUBMITTED = "submitted"  # handed to the backend under intent_id
        COMMITTED = "committed"
        FAILED = "failed"

    root = models.CharField(max_length=64, db_index=True)
    leaf_count = models.PositiveIntegerField()
    backend = models.CharField(max_length=16)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    intent_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    tx_id = models.CharField(max_length=128, blank=True, help_text="where the backend committed it")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "anchor batches"
        constraints = [
            models.CheckConstraint(condition=Q(leaf_count__gte=1), name="anchor_batch_not_empty"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(intent_id__isnull=False), name="anchor_batch_intent_before_submit"
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.leaf_count} leaves, {self.status})"


class Inclusion(models.Model):
    """A request's leaf in a batch, at its index."""

    request = models.OneToOneField(AnchorRequest, on_delete=models.PROTECT, related_name="inclusion")
    batch = models.ForeignKey(AnchorBatch, on_delete=models.PROTECT, related_name="inclusions")
    index = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="inclusion_one_leaf_per_index")]
        ordering = ["batch_id", "index"]

    def __str__(self) -> str:
        return f"leaf {self.index} of batch {self.batch_id}"


class LocalLogEntry(models.Model):
    """The local backend's append-only, hash-chained log of roots (docs/spec/anchoring.md §6).

    The database keeps it a chain: ``seq`` and ``prev_hash`` are unique, and triggers (migration
    0002) refuse an entry whose ``prev_hash`` is not the ``entry_hash`` at ``seq - 1``, any update,
    and (PostgreSQL) any delete.
    """

    seq = models.BigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, unique=True)
    entry_hash = models.CharField(max_length=64, unique=True)
    intent_id = models.CharField(max_length=128, unique=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "local log entries"
        constraints = [models.CheckConstraint(condition=Q(seq__gte=0), name="local_log_seq_natural")]

    def __str__(self) -> str:
        return f"local log {self.seq}"


class RadixTransaction(models.Model):
    """One Babylon transaction the ``radix`` backend built for a batch's root (docs/anchoring.md).

    It is stored, payload included, before it is submitted, and its intent hash is what the batch
    records as ``intent_id``. A batch has one row per attempt: a new one is built only once the
    previous one can never commit (committed as a failure, permanently rejected, or past its end
    epoch on the Gateway's ledger).
    """

    class Status(models.TextChoices):
        PREPARED = "prepared"  # built and signed, not known to be submitted
        SUBMITTED = "submitted"  # the Gateway took it (or already had it)
        REFUSED = "refused"  # the Gateway refused it at submission; it may still be somewhere else
        COMMITTED = "committed"  # CommittedSuccess
        FAILED = "failed"  # it can never commit (success): CommittedFailure, rejected or expired

    batch_label = models.CharField(max_length=64, db_index=True, help_text="the batch it carries the root of")
    root = models.CharField(max_length=64)
    intent_hash = models.CharField(max_length=128, unique=True)
    network_id = models.PositiveSmallIntegerField()
    start_epoch = models.BigIntegerField()
    end_epoch = models.BigIntegerField()
    payload_hex = models.TextField(help_text="the notarized transaction exactly as submitted")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PREPARED)
    gateway_status = models.CharField(max_length=40, blank=True, help_text="the last intent_status seen")
    error = models.TextField(blank=True)
    fee_paid = models.CharField(max_length=64, blank=True, help_text="XRD, as the Gateway reports it")
    state_version = models.BigIntegerField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0, help_text="status reads that found it still pending")
    gateway_failures = models.PositiveIntegerField(default=0, help_text="Gateway errors in a row")
    next_check_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.intent_hash} ({self.status})"


class SettlementRequest(models.Model):
    """A party asks for one relationship to be moved on chain (docs/anchoring.md, "Settlement").

    One per relationship: the first request stays the only one. It moves freezing -> anchoring ->
    ready (or failed); every step is repeatable, and the package (``anchoring.settlement``) is
    built from the stored final state and its anchor proof whenever it is read.
    """

    class Status(models.TextChoices):
        FREEZING = "freezing"  # waiting for the co-signed freeze (its own, or the parties')
        ANCHORING = "anchoring"  # the final state is fixed; its anchor is not yet committed
        READY = "ready"  # anchored: the package can be read
        FAILED = "failed"  # the anchor failed; see ``error``

    relationship = models.OneToOneField(Relationship, on_delete=models.PROTECT, related_name="settlement")
    requested_by = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="settlement_requests")
    custodial = models.BooleanField(help_text="the service holds both keys and co-signs the freeze itself")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.FREEZING)
    seq = models.BigIntegerField(null=True, blank=True, help_text="the final (frozen, co-signed) state")
    state_hash = models.CharField(max_length=64, blank=True)
    anchor_request = models.ForeignKey(
        AnchorRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="settlements"
    )
    error = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["freezing", "failed"]) | Q(seq__isnull=False),
                name="settlement_final_state_before_anchoring",
            ),
        ]

    def __str__(self) -> str:
        return f"settlement of {self.relationship_id} ({self.status})"
