"""``/v1/foaf/trustlines*`` (API.md "FOAF reads"): Rails' shadow comparison, now between the
imported Rails columns and the bilateral state this service keeps.

- FOAF ROW: ``app`` is the ``Trustline`` row's columns (limits, ``cached_balance``); ``foaf`` the
  relationship's head seen from A (``raw``: ``given`` = limit B→A, ``received`` = limit A→B,
  ``balance`` = minus the head balance, i.e. > 0 when B owes A). Numbers are dollars in both, as the FOAF
  ledger's numbers were (Rails compared them with ``to_f`` of its columns).
- EVENT ROW: the imported history (``HistoryRow``, legacy ids, oldest first) and then the
  relationship's log after its imported prefix (id = the state's ``seq``, the "block number").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from foaf import bilateral as core
from foaf.ledger import services
from foaf.ledger.models import Party, Relationship, Route, StateEntry
from foaf.routing.messages import RouteProposal
from migration import models as m
from migration.api import lines
from migration.api.views import LegacyView

NOT_FOUND = {"error": "Trustline not found"}
FORBIDDEN = {"error": "You don't have access to this trustline"}
PUBLISHING_OFF = {"error": "FOAF publishing is not enabled"}
NO_ADDRESS = "One or both users have no FOAF address"

# History rows' legacy transaction types as EVENT ROW types (the four the apps know).
HISTORY_TYPES = {"payment": "payment", "settlement": "settlement", "adjustment": "adjustment", "credloop": "credloop"}


def event_time(moment: dt.datetime) -> str:
    """Ruby's ``Time.at(unix).iso8601`` on a UTC host: seconds, a numeric offset."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


# ------------------------------------------------------------------ FOAF ROW
def foaf_row(line: m.Trustline, names: dict[int, str]) -> dict[str, Any]:
    app = {
        "credit_limit_a_to_b": lines.dollars(line.credit_limit_a_to_b),
        "credit_limit_b_to_a": lines.dollars(line.credit_limit_b_to_a),
        "balance": lines.dollars(line.cached_balance),
    }
    row: dict[str, Any] = {
        "trustline_id": line.legacy_id,
        "user_a": names.get(line.user_a_legacy_id),
        "user_b": names.get(line.user_b_legacy_id),
        "app": app,
        "foaf": None,
        "match": None,
        "discrepancies": [],
    }
    rel = line.relationship
    if rel is None:
        row["discrepancies"].append({"field": "trustline", "error": "Not found in FOAF"})
        row["match"] = False
        return row
    foaf = {
        "credit_limit_a_to_b": lines.dollars(rel.limit_a_to_b),
        "credit_limit_b_to_a": lines.dollars(rel.limit_b_to_a),
        "balance": lines.dollars(rel.balance),
        "raw": {
            "given": lines.dollars(rel.limit_b_to_a),
            "received": lines.dollars(rel.limit_a_to_b),
            "balance": lines.dollars(-rel.balance),
        },
    }
    row["foaf"] = foaf
    for name in ("credit_limit_a_to_b", "credit_limit_b_to_a", "balance"):
        if app[name] != foaf[name]:
            row["discrepancies"].append({"field": name, "app": app[name], "foaf": foaf[name]})
    row["match"] = not row["discrepancies"]
    return row


def user_names(line_rows: list[m.Trustline]) -> dict[int, str]:
    ids = {x for line in line_rows for x in (line.user_a_legacy_id, line.user_b_legacy_id)}
    return dict(m.Member.objects.filter(legacy_id__in=ids).values_list("legacy_id", "user_name"))


def comparison(caller: m.Member) -> dict[str, Any]:
    rows_of = list(lines.lines_of(caller).filter(is_active=True).select_related("relationship").order_by("legacy_id"))
    names = user_names(rows_of)
    rows = [foaf_row(line, names) for line in rows_of]
    return {
        "summary": {
            "total": len(rows),
            "matches": sum(1 for r in rows if r["match"] is True),
            "discrepancies": sum(1 for r in rows if r["match"] is False),
            "unlinked": sum(1 for r in rows if r["match"] is None),
        },
        "trustlines": rows,
    }


# ------------------------------------------------------------------ routes through a line
@dataclass
class RouteHop:
    route: Route
    message: RouteProposal
    hop: int


