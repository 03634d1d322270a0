"""``/v1/admin/credit_loops*`` and ``/v1/subnets/:id/graph`` (API.md "Admin and profile"):
superusers only (an imported ``user_groups`` row with ``group_label`` 7, "superuser").

Credit loops are this service's own: the routes of purpose ``loop`` that ``hosting.loops_cancel``
(``manage.py cancel_loops``) started, with their outcome from the route nodes. The subnet graph is
the imported subnet, its contacts and trustlines, balances from the bilateral heads.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from foaf import bilateral as core
from foaf.ledger.models import Relationship, Route, RouteNode, StateEntry
from foaf.ledger.services import entry_from_row
from foaf.routing.messages import RouteProposal
from migration import models as m
from migration.api import lines
from migration.api.foaf_reads import party_names
from migration.api.shapes import GROUP_LABELS, iso8601
from migration.api.views import RAILS_NOT_FOUND, LegacyView

SUPERUSER = 7  # user_groups.group_label
SUPERUSER_REQUIRED = "Superuser access required"
SHADOW_OFF = {"error": "FOAF shadow mode is not enabled"}
DEFAULT_LIMIT = 20
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


def is_superuser(member: m.Member) -> bool:
    return m.Role.objects.filter(member_legacy_id=member.legacy_id, group_label=SUPERUSER).exists()


def ruby_to_i(value: Any, default: int) -> int:
    """Ruby's ``to_i`` of a parameter: its leading integer, 0 when none."""
    if value is None:
        return default
    match = _LEADING_INT.match(str(value))
    return int(match.group(1)) if match else 0


# ------------------------------------------------------------------ credit loops
def _message(route: Route) -> RouteProposal:
    return RouteProposal.from_json(core.parse(route.canonical.encode()))


def _outcomes(routes: list[Route]) -> dict[int, str]:
    rows = RouteNode.objects.filter(route__in=routes, index=0).values_list("route_id", "outcome")
    return dict(rows)


def _address(party_id: str, names: dict[str, str]) -> dict[str, Any]:
    return {"address": party_id, "name": names.get(party_id)}


def loop_summary(route: Route, message: RouteProposal, names: dict[str, str], outcome: str) -> dict[str, Any]:
    return {
        "operation_id": route.pk,
        "detected_at": iso8601(route.created_at),
        "cancellable_amount": lines.dollars(route.amount),
        "hop_count": route.hops,
        "path": [_address(p, names) for p in message.members],
        "outcome": outcome,  # added: pending, settled, cancelled or disputed
    }


def loops_list(limit: int) -> dict[str, Any]:
    routes = list(Route.objects.filter(purpose="loop").order_by("-created_at", "-pk")[:limit])
    messages = {r.pk: _message(r) for r in routes}
    names = party_names({p for msg in messages.values() for p in msg.members})
    outcomes = _outcomes(routes)
    return {
        "credloops": [
            loop_summary(r, messages[r.pk], names, outcomes.get(r.pk, RouteNode.Outcome.PENDING)) for r in routes
        ]
    }


def _debt_of(state: core.State, debtor_side: str) -> int:
    return state.balance if debtor_side == "a" else -state.balance


def _hop_debts(rel: Relationship, hold_id: str, debtor_side: str) -> tuple[int | None, int | None]:
    """What the hop's debtor owed when its hold was placed, and after its release (the same when
    it was never released)."""
    pre = post = None
    for row in StateEntry.objects.filter(relationship=rel, canonical__contains=hold_id).order_by("seq"):
        state = entry_from_row(row).state
        op = state.update.op
        if isinstance(op, core.PlaceHold) and op.id == hold_id:
            pre = post = _debt_of(state, debtor_side)
        elif isinstance(op, core.Release) and op.id == hold_id:
            post = _debt_of(state, debtor_side)
    return pre, post


def loop_detail(route: Route) -> dict[str, Any]:
    message = _message(route)
    names = party_names(set(message.members))
    outcome = _outcomes([route]).get(route.pk, RouteNode.Outcome.PENDING)
    rels = {
        r.channel_id: r
        for r in Relationship.objects.filter(channel_id__in=[h.channel for h in message.hops]).select_related(
            "party_a", "legacy_trustline"
        )
    }
    hops = []
    for i, hop in enumerate(message.hops):
        # Paying from -> to lowers what `to` owes `from`: `to` is the debtor, `from` the creditor.
        rel = rels.get(hop.channel)
        pre = post = None
        line_id = None
        if rel is not None:
            debtor_side = "a" if rel.party_a.party_id == hop.to else "b"
            pre, post = _hop_debts(rel, message.hold_id(i), debtor_side)
            line = getattr(rel, "legacy_trustline", None)
            line_id = line.legacy_id if line is not None else None
        hops.append(
            {
                "debtor": _address(hop.to, names),
                "creditor": _address(hop.from_, names),
                "trustline_id": line_id,
                "pre_debt": None if pre is None else lines.dollars(pre),
                "post_debt": None if post is None else lines.dollars(post),
            }
        )
    return {**loop_summary(route, message, names, outcome), "hops": hops, "triggered_by": None}


