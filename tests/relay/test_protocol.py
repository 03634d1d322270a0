"""The relay protocol on its own: no database, no Django (docs/relay.md §2-5)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import nacl.bindings
import nacl.exceptions
import pytest

from foaf.bilateral import jcs
from foaf.bilateral.crypto import SMALL_ORDER_ENCODINGS, verify
from relay.protocol import (
    MAX_CLOCK_SKEW,
    MAX_EVENT_BYTES,
    MAX_HINT_LIFETIME,
    MAX_LISTING_LIFETIME,
    X25519_LOW_ORDER,
    CapacityHint,
    EventError,
    Kind,
    LimitUpdate,
    Precedence,
    RelationshipAnnouncement,
    RelayErrorCode,
    canonical_bytes,
    cosign_event,
    decode_event,
    parse_event,
    precedence,
    relationship_id,
    sign_event,
)
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAY,
    MALLORY,
    T0,
    announce,
    announcement_body,
    capacity_hint,
    key,
    lid,
    limit_update,
    listing,
    listing_body,
    listing_withdrawal,
    mailbox_key,
    ordered,
    profile,
    resigned,
    withdrawal,
)

pytestmark = pytest.mark.core


def refused(data: Any, *, now: int = T0) -> EventError:
    with pytest.raises(EventError) as caught:
        decode_event(data, now=now)
    return caught.value


def every_kind() -> list[dict[str, Any]]:
    return [
        announce(ALICE, BOB),
        limit_update(ALICE, BOB, 2_000, version=2),
        withdrawal(BOB, ALICE, version=3),
        profile(ALICE, "Alice of Crawford Bay"),
        listing(ALICE, lid(1), "Duck eggs", text="A dozen.\nPick up Fridays.", price_cents=700, quantity="12"),
        listing_withdrawal(ALICE, lid(1), version=2),
        capacity_hint(ALICE, BOB, 3, version=4),
    ]


# --- valid events ---------------------------------------------------------------------------
@pytest.mark.parametrize("envelope", every_kind(), ids=lambda e: e["kind"])
def test_a_valid_event_of_each_kind_decodes_and_round_trips_to_the_same_bytes(envelope: dict[str, Any]) -> None:
    event = decode_event(canonical_bytes(envelope), now=T0)
    assert event.kind == Kind(envelope["kind"])
    assert event.to_json() == envelope
    assert event.canonical == jcs.canonicalize(envelope)


def test_the_id_is_the_sha256_of_the_canonical_unsigned_envelope_and_is_what_is_signed() -> None:
    envelope = announce(ALICE, BOB)
    unsigned = {k: v for k, v in envelope.items() if k not in ("sig", "cosig")}
    digest = hashlib.sha256(jcs.canonicalize(unsigned)).digest()
    event = decode_event(envelope, now=T0)
    assert event.id == digest.hex()
    message = b"FOAF-RELAY-1/event" + b"\x00" + digest
    assert event.signing_message == message
    author, cosigner = (ALICE, BOB) if envelope["author"] == key(ALICE) else (BOB, ALICE)
    verify(author.public_key, message, bytes.fromhex(envelope["sig"]))
    verify(cosigner.public_key, message, bytes.fromhex(envelope["cosig"]))


def test_whitespace_and_key_order_do_not_change_the_id() -> None:
    envelope = profile(ALICE, "Alice")
    pretty = json.dumps(dict(reversed(list(envelope.items()))), indent=2).encode()
    assert decode_event(pretty, now=T0).id == decode_event(canonical_bytes(envelope), now=T0).id


def test_the_relationship_id_binds_both_parties_and_the_currency() -> None:
    a, b = sorted([key(ALICE), key(BOB)])
    inner = hashlib.sha256(jcs.canonicalize({"a": a, "b": b, "currency": "CAD"})).digest()
    expected = hashlib.sha256(b"FOAF-RELAY-1/relationship\x00" + inner).hexdigest()
    assert relationship_id(a, b, "CAD") == expected
    assert relationship_id(a, b, "USD") != expected
    body = decode_event(announce(ALICE, BOB), now=T0).body
    assert isinstance(body, RelationshipAnnouncement)
    assert body.relationship == expected


def test_either_party_may_author_an_announcement() -> None:
    by_bob = decode_event(announce(BOB, ALICE), now=T0)
    by_alice = decode_event(announce(ALICE, BOB), now=T0)
    assert {by_bob.author, by_alice.author} == {key(ALICE), key(BOB)}


# --- signatures ------------------------------------------------------------------------------
def test_a_forged_signature_is_refused() -> None:
    envelope = profile(ALICE, "Alice")
    forged = {**envelope, "body": {**envelope["body"], "name": "Not Alice"}}  # sig was over the old name
    error = refused(forged)
    assert error.code is RelayErrorCode.EVENT_BAD_SIGNATURE
    assert error.details == {"field": "sig", "reason": "BAD_SIGNATURE"}


def test_a_signature_by_someone_else_than_the_author_is_refused() -> None:
    envelope = resigned(profile(ALICE, "Alice"), CAROL)  # author stays Alice
    assert refused(envelope).code is RelayErrorCode.EVENT_BAD_SIGNATURE


def test_an_announcement_cosigned_by_a_third_party_is_refused() -> None:
    envelope = sign_event(Kind.RELATIONSHIP, announcement_body(ALICE, BOB), ALICE, now=T0)
    event = decode_event(announce(ALICE, BOB), now=T0)
    wrong = {**envelope, "cosig": CAROL.sign(event.signing_message).hex()}
    error = refused(wrong)
    assert error.code is RelayErrorCode.EVENT_BAD_SIGNATURE
    assert error.details["field"] == "cosig"


def test_an_announcement_without_its_cosignature_is_refused() -> None:
    envelope = sign_event(Kind.RELATIONSHIP, announcement_body(ALICE, BOB), ALICE, now=T0)
    error = refused(envelope)
    assert error.code is RelayErrorCode.EVENT_MISSING_FIELD
    assert error.details == {"field": "cosig"}


def test_an_announcement_authored_by_an_outsider_is_refused() -> None:
    envelope = resigned(announce(ALICE, BOB), CAROL, author=key(CAROL))
    envelope["cosig"] = "00" * 64
    assert refused(envelope).code is RelayErrorCode.EVENT_WRONG_SIGNER


def test_a_limit_update_by_an_outsider_is_refused() -> None:
    envelope = resigned(limit_update(ALICE, BOB, 1, version=2), CAROL, author=key(CAROL))
    assert refused(envelope).code is RelayErrorCode.EVENT_WRONG_SIGNER


def test_cosign_event_refuses_to_cosign_for_the_wrong_party_or_a_forged_proposal() -> None:
    proposal = sign_event(Kind.RELATIONSHIP, announcement_body(ALICE, BOB), ALICE, now=T0)
    with pytest.raises(EventError) as caught:
        cosign_event(proposal, CAROL)
    assert caught.value.code is RelayErrorCode.EVENT_WRONG_SIGNER
    tampered = {**proposal, "body": {**proposal["body"], "limit_a_to_b": 1}}
    with pytest.raises(EventError) as caught:
        cosign_event(tampered, BOB)
    assert caught.value.code is RelayErrorCode.EVENT_BAD_SIGNATURE


def test_a_non_canonical_signature_is_refused_with_the_cores_reason() -> None:
    envelope = profile(ALICE, "Alice")
    sig = bytes.fromhex(envelope["sig"])
    s = int.from_bytes(sig[32:], "little") + 2**252 + 27742317777372353535851937790883648493  # S + L
    envelope["sig"] = (sig[:32] + s.to_bytes(32, "little")).hex()
    error = refused(envelope)
    assert (error.code, error.details["reason"]) == (RelayErrorCode.EVENT_BAD_SIGNATURE, "S_NON_CANONICAL")


@pytest.mark.parametrize("bad", sorted(SMALL_ORDER_ENCODINGS)[:3])
def test_a_small_order_author_key_is_refused_before_any_signature_check(bad: bytes) -> None:
    envelope = profile(ALICE, "Alice") | {"author": bad.hex()}
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_KEY, "author")


def test_an_author_key_that_is_no_curve_point_fails_its_signature_and_nothing_else() -> None:
    off_curve = (2).to_bytes(32, "little").hex()  # canonical, not small order, but decodes to no point
    envelope = profile(ALICE, "A") | {"author": off_curve}
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_SIGNATURE, "sig")


# --- time ------------------------------------------------------------------------------------
def test_an_event_from_beyond_the_allowed_clock_skew_is_refused() -> None:
    assert decode_event(profile(ALICE, "A", now=T0 + MAX_CLOCK_SKEW), now=T0).created == T0 + MAX_CLOCK_SKEW
    assert refused(profile(ALICE, "A", now=T0 + MAX_CLOCK_SKEW + 1)).code is RelayErrorCode.EVENT_FROM_FUTURE


def test_an_expired_listing_is_refused_but_its_signature_still_verifies_for_history() -> None:
    envelope = listing(ALICE, lid(1), "Eggs", ttl=DAY)
    assert refused(envelope, now=T0 + DAY).code is RelayErrorCode.EVENT_EXPIRED
    assert decode_event(envelope, now=T0 + DAY - 1).id == parse_event(envelope).id


def test_a_listing_must_expire_within_the_maximum_lifetime() -> None:
    body = listing_body(lid(1), "Eggs")
    with pytest.raises(EventError) as caught:
        sign_event(Kind.LISTING, body, ALICE, now=T0)  # no expiry
    assert (caught.value.code, caught.value.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, "expires")
    with pytest.raises(EventError):
        sign_event(Kind.LISTING, body, ALICE, now=T0, expires=T0 + MAX_LISTING_LIFETIME + 1)
    with pytest.raises(EventError):
        sign_event(Kind.LISTING, body, ALICE, now=T0, expires=T0)
    assert sign_event(Kind.LISTING, body, ALICE, now=T0, expires=T0 + MAX_LISTING_LIFETIME)["expires"]


def test_only_listings_and_capacity_hints_may_expire() -> None:
    envelope = resigned(profile(ALICE, "A"), ALICE, expires=T0 + DAY)
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, "expires")


# --- bytes, JSON, schema ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "INVALID_JSON"),
        (b"\xff\xfe{}", "INVALID_UTF8"),
        (b"[1, 2]", "WRONG_TYPE"),
        (b'{"v": 1, "v": 1}', "DUPLICATE_KEY"),
        (b'{"v": 1.0}', "FLOAT_NOT_ALLOWED"),
        (b'{"v": 9007199254740992}', "INTEGER_OUT_OF_RANGE"),
        (b'{"v": "\\ud800"}', "LONE_SURROGATE"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, "NESTING_TOO_DEEP"),
    ],
)
def test_bytes_outside_the_json_profile_are_malformed_with_the_cores_reason(data: bytes, reason: str) -> None:
    error = refused(data)
    assert error.code is RelayErrorCode.EVENT_MALFORMED
    assert error.details["reason"] == reason


def test_an_oversized_event_is_refused_before_parsing() -> None:
    data = b'{"v": 1, "pad": "' + b"x" * MAX_EVENT_BYTES + b'"}'
    assert refused(data).code is RelayErrorCode.EVENT_TOO_LARGE


def test_an_oversized_event_given_as_an_object_is_refused() -> None:
    assert refused({"v": 1, "pad": "x" * MAX_EVENT_BYTES}).code is RelayErrorCode.EVENT_TOO_LARGE


def test_a_float_in_an_object_given_directly_is_malformed() -> None:
    envelope = profile(ALICE, "A") | {"created": float(T0)}
    assert refused(envelope).details["reason"] == "FLOAT_NOT_ALLOWED"


def test_the_version_is_checked_before_anything_else() -> None:
    assert refused({"v": 2}).code is RelayErrorCode.EVENT_UNSUPPORTED_VERSION
    assert refused({"v": True}).code is RelayErrorCode.EVENT_WRONG_TYPE
    assert refused({"kind": "profile"}).code is RelayErrorCode.EVENT_MISSING_FIELD


def test_an_unknown_kind_is_refused() -> None:
    envelope = resigned(profile(ALICE, "A"), ALICE, kind="payment")
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_UNKNOWN_KIND, "kind")


@pytest.mark.parametrize("field", ["author", "created", "expires", "body", "sig"])
def test_a_missing_envelope_field_is_named(field: str) -> None:
    envelope = profile(ALICE, "A")
    del envelope[field]
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_MISSING_FIELD, field)


@pytest.mark.parametrize("field", ["name", "relays", "mailbox_key", "version"])
def test_a_missing_body_field_is_named(field: str) -> None:
    envelope = profile(ALICE, "A")
    del envelope["body"][field]
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_MISSING_FIELD, f"body.{field}")


def test_an_extra_field_is_refused_in_the_envelope_and_in_the_body() -> None:
    envelope = profile(ALICE, "A")
    error = refused(envelope | {"balance": 5})
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_UNKNOWN_FIELD, "balance")
    envelope["body"]["amount"] = 5
    error = refused(envelope)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_UNKNOWN_FIELD, "body.amount")


def test_a_cosig_on_a_kind_that_has_none_is_an_unknown_field() -> None:
    assert refused(profile(ALICE, "A") | {"cosig": "00" * 64}).code is RelayErrorCode.EVENT_UNKNOWN_FIELD


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"created": True}, RelayErrorCode.EVENT_WRONG_TYPE, "created"),
        ({"created": "1790000000"}, RelayErrorCode.EVENT_WRONG_TYPE, "created"),
        ({"created": -1}, RelayErrorCode.EVENT_BAD_VALUE, "created"),
        ({"author": "AB" * 32}, RelayErrorCode.EVENT_BAD_VALUE, "author"),
        ({"author": "ab" * 31}, RelayErrorCode.EVENT_BAD_VALUE, "author"),
        ({"sig": "00" * 63}, RelayErrorCode.EVENT_BAD_VALUE, "sig"),
        ({"body": []}, RelayErrorCode.EVENT_WRONG_TYPE, "body"),
    ],
)
def test_envelope_fields_of_the_wrong_type_or_value_are_named(
    change: dict[str, Any], code: RelayErrorCode, field: str
) -> None:
    error = refused(profile(ALICE, "A") | change)
    assert (error.code, error.details["field"]) == (code, field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "é" * 33}, "body.name"),  # 66 bytes of UTF-8
        ({"name": "tab\there"}, "body.name"),
        ({"relays": ["http://relay.example"]}, "body.relays[0]"),
        ({"relays": ["wss://relay.example/a b"]}, "body.relays[0]"),
        ({"relays": ["wss://r.example"] * 2}, "body.relays"),
        ({"relays": [f"wss://r{i}.example" for i in range(9)]}, "body.relays"),
        ({"mailbox_key": "00" * 32}, "body.mailbox_key"),
        ({"version": 0}, "body.version"),
    ],
)
def test_profile_values_out_of_bounds_are_refused(change: dict[str, Any], field: str) -> None:
    envelope = profile(ALICE, "A")
    envelope["body"] |= change
    error = refused(resigned(envelope, ALICE))
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, field)


def test_a_relay_url_that_is_not_a_string_is_a_wrong_type() -> None:
    envelope = profile(ALICE, "A")
    envelope["body"]["relays"] = [7]
    error = refused(resigned(envelope, ALICE))
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_WRONG_TYPE, "body.relays[0]")


def test_the_mailbox_key_must_not_be_the_signing_key_in_either_form() -> None:
    for reused in (key(ALICE), nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ALICE.public_key).hex()):
        envelope = profile(ALICE, "A")
        envelope["body"]["mailbox_key"] = reused
        error = refused(resigned(envelope, ALICE))
        assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, "body.mailbox_key")


def test_the_low_order_mailbox_keys_refused_are_exactly_those_libsodium_cannot_box_to() -> None:
    secret = bytes(range(32))
    for point in X25519_LOW_ORDER:
        for top in (point, point[:31] + bytes([point[31] | 0x80])):
            with pytest.raises(nacl.exceptions.RuntimeError):
                nacl.bindings.crypto_scalarmult(secret, top)
            envelope = profile(ALICE, "A")
            envelope["body"]["mailbox_key"] = top.hex()
            assert refused(resigned(envelope, ALICE)).details["field"] == "body.mailbox_key"
    assert len(nacl.bindings.crypto_scalarmult(secret, bytes.fromhex(mailbox_key(9)))) == 32


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"listing": "00" * 15}, "body.listing"),
        ({"type": "gift"}, "body.type"),
        ({"title": ""}, "body.title"),
        ({"title": "x" * 121}, "body.title"),
        ({"title": "two\nlines"}, "body.title"),
        ({"text": "x" * 4001}, "body.text"),
        ({"text": "bell\x07"}, "body.text"),
        ({"category": "Food"}, "body.category"),
        ({"category": "a--b"}, "body.category"),
        ({"category": "a" * 41}, "body.category"),
        ({"quantity": "1.123456"}, "body.quantity"),
        ({"quantity": "01"}, "body.quantity"),
        ({"price_cents": -1, "currency": "CAD"}, "body.price_cents"),
        ({"price_cents": 100, "currency": None}, "body.currency"),
        ({"price_cents": None, "currency": "CAD"}, "body.currency"),
    ],
)
def test_listing_values_out_of_bounds_are_refused(change: dict[str, Any], field: str) -> None:
    envelope = listing(ALICE, lid(1), "Eggs")
    envelope["body"] |= change
    error = refused(resigned(envelope, ALICE))
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, field)


def test_a_price_is_a_whole_number_of_cents() -> None:
    envelope = listing(ALICE, lid(1), "Eggs", price_cents=500)
    envelope["body"]["price_cents"] = "5.00"
    error = refused(resigned(envelope, ALICE))
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_WRONG_TYPE, "body.price_cents")


def test_the_parties_of_a_relationship_are_in_key_order_and_distinct() -> None:
    body = announcement_body(ALICE, BOB)
    swapped = body | {"a": body["b"], "b": body["a"]}
    with pytest.raises(EventError) as caught:
        sign_event(Kind.RELATIONSHIP, swapped, ALICE, now=T0)
    assert (caught.value.code, caught.value.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, "body.b")
    same = body | {"b": body["a"]}
    with pytest.raises(EventError):
        sign_event(Kind.RELATIONSHIP, same, ALICE, now=T0)


def test_a_limit_update_sets_the_limit_its_author_extends() -> None:
    a, b = ordered(ALICE, BOB)
    from_a = decode_event(limit_update(a, b, 100, version=2), now=T0)
    from_b = decode_event(limit_update(b, a, 100, version=2), now=T0)
    assert isinstance(from_a.body, LimitUpdate)
    assert isinstance(from_b.body, LimitUpdate)
    assert from_a.body.direction(from_a.author) == "limit_b_to_a"  # a extends credit to b
    assert from_b.body.direction(from_b.author) == "limit_a_to_b"


def test_a_capacity_hint_is_signed_by_the_party_its_direction_starts_from() -> None:
    a, b = ordered(ALICE, BOB)
    from_a = decode_event(capacity_hint(a, b, 3, version=2), now=T0)
    from_b = decode_event(capacity_hint(b, a, 0, version=2), now=T0)
    assert isinstance(from_a.body, CapacityHint) and isinstance(from_b.body, CapacityHint)
    assert (from_a.body.direction, from_a.body.payer, from_a.body.payee) == ("a_to_b", key(a), key(b))
    assert (from_b.body.direction, from_b.body.payer, from_b.body.exponent) == ("b_to_a", key(b), 0)
    # The other party may not speak for this direction, nor may anyone outside the edge.
    for signer in (b, MALLORY):
        error = refused(resigned(capacity_hint(a, b, 3, version=2), signer, author=key(signer)))
        assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_WRONG_SIGNER, "author")
    with pytest.raises(EventError) as caught:  # the signing helper refuses it before signing
        sign_event(Kind.CAPACITY_HINT, from_a.body.to_json(), b, now=T0, expires=T0 + DAY)
    assert caught.value.code is RelayErrorCode.EVENT_WRONG_SIGNER


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"exponent": 65}, RelayErrorCode.EVENT_BAD_VALUE, "body.exponent"),
        ({"exponent": -1}, RelayErrorCode.EVENT_BAD_VALUE, "body.exponent"),
        ({"exponent": "3"}, RelayErrorCode.EVENT_WRONG_TYPE, "body.exponent"),
        ({"exponent": True}, RelayErrorCode.EVENT_WRONG_TYPE, "body.exponent"),
        ({"direction": "a->b"}, RelayErrorCode.EVENT_BAD_VALUE, "body.direction"),
        ({"limit": 100}, RelayErrorCode.EVENT_UNKNOWN_FIELD, "body.limit"),
        ({"currency": "cad"}, RelayErrorCode.EVENT_BAD_VALUE, "body.currency"),
        ({"version": 0}, RelayErrorCode.EVENT_BAD_VALUE, "body.version"),
    ],
    ids=str,
)
def test_a_capacity_hint_carries_only_a_bucket_exponent_of_0_to_64(
    change: dict[str, Any], code: RelayErrorCode, field: str
) -> None:
    envelope = capacity_hint(ALICE, BOB, 3, version=2)
    error = refused(resigned(envelope, ALICE, body=envelope["body"] | change))
    assert (error.code, error.details["field"]) == (code, field)
    assert decode_event(capacity_hint(ALICE, BOB, 64, version=2), now=T0).body.version == 2


def test_a_capacity_hint_must_expire_within_seven_days_and_is_refused_once_expired() -> None:
    envelope = capacity_hint(ALICE, BOB, 3, version=2, ttl=MAX_HINT_LIFETIME)
    assert decode_event(envelope, now=T0).expires == T0 + MAX_HINT_LIFETIME
    for expires in (None, T0, T0 + MAX_HINT_LIFETIME + 1):
        error = refused(resigned(envelope, ALICE, expires=expires))
        assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_BAD_VALUE, "expires")
    error = refused(envelope, now=T0 + MAX_HINT_LIFETIME)
    assert (error.code, error.details["field"]) == (RelayErrorCode.EVENT_EXPIRED, "expires")
    # History from a peer: an expired hint still verifies (it keeps its register, §12.2).
    assert decode_event(envelope, now=T0 + MAX_HINT_LIFETIME, expired_ok=True).id == parse_event(envelope).id


# --- precedence ------------------------------------------------------------------------------
def test_a_higher_version_wins_then_a_withdrawal_then_the_greater_id() -> None:
    old = precedence(decode_event(announce(ALICE, BOB, version=1), now=T0))
    new = precedence(decode_event(announce(ALICE, BOB, version=2), now=T0))
    gone = precedence(decode_event(withdrawal(ALICE, BOB, version=2), now=T0))
    assert new.beats(old) and not old.beats(new)
    assert gone.beats(new) and not new.beats(gone)
    assert old.beats(None)
    assert not old.beats(old)
    assert Precedence(2, 0, "b" * 64).beats(Precedence(2, 0, "a" * 64))


# --- isolation -------------------------------------------------------------------------------
def test_importing_the_protocol_pulls_in_no_django() -> None:
    code = "import relay.protocol, sys; assert 'django' not in sys.modules, 'django'"
    subprocess.run([sys.executable, "-c", code], check=True)
