"""Credit writes made for legacy ``/v1`` callers, as bilateral updates (docs/legacy-api.md). No HTTP.

**Signing on members' behalf.** While a member has not claimed their own key (the service holds a
live key for the party's current key: ``hosting.is_hosted``), the service signs with it and
records each signature as a ``SignatureOnBehalf`` (who, which relationship and state, what was
signed, for which legacy request; ``requester`` when it served that member's own call,
``counterparty`` when it stood in for the other member). An imported relationship's genesis is
countersigned first, for each hosted member still missing, and that is recorded too. The service
never signs for a member who holds their own key: the write becomes a proposal signed by the
hosted member only (the caller, or the counterparty asking the caller's device), stored as a
``PendingProposal`` and delivered to the self-keyed member's relay mailbox by the hosting
deliveries (``foaf.ledger.hosting``), and the answer is ``buffered`` (202). When that member's
device accepts, the accept reaches the hosted member's wallet (``mailboxes_collect``), the state is
appended, and the write reads ``posted`` from then on (``write_refresh``: a replay of the request,
or ``GET /v1/foaf/writes/:buffer_id``). A reject or the deadline makes it ``rejected``.

**Idempotency.** What identifies a replay: the ``Idempotency-Key`` header when sent, else an
``idempotency_key`` (or the SDK's ``idempotencyKey``) in the body, else the app's
``originating_request_id`` (payment and path payment send one), else nothing (two such
requests are two writes). The key is per caller and endpoint. The first request claims it by
inserting its ``LegacyWrite`` row in the same transaction as the ledger write, so a concurrent
twin waits on the unique index and, once the first commits, is answered the first one's write; a
replay after a timeout finds the row. The bilateral nonce is derived from the key, so even a
write whose row was lost would be found again by ``update_custodial`` (``duplicate``).

Write paths, on crash, retry and duplicate delivery:
- ``write_op`` (payment, record_debt, record_receipt, an owner's limit): one transaction holds the
  write row, the genesis countersignatures, the co-signed entry (or the proposal and its
  delivery row) and the signature records. A crash before commit leaves nothing (the request is
  retried whole); after commit a replay returns the stored write, never a second update.
- ``path_payment``: the rows of every hop and the route start commit together; the routing
  protocol then runs in its own steps (each all or nothing, deliveries idempotent). A replay
  returns the same rows, refreshed from the route's progress; it never starts a second route.
- ``relationship_open``: one transaction; the genesis nonce is derived from the two parties and
  the line, so a retry appends nothing twice (``entry_append`` answers ``duplicate``).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from foaf import bilateral as core
from foaf.ledger import hosting, services
from foaf.ledger.models import Delivery, Party, PendingProposal, Relationship, RouteNode, StateEntry
from foaf.routing.errors import RouteError
from foaf.routing.wallet import Outbound, Wallet
from migration import models as m
from migration.api import lines
from migration.api.shapes import rails_time

W = m.LegacyWrite.State
ROW_PREFIX = "growoperative:trustline_transaction:"
CLOSED_PROPOSAL = {
    PendingProposal.Status.REJECTED: "rejected",
    PendingProposal.Status.EXPIRED: "expired",
    PendingProposal.Status.SUPERSEDED: "superseded",
}


class KeyReused(Exception):
    """An idempotency key already served a request with other parameters."""


@dataclass(frozen=True)
class Call:
    """The legacy request a write serves: who, which endpoint, what identifies a replay."""

    caller: m.Member
    endpoint: str
    idempotency_key: str | None
    params: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        body = json.dumps(self.params, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(f"{self.endpoint}\n{body}".encode()).hexdigest()

    def nonce(self, hop: int = 0) -> str:
        """The bilateral update's nonce (16 bytes): derived from the key, random without one."""
        if self.idempotency_key is None:
            return uuid.uuid4().hex
        seed = f"legacy-api:{self.caller.legacy_id}:{self.endpoint}:{self.idempotency_key}:{hop}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]


def idempotency_key_of(header: str | None, originating_request_id: Any, body_key: Any = None) -> str | None:
    """The header when sent (trimmed, at most 255 characters), else a key in the body (the apps'
    SDK declares ``idempotencyKey`` on a payment's input: honoured so that its retries never pay
    twice), else ``originating_request_id``."""
    if header and header.strip():
        return header.strip()[:255]
    if isinstance(body_key, str) and body_key.strip():
        return f"body:{body_key.strip()}"[:255]
    if originating_request_id not in (None, "") and not isinstance(originating_request_id, dict | list):
        return f"originating_request_id:{originating_request_id}"[:255]
    return None


