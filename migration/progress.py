"""Progress of a long import on a terminal: a bar per phase with rows per second and ETA.

On a terminal the bar redraws in place; elsewhere (logs, CI) it writes a plain line every few
seconds, so a supervisor sees it move without a flood of output.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self, stream: TextIO | None = None, *, interval_s: float | None = None, tty: bool | None = None
    ) -> None:
        """``tty=False`` writes plain lines even to a terminal (a second process sharing it)."""
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s if interval_s is not None else (0.2 if self.tty else 5.0)
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self.started = self.last_draw = time.monotonic()

    def start(self, phase: str, total: int | None) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.started = self.last_draw = time.monotonic()
        self._draw()

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self.last_draw >= self.interval_s:
            self.last_draw = now
            self._draw()

    def finish(self) -> None:
        self._draw(final=True)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * 24)
            eta = (self.total - self.done) / rate if rate > 0 and self.done < self.total else 0.0
            return (
                f"{self.phase:<18} [{'#' * filled}{'.' * (24 - filled)}] {self.done:>10,}/{self.total:,} "
                f"{rate:>9,.0f} rows/s  ETA {eta:>5.0f}s"
            )
        return f"{self.phase:<18} {self.done:>10,} rows {rate:>9,.0f} rows/s  {elapsed:>5.0f}s"

    def _draw(self, *, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
