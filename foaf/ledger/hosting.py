"""Multi-hop payments for members whose keys the service holds: their wallets, stored in the ledger.

A hosted member's ``foaf.routing.Wallet`` is not stored whole. It is rebuilt for each step from the
ledger: one bilateral ``Party`` per relationship (the co-signed log from ``StateEntry``, our
unresolved proposals from ``PendingProposal``, the rejects we sent from ``SentReject``), the routes
and route nodes it is on, and its unpaid invoices. The step runs (bytes received, the clock, a
payment started) and everything it changed is written back, with the bytes it wants to send as
``Delivery`` rows, in one transaction that holds the member's row lock. Each member therefore takes
one step at a time, and a step is all or nothing.

Write paths, on crash, retry and duplicate delivery:
- A step that crashes before commit leaves nothing: the delivery that triggered it is still
  pending and is tried again; the clock's step runs again at the next beat.
- Deliveries are sent after commit (``transaction.on_commit`` queues the task) and again by the
  beat for any still due: a delivery may arrive twice, and the bilateral machine answers a repeated
  message the way it answered the first (the same accept or reject), so a repeat changes nothing.
- A delivery is marked delivered in the recipient's step transaction; a worker killed in between
  leaves it pending, and the next attempt finds the recipient's states already moved (a no-op).
- A delivery that cannot be made is retried with backoff, then failed with its reason after
  ``ROUTING_DELIVERY_GIVE_UP_SECONDS``: holds it leaves open are cancelled by the route's clock
  (docs/spec/routing.md §5), never left for ever.
- A member holding its own key is reached through its relay mailbox (``foaf.ledger.mailbox``);
  what it sends to hosted members is collected from their mailboxes by ``mailboxes_collect``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from foaf import bilateral as core
from foaf.ledger import keys
from foaf.ledger.mailbox import mailbox_send
from foaf.ledger.models import (
    Delivery,
    HeldKey,
    Invoice,
    Party,
    PendingProposal,
    Relationship,
    Route,
    RouteNode,
    RouteReport,
    SentReject,
)
from foaf.ledger.services import (
    LedgerError,
    entry_append,
    log_entries,
    party_held_secrets,
    proposal_record,
    unix_to_datetime,
)
from foaf.routing import Kind, RouteIndex
from foaf.routing.errors import RouteError, RoutingCode
from foaf.routing.messages import Invoice as InvoiceMessage
from foaf.routing.messages import RouteProposal
from foaf.routing.node import MAX_ROUTE_SECONDS, Node, route_progress
from foaf.routing.wallet import Outbound, Wallet
from relay.protocol import RequestError

log = logging.getLogger(__name__)

NOT_HOSTED = "not_hosted"
NO_ROUTE = "no_route"
OPEN_OR_VOID = (PendingProposal.Status.OPEN, PendingProposal.Status.EXPIRED)


def is_hosted(party: Party) -> bool:
    return HeldKey.objects.filter(party=party, public_key=party.public_key, destroyed_at__isnull=True).exists()


# ------------------------------------------------------------------ loading and saving a wallet
def _side(rel: Relationship, party: Party) -> str:
    return "a" if rel.party_a_id == party.pk else "b"


def _bilateral_party(signer: core.SeedSigner, rel: Relationship, side: str, now: int) -> core.Party | None:
    entries = list(log_entries(rel))
    unresolved = [
        core.Proposal(core.State.from_json(core.parse(p.canonical.encode())), p.proposer_sig)
        for p in PendingProposal.objects.filter(
            relationship=rel, proposer=side, seq=rel.head_seq + 1, status__in=OPEN_OR_VOID
        ).order_by("pk")
    ]
    rejects = [
        r.message.encode()
        for r in SentReject.objects.filter(relationship=rel, rejector=side, seq=rel.head_seq + 1).order_by("pk")
    ]
    try:
        return core.Party.restore(
            signer, entries, now=now, unresolved=unresolved, rejects=rejects, operator_keys=_operator_keys()
        )
    except core.LocalProtocolError as e:
        if e.code is core.ErrorCode.GENESIS_NOT_COUNTERSIGNED:
            return None  # an imported relationship its members have not countersigned yet
        raise


def _operator_keys() -> list[str]:
    return list(settings.OPERATOR_KEYS)


class LedgerParties(dict[str, core.Party]):
    """A hosted member's relationships, each rebuilt from the ledger the first time the wallet asks
    for it: a step touches the few relationships its message or its routes name, not every one the
    member has (the wallet iterates only those it asked for)."""

    def __init__(self, party: Party, signer: core.SeedSigner, now: int) -> None:
        super().__init__()
        self.party, self.signer, self.now = party, signer, now
        self.relationships: dict[str, Relationship] = {}
        self.absent: set[str] = set()

    def _load(self, channel: str) -> core.Party | None:
        if channel in self.absent:
            return None
        rel = (
            Relationship.objects.filter(channel_id=channel, genesis_complete=True)
            .filter(Q(party_a=self.party) | Q(party_b=self.party))
            .first()
        )
        bp = None if rel is None else _bilateral_party(self.signer, rel, _side(rel, self.party), self.now)
        if rel is None or bp is None:
            self.absent.add(channel)
            return None
        self.relationships[channel] = rel
        super().__setitem__(channel, bp)
        return bp

    def __missing__(self, channel: str) -> core.Party:
        bp = self._load(channel)
        if bp is None:
            raise KeyError(channel)
        return bp

    def get(self, channel: str, default: core.Party | None = None) -> core.Party | None:  # type: ignore[override]
        if dict.__contains__(self, channel):
            return dict.__getitem__(self, channel)
        bp = self._load(channel)
        return default if bp is None else bp

    def __contains__(self, channel: object) -> bool:
        return dict.__contains__(self, channel) or (type(channel) is str and self._load(channel) is not None)


@dataclass
class Loaded:
    """A wallet rebuilt for one step, and what of it the ledger already stores (so that saving
    writes only what the step changed)."""

    wallet: Wallet
    party: Party
    parties: LedgerParties
    stored_nodes: dict[tuple[str, int], dict[str, Any]]
    stored_routes: set[str]
    stored_invoices: set[str]


def wallet_load(party: Party, *, now: int) -> Loaded:
    """Rebuild the hosted member's wallet from the ledger (the caller holds the member's lock):
    its pending route nodes with the relationships they run on, its unpaid invoices, its recent
    routes as payer; any other relationship is loaded when the step first asks for it."""
    signer = party_held_secrets(party).signer
    parties = LedgerParties(party, signer, now)
    wallet = Wallet(signer, party.party_id)
    wallet.parties = parties
    stored_nodes: dict[tuple[str, int], dict[str, Any]] = {}
    for inv in Invoice.objects.filter(party=party, paid=False):
        message = InvoiceMessage.from_json(core.parse(inv.canonical.encode()))
        wallet.add_invoice(message, keys.unseal_secret(bytes(inv.sealed_preimage), sealed_under=inv.kek_id).hex())
    for paid in Invoice.objects.filter(party=party, paid=True).values_list("payment", flat=True):
        wallet.paid.add(paid)
    stored_invoices = set(wallet.invoices) | wallet.paid
    for row in RouteNode.objects.filter(party=party, outcome=RouteNode.Outcome.PENDING).select_related("route"):
        node = Node.from_json(row.state)
        wallet.add_node(node)
        stored_nodes[(node.route.route_hash, node.index)] = row.state
        for hop in (node.hop_in, node.hop_out):
            if 0 <= hop < len(node.route.hops):
                parties.get(node.route.hops[hop].channel)  # the clock and sync look at these
    # Our recent routes as payer, finished or not: reports on their hops may still come in.
    recent = unix_to_datetime(now - MAX_ROUTE_SECONDS)
    for canonical in Route.objects.filter(payer_id=party.party_id, created_at__gte=recent).values_list(
        "canonical", flat=True
    ):
        wallet.add_route(RouteProposal.from_json(core.parse(canonical.encode())))
    return Loaded(wallet, party, parties, stored_nodes, set(wallet.routes), stored_invoices)


def wallet_save(loaded: Loaded, outbound: list[Outbound], *, now: int) -> list[int]:
    """Write back what the step changed; returns the ids of the deliveries to send after commit."""
    wallet, party = loaded.wallet, loaded.party
    moment = unix_to_datetime(now)
    for channel, bp in list(wallet.parties.items()):
        rel = loaded.parties.relationships[channel]
        _save_bilateral(rel, bp, _side(rel, party), moment)
    for payment, (inv, preimage) in wallet.invoices.items():
        if payment in loaded.stored_invoices:
            continue  # issued in an earlier step
        Invoice.objects.get_or_create(
            payment=payment,
            defaults={
                "party": party,
                "canonical": inv.encode().decode(),
                "sealed_preimage": keys.seal(bytes.fromhex(preimage)),
                "kek_id": keys.kek_id(),
            },
        )
    if wallet.paid:
        Invoice.objects.filter(party=party, payment__in=wallet.paid, paid=False).update(paid=True)
    nodes = {key: node.to_json() for key, node in wallet.nodes.items()}
    changed = {key: state for key, state in nodes.items() if loaded.stored_nodes.get(key) != state}
    wanted = {route_hash for route_hash, _ in changed} | set(wallet.statuses)
    routes = {r.route_hash: r for r in Route.objects.filter(route_hash__in=wanted & loaded.stored_routes)}
    for route_hash in wanted - routes.keys():  # routes this step learned of
        routes[route_hash] = _route_row(wallet.routes[route_hash])
    for (route_hash, index), state in changed.items():
        node = wallet.nodes[(route_hash, index)]
        RouteNode.objects.update_or_create(
            route=routes[route_hash],
            index=index,
            defaults={"party": party, "state": state, "outcome": str(node.outcome), "reason": node.reason},
        )
    for route_hash, per_hop in wallet.statuses.items():
        for hop, status in per_hop.items():
            RouteReport.objects.update_or_create(
                route=routes[route_hash],
                hop=hop,
                defaults={
                    "status": status.status,
                    "reason": status.reason,
                    "message": status.encode().decode(),
                    "reported_at": unix_to_datetime(status.time),
                },
            )
    rows = Delivery.objects.bulk_create(
        [
            Delivery(sender_id=party.party_id, recipient_id=o.to, data=o.data.decode(), next_attempt_at=moment)
            for o in outbound
        ]
    )
    return [r.pk for r in rows]


def _route_row(route: RouteProposal) -> Route:
    row, _ = Route.objects.get_or_create(
        route_hash=route.route_hash,
        defaults={
            "payment": route.payment,
            "payer_id": route.payer.id,
            "purpose": route.purpose,
            "amount": route.amount,
            "currency": route.currency,
            "hops": len(route.hops),
            "canonical": route.encode().decode(),
        },
    )
    return row


def _save_bilateral(rel: Relationship, bp: core.Party, side: str, moment: datetime) -> None:
    stored = Relationship.objects.select_for_update().get(pk=rel.pk)
    for entry in bp.log[stored.head_seq + 1 :]:
        result = entry_append(entry)
        if result.outcome.value == "fork":
            raise LedgerError("fork", f"relationship {rel.channel_id[:12]} forked at {entry.state.seq}")
    head_seq = bp.log[-1].state.seq
    committed = {e.state.hash_hex for e in bp.log[-8:]}
    for row in PendingProposal.objects.filter(relationship=rel, seq__lte=head_seq, status__in=OPEN_OR_VOID):
        row.status = (
            PendingProposal.Status.ACCEPTED if row.state_hash in committed else PendingProposal.Status.SUPERSEDED
        )
        row.resolved_at = moment
        row.save(update_fields=["status", "resolved_at"])
    live = {p.state.hash_hex for p in bp.unresolved}
    for prop in bp.unresolved:
        proposal_record(prop)
    PendingProposal.objects.filter(relationship=rel, proposer=side, seq=head_seq + 1, status__in=OPEN_OR_VOID).exclude(
        state_hash__in=live
    ).update(status=PendingProposal.Status.REJECTED, resolved_at=moment)
    for data in bp.sent_rejects:
        reject = core.decode(data)
        assert isinstance(reject, core.Reject)
        SentReject.objects.get_or_create(
            state_hash=reject.state_hash,
            rejector=reject.rejector,
            defaults={"relationship": rel, "seq": reject.seq, "message": data.decode()},
        )
    SentReject.objects.filter(relationship=rel, seq__lte=head_seq).delete()


def step(party: Party, action: Callable[[Wallet], list[Outbound]], *, now: int) -> list[Outbound]:
    """Run one step of a hosted member's wallet, all or nothing, and send what it produced after
    commit. Returns the outbound messages (already stored as deliveries)."""
    with transaction.atomic():
        Party.objects.select_for_update().get(pk=party.pk)
        loaded = wallet_load(party, now=now)
        out = loaded.wallet.sync(now=now)
        out += action(loaded.wallet)
        ids = wallet_save(loaded, out, now=now)
        transaction.on_commit(lambda: _send_soon(ids))
    return out


def _send_soon(ids: list[int]) -> None:
    if not ids:
        return
    from foaf.ledger.tasks import deliver

    for pk in ids:
        deliver.delay(pk)


# ------------------------------------------------------------------ deliveries
def delivery_run(delivery_id: int, *, now: int) -> str:
    """Deliver one message: to a hosted member's wallet in its step, else to the relay mailbox.
    Idempotent: a delivery already delivered or failed is left alone."""
    moment = unix_to_datetime(now)
    with transaction.atomic():
        row = Delivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING:
            return "done"
        recipient = Party.objects.filter(party_id=row.recipient_id).first()
        try:
            data = row.data.encode()
            if recipient is not None and is_hosted(recipient):
                step(recipient, lambda w: w.receive(data, now=now), now=now)
            else:  # a member holding its own key: its relay mailbox
                sender = Party.objects.get(party_id=row.sender_id)
                mailbox_send(sender, row.recipient_id, data, now=now)
        except (LedgerError, core.ProtocolError, RouteError, RequestError) as e:
            return _retry_later(row, f"{type(e).__name__}: {e}"[:200], moment)
        row.status = Delivery.Status.DELIVERED
        row.attempts += 1
        row.resolved_at = moment
        row.save(update_fields=["status", "attempts", "resolved_at"])
        return "delivered"


def _retry_later(row: Delivery, error: str, moment: datetime) -> str:
    row.attempts += 1
    row.last_error = error
    if moment - row.created_at >= timedelta(seconds=settings.ROUTING_DELIVERY_GIVE_UP_SECONDS):
        row.status = Delivery.Status.FAILED
        row.resolved_at = moment
        row.save(update_fields=["attempts", "last_error", "status", "resolved_at"])
        log.warning("delivery %s given up after %s attempts: %s", row.pk, row.attempts, error)
        return "failed"
    backoff = min(settings.ROUTING_DELIVERY_MAX_BACKOFF_SECONDS, 2 ** min(row.attempts, 16))
    row.next_attempt_at = moment + timedelta(seconds=backoff)
    row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    return "retry"


def deliveries_due(*, now: int, limit: int = 500) -> list[int]:
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=unix_to_datetime(now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# ------------------------------------------------------------------ the clock
def wallets_tick(*, now: int) -> int:
    """Tick every hosted member with a route still pending (re-offers, releases, cancels after
    expiry, voided proposals). Returns how many members it ticked. Idempotent."""
    members = Party.objects.filter(route_nodes__outcome=RouteNode.Outcome.PENDING).distinct().order_by("pk")
    n = 0
    for party in members:
        if is_hosted(party):
            step(party, lambda w: w.tick(now=now), now=now)
            n += 1
    return n


# ------------------------------------------------------------------ starting payments and loops
@dataclass(frozen=True)
class Started:
    route_hash: str
    payment: str
    hops: int


def route_index(currency: str) -> RouteIndex:
    """The router over the ledger's relationships in ``currency`` (limits only, open ones)."""
    edges = [
        (a, b, lab, lba)
        for a, b, lab, lba in Relationship.objects.filter(
            currency=currency, status=Relationship.Status.OPEN, genesis_complete=True
        ).values_list("party_a__party_id", "party_b__party_id", "limit_a_to_b", "limit_b_to_a")
    ]
    return RouteIndex(edges)


