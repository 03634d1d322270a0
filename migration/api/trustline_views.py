"""``/v1/trustlines*`` and ``/v1/foaf/signatures``: thin over ``lines`` (reads) and
``ledger_writes`` (writes), answering with Rails' bodies (API.md "Trustlines")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from foaf import bilateral as core
from foaf.ledger import services
from foaf.ledger.models import Relationship
from foaf.routing import RouteIndex
from foaf.routing.graph import DEFAULT_MAX_HOPS
from migration import models as m
from migration.api import freshness, lines
from migration.api import ledger_writes as lw
from migration.api.views import RAILS_NOT_FOUND, RAILS_SERVER_ERROR, LegacyView, params

NOT_FOUND = {"errors": ["Trustline not found"]}
NOT_IN_LEDGER = {"errors": ["Trustline not found in FOAF"]}
AMOUNT = {"errors": ["Amount must be greater than zero"]}
KEY_REUSED = {"errors": ["Idempotency-Key was already used for another request"]}
DEFAULT_LIMIT = 10_000  # cents: "a missing, zero or negative limit becomes 100"


def _errors(status: int, *messages: str, **extra: Any) -> Response:
    return Response({"errors": list(messages), **extra}, status=status)


def _call(request: Request, caller: m.Member, endpoint: str, values: dict[str, Any], **ids: Any) -> lw.Call:
    key = lw.idempotency_key_of(
        request.headers.get("Idempotency-Key"),
        values.get("originating_request_id"),
        values.get("idempotency_key", values.get("idempotencyKey")),
    )
    return lw.Call(caller, endpoint, key, {**values, **ids})


def _amount(values: dict[str, Any]) -> int:
    return lines.cents_of(values.get("amount")) or 0


def _receipt(write: m.LegacyWrite, caller: m.Member, message: str) -> Response:
    status, body = lw.receipt(write, caller, message)
    return Response(body, status=status)


class TrustlinesView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        caller = self.caller
        return freshness.answer(
            caller.member.legacy_id, caller.marks, "trustlines", lambda: lines.listing(caller.member)
        )

    def post(self, request: Request) -> HttpResponseBase:
        values = params(request)
        caller = self.caller.member
        other_id = values.get("other_user_id", values.get("user_id"))
        try:
            other = m.Member.objects.select_related("party").get(legacy_id=int(str(other_id)))
        except (ValueError, m.Member.DoesNotExist):
            return _errors(404, "User not found")
        if other.legacy_id == caller.legacy_id:
            return Response(RAILS_SERVER_ERROR, status=500)  # Rails crashes on oneself (inferred)
        if (other.community == m.Community.DEMO) != (caller.community == m.Community.DEMO):
            return _errors(422, "Cannot create trustlines between demo and non-demo users")
        a, b = sorted((caller, other), key=lambda x: x.legacy_id)
        name = lines.labels_for(caller, [other.legacy_id])[other.legacy_id]
        existing = m.Trustline.objects.filter(user_a_legacy_id=a.legacy_id, user_b_legacy_id=b.legacy_id).first()
        if existing is not None:
            return Response(lines.from_columns(existing, caller, name), status=201)
        mine = lines.cents_of(values.get("my_credit_limit", values.get("credit_limit"))) or 0
        theirs = lines.cents_of(values.get("their_credit_limit")) or 0
        mine, theirs = (x if x > 0 else DEFAULT_LIMIT for x in (mine, theirs))
        call = _call(request, caller, "trustline_create", values)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        notes = values.get("notes")
        with transaction.atomic():
            # Ids continue the legacy sequence (Rails no longer writes trustlines once this serves them).
            top = m.Trustline.objects.select_for_update().aggregate(top=Max("legacy_id"))["top"] or 0
            line = m.Trustline.objects.create(
                legacy_id=top + 1,
                community=caller.community,
                user_a_legacy_id=a.legacy_id,
                user_b_legacy_id=b.legacy_id,
                credit_limit_a_to_b=mine if a == caller else theirs,
                credit_limit_b_to_a=theirs if a == caller else mine,
                cached_balance=0,
                is_active=True,
                established_date=now,
                last_activity=None,
                notes=None if notes is None else str(notes),
                created_at=now,
                updated_at=now,
            )
            rel = lw.relationship_open(call, line, a, b)
            if rel is not None:
                line.relationship = rel
                line.save(update_fields=["relationship"])
        return Response(lines.from_columns(line, caller, name), status=201)


class TrustlineSummaryView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        caller = self.caller
        return freshness.answer(caller.member.legacy_id, caller.marks, "summary", lambda: lines.summary(caller.member))


def _wanted_limits(line: m.Trustline, values: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    """The limits a PUT changes (cents), and Rails' validation messages for the invalid ones."""
    wanted: dict[str, int] = {}
    problems = []
    for which in ("a_to_b", "b_to_a"):
        key = f"credit_limit_{which}"
        if key not in values or values[key] in (None, ""):
            continue
        raw = str(values[key]).strip()
        try:
            valid = Decimal(raw).is_finite()
        except ArithmeticError:
            valid = False
        label = f"Credit limit {which.replace('_', ' ')}"
        if not valid:
            problems.append(f"{label} is not a number")
            continue
        amount = lines.cents_of(raw) or 0
        if amount < 0:
            problems.append(f"{label} must be greater than or equal to 0")
        elif amount != getattr(line, key):
            wanted[which] = amount
    return wanted, problems


