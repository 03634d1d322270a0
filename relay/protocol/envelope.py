"""The event envelope: strict decoding, canonical bytes, id, signatures and time checks.

An event is ``{"v": 1, "kind", "author", "created", "expires", "body", "sig"}`` plus ``"cosig"``
for a ``relationship`` announcement. Its *unsigned envelope* is the same object without ``sig``
and ``cosig``; its id is ``hex(SHA-256(JCS(unsigned)))``; every signature is Ed25519 over
``"FOAF-RELAY-1/event" || 0x00 || SHA-256(JCS(unsigned))``, the construction of the bilateral spec
(§2.2) with the relay's own tag. So an event carries everything needed to re-verify it anywhere:
the keys are in it, and nothing a relay adds (cursor, arrival time) is signed or needed.

``decode_event`` runs every check in the order docs/relay.md §5 gives, so that every
implementation reports the same first failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import nacl.bindings
import nacl.exceptions

from foaf.bilateral import jcs
from foaf.bilateral.crypto import check_public_key, sha256, signing_message, verify
from foaf.bilateral.errors import RemoteProtocolError

from .errors import EventError, RelayErrorCode
from .fields import JSON, Reader, bad_value, wrong_type
from .kinds import (
    BODY_TYPES,
    Body,
    CapacityHint,
    Kind,
    LimitUpdate,
    Profile,
    RelationshipAnnouncement,
    RelationshipWithdrawal,
)

VERSION = 1
TAG_EVENT = b"FOAF-RELAY-1/event"
MAX_EVENT_BYTES = 16384  # of the bytes received, and of the canonical signed envelope
MAX_CLOCK_SKEW = 300  # seconds an event's `created` may be ahead of the relay's clock
MAX_LISTING_LIFETIME = 400 * 86400  # seconds from `created` to `expires`
MAX_HINT_LIFETIME = 7 * 86400  # a capacity hint goes stale: at most a week from `created` to `expires`

SIGNATURE_FIELDS = ("sig", "cosig")
_FIELDS = ("v", "kind", "author", "created", "expires", "body", "sig")
_FIELDS_COSIGNED = (*_FIELDS, "cosig")

EventInput = bytes | bytearray | memoryview | Mapping[str, Any]


@dataclass(frozen=True)
class Event:
    """A decoded event. Built by ``decode_event``/``parse_event`` (checked) or by the signing helpers."""

    kind: Kind
    author: str
    created: int
    expires: int | None
    body: Body
    sig: str
    cosig: str | None = None

    def unsigned_json(self) -> JSON:
        return {
            "v": VERSION,
            "kind": self.kind.value,
            "author": self.author,
            "created": self.created,
            "expires": self.expires,
            "body": self.body.to_json(),
        }

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 of the canonical unsigned envelope: the event id, as bytes."""
        return sha256(jcs.canonicalize_trusted(self.unsigned_json()))

    @property
    def id(self) -> str:
        return self.digest.hex()

    @property
    def signing_message(self) -> bytes:
        return signing_message(TAG_EVENT, self.digest)

    def to_json(self) -> JSON:
        """The signed envelope, as sent and served."""
        envelope = self.unsigned_json()
        envelope["sig"] = self.sig
        if self.cosig is not None:
            envelope["cosig"] = self.cosig
        return envelope

    @cached_property
    def canonical(self) -> bytes:
        """JCS bytes of the signed envelope: what a relay stores and serves."""
        return jcs.canonicalize_trusted(self.to_json())

    @property
    def cosigner(self) -> str | None:
        """The party whose signature ``cosig`` is: the announcement's party other than the author."""
        body = self.body
        if not isinstance(body, RelationshipAnnouncement):
            return None
        return body.b if self.author == body.a else body.a


