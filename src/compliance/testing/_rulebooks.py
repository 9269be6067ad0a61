"""Random valid rulebooks, for testing engines (not rule files) with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CapRule,
    ConversionFactor,
    CorrelationRule,
    DeadlineRule,
    DesignationRule,
    HsProduct,
    ProhibitionRule,
    Rule,
)

__all__ = [
    "CORRELATION_BOUNDS",
    "CORRELATION_DAYS",
    "correlation_rules",
    "imo_numbers",
    "rulebooks",
]

_HS = ("2709", "2710", "271019", "2711", "27")
_COUNTRIES = ("KP", "CN", "RU", "SG")
_FACTORS = {"crude": Decimal("7.619"), "diesel": Decimal("7.5"), "lpg": Decimal("11.6")}


def imo_numbers(prefix: str = "") -> SearchStrategy[str]:
    """Valid 7-digit IMO numbers (check digit computed), optionally starting with `prefix`."""

    def finish(six: str) -> str:
        total = sum(int(d) * w for d, w in zip(six, range(7, 1, -1), strict=True))
        return six + str(total % 10)

    if len(prefix) >= 7:
        return st.just(prefix[:7])
    body = st.text("0123456789", min_size=6 - len(prefix), max_size=6 - len(prefix))
    return body.map(lambda rest: finish(prefix + rest))


_BOUNDS = st.integers(1, 5000)


def _selectors(
    depth: int = 2, bounds: SearchStrategy[int] = _BOUNDS
) -> SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(
        st.sampled_from(_HS).map(lambda p: {"hs_code": {"prefix": [p]}}),
        st.lists(st.sampled_from(_COUNTRIES), min_size=1, max_size=2, unique=True).map(
            lambda cs: {"destination": cs if len(cs) > 1 else cs[0]}),
        st.sampled_from(_COUNTRIES).map(lambda cc: {"supplier": cc}),
        st.sampled_from(("ship_to_ship", "port", "rail")).map(lambda t: {"transfer": t}),
        st.sampled_from(("gt", "lte")).flatmap(lambda op: bounds.map(
            lambda n: {"quantity": {op: n}})),
        st.booleans().map(lambda b: {"reported_on": {"present": b}}),
        st.sampled_from(("crude", "diesel", "gasoline")).map(lambda p: {"product": p}),
    )  # fmt: skip
    if depth == 0:
        return leaves
    inner = _selectors(depth - 1, bounds)
    return st.one_of(
        leaves,
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
        st.tuples(leaves, leaves).map(lambda ab: {**ab[1], **ab[0]}),
    )


_DAYS = st.dates(date(2016, 1, 1), date(2026, 12, 31))


@st.composite
def _effective(draw: st.DrawFn) -> dict[str, date]:
    out: dict[str, date] = {}
    start = draw(st.none() | _DAYS)
    if start is not None:
        out["from"] = start
    if draw(st.booleans()):
        out["to"] = (start or date(2016, 1, 1)) + timedelta(days=draw(st.integers(30, 2000)))
    return out


_PERIODS = st.one_of(
    st.sampled_from(("year", "quarter", "month")).map(lambda u: {"calendar": u}),
    st.builds(lambda n, a: {"months": n, "anchor": a}, st.sampled_from((1, 6, 12)), _DAYS),
    st.integers(1, 400).map(lambda n: {"days": n}),
    st.builds(lambda a, n: {"from": a, "to": a + timedelta(days=n)}, _DAYS, st.integers(0, 900)),
)
_MEASURES = st.one_of(
    st.builds(lambda n, u: {"amount": n, "unit": u}, st.integers(1, 10**6),
              st.sampled_from(("bbl", "t", "kl"))),
    st.builds(lambda n: {"amount": n, "unit": "USD"}, st.integers(1, 10**8)),
)  # fmt: skip


@st.composite
def _rule(draw: st.DrawFn, index: int) -> Rule:
    kind = draw(st.sampled_from(("cap", "cap", "prohibition", "deadline", "designation")))
    raw: dict[str, Any] = {"id": f"r{index}-{kind}", "kind": kind, "citation": f"test {index}",
                           "effective": draw(_effective())}  # fmt: skip
    if kind != "designation" or draw(st.booleans()):
        raw["match"] = draw(_selectors())
    if kind in ("prohibition", "cap") and draw(st.booleans()):
        raw["unless"] = draw(_selectors(0))
    if kind == "cap":
        measures = draw(st.lists(_MEASURES, min_size=1, max_size=3, unique_by=lambda m: m["unit"]))
        raw.update(limit=measures, period=draw(_PERIODS))
        raw["thresholds"] = draw(st.lists(st.sampled_from(("0.5", "0.75", "0.9", "0.95", "1")),
                                          max_size=3, unique=True))  # fmt: skip
        raw["group_by"] = draw(st.sampled_from(([], ["supplier"], ["destination", "supplier"])))
        return CapRule.model_validate(raw)
    if kind == "prohibition":
        return ProhibitionRule.model_validate(raw)
    if kind == "deadline":
        raw["within"] = {"days": draw(st.integers(0, 90))}
        return DeadlineRule.model_validate(raw)
    entry = st.builds(lambda i, d: {"identifier": i, "designated": d}, imo_numbers(), _DAYS)
    entries = draw(st.lists(entry, min_size=1, max_size=4, unique_by=lambda e: e["identifier"]))
    raw["designations"] = entries
    return DesignationRule.model_validate(raw)


@st.composite
def rulebooks(draw: st.DrawFn, min_rules: int = 1, max_rules: int = 5) -> Rulebook:
    """Random valid rulebooks: caps of every period kind (fixed, calendar, N-month,
    rolling), several measures, thresholds, group_by; prohibitions with `unless`;
    deadlines; designations. Built through the rule models, so each is loadable."""
    count = draw(st.integers(min_rules, max_rules))
    rules = tuple(draw(_rule(i)) for i in range(count))
    products = draw(st.lists(st.sampled_from(sorted(_FACTORS)), unique=True, max_size=3))
    factors = {p: ConversionFactor(product=p, barrels_per_tonne=_FACTORS[p]) for p in products}
    hs = (HsProduct(hs_code="2709", product="crude"),) if "crude" in factors else ()
    return Rulebook(rules=rules, sources=("<hypothesis>",), factors=factors, hs_products=hs)


CORRELATION_DAYS = (date(2019, 1, 1), date(2019, 1, 31))
"""The dates `correlation_rules`' effective periods fall in: evidence dated here meets them."""
CORRELATION_BOUNDS = (100, 1000)
"""The quantities `correlation_rules`' selectors compare with (evidence at and near them
meets the bounds and their float rounding)."""
_JOINED = ("vessel_imo", "counterparty_imo", "destination", "extra.voyage")


