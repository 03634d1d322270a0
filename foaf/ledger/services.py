"""Writes to the bilateral ledger. Every write goes through here, validated by the core first.

Write paths and what happens on crash, retry and duplicate delivery:
- ``entry_append``: one database transaction (the relationship row locked) inserts the entry and
  moves the head. A crash leaves the old head or the new one, never half. A retry or a duplicate
  delivery of an entry already stored is answered ``duplicate`` and changes nothing; a genesis
  delivered again with more member signatures adds them (``signatures_added``). Two processes
  racing to append at one sequence number: one wins, the other finds the winner and answers
  ``duplicate`` (same state) or records an equivocation (a different fully signed state).
- ``proposal_record``: idempotent by state hash; recording the same proposal twice keeps one row.
- ``proposal_accept`` / ``proposal_reject``: the proposal row is claimed with a conditional
  update (``status='open'``), so a duplicate answer or a race with expiry finds it closed and
  changes nothing; an accept appends the entry in the same transaction.
- ``proposals_expire``: one conditional UPDATE; running it twice expires nothing twice.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from foaf import bilateral as core
from foaf.bulk import insert_rows, insert_rows_with_ids
from foaf.ledger import keys
from foaf.ledger.models import EquivocationRecord, HeldKey, Party, PendingProposal, Relationship, StateEntry


class LedgerError(Exception):
    """A storage-level refusal with a stable code (the core's own errors pass through as they are)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


UNKNOWN_RELATIONSHIP = "UNKNOWN_RELATIONSHIP"
UNKNOWN_PROPOSAL = "UNKNOWN_PROPOSAL"
PROPOSAL_CLOSED = "PROPOSAL_CLOSED"
NO_HELD_KEY = "NO_HELD_KEY"


class Outcome(enum.StrEnum):
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    SIGNATURES_ADDED = "signatures_added"


@dataclass(frozen=True)
class AppendResult:
    relationship: Relationship
    outcome: Outcome


def unix_to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def datetime_to_unix(moment: datetime) -> int:
    return int(moment.timestamp())


# --- parties and held keys --------------------------------------------------------------------
def party_create_with_held_key(*, display_name: str = "") -> Party:
    """A new party whose key the service generates and holds (sealed) until the member claims it."""
    return parties_create_with_held_keys([display_name])[0]


def parties_create_with_held_keys(display_names: list[str]) -> list[Party]:
    """New parties, one per name, each with a fresh key held sealed by the service (one transaction)."""
    seeds = [keys.new_seed() for _ in display_names]
    public_keys = [keys.public_key_of(seed) for seed in seeds]
    kek = keys.kek_id()
    now = timezone.now()
    with transaction.atomic():
        # Plain rows (COPY on PostgreSQL), the ids read back by key: an import creates tens of
        # thousands at once, and model instances cost more than the database's own work.
        ids = insert_rows_with_ids(
            Party,
            ["party_id", "public_key", "display_name", "created_at"],
            [(pk, pk, name, now) for pk, name in zip(public_keys, display_names, strict=True)],
        )
        names = ["id", "party_id", "public_key", "display_name", "created_at"]
        parties = [
            Party.from_db(Party.objects.db, names, (i, pk, pk, name, now))  # as if loaded: they are stored
            for i, pk, name in zip(ids, public_keys, display_names, strict=True)
        ]
        insert_rows(
            HeldKey,
            ["party", "public_key", "sealed_seed", "kek_id", "created_at", "destroyed_at"],
            [
                (party.pk, pk, keys.seal(seed), kek, now, None)
                for party, pk, seed in zip(parties, public_keys, seeds, strict=True)
            ],
        )
    return parties


def party_signer(party: Party) -> core.SeedSigner:
    """The signer for the party's current key, when the service holds it."""
    return party_held_secrets(party).signer


def party_held_secrets(party: Party) -> keys.HeldSecrets:
    """The signer and mailbox key pair of the party's current key, when the service holds it."""
    held = HeldKey.objects.filter(party=party, public_key=party.public_key, destroyed_at__isnull=True).first()
    if held is None or held.sealed_seed is None:
        raise LedgerError(NO_HELD_KEY, f"the service holds no key of party {party.party_id[:16]}")
    return keys.unseal(bytes(held.sealed_seed), public_key=held.public_key, sealed_under=held.kek_id)


def held_key_destroy(held: HeldKey, *, now: datetime) -> bool:
    """Wipe a held seed (the member moved to a key of their own). Idempotent: False if already gone."""
    return bool(
        HeldKey.objects.filter(pk=held.pk, destroyed_at__isnull=True).update(sealed_seed=None, destroyed_at=now)
    )


def _party_for(member: core.Member) -> Party:
    party, _ = Party.objects.get_or_create(party_id=member.id, defaults={"public_key": member.key})
    return party


# --- reading logs ----------------------------------------------------------------------------
def entry_from_row(row: StateEntry) -> core.LogEntry:
    state = core.State.from_json(core.parse(row.canonical.encode("utf-8")))
    attest = core.model.Attestation(row.attest_key, row.attest_sig) if row.attest_key and row.attest_sig else None
    return core.LogEntry(state, row.sig_a, row.sig_b, attest)


def log_entries(relationship: Relationship) -> Iterator[core.LogEntry]:
    for row in relationship.entries.order_by("seq").iterator(chunk_size=500):
        yield entry_from_row(row)


def head_state(relationship: Relationship) -> core.State:
    row = StateEntry.objects.get(relationship=relationship, seq=relationship.head_seq)
    return entry_from_row(row).state


# --- appending -------------------------------------------------------------------------------
def _operator_keys(operator_keys: Iterable[str] | None) -> list[str]:
    return list(settings.OPERATOR_KEYS if operator_keys is None else operator_keys)


HEAD_FIELDS = ["head_seq", "head_hash", "balance", "limit_a_to_b", "limit_b_to_a", "status", "genesis_complete"]


def _head_fields(relationship: Relationship, state: core.State, *, genesis_complete: bool) -> None:
    """Mirror the newest state into the relationship's head fields (not saved)."""
    relationship.head_seq = state.seq
    relationship.head_hash = state.hash_hex
    relationship.balance = state.balance
    relationship.limit_a_to_b = state.limit_a_to_b
    relationship.limit_b_to_a = state.limit_b_to_a
    relationship.status = state.status
    relationship.genesis_complete = genesis_complete


def _move_head(relationship: Relationship, state: core.State, *, genesis_complete: bool) -> None:
    _head_fields(relationship, state, genesis_complete=genesis_complete)
    relationship.save()


def _row_for(relationship: Relationship, entry: core.LogEntry, prev: StateEntry | None) -> StateEntry:
    return StateEntry(
        relationship=relationship,
        seq=entry.state.seq,
        state_hash=entry.state.hash_hex,
        prev=prev,
        canonical=entry.state.canonical.decode("utf-8"),
        nonce=entry.state.update.nonce,
        sig_a=entry.sig_a,
        sig_b=entry.sig_b,
        attest_key=entry.attest.key if entry.attest else None,
        attest_sig=entry.attest.sig if entry.attest else None,
    )


@dataclass(frozen=True)
class _Fork:
    relationship: Relationship
    proof: core.EquivocationProof


def entry_append(entry: core.LogEntry, *, operator_keys: Iterable[str] | None = None) -> AppendResult:
    """Store a co-signed entry (or a genesis) after the core has verified it against the head.

    A valid, fully signed entry that conflicts with a stored one is kept as an equivocation proof
    (in its own transaction, so the refusal does not roll it back) and refused with CHAIN_FORK.
    """
    keys_ = _operator_keys(operator_keys)
    try:
        with transaction.atomic():
            decided = _entry_append(entry, keys_)
    except IntegrityError:
        # Another process appended at this sequence number first: decide against what it stored.
        with transaction.atomic():
            decided = _entry_append(entry, keys_)
    if isinstance(decided, _Fork):
        seq = decided.proof.first.state.seq
        EquivocationRecord.objects.get_or_create(
            relationship=decided.relationship, seq=seq, defaults={"proof": decided.proof.encode().decode("utf-8")}
        )
        raise core.RemoteProtocolError(core.ErrorCode.CHAIN_FORK, f"two signed states at {seq}", data=decided.proof)
    return decided


def _entry_append(entry: core.LogEntry, operator_keys: list[str]) -> AppendResult | _Fork:
    state = entry.state
    relationship = Relationship.objects.select_for_update().filter(channel_id=state.channel).first()
    if state.seq == 0:
        return _genesis_append(relationship, entry, operator_keys)
    if relationship is None:
        raise LedgerError(UNKNOWN_RELATIONSHIP, f"no relationship {state.channel[:16]}")
    if state.seq <= relationship.head_seq:
        return _already_there(relationship, entry)
    if state.seq > relationship.head_seq + 1:
        raise core.RemoteProtocolError(
            core.ErrorCode.RESYNC_NEEDED, f"entry {state.seq} but head is {relationship.head_seq}"
        )
    prev_row = StateEntry.objects.get(relationship=relationship, seq=relationship.head_seq)
    prev_state = entry_from_row(prev_row).state
    imported = isinstance(state.update.op, core.ImportSync)
    if not imported and not relationship.genesis_complete:
        # A member update may follow the imported prefix only once both members signed its tip.
        raise core.RemoteProtocolError(core.ErrorCode.GENESIS_NOT_COUNTERSIGNED)
    core.log.verify_next(prev_state, entry, operator_keys)
    _row_for(relationship, entry, prev_row).save(force_insert=True)
    for member in (state.a, state.b):
        Party.objects.filter(party_id=member.id).exclude(public_key=member.key).update(public_key=member.key)
    _move_head(relationship, state, genesis_complete=entry.complete)
    return AppendResult(relationship, Outcome.APPENDED)


def _genesis_append(
    relationship: Relationship | None, entry: core.LogEntry, operator_keys: list[str]
) -> AppendResult | _Fork:
    core.log.verify_genesis(entry, operator_keys)
    state = entry.state
    if relationship is not None:
        return _already_there(relationship, entry)
    relationship = Relationship(
        channel_id=state.channel,
        party_a=_party_for(state.a),
        party_b=_party_for(state.b),
        currency=state.currency,
    )
    _move_head(relationship, state, genesis_complete=entry.complete)
    _row_for(relationship, entry, None).save(force_insert=True)
    return AppendResult(relationship, Outcome.APPENDED)


def _already_there(relationship: Relationship, entry: core.LogEntry) -> AppendResult | _Fork:
    """An entry at a sequence number we already hold: a duplicate, more genesis signatures, or a fork."""
    row = StateEntry.objects.get(relationship=relationship, seq=entry.state.seq)
    if row.state_hash == entry.state.hash_hex:
        if row.sig_a is not None and row.sig_b is not None:
            return AppendResult(relationship, Outcome.DUPLICATE)
        return _member_signatures_add(relationship, row, entry)
    stored = entry_from_row(row)
    if entry.complete and stored.complete:
        proof = core.EquivocationProof(stored, entry)
        core.verify_equivocation_proof(proof)  # both fully signed and valid: a real fork
        return _Fork(relationship, proof)
    # Not both fully signed: it cannot stand against what is already decided at this seq.
    raise core.RemoteProtocolError(core.ErrorCode.MISSING_SIGNATURE, f"seq {entry.state.seq} is already decided")


def _member_signatures_add(relationship: Relationship, row: StateEntry, entry: core.LogEntry) -> AppendResult:
    """A member countersigns a state of the imported prefix (a genesis, or an ``import_sync`` state)."""
    added = {}
    for side, sig in (("a", entry.sig_a), ("b", entry.sig_b)):
        if sig is not None and getattr(row, f"sig_{side}") is None:
            core.verify(bytes.fromhex(entry.state.member(side).key), entry.state.signing_message, bytes.fromhex(sig))
            added[f"sig_{side}"] = sig
    if not added:
        return AppendResult(relationship, Outcome.DUPLICATE)
    StateEntry.objects.filter(pk=row.pk).update(**added)
    complete = all(added.get(f"sig_{s}") or getattr(row, f"sig_{s}") for s in ("a", "b"))
    if complete and row.seq == relationship.head_seq and not relationship.genesis_complete:
        relationship.genesis_complete = True
        relationship.save(update_fields=["genesis_complete", "updated_at"])
    return AppendResult(relationship, Outcome.SIGNATURES_ADDED)


# --- proposals -------------------------------------------------------------------------------
def proposal_record(proposal: core.Proposal) -> PendingProposal:
    """Keep a proposal that is valid on the current head until it is answered or expires."""
    state = proposal.state
    existing = PendingProposal.objects.filter(state_hash=state.hash_hex).first()
    if existing is not None:
        return existing
    relationship = Relationship.objects.filter(channel_id=state.channel).first()
    if relationship is None:
        raise LedgerError(UNKNOWN_RELATIONSHIP, f"no relationship {state.channel[:16]}")
    head = head_state(relationship)
    if state.seq != head.seq + 1 or state.prev != head.hash_hex:
        raise core.RemoteProtocolError(core.ErrorCode.CHAIN_BROKEN, f"proposal {state.seq} on head {head.seq}")
    if core.apply_op(head, state.update) != state:
        raise core.RemoteProtocolError(core.ErrorCode.STATE_MISMATCH)
    proposer = state.update.proposer
    core.verify(bytes.fromhex(state.member(proposer).key), state.signing_message, bytes.fromhex(proposal.sig))
    try:
        with transaction.atomic():
            return PendingProposal.objects.create(
                relationship=relationship,
                seq=state.seq,
                state_hash=state.hash_hex,
                proposer=proposer,
                canonical=state.canonical.decode("utf-8"),
                proposer_sig=proposal.sig,
                deadline=unix_to_datetime(state.update.deadline),
            )
    except IntegrityError:
        return PendingProposal.objects.get(state_hash=state.hash_hex)


def proposal_of(row: PendingProposal) -> core.Proposal:
    return core.Proposal(core.State.from_json(core.parse(row.canonical.encode("utf-8"))), row.proposer_sig)


def proposal_accept(row: PendingProposal, countersignature: str, *, now: datetime) -> AppendResult:
    """Complete a proposal with the counterparty's signature and append it to the log."""
    proposal = proposal_of(row)
    state = proposal.state
    if now >= unix_to_datetime(state.update.deadline):
        raise core.LocalProtocolError(core.ErrorCode.DEADLINE_PASSED, "the proposal's deadline has passed")
    proposer = state.update.proposer
    sig_a, sig_b = (proposal.sig, countersignature) if proposer == "a" else (countersignature, proposal.sig)
    with transaction.atomic():
        claimed = PendingProposal.objects.filter(pk=row.pk, status=PendingProposal.Status.OPEN).update(
            status=PendingProposal.Status.ACCEPTED, resolved_at=now
        )
        result = entry_append(core.LogEntry(state, sig_a, sig_b))
        if not claimed and result.outcome is not Outcome.DUPLICATE:
            raise LedgerError(PROPOSAL_CLOSED, f"proposal is {row.status}")
        PendingProposal.objects.filter(
            relationship=row.relationship_id, seq=state.seq, status=PendingProposal.Status.OPEN
        ).update(status=PendingProposal.Status.SUPERSEDED, resolved_at=now)
    return result


def proposal_reject(row: PendingProposal, reject: core.Reject, *, now: datetime) -> bool:
    """Record a signed refusal. False when the proposal was already closed (a duplicate answer)."""
    state = proposal_of(row).state
    if reject.state_hash != state.hash_hex or reject.channel != state.channel or reject.seq != state.seq:
        raise core.RemoteProtocolError(core.ErrorCode.UNKNOWN_PROPOSAL, "the reject names another proposal")
    if reject.rejector == state.update.proposer:
        raise core.RemoteProtocolError(core.ErrorCode.WRONG_SIGNER, "a proposer does not reject its own proposal")
    core.verify(bytes.fromhex(state.member(reject.rejector).key), reject.signing_message, bytes.fromhex(reject.sig))
    return bool(
        PendingProposal.objects.filter(pk=row.pk, status=PendingProposal.Status.OPEN).update(
            status=PendingProposal.Status.REJECTED,
            resolved_at=now,
            reject_reason=reject.reason,
            reject_message=reject.encode().decode("utf-8"),
        )
    )


def proposals_expire(*, now: datetime) -> int:
    """Void every open proposal whose deadline has passed. Idempotent; returns how many it voided."""
    return PendingProposal.objects.filter(status=PendingProposal.Status.OPEN, deadline__lte=now).update(
        status=PendingProposal.Status.EXPIRED, resolved_at=now
    )


# --- custodial updates: both members' keys held by the service --------------------------------
def relationship_open_custodial(
    party_a: Party, party_b: Party, *, limit_a_to_b: int, limit_b_to_a: int, currency: str, now: int
) -> Relationship:
    """Open a fresh relationship between two parties whose keys the service holds.

    Used for demo and test communities, and by the legacy API while members have not yet moved to
    keys of their own: each signature is made with that member's own held key, on that member's
    authenticated request. Idempotent for the same two parties and ``now`` (the nonce is derived).
    """
    signer_a, signer_b = party_signer(party_a), party_signer(party_b)
    nonce = hashlib.sha256(f"{party_a.party_id}:{party_b.party_id}:{now}".encode()).hexdigest()[:32]
    genesis = core.make_genesis(
        a=core.Member(party_a.party_id, party_a.public_key),
        b=core.Member(party_b.party_id, party_b.public_key),
        currency=currency,
        limit_a_to_b=limit_a_to_b,
        limit_b_to_a=limit_b_to_a,
        proposer="a",
        created=now,
        deadline=now + settings.PROPOSAL_TTL_SECONDS,
        nonce=nonce,
    )
    entry = core.LogEntry(genesis, core.sign_state(genesis, signer_a), core.sign_state(genesis, signer_b))
    return entry_append(entry).relationship


def update_custodial(
    relationship: Relationship, op: core.model.Op, *, proposer: str, now: int, nonce: str
) -> AppendResult:
    """Apply one update to a relationship whose two members' keys the service holds, co-signed by both.

    The core computes the next state from the stored head (its guards apply: limits, status,
    holds); each held key signs; the entry is appended as any other. The nonce is the caller's
    idempotency key: a retry (after a crash, or a duplicate delivery of the request) with the same
    nonce, proposer and op finds the entry it made and is answered ``duplicate``, even when the
    head has moved on since.
    """
    with transaction.atomic():
        # Lock and re-read: the head in the caller's object may be stale; a second writer waits here.
        relationship = (
            Relationship.objects.select_for_update().select_related("party_a", "party_b").get(pk=relationship.pk)
        )
        for row in StateEntry.objects.filter(relationship=relationship, nonce=nonce):
            done = entry_from_row(row).state.update
            if done.proposer == proposer and done.op == op:
                return AppendResult(relationship, Outcome.DUPLICATE)
        head = head_state(relationship)
        state = core.apply_op(head, core.Update(proposer, op, now, now + settings.PROPOSAL_TTL_SECONDS, nonce))
        sig_a = core.sign_state(state, party_signer(relationship.party_a))
        sig_b = core.sign_state(state, party_signer(relationship.party_b))
        return entry_append(core.LogEntry(state, sig_a, sig_b))


# --- many imported states at once ---------------------------------------------------------------
def imported_states_append(
    entries: list[core.LogEntry],
    *,
    operator_keys: Iterable[str] | None = None,
    party_pks: Mapping[str, int] | None = None,
    attested_here: bool = False,
) -> dict[str, int]:
    """Append operator-attested import states (genesis or ``import_sync``) of many relationships.

    ``attested_here``: the caller built these states with the core and attested them a moment
    ago with the operator key it holds (the importer). A fresh genesis then gets every check but
    the attestation's signature, which was made over these very bytes in this process: verifying
    it again was a tenth of the import's CPU. ``check_ledger`` re-verifies every stored signature.

    The import's fast path: every entry is verified by the core as ``entry_append`` verifies it,
    and the batch is written in one transaction with one statement per table. An entry that is not
    simply the first or the next state of its relationship (already stored, the head moved, two
    entries of one relationship in the batch) goes through ``entry_append``, which decides
    duplicates and forks. Crash, retry and duplicate delivery behave as in ``entry_append``.

    ``party_pks`` (party id -> primary key), when the caller has them, saves looking the parties
    up. Returns the primary keys of the relationships created, by channel id.
    """
    keys_ = _operator_keys(operator_keys)
    with transaction.atomic():
        channels = [e.state.channel for e in entries]
        known = {r.channel_id: r for r in Relationship.objects.select_for_update().filter(channel_id__in=channels)}
        seen: set[str] = set()
        slow: list[core.LogEntry] = []
        fresh: list[core.LogEntry] = []
        following: list[tuple[Relationship, core.LogEntry]] = []
        for entry in entries:
            channel, seq = entry.state.channel, entry.state.seq
            relationship = known.get(channel)
            if channel in seen:
                slow.append(entry)
            elif seq == 0 and relationship is None:
                fresh.append(entry)
            elif relationship is not None and seq == relationship.head_seq + 1 and entry.attest is not None:
                following.append((relationship, entry))
            else:
                slow.append(entry)
            seen.add(channel)
        created = _fresh_imports_write(fresh, keys_, party_pks or {}, attested_here=attested_here)
        _following_imports_write(following, keys_)
    for entry in slow:
        entry_append(entry, operator_keys=keys_)
    return created


# Threads that verify a big batch of imported entries. libsodium's verify releases the GIL, so
# one thread checks signatures while the other runs the Python checks: the import's relationships
# phase otherwise leaves the second core idle.
_VERIFY_THREADS = 2
_VERIFY_MIN_ENTRIES = 64  # below this, handing the work over costs more than it saves


@functools.cache
def _verify_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_VERIFY_THREADS, thread_name_prefix="verify")


