"""Cohorts, claims and recovery in the operator console: cohorts with their progress and the open,
pause and close actions; members, claims and their steps read-only (services write them); recovery
policies per member and recovery requests with their approvals (who approved, which the service
made on a contact's behalf and at whose request, when due, cancelled or not), read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from foaf.custody import recovery, services
from foaf.custody.models import (
    Claim,
    ClaimStep,
    Cohort,
    CohortMember,
    RecoveryApproval,
    RecoveryPolicy,
    RecoveryRequest,
    RecoveryStep,
)
from foaf.ledger.services import unix_to_datetime


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CohortMemberInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = CohortMember
    fields = ("party", "added_at", "claimed_at", "recovered_at")
    readonly_fields = fields
    extra = 0


def _set_status(status: str) -> Any:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Cohort]) -> None:  # type: ignore[type-arg]
        for cohort in queryset:
            try:
                services.cohort_set_status(cohort, status, now=timezone.now())
            except services.CustodyError as e:
                modeladmin.message_user(request, f"{cohort.name}: {e.message}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{cohort.name}: {status}")

    action.__name__ = f"cohort_{status}"
    verb = {"open": "Open", "paused": "Pause", "closed": "Close"}[status]
    return admin.action(description=f"{verb} selected cohorts")(action)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Create a cohort here (name, note); its status changes only by the actions, which check the
    allowed changes. Members are added with ``manage.py cohort add``."""

    list_display = ("name", "status", "members", "claimed", "in_progress", "pending", "recovered", "countersigned")
    list_filter = ("status",)
    fields = ("name", "note", "status", "created_at", "opened_at", "paused_at", "closed_at", "progress")
    readonly_fields = ("status", "created_at", "opened_at", "paused_at", "closed_at", "progress")
    inlines = (CohortMemberInline,)
    actions = (_set_status("open"), _set_status("paused"), _set_status("closed"))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _p(self, obj: Cohort, field: str) -> Any:
        cache = getattr(self, "_progress_cache", {})
        if obj.pk not in cache:
            cache[obj.pk] = services.cohort_progress(obj)
            self._progress_cache = cache
        return cache[obj.pk][field]

    @admin.display(description="members")
    def members(self, obj: Cohort) -> int:
        return int(self._p(obj, "members"))

    @admin.display(description="claimed")
    def claimed(self, obj: Cohort) -> int:
        return int(self._p(obj, "claimed"))

    @admin.display(description="in progress")
    def in_progress(self, obj: Cohort) -> int:
        return int(self._p(obj, "in_progress"))

    @admin.display(description="pending")
    def pending(self, obj: Cohort) -> int:
        return int(self._p(obj, "pending"))

    @admin.display(description="recovered")
    def recovered(self, obj: Cohort) -> int:
        return int(self._p(obj, "recovered"))

    @admin.display(description="counterparties countersigned")
    def countersigned(self, obj: Cohort) -> int:
        return int(self._p(obj, "counterparties_countersigned"))

    @admin.display(description="progress")
    def progress(self, obj: Cohort) -> str:
        if obj.pk is None:
            return "-"
        return ", ".join(f"{k}: {v}" for k, v in services.cohort_progress(obj).items() if k not in ("cohort", "status"))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        self._progress_cache = {}  # one progress query set per cohort per page
        return super().changelist_view(request, extra_context)


@admin.register(CohortMember)
class CohortMemberAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("party", "cohort", "added_at", "claimed_at", "recovered_at")
    list_filter = ("cohort",)
    search_fields = ("party__display_name", "party__party_id")


class ClaimStepInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = ClaimStep
    fields = (
        "relationship",
        "status",
        "reason",
        "counterparty_hosted",
        "genesis_signed_for_member",
        "genesis_signed_for_counterparty",
        "state_hash",
        "done_at",
    )
    readonly_fields = fields
    extra = 0