def now_unix() -> int:
    return int(time.time())


# ------------------------------------------------------------------ replays
def _replay(call: Call) -> list[m.LegacyWrite] | None:
    if call.idempotency_key is None:
        return None
    rows = list(
        m.LegacyWrite.objects.filter(
            member_legacy_id=call.caller.legacy_id, endpoint=call.endpoint, idempotency_key=call.idempotency_key
        ).order_by("hop")
    )
    if not rows:
        return None
    if rows[0].request_fingerprint != call.fingerprint:
        raise KeyReused(call.idempotency_key)
    return [write_refresh(row) for row in rows]


def _claimed(call: Call, make: Callable[[], list[m.LegacyWrite]]) -> list[m.LegacyWrite]:
    """Run ``make`` (which inserts the write rows first) once per key: a replay or a concurrent
    twin gets the rows the first request wrote."""
    done = _replay(call)
    if done is not None:
        return done
    try:
        with transaction.atomic():
            return make()
    except IntegrityError:
        done = _replay(call)
        if done is None:
            raise
        return done


def _new_write(call: Call, line: m.Trustline | None, rel: Relationship | None, **fields: Any) -> m.LegacyWrite:
    return m.LegacyWrite.objects.create(
        member_legacy_id=call.caller.legacy_id,
        endpoint=call.endpoint,
        idempotency_key=call.idempotency_key,
        request_fingerprint=call.fingerprint,
        trustline=line,
        relationship=rel,
        write_state=W.BUFFERED,
        **fields,
    )


# ------------------------------------------------------------------ signing on behalf
def _member_of(party: Party) -> int:
    return int(m.Member.objects.filter(party=party).values_list("legacy_id", flat=True).get())


def signature_on_behalf_record(
    *,
    party: Party,
    member_legacy_id: int,
    relationship: Relationship,
    state: core.State,
    what: str,
    for_member: bool,
    requested_by_legacy_id: int,
    endpoint: str,
    idempotency_key: str,
    write: m.LegacyWrite | None = None,
) -> None:
    """Record that the service signed ``state`` with ``party``'s held key (once per party and
    state: a retry records nothing twice). ``for_member``: on that member's own request, else as
    the counterparty of someone else's."""
    m.SignatureOnBehalf.objects.get_or_create(
        party=party,
        state_hash=state.hash_hex,
        defaults={
            "member_legacy_id": member_legacy_id,
            "relationship": relationship,
            "seq": state.seq,
            "what": what,
            "op_type": state.update.op.TYPE,
            "role": m.SignatureOnBehalf.Role.REQUESTER if for_member else m.SignatureOnBehalf.Role.COUNTERPARTY,
            "requested_by_legacy_id": requested_by_legacy_id,
            "endpoint": endpoint,
            "idempotency_key": idempotency_key,
            "write": write,
        },
    )


def _record(
    call: Call,
    party: Party,
    rel: Relationship,
    state: core.State,
    what: str,
    *,
    write: m.LegacyWrite | None,
) -> None:
    member = _member_of(party)
    signature_on_behalf_record(
        party=party,
        member_legacy_id=member,
        relationship=rel,
        state=state,
        what=what,
        for_member=member == call.caller.legacy_id,
        requested_by_legacy_id=call.caller.legacy_id,
        endpoint=call.endpoint,
        idempotency_key=call.idempotency_key or "",
        write=write,
    )


def genesis_countersign(call: Call, rel: Relationship, *, write: m.LegacyWrite | None = None) -> Relationship:
    """Countersign the tip of an imported prefix for each member whose key is held here and whose
    signature is missing (bilateral spec §8.2), recording each; returns the relationship re-read.
    A member holding their own key is never signed for: their signature stays missing until their
    device gives it."""
    rel = Relationship.objects.select_for_update().select_related("party_a", "party_b").get(pk=rel.pk)
    if rel.genesis_complete:
        return rel
    row = StateEntry.objects.get(relationship=rel, seq=rel.head_seq)
    entry = services.entry_from_row(row)
    sigs: dict[str, str] = {}
    signed: list[Party] = []
    for side, party in (("a", rel.party_a), ("b", rel.party_b)):
        if getattr(row, f"sig_{side}") is None and hosting.is_hosted(party):
            sigs[side] = core.sign_state(entry.state, services.party_signer(party))
            signed.append(party)
    if sigs:
        services.entry_append(core.LogEntry(entry.state, sigs.get("a"), sigs.get("b"), entry.attest))
        for party in signed:
            _record(call, party, rel, entry.state, m.SignatureOnBehalf.What.GENESIS, write=write)
    return Relationship.objects.select_related("party_a", "party_b").get(pk=rel.pk)


