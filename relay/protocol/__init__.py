"""The relay protocol: signed public events, plain Python (no Django, no I/O, no clock).

Everything a relay, a federating peer or a client needs to build, sign, decode and verify an
event, and to decide which of two events about the same thing wins; to sign and check an
authenticated request (``relay.protocol.auth``); and to decode WebSocket frames
(``relay.protocol.frames``). Specified in docs/relay.md;
JSON Schemas in docs/relay/. Canonical JSON and Ed25519 verification are the bilateral core's
(``foaf.bilateral.jcs``, ``foaf.bilateral.crypto``): one implementation of each in the project.
"""

from .envelope import (
    MAX_CLOCK_SKEW,
    MAX_EVENT_BYTES,
    MAX_HINT_LIFETIME,
    MAX_LISTING_LIFETIME,
    TAG_EVENT,
    VERSION,
    Event,
    check_times,
    decode_event,
    event_from_json,
    load_json,
    parse_event,
    verify_signatures,
)
from .errors import EventError, RelayErrorCode, RequestError
from .kinds import (
    BODY_TYPES,
    HINT_DIRECTIONS,
    LISTING_TYPES,
    MAX_CATEGORY_CHARS,
    MAX_HINT_EXPONENT,
    MAX_NAME_BYTES,
    MAX_RELAY_URL_BYTES,
    MAX_RELAYS,
    MAX_TEXT_BYTES,
    MAX_TITLE_BYTES,
    TAG_RELATIONSHIP,
    X25519_LOW_ORDER,
    Body,
    CapacityHint,
    HintDirection,
    Kind,
    LimitUpdate,
    Listing,
    ListingWithdrawal,
    Profile,
    RelationshipAnnouncement,
    RelationshipWithdrawal,
    relationship_id,
)
from .ordering import Precedence, precedence
from .signing import canonical_bytes, cosign_event, sign_event

__all__ = [
    "BODY_TYPES",
    "HINT_DIRECTIONS",
    "LISTING_TYPES",
    "MAX_CATEGORY_CHARS",
    "MAX_CLOCK_SKEW",
    "MAX_EVENT_BYTES",
    "MAX_HINT_EXPONENT",
    "MAX_HINT_LIFETIME",
    "MAX_LISTING_LIFETIME",
    "MAX_NAME_BYTES",
    "MAX_RELAYS",
    "MAX_RELAY_URL_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_TITLE_BYTES",
    "TAG_EVENT",
    "TAG_RELATIONSHIP",
    "VERSION",
    "X25519_LOW_ORDER",
    "Body",
    "CapacityHint",
    "Event",
    "EventError",
    "HintDirection",
    "Kind",
    "LimitUpdate",
    "Listing",
    "ListingWithdrawal",
    "Precedence",
    "Profile",
    "RelationshipAnnouncement",
    "RelationshipWithdrawal",
    "RelayErrorCode",
    "RequestError",
    "canonical_bytes",
    "check_times",
    "cosign_event",
    "decode_event",
    "event_from_json",
    "load_json",
    "parse_event",
    "precedence",
    "relationship_id",
    "sign_event",
    "verify_signatures",
]
