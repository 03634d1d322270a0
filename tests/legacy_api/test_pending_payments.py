"""``/v1/pending_payments*`` as API.md states them, on the imported demo dump with real tokens.

The dump's pending payments: #1 Mae (4) → Zoë (6) confirmed; #2 Olu (3) → Ida (2) on line #1, a
payment of 25, pending (imported open: Ida acts next); #3 Mae → Olu on line #3, a request of 30
marked paid (Mae, the creditor, acts next); #4 Ida → Mae rejected. Line #1: Ida = A, balance -40
(Olu owes Ida 40); line #2: Ida = A, Mae = B, balance 30 (Ida owes Mae 30), limits 250 / 50.

Write paths (crash, retry, duplicate), as ``migration.api.pending_payments`` states them: a create
with an Idempotency-Key is made once; a confirm is one transaction on the locked pending payment
(its status, its action row, the ledger write), its nonce derived from the pending payment and
the attempt, and a replay by the confirmer returns the same write, never a second settlement;
mark_paid / reject / cancel replayed after commit get Rails' answer for the moved status.
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
from foaf.ledger import hosting, services
from foaf.ledger.models import PendingProposal, Relationship, StateEntry
from migration import models as m
from relay.models import MailboxMessage
from tests.ledger.test_hosting import run_deliveries
from tests.legacy_api.conftest import IDA, Tokens
from tests.legacy_api.test_on_behalf import _claim
from tests.legacy_api.test_trustlines import MAE, OLU, Api, balance

pytestmark = pytest.mark.django_db

NOT_FOUND = {"errors": ["Pending payment not found"]}
NOT_AUTHORIZED = {"errors": ["Not authorized"]}

PP_2 = {
    "id": 2,
    "kind": "payment",
    "from_user": {"id": 3, "name": "olubergstrom3"},
    "to_user": {"id": 2, "name": "idaquist2"},
    "trustline_id": 1,
    "amount": 25.0,
    "description": "settle up",
    "status": "pending",
    "paid_at": None,
    "created_at": "2026-11-10T10:00:00.000Z",
}
PP_3 = {
    "id": 3,
    "kind": "request",
    "from_user": {"id": 4, "name": "maetremblay4"},
    "to_user": {"id": 3, "name": "olubergstrom3"},
    "trustline_id": 3,
    "amount": 30.0,
    "description": "pay me back?",
    "status": "paid_pending_confirmation",
    "paid_at": "2026-11-13T10:00:00.000Z",
    "created_at": "2026-11-12T10:00:00.000Z",
}


@pytest.fixture
def ida(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(IDA))


@pytest.fixture
def olu(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(OLU))


@pytest.fixture
def mae(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(MAE))


def answer(r: Any) -> tuple[int, Any]:
    return r.status_code, r.json()


# ------------------------------------------------------------------ reads
def test_the_open_ones_newest_first_incoming_when_the_caller_acts_next(
    ida: Api, olu: Api, mae: Api, tokens: Tokens
) -> None:
    assert answer(ida("GET", "pending_payments")) == (200, {"incoming": [PP_2], "outgoing": []})
    assert answer(olu("GET", "pending_payments/")) == (200, {"incoming": [], "outgoing": [PP_3, PP_2]})
    assert answer(mae("GET", "pending_payments")) == (200, {"incoming": [PP_3], "outgoing": []})
    # Every token kind reads the same (an auth.foaf.io RS256 token for Ida).
    rs = Api(Client(), tokens.rs256())
    assert rs("GET", "pending_payments").json() == {"incoming": [PP_2], "outgoing": []}
    assert Client().get("/v1/pending_payments").status_code == 401


# ------------------------------------------------------------------ create
def test_create_a_payment_and_a_request(ida: Api, mae: Api) -> None:
    status, made = answer(ida("POST", "pending_payments", {"trustline_id": 2, "amount": "12.5", "description": "hay"}))
    assert status == 201
    assert made["id"] == 5 and isinstance(made["created_at"], str) and made["created_at"].endswith("Z")
    assert {k: v for k, v in made.items() if k not in ("id", "created_at")} == {
        "kind": "payment",
        "from_user": {"id": 2, "name": "idaquist2"},
        "to_user": {"id": 4, "name": "maetremblay4"},
        "trustline_id": 2,
        "amount": 12.5,
        "description": "hay",
        "status": "pending",
        "paid_at": None,
    }
    assert balance(2) == 3000  # nothing moves until Mae confirms
    request = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 4, "kind": "request"}).json()
    assert request["kind"] == "request" and request["description"] is None
    other = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 4, "kind": "Request"}).json()
    assert other["kind"] == "payment"  # "request" only if exactly that
    # Form fields as Rails takes them.
    form = ida.client.post(
        "/v1/pending_payments", {"trustline_id": "2", "amount": "1"}, headers={"Authorization": f"Bearer {ida.token}"}
    )
    assert form.status_code == 201 and form.json()["amount"] == 1.0
    assert [p["id"] for p in mae("GET", "pending_payments").json()["incoming"]] == [form.json()["id"], 7, 6, 5, 3]


def test_create_errors(ida: Api) -> None:
    for line in (3, 999, "abc", None):  # not the caller's, unknown, not an id, missing
        assert answer(ida("POST", "pending_payments", {"trustline_id": line, "amount": 5})) == (
            404,
            {"errors": ["Trustline not found"]},
        )
    for amount, errors in (
        (0, ["Amount must be greater than 0"]),
        (-3, ["Amount must be greater than 0"]),
        ("abc", ["Amount is not a number"]),
        (None, ["Amount can't be blank", "Amount is not a number"]),
        ("", ["Amount can't be blank", "Amount is not a number"]),
    ):
        assert answer(ida("POST", "pending_payments", {"trustline_id": 1, "amount": amount})) == (
            422,
            {"errors": errors},
        )
    assert m.PendingPayment.objects.count() == 4


def test_create_replayed_with_an_idempotency_key_is_made_once(ida: Api) -> None:
    body = {"trustline_id": 1, "amount": 3, "description": "eggs"}
    first = ida("POST", "pending_payments", body, **{"Idempotency-Key": "pp-1"})
    again = ida("POST", "pending_payments", body, **{"Idempotency-Key": "pp-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert m.PendingPayment.objects.count() == 5
    reused = ida("POST", "pending_payments", {**body, "amount": 4}, **{"Idempotency-Key": "pp-1"})
    assert answer(reused) == (422, {"errors": ["Idempotency-Key was already used for another request"]})
    ida("POST", "pending_payments", body)
    ida("POST", "pending_payments", body)
    assert m.PendingPayment.objects.count() == 7  # without a key, two requests are two (as in Rails)


# ------------------------------------------------------------------ :id, who may
def test_unknown_is_404_and_a_stranger_403_on_every_action(ida: Api) -> None:
    for method, path in (
        ("PUT", "confirm"),
        ("PATCH", "confirm"),
        ("PUT", "reject"),
        ("PUT", "mark_paid"),
    ):
        assert answer(ida(method, f"pending_payments/999/{path}")) == (404, NOT_FOUND)
        assert answer(ida(method, f"pending_payments/abc/{path}")) == (404, NOT_FOUND)
        assert answer(ida(method, f"pending_payments/3/{path}")) == (403, NOT_AUTHORIZED)  # Mae and Olu's
        assert answer(ida(method, f"pending_payments/1/{path}")) == (403, NOT_AUTHORIZED)  # Mae and Zoë's
    assert answer(ida("DELETE", "pending_payments/999")) == (404, NOT_FOUND)
    assert answer(ida("DELETE", "pending_payments/3")) == (403, NOT_AUTHORIZED)
    assert m.PendingPayment.objects.get(pk=3).status == 4
    # A verb the path lacks is Rails' routing 404.
    assert answer(ida("GET", "pending_payments/2/confirm")) == (404, {"status": 404, "error": "Not Found"})


# ------------------------------------------------------------------ confirm
def test_an_imported_pending_payment_confirmed_is_the_countersignature(ida: Api, olu: Api) -> None:
    assert answer(olu("PUT", "pending_payments/2/confirm")) == (403, {"errors": ["Not your turn to confirm"]})
    r = ida("PUT", "pending_payments/2/confirm")
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Payment confirmed"
    assert body["pending_payment"] == {**PP_2, "status": "confirmed"}
    op = body["operation"]
    assert (op["transaction_type"], op["direction"], op["write_state"]) == ("payment", "received", "posted")
    assert op["idempotency_key"] == f"growoperative:trustline_transaction:{op['buffer_id']}"
    assert op["posted_at"].endswith("Z") and op["foaf_operation_id"] is not None and op["write_error"] is None
    # Only now does the payer's debt fall: Olu owed Ida 40, now 15.
    assert balance(1) == -1500
    assert body["foaf_state"]["current_balance"] == -15.0
    assert body["foaf_state"]["other_user"] == {"id": 3, "name": "olubergstrom3"}
    # The state is Olu's settlement, proposed by Olu's side (B) and countersigned by Ida's (A).
    entry = StateEntry.objects.get(pk=op["foaf_operation_id"])
    state = services.entry_from_row(entry).state
    assert state.update.proposer == "b" and state.update.op == core.Settlement("b", 2500, "settle up")
    assert entry.sig_a and entry.sig_b
    signed = m.SignatureOnBehalf.objects.filter(state_hash=entry.state_hash)
    assert sorted((s.member_legacy_id, s.what, s.role) for s in signed) == [
        (IDA, "update", "requester"),
        (OLU, "update", "counterparty"),
    ]
    # A replay (the answer was lost) gets the same write; nothing is settled twice.
    again = ida("PUT", "pending_payments/2/confirm")
    assert again.status_code == 200 and again.json()["operation"] == op
    assert balance(1) == -1500 and m.LegacyWrite.objects.count() == 1
    # Resolved: no longer listed; nobody's turn; the initiator cannot cancel it.
    assert ida("GET", "pending_payments").json() == {"incoming": [], "outgoing": []}
    assert answer(olu("PUT", "pending_payments/2/confirm")) == (403, {"errors": ["Not your turn to confirm"]})
    assert answer(ida("PUT", "pending_payments/2/reject")) == (403, {"errors": ["Not your turn to reject"]})
    assert answer(olu("DELETE", "pending_payments/2")) == (422, {"errors": ["Cannot cancel a resolved payment"]})


def test_an_imported_request_marked_paid_confirmed_by_the_creditor(mae: Api, olu: Api) -> None:
    r = mae("PUT", "pending_payments/3/confirm")
    assert r.status_code == 200 and r.json()["pending_payment"] == {**PP_3, "status": "confirmed"}
    assert balance(3) == 4500  # Olu (A) owed Mae 75, paid 30 in cash
    assert r.json()["foaf_state"]["other_user"] == {"id": 3, "name": "olubergstrom3"}


def test_a_request_end_to_end(ida: Api, mae: Api) -> None:
    made = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 12.5, "kind": "request"}).json()
    path = f"pending_payments/{made['id']}"
    assert [p["id"] for p in mae("GET", "pending_payments").json()["incoming"]] == [made["id"], 3]
    assert answer(ida("PUT", f"{path}/confirm")) == (403, {"errors": ["Not your turn to confirm"]})
    assert answer(mae("PUT", f"{path}/confirm")) == (422, {"errors": ["Request not awaiting confirmation"]})
    assert answer(ida("PUT", f"{path}/mark_paid")) == (
        403,
        {"errors": ["Only the debtor on a request can mark it paid"]},
    )
    r = mae("PUT", f"{path}/mark_paid")
    assert r.status_code == 200 and r.json()["message"] == "Marked as paid"
    paid = r.json()["pending_payment"]
    assert paid["status"] == "paid_pending_confirmation" and paid["paid_at"].endswith("Z")
    assert answer(mae("PUT", f"{path}/mark_paid")) == (422, {"errors": ["Payment is not pending"]})
    assert balance(2) == 3000  # marking paid moves nothing
    assert [p["id"] for p in ida("GET", "pending_payments").json()["incoming"]] == [made["id"], 2]
    assert [p["id"] for p in mae("GET", "pending_payments").json()["outgoing"]] == [made["id"]]
    r = ida("PUT", f"{path}/confirm")
    assert r.status_code == 200 and r.json()["pending_payment"]["status"] == "confirmed"
    assert balance(2) == 4250  # Mae (B) paid Ida 12.50 in cash: Mae is owed less
    entry = StateEntry.objects.get(pk=r.json()["operation"]["foaf_operation_id"])
    update = services.entry_from_row(entry).state.update
    assert update.proposer == "b"
    assert update.op == core.Settlement("b", 1250, "Cash settlement from maetremblay4 to idaquist2")
    # Mark paid on a payment: only the debtor on a request.
    pay = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 1}).json()
    assert answer(mae("PUT", f"pending_payments/{pay['id']}/mark_paid")) == (
        403,
        {"errors": ["Only the debtor on a request can mark it paid"]},
    )


def test_a_confirm_the_ledger_refuses_is_422_and_stays_open(ida: Api, mae: Api) -> None:
    """Ida pays Mae 100 on line #2: Mae would owe Ida 70, past the 50 Ida lets her owe."""
    made = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 100}).json()
    r = mae("PUT", f"pending_payments/{made['id']}/confirm")
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == "FOAF rejected the write"
    assert body["errors"] == [body["operation"]["write_error"]["error"]] and body["errors"][0]
    assert body["operation"]["write_state"] == "rejected" and body["pending_payment"]["status"] == "pending"
    assert balance(2) == 3000
    assert [p["id"] for p in mae("GET", "pending_payments").json()["incoming"]] == [made["id"], 3]
    # Ida lowers nothing, but Mae can still answer: reject it.
    r = mae("PUT", f"pending_payments/{made['id']}/reject", {"reason": "too much"})
    assert r.status_code == 200 and r.json()["pending_payment"]["status"] == "rejected"