# ------------------------------------------------------------------ one bilateral update
def write_op(
    call: Call,
    line: m.Trustline,
    op: core.model.Op,
    *,
    transaction_type: str,
    direction: str,
    amount: int,
    description: str,
    proposer: str | None = None,
) -> m.LegacyWrite:
    """Ask for ``op`` on the caller's line, proposed by the caller (or by side ``proposer`` when
    given and its key is held here): co-signed and posted when both members' keys are held here,
    a proposal to the one holding their own key otherwise."""

    def make() -> list[m.LegacyWrite]:
        rel = line.relationship
        assert rel is not None
        write = _new_write(
            call,
            line,
            rel,
            transaction_type=transaction_type,
            direction=direction,
            amount=amount,
            description=description,
            op=op.to_json(),
            nonce=call.nonce(),
        )
        _apply(call, write, line, rel, op, proposer=proposer)
        write.save()
        return [write]

    return _claimed(call, make)[0]


def _rejected(write: m.LegacyWrite, outcome: str, error: str) -> None:
    write.write_state = W.REJECTED
    write.write_error = {"outcome": outcome, "error": error}


def _apply(
    call: Call,
    write: m.LegacyWrite,
    line: m.Trustline,
    rel: Relationship,
    op: core.model.Op,
    *,
    proposer: str | None = None,
) -> None:
    caller_side = lines.side_of(line, call.caller)
    other_side = "b" if caller_side == "a" else "a"
    rel = Relationship.objects.select_related("party_a", "party_b").get(pk=rel.pk)
    party = {"a": rel.party_a, "b": rel.party_b}
    caller_hosted, other_hosted = hosting.is_hosted(party[caller_side]), hosting.is_hosted(party[other_side])
    if not (caller_hosted or other_hosted):
        _rejected(write, "NO_KEY_HELD", "both members hold their own keys: their apps sign for them")
        return
    now = now_unix()
    try:
        rel = genesis_countersign(call, rel, write=write)
        if caller_hosted and other_hosted:
            services.update_custodial(rel, op, proposer=proposer or caller_side, now=now, nonce=write.nonce)
            row = StateEntry.objects.filter(relationship=rel, nonce=write.nonce).order_by("-seq").first()
            assert row is not None
            state = services.entry_from_row(row).state
            for p in (party[caller_side], party[other_side]):
                _record(call, p, rel, state, m.SignatureOnBehalf.What.UPDATE, write=write)
            _posted(write, row)
            return
        if not rel.genesis_complete:
            _rejected(
                write,
                core.ErrorCode.GENESIS_NOT_COUNTERSIGNED.value,
                "the member holding their own key has not countersigned the imported relationship yet",
            )
            return
        # One member holds their own key: the hosted one proposes, the other's device answers.
        wanted = proposer or caller_side
        side = wanted if hosting.is_hosted(party[wanted]) else ("b" if wanted == "a" else "a")
        state = _propose(rel, party[side], party["b" if side == "a" else "a"], op, now=now, nonce=write.nonce)
        _record(call, party[side], rel, state, m.SignatureOnBehalf.What.PROPOSAL, write=write)
        write.seq, write.state_hash = state.seq, state.hash_hex
    except core.ProtocolError as e:
        _rejected(write, e.code.value, str(e))
    except services.LedgerError as e:
        _rejected(write, e.code, e.detail)


def _posted(write: m.LegacyWrite, row: StateEntry) -> None:
    write.write_state = W.POSTED
    write.seq, write.state_hash, write.posted_at = row.seq, row.state_hash, row.recorded_at
    if write.trustline_id is not None:
        m.Trustline.objects.filter(pk=write.trustline_id).update(last_activity=row.recorded_at)


