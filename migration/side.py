"""The import's second process: the tables that nothing else waits for, then half of the
pending payments, of the history and of the bilateral states.

An import is bound by one core (Python's GIL); the machine has more. The second process starts
with the run, so that its start-up overlaps the members being imported. Once the members are in
(``SidePhases.members_in``), it imports the listings, contacts and invitation tree
(``SIDE_PHASES``: nothing else depends on them) while the first imports the trustlines; once those
are in (``SidePhases.start``), one share of the pending payments (by legacy id), of the history and
of the bilateral states (by trustline legacy id, odd or even), while the first process imports the
other share. A trustline's history and its bilateral state depend on
nothing of another trustline's, so each process goes from its history to its bilateral states
without waiting for the other; the first waits for the other's history only before it builds the
history's index (``SidePhases.wait_for_history``).

Only from a live database (a dump would be parsed once more by the second process), only on
PostgreSQL (one writer at a time on SQLite) and only outside a transaction (a dry run's or a
test's, which the second process could not see into); otherwise the same phases run here, all
shares at once. Crash, retry, duplicate delivery: each phase commits batch by batch and compares
before it writes (``mirror``), each share of the history has its own checkpoint, so a kill of
either process leaves whole batches and the next run (with a second process or not) completes
them; the second process is killed with the first (``PR_SET_PDEATHSIG``), so no import writes on
after the run that started it is gone and a new one holds the lock.
"""

from __future__ import annotations

import contextlib
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

# In the second process only, before its share of the history (with one process, at the end).
SIDE_PHASES = ("import_simple_tables",)
# Shared like the history (``share=``), in each process before its share of the history (with one
# process, all of it there).
SHARED_PHASES = ("import_pending_payments",)
_PR_SET_PDEATHSIG = 1


class SideImportFailed(Exception):
    """The second process failed; the message carries its error and traceback."""

    code = "SIDE_IMPORT_FAILED"


class SidePhases:
    """``with SidePhases(importer, shares=2) as side:`` starts the second process when it can; it
    runs ``SIDE_PHASES`` once told ``side.members_in()``, then once told ``side.start()`` share
    (1, 2) of ``SHARED_PHASES``, of the history and of the bilateral states. ``side.share`` is
    this process's: (0, 2), or None (all) when there is no second process.
    ``side.shared_phases()`` runs this process's share of ``SHARED_PHASES``;
    ``side.wait_for_history()`` returns once the other's share of the history is in. On leaving,
    everything is done (with one process, ``SIDE_PHASES`` run then) and the tallies are the
    importer's."""

    def __init__(self, importer: Any, *, shares: int = 2) -> None:
        self.importer = importer
        self.shares = shares
        self.process: Any = None
        self.channel: Connection | None = None
        self.share: tuple[int, int] | None = None
        self._history_in = False

    @staticmethod
    def possible(source: LegacySource) -> bool:
        return (
            isinstance(source, MySQLSource)
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
            and sys.platform == "linux"
        )

    def __enter__(self) -> SidePhases:
        if self.shares != 2 or not self.possible(self.importer.source):
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
        self.share = (0, self.shares)
        return self

    def members_in(self) -> None:
        """The members are in: the second process may import ``SIDE_PHASES``."""
        if self.channel is not None:
            self.channel.send(("members", None))

    def start(self) -> None:
        """The trustlines are in too, and the history's index decided: the second process may
        import its shares."""
        if self.channel is not None:
            self.channel.send(("start", (1, self.shares)))

    def shared_phases(self) -> None:
        """This process's share of ``SHARED_PHASES`` (all of them when it is alone)."""
        for phase in SHARED_PHASES:
            getattr(self.importer, phase)(share=self.share)

    def wait_for_history(self) -> None:
        """Return once the second process has imported its share of the history."""
        if self.channel is None or self._history_in:
            return
        outcome = self._receive()
        if outcome[0] != "history":
            raise SideImportFailed(outcome[1])
        self._history_in = True

    def _receive(self) -> tuple[str, Any]:
        assert self.channel is not None
        try:
            outcome: tuple[str, Any] = self.channel.recv()
        except (EOFError, BrokenPipeError):
            self.process.join()
            outcome = ("error", f"the second import process ended with code {self.process.exitcode}")
        return outcome

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
        with contextlib.suppress(BrokenPipeError):  # it ended: its last message says why
            self.channel.send(("done", None))
        outcome = self._receive()
        self.process.join()
        if outcome[0] != "ok":
            raise SideImportFailed(outcome[1])
        for table, tally in outcome[1].items():
            if table in self.importer.tallies:
                self.importer.tallies[table].add(tally)
            else:
                self.importer.tallies[table] = tally


def side_main(url: str, database: str, parent: int, channel: Connection) -> None:
    """The second process: once told "members", import ``SIDE_PHASES``; once told "start" with its
    share, import its share of ``SHARED_PHASES``, of the history (then say "history") and of the
    bilateral states; when told "done", send back ("ok", tallies), or ("error", text) as soon as
    something fails."""
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
            message = channel.recv()
            if message[0] == "members":
                importer.member_ids = set(m.Member.objects.values_list("legacy_id", flat=True))
                for phase in SIDE_PHASES:
                    getattr(importer, phase)()
                message = channel.recv()
            if message[0] == "start":
                share = message[1]
                for phase in SHARED_PHASES:
                    getattr(importer, phase)(share=share)
                importer.import_history(share=share)
                channel.send(("history", None))
                importer.import_relationships(share=share)
                message = channel.recv()
        from django.db import connections

        connections.close_all()
        sys.stderr.flush()
        channel.send(("ok", importer.tallies))
    except BaseException as e:  # reported to the first process, which raises it
        channel.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        raise SystemExit(1) from None
    finally:
        channel.close()
    # Everything is committed, the connections closed and the output flushed: the first process
    # waits for this one to end, and tearing down an interpreter that held the history's batches
    # took a second of it.
    os._exit(0)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the import that started it dies (kill -9 included)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
