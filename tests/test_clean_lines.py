"""The line screen (`clean_lines`): a line it proves clean is a row the Python reader
reads alike and accepts, and the scan of a chunk through it is the full screen's."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from compliance.engine.columnar.csv_chunks import Chunk, chunk_frame, parse_chunk, parse_columns
from compliance.engine.columnar.expressions import FieldExprs
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import HASH_SEED, Screen
from compliance.events import Shipment, parse_shipment
from compliance.rulebook.load import load_rulebook
from profiles import examples

HEADER = [
    "id", "date", "hs_code", "commodity", "product", "quantity", "unit", "value", "currency",
    "origin", "destination", "supplier", "vessel_imo", "counterparty_imo", "vessel_name",
    "vessel_flag", "counterparty_flag", "transfer", "reported_on", "source", "supersedes",
    "provider", "contract_date", "quantity_min", "purpose", "note",
]  # fmt: skip
PLAN = Plan(load_rulebook())

# Per field, values the screen passes and spellings it must not (or must send to the
# exact path): edge whitespace of every kind, case, impossible dates, leap days, amounts
# Decimal writes otherwise, codes off their lists, bad check digits, names to normalise.
_EDGES = ["", " ", "\t", "\xa0", "\u2003", "\x1c", "\x00", "\ufeff"]
_GOOD: dict[str, list[str]] = {
    "id": ["S1", "A-2", "x y", "S,1", "é"],
    "date": ["2021-03-04", "2020-02-29", "2000-02-29", "1900-01-01", "2999-12-31", "2018-06-30"],
    "hs_code": ["2710.19", "271019", "27", "0901.11", "8901.10.90", "2709", "271019.1"],
    "quantity": ["1", "0", "1.50", "999999999999999.5", "0.001", "3900.0"],
    "unit": ["t", "T", "kg", "KG", "bbl", "Bbl", "l"],
    "currency": ["USD", "usd", "EUR"],
    "country": ["KP", "kp", "US", "us", "CN", "DE", "fr", "IN", "JP", "SG", "NL", "Br"],
    "imo": ["9314650", "1234567", "9074729", "1234567", "9074729"],
    "vessel_name": ["KUM UN SAN 3", "min ning-de you 078", "X", "Y Z", "A-1", "B 2"],
    "transfer": ["port", "ship_to_ship", "road", "rail", "air", "pipeline"],
    "product": ["diesel", "Diesel", "jet fuel", "crude"],
    "source": ["customs", "notification", "c us"],
    "provider": ["EU", "EU;GB"],
    "purpose": ["civil", "1.5", "military"],
    "note": ["anything", '"quoted"', "a,b", "é"],
    "commodity": ["coffee, not roasted", "cars", "gas oil"],
}
_BAD: dict[str, list[str]] = {
    "id": ['S"1', "S\x001"],
    "date": ["2021-02-29", "1900-02-29", "1899-12-31", "3000-01-01", "2021-13-01",
             "2021-04-31", "21-03-04", "2021-3-04"],
    "hs_code": ["2", "2710.", ".2710", "27101912345", "2710,19", "27 10"],
    "quantity": ["0.0", "01", "1e5", "-1", "1,000", "1000000000000000", ".", "1.", "+1"],
    "unit": ["x", "tonnes"],
    "currency": ["XXX", "US$"],
    "country": ["ZZ", "K P", "\u212aP", "KPK"],
    "imo": ["9314651", "123456", "93146500", "931465a", "\uff19314650"],
    "vessel_name": [" X", "X\t"],
    "transfer": ["Port", "ship to ship"],
    "product": ["é", "a,b", 'a"b'],
    "source": ["é", "a,b"],
    "provider": ["eu", "XX", "EU;"],
    "purpose": ["1e5", "inf", "1_0", "NaN"],
    "note": ['a"b'],
    "commodity": ['say "hi"'],
}  # fmt: skip
_KIND = {c: "country" for c in ("origin", "destination", "supplier", "vessel_flag",
                                "counterparty_flag")}  # fmt: skip
_KIND.update(vessel_imo="imo", counterparty_imo="imo", reported_on="date",
             contract_date="date", value="quantity", supersedes="id", quantity_min="quantity")  # fmt: skip


def _value(column: str) -> st.SearchStrategy[str]:
    """Mostly a good value (most rows are clean), now and then a bad one, a good one
    with an edge character, or a few characters that matter to the grammar."""
    kind = _KIND.get(column, column)
    good = st.sampled_from(_GOOD[kind])
    edged = st.tuples(st.sampled_from(_EDGES), good, st.sampled_from(_EDGES)).map("".join)
    bad = st.one_of(st.sampled_from(_BAD[kind]), edged, st.text(alphabet='aK ,"\t.0-1', max_size=4))
    return st.integers(0, 49).flatmap(lambda k: bad if k == 0 else good)


def _field(value: str, how: str) -> str:
    """A field written bare, quoted as a writer quotes, or quoted whatever it holds."""
    if how == "bare":
        return value
    if how == "writer":
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow([value])
        return out.getvalue() if value else ""
    return '"' + value.replace('"', '""') + '"'


# A row: mostly empty optional fields (as in real logs), each field written some way.
_HOW = st.sampled_from(["writer"] * 6 + ["bare", "quoted"])
_USUAL = {"id", "date", "hs_code", "quantity", "unit", "value", "currency", "origin", "destination"}
_RARE = {"supersedes", "quantity_min"}  # a row with one is never proved


def _written(column: str) -> st.SearchStrategy[tuple[str, str]]:
    """A field's value and how it is written: usual fields nearly always present, rare
    ones nearly always empty, others half the time."""
    present = st.tuples(_value(column), _HOW)
    empty = st.just(("", "bare"))
    share = 19 if column in _USUAL else 1 if column in _RARE else 10
    return st.integers(0, 19).flatmap(lambda k: present if k < share else empty)


def _row(header: list[str]) -> st.SearchStrategy[str]:
    return st.tuples(*(_written(c) for c in header)).map(
        lambda fields: ",".join(_field(v, how) for v, how in fields)
    )


_ROW = _row(HEADER)
# The same columns, id and date not first: their values come from a parse of the
# chunk, not from the line's text (`LineScreen.leading`).
OTHER = [*HEADER[2:12], "date", *HEADER[12:20], "id", *HEADER[20:]]


def _screen(header: list[str]) -> Screen:
    exprs = FieldExprs(header, PLAN.conditions, PLAN.group_by, empty_is_null=True)
    return Screen(exprs, PLAN, csv=True)


SCREEN = _screen(HEADER)
SCREEN.prove_from = 0  # every line the plain pattern leaves is proved by its columns
_OTHER = _screen(OTHER)  # the lines it leaves take the exact path (under prove_from)
SCREENS = {"leading": (HEADER, SCREEN, _ROW), "other": (OTHER, _OTHER, _row(OTHER))}


def _proved(lines: list[str], how: str = "leading") -> list[bool]:
    """Which lines the line screen proves (clean, wanted by no rule)."""
    header, screen, _ = SCREENS[how]
    assert screen.lines is not None
    data = "".join(line + "\n" for line in lines).encode()
    frame = parse_columns(data, header, list(screen.lines.projected))
    frame = frame.with_columns(pl.Series("__line", lines))
    return frame.select(screen.proved_lines(frame)).to_series().to_list()


def _plain(lines: list[str], how: str = "leading") -> list[bool]:
    """Which lines the line screen's plain pattern proves."""
    _, screen, _ = SCREENS[how]
    assert screen.lines is not None and screen.lines.plain is not None
    return pl.Series(lines).str.contains(screen.lines.plain).to_list()


