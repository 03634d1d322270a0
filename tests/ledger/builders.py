"""Real channels for storage tests: two in-memory core parties exchanging real signed messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from foaf import bilateral as core

T0 = 1_790_000_000  # a fixed "now" (2026-09-21), seconds
ALICE = core.SeedSigner(bytes([0x11]) * 32)
BOB = core.SeedSigner(bytes([0x22]) * 32)
CAROL = core.SeedSigner(bytes([0x44]) * 32)
OPERATOR = core.SeedSigner(bytes([0x33]) * 32)
OPERATOR_KEY = OPERATOR.public_key.hex()


@dataclass
class Channel:
    """Alice (side a) and Bob (side b) with the log entries they co-signed, in order."""

    alice: core.Party
    bob: core.Party
    entries: list[core.LogEntry] = field(default_factory=list)
    nonce_counter: int = 0

    def nonce(self) -> str:
        self.nonce_counter += 1
        return f"{self.nonce_counter:032x}"

    def pay(self, payer: str, amount: int, *, now: int = T0 + 60) -> core.LogEntry:
        """`payer` ('a' or 'b') pays on credit; the other countersigns. Returns the new entry."""
        proposer, answerer = (self.alice, self.bob) if payer == "a" else (self.bob, self.alice)
        data = proposer.propose(core.Payment(payer, amount, "eggs"), now=now, deadline=now + 600, nonce=self.nonce())
        answerer.receive(data, now=now)
        proposer.receive(answerer.accept(now=now), now=now)
        assert proposer.head is not None
        self.entries.append(proposer.head)
        return proposer.head

    def propose(self, payer: str, amount: int, *, now: int = T0 + 60, ttl: int = 600) -> core.Proposal:
        """A payment proposal by `payer`, not yet answered."""
        proposer = self.alice if payer == "a" else self.bob
        data = proposer.propose(core.Payment(payer, amount, "jam"), now=now, deadline=now + ttl, nonce=self.nonce())
        message = core.decode(data)
        assert isinstance(message, core.Proposal)
        return message


def fresh_channel(limit: int = 10_000, *, a: core.SeedSigner = ALICE, b: core.SeedSigner = BOB) -> Channel:
    genesis = core.make_genesis(
        a=core.Member.inception(a.public_key),
        b=core.Member.inception(b.public_key),
        currency="CAD",
        limit_a_to_b=limit,
        limit_b_to_a=limit,
        proposer="a",
        created=T0,
        deadline=T0 + 3600,
        nonce="ab" * 16,
    )
    alice, opening = core.Party.open(a, genesis, now=T0)
    bob, _ = core.Party.join(b, opening, now=T0)
    alice.receive(bob.accept(now=T0), now=T0)
    assert alice.head is not None
    return Channel(alice, bob, [alice.head])


def imported_genesis(
    balance: int = 1234, *, legacy_id: int = 42, nonce: str = "cd" * 16, attester: core.SeedSigner = OPERATOR
) -> core.LogEntry:
    """A genesis imported from the legacy system, attested (by the operator unless told otherwise),
    no member signature yet."""
    state = core.make_genesis(
        a=core.Member.inception(ALICE.public_key),
        b=core.Member.inception(BOB.public_key),
        currency="CAD",
        limit_a_to_b=5000,
        limit_b_to_a=2500,
        proposer="operator",
        created=T0,
        deadline=T0 + 86400,
        nonce=nonce,
        balance=balance,
        op=core.Import("growoperative", legacy_id, "ee" * 32, 3),
    )
    return core.attest_genesis(state, attester)
