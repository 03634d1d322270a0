"""The legacy ``/v1`` API's reads and payments per second, against a bare DRF endpoint in the same run.

Data: the project's demo dump (``migration/fixtures/demo_legacy.sql``) with, appended to it, LINES
more members (30 unless --lines says otherwise) who each hold a trustline with Ida (legacy id 2),
a contact row (every other one with a label Ida gave them) and one payment in the line's history;
Ida then has LINES + 2 active trustlines. The file is imported through the dump path
(``DumpSource`` and ``import_run``, as ``import_legacy --dump`` does), so every line is a real
bilateral relationship whose genesis the import made. A token of the HS256 bridge, in the Rails v1
form the tests use (``sub`` = foaf_id, ``aud``, ``jti``, ``legacy_uid``, ``user_name``), with the
bridge on and a secret of the bench's.

Every request is a WSGI call in this process: ``django.core.handlers.wsgi.WSGIHandler`` (the whole
middleware stack, URL resolution, DRF), a fresh environ each time, the body read out; the same for
both sides. Not Django's test client: its own per-request work (signals, response decoration) would
be added to both sides alike and hide part of the difference.

Reads (``ratio``): ``GET /v1/trustlines`` as Ida, N requests (2,000; 1,000 with --quick), served
as production serves a member's repeated reads: the first verifies the token and builds the
listing, and each later one reads the member's marks (one query) and, nothing having changed,
answers the kept bytes (docs/legacy-api.md, "Caching"). ``cold_read_per_s`` (reported, no target):
N/10 reads with nothing kept, each verifying the token and building the listing again. Baseline: a
bare DRF ``APIView`` defined here (no authentication, no permission, no throttle classes),
mounted by this bench alone on ``/bench/bare`` through a urlconf of its own (the project's URLs
plus that one), returning as an ``HttpResponse`` the exact bytes and ``Content-Type`` the listing
answered (checked before timing, and every answer of ours is checked against them afterwards).
ratio = ours_per_s / baseline_per_s (target >= 0.5). Each side runs ROUNDS times (5; 3 with
--quick), interleaved; the best round of each counts. p50/p99 are over every request of ours.

Payments (``payment_per_s``, ``payment_ratio``, reported, no target): ``POST
/v1/trustlines/<id>/payment`` of 0.01 as Ida on one of the added lines, a new ``Idempotency-Key``
each: every one a co-signed bilateral update (Ida's and her counterparty's held keys, both
signatures recorded), answered 200 ``posted`` (checked). Baseline: the same bare view, POST,
returning the bytes of a payment receipt. Interleaved as the reads.

The process runs as a production deployment would for what is measured: ``DJANGO_DEBUG=0`` (no
query log), ``DATABASE_CONN_MAX_AGE=600`` (a connection kept between requests), no Redis (the
cache is in memory; nothing on these paths needs more). --profile runs one read round of ours
under cProfile and prints where the time went (stderr).

    .venv/bin/python bench/legacy_api.py            # 2,000 reads x 5 rounds, 300 payments x 5
    .venv/bin/python bench/legacy_api.py --quick    # about a minute

Needs PostgreSQL at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
scratch database foaf_bench_legacy_api_<pid> is created, migrated by ``manage.py migrate`` and
dropped). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PID = os.getpid()
IDA = 2  # a member of the demo dump (idaquist2), holding lines #1 and #2 there
FIRST_EXTRA = 1001  # legacy ids of the members, lines and rows this bench adds to the dump
SECRET = "bench-legacy-api-" + "0123456789abcdef" * 4
AUD = "growoperative"
BARE_PATH = "/bench/bare"
CONTENT_TYPE = "application/json"

Call = Callable[[], tuple[int, bytes, str]]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fail(message: str) -> None:
    sys.exit(f"bench/legacy_api.py: {message}")


def foaf_id(legacy_id: int) -> str:
    return f"9b1f0c2e-0000-4000-8000-{legacy_id:012d}"


# --- the snapshot --------------------------------------------------------------------------------
def snapshot(path: Path, demo: Path, extra: int) -> None:
    """The demo dump, then ``extra`` members each with a line to Ida, a contact row and one payment."""
    users, groups, contacts, trustlines, history = [], [], [], [], []
    when = "'2025-11-01 10:00:00'"
    for i in range(extra):
        uid = FIRST_EXTRA + i
        users.append(
            f"({uid},'',1,NULL,'Bench Member {i}',NULL,NULL,'benchmember{uid}',2,NULL,NULL,0,NULL,"
            f"'{foaf_id(uid)}','Bench','Member {i}',NULL,NULL,NULL,{when},{when})"
        )
        groups.append(f"({uid},{uid},1,{when},{when})")
        label = f"'neighbour {i}'" if i % 2 == 0 else "NULL"
        contacts.append(f"({uid},{uid},1,{IDA},{IDA},{label},NULL,{when},{when})")
        owed = 1 + i % 9  # Ida paid this much on credit: she owes it
        notes = f"'bench line {i}'" if i % 3 == 0 else "NULL"
        trustlines.append(
            f"({uid},{IDA},{uid},1000.00,500.00,{owed}.00,1,{when},'2025-12-01 10:00:00',{notes},{when},{when})"
        )
        history.append(
            f"({uid},{uid},{owed}.00,'bench',NULL,'payment',{IDA},{owed}.00,0,NULL,NULL,NULL,"
            f"'2025-12-01 10:00:00','2025-12-01 10:00:00')"
        )
    statements = [
        "INSERT INTO `users` (`id`,`encrypted_password`,`sign_in_count`,`last_sign_in_at`,`name`,`nickname`,"
        "`email`,`user_name`,`parent_id`,`foaf_address`,`foaf_private_key`,`foaf_registered`,`foaf_seed_phrase`,"
        "`foaf_id`,`first_name`,`last_name`,`display_name`,`deleted_at`,`disabled_at`,`created_at`,`updated_at`) "
        "VALUES\n" + ",\n".join(users) + ";",
        "INSERT INTO `user_groups` (`id`,`user_id`,`group_label`,`created_at`,`updated_at`) VALUES\n"
        + ",\n".join(groups)
        + ";",
        "INSERT INTO `relationships` (`id`,`friend_id`,`status`,`action_user_id`,`user_id`,`user_label`,"
        "`friend_label`,`created_at`,`updated_at`) VALUES\n" + ",\n".join(contacts) + ";",
        "INSERT INTO `trustlines` (`id`,`user_a_id`,`user_b_id`,`credit_limit_a_to_b`,`credit_limit_b_to_a`,"
        "`current_balance`,`is_active`,`established_date`,`last_activity`,`notes`,`created_at`,`updated_at`) "
        "VALUES\n" + ",\n".join(trustlines) + ";",
        "INSERT INTO `trustline_transactions` (`id`,`trustline_id`,`amount`,`description`,`path_info`,"
        "`transaction_type`,`initiated_by_id`,`balance_after`,`is_reversed`,`foaf_operation_id`,`foaf_posted_at`,"
        "`foaf_direction`,`created_at`,`updated_at`) VALUES\n" + ",\n".join(history) + ";",
    ]
    text = demo.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + "\n" + ("\n".join(statements) if extra else "") + "\n", encoding="utf-8")


# --- setup: the scratch database, the environment, Django ------------------------------------------
def configure(database_url: str, data_dir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "foaf.settings",
            "DATABASE_URL": database_url,
            "FOAF_DATA_DIR": data_dir,
            "ALLOWED_HOSTS": "localhost,testserver",
            "DJANGO_DEBUG": "0",
            "DATABASE_CONN_MAX_AGE": "600",
        }
    )
    for name in ("LEGACY_DATABASE_URL", "REDIS_URL", "FOAF_RELAY_PEERS", "FOAF_RELAY_ORIGIN"):
        os.environ.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=dict(os.environ), check=True)
    import django

    django.setup()
    from django.conf import settings

    # The HS256 bridge on, with a secret of ours; no RS256 keys, revocation feed or auth service.
    settings.LEGACY_AUD = AUD
    settings.LEGACY_HS256_BRIDGE_ENABLED = True
    settings.LEGACY_JWT_SECRET = SECRET
    settings.LEGACY_AUTH_JWKS_URL = ""
    settings.LEGACY_AUTH_JWKS = ""
    settings.LEGACY_AUTH_REVOCATION_URL = ""
    settings.LEGACY_AUTH_REVOCATION_SNAPSHOT = ""
    settings.LEGACY_AUTH_SERVICE_URL = ""
    settings.LEGACY_RATE_NAMESPACE = f"bench-legacy-api-{PID}"
    from migration.api import auth

    auth.reset_caches()


def import_snapshot(dump: Path) -> None:
    from migration.legacy.source import DumpSource
    from migration.progress import Progress
    from migration.runs import import_run

    started = time.perf_counter()
    with DumpSource(str(dump)) as source:
        import_run(source, label="bench legacy api", progress=Progress(io.StringIO()))
    log(f"import: {dump.stat().st_size:,} bytes through the dump path in {time.perf_counter() - started:.1f}s")


def token(legacy_id: int) -> str:
    """The Rails-minted v1 bridge token (HS256): sub = foaf_id, aud, jti, legacy_uid, user_name."""
    import jwt

    now = int(time.time())
    claims = {"sub": foaf_id(legacy_id), "aud": AUD, "jti": str(uuid.uuid4()), "legacy_uid": legacy_id,
              "user_name": "whoever", "iat": now, "exp": now + 365 * 86400}  # fmt: skip
    return jwt.encode(claims, SECRET, algorithm="HS256")


# --- the baseline: a bare DRF view on a URL of the bench's own -----------------------------------------
class Bare:
    """What the bare view answers: set before each side is timed."""

    body = b""
    content_type = CONTENT_TYPE


def mount_bare() -> None:
    from django.conf import settings
    from django.http import HttpRequest, HttpResponse
    from django.urls import clear_url_caches, include, path
    from rest_framework.permissions import AllowAny
    from rest_framework.views import APIView

    class BareView(APIView):
        authentication_classes: list[Any] = []
        permission_classes = [AllowAny]
        throttle_classes: list[Any] = []

        def get(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse(Bare.body, content_type=Bare.content_type)

        def post(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse(Bare.body, content_type=Bare.content_type)

    urls = types.ModuleType("bench_legacy_api_urls")
    urls.urlpatterns = [path(BARE_PATH.lstrip("/"), BareView.as_view()), path("", include(settings.ROOT_URLCONF))]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    clear_url_caches()


# --- WSGI calls ---------------------------------------------------------------------------------
def caller(
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: Callable[[], bytes] | None = None,
    key: Callable[[], str] | None = None,
) -> Call:
    """A function making the request through Django's WSGI handler: (status, body, content type);
    ``key`` gives each request its ``Idempotency-Key``."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    template = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }

    def call() -> tuple[int, bytes, str]:
        environ = dict(template)
        raw = body() if body is not None else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        if body is not None:
            environ["CONTENT_TYPE"] = "application/json"
        if key is not None:
            environ["HTTP_IDEMPOTENCY_KEY"] = key()
        seen: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, response_headers
            return None

        result = handler(environ, start_response)
        try:
            out = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        content_type = next((v for k, v in seen["headers"] if k.lower() == "content-type"), "")
        return int(seen["status"].split()[0]), out, content_type

    return call


