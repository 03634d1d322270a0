"""Bearer tokens as API.md's "Conventions" and "Older app builds" state them, with real tokens.

Statuses and bodies are compared exactly: every rejection is a 401 with an empty body, but an
HS256 token while the bridge is off, which gets the retired-bridge JSON.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from migration import models as m
from tests.legacy_api.conftest import (
    ADMIN,
    AUD,
    BLACKLISTED_JTI,
    DELETED,
    DEMO,
    DISABLED,
    IDA,
    IDA_FOAF_ID,
    ISS,
    KID,
    SECRET,
    Tokens,
    bearer,
    foaf_id,
    jwk_of,
)

pytestmark = pytest.mark.django_db

# API.md, "Conventions": the bridge's answer once it is switched off.
BRIDGE_RETIRED = {
    "error": "Legacy auth bridge has been retired; please sign in again.",
    "code": "client_too_old_auth_bridge_expired",
}


def profile(api: Client, token: str | None, **headers: str) -> Any:
    return api.get("/v1/profile", headers={**(bearer(token) if token else {}), **headers})


def assert_accepted(response: Any, legacy_id: int = IDA) -> None:
    assert response.status_code == 200, response.content
    assert response.json()["id"] == legacy_id


def assert_refused(response: Any) -> None:
    """401, empty body (API.md: every rejection but the bridge one)."""
    assert response.status_code == 401
    assert response.content == b""


# --- RS256 from auth.foaf.io -------------------------------------------------------------------------
def test_an_auth_foaf_io_token_is_accepted(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.rs256()))


def test_the_profile_of_a_member_as_api_md_shapes_it(api: Client, imported: Any, tokens: Tokens) -> None:
    assert profile(api, tokens.rs256()).json() == {
        "id": IDA,
        "foaf_id": IDA_FOAF_ID,
        "role": "producer",
        "offering": None,
        "invitation_limit": 3,
        "invite_limit": 3,
        "is_demo": False,
        "is_admin": False,
        "is_superuser": False,
        "user_types": [{"id": 3, "group_label": "producer"}],
        "subnet_memberships": [{"id": 2, "subnet_id": 1, "subnet_name": "Crawford Bay", "is_primary": True}],
        "app_preferences": {},
    }
    admin = profile(api, tokens.rs256({"sub": foaf_id(ADMIN)})).json()
    assert (admin["role"], admin["is_admin"], admin["is_superuser"], admin["is_demo"]) == ("broker", True, True, False)
    assert admin["user_types"] == [{"id": 1, "group_label": "admin"}, {"id": 2, "group_label": "superuser"}]
    demo = profile(api, tokens.rs256({"sub": foaf_id(DEMO)})).json()
    assert (demo["role"], demo["is_admin"], demo["is_demo"]) == ("consumer", False, True)


def test_a_token_signed_by_another_key_under_the_same_kid_is_refused(
    api: Client, imported: Any, tokens: Tokens, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_refused(profile(api, tokens.rs256(key=other_rsa_key)))


def test_a_tampered_token_is_refused(api: Client, imported: Any, tokens: Tokens) -> None:
    header, _, signature = tokens.rs256().split(".")
    forged = jwt.utils.base64url_encode(json.dumps({"sub": foaf_id(ADMIN), "iss": ISS, "aud": AUD}).encode()).decode()
    assert_refused(profile(api, f"{header}.{forged}.{signature}"))


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "evil.example"},
        {"iss": None},
        {"aud": "someotherapp"},
        {"aud": None},
        {"exp": int(time.time()) - 31 - 5},  # past the 30 s leeway
        {"nbf": int(time.time()) + 600},
    ],
    ids=["wrong-iss", "no-iss", "wrong-aud", "no-aud", "expired", "not-yet-valid"],
)
def test_an_rs256_token_with_a_bad_claim_is_refused(
    api: Client, imported: Any, tokens: Tokens, claims: dict[str, Any]
) -> None:
    assert_refused(profile(api, tokens.rs256(claims)))


def test_expiry_has_30_seconds_of_leeway(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.rs256({"exp": int(time.time()) - 20})))


def test_an_audience_list_naming_ours_is_accepted(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.rs256({"aud": ["other", AUD]})))


def test_an_unknown_or_missing_kid_is_refused(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_refused(profile(api, tokens.rs256(kid="not-in-the-jwks")))
    assert_refused(profile(api, tokens.rs256(kid=None)))


def test_the_jwks_is_fetched_again_for_an_unknown_kid(
    api: Client,
    imported: Any,
    tokens: Tokens,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    legacy_settings: Any,
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk_of(rsa_key, KID)]}))
    legacy_settings.LEGACY_AUTH_JWKS = ""
    legacy_settings.LEGACY_AUTH_JWKS_URL = jwks.as_uri()
    assert_accepted(profile(api, tokens.rs256()))
    # auth.foaf.io rotates: a new key appears; the cached set does not have it, so it is fetched again.
    jwks.write_text(json.dumps({"keys": [jwk_of(rsa_key, KID), jwk_of(other_rsa_key, "auth-2026-02")]}))
    assert_accepted(profile(api, tokens.rs256(kid="auth-2026-02", key=other_rsa_key)))
    # While auth.foaf.io cannot be read, the last good set still serves.
    jwks.unlink()
    assert_accepted(profile(api, tokens.rs256()))
    assert_refused(profile(api, tokens.rs256(kid="never-published")))


def test_another_algorithm_is_refused(api: Client, imported: Any, tokens: Tokens, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    claims = {"sub": IDA_FOAF_ID, "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600}
    assert_refused(profile(api, tokens.hs256(claims, algorithm="HS512")))
    assert_refused(profile(api, jwt.encode(claims, rsa_key, algorithm="RS512", headers={"kid": KID})))
    assert_refused(profile(api, jwt.encode(claims, rsa_key, algorithm="PS256", headers={"kid": KID})))
    unsigned = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert_refused(profile(api, f"{unsigned}.{body}."))
    # The RS256 public key used as an HMAC secret under an RS256 header (algorithm confusion).
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    import hmac

    head = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "kid": KID, "typ": "JWT"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    mac = hmac.new(pem, head + b"." + payload, hashlib.sha256).digest()
    assert_refused(profile(api, (head + b"." + payload + b"." + jwt.utils.base64url_encode(mac)).decode()))


# --- the revocation snapshot ------------------------------------------------------------------------
def snapshot(**fields: Any) -> str:
    return json.dumps({"audience": AUD, "generated_at": "2026-11-26T09:00:00Z", **fields})


def test_a_revoked_kid_rejects(api: Client, imported: Any, tokens: Tokens, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_AUTH_REVOCATION_SNAPSHOT = snapshot(revoked_kids=[{"kid": KID}])
    assert_refused(profile(api, tokens.rs256()))


def test_a_token_issued_before_its_subjects_cutoff_rejects(
    api: Client, imported: Any, tokens: Tokens, legacy_settings: Any
) -> None:
    now = int(time.time())
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    legacy_settings.LEGACY_AUTH_REVOCATION_SNAPSHOT = snapshot(tokens_invalid_before={IDA_FOAF_ID: cutoff})
    assert_refused(profile(api, tokens.rs256({"iat": now - 120})))
    assert_accepted(profile(api, tokens.rs256({"iat": now - 30})))
    assert_accepted(profile(api, tokens.rs256({"sub": foaf_id(ADMIN), "iat": now - 120})), ADMIN)


def test_a_revoked_jti_rejects_until_its_exp(api: Client, imported: Any, tokens: Tokens, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_AUTH_REVOCATION_SNAPSHOT = snapshot(
        revoked_jtis=[{"jti": "gone", "exp": "2099-01-01T00:00:00Z"}, {"jti": "lapsed", "exp": "2000-01-01T00:00:00Z"}]
    )
    assert_refused(profile(api, tokens.rs256({"jti": "gone"})))
    assert_accepted(profile(api, tokens.rs256({"jti": "lapsed"})))


def test_the_snapshot_is_read_from_its_url(
    api: Client, imported: Any, tokens: Tokens, legacy_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(snapshot(revoked_jtis=[{"jti": "gone", "exp": "2099-01-01T00:00:00Z"}]))
    legacy_settings.LEGACY_AUTH_REVOCATION_URL = path.as_uri()
    assert_refused(profile(api, tokens.rs256({"jti": "gone"})))
    assert_accepted(profile(api, tokens.rs256()))


def test_a_snapshot_for_another_audience_is_not_used(
    api: Client, imported: Any, tokens: Tokens, legacy_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(
        json.dumps({"audience": "other", "generated_at": "2026-11-26T09:00:00Z", "revoked_kids": [{"kid": KID}]})
    )
    legacy_settings.LEGACY_AUTH_REVOCATION_URL = path.as_uri()
    assert_accepted(profile(api, tokens.rs256()))


# --- the HS256 bridge, every form API.md lists --------------------------------------------------------
def test_a_rails_minted_v1_token_is_accepted(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.v1(email="ida@example.org")))


def test_the_oldest_builds_nested_sub_with_only_iat_is_accepted(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.hs256({"sub": {"user_id": {"user_id": IDA}}, "iat": 1_600_000_000})))
    assert_accepted(profile(api, tokens.hs256({"sub": {"user_id": IDA}, "iat": 1_600_000_000})))


def test_a_legacy_uid_only_token_is_accepted(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.hs256({"legacy_uid": IDA})))
    assert_accepted(profile(api, tokens.hs256({"legacy_uid": IDA, "aud": AUD})))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": IDA_FOAF_ID, "legacy_uid": IDA},  # a string sub without aud
        {"sub": IDA_FOAF_ID, "aud": "someotherapp"},
        {"legacy_uid": IDA, "aud": "someotherapp"},
        {"legacy_uid": IDA, "exp": int(time.time()) - 5},  # no leeway on the bridge
    ],
    ids=["string-sub-without-aud", "v1-other-aud", "uid-other-aud", "expired"],
)
def test_an_hs256_token_with_a_bad_claim_is_refused(
    api: Client, imported: Any, tokens: Tokens, claims: dict[str, Any]
) -> None:
    assert_refused(profile(api, tokens.hs256(claims)))


def test_an_hs256_token_signed_with_another_secret_is_refused(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_refused(profile(api, tokens.hs256({"legacy_uid": IDA}, secret="x" * 64)))


def test_with_the_bridge_off_every_hs256_token_gets_the_retired_bridge_answer(
    api: Client, imported: Any, tokens: Tokens, legacy_settings: Any
) -> None:
    legacy_settings.LEGACY_HS256_BRIDGE_ENABLED = False
    for token in (tokens.v1(), tokens.hs256({"legacy_uid": IDA}), tokens.hs256({"legacy_uid": IDA}, secret="y" * 64)):
        response = profile(api, token)
        assert response.status_code == 401
        assert response.json() == BRIDGE_RETIRED
    assert_accepted(profile(api, tokens.rs256()))  # auth.foaf.io's tokens are unaffected
    assert_refused(profile(api, tokens.hs256({"legacy_uid": IDA}, algorithm="HS384")))  # not HS256: plain refusal


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("", True), ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("anything", True),
     ("false", False), ("False", False), ("0", False), ("no", False), ("OFF", False), (" off ", False)],
)  # fmt: skip
def test_the_bridge_switch_reads_as_rails_reads_it(
    monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool
) -> None:
    from foaf.settings import _legacy_bridge_enabled

    if value is None:
        monkeypatch.delenv("FOAF_AUTH_HS256_BRIDGE_ENABLED", raising=False)
    else:
        monkeypatch.setenv("FOAF_AUTH_HS256_BRIDGE_ENABLED", value)
    assert _legacy_bridge_enabled("FOAF_AUTH_HS256_BRIDGE_ENABLED") is enabled


# --- revoked token ids ------------------------------------------------------------------------------
def test_a_jti_in_the_imported_jwt_blacklist_rejects(api: Client, imported: Any, tokens: Tokens) -> None:
    assert m.RevokedToken.objects.filter(jti=BLACKLISTED_JTI).exists()
    assert_refused(profile(api, tokens.v1(jti=BLACKLISTED_JTI)))
    assert_refused(profile(api, tokens.rs256({"jti": BLACKLISTED_JTI})))
    assert_refused(profile(api, tokens.hs256({"legacy_uid": IDA, "jti": BLACKLISTED_JTI})))


def test_a_jti_revoked_here_rejects(api: Client, imported: Any, tokens: Tokens) -> None:
    m.SessionRevocation.objects.create(jti="logged-out", exp="2099-01-01T00:00:00Z")
    assert_refused(profile(api, tokens.v1(jti="logged-out")))
    assert_refused(profile(api, tokens.rs256({"jti": "logged-out"})))


# --- members -------------------------------------------------------------------------------------------
def test_a_string_sub_is_looked_up_by_foaf_id_only(api: Client, imported: Any, tokens: Tokens) -> None:
    unknown = str(uuid.uuid4())
    assert_refused(profile(api, tokens.rs256({"sub": unknown, "legacy_uid": IDA})))
    assert_refused(profile(api, tokens.v1(sub=unknown)))  # never a fallback to legacy_uid
    assert_refused(profile(api, tokens.rs256({"sub": str(IDA)})))  # a legacy id is not a foaf_id


def test_legacy_uid_wins_over_the_nested_sub(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_accepted(profile(api, tokens.hs256({"legacy_uid": ADMIN, "sub": {"user_id": {"user_id": IDA}}})), ADMIN)


@pytest.mark.parametrize("legacy_id", [DELETED, DISABLED, 999])
def test_a_deleted_disabled_or_unknown_member_is_refused(
    api: Client, imported: Any, tokens: Tokens, legacy_id: int
) -> None:
    assert_refused(profile(api, tokens.rs256({"sub": foaf_id(legacy_id)})))
    assert_refused(profile(api, tokens.v1(legacy_id)))
    assert_refused(profile(api, tokens.hs256({"legacy_uid": legacy_id})))
    assert_refused(profile(api, tokens.hs256({"sub": {"user_id": {"user_id": legacy_id}}, "iat": 1})))


def test_a_token_naming_no_member_is_refused(api: Client, imported: Any, tokens: Tokens) -> None:
    assert_refused(profile(api, tokens.hs256({"iat": 1})))
    assert_refused(profile(api, tokens.hs256({"sub": {"user_id": None}, "iat": 1})))
    assert_refused(profile(api, tokens.hs256({"legacy_uid": True})))


# --- the header ----------------------------------------------------------------------------------------
def test_the_bearer_header_is_the_only_way_in(api: Client, imported: Any, tokens: Tokens) -> None:
    token = tokens.v1()
    assert_refused(profile(api, None))
    assert_refused(api.get("/v1/profile", headers={"Authorization": f"Token {token}"}))
    assert_refused(profile(api, "not.a.token"))
    api.cookies["jwt"] = token  # the old cookie is never read
    assert_refused(profile(api, None))
    assert_accepted(api.get("/v1/profile", headers={"Authorization": f"bearer  {token}"}))


def test_a_refusal_is_not_in_the_projects_error_format(api: Client, imported: Any) -> None:
    response = api.get("/v1/users/profile", headers={"Authorization": "Bearer nope"})
    assert_refused(response)
    unknown = api.post("/v1/no/such/endpoint")
    assert unknown.status_code == 404
    assert unknown.json() == {"status": 404, "error": "Not Found"}
    assert api.put("/v1/profile").json() == {"status": 404, "error": "Not Found"}


def test_the_secret_is_the_one_configured(api: Client, imported: Any, tokens: Tokens, legacy_settings: Any) -> None:
    token = tokens.v1()
    legacy_settings.LEGACY_JWT_SECRET = "z" * 64
    assert_refused(profile(api, token))
    legacy_settings.LEGACY_JWT_SECRET = SECRET
    assert_accepted(profile(api, token))


def test_the_bridge_cannot_be_switched_off_while_logins_are_local(project_env: dict[str, str]) -> None:
    import subprocess
    import sys

    check = [sys.executable, "-c", "import django; django.setup()"]
    env = {**project_env, "FOAF_AUTH_HS256_BRIDGE_ENABLED": "off"}
    env.pop("LEGACY_AUTH_SERVICE_URL", None)
    refused = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "LEGACY_AUTH_SERVICE_URL" in refused.stderr
    env["LEGACY_AUTH_SERVICE_URL"] = "https://auth.example"
    assert subprocess.run(check, env=env, capture_output=True, text=True, timeout=60).returncode == 0
