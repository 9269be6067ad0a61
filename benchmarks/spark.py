"""The spark engine on a seeded log, on `local[1]` and `local[2]`.

    python benchmarks/spark.py                      # 1,000,000 events
    python benchmarks/spark.py --log benchmarks/data/events-10000000-seed1.csv \
        --against ref.json                          # 10 M events, report compared

Each master runs in its own process (a fresh session): the seconds of `evaluate()` once
the session is up (Python workers' start included), events/s, the CPU seconds of the
whole process tree and of its parts (the Python driver, the JVM, the Python workers: on
a shared machine they say more than the wall clock), the Python driver's peak RSS (the
JVM is a process of its own), and the share of rows that reached the driver (kept by
the screen, odd, fetched for the ledger, or in a correlation chain). With --check, the
report is compared with the columnar engine's; with --against, its JSON (as
`compliance evaluate --format json` writes it) with a file's.
Needs `pip install '.[spark,bench]'`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from run import ensure_log

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> dict[str, float]:
    """User + system CPU seconds of this process (`driver`) and every live descendant,
    each with its reaped children, read from /proc: the JVM (`jvm`) and its Python
    workers (`workers`)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(f) for f in fields[11:15]) / TICKS
        names[pid] = name.split("(", 1)[-1]
    me = os.getpid()
    total = {"driver": times.get(me, 0.0), "jvm": 0.0, "workers": 0.0}
    todo = [p for p, parent in parents.items() if parent == me]
    while todo:
        pid = todo.pop()
        total["jvm" if names.get(pid) == "java" else "workers"] += times.get(pid, 0.0)
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return total


def child(master: str, log: str, check: bool, against: str | None) -> None:
    import compliance
    from compliance.engine.spark import SparkRun, evaluate_spark, spark_session

    started = time.perf_counter()
    # 16 MiB splits: a 1M-row log (91 MB) is six partitions, not one of 128 MiB.
    conf = {"spark.sql.shuffle.partitions": "8", "spark.sql.files.maxPartitionBytes": "16m"}
    session = spark_session(master, conf)
    up = time.perf_counter() - started
    rulebook = compliance.load_rulebook()
    run = SparkRun()
    before = tree_cpu()
    started = time.perf_counter()
    report = evaluate_spark([log], rulebook, session=session, run=run)
    seconds = time.perf_counter() - started
    parts = {k: v - before[k] for k, v in tree_cpu().items()}
    cpu = sum(parts.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    same = None
    if against is not None:
        ours = hashlib.sha256((report.to_json() + "\n").encode("utf-8", "backslashreplace"))
        same = ours.hexdigest() == hashlib.sha256(Path(against).read_bytes()).hexdigest()
    if check:
        columnar = compliance.evaluate(log, rulebook, engine="columnar")
        same = columnar.to_dict() == report.to_dict() and same is not False
    session.stop()
    print(json.dumps({"session": up, "seconds": seconds, "cpu": cpu, "parts": parts,
                      "rows": run.rows, "to_driver": run.to_driver, "peak": peak,
                      "same": same}))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log", help="a CSV log to evaluate (default: the seeded one)")
    p.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"])
    p.add_argument("--check", action="store_true", help="compare with the columnar engine")
    p.add_argument("--against", help="compare the JSON report with this file")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.check, args.against)
        return
    log = args.log or str(ensure_log(args.events, args.seed))
    print(f"{'master':9} {'events':>11} {'session s':>9} {'seconds':>8} {'CPU s':>7} "
          f"{'driver':>7} {'JVM':>7} {'workers':>7} "
          f"{'events/s':>10} {'ev/CPU-s':>9} {'driver MiB':>10} {'to driver':>9} "
          f"{'same':>5}")  # fmt: skip
    for master in args.masters:
        command = [sys.executable, __file__, "--child", master, log]
        command += ["--check"] if args.check else []
        command += ["--against", args.against] if args.against else []
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"{master} failed:\n{out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        share = r["to_driver"] / max(r["rows"], 1)
        print(f"{master:9} {r['rows']:>11,} {r['session']:>9.1f} {r['seconds']:>8.1f} "
              f"{r['cpu']:>7.1f} {r['parts']['driver']:>7.1f} {r['parts']['jvm']:>7.1f} "
              f"{r['parts']['workers']:>7.1f} {r['rows'] / r['seconds']:>10,.0f} "
              f"{r['rows'] / r['cpu']:>9,.0f} {r['peak']:>10.0f} {share:>9.3%} "
              f"{'' if r['same'] is None else r['same']!s:>5}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
