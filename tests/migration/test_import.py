"""The legacy import end to end: generated snapshots in, bilateral logs out, reconciled to the cent.

The snapshot generator and its truth file (shared/legacy) are the outside reference: the import
must conclude exactly what the truth says, from the dump file and from a live MariaDB alike, and
again after a kill -9, a second run, and a catch-up with the rows Rails added meanwhile.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from foaf import bilateral as core
from foaf.ledger.models import Relationship, StateEntry
from foaf.ledger.services import log_entries
from migration import models as m
from migration.importer import HISTORY_INDEX, HISTORY_SHARES, LegacyImport, history_checkpoints
from migration.legacy.source import DumpSource, MySQLSource
from migration.progress import Progress
from migration.reconcile import reconcile
from migration.runs import import_run
from tests.conftest import ROOT, database_url_for_subprocess
from tests.migration.conftest import LoadDump, Snapshot

SMALL = ("--users", "80", "--events", "4000", "--seed", "11")


def run_import(source: Any) -> dict[str, Any]:
    with source:
        return import_run(source, label="test", progress=Progress(io.StringIO()))


def report_of(source: Any) -> dict[str, Any]:
    with source:
        return reconcile(source)


def assert_matches_truth(report: dict[str, Any], truth: dict[str, Any]) -> None:
    expected = {
        tid: {
            "balance_cents": t["balance_cents"],
            "credit_limit_a_to_b_cents": t["credit_limit_a_to_b_cents"],
            "credit_limit_b_to_a_cents": t["credit_limit_b_to_a_cents"],
            "is_active": t["is_active"],
            "history_rows": t["transactions"],
        }
        for tid, t in truth["trustlines"].items()
    }
    assert report["trustlines"] == expected
    drift = sorted(
        int(tid) for tid, t in truth["trustlines"].items() if t["cached_balance_cents"] != t["balance_cents"]
    )
    assert report["cached_balance_mismatches"] == drift
    assert len(report["recovered_rows"]) == truth["quirks"].get("null_balance_after", 0)
    assert report["demo_user_ids"] == sorted(truth["demo_user_ids"])
    assert report["unexplained"] == []


@pytest.mark.django_db
def test_a_dump_import_reconciles_exactly_with_the_generators_truth(snapshot: Snapshot) -> None:
    sql, truth = snapshot(*SMALL)
    summary = run_import(DumpSource(str(sql)))
    assert (
        summary["tables"]["trustline_transactions"]["imported"]
        == json.loads(truth.read_text())["counts"]["trustline_transactions"]
    )
    assert_matches_truth(report_of(DumpSource(str(sql))), json.loads(truth.read_text()))


@pytest.mark.django_db
def test_every_imported_log_verifies_and_its_history_reproduces_every_balance(snapshot: Snapshot, settings) -> None:  # type: ignore[no-untyped-def]
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    for relationship in Relationship.objects.all():
        verified = core.verify_log(list(log_entries(relationship)), settings.OPERATOR_KEYS)
        assert verified.genesis_complete is False  # no member has countersigned: consent was never recorded
    for line in m.Trustline.objects.all()[:50]:
        balance = 0
        for row in m.HistoryRow.objects.filter(trustline=line).order_by("legacy_id"):
            balance += row.delta
            if row.balance_after is not None:
                assert balance == row.balance_after
        assert balance == line.relationship.balance


@pytest.mark.django_db
def test_a_second_import_imports_nothing_twice(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    before = report_of(DumpSource(str(sql)))
    counts = (StateEntry.objects.count(), m.HistoryRow.objects.count(), m.Member.objects.count())
    summary = run_import(DumpSource(str(sql)))
    assert all(t.get("created", 0) == 0 and t.get("updated", 0) == 0 for t in summary["tables"].values())
    assert (StateEntry.objects.count(), m.HistoryRow.objects.count(), m.Member.objects.count()) == counts
    assert report_of(DumpSource(str(sql))) == before


@pytest.mark.django_db
def test_a_live_import_concludes_what_the_dump_import_concludes(snapshot: Snapshot, load_dump: LoadDump) -> None:
    sql, truth = snapshot(*SMALL)
    url = load_dump(sql)
    run_import(MySQLSource(url))
    live = report_of(MySQLSource(url))
    assert_matches_truth(live, json.loads(truth.read_text()))
    assert report_of(DumpSource(str(sql))) == live


@pytest.mark.django_db
def test_a_catch_up_imports_only_what_rails_added_and_changed(snapshot: Snapshot, load_dump: LoadDump) -> None:
    early_sql, early_truth = snapshot(*SMALL, "--until", "0.7")
    late_sql, late_truth = snapshot(*SMALL)
    url = load_dump(early_sql)
    run_import(MySQLSource(url))
    assert_matches_truth(report_of(MySQLSource(url)), json.loads(early_truth.read_text()))
    imported_before = m.HistoryRow.objects.count()
    url = load_dump(late_sql)  # the same community later, as Rails kept writing
    summary = run_import(MySQLSource(url))
    added = json.loads(late_truth.read_text())["counts"]["trustline_transactions"] - imported_before
    assert summary["tables"]["trustline_transactions"]["created"] == added
    assert summary["tables"]["relationships (bilateral)"]["updated"] > 0  # attested import_sync states
    assert_matches_truth(report_of(MySQLSource(url)), json.loads(late_truth.read_text()))


@pytest.mark.django_db
def test_no_custodial_key_or_seed_phrase_reaches_the_new_database(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    text = sql.read_text(encoding="utf-8")
    secrets = set(re.findall(r"'(0x[0-9a-f]{64})'", text))  # foaf_private_key values
    secrets |= set(re.findall(r"'((?:[a-z]+ ){11}[a-z]+)'", text))  # foaf_seed_phrase values
    assert len(secrets) > 20
    run_import(DumpSource(str(sql)))
    stored = []
    for model in apps.get_models():
        for row in model._default_manager.values_list():
            stored.extend(str(v) for v in row if isinstance(v, (str, bytes, memoryview)))
    blob = "\n".join(stored)
    assert not [s for s in secrets if s in blob]


@pytest.mark.django_db
def test_rows_that_cannot_be_imported_are_set_aside_with_a_reason(snapshot: Snapshot, load_dump: LoadDump) -> None:
    import MySQLdb

    from migration.legacy_db import connection_args

    sql, _ = snapshot(*SMALL)
    url = load_dump(sql)
    conn = MySQLdb.connect(**connection_args(url))
    cursor = conn.cursor()
    cursor.execute("SELECT user_id FROM user_groups WHERE group_label = 6 ORDER BY user_id LIMIT 1")
    demo = cursor.fetchone()[0]
    demo_ids = "SELECT user_id FROM user_groups WHERE group_label = 6"
    cursor.execute(f"SELECT id FROM users WHERE id NOT IN ({demo_ids}) AND id > 1 ORDER BY id DESC LIMIT 1")
    member = cursor.fetchone()[0]
    now = "'2026-11-01 10:00:00'"
    a, b = min(demo, member), max(demo, member)
    cursor.execute(
        "INSERT INTO trustlines (id, user_a_id, user_b_id, established_date, created_at, updated_at) VALUES "
        f"(900001, 2, 99999, {now}, {now}, {now}), (900002, {a}, {b}, {now}, {now}, {now})"
    )
    cursor.execute(
        "INSERT INTO trustline_transactions (id, trustline_id, amount, transaction_type, initiated_by_id, "
        f"balance_after, created_at, updated_at) VALUES (900001, 900001, 5.00, 'payment', 2, 5.00, {now}, {now})"
    )
    conn.commit()
    conn.close()
    run_import(MySQLSource(url))
    report = report_of(MySQLSource(url))
    aside = {(s["table"], s["id"]): s["reason"] for s in report["set_aside"]}
    assert aside == {
        ("trustlines", 900001): "MISSING_MEMBER",
        ("trustlines", 900002): "DEMO_AND_MEMBER_MIXED",
        ("trustline_transactions", 900001): "MISSING_TRUSTLINE",
    }
    assert report["unexplained"] == []  # set aside with a reason is accounted for


@pytest.mark.django_db
def test_reconcile_reports_what_does_not_add_up(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    lost = m.HistoryRow.objects.order_by("legacy_id").first()
    assert lost is not None
    m.HistoryRow.objects.filter(pk=lost.pk).delete()
    report = report_of(DumpSource(str(sql)))
    assert any(f"trustline {lost.trustline_id}:" in u for u in report["unexplained"])
    assert any("neither imported nor set aside" in u for u in report["unexplained"])


@pytest.mark.django_db
def test_reconcile_reports_a_history_row_whose_trustline_is_missing(snapshot: Snapshot) -> None:
    """History rows carry no database foreign key (it cost PostgreSQL most of its COPY time):
    reconcile is where a row without its trustline shows up."""
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    row = m.HistoryRow.objects.order_by("legacy_id").first()
    assert row is not None
    m.HistoryRow.objects.filter(pk=row.pk).update(trustline_id=10**12)
    report = report_of(DumpSource(str(sql)))
    assert any(f"not imported, e.g. [{row.legacy_id}]" in u for u in report["unexplained"])


@pytest.mark.django_db
def test_postgresql_refuses_to_delete_a_trustline_that_has_history(snapshot: Snapshot) -> None:
    from django.db import IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the delete guard is PostgreSQL's (SQLite's test flush deletes rows)")
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    row = m.HistoryRow.objects.order_by("legacy_id").first()
    assert row is not None
    with pytest.raises(IntegrityError, match="has imported history rows"), transaction.atomic():
        m.Trustline.objects.filter(pk=row.trustline_id).update(relationship=None)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM migration_trustline WHERE legacy_id = %s", [row.trustline_id])
    assert m.Trustline.objects.filter(pk=row.trustline_id).exists()


@pytest.mark.django_db
def test_a_dry_run_keeps_nothing(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    with DumpSource(str(sql)) as source:
        summary = import_run(source, label="test", progress=Progress(io.StringIO()), dry_run=True)
    assert summary["dry_run"] is True
    assert summary["tables"]["trustlines"]["created"] > 0
    assert not m.Trustline.objects.exists() and not Relationship.objects.exists() and not m.ImportRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_with_sigkill_finishes_on_the_next_run_as_one_clean_run(
    snapshot: Snapshot, project_env: dict[str, str]
) -> None:
    sql, truth = snapshot("--users", "150", "--events", "12000", "--seed", "5")
    project_env["DATABASE_URL"] = database_url_for_subprocess()
    project_env["FOAF_IMPORT_BATCH_ROWS"] = "500"  # many small batches: the kill lands between two of them
    command = [sys.executable, "manage.py", "import_legacy", "--dump", str(sql)]
    victim = subprocess.Popen(command, cwd=ROOT, env=project_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if m.Checkpoint.objects.filter(table__startswith="trustline_transactions ", last_id__gt=0).exists():
            break  # mid-history: some batches committed, more to come
        time.sleep(0.02)
    assert victim.poll() is None, "the import finished before it could be killed"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    last_row = json.loads(Path(truth).read_text())["counts"]["trustline_transactions"]
    done = [c.last_id for c in m.Checkpoint.objects.filter(table__startswith="trustline_transactions ")]
    assert len(done) == 2 and max(done) > 0 and min(done) < last_row  # killed mid-history
    assert m.ImportRun.objects.get().status == "running"  # it died, it did not finish
    if connection.vendor == "postgresql":  # a first load builds the per-trustline index at its end
        assert not history_index_present(), "the killed first load should have left the index to build"
    rerun = subprocess.run(command, cwd=ROOT, env=project_env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert history_index_present()
    assert_matches_truth(report_of(DumpSource(str(sql))), json.loads(Path(truth).read_text()))


@pytest.mark.django_db
def test_one_stream_resumes_each_share_of_the_history_from_its_own_checkpoint(snapshot: Snapshot) -> None:
    sql, truth = snapshot(*SMALL)
    with DumpSource(str(sql)) as source:  # as a second process left it: share 1 done, share 0 not begun
        first = LegacyImport(source, progress=Progress(io.StringIO()))
        first.import_roles()
        first.import_members()
        first.import_trustlines()
        first.import_history(share=(1, HISTORY_SHARES))
    done = first.tallies["trustline_transactions"].created
    assert done == m.HistoryRow.objects.count() > 0
    assert history_checkpoints(range(HISTORY_SHARES))[0] == 0 < history_checkpoints([1])[1]
    summary = run_import(DumpSource(str(sql)))
    rows = json.loads(truth.read_text())["counts"]["trustline_transactions"]
    assert summary["tables"]["trustline_transactions"]["created"] == m.HistoryRow.objects.count() - done
    assert m.HistoryRow.objects.count() + sum(summary["tables"]["trustline_transactions"]["set_aside"].values()) <= rows
    assert_matches_truth(report_of(DumpSource(str(sql))), json.loads(truth.read_text()))


@pytest.mark.django_db
def test_the_history_checkpoint_of_an_import_made_before_the_shares_carries_over() -> None:
    m.Checkpoint.objects.create(table="trustline_transactions", last_id=1234)
    assert history_checkpoints(range(HISTORY_SHARES)) == {0: 1234, 1: 1234}
    m.Checkpoint.objects.filter(table="trustline_transactions 1/2").update(last_id=2000)
    assert history_checkpoints([1]) == {1: 2000}
    assert history_checkpoints(range(HISTORY_SHARES)) == {0: 1234, 1: 2000}


def history_index_present() -> bool:
    with connection.cursor() as cursor:
        return HISTORY_INDEX in connection.introspection.get_constraints(cursor, m.HistoryRow._meta.db_table)


@pytest.mark.django_db(transaction=True)
def test_a_first_load_ends_with_the_history_index_and_a_catch_up_keeps_it(snapshot: Snapshot) -> None:
    early_sql, _ = snapshot(*SMALL, "--until", "0.7")
    late_sql, late_truth = snapshot(*SMALL)
    run_import(DumpSource(str(early_sql)))
    assert history_index_present()
    run_import(DumpSource(str(late_sql)))
    assert history_index_present()
    assert_matches_truth(report_of(DumpSource(str(late_sql))), json.loads(late_truth.read_text()))


@pytest.mark.django_db
def test_the_operator_console_shows_runs_and_set_aside_rows_but_no_password_hash(
    snapshot: Snapshot, admin_client: Any
) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    assert admin_client.get("/admin/migration/importrun/").status_code == 200
    assert admin_client.get("/admin/migration/setaside/").status_code == 200
    member = m.Member.objects.exclude(encrypted_password="").first()
    assert member is not None
    page = admin_client.get(f"/admin/migration/member/{member.pk}/change/")
    assert page.status_code == 200
    assert member.encrypted_password.encode() not in page.content


@pytest.mark.django_db
def test_the_demo_legacy_dump_of_make_run_imports_and_reconciles() -> None:
    from foaf.management.commands.load_demo import DEMO_LEGACY_DUMP

    run_import(DumpSource(str(DEMO_LEGACY_DUMP)))
    report = report_of(DumpSource(str(DEMO_LEGACY_DUMP)))
    assert report["unexplained"] == []
    assert report["trustlines"]["4"] == {
        "balance_cents": 6000,  # a self-declared debt past its 50.00 limit, on a deactivated line: it stands
        "credit_limit_a_to_b_cents": 5000,
        "credit_limit_b_to_a_cents": 5000,
        "is_active": False,
        "history_rows": 2,
    }
    assert report["recovered_rows"] == [2]  # its lost balance_after is recovered from its neighbours
    assert report["cached_balance_mismatches"] == [6]
    assert report["demo_user_ids"] == [8]
    assert m.PendingPayment.objects.filter(status__in=m.PendingPayment.OPEN_STATUSES).count() == 2


@pytest.mark.parametrize(
    ("phase", "switched", "refused"),
    [
        ("standalone", False, False),
        ("shadow", False, False),
        ("frozen", False, False),  # the final catch-up before the switch
        ("switched", True, True),
        ("frozen", True, True),  # a rollback under way: Rails has not written since the switch
    ],
)
@pytest.mark.django_db
def test_no_import_while_this_service_writes_credit(phase: str, switched: bool, refused: bool) -> None:
    import datetime as dt

    from django.core.management import CommandError, call_command

    from foaf.management.commands.load_demo import DEMO_LEGACY_DUMP

    m.CutoverState.objects.create(pk=1, phase=phase, switched_at=dt.datetime.now(dt.UTC) if switched else None)
    if refused:
        with pytest.raises(CommandError, match="IMPORT_AFTER_SWITCH"):
            call_command("import_legacy", "--dump", str(DEMO_LEGACY_DUMP))
        assert not m.Member.objects.exists() and not m.ImportRun.objects.exists()
        call_command("import_legacy", "--dump", str(DEMO_LEGACY_DUMP), "--dry-run")  # a dry run keeps nothing
        assert not m.Member.objects.exists()
    else:
        call_command("import_legacy", "--dump", str(DEMO_LEGACY_DUMP))
        assert m.Member.objects.exists()
