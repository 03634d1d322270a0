"""Custody services: cohorts, claims, and the hook recovery calls (docs/claim.md). Plain functions;
the admin, the management command and the claim API call them and stay thin.

A claim, in order (each call of ``claim_advance`` does what is due and reports what it waits for):
1. ``claim_start``: the member (authenticated by the caller) names their device's new key; the
   claim gets a random id and the rotation statement's body for the device to confirm.
2. ``claim_confirm``: the device's signature of that statement by the new key; the service adds the
   held key's (the member consented by claiming: the statement names both keys, so it needs both).
3. ``claim_advance``, per relationship: the imported tip is countersigned where a member signature
   is missing (the member's with the held key it names, on the member's own request; a hosted
   counterparty's with its held key, on its behalf, recorded as such); then a ``rotate_key`` state
   proposed by the member is offered to the device, which signs it with the new key (every state is
   signed with the key it names, §4); a hosted counterparty's held key countersigns it and it is
   appended; a counterparty holding their own key gets it in their relay mailbox and must accept it
   (§5.13); their answer is collected from the held key's mailbox.
4. When every relationship names the new key, the held key is destroyed and the claim completes.

Signatures made with a held key on someone's behalf are reported to ``on_behalf`` (the legacy API
records them as ``SignatureOnBehalf``; this app never imports ``migration``).

Crash, retry and duplicate:
- ``claim_start`` is idempotent per member and new key (a unique live claim per member: a twin
  request finds the first one's claim); another device's key while a claim is live is refused.
- ``claim_confirm`` stores the statement once; a retry with the same confirmation is a no-op.
- ``claim_advance`` works one relationship per transaction. A crash leaves every relationship
  either before or after its step; the next call (the device's retry, or a status poll) goes on
  from there. A rotation state offered to the device is stored before it is shown, so a signature
  for it is never lost; a state the head has moved past is replaced and offered again. A signature
  submitted twice finds its relationship done (a duplicate append changes nothing).
- The held key is destroyed in the transaction that completes the claim, after every relationship
  names the new key; destroying is idempotent (``held_key_destroy``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import nacl.exceptions
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from foaf import bilateral as core
from foaf.custody.models import Claim, ClaimStep, Cohort, CohortMember, RecoveryStep
from foaf.ledger import mailbox, services
from foaf.ledger.keys import HeldSecrets
from foaf.ledger.models import Party, PendingProposal, Relationship, StateEntry
from relay.protocol import RequestError

log = logging.getLogger(__name__)

HEX32 = frozenset("0123456789abcdef")


class CustodyError(Exception):
    """A refusal with a stable ``code`` and a message a member may read (no technical words)."""

    def __init__(self, code: str, message: str, *, status: int = 400, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.details = code, message, status, details or {}


# Stable codes (docs/claim.md). Add; never rename or reuse.
COHORT_EXISTS = "cohort_exists"
UNKNOWN_COHORT = "unknown_cohort"
COHORT_BAD_CHANGE = "cohort_bad_change"
ALREADY_IN_COHORT = "already_in_cohort"
UNKNOWN_MEMBER = "unknown_member"
NOT_IN_COHORT = "not_in_cohort"
COHORT_NOT_OPEN = "cohort_not_open"
ALREADY_MOVED = "already_moved"
OTHER_DEVICE = "claim_other_device"
DEVICE_NOT_USABLE = "device_not_usable"
CONFIRMATION_INVALID = "confirmation_invalid"
UNKNOWN_CLAIM = "unknown_claim"
CLAIM_CANCELLED = "claim_cancelled"
UNKNOWN_RELATIONSHIP = "unknown_relationship"

# Cohort status changes the operator may make: (from, to).
COHORT_CHANGES = {
    ("draft", "open"),
    ("paused", "open"),
    ("open", "paused"),
    ("draft", "closed"),
    ("open", "closed"),
    ("paused", "closed"),
}
# A counterparty's reject that does not refuse the rotation itself (§5.13): offer it again.
RETRY_REASONS = {"DEADLINE_PASSED", "TIE_LOST"}
# Reasons a step waits or is blocked that the claim API shows as they are; any other (a bilateral
# error code, a counterparty's own reject reason) is shown as ``NEEDS_OPERATOR`` or ``REFUSED``,
# and kept whole for the operator (``ClaimStep.reason``, in the admin).
PUBLIC_REASONS = {
    "",
    "CONTACT_NOT_CONFIRMED",
    "EARLIER_PROPOSAL_OPEN",
    "CONTACT_UNREACHABLE",
    "MEMBER_MOVED_ELSEWHERE",
}


def public_reason(reason: str) -> str:
    if reason in PUBLIC_REASONS:
        return reason
    return "REFUSED" if reason.startswith("REFUSED_") else "NEEDS_OPERATOR"


GENESIS = "genesis_countersignature"  # what a countersignature of an imported tip is called (on_behalf)


class OnBehalf(Protocol):
    """Told of each signature made with a held key during a claim. ``for_member``: the claiming
    member's own (on their request); otherwise a counterparty's, a consent it did not give in person.
    ``what``: ``genesis_countersignature`` or ``update``."""

    def __call__(
        self, *, party: Party, relationship: Relationship, state: core.State, what: str, for_member: bool
    ) -> None: ...


def _nobody(*, party: Party, relationship: Relationship, state: core.State, what: str, for_member: bool) -> None:
    return None


def _dt(seconds: int) -> datetime:
    return services.unix_to_datetime(seconds)


# ------------------------------------------------------------------ cohorts
def cohort_create(*, name: str, note: str = "") -> Cohort:
    name = name.strip()
    if not name or len(name) > 64:
        raise CustodyError("invalid_request", "A cohort needs a name of 1 to 64 characters.")
    try:
        with transaction.atomic():
            return Cohort.objects.create(name=name, note=note)
    except IntegrityError:
        raise CustodyError(COHORT_EXISTS, f"There is already a cohort named {name!r}.", status=409) from None


def cohort_get(name: str) -> Cohort:
    cohort = Cohort.objects.filter(name=name).first()
    if cohort is None:
        raise CustodyError(UNKNOWN_COHORT, f"No cohort named {name!r}.", status=404)
    return cohort


def cohort_add(cohort: Cohort, parties: list[Party]) -> list[CohortMember]:
    """Add members (one transaction: all or none). A member already in this cohort is kept as is;
    one in another cohort is refused (a member moves with one cohort)."""
    if cohort.status == Cohort.Status.CLOSED:
        raise CustodyError(COHORT_BAD_CHANGE, "A closed cohort takes no more members.", status=409)
    with transaction.atomic():
        out = []
        for party in parties:
            row, created = CohortMember.objects.get_or_create(party=party, defaults={"cohort": cohort})
            if not created and row.cohort_id != cohort.pk:
                raise CustodyError(
                    ALREADY_IN_COHORT,
                    f"{party} is already in cohort {row.cohort.name!r}.",
                    status=409,
                    details={"party": party.party_id},
                )
            out.append(row)
        return out


def cohort_set_status(cohort: Cohort, status: str, *, now: datetime) -> Cohort:
    """Open, pause or close. Pausing or closing stops new claims; claims under way finish, since a
    member half-way (some relationships on the new key, the held key still alive) is the state to
    leave soonest."""
    if cohort.status == status:
        return cohort
    if (cohort.status, status) not in COHORT_CHANGES:
        raise CustodyError(COHORT_BAD_CHANGE, f"A {cohort.status} cohort cannot become {status}.", status=409)
    fields: dict[str, Any] = {"status": status}
    if status == Cohort.Status.OPEN and cohort.opened_at is None:
        fields["opened_at"] = now
    elif status == Cohort.Status.PAUSED:
        fields["paused_at"] = now
    elif status == Cohort.Status.CLOSED:
        fields["closed_at"] = now
    changed = Cohort.objects.filter(pk=cohort.pk, status=cohort.status).update(**fields)
    if not changed:  # someone else changed it meanwhile: decide against what is there now
        return cohort_set_status(Cohort.objects.get(pk=cohort.pk), status, now=now)
    cohort.refresh_from_db()
    return cohort


def cohort_progress(cohort: Cohort) -> dict[str, Any]:
    """Counts for the operator: members, claimed (held key destroyed), in progress, pending (not
    claimed, not recovered, no claim under way), recovered; relationships whose counterparty
    countersigned the rotation (``counterparties_countersigned``) and those waiting for one."""
    members = CohortMember.objects.filter(cohort=cohort)
    live = Claim.objects.filter(cohort=cohort).exclude(status=Claim.Status.CANCELLED)
    in_progress = live.exclude(status=Claim.Status.COMPLETE).values_list("party_id", flat=True)
    steps = ClaimStep.objects.filter(claim__in=live).aggregate(
        done=Count("pk", filter=Q(status=ClaimStep.Status.DONE)),
        waiting=Count("pk", filter=Q(status=ClaimStep.Status.WAITING_COUNTERPARTY)),
        blocked=Count("pk", filter=Q(status=ClaimStep.Status.BLOCKED)),
        genesis_on_behalf=Count("pk", filter=Q(genesis_signed_for_counterparty=True)),
    )
    return {
        "cohort": cohort.name,
        "status": cohort.status,
        "members": members.count(),
        "claimed": members.filter(claimed_at__isnull=False).count(),
        "in_progress": members.filter(claimed_at__isnull=True, party_id__in=list(in_progress)).count(),
        "pending": members.filter(claimed_at__isnull=True, recovered_at__isnull=True)
        .exclude(party_id__in=list(in_progress))
        .count(),
        "recovered": members.filter(recovered_at__isnull=False).count(),
        "counterparties_countersigned": steps["done"],
        "counterparties_waiting": steps["waiting"],
        "relationships_blocked": steps["blocked"],
        "genesis_countersigned_on_behalf": steps["genesis_on_behalf"],
    }


def member_recovered(party: Party, *, new_key: str, at: datetime) -> bool:
    """The integration point for recovery: call it when a recovery has moved ``party`` to
    ``new_key``. The cohort's progress counts the member as recovered. Idempotent; False when the
    member is in no cohort (nothing to count)."""
    return bool(
        CohortMember.objects.filter(party=party, recovered_at__isnull=True).update(
            recovered_at=at, recovered_key=new_key
        )
    )


# ------------------------------------------------------------------ claims: start and confirm
UNUSABLE = "This device sent something we cannot use. Update the app and try again."


def check_new_key(new_key: Any, held_key: str) -> str:
    if not (isinstance(new_key, str) and len(new_key) == 64 and set(new_key) <= HEX32):
        raise CustodyError(DEVICE_NOT_USABLE, UNUSABLE, status=422)
    try:
        core.check_public_key(bytes.fromhex(new_key))
    except core.ProtocolError:
        raise CustodyError(DEVICE_NOT_USABLE, UNUSABLE, status=422) from None
    if new_key == held_key or Party.objects.filter(public_key=new_key).exists():
        raise CustodyError(DEVICE_NOT_USABLE, "This device cannot be used for your account.", status=422)
    return new_key


def claim_start(*, party: Party, new_key: Any, now: int) -> Claim:
    """Start (or find again) the member's claim for the device whose new key is ``new_key``."""
    membership = CohortMember.objects.select_related("cohort").filter(party=party).first()
    if membership is None:
        raise CustodyError(NOT_IN_COHORT, "Moving your account to this device is not available to you yet.", status=403)
    live = Claim.objects.filter(party=party).exclude(status=Claim.Status.CANCELLED).first()
    if live is not None:
        return _same_device(live, new_key)
    if membership.cohort.status != Cohort.Status.OPEN:
        raise CustodyError(COHORT_NOT_OPEN, "Moving accounts is paused right now. Please try again later.", status=403)
    held = services.held_key_live(party.public_key)
    if held is None:
        raise CustodyError(ALREADY_MOVED, "Your account has already moved to a device.", status=409)
    new_key = check_new_key(new_key, held.public_key)
    counter = Claim.objects.filter(party=party, statement__isnull=False).count() + 1
    try:
        with transaction.atomic():
            return Claim.objects.create(
                claim_id=secrets.token_hex(16),
                party=party,
                cohort=membership.cohort,
                held_key=held,
                new_key=new_key,
                counter=counter,
                time=now,
            )
    except IntegrityError:  # a twin request created it first
        live = Claim.objects.filter(party=party).exclude(status=Claim.Status.CANCELLED).first()
        if live is None:
            raise
        return _same_device(live, new_key)


