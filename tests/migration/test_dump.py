"""The mysqldump parser: both dump styles, every literal form, typed errors, bounded windows, secrets."""

from __future__ import annotations

import datetime as dt
import gc
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from migration.legacy.dump import DumpFile
from migration.legacy.errors import DumpError, SourceError
from migration.legacy.source import DumpSource
from tests.migration.conftest import FIXTURES

GENERATOR_STYLE = FIXTURES / "generator_style.sql"
MYSQLDUMP_STYLE = FIXTURES / "mysqldump_style.sql"
SECRETS = ("SECRETKEY", "SEEDWORDS")

HEAD = (
    "CREATE TABLE `t` (\n  `id` bigint NOT NULL,\n  `s` text,\n  `m` decimal(10,2) DEFAULT NULL,\n"
    "  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
)


def write(tmp_path: Path, text: str, name: str = "dump.sql") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def all_rows(source: DumpSource) -> dict[str, list[dict[str, Any]]]:
    return {t: list(source.rows(t, source.readable_columns(t))) for t in source.tables()}


def test_the_two_dump_styles_of_the_same_data_give_identical_rows() -> None:
    generator, mysqldump = all_rows(DumpSource(str(GENERATOR_STYLE))), all_rows(DumpSource(str(MYSQLDUMP_STYLE)))
    assert generator == mysqldump
    assert [len(rows) for rows in generator.values()] == [3, 3, 11, 3]


def test_tricky_strings_come_back_exactly() -> None:
    rows = {r["id"]: r for r in DumpSource(str(GENERATOR_STYLE)).rows("trustline_transactions", ["id", "description"])}
    assert rows[1]["description"] == "line one\nline two"
    assert rows[2]["description"] == 'the "good" honey'
    assert rows[3]["description"] == "C:\\garden\\plan"
    assert rows[4]["description"] == "a),(b;c');\nINSERT INTO `users` VALUES (9);"
    assert rows[5]["description"] == "for the firewood 🔥"
    assert rows[6]["description"] == ""
    assert rows[7]["description"] is None
    assert rows[8]["description"] == "it's 'quoted' twice"
    # MySQL keeps the backslash of \% and \_ outside LIKE patterns
    assert rows[9]["description"] == 'nul\0 bs\b tab\t cr\r sub\x1a pct\\% und\\_ q"'
    assert rows[10]["description"] == "a raw\nnewline and café"
    assert rows[9007199254740993]["description"] == "x" * 210


def test_values_are_normalized_to_cents_decimals_datetimes_and_flags() -> None:
    source = DumpSource(str(MYSQLDUMP_STYLE))
    first = next(source.rows("trustline_transactions", ["amount", "balance_after", "is_reversed", "created_at"]))
    assert first == {
        "amount": 1225,
        "balance_after": -1225,
        "is_reversed": False,
        "created_at": dt.datetime(2025, 7, 17, 19, 30, 54),
    }
    items = list(source.rows("items", ["quantity", "price"]))
    assert items == [
        {"quantity": Decimal("3.00000"), "price": 250},
        {"quantity": Decimal("-0.12345"), "price": -105},
        {"quantity": None, "price": None},
    ]
    assert all(type(r["price"]) is int for r in items[:2])
    big = list(source.rows("trustline_transactions", ["id", "amount", "path_info"]))[-1]
    assert big == {"id": 9007199254740993, "amount": 9999999999, "path_info": None}


def test_hex_binary_and_introduced_literals_decode_in_the_columns_charset() -> None:
    source = DumpSource(str(MYSQLDUMP_STYLE))
    assert [r["description"] for r in source.rows("pending_payments", ["description"])] == [
        "café crème",
        "Øre ±5 ¼ ß; ok",
        None,
    ]
    assert next(source.rows("users", ["name"]))["name"] == "GrowOperative Admin"


def test_the_json_column_comes_back_as_the_text_stored() -> None:
    rows = list(DumpSource(str(MYSQLDUMP_STYLE)).rows("trustline_transactions", ["id", "path_info"], after_id=2))
    assert rows[0]["path_info"] == '{"path": [2, 5, 9], "amount": "67.00"}'
    assert rows[2]["path_info"] == '{"path": [3, "Señor Ajo \\u00e9"], "amount": "1.00"}'


def test_a_column_left_out_of_the_insert_takes_its_default() -> None:
    rows = DumpSource(str(GENERATOR_STYLE)).rows("trustline_transactions", ["note"])
    assert {r["note"] for r in rows} == {"none; really"}


