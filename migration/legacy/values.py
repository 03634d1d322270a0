"""Column kinds of the legacy schema and the one set of value normalizations both sources share.

A column's kind follows from its SQL type (``decimal(10,2)`` is money in integer cents,
``tinyint(1)`` a flag, ...). The converters here take the value as MySQL writes it in text
(``'12.25'``, ``'2025-07-17 19:30:54'``): the dump parser gets that text from the file and the
live source asks mysqlclient for it, so both produce the same Python values by construction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from enum import Enum

from migration.legacy.errors import SourceError, ValueConversionError

#: Columns of ``users`` that hold members' custodial keys in plain text: never selected, parsed or yielded.
SECRET_COLUMNS: dict[str, frozenset[str]] = {"users": frozenset({"foaf_private_key", "foaf_seed_phrase"})}


class Kind(Enum):
    """What Python type a column's values become."""

    INT = "int"  # integer types (not tinyint(1)) -> int
    BOOL = "bool"  # tinyint(1), bool -> bool
    CENTS = "cents"  # decimal(p,2) money -> int cents, exactly
    DECIMAL = "decimal"  # other decimals (quantities, decimal(10,5)) -> decimal.Decimal
    FLOAT = "float"  # float, double -> float
    DATETIME = "datetime"  # datetime, timestamp -> naive datetime (UTC as stored); zero dates -> None
    DATE = "date"  # date -> datetime.date
    TEXT = "text"  # char, varchar, *text, enum, set -> str
    JSON = "json"  # json -> the JSON text as stored (str)
    BYTES = "bytes"  # binary, varbinary, *blob -> bytes


_TYPE = re.compile(r"\s*([a-zA-Z]+)\s*(?:\(([^)]*)\))?", re.ASCII)
_KINDS: dict[str, Kind] = {
    **dict.fromkeys(("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"), Kind.INT),
    **dict.fromkeys(("bool", "boolean"), Kind.BOOL),
    **dict.fromkeys(("decimal", "numeric", "dec", "fixed"), Kind.DECIMAL),
    **dict.fromkeys(("float", "double", "real"), Kind.FLOAT),
    **dict.fromkeys(("datetime", "timestamp"), Kind.DATETIME),
    "date": Kind.DATE,
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"), Kind.TEXT),
    "json": Kind.JSON,
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"), Kind.BYTES),
}


def kind_of(column_type: str, *, table: str = "?", column: str = "?") -> Kind:
    """The kind of a column from its SQL type as in ``CREATE TABLE`` or ``information_schema.COLUMNS.COLUMN_TYPE``."""
    m = _TYPE.match(column_type)
    kind = _KINDS.get(m.group(1).lower()) if m else None
    if m is None or kind is None:
        raise SourceError(
            f"column {table}.{column} has type {column_type!r}, which is not supported", code="unsupported_type"
        )
    params = (m.group(2) or "").replace(" ", "")
    if kind is Kind.INT and m.group(1).lower() == "tinyint" and params == "1":
        return Kind.BOOL  # tinyint(1) is how Rails declares a boolean
    if kind is Kind.DECIMAL and params.partition(",")[2] == "2":
        return Kind.CENTS  # DECIMAL(p,2) is money: integer cents
    return kind


_CENTS = re.compile(r"(-?)(\d+)(?:\.(\d*))?")


def cents(text: str) -> int:
    """``'-12.25'`` -> ``-1225``; exact (no float). More than 2 nonzero decimals is refused."""
    # Fast path: what MySQL writes for DECIMAL(p,2), e.g. '12.25' or '-0.50'.
    if len(text) > 3 and text[-3] == "." and text[-2:].isdigit():
        try:
            return int(text[:-3] + text[-2:])
        except ValueError:
            pass
    m = _CENTS.fullmatch(text.strip())
    if m is None:
        raise ValueConversionError(f"{text!r} is not a decimal amount", code="bad_money")
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    if len(frac) > 2:
        if frac[2:].strip("0"):
            raise ValueConversionError(
                f"{text!r} has more than 2 decimals: money is kept in whole cents", code="money_precision"
            )
        frac = frac[:2]
    value = int(whole) * 100 + int(frac.ljust(2, "0"))
    return -value if sign else value


def decimal(text: str) -> Decimal:
    """``'3.00000'`` -> ``Decimal('3.00000')`` (the scale as stored is kept)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueConversionError(f"{text!r} is not a decimal number", code="bad_decimal") from None
    if not value.is_finite():
        raise ValueConversionError(f"{text!r} is not a finite decimal number", code="bad_decimal")
    return value


def datetime(text: str) -> dt.datetime | None:
    """``'2025-07-17 19:30:54'`` -> a naive datetime (UTC, as stored); MySQL's zero date -> None."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        if text.startswith("0000-00-00"):
            return None
        raise ValueConversionError(f"{text!r} is not a DATETIME", code="bad_datetime") from None
    if value.tzinfo is not None:
        raise ValueConversionError(f"{text!r} carries a time zone; DATETIME values are naive UTC", code="bad_datetime")
    return value


def date(text: str) -> dt.date | None:
    """``'2025-07-17'`` -> a date; MySQL's zero date -> None."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        if text.startswith("0000-00-00"):
            return None
        raise ValueConversionError(f"{text!r} is not a DATE", code="bad_date") from None


def boolean(value: int) -> bool:
    """A tinyint(1) flag: 0 -> False, anything else -> True (MySQL's truth)."""
    return value != 0


# MySQL's latin1 is Windows-1252 with the five bytes cp1252 leaves undefined mapped to C1 controls.
_CP1252_UPPER = bytes(range(0x80, 0xA0)).decode("cp1252", errors="replace")
_LATIN1_FIX = {0x80 + i: ch for i, ch in enumerate(_CP1252_UPPER) if ch != "\ufffd"}


def decode_charset(data: bytes, charset: str) -> str:
    """Bytes of a text column in its MySQL character set (utf8/utf8mb4, latin1, ascii) as str."""
    cs = charset.lower()
    if cs.startswith("utf8"):
        return data.decode("utf-8")
    if cs == "latin1":
        return data.decode("latin-1").translate(_LATIN1_FIX)
    if cs in ("ascii", "binary"):
        return data.decode("ascii" if cs == "ascii" else "utf-8")
    raise SourceError(f"character set {charset!r} is not supported", code="unsupported_charset")


def check_columns(table: str, columns: Sequence[str]) -> None:
    """Refuse an empty, repeated or secret column request, the same way for every source."""
    if isinstance(columns, str) or not columns:
        raise SourceError("name the columns to read as a non-empty list", code="bad_columns")
    if len(set(columns)) != len(columns):
        raise SourceError(f"a column of `{table}` is requested twice", code="bad_columns")
    secret = SECRET_COLUMNS.get(table, frozenset()).intersection(columns)
    if secret:
        raise SourceError(
            f"`{table}`.{', '.join(sorted(secret))} hold members' custodial keys and are never read",
            code="secret_column",
        )