def _same_device(claim: Claim, new_key: Any) -> Claim:
    if claim.new_key == new_key:
        return claim
    if claim.status == Claim.Status.COMPLETE:
        raise CustodyError(ALREADY_MOVED, "Your account has already moved to a device.", status=409)
    raise CustodyError(
        OTHER_DEVICE,
        "Your account is already being moved to another device. Finish there, or ask the operator to start over.",
        status=409,
    )


def claim_get(claim_id: Any) -> Claim:
    claim = None
    if isinstance(claim_id, str) and len(claim_id) == 32:
        claim = Claim.objects.select_related("party", "held_key", "cohort").filter(claim_id=claim_id).first()
    if claim is None:
        raise CustodyError(UNKNOWN_CLAIM, "We could not find this request. Start again on the device.", status=404)
    return claim


def statement_body(claim: Claim) -> dict[str, Any]:
    """What the device confirms first: the move from the held key to its own (§5.11)."""
    return {
        "party": claim.party.party_id,
        "old_key": claim.held_key.public_key,
        "new_key": claim.new_key,
        "counter": claim.counter,
        "time": claim.time,
    }


def _rotation(claim: Claim, old_sig: str = "", new_sig: str = "") -> core.KeyRotation:
    b = statement_body(claim)
    return core.KeyRotation(b["party"], b["old_key"], b["new_key"], b["counter"], b["time"], old_sig, new_sig)


