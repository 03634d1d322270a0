"""MySQLSource against a real MariaDB and DumpSource against the same data give identical Python values."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from migration.legacy.errors import LegacyError, SourceError
from migration.legacy.history import HISTORY_COLUMNS, reconstruct_all
from migration.legacy.source import DumpSource, LegacySource, MySQLSource
from tests.migration.conftest import FIXTURES, LoadDump, Snapshot, dump_database

pytestmark = pytest.mark.services


def assert_same(live: LegacySource, dump: LegacySource) -> int:
    """Every table, every readable column, whole and after a midpoint id: the same rows. Returns rows compared."""
    assert live.tables() == dump.tables()
    compared = 0
    for table in live.tables():
        columns = live.readable_columns(table)
        assert columns == dump.readable_columns(table), table
        rows = list(live.rows(table, columns))
        assert rows == list(dump.rows(table, columns)), table
        assert live.count(table) == dump.count(table) == len(rows)
        compared += len(rows)
        if "id" in columns:
            assert live.max_id(table) == dump.max_id(table)
            middle = rows[len(rows) // 2]["id"] if rows else 0
            assert list(live.rows(table, columns, after_id=middle)) == list(dump.rows(table, columns, after_id=middle))
            assert live.count(table, after_id=middle) == dump.count(table, after_id=middle)
    return compared


def test_a_generated_snapshot_reads_the_same_live_and_from_its_dump(snapshot: Snapshot, load_dump: LoadDump) -> None:
    sql, truth_path = snapshot("--users", "60", "--events", "3000", "--seed", "3")
    with MySQLSource(load_dump(sql)) as live:
        assert assert_same(live, DumpSource(str(sql))) > 3000
        # and the history read live matches the truth too
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        histories = reconstruct_all(live.rows("trustline_transactions", HISTORY_COLUMNS))
        for line_id, expected in truth["trustlines"].items():
            history = histories.get(int(line_id))
            assert (history.final_balance if history else 0) == expected["balance_cents"]


def test_a_real_mariadb_dump_reads_the_same_as_the_live_database(
    snapshot: Snapshot, load_dump: LoadDump, tmp_path: Path
) -> None:
    sql, _ = snapshot("--users", "60", "--events", "3000", "--seed", "3")
    url = load_dump(sql)
    real = dump_database(url, tmp_path / "real.sql")
    with MySQLSource(url) as live:
        assert assert_same(live, DumpSource(str(real), chunk_size=4096)) > 3000


@pytest.mark.parametrize("name", ["generator_style.sql", "mysqldump_style.sql"])
def test_the_hand_made_fixtures_mean_what_the_server_says_they_mean(load_dump: LoadDump, name: str) -> None:
    with MySQLSource(load_dump(FIXTURES / name)) as live:
        assert assert_same(live, DumpSource(str(FIXTURES / name))) == 20
        latin1 = [r["description"] for r in live.rows("pending_payments", ["description"])]
        assert latin1 == ["café crème", "Øre ±5 ¼ ß; ok", None]


def test_the_live_source_refuses_secret_and_unknown_columns(load_dump: LoadDump) -> None:
    with MySQLSource(load_dump(FIXTURES / "generator_style.sql")) as live:
        for column in ("foaf_private_key", "foaf_seed_phrase"):
            with pytest.raises(SourceError) as info:
                live.rows("users", ["id", column])
            assert info.value.code == "secret_column"
        with pytest.raises(SourceError) as unknown:
            live.rows("users", ["nope"])
        assert unknown.value.code == "unknown_column"
        with pytest.raises(SourceError) as table:
            live.rows("nope", ["id"])
        assert table.value.code == "unknown_table"
        rows = list(live.rows("users", live.readable_columns("users")))
        assert not [v for r in rows for v in r.values() if isinstance(v, str) and "SECRETKEY" in v]


def test_zero_dates_and_shares_read_the_same_live_and_from_the_dump(load_dump: LoadDump, tmp_path: Path) -> None:
    sql = tmp_path / "z.sql"
    sql.write_text(
        "/*!40101 SET SQL_MODE='' */;\n"
        "CREATE TABLE `z` (`id` bigint NOT NULL, `line` bigint DEFAULT NULL, `at` datetime DEFAULT NULL,"
        " `at6` datetime(6) DEFAULT NULL, PRIMARY KEY (`id`));\n"
        "INSERT INTO `z` VALUES (1,3,'0000-00-00 00:00:00','2025-09-15 01:02:03.456789'),"
        "(2,-3,'2025-09-15 00:00:00',NULL),(3,NULL,NULL,'0000-00-00 00:00:00'),(4,4,'2024-02-29 23:59:59',NULL);\n",
        encoding="utf-8",
    )
    columns = ["id", "line", "at", "at6"]
    with MySQLSource(load_dump(sql)) as live:
        dump = DumpSource(str(sql))
        rows = list(live.rows("z", columns))
        assert rows == list(dump.rows("z", columns))
        assert rows[0]["at"] is None and rows[2]["at6"] is None  # the zero date
        assert rows[0]["at6"] == dt.datetime(2025, 9, 15, 1, 2, 3, 456789)
        for k in (0, 1):  # as Python's % counts: -3 is odd, NULL is 0
            share = ("line", k, 2)
            ids = [r["id"] for r in live.rows("z", columns, share=share)]
            assert ids == [r["id"] for r in dump.rows("z", columns, share=share)]
            assert ids == [r["id"] for r in rows if (r["line"] or 0) % 2 == k]
            assert live.count("z", share=share) == dump.count("z", share=share) == len(ids)
        with pytest.raises(SourceError) as bad:
            live.rows("z", ["id"], share=("line", 0, 2))  # the share's column is not read
        assert bad.value.code == "bad_share"


def test_a_date_with_a_zero_month_is_refused_live_and_from_the_dump(load_dump: LoadDump, tmp_path: Path) -> None:
    sql = tmp_path / "z.sql"
    sql.write_text(
        "/*!40101 SET SQL_MODE='' */;\n"
        "CREATE TABLE `z` (`id` bigint NOT NULL, `at` datetime DEFAULT NULL, PRIMARY KEY (`id`));\n"
        "INSERT INTO `z` VALUES (1,'2025-09-15 00:00:00'),(2,'2020-00-00 10:00:00');\n",
        encoding="utf-8",
    )
    with MySQLSource(load_dump(sql)) as live:
        for source in (live, DumpSource(str(sql))):
            with pytest.raises(LegacyError) as info:  # ValueConversionError live, DumpError from a file
                list(source.rows("z", ["id", "at"]))
            assert info.value.code == "bad_datetime"
