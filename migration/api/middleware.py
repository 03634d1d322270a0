"""Kept legacy answers served before URL resolution and DRF, as Django's ``FetchFromCacheMiddleware``
serves its cache, but per member and only while the database's marks say they are current
(``freshness``; docs/legacy-api.md, "Caching").

It answers a request only when everything the view would check is already settled: a ``GET``
without a query string of a path routed to a view whose answers are kept, a bearer token kept and
still holding (``auth.kept_caller``), and an answer that view rendered and kept under the same
marks. The bytes are the view's own; the headers are the ones DRF adds for that view. Anything
else goes down the middleware chain to the view, untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from migration.api import auth, freshness
from migration.api import trustline_views as tv

# The views whose answers ``freshness.answer`` keeps, by the name they keep them under.
KEPT_VIEWS: dict[type[Any], str] = {tv.TrustlinesView: "trustlines", tv.TrustlineSummaryView: "summary"}
CANDIDATE_PATHS = ("/v1/trustlines", "/v1/trustlines/", "/v1/trustlines/summary", "/v1/trustlines/summary/")


def _view_headers(view_class: type[Any]) -> dict[str, str]:
    """What DRF's ``finalize_response`` adds to every answer of this view."""
    view = view_class()
    view.setup(None)
    headers: dict[str, str] = view.default_response_headers
    return headers


def kept_routes() -> dict[str, tuple[str, dict[str, str]]]:
    """Path → (kept name, the view's headers), for the paths the URLconf routes to such views."""
    routes: dict[str, tuple[str, dict[str, str]]] = {}
    for path in CANDIDATE_PATHS:
        try:
            match = resolve(path)
        except Resolver404:
            continue
        view_class = getattr(match.func, "view_class", None)
        if view_class in KEPT_VIEWS:
            routes[path] = (KEPT_VIEWS[view_class], _view_headers(view_class))
    return routes


class KeptAnswerMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self._routes: dict[str, tuple[str, dict[str, str]]] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "GET" and not request.META.get("QUERY_STRING"):
            if self._routes is None:
                self._routes = kept_routes()
            route = self._routes.get(request.path_info)
            if route is not None:
                response = self._kept(request, *route)
                if response is not None:
                    return response
        return self.get_response(request)

    @staticmethod
    def _kept(request: HttpRequest, name: str, headers: dict[str, str]) -> HttpResponse | None:
        token = auth.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        caller = auth.kept_caller(token, time.time())
        if caller is None:
            return None
        body = freshness.answers.get((caller.member.legacy_id, name), caller.marks)
        if body is None:
            return None
        response = HttpResponse(body, content_type="application/json")
        for key, value in headers.items():
            response[key] = value
        return response
