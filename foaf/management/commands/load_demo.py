"""``manage.py load_demo``: a small demo community for ``make run``. Safe to run again."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from foaf.ledger.demo import demo_community_load

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
