"""The clients' own SDK against this service: ``rheos/foaf-client``'s ``RailsV1Adapter``.

Transcribed from its public source, read at commit 9eaa17131f57943756aef719a1f9d1aff309e106:
``client/src/adapters/RailsV1Adapter.ts`` (the calls), ``client/src/adapters/types.ts`` (read at
9b32c6868d2f2aca8cee89572429a5c1e5f4ff87: ``AxiosLikeClient``, the input and result types) and
``client/__tests__/adapters.test.ts`` (the list envelope). What the adapter does, method by method:

=====================  ======  =====================================  ================================
method                 verb    path                                   body / what it returns
=====================  ======  =====================================  ================================
listTrustlines         GET     /v1/trustlines                         the array, or ``data.data ?? []``
getTrustline(id)       GET     /v1/trustlines/${id}                   ``response.data``
createTrustline(p)     POST    /v1/trustlines                         ``p`` as given; ``response.data``
updateTrustline(id,p)  PUT     /v1/trustlines/${id}                   ``p`` as given; ``response.data``
deactivateTrustline    DELETE  /v1/trustlines/${id}                   nothing
getSummary             GET     /v1/trustlines/summary                 ``response.data``
makeDirectPayment      POST    /v1/trustlines/${id}/payment           ``p`` as given; ``response.data``
findPaymentPath(p)     POST    /v1/trustlines/find_path               ``p`` as given; ``response.data``
executePathPayment(p)  POST    /v1/trustlines/execute_path_payment    ``p`` as given; ``response.data``
=====================  ======  =====================================  ================================

It sets no header itself (the app's injected axios instance carries the bearer token) and sends
no ``Idempotency-Key``; it maps neither bodies nor answers (a bare cast: "Response objects remain
structurally compatible with GrowOperative"), so the keys on the wire are the ones the app passes.
It has no status handling of its own: with axios' default ``validateStatus`` every 2xx resolves
(``200`` posted and ``202`` buffered alike) and anything else rejects with ``response.status`` and
``response.data``. The app's own call sites are not in that repository; these tests pass Rails'
keys (``amount``, ``description``, ``originating_request_id``, ``to_user_id``, ``credit_limit_*``),
which the adapter forwards untouched and this service reads.

The SDK's *declared* types name other keys (``PaymentInput`` ``memo``/``idempotencyKey``/``toId``,
``UpdateTrustlineInput`` ``creditlineGiven``/``creditlineReceived``; ``CreditTrustline.balance``,
``CreditLedgerSummary.totalReceivable``, ``CreditPayment.status``, ``CreditPaymentPath.path`` as a
list of ids). Rails never read or wrote those names and neither does this service (API.md is the
contract); the last tests pin what a caller relying on the declared types would get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from foaf.ledger.models import Relationship
from migration import models as m
from tests.legacy_api.conftest import IDA, Tokens, bearer
from tests.legacy_api.test_on_behalf import _claim
from tests.legacy_api.test_trustlines import LINE_1, LINE_2, MAE, OLU, ZOE, balance

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ the SDK, transcribed
@dataclass
class AxiosResponse:
    data: Any
    status: int


class AxiosError(Exception):
    """What axios rejects with outside 2xx: ``error.response.status`` / ``error.response.data``."""

    def __init__(self, response: AxiosResponse) -> None:
        super().__init__(f"Request failed with status code {response.status}")
        self.response = response


class AxiosLike:
    """The ``AxiosLikeClient`` the app injects: an axios instance whose only default is the bearer
    header; an object body goes out as JSON; ``validateStatus`` is axios' default (2xx)."""

    def __init__(self, client: Client, token: str) -> None:
        self.client, self.token = client, token

    def _send(self, method: str, url: str, data: Any = None) -> AxiosResponse:
        kwargs: dict[str, Any] = {"headers": bearer(self.token)}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        raw = getattr(self.client, method)(url, **kwargs)
        body = json.loads(raw.content) if raw.content else ""
        response = AxiosResponse(body, raw.status_code)
        if not 200 <= raw.status_code < 300:
            raise AxiosError(response)
        return response

    def get(self, url: str) -> AxiosResponse:
        return self._send("get", url)

    def post(self, url: str, data: Any = None) -> AxiosResponse:
        return self._send("post", url, data)

    def put(self, url: str, data: Any = None) -> AxiosResponse:
        return self._send("put", url, data)

    def delete(self, url: str) -> AxiosResponse:
        return self._send("delete", url)


