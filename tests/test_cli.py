"""The command line: exit status 0/1/2, one clear line per error, never a traceback."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from compliance.cli import main

DATA = Path(__file__).parent / "data"
RULES = str(DATA / "design-example.yaml")
HEADER = "id,date,hs_code,destination,quantity,unit\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def log(tmp_path: Path, body: str | bytes, name: str = "log.csv") -> str:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    return str(path)


def test_breach_exits_1_and_json_has_the_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = log(
        tmp_path, HEADER + "a,2019-01-01,2710,KP,300000,bbl\nb,2019-06-10,2710,KP,250000,bbl\n"
    )
    code, out, _ = run(capsys, "evaluate", path, "--rules", RULES, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    cap = [f for f in doc["findings"] if f["kind"] == "cap_exceeded"]
    assert cap[0]["trigger"] == "b" and cap[0]["measure"]["excess"] == "50000"
    assert doc["accounting"] == {
        "read": 2,
        "evaluated": 2,
        "duplicates": 0,
        "superseded": 0,
        "rejected": 0,
    }


def test_clean_log_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = log(tmp_path, HEADER + "a,2019-01-01,2710,KP,1,bbl\n")
    assert run(capsys, "evaluate", path, "--rules", RULES, "--format", "table")[0] == 0


def test_evaluate_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = gc.get_threshold()
    path = log(tmp_path, HEADER + "a,2019-01-01,2710,KP,1,bbl\n")
    run(capsys, "evaluate", path, "--rules", RULES, "--format", "json")
    run(capsys, "evaluate", str(tmp_path / "missing.csv"), "--rules", RULES)
    assert gc.get_threshold() == before


def test_fail_on_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = log(
        tmp_path,
        "id,date,hs_code,destination,quantity,unit,source\n"
        "a,2019-01-01,2710,KP,1,bbl,notification\n",
    )
    assert run(capsys, "evaluate", path, "--rules", RULES)[0] == 0
    # Unreported once its deadline has passed on the evaluation date: a warning.
    warn = ("--fail-on", "warning", "--as-of", "2019-06-01")
    assert run(capsys, "evaluate", path, "--rules", RULES, *warn)[0] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            HEADER + "a,2019-02-30,2710,KP,1,bbl\n",
            "log.csv:2: rejected: date: must be a real ISO date",
        ),
        (
            HEADER + "a,2019-01-01,2710,KP,-5,bbl\n",
            "log.csv:2: rejected: quantity: must be ≥ 0 (got '-5')",
        ),
        (HEADER + "a,2019-01-01,2710,KP,NaN,bbl\n", "quantity: must be a finite number"),
        (HEADER + "a,2019-01-01,2710,KP,inf,bbl\n", "quantity: must be a finite number"),
        (HEADER + "a,2019-01-01,2710,KP,1e400,bbl\n", "quantity: is implausibly large"),
        (HEADER + "a,2019-01-01,2710,KP,1,barrels\n", "unit: unknown unit"),
        ("id,date,vessel_imo\na,2019-01-01,919177\n", "vessel_imo: must be a 7-digit IMO number"),
        (
            HEADER + "a,2019-01-01,2710,KP,1,bbl\na,2019-01-01,2710,KP,2,bbl\n",
            "appears with different content",
        ),
        ("id,date,supersedes\nb,2019-01-01,zzz\n", "supersedes: no record with id 'zzz'"),
        (HEADER + "a,2019-01-01,2710,KP,1,bbl,extra\n", "row has 7 fields; the header has 6"),
    ],
)
def test_bad_records_are_rejected_with_location_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    code, out, err = run(
        capsys, "evaluate", log(tmp_path, body), "--rules", RULES, "--format", "json"
    )
    assert code == 2
    assert message in err
    doc = json.loads(out)
    a = doc["accounting"]
    assert a["read"] == a["evaluated"] + a["duplicates"] + a["superseded"] + a["rejected"]
    assert doc["rejected"]


def test_non_utf8_bytes_reject_only_their_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (HEADER + "a,2019-01-01,2710,KP,1,bbl\n").encode() + b"b,2019-01-01,27\xff10,KP,1,bbl\n"
    code, out, err = run(
        capsys, "evaluate", log(tmp_path, body), "--rules", RULES, "--format", "json"
    )
    assert code == 2 and "log.csv:3: rejected: hs_code: is not valid UTF-8" in err
    assert json.loads(out)["accounting"]["evaluated"] == 1


def test_ten_megabyte_line_is_rejected_not_hung(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        HEADER + "a,2019-01-01,2710,KP,1,bbl\n" + "b,2019-01-01," + "x" * 10_000_000 + ",KP,1,bbl\n"
    )
    code, out, err = run(
        capsys, "evaluate", log(tmp_path, body), "--rules", RULES, "--format", "json"
    )
    assert code == 2 and "log.csv:3: rejected:" in err
    assert json.loads(out)["accounting"] == {
        "read": 2,
        "evaluated": 1,
        "duplicates": 0,
        "superseded": 0,
        "rejected": 1,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "log.csv:1: empty file"),
        ("id,hs_code\na,2710\n", "log.csv:1: missing required column 'date'"),
    ],
)
def test_unreadable_files_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    code, _, err = run(capsys, "evaluate", log(tmp_path, body), "--rules", RULES)
    assert (code == 2 and err.strip() == f"error: {tmp_path}/{message}") or message in err


def test_header_only_is_an_empty_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "evaluate", log(tmp_path, HEADER), "--rules", RULES, "--format", "json"
    )
    assert code == 0 and json.loads(out)["accounting"]["read"] == 0


def test_jsonl_and_json_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = log(tmp_path, '{"id": "a", "date": "2019-01-01"}\nnot json\n[1]\n', "log.jsonl")
    code, _, err = run(capsys, "evaluate", jsonl, "--rules", RULES, "--format", "json")
    assert code == 2 and "log.jsonl:2: rejected: invalid JSON" in err
    assert "log.jsonl:3: rejected: expected a JSON object" in err
    array = log(tmp_path, '[{"id": "a", "date": "2019-01-01"}]', "log.json")
    assert run(capsys, "evaluate", array, "--rules", RULES, "--format", "json")[0] == 0


def test_missing_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", str(tmp_path / "nope.csv"), "--rules", RULES)
    assert code == 2 and "nope.csv: cannot read log" in err


def test_rules_validate_reports_each_problem_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - id: r\n    kind: prohibition\n    citation: c\n    match: {destinaton: KP}\n"
    )
    code, _, err = run(capsys, "rules", "validate", str(bad))
    assert code == 2
    assert (
        f"{bad}:5:13: rule r: match.destinaton: unknown field (did you mean 'destination'?)" in err
    )
    assert "Found 1 error." in err


def test_rules_list_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "list", "--rules", RULES, "--format", "json")
    assert code == 0 and len(json.loads(out)) == 4
    code, out, _ = run(capsys, "rules", "schema")
    schema = json.loads(out)
    assert code == 0 and "rules" in schema["properties"]


def test_rule_file_errors_exit_2_from_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{id: r, kind: cap}]\n")
    code, _, err = run(capsys, "evaluate", log(tmp_path, HEADER), "--rules", str(bad))
    assert code == 2 and "missing required key 'citation'" in err


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"compliance {version('compliance')}"
