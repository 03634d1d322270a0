"""Conformance vectors: generator (`--out DIR`), checker (`--check`), and the reference runner.

    python -m foaf.bilateral.conformance --out docs/spec/vectors          # write
    python -m foaf.bilateral.conformance --check --out docs/spec/vectors  # exit 1 if stale

Every vector is built by running the core on fixed, obviously fake keys (Alice 0x11.., Bob 0x22..,
operator 0x33.., Carol 0x44.., Mallory 0x55..; in recovery.json also Dave 0x66.., a guardian, and
Alice's new device 0x77..), fixed nonces and times, so output is
byte-identical on every run. `run_vector(kind, vector)` re-runs one vector from its JSON inputs
alone and returns the observed outputs: a port does the same in its own language.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .crypto import (
    SMALL_ORDER_ENCODINGS,
    TAG_KEY_ROTATION,
    TAG_STATE,
    L,
    P,
    SeedSigner,
    sha256,
    signing_message,
    verify,
)
from .errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from .jcs import MAX_MESSAGE_BYTES, canonicalize, parse
from .log import (
    attest_genesis,
    attest_import,
    attestation_message,
    countersign,
    verify_equivocation_proof,
    verify_log,
)
from .model import (
    Accept,
    Approval,
    Cancel,
    Entries,
    EquivocationProof,
    Import,
    ImportSync,
    KeyRotation,
    LogEntry,
    Member,
    Payment,
    PlaceHold,
    Proposal,
    RecoverKey,
    RecoveryCancel,
    RecoveryCancelMessage,
    RecoveryNotice,
    RecoveryPolicy,
    RecoveryStatement,
    Reject,
    Release,
    RotateKey,
    SetLimit,
    SetRecovery,
    Settlement,
    State,
    StatusOp,
    Update,
    approval_body,
    approval_message,
    decode,
    op_from_json,
)
from .party import Party, RecoveryCancelled, RecoveryNoticed, Send
from .recovery import (
    approve_recovery,
    cancel_recovery,
    check_recovery,
    check_recovery_cancel,
    check_recovery_policy,
    make_recovery,
    make_recovery_policy,
)
from .rules import (
    apply_op,
    channel_id,
    check_rotation,
    history_extend,
    history_root,
    history_row,
    make_genesis,
    verify_history,
)

JSON = dict[str, Any]
SEEDS = {
    "alice": b"\x11" * 32,
    "bob": b"\x22" * 32,
    "operator": b"\x33" * 32,
    "carol": b"\x44" * 32,
    "mallory": b"\x55" * 32,
}
SIGNERS = {k: SeedSigner(v) for k, v in SEEDS.items()}
PK = {k: s.public_key.hex() for k, s in SIGNERS.items()}
T0 = 1767225600  # 2026-01-01T00:00:00Z


def nonce(i: int) -> str:
    return f"{i:032x}"


# ---------------------------------------------------------------- explain helpers
def hashed(obj: Any) -> JSON:
    c = canonicalize(obj)
    return {"json": obj, "canonical_hex": c.hex(), "sha256_hex": hashlib.sha256(c).hexdigest()}


def sig_obj(key_hex: str, message: bytes, sig_hex: str) -> JSON:
    return {"public_key_hex": key_hex, "message_hex": message.hex(), "signature_hex": sig_hex}


def explain_entry(e: LogEntry) -> JSON:
    st = e.state
    out: JSON = {"state": hashed(st.json), "signatures": {}}
    for side in ("a", "b"):
        sig = e.sig(side)
        if sig is not None:
            out["signatures"][side] = sig_obj(st.member(side).key, st.signing_message, sig)
    if e.attest is not None:
        out["attestation"] = sig_obj(e.attest.key, attestation_message(st), e.attest.sig)
    return out


def explain_message(data: bytes, ctx: dict[str, State]) -> JSON:
    """Intermediate values of a message: hashed objects and signature triples."""
    msg = decode(data)
    if isinstance(msg, Proposal):
        st = msg.state
        ctx[st.hash_hex] = st
        return {
            "state": hashed(st.json),
            "signature": sig_obj(st.member(st.update.proposer).key, st.signing_message, msg.sig),
        }
    if isinstance(msg, Accept):
        st = ctx[msg.state_hash]
        side = "b" if st.update.proposer == "a" else "a"
        return {"signature": sig_obj(st.member(side).key, st.signing_message, msg.sig)}
    if isinstance(msg, Reject):
        body = msg.body_json()
        key = ctx["head"].member(msg.rejector).key if "head" in ctx else ctx[msg.state_hash].member(msg.rejector).key
        return {"body": hashed(body), "signature": sig_obj(key, msg.signing_message, msg.sig)}
    if isinstance(msg, Entries):
        return {"entries": [explain_entry(e) for e in msg.entries]}
    if isinstance(msg, (RecoveryNotice, RecoveryCancelMessage)):
        return explain_recovery(msg) if isinstance(msg, RecoveryNotice) else explain_cancel(msg.cancel)
    return {}


def err(e: ProtocolError) -> JSON:
    return {"error": e.code.value, "fault": "local" if isinstance(e, LocalProtocolError) else "remote"}


# ---------------------------------------------------------------- runners (JSON in, JSON out)
def run_canonicalize(v: JSON) -> JSON:
    if "input_pattern" in v:
        p = v["input_pattern"]
        data = (
            bytes.fromhex(p["prefix_hex"])
            + bytes.fromhex(p["repeat_hex"]) * p["count"]
            + bytes.fromhex(p["suffix_hex"])
        )
    else:
        data = bytes.fromhex(v["input_hex"])
    try:
        c = canonicalize(parse(data))
    except ProtocolError as e:
        return err(e)
    return {"canonical_hex": c.hex(), "sha256_hex": hashlib.sha256(c).hexdigest()}


def run_signature(v: JSON) -> JSON:
    try:
        verify(bytes.fromhex(v["public_key_hex"]), bytes.fromhex(v["message_hex"]), bytes.fromhex(v["signature_hex"]))
    except ProtocolError as e:
        return err(e)
    return {"verified": True}


def run_signing_message(v: JSON) -> JSON:
    c = canonicalize(v["object"]["json"])
    return {"message_hex": signing_message(v["tag"].encode(), sha256(c)).hex()}


def run_decode_state(v: JSON) -> JSON:
    try:
        st = State.from_json(parse(bytes.fromhex(v["input_hex"])))
    except ProtocolError as e:
        return err(e)
    return {"sha256_hex": st.hash_hex}


def run_apply(v: JSON) -> JSON:
    try:
        prev = State.from_json(v["prev"]["json"])
        nxt = apply_op(prev, Update.from_json(v["update"]))
    except ProtocolError as e:
        return err(e)
    return {"next_sha256_hex": nxt.hash_hex, "next_canonical_hex": nxt.canonical.hex()}


def run_rotation(v: JSON) -> JSON:
    try:
        check_rotation(KeyRotation.from_json(v["statement"]))
    except ProtocolError as e:
        return err(e)
    return {"verified": True}


def run_verify_log(v: JSON) -> JSON:
    try:
        entries = [LogEntry.from_json(e) for e in v["entries"]]
        r = verify_log(entries, v["operator_keys"])
    except ProtocolError as e:
        return err(e)
    return {"head_seq": r.head.seq, "head_sha256_hex": r.head.hash_hex, "genesis_complete": r.genesis_complete}


def run_channel_id(v: JSON) -> JSON:
    return {"channel": channel_id(v["a"], v["b"], v["nonce"])}


def run_history(v: JSON) -> JSON:
    try:
        root, n = history_root(v["rows"])
    except ProtocolError as e:
        return err(e)
    return {"history_root": root, "history_rows": n}


def run_history_extend(v: JSON) -> JSON:
    try:
        root, n = history_extend(v["history_root"], v["history_rows"], v["rows"])
    except ProtocolError as e:
        return err(e)
    return {"history_root": root, "history_rows": n}


def run_verify_history(v: JSON) -> JSON:
    try:
        verify_history(v["rows"], history_root=v["history_root"], history_rows=v["history_rows"], balance=v["balance"])
    except ProtocolError as e:
        return err(e)
    return {"verified": True}


def run_equivocation(v: JSON) -> JSON:
    try:
        r = verify_equivocation_proof(bytes.fromhex(v["proof_hex"]))
    except ProtocolError as e:
        return err(e)
    return {"seq": r.seq, "hashes": list(r.hashes), "keys": list(r.keys), "parties": list(r.parties)}


def _event_json(e: Any, ctx: dict[str, State]) -> JSON:
    d: JSON = {"event": type(e).__name__}
    if isinstance(e, Send):
        d["data_hex"] = e.data.hex()
        d["explain"] = explain_message(e.data, ctx)
    elif hasattr(e, "reason"):
        d["reason"] = e.reason
    if getattr(e, "violation", None) is not None:
        d["violation"] = e.violation.value
    if hasattr(e, "must_accept"):
        d["must_accept"] = e.must_accept
    if isinstance(e, RecoveryNoticed):
        d.update(recovery=e.statement.hash_hex, noticed=e.noticed, due=e.due, own=e.own, cancelled=e.cancelled)
    elif isinstance(e, RecoveryCancelled):
        d["recovery"] = e.cancel.recovery
    return d


def events_of(out: JSON) -> list[Send]:
    return [Send(bytes.fromhex(e["data_hex"])) for e in out.get("events", []) if e["event"] == "Send"]


def _remember_proposal(data: bytes, ctx: dict[str, State]) -> None:
    """A proposal given as input is named by hash, so an accept of it can be explained."""
    try:
        msg = decode(data)
    except ProtocolError:
        return
    if isinstance(msg, Proposal):
        ctx.setdefault(msg.state.hash_hex, msg.state)


def run_session(v: JSON) -> JSON:
    """Replay a two-party session; returns per-step outputs (bytes, events, machine state, head)."""
    log = [LogEntry.from_json(e) for e in v["setup"]["log"]]
    ops = v["setup"].get("operator_keys", [])
    held = {"a": len(log), "b": v["setup"].get("b_entries", len(log))}  # Bob may hold an older copy
    parties = {
        side: Party(SeedSigner(bytes.fromhex(v["setup"][f"{side}_seed_hex"])), log[: held[side]], operator_keys=ops)
        for side in ("a", "b")
    }
    ctx: dict[str, State] = {"head": log[-1].state}
    outputs: list[bytes] = []
    results: list[JSON] = []
    for s in v["steps"]:
        p = parties[s["party"]]
        out: JSON = {}
        data = b""
        try:
            call = s["call"]
            if call == "propose":
                data = p.propose(op_from_json(s["op"]), now=s["now"], deadline=s["deadline"], nonce=s["nonce"])
            elif call == "accept":
                data = p.accept(now=s["now"])
            elif call == "reject":
                data = p.reject(s["reason"], now=s["now"])
            elif call == "reestablish":
                data = p.reestablish()
            elif call == "expire":
                out["events"] = [_event_json(e, ctx) for e in p.expire(now=s["now"])]
            else:  # receive
                inp = bytes.fromhex(s["input_hex"]) if "input_hex" in s else outputs[s["from_step"]]
                _remember_proposal(inp, ctx)
                out["events"] = [_event_json(e, ctx) for e in p.receive(inp, now=s["now"])]
        except ProtocolError as e:
            out.update(err(e))
        if data:
            out["output_hex"] = data.hex()
            out["explain"] = explain_message(data, ctx)
        sent = [e.data for e in (events_of(out))] if not data else []
        outputs.append(data or (sent[0] if sent else b""))
        head = p.head
        out["mstate"] = p.mstate.value
        out["head_seq"] = head.state.seq if head is not None else -1
        out["head_sha256_hex"] = head.state.hash_hex if head is not None else ""
        results.append(out)
    return {"steps": results}


RUNNERS: dict[str, Callable[[JSON], JSON]] = {
    "canonicalize": run_canonicalize,
    "verify_signature": run_signature,
    "signing_message": run_signing_message,
    "decode_state": run_decode_state,
    "apply_op": run_apply,
    "verify_rotation": run_rotation,
    "verify_log": run_verify_log,
    "channel_id": run_channel_id,
    "history_root": run_history,
    "history_extend": run_history_extend,
    "verify_history": run_verify_history,
    "equivocation": run_equivocation,
    "session": run_session,
}


def run_vector(v: JSON) -> JSON:
    """Observed outputs of one vector (compare with its `expected`)."""
    return RUNNERS[v["kind"]](v)


# ---------------------------------------------------------------- vector builders
def vec(name: str, description: str, kind: str, **inputs: Any) -> JSON:
    v: JSON = {"name": name, "description": description, "kind": kind, **inputs}
    out = run_vector(v)
    if "error" in out:
        v["valid"] = False
        v["error"] = out.pop("error")
    else:
        bad = [s for s in out.get("steps", []) if "error" in s]
        v["valid"] = not bad
        if bad:
            v["error"] = bad[-1]["error"]
    v["expected"] = out
    return v


def cosign(st: State) -> LogEntry:
    e = LogEntry(st, None, None)
    for name in ("alice", "bob", "carol"):
        if st.side_of_key(PK[name]) is not None:
            e = countersign(e, SIGNERS[name])
    return e


ALICE = Member.inception(SIGNERS["alice"].public_key)
BOB = Member.inception(SIGNERS["bob"].public_key)


def genesis(**kw: Any) -> State:
    args: JSON = {
        "a": ALICE,
        "b": BOB,
        "currency": "USD",
        "limit_a_to_b": 10000,
        "limit_b_to_a": 5000,
        "proposer": "a",
        "created": T0,
        "deadline": T0 + 600,
        "nonce": nonce(1),
    }
    args.update(kw)
    return make_genesis(**args)


def chain(*ops: tuple[str, Any], start: State | None = None) -> list[LogEntry]:
    """A co-signed log: genesis then each (proposer, op) one minute apart."""
    g = start or genesis()
    log = [cosign(g)]
    for i, (who, op) in enumerate(ops):
        t = T0 + 60 * (i + 1)
        log.append(cosign(apply_op(log[-1].state, Update(who, op, t, t + 300, nonce(100 + i)))))
    return log


def upd(who: str, op: Any, t: int, n: int = 900, deadline: int | None = None) -> JSON:
    return Update(who, op, t, deadline if deadline is not None else t + 300, nonce(n)).to_json()


def rotation(
    party: str,
    old: str,
    new: str,
    *,
    counter: int = 1,
    time: int = T0 + 1000,
    sign_old: str | None = None,
    sign_new: str | None = None,
) -> KeyRotation:
    body = KeyRotation(PK.get(party, party), PK[old], PK[new], counter, time, "", "")
    m = body.signing_message
    return KeyRotation(
        body.party,
        body.old_key,
        body.new_key,
        counter,
        time,
        SIGNERS[sign_old or old].sign(m).hex(),
        SIGNERS[sign_new or new].sign(m).hex(),
    )


# ---------------------------------------------------------------- encoding.json
def encoding_vectors() -> list[JSON]:
    ok = [
        ("sorts-keys", b'{"b":1,"a":2,"c":{"z":true,"y":null}}', "keys sorted by code point, nested too"),
        ("strips-whitespace", b' { "a" : [ 1 , 2 ] ,\n "b" : "x" } ', "insignificant whitespace removed"),
        ("max-safe-integer", b'{"n":9007199254740991,"m":-9007199254740991}', "the largest integers allowed"),
        ("minus-zero", b'{"n":-0}', "-0 is the integer 0"),
        ("escapes-short-forms", b'{"s":"\\b\\t\\n\\f\\r\\"\\\\"}', "short escapes kept; \\/ never used"),
        ("escapes-control-u", b'{"s":"\\u0001\\u001f"}', "other control characters as \\u00xx lowercase"),
        ("solidus-unescaped", b'{"s":"\\/"}', "an escaped solidus becomes a plain /"),
        ("non-ascii-raw", '{"s":"caf\u00e9 \u20ac \U0001f600"}'.encode(), "non-ASCII written as raw UTF-8"),
        ("escaped-non-ascii-raw", b'{"s":"\\u00e9\\ud83d\\ude00"}', "escaped BMP char and surrogate pair -> raw"),
        ("del-and-line-separator", '{"s":"\x7f\u2028"}'.encode(), "U+007F and U+2028 are not escaped"),
        ("noncharacter-accepted", '{"s":"\uffff"}'.encode(), "noncharacters are valid strings"),
        ("empty-containers", b'{"a":{},"b":[],"c":""}', "empty object, array and string"),
        ("nesting-16", b'{"a":' * 15 + b"{}" + b"}" * 15, "16 nested containers: the limit"),
        ("literals", b'{"t":true,"f":false,"n":null}', "true, false, null"),
    ]
    bad = [
        ("duplicate-key", b'{"a":1,"a":2}', "duplicate property names are rejected (not last-wins)"),
        ("duplicate-key-nested", b'{"x":{"a":1,"b":2,"a":1}}', "also when nested"),
        ("non-ascii-key", '{"\u00e9":1}'.encode(), "property names must be ASCII"),
        ("lone-high-surrogate", b'{"s":"\\ud83d"}', "an escaped lone surrogate"),
        ("lone-low-surrogate", b'{"s":"x\\ude00y"}', "an escaped lone low surrogate"),
        ("float-fraction", b'{"n":1.0}', "no fractions, even .0"),
        ("float-exponent", b'{"n":1e3}', "no exponents"),
        ("nan", b'{"n":NaN}', "NaN is not JSON here"),
        ("infinity", b'{"n":-Infinity}', "Infinity is not JSON here"),
        ("integer-too-large", b'{"n":9007199254740992}', "2^53 is outside the profile"),
        ("integer-too-small", b'{"n":-9007199254740992}', "-2^53 is outside the profile"),
        ("huge-integer", b'{"n":' + b"9" * 400 + b"}", "very long integers fail fast"),
        ("nesting-17", b'{"a":' * 16 + b"{}" + b"}" * 16, "17 nested containers"),
        ("invalid-utf8", b'{"s":"\xff"}', "bytes that are not UTF-8"),
        ("utf8-encoded-surrogate", b'{"s":"\xed\xa0\x80"}', "CESU-style surrogate bytes are not UTF-8"),
        ("top-level-array", b"[1,2]", "a message is an object"),
        ("trailing-garbage", b'{"a":1} x', "nothing after the object"),
        ("leading-zero", b'{"n":01}', "JSON forbids leading zeros"),
        ("raw-control-char", b'{"s":"a\nb"}', "raw control characters inside strings"),
        ("byte-order-mark", b'\xef\xbb\xbf{"a":1}', "no BOM"),
        ("single-quotes", b"{'a':1}", "not JSON"),
        ("empty-input", b"", "not JSON"),
    ]
    out = [vec(f"jcs-{n}", d, "canonicalize", input_hex=b.hex()) for n, b, d in ok]
    out += [vec(f"jcs-{n}", d, "canonicalize", input_hex=b.hex()) for n, b, d in bad]
    body = b'{"s":"'
    out.append(
        vec(
            "jcs-message-too-large",
            "65537 bytes: one more than MAX_MESSAGE_BYTES",
            "canonicalize",
            input_pattern={
                "prefix_hex": body.hex(),
                "repeat_hex": b"x".hex(),
                "count": MAX_MESSAGE_BYTES + 1 - len(body) - 2,
                "suffix_hex": b'"}'.hex(),
            },
        )
    )
    out.append(
        vec(
            "jcs-message-at-limit",
            "exactly 65536 bytes is allowed",
            "canonicalize",
            input_pattern={
                "prefix_hex": body.hex(),
                "repeat_hex": b"x".hex(),
                "count": MAX_MESSAGE_BYTES - len(body) - 2,
                "suffix_hex": b'"}'.hex(),
            },
        )
    )
    return out


# ---------------------------------------------------------------- signatures.json
SPECCHECK = [  # novifinancial/ed25519-speccheck cases.txt: (message, public key, signature)
    (
        "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
    ),
    (
        "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
]


def signature_vectors() -> list[JSON]:
    out: list[JSON] = []
    g = genesis()
    m = g.signing_message
    alice, bob = SIGNERS["alice"], SIGNERS["bob"]
    sig_a = alice.sign(m)
    out.append(
        vec(
            "sig-message-construction",
            "the signed bytes: tag || 0x00 || SHA-256(JCS(state))",
            "signing_message",
            tag=TAG_STATE.decode(),
            object=hashed(g.json),
            message_hex=m.hex(),
        )
    )
    out.append(
        vec(
            "sig-alice-state",
            "Alice (seed 0x11*32) signs the genesis state",
            "verify_signature",
            **sig_obj(PK["alice"], m, sig_a.hex()),
        )
    )
    out.append(
        vec(
            "sig-bob-state",
            "Bob (seed 0x22*32) signs the genesis state",
            "verify_signature",
            **sig_obj(PK["bob"], m, bob.sign(m).hex()),
        )
    )
    for i, (msg, pk, sig) in enumerate(SPECCHECK):
        out.append(
            vec(
                f"speccheck-{i}",
                f"ed25519-speccheck case {i}; only case 3 is valid under the FOAF rule",
                "verify_signature",
                public_key_hex=pk,
                message_hex=msg,
                signature_hex=sig,
            )
        )
    for i, enc in enumerate(sorted(SMALL_ORDER_ENCODINGS)):
        out.append(
            vec(
                f"small-order-key-{i}",
                f"public key {enc.hex()[:8]}.. is a small-order encoding",
                "verify_signature",
                public_key_hex=enc.hex(),
                message_hex=m.hex(),
                signature_hex=sig_a.hex(),
            )
        )
    rs = sorted(SMALL_ORDER_ENCODINGS)
    for i in (0, 6, 13):
        out.append(
            vec(
                f"small-order-r-{i}",
                f"R = small-order encoding {rs[i].hex()[:8]}..",
                "verify_signature",
                public_key_hex=PK["alice"],
                message_hex=m.hex(),
                signature_hex=(rs[i] + sig_a[32:]).hex(),
            )
        )
    y_big = (P + 2).to_bytes(32, "little")  # y = p + 2: not reduced, not in the small-order list
    out.append(
        vec(
            "key-non-canonical-y",
            "public key with y >= p",
            "verify_signature",
            public_key_hex=y_big.hex(),
            message_hex=m.hex(),
            signature_hex=sig_a.hex(),
        )
    )
    out.append(
        vec(
            "r-non-canonical-y",
            "R with y >= p",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=(y_big + sig_a[32:]).hex(),
        )
    )
    s_int = int.from_bytes(sig_a[32:], "little")
    out.append(
        vec(
            "s-plus-l",
            "S + L: the same signature with a non-reduced scalar",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=(sig_a[:32] + (s_int + L).to_bytes(32, "little")).hex(),
        )
    )
    out.append(
        vec(
            "s-equals-l",
            "S = L",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=(sig_a[:32] + L.to_bytes(32, "little")).hex(),
        )
    )
    out.append(
        vec(
            "sig-63-bytes",
            "signature one byte short",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=sig_a[:63].hex(),
        )
    )
    out.append(
        vec(
            "sig-65-bytes",
            "signature with a trailing zero byte (JDK accepts it)",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=(sig_a + b"\x00").hex(),
        )
    )
    out.append(
        vec(
            "key-31-bytes",
            "public key one byte short",
            "verify_signature",
            public_key_hex=PK["alice"][:62],
            message_hex=m.hex(),
            signature_hex=sig_a.hex(),
        )
    )
    out.append(
        vec(
            "wrong-key",
            "Alice's signature checked under Bob's key",
            "verify_signature",
            public_key_hex=PK["bob"],
            message_hex=m.hex(),
            signature_hex=sig_a.hex(),
        )
    )
    other = signing_message(b"FOAF-BILATERAL-1/reject", g.hash)
    out.append(
        vec(
            "wrong-domain-tag",
            "a signature over the /state message presented for /reject",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=other.hex(),
            signature_hex=sig_a.hex(),
        )
    )
    flipped = bytearray(sig_a)
    flipped[40] ^= 1
    out.append(
        vec(
            "flipped-bit",
            "one bit of S flipped",
            "verify_signature",
            public_key_hex=PK["alice"],
            message_hex=m.hex(),
            signature_hex=bytes(flipped).hex(),
        )
    )
    return out


# ---------------------------------------------------------------- states.json
LOCK_PRE = bytes(range(32))
LOCK = hashlib.sha256(LOCK_PRE).hexdigest()
HOLD_ID = "ab" * 16


def _apply_vec(name: str, desc: str, log: list[LogEntry], u: JSON) -> JSON:
    prev = log[-1].state
    v = vec(name, desc, "apply_op", prev=hashed(prev.json), update=u)
    if v["valid"]:  # show the next state and both signatures over it
        nxt = State.from_json(json.loads(bytes.fromhex(v["expected"]["next_canonical_hex"])))
        v["next"] = explain_entry(cosign(nxt))
    return v


def state_vectors() -> list[JSON]:
    t = T0 + 3600
    g = [cosign(genesis())]
    paid = chain(("a", Payment("a", 9000, "groceries")))
    held = chain(("a", PlaceHold(HOLD_ID, "a", 3000, LOCK, t + 600)))
    frozen = chain(("a", StatusOp("freeze")))
    closed = chain(("a", Payment("a", 2000, "")), ("b", StatusOp("close")))
    imported_over = imported_log(balance=25000, complete=True)  # a owes 250.00, above its 100.00 limit
    out = [
        _apply_vec(
            "payment-a-to-b",
            "Alice pays Bob 12.34: balance +1234 (a owes b)",
            g,
            upd("a", Payment("a", 1234, "lunch"), t),
        ),
        _apply_vec(
            "payment-requested-by-payee",
            "Bob proposes that Alice pays him (a payment request)",
            g,
            upd("b", Payment("a", 500, "invoice 7"), t),
        ),
        _apply_vec(
            "payment-b-to-a", "Bob pays Alice: balance goes negative (b owes a)", g, upd("b", Payment("b", 5000, ""), t)
        ),
        _apply_vec(
            "payment-to-exact-limit", "Alice's debt reaches exactly her limit", g, upd("a", Payment("a", 10000, ""), t)
        ),
        _apply_vec(
            "settlement-reduces-debt", "Alice settled 50.00 in cash", paid, upd("b", Settlement("a", 5000, "cash"), t)
        ),
        _apply_vec(
            "settlement-passes-zero",
            "a settlement may pass zero within the new debtor's limit",
            paid,
            upd("a", Settlement("a", 12000, ""), t),
        ),
        _apply_vec(
            "set-limit-owner-lowers",
            "Bob lowers the credit he extends below Alice's debt",
            paid,
            upd("b", SetLimit("a_to_b", 1000), t),
        ),
        _apply_vec(
            "set-limit-request",
            "Alice asks Bob for more credit (Bob may reject)",
            g,
            upd("a", SetLimit("a_to_b", 20000), t),
        ),
        _apply_vec(
            "hold-placed",
            "a conditional hold counts in Alice's exposure",
            g,
            upd("a", PlaceHold(HOLD_ID, "a", 3000, LOCK, t + 600), t),
        ),
        _apply_vec(
            "hold-released",
            "the preimage moves the held amount onto the balance",
            held,
            upd("b", Release(HOLD_ID, LOCK_PRE.hex()), t),
        ),
        _apply_vec("hold-cancelled-by-payee", "the payee may cancel any time", held, upd("b", Cancel(HOLD_ID), t)),
        _apply_vec(
            "hold-cancelled-by-payer-after-expiry",
            "the payer may cancel once it expired",
            held,
            upd("a", Cancel(HOLD_ID), t + 600),
        ),
        _apply_vec(
            "frozen-settlement-allowed",
            "settlements stay possible while frozen",
            frozen,
            upd("b", Settlement("b", 100, ""), t),
        ),
        _apply_vec("unfreeze", "frozen -> open", frozen, upd("b", StatusOp("unfreeze"), t)),
        _apply_vec(
            "closed-settlement-toward-zero",
            "while closed, settle toward zero",
            closed,
            upd("a", Settlement("a", 500, ""), t),
        ),
        _apply_vec("reopen", "closed -> open", closed, upd("a", StatusOp("reopen"), t)),
        _apply_vec(
            "over-limit-import-pays-down",
            "an imported over-limit debt may still be paid down",
            imported_over,
            upd("a", Settlement("a", 1000, ""), t),
        ),
        # invalid
        _apply_vec(
            "payment-over-limit", "Alice would owe 100.01 with a 100.00 limit", g, upd("a", Payment("a", 10001, ""), t)
        ),
        _apply_vec(
            "payment-over-limit-with-hold", "holds count in exposure", held, upd("a", Payment("a", 7001, ""), t)
        ),
        _apply_vec(
            "hold-over-limit", "a hold beyond the limit", g, upd("a", PlaceHold(HOLD_ID, "a", 10001, LOCK, t + 600), t)
        ),
        _apply_vec(
            "settlement-passes-zero-over-limit",
            "passing zero may not push Bob past his 50.00 limit",
            paid,
            upd("a", Settlement("a", 15001, ""), t),
        ),
        _apply_vec(
            "over-limit-import-grows",
            "an over-limit imported debt may not grow",
            imported_over,
            upd("a", Payment("a", 1, ""), t),
        ),
        _apply_vec("frozen-payment", "no payments while frozen", frozen, upd("a", Payment("a", 1, ""), t)),
        _apply_vec(
            "frozen-hold", "no holds while frozen", frozen, upd("a", PlaceHold(HOLD_ID, "a", 1, LOCK, t + 600), t)
        ),
        _apply_vec("closed-payment", "no payments while closed", closed, upd("a", Payment("b", 1, ""), t)),
        _apply_vec(
            "closed-settlement-crosses-zero",
            "while closed a settlement may not cross zero",
            closed,
            upd("a", Settlement("a", 2001, ""), t),
        ),
        _apply_vec(
            "closed-raise-limit",
            "while closed a limit may only be lowered",
            closed,
            upd("b", SetLimit("a_to_b", 10001), t),
        ),
        _apply_vec("close-with-holds", "close requires no open holds", held, upd("a", StatusOp("close"), t)),
        _apply_vec(
            "unfreeze-while-open", "unfreeze is only for a frozen channel", g, upd("a", StatusOp("unfreeze"), t)
        ),
        _apply_vec(
            "release-bad-preimage", "the preimage must hash to the lock", held, upd("b", Release(HOLD_ID, "00" * 32), t)
        ),
        _apply_vec(
            "release-after-expiry",
            "release only before the hold expires",
            held,
            upd("b", Release(HOLD_ID, LOCK_PRE.hex()), t + 600),
        ),
        _apply_vec(
            "cancel-by-payer-early", "the payer may not cancel before expiry", held, upd("a", Cancel(HOLD_ID), t)
        ),
        _apply_vec("cancel-unknown-hold", "no such hold", g, upd("b", Cancel(HOLD_ID), t)),
        _apply_vec(
            "hold-duplicate-id",
            "hold ids are unique among open holds",
            held,
            upd("a", PlaceHold(HOLD_ID, "b", 1, LOCK, t + 600), t),
        ),
        _apply_vec(
            "hold-expires-in-past",
            "a hold must expire after it is created",
            g,
            upd("a", PlaceHold(HOLD_ID, "a", 1, LOCK, t), t),
        ),
        _apply_vec(
            "deadline-before-created", "deadline must be after created", g, upd("a", Payment("a", 1, ""), t, deadline=t)
        ),
        _apply_vec(
            "operator-proposes-payment", "after genesis only a or b propose", g, upd("operator", Payment("a", 1, ""), t)
        ),
        _apply_vec(
            "open-after-genesis",
            "open is only a genesis op",
            g,
            {**upd("a", Payment("a", 1, ""), t), "op": {"type": "open"}},
        ),
    ]
    base = genesis().json
    variants = [
        ("unknown-field", {**base, "extra": 1}, "unknown fields are rejected"),
        ("missing-field", {k: x for k, x in base.items() if k != "currency"}, "missing fields are rejected"),
        ("bool-as-int", {**base, "balance": True}, "true is not an integer"),
        ("uppercase-hex", {**base, "prev": "A" * 64}, "hex is lowercase"),
        ("short-hex", {**base, "channel": base["channel"][:62]}, "hex has a fixed length"),
        ("version-2", {**base, "v": 2, "new_field": 0}, "unknown versions are refused before anything else"),
        ("bad-status", {**base, "status": "paused"}, "status is open, frozen or closed"),
        ("negative-limit", {**base, "limit_a_to_b": -1}, "limits are >= 0"),
        ("string-amount", {**base, "balance": "0"}, "amounts are integers"),
        ("unknown-op", {**base, "update": {**base["update"], "op": {"type": "mint"}}}, "unknown op type"),
        (
            "holds-unsorted",
            {
                **base,
                "holds": [
                    {"id": "bb" * 16, "payer": "a", "amount": 1, "lock": LOCK, "expires": T0 + 9},
                    {"id": "aa" * 16, "payer": "a", "amount": 1, "lock": LOCK, "expires": T0 + 9},
                ],
            },
            "holds are sorted by id",
        ),
        (
            "memo-too-long",
            {
                **base,
                "update": {**base["update"], "op": {"type": "payment", "from": "a", "amount": 1, "memo": "x" * 257}},
            },
            "memo is at most 256 UTF-8 bytes",
        ),
    ]
    out.append(
        vec(
            "decode-state-valid",
            "a genesis state decodes; its hash is SHA-256 of its JCS bytes",
            "decode_state",
            input_hex=canonicalize(base).hex(),
            state=hashed(base),
        )
    )
    for n, d, desc in variants:
        out.append(vec(f"decode-state-{n}", desc, "decode_state", input_hex=canonicalize(d).hex()))
    return out


# ---------------------------------------------------------------- key_rotation.json
def key_rotation_vectors() -> list[JSON]:
    t = T0 + 3600
    g = [cosign(genesis())]
    good = rotation("alice", "alice", "carol")
    out = [
        vec(
            "rotation-statement-valid",
            "Alice replaces her key by Carol's (0x44*32): both keys sign",
            "verify_rotation",
            statement=good.to_json(),
            body=hashed(good.body_json()),
            signatures={
                "old": sig_obj(good.old_key, good.signing_message, good.old_sig),
                "new": sig_obj(good.new_key, good.signing_message, good.new_sig),
            },
        )
    ]
    out.append(
        _apply_vec(
            "rotate-key-applied", "the rotate_key update changes a's key; a's id stays", g, upd("a", RotateKey(good), t)
        )
    )
    after = chain(("a", RotateKey(good)))
    out.append(
        _apply_vec(
            "payment-after-rotation",
            "later states are signed with the new key",
            after,
            upd("a", Payment("a", 100, ""), t),
        )
    )
    bad = [
        ("rotation-old-sig-wrong", rotation("alice", "alice", "carol", sign_old="bob"), "old key did not sign"),
        ("rotation-new-sig-wrong", rotation("alice", "alice", "carol", sign_new="bob"), "new key did not sign"),
        ("rotation-same-key", rotation("alice", "alice", "alice"), "new key equals old key"),
    ]
    for n, st, desc in bad:
        out.append(vec(n, desc, "verify_rotation", statement=st.to_json()))
    small = KeyRotation(PK["alice"], PK["alice"], sorted(SMALL_ORDER_ENCODINGS)[2].hex(), 1, T0, "00" * 64, "00" * 64)
    out.append(
        vec(
            "rotation-small-order-new-key",
            "the new key must pass the key pre-checks",
            "verify_rotation",
            statement=small.to_json(),
        )
    )
    out.append(
        _apply_vec(
            "rotate-old-key-mismatch",
            "old_key must be the party's current key",
            after,
            upd("a", RotateKey(rotation("alice", "alice", "mallory")), t),
        )
    )
    out.append(
        _apply_vec(
            "rotate-not-a-party",
            "the statement's party is not in this channel",
            g,
            upd("a", RotateKey(rotation("mallory", "mallory", "carol")), t),
        )
    )
    out.append(
        _apply_vec(
            "rotate-to-counterparty-key",
            "a may not take b's key",
            g,
            upd("a", RotateKey(rotation("alice", "alice", "bob")), t),
        )
    )
    out.append(
        _apply_vec(
            "rotate-bad-signature-in-update",
            "the statement's signatures are checked in apply_op",
            g,
            upd("a", RotateKey(rotation("alice", "alice", "carol", sign_new="mallory")), t),
        )
    )
    return out


# ---------------------------------------------------------------- genesis.json
ROWS = [
    history_row(
        id=101, created_at=T0 - 86400 * 30, amount=1500, delta=1500, balance_after=1500, kind="payment", initiated_by=7
    ),
    history_row(
        id=102,
        created_at=T0 - 86400 * 20,
        amount=500,
        delta=-500,
        balance_after=None,
        kind="settlement",
        initiated_by=9,
    ),
    history_row(
        id=105,
        created_at=T0 - 86400 * 10,
        amount=24000,
        delta=24000,
        balance_after=25000,
        kind="adjustment",
        initiated_by=7,
    ),
]


def imported_genesis(balance: int = 25000, status: str = "open") -> State:
    root, n = history_root(ROWS)
    return genesis(
        proposer="operator", balance=balance, status=status, nonce=nonce(2), op=Import("growoperative", 4242, root, n)
    )


def imported_log(balance: int = 25000, complete: bool = False) -> list[LogEntry]:
    e = attest_genesis(imported_genesis(balance), SIGNERS["operator"])
    if complete:
        e = countersign(countersign(e, SIGNERS["alice"]), SIGNERS["bob"])
    return [e]


def genesis_vectors() -> list[JSON]:
    ops = [PK["operator"]]
    g = genesis()
    fresh = [cosign(g)]
    imp = imported_log()
    imp_a = [countersign(imp[0], SIGNERS["alice"])]
    imp_full = imported_log(complete=True)
    out = [
        vec(
            "channel-id",
            "channel = SHA-256(tag || 0x00 || SHA-256(JCS({a, b, nonce})))",
            "channel_id",
            a=PK["alice"],
            b=PK["bob"],
            nonce=nonce(1),
            object=hashed({"a": PK["alice"], "b": PK["bob"], "nonce": nonce(1)}),
        ),
        vec(
            "history-root",
            "chained commitment over legacy rows",
            "history_root",
            rows=ROWS,
            row_hashes=[hashed(r) for r in ROWS],
        ),
        vec("history-root-empty", "no rows: 32 zero bytes", "history_root", rows=[]),
        vec(
            "history-row-unknown-field",
            "rows have exactly the specified fields",
            "history_root",
            rows=[{**ROWS[0], "description": "x"}],
        ),
        vec(
            "fresh-genesis",
            "a fresh genesis co-signed by both",
            "verify_log",
            operator_keys=ops,
            entries=[e.to_json() for e in fresh],
            explain=[explain_entry(e) for e in fresh],
        ),
        vec(
            "imported-attested-only",
            "imported genesis: operator attestation, no member signature yet",
            "verify_log",
            operator_keys=ops,
            entries=[e.to_json() for e in imp],
            explain=[explain_entry(imp[0])],
        ),
        vec(
            "imported-one-member",
            "imported genesis countersigned by Alice only",
            "verify_log",
            operator_keys=ops,
            entries=[e.to_json() for e in imp_a],
            explain=[explain_entry(imp_a[0])],
        ),
        vec(
            "imported-complete",
            "imported genesis countersigned by both",
            "verify_log",
            operator_keys=ops,
            entries=[e.to_json() for e in imp_full],
            explain=[explain_entry(imp_full[0])],
        ),
    ]
    nxt = cosign(apply_op(imp_full[0].state, Update("a", Settlement("a", 100, ""), T0 + 60, T0 + 360, nonce(3))))
    out.append(
        vec(
            "imported-then-settlement",
            "later states chain on an imported genesis",
            "verify_log",
            operator_keys=ops,
            entries=[imp_full[0].to_json(), nxt.to_json()],
            explain=[explain_entry(imp_full[0]), explain_entry(nxt)],
        )
    )
    # invalid
    nxt_a = cosign(apply_op(imp_a[0].state, Update("a", Settlement("a", 100, ""), T0 + 60, T0 + 360, nonce(3))))
    forged = LogEntry(imp[0].state, None, SIGNERS["operator"].sign(imp[0].state.signing_message).hex(), imp[0].attest)
    bad_cases: list[tuple[str, str, list[JSON], list[str]]] = [
        (
            "imported-unknown-operator",
            "attested by a key that is not a configured operator key",
            [attest_genesis(imported_genesis(), SIGNERS["mallory"]).to_json()],
            ops,
        ),
        (
            "imported-no-operator-configured",
            "a verifier without operator keys accepts no attested genesis",
            [imp[0].to_json()],
            [],
        ),
        (
            "imported-missing-attestation",
            "an imported genesis needs the attestation",
            [LogEntry(imp_full[0].state, imp_full[0].sig_a, imp_full[0].sig_b).to_json()],
            ops,
        ),
        (
            "imported-operator-signs-for-member",
            "the operator may not give a member's signature",
            [forged.to_json()],
            ops,
        ),
        (
            "imported-not-countersigned-then-update",
            "no state after an imported genesis until both countersign",
            [imp_a[0].to_json(), nxt_a.to_json()],
            ops,
        ),
        (
            "fresh-with-attestation",
            "a fresh genesis carries no attestation",
            [LogEntry(fresh[0].state, fresh[0].sig_a, fresh[0].sig_b, imp[0].attest).to_json()],
            ops,
        ),
        (
            "fresh-missing-signature",
            "a fresh genesis needs both signatures",
            [LogEntry(fresh[0].state, fresh[0].sig_a, None).to_json()],
            ops,
        ),
        ("empty-log", "a log starts with a genesis", [], ops),
    ]
    for n, desc, entries, keys in bad_cases:
        out.append(vec(n, desc, "verify_log", operator_keys=keys, entries=entries))
    gj = g.json
    mods: list[tuple[str, str, JSON]] = [
        ("genesis-bad-channel-id", "channel must be derived from a, b and the genesis nonce", {"channel": "00" * 32}),
        ("genesis-nonzero-balance", "a fresh genesis starts at balance 0", {"balance": 1}),
        ("genesis-seq-1", "a genesis has seq 0", {"seq": 1}),
        ("genesis-same-parties", "a and b differ", {"b": gj["a"]}),
        (
            "genesis-operator-opens",
            "a fresh genesis is proposed by a or b",
            {"update": {**gj["update"], "proposer": "operator"}},
        ),
        (
            "genesis-small-order-key",
            "party keys pass the key pre-checks",
            {"b": {"id": sorted(SMALL_ORDER_ENCODINGS)[2].hex(), "key": sorted(SMALL_ORDER_ENCODINGS)[2].hex()}},
        ),
    ]
    for n, desc, mod in mods:
        st = State.from_json({**gj, **mod})
        e = cosign(st) if st.a.key != st.b.key and st.b.key == PK["bob"] else LogEntry(st, "00" * 64, "00" * 64)
        out.append(vec(n, desc, "verify_log", operator_keys=ops, entries=[e.to_json()]))
    chain_log = chain(("a", Payment("a", 100, "")), ("b", Payment("b", 50, "")))
    e2 = chain_log[2]
    wrong_prev = cosign(State.from_json({**e2.state.json, "prev": "11" * 32}))
    tampered = LogEntry(State.from_json({**e2.state.json, "balance": 51}), e2.sig_a, e2.sig_b)
    resigned = cosign(State.from_json({**e2.state.json, "balance": 51}))
    logs: list[tuple[str, str, list[LogEntry]]] = [
        ("log-valid-chain", "genesis and two payments", chain_log),
        ("log-wrong-prev", "prev must be the previous state's hash", [*chain_log[:2], wrong_prev]),
        ("log-skipped-seq", "seq must increase by one", [chain_log[0], chain_log[2]]),
        ("log-tampered-balance", "a changed balance breaks both signatures", [*chain_log[:2], tampered]),
        ("log-resigned-wrong-balance", "co-signed but not what apply_op gives", [*chain_log[:2], resigned]),
        (
            "log-missing-signature",
            "every later state carries both signatures",
            [*chain_log[:2], LogEntry(e2.state, e2.sig_a, None)],
        ),
    ]
    for n, desc, elog in logs:
        extra: JSON = {"explain": [explain_entry(e) for e in elog]} if n == "log-valid-chain" else {}
        out.append(vec(n, desc, "verify_log", operator_keys=ops, entries=[e.to_json() for e in elog], **extra))
    return out


# ---------------------------------------------------------------- imports.json
SYNC_ROWS_1 = [  # legacy rows added after the first import: a payment and its reversal
    history_row(
        id=107, created_at=T0 - 86400 * 5, amount=2000, delta=2000, balance_after=27000, kind="payment", initiated_by=7
    ),
    history_row(
        id=108, created_at=T0 - 86400 * 4, amount=2000, delta=-2000, balance_after=None, kind="reversal", initiated_by=1
    ),
]
SYNC_ROWS_2 = [
    history_row(
        id=111,
        created_at=T0 - 86400 * 2,
        amount=5000,
        delta=-5000,
        balance_after=20000,
        kind="settlement",
        initiated_by=9,
    ),
]


def sync_op(prev: State, new_rows: list[JSON], *, balance: int, limit_a_to_b: int, status: str) -> ImportSync:
    """The catch-up op after `prev` (an entry of the imported prefix) for legacy rows `new_rows`."""
    p = prev.update.op
    assert isinstance(p, (Import, ImportSync))
    root, n = history_extend(p.history_root, p.history_rows, new_rows)
    return ImportSync(p.source, p.legacy_id, root, n, balance, limit_a_to_b, prev.limit_b_to_a, status)


def sync_update(op: ImportSync, t: int, n: int, proposer: str = "operator") -> Update:
    return Update(proposer, op, t, t + 600, nonce(n))


def forced(prev: State, u: Update, **fields: Any) -> State:
    """A successor of `prev` built without apply_op's checks (for invalid logs)."""
    op = u.op
    base: JSON = {
        "balance": prev.balance,
        "limit_a_to_b": prev.limit_a_to_b,
        "limit_b_to_a": prev.limit_b_to_a,
        "status": prev.status,
    }
    if isinstance(op, ImportSync):
        base = {
            "balance": op.balance,
            "limit_a_to_b": op.limit_a_to_b,
            "limit_b_to_a": op.limit_b_to_a,
            "status": op.status,
        }
    return State.from_json(
        {**prev.json, "seq": prev.seq + 1, "prev": prev.hash_hex, "holds": [], **base, "update": u.to_json(), **fields}
    )


