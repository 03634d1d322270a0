"""Recovery in the legacy app (docs/claim.md, "Recovery"): a member whose key the service still
holds can be a helper of a member on their own device who lost it. Through their legacy session
(bearer token) they see the recoveries they may approve, and approve one: on that explicit request
the service makes the approval with the key it holds for them, and records that it did (the
approval row says ``on_behalf`` and who asked; listed here and in the admin). Not in API.md: added.

- ``GET /v1/foaf/recoveries``: ``{"recoveries": [...], "approved_for_you": [...]}``.
- ``POST /v1/foaf/recoveries/<recovery_id>/approve`` ``{"confirm": true}``.

Errors are ``{"error": <a sentence>, "code": <stable code>}``; sentences use no technical words.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from foaf.custody import recovery
from foaf.custody import services as custody
from foaf.custody.models import RecoveryApproval, RecoveryRequest
from migration import models as m
from migration.api.ledger_writes import now_unix
from migration.api.views import LegacyView, params

CONFIRMATION_REQUIRED = "confirmation_required"


def _member_of(req: RecoveryRequest) -> dict[str, Any]:
    member = m.Member.objects.filter(party_id=req.party_id).first()
    return {"id": member.legacy_id if member else None, "name": member.user_name if member else ""}


def _approval(row: RecoveryApproval | None) -> dict[str, Any]:
    return {
        "approved": row is not None,
        "approved_at": row.approved_at.isoformat() if row else None,
        "approved_for_you_by_service": bool(row and row.on_behalf),
    }


def _item(req: RecoveryRequest, row: RecoveryApproval | None) -> dict[str, Any]:
    return {
        "recovery_id": req.request_id,
        "status": req.status,
        "member": _member_of(req),
        "started_at": req.time,
        "due": req.due_at,
        **_approval(row),
    }


class RecoveriesView(LegacyView):
    """The recoveries the caller may approve, and every approval the service made for them."""

    def get(self, request: Request) -> HttpResponseBase:
        party = self.caller.member.party
        mine = {a.request_id: a for a in RecoveryApproval.objects.filter(guardian=party)}
        pending = [_item(req, mine.get(req.pk)) for req in recovery.pending_for(party)]
        made = (
            RecoveryApproval.objects.filter(guardian=party, on_behalf=True)
            .select_related("request__party")
            .order_by("-approved_at")
        )
        return Response(
            {
                "recoveries": pending,
                "approved_for_you": [
                    {**_item(a.request, a), "requested_by": a.requested_by_legacy_id} for a in made[:100]
                ],
            }
        )


class RecoveryApproveView(LegacyView):
    """Approve a recovery as one of the member's helpers: the caller asks, the service does it."""

    def post(self, request: Request, recovery_id: str) -> HttpResponseBase:
        caller = self.caller.member
        if params(request).get("confirm") not in (True, "true", "1"):
            return Response(
                {
                    "error": "Confirm that you spoke with this member and want to help them.",
                    "code": CONFIRMATION_REQUIRED,
                },
                status=400,
            )
        try:
            req = recovery.recovery_get(recovery_id)
            before = RecoveryApproval.objects.filter(request=req, guardian=caller.party).exists()
            row = recovery.approve_on_behalf(
                req, guardian=caller.party, requested_by_legacy_id=caller.legacy_id, now=now_unix()
            )
        except custody.CustodyError as e:
            return Response({"error": e.message, "code": e.code}, status=e.status)
        req.refresh_from_db()
        return Response(
            {**_item(req, row), "message": "Thank you: your approval is recorded."}, status=200 if before else 201
        )
