"""Tables of custody: cohorts, their members, claims and each claim's steps. Written only through
``foaf.custody.services``; the operator reads them in the admin."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from foaf.ledger.models import HeldKey, Party, PendingProposal, Relationship


class Cohort(models.Model):
    """A group of members the operator moves to their own devices together."""

    class Status(models.TextChoices):
        DRAFT = "draft", "draft (members being added)"
        OPEN = "open", "open (members may claim)"
        PAUSED = "paused", "paused (no new claims; claims under way finish)"
        CLOSED = "closed", "closed (no new claims; claims under way finish)"

    name = models.CharField(max_length=64, unique=True)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True, help_text="first opened")
    paused_at = models.DateTimeField(null=True, blank=True, help_text="last paused")
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class CohortMember(models.Model):
    """A member in a cohort (one cohort per member) and where their custody stands.

    ``claimed_at``: their claim completed (the held key is destroyed). ``recovered_at``: their key
    was replaced by recovery (the recovery protocol sets it through ``services.member_recovered``).
    """

    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="members")
    party = models.OneToOneField(Party, on_delete=models.PROTECT, related_name="cohort_membership")
    added_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    recovered_key = models.CharField(max_length=64, blank=True, help_text="the key recovery moved them to")

    def __str__(self) -> str:
        return f"{self.party} in {self.cohort.name}"


class Claim(models.Model):
    """A member moving from the held key to their device's key.

    ``claim_id`` is random and given only to the device that presented the member's credentials;
    it names the claim in later calls. ``statement`` is the key rotation once both keys signed it.
    """

    class Status(models.TextChoices):
        CONFIRM_ON_DEVICE = "confirm_on_device", "waiting for the device to confirm the move"
        CONFIRM_UPDATES = "confirm_updates", "waiting for the device to confirm each relationship"
        WAITING_FOR_CONTACTS = "waiting_for_contacts", "waiting for contacts' devices"
        COMPLETE = "complete", "complete (held key destroyed)"
        CANCELLED = "cancelled", "cancelled by the operator"

    claim_id = models.CharField(max_length=32, unique=True)
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="claims")
    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="claims")
    held_key = models.ForeignKey(HeldKey, on_delete=models.PROTECT, related_name="claims")
    new_key = models.CharField(max_length=64)
    counter = models.PositiveIntegerField()
    time = models.BigIntegerField(help_text="the rotation statement's time (unix seconds)")
    statement = models.JSONField(null=True, blank=True, help_text="the rotation, signed by the held and the new key")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.CONFIRM_ON_DEVICE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    held_key_destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party"], condition=~Q(status="cancelled"), name="claim_one_live_per_party")
        ]

    def __str__(self) -> str:
        return f"claim {self.claim_id[:8]} of {self.party} ({self.status})"


class ClaimStep(models.Model):
    """One relationship of a claim: its imported tip countersigned, then the rotation committed."""

    class Status(models.TextChoices):
        TO_CONFIRM = "to_confirm", "the device has a rotation to sign"
        WAITING_COUNTERPARTY = "waiting_counterparty", "sent to the counterparty's device"
        DONE = "done", "rotation committed"
        BLOCKED = "blocked", "cannot go on (see reason)"

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="steps")
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="claim_steps")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.TO_CONFIRM)
    reason = models.CharField(max_length=64, blank=True)
    counterparty_hosted = models.BooleanField(null=True, help_text="the counterparty's key was held here")
    genesis_signed_for_member = models.BooleanField(default=False, help_text="this claim countersigned the tip")
    genesis_signed_for_counterparty = models.BooleanField(default=False, help_text="…on the counterparty's behalf")
    canonical = models.TextField(blank=True, help_text="the rotation state offered to the device")
    state_hash = models.CharField(max_length=64, blank=True)
    device_sig = models.CharField(max_length=128, blank=True)
    proposal = models.ForeignKey(PendingProposal, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["claim", "relationship"], name="claim_step_once")]

    def __str__(self) -> str:
        return f"{self.claim} on {self.relationship_id} ({self.status})"
