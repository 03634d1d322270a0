"""Members holding their own keys, each a `Wallet`, exchanging bytes over an in-memory network.

The network can lose, repeat and reorder messages; a member can crash (it restarts from the last
snapshot it persisted, as a device would) and the clock moves only when a test moves it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from foaf.bilateral import Member, Party, Payment, SeedSigner, make_genesis
from foaf.routing.messages import Invoice, RouteProposal
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
    """Wallets by name; `send` queues bytes; `run` delivers until quiet (or a step budget).

    A queued message is (sender, recipient, bytes). A member in `offline` neither receives, sends
    nor ticks (what is sent to it is lost); `drop(sender, recipient, bytes)` returning True loses
    one delivery (a test's targeted loss)."""

    now: int = T0 + 3600
    rnd: random.Random = field(default_factory=lambda: random.Random(7))
    signers: dict[str, SeedSigner] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    durable: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[tuple[str, str, bytes]] = field(default_factory=list)
    channels: dict[tuple[str, str], str] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    drop: Callable[[str, str, bytes], bool] | None = None
    loss: float = 0.0
    duplication: float = 0.0
    reorder: bool = False
    delivered: int = 0
    crashes: int = 0

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
        self.channels[(x, y)] = self.channels[(y, x)] = px.channel
        return px.channel

    def path(self, names: Sequence[str]) -> list[tuple[str, str]]:
        """The path from names[0] through names[1:], as `Wallet.pay` takes it."""
        return [(self.channels[(x, y)], self.member(y)) for x, y in pairwise(names)]

    def pay(self, invoice: Invoice, names: Sequence[str]) -> RouteProposal:
        """names[0] pays `invoice` along names (persisted before its first hold is sent)."""
        route, out = self.wallets[names[0]].pay(invoice, self.path(names), now=self.now)
        self.persist(names[0])
        self.send(out, names[0])
        return route

    def loop(self, amount: int, names: Sequence[str]) -> RouteProposal:
        """names[0] cancels `amount` of debt around names (which end with names[0])."""
        route, out = self.wallets[names[0]].cancel_loop(amount, CURRENCY, self.path(names), now=self.now)
        self.persist(names[0])
        self.send(out, names[0])
        return route

    def persist(self, name: str) -> None:
        self.durable[name] = self.wallets[name].snapshot()

    def send(self, out: Iterable[Outbound], sender: str) -> None:
        for o in out:
            self.queue.append((sender, self.name_of(o.to), o.data))

    def step(self) -> bool:
        """Deliver one queued message (subject to loss, duplication, reordering)."""
        if not self.queue:
            return False
        i = self.rnd.randrange(len(self.queue)) if self.reorder else 0
        frm, to, data = self.queue.pop(i)
        if frm in self.offline or to in self.offline or (self.drop is not None and self.drop(frm, to, data)):
            return True
        if self.loss and self.rnd.random() < self.loss:
            return True
        if self.duplication and self.rnd.random() < self.duplication:
            self.queue.append((frm, to, data))
        out = self.wallets[to].receive(data, now=self.now)
        self.persist(to)  # durable before anything it answered is sent
        self.delivered += 1
        self.send(out, to)
        return True

    def run(self, budget: int = 10_000) -> None:
        while budget and self.step():
            budget -= 1

    def tick(self, seconds: int = 0) -> int:
        """Move the clock and tick every online wallet; returns how many messages the ticks sent."""
        self.now += seconds
        sent = 0
        for name, wallet in self.wallets.items():
            if name in self.offline:
                continue
            out = wallet.tick(now=self.now)
            self.persist(name)
            self.send(out, name)
            # Retries to an offline member are the clock's business, not a sign of work left.
            sent += sum(1 for o in out if self.name_of(o.to) not in self.offline)
        return sent

    def settle(self, *, every: int = 30, until: int | None = None, rounds: int = 1_000) -> None:
        """Deliver, then tick every `every` seconds (landing on `until` exactly, if given) and deliver
        again, until the ticks send nothing and the clock has reached `until`."""
        self.run()
        for _ in range(rounds):
            if until is not None and self.now >= until and not self.queue and not self.tick():
                return
            sent = self.tick(every if until is None or self.now >= until else min(every, until - self.now))
            self.run()
            if not sent and not self.queue and (until is None or self.now >= until):
                return
        raise AssertionError(f"not quiet after {rounds} rounds")

    def reconnect(self, name: str) -> None:
        """`name` is back online: it and each of its peers send a reestablish (bilateral spec 7.6)."""
        self.offline.discard(name)
        wallet = self.wallets[name]
        self.send(wallet.resume(), name)
        for channel in wallet.parties:
            for other, w in self.wallets.items():
                if other != name and channel in w.parties and other not in self.offline:
                    head = w.parties[channel].head
                    if head is not None:
                        self.queue.append((other, name, w.parties[channel].reestablish()))

    def crash(self, name: str) -> None:
        """The member's device stops and restarts from what it persisted; its queued input is lost.
        Its randomness after the restart is fresh (two crashes at one time must not reuse nonces)."""
        self.crashes += 1
        self.queue = [(frm, to, d) for frm, to, d in self.queue if to != name]
        self.wallets[name] = Wallet.restore(
            self.signers[name], self.durable[name], now=self.now, rng=counter_rng(f"{name}/crash {self.crashes}")
        )
        self.reconnect(name)

    def balance(self, x: str, channel: str) -> int:
        """What x owes its peer on `channel` in x's head state (negative: the peer owes x)."""
        st = self.wallets[x].parties[channel].state
        assert st is not None
        side = "a" if st.a.id == self.member(x) else "b"
        return st.balance if side == "a" else -st.balance

    def holds(self, channel: str) -> int:
        """Open holds on `channel`, counted in the head state of each side."""
        states = [w.parties[channel].state for w in self.wallets.values() if channel in w.parties]
        return sum(len(st.holds) for st in states if st is not None)
