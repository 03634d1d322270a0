"""Strict Ed25519: pre-checks give every port the same verdict and the same code."""

from __future__ import annotations

import pytest

from foaf.bilateral import SMALL_ORDER_ENCODINGS, ErrorCode, RemoteProtocolError, SeedSigner, verify
from foaf.bilateral.conformance import SPECCHECK
from foaf.bilateral.crypto import L

EXPECTED = [
    "KEY_SMALL_ORDER",
    "KEY_SMALL_ORDER",
    "R_SMALL_ORDER",
    None,
    "BAD_SIGNATURE",
    "BAD_SIGNATURE",
    "S_NON_CANONICAL",
    "S_NON_CANONICAL",
    "R_SMALL_ORDER",
    "R_SMALL_ORDER",
    "KEY_SMALL_ORDER",
    "KEY_SMALL_ORDER",
]


@pytest.mark.parametrize("case", range(12))
def test_speccheck_cases_get_the_strict_libsodium_verdict(case: int) -> None:
    msg, pk, sig = SPECCHECK[case]
    try:
        verify(bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig))
        got = None
    except RemoteProtocolError as e:
        got = e.code.value
    assert got == EXPECTED[case]


def test_there_are_exactly_fourteen_small_order_encodings() -> None:
    assert len(SMALL_ORDER_ENCODINGS) == 14


def test_a_good_signature_verifies_and_a_non_reduced_scalar_does_not() -> None:
    s = SeedSigner(b"\x11" * 32)
    sig = s.sign(b"hello")
    verify(s.public_key, b"hello", sig)
    bad = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    with pytest.raises(RemoteProtocolError) as e:
        verify(s.public_key, b"hello", bad)
    assert e.value.code is ErrorCode.S_NON_CANONICAL
