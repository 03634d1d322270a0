"""What a ``/v1`` credit call does in each phase of the cut-over (docs/cutover.md).

| phase | credit writes | credit reads |
| --- | --- | --- |
| ``standalone`` | answered here | answered here |
| ``shadow`` | passed through to Rails (Rails writes credit) | answered here, then asked of Rails and compared |
| ``frozen`` | refused: ``503 {"errors": [...]}``, ``Retry-After`` | answered here, then compared |
| ``switched`` | answered here (Rails' credit endpoints are never reached) | answered here |

Everything else (sessions, profile, handle lookups, this service's own ``/v1/foaf/signatures``
and ``/v1/foaf/writes``) is answered here in every phase, and paths this service does not serve
go to Rails whatever the phase (``views.not_served``). With ``LEGACY_UPSTREAM_URL`` unset this
middleware does nothing at all: the phase is not even read.

It sits just outside ``KeptAnswerMiddleware`` so that kept answers are compared too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from migration.api import auth
from migration.cutover import phase, shadow, upstream

Phase = phase.Phase

# Legacy route names (migration/api/urls.py) whose verbs other than GET write credit.
CREDIT_WRITES = frozenset(
    ("trustlines", "trustline", "trustline-payment", "trustline-debt", "trustline-receipt",
     "trustlines-path-payment", "pending-payments", "pending-confirm", "pending-reject", "pending-paid",
     "pending-payment")
)  # fmt: skip
# Routes whose GET is a credit read Rails answers too (API.md), and POSTs that only read.
CREDIT_READS = frozenset(
    ("trustlines", "trustline", "trustlines-summary", "pending-payments", "foaf-trustlines", "foaf-trustline",
     "foaf-trustline-events", "admin-credit-loops", "admin-credit-loop", "subnet-graph")
)  # fmt: skip
READ_POSTS = frozenset(("trustlines-find-path",))
NOT_FOUND = {"status": 404, "error": "Not Found"}  # Rails' routing 404
# Rails squeezes repeated slashes and routes a format suffix (``payment.json``); no route here does.
REPEATED_SLASHES = re.compile(r"/{2,}")
FORMAT_SUFFIX = re.compile(r"\.[A-Za-z0-9]+/?$")
WRITES_PAUSED = {
    "errors": ["Credit is paused for a few minutes while the community's records move. Please try again shortly."]
}


def classify(route: str, method: str) -> str | None:
    """``write``, ``read`` or None (not the phase's business) for a legacy route and verb."""
    if method in ("GET", "HEAD"):
        return "read" if route in CREDIT_READS and method == "GET" else None
    if method == "POST" and route in READ_POSTS:
        return "read"
    if method in ("POST", "PUT", "PATCH", "DELETE") and route in CREDIT_WRITES:
        return "write"
    return None


def writes_paused() -> HttpResponse:
    response = HttpResponse(json.dumps(WRITES_PAUSED), status=503, content_type="application/json")
    response["Retry-After"] = "60"
    return response


class CutoverMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        route, kind = self._credit_call(request)
        if route is None or kind is None:
            return self.get_response(request)
        now = phase.current()
        if kind in ("write", "rails-write") and now == Phase.SHADOW:
            return upstream.forward(request)
        if kind in ("write", "rails-write") and now == Phase.FROZEN:
            return writes_paused()
        if kind == "rails-write":  # a credit write only Rails routes, while this service writes credit
            return HttpResponse(json.dumps(NOT_FOUND), status=404, content_type="application/json")
        if kind == "write" or now not in phase.COMPARED:
            return self.get_response(request)
        # Read before the view: Rails must get the same body, and the view reads it from memory too.
        body = request.body if request.method == "POST" else b""
        response = self.get_response(request)
        if not response.streaming:
            shadow.pool.submit(
                shadow.Job(
                    route=route,
                    method=request.method or "GET",
                    full_path=request.get_full_path(),
                    headers=upstream.request_headers(request),
                    body=body,
                    token=auth.bearer_token(request.META.get("HTTP_AUTHORIZATION")),
                    ours_status=response.status_code,
                    ours_body=bytes(response.content),  # type: ignore[attr-defined]
                )
            )
        return response

    @staticmethod
    def _credit_call(request: HttpRequest) -> tuple[str | None, str | None]:
        """The legacy route's name and ``write``/``read``, or Nones when the phase is not concerned
        (no upstream: nothing is even resolved)."""
        if not settings.LEGACY_UPSTREAM_URL or not request.path_info.startswith("/v1/"):
            return None, None
        route = _legacy_route(request.path_info)
        if route == "not-found":  # passed through to Rails: is it one of Rails' credit writes there?
            as_rails = _legacy_route(FORMAT_SUFFIX.sub("", REPEATED_SLASHES.sub("/", request.path_info)))
            if as_rails is not None and classify(as_rails, request.method or "") == "write":
                return as_rails, "rails-write"
        if route is None:
            return None, None
        return route, classify(route, request.method or "")


def _legacy_route(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.namespace != "legacy" or not match.url_name:
        return None
    return match.url_name
