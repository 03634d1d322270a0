"""Mailboxes: end-to-end encrypted messages the relay stores without being able to read them, once,
within bounds, until the recipient acknowledges them or they expire."""

from __future__ import annotations

import threading
import time
from typing import Any

import nacl.exceptions
import pytest
from django.db import connection
from django.test import Client

from relay import mailbox
from relay.models import AuthNonce, MailboxHead, MailboxMessage
from relay.protocol.auth import SignedRequest, http_auth_message, verify_auth
from relay.tasks import purge_mailboxes
from tests.relay.builders import ALICE, BOB, CAROL, MALLORY, key
from tests.relay.clients import (
    ORIGIN,
    V1,
    ack,
    ciphertext_of,
    deposit,
    error_code,
    fetch,
    now,
    publish_profiles,
    seal,
    signed,
    unseal,
)
from tests.relay.test_schema import check_response

pytestmark = pytest.mark.django_db

PLAINTEXT = b'{"kind":"proposal","op":"payment","amount":1250,"memo":"duck eggs, Fridays"}'


@pytest.fixture
def members() -> None:
    publish_profiles(ALICE, BOB, CAROL)


def mailbox_key(signer: Any, client: Client) -> str:
    return str(client.get(f"{V1}/profiles/{key(signer)}").json()["mailbox_key"])


# --- end to end, and what the relay sees ------------------------------------------------------------
def test_a_message_travels_encrypted_and_only_the_recipient_can_read_it(client: Client, members: None) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    stored = deposit(client, BOB, key(ALICE), ciphertext)
    assert stored.status_code == 201
    check_response("mailbox_deposited", stored.json())
    assert stored.json()["outcome"] == "stored"

    page = fetch(client, ALICE).json()
    check_response("mailbox_page", page)
    [message] = page["messages"]
    assert (message["seq"], message["sender"], message["size"]) == (1, key(BOB), len(ciphertext))
    assert message["id"] == stored.json()["id"]
    # The recipient opens it with its mailbox secret and the sender's mailbox key from the signed profile.
    assert unseal(ALICE, mailbox_key(BOB, client), ciphertext_of(message)) == PLAINTEXT


def test_the_relay_stores_only_the_ciphertext_and_the_routing_metadata(client: Client, members: None) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    deposit(client, BOB, key(ALICE), ciphertext)
    row = MailboxMessage.objects.get()
    assert bytes(row.ciphertext) == ciphertext
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM relay_mailboxmessage")
        raw = cursor.fetchall()
    dump = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in raw[0])
    for secret in (PLAINTEXT, b"duck eggs", b"payment", b"memo"):  # (digits could occur in hex by chance)
        assert secret not in dump
    # Bob's mailbox key in the box names the sender to Alice; nobody without Alice's secret opens it.
    with pytest.raises(nacl.exceptions.CryptoError):
        unseal(CAROL, mailbox_key(BOB, client), ciphertext)


def test_the_recipient_can_check_who_deposited_a_message_without_trusting_the_relay(
    client: Client, members: None
) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    deposit(client, BOB, key(ALICE), ciphertext)
    [message] = fetch(client, ALICE).json()["messages"]
    proof = message["deposit"]
    signed_request = http_auth_message(
        method="POST",
        path=f"{V1}/mailboxes/{key(ALICE)}",
        body=ciphertext_of(message),
        key=message["sender"],
        timestamp=proof["timestamp"],
        nonce=proof["nonce"],
        relay=ORIGIN,
    )
    verify_auth(message["sender"], signed_request, proof["sig"])


# --- idempotent deposit ------------------------------------------------------------------------------
def test_a_retried_deposit_is_stored_once(client: Client, members: None) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    first = deposit(client, BOB, key(ALICE), ciphertext)
    again = deposit(client, BOB, key(ALICE), ciphertext)  # the answer was lost: same bytes, new signature
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"outcome": "duplicate"}
    assert MailboxMessage.objects.count() == 1
    assert len(fetch(client, ALICE).json()["messages"]) == 1


def test_a_retry_after_the_recipient_acknowledged_is_not_delivered_again(client: Client, members: None) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    message_id = deposit(client, BOB, key(ALICE), ciphertext).json()["id"]
    assert ack(client, ALICE, [message_id]).json() == {"acknowledged": 1}
    late = deposit(client, BOB, key(ALICE), ciphertext)
    assert (late.status_code, late.json()["outcome"]) == (200, "duplicate")
    assert fetch(client, ALICE).json()["messages"] == []


def test_the_same_bytes_from_another_sender_are_refused(client: Client, members: None) -> None:
    ciphertext = seal(BOB, ALICE, PLAINTEXT)
    deposit(client, BOB, key(ALICE), ciphertext)
    response = deposit(client, MALLORY, key(ALICE), ciphertext)
    assert (response.status_code, error_code(response)) == (409, "mailbox_conflict")
    assert MailboxMessage.objects.get().sender == key(BOB)


