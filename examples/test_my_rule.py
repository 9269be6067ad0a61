"""Testing a rule of your own: `pytest examples/test_my_rule.py` (see docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import compliance
from compliance import Shipment
from compliance.testing import PropertySkipped, properties, strategies

RULEBOOK = compliance.load_rulebook(Path(__file__).parent / "my-rules")
RULE = RULEBOOK.get("example-regional-lpg-cap")
FAST = settings(max_examples=50, deadline=None)


@FAST
@given(strategies.events_matching(RULE, RULEBOOK))
def test_every_matching_delivery_counts_against_the_cap(event: Shipment) -> None:
    report = compliance.evaluate([event], RULEBOOK)
    # Expressible in barrels and tonnes (HS 2711 maps to LPG, which has a factor).
    assert not [f for f in report.findings if f.kind == "unconvertible"]


@FAST
@given(strategies.events_not_matching(RULE, RULEBOOK))
def test_other_deliveries_are_ignored(event: Shipment) -> None:
    report = compliance.evaluate([event], RULEBOOK)
    assert not [f for f in report.findings if f.rule == RULE.id]


def test_the_tonnes_measure_binds_first() -> None:
    # 5,000 t of LPG is 58,000 bbl: the tonnes limit is crossed before the barrels one.
    log = [
        {"id": "a", "date": "2024-02-01", "hs_code": "271112", "destination": "KP",
         "supplier": "CN", "quantity": "3000", "unit": "t"},
        {"id": "b", "date": "2024-03-01", "hs_code": "271112", "destination": "KP",
         "supplier": "CN", "quantity": "2000.5", "unit": "t"},
    ]  # fmt: skip
    [breach] = compliance.evaluate(log, RULEBOOK).breaches
    assert breach.measure is not None
    assert (breach.trigger, breach.measure.unit, str(breach.measure.excess)) == ("b", "t", "0.5")


@pytest.mark.parametrize("name", sorted(properties.PROPERTIES))
def test_the_rule_has_every_property(name: str) -> None:
    try:
        properties.PROPERTIES[name](RULEBOOK, max_examples=20, rule=RULE.id)
    except PropertySkipped as e:  # engines_agree, where the columnar engine cannot run
        pytest.skip(str(e))
