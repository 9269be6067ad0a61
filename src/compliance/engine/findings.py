"""Findings from matched events: shared by every engine, so their reports are identical.

An engine decides which events match which rule; this module turns those matches into
findings (DESIGN §4): period totals in exact decimals, triggers by (date, id), threshold
notices, rolling windows, deadlines, designations and unconvertible events. A cap
finding's series (its evidence) is built here too, from the same running totals that
decide it, so every report draws what the findings say.
"""

from __future__ import annotations

import bisect
import decimal
import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from compliance.engine.price_caps import price_cap_findings
from compliance.events import IMO_FIELDS, Shipment, imo_check_digit_ok
from compliance.periods import Span, calendar_span, months_span
from compliance.report import (
    SEVERITY,
    ChainLink,
    Finding,
    FindingKind,
    Measurement,
    PeriodRange,
    Series,
)
from compliance.rulebook.correlation import CompiledCorrelation, Inference
from compliance.rulebook.evaluator import compile_selector
from compliance.rulebook.rulebook import Conversion, Rulebook
from compliance.rulebook.schema import (
    CalendarPeriod,
    CapRule,
    CorrelationRule,
    DeadlineRule,
    DesignationEntry,
    DesignationRule,
    FixedPeriod,
    Measure,
    MonthsPeriod,
    PriceCapRule,
    ProhibitionRule,
    RollingPeriod,
    Rule,
    UnnotifiedRule,
)
from compliance.rulebook.selectors import normalise_name
from compliance.trusted import trusted
from compliance.units import CONTEXT, convert, dimension, for_people, format_amount

__all__ = [
    "EVENT_KINDS",
    "Amounts",
    "PeriodTally",
    "amount_in",
    "cap_amounts",
    "cap_event_findings",
    "cap_period_findings",
    "cap_rolling_findings",
    "conversion_in",
    "factor_label",
    "findings_for_rule",
    "inference_finding",
    "is_ranged",
    "is_unquantified",
    "one_edit_apart",
    "sort_findings",
    "span_of",
]

# The kinds a cap raises per event (not per period): engines that find periods on their
# own take these from the events that could not be counted.
EVENT_KINDS = frozenset({"unconvertible", "unquantified"})
Amounts = tuple[Decimal | None, ...]  # one per measure; None = unconvertible


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def findings_for_rule(
    rule: Rule, matched: Sequence[Shipment], rulebook: Rulebook, *, as_of: date | None = None
) -> list[Finding]:
    """Every finding of `rule`, given the events that match it (in any order).

    `as_of` is the evaluation date: a report not yet due on it is `pending`, not
    `unreported` (None: every deadline has passed)."""
    events = sorted((e for e in matched if e.date in rule.effective), key=_order)
    if isinstance(rule, CapRule):
        return _cap(rule, events, rulebook)
    if isinstance(rule, ProhibitionRule):
        return [
            _event_finding(rule, e, "prohibited", f"prohibited: shipment {e.id} on {e.date}")
            for e in events
        ]
    if isinstance(rule, DeadlineRule):
        return _deadline(rule, events, as_of)
    if isinstance(rule, DesignationRule):
        return _designation(rule, events)
    if isinstance(rule, PriceCapRule):
        return price_cap_findings(rule, events, rulebook)
    if isinstance(rule, UnnotifiedRule):
        return _unnotified(rule, events)
    if isinstance(rule, CorrelationRule):
        return []  # its findings are its inferences' (inference_finding)
    raise TypeError(f"unknown rule kind {rule!r}")


_order = operator.attrgetter("date", "id")  # events in (date, id) order


def amount_in(
    event: Shipment, measure: Measure, rulebook: Rulebook, *, lower: bool = False
) -> Decimal | None:
    """The event's contribution to a measure, or None when it cannot be expressed in it
    (`conversion_in` says which factor converted it).

    An estimate's bounds: the upper (`quantity_max`, else `quantity`, else `quantity_min`:
    a lower bound alone is all that is claimed) or, with `lower`, the lower (`quantity_min`,
    else `quantity`, else 0: an upper bound alone makes nothing certain)."""
    if measure.is_currency:
        if event.value is None or event.currency != measure.unit:
            return None
        return event.value
    if lower:
        low = event.quantity_min if event.quantity_min is not None else event.quantity
        quantity = low if low is not None or event.quantity_max is None else Decimal(0)
    else:
        high = event.quantity_max if event.quantity_max is not None else event.quantity
        quantity = high if high is not None else event.quantity_min
    if quantity is None or event.unit is None:
        return None
    if event.unit == measure.unit:  # what convert() gives, with no factor to look up
        return quantity
    used = conversion_in(event, measure, rulebook)
    factor = used.barrels_per_tonne if used is not None else None
    return convert(quantity, event.unit, measure.unit, factor)


def is_ranged(event: Shipment) -> bool:
    """Does the event give its amount as bounds (`quantity_min`, `quantity_max`)?"""
    return event.quantity_min is not None or event.quantity_max is not None


def is_unquantified(event: Shipment) -> bool:
    """An event with no amount at all (a sighting): it counts nowhere, and says so."""
    return (
        event.quantity is None
        and event.quantity_min is None
        and event.quantity_max is None
        and event.value is None
    )


@lru_cache(maxsize=1024)  # a series names one of a few factors for each of its events
def factor_label(conversion: Conversion) -> str:
    """`product_basket 8.33 bbl/t since 2018-01-01`: the factor a series point names."""
    since = f" since {conversion.since}" if conversion.since is not None else ""
    return f"{conversion.product} {format_amount(conversion.barrels_per_tonne)} bbl/t{since}"


def conversion_in(event: Shipment, measure: Measure, rulebook: Rulebook) -> Conversion | None:
    """The factor that converts the event's quantity into the measure's unit: None when
    none is needed (the unit is the measure's, or of its kind: volumes and masses convert
    exactly) or none is found (the amount is then unconvertible).

    >>> conversion_in(notified_tonnes, barrels, rulebook).to_dict()   # doctest: +SKIP
    {'product': 'product_basket', 'barrels_per_tonne': '8.33', 'by': 'hs_code', ...}
    """
    if (
        measure.is_currency
        or event.unit is None
        or dimension(event.unit) == dimension(measure.unit)
    ):
        return None
    return rulebook.conversion_for(event)


