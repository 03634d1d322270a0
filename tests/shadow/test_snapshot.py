"""The shadow diff log on an imported snapshot (shared/legacy/generate_snapshot.py, small): every
member's ``GET /v1/trustlines`` is compared with a stand-in Rails answering from the same MariaDB
database, and the log holds a difference exactly where the two must differ: lines whose cached
``current_balance`` (what Rails shows) disagrees with the history (what was imported), and active
lines the import set aside (Rails lists them, this service has none)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from migration import models as m
from migration.cutover import phase, shadow
from migration.legacy.source import MySQLSource
from migration.reconcile import reconcile
from tests.legacy_api.conftest import SECRET, Tokens, bearer
from tests.shadow.rails import StandInRails

pytestmark = pytest.mark.services
LINE_IN_PATH = re.compile(r"^\$\[id=(\d+)\]")


def test_every_difference_on_an_imported_snapshot_is_recorded_and_nothing_else(
    snapshot: Callable[..., tuple[Path, Path]],
    load_legacy: Callable[[Path], str],
    transactional_db: None,
    settings: Any,
    tokens: Tokens,
) -> None:
    dump, _ = snapshot("--users", "150", "--events", "8000", "--seed", "11")
    url = load_legacy(dump)
    call_command("import_legacy", source=url, stdout=io.StringIO(), stderr=io.StringIO())
    with MySQLSource(url) as source:
        report = reconcile(source)
    assert report["unexplained"] == []
    set_aside_lines = {e["id"] for e in report["set_aside"] if e["table"] == "trustlines"}

    rails = StandInRails(url, SECRET).start()
    try:
        settings.LEGACY_UPSTREAM_URL = rails.url
        settings.LEGACY_CUTOVER_PHASE_SECONDS = 0
        settings.LEGACY_SHADOW_TIMEOUT_SECONDS = 10
        phase.forget()
        phase.move(m.CutoverState.Phase.SHADOW)
        members = m.Member.objects.filter(deleted_at__isnull=True, disabled_at__isnull=True)
        api = Client()
        for member in members:
            answer = api.get("/v1/trustlines", headers=bearer(tokens.hs256({"legacy_uid": member.legacy_id})))
            assert answer.status_code == 200
        assert shadow.pool.wait_idle(60)
    finally:
        rails.stop()
        phase.forget()

    # What must differ, by member: their active lines whose cached balance is not the history's,
    # and their active lines that were not imported.
    must: dict[int, set[int]] = {}
    with MySQLSource(url) as source:
        for row in source.rows("trustlines", ["id", "user_a_id", "user_b_id", "is_active"]):
            differs = row["id"] in report["cached_balance_mismatches"] or row["id"] in set_aside_lines
            if row["is_active"] and differs:
                for member_id in (row["user_a_id"], row["user_b_id"]):
                    must.setdefault(member_id, set()).add(row["id"])
    live = set(members.values_list("legacy_id", flat=True))
    must = {k: v for k, v in must.items() if k in live}
    assert must, "the snapshot should carry cached-balance quirks"

    found: dict[int, set[int]] = {}
    for diff in m.ShadowDiff.objects.all():
        assert diff.kind == "mismatch" and diff.route == "trustlines", (diff.kind, diff.detail)
        assert diff.member_legacy_id is not None
        lines = {int(LINE_IN_PATH.match(d["path"]).group(1)) for d in diff.differences}  # type: ignore[union-attr]
        found[diff.member_legacy_id] = lines
    assert found == must
