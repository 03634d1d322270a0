"""The ``radix`` anchoring backend: each batch root in the message of a Babylon transaction,
submitted and followed through a Gateway (docs/anchoring.md, "The radix backend").

Its three calls (``anchoring.backends``):

- ``intent``: read the current epoch (``/transaction/construction``), build, sign and notarize the
  transaction, and store it (payload included) as a ``RadixTransaction`` row; the intent hash is
  returned, and the caller records it on the batch, both before anything is submitted.
- ``submit``: POST the stored payload to ``/transaction/submit``. Resubmitting it is harmless (the
  Gateway answers ``duplicate``, and an intent commits at most once). A 400 (the Gateway refuses
  it) marks the row ``refused``: it is not resubmitted, and waits to be known dead (below).
- ``status``: POST ``/transaction/status``, polling with backoff for up to
  ``ANCHOR_RADIX_POLL_SECONDS``. ``CommittedSuccess`` is committed (the fee read from
  ``/transaction/committed-details``). The transaction is dead, so a new intent may be made, only
  when it can never commit: ``CommittedFailure`` (it committed; an intent commits once),
  ``PermanentlyRejected`` (expiry included), or the Gateway's ledger at or past its end epoch
  without having committed it. Anything else stays pending: a root is never posted twice while a
  transaction carrying it may still commit.

Timeouts and 5xx are retried a few times at once, then ``BackendUnavailable``; the row keeps a
count and a ``next_check_at`` that doubles up to ``ANCHOR_RADIX_MAX_BACKOFF_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from anchoring.backends import BackendUnavailable, Outcome, Status
from anchoring.models import RadixTransaction
from anchoring.radix import (
    NETWORKS,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
    RadixKey,
    build_anchor_transaction,
)

logger = logging.getLogger(__name__)
T = RadixTransaction.Status

# intent_status values (and, for an older Gateway, the legacy status they map to).
COMMITTED_SUCCESS = "CommittedSuccess"
COMMITTED_FAILURE = "CommittedFailure"
PERMANENTLY_REJECTED = "PermanentlyRejected"
UNKNOWN = "Unknown"
_LEGACY = {"Rejected": PERMANENTLY_REJECTED}
# Not committed as far as the Gateway's ledger knows: dead once that ledger is past the end epoch.
# (CommitPendingOutcomeUnknown is committed already, so it is not here.)
_NOT_COMMITTED = {UNKNOWN, "Pending", "LikelyButNotCertainRejection"}


def load_key(network_id: int) -> RadixKey:
    """The notary and fee payer's key, from FOAF_ANCHOR_RADIX_KEY or the sealed key file."""
    seed = settings.ANCHOR_RADIX_KEY
    if seed is None and settings.ANCHOR_RADIX_SEALED_KEY_FILE:
        from foaf.ledger.keys import unseal_secret

        path = Path(settings.ANCHOR_RADIX_SEALED_KEY_FILE)
        try:
            kek, sealed = path.read_text().strip().split(":", 1)
            seed = unseal_secret(bytes.fromhex(sealed), sealed_under=kek)
        except (OSError, ValueError) as e:
            raise ImproperlyConfigured(f"FOAF_ANCHOR_RADIX_SEALED_KEY_FILE: cannot unseal {path}: {e}") from None
        except Exception as e:  # a KEK mismatch, a forged box: never echo what the file holds
            raise ImproperlyConfigured(
                f"FOAF_ANCHOR_RADIX_SEALED_KEY_FILE: {path} does not unseal ({type(e).__name__})"
            ) from None
    if seed is None:
        raise ImproperlyConfigured("the radix backend needs FOAF_ANCHOR_RADIX_KEY or FOAF_ANCHOR_RADIX_SEALED_KEY_FILE")
    return RadixKey(seed, network_id)


