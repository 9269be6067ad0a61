"""JSON Lines logs at columnar speed: chunks of whole lines, plain lines decoded by Polars.

A chunk's lines are read by Polars as text. A cheap test, line by line, says which are
*plain*: a flat object (no whitespace before a colon, keys without escapes) whose values
are strings without surrogate escapes, integers, floats Polars writes as `repr()` does,
or null; no duplicate key; every key a column of the log. Polars decodes the plain lines
with every column as a string, which is then the text the Python reader's value gives
(`str()` of an int, `repr()` of a float), and `__ok` (TRUSTED) is true on them. Every
other line (invalid JSON, nested values, booleans, HS codes given as numbers, keys that
are not columns, bytes that are not UTF-8) is a row with no columns and `__ok` false, so
it reaches the Python reader (`readers.jsonl_record`) with its line number; blank lines
are skipped with the numbering kept. A file whose lines Python would end elsewhere (a
lone carriage return) raises `Fallback`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.engine.columnar.csv_chunks import BOM, LINE_SEED, Chunk, chunk_lines
from compliance.engine.columnar.line_index import LineIndex
from compliance.engine.columnar.plan import Fallback
from compliance.engine.columnar.typed import TRUSTED
from compliance.events import FIELDS, MAX_FIELDS, imitated_field
from compliance.io.readers import REQUIRED, display_name, jsonl_record, log_format, readable
from compliance.ledger import RawRecord

if TYPE_CHECKING:
    import polars as pl

    from compliance.engine.columnar.screen import Outcome, Screen

__all__ = ["CHUNK_BYTES", "NdjsonLog"]

# 31 MiB of JSON Lines per chunk (about 130,000 generated records): as csv_chunks reads.
CHUNK_BYTES = 31 << 20
SAMPLE_BYTES = 4 << 20  # where the columns are taken from

_WS = r"[ \t]*"
# A string value: no control character, valid escapes, no surrogate escape (a lone one is
# a rejection in Python, a pair is left to Python too).
_STRING = (
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]'
    r"|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*\""
)
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_PAIR = rf'{_WS}"[^"\\\x00-\x1f]*":{_WS}(?:{_STRING}|{_NUMBER}|null){_WS}'
_PLAIN = rf"^{_WS}\{{(?:{_PAIR}(?:,{_PAIR})*|{_WS})\}}[ \t\r]*$"
# Values whose decoded text could differ from the Python reader's (tested after _PLAIN,
# so only numbers and the first letter of true/false/null follow a colon outside a
# string; matches inside strings only cost speed): floats with an exponent, sixteen or
# more digits, or below 1e-4 (repr() switches to an exponent); booleans; nested values.
_INEXACT = rf":{_WS}(?:-?[0-9.]*(?:[eE]|[0-9.]{{16}})|-?0\.0000|[tf\[{{])"
# A float with a zero fraction: Polars writes 2.0 as "2", repr() as "2.0". Each such value
# is found by its key and given its ".0" back.
_INTEGRAL = rf":{_WS}-?[0-9]+\.0+{_WS}[,}}]"
_NAME = re.compile(r"[A-Za-z0-9_]+")  # keys written into a pattern as they are
_HS_NUMBER = rf'"hs_code":{_WS}[-0-9]'  # events._hs rejects numbers that str() alone hides
_NULL = rf":{_WS}null"
_KEY = r'"[^"\\]*":'
# A JSON number whose Polars text is its repr() (or str() of an int), once a zero
# fraction gets its ".0" back: what _NUMBER allows and _INEXACT does not, i.e. no
# exponent, at most fifteen digits and dots, not below 1e-4 ("0.0000…").
_EXACT = (
    r"-?(?:0|[1-9][0-9]{0,14}"
    r"|0\.(?:[0-9]{1,3}|[1-9][0-9]{3,12}|0[1-9][0-9]{2,11}|00[1-9][0-9]{1,10}|000[1-9][0-9]{0,9})"
    + "".join(rf"|[1-9][0-9]{{{k}}}\.[0-9]{{1,{13 - k}}}" for k in range(13))
    + ")"
)


class NdjsonLog:
    """A JSON Lines file read in chunks, as the typed screen reads a Parquet file."""

    def __init__(self, path: str, columns: list[str], order: list[str] | None = None) -> None:
        """`order`: the keys in the order the file's lines write them (default
        `columns`); lines that keep it take the one-test path."""
        self.name = path  # as the Python reader names its records (display_name is path)
        self.path = path
        self.columns = columns
        self.chunks: list[Chunk] = []
        # Rows are read again from the blocks of lines holding them, not whole chunks.
        self.index = LineIndex()
        self.order = columns if order is None else order
        self.ordered = _ordered(self.order)

    @staticmethod
    def of(source: object) -> NdjsonLog | None:
        """The log for a `.jsonl`/`.ndjson` path; None for other sources."""
        if not isinstance(source, str | Path):
            return None
        name = str(source)
        if name == "-" or log_format(name) != "jsonl" or not Path(name).is_file():
            return None
        if display_name(name) != name:
            return None  # the Python reader escapes the name
        try:
            return NdjsonLog(name, *_columns(name))
        except OSError:
            return None  # the Python reader says why it cannot be read

    def batches(self) -> Iterator[pl.DataFrame]:
        """String frames of one chunk each: `__row` (the line's index), the columns and
        `__ok`; blank lines left out."""
        return (make() for make in self.makers())

    def makers(self) -> Iterator[Callable[[], pl.DataFrame]]:
        """A function making each chunk's frame (the screen runs two at once); the
        chunk is read, and its place noted, as it is handed out."""
        self.chunks.clear()
        self.index.clear()
        for chunk, data in _chunks(self.path):
            self.chunks.append(chunk)
            yield partial(self._chunk_frame, chunk, data)

    def jobs(self, screen: Screen) -> Iterator[Callable[[], tuple[Outcome, int]]]:
        """A function screening each chunk (`Screen.run_lines`: most lines from their
        text) and giving its outcome and rows, as `makers` hands out frames."""
        self.chunks.clear()
        self.index.clear()
        for chunk, data in _chunks(self.path):
            self.chunks.append(chunk)
            yield partial(self._screened, screen, chunk, data)

    def _screened(self, screen: Screen, chunk: Chunk, data: bytes) -> tuple[Outcome, int]:
        lines = None if b"\r" in data else chunk_lines(data, chunk.lines)
        if lines is None:  # carriage returns, bytes not UTF-8: the chunk's frame, in full
            frame = self._chunk_frame(chunk, data)
            return screen.run(frame), frame.height
        self.index.add(chunk.first, data, lines)
        return screen.run_lines(lines, chunk.first, self._frame)

    def _chunk_frame(self, chunk: Chunk, data: bytes) -> pl.DataFrame:
        import polars as pl

        lines = chunk_lines(data, chunk.lines)
        if lines is None:  # not UTF-8, or the separator byte: Python reads them all
            text = _python_lines(data)
            numbers = [chunk.first + i for i, t in enumerate(text) if t.strip()]
            return self._untrusted(numbers).with_columns(pl.lit(None, pl.UInt64).alias("__c"))
        rows = pl.int_range(chunk.first, chunk.first + chunk.lines, dtype=pl.UInt32, eager=True)
        if b"\r" in data:
            frame = self._frame(lines, rows)
        else:
            self.index.add(chunk.first, data, lines)
            # A chunk of plain lines only is decoded from its bytes, without a copy.
            frame = self._frame(lines, rows, data)
        # `__c`, the row's content hash, as a CSV chunk gives it: its line's hash, a tenth
        # of hashing its columns. Rows written differently hash apart, which only sends
        # them to the ledger (it finds them duplicates).
        hashes = lines.hash(LINE_SEED).gather(frame.get_column("__row") - chunk.first)
        return frame.with_columns(hashes.alias("__c"))

    def _frame(self, lines: pl.Series, rows: pl.Series, data: bytes | None = None) -> pl.DataFrame:
        """The frame of some lines (null for empty ones) numbered `rows`; `data`: their
        bytes, if they are the lines of a chunk."""
        import polars as pl

        frame = pl.DataFrame({"__row": rows.cast(pl.UInt32), "line": lines})
        text = pl.col("line")
        frame = frame.with_columns(
            (text.str.contains(self.ordered) & text.str.ends_with("}")).fill_null(False)
            .alias("__o"), text.str.contains(_INTEGRAL).alias("__i"),
        )  # fmt: skip
        if frame.get_column("__o").all():  # the usual chunk: no other test
            good = frame.with_columns(__k=pl.lit(None, pl.UInt32), __n=pl.lit(False))
            other = frame.clear()
        else:
            rest = frame.filter(~pl.col("__o"))
            # Each test its own column: with_columns runs them in parallel, one per core.
            tests = {"__p": text.str.contains(_PLAIN), "__x": text.str.contains(_INEXACT),
                     "__h": text.str.contains(_HS_NUMBER) if "hs_code" in self.columns
                     else pl.lit(False),
                     "__k": text.str.count_matches('":', literal=True),
                     "__n": text.str.contains(_NULL)}  # fmt: skip
            rest = rest.with_columns(**tests).with_columns(
                (pl.col("__p") & ~pl.col("__x") & ~pl.col("__h")).fill_null(False).alias("__plain")
            )
            shared = ["__row", "line", "__o", "__i", "__k", "__n"]
            ordered = frame.filter(pl.col("__o"))
            ordered = ordered.with_columns(__k=pl.lit(None, pl.UInt32), __n=pl.lit(False))
            good = pl.concat([ordered, rest.filter(pl.col("__plain")).select(shared)])
            good = good.sort("__row")
            other = rest.filter(~pl.col("__plain") & pl.col("line").is_not_null())
        parts = []
        if good.height:
            parts.append(self._decoded(good, data if good.height == frame.height else None))
        if other.height:
            # Python decides what is blank (str.strip() knows more whitespace than Polars).
            kept = [row for row, line in other.select("__row", "line").iter_rows()
                    if line.strip()]  # fmt: skip
            if kept:
                parts.append(self._untrusted(kept))
        if not parts:
            return self._untrusted([])
        if len(parts) == 1:
            return parts[0]
        return pl.concat(parts).sort("__row")

    def _decoded(self, good: pl.DataFrame, data: bytes | None) -> pl.DataFrame:
        """Plain lines decoded (from `data` when it holds exactly them), `__ok` where no
        key repeats and every key is a column."""
        import polars as pl

        line = good.get_column("line")
        body = data if data is not None else ("\n".join(line.to_list()) + "\n").encode()
        schema = dict.fromkeys(self.columns, pl.String)
        try:
            values = pl.read_ndjson(body, schema=schema)
        except pl.exceptions.PolarsError:
            raise Fallback from None
        if values.height != good.height:
            raise Fallback
        ordered = good.get_column("__o")
        if ordered.all():  # every key once, every one a column: nothing to count
            trusted = ordered
        else:
            # On a plain line `":` (__k counts them) ends each key and can appear in a
            # string value only after a backslash: more of them than decoded values
            # means a repeated key, a key that is not a column, or a null (checked key
            # by key below).
            keys = good.get_column("__k")
            given = values.select(pl.sum_horizontal(pl.all().is_not_null())).to_series()
            trusted = ordered | (keys == given)
        with_null = good.get_column("__n")
        if with_null.any():
            names = line.filter(with_null).str.extract_all(_KEY)
            names = names.list.eval(pl.element().str.slice(1).str.head(-2))
            exact = (names.list.n_unique() == names.list.len()) & names.list.eval(
                pl.element().is_in(self.columns)
            ).list.all()
            trusted = trusted.scatter(with_null.arg_true(), exact)
        integral = good.get_column("__i")
        if integral.any():
            values, fixed = self._integral(values, line, integral)
            trusted = trusted & fixed
        return values.select(good.get_column("__row"), *self.columns, trusted.alias(TRUSTED))

    def _integral(
        self, values: pl.DataFrame, line: pl.Series, integral: pl.Series
    ) -> tuple[pl.DataFrame, pl.Series]:
        """Floats with a zero fraction written as repr() writes them (`2.0`), and
        whether every such float of a line was found by its key. Only the lines holding
        one are searched, key by key."""
        import polars as pl

        at = integral.arg_true()
        text = line.gather(at)
        found = pl.zeros(at.len(), dtype=pl.UInt32, eager=True)
        columns = []
        for name in self.columns:
            if not _NAME.fullmatch(name):
                continue  # never found: its floats leave the line untrusted
            here = text.str.contains(rf'"{name}":{_WS}-?[0-9]+\.0+{_WS}[,}}]')
            if not here.any():
                continue
            found = found + here.cast(pl.UInt32)
            column = values.get_column(name)
            fixed = pl.select(
                pl.when(here).then(column.gather(at) + ".0").otherwise(column.gather(at))
            ).to_series()
            columns.append(column.scatter(at.filter(here), fixed.filter(here)))
        complete = found == text.str.count_matches(_INTEGRAL).cast(pl.UInt32)
        trusted = pl.repeat(True, len(line), eager=True).scatter(at, complete)
        return values.with_columns(columns), trusted

    def _untrusted(self, rows: list[int]) -> pl.DataFrame:
        """Rows for the Python reader: no columns, `__ok` false."""
        import polars as pl

        frame = pl.DataFrame({"__row": rows}, schema={"__row": pl.UInt32})
        nulls = [pl.lit(None, dtype=pl.String).alias(c) for c in self.columns]
        return frame.with_columns(*nulls, pl.lit(False).alias(TRUSTED))

    def _picked(self, rows: pl.Series) -> Iterator[tuple[Chunk, pl.Series, list[str] | None]]:
        """(chunk, its wanted rows, their lines) of each chunk holding some of `rows`.
        The lines are as the Python reader reads them (each with its end), read from
        the chunk's index; None for a chunk without one (its bytes are `_chunk`)."""
        import polars as pl

        wanted = rows.cast(pl.UInt32).unique().sort()
        with open(self.path, "rb") as handle:
            for chunk in self.chunks:
                inside = wanted.filter(
                    (wanted >= chunk.first) & (wanted < chunk.first + chunk.lines)
                )
                if not inside.len():
                    continue
                picked = self.index.read(handle, chunk.start, chunk.first, inside)
                if picked is None:
                    yield chunk, inside, None
                else:
                    yield chunk, inside, [t.decode("utf-8", "surrogateescape") for t in picked]

    def _chunk(self, chunk: Chunk) -> bytes:
        """A chunk's bytes, read again."""
        with open(self.path, "rb") as handle:
            handle.seek(chunk.start)
            return handle.read(chunk.end - chunk.start)

    def rows(self, rows: pl.Series) -> pl.DataFrame:
        """`__row`, the columns and `__ok` of some rows (line indexes), read again from
        the chunks holding them: only their lines are decoded."""
        import polars as pl

        parts = []
        for chunk, inside, texts in self._picked(rows):
            if texts is not None:
                lines = pl.Series([t.removesuffix("\n") for t in texts], dtype=pl.String)
                parts.append(self._frame(lines, inside))
            elif (whole := chunk_lines(self._chunk(chunk))) is None:
                parts.append(self._untrusted(inside.to_list()))
            else:
                parts.append(self._frame(whole.gather(inside - chunk.first), inside))
        if not parts:
            return self._untrusted([])
        return pl.concat(parts)

    def strings(self, typed: pl.DataFrame) -> pl.DataFrame:
        """`__row` and the string columns of rows from `rows` (without __ok)."""
        return typed.drop(TRUSTED)

    def records(self, rows: pl.Series) -> Iterator[RawRecord]:
        """Records of some rows, as `readers.records_from` yields them."""
        for chunk, inside, texts in self._picked(rows):
            if texts is None:  # a chunk with carriage returns or bytes that are not UTF-8
                text = _python_lines(self._chunk(chunk))
                texts = [text[row - chunk.first] for row in inside.to_list()]
            for row, text_line in zip(inside.to_list(), texts, strict=True):
                record = jsonl_record(text_line, self.name, row + 1)
                if record is not None:
                    yield readable(record)


def _chunks(path: str) -> Iterator[tuple[Chunk, bytes]]:
    """The file's chunks of whole lines (the first after a byte order mark)."""
    first = 0
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = len(BOM) if handle.read(len(BOM)) == BOM else 0
        while start < size:
            handle.seek(start)
            data = handle.read(CHUNK_BYTES)
            if start + len(data) < size:
                cut = data.rfind(b"\n")
                while cut < 0:  # a line longer than a chunk: read on to its end
                    more = handle.read(CHUNK_BYTES)
                    if not more:
                        break
                    found = more.find(b"\n")
                    data += more if found < 0 else more[: found + 1]
                    cut = len(data) - 1 if found >= 0 else -1
                if cut >= 0:
                    data = data[: cut + 1]
            if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
                raise Fallback  # Python ends a line at a lone carriage return
            lines = data.count(b"\n") + (not data.endswith(b"\n"))
            yield Chunk(start, start + len(data), first, lines), data
            first += lines
            start += len(data)


def _python_lines(data: bytes) -> list[str]:
    """A chunk's lines as the Python reader reads them (each with its line end)."""
    text = data.decode("utf-8", "surrogateescape").split("\n")
    lines = [t + "\n" for t in text[:-1]]
    if text[-1]:
        lines.append(text[-1])
    return lines


def _ordered(order: list[str]) -> str:
    """The pattern of a line that `_PLAIN` and no other test would pass, written as
    most files write their lines: compact (no whitespace), keys of `order` in that order,
    each at most once, values strings, null, or numbers whose text Polars gives exactly
    (`_EXACT`; an HS code never a number). Keys that cannot be written into a pattern
    as they are leave their lines to the other tests."""
    pairs = []
    for key in order:
        if not _NAME.fullmatch(key):
            continue
        value = f"{_STRING}|null" if key == "hs_code" else f"{_STRING}|{_EXACT}|null"
        # The pair ends in a comma or the object's end: a line that ends with a comma
        # is left out by the `}` the line must end with (tested beside it).
        pairs.append(rf'(?:"{key}":(?:{value})(?:,|\}}$))?')
    return r"^\{" + "".join(pairs) + "$"


def _columns(path: str) -> tuple[list[str], list[str]]:
    """The log's columns and the order its lines write their keys in.

    The columns: id and date, and every key that plain lines of its first SAMPLE_BYTES
    have and the screen can take (stripped, not `__…`, imitating no field). A key first
    seen later only costs speed: its lines take the Python reader. The order: each
    distinct order of the sample's lines merged into one (a key after the one before it
    where it is first seen); a line that breaks it takes the slower tests."""
    with open(path, "rb") as handle:
        data = handle.read(SAMPLE_BYTES)
    if len(data) == SAMPLE_BYTES:
        data = data[: data.rfind(b"\n") + 1]
    lines = chunk_lines(data.removeprefix(BOM))
    sequences: list[list[str]] = []
    if lines is not None:
        plain = lines.filter(lines.str.contains(_PLAIN).fill_null(False))
        found = plain.str.extract_all(_KEY).unique(maintain_order=True).to_list()
        sequences = [[k[1:-2] for k in keys] for keys in found]
    keys = {k for keys in sequences for k in keys}
    keys = {k for k in keys if k and k == k.strip() and not k.startswith("__")
            and not imitated_field(k)} | set(REQUIRED)  # fmt: skip
    if len(keys) > MAX_FIELDS:
        raise Fallback
    columns = [f for f in FIELDS if f in keys] + sorted(keys - set(FIELDS))
    return columns, _merged([[k for k in seq if k in keys] for seq in sequences], columns)


def _merged(sequences: list[list[str]], keys: list[str]) -> list[str]:
    """One order of `keys` that keeps, where they agree, the order of every sequence: a
    key comes after the keys before it in some sequence; among keys free to come next,
    the first of `keys`; a cycle (lines that disagree) is broken in the same way."""
    after: dict[str, set[str]] = {k: set() for k in keys}  # key -> keys it must follow
    for sequence in sequences:
        for before, key in pairwise(sequence):
            after[key].add(before)
    order: list[str] = []
    left = list(keys)
    while left:
        placed = set(order)
        key = next((k for k in left if after[k] <= placed), left[0])
        order.append(key)
        left.remove(key)
    return order