def route_hops(rel: Relationship) -> dict[str, RouteHop]:
    """Hold id -> the route and hop it belongs to, for every route stored here through ``rel``."""
    found: dict[str, RouteHop] = {}
    routes = Route.objects.filter(nodes__party__in=[rel.party_a_id, rel.party_b_id]).distinct()
    for route in routes:
        message = RouteProposal.from_json(core.parse(route.canonical.encode()))
        for i, hop in enumerate(message.hops):
            if hop.channel == rel.channel_id:
                found[message.hold_id(i)] = RouteHop(route, message, i)
    return found


# ------------------------------------------------------------------ EVENT ROWs
@dataclass
class _Ctx:
    line: m.Trustline
    rel: Relationship
    caller: m.Member
    members: dict[int, m.Member]  # by legacy id
    by_party: dict[str, m.Member]  # by party id
    labels: dict[int, str] = field(default_factory=dict)

    def member_of_side(self, side: str) -> m.Member | None:
        return self.members.get(self.line.user_a_legacy_id if side == "a" else self.line.user_b_legacy_id)


def _row(
    ctx: _Ctx,
    *,
    id_: int,
    amount: int,
    description: str | None,
    transaction_type: str,
    initiator: m.Member | None,
    order_id: int | None,
    created_at: dt.datetime,
    path_info: Any,
    classification: str,
    source: str,
    is_reversed: bool = False,
) -> dict[str, Any]:
    return {
        "transaction": {
            "id": id_,
            "trustline_id": ctx.line.legacy_id,
            "amount": lines.dollars(amount),
            "description": description,
            "transaction_type": transaction_type,
            "initiated_by_id": initiator.legacy_id if initiator else None,
            "originating_request_id": None,
            "order_id": order_id,
            "balance_after": 0.0,
            "is_reversed": is_reversed,
            "created_at": event_time(created_at),
            "initiated_by_name": initiator.user_name if initiator else None,
            "order_label": None,
            "path_info": path_info,
        },
        "balance_before": 0.0,
        "source_classification": classification,
        "balance_mismatch": False,
        "missing_linkage": False,
        "source": source,
    }


def _history_rows(ctx: _Ctx) -> list[tuple[dict[str, Any], int, int | None]]:
    """(row, delta A-side, the legacy balance_after column) per imported history row, oldest first."""
    out = []
    for h in m.HistoryRow.objects.filter(trustline=ctx.line).order_by("legacy_id"):
        try:
            path = json.loads(h.path_info) if h.path_info else None
        except ValueError:
            path = None
        kind = HISTORY_TYPES.get(h.transaction_type, "adjustment")  # e.g. "reversal"
        if kind == "adjustment":
            classification = "adjustment"
        elif h.order_id:
            classification = "order_settlement"
        else:
            classification = "direct_payment" if kind != "credloop" else "credloop"
        row = _row(
            ctx,
            id_=h.legacy_id,
            amount=h.amount,
            description=h.description,
            transaction_type=kind,
            initiator=ctx.members.get(h.initiated_by_legacy_id),
            order_id=h.order_id,
            created_at=h.created_at,
            path_info=path if isinstance(path, dict) else None,
            classification=classification,
            source="imported_history",
            is_reversed=h.is_reversed,
        )
        out.append((row, h.delta or 0, h.balance_after))
    return out


def _loop_row(ctx: _Ctx, where: RouteHop, amount: int, seq: int, created: dt.datetime) -> dict[str, Any]:
    """A credit loop's release on this line: "Offset by your balance with <the loop's other
    neighbour of the caller>"."""
    route_members = list(where.message.members)
    inner = route_members[:-1] if len(route_members) > 1 and route_members[0] == route_members[-1] else route_members
    caller_party = ctx.caller.party.party_id
    counterparty = ctx.rel.party_b if ctx.rel.party_a.party_id == caller_party else ctx.rel.party_a
    other: m.Member | None = None
    if caller_party in inner:
        idx = inner.index(caller_party)
        prev_p, next_p = inner[(idx - 1) % len(inner)], inner[(idx + 1) % len(inner)]
        other = ctx.by_party.get(next_p if prev_p == counterparty.party_id else prev_p)
    other_name = other.user_name if other else "another user"
    other_line = None
    if other is not None:
        pair = sorted((ctx.caller.legacy_id, other.legacy_id))
        other_line = (
            m.Trustline.objects.filter(user_a_legacy_id=pair[0], user_b_legacy_id=pair[1])
            .values_list("legacy_id", flat=True)
            .first()
        )
    return _row(
        ctx,
        id_=seq,
        amount=amount,
        description=f"Offset by your balance with {other_name}",
        transaction_type="credloop",
        initiator=None,
        order_id=None,
        created_at=created,
        path_info={"hops": route_members, "other_user": other_name, "other_trustline_id": other_line},
        classification="credloop",
        source="ledger",
    )


