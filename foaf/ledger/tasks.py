"""Celery tasks of the ledger: interfaces that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from foaf.ledger import hosting, mailbox
from foaf.ledger.services import proposals_expire


@shared_task(name="foaf.ledger.tasks.expire_orphaned_proposals", acks_late=True, reject_on_worker_lost=True)
def expire_orphaned_proposals() -> int:
    """Void proposals past their deadline. A rerun (beat twice, a crashed worker) voids nothing twice."""
    return proposals_expire(now=timezone.now())


@shared_task(name="foaf.ledger.tasks.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_id: int) -> str:
    """Deliver one routing message (queued after the step that produced it commits). A rerun finds
    it delivered and does nothing; a failure leaves it for ``deliver_due`` with backoff."""
    return hosting.delivery_run(delivery_id, now=int(timezone.now().timestamp()))


@shared_task(name="foaf.ledger.tasks.deliver_due", acks_late=True, reject_on_worker_lost=True)
def deliver_due() -> int:
    """Beat: deliver what is due (lost queue messages, retries after backoff). Idempotent."""
    now = int(timezone.now().timestamp())
    ids = hosting.deliveries_due(now=now)
    for pk in ids:
        hosting.delivery_run(pk, now=now)
    return len(ids)


@shared_task(name="foaf.ledger.tasks.tick_routes", acks_late=True, reject_on_worker_lost=True)
def tick_routes() -> int:
    """Beat: run the clocks of hosted members' pending routes (re-offers, releases, cancels past
    expiry, giving up). A rerun at the same time finds nothing more to do."""
    return hosting.wallets_tick(now=int(timezone.now().timestamp()))


@shared_task(name="foaf.ledger.tasks.collect_mailboxes", acks_late=True, reject_on_worker_lost=True)
def collect_mailboxes() -> dict[str, int]:
    """Beat: hand what members holding their own keys sent to hosted members (their relay
    mailboxes) to the hosted wallets. A rerun finds the mailboxes acknowledged."""
    done = mailbox.mailboxes_collect(now=int(timezone.now().timestamp()))
    return {"handed": done.handed, "dropped": done.dropped}
