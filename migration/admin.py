"""The import in the operator console: runs, what was set aside, members and trustlines (read-only)."""

from __future__ import annotations

from django.contrib import admin

from foaf.ledger.admin import ReadOnlyAdmin
from migration import models as m


@admin.register(m.ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "started_at", "finished_at", "status", "source")
    list_filter = ("status",)
    readonly_fields = ("started_at", "finished_at", "status", "source", "summary", "error")


@admin.register(m.SetAside)
class SetAsideAdmin(ReadOnlyAdmin):
    list_display = ("table", "legacy_id", "reason", "detail", "recorded_at")
    list_filter = ("table", "reason")
    search_fields = ("legacy_id", "detail")


@admin.register(m.Member)
class MemberAdmin(ReadOnlyAdmin):
    # The Devise password hash stays out of the console.
    fields = ("legacy_id", "party", "community", "user_name", "display_name", "name", "foaf_id", "foaf_address",
              "inviter_legacy_id", "deleted_at", "disabled_at", "created_at")  # fmt: skip
    list_display = ("legacy_id", "user_name", "community", "foaf_id", "deleted_at", "disabled_at")
    list_filter = ("community",)
    search_fields = ("user_name", "foaf_id", "foaf_address", "legacy_id")


@admin.register(m.Trustline)
class TrustlineAdmin(ReadOnlyAdmin):
    list_display = ("legacy_id", "user_a_legacy_id", "user_b_legacy_id", "history_balance", "cached_balance",
                    "history_rows", "is_active", "community")  # fmt: skip
    list_filter = ("community", "is_active")
    search_fields = ("legacy_id",)


@admin.register(m.LegacyWrite)
class LegacyWriteAdmin(ReadOnlyAdmin):
    list_display = ("pk", "member_legacy_id", "endpoint", "trustline", "hop", "amount", "write_state", "created_at")
    list_filter = ("endpoint", "write_state")
    search_fields = ("member_legacy_id", "idempotency_key", "state_hash")


@admin.register(m.SignatureOnBehalf)
class SignatureOnBehalfAdmin(ReadOnlyAdmin):
    """Every signature the service made with a key it holds for a member (read-only)."""

    list_display = ("signed_at", "member_legacy_id", "what", "op_type", "role", "relationship", "seq",
                    "requested_by_legacy_id", "endpoint")  # fmt: skip
    list_filter = ("what", "role", "endpoint")
    search_fields = ("member_legacy_id", "requested_by_legacy_id", "state_hash", "idempotency_key")


# --- the shadow period and the cut-over (docs/cutover.md) ------------------------------------------
@admin.register(m.ShadowDiff)
class ShadowDiffAdmin(ReadOnlyAdmin):
    """Credit reads whose Rails answer differed or did not come (read-only; docs/cutover.md, "Compare")."""

    list_display = ("recorded_at", "kind", "method", "route", "path", "member_legacy_id", "field", "ours_status",
                    "rails_status", "rails_ms")  # fmt: skip
    list_filter = ("kind", "route", "method", "member_legacy_id")
    search_fields = ("path", "field", "=member_legacy_id")
    date_hierarchy = "recorded_at"
    readonly_fields = ("recorded_at", "kind", "method", "route", "path", "member_legacy_id", "field", "differences",
                       "detail", "ours_status", "ours_body", "rails_status", "rails_body", "rails_ms")  # fmt: skip


@admin.register(m.CutoverState)
class CutoverStateAdmin(ReadOnlyAdmin):
    """The phase, read-only here: ``manage.py cutover`` moves it and waits for every process."""

    list_display = ("phase", "changed_at", "frozen_at", "switched_at", "exported_at")


@admin.register(m.CutoverEvent)
class CutoverEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "from_phase", "to_phase", "note")
    list_filter = ("to_phase",)
