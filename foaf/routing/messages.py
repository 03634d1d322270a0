"""The signed messages of multi-hop payments (docs/spec/routing.md §2-§4): invoice, route, status.

Each is a JSON object with ``"type"`` and ``"v": 1``, parsed strictly by the bilateral core's rules
(unknown or missing fields, wrong types and non-canonical hex are errors) and signed like the
bilateral messages: Ed25519 over ``tag || 0x00 || SHA-256(JCS(body))``, where the body is the
object without ``sig``. Plain Python, no I/O.

- ``Invoice``: the payee asks for ``amount`` under ``lock = SHA-256(preimage)``; only the payee
  knows the preimage.
- ``RouteProposal``: the payer's route: one hop per relationship, the amount each hop holds and
  when each hold expires (earlier downstream). Every party on it checks it (``check_route``) before
  it countersigns a hold.
- ``Forward``: a hold proposal on one hop together with its route (what travels downstream).
- ``RouteStatus``: what a party on the route reports about its hop (held, settled, cancelled and
  why), for the payer's progress view. Informative: the holds are what count.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from foaf.bilateral.crypto import Signer, sha256, signing_message, verify
from foaf.bilateral.errors import RemoteProtocolError
from foaf.bilateral.jcs import canonicalize_trusted, parse
from foaf.bilateral.model import (
    MAX_MEMO_BYTES,
    Member,
    Proposal,
    check_fields,
    check_version,
    get_enum,
    get_hex,
    get_int,
    get_match,
    get_str,
)

from .errors import RouteError, RoutingCode

VERSION = 1
TAG_INVOICE = b"FOAF-ROUTING-1/invoice"
TAG_ROUTE = b"FOAF-ROUTING-1/route"
TAG_STATUS = b"FOAF-ROUTING-1/status"
TAG_HOLD_ID = b"FOAF-ROUTING-1/hold"
PURPOSES = ("payment", "loop")
STATUSES = ("held", "settled", "cancelled", "disputed")
_CURRENCY = re.compile(r"[A-Z]{3}")
_REASON = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
JSON = dict[str, Any]


def _signed(tag: bytes, body: JSON) -> bytes:
    return signing_message(tag, sha256(canonicalize_trusted(body)))


def _check_sig(key: str, message: bytes, sig: str) -> None:
    try:
        verify(bytes.fromhex(key), message, bytes.fromhex(sig))
    except RemoteProtocolError as e:
        raise RouteError(e.code.value, e.detail) from None


def _schema(fn: Any, *args: Any) -> Any:
    """Run a bilateral field reader; its RemoteProtocolError becomes a RouteError of the same code."""
    try:
        return fn(*args)
    except RemoteProtocolError as e:
        raise RouteError(e.code.value, e.detail) from None


def _member(d: Any, what: str) -> Member:
    _schema(check_fields, d, frozenset({"id", "key"}), what)
    return Member(_schema(get_hex, d, "id", 32), _schema(get_hex, d, "key", 32))


@dataclass(frozen=True, slots=True)
class Invoice:
    """The payee's request: pay ``amount`` of ``currency`` under ``lock`` before ``expires``."""

    payment: str  # hex16, chosen by the payee, unique among its invoices
    payee: Member
    currency: str
    amount: int
    lock: str
    expires: int
    memo: str
    sig: str

    TYPE: ClassVar[str] = "invoice"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"type", "v", "payment", "payee", "currency", "amount", "lock", "expires", "memo", "sig"}
    )

    def body_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "payment": self.payment,
            "payee": self.payee.to_json(),
            "currency": self.currency,
            "amount": self.amount,
            "lock": self.lock,
            "expires": self.expires,
            "memo": self.memo,
        }

    @property
    def signing_message(self) -> bytes:
        return _signed(TAG_INVOICE, self.body_json())

    def to_json(self) -> JSON:
        return {**self.body_json(), "sig": self.sig}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def make(
        cls,
        signer: Signer,
        payee_id: str,
        *,
        payment: str,
        currency: str,
        amount: int,
        preimage: str,
        expires: int,
        memo: str = "",
    ) -> Invoice:
        lock = hashlib.sha256(bytes.fromhex(preimage)).hexdigest()
        unsigned = cls(payment, Member(payee_id, signer.public_key.hex()), currency, amount, lock, expires, memo, "")
        return replace(unsigned, sig=signer.sign(unsigned.signing_message).hex())

    @classmethod
    def from_json(cls, d: Any) -> Invoice:
        _check_type(d, cls.TYPE)
        _schema(check_fields, d, cls.FIELDS, "invoice")
        inv = cls(
            _schema(get_hex, d, "payment", 16),
            _member(d["payee"], "payee"),
            _schema(get_match, d, "currency", _CURRENCY),
            _schema(get_int, d, "amount", 1),
            _schema(get_hex, d, "lock", 32),
            _schema(get_int, d, "expires"),
            _schema(get_str, d, "memo", MAX_MEMO_BYTES),
            _schema(get_hex, d, "sig", 64),
        )
        _check_sig(inv.payee.key, inv.signing_message, inv.sig)
        return inv