# ------------------------------------------------------------------ reject, cancel
def test_reject_is_a_signed_bilateral_reject(ida: Api, olu: Api) -> None:
    assert answer(olu("PUT", "pending_payments/2/reject")) == (403, {"errors": ["Not your turn to reject"]})
    r = ida("PUT", "pending_payments/2/reject", {"reason": "already paid"})
    assert answer(r) == (200, {"message": "Payment rejected", "pending_payment": {**PP_2, "status": "rejected"}})
    row = m.PendingPayment.objects.get(pk=2)
    assert row.rejected_reason == "already paid" and row.resolved_at is not None
    assert balance(1) == -4000
    action = m.PendingPaymentAction.objects.get(pending_payment_id=2, action="reject")
    proposal = core.decode(action.proposal.encode())
    reject = core.decode(action.reject.encode())
    assert isinstance(proposal, core.Proposal) and isinstance(reject, core.Reject)
    assert proposal.state.update.proposer == "b" and proposal.state.update.op == core.Settlement("b", 2500, "settle up")
    assert (reject.state_hash, reject.rejector, reject.reason) == (proposal.state.hash_hex, "a", "DECLINED")
    ida_key = services.party_signer(m.Member.objects.get(pk=IDA).party).public_key
    core.crypto.verify(ida_key, reject.signing_message, bytes.fromhex(reject.sig))
    assert sorted(
        m.SignatureOnBehalf.objects.filter(state_hash=proposal.state.hash_hex).values_list("member_legacy_id", "what")
    ) == [(IDA, "reject"), (OLU, "proposal")]
    assert not StateEntry.objects.filter(state_hash=proposal.state.hash_hex).exists()  # never appended
    assert answer(ida("PUT", "pending_payments/2/reject")) == (403, {"errors": ["Not your turn to reject"]})


