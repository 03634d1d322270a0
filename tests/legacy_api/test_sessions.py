"""Sessions, profile and handle lookups as API.md states them, on the imported demo dump.

Login checks a real Devise bcrypt hash (or forwards to an auth service stand-in over HTTP),
issues a Rails-minted v1 token every endpoint accepts, upgrades a cheap hash, and is rate-limited
without any answer changing: a throttled attempt is a refused one, byte for byte.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import bcrypt
import jwt
import pytest
from django.test import Client

from migration import models as m
from tests.legacy_api.conftest import (
    ADMIN,
    AUD,
    DELETED,
    DEMO,
    DISABLED,
    IDA,
    IDA_FOAF_ID,
    IDA_PASSWORD,
    SECRET,
    Tokens,
    bearer,
    devise_hash,
    foaf_id,
)

pytestmark = pytest.mark.django_db

# API.md, "Sessions", "Admin and profile" and "Conventions": the texts, exactly.
LOGIN_REFUSED = {"error": "Username or password are invalid"}
NOT_FOUND = {"error": "not_found"}
RATE_LIMITED = {"error": "rate_limited"}

IDA_USER = {
    "data": {
        "id": "2",
        "type": "user",
        "attributes": {
            "id": 2,
            "user_name": "idaquist2",
            "name": "Ida Quist",
            "nickname": "ida",
            "tokens": None,
            "created_at": "2025-07-02T09:00:00.000Z",
            "invite_limit": 3,
            "location_opted_in": False,
            "discovery_radius_km": None,
            "offering": None,
            "user_types": [
                {
                    "id": 3,
                    "user_id": 2,
                    "group_label": "producer",
                    "created_at": "2025-07-02T09:00:00.000Z",
                    "updated_at": "2025-07-02T09:00:00.000Z",
                }
            ],
            "avatar_url": None,
            "subnet_memberships": [{"id": 2, "subnet_id": 1, "subnet_name": "Crawford Bay", "is_primary": True}],
        },
        "relationships": {},
    }
}
IDA_IDENTITY = {
    "foaf_id": IDA_FOAF_ID,
    "user_name": "idaquist2",
    "display_name": "Ida's Garden 🌱",
    "first_name": "Ida",
    "last_name": "Quist",
    "email": "ida@example.org",
    "email_verified_at": None,
    "pending_email": None,
    "avatar_url": None,
    "about": None,
    "area_label": None,
    "foaf_address": "0x00000000000000000000000000000000000000a2",
    "created_at": "2025-07-02T09:00:00Z",
    "updated_at": "2026-10-01T08:00:00Z",
}


def log_in(api: Client, username: str = "idaquist2", password: str = IDA_PASSWORD, **extra: Any) -> Any:
    return api.post(
        "/v1/sessions", {"username": username, "password": password}, content_type="application/json", **extra
    )


def assert_login_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.json() == LOGIN_REFUSED


# --- logging in against the imported Devise hashes ------------------------------------------------
def test_a_member_logs_in_with_the_password_rails_knew(api: Client, imported: Any) -> None:
    response = log_in(api)
    assert response.status_code == 200
    body = response.json()
    token = body.pop("token")
    assert body == {**IDA_USER, "identity": IDA_IDENTITY}
    # The Rails-minted v1 form, signed with the bridge secret.
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD)
    assert claims["sub"] == IDA_FOAF_ID
    assert (claims["legacy_uid"], claims["user_name"], claims["email"]) == (IDA, "idaquist2", "ida@example.org")
    assert claims["jti"]
    assert 364 * 86400 < claims["exp"] - time.time() <= 365 * 86400
    # ... which every endpoint accepts.
    session = api.get("/v1/sessions", headers=bearer(token))
    assert session.status_code == 200
    assert session.json() == {**IDA_USER, "identity": IDA_IDENTITY}  # an HS256 session never gets a token
    assert api.get("/v1/profile", headers=bearer(token)).json()["id"] == IDA


def test_parameters_may_come_as_form_fields_or_query_string(api: Client, imported: Any) -> None:
    assert api.post("/v1/sessions", {"username": "idaquist2", "password": IDA_PASSWORD}).status_code == 200
    assert api.post(f"/v1/sessions?username=idaquist2&password={IDA_PASSWORD}").status_code == 200
    assert api.post("/v1/sessions/", {"username": "idaquist2", "password": IDA_PASSWORD}).status_code == 200


def test_the_user_name_matches_as_mysql_matched_it(api: Client, imported: Any) -> None:
    assert log_in(api, username="IdaQuist2").status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("idaquist2", "crawford-3"), ("idaquist2", ""), ("nobody", IDA_PASSWORD), ("", ""), ("olubergstrom3", "")],
    ids=["wrong-password", "empty-password", "unknown-user", "nothing", "no-hash"],
)
def test_a_wrong_login_is_refused(api: Client, imported: Any, username: str, password: str) -> None:
    assert_login_refused(log_in(api, username=username, password=password))


def test_a_login_with_a_body_rails_would_not_parse_is_refused(api: Client, imported: Any) -> None:
    assert_login_refused(api.post("/v1/sessions", "username=idaquist2", content_type="text/plain"))
    assert_login_refused(
        api.post("/v1/sessions", json.dumps({"username": ["idaquist2"]}), content_type="application/json")
    )
    bad = api.post("/v1/sessions", "{not json", content_type="application/json")
    assert (bad.status_code, bad.json()) == (400, {"status": 400, "error": "Bad Request"})


def test_a_bearer_header_does_not_matter_to_login(api: Client, imported: Any) -> None:
    assert log_in(api, headers={"Authorization": "Bearer garbage"}).status_code == 200


@pytest.mark.parametrize("legacy_id", [DELETED, DISABLED])
def test_deleted_and_disabled_members_cannot_log_in(api: Client, imported: Any, legacy_id: int) -> None:
    member = m.Member.objects.get(legacy_id=legacy_id)
    member.encrypted_password = devise_hash("right")
    member.save()
    assert_login_refused(log_in(api, username=member.user_name, password="right"))


def test_a_cheap_hash_is_upgraded_on_a_good_login(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_BCRYPT_COST = 5
    before = m.Member.objects.get(legacy_id=IDA).encrypted_password
    assert before.startswith("$2a$04$")
    assert log_in(api, password="wrong").status_code == 401
    assert m.Member.objects.get(legacy_id=IDA).encrypted_password == before  # nothing changes on a refusal
    assert log_in(api).status_code == 200
    after = m.Member.objects.get(legacy_id=IDA).encrypted_password
    assert after.startswith("$2a$05$")  # still Devise's form
    assert bcrypt.checkpw(IDA_PASSWORD.encode(), after.encode())
    assert log_in(api).status_code == 200
    assert m.Member.objects.get(legacy_id=IDA).encrypted_password == after  # at the cost: left alone


def test_the_devise_pepper_is_appended(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_DEVISE_PEPPER = "pepper!"
    m.Member.objects.filter(legacy_id=IDA).update(encrypted_password=devise_hash(IDA_PASSWORD + "pepper!"))
    assert log_in(api).status_code == 200
    legacy_settings.LEGACY_DEVISE_PEPPER = ""
    assert_login_refused(log_in(api))


def test_passwords_longer_than_bcrypt_reads_match_as_devise_matches_them(api: Client, imported: Any) -> None:
    long = "x" * 80
    # Ruby's bcrypt reads the first 72 bytes; Python's refuses longer input, so it is cut first.
    hashed = bcrypt.hashpw(long[:72].encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    m.Member.objects.filter(legacy_id=IDA).update(encrypted_password=hashed)
    assert log_in(api, password=long).status_code == 200
    assert log_in(api, password="x" * 72 + "something else").status_code == 200


def test_a_generated_snapshot_member_logs_in_with_the_generators_password(api: Client, db: None) -> None:
    """The generator's hashes are Devise's ($2a$04$); member N's password is crawford-N (README)."""
    import io
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from migration.legacy.source import DumpSource
    from migration.progress import Progress
    from migration.runs import import_run
    from tests.migration.conftest import generator_path

    with tempfile.TemporaryDirectory() as out:
        sql = Path(out) / "snapshot.sql"
        subprocess.run(
            [sys.executable, str(generator_path()), "--users", "12", "--events", "60", "--seed", "5",
             "--out", str(sql), "--truth", str(Path(out) / "truth.json")],
            check=True,
            timeout=120,
        )  # fmt: skip
        with DumpSource(str(sql)) as source:
            import_run(source, label="snapshot", progress=Progress(io.StringIO()))
    member = m.Member.objects.filter(deleted_at=None, disabled_at=None, legacy_id__gt=1).order_by("legacy_id").first()
    assert member is not None and member.encrypted_password.startswith("$2a$")
    response = log_in(api, username=member.user_name, password=f"crawford-{member.legacy_id}")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(member.legacy_id)
    assert_login_refused(log_in(api, username=member.user_name, password="crawford-bulk"))


