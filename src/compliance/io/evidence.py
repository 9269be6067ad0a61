"""Evidence behind cap findings, recomputed from the rulebook and the evaluated events.

A finding lists the ids of its contributing events but not what each contributed; the
HTML report charts every cap's running total and shows, under each finding, the events
with their amounts and running totals. This module recomputes those figures with the
engines' own pieces (`amount_in`, the period arithmetic, ordering by (date, id)), so the
charts agree with the findings to the last digit.
"""

from __future__ import annotations

import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from compliance.engine.findings import _span, amount_in
from compliance.events import Shipment
from compliance.ledger import reconcile
from compliance.periods import Span
from compliance.report import Finding, Report
from compliance.rulebook.evaluator import matches, rule_condition
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, Measure, RollingPeriod
from compliance.units import CONTEXT

if TYPE_CHECKING:
    from compliance.api import Engine

__all__ = [
    "CapSeries",
    "Point",
    "accepted_events",
    "cap_series",
    "evaluate_with_events",
    "finding_evidence",
]

CAP_KINDS = ("cap_exceeded", "threshold_reached")


@dataclass(frozen=True)
class Point:
    """One event's contribution to a measure and the running total after it."""

    date: date
    event: str
    amount: Decimal
    running: Decimal


@dataclass(frozen=True)
class CapSeries:
    """A cap's running total through one period (or, for a rolling cap, its window total
    at each event) in one measure, with the findings it produced."""

    rule: CapRule
    group: dict[str, str]
    start: date
    end: date
    measure: Measure
    points: list[Point]
    findings: list[Finding] = field(default_factory=list)
    rolling_days: int | None = None

    @property
    def total(self) -> Decimal:
        """Final total (for a rolling cap: the highest window total)."""
        if not self.points:
            return Decimal(0)
        if self.rolling_days is None:
            return self.points[-1].running
        return max(p.running for p in self.points)

    @property
    def breach(self) -> Finding | None:
        return next((f for f in self.findings if f.kind == "cap_exceeded"), None)


def accepted_events(sources: Iterable[object]) -> list[Shipment]:
    """The events an evaluation of these logs counts (after dedupe and corrections)."""
    from compliance.io.readers import records_from

    records = (r for s in sources for r in records_from(s))
    return reconcile(records).accepted


def evaluate_with_events(
    logs: Sequence[str], rulebook: Rulebook, *, engine: Engine = "auto"
) -> tuple[Report, list[Shipment]]:
    """`evaluate(logs)` and the events it counted, for reports that chart them.

    The engines keep no events (a columnar run over millions of rows should not), so the
    logs are read a second time; standard input is buffered once and replayed to both.
    """
    from compliance.api import evaluate
    from compliance.io.charts import require_matplotlib

    require_matplotlib()  # before a long evaluation, not after
    if "-" not in logs:
        return evaluate(list(logs), rulebook, engine=engine), accepted_events(logs)
    data = sys.stdin.buffer.read()
    saved = sys.stdin
    try:
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        report = evaluate(list(logs), rulebook, engine=engine)
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        return report, accepted_events(logs)
    finally:
        sys.stdin = saved


def _order(e: Shipment) -> tuple[date, str]:
    return (e.date, e.id)


def _group_of(rule: CapRule, e: Shipment) -> dict[str, str]:
    # The same construction as the engines', so groups compare equal to `Finding.group`.
    values = tuple(e.get(f) for f in rule.group_by)
    return {f: str(v) for f, v in zip(rule.group_by, values, strict=True) if v is not None}


def _measure_for(rule: CapRule, findings: Sequence[Finding]) -> Measure:
    """The measure to chart: the one the breach (else the highest notice) was in."""
    ranked = sorted(
        (f for f in findings if f.measure is not None),
        key=lambda f: (f.kind == "cap_exceeded", f.measure.threshold or 0 if f.measure else 0),
    )
    if ranked and ranked[-1].measure is not None:
        unit = ranked[-1].measure.unit
        for m in rule.limit:
            if m.unit == unit:
                return m
    return rule.limit[0]


