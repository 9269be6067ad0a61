"""The properties catch what they should: each is handed a deliberately broken engine or
rule and must fail with a counterexample; the real engine passes them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import Phase, settings

import compliance
from compliance.engine import findings
from compliance.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, ProhibitionRule
from compliance.testing import PropertySkipped, check_rulebook, properties

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

    def crossing(rule: Any, bucket: Any, levels: Any, strict: bool) -> Any:
        return original(rule, bucket, levels, False)

    findings._crossing = crossing  # type: ignore[assignment]
    try:
        yield
    finally:
        findings._crossing = original


def inclusive_engine(records: Any, rulebook: Any, **kw: Any) -> compliance.Report:
    with _inclusive_limit():
        return compliance.evaluate(records, rulebook, **kw)


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
    assert "exactly 500000 bbl is reported as a breach" in text
    # Shrunk: one event of exactly the limit.
    assert "counterexample log (1 records, JSON Lines)" in text
    assert '"quantity": "500000"' in text and '"unit": "bbl"' in text


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
    assert set(properties.PROPERTIES) == {label.split("[")[0] for label in outcomes}
    assert outcomes["reachable[unscr-2397-crude-oil]"] == "passed"
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
