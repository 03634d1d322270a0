"""Pathfinding on the relay's public credit graph (docs/routing.md): plain Python, no Django, no I/O.

``RouteIndex`` is built once from a currency's routable edges ``(a, b, limit_a_to_b, limit_b_to_a)``
(and optional capacity hints) and answers shortest and widest routes within a hop limit, the k
best loop-free routes, credit loops through a member, and a max-flow bound.
"""

from foaf.routing.graph import DEFAULT_MAX_HOPS, MAX_HINT, Edge, Kind, Route, RouteIndex

__all__ = ["DEFAULT_MAX_HOPS", "MAX_HINT", "Edge", "Kind", "Route", "RouteIndex"]
