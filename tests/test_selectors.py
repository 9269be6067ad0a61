"""Selectors: parsing, and the one compiled evaluator's exact semantics."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.events import Shipment
from compliance.rulebook.evaluator import matches
from compliance.rulebook.selectors import (
    All,
    AnyOf,
    Not,
    Selector,
    parse_selector,
)
from test_engines_agree import rows, rulebook_texts


def parse(raw: object) -> Selector:
    problems: list[str] = []
    selector = parse_selector(raw, (), lambda path, msg: problems.append(f"{path}: {msg}"))
    assert not problems, problems
    return selector


def ship(**fields: object) -> Shipment:
    return Shipment(id=str(fields.pop("id", "e")), date=fields.pop("date", "2019-01-01"), **fields)  # type: ignore[arg-type]


EVENTS = [
    ship(id="kp-oil", hs_code="271019", destination="KP", quantity="10", unit="bbl"),
    ship(id="cn-oil", hs_code="2710", destination="CN", quantity="3.5", unit="bbl"),
    ship(id="kp-bare", destination="kp"),
    ship(id="sts", transfer="ship_to_ship", vessel_flag="KP", extra={"port": "Nampo"}),
    ship(id="empty"),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"destination": "kp"}, {"kp-oil", "kp-bare"}),
        ({"destination": ["CN", "KP"]}, {"kp-oil", "cn-oil", "kp-bare"}),
        ({"hs_code": {"prefix": ["2710"]}}, {"kp-oil", "cn-oil"}),
        ({"hs_code": {"prefix": ["27101"]}}, {"kp-oil"}),
        ({"quantity": {"gt": 3.5}}, {"kp-oil"}),
        ({"quantity": {"gte": 3.5}}, {"kp-oil", "cn-oil"}),
        ({"quantity": {"lt": 10}}, {"cn-oil"}),
        ({"quantity": {"lte": 10}}, {"kp-oil", "cn-oil"}),
        ({"vessel_flag": {"present": True}}, {"sts"}),
        ({"hs_code": {"present": False}}, {"kp-bare", "sts", "empty"}),
        ({"not": {"destination": "KP"}}, {"cn-oil", "sts", "empty"}),
        ({"not": {"hs_code": {"prefix": ["2710"]}}}, {"kp-bare", "sts", "empty"}),
        ({"not": {"quantity": {"gt": 5}}}, {"cn-oil", "kp-bare", "sts", "empty"}),
        ({"all": [{"destination": "KP"}, {"hs_code": {"prefix": ["27"]}}]}, {"kp-oil"}),
        ({"any": [{"vessel_flag": "KP"}, {"destination": "CN"}]}, {"sts", "cn-oil"}),
        ({"extra.port": "Nampo"}, {"sts"}),
        ({"not": {"extra.port": "Nampo"}}, {"kp-oil", "cn-oil", "kp-bare", "empty"}),
        ({"all": [{"destination": "KP"}, {"destination": "CN"}]}, set()),
    ],
)
def test_operator(raw: dict[str, object], expected: set[str]) -> None:
    selector = parse(raw)
    assert {e.id for e in EVENTS if matches(selector, e)} == expected


def test_unknown_field_suggests_the_right_name() -> None:
    problems: list[str] = []
    parse_selector({"destinaton": "KP"}, ("match",), lambda p, m: problems.append(m))
    assert problems and "did you mean 'destination'" in problems[0]


def test_values_are_validated_at_load_time() -> None:
    problems: list[str] = []
    parse_selector(
        {"destination": "Korea", "unit": "barrel", "quantity": {"gt": "lots"}},
        (),
        lambda p, m: problems.append(m),
    )
    assert len(problems) == 3


# Numbers compare exactly: within one float ulp of a bound, float64 would decide wrongly.


@pytest.mark.parametrize(
    ("raw", "quantity", "expected"),
    [
        ({"quantity": {"gt": 0.3}}, "0.30000000000000001", True),
        ({"quantity": {"gt": 0.3}}, "0.3", False),
        ({"quantity": {"gte": 0.3}}, "0.29999999999999999", False),
        ({"quantity": {"lt": 0.3}}, "0.29999999999999999", True),
        ({"quantity": {"lte": 500000}}, "500000.000000000001", False),
        ({"quantity": 10}, "10.000", True),
        ({"not": {"quantity": {"gt": 0.3}}}, "0.30000000000000001", False),
        ({"quantity": {"gt": 0}}, "0.00001", True),
    ],
)
def test_numbers_compare_exactly(raw: dict[str, object], quantity: str, expected: bool) -> None:
    assert float(D(quantity)) == float(D(str(quantity)))  # the float64 view cannot tell
    event = ship(quantity=quantity, unit="bbl")
    assert matches(parse(raw), event) is expected


def test_extra_numbers_compare_exactly_and_text_never_matches() -> None:
    selector = parse({"extra.draught": {"gt": 0.3}})
    assert matches(selector, ship(extra={"draught": "0.30000000000000001"}))
    assert not matches(selector, ship(extra={"draught": "deep"}))
    assert not matches(selector, ship())


def test_an_empty_any_matches_nothing_and_an_empty_all_everything() -> None:
    assert matches(All(()), ship()) and not matches(AnyOf(()), ship())
    assert matches(Not(AnyOf(())), ship())


@given(rulebook_texts(), st.lists(rows(), max_size=10))
def test_the_evaluator_index_passes_every_rule_an_event_reaches(
    text: str, log: list[dict[str, str]]
) -> None:
    # The index (by value, by presence, by any of several fields) only narrows which rules
    # are tested: the rules reached are those whose compiled test holds.
    import tempfile
    from pathlib import Path

    from compliance.events import Shipment, parse_shipment
    from compliance.rulebook.evaluator import RulebookEvaluator, compile_rule

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        rules = compliance.load_rulebook(path).rules
    evaluator = RulebookEvaluator(rules)
    tests = [compile_rule(r) for r in rules]
    for row in log:
        event = parse_shipment(row)
        if isinstance(event, Shipment):
            assert evaluator.rules_for(event) == [i for i, t in enumerate(tests) if t(event)]
