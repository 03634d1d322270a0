"""Radix Babylon for anchoring: the transaction that carries a root, a Babylon Gateway client, and
the check of a ``radix`` anchor. Plain Python (radix-engine-toolkit and the standard library), no
Django: a verifier needs nothing else of ours.

The transaction (docs/spec/anchoring.md §6.2): a V1 notarized transaction whose manifest only locks
the fee from the anchoring account (``CALL_METHOD Address(account) "lock_fee" Decimal(fee)``), whose
message is the plaintext binary message of the 32-byte root (mime ``application/octet-stream``),
with one Ed25519 key as notary and signatory (``notary_is_signatory``), a random 32-bit nonce and
the epoch window [current, current + window) taken from the Gateway.

The Gateway (https://docs.radixdlt.com, ``radixdlt/babylon-gateway``): every call is a POST with a
JSON body; errors are ``{"message", "code", "details": {"type", ...}, "trace_id"}``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import radix_engine_toolkit as ret

NETWORKS = {"mainnet": 1, "stokenet": 2}
PUBLIC_GATEWAYS = {1: "https://mainnet.radixdlt.com", 2: "https://stokenet.radixdlt.com"}
MIME = "application/octet-stream"
MAX_EPOCH_WINDOW = 8640  # end - start, statically validated (12 * 24 * 30 epochs)
_HEX32 = re.compile(r"[0-9a-f]{64}")
_TXID = re.compile(r"txid_[0-9a-z_]{1,120}")


# --- the transaction ------------------------------------------------------------------------------


class RadixKey:
    """An Ed25519 key as the toolkit wants it. The seed is never shown: repr names the account."""

    __slots__ = ("_sk", "account", "network_id", "public_key")

    def __init__(self, seed: bytes, network_id: int) -> None:
        if len(seed) != 32:
            raise ValueError("a Radix anchoring key is a 32-byte Ed25519 seed")
        self._sk = ret.PrivateKey.new_ed25519(seed)
        self.network_id = network_id
        self.public_key = self._sk.public_key()
        self.account = ret.derive_preallocated_account_address_from_public_key(self.public_key, network_id).as_str()

    @property
    def public_key_hex(self) -> str:
        return bytes(self.public_key.value).hex()

    def __repr__(self) -> str:
        return f"RadixKey(account={self.account!r})"

    def notarize(self, header: Any, manifest: Any, message: Any) -> Any:
        return (
            ret.TransactionV1Builder()
            .header(header)
            .manifest(manifest)
            .message(message)
            .notarize_with_private_key(self._sk)
        )


def root_message(root: bytes) -> Any:
    return ret.MessageV1.PLAIN_TEXT(ret.PlainTextMessageV1(mime_type=MIME, message=ret.MessageContentV1.BYTES(root)))


def lock_fee_manifest(account: str, fee_lock: str, network_id: int) -> Any:
    return ret.ManifestV1Builder().account_lock_fee(ret.Address(account), ret.Decimal(fee_lock)).build(network_id)


@dataclass(frozen=True)
class Built:
    intent_hash: str  # txid_...
    payload: bytes  # the notarized transaction, as submitted
    start_epoch: int
    end_epoch: int


def build_anchor_transaction(
    key: RadixKey,
    root: bytes,
    *,
    epoch: int,
    window: int,
    fee_lock: str,
    nonce: int | None = None,
) -> Built:
    """A signed and notarized transaction carrying `root`, valid from `epoch` for `window` epochs."""
    if len(root) != 32:
        raise ValueError("a root is 32 bytes")
    if not 1 <= window <= MAX_EPOCH_WINDOW:
        raise ValueError(f"the epoch window is 1 to {MAX_EPOCH_WINDOW} epochs")
    header = ret.TransactionHeaderV1(
        network_id=key.network_id,
        start_epoch_inclusive=epoch,
        end_epoch_exclusive=epoch + window,
        nonce=secrets.randbits(32) if nonce is None else nonce,
        notary_public_key=key.public_key,
        notary_is_signatory=True,
        tip_percentage=0,
    )
    tx = key.notarize(header, lock_fee_manifest(key.account, fee_lock, key.network_id), root_message(root))
    tx.statically_validate(key.network_id)
    return Built(
        intent_hash=tx.intent_hash().as_str(),
        payload=bytes(tx.to_payload_bytes()),
        start_epoch=epoch,
        end_epoch=epoch + window,
    )


# --- checking a transaction that claims to carry a root -----------------------------------------


class AnchorCheckError(ValueError):
    """A radix anchor does not hold its root (the code is stable: spec §6.2, vectors)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Decoded:
    intent_hash: str
    network_id: int
    start_epoch: int
    end_epoch: int
    notary_public_key: bytes
    notary_signature: bytes
    signed_intent_hash: bytes
    message_root: str | None  # the root the message holds (hex), None if it holds no 32-byte root
    manifest: str


