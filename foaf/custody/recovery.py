"""Recovery services (docs/claim.md, "Recovery"): a member on their own device chooses contacts in
advance, and after losing the device recovers from a new one with their help (bilateral §5.14-§5.16,
§6.7, §6.8, §7.8). Plain functions; the claim API (``migration/api/claim_views.py``) and the legacy
API (``migration/api/recovery_views.py``) call them.

1. ``policy_submit`` / ``policy_advance``: the device's signed ``RecoveryPolicy`` is carried into
   each of the member's relationships as a ``set_recovery`` update proposed by the member: the
   state is offered to the device, which signs it; a hosted counterparty's side is decided by the
   bilateral core run on the ledger with its held key (must-accept, §5.13) and countersigned on its
   behalf; a counterparty on their own device gets the proposal in their relay mailbox.
2. ``recovery_start`` / ``recovery_confirm``: the member (authenticated by the caller with the
   legacy credentials) names the new device's key and confirms the statement the service shows
   (old key -> new key under the policy in force) with the new key.
3. ``approve_by_device`` / ``approve_on_behalf``: contacts approve (a guardian's device signs; a
   hosted guardian asks the service, which signs with the key it holds for them and records it).
   At ``threshold`` approvals the service announces the recovery (``recovery_notice``, which carries
   the approvals): the service's copy of each hosted counterparty records when it first saw it;
   counterparties' devices and the old key's mailbox get it through the relay. The delay starts.
4. ``recovery_advance``: once due on the service's clock, a ``recover_key`` state is offered to the
   new device per relationship, as in 1; a hosted counterparty's side refuses it exactly as the core
   says (``RECOVERY_TOO_EARLY``, ``RECOVERY_CANCELLED``), counting from when it first saw it. When
   every relationship names the new key the member is recorded ``recovered``.
5. ``cancel_submit``: the old device's signed cancel is held by every hosted counterparty's copy
   and relayed to counterparties' devices; the recovery fails in every relationship.

Messages for devices travel through the service's **courier** (``Courier``): a relay mailbox the
service holds, which signs nothing in any relationship. Devices answer to the mailbox a proposal
came from; ``recovery_advance`` and ``policy_advance`` collect the answers there.

Crash, retry and duplicate:
- Each relationship's step is one transaction (the relationship and the step locked); a crash
  leaves it before or after; the next call (the device's retry or a status poll) goes on.
- Submitting the same policy, start, confirmation, approval or cancel again finds what the first
  did (unique policy hash, one live recovery per member, one approval per contact, the cancel
  stored once) and changes nothing.
- The notice is stored with the request before it is told anywhere; telling is per relationship
  (``noticed`` on a hosted counterparty's step, ``told`` on a device's) and resumes after a crash;
  deposits are sealed deterministically, so a repeat is a duplicate the relay recognises.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import nacl.exceptions
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from foaf import bilateral as core
from foaf.custody import services as custody
from foaf.custody.models import (
    RECOVERY_LIVE,
    Claim,
    Courier,
    RecoveryApproval,
    RecoveryPolicy,
    RecoveryRequest,
    RecoveryStep,
)
from foaf.custody.services import CustodyError, OnBehalf
from foaf.ledger import hosting, keys, mailbox, services
from foaf.ledger.models import Party, PendingProposal, Relationship
from relay.protocol import RequestError

log = logging.getLogger(__name__)

# Stable codes (docs/claim.md, "Recovery"). Add; never rename or reuse.
NOT_ON_DEVICE = "not_on_device"
POLICY_INVALID = "policy_invalid"
GUARDIAN_NOT_A_CONTACT = "guardian_not_a_contact"
NO_POLICY = "no_recovery_policy"
RECOVERY_OTHER_DEVICE = "recovery_other_device"
UNKNOWN_RECOVERY = "unknown_recovery"
RECOVERY_CANCELLED = "recovery_cancelled"
RECOVERY_COMPLETE = "recovery_complete"
NOT_A_GUARDIAN = "not_a_guardian"
APPROVAL_INVALID = "approval_invalid"
NOT_WAITING_FOR_APPROVALS = "not_waiting_for_approvals"
CANCEL_INVALID = "cancel_invalid"
GUARDIAN_MOVED = "guardian_moved"

COURIER = "recovery"
ANNOUNCED = ("waiting_for_delay", "confirm_updates", "waiting_for_contacts")  # the notice is out
# A counterparty's reject that does not refuse the update itself: offer it again (for a
# recover_key, RECOVERY_TOO_EARLY too: the counterparty's own clock says not yet, §7.8).
RETRY_REASONS = {"DEADLINE_PASSED", "TIE_LOST", "RECOVERY_TOO_EARLY"}
# Reasons shown to the app as they are; others as NEEDS_OPERATOR or REFUSED (kept whole in the admin).
PUBLIC_REASONS = {"", "CONTACT_NOT_CONFIRMED", "EARLIER_PROPOSAL_OPEN", "CONTACT_UNREACHABLE", "CONTACT_NOT_DUE"}


def public_reason(reason: str) -> str:
    if reason in PUBLIC_REASONS:
        return reason
    if reason == "RECOVERY_CANCELLED":
        return "CANCELLED"
    return "REFUSED" if reason.startswith("REFUSED_") else "NEEDS_OPERATOR"


_dt = services.unix_to_datetime


# ------------------------------------------------------------------ the courier
def courier(*, now: int) -> keys.HeldSecrets:
    """The service's recovery mailbox (created, and its relay profile published, on first use)."""
    row = Courier.objects.filter(name=COURIER).first()
    if row is None:
        seed = keys.new_seed()
        try:
            with transaction.atomic():
                row = Courier.objects.create(
                    name=COURIER, public_key=keys.public_key_of(seed), sealed_seed=keys.seal(seed), kek_id=keys.kek_id()
                )
        except IntegrityError:  # a twin call created it first
            row = Courier.objects.get(name=COURIER)
    held = keys.unseal(bytes(row.sealed_seed), public_key=row.public_key, sealed_under=row.kek_id)
    # Devices open what it sends, and answer it, with the mailbox key of its relay profile.
    mailbox.secrets_profile_publish(held, name="community recovery", version=int(row.created_at.timestamp()), now=now)
    return held


