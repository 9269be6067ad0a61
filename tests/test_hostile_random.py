"""Random bytes and random Unicode through every reader (issue 11).

Whatever a log holds, each engine gives a report or a located `LogError`; a report is
valid UTF-8 in every text format, every rejection has its line or index, the accounting
sums (read = evaluated + duplicates + superseded + rejected), and the engines agree.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance import Engine
from compliance.errors import LogError
from compliance.io.writers import render

RULES = Path(__file__).parent / "data" / "design-example.yaml"
COLUMNS = ["id", "date", "hs_code", "product", "destination", "quantity", "unit",
           "vessel_imo", "source", "note"]  # fmt: skip
GOOD = {"id": "a", "date": "2019-06-10", "hs_code": "2710", "product": "diesel",
        "destination": "KP", "quantity": "600000", "unit": "bbl", "vessel_imo": "9191773",
        "source": "notification", "note": "x"}  # fmt: skip

# Digits of every script, look-alikes of the letters codes use, invisible and control
# characters, and the ASCII a valid value is made of.
DIGITS = st.characters(categories=["Nd", "No", "Nl"])
CONFUSABLES = st.sampled_from("ıİſKАВЕКМНОРСТХаеорсхіјԁɡ０１２ＫＰｋｐ٫٬،")
CONTROLS = st.sampled_from(
    "\x00\x01\x08\t\n\r\x0b\x0c\x1b\x1c\x1f\x7f\x85\x9b\xa0\u2028\u202e\u2066\u200b\ufeff"
)
ASCII = st.characters(min_codepoint=32, max_codepoint=126)
CHARS = st.one_of(DIGITS, CONFUSABLES, CONTROLS, ASCII, ASCII, st.characters())


def _mutated(value: str) -> st.SearchStrategy[str]:
    """`value` with some characters replaced, inserted or appended."""
    return st.lists(st.tuples(st.integers(0, len(value)), CHARS), max_size=3).map(
        lambda edits: _apply(value, edits)
    )


def _apply(value: str, edits: list[tuple[int, str]]) -> str:
    for at, char in edits:
        value = value[:at] + char + value[at + 1 :]
    return value


@st.composite
def records(draw: st.DrawFn) -> dict[str, str]:
    return {c: draw(st.one_of(st.just(GOOD[c]), _mutated(GOOD[c]))) for c in COLUMNS}


def _csv_log(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


def _jsonl_log(rows: list[dict[str, str]]) -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return text.encode("utf-8", "surrogatepass")


LOGS = st.one_of(
    st.tuples(st.just(".csv"), st.lists(records(), min_size=1, max_size=6).map(_csv_log)),
    st.tuples(st.just(".jsonl"), st.lists(records(), min_size=1, max_size=6).map(_jsonl_log)),
    # A valid log with random bytes spliced in: undecodable sequences, NULs, quotes.
    st.tuples(
        st.sampled_from([".csv", ".jsonl", ".json"]),
        st.tuples(st.lists(records(), min_size=1, max_size=4), st.binary(max_size=12)).map(
            lambda p: _csv_log(p[0])[:-1] + p[1] + b"\n"
        ),
    ),
    st.tuples(st.sampled_from([".csv", ".jsonl", ".json", ".txt"]), st.binary(max_size=200)),
)


@pytest.fixture(scope="module")
def rulebook() -> compliance.Rulebook:
    return compliance.load_rulebook(RULES)


def _durable() -> bool:
    try:
        import durable.engine  # noqa: F401
    except Exception:
        return False
    return True


ENGINES: list[Engine] = ["stream", "columnar"] if _durable() else ["columnar"]


def _outcome(source: Any, rulebook: compliance.Rulebook, engine: Engine) -> object:
    """The accounting of a checked report, or the message of a checked LogError."""
    try:
        report = compliance.evaluate(source, rulebook, engine=engine)
    except LogError as e:
        message = str(e)
        message.encode("utf-8")
        assert message.startswith(e.diagnostic.path + ":"), message
        assert "\n" not in message
        return message
    a = report.accounting
    assert a.read == a.evaluated + a.duplicates + a.superseded + a.rejected
    assert all(r.line is not None or r.index is not None for r in report.rejected)
    for fmt in ("json", "table", "csv", "markdown"):
        render(report, rulebook, fmt).encode("utf-8")  # strictly: no lone surrogate
    json.loads(report.to_json())
    return a, [(r.line, r.index) for r in report.rejected]


@given(LOGS)
def test_any_file_gives_a_report_or_a_located_error(
    rulebook: compliance.Rulebook, log: tuple[str, bytes]
) -> None:
    suffix, data = log
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"log{suffix}"
        path.write_bytes(data)
        outcomes = {engine: _outcome(str(path), rulebook, engine) for engine in ENGINES}
    assert len({repr(o) for o in outcomes.values()}) == 1, outcomes


@given(st.binary(max_size=300))
def test_any_bytes_on_stdin_give_a_report_or_a_located_error(
    rulebook: compliance.Rulebook, data: bytes
) -> None:
    for engine in ENGINES:
        with patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(data))):
            _outcome("-", rulebook, engine)


VALUES = st.one_of(
    st.text(CHARS, max_size=12),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),  # lone surrogates
)


@given(st.lists(st.dictionaries(st.sampled_from(COLUMNS), VALUES), min_size=1, max_size=5))
def test_any_records_given_to_evaluate_give_a_report(
    rulebook: compliance.Rulebook, rows: list[dict[str, Any]]
) -> None:
    rows = [{**GOOD, **r} for r in rows]
    outcomes = {engine: _outcome(rows, rulebook, engine) for engine in ENGINES}
    assert len({repr(o) for o in outcomes.values()}) == 1, outcomes


@given(st.lists(records(), min_size=1, max_size=5))
def test_any_dataframe_gives_a_report(
    rulebook: compliance.Rulebook, rows: list[dict[str, str]]
) -> None:
    import polars as pl

    rows = [{k: v.encode("utf-8", "replace").decode() for k, v in r.items()} for r in rows]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String))
    outcomes = {engine: _outcome(frame, rulebook, engine) for engine in ENGINES}
    assert len({repr(o) for o in outcomes.values()}) == 1, outcomes
