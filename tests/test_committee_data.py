"""The DPRK rulebook on the 1718 Committee's own data (issue 13): the product-basket
conversion, the full Designated Vessels List, suspect IMO numbers, unnotified supply and
deadlines as practised. Every evaluation runs on both engines, from a CSV file (so the
columnar engine's Polars screen is exercised, not only its Python path)."""

from __future__ import annotations

import csv
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance.api import available_engines
from compliance.cli import main
from compliance.engine.findings import conversion_in, one_edit_apart
from compliance.errors import RuleFileError
from compliance.events import parse_shipment
from compliance.report import Finding, Report
from compliance.rulebook import DeadlineRule, DesignationRule
from compliance.rulebook.schema import Measure
from compliance.rulebook.vessels import entries_from_csv, import_committee_list

RULEBOOK = compliance.load_rulebook()
HARVEST = Path(__file__).parent / "data" / "1718-vessels-harvest.csv"
REFINED = {"hs_code": "2710", "destination": "KP"}


def evaluate(
    tmp_path: Path, rows: list[dict[str, Any]], rulebook: compliance.Rulebook = RULEBOOK
) -> Report:
    """The report of both engines on a CSV of `rows`, checked equal."""
    path = tmp_path / "log.csv"
    columns = sorted({k for row in rows for k in row})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    # Both engines where both run on this rulebook (the stream engine needs durable_rules
    # for the bundled correlation rules).
    first, *others = (compliance.evaluate(str(path), rulebook, engine=e)
                      for e in available_engines(rulebook))  # fmt: skip
    for other in others:
        assert first.to_dict() == other.to_dict()
    return first


def of(report: Report, kind: str, rule: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.kind == kind and (rule is None or f.rule == rule)]


def write_rules(tmp_path: Path, text: str) -> compliance.Rulebook:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return compliance.load_rulebook(tmp_path / "rules.yaml")


def load_errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        write_rules(tmp_path, text)
    return [str(d) for d in caught.value.diagnostics]


# 1. Conversions the Committee's way -------------------------------------------------------


def test_unnamed_refined_tonnes_convert_with_the_product_basket(tmp_path: Path) -> None:
    # China, July 2020: 1,498 t, published by the Committee as 12,479 bbl.
    row = {"id": "cn-2020-07", "date": "2020-07-31", **REFINED, "quantity": "1498", "unit": "t",
           "supplier": "CN", "source": "notification", "reported_on": "2020-08-30"}  # fmt: skip
    report = evaluate(tmp_path, [row])
    assert report.findings == [] and report.exit_code() == 0
    event = parse_shipment(row)
    assert not isinstance(event, list)
    used = RULEBOOK.conversion_for(event)
    assert used is not None and used.product == "product_basket" and used.by == "hs_code"
    assert used.barrels_per_tonne == Decimal("8.33") and not used.verified
    assert used.source and "1,498 t = 12,479 bbl" in used.source
    barrels = Measure(amount=Decimal(500000), unit="bbl")
    assert conversion_in(event, barrels, RULEBOOK) == used
    assert round(Decimal(1498) * used.barrels_per_tonne) == 12478  # 12,479 published


def test_basket_tonnes_count_against_the_cap(tmp_path: Path) -> None:
    rows = [{"id": f"n{m}", "date": f"2021-{m:02d}-15", **REFINED, "quantity": "10000",
             "unit": "t", "supplier": "CN", "source": "notification"} for m in range(1, 7)]  # fmt: skip
    report = evaluate(tmp_path, rows)  # 60,000 t × 8.33 = 499,800 bbl: under the cap
    assert not of(report, "cap_exceeded") and not of(report, "unconvertible")
    notice = of(report, "threshold_reached", "unscr-2397-refined-petroleum")[-1]
    assert notice.trigger == "n6" and notice.measure and notice.measure.running == 499800
    rows.append({**rows[0], "id": "n7", "date": "2021-07-01", "quantity": "25"})
    [breach] = of(evaluate(tmp_path, rows), "cap_exceeded", "unscr-2397-refined-petroleum")
    assert breach.trigger == "n7" and breach.measure and breach.measure.excess == Decimal("8.25")