def _send(recipient_key: str, data: bytes, *, now: int) -> bool:
    """Deposit ``data`` from the courier in ``recipient_key``'s relay mailbox. False when it cannot
    (no profile here, a full mailbox): the caller retries on the next call."""
    held = courier(now=now)
    try:
        custody.deposit_from(held, recipient_key, data, now=now)
    except (services.LedgerError, RequestError) as e:
        log.warning("recovery: message to %s not deposited yet: %s", recipient_key[:12], e)
        return False
    return True


def _collect_answers(*, now: int) -> None:
    """Answers of counterparties' devices to the proposals the courier carried, from its mailbox:
    for every policy and recovery (one mailbox serves them all, so an answer is matched against
    every open one, not only the caller's). A message matching none (a duplicate, an answer to a
    proposal already resolved) is acknowledged and dropped."""
    waiting = {
        p.state_hash: p
        for p in PendingProposal.objects.filter(
            status=PendingProposal.Status.OPEN, pk__in=RecoveryStep.objects.values("proposal_id")
        )
    }
    if not waiting:
        return
    from relay.mailbox import mailbox_ack, mailbox_fetch
    from relay.models import Profile

    held = courier(now=now)
    box = held.signer.public_key.hex()
    after = 0
    while True:
        page = mailbox_fetch(recipient=box, after=after, limit=100, now=now)
        done = []
        for message in page.messages:
            sender_box = (
                Profile.objects.filter(key=str(message["sender"])).values_list("mailbox_key", flat=True).first()
            )
            try:
                answer = core.decode(held.open_from(str(sender_box), base64.b64decode(str(message["ciphertext"]))))
            except (nacl.exceptions.CryptoError, ValueError, TypeError, core.ProtocolError):
                answer = None
            row = waiting.get(answer.state_hash) if isinstance(answer, core.Accept | core.Reject) else None
            if row is not None:
                try:
                    if isinstance(answer, core.Accept):
                        services.proposal_accept(row, answer.sig, now=_dt(now))
                    elif isinstance(answer, core.Reject):
                        services.proposal_reject(row, answer, now=_dt(now))
                except (core.ProtocolError, services.LedgerError) as e:
                    log.warning("recovery: an answer was refused: %s", e)
            done.append(str(message["id"]))
        if done:
            mailbox_ack(recipient=box, ids=done, now=now)
        if not page.more:
            return
        after = page.next_seq


# ------------------------------------------------------------------ each relationship
def _side(rel: Relationship, party_pk: int) -> str:
    return "a" if rel.party_a_id == party_pk else "b"


def _relationships(party: Party) -> list[Relationship]:
    return list(Relationship.objects.filter(Q(party_a=party) | Q(party_b=party)).order_by("pk"))


def _done(step: RecoveryStep, now: int) -> None:
    step.status, step.reason = RecoveryStep.Status.DONE, ""
    step.done_at = step.done_at or _dt(now)
    step.save()


def _hosted_counterparty(step: RecoveryStep, rel: Relationship, signer: core.Signer, *, now: int) -> core.Party:
    """The hosted counterparty's side of ``rel``, rebuilt from the ledger with what §7.8 keeps
    (when it first saw the recovery, the cancel it holds)."""
    noticed = {}
    h = _hash_of(step)
    if h and step.noticed is not None:
        noticed[h] = step.noticed
    return core.Party.restore(
        signer,
        list(services.log_entries(rel)),
        now=now,
        operator_keys=settings.OPERATOR_KEYS,
        recoveries_noticed=noticed,
        recovery_cancels=[step.cancel.encode()] if step.cancel and step.counterparty_hosted else [],
    )


def _hash_of(step: RecoveryStep) -> str:
    """The recovery hash a recovery's step is about ("" for a policy's step)."""
    return step.request.recovery_hash if step.request is not None else ""


def _keep_seen(step: RecoveryStep, party: core.Party) -> None:
    h = _hash_of(step)
    if h and h in party.recoveries_noticed and step.noticed is None:
        step.noticed = party.recoveries_noticed[h]
    held = party.recovery_cancels
    if held and not step.cancel:
        step.cancel = held[0].decode()


