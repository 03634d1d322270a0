"""One error format for the whole API, with stable, typed codes.

Every error response body is ``{"error": {"code", "message", "details"}, "request_id"}``.
``code`` is a member of ``ErrorCode``: clients branch on it, never on the message, which may
change. Views raise ``ApiError`` (or DRF's own exceptions, mapped here); unhandled exceptions
become ``internal_error`` without leaking their text.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from foaf.logs import current_request_id

logger = logging.getLogger(__name__)


class ErrorCode(enum.StrEnum):
    """Stable codes, shared by every endpoint. Add; never rename or reuse."""

    INVALID_REQUEST = "invalid_request"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_ACCEPTABLE = "not_acceptable"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    PROTOCOL_VIOLATION = "protocol_violation"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
    NO_ROUTE = "no_route"
    NOT_HOSTED = "not_hosted"
    ROUTE_REFUSED = "route_refused"
    # The relay refuses an event (docs/relay.md; the same values as relay.protocol.RelayErrorCode).
    EVENT_TOO_LARGE = "event_too_large"
    EVENT_MALFORMED = "event_malformed"
    EVENT_UNSUPPORTED_VERSION = "event_unsupported_version"
    EVENT_UNKNOWN_KIND = "event_unknown_kind"
    EVENT_UNKNOWN_FIELD = "event_unknown_field"
    EVENT_MISSING_FIELD = "event_missing_field"
    EVENT_WRONG_TYPE = "event_wrong_type"
    EVENT_BAD_VALUE = "event_bad_value"
    EVENT_BAD_KEY = "event_bad_key"
    EVENT_WRONG_SIGNER = "event_wrong_signer"
    EVENT_BAD_SIGNATURE = "event_bad_signature"
    EVENT_FROM_FUTURE = "event_from_future"
    EVENT_EXPIRED = "event_expired"
    EVENT_STALE_VERSION = "event_stale_version"
    EVENT_UNKNOWN_RELATIONSHIP = "event_unknown_relationship"
    EVENT_RELATIONSHIP_PUBLIC = "event_relationship_public"
    # Signed requests, mailboxes and WebSocket frames of the relay (relay.protocol.RelayErrorCode).
    AUTH_REQUIRED = "auth_required"
    AUTH_MALFORMED = "auth_malformed"
    AUTH_BAD_KEY = "auth_bad_key"
    AUTH_STALE = "auth_stale"
    AUTH_BAD_SIGNATURE = "auth_bad_signature"
    AUTH_REPLAYED = "auth_replayed"
    AUTH_ALREADY = "auth_already"
    MAILBOX_MESSAGE_TOO_LARGE = "mailbox_message_too_large"
    MAILBOX_BAD_MESSAGE = "mailbox_bad_message"
    MAILBOX_UNKNOWN_RECIPIENT = "mailbox_unknown_recipient"
    MAILBOX_FULL = "mailbox_full"
    MAILBOX_CONFLICT = "mailbox_conflict"
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    SUBSCRIPTION_EXISTS = "subscription_exists"
    SUBSCRIPTION_UNKNOWN = "subscription_unknown"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    CURSOR_AHEAD = "cursor_ahead"
    # Routes over the relay's public graph (docs/relay.md §17, docs/routing.md).
    ROUTE_UNKNOWN_MEMBER = "route_unknown_member"
    ROUTE_SAME_MEMBER = "route_same_member"
    # Anchoring (docs/anchoring.md).
    ANCHOR_UNKNOWN_STATE = "anchor_unknown_state"
    ANCHOR_NOT_A_PARTY = "anchor_not_a_party"
    ANCHOR_NOT_READY = "anchor_not_ready"
    # On-chain settlement, off-chain side (docs/anchoring.md, "Settlement"; docs/spec/settlement.md).
    SETTLEMENT_NOT_A_PARTY = "settlement_not_a_party"
    SETTLEMENT_NOT_COSIGNED = "settlement_not_cosigned"
    SETTLEMENT_IN_PROGRESS = "settlement_in_progress"
    SETTLEMENT_NOT_SETTLEABLE = "settlement_not_settleable"
    SETTLEMENT_BAD_ENTRY = "settlement_bad_entry"
    SETTLEMENT_NOT_READY = "settlement_not_ready"


class ApiError(exceptions.APIException):
    """An error with a stable code; raise it from views and services called by views."""

    def __init__(
        self, code: ErrorCode, message: str, *, http_status: int = 400, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail=message, code=code.value)
        self.error_code = code
        self.status_code = http_status
        self.details = details or {}


_DRF_CODES: dict[type[exceptions.APIException], ErrorCode] = {
    exceptions.ValidationError: ErrorCode.INVALID_REQUEST,
    exceptions.ParseError: ErrorCode.INVALID_REQUEST,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def error_body(code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {"code": code.value, "message": message, "details": details or {}},
        "request_id": current_request_id(),
    }


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, in the one format."""
    response = exception_handler(exc, context)
    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.details)
    elif response is not None and isinstance(exc, exceptions.APIException):
        code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), ErrorCode.INVALID_REQUEST)
        if isinstance(exc, exceptions.ValidationError):
            body = error_body(code, "The request is not valid.", {"fields": exc.detail})
        else:
            body = error_body(code, str(exc.detail))
    else:
        logger.exception("unhandled error in an API view")
        return Response(
            error_body(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    headers = dict(response.items()) if response is not None else {}
    http_status = response.status_code if response is not None else exc.status_code
    return Response(body, status=http_status, headers=headers)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler404: unknown URLs answer in the API's format too."""
    return JsonResponse(error_body(ErrorCode.NOT_FOUND, f"No such path: {request.path}"), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500."""
    return JsonResponse(error_body(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."), status=500)
