"""Shadow comparisons: a credit read answered here is asked of Rails too, and what differs is
recorded (``ShadowDiff``) for the operator.

The member always gets this service's answer, at once: Rails is asked *after* the answer is
made, on one of ``LEGACY_SHADOW_WORKERS`` threads of the web process, with the same method, path,
query string, headers and body. The whole Rails call is bounded by
``LEGACY_SHADOW_TIMEOUT_SECONDS``; a Rails that does not answer in time is a ``timeout`` row, one
that cannot be asked or read an ``error`` row. At most ``LEGACY_SHADOW_QUEUE`` comparisons wait
for a thread; beyond that a comparison is skipped and logged (a shadow period under heavy load
samples the traffic instead of queueing without end). A comparison still waiting when the process
exits is lost; it was a sample, not a write.

Threads, not Celery: the job needs the answer's bytes and the member's bearer token, and neither
should sit in a broker (the token would be one more copy of a secret). The token is held in memory
for the job only, to name the member (``auth.authenticate_token``); it is never recorded.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.db import close_old_connections, connections

from migration import models as m
from migration.api import auth
from migration.cutover import compare, upstream

logger = logging.getLogger(__name__)

KEEP_BYTES = 256 * 1024  # of each answer, in a diff row
VALUE_BYTES = 2048  # of each side of a difference, in a diff row
MAX_RAILS_BYTES = 8 * 1024 * 1024  # a larger Rails answer is an error row, not read on
SECRET_PARAMS = frozenset({"password", "password_confirmation", "token", "jwt", "secret", "access_token", "api_key"})


@dataclass(frozen=True)
class Job:
    """One comparison: the request as Rails should get it and the answer the member got."""

    route: str
    method: str
    full_path: str
    headers: list[tuple[str, str]]
    body: bytes
    token: str | None
    ours_status: int
    ours_body: bytes


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._waiting = 0
        self._idle = threading.Condition(self._lock)
        self.skipped = 0

    def submit(self, job: Job) -> bool:
        with self._lock:
            if self._waiting >= settings.LEGACY_SHADOW_QUEUE:
                self.skipped += 1
                return False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(settings.LEGACY_SHADOW_WORKERS, thread_name_prefix="shadow")
            self._waiting += 1
            executor = self._executor
        executor.submit(self._run, job)
        return True

    def _run(self, job: Job) -> None:
        try:
            run(job)
        except Exception:
            logger.exception("shadow: a comparison failed")
        finally:
            # This thread's database connection is its own: nothing else would close it.
            connections.close_all()
            with self._lock:
                self._waiting -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no comparison is waiting or running; False when ``timeout`` passed first."""
        with self._lock:
            return self._idle.wait_for(lambda: self._waiting == 0, timeout)


pool = _Pool()


def redacted(full_path: str) -> str:
    """The path with secret-looking query parameters' values replaced."""
    path, _, query = full_path.partition("?")
    if not query:
        return path
    pairs = [
        (k, "[redacted]" if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs)}"


def _member_of(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        return auth.authenticate_token(token).member.legacy_id
    except Exception:  # a refused token: the comparison stands, without a member
        return None


def _text(body: bytes) -> str:
    return body[:KEEP_BYTES].decode("utf-8", "replace")


def run(job: Job) -> m.ShadowDiff | None:
    """Ask Rails, compare, and record a difference (the worker threads' job; tests call it too)."""
    close_old_connections()
    fields: dict[str, Any] = {
        "method": job.method,
        "route": job.route,
        "path": redacted(job.full_path)[:500],
        "ours_status": job.ours_status,
        "ours_body": _text(job.ours_body),
    }
    try:
        fetched = upstream.fetch(
            job.method,
            job.full_path,
            job.headers,
            job.body,
            timeout=settings.LEGACY_SHADOW_TIMEOUT_SECONDS,
            max_bytes=MAX_RAILS_BYTES,
        )
    except upstream.UpstreamTimeout as exc:
        return _record(job, fields, kind=m.ShadowDiff.Kind.TIMEOUT, detail=str(exc))
    except upstream.UpstreamError as exc:
        return _record(job, fields, kind=m.ShadowDiff.Kind.ERROR, detail=str(exc))
    outcome = compare.compare(job.route, job.ours_status, job.ours_body, fetched.status, fetched.body)
    if outcome is None:
        return None
    fields.update(rails_status=fetched.status, rails_body=_text(fetched.body), rails_ms=fetched.elapsed_ms)
    return _record(
        job,
        fields,
        kind=outcome.kind,
        field=outcome.field[:500],
        differences=[_jsonable(d.as_json()) for d in outcome.differences],
        detail=outcome.reason,
    )


def _jsonable(value: dict[str, Any]) -> Any:
    # Values come from parsed JSON already; the round trip guards odd floats. A side larger than
    # VALUE_BYTES (a difference at ``$`` carries a whole answer) is kept as the start of its JSON text.
    out = json.loads(json.dumps(value, default=str))
    for side in ("ours", "rails"):
        text = json.dumps(out[side])
        if len(text) > VALUE_BYTES:
            out[side] = text[:VALUE_BYTES] + "…"
    return out


def _record(job: Job, fields: dict[str, Any], **more: Any) -> m.ShadowDiff:
    diff = m.ShadowDiff.objects.create(member_legacy_id=_member_of(job.token), **fields, **more)
    logger.info("shadow: %s %s %s (%s)", diff.kind, job.method, fields["path"], diff.field or diff.detail[:80])
    return diff
