"""The evidence of cap findings, gathered from the `Report` for charts and tables.

Every cap finding carries its series (DESIGN §4): each contributing event's amounts and
the running totals after it, computed once by the engines' shared findings code. This
module only groups those findings, a chart to each cap, group and period (a rolling cap:
each window), so what a report draws is what the findings say, by construction. Nothing
here reads a log or evaluates a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from compliance.report import Finding, Report, Series
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod

__all__ = ["CAP_KINDS", "CapSeries", "cap_series"]

CAP_KINDS = ("cap_exceeded", "threshold_reached")


@dataclass(frozen=True)
class CapSeries:
    """A cap's running total through one period (a rolling cap: through one window) in
    the measure of its breach, else of its highest notice, with the findings it holds."""

    rule: str
    title: str
    citation: str
    verified: bool
    group: dict[str, str]
    start: date
    end: date
    unit: str
    limit: Decimal
    thresholds: tuple[Decimal, ...]
    points: Series
    findings: tuple[Finding, ...]
    rolling_days: int | None = None
    other_limits: tuple[tuple[Decimal, str], ...] = ()

    @property
    def total(self) -> Decimal:
        """The period's (or window's) total in `unit`."""
        return self.points[-1].running[self.unit] if self.points else Decimal(0)

    @property
    def breach(self) -> Finding | None:
        return next((f for f in self.findings if f.kind == "cap_exceeded"), None)


def _lead(findings: Sequence[Finding]) -> Finding:
    """The finding whose measure is charted: the breach, else the highest notice."""

    def rank(f: Finding) -> tuple[bool, Decimal]:
        m = f.measure
        return (f.kind == "cap_exceeded", m.threshold or Decimal(0) if m else Decimal(0))

    return max(findings, key=rank)


def cap_series(report: Report, rulebook: Rulebook) -> list[CapSeries]:
    """One `CapSeries` for each cap, group and period (or window) with a cap finding,
    in rulebook order, then group, then period.

    The rulebook adds what the findings do not hold: the thresholds not reached, the
    other measures of the rule and the length of a rolling window.
    """
    buckets: dict[tuple[str, tuple[tuple[str, str], ...], date, date], list[Finding]] = {}
    for f in report.findings:
        if f.kind in CAP_KINDS and f.series and f.measure and f.period:
            key = (f.rule, tuple(sorted(f.group.items())), f.period.start, f.period.end)
            buckets.setdefault(key, []).append(f)
    order = {rule.id: n for n, rule in enumerate(rulebook.rules)}
    out = []
    for key in sorted(buckets, key=lambda k: (order.get(k[0], len(order)), k)):
        rule_id, group, start, end = key
        findings = buckets[key]
        lead = _lead(findings)
        assert lead.measure is not None and lead.series is not None  # as filtered above
        rule = rulebook.rules[order[rule_id]] if rule_id in order else None
        cap = rule if isinstance(rule, CapRule) else None
        if cap is not None:
            thresholds = tuple(t.fraction for t in cap.thresholds)
            others = tuple((m.amount, m.unit) for m in cap.limit if m.unit != lead.measure.unit)
        else:  # a report read against another rulebook: what its findings say
            reached = {f.measure.threshold for f in findings if f.measure is not None}
            thresholds = tuple(sorted(t for t in reached if t is not None))
            others = ()
        rolling = cap.period.days if cap and isinstance(cap.period, RollingPeriod) else None
        out.append(
            CapSeries(
                rule=rule_id,
                title=lead.title,
                citation=lead.citation,
                verified=cap.verified if cap is not None else lead.verified,
                group=dict(group),
                start=start,
                end=end,
                unit=lead.measure.unit,
                limit=lead.measure.limit,
                thresholds=thresholds,
                points=lead.series,
                findings=tuple(sorted(findings, key=Finding.sort_key)),
                rolling_days=rolling,
                other_limits=others,
            )
        )
    return out
