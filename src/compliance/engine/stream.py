"""The stream engine: `evaluate_stream` for iterables and `Monitor` for live feeds.

Which rules an event reaches is decided by the one compiled evaluator
(`rulebook.evaluator`), exactly; the shared findings code turns matches into findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from compliance.engine.findings import _span, amount_in, findings_for_rule, sort_findings
from compliance.events import Shipment
from compliance.ledger import RawRecord, reconcile, validate
from compliance.report import Finding, Report, RulebookInfo
from compliance.rulebook.evaluator import RulebookEvaluator
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod
from compliance.units import CONTEXT

__all__ = ["Monitor", "evaluate_stream"]


def _report(
    rulebook: Rulebook,
    records: Iterable[RawRecord | tuple[RawRecord, Shipment]],
    matched_rules: Any,
) -> Report:
    ledger = reconcile(records)
    by_rule: dict[int, list[Shipment]] = defaultdict(list)
    for event in ledger.accepted:
        for index in matched_rules(event):
            by_rule[index].append(event)
    findings: list[Finding] = []
    for index, rule in enumerate(rulebook.rules):
        findings.extend(findings_for_rule(rule, by_rule.get(index, []), rulebook))
    return Report(
        findings=sort_findings(findings),
        accounting=ledger.accounting,
        rejected=ledger.rejected,
        rulebook=RulebookInfo(sources=list(rulebook.sources), rules=len(rulebook.rules)),
    )


def evaluate_stream(records: Iterable[RawRecord], rulebook: Rulebook) -> Report:
    """Evaluate a whole log with the stream engine."""
    return _report(rulebook, records, RulebookEvaluator(rulebook.rules).rules_for)


class _Bucket:
    __slots__ = ("emitted", "members", "totals")

    def __init__(self, measures: int) -> None:
        self.members: dict[str, tuple[Shipment, tuple[Decimal | None, ...]]] = {}
        self.totals = [Decimal(0)] * measures
        self.emitted: set[tuple[object, ...]] = set()


class Monitor:
    """Evaluate events as they arrive; findings are yielded as they become true.

    >>> monitor = compliance.Monitor(compliance.load_rulebook())      # doctest: +SKIP
    >>> for event in feed:                                            # doctest: +SKIP
    ...     for finding in monitor.feed(event):
    ...         alert(finding)
    >>> monitor.report() == compliance.evaluate(all_events)           # doctest: +SKIP
    True

    `feed` reports what the events seen so far establish; `report()` is the final word,
    equal to `evaluate()` on every event fed, in any order (a late event with an earlier
    date can change a cap's trigger, and a correction can withdraw a contribution).
    """

    def __init__(self, rulebook: Rulebook | None = None) -> None:
        from compliance.rulebook.load import load_rulebook

        self.rulebook = rulebook if rulebook is not None else load_rulebook()
        self._evaluator = RulebookEvaluator(self.rulebook.rules)
        self._records: list[RawRecord | tuple[RawRecord, Shipment]] = []
        self._matches: dict[int, list[int]] = {}  # id(shipment) -> rule indices
        self._active: dict[str, Shipment] = {}  # shipment id -> event counted now
        self._pending: dict[str, Shipment] = {}  # corrections waiting for their target
        self._buckets: dict[tuple[int, object, object], _Bucket] = {}
        self._count = 0

    def feed(
        self,
        event: Mapping[str, Any] | Shipment,
        *,
        source: str = "<records>",
        line: int | None = None,
    ) -> list[Finding]:
        """Take one event; return the findings it makes true (possibly none)."""
        data = event.to_record() if isinstance(event, Shipment) else event
        record = RawRecord(
            data=data, source=source, line=line, index=None if line is not None else self._count
        )
        self._count += 1
        result = event if isinstance(event, Shipment) else validate(record)
        if isinstance(result, list):
            self._records.append(record)
            return []
        self._records.append((record, result))
        self._matches[id(result)] = self._evaluator.rules_for(result)
        return self._admit(result)

    def feed_many(self, events: Iterable[Mapping[str, Any] | Shipment]) -> list[Finding]:
        out: list[Finding] = []
        for e in events:
            out.extend(self.feed(e))
        return out

    def report(self) -> Report:
        """The full report on every event fed: equal to `evaluate()` on them."""
        return _report(self.rulebook, self._records, lambda e: self._matches.get(id(e), []))

    def close(self) -> None:
        """Release what the monitor holds (it keeps nothing outside Python objects)."""

    # Incremental bookkeeping ----------------------------------------------------------

    def _admit(self, event: Shipment) -> list[Finding]:
        current = self._active.get(event.id)
        if current is not None:
            if current == event:
                return []  # duplicate
            self._withdraw(current)  # conflicting ids: neither counts
            self._active.pop(event.id)
            return []
        if event.id in self._pending:
            return []
        target = event.supersedes
        if target is not None:
            if target in self._active:
                self._withdraw(self._active.pop(target))
            else:
                self._pending[target] = event
                return []
        replacement = self._pending.pop(event.id, None)
        if replacement is not None:
            event = replacement  # the correction arrived first; it stands for both
        self._active[event.id] = event
        return self._apply(event)

    def _apply(self, event: Shipment) -> list[Finding]:
        out: list[Finding] = []
        for index in self._matches.get(id(event), []):
            rule = self.rulebook.rules[index]
            if not isinstance(rule, CapRule):
                out.extend(findings_for_rule(rule, [event], self.rulebook))
                continue
            if event.date not in rule.effective:
                continue
            amounts = tuple(amount_in(event, m, self.rulebook) for m in rule.limit)
            if any(a is None for a in amounts):
                out.extend(
                    f
                    for f in findings_for_rule(rule, [event], self.rulebook)
                    if f.kind == "unconvertible"
                )
            out.extend(self._add_to_cap(index, rule, event, amounts))
        return sort_findings(out)

    def _bucket_key(self, index: int, rule: CapRule, event: Shipment) -> tuple[int, Any, Any]:
        group = tuple(event.get(f) for f in rule.group_by)
        span = None if isinstance(rule.period, RollingPeriod) else _span(rule, event)
        return (index, group, span)

    def _add_to_cap(
        self, index: int, rule: CapRule, event: Shipment, amounts: tuple[Decimal | None, ...]
    ) -> list[Finding]:
        key = self._bucket_key(index, rule, event)
        if key[2] is None and not isinstance(rule.period, RollingPeriod):
            return []  # outside a fixed period
        bucket = self._buckets.setdefault(key, _Bucket(len(rule.limit)))
        bucket.members[event.id] = (event, amounts)
        before = list(bucket.totals)
        for j, a in enumerate(amounts):
            if a is not None:
                bucket.totals[j] = CONTEXT.add(bucket.totals[j], a)
        if not isinstance(rule.period, RollingPeriod) and not self._crossed(rule, before, bucket):
            return []
        members = [e for e, _ in bucket.members.values()]
        fresh = []
        for f in findings_for_rule(rule, members, self.rulebook):
            if f.kind == "unconvertible":
                continue
            identity = (
                f.kind,
                f.measure.threshold if f.measure else None,
                f.period.start if f.period else None,
            )
            if identity not in bucket.emitted:
                bucket.emitted.add(identity)
                fresh.append(f)
        return fresh

    @staticmethod
    def _crossed(rule: CapRule, before: list[Decimal], bucket: _Bucket) -> bool:
        fractions = [Decimal(1), *(t.fraction for t in rule.thresholds)]
        for j, m in enumerate(rule.limit):
            for fraction in fractions:
                level = CONTEXT.multiply(m.amount, fraction)
                strict = fraction == 1
                was = before[j] > level if strict else before[j] >= level
                now = bucket.totals[j] > level if strict else bucket.totals[j] >= level
                if now and not was:
                    return True
        return False

    def _withdraw(self, event: Shipment) -> None:
        for index in self._matches.get(id(event), []):
            rule = self.rulebook.rules[index]
            if not isinstance(rule, CapRule):
                continue
            bucket = self._buckets.get(self._bucket_key(index, rule, event))
            if bucket is None or event.id not in bucket.members:
                continue
            _, amounts = bucket.members.pop(event.id)
            for j, a in enumerate(amounts):
                if a is not None:
                    bucket.totals[j] = CONTEXT.subtract(bucket.totals[j], a)
