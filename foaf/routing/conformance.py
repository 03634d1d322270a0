"""Conformance vectors for multi-hop payments: generator (`--out DIR`), checker (`--check`), runner.

    python -m foaf.routing.conformance --out docs/spec/vectors          # write routing.json
    python -m foaf.routing.conformance --check --out docs/spec/vectors  # exit 1 if stale

Every vector is built by running the reference core (``foaf.routing.messages``, ``.node``) on fixed,
obviously fake keys (Alice 0x11.., Bob 0x22.., Carol 0x44.., Mallory 0x55.., Dave 0x66..), a fixed
preimage, fixed nonces and times, so the file is byte-identical on every run. ``run_vector(vector)``
re-runs one vector from its JSON alone and returns what it observed in the shape of ``expected``:
a port does the same in its own language (docs/spec/routing.md §9). Plain Python, no Django.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

from foaf.bilateral.conformance import vectors_cli
from foaf.bilateral.crypto import L, SeedSigner, sha256, signing_message
from foaf.bilateral.errors import ProtocolError
from foaf.bilateral.jcs import canonicalize
from foaf.bilateral.model import Member, Op, Payment, PlaceHold, Proposal, State, StatusOp, Update
from foaf.bilateral.party import MAX_CLOCK_SKEW
from foaf.bilateral.rules import apply_op, make_genesis

from .errors import RouteError
from .messages import (
    TAG_HOLD_ID,
    TAG_INVOICE,
    TAG_ROUTE,
    TAG_STATUS,
    Forward,
    Hop,
    Invoice,
    RouteProposal,
    RouteStatus,
    decode,
)
from .node import (
    MAX_HOPS,
    MAX_ROUTE_SECONDS,
    MIN_DELTA,
    PROPOSAL_SECONDS,
    RELEASE_MARGIN,
    Action,
    HopState,
    Node,
    Outcome,
    ProposeCancel,
    ProposeHold,
    ProposeRelease,
    Report,
    check_offer,
    check_route,
    expected_hold,
    route_progress,
)

JSON = dict[str, Any]
FILE = "routing.json"

SEEDS = {
    "alice": b"\x11" * 32,
    "bob": b"\x22" * 32,
    "carol": b"\x44" * 32,
    "mallory": b"\x55" * 32,
    "dave": b"\x66" * 32,
}
SIGNERS = {k: SeedSigner(v) for k, v in SEEDS.items()}
ID = {k: s.public_key.hex() for k, s in SIGNERS.items()}
NAME = {v: k for k, v in ID.items()}
T0 = 1767225600  # 2026-01-01T00:00:00Z: every route here is created at T0
CURRENCY = "CAD"
PREIMAGE = hashlib.sha256(b"FOAF routing vectors: the preimage").hexdigest()
LOCK = hashlib.sha256(bytes.fromhex(PREIMAGE)).hexdigest()
OTHER_PREIMAGE = hashlib.sha256(b"FOAF routing vectors: another preimage").hexdigest()
PAYMENT = "7061796d656e742d0000000000000001"  # "payment-" then a counter
LOOP_PAYMENT = "7061796d656e742d0000000000000002"


def nonce(i: int) -> str:
    return f"{i:032x}"


def expiries(k: int) -> list[int]:
    """The default plan (§7.2): the last hold 2 * MIN_DELTA after creation, MIN_DELTA more per hop upstream."""
    return [T0 + (k - h + 1) * MIN_DELTA for h in range(k)]


# ---------------------------------------------------------------- explain helpers
def hashed(obj: Any) -> JSON:
    c = canonicalize(obj)
    return {"json": obj, "canonical_hex": c.hex(), "sha256_hex": hashlib.sha256(c).hexdigest()}


def sig_obj(key_hex: str, message: bytes, sig_hex: str) -> JSON:
    return {"public_key_hex": key_hex, "message_hex": message.hex(), "signature_hex": sig_hex}


def explain(msg: Invoice | RouteProposal | RouteStatus) -> JSON:
    """The body (without sig) with its canonical bytes and hash, and the signature triple."""
    key = (
        msg.payee.key
        if isinstance(msg, Invoice)
        else msg.payer.key
        if isinstance(msg, RouteProposal)
        else msg.reporter.key
    )
    return {"body": hashed(msg.body_json()), "signature": sig_obj(key, msg.signing_message, msg.sig)}


def explain_proposal(prop: Proposal) -> JSON:
    st = prop.state
    return {
        "state": hashed(st.json),
        "signature": sig_obj(st.member(st.update.proposer).key, st.signing_message, prop.sig),
    }


# ---------------------------------------------------------------- fixtures: channels, routes, offers
def _channel(a: str, b: str, n: int, *, limit_b_to_a: int = 10_000) -> State:
    return make_genesis(
        a=Member.inception(bytes.fromhex(ID[a])),
        b=Member.inception(bytes.fromhex(ID[b])),
        currency=CURRENCY,
        limit_a_to_b=10_000,
        limit_b_to_a=limit_b_to_a,
        proposer="a",
        created=T0 - 86_400,
        deadline=T0 - 86_400 + PROPOSAL_SECONDS,
        nonce=nonce(n),
    )


def _then(state: State, proposer: str, op: Op, n: int, created: int = T0 - 3600) -> State:
    return apply_op(state, Update(proposer, op, created, created + PROPOSAL_SECONDS, nonce(n)))


AB = _channel("alice", "bob", 1)  # alice is a, bob is b
CB = _channel("carol", "bob", 2)  # carol is a, bob is b
CD = _channel("carol", "dave", 3)  # carol is a, dave is b
AB2 = _channel("alice", "bob", 4)  # a second relationship between the same two parties
CB_LOW = _channel("carol", "bob", 5, limit_b_to_a=1000)  # bob may owe carol at most 1000
BM = _channel("bob", "mallory", 6)
CB_FROZEN = _then(_channel("carol", "bob", 7), "a", StatusOp("freeze"), 70)
# A credit loop alice -> bob -> carol -> alice: bob owes alice 500, carol owes bob 500, alice owes carol 500.
LAB = _then(_channel("alice", "bob", 8), "b", Payment("b", 500), 80)
LCB = _then(_channel("carol", "bob", 9), "a", Payment("a", 500), 90)
LCA = _then(_channel("carol", "alice", 10), "b", Payment("b", 500), 100)


def hop(ch: State, frm: str, to: str, amount: int, expires: int) -> Hop:
    return Hop(ch.channel, ID[frm], ID[to], amount, expires)


def route(
    hops: list[Hop] | None = None,
    *,
    payer: str = "alice",
    payee: str = "dave",
    amount: int = 1000,
    purpose: str = "payment",
    currency: str = CURRENCY,
    lock: str = LOCK,
    payment: str = PAYMENT,
    signer: str | None = None,
) -> RouteProposal:
    if hops is None:
        e = expiries(3)
        hops = [
            hop(AB, "alice", "bob", 1020, e[0]),
            hop(CB, "bob", "carol", 1010, e[1]),
            hop(CD, "carol", "dave", 1000, e[2]),
        ]
    unsigned = RouteProposal(
        payment, purpose, currency, lock, amount, Member(ID[payer], ID[payer]), ID[payee], T0, tuple(hops), ""
    )
    sig = SIGNERS[signer or payer].sign(unsigned.signing_message).hex()
    return dataclasses.replace(unsigned, sig=sig)


PAY = route()
E3 = expiries(3)


def loop_route(amount: int = 200) -> RouteProposal:
    e = expiries(3)
    hops = [
        hop(LAB, "alice", "bob", amount, e[0]),
        hop(LCB, "bob", "carol", amount, e[1]),
        hop(LCA, "carol", "alice", amount, e[2]),
    ]
    return route(hops, payee="alice", amount=amount, purpose="loop", payment=LOOP_PAYMENT)


def invoice(
    *,
    payment: str = PAYMENT,
    amount: int = 1000,
    currency: str = CURRENCY,
    preimage: str = PREIMAGE,
    expires: int = T0 + 86_400,
    payee: str = "dave",
) -> Invoice:
    return Invoice.make(
        SIGNERS[payee],
        ID[payee],
        payment=payment,
        currency=currency,
        amount=amount,
        preimage=preimage,
        expires=expires,
        memo="order 42",
    )


def offer(r: RouteProposal, h: int, state: State, *, op: Op | None = None, proposer: str | None = None) -> Proposal:
    """The hold proposal of hop ``h`` of ``r`` on ``state``, signed by its proposer (the hold's payer by default)."""
    payer_side = "a" if state.a.id == r.hops[h].from_ else "b"
    side = proposer or payer_side
    st = _then(state, side, op or expected_hold(r, h, payer_side), 200 + h, created=T0 + 60)
    return Proposal(st, SIGNERS[NAME[st.member(side).key]].sign(st.signing_message).hex())


def _flip(h: str, i: int = 0) -> str:
    return h[:i] + ("1" if h[i] == "0" else "0") + h[i + 1 :]


def _with(obj: JSON, path: list[Any], value: Any) -> JSON:
    out: JSON = json.loads(json.dumps(obj))
    node: Any = out
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()


def _resign(obj: JSON, tag: bytes, signer: str) -> JSON:
    body = {k: v for k, v in obj.items() if k != "sig"}
    return {**body, "sig": SIGNERS[signer].sign(signing_message(tag, sha256(canonicalize(body)))).hex()}


# ---------------------------------------------------------------- runners (JSON in, JSON out)
def _err(e: RouteError | ProtocolError) -> JSON:
    return {"error": str(e.code)}


def run_decode(v: JSON) -> JSON:
    try:
        msg = decode(bytes.fromhex(v["input_hex"]))
    except RouteError as e:
        return _err(e)
    if isinstance(msg, Forward):
        return {"type": "forward", "route_hash": msg.route.route_hash, "state_sha256_hex": msg.proposal.state.hash_hex}
    if isinstance(msg, RouteProposal):
        return {"type": "route", "route_hash": msg.route_hash}
    return {"type": msg.TYPE, "body_sha256_hex": sha256(canonicalize(msg.body_json())).hex()}


def run_signing_message(v: JSON) -> JSON:
    return {"message_hex": signing_message(v["tag"].encode(), sha256(canonicalize(v["object"]["json"]))).hex()}


def run_check_route(v: JSON) -> JSON:
    try:
        r = RouteProposal.from_json(v["route"])
        check_route(r)
    except RouteError as e:
        return _err(e)
    return {"route_hash": r.route_hash, "hold_ids": [r.hold_id(h) for h in range(len(r.hops))]}


def run_hold_id(v: JSON) -> JSON:
    data = TAG_HOLD_ID + b"\x00" + bytes.fromhex(v["route_hash"]) + bytes((v["hop"],))
    return {"input_hex": data.hex(), "hold_id": hashlib.sha256(data).hexdigest()[:32]}


def run_check_offer(v: JSON) -> JSON:
    try:
        fwd = Forward.from_json(v["forward"])
        inv = None if v["invoice"] is None else Invoice.from_json(v["invoice"])
        out = None if v["outgoing"] is None else State.from_json(v["outgoing"])
        h = check_offer(fwd.route, fwd.proposal.state, v["me"], now=v["now"], invoice=inv, paid=v["paid"], outgoing=out)
    except (RouteError, ProtocolError) as e:
        return _err(e)
    return {"hop": h}


def action_json(a: Action) -> JSON:
    if isinstance(a, Report):
        return {"action": "report", "hop": a.hop, "status": a.status, "reason": str(a.reason)}
    kind = {ProposeHold: "propose_hold", ProposeRelease: "propose_release", ProposeCancel: "propose_cancel"}[type(a)]
    d: JSON = {"action": kind, "hop": a.hop, "channel": a.channel, "op": a.op.to_json()}
    if isinstance(a, ProposeCancel):
        d["reason"] = str(a.reason)
    return d


def node_fields(n: Node) -> JSON:
    return {k: (v if v is None or type(v) is int else str(v)) for k, v in n.to_json().items() if k != "route"}


def run_node(v: JSON) -> JSON:
    node = Node.from_json(v["node"])
    call: JSON = v["call"]
    name = call["call"]
    if name == "may_countersign_release":
        reason = node.may_countersign_release(now=call["now"])
        return {"countersign": True} if reason is None else {"countersign": False, "reason": str(reason)}
    if name == "may_countersign_cancel":
        reason = node.may_countersign_cancel(call["hop"], now=call["now"])
        return {"countersign": True} if reason is None else {"countersign": False, "reason": str(reason)}
    calls: dict[str, Callable[[], list[Action]]] = {
        "start": node.start,
        "incoming_held": node.incoming_held,
        "outgoing_held": node.outgoing_held,
        "outgoing_refused": lambda: node.outgoing_refused(call["reason"]),
        "outgoing_cancelled": lambda: node.outgoing_cancelled(call["reason"]),
        "outgoing_released": lambda: node.outgoing_released(call["preimage"]),
        "incoming_released": node.incoming_released,
        "incoming_cancelled": lambda: node.incoming_cancelled(call.get("reason")),
        "outgoing_cancel_refused": lambda: node.outgoing_cancel_refused(call["reason"]),
        "incoming_release_refused": lambda: node.incoming_release_refused(call["reason"]),
        "incoming_cancel_refused": lambda: node.incoming_cancel_refused(call["reason"], now=call["now"]),
        "tick": lambda: node.tick(now=call["now"]),
    }
    actions = calls[name]()
    return {"actions": [action_json(a) for a in actions], "node": node_fields(node)}


def run_route_progress(v: JSON) -> JSON:
    r = RouteProposal.from_json(v["route"])
    payer = None if v["payer"] is None else Node.from_json({**v["payer"], "route": v["route"]})
    reports = {x["hop"]: (x["status"], x["reason"]) for x in v["reports"]}
    return route_progress(r, payer, reports)


RUNNERS: dict[str, Callable[[JSON], JSON]] = {
    "decode": run_decode,
    "signing_message": run_signing_message,
    "check_route": run_check_route,
    "hold_id": run_hold_id,
    "check_offer": run_check_offer,
    "node": run_node,
    "route_progress": run_route_progress,
}


def run_vector(vector: JSON) -> JSON:
    """Re-run one vector from its JSON alone; return what was observed, in ``expected``'s shape."""
    return RUNNERS[vector["kind"]](vector)


# ---------------------------------------------------------------- vector builders
def _vector(name: str, description: str, kind: str, inputs: JSON, error: str | None = None, **extra: Any) -> JSON:
    v: JSON = {"name": name, "description": description, "kind": kind, **inputs, **extra}
    observed = run_vector(v)
    if error is None:
        if "error" in observed:
            raise AssertionError(f"vector {name}: expected valid, got {observed['error']}")
        v.update(valid=True, expected=observed)
    else:
        if observed != {"error": error}:
            raise AssertionError(f"vector {name}: expected {error}, got {observed}")
        v.update(valid=False, error=error, expected={"error": error})
    return v


def _bytes(obj: Any) -> str:
    return canonicalize(obj).hex()


def decode_vectors() -> list[JSON]:  # noqa: PLR0915 (a table of vectors)
    inv = invoice()
    held = RouteStatus.make(SIGNERS["bob"], ID["bob"], PAY, hop=0, status="held", reason="OK", time=T0 + 61)
    cancelled = RouteStatus.make(
        SIGNERS["carol"], ID["carol"], PAY, hop=1, status="cancelled", reason="DOWNSTREAM_FAILED", time=T0 + 62
    )
    disputed = RouteStatus.make(
        SIGNERS["dave"], ID["dave"], PAY, hop=2, status="disputed", reason="RELEASE_TOO_LATE", time=T0 + 1300
    )
    dj = disputed.to_json()
    fwd = Forward(PAY, offer(PAY, 0, AB))
    loop = loop_route()
    ij, rj, sj, fj = inv.to_json(), PAY.to_json(), held.to_json(), fwd.to_json()
    out: list[JSON] = []

    def valid(name: str, desc: str, obj: JSON, ex: JSON) -> None:
        out.append(_vector(name, desc, "decode", {"input_hex": _bytes(obj), "input": obj}, explain=ex))

    def bad(name: str, desc: str, obj: Any, error: str, ex: JSON | None = None) -> None:
        inputs: JSON = {"input_hex": obj.hex() if isinstance(obj, bytes) else _bytes(obj)}
        if not isinstance(obj, bytes):
            inputs["input"] = obj
        extra = {} if ex is None else {"explain": ex}
        out.append(_vector(name, desc, "decode", inputs, error, **extra))

    valid("invoice", "an invoice signed by its payee (tag FOAF-ROUTING-1/invoice)", ij, explain(inv))
    valid(
        "route",
        "a 3-hop route alice -> bob -> carol -> dave with fees of 10 per hop; decode checks the schema only",
        rj,
        explain(PAY),
    )
    valid(
        "route-loop",
        "a credit loop alice -> bob -> carol -> alice (purpose loop, equal amounts)",
        loop.to_json(),
        explain(loop),
    )
    valid("status-held", "bob reports hop 0 held (tag FOAF-ROUTING-1/status)", sj, explain(held))
    valid("status-cancelled", "carol reports hop 1 cancelled with a reason", cancelled.to_json(), explain(cancelled))
    valid(
        "status-disputed",
        "dave reports hop 2 disputed: his release was refused RELEASE_TOO_LATE and the hold stays as evidence",
        dj,
        explain(disputed),
    )
    valid(
        "forward",
        "a forward: the route and alice's hold proposal for hop 0 (the bilateral Party checks its signature)",
        fj,
        {"route": explain(PAY), "proposal": explain_proposal(fwd.proposal)},
    )
    # parsing and the envelope
    bad("not-json", "not JSON text", b'{"type":"invoice",', "INVALID_JSON")
    bad("duplicate-key", "a property twice", b'{"type":"invoice","type":"invoice","v":1}', "DUPLICATE_KEY")
    bad("top-level-array", "the top level is not an object", b"[1]", "WRONG_TYPE")
    bad("unknown-type", "a type routing does not have", {**ij, "type": "payment_request"}, "UNKNOWN_MESSAGE_TYPE")
    bad("bilateral-type", "a bilateral message is not a routing message", fj["proposal"], "UNKNOWN_MESSAGE_TYPE")
    bad(
        "wrong-version",
        "v is 2 (checked before type and the other fields)",
        {**ij, "v": 2, "type": "nonsense"},
        "UNSUPPORTED_VERSION",
    )
    bad("version-string", "v is a string", {**ij, "v": "1"}, "WRONG_TYPE")
    # invoice schema and signature
    bad("invoice-unknown-field", "an invoice with a field it does not have", {**ij, "note": "x"}, "UNKNOWN_FIELD")
    bad("invoice-missing-memo", "memo is required (may be empty)", _with(ij, ["memo"], _DELETE), "MISSING_FIELD")
    bad("invoice-amount-string", '"1000" is not an integer', {**ij, "amount": "1000"}, "WRONG_TYPE")
    bad("invoice-amount-bool", "true is not an integer", {**ij, "amount": True}, "WRONG_TYPE")
    bad("invoice-amount-zero", "amount is pos (>= 1)", {**ij, "amount": 0}, "BAD_VALUE")
    bad("invoice-lock-uppercase", "hex is lowercase", {**ij, "lock": ij["lock"].upper()}, "BAD_HEX")
    bad("invoice-payment-short", "payment is hex16 (32 digits)", {**ij, "payment": ij["payment"][:30]}, "BAD_HEX")
    bad("invoice-currency-lowercase", "currency is [A-Z]{3}", {**ij, "currency": "cad"}, "BAD_VALUE")
    bad(
        "invoice-payee-extra",
        "the payee member has exactly id and key",
        _with(ij, ["payee", "name"], "dave"),
        "UNKNOWN_FIELD",
    )
    bad("invoice-memo-too-long", "memo is at most 256 UTF-8 bytes", {**ij, "memo": "x" * 257}, "BAD_VALUE")
    bad(
        "invoice-sig-flipped",
        "one bit of the signature changed",
        {**ij, "sig": _flip(ij["sig"], 1)},
        "BAD_SIGNATURE",
        {"signature": sig_obj(inv.payee.key, inv.signing_message, _flip(ij["sig"], 1))},
    )
    changed = {**ij, "amount": 1001}
    bad(
        "invoice-amount-changed",
        "amount changed after signing: the signature is over another body",
        changed,
        "BAD_SIGNATURE",
        {"body": hashed({k: x for k, x in changed.items() if k != "sig"})},
    )
    wrong_tag = _resign(ij, TAG_ROUTE, "dave")
    bad("invoice-signed-as-route", "signed under the route tag instead of the invoice tag", wrong_tag, "BAD_SIGNATURE")
    bad(
        "invoice-signed-by-other",
        "signed by mallory's key while the payee names dave's",
        _resign(ij, TAG_INVOICE, "mallory"),
        "BAD_SIGNATURE",
    )
    sig = bytes.fromhex(ij["sig"])
    s_plus_l = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    bad(
        "invoice-s-non-canonical",
        "S + L: the same point equation, but S >= L (bilateral §2.3 step 7)",
        {**ij, "sig": s_plus_l.hex()},
        "S_NON_CANONICAL",
    )
    bad(
        "invoice-key-small-order",
        "the payee key is a small-order encoding (bilateral §2.3 step 3)",
        _with(ij, ["payee", "key"], "00" * 32),
        "KEY_SMALL_ORDER",
    )
    # route schema
    bad("route-hops-object", "hops is an array", {**rj, "hops": {"0": rj["hops"][0]}}, "WRONG_TYPE")
    bad(
        "route-65-hops",
        "more than 64 hops is refused while parsing",
        {**rj, "hops": rj["hops"] * 21 + rj["hops"][:2]},
        "ROUTE_LENGTH",
    )
    bad(
        "route-hop-unknown-field",
        "a hop has exactly channel, from, to, amount, expires",
        _with(rj, ["hops", 1, "fee"], 10),
        "UNKNOWN_FIELD",
    )
    bad(
        "route-hop-missing-expires",
        "a hop without expires",
        _with(rj, ["hops", 2, "expires"], _DELETE),
        "MISSING_FIELD",
    )
    bad("route-hop-amount-bool", "a hop amount of true", _with(rj, ["hops", 0, "amount"], True), "WRONG_TYPE")
    bad(
        "route-hop-channel-short",
        "a channel is hex32",
        _with(rj, ["hops", 0, "channel"], rj["hops"][0]["channel"][:62]),
        "BAD_HEX",
    )
    bad("route-purpose-unknown", "purpose is payment or loop", {**rj, "purpose": "gift"}, "BAD_VALUE")
    bad("route-payer-no-key", "the payer member has id and key", _with(rj, ["payer", "key"], _DELETE), "MISSING_FIELD")
    bad("route-created-negative", "created is a time (>= 0)", {**rj, "created": -1}, "BAD_VALUE")
    # status schema and signature
    bad("status-reason-lowercase", "a reason matches [A-Z][A-Z0-9_]{0,39}", {**sj, "reason": "ok"}, "BAD_VALUE")
    bad(
        "status-unknown-status", "status is held, settled, cancelled or disputed", {**sj, "status": "paid"}, "BAD_VALUE"
    )
    bad("status-disputed-uppercase", "status values are lowercase", {**dj, "status": "DISPUTED"}, "BAD_VALUE")
    bad("status-dispute-misspelt", '"dispute" is not a status', {**dj, "status": "dispute"}, "BAD_VALUE")
    bad("status-hop-64", "hop is in 0..63", {**sj, "hop": 64}, "BAD_VALUE")
    bad("status-hop-negative", "hop is in 0..63", {**sj, "hop": -1}, "BAD_VALUE")
    bad("status-hop-string", '"0" is not an integer', {**sj, "hop": "0"}, "WRONG_TYPE")
    bad("status-time-string", "time is an integer", {**sj, "time": str(sj["time"])}, "WRONG_TYPE")
    bad("status-unknown-field", "a status has exactly its nine fields", {**dj, "evidence": "x"}, "UNKNOWN_FIELD")
    bad(
        "status-missing-reason",
        "reason is required, even with status held",
        _with(sj, ["reason"], _DELETE),
        "MISSING_FIELD",
    )
    bad(
        "status-route-hash-short",
        "route_hash is hex32 (64 digits)",
        {**dj, "route_hash": dj["route_hash"][:62]},
        "BAD_HEX",
    )
    bad("status-time-negative", "time is a time (>= 0)", {**sj, "time": -1}, "BAD_VALUE")
    bad("status-payment-uppercase", "hex is lowercase", {**dj, "payment": dj["payment"].upper()}, "BAD_HEX")
    bad(
        "status-reporter-extra",
        "the reporter member has exactly id and key",
        _with(dj, ["reporter", "name"], "dave"),
        "UNKNOWN_FIELD",
    )
    bad("status-reason-too-long", "a reason has at most 40 characters", {**dj, "reason": "R" * 41}, "BAD_VALUE")
    bad(
        "status-cancelled-ok",
        "a cancelled hop needs a reason other than OK (checked before the signature)",
        _resign({**sj, "status": "cancelled"}, TAG_STATUS, "bob"),
        "BAD_VALUE",
    )
    bad(
        "status-disputed-ok",
        "a disputed hop needs a reason other than OK, like a cancelled one (checked before the signature)",
        _resign({**dj, "reason": "OK"}, TAG_STATUS, "dave"),
        "BAD_VALUE",
    )
    bad(
        "status-settled-with-reason",
        "a settled hop has reason OK",
        _resign({**sj, "status": "settled", "reason": "RELEASE_TOO_LATE"}, TAG_STATUS, "bob"),
        "BAD_VALUE",
    )
    bad(
        "status-disputed-relabelled",
        "dave's disputed report with its status changed to cancelled after signing (the reason still fits)",
        {**dj, "status": "cancelled"},
        "BAD_SIGNATURE",
    )
    bad(
        "status-disputed-reason-changed",
        "dave's disputed report with its reason changed after signing",
        {**dj, "reason": "PREIMAGE_KNOWN"},
        "BAD_SIGNATURE",
    )
    bad(
        "status-disputed-forged",
        "a report naming dave as its reporter but signed by carol: only dave can say hop 2 is disputed",
        _resign(dj, TAG_STATUS, "carol"),
        "BAD_SIGNATURE",
    )
    bad(
        "status-held-with-reason",
        "a held or settled hop has reason OK",
        _resign({**sj, "reason": "DOWNSTREAM_FAILED"}, TAG_STATUS, "bob"),
        "BAD_VALUE",
    )
    bad(
        "status-signed-by-other",
        "signed by mallory while the reporter names bob's key",
        _resign(sj, TAG_STATUS, "mallory"),
        "BAD_SIGNATURE",
    )
    bad("status-signed-as-invoice", "signed under the invoice tag", _resign(sj, TAG_INVOICE, "bob"), "BAD_SIGNATURE")
    # forward
    bad("forward-unknown-field", "a forward has exactly type, v, route, proposal", {**fj, "hop": 0}, "UNKNOWN_FIELD")
    bad(
        "forward-proposal-v2",
        "the carried proposal's v is checked first",
        _with(fj, ["proposal", "v"], 2),
        "UNSUPPORTED_VERSION",
    )
    bad(
        "forward-carries-accept",
        "a forward carries a bilateral proposal, nothing else",
        _with(fj, ["proposal", "type"], "accept"),
        "UNKNOWN_MESSAGE_TYPE",
    )
    bad("forward-route-is-invoice", "the route field holds an invoice", {**fj, "route": ij}, "UNKNOWN_MESSAGE_TYPE")
    bad(
        "forward-route-bad-hex",
        "the route's schema is checked (after the proposal's type)",
        _with(fj, ["route", "lock"], "zz" * 32),
        "BAD_HEX",
    )
    u = fj["proposal"]["state"]["update"]
    bad(
        "forward-deadline-string",
        "the carried update's deadline is a time (created + PROPOSAL_SECONDS for a hold offer), not a string",
        _with(fj, ["proposal", "state", "update", "deadline"], str(u["deadline"])),
        "WRONG_TYPE",
    )
    bad(
        "forward-deadline-missing",
        "the carried update has a deadline",
        _with(fj, ["proposal", "state", "update", "deadline"], _DELETE),
        "MISSING_FIELD",
    )
    bad(
        "forward-created-negative",
        "the carried update's created is a time (not negative)",
        _with(fj, ["proposal", "state", "update", "created"], -1),
        "BAD_VALUE",
    )
    bad("forward-proposal-missing", "a forward carries a proposal", _with(fj, ["proposal"], _DELETE), "MISSING_FIELD")
    bad(
        "forward-route-hop-expires-string",
        "the carried route's hop expiry is a time, not a string",
        _with(fj, ["route", "hops", 0, "expires"], str(PAY.hops[0].expires)),
        "WRONG_TYPE",
    )
    bad("invoice-expires-negative", "an invoice's expires is a time (not negative)", {**ij, "expires": -1}, "BAD_VALUE")
    bad(
        "status-time-float",
        "a status's time with a fraction: floats are refused by strict parsing (bilateral §1.3)",
        json.dumps({**sj, "time": sj["time"] + 0.5}, sort_keys=True, separators=(",", ":")).encode(),
        "FLOAT_NOT_ALLOWED",
    )
    bad(
        "forward-state-missing-field",
        "the proposal's state is checked by the bilateral schema",
        _with(fj, ["proposal", "state", "holds"], _DELETE),
        "MISSING_FIELD",
    )
    return out


def signing_vectors() -> list[JSON]:
    inv = invoice()
    st = RouteStatus.make(SIGNERS["bob"], ID["bob"], PAY, hop=0, status="held", reason="OK", time=T0 + 61)
    out = []
    for name, tag, msg in (("invoice", TAG_INVOICE, inv), ("route", TAG_ROUTE, PAY), ("status", TAG_STATUS, st)):
        out.append(
            _vector(
                f"signing-message-{name}",
                f"the exact bytes signed for a {name}: tag || 0x00 || SHA-256(JCS(body without sig))",
                "signing_message",
                {"tag": tag.decode(), "object": hashed(msg.body_json())},
                explain={"signature": explain(msg)["signature"]},
            )
        )
    return out


def hold_id_vectors() -> list[JSON]:
    return [
        _vector(
            f"hold-id-hop-{h}",
            f"hold id of hop {h}: first 16 bytes of SHA-256('FOAF-ROUTING-1/hold' || 0x00 || route digest || {h:#04x})",
            "hold_id",
            {"route_hash": PAY.route_hash, "hop": h},
        )
        for h in range(3)
    ]


def check_route_vectors() -> list[JSON]:
    e = E3
    a, b, c, d = (ID[x] for x in ("alice", "bob", "carol", "dave"))
    ab, cb, cd = AB.channel, CB.channel, CD.channel
    out: list[JSON] = []

    def case(name: str, desc: str, r: RouteProposal | JSON, error: str | None = None) -> None:
        rj = r.to_json() if isinstance(r, RouteProposal) else r
        extra = {"explain": explain(r)} if isinstance(r, RouteProposal) and error is None else {}
        out.append(_vector(name, desc, "check_route", {"route": rj}, error, **extra))

    def H(ch: str, f: str, t: str, amount: int, exp: int) -> Hop:
        return Hop(ch, f, t, amount, exp)

    case(
        "route-3-hops",
        "the reference route: fees 10 per hop, expiries 600 s apart, the last 1200 s after creation",
        PAY,
    )
    case(
        "route-1-hop",
        "a direct hold alice -> bob is a route of one hop",
        route([H(ab, a, b, 1000, T0 + 600)], payee="bob"),
    )
    five = [hop(AB, "alice", "bob", 1000, 0), hop(CB, "bob", "carol", 1000, 0), hop(CD, "carol", "dave", 1000, 0)]
    five += [Hop(_channel("dave", "mallory", 11).channel, d, ID["mallory"], 1000, 0)]
    five_e = [T0 + (4 - h) * MIN_DELTA for h in range(4)]
    case(
        "route-4-hops-boundaries",
        "4 hops, every expiry exactly MIN_DELTA after the next, the last exactly MIN_DELTA after creation",
        route([Hop(x.channel, x.from_, x.to, x.amount, five_e[i]) for i, x in enumerate(five)], payee="mallory"),
    )
    case(
        "route-first-expiry-at-max",
        "the first hold expires exactly MAX_ROUTE_SECONDS after creation",
        route([H(ab, a, b, 1000, T0 + MAX_ROUTE_SECONDS)], payee="bob"),
    )
    case("loop-3-hops", "a credit loop of 3 hops", loop_route())
    # ROUTE_LENGTH
    case("route-no-hops", "a route has at least one hop", route([], payee="bob"), "ROUTE_LENGTH")
    six = [
        Hop(
            hashlib.sha256(b"ch%d" % i).hexdigest(),
            hashlib.sha256(b"p%d" % i).hexdigest(),
            hashlib.sha256(b"p%d" % (i + 1)).hexdigest(),
            1000,
            T0 + (7 - i) * MIN_DELTA,
        )
        for i in range(MAX_HOPS + 1)
    ]
    six[0] = Hop(six[0].channel, a, six[0].to, 1000, six[0].expires)
    case("route-6-hops", f"at most MAX_HOPS = {MAX_HOPS} hops", route(six, payee="mallory"), "ROUTE_LENGTH")
    case(
        "loop-2-hops",
        "a loop has at least 3 hops (m -> x -> m is one relationship both ways)",
        route([H(ab, a, b, 100, e[1]), H(AB2.channel, b, a, 100, e[2])], payee="alice", purpose="loop", amount=100),
        "ROUTE_LENGTH",
    )
    # ROUTE_BROKEN
    case(
        "first-hop-not-payer",
        "hop 0 starts at another party than the payer",
        route(signer="mallory", payer="mallory"),
        "ROUTE_BROKEN",
    )
    case(
        "last-hop-not-payee", "the last hop ends at another party than the payee", route(payee="carol"), "ROUTE_BROKEN"
    )
    case(
        "hops-not-chained",
        "hop 1 starts where hop 0 does not end (also breaks BAD_AMOUNTS: the first broken rule counts)",
        route([H(ab, a, b, 1020, e[0]), H(cb, c, b, 1030, e[1]), H(cd, c, d, 1000, e[2])]),
        "ROUTE_BROKEN",
    )
    # BAD_PURPOSE
    case("loop-purpose-not-a-loop", "purpose loop but the payee is not the payer", route(purpose="loop"), "BAD_PURPOSE")
    lr = loop_route()
    case(
        "payment-to-self",
        "a route from a party to itself must say purpose loop",
        route(list(lr.hops), payee="alice", amount=200, payment=LOOP_PAYMENT),
        "BAD_PURPOSE",
    )
    # ROUTE_NOT_SIMPLE
    case(
        "party-twice",
        "bob appears twice (alice -> bob -> carol -> bob)",
        route([H(ab, a, b, 1000, e[0]), H(cb, b, c, 1000, e[1]), H(CB_LOW.channel, c, b, 1000, e[2])], payee="bob"),
        "ROUTE_NOT_SIMPLE",
    )
    case(
        "channel-twice",
        "one relationship used by two hops",
        route([H(ab, a, b, 1000, e[0]), H(cb, b, c, 1000, e[1]), H(cb, c, d, 1000, e[2])]),
        "ROUTE_NOT_SIMPLE",
    )
    le = expiries(4)
    case(
        "loop-through-payer",
        "a loop that passes its payer in the middle",
        route(
            [
                H(ab, a, b, 100, le[0]),
                H(AB2.channel, b, a, 100, le[1]),
                H(LCA.channel, a, c, 100, le[2]),
                H(cb, c, a, 100, le[3]),
            ],
            payee="alice",
            purpose="loop",
            amount=100,
        ),
        "ROUTE_NOT_SIMPLE",
    )
    case(
        "self-hop",
        "a hop from a party to itself (bob -> bob)",
        route([H(ab, a, b, 1000, e[1]), H(cb, b, b, 1000, e[2])], payee="bob"),
        "ROUTE_NOT_SIMPLE",
    )
    # BAD_AMOUNTS
    case("last-hop-not-amount", "the last hop must hold exactly the route's amount", route(amount=999), "BAD_AMOUNTS")
    case(
        "amount-grows-downstream",
        "hop 0 holds less than hop 1",
        route([H(ab, a, b, 1005, e[0]), H(cb, b, c, 1010, e[1]), H(cd, c, d, 1000, e[2])]),
        "BAD_AMOUNTS",
    )
    case(
        "loop-with-fee",
        "a loop's hops all hold the same amount",
        route(
            [H(LAB.channel, a, b, 201, e[0]), H(LCB.channel, b, c, 200, e[1]), H(LCA.channel, c, a, 200, e[2])],
            payee="alice",
            purpose="loop",
            amount=200,
        ),
        "BAD_AMOUNTS",
    )
    # BAD_EXPIRY
    case(
        "last-expiry-too-soon",
        "the last hold expires MIN_DELTA - 1 after creation",
        route([H(ab, a, b, 1000, T0 + MIN_DELTA - 1)], payee="bob"),
        "BAD_EXPIRY",
    )
    case(
        "expiry-gap-too-small",
        "hop 0 expires MIN_DELTA - 1 after hop 1",
        route([H(ab, a, b, 1020, e[1] + MIN_DELTA - 1), H(cb, b, c, 1010, e[1]), H(cd, c, d, 1000, e[2])]),
        "BAD_EXPIRY",
    )
    case(
        "expiry-upstream-earlier",
        "hop 0 expires before hop 1",
        route([H(ab, a, b, 1020, e[2]), H(cb, b, c, 1010, e[1]), H(cd, c, d, 1000, e[0])]),
        "BAD_EXPIRY",
    )
    case(
        "first-expiry-too-late",
        "the first hold expires MAX_ROUTE_SECONDS + 1 after creation",
        route([H(ab, a, b, 1000, T0 + MAX_ROUTE_SECONDS + 1)], payee="bob"),
        "BAD_EXPIRY",
    )
    # signature (checked last)
    case(
        "route-signed-by-other",
        "signed by mallory's key while the payer names alice's",
        route(signer="mallory"),
        "BAD_SIGNATURE",
    )
    case(
        "route-amount-changed",
        "a hop amount changed after signing",
        _with(PAY.to_json(), ["hops", 0, "amount"], 1030),
        "BAD_SIGNATURE",
    )
    case(
        "route-signed-as-invoice",
        "signed under the invoice tag",
        _resign(PAY.to_json(), TAG_INVOICE, "alice"),
        "BAD_SIGNATURE",
    )
    case(
        "route-key-small-order",
        "the payer key is a small-order encoding",
        _with(PAY.to_json(), ["payer", "key"], "01" + "00" * 31),
        "KEY_SMALL_ORDER",
    )
    return out


def check_offer_vectors() -> list[JSON]:  # noqa: PLR0915 (a table of vectors)
    inv = invoice()
    out: list[JSON] = []

    def case(  # noqa: PLR0917 (a row of the table below)
        name: str,
        desc: str,
        r: RouteProposal,
        prop: Proposal,
        me: str,
        now: int,
        error: str | None = None,
        *,
        inv_: Invoice | None = None,
        paid: bool = False,
        outgoing: State | None = None,
    ) -> None:
        inputs = {
            "forward": Forward(r, prop).to_json(),
            "me": ID[me],
            "now": now,
            "invoice": None if inv_ is None else inv_.to_json(),
            "paid": paid,
            "outgoing": None if outgoing is None else outgoing.json,
        }
        extra = {} if error is not None else {"explain": {"route": explain(r), "proposal": explain_proposal(prop)}}
        out.append(_vector(name, desc, "check_offer", inputs, error, **extra))

    now = T0 + 60
    o0, o2 = offer(PAY, 0, AB), offer(PAY, 2, CD)
    case(
        "offer-middle",
        "bob is offered hop 0 and has an open relationship with carol for hop 1",
        PAY,
        o0,
        "bob",
        now,
        outgoing=CB,
    )
    case(
        "offer-middle-carol",
        "carol (side a on both her relationships) is offered hop 1",
        PAY,
        offer(PAY, 1, CB),
        "carol",
        now,
        outgoing=CD,
    )
    case("offer-payee", "dave is offered the last hop and holds the invoice", PAY, o2, "dave", now, inv_=inv)
    case(
        "offer-at-too-late-boundary",
        "now = expires - MIN_DELTA is still in time",
        PAY,
        o2,
        "dave",
        E3[2] - MIN_DELTA,
        inv_=inv,
    )
    lr = loop_route()
    case(
        "offer-loop-middle",
        "bob owes alice 500: a loop hold of 200 reduces it",
        lr,
        offer(lr, 0, LAB),
        "bob",
        now,
        outgoing=LCB,
    )
    case(
        "offer-loop-payee",
        "alice closes her own loop: carol's hold pays alice's own invoice, and alice owes carol 500",
        lr,
        offer(lr, 2, LCA),
        "alice",
        now,
        inv_=invoice(payment=LOOP_PAYMENT, amount=200, payee="alice"),
    )
    # step 1: the route's own rules
    broken = route([Hop(AB.channel, ID["alice"], ID["bob"], 1000, T0 + MIN_DELTA - 1)], payee="bob")
    case(
        "offer-route-broken",
        "the route fails check_route (first step): its code",
        broken,
        offer(broken, 0, AB),
        "bob",
        now,
        "BAD_EXPIRY",
    )
    forged = route(signer="mallory")
    case(
        "offer-route-forged",
        "a route not signed by its payer",
        forged,
        offer(forged, 0, AB),
        "bob",
        now,
        "BAD_SIGNATURE",
        outgoing=CB,
    )
    # step 2: a hold at all
    case(
        "offer-not-a-hold",
        "the proposal is a payment, not a hold",
        PAY,
        offer(PAY, 0, AB, op=Payment("a", 1020)),
        "bob",
        now,
        "HOLD_MISMATCH",
        outgoing=CB,
    )
    # step 3: one of our incoming hops
    other = route(payment="7061796d656e742d0000000000000009")
    case(
        "offer-other-route-hold",
        "the hold id belongs to another route",
        PAY,
        offer(other, 0, AB),
        "bob",
        now,
        "NOT_ON_ROUTE",
        outgoing=CB,
    )
    case(
        "offer-not-our-hop",
        "carol is offered hop 0, which pays bob",
        PAY,
        o0,
        "carol",
        now,
        "NOT_ON_ROUTE",
        outgoing=CD,
    )
    case("offer-payer-offered-own-hop", "alice is offered hop 0, which she pays", PAY, o0, "alice", now, "NOT_ON_ROUTE")
    # step 4: exactly the hold the route names
    ex = expected_hold(PAY, 0, "a")

    def op_(**kw: Any) -> PlaceHold:
        return PlaceHold(
            **{"id": ex.id, "from_": ex.from_, "amount": ex.amount, "lock": ex.lock, "expires": ex.expires, **kw}
        )

    mism = [
        ("amount", "the hold's amount is not hop 0's", op_(amount=1019), None, AB),
        ("expires", "the hold expires later than hop 0 says", op_(expires=ex.expires + 1), None, AB),
        (
            "lock",
            "the hold's lock is not the route's",
            op_(lock=hashlib.sha256(bytes.fromhex(OTHER_PREIMAGE)).hexdigest()),
            None,
            AB,
        ),
        ("payer-side", "the hold names bob as its payer", op_(from_="b"), None, AB),
        ("proposer", "bob proposes the hold himself (the hold's payer must propose it)", None, "b", AB),
        ("channel", "the hold is on another relationship between alice and bob", None, None, AB2),
    ]
    for what, desc, op, proposer, ch in mism:
        case(
            f"offer-wrong-{what}",
            desc,
            PAY,
            offer(PAY, 0, ch, op=op, proposer=proposer),
            "bob",
            now,
            "HOLD_MISMATCH",
            outgoing=CB,
        )
    eur = route(currency="EUR")
    case(
        "offer-wrong-currency",
        "the route is in EUR, the relationship in CAD",
        eur,
        offer(eur, 0, AB),
        "bob",
        now,
        "HOLD_MISMATCH",
        outgoing=CB,
    )
    # step 5: in time
    case(
        "offer-too-late", "now = expires - MIN_DELTA + 1", PAY, o2, "dave", E3[2] - MIN_DELTA + 1, "TOO_LATE", inv_=inv
    )
    case(
        "offer-too-late-middle",
        "bob is offered hop 0 after expires - MIN_DELTA",
        PAY,
        o0,
        "bob",
        E3[0] - MIN_DELTA + 1,
        "TOO_LATE",
        outgoing=CB,
    )
    # step 5, then: a route created in the future (its holds would last longer than MAX_ROUTE_SECONDS)
    case(
        "offer-created-in-future",
        "dave's clock reads created - MAX_CLOCK_SKEW - 1: the route was made in the future",
        PAY,
        o2,
        "dave",
        T0 - MAX_CLOCK_SKEW - 1,
        "BAD_EXPIRY",
        inv_=inv,
    )
    case(
        "offer-created-in-future-middle",
        "bob is offered hop 0 of a route created more than MAX_CLOCK_SKEW after his clock",
        PAY,
        o0,
        "bob",
        T0 - MAX_CLOCK_SKEW - 1,
        "BAD_EXPIRY",
        outgoing=CB,
    )
    case(
        "offer-created-in-future-before-invoice",
        "the future route is refused before the invoice is looked at (dave has none): BAD_EXPIRY",
        PAY,
        o2,
        "dave",
        T0 - MAX_CLOCK_SKEW - 1,
        "BAD_EXPIRY",
    )
    case(
        "offer-created-at-skew-boundary",
        "created = now + MAX_CLOCK_SKEW is still accepted",
        PAY,
        o2,
        "dave",
        T0 - MAX_CLOCK_SKEW,
        inv_=inv,
    )
    # step 6 (payee): the invoice
    case("offer-no-invoice", "dave has no invoice for this payment", PAY, o2, "dave", now, "UNKNOWN_PAYMENT")
    case(
        "offer-invoice-other-payment",
        "dave's invoice is for another payment id",
        PAY,
        o2,
        "dave",
        now,
        "UNKNOWN_PAYMENT",
        inv_=invoice(payment="7061796d656e742d0000000000000003"),
    )
    case(
        "offer-invoice-other-lock",
        "dave's invoice for this payment has another lock",
        PAY,
        o2,
        "dave",
        now,
        "UNKNOWN_PAYMENT",
        inv_=invoice(preimage=OTHER_PREIMAGE),
    )
    case(
        "offer-invoice-amount",
        "the invoice asks 999, the route pays 1000",
        PAY,
        o2,
        "dave",
        now,
        "AMOUNT_MISMATCH",
        inv_=invoice(amount=999),
    )
    case(
        "offer-invoice-currency",
        "the invoice is in EUR",
        PAY,
        o2,
        "dave",
        now,
        "AMOUNT_MISMATCH",
        inv_=invoice(currency="EUR"),
    )
    case(
        "offer-invoice-expired",
        "now = the invoice's expires",
        PAY,
        o2,
        "dave",
        T0 + 100,
        "INVOICE_EXPIRED",
        inv_=invoice(expires=T0 + 100),
    )
    case(
        "offer-already-paid",
        "dave already took a hold for this payment",
        PAY,
        o2,
        "dave",
        now,
        "ALREADY_PAID",
        inv_=inv,
        paid=True,
    )
    # step 6 (middle): the next hop
    case("offer-no-outgoing", "bob has no relationship for hop 1", PAY, o0, "bob", now, "NO_NEXT_HOP")
    case(
        "offer-outgoing-other-channel",
        "bob's outgoing state is of another relationship",
        PAY,
        o0,
        "bob",
        now,
        "NO_NEXT_HOP",
        outgoing=BM,
    )
    case(
        "offer-outgoing-frozen",
        "bob's relationship for hop 1 is frozen",
        *_frozen_case(),
        "bob",
        now,
        "NO_NEXT_HOP",
        outgoing=CB_FROZEN,
    )
    e = E3
    to_mallory = route(
        [
            hop(AB, "alice", "bob", 1020, e[0]),
            Hop(BM.channel, ID["bob"], ID["carol"], 1010, e[1]),
            hop(CD, "carol", "dave", 1000, e[2]),
        ]
    )
    case(
        "offer-next-peer-differs",
        "hop 1's relationship links bob to mallory, not to carol",
        to_mallory,
        offer(to_mallory, 0, AB),
        "bob",
        now,
        "NO_NEXT_HOP",
        outgoing=BM,
    )
    low = route(
        [
            hop(AB, "alice", "bob", 1020, e[0]),
            hop(CB_LOW, "bob", "carol", 1010, e[1]),
            hop(CD, "carol", "dave", 1000, e[2]),
        ]
    )
    case(
        "offer-next-over-limit",
        "bob may owe carol at most 1000: hop 1 cannot carry 1010 (bilateral code)",
        low,
        offer(low, 0, AB),
        "bob",
        now,
        "LIMIT_EXCEEDED",
        outgoing=CB_LOW,
    )
    # step 7: loops
    big = loop_route(600)
    case(
        "offer-loop-adds-debt",
        "bob owes alice 500: a loop hold of 600 would leave alice owing bob",
        big,
        offer(big, 0, LAB),
        "bob",
        now,
        "LOOP_ADDS_DEBT",
        outgoing=LCB,
    )
    case(
        "offer-loop-payee-adds-debt",
        "alice owes carol 500: a loop hold of 600 on the last hop is refused by alice too",
        big,
        offer(big, 2, LCA),
        "alice",
        now,
        "LOOP_ADDS_DEBT",
        inv_=invoice(payment=LOOP_PAYMENT, amount=600, payee="alice"),
    )
    return out


def _frozen_case() -> tuple[RouteProposal, Proposal]:
    e = E3
    r = route(
        [
            hop(AB, "alice", "bob", 1020, e[0]),
            hop(CB_FROZEN, "bob", "carol", 1010, e[1]),
            hop(CD, "carol", "dave", 1000, e[2]),
        ]
    )
    return r, offer(r, 0, AB)


def node_vectors() -> list[JSON]:  # noqa: PLR0915 (a table of vectors)
    out: list[JSON] = []
    e = E3
    sides = {0: (None, "a"), 1: ("b", "b"), 2: ("a", "a"), 3: ("b", None)}

    def node(index: int, **fields: Any) -> Node:
        side_in, side_out = sides[index]
        return Node(PAY, index, side_in, side_out, **fields)

    def case(name: str, desc: str, n: Node, call: JSON) -> None:
        out.append(_vector(name, desc, "node", {"node": n.to_json(), "call": call}))

    H, P, R, C, F = HopState.HELD, HopState.PROPOSED, HopState.RELEASED, HopState.CANCELLED, HopState.REFUSED
    case("payer-start", "the payer offers hop 0", node(0), {"call": "start"})
    case("payer-start-twice", "start does nothing once hop 0 is out", node(0, outgoing=P), {"call": "start"})
    case(
        "middle-incoming-held",
        "bob's incoming hold is co-signed: he reports it and offers hop 1",
        node(1),
        {"call": "incoming_held"},
    )
    case(
        "payee-incoming-held",
        "dave's incoming hold is co-signed: he reports it and releases it with his preimage (R1)",
        node(3, preimage=PREIMAGE),
        {"call": "incoming_held"},
    )
    case(
        "middle-incoming-held-again",
        "a second notice changes nothing",
        node(1, incoming=H, outgoing=P),
        {"call": "incoming_held"},
    )
    case(
        "middle-outgoing-held", "bob's hop 1 hold committed", node(1, incoming=H, outgoing=P), {"call": "outgoing_held"}
    )
    case(
        "middle-outgoing-released",
        "carol's hop 2 release committed: she learns the preimage and releases hop 1 (R4)",
        node(2, incoming=H, outgoing=H),
        {"call": "outgoing_released", "preimage": PREIMAGE},
    )
    case(
        "payer-outgoing-released",
        "hop 0's release committed: the payer is charged and holds the proof of payment",
        node(0, outgoing=H),
        {"call": "outgoing_released", "preimage": PREIMAGE},
    )
    case(
        "middle-incoming-released",
        "bob's incoming release committed after his outgoing one: settled",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "incoming_released"},
    )
    case(
        "payee-incoming-released",
        "dave's release committed: settled",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_released"},
    )
    case(
        "middle-outgoing-refused",
        "carol refused bob's hop 1 hold: bob cancels hop 0 with carol's reason",
        node(1, incoming=H, outgoing=P),
        {"call": "outgoing_refused", "reason": "LIMIT_EXCEEDED"},
    )
    case(
        "payer-outgoing-refused",
        "bob refused hop 0: the payment is cancelled",
        node(0, outgoing=P),
        {"call": "outgoing_refused", "reason": "NO_NEXT_HOP"},
    )
    case(
        "middle-outgoing-cancelled",
        "hop 2 was cancelled (carol's cancel after expiry): carol cancels hop 1",
        node(2, incoming=H, outgoing=H),
        {"call": "outgoing_cancelled", "reason": "HOLD_TIMED_OUT"},
    )
    case(
        "middle-outgoing-cancelled-ok",
        "a cancel reported with reason OK is passed upstream as DOWNSTREAM_FAILED",
        node(2, incoming=H, outgoing=H),
        {"call": "outgoing_cancelled", "reason": "OK"},
    )
    case(
        "middle-outgoing-cancelled-preimage-known",
        "no cancel upstream once the preimage is known",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=H),
        {"call": "outgoing_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    case(
        "middle-incoming-cancelled",
        "bob's incoming hold was cancelled: he reports it; the payment is over for him",
        node(1, incoming=H, outgoing=F),
        {"call": "incoming_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    case(
        "middle-incoming-cancelled-own-reason",
        "the cancel bob asked for committed: without a reason given, his own reason is reported",
        node(1, incoming=H, outgoing=F, reason="LIMIT_EXCEEDED"),
        {"call": "incoming_cancelled"},
    )
    case(
        "payee-incoming-cancelled-no-reason",
        "the event alone (an honest payee never signs this cancel, §5.3): reported with HOLD_TIMED_OUT, finished",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_cancelled"},
    )
    # §6.6 O2: a party in the middle keeps its clock until its outgoing hold is resolved
    case(
        "middle-incoming-cancelled-outgoing-held",
        "hop 0 was cancelled (alice's R5 cancel after expiry) while hop 1 is still held: bob reports it "
        "and stays pending, his clock still has hop 1 to cancel",
        node(1, incoming=H, outgoing=H),
        {"call": "incoming_cancelled"},
    )
    case(
        "middle-incoming-cancelled-outgoing-proposed",
        "hop 0 was cancelled while bob's hop 1 offer is unanswered (a late accept may still commit it): pending",
        node(1, incoming=H, outgoing=P),
        {"call": "incoming_cancelled"},
    )
    case(
        "middle-incoming-cancelled-then-outgoing-cancelled",
        "the R5 cancel of hop 1 committed after hop 0's: bob is finished, cancelled, HOLD_TIMED_OUT",
        node(1, incoming=C, outgoing=H),
        {"call": "outgoing_cancelled", "reason": "HOLD_TIMED_OUT"},
    )
    case(
        "middle-incoming-cancelled-then-outgoing-refused",
        "carol finally refused the hop 1 offer: bob is finished with her reason (he had none of his own)",
        node(1, incoming=C, outgoing=P),
        {"call": "outgoing_refused", "reason": "TOO_LATE"},
    )
    case(
        "middle-incoming-cancelled-own-reason-kept",
        "bob had asked for the cancel of hop 0 (HOLD_TIMED_OUT): his own reason is the outcome's",
        node(1, incoming=C, outgoing=H, reason="HOLD_TIMED_OUT"),
        {"call": "outgoing_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    # R2
    case(
        "release-in-time",
        "R2: carol countersigns the release of hop 2 one second before it expires",
        node(2, incoming=H, outgoing=H),
        {"call": "may_countersign_release", "now": e[2] - 1},
    )
    case(
        "release-too-late",
        "R2: at expires the release is refused",
        node(2, incoming=H, outgoing=H),
        {"call": "may_countersign_release", "now": e[2]},
    )
    # R3 / R5
    case(
        "cancel-outgoing-open",
        "R3: bob refuses to cancel hop 0 while hop 1 is held and not expired",
        node(1, incoming=H, outgoing=H),
        {"call": "may_countersign_cancel", "hop": 0, "now": e[1] - 1},
    )
    case(
        "cancel-outgoing-proposed",
        "R3: nor while his hop 1 proposal may still commit before it expires",
        node(1, incoming=H, outgoing=P),
        {"call": "may_countersign_cancel", "hop": 0, "now": T0 + 100},
    )
    case(
        "cancel-outgoing-expired",
        "R3: once hop 1 expired (it can no longer be released) bob countersigns",
        node(1, incoming=H, outgoing=H),
        {"call": "may_countersign_cancel", "hop": 0, "now": e[1]},
    )
    case(
        "cancel-preimage-known",
        "R3: bob knows the preimage (he paid hop 1): he never cancels hop 0",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "may_countersign_cancel", "hop": 0, "now": e[0] + 10},
    )
    case(
        "cancel-outgoing-refused",
        "R3: hop 1 was refused: bob countersigns the cancel of hop 0",
        node(1, incoming=H, outgoing=F),
        {"call": "may_countersign_cancel", "hop": 0, "now": T0 + 100},
    )
    case(
        "cancel-of-outgoing",
        "R5: carol (hop 1's payee) gives hop 1 up: bob countersigns at any time",
        node(1, incoming=H, outgoing=H),
        {"call": "may_countersign_cancel", "hop": 1, "now": T0 + 100},
    )
    case(
        "cancel-payee",
        "dave refuses the cancel of his held hold (PREIMAGE_KNOWN): he showed the preimage in his release "
        "(R1, R3, §6.6 O1)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "may_countersign_cancel", "hop": 2, "now": e[2]},
    )
    case(
        "cancel-payee-long-after-expiry",
        "a day after hop 2 expired dave still refuses: the hold stays open as the evidence of a dispute",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "may_countersign_cancel", "hop": 2, "now": e[2] + 86_400},
    )
    case(
        "cancel-payee-before-expiry",
        "nor before expiry (a dishonest carol proposing it early; bilateral §5.6 would refuse it first)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "may_countersign_cancel", "hop": 2, "now": T0 + 100},
    )
    # the clock
    case(
        "tick-payee-retries-release",
        "dave's release has not committed: he proposes it again while now < expires - RELEASE_MARGIN",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "tick", "now": e[2] - RELEASE_MARGIN - 1},
    )
    case(
        "tick-payee-gives-up",
        "at expires - RELEASE_MARGIN dave stops proposing his release; he never proposes a cancel (§6.6 O1); "
        "not disputed yet (his release may still commit before expires)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "tick", "now": e[2] - RELEASE_MARGIN},
    )
    case(
        "tick-payee-at-expiry",
        "hop 2 expired unreleased by dave's clock while he holds it with the preimage: no honest payer countersigns "
        "his release now (R2), he cancels nothing (R1, R3): hop 2 is disputed by the clock (§5.4 step 0), reported, "
        "finished (§6.6 O6)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "tick", "now": e[2]},
    )
    case(
        "tick-payee-long-after-expiry",
        "a day later (a node that did not tick meanwhile): the same dispute; the co-signed hold is kept",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "tick", "now": e[2] + 86_400},
    )
    case(
        "tick-middle-retries-release",
        "bob paid hop 1 and keeps releasing hop 0 until it expires",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "tick", "now": e[0] - 1},
    )
    case(
        "tick-middle-release-expired",
        "hop 0 expired unreleased after bob paid hop 1: he keeps the co-signed hold and the preimage (evidence), "
        "marks hop 0 disputed by the clock, reports it and is finished (§5.4 step 0)",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "tick", "now": e[0]},
    )
    case(
        "tick-reoffer",
        "bob's hop 1 proposal has not committed: offered again while now <= expires - MIN_DELTA",
        node(1, incoming=H, outgoing=P),
        {"call": "tick", "now": e[1] - MIN_DELTA},
    )
    case(
        "tick-no-reoffer",
        "past expires - MIN_DELTA carol would refuse it: nothing to do yet",
        node(1, incoming=H, outgoing=P),
        {"call": "tick", "now": e[1] - MIN_DELTA + 1},
    )
    case(
        "tick-proposed-expired",
        "hop 1 never committed and has expired: bob cancels hop 0 (HOLD_TIMED_OUT)",
        node(1, incoming=H, outgoing=P),
        {"call": "tick", "now": e[1]},
    )
    case(
        "tick-past-expiry",
        "hop 1 held and expired: bob takes its credit back (R5) and cancels hop 0 (R3)",
        node(1, incoming=H, outgoing=H),
        {"call": "tick", "now": e[1]},
    )
    case(
        "tick-before-expiry",
        "one second before hop 1 expires: nothing",
        node(1, incoming=H, outgoing=H),
        {"call": "tick", "now": e[1] - 1},
    )
    case(
        "tick-payer-past-expiry",
        "hop 0 held and expired: the payer cancels it (R5)",
        node(0, outgoing=H),
        {"call": "tick", "now": e[0]},
    )
    case(
        "tick-downstream-refused",
        "hop 2 was refused and the cancel of hop 1 is not committed yet: carol proposes it again",
        node(2, incoming=H, outgoing=F),
        {"call": "tick", "now": T0 + 120},
    )
    case(
        "tick-settled",
        "a settled node does nothing",
        node(1, preimage=PREIMAGE, incoming=R, outgoing=R, outcome=Outcome.SETTLED),
        {"call": "tick", "now": e[0] + 1},
    )
    case(
        "tick-incoming-cancelled-before-expiry",
        "hop 0 cancelled, hop 1 still held and not expired: bob waits (R5)",
        node(1, incoming=C, outgoing=H),
        {"call": "tick", "now": e[1] - 1},
    )
    case(
        "tick-incoming-cancelled-at-expiry",
        "hop 0 cancelled, hop 1 held and expired: bob proposes its cancel (R5) and stays pending until it commits",
        node(1, incoming=C, outgoing=H),
        {"call": "tick", "now": e[1]},
    )
    case(
        "tick-finished-outgoing-held",
        "a node finished while its outgoing hold is held (stored before §6.6 O2 was closed): "
        "its clock still proposes the R5 cancel",
        node(1, incoming=C, outgoing=H, outcome=Outcome.CANCELLED, reason="HOLD_TIMED_OUT"),
        {"call": "tick", "now": e[1]},
    )
    case(
        "tick-finished-outgoing-proposed",
        "a finished node whose outgoing hold is not held does nothing, even while it could offer it again",
        node(1, incoming=C, outgoing=P, outcome=Outcome.CANCELLED, reason="HOLD_TIMED_OUT"),
        {"call": "tick", "now": T0 + 100},
    )
    # the re-offer needs the incoming hold held (or being the payer)
    case(
        "tick-no-reoffer-incoming-cancelled",
        "hop 0 was cancelled while bob's hop 1 offer is unanswered: still pending, but he offers hop 1 no more "
        "(a late accept of the offer already out still counts)",
        node(1, incoming=C, outgoing=P),
        {"call": "tick", "now": T0 + 100},
    )
    case(
        "tick-payer-reoffer",
        "the payer's hop 0 offer has not committed: offered again while now <= expires - MIN_DELTA",
        node(0, outgoing=P),
        {"call": "tick", "now": e[0] - MIN_DELTA},
    )
    # §6.6: disputes end quietly. Our R5 cancel refused because the hold's payee showed the preimage.
    D = HopState.DISPUTED
    case(
        "payer-cancel-refused-preimage-known",
        "bob refused alice's R5 cancel of hop 0 (PREIMAGE_KNOWN): hop 0 is disputed, alice is finished, disputed",
        node(0, outgoing=H),
        {"call": "outgoing_cancel_refused", "reason": "PREIMAGE_KNOWN"},
    )
    case(
        "middle-cancel-refused-incoming-held",
        "dave refused carol's R5 cancel of hop 2: hop 2 is disputed; carol stays pending, her clock still "
        "cancels hop 1 (she does not use a preimage from a release she refused)",
        node(2, incoming=H, outgoing=H),
        {"call": "outgoing_cancel_refused", "reason": "PREIMAGE_KNOWN"},
    )
    case(
        "middle-cancel-refused-incoming-cancelled",
        "hop 1 already cancelled when dave refuses carol's cancel of hop 2: carol is finished, disputed",
        node(2, incoming=C, outgoing=H, reason="HOLD_TIMED_OUT"),
        {"call": "outgoing_cancel_refused", "reason": "PREIMAGE_KNOWN"},
    )
    case(
        "middle-cancel-refused-other-reason",
        "a cancel refused for another reason (OUTGOING_OPEN: the peer's clock is behind) changes nothing; "
        "the clock proposes it again",
        node(1, incoming=H, outgoing=H),
        {"call": "outgoing_cancel_refused", "reason": "OUTGOING_OPEN"},
    )
    case(
        "middle-cancel-refused-void",
        "DEADLINE_PASSED only voids the cancel: nothing changes",
        node(2, incoming=H, outgoing=H),
        {"call": "outgoing_cancel_refused", "reason": "DEADLINE_PASSED"},
    )
    case(
        "payer-cancel-refused-again",
        "a second refusal of a disputed hop changes nothing",
        node(0, outgoing=D, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        {"call": "outgoing_cancel_refused", "reason": "PREIMAGE_KNOWN"},
    )
    # Our release refused as too late.
    case(
        "payee-release-refused-too-late",
        "carol refused dave's release (RELEASE_TOO_LATE): hop 2 is disputed, dave reports it and is finished",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_release_refused", "reason": "RELEASE_TOO_LATE"},
    )
    case(
        "middle-release-refused-too-late",
        "alice refused bob's release of hop 0 (RELEASE_TOO_LATE) after he paid hop 1: disputed, reported, finished",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "incoming_release_refused", "reason": "RELEASE_TOO_LATE"},
    )
    case(
        "payee-release-refused-other-reason",
        "a release refused for another reason (DEADLINE_PASSED, a void) changes nothing",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_release_refused", "reason": "DEADLINE_PASSED"},
    )
    case(
        "payee-release-refused-again",
        "a second refusal of a disputed hop changes nothing and reports nothing",
        node(3, preimage=PREIMAGE, incoming=D, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "incoming_release_refused", "reason": "RELEASE_TOO_LATE"},
    )
    # We refused the R5 cancel of our incoming hold with PREIMAGE_KNOWN.
    case(
        "payee-cancel-refused-at-expiry",
        "dave refused carol's cancel of hop 2 (PREIMAGE_KNOWN) at its expiry by his clock: no release can be "
        "countersigned any more, so hop 2 is disputed as if his release were refused (RELEASE_TOO_LATE)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_cancel_refused", "reason": "PREIMAGE_KNOWN", "now": e[2]},
    )
    case(
        "payee-cancel-refused-before-expiry",
        "the same refusal one second before hop 2 expires by dave's clock (carol's clock is ahead): "
        "disputed all the same, since carol may propose the cancel only past expiry by her clock",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "incoming_cancel_refused", "reason": "PREIMAGE_KNOWN", "now": e[2] - 1},
    )
    case(
        "middle-cancel-refused-preimage-known",
        "bob paid hop 1 and refused alice's cancel of hop 0 at its expiry: hop 0 is disputed, bob is finished",
        node(1, preimage=PREIMAGE, incoming=H, outgoing=R),
        {"call": "incoming_cancel_refused", "reason": "PREIMAGE_KNOWN", "now": e[0] + 10},
    )
    case(
        "middle-cancel-refused-outgoing-open",
        "bob refused the cancel of hop 0 with OUTGOING_OPEN: not a dispute, nothing changes",
        node(1, incoming=H, outgoing=H),
        {"call": "incoming_cancel_refused", "reason": "OUTGOING_OPEN", "now": e[0]},
    )
    # Disputed hops afterwards.
    case(
        "middle-incoming-cancelled-outgoing-disputed",
        "carol's cancel of hop 1 committed while hop 2 is disputed: she reports it and is finished, disputed",
        node(2, incoming=H, outgoing=D, reason="HOLD_TIMED_OUT"),
        {"call": "incoming_cancelled"},
    )
    case(
        "tick-outgoing-disputed",
        "hop 2 is disputed, hop 1 held: carol proposes the cancel of hop 1 (R3) and never hop 2's again",
        node(2, incoming=H, outgoing=D),
        {"call": "tick", "now": e[2] + 60},
    )
    case(
        "tick-payee-disputed",
        "dave's disputed node proposes nothing, neither a release nor anything else",
        node(3, preimage=PREIMAGE, incoming=D, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "tick", "now": e[2] - RELEASE_MARGIN - 1},
    )
    case(
        "cancel-outgoing-disputed",
        "R3: carol does not know the preimage and hop 2 can no longer be released: she countersigns hop 1's cancel",
        node(2, incoming=H, outgoing=D),
        {"call": "may_countersign_cancel", "hop": 1, "now": e[1]},
    )
    case(
        "cancel-incoming-disputed",
        "bob's disputed hop 0: he refuses its cancel (PREIMAGE_KNOWN), the hold stays as evidence",
        node(1, preimage=PREIMAGE, incoming=D, outgoing=R, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "may_countersign_cancel", "hop": 0, "now": e[0] + 60},
    )
    # §5.4 step 0: a hold still held with its preimage is disputed by the clock at its expiry.
    case(
        "tick-payee-before-expiry",
        "one second before hop 2 expires by dave's clock: inside the release margin, nothing yet (not disputed)",
        node(3, preimage=PREIMAGE, incoming=H),
        {"call": "tick", "now": e[2] - 1},
    )
    case(
        "tick-payee-disputed-by-clock-again",
        "the tick after the dispute by the clock: dave's node is finished and reports nothing again",
        node(3, preimage=PREIMAGE, incoming=D, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "tick", "now": e[2] + 60},
    )
    # A dispute the parties resolve after all: the node follows the ledger (outcome disputed -> settled/cancelled).
    case(
        "payee-disputed-then-released",
        "carol countersigned dave's release of disputed hop 2 after all (her clock behind, or dishonest): the "
        "release committed, dave reports settled and his outcome becomes settled",
        node(3, preimage=PREIMAGE, incoming=D, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "incoming_released"},
    )
    case(
        "middle-disputed-then-released",
        "alice countersigned bob's release of disputed hop 0 after all: bob is paid, settled",
        node(1, preimage=PREIMAGE, incoming=D, outgoing=R, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "incoming_released"},
    )
    case(
        "payer-disputed-then-released",
        "bob's release of disputed hop 0 committed after all (alice's countersignature, e.g. a dishonest wallet): "
        "alice learns the preimage and is settled",
        node(0, outgoing=D, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        {"call": "outgoing_released", "preimage": PREIMAGE},
    )
    case(
        "payer-disputed-then-cancelled",
        "bob gave the dispute of hop 0 up: his cancel committed (alice countersigns it at any time); alice is "
        "cancelled, with her own reason kept (PREIMAGE_KNOWN)",
        node(0, outgoing=D, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        {"call": "outgoing_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    case(
        "middle-disputed-then-cancelled",
        "hop 1 cancelled, hop 2 disputed, carol finished disputed; dave gave hop 2 up and its cancel committed: "
        "carol is cancelled, her own reason kept",
        node(2, incoming=C, outgoing=D, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        {"call": "outgoing_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    case(
        "middle-outgoing-disputed-cancelled-incoming-held",
        "hop 2 disputed, hop 1 still held, then dave's cancel of hop 2 committed: carol cancels hop 1 as after any "
        "downstream cancel",
        node(2, incoming=H, outgoing=D),
        {"call": "outgoing_cancelled", "reason": "DOWNSTREAM_FAILED"},
    )
    case(
        "payee-disputed-then-cancelled",
        "the cancel of dave's disputed hold committed (dave gave it up, outside §5): reported cancelled with his "
        "own reason, outcome cancelled",
        node(3, preimage=PREIMAGE, incoming=D, outcome=Outcome.DISPUTED, reason="RELEASE_TOO_LATE"),
        {"call": "incoming_cancelled"},
    )
    case(
        "finished-cancelled-then-cancel-refused",
        "a node finished cancelled (stored before §6.6 O2) whose R5 cancel of hop 1 is refused PREIMAGE_KNOWN: "
        "hop 1 is disputed but the outcome stays cancelled (only disputed gives way to the ledger)",
        node(1, incoming=C, outgoing=H, outcome=Outcome.CANCELLED, reason="HOLD_TIMED_OUT"),
        {"call": "outgoing_cancel_refused", "reason": "PREIMAGE_KNOWN"},
    )
    return out


def progress_vectors() -> list[JSON]:
    """The payer's view of a route (§5.6): its node, and the newest report on each hop."""
    out: list[JSON] = []
    H, R, C, F = HopState.HELD, HopState.RELEASED, HopState.CANCELLED, HopState.REFUSED

    def payer(**fields: Any) -> Node:
        return Node(PAY, 0, None, "a", **fields)

    def case(name: str, desc: str, n: Node | None, reports: list[tuple[int, str, str]]) -> None:
        inputs = {
            "route": PAY.to_json(),
            "payer": None if n is None else node_fields(n),
            "reports": [{"hop": h, "status": st, "reason": why} for h, st, why in reports],
        }
        out.append(_vector(name, desc, "route_progress", inputs))

    case("progress-unknown", "no payer node and no report: pending, every hop proposed", None, [])
    case(
        "progress-hop0-first-hand",
        "hop 0 held: the payer knows it first hand, before bob reports it",
        payer(outgoing=H),
        [],
    )
    case(
        "progress-hop0-refused",
        "bob refused hop 0 (never held): hop 0 is cancelled with the payer's reason",
        payer(outgoing=F, outcome=Outcome.CANCELLED, reason="NO_NEXT_HOP"),
        [],
    )
    case(
        "progress-report-wins",
        "hop 0's release committed but bob's report of it has not arrived: his older report (held) is shown",
        payer(preimage=PREIMAGE, outgoing=R, outcome=Outcome.SETTLED),
        [(0, "held", "OK"), (1, "settled", "OK"), (2, "settled", "OK")],
    )
    case(
        "progress-settled",
        "every hop settled",
        payer(preimage=PREIMAGE, outgoing=R, outcome=Outcome.SETTLED),
        [(0, "settled", "OK"), (1, "settled", "OK"), (2, "settled", "OK")],
    )
    case(
        "progress-first-cause",
        "dave refused hop 2 (UNKNOWN_PAYMENT); carol cancelled hop 1 with that reason, bob hop 0 with "
        "DOWNSTREAM_FAILED: the payer's DOWNSTREAM_FAILED gives way to the first reason that says why",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="DOWNSTREAM_FAILED"),
        [(0, "cancelled", "DOWNSTREAM_FAILED"), (1, "cancelled", "UNKNOWN_PAYMENT")],
    )
    case(
        "progress-no-cause",
        "hop 0 cancelled by bob and nobody said why: hop 0 is cancelled first hand with the payer's reason, "
        "which stays DOWNSTREAM_FAILED",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="DOWNSTREAM_FAILED"),
        [],
    )
    case(
        "progress-own-reason",
        "bob was away until hop 0 expired and carol had asked to cancel hop 1 (UNKNOWN_PAYMENT); alice cancelled "
        "hop 0 herself (HOLD_TIMED_OUT): a reason other than DOWNSTREAM_FAILED is kept as it is",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="HOLD_TIMED_OUT"),
        [(0, "cancelled", "HOLD_TIMED_OUT"), (1, "cancelled", "UNKNOWN_PAYMENT")],
    )
    case(
        "progress-dispute",
        "dave's release never reached carol: carol cancelled hop 1 at its expiry, the payment is cancelled "
        "for alice, and hop 2 shows held while dave has not reported a dispute (§6.6 O1)",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="DOWNSTREAM_FAILED"),
        [(0, "cancelled", "DOWNSTREAM_FAILED"), (1, "cancelled", "HOLD_TIMED_OUT"), (2, "held", "OK")],
    )
    case(
        "progress-dispute-reported",
        "carol refused dave's late release (RELEASE_TOO_LATE) and cancelled hop 1: dave reports hop 2 disputed; "
        "a disputed hop is not a cause, the first cancelled one is",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="DOWNSTREAM_FAILED"),
        [
            (0, "cancelled", "DOWNSTREAM_FAILED"),
            (1, "cancelled", "HOLD_TIMED_OUT"),
            (2, "disputed", "RELEASE_TOO_LATE"),
        ],
    )
    case(
        "progress-hop0-disputed",
        "bob refused alice's cancel of hop 0 (PREIMAGE_KNOWN): alice knows first hand hop 0 is disputed",
        payer(outgoing=HopState.DISPUTED, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        [],
    )
    case(
        "progress-hop0-disputed-reported",
        "bob's report of hop 0 (disputed, RELEASE_TOO_LATE) wins over what alice knows first hand",
        payer(outgoing=HopState.DISPUTED, outcome=Outcome.DISPUTED, reason="PREIMAGE_KNOWN"),
        [(0, "disputed", "RELEASE_TOO_LATE")],
    )
    case(
        "progress-hop0-cancelled-own",
        "alice cancelled hop 0 herself after its expiry (HOLD_TIMED_OUT): hop 0 is cancelled with her reason",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="HOLD_TIMED_OUT"),
        [],
    )
    case(
        "progress-hop0-cancelled-no-reason",
        "a payer node with hop 0 cancelled and reason OK (no honest payer gets there): hop 0 shows "
        "HOLD_TIMED_OUT, since a cancelled hop always has a reason (§4.3)",
        payer(outgoing=C, outcome=Outcome.CANCELLED, reason="OK"),
        [],
    )
    return out


def vectors() -> list[JSON]:
    out = (
        decode_vectors()
        + signing_vectors()
        + hold_id_vectors()
        + check_route_vectors()
        + check_offer_vectors()
        + node_vectors()
        + progress_vectors()
    )
    if len({v["name"] for v in out}) != len(out):
        raise AssertionError("vector names must be unique")
    return out


def render() -> dict[str, bytes]:
    data = {
        "description": (
            "Multi-hop payments (docs/spec/routing.md): kinds decode, signing_message, hold_id, check_route, "
            "check_offer, node, route_progress. Seeds: alice 0x11, bob 0x22, carol 0x44, mallory 0x55, "
            "dave 0x66 (x32); "
            f"routes created at T0 = {T0}; MIN_DELTA = {MIN_DELTA}, RELEASE_MARGIN = {RELEASE_MARGIN}."
        ),
        "vectors": vectors(),
    }
    return {FILE: (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")}


def main(argv: list[str] | None = None) -> int:
    return vectors_cli(render, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
