"""``manage.py load_demo``: a small demo community for ``make run``. Safe to run again."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from foaf.ledger.demo import demo_community_load

DEMO_LEGACY_DUMP = Path(__file__).resolve().parents[3] / "migration" / "fixtures" / "demo_legacy.sql"

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "crawford-bay-demo"  # noqa: S105  (a published demo login, never production)


class Command(BaseCommand):
    help = "Load the demo community and the demo operator login (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        operator, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            operator.set_password(DEMO_PASSWORD)
            operator.save()
        state = "created" if created else "kept"
        self.stdout.write(f"demo operator login: {DEMO_USERNAME} / {DEMO_PASSWORD} ({state})")
        members, relationships = demo_community_load()
        self.stdout.write(f"demo community: {members} members, {relationships} relationships (signed bilateral logs)")
        # A tiny GrowOperative database, imported as the migration would (the dump path, no server).
        from migration.legacy.source import DumpSource
        from migration.progress import Progress
        from migration.runs import import_run

        with DumpSource(str(DEMO_LEGACY_DUMP)) as source:
            summary = import_run(source, label="demo legacy dump", progress=Progress(io.StringIO()))
        lines = summary["tables"]["trustlines"]["imported"]
        run = summary["run"]
        self.stdout.write(f"legacy demo import: {lines} trustlines from {DEMO_LEGACY_DUMP.name} (import run {run})")
        # ... and on the relay: profiles, relationships and limits, listings (as publish_to_relay).
        import time

        from migration.publish import publish_imported

        published = publish_imported(now=int(time.time())).as_json()
        stored = sum(kind["stored"] + kind["unchanged"] for kind in published.values())
        self.stdout.write(f"relay: {stored} public events for the imported community")
