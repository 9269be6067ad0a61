"""Selectors: the reference semantics, and durable_rules compiling them identically."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.engine._durable import DurableMatcher
from compliance.events import Shipment
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import ProhibitionRule
from compliance.rulebook.selectors import (
    All,
    AnyOf,
    Compare,
    Equals,
    Not,
    Prefix,
    Present,
    Selector,
    matches,
    parse_selector,
)


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
    assert {e.id for e in EVENTS if durable_matches(selector, e)} == expected


def durable_matches(selector: Selector, event: Shipment) -> bool:
    rule = ProhibitionRule(kind="prohibition", id="r", citation="c", match=selector)
    matcher = DurableMatcher(Rulebook(rules=(rule,)))
    try:
        return matcher.match(event) == [0]
    finally:
        matcher.close()


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


# durable_rules must agree with the reference semantics on any selector and event.

COUNTRY = st.sampled_from(["KP", "CN", "RU"])
leaves = st.one_of(
    st.builds(lambda v: Equals("destination", tuple(v)), st.lists(COUNTRY, min_size=1, max_size=2)),
    st.builds(lambda v: Equals("vessel_flag", (v,)), COUNTRY),
    st.builds(lambda p: Prefix("hs_code", (p,)), st.sampled_from(["27", "2710", "271019", "89"])),
    st.builds(
        lambda op, n: Compare("quantity", op, D(n)),
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(0, 20),
    ),
    st.builds(
        lambda f, b: Present(f, b), st.sampled_from(["hs_code", "vessel_flag"]), st.booleans()
    ),
)
selectors = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda xs: All(tuple(xs)), st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: AnyOf(tuple(xs)), st.lists(inner, min_size=1, max_size=3)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)
events = st.builds(
    lambda dest, flag, hs, q: Shipment(
        id="e",
        date=date(2019, 1, 1),
        destination=dest,
        vessel_flag=flag,
        hs_code=hs,
        quantity=None if q is None else D(q),
        unit=None if q is None else "bbl",
    ),
    st.none() | COUNTRY,
    st.none() | COUNTRY,
    st.none() | st.sampled_from(["2709", "2710", "271019", "8901"]),
    st.none() | st.integers(0, 20),
)


@given(selectors, st.lists(events, min_size=1, max_size=5))
def test_durable_agrees_with_reference_semantics(selector: Selector, evs: list[Shipment]) -> None:
    rule = ProhibitionRule(kind="prohibition", id="r", citation="c", match=selector)
    matcher = DurableMatcher(Rulebook(rules=(rule,)))
    try:
        for e in evs:
            assert (matcher.match(e) == [0]) == matches(selector, e)
    finally:
        matcher.close()


def test_tiny_numbers_reach_durable_in_plain_notation() -> None:
    # json.dumps writes 1e-05, which durable_rules' parser rejects with a native error.
    selector = parse({"quantity": {"gt": 0}})
    event = ship(quantity="0.00001", unit="bbl")
    assert durable_matches(selector, event) and matches(selector, event)
    assert not durable_matches(parse({"quantity": {"gt": 1}}), event)