class RailsV1Adapter:
    """``client/src/adapters/RailsV1Adapter.ts`` @ 9eaa171, call for call (names kept)."""

    def __init__(self, http: AxiosLike) -> None:
        self.http = http

    def listTrustlines(self) -> list[Any]:
        data = self.http.get("/v1/trustlines").data
        return data if isinstance(data, list) else (data.get("data") or [])

    def getTrustline(self, id: Any) -> Any:
        return self.http.get(f"/v1/trustlines/{id}").data

    def createTrustline(self, params: dict[str, Any]) -> Any:
        return self.http.post("/v1/trustlines", params).data

    def updateTrustline(self, id: Any, params: dict[str, Any]) -> Any:
        return self.http.put(f"/v1/trustlines/{id}", params).data

    def deactivateTrustline(self, id: Any) -> None:
        self.http.delete(f"/v1/trustlines/{id}")

    def getSummary(self) -> Any:
        return self.http.get("/v1/trustlines/summary").data

    def makeDirectPayment(self, id: Any, params: dict[str, Any]) -> Any:
        return self.http.post(f"/v1/trustlines/{id}/payment", params).data

    def findPaymentPath(self, params: dict[str, Any]) -> Any:
        return self.http.post("/v1/trustlines/find_path", params).data

    def executePathPayment(self, params: dict[str, Any]) -> Any:
        return self.http.post("/v1/trustlines/execute_path_payment", params).data


def adapter(token: str) -> RailsV1Adapter:
    return RailsV1Adapter(AxiosLike(Client(), token))


def rejected(call: Any, *args: Any) -> AxiosResponse:
    with pytest.raises(AxiosError) as caught:
        call(*args)
    return caught.value.response


@pytest.fixture
def ida(imported: dict[int, m.Member], tokens: Tokens) -> RailsV1Adapter:
    return adapter(tokens.v1(IDA))


# ------------------------------------------------------------------ reads
def test_list_get_and_summary_as_the_sdk_reads_them(ida: RailsV1Adapter, tokens: Tokens) -> None:
    assert ida.listTrustlines() == [LINE_1, LINE_2]  # a bare array: the adapter's first branch
    assert ida.getTrustline(1) == LINE_1
    assert ida.getTrustline("2") == LINE_2  # LedgerId is string | number
    assert ida.getSummary() == {
        "total_trustlines": 2,
        "total_credit_owed": 30.0,
        "total_credit_owed_to_me": 40.0,
        "net_credit_position": 10.0,
        "available_credit": 320.0,
    }
    # The same calls with an auth.foaf.io RS256 token (the newer builds).
    rs = adapter(tokens.rs256())
    assert rs.listTrustlines() == [LINE_1, LINE_2] and rs.getSummary()["total_trustlines"] == 2
    # Errors reach the app as axios rejections with Rails' status and body.
    assert (r := rejected(ida.getTrustline, 3)).status == 404 and r.data == {"errors": ["Trustline not found"]}
    nobody = adapter("not-a-token")
    assert (r := rejected(nobody.listTrustlines)).status == 401 and r.data == ""


def test_an_empty_list_is_an_empty_array(imported: dict[int, m.Member], tokens: Tokens) -> None:
    from tests.legacy_api.conftest import DEMO

    assert adapter(tokens.v1(DEMO)).listTrustlines() == []


# ------------------------------------------------------------------ writes
def test_a_direct_payment_posted_buffered_and_refused(ida: RailsV1Adapter, imported: dict[int, m.Member]) -> None:
    paid = ida.makeDirectPayment(1, {"amount": 5, "description": "eggs", "originating_request_id": 71})
    assert paid["message"] == "Payment processed successfully"
    op = paid["operation"]
    assert (op["write_state"], op["transaction_type"], op["direction"]) == ("posted", "payment", "sent")
    assert op["idempotency_key"] == f"growoperative:trustline_transaction:{op['buffer_id']}"
    assert paid["foaf_state"]["current_balance"] == -35.0 and balance(1) == -3500
    # The app retries after a timeout with the same originating_request_id: one payment.
    again = ida.makeDirectPayment(1, {"amount": 5, "description": "eggs", "originating_request_id": 71})
    assert again["operation"]["buffer_id"] == op["buffer_id"] and balance(1) == -3500
    # Refusals reject the promise with Rails' 422 texts.
    r = rejected(ida.makeDirectPayment, 1, {"amount": 0})
    assert (r.status, r.data) == (422, {"errors": ["Amount must be greater than zero"]})
    r = rejected(ida.makeDirectPayment, 1, {"amount": 1000})
    assert (r.status, r.data) == (422, {"errors": ["Insufficient credit limit"]})
    # Olu holds his own key: 202 buffered, which axios resolves like a 200.
    _claim(m.Member.objects.select_related("party").get(pk=OLU))
    buffered = ida.makeDirectPayment(1, {"amount": 2, "originating_request_id": 72})
    assert buffered["message"] == "Write buffered pending FOAF reconciliation"
    assert buffered["operation"]["write_state"] == "buffered" and balance(1) == -3500


def test_update_the_limits(ida: RailsV1Adapter) -> None:
    # Ida is A on line #2: credit_limit_b_to_a is hers to set → 200 TRUSTLINE.
    line = ida.updateTrustline(2, {"credit_limit_b_to_a": 75})
    assert line["id"] == 2 and line["their_credit_limit"] == 75.0
    assert Relationship.objects.get(legacy_trustline__legacy_id=2).limit_b_to_a == 7500
    # credit_limit_a_to_b is Mae's: a request to her, 202 (resolved, but a receipt, not a TRUSTLINE).
    receipt = ida.updateTrustline(2, {"credit_limit_a_to_b": 300})
    assert receipt["message"] == "Trustline update buffered pending FOAF reconciliation"
    assert receipt["operation"]["write_state"] == "buffered" and "my_credit_limit" not in receipt
    r = rejected(ida.updateTrustline, 2, {"credit_limit_b_to_a": "x"})
    assert (r.status, r.data) == (422, {"errors": ["Credit limit b to a is not a number"]})


