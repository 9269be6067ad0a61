"""`compliance test`: a line per case, failures first with what differs, counts that say
what they count, coverage by passing cases, and a case format that rejects typos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance import RuleFileError
from compliance.cli import main
from compliance.ruletests import load_cases

RULES = """\
rules:
  - {id: r, kind: prohibition, citation: c, match: {destination: KP}}
  - {id: s, kind: prohibition, citation: c, match: {destination: CN}, unless: {extra.permit: yes}}
  - id: cap
    kind: cap
    citation: c
    match: {destination: KP}
    limit: [{amount: 100, unit: bbl}]
    period: {calendar: year}
    thresholds: [0.5]
"""
PASSING = """\
  - name: r fires
    rules: [r]
    events: [{id: a, date: 2019-01-01, destination: KP}]
    expect: [{kind: prohibited, trigger: a}]
  - name: r is silent
    rules: [r, s]
    events: [{id: b, date: 2019-01-01, destination: JP}]
    expect: []
"""
FAILING = """\
  - name: s expected the wrong way
    rules: [s]
    events: [{id: c, date: 2019-01-01, destination: CN}]
    expect: [{kind: prohibited, trigger: c, date: 2019-01-02}]
"""


def book(tmp_path: Path, cases: str | None) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "tests").mkdir()
    if cases is not None:
        (tmp_path / "tests" / "cases.yaml").write_text("tests:\n" + cases)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["test", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_counts_say_what_they_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(book(tmp_path, PASSING + FAILING)))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("FAIL  ") and lines[0].endswith("s expected the wrong way")
    assert [line.split()[0] for line in lines if line.startswith(("PASS ", "FAIL "))] == [
        "FAIL", "PASS", "PASS"
    ]  # fmt: skip
    assert "PASS: 2/3" in lines and "FAIL: 1/3" in lines


def test_all_passing_prints_only_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(book(tmp_path, PASSING)))
    assert "PASS: 2/2" in out.splitlines() and "FAIL:" not in out
    assert code == 0


def test_a_failure_shows_the_field_that_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, str(book(tmp_path, FAILING)))
    details = [line.strip() for line in out.split("-" * 72)[0].splitlines()[1:]]
    assert details == [
        'expected {"kind": "prohibited", "date": "2019-01-02", "trigger": "c"}',
        "the closest finding (s prohibited, trigger c, 2019-01-01) differs:",
        "date: expected '2019-01-02', got '2019-01-01'",
    ]


def test_a_cap_difference_names_the_measure_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = """\
  - name: cap over by 1
    rules: [cap]
    kinds: [cap_exceeded]
    events: [{id: a, date: 2019-01-01, destination: KP, quantity: 101, unit: bbl}]
    expect: [{kind: cap_exceeded, trigger: a, measure: {excess: 2, unit: bbl}}]
