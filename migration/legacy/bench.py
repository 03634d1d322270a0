"""Measure the reading side: rows/s of a table from a dump, from a live MariaDB, and of the history rebuild.

    python -m migration.legacy.bench snapshot.sql [mysql://root@127.0.0.1:3306/db] [--table trustline_transactions]

Prints one line per measurement. Reads every readable column of the table (the worst case).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from migration.legacy.history import HISTORY_COLUMNS, reconstruct_all
from migration.legacy.source import DumpSource, LegacySource, MySQLSource


def timed(label: str, fn: Callable[[], int]) -> float:
    start = time.perf_counter()
    n = fn()
    seconds = time.perf_counter() - start
    rate = n / seconds if seconds else float("inf")
    print(f"{label:<48} {n:>10} rows {seconds:8.2f} s {rate:12,.0f} rows/s")
    return seconds


def read_all(source: LegacySource, table: str, columns: list[str]) -> int:
    return sum(1 for _ in source.tuples(table, columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump")
    parser.add_argument("url", nargs="?")
    parser.add_argument("--table", default="trustline_transactions")
    args = parser.parse_args()
    dump = DumpSource(args.dump)
    timed("dump: first pass (catalog of every table)", lambda: len(dump.tables()))
    columns = dump.readable_columns(args.table)
    timed(f"dump: {args.table}, all {len(columns)} columns", lambda: read_all(dump, args.table, columns))
    timed(f"dump: {args.table}, history columns", lambda: read_all(dump, args.table, list(HISTORY_COLUMNS)))
    if args.table == "trustline_transactions":
        rows = list(dump.rows(args.table, HISTORY_COLUMNS))
        timed("history: reconstruct every trustline", lambda: sum(len(h.rows) for h in reconstruct_all(rows).values()))
    if args.url:
        with MySQLSource(args.url) as live:
            timed(f"mysql: {args.table}, all {len(columns)} columns", lambda: read_all(live, args.table, columns))
            timed(f"mysql: {args.table}, history columns", lambda: read_all(live, args.table, list(HISTORY_COLUMNS)))


if __name__ == "__main__":
    main()
