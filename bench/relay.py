"""The relay's WebSocket fan-out and graph queries, each against a bare baseline timed in the same run.

Fan-out (``ratio``): N subscribers (1,000; 500 with --quick) connect to the relay's ASGI application
in this process (``foaf.asgi.application``, ``channels.testing.WebsocketCommunicator``, each from its
own client address, with an ``Origin`` the relay serves) and subscribe to the ``graph`` stream
(docs/relay.md §15: ``hello``, ``subscribe`` with ``since``, ``subscribed``, ``synced``). Then M
relationship announcements and limit updates (50), signed before the clock starts, are stored one
after another through ``relay.services.event_accept``, each its own call on the sync thread
(``database_sync_to_async``) as POST /relay/v1/events requests are; the relay announces each after
its commit through the channel layer (Redis). Timed: from the first ``event_accept`` until every
subscriber has received every ``event`` frame; connecting and subscribing are not. ours_per_s =
N * M / that time. The baseline, in the same run: a bare Channels consumer defined here (joins one
group on connect, forwards each group message as a text frame), N connections of its own, and M
``group_send`` calls from the event loop carrying the exact text of the relay's event frames.
ratio = ours / baseline (target >= 0.5). Each side runs ROUNDS times (3; 2 with --quick),
interleaved, with only its own N connections open; the best round of each counts. Every frame is
checked afterwards (each subscriber: M event frames, the cursors in order, the envelopes as
published; the baseline: the payloads as sent). --profile runs the first relay round under cProfile
(slower; the rounds after it count) and prints where the event loop's time went.

Graph queries (``graph_ratio``, secondary): a graph of 20,000 members (5,000 with --quick), each
joining with 1 + int(expovariate(0.5)) relationships to earlier members (about 2.5 per member, as
the legacy snapshot generator grows its graph), every one a real co-signed announcement stored
through ``event_accept``, then ANALYZE (setup, not timed but printed: the relay stores some 280
events a second here, one at a time behind its log head's lock, so the 50,000 of the full size
take about three minutes and the 12,500 of --quick most of its time). Timed: GET /relay/v1/neighbourhood/{key}?depth=2
for random members, and GET /relay/v1/graph?limit=500 for every page of the graph, through
``django.test.Client`` (the whole Django and DRF stack, the per-address rate limit in Redis
included). Baseline: raw SQL on a psycopg cursor to the same database selecting the rows each
endpoint returns (the neighbourhood: the served edges of the member and of its direct neighbours,
one query with a CTE; a page: keyset, LIMIT 501 as the endpoint reads). Every answer is checked
against its baseline (the same relationship ids in the same order, as many members); a difference
stops the run. graph_qps = queries / time, best of ROUNDS.

The process runs as a production deployment would for what is measured: ``DJANGO_DEBUG=0`` (no
query log), ``DATABASE_CONN_MAX_AGE=600`` (a connection kept between requests). Two settings of the
channel layer's Redis connection are the bench's own, because the project's (``hosts: [REDIS_URL]``)
fail with redis-py 8: no socket timeout (redis-py's default 5 s equals channels_redis' 5 s BZPOPMIN,
and the consumer whose read times out dies), and connects and subscribes 25 at a time (redis-py's
async pool holds 100 connections and refuses the 101st instead of waiting).

    .venv/bin/python bench/relay.py            # 1,000 subscribers; 20,000 members (about 5 minutes)
    .venv/bin/python bench/relay.py --quick    # 500 subscribers; 5,000 members (about 1.5 minutes)

Needs PostgreSQL at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
scratch database foaf_bench_relay_<pid> is created, migrated by ``manage.py migrate`` and dropped)
and Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/7; the channel layer gets a prefix of
its own and the rate limits a namespace of their own, and only those keys are deleted at the end).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/: ``relay`` is the package, not this file

from foaf.bilateral.crypto import SeedSigner  # noqa: E402  (plain Python: no Django settings needed)
from relay.protocol import Kind, canonical_bytes, cosign_event, sign_event  # noqa: E402

PID = os.getpid()
LAYER_PREFIX = f"foafbench{PID}"  # the channel layer's keys in Redis
RATE_NAMESPACE = f"bench-relay-{PID}"  # the rate limits' buckets in Redis
BARE_GROUP = "bench.bare"
ORIGIN = b"http://localhost"  # a host in ALLOWED_HOSTS (set below): the relay refuses other origins
PAGE = 500
EDGE_COLUMNS = (
    "relationship_id, party_a, party_b, currency, limit_a_to_b, limit_b_to_a, routable, version, "
    "announcement_id, limit_a_to_b_event_id, limit_b_to_a_event_id"
)
# The served edges (relay.services.visible_edges) of the member and of its direct neighbours:
# what /neighbourhood/{key}?depth=2 returns, ordered as it orders them.
NEIGHBOURHOOD_SQL = f"""
WITH near AS (
    SELECT %(k)s::varchar AS k
    UNION
    SELECT CASE WHEN party_a = %(k)s THEN party_b ELSE party_a END
      FROM relay_edge
     WHERE public AND NOT withdrawn AND (party_a = %(k)s OR party_b = %(k)s)
)
SELECT {EDGE_COLUMNS}
  FROM relay_edge
 WHERE public AND NOT withdrawn
   AND (party_a = ANY(ARRAY(SELECT k FROM near)) OR party_b = ANY(ARRAY(SELECT k FROM near)))
 ORDER BY relationship_id
