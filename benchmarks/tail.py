"""The columnar engine's findings tail alone: everything after `select_rows` (findings of
every rule, their sort, the `Report` and its JSON), timed on a pickled `Selection`.

    python benchmarks/tail.py save benchmarks/data/events-10000000-seed1.csv /tmp/10m.sel
    python benchmarks/tail.py run /tmp/10m.sel --output /tmp/tail.json [--profile /tmp/p.prof]
    python benchmarks/tail.py caps /tmp/10m.sel [--repeat 5]

`save` scans and selects once (the slow part) and pickles the `Selection`; `run` unpickles
it and prints the CPU seconds (user + sys of this process, every thread) of the findings
with their sort and `Report`, and of the JSON, so two versions of the tail can be timed
back to back on the same input. Run `save` from the directory the log is named relative
to, as `compliance evaluate` would be, so the report names it the same way.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _rss() -> float:
    """The resident set now, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    save = sub.add_parser("save", help="scan and select a CSV log, pickle the Selection")
    save.add_argument("log")
    save.add_argument("selection", type=Path)
    run = sub.add_parser("run", help="time the tail on a pickled Selection")
    run.add_argument("selection", type=Path)
    run.add_argument("--output", type=Path, help="write the JSON report here")
    run.add_argument("--profile", type=Path, help="write a cProfile of the tail here")
    caps = sub.add_parser("caps", help="time the cap rules' findings alone, again and again")
    caps.add_argument("selection", type=Path)
    caps.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from compliance._collector import paused
    from compliance.engine._progress import Progress
    from compliance.engine.columnar.evaluation import findings_of
    from compliance.engine.columnar.plan import Plan
    from compliance.engine.columnar.screen import scan_csv
    from compliance.engine.columnar.selection import select_rows
    from compliance.engine.findings import sort_findings
    from compliance.io.writers import render
    from compliance.report import Report, RulebookInfo
    from compliance.rulebook.load import load_rulebook

    rulebook = load_rulebook()
    plan = Plan(rulebook)
    if args.command == "save":
        progress = Progress()
        try:
            selection = select_rows([scan_csv(args.log, plan, progress)], [])
        finally:
            progress.close()
        args.selection.write_bytes(pickle.dumps(selection, protocol=pickle.HIGHEST_PROTOCOL))
        return 0

    selection = pickle.loads(args.selection.read_bytes())
    if args.command == "caps":
        return _caps(plan, selection, args.repeat)
    rss = [_rss()]
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, wall = _cpu(), time.perf_counter()
    day = selection.ledger.latest_date
    with paused():
        findings = sort_findings(findings_of(plan, selection, day))
    ledger = selection.ledger
    report = Report(
        findings=findings, accounting=ledger.accounting, rejected=ledger.rejected,
        superseded=ledger.superseded,
        rulebook=RulebookInfo(sources=list(plan.rulebook.sources), rules=len(plan.rules)),
        as_of=day,
    )  # fmt: skip
    middle = _cpu()
    rss.append(_rss())
    with paused():
        text = render(report, rulebook, "json")
    end, wall = _cpu(), time.perf_counter() - wall
    rss.append(_rss())
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.output:
        args.output.write_bytes(text.encode("utf-8", "backslashreplace"))
    print(f"tail: findings+sort+Report {middle - start:.2f} CPU-s, JSON {end - middle:.2f} "
          f"CPU-s, total {end - start:.2f} CPU-s ({wall:.2f} s wall), "
          f"{len(findings):,} findings; RSS {rss[0]:,.0f} MiB with the Selection, "
          f"{rss[1]:,.0f} with the Report, {rss[2]:,.0f} with the JSON text, peak "
          f"{peak:,.0f}", file=sys.stderr)  # fmt: skip
    return 0


def _caps(plan: Any, selection: Any, repeat: int) -> int:
    """The cap rules' `cap_findings` calls of one `findings_of` (which builds the clean
    rows' shipments), made again `repeat` times, each round with amounts of its own (as
    one evaluation has): the least CPU time of a round is printed, the figure least
    disturbed by other work on the machine."""
    from compliance._collector import paused
    from compliance.engine.columnar import caps, evaluation

    calls: list[tuple[Any, ...]] = []
    cap_findings = caps.cap_findings

    def recorded(*args: Any) -> Any:
        calls.append(args)
        return cap_findings(*args)

    vars(evaluation)["cap_findings"] = recorded  # the calls findings_of makes, recorded
    with paused():
        evaluation.findings_of(plan, selection, selection.ledger.latest_date)
        rounds = []
        for _ in range(repeat):
            seen = caps.CapAmounts(plan.rulebook)
            start = _cpu()
            for call in calls:
                plan_of, index, from_python, clean_parts, _ = call
                cap_findings(plan_of, index, from_python, clean_parts, seen)
            rounds.append(_cpu() - start)
    shown = ", ".join(f"{r:.2f}" for r in rounds)
    print(f"caps: {min(rounds):.2f} CPU-s at least ({shown}), {len(calls)} cap rules",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
