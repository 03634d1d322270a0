"""Two in-memory peers run the protocol end to end: no mocks, just bytes between two cores."""

from __future__ import annotations

import pytest

from foaf.bilateral import (
    Entries,
    ErrorCode,
    Import,
    LocalProtocolError,
    MState,
    Party,
    Payment,
    RemoteProtocolError,
    SetLimit,
    StatusOp,
    apply_op,
    attest_genesis,
    countersign,
    decode,
    history_root,
    history_row,
    verify_equivocation_proof,
    verify_log,
)
from foaf.bilateral.model import LogEntry, Update

from .helpers import ALICE, BOB, CAROL, OPERATOR, T0, Pair, fresh_genesis, kinds, nonce, sent


def test_a_payment_is_proposed_countersigned_and_committed_on_both_sides() -> None:
    pair = Pair.opened()
    pair.pay("a", 1234)
    assert pair.alice.state == pair.bob.state
    assert pair.alice.state is not None and pair.alice.state.balance == 1234
    assert pair.alice.mstate is pair.bob.mstate is MState.IDLE
    verify_log(pair.alice.log)


def test_a_payment_request_by_the_payee_is_signed_by_both() -> None:
    pair = Pair.opened()
    pair.pay("a", 500, proposer="bob")
    assert pair.alice.state is not None and pair.alice.state.balance == 500
    assert pair.alice.log[-1].complete