@admin.register(Claim)
class ClaimAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("claim_id", "party", "cohort", "status", "created_at", "completed_at", "held_key_destroyed_at")
    list_filter = ("status", "cohort")
    search_fields = ("party__display_name", "party__party_id", "claim_id")
    # The claim id names the claim in the device's calls: shown to the operator, who may cancel.
    fields = (
        "claim_id", "party", "cohort", "status", "new_key", "counter", "time", "statement",
        "created_at", "updated_at", "completed_at", "held_key_destroyed_at",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (ClaimStepInline,)
    actions = ("cancel",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # the list (and its cancel action), never an edit form

    @admin.action(description="Cancel selected claims (not complete ones)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        n = sum(services.claim_cancel(c) for c in queryset)
        self.message_user(request, f"{n} claim(s) cancelled")


# ------------------------------------------------------------------ recovery
STEP_FIELDS = (
    "relationship", "status", "reason", "counterparty_hosted", "countersigned_on_behalf", "state_hash", "done_at",
)  # fmt: skip


class PolicyStepInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = RecoveryStep
    fk_name = "policy"
    fields = STEP_FIELDS
    readonly_fields = fields
    extra = 0


@admin.register(RecoveryPolicy)
class RecoveryPolicyAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("party", "policy_hash", "guardian_count", "threshold", "delay", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("party__display_name", "party__party_id", "policy_hash")
    fields = (
        "party", "policy_hash", "status", "key", "counter", "threshold", "delay", "guardians", "policy",
        "created_at", "in_force_at",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (PolicyStepInline,)

    @admin.display(description="guardians")
    def guardian_count(self, obj: RecoveryPolicy) -> int:
        return len(obj.policy.get("guardians", []))

    @admin.display(description="guardians (party ids)")
    def guardians(self, obj: RecoveryPolicy) -> str:
        return ", ".join(g["id"] for g in obj.policy.get("guardians", []))


class RecoveryApprovalInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = RecoveryApproval
    fields = ("guardian", "on_behalf", "requested_by_legacy_id", "approved_at")
    readonly_fields = fields
    extra = 0


class RequestStepInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = RecoveryStep
    fk_name = "request"
    fields = (*STEP_FIELDS, "noticed", "told", "holds_cancel")
    readonly_fields = fields
    extra = 0

    @admin.display(description="cancel held/sent", boolean=True)
    def holds_cancel(self, obj: RecoveryStep) -> bool:
        return bool(obj.cancel)


@admin.register(RecoveryRequest)
class RecoveryRequestAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "request_id", "party", "status", "approvals_in", "on_behalf_count", "due", "cancelled", "created_at",
        "completed_at",
    )  # fmt: skip
    list_filter = ("status",)
    search_fields = ("party__display_name", "party__party_id", "request_id", "recovery_hash")
    fields = (
        "request_id", "party", "policy", "status", "old_key", "new_key", "recovery_hash", "statement",
        "noticed", "due", "old_device_told", "cancel", "cancelled_at", "created_at", "completed_at",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (RecoveryApprovalInline, RequestStepInline)
    actions = ("stop",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # the list (and its stop action), never an edit form

    @admin.action(description="Stop selected recoveries (only those not yet announced)")
    def stop(self, request: HttpRequest, queryset: QuerySet[RecoveryRequest]) -> None:
        now = int(timezone.now().timestamp())
        n = sum(recovery.recovery_stop(r, now=now) for r in queryset)
        self.message_user(request, f"{n} recovery request(s) stopped")

    @admin.display(description="approvals")
    def approvals_in(self, obj: RecoveryRequest) -> str:
        return f"{obj.approvals.count()} of {obj.policy.threshold}"

    @admin.display(description="made on a contact's behalf")
    def on_behalf_count(self, obj: RecoveryRequest) -> int:
        return obj.approvals.filter(on_behalf=True).count()

    @admin.display(description="announced")
    def noticed(self, obj: RecoveryRequest) -> Any:
        return unix_to_datetime(obj.noticed_at) if obj.noticed_at is not None else None

    @admin.display(description="due (service clock)")
    def due(self, obj: RecoveryRequest) -> Any:
        return unix_to_datetime(obj.due_at) if obj.due_at is not None else None

    @admin.display(description="cancelled", boolean=True)
    def cancelled(self, obj: RecoveryRequest) -> bool:
        return obj.cancel is not None
