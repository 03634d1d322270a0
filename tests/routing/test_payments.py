"""Multi-hop payments between wallets over the in-memory network: the all-or-nothing property.

Every scenario checks each hop's balance and open holds at the end, the payer's outcome and the
reports it received. Members are named by role: ``p`` pays, ``q`` is paid, ``m1..m4`` are in the
middle; a channel ``x -> y`` starts at balance 0 with limits of 10 000 unless the test says.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

import pytest

from foaf.bilateral.model import Release
from foaf.routing.messages import Invoice, RouteProposal, RouteStatus
from foaf.routing.node import HopState, Outcome
from foaf.routing.wallet import Wallet
from tests.routing.network import CURRENCY, Network, counter_rng

AMOUNT = 500


def kind(data: bytes) -> str:
    """What a message is: a routing type, a bilateral message type, or a proposal's op type."""
    d = json.loads(data)
    if d.get("type") == "proposal":
        return str(d["state"]["update"]["op"]["type"])
    return str(d.get("type"))


def names_of(hops: int) -> list[str]:
    return ["p", *(f"m{i}" for i in range(1, hops)), "q"]


def line(hops: int, **limits: int) -> tuple[Network, list[str], list[str]]:
    """p -> m1 -> ... -> q; ``limits`` maps "x_y" to the limit of x towards y."""
    net = Network()
    names = names_of(hops)
    chans = [net.connect(x, y, limit_x_to_y=limits.get(f"{x}_{y}", 10_000)) for x, y in pairwise(names)]
    return net, names, chans


def assert_hops(net: Network, names: Sequence[str], chans: Sequence[str], owed: Sequence[int]) -> None:
    """On each hop x -> y: both sides agree on the head, x owes y ``owed[i]``, and no hold is open."""
    for i, ch in enumerate(chans):
        x, y = names[i], names[i + 1]
        hx, hy = net.wallets[x].parties[ch].head, net.wallets[y].parties[ch].head
        assert hx is not None and hy is not None and hx.state.hash_hex == hy.state.hash_hex, f"hop {i}: heads differ"
        assert net.balance(x, ch) == owed[i], f"hop {i} ({x} -> {y})"
        assert net.holds(ch) == 0, f"hop {i} ({x} -> {y}) still holds"


def hop_statuses(net: Network, route: RouteProposal, payer: str = "p") -> list[tuple[str, str]]:
    prog = net.wallets[payer].progress(route.route_hash)
    return [(h["status"], h["reason"]) for h in prog["hops"]]


def outcome(net: Network, payer: str, route: RouteProposal) -> tuple[Outcome, str]:
    w = net.wallets[payer]
    return w.outcome(route.route_hash), w.progress(route.route_hash)["reason"]


def rejects(log: list[tuple[str, str, bytes]]) -> list[tuple[str, str, str]]:
    """(rejector, to, reason) of every bilateral reject in a log of deliveries."""
    return [(frm, to, json.loads(d)["reason"]) for frm, to, d in log if kind(d) == "reject"]


def spy(net: Network) -> list[tuple[str, str, bytes]]:
    log: list[tuple[str, str, bytes]] = []
    previous = net.drop

    def record(frm: str, to: str, data: bytes) -> bool:
        log.append((frm, to, data))
        return previous(frm, to, data) if previous is not None else False

    net.drop = record
    return log


# ---------------------------------------------------------------- payments that settle
def test_direct_payment() -> None:
    net, names, chans = line(1)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    assert_hops(net, names, chans, [AMOUNT])
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")
    assert hop_statuses(net, route) == [("settled", "OK")]
    assert inv.payment in net.wallets["q"].paid
    assert all(not w.refused for w in net.wallets.values())


@pytest.mark.parametrize("hops", [2, 3, 4, 5])
def test_multi_hop_payment_settles(hops: int) -> None:
    net, names, chans = line(hops)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    assert_hops(net, names, chans, [AMOUNT] * hops)
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")
    assert hop_statuses(net, route) == [("settled", "OK")] * hops
    for j, name in enumerate(names):
        node = net.wallets[name].nodes[(route.route_hash, j)]
        assert node.outcome is Outcome.SETTLED
        assert (node.incoming, node.outgoing) == (
            HopState.NONE if j == 0 else HopState.RELEASED,
            HopState.NONE if j == hops else HopState.RELEASED,
        )
    assert all(not w.refused for w in net.wallets.values())


