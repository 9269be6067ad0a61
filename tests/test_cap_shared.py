"""The findings of one cap period share what is computed once for the period (counted
events, basis, series): each finding's figures are still what its own series says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import hypothesis
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import compliance
from compliance.engine.findings import (
    Amounts,
    PeriodTally,
    cap_amounts,
    cap_period_findings,
    cap_rolling_findings,
    span_of,
)
from compliance.events import Shipment
from compliance.periods import Span
from compliance.rulebook.evaluator import compile_rule
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent
from compliance.units import CONTEXT
from profiles import examples


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
    return rulebook, rule, draw(_members(rule, rulebook, between, 16))


@st.composite
def _members(
    draw: st.DrawFn, rule: CapRule, rulebook: Rulebook, between: tuple[date, date], most: int
) -> list[Shipment]:
    """Two to `most` events the rule matches, dated within `between`, of every shape."""
    events = []
    for k in range(draw(st.integers(2, most))):
        try:
            event = draw(strategies.events_matching(rule, rulebook, between=between))
        except NoMatchingEvent:
            assume(False)
        events.append(draw(_shaped(event, k, inferred=True)))
    return events


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


@st.composite
def _rolling_cases(draw: st.DrawFn) -> tuple[Rulebook, CapRule, list[Shipment]]:
    """A rolling cap and events it matches over a few of its windows."""
    rulebook = draw(strategies.rulebooks(max_rules=4))
    caps = [r for r in rulebook.rules if isinstance(r, CapRule)]
    assume(caps)
    # Any cap made rolling, over a few days: its windows overlap and cross often.
    period = RollingPeriod(days=draw(st.integers(1, 10)))
    rule = draw(st.sampled_from(caps)).model_copy(update={"period": period})
    first = date(2019, 1, 1).toordinal()
    between = (date.fromordinal(first), date.fromordinal(first + 3 * period.days))
    events = draw(_members(rule, rulebook, between, 24))
    # Limits of the size of a few events' amounts, sometimes exactly a sum of them: each
    # window crosses and falls back, and a total can equal a level.
    limit = []
    for j, measure in enumerate(rule.limit):
        amounts = [a for e in events if (a := cap_amounts(rule, e, rulebook)[j])]
        lo = draw(st.integers(0, max(0, len(amounts) - 1)))
        size = sum(amounts[lo : lo + draw(st.integers(1, 4))], Decimal(0))
        amount = size if size > 0 else measure.amount
        limit.append(measure.model_copy(update={"amount": amount}))
    return rulebook, rule.model_copy(update={"limit": limit}), events


def _crossings(
    rule: CapRule, members: list[tuple[Shipment, Amounts]], since: date | None
) -> list[tuple[Decimal | None, str, date]]:
    """(threshold, trigger, window start) of each upward crossing, level by level, from
    each window's total summed from scratch: DESIGN's rolling cap read literally. A day's
    crossing is new when the window of the day before (every earlier event of its
    `days` days) is under the level."""
    assert isinstance(rule.period, RollingPeriod)
    days = rule.period.days
    out = []
    levels = [(None, [m.amount for m in rule.limit])] + [
        (t.fraction, [CONTEXT.multiply(m.amount, t.fraction) for m in rule.limit])
        for t in rule.thresholds
    ]
    for fraction, bounds in levels:
        strict = fraction is None

        def passes(total: Decimal, bound: Decimal, strict: bool = strict) -> bool:
            return total > bound if strict else total >= bound

        def over(chosen: list[tuple[Shipment, Amounts]], bounds: list[Decimal] = bounds) -> bool:
            totals = [Decimal(0)] * len(bounds)
            for _, amounts in chosen:
                for j, a in enumerate(amounts):
                    if a is not None:
                        totals[j] = CONTEXT.add(totals[j], a)
            return any(passes(t, b) for t, b in zip(totals, bounds, strict=True))

        above = False
        for i, (e, _) in enumerate(members):
            start = e.date.toordinal() - (days - 1)
            if i == 0 or members[i - 1][0].date != e.date:
                above = over([m for m in members[:i] if m[0].date.toordinal() >= start - 1])
            now = over([m for m in members[: i + 1] if m[0].date.toordinal() >= start])
            if now and not above and (since is None or e.date >= since):
                out.append((fraction, e.id, date.fromordinal(start)))
            above = above or now
    return out


@given(_rolling_cases(), st.data())
def test_a_rolling_cap_finds_each_crossing_of_each_level_once(
    case: tuple[Rulebook, CapRule, list[Shipment]], data: st.DataObject
) -> None:
    # One walk serves the limit and every threshold: each level still finds exactly the
    # crossings its windows, summed from scratch, give (on or after `since`, if given).
    rulebook, rule, events = case
    matched = [e for e in events if compile_rule(rule)(e)]
    assume(matched)
    key = tuple(matched[0].get(f) for f in rule.group_by)  # one group's members
    members = sorted(
        ((e, cap_amounts(rule, e, rulebook)) for e in matched
         if tuple(e.get(f) for f in rule.group_by) == key),
        key=lambda m: (m[0].date, m[0].id),
    )  # fmt: skip
    since = data.draw(st.none() | st.sampled_from([e.date for e, _ in members]))
    found = cap_rolling_findings(rule, key, members, rulebook, since=since)
    got = [
        (None if f.kind == "cap_exceeded" else f.measure.threshold, f.trigger, f.period.start)
        for f in found
        if f.measure is not None and f.period is not None
    ]
    assert got == _crossings(rule, members, since)
    hypothesis.event(f"{len(got)} crossings" if len(got) < 3 else "3+ crossings")


_AMOUNTS = st.one_of(
    *(st.decimals(min_value=0, max_value=10**6, places=n) for n in range(4)),
    st.integers(0, 10**6).map(Decimal),
    st.integers(1, 999).map(lambda n: Decimal(n).scaleb(3)),  # exponent 3: '1E+3'
    # Litres expressed in barrels: 34 digits, so a sum of them is rounded.
    st.integers(1, 10**7).map(lambda n: CONTEXT.divide(Decimal(n), Decimal("158.987294928"))),
    st.integers(1, 10**7).map(lambda n: CONTEXT.divide(Decimal(n), Decimal("158.987294928"))),
)


@settings(max_examples=examples(ci=200, thorough=2000))
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([None, "a", "b"]), _AMOUNTS,
                          st.booleans()), min_size=1, max_size=40))  # fmt: skip
def test_a_tally_basis_kept_by_source_is_the_ordered_walk(
    changes: list[tuple[int, str | None, Decimal, bool]],
) -> None:
    # A period's total by source, kept as members come and go, is the sum of each
    # source's amounts walked in (date, id) order at the rulebook's precision, digit for
    # digit (the exponent too: '2.00' is not '2' in a report).
    rule = CapRule.model_validate({"id": "cap", "kind": "cap", "citation": "t",
                                   "match": {"destination": "KP"},
                                   "limit": [{"amount": 10, "unit": "bbl"}],
                                   "period": {"calendar": "year"}})  # fmt: skip
    rulebook = Rulebook(rules=(rule,), sources=("<test>",))
    tally = PeriodTally(rule, (), Span(date(2019, 1, 1), date(2019, 12, 31)), rulebook)
    held: dict[str, tuple[Shipment, Decimal]] = {}
    rounded = False
    for n, source, amount, leave in changes:
        ident = f"e{n}"
        if ident in held and leave:
            tally.remove(held.pop(ident)[0])
        elif ident not in held:
            event = Shipment(id=ident, date=date(2019, 1, 1 + n % 28), quantity=amount,
                             unit="bbl", source=source)  # fmt: skip
            tally.add(event, (amount,))
            held[ident] = (event, amount)
        walked: dict[str, Decimal] = {}
        for event, a in sorted(held.values(), key=lambda m: (m[0].date, m[0].id)):
            key = event.source or "unspecified"
            walked[key] = CONTEXT.add(walked.get(key, Decimal(0)), a)
        basis = tally.counted(0)[2]
        assert [(k, str(v)) for k, v in basis.items()] == sorted(
            (k, str(v)) for k, v in walked.items()
        )
        rounded = rounded or any(len(v.as_tuple().digits) >= CONTEXT.prec for v in walked.values())
    hypothesis.event("some sums of 34 digits" if rounded else "every sum short")
