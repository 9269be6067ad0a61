"""Findings semantics (DESIGN §4), on the stream engine, with small inline rulebooks."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any, Literal

import pytest

import compliance
from compliance import Rulebook, load_rulebook


def rulebook(tmp_path: Path, rules: str, conversions: str = "") -> Rulebook:
    text = "rules:\n" + rules + (("conversions:\n" + conversions) if conversions else "")
    (tmp_path / "rules.yaml").write_text(text)
    return load_rulebook(tmp_path / "rules.yaml")


def oil(i: str, day: str, qty: str, unit: str = "bbl", **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "date": day,
        "hs_code": "2710",
        "destination": "KP",
        "quantity": qty,
        "unit": unit,
        **extra,
    }


CAP = """\
  - id: cap
    kind: cap
    citation: c
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 100, unit: bbl}]
    period: {calendar: year}
"""


def test_exact_limit_is_no_breach_and_smallest_excess_is(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP)
    at_limit = compliance.evaluate([oil("a", "2019-01-01", "60"), oil("b", "2019-02-01", "40")], rb)
    assert at_limit.findings == []
    over = compliance.evaluate([oil("a", "2019-01-01", "60"), oil("b", "2019-02-01", "40.001")], rb)
    (f,) = over.findings
    assert (f.kind, f.trigger, f.measure.excess) == ("cap_exceeded", "b", D("0.001"))  # type: ignore[union-attr]


def test_last_day_of_a_period_against_first_of_the_next(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP)
    report = compliance.evaluate([oil("a", "2019-12-31", "60"), oil("b", "2020-01-01", "60")], rb)
    assert report.findings == []


def test_trigger_running_total_and_events(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP)
    report = compliance.evaluate(
        [oil("c", "2019-09-01", "30"), oil("b", "2019-06-10", "50"), oil("a", "2019-02-01", "40")],
        rb,
    )
    (f,) = report.findings
    assert f.to_dict()["measure"] == {
        "unit": "bbl",
        "limit": "100",
        "running": "120",
        "total": "120",
        "excess": "20",
    }
    assert f.period is not None
    assert (f.trigger, f.events, f.period.start.isoformat()) == ("c", ["a", "b", "c"], "2019-01-01")


def test_ties_on_a_date_break_by_id(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP)
    report = compliance.evaluate([oil("z", "2019-01-01", "60"), oil("m", "2019-01-01", "60")], rb)
    assert report.findings[0].trigger == "z"  # m (60) then z (120)


def test_multi_measure_reports_the_measure_exceeded_first(tmp_path: Path) -> None:
    rules = CAP.replace(
        "limit: [{amount: 100, unit: bbl}]",
        "limit: [{amount: 100, unit: bbl}, {amount: 10, unit: t}]",
    )
    rb = rulebook(tmp_path, rules, "  - {product: diesel, barrels_per_tonne: 7.5}\n")
    report = compliance.evaluate(
        [oil("a", "2019-01-01", "11", "t", product="diesel")], rb
    )  # 82.5 bbl but 11 t
    (f,) = report.findings
    assert f.measure.unit == "t" and f.measure.excess == D(1)  # type: ignore[union-attr]


def test_tonnes_without_a_factor_are_unconvertible(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP)
    report = compliance.evaluate([oil("a", "2019-01-01", "20", "t")], rb)
    (f,) = report.findings
    assert (f.kind, f.severity) == ("unconvertible", "error")
    assert report.incomplete and report.exit_code() == 2


def test_thresholds_fire_once_each(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP + "    thresholds: [0.5, {fraction: 0.9, verified: false}]\n")
    report = compliance.evaluate([oil("a", "2019-01-01", "50"), oil("b", "2019-01-02", "45")], rb)
    notices = [(f.trigger, f.measure.threshold, f.verified) for f in report.notices]  # type: ignore[union-attr]
    assert notices == [("a", D("0.5"), True), ("b", D("0.9"), False)]


def test_group_by_keeps_separate_totals(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP + "    group_by: [supplier]\n")
    report = compliance.evaluate(
        [
            oil("a", "2019-01-01", "60", supplier="CN"),
            oil("b", "2019-01-02", "60", supplier="RU"),
            oil("c", "2019-01-03", "60", supplier="RU"),
        ],
        rb,
    )
    (f,) = report.findings
    assert f.group == {"supplier": "RU"} and f.events == ["b", "c"]


def test_rolling_window_raises_a_finding_per_upward_crossing(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP.replace("{calendar: year}", "{days: 30}"))
    log = [
        oil("a", "2019-01-01", "60"),
        oil("b", "2019-01-30", "60"),  # over on day 30
        oil("c", "2019-03-15", "60"),  # a and b dropped out: within again
        oil("d", "2019-03-16", "60"),
    ]  # over again
    report = compliance.evaluate(log, rb)
    assert [(f.trigger, f.period.start.isoformat()) for f in report.findings] == [  # type: ignore[union-attr]
        ("b", "2019-01-01"),
        ("d", "2019-02-15"),
    ]


@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_a_rolling_breach_continues_through_a_day_that_starts_under(
    tmp_path: Path, engine: Literal["stream", "columnar"]
) -> None:
    # The window of 2 Jan is over (a dropped out, b and c are in it), so the breach of
    # 1 Jan goes on, even though b alone is under: one finding, as with b and c as one.
    rb = rulebook(tmp_path, CAP.replace("{calendar: year}", "{days: 1}"))
    split = [oil("a", "2019-01-01", "150"), oil("b", "2019-01-02", "60"),
             oil("c", "2019-01-02", "60")]  # fmt: skip
    whole = [split[0], oil("b", "2019-01-02", "120")]
    for log in (split, whole):
        report = compliance.evaluate(log, rb, engine=engine)
        assert [(f.kind, f.trigger) for f in report.findings] == [("cap_exceeded", "a")]


def test_effective_dates_are_inclusive(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP + "    effective: {from: 2019-01-02, to: 2019-01-03}\n")
    report = compliance.evaluate(
        [
            oil("a", "2019-01-01", "500"),
            oil("b", "2019-01-02", "60"),
            oil("c", "2019-01-03", "60"),
            oil("d", "2019-01-04", "500"),
        ],
        rb,
    )
    assert [f.events for f in report.findings] == [["b", "c"]]


def test_currency_measure_sums_value(tmp_path: Path) -> None:
    rules = CAP.replace("limit: [{amount: 100, unit: bbl}]", "limit: [{amount: 1000, unit: USD}]")
    rb = rulebook(tmp_path, rules)
    report = compliance.evaluate(
        [
            oil("a", "2019-01-01", "1", value="600", currency="USD"),
            oil("b", "2019-01-02", "1", value="600", currency="USD"),
        ],
        rb,
    )
    assert report.breaches[0].measure.unit == "USD"  # type: ignore[union-attr]


PROHIBITION_AND_DEADLINE = """\
  - id: sts
    kind: prohibition
    citation: c
    match: {transfer: ship_to_ship, any: [{vessel_flag: KP}, {counterparty_flag: KP}]}
    unless: {extra.licence: approved}
  - id: notify
    kind: deadline
    citation: c
    match: {destination: KP}
    within: {days: 30}
  - id: vessels
    kind: designation
    citation: c
    designations:
      - {identifier: "9191773", name: BILLIONS NO. 18, designated: 2017-12-28}
