"""The line screen of JSON Lines (`clean_lines.json_line_screen`): a line it proves clean
is one the Python reader reads alike and accepts, and a chunk screened through it
(`Screen.run_lines`) is screened as in full."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl
from hypothesis import event, given, settings
from hypothesis import strategies as st

from compliance.engine.columnar.clean_lines import json_reads
from compliance.engine.columnar.csv_chunks import Chunk
from compliance.engine.columnar.expressions import FieldExprs
from compliance.engine.columnar.ndjson import NdjsonLog
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import Screen
from compliance.events import Shipment, parse_shipment
from compliance.io.readers import jsonl_record, readable
from compliance.rulebook.load import load_rulebook
from profiles import examples
from test_clean_lines import _BAD, _EDGES, _GOOD, _KIND, HEADER

PLAN = Plan(load_rulebook())
LOG = NdjsonLog("unused.jsonl", HEADER)  # the key order: HEADER's
EXPRS = FieldExprs(HEADER, PLAN.conditions, PLAN.group_by)
SCREEN = Screen(EXPRS, PLAN, every_row=True, ndjson=LOG.order)

# Values JSON writes otherwise than CSV: numbers of every spelling, escapes, colons.
_NUMBERS = ["1", "0", "1.5", "2.0", "0.0", "0.001", "0.00001", "1e5", "-1", "150.00",
            "999999999999999", "1000000000000000", "3900.10", "0.0001", "0.00010"]  # fmt: skip
_HOSTILE = ['a\\"b', "a\\u00e9", "a:1.0,", "a\\\\", "x\\ny", "\\ud800", "a:b"]


def _value(column: str) -> st.SearchStrategy[str]:
    """A JSON value's text: mostly a good string, now and then a bad one, one with an
    edge character, an escape, or a number."""
    kind = _KIND.get(column, column)
    good = st.sampled_from(_GOOD[kind]).map(json.dumps)
    edged = st.tuples(st.sampled_from(_EDGES), st.sampled_from(_GOOD[kind]),
                      st.sampled_from(_EDGES)).map(lambda t: json.dumps("".join(t)))  # fmt: skip
    raw = st.sampled_from(_HOSTILE).map(lambda s: f'"{s}"')
    bad = st.one_of(st.sampled_from(_BAD[kind]).map(json.dumps), edged, raw,
                    st.sampled_from(_NUMBERS), st.just("null"), st.just('""'),
                    st.sampled_from(_GOOD[kind]).map(lambda s: json.dumps(s, ensure_ascii=False)))  # fmt: skip
    number = st.sampled_from(_NUMBERS)
    if kind == "quantity":
        good = st.one_of(good, number)
    return st.integers(0, 79).flatmap(lambda k: bad if k == 0 else good)


_USUAL = {"id", "date", "hs_code", "quantity", "unit", "value", "currency", "origin", "destination"}
_RARE = {"supersedes", "quantity_min"}


def _pair(column: str) -> st.SearchStrategy[str | None]:
    share = 19 if column in _USUAL else 1 if column in _RARE else 6
    pair = _value(column).map(lambda v: f'"{column}":{v}')
    return st.integers(0, 19).flatmap(lambda k: pair if k < share else st.none())


@st.composite
def _line(draw: st.DrawFn, order: list[str] = HEADER) -> str:
    """An object of some of HEADER's keys, mostly compact and in `order`; now and then a
    key out of order or twice, a space, or a key that is no column."""
    pairs = [p for p in draw(st.tuples(*(_pair(c) for c in order))) if p is not None]
    twist = draw(st.integers(0, 19))
    if twist == 0 and len(pairs) > 1:
        pairs[0], pairs[-1] = pairs[-1], pairs[0]
    elif twist == 1 and pairs:
        pairs.append(pairs[0])
    elif twist == 2 and pairs:
        pairs[-1] = pairs[-1].replace(":", ": ", 1)
    elif twist == 3:
        pairs.append('"other":"x"')
    return "{" + ",".join(pairs) + "}" + draw(st.sampled_from(["", "", " "]))


def _proved(lines: list[str]) -> pl.DataFrame:
    return SCREEN.line_frame(pl.Series(lines, dtype=pl.String), 0)


def _check_proved(lines: list[str], log: NdjsonLog, screen: Screen) -> None:
    """Every line the screen proves is read by the Python reader without a problem, its
    projected columns are the `str()` of the reader's values, `parse_shipment` accepts
    it, and the full path trusts it and finds it clean and wanted by no rule."""
    assert screen.lines is not None
    frame = screen.line_frame(pl.Series(lines, dtype=pl.String), 0)
    event(f"some line proved: {frame.get_column('__proved').any()}")
    full = log._frame(pl.Series(lines, dtype=pl.String), pl.Series(range(len(lines))))
    for row in frame.filter(pl.col("__proved")).iter_rows(named=True):
        line = row["__line"]
        record = jsonl_record(line + "\n", "x.jsonl", 1)
        assert record is not None and not record.problems, line
        data: Mapping[str, Any] = readable(record).data
        for column in screen.lines.projected:  # read from the text as the reader's value
            value = data.get(column)
            assert row[column] == (None if value is None else str(value)), (line, column)
        assert isinstance(parse_shipment(dict(data)), Shipment), line
        decoded = full.filter(pl.col("__row") == row["__row"])
        assert decoded.get_column("__ok").item(), line
        keys, candidates, records, _ = screen.run(
            decoded.with_columns(pl.lit(0, pl.UInt64).alias("__c"))
        )
        assert (keys.height, candidates.height, records) == (1, 0, 1), line


@given(st.lists(_line(), min_size=1, max_size=20))
@settings(max_examples=examples(ci=30, thorough=50), deadline=None)
def test_a_proved_line_is_one_the_python_reader_reads_alike_and_accepts(lines: list[str]) -> None:
    _check_proved(lines, LOG, SCREEN)


# Logs whose lines start otherwise: date before id (the leading keys read by one
# anchored pattern in that order), and another key first (id and date searched for); and
# one whose unit comes last, apart from its quantity (the pair doubles the alternatives
# of the whole line rather than being one group).
_APART = [*(c for c in HEADER if c != "unit"), "unit"]
_ORDERS = [["date", "id", *HEADER[2:]], ["source", *(c for c in HEADER if c != "source")],
           _APART]  # fmt: skip
# Each screen its own FieldExprs: a screen materialises its normalised columns in them.
_SCREENS = [(NdjsonLog("unused.jsonl", HEADER, order),
             Screen(FieldExprs(HEADER, PLAN.conditions, PLAN.group_by), PLAN, every_row=True,
                    ndjson=order)) for order in _ORDERS]  # fmt: skip


@given(
    st.sampled_from(range(len(_ORDERS))).flatmap(
        lambda i: st.tuples(st.just(i), st.lists(_line(_ORDERS[i]), min_size=1, max_size=20))
    )
)
@settings(max_examples=30, deadline=None)
def test_a_proved_line_of_another_key_order_is_one_the_python_reader_reads_alike(
    drawn: tuple[int, list[str]],
) -> None:  # fmt: skip
    index, lines = drawn
    _check_proved(lines, *_SCREENS[index])


def test_the_leading_id_and_date_are_read_by_one_anchored_pattern() -> None:
    projected = ["id", "date", "reported_on", "vessel_imo"]
    reads = json_reads(projected, ["id", "date", "hs_code", "vessel_imo", "reported_on"])
    assert (reads.leading, [c for _, c in reads.others]) == (("id", "date"), projected[2:])
    assert json_reads(projected, ["date", "id", "hs_code"]).leading == ("date", "id")
    assert json_reads(projected, ["id", "hs_code", "date"]).leading == ("id",)
    later = json_reads(projected, ["hs_code", "id", "date"])
    assert later.lead is None and [c for _, c in later.others] == projected
    # A line whose first key is not the log's first key is never proved, so the
    # anchored pattern reads only what a proved line holds; the others are found by
    # their keys' text wherever they are.
    line = pl.Series(['{"id":"S1","date":"2021-03-04","vessel_imo":"9999999"}',
                      '{"id":"S2","date":"2021-03-05"}'])  # fmt: skip
    frame = SCREEN.line_frame(line, 0)
    assert frame.select("id", "date", "vessel_imo", "reported_on").rows() == [
        ("S1", "2021-03-04", "9999999", None), ("S2", "2021-03-05", None, None)]  # fmt: skip


def _outcome(data: bytes, chunk: Chunk, lines: bool) -> object:
    """A chunk's screen (through its lines, or its full frame) as comparable values."""
    try:
        if lines:
            keys, candidates, records, latest = LOG._screened(SCREEN, chunk, data)[0]
        else:
            keys, candidates, records, latest = SCREEN.run(LOG._chunk_frame(chunk, data))
    except Fallback:
        return Fallback
    return (keys.sort("__row").rows(), candidates.sort("__row").rows(), records, latest)


