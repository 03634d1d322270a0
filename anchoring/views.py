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

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anchoring.models import AnchorRequest
from anchoring.services import anchor_request_create, proof_for
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