# ---------------------------------------------------------------- refusals: nothing moves
def test_first_party_in_the_middle_refuses_limit_exceeded() -> None:
    """m1 cannot carry 500 to m2 (its limit is 100): it refuses hop 0, nothing is ever held."""
    net, names, chans = line(3, m1_m2=100)
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    assert_hops(net, names, chans, [0, 0, 0])
    assert outcome(net, "p", route) == (Outcome.CANCELLED, "LIMIT_EXCEEDED")
    assert rejects(log) == [("m1", "p", "LIMIT_EXCEEDED")]
    # hop 0 the payer knows first hand (refused before it was held); nobody reported on the others
    assert hop_statuses(net, route) == [("cancelled", "LIMIT_EXCEEDED"), ("proposed", "OK"), ("proposed", "OK")]
    assert (route.route_hash, 1) not in net.wallets["m1"].nodes


def test_party_deeper_in_the_middle_refuses_limit_exceeded() -> None:
    """m2 cannot carry 500 to q: it refuses hop 1; m1 cancels the hold of hop 0 it had countersigned."""
    net, names, chans = line(3, m2_q=100)
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    assert_hops(net, names, chans, [0, 0, 0])
    assert rejects(log) == [("m2", "m1", "LIMIT_EXCEEDED")]
    assert outcome(net, "p", route) == (Outcome.CANCELLED, "LIMIT_EXCEEDED")  # the first cause, from m1's report
    assert hop_statuses(net, route) == [("cancelled", "LIMIT_EXCEEDED"), ("proposed", "OK"), ("proposed", "OK")]
    m1 = net.wallets["m1"].nodes[(route.route_hash, 1)]
    assert (m1.incoming, m1.outgoing, m1.outcome) == (HopState.CANCELLED, HopState.REFUSED, Outcome.CANCELLED)


def test_party_in_the_middle_without_the_next_hop() -> None:
    """The route names a relationship m1 -> m2 that m1 does not have: NO_NEXT_HOP."""
    net = Network()
    c0 = net.connect("p", "m1")
    net.connect("m2", "q")
    c_other = net.connect("m1", "x")  # m1's only other relationship
    net.connect("x", "m2")
    net.channels[("m1", "m2")] = net.channels[("x", "m2")]  # the payer believes m1 -> m2 exists
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, ["p", "m1", "m2", "q"])
    net.settle()
    assert rejects(log) == [("m1", "p", "NO_NEXT_HOP")]
    assert outcome(net, "p", route) == (Outcome.CANCELLED, "NO_NEXT_HOP")
    assert net.balance("p", c0) == 0 and net.holds(c0) == 0
    assert net.holds(c_other) == 0


def _payee_refuses(net: Network, names: list[str], chans: list[str], inv: Invoice, code: str) -> None:
    log = spy(net)
    route = net.pay(inv, names)
    net.settle()
    assert_hops(net, names, chans, [0] * len(chans))
    assert rejects(log) == [("q", names[-2], code)]
    assert outcome(net, "p", route) == (Outcome.CANCELLED, code)
    statuses = hop_statuses(net, route)
    assert statuses[-1] == (("proposed", "OK") if len(chans) > 1 else ("cancelled", code))
    if len(chans) > 1:
        assert statuses[-2] == ("cancelled", code)  # the last party in the middle reports why
    assert all(s[0] == "cancelled" for s in statuses[:-1])


@pytest.mark.parametrize("hops", [1, 3])
def test_payee_refuses_an_invoice_it_never_issued(hops: int) -> None:
    net, names, chans = line(hops)
    stranger = Wallet(net.signers["q"], net.member("q"), rng=counter_rng("elsewhere"))
    inv = stranger.invoice(AMOUNT, CURRENCY, now=net.now)  # signed by q's key, unknown to q's wallet
    _payee_refuses(net, names, chans, inv, "UNKNOWN_PAYMENT")


