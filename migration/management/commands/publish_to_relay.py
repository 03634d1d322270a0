"""``manage.py publish_to_relay``: the imported Crawford Bay community on this deployment's relay.

    publish_to_relay          # profiles, relationships and limits, listings; a summary by kind
    publish_to_relay --json   # the summary as one JSON object

Signed with the keys the service holds for members (see migration.publish). Safe to run again:
what the relay already holds is counted as unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migration.publish import publish_imported
from relay.protocol import EventError


class Command(BaseCommand):
    help = "Publish the imported community (profiles, relationships and limits, listings) on the relay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = publish_imported(now=int(time.time()))
        except EventError as exc:  # an imported row the relay refuses: a bug to fix, not to skip
            raise CommandError(f"the relay refused an event: {exc}") from exc
        summary = done.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        for kind, counts in summary.items():
            skipped = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts["skipped"].items()))
            self.stdout.write(
                f"{kind:<24} stored {counts['stored']:>7}  unchanged {counts['unchanged']:>7}"
                + (f"  skipped ({skipped})" if skipped else "")
            )
