"""One party's part in one multi-hop payment (docs/spec/routing.md §5-§7): checks and decisions.

A route ``n0 -> n1 -> ... -> nk`` has hops ``0..k-1``; hop ``h`` is the relationship between
``nh`` (the hold's payer) and ``nh+1`` (its payee). The party at index ``j`` has an *incoming* hop
``j-1`` (unless it is the payer) and an *outgoing* hop ``j`` (unless it is the payee). For a credit
loop the payer and the payee are one party, which plays index 0 and index k as two roles.

``check_route`` holds a route to the rules every party checks; ``check_offer`` is what the party at
index ``j`` checks before it countersigns the hold offered on its incoming hop. A ``Node`` is that
party's decision machine for one route: it takes what happened on its two hops (a hold, release or
cancel committed; a proposal refused; the clock) and returns what to do next, as actions the
caller carries out with the bilateral ``Party`` of each relationship. It never sees a network or a
clock of its own: ``now`` is an argument, and every method is a pure function of the node's fields,
which ``to_json``/``from_json`` persist.

The rules that make a route all-or-nothing for honest parties (the argument is §6 of the spec):

- R1: the payee releases only a hold that pays its invoice, and only once per payment;
- R2: a party countersigns a release of a hold it pays only while ``now < expires`` of that hold;
- R3: a party countersigns (or proposes) the cancel of its *incoming* hold only while it does not
  know the preimage and its outgoing hold is refused, cancelled, never proposed, or past its own
  ``expires`` by its clock (so, by R2, can no longer be released);
- R4: once it learns the preimage (its outgoing hold was released), it releases its incoming hold;
- R5: the payer of a hold proposes its cancel only once it has expired; it countersigns a cancel
  its payee proposes at any time (R3 says when that payee may).

A hold whose payee has shown the preimage but whose release came too late (R2) can be neither
released nor cancelled by honest parties: both keep the co-signed hold as the evidence of a
dispute, mark the hop ``disputed`` and stop proposing (spec §6.6).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from foaf.bilateral.model import Cancel, PlaceHold, Release, State
from foaf.bilateral.party import MAX_CLOCK_SKEW
from foaf.bilateral.rules import exposure

from .errors import RouteError, RoutingCode
from .messages import Invoice, RouteProposal

MAX_HOPS = 5  # as the legacy app's path search
MIN_LOOP_HOPS = 3  # m -> x -> m is one relationship both ways, not a loop
MIN_DELTA = 600  # seconds between the expiry of a hold and of the next one downstream
MAX_ROUTE_SECONDS = 86_400  # the first hold expires at most this long after the route's creation
PROPOSAL_SECONDS = 360  # how long a party gives its peer to countersign: a peer whose clock is up to
# MAX_CLOCK_SKEW (300 s) ahead still has a minute before it must answer DEADLINE_PASSED
RELEASE_MARGIN = (
    420  # the payee's last release retry: MAX_CLOCK_SKEW (300 s) plus two minutes of delivery before expiry
)


def side_of_id(state: State, party_id: str) -> str | None:
    """The side (a or b) of the party ``party_id`` in ``state``, or None."""
    return "a" if state.a.id == party_id else "b" if state.b.id == party_id else None


def check_route(route: RouteProposal, *, verify_signature: bool = True) -> None:
    """The route's own rules, in the spec's order (§4.2); raises RouteError with the first broken."""
    hops = route.hops
    loop = route.payer.id == route.payee
    if not 1 <= len(hops) <= MAX_HOPS or (loop and len(hops) < MIN_LOOP_HOPS):
        raise RouteError(RoutingCode.ROUTE_LENGTH, f"{len(hops)} hops")
    if hops[0].from_ != route.payer.id or hops[-1].to != route.payee:
        raise RouteError(RoutingCode.ROUTE_BROKEN, "the hops do not run from the payer to the payee")
    for h in range(len(hops) - 1):
        if hops[h].to != hops[h + 1].from_:
            raise RouteError(RoutingCode.ROUTE_BROKEN, f"hop {h + 1} does not start where hop {h} ends")
    if (route.purpose == "loop") != loop:
        raise RouteError(RoutingCode.BAD_PURPOSE, "a loop is a route from a party to itself, and only that")
    members = route.members
    inner = members[:-1] if loop else members
    if len(set(inner)) != len(inner) or len({h.channel for h in hops}) != len(hops):
        raise RouteError(RoutingCode.ROUTE_NOT_SIMPLE, "a party or a relationship appears twice")
    _check_amounts_and_expiry(route, loop)
    if verify_signature:
        from .messages import _check_sig

        _check_sig(route.payer.key, route.signing_message, route.sig)


def _check_amounts_and_expiry(route: RouteProposal, loop: bool) -> None:
    hops = route.hops
    if hops[-1].amount != route.amount:
        raise RouteError(RoutingCode.BAD_AMOUNTS, "the last hop must hold what the payee is paid")
    for h in range(len(hops) - 1):
        if hops[h].amount < hops[h + 1].amount or (loop and hops[h].amount != hops[h + 1].amount):
            raise RouteError(RoutingCode.BAD_AMOUNTS, f"hop {h} holds less than hop {h + 1}")
    if hops[-1].expires < route.created + MIN_DELTA:
        raise RouteError(RoutingCode.BAD_EXPIRY, "the last hold expires too soon after the route's creation")
    for h in range(len(hops) - 1):
        if hops[h].expires < hops[h + 1].expires + MIN_DELTA:
            raise RouteError(RoutingCode.BAD_EXPIRY, f"hop {h} must expire at least {MIN_DELTA} s after hop {h + 1}")
    if hops[0].expires > route.created + MAX_ROUTE_SECONDS:
        raise RouteError(
            RoutingCode.BAD_EXPIRY, f"the first hold expires more than {MAX_ROUTE_SECONDS} s after creation"
        )


def expected_hold(route: RouteProposal, hop: int, payer_side: str) -> PlaceHold:
    """The exact hold op hop ``hop`` carries, given the side its payer has in that relationship."""
    h = route.hops[hop]
    return PlaceHold(route.hold_id(hop), payer_side, h.amount, route.lock, h.expires)


def hop_of_hold(route: RouteProposal, hold_id: str) -> int | None:
    for h in range(len(route.hops)):
        if route.hold_id(h) == hold_id:
            return h
    return None


def check_offer(
    route: RouteProposal,
    offered: State,
    me: str,
    *,
    now: int,
    invoice: Invoice | None = None,
    paid: bool = False,
    outgoing: State | None = None,
) -> int:
    """What the party ``me`` checks before it countersigns ``offered``, the proposed state that
    adds the hold of one of its incoming hops (§5.1). Returns the hop's index.

    ``invoice``: the payee's own invoice for ``route.payment`` (None if it has none); ``paid``:
    the payee already released a hold for this payment; ``outgoing``: for a party in the middle,
    the head state of its relationship on the next hop (None if it has none)."""
    check_route(route)
    op = offered.update.op
    if not isinstance(op, PlaceHold):
        raise RouteError(RoutingCode.HOLD_MISMATCH, "the offer is not a hold")
    hop = hop_of_hold(route, op.id)
    if hop is None or route.hops[hop].to != me:
        raise RouteError(RoutingCode.NOT_ON_ROUTE, "no hop of this route pays us with this hold")
    h = route.hops[hop]
    payer_side = side_of_id(offered, h.from_)
    if (
        offered.channel != h.channel
        or payer_side is None
        or offered.update.proposer != payer_side
        or offered.member(_other(payer_side)).id != me
        or op != expected_hold(route, hop, payer_side)
        or offered.currency != route.currency
    ):
        raise RouteError(RoutingCode.HOLD_MISMATCH, f"hop {hop}'s hold is not the one the route names")
    if now > h.expires - MIN_DELTA:
        raise RouteError(RoutingCode.TOO_LATE, f"hop {hop} expires in less than {MIN_DELTA} s")
    if route.created > now + MAX_CLOCK_SKEW:
        raise RouteError(RoutingCode.BAD_EXPIRY, "the route was created in the future: its holds would last too long")
    if hop == len(route.hops) - 1:
        _check_payee(route, invoice, paid, now)
    else:
        _check_next_hop(route, hop, me, outgoing)
    if route.purpose == "loop":
        # Each hop of a loop must reduce what its payee owes its payer, holds included.
        my_side = _other(payer_side)
        owed = offered.balance if my_side == "a" else -offered.balance
        incoming = sum(x.amount for x in offered.holds if x.payer == payer_side)
        if owed - incoming < 0:
            raise RouteError(RoutingCode.LOOP_ADDS_DEBT, f"hop {hop} would make us owed more, not owe less")
    return hop


def _check_payee(route: RouteProposal, invoice: Invoice | None, paid: bool, now: int) -> None:
    if invoice is None or invoice.payment != route.payment or invoice.lock != route.lock:
        raise RouteError(RoutingCode.UNKNOWN_PAYMENT, "no invoice of ours for this payment and lock")
    if invoice.amount != route.amount or invoice.currency != route.currency:
        raise RouteError(
            RoutingCode.AMOUNT_MISMATCH, f"the invoice asks {invoice.amount}, the route pays {route.amount}"
        )
    if now >= invoice.expires:
        raise RouteError(RoutingCode.INVOICE_EXPIRED, "the invoice has expired")
    if paid:
        raise RouteError(RoutingCode.ALREADY_PAID, "this payment was already received on another route")


def _check_next_hop(route: RouteProposal, hop: int, me: str, outgoing: State | None) -> None:
    nxt = route.hops[hop + 1]
    my_side = None if outgoing is None else side_of_id(outgoing, me)
    if (
        outgoing is None
        or outgoing.channel != nxt.channel
        or my_side is None
        or outgoing.member(_other(my_side)).id != nxt.to
        or outgoing.status != "open"
    ):
        raise RouteError(RoutingCode.NO_NEXT_HOP, f"no open relationship of ours for hop {hop + 1}")
    lim = outgoing.limit_a_to_b if my_side == "a" else outgoing.limit_b_to_a
    if exposure(outgoing.balance, outgoing.holds, my_side) + nxt.amount > lim:
        raise RouteError("LIMIT_EXCEEDED", f"hop {hop + 1} cannot carry {nxt.amount}")


def _other(side: str) -> str:
    return "b" if side == "a" else "a"


# ---------------------------------------------------------------- the decision machine
class HopState(enum.StrEnum):
    NONE = "none"  # nothing proposed yet
    PROPOSED = "proposed"  # our hold proposal is out (outgoing only)
    HELD = "held"
    RELEASED = "released"
    REFUSED = "refused"  # our hold proposal was rejected, or could not be made (outgoing only)
    CANCELLED = "cancelled"
    DISPUTED = "disputed"  # held for good: the preimage was shown too late; the hold is the evidence


class Outcome(enum.StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class ProposeHold:
    hop: int
    channel: str
    op: PlaceHold


@dataclass(frozen=True, slots=True)
class ProposeRelease:
    hop: int
    channel: str
    op: Release


@dataclass(frozen=True, slots=True)
class ProposeCancel:
    hop: int
    channel: str
    op: Cancel
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    """Tell the payer (and, for a cancel, the party upstream) what happened on ``hop``."""

    hop: int
    status: str
    reason: str


Action = ProposeHold | ProposeRelease | ProposeCancel | Report


@dataclass
class Node:
    """The party at ``index`` of ``route``: ``side_in``/``side_out`` are its sides in the
    relationships of its incoming and outgoing hops (None where it has none)."""

    route: RouteProposal
    index: int
    side_in: str | None
    side_out: str | None
    preimage: str | None = None  # the payee's own; anyone else's once learned from a release
    incoming: HopState = HopState.NONE
    outgoing: HopState = HopState.NONE
    outcome: Outcome = Outcome.PENDING
    reason: str = "OK"

    def __post_init__(self) -> None:
        k = len(self.route.hops)
        if not 0 <= self.index <= k:
            raise ValueError(f"index {self.index} is not on a route of {k} hops")
        if (self.index > 0) != (self.side_in is not None) or (self.index < k) != (self.side_out is not None):
            raise ValueError(
                "a node has an incoming side exactly when it is not the payer, an outgoing one when not the payee"
            )
        if self.preimage is not None and hashlib.sha256(bytes.fromhex(self.preimage)).hexdigest() != self.route.lock:
            raise ValueError("the preimage does not open the route's lock")

    # ------------------------------------------------------------ views
    @property
    def is_payer(self) -> bool:
        return self.index == 0

    @property
    def is_payee(self) -> bool:
        return self.index == len(self.route.hops)

    @property
    def hop_in(self) -> int:
        return self.index - 1

    @property
    def hop_out(self) -> int:
        return self.index

    def _expires_out(self) -> int:
        return self.route.hops[self.hop_out].expires

    def _expires_in(self) -> int:
        return self.route.hops[self.hop_in].expires

    # ------------------------------------------------------------ starting
    def start(self) -> list[Action]:
        """The payer's first step: offer the hold of hop 0."""
        if not self.is_payer or self.outgoing is not HopState.NONE:
            return []
        return [self._hold_out()]

    def _hold_out(self) -> ProposeHold:
        assert self.side_out is not None
        self.outgoing = HopState.PROPOSED
        hop = self.hop_out
        return ProposeHold(hop, self.route.hops[hop].channel, expected_hold(self.route, hop, self.side_out))

    # ------------------------------------------------------------ what happened on our hops
    def incoming_held(self) -> list[Action]:
        """The incoming hold is co-signed: the payee claims it, a party in the middle passes it on."""
        if self.is_payer or self.incoming is not HopState.NONE:
            return []
        self.incoming = HopState.HELD
        actions: list[Action] = [Report(self.hop_in, "held", "OK")]
        if self.is_payee:
            actions += self._release_in()
        else:
            actions.append(self._hold_out())
        return actions

    def outgoing_held(self) -> list[Action]:
        if self.outgoing is HopState.PROPOSED:
            self.outgoing = HopState.HELD
        return []

    def outgoing_refused(self, reason: str) -> list[Action]:
        """Our outgoing hold proposal was rejected (or could not be made): it will never commit."""
        if self.outgoing not in (HopState.PROPOSED, HopState.NONE):
            return []
        self.outgoing = HopState.REFUSED
        return self._downstream_failed(reason)

    def outgoing_cancelled(self, reason: str = RoutingCode.DOWNSTREAM_FAILED) -> list[Action]:
        """A cancel of our outgoing hold committed (either side proposed it; for a disputed hold,
        its payee gave the dispute up: the ledger is what counts)."""
        if self.outgoing not in (HopState.PROPOSED, HopState.HELD, HopState.DISPUTED):
            return []
        self.outgoing = HopState.CANCELLED
        return self._downstream_failed(reason)

    def _downstream_failed(self, reason: str) -> list[Action]:
        if self.is_payer or self.incoming is HopState.CANCELLED:
            return self._finish(Outcome.CANCELLED, self.reason if self.reason != "OK" else reason)
        if self.incoming is HopState.HELD and self.preimage is None:
            return [self._cancel_in(RoutingCode.DOWNSTREAM_FAILED if reason == "OK" else reason)]
        return []

    def outgoing_released(self, preimage: str) -> list[Action]:
        """The release of our outgoing hold committed: we paid, and we learned the preimage (R4)."""
        if self.outgoing is HopState.RELEASED:
            return []
        self.outgoing = HopState.RELEASED
        self.preimage = preimage
        if self.is_payer:
            return self._finish(Outcome.SETTLED, "OK")
        if self.incoming is HopState.HELD:
            return self._release_in()
        return []

    def incoming_released(self) -> list[Action]:
        if self.incoming is HopState.RELEASED:
            return []
        self.incoming = HopState.RELEASED
        actions: list[Action] = [Report(self.hop_in, "settled", "OK")]
        if self.is_payee or self.outgoing is HopState.RELEASED:
            actions += self._finish(Outcome.SETTLED, "OK")
        return actions

    def incoming_cancelled(self, reason: str | None = None) -> list[Action]:
        """A cancel of our incoming hold committed; ``reason`` defaults to why we asked for it."""
        if self.incoming in (HopState.CANCELLED, HopState.RELEASED):
            return []
        self.incoming = HopState.CANCELLED
        if reason is None:
            reason = self.reason if self.reason != "OK" else RoutingCode.HOLD_TIMED_OUT
        actions: list[Action] = [Report(self.hop_in, "cancelled", reason)]
        if self.outgoing in (HopState.PROPOSED, HopState.HELD):
            return actions  # not finished: the clock still cancels the outgoing hold past its expiry (R5)
        if self.outgoing is HopState.DISPUTED:
            return actions + self._finish(Outcome.DISPUTED, RoutingCode.PREIMAGE_KNOWN)
        return actions + self._finish(Outcome.CANCELLED, reason)

    def outgoing_cancel_refused(self, reason: str) -> list[Action]:
        """Our cancel of our expired outgoing hold was refused with ``PREIMAGE_KNOWN``: its payee
        showed the preimage, too late for us to countersign the release (R2). The hold stays as the
        evidence of a dispute; we stop asking. Other reasons change nothing (the clock asks again)."""
        if reason != RoutingCode.PREIMAGE_KNOWN or self.outgoing is not HopState.HELD:
            return []
        self.outgoing = HopState.DISPUTED
        if self.is_payer or self.incoming is HopState.CANCELLED:
            return self._finish(Outcome.DISPUTED, RoutingCode.PREIMAGE_KNOWN)
        return []

    def incoming_cancel_refused(self, reason: str, *, now: int) -> list[Action]:
        """We refused our payer's cancel of our incoming hold because we showed the preimage
        (``PREIMAGE_KNOWN``). The payer may propose that cancel only once the hold has expired by
        its clock (R5, ``created >= expires``), and from then on it countersigns no release (R2):
        the hold is disputed from now on, whatever our own clock says."""
        if reason != RoutingCode.PREIMAGE_KNOWN:
            return []
        return self.incoming_release_refused(RoutingCode.RELEASE_TOO_LATE)

    def incoming_release_refused(self, reason: str) -> list[Action]:
        """Our release of our incoming hold was refused with ``RELEASE_TOO_LATE``: the preimage is
        shown, the hold can no longer be released by an honest payer nor cancelled by us (R1, R3).
        It stays as the evidence of a dispute; we report it and stop asking."""
        if reason != RoutingCode.RELEASE_TOO_LATE or self.incoming is not HopState.HELD:
            return []
        self.incoming = HopState.DISPUTED
        actions: list[Action] = [Report(self.hop_in, "disputed", reason)]
        if self.is_payee or self.outgoing in (HopState.RELEASED, HopState.DISPUTED):
            actions += self._finish(Outcome.DISPUTED, reason)
        return actions

    # ------------------------------------------------------------ decisions on the peers' proposals
    def may_countersign_release(self, *, now: int) -> str | None:
        """R2: None to countersign the release of our outgoing hold, else the reject reason."""
        if now >= self._expires_out():
            return RoutingCode.RELEASE_TOO_LATE
        return None

    def may_countersign_cancel(self, hop: int, *, now: int) -> str | None:
        """R3/R5: None to countersign a cancel of hop ``hop`` proposed by the peer, else the reason."""
        if self.is_payer or hop != self.hop_in:
            return None  # our outgoing hold: its payee gives up being paid, always fine
        if self.is_payee:
            # R1: the payee proposed its release as soon as the hold was held, showing the preimage
            # to the party upstream; cancelling now would let that party claim upstream with it.
            return RoutingCode.PREIMAGE_KNOWN
        if self.preimage is not None or self.outgoing is HopState.RELEASED:
            return RoutingCode.PREIMAGE_KNOWN
        if self.outgoing in (HopState.PROPOSED, HopState.HELD) and now < self._expires_out():
            return RoutingCode.OUTGOING_OPEN
        return None

    # ------------------------------------------------------------ the clock
    def tick(self, *, now: int) -> list[Action]:
        """What to (re)do at ``now``: the caller skips an action whose proposal is already out, and
        reports back through the methods above. Proposals lost on the way are proposed again here."""
        actions: list[Action] = []
        if self.outcome is not Outcome.PENDING and self.outgoing is not HopState.HELD:
            return actions
        if self.incoming is HopState.HELD and self.preimage is not None and now >= self._expires_in():
            # Past expiry no honest payer countersigns our release (R2) and we cancel nothing (R1,
            # R3): the hold is disputed.
            return actions + self.incoming_release_refused(RoutingCode.RELEASE_TOO_LATE)
        if self.incoming is HopState.HELD and self.preimage is not None:
            # R4, retried until it commits: a party in the middle paid downstream and keeps asking
            # until its hold expires; the payee only while there is margin (R1, §7 timing).
            limit = self._expires_in() - (RELEASE_MARGIN if self.is_payee else 0)
            if now < limit:
                actions += self._release_in()
        if (
            self.outgoing is HopState.PROPOSED
            and (self.is_payer or self.incoming is HopState.HELD)
            and now <= self._expires_out() - MIN_DELTA
        ):
            actions.append(self._hold_out())  # not committed yet: offer it again (a late accept still counts)
        if not self.is_payee and self.outgoing is HopState.HELD and now >= self._expires_out():
            hop = self.hop_out
            actions.append(
                ProposeCancel(
                    hop, self.route.hops[hop].channel, Cancel(self.route.hold_id(hop)), RoutingCode.HOLD_TIMED_OUT
                )
            )  # R5: the payer of an expired hold takes its credit back
        if self._may_cancel_in(now):
            reason = (
                RoutingCode.DOWNSTREAM_FAILED
                if self.outgoing in (HopState.REFUSED, HopState.CANCELLED)
                else RoutingCode.HOLD_TIMED_OUT
            )
            actions.append(self._cancel_in(reason))  # R3: safe to give up, tell upstream at once
        return actions

    def _may_cancel_in(self, now: int) -> bool:
        """R3: a party in the middle that does not know the preimage gives up its incoming hold."""
        if self.is_payer or self.incoming is not HopState.HELD:
            return False
        if self.is_payee or self.preimage is not None:
            return False  # the preimage is out: keep the co-signed hold, it is the evidence (§6)
        return self.outgoing in (HopState.REFUSED, HopState.CANCELLED) or now >= self._expires_out()

    # ------------------------------------------------------------ helpers
    def _release_in(self) -> list[Action]:
        assert self.preimage is not None
        hop = self.hop_in
        return [ProposeRelease(hop, self.route.hops[hop].channel, Release(self.route.hold_id(hop), self.preimage))]

    def _cancel_in(self, reason: str) -> ProposeCancel:
        if self.reason == "OK":
            self.reason = reason  # why we gave up, kept for the report once the cancel commits
        hop = self.hop_in
        return ProposeCancel(hop, self.route.hops[hop].channel, Cancel(self.route.hold_id(hop)), reason)

    def _finish(self, outcome: Outcome, reason: str) -> list[Action]:
        # A dispute ends when the two parties resolve the hold after all (released or cancelled):
        # the node follows the ledger.
        if self.outcome is Outcome.PENDING or (self.outcome is Outcome.DISPUTED and outcome is not Outcome.DISPUTED):
            self.outcome = outcome
            self.reason = reason
        return []

    # ------------------------------------------------------------ persistence
    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["route"] = self.route.to_json()
        for k in ("incoming", "outgoing", "outcome"):
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        return cls(
            route=RouteProposal.from_json(d["route"]),
            index=d["index"],
            side_in=d["side_in"],
            side_out=d["side_out"],
            preimage=d["preimage"],
            incoming=HopState(d["incoming"]),
            outgoing=HopState(d["outgoing"]),
            outcome=Outcome(d["outcome"]),
            reason=d["reason"],
        )


