"""Who writes credit: the phase in ``CutoverState``, the moves the operator may make, and each
process's copy of it.

The table below is the whole state machine (h11 style): a move not in it raises
``PhaseTransitionRefused``. Preconditions beside the table: ``shadow`` and ``frozen`` need Rails
(``LEGACY_UPSTREAM_URL``); ``switched`` needs a finished import run that started after the freeze
(the final catch-up), unless the freeze came from ``switched`` (a rollback given up: Rails never
wrote meanwhile); and once switched, leaving ``frozen`` for ``shadow`` (Rails writes again)
needs a complete export that started once that freeze had taken effect (``export_to_legacy``:
nothing written here is lost).

Every request under ``/v1`` that the phase concerns reads it through ``current()``, which keeps
what it read for ``LEGACY_CUTOVER_PHASE_SECONDS``: one query per process per period instead of
one per request. ``manage.py cutover`` therefore waits that long after a move (and, on a freeze,
for a write already forwarded to Rails to finish) before it reports the move done.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from foaf.ledger.models import PendingProposal, StateEntry
from migration import models as m
from migration.cutover.errors import CatchUpMissing, NoUpstream, PhaseTransitionRefused

Phase = m.CutoverState.Phase

# from -> the phases it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Phase.STANDALONE: (Phase.SHADOW,),
    Phase.SHADOW: (Phase.FROZEN,),
    Phase.FROZEN: (Phase.SHADOW, Phase.SWITCHED),
    Phase.SWITCHED: (Phase.FROZEN,),
}
# Who answers credit writes in each phase (docs/cutover.md).
WRITER: dict[str, str] = {
    Phase.STANDALONE: "here",
    Phase.SHADOW: "rails",
    Phase.FROZEN: "nobody",
    Phase.SWITCHED: "here",
}
COMPARED: frozenset[str] = frozenset((Phase.SHADOW, Phase.FROZEN))  # phases whose credit reads are also asked of Rails


class _Kept:
    """This process's copy of the phase and when it was read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: tuple[str, float] | None = None


_kept = _Kept()


def state() -> m.CutoverState:
    """The row, or an unsaved one in ``standalone`` when the operator never moved the phase."""
    row = m.CutoverState.objects.filter(pk=1).first()
    return row if row is not None else m.CutoverState(pk=1)


def current() -> str:
    """The phase, as read at most ``LEGACY_CUTOVER_PHASE_SECONDS`` ago by this process."""
    now = time.monotonic()
    with _kept.lock:
        kept = _kept.value
    if kept is not None and now - kept[1] < settings.LEGACY_CUTOVER_PHASE_SECONDS:
        return kept[0]
    phase = m.CutoverState.objects.filter(pk=1).values_list("phase", flat=True).first() or Phase.STANDALONE
    with _kept.lock:
        _kept.value = (phase, now)
    return phase


def forget() -> None:
    """Drop this process's copy (tests, and the command right after a move)."""
    with _kept.lock:
        _kept.value = None


def move(to: str, *, note: str = "", details: dict[str, Any] | None = None) -> m.CutoverState:
    """Move to phase ``to`` if the table and its preconditions allow it; records a ``CutoverEvent``."""
    if to not in Phase.values:
        raise PhaseTransitionRefused(f"{to!r} is not a phase: {', '.join(Phase.values)}")
    with transaction.atomic():
        m.CutoverState.objects.get_or_create(pk=1)
        row = m.CutoverState.objects.select_for_update().get(pk=1)
        was = row.phase
        if to not in TRANSITIONS[was]:
            allowed = ", ".join(TRANSITIONS[was])
            raise PhaseTransitionRefused(f"the phase is {was}: it may move to {allowed}, not {to}")
        _check(row, to)
        now = timezone.now()
        row.phase, row.changed_at = to, now
        if to == Phase.FROZEN:
            row.frozen_at = now
        elif to == Phase.SWITCHED and row.switched_at is None:
            row.switched_at = now  # kept from a switch whose rollback was given up: the export starts there
        elif to == Phase.SHADOW and was == Phase.FROZEN:
            row.switched_at = None  # a rollback (or an aborted cut-over): Rails writes again
        row.save()
        m.CutoverEvent.objects.create(from_phase=was, to_phase=to, note=note, details=details or {})
    forget()
    return row


def _check(row: m.CutoverState, to: str) -> None:
    if to in (Phase.SHADOW, Phase.FROZEN) and not settings.LEGACY_UPSTREAM_URL:
        raise NoUpstream(f"{to} needs Rails: set LEGACY_UPSTREAM_URL")
    if to == Phase.SWITCHED and row.switched_at is None:
        # (Frozen from switched, a rollback given up before Rails wrote again: Rails has written
        # nothing since the last catch-up, and an import now would put its rows over ours.)
        assert row.frozen_at is not None  # only frozen may switch, and a freeze sets it
        caught_up = m.ImportRun.objects.filter(
            status=m.ImportRun.Status.FINISHED, started_at__gte=row.frozen_at
        ).exists()
        if not caught_up:
            raise CatchUpMissing(
                "no import_legacy run finished that started after the freeze: run the final catch-up first"
            )
    if to == Phase.SHADOW and row.phase == Phase.FROZEN and row.switched_at is not None:
        assert row.frozen_at is not None
        # The export must have started once every process acted on the freeze: one begun earlier
        # (ahead of a rollback, while switched) cannot have seen what was written after it began.
        frozen_everywhere = row.frozen_at + dt.timedelta(seconds=propagation_seconds(Phase.FROZEN))
        if row.exported_at is None or row.exported_at < frozen_everywhere:
            raise PhaseTransitionRefused(
                "credit was written here after the switch: run export_to_legacy (or cutover rollback) "
                "before Rails writes again"
            )
        # While frozen no legacy write is taken, but states still arrive: a member's answer to a
        # proposal made before the freeze, a payment route finishing. Rails must not write again
        # until the export has seen the last of them.
        waiting = PendingProposal.objects.filter(status=PendingProposal.Status.OPEN, created_at__gte=row.switched_at)
        if waiting.exists():
            last = waiting.aggregate(last=Max("deadline"))["last"]
            raise PhaseTransitionRefused(
                f"{waiting.count()} proposals made here since the switch still wait for a member's answer "
                f"(the last is void at {last:%Y-%m-%d %H:%M} UTC): once each is answered or void, export again",
                code="proposals_open",
            )
        later = StateEntry.objects.filter(recorded_at__gt=row.exported_at).count()
        if later:
            raise PhaseTransitionRefused(
                f"{later} states were recorded here after the last export began: run export_to_legacy again",
                code="written_after_export",
            )


def propagation_seconds(to: str) -> float:
    """How long until every process acts on a move to ``to``: their copies expire, and on a freeze
    a write already forwarded to Rails has had its whole timeout to finish."""
    wait = float(settings.LEGACY_CUTOVER_PHASE_SECONDS)
    if to == Phase.FROZEN:
        wait += settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS
    return wait
