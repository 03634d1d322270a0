"""Members authenticate by signing with their keys: HTTP headers with replay protection, and a
challenge on the WebSocket. Wrong key, replayed nonce, stale timestamp, another path, another
relay, another body: each refused with its code, and nothing a forger sends costs the member."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import rfc8785
from django.test import Client

from relay.models import AuthNonce
from relay.protocol import RelayErrorCode, RequestError
from relay.protocol.auth import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    check_ws_auth,
    http_auth_message,
    new_challenge,
    origin_of,
    parse_auth_headers,
    sign_http_request,
    sign_ws_auth,
    ws_auth_message,
)
from tests.relay.builders import ALICE, BOB, MALLORY, key
from tests.relay.clients import (
    ORIGIN,
    V1,
    Session,
    deposit,
    error_code,
    fetch,
    now,
    publish_profiles,
    run,
    seal,
    signed,
)

MAILBOX = f"{V1}/mailbox?after=0"


def get(client: Client, headers: dict[str, str], path: str = MAILBOX) -> Any:
    return client.get(path, headers=headers)


# --- what is signed ---------------------------------------------------------------------------------
@pytest.mark.core
def test_the_http_message_is_the_tag_a_zero_byte_and_the_digest_of_the_canonical_request() -> None:
    body = b'{"ids":[]}'
    fields = {
        "body": hashlib.sha256(body).hexdigest(),
        "key": key(ALICE),
        "method": "POST",
        "nonce": "00" * 16,
        "path": "/relay/v1/mailbox/ack",
        "relay": "https://relay.example",
        "timestamp": 1790000000,
    }
    expected = b"FOAF-RELAY-1/http-auth\x00" + hashlib.sha256(rfc8785.dumps(fields)).digest()
    message = http_auth_message(
        method="POST",
        path="/relay/v1/mailbox/ack",
        body=body,
        key=key(ALICE),
        timestamp=1790000000,
        nonce="00" * 16,
        relay="https://relay.example",
    )
    assert message == expected
    headers = sign_http_request(
        ALICE, method="POST", path="/relay/v1/mailbox/ack", body=body, relay="https://relay.example",
        now=1790000000, nonce="00" * 16,
    )  # fmt: skip
    nacl.signing.VerifyKey(ALICE.public_key).verify(expected, bytes.fromhex(headers[HEADER_SIGNATURE]))


@pytest.mark.core
def test_the_websocket_message_binds_the_challenge_the_key_and_the_relay() -> None:
    challenge = "ab" * 32
    fields = {"challenge": challenge, "key": key(ALICE), "relay": "https://relay.example"}
    expected = b"FOAF-RELAY-1/ws-auth\x00" + hashlib.sha256(rfc8785.dumps(fields)).digest()
    assert ws_auth_message(challenge=challenge, key=key(ALICE), relay="https://relay.example") == expected
    frame = sign_ws_auth(ALICE, challenge=challenge, relay="https://relay.example")
    check_ws_auth(key=frame["key"], sig=frame["sig"], challenge=challenge, relay="https://relay.example")
    for other in ({"challenge": "cd" * 32}, {"relay": "https://evil.example"}):
        args = {"challenge": challenge, "relay": "https://relay.example"} | other
        with pytest.raises(RequestError) as caught:
            check_ws_auth(key=frame["key"], sig=frame["sig"], **args)
        assert caught.value.code is RelayErrorCode.AUTH_BAD_SIGNATURE


@pytest.mark.core
def test_the_worked_examples_of_the_documentation_are_what_the_code_signs() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "relay.md").read_text()
    relay = "https://relay.crawfordbay.example"
    headers = sign_http_request(
        ALICE, method="GET", path="/relay/v1/mailbox?after=0", body=b"", relay=relay, now=1790000000, nonce="00" * 16
    )
    frame = sign_ws_auth(ALICE, challenge="ab" * 32, relay=relay)
    assert f"X-Relay-Signature: {headers[HEADER_SIGNATURE]}" in doc
    assert f"sig:     {frame['sig']}" in doc


@pytest.mark.core
@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("wss://Relay.Example/ws/relay/", "https://relay.example"),
        ("wss://relay.example:443/ws/relay/", "https://relay.example"),
        ("https://relay.example:8443/relay/v1/", "https://relay.example:8443"),
        ("ws://127.0.0.1:8000/ws/relay/", "http://127.0.0.1:8000"),
        ("http://testserver/relay/v1/mailbox", "http://testserver"),
        ("ws://[::1]:8000/ws/relay/", "http://[::1]:8000"),
    ],
)
def test_a_client_derives_the_relay_origin_from_the_url_it_dialled(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.core
def test_headers_are_checked_for_form_before_anything_else() -> None:
    good = sign_http_request(ALICE, method="GET", path="/", body=b"", relay=ORIGIN, now=1)
    assert parse_auth_headers(good.get).key == key(ALICE)
    with pytest.raises(RequestError) as caught:
        parse_auth_headers({}.get)
    assert caught.value.code is RelayErrorCode.AUTH_REQUIRED
    for name, bad in [
        (HEADER_KEY, key(ALICE).upper()),
        (HEADER_TIMESTAMP, "-5"),
        (HEADER_NONCE, "xyz"),
        (HEADER_SIGNATURE, ""),
    ]:
        with pytest.raises(RequestError) as caught:
            parse_auth_headers({**good, name: bad}.get)
        assert (caught.value.code, caught.value.details["field"]) == (RelayErrorCode.AUTH_MALFORMED, name)
    without_nonce = {k: v for k, v in good.items() if k != HEADER_NONCE}
    with pytest.raises(RequestError) as caught:
        parse_auth_headers(without_nonce.get)
    assert caught.value.code is RelayErrorCode.AUTH_MALFORMED


# --- HTTP ---------------------------------------------------------------------------------------------
needs_db = pytest.mark.django_db


@needs_db
def test_a_request_signed_by_the_member_is_answered_for_that_member(client: Client) -> None:
    response = get(client, signed(ALICE, "GET", MAILBOX))
    assert response.status_code == 200
    assert response.json() == {"messages": [], "next": 0, "more": False}


@needs_db
def test_an_unsigned_request_is_refused_naming_the_scheme(client: Client) -> None:
    response = client.get(MAILBOX)
    assert (response.status_code, error_code(response)) == (401, "auth_required")
    assert response["WWW-Authenticate"] == "FOAF-Relay-1"


@needs_db
def test_a_signature_by_another_key_than_the_one_named_is_refused(client: Client) -> None:
    headers = signed(MALLORY, "GET", MAILBOX) | {HEADER_KEY: key(ALICE)}
    response = get(client, headers)
    assert (response.status_code, error_code(response)) == (401, "auth_bad_signature")
    assert response.json()["error"]["details"]["reason"] == "BAD_SIGNATURE"


@needs_db
def test_a_replayed_request_is_refused(client: Client) -> None:
    headers = signed(ALICE, "GET", MAILBOX)
    assert get(client, headers).status_code == 200
    again = get(client, headers)
    assert (again.status_code, error_code(again)) == (401, "auth_replayed")


@needs_db
def test_a_stale_or_future_timestamp_is_refused_with_the_relays_time(client: Client, settings: Any) -> None:
    window = settings.RELAY_AUTH_MAX_SKEW_SECONDS
    for skew in (-window - 2, window + 2):
        response = get(client, signed(ALICE, "GET", MAILBOX, at=now() + skew))
        assert (response.status_code, error_code(response)) == (401, "auth_stale")
        assert abs(response.json()["error"]["details"]["server_time"] - now()) <= 2
    inside = get(client, signed(ALICE, "GET", MAILBOX, at=now() - window + 5))
    assert inside.status_code == 200


@needs_db
def test_a_signature_over_another_path_query_method_or_relay_is_refused(client: Client) -> None:
    cases = [
        signed(ALICE, "GET", f"{V1}/mailbox?after=5"),  # another query string
        signed(ALICE, "GET", f"{V1}/mailbox/ack"),  # another path
        signed(ALICE, "POST", MAILBOX),  # another method
        signed(ALICE, "GET", MAILBOX, relay="https://relay.example"),  # made for another relay
    ]
    for headers in cases:
        response = get(client, headers)
        assert (response.status_code, error_code(response)) == (401, "auth_bad_signature")


@needs_db
def test_a_signature_over_another_body_is_refused_and_nothing_is_deposited(client: Client) -> None:
    publish_profiles(ALICE, BOB)
    path = f"{V1}/mailboxes/{key(ALICE)}"
    real, swapped = seal(BOB, ALICE, b"pay 5"), seal(BOB, ALICE, b"pay 500")
    response = client.post(
        path, data=swapped, content_type="application/octet-stream", headers=signed(BOB, "POST", path, real)
    )
    assert (response.status_code, error_code(response)) == (401, "auth_bad_signature")
    assert fetch(client, ALICE).json()["messages"] == []


@needs_db
def test_a_key_that_is_no_usable_ed25519_key_is_refused_as_such(client: Client) -> None:
    small_order = "01" + "00" * 31
    headers = signed(ALICE, "GET", MAILBOX) | {HEADER_KEY: small_order}
    response = get(client, headers)
    assert (response.status_code, error_code(response)) == (401, "auth_bad_key")
    assert response.json()["error"]["details"]["reason"] == "KEY_SMALL_ORDER"


@needs_db
def test_a_forged_request_burns_no_nonce_of_the_member(client: Client) -> None:
    nonce = "5a" * 16
    forged = signed(MALLORY, "GET", MAILBOX, nonce=nonce) | {HEADER_KEY: key(ALICE)}
    assert error_code(get(client, forged)) == "auth_bad_signature"
    assert not AuthNonce.objects.filter(key=key(ALICE)).exists()
    assert get(client, signed(ALICE, "GET", MAILBOX, nonce=nonce)).status_code == 200


@needs_db
def test_the_same_nonce_under_two_keys_is_two_requests(client: Client) -> None:
    nonce = "77" * 16
    assert get(client, signed(ALICE, "GET", MAILBOX, nonce=nonce)).status_code == 200
    assert get(client, signed(BOB, "GET", MAILBOX, nonce=nonce)).status_code == 200


@needs_db
def test_the_configured_origin_is_what_clients_sign(client: Client, settings: Any) -> None:
    settings.RELAY_ORIGIN = "https://relay.crawfordbay.example"
    assert error_code(get(client, signed(ALICE, "GET", MAILBOX))) == "auth_bad_signature"
    response = get(client, signed(ALICE, "GET", MAILBOX, relay="https://relay.crawfordbay.example"))
    assert response.status_code == 200


@needs_db
def test_a_deposit_is_refused_before_any_check_of_its_content_when_unsigned(client: Client) -> None:
    publish_profiles(ALICE)
    response = client.post(f"{V1}/mailboxes/{key(ALICE)}", data=b"x" * 100, content_type="application/octet-stream")
    assert (response.status_code, error_code(response)) == (401, "auth_required")
    response = deposit(client, BOB, key(ALICE), b"x" * 100, at=now() - 3600)
    assert error_code(response) == "auth_stale"


# --- WebSocket --------------------------------------------------------------------------------------
def test_a_websocket_client_authenticates_by_signing_the_challenge() -> None:
    async def scenario() -> dict[str, Any]:
        session = Session()
        await session.open()
        answer = await session.auth(ALICE)
        await session.close()
        return answer

    assert run(scenario()) == {"type": "authenticated", "id": None, "key": key(ALICE)}


def test_a_websocket_auth_with_a_wrong_key_another_challenge_or_another_relay_is_refused() -> None:
    async def scenario() -> list[dict[str, Any]]:
        session = Session()
        hello = await session.open()
        other_challenge = new_challenge()
        attempts = [
            sign_ws_auth(MALLORY, challenge=hello["challenge"], relay=ORIGIN) | {"key": key(ALICE)},
            sign_ws_auth(ALICE, challenge=other_challenge, relay=ORIGIN),
            sign_ws_auth(ALICE, challenge=hello["challenge"], relay="https://relay.example"),
            sign_ws_auth(ALICE, challenge=hello["challenge"], relay=ORIGIN) | {"id": 9, "key": "01" + "00" * 31},
        ]
        answers = [await session.ask(frame) for frame in attempts]
        answers.append(await session.ask({"type": "subscribe", "sub": "m", "stream": "mailbox"}))
        await session.close()
        return answers

    *refused, mailbox = run(scenario())
    assert [a["code"] for a in refused] == ["auth_bad_signature"] * 3 + ["auth_bad_key"]
    assert refused[3]["id"] == 9
    assert mailbox["code"] == "auth_required"


def test_a_challenge_from_one_connection_does_not_open_another() -> None:
    async def scenario() -> dict[str, Any]:
        first, second = Session(), Session()
        hello = await first.open()
        await second.open()
        answer = await second.ask(sign_ws_auth(ALICE, challenge=hello["challenge"], relay=ORIGIN))
        await first.close()
        await second.close()
        return answer

    assert run(scenario())["code"] == "auth_bad_signature"


def test_a_connection_authenticates_once() -> None:
    async def scenario() -> dict[str, Any]:
        session = Session()
        await session.open()
        assert (await session.auth(ALICE))["type"] == "authenticated"
        again = await session.auth(BOB)
        await session.close()
        return again

    assert run(scenario())["code"] == "auth_already"
