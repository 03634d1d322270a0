"""Typed errors of multi-hop payments, with stable codes (docs/spec/routing.md §8).

A ``RouteError`` names the first rule a message or a proposed hold breaks. Its ``code`` is one of
``RoutingCode`` or, for encoding, schema and signature faults found by the bilateral core's
readers, the bilateral code of the same name (docs/spec/bilateral.md §11). The code doubles as the
reason of the bilateral reject a party sends when it refuses a hold (``[A-Z][A-Z0-9_]{0,39}``).
"""

from __future__ import annotations

from enum import StrEnum


class RoutingCode(StrEnum):
    """Codes of the routing layer; each value is the wire/vector string."""

    # schema (same strings as the bilateral core's)
    WRONG_TYPE = "WRONG_TYPE"
    BAD_VALUE = "BAD_VALUE"
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    # route rules (check_route, in this order)
    ROUTE_LENGTH = "ROUTE_LENGTH"
    ROUTE_BROKEN = "ROUTE_BROKEN"
    BAD_PURPOSE = "BAD_PURPOSE"
    ROUTE_NOT_SIMPLE = "ROUTE_NOT_SIMPLE"
    BAD_AMOUNTS = "BAD_AMOUNTS"
    BAD_EXPIRY = "BAD_EXPIRY"
    # a party's own checks of the hold offered to it (check_offer, in this order)
    NOT_ON_ROUTE = "NOT_ON_ROUTE"
    HOLD_MISMATCH = "HOLD_MISMATCH"
    TOO_LATE = "TOO_LATE"
    UNKNOWN_PAYMENT = "UNKNOWN_PAYMENT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVOICE_EXPIRED = "INVOICE_EXPIRED"
    ALREADY_PAID = "ALREADY_PAID"
    NO_NEXT_HOP = "NO_NEXT_HOP"
    LOOP_ADDS_DEBT = "LOOP_ADDS_DEBT"
    # why a hop was cancelled after it was held
    DOWNSTREAM_FAILED = "DOWNSTREAM_FAILED"
    HOLD_TIMED_OUT = "HOLD_TIMED_OUT"
    # decisions on releases and cancels
    RELEASE_TOO_LATE = "RELEASE_TOO_LATE"
    PREIMAGE_KNOWN = "PREIMAGE_KNOWN"
    OUTGOING_OPEN = "OUTGOING_OPEN"


class RouteError(Exception):
    """A routing message or a proposed hold breaks a rule; ``code`` is stable, ``detail`` for humans."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = str(code)
        self.detail = detail
