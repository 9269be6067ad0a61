"""The ledger: every record read ends evaluated, duplicate, superseded or rejected.

    >>> ledger = Ledger()
    >>> for record in records:                                     # doctest: +SKIP
    ...     ledger.add(record)
    >>> ledger.accepted, ledger.accounting, ledger.rejected        # doctest: +SKIP

Outcomes depend on the set of records, never on their order: a record with `supersedes: X`
replaces X; the same id twice with identical content is one record; the same id with
different content (and no correction) rejects every copy as a conflict. A correction is
rejected when several records correct one target (all of them are), when it names itself,
when its target is not in the log or is rejected itself (so a rejection cascades up a
chain of corrections), or when corrections form a cycle.

Records are added one at a time (`add`); a whole log is a fold of `add` (`reconcile`).
Corrections are resolved lazily, per connected component of the supersedes graph (ids
joined by `supersedes`), only for the components that records touched since the last
resolution: a chain or a cycle of n corrections costs O(n log n) in all, not O(n²). An id
seen once, correcting nothing and named by no correction (nearly every id of a log) is
accepted at once, outside the graph, until another copy or a correction names it.

What is kept of a record is where it was read (for the rejections and the superseded
list) and its content. A `compact` ledger (a live monitor's, over a feed without end)
keeps a 128-bit BLAKE2b digest of the content instead, which decides duplicate or
conflict as comparing the shipments would (amounts by value, `1.0` = `1`), and holds a
shipment only when the caller says it will need it back (`add(..., keep=True)`).
"""

from __future__ import annotations

import marshal
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context
from hashlib import blake2b
from operator import itemgetter
from typing import Any

from compliance.errors import located
from compliance.events import DATE_FIELDS, FIELDS, RANGE_FIELDS, Shipment, parse_shipment
from compliance.report import Accounting, Rejection, Supersession
from compliance.trusted import trusted

__all__ = [
    "Ledger",
    "LedgerChanges",
    "Place",
    "RawRecord",
    "content_digest",
    "reconcile",
    "validate",
]


@dataclass(frozen=True)
class RawRecord:
    """A record as read, with where it came from; `problems` are reading errors."""

    data: Mapping[str, Any]
    source: str
    line: int | None = None
    index: int | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def at(
        cls, data: Mapping[str, Any], source: str, line: int | None, index: int | None
    ) -> RawRecord:
        """`RawRecord(data, source, line, index)` with no reading problems, made without
        the frozen dataclass's `__init__` (one attribute set at a time): a live feed
        makes one per event."""
        record = object.__new__(cls)
        record.__dict__.update(data=data, source=source, line=line, index=index, problems=())
        return record

    def where(self) -> str:
        return located(self.source, self.line, self.index)

    def rejection(self, reasons: list[str]) -> Rejection:
        return _rejection_at(self.place(), reasons)

    def place(self) -> Place:
        """Where the record was read, and its id as written: all a rejection needs."""
        raw_id = self.data.get("id") if isinstance(self.data, Mapping) else None
        shown = str(raw_id) if raw_id not in (None, "") else None
        return (self.source, self.line, self.index, shown)


# Where a record was read and its id as written: (source, line, index, id), all a
# rejection or a superseded entry needs, and what the ledger keeps of a record (never its
# data). A plain tuple: the garbage collector leaves tuples of text and numbers alone, and
# a live ledger holds one per record.
Place = tuple[str, int | None, int | None, str | None]


def _where(place: Place) -> str:
    source, line, index, _ = place
    return located(source, line, index)


def _rejection_at(place: Place, reasons: list[str]) -> Rejection:
    source, line, index, ident = place
    return Rejection(source=source, line=line, index=index, id=ident, reasons=reasons)


def validate(record: RawRecord) -> Shipment | list[str]:
    """A record's shipment, or its reasons for rejection."""
    if record.problems:
        return list(record.problems)
    result = parse_shipment(record.data)
    if isinstance(result, Shipment):
        return result
    return [str(p) for p in result]


@dataclass(frozen=True)
class LedgerChanges:
    """What `Ledger.changes()` reports: shipments that became accepted since the last
    ask, and shipments accepted then that are not any more (superseded by a correction,
    or rejected: a conflicting copy of their id arrived, or a correction of theirs turned
    out to be rejected). Both in (date, id) order."""

    accepted: list[Shipment] = field(default_factory=list)
    withdrawn: list[Shipment] = field(default_factory=list)


