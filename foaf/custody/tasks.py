"""Celery tasks of custody: interfaces that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from foaf.custody import recovery


@shared_task(name="foaf.custody.tasks.tell_recoveries", acks_late=True, reject_on_worker_lost=True)
def tell_recoveries() -> int:
    """Beat: tell again the recovery notices and cancels a relay refused or a crash left untold.
    Idempotent: what was told is not deposited twice."""
    return recovery.tell_pending(now=int(timezone.now().timestamp()))