def _path(payer: str, payee: str, members: tuple[str, ...]) -> list[tuple[str, str]]:
    path = []
    for x, y in itertools.pairwise(members):
        rel = (
            Relationship.objects.filter(
                Q(party_a__party_id=x, party_b__party_id=y) | Q(party_a__party_id=y, party_b__party_id=x),
                status=Relationship.Status.OPEN,
            )
            .values_list("channel_id", flat=True)
            .first()
        )
        if rel is None:
            raise RouteError(RoutingCode.ROUTE_BROKEN, f"no relationship between {x[:12]} and {y[:12]}")
        path.append((rel, y))
    return path


def payment_start(payer: Party, payee: Party, amount: int, currency: str, *, now: int, memo: str = "") -> Started:
    """A hosted payee issues an invoice and a hosted payer pays it along the shortest route that
    can carry it (by limits). Raises RouteError(NO_ROUTE) when there is none within 5 hops."""
    if not (is_hosted(payer) and is_hosted(payee)):
        raise LedgerError(NOT_HOSTED, "both members must be hosted here to start a payment for them")
    invoice: list[InvoiceMessage] = []

    def issue(w: Wallet) -> list[Outbound]:
        invoice.append(w.invoice(amount, currency, now=now, memo=memo))
        return []

    step(payee, issue, now=now)
    found = route_index(currency).shortest(payer.party_id, payee.party_id, amount=amount)
    if found is None:
        raise RouteError(NO_ROUTE.upper(), f"no route carries {amount} within 5 hops")
    path = _path(payer.party_id, payee.party_id, tuple(found.members))
    started: list[RouteProposal] = []

    def pay(w: Wallet) -> list[Outbound]:
        route, out = w.pay(invoice[0], path, now=now)
        started.append(route)
        return out

    step(payer, pay, now=now)
    return Started(started[0].route_hash, started[0].payment, len(path))


