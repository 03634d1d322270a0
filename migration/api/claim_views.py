"""The claim API: a member moves their account from the key the service holds to their device
(docs/claim.md). Mounted at ``/api/claim/v1/`` (``foaf/urls.py``), beside the legacy API because
it authenticates with the legacy credentials: user name and password are checked by the legacy
login itself (``sessions.login``: the Devise hash or the auth service, the same rate limits, a
throttled attempt refused as a wrong password is). The work is ``foaf.custody.services``.

- ``POST claims`` ``{"username", "password", "new_key"[, "new_sig"][, "signatures"]}``: start the
  claim, or find it again (the same member and device get the same claim).
- ``GET claims/<claim_id>``: where it stands (and collects counterparties' answers).
- ``POST claims/<claim_id>`` ``{"new_sig"?, "signatures"?: {state_hash: sig}}``: the device's
  confirmations.
- ``GET claims/<claim_id>/entries/<channel>``: the log of one of the member's relationships, to
  the device only (a request signed by its key, as the relay's are).

``claim_id`` is random and given only after the credentials; every confirmation must verify by the
device's key, so it proves the caller is that device.

Answers are JSON; an error is ``{"error": {"code", "message", "details"}, "request_id"}`` with the
stable codes of ``foaf.custody.services``. Human-readable texts never use technical words (key,
signature, ...): field names may, messages may not.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from foaf import bilateral as core
from foaf.custody import services as custody
from foaf.custody.models import Claim, ClaimStep
from foaf.errors import ApiError
from foaf.ledger.models import Party, Relationship
from foaf.logs import current_request_id
from migration import models as m
from migration.api import limits, sessions
from migration.api.ledger_writes import now_unix
from relay import auth as relay_auth

logger = logging.getLogger(__name__)

CREDENTIALS_REFUSED = "credentials_refused"
INVALID_REQUEST = "invalid_request"
SERVICE_UNAVAILABLE = "service_unavailable"
NOT_THIS_DEVICE = "not_this_device"

MESSAGES = {
    Claim.Status.CONFIRM_ON_DEVICE: "Confirm on this device to move your account here.",
    Claim.Status.CONFIRM_UPDATES: "Almost done: confirm on this device to finish moving your account.",
    Claim.Status.WAITING_FOR_CONTACTS: (
        "Your account is moving to this device. We are waiting for {n} of your contacts' apps to confirm; "
        "you can close the app meanwhile."
    ),
    Claim.Status.COMPLETE: "Your account is now on this device.",
}


def _error(code: str, message: str, status: int, details: dict[str, Any] | None = None) -> JsonResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}, "request_id": current_request_id()}
    return JsonResponse(body, status=status)


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise custody.CustodyError(INVALID_REQUEST, "The request could not be read.") from None
    if not isinstance(body, dict):
        raise custody.CustodyError(INVALID_REQUEST, "The request could not be read.")
    return body


def _recorder(claim: Claim) -> custody.OnBehalf:
    """Each signature made with a held key during the claim, as a ``SignatureOnBehalf`` (listed to
    the member at ``GET /v1/foaf/signatures`` and to the operator in the admin)."""
    claimant = m.Member.objects.filter(party_id=claim.party_id).values_list("legacy_id", flat=True).first()

    def record(*, party: Party, relationship: Relationship, state: core.State, what: str, for_member: bool) -> None:
        member = m.Member.objects.filter(party=party).values_list("legacy_id", flat=True).first()
        if member is None or claimant is None:
            return  # a party of no imported member (a demo community): nothing to list it to
        m.SignatureOnBehalf.objects.get_or_create(
            party=party,
            state_hash=state.hash_hex,
            defaults={
                "member_legacy_id": member,
                "relationship": relationship,
                "seq": state.seq,
                "what": what,
                "op_type": state.update.op.TYPE,
                "role": m.SignatureOnBehalf.Role.REQUESTER if for_member else m.SignatureOnBehalf.Role.COUNTERPARTY,
                "requested_by_legacy_id": claimant,
                "endpoint": "claim",
                "idempotency_key": claim.claim_id,
            },
        )

    return record


def _advance(claim: Claim, body: dict[str, Any]) -> Claim:
    now = now_unix()
    if "new_sig" in body:
        claim = custody.claim_confirm(claim, new_sig=body["new_sig"], now=now)
    signatures = body.get("signatures") or {}
    if not isinstance(signatures, dict):
        raise custody.CustodyError(INVALID_REQUEST, "The request is not valid.", details={"field": "signatures"})
    return custody.claim_advance(claim, signatures=signatures, now=now, on_behalf=_recorder(claim))


def claim_json(claim: Claim) -> dict[str, Any]:
    steps = list(ClaimStep.objects.filter(claim=claim).select_related("relationship__party_a", "relationship__party_b"))
    waiting = sum(s.status in (ClaimStep.Status.WAITING_COUNTERPARTY, ClaimStep.Status.BLOCKED) for s in steps)
    relationships = []
    for s in steps:
        rel = s.relationship
        other = rel.party_b if rel.party_a_id == claim.party_id else rel.party_a
        relationships.append(
            {
                "channel": rel.channel_id,
                "counterparty": other.party_id,
                "status": s.status,
                "reason": custody.public_reason(s.reason),
            }
        )
    return {
        "claim_id": claim.claim_id,
        "status": claim.status,
        "message": MESSAGES.get(Claim.Status(claim.status), "").format(n=waiting),
        "party": claim.party.party_id,
        "new_key": claim.new_key,
        "statement": custody.statement_body(claim) if claim.statement is None else None,
        "to_sign": [
            {"channel": t.channel, "seq": t.seq, "state_hash": t.state.hash_hex, "state": t.state.to_json()}
            for t in custody.to_sign(claim)
        ],
        "relationships": relationships,
        "progress": {"done": sum(s.status == ClaimStep.Status.DONE for s in steps), "total": len(steps)},
    }


def _answer(claim: Claim, status: int = 200) -> JsonResponse:
    return JsonResponse(claim_json(claim), status=status)


def _refusal(e: custody.CustodyError) -> JsonResponse:
    return _error(e.code, e.message, e.status, e.details)


@csrf_exempt
@require_http_methods(["POST"])
def claims(request: HttpRequest) -> JsonResponse:
    """Start or find again the claim of the member these credentials are for."""
    try:
        body = _body(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise custody.CustodyError(INVALID_REQUEST, "Enter your username and password.")
        try:
            login = sessions.login(username, password, address=limits.client_address(request))
        except sessions.LoginRefused as e:
            logger.info("claim: credentials refused (%s)", e)
            return _error(CREDENTIALS_REFUSED, "Your username or password is not right.", 401)
        except sessions.AuthServiceUnavailable:
            return _error(SERVICE_UNAVAILABLE, "We cannot check your account right now. Please try again soon.", 503)
        party = Party.objects.get(pk=login.member.party_id)
        before = Claim.objects.filter(party=party).exclude(status=Claim.Status.CANCELLED).exists()
        claim = custody.claim_start(party=party, new_key=body.get("new_key"), now=now_unix())
        claim = _advance(claim, body)
    except custody.CustodyError as e:
        return _refusal(e)
    return _answer(claim, 200 if before else 201)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def claim(request: HttpRequest, claim_id: str) -> JsonResponse:
    """Where a claim stands (GET), or the device's confirmations (POST)."""
    try:
        found = custody.claim_get(claim_id)
        body = _body(request) if request.method == "POST" else {}
        found = _advance(found, body)
    except custody.CustodyError as e:
        return _refusal(e)
    return _answer(found)


