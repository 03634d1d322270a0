"""Fixtures of the shadow-period and cut-over tests: the demo community in a scratch MariaDB
database, imported from there as an operator would, and a stand-in Rails answering from it.

The tokens and the legacy API's settings are the legacy API tests' own (imported from their
conftest, so the same keys and secrets hold here).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command

from migration.cutover import phase, shadow
from tests.legacy_api.conftest import (  # noqa: F401 (fixtures shared with the legacy API tests)
    SECRET,
    Tokens,
    imported,
    legacy_settings,
    other_rsa_key,
    rsa_key,
    tokens,
)
from tests.migration.conftest import _cli_args, mariadb_client, snapshot  # noqa: F401 (a fixture)
from tests.services import require
from tests.shadow.rails import StandInRails

ROOT = Path(__file__).resolve().parents[2]
DEMO_DUMP = ROOT / "migration" / "fixtures" / "demo_legacy.sql"


@pytest.fixture
def load_legacy() -> Iterator[Callable[[Path], str]]:
    """Load a dump into a fresh database on the legacy server; returns its URL. Dropped afterwards."""
    server = require("LEGACY_DATABASE_URL")
    base = [mariadb_client(), *_cli_args(server)]
    stem = urlsplit(server).path.strip("/") or "foaf_shadow_legacy"
    created: list[str] = []

    def load(dump: Path) -> str:
        name = f"{stem}_{os.getpid()}_{len(created)}"[:60]
        subprocess.run(
            [*base, "-e", f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"],
            check=True,
            timeout=60,
        )
        created.append(name)
        with open(dump, "rb") as f:
            subprocess.run([*base, name], stdin=f, check=True, timeout=300)
        parts = urlsplit(server)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))

    yield load
    for name in created:
        subprocess.run([*base, "-e", f"DROP DATABASE IF EXISTS {name}"], check=False, timeout=60)


@pytest.fixture
def legacy_db(load_legacy: Callable[[Path], str]) -> str:
    """The demo dump (migration/fixtures/demo_legacy.sql) in a fresh legacy database; its URL."""
    return load_legacy(DEMO_DUMP)


@pytest.fixture
def imported_live(transactional_db: None, legacy_db: str) -> str:
    """The demo community imported from the live MariaDB database (so that a catch-up can follow)."""
    call_command("import_legacy", source=legacy_db, stdout=io.StringIO(), stderr=io.StringIO())
    return legacy_db


@pytest.fixture
def rails(legacy_db: str) -> Iterator[StandInRails]:
    server = StandInRails(legacy_db, SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def upstream(settings: Any, rails: StandInRails) -> Iterator[StandInRails]:
    """Rails configured as the upstream; phase changes seen at once; short timeouts."""
    settings.LEGACY_UPSTREAM_URL = rails.url
    settings.LEGACY_CUTOVER_PHASE_SECONDS = 0
    settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS = 2
    settings.LEGACY_SHADOW_TIMEOUT_SECONDS = 1
    phase.forget()
    yield rails
    assert shadow.pool.wait_idle(10), "shadow comparisons still running"
    phase.forget()
