"""The ledger on supersedes chains and cycles: `compliance evaluate` on both engines.

    python benchmarks/ledger.py                 # 20,000 rows each
    python benchmarks/ledger.py --rows 50000 --timeout 300

Three CSV logs of the same length: a correction chain (each record corrects the one
before), a cycle of corrections (every record rejected), and a normal log from
benchmarks/generate.py (seeded; needs `pip install '.[bench]'`). Each run is
`compliance evaluate LOG --engine E --format json` in its own subprocess, as in
benchmarks/run.py; a run past --timeout seconds is reported as such.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

from run import DATA, HERE, measure

ENGINES = ("stream", "columnar")


def corrections(path: Path, rows: int, *, cycle: bool) -> Path:
    """`rows` crude deliveries to the DPRK, each correcting the previous one (a chain
    ending in one accepted record), or the first correcting the last (a cycle)."""
    if not path.exists():
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["id", "date", "hs_code", "quantity", "unit", "destination",
                          "supersedes"])  # fmt: skip
            for i in range(rows):
                target = f"c{i - 1}" if i else (f"c{rows - 1}" if cycle else "")
                day = f"2019-{1 + i % 12:02d}-{1 + i % 28:02d}"
                out.writerow([f"c{i}", day, "2709", str(100 + i % 7), "bbl", "KP", target])
    return path


def normal(path: Path, rows: int) -> Path:
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--events", str(rows),
                        "--seed", "1", "--out", str(path)], check=True)  # fmt: skip
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    args = p.parse_args()
    DATA.mkdir(exist_ok=True)
    n = args.rows
    logs = {
        "correction chain": corrections(DATA / f"chain-{n}.csv", n, cycle=False),
        "correction cycle": corrections(DATA / f"cycle-{n}.csv", n, cycle=True),
        "normal log": normal(DATA / f"normal-{n}.csv", n),
    }
    print(f"{'log':18} {'engine':9} {'rows':>8} {'seconds':>9} {'peak MiB':>9}")
    for name, log in logs.items():
        for engine in ENGINES:
            out = DATA / "ledger-out.json"
            command = [sys.executable, "-m", "compliance", "evaluate", str(log),
                       "--engine", engine, "--format", "json", "--output", str(out)]  # fmt: skip
            try:
                wall, peak, _ = measure(command, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{name:18} {engine:9} {n:>8,} {'> ' + str(int(args.timeout)):>9}")
                continue
            print(f"{name:18} {engine:9} {n:>8,} {wall:>9.2f} {peak:>9.0f}")


if __name__ == "__main__":
    main()
