"""``manage.py cohort create|add|open|pause|close|status``: the operator's cohorts (docs/claim.md).

Members are named by party id (``--party``), legacy user id (``--legacy-id``) or legacy user name
(``--user-name``); the last two are looked up through the imported member of each party (a lookup
by name, so this app does not import the migration). Refusals print their stable code and exit 1.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from foaf.custody import services
from foaf.custody.models import Cohort
from foaf.ledger.models import Party

STATUS_OF = {"open": Cohort.Status.OPEN, "pause": Cohort.Status.PAUSED, "close": Cohort.Status.CLOSED}


class Command(BaseCommand):
    help = "Create cohorts, add members, open, pause or close them, and show their progress."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new cohort (draft)")
        create.add_argument("name")
        create.add_argument("--note", default="")
        add = sub.add_parser("add", help="members into a cohort")
        add.add_argument("name")
        add.add_argument("--party", action="append", default=[], help="party id (hex)")
        add.add_argument("--legacy-id", action="append", default=[], type=int, help="legacy user id")
        add.add_argument("--user-name", action="append", default=[], help="legacy user name")
        for verb in STATUS_OF:
            sub.add_parser(verb, help=f"{verb} a cohort").add_argument("name")
        status = sub.add_parser("status", help="progress of one cohort, or of all")
        status.add_argument("name", nargs="?")
        for p in sub.choices.values():
            p.add_argument("--json", action="store_true", help="one JSON object on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = self._run(options)
        except services.CustodyError as e:
            raise CommandError(f"{e.code}: {e.message}") from e
        if options["json"]:
            self.stdout.write(json.dumps(result, sort_keys=True))
        else:
            for row in result.get("cohorts", [result]):
                self.stdout.write(" ".join(f"{k}={v}" for k, v in row.items()))

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        action = options["action"]
        if action == "create":
            cohort = services.cohort_create(name=options["name"], note=options["note"])
            return services.cohort_progress(cohort)
        if action == "status" and not options["name"]:
            return {"cohorts": [services.cohort_progress(c) for c in Cohort.objects.order_by("name")]}
        cohort = services.cohort_get(options["name"])
        if action == "add":
            services.cohort_add(cohort, self._parties(options))
        elif action in STATUS_OF:
            services.cohort_set_status(cohort, STATUS_OF[action], now=timezone.now())
        return services.cohort_progress(cohort)

    def _parties(self, options: dict[str, Any]) -> list[Party]:
        wanted: list[tuple[str, Any]] = [
            *(("party_id", p) for p in options["party"]),
            *(("legacy_member__legacy_id", i) for i in options["legacy_id"]),
            *(("legacy_member__user_name", n) for n in options["user_name"]),
        ]
        if not wanted:
            raise services.CustodyError("invalid_request", "Name members with --party, --legacy-id or --user-name.")
        parties = []
        for field, value in wanted:
            party = Party.objects.filter(**{field: value}).first()
            if party is None:
                raise services.CustodyError(services.UNKNOWN_MEMBER, f"No member with {field.split('__')[-1]} {value}.")
            parties.append(party)
        return parties