def both(e: LogEntry) -> LogEntry:
    return countersign(countersign(e, SIGNERS["alice"]), SIGNERS["bob"])


def import_vectors() -> list[JSON]:
    ops = [PK["operator"]]
    operator = SIGNERS["operator"]
    g0 = imported_genesis()  # 3 rows, balance 25000, limits 10000 / 5000, open
    g_att = attest_genesis(g0, operator)
    g_full = both(g_att)
    # catch-up 1: two new rows (net 0), the legacy limit a->b raised to 300.00, trustline deactivated
    op1 = sync_op(g0, SYNC_ROWS_1, balance=25000, limit_a_to_b=30000, status="closed")
    s1 = apply_op(g0, sync_update(op1, T0 + 60, 40))
    s1_att = attest_import(s1, operator, prev=g0)
    s1_alice = countersign(s1_att, SIGNERS["alice"])
    # catch-up 2: a settlement row; the trustline active again
    op2 = sync_op(s1, SYNC_ROWS_2, balance=20000, limit_a_to_b=30000, status="open")
    s2 = apply_op(s1, sync_update(op2, T0 + 120, 41))
    s2_full = both(attest_import(s2, operator, prev=s1))
    u3 = cosign(apply_op(s2, Update("a", Settlement("a", 1000, "cash"), T0 + 180, T0 + 480, nonce(42))))
    chain_ok = [g_att, s1_alice, s2_full, u3]
    all_rows = [*ROWS, *SYNC_ROWS_1, *SYNC_ROWS_2]
    t = T0 + 3600

    def apply_vec(name: str, desc: str, prev: State, u: Update | JSON) -> JSON:
        uj = u.to_json() if isinstance(u, Update) else u
        v = vec(name, desc, "apply_op", prev=hashed(prev.json), update=uj)
        if v["valid"]:  # the attested, countersigned entry of the next state
            nxt = State.from_json(json.loads(bytes.fromhex(v["expected"]["next_canonical_hex"])))
            v["next"] = explain_entry(both(attest_import(nxt, operator, prev=prev)))
        return v

    def log_vec(name: str, desc: str, entries: list[LogEntry], keys: list[str] | None = None) -> JSON:
        extra: JSON = {}
        if name.startswith("import-sync-log-valid") or name == "import-sync-log-tip-pending":
            extra["explain"] = [explain_entry(e) for e in entries]
        return vec(
            name,
            desc,
            "verify_log",
            operator_keys=ops if keys is None else keys,
            entries=[e.to_json() for e in entries],
            **extra,
        )

    p1 = g0.update.op
    assert isinstance(p1, Import)
    out = [
        # valid
        apply_vec(
            "import-sync-applied",
            "a catch-up state takes the op's balance, limits and status; the "
            "history root extends the genesis chain by two rows",
            g0,
            sync_update(op1, T0 + 60, 40),
        ),
        apply_vec(
            "import-sync-no-new-rows",
            "only trustline columns changed in place: same root and row count",
            s2,
            sync_update(
                ImportSync(op2.source, op2.legacy_id, op2.history_root, op2.history_rows, 20000, 40000, 5000, "open"),
                T0 + 150,
                43,
            ),
        ),
        log_vec(
            "import-sync-log-valid",
            "import (attested), two catch-ups (the last countersigned by both), then a member settlement",
            chain_ok,
        ),
        log_vec(
            "import-sync-log-tip-pending",
            "the genesis was countersigned, then a catch-up came: the new tip "
            "waits for the members (genesis_complete is false)",
            [g_full, s1_alice],
        ),
        vec(
            "history-extend",
            "the catch-up root extends the genesis root by the new rows",
            "history_extend",
            history_root=p1.history_root,
            history_rows=p1.history_rows,
            rows=SYNC_ROWS_1,
            row_hashes=[hashed(r) for r in SYNC_ROWS_1],
        ),
        vec(
            "verify-history-valid",
            "all legacy rows chain to the tip's root and their deltas sum to its balance",
            "verify_history",
            rows=all_rows,
            history_root=op2.history_root,
            history_rows=op2.history_rows,
            balance=20000,
            row_hashes=[hashed(r) for r in all_rows],
        ),
        # invalid
        apply_vec(
            "import-sync-member-proposer",
            "import_sync is proposed by the operator only",
            g0,
            sync_update(op1, T0 + 60, 40, proposer="a"),
        ),
        apply_vec(
            "import-sync-history-shrank",
            "history_rows may not decrease",
            g0,
            sync_update(
                ImportSync(p1.source, p1.legacy_id, history_root(ROWS[:2])[0], 2, 25000, 10000, 5000, "open"),
                T0 + 60,
                40,
            ),
        ),
        apply_vec(
            "import-sync-root-changed-without-rows",
            "the same row count must keep the same root",
            g0,
            sync_update(ImportSync(p1.source, p1.legacy_id, "ee" * 32, 3, 25000, 10000, 5000, "open"), T0 + 60, 40),
        ),
        apply_vec(
            "import-sync-source-changed",
            "a catch-up names the same source as the import",
            g0,
            sync_update(
                ImportSync(
                    "othersystem", p1.legacy_id, op1.history_root, op1.history_rows, 25000, 30000, 5000, "closed"
                ),
                T0 + 60,
                40,
            ),
        ),
        apply_vec(
            "import-sync-legacy-id-changed",
            "a catch-up names the same legacy trustline as the import",
            g0,
            sync_update(
                ImportSync(p1.source, 4243, op1.history_root, op1.history_rows, 25000, 30000, 5000, "closed"),
                T0 + 60,
                40,
            ),
        ),
        apply_vec(
            "import-sync-after-member-update",
            "a co-signed member update ends the imported prefix for good",
            u3.state,
            sync_update(
                ImportSync(op2.source, op2.legacy_id, op2.history_root, op2.history_rows, 19000, 30000, 5000, "open"),
                t,
                44,
            ),
        ),
        apply_vec(
            "import-sync-after-fresh-genesis",
            "a fresh channel has no imported prefix",
            genesis(),
            sync_update(op1, T0 + 60, 40),
        ),
    ]
    bad_s1 = forced(g0, sync_update(op1, T0 + 60, 40), balance=26000)
    late = forced(
        u3.state,
        sync_update(
            ImportSync(op2.source, op2.legacy_id, op2.history_root, op2.history_rows, 19000, 30000, 5000, "open"), t, 44
        ),
    )
    signed = both(LogEntry(s1, None, None))
    s1_no_att = LogEntry(s1, signed.sig_a, signed.sig_b)
    bad_logs: list[tuple[str, str, list[LogEntry], list[str] | None]] = [
        (
            "import-sync-log-after-member-update",
            "an attested import_sync after a member update",
            [*chain_ok, attest_import(late, operator)],
            None,
        ),
        (
            "import-sync-log-wrong-operator",
            "the catch-up is attested by a key that is not a configured operator key",
            [g_att, both(attest_import(s1, SIGNERS["mallory"]))],
            None,
        ),
        (
            "import-sync-log-missing-attestation",
            "a catch-up without the operator's attestation, even if both members signed it",
            [g_att, s1_no_att],
            None,
        ),
        (
            "import-sync-log-tip-not-countersigned",
            "a member update after a catch-up that only Alice countersigned (the genesis was countersigned by both)",
            [g_full, s1_alice, cosign(apply_op(s1, Update("a", StatusOp("reopen"), T0 + 180, T0 + 480, nonce(45))))],
            None,
        ),
        (
            "import-sync-log-state-mismatch",
            "the state's balance is not the op's balance",
            [g_att, both(attest_import(bad_s1, operator))],
            None,
        ),
        (
            "import-sync-log-operator-signs-for-member",
            "the operator may not give a member's signature",
            [g_att, LogEntry(s1, None, operator.sign(s1.signing_message).hex(), s1_att.attest)],
            None,
        ),
    ]
    for n, desc, entries, keys in bad_logs:
        out.append(log_vec(n, desc, entries, keys))
    tampered = [dict(r) for r in all_rows]
    tampered[3]["amount"] = 200
    other_sum = [dict(r) for r in all_rows]
    other_sum[4]["delta"] = -1000
    out += [
        vec(
            "verify-history-tampered-row",
            "one changed amount breaks the chain",
            "verify_history",
            rows=tampered,
            history_root=op2.history_root,
            history_rows=op2.history_rows,
            balance=20000,
        ),
        vec(
            "verify-history-missing-row",
            "a row left out breaks the chain",
            "verify_history",
            rows=[*all_rows[:3], *all_rows[4:]],
            history_root=op2.history_root,
            history_rows=op2.history_rows,
            balance=20000,
        ),
        vec(
            "verify-history-deltas-do-not-sum",
            "rows that chain to a root, with deltas that do not sum to the state's balance",
            "verify_history",
            rows=other_sum,
            history_root=history_root(other_sum)[0],
            history_rows=len(other_sum),
            balance=20000,
        ),
        vec(
            "history-rows-out-of-order",
            "rows are committed in ascending legacy id",
            "history_extend",
            history_root=p1.history_root,
            history_rows=p1.history_rows,
            rows=list(reversed(SYNC_ROWS_1)),
        ),
        vec(
            "history-row-zero-amount",
            "a legacy amount is positive (the sign is in delta)",
            "history_root",
            rows=[{**ROWS[0], "amount": 0}],
        ),
        vec(
            "history-row-reversed-field",
            "`reversed` is not committed (the legacy system changes it in place)",
            "history_root",
            rows=[{**ROWS[0], "reversed": False}],
        ),
        vec(
            "history-row-delta-missing",
            "every row carries its delta",
            "history_root",
            rows=[{k: x for k, x in ROWS[0].items() if k != "delta"}],
        ),
    ]
    # sessions: parties continue from a countersigned tip, and catch up on an imported prefix by entries
    setup = {
        "a_seed_hex": SEEDS["alice"].hex(),
        "b_seed_hex": SEEDS["bob"].hex(),
        "operator_keys": ops,
        "log": [e.to_json() for e in [g_att, s1_alice, s2_full]],
    }
    behind = [g_full, both(s1_att)]
    setup_behind = {**setup, "log": [e.to_json() for e in behind], "b_entries": 1}
    out += [
        vec(
            "session-after-import-sync",
            "both parties start from a log whose imported tip is countersigned; Alice settles 10.00",
            "session",
            setup=setup,
            steps=[
                {
                    "party": "a",
                    "call": "propose",
                    "op": Settlement("a", 1000, "cash").to_json(),
                    "now": t,
                    "deadline": t + 300,
                    "nonce": nonce(50),
                },
                _rx("b", 0, t + 1),
                {"party": "b", "call": "accept", "now": t + 2},
                _rx("a", 2, t + 3),
            ],
        ),
        vec(
            "session-reestablish-import-sync",
            "Bob holds only the countersigned genesis; Alice sends him the countersigned catch-up",
            "session",
            setup=setup_behind,
            steps=[{"party": "b", "call": "reestablish"}, _rx("a", 0, t), _rx("b", 1, t + 1)],
        ),
        vec(
            "session-entries-unsigned-import-sync",
            "an attested catch-up not countersigned by both is not an entry to continue from",
            "session",
            setup=setup_behind,
            steps=[_rx_bytes("b", Entries(g0.channel, (s1_alice,)).encode(), t)],
        ),
    ]
    return out


