"""``manage.py anchor_radix_key``: the radix backend's key, as the operator needs to see it.

Without arguments: the configured key's network, public key and account address (the account to
fund with XRD: it pays every anchoring transaction's fee). ``--generate PATH``: a new Ed25519 seed,
sealed under the key-encryption key (FOAF_KEY_ENCRYPTION_KEY) into PATH (mode 0600, never
overwritten), for FOAF_ANCHOR_RADIX_SEALED_KEY_FILE. The seed itself is never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from anchoring.radix import NETWORKS, RadixKey
from anchoring.radix_backend import load_key


class Command(BaseCommand):
    help = "Show the radix anchoring key's account (to fund it), or generate a sealed key file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generate", type=Path, metavar="PATH", help="write a new sealed key to PATH")

    def handle(self, *args: Any, **options: Any) -> None:
        network_id = NETWORKS[settings.ANCHOR_RADIX_NETWORK]
        path: Path | None = options["generate"]
        if path is not None:
            from foaf.ledger.keys import kek_id, new_seed, seal

            seed = new_seed()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as e:
                raise CommandError(f"cannot create {path}: {e.strerror}") from None
            with os.fdopen(fd, "w") as f:
                f.write(f"{kek_id()}:{seal(seed).hex()}\n")
            key = RadixKey(seed, network_id)
        else:
            key = load_key(network_id)
        self.stdout.write(
            json.dumps(
                {
                    "network": settings.ANCHOR_RADIX_NETWORK,
                    "network_id": network_id,
                    "public_key": key.public_key_hex,
                    "account": key.account,
                    **({"sealed_key_file": str(path)} if path is not None else {}),
                }
            )
        )
