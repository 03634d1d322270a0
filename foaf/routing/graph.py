"""Routes on the public credit graph: limits only, never balances. Plain Python, no Django, no I/O.

The graph
---------
One index per currency. An edge is the tuple ``(a, b, limit_a_to_b, limit_b_to_a)`` of the relay's
public graph (docs/relay.md §4.1): ``limit_a_to_b`` is how much ``a`` may owe ``b``. It gives two
directed arcs, one per direction, each with its own capacity: ``a -> b`` with ``limit_a_to_b`` and
``b -> a`` with ``limit_b_to_a``.

A payment of X from payer P to payee Q along a route ``P = v0, v1, ..., vn = Q`` makes every
``vi`` owe ``vi+1`` X more (or be owed X less): P pays v1 with a debt, v1 pays v2, and so on until
Q is paid. So hop ``u -> v`` needs the direction ``u -> v`` to carry X, and its capacity is the
limit that lets ``u`` owe ``v``: for an edge stored as ``(a, b)``, ``u = a`` reads
``limit_a_to_b`` and ``u = b`` reads ``limit_b_to_a``. The relay knows no balances, so that limit
is the capacity as it would be with nothing owed either way: what a direction can really carry is
its limit minus what ``u`` already owes ``v``, plus what ``v`` owes ``u`` (between 0 and
``limit_u_to_v + limit_v_to_u``). Members may publish coarse capacity hints to say more (below).
An arc of capacity 0 carries nothing and is in no route.

Capacity hints
--------------
``hints`` maps a direction ``(u, v)`` to an exponent ``n`` (0..64): "what ``u -> v`` can carry now
is below 2**n" (n = 0: nothing). A power-of-two bucket says little about a balance, means the same
in every currency and at every scale, and needs publishing only when the bucket changes. The
router then reads that direction's capacity as ``min(2**n - 1, limit_u_to_v + limit_v_to_u)`` (the
second term is the most a direction can ever carry): a hint lowers a capacity that is used up, or
raises one where the other party owes ``u``. Hints for pairs without an edge are ignored.

Queries
-------
Every query takes a hop limit (``max_hops``, 5 by default, as the legacy app's path search) and an
``amount``: only arcs that can carry it are used (0: any arc that carries something). A route is
loop-free; its ``capacity`` is its bottleneck, the least capacity of its hops. Routes are ordered,
by kind:

- ``shortest``: fewest hops, then greatest capacity;
- ``widest``: greatest capacity, then fewest hops.

Among routes equal in that order, which comes first is fixed by the index (member ids, which
follow the keys) and not otherwise specified: the same edges, in any order, give the same answers.

- ``shortest`` / ``widest``: the first route in that order, or ``None``.
- ``routes``: the ``k`` first loop-free routes in that order (Yen's algorithm, below), each new
  one found from those before it, so ``routes(k=j)`` is the first ``j`` of ``routes(k=n)`` for
  j <= n, and ``shortest``/``widest`` are ``routes(k=1)``.
- ``cycles_through``: credit loops through a member: routes from the member back to itself of 3 to
  ``max_len`` hops, in the same order. ``shortest``/``widest``/``routes`` with payer == payee
  answer the same loops (2 hops, ``m -> x -> m``, is one relationship both ways, not a loop).
- ``max_flow``: the most a payment split over many routes could carry at once (Dinic). Each
  relationship is a pair of arcs that are each other's residual (paying one way frees the other),
  so the value is exact for these capacities. With ``max_hops``, only arcs on some route of at
  most ``max_hops`` hops are used: an **upper bound** of what routes within the hop limit can
  carry together (flow in that subgraph may still follow longer routes), and never below it.

Algorithms and their guarantees (V members, E arcs, C distinct capacities, H the hop limit)
-------------------------------------------------------------------------------------------
- The index: members get int ids in key order; per member, out-arcs and in-arcs sorted by capacity
  (greatest first), so "the arcs of u that carry c" is a prefix, found by bisection.
- Reachability at threshold c within H hops (``_meet``): breadth-first search from both ends by
  whole levels over arcs of capacity >= c, expanding the smaller frontier, with set operations.
  The first level at which the sides share members gives the exact fewest hops, and every shared
  member lies on a route of that length. O(V + E) worst case; in practice two balls of about half
  the distance.
- The widest of the fewest-hop routes (``_trace``): the routes of fewest hops form a layered graph
  through the shared members; one pass per side finds the greatest bottleneck to each shared
  member. O(arcs of that layered graph).
- ``shortest``: one search at the amount, then the widest of its fewest-hop routes. Exact.
- ``widest``: the greatest threshold (a capacity of the graph) at which the payer still reaches the
  payee within H hops. Monotone, so searched over the distinct capacities: a few tries just above
  the best route so far (each success jumps to the bottleneck of the widest fewest-hop route it
  found; a failure ends the search), then halving. The route found at the last successful
  threshold has the fewest hops among the widest. Exact; O(log C) searches at worst.
- ``routes``: Yen's k-shortest loop-free paths. Each spur search gets the hops left and the root's
  bottleneck as a ceiling on capacities, so it optimises the whole route's order (bottlenecks
  combine by min, not by sum); arcs already taken from the same root and the root's members are
  avoided. O(k H) spur searches, each a ``shortest``/``widest`` search.
- ``cycles_through``: a loop is a first hop ``m -> x`` and a route from ``x`` back to ``m`` that may
  not use the arc ``x -> m`` at once (so 3 hops at least): the best over all first hops (with
  pruning), and Yen's algorithm for more. O(deg(m)) searches for the first loop.
- ``max_flow``: Dinic's algorithm on the residual pairs, O(V^2 E) worst case.

An index is not changed by queries: one may be shared by several threads.
"""