@pytest.mark.parametrize("hops", [1, 3])
def test_payee_refuses_the_wrong_amount(hops: int) -> None:
    net, names, chans = line(hops)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    _payee_refuses(net, names, chans, replace(inv, amount=AMOUNT - 1), "AMOUNT_MISMATCH")


@pytest.mark.parametrize("hops", [1, 3])
def test_payee_refuses_an_expired_invoice(hops: int) -> None:
    net, names, chans = line(hops)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now, lifetime=60)
    net.tick(61)
    _payee_refuses(net, names, chans, inv, "INVOICE_EXPIRED")


def test_invoice_paid_twice_over_two_routes_one_after_the_other() -> None:
    net = Network()
    a = [net.connect("p", "m1"), net.connect("m1", "q")]
    b = [net.connect("p", "m2"), net.connect("m2", "q")]
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    first = net.pay(inv, ["p", "m1", "q"])
    net.settle()
    second = net.pay(inv, ["p", "m2", "q"])
    net.settle()
    assert_hops(net, ["p", "m1", "q"], a, [AMOUNT, AMOUNT])
    assert_hops(net, ["p", "m2", "q"], b, [0, 0])
    assert outcome(net, "p", first) == (Outcome.SETTLED, "OK")
    assert outcome(net, "p", second)[0] is Outcome.CANCELLED
    assert rejects(log) == [("q", "m2", "ALREADY_PAID")]
    assert hop_statuses(net, second) == [("cancelled", "ALREADY_PAID"), ("proposed", "OK")]


def test_invoice_paid_twice_over_two_routes_at_once() -> None:
    """Both routes race; whichever hold reaches q first is paid, the other refused: charged once."""
    net = Network()
    a = [net.connect("p", "m1"), net.connect("m1", "q")]
    b = [net.connect("p", "m2"), net.connect("m2", "q")]
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    first = net.pay(inv, ["p", "m1", "q"])
    second = net.pay(inv, ["p", "m2", "q"])
    net.settle()
    outcomes = {outcome(net, "p", r)[0] for r in (first, second)}
    assert outcomes == {Outcome.SETTLED, Outcome.CANCELLED}
    won, lost = (a, b) if outcome(net, "p", first)[0] is Outcome.SETTLED else (b, a)
    assert net.balance("p", won[0]) == net.balance(net.name_of(net.member("m1" if won is a else "m2")), won[1])
    assert net.balance("p", won[0]) == AMOUNT and net.balance("p", lost[0]) == 0
    assert sum(net.balance(x, ch) for x, ch in (("m1", a[1]), ("m2", b[1]))) == AMOUNT
    assert net.holds(a[0]) == net.holds(a[1]) == net.holds(b[0]) == net.holds(b[1]) == 0
    assert [r[2] for r in rejects(log)] == ["ALREADY_PAID"]


# ---------------------------------------------------------------- an unreliable network
@pytest.mark.parametrize("lost", ["forward", "accept", "release", "route_status"])
@pytest.mark.parametrize("hops", [1, 3])
def test_every_message_of_one_kind_lost_once(lost: str, hops: int) -> None:
    """The first copy of every message of kind ``lost`` is lost; ticks send them again."""
    net, names, chans = line(hops)
    seen: set[bytes] = set()
    dropped: list[bytes] = []

    def lose_once(frm: str, to: str, data: bytes) -> bool:
        if kind(data) != lost or data in seen:
            return False
        seen.add(data)
        dropped.append(data)
        return True

    net.drop = lose_once
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    assert dropped
    assert_hops(net, names, chans, [AMOUNT] * hops)
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")
    if lost != "route_status":  # a lost report is not sent again: it is informative only
        assert hop_statuses(net, route) == [("settled", "OK")] * hops


