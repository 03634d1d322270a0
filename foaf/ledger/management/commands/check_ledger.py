"""``manage.py check_ledger``: re-verify every stored log from its genesis.

For each relationship: every signature, the attestation of an imported genesis (against
``FOAF_OPERATOR_KEYS``), the hash chain, every transition through the core's rules (so balances
stay within the limits the spec allows), and that the head fields agree with the log. Prints one
line per problem and a summary; exits 1 when anything is wrong. Reads only.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from foaf import bilateral as core
from foaf.ledger.models import Relationship
from foaf.ledger.services import log_entries


def relationship_problems(relationship: Relationship, operator_keys: list[str]) -> list[str]:
    try:
        entries = list(log_entries(relationship))
        verified = core.verify_log(entries, operator_keys)
    except core.ProtocolError as exc:
        return [f"log does not verify: {exc.code.value} {exc.detail}".rstrip()]
    head = verified.head
    problems = []
    expected = {
        "head_seq": head.seq,
        "head_hash": head.hash_hex,
        "balance": head.balance,
        "limit_a_to_b": head.limit_a_to_b,
        "limit_b_to_a": head.limit_b_to_a,
        "status": head.status,
        "genesis_complete": verified.genesis_complete,
    }
    for field, value in expected.items():
        if getattr(relationship, field) != value:
            problems.append(f"{field} is {getattr(relationship, field)!r} but the log says {value!r}")
    if head.channel != relationship.channel_id:
        problems.append("the log belongs to another channel")
    return problems


class Command(BaseCommand):
    help = "Re-verify every stored bilateral log (signatures, chain, rules, head) and report problems."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        operator_keys = list(settings.OPERATOR_KEYS)
        report: dict[str, list[str]] = {}
        checked = 0
        for relationship in Relationship.objects.order_by("id").iterator(chunk_size=200):
            checked += 1
            problems = relationship_problems(relationship, operator_keys)
            if problems:
                report[relationship.channel_id] = problems
        if options["json"]:
            self.stdout.write(json.dumps({"checked": checked, "problems": report}, indent=2))
        else:
            for channel, problems in report.items():
                for problem in problems:
                    self.stdout.write(f"{channel}: {problem}")
            self.stdout.write(f"{checked} relationships checked, {len(report)} with problems")
        if report:
            raise CommandError(f"{len(report)} of {checked} relationships have problems")
