"""``/v1/pending_payments*``: thin over ``pending_payments``, answering with Rails' bodies (API.md
"Pending payments"; the controller checks in its order: the row, the party, then the action's own
rule)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from migration import models as m
from migration.api import ledger_writes as lw
from migration.api import lines
from migration.api import pending_payments as pp_
from migration.api.views import LegacyView, params

NOT_FOUND = {"errors": ["Pending payment not found"]}
NOT_AUTHORIZED = {"errors": ["Not authorized"]}
LINE_NOT_FOUND = {"errors": ["Trustline not found"]}
KEY_REUSED = {"errors": ["Idempotency-Key was already used for another request"]}


def _errors(status: int, *texts: str) -> Response:
    return Response({"errors": list(texts)}, status=status)


class _OnePending(LegacyView):
    """``set_pending_payment``: unknown → 404, not a party → 403, before anything else."""

    def pending(self, pending_id: str) -> m.PendingPayment | Response:
        try:
            pk = int(pending_id)
        except ValueError:
            return Response(NOT_FOUND, status=404)
        found = m.PendingPayment.objects.filter(legacy_id=pk).first()
        if found is None:
            return Response(NOT_FOUND, status=404)
        me = self.caller.member.legacy_id
        if me not in (found.from_legacy_id, found.to_legacy_id):
            return Response(NOT_AUTHORIZED, status=403)
        return pp_.refresh(found)


class PendingPaymentsView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        return Response(pp_.listing(self.caller.member))

    def post(self, request: Request) -> HttpResponseBase:
        caller = self.caller.member
        values = params(request)
        line = lines.line_of(caller, values.get("trustline_id"))
        if line is None:
            return Response(LINE_NOT_FOUND, status=404)
        amount, problems = pp_.amount_errors(values.get("amount"))
        if problems:
            return _errors(422, *problems)
        kind = m.PendingPayment.Kind.REQUEST if values.get("kind") == "request" else m.PendingPayment.Kind.PAYMENT
        description = values.get("description")
        key = lw.idempotency_key_of(request.headers.get("Idempotency-Key"), None)
        try:
            made = pp_.create(
                caller,
                line,
                amount=amount,
                description=None if description is None else str(description),
                kind=kind,
                key=key,
            )
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        return Response(pp_.payload(made), status=201)


class PendingPaymentView(_OnePending):
    def delete(self, request: Request, pending_id: str) -> HttpResponseBase:
        found = self.pending(pending_id)
        if isinstance(found, Response):
            return found
        try:
            pp_.cancel(self.caller.member, found)
        except pp_.Refused as e:
            return _errors(e.status, e.text)
        return Response({"message": "Payment cancelled"})


class MarkPaidView(_OnePending):
    def put(self, request: Request, pending_id: str) -> HttpResponseBase:
        found = self.pending(pending_id)
        if isinstance(found, Response):
            return found
        try:
            done = pp_.mark_paid(self.caller.member, found)
        except pp_.Refused as e:
            return _errors(e.status, e.text)
        return Response({"message": "Marked as paid", "pending_payment": pp_.payload(done)})

    patch = put


class RejectView(_OnePending):
    def put(self, request: Request, pending_id: str) -> HttpResponseBase:
        found = self.pending(pending_id)
        if isinstance(found, Response):
            return found
        try:
            done = pp_.reject(self.caller.member, found, params(request).get("reason"))
        except pp_.Refused as e:
            return _errors(e.status, e.text)
        return Response({"message": "Payment rejected", "pending_payment": pp_.payload(done)})

    patch = put


class ConfirmView(_OnePending):
    def put(self, request: Request, pending_id: str) -> HttpResponseBase:
        caller = self.caller.member
        found = self.pending(pending_id)
        if isinstance(found, Response):
            return found
        try:
            done, write = pp_.confirm(caller, found)
        except pp_.Refused as e:
            return _errors(e.status, e.text)
        status, body = lw.receipt(write, caller, "Payment confirmed")
        _label_free(body, caller, done)
        if status == 422:
            error = (write.write_error or {}).get("error") or lw.REJECTED_MESSAGE
            body = {"errors": [str(error)], **body}
        return Response({**body, "pending_payment": pp_.payload(done)}, status=status)

    patch = put


def _label_free(body: dict[str, Any], caller: m.Member, pp: m.PendingPayment) -> None:
    """The receipt's ``foaf_state`` names the other member without the caller's label (nickname,
    else user name), as Rails' receipt builder does (inferred)."""
    state = body.get("foaf_state")
    if not isinstance(state, dict):
        return
    other = m.Member.objects.filter(legacy_id=state["other_user"]["id"]).first()
    if other is not None:
        state["other_user"]["name"] = other.nickname or other.user_name