@pytest.mark.parametrize("how", sorted(SCREENS))
@given(data=st.data())
@settings(max_examples=examples(ci=30, thorough=60))
def test_a_proved_line_is_a_row_the_python_reader_reads_alike_and_accepts(
    how: str, data: st.DataObject
) -> None:
    header, screen, row = SCREENS[how]
    lines = data.draw(st.lists(row, min_size=1, max_size=20))
    exprs = FieldExprs(header, PLAN.conditions, PLAN.group_by, empty_is_null=True)
    try:
        proof = _proved(lines, how)
    except Fallback:
        return  # a line the projected parse refuses: the chunk takes the Python path
    plain = _plain(lines, how)
    event(f"proved {sum(proof) * 4 // len(lines)}/4 of the lines or more")
    event(f"plain {sum(plain) * 4 // len(lines)}/4 of the lines or more")
    may_match = pl.any_horizontal([exprs.may_match(c) for c in PLAN.conditions])
    for line, proved, is_plain in zip(lines, proof, plain, strict=True):
        assert proved or not is_plain, line  # a plain line is proved
        if not proved:
            continue
        rows = list(csv.reader(io.StringIO(line + "\n")))
        assert len(rows) == 1 and len(rows[0]) == len(header), line
        frame = parse_chunk((line + "\n").encode(), header)
        assert frame.height == 1
        assert frame.row(0) == tuple(v or None for v in rows[0]), line
        assert frame.select(exprs.clean()).item(), line
        assert not frame.select(may_match).item(), line  # wanted by no rule
        assert isinstance(parse_shipment(dict(zip(header, rows[0], strict=True))), Shipment)
        if is_plain and screen.lines is not None and screen.lines.leading:
            # Its id and date are the text before the first comma and the ten after.
            ident, rest = line.split(",", 1)
            assert (ident, rest[:10]) == (rows[0][0], rows[0][1]), line


