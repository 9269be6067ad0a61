"""Benchmarks of DESIGN §8, in one run: columnar engine, stream engine, hand-written query.

    python benchmarks/run.py --events 10000000            # generates the log if missing
    python benchmarks/run.py --events 10000000 --stream-events 200000

Each measurement runs in its own subprocess (so start-up counts and peak memory is that
process's own maximum resident set size, from resource.getrusage):
* columnar: `compliance evaluate LOG --engine columnar --format json` (CSV in → JSON out);
* stream: the same command with `--engine stream` on the first --stream-events rows (the
  stream engine is far slower; events/s is compared per event);
* hand-written: benchmarks/handwritten.py, the two oil caps in plain Polars;
* JSON Lines: the columnar command on the log written as JSON Lines (benchmarks/jsonl.py);
* pandas: benchmarks/pandas_frame.py, the log read by pandas and evaluated as a DataFrame
  (its seconds are the evaluation's, reading the CSV into pandas not counted);
* DPRK share 5 %: the columnar command and the hand-written query on a log generated with
  `--dprk-share 0.05` (more findings, more candidates).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

_CHILD = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(wall, peak, done.returncode)
sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
"""


def measure(command: list[str], timeout: float | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of a command in a fresh process;
    subprocess.TimeoutExpired after `timeout` seconds."""
    out = subprocess.run([sys.executable, "-c", _CHILD, *command], capture_output=True,
                         text=True, check=True, timeout=timeout)  # fmt: skip
    wall, peak, code = out.stdout.split()
    if int(code) not in (0, 1, 2):  # 1 and 2 are findings and rejections, not failures
        raise SystemExit(f"{command[:4]} failed ({code}):\n{out.stderr}")
    return float(wall), int(peak) / 1024, int(code)


def ensure_log(events: int, seed: int, dprk_share: float | None = None) -> Path:
    share = [] if dprk_share is None else ["--dprk-share", str(dprk_share)]
    suffix = "" if dprk_share is None else f"-dprk{dprk_share}"
    path = DATA / f"events-{events}-seed{seed}{suffix}.csv"
    if not path.exists():
        print(f"generating {events:,} events → {path} …", flush=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--events", str(events),
                        "--seed", str(seed), "--out", str(path), *share], check=True)  # fmt: skip
    return path


def as_jsonl(path: Path) -> Path:
    """The CSV log written as JSON Lines beside it (once)."""
    out = path.with_suffix(".jsonl")
    if not out.exists():
        print(f"writing {out} …", flush=True)
        subprocess.run([sys.executable, str(HERE / "jsonl.py"), str(path), str(out)], check=True)
    return out


def head(path: Path, rows: int) -> Path:
    """The header and first `rows` rows of a CSV log (generated rows hold no newlines)."""
    out = path.with_name(f"{path.stem}-head{rows}.csv")
    if not out.exists():
        with path.open("rb") as src, out.open("wb") as dst:
            for _ in range(rows + 1):
                line = src.readline()
                if not line:
                    break
                dst.write(line)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--stream-events",
        type=int,
        default=100_000,
        help="rows given to the stream engine (default 100,000)",
    )
    p.add_argument("--rules", default=None, help="rulebook (default: bundled DPRK)")
    args = p.parse_args()

    log = ensure_log(args.events, args.seed)
    cli = [sys.executable, "-m", "compliance", "evaluate", "--format", "json"]
    if args.rules:
        cli += ["--rules", args.rules]
    results = {}
    wall, peak, _ = measure([*cli, "--engine", "columnar", "--output", str(DATA / "out.json"),
                             str(log)])  # fmt: skip
    results["columnar"] = (args.events, wall, peak)
    stream_rows = min(args.stream_events, args.events)
    small = head(log, stream_rows)
    wall, peak, _ = measure([*cli, "--engine", "stream", "--output",
                             str(DATA / "out-stream.json"), str(small)])  # fmt: skip
    results["stream"] = (stream_rows, wall, peak)
    wall, peak, _ = measure([sys.executable, str(HERE / "handwritten.py"), str(log)])
    results["hand-written Polars (two oil caps)"] = (args.events, wall, peak)
    tiny = head(log, 10)
    wall, peak, _ = measure([*cli, str(tiny)])
    results["10-row log, default engine"] = (10, wall, peak)
    wall, peak, _ = measure([*cli, "--engine", "columnar", "--output", str(DATA / "out.json"),
                             str(as_jsonl(log))])  # fmt: skip
    results["columnar, JSON Lines"] = (args.events, wall, peak)
    timing = DATA / "pandas-timing.json"
    _, peak, _ = measure([sys.executable, str(HERE / "pandas_frame.py"), str(log),
                          "--timing", str(timing)])  # fmt: skip
    results["columnar, pandas DataFrame"] = (args.events, json.loads(timing.read_text())["seconds"],
                                             peak)  # fmt: skip
    dprk = ensure_log(args.events, args.seed, dprk_share=0.05)
    wall, peak, _ = measure([*cli, "--engine", "columnar", "--output", str(DATA / "out.json"),
                             str(dprk)])  # fmt: skip
    results["columnar, DPRK share 5 %"] = (args.events, wall, peak)
    wall, peak, _ = measure([sys.executable, str(HERE / "handwritten.py"), str(dprk)])
    results["hand-written, DPRK share 5 %"] = (args.events, wall, peak)

    print(f"\n{'':38} {'events':>12} {'seconds':>9} {'events/s':>12} {'peak MiB':>9}")
    for name, (events, wall, peak) in results.items():
        print(f"{name:38} {events:>12,} {wall:>9.2f} {events / wall:>12,.0f} {peak:>9.0f}")
    col = results["columnar"][0] / results["columnar"][1]
    stream = results["stream"][0] / results["stream"][1]
    hand = results["hand-written Polars (two oil caps)"][1]
    print(
        f"\ncolumnar / stream (events/s): {col / stream:.1f}×   "
        f"columnar time / hand-written time: {results['columnar'][1] / hand:.2f}×"
    )
    summary = {k: {"events": e, "seconds": round(w, 3), "peak_mib": round(m)}
               for k, (e, w, m) in results.items()}  # fmt: skip
    (DATA / "results.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
