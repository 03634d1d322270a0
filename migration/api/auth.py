"""Bearer tokens of the GrowOperative apps, checked as Rails checks them (docs/legacy-api.md, "Authentication").

Two kinds, chosen by the header's ``alg``:

- RS256 from auth.foaf.io: the key by ``kid`` from its JWKS (cached an hour, fetched again on an
  unknown ``kid``, the last good set kept a day if auth.foaf.io is down); signature, ``iss``,
  ``aud`` and ``exp`` (with leeway); then auth.foaf.io's revocation snapshot: a revoked ``kid``,
  an ``iat`` before the ``sub``'s cutoff, or a revoked ``jti`` rejects.
- HS256, the bridge: Rails' ``SECRET_KEY_BASE`` (``LEGACY_JWT_SECRET``), ``exp`` when present, no
  leeway; an ``aud`` other than ours rejects, a string ``sub`` without ``aud`` rejects. With the
  bridge switched off every HS256 token gets the retired-bridge answer instead.

Then a ``jti`` in the imported ``jwt_blacklist`` or revoked here (``DELETE /v1/sessions``)
rejects, and the member is resolved: a non-empty string ``sub`` by ``foaf_id`` only, else
``legacy_uid``, else the nested ``sub.user_id.user_id`` (or ``sub.user_id``) as the legacy user id.
No member, or a deleted or disabled one, rejects. Every rejection but the bridge's is a 401 with an
empty body; the reason is logged (never the token or its claims).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from migration import models as m
from migration.api import freshness

logger = logging.getLogger(__name__)

BRIDGE_RETIRED_BODY = {
    "error": "Legacy auth bridge has been retired; please sign in again.",
    "code": "client_too_old_auth_bridge_expired",
}
FETCH_TIMEOUT_SECONDS = 5


class Rejected(Exception):
    """The token is refused: 401, empty body. The message is for the log only."""


class BridgeRetired(Exception):
    """An HS256 token while the bridge is off: 401 with ``BRIDGE_RETIRED_BODY``."""


class FetchError(Exception):
    pass


# --- fetching JWKS and snapshots ------------------------------------------------------------------
def fetch_json(url: str, headers: Mapping[str, str] | None = None) -> Any:
    """GET a JSON document over http(s), or read it from a ``file://`` URL."""
    parts = urllib.parse.urlsplit(url)
    try:
        if parts.scheme == "file":
            return json.loads(Path(urllib.parse.unquote(parts.path)).read_text(encoding="utf-8"))
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"unsupported scheme {parts.scheme!r}")
        request = urllib.request.Request(url, headers={"Accept": "application/json", **(headers or {})})  # noqa: S310
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only)
            return json.loads(response.read())
    except FetchError:
        raise
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise FetchError(str(exc)) from exc


