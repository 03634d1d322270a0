"""Federation: this relay pulls the public events of its peers and stores them as its own
(docs/relay.md §12).

For each peer (a base URL, ``FOAF_RELAY_PEERS`` or ``relay_federate --peer``) the relay keeps a
``PeerCursor``: how far into the peer's public log (``GET /relay/v1/changes``) it has pulled. A
run asks for the events after that cursor, page by page, until the peer says there are no more:

- Every event is verified again with the protocol (``parse_event``: docs/relay.md §5 checks 1-10),
  never trusted because a peer served it. A forged or malformed event is counted, logged with its
  reason and skipped; it is never stored.
- A verified event is stored through ``relay.services.event_accept``, exactly as if a member had
  posted it: the same precedence rules, so relays that see the same events converge. ``duplicate``
  (held already) and ``event_stale_version`` (a newer one is held) are counted as seen.
- ``event_unknown_relationship`` (a limit or withdrawal whose announcement is not here) and
  ``event_from_future`` (this relay's clock is behind the event) can succeed later: the event is
  kept in ``PeerDeferredEvent`` and retried at the end of every run until it is stored, superseded,
  refused for good, or older than ``DEFER_MAX_AGE``.
- The cursor moves past a page only once every event of the page is stored, counted or deferred,
  in one transaction with the counts and the deferred events. A crash in between re-pulls the
  page at the next run; the events stored meanwhile come back as duplicates and change nothing.
- A run that cannot reach the peer or cannot read its answer records the error and stops; the
  cursor stays after the last page handled, so the next run resumes there.

A run holds its peer for a while (``busy_until``, renewed page by page), so two runs at once
(beat firing twice, the command beside the worker) do not pull the same pages; a run that dies
holding it frees it when the hold expires. Cursor updates are conditional besides: a run only
moves the cursor from the value it read.

Non-public events never travel: a relay's changes feed serves public events only, and an event
pulled here is public or not by the same rules as a posted one.
"""

from __future__ import annotations

import enum
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q

from relay.protocol import MAX_EVENT_BYTES, EventError, RelayErrorCode, parse_event
from relay.protocol import Event as SignedEvent

logger = logging.getLogger("relay.federation")

CHANGES_PATH = "/relay/v1/changes"
USER_AGENT = "foaf-relay-federation/1"
# Set-aside events per peer, and how long one is retried before it is given up (and logged).
DEFER_MAX = 10_000
DEFER_MAX_AGE = timedelta(days=7)
# Bytes of a changes answer per event asked for: a signed envelope is at most MAX_EVENT_BYTES
# canonical, and a peer may escape non-ASCII text (6 bytes for a 3-byte character), plus framing.
_BYTES_PER_EVENT = 2 * MAX_EVENT_BYTES + 256  # 33 024
_ERROR_CHARS = 500
_REFUSALS_KEPT = 100  # refusals a run reports (every one is logged)
# Codes a later run can turn into a stored event without a new event (docs/relay.md §6.4).
RETRY_LATER = frozenset({RelayErrorCode.EVENT_UNKNOWN_RELATIONSHIP, RelayErrorCode.EVENT_FROM_FUTURE})


class PeerCursor(models.Model):
    """How far this relay has pulled one peer's public log, and how the last runs went."""

    peer = models.CharField(max_length=300, unique=True, help_text="the peer's base URL, as normalize_peer gives it")
    cursor = models.BigIntegerField(default=0, help_text="the peer's cursor: its log is handled up to here")
    busy_until = models.DateTimeField(null=True, blank=True, help_text="a run holds this peer until then")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True, help_text="the last run that pulled to the end")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="why the last failed run stopped, or the last event refused")
    failures = models.IntegerField(default=0, help_text="runs that failed since the last success")
    stored = models.BigIntegerField(default=0, help_text="events from this peer stored here")
    seen = models.BigIntegerField(default=0, help_text="events already held here, or superseded by a newer one")
    rejected = models.BigIntegerField(default=0, help_text="events refused for good: forged, malformed, or given up")
    deferred = models.BigIntegerField(default=0, help_text="events set aside to retry (unknown relationship, future)")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(cursor__gte=0), name="relay_peer_cursor_not_negative")]

    def __str__(self) -> str:
        return f"{self.peer} @ {self.cursor}"


class PeerDeferredEvent(models.Model):
    """A verified event from a peer that this relay could not store yet; retried every run."""

    peer = models.ForeignKey(PeerCursor, on_delete=models.CASCADE, related_name="deferred_events")
    peer_cursor = models.BigIntegerField(help_text="its cursor in the peer's log: retries go in this order")
    event_id = models.CharField(max_length=64)
    envelope = models.TextField(help_text="the signed envelope's canonical JSON, as verified")
    code = models.CharField(max_length=32, help_text="why it was refused at the last try")
    deferred_at = models.DateTimeField()
    attempts = models.IntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "event_id"], name="relay_peer_deferred_once")]

    def __str__(self) -> str:
        return f"{self.event_id[:16]} from {self.peer_id} ({self.code})"


