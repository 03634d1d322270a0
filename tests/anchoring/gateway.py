"""A stand-in for the Babylon Gateway API, for anchoring's tests: a real HTTP server on 127.0.0.1 in
a thread. It implements the endpoints anchoring uses, answers in the Gateway's shapes (statuses,
error bodies, null fields omitted), and CHECKS what it receives the way the Gateway and the ledger
would: the notarized transaction decodes with the toolkit, validates statically for this network
(notary signature included, also checked here by hand with ``cryptography``), and its epoch window
suits the current epoch. What only anchoring cares about (the message is the 32-byte root as a
binary plaintext message; the manifest locks the fee from the notary's account) is recorded in
``problems``, which the tests expect to stay empty.

It can be told to refuse a submission (400 InvalidTransactionError), to reject a transaction later
(PermanentlyRejected), to commit one as a failure, to answer slowly (the client times out, but the
request still takes effect), to answer 500 NotSyncedUpError, to hold transactions pending, and to
block a submission until the test lets it go.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import radix_engine_toolkit as ret
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

NETWORK_NAMES = {1: "mainnet", 2: "stokenet"}
FEE_PAID = "0.1287462311"


@dataclass
class Tx:
    intent_hash: str
    payload: bytes
    payload_hash: str
    start_epoch: int
    end_epoch: int
    message: Any
    status: str = "Pending"  # an intent_status
    error_message: str | None = None
    state_version: int | None = None
    epoch: int | None = None
    pending_polls: int = 0
    fate: str = "success"  # what it becomes when it commits: success, failure or rejection


@dataclass
class Behaviour:
    """What the stand-in is told to do; counters count down per request."""

    refuse_submits: int = 0  # 400 InvalidTransactionError at submission
    reject: int = 0  # accepted, then PermanentlyRejected at the next status read
    fail: int = 0  # accepted, then CommittedFailure
    server_errors: dict[str, int] = field(default_factory=dict)  # path -> 500 NotSyncedUpError answers
    slow: dict[str, int] = field(default_factory=dict)  # path -> answers delayed past the client's timeout
    slow_seconds: float = 2.0
    hold: bool = False  # accepted transactions stay Pending until released (or expired)
    pending_polls: int = 1  # status reads answered Pending before a transaction commits
    block_submit: threading.Event | None = None  # a submission waits for this before answering


class GatewayStandIn:
    def __init__(self, *, network_id: int = 2, epoch: int = 50_000) -> None:
        self.network_id = network_id
        self.epoch = epoch
        self.state_version = 1_000_000
        self.txs: dict[str, Tx] = {}
        self.submissions: list[str] = []  # the intent hash of every submission that reached a check
        self.problems: list[str] = []
        self.requests: list[tuple[str, Any]] = []
        self.behaviour = Behaviour()
        self.submit_arrived = threading.Event()
        self.serve_payload: dict[str, bytes] = {}  # a lying Gateway: raw_hex served for an intent
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GatewayStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.behaviour.block_submit is not None:
            self.behaviour.block_submit.set()
        self._server.shutdown()
        self._server.server_close()

    # --- what tests do -----------------------------------------------------------------------

    def intents(self) -> set[str]:
        with self.lock:
            return set(self.submissions)

    def advance_epoch(self, n: int = 1) -> None:
        with self.lock:
            self.epoch += n
            self._expire()

    def release(self) -> None:
        """Let held transactions commit at the next status read."""
        with self.lock:
            self.behaviour.hold = False

    def committed(self) -> list[Tx]:
        with self.lock:
            return [t for t in self.txs.values() if t.status == "CommittedSuccess"]

    # --- the Gateway ---------------------------------------------------------------------------

    def ledger_state(self) -> dict[str, Any]:
        return {
            "network": NETWORK_NAMES.get(self.network_id, f"network-{self.network_id}"),
            "state_version": self.state_version,
            "proposer_round_timestamp": "2026-11-25T12:00:00.000Z",
            "epoch": self.epoch,
            "round": 7,
        }

    def handle(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append((path, body))
            left = self.behaviour.server_errors.get(path, 0)
            if left:
                self.behaviour.server_errors[path] = left - 1
                return 500, error(
                    500,
                    "NotSyncedUpError",
                    "The node is not synced up",
                    request_type="Transaction",
                    current_sync_delay_seconds=120,
                    max_allowed_sync_delay_seconds=60,
                )
            self._expire()
            if not isinstance(body, dict):
                return 400, invalid_request("", "the body is not a JSON object")
            if path == "/transaction/construction":
                return 200, {"ledger_state": self.ledger_state()}
            if path == "/status/gateway-status":
                return 200, {
                    "ledger_state": self.ledger_state(),
                    "release_info": {
                        "release_version": "stand-in",
                        "open_api_schema_version": "v1.10.6",
                        "image_tag": "",
                    },
                }
            if path == "/transaction/submit":
                return self._submit(body)
            if path == "/transaction/status":
                return self._status(body)
            if path == "/transaction/committed-details":
                return self._committed_details(body)
        return 404, error(404, "InvalidRequestError", f"no endpoint {path}")

    def _submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        hex_payload = body.get("notarized_transaction_hex")
        if not isinstance(hex_payload, str) or not hex_payload or not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", hex_payload):
            return 400, invalid_request("notarized_transaction_hex", "must be a non-empty hex string")
        payload = bytes.fromhex(hex_payload)
        try:
            tx = ret.NotarizedTransactionV1.from_payload_bytes(payload)
            tx.statically_validate(self.network_id)
        except Exception as e:
            return 400, invalid_transaction(f"Transaction is invalid: {e}")
        intent = tx.signed_intent().intent()
        header = intent.header()
        intent_hash = tx.intent_hash().as_str()
        self.submissions.append(intent_hash)
        self._check_by_hand(tx, intent)
        if header.start_epoch_inclusive > self.epoch + 1:
            return 400, invalid_transaction(
                f"Transaction start epoch {header.start_epoch_inclusive} is not yet close enough to current epoch "
                f"{self.epoch}"
            )
        if header.end_epoch_exclusive <= self.epoch:
            return 400, invalid_transaction(
                f"Transaction is no longer valid from epoch {header.end_epoch_exclusive} "
                f"but it is now epoch {self.epoch}"
            )
        known = self.txs.get(intent_hash)
        if known is not None:
            if known.status in ("Pending", "LikelyButNotCertainRejection"):
                return 200, {"duplicate": True}
            # [inference] a node refuses an intent it already committed or rejected for good.
            return 400, invalid_transaction(f"Transaction is permanently rejected: intent {known.status}")
        if self.behaviour.refuse_submits:
            self.behaviour.refuse_submits -= 1
            return 400, invalid_transaction("Transaction is invalid: the node rejected it permanently")
        fate = "success"
        if self.behaviour.reject:
            self.behaviour.reject -= 1
            fate = "rejection"
        elif self.behaviour.fail:
            self.behaviour.fail -= 1
            fate = "failure"
        self.txs[intent_hash] = Tx(
            intent_hash=intent_hash,
            payload=payload,
            payload_hash=tx.notarized_transaction_hash().as_str(),
            start_epoch=header.start_epoch_inclusive,
            end_epoch=header.end_epoch_exclusive,
            message=intent.message(),
            pending_polls=self.behaviour.pending_polls,
            fate=fate,
        )
        return 200, {"duplicate": False}

    def _check_by_hand(self, tx: Any, intent: Any) -> None:
        """Checks beyond the Gateway's own, for anchoring: the notary's Ed25519 signature over the
        signed intent hash; the message is the 32-byte root; the fee is locked from the notary's
        account."""
        header = intent.header()
        notary = bytes(header.notary_public_key.value)
        try:
            Ed25519PublicKey.from_public_bytes(notary).verify(
                bytes(tx.notary_signature().value), bytes(tx.signed_intent_hash().bytes())
            )
        except InvalidSignature:
            self.problems.append("the notary signature does not verify")
        if not header.notary_is_signatory:
            self.problems.append("the notary is not a signatory: the account's lock_fee would fail")
        message = intent.message()
        if not message.is_plain_text() or message.value.mime_type != "application/octet-stream":
            self.problems.append("the message is not a binary plaintext message")
        elif not message.value.message.is_bytes() or len(bytes(message.value.message.value)) != 32:
            self.problems.append("the message does not hold 32 bytes")
        account = ret.derive_preallocated_account_address_from_public_key(
            header.notary_public_key, self.network_id
        ).as_str()
        manifest = intent.manifest().instructions().as_str()
        if account not in manifest or '"lock_fee"' not in manifest:
            self.problems.append("the manifest does not lock the fee from the notary's account")

    def _status(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent_hash = body.get("intent_hash")
        if not self._is_txid(intent_hash):
            return 400, invalid_request("intent_hash", "must be a valid transaction intent hash")
        tx = self.txs.get(intent_hash)
        if tx is None:
            return 200, {
                "ledger_state": self.ledger_state(),
                "status": "Unknown",
                "intent_status": "Unknown",
                "intent_status_description": "No information is known about the transaction.",
                "known_payloads": [],
            }
        self._progress(tx)
        legacy = {"PermanentlyRejected": "Rejected", "CommittedSuccess": "CommittedSuccess"}.get(tx.status, tx.status)
        if tx.status in ("Pending", "LikelyButNotCertainRejection"):
            legacy = "Pending"
        payload = omit_none(
            {
                "payload_hash": tx.payload_hash,
                "status": legacy,
                "payload_status": tx.status,
                "payload_status_description": DESCRIPTIONS[tx.status],
                "error_message": tx.error_message,
                "latest_error_message": tx.error_message,
                "handling_status": "HandlingSubmission" if tx.status == "Pending" else "Concluded",
            }
        )
        return 200, omit_none(
            {
                "ledger_state": self.ledger_state(),
                "status": legacy,
                "intent_status": tx.status,
                "intent_status_description": DESCRIPTIONS[tx.status],
                "known_payloads": [payload],
                "committed_state_version": tx.state_version,
                "permanently_rejects_at_epoch": tx.end_epoch if tx.status == "Pending" else None,
                "error_message": tx.error_message,
            }
        )

    def _progress(self, tx: Tx) -> None:
        """A status read moves a pending transaction on (the ledger, in miniature)."""
        if tx.status != "Pending" or self.behaviour.hold:
            return
        if tx.pending_polls > 0:
            tx.pending_polls -= 1
            return
        if tx.fate == "rejection":
            tx.status, tx.error_message = "PermanentlyRejected", "Transaction rejected: the fee could not be locked"
            return
        if not tx.start_epoch <= self.epoch < tx.end_epoch:
            tx.status, tx.error_message = "PermanentlyRejected", "TransactionEpochNoLongerValid"
            return
        self.state_version += 1
        tx.state_version, tx.epoch = self.state_version, self.epoch
        if tx.fate == "failure":
            tx.status, tx.error_message = "CommittedFailure", 'ApplicationError(PanicMessage("stand-in"))'
        else:
            tx.status = "CommittedSuccess"

    def _expire(self) -> None:
        for tx in self.txs.values():
            if tx.status == "Pending" and tx.end_epoch <= self.epoch:
                tx.status = "PermanentlyRejected"
                tx.error_message = f"Transaction has expired, as its expiry epoch of {tx.end_epoch} has been reached."

    def _committed_details(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent_hash = body.get("intent_hash")
        if not self._is_txid(intent_hash):
            return 400, invalid_request("intent_hash", "must be a valid transaction intent hash")
        tx = self.txs.get(intent_hash)
        if tx is None or tx.status not in ("CommittedSuccess", "CommittedFailure"):
            return 404, error(
                404, "TransactionNotFoundError", f"Transaction not found: {intent_hash}", intent_hash=intent_hash
            )
        opt_ins = body.get("opt_ins") if isinstance(body.get("opt_ins"), dict) else {}
        raw = self.serve_payload.get(intent_hash, tx.payload)
        transaction = omit_none(
            {
                "transaction_status": tx.status,
                "state_version": tx.state_version,
                "epoch": tx.epoch,
                "round": 7,
                "round_timestamp": "2026-11-25T12:00:00.000Z",
                "payload_hash": tx.payload_hash,
                "intent_hash": tx.intent_hash,
                "fee_paid": FEE_PAID,
                "confirmed_at": "2026-11-25T12:00:00.000Z",
                "error_message": tx.error_message,
                "raw_hex": raw.hex() if (opt_ins or {}).get("raw_hex") else None,
                "receipt": {"status": tx.status},
                "manifest_classes": ["General"],
                "message": message_json(tx.message),
            }
        )
        return 200, {"ledger_state": self.ledger_state(), "transaction": transaction}

    def _is_txid(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            ret.TransactionHash.from_str(value, self.network_id)
        except Exception:
            return False
        return True

    # --- HTTP --------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                path = self.path
                code, answer = gateway.handle(path, body)
                if path == "/transaction/submit" and gateway.behaviour.block_submit is not None:
                    gateway.submit_arrived.set()
                    gateway.behaviour.block_submit.wait(60)
                with gateway.lock:
                    slow = gateway.behaviour.slow.get(path, 0)
                    if slow:
                        gateway.behaviour.slow[path] = slow - 1
                if slow:
                    time.sleep(gateway.behaviour.slow_seconds)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout the test asked for)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


DESCRIPTIONS = {
    "Unknown": "No information is known about the transaction.",
    "Pending": "A node's mempool accepted the transaction.",
    "CommitPendingOutcomeUnknown": "Committed, but the outcome is not indexed yet.",
    "LikelyButNotCertainRejection": "Every known payload was temporarily rejected at its last execution.",
    "CommittedSuccess": "Committed as a success.",
    "CommittedFailure": "Committed as a failure.",
    "PermanentlyRejected": "The transaction can never commit.",
}


def omit_none(obj: dict[str, Any]) -> dict[str, Any]:
    """The Gateway leaves null fields out of its answers."""
    return {k: v for k, v in obj.items() if v is not None}


def error(code: int, kind: str, message: str, **details: Any) -> dict[str, Any]:
    return {"message": message, "code": code, "details": {"type": kind, **details}, "trace_id": uuid.uuid4().hex}


def invalid_request(path: str, why: str) -> dict[str, Any]:
    return error(400, "InvalidRequestError", "Validation error", validation_errors=[{"path": path, "errors": [why]}])


def invalid_transaction(message: str) -> dict[str, Any]:
    return error(400, "InvalidTransactionError", message)


def message_json(message: Any) -> dict[str, Any] | None:
    """CoreAPI's TransactionMessage: absent when there is none."""
    if message.is_none():
        return None
    if not message.is_plain_text():
        return {"type": "Encrypted", "encrypted_hex": "", "curve_decryptor_sets": []}
    content = message.value.message
    if content.is_bytes():
        body = {"type": "Binary", "value_hex": bytes(content.value).hex()}
    else:
        body = {"type": "String", "value": str(content.value)}
    return {"type": "Plaintext", "mime_type": message.value.mime_type, "content": body}
