"""Fixtures of the legacy-import tests: the snapshot generator (an outside reference) and scratch MariaDB databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import CI, require

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def generator_path() -> Path:
    """shared/legacy/generate_snapshot.py beside the work tree (as on developers' machines and in CI)."""
    candidates = [Path(os.environ["LEGACY_GENERATOR"])] if os.environ.get("LEGACY_GENERATOR") else []
    candidates += [
        ROOT.parent / "shared" / "legacy" / "generate_snapshot.py",
        Path("/work/shared/legacy/generate_snapshot.py"),
    ]
    for path in candidates:
        if path.is_file():
            return path
    reason = "the snapshot generator (shared/legacy/generate_snapshot.py) is not beside the work tree"
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


Snapshot = Callable[..., tuple[Path, Path]]


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """Write (once per argument set) a generated dump and its truth file; returns their paths."""
    made: dict[tuple[str, ...], tuple[Path, Path]] = {}

    def make(*args: str) -> tuple[Path, Path]:
        if args not in made:
            out = tmp_path_factory.mktemp("snapshot")
            sql, truth = out / "snapshot.sql", out / "truth.json"
            subprocess.run(
                [sys.executable, str(generator_path()), *args, "--out", str(sql), "--truth", str(truth)],
                check=True,
                timeout=600,
            )
            made[args] = (sql, truth)
        return made[args]

    return make


def _cli_args(url: str) -> list[str]:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306), "-u", parts.username or "root"]
    if parts.password:
        args.append(f"-p{parts.password}")
    return args


def mariadb_client() -> str:
    for name in ("mariadb", "mysql"):
        found = shutil.which(name)
        if found:
            return found
    reason = "the mariadb command-line client is needed to load dumps"
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


LoadDump = Callable[[Path], str]


@pytest.fixture
def load_dump() -> Iterator[LoadDump]:
    """Load a dump into a fresh database on the legacy server; returns its URL. Dropped afterwards."""
    server = require("LEGACY_DATABASE_URL")
    client = mariadb_client()
    created: list[str] = []

    def load(path: Path) -> str:
        name = f"foaf_test_legacy_{os.getpid()}_{len(created)}"
        base = [client, *_cli_args(server)]
        subprocess.run(
            [*base, "-e", f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"],
            check=True,
            timeout=60,
        )
        created.append(name)
        with open(path, "rb") as f:
            subprocess.run([*base, name], stdin=f, check=True, timeout=600)
        parts = urlsplit(server)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))

    yield load
    for name in created:
        subprocess.run([client, *_cli_args(server), "-e", f"DROP DATABASE IF EXISTS {name}"], check=False, timeout=60)


def dump_database(url: str, out: Path) -> Path:
    """A real mariadb-dump/mysqldump of a database (skips when the tool is missing)."""
    tool = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    if tool is None:
        reason = "mariadb-dump/mysqldump is needed"
        if CI:
            pytest.fail(reason)
        pytest.skip(reason)
    parts = urlsplit(url)
    with open(out, "wb") as f:
        subprocess.run([tool, *_cli_args(url), parts.path.lstrip("/")], stdout=f, check=True, timeout=600)
    return out