def payment_start_along(
    payer: Party, payee: Party, amount: int, currency: str, members: tuple[str, ...], *, now: int, memo: str = ""
) -> Started:
    """As ``payment_start``, along ``members`` (party ids, the payer first and the payee last) that
    the caller chose, instead of the router's shortest route: the legacy API pays along the path its
    ``find_path`` showed. Raises RouteError(ROUTE_BROKEN) when two neighbours share no open
    relationship; the wallets' own checks apply as for any route."""
    if not (is_hosted(payer) and is_hosted(payee)):
        raise LedgerError(NOT_HOSTED, "both members must be hosted here to start a payment for them")
    path = _path(payer.party_id, payee.party_id, members)
    invoice: list[InvoiceMessage] = []

    def issue(w: Wallet) -> list[Outbound]:
        invoice.append(w.invoice(amount, currency, now=now, memo=memo))
        return []

    step(payee, issue, now=now)
    started: list[RouteProposal] = []

    def pay(w: Wallet) -> list[Outbound]:
        route, out = w.pay(invoice[0], path, now=now)
        started.append(route)
        return out

    step(payer, pay, now=now)
    return Started(started[0].route_hash, started[0].payment, len(path))


def loop_start(member: Party, amount: int, currency: str, members: tuple[str, ...], *, now: int) -> Started:
    """Cancel ``amount`` of debt around the credit loop ``members`` (starting and ending with the
    member), as a payment from the member to itself."""
    path = _path(member.party_id, member.party_id, members)
    started: list[RouteProposal] = []

    def go(w: Wallet) -> list[Outbound]:
        route, out = w.cancel_loop(amount, currency, path, now=now)
        started.append(route)
        return out

    step(member, go, now=now)
    return Started(started[0].route_hash, started[0].payment, len(path))


