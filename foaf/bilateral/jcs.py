"""Canonical JSON (RFC 8785, JCS) under the FOAF restrictive profile, and a strict parser.

Profile: objects, arrays, strings, integers within +-(2**53-1), true, false, null. No floats
(no fraction, no exponent, no NaN/Infinity), ASCII property names, no duplicate keys, no lone
surrogates, nesting depth <= MAX_DEPTH, messages <= MAX_MESSAGE_BYTES.

Under this profile JCS is exactly: keys sorted by code point (= UTF-16 code units for ASCII),
no whitespace, integers in shortest decimal form, strings with only `"`, `\\`, and U+0000..U+001F
escaped (\\b \\t \\n \\f \\r short forms, others as \\u00xx lowercase), everything else as raw UTF-8.
That is what the stdlib C encoder emits with the options in `_ENCODER`, so `canonicalize` validates
the profile in one walk and lets the C encoder write the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import ErrorCode, remote

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 16
MAX_MESSAGE_BYTES = 65536

JSONValue = Any  # dict[str, JSONValue] | list[JSONValue] | str | int | bool | None

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, check_circular=False
)


# The encoder's own string writer (with ensure_ascii=False): quotes and escapes exactly as `_ENCODER`.
encode_string: Callable[[str], str] = json.encoder.encode_basestring


def _check(value: JSONValue, depth: int) -> None:
    """Raise unless `value` is inside the profile (used for values built by callers)."""
    t = type(value)
    if t is dict or t is list:
        _check_container(value, depth)
    elif t is str:
        if not value.isascii():
            _check_str(value)
    elif t is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise remote(ErrorCode.INTEGER_OUT_OF_RANGE, str(value))
    elif t is float:
        raise remote(ErrorCode.FLOAT_NOT_ALLOWED, repr(value))
    elif not (value is None or t is bool):
        raise remote(ErrorCode.WRONG_TYPE, f"{t.__name__} is not JSON")


def _check_container(value: dict[Any, Any] | list[Any], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise remote(ErrorCode.NESTING_TOO_DEEP)
    if isinstance(value, list):
        for v in value:
            _check(v, depth + 1)
        return
    for k, v in value.items():
        if type(k) is not str:
            raise remote(ErrorCode.WRONG_TYPE, "property name is not a string")
        if not k.isascii():
            raise remote(ErrorCode.NON_ASCII_KEY, repr(k))
        _check(v, depth + 1)


def _check_str(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise remote(ErrorCode.LONE_SURROGATE, repr(s)) from None


def canonicalize(value: JSONValue) -> bytes:
    """JCS bytes of `value`; raises RemoteProtocolError if `value` is outside the profile."""
    _check(value, 0)
    return _ENCODER.encode(value).encode("utf-8")


def canonicalize_trusted(value: JSONValue) -> bytes:
    """JCS bytes of a value the core built itself from validated fields (no profile walk)."""
    return _ENCODER.encode(value).encode("utf-8")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise remote(ErrorCode.DUPLICATE_KEY, repr(k))
            seen.add(k)
    for k in d:
        if not k.isascii():
            raise remote(ErrorCode.NON_ASCII_KEY, repr(k))
    return d


def _no_float(s: str) -> Any:
    raise remote(ErrorCode.FLOAT_NOT_ALLOWED, s)


def _int(s: str) -> int:
    if len(s) > 17:  # longer than any safe integer: refuse before int() does any work
        raise remote(ErrorCode.INTEGER_OUT_OF_RANGE, s[:40])
    v = int(s)
    if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        raise remote(ErrorCode.INTEGER_OUT_OF_RANGE, s)
    return v


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_no_float, parse_int=_int, parse_constant=_no_float, strict=True
)


def _walk(value: Any, depth: int) -> None:
    t = type(value)
    if t is dict:
        if depth >= MAX_DEPTH:
            raise remote(ErrorCode.NESTING_TOO_DEEP)
        for v in value.values():
            _walk(v, depth + 1)
    elif t is list:
        if depth >= MAX_DEPTH:
            raise remote(ErrorCode.NESTING_TOO_DEEP)
        for v in value:
            _walk(v, depth + 1)
    elif t is str and not value.isascii():
        _check_str(value)


def parse(data: bytes) -> dict[str, Any]:
    """Parse untrusted bytes into a JSON object inside the profile.

    Raises only RemoteProtocolError (codes MESSAGE_TOO_LARGE, INVALID_UTF8, INVALID_JSON,
    DUPLICATE_KEY, NON_ASCII_KEY, LONE_SURROGATE, FLOAT_NOT_ALLOWED, INTEGER_OUT_OF_RANGE,
    NESTING_TOO_DEEP, WRONG_TYPE when the top level is not an object)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise remote(ErrorCode.WRONG_TYPE, "message must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise remote(ErrorCode.MESSAGE_TOO_LARGE, f"{len(data)} bytes")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise remote(ErrorCode.INVALID_UTF8) from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise remote(ErrorCode.NESTING_TOO_DEEP) from None
    except ValueError as e:  # JSONDecodeError is a ValueError
        if isinstance(e, json.JSONDecodeError):
            raise remote(ErrorCode.INVALID_JSON, e.msg) from None
        raise remote(ErrorCode.INVALID_JSON, str(e)) from None
    if type(value) is not dict:
        raise remote(ErrorCode.WRONG_TYPE, "top level must be an object")
    # no lone surrogates can hide in ASCII-escaped text unless a backslash-u escape is present
    if "\\u" in text or not text.isascii() or text.count("{") + text.count("[") >= MAX_DEPTH:
        _walk(value, 0)
    return value