@given(st.lists(st.one_of(_line(), st.sampled_from(["", " ", "not json", "[1]"])), min_size=1,
                max_size=30), st.booleans())  # fmt: skip
@settings(max_examples=examples(ci=30, thorough=40), deadline=None)
def test_a_chunk_screened_by_its_lines_is_screened_as_in_full(
    lines: list[str], final: bool
) -> None:
    data = ("\n".join(lines) + ("\n" if final else "")).encode()
    count = data.count(b"\n") + (not data.endswith(b"\n"))
    chunk = Chunk(0, len(data), 7, count)
    assert _outcome(data, chunk, True) == _outcome(data, chunk, False)


GOOD = ('{"id":"S1","date":"2021-03-04","hs_code":"2710.19","commodity":"gas oil",'
        '"quantity":10.5,"unit":"t","value":100,"currency":"USD","origin":"CN",'
        '"destination":"US","transfer":"port","source":"customs"}')  # fmt: skip


def test_a_compact_clean_line_is_proved_and_doubtful_ones_are_not() -> None:
    doubtful = [
        GOOD.replace("2021-03-04", "2021-02-29"),  # no such day
        GOOD.replace(',"unit":"t"', ""),  # a pair broken
        GOOD.replace('"US"', '"KP"'),  # a rule may match
        GOOD.replace('"port"', '"ship_to_ship"'),  # so may this one
        GOOD.replace('"transfer"', '"vessel_imo":"8018900","transfer"'),  # designated
        GOOD.replace("gas oil", " gas oil"),  # edge whitespace
        GOOD.replace("gas oil", "gas\\u0020oil"),  # an escape: left to the exact path
        GOOD.replace("gas oil", "gas: oil"),  # a colon
        GOOD.replace("10.5", "1e1"),  # an exponent
        GOOD.replace("10.5", "0.0"),  # zero as a float
        GOOD.replace('"hs_code":"2710.19"', '"hs_code":271019'),  # an HS code as a number
        GOOD.replace('"source":"customs"', '"source":"customs","supersedes":"S0"'),
        GOOD.replace('"origin"', '"origin" '),  # not compact
        GOOD.replace('"origin":"CN",', "") + " ",  # trailing space
        GOOD.replace('"id":"S1",', "") .replace("{", '{"id":"S1",', 1).replace(
            '"date":"2021-03-04",', "").replace('"commodity"', '"date":"2021-03-04","commodity"'),
        GOOD.replace("}", ',"id":"S2"}'),  # a key twice
    ]  # fmt: skip
    frame = _proved([GOOD, GOOD.replace("10.5", "2.0"), *doubtful])
    assert frame.get_column("__proved").to_list() == [True, True] + [False] * len(doubtful)
    assert frame.row(0, named=True)["id"] == "S1"


