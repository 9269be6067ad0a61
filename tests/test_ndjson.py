"""JSON Lines on the columnar engine's chunked path (`engine/columnar/ndjson.py`).

Every test compares the fast path with the Python reader's path (the same engine with
`NdjsonLog.of` switched off, which reads the file with `readers.records_from`): the
reports must be the same, rejections, lines and values included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compliance
from compliance.engine.columnar import line_index, ndjson
from compliance.engine.columnar.ndjson import NdjsonLog
from compliance.engine.columnar.plan import Fallback
from compliance.io.readers import records_from
from fast_paths import RULES, assert_indexed_without_cr, columnar_report, python_path
from profiles import examples


@pytest.fixture(scope="module")
def rulebook() -> compliance.Rulebook:
    return compliance.load_rulebook(RULES)


def _same(source: Any, rulebook: compliance.Rulebook) -> dict[str, Any]:
    fast = columnar_report(source, rulebook)
    assert fast == python_path(NdjsonLog, source, rulebook)
    for path in [source] if isinstance(source, str) else source:
        _faithful(path)
    return fast


def _faithful(path: str) -> None:
    """Every trusted row's text is what the Python reader's value gives (`str()`, or
    `repr()` of a float), and every record of a line is a row."""
    log = NdjsonLog.of(path)
    if log is None:
        return
    try:
        frame = pl.concat([log._untrusted([]), *log.batches()], how="diagonal")
    except Fallback:
        return
    records = {r.line or 0: r.data for r in records_from(path)}
    assert sorted(records) == [row + 1 for row in frame.get_column("__row").to_list()]
    for row in frame.filter(pl.col("__ok")).iter_rows(named=True):
        data = records[row.pop("__row") + 1]
        assert set(data) <= set(log.columns)
        for column in log.columns:
            value = data.get(column)
            text = (
                None if value is None else repr(value) if isinstance(value, float) else str(value)
            )
            assert row[column] == text, (column, value)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Rows the fast path decoded, chunk by chunk (proof that it ran)."""
    seen: list[int] = []
    real = NdjsonLog._decoded

    def spy(self: NdjsonLog, good: pl.DataFrame, data: bytes | None) -> pl.DataFrame:
        out = real(self, good, data)
        seen.append(int(out.get_column("__ok").sum()))
        return out

    monkeypatch.setattr(NdjsonLog, "_decoded", spy)
    yield seen


GOOD = {"id": "a", "date": "2019-06-10", "hs_code": "2710", "product": "diesel",
        "destination": "KP", "quantity": 600000, "unit": "bbl", "source": "notification"}  # fmt: skip


def _line(**fields: Any) -> str:
    return json.dumps({**GOOD, **fields}, ensure_ascii=False)


def test_bad_lines_rejected_with_their_numbers(
    tmp_path: Path, rulebook: compliance.Rulebook, decoded: list[int]
) -> None:
    lines = [
        _line(id="a"),
        "",
        "not json",
        "   ",
        '{"id": "b", "date": "2019-06-10", "id": "c"}',  # duplicate key: rejected
        _line(id="d", hs_code=2710),  # a number: the Python reader decides (accepts)
        _line(id="e", hs_code=271),  # lost its leading zero: rejected
        _line(id="f", quantity=1.5e5),  # exponent: Python reads 150000.0
        _line(id="g", quantity=2.0, note=None),  # "2.0", and a null
        _line(id="h", vessel_name='caf\u00e9 "x" \\ \n\t'),
        _line(id="i", nested={"a": [1, 2]}, flag=True),
        "[1, 2]",
        '{"id": "j", "date": "2019-06-10", "quantity": NaN, "unit": "bbl"}',
        '{"id": "k", "date": "2019-06-10", "vessel_name": "\\ud800"}',  # lone surrogate
        '{"id": "l", "date": "2019-06-10", "vessel_name": "\\ud83d\\ude00"}',  # a pair
        '{"id" : "m", "date": "2019-06-10"}',  # whitespace before the colon
        _line(id="a"),  # duplicate of line 1
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines))  # no final newline
    report = _same(str(path), rulebook)
    rejected = {r["line"]: r["reasons"] for r in report["rejected"]}
    assert set(rejected) == {3, 5, 7, 12, 13, 14}  # line 11: extras may nest
    assert rejected[5] == ["duplicate key 'id' in the JSON object"]
    assert report["accounting"]["duplicates"] == 1
    assert sum(decoded) >= 4  # the plain lines took the fast path