def test_accept_of_hop_0_lost_until_its_proposal_deadline() -> None:
    """The accept of hop 0 is lost and no tick comes before the proposal's deadline passes:
    the payer offers the hold again (a new proposal at the same seq) and learns it committed."""
    net, names, chans = line(3)
    lost: list[bytes] = []

    def lose_first_accept(frm: str, to: str, data: bytes) -> bool:
        if not lost and frm == "m1" and to == "p" and kind(data) == "accept":
            lost.append(data)
            return True
        return False

    net.drop = lose_first_accept
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.run()
    assert lost
    net.settle(every=90)  # every tick after the deadline of what was sent before it
    assert_hops(net, names, chans, [AMOUNT] * 3)
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")


@pytest.mark.parametrize("who", ["m1", "m2", "q"])
@pytest.mark.parametrize("answer", ["sent", "lost"])
def test_crash_right_after_countersigning_the_hold(who: str, answer: str) -> None:
    """``who`` countersigns its incoming hold, persists, and crashes (its accept and what else it
    sent either got out or were lost with the device); it restarts from its snapshot."""
    net, names, chans = line(3)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    while net.queue:
        _frm, to, data = net.queue[0]
        net.step()
        if to == who and kind(data) == "forward":
            if answer == "lost":
                net.queue = [m for m in net.queue if m[0] != who]
            net.crash(who)
            break
    net.settle()
    assert_hops(net, names, chans, [AMOUNT] * 3)
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")


@pytest.mark.parametrize("who", ["p", "m1", "m2", "q"])
def test_crash_after_every_delivery(who: str) -> None:
    """``who`` crashes and restarts after each message it receives."""
    net, names, chans = line(3)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    for _ in range(200):
        if not net.queue:
            if not net.tick(30):
                break
            continue
        to = net.queue[0][1]
        net.step()
        if to == who:
            net.crash(who)
    net.settle()
    assert_hops(net, names, chans, [AMOUNT] * 3)
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")


# ---------------------------------------------------------------- timeouts
def test_silent_payee_with_a_hold_open() -> None:
    """q countersigns hop 1 and goes silent as its release goes out (lost). After hop 1 expires, m1
    cancels hop 0 (R3): the payer has its credit back. Hop 1's hold stays on m1 -> q: when q
    returns, m1 refuses the late release (R2) and q refuses to cancel a hold whose preimage it has
    shown (R1, spec §6.6): the co-signed hold stays as the evidence of a dispute, nothing moved."""
    net, names, chans = line(2)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    while net.queue:
        frm, _to, data = net.queue[0]
        if frm == "q" and kind(data) == "release":
            net.offline.add("q")
        net.step()
    e0, e1 = route.hops[0].expires, route.hops[1].expires
    assert net.holds(chans[0]) == 2 and net.holds(chans[1]) == 2  # both hops held, on both sides
    net.settle(until=e1 - 1)
    assert net.holds(chans[0]) == 2 and net.holds(chans[1]) == 2  # R2/R3: nobody gives up early
    assert outcome(net, "p", route)[0] is Outcome.PENDING
    net.settle(until=e1 + 60)
    assert net.now < e0
    assert net.holds(chans[0]) == 0 and net.balance("p", chans[0]) == 0
    assert outcome(net, "p", route) == (Outcome.CANCELLED, "HOLD_TIMED_OUT")  # m1's report says why
    assert hop_statuses(net, route)[0] == ("cancelled", "HOLD_TIMED_OUT")
    m1 = net.wallets["m1"]
    assert len(m1.parties[chans[1]].state.holds) == 1  # type: ignore[union-attr]
    assert net.wallets["q"].parties[chans[1]].state.holds  # type: ignore[union-attr]
    net.reconnect("q")  # it comes back
    for _ in range(5):
        net.tick(30)
        net.run()
    assert net.balance("p", chans[0]) == 0 and net.balance("m1", chans[1]) == 0
    assert outcome(net, "p", route)[0] is Outcome.CANCELLED
    assert net.wallets["q"].nodes[(route.route_hash, 2)].outcome is Outcome.DISPUTED
    assert len(m1.parties[chans[1]].state.holds) == 1  # type: ignore[union-attr]
    assert m1.nodes[(route.route_hash, 1)].outgoing is HopState.DISPUTED
    assert m1.nodes[(route.route_hash, 1)].outcome is Outcome.DISPUTED
    assert not net.tick(30)  # both stopped asking: nothing more is sent


