"""The columnar engine on a pandas DataFrame: a generated CSV log read by pandas as an
analyst would (dates parsed, amounts float64 with NaN, codes as text), then evaluated.

    python benchmarks/pandas_frame.py benchmarks/data/1m.csv [--timing timing.json] [--repeat N]

Prints the evaluation's seconds, events/s and CPU seconds (user + sys of the process, the
figure to compare on a shared machine; reading the CSV into pandas not counted);
`--timing` also writes them as JSON, for benchmarks/run.py. The first evaluation in a
process pays for importing Polars and pyarrow, first calls and fresh memory; `--repeat N`
evaluates the same frame N times and prints each, the figures of a notebook that
evaluates again (`--timing` keeps the first).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import pandas as pd

import compliance
from compliance.io.writers import render

TEXT = ("hs_code", "vessel_imo", "counterparty_imo", "supersedes", "id")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path)
    p.add_argument("--timing", type=Path, default=None)
    p.add_argument("--repeat", type=int, default=1, metavar="N")
    args = p.parse_args()
    frame = pd.read_csv(args.log, dtype=dict.fromkeys(TEXT, str),
                        parse_dates=["date", "reported_on"])  # fmt: skip
    first = None
    for run in range(1, args.repeat + 1):
        seconds = _evaluation(frame, f" (run {run})" if args.repeat > 1 else "")
        first = seconds if first is None else first
    if args.timing is not None:
        args.timing.write_text(json.dumps({"events": len(frame), "seconds": first}))


def _evaluation(frame: pd.DataFrame, label: str) -> float:
    """Evaluate the frame with the bundled rulebook and write the JSON report; print and
    return the wall seconds."""
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    rulebook = compliance.load_rulebook()
    render(compliance.evaluate(frame, rulebook, engine="columnar"), rulebook, "json")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{len(frame):,} events in {seconds:.2f} s{label}: {len(frame) / seconds:,.0f} "
          f"events/s, {cpu:.2f} CPU-s")  # fmt: skip
    return seconds


if __name__ == "__main__":
    main()