"""
    _, out, _ = run(capsys, str(book(tmp_path, cases)))
    assert "measure.excess: expected '2', got '1'" in out
    assert "measure.unit" not in out


def test_coverage_counts_passing_cases_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, str(book(tmp_path, PASSING + FAILING)))
    assert "not shown firing by a passing case: s (only failing cases show it firing)" in out
    assert "never fires" not in out
    assert "not shown silent by a passing case: cap" in out


def test_an_empty_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(book(tmp_path, None)))
    assert code == 1
    assert f"no test cases: {tmp_path / 'tests'} holds no *.yaml file with cases" in err
    assert "PASS" not in out


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(book(tmp_path, PASSING + FAILING)), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert (doc["passed"], doc["failed"], doc["total"]) == (2, 1, 3)
    assert doc["engine"] in ("stream", "columnar")
    (failed,) = [c for c in doc["cases"] if not c["passed"]]
    (miss,) = failed["missing"]
    assert miss["expected"] == {"kind": "prohibited", "date": "2019-01-02", "trigger": "c"}
    assert miss["differences"] == [{"field": "date", "expected": "2019-01-02", "got": "2019-01-01"}]
    assert miss["closest"]["trigger"] == "c"
    assert failed["unexpected"] == []  # the finding is shown once, as the closest
    assert doc["not_shown_firing"] == ["s", "cap"]
    assert doc["fires_only_in_failing_cases"] == ["s"]


def problems(tmp_path: Path, cases: str) -> list[str]:
    root = book(tmp_path, cases)
    with pytest.raises(RuleFileError) as caught:
        load_cases(root)
    return [str(d).replace(f"{root}/", "") for d in caught.value.diagnostics]


def test_a_misspelt_expectation_key_is_located(tmp_path: Path) -> None:
    cases = PASSING.replace("{kind: prohibited, trigger: a}", "{kind: prohibited, treshold: 1}")
    assert problems(tmp_path, cases) == [
        "tests/cases.yaml:5:33: case 'r fires': expect[0].treshold: unknown key (did you mean "
        "'measure.threshold'?)"
    ]


def test_a_misspelt_event_field_is_located(tmp_path: Path) -> None:
    cases = PASSING.replace("destination: JP", "destnation: JP")
    (found,) = problems(tmp_path, cases)
    assert found.startswith("tests/cases.yaml:8:40: case 'r is silent': events[0].destnation: "
                            "unknown event field (did you mean 'destination'?)")  # fmt: skip


def test_extra_columns_the_rules_read_are_event_fields(tmp_path: Path) -> None:
    cases = PASSING.replace("destination: JP}", "destination: CN, permit: yes}")
    assert [c.name for c in load_cases(book(tmp_path, cases))] == ["r fires", "r is silent"]
    other = PASSING.replace("destination: JP}", "destination: CN, extra: {note: any}}")
    (tmp_path / "tests" / "cases.yaml").write_text("tests:\n" + other)
    assert load_cases(tmp_path)[1].events[0]["note"] == "any"


def test_bad_event_values_are_located(tmp_path: Path) -> None:
    cases = PASSING.replace(
        "date: 2019-01-01, destination: KP", "date: 2019-13-01, destination: XX"
    )
    found = problems(tmp_path, cases)
    assert found[0].startswith("tests/cases.yaml:4:28: case 'r fires': events[0].date: ")
    assert "(got '2019-13-01')" in found[0]
    assert found[1].startswith("tests/cases.yaml:4:53: case 'r fires': events[0].destination: ")


def test_unknown_case_keys_rules_and_triggers_are_located(tmp_path: Path) -> None:
    cases = PASSING.replace("rules: [r]", "rules: [q]\n    kinsd: [prohibited]")
    found = problems(tmp_path, cases)
    assert found == [
        "tests/cases.yaml:4:5: case 'r fires': kinsd: unknown key (did you mean 'kinds'?)",
    ]


def test_unknown_rules_and_triggers_are_located(tmp_path: Path) -> None:
    cases = PASSING.replace("rules: [r]", "rules: [rr]").replace("trigger: a", "trigger: x")
    assert problems(tmp_path, cases) == [
        "tests/cases.yaml:3:13: case 'r fires': rules[0]: no rule 'rr' (did you mean 'r'?)",
        "tests/cases.yaml:5:42: case 'r fires': expect[0].trigger: no event of this case has "
        "id 'x'",
    ]


def test_the_bundled_rulebook_passes_with_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules/dprk" if Path("rules/dprk").is_dir() else "",
                       "--min-coverage", "100")  # fmt: skip
    assert code == 0, out
    assert "FAIL" not in out


def test_an_expectation_can_name_every_field_of_a_finding() -> None:
    from compliance.report import Finding
    from compliance.ruletests import Expectation

    # `series` (a cap finding's evidence, issue 10) is not yet nameable in a case file.
    assert set(Expectation.model_fields) == set(Finding.model_fields) - {"series"}