def hosted_decide(step: RecoveryStep, rel: Relationship, state: core.State, sig: str, *, now: int) -> str | None:
    """A hosted counterparty's answer to the member's proposal ``state`` (signed ``sig``): the
    bilateral core decides as any party would (a must-accept op is accepted; a ``recover_key`` the
    old key cancelled, or not due by this counterparty's clock, is refused, §7.8), the service signs
    with the counterparty's held key and appends. None when committed, else the refusal's reason."""
    other = "b" if state.update.proposer == "a" else "a"
    held = services.held_key_live(state.member(other).key)
    if held is None:
        raise services.LedgerError(services.NO_HELD_KEY, "the counterparty is not hosted")
    party = _hosted_counterparty(step, rel, services.held_key_secrets(held).signer, now=now)
    try:
        events = party.receive(core.Proposal(state, sig).encode(), now=now)
    except core.ProtocolError as e:
        _keep_seen(step, party)
        return e.code.value
    _keep_seen(step, party)
    if not any(isinstance(e, core.ProposalReceived) for e in events):
        voided = [e for e in events if isinstance(e, core.ProposalVoided)]
        return voided[0].reason if voided else "NOT_TAKEN"
    party.accept(now=now)
    services.entry_append(party.log[-1])
    PendingProposal.objects.filter(relationship=rel, seq=state.seq, status=PendingProposal.Status.OPEN).update(
        status=PendingProposal.Status.SUPERSEDED, resolved_at=_dt(now)
    )
    return None


def _after_proposal(step: RecoveryStep, now: int) -> bool:
    """What the device's earlier proposal to the counterparty says: still open (wait), refused for
    good (blocked), refused as not yet due by its clock (wait a delay), else void: offer anew.
    True when a new state may be offered."""
    prop = step.proposal
    assert prop is not None
    prop.refresh_from_db()
    reason = prop.reject_reason
    if prop.status == PendingProposal.Status.OPEN and _dt(now) < prop.deadline:
        step.status = RecoveryStep.Status.WAITING_COUNTERPARTY
        step.save()
        return False
    if prop.status == PendingProposal.Status.REJECTED and reason not in RETRY_REASONS:
        custody.step_block(step, reason if reason == "RECOVERY_CANCELLED" else f"REFUSED_{reason}")
        return False
    if (
        prop.status == PendingProposal.Status.REJECTED
        and reason == "RECOVERY_TOO_EARLY"
        and prop.resolved_at is not None
        and step.request is not None
        # The device first saw the recovery at the latest when it refused it, so it is due a
        # delay after that (§7.8): proposing again sooner would only have the new device sign
        # states to be refused.
        and now < services.datetime_to_unix(prop.resolved_at) + step.request.policy.delay
    ):
        step.status, step.reason = RecoveryStep.Status.WAITING, "CONTACT_NOT_DUE"
        step.save()
        return False
    # Void one whose deadline passed: one open proposal per side and seq, the new one takes its place.
    PendingProposal.objects.filter(pk=prop.pk, status=PendingProposal.Status.OPEN).update(
        status=PendingProposal.Status.EXPIRED, resolved_at=_dt(now)
    )
    step.proposal, step.device_sig, step.canonical, step.state_hash = None, "", "", ""
    return True


def _offer(
    step: RecoveryStep, *, rel: Relationship, head: core.State, side: str, op: core.model.Op, now: int
) -> core.State | None:
    """The state for this relationship: the one already offered while it fits the head (and, once
    sent to a counterparty's device, while that proposal is open), else a new one. None when the
    step waits or is blocked."""
    if step.proposal_id is not None and not _after_proposal(step, now):
        return None
    offered = custody.step_offered(step, head, now)
    if offered is not None:
        return offered
    PendingProposal.objects.filter(
        relationship=rel, seq=head.seq + 1, status=PendingProposal.Status.OPEN, deadline__lte=_dt(now)
    ).update(status=PendingProposal.Status.EXPIRED, resolved_at=_dt(now))
    waiting = PendingProposal.objects.filter(relationship=rel, seq=head.seq + 1, status=PendingProposal.Status.OPEN)
    if step.counterparty_hosted is False and waiting.exists():
        step.status, step.reason = RecoveryStep.Status.WAITING_COUNTERPARTY, "EARLIER_PROPOSAL_OPEN"
        step.save()
        return None
    seed = f"recovery:{step.pk}:{rel.channel_id}:{head.seq}:{now}"
    return custody.step_offer_new(step, head, side, op, seed=seed, now=now)


def _carry(
    step: RecoveryStep,
    *,
    party_pk: int,
    op: core.model.Op,
    moved: Callable[[core.State, str], bool],
    current: str,
    given: Mapping[str, str],
    now: int,
    on_behalf: OnBehalf,
) -> None:
    """One relationship: done if ``moved`` says so; else offer the member's update (signed by the
    device holding ``current``, the key the state names for the member), then the counterparty's
    side: its held key through the core, or its device through the courier."""
    rel = Relationship.objects.select_for_update().select_related("party_a", "party_b").get(pk=step.relationship_id)
    head = services.head_state(rel)
    side = _side(rel, party_pk)
    other = "b" if side == "a" else "a"
    if moved(head, side):
        _done(step, now)
        return
    if head.member(side).key != current:
        custody.step_block(step, "MEMBER_MOVED_ELSEWHERE")
        return
    step.counterparty_hosted = services.held_key_live(head.member(other).key) is not None
    if not rel.genesis_complete:
        custody.step_block(step, "CONTACT_NOT_CONFIRMED")
        return
    state = _offer(step, rel=rel, head=head, side=side, op=op, now=now)
    if state is None:
        return
    sig = step.device_sig or given.get(step.state_hash, "")
    if not sig:
        step.status, step.reason = RecoveryStep.Status.TO_CONFIRM, ""
        step.save()
        return
    step.device_sig = sig
    if step.counterparty_hosted:
        refused = hosted_decide(step, rel, state, sig, now=now)
        if refused is None:
            step.countersigned_on_behalf = True
            counterparty = rel.party_b if side == "a" else rel.party_a
            on_behalf(party=counterparty, relationship=rel, state=state, what="update", for_member=False)
            _done(step, now)
        elif refused == "RECOVERY_TOO_EARLY":
            step.status, step.reason = RecoveryStep.Status.WAITING, ""
            step.canonical, step.state_hash, step.device_sig = "", "", ""  # a new state once due
            step.save()
        else:
            custody.step_block(step, refused)
        return
    prop = services.proposal_record(core.Proposal(state, sig))
    step.proposal = prop
    step.status = RecoveryStep.Status.WAITING_COUNTERPARTY
    told = _send(state.member(other).key, services.proposal_of(prop).encode(), now=now)
    step.reason = "" if told else "CONTACT_UNREACHABLE"
    step.save()


