"""Federation: relays pull each other's public events, verify them again, store them, and converge.

The first tests start real relays (``manage.py serve``), each with its own database, and
federate them with ``relay_federate``. The rest pull into this run's test database from a real
relay or, where the peer must misbehave in ways a real relay never does (forged events, broken
answers, an out-of-order log), from a fake peer: a small HTTP server serving a changes feed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dj_database_url
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relay import federation
from relay.federation import DEFER_MAX_AGE, PeerCursor, PeerDeferredEvent, peer_pull
from relay.models import Edge, Event, Listing, LogHead, Profile
from relay.protocol import canonical_bytes
from relay.services import event_accept, hints_in_effect, listings_search
from tests.relay.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DAY,
    ERIN,
    MALLORY,
    T0,
    announce,
    capacity_hint,
    key,
    lid,
    limit_update,
    listing,
    listing_withdrawal,
    ordered,
    profile,
    resigned,
    withdrawal,
)
from tests.services import SQLITE_PASS, require
from tests.test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]
V1 = "/relay/v1"


def now() -> int:
    return int(time.time())


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


# --- real relays -----------------------------------------------------------------------------
def _postgres_url() -> str | None:
    """The PostgreSQL server this run uses, or None on SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    if SQLITE_PASS or not url.startswith(("postgres", "pgsql")):
        return None
    return require("DATABASE_URL")


class Relay:
    """A relay of its own: a database of its own, migrated, served by ``manage.py serve`` on a port."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.dir = tmp_path / name
        self.dir.mkdir()
        self.postgres = _postgres_url()
        if self.postgres:
            conf = dj_database_url.parse(self.postgres)
            self.db_name = f"foaf_fed_{name}_{uuid.uuid4().hex[:8]}"
            self.admin = {k: conf[k.upper()] for k in ("host", "port", "user", "password") if conf.get(k.upper())}
            with self._admin_connection() as admin:
                admin.execute(f'CREATE DATABASE "{self.db_name}"')
            self.database_url = urlsplit(self.postgres)._replace(path=f"/{self.db_name}").geturl()
        else:
            self.database_url = f"sqlite:///{self.dir / 'relay.sqlite3'}"
        # Nothing shared with the other relay: its own data directory, no Redis (embedded cache
        # and channel layer), no peers unless a test names them.
        self.env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "FOAF_RELAY_PEERS")}
        self.env |= {"DATABASE_URL": self.database_url, "FOAF_DATA_DIR": str(self.dir / "data")}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.manage("migrate", "--no-input", "-v0")

    def _admin_connection(self) -> Any:
        import psycopg

        return psycopg.connect(dbname="postgres", autocommit=True, **self.admin)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(
        self, *args: str, peers: list[str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = self.env if peers is None else {**self.env, "FOAF_RELAY_PEERS": ",".join(peers)}
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def start(self) -> None:
        log = (self.dir / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--no-worker", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2)
                return
            except OSError:
                assert self.process.poll() is None, (self.dir / "serve.log").read_text()
                time.sleep(0.3)
        raise AssertionError(f"relay {self.name} did not start:\n{(self.dir / 'serve.log').read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def drop(self) -> None:
        self.stop()
        if self.postgres:
            with self._admin_connection() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def post(self, envelope: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base}{V1}/events",
            data=canonical_bytes(envelope),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            return dict(json.load(response))

    def get(self, path: str) -> Any:
        return get_json(f"{self.base}{V1}{path}")

    def federate(self, *peers: Relay) -> str:
        """``relay_federate --once`` with ``FOAF_RELAY_PEERS`` naming the peers: its output."""
        return self.manage("relay_federate", "--once", peers=[peer.base for peer in peers]).stdout

    def holds(self, event_id: str) -> bool:
        """Whether this relay's database holds the event at all (served or not)."""
        query = "SELECT count(*) FROM relay_event WHERE event_id = "
        if self.postgres:
            import psycopg

            with psycopg.connect(dbname=self.db_name, **self.admin) as db:
                row = db.execute(query + "%s", (event_id,)).fetchone()
        else:
            with sqlite3.connect(self.dir / "relay.sqlite3") as db:
                row = db.execute(query + "?", (event_id,)).fetchone()
        assert row is not None
        return bool(row[0])

    def public_state(self, members: list[str]) -> dict[str, Any]:
        """Everything this relay serves about the community: the graph, the members' profiles, the listings."""
        edges, after = [], ""
        while True:
            page = self.get(f"/graph?limit=2{after}")
            edges += page["edges"]
            if page["next"] is None:
                break
            after = f"&after={page['next']}"
        profiles = {}
        for member in members:
            try:
                profiles[member] = self.get(f"/profiles/{member}")
            except urllib.error.HTTPError as e:
                assert e.code == 404
        return {"graph": edges, "profiles": profiles, "listings": self.get("/listings?limit=100")["listings"]}

    def logged(self) -> set[str]:
        """Every event of the public log, as sorted JSON."""
        ids, since = [], 0
        while True:
            page = self.get(f"/changes?since={since}&limit=3")
            ids += [json.dumps(item["event"], sort_keys=True) for item in page["events"]]
            since = page["next"]
            if not page["more"]:
                return set(ids)


