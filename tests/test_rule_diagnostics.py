"""Every problem in a rule file, designation list or rule-test case is located.

Valid files are mutated at random (a scalar replaced by a wrong type, a bad date or a
huge number; a key deleted or misspelt; an item dropped or repeated), and every outcome
must be a load or a `RuleFileError` whose every line starts `path:line` — never a bare
ValueError, never an "internal error".
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance import RuleFileError, load_rulebook
from compliance.cli import main
from compliance.ruletests import load_cases, run_cases

RULES = """\
document: {symbol: S/RES/0000 (2024), title: A test resolution, adopted: 2024-01-15}
rules:
  - id: cap-a
    title: A cap
    kind: cap
    citation: para. 1
    verified: false
    effective: {from: 2024-01-01, to: 2030-12-31}
    match:
      hs_code: {prefix: ["2710"]}
      destination: KP
      quantity: {gt: 0.5}
    unless: {source: [exempt]}
    limit:
      - {amount: 500000, unit: bbl}
      - {amount: 60000, unit: t}
    period: {calendar: year}
    thresholds: [0.9, {fraction: 0.75, verified: false}]
    group_by: [supplier]
  - id: roll-b
    kind: cap
    citation: para. 2
    match: {destination: KP}
    limit: [{amount: 100, unit: USD}]
    period: {days: 30}
  - id: months-c
    kind: cap
    citation: para. 3
    match: {destination: KP}
    limit: [{amount: 100, unit: t}]
    period: {months: 6, anchor: 2024-01-01}
  - id: fixed-d
    kind: cap
    citation: para. 4
    match: {destination: KP}
    limit: [{amount: 100, unit: t}]
    period: {from: 2024-01-01, to: 2024-06-30}
  - id: ban-e
    kind: prohibition
    citation: para. 5
    hs_mapping: interpretation
    match:
      any: [{origin: KP}, {not: {destination: [CN, RU]}}]
  - id: late-f
    kind: deadline
    citation: para. 6
    match: {source: notification}
    within: {days: 30}
  - id: vessels-g
    kind: designation
    citation: para. 7
    fields: [vessel_imo]
    designations:
      - {identifier: "9191773", name: A SHIP, designated: 2017-12-28, reference: ref}
  - id: vessels-h
    kind: designation
    citation: para. 8
    designations: {file: lists/vessels.yaml}
  - id: vessels-i
    kind: designation
    citation: para. 9
    designations: {file: lists/vessels.csv}
conversions:
  - {product: lpg, barrels_per_tonne: 11.6, source: a chart}
  - {hs_code: "2711", product: lpg}
"""
DESIGNATIONS = """\
designations:
  - {identifier: "9114555", name: B SHIP, designated: 2017-12-28, verified: false}
  - {identifier: 9020534, designated: 2018-03-30, reference: ref}
"""
CSV = "identifier,name,designated,reference,verified\n9191773,A SHIP,2017-12-28,ref,true\n"
CASES = """\
tests:
  - name: a cap breach
    description: one delivery over the cap
    rules: [cap-a]
    kinds: [cap_exceeded]
    events:
      - {id: a, date: 2024-03-01, hs_code: "2710", destination: KP, quantity: 500001, unit: bbl}
      - {id: b, date: 2024-03-02, hs_code: "2710", destination: KP, quantity: 1, unit: bbl,
         supplier: CN, extra: {note: why}}
    expect:
      - {rule: cap-a, kind: cap_exceeded, trigger: a, date: 2024-03-01, verified: false,
         period: {start: 2024-01-01, end: 2024-12-31}, measure: {unit: bbl, excess: 1}}
  - name: a prohibition
    rules: [ban-e, late-f]
    events:
      - {id: p, date: 2024-03-01, origin: KP, destination: CN}
      - {id: n, date: 2024-03-01, destination: CN, source: notification, reported_on: 2024-03-05}
    expect:
      - {rule: ban-e, kind: prohibited, trigger: p}
