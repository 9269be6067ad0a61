"""Properties every rulebook (and the engine evaluating it) must have.

    from compliance.testing import properties
    properties.boundary_exact(rulebook, max_examples=100)
    properties.satisfiable(rulebook, rule="my-cap")

Each runs hypothesis once per rule it applies to and raises `AssertionError` naming the
rule, what went wrong and a minimal counterexample log (JSON Lines, ready to save and
replay with `compliance evaluate`). `evaluate` is injectable, so a test can hand in a
deliberately broken engine and prove the property catches it. `max_examples=None` takes
the current hypothesis profile's value.

Each says what it checked: it returns a `Checked` per rule, counting the generated
examples and how many *exercised* the rule (held an event the rule applies to) or gave
a finding of it. A property whose examples never exercised the rule fails as vacuous.
A rule no event can match fails `satisfiable`, and every other property of it is
skipped (`PropertySkipped`) naming that reason, instead of passing without checking.
"""

from __future__ import annotations

import json
import math
import unittest
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

try:
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from hypothesis import strategies as st
except ImportError as e:  # the test extra is not installed
    raise ImportError("compliance.testing needs hypothesis: pip install compliance[test]") from e

from compliance.engine.findings import amount_in
from compliance.events import MAX_AMOUNT, Shipment, parse_shipment
from compliance.report import Finding, Report
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CapRule,
    CorrelationRule,
    DeadlineRule,
    DesignationRule,
    Measure,
    PriceCapRule,
    RollingPeriod,
    Rule,
)
from compliance.rulebook.selectors import fields_of, to_dict
from compliance.testing import _logs
from compliance.testing.strategies import NoMatchingEvent, applies, events_matching, in_force
from compliance.units import CONTEXT

__all__ = [
    "PROPERTIES",
    "Checked",
    "PropertySkipped",
    "accounting_complete",
    "boundary_exact",
    "check_rulebook",
    "duplicate_idempotent",
    "engines_agree",
    "levels_hand_over",
    "monotone",
    "order_independent",
    "price_boundary_exact",
    "reachable",
    "satisfiable",
    "split_invariant",
    "unit_invariant",
]

Evaluate = Callable[..., Report]


class PropertySkipped(unittest.SkipTest):
    """A property cannot run here (an unsatisfiable rule, one engine only); pytest
    reports a skip with the reason."""


@dataclass
class Checked:
    """What one property checked of one rule."""

    property: str
    rule: str
    examples: int = 0  # generated examples the property's test ran on
    exercised: int = 0  # of those, with an event the rule applies to
    with_findings: int = 0  # of those, whose evaluation gave a finding of the rule
    note: str = ""  # what else it says (the engines compared, the witness found)

    def saw(self, events: Iterable[Shipment], findings: Iterable[Finding] = ()) -> None:
        """Count one example: its events (does the rule apply to any?) and its findings."""
        self.examples += 1
        rule = self.rule
        if any(applies(self._rule, e) for e in events):
            self.exercised += 1
        if any(f.rule == rule for f in findings):
            self.with_findings += 1

    def __str__(self) -> str:
        examples = f"{self.examples} example{'s' * (self.examples != 1)}"
        text = (f"{examples}, {self.exercised} exercised the rule, "
                f"{self.with_findings} with a finding of it")  # fmt: skip
        return f"{text}; {self.note}" if self.note else text

    _rule: Any = field(default=None, repr=False, compare=False)


Check = Callable[[Rule, Rulebook, int | None, Evaluate, Checked], None]


# Plumbing ------------------------------------------------------------------------------


def _settings(max_examples: int | None) -> settings:
    return settings(
        _profile(), max_examples=max_examples or _profile().max_examples,
        deadline=None, database=None, report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much, HealthCheck.large_base_example],
    )  # fmt: skip


def _profile() -> settings:
    return settings.default or settings()


def _default_evaluate() -> Evaluate:
    """`compliance.evaluate` on the first engine that runs here (looked up at call
    time, so a test may replace it); an `engine=` argument still chooses."""
    import compliance
    from compliance.api import preferred_engine

    evaluate = compliance.evaluate

    def run(records: Any, rulebook: Rulebook, **kw: Any) -> Report:
        return evaluate(records, rulebook, **{"engine": preferred_engine(rulebook), **kw})

    return run


def _shipments(records: Iterable[dict[str, Any]]) -> list[Shipment]:
    parsed = (parse_shipment(r) for r in records)
    return [p for p in parsed if isinstance(p, Shipment)]


_UNSATISFIABLE: dict[tuple[int, str], tuple[Rulebook, str | None]] = {}


def unsatisfiable(rule: Rule, rulebook: Rulebook) -> str | None:
    """Why no event can match `rule` (as `satisfiable` reports it), or None."""
    key = (id(rulebook), rule.id)
    if key not in _UNSATISFIABLE:
        try:
            events_matching(rule, rulebook)
            reason = None
        except NoMatchingEvent as e:
            reason = str(e)
        _UNSATISFIABLE[key] = (rulebook, reason)  # keeps the rulebook's id from reuse
    return _UNSATISFIABLE[key][1]


def _records(events: Iterable[Shipment | dict[str, Any]]) -> list[dict[str, Any]]:
    return [e.to_record() if isinstance(e, Shipment) else dict(e) for e in events]


def _fail(name: str, rule: Rule, problem: str, records: list[dict[str, Any]]) -> None:
    log = "\n".join(json.dumps(r, sort_keys=True, default=str) for r in records)
    count = f"{len(records)} records"
    raise AssertionError(f"{name}: rule {rule.id}: {problem}\n"
                         f"counterexample log ({count}, JSON Lines):\n{log}")  # fmt: skip


