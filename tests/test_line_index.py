"""The line index shared by the CSV and JSON Lines readers, against splitting the chunk."""

from __future__ import annotations

import io

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine.columnar import line_index
from compliance.engine.columnar.csv_chunks import chunk_lines
from compliance.engine.columnar.line_index import LineIndex

# Lines with multi-byte text, separators, quotes, empty ones; sometimes a CRLF.
_LINE = st.text(alphabet='ab,"é\u20ac ', max_size=6)


@given(
    lines=st.lists(_LINE, min_size=1, max_size=40),
    ending=st.sampled_from(["\n", "\n", "\r\n"]),
    final=st.booleans(),
    step=st.integers(1, 6),
    prefix=st.binary(max_size=8).filter(lambda b: b"\n" not in b),
    first=st.integers(0, 1000),
    picks=st.data(),
)
@settings(max_examples=300)
def test_blocks_give_the_lines_as_written(
    lines: list[str], ending: str, final: bool, step: int, prefix: bytes, first: int,
    picks: st.DataObject,
) -> None:  # fmt: skip
    data = (ending.join(lines) + (ending if final else "")).encode()
    if not data:
        return
    read = chunk_lines(data)
    assert read is not None
    written = data.split(b"\n")
    expected = [w + b"\n" for w in written[:-1]] + ([written[-1]] if written[-1] else [])
    wanted = sorted(picks.draw(st.sets(st.integers(0, len(expected) - 1), min_size=1)))
    index = LineIndex()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(line_index, "INDEX_STEP", step)
        indexed = index.add(first, data, read)
    handle = io.BytesIO(prefix + data)
    rows = pl.Series([first + w for w in wanted], dtype=pl.UInt32)
    got = index.read(handle, len(prefix), first, rows)
    if b"\r" in data:  # Polars drops a CRLF's CR: such a chunk has no index
        assert not indexed and got is None and first not in index
    else:
        assert indexed and first in index and len(index) == 1
        assert got == [expected[w] for w in wanted]


def test_lines_that_are_not_the_chunks_are_not_indexed() -> None:
    data = b"ab\ncd\n"
    index = LineIndex()
    assert not index.add(0, data, pl.Series(["ab", "c"]))
    assert not index.add(0, data, pl.Series(["ab", "cd", None]))
    assert index.add(0, data, pl.Series(["ab", "cd"])) and 0 in index
    index.clear()
    assert len(index) == 0