def statement_of(claim: Claim) -> core.KeyRotation | None:
    return None if claim.statement is None else core.KeyRotation.from_json(claim.statement)


def _verify_device(claim: Claim, message: bytes, sig: Any) -> str:
    return verify_device(claim.new_key, message, sig)


def verify_device(key: str, message: bytes, sig: Any) -> str:
    """``sig`` (hex) by the device holding ``key`` over ``message``: a claim's or a recovery's
    confirmations. Refused as a whole (``confirmation_invalid``) when it does not verify."""
    try:
        if not (isinstance(sig, str) and len(sig) == 128 and set(sig) <= HEX32):
            raise ValueError("not 64 bytes of hex")
        core.verify(bytes.fromhex(key), message, bytes.fromhex(sig))
    except (ValueError, core.ProtocolError):
        raise CustodyError(
            CONFIRMATION_INVALID,
            "This confirmation did not come from the device that started. Start again on that device.",
            status=422,
        ) from None
    return sig


def claim_confirm(claim: Claim, *, new_sig: Any, now: int) -> Claim:
    """The device's confirmation of the rotation statement; the held key adds its own (the member
    asked for this move by claiming with their credentials). Once only; a retry is a no-op."""
    _usable(claim)
    if claim.statement is not None:
        return claim
    new_sig = _verify_device(claim, _rotation(claim).signing_message, new_sig)
    signer = services.held_key_secrets(claim.held_key).signer
    old_sig = signer.sign(_rotation(claim).signing_message).hex()
    statement = _rotation(claim, old_sig, new_sig)
    core.rules.check_rotation(statement)
    with transaction.atomic():
        Claim.objects.filter(pk=claim.pk, statement__isnull=True).update(
            statement=statement.to_json(), status=Claim.Status.CONFIRM_UPDATES
        )
        # Contacts holding their own keys hear from the member at the held key's mailbox: it needs
        # a profile on the relay (imported members get one from publish_to_relay already).
        if claim.party.public_key == claim.held_key.public_key:
            mailbox.profile_publish(claim.party, now=now)
    claim.refresh_from_db()
    return claim


