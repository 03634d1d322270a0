"""Signing on members' behalf, honestly, and idempotent writes.

- Each signature the service makes with a held key is recorded and listed to the member
  (``GET /v1/foaf/signatures``); the imported genesis is countersigned first, also recorded.
- A member holding their own key is never signed for: the write is a proposal signed by the
  hosted member, sent to their relay mailbox, answered 202; their device's accept posts it.
- Crash / retry / duplicate: a retry after a timeout returns the first write; a write whose
  ledger entry committed but whose request is re-sent with the same key is found again by its
  derived nonce (never applied twice); two identical requests at once apply once (PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.test import Client

from foaf import bilateral as core
from foaf.ledger import hosting, mailbox, services
from foaf.ledger.models import HeldKey, PendingProposal, Relationship, StateEntry
from migration import models as m
from migration.api import ledger_writes as lw
from relay.models import MailboxMessage
from tests.ledger.test_hosting import run_deliveries
from tests.legacy_api.conftest import IDA, Tokens
from tests.legacy_api.test_trustlines import OLU, Api, balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def ida(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(IDA))


def test_signatures_on_behalf_are_recorded_and_shown_to_the_member(ida: Api, tokens: Tokens) -> None:
    r = ida("POST", "trustlines/1/payment", {"amount": 5}, **{"Idempotency-Key": "sig-1"})
    assert r.status_code == 200
    buffer_id = r.json()["operation"]["buffer_id"]
    rows = m.SignatureOnBehalf.objects.order_by("pk")
    assert [(s.member_legacy_id, s.what, s.role) for s in rows] == [
        (IDA, "genesis_countersignature", "requester"),
        (OLU, "genesis_countersignature", "counterparty"),
        (IDA, "update", "requester"),
        (OLU, "update", "counterparty"),
    ]
    assert {s.endpoint for s in rows} == {"payment"} and {s.idempotency_key for s in rows} == {"sig-1"}
    olu = Api(Client(), tokens.v1(OLU))
    listed = olu("GET", "foaf/signatures").json()["signatures"]
    assert [(s["what"], s["op_type"], s["role"], s["trustline_id"]) for s in listed] == [
        ("update", "payment", "counterparty", 1),
        ("genesis_countersignature", "import", "counterparty", 1),
    ]
    assert listed[0]["requested_by_id"] == IDA and listed[0]["buffer_id"] == buffer_id
    entry = StateEntry.objects.get(state_hash=listed[0]["state_hash"])
    assert entry.seq == listed[0]["seq"] and entry.sig_a and entry.sig_b
    # The operator's view is the admin, read-only.
    from django.contrib import admin

    assert m.SignatureOnBehalf in admin.site._registry


def _claim(member: m.Member) -> core.SeedSigner:
    """The member takes their key to their device: the genesis of line #1 is countersigned with it,
    their profile (mailbox key) is on the relay, and the service's copy is wiped."""
    now = int(time.time())
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    lw.genesis_countersign(lw.Call(member, "claim", None, {}), rel)
    mailbox.profile_publish(member.party, now=now)
    signer = services.party_signer(member.party)
    held = HeldKey.objects.get(party=member.party, destroyed_at__isnull=True)
    services.held_key_destroy(held, now=services.unix_to_datetime(now))
    assert not hosting.is_hosted(member.party)
    return signer


def test_never_signs_for_a_member_holding_their_own_key(ida: Api, imported: dict[int, m.Member]) -> None:
    olu = m.Member.objects.select_related("party").get(pk=OLU)
    device = _claim(olu)
    before = m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count()
    r = ida("POST", "trustlines/1/payment", {"amount": 12}, **{"Idempotency-Key": "own-1"})
    assert r.status_code == 202
    body = r.json()
    assert body["message"] == "Write buffered pending FOAF reconciliation"
    assert body["operation"]["write_state"] == "buffered" and body["operation"]["posted_at"] is None
    assert balance(1) == -4000
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count() == before  # nothing for Olu
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=IDA, what="proposal").count() == 1
    proposal = PendingProposal.objects.get(status="open")
    # The proposal goes to Olu's relay mailbox.
    run_deliveries(int(time.time()))
    assert MailboxMessage.objects.filter(recipient=olu.party.public_key).count() == 1
    # Olu's device accepts it; the accept reaches Ida's hosted wallet (as mailboxes_collect hands it).
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    now = int(time.time())
    device_party = core.Party.restore(
        device, list(services.log_entries(rel)), now=now, operator_keys=django_settings.OPERATOR_KEYS
    )
    events = device_party.receive(services.proposal_of(proposal).encode(), now=now)
    assert any(isinstance(e, core.ProposalReceived) for e in events)
    accept = device_party.accept(now=now)
    ida_party = m.Member.objects.get(pk=IDA).party
    hosting.step(ida_party, lambda w: w.receive(accept, now=now), now=now)
    assert balance(1) == -2800
    # A later read says posted: the write by its buffer id, and a replay of the request.
    write = ida("GET", f"foaf/writes/{body['operation']['buffer_id']}").json()["operation"]
    assert write["write_state"] == "posted" and write["posted_at"]
    again = ida("POST", "trustlines/1/payment", {"amount": 12}, **{"Idempotency-Key": "own-1"})
    assert again.status_code == 200 and again.json()["operation"]["buffer_id"] == body["operation"]["buffer_id"]
    assert balance(1) == -2800


def test_a_caller_holding_their_own_key_gets_a_payment_request_from_the_hosted_counterparty(
    imported: dict[int, m.Member], tokens: Tokens
) -> None:
    olu = m.Member.objects.select_related("party").get(pk=OLU)
    _claim(olu)
    r = Api(Client(), tokens.v1(OLU))("POST", "trustlines/1/payment", {"amount": 3})
    assert r.status_code == 202
    proposal = PendingProposal.objects.get(status="open")
    assert proposal.proposer == "a"  # Ida's hosted side asks Olu's device: "Olu pays Ida 3"
    signed = m.SignatureOnBehalf.objects.get(what="proposal")
    assert (signed.member_legacy_id, signed.role, signed.requested_by_legacy_id) == (IDA, "counterparty", OLU)


def test_a_write_committed_before_a_crash_is_not_applied_again(ida: Api, imported: dict[int, m.Member]) -> None:
    """The ledger entry committed, the answer was lost and the write row with it (simulated by
    deleting it): the retry derives the same nonce and update_custodial finds the entry."""
    body = {"amount": 7, "originating_request_id": 42}
    first = ida("POST", "trustlines/1/payment", body)
    assert first.status_code == 200 and balance(1) == -3300
    m.SignatureOnBehalf.objects.all().delete()
    m.LegacyWrite.objects.all().delete()
    again = ida("POST", "trustlines/1/payment", body)
    assert again.status_code == 200
    assert balance(1) == -3300
    assert again.json()["operation"]["foaf_operation_id"] == first.json()["operation"]["foaf_operation_id"]


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_apply_once(imported: dict[int, m.Member], tokens: Tokens) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    token = tokens.v1(IDA)
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def pay() -> None:
        try:
            barrier.wait()
            answers.append(
                Api(Client(), token)("POST", "trustlines/1/payment", {"amount": 9, "originating_request_id": 5})
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["operation"] == answers[1].json()["operation"]
    assert balance(1) == -3100
    assert m.LegacyWrite.objects.count() == 1