"""


def test_prohibition_deadline_and_designation(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, PROHIBITION_AND_DEADLINE)
    log = [
        {"id": "s1", "date": "2019-01-01", "transfer": "ship_to_ship", "counterparty_flag": "KP"},
        {
            "id": "s2",
            "date": "2019-01-01",
            "transfer": "ship_to_ship",
            "vessel_flag": "KP",
            "licence": "approved",
        },
        {"id": "d1", "date": "2019-01-01", "destination": "KP", "reported_on": "2019-01-31"},
        {"id": "d2", "date": "2019-01-01", "destination": "KP", "reported_on": "2019-02-01"},
        {"id": "d3", "date": "2019-01-01", "destination": "KP"},
        {"id": "v1", "date": "2017-12-27", "vessel_imo": "9191773"},
        {"id": "v2", "date": "2017-12-28", "counterparty_imo": "9191773"},
    ]
    kinds = {(f.trigger, f.kind) for f in compliance.evaluate(log, rb).findings}
    assert kinds == {
        ("s1", "prohibited"),
        ("d2", "late_report"),
        ("d3", "unreported"),
        ("v2", "designated"),
    }
    late = next(f for f in compliance.evaluate(log, rb).findings if f.kind == "late_report")
    assert late.days_late == 1


def test_one_shipment_reaches_every_rule_it_matches(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP + CAP.replace("id: cap", "id: cap2"))
    report = compliance.evaluate([oil("a", "2019-01-01", "101")], rb)
    assert sorted(f.rule for f in report.findings) == ["cap", "cap2"]


@pytest.mark.parametrize("engine", ["stream"])
def test_bundled_example_crosses_the_refined_cap(engine: str) -> None:
    root = Path(__file__).parents[1]
    report = compliance.evaluate(root / "examples" / "refined-petroleum-2019.csv", engine=engine)  # type: ignore[arg-type]
    cap = [f for f in report.breaches if f.rule == "unscr-2397-refined-petroleum"]
    assert len(cap) == 1
    assert cap[0].trigger == "n-2019-07b" and cap[0].date.isoformat() == "2019-07-15"
    assert report.accounting.superseded == 1


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize(
    ("second", "triggers"),
    [
        ("2019-03-01", ["a", "b"]),  # weeks of windows under the cap between: a new breach
        ("2019-02-01", ["a", "b"]),  # the window of 31 Jan no longer holds a: a new breach
        ("2019-01-31", ["a"]),  # every day's window from 1 Jan on is over: one breach
    ],
)
def test_a_rolling_breach_ends_when_a_days_window_is_under_even_an_idle_days(
    tmp_path: Path, engine: Literal["stream", "columnar"], second: str, triggers: list[str]
) -> None:
    rb = rulebook(tmp_path, CAP.replace("{calendar: year}", "{days: 30}"))
    log = [oil("a", "2019-01-01", "150"), oil("b", second, "150")]
    report = compliance.evaluate(log, rb, engine=engine)
    assert [f.trigger for f in report.findings] == triggers
