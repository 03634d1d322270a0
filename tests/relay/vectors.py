"""Conformance vectors for relay events: docs/relay/vectors.json.

Each vector gives the input bytes and either every intermediate value (canonical unsigned
envelope, id, the exact signed message) or the expected error code and field, so that a client in
another language sees which step it gets wrong. Keys are fixed and obviously fake (seeds 0x11..,
0x22.., 0x44..). Regenerate after a deliberate protocol change:

    .venv/bin/python -m tests.relay.vectors
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from foaf.bilateral import jcs
from relay.protocol import EventError, canonical_bytes, decode_event
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAY,
    T0,
    announce,
    capacity_hint,
    lid,
    limit_update,
    listing,
    listing_withdrawal,
    profile,
    resigned,
    withdrawal,
)

PATH = Path(__file__).resolve().parents[2] / "docs" / "relay" / "vectors.json"


def _cases() -> list[tuple[str, bytes]]:
    good_profile = profile(ALICE, "Alice of Crawford Bay")
    forged = good_profile | {"body": good_profile["body"] | {"name": "Mallory"}}
    wrong_cosigner = dict(announce(ALICE, BOB))
    wrong_cosigner["cosig"] = announce(ALICE, CAROL)["cosig"]
    return [
        ("relationship announcement, authored by a, co-signed by b", canonical_bytes(announce(ALICE, BOB))),
        ("limit update by one party", canonical_bytes(limit_update(ALICE, BOB, 2500, version=2))),
        ("relationship withdrawal", canonical_bytes(withdrawal(BOB, ALICE, version=3))),
        ("profile", canonical_bytes(good_profile)),
        (
            "listing (offer with price and quantity)",
            canonical_bytes(
                listing(CAROL, lid(1), "Duck eggs", text="A dozen.\nFridays.", price_cents=700, quantity="12")
            ),
        ),
        ("listing withdrawal", canonical_bytes(listing_withdrawal(CAROL, lid(1), version=2))),
        ("same profile, not canonical JSON text: same id", json.dumps(good_profile, indent=2).encode()),
        ("forged: body changed after signing", canonical_bytes(forged)),
        ("announcement co-signed by a third party", canonical_bytes(wrong_cosigner)),
        ("unknown kind", canonical_bytes(resigned(good_profile, ALICE, kind="payment"))),
        ("created beyond the allowed clock skew", canonical_bytes(profile(ALICE, "A", now=T0 + 301))),
        ("expired listing", canonical_bytes(listing(CAROL, lid(2), "Old eggs", now=T0 - 2 * DAY, ttl=DAY))),
        ("duplicate property", b'{"v":1,"v":1}'),
        ("a balance field", canonical_bytes(good_profile | {"balance": 0})),
        (
            "profile without a version",
            canonical_bytes(
                {k: v for k, v in good_profile.items() if k != "body"}
                | {"body": {k: v for k, v in good_profile["body"].items() if k != "version"}}
            ),
        ),
        ("listing that never expires", _unexpiring_listing()),
        *_hint_cases(),
    ]


def _hint_cases() -> list[tuple[str, bytes]]:
    hint = capacity_hint(ALICE, BOB, 3, version=4)  # Alice can pay Bob below 2**3 now, for a day
    body = hint["body"]
    return [
        ("capacity hint by the party its direction starts from", canonical_bytes(hint)),
        (
            "capacity hint signed by the other party",
            canonical_bytes(resigned(hint, BOB, author=BOB.public_key.hex())),
        ),
        ("capacity hint exponent above 64", canonical_bytes(resigned(hint, ALICE, body=body | {"exponent": 65}))),
        ("capacity hint with an amount", canonical_bytes(resigned(hint, ALICE, body=body | {"balance": 7}))),
        ("capacity hint that never expires", canonical_bytes(resigned(hint, ALICE, expires=None))),
        (
            "capacity hint living longer than 7 days",
            canonical_bytes(resigned(hint, ALICE, expires=T0 + 7 * DAY + 1)),
        ),
        ("expired capacity hint", canonical_bytes(capacity_hint(ALICE, BOB, 3, version=4, now=T0 - 2 * DAY))),
    ]


def _unexpiring_listing() -> bytes:
    envelope = listing(CAROL, lid(3), "Eggs")
    return canonical_bytes(resigned(envelope, CAROL, expires=None))


def build() -> dict[str, Any]:
    vectors = []
    for description, data in _cases():
        vector: dict[str, Any] = {"description": description, "now": T0, "input": data.decode("utf-8")}
        try:
            event = decode_event(data, now=T0)
        except EventError as e:
            vector |= {"valid": False, "error": e.code.value, "details": e.details}
        else:
            unsigned = jcs.canonicalize_trusted(event.unsigned_json())
            vector |= {
                "valid": True,
                "unsigned_canonical": unsigned.decode("utf-8"),
                "id": event.id,
                "signing_message_hex": event.signing_message.hex(),
                "canonical": event.canonical.decode("utf-8"),
            }
        vectors.append(vector)
    return {
        "description": (
            "FOAF relay event vectors (docs/relay.md section 10). Decode `input` with the relay's clock at `now`."
        ),
        "keys": {
            "alice": {"seed": "11" * 32, "public": ALICE.public_key.hex()},
            "bob": {"seed": "22" * 32, "public": BOB.public_key.hex()},
            "carol": {"seed": "44" * 32, "public": CAROL.public_key.hex()},
        },
        "vectors": vectors,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    print(f"wrote {PATH}")