def _base(rule: Rule, kind: FindingKind, event: Shipment, message: str) -> dict[str, object]:
    return {
        "rule": rule.id,
        "kind": kind,
        "severity": SEVERITY[kind],
        "title": rule.label,
        "citation": rule.citation,
        "verified": rule.verified,
        "date": event.date,
        "trigger": event.id,
        "message": f"{rule.label}: {message} ({rule.citation})",
    }


def _event_finding(
    rule: Rule, event: Shipment, kind: FindingKind, message: str, **fields: object
) -> Finding:
    """A finding about one event; `fields` add to or override the common ones."""
    values = {**_base(rule, kind, event, message), "events": [event.id], **fields}
    if event.inferred_from:
        values["inferred"] = [event.id]
    return trusted(Finding, values)


def _deadline(rule: DeadlineRule, events: list[Shipment], as_of: date | None) -> list[Finding]:
    out = []
    terms = rule.terms
    for e in events:
        due = rule.due(e.date)
        if e.reported_on is None and as_of is not None and due >= as_of:
            out.append(
                _event_finding(
                    rule,
                    e,
                    "pending",
                    f"shipment {e.id} of {e.date} is not reported yet; due {terms} ({due}), "
                    f"not passed on {as_of}",
                    due=due,
                )
            )
            continue
        if e.reported_on is None:
            out.append(
                _event_finding(
                    rule,
                    e,
                    "unreported",
                    f"shipment {e.id} of {e.date} has no reporting date; due {terms} ({due})",
                    due=due,
                )
            )
            continue
        if e.reported_on > due:
            late = (e.reported_on - due).days
            deadline = (
                f"{rule.within.days}-day deadline"
                if rule.within
                else f"deadline of {due} ({terms})"
            )
            finding = _event_finding(
                rule,
                e,
                "late_report",
                f"shipment {e.id} of {e.date} reported on {e.reported_on}, {late} days after "
                f"the {deadline}",
                days_late=late,
                due=due,
            )
            out.append(finding)
    return out


def _designation(rule: DesignationRule, events: list[Shipment]) -> list[Finding]:
    listed = {e.identifier: e for e in rule.entries if e.identifier is not None}
    by_name: dict[str, list[DesignationEntry]] = defaultdict(list)
    for entry in rule.entries:
        if entry.identifier is None:
            for name in entry.names:
                by_name[name].append(entry)
    numbers = sorted(i for i in listed if len(i) == 7 and i.isdigit())
    known: dict[tuple[int, str], _Entry] = {}
    out = []
    for e in events:
        hits: list[tuple[str, str, DesignationEntry, bool]] = []  # field, value, entry, by name
        flagged: set[str] = set()
        for field in rule.fields:
            value = e.get(field)
            if value is None:
                continue
            found = listed.get(value)
            if found is not None:
                hits.append((field, value, found, False))
            elif field in IMO_FIELDS and value not in flagged and not imo_check_digit_ok(value):
                flagged.add(value)
                out.append(_invalid_identifier(rule, e, field, value, numbers, listed))
        for field in rule.name_fields:
            value = e.get(field)
            if value is not None:
                hits += [(field, value, x, True) for x in by_name.get(normalise_name(value), [])]
        seen: set[int] = set()
        for field, value, entry, by_name_only in hits:
            if id(entry) in seen or e.date < entry.designated:
                continue
            seen.add(id(entry))
            finding = _designated(rule, e, field, value, entry, by_name_only, known)
            if finding is not None:
                out.append(finding)
    return out


@dataclass(frozen=True)
class _Entry:
    """What a designation finding takes of its entry and field, the same for every event
    (a list's few entries meet tens of thousands of shipments)."""

    citation: str
    match: dict[str, str]  # the finding's `match` for a hit by identifier
    head: dict[str, str]  # for a hit by name, its keys before `by` and `value`
    tail: dict[str, str]  # and after them
    label: str
    listed: str  # the message's "designated on …" and the entry's measures
    verified: bool

    @classmethod
    def of(cls, rule: DesignationRule, field: str, entry: DesignationEntry) -> _Entry:
        match = {"field": field, "designated": entry.designated.isoformat(), "entry": entry.label}
        if entry.identifier is not None:
            match["identifier"] = entry.identifier
        if entry.name:
            match["name"] = entry.name
        tail = {}
        if len(entry.dates) > 1:
            tail["dates"] = "; ".join(d.isoformat() for d in entry.dates)
        if entry.measures:
            tail["measures"] = "; ".join(entry.measures)
        measures = f" ({', '.join(m.replace('_', ' ') for m in entry.measures)})"
        listed = f"designated on {entry.designated}{measures if entry.measures else ''}"
        verified = rule.verified and entry.verified
        citation = entry.basis or rule.citation
        return cls(citation, {**match, **tail}, match, tail, entry.label, listed, verified)


def _designated(
    rule: DesignationRule,
    e: Shipment,
    field: str,
    value: str,
    entry: DesignationEntry,
    by_name: bool,
    known: dict[tuple[int, str], _Entry],
) -> Finding | None:
    """The finding of one event's hit; `known` remembers each (entry, field)'s parts."""
    key = (id(entry), field)
    parts = known.get(key)
    if parts is None:
        parts = known[key] = _Entry.of(rule, field, entry)
    citation, label = parts.citation, parts.label
    if by_name:
        match = {**parts.head, "by": "name", "value": value, **parts.tail}
    else:
        match = parts.match.copy()
    how = f"{field} {value!r}, the name of" if by_name else f"{field} {value}:"
    kind: FindingKind = "designated"
    if rule.associate is None:
        message = (
            f"{rule.label}: shipment {e.id} on {e.date} involves {how} {label}, "
            f"{parts.listed} ({citation})"
        )
    else:
        # The associated party is the finding's subject: never the listed one itself.
        other = e.get(rule.associate)
        if other is None or other == value:
            return None
        match.update({"associate": rule.associate, "associated": str(other)})
        kind = "associated"
        message = (
            f"{rule.label}: {rule.associate} {other} of shipment {e.id} on {e.date} is "
            f"associated with {how} {label}, designated on {entry.designated} ({citation})"
        )
    values = _base(rule, kind, e, message)
    values["citation"] = citation
    values["message"] = message
    values["events"] = [e.id]
    values["inferred"] = [e.id] if e.inferred_from else []
    values["match"] = match
    values["verified"] = parts.verified
    return trusted(Finding, values)


