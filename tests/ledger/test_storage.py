"""Storing bilateral logs: only what the core accepts, atomically, append-only, one chain per relationship."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, connections, transaction

from foaf import bilateral as core
from foaf.ledger import services
from foaf.ledger.models import EquivocationRecord, Relationship, StateEntry
from foaf.ledger.services import Outcome, entry_append
from tests.ledger.builders import ALICE, BOB, OPERATOR, OPERATOR_KEY, T0, fresh_channel, imported_genesis

pytestmark = pytest.mark.django_db


def store(entries: list[core.LogEntry]) -> Relationship:
    result = None
    for entry in entries:
        result = entry_append(entry, operator_keys=[OPERATOR_KEY])
        assert result.outcome is Outcome.APPENDED
    assert result is not None
    return result.relationship


def test_a_log_is_stored_and_its_head_mirrors_the_newest_state() -> None:
    channel = fresh_channel()
    channel.pay("a", 700)
    channel.pay("b", 200)
    relationship = store(channel.entries)
    relationship.refresh_from_db()
    assert relationship.head_seq == 2
    assert relationship.balance == 500
    assert relationship.head_hash == channel.entries[-1].state.hash_hex
    assert relationship.genesis_complete
    assert [e.state for e in services.log_entries(relationship)] == [e.state for e in channel.entries]


def test_stored_bytes_are_exactly_the_signed_canonical_bytes() -> None:
    channel = fresh_channel()
    channel.pay("a", 1)
    store(channel.entries)
    row = StateEntry.objects.get(seq=1)
    assert row.canonical.encode() == channel.entries[1].state.canonical


def test_a_duplicate_delivery_changes_nothing() -> None:
    channel = fresh_channel()
    channel.pay("a", 100)
    store(channel.entries)
    again = entry_append(channel.entries[1])
    assert again.outcome is Outcome.DUPLICATE
    assert StateEntry.objects.count() == 2


def test_an_entry_ahead_of_the_head_asks_for_a_resync() -> None:
    channel = fresh_channel()
    channel.pay("a", 100)
    channel.pay("a", 100)
    store(channel.entries[:1])
    with pytest.raises(core.RemoteProtocolError) as caught:
        entry_append(channel.entries[2])
    assert caught.value.code is core.ErrorCode.RESYNC_NEEDED
    assert StateEntry.objects.count() == 1


def test_an_entry_with_a_bad_signature_is_refused_and_nothing_is_stored() -> None:
    channel = fresh_channel()
    good = channel.pay("a", 100)
    store(channel.entries[:1])
    forged = core.LogEntry(good.state, good.sig_a, good.sig_a)
    with pytest.raises(core.RemoteProtocolError) as caught:
        entry_append(forged)
    assert caught.value.code is core.ErrorCode.BAD_SIGNATURE
    assert StateEntry.objects.count() == 1
    assert Relationship.objects.get().head_seq == 0


def test_an_entry_for_an_unknown_relationship_is_refused() -> None:
    channel = fresh_channel()
    channel.pay("a", 100)
    with pytest.raises(services.LedgerError) as caught:
        entry_append(channel.entries[1])
    assert caught.value.code == services.UNKNOWN_RELATIONSHIP


def forked_pair() -> tuple[core.LogEntry, core.LogEntry, list[core.LogEntry]]:
    """Two different fully signed states at seq 1: both parties restored a stale copy and signed twice."""
    channel = fresh_channel()
    first = channel.pay("a", 100)
    alice = core.Party(ALICE, channel.entries[:1])
    bob = core.Party(BOB, channel.entries[:1])
    data = alice.propose(core.Payment("a", 999, "again"), now=T0 + 90, deadline=T0 + 700, nonce="77" * 16)
    bob.receive(data, now=T0 + 90)
    alice.receive(bob.accept(now=T0 + 90), now=T0 + 90)
    assert alice.head is not None
    return first, alice.head, channel.entries


def test_a_second_signed_state_at_one_seq_is_kept_as_a_fraud_proof_and_refused() -> None:
    first, second, entries = forked_pair()
    store(entries)
    with pytest.raises(core.RemoteProtocolError) as caught:
        entry_append(second)
    assert caught.value.code is core.ErrorCode.CHAIN_FORK
    record = EquivocationRecord.objects.get()
    report = core.verify_equivocation_proof(record.proof.encode())
    assert report.seq == 1
    assert set(report.keys) == {ALICE.public_key.hex(), BOB.public_key.hex()}
    assert StateEntry.objects.get(seq=1).state_hash == first.state.hash_hex


def test_an_imported_genesis_waits_for_both_members_before_the_log_goes_on() -> None:
    attested = imported_genesis()
    result = entry_append(attested, operator_keys=[OPERATOR_KEY])
    assert result.relationship.genesis_complete is False
    assert result.relationship.balance == 1234
    alice_signed = core.countersign(attested, ALICE)
    assert entry_append(alice_signed, operator_keys=[OPERATOR_KEY]).outcome is Outcome.SIGNATURES_ADDED
    both = core.countersign(alice_signed, BOB)
    assert entry_append(both, operator_keys=[OPERATOR_KEY]).outcome is Outcome.SIGNATURES_ADDED
    assert entry_append(both, operator_keys=[OPERATOR_KEY]).outcome is Outcome.DUPLICATE
    row = StateEntry.objects.get(seq=0)
    assert row.sig_a == both.sig_a and row.sig_b == both.sig_b
    assert Relationship.objects.get().genesis_complete is True


def test_an_imported_genesis_from_an_unknown_operator_is_refused() -> None:
    with pytest.raises(core.RemoteProtocolError) as caught:
        entry_append(imported_genesis(), operator_keys=["00" * 32])
    assert caught.value.code is core.ErrorCode.UNKNOWN_OPERATOR
    assert not Relationship.objects.exists()


def test_a_crash_in_the_middle_of_an_append_leaves_the_old_head(monkeypatch: pytest.MonkeyPatch) -> None:
    channel = fresh_channel()
    channel.pay("a", 300)
    store(channel.entries[:1])

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut after the insert, before the head moved")

    monkeypatch.setattr(services, "_move_head", crash)
    with pytest.raises(RuntimeError):
        entry_append(channel.entries[1])
    monkeypatch.undo()
    assert StateEntry.objects.count() == 1
    assert Relationship.objects.get().head_seq == 0
    assert entry_append(channel.entries[1]).outcome is Outcome.APPENDED  # the retry goes through


# --- what the database itself refuses --------------------------------------------------------
def raw_copy(row: StateEntry, **changes: object) -> StateEntry:
    fields = {f.attname: getattr(row, f.attname) for f in StateEntry._meta.concrete_fields if f.attname != "id"}
    fields.update(changes)
    return StateEntry(**fields)


def test_the_database_refuses_a_second_entry_at_one_seq() -> None:
    channel = fresh_channel()
    channel.pay("a", 1)
    store(channel.entries)
    row = StateEntry.objects.get(seq=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_copy(row, state_hash="ff" * 32, prev_id=None, seq=1).save(force_insert=True)


def test_the_database_refuses_a_fork_on_one_predecessor() -> None:
    channel = fresh_channel()
    channel.pay("a", 1)
    store(channel.entries)
    row = StateEntry.objects.get(seq=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_copy(row, state_hash="ff" * 32, seq=2).save(force_insert=True)


def test_the_database_refuses_a_link_that_skips_a_seq() -> None:
    channel = fresh_channel()
    channel.pay("a", 1)
    store(channel.entries)
    tip = StateEntry.objects.get(seq=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_copy(tip, state_hash="ff" * 32, seq=5, prev_id=tip.state_hash).save(force_insert=True)


def test_the_database_refuses_a_link_into_another_relationship() -> None:
    first = fresh_channel()
    store(first.entries)
    from tests.ledger.builders import CAROL

    other = fresh_channel(a=CAROL)
    other_relationship = store(other.entries)
    foreign_tip = StateEntry.objects.get(relationship__channel_id=first.entries[0].state.channel, seq=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_copy(
            foreign_tip,
            relationship_id=other_relationship.pk,
            state_hash="ff" * 32,
            seq=1,
            prev_id=foreign_tip.state_hash,
        ).save(force_insert=True)


def test_the_database_refuses_to_edit_a_stored_entry() -> None:
    channel = fresh_channel()
    channel.pay("a", 1)
    store(channel.entries)
    with pytest.raises(IntegrityError), transaction.atomic():
        StateEntry.objects.filter(seq=1).update(canonical="{}")
    with pytest.raises(IntegrityError), transaction.atomic():
        StateEntry.objects.filter(seq=1).update(sig_a="00" * 64)


def test_the_database_refuses_to_delete_a_stored_entry_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the delete guard is PostgreSQL's (SQLite's test flush deletes rows)")
    store(fresh_channel().entries)
    with pytest.raises(IntegrityError), transaction.atomic():
        StateEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_two_writers_racing_at_one_seq_leave_one_state_and_a_fraud_proof() -> None:
    first, second, entries = forked_pair()
    store(entries[:1])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def writer(entry: core.LogEntry) -> None:
        try:
            barrier.wait()
            outcomes.append(entry_append(entry).outcome.value)
        except core.ProtocolError as exc:
            outcomes.append(exc.code.value)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(e,)) for e in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["CHAIN_FORK", "appended"]
    assert StateEntry.objects.filter(seq=1).count() == 1
    assert EquivocationRecord.objects.count() == 1


# --- check_ledger ------------------------------------------------------------------------------
def test_check_ledger_passes_on_good_logs(settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.OPERATOR_KEYS = [OPERATOR_KEY]
    channel = fresh_channel()
    channel.pay("a", 10)
    store(channel.entries)
    entry_append(imported_genesis(), operator_keys=[OPERATOR_KEY])
    call_command("check_ledger")
    assert "2 relationships checked, 0 with problems" in capsys.readouterr().out


def test_check_ledger_reports_a_head_that_disagrees_with_the_log(settings, capsys) -> None:  # type: ignore[no-untyped-def]
    channel = fresh_channel()
    channel.pay("a", 10)
    relationship = store(channel.entries)
    Relationship.objects.filter(pk=relationship.pk).update(balance=999_999)
    with pytest.raises(CommandError):
        call_command("check_ledger")
    assert "balance is 999999 but the log says 10" in capsys.readouterr().out


def test_check_ledger_reports_an_attestation_by_a_key_no_longer_trusted(settings, capsys) -> None:  # type: ignore[no-untyped-def]
    entry_append(imported_genesis(), operator_keys=[OPERATOR_KEY])
    settings.OPERATOR_KEYS = []
    with pytest.raises(CommandError):
        call_command("check_ledger")
    assert "UNKNOWN_OPERATOR" in capsys.readouterr().out


# --- proposals ---------------------------------------------------------------------------------
def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_an_accepted_proposal_becomes_the_next_entry_and_a_repeat_accept_changes_nothing() -> None:
    channel = fresh_channel()
    store(channel.entries)
    proposal = channel.propose("a", 250)
    row = services.proposal_record(proposal)
    assert services.proposal_record(proposal).pk == row.pk  # recorded once
    countersig = core.sign_state(proposal.state, BOB)
    result = services.proposal_accept(row, countersig, now=at(T0 + 61))
    assert result.outcome is Outcome.APPENDED
    row.refresh_from_db()
    assert row.status == "accepted"
    assert services.proposal_accept(row, countersig, now=at(T0 + 62)).outcome is Outcome.DUPLICATE
    assert Relationship.objects.get().balance == 250


def test_a_proposal_that_breaks_the_rules_is_not_recorded() -> None:
    channel = fresh_channel(limit=100)
    store(channel.entries)
    proposal = channel.propose("a", 50)
    tampered = core.Proposal(proposal.state, core.sign_state(proposal.state, BOB))  # signed by the wrong side
    with pytest.raises(core.RemoteProtocolError) as caught:
        services.proposal_record(tampered)
    assert caught.value.code is core.ErrorCode.BAD_SIGNATURE


def test_a_signed_reject_closes_a_proposal_once() -> None:
    channel = fresh_channel()
    store(channel.entries)
    proposal = channel.propose("a", 250)
    row = services.proposal_record(proposal)
    channel.bob.receive(proposal.encode(), now=T0 + 61)
    reject = core.decode(channel.bob.reject("DECLINED", now=T0 + 61))
    assert isinstance(reject, core.Reject)
    assert services.proposal_reject(row, reject, now=at(T0 + 61)) is True
    assert services.proposal_reject(row, reject, now=at(T0 + 62)) is False
    row.refresh_from_db()
    assert (row.status, row.reject_reason) == ("rejected", "DECLINED")
    assert Relationship.objects.get().head_seq == 0


def test_a_countersignature_after_the_deadline_is_refused() -> None:
    channel = fresh_channel()
    store(channel.entries)
    proposal = channel.propose("a", 250, ttl=30)
    row = services.proposal_record(proposal)
    with pytest.raises(core.LocalProtocolError) as caught:
        services.proposal_accept(row, core.sign_state(proposal.state, BOB), now=at(T0 + 60 + 31))
    assert caught.value.code is core.ErrorCode.DEADLINE_PASSED


def test_expiry_voids_orphaned_proposals_once() -> None:
    channel = fresh_channel()
    store(channel.entries)
    row = services.proposal_record(channel.propose("a", 250, ttl=30))
    assert services.proposals_expire(now=at(T0 + 60 + 29)) == 0
    assert services.proposals_expire(now=at(T0 + 60 + 30)) == 1
    assert services.proposals_expire(now=at(T0 + 60 + 31)) == 0
    row.refresh_from_db()
    assert row.status == "expired"
    with pytest.raises(services.LedgerError):
        services.proposal_accept(row, core.sign_state(services.proposal_of(row).state, BOB), now=at(T0 + 61))


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_expires_orphaned_proposals_and_a_second_run_finds_nothing(celery_worker) -> None:  # type: ignore[no-untyped-def]
    from foaf.ledger.tasks import expire_orphaned_proposals

    channel = fresh_channel()
    store(channel.entries)
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    proposal = channel.propose("a", 250, now=past - 600, ttl=60)
    row = services.proposal_record(proposal)
    assert expire_orphaned_proposals.delay().get(timeout=60) == 1
    assert expire_orphaned_proposals.delay().get(timeout=60) == 0
    row.refresh_from_db()
    assert row.status == "expired"


def _imported_batch(count: int, *, foreign_at: tuple[int, ...] = ()) -> list[core.LogEntry]:
    """``count`` imported geneses of distinct relationships; those at ``foreign_at`` attested by a
    key that is not the operator's."""
    stranger = core.SeedSigner(bytes([0x44]) * 32)
    return [
        imported_genesis(i, legacy_id=i + 1, nonce=f"{i:032x}", attester=stranger if i in foreign_at else OPERATOR)
        for i in range(count)
    ]


