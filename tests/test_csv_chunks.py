"""The chunked CSV reader's fast paths against the exact checks they stand in for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import compliance
from compliance.engine._progress import Progress
from compliance.engine.columnar import csv_chunks, line_index
from compliance.engine.columnar.csv_chunks import chunk_lines, parse_chunk, short_lines
from compliance.engine.columnar.line_index import LineIndex
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import Scan, fetch, scan_csv
from compliance.io.readers import short_rows
from fast_paths import assert_indexed_without_cr

COLUMNS = ["a", "b", "c"]
HEADER = "id,date,hs_code,quantity,unit,destination,source,reported_on,supersedes\n"


def _parses(chunk: bytes) -> bool:
    """Whether the chunked reader goes on past this chunk's parse (one row per line)."""
    try:
        frame = parse_chunk(chunk, COLUMNS)
    except Fallback:
        return False
    return frame.height == chunk.count(b"\n") + (chunk[-1:] != b"\n")


# Lines of fields made of the characters that matter to counting: separators, quotes,
# spaces, text, quoted as a writer would or not; some lines are empty, blank, short or
# long, some end in CRLF.
_TEXT = st.text(alphabet='ab," \t', max_size=4)
_FIELD = st.one_of(
    st.text(alphabet='ab \t"', max_size=3),
    _TEXT.map(lambda t: '"' + t.replace('"', '""') + '"'),
    _TEXT,
)
_LINE = st.lists(_FIELD, min_size=0, max_size=4).map(",".join)
_ENDING = st.sampled_from(["\n", "\r\n"])


@given(st.lists(st.tuples(_LINE, _ENDING), min_size=1, max_size=12))
@settings(max_examples=300)
def test_short_lines_agrees_with_the_csv_module(lines: list[tuple[str, str]]) -> None:
    chunk = "".join(text + end for text, end in lines).encode()
    if not _parses(chunk):
        return  # the reader falls back on this chunk whatever short_lines says
    assert short_lines(chunk, chunk_lines(chunk), len(COLUMNS)) == short_rows(chunk, 3)


@pytest.mark.parametrize(
    ("chunk", "short"),
    [
        (b"1,2,3\n4,5,6\n", False),
        (b"1,2,3\n4,5\n", True),  # a short row among plain ones
        (b'1,"2,5",3\n"4",5\n', True),  # quoted, with the separator; one short
        (b'1,"2,5",3\n"4",5,6\n', False),
        (b'1,"say ""hi""",3\n', False),  # "" inside quotes
        (b'1,"a""",3\n', False),
        (b'1,2"x,3\n', False),  # a quote inside an unquoted field is text
        (b'1,"2"x,3\n', False),  # text after the closing quote joins the field
        (b"1,2,3\r\n4,5\r\n", True),  # CRLF
        (b"1,2,3\r\n4,5,6\r\n", False),
        (b"1,2,3\n\n ,\n,,\n", False),  # empty and blank lines are skipped, not short
        (b"1,2,3\n4,5,6", False),  # no final newline
        (b"1,2\x01,3\n4,5\n", True),  # the line-splitting byte in the data: the old path
        (b"1,2,3\n\xff,5\n", True),  # not UTF-8: the old path
    ],
)
def test_short_lines_examples(chunk: bytes, short: bool) -> None:
    assert short_lines(chunk, chunk_lines(chunk), len(COLUMNS)) is short
    assert short_rows(chunk, len(COLUMNS)) is short


def test_chunk_lines_refuses_what_it_cannot_split() -> None:
    assert chunk_lines(b"a\x01b\nc\n") is None
    assert chunk_lines(b"\xff\n") is None
    lines = chunk_lines(b'a,"b"\r\n\nc')
    assert lines is not None and lines.to_list() == ['a,"b"', None, "c"]


def test_a_quote_left_open_reads_the_whole_chunk() -> None:
    # The second line opens a quoted field that the third closes: one row of three
    # fields across two lines, which the chunk's parse then refuses (rows ≠ lines).
    chunk = b'1,2,3\n4,"5\n6",7\n'
    assert short_lines(chunk, chunk_lines(chunk), 3) is short_rows(chunk, 3) is False
    chunk = b'1,2,3\n4,"5\n6\n'
    assert short_lines(chunk, chunk_lines(chunk), 3) is short_rows(chunk, 3) is True