def test_numbers_keep_the_python_readers_text(
    tmp_path: Path, rulebook: compliance.Rulebook
) -> None:
    # 1 stays 1, 1.50 is the float 1.5, 2.0 is "2.0", 1e5 is 100000.0 (all as repr()).
    path = tmp_path / "log.jsonl"
    values = ["1", "1.50", "2.0", "1e5", "100000.000", "0.1", "123.4567", "-0.0", "0"]
    path.write_text("".join(
        f'{{"id": "q{i}", "date": "2019-06-10", "quantity": {v}, "unit": "t", "x": {v}}}\n'
        for i, v in enumerate(values)
    ))  # fmt: skip
    _same(str(path), rulebook)
    typed = compliance.evaluate(str(path), rulebook, engine="columnar")
    assert typed.accounting.read == len(values)


@settings(max_examples=examples(ci=100, thorough=200), deadline=None)
@given(st.floats(min_value=1e-4, max_value=1e16, allow_nan=False, allow_infinity=False))
def test_plain_floats_decode_as_repr(number: float) -> None:
    log = NdjsonLog("<test>", ["id", "date", "quantity"])
    literal = repr(number)
    for text in {literal, f"{number:.6f}", f"{number:.1f}", f"{number:.2f}", f"{number:.0f}"}:
        for colon in (": ", ":"):  # the general tests, and the one for ordered lines
            line = f'{{"id"{colon}"a","date"{colon}"2019-06-10","quantity"{colon}{text}}}'
            frame = log._frame(pl.Series([line]), pl.Series([0]))
            if frame.get_column("__ok").item():
                value = json.loads(text)
                want = repr(value) if isinstance(value, float) else str(value)
                assert frame.get_column("quantity").item() == want


NUMBER_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=examples(ci=100, thorough=300), deadline=None)
@given(NUMBER_TEXT)
def test_exact_numbers_are_what_the_general_tests_trust(text: str) -> None:
    # The ordered lines' number pattern takes no number the general tests would not.
    exact = pl.Series([text]).str.contains(f"^(?:{ndjson._EXACT})$").item()
    general = pl.Series([f":{text},"]).str.contains(ndjson._INEXACT).item()
    assert not (exact and general), text
    if exact:
        log = NdjsonLog("<test>", ["id", "quantity"])
        frame = log._frame(pl.Series([f'{{"id":"a","quantity":{text}}}']), pl.Series([0]))
        assert frame.get_column("__ok").item()
        value = json.loads(text)
        want = repr(value) if isinstance(value, float) else str(value)
        assert frame.get_column("quantity").item() == want


def test_key_order_is_merged_from_the_samples_lines() -> None:
    # Lines leave out different keys; the order keeps every line's (a, b, c, d, e).
    merged = ndjson._merged([["a", "c", "e"], ["a", "b", "c"], ["d", "e"], ["c", "d"]],
                            ["e", "d", "c", "b", "a"])  # fmt: skip
    assert merged == ["a", "b", "c", "d", "e"]
    # Lines that disagree (a before b, b before a): every key once all the same.
    assert sorted(ndjson._merged([["a", "b"], ["b", "a"]], ["a", "b"])) == ["a", "b"]


def test_compact_lines_in_one_order_take_the_one_test_path(
    tmp_path: Path, rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[pl.DataFrame] = []
    real = NdjsonLog._decoded

    def spy(self: NdjsonLog, good: pl.DataFrame, data: bytes | None) -> pl.DataFrame:
        seen.append(good)
        return real(self, good, data)

    monkeypatch.setattr(NdjsonLog, "_decoded", spy)

    def compact(fields: dict[str, Any]) -> str:
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)

    lines = [compact({**GOOD, "id": f"c{i}", "quantity": 2.0 + i}) for i in range(5)]
    lines.append(compact({"id": "sts", "date": "2019-06-10", "vessel_imo": "9191773"}))
    lines.append(compact({"date": "2019-06-10", "id": "swapped"}))
    lines.append(compact({**GOOD, "id": "comma", "product": "a, b} c"}))
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _same(str(path), rulebook)
    ordered = pl.concat(seen).select("__row", "__o").unique("__row").sort("__row")
    assert ordered.get_column("__o").to_list() == [True] * 6 + [False, True]


