"""A party restarted from what it wrote durably before sending (spec 7.7) never signs twice at a seq."""

from __future__ import annotations

import pytest

from foaf.bilateral import LocalProtocolError, MState, Party, Payment, Proposal, StateCommitted, decode
from tests.bilateral.helpers import ALICE, BOB, Pair, kinds, sent


def proposal_of(data: bytes) -> Proposal:
    message = decode(data)
    assert isinstance(message, Proposal)
    return message


def test_a_restored_proposer_still_commits_the_accept_of_its_proposal_sent_before_the_crash() -> None:
    pair = Pair.opened()
    out = pair.alice.propose(Payment("a", 250, ""), now=pair.now, deadline=pair.now + 300, nonce=pair.next_nonce())
    pair.deliver("bob", out)
    accept = pair.bob.accept(now=pair.now)
    alice = Party.restore(ALICE, pair.alice.log, now=pair.now + 1, unresolved=[proposal_of(out)])
    assert alice.mstate is MState.AWAITING_COUNTERSIGN
    events = alice.receive(accept, now=pair.now + 2)
    assert [type(e) for e in events] == [StateCommitted]
    assert alice.state == pair.bob.state


def test_a_restored_decider_answers_a_proposal_it_rejected_before_the_crash_with_the_same_reject() -> None:
    pair = Pair.opened()
    out = pair.alice.propose(Payment("a", 250, ""), now=pair.now, deadline=pair.now + 300, nonce=pair.next_nonce())
    pair.deliver("bob", out)
    reject = pair.bob.reject("DECLINED", now=pair.now)
    bob = Party.restore(BOB, pair.bob.log, now=pair.now + 1, rejects=[reject])
    events = bob.receive(out, now=pair.now + 2)
    assert sent(events) == [reject]
    assert "ProposalReceived" not in kinds(events)


def test_a_restored_proposer_applies_the_tie_rule_with_its_forgotten_proposal() -> None:
    pair = Pair.opened()
    mine = pair.alice.propose(Payment("a", 1, ""), now=pair.now, deadline=pair.now + 300, nonce=pair.next_nonce())
    theirs = pair.bob.propose(Payment("b", 2, ""), now=pair.now, deadline=pair.now + 300, nonce=pair.next_nonce())
    alice = Party.restore(ALICE, pair.alice.log, now=pair.now + 1, unresolved=[proposal_of(mine)])
    events = alice.receive(theirs, now=pair.now + 2)
    ours_wins = proposal_of(mine).state.hash_hex < proposal_of(theirs).state.hash_hex
    assert ("ProposalReceived" in kinds(events)) is not ours_wins


def test_restoring_someone_elses_proposal_is_refused() -> None:
    pair = Pair.opened()
    theirs = pair.bob.propose(Payment("b", 2, ""), now=pair.now, deadline=pair.now + 300, nonce=pair.next_nonce())
    with pytest.raises(LocalProtocolError):
        Party.restore(ALICE, pair.alice.log, now=pair.now, unresolved=[proposal_of(theirs)])
