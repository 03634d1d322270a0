"""Live subscriptions on /ws/relay/: the backlog from the database, then live events, with no gap
and no duplicate, whatever arrives while a client subscribes, reads its backlog or is away."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from referencing import Registry, Resource

from relay import consumers, live
from relay.protocol import canonical_bytes
from relay.services import event_accept
from tests.conftest import database_url_for_subprocess
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    announce,
    capacity_hint,
    key,
    lid,
    limit_update,
    listing,
    listing_withdrawal,
    profile,
    withdrawal,
)
from tests.relay.clients import Session, deposit, in_thread, now, publish_profiles, run, seal
from tests.services import require

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "relay"
_SCHEMAS = [json.loads((SCHEMAS / f"{n}.schema.json").read_text()) for n in ("event", "api", "ws")]
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in _SCHEMAS])
SERVER_FRAME = jsonschema.Draft202012Validator({"$ref": "urn:foaf:relay:1:ws#/$defs/server_frame"}, registry=REGISTRY)


def accept(envelope: dict[str, Any]) -> int:
    result = event_accept(canonical_bytes(envelope), now=now())
    assert result.cursor is not None
    return result.cursor


def events(frames: list[dict[str, Any]], sub: str | None = None) -> list[int]:
    return [f["cursor"] for f in frames if f["type"] == "event" and (sub is None or f["sub"] == sub)]


async def collect(session: Session, until: Any, timeout: float = 10) -> list[dict[str, Any]]:
    """Frames until ``until(frames)`` holds."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(frames):
        frames.append(await session.recv(timeout=max(0.1, deadline - time.monotonic())))
    return frames


# --- backlog, then live -------------------------------------------------------------------------------
def test_a_subscriber_gets_the_backlog_then_synced_then_live_events() -> None:
    t = now()
    first = accept(announce(ALICE, BOB, now=t))
    accept(profile(ALICE, "Alice", now=t))  # not a graph event
    second = accept(limit_update(ALICE, BOB, 700, version=2, now=t))

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph", since=0)
        third = await in_thread(accept)(announce(BOB, CAROL, now=t))
        frames.append(await session.recv())
        frames.append({"third": third})
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    third = frames.pop()["third"]
    assert [f["type"] for f in frames] == ["subscribed", "event", "event", "synced", "event"]
    assert frames[0] == {"type": "subscribed", "id": None, "sub": "g", "stream": "graph", "cursor": 0}
    assert events(frames) == [first, second, third]
    assert frames[3]["cursor"] == second == first + 2  # the profile (between them) was considered, not sent
    assert frames[1]["event"] == announce(ALICE, BOB, now=t)  # exactly the signed envelope
    for frame in frames:
        SERVER_FRAME.validate(frame)


def test_without_since_a_subscriber_gets_only_what_comes_after_the_cursor_it_is_given() -> None:
    t = now()
    accept(announce(ALICE, BOB, now=t))

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph")
        later = await in_thread(accept)(announce(BOB, CAROL, now=t))
        frames.append(await session.recv())
        await session.close()
        return frames, later

    frames, later = run(scenario())
    assert [f["type"] for f in frames] == ["subscribed", "synced", "event"]
    assert frames[0]["cursor"] == frames[1]["cursor"] == later - 1
    assert events(frames) == [later]


