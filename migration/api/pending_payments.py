"""Pending payments of legacy ``/v1`` callers as bilateral proposals (docs/legacy-api.md). No HTTP.

A pending payment is a settlement the payer offers and the payee must sign: the bilateral op is
``Settlement(from=payer, amount)`` (the payer's debt falls, Rails' ``settle_payment!``). Who is who:

- ``payment``: ``from_user`` (the initiator) pays, ``to_user`` confirms. Open = ``pending``.
- ``request``: ``from_user`` (the creditor) asks, ``to_user`` (the debtor) marks it paid, the
  creditor confirms. ``pending`` is only the creditor's ask (nothing to sign yet); from
  ``paid_pending_confirmation`` on it is the debtor's offer waiting for the creditor.

The proposer's consent is the legacy call (the payment's create, the request's mark_paid); the
proposal itself is signed when the payee answers, on the head of that moment: a bilateral proposal
is bound to the next sequence number and the state before it, so one held open for weeks (legacy
pending payments never expire) would block every other update of the line and be superseded by
the first of them. The confirm is the countersignature: ``ledger_writes.write_op`` with the payer
as proposer, co-signed when both keys are held here (each signature recorded), else a proposal
through the relay mailbox of the member holding their own key (202). The reject is a signed
bilateral reject of the payer's proposal, kept with the proposal on the action row.

Write paths, on crash, retry and duplicate delivery:
- ``create``: one transaction (the pending payment and its action row). With an
  ``Idempotency-Key`` the action row claims the key: a retry gets the pending payment made first;
  two at once, the second waits on the unique index and then gets the first one's. Without a
  key two requests are two pending payments (as in Rails).
- ``confirm``: the pending payment's row is locked; one transaction holds its new status, the
  action row and the ledger write (``write_op``: entry, or proposal and delivery, and the
  signature records). The write's key is ``pending_payment:<id>:<attempt>``, so its nonce is
  derived from the pending payment: a crash before commit leaves nothing; a replay by the
  confirmer after commit (or a twin waiting on the lock) finds the confirm and gets its receipt
  again, refreshed (posted once the other device countersigned), never a second settlement. A
  confirm whose write was refused (422, or its proposal later rejected or expired) leaves the
  pending payment open again; the next confirm is a new attempt with a new nonce.
- ``mark_paid``, ``reject``, ``cancel``: one transaction each on the locked row. A replay after
  commit finds the status moved and gets Rails' answer for it (422 or 403), changing nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from foaf import bilateral as core
from foaf.ledger import hosting, services
from foaf.ledger.models import Relationship
from migration import models as m
from migration.api import ledger_writes as lw
from migration.api import lines
from migration.api.shapes import rails_time

PENDING, CONFIRMED, REJECTED, CANCELLED, PAID = 0, 1, 2, 3, 4
STATUS = {PENDING: "pending", CONFIRMED: "confirmed", REJECTED: "rejected", CANCELLED: "cancelled",
          PAID: "paid_pending_confirmation"}  # fmt: skip
KIND = {m.PendingPayment.Kind.PAYMENT: "payment", m.PendingPayment.Kind.REQUEST: "request"}
A = m.PendingPaymentAction.Action
CONFIRM_ENDPOINT = "pending_payment_confirm"


class Refused(Exception):
    """An answer other than success: its status and Rails' error text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


# ------------------------------------------------------------------ who is who
def is_request(pp: m.PendingPayment) -> bool:
    return pp.kind == m.PendingPayment.Kind.REQUEST


def awaiting(pp: m.PendingPayment) -> int | None:
    """Rails' ``awaiting_user``: who acts next (None once resolved)."""
    if pp.status == PENDING:
        return pp.to_legacy_id
    if pp.status == PAID and is_request(pp):
        return pp.from_legacy_id
    return None


def payer_payee(pp: m.PendingPayment) -> tuple[int | None, int | None]:
    if is_request(pp):
        return pp.to_legacy_id, pp.from_legacy_id
    return pp.from_legacy_id, pp.to_legacy_id


def _payer_side(pp: m.PendingPayment, line: m.Trustline) -> str:
    return "a" if line.user_a_legacy_id == payer_payee(pp)[0] else "b"


def is_open(pp: m.PendingPayment) -> bool:
    return pp.status in (PENDING, PAID)


