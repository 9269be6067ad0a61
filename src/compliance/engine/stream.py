"""The stream engine: `evaluate_stream` for iterables and `Monitor` for live feeds.

Which rules an event reaches is decided by the one compiled evaluator
(`rulebook.evaluator`), exactly; durable_rules joins the events of correlation rules
(`durable_correlation`); the shared findings code turns matches into findings. Inferred
events reach every rule but correlations, like any event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from compliance.engine.durable_correlation import DurableCorrelator
from compliance.engine.findings import findings_for_rule, inference_finding, sort_findings
from compliance.events import Shipment
from compliance.ledger import RawRecord, reconcile
from compliance.report import Finding, Report, RulebookInfo
from compliance.rulebook.correlation import CompiledCorrelation, Inference, correlation_rules
from compliance.rulebook.evaluator import RulebookEvaluator
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CorrelationRule, Rule

__all__ = ["evaluate_stream", "infer_stream", "plain_rules"]


def _report(
    rulebook: Rulebook,
    records: Iterable[RawRecord | tuple[RawRecord, Shipment]],
    matched_rules: Any,
    as_of: date | None = None,
) -> Report:
    ledger = reconcile(records)
    accepted = ledger.accepted
    day = as_of if as_of is not None else ledger.latest_date
    by_rule: dict[int, list[Shipment]] = defaultdict(list)
    for event in accepted:
        for index in matched_rules(event):
            by_rule[index].append(event)
    findings: list[Finding] = []
    plain = plain_rules(rulebook.rules)
    steps = {e.id: e for i, events in by_rule.items() if i not in plain for e in events}
    for compiled, inference in infer_stream(rulebook.rules, list(steps.values())):
        findings.append(inference_finding(compiled, inference))
        for index in matched_rules(inference.event):
            if index in plain:
                by_rule[index].append(inference.event)
    for index, rule in enumerate(rulebook.rules):
        findings.extend(findings_for_rule(rule, by_rule.get(index, []), rulebook, as_of=day))
    return Report(
        findings=sort_findings(findings),
        accounting=ledger.accounting,
        rejected=ledger.rejected,
        superseded=ledger.superseded,
        rulebook=RulebookInfo(sources=list(rulebook.sources), rules=len(rulebook.rules)),
        as_of=day,
    )


def evaluate_stream(
    records: Iterable[RawRecord], rulebook: Rulebook, *, as_of: date | None = None
) -> Report:
    """Evaluate a whole log with the stream engine; `as_of` defaults to the latest date
    in the log."""
    return _report(rulebook, records, RulebookEvaluator(rulebook.rules).rules_for, as_of)


def plain_rules(rules: tuple[Rule, ...]) -> frozenset[int]:
    """Indices of the rules inferred events reach: all but correlations."""
    return frozenset(i for i, r in enumerate(rules) if not isinstance(r, CorrelationRule))


def infer_stream(
    rules: tuple[Rule, ...], accepted: list[Shipment]
) -> list[tuple[CompiledCorrelation, Inference]]:
    """(compiled rule, inference) of every correlation, joined by durable_rules over the
    accepted events (those matching some step suffice) in (date, id) order, each fact
    retracted once no window needs it."""
    if not correlation_rules(rules):
        return []
    with DurableCorrelator(rules) as correlator:
        for event in sorted(accepted, key=lambda e: (e.date, e.id)):
            correlator.expire(event.date)
            correlator.add(event)
        return [(correlator.compiled_for(i.rule.id), i) for i in correlator.inferences()]
