"""Every kind of input the API and CLI accept, and the engine-less interpreter."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import compliance
from compliance.cli import main

DATA = Path(__file__).parent / "data"
RULES = DATA / "design-example.yaml"
ROWS = [
    {
        "id": "a",
        "date": "2019-01-01",
        "hs_code": "2710",
        "destination": "KP",
        "quantity": 300000,
        "unit": "bbl",
    },
    {
        "id": "b",
        "date": "2019-06-10",
        "hs_code": "2710",
        "destination": "KP",
        "quantity": 250000,
        "unit": "bbl",
    },
]


def breaches(source: object) -> list[str]:
    report = compliance.evaluate(source, compliance.load_rulebook(RULES), engine="stream")
    return [f.trigger for f in report.breaches]


def test_dicts_shipments_and_dataframes_give_the_same_breach() -> None:
    assert breaches(ROWS) == ["b"]
    assert breaches([compliance.Shipment(**r) for r in ROWS]) == ["b"]  # type: ignore[arg-type]
    assert breaches(pl.DataFrame(ROWS)) == ["b"]


def test_pandas_dataframe() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is optional")
    assert breaches(pd.DataFrame(ROWS)) == ["b"]


def test_pandas_missing_numbers_are_absent_not_rejected() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is optional")
    frame = pd.DataFrame([{**ROWS[0]}, {"id": "c", "date": "2019-01-02", "hs_code": "8901"}])
    report = compliance.evaluate(frame, compliance.load_rulebook(RULES), engine="stream")
    assert report.accounting.rejected == 0


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(json.dumps(r) for r in ROWS) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code = main(["evaluate", "-", "--rules", str(RULES), "--format", "json", "--engine", "stream"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["accounting"]["read"] == 2


def test_several_logs_are_one_evaluation(tmp_path: Path) -> None:
    for i, row in enumerate(ROWS):
        (tmp_path / f"{i}.jsonl").write_text(json.dumps(row) + "\n")
    paths = [str(tmp_path / "0.jsonl"), str(tmp_path / "1.jsonl")]
    assert breaches(paths) == ["b"]


def test_without_durable_rules_every_engine_and_monitor_work() -> None:
    # Python 3.13 cannot import durable_rules: only correlation rules need it.
    code = (
        "import sys; sys.modules['durable'] = None; sys.modules['durable.engine'] = None\n"
        "import compliance\n"
        "rb = compliance.load_rulebook(sys.argv[1])\n"
        "rows = [" + ", ".join(repr(r) for r in ROWS) + "]\n"
        "s = compliance.evaluate(rows, rb, engine='stream')\n"
        "m = compliance.Monitor(rb, as_of=s.as_of)\n"
        "fed = [f.rule for r in rows for f in m.feed(r)]\n"
        "print(m.report() == s, [f.trigger for f in s.breaches])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(RULES)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True ['b']"


def test_an_unknown_engine_is_an_error() -> None:
    with pytest.raises(compliance.ComplianceError, match="unknown engine 'bogus'"):
        compliance.evaluate(ROWS, RULES, engine="bogus")  # type: ignore[arg-type]
