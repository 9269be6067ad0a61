"""`--format markdown`: verdict, findings table, rejected records — readable on a code host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import compliance
from compliance.cli import main
from compliance.io.markdown import render_markdown
from writers_data import RULES, write_log


@pytest.fixture
def text(tmp_path: Path) -> str:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    return render_markdown(report, rulebook)


def table_rows(text: str) -> list[list[str]]:
    """Cells of the findings table (GFM: `|` inside a cell is escaped as `\\|`)."""
    lines = text.split("## Findings", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [ln for ln in lines if ln.startswith("| ") and not ln.startswith("| date")]
    out = []
    for row in rows:
        cells = row.replace("\\|", "\0").strip("| ").split(" | ")
        out.append([c.replace("\0", "|") for c in cells])
    return out


def test_summary_first(text: str) -> None:
    lines = text.splitlines()
    assert lines[0] == "# Compliance report"
    assert lines[2].startswith("**🟥 Breach: 2 breaches of 2 rules.")
    assert "INCOMPLETE: 1 rejected records" in lines[2]
    assert "2 breaches, 1 warning, 3 notices, 0 errors" in text
    assert "read 5: 4 evaluated, 0 duplicates, 0 superseded, 1 rejected" in text


def test_breaches_listed_with_their_messages(text: str) -> None:
    breaches = text.split("## Breaches", 1)[1].split("## Findings", 1)[0]
    assert "exceeds the 500,000 bbl cap by 60,000 bbl; crossed on 2019-06-10" in breaches
    assert "*(unverified)*" in breaches  # the ship-to-ship rule is verified: false


def test_findings_table(text: str) -> None:
    assert "| date | severity | kind | rule | trigger | figures | citation | verified |" in text
    rows = table_rows(text)
    assert len(rows) == 6 and all(len(r) == 8 for r in rows)
    cap = next(r for r in rows if r[2] == "cap\\_exceeded")
    assert cap[0] == "2019-06-10" and cap[1] == "**breach**"
    assert cap[3] == "`unscr-2397-refined-petroleum`"
    assert cap[4] == "`b|1`"  # the pipe in the id did not split the row
    assert cap[5] == "560,000 / 500,000 bbl (+60,000)"
    # Citations link to the document; parentheses in the URL are encoded.
    assert cap[6] == "[S/RES/2397 (2017), para. 5](https://undocs.org/S/RES/2397%282017%29)"
    sts = next(r for r in rows if r[2] == "prohibited")
    assert sts[7] == "**no**"


def test_rejected_records_and_unverified_note(text: str) -> None:
    rejected = text.split("## Rejected records", 1)[1]
    assert "log.csv:6` | bad | date: must be a real ISO date" in rejected
    assert "> Unverified figures or paragraphs" in text and "`unscr-2375-ship-to-ship`" in text


def test_markup_in_log_text_is_escaped(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(
        [{"id": "<img src=x>", "date": "2019-01-01", "hs_code": "2710", "destination": "KP",
          "quantity": "1", "unit": "bbl", "transfer": "ship_to_ship", "vessel_flag": "KP"}],
        rulebook,
    )  # fmt: skip
    out = render_markdown(report, rulebook)
    bare = re.sub(r"`[^`]*`", "", out)  # code spans show text literally on a code host
    assert re.search(r"(?<!\\)<img", bare) is None and "\\<img src=x\\>" in bare


def test_cli_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["evaluate", str(write_log(tmp_path)), "--rules", str(RULES), "--format", "markdown"]
    )
    out = capsys.readouterr().out
    assert code == 2 and out.startswith("# Compliance report\n")
