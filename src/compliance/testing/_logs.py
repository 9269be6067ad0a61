"""Logs aimed at one rule: its matching events dated close together, so caps fill up,
plus events it must ignore, duplicates, corrections, conflicts and broken records."""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from compliance.events import MAX_AMOUNT, Shipment
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CalendarPeriod, CapRule, FixedPeriod, MonthsPeriod, Rule
from compliance.testing.strategies import (
    NoMatchingEvent,
    applies,
    events_matching,
    events_not_matching,
    in_force,
    shipments,
)
from compliance.units import VOLUME_UNITS

__all__ = ["Messy", "cap_window", "messy_logs", "rule_logs", "unit_variants"]


def cap_window(rule: Rule) -> tuple[date, date] | None:
    """Dates on which the rule is in force and (for a fixed-period cap) inside its period."""
    window = in_force(rule)
    if window is not None and isinstance(rule, CapRule) and isinstance(rule.period, FixedPeriod):
        lo, hi = max(window[0], rule.period.from_), min(window[1], rule.period.to)
        return (lo, hi) if lo <= hi else None
    return window


def _span(rule: Rule) -> int:
    """Days a log spreads over: about two of the rule's periods, so some straddle a boundary."""
    if not isinstance(rule, CapRule):
        return 90
    p = rule.period
    if isinstance(p, CalendarPeriod):
        return {"year": 500, "quarter": 150, "month": 50}[p.calendar]
    if isinstance(p, MonthsPeriod):
        return 31 * p.months + 20
    if isinstance(p, FixedPeriod):
        return (p.to - p.from_).days + 10
    return 2 * p.days + 1


def _matching_or_none(rule: Rule, rulebook: Rulebook, **kw: Any) -> SearchStrategy[Shipment] | None:
    try:
        return events_matching(rule, rulebook, **kw)
    except NoMatchingEvent:
        return None


# Bounds of an estimate, as fractions of its quantity ("at least", "if fully laden").
_LOW = (Decimal(0), Decimal("0.5"), Decimal("0.9"), Decimal(1))
_HIGH = (Decimal(1), Decimal("1.1"), Decimal(2), Decimal(3))
_MILLI = Decimal("0.001")
_CACHE: dict[tuple[int, int, Any], tuple[Rulebook, Rule, SearchStrategy[list[Shipment]]]] = {}


def rule_logs(
    rule: Rule,
    rulebook: Rulebook,
    max_size: int = 10,
    min_matching: int = 0,
    units: tuple[str, ...] | None = None,
    ranges: bool = False,
) -> SearchStrategy[list[Shipment]]:
    """Events the rule applies to (mostly), and some it must ignore, with unique ids,
    dated within about two of its periods so that caps fill up. With `ranges`, some
    matching events are estimates: `quantity_min` and `quantity_max` around (or instead
    of) their quantity."""
    # Every property of a rule draws its logs from here: build the strategy once. The
    # entry keeps rulebook and rule alive, so their ids cannot be reused meanwhile.
    key = (id(rulebook), id(rule), (max_size, min_matching, units, ranges))
    if key not in _CACHE:
        _CACHE[key] = (
            rulebook, rule, _rule_logs(rule, rulebook, max_size, min_matching, units, ranges)
        )  # fmt: skip
    return _CACHE[key][2]


def _rule_logs(
    rule: Rule,
    rulebook: Rulebook,
    max_size: int,
    min_matching: int,
    units: tuple[str, ...] | None,
    ranges: bool = False,
) -> SearchStrategy[list[Shipment]]:
    window = cap_window(rule) or in_force(rule)
    if window is None:
        return st.lists(shipments(), max_size=max_size, unique_by=lambda e: e.id)
    # Strategies are built once (building them per draw is slow); each log then moves its
    # events into a short span by re-dating them, keeping only re-datings that still
    # (or still do not) match.
    if units:
        options = [s for u in units if (s := _matching_or_none(rule, rulebook, unit=u)) is not None]
        matching = st.one_of(options) if options else None
    else:
        matching = _matching_or_none(rule, rulebook)
    try:
        others: SearchStrategy[Shipment] = events_not_matching(rule, rulebook)
    except NoMatchingEvent:
        others = shipments(date=st.dates(*window))
    span = _span(rule)

    @st.composite
    def build(draw: st.DrawFn) -> list[Shipment]:
        start = draw(st.dates(*window))
        end = min(window[1], start + timedelta(days=span))
        days = st.dates(start, end)

        def redate(event: Shipment, wanted: bool) -> Shipment:
            day = draw(days)
            lag = event.reported_on - event.date if event.reported_on else None
            moved = event.model_copy(
                update={"date": day, "reported_on": day + lag if lag else None}
            )
            return moved if applies(rule, moved) == wanted else event

        def estimate(event: Shipment) -> Shipment:
            q = event.quantity
            if not ranges or q is None or draw(st.integers(0, 2)):
                return event
            low = (q * draw(st.sampled_from(_LOW))).quantize(_MILLI, ROUND_DOWN)
            high = min((q * draw(st.sampled_from(_HIGH))).quantize(_MILLI, ROUND_UP), MAX_AMOUNT)
            update = {"quantity_min": low if draw(st.booleans()) else None,
                      "quantity_max": high if draw(st.integers(0, 3)) else None}  # fmt: skip
            if draw(st.booleans()):
                update["quantity"] = None
            ranged = event.model_copy(update=update)
            none_left = all(
                getattr(ranged, f) is None for f in ("quantity", "quantity_min", "quantity_max")
            )
            return event if none_left or not applies(rule, ranged) else ranged

        events: list[Shipment] = []
        if matching is not None:
            events = [
                estimate(redate(e, True))
                for e in draw(
                    st.lists(
                        matching, min_size=min_matching, max_size=max_size, unique_by=lambda e: e.id
                    )
                )
            ]
        ids = {e.id for e in events}
        noise = draw(
            st.lists(
                others.filter(lambda e: e.id not in ids),
                max_size=max(1, max_size // 3),
                unique_by=lambda e: e.id,
            )
        )
        return events + [redate(e, False) for e in noise]

    return build()


# Messy logs (for accounting) -----------------------------------------------------------

ROLES = ("keep", "keep", "duplicate", "conflict", "correct")
CORRUPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("negative quantity", {"quantity": "-5", "unit": "bbl"}),
    ("unknown unit", {"quantity": "10", "unit": "barrels"}),
    ("impossible date", {"date": "2019-02-30"}),
    ("IMO number of six digits", {"vessel_imo": "123456"}),
    ("unknown country", {"destination": "XX"}),
    ("HS code with letters", {"hs_code": "27a0"}),
    ("quantity without unit", {"quantity": "10", "unit": None}),
    ("no id", {"id": None}),
)