from __future__ import annotations

import enum
import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

DEFAULT_MAX_HOPS = 5  # the legacy app's path search
MAX_HINT = 64
_CLIMBS = 4  # thresholds tried just above the best route so far, before halving
_INF = 1 << 80  # above any capacity (limits are at most 2**53 - 1, hinted ones below 2**64)

Edge = tuple[str, str, int, int]  # (a, b, limit_a_to_b, limit_b_to_a)
_NONE: frozenset[int] = frozenset()


class Kind(enum.StrEnum):
    """The order of routes (see the module docstring)."""

    SHORTEST = "shortest"  # fewest hops, then greatest capacity
    WIDEST = "widest"  # greatest capacity, then fewest hops


@dataclass(frozen=True)
class Route:
    """A loop-free route: ``members[0]`` pays ``members[-1]``. Hop i is ``members[i] -> members[i+1]``
    and ``capacities[i]`` is what that direction can carry (the limit letting members[i] owe
    members[i+1], unless a hint said otherwise)."""

    members: tuple[str, ...]
    capacities: tuple[int, ...]

    @property
    def hops(self) -> int:
        return len(self.capacities)

    @property
    def capacity(self) -> int:
        """The bottleneck: the most this route can carry."""
        return min(self.capacities)


@dataclass(frozen=True)
class _Search:
    """What a search may use: at most ``max_hops`` hops, arcs carrying ``floor``, capacities read as
    min(capacity, ``ceiling``), not through ``blocked``, not the source's arcs to ``excluded``."""

    max_hops: int
    floor: int
    ceiling: int = _INF
    blocked: Set[int] = _NONE
    excluded: Set[int] = _NONE


@dataclass(frozen=True)
class _Meeting:
    """Where the two sides of a search met: the levels of each side and the members found by both."""

    forward: list[set[int]]  # forward[i]: members first reached from the source in i hops
    backward: list[set[int]]  # backward[j]: members first reaching the target in j hops
    met: set[int]  # all of forward[-1] & backward[-1]


def _count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return value


