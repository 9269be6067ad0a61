"""Reading a CSV log in chunks of whole lines, as the Python reader would split it.

The engine reads a CSV file itself, in chunks of about CHUNK_BYTES that end at a newline,
each parsed by Polars on its own with every column as a string (or, for the lines the
screen proves from their text, only a few columns: `parse_columns`). Whenever the rows could
differ from the Python reader's (quoted newlines, lone carriage returns, parse errors, an
odd header) it raises `Fallback` and the log takes the exact Python path, so line numbers
stay right. A second pass (`csv_rows`) reads some rows again by number, reading only
the blocks of lines holding them (`line_index`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from compliance.engine.columnar.line_index import LineIndex
from compliance.engine.columnar.plan import Fallback
from compliance.io.readers import check_header, display_name, log_format, short_rows

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "BOM",
    "CHUNK_BYTES",
    "LINE_SEED",
    "Chunk",
    "chunk_frame",
    "chunk_lines",
    "csv_chunks",
    "csv_rows",
    "fast_csv",
    "parse_chunk",
    "parse_columns",
    "quotes_closed",
    "read_header",
    "short_lines",
]

# 31 MiB of CSV per chunk: ~340k rows, a few hundred MB at most. Under 32 MiB, glibc's
# largest threshold for serving an allocation by a fresh mapping: above it every chunk's
# bytes were mapped and faulted in anew (reading a 10M-row log took 0.5 s, not 0.15 s),
# below it freed ones are reused.
CHUNK_BYTES = 31 << 20
PROBE_BYTES = 1 << 16  # how far back from a chunk's size its last newline is looked for


class Chunk(NamedTuple):
    """Where a chunk sits in the file (bytes `start` to `end`) and its lines (`first` on,
    `lines` of them, blank ones included; a CSV chunk's rows are its lines)."""

    start: int
    end: int
    first: int
    lines: int


def fast_csv(source: str | Path) -> bool:
    """Whether a source is a CSV file the chunked reader may take."""
    name = str(source)
    fast = name != "-" and log_format(name) == "csv" and Path(name).is_file()
    return fast and display_name(name) == name  # else the Python reader escapes the name


def read_header(path: str) -> list[str]:
    """The header as the Python reader sees it; Fallback when it would complain."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            line = handle.readline()
        header = next(csv.reader(io.StringIO(line)))
    except (StopIteration, csv.Error, UnicodeDecodeError, OSError):
        raise Fallback from None
    if line.count('"') % 2:
        raise Fallback  # a quoted name holding a line end: the header spans lines
    header = check_header(path, header)  # the Python reader's LogError, if any
    if any(not h or h.startswith("__") for h in header):
        raise Fallback
    return header


def _chunk_end(handle: BinaryIO, start: int, size: int) -> int:
    """Where the chunk from `start` ends: after its last newline within CHUNK_BYTES, else
    (a line longer than the probe) after the next newline, else at the end of the file."""
    if start + CHUNK_BYTES >= size:
        return size
    probe = min(PROBE_BYTES, CHUNK_BYTES)
    at = start + CHUNK_BYTES - probe
    handle.seek(at)
    tail = handle.read(probe)
    if (cut := tail.rfind(b"\n")) >= 0:
        return at + cut + 1
    while tail:
        at += len(tail)
        tail = handle.read(probe)
        if (cut := tail.find(b"\n")) >= 0:
            return at + cut + 1
    return at


def parse_chunk(chunk: bytes, header: list[str]) -> pl.DataFrame:
    """A chunk's rows, every column a string; Fallback on a parse error."""
    import polars as pl

    try:
        # An unquoted empty field is null already; a quoted one ("") is null by
        # null_values: both mean absent.
        return pl.read_csv(chunk, has_header=False, schema=dict.fromkeys(header, pl.String),
                           encoding="utf8", null_values=[""])  # fmt: skip
    except pl.exceptions.PolarsError:
        raise Fallback from None


def parse_columns(chunk: bytes, header: list[str], columns: list[str]) -> pl.DataFrame:
    """Some columns of a chunk's rows (`parse_chunk` of fewer columns: the others are
    split but never made into strings); Fallback on a parse error."""
    import polars as pl

    at = sorted(header.index(c) for c in columns)
    try:
        frame = pl.read_csv(chunk, has_header=False, columns=at, encoding="utf8",
                            null_values=[""], infer_schema=False)  # fmt: skip
    except pl.exceptions.PolarsError:
        raise Fallback from None
    if frame.width != len(at):
        raise Fallback
    frame.columns = [header[i] for i in at]  # in the file's order, whatever their names
    return frame


def csv_chunks(path: str, chunks: list[Chunk] | None = None) -> Iterator[tuple[bytes, Chunk]]:
    """The log's bytes after its header in chunks of about CHUNK_BYTES, each ending at a
    newline, with their places (appended to `chunks` as they are read).

    Its end is found before it is read, so it is read straight into one bytes object:
    cutting a larger read at its last newline copied every chunk once more. Fallback
    when a chunk's lines could differ from the Python reader's (a lone carriage return,
    its last line leaving a quote open, a BOM).
    """
    offset = 0
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        first_line = handle.readline()  # the header, read by read_header()
        if not _whole_lines(first_line):
            raise Fallback
        start = len(first_line)
        while (end := _chunk_end(handle, start, size)) > start:
            handle.seek(start)
            data = handle.read(end - start)
            if len(data) != end - start or not _whole_lines(data):
                raise Fallback
            if data.startswith(BOM):
                raise Fallback  # Polars drops it; the csv module keeps it in the first field
            chunk = Chunk(start, end, offset, data.count(b"\n") + (data[-1:] != b"\n"))
            if chunks is not None:
                chunks.append(chunk)
            yield data, chunk
            offset += chunk.lines
            start = end


# Seed of `__c` when it hashes a row's line (not its columns): only rows of CSV chunks
# compare their lines' hashes, and a row hashed either way differs from one hashed the
# other way, which only sends both to the exact path.
LINE_SEED = 0x11E5


def chunk_frame(
    data: bytes, chunk: Chunk, header: list[str], index: LineIndex | None = None
) -> pl.DataFrame:
    """The rows of one chunk (`data`, its bytes) as strings, with `__row` and, where its
    lines could be read (`chunk_lines`), `__c`: the hash of each row's line, which
    tells apart any two rows whose text differs, at a tenth of hashing its columns.
    Fallback when the rows could differ from the Python reader's. `index`: where the
    chunk's lines are noted, for `csv_rows`."""
    lines = chunk_lines(data, chunk.lines)
    if short_lines(data, lines, len(header)):
        raise Fallback  # the Python reader rejects those rows
    frame = parse_chunk(data, header)
    if frame.height != chunk.lines or frame.width != len(header):
        raise Fallback  # quoted newlines or skipped lines: line numbers would differ
    frame = frame.with_row_index("__row", chunk.first)
    if lines is None:
        return frame
    if index is not None:
        index.add(chunk.first, data, lines)  # each line is a row (the parse's height)
    return frame.with_columns(lines.hash(LINE_SEED).alias("__c"))


def _whole_lines(chunk: bytes) -> bool:
    """Whether the Python reader ends lines in `chunk` where Polars does: no lone
    carriage return (the csv module ends a line there), no quote left open on its last
    line (a quoted field may run on into the next chunk)."""
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        return False
    return chunk[chunk.rfind(b"\n", 0, len(chunk) - 1) + 1 :].count(b'"') % 2 == 0


BOM = "\ufeff".encode()  # UTF-8's byte order mark, which Polars drops

# A byte that splits no line: reading a chunk with it as the separator (and no quoting)
# gives its lines, at an eighth of the cost of parsing its fields.
_NO_SEPARATOR = "\x01"


def chunk_lines(chunk: bytes, count: int | None = None) -> pl.Series | None:
    """The lines of a chunk of whole lines, as text (a CRLF's CR dropped, an empty line
    null); None when they cannot be read so (the byte in the data, bytes that are not
    UTF-8, a byte order mark starting the data, which Polars drops and Python keeps, a
    count that differs from the chunk's newlines). `count`: that count, when known
    (`Chunk.lines`: counting costs as much as reading the lines)."""
    import polars as pl

    if _NO_SEPARATOR.encode() in chunk or chunk.startswith(BOM):
        return None
    try:
        frame = pl.read_csv(chunk, has_header=False, separator=_NO_SEPARATOR, quote_char=None,
                            schema={"line": pl.String}, encoding="utf8")  # fmt: skip
    except pl.exceptions.PolarsError:
        return None
    lines = frame.get_column("line")
    if count is None:
        count = chunk.count(b"\n") + (chunk[-1:] != b"\n")
    return lines if lines.len() == count else None


# A field as the csv module (default dialect, not strict) reads it on one line: quoted
# ("" a quote inside; after the closing quote, text up to the separator joins it), or
# unquoted (a quote inside it is text). A line these fields cover ends with no quote open.
_FIELD = r'"(?:[^"]|"")*"(?:[^,"][^,]*)?|[^",][^,]*|'


def short_lines(chunk: bytes, lines: pl.Series | None, columns: int) -> bool:
    """`readers.short_rows(chunk, columns)`, decided mostly in Polars from the chunk's
    `lines` (`chunk_lines`): the csv module reads only the lines a count leaves in doubt.

    A line without quotes has one field more than commas; a quoted line is certain when
    `columns` fields as the csv module reads them cover it. A line with too many fields
    makes the chunk's parse fail (Fallback), so when the commas of the unquoted lines
    add up to `columns - 1` each, none has fewer. The doubtful lines are whole rows on
    their own unless one leaves a quote open: then the whole chunk is read as before.
    """
    import polars as pl

    if lines is None:
        return short_rows(chunk, columns)
    has_quote = lines.str.contains('"', literal=True)  # null for empty lines: blank
    quoted = lines.filter(has_quote)
    quoted_commas = int(quoted.str.count_matches(",", literal=True).sum() or 0)
    plain_lines = lines.len() - lines.null_count() - quoted.len()
    doubtful = [quoted.filter(~quoted.str.contains(_row_pattern(columns)))]
    if chunk.count(b",") - quoted_commas != plain_lines * (columns - 1):
        plain = lines.filter(~has_quote)
        doubtful.append(plain.filter(plain.str.count_matches(",", literal=True) < columns - 1))
    suspects = pl.concat(doubtful)
    if suspects.len() == 0:
        return False
    if not suspects.str.contains(f"^(?:(?:{_FIELD}),)*(?:{_FIELD})$").all():
        return short_rows(chunk, columns)  # a quote left open: rows span lines
    return short_rows(("\n".join(suspects.to_list()) + "\n").encode(), columns)


def quotes_closed(lines: pl.Series) -> bool:
    """Whether no line of `lines` leaves a quote open (the csv module's fields cover
    it): then no row spans lines, and each line is a row of its own."""
    return bool(lines.str.contains(f"^(?:(?:{_FIELD}),)*(?:{_FIELD})$").all())


def _row_pattern(columns: int) -> str:
    """A line of exactly `columns` fields, as the csv module reads them."""
    return f"^(?:(?:{_FIELD}),){{{columns - 1}}}(?:{_FIELD})$"


def csv_rows(
    path: str, header: list[str], chunks: list[Chunk], rows: pl.Series, index: LineIndex
) -> pl.DataFrame:
    """Raw columns and `__row` of some rows (numbers as `csv_chunks` counts them), read
    again from the chunks holding them: only their lines are parsed, read from the
    blocks holding them where `index` knows the chunk's lines (each line a row), else
    from the whole chunk."""
    import polars as pl

    rows = rows.cast(pl.UInt32).unique().sort()
    parts = []
    with open(path, "rb") as handle:
        for chunk in chunks:
            inside = rows.filter((rows >= chunk.first) & (rows < chunk.first + chunk.lines))
            if inside.len() == 0:
                continue
            if (picked := index.read(handle, chunk.start, chunk.first, inside)) is not None:
                text = b"".join(p if p.endswith(b"\n") else p + b"\n" for p in picked)
                frame = parse_chunk(text, header)
            else:
                frame = _whole_chunk_rows(handle, chunk, header, inside)
            if frame.height != inside.len():
                raise Fallback
            parts.append(frame.with_columns(inside.alias("__row")).select("__row", *header))
    if not parts:
        return pl.DataFrame(schema={"__row": pl.UInt32, **dict.fromkeys(header, pl.String)})
    return pl.concat(parts)


def _whole_chunk_rows(
    handle: BinaryIO, chunk: Chunk, header: list[str], inside: pl.Series
) -> pl.DataFrame:
    """The rows `inside` (sorted, of `chunk`) from the whole chunk, read again: the lines
    of a chunk without an index (carriage returns, the separator byte), or its parse."""
    handle.seek(chunk.start)
    data = handle.read(chunk.end - chunk.start)
    lines = chunk_lines(data, chunk.lines)
    if lines is not None:
        picked = lines.gather(inside - chunk.first).fill_null("")
        return parse_chunk(("\n".join(picked.to_list()) + "\n").encode(), header)
    return parse_chunk(data, header).gather(inside - chunk.first)
