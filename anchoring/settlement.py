"""On-chain settlement, off-chain side: freeze a relationship, anchor its final state, and hand out
the settlement package the chain side consumes (docs/spec/settlement.md, docs/anchoring.md).

Two halves:

- plain functions (no database) that turn a co-signed final state and its anchor proof into the
  **claim** the settlement component takes, rebuild the state's canonical bytes from the claim the
  way the component does (§4 of the spec), check a claim as the component must (§6, a reference for
  the Scrypto side and for tests), and write the Radix transaction manifest that calls the
  component (§7);
- the service: ``settlement_request_create``, ``settlement_advance``, ``settlement_entry_submit``
  and ``settlement_package``. A request moves freezing -> anchoring -> ready (or failed). Each step
  is idempotent and safe to repeat after a crash: the custodial freeze uses a nonce derived from the
  relationship (the ledger answers a retry ``duplicate``), the anchor request is the anchoring
  service's own idempotent request, and the package is rebuilt from stored rows whenever it is read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from anchoring.merkle import LEFT, RIGHT, ProofError, fold, path_sides, root_hash, verify_proof
from anchoring.models import AnchorRequest, SettlementRequest
from anchoring.services import anchor_request_create, proof_for
from foaf import bilateral as core
from foaf.bilateral.crypto import TAG_STATE, signing_message
from foaf.bilateral.jcs import MAX_SAFE_INTEGER
from foaf.errors import ApiError, ErrorCode
from foaf.ledger import services as ledger
from foaf.ledger.models import Party, Relationship, StateEntry

JSON = dict[str, Any]
PACKAGE_VERSION = 1
PACKAGE_TYPE = "foaf-settlement-package"
NETWORK_IDS = {"mainnet": 1, "stokenet": 2, "simulator": 242}
STATUS_CODES = {"open": 0, "frozen": 1, "closed": 2}
SIDE_CODES = {"a": 0, "b": 1}
PATH_SIDE_CODES = {LEFT: 0, RIGHT: 1}
MAX_UPDATE_BYTES = 65_536
_HEX = re.compile(r"[0-9a-f]*")
_CURRENCY = re.compile(r"[A-Z]{3}")


# --- the claim (spec §3) -------------------------------------------------------------------------
def claim_of(entry: core.LogEntry, proof: JSON) -> JSON:
    """The claim the settlement component takes, as JSON (hex for bytes), from a co-signed entry and
    the anchor proof of its state (docs/spec/anchoring.md §4; its ``anchor`` member is not used)."""
    state = entry.state
    if entry.sig_a is None or entry.sig_b is None:
        raise ValueError("a claim needs both signatures")
    update_jcs = core.canonicalize(state.update.to_json())
    return {
        "state": {
            "channel": state.channel,
            "seq": state.seq,
            "prev": state.prev,
            "a": {"id": state.a.id, "key": state.a.key},
            "b": {"id": state.b.id, "key": state.b.key},
            "currency": state.currency,
            "balance": state.balance,
            "limit_a_to_b": state.limit_a_to_b,
            "limit_b_to_a": state.limit_b_to_a,
            "holds": [
                {"id": h.id, "payer": h.payer, "amount": h.amount, "lock": h.lock, "expires": h.expires}
                for h in state.holds
            ],
            "status": state.status,
            "update_jcs": update_jcs.hex(),
        },
        "sig_a": entry.sig_a,
        "sig_b": entry.sig_b,
        "anchor": {
            "index": proof["index"],
            "leaf_count": proof["leaf_count"],
            "path": [{"side": step["side"], "hash": step["hash"]} for step in proof["path"]],
            "root": proof["root"],
        },
    }


def _int(value: int) -> bytes:
    return str(value).encode("ascii")


def claim_state_bytes(fields: JSON) -> bytes:
    """The state's canonical (JCS) bytes, rebuilt from a claim's typed fields exactly as the
    component does (spec §4.2): fixed text around the fields, in JCS order, with the update's JCS
    bytes inserted as they were given. For a state both parties signed, this is its canonical form."""
    holds = b",".join(
        b'{"amount":%s,"expires":%s,"id":"%s","lock":"%s","payer":"%s"}'
        % (_int(h["amount"]), _int(h["expires"]), h["id"].encode(), h["lock"].encode(), h["payer"].encode())
        for h in fields["holds"]
    )
    return b"".join(
        [
            b'{"a":{"id":"%s","key":"%s"},' % (fields["a"]["id"].encode(), fields["a"]["key"].encode()),
            b'"b":{"id":"%s","key":"%s"},' % (fields["b"]["id"].encode(), fields["b"]["key"].encode()),
            b'"balance":%s,' % _int(fields["balance"]),
            b'"channel":"%s",' % fields["channel"].encode(),
            b'"currency":"%s",' % fields["currency"].encode(),
            b'"holds":[%s],' % holds,
            b'"limit_a_to_b":%s,' % _int(fields["limit_a_to_b"]),
            b'"limit_b_to_a":%s,' % _int(fields["limit_b_to_a"]),
            b'"prev":"%s",' % fields["prev"].encode(),
            b'"seq":%s,' % _int(fields["seq"]),
            b'"status":"%s",' % fields["status"].encode(),
            b'"update":%s,' % bytes.fromhex(fields["update_jcs"]),
            b'"v":1}',
        ]
    )


def leaf_bytes(channel: str, seq: int, state_hash: str) -> bytes:
    """The anchoring leaf's JCS bytes (docs/spec/anchoring.md §1), as the component writes them."""
    return b'{"channel":"%s","seq":%s,"state_hash":"%s"}' % (channel.encode(), _int(seq), state_hash.encode())