def _capacities(edges: Iterable[Edge], hints: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], tuple[int, int]]:
    """(a, b) with a < b -> (capacity of a -> b, capacity of b -> a), checked, with the hints applied."""
    for direction, exponent in hints.items():
        if not isinstance(exponent, int) or isinstance(exponent, bool) or not 0 <= exponent <= MAX_HINT:
            raise ValueError(f"a hint is an exponent 0..{MAX_HINT}, got {exponent!r} for {direction!r}")
    pairs: dict[tuple[str, str], tuple[int, int]] = {}
    for edge in edges:
        a, b, limit_ab, limit_ba = edge
        if not isinstance(a, str) or not isinstance(b, str) or a == b:
            raise ValueError(f"an edge joins two different members (keys as strings), got {a!r}, {b!r}")
        _count(limit_ab, "limit_a_to_b")
        _count(limit_ba, "limit_b_to_a")
        if a > b:
            a, b, limit_ab, limit_ba = b, a, limit_ba, limit_ab
        if (a, b) in pairs:
            raise ValueError(f"two edges between {a} and {b}: one per pair and currency")
        pairs[a, b] = (limit_ab, limit_ba)
    for (a, b), (limit_ab, limit_ba) in pairs.items():
        hint_ab, hint_ba = hints.get((a, b)), hints.get((b, a))
        if hint_ab is not None or hint_ba is not None:
            most = limit_ab + limit_ba  # what a direction carries when the other side owes all it may
            pairs[a, b] = (
                limit_ab if hint_ab is None else min((1 << hint_ab) - 1, most),
                limit_ba if hint_ba is None else min((1 << hint_ba) - 1, most),
            )
    return pairs