_CONTENT = (*FIELDS, "extra", "inferred_from")
_AMOUNT_FIELDS = ("quantity", "value", *RANGE_FIELDS)
_DATE_FIELDS = ("date", "reported_on", "contract_date", "unloaded_on")
assert set(_DATE_FIELDS) == DATE_FIELDS
_OTHER_FIELDS = tuple(f for f in _CONTENT if f not in (*_AMOUNT_FIELDS, *_DATE_FIELDS, "extra"))
_OTHERS = itemgetter(*_OTHER_FIELDS)
_DATES = itemgetter(*_DATE_FIELDS)
_AMOUNTS = itemgetter(*_AMOUNT_FIELDS)
# Enough precision that normalising never rounds: equal amounts, one spelling.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def content_digest(shipment: Shipment) -> bytes:
    """128 bits that are equal for two shipments exactly when they are equal (amounts
    compared by value, as `==` does: `Decimal('1.0') == Decimal('1')`).

    The values as marshal writes them (version 2: no references, so the bytes never
    depend on which objects are shared) — the other fields in field order, the extra
    columns sorted, the dates as day numbers, the amounts normalised — hashed with
    BLAKE2b."""
    values = shipment.__dict__
    if len(values) < len(_CONTENT):
        values = {n: values.get(n) for n in _CONTENT}
    extra = values["extra"]
    day, reported, contract, unloaded = _DATES(values)
    quantity, value, low, high = _AMOUNTS(values)
    exact = _EXACT
    parts = (
        _OTHERS(values),
        tuple(sorted(extra.items())) if extra else None,
        day.toordinal(),
        None if reported is None else reported.toordinal(),
        None if contract is None else contract.toordinal(),
        None if unloaded is None else unloaded.toordinal(),
        None if quantity is None else str(quantity.normalize(exact)),
        None if value is None else str(value.normalize(exact)),
        None if low is None else str(low.normalize(exact)),
        None if high is None else str(high.normalize(exact)),
    )
    return blake2b(marshal.dumps(parts, 2), digest_size=16).digest()


Content = Shipment | bytes  # a shipment, or its digest in a compact ledger


class _Copies:
    """Every valid record of one id."""

    __slots__ = (
        "best",
        "conflict",
        "content",
        "records",
        "released",
        "shipment",
        "supersedes",
    )

    def __init__(
        self, place: Place, content: Content, shipment: Shipment | None, supersedes: str | None
    ) -> None:
        self.records = [place]
        self.content = content  # the first copy's: every later copy is compared to it
        self.best = place  # the copy kept: the earliest by location
        self.shipment = shipment  # the kept copy's shipment, if held
        self.supersedes = supersedes
        self.conflict = False
        self.released = False  # its shipment was let go (`Ledger.release`): never held again


class _PlainIds:
    """Ids seen once, correcting nothing, named by no correction: each one's content,
    where it was read and its shipment if held. `ids` answers whether an id is one."""

    __slots__ = ("_entries", "ids")

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Content, Place, Shipment | None]] = {}
        self.ids: dict[str, Any] = self._entries

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, ident: str, content: Content, record: RawRecord, held: Shipment | None) -> None:
        self._entries[ident] = (content, record.place(), held)

    def pop(self, ident: str) -> tuple[Content, Place, Shipment | None]:
        return self._entries.pop(ident)

    def held(self) -> list[Shipment]:
        return [s for _, _, s in self._entries.values() if s is not None]

    def held_by(self, ident: str) -> Shipment | None:
        return self._entries[ident][2]

    def content(self, ident: str) -> Content:
        return self._entries[ident][0]

    def released(self, ident: str) -> bool:
        return False

    def release(self, ident: str) -> None:
        raise ValueError("only a compact ledger can let a shipment go")


_NO_NUMBER = -(2**63)  # a line or index that is None, in the arrays below
_NUMBERS = range(_NO_NUMBER + 1, 2**63)  # what the arrays hold (a place outside: apart)