def load_json(data: EventInput) -> JSON:
    """Bytes (or an already parsed object) as a JSON object inside the profile; size and syntax only."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > MAX_EVENT_BYTES:
            raise EventError(RelayErrorCode.EVENT_TOO_LARGE, f"{len(data)} bytes; the limit is {MAX_EVENT_BYTES}")
        try:
            return jcs.parse(bytes(data))
        except RemoteProtocolError as e:
            raise EventError(RelayErrorCode.EVENT_MALFORMED, e.detail or e.code.value, reason=e.code.value) from None
    if isinstance(data, Mapping):
        value = dict(data)
        try:
            size = len(jcs.canonicalize(value))  # walks the profile: no floats, ASCII keys, safe integers
        except RemoteProtocolError as e:
            raise EventError(RelayErrorCode.EVENT_MALFORMED, e.detail or e.code.value, reason=e.code.value) from None
        if size > MAX_EVENT_BYTES:
            raise EventError(RelayErrorCode.EVENT_TOO_LARGE, f"{size} bytes; the limit is {MAX_EVENT_BYTES}")
        return value
    raise EventError(RelayErrorCode.EVENT_MALFORMED, "an event is JSON bytes or a JSON object", reason="WRONG_TYPE")


def _kind_of(obj: object) -> Kind:
    """Steps 3-4: ``v`` before anything else, then ``kind``."""
    if type(obj) is not dict:
        raise wrong_type("event", "an object")
    if "v" not in obj:
        raise EventError(RelayErrorCode.EVENT_MISSING_FIELD, "v is required", field="v")
    if type(obj["v"]) is not int:
        raise wrong_type("v", "an integer")
    if obj["v"] != VERSION:
        raise EventError(
            RelayErrorCode.EVENT_UNSUPPORTED_VERSION, f"version {obj['v']}; this relay speaks 1", field="v"
        )
    if "kind" not in obj:
        raise EventError(RelayErrorCode.EVENT_MISSING_FIELD, "kind is required", field="kind")
    if type(obj["kind"]) is not str:
        raise wrong_type("kind", "a string")
    try:
        return Kind(obj["kind"])
    except ValueError:
        raise EventError(
            RelayErrorCode.EVENT_UNKNOWN_KIND, f"unknown kind {obj['kind'][:64]!r}", field="kind"
        ) from None


def event_from_json(obj: object) -> Event:
    """Steps 3-8: the schema of the envelope and its body, keys, signer roles and expiry rules.
    Signatures and the clock are not looked at (``verify_signatures``, ``check_times``)."""
    kind = _kind_of(obj)
    r = Reader(obj, "", _FIELDS_COSIGNED if kind is Kind.RELATIONSHIP else _FIELDS)
    author = r.hex("author", 32)
    created = r.integer("created")
    expires = r.optional_integer("expires")
    body = BODY_TYPES[kind].from_json(r.raw("body"))
    sig = r.hex("sig", 64)
    cosig = r.hex("cosig", 64) if kind is Kind.RELATIONSHIP else None
    event = Event(kind, author, created, expires, body, sig, cosig)
    _check_keys_and_roles(event)
    _check_expiry_rule(event)
    return event


def _check_key(key: str, field: str) -> None:
    try:
        check_public_key(bytes.fromhex(key))
    except RemoteProtocolError as e:
        raise EventError(
            RelayErrorCode.EVENT_BAD_KEY, f"{field} is not a usable Ed25519 key", field=field, reason=e.code.value
        ) from None


def _check_keys_and_roles(event: Event) -> None:
    _check_key(event.author, "author")
    body = event.body
    if isinstance(body, (RelationshipAnnouncement, LimitUpdate, RelationshipWithdrawal, CapacityHint)):
        _check_key(body.a, "body.a")
        _check_key(body.b, "body.b")
        if event.author not in (body.a, body.b):
            raise EventError(RelayErrorCode.EVENT_WRONG_SIGNER, "the author must be party a or party b", field="author")
        # A party speaks only for what it can pay through the edge, never for the other's side.
        if isinstance(body, CapacityHint) and event.author != body.payer:
            raise EventError(
                RelayErrorCode.EVENT_WRONG_SIGNER,
                f"a {body.direction} hint is signed by party {body.direction[0]}, the party the direction starts from",
                field="author",
            )
    # A mailbox key of its own: reusing the signing key (as is, or converted to X25519) would tie
    # the mailbox's secrecy to every signature the member ever makes.
    elif isinstance(body, Profile) and body.mailbox_key in (event.author, _as_x25519(event.author)):
        raise bad_value("body.mailbox_key", "must be a key of its own, not the signing key")


def _as_x25519(ed25519_key: str) -> str | None:
    """The Ed25519 key converted to X25519; None when it is no curve point (its signature will fail)."""
    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(bytes.fromhex(ed25519_key))).hex()
    except (nacl.exceptions.RuntimeError, ValueError):
        return None


_LIFETIMES = {Kind.LISTING: MAX_LISTING_LIFETIME, Kind.CAPACITY_HINT: MAX_HINT_LIFETIME}


def _check_expiry_rule(event: Event) -> None:
    lifetime = _LIFETIMES.get(event.kind)
    if lifetime is not None:
        if event.expires is None:
            raise bad_value("expires", f"a {event.kind.value} must expire")
        if not event.created < event.expires <= event.created + lifetime:
            raise bad_value("expires", f"must be after created and at most {lifetime} s after it")
    elif event.expires is not None:
        raise bad_value("expires", f"must be null for kind {event.kind.value}")


def verify_signatures(event: Event) -> None:
    """Step 9: ``sig`` by the author, then (announcements) ``cosig`` by the other party."""
    message = event.signing_message
    signers: list[tuple[str, str, str]] = [("sig", event.author, event.sig)]
    if event.cosig is not None and event.cosigner is not None:
        signers.append(("cosig", event.cosigner, event.cosig))
    for field, key, sig in signers:
        try:
            verify(bytes.fromhex(key), message, bytes.fromhex(sig))
        except RemoteProtocolError as e:
            raise EventError(
                RelayErrorCode.EVENT_BAD_SIGNATURE,
                f"{field} is not a valid signature of this event by {key[:16]}...",
                field=field,
                reason=e.code.value,
            ) from None


def check_times(event: Event, *, now: int, expired_ok: bool = False) -> None:
    """Step 10: not from the future (beyond the allowed skew), not expired (``expired_ok``: a
    peer's history, which may hold events that have expired since, §12.2)."""
    if event.created > now + MAX_CLOCK_SKEW:
        raise EventError(
            RelayErrorCode.EVENT_FROM_FUTURE,
            f"created {event.created - now} s ahead of the relay's clock (allowed: {MAX_CLOCK_SKEW})",
            field="created",
        )
    if event.expires is not None and event.expires <= now and not expired_ok:
        raise EventError(RelayErrorCode.EVENT_EXPIRED, "the event has expired", field="expires")


def parse_event(data: EventInput) -> Event:
    """Every check but the clock: for re-verifying stored or federated history."""
    event = event_from_json(load_json(data))
    if len(event.canonical) > MAX_EVENT_BYTES:
        raise EventError(RelayErrorCode.EVENT_TOO_LARGE, f"the canonical event exceeds {MAX_EVENT_BYTES} bytes")
    verify_signatures(event)
    return event


def decode_event(data: EventInput, *, now: int, expired_ok: bool = False) -> Event:
    """A fresh event from a client, checked completely; raises ``EventError`` with the first failure.
    ``expired_ok``: an event from a peer's history (§12.2), where expiry is not a reason to refuse."""
    event = parse_event(data)
    check_times(event, now=now, expired_ok=expired_ok)
    return event


__all__ = [
    "MAX_CLOCK_SKEW",
    "MAX_EVENT_BYTES",
    "MAX_HINT_LIFETIME",
    "MAX_LISTING_LIFETIME",
    "SIGNATURE_FIELDS",
    "TAG_EVENT",
    "VERSION",
    "Event",
    "check_times",
    "decode_event",
    "event_from_json",
    "load_json",
    "parse_event",
    "verify_signatures",
]
