"""`--format html` against `--format json` on one log: time and peak memory of each.

    python benchmarks/report_formats.py --events 500000     # generates the log if missing
    python benchmarks/report_formats.py --one-cap 100000    # one finding of 100,000 events

Each format runs `compliance evaluate LOG --format F --output FILE` in a fresh process
(start-up counts; peak memory is that process's maximum RSS, from resource.getrusage of
its children), three times; the middle time and the highest peak are reported. The
target (issue 10): html within 2× the time and the memory of json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import DATA, ensure_log, measure  # the script beside this one


def one_cap(events: int) -> Path:
    path = DATA / f"one-cap-{events}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        start = date(2019, 1, 1)
        with path.open("w", encoding="utf-8") as out:
            out.write("id,date,hs_code,destination,quantity,unit\n")
            for i in range(events):
                day = start + timedelta(days=i * 365 // events)
                out.write(f"e{i:07d},{day},2710,KP,6.123,bbl\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log", type=Path, help="a log to use instead of a generated one")
    p.add_argument(
        "--one-cap",
        type=int,
        metavar="N",
        help="instead: a log of N refined-oil deliveries to the DPRK in 2019, so one cap "
        "period's findings each carry an N-event series",
    )
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    log = args.log or (
        one_cap(args.one_cap) if args.one_cap else ensure_log(args.events, args.seed)
    )
    results: dict[str, tuple[float, float]] = {}
    for fmt in ("json", "html"):
        out = DATA / f"report.{fmt}"
        command = [sys.executable, "-m", "compliance", "evaluate", str(log), "--format", fmt]
        runs = [measure([*command, "--output", str(out)]) for _ in range(args.runs)]
        wall = statistics.median(w for w, _, _ in runs)
        peak = max(m for _, m, _ in runs)
        results[fmt] = (wall, peak)
        size = out.stat().st_size / 2**20
        print(f"{fmt:5} {wall:7.2f} s {peak:7.0f} MiB peak  ({size:,.1f} MiB written)")
    (jw, jm), (hw, hm) = results["json"], results["html"]
    print(f"html / json: {hw / jw:.2f}× the time, {hm / jm:.2f}× the memory (target ≤ 2×)")


if __name__ == "__main__":
    main()
