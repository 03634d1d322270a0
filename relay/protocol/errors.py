"""Why the relay refuses an event: one stable code per reason.

The values are the wire codes (``error.code`` of an HTTP error body, docs/relay.md §7). The HTTP
layer reuses them as ``foaf.errors.ErrorCode`` members of the same value, so there is one error
format and one list of codes; this module stays free of Django so that clients, federation
and tests can use it alone.
"""

from __future__ import annotations

from enum import StrEnum


class RelayErrorCode(StrEnum):
    """Every reason an event is refused. Add; never rename or reuse."""

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


class EventError(Exception):
    """An event the relay refuses. ``code`` is for programs, ``message`` for people (it may change),
    ``details`` names what was wrong (``field``, ``reason``, ``signer``, ``current_version``)."""

    def __init__(self, code: RelayErrorCode, message: str, **details: str | int) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str | int] = dict(details)
