"""`--format csv`: one row per finding, for spreadsheets and scripts (DESIGN §4), then one
row of kind `superseded` per record a correction replaced (the audit trail).

Figures are rounded to `CSV_PLACES` (6) decimal places, trailing zeros dropped, and to more
when a finding needs them so that no difference (an excess of 0.0000001 bbl) reads as
zero; JSON keeps the exact decimal. Why 6: a spreadsheet holds a number as a double,
about 15 significant digits, so 6 places keep totals up to 10^9 (250 times the largest
cap) exact in the cell, far finer than any log reports (1e-6 bbl is 0.16 ml); the 28
digits of a converted total would only be cut by the spreadsheet, silently. Empty cells
mean "does not apply". A cell that a spreadsheet would run as a formula (an id such as
`=HYPERLINK(...)` from a log) is neutralised as OWASP describes: `'` put before it, so it
shows as text.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from compliance.report import Finding, Report
from compliance.rulebook.rulebook import Rulebook
from compliance.units import format_amount

__all__ = ["COLUMNS", "CSV_PLACES", "neutralise", "render_csv"]

CSV_PLACES = 6

COLUMNS = (
    "rule", "kind", "severity", "date", "trigger", "period_start", "period_end", "unit",
    "limit", "running", "total", "excess", "citation", "verified", "message", "inferred",
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
    places = m.places(least=CSV_PLACES) if m else CSV_PLACES

    def number(d: Decimal | None) -> str:
        return "" if d is None else format_amount(d, places=places)

    return [
        f.rule,
        f.kind,
        f.severity,
        f.date.isoformat(),
        f.trigger,
        f.period.start.isoformat() if f.period else "",
        f.period.end.isoformat() if f.period else "",
        m.unit if m else "",
        number(m.limit) if m else "",
        number(m.running) if m else "",
        number(m.total) if m else "",
        number(m.excess) if m else "",
        f.citation,
        "true" if f.verified else "false",
        f.message,
        ";".join(f.inferred),  # ids of inferred events the finding rests on
    ]


def render_csv(report: Report, rulebook: Rulebook) -> str:
    """The findings as CSV with a header row (RFC 4180 quoting, `\\r\\n` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows([neutralise(cell) for cell in _row(f)] for f in report.findings)
    # The audit trail after the findings: a row of kind `superseded` per replaced record.
    for s in report.superseded:
        row = dict.fromkeys(COLUMNS, "")
        row.update(kind="superseded", trigger=s.id,
                   message=f"record {s.id} ({s.location()}) superseded by {s.by}")  # fmt: skip
        writer.writerow(neutralise(row[c]) for c in COLUMNS)
    return buf.getvalue()