def _outcome(screen: Screen, data: bytes, chunk: Chunk, header: list[str] = HEADER) -> object:
    """A chunk's screen as comparable values, or Fallback."""
    try:
        keys, candidates, records, latest = screen.run_csv(data, chunk, header)[0]
    except Fallback:
        return Fallback
    return (
        keys.sort("__row").rows(),
        candidates.sort("__row").rows(),
        records,
        latest,
    )


def _full(data: bytes, chunk: Chunk, padded: bool = False, how: str = "leading") -> object:
    """The full screen of a chunk. `padded`: read behind a line of the header's width,
    as the line screen reads the lines it leaves in doubt (Polars refuses a first line
    of fewer fields, which it reads later on)."""
    header, screen, _ = SCREENS[how]
    try:
        if padded:
            data = b"," * (len(header) - 1) + b"\n" + data
            chunk = Chunk(0, len(data), chunk.first - 1, chunk.lines + 1)
        frame = chunk_frame(data, chunk, header).slice(1 if padded else 0)
        keys, candidates, records, latest = screen.run(frame)
    except Fallback:
        return Fallback
    return (keys.sort("__row").rows(), candidates.sort("__row").rows(), records, latest)


@pytest.mark.parametrize("how", sorted(SCREENS))
@given(data=st.data(), end=st.sampled_from(["\n", "\r\n"]))
@settings(max_examples=examples(ci=30, thorough=50))
def test_a_chunk_screened_by_its_lines_is_screened_as_in_full(
    how: str, data: st.DataObject, end: str
) -> None:
    header, screen, row = SCREENS[how]
    odd = st.sampled_from(["", " , ", "S9,2021-01-01"])
    lines = data.draw(st.lists(st.one_of(row, odd), min_size=1, max_size=30))
    text = "".join(line + end for line in lines).encode()
    chunk = Chunk(0, len(text), 7, len(lines))
    outcome = _outcome(screen, text, chunk, header)
    if outcome is Fallback:  # only where the full screen takes the Python path too
        assert _full(text, chunk, how=how) is Fallback
    else:
        assert outcome == _full(text, chunk, padded=True, how=how)


