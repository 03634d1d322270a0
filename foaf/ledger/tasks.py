"""Celery tasks of the ledger: interfaces that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from foaf.ledger.services import proposals_expire


@shared_task(name="foaf.ledger.tasks.expire_orphaned_proposals", acks_late=True, reject_on_worker_lost=True)
def expire_orphaned_proposals() -> int:
    """Void proposals past their deadline. A rerun (beat twice, a crashed worker) voids nothing twice."""
    return proposals_expire(now=timezone.now())
