"""The findings of one cap period share what is computed once for the period (counted
events, basis, series): each finding's figures are still what its own series says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import hypothesis
from hypothesis import assume, given
from hypothesis import strategies as st

import compliance
from compliance.engine.findings import (
    Amounts,
    PeriodTally,
    cap_amounts,
    cap_period_findings,
    span_of,
)
from compliance.events import Shipment
from compliance.rulebook.evaluator import compile_rule
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent
from compliance.units import CONTEXT


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Rulebook, list[Shipment]]:
    """A rulebook with caps and events they match."""
    rulebook = draw(strategies.rulebooks(max_rules=4))
    caps = [r for r in rulebook.rules if isinstance(r, CapRule)]
    events: list[Shipment] = []
    for k, rule in enumerate(draw(st.lists(st.sampled_from(caps), max_size=30)) if caps else []):
        try:
            event = draw(strategies.events_matching(rule, rulebook))
        except NoMatchingEvent:
            continue
        events.append(draw(_shaped(event, k, inferred=False)))
    return rulebook, events


@st.composite
def _shaped(draw: st.DrawFn, event: Shipment, k: int, *, inferred: bool) -> Shipment:
    """The event as `e{k}` from a random source, perhaps as a member a finding lists apart:
    ranged, unquantified or (`inferred`: as correlation rules make them; an input record
    cannot say so) inferred."""
    source = draw(st.sampled_from([None, "notification", "panel-report"]))
    update: dict[str, object] = {"id": f"e{k}", "source": source}
    shape = draw(st.sampled_from(["plain", "plain", "ranged", "unquantified", "inferred"]))
    if shape == "ranged" and event.quantity is not None:
        update |= {"quantity_min": event.quantity / 2, "quantity_max": event.quantity * 2}
    elif shape == "unquantified":
        update |= {"quantity": None, "unit": None, "value": None, "currency": None}
    elif shape == "inferred" and inferred:
        update |= {"inferred_from": (f"t{k}", f"p{k}"), "source": "inferred"}
    return event.model_copy(update=update)


@st.composite
def _period_cases(draw: st.DrawFn) -> tuple[Rulebook, CapRule, list[Shipment]]:
    """A cap with fixed periods (calendar, months, fixed) and events it matches within one
    year, so that its periods have several members."""
    rulebook = draw(strategies.rulebooks(max_rules=4))
    caps = [r for r in rulebook.rules
            if isinstance(r, CapRule) and not isinstance(r.period, RollingPeriod)]  # fmt: skip
    assume(caps)
    rule = draw(st.sampled_from(caps))
    year = draw(st.integers(2017, 2021))
    between = (date(year, 1, 1), date(year, 12, 31))
    events = []
    for k in range(draw(st.integers(2, 16))):
        try:
            event = draw(strategies.events_matching(rule, rulebook, between=between))
        except NoMatchingEvent:
            assume(False)
        events.append(draw(_shaped(event, k, inferred=True)))
    return rulebook, rule, events


@given(_cases())
def test_each_cap_finding_is_what_its_series_says(case: tuple[Rulebook, list[Shipment]]) -> None:
    rulebook, events = case
    report = compliance.evaluate(events, rulebook, engine="stream")
    by_id = {e.id: e for e in events}
    for f in report.findings:
        if f.series is None or f.measure is None:
            continue
        unit = f.measure.unit
        counted = [p for p in f.series if p.amounts.get(unit) is not None]
        assert f.events == [p.event for p in counted]
        basis: dict[str, Decimal] = {}
        for p in counted:
            key = by_id[p.event].source or "unspecified"
            basis[key] = CONTEXT.add(basis.get(key, Decimal(0)), p.amounts[unit])  # type: ignore[arg-type]
        assert f.measure.basis == dict(sorted(basis.items()))
        assert f.measure.total == (counted[-1].running[unit] if counted else Decimal(0))
        assert f.inferred == [i for i in f.events if by_id[i].inferred_from]


@given(_period_cases(), st.data())
def test_a_period_tally_kept_up_to_date_finds_what_its_members_give(
    case: tuple[Rulebook, CapRule, list[Shipment]], data: st.DataObject
) -> None:
    # A monitor adds and removes a period's members in any order; the tally's findings
    # after each change are those of the members, found from scratch.
    rulebook, rule, events = case
    tallies: dict[tuple[object, ...], PeriodTally] = {}
    members: dict[tuple[object, ...], dict[str, tuple[Shipment, Amounts]]] = {}
    changes = 0
    for event in data.draw(st.permutations(events + events)):  # second time: may leave
        span = span_of(rule, event.date)
        if span is None or not compile_rule(rule)(event):
            continue
        key = (tuple(event.get(f) for f in rule.group_by), span)
        tally = tallies.setdefault(key, PeriodTally(rule, key[0], span, rulebook))
        held = members.setdefault(key, {})
        if event.id in held and data.draw(st.booleans()):
            tally.remove(event)
            del held[event.id]
        elif event.id not in held:
            amounts = cap_amounts(rule, event, rulebook)
            tally.add(event, amounts)
            held[event.id] = (event, amounts)
        ordered = sorted(held.values(), key=lambda m: (m[0].date, m[0].id))
        found = tally.findings()
        assert found == cap_period_findings(rule, key[0], span, ordered, rulebook)
        changes += bool(found)
    hypothesis.event("findings changed" if changes else "no findings")