def _parse_time(value: Any) -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    moment = dt.datetime.fromisoformat(str(value).strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class JwksCache:
    """auth.foaf.io's signing keys by ``kid``, as Rails' AuthJwksClient keeps them."""

    TTL = 3600.0  # a key fetched longer ago is fetched again before use
    LAST_GOOD = 24 * 3600.0  # while auth.foaf.io cannot be reached, a key fetched this recently still serves
    NEGATIVE = 30.0  # an unknown kid is refused without asking again for this long
    UNKNOWN_KID_REFRESH = 10.0  # unknown kids make at most one fetch per this many seconds

    def __init__(self, url: str, inline: str) -> None:
        self.url = url
        self.inline = inline
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._negative: dict[str, float] = {}
        self._last_unknown_refresh = float("-inf")
        if inline:
            self._keys = self._parse(json.loads(inline))
            self._fetched_at = float("inf")

    @staticmethod
    def _parse(payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict) or not isinstance(payload.get("keys"), list):
            raise FetchError("a JWKS is an object with a keys array")
        keys: dict[str, Any] = {}
        for jwk in payload["keys"]:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
                continue
            if jwk.get("kty") != "RSA" or jwk.get("alg") not in (None, "RS256") or jwk.get("use") not in (None, "sig"):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
            except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
                logger.warning("legacy auth: JWKS key %r skipped: %s", jwk["kid"], exc)
        return keys

    def _refresh(self, now: float) -> None:
        self._keys = self._parse(fetch_json(self.url))
        self._fetched_at = now
        self._negative.clear()

    def key_for(self, kid: str, now: float) -> Any:
        with self._lock:
            if self.inline:
                return self._known(kid)
            if self._negative.get(kid, float("-inf")) > now:
                raise Rejected(f"kid {kid!r} is unknown (cached)")
            fresh = self._fetched_at is not None and now - self._fetched_at < self.TTL
            if fresh and kid in self._keys:
                return self._keys[kid]
            if fresh and now - self._last_unknown_refresh < self.UNKNOWN_KID_REFRESH:
                self._negative[kid] = now + self.NEGATIVE
                raise Rejected(f"kid {kid!r} is unknown (the JWKS was fetched moments ago)")
            if fresh:
                self._last_unknown_refresh = now
            try:
                self._refresh(now)
            except FetchError as exc:
                if kid in self._keys and self._fetched_at is not None and now - self._fetched_at <= self.LAST_GOOD:
                    logger.warning("legacy auth: JWKS fetch failed, using the last good set: %s", exc)
                    return self._keys[kid]
                raise Rejected(f"JWKS unavailable: {exc}") from exc
            if kid not in self._keys:
                self._negative[kid] = now + self.NEGATIVE
            return self._known(kid)

    def _known(self, kid: str) -> Any:
        if kid not in self._keys:
            raise Rejected(f"kid {kid!r} is unknown")
        return self._keys[kid]


@dataclass(frozen=True)
class RevocationSnapshot:
    """auth.foaf.io's revocation snapshot: ``{"audience", "generated_at", "revoked_kids": [{"kid"}],
    "tokens_invalid_before": {foaf_id: time}, "revoked_jtis": [{"jti", "exp"}]}``."""

    audience: str
    generated_at: dt.datetime
    revoked_kids: frozenset[str] = frozenset()
    tokens_invalid_before: Mapping[str, dt.datetime] = field(default_factory=dict)
    revoked_jtis: Mapping[str, dt.datetime] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: Any) -> RevocationSnapshot:
        if not isinstance(payload, dict):
            raise FetchError("a revocation snapshot is a JSON object")
        try:
            kids = frozenset(
                str(row["kid"]) for row in payload.get("revoked_kids") or [] if isinstance(row, dict) and row.get("kid")
            )
            cutoffs = {str(k): _parse_time(v) for k, v in (payload.get("tokens_invalid_before") or {}).items()}
            jtis = {
                str(row["jti"]): _parse_time(row["exp"])
                for row in payload.get("revoked_jtis") or []
                if isinstance(row, dict) and row.get("jti") is not None
            }
            return cls(str(payload["audience"]), _parse_time(payload["generated_at"]), kids, cutoffs, jtis)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FetchError(f"malformed revocation snapshot: {exc!r}") from exc

    def revoked_kid(self, kid: str) -> bool:
        return kid in self.revoked_kids

    def cutoff_for(self, sub: str) -> dt.datetime | None:
        return self.tokens_invalid_before.get(sub)

    def revoked_jti(self, jti: str, now: float) -> bool:
        exp = self.revoked_jtis.get(jti)
        return exp is not None and exp.timestamp() > now