"""

# Raw YAML text put in place of a placeholder after dumping, so the file holds exactly
# what a person might type (an unquoted impossible date, an enormous number).
RAW = {
    "@date@": "2024-13-01",
    "@feb30@": "2024-02-30",
    "@hour@": "2024-01-01 25:00:00",
    "@huge@": "1.0e+999999999",
    "@tiny@": "1.0e-999999999",
    "@bigint@": "9" * 5000,
    "@inf@": ".inf",
    "@nan@": ".nan",
}
SCALARS = st.sampled_from(
    [
        *RAW,
        0,
        -1,
        10**30,
        -0.5,
        1e-30,
        True,
        None,
        "",
        "text",
        "2024-01-01",
        "1e999999999",
        date(2024, 2, 29),
        [],
        {},
        [1, "x"],
        {"x": 1},
        {"from": "2024-01-01"},
    ]
)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*here, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename", "repeat"]))
        if op == "replace":
            parent[last] = draw(SCALARS)
        elif op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            new = draw(st.sampled_from([f"{last}s", str(last)[:-1] or "x", "extra", "1"]))
            parent[new] = parent.pop(last)
        elif op == "repeat" and isinstance(parent, list):
            parent.insert(last, parent[last])
    out = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    for placeholder, raw in RAW.items():
        out = out.replace(f"'{placeholder}'", raw).replace(placeholder, raw)
    return out


@st.composite
def mutated_csv(draw: st.DrawFn) -> str:
    header, row = (line.split(",") for line in CSV.splitlines())
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(row) - 1))
        choice = draw(st.sampled_from(["", "2024-13-01", "x" * 50, "maybe", "1e999999999"]))
        target = draw(st.sampled_from([header, row]))
        target[i] = choice
    return ",".join(header) + "\n" + ",".join(row) + "\n"


def _book(root: Path, rules: str = RULES, designations: str = DESIGNATIONS, csv: str = CSV,
          cases: str = CASES) -> Path:  # fmt: skip
    (root / "lists").mkdir()
    (root / "tests").mkdir()
    (root / "rules.yaml").write_text(rules)
    (root / "lists" / "vessels.yaml").write_text(designations)
    (root / "lists" / "vessels.csv").write_text(csv)
    (root / "tests" / "cases.yaml").write_text(cases)
    return root


def _assert_located(error: RuleFileError, root: Path) -> None:
    lines = str(error).splitlines()
    assert lines
    for line in lines:
        assert re.match(rf"{re.escape(str(root))}/[\w/.]+:\d+(:\d+)?: \S", line), line


def _outcome(root: Path) -> None:
    """Load the rulebook and its cases and run them: a load or a located RuleFileError."""
    try:
        rulebook = load_rulebook(root)
        load_cases(root, rulebook)
        run_cases(root)
    except RuleFileError as e:
        _assert_located(e, root)


def test_the_unmutated_files_load_and_pass(tmp_path: Path) -> None:
    root = _book(tmp_path)
    rulebook, outcomes = run_cases(root)
    assert len(rulebook) == 9
    assert [o.passed for o in outcomes] == [True, True], [o.problems for o in outcomes]


MUTATION = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@MUTATION
@given(mutated(RULES))
def test_a_mutated_rule_file_loads_or_is_located(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _outcome(_book(Path(d), rules=text))


@MUTATION
@given(mutated(DESIGNATIONS))
def test_a_mutated_designation_list_loads_or_is_located(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _outcome(_book(Path(d), designations=text))


@MUTATION
@given(mutated_csv())
def test_a_mutated_designation_csv_loads_or_is_located(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _outcome(_book(Path(d), csv=text))


@MUTATION
@given(mutated(CASES))
def test_a_mutated_case_file_loads_or_is_located(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _outcome(_book(Path(d), cases=text))


def _errors(tmp_path: Path, **files: str) -> list[str]:
    root = _book(tmp_path, **files)
    with pytest.raises(RuleFileError) as caught:
        rulebook = load_rulebook(root)
        load_cases(root, rulebook)
    return [str(d).replace(f"{root}/", "") for d in caught.value.diagnostics]


def test_an_impossible_date_in_a_rule_names_rule_and_field(tmp_path: Path) -> None:
    text = RULES.replace("effective: {from: 2024-01-01,", "effective: {from: 2024-13-01,")
    (found,) = _errors(tmp_path, rules=text)
    assert found.startswith("rules.yaml:8:23: rule cap-a: effective.from: input should be a "
                            "valid date")  # fmt: skip
    assert "(got '2024-13-01')" in found


def test_an_enormous_number_is_refused_where_it_is(tmp_path: Path) -> None:
    text = RULES.replace("days: 30}", "days: 1.0e+999999999}")
    (found,) = _errors(tmp_path, rules=text)
    assert found.startswith("rules.yaml:25:20: number out of range")


@pytest.mark.parametrize("command", [["rules", "validate"], ["test"], ["evaluate", "-", "--rules"]])
def test_the_cli_locates_a_bad_date_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    root = _book(tmp_path, rules=RULES.replace("2024-01-15", "2024-13-15"))
    assert main([*command, str(root)]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert f"{root}/rules.yaml:1:74: document.adopted: input should be a valid date" in err


def test_a_bad_date_in_a_designation_csv_names_row_and_column(tmp_path: Path) -> None:
    (found,) = _errors(tmp_path, csv=CSV.replace("2017-12-28", "2017-12-32"))
    assert found.startswith("lists/vessels.csv:2:16: designated: input should be a valid date")


def test_an_unreadable_designation_csv_is_located(tmp_path: Path) -> None:
    root = _book(tmp_path)
    (root / "lists" / "vessels.csv").write_bytes(b"identifier,designated\n\xff\xfe,2017-01-01\n")
    with pytest.raises(RuleFileError, match=r"lists/vessels.csv:\d+"):
        load_rulebook(root)