class _CompactIds(_PlainIds):
    """The same, for a ledger without end: per id one int (its slot) in a dict, and in
    flat arrays the slot's 16-byte digest and its source, line and index as three
    64-bit numbers, so an id costs its text, a dict entry, an int and 40 bytes, and
    nothing the garbage collector walks. The id as written is kept apart only when it
    differs from the stored id (stripped, or not text)."""

    __slots__ = (
        "_digests",
        "_held",
        "_last",
        "_numbers",
        "_odd",
        "_shown",
        "_slots",
        "_source_of",
        "_sources_at",
    )

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}
        self.ids = self._slots
        self._digests = bytearray()
        self._numbers = array("q")  # per slot: source, line, index
        self._source_of: dict[str, int] = {}
        self._sources_at: list[str] = []
        self._last: tuple[str, int] = ("", -1)  # the source of the last put, and its number
        self._shown: dict[int, str | None] = {}
        self._held: dict[int, Shipment] = {}
        self._odd: dict[int, Place] = {}  # places with a number the arrays cannot hold

    def put(self, ident: str, content: Content, record: RawRecord, held: Shipment | None) -> None:
        assert isinstance(content, bytes) and len(content) == 16
        numbers = self._numbers
        slot = len(numbers) // 3
        self._slots[ident] = slot
        self._digests += content
        name, source = self._last
        if record.source is not name:
            name = record.source
            found = self._source_of.get(name)
            if found is None:
                found = self._source_of[name] = len(self._sources_at)
                self._sources_at.append(name)
            source = found
            self._last = (name, source)
        line, index = record.line, record.index
        if (line is None or line in _NUMBERS) and (index is None or index in _NUMBERS):
            numbers.extend(
                (
                    source,
                    _NO_NUMBER if line is None else line,
                    _NO_NUMBER if index is None else index,
                )
            )
            if record.data.get("id") is not ident:
                shown = record.place()[3]
                if shown != ident:
                    self._shown[slot] = shown
        else:
            numbers.extend((source, _NO_NUMBER, _NO_NUMBER))
            self._odd[slot] = record.place()
        if held is not None:
            self._held[slot] = held

    def pop(self, ident: str) -> tuple[Content, Place, Shipment | None]:
        # The slot's array entries stay (a hole): an id leaves this set only when another
        # copy or a correction names it, which is rare.
        slot = self._slots.pop(ident)
        content = bytes(self._digests[16 * slot : 16 * slot + 16])
        held = self._held.pop(slot, None)
        odd = self._odd.pop(slot, None)
        if odd is not None:
            return content, odd, held
        source, line, index = self._numbers[3 * slot : 3 * slot + 3]
        source = source if source >= 0 else -1 - source  # see release
        place = (
            self._sources_at[source],
            None if line == _NO_NUMBER else line,
            None if index == _NO_NUMBER else index,
            self._shown.pop(slot, ident),
        )
        return content, place, held

    def held(self) -> list[Shipment]:
        return list(self._held.values())

    def held_by(self, ident: str) -> Shipment | None:
        return self._held.get(self._slots[ident])

    def released(self, ident: str) -> bool:
        return self._numbers[3 * self._slots[ident]] < 0

    def release(self, ident: str) -> None:
        # Marked in the slot's source number (-1 - source): no memory beyond the entry.
        slot = self._slots[ident]
        self._held.pop(slot, None)
        source = self._numbers[3 * slot]
        if source >= 0:
            self._numbers[3 * slot] = -1 - source

    def content(self, ident: str) -> Content:
        slot = self._slots[ident]
        return bytes(self._digests[16 * slot : 16 * slot + 16])


# A kept id's resolved outcome.
_ACCEPTED, _SUPERSEDED, _REJECTED = 0, 1, 2


