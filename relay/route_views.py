"""Routes over the public graph, ``/relay/v1/routes`` and ``/relay/v1/maxflow`` (docs/relay.md §17).

Thin, like ``relay.views``: check the query, ask the route index of the currency (``relay.routes``),
render. Every figure is a limit, or a capacity computed from limits and the members' capacity hints
(a power-of-two bucket each, docs/relay.md §4.7): the relay holds no balance, and nothing here is one.
"""

from __future__ import annotations

import itertools
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from foaf.errors import ApiError, ErrorCode
from foaf.routing import DEFAULT_MAX_HOPS, Kind, Route, RouteIndex
from relay import routes
from relay.protocol import relationship_id
from relay.views import HEX32, RelayView

MAX_HOPS = 10
MAX_ROUTES = 10
MAX_UINT = 2**53 - 1


class _Between(serializers.Serializer[Any]):
    currency = serializers.RegexField(r"^[A-Z]{3}$")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # `from` is a Python keyword.
        fields["from"] = serializers.RegexField(f"^{HEX32}$")
        fields["to"] = serializers.RegexField(f"^{HEX32}$")
        return fields


class RoutesQuery(_Between):
    amount = serializers.IntegerField(min_value=0, max_value=MAX_UINT, required=False, default=0)
    max_hops = serializers.IntegerField(min_value=1, max_value=MAX_HOPS, required=False, default=DEFAULT_MAX_HOPS)
    k = serializers.IntegerField(min_value=1, max_value=MAX_ROUTES, required=False, default=3)
    kind = serializers.ChoiceField(choices=[kind.value for kind in Kind], required=False, default=Kind.SHORTEST.value)


class MaxFlowQuery(_Between):
    max_hops = serializers.IntegerField(min_value=0, max_value=MAX_HOPS, required=False, default=DEFAULT_MAX_HOPS)


def _query(serializer: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    checked = serializer(data=request.query_params)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


def _members_known(index: RouteIndex, query: dict[str, Any]) -> None:
    for field in ("from", "to"):
        if query[field] not in index:
            raise ApiError(
                ErrorCode.ROUTE_UNKNOWN_MEMBER,
                f"The member `{field}` has no routable relationship in {query['currency']} on this relay.",
                http_status=404,
                details={"field": field},
            )


def route_json(route: Route, currency: str) -> dict[str, Any]:
    steps = []
    for (payer, payee), capacity in zip(itertools.pairwise(route.members), route.capacities, strict=True):
        a, b = sorted((payer, payee))
        steps.append(
            {"from": payer, "to": payee, "relationship": relationship_id(a, b, currency), "capacity": capacity}
        )
    return {"hops": route.hops, "capacity": route.capacity, "members": list(route.members), "steps": steps}


class RoutesView(RelayView):
    @extend_schema(
        summary="Candidate routes between two members over the public graph's limits",
        parameters=[RoutesQuery],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        query = _query(RoutesQuery, request)
        snapshot = routes.route_index(query["currency"])
        _members_known(snapshot.index, query)
        found = snapshot.index.routes(
            query["from"],
            query["to"],
            k=query["k"],
            kind=Kind(query["kind"]),
            amount=query["amount"],
            max_hops=query["max_hops"],
        )
        return Response(
            {
                "from": query["from"],
                "to": query["to"],
                "currency": query["currency"],
                "kind": query["kind"],
                "max_hops": query["max_hops"],
                "min_capacity": max(1, query["amount"]),
                "cursor": snapshot.head.cursor,
                "routes": [route_json(route, query["currency"]) for route in found],
            }
        )


class MaxFlowView(RelayView):
    @extend_schema(
        summary="The most one payment could carry split over routes between two members (an upper bound)",
        parameters=[MaxFlowQuery],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        query = _query(MaxFlowQuery, request)
        if query["from"] == query["to"]:
            raise ApiError(ErrorCode.ROUTE_SAME_MEMBER, "A flow needs two different members.", details={"field": "to"})
        snapshot = routes.route_index(query["currency"])
        _members_known(snapshot.index, query)
        max_hops = query["max_hops"] or None
        return Response(
            {
                "from": query["from"],
                "to": query["to"],
                "currency": query["currency"],
                "max_hops": max_hops,
                "max_flow": snapshot.index.max_flow(query["from"], query["to"], max_hops=max_hops),
                "cursor": snapshot.head.cursor,
            }
        )
