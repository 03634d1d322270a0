"""A streaming reader of mysqldump files: the rows of one table, in bounded memory, without a MySQL server.

Accepted input (see docs/migration-legacy-reading.md):

* the snapshot generator's format, ``INSERT INTO `t` (`c1`,`c2`) VALUES\\n(...),\\n(...);``, many
  statements per table;
* real ``mysqldump``/``mariadb-dump`` output, ``INSERT INTO `t` VALUES (...),(...);`` without a column
  list (the column order then comes from that table's ``CREATE TABLE`` earlier in the file), extended
  inserts on one very long line, ``/*!40101 ... */;`` conditional comments, ``--`` and ``#`` comments,
  ``LOCK TABLES``/``UNLOCK TABLES``, ``DROP TABLE IF EXISTS``, ``SET`` and any other statement, which
  are lexed past (strings and identifiers respected) without being interpreted.

The file is read in chunks. A first pass (``catalog``) lexes the whole file once at C speed and notes
each table's ``CREATE TABLE`` and the byte offset of each of its ``INSERT`` statements; reading a
table then seeks straight to its own statements, so other tables cost nothing. Rows are matched by a
compiled regular expression built for the statement's column count (one match per row, no Python loop
per character); only the requested columns are converted. The secret columns of ``users``
(``foaf_private_key``, ``foaf_seed_phrase``) are never captured, converted, kept or yielded.

Anything malformed raises ``DumpError`` naming the byte offset, the line and what was expected. No row
is ever skipped silently.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

from migration.legacy import values
from migration.legacy.errors import DumpError, LegacyError, SourceError
from migration.legacy.values import Kind, check_columns

CHUNK_SIZE = 4 << 20
LOOKAHEAD = 64 << 10  # bytes in view before a statement's head is decided

# ---- lexical building blocks -----------------------------------------------------------------------
# Possessive quantifiers (Python 3.11) make every string match the way MySQL's lexer reads it:
# greedy, with no backtracking into a string once it is closed.
_SQ = rb"'(?:[^'\\]++|\\.|'')*+'"
_DQ = rb'"(?:[^"\\]++|\\.|"")*+"'
# One value in a VALUES list: a string (optionally _binary/_charset introduced, or X'..'/B'..'), or a
# bare token (NULL, integers, decimals, negatives, exponents, 0x hex). Validated when converted.
_VALUE = rb"[-+.0-9A-Za-z]++(?!['\"])|(?:_[A-Za-z0-9]+\s*|[xXbBnN])?(?:" + _SQ + rb"|" + _DQ + rb")"

_TOP = re.compile(
    rb"""
      (?P<ws>\s+)
    | (?P<comment>(?:--(?=\s)|\#)[^\n]*\n)
    | (?P<block>/\*.*?\*/(?:[ \t]*;)?)
    | (?P<insert>(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+(?:INTO\s+)?
        (?:`(?:[^`]|``)+`\.)?(?:`(?P<table>(?:[^`]|``)+)`|(?P<bare_table>[A-Za-z0-9_$]+))
        \s*(?:\((?P<cols>[^)]*)\)\s*)?VALUES\s*)
    | (?P<create>CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:`(?:[^`]|``)+`\.)?
        (?:`(?P<ctable>(?:[^`]|``)+)`|(?P<bare_ctable>[A-Za-z0-9_$]+)))
    | (?P<other>[A-Za-z(])
    """,
    re.X | re.S | re.I,
)
# The longest stretch of a statement that ends neither in ';' nor inside a string or identifier.
_BODY = re.compile(rb"(?:[^'\"`;]++|" + _SQ + rb"|" + _DQ + rb"|`(?:[^`]++|``)*+`)*+", re.S)
_BLANK = re.compile(rb"\s*\Z")
_SET_NAMES = re.compile(rb"SET\s+NAMES\s+'?([A-Za-z0-9_]+)", re.I)
_COLNAME = re.compile(rb"`((?:[^`]|``)+)`|([A-Za-z0-9_$]+)")
_FIRST_ID = re.compile(rb"\s*\(\s*(-?\d+)\s*[,)]")

# Diagnosis of a row the fast pattern did not match: one token at a time.
_D_OPEN = re.compile(rb"\s*\(")
_D_VALUE = re.compile(rb"\s*(?:" + _VALUE + rb")\s*", re.S)
_D_QUOTE = re.compile(rb"\s*(?:_[A-Za-z0-9]+\s*|[xXbBnN](?='))?['\"]")
_D_SEP = re.compile(rb"\s*([,)])")
_D_END = re.compile(rb"\s*([,;])")

_ROW_CACHE: dict[int, re.Pattern[bytes]] = {}


def _row_pattern(ncols: int) -> re.Pattern[bytes]:
    """The pattern of one row of ``ncols`` values with its separator: group i is value i, last is ','."""
    pattern = _ROW_CACHE.get(ncols)
    if pattern is None:
        value = rb"\s*(" + _VALUE + rb")\s*"
        pattern = re.compile(rb"\s*\(" + rb",".join([value] * ncols) + rb"\)\s*(?:(,)|;)", re.S)
        _ROW_CACHE[ncols] = pattern
    return pattern


# ---- the catalog: tables, columns and where their statements are ------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a ``CREATE TABLE`` in the dump."""

    name: str
    sql_type: str
    kind: Kind | None  # None: a type the reading side does not support (an error only when requested)
    charset: str
    default: bytes | None  # the DEFAULT literal as written (b"NULL" for nullable columns without one)


@dataclass(slots=True)
class TableInfo:
    """What the catalog pass learned about one table."""

    name: str
    columns: list[Column] | None = None  # from CREATE TABLE; None when the dump has none
    create_offset: int | None = None
    # (byte offset of the INSERT, its column list or None, first id when the statement starts with it)
    statements: list[tuple[int, tuple[str, ...] | None, int | None]] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        for col in self.columns or ():
            if col.name == name:
                return col
        return None


_CREATE_COL = re.compile(
    rb"\s*`((?:[^`]|``)+)`\s+([A-Za-z]+(?:\s*\([^)]*\))?(?:\s+(?:unsigned|signed|zerofill))*)(.*)", re.S | re.I
)
_CHARSET = re.compile(rb"(?:CHARACTER\s+SET|CHARSET)\s*=?\s*([A-Za-z0-9_]+)", re.I)
_DEFAULT = re.compile(
    rb"\bDEFAULT\s+(NULL\b|" + _SQ + rb"|[-+]?[0-9.]+(?:[eE][-+]?\d+)?\b|[A-Za-z_]\w*(?:\(\))?)", re.I
)


def _parse_create(text: bytes, table: str, offset: int) -> list[Column]:
    """The columns of one ``CREATE TABLE`` statement."""
    body_start = text.find(b"(")
    body_end = text.rfind(b")")
    if body_start < 0 or body_end < body_start:
        raise DumpError(f"CREATE TABLE `{table}` has no column list", code="dump_bad_create", offset=offset)
    tail = text[body_end + 1 :]
    m = _CHARSET.search(tail)
    table_charset = m.group(1).decode("ascii").lower() if m else "utf8mb4"
    columns = []
    for definition in _definitions(text[body_start + 1 : body_end]):
        m = _CREATE_COL.fullmatch(definition)
        if m is None:  # PRIMARY KEY, KEY, CONSTRAINT, CHECK ...
            continue
        name = m.group(1).replace(b"``", b"`").decode("utf-8")
        sql_type = m.group(2).decode("ascii")
        rest = m.group(3)
        cs = _CHARSET.search(rest)
        charset = cs.group(1).decode("ascii").lower() if cs else table_charset
        try:
            kind: Kind | None = values.kind_of(sql_type, table=table, column=name)
        except SourceError:
            kind = None
        if re.search(rb"\bjson_valid\b", rest, re.I) and kind is Kind.TEXT:
            kind = Kind.JSON  # MariaDB's JSON is LONGTEXT with a json_valid check
        d = _DEFAULT.search(rest)
        nullable = not re.search(rb"\bNOT\s+NULL\b", rest, re.I)
        default = d.group(1) if d else (b"NULL" if nullable else None)
        columns.append(Column(name, sql_type, kind, charset, default))
    if not columns:
        raise DumpError(f"CREATE TABLE `{table}` lists no columns", code="dump_bad_create", offset=offset)
    return columns


def _definitions(body: bytes) -> list[bytes]:
    """The comma-separated definitions of a CREATE TABLE body (commas inside (), quotes, backticks kept)."""
    parts, depth, quote, start = [], 0, 0, 0
    for i, ch in enumerate(body):  # a CREATE TABLE is small: a plain loop is fine here
        if quote:
            if ch == quote:
                quote = 0
        elif ch in b"'\"`":
            quote = ch
        elif ch == 0x28:  # (
            depth += 1
        elif ch == 0x29:  # )
            depth -= 1
        elif ch == 0x2C and depth == 0:  # ,
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


# ---- value conversion from dump tokens ----------------------------------------------------------------

_UNESCAPE = re.compile(rb"\\(.)|''|\"\"", re.S)
_ESCAPES = {
    b"0": b"\0",
    b"b": b"\b",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"Z": b"\x1a",
    b"%": b"\\%",  # outside LIKE patterns MySQL keeps the backslash of \% and \_
    b"_": b"\\_",
}


def _unescape_sub(m: re.Match[bytes]) -> bytes:
    ch = m.group(1)
    if ch is None:
        return m.group(0)[:1]  # '' -> ', "" -> "
    return _ESCAPES.get(ch, ch)


def unescape(body: bytes) -> bytes:
    """The bytes a MySQL string literal's body (between its quotes) stands for."""
    if b"\\" not in body and b"''" not in body and b'""' not in body:
        return body
    return _UNESCAPE.sub(_unescape_sub, body)


_INTRO = re.compile(rb"_([A-Za-z0-9]+)\s*(['\"])(.*)\2", re.S)
_HEX = re.compile(rb"0x([0-9A-Fa-f]*)|[xX]'([0-9A-Fa-f]*)'")
_BITS = re.compile(rb"[bB]'([01]*)'|0b([01]+)")


def _literal(raw: bytes) -> tuple[str, Any]:
    """Classify one token: ("null", None), ("str", bytes), ("cs", (bytes, charset)), ("bin", bytes), ("num", str)."""
    first = raw[:1]
    if first in (b"'", b'"'):
        return "str", unescape(raw[1:-1])
    tag: str = "num"
    value: Any = None
    if raw.upper() == b"NULL":
        tag = "null"
    elif first == b"_" and (m := _INTRO.fullmatch(raw)) is not None:
        charset = m.group(1).decode("ascii").lower()
        body = unescape(m.group(3))
        tag, value = ("bin", body) if charset == "binary" else ("cs", (body, charset))
    elif (m := _HEX.fullmatch(raw)) is not None:
        digits = m.group(1) if m.group(1) is not None else m.group(2)
        tag, value = "bin", bytes.fromhex((b"0" * (len(digits) % 2) + digits).decode("ascii"))
    elif (m := _BITS.fullmatch(raw)) is not None:
        bits = (m.group(1) if m.group(1) is not None else m.group(2)) or b"0"
        tag, value = "bin", int(bits, 2).to_bytes((len(bits) + 7) // 8, "big")
    elif first in (b"n", b"N") and raw[1:2] == b"'":
        tag, value = "str", unescape(raw[2:-1])
    else:
        value = raw.decode("ascii")
    return tag, value


def _text_of(raw: bytes, charset: str) -> Any:
    tag, v = _literal(raw)
    if tag == "str":
        return v.decode("utf-8")  # the dump is utf8mb4, whatever the column's own charset
    if tag == "cs":
        return values.decode_charset(v[0], v[1])
    if tag == "bin":
        return values.decode_charset(v, charset)
    return v  # None for NULL, a number's text


def _num_text(raw: bytes) -> str | None:
    tag, v = _literal(raw)
    if tag == "null":
        return None
    if tag == "str":
        return str(v.decode("utf-8"))
    if tag == "num":
        return str(v)
    raise ValueError("a number was expected")


_FROM_TEXT: dict[Kind, Callable[[str], Any]] = {
    Kind.INT: int,
    Kind.BOOL: lambda text: values.boolean(int(text)),
    Kind.CENTS: values.cents,
    Kind.DECIMAL: values.decimal,
    Kind.FLOAT: float,
    Kind.DATETIME: values.datetime,
    Kind.DATE: values.date,
}


def _converter(col: Column, table: str) -> Callable[[bytes], Any]:
    """The general (slow, complete) conversion of one dump token to this column's normalized value."""
    kind, charset = col.kind, col.charset
    if kind is None:
        raise SourceError(
            f"column {table}.{col.name} has type {col.sql_type!r}, not supported", code="unsupported_type"
        )
    if kind is Kind.TEXT or kind is Kind.JSON:
        return lambda raw: _text_of(raw, charset)
    from_text = _FROM_TEXT.get(kind)

    def convert(raw: bytes) -> Any:
        tag, v = _literal(raw)
        if tag == "null":
            return None
        if from_text is None:  # Kind.BYTES
            return v[0] if tag == "cs" else v.encode("ascii") if tag == "num" else v
        if tag == "bin" and kind in (Kind.INT, Kind.BOOL):
            number = int.from_bytes(v, "big")
            return values.boolean(number) if kind is Kind.BOOL else number
        text = v if tag == "num" else values.decode_charset(v[0], v[1]) if tag == "cs" else v.decode("utf-8")
        return from_text(text)

    return convert


# Inline fast paths per kind for the generated row function; anything unusual falls back to the
# general converter s<i>, and an exception anywhere sends the row through the general path.
_FAST = {
    Kind.INT: "(None if {v} == NULL else int({v}))",
    Kind.BOOL: "(False if {v} == b'0' else True if {v} == b'1' else {s}({v}))",
    Kind.CENTS: "(int({v}[:-3] + {v}[-2:]) if {v}[-3:-2] == b'.' else {s}({v}))",
    Kind.DECIMAL: "(None if {v} == NULL else Decimal({v}.decode('ascii')))",
    Kind.FLOAT: "(None if {v} == NULL else float({v}))",
    Kind.DATETIME: "(iso({v}[1:-1].decode('ascii')) if len({v}) == 21 and {v}[17] == 58 else None if {v} == NULL "
    "else {s}({v}))",
    Kind.TEXT: "(None if {v} == NULL else {v}[1:-1].decode('utf-8') if {v}[:1] == Q and {v}.count(Q) == 2 "
    "and BS not in {v} else {s}({v}))",
}
_FAST[Kind.JSON] = _FAST[Kind.TEXT]


def _compile_row(
    names: Sequence[str],
    kinds: Sequence[Kind],
    groups: Sequence[int],
    fixed: dict[int, Any],
    slow: Sequence[Callable[[bytes], Any]],
) -> Callable[[re.Match[bytes]], tuple[Any, ...]]:
    """A function from a row match to the row's values (a tuple in the order of ``names``),
    generated for this column layout (one call per row).

    The generated source only ever contains synthetic variable names and ``repr()`` of column names.
    """
    namespace: dict[str, Any] = {
        "NULL": b"NULL",
        "Q": b"'",
        "BS": b"\\",
        "Decimal": Decimal,
        "iso": dt.datetime.fromisoformat,
    }
    taken: list[tuple[str, int]] = []
    items: list[str] = []
    for i in range(len(names)):
        if i in fixed:
            namespace[f"f{i}"] = fixed[i]
            items.append(f"f{i}")
            continue
        v, sname = f"v{i}", f"s{i}"
        namespace[sname] = slow[i]
        taken.append((v, groups[i]))
        template = _FAST.get(kinds[i], "{s}({v})")
        items.append(template.format(v=v, s=sname))
    lines = ["def row(m):"]
    if len(taken) == 1:
        lines.append(f"    {taken[0][0]} = m.group({taken[0][1]})")
    elif taken:
        lines.append(f"    {', '.join(v for v, _ in taken)} = m.group({', '.join(str(g) for _, g in taken)})")
    lines.append("    return (" + "".join(f"{item}, " for item in items) + ")")
    exec(compile("\n".join(lines), "<dump row>", "exec"), namespace)  # noqa: S102 - generated from fixed templates
    row: Callable[[re.Match[bytes]], tuple[Any, ...]] = namespace["row"]
    return row


# ---- reading ---------------------------------------------------------------------------------------


class _Reader:
    """A window on the file: ``buf`` holds the bytes from file offset ``base`` on."""

    __slots__ = ("base", "buf", "chunk", "eof", "file")

    def __init__(self, file: BinaryIO, chunk: int) -> None:
        self.file, self.chunk = file, chunk
        self.buf, self.base, self.eof = b"", 0, False

    def seek(self, offset: int) -> int:
        """Make ``offset`` readable; returns its position in ``buf``."""
        if self.base <= offset < self.base + len(self.buf):
            return offset - self.base
        self.file.seek(offset)
        self.buf, self.base, self.eof = b"", offset, False
        self.more(0)
        return 0

    def ensure(self, pos: int, n: int) -> int:
        """Read on until ``n`` bytes from ``pos`` are in the window (or the file ends); returns the new ``pos``."""
        while len(self.buf) - pos < n and not self.eof:
            pos -= self.more(pos)
        return pos

    def more(self, keep: int) -> int:
        """Drop ``buf[:keep]`` and read on; returns ``keep`` (subtract it from positions). False at EOF."""
        if self.eof:
            return -1
        want = max(self.chunk, len(self.buf) - keep)  # doubles while one token outgrows the window
        data = self.file.read(want)
        if not data:
            self.eof = True
            data = b"\n"  # ends a last comment line without one
        self.buf = self.buf[keep:] + data
        self.base += keep
        return keep


class DumpFile:
    """One mysqldump file, read lazily: ``catalog()`` once, then ``rows()`` per table.

    Holds no row data between calls: only table names, column definitions and statement offsets.
    """

    def __init__(self, path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        self.path = os.fspath(path)
        self.chunk_size = chunk_size
        self._tables: dict[str, TableInfo] | None = None
        self._stamp: tuple[int, int] | None = None

    # -- errors ----------------------------------------------------------------------------------
    def _line_at(self, offset: int) -> int:
        line, done = 1, 0
        with open(self.path, "rb") as f:
            while done < offset:
                data = f.read(min(self.chunk_size, offset - done))
                if not data:
                    break
                line += data.count(b"\n")
                done += len(data)
        return line

    def error(self, message: str, offset: int, code: str = "dump_malformed") -> DumpError:
        return DumpError(message, code=code, offset=offset, line=self._line_at(offset), path=self.path)

    def _check_stamp(self) -> None:
        st = os.stat(self.path)
        stamp = (st.st_size, st.st_mtime_ns)
        if self._stamp is None:
            self._stamp = stamp
        elif stamp != self._stamp:
            raise DumpError("the dump file changed while it was being read", code="dump_changed", path=self.path)

    # -- the catalog pass ------------------------------------------------------------------------
    def catalog(self) -> dict[str, TableInfo]:
        """Every table the dump defines or fills, with its columns and the offsets of its INSERTs."""
        if self._tables is None:
            self._check_stamp()
            self._tables = self._scan()
        return self._tables

    def _scan(self) -> dict[str, TableInfo]:
        tables: dict[str, TableInfo] = {}
        with open(self.path, "rb") as f:
            r = _Reader(f, self.chunk_size)
            r.more(0)
            pos = 0
            while True:
                # A statement's head is decided with enough bytes in view (an INSERT's column list, say).
                pos = r.ensure(pos, LOOKAHEAD)
                if r.eof and _BLANK.match(r.buf, pos):
                    break
                m = _TOP.match(r.buf, pos)
                if m is None or (m.end() == len(r.buf) and not r.eof):
                    if r.eof:
                        raise self.error("expected an SQL statement or a comment", r.base + pos)
                    pos -= r.more(pos)
                    continue
                kind = m.lastgroup
                if kind == "insert":
                    pos = self._note_insert(r, m, tables)
                elif kind == "create":
                    name = _ident(m.group("ctable"), m.group("bare_ctable"))
                    end, begin = self._skip(r, pos, r.base + pos, keep_start=True)
                    info = tables.setdefault(name, TableInfo(name))
                    if info.columns is not None:
                        raise self.error(f"table `{name}` is created twice", r.base + begin)
                    info.columns = _parse_create(r.buf[begin:end], name, r.base + begin)
                    info.create_offset = r.base + begin
                    pos = end
                elif kind == "other":
                    if _SET_NAMES.match(r.buf, pos):
                        self._check_names(r.buf[pos : pos + 64], r.base + pos)
                    pos = self._skip(r, pos, r.base + pos)[0]
                else:  # whitespace and comments; /*!... SET NAMES x */ says the dump's charset
                    if kind == "block":
                        self._check_names(m.group(0), r.base + pos)
                    pos = m.end()
        return tables

    def _note_insert(self, r: _Reader, m: re.Match[bytes], tables: dict[str, TableInfo]) -> int:
        """Note where an INSERT is, its column list and first id; lex past its rows. Returns the position after."""
        name = _ident(m.group("table"), m.group("bare_table"))
        info = tables.setdefault(name, TableInfo(name))
        cols = _column_list(m.group("cols")) if m.group("cols") is not None else None
        head_start = r.base + m.start()
        pos = m.end()
        first_id = None
        first_col = cols[0] if cols else info.columns[0].name if info.columns else None
        if first_col == "id":
            pos = r.ensure(pos, 64)
            fm = _FIRST_ID.match(r.buf, pos)
            first_id = int(fm.group(1)) if fm else None
        info.statements.append((head_start, cols, first_id))
        return self._skip(r, pos, head_start)[0]

    def _skip(self, r: _Reader, pos: int, start_offset: int, *, keep_start: bool = False) -> tuple[int, int]:
        """Position just past the ';' ending the statement that runs from ``pos``, and where ``pos`` moved.

        With ``keep_start`` the whole statement stays in the window (for CREATE TABLE, which is parsed).
        """
        keep = pos
        while True:
            m = _BODY.match(r.buf, pos)
            assert m is not None  # the pattern matches the empty string
            end = m.end()
            if end < len(r.buf) and r.buf[end] == 0x3B:  # ';'
                return end + 1, keep
            if r.eof:
                if end < len(r.buf):
                    raise self.error(
                        "a string or quoted name that never ends (expected its closing quote)", r.base + end
                    )
                raise self.error("a statement that never ends (expected ';')", start_offset)
            # The window ends inside the statement (maybe inside a string): read on and resume there.
            shift = r.more(keep if keep_start else end)
            pos = end - shift
            keep -= shift

    def _check_names(self, text: bytes, offset: int) -> None:
        m = _SET_NAMES.search(text)
        if m and not m.group(1).lower().startswith(b"utf8"):
            raise self.error(
                f"the dump is written in {m.group(1).decode('ascii', 'replace')}; only utf8/utf8mb4 dumps are read "
                "(mysqldump's default)",
                offset,
                code="dump_unsupported_charset",
            )

    # -- public ----------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        return sorted(self.catalog())

    def table(self, name: str) -> TableInfo:
        info = self.catalog().get(name)
        if info is None:
            raise SourceError(f"the dump has no table `{name}`", code="unknown_table")
        return info

    def columns(self, table: str) -> list[str]:
        info = self.table(table)
        if info.columns is None:
            raise self.error(f"the dump has no CREATE TABLE for `{table}`", 0, code="dump_no_create")
        return [c.name for c in info.columns]

    def tuples(
        self, table: str, columns: Sequence[str], *, after_id: int | None = None, key: str | None = "id"
    ) -> Iterator[tuple[Any, ...]]:
        """The requested columns' normalized values (tuples in the order of ``columns``), in file
        order, checked to ascend by ``key``.

        Rows whose key is ``<= after_id`` are passed over. ``key=None`` reads a table without an id
        column in file order (``after_id`` must then be None).
        """
        info = self.table(table)
        check_columns(table, columns)
        if info.columns is None:
            raise self.error(
                f"the dump has no CREATE TABLE for `{table}` (needed for its column types)", 0, code="dump_no_create"
            )
        cols: list[Column] = []
        for name in columns:
            col = info.column(name)
            if col is None:
                raise SourceError(f"table `{table}` has no column `{name}`", code="unknown_column")
            cols.append(col)
        if key is None:
            if after_id is not None:
                raise SourceError("after_id needs a key column", code="no_key")
        else:
            key_col = info.column(key)
            if key_col is None or key_col.kind is not Kind.INT:
                raise SourceError(f"table `{table}` has no integer `{key}` column to order by", code="no_key")
        return self._rows(info, list(columns), cols, key, after_id)

    def _rows(
        self, info: TableInfo, names: list[str], cols: list[Column], key: str | None, after_id: int | None
    ) -> Iterator[tuple[Any, ...]]:
        self._check_stamp()
        slow = [_converter(c, info.name) for c in cols]
        kinds = [c.kind for c in cols]
        statements = info.statements[self._first_statement(info, after_id) if key == "id" else 0 :]
        last_key: int | None = None
        compiled: dict[tuple[Any, ...], Callable[[re.Match[bytes]], tuple[Any, ...]]] = {}
        with open(self.path, "rb") as f:
            r = _Reader(f, self.chunk_size)
            for offset, stmt_cols, _ in statements:
                pos = r.ensure(r.seek(offset), LOOKAHEAD)
                head = _TOP.match(r.buf, pos)
                if head is None or head.lastgroup != "insert":
                    raise self.error("expected the INSERT noted by the first pass", offset, code="dump_changed")
                pos = head.end()
                ncols, groups, fixed, key_group = self._layout(info, stmt_cols, names, slow, key=key, offset=offset)
                layout = (ncols, tuple(groups), tuple(fixed.items()))
                fast = compiled.get(layout)
                if fast is None:
                    fast = compiled[layout] = _compile_row(names, kinds, groups, fixed, slow)  # type: ignore[arg-type]
                match = _row_pattern(ncols).match
                sep_group = ncols + 1
                while True:
                    m = match(r.buf, pos)
                    if m is None:
                        pos = self._diagnose(r, pos, ncols)
                        continue
                    row_pos, pos = pos, m.end()
                    if key_group:
                        raw_key = m.group(key_group)
                        try:
                            k = int(raw_key)
                        except ValueError:
                            k = self._key(raw_key, r.base + row_pos, key)
                        if last_key is not None and k <= last_key:
                            raise self.error(
                                f"the rows of `{info.name}` are not in ascending {key} order ({key} {k} comes after "
                                f"{last_key}); re-dump it with mysqldump --order-by-primary",
                                r.base + row_pos,
                                code="dump_out_of_order",
                            )
                        last_key = k
                        if after_id is not None and k <= after_id:
                            if m.group(sep_group) is None:
                                break
                            continue
                    try:
                        row = fast(m)
                    except Exception:  # an unusual literal or a bad value: the general path decides
                        row = self._slow_row(m, r.base, names, groups, fixed=fixed, slow=slow)
                    yield row
                    if m.group(sep_group) is None:  # ';' ended the statement
                        break

    def _first_statement(self, info: TableInfo, after_id: int | None) -> int:
        """With ascending ids, the statements wholly at or below ``after_id`` need not be read at all."""
        firsts = [s[2] for s in info.statements]
        first = 0
        if after_id is None or None in firsts:
            return first
        known = [x for x in firsts if x is not None]
        if any(a >= b for a, b in itertools.pairwise(known)):
            return first
        while first + 1 < len(known) and known[first + 1] <= after_id + 1:
            first += 1
        return first

    def _key(self, raw: bytes, offset: int, key: str | None) -> int:
        try:
            value = _converter(Column(key or "id", "bigint", Kind.INT, "utf8mb4", None), "?")(raw)
        except (ValueError, LegacyError):
            value = None
        if not isinstance(value, int):
            raise self.error(f"the row's `{key}` is not an integer", offset, code="dump_bad_value")
        return value

    def _slow_row(
        self,
        m: re.Match[bytes],
        base: int,
        names: Sequence[str],
        groups: Sequence[int],
        *,
        fixed: dict[int, Any],
        slow: Sequence[Callable[[bytes], Any]],
    ) -> tuple[Any, ...]:
        """The row through the general converters; a value that cannot be read names its column and offset.

        The message never quotes the value itself (it could be anything, a secret included).
        """
        row: list[Any] = []
        for i, name in enumerate(names):
            if i in fixed:
                row.append(fixed[i])
                continue
            try:
                row.append(slow[i](m.group(groups[i])))
            except (ValueError, ArithmeticError, LegacyError, UnicodeDecodeError) as e:
                code = e.code if isinstance(e, LegacyError) else "dump_bad_value"
                reason = e.message if isinstance(e, LegacyError) else f"not a valid value ({type(e).__name__})"
                raise self.error(f"column `{name}`: {reason}", base + m.start(groups[i]), code=code) from None
        return tuple(row)

    def _layout(
        self,
        info: TableInfo,
        stmt_cols: tuple[str, ...] | None,
        names: Sequence[str],
        converters: list[Callable[[bytes], Any]],
        *,
        key: str | None,
        offset: int,
    ) -> tuple[int, list[int], dict[int, Any], int]:
        """For one INSERT: its column count, the group of each requested column, defaults, the key's group."""
        order = list(stmt_cols) if stmt_cols is not None else [c.name for c in info.columns or ()]
        where = {name: i + 1 for i, name in enumerate(order)}
        if len(where) != len(order):
            raise self.error(f"the INSERT into `{info.name}` names a column twice", offset)
        for name in where:
            if info.column(name) is None:
                raise self.error(f"the INSERT into `{info.name}` names an unknown column `{name}`", offset)
        fixed: dict[int, Any] = {}
        groups: list[int] = []
        for i, name in enumerate(names):
            groups.append(where.get(name, 0))
            if name in where:
                continue
            # A requested column that the INSERT leaves out takes its DEFAULT, as MySQL would.
            col = info.column(name)
            assert col is not None
            if col.default is None:
                raise self.error(f"the INSERT into `{info.name}` leaves out `{name}`, which has no default", offset)
            try:
                fixed[i] = converters[i](col.default)
            except (ValueError, LegacyError):
                raise self.error(
                    f"the default of `{info.name}`.`{name}` cannot be evaluated without a server",
                    offset,
                    code="dump_unsupported_default",
                ) from None
        key_group = 0
        if key is not None:
            key_group = where.get(key, 0)
            if not key_group:
                raise self.error(f"the INSERT into `{info.name}` leaves out its key `{key}`", offset)
        return len(order), groups, fixed, key_group

    def _diagnose(self, r: _Reader, pos: int, ncols: int) -> int:
        """The fast pattern failed at ``pos``: read on if the window cut the row, else say what is wrong.

        Returns the position to retry from (the window may have moved).
        """
        problem = _row_problem(r.buf, pos, ncols)
        if problem is None:  # the row runs past the window
            if r.eof:
                raise self.error("the dump ends inside an INSERT statement (expected ';')", r.base + pos)
            return pos - r.more(pos)
        at, message, code = problem
        raise self.error(message, r.base + at, code=code)


def _row_problem(buf: bytes, pos: int, ncols: int) -> tuple[int, str, str] | None:  # noqa: PLR0911
    """What is wrong with the row at ``pos``: (position, what was expected, code), or None if it is cut short."""

    def cut(p: int) -> bool:
        return not buf[p:].strip()

    m = _D_OPEN.match(buf, pos)
    if m is None:
        return None if cut(pos) else (pos, "expected '(' to start a row", "dump_malformed")
    p, count = m.end(), 0
    while True:
        v = _D_VALUE.match(buf, p)
        if v is None:
            if cut(p) or _D_QUOTE.match(buf, p):
                return None  # a string still open at the window's end (or at the end of the file)
            return (
                p,
                f"expected value {count + 1} of the row (a quoted string, a number, NULL or 0x...)",
                "dump_malformed",
            )
        if v.end() >= len(buf) - 1:
            return None
        count, p = count + 1, v.end()
        s = _D_SEP.match(buf, p)
        if s is None:
            return None if cut(p) else (p, f"expected ',' or ')' after value {count} of the row", "dump_malformed")
        p = s.end()
        if s.group(1) == b")":
            break
    if count != ncols:
        return pos, f"the row has {count} values but the INSERT's table has {ncols} columns", "dump_column_count"
    if _D_END.match(buf, p) is None:
        return None if cut(p) else (p, "expected ',' or ';' after the row", "dump_malformed")
    return pos, "the row could not be read", "dump_malformed"


def _ident(quoted: bytes | None, bare: bytes | None) -> str:
    if quoted is not None:
        return quoted.replace(b"``", b"`").decode("utf-8")
    assert bare is not None
    return bare.decode("utf-8")


def _column_list(text: bytes) -> tuple[str, ...]:
    names = tuple(_ident(m.group(1), m.group(2)) for m in _COLNAME.finditer(text))
    if not names:
        raise DumpError("an INSERT with an empty column list", code="dump_malformed")
    return names
