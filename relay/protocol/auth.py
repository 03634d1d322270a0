"""Signed requests: how a member proves it holds its key, on a WebSocket and over HTTP (docs/relay.md §13).

No passwords and no sessions: every authenticated request is signed by the member's Ed25519 key,
with the bilateral spec's construction (``tag || 0x00 || SHA-256(JCS(object))``) and tags of its
own, so an authentication signature can never be taken for an event or a bilateral state.

WebSocket: the relay's ``hello`` carries a random ``challenge``; the client answers

    message = "FOAF-RELAY-1/ws-auth" || 0x00 || SHA-256(JCS({"challenge", "key", "relay"}))

HTTP: four headers (``X-Relay-Key``, ``X-Relay-Timestamp``, ``X-Relay-Nonce``,
``X-Relay-Signature``), the signature over

    message = "FOAF-RELAY-1/http-auth" || 0x00 ||
              SHA-256(JCS({"body": hex(SHA-256(body)), "key", "method", "nonce", "path", "relay", "timestamp"}))

``relay`` is the relay's origin as the client dialled it (``origin_of``), so a signature made for
one relay is worth nothing at another (a relay cannot pass its challenge on and log in elsewhere
as its client). The checks run in a fixed order, so every relay reports the same first failure.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from foaf.bilateral import jcs
from foaf.bilateral.crypto import Signer, check_public_key, sha256, signing_message, verify
from foaf.bilateral.errors import RemoteProtocolError

from .errors import RelayErrorCode, RequestError

TAG_WS_AUTH = b"FOAF-RELAY-1/ws-auth"
TAG_HTTP_AUTH = b"FOAF-RELAY-1/http-auth"
CHALLENGE_BYTES = 32
NONCE_BYTES = 16
MAX_REQUEST_SKEW = 300  # seconds a request's timestamp may differ from the relay's clock, either way

HEADER_KEY = "X-Relay-Key"
HEADER_TIMESTAMP = "X-Relay-Timestamp"
HEADER_NONCE = "X-Relay-Nonce"
HEADER_SIGNATURE = "X-Relay-Signature"
HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX16 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{128}")
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,15}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_SCHEMES = {"https": "https", "wss": "https", "http": "http", "ws": "http"}


def origin_of(url: str) -> str:
    """The relay's origin from the URL a client dialled: ``wss://Relay.Example:443/ws/relay/`` is
    ``https://relay.example``; ``ws://127.0.0.1:8000/ws/relay/`` is ``http://127.0.0.1:8000``."""
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ValueError(f"not an http(s) or ws(s) URL: {url[:200]!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" if port is None or port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}"


def new_challenge() -> str:
    return secrets.token_hex(CHALLENGE_BYTES)


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def _message(tag: bytes, obj: Mapping[str, str | int]) -> bytes:
    try:
        canonical = jcs.canonicalize(dict(obj))
    except RemoteProtocolError as e:
        raise RequestError(RelayErrorCode.AUTH_MALFORMED, "the signed request is outside the JSON profile") from e
    return signing_message(tag, sha256(canonical))


def ws_auth_message(*, challenge: str, key: str, relay: str) -> bytes:
    """The bytes a client signs to answer a WebSocket challenge."""
    return _message(TAG_WS_AUTH, {"challenge": challenge, "key": key, "relay": relay})


def http_auth_message(
    *, method: str, path: str, body: bytes, key: str, timestamp: int, nonce: str, relay: str
) -> bytes:
    """The bytes a client signs for one HTTP request. ``path`` is the request target exactly as
    sent (path and query string); ``body`` the exact body bytes (empty for a GET)."""
    return _message(
        TAG_HTTP_AUTH,
        {
            "body": sha256(body).hex(),
            "key": key,
            "method": method,
            "nonce": nonce,
            "path": path,
            "relay": relay,
            "timestamp": timestamp,
        },
    )


# --- clients -----------------------------------------------------------------------------------
def sign_ws_auth(signer: Signer, *, challenge: str, relay: str) -> dict[str, str]:
    """The ``auth`` frame answering ``challenge`` (from ``hello``) at ``relay`` (``origin_of`` the URL dialled)."""
    key = signer.public_key.hex()
    sig = signer.sign(ws_auth_message(challenge=challenge, key=key, relay=relay)).hex()
    return {"type": "auth", "key": key, "sig": sig}