@pytest.fixture
def relays(tmp_path: Path, project_env: dict[str, str]) -> Iterator[Callable[[str], Relay]]:
    made: list[Relay] = []

    def make(name: str) -> Relay:
        relay = Relay(name, tmp_path, project_env)
        made.append(relay)
        relay.start()
        return relay

    try:
        yield make
    finally:
        for relay in made:
            relay.drop()


def stored_count(output: str) -> int:
    """The ``N stored`` of a relay_federate summary line (a real relay serves nothing to reject)."""
    [line] = output.strip().splitlines()
    assert " 0 rejected, 0 deferred, 0 retried, 0 pending" in line and "FAILED" not in line, line
    return int(line.split(": ", 2)[2].split(" stored")[0])


MEMBERS = [key(m) for m in (ALICE, BOB, CAROL, DAVE, ERIN)]


def test_two_relays_on_one_machine_converge_to_the_same_public_graph(relays: Callable[[str], Relay]) -> None:
    a, b = relays("a"), relays("b")
    t = now()
    # Relay A: Alice and Bob, Alice's limit, Carol's first listing, Erin's first profile, and a
    # relationship that Alice and Carol keep private.
    on_a = [
        announce(ALICE, BOB, now=t, limit_a_to_b=10_000, limit_b_to_a=5_000),
        limit_update(ALICE, BOB, 1234, version=2, now=t),
        profile(ALICE, "Alice", now=t),
        profile(CAROL, "Carol", now=t),
        profile(ERIN, "Erin (old)", version=1, now=t),
        listing(ALICE, lid(1), "Duck eggs", now=t, price_cents=600),
        listing(CAROL, lid(3), "Jam", now=t, version=1),
        announce(BOB, CAROL, now=t),
        capacity_hint(ALICE, BOB, 6, version=4, now=t),  # what Alice can pay Bob now: below 2**6
    ]
    private_on_a = announce(ALICE, CAROL, now=t, public=False)
    # Relay B: the same Alice-Bob announcement (a duplicate across relays) and Bob's limit on it,
    # Carol and Dave, newer versions of Erin's profile and Carol's listing, a withdrawn listing,
    # and a private relationship of Dave and Erin.
    on_b = [
        announce(ALICE, BOB, now=t, limit_a_to_b=10_000, limit_b_to_a=5_000),
        limit_update(BOB, ALICE, 777, version=3, now=t),
        announce(CAROL, DAVE, now=t, routable=False),
        profile(BOB, "Bob", now=t),
        profile(DAVE, "Dave", now=t),
        profile(ERIN, "Erin", version=2, now=t),
        listing(DAVE, lid(1), "Firewood", now=t - 1, category="fuel"),
        listing(DAVE, lid(2), "Kindling", now=t - 2, category="fuel"),
        listing_withdrawal(DAVE, lid(2), version=2, now=t),
        listing(CAROL, lid(3), "Jam, plum", now=t, version=2),
        capacity_hint(BOB, ALICE, 2, version=5, now=t),  # and what Bob can pay Alice: below 2**2
    ]
    private_on_b = announce(DAVE, ERIN, now=t, public=False)
    for event in on_a:
        a.post(event)
    private_a = a.post(private_on_a)
    for event in on_b:
        b.post(event)
    private_b = b.post(private_on_b)
    assert private_a["cursor"] is None and private_b["cursor"] is None
    assert a.public_state(MEMBERS) != b.public_state(MEMBERS)

    # One pull each way: A gets B's public log, then B gets A's (which now holds B's too).
    assert stored_count(a.federate(b)) == len(on_b) - 1  # the shared announcement is a duplicate
    # The shared announcement, Erin's version 1 and Carol's listing version 1 are no news to B.
    assert stored_count(b.federate(a)) == len(on_a) - 3

    state = a.public_state(MEMBERS)
    assert state == b.public_state(MEMBERS)
    # The public logs hold the same events, except those B never stored because it held newer ones.
    superseded = {json.dumps(on_a[4], sort_keys=True), json.dumps(on_a[6], sort_keys=True)}
    assert a.logged() - b.logged() == superseded and b.logged() <= a.logged()
    alice, bob = (key(ALICE), key(BOB))
    by_pair = {frozenset((e["a"], e["b"])): e for e in state["graph"]}
    assert set(by_pair) == {
        frozenset((alice, bob)),
        frozenset((key(BOB), key(CAROL))),
        frozenset((key(CAROL), key(DAVE))),
    }
    alice_bob = by_pair[frozenset((alice, bob))]
    party_a, _ = ordered(ALICE, BOB)
    alices_limit, bobs_limit = (
        ("limit_b_to_a", "limit_a_to_b") if party_a is ALICE else ("limit_a_to_b", "limit_b_to_a")
    )
    assert (alice_bob[alices_limit], alice_bob[bobs_limit]) == (
        1234,
        777,
    )  # each party's newest limit, from either relay
    alice_pays = "a_to_b" if party_a is ALICE else "b_to_a"
    bob_pays = "b_to_a" if party_a is ALICE else "a_to_b"
    assert {d: h["exponent"] for d, h in alice_bob["hints"].items()} == {alice_pays: 6, bob_pays: 2}
    assert by_pair[frozenset((key(CAROL), key(DAVE)))]["routable"] is False
    assert state["profiles"].keys() == set(MEMBERS)
    assert state["profiles"][key(ERIN)]["name"] == "Erin"  # version 2 won on both relays
    assert {(x["author"], x["listing"], x["title"]) for x in state["listings"]} == {
        (key(ALICE), lid(1), "Duck eggs"),
        (key(DAVE), lid(1), "Firewood"),
        (key(CAROL), lid(3), "Jam, plum"),
    }

    # The private relationships never left their relays.
    assert a.holds(private_a["id"]) and not b.holds(private_a["id"])
    assert b.holds(private_b["id"]) and not a.holds(private_b["id"])
    for relay in (a, b):
        hood = relay.get(f"/neighbourhood/{key(ERIN)}?depth=3")
        assert hood["edges"] == [] and hood["members"] == [{"key": key(ERIN), "distance": 0}]
        assert frozenset((alice, key(CAROL))) not in {frozenset((e["a"], e["b"])) for e in relay.get("/graph")["edges"]}

    # Pulling again brings nothing new: A finds its own events in B's log as duplicates, then
    # nothing at all; both relays serve exactly what they served.
    for relay, peer in ((a, b), (b, a), (a, b), (b, a)):
        assert stored_count(relay.federate(peer)) == 0
    assert a.public_state(MEMBERS) == b.public_state(MEMBERS) == state

    # Federation goes on: a withdrawal on B and a new profile on A reach the other relay.
    b.post(withdrawal(CAROL, BOB, version=2, now=t))
    a.post(profile(ALICE, "Alice of Crawford Bay", version=2, now=t))
    assert stored_count(a.federate(b)) == 1
    assert stored_count(b.federate(a)) == 1
    later = a.public_state(MEMBERS)
    assert later == b.public_state(MEMBERS)
    assert frozenset((key(BOB), key(CAROL))) not in {frozenset((e["a"], e["b"])) for e in later["graph"]}
    assert later["profiles"][alice]["name"] == "Alice of Crawford Bay"


