"""One member's agent for multi-hop payments: its relationships, invoices and route nodes. Sans-I/O.

A ``Wallet`` holds the member's signer, a bilateral ``Party`` per relationship, the invoices it
issued (with their preimages), and a ``Node`` per role it plays on a route. It turns bytes received
and the clock into bytes to send (``Outbound``, addressed by party id), carrying out the nodes'
actions with the parties and wrapping every hold proposal it sends in a ``Forward`` with its route.
It decides holds, releases and cancels of routes by the rules of docs/spec/routing.md; any other
proposal (a direct payment, a limit) is left pending for the application (``pending``).

Durability (bilateral spec §7.7, routing spec §5): persist ``snapshot()`` after every call and
before sending what the call returned; after a crash, ``Wallet.restore`` from the last snapshot and
send what ``resume`` returns. Proposals lost on the way are sent again by ``tick``; duplicates are
answered as the bilateral machine answers them (the same accept or reject again), so delivery may
lose, repeat and reorder messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from foaf.bilateral.crypto import Signer
from foaf.bilateral.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from foaf.bilateral.jcs import parse
from foaf.bilateral.machine import MState
from foaf.bilateral.model import Cancel, LogEntry, PlaceHold, Proposal, Release, State
from foaf.bilateral.party import (
    VOID_REASONS,
    EventT,
    Party,
    ProposalReceived,
    ProposalRejected,
    Send,
    StateCommitted,
)

from .errors import RouteError, RoutingCode
from .messages import Forward, Hop, Invoice, RouteProposal, RouteStatus, decode
from .node import (
    MIN_DELTA,
    PROPOSAL_SECONDS,
    Action,
    HopState,
    Node,
    Outcome,
    ProposeCancel,
    ProposeHold,
    Report,
    check_offer,
    check_route,
    route_progress,
    side_of_id,
)

_ROUTING_TYPES = frozenset({"forward", "route_status", "invoice", "route"})
_STATUS_ORDER = {"held": 0, "settled": 1, "cancelled": 1, "disputed": 1}


@dataclass(frozen=True, slots=True)
class Outbound:
    """Bytes for the party ``to`` (a party id)."""

    to: str
    data: bytes


def plan_expiries(created: int, hops: int) -> list[int]:
    """The payer's default expiries: the last hold ``2 * MIN_DELTA`` after creation, each hold
    upstream ``MIN_DELTA`` later (5 hops: the first expires an hour after creation)."""
    return [created + (hops - h + 1) * MIN_DELTA for h in range(hops)]


class Wallet:
    """One member: ``member_id`` (its party id) signing with ``signer``, over ``parties``."""

    def __init__(
        self,
        signer: Signer,
        member_id: str,
        parties: Iterable[Party] = (),
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.signer = signer
        self.member_id = member_id
        self.rng = rng
        self.parties: dict[str, Party] = {p.channel: p for p in parties}
        self.invoices: dict[str, tuple[Invoice, str]] = {}  # payment -> (invoice, preimage)
        self.paid: set[str] = set()  # payments we received (released as payee)
        self.routes: dict[str, RouteProposal] = {}  # route hash -> route
        self.nodes: dict[tuple[str, int], Node] = {}  # (route hash, index) -> our role
        self.statuses: dict[str, dict[int, RouteStatus]] = {}  # route hash -> hop -> latest report
        self.refused: list[tuple[str, str]] = []  # (what, code) of bytes we dropped, newest last
        self._holds: dict[str, tuple[str, int]] = {}  # hold id -> (route hash, hop)

    # ------------------------------------------------------------ invoices and payments
    def invoice(self, amount: int, currency: str, *, now: int, lifetime: int = 86_400, memo: str = "") -> Invoice:
        """A new invoice of ours; its preimage never leaves the wallet except in our release."""
        preimage = self.rng(32).hex()
        inv = Invoice.make(
            self.signer,
            self.member_id,
            payment=self.rng(16).hex(),
            currency=currency,
            amount=amount,
            preimage=preimage,
            expires=now + lifetime,
            memo=memo,
        )
        self.invoices[inv.payment] = (inv, preimage)
        return inv

    def pay(
        self, invoice: Invoice, path: Sequence[tuple[str, str]], *, now: int
    ) -> tuple[RouteProposal, list[Outbound]]:
        """Pay ``invoice`` along ``path``: per hop, the relationship (channel id) and the party it
        leads to, from ours to the payee. Signs the route and offers the first hold; raises
        RouteError if the route breaks a rule or its first hop is not ours."""
        return self._start(invoice, path, "payment", now)

    def cancel_loop(
        self, amount: int, currency: str, path: Sequence[tuple[str, str]], *, now: int
    ) -> tuple[RouteProposal, list[Outbound]]:
        """Cancel ``amount`` of debt around a credit loop through us: a payment from us to ourselves
        along ``path`` (as for ``pay``, ending with us), each hop reducing what its payee owes."""
        inv = self.invoice(amount, currency, now=now, lifetime=4 * 3600, memo="credit loop")
        return self._start(inv, path, "loop", now)

    def _start(
        self, invoice: Invoice, path: Sequence[tuple[str, str]], purpose: str, now: int
    ) -> tuple[RouteProposal, list[Outbound]]:
        if not path:
            raise RouteError(RoutingCode.ROUTE_LENGTH, "a route has at least one hop")
        first = self._state_of(path[0][0], self.member_id)
        if _peer_id(first, self.member_id) != path[0][1]:
            raise RouteError(RoutingCode.ROUTE_BROKEN, "the first hop does not lead to our peer on that relationship")
        members = [self.member_id, *(to for _channel, to in path)]
        expiries = plan_expiries(now, len(path))
        hops = tuple(
            Hop(ch, members[h], members[h + 1], invoice.amount, expiries[h]) for h, (ch, _to) in enumerate(path)
        )
        route = RouteProposal.make(
            self.signer,
            self.member_id,
            payment=invoice.payment,
            purpose=purpose,
            currency=invoice.currency,
            lock=invoice.lock,
            amount=invoice.amount,
            payee=invoice.payee.id,
            created=now,
            hops=hops,
        )
        check_route(route)
        self._remember(route)
        node = self._node(route, 0)
        return route, self._carry_out(node, node.start(), now)

    def outcome(self, route_hash: str) -> Outcome:
        """The payer's view: settled once hop 0's release committed, cancelled once it cannot be."""
        node = self.nodes.get((route_hash, 0))
        return Outcome.PENDING if node is None else node.outcome

    def progress(self, route_hash: str) -> dict[str, Any]:
        """What the payer knows of a route (``node.route_progress``)."""
        reports = {h: (r.status, r.reason) for h, r in self.statuses.get(route_hash, {}).items()}
        return route_progress(self.routes[route_hash], self.nodes.get((route_hash, 0)), reports)

    @property
    def pending(self) -> list[Proposal]:
        """Proposals of other kinds waiting for the application's decision."""
        return [
            p.pending for p in self.parties.values() if p.mstate is MState.AWAITING_DECISION and p.pending is not None
        ]

    # ------------------------------------------------------------ input
    def receive(self, data: bytes, *, now: int) -> list[Outbound]:
        """Handle bytes from another party. Bytes that break a rule are dropped (and listed in
        ``refused``); they never raise."""
        try:
            d = parse(data)
            kind = d.get("type")
            if kind in _ROUTING_TYPES:
                msg = decode(data)
                if isinstance(msg, Forward):
                    check_route(msg.route)
                    self._remember(msg.route)
                    return self._bilateral(msg.proposal.encode(), msg.proposal.state.channel, now)
                if isinstance(msg, RouteStatus):
                    self._on_status(msg)
                return []
            state = d.get("state")
            channel = d.get("channel") or (state.get("channel") if type(state) is dict else None)
            try:
                return self._bilateral(data, channel, now)
            except RemoteProtocolError as e:
                party = self.parties.get(channel) if type(channel) is str else None
                if e.code.value != "RESYNC_NEEDED" or party is None or party.head is None:
                    raise
                # The peer is ahead of us (bilateral 7.2 step 3): say where we are; it sends entries.
                self.refused.append((str(kind), e.code.value))
                return [Outbound(self._peer(party), party.reestablish())]
        except (RouteError, ProtocolError) as e:
            self.refused.append((str(kind) if "kind" in locals() else "bytes", str(e.code)))
            return []

    def tick(self, *, now: int) -> list[Outbound]:
        """Run the clock: void proposals past their deadline, send our unanswered proposals again,
        and do what each route's node says is due (re-offers, releases, cancels after expiry)."""
        out: list[Outbound] = []
        for party in list(self.parties.values()):
            out += self._events(party, party.expire(now=now), now)
            # Lost on the way? Send again every proposal of ours the peer has not answered, the
            # pending one and those voided by their deadline (a late accept still commits them, and
            # until the peer's answer arrives a hold offer stays unresolved: _give_up_offer waits).
            # The peer dedups: the same accept or reject again, or DEADLINE_PASSED.
            for prop in party.unresolved:
                out.append(self._wrap(party, prop.encode()))
        for node in list(self.nodes.values()):
            if node.outcome is Outcome.PENDING:
                out += self._carry_out(node, node.tick(now=now), now)
                out += self._give_up_offer(node, now)
        return out

    def resume(self) -> list[Outbound]:
        """After a restore: tell each peer where we are, so either side sends what the other lacks."""
        return [Outbound(self._peer(p), p.reestablish()) for p in self.parties.values() if p.head is not None]

    # ------------------------------------------------------------ the bilateral side
    def _bilateral(self, data: bytes, channel: Any, now: int) -> list[Outbound]:
        party = self.parties.get(channel) if type(channel) is str else None
        if party is None:  # also a forward whose route is valid but whose proposal is on another channel
            raise RouteError(RoutingCode.NOT_ON_ROUTE, "no relationship of ours on this channel")
        return self._events(party, party.receive(data, now=now), now)

    def _events(self, party: Party, events: list[EventT], now: int) -> list[Outbound]:
        out: list[Outbound] = []
        for ev in events:
            if isinstance(ev, Send):
                out.append(self._wrap(party, ev.data))
            elif isinstance(ev, ProposalReceived):
                out += self._decide(party, ev.proposal, now)
            elif isinstance(ev, StateCommitted):
                out += self._committed(party, ev.entry, now)
            elif isinstance(ev, ProposalRejected):
                out += self._rejected(ev, now)
        return out

    def _decide(self, party: Party, prop: Proposal, now: int) -> list[Outbound]:
        """Countersign or refuse a peer's hold, release or cancel of one of our routes."""
        st = prop.state
        op = st.update.op
        if isinstance(op, PlaceHold):
            return self._decide_hold(party, st, op, now)
        if not isinstance(op, Release | Cancel):
            return []  # not a route's: the application decides
        where = self._holds.get(op.id)
        if where is None:
            return self._answer(party, RoutingCode.UNKNOWN_PAYMENT, now)
        route_hash, hop = where
        route = self.routes[route_hash]
        outgoing = route.hops[hop].from_ == self.member_id
        node = self.nodes.get((route_hash, hop if outgoing else hop + 1))
        if node is None:
            return self._answer(party, RoutingCode.UNKNOWN_PAYMENT, now)
        if isinstance(op, Release):
            reason = node.may_countersign_release(now=now) if outgoing else RoutingCode.HOLD_MISMATCH
        else:
            reason = node.may_countersign_cancel(hop, now=now)
        if reason is not None:
            out = self._answer(party, reason, now)
            if isinstance(op, Cancel) and not outgoing:
                out += self._carry_out(node, node.incoming_cancel_refused(reason, now=now), now)
            return out
        out = [Outbound(self._peer(party), party.accept(now=now))]
        head = party.head
        assert head is not None
        return out + self._committed(party, head, now)

    def _decide_hold(self, party: Party, st: State, op: PlaceHold, now: int) -> list[Outbound]:
        where = self._holds.get(op.id)
        if where is None:
            return self._answer(party, RoutingCode.UNKNOWN_PAYMENT, now)
        route = self.routes[where[0]]
        hop = where[1]
        index = hop + 1
        try:
            if route.hops[hop].to != self.member_id:
                raise RouteError(RoutingCode.NOT_ON_ROUTE, "we are not this hold's payee")
            payee = index == len(route.hops)
            inv = self.invoices.get(route.payment)
            outgoing = None if payee else self._state_or_none(route.hops[index].channel)
            check_offer(
                route,
                st,
                self.member_id,
                now=now,
                invoice=inv[0] if inv and payee else None,
                paid=route.payment in self.paid,
                outgoing=outgoing,
            )
        except RouteError as e:
            return self._answer(party, e.code, now)
        node = self._node(route, index)
        if payee:
            inv = self.invoices[route.payment]
            node.preimage = inv[1]
            self.paid.add(route.payment)
        out = [Outbound(self._peer(party), party.accept(now=now))]
        return out + self._carry_out(node, node.incoming_held(), now)

    def _answer(self, party: Party, reason: str, now: int) -> list[Outbound]:
        try:
            return [Outbound(self._peer(party), party.reject(reason, now=now))]
        except LocalProtocolError:
            return []  # must-accept (not a route's op): left for the application

    def _committed(self, party: Party, entry: LogEntry, now: int) -> list[Outbound]:
        """A state committed on one of our relationships: tell the node whose hold it moved."""
        st = entry.state
        op = st.update.op
        if not isinstance(op, PlaceHold | Release | Cancel) or op.id not in self._holds:
            return []
        route_hash, hop = self._holds[op.id]
        route = self.routes[route_hash]
        h = route.hops[hop]
        out: list[Outbound] = []
        if h.from_ == self.member_id and (node := self.nodes.get((route_hash, hop))) is not None:
            if isinstance(op, PlaceHold):
                actions = node.outgoing_held()
            elif isinstance(op, Release):
                actions = node.outgoing_released(op.preimage)
            else:
                ours = st.update.proposer == side_of_id(st, self.member_id)
                actions = node.outgoing_cancelled(RoutingCode.HOLD_TIMED_OUT if ours else RoutingCode.DOWNSTREAM_FAILED)
            out += self._carry_out(node, actions, now)
        if h.to == self.member_id and (node := self.nodes.get((route_hash, hop + 1))) is not None:
            if isinstance(op, PlaceHold):
                actions = node.incoming_held()
            elif isinstance(op, Release):
                actions = node.incoming_released()
            else:
                actions = node.incoming_cancelled()
            out += self._carry_out(node, actions, now)
        return out

    def _rejected(self, ev: ProposalRejected, now: int) -> list[Outbound]:
        op = ev.state.update.op
        if not isinstance(op, PlaceHold | Release | Cancel) or op.id not in self._holds:
            return []
        if isinstance(op, Release | Cancel):
            return self._settle_refused(op, ev.reject.reason, now)
        if ev.reject.reason in VOID_REASONS:
            return []  # not refused, only too late or crossed: the node's clock offers it again
        route_hash, hop = self._holds[op.id]
        node = self.nodes.get((route_hash, hop))
        return [] if node is None else self._carry_out(node, node.outgoing_refused(ev.reject.reason), now)

    def _settle_refused(self, op: Release | Cancel, reason: str, now: int) -> list[Outbound]:
        """A release or cancel of ours refused: for good only in a dispute (a late release; a
        cancel of a hold whose preimage was shown); otherwise the node's clock offers it again."""
        route_hash, hop = self._holds[op.id]
        ours_out = self.routes[route_hash].hops[hop].from_ == self.member_id
        node = self.nodes.get((route_hash, hop if ours_out else hop + 1))
        if node is None:
            return []
        if isinstance(op, Cancel) and ours_out:
            return self._carry_out(node, node.outgoing_cancel_refused(reason), now)
        if isinstance(op, Release) and not ours_out:
            return self._carry_out(node, node.incoming_release_refused(reason), now)
        return []

    def _give_up_offer(self, node: Node, now: int) -> list[Outbound]:
        """An outgoing hold we can no longer offer and that no proposal of ours still carries will
        never commit: the node learns it was refused."""
        if node.outgoing is not HopState.PROPOSED or now <= node.route.hops[node.hop_out].expires - MIN_DELTA:
            return []
        party = self.parties.get(node.route.hops[node.hop_out].channel)
        if party is not None and self._offer_unresolved(party, node.route.hold_id(node.hop_out)):
            return []  # a late accept may still commit it
        return self._carry_out(node, node.outgoing_refused(RoutingCode.HOLD_TIMED_OUT), now)

    @staticmethod
    def _offer_unresolved(party: Party, hold: str) -> bool:
        """One of our proposals offering this hold is still unresolved: a late accept commits it."""
        return any(_hold_id(p.state) == hold for p in party.unresolved)

    # ------------------------------------------------------------ carrying out a node's actions
    def _carry_out(self, node: Node, actions: list[Action], now: int) -> list[Outbound]:
        out: list[Outbound] = []
        queue = list(actions)
        while queue:
            action = queue.pop(0)
            if isinstance(action, Report):
                out += self._report(node, action, now)
                continue
            party = self.parties.get(action.channel)
            if party is None:
                continue
            pend = party.pending
            if party.mstate is MState.AWAITING_COUNTERSIGN and pend is not None and pend.state.update.op == action.op:
                continue  # already out; tick sends it again if it was lost
            if party.mstate is not MState.IDLE:
                continue  # the relationship is busy: the node's clock offers it again
            try:
                data = party.propose(action.op, now=now, deadline=now + PROPOSAL_SECONDS, nonce=self.rng(16).hex())
            except LocalProtocolError as e:
                if isinstance(action, ProposeHold) and not self._offer_unresolved(party, action.op.id):
                    queue += node.outgoing_refused(str(e.code))
                continue  # a release or cancel that no longer applies (the hold is gone)
            out.append(self._wrap(party, data))
            if isinstance(action, ProposeCancel) and action.hop == node.hop_in:
                out += self._report(node, Report(action.hop, "cancelled", action.reason), now)
        return out

    def _report(self, node: Node, report: Report, now: int) -> list[Outbound]:
        route = node.route
        status = RouteStatus.make(
            self.signer, self.member_id, route, hop=report.hop, status=report.status, reason=report.reason, time=now
        )
        if route.payer.id == self.member_id:
            self._on_status(status)
            return []
        return [Outbound(route.payer.id, status.encode())]

    def _on_status(self, status: RouteStatus) -> None:
        route = self.routes.get(status.route_hash)
        if route is None or route.payer.id != self.member_id or status.hop >= len(route.hops):
            return
        if route.hops[status.hop].to != status.reporter.id:
            return  # only a hop's payee reports on it
        per_hop = self.statuses.setdefault(status.route_hash, {})
        held = per_hop.get(status.hop)
        if held is not None and (_STATUS_ORDER[held.status], held.time) > (_STATUS_ORDER[status.status], status.time):
            # Overtaken on the way: a hop never goes back from settled, cancelled or disputed to held,
            # and between those the newer report counts (a dispute the parties resolved after all).
            return
        per_hop[status.hop] = status

    # ------------------------------------------------------------ helpers
    def _remember(self, route: RouteProposal) -> None:
        if route.route_hash in self.routes:
            return
        self.routes[route.route_hash] = route
        for h in range(len(route.hops)):
            self._holds[route.hold_id(h)] = (route.route_hash, h)

    def _node(self, route: RouteProposal, index: int) -> Node:
        key = (route.route_hash, index)
        node = self.nodes.get(key)
        if node is None:
            side_in = side_out = None
            if index > 0:
                side_in = side_of_id(self._state_of(route.hops[index - 1].channel, self.member_id), self.member_id)
            if index < len(route.hops):
                side_out = side_of_id(self._state_of(route.hops[index].channel, self.member_id), self.member_id)
            node = Node(route, index, side_in, side_out)
            self.nodes[key] = node
        return node

    def _state_or_none(self, channel: str) -> State | None:
        party = self.parties.get(channel)
        return None if party is None else party.state

    def _state_of(self, channel: str, member: str) -> State:
        state = self._state_or_none(channel)
        if state is None or side_of_id(state, member) is None:
            raise RouteError(RoutingCode.ROUTE_BROKEN, f"channel {channel[:12]} is not a relationship of {member[:12]}")
        return state

    def _peer(self, party: Party) -> str:
        st = party.state if party.state is not None else (party.pending.state if party.pending else None)
        assert st is not None
        return st.member(party.peer).id

    def _wrap(self, party: Party, data: bytes) -> Outbound:
        """A hold proposal of one of our routes travels with its route."""
        if data.startswith(b'{"sig":') and b'"type":"hold"' in data:
            try:
                prop = Proposal.from_json(parse(data))
            except RemoteProtocolError:
                prop = None
            op = prop.state.update.op if prop is not None else None
            if prop is not None and isinstance(op, PlaceHold) and op.id in self._holds:
                route = self.routes[self._holds[op.id][0]]
                data = Forward(route, prop).encode()
        return Outbound(self._peer(party), data)

    # ------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to restore this wallet (but the signer): persist it after every call."""
        return {
            "member": self.member_id,
            "parties": [
                {
                    "log": [e.to_json() for e in p.log],
                    "unresolved": [u.to_json() for u in p.unresolved],
                    "rejects": [r.hex() for r in p.sent_rejects],
                }
                for p in self.parties.values()
            ],
            "invoices": [{"invoice": inv.to_json(), "preimage": pre} for inv, pre in self.invoices.values()],
            "paid": sorted(self.paid),
            "routes": [r.to_json() for r in self.routes.values()],
            "nodes": [n.to_json() for n in self.nodes.values()],
            "statuses": [s.to_json() for per in self.statuses.values() for s in per.values()],
        }

    @classmethod
    def restore(
        cls,
        signer: Signer,
        snap: dict[str, Any],
        *,
        now: int,
        operator_keys: Iterable[bytes | str] = (),
        rng: Callable[[int], bytes] = os.urandom,
    ) -> Wallet:
        parties = [
            Party.restore(
                signer,
                [LogEntry.from_json(e) for e in p["log"]],
                now=now,
                unresolved=[Proposal.from_json(u) for u in p["unresolved"]],
                rejects=[bytes.fromhex(r) for r in p["rejects"]],
                operator_keys=operator_keys,
            )
            for p in snap["parties"]
        ]
        w = cls(signer, snap["member"], parties, rng=rng)
        for item in snap["invoices"]:
            inv = Invoice.from_json(item["invoice"])
            w.add_invoice(inv, item["preimage"], paid=inv.payment in snap["paid"])
        for r in snap["routes"]:
            w.add_route(RouteProposal.from_json(r))
        for n in snap["nodes"]:
            w.add_node(Node.from_json(n))
        for s in snap["statuses"]:
            w._on_status(RouteStatus.from_json(s))
        return w

    # ------------------------------------------------------------ loading from another store
    def add_invoice(self, invoice: Invoice, preimage: str, *, paid: bool = False) -> None:
        self.invoices[invoice.payment] = (invoice, preimage)
        if paid:
            self.paid.add(invoice.payment)

    def add_route(self, route: RouteProposal) -> None:
        self._remember(route)

    def add_node(self, node: Node) -> None:
        self._remember(node.route)
        self.nodes[(node.route.route_hash, node.index)] = node

    def add_status(self, status: RouteStatus) -> None:
        self._on_status(status)

    def sync(self, *, now: int) -> list[Outbound]:
        """Tell the nodes about states committed while they were not listening: a wallet loaded
        from a log that the other party extended (its accept arrived after the entry was stored),
        or restored after a crash. Node methods ignore what they already know, so replaying an
        entry twice changes nothing."""
        out: list[Outbound] = []
        for party in list(self.parties.values()):
            for entry in party.log:
                op = entry.state.update.op
                if isinstance(op, PlaceHold | Release | Cancel) and op.id in self._holds:
                    out += self._committed(party, entry, now)
        return out


def _hold_id(state: State) -> str | None:
    op = state.update.op
    return op.id if isinstance(op, PlaceHold) else None


def _peer_id(state: State, member: str) -> str:
    return state.b.id if state.a.id == member else state.a.id