# --- the current session and logging out ------------------------------------------------------------
def test_logging_out_revokes_the_token(api: Client, imported: Any) -> None:
    token = log_in(api).json()["token"]
    out = api.delete("/v1/sessions", headers=bearer(token))
    assert (out.status_code, out.content) == (200, b"")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD)
    revoked = m.SessionRevocation.objects.get(jti=claims["jti"])
    assert int(revoked.exp.timestamp()) == claims["exp"]
    for path in ("/v1/sessions", "/v1/profile", "/v1/users/profile"):
        response = api.get(path, headers=bearer(token))
        assert (response.status_code, response.content) == (401, b"")
    assert (api.delete("/v1/sessions", headers=bearer(token)).status_code) == 401
    assert log_in(api).status_code == 200  # a new login is a new token


def test_logging_out_an_rs256_session(api: Client, imported: Any, tokens: Tokens) -> None:
    token = tokens.rs256()
    assert api.delete("/v1/sessions", headers=bearer(token)).status_code == 200
    assert api.get("/v1/sessions", headers=bearer(token)).status_code == 401


def test_a_token_without_jti_survives_logout(api: Client, imported: Any, tokens: Tokens) -> None:
    token = tokens.hs256({"sub": {"user_id": {"user_id": IDA}}, "iat": 1_600_000_000})
    assert api.delete("/v1/sessions", headers=bearer(token)).status_code == 200
    row = m.SessionRevocation.objects.get()
    assert len(row.jti) == 36  # a random uuid, kept a year
    assert 364 * 86400 < row.exp.timestamp() - time.time() <= 365 * 86400
    assert api.get("/v1/sessions", headers=bearer(token)).status_code == 200


