"""Paths this service does not serve go to Rails unchanged, bodies streamed both ways; without an
upstream they are Rails' 404 as before."""

from __future__ import annotations

import hashlib
import json
import socket
import warnings
from typing import Any

import pytest
from django.test import AsyncClient, Client

from migration import models as m
from migration.cutover import phase
from tests.legacy_api.conftest import IDA, Tokens, bearer
from tests.shadow.rails import MARKET_CHUNKS, StandInRails, market_chunk

pytestmark = pytest.mark.services
NOT_FOUND = {"status": 404, "error": "Not Found"}


def test_without_an_upstream_unserved_paths_are_rails_404(settings: Any, db: None) -> None:
    settings.LEGACY_UPSTREAM_URL = ""
    api = Client()
    for method in ("get", "post", "delete"):
        answer = getattr(api, method)("/v1/marketplace/items?page=2")
        assert (answer.status_code, answer.json()) == (404, NOT_FOUND)
    assert Client().get("/v1/users/handle_available?handle=x").json() == NOT_FOUND


def test_a_large_answer_streams_through_with_its_status_headers_and_cookie(upstream: StandInRails) -> None:
    answer = Client().get("/v1/marketplace/items?page=3&sort=new", HTTP_X_CLIENT_BUILD="412")
    assert answer.streaming and answer.status_code == 200
    assert answer["Content-Type"] == "application/json" and answer["X-Rails-Page"] == "3"
    assert answer.cookies["_growoperative_session"].value == "abc"
    for hop in ("Connection", "Transfer-Encoding", "X-Rails-Private"):  # hop-by-hop, or named in Connection
        assert hop not in answer
    chunks = list(answer.streaming_content)
    assert len(chunks) > 1  # handed on as it arrives, never joined first
    assert b"".join(chunks) == b"".join(market_chunk(i) for i in range(MARKET_CHUNKS))
    [seen] = upstream.requests
    assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/v1/marketplace/items", "page=3&sort=new")
    assert seen["headers"]["x-client-build"] == "412"
    assert seen["headers"]["host"] == upstream.url.removeprefix("http://")
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-host"] == "testserver"


def test_hop_by_hop_request_headers_stay_here(upstream: StandInRails) -> None:
    Client().get("/v1/onboarding/steps", HTTP_CONNECTION="X-Private-Hop", HTTP_X_PRIVATE_HOP="1", HTTP_TE="trailers",
                 HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_AUTHORIZATION="Bearer t")  # fmt: skip
    [seen] = upstream.requests
    assert "x-private-hop" not in seen["headers"] and "te" not in seen["headers"]
    assert seen["headers"]["authorization"] == "Bearer t"  # the apps' token is Rails' to check
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