class PeerError(Exception):
    """The peer could not be reached, or answered something that is not a changes page."""


def normalize_peer(url: str) -> str:
    """A peer's base URL in one spelling (no trailing slash); ``ValueError`` for anything else."""
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as https://relay.example")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r}: a peer is a base URL, without query, fragment or credentials")
    return parts._replace(netloc=parts.netloc.lower(), path=parts.path.rstrip("/")).geturl()


# --- one changes page ------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    events: list[tuple[int, Any]]  # (the peer's cursor, the event as JSON, not yet verified)
    next_cursor: int
    more: bool


def _integer(value: Any) -> bool:
    return type(value) is int


def page_from_json(data: Any, *, since: int) -> Page:
    """A changes answer checked for shape and order (docs/relay.md §8.3); ``PeerError`` otherwise.

    The events themselves are only JSON here: each is verified on its own, so one bad event costs
    that event, while a page whose framing is wrong (so its cursors cannot be trusted) is refused
    whole and the cursor stays where it was.
    """
    if type(data) is not dict or set(data) != {"events", "next", "more"}:
        raise PeerError("the answer is not a changes page (an object with events, next and more)")
    items, next_cursor, more = data["events"], data["next"], data["more"]
    if type(items) is not list or not _integer(next_cursor) or type(more) is not bool:
        raise PeerError("the changes page has a field of the wrong type")
    events: list[tuple[int, Any]] = []
    last = since
    for item in items:
        if type(item) is not dict or set(item) != {"cursor", "event"} or not _integer(item["cursor"]):
            raise PeerError(f"an entry after cursor {last} is not {{cursor, event}}")
        if item["cursor"] <= last:
            raise PeerError(f"cursor {item['cursor']} does not follow {last}: the peer's log is out of order")
        last = item["cursor"]
        events.append((last, item["event"]))
    if next_cursor < last:
        raise PeerError(f"next={next_cursor} is before the page's last cursor {last}")
    if more and next_cursor == since:
        raise PeerError("the peer says there is more but gives nothing after the cursor")
    return Page(events, next_cursor, more)


def fetch_page(peer: str, *, since: int, limit: int, timeout: float) -> Page:
    """``GET {peer}/relay/v1/changes?since=&limit=``, checked. ``PeerError`` for anything but a page."""
    url = f"{peer}{CHANGES_PATH}?{urlencode({'since': since, 'limit': limit})}"
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (normalize_peer: http(s) only)
    most = limit * _BYTES_PER_EVENT + 4096
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (normalize_peer: http(s) only)
            body = response.read(most + 1)
    except urllib.error.HTTPError as e:
        raise PeerError(f"GET {url}: HTTP {e.code}") from None
    except urllib.error.URLError as e:
        raise PeerError(f"GET {url}: {e.reason}") from None
    except (OSError, http.client.HTTPException) as e:  # timeouts, resets, a broken answer
        raise PeerError(f"GET {url}: {type(e).__name__}: {e}") from None
    if len(body) > most:
        raise PeerError(f"GET {url}: the answer is larger than {most} bytes")
    try:
        data = json.loads(body)
    except ValueError as e:
        raise PeerError(f"GET {url}: not JSON ({e})") from None
    return page_from_json(data, since=since)


# --- storing what a peer served --------------------------------------------------------------
class Fate(enum.Enum):
    STORED = "stored"
    SEEN = "seen"  # duplicate, or superseded by what this relay holds
    DEFERRED = "deferred"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Taken:
    fate: Fate
    event: SignedEvent | None = None  # None when it failed verification
    error: EventError | None = None


def event_take(data: Any, *, now: int) -> Taken:
    """Verify one event a peer served and store it as if it were posted here."""
    from relay.services import Outcome, event_accept

    try:
        event = parse_event(data)  # never trust the peer: every check but the clock
    except EventError as e:
        return Taken(Fate.REJECTED, None, e)
    try:
        accepted = event_accept(event.canonical, now=now, from_peer=True)
    except EventError as e:
        if e.code is RelayErrorCode.EVENT_STALE_VERSION:
            return Taken(Fate.SEEN, event, e)
        return Taken(Fate.DEFERRED if e.code in RETRY_LATER else Fate.REJECTED, event, e)
    return Taken(Fate.STORED if accepted.outcome is Outcome.STORED else Fate.SEEN, event)


