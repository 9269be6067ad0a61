"""Throughput of the live path: `Monitor.feed`, validation included, over a whole feed.

    python benchmarks/generate.py --events 1000000 --seed 1 --out benchmarks/data/1m.csv
    python benchmarks/monitor.py benchmarks/data/1m.csv --events 1000000 --rolling 30

Rows are read into memory first so the figure is the monitor's, not the CSV reader's.
`--rolling N` adds to the bundled rulebook a rolling N-day cap on refined products to the
DPRK (the same match as the yearly cap), so the figure includes a rolling window. The
first and second halves of the feed are timed apart: the second must not be slower, as
the cost of a feed must not grow with the history.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import resource
import shutil
import tempfile
import time
from pathlib import Path

import compliance

ROLLING = """\
document: {{symbol: benchmark}}
rules:
  - id: benchmark-rolling-refined
    title: Refined petroleum to the DPRK in any {days} days (benchmark only)
    kind: cap
    citation: benchmark
    verified: false
    match: {{hs_code: {{prefix: ["2710"]}}, destination: KP}}
    limit: [{{amount: 60000, unit: bbl}}]
    period: {{days: {days}}}
    thresholds: [0.9]
"""


def _rulebook(rolling: int | None, tmp: Path) -> compliance.Rulebook:
    if not rolling:
        return compliance.load_rulebook()
    rules = tmp / "rules"
    shutil.copytree(compliance.bundled_rulebook_path(), rules)
    (rules / "zz-benchmark-rolling.yaml").write_text(ROLLING.format(days=rolling))
    return compliance.load_rulebook(rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="a CSV log from benchmarks/generate.py")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rolling", type=int, default=None, metavar="DAYS")
    args = parser.parse_args()
    with args.log.open(newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), args.events))
    with tempfile.TemporaryDirectory() as tmp:
        rulebook = _rulebook(args.rolling, Path(tmp))
    half = len(rows) // 2
    changes = 0
    times = []
    cpu = time.process_time()
    with compliance.Monitor(rulebook) as monitor:
        for part in (rows[:half], rows[half:]):
            started = time.perf_counter()
            for row in part:
                fed = monitor.feed(row)
                changes += len(fed) + len(fed.withdrawn)
            times.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu
        standing = len(monitor.findings())
    elapsed = sum(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Monitor.feed: {len(rows):,} events in {elapsed:.2f} s = "
        f"{len(rows) / elapsed:,.0f} events/s ({len(rows) / cpu:,.0f} per CPU-second; "
        f"first half {times[0]:.2f} s, second half {times[1]:.2f} s: "
        f"{times[1] / times[0]:.2f}×); {changes:,} announcements and "
        f"withdrawals, {standing:,} findings standing; peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
