"""foaf.routing against networkx and brute force: routes, their order, loops, max flow, hints."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foaf.routing import Kind, Route, RouteIndex
from tests.routing import reference as ref

pytestmark = pytest.mark.core  # no database: run once

ROOT = Path(__file__).resolve().parents[2]
A, B, C, D, E, F, G = ref.keys(7)


def check_route(graph: nx.DiGraph, route: Route, s: str, t: str, *, max_hops: int, amount: int) -> None:
    """A route as documented: from s to t, loop-free, within the limit, each hop's capacity the graph's."""
    members = route.members
    assert members[0] == s and members[-1] == t
    inner = members[:-1] if s == t else members
    assert len(set(inner)) == len(inner), f"a loop inside {members}"
    assert (route.hops >= 3) if s == t else (route.hops >= 1)
    assert route.hops <= max_hops
    assert route.capacities == tuple(graph[u][v]["capacity"] for u, v in itertools.pairwise(members))
    assert route.capacity == min(route.capacities) >= max(1, amount)


# --- the direction rule, on hand-made graphs ---------------------------------------------------
def test_each_hop_uses_the_limit_that_lets_its_payer_owe_its_payee() -> None:
    for edge in ((A, B, 100, 7), (B, A, 7, 100)):  # the same edge, stored either way round
        index = RouteIndex([edge])
        assert (index.capacity(A, B), index.capacity(B, A)) == (100, 7)
        assert index.widest(A, B) == Route((A, B), (100,))
        assert index.widest(B, A) == Route((B, A), (7,))


def test_a_direction_without_a_limit_carries_nothing_and_an_amount_needs_every_hop_to_carry_it() -> None:
    index = RouteIndex([(A, B, 50, 0), (B, C, 80, 80)])
    assert index.shortest(B, A) is None and index.capacity(B, A) == 0
    assert index.shortest(A, C, amount=50) == Route((A, B, C), (50, 80))
    assert index.shortest(A, C, amount=51) is None
    assert index.max_flow(A, C) == 50 and index.max_flow(C, A) == 0


def test_shortest_takes_the_widest_of_the_fewest_hops_and_widest_the_fewest_hops_of_the_widest() -> None:
    two_hops = [(A, B, 10, 0), (B, F, 10, 0), (A, C, 30, 0), (C, F, 20, 0)]  # 10 and 20 wide
    three_hops = [(A, D, 90, 0), (D, E, 90, 0), (E, F, 90, 0)]  # 90 wide
    more = [(A, G, 90, 0), (G, B, 90, 0), (B, C, 95, 0)]  # A G B C F: 4 hops, 20 wide, and others
    index = RouteIndex([*two_hops, *three_hops, *more])
    assert index.shortest(A, F) == Route((A, C, F), (30, 20))
    assert index.widest(A, F) == Route((A, D, E, F), (90, 90, 90))
    assert index.widest(A, F, max_hops=2) == Route((A, C, F), (30, 20))
    assert [r.members for r in index.routes(A, F, k=4, kind=Kind.SHORTEST)] == [
        (A, C, F),
        (A, B, F),
        (A, D, E, F),
        (A, B, C, F),  # 3 hops and 10 wide, as A G B F: the member keys decide
    ]
    assert [(r.capacity, r.hops) for r in index.routes(A, F, k=9, kind=Kind.WIDEST)] == [
        (90, 3),
        (20, 2),
        (20, 4),
        (10, 2),
        (10, 3),
        (10, 3),
    ]


def test_the_hop_limit_is_a_limit() -> None:
    chain = [(ref.keys(8)[i], ref.keys(8)[i + 1], 5, 5) for i in range(7)]
    index = RouteIndex(chain)
    first, last = ref.keys(8)[0], ref.keys(8)[7]
    assert index.shortest(first, last) is None and index.widest(first, last) is None
    assert index.routes(first, last) == []
    assert index.shortest(first, last, max_hops=7) is not None
    assert index.max_flow(first, last, max_hops=6) == 0 and index.max_flow(first, last) == 5


def test_members_without_a_path_or_without_an_edge_have_no_route_and_no_flow() -> None:
    index = RouteIndex([(A, B, 5, 5), (C, D, 5, 5)])
    assert index.shortest(A, D) is None and index.routes(A, D, k=3) == []
    assert index.max_flow(A, D) == 0
    assert "f" * 64 not in index and A in index
    assert index.shortest(A, "f" * 64) is None and index.max_flow("f" * 64, A) == 0
    assert RouteIndex([]).routes(A, B) == []


def test_a_member_paid_by_itself_is_a_credit_loop_of_three_hops_or_more() -> None:
    back_and_forth = RouteIndex([(A, B, 5, 5)])
    assert back_and_forth.shortest(A, A) is None and back_and_forth.cycles_through(A) == []
    triangle = RouteIndex([(A, B, 5, 9), (B, C, 6, 9), (C, A, 7, 9)])
    assert triangle.shortest(A, A) == Route((A, C, B, A), (9, 9, 9))  # both 3 hops: the wider
    assert triangle.cycles_through(A, k=5, kind=Kind.WIDEST) == [
        Route((A, C, B, A), (9, 9, 9)),
        Route((A, B, C, A), (5, 6, 7)),
    ]
    assert triangle.cycles_through(A, max_len=2) == []
    with pytest.raises(ValueError, match="two different members"):
        triangle.max_flow(A, A)


# --- capacity hints ------------------------------------------------------------------------------
def test_a_hint_bounds_a_direction_by_its_power_of_two_and_by_both_limits() -> None:
    edges = [(A, B, 100, 0), (B, C, 0, 50), (C, D, 10, 3)]
    hinted = RouteIndex(edges, hints={(A, B): 4, (B, C): 10, (D, C): 0, (A, G): 3})
    assert hinted.capacity(A, B) == 15  # below 2**4: the limit is partly used
    assert hinted.capacity(B, C) == 50  # no limit B -> C, but C owes B: at most what C may owe, 50
    assert hinted.capacity(D, C) == 0 and hinted.capacity(C, D) == 10  # a hint for one direction only
    assert RouteIndex(edges, hints={(C, D): 1}).capacity(D, C) == 3
    assert hinted.widest(A, C) == Route((A, B, C), (15, 50))
    assert hinted.shortest(A, C, amount=16) is None and hinted.shortest(D, C) is None
    assert RouteIndex(edges).shortest(A, C) is None  # without hints B -> C carries nothing


@pytest.mark.parametrize("hint", [-1, 65, True, 2.0, "3"])
def test_a_hint_is_an_exponent_from_0_to_64(hint: object) -> None:
    with pytest.raises(ValueError, match="exponent"):
        RouteIndex([(A, B, 1, 1)], hints={(A, B): hint})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "edges",
    [
        [(A, A, 1, 1)],
        [(A, B, 1, 1), (B, A, 1, 1)],
        [(A, B, -1, 1)],
        [(A, B, 1, True)],
        [(A, 7, 1, 1)],
    ],
)
def test_an_index_refuses_edges_that_are_not_one_per_pair_with_limits_in_cents(edges: list[object]) -> None:
    with pytest.raises(ValueError):
        RouteIndex(edges)  # type: ignore[arg-type]


def test_queries_refuse_a_limit_below_one_and_a_negative_amount() -> None:
    index = RouteIndex([(A, B, 1, 1)])
    for bad in ({"k": 0}, {"max_hops": 0}, {"amount": -1}):
        with pytest.raises(ValueError):
            index.routes(A, B, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        index.max_flow(A, B, max_hops=0)


def test_the_same_edges_in_any_order_give_the_same_answers_and_fewer_routes_are_a_prefix() -> None:
    rng = random.Random(11)
    members, edges = ref.random_edges(rng, 40, 120, high=5)  # few capacities: many ties
    shuffled = edges[:]
    rng.shuffle(shuffled)
    first, second = RouteIndex(edges), RouteIndex(shuffled)
    for _ in range(100):
        s, t = rng.choice(members), rng.choice(members)
        for kind in Kind:
            found = first.routes(s, t, k=6, kind=kind)
            assert found == second.routes(s, t, k=6, kind=kind)
            assert first.routes(s, t, k=3, kind=kind) == found[:3]
            search = first.shortest if kind is Kind.SHORTEST else first.widest
            assert search(s, t) == (found[0] if found else None)


# --- against brute force: every loop-free route enumerated by networkx ----------------------------
def compare_with_brute_force(rng: random.Random, members: list[str], edges: list[tuple[str, str, int, int]]) -> int:
    index = RouteIndex(edges)
    compared = 0
    for _ in range(8):
        s, t = rng.choice(members), rng.choice(members)
        max_hops, amount, k = rng.randint(1, 6), rng.choice([0, 0, 1, 3, 8]), rng.randint(1, 7)
        graph = ref.digraph(edges, at_least=max(1, amount))
        every = ref.simple_routes(graph, s, t, max_hops)
        for kind in Kind:
            expected = sorted(ref.order(graph, p, kind) for p in every)[:k]
            found = index.routes(s, t, k=k, kind=kind, amount=amount, max_hops=max_hops)
            assert [ref.order(graph, r.members, kind) for r in found] == expected, (s, t, kind, max_hops, amount)
            assert len({r.members for r in found}) == len(found)
            assert found == index.routes(s, t, k=k + 2, kind=kind, amount=amount, max_hops=max_hops)[:k]
            for route in found:
                check_route(graph, route, s, t, max_hops=max_hops, amount=amount)
            compared += len(expected)
    return compared


def test_k_routes_are_the_first_k_loop_free_routes_in_the_documented_order_on_random_graphs() -> None:
    rng = random.Random(20261126)
    compared = 0
    for _ in range(400):
        n = rng.randint(2, 9)
        members, edges = ref.random_edges(rng, n, rng.randint(1, n * (n - 1) // 2), high=rng.choice([3, 20, 10_000]))
        compared += compare_with_brute_force(rng, members, edges)
    assert compared > 5000  # the graphs were not all trivial


def test_k_routes_beyond_the_count_of_routes_are_all_of_them() -> None:
    rng = random.Random(5)
    for _ in range(50):
        members, edges = ref.random_edges(rng, 7, 14, high=9)
        graph, index = ref.digraph(edges), RouteIndex(edges)
        s, t = rng.sample(members, 2)
        every = {tuple(p) for p in ref.simple_routes(graph, s, t, 4)}
        assert {r.members for r in index.routes(s, t, k=len(every) + 3, max_hops=4)} == every


def test_credit_loops_are_every_loop_through_the_member_in_order() -> None:
    rng = random.Random(7)
    for _ in range(150):
        members, edges = ref.random_edges(rng, rng.randint(3, 8), 14, high=9)
        graph, index = ref.digraph(edges), RouteIndex(edges)
        m, max_len = rng.choice(members), rng.randint(3, 6)
        # networkx's own enumeration of cycles, turned to start at m.
        loops = []
        for cycle in nx.simple_cycles(graph, length_bound=max_len):
            if m in cycle and len(cycle) >= 3:
                at = cycle.index(m)
                loops.append([*cycle[at:], *cycle[:at], m])
        for kind in Kind:
            found = index.cycles_through(m, max_len=max_len, k=len(loops) + 1, kind=kind)
            assert sorted(r.members for r in found) == sorted(tuple(loop) for loop in loops)
            assert [ref.order(graph, r.members, kind) for r in found] == sorted(
                ref.order(graph, p, kind) for p in loops
            )


graphs = st.integers(2, 8).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 12), st.integers(0, 12)),
            max_size=n * (n - 1) // 2,
            unique_by=lambda e: frozenset(e[:2]),
        ).map(lambda edges: [e for e in edges if e[0] != e[1]]),
    )
)


@settings(max_examples=300, deadline=None)
@given(graph=graphs, data=st.data())
def test_shortest_and_widest_are_the_first_routes_brute_force_finds(
    graph: tuple[int, list[tuple[int, int, int, int]]], data: st.DataObject
) -> None:
    n, raw = graph
    members = ref.keys(n)
    edges = [(members[i], members[j], x, y) for i, j, x, y in raw]
    index = RouteIndex(edges)
    s, t = data.draw(st.sampled_from(members)), data.draw(st.sampled_from(members))
    max_hops, amount = data.draw(st.integers(1, 6)), data.draw(st.integers(0, 13))
    digraph = ref.digraph(edges, at_least=max(1, amount))
    every = ref.simple_routes(digraph, s, t, max_hops)
    for kind, search in ((Kind.SHORTEST, index.shortest), (Kind.WIDEST, index.widest)):
        route = search(s, t, amount=amount, max_hops=max_hops)
        if not every:
            assert route is None
            continue
        assert route is not None
        check_route(digraph, route, s, t, max_hops=max_hops, amount=amount)
        assert ref.order(digraph, route.members, kind) == min(ref.order(digraph, p, kind) for p in every)


# --- against networkx on larger graphs -------------------------------------------------------------
def larger_graphs(seed: int, count: int) -> list[tuple[list[str], list[tuple[str, str, int, int]]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.randint(30, 300)
        out.append(ref.random_edges(rng, n, rng.randint(n, 4 * n), high=rng.choice([5, 100, 10**6]), one_way=0.3))
    return out


def test_shortest_hops_equal_networkx_hop_limited_search_on_larger_graphs() -> None:
    rng = random.Random(1)
    found = 0
    for members, edges in larger_graphs(1, 40):
        index = RouteIndex(edges)
        for _ in range(25):
            s, t = rng.sample(members, 2)
            max_hops, amount = rng.randint(1, 7), rng.choice([0, 0, 3, 50])
            graph = ref.digraph(edges, at_least=max(1, amount))
            route = index.shortest(s, t, amount=amount, max_hops=max_hops)
            distance = ref.hop_limited_distance(graph, s, t, max_hops)
            assert (route.hops if route else None) == distance, (s, t, max_hops, amount)
            if route is not None:
                check_route(graph, route, s, t, max_hops=max_hops, amount=amount)
                # The widest of the routes that short: no route of that many hops is wider.
                wider = ref.carrying(graph, route.capacity + 1)
                assert ref.hop_limited_distance(wider, s, t, route.hops) is None
                found += 1
    assert found > 300


def test_widest_capacity_equals_the_networkx_reference_on_larger_graphs() -> None:
    rng = random.Random(2)
    found = 0
    for members, edges in larger_graphs(2, 30):
        index = RouteIndex(edges)
        for _ in range(15):
            s, t = rng.sample(members, 2)
            max_hops, amount = rng.randint(1, 7), rng.choice([0, 0, 3, 50])
            graph = ref.digraph(edges, at_least=max(1, amount))
            route = index.widest(s, t, amount=amount, max_hops=max_hops)
            width = ref.widest_width(graph, s, t, max_hops)
            assert (route.capacity if route else None) == width, (s, t, max_hops, amount)
            if route is not None:
                check_route(graph, route, s, t, max_hops=max_hops, amount=amount)
                # The fewest hops among the widest.
                assert route.hops == ref.hop_limited_distance(ref.carrying(graph, width), s, t, max_hops)
                found += 1
    assert found > 100


def test_k_routes_on_larger_graphs_are_distinct_loop_free_within_the_limit_and_sorted() -> None:
    rng = random.Random(3)
    for members, edges in larger_graphs(3, 15):
        index = RouteIndex(edges)
        graph = ref.digraph(edges)
        for _ in range(6):
            s, t = rng.sample(members, 2)
            for kind in Kind:
                found = index.routes(s, t, k=8, kind=kind, max_hops=5)
                assert len({r.members for r in found}) == len(found)
                orders = [ref.order(graph, r.members, kind) for r in found]
                assert orders == sorted(orders)
                for route in found:
                    check_route(graph, route, s, t, max_hops=5, amount=0)
                first = index.shortest(s, t) if kind is Kind.SHORTEST else index.widest(s, t)
                assert (found[0] if found else None) == first


def test_max_flow_equals_networkx_maximum_flow_value() -> None:
    rng = random.Random(4)
    nonzero = 0
    for n in [*range(2, 12), *[rng.randint(20, 150) for _ in range(60)]]:
        members, edges = ref.random_edges(rng, n, rng.randint(1, min(4 * n, n * (n - 1) // 2)), high=30, one_way=0.3)
        index, graph = RouteIndex(edges), ref.digraph(edges)
        for _ in range(4):
            s, t = rng.sample(members, 2)
            value = index.max_flow(s, t)
            assert value == ref.max_flow(graph, s, t), (s, t)
            nonzero += value > 0
    assert nonzero > 100


def test_a_hop_limited_max_flow_bounds_every_split_over_routes_within_the_limit() -> None:
    rng = random.Random(8)
    checked = 0
    for _ in range(60):
        n = rng.randint(5, 60)
        members, edges = ref.random_edges(rng, n, rng.randint(n, 3 * n), high=30, one_way=0.3)
        index, graph = RouteIndex(edges), ref.digraph(edges)
        graph.add_nodes_from(members)
        for _ in range(4):
            s, t = rng.sample(members, 2)
            max_hops = rng.randint(1, 5)
            bound = index.max_flow(s, t, max_hops=max_hops)
            # Exactly the max flow over the arcs on some route within the limit, as networkx finds it ...
            assert bound == ref.max_flow(ref.hop_pruned(graph, s, t, max_hops), s, t)
            assert bound <= index.max_flow(s, t)
            # ... so never below what routes within the limit carry together: pack some greedily.
            residual, packed = graph.copy(), 0
            while True:
                try:
                    path = nx.shortest_path(residual, s, t)
                except nx.NetworkXNoPath:
                    break
                if len(path) - 1 > max_hops:
                    break
                width = ref.bottleneck(residual, path)
                for u, v in itertools.pairwise(path):
                    residual[u][v]["capacity"] -= width
                    if residual[u][v]["capacity"] == 0:
                        residual.remove_edge(u, v)
                packed += width
            assert packed <= bound
            checked += packed > 0
    assert checked > 50


# --- the core stays plain --------------------------------------------------------------------------
def test_importing_the_router_pulls_in_neither_django_nor_celery() -> None:
    code = "import foaf.routing, sys; assert 'django' not in sys.modules and 'celery' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
