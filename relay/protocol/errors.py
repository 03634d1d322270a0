"""Why the relay refuses an event, a request or a WebSocket frame: one stable code per reason.

The values are the wire codes (``error.code`` of an HTTP error body, ``code`` of a WebSocket
``error`` frame; docs/relay.md §7 and the sections on authentication, mailboxes and the WebSocket
protocol). The HTTP layer reuses them as ``foaf.errors.ErrorCode`` members of the same value, so
there is one error format and one list of codes; this module stays free of Django so that
clients, federation and tests can use it alone.
"""

from __future__ import annotations

from enum import StrEnum


class RelayErrorCode(StrEnum):
    """Every reason the relay refuses something. Add; never rename or reuse."""

    # bytes and JSON
    EVENT_TOO_LARGE = "event_too_large"
    EVENT_MALFORMED = "event_malformed"
    # envelope and body schema
    EVENT_UNSUPPORTED_VERSION = "event_unsupported_version"
    EVENT_UNKNOWN_KIND = "event_unknown_kind"
    EVENT_UNKNOWN_FIELD = "event_unknown_field"
    EVENT_MISSING_FIELD = "event_missing_field"
    EVENT_WRONG_TYPE = "event_wrong_type"
    EVENT_BAD_VALUE = "event_bad_value"
    # keys, signers and signatures
    EVENT_BAD_KEY = "event_bad_key"
    EVENT_WRONG_SIGNER = "event_wrong_signer"
    EVENT_BAD_SIGNATURE = "event_bad_signature"
    # time (against the relay's clock)
    EVENT_FROM_FUTURE = "event_from_future"
    EVENT_EXPIRED = "event_expired"
    # against what the relay already holds
    EVENT_STALE_VERSION = "event_stale_version"
    EVENT_UNKNOWN_RELATIONSHIP = "event_unknown_relationship"
    EVENT_RELATIONSHIP_PUBLIC = "event_relationship_public"
    # signed requests (HTTP headers, the WebSocket `auth` frame)
    AUTH_REQUIRED = "auth_required"
    AUTH_MALFORMED = "auth_malformed"
    AUTH_BAD_KEY = "auth_bad_key"
    AUTH_STALE = "auth_stale"
    AUTH_BAD_SIGNATURE = "auth_bad_signature"
    AUTH_REPLAYED = "auth_replayed"
    AUTH_ALREADY = "auth_already"
    # mailboxes
    MAILBOX_MESSAGE_TOO_LARGE = "mailbox_message_too_large"
    MAILBOX_BAD_MESSAGE = "mailbox_bad_message"
    MAILBOX_UNKNOWN_RECIPIENT = "mailbox_unknown_recipient"
    MAILBOX_FULL = "mailbox_full"
    MAILBOX_CONFLICT = "mailbox_conflict"
    # WebSocket frames and subscriptions
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    SUBSCRIPTION_EXISTS = "subscription_exists"
    SUBSCRIPTION_UNKNOWN = "subscription_unknown"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    CURSOR_AHEAD = "cursor_ahead"
    # limits and faults
    THROTTLED = "throttled"
    INTERNAL_ERROR = "internal_error"


class EventError(Exception):
    """An event the relay refuses. ``code`` is for programs, ``message`` for people (it may change),
    ``details`` names what was wrong (``field``, ``reason``, ``signer``, ``current_version``)."""

    def __init__(self, code: RelayErrorCode, message: str, **details: str | int) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str | int] = dict(details)


class RequestError(Exception):
    """A request or frame the relay refuses (authentication, mailbox, WebSocket protocol, limits).
    The same shape as ``EventError``: ``code`` for programs, ``message`` for people, ``details``."""

    def __init__(self, code: RelayErrorCode, message: str, **details: str | int | float) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str | int | float] = dict(details)