def _of(report: Report, rule: Rule) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule.id]


def _brief(findings: Iterable[Finding]) -> str:
    lines = []
    for f in findings:
        m = f.measure
        figures = f" {m.unit} total {m.total} running {m.running}" if m else ""
        threshold = f" threshold {m.threshold}" if m and m.threshold else ""
        period = f" {f.period.start}..{f.period.end}" if f.period else ""
        lines.append(f"  {f.kind} {f.date} trigger={f.trigger}{period}{figures}{threshold}"
                     f"{' group=' + str(f.group) if f.group else ''}")  # fmt: skip
    return "\n".join(lines) or "  (none)"


def _runner(name: str, kinds: tuple[str, ...] | None, check: Check) -> Callable[..., list[Checked]]:
    def prop(
        rulebook: Rulebook,
        max_examples: int | None = None,
        evaluate: Evaluate | None = None,
        *,
        rule: str | Rule | None = None,
    ) -> list[Checked]:
        run = evaluate or _default_evaluate()
        if rule is not None:
            chosen = [rulebook.get(rule) if isinstance(rule, str) else rule]
            if kinds is not None and chosen[0].kind not in kinds:
                raise PropertySkipped(f"{name} applies to {', '.join(kinds)} rules, not "
                                      f"{chosen[0].kind}")  # fmt: skip
        else:
            chosen = [r for r in rulebook.rules if kinds is None or r.kind in kinds]
        done = []
        for r in chosen:
            if isinstance(r, CorrelationRule):
                # Their chains are held equal across engines, orders and file splits by
                # tests/test_correlation.py; no strategy generates chains yet.
                if rule is not None:
                    raise PropertySkipped(f"{name}: no strategy generates correlation chains")
                continue
            if name != "satisfiable" and (why := unsatisfiable(r, rulebook)) is not None:
                if rule is not None:
                    raise PropertySkipped(f"{name}: rule {r.id} is unsatisfiable, so nothing "
                                          f"can exercise it (see satisfiable): {why}")  # fmt: skip
                continue
            checked = Checked(name, r.id, _rule=r)
            check(r, rulebook, max_examples, run, checked)
            if checked.exercised == 0:
                raise AssertionError(f"{name}: rule {r.id}: vacuous: none of the "
                                     f"{checked.examples} generated examples exercised the rule "
                                     "(held an event it applies to)")  # fmt: skip
            done.append(checked)
        return done

    prop.__name__ = prop.__qualname__ = name
    prop.__doc__ = check.__doc__
    return prop


class _Found(Exception):
    """Raised by an existential search's test to stop at the first witness."""


def _exists(
    strategy: st.SearchStrategy[Any], max_examples: int | None, witness: Callable[[Any], bool]
) -> bool:
    """Is some drawn example a witness? Stops at the first, without shrinking it
    (hypothesis' `find` would shrink the witness, which costs much and proves nothing)."""

    found = False

    @settings(_settings(max_examples), phases=[Phase.explicit, Phase.generate])
    @given(strategy)
    def search(example: Any) -> None:
        nonlocal found
        # Hypothesis replays the example that raised: `witness` (which counts) sees it once.
        if found or witness(example):
            found = True
            raise _Found

    try:
        search()
    except _Found:
        return True
    return False


def _given(
    strategy: st.SearchStrategy[Any], max_examples: int | None, test: Callable[[Any], None]
) -> None:
    @_settings(max_examples)
    @given(strategy)
    def run(example: Any) -> None:
        test(example)

    run()


# The properties ------------------------------------------------------------------------


