"""Route queries on a large public credit graph, against networkx doing the same search in the same run.

The graph is generated with a fixed seed to look like a community of communities: members belong to
communities of uneven size (a few large towns, many small groups), and relationships grow by
preferential attachment (members with many relationships attract more), mostly inside a member's
own community and sometimes across. Limits are what members extend in practice: round amounts
(multiples of $5) spread over two orders of magnitude around $100, and a quarter of the directions
extend nothing (credit one way only). One relationship in twenty is not routable and left out, as
the relay's loader does.

Each query is a random payer and payee (an amount for half of them), hop limit 5, answered both as
``shortest`` (fewest hops, then widest) and ``widest`` (greatest capacity, then fewest hops), by:

- ours: ``foaf.routing.RouteIndex.shortest`` / ``.widest`` on an index built once;
- networkx, on a ``DiGraph`` of the same directions, the threshold of each search applied with a
  ``subgraph_view``, in two ways (``NetworkxRouter``):
  - ``hop_limited``: networkx's search with a hop limit, ``nx.predecessor(view, s, cutoff=5)``
    (breadth-first from the payer, every shortest predecessor kept), the widest of the fewest-hop
    routes read from it. This is the baseline of ``ratio`` (target >= 10).
  - ``bidirectional``: networkx's fastest path search, ``nx.bidirectional_shortest_path`` (it has
    no hop limit: the route's length is checked after), giving one route per search. Reported as
    ``ratio_bidirectional``: the strongest networkx baseline we could write.
  Both are driven by our threshold strategy (the same bounds, the same thresholds tried in the
  same order), so they do the same search; for ``widest`` that is a few reachability searches.

Every answer (hops and capacity) is compared with ours: a mismatch fails the run. networkx's
hop-limited search explores the whole 5-hop ball (most of the graph), so it answers only the first
``--sample`` queries; each ratio is total time over the queries both answered. p50_ms and p99_ms
are ours, per query, over both kinds (target p99 <= 50). The runs are interleaved query by query,
and the objects built before timing are frozen out of the garbage collector (``gc.freeze``), so
that a full collection of networkx's millions of objects never lands in a timed query. Also
reported: ``build_s`` (our index) and ``maxflow_ms`` (median of a few hop-limited max flows).

Then multi-hop payments end to end (``settle_payments``): 100 (``--quick``: 30) payments of 4 hops,
each member a ``foaf.routing.Wallet`` with its own key exchanging bytes: ``payments_per_s`` and
``cosigned_states_per_s`` (every hop co-signs a hold and a release). No baseline: it is reported.

    .venv/bin/python bench/routing.py            # 20,000 members, 100,000 relationships
    .venv/bin/python bench/routing.py --quick    # 5,000 members, 25,000 relationships

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import random
import statistics
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from foaf.routing import Kind, Route, RouteIndex  # noqa: E402

MAX_HOPS = 5
CLIMBS = 4  # as foaf.routing.graph
Answer = tuple[int, int] | None  # (hops, capacity) of the route found


def community_graph(members: int, relationships: int, seed: int) -> list[tuple[str, str, int, int, bool]]:
    """(a, b, limit_a_to_b, limit_b_to_a, routable) with a < b, one per pair.

    Members join one at a time; each newcomer opens a few relationships (``relationships /
    members`` on average) with members already there, chosen in proportion to how many
    relationships they have (plus one), from its own community 85% of the time.
    """
    rng = random.Random(seed)
    keys = sorted(f"{rng.getrandbits(256):064x}" for _ in range(members))
    # Community sizes: Pareto-distributed (a few large, many small), about 60 members on average.
    weights = [rng.paretovariate(1.3) for _ in range(max(1, members // 60))]
    home = rng.choices(range(len(weights)), weights=weights, k=members)
    order = list(range(members))
    rng.shuffle(order)
    everyone: list[int] = []  # preferential pools: a member once, plus once per relationship
    by_community: list[list[int]] = [[] for _ in weights]
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    mean = relationships / members
    for joined, u in enumerate(order):
        wanted = min(joined, max(1, round(rng.expovariate(1 / mean)))) if joined else 0
        made = tries = 0
        while made < wanted and tries < 20 * wanted:
            tries += 1
            local = by_community[home[u]]
            v = rng.choice(local if local and rng.random() < 0.85 else everyone)
            pair = (min(u, v), max(u, v))
            if pair in seen:
                continue
            seen.add(pair)
            pairs.append(pair)
            made += 1
            everyone.append(v)
            by_community[home[v]].append(v)
        everyone.extend([u] * (made + 1))
        by_community[home[u]].extend([u] * (made + 1))
    while len(pairs) < relationships:  # top up to the exact count, still preferentially
        u, v = rng.choice(everyone), rng.choice(everyone)
        pair = (min(u, v), max(u, v))
        if u != v and pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    del pairs[relationships:]

    def limit() -> int:
        if rng.random() < 0.25:
            return 0
        dollars = max(5, round(rng.lognormvariate(4.6, 1.0) / 5) * 5)  # median about $100
        return dollars * 100

    return [(keys[u], keys[v], limit(), limit(), rng.random() >= 0.05) for u, v in pairs]


# --- the baselines: the same search with networkx -----------------------------------------------
Probe = Callable[[str, str, int, int], list[str] | None]  # (s, t, threshold, max_hops) -> a fewest-hop route


class NetworkxRouter:
    """The same queries answered with networkx graph searches, in two ways:

    - ``hop_limited``: networkx's hop-limited search, ``nx.predecessor(view, s, cutoff=max_hops)``
      (a breadth-first search from the payer, with every shortest predecessor), then the widest of
      the fewest-hop routes read from those predecessors;
    - ``bidirectional``: networkx's fastest path search, ``nx.bidirectional_shortest_path`` (no hop
      limit: the length is checked after), one route per search.

    ``view(c)`` is a ``subgraph_view`` of the arcs carrying c. Both are driven by the threshold
    strategy of ``foaf.routing`` (the same bounds, the same order of thresholds tried).
    """

    def __init__(self, edges: list[tuple[str, str, int, int]]) -> None:
        graph = nx.DiGraph()
        for a, b, limit_ab, limit_ba in edges:
            if limit_ab:
                graph.add_edge(a, b, capacity=limit_ab)
            if limit_ba:
                graph.add_edge(b, a, capacity=limit_ba)
        self.graph = graph
        self.levels = sorted({c for _, _, c in graph.edges(data="capacity")})

    def view(self, threshold: int) -> Any:
        graph = self.graph
        return nx.subgraph_view(graph, filter_edge=lambda u, v: graph[u][v]["capacity"] >= threshold)

    def hop_limited(self, s: str, t: str, threshold: int, max_hops: int) -> list[str] | None:
        pred = nx.predecessor(self.view(threshold), s, cutoff=max_hops)
        if t not in pred:
            return None
        graph = self.graph
        best: dict[str, tuple[int, list[str]]] = {s: (1 << 80, [s])}

        def widest_to(v: str) -> tuple[int, list[str]]:
            if v not in best:
                options = []
                for u in pred[v]:
                    width, path = widest_to(u)
                    options.append((min(width, graph[u][v]["capacity"]), path))
                width, path = max(options, key=lambda option: option[0])
                best[v] = (width, [*path, v])
            return best[v]

        return widest_to(t)[1]

    def bidirectional(self, s: str, t: str, threshold: int, max_hops: int) -> list[str] | None:
        try:
            path: list[str] = nx.bidirectional_shortest_path(self.view(threshold), s, t)
        except nx.NetworkXNoPath:
            return None
        return path if len(path) - 1 <= max_hops else None

    def bottleneck(self, path: list[str]) -> int:
        return min(int(self.graph[u][v]["capacity"]) for u, v in itertools.pairwise(path))

    def search(self, probe: Probe, s: str, t: str, amount: int, max_hops: int, kind: Kind) -> Answer:
        graph = self.graph
        if s not in graph or t not in graph or not graph.succ[s] or not graph.pred[t]:
            return None
        path = probe(s, t, max(1, amount), max_hops)
        if path is None:
            return None
        if kind is Kind.SHORTEST:
            if probe == self.hop_limited:  # already the widest of the fewest-hop routes
                return len(path) - 1, self.bottleneck(path)
            max_hops = len(path) - 1
        top = min(max(c for _, _, c in graph.out_edges(s, data="capacity")),
                  max(c for _, _, c in graph.in_edges(t, data="capacity")))  # fmt: skip
        lo = bisect_right(self.levels, min(self.bottleneck(path), top))
        hi = bisect_right(self.levels, top) - 1
        tries = 0
        while lo <= hi:
            mid = lo if tries < CLIMBS else (lo + hi) // 2
            tries += 1
            found = probe(s, t, self.levels[mid], max_hops)
            if found is None:
                hi = mid - 1
            else:
                path = found
                lo = bisect_right(self.levels, min(self.bottleneck(path), top))
        return len(path) - 1, self.bottleneck(path)


def answer(route: Route | None) -> Answer:
    return None if route is None else (route.hops, route.capacity)


def timed(call: Callable[[], Answer]) -> tuple[float, Answer]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, about a minute")
    parser.add_argument("--members", type=int)
    parser.add_argument("--relationships", type=int)
    parser.add_argument("--queries", type=int, help="payer-payee pairs, each asked both kinds")
    parser.add_argument("--sample", type=int, help="of those, how many networkx's hop-limited search answers too")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    members = args.members or (5_000 if args.quick else 20_000)
    relationships = args.relationships or (25_000 if args.quick else 100_000)
    queries = args.queries or (300 if args.quick else 1_000)
    sample = min(queries, args.sample or (100 if args.quick else 150))

    generated = community_graph(members, relationships, args.seed)
    routable = [(a, b, x, y) for a, b, x, y, ok in generated if ok]
    started = time.perf_counter()
    index = RouteIndex(routable)
    build_s = time.perf_counter() - started
    baseline = NetworkxRouter(routable)
    gc.collect()
    gc.freeze()

    rng = random.Random(args.seed + 1)
    keys = sorted({key for a, b, *_ in routable for key in (a, b)})
    workload = []
    for _ in range(queries):
        s, t = rng.sample(keys, 2)
        amount = 0 if rng.random() < 0.5 else round(rng.lognormvariate(7.6, 1.0))  # about $20
        workload.append((s, t, amount))

    ways = ("ours", "hop_limited", "bidirectional")
    times: dict[tuple[str, Kind], list[float]] = {(way, kind): [] for way in ways for kind in Kind}
    found = mismatches = 0
    searches: dict[Kind, Callable[..., Route | None]] = {Kind.SHORTEST: index.shortest, Kind.WIDEST: index.widest}
    for n, (s, t, amount) in enumerate(workload):
        # Interleaved, so that noise from other work on the machine hits every way alike.
        for kind in Kind:
            search = searches[kind]
            elapsed, ours = timed(lambda: answer(search(s, t, amount=amount, max_hops=MAX_HOPS)))  # noqa: B023
            times["ours", kind].append(elapsed)
            found += ours is not None
            probes: list[tuple[str, Probe]] = [("bidirectional", baseline.bidirectional)]
            if n < sample:
                probes.append(("hop_limited", baseline.hop_limited))
            for way, probe in probes:
                elapsed, theirs = timed(lambda: baseline.search(probe, s, t, amount, MAX_HOPS, kind))  # noqa: B023
                times[way, kind].append(elapsed)
                if theirs != ours:
                    mismatches += 1
                    print(f"mismatch ({way}) {kind} {s[:8]} -> {t[:8]} amount {amount}: {ours} vs {theirs}",
                          file=sys.stderr)  # fmt: skip

    flow_ms = []
    for s, t, _ in workload[:5]:
        started = time.perf_counter()
        index.max_flow(s, t, max_hops=MAX_HOPS)
        flow_ms.append((time.perf_counter() - started) * 1000)

    def both(way: str) -> list[float]:
        return times[way, Kind.SHORTEST] + times[way, Kind.WIDEST]

    def ratio(way: str, kinds: tuple[Kind, ...] = tuple(Kind)) -> float:
        theirs = [x for kind in kinds for x in times[way, kind]]
        ours = [x for kind in kinds for x in times["ours", kind][: len(times[way, kind])]]
        return round(sum(theirs) / sum(ours), 2)

    figures: dict[str, Any] = {
        "bench": "routing",
        "ratio": ratio("hop_limited"),
        "p50_ms": ms(percentile(both("ours"), 0.50)),
        "p99_ms": ms(percentile(both("ours"), 0.99)),
        "baseline_p50_ms": ms(percentile(both("hop_limited"), 0.50)),
        "baseline_p99_ms": ms(percentile(both("hop_limited"), 0.99)),
        "ratio_bidirectional": ratio("bidirectional"),
        "bidirectional_p50_ms": ms(percentile(both("bidirectional"), 0.50)),
        "bidirectional_p99_ms": ms(percentile(both("bidirectional"), 0.99)),
        "members": members,
        "routable_members": index.members,
        "relationships": len(generated),
        "routable_relationships": len(routable),
        "arcs": index.arcs,
        "queries": 2 * queries,
        "baseline_queries": 2 * sample,
        "found": found,
        "mismatches": mismatches,
        "build_s": round(build_s, 3),
        "maxflow_ms": round(statistics.median(flow_ms), 1),
        "max_hops": MAX_HOPS,
        "seed": args.seed,
    }
    payments = settle_payments(30 if args.quick else 100, hops=PAYMENT_HOPS)
    figures.update(payments)
    for kind in Kind:
        figures[f"{kind}_p50_ms"] = ms(percentile(times["ours", kind], 0.50))
        figures[f"{kind}_p99_ms"] = ms(percentile(times["ours", kind], 0.99))
        figures[f"{kind}_ratio"] = ratio("hop_limited", (kind,))
        figures[f"{kind}_ratio_bidirectional"] = ratio("bidirectional", (kind,))
    print(
        f"routing: ours p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms; networkx hop-limited p50 "
        f"{figures['baseline_p50_ms']} ms (x{figures['ratio']}), bidirectional p50 "
        f"{figures['bidirectional_p50_ms']} ms (x{figures['ratio_bidirectional']}); "
        f"{found}/{2 * queries} routes found, {mismatches} mismatches; "
        f"{figures['payments_per_s']} {PAYMENT_HOPS}-hop payments settled per second end to end",
        file=sys.stderr,
    )
    print(json.dumps(figures))
    if mismatches:
        sys.exit(1)


PAYMENT_HOPS = 4


def settle_payments(count: int, *, hops: int) -> dict[str, Any]:
    """Multi-hop payments settled end to end by the protocol's own code: one ``Wallet`` per member
    (its own key, a bilateral ``Party`` per relationship), every message encoded, delivered as
    bytes, parsed, checked and signed as on a device; ``count`` payments of ``hops`` hops, each on
    its own line of members so they run side by side, delivered round-robin until quiet. Reports
    payments and co-signed states per second (each hop commits a hold and a release)."""
    from foaf.bilateral import Member, SeedSigner, make_genesis
    from foaf.bilateral import Party as BilateralParty
    from foaf.routing.wallet import Outbound, Wallet

    t0 = 1_767_225_600
    wallets: dict[str, Wallet] = {}
    lines = []
    for p in range(count):
        signers = [SeedSigner(hashlib.sha256(f"pay-{p}-{i}".encode()).digest()) for i in range(hops + 1)]
        ids = [s.public_key.hex() for s in signers]
        for s, member in zip(signers, ids, strict=True):
            wallets[member] = Wallet(s, member, rng=random.Random(member).randbytes)
        path = []
        for i in range(hops):
            x, y = signers[i], signers[i + 1]
            genesis = make_genesis(
                a=Member.inception(x.public_key), b=Member.inception(y.public_key), currency="CAD",
                limit_a_to_b=100_000, limit_b_to_a=100_000, proposer="a", created=t0, deadline=t0 + 600,
                nonce=f"{p * 16 + i:032x}",
            )  # fmt: skip
            px, offer = BilateralParty.open(x, genesis, now=t0)
            py, _ = BilateralParty.join(y, offer, now=t0)
            px.receive(py.accept(now=t0), now=t0)
            wallets[ids[i]].parties[px.channel] = px
            wallets[ids[i + 1]].parties[py.channel] = py
            path.append((px.channel, ids[i + 1]))
        lines.append((ids, path))
    now = t0 + 3600
    started = time.perf_counter()
    queue: list[Outbound] = []
    routes = []
    for ids, path in lines:
        invoice = wallets[ids[-1]].invoice(1_234, "CAD", now=now)
        route, out = wallets[ids[0]].pay(invoice, path, now=now)
        routes.append((ids[0], route.route_hash))
        queue.extend(out)
    delivered = 0
    while queue:
        o = queue.pop(0)
        queue.extend(wallets[o.to].receive(o.data, now=now))
        delivered += 1
    elapsed = time.perf_counter() - started
    settled = sum(1 for payer, h in routes if str(wallets[payer].outcome(h)) == "settled")
    if settled != count:
        sys.exit(f"routing bench: only {settled} of {count} payments settled")
    return {
        "payments": count,
        "payment_hops": hops,
        "payments_per_s": round(count / elapsed, 1),
        "cosigned_states_per_s": round(2 * hops * count / elapsed, 1),
        "payment_messages": delivered,
    }


if __name__ == "__main__":
    main()
