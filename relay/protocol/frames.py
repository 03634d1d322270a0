"""Frames a client sends on the relay's WebSocket, strictly decoded (docs/relay.md §15).

A frame is one JSON text (the bilateral JSON profile: no floats, no duplicate names, depth ≤ 16)
holding an object with a string ``type``. Checks, in order, each with its code:

1. more than ``MAX_FRAME_BYTES`` bytes of UTF-8 → ``frame_too_large``
2. not JSON inside the profile → ``invalid_json`` (``reason``: the bilateral code)
3. not an object with a string ``type`` → ``invalid_message``
4. ``type`` not one of ``FRAME_TYPES`` → ``unknown_type``
5. the type's fields: unknown, then missing, then values → ``invalid_message`` (``field``)

Every frame may carry ``id`` (a string of at most 64 characters or an integer), echoed in the
answer and in an error about that frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from foaf.bilateral import jcs
from foaf.bilateral.errors import RemoteProtocolError
from foaf.bilateral.jcs import MAX_SAFE_INTEGER

from .errors import RelayErrorCode, RequestError
from .kinds import LISTING_TYPES, MAX_CATEGORY_CHARS

MAX_FRAME_BYTES = 64 * 1024
MAX_ID_CHARS = 64
MAX_SUB_CHARS = 32
MAX_ACK_IDS = 500
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8
MAX_DEPTH = 3

_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{128}")
_SUB = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_SUB_CHARS}}}")
_CATEGORY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

FrameId = str | int | None


class Stream(StrEnum):
    MAILBOX = "mailbox"
    GRAPH = "graph"
    LISTINGS = "listings"


@dataclass(frozen=True)
class Ping:
    id: FrameId


@dataclass(frozen=True)
class Auth:
    id: FrameId
    key: str
    sig: str


@dataclass(frozen=True)
class GraphFilter:
    """Public graph events: all of them (``key`` None), or those about an edge with a party
    closer than ``depth`` hops to ``key`` over served edges."""

    key: str | None
    depth: int


@dataclass(frozen=True)
class ListingFilter:
    """``listing`` events whose title, text or category contain every word (case-folded), in
    this category and of this type when given; every ``listing_withdrawal``."""

    words: tuple[str, ...]
    category: str | None
    type: str | None


@dataclass(frozen=True)
class Subscribe:
    id: FrameId
    sub: str
    stream: Stream
    filter: GraphFilter | ListingFilter | None  # None for the mailbox
    since: int | None  # resume after this cursor (mailbox: seq); None: live only


@dataclass(frozen=True)
class Unsubscribe:
    id: FrameId
    sub: str


@dataclass(frozen=True)
class Ack:
    id: FrameId
    ids: tuple[str, ...]


Frame = Ping | Auth | Subscribe | Unsubscribe | Ack


def _invalid(field: str, why: str) -> RequestError:
    return RequestError(RelayErrorCode.INVALID_MESSAGE, f"{field}: {why}", field=field)


def _fields(obj: dict[str, Any], path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    prefix = f"{path}." if path else ""
    extra = sorted(obj.keys() - set(required) - set(optional))
    if extra:
        raise _invalid(prefix + extra[0], "no such field")
    for name in required:
        if name not in obj:
            raise _invalid(prefix + name, "is required")


def _string(value: object, field: str, pattern: re.Pattern[str], what: str) -> str:
    if type(value) is not str or not pattern.fullmatch(value):
        raise _invalid(field, f"must be {what}")
    return value


def _integer(value: object, field: str, minimum: int, maximum: int = MAX_SAFE_INTEGER) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise _invalid(field, f"must be an integer in [{minimum}, {maximum}]")
    return value


def _frame_id(obj: dict[str, Any]) -> FrameId:
    value = obj.get("id")
    if value is None or (type(value) is int) or (type(value) is str and len(value) <= MAX_ID_CHARS):
        return value
    raise _invalid("id", f"must be a string of at most {MAX_ID_CHARS} characters or an integer")


def frame_id_of(text: str) -> FrameId:
    """The ``id`` of a frame, if it can be read at all (for the error about a frame that failed)."""
    try:
        obj = jcs.parse(text.encode("utf-8"))
        return _frame_id(obj)
    except (RemoteProtocolError, RequestError, UnicodeEncodeError):
        return None


def load_frame(text: str) -> dict[str, Any]:
    """Steps 1-3: the frame as a JSON object with a string ``type``."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(RelayErrorCode.INVALID_JSON, "not UTF-8", reason="INVALID_UTF8") from None
    if len(data) > MAX_FRAME_BYTES:
        raise RequestError(
            RelayErrorCode.FRAME_TOO_LARGE, f"{len(data)} bytes; frames are limited to {MAX_FRAME_BYTES}"
        )
    try:
        obj = jcs.parse(data)
    except RemoteProtocolError as e:
        if e.code.value == "WRONG_TYPE":
            raise RequestError(
                RelayErrorCode.INVALID_MESSAGE, "a frame is a JSON object with a string 'type'"
            ) from None
        raise RequestError(
            RelayErrorCode.INVALID_JSON, f"the frame is not JSON: {e.detail or e.code.value}", reason=e.code.value
        ) from None
    if type(obj.get("type")) is not str:
        raise RequestError(RelayErrorCode.INVALID_MESSAGE, "a frame is a JSON object with a string 'type'")
    return obj


