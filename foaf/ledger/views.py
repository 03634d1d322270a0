"""The routing API, ``/api/routing/v1/...`` (docs/routing.md "The service"). Thin: authenticate,
parse, call ``foaf.ledger.hosting``, render.

Starting a payment or a credit loop for hosted members is the operator's (a staff user, by
session or HTTP basic authentication): members act through the apps' API, which calls the same
services. A payment's progress is readable by the operator and, by a signed request (docs/relay.md
§13), by any party on the route.
"""

from __future__ import annotations

import json
import time
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from foaf.bilateral.jcs import MAX_MESSAGE_BYTES, MAX_SAFE_INTEGER
from foaf.errors import ApiError, ErrorCode
from foaf.ledger import hosting
from foaf.ledger.models import Party
from foaf.ledger.services import LedgerError
from foaf.routing.errors import RouteError
from foaf.routing.node import MAX_HOPS
from relay import auth

HEX32 = r"^[0-9a-f]{64}$"


class PaymentBody(serializers.Serializer[Any]):
    payer = serializers.RegexField(HEX32)
    payee = serializers.RegexField(HEX32)
    amount = serializers.IntegerField(min_value=1, max_value=MAX_SAFE_INTEGER)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    memo = serializers.CharField(max_length=256, default="", allow_blank=True)


class LoopBody(serializers.Serializer[Any]):
    members = serializers.ListField(child=serializers.RegexField(HEX32), min_length=4, max_length=MAX_HOPS + 1)
    amount = serializers.IntegerField(min_value=1, max_value=MAX_SAFE_INTEGER)
    currency = serializers.RegexField(r"^[A-Z]{3}$")


class RoutingView(APIView):
    authentication_classes = (SessionAuthentication, BasicAuthentication)
    permission_classes = (AllowAny,)

    def staff_only(self, request: Request) -> None:
        if not (request.user and request.user.is_authenticated):
            raise ApiError(ErrorCode.NOT_AUTHENTICATED, "sign in as the operator", http_status=401)
        if not request.user.is_staff:
            raise ApiError(ErrorCode.PERMISSION_DENIED, "only the operator starts payments here", http_status=403)

    def body(self, request: Request, serializer: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        raw = request.body
        if len(raw) > MAX_MESSAGE_BYTES:
            raise ApiError(ErrorCode.INVALID_REQUEST, "the body is too large")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(ErrorCode.INVALID_JSON, "the body is not JSON") from None
        parsed = serializer(data=data)
        parsed.is_valid(raise_exception=True)
        return dict(parsed.validated_data)


def _hosted(party_id: str) -> Party:
    party = Party.objects.filter(party_id=party_id).first()
    if party is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"no party {party_id[:16]}", http_status=404)
    if not hosting.is_hosted(party):
        raise ApiError(
            ErrorCode.NOT_HOSTED, "this member holds its own key: it starts payments itself", http_status=409
        )
    return party


def _started(started: hosting.Started) -> Response:
    progress = hosting.payment_progress(started.route_hash)
    return Response(progress, status=status.HTTP_202_ACCEPTED)


def _refused(e: RouteError | LedgerError) -> ApiError:
    if isinstance(e, RouteError) and e.code == "NO_ROUTE":
        return ApiError(ErrorCode.NO_ROUTE, e.detail, http_status=422)
    return ApiError(ErrorCode.ROUTE_REFUSED, str(e), http_status=422, details={"reason": str(e.code)})


class PaymentsView(RoutingView):
    @extend_schema(
        summary="Start a multi-hop payment between two hosted members (operator)",
        request=PaymentBody,
        responses={202: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        self.staff_only(request)
        fields = self.body(request, PaymentBody)
        payer, payee = _hosted(fields["payer"]), _hosted(fields["payee"])
        try:
            started = hosting.payment_start(
                payer, payee, fields["amount"], fields["currency"], now=int(time.time()), memo=fields["memo"]
            )
        except (RouteError, LedgerError) as e:
            raise _refused(e) from None
        return _started(started)


class LoopsView(RoutingView):
    @extend_schema(
        summary="Cancel debt around a credit loop of hosted members (operator)",
        request=LoopBody,
        responses={202: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        self.staff_only(request)
        fields = self.body(request, LoopBody)
        members = tuple(fields["members"])
        if members[0] != members[-1]:
            raise ApiError(ErrorCode.INVALID_REQUEST, "a loop starts and ends with the same member")
        member = _hosted(members[0])
        try:
            started = hosting.loop_start(member, fields["amount"], fields["currency"], members, now=int(time.time()))
        except (RouteError, LedgerError) as e:
            raise _refused(e) from None
        return _started(started)


class PaymentView(RoutingView):
    @extend_schema(summary="A payment's progress: outcome, reason, and each hop", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, route_hash: str) -> Response:
        progress = hosting.payment_progress(route_hash)
        if not (request.user and request.user.is_authenticated and request.user.is_staff):
            signed = auth.authenticate(request, body=b"")
            party = Party.objects.filter(public_key=signed.key).first()
            on_route = (
                progress is not None
                and party is not None
                and any(party.party_id in (h["from"], h["to"]) for h in progress["hops"])
            )
            if not on_route:
                raise ApiError(ErrorCode.NOT_FOUND, "no payment of yours with this route hash", http_status=404)
        if progress is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no payment with this route hash", http_status=404)
        return Response(progress)