def test_rows_after_an_id_skip_the_earlier_ones() -> None:
    source = DumpSource(str(GENERATOR_STYLE))
    assert [r["id"] for r in source.rows("trustline_transactions", ["id"], after_id=5)] == [
        6,
        7,
        8,
        9,
        10,
        9007199254740993,
    ]
    assert source.count("trustline_transactions", after_id=5) == 6
    assert source.count("trustline_transactions") == 11
    assert source.max_id("trustline_transactions") == 9007199254740993


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_any_window_size_gives_the_same_rows(chunk: int) -> None:
    expected = all_rows(DumpSource(str(MYSQLDUMP_STYLE)))
    for path in (GENERATOR_STYLE, MYSQLDUMP_STYLE):
        assert all_rows(DumpSource(str(path), chunk_size=chunk)) == expected


def test_many_insert_statements_of_one_table_read_as_one_sequence(tmp_path: Path) -> None:
    inserts = "".join(
        f"INSERT INTO `t` VALUES ({i},'row {i}',{i}.00),({i + 1},'next; ),(',NULL);\n" for i in range(1, 200, 2)
    )
    other = "INSERT INTO `other` VALUES (1,'x');\n"
    path = write(tmp_path, HEAD + "CREATE TABLE `other` (`id` int, `s` text);\n" + other + inserts + other)
    rows = list(DumpSource(str(path), chunk_size=50).rows("t", ["id", "s", "m"]))
    assert [r["id"] for r in rows] == list(range(1, 201))
    assert rows[1] == {"id": 2, "s": "next; ),(", "m": None}


def test_the_catalog_notes_each_statement_once() -> None:
    catalog = DumpFile(MYSQLDUMP_STYLE).catalog()
    assert len(catalog["trustline_transactions"].statements) == 2
    assert [c.name for c in catalog["users"].columns or []][:3] == ["id", "name", "foaf_private_key"]


@pytest.mark.parametrize(
    ("body", "code", "expected"),
    [
        ("INSERT INTO `t` VALUES (1,'open string,1.00);\n", "dump_malformed", "expected its closing quote"),
        ("INSERT INTO `t` VALUES (1,'a');\n", "dump_column_count", "has 2 values"),
        ("INSERT INTO `t` VALUES (1,'a',1.00)(2,'b',2.00);\n", "dump_malformed", "expected ',' or ';'"),
        ("INSERT INTO `t` VALUES (1,'a',1.00),\n", "dump_malformed", "expected ';'"),
        ("INSERT INTO `t` VALUES (1,'a',1.00) garbage;\n", "dump_malformed", "expected ',' or ';'"),
        ("INSERT INTO `t` VALUES (1,'a',@x);\n", "dump_malformed", "expected value 3"),
        ("INSERT INTO `t` VALUES (1,'a',1.001);\n", "money_precision", "more than 2 decimals"),
        ("INSERT INTO `t` VALUES (1,'a','lots');\n", "bad_money", "column `m`"),
        ("INSERT INTO `t` VALUES (2,'a',1.00),(1,'b',1.00);\n", "dump_out_of_order", "ascending id order"),
        ("INSERT INTO `t` VALUES (1,'a',1.00),(1,'b',1.00);\n", "dump_out_of_order", "ascending id order"),
        ("INSERT INTO `t` VALUES (1,0xFF,1.00);\n", "dump_bad_value", "column `s`"),
    ],
)
def test_malformed_input_raises_a_typed_error_naming_where_and_what(
    tmp_path: Path, body: str, code: str, expected: str
) -> None:
    path = write(tmp_path, HEAD + "\n-- the rows\n" + body)
    with pytest.raises(DumpError) as info:
        list(DumpSource(str(path), chunk_size=16).rows("t", ["id", "s", "m"]))
    err = info.value
    assert err.code == code, str(err)
    assert expected in str(err)
    assert err.line is not None and err.line >= 8
    assert err.offset is not None and err.offset >= len(HEAD)


def test_a_statement_that_never_ends_is_an_error_in_the_first_pass(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "LOCK TABLES `t` WRITE")
    with pytest.raises(DumpError, match="never ends") as info:
        DumpSource(str(path)).tables()
    assert info.value.line == 7


def test_an_unterminated_string_in_another_statement_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "INSERT INTO `other` VALUES ('abc);\n")
    with pytest.raises(DumpError, match="closing quote"):
        DumpSource(str(path)).tables()


def test_a_dump_in_another_charset_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "/*!40101 SET NAMES latin1 */;\n" + HEAD)
    with pytest.raises(DumpError) as info:
        DumpSource(str(path)).tables()
    assert info.value.code == "dump_unsupported_charset"


