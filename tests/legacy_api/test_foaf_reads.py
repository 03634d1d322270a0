"""``/v1/foaf/trustlines*``, ``/v1/admin/credit_loops*`` and ``/v1/subnets/:id/graph`` as API.md
states them, on the imported demo dump with real tokens (docs/legacy-api.md says what each means).

The dump: Ida (2) is A on #1 with Olu (3) (Olu owes Ida 40) and on #2 with Mae (4) (Ida owes 30);
#3 Olu-Mae (Olu owes Mae 75) is not Ida's. Admin (1) is the superuser (user_groups label 7).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from foaf.ledger import hosting
from foaf.ledger.models import Relationship, Route
from migration import models as m
from tests.legacy_api.conftest import ADMIN, IDA, Tokens
from tests.legacy_api.test_trustlines import Api

pytestmark = pytest.mark.django_db

OLU, MAE = 3, 4


@pytest.fixture
def ida(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(IDA))


@pytest.fixture
def olu(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(OLU))


@pytest.fixture
def mae(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(MAE))


@pytest.fixture
def admin(imported: dict[int, m.Member], tokens: Tokens) -> Api:
    return Api(Client(), tokens.v1(ADMIN))


ROW_1 = {
    "trustline_id": 1,
    "user_a": "idaquist2",
    "user_b": "olubergstrom3",
    "app": {"credit_limit_a_to_b": 100.0, "credit_limit_b_to_a": 100.0, "balance": -40.0},
    "foaf": {
        "credit_limit_a_to_b": 100.0,
        "credit_limit_b_to_a": 100.0,
        "balance": -40.0,
        "raw": {"given": 100.0, "received": 100.0, "balance": 40.0},
    },
    "match": True,
    "discrepancies": [],
}


# ------------------------------------------------------------------ FOAF reads
def test_foaf_trustlines_compare_the_rails_columns_with_the_bilateral_heads(ida: Api) -> None:
    r = ida("GET", "foaf/trustlines")
    assert r.status_code == 200
    body = r.json()
    assert body["summary"] == {"total": 2, "matches": 2, "discrepancies": 0, "unlinked": 0}
    assert [row["trustline_id"] for row in body["trustlines"]] == [1, 2]
    assert body["trustlines"][0] == ROW_1
    assert ida("GET", "foaf/trustlines/1").json() == ROW_1


def test_a_payment_moves_the_bilateral_state_away_from_the_rails_column(ida: Api) -> None:
    assert ida("POST", "trustlines/1/payment", {"amount": 12.5, "description": "seedlings"}).status_code == 200
    row = ida("GET", "foaf/trustlines/1").json()
    assert row["match"] is False
    assert row["foaf"]["balance"] == -27.5 and row["foaf"]["raw"]["balance"] == 27.5
    assert row["discrepancies"] == [{"field": "balance", "app": -40.0, "foaf": -27.5}]
    summary = ida("GET", "foaf/trustlines").json()["summary"]
    assert summary == {"total": 2, "matches": 1, "discrepancies": 1, "unlinked": 0}


def test_a_line_without_a_relationship_is_not_found_in_foaf(ida: Api) -> None:
    line = m.Trustline.objects.get(legacy_id=2)
    line.relationship = None
    line.save(update_fields=["relationship"])
    row = ida("GET", "foaf/trustlines/2").json()
    assert row["foaf"] is None and row["match"] is False
    assert row["discrepancies"] == [{"field": "trustline", "error": "Not found in FOAF"}]
    assert ida("GET", "foaf/trustlines/2/events").json() == {
        "rows": [],
        "warning": "One or both users have no FOAF address",
    }


@pytest.mark.parametrize("path", ["foaf/trustlines/{}", "foaf/trustlines/{}/events"])
def test_foaf_read_gates_in_rails_order(ida: Api, settings: Any, path: str) -> None:
    assert ida("GET", path.format(999)).json() == {"error": "Trustline not found"}
    assert ida("GET", path.format(999)).status_code == 404
    assert ida("GET", path.format("abc")).status_code == 404
    r = ida("GET", path.format(3))  # Olu-Mae: exists, not Ida's
    assert r.status_code == 403 and r.json() == {"error": "You don't have access to this trustline"}
    assert ida("GET", path.format(4)).status_code == 403  # inactive, not Ida's
    settings.LEGACY_FOAF_READS_ENABLED = False
    assert ida("GET", path.format(999)).status_code == 404  # before the switch
    assert ida("GET", path.format(3)).status_code == 403
    r = ida("GET", path.format(1))
    assert r.status_code == 400 and r.json() == {"error": "FOAF publishing is not enabled"}


def test_these_reads_need_a_token(api: Client, imported: dict[int, m.Member]) -> None:
    for path in ("foaf/trustlines", "foaf/trustlines/1", "foaf/trustlines/1/events", "admin/credit_loops"):
        r = api.get(f"/v1/{path}")
        assert r.status_code == 401 and r.content == b""
    assert api.get("/v1/subnets/1/graph").status_code == 401


def test_foaf_trustlines_list_off(ida: Api, settings: Any) -> None:
    settings.LEGACY_FOAF_READS_ENABLED = False
    r = ida("GET", "foaf/trustlines")
    assert r.status_code == 400 and r.json() == {"error": "FOAF publishing is not enabled"}


def test_events_are_the_imported_history_then_the_bilateral_log_newest_first(ida: Api, olu: Api) -> None:
    rows = ida("GET", "foaf/trustlines/1/events").json()["rows"]
    # The imported history of #1: rows 1, 2, 3, 11 (legacy ids), Ida's side (> 0: Ida owes).
    assert [r["transaction"]["id"] for r in rows] == [11, 3, 2, 1]
    assert {r["source"] for r in rows} == {"imported_history"}
    oldest = rows[-1]
    assert oldest["balance_before"] == 0.0 and oldest["transaction"]["balance_after"] == 20.0
    assert oldest["transaction"]["initiated_by_id"] == IDA
    assert oldest["transaction"]["initiated_by_name"] == "idaquist2"
    assert oldest["transaction"]["transaction_type"] == "payment"
    assert oldest["source_classification"] == "direct_payment"
    assert oldest["transaction"]["created_at"] == "2025-07-20T10:00:00+00:00"
    assert rows[0]["transaction"]["balance_after"] == -40.0
    assert not any(r["balance_mismatch"] for r in rows)

    assert ida("POST", "trustlines/1/payment", {"amount": 12.5, "description": "seedlings"}).status_code == 200
    assert ida("PUT", "trustlines/1", {"credit_limit_b_to_a": 150}).status_code == 200  # Ida's own limit
    assert olu("POST", "trustlines/1/record_debt", {"amount": 5, "description": "jam jars"}).status_code == 200

    rows = ida("GET", "foaf/trustlines/1/events").json()["rows"]
    debt, limits, payment = rows[0], rows[1], rows[2]
    rel = Relationship.objects.get(legacy_trustline__legacy_id=1)
    assert debt["transaction"]["id"] == rel.head_seq and debt["source"] == "ledger"
    assert payment["transaction"] | {"created_at": None, "id": None} == {
        "id": None,
        "trustline_id": 1,
        "amount": 12.5,
        "description": "seedlings",
        "transaction_type": "payment",
        "initiated_by_id": IDA,
        "originating_request_id": None,
        "order_id": None,
        "balance_after": -27.5,
        "is_reversed": False,
        "created_at": None,
        "initiated_by_name": "idaquist2",
        "order_label": None,
        "path_info": None,
    }
    assert payment["balance_before"] == -40.0 and payment["balance_mismatch"] is False
    assert payment["transaction"]["created_at"].endswith("+00:00")
    assert limits["transaction"]["amount"] == 0.0
    assert limits["transaction"]["description"] == "Limits updated (given: $150.0, received: $100.0)"
    assert limits["transaction"]["transaction_type"] == "adjustment"
    assert limits["balance_before"] == limits["transaction"]["balance_after"] == -27.5
    assert debt["transaction"]["transaction_type"] == "adjustment"
    assert debt["source_classification"] == "adjustment"
    assert debt["transaction"]["initiated_by_id"] == OLU
    assert debt["transaction"]["description"] == "jam jars"
    assert debt["transaction"]["balance_after"] == -32.5  # Olu owes Ida 32.50
    # Olu sees the same rows from his side.
    olu_rows = olu("GET", "foaf/trustlines/1/events").json()["rows"]
    assert [r["transaction"]["id"] for r in olu_rows] == [r["transaction"]["id"] for r in rows]
    assert olu_rows[0]["transaction"]["balance_after"] == 32.5


# ------------------------------------------------------------------ credit loops
def _make_a_loop_and_cancel_it(ida: Api, olu: Api, mae: Api) -> Route:
    """Olu owes Ida, Ida owes Mae, Mae owes Olu: a loop of debt of 25 (each line's genesis
    countersigned by its first write)."""
    from tests.ledger.test_hosting import run_deliveries

    assert olu("POST", "trustlines/1/payment", {"amount": 1}).status_code == 200  # Olu owes Ida 41
    assert ida("POST", "trustlines/2/payment", {"amount": 1}).status_code == 200  # Ida owes Mae 31
    assert mae("POST", "trustlines/3/payment", {"amount": 100}).status_code == 200  # Mae owes Olu 25
    now = int(time.time())
    started = hosting.loops_cancel(currency="CAD", now=now)
    assert len(started.started) == 1
    run_deliveries(now)
    return Route.objects.get(route_hash=started.started[0].route_hash)


def test_credit_loops_list_and_show_after_a_loop_is_cancelled(ida: Api, olu: Api, mae: Api, admin: Api) -> None:
    assert admin("GET", "admin/credit_loops").json() == {"credloops": []}
    route = _make_a_loop_and_cancel_it(ida, olu, mae)
    assert hosting.loops_report()["settled"] == 1

    body = admin("GET", "admin/credit_loops?limit=5").json()
    assert len(body["credloops"]) == 1
    loop = body["credloops"][0]
    assert loop["operation_id"] == route.pk
    assert loop["cancellable_amount"] == 25.0 and loop["hop_count"] == 3
    assert loop["detected_at"].endswith("Z")
    assert loop["outcome"] == "settled"
    names = [p["name"] for p in loop["path"]]
    assert len(names) == 4 and names[0] == names[-1]
    assert set(names) == {"idaquist2", "olubergstrom3", "maetremblay4"}

    detail = admin("GET", f"admin/credit_loops/{route.pk}").json()
    assert {k: detail[k] for k in loop} == loop
    assert detail["triggered_by"] is None
    by_line = {h["trustline_id"]: h for h in detail["hops"]}
    assert set(by_line) == {1, 2, 3}
    assert (by_line[1]["debtor"]["name"], by_line[1]["creditor"]["name"]) == ("olubergstrom3", "idaquist2")
    assert (by_line[1]["pre_debt"], by_line[1]["post_debt"]) == (41.0, 16.0)
    assert (by_line[2]["pre_debt"], by_line[2]["post_debt"]) == (31.0, 6.0)
    assert (by_line[3]["pre_debt"], by_line[3]["post_debt"]) == (25.0, 0.0)
    assert by_line[1]["debtor"]["address"] == m.Member.objects.get(legacy_id=OLU).party.party_id

    # The loop on Ida's line with Olu, as Ida's event: offset by her balance with Mae.
    row = ida("GET", "foaf/trustlines/1/events").json()["rows"][0]
    assert row["transaction"]["transaction_type"] == "credloop"
    assert row["source_classification"] == "credloop"
    assert row["transaction"]["description"] == "Offset by your balance with maetremblay4"
    assert row["transaction"]["initiated_by_id"] is None and row["transaction"]["amount"] == 25.0
    assert row["transaction"]["path_info"]["other_user"] == "maetremblay4"
    assert row["transaction"]["path_info"]["other_trustline_id"] == 2
    assert len(row["transaction"]["path_info"]["hops"]) == 4
    assert (row["balance_before"], row["transaction"]["balance_after"]) == (-41.0, -16.0)


def test_credit_loop_errors_and_gates(ida: Api, olu: Api, mae: Api, admin: Api, settings: Any) -> None:
    r = ida("GET", "admin/credit_loops")
    assert r.status_code == 403 and r.json() == {"error": "Superuser access required"}
    assert ida("GET", "admin/credit_loops/1").status_code == 403
    r = admin("GET", "admin/credit_loops/999")
    assert r.status_code == 404 and r.json() == {"error": "Operation not found"}
    assert admin("GET", "admin/credit_loops/abc").json() == {"error": "Operation not found"}
    route = _make_a_loop_and_cancel_it(ida, olu, mae)
    Route.objects.filter(pk=route.pk).update(purpose="payment")
    r = admin("GET", f"admin/credit_loops/{route.pk}")
    assert r.status_code == 404 and r.json() == {"error": f"Operation #{route.pk} is not a credit-loop cancellation"}
    assert admin("GET", "admin/credit_loops?limit=0").json() == {"credloops": []}  # min 1, no loop left
    settings.LEGACY_FOAF_READS_ENABLED = False
    assert ida("GET", "admin/credit_loops").status_code == 403  # superuser check first
    r = admin("GET", "admin/credit_loops")
    assert r.status_code == 400 and r.json() == {"error": "FOAF shadow mode is not enabled"}


# ------------------------------------------------------------------ subnet graph
def test_subnet_graph(ida: Api, admin: Api) -> None:
    r = ida("GET", "subnets/1/graph")
    assert r.status_code == 403 and r.json() == {"message": "Superuser access required"}
    assert admin("GET", "subnets/99/graph").json() == {"status": 404, "error": "Not Found"}
    assert ida("POST", "trustlines/1/payment", {"amount": 12.5}).status_code == 200

    body = admin("GET", "subnets/1/graph").json()
    assert body["subnet_id"] == 1 and body["subnet_name"] == "Crawford Bay"
    nodes = {n["id"]: n for n in body["nodes"]}
    assert set(nodes) == {1, 2, 3, 4, 5, 6, 7}  # demo_8 is in the Demo subnet
    assert nodes[1] == {
        "id": 1,
        "user_name": "admin",
        "name": "Bay Admin",
        "roles": ["admin", "superuser"],
        "parent_id": None,
        "depth": m.Member.objects.get(legacy_id=ADMIN).depth or 0,  # as imported
        "items": [],
    }
    assert nodes[2]["items"] == ["12 duck eggs"] and nodes[2]["parent_id"] == 1
    relationship_edges = [e for e in body["edges"] if e["type"] == "relationship"]
    assert {"source_id": 3, "target_id": 2, "type": "relationship"} in relationship_edges
    assert all(e["source_id"] != 8 and e["target_id"] != 8 for e in body["edges"])
    trust = {(e["source_id"], e["target_id"]): e["balance"] for e in body["edges"] if e["type"] == "trustline"}
    assert trust[(2, 3)] == -27.5  # from the bilateral head, not the Rails column (-40)
    assert trust[(3, 5)] == 60.0  # an inactive line too
    assert len(trust) == 6

    demo = admin("GET", "subnets/2/graph").json()
    assert [n["id"] for n in demo["nodes"]] == [8] and demo["nodes"][0]["roles"] == []
