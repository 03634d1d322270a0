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

Recovery (a member on their own device who may lose it; docs/claim.md, "Recovery"; the work is
``foaf.custody.recovery``):

- ``GET|POST recovery/policy`` (signed by the device's key) ``{"policy"?, "signatures"?}``: choose
  the helpers, confirm each relationship's update, or see where it stands.
- ``POST recoveries`` ``{"username", "password", "new_key"[, "new_sig"][, "signatures"]}``: start
  (or find again) a recovery to a new device; ``GET|POST recoveries/<id>`` as for claims;
  ``GET recoveries/<id>/entries/<channel>`` signed by the new device.
- ``GET recovery/requests`` (signed): what this device may approve, and its own member's recovery
  under way; ``POST recoveries/<id>/approvals`` (signed by a helper's device) ``{"approval"}``;
  ``POST recovery/cancels`` (signed by the old device) ``{"cancel"}``.

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
from foaf.custody import recovery
from foaf.custody import services as custody
from foaf.custody.models import (
    RECOVERY_LIVE,
    Claim,
    ClaimStep,
    RecoveryApproval,
    RecoveryPolicy,
    RecoveryRequest,
    RecoveryStep,
)
from foaf.errors import ApiError
from foaf.ledger.models import Party, Relationship
from foaf.logs import current_request_id
from migration import models as m
from migration.api import limits, sessions
from migration.api.ledger_writes import now_unix, signature_on_behalf_record
from migration.cutover import phase as cutover_phase
from relay import auth as relay_auth

logger = logging.getLogger(__name__)

CREDENTIALS_REFUSED = "credentials_refused"
INVALID_REQUEST = "invalid_request"
SERVICE_UNAVAILABLE = "service_unavailable"
NOT_THIS_DEVICE = "not_this_device"
BEFORE_SWITCH = "before_switch"

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
    return recorder(claim.party_id, endpoint="claim", idempotency_key=claim.claim_id)


def recorder(party_pk: int, *, endpoint: str, idempotency_key: str) -> custody.OnBehalf:
    """Each signature made with a held key for a flow of the member ``party_pk`` (a claim, a
    recovery), as a ``SignatureOnBehalf``."""
    claimant = m.Member.objects.filter(party_id=party_pk).values_list("legacy_id", flat=True).first()

    def record(*, party: Party, relationship: Relationship, state: core.State, what: str, for_member: bool) -> None:
        member = m.Member.objects.filter(party=party).values_list("legacy_id", flat=True).first()
        if member is None or claimant is None:
            return  # a party of no imported member (a demo community): nothing to list it to
        signature_on_behalf_record(
            party=party,
            member_legacy_id=member,
            relationship=relationship,
            state=state,
            what=what,
            for_member=for_member,
            requested_by_legacy_id=claimant,
            endpoint=endpoint,
            idempotency_key=idempotency_key,
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


def _logged_in(request: HttpRequest, body: dict[str, Any]) -> Party:
    """The member whose user name and password ``body`` carries, checked by the legacy login."""
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise custody.CustodyError(INVALID_REQUEST, "Enter your username and password.")
    try:
        login = sessions.login(username, password, address=limits.client_address(request))
    except sessions.LoginRefused as e:
        logger.info("claim api: credentials refused (%s)", e)
        raise custody.CustodyError(CREDENTIALS_REFUSED, "Your username or password is not right.", status=401) from None
    except sessions.AuthServiceUnavailable:
        raise custody.CustodyError(
            SERVICE_UNAVAILABLE, "We cannot check your account right now. Please try again soon.", status=503
        ) from None
    return Party.objects.get(pk=login.member.party_id)


def _after_the_switch() -> None:
    """Refuse to start moving an account while Rails still writes credit (cut-over phase shadow or
    frozen): a member on their own device could no longer follow it, since the catch-up import
    sets Rails' changes to lines the member signs aside (docs/cutover.md). One under way finishes."""
    if cutover_phase.current() in (cutover_phase.Phase.SHADOW, cutover_phase.Phase.FROZEN):
        raise custody.CustodyError(
            BEFORE_SWITCH,
            "Moving your account opens after the community's switch-over. Please try again then.",
            status=403,
        )


@csrf_exempt
@require_http_methods(["POST"])
def claims(request: HttpRequest) -> JsonResponse:
    """Start or find again the claim of the member these credentials are for."""
    try:
        body = _body(request)
        party = _logged_in(request, body)
        before = Claim.objects.filter(party=party).exclude(status=Claim.Status.CANCELLED).exists()
        if not before:
            _after_the_switch()
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
    if signed_by(request) != claim.new_key:
        raise custody.CustodyError(NOT_THIS_DEVICE, "Only the device that moved this account can read it.", status=403)


def signed_by(request: HttpRequest) -> str | None:
    """The key that signed this request (the relay's signed requests, docs/relay.md §13: form,
    clock, signature, nonce, rate limit), or None when it is not validly signed."""
    try:
        return relay_auth.authenticate(request, body=request.body).key
    except ApiError:
        return None


@csrf_exempt
@require_http_methods(["GET"])
def entries(request: HttpRequest, claim_id: str, channel: str) -> JsonResponse:
    """The log of one of the member's relationships (``{"channel", "entries": [entry...]}``, the
    bilateral §4 log entries in seq order): what the device needs to take its part in each
    relationship once the claim is complete (``core.Party.restore``)."""
    try:
        found = custody.claim_get(claim_id)
        _from_the_device(request, found)
        if found.status == Claim.Status.CANCELLED:  # its device reads nothing more, now or later
            raise custody.CustodyError(
                custody.CLAIM_CANCELLED, "This request was stopped. Start again on the device.", status=409
            )
        rel = custody.relationship_of(found, channel)
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse({"channel": rel.channel_id, "entries": [e.to_json() for e in custody.log_of(rel)]})


# ------------------------------------------------------------------ recovery (docs/claim.md, "Recovery")
POLICY_MESSAGES = {
    RecoveryPolicy.Status.SETTING: "Confirm on this device to save the people who can help you if you lose it.",
    RecoveryPolicy.Status.IN_FORCE: "Saved: the people you chose can now help you if you lose this device.",
    RecoveryPolicy.Status.REPLACED: "You have made a newer choice since.",
}
POLICY_WAITING = "Saving your choice: we are waiting for {n} of your contacts' apps to confirm."
RECOVERY_MESSAGES = {
    RecoveryRequest.Status.CONFIRM_ON_DEVICE: "Confirm on this device to start getting your account back.",
    RecoveryRequest.Status.WAITING_FOR_APPROVALS: (
        "We asked the people you chose to help you. {have} of the {need} needed have said yes so far. "
        "Call them so they know it is really you."
    ),
    RecoveryRequest.Status.WAITING_FOR_DELAY: (
        "Your helpers said yes. For your safety your account moves to this device only after a waiting "
        "period, during which your old device can still stop it. Check back when it ends."
    ),
    RecoveryRequest.Status.CONFIRM_UPDATES: "Almost done: confirm on this device to finish getting your account back.",
    RecoveryRequest.Status.WAITING_FOR_CONTACTS: (
        "Your account is moving to this device. We are waiting for {n} of your contacts' apps to confirm; "
        "you can close the app meanwhile."
    ),
    RecoveryRequest.Status.COMPLETE: "Your account is now on this device.",
    RecoveryRequest.Status.CANCELLED: (
        "This was stopped from your old device. If that was not you, talk to the community's organisers."
    ),
}
STOPPED_BY_ORGANISERS = (
    "This was stopped by the community's organisers. Talk to them if you still need your account back."
)
ONLY_YOUR_DEVICE = "Only your own device can do this."


def _device(request: HttpRequest) -> str:
    key = signed_by(request)
    if key is None:
        raise custody.CustodyError(NOT_THIS_DEVICE, ONLY_YOUR_DEVICE, status=403)
    return key


def _steps_json(steps: list[RecoveryStep], party_pk: int) -> dict[str, Any]:
    relationships = []
    for s in steps:
        rel = s.relationship
        other = rel.party_b if rel.party_a_id == party_pk else rel.party_a
        relationships.append(
            {
                "channel": rel.channel_id,
                "counterparty": other.party_id,
                "status": s.status,
                "reason": recovery.public_reason(s.reason),
            }
        )
    return {
        "to_sign": [
            {"channel": channel, "seq": state.seq, "state_hash": state.hash_hex, "state": state.to_json()}
            for channel, state in recovery.to_sign(steps)
        ],
        "relationships": relationships,
        "progress": {"done": sum(s.status == RecoveryStep.Status.DONE for s in steps), "total": len(steps)},
    }


def _waiting(steps: list[RecoveryStep]) -> int:
    return sum(s.status in (RecoveryStep.Status.WAITING_COUNTERPARTY, RecoveryStep.Status.BLOCKED) for s in steps)


def policy_json(row: RecoveryPolicy) -> dict[str, Any]:
    steps = recovery.steps_of(row)
    message = POLICY_MESSAGES[RecoveryPolicy.Status(row.status)]
    if row.status == RecoveryPolicy.Status.SETTING and not recovery.to_sign(steps) and _waiting(steps):
        message = POLICY_WAITING.format(n=_waiting(steps))
    return {
        "policy_hash": row.policy_hash,
        "status": row.status,
        "message": message,
        "guardians": [g["id"] for g in row.policy["guardians"]],
        "threshold": row.threshold,
        "delay": row.delay,
        **_steps_json(steps, row.party_id),
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def recovery_policy(request: HttpRequest) -> JsonResponse:
    """The member's device chooses its helpers (POST ``{"policy"}``), confirms each relationship's
    update (POST ``{"signatures"}``), or asks where it stands (GET). Signed by the device's key."""
    try:
        key = _device(request)
        body = _body(request) if request.method == "POST" else {}
        created = False
        if "policy" in body:
            before = RecoveryPolicy.objects.count()
            row = recovery.policy_submit(key=key, policy=body["policy"], now=now_unix())
            created = RecoveryPolicy.objects.count() > before
        else:
            row = recovery.policy_of(key)
        row = recovery.policy_advance(
            row,
            signatures=body.get("signatures") or {},
            now=now_unix(),
            on_behalf=recorder(row.party_id, endpoint="recovery_policy", idempotency_key=row.policy_hash),
        )
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse(policy_json(row), status=201 if created else 200)


def recovery_json(req: RecoveryRequest) -> dict[str, Any]:
    steps = recovery.steps_of(req)
    approved = set(req.approvals.values_list("guardian__party_id", flat=True))
    message = RECOVERY_MESSAGES[RecoveryRequest.Status(req.status)]
    if req.status == RecoveryRequest.Status.CANCELLED and req.cancel is None:
        message = STOPPED_BY_ORGANISERS  # the operator's stop (recovery_stop), not the old device
    return {
        "recovery_id": req.request_id,
        "status": req.status,
        "message": message.format(have=len(approved), need=req.policy.threshold, n=_waiting(steps)),
        "party": req.party.party_id,
        "new_key": req.new_key,
        "statement": recovery.statement_body(req) if req.statement is None else None,
        "approvals": {
            "have": len(approved),
            "need": req.policy.threshold,
            "guardians": [{"party": g["id"], "approved": g["id"] in approved} for g in req.policy.policy["guardians"]],
        },
        "due": req.due_at,
        **_steps_json(steps, req.party_id),
    }


def _recovery_advance(req: RecoveryRequest, body: dict[str, Any]) -> RecoveryRequest:
    now = now_unix()
    if "new_sig" in body:
        req = recovery.recovery_confirm(req, new_sig=body["new_sig"], now=now)
    signatures = body.get("signatures") or {}
    if not isinstance(signatures, dict):
        raise custody.CustodyError(INVALID_REQUEST, "The request is not valid.", details={"field": "signatures"})
    on_behalf = recorder(req.party_id, endpoint="recovery", idempotency_key=req.request_id)
    return recovery.recovery_advance(req, signatures=signatures, now=now, on_behalf=on_behalf)


@csrf_exempt
@require_http_methods(["POST"])
def recoveries(request: HttpRequest) -> JsonResponse:
    """Start, or find again, the recovery of the member these credentials are for, to this device."""
    try:
        body = _body(request)
        party = _logged_in(request, body)
        before = RecoveryRequest.objects.filter(party=party, status__in=RECOVERY_LIVE).exists()
        if not before:
            _after_the_switch()
        req = recovery.recovery_start(party=party, new_key=body.get("new_key"), now=now_unix())
        req = _recovery_advance(req, body)
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse(recovery_json(req), status=200 if before else 201)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def recovery_view(request: HttpRequest, request_id: str) -> JsonResponse:
    """Where a recovery stands (GET; also collects contacts' answers and does what is due), or the
    new device's confirmations (POST ``{"new_sig"?, "signatures"?}``)."""
    try:
        req = recovery.recovery_get(request_id)
        req = _recovery_advance(req, _body(request) if request.method == "POST" else {})
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse(recovery_json(req))


def _request_item(req: RecoveryRequest) -> dict[str, Any]:
    return {
        "recovery_id": req.request_id,
        "status": req.status,
        "member": req.party.party_id,
        "name": req.party.display_name,
        "statement": req.statement,
        "recovery_hash": req.recovery_hash,
        "policy": req.policy.policy,
        "due": req.due_at,
    }


@csrf_exempt
@require_http_methods(["GET"])
def recovery_requests(request: HttpRequest) -> JsonResponse:
    """For a device (signed by its key): the recoveries it may approve as a helper
    (``to_approve``), and any recovery of its own member under way (``own``: the old device sees
    it, and may stop it)."""
    try:
        key = _device(request)
        party = Party.objects.filter(public_key=key).first()
        # The old device's own recovery, by the key it replaces: once a first relationship moved,
        # the member's current key is the new one, but the old device may still stop the rest.
        own = RecoveryRequest.objects.filter(old_key=key, status__in=RECOVERY_LIVE[1:]).select_related(
            "party", "policy"
        )
        if party is None and not own.exists():
            raise custody.CustodyError(NOT_THIS_DEVICE, ONLY_YOUR_DEVICE, status=403)
    except custody.CustodyError as e:
        return _refusal(e)
    to_approve = []
    if party is not None:
        mine = set(RecoveryApproval.objects.filter(guardian=party).values_list("request_id", flat=True))
        to_approve = [{**_request_item(r), "approved": r.pk in mine} for r in recovery.pending_for(party)]
    return JsonResponse({"to_approve": to_approve, "own": [_request_item(r) for r in own]})


@csrf_exempt
@require_http_methods(["POST"])
def recovery_approvals(request: HttpRequest, request_id: str) -> JsonResponse:
    """A helper's device approves (``{"approval": {"guardian", "sig"}}``, the request signed by its key)."""
    try:
        key = _device(request)
        body = _body(request)
        req = recovery.recovery_get(request_id)
        before = RecoveryApproval.objects.filter(request=req, guardian__public_key=key).exists()
        recovery.approve_by_device(req, key=key, approval=body.get("approval"), now=now_unix())
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse(
        {"recovery_id": req.request_id, "approved": True, "message": "Thank you: your approval is recorded."},
        status=200 if before else 201,
    )


@csrf_exempt
@require_http_methods(["POST"])
def recovery_cancels(request: HttpRequest) -> JsonResponse:
    """The old device stops a recovery of its member (``{"cancel": {...}}``, signed by its key)."""
    try:
        key = _device(request)
        req = recovery.cancel_submit(key=key, cancel=_body(request).get("cancel"), now=now_unix())
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse(
        {
            "recovery_id": req.request_id,
            "status": req.status,
            "message": "Stopped: your account stays on this device. Consider choosing new helpers.",
        }
    )


@csrf_exempt
@require_http_methods(["GET"])
def recovery_entries(request: HttpRequest, request_id: str, channel: str) -> JsonResponse:
    """The log of one of the member's relationships, to the new device only (signed by its key)."""
    try:
        req = recovery.recovery_get(request_id)
        if signed_by(request) != req.new_key:
            raise custody.CustodyError(NOT_THIS_DEVICE, ONLY_YOUR_DEVICE, status=403)
        if req.status == RecoveryRequest.Status.CANCELLED:  # stopped or cancelled: nothing more to read
            raise custody.CustodyError(recovery.RECOVERY_CANCELLED, "This recovery was stopped.", status=409)
        rel = custody.member_relationship(req.party_id, channel)
    except custody.CustodyError as e:
        return _refusal(e)
    return JsonResponse({"channel": rel.channel_id, "entries": [e.to_json() for e in custody.log_of(rel)]})


urlpatterns = [
    re_path(r"^recovery/policy/?$", recovery_policy, name="recovery-policy"),
    re_path(r"^recovery/requests/?$", recovery_requests, name="recovery-requests"),
    re_path(r"^recovery/cancels/?$", recovery_cancels, name="recovery-cancels"),
    re_path(r"^recoveries/?$", recoveries, name="recoveries"),
    re_path(r"^recoveries/(?P<request_id>[0-9a-f]{32})/?$", recovery_view, name="recovery"),
    re_path(r"^recoveries/(?P<request_id>[0-9a-f]{32})/approvals/?$", recovery_approvals, name="recovery-approvals"),
    re_path(
        r"^recoveries/(?P<request_id>[0-9a-f]{32})/entries/(?P<channel>[0-9a-f]{64})/?$",
        recovery_entries,
        name="recovery-entries",
    ),
    re_path(r"^claims/?$", claims, name="claims"),
    re_path(r"^claims/(?P<claim_id>[0-9a-f]{32})/?$", claim, name="claim"),
    re_path(r"^claims/(?P<claim_id>[0-9a-f]{32})/entries/(?P<channel>[0-9a-f]{64})/?$", entries, name="claim-entries"),
]
