"""Connections to the legacy GrowOperative MySQL/MariaDB database, read-only, through mysqlclient."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def connection_args(url: str) -> dict[str, Any]:
    """mysqlclient keyword arguments for a ``mysql://user:password@host:port/database`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ImproperlyConfigured(f"legacy source {parts.scheme}:// is not a MySQL/MariaDB URL")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured("the legacy source URL names no database (mysql://user@host/DATABASE)")
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": database,
        "charset": "utf8mb4",
        "use_unicode": True,
    }
    if parts.port:
        args["port"] = parts.port
    return args


def connect(url: str, *, connect_timeout: int = 10) -> Any:
    """A new connection to the legacy database; the caller closes it."""
    import MySQLdb

    return MySQLdb.connect(connect_timeout=connect_timeout, **connection_args(url))
