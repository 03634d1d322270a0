"""Updates co-signed with keys the service holds, and the demo community built from them."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from foaf import bilateral as core
from foaf.ledger import services
from foaf.ledger.demo import DEMO_PREFIX, demo_community_load
from foaf.ledger.models import Party, Relationship, StateEntry

pytestmark = pytest.mark.django_db
NOW = 1_790_000_000


def pair(limit: int = 1_000) -> Relationship:
    a = services.party_create_with_held_key(display_name="a")
    b = services.party_create_with_held_key(display_name="b")
    return services.relationship_open_custodial(a, b, limit_a_to_b=limit, limit_b_to_a=limit, currency="CAD", now=NOW)


def test_a_custodial_payment_is_co_signed_by_both_held_keys() -> None:
    relationship = pair()
    result = services.update_custodial(
        relationship, core.Payment("a", 400, "apples"), proposer="a", now=NOW + 5, nonce="01" * 16
    )
    assert result.outcome is services.Outcome.APPENDED
    entry = services.entry_from_row(StateEntry.objects.get(relationship=relationship, seq=1))
    assert entry.complete
    core.verify_log(list(services.log_entries(relationship)))
    assert Relationship.objects.get(pk=relationship.pk).balance == 400


def test_a_retry_with_the_same_nonce_after_a_crash_is_a_duplicate() -> None:
    relationship = pair()
    op = core.Payment("b", 100, "pears")
    services.update_custodial(relationship, op, proposer="b", now=NOW + 5, nonce="02" * 16)
    services.update_custodial(relationship, core.Payment("a", 30, "plums"), proposer="a", now=NOW + 6, nonce="04" * 16)
    relationship.refresh_from_db()
    again = services.update_custodial(relationship, op, proposer="b", now=NOW + 7, nonce="02" * 16)
    assert again.outcome is services.Outcome.DUPLICATE
    assert StateEntry.objects.filter(relationship=relationship).count() == 3
    assert Relationship.objects.get(pk=relationship.pk).balance == -100 + 30


def test_a_payment_past_the_limit_is_refused_and_nothing_is_stored() -> None:
    relationship = pair(limit=300)
    with pytest.raises(core.ProtocolError) as caught:
        services.update_custodial(relationship, core.Payment("a", 301), proposer="a", now=NOW + 5, nonce="03" * 16)
    assert caught.value.code is core.ErrorCode.LIMIT_EXCEEDED
    assert StateEntry.objects.filter(relationship=relationship).count() == 1


def test_the_demo_community_loads_once_and_every_log_verifies(capsys) -> None:  # type: ignore[no-untyped-def]
    assert demo_community_load() == (5, 5)
    assert demo_community_load() == (5, 5)
    assert Party.objects.filter(display_name__startswith=DEMO_PREFIX).count() == 5
    bakery_orchard = Relationship.objects.get(
        party_a__display_name="Demo: Ada's Bakery", party_b__display_name="Demo: Bo's Orchard"
    )
    assert bakery_orchard.balance == 4_500 - 2_000
    call_command("check_ledger")
    assert "5 relationships checked, 0 with problems" in capsys.readouterr().out