def test_the_debtor_rejects_a_request_nobody_offered_to_pay_yet(ida: Api, mae: Api) -> None:
    made = ida("POST", "pending_payments", {"trustline_id": 2, "amount": 2, "kind": "request"}).json()
    r = mae("PUT", f"pending_payments/{made['id']}/reject")
    assert r.status_code == 200 and r.json()["pending_payment"]["status"] == "rejected"
    action = m.PendingPaymentAction.objects.get(pending_payment_id=made["id"], action="reject")
    assert action.proposal == "" and action.reject == ""  # nothing was offered: nothing to sign


def test_cancel_by_the_initiator_while_open(ida: Api, olu: Api, mae: Api) -> None:
    assert answer(ida("DELETE", "pending_payments/2")) == (403, {"errors": ["Only the initiator can cancel"]})
    assert answer(olu("DELETE", "pending_payments/2")) == (200, {"message": "Payment cancelled"})
    assert answer(olu("DELETE", "pending_payments/2")) == (422, {"errors": ["Cannot cancel a resolved payment"]})
    assert answer(ida("PUT", "pending_payments/2/confirm")) == (403, {"errors": ["Not your turn to confirm"]})
    # A request already marked paid may still be withdrawn by its creditor.
    assert answer(mae("DELETE", "pending_payments/3/")) == (200, {"message": "Payment cancelled"})
    assert answer(ida("DELETE", "pending_payments/4")) == (422, {"errors": ["Cannot cancel a resolved payment"]})
    assert balance(1) == -4000 and balance(3) == 7500


