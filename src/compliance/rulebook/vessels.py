"""Designation lists as CSV files, and the import of the 1718 Designated Vessels List.

A designation CSV of a rulebook has the columns of `DesignationEntry` (DESIGN §3):

    identifier,name,aliases,flag,designated,measures,basis,verified,reference
    8660313,CHON MA SAN,,,2018-03-30,,"1718 Designated Vessels List: …",false,…

with several values of one cell separated by `;`. `import_committee_list` converts a copy
of the Committee's list, in the columns of the public harvests of its PDF
(`vessel_name, imo_number, mmsi, flag, call_sign, type, other_information,
date_of_designation, designated_owner` and the measure columns; several values written
`1: 03-Oct-17 2: 30-Mar-18`), into such entries, and `diff_entries` says what changed.

    >>> entries = import_committee_list(Path("1718-vessels.csv"))     # doctest: +SKIP
    >>> print(format_diff(diff_entries(current, entries)))            # doctest: +SKIP
    added: NEW SHIP (1234567)
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from compliance.errors import Diagnostic, RuleFileError
from compliance.rulebook.schema import DesignationEntry
from compliance.rulebook.selectors import normalise_name

__all__ = [
    "COLUMNS",
    "Diff",
    "diff_entries",
    "entries_from_csv",
    "entries_to_csv",
    "format_diff",
    "import_committee_list",
]

COLUMNS = (
    "identifier",
    "name",
    "aliases",
    "flag",
    "designated",
    "measures",
    "basis",
    "verified",
    "reference",
)

# The list's legal-basis columns (headers as the public harvests write them), the
# citation each gives and the measure it stands for. Port-entry ban: 2371/2375 para. 6;
# de-flagging: 2321 para. 12(a); asset freeze: the other three.
BASES = {
    "paragraph 8 (d) of resolution 1718 (2006) and paragraph 12 of resolution 2270 (2016)": (
        "S/RES/1718 (2006), para. 8(d) and S/RES/2270 (2016), para. 12",
        "asset_freeze",
    ),
    "paragraph 12 (a) of resolution 2321 (2016)": ("S/RES/2321 (2016), para. 12(a)", "deflagging"),
    "paragraph 12 (d) of resolution 2321 (2016)": (
        "S/RES/2321 (2016), para. 12(d)",
        "asset_freeze",
    ),
    "paragraph 6 of resolution 2371 (2017) and paragraph 6 of resolution 2375 (2017)": (
        "S/RES/2371 (2017), para. 6 and S/RES/2375 (2017), para. 6",
        "port_entry_ban",
    ),
    "economic resources controlled or operated by ocean maritime management (kpe.020)": (
        "economic resources controlled or operated by Ocean Maritime Management (KPe.020)",
        "asset_freeze",
    ),
}
# Copies that give measures instead of legal bases: the basis each measure stands for.
MEASURES = {
    "asset_freeze": "asset freeze (S/RES/1718 (2006), para. 8(d) and S/RES/2270 (2016), "
    "para. 12, or S/RES/2321 (2016), para. 12(d))",
    "port_entry_ban": "S/RES/2371 (2017), para. 6 and S/RES/2375 (2017), para. 6",
    "deflagging": "S/RES/2321 (2016), para. 12(a)",
}
_MEASURE_HEADERS = {
    "asset freeze": "asset_freeze",
    "port entry ban": "port_entry_ban",
    "deflagging": "deflagging",
    "de flagging": "deflagging",
}
REQUIRED = ("vessel_name", "imo_number", "date_of_designation")
LIST = "1718 Designated Vessels List"
_NUMBERED = re.compile(r"(?:^|\s)\d+:\s+")
_ABSENT = {"", "na", "n/a", "none", "does not exist", "-", "—"}


def _values(cell: str | None) -> list[str]:
    """`1: A 2: B` → `["A", "B"]`; a plain cell is one value; absent markers, none."""
    text = (cell or "").strip()
    if text.lower() in _ABSENT:
        return []
    parts = _NUMBERED.split(text) if _NUMBERED.match(text) else [text]
    return [p.strip() for p in parts if p.strip() and p.strip().lower() not in _ABSENT]


def _day(text: str) -> date | None:
    for form in ("%d-%b-%y", "%d-%b-%Y", "%Y-%m-%d", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


def _applies(cell: str | None) -> bool:
    text = (cell or "").strip().lower()
    return text not in _ABSENT and text not in ("no", "false", "0")


def import_committee_list(path: Path) -> list[DesignationEntry]:
    """Entries of a copy of the Committee's list (CSV); `RuleFileError` listing every
    problem (missing columns, dates that do not read, IMO numbers that are not seven
    digits), each with its line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise RuleFileError([Diagnostic(name, f"cannot read the list: {e}")]) from None
    reader = csv.DictReader(io.StringIO(text))
    headers = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise RuleFileError(
            [Diagnostic(name, f"missing column {c!r} (expected the columns of the public "
                        "harvests: vessel_name, imo_number, …)", 1) for c in missing]
        )  # fmt: skip
    bases = {h: BASES[k] for k, h in headers.items() if k in BASES}
    measure_columns = {}
    for k, h in headers.items():
        key = re.sub(r"[^a-z]+", " ", k).strip()
        if key in _MEASURE_HEADERS:
            measure_columns[h] = _MEASURE_HEADERS[key]
    problems: list[Diagnostic] = []
    entries: list[DesignationEntry] = []
    for line, row in enumerate(reader, start=2):

        def cell(column: str, row: dict[str, str] = row) -> str | None:
            return row.get(headers[column]) if column in headers else None

        names = _values(cell("vessel_name"))
        imos = [re.sub(r"^IMO\s*", "", v, flags=re.I) for v in _values(cell("imo_number"))]
        if not names and not imos:
            continue  # a blank row
        for imo in imos:
            if not (len(imo) == 7 and imo.isdigit()):
                problems.append(
                    Diagnostic(name, f"imo_number: not a 7-digit IMO number (got {imo!r})", line)
                )
        days = []
        for value in _values(cell("date_of_designation")):
            day = _day(value)
            if day is None:
                problems.append(
                    Diagnostic(
                        name,
                        f"date_of_designation: expected a date such as 30-Mar-18 (got {value!r})",
                        line,
                    )
                )
            else:
                days.append(day)
        if not days:
            if not any(p.line == line for p in problems):
                problems.append(Diagnostic(name, "date_of_designation: missing", line))
            continue
        cited = [(basis, measure) for h, (basis, measure) in bases.items() if _applies(row.get(h))]
        measures = sorted({m for _, m in cited} | {m for h, m in measure_columns.items()
                                                   if _applies(row.get(h))})  # fmt: skip
        if cited:
            basis = "; ".join(b for b, _ in cited)
        else:
            basis = "; ".join(MEASURES[m] for m in measures)
        owner = "; ".join(_values(cell("designated_owner")))
        flags = "; ".join(_values(cell("flag")))
        try:
            entries.append(
                DesignationEntry(
                    identifier=imos[0] if imos else None,
                    name=names[0] if names else None,
                    aliases=names[1:],
                    flag=flags or None,
                    designated=min(days),
                    dates=sorted(set(days)),
                    measures=measures,
                    basis=f"{LIST}: {basis}" if basis else LIST,
                    verified=True,
                    reference=f"{LIST}, copy {path.name}, line {line}"
                    + (f"; designated owner: {owner}" if owner else ""),
                )
            )
        except ValidationError as e:
            for item in e.errors():
                problems.append(Diagnostic(name, item["msg"].removeprefix("Value error, "), line))
    if problems:
        raise RuleFileError(problems)
    return entries