# ------------------------------------------------------------------ progress
def payment_progress(route_hash: str) -> dict[str, Any] | None:
    """The payer's view of a route: its outcome and reason, and the newest report on each hop."""
    route = Route.objects.filter(route_hash=route_hash).first()
    if route is None:
        return None
    payer_row = RouteNode.objects.filter(route=route, index=0).first()
    payer_node = Node.from_json(payer_row.state) if payer_row is not None else None
    reports = {r.hop: (r.status, r.reason) for r in RouteReport.objects.filter(route=route)}
    message = RouteProposal.from_json(core.parse(route.canonical.encode()))
    view = route_progress(message, payer_node, reports)
    return {
        **view,
        "purpose": route.purpose,
        "payer": route.payer_id,
        "payee": message.payee,
        "amount": route.amount,
        "currency": route.currency,
        "hops": [
            {
                **hop_view,
                "channel": hop.channel,
                "from": hop.from_,
                "to": hop.to,
                "amount": hop.amount,
                "expires": hop.expires,
            }
            for hop_view, hop in zip(view["hops"], message.hops, strict=True)
        ],
        "created": message.created,
    }


# ------------------------------------------------------------------ credit loops
def debt_index(currency: str) -> RouteIndex:
    """Arcs along which paying reduces a debt: ``x -> y`` with the capacity of what ``y`` owes
    ``x`` (from the heads the ledger holds; only the service knows these, never the relay). A
    route in this index is a chain of debts, and a loop in it is debt that can be cancelled."""
    edges = []
    for a, b, balance in Relationship.objects.filter(
        currency=currency, status=Relationship.Status.OPEN, genesis_complete=True
    ).values_list("party_a__party_id", "party_b__party_id", "balance"):
        if balance:  # balance > 0: a owes b, so paying b -> a reduces it
            edges.append((a, b, max(-balance, 0), max(balance, 0)))
    return RouteIndex(edges)