def test_logging_out_needs_a_token(api: Client, imported: Any) -> None:
    response = api.delete("/v1/sessions")
    assert (response.status_code, response.content) == (401, b"")
    assert not m.SessionRevocation.objects.exists()


def test_users_profile_is_user_and_identity_without_a_token(api: Client, imported: Any, tokens: Tokens) -> None:
    response = api.get("/v1/users/profile", headers=bearer(tokens.rs256()))
    assert response.status_code == 200
    assert response.json() == {**IDA_USER, "identity": IDA_IDENTITY}


def test_the_admin_and_demo_users_types(api: Client, imported: Any, tokens: Tokens) -> None:
    admin = api.get("/v1/users/profile", headers=bearer(tokens.v1(ADMIN))).json()
    assert [t["group_label"] for t in admin["data"]["attributes"]["user_types"]] == ["admin", "superuser"]
    demo = api.get("/v1/users/profile", headers=bearer(tokens.v1(DEMO))).json()
    assert demo["data"]["attributes"]["subnet_memberships"] == [
        {"id": 8, "subnet_id": 2, "subnet_name": "Demo", "is_primary": True}
    ]
    assert demo["identity"]["display_name"] is None


# --- rate limits that change no answer ----------------------------------------------------------------
def test_a_throttled_login_answers_exactly_as_a_refused_one(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_LOGIN_RATE_USER_NAME = (1, 3)  # 3 at once, then one a minute
    refused = log_in(api, password="wrong")
    for _ in range(2):
        log_in(api, password="wrong")
    throttled = log_in(api)  # the right password, over the limit
    assert (throttled.status_code, throttled.content) == (refused.status_code, refused.content)
    assert throttled["Content-Type"] == refused["Content-Type"]
    assert "Retry-After" not in throttled
    assert_login_refused(throttled)
    assert_login_refused(log_in(api, username="IDAQUIST2"))  # the name counts case-blind
    # Another member from the same address is not held back by Ida's bucket.
    m.Member.objects.filter(legacy_id=ADMIN).update(encrypted_password=devise_hash("admin-pw"))
    assert log_in(api, username="admin", password="admin-pw").status_code == 200


def test_login_attempts_are_limited_per_address(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_LOGIN_RATE_ADDRESS = (1, 2)
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert_login_refused(log_in(api, username="someone", password="x"))
    assert_login_refused(log_in(api, username="someone-else", password="y"))
    assert_login_refused(log_in(api))  # right password, third attempt from this address
    assert log_in(other).status_code == 200


# --- handle lookups -----------------------------------------------------------------------------------
def test_a_handle_lookup_answers_four_fields(api: Client, imported: Any) -> None:
    response = api.get("/v1/users/by_handle/idaquist2")
    assert response.status_code == 200
    assert response.json() == {
        "foaf_id": IDA_FOAF_ID,
        "user_name": "idaquist2",
        "display_name": "Ida's Garden 🌱",
        "avatar_url": None,
    }
    assert api.get("/v1/users/by_handle/IdaQuist2").json()["foaf_id"] == IDA_FOAF_ID


def test_an_unknown_handle_is_not_found(api: Client, imported: Any) -> None:
    for handle in ("nobody", "ida.quist", "idaquist2.json", "%20"):
        response = api.get(f"/v1/users/by_handle/{handle}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND), handle


def test_handle_lookups_are_limited_per_address_per_minute(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_HANDLE_LOOKUPS_PER_MINUTE = 3
    while int(time.time()) % 60 > 55:  # keep the test inside one clock minute
        time.sleep(0.5)
    assert api.get("/v1/users/by_handle/idaquist2").status_code == 200
    assert api.get("/v1/users/by_handle/nobody").status_code == 404
    assert api.get("/v1/users/handle_available?handle=x").status_code == 404  # stays on Rails, counted
    over = api.get("/v1/users/by_handle/idaquist2")
    assert (over.status_code, over.json(), over["Retry-After"]) == (429, RATE_LIMITED, "60")
    assert Client(REMOTE_ADDR="10.9.9.9").get("/v1/users/by_handle/idaquist2").status_code == 200


# --- an auth service ------------------------------------------------------------------------------------
class AuthStandIn:
    """auth.foaf.io's POST/GET /v1/sessions over real HTTP, answering what the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: tuple[int, Any] = (200, {})
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stand_in.requests.append(
                    {"method": self.command, "path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                status, payload = stand_in.answer
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auth_service(legacy_settings: Any) -> Iterator[AuthStandIn]:
    stand_in = AuthStandIn()
    legacy_settings.LEGACY_AUTH_SERVICE_URL = stand_in.url
    yield stand_in
    stand_in.close()


AUTH_IDENTITY = {**IDA_IDENTITY, "display_name": "Ida (from auth)", "email_verified_at": "2026-01-01T00:00:00Z"}


def test_login_is_forwarded_to_the_auth_service(api: Client, imported: Any, auth_service: AuthStandIn) -> None:
    auth_service.answer = (200, {"token": "rs256-from-auth", "identity": AUTH_IDENTITY})
    response = log_in(api, password="whatever auth checks")
    assert response.status_code == 200
    assert response.json() == {**IDA_USER, "token": "rs256-from-auth", "identity": AUTH_IDENTITY}
    assert auth_service.requests == [
        {
            "method": "POST",
            "path": "/v1/sessions",
            "body": {"user_name": "idaquist2", "password": "whatever auth checks", "client_id": AUD},
            "auth": None,
        }
    ]
    assert m.Member.objects.get(legacy_id=IDA).encrypted_password.startswith("$2a$04$")  # never touched


@pytest.mark.parametrize(
    "answer",
    [
        (401, {"error": "invalid"}),
        (500, {}),
        (201, {"token": "t", "identity": AUTH_IDENTITY}),
        (200, {"token": "t", "identity": {**AUTH_IDENTITY, "foaf_id": "no-such-member"}}),
        (200, {"token": "t", "identity": {**AUTH_IDENTITY, "foaf_id": foaf_id(DELETED)}}),
        (200, {"identity": AUTH_IDENTITY}),
    ],
    ids=["refused", "error", "not-200", "no-local-member", "deleted-member", "no-token"],
)
def test_a_forwarded_login_that_fails_is_refused(
    api: Client, imported: Any, auth_service: AuthStandIn, answer: tuple[int, Any]
) -> None:
    auth_service.answer = answer
    assert_login_refused(log_in(api))


def test_an_unreachable_auth_service_is_a_500(api: Client, imported: Any, legacy_settings: Any) -> None:
    legacy_settings.LEGACY_AUTH_SERVICE_URL = "http://127.0.0.1:9"
    response = log_in(api)
    assert (response.status_code, response.json()) == (500, {"status": 500, "error": "Internal Server Error"})


def test_an_rs256_session_is_refreshed_by_the_auth_service(
    api: Client, imported: Any, tokens: Tokens, auth_service: AuthStandIn
) -> None:
    token = tokens.rs256()
    auth_service.answer = (200, {"token": "refreshed", "identity": AUTH_IDENTITY})
    body = api.get("/v1/sessions", headers=bearer(token)).json()
    assert body == {**IDA_USER, "token": "refreshed", "identity": AUTH_IDENTITY}
    assert auth_service.requests[-1]["auth"] == f"Bearer {token}"
    auth_service.answer = (401, {})
    assert api.get("/v1/sessions", headers=bearer(token)).json() == {**IDA_USER, "identity": IDA_IDENTITY}
    calls = len(auth_service.requests)
    assert "token" not in api.get("/v1/sessions", headers=bearer(tokens.v1())).json()  # HS256: never asked
    assert len(auth_service.requests) == calls
