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
        # Every total says what it rests on: here records with no `source`.
        "basis": {"unspecified": "120"},
        "on_notifications": False,
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


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize("period", ["{calendar: year}", "{days: 30}"])
def test_an_unverified_threshold_gives_unverified_notices(
    tmp_path: Path, engine: Literal["stream", "columnar"], period: str
) -> None:
    # The rule is verified, its 0.9 threshold is not: the notice of 0.9 must say so, on a
    # calendar cap and a rolling one, evaluated and live; the 0.5 notice and the breach
    # stay verified.
    rules = CAP.replace("{calendar: year}", period)
    rb = rulebook(tmp_path, rules + "    thresholds: [0.5, {fraction: 0.9, verified: false}]\n")
    log = [oil("a", "2019-01-01", "50"), oil("b", "2019-01-02", "45"), oil("c", "2019-01-03", "10")]
    monitor = compliance.Monitor(rb)
    for e in log:
        monitor.feed(e)
    for report in (compliance.evaluate(log, rb, engine=engine), monitor.report()):
        assert sorted((f.kind, f.trigger, f.verified) for f in report.findings) == [
            ("cap_exceeded", "c", True),
            ("threshold_reached", "a", True),
            ("threshold_reached", "b", False),
        ]


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
    # The bundled rulebook's correlation rules run on durable_rules on the stream engine.
    pytest.importorskip("durable", reason="durable_rules does not import on this Python")
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


def _points(f: compliance.Finding) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    assert f.series is not None
    return [(p.event, p.amounts, p.running) for p in f.series]


@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_cap_findings_carry_their_series(tmp_path: Path, engine: str) -> None:
    rb = rulebook(tmp_path, CAP + "    thresholds: [0.5]\n")
    log = [oil("c", "2019-03-01", "30"), oil("a", "2019-01-01", "60"),
           oil("b", "2019-02-01", "40.001"), oil("x", "2020-01-01", "1")]  # fmt: skip
    report = compliance.evaluate(log, rb, engine=engine)  # type: ignore[arg-type]
    notice, breach = report.findings
    expected = [
        ("a", {"bbl": D(60)}, {"bbl": D(60)}),
        ("b", {"bbl": D("40.001")}, {"bbl": D("100.001")}),
        ("c", {"bbl": D(30)}, {"bbl": D("130.001")}),
    ]
    assert _points(breach) == _points(notice) == expected  # the period's, whatever the kind
    assert [p.event for p in breach.series or []] == breach.events
    assert breach.to_dict()["series"][1] == {
        "event": "b",
        "date": "2019-02-01",
        "amounts": {"bbl": "40.001"},
        "running": {"bbl": "100.001"},
    }
    assert list(breach.to_dict())[-3:] == ["measure", "series", "message"]
    # Findings other than caps carry none, and say nothing of one.
    ban_rule = CAP.split("    limit:")[0].replace("kind: cap", "kind: prohibition")
    (ban,) = compliance.evaluate(log[:1], rulebook(tmp_path, ban_rule)).findings
    assert ban.series is None and "series" not in ban.to_dict()


def test_a_rolling_series_is_the_window_from_its_first_day(tmp_path: Path) -> None:
    rb = rulebook(tmp_path, CAP.replace("{calendar: year}", "{days: 30}"))
    log = [oil("a", "2019-01-01", "60"), oil("b", "2019-01-30", "60"),
           oil("c", "2019-03-15", "60"), oil("d", "2019-03-16", "60"),
           oil("e", "2019-03-16", "1")]  # fmt: skip
    first, second = compliance.evaluate(log, rb).findings
    assert _points(first) == [("a", {"bbl": D(60)}, {"bbl": D(60)}),
                              ("b", {"bbl": D(60)}, {"bbl": D(120)})]  # fmt: skip
    # a and b have left the window of 16 March; e, the same day as d, is in it.
    assert [(e, r["bbl"]) for e, _, r in _points(second)] == [
        ("c", D(60)), ("d", D(120)), ("e", D(121))
    ]  # fmt: skip
    assert second.measure is not None and second.measure.total == D(121)