def _running(events: Sequence[Shipment], measure: Measure, rulebook: Rulebook) -> list[Point]:
    points = []
    total = Decimal(0)
    for e in events:
        a = amount_in(e, measure, rulebook)
        if a is None:  # unconvertible: counted nowhere, reported as its own finding
            continue
        total = CONTEXT.add(total, a)
        points.append(Point(e.date, e.id, a, total))
    return points


def _rolling(
    events: Sequence[Shipment], measure: Measure, rulebook: Rulebook, days: int
) -> list[Point]:
    """Window total of the `days` days ending on each event's date, after that event."""
    amounts = [(e, amount_in(e, measure, rulebook)) for e in events]
    points = []
    total = Decimal(0)
    start = 0
    for e, a in amounts:
        first_day = e.date - timedelta(days=days - 1)
        while amounts[start][0].date < first_day:
            gone = amounts[start][1]
            if gone is not None:
                total = CONTEXT.subtract(total, gone)
            start += 1
        if a is None:
            continue
        total = CONTEXT.add(total, a)
        points.append(Point(e.date, e.id, a, total))
    return points


def cap_series(report: Report, rulebook: Rulebook, events: Iterable[Shipment]) -> list[CapSeries]:
    """Every cap, group and period with activity, in rulebook order then group, period."""
    ordered = sorted(events, key=_order)
    cap_findings: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        if f.kind in CAP_KINDS:
            cap_findings[f.rule].append(f)
    out: list[CapSeries] = []
    for rule in rulebook.rules:
        if not isinstance(rule, CapRule):
            continue
        condition = rule_condition(rule)
        matched = [e for e in ordered if e.date in rule.effective and matches(condition, e)]
        groups: dict[tuple[tuple[str, str], ...], list[Shipment]] = defaultdict(list)
        for e in matched:
            groups[tuple(sorted(_group_of(rule, e).items()))].append(e)
        for key in sorted(groups):
            members = groups[key]
            group = dict(key)
            mine = [f for f in cap_findings.get(rule.id, []) if f.group == group]
            if isinstance(rule.period, RollingPeriod):
                measure = _measure_for(rule, mine)
                points = _rolling(members, measure, rulebook, rule.period.days)
                if points:
                    out.append(
                        CapSeries(
                            rule,
                            group,
                            members[0].date,
                            members[-1].date,
                            measure,
                            points,
                            mine,
                            rule.period.days,
                        )
                    )
                continue
            spans: dict[Span, list[Shipment]] = defaultdict(list)
            for e in members:
                span = _span(rule, e)
                if span is not None:
                    spans[span].append(e)
            for span in sorted(spans):
                start, end = span.start, span.end
                here = [
                    f
                    for f in mine
                    if f.period is not None and (f.period.start, f.period.end) == (start, end)
                ]
                measure = _measure_for(rule, here)
                points = _running(spans[span], measure, rulebook)
                if points:
                    out.append(CapSeries(rule, group, start, end, measure, points, here))
    return out


def finding_evidence(
    finding: Finding, rulebook: Rulebook, by_id: dict[str, Shipment]
) -> list[Point] | None:
    """A cap finding's contributing events with amounts and running totals, in the
    finding's measure; None when the finding is not a cap's or its events are unknown."""
    if finding.measure is None or finding.kind not in CAP_KINDS:
        return None
    try:
        rule = rulebook.get(finding.rule)
    except KeyError:
        return None
    if not isinstance(rule, CapRule):
        return None
    measure = next((m for m in rule.limit if m.unit == finding.measure.unit), None)
    events = [by_id[i] for i in finding.events if i in by_id]
    if measure is None or len(events) != len(finding.events):
        return None
    return _running(sorted(events, key=_order), measure, rulebook)
