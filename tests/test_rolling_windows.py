"""A rolling cap's findings against a recount of every window from its members.

Both walks of `findings.py` (one measure on one total; several measures) and the
columnar engine's segments are held to the same definition, stated here by brute force:
a level (the limit, strictly above; a threshold, at or above) is crossed by the first
member of a day whose window — the members of the `days` days to that day, up to and
including it in (date, id) order — passes it in some measure, unless the window of the
day before already passed it in some measure (the breach goes on).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import compliance
from profiles import examples
from test_engines_agree import rulebook_of

EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
START = date(2019, 1, 1)
LIMITS = {"bbl": Decimal(150), "USD": Decimal(1000)}
THRESHOLD = Decimal("0.5")

RULES = """\
rules:
  - id: rolling
    kind: cap
    citation: c
    match: {{hs_code: {{prefix: ["2710"]}}, destination: KP}}
    limit: [{limits}]
    period: {{days: {days}}}
    thresholds: [0.5]
"""

amounts = st.one_of(
    st.integers(0, 120).map(Decimal),
    st.decimals(0, 120, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.0000000000000000000000000001"), Decimal(10) ** 9]),
)


@st.composite
def logs(draw: st.DrawFn, measures: int) -> list[dict[str, Any]]:
    log = []
    for k in range(draw(st.integers(1, 25))):
        record: dict[str, Any] = {
            "id": f"e{k:02d}",
            "date": (START + timedelta(draw(st.integers(0, 90)))).isoformat(),
            "hs_code": "2710",
            "destination": "KP",
            "quantity": str(draw(amounts)),
            "unit": "bbl",
        }
        if measures == 2 and draw(st.booleans()):
            record |= {"value": str(draw(amounts) * 10), "currency": "USD"}
        log.append(record)
    return log


def recount(
    log: list[dict[str, Any]], units: list[str], days: int
) -> list[tuple[str, str, str, str]]:
    """(kind, trigger, window start, unit crossed first) of every crossing, by summing
    each window afresh."""
    members = sorted((date.fromisoformat(r["date"]), r["id"], r) for r in log)

    def amount(r: dict[str, Any], unit: str) -> Decimal:
        field = "quantity" if unit == "bbl" else "value"
        return Decimal(r[field]) if field in r else Decimal(0)

    def totals(first: date, last: date, upto: tuple[date, str]) -> list[Decimal]:
        inside = [r for d, i, r in members if first <= d <= last and (d, i) <= upto]
        return [_exact_sum(amount(r, u) for r in inside) for u in units]

    found = []
    for kind, fraction, strict in (("cap_exceeded", Decimal(1), True),
                                   ("threshold_reached", THRESHOLD, False)):  # fmt: skip
        levels = [LIMITS[u] * fraction for u in units]

        def passes(
            total: list[Decimal], levels: list[Decimal] = levels, strict: bool = strict
        ) -> int | None:
            over = [
                j
                for j, (t, b) in enumerate(zip(total, levels, strict=True))
                if (t > b if strict else t >= b)
            ]
            return over[0] if over else None

        crossed_on: set[date] = set()
        for d, i, _ in members:
            if d in crossed_on:
                continue
            span = timedelta(days=days - 1)
            before = totals(d - span - timedelta(1), d - timedelta(1), (d, ""))
            if passes(before) is not None:
                continue
            j = passes(totals(d - span, d, (d, i)))
            if j is not None:
                crossed_on.add(d)
                found.append((kind, i, (d - span).isoformat(), units[j]))
    return sorted(found)


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for v in values:
        total = EXACT.add(total, v)
    return total


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize("units", [["bbl"], ["bbl", "USD"]])
@settings(max_examples=examples(ci=60, thorough=600))
@given(data=st.data(), days=st.integers(1, 40))
def test_rolling_findings_are_where_a_recount_of_every_window_puts_them(
    engine: Literal["stream", "columnar"], units: list[str], data: st.DataObject, days: int
) -> None:
    log = data.draw(logs(len(units)))
    limits = ", ".join(f"{{amount: {LIMITS[u]}, unit: {u}}}" for u in units)
    rulebook = rulebook_of(RULES.format(limits=limits, days=days))
    report = compliance.evaluate(log, rulebook, engine=engine)
    got = sorted(
        (f.kind, f.trigger, f.period.start.isoformat(), f.measure.unit)  # type: ignore[union-attr]
        for f in report.findings
        if f.kind in ("cap_exceeded", "threshold_reached")
    )
    expected = recount(log, units, days)
    event(f"crossings: {min(len(expected), 3)}{'+' if len(expected) >= 3 else ''}")
    assert got == expected