def _order_independent(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """Findings are a function of the set of events, not of their order (estimates given
    as ranges included)."""
    logs = _logs.rule_logs(rule, rulebook, ranges=True).flatmap(
        lambda log: st.tuples(st.just(log), st.permutations(log))
    )

    def test(pair: tuple[list[Shipment], list[Shipment]]) -> None:
        first, second = (evaluate(_records(x), rulebook) for x in pair)
        a, b = _of(first, rule), _of(second, rule)
        checked.saw(pair[0], a)
        if [f.to_dict() for f in a] != [f.to_dict() for f in b]:
            _fail("order_independent", rule, "findings change when the log is reordered:\n"
                  f"in this order:\n{_brief(a)}\nreordered:\n{_brief(b)}\n"
                  f"reordered ids: {[e.id for e in pair[1]]}", _records(pair[0]))  # fmt: skip

    _given(logs, n, test)


def _key(f: Finding) -> tuple[Any, ...]:
    threshold = f.measure.threshold if f.measure else None
    if f.period is not None:
        return (f.kind, tuple(sorted(f.group.items())), f.period.start, f.period.end, threshold)
    return (f.kind, f.trigger, tuple(sorted((f.match or {}).items())))


def _monotone(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """Adding events never removes a finding (a cap breach, say) nor lowers a cap total;
    for a rolling cap, never brings a window back under a limit or threshold it was over.
    With estimates as ranges, neither bound's total falls."""
    rolling = isinstance(rule, CapRule) and isinstance(rule.period, RollingPeriod)
    logs = _logs.rule_logs(rule, rulebook, max_size=12, ranges=True).flatmap(
        lambda log: st.tuples(st.just(log), st.integers(0, len(log)))
    )

    def test(pair: tuple[list[Shipment], int]) -> None:
        log, k = pair
        before = _of(evaluate(_records(log[:k]), rulebook), rule)
        after = _of(evaluate(_records(log), rulebook), rule)
        checked.saw(log, after)
        later = {_key(g): g for g in after}
        problem = None
        for f in before:
            g = later.get(_key(f))
            if f.kind == "pending":
                continue  # a report not yet due: a later event moves the evaluation date on
            if rolling and f.period is not None:
                problem = _window_lost(rule, rulebook, evaluate, f, after, log) or problem
            elif g is None:
                problem = f"the {f.kind} of {f.date} (trigger {f.trigger}) disappears"
            if g is not None and f.measure and g.measure and f.measure.unit == g.measure.unit and (
                    g.measure.total < f.measure.total):  # fmt: skip
                problem = (
                    f"the total of {f.period} falls from {f.measure.total} to {g.measure.total}"
                )
            if g is not None and f.measure and g.measure and f.measure.unit == g.measure.unit and (
                    (g.measure.total_min if g.measure.total_min is not None else g.measure.total)
                    < (f.measure.total_min if f.measure.total_min is not None
                       else f.measure.total)):  # fmt: skip
                problem = f"the lower bounds' total of {f.period} falls"
        if problem:
            _fail("monotone", rule, f"{problem} when events {[e.id for e in log[k:]]} are added "
                  f"to the first {k}:\nbefore:\n{_brief(before)}\nafter:\n{_brief(after)}",
                  _records(log))  # fmt: skip

    _given(logs, n, test)


def _window_lost(rule: Rule, rulebook: Rulebook, evaluate: Evaluate, f: Finding,
                 after: list[Finding], log: list[Shipment]) -> str | None:  # fmt: skip
    """Is the window of rolling-cap finding `f` (over its level on day d) still over with
    every event added? A rolling cap reports upward crossings only, so the full log shows
    this just when its crossing falls on d: adding events may rightly merge two episodes
    over the level into one, leaving only the earlier crossing. The full log must have a
    crossing on or before d; and the log's events dated in the window, evaluated alone
    (where every window ending by d is part of d's, so d's is over exactly when anything
    crosses), must cross too."""
    assert f.period is not None
    level = _key(f)[-1]

    def crossing(findings: list[Finding], by: date) -> bool:
        return any(g.kind == f.kind and g.group == f.group and _key(g)[-1] == level
                   and g.date <= by for g in findings)  # fmt: skip

    if not crossing(after, f.date):
        return f"the {f.kind} of {f.date} disappears, with no crossing before it"
    inside = [e for e in log if f.period.start <= e.date <= f.period.end]
    if not crossing(_of(evaluate(_records(inside), rulebook), rule), f.date):
        return (
            f"the window {f.period.start}..{f.period.end} is no longer over the level of "
            f"the {f.kind} of {f.date} (evaluating the {len(inside)} events dated in it)"
        )
    return None


def _split(event: Shipment, weights: list[int]) -> list[Shipment]:
    """The event as len(weights) parts on its date whose amounts sum to its own exactly."""
    total = sum(weights)

    def split(whole: Decimal) -> list[Decimal]:
        parts = [(whole * w / total).quantize(Decimal("0.001"), ROUND_DOWN) for w in weights[:-1]]
        return [*parts, whole - sum(parts, Decimal(0))]

    amounts: dict[str, list[Decimal]] = {}
    if event.value is not None:
        amounts["value"] = split(event.value)
    # Bounds split as steps (min, then quantity - min, then max - quantity): every part
    # keeps quantity_min <= quantity <= quantity_max.
    below: list[Decimal] | None = None
    for name in ("quantity_min", "quantity", "quantity_max"):
        whole = getattr(event, name)
        if whole is None:
            continue
        if below is None:
            amounts[name] = split(whole)
        else:
            step = split(whole - sum(below, Decimal(0)))
            amounts[name] = [a + b for a, b in zip(below, step, strict=True)]
        below = amounts[name]
    # '#' sorts before every id character, so the parts keep the event's place in (date, id).
    return [event.model_copy(update={"id": f"{event.id}#{i}",
                                     **{k: v[i] for k, v in amounts.items()}})
            for i in range(len(weights))]  # fmt: skip


def _normal(findings: list[Finding], origin: dict[str, str]) -> dict[tuple[Any, ...], Finding]:
    out = {}
    for f in findings:
        trigger = origin.get(f.trigger, f.trigger)
        period = (f.period.start, f.period.end) if f.period else None
        threshold = f.measure.threshold if f.measure else None
        out[(f.kind, f.date, trigger, period, tuple(sorted(f.group.items())), threshold)] = f
    return out


# Totals of a split and an unsplit log may differ in their last digits, legitimately: a
# part in gallons, litres or kilolitres (or tonnes into barrels, or back) converts with a
# division that does not terminate, so the engine rounds each part's conversion to 34
# significant digits (units.CONTEXT) where it rounds the whole's once, and each addition
# to a running total rounds again. Each rounding is off by at most half a unit in the 34th
# digit of its result, i.e. 5e-34 of it, and no result exceeds the total (amounts are
# never negative); `units.convert` rounds at most 5 times. So the totals agree to within
# 5e-34 x (2 x 5 + additions in both logs) of the larger: about 1e-32 relative, instead
# of an arbitrary tolerance. (Exact comparison fails: 10500019.37...75 against ...74.)
_HALF_ULP = Decimal("5e-34")
_CONVERSION_ROUNDINGS = 5


def _close(a: Decimal, b: Decimal, additions: int) -> bool:
    bound = _HALF_ULP * (2 * _CONVERSION_ROUNDINGS + additions) * max(abs(a), abs(b))
    return abs(a - b) <= bound


def _split_invariant(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """Splitting a shipment into parts on the same date changes no total and no breach
    (an estimate's bounds split with it: neither bound's total changes)."""
    assert isinstance(rule, CapRule)
    estimates = _logs.rule_logs(rule, rulebook, min_matching=1, ranges=True)
    logs = estimates.flatmap(lambda log: st.tuples(
        st.just(log), st.integers(0, len(log) - 1),
        st.lists(st.integers(1, 9), min_size=2, max_size=4)))  # fmt: skip

    def test(case: tuple[list[Shipment], int, list[int]]) -> None:
        log, index, weights = case
        event = log[index]
        assume(any(a is not None for a in (event.quantity, event.quantity_min,
                                           event.quantity_max, event.value)))  # fmt: skip
        parts = _split(event, weights)
        split_log = log[:index] + parts + log[index + 1 :]
        found = _of(evaluate(_records(log), rulebook), rule)
        checked.saw(log, found)
        whole = _normal(found, {})
        pieces = _normal(_of(evaluate(_records(split_log), rulebook), rule),
                         {p.id: event.id for p in parts})  # fmt: skip
        problem = None
        if set(whole) != set(pieces):
            problem = (f"splitting {event.id} into {[str(p.quantity) for p in parts]} changes the "
                       f"findings:\nwhole:\n{_brief(whole.values())}\nsplit:\n"
                       f"{_brief(pieces.values())}")  # fmt: skip
        else:
            for key, f in whole.items():
                g = pieces[key]
                if f.measure and g.measure and f.measure.unit == g.measure.unit and not _close(
                        f.measure.total, g.measure.total, len(log) + len(split_log)):  # fmt: skip
                    problem = (f"splitting {event.id} changes the {f.kind} total from "
                               f"{f.measure.total} to {g.measure.total}")  # fmt: skip
                low = f.measure.total_min if f.measure else None
                split_low = g.measure.total_min if g.measure else None
                if (low is None) != (split_low is None) or (
                        low is not None and split_low is not None
                        and not _close(low, split_low, len(log) + len(split_log))):  # fmt: skip
                    problem = (f"splitting {event.id} changes the {f.kind} lower bounds' total "
                               f"from {low} to {split_low}")  # fmt: skip
        if problem:
            _fail("split_invariant", rule, problem, _records(log))

    _given(logs, n, test)


@dataclass(frozen=True)
class _Boundary:
    """Events on one day that put measure j of a cap at any chosen total (the others stay
    below the level under test), and the smallest step `eps` to probe either side with."""

    base: Shipment  # carries the whole total in `field`; other measures get nothing from it
    field: str
    weights: list[int]
    eps: Decimal

    def at(self, total: Decimal) -> list[Shipment]:
        return _split(self.base.model_copy(update={self.field: total}), self.weights)

    def extra(self) -> Shipment:
        return self.base.model_copy(update={"id": f"{self.base.id}~", self.field: self.eps})


def _boundary_case(rule: CapRule, rulebook: Rulebook, j: int, fraction: Decimal | None,
                   ) -> st.SearchStrategy[_Boundary | None]:  # fmt: skip
    """A `_Boundary` for measure j at limit × fraction; None when j cannot be isolated."""
    window = _logs.cap_window(rule)
    m = rule.limit[j]
    if window is None:
        return st.none()
    pin = {"currency": m.unit} if m.is_currency else {"unit": m.unit}
    level = _level(m, fraction)

    @st.composite
    def case(draw: st.DrawFn) -> _Boundary | None:
        day = draw(st.dates(*window))
        try:
            template = draw(events_matching(rule, rulebook, between=(day, day), **pin))
        except NoMatchingEvent:
            return None
        weights = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
        # Other measures get nothing from these events (zero value, or zero quantity).
        zero = {"quantity": Decimal(0)} if m.is_currency else (
            {"value": Decimal(0)} if template.value is not None else {})  # fmt: skip
        field = "value" if m.is_currency else "quantity"
        # Not below 1e-4: a value that small crashes the stream engine when a selector reads
        # `value` (durable_rules rejects the JSON float 1e-05), reported upstream.
        eps = Decimal(draw(st.sampled_from(["1", "0.001"])))
        found = _Boundary(template.model_copy(update={**zero, field: level}), field, weights, eps)
        events = [*found.at(level), found.extra()]
        if level >= eps:
            events += found.at(level - eps)
        for e in events:
            if not applies(rule, e) or any(a is not None and a > MAX_AMOUNT
                                           for a in (e.quantity, e.value)):  # fmt: skip
                return None  # the selector bounds the amount, or the level is too large
        highest = [*found.at(level), found.extra()]
        for k, other in enumerate(rule.limit):
            if k != j and _total(highest, other, rulebook) >= _level(other, fraction):
                return None  # another measure binds first: j is not the boundary here
        return found

    return case()


def _level(m: Measure, fraction: Decimal | None) -> Decimal:
    # The engine's own arithmetic (34 digits), so a level is never rounded differently.
    return m.amount if fraction is None else CONTEXT.multiply(m.amount, fraction)


def _total(events: list[Shipment], m: Measure, rulebook: Rulebook) -> Decimal:
    amounts = (amount_in(e, m, rulebook) for e in events)
    return sum((a for a in amounts if a is not None), Decimal(0))


def _due(rule: CapRule, rulebook: Rulebook, events: list[Shipment]) -> set[Decimal | None]:
    """Which findings a single-period log must give: None for the breach (some total above
    its limit) and each threshold some total has reached (`>=`, as the engine documents:
    a notice is due at exactly its fraction of the limit, a breach only past the limit)."""
    totals = [_total(events, m, rulebook) for m in rule.limit]
    due: set[Decimal | None] = set()
    if any(t > m.amount for t, m in zip(totals, rule.limit, strict=True)):
        due.add(None)
    for threshold in rule.thresholds:
        if any(t >= _level(m, threshold.fraction) for t, m in zip(totals, rule.limit, strict=True)):
            due.add(threshold.fraction)
    return due


def _name(level: Decimal | None) -> str:
    return "a breach" if level is None else f"threshold {level} reached"


def _boundary_exact(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """A cap total exactly at the limit is no breach, the smallest excess is, and the
    smallest shortfall gives no breach and no notice beyond those due. A threshold is
    reached at exactly its fraction of the limit and not one smallest unit below it."""
    assert isinstance(rule, CapRule)
    fractions: list[Decimal | None] = [None, *(t.fraction for t in rule.thresholds)]
    cases = st.sampled_from([(j, f) for j in range(len(rule.limit)) for f in fractions]).flatmap(
        lambda jf: st.tuples(st.just(jf), _boundary_case(rule, rulebook, *jf))
    )

    def test(item: tuple[tuple[int, Decimal | None], _Boundary | None]) -> None:
        (j, fraction), case = item
        if case is None:
            checked.examples += 1  # no events put this measure at this level: not exercised
            return
        m = rule.limit[j]
        level = _level(m, fraction)
        what = "the limit" if fraction is None else f"threshold {fraction} of the limit"
        probes = [(level, f"exactly {what}", case.at(level))]
        if level >= case.eps:
            probes.append((level - case.eps, f"{case.eps} below {what}", case.at(level - case.eps)))
        for total, relation, log in probes:
            got = _of(evaluate(_records(log), rulebook), rule)
            if total == level:
                checked.saw(log, got)
            reported = {_key(f)[-1] for f in got if f.kind in ("cap_exceeded", "threshold_reached")}
            due = _due(rule, rulebook, log)
            if reported != due:
                wrong = [f"reported as {_name(x)}" for x in sorted(reported - due, key=_rank)]
                wrong += [f"not reported as {_name(x)}" for x in sorted(due - reported, key=_rank)]
                _fail("boundary_exact", rule, f"a total of {total} {m.unit} ({relation}) is "
                      f"{' and '.join(wrong)}:\n{_brief(got)}", _records(log))  # fmt: skip
        if fraction is None:
            log = [*case.at(level), case.extra()]
            over = _of(evaluate(_records(log), rulebook), rule)
            found = [f for f in over if f.kind == "cap_exceeded"]
            if not found or found[0].trigger != case.extra().id:
                _fail("boundary_exact", rule, f"the limit plus {case.eps} {m.unit} is not a "
                      f"breach triggered by {case.extra().id}:\n{_brief(over)}",
                      _records(log))  # fmt: skip

    _given(cases, n, test)


def _rank(level: Decimal | None) -> Decimal:
    return Decimal(2) if level is None else level  # the breach after every threshold (<= 1)


def _unit_invariant(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """The same deliveries in barrels, tonnes, kilolitres, litres or gallons (converted
    exactly, with the rulebook's factors) give the same findings."""
    # Targets are drawn independently of the log's length, so shrinking can drop events.
    logs = st.tuples(_logs.rule_logs(rule, rulebook, units=("bbl", "t")),
                     st.lists(st.sampled_from(["bbl", "t", "kg", "l", "kl", "m3", "gal"]),
                              min_size=10, max_size=10))  # fmt: skip

    def test(case: tuple[list[Shipment], list[str]]) -> None:
        log, targets = case
        variant = []
        for e, target in zip(log, targets, strict=False):
            exact = _logs.unit_variants(e, rulebook)
            variant.append(e.model_copy(update={"unit": target, "quantity": exact[target]})
                           if target in exact else e)  # fmt: skip
        a = _of(evaluate(_records(log), rulebook), rule)
        b = _of(evaluate(_records(variant), rulebook), rule)
        checked.saw(log, a)
        # Messages may name the logged unit ("kg of an unnamed product cannot be ..."),
        # so compare everything else.
        if [_sans_message(f) for f in a] != [_sans_message(f) for f in b]:
            changed = {e.id: f"{v.quantity} {v.unit}" for e, v in zip(log, variant, strict=False)
                       if v is not e}  # fmt: skip
            _fail(
                "unit_invariant",
                rule,
                f"re-expressing {changed} changes the findings:\n"
                f"as logged:\n{_brief(a)}\nre-expressed:\n{_brief(b)}",
                _records(log),
            )

    _given(logs, n, test)


def _sans_message(f: Finding) -> dict[str, Any]:
    """A finding without what names the logged unit: its message, and the factor each
    series point was converted with (barrels as logged need none)."""
    out = {k: v for k, v in f.to_dict().items() if k != "message"}
    if "series" in out:
        out["series"] = [{k: v for k, v in p.items() if k != "factor"} for p in out["series"]]
    return out


def _duplicate_idempotent(rule: Rule, rulebook: Rulebook, n: int | None,
                          evaluate: Evaluate, checked: Checked) -> None:  # fmt: skip
    """Repeating records (same id, same content) changes no finding; they count as duplicates."""

    def repeated(log: list[Shipment]) -> st.SearchStrategy[tuple[list[Shipment], list[Shipment]]]:
        if not log:  # nothing to repeat (an unsatisfiable rule is skipped before this)
            return st.just((log, log))
        copies = st.lists(st.sampled_from(log), min_size=1, max_size=4)
        return copies.flatmap(lambda c: st.tuples(st.just(log), st.permutations(log + c)))

    logs = _logs.rule_logs(rule, rulebook, min_matching=1).flatmap(repeated)

    def test(pair: tuple[list[Shipment], list[Shipment]]) -> None:
        log, again = pair
        once, twice = evaluate(_records(log), rulebook), evaluate(_records(again), rulebook)
        copies = len(again) - len(log)
        a, b = _of(once, rule), _of(twice, rule)
        checked.saw(log, a)
        if [f.to_dict() for f in a] != [f.to_dict() for f in b]:
            _fail(
                "duplicate_idempotent",
                rule,
                f"repeating {copies} records changes the findings:"
                f"\nonce:\n{_brief(a)}\nwith duplicates:\n{_brief(b)}",
                _records(again),
            )
        acc = twice.accounting
        if (acc.duplicates, acc.evaluated) != (copies, once.accounting.evaluated):
            _fail("duplicate_idempotent", rule, f"{copies} repeated records are accounted as "
                  f"{acc.duplicates} duplicates, {acc.evaluated} evaluated (expected "
                  f"{once.accounting.evaluated})", _records(again))  # fmt: skip

    _given(logs, n, test)


def _accounting_complete(rule: Rule, rulebook: Rulebook, n: int | None,
                         evaluate: Evaluate, checked: Checked) -> None:  # fmt: skip
    """Every record ends evaluated, duplicate, superseded or rejected, as the ledger rules
    say; only evaluated events appear in findings."""

    def test(log: _logs.Messy) -> None:
        report = evaluate(log.records, rulebook)
        evaluated = [r for r in log.records if r.get("id") in log.evaluated]
        checked.saw(_shipments(evaluated), _of(report, rule))
        acc = report.accounting
        expected = (len(log.records), len(log.evaluated), log.duplicates, log.superseded,
                    log.rejected)  # fmt: skip
        got = (acc.read, acc.evaluated, acc.duplicates, acc.superseded, acc.rejected)
        problems = []
        if got != expected:
            problems.append(f"accounting (read, evaluated, duplicates, superseded, rejected) "
                            f"is {got}, expected {expected}")  # fmt: skip
        if acc.evaluated + acc.duplicates + acc.superseded + acc.rejected != acc.read:
            problems.append(f"{acc} does not add up to the records read")
        if len(report.rejected) != acc.rejected or any(not r.reasons for r in report.rejected):
            problems.append("rejections are not all listed with their reasons")
        for f in _of(report, rule):
            stray = {f.trigger, *f.events} - log.evaluated
            if stray:
                problems.append(f"{f.kind} counts records that were not evaluated: {sorted(stray)}")
        if problems:
            _fail("accounting_complete", rule, "; ".join(problems), log.records)

    _given(_logs.messy_logs(rule, rulebook), n, test)


def _engines_agree(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
                   checked: Checked) -> None:  # fmt: skip
    """Every engine that runs here gives the same report (the first engine's is the
    reference); skipped where only one runs."""
    from compliance.api import available_engines

    engines = available_engines(rulebook)
    if len(engines) < 2:
        raise PropertySkipped(f"engines_agree compares engines, and only {engines[0]} runs "
                              "here")  # fmt: skip
    checked.note = f"compared {' and '.join(engines)}"
    first, *others = engines

    def test(log: _logs.Messy) -> None:
        reference = evaluate(log.records, rulebook, engine=first)
        a = _of(reference, rule)
        evaluated = [r for r in log.records if r.get("id") in log.evaluated]
        checked.saw(_shipments(evaluated), a)
        for engine in others:
            report = evaluate(log.records, rulebook, engine=engine)
            b = _of(report, rule)
            if [f.to_dict() for f in a] != [f.to_dict() for f in b]:
                _fail("engines_agree", rule, f"the engines disagree:\n{first}:\n{_brief(a)}\n"
                      f"{engine}:\n{_brief(b)}", log.records)  # fmt: skip
            if reference.accounting != report.accounting:
                _fail("engines_agree", rule, f"the engines account differently: {first} "
                      f"{reference.accounting}, {engine} {report.accounting}",
                      log.records)  # fmt: skip

    _given(_logs.messy_logs(rule, rulebook), n, test)


def _expected_kind(rule: Rule) -> tuple[str, ...]:
    if isinstance(rule, DesignationRule) and rule.associate is not None:
        return ("associated",)
    return {"prohibition": ("prohibited",), "designation": ("designated",),
            "deadline": ("unreported", "late_report"),
            "unnotified": ("unnotified",)}.get(rule.kind, ())  # fmt: skip


def _satisfiable(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """Some valid event, dated while the rule is in force, matches it (and, for event
    rules, the engine reports it)."""
    try:
        events = events_matching(rule, rulebook)
    except NoMatchingEvent as e:
        unless = f", unless {to_dict(rule.unless)}" if rule.unless is not None else ""
        raise AssertionError(f"satisfiable: rule {rule.id}: {e}\nmatch: {to_dict(rule.match)}"
                             f"{unless}; effective {rule.effective.from_}..{rule.effective.to}"
                             ) from None  # fmt: skip
    if isinstance(rule, DeadlineRule):
        late = events.map(lambda e: e.model_copy(update={
            "reported_on": rule.due(e.date) + timedelta(days=1)}))  # fmt: skip
        events = events | late
    kinds = _expected_kind(rule)
    tried: list[Shipment] = []

    def reported(event: Shipment) -> bool:
        tried.append(event)
        if not applies(rule, event):
            checked.examples += 1
            return False
        findings = _of(evaluate(_records([event]), rulebook), rule)
        checked.saw([event], findings)
        return not kinds or any(f.kind in kinds for f in findings)

    if _exists(events, n, reported):
        checked.note = "found an event it applies to" + (", reported" if kinds else "")
    else:
        last = tried[-1] if tried else None
        _fail("satisfiable", rule, f"no event tried was reported as {' or '.join(kinds)}",
              _records([last] if last else []))  # fmt: skip


def _reachable(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
        checked: Checked) -> None:  # fmt: skip
    """Every cap can be breached by events dated while it is in force."""
    assert isinstance(rule, CapRule)
    window = _logs.cap_window(rule)
    if window is None:
        period = rule.period
        raise AssertionError(
            f"reachable: rule {rule.id}: no date is both in force (effective "
            f"{rule.effective.from_}..{rule.effective.to}) and inside its only period "
            f"({getattr(period, 'from_', None)}..{getattr(period, 'to', None)}): it can never "
            "be breached"
        )
    tried: list[list[Shipment]] = []

    @st.composite
    def breaching(draw: st.DrawFn) -> list[Shipment]:
        day = draw(st.dates(*window))
        template = draw(events_matching(rule, rulebook, between=(day, day)))
        per_event = {j: amount_in(template.model_copy(update={"quantity": Decimal(1),
                                                               "value": Decimal(1)}), m, rulebook)
                     for j, m in enumerate(rule.limit)}  # fmt: skip
        rates = [(m, r) for j, m in enumerate(rule.limit) if (r := per_event[j])]
        if not rates:
            return [template]
        m, rate = draw(st.sampled_from(rates))
        needed = (m.amount / rate + 1).to_integral_value()
        field = "value" if m.is_currency else "quantity"
        bounded = field in fields_of(rule.match) and getattr(template, field)
        each = getattr(template, field) if bounded else min(needed, MAX_AMOUNT)
        count = min(2000, math.ceil(needed / each)) if each else 1
        return [template.model_copy(update={"id": f"{template.id}#{i}", field: each})
                for i in range(count)]  # fmt: skip

    def breached(log: list[Shipment]) -> bool:
        tried.append(log)
        findings = _of(evaluate(_records(log), rulebook), rule)
        checked.saw(log, findings)
        return any(f.kind == "cap_exceeded" for f in findings)

    try:
        found = _exists(breaching(), n, breached)
    except NoMatchingEvent as e:
        raise AssertionError(f"reachable: rule {rule.id}: {e}") from None
    if found:
        checked.note = "found a log that breaches it"
    else:
        last = tried[-1] if tried else []
        findings = _of(evaluate(_records(last), rulebook), rule) if last else []
        _fail("reachable", rule, "no log tried breached the cap; the last one gave:\n"
              f"{_brief(findings)}", _records(last))  # fmt: skip


# Price caps ----------------------------------------------------------------------------

_PRICED = ("price_cap_exceeded", "safe_harbour")
_CENT = Decimal("0.01")


def _level_on(rule: PriceCapRule, day: date) -> date | None:
    """The change governing a cargo loaded on `day` that names no contract or unloading
    date, worked out from the rule alone: the latest change on or before the day, unless
    a wind-down of it needs only loading before a later date."""
    for since, level in reversed(rule.changes):
        if day < since:
            continue
        if any(w.contract_before is None and w.unloaded_before is None and w.loaded_before
               and day < w.loaded_before for w in level.wind_down):  # fmt: skip
            continue
        return since
    return None


def _plain_cargo(rule: PriceCapRule, rulebook: Rulebook, day: date) -> st.SearchStrategy[Shipment]:
    provider = rule.jurisdiction[0] if rule.jurisdiction else None
    return events_matching(rule, rulebook, between=(day, day), provider=provider,
                           contract_date=None, unloaded_on=None, attestation=None,
                           currency=rule.currency)  # fmt: skip


def _at_price(rule: PriceCapRule, rulebook: Rulebook, e: Shipment, price: Decimal) -> Shipment:
    from compliance.engine.price_caps import quantity_in

    quantity = quantity_in(rule, e, rulebook)
    assume(quantity is not None and quantity > 0)
    assert quantity is not None
    return e.model_copy(update={"value": CONTEXT.multiply(price, quantity)})


def _price_boundary_exact(rule: Rule, rulebook: Rulebook, n: int | None,
                          evaluate: Evaluate, checked: Checked) -> None:  # fmt: skip
    """A cargo priced exactly at a level is compliant; one cent per unit above it is a
    breach of that level, triggered by it."""
    assert isinstance(rule, PriceCapRule)
    days = [d for d, _ in rule.changes if in_force(rule, (d, d))]
    if not days:
        raise PropertySkipped(f"no change of rule {rule.id} falls while it is in force")
    cases = st.sampled_from(days).flatmap(
        lambda d: st.tuples(st.just(d), _plain_cargo(rule, rulebook, d))
    )

    def test(case: tuple[date, Shipment]) -> None:
        day, e = case
        since = _level_on(rule, day)
        if since is None:
            checked.examples += 1  # no level governs this cargo: not exercised
            return
        level = rule.values[since].level
        at = _at_price(rule, rulebook, e, level)
        over = _at_price(rule, rulebook, e, level + _CENT)
        got = [f for f in _of(evaluate(_records([at]), rulebook), rule) if f.kind in _PRICED]
        checked.saw([at], got)
        if got:
            _fail("price_boundary_exact", rule, f"a price of exactly {level} per {rule.unit} is "
                  f"reported:\n{_brief(got)}", _records([at]))  # fmt: skip
        got = [f for f in _of(evaluate(_records([over]), rulebook), rule) if f.kind in _PRICED]
        if not got or any(f.trigger != over.id or (f.price or {}).get("level_from")
                          != since.isoformat() for f in got):  # fmt: skip
            _fail("price_boundary_exact", rule, f"a price one cent above {level} per "
                  f"{rule.unit} (the level from {since}) is not reported as over it:\n"
                  f"{_brief(got)}", _records([over]))  # fmt: skip

    _given(cases, n, test)


def _levels_hand_over(rule: Rule, rulebook: Rulebook, n: int | None, evaluate: Evaluate,
                      checked: Checked) -> None:  # fmt: skip
    """Each dated level governs from its date exactly: a cargo loaded the day before is
    evaluated at the previous level (or none), one loaded on the day at the new one."""
    assert isinstance(rule, PriceCapRule)
    top = max(v.level for v in rule.values.values()) + 1
    days = [d + timedelta(days=k) for d, _ in rule.changes for k in (-1, 0)]
    days = [d for d in days if in_force(rule, (d, d))]
    if not days:
        raise PropertySkipped(f"no change of rule {rule.id} falls while it is in force")
    cases = st.sampled_from(days).flatmap(
        lambda d: st.tuples(st.just(d), _plain_cargo(rule, rulebook, d))
    )

    def test(case: tuple[date, Shipment]) -> None:
        day, e = case
        cargo = _at_price(rule, rulebook, e, top)
        since = _level_on(rule, day)
        got = [f for f in _of(evaluate(_records([cargo]), rulebook), rule) if f.kind in _PRICED]
        checked.saw([cargo], got)
        wanted = since.isoformat() if since else None
        seen = {(f.price or {}).get("level_from") for f in got} or {None}
        if seen != {wanted}:
            _fail("levels_hand_over", rule, f"a cargo loaded on {day} above every level is "
                  f"evaluated at the level from {sorted(map(str, seen))}, expected "
                  f"{wanted or 'none'}:\n{_brief(got)}", _records([cargo]))  # fmt: skip

    _given(cases, n, test)


CAP = ("cap",)
PRICE_CAP = ("price_cap",)
# A notification added to a month withdraws its `unnotified` finding: by design, not monotone.
MONOTONE = ("cap", "prohibition", "deadline", "designation", "price_cap")
PROPERTIES: dict[str, Callable[..., list[Checked]]] = {
    "order_independent": _runner("order_independent", None, _order_independent),
    "monotone": _runner("monotone", MONOTONE, _monotone),
    "split_invariant": _runner("split_invariant", CAP, _split_invariant),
    "boundary_exact": _runner("boundary_exact", CAP, _boundary_exact),
    "unit_invariant": _runner("unit_invariant", CAP, _unit_invariant),
    "duplicate_idempotent": _runner("duplicate_idempotent", None, _duplicate_idempotent),
    "accounting_complete": _runner("accounting_complete", None, _accounting_complete),
    "engines_agree": _runner("engines_agree", None, _engines_agree),
    "satisfiable": _runner("satisfiable", None, _satisfiable),
    "reachable": _runner("reachable", CAP, _reachable),
    "price_boundary_exact": _runner("price_boundary_exact", PRICE_CAP, _price_boundary_exact),
    "levels_hand_over": _runner("levels_hand_over", PRICE_CAP, _levels_hand_over),
}
"""Every property by name, each `(rulebook, max_examples=None, evaluate=None, *, rule=None)`."""
KINDS: dict[str, tuple[str, ...] | None] = {
    "split_invariant": CAP, "boundary_exact": CAP, "unit_invariant": CAP, "reachable": CAP,
    "price_boundary_exact": PRICE_CAP, "levels_hand_over": PRICE_CAP,
    "monotone": MONOTONE,
}  # fmt: skip

order_independent = PROPERTIES["order_independent"]
monotone = PROPERTIES["monotone"]
split_invariant = PROPERTIES["split_invariant"]
boundary_exact = PROPERTIES["boundary_exact"]
unit_invariant = PROPERTIES["unit_invariant"]
duplicate_idempotent = PROPERTIES["duplicate_idempotent"]
accounting_complete = PROPERTIES["accounting_complete"]
engines_agree = PROPERTIES["engines_agree"]
satisfiable = PROPERTIES["satisfiable"]
reachable = PROPERTIES["reachable"]
price_boundary_exact = PROPERTIES["price_boundary_exact"]
levels_hand_over = PROPERTIES["levels_hand_over"]


def applicable(name: str, rule: Rule) -> bool:
    """Does property `name` apply to this rule's kind?"""
    kinds = KINDS.get(name)
    return kinds is None or rule.kind in kinds


def check_rulebook(
    rulebook: Rulebook, max_examples: int | None = None, evaluate: Evaluate | None = None
) -> dict[str, str]:
    """Run every property on every rule it applies to; raise one `AssertionError` listing
    every failure. Returns `{"property[rule]": outcome}`, each outcome `passed: ` and what
    was checked (`30 examples, 27 exercised the rule, 9 with a finding of it`), or
    `skipped: ` and why (an unsatisfiable rule's properties other than `satisfiable`).

    >>> check_rulebook(compliance.load_rulebook(), max_examples=20)   # doctest: +SKIP
    """
    outcomes: dict[str, str] = {}
    failures: list[str] = []
    for name, prop in PROPERTIES.items():
        for rule in rulebook.rules:
            if not applicable(name, rule):
                continue
            label = f"{name}[{rule.id}]"
            try:
                (checked,) = prop(rulebook, max_examples, evaluate, rule=rule)
                outcomes[label] = f"passed: {checked}"
            except PropertySkipped as e:
                outcomes[label] = f"skipped: {e}"
            except AssertionError as e:
                outcomes[label] = "failed"
                failures.append(str(e))
    if failures:
        raise AssertionError(f"{len(failures)} of {len(outcomes)} property checks failed:\n\n"
                             + "\n\n".join(failures))  # fmt: skip
    return outcomes
