"""Mailboxes: end-to-end encrypted store-and-forward between members (docs/relay.md §14).

A sender authenticated by its key deposits an opaque ciphertext (a NaCl box to the recipient's
mailbox key, published in the recipient's signed profile) for a recipient; the recipient's devices
fetch and acknowledge. The relay sees only sender, recipient, size and times.

Write paths, on crash, retry and duplicate delivery:
- ``mailbox_deposit`` locks the recipient's head row, checks the bounds (live messages and their
  bytes) and stores the message with the next ``seq``, in one transaction. Deposits to one mailbox
  therefore run one after another: seqs are consecutive in commit order (a reader that saw seq n
  never later finds a new message at or below n), and two deposits cannot both squeeze under a bound.
- The message id is the SHA-256 of the ciphertext: a retried deposit (the answer was lost) finds it
  and answers ``duplicate`` without storing it twice, also after the recipient acknowledged it (the
  row stays, without its ciphertext, until it expires). The same bytes from another sender are
  refused (``mailbox_conflict``): a message has one sender.
- Live subscribers hear of a message after its transaction commits (``transaction.on_commit``); a
  subscriber that misses the notice reads the mailbox from its last seq (``relay.live``).
- ``mailbox_ack`` drops the ciphertext of the recipient's own messages at once; ``mailbox_purge``
  (beat) deletes expired messages, tombstones and nonces. Both are idempotent.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from relay import live
from relay.models import AuthNonce, MailboxHead, MailboxMessage, Profile
from relay.protocol import RelayErrorCode, RequestError
from relay.protocol.auth import SignedRequest

BOX_OVERHEAD = 40  # a NaCl box: 24 bytes of nonce, 16 of authentication tag
MAX_PAGE = 100


class Outcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Deposited:
    outcome: Outcome
    message_id: str
    expires: int


def message_id_of(ciphertext: bytes) -> str:
    return hashlib.sha256(ciphertext).hexdigest()


def _head(recipient: str) -> MailboxHead:
    """The recipient's head row, created if need be (race-free: insert-or-ignore), then locked."""
    MailboxHead.objects.bulk_create([MailboxHead(recipient=recipient, last_seq=0)], ignore_conflicts=True)
    return MailboxHead.objects.select_for_update().get(recipient=recipient)


def mailbox_deposit(*, sender: SignedRequest, recipient: str, ciphertext: bytes, now: int) -> Deposited:
    """Store ``ciphertext`` from the authenticated ``sender`` for ``recipient``; ``stored`` or
    ``duplicate``. Raises ``RequestError`` (nothing stored) when it cannot be taken."""
    size = len(ciphertext)
    if size > settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES:
        raise RequestError(
            RelayErrorCode.MAILBOX_MESSAGE_TOO_LARGE,
            f"{size} bytes; the limit is {settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES}",
            max_bytes=settings.RELAY_MAILBOX_MAX_MESSAGE_BYTES,
        )
    if size < BOX_OVERHEAD:
        raise RequestError(
            RelayErrorCode.MAILBOX_BAD_MESSAGE, f"{size} bytes cannot be a NaCl box (at least {BOX_OVERHEAD})"
        )
    if not Profile.objects.filter(key=recipient).exists():
        raise RequestError(
            RelayErrorCode.MAILBOX_UNKNOWN_RECIPIENT,
            "this relay holds no profile (and so no mailbox key) for the recipient",
        )
    message_id = message_id_of(ciphertext)
    try:
        with transaction.atomic():
            return _deposit(sender, recipient, ciphertext, message_id, now)
    except IntegrityError:
        # Another deposit created the head or stored these bytes first: decide again against it.
        with transaction.atomic():
            return _deposit(sender, recipient, ciphertext, message_id, now)


