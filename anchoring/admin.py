"""Read-only admin views of anchoring: requests, batches, leaves and the local log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from anchoring.models import AnchorBatch, AnchorRequest, Inclusion, LocalLogEntry, RadixTransaction, SettlementRequest


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AnchorRequest)
class AnchorRequestAdmin(ReadOnly):
    list_display = ("id", "party", "relationship", "seq", "urgent", "status", "created_at")
    list_filter = ("status", "urgent")
    search_fields = ("state_hash", "relationship__channel_id", "party__party_id")


@admin.register(AnchorBatch)
class AnchorBatchAdmin(ReadOnly):
    list_display = ("id", "root", "leaf_count", "backend", "status", "intent_id", "created_at", "committed_at")
    list_filter = ("status", "backend")
    search_fields = ("root", "intent_id", "tx_id")


@admin.register(Inclusion)
class InclusionAdmin(ReadOnly):
    list_display = ("id", "batch", "index", "request")


@admin.register(LocalLogEntry)
class LocalLogEntryAdmin(ReadOnly):
    list_display = ("seq", "root", "entry_hash", "prev_hash", "intent_id", "recorded_at")
    search_fields = ("root", "entry_hash")


@admin.register(SettlementRequest)
class SettlementRequestAdmin(ReadOnly):
    list_display = ("id", "relationship", "requested_by", "custodial", "status", "seq", "error", "ready_at")
    list_filter = ("status", "custodial")
    search_fields = ("state_hash", "relationship__channel_id", "requested_by__party_id")
    actions = ("advance",)

    @admin.action(description="Advance the selected settlements (freeze, anchor, ready) as far as they go now")
    def advance(self, request: HttpRequest, queryset: Any) -> None:
        from anchoring.settlement import settlement_advance

        for row in queryset:
            settlement_advance(row)


@admin.register(RadixTransaction)
class RadixTransactionAdmin(ReadOnly):
    """The radix backend's transactions, one per attempt of a batch: where each stands, its fee."""

    list_display = ("id", "batch_label", "intent_hash", "status", "gateway_status", "fee_paid", "created_at")
    list_filter = ("status", "network_id")
    search_fields = ("intent_hash", "root", "batch_label")
    exclude = ("payload_hex",)