def test_a_named_product_takes_its_row_before_the_basket() -> None:
    diesel = parse_shipment({"id": "d", "date": "2021-03-01", **REFINED, "product": "diesel",
                             "quantity": "1", "unit": "t"})  # fmt: skip
    lpg = parse_shipment({"id": "g", "date": "2021-03-01", "hs_code": "271112",
                          "destination": "KP", "quantity": "1", "unit": "t"})  # fmt: skip
    barrels = parse_shipment({"id": "b", "date": "2021-03-01", **REFINED, "quantity": "1",
                              "unit": "bbl"})  # fmt: skip
    assert not isinstance(diesel, list) and not isinstance(lpg, list)
    assert not isinstance(barrels, list)
    d, g = RULEBOOK.conversion_for(diesel), RULEBOOK.conversion_for(lpg)
    assert d and (d.product, d.barrels_per_tonne, d.by) == ("diesel", Decimal("7.5"), "product")
    assert g and (g.product, g.barrels_per_tonne, g.by) == ("lpg", Decimal("11.6"), "hs_code")
    measure = Measure(amount=Decimal(1), unit="bbl")
    assert conversion_in(barrels, measure, RULEBOOK) is None  # barrels as reported


DATED = """\
    rules:
      - id: barrels
        kind: cap
        citation: test
        match: {hs_code: {prefix: ["2710"]}, unit: t}
        limit: [{amount: 1000, unit: bbl}]
        period: {calendar: year}
      - id: tonnes
        kind: cap
        citation: test
        match: {hs_code: {prefix: ["2710"]}, unit: bbl}
        limit: [{amount: 140, unit: t}]
        period: {calendar: year}
    conversions:
      - product: basket
        values:
          2020-01-01: {barrels_per_tonne: 7.5, source: diesel basis}
          2021-02-17: {barrels_per_tonne: 8.33, source: chart, verified: false}
      - {hs_code: "2710", product: basket}
"""


def test_dated_factors_apply_from_their_date(tmp_path: Path) -> None:
    rulebook = write_rules(tmp_path, DATED)

    def used(day: str) -> tuple[Decimal, date | None, str | None, bool]:
        event = parse_shipment({"id": "x", "date": day, "hs_code": "2710", "quantity": "1",
                                "unit": "t"})  # fmt: skip
        assert not isinstance(event, list)
        c = rulebook.conversion_for(event)
        assert c is not None
        return c.barrels_per_tonne, c.since, c.source, c.verified

    assert used("2021-02-16") == (Decimal("7.5"), date(2020, 1, 1), "diesel basis", True)
    assert used("2021-02-17") == (Decimal("8.33"), date(2021, 2, 17), "chart", False)
    assert used("2019-06-01")[0] == Decimal("7.5")  # the first value serves earlier dates
    # 133 t at 7.5 is 997.5 bbl, under 1,000; at 8.33 it is 1,107.89. 1,050.01 bbl at 7.5
    # is 140.0013 t, over 140; at 8.33 it is 126.05. The columnar screen, which does not
    # look at dates, must neither miss these breaches nor report the others.
    day = {"a": "2020-06-01", "b": "2021-06-01"}
    rows = [{"id": f"t-{k}", "date": d, "hs_code": "2710", "quantity": "133", "unit": "t"}
            for k, d in day.items()]  # fmt: skip
    rows += [{"id": f"bbl-{k}", "date": d, "hs_code": "2710", "quantity": "1050.01",
              "unit": "bbl"} for k, d in day.items()]  # fmt: skip
    found = of(evaluate(tmp_path, rows, rulebook), "cap_exceeded")
    assert [(f.rule, f.trigger) for f in found] == [("tonnes", "bbl-a"), ("barrels", "t-b")]
    assert found[1].measure and found[1].measure.total == Decimal("1107.89")


