"""Example-based tests of the columnar engine (the differential test covers the rest)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance

HEADER = "id,date,hs_code,quantity,unit,destination,source,reported_on,supersedes\n"


def _log(tmp_path: Path, body: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _agree(source: object, rulebook: compliance.Rulebook) -> compliance.Report:
    columnar = compliance.evaluate(source, rulebook, engine="columnar")
    stream = compliance.evaluate(source, rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    return columnar


def test_bad_rows_keep_their_lines_and_reasons(tmp_path: Path, design_rulebook) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, (
        "a,2019-01-10,2710,300000,bbl,KP,,,\n"
        "\n"                                        # blank line: not a record, still a line
        "b,2019-02-30,2710,100,bbl,KP,,,\n"         # line 4: impossible date
        "c,2019-03-01,2710,-5,gallon,KP,,,\n"       # line 5: two problems
        " d ,2019-03-02,2710.19,300000,BBL,kp,,,\n"  # line 6: valid once normalised
    ))  # fmt: skip
    report = _agree(str(path), design_rulebook)
    assert [(r.line, r.id) for r in report.rejected] == [(4, "b"), (5, "c")]
    assert len(report.rejected[1].reasons) == 2
    assert report.accounting.read == 4 and report.accounting.evaluated == 2
    assert [f.trigger for f in report.breaches] == ["d"]


def test_duplicates_corrections_and_conflicts(tmp_path: Path, design_rulebook) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, (
        "a,2019-01-10,2710,300000,bbl,KP,,,\n"
        "a,2019-01-10,2710,300000,bbl,KP,,,\n"   # duplicate
        "x,2019-01-11,8703,5,t,CN,,,\n"
        "x,2019-01-11,8703,6,t,CN,,,\n"          # conflict: both rejected
        "y,2019-01-12,8703,5,t,CN,,,\n"
        "y2,2019-01-12,8703,7,t,CN,,,y\n"        # corrects y
        "b,2019-05-01,2710,300000,bbl,KP,,,\n"
    ))  # fmt: skip
    report = _agree(str(path), design_rulebook)
    assert report.accounting.model_dump() == {
        "read": 7, "evaluated": 3, "duplicates": 1, "superseded": 1, "rejected": 2,
    }  # fmt: skip
    assert {r.line for r in report.rejected} == {4, 5}


def test_rolling_window_and_multi_measure(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: rolling\n    kind: cap\n    citation: test\n    match: {destination: KP}\n"
        "    limit: [{amount: 1000, unit: bbl}, {amount: 100, unit: t}]\n"
        "    period: {days: 30}\n    thresholds: [0.5]\n"
        "conversions:\n  - {product: crude, barrels_per_tonne: 7.33, source: test}\n"
        "  - {hs_code: '2709', product: crude}\n",
        encoding="utf-8",
    )
    rulebook = compliance.load_rulebook(rules)
    path = _log(tmp_path, (
        "a,2019-01-01,2709,600,bbl,KP,,,\n"
        "b,2019-01-20,2709,60,t,KP,,,\n"      # 439.8 bbl: 1,039.8 bbl in the window, over
        "c,2019-01-25,2709,50,t,KP,,,\n"      # still over: no new finding
        "d,2019-03-20,2709,10,bbl,KP,,,\n"    # window has drained: below again
        "e,2019-03-21,2709,2000,bbl,KP,,,\n"  # crosses again
        "f,2019-03-22,8703,1,kg,KP,,,\n"      # kg of an unnamed product: unconvertible to bbl
    ))  # fmt: skip
    report = _agree(str(path), rulebook)
    exceeded = [f.trigger for f in report.findings if f.kind == "cap_exceeded"]
    assert exceeded == ["b", "e"]
    assert [f.trigger for f in report.errors] == ["f"]


def test_parquet_and_frames_match_csv(tmp_path: Path, design_rulebook) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, (
        "a,2019-01-10,2710,300000,bbl,KP,notification,2019-03-01,\n"
        "b,2019-02-10,2710,300000,bbl,KP,notification,,\n"
    ))  # fmt: skip
    frame = pl.read_csv(path, infer_schema=False)
    parquet = tmp_path / "log.parquet"
    frame.write_parquet(parquet)
    by_csv = _agree(str(path), design_rulebook)
    by_parquet = _agree(str(parquet), design_rulebook)
    by_frame = _agree(frame, design_rulebook)
    strip = [{k: v for k, v in f.items()} for f in by_csv.to_dict()["findings"]]
    assert by_parquet.to_dict()["findings"] == strip == by_frame.to_dict()["findings"]
    assert {f.kind for f in by_csv.findings} >= {"late_report", "pending", "cap_exceeded"}


def test_quoted_newlines_fall_back_with_exact_lines(tmp_path: Path, design_rulebook) -> None:  # type: ignore[no-untyped-def]
    path = _log(tmp_path, 'a,2019-01-10,2710,"1\n00",bbl,KP,,,\nb,bad,2710,1,bbl,KP,,,\n')
    report = _agree(str(path), design_rulebook)
    assert [r.line for r in report.rejected] == [2, 4]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 40, 100, 1 << 20])
def test_small_chunks_keep_lines_duplicates_and_conflicts(  # type: ignore[no-untyped-def]
    tmp_path: Path, design_rulebook, monkeypatch, chunk_bytes: int
) -> None:
    from compliance.engine.columnar import csv_chunks

    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", chunk_bytes)
    path = _log(tmp_path, (
        "x,2019-01-11,8703,5,t,CN,,,\n"
        'q,2019-01-12,8703,"1,500",t,CN,,,\n'      # quoted separator
        "a,2019-01-10,2710,300000,bbl,KP,,,\n"
        "z,2019-01-13,8703,5,t,CN,,,\n"
        "\n"
        "x,2019-01-11,8703,6,t,CN,,,\n"            # conflicts with line 2, chunks apart
        "a,2019-01-10,2710,300000,bbl,KP,,,\n"     # duplicate of a rule's row
        "z2,2019-01-14,8703,7,t,CN,,,z\n"          # corrects z
        'e,2019-01-15,8703,5,t,CN,"",,""\n'        # quoted empty fields are absent too
        "b,2019-13-01,2710,1,bbl,KP,,,"            # no final newline
    ))  # fmt: skip
    report = _agree(str(path), design_rulebook)
    assert {(r.line, r.id) for r in report.rejected} == {(2, "x"), (7, "x"), (11, "b")}
    assert report.accounting.duplicates == 1 and report.accounting.superseded == 1


def test_quoted_newline_at_a_chunk_end_falls_back(  # type: ignore[no-untyped-def]
    tmp_path: Path, design_rulebook, monkeypatch
) -> None:
    from compliance.engine.columnar import csv_chunks

    body = (
        "a,2019-01-10,2710,1,bbl,KP,,,\n"
        'b,2019-01-10,2710,"1\n0",bbl,KP,,,\n'
        "c,bad,2710,1,bbl,KP,,,\n"
    )
    path = _log(tmp_path, body)
    for size in range(1, len(HEADER) + len(body) + 2):
        monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", size)
        report = _agree(str(path), design_rulebook)
        assert [(r.line, r.id) for r in report.rejected] == [(3, "b"), (5, "c")]


def test_auto_picks_columnar_for_files_but_small_ones(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.engine import columnar

    calls: list[object] = []
    real = columnar.evaluate_columnar

    def counted(*args: Any, **kwargs: Any) -> compliance.Report:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(columnar, "evaluate_columnar", counted)
    path = _log(tmp_path, "a,2019-01-10,2710,1,bbl,KP,,,\n")
    small = compliance.evaluate(str(path), design_rulebook)
    assert calls == []  # a small file streams: its run would be mostly Polars' import
    monkeypatch.setattr(compliance.api, "SMALL_LOG", path.stat().st_size)
    assert compliance.evaluate(str(path), design_rulebook) == small
    assert len(calls) == 1  # one of SMALL_LOG bytes or more goes columnar
    compliance.evaluate([str(path), str(path)], design_rulebook)
    assert len(calls) == 2  # the files' sizes add up
    compliance.evaluate([{"id": "a", "date": "2019-01-10"}], design_rulebook)
    assert len(calls) == 2  # iterables stream


def test_import_does_not_load_polars() -> None:
    code = "import sys, compliance; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_progress_only_on_a_terminal() -> None:
    import io

    from compliance.engine._progress import Progress

    quiet = io.StringIO()
    progress = Progress(quiet)
    progress.start -= 10  # as if it had been running a while
    progress.add(5)
    progress.close()
    assert quiet.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    progress = Progress(tty)
    progress.start -= 10
    progress.add(1_000)
    progress.close()
    assert "1,000 events" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")


@pytest.mark.parametrize("engine", ["columnar", "auto"])
def test_cli_json_has_no_progress(tmp_path: Path, engine: str) -> None:
    path = _log(tmp_path, "a,2019-01-10,2710,1,bbl,KP,,,\n")
    out = subprocess.run(
        [sys.executable, "-m", "compliance", "evaluate", str(path), "--format", "json",
         "--engine", engine],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout.lstrip().startswith("{") and "events" not in out.stderr


def test_typed_parquet_takes_the_fast_path(tmp_path: Path, design_rulebook, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Typed columns are screened by Polars (the Python reader is never asked), rows that
    reach Python keep their typed values in reasons, and boolean columns fall back."""
    from datetime import date

    from compliance.engine.columnar import evaluation

    frame = pl.DataFrame(
        {"id": [1, 2, 3, 3], "date": [date(2019, 1, 10), None, date(2019, 2, 1), date(2019, 2, 1)],
         "hs_code": ["2710", "2710", "2710", "2710"], "quantity": [300000.0, 1.5, -2.0, -2.0],
         "unit": ["bbl"] * 4, "destination": ["KP"] * 4},
    )  # fmt: skip
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    expected = compliance.evaluate(str(path), design_rulebook, engine="stream").to_dict()
    with monkeypatch.context() as patched:
        patched.setattr(evaluation, "records_from", pytest.fail)
        for source in (str(path), frame):
            report = compliance.evaluate(source, design_rulebook, engine="columnar")
            assert report.to_dict()["findings"] == expected["findings"]
    report = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    assert report.to_dict() == expected
    assert [(r.index, r.reasons) for r in report.rejected] == [
        (1, ["date: is required"]), (2, ["quantity: must be ≥ 0 (got '-2.0')"]),
        (3, ["quantity: must be ≥ 0 (got '-2.0')"]),
    ]  # fmt: skip
    flagged = frame.with_columns(pl.lit(True).alias("flag"))
    with monkeypatch.context() as patched:
        patched.setattr(evaluation, "scan_typed", pytest.fail)
        assert _agree(flagged, design_rulebook).to_dict()["accounting"]["read"] == 4