def _deposit(sender: SignedRequest, recipient: str, ciphertext: bytes, message_id: str, now: int) -> Deposited:
    head = _head(recipient)
    held = MailboxMessage.objects.filter(recipient=recipient, message_id=message_id).first()
    if held is not None:
        if held.sender != sender.key:
            raise RequestError(
                RelayErrorCode.MAILBOX_CONFLICT, "this mailbox holds a message with these bytes from another sender"
            )
        return Deposited(Outcome.DUPLICATE, message_id, held.expires)
    pending = MailboxMessage.objects.filter(recipient=recipient, acked_at__isnull=True, expires__gt=now).aggregate(
        count=Count("pk"), size=Sum("size")
    )
    count, total = pending["count"] or 0, pending["size"] or 0
    max_messages, max_bytes = settings.RELAY_MAILBOX_MAX_MESSAGES, settings.RELAY_MAILBOX_MAX_BYTES
    if count + 1 > max_messages or total + len(ciphertext) > max_bytes:
        raise RequestError(
            RelayErrorCode.MAILBOX_FULL,
            "the recipient's mailbox is full until its devices fetch and acknowledge",
            max_messages=max_messages,
            max_bytes=max_bytes,
        )
    head.last_seq += 1
    head.save(update_fields=["last_seq"])
    expires = now + settings.RELAY_MAILBOX_TTL_SECONDS
    row = MailboxMessage.objects.create(
        recipient=recipient,
        seq=head.last_seq,
        message_id=message_id,
        sender=sender.key,
        ciphertext=ciphertext,
        size=len(ciphertext),
        deposited=now,
        expires=expires,
        auth_timestamp=sender.timestamp,
        auth_nonce=sender.nonce,
        auth_sig=sender.sig,
    )
    transaction.on_commit(partial(live.mailbox_committed, recipient, message_json(row)), robust=True)
    return Deposited(Outcome.STORED, message_id, expires)


def message_json(row: MailboxMessage) -> dict[str, Any]:
    """A message as its recipient receives it (HTTP fetch and the WebSocket ``message`` frame).
    ``deposit`` is the sender's signed deposit request, so the recipient can check who sent it."""
    assert row.ciphertext is not None
    return {
        "seq": row.seq,
        "id": row.message_id,
        "sender": row.sender,
        "size": row.size,
        "deposited": row.deposited,
        "expires": row.expires,
        "ciphertext": base64.b64encode(bytes(row.ciphertext)).decode("ascii"),
        "deposit": {"timestamp": row.auth_timestamp, "nonce": row.auth_nonce, "sig": row.auth_sig},
    }


@dataclass(frozen=True)
class Page:
    messages: list[dict[str, Any]]
    next_seq: int  # pass as `after` to continue; equals `after` when nothing is new
    more: bool


def mailbox_fetch(*, recipient: str, after: int, limit: int, now: int) -> Page:
    """The recipient's messages after seq ``after``, not acknowledged and not expired, oldest first."""
    rows = list(
        MailboxMessage.objects.filter(
            recipient=recipient, seq__gt=after, acked_at__isnull=True, expires__gt=now
        ).order_by("seq")[: limit + 1]
    )
    page = rows[:limit]
    return Page([message_json(r) for r in page], page[-1].seq if page else after, len(rows) > limit)


def mailbox_last_seq(recipient: str) -> int:
    return MailboxHead.objects.filter(recipient=recipient).values_list("last_seq", flat=True).first() or 0


def mailbox_scan(*, recipient: str, after: int, limit: int, now: int) -> list[tuple[int, dict[str, Any] | None]]:
    """Every seq after ``after`` still held, oldest first, with the message, or None where it was
    acknowledged or has expired: a subscriber moves past those without receiving them."""
    rows = MailboxMessage.objects.filter(recipient=recipient, seq__gt=after).order_by("seq")[:limit]
    return [(r.seq, message_json(r) if r.acked_at is None and r.expires > now else None) for r in rows]


def mailbox_ack(*, recipient: str, ids: list[str] | tuple[str, ...], now: int) -> int:
    """Drop the ciphertext of the recipient's messages with these ids (its own only; unknown and
    already acknowledged ids are ignored). Returns how many were acknowledged now."""
    return MailboxMessage.objects.filter(recipient=recipient, message_id__in=list(ids), acked_at__isnull=True).update(
        ciphertext=None, acked_at=now
    )


def mailbox_purge(*, now: int) -> dict[str, int]:
    """Delete expired messages and tombstones, and nonces that can no longer be replayed."""
    messages, _ = MailboxMessage.objects.filter(expires__lte=now).delete()
    nonces, _ = AuthNonce.objects.filter(expires__lte=now).delete()
    return {"messages": messages, "nonces": nonces}