# ---------------------------------------------------------------- equivocation.json
def equivocation_vectors() -> list[JSON]:
    g = genesis()
    x = cosign(apply_op(g, Update("a", Payment("a", 100, ""), T0 + 60, T0 + 360, nonce(7))))
    y = cosign(apply_op(g, Update("b", Payment("b", 100, ""), T0 + 60, T0 + 360, nonce(8))))
    later = chain(("a", Payment("a", 100, "")), ("a", Payment("a", 1, "")))[2]
    out = [
        vec(
            "equivocation-valid",
            "two fully signed states at seq 1: both keys signed both",
            "equivocation",
            proof_hex=EquivocationProof(x, y).encode().hex(),
            explain=[explain_entry(x), explain_entry(y)],
        )
    ]
    for n, desc, proof in [
        ("equivocation-same-state", "the same state twice is no fork", EquivocationProof(x, x)),
        ("equivocation-different-seq", "states at different seqs", EquivocationProof(x, later)),
        (
            "equivocation-half-signed",
            "an unsigned proposal is not a signed state",
            EquivocationProof(x, LogEntry(y.state, y.sig_a, None)),
        ),
        (
            "equivocation-forged-signature",
            "signatures are checked",
            EquivocationProof(x, LogEntry(y.state, x.sig_a, y.sig_b)),
        ),
    ]:
        out.append(vec(n, desc, "equivocation", proof_hex=proof.encode().hex()))
    return out


