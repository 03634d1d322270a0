"""Sessions of the legacy API: log in, refresh, log out (docs/legacy-api.md, "Sessions").

Login forwards to the auth service when ``LEGACY_AUTH_SERVICE_URL`` is set (auth.foaf.io's
``POST /v1/sessions`` with ``client_id`` = ``FOAF_AUD``, as Rails does); otherwise it checks the
imported Devise hash here, upgrades a hash below ``LEGACY_BCRYPT_COST``, and issues an HS256 token
of the Rails-minted v1 form, which every legacy endpoint accepts while the bridge is on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone

from migration import models as m
from migration.api import limits, passwords, shapes
from migration.api.auth import Caller

logger = logging.getLogger(__name__)

TOKEN_LIFETIME = dt.timedelta(days=365)


class LoginRefused(Exception):
    """401 ``{"error": "Username or password are invalid"}``; the reason is for the log only."""


class AuthServiceUnavailable(Exception):
    """The auth service could not be reached: 500, as Rails answers."""


@dataclass(frozen=True)
class Login:
    member: m.Member
    token: str
    identity: dict[str, Any]


# --- the auth service ----------------------------------------------------------------------------
def auth_service(method: str, path: str, body: dict[str, Any] | None = None, *, bearer: str = "") -> tuple[int, Any]:
    """One JSON call to the auth service; its status and parsed body (``{}`` when not JSON)."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (LEGACY_AUTH_SERVICE_URL is http(s) only)
        settings.LEGACY_AUTH_SERVICE_URL + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.LEGACY_AUTH_SERVICE_TIMEOUT_SECONDS) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        raise AuthServiceUnavailable(str(exc)) from exc
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {}


def _active_member(**lookup: Any) -> m.Member | None:
    member = m.Member.objects.filter(**lookup).first()
    if member is None or member.deleted_at is not None or member.disabled_at is not None:
        return None
    return member


def _forwarded_login(user_name: str, password: str) -> Login:
    status, body = auth_service(
        "POST", "/v1/sessions", {"user_name": user_name, "password": password, "client_id": settings.LEGACY_AUD}
    )
    if status != 200 or not isinstance(body, dict):
        raise LoginRefused(f"the auth service answered {status}")
    identity, token = body.get("identity"), body.get("token")
    if not isinstance(identity, dict) or not isinstance(token, str):
        raise LoginRefused("the auth service's answer has no identity or token")
    foaf_id = identity.get("foaf_id")
    if not isinstance(foaf_id, str) or not foaf_id:
        raise LoginRefused("the auth service's answer names no identity or token")
    member = _active_member(foaf_id=foaf_id)
    if member is None:
        raise LoginRefused("no active local member for the identity")
    return Login(member, token, identity)


# --- local login ----------------------------------------------------------------------------------
def find_member(user_name: str) -> m.Member | None:
    """By user name as MySQL's case-insensitive collation found it (an exact match first)."""
    if not user_name:
        return None
    exact = m.Member.objects.filter(user_name=user_name).first()
    if exact is not None:
        return exact
    matches = list(m.Member.objects.filter(user_name__iexact=user_name)[:2])
    return matches[0] if len(matches) == 1 else None


def issue_token(member: m.Member, *, now: dt.datetime | None = None) -> str:
    """An HS256 token of the Rails-minted v1 form: ``sub`` = foaf_id, ``aud``, ``jti``,
    ``legacy_uid``, ``user_name``, ``email`` when known, ``iat``, a one-year ``exp``."""
    now = now or timezone.now()
    claims: dict[str, Any] = {
        "sub": member.foaf_id,
        "aud": settings.LEGACY_AUD,
        "jti": str(uuid.uuid4()),
        "legacy_uid": member.legacy_id,
        "user_name": member.user_name,
        "iat": int(now.timestamp()),
        "exp": int((now + TOKEN_LIFETIME).timestamp()),
    }
    if member.email:
        claims["email"] = member.email
    return jwt.encode(claims, settings.LEGACY_JWT_SECRET, algorithm="HS256")


def _local_login(user_name: str, password: str) -> Login:
    member = find_member(user_name)
    if not passwords.check(password, member.encrypted_password if member else None):
        raise LoginRefused("unknown user name or wrong password")
    assert member is not None
    if member.deleted_at is not None or member.disabled_at is not None:
        raise LoginRefused("the member is deleted or disabled")
    if passwords.needs_upgrade(member.encrypted_password):
        member.encrypted_password = passwords.digest(password)
        member.save(update_fields=["encrypted_password"])
    return Login(member, issue_token(member), shapes.identity_payload(member))


def login(user_name: str, password: str, *, address: str) -> Login:
    """Log in, or ``LoginRefused``. A throttled attempt is refused as a wrong password is (after the
    same bcrypt work, so that its timing does not tell either)."""
    if not limits.login_attempt_allowed(user_name, address):
        passwords.check(password, None)
        raise LoginRefused("throttled")
    if settings.LEGACY_AUTH_SERVICE_URL:
        return _forwarded_login(user_name, password)
    return _local_login(user_name, password)


# --- the current session --------------------------------------------------------------------------
def session(caller: Caller) -> dict[str, Any]:
    """``GET /v1/sessions``: USER + identity; an RS256 session is refreshed by the auth service."""
    body: dict[str, Any] = {**shapes.user_payload(caller.member), "identity": shapes.identity_payload(caller.member)}
    if caller.kind == "rs256" and settings.LEGACY_AUTH_SERVICE_URL:
        try:
            status, refreshed = auth_service("GET", "/v1/sessions", bearer=caller.token)
        except AuthServiceUnavailable as exc:
            logger.warning("legacy api: session refresh failed: %s", exc)
            return body
        if status == 200 and isinstance(refreshed, dict):
            if "token" in refreshed:
                body["token"] = refreshed["token"]
            if "identity" in refreshed:
                body["identity"] = refreshed["identity"]
    return body


def logout(caller: Caller) -> None:
    """Revoke the bearer: its ``jti`` (a random id when it has none) until its ``exp`` (or a year)."""
    jti = caller.claims.get("jti")
    jti = str(jti) if jti is not None and jti is not False else str(uuid.uuid4())
    exp = caller.claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        until = dt.datetime.fromtimestamp(exp, tz=dt.UTC)
    else:
        until = timezone.now() + TOKEN_LIFETIME
    m.SessionRevocation.objects.get_or_create(
        jti=jti[:255], defaults={"exp": until, "member_legacy_id": caller.member.legacy_id}
    )
