"""Anchoring's HTTP API, ``/api/anchoring/v1/...`` (docs/anchoring.md). Thin: authenticate, parse,
call a service, render.

A party signs each request with its current key exactly as it signs relay requests
(``relay.auth``, docs/relay.md §13: key, timestamp, nonce and signature headers over the method,
path, body and origin). The key must be a party's current key; a party sees only its own requests.
Errors use the project's one format (``foaf.errors``).
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anchoring.models import AnchorRequest, SettlementRequest
from anchoring.services import anchor_request_create, proof_for
from anchoring.settlement import (
    settlement_advance,
    settlement_entry_submit,
    settlement_package,
    settlement_request_create,
)
from foaf import bilateral as core
from foaf.bilateral.jcs import MAX_MESSAGE_BYTES, MAX_SAFE_INTEGER
from foaf.errors import ApiError, ErrorCode
from foaf.ledger.models import Party, Relationship
from relay import auth


def _party(request: Request, body: bytes) -> Party:
    signed = auth.authenticate(request, body=body)
    party = Party.objects.filter(public_key=signed.key).first()
    if party is None:
        raise ApiError(ErrorCode.PERMISSION_DENIED, "this key is not the current key of a party here", http_status=403)
    return party


def render_request(row: AnchorRequest) -> dict[str, Any]:
    return {
        "id": row.pk,
        "channel": row.relationship.channel_id,
        "seq": row.seq,
        "state_hash": row.state_hash,
        "urgent": row.urgent,
        "status": row.status,
        "created": row.created_at.isoformat(),
    }


class AnchorBody(serializers.Serializer[Any]):
    channel = serializers.RegexField(r"^[0-9a-f]{64}$")
    seq = serializers.IntegerField(min_value=0, max_value=MAX_SAFE_INTEGER)
    urgent = serializers.BooleanField(default=False)


class AnchoringView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class RequestsView(AnchoringView):
    @extend_schema(
        summary="Ask for a state of one of your relationships to be anchored (signed request)",
        request=AnchorBody,
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        body = request.body
        if len(body) > MAX_MESSAGE_BYTES:
            raise ApiError(ErrorCode.INVALID_REQUEST, "the body is too large")
        party = _party(request, body)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(ErrorCode.INVALID_JSON, "the body is not JSON") from None
        parsed = AnchorBody(data=data)
        parsed.is_valid(raise_exception=True)
        fields = parsed.validated_data
        relationship = Relationship.objects.filter(channel_id=fields["channel"]).first()
        if relationship is None:
            raise ApiError(ErrorCode.ANCHOR_UNKNOWN_STATE, "no relationship with this channel id here", http_status=404)
        row, created = anchor_request_create(
            party=party, relationship=relationship, seq=fields["seq"], urgent=fields["urgent"]
        )
        return Response(render_request(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _own(request: Request, request_id: int) -> AnchorRequest:
    party = _party(request, b"")
    row = AnchorRequest.objects.select_related("relationship").filter(pk=request_id, party=party).first()
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no such anchor request of yours", http_status=404)
    return row


class RequestView(AnchoringView):
    @extend_schema(summary="One of your anchor requests (signed request)", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, request_id: int) -> Response:
        return Response(render_request(_own(request, request_id)))


class ProofView(AnchoringView):
    @extend_schema(
        summary="The inclusion proof of an anchored request (signed request; docs/spec/anchoring.md §4)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, request_id: int) -> Response:
        return Response(proof_for(_own(request, request_id)))


# --- settlement (docs/anchoring.md "Settlement", docs/spec/settlement.md) ------------------------
class SettlementBody(serializers.Serializer[Any]):
    channel = serializers.RegexField(r"^[0-9a-f]{64}$")


class EntryBody(serializers.Serializer[Any]):
    entry = serializers.JSONField()


def render_settlement(row: SettlementRequest) -> dict[str, Any]:
    return {
        "id": row.pk,
        "channel": row.relationship.channel_id,
        "status": row.status,
        "custodial": row.custodial,
        "seq": row.seq,
        "state_hash": row.state_hash or None,
        "anchor_request": row.anchor_request_id,
        "error": row.error or None,
        "created": row.created_at.isoformat(),
        "ready": row.ready_at.isoformat() if row.ready_at else None,
    }


def _json_body(request: Request) -> tuple[Party, Any]:
    body = request.body
    if len(body) > MAX_MESSAGE_BYTES:
        raise ApiError(ErrorCode.INVALID_REQUEST, "the body is too large")
    party = _party(request, body)
    try:
        return party, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(ErrorCode.INVALID_JSON, "the body is not JSON") from None


def _settlement(party: Party, settlement_id: int) -> SettlementRequest:
    """A settlement request of a relationship `party` is in (either party may read it)."""
    row = (
        SettlementRequest.objects.select_related("relationship", "requested_by", "anchor_request")
        .filter(pk=settlement_id)
        .filter(Q(relationship__party_a=party) | Q(relationship__party_b=party))
        .first()
    )
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no such settlement of a relationship of yours", http_status=404)
    return row


class SettlementsView(AnchoringView):
    @extend_schema(
        summary="Ask for one of your relationships to be settled on chain (signed request)",
        request=SettlementBody,
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        party, data = _json_body(request)
        parsed = SettlementBody(data=data)
        parsed.is_valid(raise_exception=True)
        relationship = Relationship.objects.filter(channel_id=parsed.validated_data["channel"]).first()
        if relationship is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no relationship with this channel id here", http_status=404)
        row, created = settlement_request_create(party=party, relationship=relationship)
        return Response(render_settlement(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class SettlementView(AnchoringView):
    @extend_schema(
        summary="A settlement of one of your relationships, advanced as far as it can go (signed request)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, settlement_id: int) -> Response:
        row = _settlement(_party(request, b""), settlement_id)
        return Response(render_settlement(settlement_advance(row)))


class SettlementEntryView(AnchoringView):
    @extend_schema(
        summary="Hand in the co-signed freeze entry of a settlement (signed request; members holding their own keys)",
        request=EntryBody,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, settlement_id: int) -> Response:
        body = request.body
        if len(body) > MAX_MESSAGE_BYTES:
            raise ApiError(ErrorCode.INVALID_REQUEST, "the body is too large")
        party = _party(request, body)
        try:
            data = core.parse(body)  # the bilateral profile (docs/spec/bilateral.md §1.3), not plain JSON
        except core.ProtocolError as exc:
            raise ApiError(ErrorCode.INVALID_JSON, f"the body is not a message of the profile: {exc}") from None
        if set(data) != {"entry"}:
            raise ApiError(ErrorCode.INVALID_REQUEST, 'the body is {"entry": log entry}')
        row = _settlement(party, settlement_id)
        row = settlement_entry_submit(row, party=party, entry_json=data["entry"])
        return Response(render_settlement(row))


class SettlementPackageView(AnchoringView):
    @extend_schema(
        summary="The settlement package, its manifest written for the caller (signed request; spec/settlement.md §2)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, settlement_id: int) -> Response:
        party = _party(request, b"")
        row = settlement_advance(_settlement(party, settlement_id))
        return Response(settlement_package(row, reader=party))
