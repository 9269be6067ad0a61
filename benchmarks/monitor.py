"""Throughput of the stream engine's live path: `Monitor.feed`, validation included.

    python benchmarks/generate.py --events 1000000 --seed 1 --out benchmarks/data/1m.csv
    python benchmarks/monitor.py benchmarks/data/1m.csv --events 100000

Rows are read into memory first so the figure is the engine's, not the CSV reader's.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import resource
import time
from pathlib import Path

import compliance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="a CSV log from benchmarks/generate.py")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with args.log.open(newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), args.events))
    monitor = compliance.Monitor(compliance.load_rulebook())
    started = time.perf_counter()
    findings = sum(len(monitor.feed(row)) for row in rows)
    elapsed = time.perf_counter() - started
    report = monitor.report()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Monitor.feed: {len(rows):,} events in {elapsed:.2f} s = "
        f"{len(rows) / elapsed:,.0f} events/s; {findings} findings while feeding, "
        f"{len(report.findings)} in the final report; peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
