"""`trusted(cls, values)` gives what `cls(**values)` gives, and the findings the engines
build with it are the ones validation would build."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import compliance
from compliance.events import Shipment
from compliance.report import ChainLink, Finding, Supersession
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CorrelationRule, DesignationRule, ProhibitionRule
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent
from compliance.trusted import trusted

DPRK = compliance.load_rulebook()


def _given(model: BaseModel) -> dict[str, Any]:
    """The values a model was built from (its set fields)."""
    return {name: model.__dict__[name] for name in model.model_fields_set}


def _same(a: BaseModel, b: BaseModel) -> None:
    assert a == b and type(a) is type(b)
    assert list(a.__dict__.items()) == list(b.__dict__.items())  # values and field order
    assert a.model_fields_set == b.model_fields_set
    assert a.model_dump() == b.model_dump()


@given(strategies.shipments())
def test_a_trusted_shipment_is_the_validated_one(event: Shipment) -> None:
    values = _given(event)
    _same(trusted(Shipment, dict(values)), event)
    _same(trusted(Shipment, dict(values)), Shipment.model_construct(**values))


def test_mutable_defaults_are_fresh_for_each_instance() -> None:
    a = trusted(Shipment, {"id": "a", "date": date.min})
    b = trusted(Shipment, {"id": "b", "date": date.min})
    assert a.extra == {} and a.extra is not b.extra
    finding: dict[str, Any] = {"rule": "r", "kind": "prohibited", "severity": "breach", "title": "t",
               "citation": "c", "verified": True, "date": date.min, "trigger": "a",
               "events": ["a"], "message": "m"}  # fmt: skip
    one, two = trusted(Finding, dict(finding)), trusted(Finding, dict(finding))
    assert one.group == {} and one.group is not two.group and one.inferred is not two.inferred
    _same(one, Finding(**finding))


def test_a_model_with_a_filled_mutable_default_is_refused() -> None:
    class Odd(BaseModel):
        items: list[int] = [1]

    with pytest.raises(TypeError, match="mutable default"):
        trusted(Odd, {})


def _rules(rulebook: Rulebook, kind: type) -> list[Any]:
    return [r for r in rulebook.rules if isinstance(r, kind)]


@st.composite
def _dprk_logs(draw: st.DrawFn) -> list[Shipment]:
    """Events that reach the bundled rulebook's per-event findings: prohibitions,
    designations (and the Panel's association), and transfers with port calls."""
    events: list[Shipment] = []
    rules = _rules(DPRK, ProhibitionRule) + _rules(DPRK, DesignationRule)
    for k, rule in enumerate(draw(st.lists(st.sampled_from(rules), max_size=6))):
        try:
            event = draw(strategies.events_matching(rule, DPRK))
        except NoMatchingEvent:
            continue
        events.append(event.model_copy(update={"id": f"{event.id}-{k}"}))
    (correlation,) = _rules(DPRK, CorrelationRule)
    for k in range(draw(st.integers(0, 3))):
        imo = draw(st.sampled_from(["9123457", "8123451"]))
        day = draw(st.dates(date(2018, 1, 1), date(2019, 12, 31)))
        sts = Shipment(id=f"sts{k}", date=day, transfer="ship_to_ship", hs_code="2710",
                       counterparty_imo=imo, quantity=Decimal(1000), unit="bbl")  # fmt: skip
        call = Shipment(id=f"call{k}", date=day + timedelta(days=draw(st.integers(0, 40))),
                        transfer="port", destination="KP", vessel_imo=imo)  # fmt: skip
        events += [sts, call]
    assert correlation.steps  # the bundled rule these transfers and calls are for
    return events


@given(_dprk_logs())
def test_findings_built_without_validation_are_what_validation_builds(
    log: list[Shipment],
) -> None:
    report = compliance.evaluate(log, DPRK, engine="columnar")
    for finding in report.findings:
        _same(Finding(**_given(finding)), finding)
        _same(trusted(Finding, _given(finding)), finding)
        for link in finding.chain or ():
            _same(ChainLink(**_given(link)), link)


def test_frozen_models_share_a_fields_set_that_nothing_changes_in_place() -> None:
    """Instances given the same fields share one fields-set (its memory is as much as
    their values'); `model_copy` with an update and assignment leave the others' alone,
    and a model that is not frozen gets a set of its own."""
    a = trusted(Shipment, {"id": "a", "date": date.min})
    b = trusted(Shipment, {"id": "b", "date": date.min})
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    copied = a.model_copy(update={"quantity": Decimal(1)})
    assert copied.model_fields_set == {"id", "date", "quantity"}
    assert a.model_fields_set == b.model_fields_set == {"id", "date"}
    with pytest.raises(ValueError):
        a.quantity = Decimal(2)
    assert b.model_fields_set == {"id", "date"}

    class Open(BaseModel):
        x: int = 0
        y: int = 0

    one, two = trusted(Open, {"x": 1}), trusted(Open, {"x": 2})
    assert one.__pydantic_fields_set__ is not two.__pydantic_fields_set__
    one.y = 3
    assert one.model_fields_set == {"x", "y"} and two.model_fields_set == {"x"}


@given(
    ident=st.text(min_size=1, max_size=8),
    by=st.text(min_size=1, max_size=8),
    line=st.none() | st.integers(1, 10**6),
    index=st.none() | st.integers(0, 10**6),
)
def test_a_trusted_supersession_is_the_validated_one(
    ident: str, by: str, line: int | None, index: int | None
) -> None:
    # The ledger builds one per superseded record (5,000 on the 10 M benchmark log).
    values: dict[str, Any] = {
        "id": ident,
        "by": by,
        "source": "log.csv",
        "line": line,
        "index": index,
    }
    built = trusted(Supersession, values)
    assert (
        built == Supersession(**values)
        and built.model_dump() == Supersession(**values).model_dump()
    )