# ---------------------------------------------------------------- transitions.json
def _pay(who: str, frm: str, amount: int, now: int, n: int, *, deadline: int | None = None) -> JSON:
    return {
        "party": who,
        "call": "propose",
        "op": Payment(frm, amount, "").to_json(),
        "now": now,
        "deadline": deadline if deadline is not None else now + 300,
        "nonce": nonce(n),
    }


def _rx(who: str, step: int, now: int) -> JSON:
    return {"party": who, "call": "receive", "from_step": step, "now": now}


def _rx_bytes(who: str, data: bytes, now: int) -> JSON:
    return {"party": who, "call": "receive", "input_hex": data.hex(), "now": now}


def _signed_proposal(base: State, who: str, op: Any, now: int, n: int, *, signer: str, **tamper: Any) -> bytes:
    st = apply_op(base, Update(who, op, now, now + 300, nonce(n)))
    if tamper:
        st = State.from_json({**st.json, **tamper})
    return Proposal(st, SIGNERS[signer].sign(st.signing_message).hex()).encode()


def session_vectors() -> list[JSON]:
    log = [cosign(genesis())]
    g = log[0].state
    t = T0 + 3600
    setup = {"a_seed_hex": SEEDS["alice"].hex(), "b_seed_hex": SEEDS["bob"].hex(), "log": [e.to_json() for e in log]}
    longer = chain(("a", Payment("a", 100, "")), ("b", Payment("b", 30, "")))
    setup_a_ahead = {**setup, "log": [e.to_json() for e in longer]}
    lim = {
        "party": "b",
        "call": "propose",
        "op": SetLimit("a_to_b", 500).to_json(),
        "now": t,
        "deadline": t + 300,
        "nonce": nonce(20),
    }
    scen: list[tuple[str, str, JSON, list[JSON]]] = [
        (
            "payment-round-trip",
            "Alice proposes, Bob accepts, Alice commits",
            setup,
            [
                _pay("a", "a", 1234, t, 10),
                _rx("b", 0, t + 1),
                {"party": "b", "call": "accept", "now": t + 2},
                _rx("a", 2, t + 3),
            ],
        ),
        (
            "payment-rejected",
            "Bob declines a payment request; both stay at the same head",
            setup,
            [
                _pay("a", "b", 700, t, 10),
                _rx("b", 0, t + 1),
                {"party": "b", "call": "reject", "reason": "DECLINED", "now": t + 2},
                _rx("a", 2, t + 3),
            ],
        ),
        (
            "duplicate-proposal-answered-again",
            "a re-delivered proposal gets the same Accept, never applied twice",
            setup,
            [
                _pay("a", "a", 1, t, 10),
                _rx("b", 0, t),
                {"party": "b", "call": "accept", "now": t},
                _rx("b", 0, t + 5),
                _rx("a", 2, t + 6),
                _rx("a", 3, t + 7),
            ],
        ),
        (
            "duplicate-rejected-proposal-answered-again",
            "a re-delivered rejected proposal gets the same Reject",
            setup,
            [
                _pay("a", "a", 1, t, 10),
                _rx("b", 0, t),
                {"party": "b", "call": "reject", "reason": "DECLINED", "now": t + 1},
                _rx("b", 0, t + 5),
            ],
        ),
        (
            "simultaneous-proposals-tie",
            "both propose at seq 1; the lower state hash wins on both sides",
            setup,
            [
                _pay("a", "a", 100, t, 10),
                _pay("b", "b", 100, t, 11),
                _rx("a", 1, t + 1),
                _rx("b", 0, t + 1),
                _rx("b", 2, t + 2),
                {"party": "b", "call": "accept", "now": t + 3},
                _rx("a", 5, t + 4),
            ],
        ),
        (
            "deadline-void-then-late-accept-wins",
            "Alice voids her proposal after its deadline, proposes anew; "
            "Bob's earlier countersignature still arrives: the co-signed state wins",
            setup,
            [
                _pay("a", "a", 100, t, 10, deadline=t + 60),
                _rx("b", 0, t + 1),
                {"party": "b", "call": "accept", "now": t + 59},
                {"party": "a", "call": "expire", "now": t + 61},
                _pay("a", "a", 200, t + 62, 11),
                _rx("a", 2, t + 63),
            ],
        ),
        (
            "late-proposal-rejected-as-void",
            "a proposal arriving after its deadline is answered DEADLINE_PASSED",
            setup,
            [_pay("a", "a", 100, t, 10, deadline=t + 60), _rx("b", 0, t + 61), _rx("a", 1, t + 62)],
        ),
        (
            "owner-lowers-limit",
            "Bob lowers the credit he extends: Alice must accept",
            setup,
            [lim, _rx("a", 0, t + 1), {"party": "a", "call": "accept", "now": t + 2}, _rx("b", 2, t + 3)],
        ),
        (
            "reestablish-behind",
            "Bob restored an old backup: Alice sends the entries he misses",
            setup_a_ahead,
            [],
        ),  # filled below
        (
            "reestablish-in-sync-resends-pending",
            "same head: the pending proposal is re-sent byte-identically",
            setup,
            [
                _pay("a", "a", 5, t, 10),
                {"party": "a", "call": "reestablish"},
                {"party": "b", "call": "reestablish"},
                _rx("a", 2, t + 1),
                _rx("b", 3, t + 1),
            ],
        ),
        # invalid
        (
            "accept-after-deadline",
            "Bob may not countersign after the deadline by his clock",
            setup,
            [
                _pay("a", "a", 100, t, 10, deadline=t + 60),
                _rx("b", 0, t + 1),
                {"party": "b", "call": "accept", "now": t + 60},
            ],
        ),
        (
            "reject-must-accept",
            "a reject of the owner's limit change is itself a protocol error",
            setup,
            [lim, _rx("a", 0, t + 1), {"party": "a", "call": "reject", "reason": "DECLINED", "now": t + 2}],
        ),
        (
            "propose-while-pending",
            "one proposal at a time",
            setup,
            [_pay("a", "a", 1, t, 10), _pay("a", "a", 2, t, 11)],
        ),
        (
            "propose-while-deciding",
            "decide on the peer's proposal first",
            setup,
            [_pay("a", "a", 1, t, 10), _rx("b", 0, t), _pay("b", "b", 2, t, 11)],
        ),
        ("accept-nothing", "nothing to accept", setup, [{"party": "b", "call": "accept", "now": t}]),
        (
            "proposal-over-limit-local",
            "the core refuses to propose an invalid op",
            setup,
            [_pay("a", "a", 10001, t, 10)],
        ),
        (
            "nonce-reused-locally",
            "a nonce is used once per seq",
            setup,
            [
                _pay("a", "a", 1, t, 10),
                {"party": "a", "call": "expire", "now": t + 400},
                _pay("a", "a", 2, t + 401, 10),
            ],
        ),
        (
            "accept-unknown-proposal",
            "an Accept for a state we never proposed",
            setup,
            [_rx_bytes("a", Accept(g.channel, 1, "ab" * 32, "00" * 64).encode(), t)],
        ),
        (
            "reject-unknown-proposal",
            "a Reject for nothing we proposed",
            setup,
            [
                _rx_bytes(
                    "a",
                    Reject(g.channel, 1, "ab" * 32, "b", "DECLINED", t, SIGNERS["bob"].sign(b"x").hex()).encode(),
                    t,
                )
            ],
        ),
    ]
    gap = chain(("a", Payment("a", 1, "")), ("a", Payment("a", 1, "")))
    bad_rx = [
        (
            "proposal-bad-signature",
            "the proposal is signed by Mallory, not Alice",
            _signed_proposal(g, "a", Payment("a", 1, ""), t, 10, signer="mallory"),
        ),
        (
            "proposal-state-mismatch",
            "co-signed by the proposer but balance is not apply_op's",
            _signed_proposal(g, "a", Payment("a", 1, ""), t, 10, signer="alice", balance=2),
        ),
        (
            "proposal-over-limit",
            "the peer proposes a payment beyond the limit",
            Proposal(
                State.from_json(
                    {
                        **g.json,
                        "seq": 1,
                        "prev": g.hash_hex,
                        "balance": 10001,
                        "update": Update("a", Payment("a", 10001, ""), t, t + 300, nonce(10)).to_json(),
                    }
                ),
                "00" * 64,
            ).encode(),
        ),
        (
            "proposal-seq-gap",
            "seq 2 on a head at seq 0: resync needed",
            Proposal(gap[2].state, gap[2].sig_a or "").encode(),
        ),
        (
            "proposal-wrong-prev",
            "prev is not our head's hash",
            _signed_proposal(g, "a", Payment("a", 1, ""), t, 10, signer="alice", prev="11" * 32),
        ),
        (
            "proposal-wrong-proposer",
            "Bob receives a proposal claiming Bob as proposer",
            _signed_proposal(g, "b", Payment("a", 1, ""), t, 10, signer="bob"),
        ),
        (
            "proposal-wrong-channel",
            "a proposal for another channel",
            _signed_proposal(g, "a", Payment("a", 1, ""), t, 10, signer="alice", channel="22" * 32),
        ),
        (
            "proposal-created-in-future",
            "created more than 300 s ahead of our clock",
            _signed_proposal(g, "a", Payment("a", 1, ""), t + 301, 10, signer="alice"),
        ),
        (
            "proposal-unsupported-version",
            "a v2 message is refused with UNSUPPORTED_VERSION",
            b'{"type":"proposal","v":2}',
        ),
        ("proposal-not-json", "garbage bytes", b"\x00\x01garbage"),
        ("unknown-message-type", "a message type v1 does not define", b'{"type":"ping","v":1}'),
    ]
    for n, desc, data in bad_rx:
        scen.append((n, desc, setup, [_rx_bytes("b", data, t)]))
    scen.append(
        (
            "nonce-reused-by-peer",
            "the peer reuses a nonce for a different state at the same seq",
            setup,
            [
                _rx_bytes("b", _signed_proposal(g, "a", Payment("a", 1, ""), t, 10, signer="alice"), t),
                {"party": "b", "call": "reject", "reason": "DECLINED", "now": t},
                _rx_bytes("b", _signed_proposal(g, "a", Payment("a", 2, ""), t, 10, signer="alice"), t),
            ],
        )
    )
    fork = cosign(apply_op(longer[1].state, Update("b", Payment("b", 31, ""), T0 + 120, T0 + 420, nonce(101))))
    scen.append(
        (
            "reestablish-fork",
            "the peer's hash differs at a common seq: CHAIN_FORK",
            setup_a_ahead,
            [_rx_bytes("a", Entries(g.channel, (fork,)).encode(), t)],
        )
    )
    out: list[JSON] = []
    for n, desc, st0, steps0 in scen:
        st, steps = st0, steps0
        if n == "reestablish-behind":
            st = {**setup_a_ahead, "b_entries": 1}
            steps = [{"party": "b", "call": "reestablish"}, _rx("a", 0, t), _rx("b", 1, t + 1)]
        out.append(vec(f"session-{n}", desc, "session", setup=st, steps=steps))
    return out