def test_numeric_hs_codes_reach_python_whatever_the_screen_thinks(  # type: ignore[no-untyped-def]
    tmp_path: Path, design_rulebook
) -> None:
    """A Parquet written from a spreadsheet has HS codes as numbers; those that lost digits
    are rejected by both engines, the intact ones evaluated."""
    frame = pl.DataFrame(
        {"id": ["a", "b", "c"], "date": ["2019-01-10"] * 3, "hs_code": [2710, 901, None],
         "quantity": [600000.0] * 3, "unit": ["bbl"] * 3, "destination": ["KP"] * 3},
    )  # fmt: skip
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    floats = tmp_path / "floats.parquet"
    frame.with_columns(pl.col("hs_code").cast(pl.Float64)).write_parquet(floats)
    for source, rejected in ((path, ["b"]), (floats, ["a", "b"])):
        for report in (_agree(str(source), design_rulebook),
                       _agree(pl.read_parquet(source), design_rulebook)):  # fmt: skip
            assert [r.id for r in report.rejected] == rejected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=1e-4, max_value=1e16))
def test_trusted_floats_are_cast_as_repr(number: float) -> None:
    """The range `_casts` trusts: Polars writes a float there as repr() does."""
    if number < 1e16:
        assert pl.Series([number]).cast(pl.String).item() == repr(number)


