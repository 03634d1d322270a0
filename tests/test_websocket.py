"""The relay's WebSocket endpoint speaks its handshake and answers malformed frames with typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from channels.testing import WebsocketCommunicator

from foaf.asgi import application

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _talk(frames: list[str]) -> list[dict[str, Any]]:
    communicator = WebsocketCommunicator(application, "/ws/relay/", headers=[(b"origin", b"http://localhost")])
    connected, _ = await communicator.connect()
    assert connected
    answers = [await communicator.receive_json_from(timeout=5)]
    for frame in frames:
        await communicator.send_to(text_data=frame)
        answers.append(await communicator.receive_json_from(timeout=5))
    await communicator.disconnect()
    return answers


def test_the_relay_greets_a_new_connection_with_a_fresh_challenge() -> None:
    (hello,) = run(_talk([]))
    (again,) = run(_talk([]))
    assert {k: v for k, v in hello.items() if k != "challenge"} == {"type": "hello", "protocol": "foaf-relay/1"}
    assert len(hello["challenge"]) == 64 and int(hello["challenge"], 16) >= 0
    assert hello["challenge"] != again["challenge"]


def test_a_ping_is_answered_with_its_id() -> None:
    _, pong = run(_talk(['{"type": "ping", "id": 7}']))
    assert pong == {"type": "pong", "id": 7}


@pytest.mark.parametrize(
    ("frame", "code"),
    [("not json", "invalid_json"), ("[1, 2]", "invalid_message"), ('{"type": "dance"}', "unknown_type")],
)
def test_a_malformed_frame_gets_a_typed_error_and_the_connection_stays_open(frame: str, code: str) -> None:
    _, error, pong = run(_talk([frame, '{"type": "ping", "id": 1}']))
    assert error["type"] == "error"
    assert error["code"] == code
    assert pong["type"] == "pong"


def test_a_connection_from_a_foreign_origin_is_refused() -> None:
    async def attempt() -> bool:
        communicator = WebsocketCommunicator(application, "/ws/relay/", headers=[(b"origin", b"http://evil.example")])
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert run(attempt()) is False
