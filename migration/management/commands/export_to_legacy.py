"""``manage.py export_to_legacy``: the credit written here since the switch, back into the legacy MySQL.

    export_to_legacy --target mysql://writer:pw@legacy/growoperative   # or LEGACY_DATABASE_URL
    export_to_legacy ... --json

Part of a rollback (docs/cutover.md; ``cutover rollback`` runs it). Exactly once and resumable:
run it again after any failure or kill, and it writes only what is missing
(``migration.cutover.export`` says how). Exits non-zero with the error's code on failure.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from foaf.env import redact_url
from migration.cutover.errors import CutoverError
from migration.cutover.export import export


class Command(BaseCommand):
    help = "Write the credit changes made here since the switch back into the legacy MySQL database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target", help="mysql://user:password@host:port/database (default LEGACY_DATABASE_URL)")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        target = options["target"] or settings.LEGACY_DATABASE_URL
        try:
            summary = export(target)
        except CutoverError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_json()))
            return
        s = summary
        self.stdout.write(
            f"exported to {redact_url(target)}: {s.transactions_inserted} history rows written "
            f"({s.transactions_already} already there), {s.trustlines_inserted} trustlines created, "
            f"{s.trustlines_updated} updated, {s.pending_payments_written} pending payments written, "
            f"{s.revocations_written} logouts listed in jwt_blacklist"
            + (f", {s.narrowed} texts narrowed to latin1" if s.narrowed else "")
        )