# ------------------------------------------------------------------ a member holding their own key
def test_the_payer_holding_their_own_key_countersigns_on_their_device(ida: Api, olu: Api) -> None:
    """Olu claimed his key. Ida confirms his imported payment: the service never signs for him, so
    Ida's side proposes the settlement to Olu's device (relay mailbox), 202 and confirmed; his
    device's accept posts it."""
    device = _claim(m.Member.objects.select_related("party").get(pk=OLU))
    before = m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count()
    r = ida("PUT", "pending_payments/2/confirm")
    assert r.status_code == 202
    body = r.json()
    assert body["message"] == "Write buffered pending FOAF reconciliation"
    assert body["operation"]["write_state"] == "buffered" and body["pending_payment"]["status"] == "confirmed"
    assert balance(1) == -4000
    assert m.SignatureOnBehalf.objects.filter(member_legacy_id=OLU).count() == before
    proposal = PendingProposal.objects.get(status="open")
    assert proposal.proposer == "a"
    run_deliveries(int(time.time()))
    olu_party = m.Member.objects.get(pk=OLU).party
    assert MailboxMessage.objects.filter(recipient=olu_party.public_key).count() == 1
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    now = int(time.time())
    device_party = core.Party.restore(
        device, list(services.log_entries(rel)), now=now, operator_keys=django_settings.OPERATOR_KEYS
    )
    device_party.receive(services.proposal_of(proposal).encode(), now=now)
    accept = device_party.accept(now=now)
    hosting.step(m.Member.objects.get(pk=IDA).party, lambda w: w.receive(accept, now=now), now=now)
    assert balance(1) == -1500
    again = ida("PUT", "pending_payments/2/confirm")
    assert again.status_code == 200 and again.json()["operation"]["buffer_id"] == body["operation"]["buffer_id"]
    assert again.json()["operation"]["write_state"] == "posted" and balance(1) == -1500