def test_a_date_is_trusted_where_its_text_is_iso() -> None:
    """`_casts` trusts a Date or Datetime by its year: exactly where Polars writes the
    date as YYYY-MM-DD (years 0-9999; a sign or a fifth digit elsewhere)."""
    from compliance.engine.columnar.typed import TRUSTED, Typed

    years = pl.Series([*range(-3, 3), *range(997, 1003), *range(9997, 10003)], dtype=pl.Int32)
    days = pl.select(pl.date(pl.lit(years), 12, 31)).to_series()
    for column in (days, days.cast(pl.Datetime("ms"))):
        frame = pl.DataFrame({"id": [str(y) for y in years], "date": column})
        typed = Typed.of(frame)
        assert typed is not None
        texts = frame.with_row_index("__row").select(typed.casts)
        iso = texts.get_column("date").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        assert texts.get_column(TRUSTED).to_list() == iso.to_list()
        assert iso.sum() == 12  # years 0-2, 997-1002, 9997-9999


@given(
    days=st.lists(st.one_of(st.none(), st.dates()), min_size=1, max_size=40),
    near=st.lists(st.integers(0, 3), min_size=5, max_size=40),  # written once, gathered
    zone=st.sampled_from([None, "UTC", "Asia/Tokyo", "America/Lima"]),
)
def test_date_texts_written_once_a_day_are_the_casts(
    days: list[Any], near: list[int], zone: str | None
) -> None:
    """`Typed._texts` writes each day of a batch once and gathers (when the days span
    fewer days than the batch has rows): the text `_casts` writes row by row."""
    from datetime import date, timedelta

    from compliance.engine.columnar.typed import Typed

    close = [date(2019, 1, 1) + timedelta(days=n) for n in near]
    n = max(len(days), len(close))
    frame = pl.DataFrame({
        "id": [str(i) for i in range(n)],
        "date": pl.Series((days * n)[:n], dtype=pl.Date),
        "reported_on": pl.Series((close * n)[:n]).cast(pl.Datetime("us")).dt.replace_time_zone(zone),
        "day": (close * n)[:n],
    })  # fmt: skip
    typed = Typed.of(frame)
    assert typed is not None and len(typed.days) == 3
    batch = frame.with_row_index("__row")
    assert batch.select(typed._texts(batch)).equals(batch.select(typed.casts))