@pytest.mark.django_db
def test_a_peer_that_is_down_is_recorded_nothing_is_lost_and_the_next_run_resumes(
    relays: Callable[[str], Relay],
) -> None:
    peer = relays("peer")
    t = now()
    first = [profile(ALICE, "Alice", now=t), profile(BOB, "Bob", now=t), listing(ALICE, lid(1), "Eggs", now=t)]
    for event in first:
        peer.post(event)
    pulled = peer_pull(peer.base, page_size=2)
    assert (pulled.stored, pulled.pages, pulled.cursor, pulled.error) == (3, 2, 3, None)

    peer.stop()
    down = peer_pull(peer.base, page_size=2)
    assert down.error is not None and "Connection refused" in down.error
    cursor = PeerCursor.objects.get(peer=peer.base)
    assert (cursor.cursor, cursor.failures, cursor.stored) == (3, 1, 3)
    assert cursor.last_error == down.error and cursor.last_error_at is not None
    assert Event.objects.count() == 3  # nothing lost
    assert peer_pull(peer.base).error is not None
    assert PeerCursor.objects.get(peer=peer.base).failures == 2

    peer.start()  # the same database, the same port, two events more
    peer.post(profile(CAROL, "Carol", now=t))
    peer.post(profile(ALICE, "Alice again", version=2, now=t))
    resumed = peer_pull(peer.base, page_size=2)
    assert (resumed.stored, resumed.seen, resumed.cursor, resumed.error) == (2, 0, 5, None)
    cursor = PeerCursor.objects.get(peer=peer.base)
    assert (cursor.cursor, cursor.failures, cursor.stored) == (5, 0, 5)
    assert cursor.last_success_at is not None and cursor.last_error_at is not None
    assert cursor.last_success_at > cursor.last_error_at
    assert Profile.objects.get(key=key(ALICE)).name == "Alice again"