def _ledger_rows(ctx: _Ctx) -> list[tuple[dict[str, Any], int, int]]:
    """(row, balance before, balance after; A's side) per state after the imported prefix that
    moved the balance or changed a limit, oldest first. The imported prefix (genesis and catch-up
    states) is the history rows, listed from ``HistoryRow``."""
    writes = {
        w.seq: w
        for w in m.LegacyWrite.objects.filter(relationship=ctx.rel, write_state=m.LegacyWrite.State.POSTED)
        .exclude(seq=None)
        .order_by("pk")
    }
    path_writes = {
        w.route_hash: w for w in m.LegacyWrite.objects.filter(trustline=ctx.line).exclude(route_hash="").order_by("pk")
    }
    holds: dict[str, core.PlaceHold] = {}
    routes: dict[str, RouteHop] | None = None
    out: list[tuple[dict[str, Any], int, int]] = []
    prev_balance: int | None = None
    for entry in StateEntry.objects.filter(relationship=ctx.rel).order_by("seq").iterator(chunk_size=500):
        state = services.entry_from_row(entry).state
        op = state.update.op
        before = prev_balance if prev_balance is not None else state.balance
        prev_balance = state.balance
        created = services.unix_to_datetime(state.update.created)
        if isinstance(op, core.Import | core.ImportSync):
            continue
        write = writes.get(state.seq)
        row: dict[str, Any] | None = None
        if isinstance(op, core.Payment | core.Settlement):
            kind = "payment" if isinstance(op, core.Payment) else "settlement"
            if write is not None and write.transaction_type == "adjustment":
                kind = "adjustment"
            row = _row(
                ctx,
                id_=state.seq,
                amount=op.amount,
                description=write.description if write is not None else op.memo,
                transaction_type=kind,
                initiator=ctx.member_of_side(op.from_),
                order_id=None,
                created_at=created,
                path_info=None,
                classification="adjustment" if kind == "adjustment" else "direct_payment",
                source="ledger",
            )
        elif isinstance(op, core.SetLimit):
            given, received = lines.dollars(state.limit_b_to_a), lines.dollars(state.limit_a_to_b)
            proposer = state.update.proposer
            row = _row(
                ctx,
                id_=state.seq,
                amount=0,
                description=f"Limits updated (given: ${given!r}, received: ${received!r})",
                transaction_type="adjustment",
                initiator=ctx.member_of_side(proposer) if proposer in ("a", "b") else None,
                order_id=None,
                created_at=created,
                path_info=None,
                classification="adjustment",
                source="ledger",
            )
        elif isinstance(op, core.PlaceHold):
            holds[op.id] = op
        elif isinstance(op, core.Release) and op.id in holds:
            hold = holds[op.id]
            if routes is None:
                routes = route_hops(ctx.rel)
            where = routes.get(op.id)
            if where is not None and where.route.purpose == "loop":
                row = _loop_row(ctx, where, hold.amount, state.seq, created)
            else:
                members = list(where.message.members) if where is not None else []
                path_write = path_writes.get(where.route.route_hash) if where is not None else None
                row = _row(
                    ctx,
                    id_=state.seq,
                    amount=hold.amount,
                    description=path_write.description if path_write is not None else "",
                    transaction_type="payment",
                    initiator=ctx.member_of_side(hold.from_),
                    order_id=None,
                    created_at=created,
                    path_info={"hops": members} if len(members) > 2 else None,
                    classification="direct_payment",
                    source="ledger",
                )
        if row is not None:
            row["state_hash"] = entry.state_hash
            out.append((row, before, state.balance))
    return out


