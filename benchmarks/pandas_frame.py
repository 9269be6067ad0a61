"""The columnar engine on a pandas DataFrame: a generated CSV log read by pandas as an
analyst would (dates parsed, amounts float64 with NaN, codes as text), then evaluated.

    python benchmarks/pandas_frame.py benchmarks/data/1m.csv [--timing timing.json]

Prints the evaluation's seconds, events/s and CPU seconds (user + sys of the process, the
figure to compare on a shared machine; reading the CSV into pandas not counted);
`--timing` also writes them as JSON, for benchmarks/run.py.
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
    args = p.parse_args()
    frame = pd.read_csv(args.log, dtype=dict.fromkeys(TEXT, str),
                        parse_dates=["date", "reported_on"])  # fmt: skip
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    rulebook = compliance.load_rulebook()
    render(compliance.evaluate(frame, rulebook, engine="columnar"), rulebook, "json")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{len(frame):,} events in {seconds:.2f} s: {len(frame) / seconds:,.0f} events/s, "
          f"{cpu:.2f} CPU-s")  # fmt: skip
    if args.timing is not None:
        args.timing.write_text(json.dumps({"events": len(frame), "seconds": seconds}))


if __name__ == "__main__":
    main()
