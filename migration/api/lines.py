"""Trustlines as the legacy API shows them (API.md "Shared shapes" TRUSTLINE), read from the
bilateral state: balances and limits from the relationship's head, the rest from the imported
Rails columns. No HTTP here.

Sides: a trustline's A is its lower user id, as the relationship's party ``a`` (the import keeps
legacy A/B). ``limit_a_to_b`` is what A may owe B, a limit B owns (bilateral spec §5.3): the
caller's ``my_credit_limit`` is therefore the limit the *other* member extends.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q

from foaf import bilateral as core
from foaf.ledger.models import Relationship
from migration import models as m
from migration.api.shapes import rails_time

_NUMBER = re.compile(r"^\s*([+-]?(\d+(\.\d*)?|\.\d+))")


def dollars(cents: int) -> float:
    """Money as Rails' ``to_f`` renders it: a JSON float of dollars (``12.5``, ``100.0``)."""
    return float(Decimal(cents) / 100)


def cents_of(value: Any) -> int | None:
    """Ruby's ``to_d`` of a parameter, in cents (rounded half up): the leading number, 0 when none;
    ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 0
    text = repr(value) if isinstance(value, int | float) else str(value)
    match = _NUMBER.match(text)
    if match is None:
        return 0
    try:
        return int((Decimal(match.group(1)) * 100).to_integral_value(rounding="ROUND_HALF_UP"))
    except InvalidOperation:
        return 0


def side_of(line: m.Trustline, member: m.Member) -> str:
    return "a" if line.user_a_legacy_id == member.legacy_id else "b"


def other_id(line: m.Trustline, member: m.Member) -> int:
    return line.user_b_legacy_id if line.user_a_legacy_id == member.legacy_id else line.user_a_legacy_id


def lines_of(member: m.Member) -> Any:
    return m.Trustline.objects.filter(Q(user_a_legacy_id=member.legacy_id) | Q(user_b_legacy_id=member.legacy_id))


def line_of(member: m.Member, line_id: Any) -> m.Trustline | None:
    """The caller's line by id, or None (not theirs, unknown, or not an id)."""
    try:
        pk = int(str(line_id))
    except ValueError:
        return None
    line: m.Trustline | None = lines_of(member).filter(legacy_id=pk).select_related("relationship").first()
    return line


def labels_for(caller: m.Member, others: list[int]) -> dict[int, str]:
    """The caller's name for each member: its label in ``relationships`` (``user_label`` when the
    caller is the row's user, ``friend_label`` when its friend), else nickname, else user name."""
    # Plain tuples, not model instances: a listing asks this for every line of the member.
    names: dict[int, str] = {}
    members = m.Member.objects.filter(legacy_id__in=others).values_list("legacy_id", "nickname", "user_name")
    for legacy_id, nickname, user_name in members:
        names[legacy_id] = nickname or user_name
    contacts = (
        m.Contact.objects.filter(
            Q(user_legacy_id=caller.legacy_id, friend_legacy_id__in=others)
            | Q(friend_legacy_id=caller.legacy_id, user_legacy_id__in=others)
        )
        .order_by("-legacy_id")  # the oldest row wins: applied last
        .values_list("user_legacy_id", "friend_legacy_id", "user_label", "friend_label")
    )
    for user_id, friend_id, user_label, friend_label in contacts:
        if user_id == caller.legacy_id:
            label, other = user_label, friend_id
        else:
            label, other = friend_label, user_id
        if label and other is not None:
            names[other] = label
    return names


def _payload(
    line: m.Trustline, caller: m.Member, name: str, *, balance: int, limit_a_to_b: int, limit_b_to_a: int
) -> dict[str, Any]:
    mine = side_of(line, caller) == "a"
    my_limit, their_limit = (limit_a_to_b, limit_b_to_a) if mine else (limit_b_to_a, limit_a_to_b)
    my_balance = balance if mine else -balance
    return {
        "id": line.legacy_id,
        "other_user": {"id": other_id(line, caller), "name": name},
        "my_credit_limit": dollars(my_limit),
        "their_credit_limit": dollars(their_limit),
        "my_available_credit": dollars(my_limit - max(my_balance, 0)),
        "current_balance": dollars(my_balance),
        "is_active": line.is_active,
        "established_date": rails_time(line.established_date),
        "last_activity": rails_time(line.last_activity),
        "notes": line.notes,
    }


def from_ledger(line: m.Trustline, caller: m.Member, rel: Relationship, name: str) -> dict[str, Any]:
    """TRUSTLINE for reads: amounts from the bilateral head, the rest from the Rails columns."""
    return _payload(
        line, caller, name, balance=rel.balance, limit_a_to_b=rel.limit_a_to_b, limit_b_to_a=rel.limit_b_to_a
    )


def from_columns(line: m.Trustline, caller: m.Member, name: str, *, balance: int | None = None) -> dict[str, Any]:
    """TRUSTLINE from the Rails columns (create and update answer so)."""
    return _payload(
        line,
        caller,
        name,
        balance=line.cached_balance if balance is None else balance,
        limit_a_to_b=line.credit_limit_a_to_b,
        limit_b_to_a=line.credit_limit_b_to_a,
    )


def listed(caller: m.Member) -> list[tuple[m.Trustline, Relationship]]:
    """The caller's active lines that have a bilateral relationship, in legacy id order."""
    rows = (
        lines_of(caller)
        .filter(is_active=True, relationship__isnull=False)
        .select_related("relationship")
        .order_by("legacy_id")
    )
    return [(line, line.relationship) for line in rows if line.relationship is not None]


def listing(caller: m.Member) -> list[dict[str, Any]]:
    rows = listed(caller)
    names = labels_for(caller, [other_id(line, caller) for line, _ in rows])
    return [from_ledger(line, caller, rel, names[other_id(line, caller)]) for line, rel in rows]


def summary(caller: m.Member) -> dict[str, Any]:
    owed = owed_to_me = available = 0
    rows = listed(caller)
    for line, rel in rows:
        mine = side_of(line, caller) == "a"
        my_balance = rel.balance if mine else -rel.balance
        my_limit = rel.limit_a_to_b if mine else rel.limit_b_to_a
        owed += max(my_balance, 0)
        owed_to_me += max(-my_balance, 0)
        available += my_limit - max(my_balance, 0)
    return {
        "total_trustlines": len(rows),
        "total_credit_owed": dollars(owed),
        "total_credit_owed_to_me": dollars(owed_to_me),
        "net_credit_position": dollars(owed_to_me - owed),
        "available_credit": dollars(available),
    }


def one(caller: m.Member, line: m.Trustline) -> dict[str, Any]:
    rel = Relationship.objects.get(legacy_trustline=line)
    name = labels_for(caller, [other_id(line, caller)])[other_id(line, caller)]
    return from_ledger(line, caller, rel, name)


def direct_capacity(line: m.Trustline, caller: m.Member, state: core.State) -> int:
    """What the caller may still pay the other on credit on this line: the exposure rule's room
    (bilateral spec §5 step 4): its limit minus its balance (what the other owes it counts in
    its favour) and its outgoing holds, never less than 0. A relationship that is not open carries nothing."""
    if state.status != "open":
        return 0
    side = side_of(line, caller)
    limit = state.limit_a_to_b if side == "a" else state.limit_b_to_a
    my_balance = state.balance if side == "a" else -state.balance  # < 0: the other owes the caller
    held = sum(h.amount for h in state.holds if h.payer == side)
    return max(limit - my_balance - held, 0)