# ------------------------------------------------------------------ shapes
def payload(pp: m.PendingPayment, names: dict[int, str] | None = None) -> dict[str, Any]:
    """PENDING (API.md): names are user names, ``from_user`` the initiator."""
    if names is None:
        names = _names([pp])

    def user(legacy_id: int | None) -> dict[str, Any] | None:
        return None if legacy_id is None else {"id": legacy_id, "name": names.get(legacy_id)}

    return {
        "id": pp.legacy_id,
        "kind": KIND.get(m.PendingPayment.Kind(pp.kind), "payment"),
        "from_user": user(pp.from_legacy_id),
        "to_user": user(pp.to_legacy_id),
        "trustline_id": pp.trustline_id,
        "amount": lines.dollars(pp.amount),
        "description": pp.description,
        "status": STATUS.get(pp.status, str(pp.status)),
        "paid_at": rails_time(pp.paid_at),
        "created_at": rails_time(pp.created_at),
    }


def _names(pps: list[m.PendingPayment]) -> dict[int, str]:
    ids = {i for pp in pps for i in (pp.from_legacy_id, pp.to_legacy_id) if i is not None}
    return dict(m.Member.objects.filter(legacy_id__in=ids).values_list("legacy_id", "user_name"))


def listing(caller: m.Member) -> dict[str, list[dict[str, Any]]]:
    """The caller's open ones, newest first; incoming = the caller acts next."""
    rows = list(
        m.PendingPayment.objects.filter(
            Q(status__in=(PENDING, PAID))
            # confirmed through a proposal still waiting: reopened if it was refused or expired
            | Q(status=CONFIRMED, actions__action=A.CONFIRM, actions__write__write_state=m.LegacyWrite.State.BUFFERED)
        )
        .filter(Q(from_legacy_id=caller.legacy_id) | Q(to_legacy_id=caller.legacy_id))
        .distinct()
        .order_by("-created_at", "-legacy_id")
    )
    rows = [refresh(pp) for pp in rows]
    rows = [pp for pp in rows if is_open(pp)]
    names = _names(rows)
    incoming = [payload(pp, names) for pp in rows if awaiting(pp) == caller.legacy_id]
    outgoing = [payload(pp, names) for pp in rows if awaiting(pp) != caller.legacy_id]
    return {"incoming": incoming, "outgoing": outgoing}


# ------------------------------------------------------------------ a confirm's write, as it stands
def confirm_action(pp: m.PendingPayment) -> m.PendingPaymentAction | None:
    return (
        m.PendingPaymentAction.objects.filter(pending_payment=pp, action=A.CONFIRM)
        .select_related("write")
        .order_by("-pk")
        .first()
    )


def refresh(pp: m.PendingPayment) -> m.PendingPayment:
    """A pending payment confirmed through a proposal still waiting (202) is reopened once that
    proposal was rejected or expired: the settlement never happened, so the trade is open again."""
    if pp.status != CONFIRMED:
        return pp
    action = confirm_action(pp)
    if action is None or action.write is None or action.write.write_state != m.LegacyWrite.State.BUFFERED:
        return pp
    write = lw.write_refresh(action.write)
    if write.write_state == m.LegacyWrite.State.REJECTED:
        with transaction.atomic():
            _reopen(m.PendingPayment.objects.select_for_update().get(pk=pp.pk))
        pp.refresh_from_db()
    return pp


def _reopen(pp: m.PendingPayment) -> None:
    if pp.status == CONFIRMED:
        pp.status = PAID if is_request(pp) else PENDING
        pp.confirmed_at = pp.resolved_at = None
        pp.updated_at = dt.datetime.now(dt.UTC)
        pp.save(update_fields=["status", "confirmed_at", "resolved_at", "updated_at"])


# ------------------------------------------------------------------ create
@dataclass(frozen=True)
class Created:
    pending_payment: m.PendingPayment