def events(caller: m.Member, line: m.Trustline) -> dict[str, Any]:
    rel = line.relationship
    if rel is None:
        return {"rows": [], "warning": NO_ADDRESS}
    rel = Relationship.objects.select_related("party_a", "party_b").get(pk=rel.pk)
    ids = {line.user_a_legacy_id, line.user_b_legacy_id}
    ids.update(m.HistoryRow.objects.filter(trustline=line).values_list("initiated_by_legacy_id", flat=True))
    # Members on routes through the line (loop neighbours): all members with a party on such a route.
    route_party_ids: set[str] = set()
    for hop in route_hops(rel).values():
        route_party_ids.update(hop.message.members)
    members = {x.legacy_id: x for x in m.Member.objects.filter(legacy_id__in=ids).select_related("party")}
    by_party = {x.party.party_id: x for x in members.values()}
    for x in m.Member.objects.filter(party__party_id__in=route_party_ids - set(by_party)).select_related("party"):
        by_party[x.party.party_id] = x
    caller = members.get(caller.legacy_id, caller)
    ctx = _Ctx(line, rel, caller, members, by_party)
    sign = 1 if lines.side_of(line, caller) == "a" else -1  # > 0: the caller owes

    rows: list[dict[str, Any]] = []
    running = 0
    for row, delta, legacy_after in _history_rows(ctx):
        row["balance_before"] = lines.dollars(sign * running)
        running += delta
        row["transaction"]["balance_after"] = lines.dollars(sign * running)
        row["balance_mismatch"] = legacy_after is not None and legacy_after != running
        rows.append(row)
    for row, before, after in _ledger_rows(ctx):
        row["balance_before"] = lines.dollars(sign * before)
        row["transaction"]["balance_after"] = lines.dollars(sign * after)
        row["balance_mismatch"] = before != running  # the previous row ended elsewhere
        running = after
        rows.append(row)
    rows.reverse()
    return {"rows": rows}


# ------------------------------------------------------------------ views
def _line(caller: m.Member, line_id: str) -> tuple[m.Trustline | None, Response | None]:
    """Rails' order: unknown → 404, not a party → 403, publishing off → 400."""
    try:
        pk = int(line_id)
    except ValueError:
        return None, Response(NOT_FOUND, status=404)
    line = m.Trustline.objects.select_related("relationship").filter(legacy_id=pk).first()
    if line is None:
        return None, Response(NOT_FOUND, status=404)
    if caller.legacy_id not in (line.user_a_legacy_id, line.user_b_legacy_id):
        return None, Response(FORBIDDEN, status=403)
    if not settings.LEGACY_FOAF_READS_ENABLED:
        return None, Response(PUBLISHING_OFF, status=400)
    return line, None


class FoafTrustlinesView(LegacyView):
    def get(self, request: Request) -> HttpResponseBase:
        if not settings.LEGACY_FOAF_READS_ENABLED:
            return Response(PUBLISHING_OFF, status=400)
        return Response(comparison(self.caller.member))


class FoafTrustlineView(LegacyView):
    def get(self, request: Request, line_id: str) -> HttpResponseBase:
        line, refused = _line(self.caller.member, line_id)
        if refused is not None:
            return refused
        assert line is not None
        return Response(foaf_row(line, user_names([line])))


class FoafTrustlineEventsView(LegacyView):
    def get(self, request: Request, line_id: str) -> HttpResponseBase:
        caller = self.caller.member
        line, refused = _line(caller, line_id)
        if refused is not None:
            return refused
        assert line is not None
        return Response(events(caller, line))


def members_by_party(party_ids: set[str]) -> dict[str, m.Member]:
    return {x.party.party_id: x for x in m.Member.objects.filter(party__party_id__in=party_ids).select_related("party")}


def party_names(party_ids: set[str]) -> dict[str, str]:
    """A ledger address's name: its member's user name, else the party's display name."""
    names = {p: x.user_name for p, x in members_by_party(party_ids).items()}
    for pid, display in Party.objects.filter(party_id__in=party_ids - set(names)).values_list(
        "party_id", "display_name"
    ):
        names[pid] = display
    return names
