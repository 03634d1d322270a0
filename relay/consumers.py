"""The relay's WebSocket endpoint, ``/ws/relay/`` (docs/relay.md §15).

JSON text frames. On connect the relay sends ``hello`` with a random ``challenge``; a client may
answer with ``auth`` (its key and a signature over the challenge and the relay's origin,
``relay.protocol.auth``) to use its mailbox. ``subscribe`` opens a named subscription to a stream
(``mailbox``, ``graph``, ``listings``) with a filter, optionally resuming after a cursor: the
backlog is read from the database, then live events follow with no gap and no duplicate
(``relay.live``). ``unsubscribe``, ``ack`` (mailbox) and ``ping`` complete the set.

Nothing a client sends can take the consumer down: every refusal is an ``error`` frame with a
stable code (``relay.protocol.RelayErrorCode``); an unexpected exception is logged and answered
``internal_error``, and the connection stays open. Frames are rate limited per connection; a
client that keeps sending while limited is closed with code 4029.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from relay import live, mailbox, ratelimit
from relay.auth import scope_origin
from relay.protocol import RelayErrorCode, RequestError
from relay.protocol.auth import check_ws_auth, new_challenge
from relay.protocol.frames import (
    MAX_FRAME_BYTES,
    Ack,
    Auth,
    Frame,
    FrameId,
    Ping,
    Stream,
    Subscribe,
    Unsubscribe,
    frame_id_of,
    parse_frame,
)

logger = logging.getLogger(__name__)

PROTOCOL = "foaf-relay/1"
CLOSE_THROTTLED = 4029  # a flood of frames, or too many connections from one address
REGROUP_SECONDS = 3600  # re-join groups on a ping after this long (Redis forgets members after a day)

__all__ = ["CLOSE_THROTTLED", "MAX_FRAME_BYTES", "PROTOCOL", "RelayConsumer"]


def _now() -> int:
    return int(time.time())


def _client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client") or (None, None)
    headers = dict(scope.get("headers") or [])
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
    return ratelimit.client_address(client[0], forwarded)


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    key: str | None
    subscriptions: dict[str, live.Subscription]

    # --- connection --------------------------------------------------------------------------------
    async def connect(self) -> None:
        self.key = None
        self.subscriptions = {}
        self.groups_joined: set[str] = set()
        self.grouped_at = time.monotonic()
        self.closing = False
        self.challenge = new_challenge()
        self.origin = scope_origin(self.scope)
        self.address = _client_address(self.scope)
        now = time.monotonic()
        self.frame_bucket = ratelimit.TokenBucket(ratelimit.Rate.named("frame"), now)
        self.flood_bucket = ratelimit.TokenBucket(ratelimit.Rate.named("flood"), now)
        await self.accept()
        verdict = await sync_to_async(ratelimit.take)("connect", self.address)
        if not verdict.allowed:
            await self._throttled(None, "connect", verdict)
            await self._close_throttled()
            return
        await self.send_json({"type": "hello", "protocol": PROTOCOL, "challenge": self.challenge})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = set()

    async def _close_throttled(self) -> None:
        self.closing = True
        await self.close(code=CLOSE_THROTTLED, reason="throttled")

    # --- frames from the client ------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            if not await self._frame_allowed():
                return
            if text_data is None:
                raise RequestError(RelayErrorCode.BINARY_NOT_SUPPORTED, "send JSON text frames")
            try:
                frame = parse_frame(text_data)
            except RequestError as e:
                await self.send_error(e, frame_id_of(text_data) if e.code is not RelayErrorCode.INVALID_JSON else None)
                return
            await self._handle(frame)
        except RequestError as e:
            await self.send_error(e, None)
        except Exception:
            logger.exception("relay: a WebSocket frame failed")
            await self.send_error(RequestError(RelayErrorCode.INTERNAL_ERROR, "something went wrong on our side"), None)

    async def _frame_allowed(self) -> bool:
        now = time.monotonic()
        verdict = self.frame_bucket.take(now)
        if verdict.allowed:
            return True
        if not self.flood_bucket.take(now).allowed:
            await self._throttled(None, "frame", verdict)
            await self._close_throttled()
            return False
        await self._throttled(None, "frame", verdict)
        return False

    async def _throttled(self, frame_id: FrameId, limit: str, verdict: ratelimit.Verdict) -> None:
        wait = ratelimit.retry_after_seconds(verdict)
        error = RequestError(
            RelayErrorCode.THROTTLED, f"too many requests ({limit}); retry in {wait} s", limit=limit, retry_after=wait
        )
        await self.send_error(error, frame_id)

    async def _handle(self, frame: Frame) -> None:
        try:
            if isinstance(frame, Ping):
                await self._ping(frame)
            elif isinstance(frame, Auth):
                await self._auth(frame)
            elif isinstance(frame, Subscribe):
                await self._subscribe(frame)
            elif isinstance(frame, Unsubscribe):
                await self._unsubscribe(frame)
            elif isinstance(frame, Ack):
                await self._ack(frame)
        except RequestError as e:
            await self.send_error(e, frame.id)

    async def _ping(self, frame: Ping) -> None:
        await self.send_json({"type": "pong", "id": frame.id})
        # A ping also re-reads what a lost notice may have hidden, and keeps group membership fresh.
        if self.groups_joined and time.monotonic() - self.grouped_at > REGROUP_SECONDS:
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
            self.grouped_at = time.monotonic()
        for sub in list(self.subscriptions.values()):
            await self._catch_up(sub)

    async def _auth(self, frame: Auth) -> None:
        if self.key is not None:
            raise RequestError(RelayErrorCode.AUTH_ALREADY, "this connection is already authenticated")
        check_ws_auth(key=frame.key, sig=frame.sig, challenge=self.challenge, relay=self.origin)
        verdict = await sync_to_async(ratelimit.take)("key", frame.key)
        if not verdict.allowed:
            await self._throttled(frame.id, "key", verdict)
            return
        self.key = frame.key
        await self.send_json({"type": "authenticated", "id": frame.id, "key": frame.key})

    async def _subscribe(self, frame: Subscribe) -> None:
        if frame.sub in self.subscriptions:
            raise RequestError(
                RelayErrorCode.SUBSCRIPTION_EXISTS, f"a subscription {frame.sub!r} is open", sub=frame.sub
            )
        if len(self.subscriptions) >= settings.RELAY_WS_MAX_SUBSCRIPTIONS:
            raise RequestError(
                RelayErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"at most {settings.RELAY_WS_MAX_SUBSCRIPTIONS} subscriptions per connection",
                max=settings.RELAY_WS_MAX_SUBSCRIPTIONS,
            )
        if frame.stream is Stream.MAILBOX:
            if self.key is None:
                raise RequestError(RelayErrorCode.AUTH_REQUIRED, "authenticate (auth) before reading your mailbox")
            group = live.mailbox_group(self.key)
        else:
            group = live.PUBLIC_GROUP
        # Join first: anything committed from now on is announced to us, the rest is in the database.
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)
        if frame.stream is Stream.MAILBOX:
            head = await database_sync_to_async(mailbox.mailbox_last_seq)(self.key)
        else:
            head = await database_sync_to_async(live.public_head)()
        if frame.since is not None and frame.since > head:
            raise RequestError(
                RelayErrorCode.CURSOR_AHEAD,
                f"since {frame.since} is beyond this relay's {head}: resume from a cursor this relay gave",
                cursor=head,
            )
        sub = live.Subscription(
            frame.sub,
            frame.stream,
            frame.filter,
            head if frame.since is None else frame.since,
            recipient=self.key if frame.stream is Stream.MAILBOX else None,
        )
        if sub.neighbourhood is not None:
            await database_sync_to_async(sub.refresh)()
        self.subscriptions[sub.name] = sub
        await self.send_json(
            {"type": "subscribed", "id": frame.id, "sub": sub.name, "stream": sub.stream.value, "cursor": sub.last}
        )
        await self._catch_up(sub)
        await self.send_json({"type": "synced", "sub": sub.name, "cursor": sub.last})

    async def _unsubscribe(self, frame: Unsubscribe) -> None:
        sub = self.subscriptions.pop(frame.sub, None)
        if sub is None:
            raise RequestError(RelayErrorCode.SUBSCRIPTION_UNKNOWN, f"no subscription {frame.sub!r}", sub=frame.sub)
        group = self._group_of(sub)
        if group in self.groups_joined and not any(self._group_of(s) == group for s in self.subscriptions.values()):
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)
        await self.send_json({"type": "unsubscribed", "id": frame.id, "sub": frame.sub})

    @staticmethod
    def _group_of(sub: live.Subscription) -> str:
        return live.PUBLIC_GROUP if sub.recipient is None else live.mailbox_group(sub.recipient)

    async def _ack(self, frame: Ack) -> None:
        if self.key is None:
            raise RequestError(RelayErrorCode.AUTH_REQUIRED, "authenticate (auth) before acknowledging messages")
        verdict = await sync_to_async(ratelimit.take)("key", self.key)
        if not verdict.allowed:
            await self._throttled(frame.id, "key", verdict)
            return
        count = await database_sync_to_async(mailbox.mailbox_ack)(recipient=self.key, ids=frame.ids, now=_now())
        await self.send_json({"type": "acked", "id": frame.id, "acknowledged": count})

    # --- backlog and live events ------------------------------------------------------------------
    async def _catch_up(self, sub: live.Subscription) -> None:
        """Everything after ``sub.last`` in the database, in order, batch by batch."""
        while True:
            if sub.stream is Stream.MAILBOX:
                assert sub.recipient is not None
                scanned = await database_sync_to_async(mailbox.mailbox_scan)(
                    recipient=sub.recipient, after=sub.last, limit=live.BATCH, now=_now()
                )
                for seq, message in scanned:
                    await self._offer_message(sub, seq, message)
                if len(scanned) < live.BATCH:
                    return
            else:
                batch = await database_sync_to_async(live.public_after)(sub.last, live.BATCH)
                if batch and sub.neighbourhood is not None:  # judged against the relay's current state
                    await database_sync_to_async(sub.refresh)()
                for cursor, envelope in batch:
                    await self._offer_event(sub, cursor, json.loads(envelope), fresh=False)
                if len(batch) < live.BATCH:
                    return

    async def _offer_event(self, sub: live.Subscription, cursor: int, event: dict[str, Any], *, fresh: bool) -> None:
        """Consider one event; ``fresh``: a live one, after which the neighbourhood may have changed."""
        sub.last = cursor
        if sub.matches(event, now=_now()):
            await self.send_json({"type": "event", "sub": sub.name, "cursor": cursor, "event": event})
        if fresh and sub.reshapes(event):
            await database_sync_to_async(sub.refresh)()

    async def _offer_message(self, sub: live.Subscription, seq: int, message: dict[str, Any] | None) -> None:
        sub.last = seq
        if message is not None:
            await self.send_json({"type": "message", "sub": sub.name, "message": message})

    async def relay_public(self, notice: dict[str, Any]) -> None:
        """A public event was committed (group message from ``relay.live.event_committed``)."""
        try:
            cursor, event = notice["cursor"], None
            for sub in list(self.subscriptions.values()):
                if sub.stream is Stream.MAILBOX or cursor <= sub.last:
                    continue
                if cursor == sub.last + 1:
                    event = json.loads(notice["envelope"]) if event is None else event
                    await self._offer_event(sub, cursor, event, fresh=True)
                else:
                    await self._catch_up(sub)
        except Exception:
            logger.exception("relay: a live event could not be delivered")
            await self.send_error(RequestError(RelayErrorCode.INTERNAL_ERROR, "something went wrong on our side"), None)

    async def relay_mailbox(self, notice: dict[str, Any]) -> None:
        """A message for this connection's key was committed (``relay.live.mailbox_committed``)."""
        try:
            message = notice["message"]
            for sub in list(self.subscriptions.values()):
                if sub.stream is not Stream.MAILBOX or message["seq"] <= sub.last:
                    continue
                if message["seq"] == sub.last + 1:
                    await self._offer_message(sub, message["seq"], message)
                else:
                    await self._catch_up(sub)
        except Exception:
            logger.exception("relay: a live message could not be delivered")
            await self.send_error(RequestError(RelayErrorCode.INTERNAL_ERROR, "something went wrong on our side"), None)

    # --- frames to the client ---------------------------------------------------------------------
    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False, separators=(",", ":")))

    async def send_error(self, error: RequestError, frame_id: FrameId) -> None:
        frame: dict[str, Any] = {"type": "error", "code": error.code.value, "message": error.message}
        frame["details"] = dict(error.details)
        if frame_id is not None:
            frame["id"] = frame_id
        await self.send_json(frame)
