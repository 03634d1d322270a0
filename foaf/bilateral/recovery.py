"""Social recovery (spec §5.14-§5.16, §6.7, §6.8): the checks and the signed statements.

A member chooses guardians among its counterparties in advance and says so in a
`RecoveryPolicy` signed by its current key, set into each of its channels by the `set_recovery`
op (which the counterparty must accept). After losing its device, the member's new device signs a
`RecoveryStatement` (old key -> new key, under the policy's hash), `threshold` guardians each sign
an `Approval` of its hash, and the new device announces it (`RecoveryNotice`) and, once the
policy's `delay` has passed, proposes `recover_key` in each channel. Until then the old key may
veto it with a `RecoveryCancel`; a counterparty holding one refuses the `recover_key`.

Public API (all pure; a signer is anything with `public_key` and `sign`, as elsewhere):

- builders: `make_recovery_policy`, `make_recovery`, `approve_recovery`, `cancel_recovery`;
- checks, raising RemoteProtocolError with the spec's codes: `check_recovery_policy(policy)`
  (the policy alone), `check_set_recovery(state, policy)`, `check_recovery(state, op, created=...)`
  (a `recover_key` on a head; `created=None` leaves out the delay, as for a notice),
  `check_recovery_cancel(state, cancel)`;
- `recovery_due(statement, policy, noticed)`: the first time a counterparty that first saw the
  recovery at `noticed` may countersign its `recover_key`.

`Party` (party.py) applies them on the wire: `Party.recovering` for the new device,
`receive` of `recovery_notice` / `recovery_cancel`, and the refusals of §7.8.
"""

from __future__ import annotations

from collections.abc import Iterable

from .crypto import Signer, as_signer, check_public_key, verify
from .errors import ErrorCode, remote
from .model import (
    Approval,
    Member,
    RecoverKey,
    RecoveryCancel,
    RecoveryPolicy,
    RecoveryRecord,
    RecoveryStatement,
    State,
    approval_message,
)

_OTHER = {"a": "b", "b": "a"}


def _side_of(state: State, party: str) -> str:
    if state.a.id == party:
        return "a"
    if state.b.id == party:
        return "b"
    raise remote(ErrorCode.NOT_A_PARTY, party)


# ---------------------------------------------------------------- checks
def check_recovery_policy(policy: RecoveryPolicy) -> None:
    """The checks a policy passes on its own (spec §5.14, steps 4-7): threshold at most the
    number of guardians, no guardian is the member (by id or key), guardian keys distinct and
    valid (§2.3 checks 2-4), and `sig` by `key`."""
    if policy.threshold > len(policy.guardians):
        raise remote(ErrorCode.BAD_RECOVERY_POLICY, f"threshold {policy.threshold} of {len(policy.guardians)}")
    keys: set[str] = set()
    for g in policy.guardians:
        if g.id == policy.party or g.key == policy.key:
            raise remote(ErrorCode.BAD_RECOVERY_POLICY, "the member cannot be its own guardian")
        if g.key in keys:
            raise remote(ErrorCode.BAD_RECOVERY_POLICY, "two guardians share a key")
        keys.add(g.key)
        check_public_key(bytes.fromhex(g.key))
    verify(bytes.fromhex(policy.key), policy.signing_message, bytes.fromhex(policy.sig))


def check_set_recovery(prev: State, policy: RecoveryPolicy) -> tuple[str, RecoveryRecord]:
    """The `set_recovery` rule (spec §5.14) on `prev`: the side it is for and the record the next
    state keeps."""
    side = _side_of(prev, policy.party)
    if policy.key != prev.member(side).key:
        raise remote(ErrorCode.BAD_RECOVERY_POLICY, "the policy is not signed by the party's current key")
    rec = prev.recovery.side(side) if prev.recovery is not None else None
    if rec is not None and policy.counter <= rec.counter:
        raise remote(ErrorCode.BAD_RECOVERY_POLICY, f"counter {policy.counter} after {rec.counter}")
    check_recovery_policy(policy)
    return side, RecoveryRecord(policy.hash_hex, policy.counter)


