"""Typed errors of the legacy reading side, each with a stable ``code`` an operator or a caller can match."""

from __future__ import annotations

from migration.errors import CodedError


class LegacyError(CodedError):
    """Base of every error raised while reading the legacy GrowOperative data."""

    code = "legacy_error"


class SourceError(LegacyError):
    """A request a source cannot honour: unknown table or column, a secret column, an unsupported type."""

    code = "source_error"


class ValueConversionError(LegacyError):
    """A stored value that does not fit its column's normalization (e.g. money with more than 2 decimals)."""

    code = "bad_value"


class DumpError(LegacyError):
    """Malformed or unsupported mysqldump input, with where it happened (byte offset, line) and what was expected."""

    code = "dump_malformed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        offset: int | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.offset = offset
        self.line = line
        self.path = path
        where = []
        if path is not None:
            where.append(path)
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte {offset}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full, code=code)
        self.detail = message
