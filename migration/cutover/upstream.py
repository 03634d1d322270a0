"""Requests to Rails at ``LEGACY_UPSTREAM_URL``: a ``/v1`` request passed through unchanged, or
asked again for a shadow comparison.

Passing through keeps the method, the path and query string, the headers (minus the hop-by-hop
ones, RFC 9110 §7.6.1: ``Connection`` and what it names, ``Keep-Alive``, ``Transfer-Encoding``,
``TE``, ``Trailer``, ``Upgrade``, ``Proxy-*``) and Rails' status, reason and headers. ``Host`` is
Rails' own (Rails checks it); the client's goes in ``X-Forwarded-Host``, its address is appended to
``X-Forwarded-For``. Bodies stream both ways in 64 KiB chunks: the request's is read from the
client as Rails takes it, Rails' answer is handed to the client as it arrives
(``StreamingHttpResponse``; an async iterator under ASGI, since Django buffers a sync one there),
so neither is held whole in memory. Rails down or silent for ``LEGACY_UPSTREAM_TIMEOUT_SECONDS``
(connect, or any one read) before its status line → ``502 {"status":502,"error":"Bad Gateway"}``,
logged; after it, the body ends early (the status is sent already), logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
     "trailer", "transfer-encoding", "upgrade")
)  # fmt: skip
BAD_GATEWAY = {"status": 502, "error": "Bad Gateway"}


class UpstreamError(Exception):
    """Rails could not be asked, or its answer could not be read."""

    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    """Rails did not answer within the time allowed."""

    code = "upstream_timeout"


def _connection(timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection to Rails and the path prefix of ``LEGACY_UPSTREAM_URL`` (usually empty)."""
    parts = urlsplit(settings.LEGACY_UPSTREAM_URL)
    host = parts.hostname or "127.0.0.1"
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(host, parts.port, timeout=timeout), parts.path.rstrip("/")


def _upstream_host() -> str:
    return urlsplit(settings.LEGACY_UPSTREAM_URL).netloc.rpartition("@")[2]


