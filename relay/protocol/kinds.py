"""The kinds of relay events and their bodies (docs/relay.md §4).

Public graph: ``relationship`` (co-signed announcement of an edge with both limits and flags),
``limit`` (one party changes the limit it extends), ``relationship_withdrawal`` (either party
takes the edge down), ``capacity_hint`` (one party says, coarsely and for a short time, what its
direction of the edge can carry now: a power-of-two bucket). Discovery: ``profile`` (display name,
relays, mailbox key) and ``listing`` (an offer or a want) with ``listing_withdrawal``. No body has
a balance, payment or any amount that moved: a limit is what a member is willing to extend, a
price is what a listing asks, and a capacity hint is only an exponent n ("below 2**n"), never an
amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Self

from foaf.bilateral.crypto import sha256, signing_message
from foaf.bilateral.jcs import canonicalize_trusted

from .errors import EventError, RelayErrorCode
from .fields import JSON, Reader, bad_value

TAG_RELATIONSHIP = b"FOAF-RELAY-1/relationship"

MAX_NAME_BYTES = 64
MAX_RELAYS = 8
MAX_RELAY_URL_BYTES = 200
MAX_TITLE_BYTES = 120
MAX_TEXT_BYTES = 4000
MAX_CATEGORY_CHARS = 40
MAX_HINT_EXPONENT = 64  # "below 2**64": more than any limit (2**53 - 1) can be

_CURRENCY = re.compile(r"[A-Z]{3}")
_CATEGORY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_QUANTITY = re.compile(r"(?:0|[1-9][0-9]{0,9})(?:\.[0-9]{1,5})?")
# An https or wss URL: printable ASCII without spaces after the scheme.
_RELAY_URL = re.compile(r"(?:https|wss)://[!-~]+")

# Low-order X25519 public keys (libsodium's blocklist, compared with the top bit cleared): a box
# to any of them has an all-zero shared secret, so a mailbox key must not be one.
X25519_LOW_ORDER: frozenset[bytes] = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    )
)


class Kind(StrEnum):
    RELATIONSHIP = "relationship"
    LIMIT = "limit"
    RELATIONSHIP_WITHDRAWAL = "relationship_withdrawal"
    PROFILE = "profile"
    LISTING = "listing"
    LISTING_WITHDRAWAL = "listing_withdrawal"
    CAPACITY_HINT = "capacity_hint"


def relationship_id(a: str, b: str, currency: str) -> str:
    """hex(SHA-256(tag || 0x00 || SHA-256(JCS({"a", "b", "currency"})))): one public edge per pair and currency."""
    digest = sha256(canonicalize_trusted({"a": a, "b": b, "currency": currency}))
    return sha256(signing_message(TAG_RELATIONSHIP, digest)).hex()


def _parties(r: Reader) -> tuple[str, str, str]:
    a, b = r.hex("a", 32), r.hex("b", 32)
    if not a < b:
        # One order per pair, so that the pair has one edge whoever announces it.
        raise bad_value(r.field("b"), "a must sort before b (lowercase hex), and they must differ")
    return a, b, r.pattern("currency", _CURRENCY, "three uppercase letters")


@dataclass(frozen=True, slots=True)
class RelationshipAnnouncement:
    """Both parties say the relationship exists, with these limits and flags (kind ``relationship``)."""

    FIELDS = ("a", "b", "currency", "limit_a_to_b", "limit_b_to_a", "routable", "public", "version")

    a: str
    b: str
    currency: str
    limit_a_to_b: int  # how much a may owe b: the credit b extends to a
    limit_b_to_a: int  # how much b may owe a: the credit a extends to b
    routable: bool
    public: bool
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        a, b, currency = _parties(r)
        return cls(
            a,
            b,
            currency,
            r.integer("limit_a_to_b"),
            r.integer("limit_b_to_a"),
            r.boolean("routable"),
            r.boolean("public"),
            r.integer("version", minimum=1),
        )

    def to_json(self) -> JSON:
        return {
            "a": self.a,
            "b": self.b,
            "currency": self.currency,
            "limit_a_to_b": self.limit_a_to_b,
            "limit_b_to_a": self.limit_b_to_a,
            "routable": self.routable,
            "public": self.public,
            "version": self.version,
        }

    @property
    def relationship(self) -> str:
        return relationship_id(self.a, self.b, self.currency)


@dataclass(frozen=True, slots=True)
class LimitUpdate:
    """The author (party a or b) sets the limit it extends to the other party (kind ``limit``)."""

    FIELDS = ("a", "b", "currency", "limit", "version")

    a: str
    b: str
    currency: str
    limit: int
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        a, b, currency = _parties(r)
        return cls(a, b, currency, r.integer("limit"), r.integer("version", minimum=1))

    def to_json(self) -> JSON:
        return {"a": self.a, "b": self.b, "currency": self.currency, "limit": self.limit, "version": self.version}

    @property
    def relationship(self) -> str:
        return relationship_id(self.a, self.b, self.currency)

    def direction(self, author: str) -> Literal["limit_a_to_b", "limit_b_to_a"]:
        """Which limit the author owns: b extends credit to a (``limit_a_to_b``), a to b (``limit_b_to_a``)."""
        return "limit_a_to_b" if author == self.b else "limit_b_to_a"


@dataclass(frozen=True, slots=True)
class RelationshipWithdrawal:
    """Either party takes the edge off the public graph (kind ``relationship_withdrawal``)."""

    FIELDS = ("a", "b", "currency", "version")

    a: str
    b: str
    currency: str
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        a, b, currency = _parties(r)
        return cls(a, b, currency, r.integer("version", minimum=1))

    def to_json(self) -> JSON:
        return {"a": self.a, "b": self.b, "currency": self.currency, "version": self.version}

    @property
    def relationship(self) -> str:
        return relationship_id(self.a, self.b, self.currency)


HintDirection = Literal["a_to_b", "b_to_a"]
HINT_DIRECTIONS: tuple[HintDirection, ...] = ("a_to_b", "b_to_a")


@dataclass(frozen=True, slots=True)
class CapacityHint:
    """What one direction of the edge can carry now, as a bucket (kind ``capacity_hint``).

    ``direction`` ``a_to_b`` is a paying b (a owing b more, as ``limit_a_to_b`` allows); it is
    signed by a, the party the direction starts from, and ``b_to_a`` by b: each party speaks only
    for what it can pay through the edge. ``exponent`` n says "below 2**n" (0: nothing). The
    envelope's ``expires`` is required and short (docs/relay.md §4.7): a bucket goes stale.
    """

    FIELDS = ("a", "b", "currency", "direction", "exponent", "version")

    a: str
    b: str
    currency: str
    direction: HintDirection
    exponent: int
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        a, b, currency = _parties(r)
        raw = r.string("direction")
        if raw not in HINT_DIRECTIONS:
            raise bad_value(r.field("direction"), 'must be "a_to_b" or "b_to_a"')
        direction: HintDirection = "a_to_b" if raw == "a_to_b" else "b_to_a"
        exponent = r.integer("exponent", maximum=MAX_HINT_EXPONENT)
        return cls(a, b, currency, direction, exponent, r.integer("version", minimum=1))

    def to_json(self) -> JSON:
        return {
            "a": self.a,
            "b": self.b,
            "currency": self.currency,
            "direction": self.direction,
            "exponent": self.exponent,
            "version": self.version,
        }

    @property
    def relationship(self) -> str:
        return relationship_id(self.a, self.b, self.currency)

    @property
    def payer(self) -> str:
        """The party the direction starts from: the only one who may sign the hint."""
        return self.a if self.direction == "a_to_b" else self.b

    @property
    def payee(self) -> str:
        return self.b if self.direction == "a_to_b" else self.a


@dataclass(frozen=True, slots=True)
class Profile:
    """How to find and write to the author (kind ``profile``).

    ``mailbox_key`` is an X25519 public key for NaCl boxes, a key of its own (never the signing
    key, nor that key converted to X25519), bound to the member by the author's signature.
    """

    FIELDS = ("name", "relays", "mailbox_key", "version")

    name: str
    relays: tuple[str, ...]
    mailbox_key: str
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        name = r.text("name", min_bytes=1, max_bytes=MAX_NAME_BYTES)
        relays = r.array("relays", max_items=MAX_RELAYS)
        for i, url in enumerate(relays):
            field = f"{r.field('relays')}[{i}]"
            if type(url) is not str:
                raise EventError(RelayErrorCode.EVENT_WRONG_TYPE, f"{field} must be a string", field=field)
            if len(url) > MAX_RELAY_URL_BYTES or not _RELAY_URL.fullmatch(url):
                raise bad_value(field, f"must be an https:// or wss:// URL of at most {MAX_RELAY_URL_BYTES} bytes")
        if len(set(relays)) != len(relays):
            raise bad_value(r.field("relays"), "must not repeat a URL")
        mailbox_key = r.hex("mailbox_key", 32)
        key = bytes.fromhex(mailbox_key)
        if key[:31] + bytes([key[31] & 0x7F]) in X25519_LOW_ORDER:  # X25519 ignores the top bit
            raise bad_value(r.field("mailbox_key"), "is a low-order X25519 point")
        return cls(name, tuple(relays), mailbox_key, r.integer("version", minimum=1))

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "relays": list(self.relays),
            "mailbox_key": self.mailbox_key,
            "version": self.version,
        }


ListingType = Literal["offer", "want"]
LISTING_TYPES: tuple[ListingType, ...] = ("offer", "want")


@dataclass(frozen=True, slots=True)
class Listing:
    """An offer or a want (kind ``listing``), identified by (author, ``listing``), searchable until it expires."""

    FIELDS = ("listing", "type", "title", "text", "category", "quantity", "price_cents", "currency", "version")

    listing: str  # hex16 chosen by the author: updates and the withdrawal name it
    type: ListingType
    title: str
    text: str
    category: str
    quantity: str | None  # a decimal number as a string ("2.5"): no floats in signed JSON
    price_cents: int | None  # asking price per unit, in the currency's minor unit
    currency: str | None  # present exactly when price_cents is
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        listing = r.hex("listing", 16)
        raw_type = r.string("type")
        if raw_type not in LISTING_TYPES:
            raise bad_value(r.field("type"), 'must be "offer" or "want"')
        type_: ListingType = "offer" if raw_type == "offer" else "want"
        title = r.text("title", min_bytes=1, max_bytes=MAX_TITLE_BYTES)
        text = r.text("text", min_bytes=0, max_bytes=MAX_TEXT_BYTES, multiline=True)
        category = r.pattern("category", _CATEGORY, "lowercase words of a-z and 0-9 joined by single hyphens")
        if len(category) > MAX_CATEGORY_CHARS:
            raise bad_value(r.field("category"), f"at most {MAX_CATEGORY_CHARS} characters")
        quantity = r.optional_pattern("quantity", _QUANTITY, "a decimal number with at most 5 decimals, or null")
        price_cents = r.optional_integer("price_cents")
        currency = r.optional_pattern("currency", _CURRENCY, "three uppercase letters, or null")
        if (price_cents is None) != (currency is None):
            raise bad_value(r.field("currency"), "is given exactly when price_cents is")
        version = r.integer("version", minimum=1)
        return cls(listing, type_, title, text, category, quantity, price_cents, currency, version)

    def to_json(self) -> JSON:
        return {
            "listing": self.listing,
            "type": self.type,
            "title": self.title,
            "text": self.text,
            "category": self.category,
            "quantity": self.quantity,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class ListingWithdrawal:
    """The author takes a listing down (kind ``listing_withdrawal``)."""

    FIELDS = ("listing", "version")

    listing: str
    version: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        r = Reader(obj, "body", cls.FIELDS)
        return cls(r.hex("listing", 16), r.integer("version", minimum=1))

    def to_json(self) -> JSON:
        return {"listing": self.listing, "version": self.version}


Body = (
    RelationshipAnnouncement
    | LimitUpdate
    | RelationshipWithdrawal
    | CapacityHint
    | Profile
    | Listing
    | ListingWithdrawal
)
RelationshipBody = RelationshipAnnouncement | LimitUpdate | RelationshipWithdrawal | CapacityHint

BODY_TYPES: dict[Kind, type[Body]] = {
    Kind.RELATIONSHIP: RelationshipAnnouncement,
    Kind.LIMIT: LimitUpdate,
    Kind.RELATIONSHIP_WITHDRAWAL: RelationshipWithdrawal,
    Kind.PROFILE: Profile,
    Kind.LISTING: Listing,
    Kind.LISTING_WITHDRAWAL: ListingWithdrawal,
    Kind.CAPACITY_HINT: CapacityHint,
}


def body_from_json(kind: Kind, obj: Any) -> Body:
    return BODY_TYPES[kind].from_json(obj)
