"""The real services this run was given are the ones the service uses (CI gives all three)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.services import SQLITE_PASS, require


@pytest.mark.django_db
def test_the_configured_database_is_the_one_in_use() -> None:
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres", "pgsql")) else "sqlite"
    assert connection.vendor == expected
    if SQLITE_PASS:
        assert connection.vendor == "sqlite"


@pytest.mark.django_db
def test_postgresql_is_reachable_and_used_when_configured() -> None:
    if SQLITE_PASS:
        pytest.skip("this pass runs on SQLite on purpose")
    require("DATABASE_URL")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


def test_redis_carries_the_broker_the_cache_and_the_channel_layer() -> None:
    url = require("REDIS_URL")
    assert url == settings.CELERY_BROKER_URL
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    from django.core.cache import cache

    cache.set("foaf:test:redis", "yes", timeout=30)
    assert cache.get("foaf:test:redis") == "yes"


def test_the_legacy_source_answers_through_mysqlclient() -> None:
    url = require("LEGACY_DATABASE_URL")
    from migration.legacy_db import connect

    conn = connect(url)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT VERSION()")
        assert cursor.fetchone()[0]
    finally:
        conn.close()
