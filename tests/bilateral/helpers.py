"""Two in-memory peers exchanging bytes through the sans-I/O core (h11's tests/helpers.py style)."""

from __future__ import annotations

from dataclasses import dataclass, field

from foaf.bilateral import (
    LogEntry,
    Member,
    Party,
    SeedSigner,
    Send,
    State,
    make_genesis,
)
from foaf.bilateral.party import EventT

ALICE_SEED, BOB_SEED, OPERATOR_SEED, CAROL_SEED = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32, b"\x44" * 32
ALICE, BOB = SeedSigner(ALICE_SEED), SeedSigner(BOB_SEED)
OPERATOR, CAROL = SeedSigner(OPERATOR_SEED), SeedSigner(CAROL_SEED)
T0 = 1767225600


def nonce(i: int) -> str:
    return f"{i:032x}"


def fresh_genesis(**kw: object) -> State:
    args: dict[str, object] = {
        "a": Member.inception(ALICE.public_key),
        "b": Member.inception(BOB.public_key),
        "currency": "USD",
        "limit_a_to_b": 10000,
        "limit_b_to_a": 5000,
        "proposer": "a",
        "created": T0,
        "deadline": T0 + 600,
        "nonce": nonce(1),
    }
    args.update(kw)
    return make_genesis(**args)  # type: ignore[arg-type]


@dataclass
class Pair:
    """Alice and Bob with a co-signed genesis; `deliver` hands bytes to one side."""

    alice: Party
    bob: Party
    now: int = T0 + 3600
    counter: int = 100
    log: list[tuple[str, bytes]] = field(default_factory=list)

    @classmethod
    def opened(cls) -> Pair:
        alice, out = Party.open(ALICE, fresh_genesis(), now=T0)
        bob, _ = Party.join(BOB, out, now=T0 + 1)
        alice.receive(bob.accept(now=T0 + 2), now=T0 + 3)
        return cls(alice, bob)

    @classmethod
    def from_log(cls, entries: list[LogEntry], operator_keys: tuple[bytes, ...] = ()) -> Pair:
        return cls(Party(ALICE, entries, operator_keys=operator_keys), Party(BOB, entries, operator_keys=operator_keys))

    def party(self, name: str) -> Party:
        return self.alice if name == "alice" else self.bob

    def next_nonce(self) -> str:
        self.counter += 1
        return nonce(self.counter)

    def deliver(self, to: str, data: bytes) -> list[EventT]:
        self.log.append((to, data))
        return self.party(to).receive(data, now=self.now)

    def pay(self, payer: str, amount: int, proposer: str = "alice") -> None:
        """A full round: proposer proposes a payment by `payer` ("a"/"b"), the other accepts."""
        from foaf.bilateral import Payment

        other = "bob" if proposer == "alice" else "alice"
        p = self.party(proposer).propose(
            Payment(payer, amount, ""), now=self.now, deadline=self.now + 300, nonce=self.next_nonce()
        )
        self.deliver(other, p)
        self.deliver(proposer, self.party(other).accept(now=self.now))


def sent(events: list[EventT]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, Send)]


def kinds(events: list[EventT]) -> list[str]:
    return [type(e).__name__ for e in events]
