"""A member session end to end, in one flow, on the imported demo dump (issue 10, item 5).

Log in, list the lines, pay, pay along a path, create a pending payment and have the counterparty
confirm it (its countersignature), ask for a payment by request (marked paid, then confirmed), log
out, and the old token is refused — once with the HS256 token a local bcrypt login issues, once
with an auth.foaf.io RS256 token (signed with the test's key, checked against the test's JWKS)
that a login forwarded to an auth service stand-in hands out. Then the same session against a
counterparty holding their own key: the payment is 202 buffered, and their device's
countersignature makes it posted.

Lines (see test_trustlines.py): #1 Ida (A)-Olu, balance -40 (Olu owes Ida 40), limits 100/100;
#2 Ida (A)-Mae, balance 30 (Ida owes Mae 30), Ida may owe 250, Mae 50; #5 Mae-Zoë.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.conf import settings as django_settings
from django.test import Client

from foaf import bilateral as core
from foaf.ledger import hosting, services
from foaf.ledger.models import PendingProposal, Relationship
from migration import models as m
from relay.models import MailboxMessage
from tests.ledger.test_hosting import run_deliveries
from tests.legacy_api.conftest import AUD, IDA, IDA_FOAF_ID, SECRET, Tokens, devise_hash
from tests.legacy_api.test_on_behalf import _claim
from tests.legacy_api.test_sessions import IDA_IDENTITY, AuthStandIn
from tests.legacy_api.test_trustlines import MAE, OLU, ZOE, Api, balance

pytestmark = pytest.mark.django_db

PASSWORD = "a session of my own"


@pytest.fixture
def auth_service(legacy_settings: Any) -> Iterator[AuthStandIn]:
    stand_in = AuthStandIn()
    legacy_settings.LEGACY_AUTH_SERVICE_URL = stand_in.url
    yield stand_in
    stand_in.close()


def log_in(client: Client, password: str = PASSWORD) -> Any:
    return client.post("/v1/sessions", {"username": "idaquist2", "password": password}, content_type="application/json")


def local_login(client: Client) -> str:
    """Ida's Devise hash set here, then a local bcrypt login: an HS256 Rails-minted v1 token."""
    m.Member.objects.filter(legacy_id=IDA).update(encrypted_password=devise_hash(PASSWORD))
    login = log_in(client)
    assert login.status_code == 200, login.content
    token = login.json()["token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD)["legacy_uid"] == IDA
    return str(token)


def session_flow(client: Client, token: str, olu: Api, mae: Api) -> None:
    """Everything a member does in the app, with one token, then logging out."""
    api = Api(client, token)
    assert api("GET", "sessions").json()["data"]["attributes"]["id"] == IDA
    # List.
    r = api("GET", "trustlines")
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [1, 2]
    # Pay Olu on line #1.
    r = api("POST", "trustlines/1/payment", {"amount": 5, "description": "eggs", "originating_request_id": 1})
    assert r.status_code == 200, r.json()
    assert r.json()["operation"]["write_state"] == "posted" and balance(1) == -3500
    # Pay Zoë along a path (Ida → Mae → Zoë), multi-hop through the routing protocol.
    found = api("POST", "trustlines/find_path", {"to_user_id": ZOE, "amount": 5}).json()
    assert found["path_found"] is True and [p["id"] for p in found["path"]] == [IDA, MAE, ZOE]
    r = api("POST", "trustlines/execute_path_payment", {"to_user_id": ZOE, "amount": 5, "originating_request_id": 2})
    assert r.status_code == 200, r.json()
    assert r.json()["message"] == "Path payment executed successfully"
    assert [o["write_state"] for o in r.json()["operations"]] == ["posted", "posted"]
    assert balance(2) == 3500 and balance(5) == 500
    # A pending payment to Olu (Ida says she paid him 10 in cash): nothing moves until Olu, the
    # counterparty, confirms it; his confirm is the countersignature of her settlement.
    r = api("POST", "pending_payments", {"trustline_id": 1, "amount": 10, "description": "hay"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    pending = r.json()["id"]
    assert [p["id"] for p in olu("GET", "pending_payments").json()["incoming"]] == [pending]
    assert balance(1) == -3500
    r = olu("PUT", f"pending_payments/{pending}/confirm")
    assert r.status_code == 200, r.json()
    assert r.json()["pending_payment"]["status"] == "confirmed"
    assert r.json()["operation"]["write_state"] == "posted" and balance(1) == -4500  # Olu owes 45
    # A request to Mae: she marks it paid, Ida confirms the cash she received.
    r = api("POST", "pending_payments", {"trustline_id": 2, "amount": 4, "kind": "request"})
    assert r.status_code == 201 and r.json()["kind"] == "request"
    request_id = r.json()["id"]
    assert mae("PUT", f"pending_payments/{request_id}/mark_paid").status_code == 200
    r = api("PUT", f"pending_payments/{request_id}/confirm")
    assert r.status_code == 200 and r.json()["pending_payment"]["status"] == "confirmed"
    assert balance(2) == 3900  # Mae paid Ida 4 in cash: Ida owes Mae 4 more (35 → 39)
    assert api("GET", "trustlines/summary").json()["total_credit_owed"] == 39.0
    # Log out; the old token is refused everywhere.
    out = api("DELETE", "sessions")
    assert (out.status_code, out.content) == (200, b"")
    for method, path in (("GET", "trustlines"), ("GET", "sessions"), ("POST", "trustlines/1/payment")):
        r = api(method, path, {"amount": 1} if method == "POST" else None)
        assert (r.status_code, r.content) == (401, b"")
    assert balance(1) == -4500


def test_a_session_with_the_hs256_token_of_a_local_login(imported: dict[int, m.Member], tokens: Tokens,
                                                         settings: Any) -> None:  # fmt: skip
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 20
    client = Client()
    token = local_login(client)
    session_flow(client, token, Api(Client(), tokens.v1(OLU)), Api(Client(), tokens.v1(MAE)))
    assert log_in(client).status_code == 200  # a new login is a new session


def test_a_session_with_an_rs256_token_from_the_auth_service(
    imported: dict[int, m.Member], tokens: Tokens, settings: Any, auth_service: AuthStandIn
) -> None:
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 20
    issued = tokens.rs256()  # kid in the test's JWKS, iss auth.foaf.io, aud growoperative
    auth_service.answer = (200, {"token": issued, "identity": IDA_IDENTITY})
    client = Client()
    login = log_in(client, password="checked by auth")
    assert login.status_code == 200 and login.json()["token"] == issued
    assert jwt.get_unverified_header(issued)["alg"] == "RS256"
    auth_service.answer = (401, {})  # GET /v1/sessions asks auth to refresh; refused, ours stands
    session_flow(client, issued, Api(Client(), tokens.v1(OLU)), Api(Client(), tokens.v1(MAE)))
    assert m.SessionRevocation.objects.filter(jti=jwt.decode(issued, options={"verify_signature": False})["jti"])
    assert Api(Client(), tokens.rs256())("GET", "trustlines").status_code == 200  # another token still works
    assert jwt.decode(issued, options={"verify_signature": False})["sub"] == IDA_FOAF_ID


def device_accepts(device: core.SeedSigner, line_id: int) -> None:
    """The counterparty's device takes the proposal from its mailbox and countersigns; the accept
    reaches the hosted member's wallet (as mailboxes_collect hands it to hosting.step)."""
    proposal = PendingProposal.objects.get(status="open")
    rel = Relationship.objects.get(legacy_trustline__legacy_id=line_id)
    now = int(time.time())
    party = core.Party.restore(
        device, list(services.log_entries(rel)), now=now, operator_keys=django_settings.OPERATOR_KEYS
    )
    events = party.receive(services.proposal_of(proposal).encode(), now=now)
    assert any(isinstance(e, core.ProposalReceived) for e in events)
    accept = party.accept(now=now)
    hosting.step(m.Member.objects.get(pk=IDA).party, lambda wallet: wallet.receive(accept, now=now), now=now)


@pytest.mark.parametrize("kind", ["hs256", "rs256"])
def test_a_counterparty_holding_their_own_key_202_then_posted(
    imported: dict[int, m.Member], tokens: Tokens, kind: str
) -> None:
    client = Client()
    token = local_login(client) if kind == "hs256" else tokens.rs256()
    api = Api(client, token)
    olu = m.Member.objects.select_related("party").get(pk=OLU)
    device = _claim(olu)
    signed_for_olu = m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count()
    pay = {"amount": 12, "description": "eggs", "originating_request_id": 31}
    r = api("POST", "trustlines/1/payment", pay)
    assert r.status_code == 202, r.json()
    body = r.json()
    assert body["message"] == "Write buffered pending FOAF reconciliation"
    assert body["operation"]["write_state"] == "buffered" and body["operation"]["posted_at"] is None
    assert balance(1) == -4000  # nothing moved
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count() == signed_for_olu  # never for Olu
    run_deliveries(int(time.time()))
    assert MailboxMessage.objects.filter(recipient=olu.party.public_key).count() == 1
    device_accepts(device, 1)
    assert balance(1) == -2800
    buffer_id = body["operation"]["buffer_id"]
    write = api("GET", f"foaf/writes/{buffer_id}").json()["operation"]
    assert write["write_state"] == "posted" and write["posted_at"]
    again = api("POST", "trustlines/1/payment", pay)  # the app's retry reads the outcome
    assert again.status_code == 200 and again.json()["message"] == "Payment processed successfully"
    assert again.json()["operation"]["buffer_id"] == buffer_id and balance(1) == -2800
    assert api("GET", "trustlines/1").json()["current_balance"] == -28.0
    assert api("DELETE", "sessions").status_code == 200
    assert api("GET", "trustlines").status_code == 401
