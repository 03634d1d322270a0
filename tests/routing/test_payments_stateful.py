"""Random multi-hop payments and credit loops over an unreliable network: all or nothing.

A Hypothesis state machine builds a random graph of six members (a ring plus random chords, random
limits both ways and random opening balances), then interleaves: payments along random simple
paths of 2 to 5 hops (some to an invoice the payee never issued, for the wrong amount, about to
expire, or a second time over another route), credit loops of 3 to 5 hops (some adding debt),
deliveries in random order with duplicates, lost messages, crashes (restart from the last
snapshot, queued input lost, both sides reestablish), small clock steps and jumps past every expiry.

Timing assumption (routing spec §6): a party in the middle that learned the preimage needs its
upstream peer to countersign its release before its incoming hold expires, at least MIN_DELTA
after it learned it. So the clock *jumps* only while no party has a release to collect (a node
knowing the preimage with its incoming hold still held), and the disruptions that delay a message
(losses, crashes, clock steps with messages in flight) are bounded per run, well within MIN_DELTA.
A silent party is covered by the scenario tests (tests/routing/test_payments.py).

During the run: no party in the middle has its outgoing hold released while its incoming hold is
cancelled. After healing (no more loss; nobody reconnects, the wallets' own retries must do; the
clock runs past every expiry until quiet): every route has all its hops released or none; no hold
is open; each member's position moved by what it paid minus what it was paid on settled routes
(intermediaries and loops: 0); an invoice is paid at most once; every node has an outcome and the
payer's agrees with the hops; both sides of every channel have the same head.

``FOAF_HYPOTHESIS_EXAMPLES`` sets the number of runs (default 50, of up to 50 steps each).
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from foaf.bilateral.model import Cancel, PlaceHold, Release
from foaf.routing.messages import Invoice, RouteProposal
from foaf.routing.node import HopState, Outcome
from foaf.routing.wallet import Wallet
from tests.routing.network import CURRENCY, Network, counter_rng

MEMBERS = [f"n{i}" for i in range(6)]
# losses + crashes + clock steps with messages in flight, per run: each delays a message by at most
# one 60 s tick, and the payee's release window is MIN_DELTA - RELEASE_MARGIN = 180 s
MAX_DISRUPTIONS = 2
MODES = ("ok", "ok", "ok", "ok", "wrong_amount", "unknown", "expiring", "twice")

settings.register_profile(
    "routing-payments",
    max_examples=int(os.environ.get("FOAF_HYPOTHESIS_EXAMPLES", "50")),
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)


@dataclass(frozen=True)
class Attempt:
    route: RouteProposal
    names: tuple[str, ...]  # the members along the route, payer first


def simple_paths(adj: dict[str, set[str]], lo: int, hi: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...]) -> None:
        if lo <= len(path) - 1:
            out.append(path)
        if len(path) - 1 == hi:
            return
        for nxt in sorted(adj[path[-1]]):
            if nxt not in path:
                walk((*path, nxt))

    for start in sorted(adj):
        walk((start,))
    return out


def cycles(adj: dict[str, set[str]], lo: int, hi: int) -> list[tuple[str, ...]]:
    """Simple cycles of lo..hi hops, each as a path from its first member back to it."""
    return [(*p, p[0]) for p in simple_paths(adj, lo - 1, hi - 1) if p[0] in adj[p[-1]]]


def hold_fates(net: Network, name: str, channel: str) -> dict[str, str]:
    """hold id -> "held" / "released" / "cancelled" in ``name``'s log of ``channel``."""
    fates: dict[str, str] = {}
    for entry in net.wallets[name].parties[channel].log:
        op = entry.state.update.op
        if isinstance(op, PlaceHold):
            fates[op.id] = "held"
        elif isinstance(op, Release):
            fates[op.id] = "released"
        elif isinstance(op, Cancel):
            fates[op.id] = "cancelled"
    return fates