class _SuperuserView(LegacyView):
    refused_body: dict[str, Any] = {"error": SUPERUSER_REQUIRED}

    def refused(self) -> Response | None:
        if not is_superuser(self.caller.member):
            return Response(self.refused_body, status=403)
        return None


class CreditLoopsView(_SuperuserView):
    def get(self, request: Request) -> HttpResponseBase:
        if (refused := self.refused()) is not None:
            return refused
        if not settings.LEGACY_FOAF_READS_ENABLED:
            return Response(SHADOW_OFF, status=400)
        limit = max(ruby_to_i(request.query_params.get("limit"), DEFAULT_LIMIT), 1)
        return Response(loops_list(limit))


class CreditLoopView(_SuperuserView):
    def get(self, request: Request, operation_id: str) -> HttpResponseBase:
        if (refused := self.refused()) is not None:
            return refused
        if not settings.LEGACY_FOAF_READS_ENABLED:
            return Response(SHADOW_OFF, status=400)
        route = Route.objects.filter(pk=int(operation_id)).first() if operation_id.isdigit() else None
        if route is None:
            return Response({"error": "Operation not found"}, status=404)
        if route.purpose != "loop":
            return Response({"error": f"Operation #{operation_id} is not a credit-loop cancellation"}, status=404)
        return Response(loop_detail(route))


# ------------------------------------------------------------------ subnet graph
def ruby_capitalize(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


def _item(listing: m.Listing) -> str:
    """``"<qty><unit> <name>"``: the quantity's integer part; the import keeps no item units."""
    qty = int(listing.quantity) if listing.quantity is not None else 0
    return f"{qty} {listing.name or ''}"


def graph(subnet: m.Subnet) -> dict[str, Any]:
    member_ids = list(
        m.SubnetMembership.objects.filter(subnet_legacy_id=subnet.legacy_id).values_list("member_legacy_id", flat=True)
    )
    members = list(m.Member.objects.filter(legacy_id__in=member_ids).order_by("legacy_id"))
    roles: dict[int, list[str]] = {}
    for member_id, label in (
        m.Role.objects.filter(member_legacy_id__in=member_ids)
        .order_by("legacy_id")
        .values_list("member_legacy_id", "group_label")
    ):
        name = GROUP_LABELS.get(label, str(label)) if label is not None else None
        if name != "demo":
            roles.setdefault(member_id, []).append(name)  # type: ignore[arg-type]
    items: dict[int, list[str]] = {}
    for listing in m.Listing.objects.filter(member_legacy_id__in=member_ids).order_by("legacy_id"):
        assert listing.member_legacy_id is not None
        items.setdefault(listing.member_legacy_id, []).append(_item(listing))
    nodes = [
        {
            "id": x.legacy_id,
            "user_name": x.user_name,
            "name": x.name or ruby_capitalize(x.user_name),
            "roles": roles.get(x.legacy_id, []),
            "parent_id": x.inviter_legacy_id,
            "depth": x.depth or 0,
            "items": items.get(x.legacy_id, []),
        }
        for x in members
    ]
    edges: list[dict[str, Any]] = [
        {"source_id": user, "target_id": friend, "type": "relationship"}
        for user, friend in m.Contact.objects.filter(user_legacy_id__in=member_ids, friend_legacy_id__in=member_ids)
        .order_by("legacy_id")
        .values_list("user_legacy_id", "friend_legacy_id")
    ]
    for line in (
        m.Trustline.objects.filter(user_a_legacy_id__in=member_ids, user_b_legacy_id__in=member_ids)
        .select_related("relationship")
        .order_by("legacy_id")
    ):
        balance = line.relationship.balance if line.relationship is not None else line.cached_balance
        edges.append(
            {
                "source_id": line.user_a_legacy_id,
                "target_id": line.user_b_legacy_id,
                "type": "trustline",
                "balance": lines.dollars(balance),
            }
        )
    return {"subnet_id": subnet.legacy_id, "subnet_name": subnet.name, "nodes": nodes, "edges": edges}


class SubnetGraphView(_SuperuserView):
    refused_body = {"message": SUPERUSER_REQUIRED}

    def get(self, request: Request, subnet_id: str) -> HttpResponseBase:
        if (refused := self.refused()) is not None:
            return refused
        subnet = m.Subnet.objects.filter(legacy_id=int(subnet_id)).first() if subnet_id.isdigit() else None
        if subnet is None:
            return Response(RAILS_NOT_FOUND, status=404)
        return Response(graph(subnet))