class Ledger:
    """Reconciles records one at a time; asked at any point, it reports the log so far.

    `accepted`, `accounting` and `rejected` are those of every record added, whatever
    the order of the adds. `changes()` gives what a live consumer needs: which shipments
    entered or left `accepted` since it last asked.
    """

    def __init__(self, *, compact: bool = False) -> None:
        self._compact = compact
        self._read = 0
        self._latest: date | None = None
        self._counted_read = 0
        self._counted_duplicates = 0
        self._invalid: list[Rejection] = []
        # Valid records the caller refused (`refuse`): where read and why, as plain tuples
        # (a live monitor may refuse many; the collector leaves tuples of text alone).
        self._refused: list[tuple[Place, tuple[str, ...]]] = []
        # Ids seen once, correcting nothing, named by no correction: accepted, outside the
        # graph (content, where read, the shipment if held).
        self._plain: _PlainIds = _CompactIds() if compact else _PlainIds()
        self._ids: dict[str, _Copies] = {}
        self._duplicates = 0  # extra copies of ids without a conflict
        self._conflicted = 0  # records of ids with a conflict
        self._conflicts: set[str] = set()
        # The supersedes graph as a union-find over ids; an id with no entry in _parent is
        # its own root, and a root with no entry in _members is alone in its component.
        self._parent: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        self._dirty: set[str] = set()  # ids whose component changed since it was resolved
        self._status: dict[str, int] = {}  # kept id -> _ACCEPTED / _SUPERSEDED / _REJECTED
        self._reasons: dict[str, str] = {}  # rejected correction -> reason
        self._accepted: dict[str, Shipment | None] = {}  # (None: not held)
        self._superseded = 0
        self._replaced_by: dict[str, str] = {}  # superseded id -> the id of its correction
        # id -> (accepted shipment at the last changes(), accepted shipment now)
        self._delta: dict[str, tuple[Shipment | None, Shipment | None]] = {}

    # Adding -------------------------------------------------------------------------

    def add(
        self, record: RawRecord, shipment: Shipment | None = None, *, keep: bool = True
    ) -> bool:
        """Take one record; `shipment` when the caller has validated it already. True when
        it was accepted at once and moved nothing else (a new id, correcting nothing and
        named by no correction): no other record's outcome changed.

        `keep=False` (compact ledgers only): the caller will not need this shipment back,
        so `accepted` and `changes()` leave it out; it is accounted for all the same."""
        if not (keep or self._compact):
            raise ValueError("only a compact ledger can leave a shipment out")
        self._read += 1
        if shipment is None:
            result = validate(record)
            if isinstance(result, list):
                self._invalid.append(record.rejection(result))
                return False
            shipment = result
        latest = self._latest
        if latest is None or shipment.date > latest:
            self._latest = latest = shipment.date
        reported = shipment.reported_on
        if reported is not None and reported > latest:
            self._latest = reported
        ident = shipment.id
        held = shipment if keep else None
        content = content_digest(shipment) if self._compact else shipment
        plain = self._plain
        if ident in plain.ids:
            self._promote(ident)
        copies = self._ids.get(ident)
        target = shipment.supersedes
        if (
            copies is None
            and target is None
            and ident not in self._parent
            and ident not in self._members
        ):
            plain.put(ident, content, record, held)
            if held is not None:
                self._delta[ident] = (None, held)
            return True
        place = record.place()
        if copies is None:
            self._ids[ident] = _Copies(place, content, held, target)
            if target is not None:
                if target in self._plain.ids:
                    self._promote(target)
                self._union(ident, target)
        else:
            copies.records.append(place)
            if copies.conflict:
                self._conflicted += 1
            elif content == copies.content:
                self._duplicates += 1
                if _location_key(place) < _location_key(copies.best):
                    copies.best = place
                    if held is not None and not copies.released:
                        copies.shipment = held
                    if ident in self._accepted:  # the same content, now from the earlier copy
                        self._accepted[ident] = copies.shipment
            else:
                copies.conflict = True
                self._conflicts.add(ident)
                self._duplicates -= len(copies.records) - 2
                self._conflicted += len(copies.records)
        self._dirty.add(ident)
        return False

    def _promote(self, ident: str) -> None:
        """Bring a plain id into the graph (another copy or a correction names it)."""
        released = self._plain.released(ident)
        content, place, held = self._plain.pop(ident)
        copies = self._ids[ident] = _Copies(place, content, held, None)
        copies.released = released
        self._status[ident] = _ACCEPTED
        self._accepted[ident] = held

    def refuse(self, record: RawRecord, reasons: list[str]) -> Rejection:
        """Account for a valid record the caller will not evaluate (one behind a live
        monitor's horizon): read and rejected with these reasons, and nothing else."""
        self._read += 1
        place = record.place()
        self._refused.append((place, tuple(reasons)))
        return _rejection_at(place, reasons)

    def release(self, ident: str) -> None:
        """Let go of the shipment held for an id (compact ledgers only; a live monitor's
        horizon passed it): its entry stays, so a copy sent again is still a duplicate,
        but the ledger never holds its shipment again and `accepted` and `changes()`
        leave it out. Whatever would change its outcome is for the caller to refuse
        (`reconciled_with` finds it); call it between `changes()` and the next `add`."""
        if not self._compact:
            raise ValueError("only a compact ledger can let a shipment go")
        if ident in self._plain.ids:
            self._plain.release(ident)
            return
        copies = self._ids.get(ident)
        if copies is None:
            return
        copies.shipment = None
        copies.released = True
        if ident in self._accepted:
            self._accepted[ident] = None

    def known(self, ident: str) -> bool:
        """Whether a valid record has this id, or a correction names it."""
        return (
            ident in self._plain.ids
            or ident in self._ids
            or ident in self._parent
            or ident in self._members
        )

    def is_copy(self, shipment: Shipment) -> bool:
        """Whether a valid record with this id and this very content was added (the
        first copy of its id): another copy is a duplicate (or one more copy of a
        conflict) and changes no other record's outcome."""
        ident = shipment.id
        content = content_digest(shipment) if self._compact else shipment
        if ident in self._plain.ids:
            return self._plain.content(ident) == content
        copies = self._ids.get(ident)
        return copies is not None and copies.content == content

    def reconciled_with(self, shipment: Shipment) -> list[tuple[str, Shipment | None, bool]]:
        """The valid records whose outcome a record with this content could change (its
        id's and its target's, with every id joined to them by corrections): (id, the
        shipment held or None, whether it was released)."""
        out: list[tuple[str, Shipment | None, bool]] = []
        seen: set[str] = set()
        plain = self._plain
        for start in (shipment.id, shipment.supersedes):
            if start is None:
                continue
            root = self._find(start)
            for ident in self._members.get(root) or [root]:
                if ident in seen:
                    continue
                seen.add(ident)
                if ident in plain.ids:
                    out.append((ident, plain.held_by(ident), plain.released(ident)))
                elif (copies := self._ids.get(ident)) is not None:
                    out.append((ident, copies.shipment, copies.released))
        return out

    def _note_dates(self, *days: date | None) -> None:
        for day in days:
            if day is not None and (self._latest is None or day > self._latest):
                self._latest = day

    @property
    def latest_date(self) -> date | None:
        """The latest delivery or reporting date of any valid record added (the default
        evaluation date: how far the log has got)."""
        return self._latest

    def add_counted(self, read: int, duplicates: int = 0, latest: date | None = None) -> None:
        """Account for records the caller evaluates itself, without handing them over.

        The caller proves, for each of the `read` records: it is valid as written; and
        `read - duplicates` of them carry distinct ids that no other record of the log
        carries and that no correction names, while the other `duplicates` are exact
        copies (same content) of one of those, none with `supersedes`. Such records can
        only end evaluated (`read - duplicates`) or duplicate, whatever else the log
        holds; they appear in `accounting` but not in `accepted`. The columnar engine
        proves this in bulk for the clean rows whose id hash is unique. `latest` is the
        latest delivery or reporting date among them (for `latest_date`).
        """
        if read < 0 or not 0 <= duplicates <= read:
            raise ValueError(f"add_counted(read={read}, duplicates={duplicates})")
        self._note_dates(latest)
        self._counted_read += read
        self._counted_duplicates += duplicates

    # Asking -------------------------------------------------------------------------

    @property
    def accepted(self) -> list[Shipment]:
        """The shipments evaluated, in (date, id) order."""
        self._resolve()
        held = [s for s in self._accepted.values() if s is not None]
        held += self._plain.held()
        return sorted(held, key=_order)

    @property
    def accounting(self) -> Accounting:
        self._resolve()
        rejected = len(self._invalid) + len(self._refused) + self._conflicted + len(self._reasons)
        counted = self._counted_read - self._counted_duplicates
        return Accounting(
            read=self._read + self._counted_read,
            evaluated=len(self._accepted) + len(self._plain) + counted,
            duplicates=self._duplicates + self._counted_duplicates,
            superseded=self._superseded,
            rejected=rejected,
        )

    @property
    def superseded(self) -> list[Supersession]:
        """Every superseded record, where it was read and the id that replaced it, in
        (source, line, index, id) order: the audit trail of `accounting.superseded`."""
        self._resolve()
        out = []
        for ident, by in self._replaced_by.items():
            source, line, index, _ = self._ids[ident].best
            out.append(  # values the ledger validated: no second validation
                trusted(
                    Supersession,
                    {"id": ident, "by": by, "source": source, "line": line, "index": index},
                )
            )
        out.sort(key=lambda s: (s.source, s.line or 0, s.index or 0, s.id))
        return out

    @property
    def ids(self) -> int:
        """How many distinct ids of valid records the ledger knows."""
        return len(self._plain) + len(self._ids)

    @property
    def held(self) -> int:
        """How many shipments the ledger holds (a compact one: those kept)."""
        return len(self._plain.held()) + sum(c.shipment is not None for c in self._ids.values())

    @property
    def rejected_count(self) -> int:
        """How many records are rejected now (what `accounting.rejected` says, cheaply)."""
        self._resolve()
        return len(self._invalid) + len(self._refused) + self._conflicted + len(self._reasons)

    @property
    def rejected(self) -> list[Rejection]:
        """Every rejected record with its reasons, in (source, line, index) order."""
        out = [*self._invalid, *(_rejection_at(p, list(r)) for p, r in self._refused)]
        out += self.reconciliation_rejected
        out.sort(key=_rejection_order)
        return out

    @property
    def reconciliation_rejected(self) -> list[Rejection]:
        """The valid records rejected by reconciliation (conflicting copies of an id,
        corrections that cannot apply), with their reasons, in (source, line, index)
        order: the only rejections a later record can add to or change."""
        self._resolve()
        out: list[Rejection] = []
        for ident in self._conflicts:
            records = self._ids[ident].records
            places = ", ".join(sorted(_where(r) for r in records))
            reason = (
                f"id: {ident!r} appears with different content at {places}; "
                "use supersedes to correct a record"
            )
            out.extend(_rejection_at(r, [reason]) for r in records)
        for ident, reason in self._reasons.items():
            out.append(_rejection_at(self._ids[ident].best, [reason]))
        out.sort(key=_rejection_order)
        return out

    def changes(self) -> LedgerChanges:
        """Shipments that entered or left `accepted` since the last call (or since the
        ledger was made).

        Only the components of the supersedes graph that records touched since then are
        resolved again, so a call costs O(size of the touched components), not of the
        log. A shipment that left and came back in between (or came and left) is not
        reported; an id stays the same shipment while accepted (its content cannot change
        without a conflict, which rejects it).
        """
        if not self._dirty and not self._delta:
            return LedgerChanges()
        self._resolve()
        accepted: list[Shipment] = []
        withdrawn: list[Shipment] = []
        for before, now in self._delta.values():
            if before is None and now is not None:
                accepted.append(now)
            elif before is not None and now is None:
                withdrawn.append(before)
        self._delta.clear()
        return LedgerChanges(sorted(accepted, key=_order), sorted(withdrawn, key=_order))

    # Resolution -----------------------------------------------------------------------

    def _find(self, ident: str) -> str:
        parent = self._parent
        root = ident
        while (up := parent.get(root)) is not None:
            root = up
        while ident != root:  # path compression
            up = parent[ident]
            parent[ident] = root
            ident = up
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        members_a = self._members.get(ra) or [ra]
        members_b = self._members.get(rb) or [rb]
        if len(members_a) < len(members_b):  # the smaller joins the larger: O(n log n)
            ra, rb, members_a, members_b = rb, ra, members_b, members_a
        self._parent[rb] = ra
        members_a.extend(members_b)
        self._members[ra] = members_a
        self._members.pop(rb, None)
        self._dirty.add(ra)

    def _resolve(self) -> None:
        if not self._dirty:
            return
        roots = {self._find(i) for i in self._dirty}
        self._dirty.clear()
        for root in roots:
            members = self._members.get(root)
            if members is not None:
                self._settle(members)
                continue
            # Alone in its component: no correction names it, and it corrects nothing
            # but perhaps itself.
            copies = self._ids.get(root)
            if copies is None or copies.conflict:
                self._record(root, None, None, None)
            elif copies.supersedes is None:
                self._record(root, _ACCEPTED, copies.shipment, None)
            else:
                reason = f"supersedes: the record names itself ({root!r})"
                self._record(root, _REJECTED, copies.shipment, reason)

    def _settle(self, members: list[str]) -> None:
        """Resolve one component: linear in its size. Within a component, after the
        targets with several correctors lose all of them, every id has at most one
        corrector left, so what remains is paths and cycles: rejections cascade along
        paths by a worklist, and one walk finds the cycles."""
        kept: dict[str, _Copies] = {}
        for ident in members:
            copies = self._ids.get(ident)
            if copies is not None and not copies.conflict:
                kept[ident] = copies
        correctors: dict[str, list[str]] = defaultdict(list)
        for ident, kept_copies in kept.items():
            if kept_copies.supersedes is not None:
                correctors[kept_copies.supersedes].append(ident)
        reasons: dict[str, str] = {}
        for target, those in correctors.items():
            if len(those) > 1:
                names = ", ".join(sorted(those))
                for c in those:
                    reasons[c] = (
                        f"supersedes: {target!r} is corrected by several records ({names}); "
                        "keep one correction"
                    )
            elif target == those[0]:
                reasons[target] = f"supersedes: the record names itself ({target!r})"
            elif target not in kept:
                reasons[those[0]] = _missing(target, target in self._ids)
        self._cascade(list(reasons), correctors, reasons)
        # What is left: each live corrector's target is kept and live, with no other
        # corrector. Walk each chain once; a walk that meets itself has found a cycle.
        walked: dict[str, str] = {}  # id -> where the walk that reached it started
        cycles: list[str] = []
        for start, s in kept.items():
            if s.supersedes is None or start in reasons or start in walked:
                continue
            path: list[str] = []
            cursor: str | None = start
            while cursor is not None and cursor not in walked:
                walked[cursor] = start
                path.append(cursor)
                cursor = kept[cursor].supersedes
            if cursor is not None and walked[cursor] == start:
                cycles.extend(path[path.index(cursor) :])
        for ident in cycles:
            reasons[ident] = "supersedes: corrections form a cycle"
        # No live record corrects a cycle (its target would have two correctors), so
        # this finds nothing; it keeps the cascade true by construction.
        self._cascade(cycles, correctors, reasons)

        superseded = {
            c.supersedes: i
            for i, c in kept.items()
            if c.supersedes is not None and i not in reasons
        }
        for ident in members:
            copies = kept.get(ident)
            if copies is None:
                status = None
            elif ident in reasons:
                status = _REJECTED
            elif ident in superseded:
                status = _SUPERSEDED
            else:
                status = _ACCEPTED
            shipment = copies.shipment if copies is not None else None
            self._record(ident, status, shipment, reasons.get(ident), superseded.get(ident))

    @staticmethod
    def _cascade(
        work: list[str], correctors: Mapping[str, list[str]], reasons: dict[str, str]
    ) -> None:
        """Reject every correction of a rejected record, and so on up the chain."""
        while work:
            rejected = work.pop()
            for c in correctors.get(rejected, ()):
                if c not in reasons:
                    reasons[c] = _missing(rejected, True)
                    work.append(c)

    def _record(
        self,
        ident: str,
        status: int | None,
        shipment: Shipment | None,
        reason: str | None,
        by: str | None = None,
    ) -> None:
        if status == _SUPERSEDED and by is not None:
            self._replaced_by[ident] = by
        else:
            self._replaced_by.pop(ident, None)
        old = self._status.get(ident)
        if old == _SUPERSEDED:
            self._superseded -= 1
        if status is None:
            self._status.pop(ident, None)
        else:
            self._status[ident] = status
        if status == _SUPERSEDED:
            self._superseded += 1
        if reason is None:
            self._reasons.pop(ident, None)
        else:
            self._reasons[ident] = reason
        was = ident in self._accepted
        accepted = status == _ACCEPTED
        if not was and not accepted:
            return
        before = self._accepted.pop(ident) if was else None
        now = shipment if accepted else None
        if accepted:
            self._accepted[ident] = now
        if was != accepted and (before is not None or now is not None):  # held ones only
            first = self._delta[ident][0] if ident in self._delta else before
            self._delta[ident] = (first, now)


def _rejection_order(r: Rejection) -> tuple[str, int, int, list[str]]:
    return (r.source, r.line or 0, r.index or 0, r.reasons)


def _missing(target: str, in_log: bool) -> str:
    if in_log:
        return f"supersedes: the record with id {target!r} that it corrects is rejected"
    return f"supersedes: no record with id {target!r} in the log"


def _order(s: Shipment) -> tuple[object, str]:
    return (s.date, s.id)


def _location_key(place: Place) -> tuple[str, int]:
    source, line, index, _ = place
    return (source, line if line is not None else (index or 0))


def reconcile(records: Iterable[RawRecord | tuple[RawRecord, Shipment]]) -> Ledger:
    """The ledger of a whole log: a fold of `Ledger.add` over its records.

    Items may come pre-validated as `(record, shipment)` pairs (the stream engine
    validates once, as events arrive).
    """
    ledger = Ledger()
    for item in records:
        if isinstance(item, tuple):
            ledger.add(*item)
        else:
            ledger.add(item)
    return ledger
