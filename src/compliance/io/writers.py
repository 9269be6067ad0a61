"""Reports out: one function per format, each `(report, rulebook) -> str`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from compliance.report import Finding, Report
from compliance.rulebook.rulebook import Rulebook
from compliance.units import format_amount

__all__ = ["FORMATS", "render"]

Writer = Callable[[Report, Rulebook], str]


def render(report: Report, rulebook: Rulebook, fmt: str) -> str:
    """The report in `fmt` (one of `FORMATS`)."""
    return FORMATS[fmt](report, rulebook)


def _json(report: Report, rulebook: Rulebook) -> str:
    return report.to_json() + "\n"


def _figure(f: Finding) -> str:
    m = f.measure
    if m is None:
        if f.days_late is not None:
            return f"{f.days_late} days late"
        if f.match:
            return f"{f.match.get('field')} {f.match.get('identifier')}"
        return ""
    if m.threshold is not None:
        return (
            f"{format_amount(m.running, True, 2)} / {format_amount(m.limit, True, 2)} {m.unit} "
            f"(≥{format_amount(m.threshold * 100)}%)"
        )
    return (
        f"{format_amount(m.total, True, 2)} / {format_amount(m.limit, True, 2)} {m.unit} "
        f"(+{format_amount(m.excess if m.excess is not None else Decimal(0), True, 2)})"
    )


def _table(report: Report, rulebook: Rulebook) -> str:
    lines: list[str] = []
    headers = ("date", "severity", "kind", "rule", "trigger", "figures", "citation")
    rows = [
        (
            f.date.isoformat(),
            f.severity,
            f.kind,
            f.rule,
            f.trigger,
            _figure(f),
            f.citation + ("" if f.verified else " [unverified]"),
        )
        for f in report.findings
    ]
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines.append(fmt.format(*headers).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt.format(*r).rstrip() for r in rows)
        lines.append("")
    else:
        lines.append("No findings.")
    a = report.accounting
    lines.append(
        f"{len(report.breaches)} breaches, {len(report.warnings)} warnings, "
        f"{len(report.notices)} notices, {len(report.errors)} errors · read {a.read}: "
        f"{a.evaluated} evaluated, {a.duplicates} duplicates, {a.superseded} superseded, "
        f"{a.rejected} rejected"
    )
    for r in report.rejected:
        lines.append(f"rejected {r.location()}: {'; '.join(r.reasons)}")
    if report.incomplete:
        lines.append(
            "INCOMPLETE: some records were rejected or could not be converted; "
            "totals may be understated."
        )
    unverified = sorted({f.rule for f in report.findings if not f.verified})
    if unverified:
        lines.append(
            "Unverified figures or paragraphs (check against the resolution text): "
            + ", ".join(unverified)
        )
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Writer] = {"table": _table, "json": _json}