def _propose(rel: Relationship, proposer: Party, peer: Party, op: core.model.Op, *, now: int, nonce: str) -> core.State:
    """The hosted ``proposer`` proposes ``op`` in its wallet step; the proposal is kept as a
    ``PendingProposal`` and sent to ``peer`` (its relay mailbox) by the hosting deliveries."""
    made: list[core.State] = []
    side = "a" if rel.party_a_id == proposer.pk else "b"

    def propose(w: Wallet) -> list[Outbound]:
        bp = w.parties.get(rel.channel_id)
        if bp is None:
            raise core.LocalProtocolError(core.ErrorCode.GENESIS_NOT_COUNTERSIGNED, "relationship not usable yet")
        if bp.pending is not None or bp.unresolved:
            raise services.LedgerError("PROPOSAL_PENDING", "an earlier proposal on this line awaits an answer")
        data = bp.propose(op, now=now, deadline=now + settings.PROPOSAL_TTL_SECONDS, nonce=nonce)
        prop = core.decode(data)
        assert isinstance(prop, core.Proposal) and prop.state.update.proposer == side
        made.append(prop.state)
        return [Outbound(peer.party_id, data)]

    hosting.step(proposer, propose, now=now)
    return made[0]


def write_refresh(write: m.LegacyWrite) -> m.LegacyWrite:
    """A buffered write as it stands now: posted once its state is in the log, rejected once its
    proposal was rejected, expired or superseded; a path payment's hop by its route's report."""
    if write.write_state != W.BUFFERED:
        return write
    if write.route_hash:
        return _route_refresh(write)
    if not write.state_hash:
        return write
    row = StateEntry.objects.filter(state_hash=write.state_hash).first()
    if row is not None:
        _posted(write, row)
        write.save()
        return write
    closed = (
        PendingProposal.objects.filter(state_hash=write.state_hash)
        .exclude(status=PendingProposal.Status.OPEN)
        .values_list("status", "reject_reason")
        .first()
    )
    if closed is not None:
        write.write_state = W.REJECTED
        outcome = CLOSED_PROPOSAL.get(PendingProposal.Status(closed[0]), closed[0])
        write.write_error = {"outcome": outcome, "error": closed[1] or None}
        write.save()
    return write


# ------------------------------------------------------------------ receipts
BUFFERED_MESSAGE = "Write buffered pending FOAF reconciliation"
REJECTED_MESSAGE = "FOAF rejected the write"
REFETCH_FAILED = "Written trustline was not returned by FOAF"


def operation(write: m.LegacyWrite) -> dict[str, Any]:
    """OP: the receipt's account of one write."""
    entry_id = (
        StateEntry.objects.filter(state_hash=write.state_hash).values_list("pk", flat=True).first()
        if write.write_state == W.POSTED and write.state_hash
        else None
    )
    return {
        "buffer_id": write.pk,
        "idempotency_key": f"{ROW_PREFIX}{write.pk}",
        "foaf_operation_id": entry_id,
        "pending_transfer_id": None,
        "transaction_type": write.transaction_type,
        "direction": write.direction,
        "write_state": write.write_state,
        "write_error": write.write_error,
        "posted_at": rails_time(write.posted_at),
    }


def receipt(write: m.LegacyWrite, caller: m.Member, posted_message: str) -> tuple[int, dict[str, Any]]:
    """RECEIPT and its status: posted 200 with the endpoint's message, rejected 422, else 202."""
    status, message = {
        W.POSTED: (200, posted_message),
        W.REJECTED: (422, REJECTED_MESSAGE),
    }.get(W(write.write_state), (202, BUFFERED_MESSAGE))
    body: dict[str, Any] = {"message": message, "operation": operation(write), "foaf_state": None}
    line = m.Trustline.objects.filter(legacy_writes=write).first()
    if line is None or line.relationship_id is None:
        body["refetch_error"] = REFETCH_FAILED
    else:
        body["foaf_state"] = lines.one(caller, line)
    return status, body


# ------------------------------------------------------------------ limits (PUT/PATCH)
@dataclass(frozen=True)
class LimitChange:
    write: m.LegacyWrite
    owner_is_caller: bool


