"""The relay's HTTP API, ``/relay/v1/...`` (docs/relay.md §8, §14). Thin: parse, call a service, render.

Events authenticate themselves by their signatures; mailbox requests are signed by the member's
key (``relay.auth``, docs/relay.md §13). So these views take no session or token and need no CSRF
exemption for a cookie they never read. Every request is rate limited per client address, signed
ones also per key (docs/relay.md §16). Errors use the project's one format (``foaf.errors``); a
refusal carries the protocol's code.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from foaf.bilateral import jcs
from foaf.bilateral.errors import RemoteProtocolError
from foaf.errors import ApiError, ErrorCode
from relay import auth, mailbox, ratelimit, services
from relay.protocol import LISTING_TYPES, MAX_EVENT_BYTES, EventError, RelayErrorCode, RequestError
from relay.protocol.frames import MAX_ACK_IDS

HEX32 = r"[0-9a-f]{64}"
_CONFLICTS = {
    RelayErrorCode.EVENT_STALE_VERSION,
    RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP,
    RelayErrorCode.EVENT_RELATIONSHIP_PUBLIC,
}


def http_status_of(code: RelayErrorCode) -> int:
    if code is RelayErrorCode.EVENT_TOO_LARGE:
        return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if code in _CONFLICTS:
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def api_error(error: EventError) -> ApiError:
    return ApiError(
        ErrorCode(error.code.value), error.message, http_status=http_status_of(error.code), details=error.details
    )


def _now() -> int:
    return int(time.time())


class RelayView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        address = ratelimit.client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))
        ratelimit.check("address", address)


def _query(serializer: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    checked = serializer(data=request.query_params)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


def _envelope(text: str) -> Any:
    return json.loads(text)


class EventsView(RelayView):
    @extend_schema(
        summary="Publish a signed event",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        if not (request.content_type or "").split(";")[0].strip() == "application/json":
            raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the event as application/json.", http_status=415)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_EVENT_BYTES:  # refuse before reading the body
            raise api_error(
                EventError(RelayErrorCode.EVENT_TOO_LARGE, f"{declared} bytes; the limit is {MAX_EVENT_BYTES}")
            )
        try:
            raw = request.body
        except RequestDataTooBig:
            raise api_error(EventError(RelayErrorCode.EVENT_TOO_LARGE, "the request body is too large")) from None
        try:
            accepted = services.event_accept(raw, now=_now())
        except EventError as e:
            raise api_error(e) from None
        body = {
            "outcome": accepted.outcome.value,
            "id": accepted.event_id,
            "kind": accepted.kind.value,
            "cursor": accepted.cursor,
        }
        stored = accepted.outcome is services.Outcome.STORED
        return Response(body, status=status.HTTP_201_CREATED if stored else status.HTTP_200_OK)


class EventView(RelayView):
    @extend_schema(summary="A public event by id", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, event_id: str) -> Response:
        found = services.public_event_get(event_id)
        if found is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No public event with this id.", http_status=404)
        cursor, envelope = found
        return Response({"cursor": cursor, "event": _envelope(envelope)})


class ChangesQuery(serializers.Serializer[Any]):
    since = serializers.IntegerField(min_value=0, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=services.MAX_PAGE, required=False, default=100)


class ChangesView(RelayView):
    @extend_schema(summary="Public events since a cursor", parameters=[ChangesQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = _query(ChangesQuery, request)
        page = services.changes_since(since=query["since"], limit=query["limit"])
        return Response(
            {
                "events": [{"cursor": cursor, "event": _envelope(envelope)} for cursor, envelope in page.events],
                "next": page.next_cursor,
                "more": page.more,
            }
        )


class GraphQuery(serializers.Serializer[Any]):
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    routable = serializers.BooleanField(required=False, default=False)
    after = serializers.RegexField(f"^{HEX32}$", required=False)
    limit = serializers.IntegerField(min_value=1, max_value=services.MAX_PAGE, required=False, default=100)


class GraphView(RelayView):
    @extend_schema(summary="The public credit graph", parameters=[GraphQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = _query(GraphQuery, request)
        edges, after = services.graph_page(
            currency=query.get("currency"),
            routable_only=query["routable"],
            after=query.get("after"),
            limit=query["limit"],
        )
        hints = services.edge_hints(edges, now=_now())
        return Response({"edges": [services.edge_json(e, hints) for e in edges], "next": after})


class NeighbourhoodQuery(serializers.Serializer[Any]):
    depth = serializers.IntegerField(min_value=1, max_value=services.MAX_DEPTH, required=False, default=1)
    routable = serializers.BooleanField(required=False, default=False)


class NeighbourhoodView(RelayView):
    @extend_schema(
        summary="Members and edges within a few hops of a member",
        parameters=[NeighbourhoodQuery],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, key: str) -> Response:
        query = _query(NeighbourhoodQuery, request)
        found = services.neighbourhood(key, depth=query["depth"], routable_only=query["routable"])
        members = sorted(found.distances.items(), key=lambda item: (item[1], item[0]))
        hints = services.edge_hints(found.edges, now=_now())
        return Response(
            {
                "key": key,
                "depth": query["depth"],
                "members": [{"key": k, "distance": d} for k, d in members],
                "edges": [services.edge_json(e, hints) for e in found.edges],
            }
        )


class ProfileView(RelayView):
    @extend_schema(summary="A member's profile and the signed event it comes from", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, key: str) -> Response:
        found = services.profile_get(key)
        if found is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No profile for this key.", http_status=404)
        profile, envelope = found
        return Response(
            {
                "key": profile.key,
                "name": profile.name,
                "relays": profile.relays,
                "mailbox_key": profile.mailbox_key,
                "version": profile.version,
                "event": _envelope(envelope),
            }
        )


class ListingsQuery(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, default="", allow_blank=True, max_length=200, trim_whitespace=True)
    category = serializers.RegexField(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40, required=False)
    type = serializers.ChoiceField(choices=list(LISTING_TYPES), required=False)
    depth = serializers.IntegerField(min_value=1, max_value=services.MAX_DEPTH, required=False, default=2)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=10_000, required=False, default=0)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.RegexField(f"^{HEX32}$", required=False)  # `from` is a Python keyword
        return fields


class ListingsView(RelayView):
    @extend_schema(
        summary="Search offers and wants by text, category and trust distance",
        parameters=[ListingsQuery],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        query = _query(ListingsQuery, request)
        found = services.listings_search(
            now=_now(),
            text=query["q"],
            category=query.get("category"),
            listing_type=query.get("type"),
            searcher=query.get("from"),
            depth=query["depth"],
            limit=query["limit"],
            offset=query["offset"],
        )
        full = len(found) == query["limit"]
        return Response(
            {
                "listings": [services.listing_json(listing, distance) for listing, distance in found],
                "next_offset": query["offset"] + len(found) if full else None,
            }
        )


# --- mailboxes (docs/relay.md §14) ---------------------------------------------------------------
_MAILBOX_STATUS = {
    RelayErrorCode.MAILBOX_MESSAGE_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    RelayErrorCode.MAILBOX_BAD_MESSAGE: status.HTTP_400_BAD_REQUEST,
    RelayErrorCode.MAILBOX_UNKNOWN_RECIPIENT: status.HTTP_404_NOT_FOUND,
    RelayErrorCode.MAILBOX_FULL: status.HTTP_507_INSUFFICIENT_STORAGE,
    RelayErrorCode.MAILBOX_CONFLICT: status.HTTP_409_CONFLICT,
}


def mailbox_error(error: RequestError) -> ApiError:
    return auth.api_error(error, _MAILBOX_STATUS.get(error.code))


def _media_type(request: Request) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def _bounded_body(request: Request, limit: int, too_large: ApiError) -> bytes:
    """The body, refused as too large before it is read when ``Content-Length`` says so."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    try:
        body = bytes(request.body)
    except RequestDataTooBig:
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return body