def test_the_single_figure_form_stays_valid_and_both_forms_are_an_error(tmp_path: Path) -> None:
    assert RULEBOOK.barrels_per_tonne("lpg") == Decimal("11.6")
    errors = load_errors(tmp_path, """\
        conversions:
          - product: basket
            barrels_per_tonne: 8
            values: {2020-01-01: 7.5}
        """)  # fmt: skip
    assert len(errors) == 1 and "rules.yaml:2:" in errors[0]
    assert "barrels_per_tonne or values, not both" in errors[0]


# 2. The 1718 Designated Vessels List in full -------------------------------------------


def test_the_bundled_list_has_all_59_vessels() -> None:
    rule = RULEBOOK.get("unscr-2397-designated-vessels")
    assert isinstance(rule, DesignationRule)
    assert len(rule.entries) == 59
    assert sum(e.identifier is None for e in rule.entries) == 1
    chon_ma_san = next(e for e in rule.entries if e.identifier == "8660313")
    assert chon_ma_san.name == "CHON MA SAN" and chon_ma_san.designated == date(2018, 3, 30)
    hao_fan_6 = next(e for e in rule.entries if e.name == "HAO FAN 6")
    assert hao_fan_6.dates == [date(2017, 10, 3), date(2018, 3, 30)]
    assert "2397" not in rule.citation  # not among the list's legal bases


@pytest.mark.parametrize(
    ("imo", "name", "basis"),
    [
        ("8660313", "CHON MA SAN", "designations of 30 March 2018"),
        ("8604917", "YU JONG 2", "designations of 30 March 2018"),
        ("9417115", "KOTI", "designations of 30 March 2018"),
        ("8126070", "SHANG YUAN BAO", "S/RES/2321 (2016), para. 12(a) (de-flagging)"),
        ("9191773", "BILLIONS NO. 18", "S/RES/2371 (2017), para. 6 and S/RES/2375 (2017)"),
        ("9009085", "PETREL 1", "Ocean Maritime Management (KPe.020)"),
    ],
)
def test_a_port_call_by_any_listed_vessel_cites_its_own_basis(
    tmp_path: Path, imo: str, name: str, basis: str
) -> None:
    rows = [{"id": "call", "date": "2019-05-01", "transfer": "port", "destination": "KP",
             "vessel_imo": imo}]  # fmt: skip
    [finding] = of(evaluate(tmp_path, rows), "designated")
    assert finding.severity == "breach" and basis in finding.citation
    assert finding.match and finding.match["name"] == name and finding.match["identifier"] == imo
    assert finding.match["entry"] == f"{name} ({imo})" and "by" not in finding.match
    assert name in finding.message and finding.match["designated"] in finding.message


def test_a_vessel_listed_without_imo_is_matched_by_its_normalised_name(tmp_path: Path) -> None:
    rows = [
        {"id": "early", "date": "2018-03-29", "vessel_name": "MIN NING DE YOU 078"},
        {"id": "fishing", "date": "2019-05-01", "vessel_name": " min-ning de you  078 "},
        {"id": "other", "date": "2019-05-01", "vessel_name": "MIN NING DE YOU 079"},
    ]
    [finding] = of(evaluate(tmp_path, rows), "designated")
    assert finding.trigger == "fishing" and finding.match is not None
    assert finding.match["by"] == "name" and finding.match["name"] == "MIN NING DE YOU 078"
    assert finding.match["field"] == "vessel_name" and not finding.verified


def test_aliases_of_a_name_only_entry_match_and_imo_entries_match_by_imo_only(
    tmp_path: Path,
) -> None:
    rulebook = write_rules(tmp_path, """\
        rules:
          - id: list
            kind: designation
            citation: test list
            designations:
              - {name: NAMELESS ONE, aliases: [OLD NAME], designated: 2018-01-01, basis: basis A}
              - {identifier: "9191773", name: BILLIONS NO. 18, designated: 2018-01-01}
        """)  # fmt: skip
    rows = [{"id": "a", "date": "2019-01-01", "vessel_name": "Old Name"},
            {"id": "b", "date": "2019-01-01", "vessel_name": "BILLIONS NO. 18"}]  # fmt: skip
    [finding] = of(evaluate(tmp_path, rows, rulebook), "designated")
    assert finding.trigger == "a" and finding.citation == "basis A"