def limit_set(call: Call, line: m.Trustline, which: str, amount: int) -> m.LegacyWrite:
    """Set ``limit_<which>`` to ``amount`` cents on the caller's line. Its owner (b for ``a_to_b``,
    a for ``b_to_a``) setting it is a must-accept update: co-signed on the other's behalf when held
    here, else a proposal their device must accept. The other member setting it asks the owner:
    a request proposal the service never accepts for the owner (``buffered``; the owner's app, or
    the deadline, answers it)."""
    owner = core.model.LIMIT_OWNER[which]
    caller_side = lines.side_of(line, call.caller)
    op = core.SetLimit(which, amount)
    if owner == caller_side:
        return write_op(
            call, line, op, transaction_type="trustline_update", direction="sent", amount=amount, description=""
        )

    def make() -> list[m.LegacyWrite]:
        rel = line.relationship
        assert rel is not None
        write = _new_write(
            call,
            line,
            rel,
            hop=0 if which == "a_to_b" else 1,
            transaction_type="trustline_update",
            direction="received",
            amount=amount,
            description="limit request: the owner's consent is asked, never given on their behalf",
            op=op.to_json(),
            nonce=call.nonce(0 if which == "a_to_b" else 1),
        )
        _request(call, write, line, rel, op)
        write.save()
        return [write]

    return _claimed(call, make)[0]


def _request(call: Call, write: m.LegacyWrite, line: m.Trustline, rel: Relationship, op: core.model.Op) -> None:
    caller_side = lines.side_of(line, call.caller)
    rel = Relationship.objects.select_related("party_a", "party_b").get(pk=rel.pk)
    party = {"a": rel.party_a, "b": rel.party_b}
    if not hosting.is_hosted(party[caller_side]):
        _rejected(write, "NO_KEY_HELD", "the caller holds their own key: their app asks for the limit")
        return
    try:
        rel = genesis_countersign(call, rel, write=write)
        if not rel.genesis_complete:
            raise core.LocalProtocolError(core.ErrorCode.GENESIS_NOT_COUNTERSIGNED, "the owner has not countersigned")
        peer = party["b" if caller_side == "a" else "a"]
        state = _propose(rel, party[caller_side], peer, op, now=now_unix(), nonce=write.nonce)
        _record(call, party[caller_side], rel, state, m.SignatureOnBehalf.What.PROPOSAL, write=write)
        write.seq, write.state_hash = state.seq, state.hash_hex
    except core.ProtocolError as e:
        _rejected(write, e.code.value, str(e))
    except services.LedgerError as e:
        _rejected(write, e.code, e.detail)


# ------------------------------------------------------------------ new lines
def relationship_open(call: Call, line: m.Trustline, a: m.Member, b: m.Member) -> Relationship | None:
    """Open the bilateral relationship of a new legacy line between two members whose keys are
    held here, co-signed (both signatures recorded: the caller's on its request, the other's on its
    behalf, a consent the legacy app never asked for). None when either holds their own key: the
    line stays a Rails row until their app opens it."""
    if not (hosting.is_hosted(a.party) and hosting.is_hosted(b.party)):
        return None
    when = int(line.created_at.timestamp())
    rel = services.relationship_open_custodial(
        a.party,
        b.party,
        limit_a_to_b=line.credit_limit_a_to_b,
        limit_b_to_a=line.credit_limit_b_to_a,
        currency=settings.LEGACY_CURRENCY,
        now=when,
    )
    state = services.head_state(rel)
    for party in (a.party, b.party):
        _record(call, party, rel, state, m.SignatureOnBehalf.What.OPEN, write=None)
    return rel


# ------------------------------------------------------------------ multi-hop payments
def path_payment(
    call: Call, members: list[m.Member], lines_: list[m.Trustline], amount: int, description: str
) -> list[m.LegacyWrite]:
    """Pay ``amount`` from the caller (``members[0]``) to ``members[-1]`` along the given lines,
    through the routing protocol (a hold per hop, released with the payee's preimage). One write
    per hop. Hosted members only: a member on the path who holds their own key takes part from
    their device, but the payer and the payee must be hosted here (else every hop is rejected)."""

    def make() -> list[m.LegacyWrite]:
        writes = []
        for hop, line in enumerate(lines_):
            payer = members[hop]
            rel = line.relationship
            assert rel is not None
            writes.append(
                _new_write(
                    call,
                    line,
                    rel,
                    hop=hop,
                    transaction_type="payment",
                    direction="sent" if payer.legacy_id == call.caller.legacy_id else "received",
                    amount=amount,
                    description=description,
                    op={"type": "route_hop", "from": lines.side_of(line, payer), "amount": amount},
                    nonce=call.nonce(hop),
                )
            )
        try:
            for line in lines_:
                assert line.relationship is not None
                genesis_countersign(call, line.relationship, write=writes[0])
            started = hosting.payment_start_along(
                members[0].party,
                members[-1].party,
                amount,
                settings.LEGACY_CURRENCY,
                tuple(member.party.party_id for member in members),
                now=now_unix(),
                memo=description[:200],
            )
        except (core.ProtocolError, services.LedgerError, RouteError) as e:
            code = getattr(e, "code", type(e).__name__)
            for write in writes:
                _rejected(write, str(getattr(code, "value", code)), str(e))
                write.save()
            return writes
        for write in writes:
            write.route_hash = started.route_hash
            write.save()
        return writes

    return _claimed(call, make)