def test_a_big_batch_of_imported_geneses_is_verified_whole_before_anything_is_written() -> None:
    # Big enough that the batch is verified by the thread pool, in parts: a bad entry in a later
    # part refuses the batch, and nothing of it is written, as with one in the first part.
    count = 3 * services._VERIFY_MIN_ENTRIES
    for foreign in ((count - 1,), (5, count - 1)):
        with pytest.raises(core.RemoteProtocolError) as caught:
            services.imported_states_append(_imported_batch(count, foreign_at=foreign), operator_keys=[OPERATOR_KEY])
        assert caught.value.code is core.ErrorCode.UNKNOWN_OPERATOR
        assert not Relationship.objects.exists()
    created = services.imported_states_append(_imported_batch(count), operator_keys=[OPERATOR_KEY])
    assert len(created) == count
    assert StateEntry.objects.count() == count


def test_imports_attested_here_get_every_check_but_the_signature_already_made() -> None:
    # An attestation by a key that is not the operator's, a genesis that is not an import, or a
    # member signature on an import is refused, and nothing of the batch is written.
    with pytest.raises(core.LocalProtocolError) as caught:
        services.imported_states_append(
            _imported_batch(3, foreign_at=(2,)), operator_keys=[OPERATOR_KEY], attested_here=True
        )
    assert caught.value.code is core.ErrorCode.UNKNOWN_OPERATOR
    fresh = fresh_channel().entries[0]
    with pytest.raises(core.LocalProtocolError) as caught:
        services.imported_states_append([fresh], operator_keys=[OPERATOR_KEY], attested_here=True)
    assert caught.value.code is core.ErrorCode.BAD_GENESIS
    signed = _imported_batch(1)[0]
    claimed = core.LogEntry(signed.state, core.sign_state(signed.state, ALICE), None, signed.attest)
    with pytest.raises(core.LocalProtocolError) as caught:
        services.imported_states_append([claimed], operator_keys=[OPERATOR_KEY], attested_here=True)
    assert caught.value.code is core.ErrorCode.BAD_GENESIS
    assert not Relationship.objects.exists()
    created = services.imported_states_append(_imported_batch(4), operator_keys=[OPERATOR_KEY], attested_here=True)
    assert len(created) == 4
    for relationship in Relationship.objects.all():  # every stored signature verifies all the same
        core.verify_log(list(services.log_entries(relationship)), [OPERATOR_KEY])
