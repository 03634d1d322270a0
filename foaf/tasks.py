"""Project-wide Celery tasks: the ones that are about the service itself, not one app."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from django.core.cache import cache

from foaf.logs import current_request_id

BEAT_HEARTBEAT_KEY = "foaf:beat-heartbeat"


@shared_task(name="foaf.tasks.echo", acks_late=True, reject_on_worker_lost=True)
def echo(payload: Any) -> dict[str, Any]:
    """Return the payload with the request id the worker saw: proves the round trip end to end."""
    return {"payload": payload, "request_id": current_request_id()}


@shared_task(name="foaf.tasks.record_heartbeat", acks_late=True, reject_on_worker_lost=True)
def record_heartbeat() -> float:
    """Record that beat and a worker are alive. Idempotent: it only overwrites a timestamp."""
    now = time.time()
    cache.set(BEAT_HEARTBEAT_KEY, now, timeout=None)
    return now