@pytest.mark.parametrize("final", ["\n", ""])
def test_rows_read_again_from_the_line_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, final: str
) -> None:
    monkeypatch.setattr(line_index, "INDEX_STEP", 3)
    monkeypatch.setattr(ndjson, "CHUNK_BYTES", 700)
    lines = [_line(id=f"r{i}", vessel_name="é" * (i % 4)) if i % 5 else "" for i in range(40)]
    lines[7] = "not json"
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + final, encoding="utf-8")
    log = NdjsonLog.of(str(path))
    assert log is not None
    frames = pl.concat(list(log.batches()), how="diagonal")
    assert len(log.chunks) > 3 and len(log.index) == len(log.chunks)
    wanted = pl.Series([0, 2, 3, 7, 8, 21, 22, 38, 39])
    expected = {r.line: r for r in records_from(str(path))}
    got = list(log.records(wanted))
    assert got == [expected[row + 1] for row in wanted.to_list() if row + 1 in expected]
    again = log.rows(wanted).sort("__row")
    first = frames.filter(pl.col("__row").is_in(wanted.implode())).drop("__c").sort("__row")
    assert again.equals(first)


# Hostile lines: every kind the Python reader rejects or reads differently.
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "\x0c",
        "{}",
        "[]",
        "null",
        "1",
        '"x"',
        "{",
        "}",
        '{"id": "a"',
        "not json",
        '{"id": "z", "date": "2019-06-10", "id": "y"}',
        '{"id": "z", "date": "2019-06-10", "id": null}',
        '{"id": null, "date": "2019-06-10"}',
        '{"id": "z", "date": "2019-06-10", "quantity": NaN, "unit": "t"}',
        '{"id": "z", "date": "2019-06-10", "quantity": Infinity, "unit": "t"}',
        '{"id": "z", "date": "2019-06-10", "quantity": 1e400, "unit": "t"}',
        '{"id": "z", "date": "2019-06-10", "quantity": true, "unit": "t"}',
        '{"id": "z", "date": "2019-06-10", "quantity": [1], "unit": "t"}',
        '{"id": "z", "date": "2019-06-10", "hs_code": 2710.19}',
        '{"id": "z", "date": "2019-06-10", "hs_code": 901}',
        '{"id": "z", "date": "2019-06-10", "vessel_name": "\\ud800"}',
        '{"id": "z", "date": "2019-06-10", "vessel_name": "\\x"}',
        '{"id": "z", "date": "2019-06-10", "vessel_name": "a\tb"}',
        '{"id": "z", "date": "2019-06-10", "Destination": "KP"}',
        '{"id": "z", "date": "2019-06-10", "__row": "1"}',
        '{"id": "z", "date": "2019-06-10", " destination": "KP"}',
        '{"id": "z", "date": "2019-06-10", "desti\\u006eation": "KP"}',
        '{"id": "z", "date": "2019-06-10", "quantity": 01, "unit": "t"}',
        '{"id": "z", "date": "2019-06-10",}',
        '{"id": "z", "date": "2019-06-10"} x',
        '{"id": "z", "date": "2019-06-10", "note": "a\\":1, \\"b"}',
        '{"id": "z", "date": "2019-06-10", "note": ": null,", "note": "x"}',
        '\ufeff{"id": "z", "date": "2019-06-10"}',
    ]
)
TEXT = st.one_of(
    st.sampled_from(["a", "b", "KP", "kp", "CN", "2710", "271019", "2710.19", "diesel",
                     "9191773", "2019-06-10", "2019-13-01", " a", "a ", "", "bbl", "t",
                     "notification", "é", "\u00a0", "1,000", "1.50"]),
    st.text(max_size=6),
)  # fmt: skip
NUMBER = st.one_of(
    st.integers(-5, 10**7).map(str),
    st.sampled_from(["2.0", "0.5", "1.50", "1e3", "1E-5", "0.00001", "600000.0", "-0",
                     "12345678901234567", "9007199254740993.5", "3.14159265358979"]),
    st.floats(0, 1e7, allow_nan=False).map(repr),
)  # fmt: skip
KEYS = ["id", "date", "hs_code", "product", "destination", "quantity", "unit", "source",
        "vessel_imo", "supersedes", "note"]  # fmt: skip