def _checked_signatures(steps: list[RecoveryStep], key: str, signatures: Mapping[str, Any]) -> dict[str, str]:
    """Every signature sent, verified by ``key`` against the state it names before anything is
    written (one that does not verify refuses the whole call); one for a state no longer offered is
    ignored (a new one is offered)."""
    if not isinstance(signatures, Mapping):
        raise CustodyError("invalid_request", "The request is not valid.", details={"field": "signatures"})
    offered = {s.state_hash: s for s in steps if s.canonical}
    out = {}
    for state_hash, sig in signatures.items():
        step = offered.get(str(state_hash))
        if step is None:
            continue
        state = core.State.from_json(core.parse(step.canonical.encode()))
        out[step.state_hash] = custody.verify_device(key, state.signing_message, sig)
    return out


def _run_steps(
    steps: list[RecoveryStep],
    *,
    party_pk: int,
    op: core.model.Op,
    moved: Callable[[core.State, str], bool],
    current: str,
    given: Mapping[str, str],
    now: int,
    on_behalf: OnBehalf,
    due: Callable[[RecoveryStep], bool] = lambda s: True,
) -> None:
    for step in steps:
        if step.status == RecoveryStep.Status.DONE:
            continue
        with transaction.atomic():
            # Re-read under lock: a retry racing its original takes each relationship in turn.
            locked = RecoveryStep.objects.select_for_update().get(pk=step.pk)
            if locked.status == RecoveryStep.Status.DONE:
                continue
            if (
                locked.request_id is not None
                and RecoveryRequest.objects.filter(
                    pk=locked.request_id, status=RecoveryRequest.Status.CANCELLED
                ).exists()
            ):
                return  # cancelled while this call ran: nothing more is carried, told or not (§5.16)
            if not due(locked):
                locked.status = RecoveryStep.Status.WAITING
                locked.save()
                continue
            _carry(
                locked,
                party_pk=party_pk,
                op=op,
                moved=moved,
                current=current,
                given=given,
                now=now,
                on_behalf=on_behalf,
            )


def to_sign(steps: list[RecoveryStep]) -> list[tuple[str, core.State]]:
    """The states the device has to sign now (channel, state)."""
    out = []
    for step in steps:
        if step.status == RecoveryStep.Status.TO_CONFIRM and step.canonical and not step.device_sig:
            out.append((step.relationship.channel_id, core.State.from_json(core.parse(step.canonical.encode()))))
    return out


def steps_of(owner: RecoveryPolicy | RecoveryRequest) -> list[RecoveryStep]:
    field = "policy" if isinstance(owner, RecoveryPolicy) else "request"
    return list(
        RecoveryStep.objects.filter(**{field: owner})
        .select_related("relationship__party_a", "relationship__party_b", "proposal", "request")
        .order_by("relationship_id")
    )


def _ensure_steps(owner: RecoveryPolicy | RecoveryRequest) -> list[RecoveryStep]:
    for rel in _relationships(owner.party):
        if isinstance(owner, RecoveryPolicy):
            RecoveryStep.objects.get_or_create(policy=owner, relationship=rel)
        else:
            RecoveryStep.objects.get_or_create(request=owner, relationship=rel)
    return steps_of(owner)


# ------------------------------------------------------------------ 1. the policy
def device_party(key: str) -> Party:
    """The member whose device holds ``key`` (their current key). Hosted members have no device."""
    party = Party.objects.filter(public_key=key).first()
    if party is None or hosting.is_hosted(party):
        raise CustodyError(NOT_ON_DEVICE, "This is only available once your account is on this device.", status=403)
    return party


def _contacts(party: Party) -> dict[str, str]:
    """The member's counterparties: party id -> current key."""
    out = {}
    for rel in _relationships(party):
        other = rel.party_b if rel.party_a_id == party.pk else rel.party_a
        out[other.party_id] = other.public_key
    return out


