"""/api/routing/v1: the operator starts payments and loops for hosted members; parties on a
route (by signed request) and the operator follow its progress."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from foaf.ledger import services
from foaf.ledger.models import Party
from relay.protocol.auth import sign_http_request
from tests.ledger.test_hosting import community, run_deliveries

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    get_user_model().objects.create_user("op", password="pw-operator-1", is_staff=True)
    client.login(username="op", password="pw-operator-1")
    return client


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_operator_starts_a_payment_and_follows_it_to_settlement(operator: Client) -> None:
    p, _ = community("abc")
    r = post(
        operator,
        "/api/routing/v1/payments",
        {"payer": p["a"].party_id, "payee": p["c"].party_id, "amount": 90, "currency": "CAD"},
    )
    assert r.status_code == 202, r.content
    route_hash = r.json()["route_hash"]
    assert r.json()["outcome"] == "pending" and len(r.json()["hops"]) == 2
    run_deliveries(int(time.time()))
    r = operator.get(f"/api/routing/v1/payments/{route_hash}")
    assert r.status_code == 200
    assert r.json()["outcome"] == "settled"
    assert [h["status"] for h in r.json()["hops"]] == ["settled", "settled"]


def test_no_route_and_bad_input_get_clear_errors(operator: Client) -> None:
    p, _ = community("ab")
    lone = community("z")[0]["z"]
    r = post(
        operator,
        "/api/routing/v1/payments",
        {"payer": p["a"].party_id, "payee": lone.party_id, "amount": 5, "currency": "CAD"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "no_route")
    r = post(
        operator,
        "/api/routing/v1/payments",
        {"payer": p["a"].party_id, "payee": "ab" * 32, "amount": 5, "currency": "CAD"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = post(
        operator,
        "/api/routing/v1/payments",
        {"payer": p["a"].party_id, "payee": p["b"].party_id, "amount": 0, "currency": "CAD"},
    )
    assert r.status_code == 400
    r = operator.post("/api/routing/v1/payments", data=b"{nope", content_type="application/json")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_json")
    r = post(
        operator,
        "/api/routing/v1/loops",
        {
            "members": [p["a"].party_id, p["b"].party_id, p["a"].party_id, p["b"].party_id],
            "amount": 5,
            "currency": "CAD",
        },
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_request")


def test_only_the_operator_starts_and_only_parties_on_the_route_read(client: Client, operator: Client) -> None:
    p, _ = community("abc")
    outsider = community("x")[0]["x"]
    anonymous = Client()
    body = {"payer": p["a"].party_id, "payee": p["c"].party_id, "amount": 10, "currency": "CAD"}
    assert post(anonymous, "/api/routing/v1/payments", body).status_code == 401
    route_hash = post(operator, "/api/routing/v1/payments", body).json()["route_hash"]
    path = f"/api/routing/v1/payments/{route_hash}"

    def signed_get(party: Party) -> Any:
        signer = services.party_held_secrets(party).signer
        headers = sign_http_request(
            signer, method="GET", path=path, body=b"", relay="http://testserver", now=int(time.time())
        )
        return anonymous.get(path, headers=headers)

    assert signed_get(p["b"]).status_code == 200
    assert signed_get(outsider).status_code == 404
    assert anonymous.get(path).status_code == 401