def _usable(claim: Claim) -> None:
    if claim.status == Claim.Status.CANCELLED:
        raise CustodyError(CLAIM_CANCELLED, "This request was stopped. Start again on the device.", status=409)


# ------------------------------------------------------------------ claims: each relationship
@dataclass(frozen=True)
class ToSign:
    channel: str
    seq: int
    state: core.State


def claim_advance(
    claim: Claim, *, signatures: Mapping[str, Any] | None = None, now: int, on_behalf: OnBehalf = _nobody
) -> Claim:
    """Do what is due on each of the member's relationships, with the device's ``signatures`` of
    offered rotation states (by state hash); complete the claim when every one is done."""
    _usable(claim)
    if claim.status == Claim.Status.COMPLETE or claim.statement is None:
        return claim
    statement = statement_of(claim)
    assert statement is not None
    given = _checked_signatures(claim, signatures or {})
    _collect_answers(claim, now=now)
    relationships = Relationship.objects.filter(Q(party_a=claim.party) | Q(party_b=claim.party)).order_by("pk")
    for rel in relationships:
        step, _ = ClaimStep.objects.get_or_create(claim=claim, relationship=rel)
        if step.status == ClaimStep.Status.DONE:
            continue
        with transaction.atomic():
            # Re-read under lock: two calls of one claim at once (a retry racing its original)
            # take each relationship in turn, the second seeing what the first did.
            step = ClaimStep.objects.select_for_update().get(pk=step.pk)
            if Claim.objects.filter(pk=claim.pk, status=Claim.Status.CANCELLED).exists():
                break  # the operator cancelled it meanwhile (claim_cancel holds the steps' locks)
            if step.status != ClaimStep.Status.DONE:
                _step(claim, statement, step, given, now=now, on_behalf=on_behalf)
    steps = list(ClaimStep.objects.filter(claim=claim))
    all_done = all(s.status == ClaimStep.Status.DONE for s in steps)
    if not (all_done and _complete(claim, statement, now=now)):
        # All done but not complete: a relationship appeared meanwhile, offered on the next call.
        status = (
            Claim.Status.CONFIRM_UPDATES
            if all_done or any(s.status == ClaimStep.Status.TO_CONFIRM for s in steps)
            else Claim.Status.WAITING_FOR_CONTACTS
        )
        Claim.objects.filter(pk=claim.pk).exclude(status__in=[Claim.Status.COMPLETE, Claim.Status.CANCELLED]).update(
            status=status
        )
    claim.refresh_from_db()
    _usable(claim)  # cancelled while this call ran
    return claim


