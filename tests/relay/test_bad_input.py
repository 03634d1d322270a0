"""Bad input: malformed, oversized, unknown, forged or random frames and requests get typed errors;
nothing a client sends takes the consumer down, and nothing unsigned is ever stored."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from relay import live
from relay.consumers import RelayConsumer
from relay.models import AuthNonce, Event, MailboxMessage
from relay.protocol import RelayErrorCode
from relay.protocol.frames import MAX_FRAME_BYTES, parse_frame
from tests.relay.builders import ALICE, BOB, announce, key
from tests.relay.clients import V1, Session, error_code, in_thread, publish_profiles, run, signed
from tests.relay.test_subscriptions import SERVER_FRAME, accept

KNOWN_TYPES = ["ping", "auth", "subscribe", "unsubscribe", "ack"]


def answers_to(frames: list[str | bytes], *, authenticate: bool = False) -> list[dict[str, Any]]:
    """What the relay answers to each frame, up to a final ping's pong (the connection survived)."""

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        if authenticate:
            await session.auth(ALICE)
        for frame in frames:
            if isinstance(frame, bytes):
                await session.ws.send_input({"type": "websocket.receive", "bytes": frame})
            else:
                await session.send(frame)
        await session.send({"type": "ping", "id": "last"})
        answers = []
        while not answers or answers[-1] != {"type": "pong", "id": "last"}:
            answers.append(await session.recv())
        await session.close()
        return answers[:-1]

    return run(scenario())


# --- every kind of bad frame, its code ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("not json", "invalid_json", None),
        ('{"type": "ping", "id": 1.5}', "invalid_json", None),  # no floats in the profile
        ('{"type": "ping", "type": "auth"}', "invalid_json", None),  # duplicate names
        ("[1, 2]", "invalid_message", None),
        ('{"kind": "ping"}', "invalid_message", None),
        ('{"type": 7}', "invalid_message", None),
        ('{"type": "dance"}', "unknown_type", "type"),
        ('{"type": "ping", "extra": 1}', "invalid_message", "extra"),
        ('{"type": "ping", "id": {"a": 1}}', "invalid_message", "id"),
        ('{"type": "auth", "key": "AB"}', "invalid_message", "sig"),
        ('{"type": "auth", "key": "AB", "sig": ""}', "invalid_message", "key"),
        ('{"type": "subscribe", "sub": "s"}', "invalid_message", "stream"),
        ('{"type": "subscribe", "sub": "s p a c e", "stream": "graph"}', "invalid_message", "sub"),
        ('{"type": "subscribe", "sub": "s", "stream": "news"}', "invalid_message", "stream"),
        ('{"type": "subscribe", "sub": "s", "stream": "graph", "since": -1}', "invalid_message", "since"),
        (
            '{"type": "subscribe", "sub": "s", "stream": "graph", "filter": {"depth": 2}}',
            "invalid_message",
            "filter.depth",
        ),
        (
            '{"type": "subscribe", "sub": "s", "stream": "graph", "filter": {"key": "00", "depth": 1}}',
            "invalid_message",
            "filter.key",
        ),
        (
            '{"type": "subscribe", "sub": "s", "stream": "listings", "filter": {"type": "gift"}}',
            "invalid_message",
            "filter.type",
        ),
        (
            '{"type": "subscribe", "sub": "s", "stream": "listings", "filter": {"colour": "red"}}',
            "invalid_message",
            "filter.colour",
        ),
        ('{"type": "subscribe", "sub": "s", "stream": "mailbox", "filter": {"q": "x"}}', "invalid_message", "filter"),
        ('{"type": "ack", "ids": []}', "invalid_message", "ids"),
        ('{"type": "ack", "ids": ["zz"]}', "invalid_message", "ids[0]"),
        ('{"type": "unsubscribe"}', "invalid_message", "sub"),
    ],
)
def test_a_bad_frame_gets_its_code_and_the_connection_stays_open(frame: str, code: str, field: str | None) -> None:
    [answer] = answers_to([frame])
    assert (answer["type"], answer["code"]) == ("error", code)
    if field is not None:
        assert answer["details"]["field"] == field
    SERVER_FRAME.validate(answer)


def test_an_error_echoes_the_frames_id_when_it_can_be_read() -> None:
    answers = answers_to(
        ['{"type": "unsubscribe", "id": "u-1"}', '{"type": "dance", "id": 42}', '{"type": "ping", "id": 1.5}']
    )
    assert [(a["code"], a.get("id")) for a in answers] == [
        ("invalid_message", "u-1"),
        ("unknown_type", 42),
        ("invalid_json", None),
    ]


def test_an_oversized_or_binary_frame_is_refused() -> None:
    huge = json.dumps({"type": "ping", "id": "x" * MAX_FRAME_BYTES})
    answers = answers_to([huge, b"\x00\x01binary"])
    assert [a["code"] for a in answers] == ["frame_too_large", "binary_not_supported"]