class RadixBackend:
    name = "radix"

    def __init__(self, *, client: GatewayClient | None = None, key: RadixKey | None = None) -> None:
        self.network_id = NETWORKS[settings.ANCHOR_RADIX_NETWORK]
        self.client = client or GatewayClient(
            settings.ANCHOR_RADIX_GATEWAY_URL, timeout=settings.ANCHOR_RADIX_TIMEOUT_SECONDS, attempts=3
        )
        self._key = key

    @property
    def key(self) -> RadixKey:
        if self._key is None:
            self._key = load_key(self.network_id)
        return self._key

    # --- the interface ---------------------------------------------------------------------------

    def intent(self, batch: str, root: str) -> str:
        try:
            epoch = self.client.current_epoch()
        except (GatewayUnavailable, GatewayError) as e:
            raise BackendUnavailable(f"radix: cannot read the current epoch: {e}") from None
        built = build_anchor_transaction(
            self.key,
            bytes.fromhex(root),
            epoch=epoch,
            window=settings.ANCHOR_RADIX_EPOCH_WINDOW,
            fee_lock=settings.ANCHOR_RADIX_FEE_LOCK,
        )
        RadixTransaction.objects.create(
            batch_label=batch,
            root=root,
            intent_hash=built.intent_hash,
            network_id=self.network_id,
            start_epoch=built.start_epoch,
            end_epoch=built.end_epoch,
            payload_hex=built.payload.hex(),
        )
        logger.info(
            "radix transaction built",
            extra={"batch": batch, "intent": built.intent_hash, "epochs": [built.start_epoch, built.end_epoch]},
        )
        return built.intent_hash

    def submit(self, intent: str, root: str) -> None:
        row = RadixTransaction.objects.get(intent_hash=intent)
        if row.root != root:
            raise ValueError(f"{intent} carries another root")
        if row.status not in (T.PREPARED, T.SUBMITTED):
            return  # refused, committed or dead: never sent again
        try:
            duplicate = self.client.submit(bytes.fromhex(row.payload_hex))
        except GatewayUnavailable as e:
            self._gateway_failed(row, e)
            raise BackendUnavailable(f"radix: submitting {intent}: {e}") from None
        except GatewayError as e:
            # Refused by this Gateway (InvalidTransactionError, 400). It is not sent again; it stays
            # unfinished until the Gateway's ledger is past its end epoch, when it is surely dead.
            RadixTransaction.objects.filter(pk=row.pk, status__in=[T.PREPARED, T.SUBMITTED]).update(
                status=T.REFUSED, error=str(e)[:2000], submitted_at=row.submitted_at or timezone.now()
            )
            logger.warning("radix transaction refused at submission", extra={"intent": intent, "error": str(e)})
            return
        RadixTransaction.objects.filter(pk=row.pk, status=T.PREPARED).update(
            status=T.SUBMITTED, submitted_at=timezone.now(), gateway_failures=0, next_check_at=None
        )
        logger.info("radix transaction submitted", extra={"intent": intent, "duplicate": duplicate})

    def status(self, intent: str) -> Status:
        row = RadixTransaction.objects.get(intent_hash=intent)
        done = self._finished(row)
        if done is not None:
            return done
        if row.next_check_at is not None and row.next_check_at > timezone.now():
            return Status(Outcome.PENDING)
        deadline = time.monotonic() + settings.ANCHOR_RADIX_POLL_SECONDS
        delay = 0.25
        while True:
            try:
                answer = self.client.status(intent)
            except (GatewayUnavailable, GatewayError) as e:
                self._gateway_failed(row, e)
                raise BackendUnavailable(f"radix: status of {intent}: {e}") from None
            outcome = self._read(row, answer)
            if outcome is not None:
                return outcome
            if row.status == T.REFUSED or time.monotonic() + delay > deadline:  # a refused one waits for its end
                break
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        row.checks += 1
        backoff = min(settings.ANCHOR_RADIX_MAX_BACKOFF_SECONDS, 2 ** min(row.checks, 20))
        RadixTransaction.objects.filter(pk=row.pk).update(
            checks=row.checks, next_check_at=timezone.now() + timedelta(seconds=backoff)
        )
        return Status(Outcome.PENDING)

    # --- reading the Gateway's answers -----------------------------------------------------------

    def _finished(self, row: RadixTransaction) -> Status | None:
        if row.status == T.COMMITTED:
            return Status(Outcome.COMMITTED, tx_id=row.intent_hash, fee=row.fee_paid)
        if row.status == T.FAILED:
            return Status(Outcome.FAILED, fee=row.fee_paid, detail=row.error, retry=self._may_retry(row))
        return None

    def _read(self, row: RadixTransaction, answer: dict[str, Any]) -> Status | None:
        """The outcome the status answer settles, or None while it stays pending."""
        raw = answer.get("intent_status") or answer.get("status") or UNKNOWN
        intent_status = _LEGACY.get(raw, raw)
        epoch = int(answer.get("ledger_state", {}).get("epoch", -1))
        RadixTransaction.objects.filter(pk=row.pk).update(gateway_status=intent_status, gateway_failures=0)
        if intent_status == COMMITTED_SUCCESS:
            fee, version = self._fee(row.intent_hash)
            RadixTransaction.objects.filter(pk=row.pk).exclude(status=T.COMMITTED).update(
                status=T.COMMITTED, fee_paid=fee, state_version=version, finished_at=timezone.now()
            )
            logger.info("radix transaction committed", extra={"intent": row.intent_hash, "fee_xrd": fee})
            row.refresh_from_db()
            return self._finished(row)
        if intent_status == COMMITTED_FAILURE:
            fee, version = self._fee(row.intent_hash)
            why = answer.get("error_message") or "committed as a failure"
            return self._dead(row, f"CommittedFailure: {why}", fee=fee, state_version=version)
        if intent_status == PERMANENTLY_REJECTED:
            why = answer.get("error_message") or answer.get("intent_status_description") or "permanently rejected"
            return self._dead(row, f"PermanentlyRejected: {why}")
        if intent_status in _NOT_COMMITTED and epoch >= row.end_epoch:
            return self._dead(
                row, f"expired: the Gateway's ledger is at epoch {epoch}, it was valid before {row.end_epoch}"
            )
        if intent_status == UNKNOWN and row.status in (T.PREPARED, T.SUBMITTED):
            # Never arrived (or the Gateway forgot it): the caller submits the same payload again.
            return Status(Outcome.UNKNOWN)
        return None

    def _dead(self, row: RadixTransaction, why: str, *, fee: str = "", state_version: int | None = None) -> Status:
        RadixTransaction.objects.filter(pk=row.pk).exclude(status__in=[T.COMMITTED, T.FAILED]).update(
            status=T.FAILED, error=why[:2000], fee_paid=fee, state_version=state_version, finished_at=timezone.now()
        )
        row.refresh_from_db()
        logger.warning(
            "radix transaction can never commit",
            extra={"intent": row.intent_hash, "batch": row.batch_label, "why": why, "fee_xrd": fee},
        )
        done = self._finished(row)
        assert done is not None
        return done

    def _fee(self, intent: str) -> tuple[str, int | None]:
        """The fee paid and the state version, from committed-details (best effort: the Gateway may
        not have indexed it yet)."""
        try:
            tx = self.client.committed_details(intent).get("transaction", {})
        except (GatewayUnavailable, GatewayError):
            return "", None
        version = tx.get("state_version")
        return str(tx.get("fee_paid", "")), version if isinstance(version, int) else None

    def _may_retry(self, row: RadixTransaction) -> bool:
        """Another intent for this batch's root, unless it already failed the configured number
        of times (counting attempts that reached a Gateway)."""
        tried = RadixTransaction.objects.filter(
            batch_label=row.batch_label, status=T.FAILED, submitted_at__isnull=False
        ).count()
        return tried < settings.ANCHOR_RADIX_MAX_ATTEMPTS

    def _gateway_failed(self, row: RadixTransaction, error: Exception) -> None:
        failures = row.gateway_failures + 1
        backoff = min(settings.ANCHOR_RADIX_MAX_BACKOFF_SECONDS, 5 * 2 ** min(failures, 20))
        RadixTransaction.objects.filter(pk=row.pk).update(
            gateway_failures=failures,
            error=str(error)[:2000],
            next_check_at=timezone.now() + timedelta(seconds=backoff),
        )
        logger.warning(
            "radix gateway unavailable", extra={"intent": row.intent_hash, "failures": failures, "retry_in": backoff}
        )