# Numbers at a selector's bound: the columnar engine screens in float, then confirms exactly.

NEAR_RULES = """
rules:
  - {id: over, kind: prohibition, citation: test, match: {quantity: {gt: 0.3}}}
  - {id: note, kind: prohibition, citation: test, match: {extra.note: {gte: "5.0000000000000001"}}}
  - {id: not-at-most, kind: prohibition, citation: test,
     match: {not: {quantity: {lte: "0.30000000000000001"}}, destination: KP}}
  - {id: cap, kind: cap, citation: test, match: {quantity: {gt: 0.3}, destination: CN},
     limit: [{amount: 1, unit: bbl}], period: {calendar: year}}
"""


def test_a_number_within_an_ulp_of_a_bound_matches_on_both_engines(tmp_path: Path) -> None:
    """`quantity: {gt: 0.3}` holds for 0.30000000000000001, which is 0.3 as a float."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(NEAR_RULES, encoding="utf-8")
    rulebook = compliance.load_rulebook(rules)
    path = tmp_path / "log.csv"
    path.write_text(
        "id,date,quantity,unit,destination,note\n"
        "a,2019-01-01,0.30000000000000001,bbl,KP,5.0000000000000001\n"
        "b,2019-01-02,0.3,bbl,KP,5\n"
        "c,2019-01-03,0.30000000000000002,bbl,KP,\n"
        + "".join(f"d{i},2019-02-0{i},0.30000000000000001,bbl,CN,\n" for i in range(1, 5)),
        encoding="utf-8",
    )
    report = _agree(str(path), rulebook)
    fired = sorted((f.rule, f.trigger) for f in report.findings if f.kind == "prohibited")
    assert fired == [("not-at-most", "c"), ("note", "a"), ("over", "a"), ("over", "c")] + [
        ("over", f"d{i}") for i in range(1, 5)
    ]
    (breach,) = [f for f in report.findings if f.kind == "cap_exceeded"]
    assert breach.trigger == "d4" and breach.measure is not None
    assert str(breach.measure.total) == "1.20000000000000004"


NUMBERS = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)


@st.composite
def near_pairs(draw: st.DrawFn) -> tuple[Decimal, Decimal]:
    """(bound, value): the value at, or within a few units of the 17th digit of, the bound."""
    bound = draw(NUMBERS)
    step = Decimal(1).scaleb(bound.adjusted() - draw(st.integers(14, 18)))
    return bound, max(Decimal(0), bound + draw(st.integers(-2, 2)) * step)


@given(st.lists(near_pairs(), min_size=1, max_size=20), st.sampled_from(["gt", "gte", "lt", "lte"]))
def test_the_polars_screen_never_misses_an_exact_match(
    pairs: list[tuple[Decimal, Decimal]], op: str
) -> None:
    from datetime import date

    from compliance.engine.columnar.expressions import FieldExprs
    from compliance.events import Shipment
    from compliance.rulebook.evaluator import compile_selector
    from compliance.rulebook.selectors import Compare, Equals, Not, Selector
    from compliance.trusted import trusted

    for bound, value in pairs:
        text = format(value, "f")
        selectors: list[Selector] = [Compare("quantity", op, bound), Equals("quantity", (bound,))]
        selectors += [Not(s) for s in selectors]
        exprs = FieldExprs(["id", "date", "quantity"], selectors)
        frame = pl.DataFrame({"id": ["a"], "date": ["2019-01-01"], "quantity": [text]})
        event = trusted(Shipment, {"id": "a", "date": date(2019, 1, 1), "quantity": Decimal(text)})
        for s in selectors:
            may = frame.select(exprs.may_match(s)).item()
            exact = compile_selector(s)(event)
            assert may or not exact, (s, text)
            if isinstance(s, Equals) or (isinstance(s, Not) and isinstance(s.item, Equals)):
                assert may == exact, (s, text)  # numeric equality is exact on clean rows
