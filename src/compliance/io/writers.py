"""Reports out: one function per format, each `(report, rulebook) -> str`, each drawing
on the `Report` alone (the rulebook adds its rules' wording and documents); `pieces`
gives the same text in parts, for writing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from compliance._collector import paused
from compliance.io._common import figure as _figure
from compliance.io._common import inferred_rows, printable
from compliance.io.csv_writer import render_csv
from compliance.io.markdown import render_markdown
from compliance.report import Report
from compliance.rulebook.rulebook import Rulebook

__all__ = ["FORMATS", "pieces", "prepare", "render"]

Writer = Callable[[Report, Rulebook], str]


def prepare(fmt: str) -> None:
    """Fail now, before a long evaluation, if `fmt` needs what is not installed."""
    if fmt == "html":
        from compliance.io.charts import require_matplotlib

        require_matplotlib()


def render(report: Report, rulebook: Rulebook, fmt: str) -> str:
    """The report in `fmt` (one of `FORMATS`)."""
    return "".join(pieces(report, rulebook, fmt))


def pieces(report: Report, rulebook: Rulebook, fmt: str) -> Iterator[str]:
    """`render`'s text in pieces: JSON a finding at a time, so that a report of a
    gigabyte is written as it is made and never held whole; the other formats whole."""
    if fmt == "json":
        with paused():
            yield from report.iter_json(end="\n")
    else:
        yield FORMATS[fmt](report, rulebook)


def _json(report: Report, rulebook: Rulebook) -> str:
    return render(report, rulebook, "json")


def _table(report: Report, rulebook: Rulebook) -> str:
    """For a terminal: every value from a log or rule file has its control characters
    escaped (`printable`), so none can drive the terminal or forge a line."""
    return "".join(printable(line) + "\n" for line in _table_lines(report))


def _table_lines(report: Report) -> list[str]:
    lines: list[str] = []
    headers = ("date", "severity", "kind", "rule", "trigger", "figures", "citation")
    rows = [
        tuple(
            printable(cell)
            for cell in (
                f.date.isoformat(),
                f.severity,
                f.kind,
                f.rule,
                f.trigger,
                _figure(f),
                f.citation + ("" if f.verified else " [unverified]"),
            )
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
    for ident, rule, chain, resting in inferred_rows(report):
        counted = f"; counted by {resting}" if resting else ""
        lines.append(f"inferred {ident} ({rule}): {chain}{counted}")
    for r in report.rejected:
        lines.append(f"rejected {r.location()}: {'; '.join(r.reasons)}")
    for s in report.superseded:
        lines.append(f"superseded {s.location()}: {s.id} by {s.by}")
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
    return lines


def _html(report: Report, rulebook: Rulebook) -> str:
    from compliance.io.html import render_html  # imports matplotlib: only when asked

    return render_html(report, rulebook)


FORMATS: dict[str, Writer] = {
    "table": _table,
    "json": _json,
    "csv": render_csv,
    "markdown": render_markdown,
    "html": _html,
}