def entries_from_csv(text: str, path: str) -> tuple[list[DesignationEntry], list[Diagnostic]]:
    """Entries of a rulebook's designation CSV, and a located problem for each bad row."""
    entries: list[DesignationEntry] = []
    problems: list[Diagnostic] = []
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader, [])]
        for row in reader:
            line = reader.line_num
            clean = {k: v.strip() for k, v in zip(header, row, strict=False) if k and v.strip()}
            try:
                entries.append(DesignationEntry.model_validate(clean))
            except ValidationError as e:
                raw = lines[line - 1] if line - 1 < len(lines) else ""
                for item in e.errors():
                    problems.append(_located(path, line, raw, header, item))
    except csv.Error as e:
        problems.append(Diagnostic(path, f"invalid CSV: {e}", reader.line_num or 1, 1))
    return entries, problems


def _located(
    path: str, line: int, raw: str, header: list[str], item: Mapping[str, Any]
) -> Diagnostic:
    """One cell's problem at its line and column, with what was wrong and what was got."""
    key = str(item["loc"][0]) if item["loc"] else ""
    message = str(item["msg"]).removeprefix("Value error, ")
    if not key and ":" in message and message.split(":", 1)[0] in header:
        key, message = (part.strip() for part in message.split(":", 1))
    message = message[:1].lower() + message[1:]
    if item["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(key, COLUMNS, n=1)
        message = "unknown column" + (f" (did you mean '{hint[0]}'?)" if hint else "")
    elif item["type"] != "missing" and item["loc"]:
        shown = repr(item.get("input"))
        message += f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
    where = f"{key}: {message}" if key else message
    return Diagnostic(path, where, line, _column(raw, header, key))


def _column(raw: str, header: list[str], key: str) -> int:
    """The 1-based column where `key`'s cell starts in a plain (unquoted) CSV line."""
    if key not in header or '"' in raw:
        return 1
    cells = raw.split(",")
    index = header.index(key)
    return 1 + sum(len(c) + 1 for c in cells[:index]) if index < len(cells) else 1


def entries_to_csv(entries: list[DesignationEntry]) -> str:
    """The designation CSV of a rulebook (`COLUMNS`), one row per entry."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.identifier or "",
                e.name or "",
                "; ".join(e.aliases),
                e.flag or "",
                "; ".join(d.isoformat() for d in (e.dates or [e.designated])),
                "; ".join(e.measures),
                e.basis or "",
                "true" if e.verified else "false",
                e.reference or "",
            ]
        )
    return out.getvalue()


@dataclass
class Diff:
    """What an imported list adds, removes and changes, against the current one."""

    added: list[DesignationEntry] = field(default_factory=list)
    removed: list[DesignationEntry] = field(default_factory=list)
    changed: list[tuple[DesignationEntry, DesignationEntry, list[str]]] = field(
        default_factory=list
    )


_COMPARED = ("name", "aliases", "flag", "dates", "measures", "basis")


def _key(e: DesignationEntry) -> str:
    return e.identifier if e.identifier is not None else "name:" + normalise_name(e.name or "")


def _compared(e: DesignationEntry, what: str) -> object:
    if what == "dates":
        return e.dates or [e.designated]
    return getattr(e, what)


def diff_entries(current: list[DesignationEntry], new: list[DesignationEntry]) -> Diff:
    """Entries matched by identifier (by normalised name when they have none)."""
    old = {_key(e): e for e in current}
    fresh = {_key(e): e for e in new}
    diff = Diff()
    for key, e in fresh.items():
        before = old.get(key)
        if before is None:
            diff.added.append(e)
            continue
        fields = [f for f in _COMPARED if _compared(before, f) != _compared(e, f)]
        if fields:
            diff.changed.append((before, e, fields))
    diff.removed = [e for key, e in old.items() if key not in fresh]
    return diff


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(d.isoformat() if isinstance(d, date) else str(d) for d in value) or "—"
    return str(value) if value not in (None, "") else "—"


def format_diff(diff: Diff) -> str:
    """One line per added, removed or changed entry, then the counts."""
    lines = [f"added: {e.label}" for e in diff.added]
    lines += [f"removed: {e.label}" for e in diff.removed]
    for before, after, fields in diff.changed:
        parts = [f"{f} {_shown(_compared(before, f))} -> {_shown(_compared(after, f))}"
                 for f in fields]  # fmt: skip
        lines.append(f"changed: {after.label}: {'; '.join(parts)}")
    lines.append(
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    )
    return "\n".join(lines)
