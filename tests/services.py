"""Which real services this run has, and the rule for a missing one (skip locally, fail in CI)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
# The Makefile's second pass over the database-backed tests runs on SQLite on purpose.
SQLITE_PASS = os.environ.get("FOAF_TEST_PASS") == "sqlite"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


SERVICES = {
    "DATABASE_URL": ("PostgreSQL", 5432),
    "REDIS_URL": ("Redis", 6379),
    "LEGACY_DATABASE_URL": ("MariaDB/MySQL", 3306),
}


def missing_ci_services() -> list[str]:
    missing = []
    for var, (name, port) in SERVICES.items():
        if var == "DATABASE_URL" and SQLITE_PASS:
            continue
        url = os.environ.get(var, "")
        if not url:
            missing.append(f"{name}: {var} is not set")
        elif var == "DATABASE_URL" and not url.startswith(("postgres", "pgsql")):
            missing.append(f"{name}: {var} is not a PostgreSQL URL")
        elif not reachable(url, port):
            missing.append(f"{name}: nothing answers at {var}")
    return missing


def require(var: str) -> str:
    """The URL of a real service, or skip (fail in CI) when it is not configured or not answering."""
    name, port = SERVICES[var]
    url = os.environ.get(var, "")
    if url and reachable(url, port):
        return url
    reason = f"{name} is needed: set {var} to a running server"
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)
