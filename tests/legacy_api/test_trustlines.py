"""``/v1/trustlines*`` as API.md states them, on the imported demo dump with real tokens.

The dump's lines of Ida (2): #1 with Olu (3), Ida = A, limits 100/100, history balance -40 (Olu
owes Ida 40); #2 with Mae (4), Ida = A, limits 250 (Ida may owe) / 50, balance 30 (Ida owes 30).
Line #3 (Olu-Mae) is not Ida's; #4 (Olu-Ravi) is inactive; #5 Mae-Zoë (6), #6 Zoë-Tam (7).

Write paths (crash, retry, duplicate), as ``migration.api.ledger_writes`` states them: a write is
one transaction (write row, countersignatures, ledger entry, signature records), so a crash before
commit leaves nothing and the request is retried whole; after commit a replay with the same
``Idempotency-Key`` (or ``originating_request_id``) returns the stored write and never applies
twice; two identical requests at once apply once (tested on PostgreSQL in test_on_behalf.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from foaf.ledger.models import Relationship
from migration import models as m
from tests.legacy_api.conftest import DEMO, IDA, IDA_PASSWORD, Tokens, bearer

pytestmark = pytest.mark.django_db

OLU, MAE, ZOE, TAM = 3, 4, 6, 7

LINE_1 = {
    "id": 1,
    "other_user": {"id": 3, "name": "olubergstrom3"},
    "my_credit_limit": 100.0,
    "their_credit_limit": 100.0,
    "my_available_credit": 100.0,
    "current_balance": -40.0,
    "is_active": True,
    "established_date": "2025-07-06T10:00:00.000Z",
    "last_activity": "2025-12-01T10:00:00.000Z",
    "notes": "neighbours",
}
LINE_2 = {
    "id": 2,
    "other_user": {"id": 4, "name": "Mae (wood)"},
    "my_credit_limit": 250.0,
    "their_credit_limit": 50.0,
    "my_available_credit": 220.0,
    "current_balance": 30.0,
    "is_active": True,
    "established_date": "2025-07-10T10:00:00.000Z",
    "last_activity": "2026-03-10T10:00:00.000Z",
    "notes": None,
}


class Api:
    def __init__(self, client: Client, token: str) -> None:
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {"headers": {**bearer(self.token), **headers}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method.lower())(f"/v1/{path}", **kwargs)


@pytest.fixture
def ida(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(IDA))


@pytest.fixture
def olu(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(OLU))


def balance(line_id: int) -> int:
    return Relationship.objects.get(legacy_trustline__legacy_id=line_id).balance


# ------------------------------------------------------------------ reads
def test_list_show_and_summary_come_from_the_bilateral_state(ida: Api) -> None:
    r = ida("GET", "trustlines")
    assert r.status_code == 200 and r.json() == [LINE_1, LINE_2]
    assert ida("GET", "trustlines/1").json() == LINE_1
    assert ida("GET", "trustlines/2/").json() == LINE_2
    assert ida("GET", "trustlines/summary").json() == {
        "total_trustlines": 2,
        "total_credit_owed": 30.0,
        "total_credit_owed_to_me": 40.0,
        "net_credit_position": 10.0,
        "available_credit": 320.0,
    }
    # The balance is the ledger's, not the Rails cache: move the head and the read follows.
    Relationship.objects.filter(legacy_trustline__legacy_id=1).update(balance=-1234)
    assert ida("GET", "trustlines/1").json()["current_balance"] == -12.34


def test_reads_from_the_other_side_and_the_lines_not_the_callers(olu: Api, ida: Api) -> None:
    line = olu("GET", "trustlines/1").json()
    assert line["other_user"] == {"id": 2, "name": "egg lady"}  # Olu is the contact row's user: user_label
    assert line["current_balance"] == 40.0 and line["my_available_credit"] == 60.0
    assert [x["id"] for x in olu("GET", "trustlines").json()] == [1, 3]  # #4 is inactive
    for path in ("trustlines/3", "trustlines/999", "trustlines/abc"):
        r = ida("GET", path)
        assert (r.status_code, r.json()) == (404, {"errors": ["Trustline not found"]})
    r = olu("GET", "trustlines/4")  # the caller's, inactive
    assert (r.status_code, r.json()) == (503, {"errors": ["Trustline not found in FOAF"]})


def test_no_active_lines_is_an_empty_list(imported: dict[int, m.Member], tokens: Tokens) -> None:
    api = Api(Client(), tokens.v1(DEMO))
    assert api("GET", "trustlines").json() == []
    assert api("GET", "trustlines/summary").json()["total_trustlines"] == 0


def test_every_endpoint_needs_a_token(imported: dict[int, m.Member]) -> None:
    client = Client()
    calls = [("get", "trustlines"), ("get", "trustlines/1"), ("post", "trustlines/1/payment"),
             ("post", "trustlines/find_path"), ("delete", "trustlines/1"), ("get", "foaf/signatures")]  # fmt: skip
    for method, path in calls:
        r = getattr(client, method)(f"/v1/{path}")
        assert r.status_code == 401 and r.content == b""


# ------------------------------------------------------------------ payment
def test_a_payment_is_posted_co_signed_and_the_receipt_is_exact(ida: Api) -> None:
    r = ida("POST", "trustlines/1/payment", {"amount": "25.5", "description": "eggs 🥚"})
    assert r.status_code == 200, r.json()
    body = r.json()
    op = body["operation"]
    assert body["message"] == "Payment processed successfully"
    assert op["idempotency_key"] == f"growoperative:trustline_transaction:{op['buffer_id']}"
    assert op["transaction_type"] == "payment" and op["direction"] == "sent"
    assert op["write_state"] == "posted" and op["write_error"] is None and op["pending_transfer_id"] is None
    assert isinstance(op["foaf_operation_id"], int)
    assert op["posted_at"].endswith("Z") and len(op["posted_at"]) == 24
    assert body["foaf_state"]["current_balance"] == -14.5
    assert "refetch_error" not in body
    assert balance(1) == -1450
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    assert rel.genesis_complete  # countersigned on both members' behalf first


def test_payment_errors_as_rails_gives_them(ida: Api) -> None:
    for amount in (0, -5, "abc", None):
        r = ida("POST", "trustlines/1/payment", {"amount": amount})
        assert (r.status_code, r.json()) == (422, {"errors": ["Amount must be greater than zero"]})
    r = ida("POST", "trustlines/1/payment", {"amount": 140.01})  # room: 100 + the 40 Olu owes
    assert (r.status_code, r.json()) == (422, {"errors": ["Insufficient credit limit"]})
    assert balance(1) == -4000 and not m.LegacyWrite.objects.exists()  # nothing written
    assert ida("POST", "trustlines/1/payment", {"amount": 140}).status_code == 200
    r = ida("POST", "trustlines/3/payment", {"amount": 1})  # not Ida's: Rails' 404
    assert (r.status_code, r.json()) == (404, {"status": 404, "error": "Not Found"})


def test_a_replayed_payment_applies_once(ida: Api) -> None:
    body = {"amount": 10, "description": "x", "originating_request_id": 777}
    first = ida("POST", "trustlines/1/payment", body)
    again = ida("POST", "trustlines/1/payment", body)  # the app retried after a timeout
    assert first.status_code == again.status_code == 200
    assert first.json()["operation"] == again.json()["operation"]
    assert balance(1) == -3000
    header = ida("POST", "trustlines/1/payment", {"amount": 10}, **{"Idempotency-Key": "k1"})
    header2 = ida("POST", "trustlines/1/payment", {"amount": 10}, **{"Idempotency-Key": "k1"})
    assert header.json()["operation"]["buffer_id"] == header2.json()["operation"]["buffer_id"]
    assert balance(1) == -2000
    r = ida("POST", "trustlines/1/payment", {"amount": 11}, **{"Idempotency-Key": "k1"})
    assert (r.status_code, r.json()) == (422, {"errors": ["Idempotency-Key was already used for another request"]})
    # Without a key nothing identifies a replay: two requests, two payments.
    ida("POST", "trustlines/1/payment", {"amount": 1})
    ida("POST", "trustlines/1/payment", {"amount": 1})
    assert balance(1) == -1800


# ------------------------------------------------------------------ record_debt / record_receipt
def test_record_debt_and_record_receipt(ida: Api, olu: Api) -> None:
    r = ida("POST", "trustlines/2/record_debt", {"amount": 20, "description": "fence"})
    assert r.status_code == 200 and r.json()["message"] == "Debt recorded"
    assert r.json()["operation"]["transaction_type"] == "adjustment"
    assert r.json()["operation"]["direction"] == "sent"
    assert balance(2) == 5000
    r = ida("POST", "trustlines/1/record_receipt", {"amount": 50})  # Olu owed 40: swings past zero
    assert r.status_code == 200 and r.json()["message"] == "Receipt recorded"
    assert r.json()["operation"]["direction"] == "received"
    assert balance(1) == 1000 and r.json()["foaf_state"]["current_balance"] == 10.0
    for path in ("trustlines/2/record_debt", "trustlines/1/record_receipt"):
        r = ida("POST", path, {"amount": 0})
        assert (r.status_code, r.json()) == (422, {"errors": ["Amount must be greater than zero"]})
    r = ida("POST", "trustlines/3/record_debt", {"amount": 1})
    assert (r.status_code, r.json()) == (404, {"status": 404, "error": "Not Found"})


def test_record_debt_past_the_limit_is_rejected_and_no_consent_is_invented(ida: Api) -> None:
    r = ida("POST", "trustlines/2/record_debt", {"amount": 300, "raise_limit_to": 400})
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == "FOAF rejected the write"
    assert body["operation"]["write_state"] == "rejected"
    assert body["operation"]["write_error"]["outcome"] == "LIMIT_EXCEEDED"
    assert body["operation"]["posted_at"] is None and body["operation"]["foaf_operation_id"] is None
    assert balance(2) == 3000
    assert Relationship.objects.get(legacy_trustline__legacy_id=2).limit_a_to_b == 25000  # not raised for Mae


# ------------------------------------------------------------------ create, update, delete
def test_create_a_line(ida: Api, imported: dict[int, m.Member]) -> None:
    r = ida("POST", "trustlines", {"user_id": TAM, "credit_limit": 0, "their_credit_limit": 30, "notes": "hi"})
    assert r.status_code == 201
    body = r.json()
    assert body["other_user"] == {"id": TAM, "name": "tamwhitehorse7"}
    assert (body["my_credit_limit"], body["their_credit_limit"], body["current_balance"]) == (100.0, 30.0, 0.0)
    assert body["notes"] == "hi" and body["is_active"] and body["last_activity"] is None
    line = m.Trustline.objects.get(pk=body["id"])
    assert line.relationship is not None and line.relationship.genesis_complete
    assert (line.relationship.limit_a_to_b, line.relationship.limit_b_to_a) == (10000, 3000)
    assert m.SignatureOnBehalf.objects.filter(relationship=line.relationship, what="open").count() == 2
    # An existing pair (any state) comes back unchanged, still 201.
    again = ida("POST", "trustlines", {"other_user_id": TAM, "my_credit_limit": 5, "notes": "other"})
    assert again.status_code == 201 and again.json() == body
    existing = ida("POST", "trustlines", {"other_user_id": OLU})
    assert existing.status_code == 201 and existing.json()["id"] == 1
    r = ida("POST", "trustlines", {"other_user_id": 999})
    assert (r.status_code, r.json()) == (404, {"errors": ["User not found"]})
    r = ida("POST", "trustlines", {"other_user_id": DEMO})
    assert (r.status_code, r.json()) == (422, {"errors": ["Cannot create trustlines between demo and non-demo users"]})


def test_update_limits_as_their_owner_and_as_the_other(ida: Api) -> None:
    # Ida is A on #2: credit_limit_b_to_a (what Mae may owe Ida) is Ida's own to set.
    r = ida("PATCH", "trustlines/2", {"credit_limit_b_to_a": "75", "notes": "wood"})
    assert r.status_code == 200, r.json()
    assert r.json()["their_credit_limit"] == 75.0 and r.json()["notes"] == "wood"
    assert Relationship.objects.get(legacy_trustline__legacy_id=2).limit_b_to_a == 7500
    # credit_limit_a_to_b (what Ida may owe) is Mae's: asked of Mae, never given for her.
    r = ida("PUT", "trustlines/2", {"credit_limit_a_to_b": 300})
    assert r.status_code == 202
    body = r.json()
    assert body["message"] == "Trustline update buffered pending FOAF reconciliation"
    assert body["trustline_id"] == 2 and body["operation"]["operation_type"] == "trustline_update"
    assert body["operation"]["write_state"] == "buffered"
    assert Relationship.objects.get(legacy_trustline__legacy_id=2).limit_a_to_b == 25000
    assert m.Trustline.objects.get(pk=2).credit_limit_a_to_b == 25000
    r = ida("PUT", "trustlines/2", {"credit_limit_a_to_b": -1, "credit_limit_b_to_a": "x"})
    assert (r.status_code, r.json()) == (
        422,
        {"errors": ["Credit limit a to b must be greater than or equal to 0", "Credit limit b to a is not a number"]},
    )
    r = ida("PUT", "trustlines/3", {"notes": "x"})
    assert (r.status_code, r.json()) == (404, {"errors": ["Trustline not found"]})


def test_delete_deactivates_without_touching_the_ledger(ida: Api) -> None:
    head = Relationship.objects.get(legacy_trustline__legacy_id=2).head_seq
    r = ida("DELETE", "trustlines/2")
    assert (r.status_code, r.json()) == (200, {"message": "Trustline deactivated successfully"})
    assert not m.Trustline.objects.get(pk=2).is_active
    assert Relationship.objects.get(legacy_trustline__legacy_id=2).head_seq == head
    assert [x["id"] for x in ida("GET", "trustlines").json()] == [1]
    r = ida("DELETE", "trustlines/3")
    assert (r.status_code, r.json()) == (404, {"errors": ["Trustline not found"]})


# ------------------------------------------------------------------ paths
def test_find_path(ida: Api) -> None:
    r = ida("POST", "trustlines/find_path", {"to_user_id": ZOE, "amount": 50})
    assert r.status_code == 200
    assert r.json() == {
        "path_found": True,
        "path": [{"id": 2, "name": "idaquist2"}, {"id": 4, "name": "Mae (wood)"}, {"id": 6, "name": "zoefarm6"}],
        "path_length": 3,
        "estimated_cost": 50.0,
        "capacity": 100.0,
    }
    none = {"path_found": False, "message": "No payment path found within specified constraints"}
    assert ida("POST", "trustlines/find_path", {"to_user_id": ZOE, "amount": 100.01}).json() == none
    assert ida("POST", "trustlines/find_path", {"to_user_id": ZOE, "amount": 5, "max_hops": 1}).json() == none
    assert ida("POST", "trustlines/find_path", {"to_user_id": IDA, "amount": 5}).json() == none


def test_execute_path_payment_settles_every_hop(ida: Api, settings: Any) -> None:
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 20
    r = ida("POST", "trustlines/execute_path_payment", {"to_user_id": ZOE, "amount": 20, "description": "seedlings",
                                                        "originating_request_id": 9})  # fmt: skip
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["message"] == "Path payment executed successfully"
    assert [o["write_state"] for o in body["operations"]] == ["posted", "posted"]
    assert [o["direction"] for o in body["operations"]] == ["sent", "received"]
    assert [p["id"] for p in body["path"]] == [2, 4, 6] and body["amount"] == 20.0
    assert balance(2) == 5000 and balance(5) == 2000
    replay = {"to_user_id": ZOE, "amount": 20, "description": "seedlings", "originating_request_id": 9}
    again = ida("POST", "trustlines/execute_path_payment", replay)
    assert again.status_code == 200 and again.json()["operations"] == body["operations"]
    assert balance(2) == 5000  # the replay started no second route
    r = ida("POST", "trustlines/execute_path_payment", {"to_user_id": 999, "amount": 1})
    assert (r.status_code, r.json()) == (422, {"errors": ["No payment path found"]})


def test_execute_path_payment_answers_202_when_it_does_not_wait(ida: Api, settings: Any) -> None:
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 0
    r = ida("POST", "trustlines/execute_path_payment", {"to_user_id": ZOE, "amount": 5}, **{"Idempotency-Key": "p"})
    assert r.status_code == 202
    assert r.json()["message"] == "Path payment buffered pending FOAF reconciliation"
    from tests.ledger.test_hosting import run_deliveries

    run_deliveries(__import__("time").time().__int__())
    again = ida("POST", "trustlines/execute_path_payment", {"to_user_id": ZOE, "amount": 5}, **{"Idempotency-Key": "p"})
    assert again.status_code == 200
    assert [o["write_state"] for o in again.json()["operations"]] == ["posted", "posted"]


# ------------------------------------------------------------------ a member session
def test_a_member_session_end_to_end(imported: dict[int, m.Member], settings: Any) -> None:
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 20
    client = Client()
    login = client.post("/v1/sessions", {"username": "idaquist2", "password": IDA_PASSWORD},
                        content_type="application/json")  # fmt: skip
    assert login.status_code == 200
    api = Api(client, login.json()["token"])
    assert [x["id"] for x in api("GET", "trustlines").json()] == [1, 2]
    assert api("POST", "trustlines/1/payment", {"amount": 5}).status_code == 200
    assert api("POST", "trustlines/execute_path_payment", {"to_user_id": ZOE, "amount": 5}).status_code == 200
    assert api("GET", "trustlines/summary").json()["total_credit_owed"] == 35.0
    assert api("DELETE", "sessions").status_code == 200
    assert api("GET", "trustlines").status_code == 401