def timed(call: Call, n: int, profiler: cProfile.Profile | None = None) -> tuple[float, list[float], list[Any]]:
    """n calls: total seconds, each call's seconds, each answer."""
    latencies, answers = [], []
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        answers.append(call())
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    return total, latencies, answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def compare(
    label: str, ours: Call, base: Call, n: int, rounds: int, check: Callable[[list[Any]], None], profile: bool
) -> dict[str, Any]:
    best_ours = best_base = float("inf")
    latencies: list[float] = []
    profiler = cProfile.Profile() if profile else None
    for r in range(rounds):
        ours_s, lat, answers = timed(ours, n, profiler if r == 0 else None)
        check(answers)
        base_s, _, _ = timed(base, n)
        if r > 0 or profiler is None:  # a profiled round is slower: it does not count
            best_ours = min(best_ours, ours_s)
            latencies.extend(lat)
        best_base = min(best_base, base_s)
        log(f"{label} round {r + 1}: ours {n / ours_s:,.0f}/s, bare DRF {n / base_s:,.0f}/s"
            + (" (profiled, not counted)" if profiler is not None and r == 0 else ""))  # fmt: skip
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        log(f"profile of the first {label} round of ours\n" + out.getvalue())
    return {
        "ours_per_s": round(n / best_ours, 1),
        "baseline_per_s": round(n / best_base, 1),
        "ratio": round(best_base / best_ours, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
    }


def run(reads: int, payments: int, rounds: int, extra: int, profile: bool) -> dict[str, Any]:
    from django.db import connections

    from migration import models as m

    auth = {"Authorization": f"Bearer {token(IDA)}"}
    mount_bare()
    lines_of_ida = m.Trustline.objects.filter(user_a_legacy_id=IDA, is_active=True, relationship__isnull=False).count()

    # Reads: what ours answers is what the bare view returns.
    ours_read = caller("GET", "/v1/trustlines", headers=auth)
    status, listing, content_type = ours_read()
    if status != 200 or len(json.loads(listing)) != extra + 2:
        fail(f"GET /v1/trustlines answered {status} with {listing[:300]!r}")
    Bare.body, Bare.content_type = listing, content_type
    base_read = caller("GET", BARE_PATH, headers={})
    if base_read() != (200, listing, content_type):
        fail("the bare view does not answer the listing's bytes")

    def same_listing(answers: list[Any]) -> None:
        if any(a != (200, listing, content_type) for a in answers):
            fail("a GET /v1/trustlines answered other bytes than the first")

    figures = compare("read", ours_read, base_read, reads, rounds, same_listing, profile)
    figures.update({"reads": reads, "response_bytes": len(listing), "trustlines": lines_of_ida})

    # The same reads with nothing kept: each verifies the token and builds the listing from the
    # bilateral state (what the first read after a change costs). Reported, no target.
    from migration.api import freshness

    def cold_read() -> tuple[int, bytes, str]:
        freshness.forget()
        return ours_read()

    cold_n = max(reads // 10, 50)
    cold_s, _, cold_answers = timed(cold_read, cold_n)
    same_listing(cold_answers)
    figures["cold_read_per_s"] = round(cold_n / cold_s, 1)
    log(f"cold reads (nothing kept): {cold_n / cold_s:,.0f}/s")

    # Payments: Ida pays 0.01 on the first added line, a new Idempotency-Key each.
    n = 0

    def payment_body() -> bytes:
        return json.dumps({"amount": "0.01", "description": "bench"}).encode()

    def new_key() -> str:
        nonlocal n
        n += 1
        return f"bench-{PID}-{n}"

    ours_pay = caller("POST", f"/v1/trustlines/{FIRST_EXTRA}/payment", headers=auth, body=payment_body, key=new_key)
    status, receipt, content_type = ours_pay()  # warm, and the bytes the bare view returns
    body = json.loads(receipt)
    if status != 200 or body["operation"]["write_state"] != "posted":
        fail(f"a payment answered {status} with {receipt[:400]!r}")
    Bare.body, Bare.content_type = receipt, content_type
    base_pay = caller("POST", BARE_PATH, headers={}, body=payment_body)

    def all_posted(answers: list[Any]) -> None:
        for status, raw, _ in answers:
            if status != 200 or json.loads(raw)["operation"]["write_state"] != "posted":
                fail(f"a payment answered {status} with {raw[:400]!r}")

    before = m.SignatureOnBehalf.objects.filter(what="update").count()
    pay = compare("payment", ours_pay, base_pay, payments, rounds, all_posted, False)
    signed = m.SignatureOnBehalf.objects.filter(what="update").count() - before
    if signed != 2 * payments * rounds:
        fail(f"{payments * rounds} payments recorded {signed} signatures on behalf, not two each")
    from foaf.ledger.models import Relationship

    rel = Relationship.objects.get(legacy_trustline__legacy_id=FIRST_EXTRA)
    expected = 100 * 1 + (1 + payments * rounds)  # the imported 1.00 owed, then 0.01 per payment
    if rel.balance != expected:
        fail(f"the line's balance is {rel.balance} cents after the payments, not {expected}")
    figures.update(
        {
            "payment_per_s": pay["ours_per_s"],
            "payment_baseline_per_s": pay["baseline_per_s"],
            "payment_ratio": pay["ratio"],
            "payment_p50_ms": pay["p50_ms"],
            "payment_p99_ms": pay["p99_ms"],
            "payments": payments,
            "rounds": rounds,
        }
    )
    connections.close_all()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, about a minute")
    parser.add_argument("--reads", type=int, help="GET /v1/trustlines per round (2000; quick 1000)")
    parser.add_argument("--payments", type=int, help="payments per round (300; quick 150)")
    parser.add_argument("--rounds", type=int, help="rounds of each side, the best counts (5; quick 3)")
    parser.add_argument("--lines", type=int, default=30, help="trustlines added to Ida's two (30)")
    parser.add_argument("--profile", action="store_true", help="profile the first read round of ours (stderr)")
    args = parser.parse_args()
    reads = args.reads or (1000 if args.quick else 2000)
    payments = args.payments or (150 if args.quick else 300)
    rounds = args.rounds or (3 if args.quick else 5)
    if args.lines < 1:
        fail("--lines must be at least 1 (the payments use the first added line)")
    pg_admin = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

    import psycopg

    scratch = f"foaf_bench_legacy_api_{PID}"
    try:
        with psycopg.connect(pg_admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
    except psycopg.Error as exc:
        fail(f"no PostgreSQL at BENCH_DATABASE_URL ({exc})")
    database_url = f"{pg_admin.rsplit('/', 1)[0]}/{scratch}"
    data_dir = tempfile.mkdtemp(prefix="foaf-bench-legacy-api-")
    figures: dict[str, Any] = {"bench": "legacy_api"}
    try:
        configure(database_url, data_dir)
        dump = Path(data_dir) / "snapshot.sql"
        from foaf.management.commands.load_demo import DEMO_LEGACY_DUMP

        snapshot(dump, Path(DEMO_LEGACY_DUMP), args.lines)
        import_snapshot(dump)
        figures.update(run(reads, payments, rounds, args.lines, args.profile))
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)
    log(f"GET /v1/trustlines ({figures['trustlines']} lines, {figures['response_bytes']:,} bytes): "
        f"{figures['ours_per_s']:,.0f}/s, bare DRF {figures['baseline_per_s']:,.0f}/s: ratio {figures['ratio']}; "
        f"payments {figures['payment_per_s']:,.0f}/s, "
        f"bare DRF POST {figures['payment_baseline_per_s']:,.0f}/s")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
