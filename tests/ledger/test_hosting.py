"""Multi-hop payments and credit loops between members whose keys the service holds, stored in
the ledger and driven by the same delivery and clock functions the Celery tasks run."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from foaf import bilateral as core
from foaf.ledger import hosting, services
from foaf.ledger.models import Delivery, Party, PendingProposal, Relationship, RouteNode
from foaf.routing.errors import RouteError

pytestmark = pytest.mark.django_db
NOW = int(time.time())


def community(names: str, *, limit: int = 10_000) -> tuple[dict[str, Party], dict[str, Relationship]]:
    parties = {n: services.party_create_with_held_key(display_name=n) for n in names}
    rels = {}
    for x, y in itertools.pairwise(names):
        rels[x + y] = services.relationship_open_custodial(
            parties[x], parties[y], limit_a_to_b=limit, limit_b_to_a=limit, currency="CAD", now=NOW - 60
        )
    return parties, rels


def run_deliveries(now: int, budget: int = 500) -> int:
    """What the worker does: deliver every due message until none is left."""
    done = 0
    while budget:
        due = hosting.deliveries_due(now=now)
        if not due:
            return done
        for pk in due:
            hosting.delivery_run(pk, now=now)
            done += 1
        budget -= 1
    raise AssertionError("deliveries never settled")


def progress_of(route_hash: str) -> dict[str, Any]:
    progress = hosting.payment_progress(route_hash)
    assert progress is not None
    return progress


def head(rel: Relationship) -> core.State:
    rel.refresh_from_db()
    return services.head_state(rel)


def owes(rel: Relationship, party: Party) -> int:
    rel.refresh_from_db()
    return rel.balance if rel.party_a_id == party.pk else -rel.balance


def test_a_four_hop_payment_between_hosted_members_settles_every_hop() -> None:
    p, rels = community("abcde")
    started = hosting.payment_start(p["a"], p["e"], 700, "CAD", now=NOW)
    assert started.hops == 4
    run_deliveries(NOW)
    progress = hosting.payment_progress(started.route_hash)
    assert progress is not None
    assert progress["outcome"] == "settled"
    assert [h["status"] for h in progress["hops"]] == ["settled"] * 4
    for x, y in ("ab", "bc", "cd", "de"):
        assert owes(rels[x + y], p[x]) == 700
        head(rels[x + y])  # the log verifies
        assert head(rels[x + y]).holds == ()
    assert not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists()
    assert not PendingProposal.objects.filter(status=PendingProposal.Status.OPEN).exists()


def test_a_hop_that_cannot_carry_the_amount_cancels_every_hold() -> None:
    p, rels = community("abcd")
    services.update_custodial(
        rels["cd"], core.SetLimit("a_to_b", 100), proposer="b", now=NOW - 30, nonce="0" * 31 + "1"
    )  # d lets c owe it only 100 now
    with pytest.raises(RouteError):  # the router already knows the limit: no route
        hosting.payment_start(p["a"], p["d"], 500, "CAD", now=NOW)


def test_a_refused_hold_downstream_cancels_upstream_and_the_payer_learns_why() -> None:
    p, rels = community("abcd")
    started = hosting.payment_start(p["a"], p["d"], 500, "CAD", now=NOW)
    # Before c's offer reaches d, d's limit to c drops (a relationship change the router did not see).
    services.update_custodial(rels["cd"], core.SetLimit("a_to_b", 100), proposer="b", now=NOW, nonce="0" * 31 + "2")
    run_deliveries(NOW)
    progress = hosting.payment_progress(started.route_hash)
    assert progress is not None
    assert progress["outcome"] == "cancelled"
    assert progress["reason"] == "LIMIT_EXCEEDED"
    for x, y in ("ab", "bc", "cd"):
        assert owes(rels[x + y], p[x]) == 0
        assert head(rels[x + y]).holds == ()


def test_a_delivery_run_twice_changes_nothing_the_second_time() -> None:
    p, rels = community("abc")
    started = hosting.payment_start(p["a"], p["c"], 300, "CAD", now=NOW)
    first = hosting.deliveries_due(now=NOW)
    run_deliveries(NOW)
    for pk in first:  # replay: as if the worker had died after delivering, before acking
        Delivery.objects.filter(pk=pk).update(status=Delivery.Status.PENDING)
    run_deliveries(NOW)
    assert progress_of(started.route_hash)["outcome"] == "settled"
    assert owes(rels["ab"], p["a"]) == 300 and owes(rels["bc"], p["b"]) == 300


def test_the_clock_cancels_a_route_whose_next_party_never_answers() -> None:
    p, rels = community("abcd")
    started = hosting.payment_start(p["a"], p["d"], 400, "CAD", now=NOW)
    # Deliver only until c has offered its hold to d; d's answers are lost.
    for _ in range(20):
        due = list(Delivery.objects.filter(status=Delivery.Status.PENDING).order_by("pk"))
        if not due:
            break
        for row in due:
            if row.recipient_id == p["d"].party_id:
                Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.FAILED)
            else:
                hosting.delivery_run(row.pk, now=NOW)
    assert head(rels["bc"]).holds  # b -> c held, c -> d only offered
    later = NOW + 3 * 600 + 1  # past the c -> d hold's expiry
    for t in (later, later + 60, later + 120):
        hosting.wallets_tick(now=t)
        run_deliveries(t)
    assert progress_of(started.route_hash)["outcome"] == "cancelled"
    for x, y in ("ab", "bc"):
        assert head(rels[x + y]).holds == ()
        assert owes(rels[x + y], p[x]) == 0
    assert RouteNode.objects.filter(party=p["a"], index=0, outcome="cancelled").exists()


def test_a_credit_loop_cancels_debt_on_every_hop() -> None:
    p, rels = community("abc")
    ca = services.relationship_open_custodial(
        p["c"], p["a"], limit_a_to_b=10_000, limit_b_to_a=10_000, currency="CAD", now=NOW - 50
    )
    # b owes a 300, c owes b 300, a owes c 300: a loop of debt.
    services.update_custodial(rels["ab"], core.Payment("b", 300, ""), proposer="b", now=NOW - 40, nonce="1" * 32)
    services.update_custodial(rels["bc"], core.Payment("b", 300, ""), proposer="b", now=NOW - 40, nonce="2" * 32)
    services.update_custodial(ca, core.Payment("b", 300, ""), proposer="b", now=NOW - 40, nonce="3" * 32)
    ids = (p["a"].party_id, p["b"].party_id, p["c"].party_id, p["a"].party_id)
    started = hosting.loop_start(p["a"], 200, "CAD", ids, now=NOW)
    run_deliveries(NOW)
    assert progress_of(started.route_hash)["outcome"] == "settled"
    assert owes(rels["ab"], p["b"]) == 100
    assert owes(rels["bc"], p["c"]) == 100
    assert owes(ca, p["a"]) == 100


def test_a_delivery_that_cannot_be_made_backs_off_then_fails_with_its_reason() -> None:
    p, _ = community("ab")
    row = Delivery.objects.create(
        sender_id=p["a"].party_id, recipient_id="ab" * 32, data="{}", next_attempt_at=services.unix_to_datetime(NOW)
    )
    assert hosting.delivery_run(row.pk, now=NOW) == "retry"
    row.refresh_from_db()
    assert row.status == Delivery.Status.PENDING and row.attempts == 1 and "no_mailbox" in row.last_error
    assert row.next_attempt_at > services.unix_to_datetime(NOW)
    assert hosting.deliveries_due(now=NOW) == []  # backing off
    Delivery.objects.filter(pk=row.pk).update(created_at=services.unix_to_datetime(NOW - 7 * 3600))
    assert hosting.delivery_run(row.pk, now=NOW + 10) == "failed"
    assert hosting.delivery_run(row.pk, now=NOW + 20) == "done"  # a rerun leaves it alone


# --- a real worker --------------------------------------------------------------------------------
def wait_for(check: Any, worker: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out; worker log:\n{worker.output()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_carries_a_payment_to_settlement(celery_worker: Any) -> None:
    p, rels = community("abcd")
    started = hosting.payment_start(p["a"], p["d"], 250, "CAD", now=int(time.time()))
    wait_for(lambda: progress_of(started.route_hash)["outcome"] == "settled", celery_worker)
    wait_for(lambda: progress_of(started.route_hash)["hops"][0]["status"] == "settled", celery_worker)
    for x, y in ("ab", "bc", "cd"):
        assert owes(rels[x + y], p[x]) == 250


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_payment_loses_and_repeats_nothing(celery_worker: Any) -> None:
    from foaf.ledger.tasks import deliver_due

    p, rels = community("abcdef")
    started = hosting.payment_start(p["a"], p["f"], 120, "CAD", now=int(time.time()))
    wait_for(lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(), celery_worker)
    celery_worker.kill9()  # somewhere in the middle of the route
    celery_worker.start()
    deliver_due.delay()  # what beat does every ROUTING_TICK_SECONDS
    wait_for(lambda: progress_of(started.route_hash)["outcome"] == "settled", celery_worker)
    for x, y in ("ab", "bc", "cd", "de", "ef"):
        assert owes(rels[x + y], p[x]) == 120
        assert head(rels[x + y]).holds == ()
        assert head(rels[x + y]).seq == 2  # one hold, one release: nothing applied twice


def test_cancel_loops_finds_a_loop_of_debt_settles_it_and_reports_what_it_cancelled() -> None:
    from django.core.management import call_command

    p, rels = community("abc")
    ca = services.relationship_open_custodial(
        p["c"], p["a"], limit_a_to_b=10_000, limit_b_to_a=10_000, currency="CAD", now=NOW - 50
    )
    # b owes a 300, c owes b 250, a owes c 400: the loop a -> b -> c -> a can cancel 250 per hop.
    services.update_custodial(rels["ab"], core.Payment("b", 300, ""), proposer="b", now=NOW - 40, nonce="4" * 32)
    services.update_custodial(rels["bc"], core.Payment("b", 250, ""), proposer="b", now=NOW - 40, nonce="5" * 32)
    services.update_custodial(ca, core.Payment("b", 400, ""), proposer="b", now=NOW - 40, nonce="6" * 32)
    started = hosting.loops_cancel(currency="CAD", now=NOW)
    assert len(started.started) == 1 and started.offered == 750
    assert hosting.loops_cancel(currency="CAD", now=NOW).started == []  # its members are busy
    run_deliveries(NOW)
    assert owes(rels["ab"], p["b"]) == 50 and owes(rels["bc"], p["c"]) == 0 and owes(ca, p["a"]) == 150
    report = hosting.loops_report()
    assert report["settled"] == 1 and report["debt_cancelled"] == {"CAD": 750}
    assert hosting.loops_cancel(currency="CAD", now=NOW + 1).started == []  # no loop of debt left
    from io import StringIO

    out = StringIO()
    call_command("cancel_loops", "--report", "--json", stdout=out)
    assert json.loads(out.getvalue())["debt_cancelled"] == {"CAD": 750}