def test_a_large_request_body_goes_through_and_rails_status_and_location_come_back(upstream: StandInRails) -> None:
    body = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    answer = Client().post("/v1/orders?draft=1", body, content_type="application/octet-stream")
    assert answer.status_code == 201 and answer["Location"] == "/v1/orders/77"
    received = json.loads(b"".join(answer.streaming_content))
    assert received == {"received": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert upstream.requests[0]["headers"]["content-type"] == "application/octet-stream"


def test_handle_available_goes_to_rails_within_the_lookup_budget(upstream: StandInRails, settings: Any) -> None:
    settings.LEGACY_HANDLE_LOOKUPS_PER_MINUTE = 1
    api = Client()
    answer = api.get("/v1/users/handle_available?handle=idaquist2")
    assert json.loads(b"".join(answer.streaming_content)) == {"available": False}
    assert api.get("/v1/users/handle_available?handle=zoe").status_code == 429  # Rails was not asked
    assert len(upstream.requests) == 1


def test_an_answer_rails_breaks_off_ends_early_without_a_crash(upstream: StandInRails) -> None:
    answer = Client().get("/v1/marketplace/broken")
    assert answer.status_code == 200 and answer["Content-Length"] == "1000"
    assert b"".join(answer.streaming_content) == b"x" * 10


def test_rails_down_is_a_bad_gateway(settings: Any, db: None) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.LEGACY_UPSTREAM_URL = f"http://127.0.0.1:{port}"
    answer = Client().get("/v1/marketplace/items")
    assert (answer.status_code, answer.json()) == (502, {"status": 502, "error": "Bad Gateway"})


def test_under_asgi_the_answer_streams_without_being_buffered(upstream: StandInRails) -> None:
    import asyncio

    async def fetch() -> tuple[Any, list[bytes]]:
        answer = await AsyncClient().get("/v1/marketplace/items")
        return answer, [chunk async for chunk in answer.streaming_content]

    with warnings.catch_warnings():
        # Django warns (and buffers the whole body) when an ASGI answer streams a sync iterator.
        warnings.filterwarnings("error", message=".*synchronous iterators.*")
        answer, chunks = asyncio.run(fetch())
    assert answer.status_code == 200 and len(chunks) > 1
    assert b"".join(chunks) == b"".join(market_chunk(i) for i in range(MARKET_CHUNKS))


def test_standalone_answers_credit_writes_here_even_with_an_upstream(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens
) -> None:
    assert phase.current() == m.CutoverState.Phase.STANDALONE
    paid = Client().post("/v1/trustlines/2/payment", {"amount": 1}, content_type="application/json",
                         headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert paid.status_code == 200 and paid.json()["operation"]["write_state"] == "posted"
    assert upstream.requests == []


def test_without_an_upstream_the_phase_is_not_consulted(
    settings: Any, imported: dict[int, m.Member], tokens: Tokens
) -> None:
    settings.LEGACY_UPSTREAM_URL = ""
    m.CutoverState.objects.create(pk=1, phase=m.CutoverState.Phase.FROZEN)
    phase.forget()
    paid = Client().post("/v1/trustlines/2/payment", {"amount": 1}, content_type="application/json",
                         headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert paid.status_code == 200


def test_an_empty_body_goes_with_its_content_length_and_never_chunked_beside_it(upstream: StandInRails) -> None:
    # A confirm, reject or mark_paid without a body: Content-Length: 0. Sent chunked as well, the
    # request would carry both headers, which RFC 9112 §6.2 forbids and nginx or Puma refuse (400).
    answer = Client().put("/v1/orders/77/cancel", CONTENT_LENGTH="0")
    assert answer.status_code == 404  # the stand-in's routing 404: Rails got it
    [seen] = upstream.requests
    assert seen["headers"].get("content-length") == "0"
    assert "transfer-encoding" not in seen["headers"]


@pytest.mark.parametrize("path", ["/v1/trustlines/2/payment.json", "/v1//trustlines/2/payment", "/v1/trustlines.json"])
def test_after_the_switch_no_spelling_of_a_credit_write_reaches_rails(
    upstream: StandInRails, imported: dict[int, m.Member], tokens: Tokens, path: str
) -> None:
    """Rails routes ``payment.json`` (a format suffix) and squeezes ``//``: such a path, which no
    route here matches, must not pass through to Rails once this service writes credit."""
    m.CutoverState.objects.create(pk=1, phase=m.CutoverState.Phase.SWITCHED)
    phase.forget()
    answer = Client().post(path, {"amount": 1, "other_user_id": 6}, content_type="application/json",
                           headers=bearer(tokens.v1(IDA)))  # fmt: skip
    assert answer.status_code == 404
    assert upstream.requests == []
    m.CutoverState.objects.filter(pk=1).update(phase=m.CutoverState.Phase.FROZEN)
    phase.forget()
    frozen = Client().post(path, {"amount": 1}, content_type="application/json", headers=bearer(tokens.v1(IDA)))
    assert frozen.status_code == 503 and upstream.requests == []
    m.CutoverState.objects.filter(pk=1).update(phase=m.CutoverState.Phase.SHADOW)
    phase.forget()
    Client().post(path, {"amount": 1}, content_type="application/json", headers=bearer(tokens.v1(IDA)))
    assert [r["path"] for r in upstream.requests] == [path]  # Rails writes: it gets it as sent
