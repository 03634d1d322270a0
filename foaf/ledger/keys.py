"""Private keys the service holds for members: generated here, sealed at rest, never shown.

A seed is sealed with NaCl's SecretBox (XSalsa20-Poly1305) under the key-encryption key (KEK)
from settings; ``kek_id`` names which KEK sealed it so that a KEK can be rotated. Unsealing checks
that the seed still yields the stored public key. Nothing here logs or returns a seed except
``HeldSigner`` which keeps it in memory only while signing.
"""

from __future__ import annotations

import hashlib

import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils
from django.conf import settings

from foaf.bilateral import SeedSigner


class KeyUnavailable(Exception):
    """The held key is destroyed, or was sealed under a key-encryption key we do not have."""

    code = "KEY_UNAVAILABLE"


def kek_id(kek: bytes | None = None) -> str:
    return hashlib.sha256(kek or settings.KEY_ENCRYPTION_KEY).hexdigest()[:16]


def new_seed() -> bytes:
    return nacl.utils.random(32)


def public_key_of(seed: bytes) -> str:
    return bytes(nacl.signing.SigningKey(seed).verify_key).hex()


def seal(seed: bytes) -> bytes:
    return bytes(nacl.secret.SecretBox(settings.KEY_ENCRYPTION_KEY).encrypt(seed))


def unseal_secret(sealed: bytes, *, sealed_under: str) -> bytes:
    """A secret sealed by ``seal`` (a seed, an invoice's preimage)."""
    if sealed_under != kek_id():
        raise KeyUnavailable(f"sealed under key-encryption key {sealed_under}, this service has {kek_id()}")
    return bytes(nacl.secret.SecretBox(settings.KEY_ENCRYPTION_KEY).decrypt(bytes(sealed)))


def unseal(sealed: bytes, *, public_key: str, sealed_under: str) -> HeldSecrets:
    seed = unseal_secret(sealed, sealed_under=sealed_under)
    signer = SeedSigner(seed)
    if signer.public_key.hex() != public_key:
        raise KeyUnavailable("the sealed seed does not match its public key")
    return HeldSecrets(signer, _mailbox_secret(seed))


TAG_MAILBOX = b"FOAF-MAILBOX-1"


def _mailbox_secret(seed: bytes) -> bytes:
    """The X25519 secret of a held key's mailbox: SHA-256(tag || 0x00 || seed), so nothing more is
    stored, and distinct from the signing key's own X25519 form (which the relay refuses as a
    mailbox key)."""
    return hashlib.sha256(TAG_MAILBOX + b"\x00" + seed).digest()


class HeldSecrets:
    """What a held seed gives, while in memory: its signer and its mailbox key pair."""

    __slots__ = ("_mailbox", "signer")

    def __init__(self, signer: SeedSigner, mailbox_secret: bytes) -> None:
        self.signer = signer
        self._mailbox = nacl.public.PrivateKey(mailbox_secret)

    @property
    def mailbox_public_key(self) -> str:
        return bytes(self._mailbox.public_key).hex()

    def box_to(self, mailbox_key: str, plaintext: bytes) -> bytes:
        """A NaCl box (nonce || ciphertext) from our mailbox key to ``mailbox_key`` (docs/relay.md
        §14.1). The nonce is the first 24 bytes of SHA-256(recipient key || plaintext): the same
        message to the same member seals to the same bytes, so a retried deposit is a duplicate
        the relay recognises, and two different messages never share a nonce."""
        nonce = hashlib.sha256(bytes.fromhex(mailbox_key) + plaintext).digest()[:24]
        box = nacl.public.Box(self._mailbox, nacl.public.PublicKey(bytes.fromhex(mailbox_key)))
        return bytes(box.encrypt(plaintext, nonce))

    def open_from(self, mailbox_key: str, ciphertext: bytes) -> bytes:
        """Open a box sent to our mailbox key by the holder of ``mailbox_key``; raises
        ``nacl.exceptions.CryptoError`` if it was not."""
        box = nacl.public.Box(self._mailbox, nacl.public.PublicKey(bytes.fromhex(mailbox_key)))
        return bytes(box.decrypt(ciphertext))