# ---------------------------------------------------------------- recovery.json
# Dave (0x66*32) is a third guardian; Alice's new device holds 0x77*32. Both only appear here.
RSIGNERS = {**SIGNERS, "dave": SeedSigner(b"\x66" * 32), "alice_new": SeedSigner(b"\x77" * 32)}
RPK = {k: s.public_key.hex() for k, s in RSIGNERS.items()}
DAY = 86_400
RT = T0 + 7200  # when the reference recovery starts


def rcosign(st: State) -> LogEntry:
    """Both member signatures, by whichever known keys the state names (new keys included)."""
    e = LogEntry(st, None, None)
    for s in RSIGNERS.values():
        if st.side_of_key(s.public_key.hex()) is not None:
            e = countersign(e, s)
    return e


def rchain(*ops: tuple[str, Any], start: State | None = None) -> list[LogEntry]:
    g = start or genesis()
    log = [rcosign(g)]
    for i, (who, op) in enumerate(ops):
        t = T0 + 60 * (i + 1)
        log.append(rcosign(apply_op(log[-1].state, Update(who, op, t, t + 300, nonce(100 + i)))))
    return log


def guardian(name: str) -> Member:
    return Member(RPK[name], RPK[name])


def rpolicy(
    *,
    signer: str = "alice",
    party: str = "alice",
    guardians: tuple[str, ...] = ("bob", "carol", "dave"),
    threshold: int = 2,
    counter: int = 1,
    members: tuple[Member, ...] | None = None,
) -> RecoveryPolicy:
    return make_recovery_policy(
        RSIGNERS[signer],
        party=RPK.get(party, party),
        guardians=members if members is not None else [guardian(g) for g in guardians],
        threshold=threshold,
        delay=DAY,
        counter=counter,
        time=T0 + 1800,
    )


