"""`--format csv`: one row per finding, exact figures, every column of DESIGN §4."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import compliance
from compliance.cli import main
from compliance.io.csv_writer import COLUMNS, render_csv
from writers_data import RULES, write_log

EXPECTED_COLUMNS = [
    "rule", "kind", "severity", "date", "trigger", "period_start", "period_end", "unit",
    "limit", "running", "total", "excess", "citation", "verified", "message", "inferred",
]  # fmt: skip


def rows_of(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == EXPECTED_COLUMNS
    return list(reader)


def test_columns_are_the_documented_ones() -> None:
    assert list(COLUMNS) == EXPECTED_COLUMNS


def test_one_row_per_finding_with_exact_figures(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    rows = rows_of(render_csv(report, rulebook))
    assert len(rows) == len(report.findings) == 6
    cap = next(r for r in rows if r["kind"] == "cap_exceeded")
    assert cap == {
        "rule": "unscr-2397-refined-petroleum",
        "kind": "cap_exceeded",
        "severity": "breach",
        "date": "2019-06-10",
        "trigger": "b|1",
        "period_start": "2019-01-01",
        "period_end": "2019-12-31",
        "unit": "bbl",
        "limit": "500000",
        "running": "550000",
        "total": "560000",
        "excess": "60000",
        "citation": "S/RES/2397 (2017), para. 5",
        "verified": "true",
        "message": report.breaches[0].message,
        "inferred": "",
    }
    # A finding without figures leaves them empty rather than inventing zeros.
    sts = next(r for r in rows if r["kind"] == "prohibited")
    assert (sts["unit"], sts["limit"], sts["period_start"], sts["verified"]) == (
        "",
        "",
        "",
        "false",
    )
    late = next(r for r in rows if r["kind"] == "late_report")
    assert late["severity"] == "warning" and late["trigger"] == "b|1"
    # Threshold rows carry the running total when the level was reached, no excess.
    notices = [r for r in rows if r["kind"] == "threshold_reached"]
    assert {r["running"] for r in notices} == {"550000"} and {r["excess"] for r in notices} == {""}


def test_commas_and_quotes_survive_a_round_trip(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    for row, finding in zip(rows_of(render_csv(report, rulebook)), report.findings, strict=True):
        assert row["citation"] == finding.citation  # "S/RES/2397 (2017), para. 5" has a comma
        assert row["message"] == finding.message


def test_cli_writes_csv_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "findings.csv"
    code = main(
        ["evaluate", str(write_log(tmp_path)), "--rules", str(RULES), "--format", "csv",
         "--output", str(out)]
    )  # fmt: skip
    assert code == 2  # a rejected record makes the evaluation incomplete
    assert capsys.readouterr().out == ""
    rows = rows_of(out.read_text(encoding="utf-8"))
    assert [r["kind"] for r in rows].count("cap_exceeded") == 1


def test_no_findings_is_a_header_only() -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(
        [{"id": "x", "date": "2019-01-01", "hs_code": "2710", "destination": "KP",
          "quantity": "1", "unit": "bbl"}],
        rulebook,
    )  # fmt: skip
    assert rows_of(render_csv(report, rulebook)) == []


@pytest.mark.parametrize(
    ("delivered", "total", "excess"),
    [
        # A converted total has 28 digits: six places are what a spreadsheet can hold.
        ("533054.1484669444730764178487", "533054.148467", "33054.148467"),
        ("500000.5", "500000.5", "0.5"),  # trailing zeros dropped
        # A smaller excess gets the places it needs: it must not read as 0.
        ("500000.00000004", "500000.00000004", "0.00000004"),
    ],
)
def test_figures_have_six_places_unless_a_difference_needs_more(
    delivered: str, total: str, excess: str
) -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(
        [{"id": "x", "date": "2019-01-01", "hs_code": "2710", "destination": "KP",
          "quantity": delivered, "unit": "bbl"}],
        rulebook,
    )  # fmt: skip
    cap = next(r for r in rows_of(render_csv(report, rulebook)) if r["kind"] == "cap_exceeded")
    assert (cap["limit"], cap["running"], cap["total"], cap["excess"]) == (
        "500000",
        total,
        total,
        excess,
    )
