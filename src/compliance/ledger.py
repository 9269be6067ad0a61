"""The ledger: every record read ends evaluated, duplicate, superseded or rejected.

Outcomes depend on the set of records, never on their order: a record with `supersedes: X`
replaces X; the same id twice with identical content is one record; the same id with
different content (and no correction) rejects every copy as a conflict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.events import Shipment, parse_shipment
from compliance.report import Accounting, Rejection

__all__ = ["Ledger", "RawRecord", "reconcile"]


@dataclass(frozen=True)
class RawRecord:
    """A record as read, with where it came from; `problems` are reading errors."""

    data: Mapping[str, Any]
    source: str
    line: int | None = None
    index: int | None = None
    problems: tuple[str, ...] = ()

    def where(self) -> str:
        if self.line is not None:
            return f"{self.source}:{self.line}"
        if self.index is not None:
            return f"{self.source}[{self.index}]"
        return self.source

    def rejection(self, reasons: list[str]) -> Rejection:
        raw_id = self.data.get("id") if isinstance(self.data, Mapping) else None
        return Rejection(
            source=self.source,
            line=self.line,
            index=self.index,
            id=str(raw_id) if raw_id not in (None, "") else None,
            reasons=reasons,
        )


@dataclass
class Ledger:
    """The outcome of reconciling a log."""

    accepted: list[Shipment] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)
    rejected: list[Rejection] = field(default_factory=list)


def validate(record: RawRecord) -> Shipment | list[str]:
    """A record's shipment, or its reasons for rejection."""
    if record.problems:
        return list(record.problems)
    result = parse_shipment(record.data)
    if isinstance(result, Shipment):
        return result
    return [str(p) for p in result]


def reconcile(records: Iterable[RawRecord | tuple[RawRecord, Shipment]]) -> Ledger:
    """Resolve duplicates, corrections and conflicts; account for every record.

    Items may come pre-validated as `(record, shipment)` pairs (the stream engine
    validates once, as events arrive).
    """
    read = 0
    rejected: list[tuple[RawRecord, list[str]]] = []
    by_id: dict[str, list[tuple[RawRecord, Shipment]]] = defaultdict(list)
    for item in records:
        read += 1
        if isinstance(item, tuple):
            record, shipment = item
        else:
            record, result = item, validate(item)
            if isinstance(result, list):
                rejected.append((record, result))
                continue
            shipment = result
        by_id[shipment.id].append((record, shipment))

    duplicates = 0
    kept: dict[str, tuple[RawRecord, Shipment]] = {}
    for ident, copies in by_id.items():
        first = copies[0][1]
        if all(s == first for _, s in copies[1:]):
            # Keep the earliest copy by location so the kept record's line is stable.
            kept[ident] = min(copies, key=lambda c: _location_key(c[0]))
            duplicates += len(copies) - 1
            continue
        places = ", ".join(sorted(r.where() for r, _ in copies))
        for record, _ in copies:
            rejected.append(
                (
                    record,
                    [
                        f"id: {ident!r} appears with different content at "
                        f"{places}; use supersedes to correct a record"
                    ],
                )
            )

    superseded = _apply_corrections(kept, rejected)
    accepted = [s for ident, (_, s) in kept.items() if ident not in superseded]
    accepted.sort(key=lambda s: (s.date, s.id))
    rejections = sorted(
        (r.rejection(reasons) for r, reasons in rejected),
        key=lambda r: (r.source, r.line or 0, r.index or 0),
    )
    return Ledger(
        accepted=accepted,
        accounting=Accounting(
            read=read,
            evaluated=len(accepted),
            duplicates=duplicates,
            superseded=len(superseded),
            rejected=len(rejections),
        ),
        rejected=rejections,
    )


def _location_key(record: RawRecord) -> tuple[str, int]:
    return (record.source, record.line if record.line is not None else (record.index or 0))


def _apply_corrections(
    kept: dict[str, tuple[RawRecord, Shipment]],
    rejected: list[tuple[RawRecord, list[str]]],
) -> set[str]:
    """Mark superseded ids; reject corrections that cannot apply. Returns superseded ids."""
    while True:
        targets: dict[str, list[str]] = defaultdict(list)
        for ident, (_, s) in kept.items():
            if s.supersedes is not None:
                targets[s.supersedes].append(ident)
        bad: dict[str, str] = {}
        for target, correctors in targets.items():
            if len(correctors) > 1:
                for c in correctors:
                    bad[c] = (
                        f"supersedes: {target!r} is corrected by several records "
                        f"({', '.join(sorted(correctors))}); keep one correction"
                    )
            elif target == correctors[0]:
                bad[correctors[0]] = f"supersedes: the record names itself ({target!r})"
            elif target not in kept:
                bad[correctors[0]] = f"supersedes: no record with id {target!r} in the log"
        if not bad:
            for ident in kept:
                seen = {ident}
                cursor = kept[ident][1].supersedes
                while cursor is not None and cursor in kept:
                    if cursor in seen:
                        bad[ident] = "supersedes: corrections form a cycle"
                        break
                    seen.add(cursor)
                    cursor = kept[cursor][1].supersedes
        if not bad:
            return set(targets)
        for ident, reason in bad.items():
            record, _ = kept.pop(ident)
            rejected.append((record, [reason]))