POLICY = rpolicy()


def rstatement(
    *, new: str = "alice_new", old: str = "alice", party: str = "alice", policy: str | None = None, time: int = RT
) -> RecoveryStatement:
    return make_recovery(
        RSIGNERS[new],
        party=RPK[party],
        old_key=RPK[old],
        policy=policy or POLICY.hash_hex,
        counter=2,
        time=time,
    )


def rapprovals(st: RecoveryStatement, *names: str) -> tuple[Approval, ...]:
    return tuple(approve_recovery(RSIGNERS[n], RPK[n], st) for n in names)


def explain_policy(p: RecoveryPolicy) -> JSON:
    return {"body": hashed(p.body_json()), "signature": sig_obj(p.key, p.signing_message, p.sig)}


def explain_recovery(op: RecoverKey | RecoveryNotice) -> JSON:
    st, pol = op.statement, op.policy
    apps = []
    for a in op.approvals:
        d: JSON = {"body": hashed(approval_body(a.guardian, st.hash_hex))}
        key = pol.guardian_key(a.guardian)
        if key is not None:
            d["signature"] = sig_obj(key, approval_message(a.guardian, st.hash_hex), a.sig)
        apps.append(d)
    return {
        "policy": explain_policy(pol),
        "statement": {"body": hashed(st.body_json()), "signature": sig_obj(st.new_key, st.signing_message, st.sig)},
        "approvals": apps,
    }