def policy_submit(*, key: str, policy: Any, now: int) -> RecoveryPolicy:
    """The member's device (holding ``key``) chooses its contacts: the signed policy is checked
    (bilateral §5.14 alone, and every guardian a counterparty named by its current key) and kept.
    The same policy again finds the first one's row."""
    party = device_party(key)
    try:
        pol = core.RecoveryPolicy.from_json(policy)
        core.check_recovery_policy(pol)
    except core.ProtocolError as e:
        raise CustodyError(
            POLICY_INVALID, "This choice of contacts cannot be used. Update the app and try again.", status=422,
            details={"reason": e.code.value},
        ) from None  # fmt: skip
    if pol.party != party.party_id or pol.key != key:
        raise CustodyError(POLICY_INVALID, "This choice of contacts is not for this account.", status=422)
    contacts = _contacts(party)
    for g in pol.guardians:
        if contacts.get(g.id) != g.key:
            raise CustodyError(
                GUARDIAN_NOT_A_CONTACT,
                "Choose your helpers among the people you already trade with.",
                status=422,
                details={"guardian": g.id},
            )
    existing = RecoveryPolicy.objects.filter(policy_hash=pol.hash_hex).first()
    if existing is not None:
        return existing
    if RecoveryPolicy.objects.filter(party=party, key=key, counter__gte=pol.counter).exists():
        raise CustodyError(
            POLICY_INVALID, "A newer choice of contacts is already in place.", status=409, details={"reason": "counter"}
        )
    try:
        with transaction.atomic():
            row = RecoveryPolicy.objects.create(
                party=party, policy=pol.to_json(), policy_hash=pol.hash_hex, key=key, counter=pol.counter,
                threshold=pol.threshold, delay=pol.delay,
            )  # fmt: skip
            RecoveryPolicy.objects.filter(party=party).exclude(pk=row.pk).exclude(
                status=RecoveryPolicy.Status.REPLACED
            ).update(status=RecoveryPolicy.Status.REPLACED)
    except IntegrityError:  # a twin request stored it first
        return RecoveryPolicy.objects.get(policy_hash=pol.hash_hex)
    return row


def policy_of(key: str) -> RecoveryPolicy:
    row = RecoveryPolicy.objects.filter(party=device_party(key), key=key).order_by("-counter").first()
    if row is None:
        raise CustodyError(NO_POLICY, "You have not chosen anyone to help you recover your account yet.", status=404)
    return row


def policy_advance(
    row: RecoveryPolicy, *, signatures: Mapping[str, Any] | None = None, now: int, on_behalf: OnBehalf
) -> RecoveryPolicy:
    """Carry the policy into each relationship (the device's ``signatures`` of offered states, by
    state hash); in force once every relationship holds it."""
    if row.status == RecoveryPolicy.Status.REPLACED:
        return row
    pol = core.RecoveryPolicy.from_json(row.policy)
    steps = _ensure_steps(row)
    given = _checked_signatures(steps, row.key, signatures or {})
    _collect_answers(now=now)

    def moved(head: core.State, side: str) -> bool:
        rec = head.recovery.side(side) if head.recovery is not None else None
        return rec is not None and rec.policy == row.policy_hash

    _run_steps(
        steps, party_pk=row.party_id, op=core.SetRecovery(pol), moved=moved, current=row.key, given=given, now=now,
        on_behalf=on_behalf,
    )  # fmt: skip
    if all(s.status == RecoveryStep.Status.DONE for s in steps_of(row)):
        RecoveryPolicy.objects.filter(pk=row.pk, status=RecoveryPolicy.Status.SETTING).update(
            status=RecoveryPolicy.Status.IN_FORCE, in_force_at=_dt(now)
        )
    row.refresh_from_db()
    return row


# ------------------------------------------------------------------ 2. starting from a new device
def statement_body(req: RecoveryRequest) -> dict[str, Any]:
    """What the new device confirms: the move from the lost key to its own under the policy (§5.15)."""
    return {
        "party": req.party.party_id,
        "old_key": req.old_key,
        "new_key": req.new_key,
        "policy": req.policy.policy_hash,
        "counter": req.counter,
        "time": req.time,
    }


def _statement(req: RecoveryRequest, sig: str = "") -> core.RecoveryStatement:
    b = statement_body(req)
    return core.RecoveryStatement(b["party"], b["old_key"], b["new_key"], b["policy"], b["counter"], b["time"], sig)


def recovery_start(*, party: Party, new_key: Any, now: int) -> RecoveryRequest:
    """Start (or find again) the recovery of ``party`` (authenticated by the caller) to the device
    whose key is ``new_key``, under the policy in force."""
    live = RecoveryRequest.objects.filter(party=party, status__in=RECOVERY_LIVE).first()
    if live is not None:
        if live.new_key == new_key:
            return live
        raise CustodyError(
            RECOVERY_OTHER_DEVICE,
            "Your account is already being recovered to another device. Finish there, or cancel it from your old one.",
            status=409,
        )
    if hosting.is_hosted(party):
        raise CustodyError(NOT_ON_DEVICE, "Your account is not on a device: log in to the app as usual.", status=409)
    pol = (
        RecoveryPolicy.objects.filter(party=party, key=party.public_key, status=RecoveryPolicy.Status.IN_FORCE)
        .order_by("-counter")
        .first()
    )
    if pol is None:
        raise CustodyError(NO_POLICY, "You have not chosen anyone to help you recover your account.", status=409)
    new_key = custody.check_new_key(new_key, party.public_key)
    counter = (
        Claim.objects.filter(party=party, statement__isnull=False).count()
        + RecoveryRequest.objects.filter(party=party, statement__isnull=False).count()
        + 1
    )
    try:
        with transaction.atomic():
            return RecoveryRequest.objects.create(
                request_id=secrets.token_hex(16), party=party, policy=pol, old_key=party.public_key, new_key=new_key,
                counter=counter, time=now,
            )  # fmt: skip
    except IntegrityError:  # a twin request created it first
        return recovery_start(party=party, new_key=new_key, now=now)


