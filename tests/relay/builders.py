"""Signed relay events for tests, built with the protocol's own signing helpers and fixed keys."""

from __future__ import annotations

import hashlib
from typing import Any

import nacl.bindings

from foaf.bilateral import jcs
from foaf.bilateral.crypto import SeedSigner
from relay.protocol import TAG_EVENT, Kind, cosign_event, sign_event

T0 = 1_790_000_000  # a fixed "now" (2026-09-21), seconds
DAY = 86400

ALICE = SeedSigner(bytes([0x11]) * 32)
BOB = SeedSigner(bytes([0x22]) * 32)
CAROL = SeedSigner(bytes([0x44]) * 32)
DAVE = SeedSigner(bytes([0x55]) * 32)
ERIN = SeedSigner(bytes([0x66]) * 32)
MALLORY = SeedSigner(bytes([0x77]) * 32)


def key(signer: SeedSigner) -> str:
    return signer.public_key.hex()


def ordered(x: SeedSigner, y: SeedSigner) -> tuple[SeedSigner, SeedSigner]:
    """The two signers as parties (a, b): a's key sorts first."""
    return (x, y) if key(x) < key(y) else (y, x)


def mailbox_key(seed_byte: int) -> str:
    """An X25519 public key of its own (not derived from any signing key)."""
    return nacl.bindings.crypto_scalarmult_base(bytes([seed_byte]) * 32).hex()


def announcement_body(
    x: SeedSigner,
    y: SeedSigner,
    *,
    version: int = 1,
    limit_a_to_b: int = 10_000,
    limit_b_to_a: int = 5_000,
    routable: bool = True,
    public: bool = True,
    currency: str = "CAD",
) -> dict[str, Any]:
    a, b = ordered(x, y)
    return {
        "a": key(a),
        "b": key(b),
        "currency": currency,
        "limit_a_to_b": limit_a_to_b,
        "limit_b_to_a": limit_b_to_a,
        "routable": routable,
        "public": public,
        "version": version,
    }


def announce(x: SeedSigner, y: SeedSigner, *, now: int = T0, **body: Any) -> dict[str, Any]:
    """An announcement authored by ``x`` and co-signed by ``y``."""
    return cosign_event(sign_event(Kind.RELATIONSHIP, announcement_body(x, y, **body), x, now=now), y)


def limit_update(
    author: SeedSigner, other: SeedSigner, limit: int, *, version: int, now: int = T0, currency: str = "CAD"
) -> dict[str, Any]:
    a, b = ordered(author, other)
    body = {"a": key(a), "b": key(b), "currency": currency, "limit": limit, "version": version}
    return sign_event(Kind.LIMIT, body, author, now=now)


def withdrawal(author: SeedSigner, other: SeedSigner, *, version: int, now: int = T0) -> dict[str, Any]:
    a, b = ordered(author, other)
    body = {"a": key(a), "b": key(b), "currency": "CAD", "version": version}
    return sign_event(Kind.RELATIONSHIP_WITHDRAWAL, body, author, now=now)


def capacity_hint(
    author: SeedSigner,
    other: SeedSigner,
    exponent: int,
    *,
    version: int,
    now: int = T0,
    ttl: int = DAY,
    currency: str = "CAD",
) -> dict[str, Any]:
    """``author`` says what it can pay ``other`` through their edge now: below 2**exponent."""
    a, b = ordered(author, other)
    body = {
        "a": key(a),
        "b": key(b),
        "currency": currency,
        "direction": "a_to_b" if a is author else "b_to_a",
        "exponent": exponent,
        "version": version,
    }
    return sign_event(Kind.CAPACITY_HINT, body, author, now=now, expires=now + ttl)


def profile(
    author: SeedSigner, name: str, *, version: int = 1, now: int = T0, relays: list[str] | None = None
) -> dict[str, Any]:
    body = {
        "name": name,
        "relays": ["wss://relay.crawfordbay.example/ws/relay/"] if relays is None else relays,
        "mailbox_key": mailbox_key(author.public_key[0]),
        "version": version,
    }
    return sign_event(Kind.PROFILE, body, author, now=now)


def listing_body(
    listing: str,
    title: str,
    *,
    text: str = "",
    category: str = "food",
    listing_type: str = "offer",
    version: int = 1,
    price_cents: int | None = None,
    quantity: str | None = None,
) -> dict[str, Any]:
    return {
        "listing": listing,
        "type": listing_type,
        "title": title,
        "text": text,
        "category": category,
        "quantity": quantity,
        "price_cents": price_cents,
        "currency": None if price_cents is None else "CAD",
        "version": version,
    }


def listing(
    author: SeedSigner, listing_id: str, title: str, *, now: int = T0, ttl: int = 30 * DAY, **body: Any
) -> dict[str, Any]:
    return sign_event(Kind.LISTING, listing_body(listing_id, title, **body), author, now=now, expires=now + ttl)


def listing_withdrawal(author: SeedSigner, listing_id: str, *, version: int, now: int = T0) -> dict[str, Any]:
    return sign_event(Kind.LISTING_WITHDRAWAL, {"listing": listing_id, "version": version}, author, now=now)


def lid(n: int) -> str:
    """A listing id (hex16)."""
    return f"{n:032x}"


def resigned(envelope: dict[str, Any], signer: SeedSigner, **changes: Any) -> dict[str, Any]:
    """The envelope with fields changed and a fresh valid signature by ``signer``, bypassing the
    signing helpers' checks: for events that are well signed but wrong in another way."""
    unsigned = {k: v for k, v in envelope.items() if k not in ("sig", "cosig")} | changes
    digest = hashlib.sha256(jcs.canonicalize(unsigned)).digest()
    return {**unsigned, "sig": signer.sign(TAG_EVENT + b"\x00" + digest).hex()}
