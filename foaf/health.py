"""Liveness (``/healthz``) and readiness (``/readyz``) probes.

``/healthz`` says only that the process answers. ``/readyz`` checks each dependency by name
(database, broker, channel layer, legacy source) with a short timeout and answers 503 when any
configured one is down; an unconfigured optional dependency is reported as ``not_configured``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from foaf.env import redact_url

CHECK_TIMEOUT_S = 3


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    from foaf.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        return str(conn.transport_cls)


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        name = await layer.new_channel()
        await layer.send(name, {"type": "readyz.ping"})
        message = await asyncio.wait_for(layer.receive(name), CHECK_TIMEOUT_S)
        if message.get("type") != "readyz.ping":
            raise RuntimeError("the channel layer returned another message")

    async_to_sync(round_trip)()
    return type(layer).__name__


def check_legacy_source() -> str | None:
    if not settings.LEGACY_DATABASE_URL:
        return None
    from migration.legacy_db import connect

    conn = connect(settings.LEGACY_DATABASE_URL, connect_timeout=int(CHECK_TIMEOUT_S))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchone()
    finally:
        conn.close()
    return redact_url(settings.LEGACY_DATABASE_URL)


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "broker": check_broker,
    "channel_layer": check_channel_layer,
    "legacy_source": check_legacy_source,
}


def run_checks() -> tuple[bool, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, Any]] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # a probe reports every failure; it never raises
            ready = False
            results[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            status = "ok" if detail is not None else "not_configured"
            results[name] = {"status": status, "detail": detail}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return ready, results


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(responses=inline_serializer("Health", {"status": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        responses={
            200: inline_serializer("Ready", {"status": serializers.CharField(), "checks": serializers.DictField()}),
            503: inline_serializer("NotReady", {"status": serializers.CharField(), "checks": serializers.DictField()}),
        }
    )
    def get(self, request: Request) -> Response:
        ready, results = run_checks()
        return Response({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)