def _checked_signatures(claim: Claim, signatures: Mapping[str, Any]) -> dict[str, str]:
    """Every signature the device sent, verified against the state it names before anything is
    written: one that does not verify refuses the whole call (nothing lost, nothing half-done).
    A signature of a state no longer offered (the head moved on) is ignored: the new state is
    offered instead."""
    if not isinstance(signatures, Mapping):
        raise CustodyError("invalid_request", "The request is not valid.", status=400)
    offered = {
        s.state_hash: s for s in ClaimStep.objects.filter(claim=claim, state_hash__in=[str(h) for h in signatures])
    }
    out = {}
    for state_hash, sig in signatures.items():
        step = offered.get(str(state_hash))
        if step is None or not step.canonical:
            continue
        state = core.State.from_json(core.parse(step.canonical.encode()))
        out[step.state_hash] = _verify_device(claim, state.signing_message, sig)
    return out


def _side_of(rel: Relationship, party: Party) -> str:
    return "a" if rel.party_a_id == party.pk else "b"


def step_block(step: ClaimStep | RecoveryStep, reason: str) -> None:
    """A claim's or a recovery's relationship that cannot go on, with why (for the operator)."""
    step.status, step.reason = type(step).Status.BLOCKED, reason[:64]
    step.save()


def step_offered(step: ClaimStep | RecoveryStep, head: core.State, now: int) -> core.State | None:
    """The state already offered to the device for this relationship, while it still follows the
    head and its deadline has not passed; else None (a new one is due)."""
    if step.canonical:
        offered = core.State.from_json(core.parse(step.canonical.encode()))
        if offered.seq == head.seq + 1 and offered.prev == head.hash_hex and now < offered.update.deadline:
            return offered
    return None


def step_offer_new(
    step: ClaimStep | RecoveryStep, head: core.State, side: str, op: core.model.Op, *, seed: str, now: int
) -> core.State | None:
    """A new state carrying ``op`` for the device to sign (its nonce derived from ``seed``), kept on
    the step; None, the step blocked with the protocol's code, when the op does not apply."""
    nonce = hashlib.sha256(seed.encode()).hexdigest()[:32]
    try:
        state = core.apply_op(head, core.Update(side, op, now, now + settings.PROPOSAL_TTL_SECONDS, nonce))
    except core.ProtocolError as e:
        step_block(step, e.code.value)
        return None
    step.canonical, step.state_hash, step.device_sig = state.canonical.decode(), state.hash_hex, ""
    step.status, step.reason = type(step).Status.TO_CONFIRM, ""
    step.save()
    return state


