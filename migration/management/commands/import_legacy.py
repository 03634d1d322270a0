"""``manage.py import_legacy``: import the GrowOperative history into signed bilateral logs.

    import_legacy --source mysql://user:pw@host/db     # a live MySQL/MariaDB (or LEGACY_DATABASE_URL)
    import_legacy --dump growoperative.sql             # a mysqldump file, no server needed
    import_legacy ... --dry-run                        # everything, then roll back: see what it would do

Safe to run again: it imports only what is new or changed, and a run killed at any point (even
with kill -9) finishes on the next run as one clean run would have. Progress goes to stderr; the
summary (rows read, imported and set aside by table, with reasons) to stdout, or as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from django.conf import settings
from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError, CommandParser

from foaf.env import redact_url
from migration.legacy.errors import LegacyError
from migration.legacy.source import DumpSource, LegacySource, MySQLSource
from migration.progress import Progress
from migration.runs import ImportAfterSwitch, ImportAlreadyRunning, import_run


def open_source(source_url: str | None, dump: str | None) -> tuple[LegacySource, str]:
    if source_url and dump:
        raise CommandError("give --source or --dump, not both")
    if dump:
        return DumpSource(dump), f"dump:{dump}"
    url = source_url or settings.LEGACY_DATABASE_URL
    if not url:
        raise CommandError("no legacy source: give --source mysql://..., --dump FILE, or set LEGACY_DATABASE_URL")
    return MySQLSource(url), redact_url(url)


class Command(BaseCommand):
    help = "Import the GrowOperative MySQL history (live or a dump file) into signed bilateral logs."
    # Every system check but the URL configuration's, which the import never serves and which
    # imports every view to check it (a third of a second of each run's start-up).
    requires_system_checks = [tag for name, tag in vars(Tags).items() if not name.startswith("_") and tag != Tags.urls]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="mysql://user:password@host:port/database (default LEGACY_DATABASE_URL)")
        parser.add_argument("--dump", help="a mysqldump file to read instead of a live database")
        parser.add_argument("--dry-run", action="store_true", help="do everything, then roll it all back")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def run_from_argv(self, argv: list[str]) -> None:
        """From the command line: once the command is done (its output written, its database
        connections closed by ``run_from_argv``), the process ends without tearing down an
        interpreter that held the history's batches (a tenth of a second of every run). A failure
        still ends the usual way, with its message and exit status."""
        super().run_from_argv(argv)
        logging.shutdown()  # flushes every log handler
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def handle(self, *args: Any, **options: Any) -> None:
        source, label = open_source(options["source"], options["dump"])
        try:
            with source:
                progress = Progress(sys.stderr)
                summary = import_run(source, label=label, progress=progress, dry_run=options["dry_run"])
        except (ImportAlreadyRunning, ImportAfterSwitch) as exc:
            raise CommandError(f"{exc.code}: {exc}") from exc
        except LegacyError as exc:
            raise CommandError(f"the legacy source could not be read: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(summary, default=str))
            return
        self.stdout.write(render_summary(summary))


def render_summary(summary: dict[str, Any]) -> str:
    lines = ["", f"{'table':<40} {'read':>10} {'imported':>10} {'set aside':>10}  reasons"]
    for table, t in summary["tables"].items():
        if "not_migrated" in t:
            lines.append(f"{table:<40} {t['rows']:>10} {'-':>10} {'-':>10}  not migrated: {t['not_migrated']}")
            continue
        aside = sum(t["set_aside"].values())
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(t["set_aside"].items()))
        lines.append(f"{table:<40} {t['read']:>10} {t['imported']:>10} {aside:>10}  {reasons}")
    lines.append(
        "(dry run: nothing was kept)" if summary.get("dry_run") else f"import run {summary.get('run')} finished"
    )
    return "\n".join(lines)