def sign_http_request(
    signer: Signer, *, method: str, path: str, body: bytes, relay: str, now: int, nonce: str | None = None
) -> dict[str, str]:
    """The four headers that authenticate one request. Use a fresh nonce for every request."""
    key = signer.public_key.hex()
    nonce = new_nonce() if nonce is None else nonce
    message = http_auth_message(method=method, path=path, body=body, key=key, timestamp=now, nonce=nonce, relay=relay)
    return {
        HEADER_KEY: key,
        HEADER_TIMESTAMP: str(now),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signer.sign(message).hex(),
    }


# --- relays ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedRequest:
    """The authentication headers of one HTTP request, well formed (not yet verified)."""

    key: str
    timestamp: int
    nonce: str
    sig: str


def check_key(key: str) -> None:
    """Bilateral §2.3 checks 2-4 on a member's key (hex32, already well formed)."""
    try:
        check_public_key(bytes.fromhex(key))
    except RemoteProtocolError as e:
        raise RequestError(
            RelayErrorCode.AUTH_BAD_KEY, "the key is not a usable Ed25519 key", reason=e.code.value
        ) from None


def verify_auth(key: str, message: bytes, sig: str) -> None:
    """Strict Ed25519 verification (bilateral §2.3) of an authentication signature."""
    check_key(key)
    try:
        verify(bytes.fromhex(key), message, bytes.fromhex(sig))
    except RemoteProtocolError as e:
        raise RequestError(
            RelayErrorCode.AUTH_BAD_SIGNATURE,
            "the signature does not verify for this key, request and relay",
            reason=e.code.value,
        ) from None


def parse_auth_headers(header: Callable[[str], str | None]) -> SignedRequest:
    """The four headers (``header(name)`` gives one or None), checked for form only.
    None of them → ``auth_required``; some missing or malformed → ``auth_malformed``."""
    values = {name: header(name) for name in HEADERS}
    if all(v is None for v in values.values()):
        raise RequestError(RelayErrorCode.AUTH_REQUIRED, "sign the request with your key (docs/relay.md §13)")
    for name, value in values.items():
        if value is None:
            raise RequestError(RelayErrorCode.AUTH_MALFORMED, f"{name} is missing", field=name)
    key, timestamp, nonce, sig = (str(values[name]) for name in HEADERS)
    for name, value, pattern in (
        (HEADER_KEY, key, _HEX32),
        (HEADER_TIMESTAMP, timestamp, _TIMESTAMP),
        (HEADER_NONCE, nonce, _HEX16),
        (HEADER_SIGNATURE, sig, _HEX64),
    ):
        if not pattern.fullmatch(value):
            raise RequestError(RelayErrorCode.AUTH_MALFORMED, f"{name} is malformed", field=name)
    return SignedRequest(key, int(timestamp), nonce, sig)


def check_signed_request(
    request: SignedRequest,
    *,
    method: str,
    path: str,
    body: bytes,
    relay: str,
    now: int,
    max_skew: int = MAX_REQUEST_SKEW,
) -> None:
    """Key, then clock, then signature. The nonce (replay) is the caller's: it needs storage."""
    check_key(request.key)
    if abs(now - request.timestamp) > max_skew:
        raise RequestError(
            RelayErrorCode.AUTH_STALE,
            f"the timestamp is {request.timestamp - now:+d} s from the relay's clock (allowed: ±{max_skew})",
            server_time=now,
        )
    if not _METHOD.fullmatch(method):
        raise RequestError(RelayErrorCode.AUTH_MALFORMED, "unsupported method")
    message = http_auth_message(
        method=method,
        path=path,
        body=body,
        key=request.key,
        timestamp=request.timestamp,
        nonce=request.nonce,
        relay=relay,
    )
    verify_auth(request.key, message, request.sig)


def check_ws_auth(*, key: str, sig: str, challenge: str, relay: str) -> None:
    """An ``auth`` frame's answer to this connection's challenge."""
    verify_auth(key, ws_auth_message(challenge=challenge, key=key, relay=relay), sig)


__all__ = [
    "CHALLENGE_BYTES",
    "HEADERS",
    "HEADER_KEY",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_REQUEST_SKEW",
    "NONCE_BYTES",
    "TAG_HTTP_AUTH",
    "TAG_WS_AUTH",
    "SignedRequest",
    "check_key",
    "check_signed_request",
    "check_ws_auth",
    "http_auth_message",
    "new_challenge",
    "new_nonce",
    "origin_of",
    "parse_auth_headers",
    "sign_http_request",
    "sign_ws_auth",
    "verify_auth",
    "ws_auth_message",
]
