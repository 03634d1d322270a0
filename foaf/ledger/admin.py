"""The ledger in the operator console: read-only views (the log is written by services only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from foaf.ledger.models import EquivocationRecord, HeldKey, Party, PendingProposal, Relationship, StateEntry


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Party)
class PartyAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "party_id", "public_key", "created_at")
    search_fields = ("display_name", "party_id", "public_key")


@admin.register(HeldKey)
class HeldKeyAdmin(ReadOnlyAdmin):
    # The sealed seed is never shown, not even sealed.
    fields = ("party", "public_key", "kek_id", "created_at", "destroyed_at")
    list_display = ("public_key", "party", "created_at", "destroyed_at")


@admin.register(Relationship)
class RelationshipAdmin(ReadOnlyAdmin):
    list_display = ("channel_id", "party_a", "party_b", "head_seq", "balance", "status", "genesis_complete")
    list_filter = ("status", "genesis_complete")
    search_fields = ("channel_id",)


@admin.register(StateEntry)
class StateEntryAdmin(ReadOnlyAdmin):
    list_display = ("relationship", "seq", "state_hash", "recorded_at")


@admin.register(PendingProposal)
class PendingProposalAdmin(ReadOnlyAdmin):
    list_display = ("relationship", "seq", "proposer", "status", "deadline", "reject_reason")
    list_filter = ("status",)


@admin.register(EquivocationRecord)
class EquivocationRecordAdmin(ReadOnlyAdmin):
    list_display = ("relationship", "seq", "recorded_at")
