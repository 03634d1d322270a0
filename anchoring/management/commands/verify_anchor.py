"""``manage.py verify_anchor proof.json``: check a proof's Merkle path, then its anchor.

For the ``local`` backend: the entry it names exists in this database's log, holds the root,
its hash is the hash of its fields, and the chain from the first entry up to it links. For
``radix`` (future, docs/spec/anchoring.md §6): fetch the committed transaction from a Gateway and
check that its message holds the root. Exit status 0 when valid, 1 when not (the reason's code on
stderr), 2 when the file cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anchoring.merkle import ZERO_HASH, ProofError, local_entry_hash, verify_proof
from anchoring.models import LocalLogEntry
from foaf.bilateral.errors import ProtocolError
from foaf.bilateral.jcs import parse


class AnchorNotFound(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_local_anchor(anchor: dict[str, Any], root: str) -> int:
    """Raise AnchorNotFound unless the local log holds `root` at the entry `anchor` names; its seq."""
    seq, entry_hash = anchor.get("entry"), anchor.get("entry_hash")
    if type(seq) is not int or not isinstance(entry_hash, str) or set(anchor) != {"backend", "entry", "entry_hash"}:
        raise AnchorNotFound("anchor_malformed", "a local anchor is {backend, entry, entry_hash}")
    entries = list(
        LocalLogEntry.objects.filter(seq__lte=seq).order_by("seq").values_list("seq", "root", "prev_hash", "entry_hash")
    )
    if not entries or entries[-1][0] != seq:
        raise AnchorNotFound("anchor_unknown_entry", f"the local log has no entry {seq}")
    prev = ZERO_HASH
    for i, (s, r, p, h) in enumerate(entries):
        if s != i or p != prev or local_entry_hash(seq=s, root=r, prev=p) != h:
            raise AnchorNotFound("anchor_broken_chain", f"the local log's chain breaks at entry {s}")
        prev = h
    _, stored_root, _, stored_hash = entries[-1]
    if stored_hash != entry_hash:
        raise AnchorNotFound("anchor_entry_hash_mismatch", f"entry {seq}'s hash is {stored_hash}, not {entry_hash}")
    if stored_root != root:
        raise AnchorNotFound("anchor_root_mismatch", f"entry {seq} holds another root")
    return seq


class Command(BaseCommand):
    help = "Verify an anchoring inclusion proof: its Merkle path, and that its root is anchored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("proof", type=Path, help="the proof JSON (docs/spec/anchoring.md §4)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            proof = parse(options["proof"].read_bytes())
        except OSError as e:
            raise CommandError(f"cannot read {options['proof']}: {e}", returncode=2) from None
        except ProtocolError as e:
            self._refuse("proof_malformed", f"not a JSON object inside the profile: {e}")
        try:
            verified = verify_proof(proof)
        except ProofError as e:
            self._refuse(e.code.value, e.message)
        anchor = proof.get("anchor")
        if anchor is None:
            self._refuse("anchor_missing", "the Merkle path is valid, but the proof says nowhere where the root is")
        backend = anchor.get("backend")
        if backend == "local":
            try:
                seq = check_local_anchor(anchor, verified.root)
            except AnchorNotFound as e:
                self._refuse(e.code, str(e))
            where = f"local log entry {seq}"
        elif backend == "radix":
            self._refuse(
                "anchor_backend_unsupported", "radix anchors are not verifiable yet (docs/spec/anchoring.md §6)"
            )
        else:
            self._refuse("anchor_backend_unsupported", f"unknown backend {backend!r}")
        leaf = verified.leaf
        self.stdout.write(
            json.dumps(
                {
                    "valid": True,
                    "channel": leaf.channel,
                    "seq": leaf.seq,
                    "state_hash": leaf.state_hash,
                    "root": verified.root,
                    "index": verified.index,
                    "leaf_count": verified.leaf_count,
                    "anchored": where,
                }
            )
        )

    def _refuse(self, code: str, message: str) -> NoReturn:
        self.stderr.write(json.dumps({"valid": False, "code": code, "message": message}))
        raise CommandError(f"{code}: {message}", returncode=1)