"""
PAGE_SQL = f"""
SELECT {EDGE_COLUMNS} FROM relay_edge
 WHERE public AND NOT withdrawn AND relationship_id > %s
 ORDER BY relationship_id LIMIT {PAGE + 1}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fail(message: str) -> None:
    sys.exit(f"bench/relay.py: {message}")


def signer(label: str, n: int) -> SeedSigner:
    return SeedSigner(hashlib.sha256(f"foaf bench relay {label} {n}".encode()).digest())


def announcement(x: SeedSigner, y: SeedSigner, *, now: int, limits: tuple[int, int]) -> bytes:
    """A relationship announcement by ``x``, co-signed by ``y`` (real signatures), as canonical bytes."""
    kx, ky = x.public_key.hex(), y.public_key.hex()
    a, b = (kx, ky) if kx < ky else (ky, kx)
    body = {"a": a, "b": b, "currency": "CAD", "limit_a_to_b": limits[0], "limit_b_to_a": limits[1],
            "routable": True, "public": True, "version": 1}  # fmt: skip
    return canonical_bytes(cosign_event(sign_event(Kind.RELATIONSHIP, body, x, now=now), y))


def limit_update(author: SeedSigner, other: SeedSigner, limit: int, *, version: int, now: int) -> bytes:
    ka, ko = author.public_key.hex(), other.public_key.hex()
    a, b = (ka, ko) if ka < ko else (ko, ka)
    body = {"a": a, "b": b, "currency": "CAD", "limit": limit, "version": version}
    return canonical_bytes(sign_event(Kind.LIMIT, body, author, now=now))


