"""Rate limits: token buckets per address, per key, per deposit, per connection; 429 with
Retry-After over HTTP, a `throttled` frame and for floods a close (4029) over the WebSocket."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

import foaf.settings
from foaf.env import Env
from relay import ratelimit
from relay.consumers import CLOSE_THROTTLED
from relay.protocol.auth import HEADER_KEY
from tests.relay.builders import ALICE, BOB, MALLORY, key
from tests.relay.clients import V1, Session, deposit, error_code, fetch, publish_profiles, run, seal, signed
from tests.services import require


# --- buckets ----------------------------------------------------------------------------------------
@pytest.mark.core
def test_a_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    bucket = ratelimit.TokenBucket(ratelimit.Rate(per_minute=60, burst=3), now=100.0)
    assert [bucket.take(100.0).allowed for _ in range(4)] == [True, True, True, False]
    refused = bucket.take(100.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(1.0)
    assert bucket.take(100.5).allowed is False
    assert bucket.take(101.01).allowed is True  # one token a second
    assert bucket.take(1000.0).allowed and bucket.tokens == pytest.approx(2.0)  # never more than the burst


def stores() -> list[Any]:
    return [pytest.param("local", id="local"), pytest.param("redis", id="redis")]


def make_store(kind: str) -> ratelimit.BucketStore:
    if kind == "local":
        return ratelimit.LocalStore()
    return ratelimit.RedisStore(require("REDIS_URL"))


@pytest.mark.parametrize("kind", stores())
def test_a_store_keeps_one_bucket_per_name(kind: str) -> None:
    store = make_store(kind)
    rate = ratelimit.Rate(per_minute=120, burst=2)
    a, b = f"test:{uuid.uuid4().hex}:a", f"test:{uuid.uuid4().hex}:b"
    assert [store.take(a, rate, 10.0).allowed for _ in range(3)] == [True, True, False]
    assert store.take(b, rate, 10.0).allowed
    refused = store.take(a, rate, 10.1)
    assert not refused.allowed and refused.retry_after == pytest.approx(0.4, abs=1e-6)  # 0.2 held, 2 a second
    assert store.take(a, rate, 10.6).allowed


@pytest.mark.parametrize("kind", stores())
def test_no_two_takers_spend_the_same_token(kind: str) -> None:
    store = make_store(kind)
    rate = ratelimit.Rate(per_minute=1, burst=10)
    name = f"test:{uuid.uuid4().hex}"
    allowed: list[bool] = []

    def take() -> None:
        for _ in range(5):
            allowed.append(store.take(name, rate, 50.0).allowed)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 10 and len(allowed) == 40


def test_a_local_store_forgets_full_buckets_first_when_it_grows() -> None:
    store = ratelimit.LocalStore(max_buckets=3)
    rate = ratelimit.Rate(per_minute=60, burst=1)
    store.take("busy", rate, 0.0)  # empty: must be remembered
    store.take("idle-1", rate, 0.0)
    store.take("idle-2", rate, 0.0)
    store.take("new", rate, 10.0)  # at 10 s the idle ones are full again: dropped, not "busy"
    assert store.take("busy", rate, 10.0).allowed  # refilled by then: still the same bucket
    assert not store.take("busy", rate, 10.0).allowed


def test_unreachable_buckets_let_requests_through_and_say_so(monkeypatch: Any, caplog: Any) -> None:
    dead = ratelimit.RedisStore("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    monkeypatch.setattr(ratelimit, "store", lambda: dead)
    assert ratelimit.take("key", key(ALICE)).allowed
    assert "rate limit key not applied" in caplog.text


# --- who is limited ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "address"),
    [
        ("203.0.113.7", "198.51.100.1", [], "203.0.113.7"),  # no trusted proxy: the header is ignored
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.1"),  # through two proxies
        ("10.0.0.2", "192.0.2.66, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),  # a spoofed left entry
        ("203.0.113.7", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.7"),  # not from a trusted proxy
        ("10.0.0.2", "not an address", ["10.0.0.0/8"], "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", None, [], "2001:db8:1:2::/64"),  # one IPv6 host's share
        ("::ffff:192.0.2.1", None, [], "192.0.2.1"),
        ("", None, [], "unknown"),
    ],
)
def test_the_client_address_is_the_peer_or_behind_trusted_proxies_the_forwarded_one(
    settings: Any, remote: str, forwarded: str | None, proxies: list[str], address: str
) -> None:
    settings.RELAY_TRUSTED_PROXIES = proxies
    assert ratelimit.client_address(remote, forwarded) == address


def test_a_rate_setting_is_rate_slash_burst_and_a_bad_one_names_its_variable(monkeypatch: Any) -> None:
    monkeypatch.setattr(foaf.settings, "env", Env({"FOAF_RELAY_RATE_KEY": "30/5"}))
    assert foaf.settings._rate("FOAF_RELAY_RATE_KEY", "1/1") == (30, 5)
    for bad in ("30", "0/5", "a/b", "30/-1"):
        monkeypatch.setattr(foaf.settings, "env", Env({"FOAF_RELAY_RATE_KEY": bad}))
        with pytest.raises(ImproperlyConfigured, match="FOAF_RELAY_RATE_KEY"):
            foaf.settings._rate("FOAF_RELAY_RATE_KEY", "1/1")


# --- HTTP -------------------------------------------------------------------------------------------
def limit(settings: Any, name: str, per_minute: int, burst: int) -> None:
    settings.RELAY_RATE_LIMITS = {**settings.RELAY_RATE_LIMITS, name: (per_minute, burst)}


@pytest.mark.django_db
def test_an_address_over_its_limit_gets_429_with_retry_after_and_others_do_not(client: Client, settings: Any) -> None:
    limit(settings, "address", 60, 3)
    answers = [client.get(f"{V1}/changes").status_code for _ in range(3)]
    refused = client.get(f"{V1}/changes")
    assert answers == [200, 200, 200]
    assert (refused.status_code, error_code(refused)) == (429, "throttled")
    assert refused["Retry-After"] == "1"
    assert refused.json()["error"]["details"] == {"limit": "address", "retry_after": 1}
    assert client.get(f"{V1}/changes", REMOTE_ADDR="192.0.2.9").status_code == 200


@pytest.mark.django_db
def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(client: Client, settings: Any) -> None:
    settings.RELAY_TRUSTED_PROXIES = ["127.0.0.1/32"]
    limit(settings, "address", 60, 1)
    assert client.get(f"{V1}/changes", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert client.get(f"{V1}/changes", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert client.get(f"{V1}/changes", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


@pytest.mark.django_db
def test_a_key_over_its_limit_is_refused_and_forgeries_do_not_spend_it(client: Client, settings: Any) -> None:
    limit(settings, "key", 60, 2)
    path = f"{V1}/mailbox?after=0"
    for _ in range(5):  # Mallory signs in Alice's name: refused, and Alice's bucket is untouched
        forged = client.get(path, headers=signed(MALLORY, "GET", path) | {HEADER_KEY: key(ALICE)})
        assert error_code(forged) == "auth_bad_signature"
    assert [fetch(client, ALICE).status_code for _ in range(2)] == [200, 200]
    refused = fetch(client, ALICE)
    assert (refused.status_code, refused.json()["error"]["details"]["limit"]) == (429, "key")
    assert int(refused["Retry-After"]) >= 1
    assert fetch(client, BOB).status_code == 200


@pytest.mark.django_db
def test_deposits_are_limited_per_sender(client: Client, settings: Any) -> None:
    publish_profiles(ALICE, BOB, MALLORY)
    limit(settings, "deposit", 60, 2)
    answers = [deposit(client, MALLORY, key(ALICE), seal(MALLORY, ALICE, b"%d" % i)) for i in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["error"]["details"]["limit"] == "deposit"
    assert deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"hi")).status_code == 201


# --- WebSocket ----------------------------------------------------------------------------------------
def test_a_flood_of_frames_is_answered_throttled_then_closed_with_4029(settings: Any) -> None:
    limit(settings, "frame", 60, 5)
    limit(settings, "flood", 60, 3)

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        session = Session()
        await session.open()
        answers = [await session.ask({"type": "ping", "id": i}) for i in range(8)]
        await session.send({"type": "ping", "id": 8})
        answers.append(await session.recv())
        closed = await session.ws.receive_output(timeout=5)
        await session.send({"type": "ping", "id": 9})  # ignored: the connection is closing
        assert await session.ws.receive_nothing(timeout=0.3)
        await session.close()
        return answers, closed

    answers, closed = run(scenario())
    assert [a["type"] for a in answers] == ["pong"] * 5 + ["error"] * 4
    assert {a["code"] for a in answers[5:]} == {"throttled"}
    assert answers[5]["details"]["limit"] == "frame" and answers[5]["details"]["retry_after"] >= 1
    assert closed == {"type": "websocket.close", "code": CLOSE_THROTTLED, "reason": "throttled"}


def test_connections_from_one_address_are_limited(settings: Any) -> None:
    limit(settings, "connect", 60, 2)

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        sessions = [Session(address="198.51.100.4") for _ in range(3)]
        hellos = [await s.open() for s in sessions]
        closed = await sessions[2].ws.receive_output(timeout=5)
        other = Session(address="198.51.100.5")
        other_hello = await other.open()
        for s in [*sessions, other]:
            await s.close()
        return hellos, closed, other_hello

    hellos, closed, other = run(scenario())
    assert [h["type"] for h in hellos] == ["hello", "hello", "error"]
    assert (hellos[2]["code"], hellos[2]["details"]["limit"]) == ("throttled", "connect")
    assert closed["code"] == CLOSE_THROTTLED
    assert other["type"] == "hello"
