"""Strategies build what they promise: matching events match, others do not."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compliance
from compliance import Shipment
from compliance.rulebook import Rulebook
from compliance.rulebook.schema import ProhibitionRule
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent, applies

RULE = ProhibitionRule.model_validate({
    "id": "tricky", "kind": "prohibition", "citation": "test",
    "effective": {"from": "2019-01-01", "to": "2019-12-31"},
    "match": {"any": [{"transfer": "ship_to_ship", "vessel_flag": {"present": True}},
                      {"hs_code": {"prefix": ["2710", "2711"]}, "quantity": {"gt": 1000}}],
              "not": {"destination": ["CN", "RU"]}},
    "unless": {"source": "humanitarian"},
})  # fmt: skip


@given(strategies.events_matching(RULE))
def test_events_matching_satisfy_match_unless_and_dates(event: Shipment) -> None:
    assert applies(RULE, event)


@given(strategies.events_not_matching(RULE))
def test_events_not_matching_do_not(event: Shipment) -> None:
    assert not applies(RULE, event)


@given(strategies.shipments(destination="kp", unit="t", vessel_imo=None, quantity=st.just(5)))
def test_shipments_take_pinned_fields(event: Shipment) -> None:
    assert (event.destination, event.unit, event.vessel_imo, event.quantity) == (
        "KP",
        "t",
        None,
        Decimal(5),
    )


@given(strategies.logs(min_size=2, max_size=8))
def test_logs_have_unique_ids(log: list[Shipment]) -> None:
    assert len({e.id for e in log}) == len(log) >= 2


def test_a_contradiction_is_reported_when_the_strategy_is_built() -> None:
    rule = ProhibitionRule.model_validate({
        "id": "never", "kind": "prohibition", "citation": "test",
        "match": {"all": [{"destination": "KP"}, {"not": {"destination": {"prefix": ["K"]}}}]},
    })  # fmt: skip
    with pytest.raises(NoMatchingEvent, match="no event can match rule never"):
        strategies.events_matching(rule)


@settings(max_examples=15)
@given(strategies.rulebooks(), st.data())
def test_random_rulebooks_evaluate_and_their_matching_events_apply(
    rulebook: Rulebook, data: st.DataObject
) -> None:
    rule = data.draw(st.sampled_from(rulebook.rules))
    try:
        event = data.draw(strategies.events_matching(rule, rulebook))
    except NoMatchingEvent:
        return  # random selectors can contradict each other
    assert applies(rule, event)
    compliance.evaluate([event.to_record()], rulebook)


@settings(max_examples=10)
@given(strategies.rulebooks(), st.data())
def test_engines_agree_on_random_rulebooks(rulebook: Rulebook, data: st.DataObject) -> None:
    pytest.importorskip("compliance.engine.columnar")
    from compliance.testing._logs import rule_logs

    log = [e.to_record() for e in data.draw(rule_logs(data.draw(st.sampled_from(rulebook.rules)),
                                                      rulebook))]  # fmt: skip
    stream = compliance.evaluate(log, rulebook, engine="stream").to_dict()
    columnar = compliance.evaluate(log, rulebook, engine="columnar").to_dict()
    assert stream == columnar
