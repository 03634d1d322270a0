"""``manage.py reconcile_legacy --report FILE.json``: the imported state against the legacy rows.

    reconcile_legacy --source mysql://... --report report.json   # or LEGACY_DATABASE_URL
    reconcile_legacy --dump growoperative.sql --report report.json

Writes the report (see docs/migration.md for every field) and prints a short verdict. Exits 1
when anything is unexplained, so a script can gate the cut-over on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migration.management.commands.import_legacy import open_source
from migration.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare the imported bilateral state with the legacy rows and write a JSON report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="mysql://user:password@host:port/database (default LEGACY_DATABASE_URL)")
        parser.add_argument("--dump", help="a mysqldump file to compare with instead of a live database")
        parser.add_argument("--report", required=True, help="where to write the JSON report")

    def handle(self, *args: Any, **options: Any) -> None:
        source, _ = open_source(options["source"], options["dump"])
        with source:
            report = reconcile(source)
        Path(options["report"]).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        lines, aside = len(report["trustlines"]), len(report["set_aside"])
        self.stdout.write(
            f"{lines} trustlines reconciled; {len(report['cached_balance_mismatches'])} cached balances differ from "
            f"the history; {len(report['recovered_rows'])} rows recovered; {aside} rows set aside; "
            f"{len(report['unexplained'])} unexplained"
        )
        for problem in report["unexplained"][:20]:
            self.stdout.write(f"  unexplained: {problem}")
        if report["unexplained"]:
            raise CommandError(f"{len(report['unexplained'])} things are unexplained: see {options['report']}")