def _graph_filter(obj: object) -> GraphFilter:
    if obj is None:
        return GraphFilter(None, 1)
    if type(obj) is not dict:
        raise _invalid("filter", "must be an object")
    _fields(obj, "filter", (), ("key", "depth"))
    key = obj.get("key")
    if key is not None:
        key = _string(key, "filter.key", _HEX32, "64 lowercase hex digits")
    depth = _integer(obj.get("depth", 1), "filter.depth", 1, MAX_DEPTH)
    if key is None and "depth" in obj:
        raise _invalid("filter.depth", "needs filter.key")
    return GraphFilter(key, depth)


def _listing_filter(obj: object) -> ListingFilter:
    if obj is None:
        return ListingFilter((), None, None)
    if type(obj) is not dict:
        raise _invalid("filter", "must be an object")
    _fields(obj, "filter", (), ("q", "category", "type"))
    q = obj.get("q", "")
    if type(q) is not str or len(q) > MAX_QUERY_CHARS:
        raise _invalid("filter.q", f"must be a string of at most {MAX_QUERY_CHARS} characters")
    category = obj.get("category")
    if category is not None:
        category = _string(category, "filter.category", _CATEGORY, "a category (lower-case words joined by -)")
        if len(category) > MAX_CATEGORY_CHARS:
            raise _invalid("filter.category", f"at most {MAX_CATEGORY_CHARS} characters")
    listing_type = obj.get("type")
    if listing_type is not None and (type(listing_type) is not str or listing_type not in LISTING_TYPES):
        raise _invalid("filter.type", f"must be one of {', '.join(sorted(LISTING_TYPES))}")
    return ListingFilter(tuple(q.casefold().split()[:MAX_QUERY_WORDS]), category, listing_type)


def _subscribe(obj: dict[str, Any], frame_id: FrameId) -> Subscribe:
    _fields(obj, "", ("type", "sub", "stream"), ("id", "filter", "since"))
    sub = _string(obj["sub"], "sub", _SUB, f"1 to {MAX_SUB_CHARS} characters of A-Z a-z 0-9 _ . -")
    if type(obj["stream"]) is not str or obj["stream"] not in set(Stream):
        raise _invalid("stream", f"must be one of {', '.join(s.value for s in Stream)}")
    stream = Stream(obj["stream"])
    since = obj.get("since")
    if since is not None:
        since = _integer(since, "since", 0)
    flt: GraphFilter | ListingFilter | None
    if stream is Stream.MAILBOX:
        if obj.get("filter") not in (None, {}):
            raise _invalid("filter", "the mailbox stream takes no filter")
        flt = None
    elif stream is Stream.GRAPH:
        flt = _graph_filter(obj.get("filter"))
    else:
        flt = _listing_filter(obj.get("filter"))
    return Subscribe(frame_id, sub, stream, flt, since)


def _ack(obj: dict[str, Any], frame_id: FrameId) -> Ack:
    _fields(obj, "", ("type", "ids"), ("id",))
    ids = obj["ids"]
    if type(ids) is not list or not 1 <= len(ids) <= MAX_ACK_IDS:
        raise _invalid("ids", f"must be an array of 1 to {MAX_ACK_IDS} message ids")
    return Ack(frame_id, tuple(_string(v, f"ids[{i}]", _HEX32, "a message id") for i, v in enumerate(ids)))


def parse_frame(text: str) -> Frame:
    """A client frame, checked completely; raises ``RequestError`` with the first failure."""
    obj = load_frame(text)
    frame_type = obj["type"]
    if frame_type not in FRAME_TYPES:
        raise RequestError(RelayErrorCode.UNKNOWN_TYPE, f"unknown frame type {frame_type[:64]!r}", field="type")
    frame_id = _frame_id(obj)
    if frame_type == "ping":
        _fields(obj, "", ("type",), ("id",))
        return Ping(frame_id)
    if frame_type == "auth":
        _fields(obj, "", ("type", "key", "sig"), ("id",))
        key = _string(obj["key"], "key", _HEX32, "64 lowercase hex digits")
        return Auth(frame_id, key, _string(obj["sig"], "sig", _HEX64, "128 lowercase hex digits"))
    if frame_type == "subscribe":
        return _subscribe(obj, frame_id)
    if frame_type == "unsubscribe":
        _fields(obj, "", ("type", "sub"), ("id",))
        return Unsubscribe(frame_id, _string(obj["sub"], "sub", _SUB, "a subscription name"))
    return _ack(obj, frame_id)


FRAME_TYPES = frozenset({"ping", "auth", "subscribe", "unsubscribe", "ack"})

__all__ = [
    "FRAME_TYPES",
    "MAX_ACK_IDS",
    "MAX_FRAME_BYTES",
    "Ack",
    "Auth",
    "Frame",
    "FrameId",
    "GraphFilter",
    "ListingFilter",
    "Ping",
    "Stream",
    "Subscribe",
    "Unsubscribe",
    "frame_id_of",
    "parse_frame",
]
