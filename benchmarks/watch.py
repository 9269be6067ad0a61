"""Throughput of `compliance watch` end to end: the feed read, every record fed to the
monitor, stored in the SQLite state and committed per batch, the announcements written.

    python benchmarks/generate.py --events 1000000 --seed 1 --out benchmarks/data/1m.csv
    python benchmarks/watch.py benchmarks/data/1m.csv --events 200000

The first `--events` rows of the log (a CSV written to a temporary directory, outside the
clock) are watched twice, each run in its own process with the bundled rulebook: into a
new state (every record new), then again with the same state, as after a restart whose
producer re-sends the file from its start (the state replayed into a fresh monitor, every
record read again and found already stored, nothing announced twice). Prints each run's
seconds, records/s and peak RSS, the announcements written and the state file's size.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from run import measure


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path, help="a CSV log from benchmarks/generate.py")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--as-of", default="2026-12-01", help="the watch's evaluation date")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        feed, state, out = Path(tmp) / "feed.csv", Path(tmp) / "state.db", Path(tmp) / "out.jsonl"
        with args.log.open() as src, feed.open("w") as dst:
            dst.writelines(itertools.islice(src, args.events + 1))  # the header too
        command = [sys.executable, "-m", "compliance", "watch", str(feed), "--state", str(state),
                   "--output", str(out), "--as-of", args.as_of]  # fmt: skip
        for label in ("new state", "restarted, the feed re-sent from its start"):
            wall, peak, _ = measure(command)
            written = sum(1 for _ in out.open())
            print(f"{label}: {args.events:,} records in {wall:.2f} s = {args.events / wall:,.0f} "
                  f"records/s, peak {peak:,.0f} MiB; {written:,} announcements written, state "
                  f"{state.stat().st_size / 2**20:,.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