class RevocationSource:
    """The current snapshot, fetched again every five minutes; the last good one is kept while a
    fetch fails (an error is logged once it is 15 minutes old). With none at all, the snapshot's
    checks are skipped, as Rails does: the signature, issuer, audience and expiry still hold."""

    TTL = 300.0
    RETRY_AFTER_FAILURE = 30.0
    STALE_ALERT = 900.0

    def __init__(self, url: str, inline: str, audience: str, service_token: str) -> None:
        self.url = url
        self.audience = audience
        self.service_token = service_token
        self._lock = threading.Lock()
        self._snapshot: RevocationSnapshot | None = None
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._inline = RevocationSnapshot.parse(json.loads(inline)) if inline else None

    def _fetch(self) -> RevocationSnapshot:
        url, headers = self.url, {}
        if urllib.parse.urlsplit(url).scheme in ("http", "https"):
            parts = urllib.parse.urlsplit(url)
            query = [*urllib.parse.parse_qsl(parts.query), ("audience", self.audience)]
            url = parts._replace(query=urllib.parse.urlencode(query)).geturl()
            if self.service_token:
                headers["Authorization"] = f"Bearer {self.service_token}"
        snapshot = RevocationSnapshot.parse(fetch_json(url, headers))
        if snapshot.audience != self.audience:
            raise FetchError(f"the snapshot is for audience {snapshot.audience!r}, not {self.audience!r}")
        return snapshot

    def current(self, now: float) -> RevocationSnapshot | None:
        if self._inline is not None:
            return self._inline
        if not self.url:
            return None
        with self._lock:
            if now - self._fetched_at < self.TTL or now - self._failed_at < self.RETRY_AFTER_FAILURE:
                return self._snapshot
            try:
                self._snapshot = self._fetch()
                self._fetched_at = now
            except FetchError as exc:
                self._failed_at = now
                if self._snapshot is None:
                    logger.warning("legacy auth: no revocation snapshot available: %s", exc)
                elif now - self._snapshot.generated_at.timestamp() > self.STALE_ALERT:
                    logger.error("legacy auth: the revocation snapshot is stale and cannot be fetched: %s", exc)
            return self._snapshot


_caches_lock = threading.Lock()
_jwks: dict[tuple[str, str], JwksCache] = {}
_revocations: dict[tuple[str, str, str, str], RevocationSource] = {}


def jwks() -> JwksCache:
    source = (settings.LEGACY_AUTH_JWKS_URL, settings.LEGACY_AUTH_JWKS)
    with _caches_lock:
        if source not in _jwks:
            _jwks[source] = JwksCache(*source)
        return _jwks[source]


def revocations() -> RevocationSource:
    source = (
        settings.LEGACY_AUTH_REVOCATION_URL,
        settings.LEGACY_AUTH_REVOCATION_SNAPSHOT,
        settings.LEGACY_AUD,
        settings.LEGACY_AUTH_SERVICE_TOKEN,
    )
    with _caches_lock:
        if source not in _revocations:
            _revocations[source] = RevocationSource(*source)
        return _revocations[source]


def reset_caches() -> None:
    """Forget every fetched JWKS and snapshot, and every token and answer kept (tests, and after
    the operator rotates settings)."""
    with _caches_lock:
        _jwks.clear()
        _revocations.clear()
    freshness.forget()


# --- verification -----------------------------------------------------------------------------------
_BEARER = re.compile(r"\ABearer\s+(.+)\Z", re.IGNORECASE)
# PyJWT would refuse the old tokens' nested sub and check iat, which Rails' ruby-jwt never does.
_NOT_VERIFIED_BY_PYJWT: Any = {"verify_iat": False, "verify_sub": False, "verify_jti": False}
# HS256: aud and iss are checked here, as Rails checks them, not by PyJWT.
_HS256_OPTIONS: Any = {"verify_aud": False, "verify_iss": False, **_NOT_VERIFIED_BY_PYJWT}


def bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the header only; the old cookie is never read)."""
    match = _BEARER.match(header or "")
    return match.group(1) if match else None


def _blank(value: Any) -> bool:
    """Ruby's ``blank?``: nil, false, empty or whitespace-only strings, empty arrays and hashes."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


