"""``manage.py relay_federate``: pull public events from peer relays, for operators.

Beat runs the same pull every ``FOAF_RELAY_FEDERATION_INTERVAL_SECONDS`` (``relay.tasks.federate``);
this command runs it by hand (``--once``) or in the foreground without Celery. docs/relay.md §12.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from relay.federation import PullResult, normalize_peer, peer_rewind, peers_pull


class Command(BaseCommand):
    help = "Pull public events from peer relays (FOAF_RELAY_PEERS, or --peer) since the last cursor of each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--peer",
            action="append",
            metavar="URL",
            help="a peer's base URL, e.g. https://relay.example (repeatable; default: FOAF_RELAY_PEERS)",
        )
        parser.add_argument(
            "--once", action="store_true", help="one pass over the peers, then exit (status 1 if a peer failed)"
        )
        parser.add_argument(
            "--from-start",
            action="store_true",
            help="pull these peers' logs again from the beginning (for a peer whose log was replaced; "
            "what is held already comes back as duplicates)",
        )

    def handle(self, *args: Any, peer: list[str] | None, once: bool, from_start: bool, **options: Any) -> None:
        named = peer or settings.RELAY_PEERS
        if not named:
            raise CommandError("no peers: set FOAF_RELAY_PEERS or pass --peer URL")
        try:
            peers = [normalize_peer(url) for url in named]
        except ValueError as e:
            raise CommandError(str(e)) from None
        if from_start:
            for url in peers:
                peer_rewind(url)
        if once:
            failed = [result for result in self._pass(peers) if not result.ok]
            if failed:
                raise CommandError(f"{len(failed)} of {len(peers)} peer(s) failed")
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:  # finish the pass under way, then exit
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            self._pass(peers)
            deadline = time.monotonic() + settings.RELAY_FEDERATION_INTERVAL_SECONDS
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.2)

    def _pass(self, peers: list[str]) -> list[PullResult]:
        results = peers_pull(peers)
        for result in results:
            (self.stdout if result.ok else self.stderr).write(result.summary())
        return results
