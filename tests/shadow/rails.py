"""A stand-in for the Rails app: a real threaded HTTP server on 127.0.0.1 that answers from the
legacy MariaDB database a test loaded, as Rails would (API.md), for the few calls the cut-over
tests need. Not a mock: it reads and writes MariaDB over its own connections, and every request it
gets is recorded for the tests to check (method, path, headers, body size).

- ``GET /v1/trustlines``, ``GET /v1/trustlines/:id``: TRUSTLINE from the Rails columns (a subset
  of its fields: the comparison checks what Rails sends);
- ``POST /v1/trustlines/:id/payment``: Rails' write: a ``trustline_transactions`` row and the
  cached balance, in one MariaDB transaction;
- ``GET /v1/pending_payments``: answers only after ``slow_seconds`` (a Rails too slow to compare);
- ``GET /v1/admin/credit_loops``: one loop of Rails' own analyzer;
- ``GET /v1/marketplace/items``: a large body sent in chunks (chunked transfer encoding);
- ``GET /v1/marketplace/broken``: a body that stops short of its ``Content-Length``;
- ``POST /v1/orders``: reads the request body as it comes and answers its size and digest;
- ``GET /v1/users/handle_available``: ``{"available": ...}``;
- anything else: Rails' routing 404.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import MySQLdb

from migration.legacy_db import connection_args

MARKET_CHUNKS = 48  # x 64 KiB: 3 MiB, well over a buffered answer's size
NOT_FOUND = {"status": 404, "error": "Not Found"}
CREDIT_PREFIXES = ("/v1/trustlines", "/v1/pending_payments", "/v1/foaf/", "/v1/admin/credit_loops")


def market_chunk(i: int) -> bytes:
    return (f"[{i:04d}]".encode() * (64 * 1024 // 6 + 1))[: 64 * 1024]


class StandInRails:
    def __init__(self, legacy_url: str, secret: str) -> None:
        self.legacy_url = legacy_url
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.slow_seconds = 0.0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"rails": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> StandInRails:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def credit_writes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["method"] != "GET" and r["path"].startswith(CREDIT_PREFIXES)]

    def db(self) -> Any:
        return MySQLdb.connect(**connection_args(self.legacy_url))

    def member(self, authorization: str | None) -> int | None:
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        claims = jwt.decode(authorization[7:], self.secret, algorithms=["HS256"], options={"verify_aud": False})
        return int(claims["legacy_uid"])


def _dollars(value: Decimal) -> float:
    return float(value)


def trustline(row: tuple[Any, ...], caller: int) -> dict[str, Any]:
    line_id, a, b, a_to_b, b_to_a, balance, active = row
    mine = caller == a
    my_limit, their_limit = (a_to_b, b_to_a) if mine else (b_to_a, a_to_b)
    my_balance = balance if mine else -balance
    return {
        "id": line_id,
        "other_user": {"id": b if mine else a},
        "my_credit_limit": _dollars(my_limit),
        "their_credit_limit": _dollars(their_limit),
        "my_available_credit": _dollars(my_limit - max(my_balance, Decimal(0))),
        "current_balance": _dollars(my_balance),
        "is_active": bool(active),
    }


LINE_COLUMNS = "id, user_a_id, user_b_id, credit_limit_a_to_b, credit_limit_b_to_a, current_balance, is_active"


class _Handler(BaseHTTPRequestHandler):
    rails: StandInRails
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def handle(self) -> None:
        # A client that gave up (a shadow comparison's timeout) while Rails was slow: no traceback.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    # -------------------------------------------------------------- plumbing
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        self.rails.record(
            {
                "method": self.command,
                "path": parts.path,
                "query": parts.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        )
        route = getattr(self, f"_{self.command.lower()}", None)
        try:
            if route is None or not route(parts.path, parse_qs(parts.query), body):
                self._send(404, NOT_FOUND)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a shadow comparison's timeout)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    # -------------------------------------------------------------- Rails' answers
    def _get(self, path: str, query: dict[str, list[str]], body: bytes) -> bool:
        caller = self.rails.member(self.headers.get("Authorization"))
        if path == "/v1/marketplace/items":
            self._market(query)
            return True
        if path == "/v1/marketplace/broken":  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
            return True
        if path == "/v1/users/handle_available":
            self._send(200, {"available": query.get("handle", [""])[0] != "idaquist2"})
            return True
        if path == "/v1/admin/credit_loops":
            loop = {"operation_id": 9001, "detected_at": "2026-11-20T10:00:00Z", "cancellable_amount": 5.0,
                    "hop_count": 3, "path": [{"address": "0xa2", "name": "idaquist2"}]}  # fmt: skip
            self._send(200, {"credloops": [loop]})
            return True
        if path == "/v1/pending_payments":
            time.sleep(self.rails.slow_seconds)
            self._send(200, {"incoming": [], "outgoing": []})
            return True
        if caller is None:
            return False
        if path == "/v1/trustlines":
            with self.rails.db() as db, db.cursor() as cur:
                cur.execute(
                    f"SELECT {LINE_COLUMNS} FROM trustlines WHERE (user_a_id = %s OR user_b_id = %s) AND is_active = 1 "
                    "ORDER BY id",
                    [caller, caller],
                )
                self._send(200, [trustline(row, caller) for row in cur.fetchall()])
            return True
        if path.startswith("/v1/trustlines/"):
            row = self._line(path.split("/")[3], caller)
            if row is None:
                self._send(404, {"errors": ["Trustline not found"]})
            else:
                self._send(200, trustline(row, caller))
            return True
        return False

    def _line(self, line_id: str, caller: int) -> tuple[Any, ...] | None:
        if not line_id.isdigit():
            return None
        with self.rails.db() as db, db.cursor() as cur:
            cur.execute(
                f"SELECT {LINE_COLUMNS} FROM trustlines WHERE id = %s AND (user_a_id = %s OR user_b_id = %s)",
                [int(line_id), caller, caller],
            )
            row: tuple[Any, ...] | None = cur.fetchone()
            return row

    def _market(self, query: dict[str, list[str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Rails-Page", query.get("page", ["1"])[0])
        self.send_header("Connection", "keep-alive, X-Rails-Private")
        self.send_header("X-Rails-Private", "hop-by-hop: named in Connection")
        self.send_header("Set-Cookie", "_growoperative_session=abc; path=/; HttpOnly")
        self.end_headers()
        for i in range(MARKET_CHUNKS):
            chunk = market_chunk(i)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _post(self, path: str, query: dict[str, list[str]], body: bytes) -> bool:
        if path == "/v1/orders":
            answer = {"received": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            self._send(201, answer, {"Location": "/v1/orders/77"})
            return True
        segments = path.strip("/").split("/")
        if len(segments) == 4 and segments[:2] == ["v1", "trustlines"] and segments[3] == "payment":
            caller = self.rails.member(self.headers.get("Authorization"))
            if caller is None:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            self._payment(segments[2], caller, json.loads(body or b"{}"))
            return True
        return False

    def _payment(self, line_id: str, caller: int, params: dict[str, Any]) -> None:
        """Rails' TrustlinesController#payment, as far as the database sees it."""
        row = self._line(line_id, caller)
        if row is None:
            self._send(404, NOT_FOUND)
            return
        amount = Decimal(str(params.get("amount", "0")))
        db = self.rails.db()
        try:
            cur = db.cursor()
            cur.execute("SELECT user_a_id, current_balance FROM trustlines WHERE id = %s FOR UPDATE", [row[0]])
            a, balance = cur.fetchone()
            after = balance + amount if caller == a else balance - amount
            cur.execute(
                "INSERT INTO trustline_transactions (trustline_id, amount, description, transaction_type, "
                "initiated_by_id, balance_after, is_reversed, foaf_direction, created_at, updated_at) "
                "VALUES (%s, %s, %s, 'payment', %s, %s, 0, 'sent', UTC_TIMESTAMP(), UTC_TIMESTAMP())",
                [row[0], amount, params.get("description"), caller, after],
            )
            tx_id = cur.lastrowid
            cur.execute(
                "UPDATE trustlines SET current_balance = %s, last_activity = UTC_TIMESTAMP(), "
                "updated_at = UTC_TIMESTAMP() WHERE id = %s",
                [after, row[0]],
            )
            db.commit()
        finally:
            db.close()
        self._send(200, {"message": "Payment processed successfully", "operation": {"buffer_id": tx_id}})