def _invalid_identifier(
    rule: DesignationRule,
    e: Shipment,
    field: str,
    value: str,
    numbers: list[str],
    listed: dict[str, DesignationEntry],
) -> Finding:
    near = [n for n in numbers if one_edit_apart(value, n)]
    match = {"field": field, "identifier": value}
    if near:
        match["near"] = "; ".join(listed[n].label for n in near)
        nearby = ", one digit or one swap away from designated " + ", ".join(
            listed[n].label for n in near
        )
    else:
        nearby = "; no designated number is one digit or one swap away"
    return _event_finding(
        rule,
        e,
        "invalid_identifier",
        f"shipment {e.id} on {e.date} gives {field} {value}, which fails the IMO check "
        f"digit{nearby}; evaluated on its other fields",
        match=match,
    )


def one_edit_apart(a: str, b: str) -> bool:
    """Do two equal-length numbers differ by one substituted digit or one swap of
    adjacent digits (the usual typing slips, and the usual laundering of a number)?

    >>> one_edit_apart("8660314", "8660313"), one_edit_apart("8663013", "8660313")
    (True, False)
    """
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    i = diff[0]
    return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]


def _unnotified(rule: UnnotifiedRule, events: list[Shipment]) -> list[Finding]:
    is_notification = compile_selector(rule.notifications)
    notified: set[tuple[object, ...]] = set()
    evidence: dict[tuple[object, ...], list[Shipment]] = defaultdict(list)
    for e in events:
        span = span_of(rule, e.date)
        if span is None:
            continue
        key = (*(e.get(f) for f in rule.group_by), span)
        if not is_notification(e):
            evidence[key].append(e)
        elif e.quantity != 0:  # a notification of nothing notifies no supply
            notified.add(key)
    out = []
    for key, members in evidence.items():
        if key in notified:
            continue
        period = key[-1]
        assert isinstance(period, Span)
        group = {f: str(v) for f, v in zip(rule.group_by, key[:-1], strict=False)}
        whom = ", ".join(f"{f} {v}" for f, v in group.items())
        trigger = members[0]
        sources = sorted({e.source or "no source" for e in members})
        count = f"{len(members)} record{'s' * (len(members) != 1)}"
        out.append(
            Finding(
                **_base(
                    rule,
                    "unnotified",
                    trigger,
                    f"evidence of supply by {whom} in {period.label()} ({count}, source "
                    f"{', '.join(sources)}, first shipment {trigger.id} on {trigger.date}) "
                    "and no notification for that period",
                ),  # type: ignore[arg-type]
                events=[e.id for e in members],
                period=PeriodRange(start=period.start, end=period.end),
                group=group,
            )
        )
    return out


# Caps -----------------------------------------------------------------------------------


def _cap(rule: CapRule, events: list[Shipment], rulebook: Rulebook) -> list[Finding]:
    out: list[Finding] = []
    groups: dict[tuple[object, ...], list[tuple[Shipment, Amounts]]] = defaultdict(list)
    for e in events:
        amounts = cap_amounts(rule, e, rulebook)
        out.extend(cap_event_findings(rule, e, amounts))
        key = tuple(e.get(f) for f in rule.group_by)
        groups[key].append((e, amounts))
    for key, members in groups.items():
        if isinstance(rule.period, RollingPeriod):
            out.extend(cap_rolling_findings(rule, key, members, rulebook))
            continue
        buckets: dict[Span, list[tuple[Shipment, Amounts]]] = defaultdict(list)
        spans: dict[date, Span | None] = {}  # a year's events fall on a few hundred days
        for e, amounts in members:
            day = e.date
            if day in spans:
                span = spans[day]
            else:
                span = spans[day] = span_of(rule, day)
            if span is not None:
                buckets[span].append((e, amounts))
        for span, bucket in buckets.items():
            out.extend(cap_period_findings(rule, key, span, bucket, rulebook))
    return out


# The parts of `_cap`, for an engine that keeps each group's (or period's) members with
# their amounts as events arrive (`Monitor`): the same findings, none computed twice.


def cap_amounts(rule: CapRule, e: Shipment, rulebook: Rulebook) -> Amounts:
    """An event's contribution to each of the cap's measures (None: unconvertible)."""
    return tuple(amount_in(e, m, rulebook) for m in rule.limit)


def cap_event_findings(rule: CapRule, e: Shipment, amounts: Amounts) -> list[Finding]:
    """The findings of one matching event on its own: unquantified or unconvertible."""
    if is_unquantified(e):
        return [_unquantified(rule, e)]
    if any(a is None for a in amounts):
        return [_unconvertible(rule, e, amounts)]
    return []


def _group(rule: CapRule, key: tuple[object, ...]) -> dict[str, str]:
    return {f: str(v) for f, v in zip(rule.group_by, key, strict=True) if v is not None}


def cap_period_findings(
    rule: CapRule,
    key: tuple[object, ...],
    span: Span,
    members: list[tuple[Shipment, Amounts]],
    rulebook: Rulebook,
) -> list[Finding]:
    """A calendar, months or fixed cap's findings on one group (its `group_by` values) in
    one period, from its members in (date, id) order."""
    return _period(rule, span, members, _group(rule, key), rulebook)


def cap_rolling_findings(
    rule: CapRule,
    key: tuple[object, ...],
    members: list[tuple[Shipment, Amounts]],
    rulebook: Rulebook,
    since: date | None = None,
    labels: dict[tuple[object, ...], str | None] | None = None,
) -> list[Finding]:
    """A rolling cap's window findings on one group, from its members in (date, id)
    order (those dated `since` or later only: a monitor derives again the findings a
    change can move, the earlier windows still walked for whether they were over).
    `labels` remembers the series' factor labels (see `_series`) across calls: a monitor
    keeps one per group, as its windows are built again after every change."""
    assert isinstance(rule.period, RollingPeriod)
    window = _Windows(rule, members, _group(rule, key), rule.period.days, rulebook, labels)
    return window.findings(since)


