"""`--format markdown`: a summary and a findings table that read well on a code host.

Meant for issues, pull requests and wikis: the verdict first, then one table row per
finding (citations linked to the documents), then the records and any rejections.
"""

from __future__ import annotations

from compliance.io._common import counts, figure, inferred_rows, verdict
from compliance.report import Report
from compliance.rulebook.rulebook import Rulebook

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    # A table cell must stay on one line and must not close the cell or open markup.
    s = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    for ch in "`*_[]<>":
        s = s.replace(ch, "\\" + ch)
    return s


def _code(text: str) -> str:
    if "`" in text or "\n" in text:
        return _cell(text)
    return "`" + text.replace("|", "\\|") + "`"  # GFM takes \| inside a code span in a table


def _link(url: str | None, text: str) -> str:
    if (
        not url
        or not url.lower().startswith(("https://", "http://"))
        or any(c.isspace() or c in "<>|" for c in url)
    ):
        return _cell(text)
    # Parentheses would end the link target early (undocs.org symbols have them).
    return f"[{_cell(text)}]({url.replace('(', '%28').replace(')', '%29')})"


def render_markdown(report: Report, rulebook: Rulebook) -> str:
    a = report.accounting
    icon = (
        "🟥" if report.breaches else "🟧" if report.warnings else "🟦" if report.notices else "🟩"
    )
    lines = [
        "# Compliance report",
        "",
        f"**{icon} {_cell(verdict(report))}**",
        "",
        f"{counts(report)} · read {a.read}: {a.evaluated} evaluated, {a.duplicates} "
        f"duplicates, {a.superseded} superseded, {a.rejected} rejected · rulebook "
        f"{_cell(', '.join(report.rulebook.sources))} ({report.rulebook.rules} rules)",
        "",
    ]
    if report.breaches:
        lines.append("## Breaches")
        lines.append("")
        for f in report.breaches:
            lines.append(f"- {_cell(f.message)}" + ("" if f.verified else " *(unverified)*"))
        lines.append("")
    lines += ["## Findings", ""]
    if report.findings:
        lines += [
            "| date | severity | kind | rule | trigger | figures | citation | verified |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in report.findings:
            doc = rulebook.documents.get(f.rule)
            sev = f"**{f.severity}**" if f.severity == "breach" else f.severity
            lines.append(
                "| "
                + " | ".join(
                    (
                        f.date.isoformat(),
                        sev,
                        _cell(f.kind),
                        _code(f.rule),
                        _code(f.trigger),
                        _cell(figure(f)),
                        _link(doc.url if doc else None, f.citation),
                        "yes" if f.verified else "**no**",
                    )
                )
                + " |"
            )
    else:
        lines.append("No findings.")
    lines.append("")
    inferred = inferred_rows(report)
    if inferred:
        lines += [
            "## Inferred events",
            "",
            "| inferred event | rule | rests on | counted by |",
            "|---|---|---|---|",
        ]
        for ident, rule, chain, resting in inferred:
            lines.append(
                f"| {_code(ident)} | {_code(rule)} | {_cell(chain)} | {_cell(resting or '—')} |"
            )
        lines.append("")
    if report.rejected:
        lines += ["## Rejected records", "", "| where | id | reasons |", "|---|---|---|"]
        for r in report.rejected:
            lines.append(
                f"| {_code(r.location())} | {_cell(r.id or '')} | {_cell('; '.join(r.reasons))} |"
            )
        lines.append("")
    if report.superseded:
        lines += ["## Superseded records", "", "| where | id | superseded by |", "|---|---|---|"]
        for s in report.superseded:
            lines.append(f"| {_code(s.location())} | {_cell(s.id)} | {_cell(s.by)} |")
        lines.append("")
    unverified = sorted({f.rule for f in report.findings if not f.verified})
    if unverified:
        lines.append(
            "> Unverified figures or paragraphs (check against the resolution text): "
            + ", ".join(_code(u) for u in unverified)
        )
        lines.append("")
    return "\n".join(lines)