def decode_transaction(payload: bytes) -> Decoded:
    """Decode a notarized V1 transaction; raise AnchorCheckError ``anchor_tx_undecodable``."""
    try:
        tx = ret.NotarizedTransactionV1.from_payload_bytes(payload)
        intent = tx.signed_intent().intent()
        header = intent.header()
        notary_key = header.notary_public_key
        signature = tx.notary_signature()
        decoded = Decoded(
            intent_hash=tx.intent_hash().as_str(),
            network_id=header.network_id,
            start_epoch=header.start_epoch_inclusive,
            end_epoch=header.end_epoch_exclusive,
            notary_public_key=bytes(notary_key.value),
            notary_signature=bytes(signature.value),
            signed_intent_hash=bytes(tx.signed_intent_hash().bytes()),
            message_root=_message_root(intent.message()),
            manifest=intent.manifest().instructions().as_str(),
        )
    except Exception as e:  # the toolkit raises its own error family, and Rust panics as others
        raise AnchorCheckError("anchor_tx_undecodable", f"not a notarized V1 transaction: {e}") from None
    return decoded


def _message_root(message: Any) -> str | None:
    """The root a plaintext message holds: 32 raw bytes, or (also accepted) 64 lowercase hex
    characters as a string; None for anything else."""
    if not message.is_plain_text():
        return None
    content = message.value.message
    if content.is_bytes():
        raw = bytes(content.value)
        return raw.hex() if len(raw) == 32 else None
    if content.is_str() and _HEX32.fullmatch(content.value):
        return str(content.value)
    return None


def check_anchor_fields(anchor: Any) -> tuple[int, str]:
    """The (network_id, intent_hash) of a well-formed radix anchor; AnchorCheckError otherwise."""
    if not isinstance(anchor, dict) or set(anchor) != {"backend", "network_id", "intent_hash"}:
        raise AnchorCheckError("anchor_malformed", "a radix anchor is {backend, network_id, intent_hash}")
    network_id, intent_hash = anchor["network_id"], anchor["intent_hash"]
    if anchor["backend"] != "radix" or type(network_id) is not int or not 0 <= network_id <= 255:
        raise AnchorCheckError("anchor_malformed", "a radix anchor is {backend: radix, network_id: u8, intent_hash}")
    if not isinstance(intent_hash, str) or not _TXID.fullmatch(intent_hash):
        raise AnchorCheckError("anchor_malformed", "intent_hash is not a lowercase txid_… string")
    try:
        ret.TransactionHash.from_str(intent_hash, network_id)
    except Exception:
        raise AnchorCheckError(
            "anchor_malformed", f"intent_hash is not a transaction id of network {network_id}"
        ) from None
    return network_id, intent_hash


def check_anchor_payload(anchor: Any, root: str, payload: bytes) -> Decoded:
    """Offline part of checking a radix anchor (spec §6.2 steps 1 and 4-7): `payload` (the raw
    notarized transaction) is the transaction `anchor` names, of its network, validly notarized,
    and its message holds `root`. Raises AnchorCheckError."""
    network_id, intent_hash = check_anchor_fields(anchor)
    decoded = decode_transaction(payload)
    if decoded.intent_hash != intent_hash:
        raise AnchorCheckError("anchor_tx_mismatch", f"the transaction's intent hash is {decoded.intent_hash}")
    if decoded.network_id != network_id:
        raise AnchorCheckError("anchor_network_mismatch", f"the transaction is for network {decoded.network_id}")
    try:
        ret.NotarizedTransactionV1.from_payload_bytes(payload).statically_validate(network_id)
    except Exception as e:
        raise AnchorCheckError("anchor_tx_invalid", f"the transaction does not validate: {e}") from None
    if decoded.message_root is None:
        raise AnchorCheckError("anchor_message_missing", "the transaction's message holds no 32-byte root")
    if decoded.message_root != root:
        raise AnchorCheckError("anchor_root_mismatch", "the transaction's message holds another root")
    return decoded


