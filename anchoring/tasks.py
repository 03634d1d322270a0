"""Celery tasks of anchoring: interfaces that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from anchoring.services import anchors_process
from anchoring.settlement import settlements_advance


@shared_task(name="anchoring.tasks.anchor_pending", acks_late=True, reject_on_worker_lost=True)
def anchor_pending() -> dict[str, int]:
    """Finish unfinished batches, then batch and anchor every pending request. Beat runs it every
    ``FOAF_ANCHOR_INTERVAL_SECONDS``; an urgent request queues it at once. A rerun (beat twice, a
    worker killed between submit and status) finishes what was left and anchors nothing twice."""
    s = anchors_process()
    return {"built": s.built, "committed": s.committed, "unfinished": s.unfinished}


@shared_task(name="anchoring.tasks.advance_settlements", acks_late=True, reject_on_worker_lost=True)
def advance_settlements() -> dict[str, int]:
    """Beat: move every open settlement request on (co-sign the freeze of hosted relationships,
    ask for the final state's anchor, mark it ready once anchored). Idempotent."""
    return settlements_advance()