class ClaimError(ValueError):
    """A claim the component must refuse (spec §9), with its code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CheckedClaim:
    """What a claim proves once checked: this co-signed state of this channel is under `root`."""

    channel: str
    seq: int
    state_hash: str
    status: str
    balance: int
    root: str


def _hex(value: Any, size: int) -> bool:
    return isinstance(value, str) and len(value) == 2 * size and _HEX.fullmatch(value) is not None


def _uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_SAFE_INTEGER


def _check_fields(f: JSON) -> None:
    for name, size in (("channel", 32), ("prev", 32)):
        if not _hex(f[name], size):
            raise ClaimError("BAD_FIELD", f"{name} is not {size} bytes")
    for side in ("a", "b"):
        if not (_hex(f[side]["id"], 32) and _hex(f[side]["key"], 32)):
            raise ClaimError("BAD_FIELD", f"{side} is not an id and a key of 32 bytes")
    if not (_uint(f["seq"]) and _uint(f["limit_a_to_b"]) and _uint(f["limit_b_to_a"])):
        raise ClaimError("BAD_FIELD", "seq and limits are integers in [0, 2^53-1]")
    if type(f["balance"]) is not int or abs(f["balance"]) > MAX_SAFE_INTEGER:
        raise ClaimError("BAD_FIELD", "balance is an integer in [-(2^53-1), 2^53-1]")
    if not (isinstance(f["currency"], str) and _CURRENCY.fullmatch(f["currency"])):
        raise ClaimError("BAD_FIELD", "currency is three letters A-Z")
    if f["status"] not in STATUS_CODES:
        raise ClaimError("BAD_FIELD", "status is open, frozen or closed")
    _check_holds_and_update(f)


def _check_holds_and_update(f: JSON) -> None:
    if len(f["holds"]) > 64:
        raise ClaimError("BAD_FIELD", "at most 64 holds")
    for h in f["holds"]:
        if not (_hex(h["id"], 16) and _hex(h["lock"], 32) and h["payer"] in SIDE_CODES):
            raise ClaimError("BAD_FIELD", "a hold is id (16 bytes), payer a|b, amount, lock (32 bytes), expires")
        if not (_uint(h["amount"]) and h["amount"] >= 1 and _uint(h["expires"])):
            raise ClaimError("BAD_FIELD", "a hold's amount is >= 1 and its expiry an integer")
    update = f["update_jcs"]
    if not (_hex(update, len(update) // 2) and 2 <= len(update) // 2 <= MAX_UPDATE_BYTES):
        raise ClaimError("BAD_FIELD", "update_jcs is 2 to 65536 bytes")
    raw = bytes.fromhex(update)
    if not (raw.startswith(b'{"') and raw.endswith(b"}")):
        raise ClaimError("BAD_FIELD", "update_jcs is a JSON object")


def claim_check(claim: JSON, *, require_frozen: bool = True) -> CheckedClaim:
    """The checks the settlement component makes on a claim (spec §6.1 steps 1-6), in that order, in
    plain Python: a reference for the Scrypto side and what the service runs on every package it
    hands out. Whether the root is recorded on chain (step 7) is the chain's question."""
    f = claim["state"]
    _check_fields(f)
    state_hash = hashlib.sha256(claim_state_bytes(f)).hexdigest()
    if require_frozen and f["status"] != "frozen":
        raise ClaimError("NOT_FROZEN", f"the state is {f['status']}")
    if require_frozen and f["holds"]:
        raise ClaimError("HOLDS_OPEN", "a settled state has no open holds")
    message = signing_message(TAG_STATE, bytes.fromhex(state_hash))
    for side in ("a", "b"):
        sig = claim[f"sig_{side}"]
        if not _hex(sig, 64):
            raise ClaimError(f"BAD_SIGNATURE_{side.upper()}", "a signature is 64 bytes")
        try:
            core.verify(bytes.fromhex(f[side]["key"]), message, bytes.fromhex(sig))
        except core.ProtocolError as exc:
            raise ClaimError(f"BAD_SIGNATURE_{side.upper()}", exc.code.value) from None
    anchor = claim["anchor"]
    index, count = anchor["index"], anchor["leaf_count"]
    try:
        sides = path_sides(index, count)
    except ProofError:
        raise ClaimError("BAD_ANCHOR_PATH", f"index {index} of {count}") from None
    path = [(step["side"], bytes.fromhex(step["hash"])) for step in anchor["path"]]
    if [s for s, _ in path] != sides:
        raise ClaimError("BAD_ANCHOR_PATH", "the path's sides are not those of its index and leaf count")
    own = hashlib.sha256(b"\x00FOAF-ANCHOR-1/leaf" + leaf_bytes(f["channel"], f["seq"], state_hash)).digest()
    if root_hash(fold(own, path), count).hex() != anchor["root"]:
        raise ClaimError("ANCHOR_ROOT_MISMATCH", "the path does not lead to the root")
    return CheckedClaim(f["channel"], f["seq"], state_hash, f["status"], f["balance"], anchor["root"])