def test_a_series_has_every_measure_and_none_where_an_event_has_no_amount(
    tmp_path: Path,
) -> None:
    rules = CAP.replace(
        "limit: [{amount: 100, unit: bbl}]",
        "limit: [{amount: 100, unit: bbl}, {amount: 1000, unit: USD}]",
    )
    rb = rulebook(tmp_path, rules)
    log = [oil("a", "2019-01-01", "60", value="900", currency="USD"),
           oil("b", "2019-01-02", "50")]  # fmt: skip
    report = compliance.evaluate(log, rb)
    (breach,) = report.breaches
    assert _points(breach) == [
        ("a", {"bbl": D(60), "USD": D(900)}, {"bbl": D(60), "USD": D(900)}),
        ("b", {"bbl": D(50), "USD": None}, {"bbl": D(110), "USD": D(900)}),
    ]
    assert breach.to_dict()["series"][1]["amounts"] == {"bbl": "50", "USD": None}
    assert [f.kind for f in report.errors] == ["unconvertible"]  # b says why


@pytest.mark.parametrize(
    ("delivered", "message", "figure"),
    [
        ("500000.001", "500,000.001 bbl in 2019 exceeds the 500,000 bbl cap by 0.001 bbl",
         "500,000.001 / 500,000 bbl (+0.001)"),
        ("500000.00000004", "500,000.00000004 bbl in 2019 exceeds the 500,000 bbl cap by "
         "0.00000004 bbl", "500,000.00000004 / 500,000 bbl (+0.00000004)"),
        ("533054.1484669444730764178487", "533,054.15 bbl in 2019 exceeds the 500,000 bbl "
         "cap by 33,054.15 bbl", "533,054.15 / 500,000 bbl (+33,054.15)"),
    ],
)  # fmt: skip
def test_an_excess_never_reads_as_zero(delivered: str, message: str, figure: str) -> None:
    from compliance.io._common import figure as figure_of
    from compliance.io.writers import render

    rb = load_rulebook()
    report = compliance.evaluate([oil("a", "2019-02-01", delivered)], rb)
    (breach,) = report.breaches
    assert message in breach.message
    assert figure_of(breach) == figure
    assert figure in render(report, rb, "table") and figure in render(report, rb, "markdown")
    assert breach.to_dict()["measure"]["total"] == delivered  # JSON keeps every digit


def test_a_notice_just_under_the_limit_does_not_read_as_at_it() -> None:
    from compliance.io._common import figure as figure_of

    report = compliance.evaluate([oil("a", "2019-02-01", "499999.999")], load_rulebook())
    top = report.notices[-1]
    assert "499,999.999 bbl in 2019 reached 95%" in top.message
    assert figure_of(top) == "499,999.999 / 500,000 bbl (≥95%)"


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize("second", ["", ", {amount: 1000000, unit: USD}"])  # both walks
def test_a_rolling_window_total_is_exact_whatever_left_the_window_before(
    tmp_path: Path, engine: Literal["stream", "columnar"], second: str
) -> None:
    # 10^9 + 10^-28 has 38 digits, more than the 34 a sum keeps: a running total rounded
    # at each step would keep -10^-28 once both left the window, and read c's 100 as
    # 100 - 10^-28, not over a limit of exactly that. The window of 1 March holds c alone.
    limit = "99.9999999999999999999999999999"
    rules = CAP.replace("{calendar: year}", "{days: 30}").replace(
        "100, unit: bbl}", f"{limit}, unit: bbl}}{second}"
    )
    rb = rulebook(tmp_path, rules)
    log = [oil("a", "2019-01-01", "1000000000"),
           oil("b", "2019-01-01", "0.0000000000000000000000000001"),
           oil("c", "2019-03-01", "100")]  # fmt: skip
    monitor = compliance.Monitor(rb)
    for e in log:
        monitor.feed(e)
    for report in (compliance.evaluate(log, rb, engine=engine), monitor.report()):
        assert [f.trigger for f in report.findings if f.kind == "cap_exceeded"] == ["a", "c"]