def _describe(taken: Taken, cursor: int | None) -> str:
    assert taken.error is not None
    where = f" at cursor {cursor}" if cursor is not None else ""
    which = f"event {taken.event.id}" if taken.event is not None else "an event"
    details = f" {taken.error.details}" if taken.error.details else ""
    return f"{which}{where} refused: {taken.error.code.value}: {taken.error.message}{details}"


# --- a run -----------------------------------------------------------------------------------
@dataclass
class PullResult:
    peer: str
    cursor: int = 0
    pages: int = 0
    stored: int = 0
    seen: int = 0
    rejected: int = 0
    deferred: int = 0
    retried: int = 0  # set-aside events stored by this run
    pending: int = 0  # set-aside events left for later runs
    busy: bool = False  # another run holds the peer: nothing was done
    error: str | None = None
    refusals: list[str] = field(default_factory=list)

    def refused(self, text: str) -> None:
        logger.warning("federation: %s: %s", self.peer, text)
        if len(self.refusals) < _REFUSALS_KEPT:
            self.refusals.append(text)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.busy:
            return f"{self.peer}: busy (another run holds it)"
        counts = (
            f"cursor {self.cursor}, {self.pages} page(s): {self.stored} stored, {self.seen} seen, "
            f"{self.rejected} rejected, {self.deferred} deferred, {self.retried} retried, {self.pending} pending"
        )
        return f"{self.peer}: {counts}" + (f"; FAILED: {self.error}" if self.error else "")


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _lease(timeout: float) -> timedelta:
    return timedelta(seconds=max(60.0, 6 * timeout))


def peer_pull(
    peer: str,
    *,
    page_size: int | None = None,
    timeout: float | None = None,
    clock: Callable[[], float] = time.time,
) -> PullResult:
    """Pull one peer's public log from this relay's cursor to its end, then retry set-aside events.

    Returns what happened; a peer that cannot be reached or answers nonsense is a result with
    ``error`` (recorded on the cursor), not an exception. Anything else (this relay's database
    failing) is recorded too and raised.
    """
    peer = normalize_peer(peer)
    page_size = page_size or settings.RELAY_FEDERATION_PAGE_SIZE
    timeout = timeout or settings.RELAY_FEDERATION_TIMEOUT_SECONDS
    lease = _lease(timeout)
    row, _ = PeerCursor.objects.get_or_create(peer=peer)
    started = _at(clock())
    claimed = (
        PeerCursor.objects.filter(pk=row.pk)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=started))
        .update(busy_until=started + lease, last_attempt_at=started)
    )
    result = PullResult(peer)
    if not claimed:
        result.busy = True
        return result
    try:
        try:
            _pull_pages(row.pk, peer, result, page_size=page_size, timeout=timeout, lease=lease, clock=clock)
        except PeerError as e:
            result.error = str(e)
        _retry_deferred(row.pk, result, clock=clock)
    except BaseException as e:  # this relay failed (or was stopped): say so on the cursor, then raise
        _finish(row.pk, result, clock=clock, failure=f"{type(e).__name__}: {e}")
        raise
    _finish(row.pk, result, clock=clock, failure=result.error)
    if result.error:
        logger.warning("federation: %s", result.summary())
    else:
        logger.info("federation: %s", result.summary())
    return result


def _pull_pages(
    pk: int,
    peer: str,
    result: PullResult,
    *,
    page_size: int,
    timeout: float,
    lease: timedelta,
    clock: Callable[[], float],
) -> None:
    since = PeerCursor.objects.values_list("cursor", flat=True).get(pk=pk)
    result.cursor = since
    while True:
        page = fetch_page(peer, since=since, limit=page_size, timeout=timeout)
        now = int(clock())
        counts = dict.fromkeys(Fate, 0)
        deferred: list[PeerDeferredEvent] = []
        refused: str | None = None
        for cursor, data in page.events:
            taken = event_take(data, now=now)
            counts[taken.fate] += 1
            if taken.fate is Fate.REJECTED:
                refused = _describe(taken, cursor)
                result.refused(refused)
            elif taken.fate is Fate.DEFERRED:
                assert taken.event is not None and taken.error is not None
                logger.info("federation: %s: %s (deferred)", peer, _describe(taken, cursor))
                deferred.append(
                    PeerDeferredEvent(
                        peer_id=pk,
                        peer_cursor=cursor,
                        event_id=taken.event.id,
                        envelope=taken.event.canonical.decode("utf-8"),
                        code=taken.error.code.value,
                        deferred_at=_at(now),
                    )
                )
        if not _page_done(
            pk,
            since=since,
            page=page,
            counts=counts,
            deferred=deferred,
            refused=refused,
            now=now,
            lease=lease,
            result=result,
        ):
            return
        result.pages += 1
        result.cursor = since = page.next_cursor
        for fate, attr in ((Fate.STORED, "stored"), (Fate.SEEN, "seen"), (Fate.REJECTED, "rejected")):
            setattr(result, attr, getattr(result, attr) + counts[fate])
        if not page.more:
            return


