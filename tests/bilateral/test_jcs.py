"""Canonical bytes equal the rfc8785 package's; the strict parser only raises typed errors."""

from __future__ import annotations

import contextlib
import json
import random

import pytest
import rfc8785

from foaf.bilateral import ErrorCode, RemoteProtocolError, canonicalize, parse
from foaf.bilateral.jcs import MAX_SAFE_INTEGER

ALPHABET = [
    "a",
    "B",
    "\u00e9",
    "\u20ac",
    "\U0001f600",
    "\n",
    "\x00",
    "\x1f",
    '"',
    "\\",
    "/",
    "\u2028",
    "\x7f",
    "\ufb33",
    "\uffff",
    " ",
]


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(7 if depth < 5 else 4)
    if kind == 0:
        return rng.randint(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if kind == 1:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(8)))
    if kind == 2:
        return rng.choice([True, False, None, 0, -1, 1])
    if kind == 3:
        return rng.randint(-1000, 1000)
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["".join(rng.choice("abcXYZ_09~") for _ in range(rng.randrange(1, 5))) for _ in range(rng.randrange(5))]
    return {k: random_value(rng, depth + 1) for k in keys}


def test_canonical_bytes_equal_rfc8785_on_many_random_values() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        v = {"root": random_value(rng)}
        assert canonicalize(v) == rfc8785.dumps(v)


def test_canonical_bytes_survive_a_parse_round_trip() -> None:
    rng = random.Random(1)
    for _ in range(500):
        v = {"root": random_value(rng)}
        c = canonicalize(v)
        assert canonicalize(parse(c)) == c == rfc8785.dumps(json.loads(c))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"a":1,"a":1}', ErrorCode.DUPLICATE_KEY),
        (b'{"a":1.5}', ErrorCode.FLOAT_NOT_ALLOWED),
        (b'{"a":9007199254740992}', ErrorCode.INTEGER_OUT_OF_RANGE),
        (b'{"s":"\\udc00"}', ErrorCode.LONE_SURROGATE),
        (b'{"\xc3\xa9":1}', ErrorCode.NON_ASCII_KEY),
        (b'{"a":' + b"[" * 20 + b"]" * 20 + b"}", ErrorCode.NESTING_TOO_DEEP),
        (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", ErrorCode.NESTING_TOO_DEEP),
        (b"\xff", ErrorCode.INVALID_UTF8),
        (b"{", ErrorCode.INVALID_JSON),
        (b"1", ErrorCode.WRONG_TYPE),
    ],
)
def test_the_parser_rejects_input_outside_the_profile_with_its_code(data: bytes, code: ErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as e:
        parse(data)
    assert e.value.code is code


def test_canonicalize_refuses_floats_and_big_integers() -> None:
    for bad, code in [
        ({"x": 1.0}, ErrorCode.FLOAT_NOT_ALLOWED),
        ({"x": 2**53}, ErrorCode.INTEGER_OUT_OF_RANGE),
        ({"\u00e9": 1}, ErrorCode.NON_ASCII_KEY),
        ({"x": "\ud800"}, ErrorCode.LONE_SURROGATE),
    ]:
        with pytest.raises(RemoteProtocolError) as e:
            canonicalize(bad)
        assert e.value.code is code


def test_mangled_messages_only_ever_raise_typed_errors() -> None:
    from foaf.bilateral import ProtocolError, decode

    seed = (
        b'{"type":"accept","v":1,"channel":"'
        + b"a" * 64
        + b'","seq":1,"state_hash":"'
        + b"b" * 64
        + b'","sig":"'
        + b"c" * 128
        + b'"}'
    )
    rng = random.Random(7)
    for _ in range(3000):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(ProtocolError):  # anything else propagates and fails the test
            decode(bytes(data))