@dataclass
class Messy:
    """A log with known outcomes: what the ledger must report."""

    records: list[dict[str, Any]] = field(default_factory=list)
    evaluated: set[str] = field(default_factory=set)
    duplicates: int = 0
    superseded: int = 0
    rejected: int = 0


def messy_logs(rule: Rule, rulebook: Rulebook, max_size: int = 8) -> SearchStrategy[Messy]:
    """Logs with duplicates, corrections, conflicts and broken records, and their outcomes."""
    return _messy(rule_logs(rule, rulebook, max_size=max_size))


@st.composite
def _messy(draw: st.DrawFn, logs: SearchStrategy[list[Shipment]]) -> Messy:
    base = draw(logs)
    out = Messy()
    for event in base:
        record = event.to_record()
        role = draw(st.sampled_from(ROLES))
        out.records.append(record)
        if role == "keep":
            out.evaluated.add(event.id)
        elif role == "duplicate":
            copies = draw(st.integers(1, 2))
            out.records.extend(dict(record) for _ in range(copies))
            out.duplicates += copies
            out.evaluated.add(event.id)
        elif role == "conflict":
            out.records.append({**record, "commodity": f"{record.get('commodity', '')}~"})
            out.rejected += 2
        else:  # '-' is outside generated ids, so the correction's id is new
            fix = f"{event.id}-fix"
            out.records.append({**record, "id": fix, "supersedes": event.id,
                                "commodity": "corrected"})  # fmt: skip
            out.superseded += 1
            out.evaluated.add(fix)
    for i, (_, change) in enumerate(draw(st.lists(st.sampled_from(CORRUPTIONS), max_size=3))):
        template = base[i % len(base)].to_record() if base else {"date": "2019-01-01"}
        broken = {**template, "id": f"bad-{i}", **change}
        out.records.append({k: v for k, v in broken.items() if v is not None})
        out.rejected += 1
    out.records = draw(st.permutations(out.records))
    return out


# Unit variants -------------------------------------------------------------------------

# Exact multipliers from the base unit of each dimension (barrels, tonnes): a barrel is
# 42 US gallons of 231 cubic inches = 158.987294928 litres exactly.
_FROM_BBL = {"bbl": Decimal(1), "l": VOLUME_UNITS["bbl"], "kl": VOLUME_UNITS["bbl"] / 1000,
             "m3": VOLUME_UNITS["bbl"] / 1000, "gal": Decimal(42)}  # fmt: skip
_FROM_T = {"t": Decimal(1), "kg": Decimal(1000)}
_EXACT = decimal.Context(prec=80)
_DIGITS = 20  # the engine keeps 34 digits; a conversion multiplies by up to 14 more


def unit_variants(event: Shipment, rulebook: Rulebook) -> dict[str, Decimal]:
    """The event's quantity in every unit it converts to *exactly* (each converts back
    without rounding), keyed by unit; empty unless its unit is `bbl` or `t`."""
    q, unit = event.quantity, event.unit
    if q is None or unit not in ("bbl", "t"):
        return {}
    factor = rulebook.barrels_per_tonne(rulebook.product_of(event))
    out: dict[str, Decimal] = {}
    if unit == "bbl":
        out.update({u: _EXACT.multiply(q, k) for u, k in _FROM_BBL.items()})
    else:
        out.update({u: _EXACT.multiply(q, k) for u, k in _FROM_T.items()})
        if factor is not None:
            barrels = _EXACT.multiply(q, factor)
            out.update({u: _EXACT.multiply(barrels, k) for u, k in _FROM_BBL.items()})
    return {u: v for u, v in out.items()
            if v <= MAX_AMOUNT and len(v.normalize().as_tuple().digits) <= _DIGITS}  # fmt: skip
