"""Celery tasks of the relay: interfaces that call services, safe to run twice."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from django.conf import settings

from relay.federation import peers_pull
from relay.mailbox import mailbox_purge


@shared_task(name="relay.tasks.federate", acks_late=True, reject_on_worker_lost=True)
def federate(peers: list[str] | None = None) -> list[dict[str, Any]]:
    """Pull the public events of every peer (``FOAF_RELAY_PEERS``, or ``peers``) since their cursors.

    Beat runs it every ``FOAF_RELAY_FEDERATION_INTERVAL_SECONDS``. A rerun (beat twice, a worker
    killed mid-run) stores nothing twice: events are idempotent by id, and a peer held by another
    run is skipped. Returns one summary per peer.
    """
    return [result.as_json() for result in peers_pull(settings.RELAY_PEERS if peers is None else peers)]


@shared_task(name="relay.tasks.purge_mailboxes", acks_late=True, reject_on_worker_lost=True)
def purge_mailboxes() -> dict[str, int]:
    """Delete expired mailbox messages (and acknowledged tombstones) and spent request nonces.

    Beat runs it every ``FOAF_RELAY_MAILBOX_PURGE_INTERVAL_SECONDS``. A rerun deletes nothing twice:
    it only deletes rows past their expiry. Returns how many of each were deleted.
    """
    return mailbox_purge(now=int(time.time()))
