"""Issue 13, items 3-5 and 9: what a cap's total rests on (notifications and other
evidence), ranges, unquantified evidence and an audit trail people can follow. Every
evaluation runs on both engines from a CSV file (the columnar engine's Polars screen
included) and the two reports are checked equal."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance.api import Engine, available_engines
from compliance.cli import main
from compliance.events import parse_shipment
from compliance.io.writers import render
from compliance.report import Finding, Report

RULEBOOK = compliance.load_rulebook()
# The engines that run the bundled rulebook here (its correlation rules need durable_rules
# on the stream engine: on Python 3.13 only the columnar engine runs it).
ENGINES: tuple[Engine, ...] = available_engines(RULEBOOK)
REFINED = {"hs_code": "2710", "destination": "KP"}
ALL = "unscr-2397-refined-petroleum"
TRACKER = "unscr-2397-refined-petroleum-notified"
EXAMPLE = Path(__file__).parent.parent / "examples" / "refined-petroleum-2019.csv"


def evaluate(tmp_path: Path, rows: list[dict[str, Any]]) -> Report:
    path = tmp_path / "log.csv"
    columns = sorted({k for row in rows for k in row})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    first, *others = (compliance.evaluate(str(path), RULEBOOK, engine=e) for e in ENGINES)
    for other in others:
        assert first.to_dict() == other.to_dict()
    return first


def of(report: Report, kind: str, rule: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.kind == kind and (rule is None or f.rule == rule)]


# 3. The basis of every total -----------------------------------------------------------


def test_a_cap_finding_says_what_its_total_rests_on(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        [
            {**REFINED, "id": "n1", "date": "2018-03-31", "quantity": "1498", "unit": "t",
             "source": "notification", "supplier": "CN"},
            {**REFINED, "id": "e1", "date": "2018-05-30", "quantity": "759793", "unit": "bbl",
             "source": "member-state-estimate"},
        ],
    )  # fmt: skip
    (cap,) = of(report, "cap_exceeded", ALL)
    document = cap.to_dict()
    assert document["measure"]["basis"] == {
        "member-state-estimate": "759793",
        "notification": "12478.34",
    }
    assert document["measure"]["on_notifications"] is False
    assert "on notifications alone it does not hold" in cap.message
    # The tracker view counts the notification only: no breach, no notice.
    assert [f for f in report.findings if f.rule == TRACKER] == []
    # Each series point names its source and the factor that converted it.
    points = document["series"]
    assert points[0]["source"] == "notification"
    assert points[0]["factor"] == "product_basket 8.33 bbl/t since 2018-01-01"
    assert "factor" not in points[1]


def test_the_tracker_view_gives_the_committees_notices(tmp_path: Path) -> None:
    rows = [
        {**REFINED, "id": f"n{m}", "date": f"2019-{m:02d}-28", "quantity": "100000",
         "unit": "bbl", "source": "notification", "supplier": "RU"}
        for m in range(1, 7)
    ]  # fmt: skip
    report = evaluate(tmp_path, rows)
    notices = of(report, "threshold_reached", TRACKER)
    assert [(f.measure.threshold, f.trigger) for f in notices if f.measure] == [
        (Decimal("0.75"), "n4"), (Decimal("0.90"), "n5"), (Decimal("0.95"), "n5"),
    ]  # fmt: skip
    (cap,) = of(report, "cap_exceeded", TRACKER)
    assert cap.measure is not None and cap.measure.on_notifications is True


# 4. Ranges ----------------------------------------------------------------------------


def test_ranges_make_a_breach_certain_or_possible(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        [
            {**REFINED, "id": "us-2018", "date": "2018-05-30", "quantity_min": "759793",
             "quantity_max": "1367628", "unit": "bbl", "source": "member-state-estimate"},
            {**REFINED, "id": "up", "date": "2019-05-30", "quantity_min": "100000",
             "quantity_max": "3780000", "unit": "bbl", "source": "member-state-estimate"},
            {**REFINED, "id": "max-only", "date": "2020-05-30", "quantity_max": "1600000",
             "unit": "bbl"},
        ],
    )  # fmt: skip
    caps = {f.trigger: f for f in of(report, "cap_exceeded", ALL)}
    assert caps["us-2018"].certainty == "certain"
    assert caps["up"].certainty == "possible"
    assert caps["max-only"].certainty == "possible"
    m = caps["up"].measure
    assert m is not None and (m.total, m.total_min) == (Decimal(3780000), Decimal(100000))
    assert caps["max-only"].measure is not None
    assert caps["max-only"].measure.total_min == 0
    assert "possible: the lower bounds total 100,000 bbl" in caps["up"].message


def test_an_exact_quantity_has_no_certainty_field(tmp_path: Path) -> None:
    report = evaluate(tmp_path, [{**REFINED, "id": "a", "date": "2019-01-01",
                                  "quantity": "500001", "unit": "bbl"}])  # fmt: skip
    (cap,) = of(report, "cap_exceeded", ALL)
    assert cap.certainty is None and "certainty" not in cap.to_dict()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"quantity_min": "10", "quantity_max": "5"}, "quantity_min: must be ≤ quantity_max (5)"),
        ({"quantity": "3", "quantity_min": "5"}, "quantity: must be ≥ quantity_min (5)"),
        ({"quantity": "9", "quantity_max": "5"}, "quantity: must be ≤ quantity_max (5)"),
        ({"quantity_max": "-1"}, "quantity_max: must be ≥ 0"),
    ],
)
def test_bounds_out_of_order_are_located_rejections(
    tmp_path: Path, fields: dict[str, str], reason: str
) -> None:
    report = evaluate(
        tmp_path, [{**REFINED, "id": "x", "date": "2019-01-01", "unit": "bbl", **fields}]
    )
    (rejected,) = report.rejected
    assert rejected.location().endswith("log.csv:2")
    assert any(r.startswith(reason) for r in rejected.reasons), rejected.reasons


def test_a_bound_needs_a_unit() -> None:
    problems = parse_shipment({"id": "x", "date": "2019-01-01", "quantity_min": "5"})
    assert isinstance(problems, list)
    assert [str(p) for p in problems] == ["unit: is required with quantity_min"]


# 5. Unquantified evidence --------------------------------------------------------------


def test_a_sighting_without_quantity_is_listed_and_the_run_is_complete(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        [
            {**REFINED, "id": "rye-song-gang-1", "date": "2018-10-19", "vessel_imo": "7389704",
             "transfer": "ship_to_ship", "source": "press-photograph"},
            {**REFINED, "id": "big", "date": "2018-11-01", "quantity": "500001", "unit": "bbl"},
        ],
    )  # fmt: skip
    assert of(report, "unconvertible") == []
    assert not report.incomplete and report.exit_code() == 1
    (warning,) = of(report, "unquantified", ALL)
    assert warning.severity == "warning" and warning.trigger == "rye-song-gang-1"
    (cap,) = of(report, "cap_exceeded", ALL)
    assert cap.unquantified == ["rye-song-gang-1"] and cap.events == ["big"]
    assert cap.message.startswith(f"{cap.title}: at least 500,001 bbl in 2018")


# 9. An audit trail people can follow ---------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_every_format_lists_superseded_records(engine: Engine) -> None:
    report = compliance.evaluate(str(EXAMPLE), RULEBOOK, engine=engine)
    (s,) = report.superseded
    assert (s.id, s.by, s.line) == ("n-2019-07", "n-2019-07b", 9)
    document = json.loads(report.to_json())
    assert document["superseded"] == [
        {"id": "n-2019-07", "by": "n-2019-07b", "source": str(EXAMPLE), "line": 9}
    ]
    for fmt in ("table", "markdown", "csv", "html"):
        text = render(report, RULEBOOK, fmt)
        assert "n-2019-07b" in text and f"{EXAMPLE}:9" in text, fmt


def test_superseded_records_of_a_correction_the_rules_never_see(tmp_path: Path) -> None:
    # The columnar engine stands in for a target no rule matches: still located.
    report = evaluate(
        tmp_path,
        [
            {"id": "a", "date": "2019-01-01", "hs_code": "0901", "destination": "FR"},
            {"id": "b", "date": "2019-01-02", "hs_code": "0901", "destination": "FR",
             "supersedes": "a"},
        ],
    )  # fmt: skip
    assert [(s.id, s.by, s.line) for s in report.superseded] == [("a", "b", 2)]


def test_a_notice_lists_the_events_that_reached_it(tmp_path: Path) -> None:
    rows = [
        {**REFINED, "id": "jan", "date": "2019-01-10", "quantity": "300000", "unit": "bbl"},
        {**REFINED, "id": "jun", "date": "2019-06-10", "quantity": "100000", "unit": "bbl"},
        {**REFINED, "id": "jul", "date": "2019-07-10", "quantity": "50000", "unit": "bbl"},
        {**REFINED, "id": "aug", "date": "2019-08-10", "quantity": "80000", "unit": "bbl"},
    ]
    report = evaluate(tmp_path, rows)
    (n75,) = [f for f in of(report, "threshold_reached", ALL)
              if f.measure and f.measure.threshold == Decimal("0.75")]  # fmt: skip
    assert n75.trigger == "jun" and n75.reached_with == ["jan", "jun"]
    assert n75.events == ["jan", "jun", "jul", "aug"]  # DESIGN §4: the period's events
    (cap,) = of(report, "cap_exceeded", ALL)
    assert cap.reached_with is None


def test_the_html_verdict_says_what_each_date_is(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        [{"id": "call", "date": "2019-06-21", "transfer": "port", "vessel_imo": "8705539",
          "destination": "CN"}],
    )  # fmt: skip
    html = render(report, RULEBOOK, "html")
    verdict = html[html.index('<section id="verdict"') : html.index("</section>")]
    assert "shipment <code>call</code> of 2019-06-21, the vessel designated on 2018-10-16" in (
        verdict
    )
    assert "KUM UN SAN 3" in verdict


def test_the_cli_prints_superseded_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(EXAMPLE), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert document["superseded"][0]["id"] == "n-2019-07"


# 10. Real-shaped examples --------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_the_committee_example_reads_as_the_readme_says(engine: Engine) -> None:
    path = Path(__file__).parent.parent / "examples" / "committee-tracker-2017-2025.csv"
    report = compliance.evaluate(str(path), RULEBOOK, engine=engine)
    assert not report.incomplete and report.exit_code() == 1
    caps = {(f.rule, f.trigger): f for f in of(report, "cap_exceeded")}
    assert set(caps) == {(ALL, "us-2018-jan-may"), (ALL, "states-2020-jan-may")}
    first = caps[ALL, "us-2018-jan-may"]
    assert first.certainty == "certain" and first.measure is not None
    assert first.measure.basis == {
        "member-state-estimate": Decimal(1367628),
        "notification": Decimal(241114),
    }
    assert first.measure.total_min == Decimal(1000907) and not first.measure.on_notifications
    tracker = [f for f in report.findings if f.rule == TRACKER]
    assert max(f.measure.threshold for f in tracker if f.measure and f.measure.threshold) == (
        Decimal("0.9")
    )
    assert [f.trigger for f in of(report, "unnotified")] == ["us-2024-03-ru"]
    assert [f.trigger for f in of(report, "unquantified")] == ["sts-2017-10-19-rye-song-gang-1"]
    assert len(report.breaches) == 4 and len(report.warnings) == 11
    # The 2025 notifications are still due on the log's latest date: pending, not late.
    assert [f.trigger for f in of(report, "pending")] == ["cn-2025-01", "cn-2025-02"]