def recovery_get(request_id: Any) -> RecoveryRequest:
    req = None
    if isinstance(request_id, str) and len(request_id) == 32:
        req = RecoveryRequest.objects.select_related("party", "policy").filter(request_id=request_id).first()
    if req is None:
        raise CustodyError(UNKNOWN_RECOVERY, "We could not find this request. Start again on the device.", status=404)
    return req


def recovery_confirm(req: RecoveryRequest, *, new_sig: Any, now: int) -> RecoveryRequest:
    """The new device's signature of the statement (once; a retry is a no-op). Contacts may then
    approve it."""
    if req.statement is not None:
        return req
    _usable(req)
    st = _statement(req, custody.verify_device(req.new_key, _statement(req).signing_message, new_sig))
    RecoveryRequest.objects.filter(pk=req.pk, statement__isnull=True).update(
        statement=st.to_json(), recovery_hash=st.hash_hex, status=RecoveryRequest.Status.WAITING_FOR_APPROVALS
    )
    req.refresh_from_db()
    return req


def _usable(req: RecoveryRequest) -> None:
    if req.status == RecoveryRequest.Status.CANCELLED:
        raise CustodyError(RECOVERY_CANCELLED, "This recovery was stopped.", status=409)


# ------------------------------------------------------------------ 3. contacts approve
def pending_for(guardian: Party) -> list[RecoveryRequest]:
    """Live recoveries (confirmed by the new device) this member is a guardian of."""
    out = []
    live = RecoveryRequest.objects.filter(status__in=RECOVERY_LIVE[1:]).select_related("party", "policy")
    for req in live.order_by("pk"):
        if any(g["id"] == guardian.party_id for g in req.policy.policy["guardians"]):
            out.append(req)
    return out


def _guardian_key(req: RecoveryRequest, guardian: Party) -> str:
    for g in req.policy.policy["guardians"]:
        if g["id"] == guardian.party_id:
            return str(g["key"])
    raise CustodyError(NOT_A_GUARDIAN, "You are not one of the helpers this member chose.", status=403)


def _approvable(req: RecoveryRequest) -> core.RecoveryStatement:
    _usable(req)
    if req.statement is None or req.status == RecoveryRequest.Status.COMPLETE:
        raise CustodyError(NOT_WAITING_FOR_APPROVALS, "This recovery is not waiting for approvals.", status=409)
    return core.RecoveryStatement.from_json(req.statement)


def approve_by_device(req: RecoveryRequest, *, key: str, approval: Any, now: int) -> RecoveryApproval:
    """A guardian's device (holding ``key``) approves. The same approval again is a no-op."""
    st = _approvable(req)
    guardian = Party.objects.filter(public_key=key).first()
    if guardian is None:
        raise CustodyError(NOT_A_GUARDIAN, "You are not one of the helpers this member chose.", status=403)
    expected = _guardian_key(req, guardian)
    try:
        a = core.Approval.from_json(approval)
        if a.guardian != guardian.party_id or expected != key:
            raise core.RemoteProtocolError(core.ErrorCode.NOT_A_GUARDIAN, a.guardian)
        core.verify(bytes.fromhex(key), core.model.approval_message(a.guardian, st.hash_hex), bytes.fromhex(a.sig))
    except core.ProtocolError:
        raise CustodyError(APPROVAL_INVALID, "This approval did not come from your device.", status=422) from None
    return _record_approval(req, guardian, a.sig, on_behalf=False, requested_by=None, now=now)


def approve_on_behalf(
    req: RecoveryRequest, *, guardian: Party, requested_by_legacy_id: int, now: int
) -> RecoveryApproval:
    """A hosted guardian asked the service (their legacy session) to approve: the service signs
    with the key it holds for them and records that it did. The same request again is a no-op."""
    st = _approvable(req)
    expected = _guardian_key(req, guardian)
    held = services.held_key_live(expected)
    # Half-way through their own claim (a relationship moved) the service no longer signs for them.
    if held is None or held.party_id != guardian.pk or not hosting.is_hosted(guardian):
        raise CustodyError(
            GUARDIAN_MOVED, "Your account moved to a device after this member chose you: approve there.", status=409
        )
    a = core.approve_recovery(services.held_key_secrets(held).signer, guardian.party_id, st)
    return _record_approval(req, guardian, a.sig, on_behalf=True, requested_by=requested_by_legacy_id, now=now)


def _record_approval(
    req: RecoveryRequest, guardian: Party, sig: str, *, on_behalf: bool, requested_by: int | None, now: int
) -> RecoveryApproval:
    try:
        with transaction.atomic():
            row, _ = RecoveryApproval.objects.get_or_create(
                request=req, guardian=guardian,
                defaults={"sig": sig, "on_behalf": on_behalf, "requested_by_legacy_id": requested_by,
                          "approved_at": _dt(now)},
            )  # fmt: skip
    except IntegrityError:  # a twin approval stored it first
        row = RecoveryApproval.objects.get(request=req, guardian=guardian)
    _announce_if_ready(req, now=now)
    return row


