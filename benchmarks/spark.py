"""The spark engine on a seeded log, on `local[1]` and `local[2]`.

    python benchmarks/spark.py                      # 1,000,000 events
    python benchmarks/spark.py --events 10000000 --masters 'local[1]' 'local[2]'

Each master runs in its own process (a fresh session): the seconds of `evaluate()` once
the session is up (Python workers' start included), events/s, the Python driver's peak
RSS (the JVM is a process of its own), and the share of rows that reached the driver
(kept by the screen, odd, or fetched for the ledger). With --check, the report is
compared with the columnar engine's. Needs `pip install '.[spark,bench]'`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from run import ensure_log


def child(master: str, log: str, check: bool) -> None:
    import compliance
    from compliance.engine.spark import SparkRun, evaluate_spark, spark_session

    started = time.perf_counter()
    # 16 MiB splits: a 1M-row log (91 MB) is six partitions, not one of 128 MiB.
    conf = {"spark.sql.shuffle.partitions": "8", "spark.sql.files.maxPartitionBytes": "16m"}
    session = spark_session(master, conf)
    up = time.perf_counter() - started
    rulebook = compliance.load_rulebook()
    run = SparkRun()
    started = time.perf_counter()
    report = evaluate_spark([log], rulebook, session=session, run=run)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    same = None
    if check:
        columnar = compliance.evaluate(log, rulebook, engine="columnar")
        same = columnar.to_dict() == report.to_dict()
    session.stop()
    print(json.dumps({"session": up, "seconds": seconds, "rows": run.rows,
                      "to_driver": run.to_driver, "peak": peak, "same": same}))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"])
    p.add_argument("--check", action="store_true", help="compare with the columnar engine")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.check)
        return
    log = str(ensure_log(args.events, args.seed))
    print(f"{'master':9} {'events':>11} {'session s':>9} {'seconds':>8} {'events/s':>10} "
          f"{'driver MiB':>10} {'to driver':>9} {'same':>5}")  # fmt: skip
    for master in args.masters:
        command = [sys.executable, __file__, "--child", master, log]
        out = subprocess.run([*command, *(["--check"] if args.check else [])],
                             capture_output=True, text=True, check=False)  # fmt: skip
        if out.returncode:
            raise SystemExit(f"{master} failed:\n{out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        share = r["to_driver"] / max(r["rows"], 1)
        print(f"{master:9} {r['rows']:>11,} {r['session']:>9.1f} {r['seconds']:>8.1f} "
              f"{r['rows'] / r['seconds']:>10,.0f} {r['peak']:>10.0f} {share:>9.3%} "
              f"{'' if r['same'] is None else r['same']!s:>5}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
