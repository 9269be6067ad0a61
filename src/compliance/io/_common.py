"""Wording shared by the human-readable formats (table, Markdown, HTML)."""

from __future__ import annotations

import re
from decimal import Decimal

from compliance.report import Finding, Report
from compliance.units import for_people, format_amount

__all__ = ["chain_words", "counts", "figure", "inferred_rows", "printable", "verdict"]

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder
# what a terminal shows (CVE-2021-42574, "Trojan Source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters as escapes (`\\x1b`, `\\n`,
    `\\u202e`), so a value from a log cannot move the cursor, recolour or reorder the
    screen, or start a line that looks like one of ours."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def figure(f: Finding) -> str:
    """The finding's figures in a few words (`533,054.15 / 500,000 bbl (+33,054.15)`),
    with as many decimals as keep a non-zero excess from reading as +0."""
    m = f.measure
    if m is None:
        if f.days_late is not None:
            return f"{f.days_late} days late"
        if f.match:
            return f"{f.match.get('field')} {f.match.get('identifier')}"
        return ""
    places = m.places()
    if m.threshold is not None:
        return (
            f"{for_people(m.running, places)} / {for_people(m.limit, places)} {m.unit} "
            f"(≥{format_amount(m.threshold * 100)}%)"
        )
    excess = m.excess if m.excess is not None else Decimal(0)
    return (
        f"{for_people(m.total, places)} / {for_people(m.limit, places)} {m.unit} "
        f"(+{for_people(excess, places)})"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('ch') else 's'}"


def counts(report: Report) -> str:
    """`2 breaches, 1 warning, 0 notices, 0 errors`."""
    return ", ".join(
        _plural(n, w)
        for n, w in (
            (len(report.breaches), "breach"),
            (len(report.warnings), "warning"),
            (len(report.notices), "notice"),
            (len(report.errors), "error"),
        )
    )


def verdict(report: Report) -> str:
    """One sentence a reader can act on."""
    if report.breaches:
        rules = sorted({f.rule for f in report.breaches})
        head = f"Breach: {_plural(len(report.breaches), 'breach')} of {_plural(len(rules), 'rule')}"
    elif report.warnings:
        head = f"No breach; {_plural(len(report.warnings), 'warning')}"
    elif report.notices:
        head = f"No breach; {_plural(len(report.notices), 'notice')}"
    else:
        head = "No breach, warning or notice"
    if report.incomplete:
        a = report.accounting
        head += (
            f". INCOMPLETE: {a.rejected} rejected records, {len(report.errors)} "
            "unconvertible events — totals may be understated"
        )
    return head + "."


def chain_words(f: Finding) -> str:
    """An inference's chain: `sts t1 2019-01-03 → call c1 2019-01-20 (17 days after sts)`."""
    links = f.chain or []
    words = []
    for k, link in enumerate(links):
        text = f"{link.step} {link.event} {link.date.isoformat()}"
        if link.days_after is not None and k:
            text += f" ({link.days_after} days after)"
        words.append(text)
    return " → ".join(words)


def inferred_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(inferred event id, rule, chain, findings resting on it) of every inferred event."""
    resting: dict[str, list[str]] = {}
    for f in report.findings:
        if f.kind != "inferred":
            for ident in f.inferred:
                resting.setdefault(ident, []).append(f"{f.rule} {f.kind}")
    return [
        (f.trigger, f.rule, chain_words(f), "; ".join(resting.get(f.trigger, [])))
        for f in report.findings
        if f.kind == "inferred"
    ]