def test_silent_party_in_the_middle_with_holds_open() -> None:
    """m1 countersigns hop 0 and vanishes before it offers hop 1: after hop 0 expires the payer
    cancels it (R5) once m1 is back, and nothing moved."""
    net, names, chans = line(3)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.step()  # the forward reaches m1, which countersigns and offers hop 1; nothing gets out
    net.offline.add("m1")
    net.settle(until=route.hops[0].expires + 60)
    assert len(net.wallets["m1"].parties[chans[0]].state.holds) == 1  # type: ignore[union-attr]
    assert not net.wallets["p"].parties[chans[0]].state.holds  # type: ignore[union-attr]
    assert outcome(net, "p", route)[0] is Outcome.PENDING  # its offer may still have been accepted
    net.crash("m1")  # it comes back
    net.settle()
    assert_hops(net, names, chans, [0, 0, 0])
    assert outcome(net, "p", route)[0] is Outcome.CANCELLED


def test_release_after_expiry_is_refused() -> None:
    """q's release reaches p only after hop 0 expired: p refuses it (R2, RELEASE_TOO_LATE). q has
    shown the preimage, so it refuses p's cancel (R1): the co-signed hold stays as the evidence of
    a dispute (spec §6.6) and nothing moved."""
    net, names, chans = line(1)
    log = spy(net)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.step()  # q countersigns the hold and offers its release
    net.step()  # its accept reaches p
    net.offline.add("q")  # the rest of what q sends is lost, and q stops
    net.run()
    e0 = route.hops[0].expires
    assert net.holds(chans[0]) == 2
    net.settle(until=e0 - 1)
    assert net.holds(chans[0]) == 2
    q = net.wallets["q"]
    node = q.nodes[(route.route_hash, 1)]
    assert node.preimage is not None
    party = q.parties[chans[0]]
    party.expire(now=e0 - 1)
    # by hand: q's own clock would not offer a release this late (RELEASE_MARGIN)
    late = party.propose(Release(route.hold_id(0), node.preimage), now=e0 - 1, deadline=e0 + 59, nonce="ab" * 16)
    net.offline.discard("q")
    net.queue.append(("q", "p", late))
    net.now = e0
    net.run()
    assert ("p", "q", "RELEASE_TOO_LATE") in rejects(log)
    assert net.holds(chans[0]) == 2
    for _ in range(5):  # p asks to cancel the expired hold (R5); q, having shown the preimage, refuses (R1)
        net.tick(30)
        net.run()
    assert ("q", "p", "PREIMAGE_KNOWN") in rejects(log)
    assert net.holds(chans[0]) == 2 and net.balance("p", chans[0]) == 0  # kept as evidence, nothing moved
    assert outcome(net, "p", route) == (Outcome.DISPUTED, "PREIMAGE_KNOWN")
    assert node.outcome is Outcome.DISPUTED
    assert net.wallets["p"].progress(route.route_hash)["hops"][0]["status"] == "disputed"
    assert not net.tick(30)  # both stopped asking


# ---------------------------------------------------------------- credit loops
def ring(hops: int, owed: int = 300, short: int | None = None) -> tuple[Network, list[str], list[str]]:
    """a -> b -> ... -> a where each member owes the one before it ``owed`` (hop ``short``: 100)."""
    net = Network()
    names = [f"n{i}" for i in range(hops)] + ["n0"]
    chans = [net.connect(x, y, balance=-(100 if i == short else owed)) for i, (x, y) in enumerate(pairwise(names))]
    return net, names, chans


@pytest.mark.parametrize("hops", [3, 4, 5])
def test_credit_loop_cancels_debt_on_every_hop(hops: int) -> None:
    net, names, chans = ring(hops)
    route = net.loop(200, names)
    net.settle()
    assert_hops(net, names, chans, [-100] * hops)
    assert outcome(net, "n0", route) == (Outcome.SETTLED, "OK")
    assert all(not w.refused for w in net.wallets.values())


