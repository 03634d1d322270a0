"""``manage.py verify_anchor proof.json``: check a proof's Merkle path, then its anchor.

For the ``local`` backend: the entry it names exists in this database's log, holds the root,
its hash is the hash of its fields, and the chain from the first entry up to it links. For
``radix`` (docs/spec/anchoring.md §6.2): fetch the committed transaction with its raw payload from a
Gateway (``--gateway URL``; by default the configured one when it serves the anchor's network, else
the public Gateway of that network), decode it, recompute its intent hash, check its notary's
signature and that its message holds the root; nothing of this service is asked. Exit status 0 when
valid, 1 when not (the reason's code on stderr), 2 when the file cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from anchoring.merkle import AnchorError, ProofError, verify_local_anchor, verify_proof
from anchoring.models import LocalLogEntry
from anchoring.radix import NETWORKS, PUBLIC_GATEWAYS, AnchorCheckError, check_anchor_fields, verify_radix_anchor
from foaf.bilateral.errors import ProtocolError
from foaf.bilateral.jcs import parse


def check_local_anchor(anchor: dict[str, Any], root: str) -> int:
    """The seq of the local log entry that holds `root`, as `anchor` names it; AnchorError if not."""
    seq = anchor.get("entry")
    upto = seq if type(seq) is int and seq >= 0 else -1
    entries = list(
        LocalLogEntry.objects.filter(seq__lte=upto)
        .order_by("seq")
        .values_list("seq", "root", "prev_hash", "entry_hash")
    )
    return verify_local_anchor(anchor, root, entries)


class Command(BaseCommand):
    help = "Verify an anchoring inclusion proof: its Merkle path, and that its root is anchored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("proof", type=Path, help="the proof JSON (docs/spec/anchoring.md §4)")
        parser.add_argument("--gateway", help="the Babylon Gateway to ask about a radix anchor (base URL)")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the Gateway")

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
            except AnchorError as e:
                self._refuse(e.code, e.message)
            where = f"local log entry {seq}"
        elif backend == "radix":
            try:
                network_id, _ = check_anchor_fields(anchor)
                gateway = options["gateway"] or gateway_for(network_id)
                if not gateway:
                    self._refuse("anchor_no_gateway", f"no Gateway known for network {network_id}: use --gateway")
                tx = verify_radix_anchor(anchor, verified.root, gateway_url=gateway, timeout=options["timeout"])
            except AnchorCheckError as e:
                self._refuse(e.code, e.message)
            where = f"radix transaction {tx.intent_hash} (network {tx.network_id}, via {gateway})"
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


def gateway_for(network_id: int) -> str | None:
    """The configured Gateway if it serves `network_id`, else that network's public one."""
    if network_id == NETWORKS[settings.ANCHOR_RADIX_NETWORK]:
        return str(settings.ANCHOR_RADIX_GATEWAY_URL)
    return PUBLIC_GATEWAYS.get(network_id)
