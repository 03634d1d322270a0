"""The legacy ``/v1`` views: thin over ``sessions`` and ``shapes``, answering with Rails' bodies.

Every view here uses ``legacy_exception_handler``, never the project's (``foaf.errors``): a refused
token is a 401 with an empty body (the retired bridge's JSON excepted), an unknown path or verb
Rails' ``404 {"status":404,"error":"Not Found"}``, a body that does not parse its ``400``, and a
crash its ``500``. They are left out of the OpenAPI schema; docs/legacy-api.md describes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from migration import models as m
from migration.api import auth, limits, sessions, shapes
from migration.cutover import upstream

logger = logging.getLogger(__name__)

LOGIN_REFUSED = {"error": "Username or password are invalid"}
RAILS_NOT_FOUND = {"status": 404, "error": "Not Found"}
RAILS_BAD_REQUEST = {"status": 400, "error": "Bad Request"}
RAILS_SERVER_ERROR = {"status": 500, "error": "Internal Server Error"}


def legacy_exception_handler(exc: Exception, context: Mapping[str, Any]) -> HttpResponseBase:
    if isinstance(exc, auth.BridgeRetiredFailed):
        return Response(auth.BRIDGE_RETIRED_BODY, status=401)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return HttpResponse(status=401)
    if isinstance(exc, exceptions.MethodNotAllowed | exceptions.NotFound | Http404):
        return Response(RAILS_NOT_FOUND, status=404)
    if isinstance(exc, exceptions.ParseError):
        return Response(RAILS_BAD_REQUEST, status=400)
    logger.exception("legacy api: unhandled error")
    return Response(RAILS_SERVER_ERROR, status=500)


class LegacyView(APIView):
    """Base of every ``/v1`` view: bearer tokens, JSON out, the legacy error bodies."""

    authentication_classes = [auth.LegacyBearerAuthentication]
    permission_classes = [auth.IsLegacyMember]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    throttle_classes = []
    schema = None  # not in the project's OpenAPI document

    def get_exception_handler(self) -> Any:
        return legacy_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Rails routes by verb before any controller runs: a verb a path lacks is a routing 404,
        # whatever the token (and OPTIONS is no verb of this API).
        method = (request.method or "").lower()
        if method == "options" or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    @property
    def caller(self) -> auth.Caller:
        user = self.request.user
        assert isinstance(user, auth.Caller)
        return user


class PublicLegacyView(LegacyView):
    """A ``/v1`` endpoint marked "no auth": a bearer header is not even read."""

    authentication_classes = []
    permission_classes = [AllowAny]


def params(request: Request) -> dict[str, Any]:
    """Rails' ``params``: the query string, overridden by a JSON or form body. A body of a type
    Rails does not parse is ignored, as Rails ignores it."""
    merged: dict[str, Any] = dict(request.query_params.items())
    try:
        data = request.data
    except exceptions.UnsupportedMediaType:
        data = {}
    if isinstance(data, Mapping):
        merged.update(data.items())
    return merged


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SessionsView(LegacyView):
    """``POST`` (no auth) logs in; ``GET`` is the current session; ``DELETE`` logs out."""

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [] if self.request.method == "POST" else super().get_authenticators()

    def get_permissions(self) -> Sequence[Any]:
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def post(self, request: Request) -> HttpResponseBase:
        values = params(request)
        try:
            login = sessions.login(
                _text(values.get("username")),
                _text(values.get("password")),
                address=limits.client_address(request),
            )
        except sessions.LoginRefused as exc:
            logger.info("legacy api: login refused: %s", exc)
            return Response(LOGIN_REFUSED, status=401)
        return Response({**shapes.user_payload(login.member), "token": login.token, "identity": login.identity})

    def get(self, request: Request) -> HttpResponseBase:
        return Response(sessions.session(self.caller))

    def delete(self, request: Request) -> HttpResponseBase:
        sessions.logout(self.caller)
        return HttpResponse(status=200)


class ProfileView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        return Response(shapes.profile_payload(self.caller.member))


class UsersProfileView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        member = self.caller.member
        return Response({**shapes.user_payload(member), "identity": shapes.identity_payload(member)})


RATE_LIMITED = {"error": "rate_limited"}


def _rate_limited() -> Response:
    return Response(RATE_LIMITED, status=429, headers={"Retry-After": "60"})


class ByHandleView(PublicLegacyView):
    def get(self, request: Request, handle: str) -> HttpResponseBase:
        if not limits.handle_lookup_allowed(limits.client_address(request)):
            return _rate_limited()
        member = m.Member.objects.filter(user_name__iexact=handle.lower()).order_by("legacy_id").first()
        if member is None:
            return Response({"error": "not_found"}, status=404)
        return Response(shapes.handle_payload(member))


class HandleAvailableView(PublicLegacyView):
    """Stays on Rails: counted in the lookups' shared per-minute budget, then passed through to
    Rails (``LEGACY_UPSTREAM_URL``), or Rails' routing 404 when there is none."""

    def get(self, request: Request) -> HttpResponseBase:
        if not limits.handle_lookup_allowed(limits.client_address(request)):
            return _rate_limited()
        if settings.LEGACY_UPSTREAM_URL:
            return upstream.forward(request._request)
        return Response(RAILS_NOT_FOUND, status=404)


class NotFoundView(PublicLegacyView):
    """Every other ``/v1`` path, any verb: Rails' routing 404."""

    def not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(RAILS_NOT_FOUND, status=404)

    get = post = put = patch = delete = head = not_found
    options = not_found  # type: ignore[assignment]


_not_found = NotFoundView.as_view()


@csrf_exempt
def not_served(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    """A ``/v1`` path this service does not serve (marketplace, orders, onboarding, the rest of
    ``users``, ...): passed through to Rails unchanged, bodies streamed both ways
    (``migration.cutover.upstream``); Rails' routing 404 when ``LEGACY_UPSTREAM_URL`` is unset."""
    if settings.LEGACY_UPSTREAM_URL:
        return upstream.forward(request)
    return _not_found(request, *args, **kwargs)