# --- a fake peer: the outside world misbehaving ------------------------------------------------
@dataclass
class FakePeer:
    """A peer's changes feed from memory (cursor n = ``log[n - 1]``), answering like a relay,
    unless told to fail: ``answers`` maps a ``since`` to a canned (status, body)."""

    log: list[Any] = field(default_factory=list)
    answers: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str) -> tuple[int, bytes]:
        parts = urlsplit(path)
        if parts.path != f"{V1}/changes":
            return 404, b"{}"
        query = parse_qs(parts.query)
        since, limit = int(query["since"][0]), int(query["limit"][0])
        self.requests.append(since)
        if since in self.answers:
            return self.answers[since]
        page = [{"cursor": n, "event": event} for n, event in enumerate(self.log, 1) if n > since][:limit]
        body = {
            "events": page,
            "next": page[-1]["cursor"] if page else since,
            "more": since + len(page) < len(self.log),
        }
        return 200, json.dumps(body).encode()


@pytest.fixture
def fake_peer() -> Iterator[FakePeer]:
    peer = FakePeer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = peer.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    peer.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


def at(seconds: int) -> Callable[[], float]:
    return lambda: float(seconds)


def pull(peer: FakePeer, *, clock: int = T0, page_size: int = 100) -> federation.PullResult:
    return peer_pull(peer.base, page_size=page_size, clock=at(clock))