def _announce_if_ready(req: RecoveryRequest, *, now: int) -> None:
    """At ``threshold`` approvals: the notice (which carries them) is stored with the request, the
    delay starts on the service's clock, and every counterparty and the old device are told."""
    with transaction.atomic():
        locked = RecoveryRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status != RecoveryRequest.Status.WAITING_FOR_APPROVALS:
            return
        pol = core.RecoveryPolicy.from_json(locked.policy.policy)
        rows = list(
            RecoveryApproval.objects.filter(request=locked).select_related("guardian").order_by("guardian__party_id")
        )
        if len(rows) < pol.threshold:
            return
        st = core.RecoveryStatement.from_json(locked.statement)
        notice = core.RecoveryNotice(st, pol, tuple(core.Approval(r.guardian.party_id, r.sig) for r in rows[:16]))
        RecoveryRequest.objects.filter(pk=locked.pk).update(
            notice=notice.encode().decode(),
            noticed_at=now,
            due_at=core.recovery_due(st, pol, now),
            status=RecoveryRequest.Status.WAITING_FOR_DELAY,
        )
    req.refresh_from_db()
    _tell(req, now=now)


def _notice(req: RecoveryRequest) -> core.RecoveryNotice:
    msg = core.decode(req.notice.encode())
    assert isinstance(msg, core.RecoveryNotice)
    return msg


def _tell(req: RecoveryRequest, *, now: int) -> None:
    """Give the notice to each counterparty not told yet (hosted: its copy records when it first
    saw it; a device: through the courier) and to the old key's mailbox."""
    if not req.notice:
        return
    data = req.notice.encode()
    for row in _ensure_steps(req):
        if row.noticed is not None or row.told or row.status == RecoveryStep.Status.DONE:
            continue
        with transaction.atomic():
            step = RecoveryStep.objects.select_for_update().get(pk=row.pk)
            if step.noticed is not None or step.told:
                continue  # a twin call told it meanwhile
            rel = Relationship.objects.select_for_update().get(pk=step.relationship_id)
            head = services.head_state(rel)
            other = "b" if _side(rel, req.party_id) == "a" else "a"
            held = services.held_key_live(head.member(other).key)
            step.counterparty_hosted = held is not None
            if held is None:
                step.told = _send(head.member(other).key, data, now=now)
                step.save()
                continue
            party = _hosted_counterparty(step, rel, services.held_key_secrets(held).signer, now=now)
            try:
                party.receive(data, now=now)
            except core.ProtocolError as e:  # e.g. a relationship the policy never reached
                custody.step_block(step, e.code.value)
                continue
            _keep_seen(step, party)
            step.save()
    if not req.old_device_told and _send(req.old_key, data, now=now):
        RecoveryRequest.objects.filter(pk=req.pk).update(old_device_told=True)


# ------------------------------------------------------------------ 4. completing
def recovery_advance(
    req: RecoveryRequest, *, signatures: Mapping[str, Any] | None = None, now: int, on_behalf: OnBehalf
) -> RecoveryRequest:
    """Do what is due: tell whoever has not heard, and once the delay has passed offer each
    relationship's ``recover_key`` to the new device, carry its ``signatures`` (by state hash) to
    the counterparties, and complete when every relationship names the new key."""
    if signatures:
        _usable(req)
    if req.status == RecoveryRequest.Status.WAITING_FOR_APPROVALS:
        _announce_if_ready(req, now=now)  # the approval reaching the threshold, stored, then a crash
    if req.status in (RecoveryRequest.Status.COMPLETE, RecoveryRequest.Status.CANCELLED) or not req.notice:
        return req
    _tell(req, now=now)
    assert req.due_at is not None and req.noticed_at is not None
    steps = steps_of(req)
    given = _checked_signatures(steps, req.new_key, signatures or {})
    if now < req.due_at:
        return req
    _collect_answers(now=now)
    notice = _notice(req)
    st, pol = notice.statement, notice.policy

    def due(step: RecoveryStep) -> bool:
        noticed = step.noticed if step.counterparty_hosted and step.noticed is not None else req.noticed_at
        assert noticed is not None
        return now >= core.recovery_due(st, pol, noticed)

    _run_steps(
        steps, party_pk=req.party_id, op=notice.op, moved=lambda head, side: head.member(side).key == req.new_key,
        current=req.old_key, given=given, now=now, on_behalf=on_behalf, due=due,
    )  # fmt: skip
    steps = steps_of(req)
    if all(s.status == RecoveryStep.Status.DONE for s in steps):
        _complete(req, now=now)
    else:
        status = (
            RecoveryRequest.Status.CONFIRM_UPDATES
            if any(s.status == RecoveryStep.Status.TO_CONFIRM for s in steps)
            else RecoveryRequest.Status.WAITING_FOR_CONTACTS
        )
        RecoveryRequest.objects.filter(pk=req.pk, status__in=ANNOUNCED).update(status=status)
    req.refresh_from_db()
    return req


def _complete(req: RecoveryRequest, *, now: int) -> None:
    """Every relationship names the new key (``entry_append`` moved the party's current key with
    the first): the request completes and the cohort counts the member recovered."""
    with transaction.atomic():
        locked = RecoveryRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status == RecoveryRequest.Status.COMPLETE:
            return
        every = {r.pk for r in _relationships(req.party)}
        moved = set(
            RecoveryStep.objects.filter(request=req, status=RecoveryStep.Status.DONE).values_list(
                "relationship_id", flat=True
            )
        )
        if every - moved:
            return  # a relationship appeared meanwhile: the next call takes it
        Party.objects.filter(pk=req.party_id, public_key=req.old_key).update(public_key=req.new_key)
        RecoveryRequest.objects.filter(pk=req.pk).update(status=RecoveryRequest.Status.COMPLETE, completed_at=_dt(now))
        RecoveryPolicy.objects.filter(party_id=req.party_id, key=req.old_key).update(
            status=RecoveryPolicy.Status.REPLACED
        )
        custody.member_recovered(req.party, new_key=req.new_key, at=_dt(now))