def check_recovery(prev: State, op: RecoverKey, *, created: int | None) -> str:
    """The `recover_key` rule (spec §5.15) on `prev`; returns the recovering party's side.
    With `created=None` the delay (step 6) is left out: what a `recovery_notice` is checked by."""
    st, pol = op.statement, op.policy
    side = _side_of(prev, st.party)
    rec = prev.recovery.side(side) if prev.recovery is not None else None
    if rec is None or pol.hash_hex != rec.policy or st.policy != rec.policy:
        raise remote(ErrorCode.RECOVERY_POLICY_MISMATCH, "not the policy this state holds for the party")
    verify(bytes.fromhex(pol.key), pol.signing_message, bytes.fromhex(pol.sig))
    if st.old_key != prev.member(side).key:
        raise remote(ErrorCode.BAD_RECOVERY, "old_key is not the party's current key")
    if st.new_key == st.old_key or st.new_key == prev.member(_OTHER[side]).key:
        raise remote(ErrorCode.BAD_RECOVERY, "new key equals the old key or the counterparty's key")
    new = bytes.fromhex(st.new_key)
    check_public_key(new)
    if created is not None and created - st.time < pol.delay:
        raise remote(ErrorCode.RECOVERY_TOO_EARLY, f"{created - st.time} s of {pol.delay} s since it started")
    if len(op.approvals) < pol.threshold:
        raise remote(ErrorCode.TOO_FEW_APPROVALS, f"{len(op.approvals)} of {pol.threshold}")
    h = st.hash_hex
    seen: set[str] = set()
    for a in op.approvals:
        key = pol.guardian_key(a.guardian)
        if key is None:
            raise remote(ErrorCode.NOT_A_GUARDIAN, a.guardian)
        if a.guardian in seen:
            raise remote(ErrorCode.DUPLICATE_APPROVAL, a.guardian)
        seen.add(a.guardian)
        verify(bytes.fromhex(key), approval_message(a.guardian, h), bytes.fromhex(a.sig))
    verify(new, st.signing_message, bytes.fromhex(st.sig))
    return side


def check_recovery_cancel(state: State, cancel: RecoveryCancel) -> str:
    """A cancel is valid on `state` (spec §5.16) when it is signed by the named party's current
    key; returns that party's side."""
    side = _side_of(state, cancel.party)
    if cancel.key != state.member(side).key:
        raise remote(ErrorCode.BAD_RECOVERY, "a cancel is signed by the party's current key")
    verify(bytes.fromhex(cancel.key), cancel.signing_message, bytes.fromhex(cancel.sig))
    return side


def recovery_due(statement: RecoveryStatement, policy: RecoveryPolicy, noticed: int) -> int:
    """The first time (spec §7.8) a counterparty that first saw the recovery at `noticed` may
    countersign its `recover_key`: `delay` after the later of its start and `noticed`."""
    return max(statement.time, noticed) + policy.delay


# ---------------------------------------------------------------- builders
def make_recovery_policy(
    signer: Signer | bytes,
    *,
    party: str,
    guardians: Iterable[Member],
    threshold: int,
    delay: int,
    counter: int,
    time: int,
) -> RecoveryPolicy:
    """A policy signed by `signer` (the party's current key); guardians are sorted by id."""
    s = as_signer(signer)
    gs = tuple(sorted(guardians, key=lambda g: g.id))
    body = RecoveryPolicy(party, s.public_key.hex(), gs, threshold, delay, counter, time, "")
    return RecoveryPolicy(party, body.key, gs, threshold, delay, counter, time, s.sign(body.signing_message).hex())


def make_recovery(
    new_signer: Signer | bytes,
    *,
    party: str,
    old_key: str,
    policy: RecoveryPolicy | str,
    counter: int,
    time: int,
) -> RecoveryStatement:
    """A recovery statement signed by the new device's key (`policy`: the policy or its hash)."""
    s = as_signer(new_signer)
    ph = policy if isinstance(policy, str) else policy.hash_hex
    body = RecoveryStatement(party, old_key, s.public_key.hex(), ph, counter, time, "")
    return RecoveryStatement(party, old_key, body.new_key, ph, counter, time, s.sign(body.signing_message).hex())


def approve_recovery(guardian_signer: Signer | bytes, guardian_id: str, statement: RecoveryStatement) -> Approval:
    """A guardian's approval of `statement` (the guardian checks it out of band first: spec §5.15)."""
    s = as_signer(guardian_signer)
    return Approval(guardian_id, s.sign(approval_message(guardian_id, statement.hash_hex)).hex())


def cancel_recovery(old_signer: Signer | bytes, statement: RecoveryStatement, *, time: int) -> RecoveryCancel:
    """The old key's cancel of `statement`."""
    s = as_signer(old_signer)
    body = RecoveryCancel(statement.party, s.public_key.hex(), statement.hash_hex, time, "")
    return RecoveryCancel(body.party, body.key, body.recovery, time, s.sign(body.signing_message).hex())