@dataclass(frozen=True, slots=True)
class Hop:
    """One relationship of a route: ``from_`` holds ``amount`` for ``to`` until ``expires``."""

    channel: str
    from_: str  # party id of the hold's payer
    to: str  # party id of the hold's payee
    amount: int
    expires: int

    FIELDS: ClassVar[frozenset[str]] = frozenset({"channel", "from", "to", "amount", "expires"})

    def to_json(self) -> JSON:
        return {
            "channel": self.channel,
            "from": self.from_,
            "to": self.to,
            "amount": self.amount,
            "expires": self.expires,
        }

    @classmethod
    def from_json(cls, d: Any) -> Hop:
        _schema(check_fields, d, cls.FIELDS, "hop")
        return cls(
            _schema(get_hex, d, "channel", 32),
            _schema(get_hex, d, "from", 32),
            _schema(get_hex, d, "to", 32),
            _schema(get_int, d, "amount", 1),
            _schema(get_int, d, "expires"),
        )


@dataclass(frozen=True)
class RouteProposal:
    """The payer's signed route for one attempt at paying one invoice (or one credit loop)."""

    payment: str
    purpose: str
    currency: str
    lock: str
    amount: int
    payer: Member
    payee: str
    created: int
    hops: tuple[Hop, ...]
    sig: str

    TYPE: ClassVar[str] = "route"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"type", "v", "payment", "purpose", "currency", "lock", "amount", "payer", "payee", "created", "hops", "sig"}
    )

    def body_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "payment": self.payment,
            "purpose": self.purpose,
            "currency": self.currency,
            "lock": self.lock,
            "amount": self.amount,
            "payer": self.payer.to_json(),
            "payee": self.payee,
            "created": self.created,
            "hops": [h.to_json() for h in self.hops],
        }

    @property
    def digest(self) -> bytes:
        """SHA-256 of the body's canonical bytes: the route's identity (its ``route_hash``)."""
        cached: bytes | None = self.__dict__.get("_digest")
        if cached is None:
            cached = sha256(canonicalize_trusted(self.body_json()))
            object.__setattr__(self, "_digest", cached)
        return cached

    @property
    def route_hash(self) -> str:
        return self.digest.hex()

    @property
    def signing_message(self) -> bytes:
        return signing_message(TAG_ROUTE, self.digest)

    @property
    def members(self) -> tuple[str, ...]:
        """The parties along the route, payer first and payee last (the same party twice for a loop)."""
        return (self.hops[0].from_, *(h.to for h in self.hops)) if self.hops else (self.payer.id,)

    def hold_id(self, hop: int) -> str:
        """The id of hop ``hop``'s hold: the first 16 bytes of SHA-256(tag || 0x00 || route digest || hop)."""
        return hashlib.sha256(TAG_HOLD_ID + b"\x00" + self.digest + bytes((hop,))).hexdigest()[:32]

    def to_json(self) -> JSON:
        return {**self.body_json(), "sig": self.sig}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def make(
        cls,
        signer: Signer,
        payer_id: str,
        *,
        payment: str,
        purpose: str,
        currency: str,
        lock: str,
        amount: int,
        payee: str,
        created: int,
        hops: tuple[Hop, ...],
    ) -> RouteProposal:
        unsigned = cls(
            payment,
            purpose,
            currency,
            lock,
            amount,
            Member(payer_id, signer.public_key.hex()),
            payee,
            created,
            hops,
            "",
        )
        return replace(unsigned, sig=signer.sign(unsigned.signing_message).hex())

    @classmethod
    def from_json(cls, d: Any) -> RouteProposal:
        """Schema only; ``check_route`` checks the route's rules and its signature."""
        _check_type(d, cls.TYPE)
        _schema(check_fields, d, cls.FIELDS, "route")
        hops = d["hops"]
        if type(hops) is not list:
            raise RouteError(RoutingCode.WRONG_TYPE, "hops must be an array")
        if len(hops) > 64:
            raise RouteError(RoutingCode.ROUTE_LENGTH, f"{len(hops)} hops")
        return cls(
            _schema(get_hex, d, "payment", 16),
            _schema(get_enum, d, "purpose", PURPOSES),
            _schema(get_match, d, "currency", _CURRENCY),
            _schema(get_hex, d, "lock", 32),
            _schema(get_int, d, "amount", 1),
            _member(d["payer"], "payer"),
            _schema(get_hex, d, "payee", 32),
            _schema(get_int, d, "created"),
            tuple(Hop.from_json(h) for h in hops),
            _schema(get_hex, d, "sig", 64),
        )


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """A party's signed report on its hop ``hop`` of a route (``reporter`` is that hop's payee,
    or the payer for hop 0 refused before it was held)."""

    payment: str
    route_hash: str
    hop: int
    status: str
    reason: str  # "OK" unless cancelled
    reporter: Member
    time: int
    sig: str

    TYPE: ClassVar[str] = "route_status"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"type", "v", "payment", "route_hash", "hop", "status", "reason", "reporter", "time", "sig"}
    )

    def body_json(self) -> JSON:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "payment": self.payment,
            "route_hash": self.route_hash,
            "hop": self.hop,
            "status": self.status,
            "reason": self.reason,
            "reporter": self.reporter.to_json(),
            "time": self.time,
        }

    @property
    def signing_message(self) -> bytes:
        return _signed(TAG_STATUS, self.body_json())

    def to_json(self) -> JSON:
        return {**self.body_json(), "sig": self.sig}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def make(
        cls,
        signer: Signer,
        reporter_id: str,
        route: RouteProposal,
        *,
        hop: int,
        status: str,
        reason: str,
        time: int,
    ) -> RouteStatus:
        unsigned = cls(
            route.payment, route.route_hash, hop, status, reason, Member(reporter_id, signer.public_key.hex()), time, ""
        )
        return replace(unsigned, sig=signer.sign(unsigned.signing_message).hex())

    @classmethod
    def from_json(cls, d: Any) -> RouteStatus:
        _check_type(d, cls.TYPE)
        _schema(check_fields, d, cls.FIELDS, "route_status")
        st = cls(
            _schema(get_hex, d, "payment", 16),
            _schema(get_hex, d, "route_hash", 32),
            _schema(get_int, d, "hop", 0, 63),
            _schema(get_enum, d, "status", STATUSES),
            _schema(get_match, d, "reason", _REASON),
            _member(d["reporter"], "reporter"),
            _schema(get_int, d, "time"),
            _schema(get_hex, d, "sig", 64),
        )
        if (st.status in ("cancelled", "disputed")) == (st.reason == "OK"):
            raise RouteError(
                RoutingCode.BAD_VALUE, "reason is OK exactly when the status is neither cancelled nor disputed"
            )
        _check_sig(st.reporter.key, st.signing_message, st.sig)
        return st


