"""The import's second process: the tables that nothing else waits for, imported beside the
history, then half of the bilateral states.

An import is bound by one core (Python's GIL); the machine has more. Once members and trustlines
are in, the listings, contacts, invitation tree and open pending payments (``SIDE_PHASES``) depend
on nothing the history or the bilateral states write, so a second process imports them while this
one chains the history. Once the history is in, each process builds and signs the bilateral
states of half the trustlines (odd and even legacy ids: ``SidePhases.relationships``).

Only from a live database (a dump would be parsed once more by the second process), only on
PostgreSQL (one writer at a time on SQLite) and only outside a transaction (a dry run's or a
test's, which the second process could not see into); otherwise the same phases run here, after
the others. Crash, retry, duplicate delivery: each phase commits batch by batch and compares
before it writes (``mirror``), so a kill of either process leaves whole batches and the next run
completes them; the second process is killed with the first (``PR_SET_PDEATHSIG``), so no import
writes on after the run that started it is gone and a new one holds the lock.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from django.db import connection

from migration.legacy.source import LegacySource, MySQLSource

SIDE_PHASES = ("import_simple_tables", "import_pending_payments")
_PR_SET_PDEATHSIG = 1


class SideImportFailed(Exception):
    """The second process failed; the message carries its error and traceback."""

    code = "SIDE_IMPORT_FAILED"


class SidePhases:
    """``with SidePhases(importer) as side:`` runs ``SIDE_PHASES`` beside the block when it can, or
    after it; ``side.relationships()`` shares the bilateral states between the two processes; on
    leaving, everything is done and the tallies are the importer's."""

    def __init__(self, importer: Any) -> None:
        self.importer = importer
        self.process: Any = None
        self.channel: Connection | None = None

    @staticmethod
    def possible(source: LegacySource) -> bool:
        return (
            isinstance(source, MySQLSource)
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
            and sys.platform == "linux"
        )

    def __enter__(self) -> SidePhases:
        if not self.possible(self.importer.source):
            return self
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connection
        self.channel, theirs = context.Pipe()
        database = connection.settings_dict["NAME"]  # the test database, when under test
        self.process = context.Process(
            target=side_main,
            args=(self.importer.source.url, database, os.getpid(), theirs),
            name="import-side",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        return self

    def relationships(self) -> None:
        """The bilateral states (after the history): half here and half in the second process
        when there is one, all here otherwise."""
        if self.channel is None:
            self.importer.import_relationships()
            return
        self.channel.send(("relationships", (1, 2)))
        self.importer.import_relationships(share=(0, 2))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            if exc is None:
                for phase in SIDE_PHASES:
                    getattr(self.importer, phase)()
            return
        assert self.channel is not None
        if exc is not None:  # the import failed here: stop the other process too
            self.process.kill()
            self.process.join()
            return
        try:
            self.channel.send(("done", None))
            outcome = self.channel.recv()
        except (EOFError, BrokenPipeError):
            outcome = ("error", f"the second import process ended with code {self.process.exitcode}")
        self.process.join()
        if outcome[0] == "error":
            raise SideImportFailed(outcome[1])
        for table, tally in outcome[1].items():
            if table in self.importer.tallies:
                self.importer.tallies[table].add(tally)
            else:
                self.importer.tallies[table] = tally


def side_main(url: str, database: str, parent: int, channel: Connection) -> None:
    """The second process: import ``SIDE_PHASES``, then the share of the bilateral states it is
    sent, and send back ("ok", tallies) or ("error", text) when told "done"."""
    _die_with_parent(parent)
    try:
        import django
        from django.conf import settings

        settings.DATABASES["default"]["NAME"] = database  # before any connection is made
        django.setup()

        from migration import models as m
        from migration.importer import LegacyImport
        from migration.progress import Progress

        with MySQLSource(url) as source:
            importer = LegacyImport(source, progress=Progress(sys.stderr, tty=False))
            importer.member_ids = set(m.Member.objects.values_list("legacy_id", flat=True))
            for phase in SIDE_PHASES:
                getattr(importer, phase)()
            while (message := channel.recv())[0] != "done":
                if message[0] == "relationships":
                    importer.import_relationships(share=message[1])
        channel.send(("ok", importer.tallies))
    except BaseException as e:  # reported to the first process, which raises it
        channel.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        raise SystemExit(1) from None
    finally:
        channel.close()


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the import that started it dies (kill -9 included)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