# --- filters --------------------------------------------------------------------------------------------
def test_a_neighbourhood_subscription_follows_the_graph_as_it_grows_and_shrinks() -> None:
    """Alice's neighbourhood at depth 2: edges of members within one hop of her."""
    t = now()
    accept(announce(ALICE, BOB, now=t))  # Alice - Bob: in (Alice at 0)
    accept(announce(DAVE, ERIN, now=t))  # far away: out

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("n", "graph", filter={"key": key(ALICE), "depth": 2}, since=0)
        await in_thread(accept)(announce(BOB, CAROL, now=t))  # Bob is at 1: in
        await in_thread(accept)(announce(CAROL, DAVE, now=t))  # Carol is at 2: out at depth 2
        await in_thread(accept)(limit_update(DAVE, ERIN, 1, version=2, now=t))  # out
        await in_thread(accept)(withdrawal(ALICE, BOB, version=2, now=t))  # in (Alice)
        await in_thread(accept)(limit_update(BOB, CAROL, 9, version=3, now=t))  # Bob is gone from her neighbourhood
        await in_thread(accept)(announce(ALICE, DAVE, now=t))  # in; Dave now at 1
        await in_thread(accept)(limit_update(DAVE, ERIN, 2, version=4, now=t))  # Dave's edge: in
        frames += await collect(session, lambda fs: len(events(fs)) == 4)
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    sent = [f["event"] for f in frames if f["type"] == "event"]
    got = [(e["kind"], {e["body"]["a"], e["body"]["b"]}) for e in sent]
    assert got == [
        ("relationship", {key(ALICE), key(BOB)}),  # the backlog
        ("relationship", {key(BOB), key(CAROL)}),  # live from here on
        ("relationship_withdrawal", {key(ALICE), key(BOB)}),
        ("relationship", {key(ALICE), key(DAVE)}),
        ("limit", {key(DAVE), key(ERIN)}),
    ]


def test_capacity_hints_flow_on_graph_subscriptions_like_limits() -> None:
    """The whole graph gets every hint; a neighbourhood only those about its edges."""
    t = now()
    accept(announce(ALICE, BOB, now=t))
    accept(announce(DAVE, ERIN, now=t))

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        session = Session()
        await session.open()
        everything = await session.subscribe("g", "graph", since=0)
        near = await session.subscribe("n", "graph", filter={"key": key(ALICE)}, since=0)
        await in_thread(accept)(capacity_hint(ALICE, BOB, 3, version=2, now=t))  # Alice's edge: both
        await in_thread(accept)(capacity_hint(ERIN, DAVE, 9, version=2, now=t))  # far away: the whole graph only
        frames = await collect(session, lambda fs: len(events(fs, "g")) == 2 and len(events(fs, "n")) == 1)
        assert await session.quiet()
        await session.close()
        return everything + near + frames, frames

    frames, live_frames = run(scenario())
    kinds = {sub: [f["event"]["kind"] for f in frames if f["type"] == "event" and f["sub"] == sub] for sub in "gn"}
    assert kinds == {
        "g": ["relationship", "relationship", "capacity_hint", "capacity_hint"],
        "n": ["relationship", "capacity_hint"],
    }
    [near_hint] = [f["event"] for f in live_frames if f["type"] == "event" and f["sub"] == "n"]
    assert near_hint == capacity_hint(ALICE, BOB, 3, version=2, now=t)  # exactly the signed envelope
    for frame in frames:
        SERVER_FRAME.validate(frame)


def test_a_listing_subscription_receives_matching_offers_and_every_withdrawal() -> None:
    t = now()

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        wanted = {"q": "Duck EGGS", "category": "food", "type": "offer"}
        frames = await session.subscribe("l", "listings", filter=wanted)
        for envelope in (
            listing(ALICE, lid(1), "Duck eggs", text="A dozen, Fridays.", now=t),  # match
            listing(BOB, lid(2), "Eggs", text="duck and hen", now=t),  # match: words in title and text
            listing(CAROL, lid(3), "Duck eggs", category="farm", now=t),  # another category
            listing(DAVE, lid(4), "Duck eggs", listing_type="want", now=t),  # a want
            listing(ERIN, lid(5), "Hen eggs", now=t),  # not every word
            profile(ALICE, "Alice", now=t),  # not a listing
            listing_withdrawal(ALICE, lid(1), version=2, now=t),  # every withdrawal
        ):
            await in_thread(accept)(envelope)
        frames += await collect(session, lambda fs: len(events(fs)) == 3)
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    got = [(f["event"]["kind"], f["event"]["author"]) for f in frames if f["type"] == "event"]
    assert got == [("listing", key(ALICE)), ("listing", key(BOB)), ("listing_withdrawal", key(ALICE))]


