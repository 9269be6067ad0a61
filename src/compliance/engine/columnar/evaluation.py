"""The evaluation that ties the steps together: screen each log, select the rows the
ledger must see, then findings rule by rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from compliance._collector import paused
from compliance.engine._progress import Progress
from compliance.engine.columnar.caps import CapAmounts, cap_findings
from compliance.engine.columnar.csv_chunks import fast_csv
from compliance.engine.columnar.ndjson import NdjsonLog
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import Scan, scan_csv, scan_typed
from compliance.engine.columnar.selection import Selection, select_rows
from compliance.engine.columnar.shipments import shipments
from compliance.engine.columnar.steps import columnar_chains, surely
from compliance.engine.columnar.typed import Typed
from compliance.engine.correlate import ChainFinder, infer_columnar
from compliance.engine.findings import findings_for_rule, sort_findings
from compliance.events import Shipment
from compliance.io.readers import records_from
from compliance.ledger import RawRecord
from compliance.report import Finding, Report, RulebookInfo
from compliance.rulebook.correlation import Chain, CompiledCorrelation
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, CorrelationRule

__all__ = ["evaluate_columnar", "findings_of", "python_events"]


def evaluate_columnar(
    sources: Sequence[Any], rulebook: Rulebook, *, as_of: date | None = None
) -> Report:
    """Evaluate logs (paths, DataFrames or iterables) with the columnar engine; `as_of`
    defaults to the latest date in the logs."""
    plan = Plan(rulebook)
    progress = Progress()
    scans: list[Scan] = []
    python_records: list[RawRecord] = []
    try:
        for source in sources:
            scan = None
            try:
                if isinstance(source, str | Path) and fast_csv(source):
                    scan = scan_csv(str(source), plan, progress)
                elif (typed := Typed.of(source)) is not None:
                    scan = scan_typed(typed, plan, progress)
                elif (lines := NdjsonLog.of(source)) is not None:
                    scan = scan_typed(lines, plan, progress)
            except Fallback:
                scan = None
            if scan is not None:
                scans.append(scan)
            else:
                python_records.extend(progress.count(records_from(source)))
        selection = select_rows(scans, python_records)
        day = as_of if as_of is not None else selection.ledger.latest_date
        with paused():
            findings = sort_findings(findings_of(plan, selection, day))
    finally:
        progress.close()
    ledger = selection.ledger
    return Report(
        findings=findings, accounting=ledger.accounting, rejected=ledger.rejected,
        superseded=ledger.superseded,
        rulebook=RulebookInfo(sources=list(plan.rulebook.sources), rules=len(plan.rules)),
        as_of=day,
    )  # fmt: skip


def python_events(
    plan: Plan, accepted: Sequence[Shipment], inferred: Sequence[Shipment] = ()
) -> list[list[Shipment]]:
    """Per rule, the accepted events that reached Python and that it matches (exactly)
    on a day it is in force.

    The one place where the Python side of each rule is assembled: events that other
    events imply (correlation rules) join their rules' lists here, every rule's but the
    correlations'. The rulebook's evaluator tests each event against the rules its
    values can reach only.
    """
    by_rule: list[list[Shipment]] = [[] for _ in plan.rules]
    rules_for = plan.evaluator.rules_for
    for event in accepted:
        for index in rules_for(event):
            by_rule[index].append(event)
    correlations = {i for i, r in enumerate(plan.rules) if isinstance(r, CorrelationRule)}
    for event in inferred:
        for index in rules_for(event):
            if index not in correlations:
                by_rule[index].append(event)
    return by_rule


def findings_of(
    plan: Plan, selection: Selection, as_of: date | None, chains: ChainFinder | None = None
) -> list[Finding]:
    """Every rule's findings: its Python events, and its clean rows in bulk (each one that
    reaches a finding confirmed by the exact evaluator). `chains` finds correlation
    chains where not all step events are here (the spark engine's join)."""
    import polars as pl

    accepted = selection.ledger.accepted

    def chains_of(index: int, compiled: CompiledCorrelation) -> list[Chain]:
        """A correlation's first chains: its step tables from the columns of the clean
        rows the screen passed; with `chains`, among the accepted Python events and the
        shipments of those rows."""
        mask = f"__m{index}"
        if chains is None:
            return columnar_chains(compiled, accepted, selection.clean, mask)
        events = list(accepted)
        for scan, frame in selection.clean:
            rows = frame.get_column("__row").filter(frame.get_column(mask)).to_list()
            events.extend(shipments(scan, frame, rows))
        return chains(index, compiled, events)

    findings, inferred = infer_columnar(plan.rules, chains_of)
    from_python = python_events(plan, accepted, inferred)
    seen = CapAmounts(plan.rulebook)
    for index, rule in enumerate(plan.rules):
        mask = f"__m{index}"
        if isinstance(rule, CorrelationRule):
            continue  # its findings are its inferences', made above
        if isinstance(rule, CapRule):
            parts = [(n, scan, frame.filter(pl.col(mask)))
                     for n, (scan, frame) in enumerate(selection.clean)]  # fmt: skip
            findings.extend(cap_findings(plan, index, from_python[index], parts, seen))
            continue
        events = list(from_python[index])
        exact, condition = plan.exact[index], plan.conditions[index]
        for scan, frame in selection.clean:
            # The rows the columns decide take no exact test; the few others do.
            part = frame.filter(pl.col(mask)).select(
                "__row", surely(scan.exprs, condition).alias("__sure")
            )
            sure = part.get_column("__sure").to_list()
            built = shipments(scan, frame, part.get_column("__row").to_list())
            events.extend(e for e, s in zip(built, sure, strict=True) if s or exact(e))
        findings.extend(findings_for_rule(rule, events, plan.rulebook, as_of=as_of))
    return findings
