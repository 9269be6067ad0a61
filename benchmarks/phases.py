"""The columnar engine's phases on one log, end to end: each phase's wall seconds and the
user and system CPU seconds of the process (every thread) while it ran.

    python benchmarks/phases.py benchmarks/data/events-10000000-seed1-dprk0.05.csv

The phases are the functions `engine/columnar/evaluation.py` calls (the scan, the
selection, the correlation chains and their inferences, each rule's findings, the sort),
wrapped in place, then the JSON report written as the CLI writes it; a phase called once
per rule is summed over its calls. Phases nest (the chains are part of the inferences,
which are part of `findings_of`). Where the wall time passes the CPU time, the process
waited (or other tenants of the machine ran); system time is mostly page faults.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = (
    "scan_csv",
    "select_rows",
    "columnar_chains",
    "infer_columnar",
    "python_events",
    "cap_findings",
    "findings_for_rule",
    "findings_of",
    "sort_findings",
)


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


_SPENT: dict[str, list[float]] = {}  # phase: [calls, wall, user, system]


def _timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, (user, system) = time.perf_counter(), _cpu()
        try:
            return f(*args, **kwargs)
        finally:
            now_user, now_system = _cpu()
            spent = _SPENT.setdefault(name, [0, 0.0, 0.0, 0.0])
            spent[0] += 1
            spent[1] += time.perf_counter() - wall
            spent[2] += now_user - user
            spent[3] += now_system - system

    return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="a CSV log")
    args = parser.parse_args(argv)

    import compliance
    from compliance._collector import rare
    from compliance.cli import write_report
    from compliance.engine.columnar import evaluation
    from compliance.io.writers import pieces

    for name in PHASES:
        setattr(evaluation, name, _timed(name, getattr(evaluation, name)))
    rulebook = compliance.load_rulebook()
    with rare(), tempfile.TemporaryDirectory() as tmp:
        evaluate = _timed("evaluate", evaluation.evaluate_columnar)
        report = evaluate([args.log], rulebook)
        write = _timed("JSON written", write_report)
        write(Path(tmp) / "report.json", pieces(report, rulebook, "json"))
    print(f"{'phase':18s} {'calls':>5s} {'wall s':>8s} {'user s':>8s} {'sys s':>8s}")
    for name, (calls, wall, user, system) in _SPENT.items():
        print(f"{name:18s} {calls:5.0f} {wall:8.2f} {user:8.2f} {system:8.2f}")
    print(f"{len(report.findings):,} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