@pytest.mark.django_db(transaction=True)
def test_deposits_racing_for_one_mailbox_get_seqs_without_gaps_and_never_overfill_it(settings: Any) -> None:
    publish_profiles(ALICE)
    settings.RELAY_MAILBOX_MAX_MESSAGES = 5
    outcomes: list[str] = []

    def send(i: int) -> None:
        try:
            signer = BOB if i % 2 else CAROL
            auth = SignedRequest(key(signer), now(), f"{i:032x}", "00" * 64)
            try:
                outcomes.append(
                    mailbox.mailbox_deposit(
                        sender=auth, recipient=key(ALICE), ciphertext=seal(signer, ALICE, b"%d" % i), now=now()
                    ).outcome.value
                )
            except Exception as e:
                outcomes.append(getattr(getattr(e, "code", None), "value", repr(e)))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["mailbox_full"] * 7 + ["stored"] * 5
    seqs = sorted(MailboxMessage.objects.filter(recipient=key(ALICE)).values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5]
    assert MailboxHead.objects.get(recipient=key(ALICE)).last_seq == 5


# --- what is refused ----------------------------------------------------------------------------------
def test_a_message_for_a_member_without_a_profile_here_is_refused(client: Client, members: None) -> None:
    response = deposit(client, BOB, "ab" * 32, b"x" * 64)
    assert (response.status_code, error_code(response)) == (404, "mailbox_unknown_recipient")


def test_an_oversized_message_is_refused_before_and_after_reading_it(
    client: Client, members: None, settings: Any
) -> None:
    settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES = 1000
    response = deposit(client, BOB, key(ALICE), b"x" * 1001)
    assert (response.status_code, error_code(response)) == (413, "mailbox_message_too_large")
    assert response.json()["error"]["details"] == {"max_bytes": 1000}
    assert deposit(client, BOB, key(ALICE), b"x" * 1000).status_code == 201
    assert MailboxMessage.objects.count() == 1


def test_a_message_too_short_to_be_a_box_is_refused(client: Client, members: None) -> None:
    response = deposit(client, BOB, key(ALICE), b"x" * 39)
    assert (response.status_code, error_code(response)) == (400, "mailbox_bad_message")


def test_a_deposit_must_be_octet_stream_and_take_no_query(client: Client, members: None) -> None:
    path = f"{V1}/mailboxes/{key(ALICE)}"
    body = seal(BOB, ALICE, PLAINTEXT)
    as_json = client.post(path, data=body, content_type="application/json", headers=signed(BOB, "POST", path, body))
    assert (as_json.status_code, error_code(as_json)) == (415, "unsupported_media_type")
    query = client.post(
        f"{path}?ttl=1", data=body, content_type="application/octet-stream", headers=signed(BOB, "POST", path, body)
    )
    assert (query.status_code, error_code(query)) == (400, "invalid_request")
    assert MailboxMessage.objects.count() == 0


# --- bounds -------------------------------------------------------------------------------------------
def test_a_full_mailbox_refuses_more_until_messages_are_acknowledged(
    client: Client, members: None, settings: Any
) -> None:
    settings.RELAY_MAILBOX_MAX_MESSAGES = 3
    sent = [seal(BOB, ALICE, b"%d" % i) for i in range(3)]
    ids = [deposit(client, BOB, key(ALICE), ciphertext).json()["id"] for ciphertext in sent]
    full = deposit(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"one more"))
    assert (full.status_code, error_code(full)) == (507, "mailbox_full")
    assert full.json()["error"]["details"]["max_messages"] == 3
    # Another mailbox is not affected, and a retry of a message already held still answers duplicate.
    assert deposit(client, BOB, key(CAROL), seal(BOB, CAROL, b"hi")).status_code == 201
    assert deposit(client, BOB, key(ALICE), sent[0]).json()["outcome"] == "duplicate"
    ack(client, ALICE, ids[:1])
    assert deposit(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"one more")).status_code == 201


def test_the_bytes_a_mailbox_holds_are_bounded_too(client: Client, members: None, settings: Any) -> None:
    settings.RELAY_MAILBOX_MAX_BYTES = 300
    settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES = 300
    assert deposit(client, BOB, key(ALICE), b"a" * 200).status_code == 201
    assert deposit(client, BOB, key(ALICE), b"b" * 100).status_code == 201
    full = deposit(client, BOB, key(ALICE), b"c" * 40)
    assert (full.status_code, error_code(full)) == (507, "mailbox_full")
    assert full.json()["error"]["details"]["max_bytes"] == 300


def test_expired_messages_free_their_room_before_they_are_purged(client: Client, members: None, settings: Any) -> None:
    settings.RELAY_MAILBOX_MAX_MESSAGES = 1
    deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"old"))
    MailboxMessage.objects.update(expires=now() - 1)
    assert fetch(client, ALICE).json()["messages"] == []
    assert deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"new")).status_code == 201