class _Counted:
    """The members counted in one measure of a period, in (date, id) order: what a
    finding in that measure lists, kept as members come and go.

    Per source, the exact sum of its amounts and how many have each exponent are kept too:
    while a source's sum has no more digits than `CONTEXT` keeps, none of the partial sums
    of `basis`'s walk was rounded (amounts are never negative, so none has more digits
    than the whole), and the walk's result is that exact sum at the least exponent of
    its terms. A change then costs the source's sum, not a walk over every member."""

    __slots__ = ("amounts", "exact", "exponents", "ids", "inferred", "inferred_keys", "keys",
                 "sources")  # fmt: skip

    def __init__(self) -> None:
        self.keys: list[tuple[date, str]] = []
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.amounts: list[Decimal] = []
        self.inferred_keys: list[tuple[date, str]] = []
        self.inferred: list[str] = []
        self.exact: dict[str, Decimal] = {}
        self.exponents: dict[str, dict[int, int]] = {}

    def add(self, key: tuple[date, str], e: Shipment, a: Decimal) -> None:
        i = bisect.bisect_left(self.keys, key)
        source = e.source or "unspecified"
        self.keys.insert(i, key)
        self.ids.insert(i, e.id)
        self.sources.insert(i, source)
        self.amounts.insert(i, a)
        if e.inferred_from:
            k = bisect.bisect_left(self.inferred_keys, key)
            self.inferred_keys.insert(k, key)
            self.inferred.insert(k, e.id)
        self.exact[source] = _UNBOUNDED.add(self.exact.get(source, _ZERO), a)
        exponents = self.exponents.setdefault(source, {})
        exponent = _exponent(a)
        exponents[exponent] = exponents.get(exponent, 0) + 1

    def remove(self, key: tuple[date, str]) -> None:
        i = bisect.bisect_left(self.keys, key)
        if i == len(self.keys) or self.keys[i] != key:
            return  # not counted in this measure
        source, a = self.sources[i], self.amounts[i]
        del self.keys[i], self.ids[i], self.sources[i], self.amounts[i]
        k = bisect.bisect_left(self.inferred_keys, key)
        if k < len(self.inferred_keys) and self.inferred_keys[k] == key:
            del self.inferred_keys[k], self.inferred[k]
        exponents = self.exponents[source]
        exponent = _exponent(a)
        exponents[exponent] -= 1
        if not exponents[exponent]:
            del exponents[exponent]
        if exponents:
            self.exact[source] = _UNBOUNDED.subtract(self.exact[source], a)
        else:
            del self.exact[source], self.exponents[source]

    def basis(self) -> dict[str, Decimal]:
        """The total by source, each summed in (date, id) order as `_Bucket.counted` does
        (an amount converted from litres has 34 digits: the order of the sums matters)."""
        basis: dict[str, Decimal] = {}
        for source, total in self.exact.items():
            # The walk starts from _ZERO, whose exponent is 0.
            least = min(0, *self.exponents[source])
            exact = total.quantize(_ONE.scaleb(least), context=_UNBOUNDED)
            if len(exact.as_tuple().digits) > CONTEXT.prec:
                return self._walk()
            basis[source] = exact
        return dict(sorted(basis.items()))

    def _walk(self) -> dict[str, Decimal]:
        basis: dict[str, Decimal] = {}
        add = CONTEXT.add
        for key, a in zip(self.sources, self.amounts, strict=True):
            basis[key] = add(basis[key], a) if key in basis else add(_ZERO, a)
        return dict(sorted(basis.items()))


def _exponent(a: Decimal) -> int:
    exponent = a.as_tuple().exponent
    assert isinstance(exponent, int), a  # amounts are finite
    return exponent


