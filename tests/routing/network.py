"""Members holding their own keys, each a `Wallet`, exchanging bytes over an in-memory network.

The network can lose, repeat and reorder messages; a member can crash (it restarts from the last
snapshot it persisted, as a device would) and the clock moves only when a test moves it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from foaf.bilateral import Member, Party, Payment, SeedSigner, make_genesis
from foaf.routing.wallet import Outbound, Wallet

T0 = 1_767_225_600
CURRENCY = "CAD"


def seed_of(name: str) -> bytes:
    return hashlib.sha256(f"member-{name}".encode()).digest()


def counter_rng(name: str) -> Any:
    """Deterministic randomness per member (nonces, preimages, payment ids)."""
    state = {"n": 0}

    def rng(n: int) -> bytes:
        state["n"] += 1
        out = b""
        i = 0
        while len(out) < n:
            out += hashlib.sha256(f"{name}/{state['n']}/{i}".encode()).digest()
            i += 1
        return out[:n]

    return rng


def relationship(
    x: SeedSigner, y: SeedSigner, *, limit_x_to_y: int, limit_y_to_x: int, balance: int = 0, nonce: int = 1
) -> tuple[Party, Party]:
    """A co-signed genesis between x (side a) and y (side b); `balance` > 0: x owes y."""
    genesis = make_genesis(
        a=Member.inception(x.public_key),
        b=Member.inception(y.public_key),
        currency=CURRENCY,
        limit_a_to_b=limit_x_to_y,
        limit_b_to_a=limit_y_to_x,
        proposer="a",
        created=T0,
        deadline=T0 + 600,
        nonce=f"{nonce:032x}",
    )
    px, out = Party.open(x, genesis, now=T0)
    py, _ = Party.join(y, out, now=T0 + 1)
    px.receive(py.accept(now=T0 + 2), now=T0 + 3)
    if balance:  # x pays y on credit (balance > 0) or y pays x
        payer, payee = (px, py) if balance > 0 else (py, px)
        op = Payment("a" if balance > 0 else "b", abs(balance), "opening balance")
        payee.receive(payer.propose(op, now=T0 + 4, deadline=T0 + 600, nonce=f"{nonce + 1:032x}"), now=T0 + 5)
        payer.receive(payee.accept(now=T0 + 6), now=T0 + 7)
    return px, py


@dataclass
class Network:
    """Wallets by name; `send` queues bytes; `run` delivers until quiet (or a step budget)."""

    now: int = T0 + 3600
    rnd: random.Random = field(default_factory=lambda: random.Random(7))
    signers: dict[str, SeedSigner] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    durable: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[tuple[str, bytes]] = field(default_factory=list)
    loss: float = 0.0
    duplication: float = 0.0
    reorder: bool = False
    delivered: int = 0

    def member(self, name: str) -> str:
        if name not in self.signers:
            self.signers[name] = SeedSigner(seed_of(name))
        return self.signers[name].public_key.hex()

    def name_of(self, member_id: str) -> str:
        return next(n for n, s in self.signers.items() if s.public_key.hex() == member_id)

    def connect(
        self, x: str, y: str, *, limit_x_to_y: int = 10_000, limit_y_to_x: int = 10_000, balance: int = 0
    ) -> str:
        self.member(x), self.member(y)
        px, py = relationship(
            self.signers[x], self.signers[y], limit_x_to_y=limit_x_to_y, limit_y_to_x=limit_y_to_x, balance=balance,
            nonce=2 * sum(len(w.parties) for w in self.wallets.values()) + 1,
        )  # fmt: skip
        for name, party in ((x, px), (y, py)):
            wallet = self.wallets.get(name)
            if wallet is None:
                wallet = self.wallets[name] = Wallet(self.signers[name], self.member(name), rng=counter_rng(name))
            wallet.parties[party.channel] = party
            self.persist(name)
        return px.channel

    def persist(self, name: str) -> None:
        self.durable[name] = self.wallets[name].snapshot()

    def send(self, out: Iterable[Outbound]) -> None:
        for o in out:
            self.queue.append((self.name_of(o.to), o.data))

    def step(self) -> bool:
        """Deliver one queued message (subject to loss, duplication, reordering)."""
        if not self.queue:
            return False
        i = self.rnd.randrange(len(self.queue)) if self.reorder else 0
        to, data = self.queue.pop(i)
        if self.loss and self.rnd.random() < self.loss:
            return True
        if self.duplication and self.rnd.random() < self.duplication:
            self.queue.append((to, data))
        out = self.wallets[to].receive(data, now=self.now)
        self.persist(to)  # durable before anything it answered is sent
        self.delivered += 1
        self.send(out)
        return True

    def run(self, budget: int = 10_000) -> None:
        while budget and self.step():
            budget -= 1

    def tick(self, seconds: int = 0) -> None:
        self.now += seconds
        for name, wallet in self.wallets.items():
            out = wallet.tick(now=self.now)
            self.persist(name)
            self.send(out)

    def crash(self, name: str) -> None:
        """The member's device stops and restarts from what it persisted; its queued input is lost."""
        self.queue = [(to, d) for to, d in self.queue if to != name]
        self.wallets[name] = Wallet.restore(
            self.signers[name], self.durable[name], now=self.now, rng=counter_rng(f"{name}/{self.now}")
        )
        self.send(self.wallets[name].resume())

    def balance(self, x: str, channel: str) -> int:
        """What x owes its peer on `channel` in x's head state (negative: the peer owes x)."""
        st = self.wallets[x].parties[channel].state
        assert st is not None
        side = "a" if st.a.id == self.member(x) else "b"
        return st.balance if side == "a" else -st.balance

    def holds(self, channel: str) -> int:
        return sum(len(w.parties[channel].state.holds) for w in self.wallets.values() if channel in w.parties)  # type: ignore[union-attr]