def test_an_expired_listing_in_the_backlog_is_not_sent(monkeypatch: Any) -> None:
    t = now()
    accept(listing(ALICE, lid(1), "Soon gone", now=t, ttl=60))
    accept(listing(BOB, lid(2), "Still here", now=t))
    monkeypatch.setattr(consumers, "_now", lambda: t + 61)  # the relay's clock, a minute on

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("l", "listings", since=0)
        await session.close()
        return frames

    frames = run(scenario())
    assert [f["event"]["author"] for f in frames if f["type"] == "event"] == [key(BOB)]


# --- the mailbox stream ----------------------------------------------------------------------------------
def test_the_mailbox_stream_sends_waiting_messages_then_new_ones_and_honours_acknowledgements(client: Any) -> None:
    publish_profiles(ALICE, BOB, CAROL)
    first = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"one")).json()["id"]
    acked = deposit(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"two")).json()["id"]
    deposit(client, BOB, key(CAROL), seal(BOB, CAROL, b"for carol"))

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.auth(ALICE)
        answer = await session.ask({"type": "ack", "id": "a1", "ids": [acked]})
        assert answer == {"type": "acked", "id": "a1", "acknowledged": 1}
        frames = await session.subscribe("m", "mailbox", since=0)
        await in_thread(deposit)(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"three"))
        frames.append(await session.recv())
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    assert [f["type"] for f in frames] == ["subscribed", "message", "synced", "message"]
    assert [f["message"]["seq"] for f in frames if f["type"] == "message"] == [1, 3]
    assert frames[1]["message"]["id"] == first
    assert frames[2]["cursor"] == 2  # the acknowledged one was passed over
    for frame in frames:
        SERVER_FRAME.validate(frame)