# --- setup: the scratch database, the environment, Django ------------------------------------------
def configure(database_url: str, redis_url: str, data_dir: str) -> None:
    """The environment of the process that measures, set before ``django.setup()``; then the
    migrations (in a subprocess, as an operator runs them) and Django."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "foaf.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "FOAF_DATA_DIR": data_dir,
            "ALLOWED_HOSTS": "localhost,testserver",
            "DJANGO_DEBUG": "0",
            "DATABASE_CONN_MAX_AGE": "600",
        }
    )
    for name in ("LEGACY_DATABASE_URL", "FOAF_RELAY_PEERS", "FOAF_RELAY_ORIGIN"):
        os.environ.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=dict(os.environ), check=True)
    import django

    django.setup()
    from django.conf import settings

    # Keys of our own in Redis, so that what is deleted at the end is only ours. Set before the
    # channel layer is first made (nothing has asked for it yet).
    layers: dict[str, Any] = settings.CHANNEL_LAYERS
    config: dict[str, Any] = layers["default"].setdefault("CONFIG", {})
    config["prefix"] = LAYER_PREFIX
    # redis-py >= 8 reads with a 5 s socket timeout by default, the same 5 s channels_redis blocks
    # in BZPOPMIN while nothing arrives: the read times out and takes its consumer down, which
    # happens to the relay as the project configures it (a subscriber idle for 5 s is dropped).
    # No timeout here, unless the project's settings set one.
    hosts: list[dict[str, Any]] = [{"address": h} if isinstance(h, str) else dict(h) for h in config["hosts"]]
    for host in hosts:
        if "socket_timeout" not in host:
            host["socket_timeout"] = None
            log("channel layer: socket_timeout None on the Redis connection (the project's CHANNEL_LAYERS sets none)")
    config["hosts"] = hosts
    settings.RELAY_RATE_NAMESPACE = RATE_NAMESPACE
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if type(layer).__name__ != "RedisChannelLayer" or layer.prefix != LAYER_PREFIX:
        fail(f"the channel layer is {type(layer).__name__}, not Redis with our prefix")


def redis_cleanup(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    deleted = 0
    for pattern in (f"{LAYER_PREFIX}*", f"foaf:relay:rate:{RATE_NAMESPACE}:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for i in range(0, len(keys), 1000):
            deleted += int(client.delete(*keys[i : i + 1000]))
    client.close()
    log(f"redis: deleted {deleted} keys of this run")


# --- the graph ---------------------------------------------------------------------------------
def make_graph(members: int, rng: random.Random) -> list[tuple[int, int]]:
    """Member u joins with 1 + int(expovariate(0.5)) relationships to earlier members (70% anyone,
    30% one of the most recent), as the legacy snapshot generator grows its trust graph."""
    pairs: list[tuple[int, int]] = []
    for u in range(1, members):
        k = min(u, 1 + int(rng.expovariate(0.5)))
        chosen: set[int] = set()
        while len(chosen) < k:
            chosen.add(rng.randrange(u) if rng.random() < 0.7 else max(0, u - 1 - int(rng.expovariate(0.1))))
        pairs.extend((u, v) for v in sorted(chosen))
    return pairs


def store(envelopes: Sequence[bytes], threads: int) -> None:
    """Every envelope through event_accept, on ``threads`` threads (each with its own connection).
    Setup only, with nobody subscribed yet: no channel layer to announce to (the relay then skips
    announcing), and sessions that commit without waiting for the disk (``synchronous_commit off``).
    The relay's accepts run one at a time (the log head's row lock), so more threads or processes
    than two gain nothing."""
    from django.db import connection
    from django.test import override_settings

    from relay.services import Outcome, event_accept

    def worker(part: Sequence[bytes]) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            for raw in part:
                if event_accept(raw, now=int(time.time())).outcome is not Outcome.STORED:
                    raise RuntimeError("an event of the graph was a duplicate")
        finally:
            connection.close()

    with override_settings(CHANNEL_LAYERS={}), ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, envelopes[i::threads]) for i in range(threads)]:
            future.result()


def build_graph(members: int, threads: int, rng: random.Random) -> tuple[list[str], int]:
    started = time.perf_counter()
    signers = [signer("member", i) for i in range(members)]
    pairs = make_graph(members, rng)
    now = int(time.time())
    limits = (5_000, 10_000, 20_000, 50_000)
    envelopes = [announcement(signers[u], signers[v], now=now, limits=(rng.choice(limits), rng.choice(limits)))
                 for u, v in pairs]  # fmt: skip
    signed_s = time.perf_counter() - started
    started = time.perf_counter()
    store(envelopes, threads)
    stored_s = time.perf_counter() - started
    from django.db import connection

    with connection.cursor() as cursor:
        # Planner statistics, as autovacuum keeps them on a relay that has grown to this size:
        # without them PostgreSQL reads a page of the graph by scanning and sorting the whole table.
        cursor.execute("ANALYZE")
    log(f"graph: {members:,} members, {len(pairs):,} co-signed announcements signed in {signed_s:.1f}s, "
        f"stored through event_accept on {threads} threads in {stored_s:.1f}s "
        f"({len(pairs) / stored_s:.0f}/s; setup, not timed)")  # fmt: skip
    return [s.public_key.hex() for s in signers], len(pairs)


def edge_ids(edges: list[dict[str, Any]]) -> list[str]:
    return [e["relationship"] for e in edges]


def graph_queries(keys: list[str], queries: int, rounds: int, database_url: str, rng: random.Random) -> dict[str, Any]:
    """Neighbourhoods (depth 2) of random members and every page of the graph: the endpoints
    through Django's test client, the baseline as raw SQL; the best of ``rounds`` of each."""
    import psycopg
    from django.test import Client

    sample = [rng.choice(keys) for _ in range(queries)]
    raw = psycopg.connect(database_url, autocommit=True)
    cur = raw.cursor()

    def base_neighbourhoods() -> list[list[tuple[Any, ...]]]:
        out = []
        for k in sample:
            cur.execute(NEIGHBOURHOOD_SQL, {"k": k})
            out.append(cur.fetchall())
        return out

    def base_pages() -> list[list[tuple[Any, ...]]]:
        out, after = [], ""
        while True:
            cur.execute(PAGE_SQL, (after,))
            rows = cur.fetchall()
            out.append(rows[:PAGE])
            if len(rows) <= PAGE:
                return out
            after = rows[PAGE - 1][0]

    pages = base_pages()  # untimed: where each page starts, as a client following ``next`` would ask
    afters: list[str | None] = [None, *[page[-1][0] for page in pages[:-1]]]
    client = Client()
    served = 0

    def address() -> str:
        nonlocal served
        served += 1  # every request from its own address: the per-address rate limit counts, never refuses
        return f"10.{(served >> 16) & 255}.{(served >> 8) & 255}.{served & 255}"

    def ours_neighbourhoods() -> list[Any]:
        return [client.get(f"/relay/v1/neighbourhood/{k}?depth=2", REMOTE_ADDR=address()) for k in sample]

    def ours_pages() -> list[Any]:
        return [client.get(f"/relay/v1/graph?limit={PAGE}" + (f"&after={a}" if a else ""), REMOTE_ADDR=address())
                for a in afters]  # fmt: skip

    best: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], list[Any]]) -> list[Any]:
        started = time.perf_counter()
        result = fn()
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
        return result

    for _ in range(rounds):
        got_n = timed("ours_n", ours_neighbourhoods)
        want_n = timed("base_n", base_neighbourhoods)
        got_p = timed("ours_p", ours_pages)
        want_p = timed("base_p", base_pages)
        # Same rows as the baseline, or stop: a fast wrong answer measures nothing.
        for k, response, rows in zip(sample, got_n, want_n, strict=True):
            if response.status_code != 200:
                fail(f"neighbourhood {k[:12]}: HTTP {response.status_code} {response.content[:200]!r}")
            body = json.loads(response.content)
            members = {k} | {r[1] for r in rows} | {r[2] for r in rows}
            if edge_ids(body["edges"]) != [r[0] for r in rows] or len(body["members"]) != len(members):
                fail(f"neighbourhood {k[:12]}: {len(body['edges'])} edges and {len(body['members'])} members "
                     f"served, the baseline has {len(rows)} and {len(members)}")  # fmt: skip
        if len(got_p) != len(want_p):
            fail(f"graph: {len(got_p)} pages served, the baseline has {len(want_p)}")
        for i, (response, rows) in enumerate(zip(got_p, want_p, strict=True)):
            if response.status_code != 200:
                fail(f"graph page {i}: HTTP {response.status_code} {response.content[:200]!r}")
            body = json.loads(response.content)
            expected_next = afters[i + 1] if i + 1 < len(afters) else None
            if edge_ids(body["edges"]) != [r[0] for r in rows] or body["next"] != expected_next:
                fail(f"graph page {i}: {len(body['edges'])} edges served, the baseline has {len(rows)}")
    raw.close()
    n_edges = sum(len(rows) for rows in want_n)
    total_edges = sum(len(rows) for rows in want_p)
    nq, pq = len(sample), len(afters)
    ours_s, base_s = best["ours_n"] + best["ours_p"], best["base_n"] + best["base_p"]
    log(f"graph queries: {nq} neighbourhoods (depth 2, {n_edges / nq:.1f} edges each on average): "
        f"{nq / best['ours_n']:.0f}/s served, {nq / best['base_n']:.0f}/s raw SQL; "
        f"{pq} pages of {PAGE} ({total_edges:,} edges): {pq / best['ours_p']:.1f}/s served, "
        f"{pq / best['base_p']:.1f}/s raw SQL")  # fmt: skip
    return {
        "graph_ratio": round(base_s / ours_s, 3),
        "graph_qps": round((nq + pq) / ours_s, 1),
        "graph_baseline_qps": round((nq + pq) / base_s, 1),
        "neighbourhood_qps": round(nq / best["ours_n"], 1),
        "neighbourhood_baseline_qps": round(nq / best["base_n"], 1),
        "neighbourhood_edges_avg": round(n_edges / nq, 1),
        "graph_page_qps": round(pq / best["ours_p"], 1),
        "graph_page_baseline_qps": round(pq / best["base_p"], 1),
        "graph_pages": pq,
        "served_edges": total_edges,
    }


