"""Throughput of the live path: `Monitor.feed`, validation included, over a whole feed.

    python benchmarks/generate.py --events 1000000 --seed 1 --out benchmarks/data/1m.csv
    python benchmarks/monitor.py benchmarks/data/1m.csv --events 1000000 --rolling 30

Rows are read a block at a time (10,000) outside the clock, so the figures are the
monitor's, not the CSV reader's, and so is the memory: the peak RSS is printed at every
quarter of the feed, to show whether it keeps growing. `--rolling N` adds to the bundled
rulebook a rolling N-day cap on refined products to the DPRK (the same match as the
yearly cap), so the figure includes a rolling window. The first and second halves of the
feed are timed apart: the second must not be slower, as the cost of a feed must not grow
with the history.

`--ordered` feeds the log's rows in date order (the generator's dates are random over six
years: nearly every row is late for some window otherwise), `--jitter N` with it delays
each row by a seeded random 0..N days (it is fed among the rows dated that much later, so
it arrives up to N days late), and `--lateness DAYS` gives the monitor an allowed
lateness (docs/monitoring.md): what is held then should stop growing but for the per-id
entries. The rows are sorted in a child process into a temporary file, outside the
clock and the peak memory measured.

    python benchmarks/monitor.py benchmarks/data/1m.csv --events 1000000 --rolling 30 \
        --ordered --lateness 30
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
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


BLOCK = 10_000
_HORIZON = "behind the monitor's horizon"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sort_into(log: Path, out: Path, events: int, jitter: int, seed: int) -> None:
    """Write the first `events` rows of the log to `out` by date (each delayed by a
    seeded 0..jitter days), the header first (run in a child process: its memory is not
    the monitor's)."""
    rnd = random.Random(seed)
    with log.open(encoding="utf-8", newline="") as handle:
        header = handle.readline()
        rows = list(itertools.islice(handle, events))
    keys = []
    for n, line in enumerate(rows):
        # The generator's ids hold no comma: the date is the second field.
        day = date.fromisoformat(line.split(",", 2)[1]).toordinal()
        keys.append((day + (rnd.randint(0, jitter) if jitter else 0), n))
    keys.sort()
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header)
        handle.writelines(rows[n] for _, n in keys)