def test_an_insert_without_a_create_table_cannot_be_typed(tmp_path: Path) -> None:
    path = write(tmp_path, "INSERT INTO `lonely` VALUES (1);\n")
    source = DumpSource(str(path))
    assert source.tables() == ["lonely"]
    with pytest.raises(DumpError) as info:
        list(source.rows("lonely", ["id"]))
    assert info.value.code == "dump_no_create"


def test_unknown_tables_and_columns_are_typed_errors() -> None:
    source = DumpSource(str(GENERATOR_STYLE))
    with pytest.raises(SourceError) as table:
        source.rows("nope", ["id"])
    assert table.value.code == "unknown_table"
    with pytest.raises(SourceError) as column:
        source.rows("users", ["id", "nope"])
    assert column.value.code == "unknown_column"
    with pytest.raises(SourceError) as twice:
        source.rows("users", ["id", "id"])
    assert twice.value.code == "bad_columns"


def test_zero_dates_and_odd_literals_read_like_mysqlclient_would(tmp_path: Path) -> None:
    head = (
        "CREATE TABLE `z` (`id` bigint NOT NULL, `at` datetime DEFAULT NULL, `on` date DEFAULT NULL,"
        " `n` int DEFAULT NULL, `flag` tinyint(1) DEFAULT NULL, `b` varbinary(8) DEFAULT NULL);\n"
    )
    path = write(
        tmp_path,
        head + "INSERT INTO `z` VALUES (1,'0000-00-00 00:00:00','0000-00-00','12',1,0x00ff),"
        "(2,'2025-09-15 00:00:00','2025-09-15',0x10,'0',_binary 'a\\'b'),(3,NULL,NULL,-7,NULL,NULL);\n",
    )
    rows = list(DumpSource(str(path)).rows("z", ["at", "on", "n", "flag", "b"]))
    assert rows == [
        {"at": None, "on": None, "n": 12, "flag": True, "b": b"\x00\xff"},
        {"at": dt.datetime(2025, 9, 15), "on": dt.date(2025, 9, 15), "n": 16, "flag": False, "b": b"a'b"},
        {"at": None, "on": None, "n": -7, "flag": None, "b": None},
    ]


def test_secret_columns_cannot_be_requested() -> None:
    source = DumpSource(str(GENERATOR_STYLE))
    for column in ("foaf_private_key", "foaf_seed_phrase"):
        with pytest.raises(SourceError) as info:
            source.rows("users", ["id", column])
        assert info.value.code == "secret_column"
    assert "foaf_private_key" not in source.readable_columns("users")


def _strings_in(obj: Any, seen: set[int], depth: int = 0) -> list[str]:
    if id(obj) in seen or depth > 6:
        return []
    seen.add(id(obj))
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, bytes | bytearray):
        return [bytes(obj).decode("utf-8", "replace")]
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            found += _strings_in(k, seen, depth + 1) + _strings_in(v, seen, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            found += _strings_in(v, seen, depth + 1)
    elif hasattr(obj, "__dict__"):
        found += _strings_in(vars(obj), seen, depth + 1)
    elif hasattr(obj, "__slots__"):
        for slot in obj.__slots__:
            found += _strings_in(getattr(obj, slot, None), seen, depth + 1)
    return found


@pytest.mark.parametrize("path", [GENERATOR_STYLE, MYSQLDUMP_STYLE])
def test_the_parser_keeps_no_secret_anywhere(path: Path) -> None:
    source = DumpSource(str(path), chunk_size=64)
    rows = list(source.rows("users", source.readable_columns("users")))
    rows += [r for t in source.tables() for r in source.rows(t, source.readable_columns(t))]
    gc.collect()
    # The yielded rows, the source and its catalog, and every module of the reading side
    holders: list[Any] = [rows, source, source.dump.catalog()]
    holders += [vars(m) for name, m in sys.modules.items() if name.startswith("migration.legacy")]
    texts = [s for h in holders for s in _strings_in(h, set())]
    assert texts, "nothing was inspected"
    assert not [s for s in texts if any(secret in s for secret in SECRETS)]
    # and no live container anywhere in the process holds a secret value (strings live only in containers);
    # the needles are assembled at run time so that no code constant holds them
    key, seed = "".join(["00c0ffee", "11deadbeef22"]), "".join(["SEED", "WORDS maple"])
    leaked = []
    for obj in gc.get_objects():
        try:
            if not isinstance(obj, dict | list | tuple):
                continue
            items = list(obj.values()) if isinstance(obj, dict) else list(obj)
        except ReferenceError:  # a weak proxy whose object is gone holds nothing
            continue
        for item in items:
            try:
                v = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
                found = isinstance(v, str) and (key in v or seed in v)
            except ReferenceError:
                continue
            if found:
                leaked.append(type(obj).__name__)
    assert leaked == []