# --- acknowledgement ----------------------------------------------------------------------------------
def test_acknowledging_deletes_the_ciphertext_at_once(client: Client, members: None) -> None:
    first = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"one")).json()["id"]
    second = deposit(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"two")).json()["id"]
    answer = ack(client, ALICE, [first, "00" * 32])
    assert answer.json() == {"acknowledged": 1}
    check_response("mailbox_acked", answer.json())
    acked = MailboxMessage.objects.get(message_id=first)
    assert acked.ciphertext is None and acked.acked_at is not None
    assert [m["id"] for m in fetch(client, ALICE).json()["messages"]] == [second]
    assert ack(client, ALICE, [first]).json() == {"acknowledged": 0}  # idempotent


def test_only_the_recipient_can_acknowledge_its_messages(client: Client, members: None) -> None:
    message_id = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"mine")).json()["id"]
    assert ack(client, BOB, [message_id]).json() == {"acknowledged": 0}
    assert ack(client, MALLORY, [message_id]).json() == {"acknowledged": 0}
    assert [m["id"] for m in fetch(client, ALICE).json()["messages"]] == [message_id]


@pytest.mark.parametrize(
    "body", [b"not json", b'{"ids": []}', b'{"ids": ["XYZ"]}', b'{"ids": "00"}', b"[]", b'{"ids": [1.5]}']
)
def test_a_malformed_acknowledgement_is_an_invalid_request(client: Client, members: None, body: bytes) -> None:
    path = f"{V1}/mailbox/ack"
    response = client.post(path, data=body, content_type="application/json", headers=signed(ALICE, "POST", path, body))
    assert (response.status_code, error_code(response)) == (400, "invalid_request")


def test_an_oversized_acknowledgement_is_refused_as_a_request_not_a_message(client: Client, members: None) -> None:
    response = ack(client, ALICE, ["00" * 32] * 1000)
    assert (response.status_code, error_code(response)) == (413, "invalid_request")


def test_fetching_pages_through_the_mailbox_in_seq_order(client: Client, members: None) -> None:
    for i in range(5):
        deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"%d" % i))
    first = fetch(client, ALICE, limit=2).json()
    assert ([m["seq"] for m in first["messages"]], first["next"], first["more"]) == ([1, 2], 2, True)
    rest = fetch(client, ALICE, after=first["next"], limit=10).json()
    assert ([m["seq"] for m in rest["messages"]], rest["next"], rest["more"]) == ([3, 4, 5], 5, False)
    assert fetch(client, ALICE, after=5).json() == {"messages": [], "next": 5, "more": False}
    assert fetch(client, BOB).json()["messages"] == []  # each member reads its own mailbox only


# --- expiry -------------------------------------------------------------------------------------------
def expire_some(client: Client) -> tuple[str, str, str]:
    old = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"old")).json()["id"]
    acked = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, b"acked")).json()["id"]
    fresh = deposit(client, CAROL, key(ALICE), seal(CAROL, ALICE, b"fresh")).json()["id"]
    ack(client, ALICE, [acked])
    MailboxMessage.objects.filter(message_id__in=[old, acked]).update(expires=now() - 1)
    AuthNonce.objects.create(key=key(BOB), nonce="ee" * 16, expires=now() - 1)
    return old, acked, fresh


def test_the_purge_deletes_expired_messages_tombstones_and_spent_nonces(client: Client, members: None) -> None:
    _, _, fresh = expire_some(client)
    nonces = AuthNonce.objects.count()
    assert purge_mailboxes() == {"messages": 2, "nonces": 1}
    assert list(MailboxMessage.objects.values_list("message_id", flat=True)) == [fresh]
    assert AuthNonce.objects.count() == nonces - 1
    assert purge_mailboxes() == {"messages": 0, "nonces": 0}  # a rerun finds nothing left
    assert MailboxHead.objects.get(recipient=key(ALICE)).last_seq == 3  # seqs are never handed out twice


def test_the_purge_is_scheduled_by_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["relay-purge-mailboxes"]
    assert entry["task"] == purge_mailboxes.name == "relay.tasks.purge_mailboxes"
    assert purge_mailboxes.acks_late is True


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_purges_expired_messages(client: Client, celery_worker: Any) -> None:
    publish_profiles(ALICE, BOB, CAROL)
    _, _, fresh = expire_some(client)
    result = purge_mailboxes.delay().get(timeout=60)
    assert result["messages"] == 2
    assert list(MailboxMessage.objects.values_list("message_id", flat=True)) == [fresh]


def test_a_message_expires_after_the_configured_time(client: Client, members: None, settings: Any) -> None:
    settings.RELAY_MAILBOX_TTL_SECONDS = 3600
    before = now()
    expires = deposit(client, BOB, key(ALICE), seal(BOB, ALICE, PLAINTEXT)).json()["expires"]
    assert before + 3600 <= expires <= int(time.time()) + 3600