@st.composite
def correlation_rules(draw: st.DrawFn, index: int = 0) -> CorrelationRule:
    """Random valid correlation rules: two or three steps, each with random selectors
    (and `unless`), joins on IMO numbers, countries or an extra column (`voyage`), windows
    of 0 to 30 days after any earlier step, a rule-level `match` and an effective period
    within `CORRELATION_DAYS` or open."""
    lo, hi = CORRELATION_DAYS
    bounds = st.sampled_from(CORRELATION_BOUNDS)
    leaves = _selectors(0, bounds)
    steps: list[dict[str, Any]] = []
    for k in range(draw(st.integers(2, 3))):
        # Mostly one test per step, so that chains are found often.
        match = draw(st.one_of(st.just({"id": {"present": True}}), leaves, _selectors(1, bounds)))
        step: dict[str, Any] = {"id": f"s{k}", "match": match}
        if draw(st.integers(0, 3)) == 0:
            step["unless"] = draw(leaves)
        if k:
            joins = draw(st.lists(st.sampled_from(_JOINED), min_size=1, max_size=2, unique=True))
            step["join"] = {
                f: f"s{draw(st.integers(0, k - 1))}.{draw(st.sampled_from(_JOINED))}" for f in joins
            }
            if draw(st.integers(0, 2)):  # the receiving vessel's next event, the usual join
                step["join"] = {"vessel_imo": f"s{k - 1}.counterparty_imo"}
            step["within"] = {"days": draw(st.sampled_from((0, 1, 7, 30, 30))),
                              "after": f"s{draw(st.integers(0, k - 1))}"}  # fmt: skip
        steps.append(step)
    raw: dict[str, Any] = {
        "id": f"c{index}-correlation", "kind": "correlation", "citation": f"test {index}",
        "steps": steps,
        "infer": {"from": {"hs_code": "s0.hs_code", "quantity": "s0.quantity",
                           "unit": "s0.unit"}, "set": {"destination": "KP"}},
    }  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        raw["match"] = draw(leaves)
    effective: dict[str, date] = {}
    if draw(st.integers(0, 3)) == 0:
        effective["from"] = draw(st.dates(lo, hi))
    if draw(st.integers(0, 3)) == 0:
        effective["to"] = draw(st.dates(effective.get("from", lo), hi))
    raw["effective"] = effective
    return CorrelationRule.model_validate(raw)