def route_progress(route: RouteProposal, payer: Node | None, reports: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """The payer's view of a route (the progress API's body): ``outcome`` and ``reason`` from the
    payer's node, and per hop the newest signed report of its payee, ``(status, reason)``.

    A hop nobody reported on is ``proposed``, except hop 0, which the payer knows first hand (held,
    or refused before it was ever held). ``reason`` names the first cause: a cancel carries no
    reason of its own, so ``DOWNSTREAM_FAILED`` gives way to the first report that says why."""
    outcome = Outcome.PENDING if payer is None else payer.outcome
    reason = "OK" if payer is None else payer.reason
    hops: list[dict[str, Any]] = []
    for h in range(len(route.hops)):
        status, why = reports.get(h, ("proposed", "OK"))
        if h == 0 and h not in reports and payer is not None:
            if payer.outgoing is HopState.REFUSED:
                status, why = "cancelled", payer.reason
            elif payer.outgoing in (HopState.HELD, HopState.RELEASED, HopState.CANCELLED, HopState.DISPUTED):
                status = {"held": "held", "released": "settled", "cancelled": "cancelled", "disputed": "disputed"}[
                    payer.outgoing.value
                ]
                if status in ("cancelled", "disputed"):
                    why = payer.reason if payer.reason != "OK" else RoutingCode.HOLD_TIMED_OUT
        hops.append({"hop": h, "status": status, "reason": why})
    if reason == RoutingCode.DOWNSTREAM_FAILED:
        causes = [str(x["reason"]) for x in hops if x["status"] == "cancelled"]
        reason = next((c for c in causes if c not in ("OK", RoutingCode.DOWNSTREAM_FAILED)), reason)
    return {
        "payment": route.payment,
        "route_hash": route.route_hash,
        "outcome": str(outcome),
        "reason": reason,
        "hops": hops,
    }