def _route_refresh(write: m.LegacyWrite) -> m.LegacyWrite:
    progress = hosting.payment_progress(write.route_hash)
    if progress is None:
        return write
    hop = progress["hops"][write.hop] if write.hop < len(progress["hops"]) else {}
    outcome = progress["outcome"]
    if outcome == RouteNode.Outcome.SETTLED:
        rel = Relationship.objects.get(legacy_writes=write)
        row = StateEntry.objects.get(relationship=rel, seq=rel.head_seq)
        _record_route(write, rel)
        _posted(write, row)
    elif outcome in (RouteNode.Outcome.CANCELLED, RouteNode.Outcome.DISPUTED):
        _rejected(write, str(hop.get("reason") or progress.get("reason") or outcome), f"route {outcome}")
    else:
        return write
    write.save()
    return write


def _record_route(write: m.LegacyWrite, rel: Relationship) -> None:
    """Record the hop's states signed with held keys (its hold and release), once it settled."""
    caller = m.Member.objects.get(legacy_id=write.member_legacy_id)
    call = Call(caller, write.endpoint, write.idempotency_key, {})
    for row in StateEntry.objects.filter(relationship=rel, recorded_at__gte=write.created_at).order_by("seq"):
        state = services.entry_from_row(row).state
        if state.update.op.TYPE not in ("hold", "release", "cancel"):
            continue
        for party in Party.objects.filter(pk__in=(rel.party_a_id, rel.party_b_id)):
            if hosting.is_hosted(party):
                _record(call, party, rel, state, m.SignatureOnBehalf.What.ROUTE, write=write)


def route_drive(writes: list[m.LegacyWrite], *, wait_seconds: float) -> list[m.LegacyWrite]:
    """Carry a just-started route's messages between the hosted members on it, in this request,
    for at most ``wait_seconds`` (the Celery workers deliver the same messages concurrently; a
    delivery is taken by one of them only). Returns the writes refreshed."""
    if not writes or not writes[0].route_hash or wait_seconds <= 0:
        return [write_refresh(w) for w in writes]
    deadline = time.monotonic() + wait_seconds
    parties = set(
        Party.objects.filter(legacy_member__legacy_id__in=_route_members(writes)).values_list("party_id", flat=True)
    )
    while time.monotonic() < deadline:
        due = list(
            Delivery.objects.filter(status=Delivery.Status.PENDING, recipient_id__in=parties)
            .filter(sender_id__in=parties)
            .order_by("pk")
            .values_list("pk", flat=True)[:100]
        )
        if not due:
            break
        for pk in due:
            hosting.delivery_run(pk, now=now_unix())
    return [write_refresh(w) for w in writes]


def _route_members(writes: list[m.LegacyWrite]) -> set[int]:
    ids: set[int] = set()
    for line in m.Trustline.objects.filter(pk__in=[w.trustline_id for w in writes]):
        ids.update((line.user_a_legacy_id, line.user_b_legacy_id))
    return ids


def signatures_of(member: m.Member, *, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """What the service signed for ``member``, newest first (``GET /v1/foaf/signatures``)."""
    rows = m.SignatureOnBehalf.objects.filter(member_legacy_id=member.legacy_id).select_related("relationship")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    lines_by_rel = dict(
        m.Trustline.objects.filter(relationship__in={r.relationship_id for r in rows[:limit]}).values_list(
            "relationship_id", "legacy_id"
        )
    )
    return [
        {
            "id": row.pk,
            "trustline_id": lines_by_rel.get(row.relationship_id),
            "channel": row.relationship.channel_id,
            "seq": row.seq,
            "state_hash": row.state_hash,
            "what": row.what,
            "op_type": row.op_type,
            "role": row.role,
            "requested_by_id": row.requested_by_legacy_id,
            "endpoint": row.endpoint,
            "buffer_id": row.write_id,
            "signed_at": rails_time(row.signed_at),
        }
        for row in rows.order_by("-pk")[:limit]
    ]