@pytest.mark.parametrize("chunk_bytes", [40, 1 << 20])
def test_short_rows_among_quoted_and_crlf_lines_are_rejected(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch,
    chunk_bytes: int,
) -> None:  # fmt: skip
    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", chunk_bytes)
    body = (
        'q,2019-01-12,8703,"1,500",t,CN,,,\r\n'  # quoted separator
        'r,2019-01-12,8703,5,t,"CN",,,""\r\n'  # "" quoting
        "s,2019-01-12,8703,5,t,CN\r\n"  # short
        'u,2019-01-12,"8703",5,t,"CN,"\r\n'  # quoted, short
        "v,2019-01-12,8703,5,t,CN,,,\r\n"
    )
    path = tmp_path / "log.csv"
    path.write_bytes((HEADER.replace("\n", "\r\n") + body).encode())
    columnar = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    stream = compliance.evaluate(str(path), design_rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    assert [(r.line, r.id) for r in columnar.rejected] == [(4, "s"), (5, "u")]


WIDE = "id,date,hs_code,commodity,quantity,unit,destination,vessel_name,reported_on\n"


@pytest.mark.parametrize("chunk_bytes", [60, 1 << 20])
def test_values_checked_once_per_distinct_value_still_reject(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch,
    chunk_bytes: int,
) -> None:  # fmt: skip
    # commodity and vessel_name are checked per distinct value of a chunk, then looked
    # up; reported_on is read by no rule of this rulebook: a bad value in either must
    # still reach the Python path among many good copies of the same column.
    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", chunk_bytes)
    good = [f"g{i},2019-01-10,8703,cars,5,t,CN,SEA STAR,2019-01-12\n" for i in range(12)]
    bad = [
        "b1,2019-01-10,8703,cars ,5,t,CN,SEA STAR,2019-01-12\n",  # trailing space: normalised
        "b2,2019-01-10,8703," + "x" * 5000 + ",5,t,CN,SEA STAR,2019-01-12\n",  # too long
        "b3,2019-01-10,8703,cars,5,t,CN, SEA STAR,2019-01-12\n",  # leading space
        "b4,2019-01-10,8703,cars,5,t,CN,SEA STAR,2019-02-30\n",  # no such date
    ]
    path = tmp_path / "log.csv"
    path.write_text(WIDE + "".join(good[:6] + bad + good[6:]), encoding="utf-8")
    columnar = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    stream = compliance.evaluate(str(path), design_rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    assert [r.id for r in columnar.rejected] == ["b2", "b4"]
    assert columnar.accounting.evaluated == 14


def test_copies_of_a_row_written_differently_resolve_exactly(
    tmp_path: Path, design_rulebook: compliance.Rulebook
) -> None:
    # Rows hash by their lines: the same record quoted or with CRLF hashes apart, so
    # it is no bulk duplicate but reaches the ledger, which finds the same record.
    body = (
        "a,2019-01-10,8703,cars,5,t,CN,,\n"
        'a,2019-01-10,8703,"cars",5,t,CN,,\r\n'
        "a,2019-01-10,8703,cars,5,t,CN,,\n"
        "c,2019-01-10,8703,cars,5,t,CN,,\n"
        "c,2019-01-10,8703,cars,6,t,CN,,\n"  # same id, other content: both rejected
    )
    path = tmp_path / "log.csv"
    path.write_bytes((WIDE + body).encode())
    columnar = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    stream = compliance.evaluate(str(path), design_rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    assert columnar.accounting.duplicates == 2
    assert [r.id for r in columnar.rejected] == ["c", "c"]


def test_chunks_hashed_by_columns_and_by_lines_agree(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chunk holding the line-splitting byte cannot be read as lines: its rows hash by
    # their columns, so an exact copy of one of them in a chunk read as lines hashes
    # apart. Both then reach the ledger, which still finds the duplicate.
    row = "a,2019-01-10,8703,cars,5,t,CN,,\n"
    odd = "x,2019-01-10,8703,car\x01s,5,t,CN,,\n"
    other = "b,2019-01-10,8703,cars,5,t,CN,,\n"
    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", len(row + odd) + 1)
    path = tmp_path / "log.csv"
    path.write_text(WIDE + row + odd + other + other + row, encoding="utf-8")
    assert chunk_lines((row + odd).encode()) is None and chunk_lines(row.encode()) is not None
    columnar = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    stream = compliance.evaluate(str(path), design_rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    assert columnar.accounting.duplicates == 2 and not columnar.rejected


@pytest.mark.parametrize("chunked", [True, False])
def test_a_byte_order_mark_starting_a_chunk_is_kept_as_the_python_reader_keeps_it(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch,
    chunked: bool,
) -> None:  # fmt: skip
    # Polars drops a byte order mark at the start of what it reads; the csv module keeps
    # one that is not the file's first character in the field it starts. A chunk that
    # begins with one must not turn the id "\ufeffb" into "b" (a copy of the row b).
    row = "b,2019-01-10,8703,cars,5,t,CN,,\n"
    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", len(row) + 1 if chunked else 1 << 20)
    path = tmp_path / "log.csv"
    path.write_text(WIDE + row + "\ufeff" + row + row, encoding="utf-8")
    columnar = compliance.evaluate(str(path), design_rulebook, engine="columnar")
    stream = compliance.evaluate(str(path), design_rulebook, engine="stream")
    assert columnar.to_dict() == stream.to_dict()
    assert columnar.accounting.duplicates == stream.accounting.duplicates == 1


def test_a_log_that_starts_with_a_byte_order_mark_is_read_in_chunks(
    tmp_path: Path, design_rulebook: compliance.Rulebook
) -> None:
    # Spreadsheets write one: it belongs to the header, and costs the fast path nothing.
    path = tmp_path / "log.csv"
    path.write_text("\ufeff" + WIDE + "b,2019-01-10,8703,cars,5,t,CN,,\n", encoding="utf-8")
    header = WIDE.strip().split(",")
    frames = [csv_chunks.chunk_frame(d, c, header) for d, c in csv_chunks.csv_chunks(str(path))]
    assert [f.height for f in frames] == [1]


# Rows of WIDE's nine fields: ids that repeat, values the rulebook tests, text with
# multi-byte characters, quoted fields holding separators and quotes; empty lines and
# rows of empty fields; each line ending in LF or CRLF.
_CELL = st.one_of(
    st.sampled_from(["8703", "2019-01-10", "cars", "5", "t", "CN", "KP", "SEA STAR", ""]),
    st.text(alphabet="ab 1é", max_size=3),
    st.text(alphabet='ab ,"1é', max_size=4).map(lambda t: '"' + t.replace('"', '""') + '"'),
)
_ROW = st.one_of(
    st.tuples(st.sampled_from(["a", "b", "c", '"c"', "d,", "é"]), st.lists(_CELL, min_size=8,
              max_size=8)).map(lambda r: ",".join([r[0].replace(",", ""), *r[1]])),
    st.sampled_from(["", ",,,,,,,,"]),
)  # fmt: skip
_LOG = st.lists(st.tuples(_ROW, st.sampled_from(["\n", "\n", "\r\n"])), min_size=1, max_size=30)


def _fetched(scan: Scan, rows: pl.Series) -> pl.DataFrame | None:
    """The rows fetched again; None when the fetch sends the log to the Python path."""
    try:
        return fetch(scan, rows)
    except Fallback:
        return None


def _alike(one: pl.DataFrame | None, other: pl.DataFrame | None) -> bool:
    if one is None or other is None:
        return one is other
    return one.equals(other)  # values, dtypes and order


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(log=_LOG, final=st.booleans(), cut=st.integers(1, 1200), step=st.integers(1, 5),
       spanning=st.integers(-1, 29), picks=st.data())  # fmt: skip
def test_the_second_pass_from_the_line_index_reads_what_the_whole_chunk_gives(
    tmp_path: Path, design_rulebook: compliance.Rulebook, log: list[tuple[str, str]],
    final: bool, cut: int, step: int, spanning: int, picks: st.DataObject,
) -> None:  # fmt: skip
    # Chunks cut anywhere (`cut` bytes), blocks of `step` lines, wanted rows anywhere in
    # them: the rows read from the blocks holding them are the rows of the whole chunk.
    # A row spanning lines (a quoted newline, `spanning`) sends the log to the Python
    # path before any index is used.
    lines = [text for text, _ in log]
    if 0 <= spanning < len(lines) and lines[spanning].count(",") == 8:
        lines[spanning] = lines[spanning].rsplit(",", 1)[0] + ',"x\ny"'
    else:
        spanning = -1
    body = "".join(t + e for t, (_, e) in zip(lines, log, strict=True))
    if not final:
        body = body.removesuffix("\n").removesuffix("\r")
    path = tmp_path / "log.csv"
    path.write_bytes((WIDE + body).encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_chunks, "CHUNK_BYTES", cut)
        patch.setattr(line_index, "INDEX_STEP", step)
        try:
            scan = scan_csv(str(path), Plan(design_rulebook), Progress())
        except Fallback:
            assert spanning >= 0 or (not final and body.endswith("\r"))
            event("the Python path")
            return
    assert spanning < 0
    assert_indexed_without_cr(scan.chunks, scan.index, path.read_bytes())
    rows = sum(c.lines for c in scan.chunks)
    if not rows:
        return
    wanted = picks.draw(st.sets(st.integers(0, rows - 1), min_size=1))
    wanted_rows = pl.Series(sorted(wanted, reverse=True), dtype=pl.UInt32)  # any order
    whole = dataclasses.replace(scan, index=LineIndex())  # no chunk has an index
    got = _fetched(scan, wanted_rows)
    assert got is not None or any(not lines[w].strip(",") for w in wanted)
    event("rows read" if got is not None else "blank rows asked for")
    again = _fetched(whole, wanted_rows)
    assert _alike(got, again)
    # The chunks with carriage returns, read whole, give the rows that the same log
    # written with LF gives from its index.
    path.write_bytes((WIDE + body.replace("\r\n", "\n")).encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_chunks, "CHUNK_BYTES", cut)
        patch.setattr(line_index, "INDEX_STEP", step)
        lf = scan_csv(str(path), Plan(design_rulebook), Progress())
    assert len(lf.index) == len(lf.chunks)
    from_lf = _fetched(lf, wanted_rows)
    if (got is None) is not (from_lf is None):
        # Cut elsewhere (one byte less per CR), a chunk may be asked for blank lines only,
        # which a parse of them cannot tell from no rows: that log goes to the Python path
        # (exact, only slower), whichever of the two reads it.
        assert any(not lines[w].strip(",") for w in wanted)
        event("blank rows alone in a chunk: the Python path")
    else:
        assert _alike(got, from_lf)


def test_rows_first_and_last_in_their_blocks_read_again(
    tmp_path: Path, design_rulebook: compliance.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of four lines, three chunks: every block's first and last row, the log's
    # last line without its newline; the chunk in the middle (CRLF) has no index and
    # reads its whole chunk.
    monkeypatch.setattr(line_index, "INDEX_STEP", 4)
    rows = [f"r{i:02},2019-01-10,8703,cars,{i:02},t,CN,,\n" for i in range(30)]
    rows[12:20] = [r.replace("\n", "\r\n") for r in rows[12:20]]
    body = "".join(rows).removesuffix("\n")
    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", 12 * len(rows[0]))
    path = tmp_path / "log.csv"
    path.write_bytes((WIDE + body).encode())
    scan = scan_csv(str(path), Plan(design_rulebook), Progress())
    assert [c.lines for c in scan.chunks] == [12, 11, 7]
    assert [c.first in scan.index for c in scan.chunks] == [True, False, True]
    wanted = [0, 3, 4, 7, 11, 12, 15, 16, 19, 20, 22, 23, 24, 27, 28, 29]
    got = fetch(scan, pl.Series(wanted))
    assert got.get_column("__row").to_list() == wanted
    assert got.get_column("id").to_list() == [f"r{i:02}" for i in wanted]
    assert got.get_column("quantity").to_list() == [f"{i:02}" for i in wanted]
    assert got.schema == {"__row": pl.UInt32, **dict.fromkeys(WIDE.strip().split(","), pl.String)}
    assert got.equals(fetch(dataclasses.replace(scan, index=LineIndex()), pl.Series(wanted)))
    # A rulebook without a line screen reads each chunk's frame: the same index.
    index = LineIndex()
    header = WIDE.strip().split(",")
    for data, chunk in csv_chunks.csv_chunks(str(path)):
        csv_chunks.chunk_frame(data, chunk, header, index)
    assert index.blocks.keys() == scan.index.blocks.keys()
    for first, (step, bounds) in index.blocks.items():
        assert step == 4 and bounds.equals(scan.index.blocks[first][1])
