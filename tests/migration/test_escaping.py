"""Property: any text survives the dump writers' quoting and comes back exactly from the parser."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from migration.legacy.source import DumpSource

HEAD = "CREATE TABLE `t` (\n  `id` bigint NOT NULL,\n  `s` text,\n  PRIMARY KEY (`id`)\n);\n"


def generator_quote(s: str | None) -> str:
    """What shared/legacy/generate_snapshot.py writes (its quote(), restated)."""
    if s is None:
        return "NULL"
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'"


MYSQL_ESCAPES = {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"', "\x1a": "\\Z"}


def mysqldump_quote(s: str | None) -> str:
    """What mysqldump writes (mysql_real_escape_string)."""
    if s is None:
        return "NULL"
    return "'" + "".join(MYSQL_ESCAPES.get(ch, ch) for ch in s) + "'"


def sql_standard_quote(s: str | None) -> str:
    """Doubled quotes, raw newlines: what a hand-written dump may hold."""
    if s is None:
        return "NULL"
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


texts = st.lists(
    st.one_of(st.none(), st.text(), st.sampled_from(["),(", "');", "\\", "''", "\\%", "\n;\n"])), min_size=1
)


def round_trip(values: list[str | None], quote: object, chunk: int, *, one_line: bool) -> list[str | None]:
    rows = [f"({i + 1},{quote(v)})" for i, v in enumerate(values)]  # type: ignore[operator]
    body = "INSERT INTO `t` (`id`,`s`) VALUES\n" + ",\n".join(rows) + ";\n"
    if one_line:
        body = "INSERT INTO `t` VALUES " + ",".join(rows) + ";\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.sql"
        path.write_bytes((HEAD + body).encode("utf-8"))
        return [r["s"] for r in DumpSource(str(path), chunk_size=chunk).rows("t", ["s"])]


@settings(max_examples=150, deadline=None)
@given(values=texts, chunk=st.integers(1, 300))
def test_any_text_quoted_like_the_generator_comes_back_exactly(values: list[str | None], chunk: int) -> None:
    assert round_trip(values, generator_quote, chunk, one_line=False) == values


@settings(max_examples=150, deadline=None)
@given(values=texts, chunk=st.integers(1, 300))
def test_any_text_quoted_like_mysqldump_comes_back_exactly(values: list[str | None], chunk: int) -> None:
    assert round_trip(values, mysqldump_quote, chunk, one_line=True) == values


@settings(max_examples=100, deadline=None)
@given(values=texts, chunk=st.integers(1, 300))
def test_any_text_with_doubled_quotes_comes_back_exactly(values: list[str | None], chunk: int) -> None:
    assert round_trip(values, sql_standard_quote, chunk, one_line=True) == values