# --- the manifest (spec §7) ----------------------------------------------------------------------
def _bytes(hex_value: str) -> str:
    return f'Bytes("{hex_value}")'


def claim_manifest_value(claim: JSON) -> str:
    """The claim as one manifest value: ``Tuple(CoSignedState, AnchorPath)`` (spec §3)."""
    f = claim["state"]
    holds = ", ".join(
        f"Tuple({_bytes(h['id'])}, {SIDE_CODES[h['payer']]}u8, {h['amount']}u64, {_bytes(h['lock'])}, "
        f"{h['expires']}u64)"
        for h in f["holds"]
    )
    state = ", ".join(
        [
            _bytes(f["channel"]),
            f"{f['seq']}u64",
            _bytes(f["prev"]),
            f"Tuple({_bytes(f['a']['id'])}, {_bytes(f['a']['key'])})",
            f"Tuple({_bytes(f['b']['id'])}, {_bytes(f['b']['key'])})",
            f'"{f["currency"]}"',
            f"{f['balance']}i64",
            f"{f['limit_a_to_b']}u64",
            f"{f['limit_b_to_a']}u64",
            f"Array<Tuple>({holds})",
            f"{STATUS_CODES[f['status']]}u8",
            _bytes(f["update_jcs"]),
        ]
    )
    a = claim["anchor"]
    path = ", ".join(f"Tuple({PATH_SIDE_CODES[s['side']]}u8, {_bytes(s['hash'])})" for s in a["path"])
    anchor = f"Tuple({a['index']}u64, {a['leaf_count']}u64, Array<Tuple>({path}), {_bytes(a['root'])})"
    return f"Tuple(Tuple(Tuple({state}), {_bytes(claim['sig_a'])}, {_bytes(claim['sig_b'])}), {anchor})"


def manifest_text(
    claim: JSON, *, caller_account: str, component: str, fee: str, method: str = "open_settlement"
) -> str:
    """The transaction manifest: lock the fee from the caller's account, then call the component."""
    return (
        f'CALL_METHOD\n    Address("{caller_account}")\n    "lock_fee"\n    Decimal("{fee}")\n;\n'
        f'CALL_METHOD\n    Address("{component}")\n    "{method}"\n    {claim_manifest_value(claim)}\n;\n'
    )