def tampered(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with one bit of its signature flipped."""
    sig = bytearray(bytes.fromhex(envelope["sig"]))
    sig[5] ^= 0x01
    return {**envelope, "sig": sig.hex()}


@pytest.mark.django_db
def test_a_forged_or_malformed_event_from_a_peer_is_counted_and_skipped_and_the_cursor_moves_past_it(
    fake_peer: FakePeer,
) -> None:
    bob = profile(BOB, "Bob")
    altered = profile(CAROL, "Carol") | {"body": profile(CAROL, "Carol")["body"] | {"name": "Mallory"}}
    fake_peer.log = [
        profile(ALICE, "Alice"),
        tampered(bob),  # 2: a flipped signature bit
        altered,  # 3: a body changed after signing
        announce(ALICE, DAVE) | {"cosig": announce(ALICE, MALLORY)["cosig"]},  # 4: co-signed by someone else
        resigned(profile(DAVE, "Dave"), MALLORY),  # 5: Dave's profile signed by Mallory
        profile(DAVE, "Dave") | {"created": 1.5},  # 6: a float
        "not an event",  # 7
        listing(ALICE, lid(1), "Eggs"),
    ]
    result = pull(fake_peer)
    assert (result.stored, result.rejected, result.cursor, result.error) == (2, 6, 8, None)
    assert [r.split(" refused: ")[1].split(":")[0] for r in result.refusals] == [
        "event_bad_signature",
        "event_bad_signature",
        "event_bad_signature",
        "event_bad_signature",
        "event_malformed",
        "event_malformed",
    ]
    assert set(Event.objects.values_list("author", flat=True)) == {key(ALICE)}
    assert not Profile.objects.filter(key__in=[key(BOB), key(CAROL), key(DAVE)]).exists()
    assert not Edge.objects.exists()
    cursor = PeerCursor.objects.get(peer=fake_peer.base)
    assert (cursor.cursor, cursor.stored, cursor.rejected, cursor.failures) == (8, 2, 6, 0)
    assert "event_malformed" in cursor.last_error and cursor.last_success_at is not None

    again = pull(fake_peer)  # the cursor is past them: they are not fetched again
    assert (again.stored, again.rejected, again.cursor) == (0, 0, 8)
    assert fake_peer.requests == [0, 8]


@pytest.mark.django_db
def test_rerunning_pulls_nothing_new_and_what_the_relay_already_holds_is_only_seen(fake_peer: FakePeer) -> None:
    held = profile(ALICE, "Alice", version=2)
    event_accept(canonical_bytes(held), now=T0)
    fake_peer.log = [held, profile(ALICE, "Alice, older", version=1), profile(BOB, "Bob")]
    first = pull(fake_peer)
    assert (first.stored, first.seen, first.rejected) == (1, 2, 0)  # a duplicate and a stale version
    head = LogHead.objects.get().last_cursor
    for _ in range(2):
        again = pull(fake_peer)
        assert (again.stored, again.seen, again.cursor, again.pages) == (0, 0, 3, 1)
    assert LogHead.objects.get().last_cursor == head
    assert Profile.objects.get(key=key(ALICE)).name == "Alice"


@pytest.mark.django_db
def test_a_crash_between_storing_a_page_and_moving_the_cursor_re_pulls_the_page_harmlessly(
    fake_peer: FakePeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_peer.log = [announce(ALICE, BOB), limit_update(ALICE, BOB, 99, version=2), profile(BOB, "Bob")]
    real = federation._page_done

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("killed after storing the page")

    monkeypatch.setattr(federation, "_page_done", crash)
    with pytest.raises(RuntimeError, match="killed"):
        pull(fake_peer)
    assert Event.objects.count() == 3  # the events were stored...
    cursor = PeerCursor.objects.get(peer=fake_peer.base)
    assert (cursor.cursor, cursor.stored, cursor.busy_until) == (0, 0, None)  # ...the cursor was not moved
    assert "killed after storing the page" in cursor.last_error
    head = LogHead.objects.get().last_cursor

    monkeypatch.setattr(federation, "_page_done", real)
    again = pull(fake_peer)
    assert (again.stored, again.seen, again.cursor, again.error) == (0, 3, 3, None)
    assert Event.objects.count() == 3 and LogHead.objects.get().last_cursor == head
    edge = Edge.objects.get()
    assert 99 in (edge.limit_a_to_b, edge.limit_b_to_a)


@pytest.mark.django_db
def test_a_broken_answer_fails_the_run_where_it_is_and_the_next_run_resumes_there(fake_peer: FakePeer) -> None:
    fake_peer.log = [profile(m, f"member {i}") for i, m in enumerate((ALICE, BOB, CAROL, DAVE, ERIN))]
    fake_peer.answers = {2: (500, b'{"error": {}}')}
    first = pull(fake_peer, page_size=2)
    assert (first.stored, first.cursor, first.pages) == (2, 2, 1)
    assert first.error is not None and "HTTP 500" in first.error
    cursor = PeerCursor.objects.get(peer=fake_peer.base)
    assert (cursor.cursor, cursor.failures, cursor.last_success_at) == (2, 1, None)

    for status, body, why in [
        (200, b"<html>", "not JSON"),
        (200, b'{"events": [], "next": 2}', "not a changes page"),
        (200, b'{"events": [{"cursor": 2, "event": {}}], "next": 2, "more": false}', "out of order"),
        (200, b'{"events": [], "next": 2, "more": true}', "says there is more"),
        (200, b'{"events": [{"cursor": 3, "event": {}}], "next": 1, "more": false}', "before the page's last"),
        (200, b'{"events": [{"cursor": "3", "event": {}}], "next": 3, "more": false}', "is not {cursor, event}"),
    ]:
        fake_peer.answers = {2: (status, body)}
        failed = pull(fake_peer, page_size=2)
        assert failed.error is not None and why in failed.error, failed.error
        assert PeerCursor.objects.get(peer=fake_peer.base).cursor == 2

    fake_peer.answers = {}
    resumed = pull(fake_peer, page_size=2)
    assert (resumed.stored, resumed.cursor, resumed.pages, resumed.error) == (3, 5, 2, None)
    assert fake_peer.requests[-2:] == [2, 4]
    assert PeerCursor.objects.get(peer=fake_peer.base).failures == 0
    assert Profile.objects.count() == 5


@pytest.mark.django_db
def test_a_limit_before_its_announcement_is_set_aside_and_stored_once_the_announcement_is_here(
    fake_peer: FakePeer,
) -> None:
    # A peer whose log is out of order (a relay never serves one): the limit comes first.
    fake_peer.log = [limit_update(ALICE, BOB, 42, version=2), profile(ALICE, "Alice")]
    first = pull(fake_peer)
    assert (first.stored, first.deferred, first.pending, first.cursor) == (1, 1, 1, 2)
    [held] = PeerDeferredEvent.objects.all()
    # Tried again at the end of the run already (a later page might have held the announcement).
    assert (held.code, held.attempts, held.peer_cursor) == ("event_unknown_relationship", 2, 1)

    again = pull(fake_peer)  # still unknown: kept, tried once more
    assert (again.retried, again.pending) == (0, 1)
    assert PeerDeferredEvent.objects.get().attempts == 3

    fake_peer.log.append(announce(ALICE, BOB))  # the announcement arrives (here, from the same peer)
    third = pull(fake_peer)
    assert (third.stored, third.retried, third.pending, third.cursor) == (2, 1, 0, 3)
    edge = Edge.objects.get()
    assert 42 in (edge.limit_a_to_b, edge.limit_b_to_a)
    assert not PeerDeferredEvent.objects.exists()
    assert PeerCursor.objects.get(peer=fake_peer.base).deferred == 1


@pytest.mark.django_db
def test_capacity_hints_federate_like_limits_and_an_expired_one_holds_its_register_unused(
    fake_peer: FakePeer,
) -> None:
    # A hint before its announcement (an out-of-order log) is set aside like a limit; a hint on an
    # edge this relay does not route yet waits for the announcement that makes it routable.
    fake_peer.log = [
        capacity_hint(ALICE, BOB, 3, version=2),
        announce(ALICE, BOB),
        announce(BOB, CAROL, routable=False),
        capacity_hint(CAROL, BOB, 4, version=2),
    ]
    first = pull(fake_peer)
    assert (first.stored, first.retried, first.pending) == (3, 1, 1)
    assert PeerDeferredEvent.objects.get().code == "event_unknown_relationship"
    assert sorted(h.exponent for h in hints_in_effect(now=T0)) == [3]
    fake_peer.log.append(announce(BOB, CAROL, version=2))  # now routable: Carol's hint goes in
    second = pull(fake_peer)
    assert (second.stored, second.retried, second.pending) == (2, 1, 0)
    assert sorted(h.exponent for h in hints_in_effect(now=T0)) == [3, 4]
    # A newer hint that expired by the time it is pulled is stored (it holds the register, so the
    # older live one stays superseded) and no longer counts.
    fake_peer.log.append(capacity_hint(ALICE, BOB, 9, version=3, now=T0 + 10, ttl=60))
    later = pull(fake_peer, clock=T0 + 3600)
    assert (later.stored, later.rejected) == (1, 0)
    assert sorted(h.exponent for h in hints_in_effect(now=T0 + 3600)) == [4]
    assert event_accept(canonical_bytes(capacity_hint(ALICE, BOB, 3, version=2)), now=T0).outcome == "duplicate"


@pytest.mark.django_db
def test_a_set_aside_event_is_given_up_after_its_time(fake_peer: FakePeer) -> None:
    fake_peer.log = [withdrawal(ALICE, BOB, version=2)]
    assert pull(fake_peer).pending == 1
    late = T0 + int(DEFER_MAX_AGE.total_seconds()) + 1
    given_up = pull(fake_peer, clock=late)
    assert (given_up.pending, given_up.rejected) == (0, 1)
    assert "given up after 3 tries" in given_up.refusals[0]
    assert PeerCursor.objects.get(peer=fake_peer.base).rejected == 1
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_an_event_from_the_future_waits_for_this_relays_clock(fake_peer: FakePeer) -> None:
    fake_peer.log = [profile(ALICE, "Alice", now=T0 + 3600)]  # the peer's clock is an hour ahead
    early = pull(fake_peer)
    assert (early.stored, early.pending) == (0, 1)
    assert PeerDeferredEvent.objects.get().code == "event_from_future"
    caught_up = pull(fake_peer, clock=T0 + 3600)
    assert (caught_up.retried, caught_up.pending) == (1, 0)
    assert Profile.objects.get(key=key(ALICE)).name == "Alice"


@pytest.mark.django_db
def test_a_listing_that_expired_at_the_peer_is_stored_and_supersedes_an_older_live_copy(
    fake_peer: FakePeer,
) -> None:
    # Version 1 lives 30 days; the author shortened it to one day with version 2, which has
    # expired by the time this relay pulls it.
    event_accept(canonical_bytes(listing(ALICE, lid(1), "Eggs", now=T0, ttl=30 * DAY)), now=T0)
    shortened = listing(ALICE, lid(1), "Eggs, last week", now=T0 + 1, ttl=DAY, version=2)
    fake_peer.log = [shortened]
    later = T0 + 3 * DAY
    assert [x.title for x, _ in listings_search(now=later, limit=10)] == ["Eggs"]
    result = pull(fake_peer, clock=later)
    assert (result.stored, result.rejected) == (1, 0)
    held = Listing.objects.get(author=key(ALICE), listing=lid(1))
    assert (held.version, held.expires) == (2, T0 + 1 + DAY)
    assert listings_search(now=later, limit=10) == []  # as at the peer: nothing live


@pytest.mark.django_db
def test_a_peer_held_by_another_run_is_left_to_it(fake_peer: FakePeer) -> None:
    fake_peer.log = [profile(ALICE, "Alice")]
    PeerCursor.objects.create(peer=fake_peer.base, busy_until=datetime.fromtimestamp(T0 + 30, UTC))
    busy = pull(fake_peer)
    assert busy.busy and fake_peer.requests == [] and not Event.objects.exists()
    after_the_hold = pull(fake_peer, clock=T0 + 31)  # a run that died holding it frees it in time
    assert (after_the_hold.busy, after_the_hold.stored) == (False, 1)
    assert PeerCursor.objects.get().busy_until is None


def test_a_peer_is_named_by_its_base_url_in_one_spelling() -> None:
    assert federation.normalize_peer(" https://Relay.Example:8443/base/ ") == "https://relay.example:8443/base"
    for bad in ("ftp://relay.example", "relay.example", "https://relay.example/?x=1", "https://u:p@relay.example"):
        with pytest.raises(ValueError):
            federation.normalize_peer(bad)


# --- the command and the task --------------------------------------------------------------------
@pytest.mark.django_db
def test_the_command_pulls_the_named_peers_once_and_fails_when_one_fails(fake_peer: FakePeer) -> None:
    fake_peer.log = [profile(ALICE, "Alice", now=now()), profile(BOB, "Bob", now=now())]
    out = StringIO()
    call_command("relay_federate", "--peer", fake_peer.base, "--once", stdout=out)
    assert out.getvalue().startswith(f"{fake_peer.base}: cursor 2, 1 page(s): 2 stored, 0 seen, 0 rejected")

    dead = f"http://127.0.0.1:{free_port()}"
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 2 peer"):
        call_command("relay_federate", "--peer", fake_peer.base, "--peer", dead, "--once", stdout=out, stderr=err)
    assert f"{dead}: cursor 0" in err.getvalue() and "FAILED" in err.getvalue()

    out = StringIO()
    call_command("relay_federate", "--peer", fake_peer.base, "--once", "--from-start", stdout=out)
    assert ": 0 stored, 2 seen" in out.getvalue()  # pulled again from cursor 0: duplicates only
    with pytest.raises(CommandError, match="no peers"):
        call_command("relay_federate", "--once")
    with pytest.raises(CommandError, match="not an http"):
        call_command("relay_federate", "--peer", "relay.example", "--once")


@pytest.mark.django_db(transaction=True)
def test_the_command_without_once_pulls_every_interval_until_stopped(
    fake_peer: FakePeer, project_env: dict[str, str]
) -> None:
    from tests.conftest import database_url_for_subprocess

    fake_peer.log = [profile(ALICE, "Alice", now=now())]
    env = project_env | {
        "DATABASE_URL": database_url_for_subprocess(),
        "FOAF_RELAY_PEERS": fake_peer.base,
        "FOAF_RELAY_FEDERATION_INTERVAL_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_federate"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(fake_peer.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        fake_peer.log.append(profile(BOB, "Bob", now=now()))
        while not Profile.objects.filter(key=key(BOB)).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert Profile.objects.filter(key__in=[key(ALICE), key(BOB)]).count() == 2
    assert fake_peer.requests[:2] == [0, 1]


@pytest.mark.django_db(transaction=True)
def test_the_celery_task_pulls_every_configured_peer_on_a_real_worker(
    fake_peer: FakePeer, project_env: dict[str, str]
) -> None:
    from tests.conftest import database_url_for_subprocess
    from tests.workers import WorkerProcess

    t = now()
    fake_peer.log = [announce(ALICE, BOB, now=t), profile(ALICE, "Alice", now=t), tampered(profile(BOB, "Bob", now=t))]
    project_env |= {"DATABASE_URL": database_url_for_subprocess(), "FOAF_RELAY_PEERS": fake_peer.base}
    worker = WorkerProcess(project_env)
    worker.start()
    try:
        from relay.tasks import federate

        [summary] = federate.delay().get(timeout=60)
    finally:
        worker.stop()
    assert (summary["peer"], summary["stored"], summary["rejected"], summary["cursor"]) == (fake_peer.base, 2, 1, 3)
    assert Edge.objects.count() == 1 and Profile.objects.get().key == key(ALICE)
    assert PeerCursor.objects.get().cursor == 3


def settings_in_subprocess(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_beat_pulls_the_configured_peers_every_interval_and_a_bad_peer_url_stops_start_up(
    project_env: dict[str, str],
) -> None:
    show = "print(settings.RELAY_PEERS, settings.CELERY_BEAT_SCHEDULE.get('relay-federate'))"
    configured = project_env | {
        "FOAF_RELAY_PEERS": "https://a.example/, http://127.0.0.1:8001",
        "FOAF_RELAY_FEDERATION_INTERVAL_SECONDS": "45",
    }
    done = settings_in_subprocess(configured, show)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "['https://a.example', 'http://127.0.0.1:8001'] {'task': 'relay.tasks.federate', "
        "'schedule': datetime.timedelta(seconds=45), 'options': {'expires': 45}}"
    )
    unset = settings_in_subprocess({k: v for k, v in project_env.items() if k != "FOAF_RELAY_PEERS"}, show)
    assert unset.stdout.strip() == "[] None"
    for value, message in [
        ("relay.example", "FOAF_RELAY_PEERS: 'relay.example' is not a base URL"),
        ("https://u:secret@relay.example", "FOAF_RELAY_PEERS: 'https://u:***@relay.example': a peer URL carries no"),
    ]:
        bad = settings_in_subprocess(project_env | {"FOAF_RELAY_PEERS": value}, show)
        assert bad.returncode != 0 and message in bad.stderr and "u:secret@" not in bad.stderr