def _step(
    claim: Claim, statement: core.KeyRotation, step: ClaimStep, given: dict[str, str], *, now: int, on_behalf: OnBehalf
) -> None:
    rel = Relationship.objects.select_for_update().select_related("party_a", "party_b").get(pk=step.relationship_id)
    head = services.head_state(rel)
    side = _side_of(rel, claim.party)
    other = "b" if side == "a" else "a"
    counterparty = rel.party_b if side == "a" else rel.party_a
    if head.member(side).key == claim.new_key:
        _done(step, rel, now)
        return
    if head.member(side).key != claim.held_key.public_key:
        step_block(step, "MEMBER_MOVED_ELSEWHERE")  # e.g. recovered meanwhile: the operator looks
        return
    cp_held = services.held_key_live(head.member(other).key)
    step.counterparty_hosted = cp_held is not None
    if not rel.genesis_complete:
        rel = _tip_countersign(
            claim=claim, step=step, rel=rel, side=side, counterparty=counterparty, cp_held=cp_held, on_behalf=on_behalf
        )
        if not rel.genesis_complete:
            step_block(step, "CONTACT_NOT_CONFIRMED")  # a contact on their own device must sign the tip
            return
        head = services.head_state(rel)
    state = _offer(claim, statement, step, rel=rel, head=head, side=side, now=now)
    if state is None:
        return
    sig = step.device_sig or given.get(step.state_hash)
    if not sig:
        step.status, step.reason = ClaimStep.Status.TO_CONFIRM, ""
        step.save()
        return
    step.device_sig = sig
    if cp_held is not None:
        theirs = core.sign_state(state, services.held_key_secrets(cp_held).signer)
        sigs = {side: sig, other: theirs}
        services.entry_append(core.LogEntry(state, sigs["a"], sigs["b"]))
        PendingProposal.objects.filter(relationship=rel, seq=state.seq, status=PendingProposal.Status.OPEN).update(
            status=PendingProposal.Status.SUPERSEDED, resolved_at=_dt(now)
        )
        on_behalf(party=counterparty, relationship=rel, state=state, what="update", for_member=False)
        _done(step, rel, now)
        return
    _propose(claim, step, state, sig, counterparty_key=head.member(other).key, now=now)


def _tip_countersign(
    *,
    claim: Claim,
    step: ClaimStep,
    rel: Relationship,
    side: str,
    counterparty: Party,
    cp_held: Any,
    on_behalf: OnBehalf,
) -> Relationship:
    """Countersign the imported tip (§8.2): the member's signature with the held key the tip names,
    on the member's request (the claim); a hosted counterparty's with its held key, on its behalf.
    A counterparty on their own device signed their imported tips when they claimed."""
    other = "b" if side == "a" else "a"
    row = StateEntry.objects.get(relationship=rel, seq=rel.head_seq)
    entry = services.entry_from_row(row)
    sigs: dict[str, str] = {}
    if getattr(row, f"sig_{side}") is None:
        sigs[side] = core.sign_state(entry.state, services.held_key_secrets(claim.held_key).signer)
    if getattr(row, f"sig_{other}") is None and cp_held is not None:
        sigs[other] = core.sign_state(entry.state, services.held_key_secrets(cp_held).signer)
    if not sigs:
        return rel
    services.entry_append(core.LogEntry(entry.state, sigs.get("a"), sigs.get("b"), entry.attest))
    if side in sigs:
        step.genesis_signed_for_member = True
        on_behalf(party=claim.party, relationship=rel, state=entry.state, what=GENESIS, for_member=True)
    if other in sigs:
        step.genesis_signed_for_counterparty = True
        on_behalf(party=counterparty, relationship=rel, state=entry.state, what=GENESIS, for_member=False)
    step.save()
    return Relationship.objects.select_related("party_a", "party_b").get(pk=rel.pk)


def _offer(
    claim: Claim,
    statement: core.KeyRotation,
    step: ClaimStep,
    *,
    rel: Relationship,
    head: core.State,
    side: str,
    now: int,
) -> core.State | None:
    """The rotation state for this relationship: the one already offered while it still fits the
    head (and, once sent to a counterparty, while that proposal is open), else a new one. None when
    the step waits for a counterparty or is blocked."""
    if step.proposal_id is not None:
        prop = PendingProposal.objects.get(pk=step.proposal_id)
        if prop.status == PendingProposal.Status.OPEN and _dt(now) < prop.deadline:
            step.status = ClaimStep.Status.WAITING_COUNTERPARTY
            step.save()
            return None
        if prop.status == PendingProposal.Status.REJECTED and prop.reject_reason not in RETRY_REASONS:
            # §5.13: a conforming device never refuses this; the signed reject is kept as evidence.
            step_block(step, f"REFUSED_{prop.reject_reason}")
            return None
        # Void one whose deadline passed (as the beat's proposals_expire would): one open proposal
        # per side and seq, and the new one takes its place.
        PendingProposal.objects.filter(pk=prop.pk, status=PendingProposal.Status.OPEN).update(
            status=PendingProposal.Status.EXPIRED, resolved_at=_dt(now)
        )
        step.proposal, step.device_sig, step.canonical, step.state_hash = None, "", "", ""  # offer anew
    offered = step_offered(step, head, now)
    if offered is not None:
        return offered
    waiting = PendingProposal.objects.filter(
        relationship=rel, seq=head.seq + 1, status=PendingProposal.Status.OPEN, deadline__gt=_dt(now)
    ).exists()
    if waiting and step.counterparty_hosted is False:
        # An earlier proposal on this line awaits the contact's device (one at a time).
        step.status, step.reason = ClaimStep.Status.WAITING_COUNTERPARTY, "EARLIER_PROPOSAL_OPEN"
        step.save()
        return None
    seed = f"claim:{claim.claim_id}:{rel.channel_id}:{head.seq}:{now}"
    return step_offer_new(step, head, side, core.RotateKey(statement), seed=seed, now=now)


