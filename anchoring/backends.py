"""Where a batch's root is anchored. A backend is three calls, in this order:

1. ``intent(batch, root)``: the id under which the root will be submitted, computed *before*
   anything is sent (``batch`` is the caller's unique name for this submission). The caller
   records it first, so a worker that dies anywhere after can ask about it again.
2. ``submit(intent, root)``: hand the root over. Idempotent per intent: a second submit of the same
   intent (a rerun after a crash) does not anchor it twice.
3. ``status(intent)``: ``committed`` (with where), ``pending``, ``failed`` or ``unknown`` (never
   submitted, so the caller submits again).

A ``failed`` status says whether the caller may try again under a new intent (``retry``): only
once the old one can never commit. ``BackendUnavailable`` (raised by any call) means "try later".

``local`` (the embedded default) is an append-only hash-chained log in the database. ``radix``
submits a Babylon transaction carrying the root through a Gateway (docs/anchoring.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction

from anchoring.merkle import ZERO_HASH, local_entry_hash
from anchoring.models import LocalLogEntry


class Outcome(enum.StrEnum):
    COMMITTED = "committed"
    PENDING = "pending"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Status:
    outcome: Outcome
    tx_id: str = ""
    fee: str = ""  # what anchoring it cost, in the backend's unit (XRD for radix), when known
    detail: str = ""  # why it failed
    retry: bool = False  # failed, and a new intent may be made for the same root


class BackendUnavailable(Exception):
    """The backend cannot be reached now (timeouts, 5xx): nothing changed, try again later."""


class Backend(Protocol):
    name: str

    def intent(self, batch: str, root: str) -> str: ...

    def submit(self, intent: str, root: str) -> None: ...

    def status(self, intent: str) -> Status: ...


class LocalBackend:
    """Appends each root to ``LocalLogEntry``; an entry is committed as soon as it is stored."""

    name = "local"
    attempts = 5

    def intent(self, batch: str, root: str) -> str:
        return f"local:{batch}:{root}"

    def submit(self, intent: str, root: str) -> None:
        for _ in range(self.attempts):
            try:
                with transaction.atomic():
                    if LocalLogEntry.objects.filter(intent_id=intent).exists():
                        return
                    last = LocalLogEntry.objects.select_for_update().order_by("-seq").first()
                    seq, prev = (0, ZERO_HASH) if last is None else (last.seq + 1, last.entry_hash)
                    LocalLogEntry.objects.create(
                        seq=seq,
                        root=root,
                        prev_hash=prev,
                        entry_hash=local_entry_hash(seq=seq, root=root, prev=prev),
                        intent_id=intent,
                    )
                    return
            except IntegrityError:
                continue  # another process appended at this seq meanwhile: take the new head
        raise RuntimeError(f"could not append {intent} to the local log after {self.attempts} attempts")

    def status(self, intent: str) -> Status:
        entry = LocalLogEntry.objects.filter(intent_id=intent).first()
        if entry is None:
            return Status(Outcome.UNKNOWN)
        return Status(Outcome.COMMITTED, tx_id=f"local:{entry.seq}")


def _radix() -> Backend:
    from anchoring.radix_backend import RadixBackend  # it imports this module

    return RadixBackend()


BACKENDS: dict[str, Callable[[], Backend]] = {"local": LocalBackend, "radix": _radix}


def backend_named(name: str) -> Backend:
    try:
        make = BACKENDS[name]
    except KeyError:
        raise LookupError(f"no anchoring backend {name!r} (have: {', '.join(BACKENDS)})") from None
    return make()


def configured_backend() -> Backend:
    return backend_named(settings.ANCHOR_BACKEND)