@dataclass(frozen=True, slots=True)
class Forward:
    """A hold proposal on one hop, with the route it belongs to (the party offered the hold checks
    the route before it countersigns). Not signed itself: the route and the proposal are."""

    route: RouteProposal
    proposal: Proposal

    TYPE: ClassVar[str] = "forward"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"type", "v", "route", "proposal"})

    def to_json(self) -> JSON:
        return {"type": self.TYPE, "v": VERSION, "route": self.route.to_json(), "proposal": self.proposal.to_json()}

    def encode(self) -> bytes:
        return canonicalize_trusted(self.to_json())

    @classmethod
    def from_json(cls, d: Any) -> Forward:
        _check_type(d, cls.TYPE)
        _schema(check_fields, d, cls.FIELDS, "forward")
        prop = d["proposal"]
        _schema(check_version, prop)
        if type(prop) is not dict or prop.get("type") != Proposal.TYPE:
            raise RouteError(RoutingCode.UNKNOWN_MESSAGE_TYPE, "forward carries a bilateral proposal")
        return cls(RouteProposal.from_json(d["route"]), _schema(Proposal.from_json, prop))


Message = Invoice | RouteProposal | RouteStatus | Forward
_MESSAGES: dict[str, Any] = {
    "invoice": Invoice,
    "route": RouteProposal,
    "route_status": RouteStatus,
    "forward": Forward,
}


def _check_type(d: Any, expected: str) -> None:
    if type(d) is not dict:
        raise RouteError(RoutingCode.WRONG_TYPE, "a message is an object")
    _schema(check_version, d)
    if d.get("type") != expected:
        raise RouteError(RoutingCode.UNKNOWN_MESSAGE_TYPE, f"expected {expected}")


def decode(data: bytes) -> Message:
    """Parse untrusted bytes into a routing message (signatures of invoices and statuses checked;
    a route's rules and signature are ``check_route``'s). Raises only RouteError."""
    d = _schema(parse, data)
    _schema(check_version, d)
    t = d.get("type")
    cls = _MESSAGES.get(t) if type(t) is str else None
    if cls is None:
        raise RouteError(RoutingCode.UNKNOWN_MESSAGE_TYPE, str(t)[:40])
    msg: Message = cls.from_json(d)
    return msg
