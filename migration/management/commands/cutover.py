"""``manage.py cutover``: move the shadow period and the cut-over from phase to phase (docs/cutover.md).

    cutover status                     # the phase, when it moved, the shadow diffs since the final catch-up
    cutover shadow                     # Rails writes credit; reads answered here are compared with Rails'
    cutover freeze                     # nobody writes credit; reads still compared
    cutover switch                     # this service writes credit (after the final catch-up import)
    cutover rollback [--target URL]    # freeze, export_to_legacy, then Rails writes again

Each move waits until every process acts on it (``LEGACY_CUTOVER_PHASE_SECONDS``; a freeze also
lets a write already forwarded to Rails finish) before it says it is done. A refused move exits
non-zero with its code (``phase_transition_refused``, ``no_upstream``, ``catch_up_missing``, ...).
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from migration import models as m
from migration.cutover import phase
from migration.cutover.errors import CutoverError
from migration.cutover.export import export

Phase = m.CutoverState.Phase
ACTIONS = {"shadow": Phase.SHADOW, "freeze": Phase.FROZEN, "switch": Phase.SWITCHED}


class Command(BaseCommand):
    help = "Move the cut-over from Rails between phases: status, shadow, freeze, switch, rollback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "shadow", "freeze", "switch", "rollback"])
        parser.add_argument("--note", default="", help="why, for the record (CutoverEvent)")
        parser.add_argument("--target", help="rollback: the legacy database to export to (default LEGACY_DATABASE_URL)")

    def handle(self, *args: Any, **options: Any) -> None:
        action, note = options["action"], options["note"]
        try:
            if action == "status":
                self._status()
            elif action == "rollback":
                self._rollback(options["target"] or settings.LEGACY_DATABASE_URL, note)
            else:
                self._move(ACTIONS[action], note)
        except CutoverError as exc:
            raise CommandError(str(exc)) from exc

    def _move(self, to: str, note: str, details: dict[str, Any] | None = None) -> None:
        row = phase.move(to, note=note, details=details)
        wait = phase.propagation_seconds(to)
        if wait:
            self.stdout.write(f"waiting {wait:g} s for every process to act on it ...")
            time.sleep(wait)
        self.stdout.write(f"phase: {row.phase} (writer: {phase.WRITER[row.phase]})")

    def _rollback(self, target: str, note: str) -> None:
        row = phase.state()
        if row.phase == Phase.SWITCHED:
            self._move(Phase.FROZEN, note or "rollback")
        elif not (row.phase == Phase.FROZEN and row.switched_at is not None):
            raise CommandError(f"[phase_transition_refused] the phase is {row.phase}: nothing to roll back")
        summary = export(target)
        self.stdout.write("exported: " + json.dumps(summary.as_json()))
        self._move(Phase.SHADOW, note or "rollback", details={"export": summary.as_json()})

    def _status(self) -> None:
        row = phase.state()
        self.stdout.write(f"phase: {row.phase} (writer: {phase.WRITER[row.phase]})")
        for label, value in (("changed", row.changed_at), ("frozen", row.frozen_at), ("switched", row.switched_at),
                             ("exported", row.exported_at)):  # fmt: skip
            if value is not None:
                self.stdout.write(f"{label}: {value.isoformat()}")
        self.stdout.write(f"upstream: {settings.LEGACY_UPSTREAM_URL or '(none: unserved paths are 404)'}")
        diffs = m.ShadowDiff.objects.all()
        since = ""
        if row.frozen_at is not None:
            # After the final catch-up, if one finished: before it, Rails' writes since the last
            # catch-up are mismatches it clears (docs/cutover.md §2, §5).
            catch_up = (
                m.ImportRun.objects.filter(status=m.ImportRun.Status.FINISHED, started_at__gte=row.frozen_at)
                .exclude(finished_at=None)
                .order_by("-finished_at")
                .first()
            )
            if catch_up is not None and catch_up.finished_at is not None:
                diffs = diffs.filter(recorded_at__gte=catch_up.finished_at)
                since = f" since the final catch-up ({catch_up.finished_at.isoformat()})"
            else:
                diffs = diffs.filter(recorded_at__gte=row.frozen_at)
                since = f" since the freeze ({row.frozen_at.isoformat()})"
        counts = dict(diffs.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
        self.stdout.write(f"shadow diffs{since}: " + (json.dumps(counts, sort_keys=True) if counts else "none"))
