"""Rulebook listings: one row per rule, in words a reader can check against the text."""

from __future__ import annotations

import json
from typing import Any

from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CalendarPeriod,
    CapRule,
    DeadlineRule,
    DesignationRule,
    FixedPeriod,
    MonthsPeriod,
    RollingPeriod,
    Rule,
)
from compliance.rulebook.selectors import to_dict
from compliance.units import format_amount

__all__ = ["describe", "list_json", "list_table"]


def _figure(rule: Rule) -> str:
    if isinstance(rule, CapRule):
        return " or ".join(f"{format_amount(m.amount, True)} {m.unit}" for m in rule.limit)
    if isinstance(rule, DeadlineRule):
        return f"report within {rule.within.days} days"
    if isinstance(rule, DesignationRule):
        return f"{len(rule.entries)} designated identifiers"
    return "prohibited"


def _period(rule: Rule) -> str:
    if not isinstance(rule, CapRule):
        return ""
    p = rule.period
    if isinstance(p, CalendarPeriod):
        return f"per calendar {p.calendar}"
    if isinstance(p, MonthsPeriod):
        return f"per {p.months} months from {p.anchor}"
    if isinstance(p, RollingPeriod):
        return f"any {p.days} consecutive days"
    assert isinstance(p, FixedPeriod)
    return f"{p.from_} to {p.to}"


def _effective(rule: Rule) -> str:
    e = rule.effective
    if e.from_ is None and e.to is None:
        return "always"
    return f"{e.from_ or '…'} to {e.to or '…'}"


def describe(rule: Rule, rulebook: Rulebook) -> dict[str, Any]:
    document = rulebook.documents.get(rule.id)
    row: dict[str, Any] = {
        "id": rule.id,
        "kind": rule.kind,
        "title": rule.label,
        "figure": _figure(rule),
        "period": _period(rule),
        "effective": _effective(rule),
        "citation": rule.citation,
        "verified": rule.verified,
        "hs_mapping": rule.hs_mapping or "",
        "match": to_dict(rule.match),
        "document": document.symbol if document else None,
        "url": document.url if document else None,
    }
    if isinstance(rule, CapRule) and rule.thresholds:
        row["thresholds"] = [
            format_amount(t.fraction) + ("" if t.verified else " (unverified)")
            for t in rule.thresholds
        ]
    return row


def list_json(rulebook: Rulebook) -> str:
    return (
        json.dumps([describe(r, rulebook) for r in rulebook.rules], indent=2, ensure_ascii=False)
        + "\n"
    )


def list_table(rulebook: Rulebook) -> str:
    cols = ("id", "kind", "figure", "period", "effective", "citation", "verified")
    rows = [[str(describe(r, rulebook)[c]) for c in cols] for r in rulebook.rules]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*cols), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*row).rstrip() for row in rows]
    lines.append(f"{len(rows)} rules")
    return "\n".join(lines) + "\n"
