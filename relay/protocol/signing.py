"""Building and signing events, for clients and tests: the same checks as the relay's, before signing.

    body = {"a": ..., "b": ..., "currency": "CAD", "limit_a_to_b": 5000, ...}
    envelope = sign_event(Kind.RELATIONSHIP, body, alice, now=now)   # alice proposes...
    envelope = cosign_event(envelope, bob)                            # ...bob co-signs
    relay.post(canonical_bytes(envelope))

Signers are ``foaf.bilateral.crypto.Signer`` (a seed in memory, an HSM, a server vault).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foaf.bilateral import jcs
from foaf.bilateral.crypto import Signer

from .envelope import VERSION, Event, event_from_json, verify_signatures
from .errors import EventError, RelayErrorCode
from .fields import JSON
from .kinds import BODY_TYPES, Kind

_PLACEHOLDER_SIG = "00" * 64  # lets the schema check run before the real signature exists


def unsigned_envelope(kind: Kind | str, body: Mapping[str, Any], author: str, *, now: int, expires: int | None) -> JSON:
    kind = Kind(kind)
    return {
        "v": VERSION,
        "kind": kind.value,
        "author": author,
        "created": now,
        "expires": expires,
        "body": BODY_TYPES[kind].from_json(dict(body)).to_json(),
    }


def sign_event(
    kind: Kind | str, body: Mapping[str, Any], signer: Signer, *, now: int, expires: int | None = None
) -> JSON:
    """A signed envelope by ``signer``, created at ``now``. Raises ``EventError`` for a body or
    envelope the relay would refuse. An announcement still needs ``cosign_event`` by the other party."""
    unsigned = unsigned_envelope(kind, body, signer.public_key.hex(), now=now, expires=expires)
    draft = {**unsigned, "sig": _PLACEHOLDER_SIG}
    if unsigned["kind"] == Kind.RELATIONSHIP:
        draft["cosig"] = _PLACEHOLDER_SIG
    event = event_from_json(draft)  # schema, keys, signer role and expiry rule
    return {**unsigned, "sig": signer.sign(event.signing_message).hex()}


def cosign_event(envelope: Mapping[str, Any], cosigner: Signer) -> JSON:
    """The announcement with the other party's ``cosig`` added, after checking what is being co-signed:
    a valid announcement naming the cosigner as the party other than its author, with a valid ``sig``."""
    draft = {**dict(envelope), "cosig": _PLACEHOLDER_SIG}
    event = event_from_json(draft)
    if event.cosigner != cosigner.public_key.hex():
        raise EventError(
            RelayErrorCode.EVENT_WRONG_SIGNER, "the cosigner must be the announcement's other party", field="cosig"
        )
    verify_signatures(Event(event.kind, event.author, event.created, event.expires, event.body, event.sig))
    return {**dict(envelope), "cosig": cosigner.sign(event.signing_message).hex()}


def canonical_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The JCS bytes to send (any JSON text inside the profile is accepted; these are the canonical ones)."""
    return jcs.canonicalize(dict(envelope))