class RouteIndex:
    """The routable graph of one currency, indexed for route queries. Build once, query many times."""

    def __init__(self, edges: Iterable[Edge], *, hints: Mapping[tuple[str, str], int] | None = None) -> None:
        pairs = _capacities(edges, hints or {})
        keys = sorted({key for pair in pairs for key in pair})
        ids = {key: i for i, key in enumerate(keys)}
        n = len(keys)
        out_arcs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        in_arcs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        capacity: dict[int, int] = {}
        flow_pairs: list[tuple[int, int, int, int]] = []
        for (a, b), (cap_ab, cap_ba) in pairs.items():
            u, v = ids[a], ids[b]
            for x, y, cap in ((u, v, cap_ab), (v, u, cap_ba)):
                if cap > 0:
                    out_arcs[x].append((-cap, y))
                    in_arcs[y].append((-cap, x))
                    capacity[x * n + y] = cap
            if cap_ab or cap_ba:
                flow_pairs.append((u, v, cap_ab, cap_ba))
        self._keys = keys
        self._ids = ids
        self._n = n
        self._capacity = capacity  # u * n + v -> capacity of u -> v (> 0)
        # Per member, greatest capacity first (then id): the other ends, and the capacities negated
        # (ascending, for bisection): the arcs carrying c are the first bisect_right(neg, -c).
        self._out_to, self._out_neg = _sorted_arcs(out_arcs)
        self._in_from, self._in_neg = _sorted_arcs(in_arcs)
        self._levels = sorted(set(capacity.values()))  # the thresholds worth trying
        self._least = self._levels[0] if self._levels else 1
        self._flow = _FlowArcs(n, flow_pairs)

    # --- the index --------------------------------------------------------------------------
    @property
    def members(self) -> int:
        """How many members have an edge."""
        return self._n

    @property
    def arcs(self) -> int:
        """How many directions can carry something (capacity > 0)."""
        return len(self._capacity)

    def __contains__(self, member: object) -> bool:
        return member in self._ids

    def capacity(self, payer: str, payee: str) -> int:
        """What the direction payer -> payee can carry (0 when there is no such edge)."""
        u, v = self._ids.get(payer), self._ids.get(payee)
        if u is None or v is None:
            return 0
        return self._capacity.get(u * self._n + v, 0)

    # --- queries ---------------------------------------------------------------------------
    def shortest(self, payer: str, payee: str, *, amount: int = 0, max_hops: int = DEFAULT_MAX_HOPS) -> Route | None:
        """The route of fewest hops (then greatest capacity) that carries ``amount``, or None."""
        found = self.routes(payer, payee, k=1, kind=Kind.SHORTEST, amount=amount, max_hops=max_hops)
        return found[0] if found else None

    def widest(self, payer: str, payee: str, *, amount: int = 0, max_hops: int = DEFAULT_MAX_HOPS) -> Route | None:
        """The route of greatest capacity (then fewest hops) within ``max_hops``, or None."""
        found = self.routes(payer, payee, k=1, kind=Kind.WIDEST, amount=amount, max_hops=max_hops)
        return found[0] if found else None

    def cycles_through(
        self, member: str, *, max_len: int = DEFAULT_MAX_HOPS, k: int = 1, kind: Kind = Kind.SHORTEST, amount: int = 0
    ) -> list[Route]:
        """Up to ``k`` credit loops through ``member`` (3 to ``max_len`` hops), best first."""
        return self.routes(member, member, k=k, kind=kind, amount=amount, max_hops=max_len)

    def routes(
        self,
        payer: str,
        payee: str,
        *,
        k: int = 3,
        kind: Kind = Kind.SHORTEST,
        amount: int = 0,
        max_hops: int = DEFAULT_MAX_HOPS,
    ) -> list[Route]:
        """Up to ``k`` loop-free routes that carry ``amount`` within ``max_hops``, best first (Yen)."""
        if k < 1 or max_hops < 1:
            raise ValueError("k and max_hops must be at least 1")
        kind = Kind(kind)
        floor = max(1, _count(amount, "amount"))
        s, t = self._ids.get(payer), self._ids.get(payee)
        if s is None or t is None:
            return []
        first = self._best(s, t, _Search(max_hops, floor), kind)
        if first is None:
            return []
        found = [first]
        seen = {tuple(first)}
        candidates: list[tuple[tuple[int, ...], list[int]]] = []
        while len(found) < k:
            previous = found[-1]
            for i in range(len(previous) - 1):
                root = previous[: i + 1]
                excluded = {path[i + 1] for path in found if len(path) > i + 1 and path[: i + 1] == root}
                if s == t and i == 1:
                    excluded.add(t)  # m -> x, then not x -> m at once: a loop has 3 hops at least
                blocked = set(root[:-1])
                blocked.discard(t)
                limits = _Search(max_hops - i, floor, self._bottleneck(root), blocked, excluded)
                spur = self._best(previous[i], t, limits, kind)
                if spur is None:
                    continue
                path = root[:-1] + spur
                if tuple(path) not in seen:
                    seen.add(tuple(path))
                    heapq.heappush(candidates, (self._order(path, kind), path))
            if not candidates:
                break
            found.append(heapq.heappop(candidates)[1])
        return [self._route(path) for path in found]

    def max_flow(self, payer: str, payee: str, *, max_hops: int | None = None) -> int:
        """The most one payment split over any routes could carry (Dinic). With ``max_hops``: over
        arcs on some route of at most that many hops only, an upper bound for routes within it."""
        if payer == payee:
            raise ValueError("a flow needs two different members")
        if max_hops is not None and max_hops < 1:
            raise ValueError("max_hops must be at least 1")
        s, t = self._ids.get(payer), self._ids.get(payee)
        if s is None or t is None:
            return 0
        flow = self._flow
        residual = flow.capacity[:]
        if max_hops is not None:
            # Keep an arc u -> v only if hops(s, u) + 1 + hops(v, t) <= max_hops. Every kept arc
            # ends within the payer's reach, so arcs out of members beyond it are never reached.
            from_s = self._distances(s, max_hops, forward=True)
            to_t = self._distances(t, max_hops, forward=False)
            beyond = max_hops + 1
            for u, hops in from_s.items():
                for e in flow.arcs[flow.start[u] : flow.start[u + 1]]:
                    if hops + 1 + to_t.get(flow.head[e], beyond) > max_hops:
                        residual[e] = 0
        return flow.max_flow(residual, s, t)

    # --- internals -------------------------------------------------------------------------
    def _route(self, path: list[int]) -> Route:
        n, cap, keys = self._n, self._capacity, self._keys
        hops = tuple(cap[path[i] * n + path[i + 1]] for i in range(len(path) - 1))
        return Route(tuple(keys[u] for u in path), hops)

    def _bottleneck(self, path: list[int]) -> int:
        n, cap = self._n, self._capacity
        return min((cap[path[i] * n + path[i + 1]] for i in range(len(path) - 1)), default=_INF)

    def _order(self, path: list[int], kind: Kind, ceiling: int = _INF) -> tuple[int, ...]:
        width = min(self._bottleneck(path), ceiling)
        hops = len(path) - 1
        lead = (hops, -width) if kind is Kind.SHORTEST else (-width, hops)
        return (*lead, *path)  # and then the ids, to keep the candidates' heap deterministic

    def _best(self, s: int, t: int, limits: _Search, kind: Kind) -> list[int] | None:
        """The first route s -> t in ``kind``'s order within ``limits``; s == t: a loop of 3 hops or more."""
        if s == t:
            return self._best_loop(s, limits, kind)
        meeting = self._meet(s, t, c=limits.floor, max_hops=limits.max_hops, limits=limits)
        if meeting is None:
            return None
        path = self._trace(meeting, limits.floor)  # the widest of the routes of fewest hops
        if kind is Kind.SHORTEST:
            return path
        levels = self._levels
        top = min(limits.ceiling, -self._out_neg[s][0], -self._in_neg[t][0])
        lo = bisect_right(levels, min(self._bottleneck(path), top))
        hi = bisect_right(levels, top) - 1
        tries = 0
        while lo <= hi:
            mid = lo if tries < _CLIMBS else (lo + hi) // 2
            tries += 1
            meeting = self._meet(s, t, c=levels[mid], max_hops=limits.max_hops, limits=limits)
            if meeting is None:
                hi = mid - 1
            else:
                path = self._trace(meeting, levels[mid])
                lo = bisect_right(levels, min(self._bottleneck(path), top))
        return path

    def _best_loop(self, m: int, limits: _Search, kind: Kind) -> list[int] | None:
        if limits.max_hops < 3:
            return None
        n, cap = self._n, self._capacity
        best: list[int] | None = None
        best_order: tuple[int, ...] | None = None
        spur_hops, floor = limits.max_hops - 1, limits.floor
        for x in self._out_to[m][: bisect_right(self._out_neg[m], -limits.floor)]:
            if x in limits.excluded or x in limits.blocked:
                continue
            ceiling = min(limits.ceiling, cap[m * n + x])
            if ceiling < floor:
                continue
            spur = self._best(x, m, _Search(spur_hops, floor, ceiling, limits.blocked, frozenset((m,))), kind)
            if spur is None:
                continue
            loop = [m, *spur]
            order = self._order(loop, kind, limits.ceiling)
            if best_order is None or order < best_order:
                best, best_order = loop, order
                # Nothing longer (shortest) or narrower (widest) can win from here on.
                if kind is Kind.SHORTEST:
                    spur_hops = len(spur) - 1
                else:
                    floor = min(self._bottleneck(loop), limits.ceiling)
        return best

    def _meet(self, s: int, t: int, *, c: int, max_hops: int, limits: _Search) -> _Meeting | None:
        """Search from both ends by levels over arcs of capacity >= c (s != t); None beyond max_hops.

        The first time the sides share members, every shared member lies on a route of the fewest
        hops (the levels of both sides add up to it). The source never enters the backward side,
        so an excluded arc s -> x cannot be used from there either.
        """
        out_to, in_from = self._out_to, self._in_from
        if c > self._least:  # only a prefix of each member's arcs carries c
            out_neg, in_neg = self._out_neg, self._in_neg
            neg = -c

            def ahead(front: set[int]) -> set[int]:
                return set().union(*[out_to[u][: bisect_right(out_neg[u], neg)] for u in front])

            def behind(back: set[int]) -> set[int]:
                return set().union(*[in_from[v][: bisect_right(in_neg[v], neg)] for v in back])

        else:  # every arc carries c

            def ahead(front: set[int]) -> set[int]:
                return set().union(*map(out_to.__getitem__, front))

            def behind(back: set[int]) -> set[int]:
                return set().union(*map(in_from.__getitem__, back))

        blocked = limits.blocked
        front = ahead({s})
        front -= limits.excluded
        front -= blocked
        forward, backward = [{s}, front], [{t}]
        if t in front:
            return _Meeting(forward, backward, {t})
        forward_seen, backward_seen = front | {s}, {t}
        back = backward[0]
        hops = 1
        while hops < max_hops and front and back:
            if len(front) <= len(back):  # expand the smaller side
                reached = ahead(front)
                reached -= forward_seen
                reached -= blocked
                forward_seen |= reached
                forward.append(reached)
                front = reached
                met = reached & backward_seen
            else:
                reached = behind(back)
                reached -= backward_seen
                reached.discard(s)
                reached -= blocked
                backward_seen |= reached
                backward.append(reached)
                back = reached
                met = reached & forward_seen
            hops += 1
            if met:
                return _Meeting(forward, backward, met)
        return None

    def _trace(self, meeting: _Meeting, c: int) -> list[int]:
        """The widest of the routes of fewest hops that the meeting found (arcs of capacity >= c).

        Every such route crosses the forward levels 0..i and then the backward levels j..0 through
        a shared member. Each side keeps, level by level, only the members on one of them, finds
        the greatest bottleneck from its end to each shared member, and the two join at the shared
        member where the narrower side is widest (the least id on a tie, the least id at every step
        too): the same index always answers the same route.
        """
        met = meeting.met
        width_in, via_in = self._widest_side(meeting.forward, met, c, forward=True)
        width_out, via_out = self._widest_side(meeting.backward, met, c, forward=False)
        best_width, best = -1, -1
        for x in met:
            width = min(width_in[x], width_out[x])
            if width > best_width or (width == best_width and x < best):
                best_width, best = width, x
        path = [best]
        for via in via_in:
            path.append(via[path[-1]])
        path.reverse()
        for via in via_out:
            path.append(via[path[-1]])
        return path

    def _widest_side(
        self, levels: list[set[int]], met: set[int], c: int, *, forward: bool
    ) -> tuple[dict[int, int], list[dict[int, int]]]:
        """One side of a meeting: for each shared member, the greatest bottleneck of a route of
        ``len(levels) - 1`` hops between it and this side's end, and per layer, from the shared
        members outward, the member chosen one step nearer the end."""
        n, capacity = self._n, self._capacity
        toward, toward_neg = (self._in_from, self._in_neg) if forward else (self._out_to, self._out_neg)
        neg = -c
        every = c <= self._least
        steps: list[dict[int, set[int]]] = []  # per layer outward: member -> its members one step nearer
        layer = met
        for level in reversed(levels[:-1]):
            nearer_of: dict[int, set[int]] = {}
            for x in layer:
                nearer_of[x] = level.intersection(toward[x] if every else toward[x][: bisect_right(toward_neg[x], neg)])
            steps.append(nearer_of)
            layer = set().union(*nearer_of.values())
        width = dict.fromkeys(levels[0], _INF)
        chosen: list[dict[int, int]] = []
        for nearer_of in reversed(steps):
            reached: dict[int, int] = {}
            via: dict[int, int] = {}
            for x, nearer in nearer_of.items():
                best_width, best = -1, -1
                for y in nearer:
                    through = min(width[y], capacity[y * n + x] if forward else capacity[x * n + y])
                    if through > best_width or (through == best_width and y < best):
                        best_width, best = through, y
                reached[x] = best_width
                via[x] = best
            width = reached
            chosen.append(via)
        chosen.reverse()
        return width, chosen

    def _distances(self, origin: int, depth: int, *, forward: bool) -> dict[int, int]:
        """Hops from (forward) or to (backward) ``origin`` over arcs that carry something, up to ``depth``."""
        adjacency = self._out_to if forward else self._in_from
        distance = {origin: 0}
        front: Iterable[int] = (origin,)
        for hop in range(1, depth + 1):
            reached = set().union(*map(adjacency.__getitem__, front))
            reached.difference_update(distance)
            if not reached:
                break
            distance.update(dict.fromkeys(reached, hop))
            front = reached
        return distance


