"""The legacy import at scale, against MariaDB's own SELECT of the same rows in the same run.

A snapshot made by the legacy snapshot generator (an outside reference, found beside the work
tree as in the tests) is loaded into a scratch MariaDB database; the floor is the time the
``mariadb`` client takes to SELECT every row and column the import reads, output discarded; then
``manage.py import_legacy --source`` runs in its own process into a scratch PostgreSQL database
(every member a key, every trustline an attested genesis, every history row kept), timed, with
its peak memory. ratio = floor / import (target >= 0.1: within 10x of the floor), peak RSS
target <= 2048 MB.

    .venv/bin/python bench/import.py            # --users 20000 --events 2000000
    .venv/bin/python bench/import.py --quick    # --users 5000 --events 400000

The quick size is big enough that neither side is mostly process start-up (Django's, the
client's), which would say little about either.

Needs MariaDB at BENCH_LEGACY_URL (default mysql://root@127.0.0.1:3306) and PostgreSQL at
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). The last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foaf.settings")
import django  # noqa: E402

django.setup()
from migration.importer import COLUMNS_READ  # noqa: E402

READ = COLUMNS_READ  # every row and column the import reads, as the import itself lists them


def generator() -> Path:
    for path in (
        ROOT.parent / "shared" / "legacy" / "generate_snapshot.py",
        Path("/work/shared/legacy/generate_snapshot.py"),
    ):
        if path.is_file():
            return path
    sys.exit("bench/import.py: the snapshot generator (shared/legacy/generate_snapshot.py) is not beside the work tree")


def snapshot(users: int, events: int, seed: int) -> Path:
    """Generate (or reuse from the cache) the dump for these arguments."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "foaf-bench"
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"snapshot-{users}-{events}-{seed}.sql"
    if not out.exists():
        partial = out.with_suffix(".partial")
        subprocess.run([sys.executable, str(generator()), "--users", str(users), "--events", str(events),
                        "--seed", str(seed), "--out", str(partial)], check=True)  # fmt: skip
        partial.rename(out)
    return out


def mariadb(url: str, *args: str, stdin: Any = None, stdout: Any = None) -> None:
    parts = urlsplit(url)
    cmd = [shutil.which("mariadb") or "mysql", "-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306),
           "-u", parts.username or "root"]  # fmt: skip
    if parts.password:
        cmd.append(f"-p{parts.password}")
    subprocess.run([*cmd, *args], stdin=stdin, stdout=stdout, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--users", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    users = args.users or (5_000 if args.quick else 20_000)
    events = args.events or (400_000 if args.quick else 2_000_000)
    legacy = os.environ.get("BENCH_LEGACY_URL", "mysql://root@127.0.0.1:3306")
    pg_admin = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    dump = snapshot(users, events, args.seed)

    legacy_db = f"foaf_bench_legacy_{os.getpid()}"
    target_db = f"foaf_bench_import_{os.getpid()}"
    import psycopg

    mariadb(legacy, "-e", f"CREATE DATABASE {legacy_db} CHARACTER SET utf8mb4")
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target_db}"')
    try:
        with dump.open("rb") as f:
            mariadb(legacy, legacy_db, stdin=f)
        # The floor: MariaDB's own SELECT of every row and column the import reads.
        queries = ";".join(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id" for table, cols in READ.items())
        started = time.perf_counter()
        mariadb(legacy, legacy_db, "--batch", "--quick", "-e", queries, stdout=subprocess.DEVNULL)
        floor_s = time.perf_counter() - started

        env = {**os.environ, "DATABASE_URL": f"{pg_admin.rsplit('/', 1)[0]}/{target_db}",
               "FOAF_DATA_DIR": tempfile.mkdtemp(prefix="foaf-bench-")}  # fmt: skip
        env.pop("LEGACY_DATABASE_URL", None)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        source = f"{legacy.rstrip('/')}/{legacy_db}"
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            run = subprocess.Popen([sys.executable, "manage.py", "import_legacy", "--source", source, "--json"],
                                   cwd=ROOT, env=env, stdout=out, stderr=err, text=True)  # fmt: skip
            # wait4: the import's own peak memory (with its second process), not that of every
            # child this script ran (the snapshot generator needs far more than the import).
            _, status, usage = os.wait4(run.pid, 0)
            run.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            import_s = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if run.returncode != 0:
            sys.exit(f"bench/import.py: import_legacy failed:\n{stderr[-3000:]}")
        peak_rss_mb = usage.ru_maxrss / 1024
        summary = json.loads(stdout.strip().splitlines()[-1])
        rows = sum(summary["tables"][t]["read"] for t in READ)
    finally:
        mariadb(legacy, "-e", f"DROP DATABASE IF EXISTS {legacy_db}")
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target_db}" WITH (FORCE)')
    print(f"import: {import_s:.1f}s for {rows:,} rows; MariaDB SELECT floor: {floor_s:.1f}s", file=sys.stderr)
    print(json.dumps({
        "bench": "import",
        "ratio": round(floor_s / import_s, 3),
        "ours_per_s": round(rows / import_s, 1),
        "baseline_per_s": round(rows / floor_s, 1),
        "import_s": round(import_s, 2),
        "floor_s": round(floor_s, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "rows": rows,
        "users": users,
        "events": events,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