# --- the Gateway ---------------------------------------------------------------------------------


class GatewayUnavailable(Exception):
    """No answer, a timeout, or a 5xx (NotSyncedUpError, InternalServerError): try again later."""


class GatewayError(Exception):
    """A 4xx answer: ``status``, ``type`` (details.type) and the body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        self.status = status
        self.type = str((details or {}).get("type", ""))
        self.body = body
        super().__init__(f"HTTP {status} {self.type}: {body.get('message', '')}")


class GatewayClient:
    """POSTs JSON to a Babylon Gateway. Timeouts, connection errors and 5xx are retried `attempts`
    times with exponential backoff (`backoff`, then twice that, ...), then GatewayUnavailable."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._post_once(path, body)
            except GatewayUnavailable as e:
                last = str(e)
        raise GatewayUnavailable(f"{path}: {last} (after {self.attempts} attempts)")

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (the configured Gateway's URL)
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return _json_object(response.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            if e.code >= 500:
                raise GatewayUnavailable(f"HTTP {e.code}: {raw[:200]!r}") from None
            raise GatewayError(e.code, _json_object(raw, strict=False)) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as e:
            raise GatewayUnavailable(f"{type(e).__name__}: {e}") from None

    # The endpoints anchoring uses.

    def current_epoch(self) -> int:
        return int(self.post("/transaction/construction", {})["ledger_state"]["epoch"])

    def submit(self, payload: bytes) -> bool:
        """Submit a notarized transaction; True when the Gateway already had it (``duplicate``)."""
        return bool(self.post("/transaction/submit", {"notarized_transaction_hex": payload.hex()}).get("duplicate"))

    def status(self, intent_hash: str) -> dict[str, Any]:
        return self.post("/transaction/status", {"intent_hash": intent_hash})

    def committed_details(self, intent_hash: str, *, raw_hex: bool = False) -> dict[str, Any]:
        return self.post(
            "/transaction/committed-details", {"intent_hash": intent_hash, "opt_ins": {"raw_hex": raw_hex}}
        )


def _json_object(raw: bytes, *, strict: bool = True) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    if strict:
        raise GatewayUnavailable(f"the Gateway answered something that is not a JSON object: {raw[:200]!r}")
    return {"message": raw[:200].decode(errors="replace")}


# --- verifying a radix anchor through a Gateway ---------------------------------------------------


def verify_radix_anchor(anchor: Any, root: str, *, gateway_url: str, timeout: float = 10.0) -> Decoded:
    """Check that the transaction `anchor` names is committed as a success on the ledger the
    Gateway at `gateway_url` serves, and carries `root` in its message (spec §6.2, in its order). The raw
    transaction is decoded here and its intent hash recomputed, so the Gateway's word is taken only
    for "committed", never for the message. Raises AnchorCheckError."""
    _, intent_hash = check_anchor_fields(anchor)
    client = GatewayClient(gateway_url, timeout=timeout, attempts=2)
    try:
        answer = client.committed_details(intent_hash, raw_hex=True)
    except GatewayUnavailable as e:
        raise AnchorCheckError("anchor_gateway_unavailable", str(e)) from None
    except GatewayError as e:
        if e.type == "TransactionNotFoundError":
            raise AnchorCheckError("anchor_not_committed", f"the Gateway has no committed {intent_hash}") from None
        raise AnchorCheckError("anchor_gateway_error", str(e)) from None
    tx = answer.get("transaction")
    if not isinstance(tx, dict):
        raise AnchorCheckError("anchor_gateway_error", "the Gateway's answer has no transaction")
    if tx.get("intent_hash") != intent_hash:
        raise AnchorCheckError("anchor_tx_mismatch", "the Gateway answered about another transaction")
    raw_hex = tx.get("raw_hex")
    try:
        payload = bytes.fromhex(raw_hex) if isinstance(raw_hex, str) else None
    except ValueError:
        payload = None
    if not payload:
        raise AnchorCheckError("anchor_gateway_error", "the Gateway did not give the raw transaction (raw_hex)")
    if tx.get("transaction_status") != "CommittedSuccess":
        raise AnchorCheckError("anchor_tx_failed", f"the transaction is {tx.get('transaction_status')!r}")
    return check_anchor_payload(anchor, root, payload)