def _sorted_arcs(arcs: list[list[tuple[int, int]]]) -> tuple[list[list[int]], list[list[int]]]:
    ends: list[list[int]] = []
    negated: list[list[int]] = []
    for listed in arcs:
        listed.sort()
        ends.append([end for _, end in listed])
        negated.append([neg for neg, _ in listed])
    return ends, negated


class _FlowArcs:
    """The arcs for max flow: arc 2i is u -> v and 2i+1 is v -> u of the same relationship, each the
    other's residual; per member, its arcs' numbers (``arcs[start[u]:start[u + 1]]``)."""

    def __init__(self, n: int, pairs: list[tuple[int, int, int, int]]) -> None:
        self.n = n
        self.head: list[int] = []
        self.capacity: list[int] = []
        arcs_of: list[list[int]] = [[] for _ in range(n)]
        for u, v, cap_uv, cap_vu in pairs:
            arcs_of[u].append(len(self.head))
            self.head.append(v)
            self.capacity.append(cap_uv)
            arcs_of[v].append(len(self.head))
            self.head.append(u)
            self.capacity.append(cap_vu)
        self.arcs: list[int] = []
        self.start = [0] * (n + 1)
        for u in range(n):
            self.arcs.extend(arcs_of[u])
            self.start[u + 1] = len(self.arcs)

    def max_flow(self, residual: list[int], s: int, t: int) -> int:
        """Dinic: blocking flows along the levels of a breadth-first search, until t is out of reach."""
        total = 0
        while True:
            level = self._levels(residual, s, t)
            if level[t] < 0:
                return total
            total += self._blocking_flow(residual, level, s, t)

    def _levels(self, residual: list[int], s: int, t: int) -> list[int]:
        """Hops from s over arcs with residual capacity, no further than t's."""
        head, arcs, start = self.head, self.arcs, self.start
        level = [-1] * self.n
        level[s] = 0
        front = [s]
        while front and level[t] < 0:
            reached: list[int] = []
            for u in front:
                next_level = level[u] + 1
                for e in arcs[start[u] : start[u + 1]]:
                    if residual[e] > 0 and level[head[e]] < 0:
                        level[head[e]] = next_level
                        reached.append(head[e])
            front = reached
        return level

    def _blocking_flow(self, residual: list[int], level: list[int], s: int, t: int) -> int:
        """Depth-first along rising levels, each member's current arc kept; dead ends leave the levels."""
        head, arcs, start = self.head, self.arcs, self.start
        cursor = start[:]
        stack: list[int] = []  # the arcs from s to u
        total = 0
        u = s
        while True:
            if u == t:
                pushed = min(residual[e] for e in stack)
                for e in stack:
                    residual[e] -= pushed
                    residual[e ^ 1] += pushed
                total += pushed
                stack.clear()
                u = s
                continue
            end, i, next_level = start[u + 1], cursor[u], level[u] + 1
            while i < end and not (residual[arcs[i]] > 0 and level[head[arcs[i]]] == next_level):
                i += 1
            cursor[u] = i
            if i < end:
                stack.append(arcs[i])
                u = head[arcs[i]]
            elif u == s:
                return total
            else:
                level[u] = -1
                u = head[stack.pop() ^ 1]
                cursor[u] += 1