def test_both_of_a_pair_or_neither_is_proved_whether_its_keys_are_next_or_apart() -> None:
    # GOOD writes quantity then unit, value then currency; _APART's lines write the
    # unit last. Either way a line with both of a pair, or neither, is proved, and a
    # line with one of them is not.
    unit = ',"unit":"t"'
    apart = GOOD.replace(unit, "").replace("}", unit + "}")
    for line, screen in ((GOOD, SCREEN), (apart, _SCREENS[2][1])):
        assert screen.lines is not None
        alternatives = screen.lines.pattern.count('"id":')
        assert alternatives == (1 if line is GOOD else 2)
        without = [
            line.replace(',"quantity":10.5', "").replace(unit, ""),  # neither
            line.replace(',"value":100,"currency":"USD"', ""),  # neither of the other
            line.replace(',"quantity":10.5', "").replace(unit, "").replace(
                ',"value":100,"currency":"USD"', ""),  # neither of both
        ]  # fmt: skip
        broken = [line.replace(unit, ""), line.replace(',"quantity":10.5', ""),
                  line.replace(',"currency":"USD"', ""), line.replace(',"value":100', "")]  # fmt: skip
        frame = screen.line_frame(pl.Series([line, *without, *broken]), 0)
        assert frame.get_column("__proved").to_list() == [True] * 4 + [False] * 4, line