def explain_cancel(c: RecoveryCancel) -> JSON:
    return {"body": hashed(c.body_json()), "signature": sig_obj(c.key, c.signing_message, c.sig)}


def run_verify_recovery_policy(v: JSON) -> JSON:
    try:
        p = RecoveryPolicy.from_json(v["policy"])
        check_recovery_policy(p)
    except ProtocolError as e:
        return err(e)
    return {"policy_sha256_hex": p.hash_hex}


def run_check_recovery(v: JSON) -> JSON:
    try:
        prev = State.from_json(v["prev"]["json"])
        op = op_from_json(v["op"])
        if not isinstance(op, RecoverKey):
            raise RemoteProtocolError(ErrorCode.UNKNOWN_OP, "a recover_key op")
        side = check_recovery(prev, op, created=v["created"])
    except ProtocolError as e:
        return err(e)
    return {"side": side, "recovery_sha256_hex": op.statement.hash_hex}


def run_check_recovery_cancel(v: JSON) -> JSON:
    try:
        side = check_recovery_cancel(State.from_json(v["state"]["json"]), RecoveryCancel.from_json(v["cancel"]))
    except ProtocolError as e:
        return err(e)
    return {"side": side}


RUNNERS.update(
    {
        "verify_recovery_policy": run_verify_recovery_policy,
        "check_recovery": run_check_recovery,
        "check_recovery_cancel": run_check_recovery_cancel,
    }
)


def _rapply(name: str, desc: str, log: list[LogEntry], u: Update) -> JSON:
    prev = log[-1].state
    v = vec(name, desc, "apply_op", prev=hashed(prev.json), update=u.to_json())
    op = u.op
    if isinstance(op, RecoverKey):
        v["explain"] = explain_recovery(op)
    elif isinstance(op, SetRecovery):
        v["explain"] = {"policy": explain_policy(op.policy)}
    if v["valid"]:
        nxt = State.from_json(json.loads(bytes.fromhex(v["expected"]["next_canonical_hex"])))
        v["next"] = explain_entry(rcosign(nxt))
    return v


def _recover(st: RecoveryStatement, apps: tuple[Approval, ...], t: int, policy: RecoveryPolicy = POLICY) -> Update:
    return Update("a", RecoverKey(st, policy, apps), t, t + 300, nonce(900))


def _wrong_tag_approval(name: str, st: RecoveryStatement) -> Approval:
    body = approval_body(RPK[name], st.hash_hex)
    return Approval(RPK[name], RSIGNERS[name].sign(signing_message(TAG_KEY_ROTATION, sha256(canonicalize(body)))).hex())


def recovery_policy_vectors() -> list[JSON]:
    out = [
        vec(
            "policy-valid",
            "Alice names Bob, Carol and Dave; two of them must approve; delay one day",
            "verify_recovery_policy",
            policy=POLICY.to_json(),
            explain=explain_policy(POLICY),
        )
    ]
    bob_twice = (guardian("bob"), Member("ff" * 32, RPK["bob"]))
    small = (guardian("bob"), Member("ff" * 32, sorted(SMALL_ORDER_ENCODINGS)[2].hex()))
    forged = replace(POLICY, sig=RSIGNERS["mallory"].sign(POLICY.signing_message).hex())
    wrong_tag = replace(POLICY, sig=RSIGNERS["alice"].sign(signing_message(TAG_KEY_ROTATION, POLICY.hash)).hex())
    bad: list[tuple[str, str, JSON]] = [
        (
            "policy-threshold-above-guardians",
            "3 of 2 guardians",
            rpolicy(guardians=("bob", "carol"), threshold=3).to_json(),
        ),
        ("policy-member-is-own-guardian", "Alice names herself", rpolicy(guardians=("alice", "bob")).to_json()),
        (
            "policy-guardians-share-a-key",
            "two guardian ids with one key",
            rpolicy(members=bob_twice, threshold=1).to_json(),
        ),
        (
            "policy-guardian-small-order-key",
            "a guardian key fails the pre-checks",
            rpolicy(members=small, threshold=1).to_json(),
        ),
        ("policy-signed-by-another-key", "Mallory signed Alice's policy", forged.to_json()),
        ("policy-wrong-tag", "Alice signed the body under the key-rotation tag", wrong_tag.to_json()),
        ("policy-delay-below-one-day", "delay 86399 s", {**POLICY.to_json(), "delay": DAY - 1}),
        ("policy-delay-above-ninety-days", "delay 90 days + 1 s", {**POLICY.to_json(), "delay": 90 * DAY + 1}),
        ("policy-threshold-zero", "threshold 0", {**POLICY.to_json(), "threshold": 0}),
        ("policy-no-guardians", "an empty guardian list", {**POLICY.to_json(), "guardians": []}),
        (
            "policy-guardians-unsorted",
            "guardians must be sorted by id",
            {**POLICY.to_json(), "guardians": POLICY.to_json()["guardians"][::-1]},
        ),
        ("policy-extra-field", "an unknown field", {**POLICY.to_json(), "note": "x"}),
    ]
    for n, desc, p in bad:
        out.append(vec(n, desc, "verify_recovery_policy", policy=p))
    return out


