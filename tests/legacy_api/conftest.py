"""Fixtures of the legacy API tests: an imported snapshot, real keys and real tokens of every kind.

The members come from ``migration/fixtures/demo_legacy.sql`` imported as ``make run`` imports it
(the dump path: no server needed). Its password hashes are empty, so the member who logs in gets
a real Devise hash, written as Devise writes it (``$2a$``, bcrypt of the password).
"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import bcrypt
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from migration import models as m
from migration.api import auth

SECRET = "rails-secret-key-base-" + "0123456789abcdef" * 6  # Rails' SECRET_KEY_BASE stand-in
AUD = "growoperative"
ISS = "auth.foaf.io"
KID = "auth-2026-01"

# Members of the demo dump (migration/fixtures/demo_legacy.sql).
IDA = 2  # idaquist2, producer, holds a foaf_address
IDA_FOAF_ID = "9b1f0c2e-0000-4000-8000-000000000002"
IDA_PASSWORD = "crawford-2"
ADMIN = 1  # admin + superuser
DELETED = 5  # ravinakamura5, deleted_at set
DISABLED = 7  # tamwhitehorse7, disabled_at set
DEMO = 8  # demo_8, demo group
BLACKLISTED_JTI = "0b7c3b1e-0000-4000-8000-00000000dead"  # the dump's jwt_blacklist row


def foaf_id(legacy_id: int) -> str:
    return f"9b1f0c2e-0000-4000-8000-{legacy_id:012d}"


def devise_hash(password: str, cost: int = 4) -> str:
    """What Devise stores: BCrypt::Password.create(password, cost:), a $2a$ hash."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode()


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)}


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Tokens:
    key: rsa.RSAPrivateKey

    def rs256(
        self, claims: dict[str, Any] | None = None, *, kid: str | None = KID, key: Any = None, **extra: Any
    ) -> str:
        """An auth.foaf.io token for Ida unless claims say otherwise."""
        now = int(time.time())
        body = {"sub": IDA_FOAF_ID, "iss": ISS, "aud": AUD, "iat": now, "exp": now + 900, "jti": str(uuid.uuid4())}
        body.update(claims or {})
        body = {k: v for k, v in body.items() if v is not None}
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers=headers)

    def hs256(self, claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
        return jwt.encode(claims, secret, algorithm=algorithm)

    def v1(self, legacy_id: int = IDA, **extra: Any) -> str:
        """Rails-minted v1: sub = foaf_id, aud, jti, legacy_uid, user_name, one-year exp."""
        now = int(time.time())
        claims = {
            "sub": foaf_id(legacy_id),
            "aud": AUD,
            "jti": str(uuid.uuid4()),
            "legacy_uid": legacy_id,
            "user_name": "whoever",
            "iat": now,
            "exp": now + 365 * 86400,
        }
        claims.update(extra)
        return self.hs256({k: v for k, v in claims.items() if v is not None})


@pytest.fixture
def tokens(rsa_key: rsa.RSAPrivateKey) -> Tokens:
    return Tokens(rsa_key)


@pytest.fixture(autouse=True)
def legacy_settings(settings: Any, rsa_key: rsa.RSAPrivateKey) -> Iterator[Any]:
    """Every test: our JWKS inline, no revocation snapshot, the bridge on with a known secret, local
    logins at a cheap bcrypt cost, and rate-limit counters of its own."""
    settings.LEGACY_AUD = AUD
    settings.LEGACY_AUTH_ISSUER = ISS
    settings.LEGACY_AUTH_LEEWAY_SECONDS = 30
    settings.LEGACY_AUTH_JWKS_URL = ""
    settings.LEGACY_AUTH_JWKS = json.dumps({"keys": [jwk_of(rsa_key, KID)]})
    settings.LEGACY_AUTH_REVOCATION_URL = ""
    settings.LEGACY_AUTH_REVOCATION_SNAPSHOT = ""
    settings.LEGACY_AUTH_SERVICE_URL = ""
    settings.LEGACY_AUTH_SERVICE_TOKEN = ""
    settings.LEGACY_HS256_BRIDGE_ENABLED = True
    settings.LEGACY_JWT_SECRET = SECRET
    settings.LEGACY_BCRYPT_COST = 4
    settings.LEGACY_DEVISE_PEPPER = ""
    settings.LEGACY_RATE_NAMESPACE = uuid.uuid4().hex
    settings.RELAY_TRUSTED_PROXIES = []
    auth.reset_caches()
    yield settings
    auth.reset_caches()


@pytest.fixture
def imported(db: None) -> dict[int, m.Member]:
    """The demo dump imported; Ida holds a real Devise hash of ``crawford-2``."""
    from foaf.management.commands.load_demo import DEMO_LEGACY_DUMP
    from migration.legacy.source import DumpSource
    from migration.progress import Progress
    from migration.runs import import_run

    with DumpSource(str(DEMO_LEGACY_DUMP)) as source:
        import_run(source, label="legacy api test", progress=Progress(io.StringIO()))
    m.Member.objects.filter(legacy_id=IDA).update(encrypted_password=devise_hash(IDA_PASSWORD))
    return {member.legacy_id: member for member in m.Member.objects.all()}


Get = Callable[..., Any]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api() -> Client:
    return Client()