@pytest.mark.django_db(transaction=True)
def test_the_mailbox_needs_authentication_on_the_websocket_too() -> None:
    answers = answers_to(
        [
            '{"type": "subscribe", "sub": "m", "stream": "mailbox"}',
            '{"type": "ack", "ids": ["' + "00" * 32 + '"]}',
        ]
    )
    assert [a["code"] for a in answers] == ["auth_required", "auth_required"]


# --- the catch-all ------------------------------------------------------------------------------------------
def test_an_unexpected_fault_is_logged_and_answered_internal_error(monkeypatch: Any, caplog: Any) -> None:
    async def broken(self: RelayConsumer, frame: Any) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(RelayConsumer, "_unsubscribe", broken)
    with caplog.at_level(logging.ERROR, logger="relay.consumers"):
        answers = answers_to(['{"type": "unsubscribe", "sub": "x"}', '{"type": "unsubscribe", "sub": "x"}'])
    assert [a["code"] for a in answers] == ["internal_error", "internal_error"]
    assert "a bug" not in json.dumps(answers)  # the client learns nothing of the fault
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_fault_while_delivering_a_live_event_keeps_the_connection(monkeypatch: Any) -> None:
    def broken(self: live.Subscription, event: Any, *, now: int) -> bool:
        raise KeyError("body")

    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        await session.open()
        await session.subscribe("g", "graph")
        monkeypatch.setattr(live.Subscription, "matches", broken)
        await in_thread(accept)(announce(ALICE, BOB))
        answers = [await session.recv(), await session.ask({"type": "ping", "id": 1})]
        await session.close()
        return answers

    error, pong = run(scenario())
    assert (error["code"], pong) == ("internal_error", {"type": "pong", "id": 1})


# --- fuzz ----------------------------------------------------------------------------------------------------
def unlimited(settings: Any) -> None:
    settings.RELAY_RATE_LIMITS = {name: (1_000_000, 1_000_000) for name in settings.RELAY_RATE_LIMITS}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
frame_like = st.fixed_dictionaries(
    {"type": st.sampled_from(KNOWN_TYPES)},
    optional={
        "id": json_values,
        "sub": st.text(max_size=40),
        "stream": st.sampled_from(["mailbox", "graph", "listings", "news"]) | json_values,
        "filter": json_values,
        "since": json_values,
        "key": st.text(alphabet="0123456789abcdefAB", max_size=66),
        "sig": st.text(alphabet="0123456789abcdef", max_size=130),
        "ids": json_values,
    },
).map(json.dumps)
frames = st.one_of(
    frame_like,
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
)


@pytest.mark.django_db(transaction=True)
@examples(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_random_frames_get_frames_and_typed_errors_and_never_store_anything(batch: list[str], settings: Any) -> None:
    unlimited(settings)
    before = (Event.objects.count(), MailboxMessage.objects.count())
    answers = answers_to(batch, authenticate=True)
    for answer in answers:
        SERVER_FRAME.validate(answer)
        assert answer.get("code") != RelayErrorCode.INTERNAL_ERROR.value, answer
        if answer["type"] == "error":
            assert RelayErrorCode(answer["code"])
    assert (Event.objects.count(), MailboxMessage.objects.count()) == before


@pytest.mark.core
@examples(max_examples=300, deadline=None)
@given(text=frames)
def test_decoding_any_frame_gives_a_frame_or_a_typed_error(text: str) -> None:
    from relay.protocol import RequestError

    try:
        parse_frame(text)
    except RequestError as e:
        assert isinstance(e.code, RelayErrorCode)


@pytest.mark.django_db
@examples(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(["application/octet-stream", "application/json", "text/plain"]),
    headers=st.dictionaries(
        st.sampled_from(["X-Relay-Key", "X-Relay-Timestamp", "X-Relay-Nonce", "X-Relay-Signature"]),
        st.text(alphabet="0123456789abcdef-", max_size=130),
    ),
)
def test_random_unsigned_deposits_and_events_are_refused_and_store_nothing(
    client: Client, settings: Any, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    unlimited(settings)  # the examples share one test's buckets
    publish_profiles(ALICE)
    before = (Event.objects.count(), MailboxMessage.objects.count(), AuthNonce.objects.count())
    for path in (f"{V1}/mailboxes/{key(ALICE)}", f"{V1}/mailbox/ack", f"{V1}/events"):
        response = client.post(path, data=body, content_type=content_type, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["error"]["code"] != "internal_error"
    assert client.get(f"{V1}/mailbox?after=0", headers=headers).status_code == 401
    assert (Event.objects.count(), MailboxMessage.objects.count(), AuthNonce.objects.count()) == before


@pytest.mark.django_db
def test_a_signed_request_for_another_mailbox_reads_nothing_of_it(client: Client) -> None:
    """There is no parameter naming the mailbox to read: the signing key is the mailbox."""
    publish_profiles(ALICE, BOB)
    path = f"{V1}/mailbox?after=0&recipient={key(ALICE)}"
    response = client.get(path, headers=signed(BOB, "GET", path))
    assert response.status_code == 200 and response.json()["messages"] == []
    assert error_code(client.get(f"{V1}/mailboxes/{key(ALICE)}")) == "method_not_allowed"
