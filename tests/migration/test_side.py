"""The import's second process (migration.side): the side tables from a live database beside the
history, on PostgreSQL, outside a transaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from migration import models as m
from migration.importer import SUMMARY_ORDER
from migration.legacy.source import DumpSource, MySQLSource
from migration.side import SideImportFailed, SidePhases
from tests.conftest import ROOT, database_url_for_subprocess
from tests.migration.conftest import LoadDump, Snapshot, _cli_args, mariadb_client
from tests.migration.test_import import SMALL, assert_matches_truth, report_of, run_import

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the second process runs on PostgreSQL only (SQLite has one writer)")


def test_a_live_import_runs_the_side_tables_in_a_second_process(
    snapshot: Snapshot, load_dump: LoadDump, capfd: pytest.CaptureFixture[str]
) -> None:
    needs_postgresql()
    sql, truth = snapshot(*SMALL)
    url = load_dump(sql)
    with MySQLSource(url) as source:
        assert SidePhases.possible(source)
    summary = run_import(MySQLSource(url))  # the test's own progress goes to a StringIO
    # The second process writes its progress to the terminal it shares: that is where it shows.
    err = capfd.readouterr().err
    assert "subnets" in err and "pending_payments" in err  # the simple tables, its share of the payments
    assert "trustline_transactions" in err  # its share of the history
    assert "bilateral states" in err  # its half of them
    assert summary["tables"]["relationships (bilateral)"]["created"] == m.Trustline.objects.count()
    assert summary["tables"]["pending_payments"]["read"] == json.loads(truth.read_text())["counts"]["pending_payments"]
    imported = [name for name, t in summary["tables"].items() if "not_migrated" not in t]
    assert imported == [name for name in SUMMARY_ORDER if name in imported]  # in order, whoever finished first
    assert_matches_truth(report_of(MySQLSource(url)), json.loads(truth.read_text()))


def test_a_failure_in_the_second_process_fails_the_import(snapshot: Snapshot, load_dump: LoadDump) -> None:
    needs_postgresql()
    sql, _ = snapshot(*SMALL)
    url = load_dump(sql)
    database = url.rsplit("/", 1)[1]
    # Listings are imported by the second process only.
    subprocess.run([mariadb_client(), *_cli_args(url), database, "-e", "ALTER TABLE items DROP COLUMN organic"],
                   check=True, timeout=60)  # fmt: skip
    with pytest.raises(SideImportFailed, match="has no column `organic`"):
        run_import(MySQLSource(url))
    assert m.ImportRun.objects.get().status == "failed"
    assert m.HistoryRow.objects.exists()  # what the first process did is kept; a re-run completes it


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_killing_the_import_kills_its_second_process_and_the_next_run_completes(
    snapshot: Snapshot, load_dump: LoadDump, project_env: dict[str, str]
) -> None:
    needs_postgresql()
    sql, truth = snapshot("--users", "150", "--events", "12000", "--seed", "5")
    url = load_dump(sql)
    project_env["DATABASE_URL"] = database_url_for_subprocess()
    project_env["FOAF_IMPORT_BATCH_ROWS"] = "500"
    command = [sys.executable, "manage.py", "import_legacy", "--source", url]
    victim = subprocess.Popen(command, cwd=ROOT, env=project_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    side: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None and not side:
        side = [p for p in _children(victim.pid) if b"spawn_main" in _cmdline(p)]
        time.sleep(0.02)
    assert side, "the import started no second process"
    while time.monotonic() < deadline and victim.poll() is None:
        if m.Checkpoint.objects.filter(table__startswith="trustline_transactions ", last_id__gt=0).exists():
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the import finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)  # the first process only: the second must follow it
    victim.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(p) for p in side):
        time.sleep(0.05)
    assert all(_gone(p) for p in side), "the second process outlived the import"
    # Finished from the dump, in one process: one stream over both shares of the history, each
    # resumed from its own checkpoint (the two processes were killed at different points).
    rerun = subprocess.run([*command[:3], "--dump", str(sql)], cwd=ROOT, env=project_env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_matches_truth(report_of(DumpSource(str(sql))), json.loads(Path(truth).read_text()))
    again = subprocess.run([*command, "--json"], cwd=ROOT, env=project_env, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]  # and live, in two processes: nothing left to do
    tables = json.loads(again.stdout.strip().splitlines()[-1])["tables"]
    assert tables["trustline_transactions"]["created"] == tables["relationships (bilateral)"]["created"] == 0
