"""Keys the service holds for members: sealed at rest, usable to sign, destroyable, never shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from foaf import bilateral as core
from foaf.ledger import keys, services
from foaf.ledger.models import HeldKey

pytestmark = pytest.mark.django_db


def test_a_held_key_signs_for_its_party() -> None:
    party = services.party_create_with_held_key(display_name="Mara")
    signer = services.party_signer(party)
    assert signer.public_key.hex() == party.public_key
    core.verify(signer.public_key, b"message", signer.sign(b"message"))


def test_the_seed_is_not_stored_in_the_clear() -> None:
    party = services.party_create_with_held_key()
    held = HeldKey.objects.get(party=party)
    seed = services.party_signer(party)._sk[:32]  # the in-memory secret key starts with the seed
    assert bytes(seed) not in bytes(held.sealed_seed)
    assert len(bytes(held.sealed_seed)) == 24 + 16 + 32  # nonce, MAC, ciphertext


def test_a_key_sealed_under_another_key_encryption_key_is_unavailable(settings) -> None:  # type: ignore[no-untyped-def]
    party = services.party_create_with_held_key()
    settings.KEY_ENCRYPTION_KEY = bytes(32)
    with pytest.raises(keys.KeyUnavailable):
        services.party_signer(party)


def test_a_destroyed_key_is_wiped_once_and_can_no_longer_sign() -> None:
    party = services.party_create_with_held_key()
    held = HeldKey.objects.get(party=party)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert services.held_key_destroy(held, now=now) is True
    assert services.held_key_destroy(held, now=now) is False
    held.refresh_from_db()
    assert held.sealed_seed is None and held.destroyed_at == now
    with pytest.raises(services.LedgerError) as caught:
        services.party_signer(party)
    assert caught.value.code == services.NO_HELD_KEY


def test_the_admin_never_shows_a_sealed_seed(admin_client: Client) -> None:
    party = services.party_create_with_held_key()
    held = HeldKey.objects.get(party=party)
    page = admin_client.get(f"/admin/ledger/heldkey/{held.pk}/change/")
    assert page.status_code == 200
    assert b"sealed seed" not in page.content.lower()
    assert bytes(held.sealed_seed).hex().encode() not in page.content
