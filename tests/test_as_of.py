"""The evaluation date: a report not yet due on it is pending, neither late nor unreported."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import compliance
from compliance.cli import main

RULES = Path(__file__).parent / "data" / "design-example.yaml"
RULEBOOK = compliance.load_rulebook(RULES)
NOTICE = {"hs_code": "2710", "destination": "KP", "source": "notification",
          "quantity": "10", "unit": "bbl"}  # fmt: skip
LOG = [
    {"id": "a", "date": "2019-01-05", **NOTICE},  # due 2019-02-04, never reported
    {"id": "b", "date": "2019-03-01", "reported_on": "2019-03-02", **NOTICE},
]


def kinds(report: compliance.Report) -> dict[str, str]:
    return {f.trigger: f.kind for f in report.findings if f.rule.endswith("notification")}


@pytest.fixture(params=["stream", "columnar"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "log.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "date", "reported_on", *NOTICE])
        writer.writeheader()
        writer.writerows(LOG)
    return request.param, path


def test_before_the_deadline_a_missing_report_is_pending(engine: tuple[str, Path]) -> None:
    name, path = engine
    report = compliance.evaluate(str(path), RULEBOOK, engine=name, as_of=date(2019, 2, 4))  # type: ignore[arg-type]
    assert kinds(report) == {"a": "pending"}
    (pending,) = [f for f in report.findings if f.kind == "pending"]
    assert pending.severity == "notice" and pending.due == date(2019, 2, 4)
    assert report.as_of == date(2019, 2, 4)


def test_after_the_deadline_it_is_unreported(engine: tuple[str, Path]) -> None:
    name, path = engine
    report = compliance.evaluate(str(path), RULEBOOK, engine=name, as_of=date(2019, 2, 5))  # type: ignore[arg-type]
    assert kinds(report) == {"a": "unreported"}


def test_the_default_is_the_latest_date_in_the_log(engine: tuple[str, Path]) -> None:
    name, path = engine
    report = compliance.evaluate(str(path), RULEBOOK, engine=name)  # type: ignore[arg-type]
    assert report.as_of == date(2019, 3, 2)  # b's reporting date
    assert kinds(report) == {"a": "unreported"}
    assert json.loads(report.to_json())["as_of"] == "2019-03-02"


def test_the_cli_takes_as_of(engine: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    name, path = engine
    code = main(["evaluate", str(path), "--rules", str(RULES), "--format", "json",
                 "--engine", name, "--as-of", "2019-01-20"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["as_of"] == "2019-01-20"
    assert [f["kind"] for f in out["findings"]] == ["pending"]


def test_a_bad_as_of_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "x.csv", "--as-of", "2019-13-01"])
    assert e.value.code == 2
    assert "expected a date YYYY-MM-DD (got '2019-13-01')" in capsys.readouterr().err


def test_a_live_monitor_judges_on_its_own_day() -> None:
    assert compliance.Monitor(RULEBOOK).as_of == date.today()
    monitor = compliance.Monitor(RULEBOOK, as_of=date(2019, 1, 20))
    changes = monitor.feed(LOG[0])
    assert [f.kind for f in changes] == ["pending"]


def test_watch_restarted_after_the_deadline_announces_unreported(tmp_path: Path) -> None:
    feed, state = tmp_path / "feed.jsonl", tmp_path / "state.db"
    feed.write_text(json.dumps(LOG[0]) + "\n")
    command = [sys.executable, "-m", "compliance.cli", "watch", str(feed), "--rules", str(RULES),
               "--state", str(state)]  # fmt: skip
    first = subprocess.run([*command, "--as-of", "2019-01-20"], capture_output=True, text=True)
    second = subprocess.run([*command, "--as-of", "2019-03-01"], capture_output=True, text=True)
    changes = [json.loads(x) for x in (first.stdout + second.stdout).splitlines()]
    assert [(c["change"], c["finding"]["kind"]) for c in changes] == [
        ("raised", "pending"), ("withdrawn", "pending"), ("raised", "unreported"),
    ]  # fmt: skip