def test_ids_a_plain_line_cannot_show_by_its_text_come_from_a_parse() -> None:
    # Plain: no vessel, reporting date, provider (a pattern of events.SCREENS) or
    # purpose (compared as a number): those are checked as columns.
    clean = "S1,2021-03-04,2710.19,gas oil,diesel,10,t,100,USD,CN,US,CN,,,,,,port,,customs,"
    clean += ",,,,,note"
    lines = [clean, clean.replace("S1,", "é1,"), clean.replace("S1,", '"S1",'),
             clean.replace("S1,", '"S,1",'), clean.replace("2021-03-04", '"2021-03-04"'),
             clean.replace(",,,,,,port,,", ",9074729,,,,,port,2021-04-01,")]  # fmt: skip
    assert _plain(lines) == [True] + [False] * 5
    assert _proved(lines) == [True] * 6
    text = "".join(line + "\n" for line in lines).encode()
    chunk = Chunk(0, len(text), 0, len(lines))
    assert _outcome(SCREEN, text, chunk) == _full(text, chunk)
    keys = SCREEN.run_csv(text, chunk, HEADER)[0][0]
    ids = pl.Series(["S1", "é1", "S1", "S,1", "S1", "S1"]).hash(HASH_SEED)
    assert keys.get_column("__h").to_list() == ids.to_list()


def test_a_line_of_clean_fields_is_proved_and_doubtful_ones_are_not() -> None:
    clean = "S1,2021-03-04,2710.19,gas oil,diesel,10,t,100,USD,CN,US,CN,,,,,,port,,customs,"
    clean += ",EU,,,civil,note"
    assert _proved([clean]) == [True]
    doubtful = [
        clean.replace("2021-03-04", "2021-02-29"),  # no such day
        clean.replace("2021-03-04", "2020-02-29").replace(",10,t,", ",10,,"),  # a pair broken
        clean.replace(",US,", ",KP,"),  # a rule may match
        clean.replace(",US,", ',"KP",'),  # quoted, it still may
        clean.replace(",CN,,", ",CN,8018900,"),  # a designated vessel
        clean.replace(",,port,", ",min ning de you 078,port,"),  # a designated name
        clean.replace("gas oil", " gas oil"),  # edge whitespace
        clean.replace(",civil,", ",1.5,"),  # a numeric extra: checked as a column, clean
        clean.replace(",customs,", ",customs,S0"),  # a correction
        clean.replace(",,,civil", ",,5,civil"),  # a range bound
        clean.replace("note", "n" * 5000),  # longer than any field may be
        clean + ",",  # a field too many
    ]
    assert _proved(doubtful) == [False] * 7 + [True] + [False] * 4
    assert _proved([clean.replace("2021-03-04", "2020-02-29")]) == [True]  # a leap day


@pytest.mark.parametrize("first", [0, 1000])
def test_keys_and_candidates_come_in_row_order(first: int) -> None:
    lines = [f"S{i},2021-03-04,2710.19,gas oil,,10,t,,,,US,,,,,,,port,,customs,,,,,,"
             for i in range(50)]  # fmt: skip
    lines[7] = lines[7].replace(",US,", ",KP,")
    lines[9] = lines[9].replace(",customs,", ",customs,S3")
    data = "".join(line + "\n" for line in lines).encode()
    (keys, candidates, records, latest), height = SCREEN.run_csv(
        data, Chunk(0, len(data), first, 50), HEADER
    )
    assert keys.get_column("__row").to_list() == list(range(first, first + 50))
    assert candidates.get_column("__row").to_list() == [first + 7, first + 9]
    assert (records, latest, height) == (50, "2021-03-04", 50)


def test_a_row_spanning_lines_takes_the_python_path_though_its_lines_look_plain() -> None:
    clean = "S1,2021-03-04,2710.19,gas oil,diesel,10,t,100,USD,CN,US,CN,,,,,,port,,customs,"
    clean += ",,,,,note"
    inside = clean.replace("S1,", "S2,").replace("gas oil", '"coffee, not roasted"')
    opened = clean.replace("S1,", "S0,").replace(",note", ',"open')  # closed in `inside`
    lines = [clean, opened, inside, clean.replace("S1,", "S3,")]
    assert _plain(lines) == [True, False, True, True]
    text = "".join(line + "\n" for line in lines).encode()
    chunk = Chunk(0, len(text), 0, len(lines))
    assert len(list(csv.reader(io.StringIO(text.decode())))) == 3  # one row of two lines
    assert _outcome(SCREEN, text, chunk) is Fallback