@pytest.mark.parametrize("short", [0, 1, 2])
def test_credit_loop_that_would_add_debt_is_refused(short: int) -> None:
    """On hop ``short`` only 100 is owed: holding 200 there would add debt; nothing moves."""
    net, names, chans = ring(3, short=short)
    log = spy(net)
    route = net.loop(200, names)
    net.settle()
    owed = [-(100 if i == short else 300) for i in range(3)]
    assert_hops(net, names, chans, owed)
    assert outcome(net, "n0", route)[0] is Outcome.CANCELLED
    assert [r[2] for r in rejects(log)] == ["LOOP_ADDS_DEBT"]
    assert rejects(log)[0][0] == names[short + 1]


# ---------------------------------------------------------------- bad bytes
def _forward_with(net: Network, route: RouteProposal) -> bytes:
    """A forward carrying ``route`` and the hold proposal p really made for hop 0 of another route."""
    data = next(d for frm, to, d in net.queue if kind(d) == "forward")
    fwd = json.loads(data)
    fwd["route"] = route.to_json()
    return json.dumps(fwd).encode()


def bad_inputs(net: Network, route: RouteProposal) -> dict[str, bytes]:
    p = net.signers["p"]
    forged = replace(route, sig=("00" if route.sig[:2] != "00" else "11") + route.sig[2:])
    broken_hops = (replace(route.hops[0], amount=route.hops[0].amount - 1), *route.hops[1:])
    broken = RouteProposal.make(
        p,
        net.member("p"),
        payment=route.payment,
        purpose=route.purpose,
        currency=route.currency,
        lock=route.lock,
        amount=route.amount,
        payee=route.payee,
        created=route.created,
        hops=broken_hops,
    )
    fwd = json.loads(next(d for frm, to, d in net.queue if kind(d) == "forward"))
    unknown_channel = json.loads(json.dumps(fwd))
    unknown_channel["proposal"]["state"]["channel"] = "ee" * 32
    return {
        "garbage": b"\xff\x00garbage",
        "empty": b"",
        "a list": b"[1,2,3]",
        "a string": b'"forward"',
        "state not an object": b'{"state":"x","sig":"00"}',
        "unknown type": b'{"type":"nonsense","v":1}',
        "forward without fields": b'{"type":"forward","v":1}',
        "forged route signature": _forward_with(net, forged),
        "route with a broken rule": _forward_with(net, broken),
        "forward on a channel we lack": json.dumps(unknown_channel).encode(),
        "status with a bad signature": b'{"type":"route_status","v":1}',
        "an unknown channel": b'{"type":"accept","v":1,"channel":"' + b"ee" * 32 + b'","seq":1}',
    }


def test_bad_bytes_are_dropped_and_listed() -> None:
    net, names, chans = line(2)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    inputs = bad_inputs(net, route)
    for name in ("m1", "q"):
        w = net.wallets[name]
        for label, data in inputs.items():
            before = len(w.refused)
            assert w.receive(data, now=net.now) == [], label
            assert len(w.refused) == before + 1, f"{label} not listed in refused"
    codes = {label: net.wallets["m1"].refused[i][1] for i, label in enumerate(inputs)}
    assert codes["forged route signature"] == "BAD_SIGNATURE"
    assert codes["route with a broken rule"] == "BAD_AMOUNTS"
    net.settle()  # the real payment still goes through
    assert_hops(net, names, chans, [AMOUNT, AMOUNT])
    assert outcome(net, "p", route) == (Outcome.SETTLED, "OK")


def test_reports_from_strangers_are_ignored() -> None:
    net, names, _chans = line(2)
    inv = net.wallets["q"].invoice(AMOUNT, CURRENCY, now=net.now)
    route = net.pay(inv, names)
    net.settle()
    q = net.signers["q"]
    fake = RouteStatus.make(q, net.member("q"), route, hop=0, status="cancelled", reason="X", time=net.now)
    net.wallets["p"].receive(fake.encode(), now=net.now)  # q is not hop 0's payee
    assert hop_statuses(net, route) == [("settled", "OK")] * 2