def _from_the_device(request: HttpRequest, claim: Claim) -> None:
    """The request is signed by the claim's device (the relay's signed requests, docs/relay.md §13):
    a log is only ever given to the member's own device, not to whoever holds the claim id."""
    try:
        signed = relay_auth.authenticate(request, body=request.body)
    except ApiError:
        signed = None
    if signed is None or signed.key != claim.new_key:
        raise custody.CustodyError(NOT_THIS_DEVICE, "Only the device that moved this account can read it.", status=403)


@csrf_exempt
@require_http_methods(["GET"])
def entries(request: HttpRequest, claim_id: str, channel: str) -> JsonResponse:
    """The log of one of the member's relationships (``{"channel", "entries": [entry...]}``, the
    bilateral §4 log entries in seq order): what the device needs to take its part in each
    relationship once the claim is complete (``core.Party.restore``)."""
    try:
        found = custody.claim_get(claim_id)
        _from_the_device(request, found)
        rel = custody.relationship_of(found, channel)
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse({"channel": rel.channel_id, "entries": [e.to_json() for e in custody.log_of(rel)]})


urlpatterns = [
    re_path(r"^claims/?$", claims, name="claims"),
    re_path(r"^claims/(?P<claim_id>[0-9a-f]{32})/?$", claim, name="claim"),
    re_path(r"^claims/(?P<claim_id>[0-9a-f]{32})/entries/(?P<channel>[0-9a-f]{64})/?$", entries, name="claim-entries"),
]