# ------------------------------------------------------------------ 5. the old key cancels
def cancel_submit(*, key: str, cancel: Any, now: int) -> RecoveryRequest:
    """The old device (holding ``key``) vetoes a recovery of its member: every hosted
    counterparty's copy holds the cancel and refuses the ``recover_key`` from now on; devices get it
    through the courier. The same cancel again changes nothing."""
    try:
        c = core.RecoveryCancel.from_json(cancel)
    except core.ProtocolError:
        raise CustodyError(
            CANCEL_INVALID, "This request could not be read. Update the app and try again.", status=422
        ) from None
    req = RecoveryRequest.objects.select_related("party", "policy").filter(recovery_hash=c.recovery).first()
    if req is None:
        raise CustodyError(UNKNOWN_RECOVERY, "We could not find this recovery.", status=404)
    if req.status == RecoveryRequest.Status.COMPLETE:
        raise CustodyError(RECOVERY_COMPLETE, "This recovery is already complete.", status=409)
    try:
        if c.key != key or c.key != req.old_key or c.party != req.party.party_id or not _still_holds(req.party, key):
            raise core.RemoteProtocolError(core.ErrorCode.BAD_RECOVERY, "not the member's current key")
        core.verify(bytes.fromhex(c.key), c.signing_message, bytes.fromhex(c.sig))
    except core.ProtocolError:
        raise CustodyError(
            CANCEL_INVALID, "Only this account's own device can stop this recovery.", status=403
        ) from None
    with transaction.atomic():
        locked = RecoveryRequest.objects.select_for_update().get(pk=req.pk)
        if locked.cancel is None:
            RecoveryRequest.objects.filter(pk=req.pk).update(
                cancel=c.to_json(), cancelled_at=_dt(now), status=RecoveryRequest.Status.CANCELLED
            )
    req.refresh_from_db()
    _tell_cancel(req, now=now)
    return req


def _still_holds(party: Party, key: str) -> bool:
    """``key`` is the member's current key in at least one relationship (or the member has none):
    the cancel is judged per relationship (§5.16), so the old key may still stop the recovery where
    it has not moved yet, although the first relationship moved already changed ``Party.public_key``."""
    rels = _relationships(party)
    if not rels:
        return party.public_key == key
    return any(services.head_state(rel).member(_side(rel, party.pk)).key == key for rel in rels)


def _tell_cancel(req: RecoveryRequest, *, now: int) -> None:
    """The cancel to each counterparty not holding it yet (hosted: its copy keeps it; a device:
    through the courier). A relationship already moved to the new key takes no cancel (§5.16)."""
    assert req.cancel is not None
    data = core.RecoveryCancelMessage(core.RecoveryCancel.from_json(req.cancel)).encode()
    for row in _ensure_steps(req):
        if row.cancel or row.status == RecoveryStep.Status.DONE:
            continue
        with transaction.atomic():
            step = RecoveryStep.objects.select_for_update().get(pk=row.pk)
            if step.cancel:
                continue  # a twin call told it meanwhile
            rel = Relationship.objects.select_for_update().get(pk=step.relationship_id)
            head = services.head_state(rel)
            side = _side(rel, req.party_id)
            other = "b" if side == "a" else "a"
            if head.member(side).key != req.old_key:
                continue
            held = services.held_key_live(head.member(other).key)
            step.counterparty_hosted = held is not None
            if held is None:
                if _send(head.member(other).key, data, now=now):
                    step.cancel = data.decode()
                step.save()
                continue
            party = _hosted_counterparty(step, rel, services.held_key_secrets(held).signer, now=now)
            party.receive(data, now=now)
            _keep_seen(step, party)
            step.save()


def recovery_stop(req: RecoveryRequest, *, now: int) -> bool:
    """The operator stops a recovery no counterparty has heard of yet (not confirmed, or waiting for
    approvals): one started from a device that went silent, or by someone who knew the password,
    would otherwise keep the member from starting again. Once announced only the old key's cancel
    stops it (§5.16). False when it cannot be stopped."""
    return bool(
        RecoveryRequest.objects.filter(pk=req.pk, status__in=RECOVERY_LIVE[:2], notice="").update(
            status=RecoveryRequest.Status.CANCELLED, cancelled_at=_dt(now)
        )
    )


def tell_pending(*, now: int) -> int:
    """What a beat (or any caller) may run: notices and cancels not yet told anywhere (a relay that
    refused, a crash mid-way) are told again. Idempotent; returns how many requests it looked at."""
    n = 0
    for req in RecoveryRequest.objects.exclude(notice="").filter(
        status__in=[*ANNOUNCED, RecoveryRequest.Status.CANCELLED]
    ):
        if req.status == RecoveryRequest.Status.CANCELLED:
            _tell_cancel(req, now=now)
        else:
            _tell(req, now=now)
        n += 1
    return n
