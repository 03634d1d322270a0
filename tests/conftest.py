"""Test configuration: real services where the product uses them.

Locally, a test that needs PostgreSQL, MariaDB or Redis is skipped when the service is absent.
With ``CI=true`` a missing service is a failure: the run stops at once, naming what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import CI, missing_ci_services

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    if CI:
        missing = missing_ci_services()
        if missing:
            pytest.exit("CI needs real services, and these are missing:\n  " + "\n  ".join(missing), returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(ROOT / "tests" / "bilateral"):
            item.add_marker(pytest.mark.core)


@pytest.fixture
def project_env() -> Iterator[dict[str, str]]:
    """The environment a subprocess of the project (worker, server) should run with."""
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "foaf.settings")
    env["PYTHONPATH"] = str(ROOT)
    yield env


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database this test run uses (the test database, once created)."""
    from django.db import connection

    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{auth}{conf.get('HOST') or '127.0.0.1'}{port}/{conf['NAME']}"


@pytest.fixture
def celery_worker(project_env: dict[str, str]) -> Iterator[object]:
    """A real Celery worker in its own process, on the configured broker and this run's database.

    Use with ``transactional_db`` when tasks touch the database, so that the rows the test writes
    are committed where the worker can see them.
    """
    from tests.workers import WorkerProcess

    project_env["DATABASE_URL"] = database_url_for_subprocess()
    worker = WorkerProcess(project_env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(autouse=True)
def _processes_forget_what_they_kept() -> Iterator[None]:
    """What this process keeps of the database between requests (the cut-over phase, the legacy
    API's kept tokens and answers) must not outlive a test: its rows are rolled back after it."""
    yield
    from migration.api import freshness
    from migration.cutover import phase

    phase.forget()
    freshness.forget()


@pytest.fixture(scope="session", autouse=True)
def _close_the_sync_threads_connections(django_db_setup: object, django_db_blocker: Any) -> Iterator[None]:
    """Consumers and ``database_sync_to_async`` use the database from asgiref's sync thread,
    whose connection nothing closes: close it before the test database is dropped (PostgreSQL
    refuses to drop a database a session is still using)."""
    yield
    import asyncio

    from channels.db import database_sync_to_async
    from django.db import connections

    # From a fresh event loop (as the tests drive consumers), thread-sensitive calls run on
    # asgiref's single sync thread: the one whose connection is left open.
    with django_db_blocker.unblock():
        asyncio.run(database_sync_to_async(connections.close_all)())
