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


# ------------------------------------------------------------------ recovery (docs/claim.md, "Recovery")
class Courier(models.Model):
    """A relay mailbox the service holds to carry recovery messages between members' devices: the
    proposals a device signed (``set_recovery``, ``recover_key``), notices and cancels, and the
    answers of counterparties' devices, which come back to the mailbox they came from. It signs
    nothing in any relationship; its seed is sealed like a held key's (``foaf.ledger.keys``)."""

    name = models.CharField(max_length=16, unique=True)
    public_key = models.CharField(max_length=64, unique=True)
    sealed_seed = models.BinaryField(editable=False)
    kek_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"courier {self.name} ({self.public_key[:12]})"


class RecoveryPolicy(models.Model):
    """A member's choice of contacts who may help them recover (bilateral §5.14), signed by the
    device, and its way into each relationship (``RecoveryStep``)."""

    class Status(models.TextChoices):
        SETTING = "setting", "being set in each relationship"
        IN_FORCE = "in_force", "set in every relationship"
        REPLACED = "replaced", "replaced by a newer one, or void since the member's key changed"

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="recovery_policies")
    policy = models.JSONField(help_text="the signed policy (bilateral §5.14)")
    policy_hash = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=64, help_text="the member's key that signed it")
    counter = models.PositiveIntegerField()
    threshold = models.PositiveSmallIntegerField()
    delay = models.PositiveIntegerField(help_text="seconds")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SETTING)
    created_at = models.DateTimeField(auto_now_add=True)
    in_force_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "recovery policies"

    def __str__(self) -> str:
        return f"policy {self.policy_hash[:8]} of {self.party} ({self.threshold} of n, {self.status})"


RECOVERY_LIVE = (
    "confirm_on_device",
    "waiting_for_approvals",
    "waiting_for_delay",
    "confirm_updates",
    "waiting_for_contacts",
)


class RecoveryRequest(models.Model):
    """A member recovering from a new device: the statement (old key -> new key, bilateral §5.15),
    the contacts' approvals, the notice, the old key's cancel, and each relationship's step.

    ``noticed_at`` (unix seconds): when the service announced it (the notice carries the
    approvals, so it goes out once ``threshold`` are in); ``due_at``: when the delay has passed on
    the service's clock. ``request_id`` is random and given only to the new device."""

    class Status(models.TextChoices):
        CONFIRM_ON_DEVICE = "confirm_on_device", "waiting for the new device to confirm"
        WAITING_FOR_APPROVALS = "waiting_for_approvals", "waiting for contacts' approvals"
        WAITING_FOR_DELAY = "waiting_for_delay", "approved; waiting for the delay to pass"
        CONFIRM_UPDATES = "confirm_updates", "waiting for the new device to confirm each relationship"
        WAITING_FOR_CONTACTS = "waiting_for_contacts", "waiting for contacts' devices"
        COMPLETE = "complete", "complete"
        CANCELLED = "cancelled", "cancelled by the old device"

    request_id = models.CharField(max_length=32, unique=True)
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="recovery_requests")
    policy = models.ForeignKey(RecoveryPolicy, on_delete=models.PROTECT, related_name="requests")
    old_key = models.CharField(max_length=64)
    new_key = models.CharField(max_length=64)
    counter = models.PositiveIntegerField()
    time = models.BigIntegerField(help_text="the statement's time: when the recovery started (unix seconds)")
    statement = models.JSONField(null=True, blank=True, help_text="the statement, signed by the new key")
    recovery_hash = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.CONFIRM_ON_DEVICE)
    notice = models.TextField(blank=True, help_text="the recovery_notice sent (its approvals are the ones used)")
    noticed_at = models.BigIntegerField(null=True, blank=True)
    due_at = models.BigIntegerField(null=True, blank=True, help_text="on the service's clock (unix seconds)")
    old_device_told = models.BooleanField(default=False, help_text="the notice reached the old key's mailbox")
    cancel = models.JSONField(null=True, blank=True, help_text="the old key's cancel (bilateral §5.16)")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["party"], condition=Q(status__in=RECOVERY_LIVE), name="recovery_one_live_per_party"
            )
        ]

    def __str__(self) -> str:
        return f"recovery {self.request_id[:8]} of {self.party} ({self.status})"


class RecoveryApproval(models.Model):
    """A contact's approval of a recovery (bilateral §5.15): by their own device, or made by the
    service with the key it holds for them on their explicit request (``on_behalf``), recorded so
    that they and the operator see it."""

    request = models.ForeignKey(RecoveryRequest, on_delete=models.PROTECT, related_name="approvals")
    guardian = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="recovery_approvals")
    sig = models.CharField(max_length=128)
    on_behalf = models.BooleanField(default=False, help_text="signed by the service with the contact's held key")
    requested_by_legacy_id = models.BigIntegerField(null=True, blank=True, help_text="who asked, when on_behalf")
    approved_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "guardian"], name="recovery_approval_once")]

    def __str__(self) -> str:
        return f"approval by {self.guardian} of {self.request}"


class RecoveryStep(models.Model):
    """One relationship of a policy (``set_recovery``) or of a recovery (``recover_key``).

    For a hosted counterparty the service's copy of its side keeps what bilateral §7.8 says it
    must: when it first saw the recovery (``noticed``) and the cancel it holds (``cancel``)."""

    class Status(models.TextChoices):
        TO_CONFIRM = "to_confirm", "the device has an update to sign"
        WAITING = "waiting", "not due yet"
        WAITING_COUNTERPARTY = "waiting_counterparty", "sent to the counterparty's device"
        DONE = "done", "committed"
        BLOCKED = "blocked", "cannot go on (see reason)"

    policy = models.ForeignKey(RecoveryPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="steps")
    request = models.ForeignKey(RecoveryRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="steps")
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="recovery_steps")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.WAITING)
    reason = models.CharField(max_length=64, blank=True)
    counterparty_hosted = models.BooleanField(null=True)
    canonical = models.TextField(blank=True, help_text="the state offered to the device")
    state_hash = models.CharField(max_length=64, blank=True)
    device_sig = models.CharField(max_length=128, blank=True)
    proposal = models.ForeignKey(PendingProposal, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    countersigned_on_behalf = models.BooleanField(default=False, help_text="by the counterparty's held key")
    noticed = models.BigIntegerField(null=True, blank=True, help_text="hosted counterparty: first saw it (unix)")
    cancel = models.TextField(blank=True, help_text="hosted counterparty: the recovery_cancel it holds")
    told = models.BooleanField(default=False, help_text="own-device counterparty: notice (or cancel) deposited")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "relationship"], name="recovery_step_policy_once"),
            models.UniqueConstraint(fields=["request", "relationship"], name="recovery_step_request_once"),
            models.CheckConstraint(
                condition=Q(policy__isnull=True, request__isnull=False) | Q(policy__isnull=False, request__isnull=True),
                name="recovery_step_of_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy or self.request} on {self.relationship_id} ({self.status})"