def _propose(claim: Claim, step: ClaimStep, state: core.State, sig: str, *, counterparty_key: str, now: int) -> None:
    """A counterparty on their own device: the member's proposal (signed by the device) is kept and
    deposited in their relay mailbox from the held key's mailbox, where their answer comes back."""
    prop = services.proposal_record(core.Proposal(state, sig))
    step.proposal = prop
    step.status, step.reason = ClaimStep.Status.WAITING_COUNTERPARTY, ""
    try:
        deposit_from(services.held_key_secrets(claim.held_key), counterparty_key, prop_bytes(prop), now=now)
    except (services.LedgerError, RequestError) as e:  # no profile, a full mailbox...: retried on the next call
        log.warning("claim %s: proposal to %s not deposited yet: %s", claim.claim_id[:8], counterparty_key[:12], e)
        step.reason = "CONTACT_UNREACHABLE"
    step.save()


def prop_bytes(prop: PendingProposal) -> bytes:
    return services.proposal_of(prop).encode()


def deposit_from(held: HeldSecrets, recipient_key: str, data: bytes, *, now: int) -> None:
    """``mailbox.mailbox_send`` for a key the service holds that is not a party's current key: a
    claim's held key (the party moves to the new key with its first rotated relationship), the
    recovery courier (``foaf.custody.recovery``). Sealed deterministically: a retry is a duplicate
    the relay recognises."""
    from relay.mailbox import mailbox_deposit
    from relay.models import Profile
    from relay.protocol.auth import HEADER_NONCE, HEADER_SIGNATURE, SignedRequest, sign_http_request

    box_key = Profile.objects.filter(key=recipient_key).values_list("mailbox_key", flat=True).first()
    if box_key is None:
        raise services.LedgerError(mailbox.NO_MAILBOX, f"no profile for {recipient_key[:16]}")
    ciphertext = held.box_to(box_key, data)
    path = f"/relay/v1/mailboxes/{recipient_key}"
    headers = sign_http_request(
        held.signer, method="POST", path=path, body=ciphertext, relay=settings.RELAY_ORIGIN or "", now=now
    )
    sender = SignedRequest(held.signer.public_key.hex(), now, headers[HEADER_NONCE], headers[HEADER_SIGNATURE])
    mailbox_deposit(sender=sender, recipient=recipient_key, ciphertext=ciphertext, now=now)


def _collect_answers(claim: Claim, *, now: int) -> None:
    """Answers of counterparties' devices to this claim's proposals, from the held key's mailbox.
    Other messages there are left for the hosted wallet (``mailbox.mailboxes_collect``). A proposal
    not yet deposited (the relay refused) is deposited again."""
    waiting = {
        s.state_hash: s
        for s in ClaimStep.objects.filter(claim=claim, status=ClaimStep.Status.WAITING_COUNTERPARTY).select_related(
            "proposal", "relationship"
        )
    }
    if not waiting or claim.held_key.destroyed_at is not None:
        return
    from relay.mailbox import mailbox_ack, mailbox_fetch
    from relay.models import Profile

    held = services.held_key_secrets(claim.held_key)
    for step in waiting.values():
        if step.reason == "CONTACT_UNREACHABLE" and step.proposal is not None:
            state = services.proposal_of(step.proposal).state
            other = "b" if _side_of(step.relationship, claim.party) == "a" else "a"
            _propose(claim, step, state, step.device_sig, counterparty_key=state.member(other).key, now=now)
    after = 0
    while True:
        page = mailbox_fetch(recipient=claim.held_key.public_key, after=after, limit=100, now=now)
        done = []
        for message in page.messages:
            box_key = Profile.objects.filter(key=str(message["sender"])).values_list("mailbox_key", flat=True).first()
            try:
                data = held.open_from(str(box_key), base64.b64decode(str(message["ciphertext"])))
                answer = core.decode(data)
            except (nacl.exceptions.CryptoError, ValueError, TypeError, core.ProtocolError):
                continue  # not ours to judge: the hosted wallet's collection drops what cannot be read
            if not isinstance(answer, core.Accept | core.Reject) or answer.state_hash not in waiting:
                continue
            row = waiting[answer.state_hash].proposal
            assert row is not None
            try:
                if isinstance(answer, core.Accept):
                    services.proposal_accept(row, answer.sig, now=_dt(now))
                else:
                    services.proposal_reject(row, answer, now=_dt(now))
            except (core.ProtocolError, services.LedgerError) as e:
                log.warning("claim %s: an answer was refused: %s", claim.claim_id[:8], e)
            done.append(str(message["id"]))
        if done:
            mailbox_ack(recipient=claim.held_key.public_key, ids=done, now=now)
        if not page.more:
            return
        after = page.next_seq