def amount_errors(raw: Any) -> tuple[int, list[str]]:
    """Rails' validation of ``amount`` (presence, numericality > 0) as full messages."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0, ["Amount can't be blank", "Amount is not a number"]
    text = str(raw).strip()
    try:
        float(text)
    except ValueError:
        return 0, ["Amount is not a number"]
    cents = lines.cents_of(raw) or 0
    if cents <= 0:
        return cents, ["Amount must be greater than 0"]
    return cents, []


def _fingerprint(params: dict[str, Any]) -> str:
    body = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def create(
    caller: m.Member, line: m.Trustline, *, amount: int, description: str | None, kind: int, key: str | None
) -> m.PendingPayment:
    """A new pending payment on the caller's line (ids continue the legacy sequence). Nothing is
    signed yet: the payer's proposal is made when the other member answers (module docstring)."""
    params = {"trustline_id": line.legacy_id, "amount": amount, "description": description, "kind": kind}
    fingerprint = _fingerprint(params)

    def replay() -> m.PendingPayment | None:
        if key is None:
            return None
        done = m.PendingPaymentAction.objects.filter(
            member_legacy_id=caller.legacy_id, action=A.CREATE, idempotency_key=key
        ).first()
        if done is None:
            return None
        if done.request_fingerprint != fingerprint:
            raise lw.KeyReused(key)
        return m.PendingPayment.objects.get(pk=done.pending_payment_id)

    found = replay()
    if found is not None:
        return found
    now = dt.datetime.now(dt.UTC)
    try:
        with transaction.atomic():
            top = m.PendingPayment.objects.select_for_update().aggregate(top=Max("legacy_id"))["top"] or 0
            pp = m.PendingPayment.objects.create(
                legacy_id=top + 1,
                from_legacy_id=caller.legacy_id,
                to_legacy_id=lines.other_id(line, caller),
                trustline=line,
                amount=amount,
                description=description,
                status=PENDING,
                kind=kind,
                created_at=now,
                updated_at=now,
            )
            m.PendingPaymentAction.objects.create(
                pending_payment=pp,
                member_legacy_id=caller.legacy_id,
                action=A.CREATE,
                idempotency_key=key,
                request_fingerprint=fingerprint,
            )
            return pp
    except IntegrityError:
        found = replay()
        if found is None:
            raise
        return found


# ------------------------------------------------------------------ the other actions
def locked(pp: m.PendingPayment) -> m.PendingPayment:
    return (
        m.PendingPayment.objects.select_for_update(of=("self",)).select_related("trustline__relationship").get(pk=pp.pk)
    )


