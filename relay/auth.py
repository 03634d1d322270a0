"""Authenticating members by their keys, on HTTP requests and WebSocket connections (docs/relay.md §13).

The protocol (what is signed, the order of the checks) is ``relay.protocol.auth``; this module
adds what needs the relay: its origin, the clock, the nonce table that refuses a replay, and the
per-key rate limit. Verifying comes before anything is written or charged to the key, so a forger
can neither burn a member's nonces nor spend its rate limit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host

from foaf.errors import ApiError, ErrorCode
from relay import ratelimit
from relay.models import AuthNonce
from relay.protocol import RelayErrorCode, RequestError
from relay.protocol.auth import SignedRequest, check_signed_request, parse_auth_headers

AUTH_SCHEME = "FOAF-Relay-1"
_HTTP_STATUS = {
    RelayErrorCode.AUTH_REQUIRED: 401,
    RelayErrorCode.AUTH_MALFORMED: 401,
    RelayErrorCode.AUTH_BAD_KEY: 401,
    RelayErrorCode.AUTH_STALE: 401,
    RelayErrorCode.AUTH_BAD_SIGNATURE: 401,
    RelayErrorCode.AUTH_REPLAYED: 401,
}


def api_error(error: RequestError, http_status: int | None = None) -> ApiError:
    """A refused request in the API's one error format; 401s name the scheme (``WWW-Authenticate``)."""
    status = http_status if http_status is not None else _HTTP_STATUS.get(error.code, 400)
    api = ApiError(ErrorCode(error.code.value), error.message, http_status=status, details=dict(error.details))
    if status == 401:
        api.auth_header = AUTH_SCHEME  # type: ignore[attr-defined]  # DRF renders it as WWW-Authenticate
    return api


def origin_from(scheme: str, host: str) -> str:
    """The origin clients must sign: ``RELAY_ORIGIN`` when set, else this request's own
    (``https://`` for https and wss, ``http://`` otherwise), if its host is one we serve."""
    if settings.RELAY_ORIGIN:
        return str(settings.RELAY_ORIGIN)
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return ""
    http_scheme = "https" if scheme in ("https", "wss") else "http"
    default = {"https": "443", "http": "80"}[http_scheme]
    host = host.lower()
    if host.endswith(f":{default}"):
        host = host[: -len(default) - 1]
    return f"{http_scheme}://{host}"


def request_origin(request: HttpRequest) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    return origin_from(request.scheme or "http", host)


def scope_origin(scope: Mapping[str, object]) -> str:
    headers = dict(scope.get("headers") or [])  # type: ignore[call-overload]
    host = headers.get(b"host", b"").decode("latin-1")
    return origin_from(str(scope.get("scheme") or "ws"), host)


def nonce_record(key: str, nonce: str, *, timestamp: int) -> None:
    """Remember a verified request's nonce until its timestamp could no longer be accepted;
    ``auth_replayed`` when this key used it before."""
    expires = timestamp + settings.RELAY_AUTH_MAX_SKEW_SECONDS + 1
    try:
        with transaction.atomic():
            AuthNonce.objects.create(key=key, nonce=nonce, expires=expires)
    except IntegrityError:
        raise RequestError(
            RelayErrorCode.AUTH_REPLAYED, "this nonce was already used with this key: sign every request anew"
        ) from None


def authenticate(request: HttpRequest, *, body: bytes, now: int | None = None) -> SignedRequest:
    """The key that signed this request, after every check (form, key, clock, signature, nonce)
    and the per-key rate limit. Raises ``ApiError`` (401 or 429)."""
    now = int(time.time()) if now is None else now
    try:
        signed = parse_auth_headers(request.headers.get)
        check_signed_request(
            signed,
            method=request.method or "",
            path=request.get_full_path(),
            body=body,
            relay=request_origin(request),
            now=now,
            max_skew=settings.RELAY_AUTH_MAX_SKEW_SECONDS,
        )
        nonce_record(signed.key, signed.nonce, timestamp=signed.timestamp)
    except RequestError as e:
        raise api_error(e) from None
    ratelimit.check("key", signed.key)
    return signed