class PeriodTally:
    """The members of one period of a calendar, months or fixed cap, in (date, id) order,
    as a monitor adds and removes them, with what the period's findings share kept up to
    date instead of derived again from every member: the running totals after each member
    (computed again from the first member changed on, in order, so each is the total
    `cap_period_findings` computes), the series columns, per measure the members counted
    and those inferred, the ranged and unquantified members. `findings()` is
    `cap_period_findings` of the members; a change costs what its findings list (their
    events are copied), not a walk over every member per finding."""

    def __init__(self, rule: CapRule, key: tuple[object, ...], span: Span, rulebook: Rulebook):
        self.rule, self.key, self.span, self.rulebook = rule, key, span, rulebook
        self.members: list[tuple[Shipment, Amounts]] = []
        self.running: Running = []
        self._order: list[tuple[date, str]] = []
        self._stale = 0  # the running totals from this member on are computed again
        self._units = tuple(m.unit for m in rule.limit)
        self._nothing = (None,) * len(self._units)  # the amounts of a member counting nowhere
        # The series columns (of the members counting in some measure), but for a rule
        # with two measures in one unit, whose series `_series` builds.
        self._columns = len(set(self._units)) == len(self._units)
        self._kept: list[tuple[date, str]] = []
        self._totals: Running = []  # the running totals after each kept member
        self._ids: list[str] = []
        self._dates: list[date] = []
        self._amounts: list[Amounts] = []
        self._sources: list[str | None] = []
        self._factors: list[str | None] = []
        self._labels: dict[tuple[object, ...], str | None] = {}  # see _series
        self._counted = [_Counted() for _ in self._units]
        self._ranged = 0  # members with a range
        self._unquantified_keys: list[tuple[date, str]] = []
        self._unquantified: list[str] = []

    def __len__(self) -> int:
        return len(self.members)

    def add(self, e: Shipment, amounts: Amounts) -> None:
        key = (e.date, e.id)
        i = bisect.bisect_left(self._order, key)
        self._order.insert(i, key)
        self.members.insert(i, (e, amounts))
        self.running.insert(i, ())
        self._stale = min(self._stale, i)
        for counted, a in zip(self._counted, amounts, strict=True):
            if a is not None:
                counted.add(key, e, a)
        self._ranged += is_ranged(e)
        if is_unquantified(e):
            k = bisect.bisect_left(self._unquantified_keys, key)
            self._unquantified_keys.insert(k, key)
            self._unquantified.insert(k, e.id)
        if self._columns and amounts != self._nothing:
            k = bisect.bisect_left(self._kept, key)
            labels = self._labels
            at = (e.unit, e.product, e.hs_code, e.date)
            label = labels[at] if at in labels else _label(self.rule, e, self.rulebook, labels)
            self._kept.insert(k, key)
            self._totals.insert(k, ())
            self._ids.insert(k, e.id)
            self._dates.insert(k, e.date)
            self._amounts.insert(k, amounts)
            self._sources.insert(k, e.source)
            self._factors.insert(k, label)

    def remove(self, e: Shipment) -> None:
        key = (e.date, e.id)
        i = bisect.bisect_left(self._order, key)
        del self._order[i], self.members[i], self.running[i]
        self._stale = min(self._stale, i)
        for counted in self._counted:
            counted.remove(key)
        self._ranged -= is_ranged(e)
        k = bisect.bisect_left(self._unquantified_keys, key)
        if k < len(self._unquantified_keys) and self._unquantified_keys[k] == key:
            del self._unquantified_keys[k], self._unquantified[k]
        if self._columns:
            k = bisect.bisect_left(self._kept, key)
            if k < len(self._kept) and self._kept[k] == key:
                for column in (
                    self._kept, self._ids, self._dates, self._amounts, self._sources,
                    self._factors, self._totals,
                ):  # fmt: skip
                    del column[k]

    def _refresh(self) -> None:
        start, members, running = self._stale, self.members, self.running
        if start == len(members):
            return  # up to date: each finding of a change asks again
        totals = list(running[start - 1]) if start else [_ZERO] * len(self._units)
        add = CONTEXT.add
        # The series' totals from the first kept member at or after `start` on.
        kept_totals, nothing = self._totals, self._nothing
        if len(totals) == 1 and self._columns and len(self._kept) == len(members):
            # One measure and every member counted in it (most caps): the members are the
            # series' rows, and the same sums, in the same order, are taken in C.
            # `+` in CONTEXT is CONTEXT.add without parsing a call's arguments.
            with decimal.localcontext(CONTEXT):
                sums = itertools.accumulate(
                    map(operator.itemgetter(0), self._amounts[start:]),
                    operator.add,
                    initial=totals[0],
                )
                next(sums)  # the initial total itself
                fresh = list(zip(sums))
            running[start:] = kept_totals[start:] = fresh
            self._stale = len(members)
            return
        at = bisect.bisect_left(self._kept, self._order[start]) if start < len(members) else 0
        if len(totals) == 1 and self._columns:
            # One measure (most caps): the same sums, without the per-measure loop.
            now = tuple(totals)
            for i in range(start, len(members)):
                a = members[i][1][0]
                if a is not None:
                    now = (add(now[0], a),)
                    kept_totals[at] = now
                    at += 1
                running[i] = now
            self._stale = len(members)
            return
        for i in range(start, len(members)):
            amounts = members[i][1]
            for j, a in enumerate(amounts):
                if a is not None:
                    totals[j] = add(totals[j], a)
            running[i] = now = tuple(totals)
            if amounts != nothing and self._columns:
                kept_totals[at] = now
                at += 1
        self._stale = len(members)

    def series(self) -> Series:
        self._refresh()
        if not self._columns:
            return _series(self.rule, self.members, self.running, self.rulebook, self._labels)
        return Series(
            self._units,
            self._ids,
            self._dates,
            self._amounts,
            self._totals,
            self._sources,
            self._factors,
        )

    @property
    def ranged(self) -> bool:
        return self._ranged > 0

    @property
    def unquantified(self) -> list[str]:
        return list(self._unquantified)

    def counted(self, j: int) -> tuple[list[str], list[str], dict[str, Decimal]]:
        """`_Bucket.counted(j)` of the members (lists of their own)."""
        counted = self._counted[j]
        return list(counted.ids), list(counted.inferred), counted.basis()

    def crossing(self, levels: Sequence[Decimal], strict: bool) -> tuple[int, int] | None:
        """`_crossing(running, levels, strict)`, by bisection: amounts are never negative,
        so each measure's running totals never fall (rounding is monotonic too)."""
        self._refresh()
        running, best = self.running, None
        for j, level in enumerate(levels):
            find = bisect.bisect_right if strict else bisect.bisect_left
            i = find(running, level, key=operator.itemgetter(j))
            if i < len(running) and (best is None or i < best[0]):
                best = (i, j)
        return best

    def reached_with(self, i: int, j: int) -> list[str]:
        """The ids of the members up to member i counted in measure j."""
        counted = self._counted[j]
        return counted.ids[: bisect.bisect_right(counted.keys, self._order[i])]

    def findings(self) -> list[Finding]:
        """`cap_period_findings(rule, key, span, members, rulebook)`."""
        self._refresh()
        return _period(
            self.rule, self.span, self.members, _group(self.rule, self.key), self.rulebook, self
        )


def span_of(rule: CapRule | UnnotifiedRule, day: date) -> Span | None:
    """The period of a calendar, months or fixed cap that holds `day` (None: outside a
    fixed period); rolling caps have no fixed periods."""
    p = rule.period
    if isinstance(p, CalendarPeriod):
        return calendar_span(p.calendar, day)
    if isinstance(p, MonthsPeriod):
        return months_span(p.months, p.anchor, day)
    if isinstance(p, FixedPeriod):
        span = Span(p.from_, p.to)
        return span if day in span else None
    raise TypeError(p)


def _unconvertible(rule: CapRule, e: Shipment, amounts: Amounts) -> Finding:
    missing = [m for m, a in zip(rule.limit, amounts, strict=True) if a is None]
    reasons = []
    for m in missing:
        if m.is_currency:
            reasons.append(f"no value in {m.unit}")
        elif e.quantity is None:
            reasons.append(f"no quantity to express in {m.unit}")
        else:
            reasons.append(
                f"{e.unit} of {_product_words(e)} cannot be expressed in {m.unit} "
                "without a conversion factor in the rulebook"
            )
    return _event_finding(
        rule,
        e,
        "unconvertible",
        f"shipment {e.id} on {e.date} adds nothing to the cap: {'; '.join(reasons)}; "
        "the evaluation is incomplete",
    )


def _unquantified(rule: CapRule, e: Shipment) -> Finding:
    return _event_finding(
        rule,
        e,
        "unquantified",
        f"shipment {e.id} on {e.date} matches the cap but gives no quantity: it adds nothing, "
        "and the period's total is at least what is counted",
    )


def _product_words(e: Shipment) -> str:
    return f"product {e.product!r}" if e.product else "an unnamed product"


Running = list[tuple[Decimal, ...]]  # the totals in every measure after each event


_ZERO = Decimal(0)
_ONE = Decimal(1)
# Sums of amounts without rounding: what `_Counted` keeps to know when the rounded walk
# was exact.
_UNBOUNDED = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _cumulative(bucket: list[tuple[Shipment, Amounts]]) -> Running:
    if bucket and len(bucket[0][1]) == 1:  # one measure (most caps): one total
        add = CONTEXT.add
        total = _ZERO
        out: Running = []
        for _, (a,) in bucket:
            if a is not None:
                total = add(total, a)
            out.append((total,))
        return out
    totals = [_ZERO] * (len(bucket[0][1]) if bucket else 0)
    out = []
    for _, amounts in bucket:
        for j, a in enumerate(amounts):
            if a is not None:
                totals[j] = CONTEXT.add(totals[j], a)
        out.append(tuple(totals))
    return out


def _crossing(running: Running, levels: Sequence[Decimal], strict: bool) -> tuple[int, int] | None:
    """(event index, measure index) where a running total first passes its level."""
    for i, totals in enumerate(running):
        for j, level in enumerate(levels):
            if _passes(totals[j], level, strict):
                return i, j
    return None


