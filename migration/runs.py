"""Running the import: one at a time, recorded, with a summary an operator and a script can read."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from migration import models as m
from migration.importer import LegacyImport
from migration.legacy.source import LegacySource
from migration.progress import Progress

ADVISORY_LOCK_KEY = 0x464F4146  # "FOAF": one import at a time per PostgreSQL database


class ImportAlreadyRunning(Exception):
    code = "IMPORT_ALREADY_RUNNING"


class ImportAfterSwitch(Exception):
    """Since the cut-over's switch this service writes credit, and Rails' rows are stale: an import
    would copy them over what was written here (a pending payment confirmed here reopened, a note
    undone). Refused from the switch until a rollback has handed the writing back to Rails."""

    code = "IMPORT_AFTER_SWITCH"


def refuse_after_switch() -> None:
    """Raise ``ImportAfterSwitch`` while this service is the credit writer (docs/cutover.md): the
    phase is ``switched``, or ``frozen`` on the way back from a switch (a rollback under way)."""
    row = m.CutoverState.objects.filter(pk=1).values_list("phase", "switched_at").first()
    if row is None:
        return
    phase, switched_at = row
    if phase == m.CutoverState.Phase.SWITCHED or (phase == m.CutoverState.Phase.FROZEN and switched_at is not None):
        raise ImportAfterSwitch(
            f"this service writes credit since the switch (phase {phase}): an import would overwrite what was "
            "written here with Rails' stale rows. Roll back first (manage.py cutover rollback; docs/cutover.md)."
        )


class DryRunRollback(Exception):
    """Raised inside a dry run's transaction to undo everything it wrote."""


@contextmanager
def exclusive_import() -> Iterator[None]:
    """Hold the import lock: a PostgreSQL advisory lock, or a file lock beside SQLite. Either is
    released by the operating system or the server when the process dies, even on kill -9."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ImportAlreadyRunning("another import_legacy is running against this database")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        return
    path = os.path.join(settings.DATA_DIR, "import_legacy.lock")
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportAlreadyRunning("another import_legacy is running against this database") from None
        yield


def import_run(source: LegacySource, *, label: str, progress: Progress, dry_run: bool = False) -> dict[str, Any]:
    """Run the import over ``source`` and record it; returns the summary. Refused after the
    cut-over's switch (``refuse_after_switch``), but for a dry run, which keeps nothing."""
    if not dry_run:
        refuse_after_switch()
    with exclusive_import():
        run = None if dry_run else m.ImportRun.objects.create(source=label)
        try:
            if dry_run:
                summary: dict[str, Any] = {}
                try:
                    with transaction.atomic():
                        summary = LegacyImport(source, progress=progress).run()
                        raise DryRunRollback
                except DryRunRollback:
                    pass
                summary["dry_run"] = True
                return summary
            summary = LegacyImport(source, progress=progress).run()
        except Exception as exc:
            if run is not None:
                run.status, run.error, run.finished_at = m.ImportRun.Status.FAILED, repr(exc)[:2000], timezone.now()
                run.save(update_fields=["status", "error", "finished_at"])
            raise
        assert run is not None
        run.status, run.summary, run.finished_at = m.ImportRun.Status.FINISHED, summary, timezone.now()
        run.save(update_fields=["status", "summary", "finished_at"])
        summary["run"] = run.pk
        return summary