def recovery_apply_vectors() -> list[JSON]:
    g = [rcosign(genesis())]
    log = rchain(("a", SetRecovery(POLICY)))
    t = T0 + 3600
    st = rstatement()
    due = RT + DAY
    good = rapprovals(st, "bob", "carol")
    bob_policy = rpolicy(signer="bob", party="bob", guardians=("carol", "dave"), threshold=1)
    rotated = rchain(("a", SetRecovery(POLICY)), ("a", RotateKey(rotation("alice", "alice", "carol"))))
    closed = rchain(("a", SetRecovery(POLICY)), ("b", StatusOp("close")))
    out = [
        _rapply(
            "set-recovery-applied",
            "Alice sets her policy: the state records its hash and counter for a",
            g,
            Update("a", SetRecovery(POLICY), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-both-parties",
            "Bob sets his own policy beside Alice's",
            log,
            Update("b", SetRecovery(bob_policy), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-replaced",
            "Alice replaces her policy (counter 2): the record is replaced",
            log,
            Update("a", SetRecovery(rpolicy(guardians=("bob", "dave"), counter=2)), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-counter-replayed",
            "the same counter again: an older policy cannot be replayed",
            log,
            Update("a", SetRecovery(rpolicy(guardians=("bob", "dave"))), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-not-current-key",
            "a policy for Alice signed by Mallory's key",
            g,
            Update("a", SetRecovery(rpolicy(signer="mallory")), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-not-a-party",
            "a policy of Mallory's in Alice and Bob's channel",
            g,
            Update("a", SetRecovery(rpolicy(signer="mallory", party="mallory")), t, t + 300, nonce(900)),
        ),
        _rapply(
            "set-recovery-threshold-above-guardians",
            "the policy's own checks run in the op",
            g,
            Update("a", SetRecovery(rpolicy(guardians=("bob",), threshold=2)), t, t + 300, nonce(900)),
        ),
        _rapply(
            "recover-key-applied",
            "two of three guardians approve, the delay has passed: a's key becomes the new device's, "
            "its id stays, its policy record goes",
            log,
            _recover(st, good, due),
        ),
        _rapply(
            "recover-key-while-closed",
            "recovery works on a closed channel too (the debt still stands)",
            closed,
            _recover(st, rapprovals(st, "carol", "dave"), due),
        ),
        _rapply(
            "rotate-key-drops-policy",
            "a key rotation removes the rotating party's policy record",
            log,
            Update("a", RotateKey(rotation("alice", "alice", "carol")), t, t + 300, nonce(900)),
        ),
    ]
    other = rstatement(time=RT + 1)
    not_new = RecoveryStatement(st.party, st.old_key, st.new_key, st.policy, st.counter, st.time, other.sig)
    bad: list[tuple[str, str, list[LogEntry], Update]] = [
        (
            "recover-key-delay-not-passed",
            "created - started is one second short of the delay",
            log,
            _recover(st, good, due - 1),
        ),
        ("recover-key-too-few-approvals", "one approval of two needed", log, _recover(st, good[:1], due)),
        ("recover-key-no-approvals", "no approval at all", log, _recover(st, (), due)),
        ("recover-key-duplicate-guardian", "Bob approves twice", log, _recover(st, rapprovals(st, "bob", "bob"), due)),
        (
            "recover-key-not-a-guardian",
            "Mallory is no guardian",
            log,
            _recover(st, rapprovals(st, "bob", "mallory"), due),
        ),
        (
            "recover-key-approval-wrong-tag",
            "Carol signed the approval body under the key-rotation tag",
            log,
            _recover(st, (good[0], _wrong_tag_approval("carol", st)), due),
        ),
        (
            "recover-key-approval-of-another-statement",
            "approvals name one statement's hash: they do not carry over",
            log,
            _recover(other, good, due + 1),
        ),
        (
            "recover-key-approval-by-wrong-key",
            "Mallory signs as Carol",
            log,
            _recover(st, (good[0], approve_recovery(RSIGNERS["mallory"], RPK["carol"], st)), due),
        ),
        (
            "recover-key-statement-not-by-new-key",
            "the statement's signature is another one's",
            log,
            _recover(not_new, rapprovals(not_new, "bob", "carol"), due),
        ),
        ("recover-key-no-policy", "no policy in the state", g, _recover(st, good, due)),
        (
            "recover-key-stale-policy",
            "Alice rotated her key after setting the policy: it was dropped",
            rotated,
            _recover(st, good, due),
        ),
        (
            "recover-key-statement-names-another-policy",
            "the statement's policy hash is not the state's",
            log,
            _recover(
                (s2 := rstatement(policy="ab" * 32)),
                rapprovals(s2, "bob", "carol"),
                due,
            ),
        ),
        (
            "recover-key-carries-another-policy",
            "the op carries a policy other than the one recorded",
            log,
            _recover(st, good, due, policy=rpolicy(guardians=("bob", "mallory"), threshold=1)),
        ),
        (
            "recover-key-policy-signature-forged",
            "the carried policy's signature is checked again",
            log,
            _recover(st, good, due, policy=replace(POLICY, sig=RSIGNERS["mallory"].sign(POLICY.signing_message).hex())),
        ),
        (
            "recover-key-old-key-not-current",
            "old_key is not Alice's current key",
            log,
            _recover((s3 := rstatement(old="mallory")), rapprovals(s3, "bob", "carol"), due),
        ),
        (
            "recover-key-to-counterparty-key",
            "the new key is Bob's",
            log,
            _recover((s4 := rstatement(new="bob")), rapprovals(s4, "bob", "carol"), due),
        ),
        (
            "recover-key-not-a-party",
            "the statement names Mallory",
            log,
            _recover((s5 := rstatement(party="mallory", old="alice")), rapprovals(s5, "bob", "carol"), due),
        ),
    ]
    for n, desc, lg, u in bad:
        out.append(_rapply(n, desc, lg, u))
    return out


def recovery_check_vectors() -> list[JSON]:
    log = rchain(("a", SetRecovery(POLICY)))
    head = log[-1].state
    st = rstatement()
    good = rapprovals(st, "bob", "carol")
    cancel = cancel_recovery(RSIGNERS["alice"], st, time=RT + 3600)
    recovered = apply_op(head, _recover(st, good, RT + DAY))
    out = []
    for n, desc, op, created in (
        (
            "notice-valid",
            "what a recovery_notice is checked by: every step but the delay",
            RecoverKey(st, POLICY, good),
            None,
        ),
        ("notice-too-few-approvals", "a notice with one approval of two", RecoverKey(st, POLICY, good[:1]), None),
        (
            "notice-not-a-guardian",
            "a notice with Mallory's approval",
            RecoverKey(st, POLICY, rapprovals(st, "bob", "mallory")),
            None,
        ),
        (
            "check-recovery-too-early",
            "with created one second short of the delay",
            RecoverKey(st, POLICY, good),
            RT + DAY - 1,
        ),
        ("check-recovery-due", "with created exactly at the delay", RecoverKey(st, POLICY, good), RT + DAY),
    ):
        out.append(
            vec(
                n,
                desc,
                "check_recovery",
                prev=hashed(head.json),
                op=op.to_json(),
                created=created,
                explain=explain_recovery(op),
            )
        )
    forged = replace(cancel, time=cancel.time + 1)
    for n, desc, state, c in (
        ("cancel-valid", "Alice's old key cancels the recovery by its hash", head, cancel),
        (
            "cancel-by-new-key",
            "the new device cannot cancel",
            head,
            cancel_recovery(RSIGNERS["alice_new"], st, time=RT),
        ),
        (
            "cancel-by-outsider",
            "Mallory's key is no party's current key",
            head,
            replace(cancel_recovery(RSIGNERS["mallory"], st, time=RT), party=RPK["alice"]),
        ),
        (
            "cancel-not-a-party",
            "a cancel naming Mallory",
            head,
            cancel_recovery(RSIGNERS["mallory"], rstatement(party="mallory"), time=RT),
        ),
        ("cancel-bad-signature", "the time was changed after signing", head, forged),
        ("cancel-after-recovery", "once recovered, the old key cancels nothing", recovered, cancel),
    ):
        out.append(
            vec(
                n,
                desc,
                "check_recovery_cancel",
                state=hashed(state.json),
                cancel=c.to_json(),
                explain=explain_cancel(c),
            )
        )
    # states with a recovery field
    both = rchain(
        ("a", SetRecovery(POLICY)),
        ("b", SetRecovery(rpolicy(signer="bob", party="bob", guardians=("carol",), threshold=1))),
    )[-1].state
    out.append(
        vec(
            "decode-state-with-recovery",
            "a state recording both parties' policies",
            "decode_state",
            input_hex=both.canonical.hex(),
        )
    )
    rec = both.json["recovery"]
    for n, desc, r in (
        ("decode-state-recovery-empty", "an empty recovery object (omit the field instead)", {}),
        ("decode-state-recovery-unknown-side", "a recovery record for side c", {**rec, "c": rec["a"]}),
        ("decode-state-recovery-counter-zero", "counter 0", {"a": {**rec["a"], "counter": 0}}),
        ("decode-state-recovery-missing-counter", "a record without counter", {"a": {"policy": rec["a"]["policy"]}}),
        ("decode-state-recovery-not-object", "recovery is an array", [rec["a"]]),
    ):
        out.append(vec(n, desc, "decode_state", input_hex=canonicalize({**both.json, "recovery": r}).hex()))
    g = genesis()
    bad_g = State.from_json({**g.json, "recovery": {"a": rec["a"]}})
    out.append(
        vec(
            "genesis-with-recovery",
            "a genesis carries no recovery policy (even signed by both)",
            "verify_log",
            entries=[rcosign(bad_g).to_json()],
            operator_keys=[],
        )
    )
    return out


def _rprop(head: State, op: Any, now: int, n: int, signer: str = "alice_new") -> bytes:
    st = apply_op(head, Update("a", op, now, now + 300, nonce(n)))
    return Proposal(st, RSIGNERS[signer].sign(st.signing_message).hex()).encode()


def recovery_session_vectors() -> list[JSON]:
    log = rchain(("a", SetRecovery(POLICY)))
    head = log[-1].state
    setup = {"a_seed_hex": SEEDS["alice"].hex(), "b_seed_hex": SEEDS["bob"].hex(), "log": [e.to_json() for e in log]}
    st = rstatement()
    good = rapprovals(st, "bob", "carol")
    op = RecoverKey(st, POLICY, good)
    notice = RecoveryNotice(st, POLICY, good).encode()
    cancel = RecoveryCancelMessage(cancel_recovery(RSIGNERS["alice"], st, time=RT + 3600)).encode()
    seen = RT + 5
    due = seen + DAY
    old = rstatement(time=T0 + 600)  # dated back a month before Bob hears of it
    old_op = RecoverKey(old, POLICY, rapprovals(old, "carol", "dave"))
    late = T0 + 600 + 30 * DAY
    few = RecoveryNotice(st, POLICY, good[:1]).encode()
    by_new = RecoveryCancelMessage(cancel_recovery(RSIGNERS["alice_new"], st, time=RT)).encode()
    scen: list[tuple[str, str, list[JSON]]] = [
        (
            "recovery-notice-then-recover",
            "Bob hears of the recovery, then countersigns its recover_key one day later (must-accept)",
            [
                _rx_bytes("b", notice, seen),
                _rx_bytes("b", _rprop(head, op, due, 10), due),
                {"party": "b", "call": "accept", "now": due + 1},
            ],
        ),
        (
            "recovery-refused-before-due",
            "one second before the day is over Bob refuses with RECOVERY_TOO_EARLY",
            [_rx_bytes("b", notice, seen), _rx_bytes("b", _rprop(head, op, due - 1, 10), due - 1)],
        ),
        (
            "recovery-backdated-counts-from-first-seen",
            "a statement dated a month back: Bob counts the day from when he first sees it",
            [
                _rx_bytes("b", _rprop(head, old_op, late, 10), late),
                _rx_bytes("b", _rprop(head, old_op, late + DAY, 11), late + DAY),
            ],
        ),
        (
            "recovery-cancelled-by-old-key",
            "Alice's old key cancels during the delay; at the due time Bob refuses with RECOVERY_CANCELLED",
            [
                _rx_bytes("b", notice, seen),
                _rx_bytes("b", cancel, RT + 3600),
                _rx_bytes("b", _rprop(head, op, due, 10), due),
            ],
        ),
        (
            "recovery-cancel-voids-pending",
            "a cancel arriving while Bob decides voids the recover_key; accepting it then fails",
            [
                _rx_bytes("b", notice, seen),
                _rx_bytes("b", _rprop(head, op, due, 10), due),
                _rx_bytes("b", cancel, due + 10),
                {"party": "b", "call": "accept", "now": due + 11},
            ],
        ),
        (
            "recovery-reject-not-allowed",
            "Bob may not decline a due, uncancelled recovery of Alice's",
            [
                _rx_bytes("b", notice, seen),
                _rx_bytes("b", _rprop(head, op, due, 10), due),
                {"party": "b", "call": "reject", "reason": "DECLINED", "now": due + 1},
            ],
        ),
        ("recovery-notice-too-few", "a notice with one approval of two", [_rx_bytes("b", few, seen)]),
        ("recovery-cancel-by-new-key", "only the current (old) key cancels", [_rx_bytes("b", by_new, seen)]),
        (
            "recovery-proposal-too-few",
            "a recover_key with one approval fails apply_op",
            [_rx_bytes("b", _forged_recover(head, RecoverKey(st, POLICY, good[:1]), op, due), due)],
        ),
        (
            "recovery-notice-forwarded-to-old-device",
            "Alice's old device learns of a recovery of its own party (own: true)",
            [_rx_bytes("a", notice, seen)],
        ),
    ]
    return [vec(f"session-{n}", desc, "session", setup=setup, steps=steps) for n, desc, steps in scen]


def _forged_recover(head: State, bad: RecoverKey, good: RecoverKey, now: int) -> bytes:
    """A proposal whose op is `bad` on the state `good` produces (the receiver must refuse it)."""
    built = apply_op(head, Update("a", good, now, now + 300, nonce(12))).json
    st = State.from_json({**built, "update": {**built["update"], "op": bad.to_json()}})
    return Proposal(st, RSIGNERS["alice_new"].sign(st.signing_message).hex()).encode()


def recovery_vectors() -> list[JSON]:
    return [
        *recovery_policy_vectors(),
        *recovery_apply_vectors(),
        *recovery_check_vectors(),
        *recovery_session_vectors(),
    ]


# ---------------------------------------------------------------- files
FILES: dict[str, tuple[str, Callable[[], list[JSON]]]] = {
    "encoding.json": (
        "Strict JSON parsing and RFC 8785 canonical bytes under the FOAF profile (kind canonicalize).",
        encoding_vectors,
    ),
    "signatures.json": (
        "Domain-separated Ed25519 messages and strict verification with pre-checks "
        "(kinds signing_message, verify_signature).",
        signature_vectors,
    ),
    "states.json": ("State decoding and apply_op: every op and guard (kinds decode_state, apply_op).", state_vectors),
    "key_rotation.json": (
        "Key rotation statements and the rotate_key op (kinds verify_rotation, apply_op).",
        key_rotation_vectors,
    ),
    "genesis.json": (
        "Channel ids, legacy history commitments, fresh and imported geneses, whole-log "
        "verification (kinds channel_id, history_root, verify_log).",
        genesis_vectors,
    ),
    "imports.json": (
        "The imported prefix: import_sync catch-up states, their attestation and countersignatures, legacy "
        "history extension and verification (kinds apply_op, verify_log, history_root, history_extend, "
        "verify_history, session).",
        import_vectors,
    ),
    "equivocation.json": (
        "Fraud proofs: two fully signed states at one (channel, seq) (kind equivocation).",
        equivocation_vectors,
    ),
    "transitions.json": (
        "Two-party sessions through the transition table: each step's output bytes, "
        "events, machine state and head, or its error and fault (kind session).",
        session_vectors,
    ),
    "recovery.json": (
        "Social recovery: policies, set_recovery, recover_key with guardians' approvals after a delay, the old "
        "key's cancel, states recording policies, and sessions of a counterparty (kinds verify_recovery_policy, "
        "apply_op, check_recovery, check_recovery_cancel, decode_state, verify_log, session).",
        recovery_vectors,
    ),
}


def render() -> dict[str, bytes]:
    out = {}
    for fname, (desc, fn) in FILES.items():
        doc = {"description": desc, "vectors": fn()}
        out[fname] = (json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n").encode()
    return out


def vectors_cli(render: Callable[[], dict[str, bytes]], argv: list[str] | None, description: str | None) -> int:
    """The command line of every vector generator (bilateral, routing, anchoring): write the files
    ``render`` gives under ``--out``, or with ``--check`` exit 1 naming each one that differs."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default="docs/spec/vectors", help="directory of the vector files")
    ap.add_argument("--check", action="store_true", help="exit 1 if the files differ from a fresh run")
    args = ap.parse_args(argv)
    out = Path(args.out)
    files = render()
    if args.check:
        stale = [f for f, b in files.items() if not (out / f).exists() or (out / f).read_bytes() != b]
        for f in stale:
            print(f"stale: {out / f}", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for f, b in files.items():
        (out / f).write_bytes(b)
    count = sum(len(json.loads(b)["vectors"]) for b in files.values())
    print(f"wrote {len(files)} files, {count} vectors to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return vectors_cli(render, argv, __doc__.splitlines()[0] if __doc__ else None)


if __name__ == "__main__":
    sys.exit(main())