def _label(
    rule: CapRule, e: Shipment, rulebook: Rulebook, labels: dict[tuple[object, ...], str | None]
) -> str | None:
    """The factor label of the event's series point (remembered in `labels`)."""
    used = [conversion_in(e, m, rulebook) for m in rule.limit]
    label = labels[(e.unit, e.product, e.hs_code, e.date)] = next(
        (factor_label(c) for c in used if c is not None), None
    )
    return label


def _series(
    rule: CapRule,
    bucket: list[tuple[Shipment, Amounts]],
    running: Running,
    rulebook: Rulebook,
    labels: dict[tuple[object, ...], str | None],
) -> Series:
    """The evidence of a cap finding: every event that counts in some measure, with its
    amounts and the running totals after it (the tuples already computed, not copies)."""
    units = tuple(m.unit for m in rule.limit)
    nothing = (None,) * len(units)  # an event that counts in no measure
    ids: list[str] = []
    dates: list[date] = []
    amounts: list[Amounts] = []
    totals: list[tuple[Decimal, ...]] = []
    sources: list[str | None] = []
    factors: list[str | None] = []
    # The factor depends on what conversion_in reads (the unit, product, HS code and date):
    # `labels` remembers each, across findings.
    # One pass over the events (a period may hold a year's deliveries), not one per column.
    for (e, counts), total in zip(bucket, running, strict=True):
        if counts == nothing:
            continue
        ids.append(e.id)
        dates.append(e.date)
        amounts.append(counts)
        totals.append(total)
        sources.append(e.source)
        key = (e.unit, e.product, e.hs_code, e.date)
        factors.append(labels[key] if key in labels else _label(rule, e, rulebook, labels))
    if len(set(units)) < len(units):
        # Two measures in one unit have the same amounts and totals: one key for both.
        first = [units.index(u) for u in dict.fromkeys(units)]
        units = tuple(units[j] for j in first)
        amounts = [tuple(a[j] for j in first) for a in amounts]
        totals = [tuple(t[j] for j in first) for t in totals]
    return Series(units, ids, dates, amounts, totals, sources, factors)


def _period(
    rule: CapRule,
    span: Span,
    bucket: list[tuple[Shipment, Amounts]],
    group: dict[str, str],
    rulebook: Rulebook,
    tally: PeriodTally | None = None,
) -> list[Finding]:
    out = []
    shared = _Bucket(rule, bucket, rulebook, tally)
    limits = [m.amount for m in rule.limit]
    hit = shared.crossing(limits, strict=True)
    if hit is not None:
        out.append(_cap_finding(rule, span, shared, group, hit, None, None))
    for threshold in rule.thresholds:
        levels = [CONTEXT.multiply(m.amount, threshold.fraction) for m in rule.limit]
        reached = shared.crossing(levels, strict=False)
        if reached is not None:
            fraction = threshold.fraction
            finding = _cap_finding(
                rule, span, shared, group, reached, fraction, None, verified=threshold.verified
            )
            out.append(finding)
    return out


class _Bucket:
    """The events of one period (or window) of a cap and what all its findings share —
    running totals, series, per measure the counted events and basis — each computed
    once, on first use, however many findings (the cap's and each threshold's) use it."""

    def __init__(
        self,
        rule: CapRule,
        events: list[tuple[Shipment, Amounts]],
        rulebook: Rulebook,
        tally: PeriodTally | None = None,
        labels: dict[tuple[object, ...], str | None] | None = None,
    ) -> None:
        self.rule = rule
        self.events = events
        self.rulebook = rulebook
        self._tally = tally  # the events' running totals and series, kept up to date
        self._labels = {} if labels is None else labels  # see _series
        self.running = tally.running if tally is not None else _cumulative(events)
        self._series: Series | None = None
        self._lows: Running | None = None
        self._ranged: bool | None = None
        self._unquantified: list[str] | None = None
        self._measures: dict[int, tuple[list[str], list[str], dict[str, Decimal]]] = {}
        self._words: dict[tuple[int, int], str] = {}

    @property
    def series(self) -> Series:
        if self._series is None:
            self._series = (
                self._tally.series()
                if self._tally is not None
                else _series(self.rule, self.events, self.running, self.rulebook, self._labels)
            )
        return self._series

    def crossing(self, levels: Sequence[Decimal], strict: bool) -> tuple[int, int] | None:
        if self._tally is not None:
            return self._tally.crossing(levels, strict)
        return _crossing(self.running, levels, strict)

    def reached_with(self, i: int, j: int) -> list[str]:
        """The ids of the events up to event i counted in measure j."""
        if self._tally is not None:
            return self._tally.reached_with(i, j)
        return [e.id for e, amounts in self.events[: i + 1] if amounts[j] is not None]

    @property
    def ranged(self) -> bool:
        if self._tally is not None:
            return self._tally.ranged
        if self._ranged is None:
            self._event_facts()
        assert self._ranged is not None
        return self._ranged

    def _event_facts(self) -> None:
        """Whether any event is ranged, and the unquantified ones: one pass for both."""
        ranged = False
        unquantified = []
        for e, _ in self.events:
            ranged = ranged or is_ranged(e)
            if is_unquantified(e):
                unquantified.append(e.id)
        self._ranged, self._unquantified = ranged, unquantified

    @property
    def low_running(self) -> Running:
        """The running totals of the lower bounds (with ranges)."""
        if self._lows is None:
            rule, rulebook = self.rule, self.rulebook
            lows = [
                (e, tuple(amount_in(e, m, rulebook, lower=True) for m in rule.limit))
                for e, _ in self.events
            ]
            self._lows = _cumulative(lows)
        return self._lows

    @property
    def unquantified(self) -> list[str]:
        if self._tally is not None:
            return self._tally.unquantified
        if self._unquantified is None:
            self._event_facts()
        assert self._unquantified is not None
        return self._unquantified

    def basis_words(self, j: int, places: int) -> str:
        """Measure j's total by source in a message (the period's findings quote it alike)."""
        words = self._words.get((j, places))
        if words is None:
            unit = self.rule.limit[j].unit
            words = self._words[(j, places)] = ", ".join(
                f"{k} {for_people(v, places)} {unit}" for k, v in self.counted(j)[2].items()
            )
        return words

    def counted(self, j: int) -> tuple[list[str], list[str], dict[str, Decimal]]:
        """(ids of the events counted in measure j, those inferred, the total by source)."""
        found = self._measures.get(j)
        if found is None and self._tally is not None:
            found = self._measures[j] = self._tally.counted(j)
        if found is None:
            counted: list[str] = []
            inferred: list[str] = []
            basis: dict[str, Decimal] = {}
            add = CONTEXT.add
            for e, amounts in self.events:
                a = amounts[j]
                if a is None:
                    continue
                counted.append(e.id)
                if e.inferred_from:
                    inferred.append(e.id)
                key = e.source or "unspecified"
                basis[key] = add(basis[key], a) if key in basis else add(_ZERO, a)
            found = self._measures[j] = (counted, inferred, dict(sorted(basis.items())))
        return found


