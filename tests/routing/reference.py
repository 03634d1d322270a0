"""What the router must answer, computed another way: networkx, and brute force on small graphs.

Nothing here shares code with ``foaf.routing``: graphs are networkx ``DiGraph``s built from the
same edge tuples with the direction rule written out again (a -> b carries limit_a_to_b).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import networkx as nx

from foaf.routing import Edge

Key = tuple[int, int]


def keys(n: int) -> list[str]:
    """Member keys that sort like their numbers (as relay keys sort as hex strings)."""
    return [f"{i:064x}" for i in range(n)]


def random_edges(
    rng: random.Random, n: int, m: int, *, high: int = 20, one_way: float = 0.2
) -> tuple[list[str], list[Edge]]:
    """m distinct pairs among n members; each direction's limit 1..high, or 0 with probability one_way."""
    members = keys(n)
    pairs = rng.sample(list(itertools.combinations(range(n), 2)), min(m, n * (n - 1) // 2))
    edges: list[Edge] = []
    for i, j in pairs:
        a, b = (members[i], members[j]) if rng.random() < 0.5 else (members[j], members[i])  # either order
        limits = [0 if rng.random() < one_way else rng.randint(1, high) for _ in range(2)]
        edges.append((a, b, limits[0], limits[1]))
    return members, edges


def digraph(edges: Iterable[Edge], *, at_least: int = 1) -> nx.DiGraph:
    """The directions that can carry ``at_least``: a -> b with limit_a_to_b, b -> a with limit_b_to_a."""
    graph = nx.DiGraph()
    for a, b, limit_ab, limit_ba in edges:
        graph.add_nodes_from((a, b))
        if limit_ab >= at_least:
            graph.add_edge(a, b, capacity=limit_ab)
        if limit_ba >= at_least:
            graph.add_edge(b, a, capacity=limit_ba)
    return graph


def bottleneck(graph: nx.DiGraph, path: list[str] | tuple[str, ...]) -> int:
    return min(int(graph[u][v]["capacity"]) for u, v in itertools.pairwise(path))


def simple_routes(graph: nx.DiGraph, s: str, t: str, max_hops: int) -> list[list[str]]:
    """Every loop-free route s -> t of at most max_hops hops; s == t: every loop of 3..max_hops hops."""
    if s not in graph or t not in graph:
        return []
    if s != t:
        return [list(p) for p in nx.all_simple_paths(graph, s, t, cutoff=max_hops)]
    loops = []
    for x in graph.successors(s):
        for p in nx.all_simple_paths(graph, x, s, cutoff=max_hops - 1):
            if len(p) >= 3:  # x ... s of 2 hops or more: the loop has 3 or more
                loops.append([s, *p])
    return loops


def order(graph: nx.DiGraph, path: list[str] | tuple[str, ...], kind: str) -> Key:
    """The documented order: shortest = (hops, -capacity), widest = (-capacity, hops)."""
    hops, width = len(path) - 1, bottleneck(graph, path)
    return (hops, -width) if kind == "shortest" else (-width, hops)


def hop_limited_distance(graph: nx.DiGraph, s: str, t: str, max_hops: int) -> int | None:
    """networkx's hop-limited breadth-first search."""
    if s not in graph or t not in graph:
        return None
    return nx.single_source_shortest_path_length(graph, s, cutoff=max_hops).get(t)


def carrying(graph: nx.DiGraph, at_least: int) -> nx.DiGraph:
    """A view of the arcs that carry ``at_least``."""
    return nx.subgraph_view(graph, filter_edge=lambda u, v: graph[u][v]["capacity"] >= at_least)


def widest_width(graph: nx.DiGraph, s: str, t: str, max_hops: int) -> int | None:
    """The greatest c such that t is within max_hops of s over arcs carrying c: every capacity
    tried, from the greatest down, with networkx's hop-limited search on the arcs left."""
    for c in sorted({int(c) for _, _, c in graph.edges(data="capacity")}, reverse=True):
        if hop_limited_distance(carrying(graph, c), s, t, max_hops) is not None:
            return c
    return None


def max_flow(graph: nx.DiGraph, s: str, t: str) -> int:
    if s not in graph or t not in graph:
        return 0
    return int(nx.maximum_flow_value(graph, s, t))


def hop_pruned(graph: nx.DiGraph, s: str, t: str, max_hops: int) -> nx.DiGraph:
    """The arcs u -> v with hops(s, u) + 1 + hops(v, t) <= max_hops: those on some route within the limit."""
    from_s = nx.single_source_shortest_path_length(graph, s, cutoff=max_hops)
    to_t = nx.single_source_shortest_path_length(graph.reverse(copy=False), t, cutoff=max_hops)
    kept = nx.DiGraph()
    kept.add_nodes_from((s, t))
    for u, v, c in graph.edges(data="capacity"):
        if u in from_s and v in to_t and from_s[u] + 1 + to_t[v] <= max_hops:
            kept.add_edge(u, v, capacity=c)
    return kept