# --- resume after a disconnect, while events keep arriving -----------------------------------------------
def _producer(stop: asyncio.Event, cursors: list[int]) -> Any:
    """Accept events one after another on another thread until told to stop (a busy relay)."""
    t = now()
    signers = [ALICE, BOB, CAROL, DAVE, ERIN]

    def one(i: int) -> int:
        try:
            x, y = signers[i % 5], signers[(i + 1 + i // 5) % 5]
            if x is y:
                y = signers[(i + 2) % 5]
            return accept(announce(x, y, now=t, version=i + 1))
        finally:
            connection.close()

    async def produce() -> None:
        i = 0
        while not stop.is_set():
            cursors.append(await sync_to_async(one, thread_sensitive=False)(i))
            i += 1
            await asyncio.sleep(0.005)

    return produce()


def test_resuming_after_a_disconnect_loses_nothing_and_repeats_nothing_while_events_keep_arriving() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        stop, produced, received = asyncio.Event(), [], []
        producer = asyncio.ensure_future(_producer(stop, produced))
        last = 0
        for _round in range(4):
            session = Session()
            await session.open()
            frames = await session.subscribe("g", "graph", since=last)
            frames += await collect(session, lambda fs: len(events(fs)) >= 8, timeout=20)
            received += events(frames)
            last = max([last, *events(frames), *[f["cursor"] for f in frames if f["type"] == "synced"]])
            await session.close()  # gone while the producer goes on
            await asyncio.sleep(0.05)
        stop.set()
        await producer
        # A last reconnection picks up whatever was committed while the client was away.
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph", since=last)
        received += events(frames)
        await session.close()
        return produced, received

    produced, received = run(scenario())
    assert len(produced) >= 32
    assert received == sorted(set(received)), "a duplicate or an out-of-order event"
    assert received == list(range(1, max(produced) + 1)), "an event was lost"


def test_an_event_committed_between_joining_and_reading_the_backlog_is_sent_once(monkeypatch: Any) -> None:
    t = now()
    accept(announce(ALICE, BOB, now=t))
    read = live.public_after
    raced: list[int] = []

    def commit_then_read(after: int, limit: int = live.BATCH) -> list[tuple[int, str]]:
        if not raced:  # the group is joined; an event commits before the first read
            raced.append(accept(announce(BOB, CAROL, now=t)))
        return read(after, limit)

    monkeypatch.setattr(live, "public_after", commit_then_read)

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph", since=0)
        assert await session.quiet(0.5)  # its notice arrives too, and is ignored
        await session.close()
        return frames

    frames = run(scenario())
    assert events(frames) == [1, raced[0]]


def test_an_event_committed_just_after_the_backlog_was_read_is_sent_live(monkeypatch: Any) -> None:
    t = now()
    accept(announce(ALICE, BOB, now=t))
    read = live.public_after
    raced: list[int] = []

    def read_then_commit(after: int, limit: int = live.BATCH) -> list[tuple[int, str]]:
        rows = read(after, limit)
        if not raced:  # the backlog is read; an event commits before the client is told it is synced
            raced.append(accept(announce(BOB, CAROL, now=t)))
        return rows

    monkeypatch.setattr(live, "public_after", read_then_commit)

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph", since=0)
        frames += await collect(session, lambda fs: len(events(fs)) == 1)
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    assert events(frames) == [1, raced[0]]
    assert [f["type"] for f in frames] == ["subscribed", "event", "synced", "event"]


def test_a_lost_notice_is_made_good_from_the_database_at_the_next_one(monkeypatch: Any) -> None:
    t = now()
    announce_ = live.event_committed
    dropped: list[int] = []

    def lossy(cursor: int, envelope: str) -> None:
        if cursor == 2:
            dropped.append(cursor)  # the channel layer lost this one
            return
        announce_(cursor, envelope)

    monkeypatch.setattr(live, "event_committed", lossy)

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        frames = await session.subscribe("g", "graph", since=0)
        for x, y in ((ALICE, BOB), (BOB, CAROL), (CAROL, DAVE)):
            await in_thread(accept)(announce(x, y, now=t))
        frames += await collect(session, lambda fs: len(events(fs)) == 3)
        assert await session.quiet()
        await session.close()
        return frames

    frames = run(scenario())
    assert dropped == [2]
    assert events(frames) == [1, 2, 3]


def test_a_ping_reads_what_a_lost_last_notice_hid(monkeypatch: Any) -> None:
    monkeypatch.setattr(live, "event_committed", lambda cursor, envelope: None)  # every notice lost

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.subscribe("g", "graph", since=0)
        await in_thread(accept)(announce(ALICE, BOB))
        assert await session.quiet()
        frames = [await session.ask({"type": "ping", "id": 1})]
        frames.append(await session.recv())
        await session.close()
        return frames

    pong, event = run(scenario())
    assert pong == {"type": "pong", "id": 1}
    assert (event["type"], event["cursor"]) == ("event", 1)


def test_a_rolled_back_event_is_never_announced() -> None:
    from django.db import transaction

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.subscribe("g", "graph", since=0)

        def doomed() -> None:
            with pytest.raises(RuntimeError), transaction.atomic():
                accept(announce(ALICE, BOB))
                raise RuntimeError("the request failed after the accept")

        await in_thread(doomed)()
        assert await session.quiet(0.5)
        await in_thread(accept)(announce(BOB, CAROL))
        frames = [await session.recv()]
        await session.close()
        return frames

    [frame] = run(scenario())
    assert frame["cursor"] == 1 and frame["event"]["body"]["a"] in (key(BOB), key(CAROL))


# --- subscription bookkeeping -------------------------------------------------------------------------------
def test_subscriptions_are_named_bounded_and_closed_by_name(settings: Any) -> None:
    settings.RELAY_WS_MAX_SUBSCRIPTIONS = 2

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        answers = [(await session.subscribe("a", "graph"))[0], (await session.subscribe("a", "graph"))[0]]
        answers.append((await session.subscribe("b", "listings"))[0])
        answers.append((await session.subscribe("c", "graph"))[0])
        answers.append(await session.ask({"type": "unsubscribe", "id": 5, "sub": "a"}))
        answers.append(await session.ask({"type": "unsubscribe", "sub": "a"}))
        answers.append((await session.subscribe("c", "graph"))[0])
        await session.close()
        return answers

    answers = run(scenario())
    assert [a.get("code", a["type"]) for a in answers] == [
        "subscribed",
        "subscription_exists",
        "subscribed",
        "too_many_subscriptions",
        "unsubscribed",
        "subscription_unknown",
        "subscribed",
    ]
    assert answers[4] == {"type": "unsubscribed", "id": 5, "sub": "a"}


def test_a_cursor_this_relay_never_gave_is_refused_with_the_relays_own() -> None:
    accept(announce(ALICE, BOB))

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.auth(ALICE)
        answers = [(await session.subscribe("g", "graph", since=99))[0]]
        answers.append((await session.subscribe("m", "mailbox", since=1))[0])
        await session.close()
        return answers

    graph, mailbox = run(scenario())
    assert (graph["code"], graph["details"]) == ("cursor_ahead", {"cursor": 1})
    assert (mailbox["code"], mailbox["details"]) == ("cursor_ahead", {"cursor": 0})


# --- Redis: another process commits, this one delivers ------------------------------------------------------
_ACCEPT_IN_ANOTHER_PROCESS = """
import django, sys
django.setup()
from relay.services import event_accept
print(event_accept(sys.stdin.buffer.read(), now=int(sys.argv[1])).cursor)
"""


def test_an_event_committed_by_another_process_reaches_subscribers_through_redis(project_env: dict[str, str]) -> None:
    require("REDIS_URL")
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    project_env["DATABASE_URL"] = database_url_for_subprocess()
    envelope = announce(ALICE, BOB)

    def accept_elsewhere() -> int:
        done = subprocess.run(
            [sys.executable, "-c", _ACCEPT_IN_ANOTHER_PROCESS, str(now())],
            input=canonical_bytes(envelope),
            env=project_env,
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=True,
        )
        return int(done.stdout.decode().split()[-1])

    async def scenario() -> tuple[dict[str, Any], int]:
        session = Session()
        await session.open()
        await session.subscribe("g", "graph")
        cursor = await sync_to_async(accept_elsewhere, thread_sensitive=False)()
        frame = await session.recv(timeout=10)
        await session.close()
        return frame, cursor

    assert os.environ.get("REDIS_URL")
    frame, cursor = run(scenario())
    assert (frame["type"], frame["cursor"], frame["event"]) == ("event", cursor, envelope)


def test_a_subscriber_idle_longer_than_the_layers_wait_still_gets_live_events() -> None:
    """channels_redis waits 5 s for a message; a read timeout as short would kill an idle consumer."""
    require("REDIS_URL")

    async def scenario() -> dict[str, Any]:
        session = Session()
        await session.open()
        await session.subscribe("g", "graph")
        await asyncio.sleep(7)
        await in_thread(accept)(announce(ALICE, BOB))
        frame = await session.recv(timeout=10)
        await session.close()
        return frame

    frame = run(scenario())
    assert (frame["type"], frame["sub"]) == ("event", "g")


def test_many_subscribers_connecting_at_once_are_all_served() -> None:
    """A relay restart: every client reconnects and subscribes at once. redis-py refuses a
    connection beyond its pool's size rather than waiting, so the pool is sized for this."""
    require("REDIS_URL")
    count = 150

    async def one(i: int) -> str:
        session = Session(address=f"10.1.{i // 250}.{i % 250}")
        await session.open()
        frames = await session.subscribe("g", "graph")
        await session.close()
        return str(frames[0]["type"])

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(count))))

    assert run(scenario()) == ["subscribed"] * count


def test_unsubscribing_stops_the_stream_and_the_others_go_on() -> None:
    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.subscribe("all", "graph")
        await session.subscribe("mine", "graph", filter={"key": key(ALICE)})
        await session.ask({"type": "unsubscribe", "sub": "all"})
        await in_thread(accept)(announce(ALICE, BOB))
        frames = [await session.recv()]
        await session.ask({"type": "unsubscribe", "sub": "mine"})
        await in_thread(accept)(announce(BOB, CAROL))
        assert await session.quiet()
        await session.close()
        return frames

    [frame] = run(scenario())
    assert (frame["type"], frame["sub"], frame["cursor"]) == ("event", "mine", 1)
