"""The properties catch what they should: each is handed a deliberately broken engine or
rule and must fail with a counterexample; the real engine passes them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

import compliance
from compliance import Shipment
from compliance.engine import findings
from compliance.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, ProhibitionRule
from compliance.testing import PropertySkipped, check_rulebook, properties
from compliance.testing.properties import _records, _window_lost

EXAMPLES = 25


@pytest.fixture
def no_shrink() -> Iterator[None]:
    """Detection only: shrinking a counterexample costs seconds and one test shows it."""
    previous = settings.default
    settings.register_profile("_no_shrink", previous, phases=[Phase.explicit, Phase.generate])
    settings.load_profile("_no_shrink")
    try:
        yield
    finally:
        settings.register_profile("_previous", previous)
        settings.load_profile("_previous")


@contextmanager
def _inclusive_limit() -> Iterator[None]:
    """Make the shared findings code compare `>=` at the limit (the classic off-by-one)."""
    original = findings._crossing

    def crossing(running: Any, levels: Any, strict: bool) -> Any:
        return original(running, levels, False)

    findings._crossing = crossing
    try:
        yield
    finally:
        findings._crossing = original


def inclusive_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    with _inclusive_limit():
        return compliance.evaluate(records, rulebook, **kw)


def rounding_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    """Compares running totals rounded to whole units with threshold levels, so a notice
    comes up to half a unit early (but never late, and limits are untouched)."""
    original = findings._crossing

    def crossing(running: Any, levels: Any, strict: bool) -> Any:
        if strict:
            return original(running, levels, strict)
        for i, totals in enumerate(running):
            for j, level in enumerate(levels):
                if totals[j].quantize(Decimal(1), ROUND_HALF_UP) >= level:
                    return i, j
        return None

    findings._crossing = crossing
    try:
        return compliance.evaluate(records, rulebook, **kw)
    finally:
        findings._crossing = original


def double_counting_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    """Counts a repeated record again, as a new event, instead of as a duplicate."""
    seen: Counter[str] = Counter()
    renamed = []
    for r in records:
        seen[r["id"]] += 1
        renamed.append({**r, "id": f"{r['id']}-{seen[r['id']]}"} if seen[r["id"]] > 1 else r)
    return compliance.evaluate(renamed, rulebook, **kw)


def test_boundary_exact_catches_inclusive_limit(design_rulebook: Rulebook) -> None:
    with pytest.raises(AssertionError) as e:
        properties.boundary_exact(design_rulebook, EXAMPLES, inclusive_engine,
                                  rule="unscr-2397-refined-petroleum")  # fmt: skip
    text = str(e.value)
    assert "boundary_exact: rule unscr-2397-refined-petroleum" in text
    assert "a total of 500000 bbl (exactly the limit) is reported as a breach" in text
    # Shrunk: one event of exactly the limit.
    assert "counterexample log (1 records, JSON Lines)" in text
    assert '"quantity": "500000"' in text and '"unit": "bbl"' in text


def test_boundary_exact_catches_a_notice_just_below_its_threshold(
    design_rulebook: Rulebook,
) -> None:
    # At and above every level this engine is right: only the just-below probe sees it.
    with pytest.raises(AssertionError) as e:
        properties.boundary_exact(design_rulebook, EXAMPLES, rounding_engine,
                                  rule="unscr-2397-refined-petroleum")  # fmt: skip
    text = str(e.value)
    assert (
        "a total of 374999.999 bbl (0.001 below threshold 0.75 of the limit) is reported "
        "as threshold 0.75 reached"
    ) in text
    assert "counterexample log (1 records, JSON Lines)" in text
    assert '"quantity": "374999.999"' in text


def test_boundary_exact_passes_the_real_engine(design_rulebook: Rulebook) -> None:
    properties.boundary_exact(design_rulebook, EXAMPLES)


@pytest.mark.usefixtures("no_shrink")
def test_duplicate_idempotent_catches_double_counting(design_rulebook: Rulebook) -> None:
    with pytest.raises(AssertionError, match="duplicate_idempotent: rule unscr-2375-ship-to-ship"):
        properties.duplicate_idempotent(design_rulebook, EXAMPLES, double_counting_engine,
                                        rule="unscr-2375-ship-to-ship")  # fmt: skip


def test_duplicate_idempotent_passes_the_real_engine(design_rulebook: Rulebook) -> None:
    properties.duplicate_idempotent(design_rulebook, 10)


def _rulebook(*rules: Any) -> Rulebook:
    return Rulebook(rules=tuple(rules), sources=("<test>",))


def test_satisfiable_catches_a_contradiction() -> None:
    rule = ProhibitionRule.model_validate({
        "id": "never", "kind": "prohibition", "citation": "test",
        "match": {"all": [{"destination": "KP"}, {"destination": "CN"}]},
    })  # fmt: skip
    with pytest.raises(AssertionError, match=r"satisfiable: rule never: no event can match"):
        properties.satisfiable(_rulebook(rule), EXAMPLES)


def test_satisfiable_sees_through_unless_and_dates() -> None:
    rule = ProhibitionRule.model_validate({
        "id": "exempted-away", "kind": "prohibition", "citation": "test",
        "match": {"destination": "KP"}, "unless": {"destination": {"prefix": ["K"]}},
    })  # fmt: skip
    with pytest.raises(AssertionError, match="exempted-away"):
        properties.satisfiable(_rulebook(rule), EXAMPLES)


def test_reachable_catches_a_cap_outside_its_only_period() -> None:
    rule = CapRule.model_validate({
        "id": "too-late", "kind": "cap", "citation": "test", "effective": {"from": "2020-01-01"},
        "match": {"destination": "KP"}, "limit": [{"amount": 100, "unit": "bbl"}],
        "period": {"from": "2018-01-01", "to": "2018-12-31"},
    })  # fmt: skip
    with pytest.raises(AssertionError, match=r"reachable: rule too-late: no date is both in force"):
        properties.reachable(_rulebook(rule), EXAMPLES)


def test_reachable_catches_an_unconvertible_cap() -> None:
    # Tonnes of a product the rulebook has no factor for never add to a barrel cap.
    rule = CapRule.model_validate({
        "id": "tonnes-only", "kind": "cap", "citation": "test",
        "match": {"unit": "t"}, "limit": [{"amount": 100, "unit": "bbl"}],
        "period": {"calendar": "year"},
    })  # fmt: skip
    with pytest.raises(AssertionError, match="reachable: rule tonnes-only: no log tried"):
        properties.reachable(_rulebook(rule), EXAMPLES)


def test_a_property_names_the_kinds_it_applies_to(design_rulebook: Rulebook) -> None:
    with pytest.raises(PropertySkipped, match="applies to cap rules"):
        properties.reachable(design_rulebook, rule="unscr-2375-ship-to-ship")


def test_check_rulebook_runs_every_property(design_rulebook: Rulebook) -> None:
    outcomes = check_rulebook(design_rulebook, max_examples=3)
    applicable = {name for name in properties.PROPERTIES
                  if any(properties.applicable(name, r) for r in design_rulebook.rules)}  # fmt: skip
    assert applicable == {label.split("[")[0] for label in outcomes}
    assert applicable == set(properties.PROPERTIES) - {"price_boundary_exact", "levels_hand_over"}
    assert re.match(
        r"passed: \d+ examples?, [1-9]\d* exercised the rule",
        outcomes["reachable[unscr-2397-crude-oil]"],
    )
    assert "reachable[unscr-2375-ship-to-ship]" not in outcomes  # caps only


@pytest.mark.usefixtures("no_shrink")
def test_check_rulebook_lists_every_failure(design_rulebook: Rulebook) -> None:
    caps = Rulebook(
        rules=tuple(r for r in design_rulebook.rules if r.kind == "cap"),
        factors=design_rulebook.factors,
        hs_products=design_rulebook.hs_products,
    )
    with pytest.raises(AssertionError, match=r"property checks failed") as e:
        check_rulebook(caps, max_examples=10, evaluate=inclusive_engine)
    assert "boundary_exact: rule unscr-2397-refined-petroleum" in str(e.value)
    assert "boundary_exact: rule unscr-2397-crude-oil" in str(e.value)


ROLLING = CapRule.model_validate({
    "id": "rolling", "kind": "cap", "citation": "test", "match": {"destination": "KP"},
    "limit": [{"amount": 1000, "unit": "bbl"}], "period": {"days": 1},
})  # fmt: skip


def _shipment(id: str, day: int, barrels: str) -> Shipment:
    return Shipment(id=id, date=date(2024, 1, day), destination="KP", quantity=Decimal(barrels),
                    unit="bbl")  # fmt: skip


def same_day_correction_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    """Takes a later shipment (by id) on the same date as a correction of the earlier one."""
    latest: dict[Any, Any] = {}
    for r in records:
        if r["date"] not in latest or r["id"] > latest[r["date"]]["id"]:
            latest[r["date"]] = r
    return compliance.evaluate(list(latest.values()), rulebook, **kw)


def test_monotone_passes_the_real_engine_on_a_rolling_cap() -> None:
    properties.monotone(_rulebook(ROLLING), EXAMPLES)


@pytest.mark.parametrize(
    ("engine", "lost"), [(compliance.evaluate, False), (same_day_correction_engine, True)]
)
def test_monotone_checks_every_rolling_breach_window(engine: Any, lost: bool) -> None:
    # Over on day 1, under on day 2, over again on day 3: two breaches. Adding 1 bbl on
    # day 3 keeps day 3 over; the breach of day 1 is still in the log either way, so only
    # evaluating day 3's window shows the broken engine losing the second breach.
    rulebook = _rulebook(ROLLING)
    before = [_shipment("a", 1, "1500"), _shipment("b", 2, "1"), _shipment("c", 3, "1500")]
    after = [*before, _shipment("d", 3, "1")]
    breaches = [f for f in engine(_records(before), rulebook).findings if f.date.day == 3]
    assert [f.kind for f in breaches] == ["cap_exceeded"]
    found = engine(_records(after), rulebook).findings
    assert {f.date.day for f in found} == ({1} if lost else {1, 3})
    problem = _window_lost(ROLLING, rulebook, engine, breaches[0], found, after)
    assert (problem is not None) == lost
    if lost:
        assert problem == ("the window 2024-01-03..2024-01-03 is no longer over the level of "
                           "the cap_exceeded of 2024-01-03 (evaluating the 2 events dated in it)")  # fmt: skip


def test_monotone_allows_merging_rolling_breaches() -> None:
    # Filling day 2 merges the breaches of days 1 and 3 into one: day 3 is still over, so
    # its crossing rightly disappears from the findings and monotone accepts it.
    rulebook = _rulebook(ROLLING)
    before = [_shipment("a", 1, "1500"), _shipment("b", 2, "1"), _shipment("c", 3, "1500")]
    after = [*before, _shipment("a2", 2, "1500")]
    (breach,) = [f for f in compliance.evaluate(_records(before), rulebook).findings
                 if f.date.day == 3]  # fmt: skip
    found = compliance.evaluate(_records(after), rulebook).findings
    assert [f.date.day for f in found] == [1]
    assert _window_lost(ROLLING, rulebook, compliance.evaluate, breach, found, after) is None


def test_split_invariant_passes_the_real_engine_on_a_rolling_cap() -> None:
    properties.split_invariant(_rulebook(ROLLING), EXAMPLES)


# Price caps (rules/price-cap) -----------------------------------------------------------

_PRICE_CAP = Path(__file__).parents[1] / "rules" / "price-cap"


def _shifted(days: int) -> Any:
    """An engine that reads every loading date `days` late: levels hand over a day early."""
    from datetime import date, timedelta

    def evaluate(records: list[dict[str, Any]], rb: compliance.Rulebook, **kw: Any) -> Any:
        moved = [{**r, "date": str(date.fromisoformat(str(r["date"])) + timedelta(days=days))}
                 for r in records]  # fmt: skip
        return compliance.evaluate(moved, rb, **kw)

    return evaluate


def _inflated(records: list[dict[str, Any]], rb: compliance.Rulebook, **kw: Any) -> Any:
    """An engine that rounds prices up by a millionth: a price at the level breaches."""
    bumped = [{**r, "value": str(Decimal(str(r["value"])) * Decimal("1.000001"))}
              if "value" in r else r for r in records]  # fmt: skip
    return compliance.evaluate(bumped, rb, **kw)


def test_price_cap_properties_pass_on_the_bundled_rulebook() -> None:
    from compliance.testing import properties

    rb = compliance.load_rulebook(_PRICE_CAP)
    properties.price_boundary_exact(rb, 20, rule="eu-price-cap-crude")
    properties.levels_hand_over(rb, 20, rule="eu-price-cap-crude")


@pytest.mark.usefixtures("no_shrink")
def test_levels_hand_over_catches_an_engine_off_by_a_day() -> None:
    from compliance.testing import properties

    rb = compliance.load_rulebook(_PRICE_CAP)
    with pytest.raises(AssertionError, match="levels_hand_over: rule eu-price-cap-crude"):
        properties.levels_hand_over(rb, 30, _shifted(1), rule="eu-price-cap-crude")


@pytest.mark.usefixtures("no_shrink")
def test_price_boundary_exact_catches_an_engine_that_rounds_up() -> None:
    from compliance.testing import properties

    rb = compliance.load_rulebook(_PRICE_CAP)
    with pytest.raises(AssertionError, match="a price of exactly"):
        properties.price_boundary_exact(rb, 30, _inflated, rule="us-price-cap-crude")


NEVER = ProhibitionRule.model_validate({
    "id": "never", "kind": "prohibition", "citation": "test",
    "match": {"all": [{"destination": "IR"}, {"destination": "TR"}]},
})  # fmt: skip


def test_an_unsatisfiable_rule_is_one_satisfiable_failure_and_skips() -> None:
    with pytest.raises(AssertionError) as caught:
        check_rulebook(_rulebook(NEVER), max_examples=5)
    message = str(caught.value)
    assert message.startswith("1 of 6 property checks failed:\n\nsatisfiable: rule never: "
                              "no event can match rule never")  # fmt: skip
    assert "InvalidArgument" not in message and "length-zero" not in message


def test_the_other_properties_of_an_unsatisfiable_rule_skip_with_the_reason() -> None:
    for name in ("order_independent", "monotone", "duplicate_idempotent",
                 "accounting_complete", "engines_agree"):  # fmt: skip
        with pytest.raises(
            PropertySkipped,
            match=rf"{name}: rule never is unsatisfiable, so "
            "nothing can exercise it \\(see satisfiable\\): no event can match",
        ):
            properties.PROPERTIES[name](_rulebook(NEVER), 5, rule="never")


def test_a_property_says_how_many_examples_exercised_the_rule(design_rulebook: Rulebook) -> None:
    (checked,) = properties.order_independent(design_rulebook, 8, rule="unscr-2375-ship-to-ship")
    assert (checked.property, checked.rule, checked.examples) == (
        "order_independent", "unscr-2375-ship-to-ship", 8)  # fmt: skip
    assert 0 < checked.exercised <= 8 and 0 < checked.with_findings <= checked.exercised
    assert str(checked).startswith("8 examples, ")


def test_a_property_that_exercised_nothing_fails_as_vacuous(
    design_rulebook: Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the generated logs never held an event the rule applies to.
    monkeypatch.setattr(properties, "applies", lambda rule, event: False)
    with pytest.raises(
        AssertionError,
        match=r"order_independent: rule unscr-2375-ship-to-ship: "
        r"vacuous: none of the 4 generated examples exercised the rule",
    ):
        properties.order_independent(design_rulebook, 4, rule="unscr-2375-ship-to-ship")


def test_engines_agree_says_which_engines_it_compared(design_rulebook: Rulebook) -> None:
    from compliance.api import available_engines

    if len(available_engines()) < 2:
        with pytest.raises(PropertySkipped, match="only columnar runs here"):
            properties.engines_agree(design_rulebook, 3, rule="unscr-2375-ship-to-ship")
        return
    (checked,) = properties.engines_agree(design_rulebook, 3, rule="unscr-2375-ship-to-ship")
    assert checked.note == "compared stream and columnar"


def lower_bounds_rounded_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    """An engine that rounds each estimate's lower bound to whole units: not additive."""
    original = findings.amount_in

    def amount_in(event: Any, measure: Any, rb: Any, *, lower: bool = False) -> Any:
        a = original(event, measure, rb, lower=lower)
        return a.quantize(Decimal(1), ROUND_HALF_UP) if lower and a is not None else a

    findings.amount_in = amount_in  # type: ignore[assignment]
    try:
        return compliance.evaluate(records, rulebook, **kw)
    finally:
        findings.amount_in = original


@pytest.mark.usefixtures("no_shrink")
def test_split_invariant_covers_the_lower_bounds_of_ranges(design_rulebook: Rulebook) -> None:
    rule = "unscr-2397-refined-petroleum"
    properties.split_invariant(design_rulebook, 60, rule=rule)  # the real engine passes
    with pytest.raises(AssertionError, match="lower bounds' total"):
        properties.split_invariant(design_rulebook, 200, lower_bounds_rounded_engine, rule=rule)
