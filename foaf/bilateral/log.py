"""Checking signed logs and fraud proofs without trusting either party.

`verify_log` re-checks a whole channel log (genesis, attestation, chain, every transition through
`apply_op`, every signature); `verify_equivocation_proof` checks two conflicting fully signed
entries and names who signed both. Also the helpers that produce signatures on entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .crypto import TAG_ATTEST, Signer, as_signer, signing_message, verify
from .errors import ErrorCode, LocalProtocolError, ProtocolError, remote
from .model import Attestation, EquivocationProof, Import, ImportSync, LogEntry, State
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


def _verify_attestation(entry: LogEntry, keys: frozenset[str]) -> None:
    """The operator's attestation is present, by a configured key, and valid; member signatures
    present are valid (they are optional on an entry of the imported prefix)."""
    att = entry.attest
    if att is None:
        raise remote(ErrorCode.MISSING_ATTESTATION, f"seq {entry.state.seq}")
    if att.key not in keys:
        raise remote(ErrorCode.UNKNOWN_OPERATOR, att.key)
    verify(bytes.fromhex(att.key), attestation_message(entry.state), bytes.fromhex(att.sig))
    verify_entry_signatures(entry, require_both=False)


def verify_genesis(entry: LogEntry, operator_keys: Iterable[bytes | str] = ()) -> None:
    """An imported genesis needs a valid attestation by a configured operator key (member
    signatures optional); a fresh genesis needs both member signatures and no attestation."""
    st = entry.state
    check_genesis(st)
    if isinstance(st.update.op, Import):
        _verify_attestation(entry, _keyset(operator_keys))
    else:
        if entry.attest is not None:
            raise remote(ErrorCode.UNEXPECTED_ATTESTATION)
        verify_entry_signatures(entry)


def verify_next(prev: State, entry: LogEntry, operator_keys: Iterable[bytes | str] = ()) -> None:
    """`entry` is a valid successor of `prev`: fully co-signed and not attested, or, for an
    `import_sync` entry, attested by one of `operator_keys` (member signatures optional).

    Whether `prev`'s entry was countersigned by both members (required before a member update
    follows an entry of the imported prefix) is the caller's to check: `verify_log` does."""
    st = entry.state
    if st.channel != prev.channel:
        raise remote(ErrorCode.WRONG_CHANNEL, st.channel)
    if st.seq != prev.seq + 1 or st.prev != prev.hash_hex:
        raise remote(ErrorCode.CHAIN_BROKEN, f"seq {st.seq} after {prev.seq}")
    if type(st.update.op) is ImportSync:
        if apply_op(prev, st.update) != st:
            raise remote(ErrorCode.STATE_MISMATCH, f"seq {st.seq}")
        _verify_attestation(entry, _keyset(operator_keys))
        return
    if entry.attest is not None:
        raise remote(ErrorCode.UNEXPECTED_ATTESTATION)
    if entry.sig_a is None or entry.sig_b is None:
        raise remote(ErrorCode.MISSING_SIGNATURE)
    if apply_op(prev, st.update) != st:
        raise remote(ErrorCode.STATE_MISMATCH, f"seq {st.seq}")
    verify_entry_signatures(entry)


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """What `verify_log` established.

    `genesis_complete`: the fresh genesis, or the tip of the imported prefix (the last `import` or
    `import_sync` entry), carries both member signatures. False only for a log that ends inside an
    imported prefix whose last entry is still waiting for a member's countersignature."""

    channel: str
    head: State
    length: int
    genesis_complete: bool


def verify_log(entries: Sequence[LogEntry], operator_keys: Iterable[bytes | str] = ()) -> VerifiedLog:
    """Verify a whole log from genesis. Raises RemoteProtocolError at the first bad entry.

    The imported prefix (seq 0 `import`, then any `import_sync` entries) is attested by a configured
    operator key; its last entry must carry both member signatures before any other entry follows
    (GENESIS_NOT_COUNTERSIGNED); every later entry is fully co-signed and not attested."""
    if not entries:
        raise remote(ErrorCode.BAD_GENESIS, "empty log")
    keys = _keyset(operator_keys)
    prev = entries[0]
    verify_genesis(prev, keys)
    tip_complete = prev.complete
    for e in entries[1:]:
        sync = type(e.state.update.op) is ImportSync
        if not sync and not prev.complete:  # only an entry of the imported prefix may lack a signature
            raise remote(ErrorCode.GENESIS_NOT_COUNTERSIGNED, f"seq {prev.state.seq} before seq {e.state.seq}")
        verify_next(prev.state, e, keys)
        if sync:
            tip_complete = e.complete
        prev = e
    return VerifiedLog(entries[0].state.channel, prev.state, len(entries), tip_complete)


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


def attest_import(state: State, operator: Signer | bytes, *, prev: State | None = None) -> LogEntry:
    """The operator's migration key attests an entry of the imported prefix (no member signatures
    yet): an imported genesis (checked), or an `import_sync` state (checked against `prev` when given:
    it must be `apply_op(prev, state.update)`)."""
    op = state.update.op
    try:
        if isinstance(op, Import):
            check_genesis(state)
        elif not isinstance(op, ImportSync):
            raise LocalProtocolError(ErrorCode.BAD_GENESIS, "only import and import_sync states are attested")
        elif prev is not None and apply_op(prev, state.update) != state:
            raise LocalProtocolError(ErrorCode.STATE_MISMATCH, f"seq {state.seq}")
    except LocalProtocolError:
        raise
    except ProtocolError as e:  # re-raise as our caller's fault
        raise LocalProtocolError(e.code, e.detail) from e
    s = as_signer(operator)
    att = Attestation(s.public_key.hex(), s.sign(attestation_message(state)).hex())
    return LogEntry(state, None, None, att)


def attest_genesis(state: State, operator: Signer | bytes) -> LogEntry:
    """The operator's migration key attests an imported genesis (no member signatures yet)."""
    if not isinstance(state.update.op, Import):
        raise LocalProtocolError(ErrorCode.BAD_GENESIS, "only an imported genesis is attested")
    return attest_import(state, operator)


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