@st.composite
def record_lines(draw: st.DrawFn) -> str:
    fields: dict[str, Any] = {"id": draw(st.sampled_from(["a", "b", "c", "d", "e"]))}
    fields["date"] = "2019-06-10"
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=6)):
        fields[key] = draw(st.one_of(TEXT, NUMBER.map(lambda n: ("num", n)), st.none()))
    parts = []
    colon = draw(st.sampled_from([":", ": "]))  # compact lines take the one-test path
    for key, value in fields.items():
        if isinstance(value, tuple):
            parts.append(f'"{key}"{colon}{value[1]}')
        else:
            parts.append(
                f"{json.dumps(key)}{colon}{json.dumps(value, ensure_ascii=draw(st.booleans()))}"
            )
    if draw(st.integers(0, 4)) == 0:  # a key written twice: the Python reader rejects it
        key = draw(st.sampled_from(list(fields)))
        parts.append(f'"{key}": {json.dumps(draw(TEXT))}')
    separator = draw(st.sampled_from([",", ",", ", ", " , "]))
    return "{" + separator.join(parts) + "}"


LINES = st.lists(st.one_of(record_lines(), HOSTILE), min_size=1, max_size=12)


@settings(max_examples=examples(ci=30, thorough=60), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(lines=LINES, ending=st.sampled_from(["\n", "\r\n"]), final=st.booleans(),
       chunk=st.sampled_from([1, 64, 1 << 20]))  # fmt: skip
def test_random_logs_give_the_python_readers_report(
    tmp_path: Path, rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch,
    lines: list[str], ending: str, final: bool, chunk: int,
) -> None:  # fmt: skip
    monkeypatch.setattr(ndjson, "CHUNK_BYTES", chunk)
    path = tmp_path / "log.jsonl"
    body = ending.join(lines) + (ending if final else "")
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    _same(str(path), rulebook)


def test_undecodable_bytes_and_lone_carriage_returns(
    tmp_path: Path, rulebook: compliance.Rulebook
) -> None:
    good = _line(id="a").encode()
    path = tmp_path / "log.jsonl"
    path.write_bytes(good + b"\n" + b'{"id": "b\xff", "date": "2019-06-10"}\n' + good + b"\n")
    report = _same(str(path), rulebook)
    assert [r["line"] for r in report["rejected"]] == [2]
    path.write_bytes(good + b"\r" + good + b"\n")  # a lone CR ends a line in Python
    _same(str(path), rulebook)
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n\xef\xbb\xbf" + good + b"\n")  # BOMs
    assert [r["line"] for r in _same(str(path), rulebook)["rejected"]] == [2]


def test_a_byte_order_mark_starting_a_chunk_is_rejected(
    tmp_path: Path, rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polars drops a BOM that starts what it reads; in the middle of a file it starts a
    # line, which the Python reader rejects (found by test_random_logs_…).
    monkeypatch.setattr(ndjson, "CHUNK_BYTES", 1)  # a chunk per line
    good = _line(id="a").encode()
    path = tmp_path / "log.jsonl"
    path.write_bytes(good + b"\n\xef\xbb\xbf" + _line(id="b").encode() + b"\n" + good)
    assert [r["line"] for r in _same(str(path), rulebook)["rejected"]] == [2]
    # Its chunk is read by Python, so it has no line index; the others have one (the
    # check of every chunk's index did not know this: found by the thorough profile).
    log = NdjsonLog.of(str(path))
    assert log is not None
    list(log.batches())
    assert [c.first in log.index for c in log.chunks] == [True, False, True]


@pytest.mark.parametrize("chunk", [1, 100, 1 << 20])
def test_split_files_and_order_give_the_same_findings(
    tmp_path: Path, rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(ndjson, "CHUNK_BYTES", chunk)
    lines = [_line(id=f"s{i}", quantity=300000 + i) for i in range(4)]
    lines += [_line(id="s1", quantity=300001), _line(id="t", supersedes="s0", quantity=1.5)]
    lines += ['{"id": "u", "date": "2019-06-10", "id": "v"}', ""]
    one = tmp_path / "one.jsonl"
    one.write_text("\n".join(lines) + "\n")
    whole = _same(str(one), rulebook)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("\n".join(lines[4:]) + "\n")
    second.write_text("\n".join(lines[:4]) + "\n")
    split = _same([str(first), str(second)], rulebook)
    assert split["findings"] == whole["findings"]
    assert split["accounting"] == whole["accounting"]
    backwards = tmp_path / "backwards.jsonl"
    backwards.write_text("\n".join(reversed(lines)) + "\n")
    assert _same(str(backwards), rulebook)["findings"] == whole["findings"]


def test_keys_first_seen_late_take_the_python_reader(
    tmp_path: Path, rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndjson, "SAMPLE_BYTES", 200)
    lines = [_line(id=f"r{i}") for i in range(5)] + [_line(id="late", vessel_imo="9191773")]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = _same(str(path), rulebook)
    assert report["accounting"]["read"] == 6


def test_decimal_values_are_the_python_readers(tmp_path: Path) -> None:
    # A cap over the quantity: the exact amount, as the Python reader read it, is reported.
    path = tmp_path / "log.jsonl"
    path.write_text(_line(id="a", quantity=600000.25) + "\n")
    report = compliance.evaluate(str(path), compliance.load_rulebook(RULES), engine="columnar")
    assert "600000.25" in json.dumps(report.to_dict(), default=str)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(lines=st.lists(st.tuples(st.one_of(record_lines(), HOSTILE),
                                st.sampled_from(["\n", "\n", "\r\n"])), min_size=1, max_size=30),
       final=st.booleans(), cut=st.integers(1, 1500), step=st.integers(1, 5),
       picks=st.data())  # fmt: skip
def test_rows_read_from_the_line_index_are_those_of_the_whole_chunk(
    tmp_path: Path, lines: list[tuple[str, str]], final: bool, cut: int, step: int,
    picks: st.DataObject,
) -> None:  # fmt: skip
    # Chunks cut anywhere, blocks of `step` lines, blank and hostile lines, CRLF chunks
    # (no index): rows and records read again from the blocks are the whole chunk's.
    body = "".join(text + end for text, end in lines)
    if not final:
        body = body.removesuffix("\n").removesuffix("\r")
    path = tmp_path / "log.jsonl"
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ndjson, "CHUNK_BYTES", cut)
        patch.setattr(line_index, "INDEX_STEP", step)
        log = NdjsonLog.of(str(path))
        assert log is not None
        try:
            frames = pl.concat([log._untrusted([]), *log.batches()], how="diagonal")
        except Fallback:
            return  # a lone carriage return: the Python reader reads the log
    assert_indexed_without_cr(log.chunks, log.index, path.read_bytes())
    count = sum(c.lines for c in log.chunks)
    if not count:
        return
    wanted = pl.Series(sorted(picks.draw(st.sets(st.integers(0, count - 1), min_size=1))))
    got_rows, got_records = log.rows(wanted), list(log.records(wanted))
    log.index.clear()  # every chunk read whole
    assert got_rows.equals(log.rows(wanted))
    assert got_records == list(log.records(wanted))
    expected = {r.line: r for r in records_from(str(path))}
    assert got_records == [expected[w + 1] for w in wanted.to_list() if w + 1 in expected]
    first = frames.filter(pl.col("__row").is_in(wanted.implode())).drop("__c")
    assert got_rows.filter(pl.col("__ok")).equals(first.filter(pl.col("__ok")))