def _page_done(
    pk: int,
    *,
    since: int,
    page: Page,
    counts: dict[Fate, int],
    deferred: list[PeerDeferredEvent],
    refused: str | None,
    now: int,
    lease: timedelta,
    result: PullResult,
) -> bool:
    """Move the cursor past a handled page, with its counts and set-aside events, all at once.

    False when the cursor is no longer where this run read it (an operator rewound it meanwhile):
    the run stops and leaves the peer to the next one.
    """
    with transaction.atomic():
        room = DEFER_MAX - PeerDeferredEvent.objects.filter(peer_id=pk).count()
        kept, dropped = deferred[: max(room, 0)], deferred[max(room, 0) :]
        for event in dropped:
            refused = f"event {event.event_id} at cursor {event.peer_cursor} given up: {DEFER_MAX} events set aside"
            result.refused(refused)
        PeerDeferredEvent.objects.bulk_create(kept, ignore_conflicts=True)
        changes: dict[str, Any] = {
            "cursor": page.next_cursor,
            "busy_until": _at(now) + lease,
            "stored": F("stored") + counts[Fate.STORED],
            "seen": F("seen") + counts[Fate.SEEN],
            "rejected": F("rejected") + counts[Fate.REJECTED] + len(dropped),
            "deferred": F("deferred") + len(kept),
        }
        if refused is not None:
            changes |= {"last_error": refused[:_ERROR_CHARS], "last_error_at": _at(now)}
        moved = PeerCursor.objects.filter(pk=pk, cursor=since).update(**changes)
        if not moved:
            transaction.set_rollback(True)
            return False
    result.deferred += len(kept)
    result.rejected += len(dropped)
    return True


def _retry_deferred(pk: int, result: PullResult, *, clock: Callable[[], float]) -> None:
    """Try every set-aside event of the peer again, in the peer's order."""
    now = int(clock())
    stored = seen = rejected = 0
    for row in PeerDeferredEvent.objects.filter(peer_id=pk).order_by("peer_cursor")[:DEFER_MAX]:
        taken = event_take(row.envelope.encode("utf-8"), now=now)
        if taken.fate is Fate.DEFERRED and row.deferred_at + DEFER_MAX_AGE > _at(now):
            assert taken.error is not None
            PeerDeferredEvent.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, code=taken.error.code.value)
            continue
        if taken.fate is Fate.STORED:
            stored += 1
        elif taken.fate is Fate.SEEN:
            seen += 1
        else:
            rejected += 1
            refused = (
                _describe(taken, row.peer_cursor) + f" (given up after {row.attempts + 1} tries)"
                if taken.fate is Fate.DEFERRED
                else _describe(taken, row.peer_cursor)
            )
            result.refused(refused)
        PeerDeferredEvent.objects.filter(pk=row.pk).delete()
    if stored or seen or rejected:
        PeerCursor.objects.filter(pk=pk).update(
            stored=F("stored") + stored, seen=F("seen") + seen, rejected=F("rejected") + rejected
        )
    result.retried = stored
    result.stored += stored
    result.seen += seen
    result.rejected += rejected
    result.pending = PeerDeferredEvent.objects.filter(peer_id=pk).count()


def _finish(pk: int, result: PullResult, *, clock: Callable[[], float], failure: str | None) -> None:
    at = _at(clock())
    changes: dict[str, Any] = {"busy_until": None}
    if failure is None:
        changes |= {"last_success_at": at, "failures": 0}
    else:
        changes |= {"last_error": failure[:_ERROR_CHARS], "last_error_at": at, "failures": F("failures") + 1}
    PeerCursor.objects.filter(pk=pk).update(**changes)


def peers_pull(
    peers: Iterable[str],
    *,
    page_size: int | None = None,
    timeout: float | None = None,
    clock: Callable[[], float] = time.time,
) -> list[PullResult]:
    """``peer_pull`` for each peer in turn; one peer's failure does not stop the others."""
    results = []
    for peer in peers:
        try:
            results.append(peer_pull(peer, page_size=page_size, timeout=timeout, clock=clock))
        except Exception as e:  # recorded on the cursor by peer_pull; the next peer still runs
            logger.exception("federation: %s failed", peer)
            results.append(PullResult(peer, error=f"{type(e).__name__}: {e}"))
    return results


def peer_rewind(peer: str, *, cursor: int = 0) -> None:
    """Pull a peer again from ``cursor`` (0: its whole log): for a peer whose log was replaced.
    Harmless: what this relay holds already comes back as duplicates."""
    row, _ = PeerCursor.objects.get_or_create(peer=normalize_peer(peer))
    PeerCursor.objects.filter(pk=row.pk).update(cursor=cursor)
