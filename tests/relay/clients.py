"""Clients of the relay for tests: signed HTTP requests and a WebSocket session, as a phone would
make them, with the protocol's own signing helpers (``relay.protocol.auth``)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from nacl.public import Box, PrivateKey, PublicKey

from foaf.asgi import application
from foaf.bilateral.crypto import SeedSigner
from relay.models import Profile
from relay.protocol import canonical_bytes
from relay.protocol.auth import sign_http_request, sign_ws_auth
from relay.services import event_accept
from tests.relay.builders import key, profile

T = TypeVar("T")
V1 = "/relay/v1"
ORIGIN = "http://testserver"  # what the Django test client and the WebSocket sessions below dial


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def now() -> int:
    return int(time.time())


# --- mailbox keys and boxes -------------------------------------------------------------------------
def mailbox_secret(signer: SeedSigner) -> PrivateKey:
    """The X25519 secret key behind the mailbox key ``builders.profile`` publishes for ``signer``."""
    return PrivateKey(bytes([signer.public_key[0]]) * 32)


def seal(sender: SeedSigner, recipient: SeedSigner, plaintext: bytes) -> bytes:
    """A NaCl box from the sender's mailbox key to the recipient's: nonce (24) || ciphertext."""
    return bytes(Box(mailbox_secret(sender), mailbox_secret(recipient).public_key).encrypt(plaintext))


def unseal(recipient: SeedSigner, sender_mailbox_key: str, ciphertext: bytes) -> bytes:
    return bytes(Box(mailbox_secret(recipient), PublicKey(bytes.fromhex(sender_mailbox_key))).decrypt(ciphertext))


def publish_profiles(*signers: SeedSigner, at: int | None = None) -> None:
    """A profile (so a mailbox key) for each signer that has none here yet."""
    t = now() if at is None else at
    for signer in signers:
        if not Profile.objects.filter(key=key(signer)).exists():
            event_accept(canonical_bytes(profile(signer, f"member {key(signer)[:6]}", now=t)), now=t)


# --- signed HTTP ------------------------------------------------------------------------------------
def signed(
    signer: SeedSigner,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    at: int | None = None,
    nonce: str | None = None,
    relay: str = ORIGIN,
) -> dict[str, str]:
    return sign_http_request(
        signer, method=method, path=path, body=body, relay=relay, now=now() if at is None else at, nonce=nonce
    )


def deposit(client: Client, sender: SeedSigner, recipient: str, ciphertext: bytes, **sign: Any) -> Any:
    path = f"{V1}/mailboxes/{recipient}"
    headers = signed(sender, "POST", path, ciphertext, **sign)
    return client.post(path, data=ciphertext, content_type="application/octet-stream", headers=headers)


def fetch(client: Client, recipient: SeedSigner, *, after: int = 0, limit: int | None = None) -> Any:
    path = f"{V1}/mailbox?after={after}" + ("" if limit is None else f"&limit={limit}")
    return client.get(path, headers=signed(recipient, "GET", path))


def ack(client: Client, recipient: SeedSigner, ids: list[str]) -> Any:
    body = ('{"ids":[' + ",".join(f'"{i}"' for i in ids) + "]}").encode()
    path = f"{V1}/mailbox/ack"
    return client.post(path, data=body, content_type="application/json", headers=signed(recipient, "POST", path, body))


def ciphertext_of(message: dict[str, Any]) -> bytes:
    return base64.b64decode(message["ciphertext"], validate=True)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


# --- WebSocket --------------------------------------------------------------------------------------
class Session:
    """One WebSocket connection to /ws/relay/, from ``address``, dialled as ``ORIGIN``."""

    def __init__(self, *, address: str = "10.0.0.1", host: bytes = b"testserver") -> None:
        self.ws = WebsocketCommunicator(
            application, "/ws/relay/", headers=[(b"origin", b"http://localhost"), (b"host", host)]
        )
        self.ws.scope["client"] = (address, 50000)
        self.hello: dict[str, Any] = {}

    async def open(self) -> dict[str, Any]:
        connected, _ = await self.ws.connect()
        assert connected
        self.hello = await self.recv()
        return self.hello

    async def send(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.ws.send_input({"type": "websocket.receive", "text": text})  # also an empty frame

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        frame = await self.ws.receive_json_from(timeout=timeout)
        assert isinstance(frame, dict)
        return frame

    async def ask(self, frame: dict[str, Any] | str) -> dict[str, Any]:
        await self.send(frame)
        return await self.recv()

    async def quiet(self, timeout: float = 0.3) -> bool:
        """Nothing more arrives within ``timeout``."""
        return bool(await self.ws.receive_nothing(timeout=timeout))

    async def auth(self, signer: SeedSigner, *, relay: str = ORIGIN) -> dict[str, Any]:
        return await self.ask(sign_ws_auth(signer, challenge=self.hello["challenge"], relay=relay))

    async def subscribe(self, sub: str, stream: str, **fields: Any) -> list[dict[str, Any]]:
        """Subscribe and return every frame up to and including ``synced`` (the backlog)."""
        await self.send({"type": "subscribe", "sub": sub, "stream": stream, **fields})
        frames = [await self.recv()]
        if frames[0]["type"] == "error":
            return frames
        while not (frames[-1]["type"] == "synced" and frames[-1]["sub"] == sub):
            frames.append(await self.recv())
        return frames

    async def close(self) -> None:
        await self.ws.disconnect()


def in_thread(fn: Any) -> Any:
    """``fn`` run on the database thread from async code (as a view or a task would run it)."""
    return database_sync_to_async(fn)