# --- fan-out -------------------------------------------------------------------------------------
def bare_application() -> Any:
    """The baseline: a bare Channels consumer that joins one group and forwards its messages."""
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.urls import path

    class BareEcho(AsyncWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            await self.channel_layer.group_add(BARE_GROUP, self.channel_name)
            await self.accept()

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(BARE_GROUP, self.channel_name)

        async def bench_echo(self, message: dict[str, Any]) -> None:
            await self.send(text_data=message["text"])

    return ProtocolTypeRouter(
        {"websocket": AllowedHostsOriginValidator(URLRouter([path("ws/bench/", BareEcho.as_asgi())]))}
    )


def communicator(application: Any, path: str, n: int) -> Any:
    from channels.testing import WebsocketCommunicator

    comm = WebsocketCommunicator(application, path, headers=[(b"origin", ORIGIN), (b"host", b"localhost")])
    # A subscriber per client address, as phones are: the per-address connect limit counts, never refuses.
    comm.scope["client"] = (f"10.{100 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}", 40000 + n % 20000)
    return comm


async def in_batches(items: Sequence[Any], fn: Callable[[Any], Awaitable[Any]], size: int = 25) -> list[Any]:
    """``fn`` on every item, ``size`` at a time: a channels_redis pool holds at most 100 connections
    (redis-py's default), and a command beyond that fails (MaxConnectionsError) instead of waiting."""
    out: list[Any] = []
    for i in range(0, len(items), size):
        out.extend(await asyncio.gather(*(fn(item) for item in items[i : i + size])))
    return out


async def open_relay(application: Any, n: int, first_address: int) -> list[Any]:
    """N subscribers of the graph stream: hello, subscribe (``since``: the cursor the first one is
    given), subscribed, synced. Returns the communicators, ready for live events."""

    async def subscribe(comm: Any, sub_id: int, since: int | None) -> int:
        connected, code = await comm.connect(timeout=30)
        if not connected:
            fail(f"the relay refused a WebSocket connection (close code {code})")
        hello = await comm.receive_json_from(timeout=30)
        if hello.get("type") != "hello":
            fail(f"expected hello, got {hello}")
        frame: dict[str, Any] = {"type": "subscribe", "id": sub_id, "sub": "g", "stream": "graph"}
        if since is not None:
            frame["since"] = since
        await comm.send_json_to(frame)
        subscribed = await comm.receive_json_from(timeout=30)
        synced = await comm.receive_json_from(timeout=30)
        if subscribed.get("type") != "subscribed" or synced.get("type") != "synced":
            fail(f"expected subscribed and synced, got {subscribed} and {synced}")
        return int(synced["cursor"])

    comms = [communicator(application, "/ws/relay/", first_address + i) for i in range(n)]
    head = await subscribe(comms[0], 0, None)
    cursors = await in_batches(list(range(1, n)), lambda i: subscribe(comms[i], i, head))
    if any(c != head for c in cursors):
        fail("subscribers were synced at different cursors with nothing being published")
    return comms


async def open_bare(application: Any, n: int, first_address: int) -> list[Any]:
    async def connect(comm: Any) -> None:
        connected, code = await comm.connect(timeout=30)
        if not connected:
            fail(f"the bare consumer refused a connection (close code {code})")

    comms = [communicator(application, "/ws/bench/", first_address + i) for i in range(n)]
    await in_batches(comms, connect)
    return comms


async def close_all(comms: list[Any]) -> None:
    await in_batches(comms, lambda c: c.disconnect(timeout=30))


async def deliver(
    comms: list[Any], count: int, publish: Callable[[], Awaitable[Any]], profile: cProfile.Profile | None = None
) -> tuple[float, list[list[str]], Any]:
    """Start a reader on every connection, then publish; the time until the last of them has
    received ``count`` frames."""

    async def read(comm: Any) -> tuple[float, list[str]]:
        frames: list[str] = []
        try:
            while len(frames) < count:
                frames.append(await comm.receive_from(timeout=120))
        except TimeoutError:
            raise RuntimeError(
                f"a subscriber received {len(frames)} of {count} frames, then nothing for 120 s"
            ) from None
        return time.perf_counter(), frames

    readers = [asyncio.ensure_future(read(c)) for c in comms]
    await asyncio.sleep(0)  # every reader is waiting before the clock starts
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    published = await publish()
    results = await asyncio.gather(*readers)
    if profile is not None:
        profile.disable()
    return max(done for done, _ in results) - started, [frames for _, frames in results], published


def fanout_events(rounds: int, events: int) -> list[list[bytes]]:
    """Per round: announcements of new pairs, each followed by one party's limit update."""
    now = int(time.time())
    out, n = [], 0
    for _ in range(rounds):
        batch: list[bytes] = []
        while len(batch) < events:
            x, y = signer("fanout", 2 * n), signer("fanout", 2 * n + 1)
            batch.append(announcement(x, y, now=now, limits=(10_000, 10_000)))
            if len(batch) < events:
                batch.append(limit_update(x, y, 20_000 + n, version=2, now=now))
            n += 1
        out.append(batch)
    return out


def check_relay_frames(frames: list[list[str]], published: list[tuple[int, bytes]]) -> None:
    first = frames[0]
    for text, (cursor, raw) in zip(first, published, strict=True):
        frame = json.loads(text)
        if frame.get("type") != "event" or frame.get("sub") != "g" or frame.get("cursor") != cursor:
            fail(f"expected the event frame at cursor {cursor}, got {text[:200]}")
        if frame["event"] != json.loads(raw):
            fail(f"the event at cursor {cursor} is not the envelope published")
    for i, got in enumerate(frames[1:], 1):
        if got != first:
            fail(f"subscriber {i} received other frames than subscriber 0")


async def fanout(subscribers: int, events: int, rounds: int, profile: bool) -> dict[str, Any]:
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer

    from foaf.asgi import application
    from relay.services import Outcome, event_accept

    layer = get_channel_layer()
    bare = bare_application()
    batches = fanout_events(rounds, events)  # signed before anything is timed
    frame_bytes = 0
    best_ours = best_base = float("inf")
    profiler = cProfile.Profile() if profile else None

    def accept(raw: bytes) -> tuple[int, bytes]:
        accepted = event_accept(raw, now=int(time.time()))
        if accepted.outcome is not Outcome.STORED or accepted.cursor is None:
            raise RuntimeError(f"a fan-out event was not stored as public: {accepted}")
        return accepted.cursor, raw

    accept_async = database_sync_to_async(accept)

    async def publish_relay(batch: list[bytes]) -> list[tuple[int, bytes]]:
        # One event after another, each its own call on the sync thread, as POST /relay/v1/events
        # requests are: the relay announces each after its commit (on_commit, async_to_sync).
        return [await accept_async(raw) for raw in batch]

    async def publish_bare(texts: list[str]) -> None:
        for text in texts:
            await layer.group_send(BARE_GROUP, {"type": "bench.echo", "text": text})

    for r, batch in enumerate(batches):
        started = time.perf_counter()
        comms = await open_relay(application, subscribers, 2 * r * subscribers)
        setup_s = time.perf_counter() - started
        ours_s, frames, published = await deliver(
            comms, len(batch), partial(publish_relay, batch), profiler if r == 0 else None
        )
        await close_all(comms)
        check_relay_frames(frames, published)
        texts = frames[0]
        frame_bytes = max(len(t.encode()) for t in texts)
        del frames

        comms = await open_bare(bare, subscribers, (2 * r + 1) * subscribers)
        base_s, frames, _ = await deliver(comms, len(texts), partial(publish_bare, texts))
        await close_all(comms)
        if any(got != texts for got in frames):
            fail("a bare subscriber received other frames than were sent")
        del frames
        best_ours, best_base = min(best_ours, ours_s), min(best_base, base_s)
        deliveries = subscribers * len(batch)
        log(f"fan-out round {r + 1}: {subscribers} subscribers x {len(batch)} events: relay {ours_s:.2f}s "
            f"({deliveries / ours_s:,.0f}/s), bare Channels {base_s:.2f}s ({deliveries / base_s:,.0f}/s); "
            f"{setup_s:.1f}s to connect and subscribe (not timed)")  # fmt: skip
    await layer.close_pools()
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(r"relay/|json/|channels/(consumer|utils|db|generic)", 25)
        log("profile of the first relay round (the loop's thread): own time; relay, Channels\n" + out.getvalue())
    deliveries = subscribers * events
    return {
        "ratio": round(best_base / best_ours, 3),
        "ours_per_s": round(deliveries / best_ours, 1),
        "baseline_per_s": round(deliveries / best_base, 1),
        "subscribers": subscribers,
        "events": events,
        "rounds": rounds,
        "frame_bytes": frame_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, about 1.5 minutes")
    parser.add_argument("--subscribers", type=int, help="WebSocket subscribers (1000; quick 500)")
    parser.add_argument("--events", type=int, help="events per fan-out round (50; at most 90: the layer's capacity)")
    parser.add_argument("--rounds", type=int, help="rounds of each side, the best counts (3; quick 2)")
    parser.add_argument("--members", type=int, help="members of the graph (20000; quick 5000)")
    parser.add_argument("--queries", type=int, help="neighbourhood queries per round (1000; quick 300)")
    parser.add_argument("--threads", type=int, default=2, help="threads storing the graph (setup)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile the first relay fan-out round (stderr)")
    args = parser.parse_args()
    subscribers = args.subscribers or (500 if args.quick else 1000)
    events = args.events or 50
    rounds = args.rounds or (2 if args.quick else 3)
    members = args.members or (5_000 if args.quick else 20_000)
    queries = args.queries or (300 if args.quick else 1000)
    if not 2 <= events <= 90:
        # channels_redis keeps at most 100 messages per channel (capacity) and drops the rest: the
        # bare baseline would lose frames.
        fail("--events must be 2..90")
    pg_admin = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
    rng = random.Random(args.seed)

    import psycopg
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        fail(f"no Redis at BENCH_REDIS_URL ({exc})")
    scratch = f"foaf_bench_relay_{PID}"
    try:
        with psycopg.connect(pg_admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
    except psycopg.Error as exc:
        fail(f"no PostgreSQL at BENCH_DATABASE_URL ({exc})")
    database_url = f"{pg_admin.rsplit('/', 1)[0]}/{scratch}"
    figures: dict[str, Any] = {"bench": "relay"}
    data_dir = tempfile.mkdtemp(prefix="foaf-bench-relay-")  # the development keys Django makes
    try:
        configure(database_url, redis_url, data_dir)
        keys, relationships = build_graph(members, args.threads, rng)
        graph = graph_queries(keys, queries, rounds, database_url, rng)
        figures.update(asyncio.run(fanout(subscribers, events, rounds, args.profile)))
        figures.update(graph)
        figures.update({"members": members, "relationships": relationships})
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        redis_cleanup(redis_url)
        shutil.rmtree(data_dir, ignore_errors=True)
    log(f"fan-out: {figures['ours_per_s']:,.0f} events delivered/s through the relay, "
        f"{figures['baseline_per_s']:,.0f}/s through a bare Channels echo: ratio {figures['ratio']}")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