def _done(step: ClaimStep, rel: Relationship, now: int) -> None:
    step.status, step.reason = ClaimStep.Status.DONE, ""
    if step.done_at is None:
        step.done_at = _dt(now)
    step.save()


def _complete(claim: Claim, statement: core.KeyRotation, *, now: int) -> bool:
    """Every relationship names the new key: record it on the party, destroy the held key, done.
    False (nothing done) when a relationship appeared meanwhile that the claim has not moved: the
    next call takes it."""
    moment = _dt(now)
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        if locked.status == Claim.Status.COMPLETE:
            return True
        party = Party.objects.select_for_update().get(pk=claim.party_id)
        every = set(Relationship.objects.filter(Q(party_a=party) | Q(party_b=party)).values_list("pk", flat=True))
        moved = ClaimStep.objects.filter(claim=claim, status=ClaimStep.Status.DONE).values_list(
            "relationship_id", flat=True
        )
        if every - set(moved):
            return False
        services.party_key_rotate(party, statement)
        services.held_key_destroy(claim.held_key, now=moment)
        Claim.objects.filter(pk=claim.pk).update(
            status=Claim.Status.COMPLETE, completed_at=moment, held_key_destroyed_at=moment
        )
        CohortMember.objects.filter(party_id=claim.party_id, claimed_at__isnull=True).update(claimed_at=moment)
    return True


def to_sign(claim: Claim) -> list[ToSign]:
    """The rotation states the device has to sign now."""
    out = []
    offered = ClaimStep.objects.filter(claim=claim, status=ClaimStep.Status.TO_CONFIRM).select_related("relationship")
    for step in offered:
        if step.canonical and not step.device_sig:
            state = core.State.from_json(core.parse(step.canonical.encode()))
            out.append(ToSign(step.relationship.channel_id, state.seq, state))
    return out


def relationship_of(claim: Claim, channel: Any) -> Relationship:
    """One of the claiming member's relationships, by channel id (404 for anyone else's)."""
    return member_relationship(claim.party_id, channel)


def member_relationship(party_pk: int, channel: Any) -> Relationship:
    """One of the member's relationships, by channel id (404 for anyone else's)."""
    rel = (
        Relationship.objects.filter(channel_id=channel).filter(Q(party_a_id=party_pk) | Q(party_b_id=party_pk)).first()
    )
    if rel is None:
        raise CustodyError(UNKNOWN_RELATIONSHIP, "This is not one of your relationships.", status=404)
    return rel


def log_of(rel: Relationship) -> list[core.LogEntry]:
    return list(services.log_entries(rel))


def claim_cancel(claim: Claim) -> bool:
    """The operator stops a claim (a lost device, say) so the member can start again from another.
    Only before any relationship moved to the new key: after that the member is half on the device,
    and only finishing (or recovery) gets them out of it. A move sent to a contact's device and not
    yet answered counts as moved: the contact must accept it (§5.13), and the held key's mailbox
    collection commits the answer whatever the claim says. False when it cannot be cancelled."""
    with transaction.atomic():
        # The steps locked: a call of the claim working on one finishes first, or sees it cancelled.
        steps = list(ClaimStep.objects.select_for_update().filter(claim=claim).order_by("pk"))
        party = Party.objects.get(pk=claim.party_id)
        if (
            any(s.status == ClaimStep.Status.DONE for s in steps)
            or party.public_key != claim.held_key.public_key  # a relationship moved (entry_append)
            or PendingProposal.objects.filter(
                pk__in=[s.proposal_id for s in steps if s.proposal_id is not None],
                status=PendingProposal.Status.OPEN,
            ).exists()
        ):
            return False
        return bool(
            Claim.objects.filter(pk=claim.pk)
            .exclude(status__in=[Claim.Status.COMPLETE, Claim.Status.CANCELLED])
            .update(status=Claim.Status.CANCELLED)
        )