class MailboxDepositView(RelayView):
    @extend_schema(
        summary="Deposit an encrypted message in a member's mailbox (signed request)",
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, key: str) -> Response:
        if request.META.get("QUERY_STRING"):
            raise ApiError(ErrorCode.INVALID_REQUEST, "A deposit takes no query string.")
        if _media_type(request) != "application/octet-stream":
            raise ApiError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the ciphertext as application/octet-stream.", http_status=415
            )
        limit = settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES
        over = RequestError(RelayErrorCode.MAILBOX_MESSAGE_TOO_LARGE, f"the limit is {limit} bytes", max_bytes=limit)
        body = _bounded_body(request, limit, mailbox_error(over))
        signed = auth.authenticate(request, body=body)
        ratelimit.check("deposit", signed.key)
        try:
            deposited = mailbox.mailbox_deposit(sender=signed, recipient=key, ciphertext=body, now=_now())
        except RequestError as e:
            raise mailbox_error(e) from None
        stored = deposited.outcome is mailbox.Outcome.STORED
        return Response(
            {"outcome": deposited.outcome.value, "id": deposited.message_id, "expires": deposited.expires},
            status=status.HTTP_201_CREATED if stored else status.HTTP_200_OK,
        )


class MailboxQuery(serializers.Serializer[Any]):
    after = serializers.IntegerField(min_value=0, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=mailbox.MAX_PAGE, required=False, default=50)


class MailboxView(RelayView):
    @extend_schema(
        summary="Your messages after a seq (signed request)", parameters=[MailboxQuery], responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        signed = auth.authenticate(request, body=b"")
        query = _query(MailboxQuery, request)
        page = mailbox.mailbox_fetch(recipient=signed.key, after=query["after"], limit=query["limit"], now=_now())
        return Response({"messages": page.messages, "next": page.next_seq, "more": page.more})


class MailboxAckView(RelayView):
    @extend_schema(
        summary="Acknowledge (delete) your messages (signed request)",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request) -> Response:
        if _media_type(request) != "application/json":
            raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the ids as application/json.", http_status=415)
        too_large = ApiError(ErrorCode.INVALID_REQUEST, f"At most {MAX_ACK_IDS} ids a request.", http_status=413)
        body = _bounded_body(request, 128 * (MAX_ACK_IDS + 1), too_large)
        signed = auth.authenticate(request, body=body)
        try:
            parsed = jcs.parse(body)
        except RemoteProtocolError as e:
            reason = {"reason": e.code.value}
            raise ApiError(ErrorCode.INVALID_REQUEST, "The body is not JSON.", details=reason) from None
        checked = AckBody(data=parsed)
        checked.is_valid(raise_exception=True)
        count = mailbox.mailbox_ack(recipient=signed.key, ids=checked.validated_data["ids"], now=_now())
        return Response({"acknowledged": count})


class AckBody(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.RegexField(f"^{HEX32}$"), min_length=1, max_length=MAX_ACK_IDS, allow_empty=False
    )
