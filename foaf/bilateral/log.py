"""Checking signed logs and fraud proofs without trusting either party.

`verify_log` re-checks a whole channel log (genesis, attestation, chain, every transition through
`apply_op`, every signature); `verify_equivocation_proof` checks two conflicting fully signed
entries and names who signed both. Also the helpers that produce signatures on entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .crypto import TAG_ATTEST, Signer, as_signer, signing_message, verify
from .errors import ErrorCode, LocalProtocolError, remote
from .model import Attestation, EquivocationProof, Import, LogEntry, State
from .rules import apply_op, check_genesis


def _keyset(keys: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(k.hex() if isinstance(k, bytes) else k for k in keys)


def attestation_message(state: State) -> bytes:
    return signing_message(TAG_ATTEST, state.hash)


def verify_entry_signatures(entry: LogEntry, *, require_both: bool = True) -> None:
    """Each signature present verifies under the key the state names for that side."""
    st = entry.state
    for side, sig in (("a", entry.sig_a), ("b", entry.sig_b)):
        if sig is None:
            if require_both:
                raise remote(ErrorCode.MISSING_SIGNATURE, f"sigs.{side}")
            continue
        verify(bytes.fromhex(st.member(side).key), st.signing_message, bytes.fromhex(sig))


def verify_genesis(entry: LogEntry, operator_keys: Iterable[bytes | str] = ()) -> None:
    """An imported genesis needs a valid attestation by a configured operator key (member
    signatures optional); a fresh genesis needs both member signatures and no attestation."""
    st = entry.state
    check_genesis(st)
    if isinstance(st.update.op, Import):
        if entry.attest is None:
            raise remote(ErrorCode.MISSING_ATTESTATION)
        if entry.attest.key not in _keyset(operator_keys):
            raise remote(ErrorCode.UNKNOWN_OPERATOR, entry.attest.key)
        verify(bytes.fromhex(entry.attest.key), attestation_message(st), bytes.fromhex(entry.attest.sig))
        verify_entry_signatures(entry, require_both=False)
    else:
        if entry.attest is not None:
            raise remote(ErrorCode.UNEXPECTED_ATTESTATION)
        verify_entry_signatures(entry)


def verify_next(prev: State, entry: LogEntry) -> None:
    """`entry` is a valid, fully co-signed successor of `prev`."""
    st = entry.state
    if st.channel != prev.channel:
        raise remote(ErrorCode.WRONG_CHANNEL, st.channel)
    if st.seq != prev.seq + 1 or st.prev != prev.hash_hex:
        raise remote(ErrorCode.CHAIN_BROKEN, f"seq {st.seq} after {prev.seq}")
    if entry.attest is not None:
        raise remote(ErrorCode.UNEXPECTED_ATTESTATION)
    if entry.sig_a is None or entry.sig_b is None:
        raise remote(ErrorCode.MISSING_SIGNATURE)
    if apply_op(prev, st.update) != st:
        raise remote(ErrorCode.STATE_MISMATCH, f"seq {st.seq}")
    verify_entry_signatures(entry)


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """What `verify_log` established."""

    channel: str
    head: State
    length: int
    genesis_complete: bool  # False: imported genesis still waiting for a member's countersignature


def verify_log(entries: Sequence[LogEntry], operator_keys: Iterable[bytes | str] = ()) -> VerifiedLog:
    """Verify a whole log from genesis. Raises RemoteProtocolError at the first bad entry."""
    if not entries:
        raise remote(ErrorCode.BAD_GENESIS, "empty log")
    g = entries[0]
    verify_genesis(g, operator_keys)
    if len(entries) > 1 and not g.complete:
        raise remote(ErrorCode.GENESIS_NOT_COUNTERSIGNED)
    prev = g.state
    for e in entries[1:]:
        verify_next(prev, e)
        prev = e.state
    return VerifiedLog(g.state.channel, prev, len(entries), g.complete)


@dataclass(frozen=True, slots=True)
class EquivocationReport:
    """A checked fork: the two state hashes and who signed both (keys, and member party ids)."""

    channel: str
    seq: int
    hashes: tuple[str, str]
    keys: tuple[str, ...]
    parties: tuple[str, ...]


def verify_equivocation_proof(proof: EquivocationProof | bytes) -> EquivocationReport:
    """Check two different fully signed states at one (channel, seq); name the keys that signed both."""
    if isinstance(proof, (bytes, bytearray)):
        from .model import decode

        msg = decode(bytes(proof))
        if not isinstance(msg, EquivocationProof):
            raise remote(ErrorCode.UNKNOWN_MESSAGE_TYPE, "not an equivocation proof")
        proof = msg
    x, y = proof.first.state, proof.second.state
    if x.channel != y.channel or x.seq != y.seq:
        raise remote(ErrorCode.NOT_EQUIVOCATION, "different channel or seq")
    if x.hash == y.hash:
        raise remote(ErrorCode.NOT_EQUIVOCATION, "same state")
    for e in (proof.first, proof.second):
        verify_entry_signatures(e)
    keys: list[str] = []
    parties: list[str] = []
    for side in ("a", "b"):
        mx, my = x.member(side), y.member(side)
        if mx.key == my.key:
            keys.append(mx.key)
        if mx.id == my.id:
            parties.append(mx.id)
    ax, ay = proof.first.attest, proof.second.attest
    if ax is not None and ay is not None and ax.key == ay.key:
        verify(bytes.fromhex(ax.key), attestation_message(x), bytes.fromhex(ax.sig))
        verify(bytes.fromhex(ay.key), attestation_message(y), bytes.fromhex(ay.sig))
        keys.append(ax.key)
    h1, h2 = sorted((x.hash_hex, y.hash_hex))
    return EquivocationReport(x.channel, x.seq, (h1, h2), tuple(keys), tuple(parties))


# ---------------------------------------------------------------- producing signatures
def sign_state(state: State, signer: Signer | bytes) -> str:
    """Hex signature of `signer` over the state (tag FOAF-BILATERAL-1/state)."""
    return as_signer(signer).sign(state.signing_message).hex()


def attest_genesis(state: State, operator: Signer | bytes) -> LogEntry:
    """The operator's migration key attests an imported genesis (no member signatures yet)."""
    if not isinstance(state.update.op, Import):
        raise LocalProtocolError(ErrorCode.BAD_GENESIS, "only an imported genesis is attested")
    try:
        check_genesis(state)
    except Exception as e:  # re-raise as our caller's fault
        raise LocalProtocolError(getattr(e, "code", ErrorCode.BAD_GENESIS), str(e)) from e
    op = as_signer(operator)
    att = Attestation(op.public_key.hex(), op.sign(attestation_message(state)).hex())
    return LogEntry(state, None, None, att)


def countersign(entry: LogEntry, signer: Signer | bytes) -> LogEntry:
    """Add the signer's member signature to an entry (it must be a or b of the state)."""
    s = as_signer(signer)
    side = entry.state.side_of_key(s.public_key.hex())
    if side is None:
        raise LocalProtocolError(ErrorCode.WRONG_SIGNER, "signer is neither a nor b of this state")
    sig = s.sign(entry.state.signing_message).hex()
    if side == "a":
        return LogEntry(entry.state, sig, entry.sig_b, entry.attest)
    return LogEntry(entry.state, entry.sig_a, sig, entry.attest)