def _to_i(value: Any) -> int:
    """Ruby's ``to_i`` for a claim: numbers truncate, numeric strings parse, anything else is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    match = re.match(r"\s*([+-]?\d+)", value) if isinstance(value, str) else None
    return int(match.group(1)) if match else 0


def verify_rs256(token: str, header: Mapping[str, Any], now: float) -> dict[str, Any]:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Rejected("RS256 token without kid")
    snapshot = revocations().current(now)
    if snapshot is not None and snapshot.revoked_kid(kid):
        raise Rejected(f"kid {kid!r} is revoked")
    key = jwks().key_for(kid, now)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=settings.LEGACY_AUTH_ISSUER,
            audience=settings.LEGACY_AUD,
            leeway=settings.LEGACY_AUTH_LEEWAY_SECONDS,
            options=_NOT_VERIFIED_BY_PYJWT,
        )
    except jwt.PyJWTError as exc:
        raise Rejected(f"RS256: {exc}") from exc
    if snapshot is not None:
        cutoff = snapshot.cutoff_for("" if claims.get("sub") is None else str(claims.get("sub")))
        iat = _to_i(claims.get("iat"))
        if cutoff is not None and 0 < iat < int(cutoff.timestamp()):
            raise Rejected("issued before its subject's cutoff")
        jti = claims.get("jti")
        if jti is not None and snapshot.revoked_jti(str(jti), now):
            raise Rejected("jti revoked by auth.foaf.io")
    return claims


def verify_hs256(token: str) -> dict[str, Any]:
    if not settings.LEGACY_HS256_BRIDGE_ENABLED:
        raise BridgeRetired
    secret = settings.LEGACY_JWT_SECRET
    if not secret:
        raise Rejected("HS256: LEGACY_JWT_SECRET is not configured")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options=_HS256_OPTIONS,
        )
    except jwt.PyJWTError as exc:
        raise Rejected(f"HS256: {exc}") from exc
    aud, sub = claims.get("aud"), claims.get("sub")
    if not _blank(aud) and aud != settings.LEGACY_AUD:
        raise Rejected("HS256: audience of another app")
    if isinstance(sub, str) and sub and _blank(aud):
        raise Rejected("HS256: a string sub needs an aud")
    return claims


def verify_token(token: str, *, now: float | None = None) -> tuple[dict[str, Any], str]:
    """The token's claims and kind (``rs256`` or ``hs256``), or ``Rejected``/``BridgeRetired``."""
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Rejected(f"malformed token: {exc}") from exc
    alg = header.get("alg")
    if alg == "RS256":
        return verify_rs256(token, header, now), "rs256"
    if alg == "HS256":
        return verify_hs256(token), "hs256"
    raise Rejected(f"algorithm {alg!r} is not accepted")


def revoked_jti(claims: Mapping[str, Any]) -> bool:
    """A ``jti`` in the imported ``jwt_blacklist`` or revoked through this service."""
    jti = claims.get("jti")
    if jti is None or jti is False:
        return False
    jti = str(jti)
    # Revocations keep 255 characters of a jti (the column's width, as jwt_blacklist's).
    return m.RevokedToken.objects.filter(jti=jti).exists() or m.SessionRevocation.objects.filter(jti=jti[:255]).exists()


def _legacy_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def resolve_member(claims: Mapping[str, Any]) -> m.Member:
    sub = claims.get("sub")
    if isinstance(sub, str) and sub:
        member = m.Member.objects.filter(foaf_id=sub).first()  # never a fallback to legacy_uid
    else:
        user_id = claims.get("legacy_uid")
        if user_id is None and isinstance(sub, dict):
            user_id = sub.get("user_id")
            if isinstance(user_id, dict):
                user_id = user_id.get("user_id")
        legacy_id = _legacy_id(user_id)
        member = None if legacy_id is None else m.Member.objects.filter(legacy_id=legacy_id).first()
    if member is None:
        raise Rejected("no member for the token")
    if member.deleted_at is not None or member.disabled_at is not None:
        raise Rejected("the member is deleted or disabled")
    return member


