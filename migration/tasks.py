"""Celery tasks of the migration app: interfaces that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from migration.api import freshness


@shared_task(name="migration.tasks.compact_view_changes", acks_late=True, reject_on_worker_lost=True)
def compact_view_changes() -> int:
    """Beat: fold each member's recorded view changes into one row (their sums kept), so the check
    every legacy read makes stays one short index scan. A rerun, or two at once, fold nothing twice."""
    return freshness.compact()
