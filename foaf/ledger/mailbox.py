"""Hosted members on the relay: their profiles, and their routing messages through relay mailboxes.

A member holding its own key reaches a hosted member (and back) the way it reaches anyone: a NaCl
box deposited in the recipient's relay mailbox (docs/relay.md §14), opened with the mailbox key of
the sender's profile. For a hosted member the service does both ends with the keys it holds: the
mailbox key is derived from the held seed (``foaf.ledger.keys``), the deposit request is signed by
the member's held key, and the relay is this service's own (so the deposit is a direct call of
``relay.mailbox``, not an HTTP request to ourselves).

Write paths, on crash, retry and duplicate delivery:
- ``mailbox_send`` seals deterministically (``HeldSecrets.box_to``): a retry deposits the same
  bytes and the relay answers ``duplicate``.
- ``mailboxes_collect`` hands each message to the recipient's wallet step and acknowledges it in
  that step's transaction; a crash before commit leaves it in the mailbox, and the next run hands
  it over again (the bilateral machine answers a repeated message the way it answered the first).
  A message that cannot be opened, or is not for a routing wallet, is acknowledged and counted as
  dropped: it can never become readable.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import nacl.exceptions
from django.conf import settings
from django.db import transaction

from foaf.ledger.keys import HeldSecrets
from foaf.ledger.models import HeldKey, Party
from foaf.ledger.services import LedgerError, party_held_secrets
from relay.mailbox import mailbox_ack, mailbox_deposit, mailbox_fetch
from relay.models import Profile
from relay.protocol import Kind, sign_event
from relay.protocol.auth import HEADER_NONCE, HEADER_SIGNATURE, SignedRequest, sign_http_request
from relay.services import Outcome, event_accept

log = logging.getLogger(__name__)

NO_MAILBOX = "no_mailbox"
PAGE = 100


def profile_publish(party: Party, *, now: int) -> bool:
    """Publish the hosted member's profile (name, this relay, its mailbox key) unless this relay
    already has one for its key. Returns whether it published."""
    if Profile.objects.filter(key=party.public_key).exists():
        return False
    name = (party.display_name or f"member {party.party_id[:8]}")[:64]
    return secrets_profile_publish(
        party_held_secrets(party), name=name, version=int(party.created_at.timestamp()), now=now
    )


def secrets_profile_publish(secrets: HeldSecrets, *, name: str, version: int, now: int) -> bool:
    """Publish a profile (``name``, this relay, the mailbox key) for a key the service holds, unless
    this relay already has one for it. Returns whether it published."""
    if Profile.objects.filter(key=secrets.signer.public_key.hex()).exists():
        return False
    body = {
        "name": name[:64],
        "relays": [settings.RELAY_ORIGIN] if settings.RELAY_ORIGIN else [],
        "mailbox_key": secrets.mailbox_public_key,
        "version": version,
    }
    accepted = event_accept(sign_event(Kind.PROFILE, body, secrets.signer, now=now), now=now)
    return accepted.outcome is not Outcome.DUPLICATE


def _mailbox_key(member_key: str) -> str:
    row = Profile.objects.filter(key=member_key).values_list("mailbox_key", flat=True).first()
    if row is None:
        raise LedgerError(NO_MAILBOX, f"no profile (so no mailbox key) for {member_key[:16]} on this relay")
    return row


def mailbox_send(sender: Party, recipient_id: str, data: bytes, *, now: int) -> None:
    """Deposit ``data`` from a hosted member in the relay mailbox of ``recipient_id`` (a party id;
    its current key if the ledger knows the party). Raises LedgerError / RequestError if it cannot."""
    known = Party.objects.filter(party_id=recipient_id).values_list("public_key", flat=True).first()
    recipient_key = known or recipient_id
    secrets = party_held_secrets(sender)
    ciphertext = secrets.box_to(_mailbox_key(recipient_key), data)
    path = f"/relay/v1/mailboxes/{recipient_key}"
    headers = sign_http_request(
        secrets.signer, method="POST", path=path, body=ciphertext, relay=settings.RELAY_ORIGIN or "", now=now
    )
    signed = SignedRequest(sender.public_key, now, headers[HEADER_NONCE], headers[HEADER_SIGNATURE])
    mailbox_deposit(sender=signed, recipient=recipient_key, ciphertext=ciphertext, now=now)


@dataclass
class Collected:
    handed: int = 0
    dropped: int = 0


def mailboxes_collect(*, now: int) -> Collected:
    """Hand every message waiting in a hosted member's relay mailbox to its wallet. Idempotent."""
    from foaf.ledger import hosting

    done = Collected()
    held = HeldKey.objects.filter(destroyed_at__isnull=True).values_list("public_key", flat=True)
    keys_with_mail = Profile.objects.filter(key__in=held).values_list("key", flat=True).order_by("key")
    for key in keys_with_mail:
        party = Party.objects.filter(public_key=key).first()
        if party is None or not hosting.is_hosted(party):
            continue
        secrets = party_held_secrets(party)
        after = 0
        while True:
            page = mailbox_fetch(recipient=key, after=after, limit=PAGE, now=now)
            for message in page.messages:
                _hand_over(party, secrets, message, now, done)
            if not page.more:
                break
            after = page.next_seq
    return done


def _hand_over(party: Party, secrets: HeldSecrets, message: dict[str, object], now: int, done: Collected) -> None:
    from foaf.ledger import hosting

    with transaction.atomic():
        try:
            data = secrets.open_from(_mailbox_key(str(message["sender"])), base64.b64decode(str(message["ciphertext"])))
        except (nacl.exceptions.CryptoError, LedgerError, ValueError) as e:
            log.warning("mailbox message %s for %s dropped: %s", message["id"], party.party_id[:12], e)
            done.dropped += 1
        else:
            hosting.step(party, lambda w: w.receive(data, now=now), now=now)
            done.handed += 1
        mailbox_ack(recipient=party.public_key, ids=[str(message["id"])], now=now)
