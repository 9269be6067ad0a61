"""The columnar engine's scan of a CSV log alone: everything up to the `Scan` being
returned (chunked read, short-row check, screen), with the bundled DPRK rulebook.

    python benchmarks/scan.py benchmarks/data/events-10000000-seed1.csv [--select]

Prints wall and CPU seconds (user + sys of this process, so the prefetch thread and
Polars' pool count), rows read, keys and rows kept, and peak RSS. CPU time is the figure
to compare on a shared machine. With --select, then times `select_rows` on the scan, and
the second pass alone (`screen.fetch` of the rows the selection asked for, again, three
times: the least CPU time is printed).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="a CSV log")
    parser.add_argument("--rules", action="append", help="rulebook (default: bundled DPRK)")
    parser.add_argument("--select", action="store_true", help="time the selection, the fetch")
    args = parser.parse_args(argv)

    from compliance.engine._progress import Progress
    from compliance.engine.columnar.plan import Fallback, Plan
    from compliance.engine.columnar.screen import scan_csv
    from compliance.rulebook.load import load_rulebook

    plan = Plan(load_rulebook(*(args.rules or ())))
    progress = Progress()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    try:
        scan = scan_csv(args.log, plan, progress)
    except Fallback:
        print("fallback: the log takes the Python path", file=sys.stderr)
        return 1
    finally:
        progress.close()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = after.ru_maxrss / 1024
    print(f"scan: {wall:.2f} s wall, {cpu:.2f} CPU-s, {scan.records:,} records, "
          f"{scan.keys.height:,} keys, {scan.relevant.height:,} kept, "
          f"{scan.records / wall:,.0f} rows/s, peak {peak:,.0f} MiB")  # fmt: skip
    if args.select:
        _select(scan)
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _select(scan: Any) -> None:
    """`select_rows` of the scan, and its second pass alone, timed."""
    from compliance.engine.columnar import selection
    from compliance.engine.columnar.screen import fetch

    asked: list[Any] = []

    def recorded(scan: Any, rows: Any) -> Any:
        asked.append(rows)
        return fetch(scan, rows)

    vars(selection)["fetch"] = recorded  # the rows select_rows fetches, recorded
    start, wall = _cpu(), time.perf_counter()
    chosen = selection.select_rows([scan], [])
    cpu, wall = _cpu() - start, time.perf_counter() - wall
    print(f"select_rows: {wall:.2f} s wall, {cpu:.2f} CPU-s, "
          f"{chosen.ledger.accounting.read:,} records read")  # fmt: skip
    rounds = []
    for _ in range(3):
        start = _cpu()
        fetched = sum(fetch(scan, rows).height for rows in asked)
        rounds.append(_cpu() - start)
    shown = ", ".join(f"{r:.2f}" for r in rounds)
    print(f"fetch: {min(rounds):.2f} CPU-s at least ({shown}), {fetched:,} rows")


if __name__ == "__main__":
    raise SystemExit(main())
