"""Strict readers for the fields of one JSON object (already inside the JCS profile).

Each object must have exactly the listed fields: an extra one is ``event_unknown_field``, a
missing one ``event_missing_field``; a field of the wrong JSON type is ``event_wrong_type``
(``true`` is not an integer); a value outside its set, range, length or pattern is
``event_bad_value``. ``details.field`` is the dotted path (``body.limit``).
"""

from __future__ import annotations

import re
from typing import Any

from foaf.bilateral.jcs import MAX_SAFE_INTEGER

from .errors import EventError, RelayErrorCode

JSON = dict[str, Any]

_HEX = re.compile(r"[0-9a-f]*")
# Control characters (Unicode category Cc): never in a one-line string; text keeps \t and \n.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_TAB_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def wrong_type(field: str, expected: str) -> EventError:
    return EventError(RelayErrorCode.EVENT_WRONG_TYPE, f"{field} must be {expected}", field=field)


def bad_value(field: str, why: str) -> EventError:
    return EventError(RelayErrorCode.EVENT_BAD_VALUE, f"{field}: {why}", field=field)


def check_fields(obj: object, path: str, fields: tuple[str, ...]) -> JSON:
    """``obj`` as a dict with exactly ``fields``: unknown fields first (sorted), then missing ones (in order)."""
    if type(obj) is not dict:
        raise wrong_type(path or "event", "an object")
    extra = sorted(obj.keys() - set(fields))
    if extra:
        field = _path(path, extra[0])
        raise EventError(RelayErrorCode.EVENT_UNKNOWN_FIELD, f"no field {field} in this object", field=field)
    for name in fields:
        if name not in obj:
            field = _path(path, name)
            raise EventError(RelayErrorCode.EVENT_MISSING_FIELD, f"{field} is required", field=field)
    return obj


class Reader:
    """Typed access to the fields of an object checked by ``check_fields``."""

    __slots__ = ("_obj", "_path")

    def __init__(self, obj: object, path: str, fields: tuple[str, ...]) -> None:
        self._obj = check_fields(obj, path, fields)
        self._path = path

    def field(self, name: str) -> str:
        return _path(self._path, name)

    def raw(self, name: str) -> Any:
        return self._obj[name]

    def integer(self, name: str, *, minimum: int = 0, maximum: int = MAX_SAFE_INTEGER) -> int:
        value = self._obj[name]
        if type(value) is not int:
            raise wrong_type(self.field(name), "an integer")
        if not minimum <= value <= maximum:
            raise bad_value(self.field(name), f"must be in [{minimum}, {maximum}]")
        return value

    def optional_integer(self, name: str, *, minimum: int = 0, maximum: int = MAX_SAFE_INTEGER) -> int | None:
        if self._obj[name] is None:
            return None
        return self.integer(name, minimum=minimum, maximum=maximum)

    def boolean(self, name: str) -> bool:
        value = self._obj[name]
        if type(value) is not bool:
            raise wrong_type(self.field(name), "true or false")
        return value

    def string(self, name: str) -> str:
        value = self._obj[name]
        if type(value) is not str:
            raise wrong_type(self.field(name), "a string")
        return value

    def hex(self, name: str, nbytes: int) -> str:
        value = self.string(name)
        if len(value) != 2 * nbytes or not _HEX.fullmatch(value):
            raise bad_value(self.field(name), f"must be {2 * nbytes} lowercase hex digits")
        return value

    def pattern(self, name: str, regex: re.Pattern[str], what: str) -> str:
        value = self.string(name)
        if not regex.fullmatch(value):
            raise bad_value(self.field(name), f"must be {what}")
        return value

    def optional_pattern(self, name: str, regex: re.Pattern[str], what: str) -> str | None:
        if self._obj[name] is None:
            return None
        return self.pattern(name, regex, what)

    def text(self, name: str, *, min_bytes: int, max_bytes: int, multiline: bool = False) -> str:
        value = self.string(name)
        size = len(value.encode("utf-8"))
        if not min_bytes <= size <= max_bytes:
            raise bad_value(self.field(name), f"must be {min_bytes} to {max_bytes} bytes of UTF-8")
        forbidden = _CONTROL_EXCEPT_TAB_NEWLINE if multiline else _CONTROL
        if forbidden.search(value):
            raise bad_value(self.field(name), "must not contain control characters")
        return value

    def array(self, name: str, *, max_items: int) -> list[Any]:
        value = self._obj[name]
        if type(value) is not list:
            raise wrong_type(self.field(name), "an array")
        if len(value) > max_items:
            raise bad_value(self.field(name), f"at most {max_items} items")
        return value