def manifest_compile(text: str, network_id: int) -> bytes:
    """Parse and statically validate a manifest for a network with radix-engine-toolkit; return its
    compiled bytes. Raises ValueError naming what the toolkit refused."""
    import radix_engine_toolkit as ret

    try:
        manifest = ret.TransactionManifestV1(ret.InstructionsV1.from_string(text, network_id), [])
        manifest.statically_validate(network_id)
        return bytes(manifest.to_payload_bytes())
    except ret.RadixEngineToolkitError as exc:
        raise ValueError(f"the manifest does not compile for network {network_id}: {exc}") from None


def manifest_format(text: str, network_id: int) -> str:
    """The manifest as radix-engine-toolkit writes it back (one argument a line), what the package holds."""
    import radix_engine_toolkit as ret

    return str(ret.InstructionsV1.from_string(text, network_id).as_str())


def account_of(key_hex: str, network_id: int) -> str:
    """The preallocated Radix account of an Ed25519 key (a party's key in the final state)."""
    import radix_engine_toolkit as ret

    key = ret.PublicKey.ED25519(bytes.fromhex(key_hex))
    return str(ret.derive_preallocated_account_address_from_public_key(key, network_id).as_str())


def network_id() -> int:
    return NETWORK_IDS[settings.SETTLEMENT_NETWORK]


# --- the service ---------------------------------------------------------------------------------
def freeze_nonce(relationship_pk: int) -> str:
    """The custodial freeze's nonce: the ledger's idempotency key, the same on every retry."""
    return hashlib.sha256(f"foaf-settlement-freeze:{relationship_pk}".encode()).hexdigest()[:32]


def _side_of(party: Party, relationship: Relationship) -> str:
    if party.pk == relationship.party_a_id:
        return "a"
    if party.pk == relationship.party_b_id:
        return "b"
    raise ApiError(ErrorCode.SETTLEMENT_NOT_A_PARTY, "only a party of the relationship may settle it", http_status=403)


def _holds_both_keys(relationship: Relationship) -> bool:

    try:
        ledger.party_signer(relationship.party_a)
        ledger.party_signer(relationship.party_b)
    except ledger.LedgerError:
        return False
    return True


def _head(relationship: Relationship) -> StateEntry:

    return StateEntry.objects.get(relationship=relationship, seq=relationship.head_seq)


def _cosigned(row: StateEntry) -> bool:
    return row.sig_a is not None and row.sig_b is not None and row.attest_key is None


def _settleable(relationship: Relationship, head: StateEntry) -> None:
    """Refuse a relationship whose head can never be settled (closed, holds open, not co-signed)."""

    if not (relationship.genesis_complete and head.sig_a is not None and head.sig_b is not None):
        raise ApiError(
            ErrorCode.SETTLEMENT_NOT_COSIGNED,
            "the relationship's newest state is not co-signed by both members",
            http_status=409,
            details={"seq": head.seq},
        )
    state = ledger.entry_from_row(head).state
    if state.status == "closed":
        raise ApiError(
            ErrorCode.SETTLEMENT_NOT_SETTLEABLE,
            "the relationship is closed: a closed channel cannot be frozen",
            http_status=409,
            details={"reason": "closed"},
        )
    if state.holds:
        raise ApiError(
            ErrorCode.SETTLEMENT_NOT_SETTLEABLE,
            "the relationship has open holds: release or cancel them first",
            http_status=409,
            details={"reason": "holds_open", "holds": len(state.holds)},
        )