def _verify_in_parallel(entries: list[core.LogEntry], verify: Callable[[core.LogEntry], None]) -> None:
    """``verify`` every entry (pure checks, no database), raising the error of the first entry that
    fails, as a loop in order would: every entry is verified before anything is written."""
    if len(entries) < _VERIFY_MIN_ENTRIES:
        for entry in entries:
            verify(entry)
        return

    def verify_part(part: list[core.LogEntry]) -> None:
        for entry in part:
            verify(entry)

    size = -(-len(entries) // _VERIFY_THREADS)
    parts = [_verify_pool().submit(verify_part, entries[i : i + size]) for i in range(0, len(entries), size)]
    for part in parts:  # in order: an error of an earlier part wins
        part.result()


def _fresh_imports_write(
    entries: list[core.LogEntry], operator_keys: list[str], party_pks: Mapping[str, int], *, attested_here: bool
) -> dict[str, int]:
    if not entries:
        return {}
    if attested_here:
        keyset = frozenset(operator_keys)
        for entry in entries:
            _check_attested_here(entry, keyset)
    else:
        _verify_in_parallel(entries, lambda entry: core.log.verify_genesis(entry, operator_keys))
    ids = {m.id for e in entries for m in (e.state.a, e.state.b)}
    parties = {i: party_pks[i] for i in ids if i in party_pks}
    if len(parties) < len(ids):
        parties.update(Party.objects.filter(party_id__in=ids - parties.keys()).values_list("party_id", "pk"))
    for entry in entries:
        for member in (entry.state.a, entry.state.b):
            if member.id not in parties:
                parties[member.id] = _party_for(member).pk
    # Written as plain rows (COPY on PostgreSQL): an import appends tens of thousands of logs, and
    # building model instances cost more than the database's own work. The values are those
    # `Relationship(...)` + `_head_fields` + `_row_for` would save.
    now = timezone.now()
    pks = insert_rows_with_ids(
        Relationship,
        ["channel_id", "party_a", "party_b", "currency", *HEAD_FIELDS, "created_at", "updated_at"],
        [
            (
                e.state.channel, parties[e.state.a.id], parties[e.state.b.id], e.state.currency, e.state.seq,
                e.state.hash_hex, e.state.balance, e.state.limit_a_to_b, e.state.limit_b_to_a, e.state.status,
                e.complete, now, now,
            )
            for e in entries
        ],
    )  # fmt: skip
    insert_rows(
        StateEntry,
        ["relationship", "seq", "state_hash", "prev", "canonical", "nonce", "sig_a", "sig_b", "attest_key",
         "attest_sig", "recorded_at"],
        [
            (
                pk, e.state.seq, e.state.hash_hex, None, e.state.canonical.decode("utf-8"),
                e.state.update.nonce, e.sig_a, e.sig_b, e.attest.key if e.attest else None,
                e.attest.sig if e.attest else None, now,
            )
            for e, pk in zip(entries, pks, strict=True)
        ],
    )  # fmt: skip
    return {e.state.channel: pk for e, pk in zip(entries, pks, strict=True)}


def _check_attested_here(entry: core.LogEntry, operator_keys: frozenset[str]) -> None:
    """``verify_genesis`` of an imported genesis attested in this process, but for re-verifying
    the attestation's signature: the genesis rules, an attestation by a configured operator key,
    and no member signature (an import never claims one)."""
    core.rules.check_genesis(entry.state)
    if not isinstance(entry.state.update.op, core.Import):
        raise core.LocalProtocolError(core.ErrorCode.BAD_GENESIS, "only imported geneses are attested here")
    if entry.attest is None:
        raise core.LocalProtocolError(core.ErrorCode.MISSING_ATTESTATION, f"seq {entry.state.seq}")
    if entry.attest.key not in operator_keys:
        raise core.LocalProtocolError(core.ErrorCode.UNKNOWN_OPERATOR, entry.attest.key)
    if entry.sig_a is not None or entry.sig_b is not None:
        raise core.LocalProtocolError(core.ErrorCode.BAD_GENESIS, "an import never carries a member signature")


def _following_imports_write(pairs: list[tuple[Relationship, core.LogEntry]], operator_keys: list[str]) -> None:
    if not pairs:
        return
    heads = StateEntry.objects.in_bulk([r.head_hash for r, _ in pairs], field_name="state_hash")
    rows = []
    for relationship, entry in pairs:
        prev_row = heads[relationship.head_hash]
        core.log.verify_next(entry_from_row(prev_row).state, entry, operator_keys)
        rows.append(_row_for(relationship, entry, prev_row))
        _head_fields(relationship, entry.state, genesis_complete=entry.complete)
    StateEntry.objects.bulk_create(rows)
    for relationship, _ in pairs:
        relationship.save(update_fields=[*HEAD_FIELDS, "updated_at"])


# --- moving a member to a key of their own (foaf.custody) ----------------------------------------
def held_key_live(public_key: str) -> HeldKey | None:
    """The held key row for ``public_key`` while its seed is still kept, else None. A claim signs
    with the key a state names for the member, which is not always ``Party.public_key``: that moves
    to the new key as soon as one relationship has rotated."""
    return HeldKey.objects.filter(public_key=public_key, destroyed_at__isnull=True).first()


def held_key_secrets(held: HeldKey) -> keys.HeldSecrets:
    """The signer and mailbox key pair of a live held key (``held_key_live``)."""
    if held.sealed_seed is None:
        raise LedgerError(NO_HELD_KEY, f"held key {held.public_key[:16]} is destroyed")
    return keys.unseal(bytes(held.sealed_seed), public_key=held.public_key, sealed_under=held.kek_id)


def party_key_rotate(party: Party, statement: core.KeyRotation) -> None:
    """Record a party's new current key from a rotation statement both keys signed (checked here).
    ``entry_append`` does the same when a rotation state is stored; this covers a party with no
    relationship to store one in. Idempotent: a party already on ``new_key`` is left alone."""
    if party.public_key == statement.new_key:
        return
    if statement.party != party.party_id or statement.old_key != party.public_key:
        raise core.RemoteProtocolError(core.ErrorCode.BAD_KEY_ROTATION, "the statement is not of this party's key")
    core.rules.check_rotation(statement)
    Party.objects.filter(pk=party.pk, public_key=statement.old_key).update(public_key=statement.new_key)
    party.public_key = statement.new_key