def main() -> None:
    if sys.argv[1:2] == ["--sort-into"]:
        _, _, source, out, events, jitter, seed = sys.argv
        _sort_into(Path(source), Path(out), int(events), int(jitter), int(seed))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="a CSV log from benchmarks/generate.py")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rolling", type=int, default=None, metavar="DAYS")
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="leave the garbage collector as Python sets it (compliance watch freezes the "
        "objects made before the feed, gc.freeze, and collects every 100,000 allocations)",
    )
    parser.add_argument("--ordered", action="store_true", help="feed the rows in date order")
    parser.add_argument(
        "--jitter", type=int, default=0, metavar="N",
        help="with --ordered: delay each row by a seeded random 0..N days",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="of --jitter (default 1)")
    parser.add_argument(
        "--every", type=int, default=0, metavar="N",
        help="also print, per N events, the CPU seconds, the changes announced and the "
        "event ids the findings of those changes list",
    )  # fmt: skip
    parser.add_argument(
        "--lateness", type=int, default=None, metavar="DAYS",
        help="the monitor's allowed lateness (default: none, everything kept)",
    )  # fmt: skip
    parser.add_argument(
        "--runs", type=int, default=1, metavar="N",
        help="feed N times in a row, each in a fresh process, and print the middle of the "
        "second half / first half ratios (the figure issue 12 asks for: N = 3)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.jitter and not args.ordered:
        parser.error("--jitter goes with --ordered")
    if args.runs > 1:
        _runs(args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        rulebook = _rulebook(args.rolling, Path(tmp))
        if args.ordered:
            ordered = Path(tmp) / "ordered.csv"
            subprocess.run(
                [sys.executable, __file__, "--sort-into", str(args.log), str(ordered),
                 str(args.events), str(args.jitter), str(args.seed)],
                check=True,
            )  # fmt: skip
            _feed(args, rulebook, ordered)
        else:
            _feed(args, rulebook, args.log)


def _runs(runs: int) -> None:
    """The same command `runs` times, one process each; then each run's halves (wall)
    and their middle."""
    command = [sys.executable, __file__, *_without_runs(sys.argv[1:])]
    ratios = []
    for run in range(1, runs + 1):
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(f"run {run}: {out.strip()}", flush=True)
        found = re.search(r"([0-9.]+)× wall", out)
        assert found is not None, out
        ratios.append(float(found.group(1)))
    middle = sorted(ratios)[(len(ratios) - 1) // 2]
    print(f"second half / first half (wall): {', '.join(f'{r:.2f}×' for r in ratios)}; "
          f"middle {middle:.2f}×")  # fmt: skip


def _without_runs(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--runs":
            skip = True
        elif not arg.startswith("--runs="):
            out.append(arg)
    return out


def _feed(args: argparse.Namespace, rulebook: compliance.Rulebook, log: Path) -> None:
    half = args.events // 2
    quarters = {args.events * k // 4 for k in (1, 2, 3)}
    fed = refused = 0
    # Per --every events: CPU-s, changes, event ids the changed findings list.
    stretch = [0.0, 0, 0]
    wall = [0.0, 0.0]
    cpu = [0.0, 0.0]
    # Per half: announcements and withdrawals, and the event ids their findings list (a
    # finding lists every member of its period: what a change must at least build).
    half_changes = [0, 0]
    half_ids = [0, 0]
    peaks: list[str] = []
    holdings: list[str] = []
    monitor = compliance.Monitor(rulebook, lateness=args.lateness)
    with log.open(newline="") as handle, monitor:
        rows = csv.DictReader(handle)
        if args.freeze:
            # What `compliance watch` does once its monitor is made: the objects of the
            # imports and the rulebook are never garbage, so the collector need not walk
            # them at every full collection; and it runs the collector every 100,000
            # allocations, not 700 (compliance._collector.rare).
            gc.freeze()
            gc.set_threshold(100_000, *gc.get_threshold()[1:])
        while fed < args.events:
            # A block never straddles the middle, so each half is timed on its own.
            size = min(BLOCK, args.events - fed, half - fed if fed < half else BLOCK)
            block = list(itertools.islice(rows, size))
            if not block:
                break
            part = 0 if fed < half else 1
            started, used = time.perf_counter(), time.process_time()
            for row in block:
                got = monitor.feed(row)
                if got or got.withdrawn:
                    changed = len(got) + len(got.withdrawn)
                    ids = sum(len(f.events) for f in [*got, *got.withdrawn])
                    half_changes[part] += changed
                    half_ids[part] += ids
                    stretch[1] += changed
                    stretch[2] += ids
                if got.rejected:
                    refused += sum(_HORIZON in r.reasons[0] for r in got.rejected)
            wall[part] += time.perf_counter() - started
            cpu[part] += time.process_time() - used
            fed += len(block)
            stretch[0] += time.process_time() - used
            if args.every and fed % args.every == 0:
                cpu_s, block_changes, block_ids = stretch
                print(f"to {fed:,}: {cpu_s:.2f} CPU-s, {block_changes:,} changes listing "
                      f"{block_ids:,} event ids")  # fmt: skip
                stretch[:] = [0.0, 0, 0]
            if any(fed - len(block) < q <= fed for q in quarters):
                peaks.append(f"{_rss_mib():,.0f} MiB at {fed:,}")
                holdings.append(_holding(fed, monitor.holding()))
        standing = len(monitor.findings())
        holdings.append(_holding(fed, monitor.holding()))
    peaks.append(f"{_rss_mib():,.0f} MiB at {fed:,}")
    elapsed = sum(wall)
    print(
        f"Monitor.feed: {fed:,} events in {elapsed:.2f} s = {fed / elapsed:,.0f} events/s "
        f"({fed / sum(cpu):,.0f} per CPU-second; first half {wall[0]:.2f} s, {cpu[0]:.2f} "
        f"CPU-s, second half {wall[1]:.2f} s, {cpu[1]:.2f} CPU-s: {wall[1] / wall[0]:.2f}× "
        f"wall, {cpu[1] / cpu[0]:.2f}× CPU); {sum(half_changes):,} announcements and "
        f"withdrawals (first half {half_changes[0]:,} listing {half_ids[0]:,} event ids, second "
        f"half {half_changes[1]:,} listing {half_ids[1]:,}), "
        f"{standing:,} findings standing; {refused:,} records refused as behind the "
        f"horizon; peak RSS {', '.join(peaks)}"
    )
    print("held:", "; ".join(holdings))


def _holding(fed: int, held: dict[str, int]) -> str:
    return f"at {fed:,}: " + ", ".join(f"{v:,} {k}" for k, v in held.items())


if __name__ == "__main__":
    main()