def _cap_finding(
    rule: CapRule,
    span: Span,
    shared: _Bucket,
    group: dict[str, str],
    hit: tuple[int, int],
    threshold: Decimal | None,
    label: str | None,
    *,
    verified: bool = True,
) -> Finding:
    """The finding of a crossing; `verified` false for an unverified threshold's (a
    finding is verified when its rule and its figure both are)."""
    i, j = hit
    bucket, running = shared.events, shared.running
    measure = rule.limit[j]
    trigger = bucket[i][0]
    at, total = running[i][j], running[-1][j]
    counted, inferred, basis = shared.counted(j)
    unit = measure.unit
    if label is None:
        when, period = _span_wording(span)
    else:  # a rolling window: a span of its own, never seen again
        when, period = label, trusted(PeriodRange, {"start": span.start, "end": span.end})
    whom = "".join(f" for {k} {v}" for k, v in group.items())
    level = measure.amount if threshold is None else CONTEXT.multiply(measure.amount, threshold)
    strict = threshold is None
    notified = _passes(basis.get("notification", Decimal(0)), level, strict)
    ranges: dict[str, object] = {}
    certainty: Literal["certain", "possible"] | None = None
    if shared.ranged:
        low_running = shared.low_running
        ranges = {"running_min": low_running[i][j], "total_min": low_running[-1][j]}
        certain = any(
            _passes(low_running[-1][k], m.amount if threshold is None else
                    CONTEXT.multiply(m.amount, threshold), strict)
            for k, m in enumerate(rule.limit)
        )  # fmt: skip
        certainty = "certain" if certain else "possible"
    unquantified = shared.unquantified
    at_least = "at least " if unquantified else ""
    # Both kinds report the same figures; a breach adds its excess, a notice its threshold.
    figures_of: dict[str, Any] = {
        "unit": unit, "limit": measure.amount, "running": at, "total": total,
        "basis": basis, "on_notifications": notified, **ranges,
    }  # fmt: skip
    if threshold is None:
        kind: FindingKind = "cap_exceeded"
        excess = CONTEXT.subtract(total, measure.amount)
        figures = trusted(Measurement, {**figures_of, "basis": dict(basis), "excess": excess})
        places = figures.places()
        message = (
            f"{at_least}{for_people(total, places)} {unit} {when}{whom} exceeds the "
            f"{for_people(measure.amount, places)} {unit} cap by {at_least}"
            f"{for_people(excess, places)} {unit}; crossed on {trigger.date} by shipment "
            f"{trigger.id}"
        )
    else:
        kind = "threshold_reached"
        figures = trusted(Measurement, {**figures_of, "basis": dict(basis), "threshold": threshold})
        places = figures.places()
        percent = _percent(threshold)
        message = (
            f"{at_least}{for_people(at, places)} {unit} {when}{whom} reached {percent}% of the "
            f"{for_people(measure.amount, places)} {unit} cap on {trigger.date} with shipment "
            f"{trigger.id}"
        )
    if certainty is not None:
        low = figures.total_min
        assert low is not None
        message += f"; {certainty}: the lower bounds total {for_people(low, places)} {unit}"
    if len(basis) > 1:
        parts = shared.basis_words(j, places)
        alone = "holds" if notified else "does not hold"
        message += f"; rests on {parts}; on notifications alone it {alone}"
    if unquantified:
        message += f"; unquantified: {', '.join(unquantified)}"
    reached_with = shared.reached_with(i, j) if threshold is not None else None
    # Built from values of the fields' types (the lists and dicts each finding's own, as
    # validation would copy them): 4 findings a change of a breached period.
    values = _base(rule, kind, trigger, message)
    if not verified:
        values["verified"] = False
    values.update(
        events=list(counted),
        inferred=list(inferred),
        period=period,
        group=dict(group),
        measure=figures,
        series=shared.series,
        certainty=certainty,
        unquantified=list(unquantified) or None,
        reached_with=reached_with,
    )
    return trusted(Finding, values)


@lru_cache(maxsize=4096)
def _span_wording(span: Span) -> tuple[str, PeriodRange]:
    """A fixed period's words in a message and its `period` (frozen: the findings of a
    period, rebuilt at every change to it, share one)."""
    return f"in {span.label()}", trusted(PeriodRange, {"start": span.start, "end": span.end})


@lru_cache(maxsize=256)
def _percent(fraction: Decimal) -> str:
    return format_amount(fraction * 100)