def test_create_and_deactivate(ida: RailsV1Adapter) -> None:
    made = ida.createTrustline({"other_user_id": ZOE, "my_credit_limit": 20, "their_credit_limit": 30})
    assert made["other_user"]["id"] == ZOE and made["my_credit_limit"] == 20.0 and made["their_credit_limit"] == 30.0
    ida.deactivateTrustline(2)  # the SDK discards the 200 {"message"} body
    assert [x["id"] for x in ida.listTrustlines()] == [1, made["id"]]


def test_find_a_path_then_pay_along_it(ida: RailsV1Adapter, settings: Any) -> None:
    settings.LEGACY_PATH_PAYMENT_WAIT_SECONDS = 20
    found = ida.findPaymentPath({"to_user_id": ZOE, "amount": 20})
    assert found["path_found"] is True and found["capacity"] == 100.0
    assert [hop["id"] for hop in found["path"]] == [IDA, MAE, ZOE]
    # The adapter's type adds `path: LedgerId[]` (here the ids shown); Rails and this service
    # search again and ignore it.
    paid = ida.executePathPayment({"to_user_id": ZOE, "amount": 20, "description": "seedlings",
                                   "originating_request_id": 5, "path": [IDA, MAE, ZOE]})  # fmt: skip
    assert paid["message"] == "Path payment executed successfully" and paid["amount"] == 20.0
    assert [o["write_state"] for o in paid["operations"]] == ["posted", "posted"]
    assert balance(2) == 5000 and balance(5) == 2000
    assert ida.findPaymentPath({"to_user_id": ZOE, "amount": 500}) == {
        "path_found": False,
        "message": "No payment path found within specified constraints",
    }
    r = rejected(ida.executePathPayment, {"to_user_id": 999, "amount": 1, "path": []})
    assert (r.status, r.data) == (422, {"errors": ["No payment path found"]})


# ------------------------------------------------------------------ the SDK's declared names
def test_the_sdks_declared_answer_fields_are_not_rails_fields(ida: RailsV1Adapter) -> None:
    """``types.ts`` declares CreditTrustline/CreditLedgerSummary/CreditPayment/CreditPaymentPath
    with names Rails never sent; the adapter casts without mapping, so a consumer reading the
    declared names reads ``undefined``. This service answers Rails' names, as API.md requires."""
    line = ida.getTrustline(1)
    assert not {"balance", "creditlineGiven", "creditlineReceived", "counterpartyId"} & line.keys()
    assert not {"totalReceivable", "totalPayable", "netBalance", "trustlineCount"} & ida.getSummary().keys()
    paid = ida.makeDirectPayment(1, {"amount": 1})
    assert not {"id", "amount", "status"} & paid.keys()  # the state is operation.write_state
    found = ida.findPaymentPath({"to_user_id": ZOE, "amount": 1})
    assert all(isinstance(hop, dict) for hop in found["path"])  # {id, name}, not LedgerId


def test_bodies_in_the_sdks_declared_input_names_are_not_understood(ida: RailsV1Adapter) -> None:
    """What a caller passing ``types.ts``' input names gets (Rails would answer the same)."""
    # FindPathInput {toId}: no to_user_id, so no path.
    assert ida.findPaymentPath({"toId": ZOE, "amount": 1})["path_found"] is False
    r = rejected(ida.executePathPayment, {"toId": ZOE, "amount": 1, "path": [IDA, MAE, ZOE]})
    assert (r.status, r.data) == (422, {"errors": ["No payment path found"]})
    # UpdateTrustlineInput {creditlineGiven, creditlineReceived}: ignored, 200 and nothing changes.
    line = ida.updateTrustline(2, {"creditlineGiven": 1, "creditlineReceived": 1})
    assert (line["my_credit_limit"], line["their_credit_limit"]) == (250.0, 50.0)
    # PaymentInput {memo, idempotencyKey} in the body: the memo is dropped (Rails reads
    # description), but the SDK's key is honoured, so its retry never pays twice.
    before = balance(1)
    first = ida.makeDirectPayment(1, {"amount": 1, "memo": "m", "idempotencyKey": "k-1"})
    once = balance(1)
    again = ida.makeDirectPayment(1, {"amount": 1, "memo": "m", "idempotencyKey": "k-1"})
    assert first["operation"]["buffer_id"] == again["operation"]["buffer_id"]
    assert abs(once - before) == 100 and balance(1) == once, (before, once, balance(1))
    written = m.LegacyWrite.objects.get(pk=first["operation"]["buffer_id"])
    assert written.idempotency_key == "body:k-1" and written.description == ""
