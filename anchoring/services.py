"""Anchoring's write paths and reads: requests, batches, submission, proofs.

A batch moves pending -> submitted -> committed (or failed). Each step is its own transaction and
each is safe to repeat, so a worker killed anywhere leaves a state the next run finishes:
- built but not submitted: the intent is recorded (or recorded now), then submitted;
- submitted, status never read: the backend is asked about the recorded intent; ``unknown``
  (the submission never arrived) submits again under the same intent, which the backend dedups;
- failed with ``retry`` (radix: the transaction can never commit): the batch goes back to pending
  without an intent, and the next run makes a new one for the same root;
- the backend unavailable (``BackendUnavailable``): nothing changes, the next run tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from anchoring.backends import Backend, BackendUnavailable, Outcome, configured_backend
from anchoring.merkle import Leaf, Tree
from anchoring.models import AnchorBatch, AnchorRequest, Inclusion
from foaf.errors import ApiError, ErrorCode
from foaf.ledger.models import Party, Relationship, StateEntry

logger = logging.getLogger(__name__)


def anchor_request_create(
    *, party: Party, relationship: Relationship, seq: int, urgent: bool = False
) -> tuple[AnchorRequest, bool]:
    """Ask for state `seq` of `relationship` to be anchored for `party` (one of its two parties).

    Idempotent: asking again for the same state returns the first request (``created`` False),
    made urgent if this call is. An urgent request queues a batch run once the transaction commits.
    """
    if party.pk not in (relationship.party_a_id, relationship.party_b_id):
        raise ApiError(
            ErrorCode.ANCHOR_NOT_A_PARTY, "only a party of the relationship may anchor its states", http_status=403
        )
    entry = StateEntry.objects.filter(relationship=relationship, seq=seq).only("state_hash").first()
    if entry is None:
        raise ApiError(
            ErrorCode.ANCHOR_UNKNOWN_STATE,
            f"relationship {relationship.channel_id} has no stored state {seq}",
            http_status=404,
            details={"channel": relationship.channel_id, "seq": seq},
        )
    with transaction.atomic():
        request, created = AnchorRequest.objects.get_or_create(
            party=party,
            relationship=relationship,
            seq=seq,
            defaults={"state_hash": entry.state_hash, "urgent": urgent},
        )
        if urgent and not request.urgent:
            AnchorRequest.objects.filter(pk=request.pk).update(urgent=True)
            request.urgent = True
        if urgent and request.status == AnchorRequest.Status.PENDING:
            from anchoring.tasks import anchor_pending

            transaction.on_commit(anchor_pending.delay)
    return request, created


class _Raced(Exception):
    """Another worker claimed some of the rows this one read."""


def batch_build(*, backend_name: str, max_leaves: int, attempts: int = 5) -> AnchorBatch | None:
    """Claim up to `max_leaves` pending requests, oldest first, into one tree; None if none wait.

    The claim is a conditional update: if another worker took one of these rows meanwhile, the
    transaction is rolled back and this one tries again with what is left.
    """
    for _ in range(attempts):
        try:
            return _batch_build(backend_name, max_leaves)
        except _Raced:
            continue
    return None


@transaction.atomic
def _batch_build(backend_name: str, max_leaves: int) -> AnchorBatch | None:
    rows = list(
        AnchorRequest.objects.filter(status=AnchorRequest.Status.PENDING)
        .select_related("relationship")
        .order_by("id")[:max_leaves]
    )
    if not rows:
        return None
    leaves = [Leaf(channel=r.relationship.channel_id, seq=r.seq, state_hash=r.state_hash) for r in rows]
    tree = Tree.of_leaves(leaves)
    claimed = AnchorRequest.objects.filter(pk__in=[r.pk for r in rows], status=AnchorRequest.Status.PENDING).update(
        status=AnchorRequest.Status.BATCHED
    )
    if claimed != len(rows):
        raise _Raced
    batch = AnchorBatch.objects.create(root=tree.root.hex(), leaf_count=len(rows), backend=backend_name)
    Inclusion.objects.bulk_create(
        [Inclusion(request=r, batch=batch, index=i) for i, r in enumerate(rows)], batch_size=5000
    )
    return batch


def batch_advance(batch: AnchorBatch, backend: Backend) -> str:
    """Take `batch` one or more steps towards committed; return its status. Safe to repeat."""
    if batch.status in (AnchorBatch.Status.COMMITTED, AnchorBatch.Status.FAILED):
        return batch.status
    if batch.intent_id is None:
        AnchorBatch.objects.filter(pk=batch.pk, intent_id__isnull=True).update(
            intent_id=backend.intent(f"batch-{batch.pk}", batch.root)
        )
        batch.refresh_from_db()
    intent = batch.intent_id
    assert intent is not None
    status = backend.status(intent)
    if status.outcome is Outcome.UNKNOWN:
        backend.submit(intent, batch.root)
        AnchorBatch.objects.filter(pk=batch.pk, status=AnchorBatch.Status.PENDING).update(
            status=AnchorBatch.Status.SUBMITTED, submitted_at=timezone.now()
        )
        status = backend.status(intent)
    if status.outcome is Outcome.COMMITTED:
        with transaction.atomic():
            AnchorBatch.objects.filter(pk=batch.pk).exclude(status=AnchorBatch.Status.COMMITTED).update(
                status=AnchorBatch.Status.COMMITTED, tx_id=status.tx_id, committed_at=timezone.now()
            )
            AnchorRequest.objects.filter(inclusion__batch=batch).update(status=AnchorRequest.Status.ANCHORED)
        logger.info("batch anchored", extra={"batch": batch.pk, "tx": status.tx_id, "fee": status.fee})
    elif status.outcome is Outcome.FAILED and status.retry:
        # The intent can never commit: forget it on the batch (the backend keeps its record), so
        # that the next run makes a new one for the same root.
        AnchorBatch.objects.filter(pk=batch.pk, intent_id=intent).update(
            status=AnchorBatch.Status.PENDING, intent_id=None, submitted_at=None
        )
        logger.warning("batch attempt failed, a new one follows", extra={"batch": batch.pk, "why": status.detail})
    elif status.outcome is Outcome.FAILED:
        with transaction.atomic():
            AnchorBatch.objects.filter(pk=batch.pk).update(status=AnchorBatch.Status.FAILED)
            AnchorRequest.objects.filter(inclusion__batch=batch).update(status=AnchorRequest.Status.FAILED)
        logger.error("batch failed", extra={"batch": batch.pk, "why": status.detail})
    batch.refresh_from_db()
    return batch.status


@dataclass(frozen=True)
class RunSummary:
    built: int
    committed: int
    unfinished: int


def anchors_process(*, backend: Backend | None = None, max_leaves: int | None = None) -> RunSummary:
    """One run of the batching task: finish batches left unfinished, then batch what waits."""
    backend = backend or configured_backend()
    max_leaves = max_leaves or settings.ANCHOR_MAX_BATCH_LEAVES
    built = committed = 0
    open_batches = list(
        AnchorBatch.objects.filter(
            backend=backend.name, status__in=[AnchorBatch.Status.PENDING, AnchorBatch.Status.SUBMITTED]
        ).order_by("id")
    )
    while True:
        batch = batch_build(backend_name=backend.name, max_leaves=max_leaves)
        if batch is None:
            break
        built += 1
        open_batches.append(batch)
    unfinished = 0
    for i, batch in enumerate(open_batches):
        try:
            status = batch_advance(batch, backend)
        except BackendUnavailable as e:
            # The others would wait on the same backend: leave them all to the next run.
            logger.warning("anchoring backend unavailable", extra={"backend": backend.name, "error": str(e)})
            unfinished += len(open_batches) - i
            break
        committed += status == AnchorBatch.Status.COMMITTED
        unfinished += status in (AnchorBatch.Status.PENDING, AnchorBatch.Status.SUBMITTED)
    if built or committed:
        logger.info("anchoring run", extra={"built": built, "committed": committed, "unfinished": unfinished})
    return RunSummary(built=built, committed=committed, unfinished=unfinished)


def proof_for(request: AnchorRequest) -> dict[str, Any]:
    """The proof JSON (docs/spec/anchoring.md §4) of an anchored request, with its anchor."""
    if request.status != AnchorRequest.Status.ANCHORED:
        raise ApiError(
            ErrorCode.ANCHOR_NOT_READY,
            f"the request is {request.status}: a proof exists once its batch is committed",
            http_status=409,
            details={"status": request.status},
        )
    inclusion = Inclusion.objects.select_related("batch").get(request=request)
    batch = inclusion.batch
    rows = (
        Inclusion.objects.filter(batch=batch)
        .order_by("index")
        .values_list("request__relationship__channel_id", "request__seq", "request__state_hash")
    )
    leaves = [Leaf(channel=c, seq=s, state_hash=h) for c, s, h in rows]
    tree = Tree.of_leaves(leaves)
    if tree.root.hex() != batch.root:
        raise RuntimeError(f"batch {batch.pk}: its stored leaves no longer give its root")
    proof = tree.proof(inclusion.index, leaves[inclusion.index])
    proof["anchor"] = anchor_of(batch)
    return proof


def anchor_of(batch: AnchorBatch) -> dict[str, Any]:
    if batch.backend == "local":
        from anchoring.models import LocalLogEntry

        entry = LocalLogEntry.objects.get(intent_id=batch.intent_id)
        return {"backend": "local", "entry": entry.seq, "entry_hash": entry.entry_hash}
    if batch.backend == "radix":
        from anchoring.models import RadixTransaction

        tx = RadixTransaction.objects.get(intent_hash=batch.intent_id)
        return {"backend": "radix", "network_id": tx.network_id, "intent_hash": tx.intent_hash}
    return {"backend": batch.backend, "intent": batch.intent_id, "tx": batch.tx_id}
