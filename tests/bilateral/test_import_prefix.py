"""The imported prefix: `import_sync` catch-up states, their attestation and countersignatures, and
the legacy history commitment (`history_extend`, `verify_history`)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from foaf.bilateral import (
    EquivocationProof,
    ErrorCode,
    Import,
    ImportSync,
    LocalProtocolError,
    LogEntry,
    Party,
    Payment,
    ProtocolError,
    RemoteProtocolError,
    Settlement,
    State,
    StatusOp,
    Update,
    apply_op,
    attest_genesis,
    attest_import,
    countersign,
    history_extend,
    history_extend_values,
    history_root,
    history_row,
    verify_equivocation_proof,
    verify_history,
    verify_log,
)
from foaf.bilateral.crypto import TAG_HISTORY, sha256
from foaf.bilateral.jcs import MAX_SAFE_INTEGER, canonicalize
from foaf.bilateral.log import verify_next
from foaf.bilateral.model import Entries, op_from_json
from foaf.bilateral.party import StateCommitted
from foaf.bilateral.rules import ROW_FIELDS, ROW_ORDER, _row_jcs, check_history_row

from .helpers import ALICE, BOB, CAROL, OPERATOR, T0, Pair, fresh_genesis, kinds, nonce

ZERO = "0" * 64
OPS = (OPERATOR.public_key,)


def row(i: int, delta: int, kind: str = "payment", balance_after: int | None = None) -> dict[str, Any]:
    return history_row(
        id=i,
        created_at=T0 - 1000 + i,
        amount=abs(delta) or 1,
        delta=delta,
        balance_after=balance_after,
        kind=kind,
        initiated_by=7,
    )


ROWS = [row(1, 1500, balance_after=1500), row(2, -500, "settlement"), row(5, 24000, "adjustment", 25000)]
NEW_1 = [row(7, 2000, balance_after=27000), row(8, -2000, "reversal")]
NEW_2 = [row(11, -5000, "settlement", 20000)]


def code(e: pytest.ExceptionInfo[ProtocolError]) -> ErrorCode:
    return e.value.code


def both(entry: LogEntry) -> LogEntry:
    return countersign(countersign(entry, ALICE), BOB)


def genesis() -> State:
    root, n = history_root(ROWS)
    return fresh_genesis(proposer="operator", balance=25000, nonce=nonce(2), op=Import("growoperative", 4242, root, n))


def sync(
    prev: State,
    new_rows: list[dict[str, Any]],
    *,
    balance: int,
    limit_a_to_b: int = 10000,
    status: str = "open",
    t: int = T0 + 60,
    proposer: str = "operator",
    **op_fields: Any,
) -> Update:
    p = prev.update.op
    assert isinstance(p, (Import, ImportSync))
    root, n = history_extend(p.history_root, p.history_rows, new_rows)
    fields: dict[str, Any] = {
        "source": p.source,
        "legacy_id": p.legacy_id,
        "history_root": root,
        "history_rows": n,
        "balance": balance,
        "limit_a_to_b": limit_a_to_b,
        "limit_b_to_a": prev.limit_b_to_a,
        "status": status,
        **op_fields,
    }
    return Update(proposer, ImportSync(**fields), t, t + 600, nonce(t - T0))


def prefix() -> tuple[State, State, State]:
    """Genesis (25000 owed), catch-up 1 (net zero rows, limit 300.00, closed), catch-up 2 (20000, open)."""
    g = genesis()
    s1 = apply_op(g, sync(g, NEW_1, balance=25000, limit_a_to_b=30000, status="closed", t=T0 + 60))
    s2 = apply_op(s1, sync(s1, NEW_2, balance=20000, limit_a_to_b=30000, t=T0 + 120))
    return g, s1, s2


def prefix_log(*, tip_signed: bool = True) -> list[LogEntry]:
    g, s1, s2 = prefix()
    tip = attest_import(s2, OPERATOR, prev=s1)
    return [
        attest_genesis(g, OPERATOR),
        countersign(attest_import(s1, OPERATOR), ALICE),
        both(tip) if tip_signed else countersign(tip, BOB),
    ]


def cosigned(prev: State, who: str, op: Any, t: int) -> LogEntry:
    return both(LogEntry(apply_op(prev, Update(who, op, t, t + 300, nonce(t - T0))), None, None))


# ---------------------------------------------------------------- history commitment
def test_history_extend_continues_the_chain_so_catch_ups_equal_one_import_of_all_rows() -> None:
    assert history_root([]) == (ZERO, 0)
    root, n = history_root(ROWS)
    assert history_extend(root, n, NEW_1) == history_root(ROWS + NEW_1)
    assert history_extend(*history_extend(root, n, NEW_1), NEW_2) == history_root(ROWS + NEW_1 + NEW_2)
    assert history_extend(root, n, []) == (root, n)


@given(st.lists(st.integers(-(10**6), 10**6), max_size=12), st.integers(0, 12))
def test_any_split_of_the_rows_extends_to_the_same_root(deltas: list[int], cut: int) -> None:
    rows = [row(i + 1, d) for i, d in enumerate(deltas)]
    cut = min(cut, len(rows))
    assert history_extend(*history_root(rows[:cut]), rows[cut:]) == history_root(rows)
    root, n = history_root(rows)
    verify_history(rows, history_root=root, history_rows=n, balance=sum(deltas))


def test_verify_history_checks_the_chain_and_the_sum_of_deltas() -> None:
    rows = ROWS + NEW_1 + NEW_2
    root, n = history_root(rows)
    verify_history(rows, history_root=root, history_rows=n, balance=20000)
    tampered = [dict(r) for r in rows]
    tampered[0]["amount"] = 1501
    cases: list[tuple[list[dict[str, Any]], str, int, int, ErrorCode]] = [
        (tampered, root, n, 20000, ErrorCode.HISTORY_MISMATCH),
        (rows[:-1], root, n, 20000, ErrorCode.HISTORY_MISMATCH),
        (rows, root, n - 1, 20000, ErrorCode.HISTORY_MISMATCH),
        (rows, root, n, 20001, ErrorCode.HISTORY_BALANCE_MISMATCH),
    ]
    for rs, r, k, balance, expected in cases:
        with pytest.raises(RemoteProtocolError) as e:
            verify_history(rs, history_root=r, history_rows=k, balance=balance)
        assert code(e) is expected


ROW_KINDS = [
    "payment",
    "",
    "x" * 64,
    "x" * 65,
    'a"b\\c',
    "tab\there\n\x00\x1f\x7f",
    "caf\u00e9",
    "\U0001f600",
    "\u2028",
]
ROW_INTS = [0, 1, 7, 2**31, MAX_SAFE_INTEGER]


@given(
    st.sampled_from(ROW_KINDS) | st.text(max_size=70),
    st.sampled_from(ROW_INTS) | st.integers(-(2**54), 2**54),
    st.sampled_from([-MAX_SAFE_INTEGER, -1, 0, 1, MAX_SAFE_INTEGER]) | st.integers(-(2**54), 2**54),
    st.none() | st.integers(-(2**54), 2**54),
)
def test_a_row_is_committed_as_its_rfc8785_bytes_or_refused_as_the_checked_path_refuses_it(
    kind: str, i: int, delta: int, balance_after: int | None
) -> None:
    """`history_extend` formats plainly valid rows itself: the bytes must be exactly the JCS ones."""
    r = {"id": i, "created_at": i, "amount": i, "delta": delta, "balance_after": balance_after, "kind": kind,
         "initiated_by": i}  # fmt: skip
    direct = _row_jcs(r)
    try:
        checked = canonicalize(check_history_row(r))
    except RemoteProtocolError as refused:
        assert direct is None
        with pytest.raises(RemoteProtocolError) as e:
            history_extend_values(ZERO, 0, [values_of(r)])
        assert e.value.code is refused.code
        return
    assert checked == rfc8785.dumps(r)
    if direct is not None:
        assert direct == checked
    root = sha256(TAG_HISTORY + b"\x00" + bytes(32) + sha256(checked)).hex()
    assert history_root([r]) == (root, 1)
    assert history_extend_values(ZERO, 0, [values_of(r)]) == (root, 1)


def test_rows_the_direct_formatter_leaves_to_the_checked_path_still_commit() -> None:
    odd = [row(1, 5, kind='say "hi"\n'), row(2, 5, kind="caf\u00e9"), row(3, 5, kind="\U0001f600")]
    assert _row_jcs(odd[0]) is not None and _row_jcs(odd[1]) is None and _row_jcs(odd[2]) is None
    expected = ZERO
    for r in odd:
        expected = sha256(TAG_HISTORY + b"\x00" + bytes.fromhex(expected) + sha256(rfc8785.dumps(r))).hex()
    assert history_root(odd) == (expected, 3)
    with pytest.raises(RemoteProtocolError) as e:
        history_root([row(1, 5, kind="\ud800")])
    assert code(e) is ErrorCode.LONE_SURROGATE


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"reversed": False}, ErrorCode.UNKNOWN_FIELD),
        ({"amount": 0}, ErrorCode.BAD_VALUE),
        ({"amount": -5}, ErrorCode.BAD_VALUE),
        ({"delta": True}, ErrorCode.WRONG_TYPE),
        ({"delta": 2**53}, ErrorCode.BAD_VALUE),
        ({"balance_after": "12"}, ErrorCode.WRONG_TYPE),
        ({"kind": "x" * 65}, ErrorCode.BAD_VALUE),
        ({"kind": 3}, ErrorCode.WRONG_TYPE),
        ({"initiated_by": -1}, ErrorCode.BAD_VALUE),
        ({"created_at": None}, ErrorCode.WRONG_TYPE),
    ],
)
def test_rows_have_exactly_the_committed_fields_with_their_types(change: dict[str, Any], expected: ErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as e:
        history_root([{**ROWS[0], **change}])
    assert code(e) is expected
    if change.keys() <= ROW_FIELDS:  # the same row as values: refused the same way
        with pytest.raises(RemoteProtocolError) as e:
            history_extend_values(ZERO, 0, [values_of({**ROWS[0], **change})])
        assert code(e) is expected


def values_of(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r[k] for k in ROW_ORDER)


def test_rows_as_values_extend_the_chain_as_the_rows_do() -> None:
    rows = ROWS + NEW_1 + NEW_2 + [row(12, 5, kind='say "hi"\n'), row(13, 5, kind="caf\u00e9")]
    assert history_extend_values(ZERO, 0, [values_of(r) for r in rows]) == history_root(rows)
    root, n = history_root(ROWS)
    assert history_extend_values(root, n, [values_of(r) for r in NEW_1]) == history_extend(root, n, NEW_1)
    assert history_extend_values(root, n, []) == (root, n)
    for bad, expected in [
        ([values_of(ROWS[1]), values_of(ROWS[0])], ErrorCode.BAD_VALUE),  # not ascending
        ([values_of(ROWS[0])[:-1]], ErrorCode.WRONG_TYPE),  # a value short
        ([(*values_of(ROWS[0]), False)], ErrorCode.WRONG_TYPE),  # a value too many
    ]:
        with pytest.raises(RemoteProtocolError) as e:
            history_extend_values(ZERO, 0, bad)
        assert code(e) is expected
    with pytest.raises(RemoteProtocolError) as e:
        history_extend_values("AB" * 32, 1, [])
    assert code(e) is ErrorCode.BAD_HEX


def test_rows_are_in_ascending_id_and_the_previous_root_is_hex32() -> None:
    with pytest.raises(RemoteProtocolError) as e:
        history_root([ROWS[1], ROWS[0]])
    assert code(e) is ErrorCode.BAD_VALUE
    with pytest.raises(RemoteProtocolError) as e:
        history_root([{k: v for k, v in ROWS[0].items() if k != "delta"}])
    assert code(e) is ErrorCode.MISSING_FIELD
    with pytest.raises(RemoteProtocolError) as e:
        history_extend("AB" * 32, 1, [])
    assert code(e) is ErrorCode.BAD_HEX


# ---------------------------------------------------------------- the import_sync op
def test_import_sync_takes_the_ops_balance_limits_and_status_even_beyond_the_limits() -> None:
    g, s1, s2 = prefix()
    assert (s1.seq, s1.prev, s1.balance, s1.limit_a_to_b, s1.status) == (1, g.hash_hex, 25000, 30000, "closed")
    over = apply_op(s2, sync(s2, [row(12, 90000)], balance=110000, t=T0 + 180))  # 1100.00 owed on 100.00
    assert (over.balance, over.limit_a_to_b, over.status, over.holds) == (110000, 10000, "open", ())
    assert (over.a, over.b, over.currency, over.channel) == (g.a, g.b, g.currency, g.channel)
    same_rows = apply_op(s2, sync(s2, [], balance=20000, limit_a_to_b=40000, t=T0 + 150))  # only columns changed
    assert same_rows.limit_a_to_b == 40000


def test_import_sync_round_trips_through_json_and_status_is_open_or_closed() -> None:
    _, s1, _ = prefix()
    assert State.from_json(s1.json) == s1
    op = s1.update.op
    assert op_from_json(op.to_json()) == op
    with pytest.raises(RemoteProtocolError) as e:
        op_from_json({**op.to_json(), "status": "frozen"})
    assert code(e) is ErrorCode.BAD_VALUE


def test_import_sync_errors() -> None:
    g, s1, _ = prefix()
    full = both(attest_genesis(g, OPERATOR))
    after_member = cosigned(full.state, "a", Settlement("a", 100, ""), T0 + 60).state
    bad_deadline = Update("operator", sync(g, NEW_1, balance=25000).op, T0 + 60, T0 + 60, nonce(9))
    cases: list[tuple[State, Update, ErrorCode]] = [
        (g, sync(g, NEW_1, balance=25000, proposer="a"), ErrorCode.WRONG_PROPOSER),
        (g, bad_deadline, ErrorCode.BAD_DEADLINE),
        (after_member, sync(g, NEW_1, balance=25000), ErrorCode.NOT_IN_IMPORT_PREFIX),
        (fresh_genesis(), sync(g, NEW_1, balance=0), ErrorCode.NOT_IN_IMPORT_PREFIX),
        (g, sync(g, NEW_1, balance=25000, source="other"), ErrorCode.IMPORT_SOURCE_CHANGED),
        (g, sync(g, NEW_1, balance=25000, legacy_id=1), ErrorCode.IMPORT_SOURCE_CHANGED),
        (s1, sync(s1, [], balance=25000, history_rows=4), ErrorCode.HISTORY_SHRANK),
        (g, sync(g, [], balance=25000, history_root="ee" * 32), ErrorCode.HISTORY_MISMATCH),
        (g, sync(g, NEW_1, balance=25000, history_root=history_root(ROWS)[0]), ErrorCode.HISTORY_MISMATCH),
    ]
    for prev, u, expected in cases:
        with pytest.raises(RemoteProtocolError) as e:
            apply_op(prev, u)
        assert code(e) is expected, (u, expected)


def test_members_may_not_use_operator_or_import_ops() -> None:
    g = genesis()
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(g, Update("operator", Payment("a", 1, ""), T0 + 60, T0 + 120, nonce(3)))
    assert code(e) is ErrorCode.WRONG_PROPOSER
    with pytest.raises(RemoteProtocolError) as e:
        apply_op(g, Update("a", genesis().update.op, T0 + 60, T0 + 120, nonce(3)))
    assert code(e) is ErrorCode.BAD_GENESIS


# ---------------------------------------------------------------- logs
def test_a_prefix_with_a_countersigned_tip_then_member_updates_verifies() -> None:
    log = prefix_log()
    assert verify_log(log, OPS).genesis_complete is True
    log.append(cosigned(log[-1].state, "a", Settlement("a", 1000, "cash"), T0 + 200))
    r = verify_log(log, OPS)
    assert (r.head.seq, r.head.balance, r.genesis_complete) == (3, 19000, True)


def test_genesis_complete_is_about_the_tip_of_the_prefix() -> None:
    g, s1, _ = prefix()
    full = both(attest_genesis(g, OPERATOR))
    assert verify_log([full], OPS).genesis_complete is True
    pending = [full, countersign(attest_import(s1, OPERATOR), ALICE)]
    assert verify_log(pending, OPS).genesis_complete is False  # a catch-up after the members signed
    assert verify_log(prefix_log(tip_signed=False), OPS).genesis_complete is False


def test_no_member_update_before_both_countersign_the_tip() -> None:
    for log in (prefix_log(tip_signed=False), [countersign(attest_genesis(genesis(), OPERATOR), ALICE)]):
        log.append(
            cosigned(
                log[-1].state,
                "b",
                StatusOp("close") if log[-1].state.status == "open" else StatusOp("reopen"),
                T0 + 300,
            )
        )
        with pytest.raises(RemoteProtocolError) as e:
            verify_log(log, OPS)
        assert code(e) is ErrorCode.GENESIS_NOT_COUNTERSIGNED


def test_prefix_entries_need_a_configured_operator_and_valid_member_signatures() -> None:
    g, s1, _ = prefix()
    head = attest_genesis(g, OPERATOR)
    signed = both(LogEntry(s1, None, None))
    forged = attest_import(s1, OPERATOR)
    cases: list[tuple[LogEntry, tuple[bytes, ...], ErrorCode]] = [
        (both(attest_import(s1, CAROL)), OPS, ErrorCode.UNKNOWN_OPERATOR),
        (both(attest_import(s1, OPERATOR)), (), ErrorCode.UNKNOWN_OPERATOR),
        (signed, OPS, ErrorCode.MISSING_ATTESTATION),
        (LogEntry(s1, None, OPERATOR.sign(s1.signing_message).hex(), forged.attest), OPS, ErrorCode.BAD_SIGNATURE),
        (LogEntry(s1, None, None, attest_genesis(g, OPERATOR).attest), OPS, ErrorCode.BAD_SIGNATURE),
    ]
    for entry, keys, expected in cases:
        with pytest.raises(RemoteProtocolError) as e:
            verify_log([head, entry], keys)
        assert code(e) is expected


def test_import_sync_after_a_member_update_is_refused_in_a_log() -> None:
    log = prefix_log()
    log.append(cosigned(log[-1].state, "a", Settlement("a", 1000, ""), T0 + 200))
    prev = log[-1].state
    op = sync(log[2].state, [], balance=19000, limit_a_to_b=30000).op
    u = Update("operator", op, T0 + 300, T0 + 900, nonce(77))
    forced = State.from_json({**prev.json, "seq": prev.seq + 1, "prev": prev.hash_hex, "update": u.to_json()})
    with pytest.raises(RemoteProtocolError) as e:
        verify_log([*log, both(attest_import(forced, OPERATOR))], OPS)
    assert code(e) is ErrorCode.NOT_IN_IMPORT_PREFIX


def test_verify_next_needs_the_operator_keys_for_a_sync_entry_and_is_unchanged_otherwise() -> None:
    g, s1, _ = prefix()
    entry = attest_import(s1, OPERATOR)
    with pytest.raises(RemoteProtocolError) as e:
        verify_next(g, entry)  # the storage layer's two-argument call
    assert code(e) is ErrorCode.UNKNOWN_OPERATOR
    verify_next(g, entry, OPS)
    verify_next(g, both(entry), [OPERATOR.public_key.hex()])
    fresh = fresh_genesis()
    verify_next(fresh, cosigned(fresh, "a", Payment("a", 1, ""), T0 + 60))
    paid = cosigned(fresh, "a", Payment("a", 1, ""), T0 + 60)
    with pytest.raises(RemoteProtocolError) as e:
        verify_next(fresh, LogEntry(paid.state, paid.sig_a, paid.sig_b, entry.attest), OPS)
    assert code(e) is ErrorCode.UNEXPECTED_ATTESTATION


def test_attest_import_checks_what_it_can() -> None:
    g, s1, _ = prefix()
    with pytest.raises(LocalProtocolError) as e:
        attest_import(State.from_json({**s1.json, "balance": 1}), OPERATOR, prev=g)
    assert code(e) is ErrorCode.STATE_MISMATCH
    with pytest.raises(LocalProtocolError) as e:
        attest_import(fresh_genesis(), OPERATOR)
    assert code(e) is ErrorCode.BAD_GENESIS
    with pytest.raises(LocalProtocolError) as e:
        attest_genesis(s1, OPERATOR)
    assert code(e) is ErrorCode.BAD_GENESIS
    with pytest.raises(LocalProtocolError) as e:
        attest_import(State.from_json({**g.json, "holds": [], "channel": "00" * 32}), OPERATOR)
    assert code(e) is ErrorCode.BAD_CHANNEL_ID
    assert attest_import(g, OPERATOR) == attest_genesis(g, OPERATOR)


def test_two_fully_signed_catch_ups_at_one_seq_name_the_members_and_the_operator() -> None:
    g = genesis()
    x = both(attest_import(apply_op(g, sync(g, NEW_1, balance=25000)), OPERATOR))
    y = both(attest_import(apply_op(g, sync(g, NEW_1, balance=26000)), OPERATOR))
    report = verify_equivocation_proof(EquivocationProof(x, y))
    assert set(report.keys) == {ALICE.public_key.hex(), BOB.public_key.hex(), OPERATOR.public_key.hex()}


# ---------------------------------------------------------------- parties
def test_parties_continue_from_a_countersigned_tip() -> None:
    pair = Pair.from_log(prefix_log(), OPS)
    assert pair.alice.state is not None and pair.alice.state.seq == 2
    pair.pay("a", 500)
    assert pair.bob.state is not None and pair.bob.state.balance == 20500
    assert verify_log(pair.alice.log, OPS).head == pair.bob.state


def test_a_party_refuses_a_log_whose_tip_is_not_countersigned_and_never_proposes_import_sync() -> None:
    with pytest.raises(LocalProtocolError) as e:
        Party(ALICE, prefix_log(tip_signed=False), operator_keys=OPS)
    assert code(e) is ErrorCode.GENESIS_NOT_COUNTERSIGNED
    pair = Pair.from_log(prefix_log(), OPS)
    s2 = pair.alice.log[-1].state
    with pytest.raises(LocalProtocolError) as e:
        pair.alice.propose(sync(s2, [], balance=1).op, now=pair.now, deadline=pair.now + 60, nonce=nonce(5))
    assert code(e) is ErrorCode.WRONG_PROPOSER


def test_a_party_behind_takes_a_countersigned_catch_up_from_entries_but_not_an_unsigned_one() -> None:
    g, s1, _ = prefix()
    full = both(attest_genesis(g, OPERATOR))
    bob = Party(BOB, [full], operator_keys=OPS)
    pending = countersign(attest_import(s1, OPERATOR), ALICE)
    with pytest.raises(RemoteProtocolError) as e:
        bob.receive(Entries(g.channel, (pending,)).encode(), now=T0 + 3600)
    assert code(e) is ErrorCode.MISSING_SIGNATURE
    events = bob.receive(Entries(g.channel, (both(pending),)).encode(), now=T0 + 3600)
    assert kinds(events) == ["StateCommitted"] and isinstance(events[0], StateCommitted)
    assert bob.state == s1


# ---------------------------------------------------------------- make_genesis refuses what a peer refuses
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"limit_a_to_b": 1.5}, ErrorCode.FLOAT_NOT_ALLOWED),
        ({"limit_a_to_b": float("nan")}, ErrorCode.FLOAT_NOT_ALLOWED),
        ({"limit_a_to_b": 2**53}, ErrorCode.INTEGER_OUT_OF_RANGE),
        ({"balance": -(2**60)}, ErrorCode.INTEGER_OUT_OF_RANGE),
        ({"limit_b_to_a": True}, ErrorCode.WRONG_TYPE),
        ({"limit_b_to_a": -1}, ErrorCode.BAD_VALUE),
        ({"currency": object()}, ErrorCode.WRONG_TYPE),
        ({"currency": "US\ud800"}, ErrorCode.LONE_SURROGATE),
        ({"created": "now"}, ErrorCode.WRONG_TYPE),
    ],
)
def test_make_genesis_refuses_what_a_peer_would_refuse_with_the_parsers_codes(
    change: dict[str, Any], expected: ErrorCode
) -> None:
    """make_genesis checks its state through the strict parser (from the state's own canonical
    bytes): a caller cannot build a genesis a peer would refuse."""
    root, n = history_root(ROWS)
    with pytest.raises(RemoteProtocolError) as e:
        fresh_genesis(proposer="operator", nonce=nonce(2), op=Import("growoperative", 4242, root, n), **change)
    assert code(e) is expected
