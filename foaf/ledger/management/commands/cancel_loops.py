"""``manage.py cancel_loops``: find credit loops through hosted members and cancel their debt.

Each loop found is started as a payment from a member to itself (docs/routing.md §8), at the
largest amount every hop's debt allows; the hosted members' wallets then settle it like any route
(the worker and beat carry the messages). ``--report`` prints how much debt loops have cancelled so
far instead. Output is a summary, or one JSON object with ``--json``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from foaf.ledger import hosting


class Command(BaseCommand):
    help = "Find credit loops through hosted members and start cancelling them (or --report)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--currency", default="CAD")
        parser.add_argument("--max-len", type=int, default=5, choices=range(3, 6), metavar="3..5")
        parser.add_argument("--limit", type=int, default=100, help="at most this many loops per run")
        parser.add_argument("--report", action="store_true", help="report the debt loops cancelled; start none")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["report"]:
            out: dict[str, Any] = hosting.loops_report()
        else:
            started = hosting.loops_cancel(
                currency=options["currency"], now=int(time.time()), max_len=options["max_len"], limit=options["limit"]
            )
            out = {"started": [s.route_hash for s in started.started], "debt_offered": started.offered}
        if options["json"]:
            self.stdout.write(json.dumps(out, sort_keys=True))
        elif options["report"]:
            cancelled = ", ".join(f"{v} {k}" for k, v in sorted(out["debt_cancelled"].items())) or "nothing"
            self.stdout.write(
                f"loops settled {out['settled']}, cancelled {out['cancelled']}, pending {out['pending']}; "
                f"debt cancelled: {cancelled} (cents, summed over hops)"
            )
        else:
            self.stdout.write(
                f"started {len(out['started'])} loops offering to cancel {out['debt_offered']} cents of debt"
            )
