"""Benchmarks of DESIGN §8, in one run: columnar engine, stream engine, hand-written query.

    python benchmarks/run.py --events 10000000            # generates the log if missing
    python benchmarks/run.py --events 10000000 --stream-events 200000

Each measurement runs in its own subprocess (so start-up counts and peak memory is that
process's own maximum resident set size, from resource.getrusage):
* columnar: `compliance evaluate LOG --engine columnar --format json` (CSV in → JSON out);
* stream: the same command with `--engine stream` on the first --stream-events rows (the
  stream engine is far slower; events/s is compared per event);
* hand-written: benchmarks/handwritten.py, the two oil caps in plain Polars.
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


def ensure_log(events: int, seed: int) -> Path:
    path = DATA / f"events-{events}-seed{seed}.csv"
    if not path.exists():
        print(f"generating {events:,} events → {path} …", flush=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--events", str(events),
                        "--seed", str(seed), "--out", str(path)], check=True)  # fmt: skip
    return path


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
