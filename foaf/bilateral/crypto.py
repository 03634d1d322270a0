"""Ed25519 signing and strict verification with domain-separated messages.

Every signature is over `tag || 0x00 || SHA-256(JCS(object))` (55..67 bytes). Verification runs
the byte-level pre-checks of the spec (lengths, small-order and non-canonical A and R, S < L)
before libsodium's verify, so that every port reaches the same verdict and the same error code.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Protocol, runtime_checkable

import nacl.bindings
import nacl.exceptions
import nacl.signing

from .errors import ErrorCode, remote

TAG_STATE = b"FOAF-BILATERAL-1/state"
TAG_REJECT = b"FOAF-BILATERAL-1/reject"
TAG_ATTEST = b"FOAF-BILATERAL-1/attest"
TAG_KEY_ROTATION = b"FOAF-BILATERAL-1/key-rotation"
TAG_RECOVERY_POLICY = b"FOAF-BILATERAL-1/recovery-policy"
TAG_RECOVERY = b"FOAF-BILATERAL-1/recovery"
TAG_RECOVERY_APPROVAL = b"FOAF-BILATERAL-1/recovery-approval"
TAG_RECOVERY_CANCEL = b"FOAF-BILATERAL-1/recovery-cancel"
TAG_CHANNEL = b"FOAF-BILATERAL-1/channel"
TAG_HISTORY = b"FOAF-BILATERAL-1/history"
SIGNATURE_TAGS = (
    TAG_STATE,
    TAG_REJECT,
    TAG_ATTEST,
    TAG_KEY_ROTATION,
    TAG_RECOVERY_POLICY,
    TAG_RECOVERY,
    TAG_RECOVERY_APPROVAL,
    TAG_RECOVERY_CANCEL,
)

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1

# The 14 encodings of small-order points (8 canonical + 6 non-canonical), C2SP/CCTV ed25519.
SMALL_ORDER_ENCODINGS: frozenset[bytes] = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    )
)


def signing_message(tag: bytes, digest: bytes) -> bytes:
    """The exact bytes signed: tag || 0x00 || digest (digest = SHA-256 of the canonical object)."""
    return tag + b"\x00" + digest


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def check_public_key(key: bytes) -> None:
    """Pre-checks on a public key A: 32 bytes, not small order, y < p."""
    if len(key) != 32:
        raise remote(ErrorCode.KEY_LENGTH, f"{len(key)} bytes")
    if key in SMALL_ORDER_ENCODINGS:
        raise remote(ErrorCode.KEY_SMALL_ORDER, key.hex())
    if int.from_bytes(key, "little") & _Y_MASK >= P:
        raise remote(ErrorCode.KEY_NON_CANONICAL, key.hex())


@lru_cache(maxsize=4096)
def _checked_key(key: bytes) -> bytes:
    check_public_key(key)
    return key


def verify(key: bytes, message: bytes, signature: bytes) -> None:
    """Strict Ed25519 verification; raises RemoteProtocolError with the first failing check.

    Order: SIGNATURE_LENGTH, KEY_LENGTH, KEY_SMALL_ORDER, KEY_NON_CANONICAL, R_SMALL_ORDER,
    R_NON_CANONICAL, S_NON_CANONICAL, BAD_SIGNATURE."""
    if len(signature) != 64:
        raise remote(ErrorCode.SIGNATURE_LENGTH, f"{len(signature)} bytes")
    _checked_key(key)
    r = signature[:32]
    if r in SMALL_ORDER_ENCODINGS:
        raise remote(ErrorCode.R_SMALL_ORDER, r.hex())
    if int.from_bytes(r, "little") & _Y_MASK >= P:
        raise remote(ErrorCode.R_NON_CANONICAL, r.hex())
    if int.from_bytes(signature[32:], "little") >= L:
        raise remote(ErrorCode.S_NON_CANONICAL)
    try:
        nacl.bindings.crypto_sign_open(signature + message, key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        raise remote(ErrorCode.BAD_SIGNATURE) from None


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign for one Ed25519 key (a seed in memory, an HSM, a server vault)."""

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        ...


class SeedSigner:
    """A Signer holding a 32-byte seed (or a nacl SigningKey) in memory."""

    __slots__ = ("_pk", "_sk")

    def __init__(self, seed: bytes | nacl.signing.SigningKey) -> None:
        if isinstance(seed, nacl.signing.SigningKey):
            seed = bytes(seed)
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._pk, self._sk = nacl.bindings.crypto_sign_seed_keypair(bytes(seed))

    @property
    def public_key(self) -> bytes:
        return bytes(self._pk)

    def sign(self, message: bytes) -> bytes:
        return bytes(nacl.bindings.crypto_sign(message, self._sk)[:64])


def as_signer(key: Signer | bytes | nacl.signing.SigningKey) -> Signer:
    """Accept a Signer, a 32-byte seed, or a nacl SigningKey."""
    if isinstance(key, (bytes, nacl.signing.SigningKey)):
        return SeedSigner(key)
    return key