def test_a_confirm_refused_on_the_device_reopens_the_pending_payment(ida: Api, olu: Api) -> None:
    """Olu (own key) is the payee of Ida's new payment on line #1: his confirm is a proposal from
    Ida's hosted side to his device (202, confirmed); his device rejects it, so the payment is
    open again and can be confirmed anew."""
    device = _claim(m.Member.objects.select_related("party").get(pk=OLU))
    made = ida("POST", "pending_payments", {"trustline_id": 1, "amount": 5}).json()
    r = olu("PUT", f"pending_payments/{made['id']}/confirm")
    assert r.status_code == 202 and r.json()["pending_payment"]["status"] == "confirmed"
    first = r.json()["operation"]["buffer_id"]
    proposal = PendingProposal.objects.get(status="open")
    assert proposal.proposer == "a"  # Ida, the payer, proposes; Olu's device is asked to countersign
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    now = int(time.time())
    device_party = core.Party.restore(
        device, list(services.log_entries(rel)), now=now, operator_keys=django_settings.OPERATOR_KEYS
    )
    device_party.receive(services.proposal_of(proposal).encode(), now=now)
    refusal = device_party.reject("DECLINED", now=now)
    hosting.step(m.Member.objects.get(pk=IDA).party, lambda w: w.receive(refusal, now=now), now=now)
    listed = olu("GET", "pending_payments").json()["incoming"]
    assert [(p["id"], p["status"]) for p in listed] == [(made["id"], "pending")]
    r = olu("PUT", f"pending_payments/{made['id']}/confirm")  # a new attempt, a new proposal
    assert r.status_code == 202 and r.json()["operation"]["buffer_id"] != first
    assert ida("GET", f"foaf/writes/{first}").status_code == 404  # Olu's write, not Ida's
    assert olu("GET", f"foaf/writes/{first}").json()["operation"]["write_state"] == "rejected"
    assert m.PendingPaymentAction.objects.filter(pending_payment_id=made["id"], action="confirm").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_confirms_at_once_settle_once(imported: dict[int, m.Member], tokens: Tokens) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    token = tokens.v1(IDA)
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        try:
            barrier.wait()
            answers.append(Api(Client(), token)("PUT", "pending_payments/2/confirm"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["operation"] == answers[1].json()["operation"]
    assert balance(1) == -1500
    assert m.LegacyWrite.objects.count() == 1
