"""`--format csv`: one row per finding, for spreadsheets and scripts (DESIGN §4).

Numbers keep every digit (the JSON strings, not the rounded table figures) so a sum in a
spreadsheet agrees with the engine; empty cells mean "does not apply". A cell that a
spreadsheet would run as a formula (an id such as `=HYPERLINK(...)` from a log) is
neutralised as OWASP describes: `'` put before it, so it shows as text.
"""

from __future__ import annotations

import csv
import io
import re

from compliance.report import Finding, Report
from compliance.rulebook.rulebook import Rulebook
from compliance.units import format_amount

__all__ = ["COLUMNS", "neutralise", "render_csv"]

COLUMNS = (
    "rule", "kind", "severity", "date", "trigger", "period_start", "period_end", "unit",
    "limit", "running", "total", "excess", "citation", "verified", "message",
)  # fmt: skip


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")  # our own figures: left as numbers


def neutralise(cell: str) -> str:
    """`cell`, with `'` before it when a spreadsheet would take it for a formula
    (OWASP CSV injection: a first character of = + - @, tab or carriage return)."""
    if cell.startswith(_FORMULA) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def _row(f: Finding) -> list[str]:
    m = f.measure
    return [
        f.rule,
        f.kind,
        f.severity,
        f.date.isoformat(),
        f.trigger,
        f.period.start.isoformat() if f.period else "",
        f.period.end.isoformat() if f.period else "",
        m.unit if m else "",
        format_amount(m.limit) if m else "",
        format_amount(m.running) if m else "",
        format_amount(m.total) if m else "",
        format_amount(m.excess) if m and m.excess is not None else "",
        f.citation,
        "true" if f.verified else "false",
        f.message,
    ]


def render_csv(report: Report, rulebook: Rulebook) -> str:
    """The findings as CSV with a header row (RFC 4180 quoting, `\\r\\n` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows([neutralise(cell) for cell in _row(f)] for f in report.findings)
    return buf.getvalue()