class TrustlineView(LegacyView):
    def get(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        line = lines.line_of(caller, line_id)
        if line is None:
            return Response(NOT_FOUND, status=404)
        if not line.is_active or line.relationship_id is None:
            return Response(NOT_IN_LEDGER, status=503)
        return Response(lines.one(caller, line))

    def put(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        line = lines.line_of(caller, line_id)
        if line is None:
            return Response(NOT_FOUND, status=404)
        values = params(request)
        wanted, problems = _wanted_limits(line, values)
        if problems:
            return Response({"errors": problems}, status=422)
        call = _call(request, caller, "trustline_update", values, trustline_id=line.legacy_id)
        writes: list[m.LegacyWrite] = []
        try:
            for which, amount in wanted.items():
                if line.relationship is None:
                    setattr(line, f"credit_limit_{which}", amount)  # no ledger yet: the Rails row only
                    continue
                write = lw.limit_set(lw.Call(caller, f"{call.endpoint}:{which}", call.idempotency_key,
                                             call.params), line, which, amount)  # fmt: skip
                writes.append(write)
                if write.write_state == m.LegacyWrite.State.POSTED:
                    setattr(line, f"credit_limit_{which}", amount)
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        if "notes" in values:
            line.notes = None if values["notes"] is None else str(values["notes"])
        if "is_active" in values:  # the Rails column only, as DELETE (not sent to the ledger)
            line.is_active = str(values["is_active"]).lower() not in ("false", "0", "f", "off", "")
        line.updated_at = dt.datetime.now(dt.UTC)
        line.save()
        unposted = [w for w in writes if w.write_state != m.LegacyWrite.State.POSTED]
        if unposted:
            return Response(self._limit_receipt(line, caller, unposted[0]), status=self._limit_status(unposted[0]))
        name = lines.labels_for(caller, [lines.other_id(line, caller)])[lines.other_id(line, caller)]
        balance = line.relationship.balance if line.relationship is not None else None
        return Response(lines.from_columns(line, caller, name, balance=balance))

    patch = put

    @staticmethod
    def _limit_status(write: m.LegacyWrite) -> int:
        return 422 if write.write_state == m.LegacyWrite.State.REJECTED else 202

    @staticmethod
    def _limit_receipt(line: m.Trustline, caller: m.Member, write: m.LegacyWrite) -> dict[str, Any]:
        """The newest Rails code's limit receipt (API.md, PUT): a limit the caller does not own is
        asked of its owner (202), or refused (422)."""
        rejected = write.write_state == m.LegacyWrite.State.REJECTED
        return {
            "message": "FOAF rejected the trustline update"
            if rejected
            else "Trustline update buffered pending FOAF reconciliation",
            "trustline_id": line.legacy_id,
            "operation": {
                "buffer_id": write.pk,
                "operation_type": "trustline_update",
                "write_state": write.write_state,
                "write_error": write.write_error,
                "posted_at": None,
            },
            "foaf_state": lines.one(caller, line) if line.relationship_id else None,
        }

    def delete(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        line = lines.line_of(caller, line_id)
        if line is None:
            return Response(NOT_FOUND, status=404)
        updated = m.Trustline.objects.filter(pk=line.pk).update(is_active=False, updated_at=dt.datetime.now(dt.UTC))
        if not updated:
            return _errors(422, "Failed to deactivate trustline")
        return Response({"message": "Trustline deactivated successfully"})


class _MemberAction(LegacyView):
    """payment, record_debt, record_receipt: a line not the caller's is Rails' 404 (inferred)."""

    def line(self, line_id: str) -> m.Trustline | None:
        return lines.line_of(self.caller.member, line_id)

    def checked(
        self, request: Request, line_id: str, no_ledger: Response
    ) -> tuple[m.Trustline, Relationship, dict[str, Any], int] | Response:
        """The checks the three share, in Rails' order: the caller's line (404), a positive amount
        (422), a relationship in the ledger (``no_ledger``); the line, its relationship, the
        parameters and the amount."""
        line = self.line(line_id)
        if line is None:
            return Response(RAILS_NOT_FOUND, status=404)
        values = params(request)
        amount = _amount(values)
        if amount <= 0:
            return Response(AMOUNT, status=422)
        if line.relationship is None:
            return no_ledger
        return line, line.relationship, values, amount


class PaymentView(_MemberAction):
    def post(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        no_ledger = _errors(
            503, "Payment capacity unavailable — FOAF is unreachable", capacity_error="FOAF capacity unavailable"
        )
        checked = self.checked(request, line_id, no_ledger)
        if isinstance(checked, Response):
            return checked
        line, relationship, values, amount = checked
        call = _call(request, caller, "payment", values, trustline_id=line.legacy_id)
        try:
            done = lw._replay(call)
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        if done is None:
            state = services.head_state(relationship)
            if lines.direct_capacity(line, caller, state) < amount:
                return _errors(422, "Insufficient credit limit")
        side = lines.side_of(line, caller)
        description = str(values.get("description") or "")
        write = done[0] if done else lw.write_op(
            call, line, core.Payment(side, amount, description[:200]),
            transaction_type="payment", direction="sent", amount=amount, description=description,
        )  # fmt: skip
        return _receipt(write, caller, "Payment processed successfully")


class RecordDebtView(_MemberAction):
    def post(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        checked = self.checked(request, line_id, Response(NOT_IN_LEDGER, status=503))
        if isinstance(checked, Response):
            return checked
        line, _relationship, values, amount = checked
        description = str(values.get("description") or "")
        call = _call(request, caller, "record_debt", values, trustline_id=line.legacy_id)
        try:
            write = lw.write_op(
                call, line, core.Payment(lines.side_of(line, caller), amount, description[:200]),
                transaction_type="adjustment", direction="sent", amount=amount, description=description,
            )  # fmt: skip
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        raise_to = lines.cents_of(values.get("raise_limit_to"))
        if write.write_state == m.LegacyWrite.State.REJECTED and raise_to and write.write_error:
            # The limit to raise is the other member's (what the caller may owe them): the service
            # never gives that consent for them, so the debt stays refused.
            write.write_error = {
                **write.write_error,
                "raise_limit_to": lines.dollars(raise_to),
                "consent": "raising this limit needs the other member's consent; it was not given for them",
            }
            write.save(update_fields=["write_error", "updated_at"])
        return _receipt(write, caller, "Debt recorded")


class RecordReceiptView(_MemberAction):
    def post(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        checked = self.checked(request, line_id, Response(NOT_IN_LEDGER, status=503))
        if isinstance(checked, Response):
            return checked
        line, _relationship, values, amount = checked
        description = str(values.get("description") or "")
        other_side = "b" if lines.side_of(line, caller) == "a" else "a"
        call = _call(request, caller, "record_receipt", values, trustline_id=line.legacy_id)
        try:
            write = lw.write_op(
                call, line, core.Settlement(other_side, amount, description[:200]),
                transaction_type="adjustment", direction="received", amount=amount, description=description,
            )  # fmt: skip
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        return _receipt(write, caller, "Receipt recorded")


# ------------------------------------------------------------------ paths
def _path_search(caller: m.Member, values: dict[str, Any]) -> tuple[list[m.Member], list[m.Trustline], int, int] | None:
    """The widest path (greatest capacity, then fewest hops) from the caller to ``to_user_id`` over
    active lines with an open relationship, capacities by the exposure rule from each head. None
    when there is none carrying ``amount`` within ``max_hops``, or the payee is the caller."""
    try:
        to = m.Member.objects.select_related("party").get(legacy_id=int(str(values.get("to_user_id"))))
    except (ValueError, m.Member.DoesNotExist):
        return None
    if to.legacy_id == caller.legacy_id:
        return None
    amount = lines.cents_of(values.get("amount")) or 0
    try:
        max_hops = int(str(values.get("max_hops") or DEFAULT_MAX_HOPS))
    except ValueError:
        max_hops = DEFAULT_MAX_HOPS
    active = list(
        m.Trustline.objects.filter(is_active=True, relationship__status="open").select_related(
            "relationship__party_a", "relationship__party_b"
        )
    )
    by_pair: dict[tuple[str, str], m.Trustline] = {}
    edges = []
    for line in active:
        rel = line.relationship
        assert rel is not None
        a, b = rel.party_a.party_id, rel.party_b.party_id
        by_pair[(a, b)] = by_pair[(b, a)] = line
        edges.append((a, b, max(rel.limit_a_to_b - rel.balance, 0), max(rel.limit_b_to_a + rel.balance, 0)))
    if max_hops < 1 or not edges:
        return None
    caller_party = m.Member.objects.select_related("party").get(pk=caller.pk).party
    found = RouteIndex(edges).widest(caller_party.party_id, to.party.party_id, amount=0, max_hops=max_hops)
    if found is None or found.capacity < amount or found.hops > max_hops:
        return None
    members_by_party = {
        mem.party.party_id: mem
        for mem in m.Member.objects.filter(party__party_id__in=found.members).select_related("party")
    }
    members = [members_by_party[p] for p in found.members]
    path_lines = [by_pair[(x, y)] for x, y in zip(found.members, found.members[1:], strict=False)]
    return members, path_lines, amount, found.capacity


def _path_nodes(caller: m.Member, members: list[m.Member]) -> list[dict[str, Any]]:
    names = lines.labels_for(caller, [x.legacy_id for x in members[1:]])
    return [{"id": caller.legacy_id, "name": caller.user_name}] + [
        {"id": x.legacy_id, "name": names[x.legacy_id]} for x in members[1:]
    ]


class FindPathView(LegacyView):
    def post(self, request: Request) -> HttpResponseBase:
        caller = self.caller.member
        values = params(request)
        found = _path_search(caller, values)
        if found is None:
            return Response({"path_found": False, "message": "No payment path found within specified constraints"})
        members, _lines, amount, capacity = found
        return Response(
            {
                "path_found": True,
                "path": _path_nodes(caller, members),
                "path_length": len(members),
                "estimated_cost": lines.dollars(amount),
                "capacity": lines.dollars(capacity),
            }
        )


class ExecutePathPaymentView(LegacyView):
    def post(self, request: Request) -> HttpResponseBase:
        caller = self.caller.member
        values = params(request)
        amount = _amount(values)
        if amount <= 0:
            return Response(AMOUNT, status=422)
        call = _call(request, caller, "execute_path_payment", values)
        try:
            writes = lw._replay(call)
        except lw.KeyReused:
            return Response(KEY_REUSED, status=422)
        if writes is None:
            found = _path_search(caller, values)
            if found is None:
                return _errors(422, "No payment path found")
            members, path_lines, amount, _capacity = found
            description = str(values.get("description") or "")
            writes = lw.path_payment(call, members, path_lines, amount, description)
            writes = lw.route_drive(writes, wait_seconds=settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS)
        return self._answer(caller, writes)

    @staticmethod
    def _answer(caller: m.Member, writes: list[m.LegacyWrite]) -> Response:
        states = {w.write_state for w in writes}
        if states == {m.LegacyWrite.State.POSTED}:
            status, message = 200, "Path payment executed successfully"
        elif m.LegacyWrite.State.REJECTED in states:
            status, message = 422, "FOAF rejected one or more path writes"
        else:
            status, message = 202, "Path payment buffered pending FOAF reconciliation"
        ids = [caller.legacy_id]
        for w in writes:
            line = w.trustline
            assert line is not None
            ids.append(line.user_b_legacy_id if line.user_a_legacy_id == ids[-1] else line.user_a_legacy_id)
        members = {x.legacy_id: x for x in m.Member.objects.filter(legacy_id__in=ids)}
        return Response(
            {
                "message": message,
                "operations": [lw.operation(w) for w in writes],
                "path": _path_nodes(caller, [members[i] for i in ids]),
                "amount": lines.dollars(writes[0].amount) if writes else 0.0,
            },
            status=status,
        )


class SignaturesView(LegacyView):
    """``GET /v1/foaf/signatures``: what the service signed for the caller with the key it holds
    (not in API.md: added for the member app). ``?before=<id>`` pages back; 100 a page."""

    def get(self, request: Request) -> HttpResponseBase:
        before = request.query_params.get("before")
        try:
            cursor = int(before) if before else None
        except ValueError:
            cursor = None
        return Response({"signatures": lw.signatures_of(self.caller.member, before=cursor)})


class WriteView(LegacyView):
    """``GET /v1/foaf/writes/:buffer_id``: a write of the caller's as it stands now (a buffered one
    becomes posted once the other member's device countersigned). Not in API.md: added."""

    def get(self, request: Request, buffer_id: str) -> HttpResponseBase:
        caller = self.caller.member
        write = m.LegacyWrite.objects.filter(pk=int(buffer_id), member_legacy_id=caller.legacy_id).first()
        if write is None:
            return Response({"error": "Write not found"}, status=404)
        write = lw.write_refresh(write)
        return Response({"operation": lw.operation(write)})