class Payments(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.net = Network()
        self.attempts: list[Attempt] = []
        self.disruptions = 0
        self.jumped = False
        self.genesis_position: dict[str, int] = {}
        self.paths: list[tuple[str, ...]] = []
        self.loops: list[tuple[str, ...]] = []

    # ------------------------------------------------------------ the graph
    @initialize(
        chords=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=4),
        limits=st.lists(st.sampled_from([10_000, 10_000, 10_000, 10_000, 1500, 300]), min_size=20, max_size=20),
        balances=st.lists(st.sampled_from([0, -100, -400, -1000, 300]), min_size=10, max_size=10),
    )
    def build(self, chords: list[tuple[int, int]], limits: list[int], balances: list[int]) -> None:
        edges = [(i, (i + 1) % 6) for i in range(6)]
        for a, b in chords:
            if a != b and (a, b) not in edges and (b, a) not in edges:
                edges.append((a, b))
        adj: dict[str, set[str]] = defaultdict(set)
        for k, (a, b) in enumerate(edges):
            x, y = MEMBERS[a], MEMBERS[b]
            bal = balances[k % len(balances)]  # > 0: x owes y; the limits are on top of the opening debt
            lxy, lyx = limits[2 * k] + max(bal, 0), limits[2 * k + 1] + max(-bal, 0)
            self.net.connect(x, y, limit_x_to_y=lxy, limit_y_to_x=lyx, balance=bal)
            adj[x].add(y)
            adj[y].add(x)
        self.paths = simple_paths(adj, 2, 5)
        self.loops = cycles(adj, 3, 5)
        self.genesis_position = {m: self.position(m) for m in MEMBERS}

    def position(self, name: str) -> int:
        """What ``name`` owes in total over its channels (its own view)."""
        return sum(self.net.balance(name, ch) for ch in self.net.wallets[name].parties)

    # ------------------------------------------------------------ payments
    @rule(which=st.integers(0, 10**6), amount=st.integers(1, 900), mode=st.sampled_from(MODES))
    def pay(self, which: int, amount: int, mode: str) -> None:
        names = self.paths[which % len(self.paths)]
        payer, payee = names[0], names[-1]
        net = self.net
        if mode == "unknown":
            stranger = Wallet(net.signers[payee], net.member(payee), rng=counter_rng(f"stranger/{len(self.attempts)}"))
            inv = stranger.invoice(amount, CURRENCY, now=net.now)
        else:
            inv = net.wallets[payee].invoice(
                amount, CURRENCY, now=net.now, lifetime=30 if mode == "expiring" else 86_400
            )
        if mode == "wrong_amount":
            inv = replace(inv, amount=amount + 1)
        self._attempt(inv, names)
        if mode == "twice":
            others = [p for p in self.paths if p[0] == payer and p[-1] == payee and p != names]
            if others:
                self._attempt(inv, others[which % len(others)])

    def _attempt(self, inv: Invoice, names: tuple[str, ...]) -> None:
        route = self.net.pay(inv, names)  # the payer's own checks pass: the graph has every hop
        self.attempts.append(Attempt(route, names))

    @rule(which=st.integers(0, 10**6), amount=st.integers(1, 600))
    def loop(self, which: int, amount: int) -> None:
        if not self.loops:
            return
        names = self.loops[which % len(self.loops)]
        self.attempts.append(Attempt(self.net.loop(amount, names), names))

    # ------------------------------------------------------------ the network
    @precondition(lambda self: bool(self.net.queue))
    @rule(seed=st.integers(0, 2**16), n=st.integers(1, 30), reorder=st.booleans(), dup=st.sampled_from([0.0, 0.3]))
    def deliver(self, seed: int, n: int, reorder: bool, dup: float) -> None:
        net = self.net
        net.rnd = random.Random(seed)
        net.reorder, net.duplication = reorder, dup
        for _ in range(n):
            if not net.step():
                break

    @precondition(lambda self: bool(self.net.queue) and self.disruptions < MAX_DISRUPTIONS)
    @rule(i=st.integers(0, 10**6))
    def lose(self, i: int) -> None:
        self.disruptions += 1
        self.net.queue.pop(i % len(self.net.queue))

    @precondition(lambda self: self.disruptions < MAX_DISRUPTIONS)
    @rule(who=st.sampled_from(MEMBERS))
    def crash(self, who: str) -> None:
        self.disruptions += 1
        self.net.crash(who)

    @precondition(lambda self: not self.net.queue or self.disruptions < MAX_DISRUPTIONS)
    @rule(seconds=st.sampled_from([0, 1, 20, 60]))
    def tick(self, seconds: int) -> None:
        if self.net.queue:
            self.disruptions += 1
        self.net.tick(seconds)

    @precondition(lambda self: not self.collecting())
    @rule(seconds=st.sampled_from([301, 700, 1300, 2500, 4000]))
    def jump(self, seconds: int) -> None:
        """The clock jumps (past expiries) while no party has a release to collect."""
        self.jumped = True
        self.net.tick(seconds)

    def collecting(self) -> bool:
        return any(
            n.outcome is Outcome.PENDING and n.preimage is not None and n.incoming is HopState.HELD
            for w in self.net.wallets.values()
            for n in w.nodes.values()
        )

    # ------------------------------------------------------------ invariants
    @invariant()
    def no_middle_party_pays_without_being_paid(self) -> None:
        """R3/R4: a party in the middle never has its outgoing hold released and its incoming
        hold cancelled (in its own logs)."""
        net = self.net
        for a in self.attempts:
            r = a.route
            for j in range(1, len(r.hops)):
                name = a.names[j]
                out = hold_fates(net, name, r.hops[j].channel).get(r.hold_id(j))
                inc = hold_fates(net, name, r.hops[j - 1].channel).get(r.hold_id(j - 1))
                assert not (out == "released" and inc == "cancelled"), f"{name} paid hop {j} but hop {j - 1} cancelled"

    def teardown(self) -> None:
        net = self.net
        if not self.genesis_position:
            return
        net.duplication = 0.0
        net.reorder = False
        last = max((a.route.hops[0].expires for a in self.attempts), default=net.now)
        event(f"disruptions: {self.disruptions}")
        event(f"jumped: {self.jumped}")
        net.settle(every=60, until=last + 120)
        self.check_final()

    def check_final(self) -> None:
        net = self.net
        expected = dict.fromkeys(MEMBERS, 0)
        paid_invoices: dict[tuple[str, str], int] = defaultdict(int)
        for a in self.attempts:
            r = a.route
            fates = [
                hold_fates(net, a.names[h], r.hops[h].channel).get(r.hold_id(h), "never") for h in range(len(r.hops))
            ]
            fates_peer = [
                hold_fates(net, a.names[h + 1], r.hops[h].channel).get(r.hold_id(h), "never")
                for h in range(len(r.hops))
            ]
            assert fates == fates_peer
            settled = fates == ["released"] * len(r.hops)
            assert settled or "released" not in fates, f"mixed route {fates}"
            assert "held" not in fates, f"hold left open {fates}"
            payer = net.wallets[a.names[0]]
            assert payer.outcome(r.route_hash) is (Outcome.SETTLED if settled else Outcome.CANCELLED), fates
            for j, name in enumerate(a.names):
                node = net.wallets[name].nodes.get((r.route_hash, j))
                if node is not None:
                    assert node.outcome is (Outcome.SETTLED if settled else Outcome.CANCELLED), (j, fates)
            event(f"route of {len(r.hops)} hops {'settled' if settled else 'cancelled'}")
            if not settled:
                event(f"cancelled: {payer.progress(r.route_hash)['reason']}")
            if settled:
                expected[a.names[0]] += r.amount
                expected[a.names[-1]] -= r.amount
                paid_invoices[(r.payee, r.payment)] += 1
        assert all(n == 1 for n in paid_invoices.values()), "an invoice was paid twice"
        for name in MEMBERS:
            assert self.position(name) - self.genesis_position[name] == expected[name], name
        for name, w in net.wallets.items():
            for ch, party in w.parties.items():
                st_ = party.state
                assert st_ is not None and not st_.holds
                for other, w2 in net.wallets.items():
                    if other != name and ch in w2.parties:
                        head = w2.parties[ch].head
                        assert head is not None and party.head is not None
                        assert head.state.hash_hex == party.head.state.hash_hex, f"{name}/{other} heads differ"


TestPayments = Payments.TestCase
TestPayments.settings = settings.get_profile("routing-payments")


def test_paths_and_cycles() -> None:
    adj = {"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}}
    assert ("a", "b", "c") in simple_paths(adj, 2, 5)
    assert ("a", "b", "c", "a") in cycles(adj, 3, 5)
    assert all(len(p) - 1 >= 2 for p in simple_paths(adj, 2, 5))