@dataclass(frozen=True)
class Caller:
    """Who a legacy request is from: the member, the token's claims and its kind, and the member's
    marks as read before anything else of the request (``freshness``: what its answers may reuse)."""

    member: m.Member
    claims: Mapping[str, Any]
    kind: str  # "rs256" or "hs256"
    token: str
    marks: freshness.Marks

    is_authenticated = True
    is_anonymous = False


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check, kept while nothing those checks read has changed: the
    member's and everyone's marks, the revocation snapshot in force (RS256), the bridge (HS256)."""

    caller: Caller
    valid_until: float  # its exp (with the leeway RS256 allows), or at most MAX_TRUST_SECONDS on
    snapshot: RevocationSnapshot | None

    def holds(self, marks: freshness.Marks, now: float) -> bool:
        if marks != self.caller.marks or now >= self.valid_until:
            return False
        if self.caller.kind == "hs256":
            return bool(settings.LEGACY_HS256_BRIDGE_ENABLED)
        return revocations().current(now) is self.snapshot


# A kept token is checked from scratch again at least this often: whatever a check reads that no
# mark covers (the JWKS, the clock for nbf) is never older than this.
MAX_TRUST_SECONDS = 300.0
# Kept by token; the marks are compared by ``_Verified.holds``, once the member is known.
_ANY_MARKS: freshness.Marks = (0, 0, 0, 0)
_verified: freshness.Kept[_Verified] = freshness.Kept(lambda: int(settings.LEGACY_API_CACHE_TOKENS))
freshness.on_forget(_verified.clear)


def _valid_until(claims: Mapping[str, Any], kind: str, now: float) -> float:
    until = now + MAX_TRUST_SECONDS
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        leeway = settings.LEGACY_AUTH_LEEWAY_SECONDS if kind == "rs256" else 0
        until = min(until, float(exp) + leeway)
    return until


def kept_caller(token: str, now: float) -> Caller | None:
    """The caller of a token kept earlier whose checks still hold, with the member's marks read now;
    None when none is kept or it no longer holds (then every check must run again)."""
    kept = _verified.get(token, _ANY_MARKS)
    if kept is None:
        return None
    marks = freshness.marks_of(kept.caller.member.legacy_id)
    return replace(kept.caller, marks=marks) if kept.holds(marks, now) else None


def authenticate_token(token: str) -> Caller:
    """Every check of the module docstring, or a kept result of them that still holds (then one
    query: the marks)."""
    now = time.time()
    kept = kept_caller(token, now)
    if kept is not None:
        return kept
    claims, kind = verify_token(token, now=now)
    if revoked_jti(claims):
        raise Rejected("jti revoked")
    member = resolve_member(claims)
    marks = freshness.marks_of(member.legacy_id)
    caller = Caller(member, claims, kind, token, marks)
    if freshness.keepable() and settings.LEGACY_API_CACHE_TOKENS > 0:
        # What is kept must be no older than its marks: the database is asked again after them.
        if revoked_jti(claims):
            raise Rejected("jti revoked")
        again = resolve_member(claims)
        if again.legacy_id == member.legacy_id:
            caller = Caller(again, claims, kind, token, marks)
            snapshot = revocations().current(now) if kind == "rs256" else None
            _verified.put(token, _ANY_MARKS, _Verified(caller, _valid_until(claims, kind, now), snapshot))
    return caller


# --- DRF --------------------------------------------------------------------------------------------
class BridgeRetiredFailed(exceptions.AuthenticationFailed):
    """Rendered as ``BRIDGE_RETIRED_BODY`` by the legacy views."""


class LegacyBearerAuthentication(BaseAuthentication):
    """The legacy endpoints' authentication: ``request.user`` is a ``Caller``."""

    def authenticate(self, request: Request) -> tuple[Caller, Mapping[str, Any]] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        try:
            caller = authenticate_token(token)
        except BridgeRetired:
            logger.info("legacy auth: an HS256 token after the bridge was retired")
            raise BridgeRetiredFailed from None
        except Rejected as exc:
            logger.info("legacy auth: token refused: %s", exc)
            raise exceptions.AuthenticationFailed from None
        return caller, caller.claims

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsLegacyMember(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Caller)
