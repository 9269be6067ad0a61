"""The stream engine: `evaluate_stream` for iterables and `Monitor` for live feeds.

Which rules an event reaches is decided by the one compiled evaluator
(`rulebook.evaluator`), exactly; the shared findings code turns matches into findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from compliance.engine.findings import findings_for_rule, sort_findings
from compliance.events import Shipment
from compliance.ledger import RawRecord, reconcile
from compliance.report import Finding, Report, RulebookInfo
from compliance.rulebook.evaluator import RulebookEvaluator
from compliance.rulebook.rulebook import Rulebook

__all__ = ["evaluate_stream"]


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
    for index, rule in enumerate(rulebook.rules):
        findings.extend(findings_for_rule(rule, by_rule.get(index, []), rulebook, as_of=day))
    return Report(
        findings=sort_findings(findings),
        accounting=ledger.accounting,
        rejected=ledger.rejected,
        rulebook=RulebookInfo(sources=list(rulebook.sources), rules=len(rulebook.rules)),
        as_of=day,
    )


def evaluate_stream(
    records: Iterable[RawRecord], rulebook: Rulebook, *, as_of: date | None = None
) -> Report:
    """Evaluate a whole log with the stream engine; `as_of` defaults to the latest date
    in the log."""
    return _report(rulebook, records, RulebookEvaluator(rulebook.rules).rules_for, as_of)