def settlement_request_create(*, party: Party, relationship: Relationship) -> tuple[SettlementRequest, bool]:
    """A party asks to move `relationship` on chain. One request per relationship: asking again
    (the same party) returns it with ``created`` False; the counterparty asking while it exists gets
    ``settlement_in_progress`` (it reads the same request by id instead). The request is advanced
    at once (``settlement_advance``)."""

    _side_of(party, relationship)
    relationship = Relationship.objects.get(pk=relationship.pk)  # the head as stored now, not as the caller saw it
    existing = SettlementRequest.objects.filter(relationship=relationship).first()
    if existing is None:
        _settleable(relationship, _head(relationship))
        try:
            with transaction.atomic():
                existing = SettlementRequest.objects.create(
                    relationship=relationship, requested_by=party, custodial=_holds_both_keys(relationship)
                )
            created = True
        except IntegrityError:  # the other party (or a retry) created it meanwhile
            existing = SettlementRequest.objects.get(relationship=relationship)
            created = False
    else:
        created = False
    if existing.requested_by_id != party.pk:
        raise ApiError(
            ErrorCode.SETTLEMENT_IN_PROGRESS,
            "the relationship is already being settled (asked by the other party)",
            http_status=409,
            details={"id": existing.pk, "status": existing.status},
        )
    return settlement_advance(existing), created


def settlement_advance(row: SettlementRequest, *, now: int | None = None) -> SettlementRequest:
    """Take a request as far as it can go now; return it refreshed. Safe to repeat at any point."""

    if row.status in (SettlementRequest.Status.READY, SettlementRequest.Status.FAILED):
        return row
    with transaction.atomic():
        row = SettlementRequest.objects.select_for_update().select_related("relationship").get(pk=row.pk)
        relationship = Relationship.objects.select_related("party_a", "party_b").get(pk=row.relationship_id)
        if row.status == SettlementRequest.Status.FREEZING:
            if relationship.status == Relationship.Status.OPEN and row.custodial:
                side = "a" if row.requested_by_id == relationship.party_a_id else "b"
                try:
                    ledger.update_custodial(
                        relationship,
                        core.StatusOp("freeze"),
                        proposer=side,
                        now=int(timezone.now().timestamp()) if now is None else now,
                        nonce=freeze_nonce(relationship.pk),
                    )
                except (core.ProtocolError, ledger.LedgerError) as exc:
                    code = exc.code.value if isinstance(exc, core.ProtocolError) else exc.code
                    raise ApiError(
                        ErrorCode.SETTLEMENT_NOT_SETTLEABLE,
                        f"the service could not co-sign the freeze: {exc}",
                        http_status=409,
                        details={"reason": "freeze_refused", "code": code},
                    ) from None
                relationship.refresh_from_db()
            if relationship.status == Relationship.Status.CLOSED:
                row.status, row.error = SettlementRequest.Status.FAILED, "closed"
            head = _head(relationship)
            if relationship.status == Relationship.Status.FROZEN and _cosigned(head):
                if ledger.entry_from_row(head).state.holds:
                    row.status, row.error = SettlementRequest.Status.FAILED, "holds_open"
                else:
                    row.seq, row.state_hash = head.seq, head.state_hash
                    row.status = SettlementRequest.Status.ANCHORING
        if row.status == SettlementRequest.Status.ANCHORING:
            assert row.seq is not None  # the database's check: no anchoring without a final state
            if row.anchor_request is None:
                row.anchor_request, _ = anchor_request_create(
                    party=row.requested_by, relationship=relationship, seq=row.seq, urgent=True
                )
            anchor = AnchorRequest.objects.get(pk=row.anchor_request.pk)
            if anchor.status == AnchorRequest.Status.ANCHORED:
                row.status, row.ready_at = SettlementRequest.Status.READY, timezone.now()
            elif anchor.status == AnchorRequest.Status.FAILED:
                row.status, row.error = SettlementRequest.Status.FAILED, "anchor_failed"
        row.save()
    return row


def settlements_advance(*, now: int | None = None) -> dict[str, int]:
    """Advance every request not yet ready or failed (beat runs it after each anchoring run, so a
    request moves on without anyone reading it). A request that cannot move now stays as it is and
    is tried again next time; one that fails records why. Safe to run twice."""
    counts = {"advanced": 0, "waiting": 0, "refused": 0}
    open_states = (SettlementRequest.Status.FREEZING, SettlementRequest.Status.ANCHORING)
    for row in SettlementRequest.objects.filter(status__in=open_states).order_by("pk"):
        before = row.status
        try:
            after = settlement_advance(row, now=now).status
        except ApiError:
            counts["refused"] += 1  # e.g. the freeze cannot be co-signed now (a hold still open)
            continue
        counts["advanced" if after != before else "waiting"] += 1
    return counts


