"""The relay's WebSocket endpoint.

The connection protocol is JSON text frames. On connect the relay sends
``{"type": "hello", "protocol": "foaf-relay/1"}``; ``{"type": "ping", "id": X}`` is answered with
``{"type": "pong", "id": X}``. Anything else is answered with an ``error`` frame carrying a
stable code, and the connection stays open. Subscriptions (mailbox, graph, offers) are added
on this same connection by the relay's own message types.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

PROTOCOL = "foaf-relay/1"
MAX_FRAME_BYTES = 64 * 1024


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "hello", "protocol": PROTOCOL})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("binary_not_supported", "Send JSON text frames.")
            return
        if len(text_data.encode("utf-8")) > MAX_FRAME_BYTES:
            await self.send_error("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error("invalid_json", "The frame is not JSON.")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.send_error("invalid_message", "A frame is a JSON object with a string 'type'.")
            return
        if message["type"] == "ping":
            await self.send_json({"type": "pong", "id": message.get("id")})
            return
        await self.send_error("unknown_type", f"Unknown message type {message['type'][:64]!r}.")

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})