class _Windows:
    """A rolling cap's members in (date, id) order: the walk over its windows and the
    finding of one."""

    def __init__(
        self,
        rule: CapRule,
        members: list[tuple[Shipment, Amounts]],
        group: dict[str, str],
        days: int,
        rulebook: Rulebook,
        labels: dict[tuple[object, ...], str | None] | None = None,
    ) -> None:
        self.rule, self.members, self.group, self.days = rule, members, group, days
        self.rulebook = rulebook
        # Overlapping windows share their members' labels, and a monitor's walks too.
        self.labels = {} if labels is None else labels
        self.verified = {t.fraction: t.verified for t in rule.thresholds}

    def findings(self, since: date | None) -> list[Finding]:
        """Windows of `days` days ending on each event's date; a finding per upward crossing
        of each level, the limit's and each threshold's (dated `since` or later).

        One walk serves every level: the window totals are the same sums whatever the level,
        only which of them pass it differs. The totals are exact: one rounded at each step
        would keep the rounding of events that have left the window, and a walk begun later
        (a monitor's `since`, the columnar engine's segments) would decide otherwise."""
        rule, members = self.rule, self.members
        limits = [m.amount for m in rule.limit]
        levels: list[tuple[Decimal | None, list[Decimal]]] = [(None, limits)] + [
            (t.fraction, [CONTEXT.multiply(a, t.fraction) for a in limits]) for t in rule.thresholds
        ]
        if len(limits) == 1:
            return self.one_measure(levels, since)
        found: list[list[Finding]] = [[] for _ in levels]
        above = [False] * len(levels)
        start, begin, running = _entry(members, since, self.days, len(limits))
        span = timedelta(days=self.days - 1)
        day_before = timedelta(days=1)
        previous: date | None = None
        for i in range(begin, len(members)):
            e, amounts = members[i]
            if e.date != previous:
                previous = e.date
                first_day = e.date - span
                # A breach goes on while every day's window is over, idle days included.
                # The window of the day before holds every earlier event from first_day - 1
                # on, and no idle day's window is smaller: whether it is over decides
                # whether this day's crossing is a new breach.
                start = _drop(members, start, first_day - day_before, running)
                for n, (fraction, bounds) in enumerate(levels):
                    strict = fraction is None
                    above[n] = any(_passes(running[j], b, strict) for j, b in enumerate(bounds))
                start = _drop(members, start, first_day, running)
            for j, a in enumerate(amounts):
                if a is not None:
                    running[j] = _UNBOUNDED.add(running[j], a)
            for n, (fraction, bounds) in enumerate(levels):
                if above[n]:
                    continue  # over already: no new crossing on this level until a day is not
                strict = fraction is None
                over = [j for j, b in enumerate(bounds) if _passes(running[j], b, strict)]
                if not over:
                    continue
                above[n] = True
                found[n].append(self.finding(start, i, over[0], fraction))
        return [f for level in found for f in level]

    def finding(self, start: int, i: int, j: int, fraction: Decimal | None) -> Finding:
        """The window from member `start` to the last member of member i's day, crossed
        by member i in measure j."""
        members, day = self.members, self.members[i][0].date
        end = i
        while end + 1 < len(members) and members[end + 1][0].date == day:
            end += 1
        return _cap_finding(
            self.rule,
            Span(day - timedelta(days=self.days - 1), day),
            _Bucket(self.rule, members[start : end + 1], self.rulebook, labels=self.labels),
            self.group,
            (i - start, j),
            fraction,
            f"in the {self.days} days to {day}",
            verified=fraction is None or self.verified[fraction],
        )

    def one_measure(
        self, levels: list[tuple[Decimal | None, list[Decimal]]], since: date | None
    ) -> list[Finding]:
        """`findings`' walk for a cap of one measure (most): the same sums, in the same
        order, on one total."""
        members = self.members
        bounds = [(b[0], fraction is None, fraction) for fraction, b in levels]
        found: list[list[Finding]] = [[] for _ in levels]
        above = [False] * len(levels)
        add, subtract = _UNBOUNDED.add, _UNBOUNDED.subtract
        start, begin, (total,) = _entry(members, since, self.days, 1)
        span = timedelta(days=self.days - 1)
        day_before = timedelta(days=1)
        previous: date | None = None
        for i in range(begin, len(members)):
            e, amounts = members[i]
            day = e.date
            if day != previous:
                previous = day
                first_day = day - span
                # As in `findings`: the day before's window decides whether a crossing
                # today is a new breach.
                cut = first_day - day_before
                while members[start][0].date < cut:
                    a = members[start][1][0]
                    if a is not None:
                        total = subtract(total, a)
                    start += 1
                for n, (bound, strict, _) in enumerate(bounds):
                    above[n] = total > bound if strict else total >= bound
                while members[start][0].date < first_day:
                    a = members[start][1][0]
                    if a is not None:
                        total = subtract(total, a)
                    start += 1
            a = amounts[0]
            if a is not None:
                total = add(total, a)
            for n, (bound, strict, fraction) in enumerate(bounds):
                if above[n] or not (total > bound if strict else total >= bound):
                    continue
                above[n] = True
                found[n].append(self.finding(start, i, 0, fraction))
        return [f for level in found for f in level]


def _entry(
    members: list[tuple[Shipment, Amounts]], since: date | None, days: int, measures: int
) -> tuple[int, int, list[Decimal]]:
    """Where a rolling walk finding the crossings on `since` and later starts: (the first
    member of the window of the day before that day's, that day's first member, that
    window's totals). Whether a day's crossing is a new breach rests on the window of the
    day before alone, so the days before `since` need not be walked."""
    totals = [_ZERO] * measures
    if since is None:
        return 0, 0, totals
    begin = bisect.bisect_left(members, since, key=_day_of)
    if begin == len(members):
        return begin, begin, totals
    cut = members[begin][0].date - timedelta(days=days)
    start = bisect.bisect_left(members, cut, hi=begin, key=_day_of)
    add = _UNBOUNDED.add
    for _, amounts in members[start:begin]:
        for j, a in enumerate(amounts):
            if a is not None:
                totals[j] = add(totals[j], a)
    return start, begin, totals


def _day_of(member: tuple[Shipment, Amounts]) -> date:
    return member[0].date


def _passes(total: Decimal, level: Decimal, strict: bool) -> bool:
    """A limit is breached above it (strict); a threshold is reached at it."""
    return total > level if strict else total >= level


def _drop(
    members: list[tuple[Shipment, Amounts]], start: int, first_day: date, running: list[Decimal]
) -> int:
    """Take the events dated before `first_day` out of `running`; the new window start."""
    while members[start][0].date < first_day:
        for j, a in enumerate(members[start][1]):
            if a is not None:
                running[j] = _UNBOUNDED.subtract(running[j], a)
        start += 1
    return start


# Correlation ------------------------------------------------------------------------------


def inference_finding(compiled: CompiledCorrelation, inference: Inference) -> Finding:
    """The `inferred` notice of one inferred event: the chain it rests on, with the days
    between each event and the one its window is after."""
    rule, event, chain = compiled.rule, inference.event, inference.chain
    links = []
    words = []
    for k, e in enumerate(chain):
        window = compiled.windows[k]
        days = None if window is None else (e.date - chain[window[0]].date).days
        link = {"step": compiled.names[k], "event": e.id, "date": e.date}
        if days is not None:
            link["days_after"] = days
        links.append(trusted(ChainLink, link))
        when = (
            f"{e.date}"
            if window is None
            else f"{e.date}, {days} days after {compiled.names[window[0]]}"
        )
        words.append(f"{compiled.names[k]} {e.id} ({when})")
    message = f"inferred {event.id} on {event.date} from {' and '.join(words)}"
    values = _base(rule, "inferred", event, message)
    values.update(events=[e.id for e in chain], inferred=[event.id], chain=links)
    return trusted(Finding, values)
