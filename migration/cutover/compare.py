"""Two answers to the same legacy request compared: this service's and Rails'. Plain Python.

The contract (API.md) lets this service add fields but not drop, rename or retype one, so:

- the status lines are compared first (path ``status``);
- bodies that are not both JSON are compared as bytes (path ``$``);
- JSON objects: every key Rails sent must be here with an equal value; keys only here are added
  fields and not differences;
- arrays: when every element on both sides is an object with a unique ``id``, elements are paired
  by id (``$[id=12]``): Rails' list order is "ledger order (inferred)", ours legacy id order, and
  an app shows both the same; otherwise position by position, and a length difference is reported
  at the first index one side lacks;
- numbers by value (``100`` equals ``100.0``: Rails' ``to_f`` and ours render money alike, but a
  JSON encoder may drop a ``.0``); ``true`` is not ``1``.

A difference is *expected* when a rule of ``EXPECTED`` matches its route and path: what differs by
design between Rails and this service (docs/legacy-api.md). An answer whose differences are all
expected is kind ``expected``, otherwise ``mismatch`` with its first unexpected difference.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MISSING = "<missing>"
MAX_DIFFERENCES = 20


@dataclass(frozen=True)
class Rule:
    routes: frozenset[str]
    path: re.Pattern[str] | None  # None: every difference of these routes
    reason: str


EXPECTED: tuple[Rule, ...] = (
    Rule(
        frozenset({"admin-credit-loops", "admin-credit-loop"}),
        None,
        "credit loops differ by design: Rails lists what its CreditLoopAnalyzer found on the FOAF ledger, "
        "this service the loop routes its operator started (docs/legacy-api.md, Admin)",
    ),
    Rule(
        frozenset({"foaf-trustline-events"}),
        re.compile(r"^\$\.rows\[\d+\]\.transaction\.id$"),
        "event ids are ledger block numbers: the FOAF ledger's in Rails, the bilateral log's seq here",
    ),
)


@dataclass(frozen=True)
class Difference:
    path: str
    ours: Any
    rails: Any
    expected: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "ours": self.ours, "rails": self.rails}
        if self.expected:
            out["expected"] = self.expected
        return out


@dataclass(frozen=True)
class Outcome:
    kind: str  # "mismatch" or "expected"
    field: str  # the first unexpected difference's path, or the first expected one's
    differences: list[Difference]
    reason: str = ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _by_id(items: list[Any]) -> dict[Any, Any] | None:
    if not items or not all(isinstance(x, dict) and isinstance(x.get("id"), int | str) for x in items):
        return None
    keyed = {x["id"]: x for x in items}
    return keyed if len(keyed) == len(items) else None


def differences(ours: Any, rails: Any, path: str = "$", *, limit: int = MAX_DIFFERENCES) -> list[Difference]:
    """Where ``ours`` fails to carry what ``rails`` does, at most ``limit``, in Rails' order."""
    found: list[Difference] = []
    _walk(ours, rails, path, found, limit)
    return found


def _walk(ours: Any, rails: Any, path: str, found: list[Difference], limit: int) -> None:
    if len(found) >= limit:
        return
    if isinstance(rails, dict):
        _walk_object(ours, rails, path, found, limit)
    elif isinstance(rails, list):
        _walk_array(ours, rails, path, found, limit)
    elif _is_number(rails) and _is_number(ours):
        if abs(float(ours) - float(rails)) > 1e-9:
            found.append(Difference(path, ours, rails))
    elif type(ours) is not type(rails) or ours != rails:
        found.append(Difference(path, ours, rails))


def _walk_object(ours: Any, rails: dict[str, Any], path: str, found: list[Difference], limit: int) -> None:
    if not isinstance(ours, dict):
        found.append(Difference(path, ours, rails))
        return
    for key, value in rails.items():
        if len(found) >= limit:
            return
        if key not in ours:
            found.append(Difference(f"{path}.{key}", MISSING, value))
        else:
            _walk(ours[key], value, f"{path}.{key}", found, limit)


def _walk_array(ours: Any, rails: list[Any], path: str, found: list[Difference], limit: int) -> None:
    if not isinstance(ours, list):
        found.append(Difference(path, ours, rails))
        return
    ours_ids, rails_ids = _by_id(ours), _by_id(rails)
    if ours_ids is not None and rails_ids is not None:
        for key, value in rails_ids.items():
            if len(found) >= limit:
                return
            if key not in ours_ids:
                found.append(Difference(f"{path}[id={key}]", MISSING, value))
            else:
                _walk(ours_ids[key], value, f"{path}[id={key}]", found, limit)
        extra = [key for key in ours_ids if key not in rails_ids]
        found.extend(Difference(f"{path}[id={key}]", ours_ids[key], MISSING) for key in extra[: limit - len(found)])
        return
    for i, value in enumerate(rails[: len(ours)]):
        if len(found) >= limit:
            return
        _walk(ours[i], value, f"{path}[{i}]", found, limit)
    if len(ours) != len(rails) and len(found) < limit:
        i = min(len(ours), len(rails))
        found.append(
            Difference(f"{path}[{i}]", ours[i] if i < len(ours) else MISSING, rails[i] if i < len(rails) else MISSING)
        )


def _parse(body: bytes) -> tuple[bool, Any]:
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, None


def _expected(route: str, path: str) -> str | None:
    for rule in EXPECTED:
        if route in rule.routes and (rule.path is None or rule.path.match(path)):
            return rule.reason
    return None


def compare(route: str, ours_status: int, ours_body: bytes, rails_status: int, rails_body: bytes) -> Outcome | None:
    """None when the answers agree; else what differs, classified."""
    found: list[Difference] = []
    if ours_status != rails_status:
        found.append(Difference("status", ours_status, rails_status))
    ours_json, ours = _parse(ours_body)
    rails_json, rails = _parse(rails_body)
    if ours_json and rails_json:
        found += differences(ours, rails, limit=MAX_DIFFERENCES - len(found))
    elif ours_body != rails_body:
        found.append(Difference("$", _text(ours_body), _text(rails_body)))
    if not found:
        return None
    classified = [Difference(d.path, d.ours, d.rails, _expected(route, d.path)) for d in found]
    unexpected = [d for d in classified if d.expected is None]
    if unexpected:
        return Outcome("mismatch", unexpected[0].path, classified)
    return Outcome("expected", classified[0].path, classified, classified[0].expected or "")


def _text(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace")