def _touch(pp: m.PendingPayment, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(pp, name, value)
    pp.updated_at = dt.datetime.now(dt.UTC)
    pp.save(update_fields=[*fields, "updated_at"])


def _action(pp: m.PendingPayment, caller: m.Member, action: str, **fields: Any) -> m.PendingPaymentAction:
    return m.PendingPaymentAction.objects.create(
        pending_payment=pp, member_legacy_id=caller.legacy_id, action=action, **fields
    )


def mark_paid(caller: m.Member, pp: m.PendingPayment) -> m.PendingPayment:
    """The debtor says they paid in cash: from now on the pending payment is their settlement
    offer waiting for the creditor's countersignature. Nothing moves on the line yet."""
    with transaction.atomic():
        pp = locked(pp)
        if not (is_request(pp) and pp.to_legacy_id == caller.legacy_id):
            raise Refused(403, "Only the debtor on a request can mark it paid")
        if pp.status != PENDING:
            raise Refused(422, "Payment is not pending")
        _touch(pp, status=PAID, paid_at=dt.datetime.now(dt.UTC))
        _action(pp, caller, A.MARK_PAID)
    return pp


def cancel(caller: m.Member, pp: m.PendingPayment) -> m.PendingPayment:
    """The initiator withdraws while it is open. No proposal was signed yet, so none to void."""
    with transaction.atomic():
        pp = locked(pp)
        if pp.from_legacy_id != caller.legacy_id:
            raise Refused(403, "Only the initiator can cancel")
        if pp.status in (CONFIRMED, REJECTED, CANCELLED):
            raise Refused(422, "Cannot cancel a resolved payment")
        now = dt.datetime.now(dt.UTC)
        _touch(pp, status=CANCELLED, resolved_at=now)
        _action(pp, caller, A.CANCEL)
    return pp


def reject(caller: m.Member, pp: m.PendingPayment, reason: Any) -> m.PendingPayment:
    """Whoever acts next refuses. Where there is an offer to refuse (a payment, or a request marked
    paid), the payer's proposal on the current head and the rejector's signed bilateral reject of
    it are made with the keys held here (each recorded) and kept on the action row; a member
    holding their own key signs nothing here (their refusal is the legacy record only)."""
    with transaction.atomic():
        pp = locked(pp)
        if awaiting(pp) != caller.legacy_id:
            raise Refused(403, "Not your turn to reject")
        proposal, signed_reject = _signed_reject(caller, pp)
        _touch(
            pp,
            status=REJECTED,
            rejected_reason=None if reason is None else str(reason),
            resolved_at=dt.datetime.now(dt.UTC),
        )
        _action(pp, caller, A.REJECT, proposal=proposal, reject=signed_reject)
    return pp


def _signed_reject(caller: m.Member, pp: m.PendingPayment) -> tuple[str, str]:
    line = pp.trustline
    if line is None or line.relationship_id is None or (is_request(pp) and pp.status == PENDING):
        return "", ""  # no ledger line, or a request nobody offered to pay yet
    rel = Relationship.objects.select_related("party_a", "party_b").get(pk=line.relationship_id)
    payer_side = _payer_side(pp, line)
    rejector_side = lines.side_of(line, caller)
    party = {"a": rel.party_a, "b": rel.party_b}
    now = lw.now_unix()
    nonce = hashlib.sha256(f"legacy-api:pending_payment:{pp.legacy_id}:reject".encode()).hexdigest()[:32]
    op = core.Settlement(payer_side, pp.amount, (pp.description or "")[:200])
    try:
        state = core.apply_op(
            services.head_state(rel),
            core.Update(payer_side, op, now, now + settings.PROPOSAL_TTL_SECONDS, nonce),
        )
    except core.ProtocolError:
        return "", ""  # the offer would not even be a valid proposal now: nothing to sign
    call = lw.Call(caller, "pending_payment_reject", f"pending_payment:{pp.legacy_id}", {"id": pp.legacy_id})
    proposal = ""
    if hosting.is_hosted(party[payer_side]):
        sig = core.sign_state(state, services.party_signer(party[payer_side]))
        proposal = core.Proposal(state, sig).encode().decode()
        lw._record(call, party[payer_side], rel, state, m.SignatureOnBehalf.What.PROPOSAL, write=None)
    if not hosting.is_hosted(party[rejector_side]):
        return proposal, ""
    body = core.Reject(state.channel, state.seq, state.hash_hex, rejector_side, "DECLINED", now, "")
    sig = services.party_signer(party[rejector_side]).sign(body.signing_message).hex()
    signed = core.Reject(state.channel, state.seq, state.hash_hex, rejector_side, "DECLINED", now, sig)
    lw._record(call, party[rejector_side], rel, state, m.SignatureOnBehalf.What.REJECT, write=None)
    return proposal, signed.encode().decode()


def confirm(caller: m.Member, pp: m.PendingPayment) -> tuple[m.PendingPayment, m.LegacyWrite]:
    """The payee countersigns the payer's settlement (module docstring). Returns the pending
    payment (``confirmed`` unless the write was refused) and the write for the receipt."""
    with transaction.atomic():
        pp = locked(pp)
        previous = confirm_action(pp)
        if pp.status == CONFIRMED and previous is not None and previous.write is not None:
            done = lw.write_refresh(previous.write)
            if done.write_state == m.LegacyWrite.State.REJECTED:
                _reopen(pp)  # its proposal was refused or expired: open again, a new attempt below
            elif previous.member_legacy_id == caller.legacy_id:
                return pp, done  # a replay: the same write, never a second settlement
        if awaiting(pp) != caller.legacy_id:
            raise Refused(403, "Not your turn to confirm")
        if is_request(pp) and pp.status != PAID:
            raise Refused(422, "Request not awaiting confirmation")
        line = pp.trustline
        if line is None or line.relationship is None:
            raise Refused(422, "Trustline not found in FOAF")
        payer = m.Member.objects.filter(legacy_id=payer_payee(pp)[0] or 0).first()
        if payer is None:
            raise Refused(422, "Users must both be on the trustline")
        attempt = m.PendingPaymentAction.objects.filter(pending_payment=pp, action=A.CONFIRM).count()
        key = f"pending_payment:{pp.legacy_id}:{attempt}"
        call = lw.Call(caller, CONFIRM_ENDPOINT, key, {"pending_payment_id": pp.legacy_id, "attempt": attempt})
        description = pp.description or _default_description(pp, payer)
        write = lw.write_op(
            call, line, core.Settlement(lines.side_of(line, payer), pp.amount, description[:200]),
            transaction_type="payment", direction="received", amount=pp.amount, description=description,
            proposer=lines.side_of(line, payer),
        )  # fmt: skip
        _action(pp, caller, A.CONFIRM, idempotency_key=key, write=write)
        if write.write_state != m.LegacyWrite.State.REJECTED:
            now = dt.datetime.now(dt.UTC)
            _touch(pp, status=CONFIRMED, confirmed_at=now, resolved_at=now)
    return pp, write


def _default_description(pp: m.PendingPayment, payer: m.Member) -> str:
    _, payee_id = payer_payee(pp)
    payee = m.Member.objects.filter(legacy_id=payee_id or 0).values_list("user_name", flat=True).first()
    what = "Cash settlement" if is_request(pp) else "Payment"
    return f"{what} from {payer.user_name} to {payee}"