@dataclass(frozen=True)
class LoopsStarted:
    started: list[Started]
    offered: int  # the sum over the loops of amount x hops: the debt they cancel if all settle


def loops_cancel(*, currency: str, now: int, max_len: int = 5, limit: int = 100) -> LoopsStarted:
    """Find credit loops through hosted members, each at the largest amount every hop's debt
    allows, and start cancelling them (each a payment from a member to itself). At most one loop
    per member per run, and none through a member with a pending route, so that loops found from
    one snapshot of balances do not overlap; the next run finds what is left."""
    index = debt_index(currency)
    busy = set(RouteNode.objects.filter(outcome=RouteNode.Outcome.PENDING).values_list("party__party_id", flat=True))
    hosted_ids = set(
        Party.objects.filter(held_keys__destroyed_at__isnull=True, held_keys__public_key=F("public_key")).values_list(
            "party_id", flat=True
        )
    )
    started: list[Started] = []
    offered = 0
    for member_id in sorted(hosted_ids):
        if len(started) >= limit:
            break
        if member_id in busy:
            continue
        loops = index.cycles_through(member_id, max_len=max_len, k=1, kind=Kind.WIDEST)
        if not loops or busy.intersection(loops[0].members):
            continue
        loop = loops[0]
        member = Party.objects.get(party_id=member_id)
        try:
            s = loop_start(member, loop.capacity, currency, tuple(loop.members), now=now)
        except (RouteError, LedgerError, core.ProtocolError) as e:
            log.info("loop through %s not started: %s", member_id[:12], e)
            continue
        started.append(s)
        offered += loop.capacity * loop.hops
        busy.update(loop.members)
    return LoopsStarted(started, offered)


def loops_report(*, since: datetime | None = None) -> dict[str, Any]:
    """How much debt credit loops cancelled: loops settled, cancelled and pending, and the sum of
    amount x hops over the settled ones (each hop's debt went down by the amount)."""
    routes = Route.objects.filter(purpose="loop")
    if since is not None:
        routes = routes.filter(created_at__gte=since)
    outcome = dict(RouteNode.objects.filter(route__in=routes, index=0).values_list("route_id", "outcome"))
    report: dict[str, Any] = {"settled": 0, "cancelled": 0, "disputed": 0, "pending": 0, "debt_cancelled": {}}
    for route in routes:
        state = outcome.get(route.pk, RouteNode.Outcome.PENDING)
        report[state] += 1
        if state == RouteNode.Outcome.SETTLED:
            report["debt_cancelled"][route.currency] = (
                report["debt_cancelled"].get(route.currency, 0) + route.amount * route.hops
            )
    return report