def test_an_entry_needs_an_identifier_or_a_name(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("identifier,name,designated\n,,2018-01-01\n")
    errors = load_errors(tmp_path, """\
        rules:
          - {id: list, kind: designation, citation: c, designations: {file: list.csv}}
        """)  # fmt: skip
    assert errors == [f"{tmp_path / 'list.csv'}:2:1: an entry needs an identifier or a name"]


def test_import_vessels_reads_the_committee_columns() -> None:
    entries = {e.name: e for e in import_committee_list(HARVEST)}
    one = entries["SAMPLE ONE"]
    assert one.dates == [date(2017, 10, 3), date(2018, 3, 30)] and one.designated.year == 2017
    assert one.measures == ["port_entry_ban"] and one.flag == "Sampleland"
    assert one.basis == "1718 Designated Vessels List: S/RES/2371 (2017), para. 6 and " \
        "S/RES/2375 (2017), para. 6"  # fmt: skip
    assert entries["SAMPLE TWO"].measures == ["asset_freeze", "port_entry_ban"]
    assert entries["SAMPLE NAMELESS 078"].identifier is None
    four = entries["SAMPLE FOUR"]
    assert four.aliases == ["SAMPLE ALIAS"] and four.measures == ["asset_freeze"]
    assert four.basis and "Ocean Maritime Management (KPe.020)" in four.basis
    assert four.reference and "designated owner: Sample Owner Co" in four.reference
    assert entries["SAMPLE FIVE"].measures == ["deflagging", "port_entry_ban"]


def test_import_vessels_command_writes_the_file_and_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "designated-vessels.csv"
    out.write_text(
        "identifier,name,designated\n9000003,SAMPLE ONE,2017-10-03\n9191773,GONE,2017-12-28\n"
    )
    assert main(["rules", "import-vessels", str(HARVEST), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "added: SAMPLE TWO (8000006)" in err and "removed: GONE (9191773)" in err
    assert "changed: SAMPLE ONE (9000003): aliases" not in err
    assert "changed: SAMPLE ONE (9000003): flag — -> Sampleland; dates 2017-10-03 -> " \
        "2017-10-03; 2018-03-30" in err  # fmt: skip
    assert err.rstrip().endswith("4 added, 1 removed, 1 changed")
    entries, problems = entries_from_csv(out.read_text(), str(out))
    assert not problems and len(entries) == 5
    # The file is a designation list any rulebook can use.
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {id: v, kind: designation, citation: c, "
        "designations: {file: designated-vessels.csv}}\n"
    )
    rule = compliance.load_rulebook(tmp_path / "rules.yaml").get("v")
    assert isinstance(rule, DesignationRule) and len(rule.entries) == 5


def test_import_vessels_reports_bad_rows_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text("vessel_name,imo_number,date_of_designation\nX,123,30-Mar-18\nY,,someday\n")
    assert main(["rules", "import-vessels", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: imo_number: not a 7-digit IMO number (got '123')" in err
    assert f"{bad}:3: date_of_designation: expected a date such as 30-Mar-18 (got 'someday')" in err
    missing = tmp_path / "other.csv"
    missing.write_text("name,imo\nX,1\n")
    assert main(["rules", "import-vessels", str(missing)]) == 2
    assert "missing column 'vessel_name'" in capsys.readouterr().err


# 6. Suspect identities -------------------------------------------------------------------


def test_one_edit_apart() -> None:
    assert one_edit_apart("8660314", "8660313")  # one digit
    assert one_edit_apart("8660331", "8660313")  # one swap
    assert not one_edit_apart("8660341", "8660313")  # two changes
    assert not one_edit_apart("8660313", "8660313")


def test_a_failing_check_digit_is_flagged_not_dropped(tmp_path: Path) -> None:
    rows = [
        {"id": "laundered", "date": "2019-03-01", **REFINED, "quantity": "600000",
         "unit": "bbl", "transfer": "port", "vessel_imo": "8660314", "source": "ais"},
        {"id": "swapped", "date": "2019-03-02", "transfer": "port", "destination": "KP",
         "vessel_imo": "IMO 8660331"},
        {"id": "stray", "date": "2019-03-03", "vessel_imo": "1234568"},
        {"id": "not-imo", "date": "2019-03-04", "vessel_imo": "866031"},
    ]  # fmt: skip
    report = evaluate(tmp_path, rows)
    assert report.accounting.evaluated == 3 and report.accounting.rejected == 1
    assert [r.id for r in report.rejected] == ["not-imo"]
    assert "must be a 7-digit IMO number" in report.rejected[0].reasons[0]
    flagged = {f.trigger: f for f in of(report, "invalid_identifier")}
    assert set(flagged) == {"laundered", "swapped", "stray"}
    assert all(f.severity == "warning" for f in flagged.values())
    assert flagged["laundered"].match == {"field": "vessel_imo", "identifier": "8660314",
                                          "near": "CHON MA SAN (8660313)"}  # fmt: skip
    assert "CHON MA SAN (8660313)" in flagged["swapped"].message
    assert flagged["stray"].match and "near" not in flagged["stray"].match
    # Evaluated on every other field: the delivery counts against the refined cap.
    [cap] = of(report, "cap_exceeded", "unscr-2397-refined-petroleum")
    assert cap.trigger == "laundered"
    assert not of(report, "designated")


def test_a_rule_on_one_imo_field_still_flags_its_failing_numbers(tmp_path: Path) -> None:
    # The evaluator indexes rules by the values a field must take: a failing number is
    # not one of them, nor is a name that matches only once normalised.
    rulebook = write_rules(tmp_path, """\
        rules:
          - id: list
            kind: designation
            citation: test list
            fields: [vessel_imo]
            name_fields: [vessel_imo]
            designations:
              - {identifier: "8660313", name: CHON MA SAN, designated: 2018-01-01}
              - {name: NO NUMBER, designated: 2018-01-01}
        """)  # fmt: skip
    rows = [{"id": "a", "date": "2019-01-01", "vessel_imo": "8660314"}]
    [finding] = evaluate(tmp_path, rows, rulebook).findings
    assert finding.kind == "invalid_identifier" and finding.match
    assert finding.match["near"] == "CHON MA SAN (8660313)"


# 7. Unnotified supply ----------------------------------------------------------------------


def test_evidence_in_a_month_the_state_notified_nothing(tmp_path: Path) -> None:
    rows = [  # Russia notified January 2024 only; the United States reports March.
        {"id": "ru-2024-01", "date": "2024-01-31", **REFINED, "quantity": "15279",
         "unit": "bbl", "supplier": "RU", "source": "notification", "reported_on": "2024-02-28"},
        {"id": "us-jan", "date": "2024-01-10", **REFINED, "quantity": "5000", "unit": "bbl",
         "supplier": "RU", "source": "us-estimate"},
        {"id": "us-2024-03", "date": "2024-03-31", **REFINED, "quantity": "165000",
         "unit": "bbl", "supplier": "RU", "source": "us-estimate"},
        {"id": "cn-nil", "date": "2024-03-31", **REFINED, "quantity": "0", "unit": "bbl",
         "supplier": "CN", "source": "notification", "reported_on": "2024-04-30"},
        {"id": "cn-seen", "date": "2024-03-05", **REFINED, "quantity": "300", "unit": "t",
         "supplier": "CN", "source": "ais"},
        {"id": "nobody", "date": "2024-03-05", **REFINED, "quantity": "300", "unit": "t",
         "source": "ais"},
    ]  # fmt: skip
    found = of(evaluate(tmp_path, rows), "unnotified")
    assert [(f.trigger, f.group) for f in found] == [
        ("cn-seen", {"supplier": "CN"}), ("us-2024-03", {"supplier": "RU"})]  # fmt: skip
    march = found[1]
    assert march.severity == "breach" and march.citation == "S/RES/2397 (2017), para. 5"
    assert march.period and (march.period.start, march.period.end) == (
        date(2024, 3, 1), date(2024, 3, 31))  # fmt: skip
    assert march.events == ["us-2024-03"] and "March 2024" in march.message


def test_unnotified_is_a_general_rule_kind_with_located_errors(tmp_path: Path) -> None:
    rulebook = write_rules(tmp_path, """\
        rules:
          - id: quarterly
            kind: unnotified
            citation: test
            match: {destination: KP}
            notifications: {source: [notification, report]}
            group_by: [supplier, extra.port]
            period: {calendar: quarter}
        """)  # fmt: skip
    rows = [{"id": "n", "date": "2019-01-05", "destination": "KP", "supplier": "CN",
             "port": "Nampo", "source": "report", "quantity": "1", "unit": "t"},
            {"id": "e1", "date": "2019-03-30", "destination": "KP", "supplier": "CN",
             "port": "Nampo", "source": "ais"},
            {"id": "e2", "date": "2019-03-30", "destination": "KP", "supplier": "CN",
             "port": "Chongjin", "source": "ais"}]  # fmt: skip
    [finding] = of(evaluate(tmp_path, rows, rulebook), "unnotified")
    assert finding.trigger == "e2" and finding.group == {"supplier": "CN", "extra.port": "Chongjin"}
    errors = load_errors(tmp_path, """\
        rules:
          - id: bad
            kind: unnotified
            citation: test
            match: {destination: KP}
            notifications: {sorce: notification}
            period: {days: 30}
        """)  # fmt: skip
    assert any("rules.yaml:6:21: rule bad: notifications.sorce: unknown field (did you mean "
               "'source'?)" in e for e in errors), errors  # fmt: skip
    assert any("rules.yaml:7:" in e and "not per rolling window" in e for e in errors), errors


# 8. Deadlines as practised -----------------------------------------------------------------


def test_a_months_supply_is_due_by_the_30th_of_the_next_month(tmp_path: Path) -> None:
    rule = RULEBOOK.get("unscr-2397-refined-petroleum-notification")
    assert isinstance(rule, DeadlineRule) and not rule.verified
    assert rule.due(date(2020, 1, 5)) == date(2020, 2, 29)
    assert rule.due(date(2019, 1, 31)) == date(2019, 2, 28)
    assert rule.due(date(2019, 12, 1)) == date(2020, 1, 30)
    note = {**REFINED, "quantity": "1", "unit": "bbl", "source": "notification"}
    rows = [{"id": "jan5", "date": "2020-01-05", "reported_on": "2020-02-29", **note},
            {"id": "late", "date": "2020-01-05", "reported_on": "2020-03-01", **note},
            {"id": "none", "date": "2020-03-05", **note}]  # fmt: skip
    report = evaluate(tmp_path, rows)
    [late] = of(report, "late_report", rule.id)
    assert late.trigger == "late" and late.days_late == 1
    assert "deadline of 2020-02-29 (by day 30 of the following month)" in late.message
    [none] = of(report, "pending", rule.id)  # the log ends on 2020-03-05: not yet due
    assert "due by day 30 of the following month (2020-04-30)" in none.message
    assert none.due == date(2020, 4, 30)


def test_a_deadline_says_within_or_by_not_both(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, """\
        rules:
          - id: d
            kind: deadline
            citation: test
            match: {source: notification}
            within: {days: 30}
            by: {day: 30, of: following_month}
        """)  # fmt: skip
    assert len(errors) == 1 and "rules.yaml:2:" in errors[0] and "either within" in errors[0]
    errors = load_errors(tmp_path, """\
        rules:
          - {id: d, kind: deadline, citation: t, match: {source: n}, by: {day: 32, of: following_month}}
        """)  # fmt: skip
    assert len(errors) == 1 and "by.day" in errors[0]