def _without_hop_by_hop(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    named = {
        token.strip().lower() for name, value in headers if name.lower() == "connection" for token in value.split(",")
    }
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def request_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The client's headers as Rails should get them."""
    headers: list[tuple[str, str]] = []
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.replace("_", "-").title()
        else:
            continue
        headers.append((name, str(value)))
    dropped = ("host", "x-forwarded-for", "x-forwarded-host")
    headers = [(n, v) for n, v in _without_hop_by_hop(headers) if n.lower() not in dropped]
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR")
    address = str(request.META.get("REMOTE_ADDR") or "")
    headers.append(("X-Forwarded-For", f"{forwarded_for}, {address}" if forwarded_for else address))
    headers.append(("X-Forwarded-Host", request.get_host()))
    if "x-forwarded-proto" not in {n.lower() for n, _ in headers}:
        headers.append(("X-Forwarded-Proto", request.scheme or "http"))
    headers.append(("Host", _upstream_host()))
    return [(n, v) for n, v in headers if v != ""]


def _request_body(request: HttpRequest) -> tuple[Iterator[bytes] | None, bool]:
    """The client's body as chunks read on demand, and whether it goes chunked (no length known)."""
    length = str(request.META.get("CONTENT_LENGTH") or "").strip()
    if length == "0" or (request.method in ("GET", "HEAD", "DELETE", "OPTIONS") and not length):
        return None, False  # no body (a Content-Length: 0 goes on as it came, never beside a chunked one)
    has_length = bool(length)

    def chunks() -> Iterator[bytes]:
        while True:
            chunk = request.read(CHUNK)
            if not chunk:
                return
            yield chunk

    return chunks(), not has_length


@dataclass
class Answer:
    """Rails' answer, its body still to be read."""

    connection: http.client.HTTPConnection
    response: http.client.HTTPResponse

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self.response.read(CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            self.connection.close()

    def headers(self) -> list[tuple[str, str]]:
        return _without_hop_by_hop(list(self.response.getheaders()))


def _shown(path: str) -> str:
    """The path as error messages (logs, diff rows) show it: without the query string, where a
    token or a password may travel."""
    return path.partition("?")[0]


def send(
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: Iterator[bytes] | bytes | None,
    *,
    chunked: bool,
    timeout: float,
) -> Answer:
    """Send one request to Rails and read its status line and headers (not yet the body)."""
    connection, prefix = _connection(timeout)
    try:
        connection.putrequest(method, prefix + path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if chunked and body is not None:
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        if isinstance(body, bytes):
            connection.send(body)
        elif body is not None:
            for chunk in body:
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                connection.send(b"0\r\n\r\n")
        return Answer(connection, connection.getresponse())
    except TimeoutError as exc:
        connection.close()
        raise UpstreamTimeout(f"Rails did not answer {method} {_shown(path)} within {timeout:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise UpstreamError(f"Rails could not be asked {method} {_shown(path)}: {exc!r}") from exc


def forward(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Pass ``request`` through to Rails unchanged and stream Rails' answer back."""
    body, chunked = _request_body(request)
    try:
        answer = send(
            request.method or "GET",
            request.get_full_path(),
            request_headers(request),
            body,
            chunked=chunked,
            timeout=settings.LEGACY_UPSTREAM_TIMEOUT_SECONDS,
        )
    except UpstreamError as exc:
        logger.warning("legacy upstream: %s", exc)
        return HttpResponse(json.dumps(BAD_GATEWAY), status=502, content_type="application/json")
    streamed: Iterator[bytes] | AsyncIterator[bytes]
    streamed = _async_chunks(answer) if isinstance(request, ASGIRequest) else _sync_chunks(answer)
    response = StreamingHttpResponse(streamed, status=answer.response.status, reason=answer.response.reason)
    del response["Content-Type"]  # Rails' own, or none
    for name, value in answer.headers():
        if name.lower() == "set-cookie":
            response.cookies.load(value)
        elif name in response:
            response[name] = f"{response[name]}, {value}"
        else:
            response[name] = value
    return response


def _sync_chunks(answer: Answer) -> Iterator[bytes]:
    try:
        yield from answer.chunks()
    except (OSError, http.client.HTTPException) as exc:  # timeouts included
        # The status line is sent already: all that can be done is to end the body early.
        logger.warning("legacy upstream: Rails' answer broke off (%r); the answer is cut short", exc)
    finally:
        answer.connection.close()


async def _async_chunks(answer: Answer) -> AsyncIterator[bytes]:
    chunks = answer.chunks()
    read = sync_to_async(lambda: next(chunks, b""), thread_sensitive=False)
    try:
        while True:
            try:
                chunk = await read()
            except (OSError, http.client.HTTPException) as exc:
                logger.warning("legacy upstream: Rails' answer broke off (%r); the answer is cut short", exc)
                return
            if not chunk:
                return
            yield chunk
    finally:
        answer.connection.close()


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    elapsed_ms: int


def fetch(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes, *, timeout: float, max_bytes: int
) -> Fetched:
    """Ask Rails and read its whole answer within ``timeout`` seconds (a shadow comparison)."""
    started = time.monotonic()
    deadline = started + timeout
    answer = send(method, path, headers, body or None, chunked=False, timeout=timeout)
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout(f"Rails did not finish answering {method} {_shown(path)} within {timeout:g} s")
            if answer.connection.sock is not None:
                answer.connection.sock.settimeout(remaining)
            chunk = answer.response.read1(CHUNK) if hasattr(answer.response, "read1") else answer.response.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(f"Rails' answer to {method} {_shown(path)} is over {max_bytes} bytes")
            parts.append(chunk)
    except TimeoutError as exc:
        raise UpstreamTimeout(f"Rails did not finish answering {method} {_shown(path)} within {timeout:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise UpstreamError(f"Rails' answer to {method} {_shown(path)} could not be read: {exc!r}") from exc
    finally:
        answer.connection.close()
    return Fetched(answer.response.status, b"".join(parts), int((time.monotonic() - started) * 1000))