def test_a_rejected_proposal_changes_nothing() -> None:
    pair = Pair.opened()
    p = pair.alice.propose(Payment("b", 100, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    pair.deliver("bob", p)
    events = pair.deliver("alice", pair.bob.reject("DECLINED", now=pair.now))
    assert kinds(events) == ["ProposalRejected"]
    assert len(pair.alice.log) == len(pair.bob.log) == 1


def test_a_payment_beyond_the_limit_is_refused_before_anything_is_sent() -> None:
    pair = Pair.opened()
    with pytest.raises(LocalProtocolError) as e:
        pair.alice.propose(Payment("a", 10001, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    assert e.value.code is ErrorCode.LIMIT_EXCEEDED
    assert pair.alice.mstate is MState.IDLE


def test_a_redelivered_proposal_is_answered_again_and_never_applied_twice() -> None:
    pair = Pair.opened()
    p = pair.alice.propose(Payment("a", 1, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    pair.deliver("bob", p)
    accept = pair.bob.accept(now=pair.now)
    assert sent(pair.deliver("bob", p)) == [accept]
    pair.deliver("alice", accept)
    assert pair.deliver("alice", accept) == []
    assert len(pair.alice.log) == len(pair.bob.log) == 2


def test_simultaneous_proposals_resolve_to_the_lower_state_hash_on_both_sides() -> None:
    pair = Pair.opened()
    pa = pair.alice.propose(Payment("a", 100, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    pb = pair.bob.propose(Payment("b", 100, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(6))
    ea = pair.deliver("alice", pb)
    eb = pair.deliver("bob", pa)
    ha, hb = decode(pa).state.hash_hex, decode(pb).state.hash_hex  # type: ignore[union-attr]
    winner, loser = ("alice", "bob") if ha < hb else ("bob", "alice")
    w_events, l_events = (ea, eb) if winner == "alice" else (eb, ea)
    assert kinds(w_events) == ["ProposalVoided", "Send"]  # the loser's proposal is rejected TIE_LOST
    assert kinds(l_events) == ["ProposalVoided", "ProposalReceived"]
    pair.deliver(loser, sent(w_events)[0])
    pair.deliver(winner, pair.party(loser).accept(now=pair.now))
    assert pair.alice.state == pair.bob.state
    assert pair.alice.state is not None and pair.alice.state.hash_hex == min(ha, hb)


def test_a_late_countersignature_wins_over_the_proposal_made_after_the_deadline() -> None:
    pair = Pair.opened()
    p1 = pair.alice.propose(Payment("a", 100, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    pair.deliver("bob", p1)
    accept = pair.bob.accept(now=pair.now + 59)
    assert kinds(pair.alice.expire(now=pair.now + 61)) == ["ProposalVoided"]
    p2 = pair.alice.propose(Payment("a", 200, ""), now=pair.now + 62, deadline=pair.now + 120, nonce=nonce(6))
    events = pair.deliver("alice", accept)
    assert kinds(events) == ["ProposalVoided", "StateCommitted"]
    assert pair.alice.state == pair.bob.state
    assert pair.alice.state is not None and pair.alice.state.balance == 100
    assert sent(pair.deliver("bob", p2)) and pair.bob.mstate is MState.IDLE  # p2 is behind: Bob sends entries


def test_the_counterparty_must_not_countersign_after_the_deadline() -> None:
    pair = Pair.opened()
    pair.deliver("bob", pair.alice.propose(Payment("a", 1, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(5)))
    with pytest.raises(LocalProtocolError) as e:
        pair.bob.accept(now=pair.now + 60)
    assert e.value.code is ErrorCode.DEADLINE_PASSED
    events = pair.bob.expire(now=pair.now + 60)
    assert kinds(events) == ["ProposalVoided", "Send"]
    assert kinds(pair.deliver("alice", sent(events)[0])) == ["ProposalRejected"]


def test_the_owner_lowering_a_limit_cannot_be_rejected() -> None:
    pair = Pair.opened()
    pair.pay("a", 9000)
    p = pair.bob.propose(SetLimit("a_to_b", 1000), now=pair.now, deadline=pair.now + 60, nonce=nonce(50))
    (received,) = pair.deliver("alice", p)
    assert getattr(received, "must_accept", False) is True
    with pytest.raises(LocalProtocolError) as e:
        pair.alice.reject("DECLINED", now=pair.now)
    assert e.value.code is ErrorCode.REJECT_NOT_ALLOWED
    pair.deliver("bob", pair.alice.accept(now=pair.now))
    assert pair.bob.state is not None and pair.bob.state.limit_a_to_b == 1000


def test_a_seq_gap_asks_for_resync_and_reestablish_sends_the_missing_entries() -> None:
    pair = Pair.opened()
    stale_bob = Party(BOB, list(pair.bob.log))
    pair.pay("a", 10)
    pair.pay("a", 20)
    p = pair.alice.propose(Payment("a", 30, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(70))
    with pytest.raises(RemoteProtocolError) as e:
        stale_bob.receive(p, now=pair.now)
    assert e.value.code is ErrorCode.RESYNC_NEEDED
    events = pair.alice.receive(stale_bob.reestablish(), now=pair.now)
    assert kinds(events) == ["PeerBehind", "Send"]
    assert kinds(stale_bob.receive(sent(events)[0], now=pair.now)) == ["StateCommitted", "StateCommitted"]
    assert kinds(stale_bob.receive(p, now=pair.now)) == ["ProposalReceived"]


def test_conflicting_entries_raise_a_chain_fork_with_a_verifiable_proof() -> None:
    pair = Pair.opened()
    g = pair.alice.log[0]
    other = apply_op(g.state, Update("b", Payment("b", 1, ""), T0 + 10, T0 + 70, nonce(9)))
    forked = countersign(countersign(LogEntry(other, None, None), ALICE), BOB)
    pair.pay("a", 5)
    with pytest.raises(RemoteProtocolError) as e:
        pair.alice.receive(Entries(g.state.channel, (forked,)).encode(), now=pair.now)
    assert e.value.code is ErrorCode.CHAIN_FORK
    report = verify_equivocation_proof(e.value.data)
    assert set(report.keys) == {ALICE.public_key.hex(), BOB.public_key.hex()}


def test_an_imported_genesis_is_attested_then_countersigned_then_used() -> None:
    root, n = history_root(
        [
            history_row(
                id=1, created_at=T0 - 10, amount=500, delta=500, balance_after=500, kind="payment", initiated_by=3
            )
        ]
    )
    g = fresh_genesis(proposer="operator", balance=25000, nonce=nonce(2), op=Import("legacy", 77, root, n))
    entry = attest_genesis(g, OPERATOR)
    assert verify_log([entry], [OPERATOR.public_key]).genesis_complete is False
    with pytest.raises(RemoteProtocolError) as e:
        verify_log([entry], [])
    assert e.value.code is ErrorCode.UNKNOWN_OPERATOR
    with pytest.raises(LocalProtocolError):
        Party(ALICE, [countersign(entry, ALICE)], operator_keys=[OPERATOR.public_key])
    entry = countersign(countersign(entry, ALICE), BOB)
    pair = Pair.from_log([entry], (OPERATOR.public_key,))
    with pytest.raises(LocalProtocolError) as e2:
        pair.alice.propose(Payment("a", 1, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(3))
    assert e2.value.code is ErrorCode.LIMIT_EXCEEDED  # 250.00 owed on a 100.00 limit: only paying down
    from foaf.bilateral import Settlement

    p = pair.alice.propose(Settlement("a", 1000, "cash"), now=pair.now, deadline=pair.now + 60, nonce=nonce(3))
    pair.deliver("bob", p)
    pair.deliver("alice", pair.bob.accept(now=pair.now))
    assert pair.alice.state is not None and pair.alice.state.balance == 24000
    verify_log(pair.alice.log, [OPERATOR.public_key])


def test_a_key_rotation_is_signed_by_both_keys_and_later_states_use_the_new_key() -> None:
    pair = Pair.opened()
    p = pair.alice.rotate_key(CAROL, counter=1, now=pair.now, deadline=pair.now + 60, nonce=nonce(80))
    (received,) = pair.deliver("bob", p)
    assert getattr(received, "must_accept", False) is True
    pair.deliver("alice", pair.bob.accept(now=pair.now))
    assert pair.alice.state is not None
    assert pair.alice.state.a.key == CAROL.public_key.hex()
    assert pair.alice.state.a.id == ALICE.public_key.hex()
    pair.pay("a", 5)
    verify_log(pair.bob.log)


def test_freeze_blocks_payments_until_unfrozen() -> None:
    pair = Pair.opened()
    pair.deliver("bob", pair.alice.propose(StatusOp("freeze"), now=pair.now, deadline=pair.now + 60, nonce=nonce(90)))
    pair.deliver("alice", pair.bob.accept(now=pair.now))
    with pytest.raises(LocalProtocolError) as e:
        pair.alice.propose(Payment("a", 1, ""), now=pair.now, deadline=pair.now + 60, nonce=nonce(91))
    assert e.value.code is ErrorCode.CHANNEL_FROZEN


def test_a_party_whose_key_is_not_in_the_channel_cannot_join() -> None:
    alice, out = Party.open(ALICE, fresh_genesis(), now=T0)
    with pytest.raises(LocalProtocolError) as e:
        Party.join(CAROL, out, now=T0)
    assert e.value.code is ErrorCode.WRONG_SIGNER
    assert alice.mstate is MState.AWAITING_COUNTERSIGN