def settlement_entry_submit(row: SettlementRequest, *, party: Party, entry_json: Any) -> SettlementRequest:
    """A party (holding its own key) hands in the co-signed ``freeze`` entry: the next state of the
    relationship, frozen, with both signatures. The ledger checks it against the head like any
    entry; then the request advances."""

    relationship = row.relationship
    _side_of(party, relationship)
    if row.status != SettlementRequest.Status.FREEZING:
        return settlement_advance(row)
    try:
        entry = core.LogEntry.from_json(entry_json)
        if entry.state.channel != relationship.channel_id:
            raise core.RemoteProtocolError(core.ErrorCode.WRONG_CHANNEL, "the entry is for another channel")
        if entry.state.status != "frozen" or entry.state.holds:
            raise core.RemoteProtocolError(core.ErrorCode.BAD_VALUE, "the entry's state is not frozen without holds")
        if not entry.complete:
            raise core.RemoteProtocolError(core.ErrorCode.MISSING_SIGNATURE, "the entry needs both signatures")
        ledger.entry_append(entry)
    except (core.ProtocolError, ledger.LedgerError) as exc:
        code = exc.code.value if isinstance(exc, core.ProtocolError) else exc.code
        raise ApiError(
            ErrorCode.SETTLEMENT_BAD_ENTRY,
            f"the freeze entry was refused: {exc}",
            http_status=409,
            details={"code": code},
        ) from None
    return settlement_advance(row)


def settlement_package(row: SettlementRequest, *, reader: Party) -> JSON:
    """The settlement package (spec §2) of a ready request, its manifest written for `reader` (one
    of the two parties: the fee is locked from its account). Rebuilt from stored rows on each read;
    every package is checked as the component would (``claim_check``) before it is handed out."""

    relationship = row.relationship
    reader_side = _side_of(reader, relationship)
    if row.status != SettlementRequest.Status.READY:
        raise ApiError(
            ErrorCode.SETTLEMENT_NOT_READY,
            f"the settlement is {row.status}: a package exists once its final state is anchored",
            http_status=409,
            details={"status": row.status, "error": row.error},
        )
    assert row.seq is not None and row.anchor_request is not None  # ready: both were recorded
    entry = ledger.entry_from_row(StateEntry.objects.get(relationship=relationship, seq=row.seq))
    proof = proof_for(row.anchor_request)
    verify_proof(proof)
    claim = claim_of(entry, proof)
    checked = claim_check(claim)
    if checked.state_hash != row.state_hash or checked.root != proof["root"]:
        raise RuntimeError(f"settlement {row.pk}: the stored state and its proof disagree")
    state = entry.state
    debtor = "a" if state.balance > 0 else "b" if state.balance < 0 else None
    count = relationship.entries.count()
    log = (
        [e.to_json() for e in ledger.log_entries(relationship)]
        if count <= settings.SETTLEMENT_MAX_LOG_ENTRIES
        else None
    )
    net = network_id()
    accounts = {side: account_of(state.member(side).key, net) for side in ("a", "b")}
    radix: JSON = {
        "network": settings.SETTLEMENT_NETWORK,
        "network_id": net,
        "component": settings.SETTLEMENT_COMPONENT_ADDRESS or None,
        "accounts": accounts,
        "caller": reader_side,
        "manifest": None,
    }
    if settings.SETTLEMENT_COMPONENT_ADDRESS:
        text = manifest_text(
            claim,
            caller_account=accounts[reader_side],
            component=settings.SETTLEMENT_COMPONENT_ADDRESS,
            fee=settings.SETTLEMENT_FEE_LOCK,
        )
        manifest_compile(text, net)  # never hand out a manifest the toolkit refuses
        radix["manifest"] = manifest_format(text, net)
    else:
        radix["manifest_missing"] = "FOAF_SETTLEMENT_COMPONENT_ADDRESS is not set"
    return {
        "v": PACKAGE_VERSION,
        "type": PACKAGE_TYPE,
        "channel": state.channel,
        "seq": state.seq,
        "state_hash": checked.state_hash,
        "signing_message": state.signing_message.hex(),
        "entry": entry.to_json(),
        "debtor": debtor,
        "owed": abs(state.balance),
        "currency": state.currency,
        "anchor_proof": proof,
        "log": log,
        "log_entries": count,
        "claim": claim,
        "radix": radix,
    }
