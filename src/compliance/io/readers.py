"""Shipment logs in: CSV, JSON Lines, a JSON array, stdin, iterables and DataFrames.

Readers never drop a record. A row that cannot even be parsed (invalid JSON, too many
fields, bytes that are not UTF-8) becomes a record carrying its problem, so the ledger
rejects it with its line; only a file that cannot be read at all raises `LogError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from compliance.errors import Diagnostic, LogError
from compliance.events import (
    MAX_FIELDS,
    Problem,
    Shipment,
    escape_undecodable,
    imitated_field,
)
from compliance.io._common import printable
from compliance.ledger import RawRecord

__all__ = [
    "LogSource",
    "check_header",
    "display_name",
    "is_frame",
    "jsonl_record",
    "log_format",
    "pandas_rows",
    "parse_stream",
    "read_log",
    "readable",
    "records_from",
    "short_rows",
]

LogSource = str | Path | Iterable[Any]
FIELD_LIMIT = 1024 * 1024  # bytes in one CSV field; longer rows are rejected, not read
REQUIRED = ("id", "date")
_UNDECODABLE = re.compile("[\ud800-\udfff]")


def is_frame(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith(("pandas", "polars")) and hasattr(obj, "columns")


def log_format(path: str) -> str:
    """`csv`, `jsonl`, `json` or `parquet` from the file name (`-` is sniffed later)."""
    suffix = Path(path).suffix.lower()
    return {
        ".csv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "json",
        ".parquet": "parquet",
    }.get(suffix, "sniff")


def records_from(source: Any) -> Iterator[RawRecord]:
    """Records from a path, `-`, a DataFrame, or an iterable of dicts / `Shipment`s."""
    if isinstance(source, str | Path):
        yield from read_log(source)
    elif is_frame(source):
        yield from map(readable, _frame(source))
    else:
        for index, item in enumerate(source):
            if isinstance(item, Shipment):
                yield RawRecord(item.to_record(), "<records>", index=index)
            elif isinstance(item, Mapping):
                yield readable(RawRecord(item, "<records>", index=index))
            else:
                yield RawRecord(
                    {},
                    "<records>",
                    index=index,
                    problems=(f"expected a mapping of fields (got {type(item).__name__})",),
                )


def display_name(path: str | Path) -> str:
    """A log's name as reports show it: bytes of the name that are not UTF-8 escaped
    (`caf\\xe9.csv`), so every report format stays valid UTF-8."""
    return escape_undecodable(str(path))


def read_log(path: str | Path) -> Iterator[RawRecord]:
    """Records of one log file (or standard input for `-`)."""
    if str(path) == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        head = text.lstrip()[:1]
        fmt = "json" if head == "[" else "jsonl" if head == "{" else "csv"
        yield from _parse(io.StringIO(text, newline=""), "<stdin>", fmt)
        return
    name = display_name(path)
    fmt = log_format(str(path))
    if fmt == "parquet":
        yield from _parquet(str(path), name)
        return
    try:
        handle = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as e:
        raise LogError(Diagnostic(name, f"cannot read log: {e.strerror or e}")) from None
    with handle:
        source: IO[str] = handle
        if fmt == "sniff":
            if not handle.seekable():  # a pipe such as /dev/stdin: sniff from memory
                source = io.StringIO(handle.read(), newline="")
            head = source.read(1)
            while head.isspace():
                head = source.read(1)
            source.seek(0)
            fmt = "json" if head == "[" else "jsonl" if head == "{" else "csv"
        yield from _parse(source, name, fmt)


def parse_stream(lines: Iterable[str], name: str, fmt: str) -> Iterator[RawRecord]:
    """Records of CSV (`csv`) or JSON Lines (`jsonl`) text given line by line, parsed as
    the lines arrive (`compliance watch`)."""
    if fmt == "csv":
        yield from _csv(lines, name)
    elif fmt == "jsonl":
        yield from map(readable, _jsonl(lines, name))
    else:
        raise ValueError(f"a stream is csv or jsonl (got {fmt!r})")


def _parse(handle: IO[str], name: str, fmt: str) -> Iterator[RawRecord]:
    if fmt == "csv":
        yield from _csv(handle, name)
    elif fmt == "jsonl":
        yield from map(readable, _jsonl(handle, name))
    else:
        yield from map(readable, _json(handle, name))


def readable(record: RawRecord) -> RawRecord:
    """The record, or a copy that later code can print: a key or text value holding bytes
    that were not UTF-8 (or a lone surrogate from JSON) written out, with a problem for
    each; an int past Python's 4,300-digit `str()` limit kept exact as a Decimal."""
    data = record.data
    try:  # the usual record, all text and ASCII: nothing to escape, no ints (one test)
        if "".join(data).isascii() and "".join(data.values()).isascii():
            return record
    except TypeError:
        pass  # a key or value that is not text: look at each
    bad = [
        k
        for k, v in data.items()
        if (type(v) is str and _UNDECODABLE.search(v))
        or (isinstance(k, str) and _UNDECODABLE.search(k))
    ]
    huge = [k for k, v in data.items() if type(v) is int and v.bit_length() > _INT_BITS]
    if not bad and not huge:
        return record
    clean = {
        _key(k): escape_undecodable(v) if type(v) is str else Decimal(v) if k in huge else v
        for k, v in data.items()
    }
    problems = tuple(str(Problem(str(_key(k)), "is not valid UTF-8", clean[_key(k)])) for k in bad)
    return RawRecord(clean, record.source, record.line, record.index, record.problems + problems)


def _key(key: str) -> str:
    """A record's key as it can be printed: a DataFrame's columns may be named by numbers,
    whatever the type says."""
    return escape_undecodable(key) if isinstance(key, str) else key


_INT_BITS = 14_000  # under 4,300 decimal digits (14,284 bits), str()'s limit


def check_header(name: str, header: list[str]) -> list[str]:
    """A CSV header row, stripped; `LogError` unless it names id and date, has no
    duplicate and at most MAX_FIELDS columns. Both engines read headers through this,
    in time linear in the number of columns."""
    if len(header) > MAX_FIELDS:
        raise LogError(
            Diagnostic(
                name, f"the header has {len(header)} columns; at most {MAX_FIELDS} are read", 1
            )
        )
    header = [escape_undecodable(h.strip()) for h in header]
    for column in header:
        if field := imitated_field(column):
            raise LogError(
                Diagnostic(
                    name,
                    f"column {column!r} imitates the field {field!r}; name it {field!r} "
                    "(or it would be read as an extra column)",
                    1,
                )
            )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        # A quoted header cell may hold a line end or a control character: escaped, so
        # the error stays one line (pydantic's and ruff's rule) and moves no cursor.
        shown = ", ".join(map(printable, header[:30])) + (", …" if len(header) > 30 else "")
        raise LogError(
            Diagnostic(
                name,
                f"missing required column {', '.join(repr(m) for m in missing)} "
                f"(got columns: {shown or 'none'})",
                1,
            )
        )
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise LogError(Diagnostic(name, f"duplicate column {', '.join(map(repr, dupes))}", 1))
    return header


def short_rows(chunk: bytes, columns: int) -> bool:
    """Whether some row among the whole CSV lines of `chunk` has fewer than `columns`
    fields (the Python reader rejects it; Polars would fill it with nulls).

    Counting commas decides most chunks in one pass: without quotes, a chunk whose rows
    all have `columns` fields has exactly that many commas per line. Otherwise the csv
    module counts each row's fields.
    """
    lines = chunk.count(b"\n") + (chunk[-1:] != b"\n")
    if b'"' not in chunk and chunk.count(b",") == lines * (columns - 1):
        return False
    rows = csv.reader(io.StringIO(chunk.decode("utf-8", "surrogateescape"), newline=""))
    try:
        return any(len(row) < columns and any(c.strip() for c in row) for row in rows)
    except csv.Error:
        return True


def _csv(handle: Iterable[str], name: str) -> Iterator[RawRecord]:
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise LogError(
            Diagnostic(name, "empty file: expected a header row naming at least id and date", 1)
        ) from None
    except csv.Error as e:
        raise LogError(Diagnostic(name, f"unreadable header row: {e}", 1)) from None
    header = check_header(name, header)
    width = len(header)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line = reader.line_num
            yield RawRecord({}, name, line=start, problems=(f"unreadable row: {e}",))
            continue
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue  # blank line
        record = RawRecord(dict(zip(header, row, strict=False)), name, line=start)
        if len(row) != width:
            problems = (f"row has {len(row)} fields; the header has {width}",)
            record = RawRecord(record.data, name, line=start, problems=problems)
        if _UNDECODABLE.search("".join(row)):
            record = readable(record)
        yield record


class _Object(dict[str, Any]):
    """A JSON object in which some key was written more than once (the last value kept,
    as json does, and the record rejected: `"quantity": 600000, "quantity": 1`)."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) == len(pairs):
        return data
    counts = Counter(k for k, _ in pairs)
    marked = _Object(data)
    marked.duplicates = sorted(k for k, n in counts.items() if n > 1)
    return marked


def _int(text: str) -> int | Decimal:
    # int() refuses more than 4,300 digits (a guard against quadratic conversion); such
    # a number is kept exact as a Decimal, and validation rejects it as too large.
    return int(text) if len(text) <= 4300 else Decimal(text)


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_object, parse_int=_int)


def _record(data: Any, name: str, line: int | None, index: int | None) -> RawRecord:
    if not isinstance(data, dict):
        problem = f"expected a JSON object (got {type(data).__name__})"
        return RawRecord({}, name, line=line, index=index, problems=(problem,))
    if isinstance(data, _Object):
        problem = f"duplicate key {', '.join(map(repr, data.duplicates))} in the JSON object"
        return RawRecord(data, name, line=line, index=index, problems=(problem,))
    return RawRecord(data, name, line=line, index=index)


def _jsonl(handle: Iterable[str], name: str) -> Iterator[RawRecord]:
    for number, text in enumerate(handle, start=1):
        if (record := jsonl_record(text, name, number)) is not None:
            yield record


def jsonl_record(text: str, name: str, number: int) -> RawRecord | None:
    """The record of line `number` of a JSON Lines log (`text` with its line end, as
    reading the file gives it), None for a blank line. Not yet `readable`."""
    if not text.strip():
        return None
    try:
        data = _loads(text)
    except json.JSONDecodeError as e:
        problem = f"invalid JSON: {e.msg} at column {e.colno}"
        return RawRecord({}, name, line=number, problems=(problem,))
    except RecursionError:
        return RawRecord({}, name, line=number, problems=("JSON nested too deeply",))
    return _record(data, name, number, None)


def _json(handle: IO[str], name: str) -> Iterator[RawRecord]:
    try:
        data = _loads(handle.read())
    except json.JSONDecodeError as e:
        raise LogError(Diagnostic(name, f"invalid JSON: {e.msg}", e.lineno, e.colno)) from None
    except RecursionError:
        raise LogError(Diagnostic(name, "JSON nested too deeply")) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise LogError(Diagnostic(name, "expected a JSON array of shipment objects", 1, 1))
    for index, item in enumerate(data):
        yield _record(item, name, None, index)


def _frame(frame: Any) -> Iterator[RawRecord]:
    module = type(frame).__module__
    rows: Iterable[Mapping[str, Any]]
    if module.startswith("polars"):
        rows = frame.iter_rows(named=True)
    else:
        rows = pandas_rows(frame)
    for index, row in enumerate(rows):
        yield RawRecord(row, "<dataframe>", index=index)


def pandas_rows(frame: Any, positions: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a pandas DataFrame (those at `positions`, else all) as `to_dict("records")`
    gives them, with NaT and pd.NA as None: pandas' missing date and missing value are
    absent, as an empty CSV cell is (NaN already is)."""
    import pandas as pd

    part = frame if positions is None else frame.iloc[positions]
    nat, na = pd.NaT, pd.NA  # singletons (a generator over them per cell was 20 µs a row)
    for row in part.to_dict("records"):
        yield {k: None if v is nat or v is na else v for k, v in row.items()}


def _parquet(path: str, name: str) -> Iterator[RawRecord]:
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except Exception as e:
        raise LogError(Diagnostic(name, f"cannot read Parquet: {e}")) from None
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield RawRecord(row, name, index=index)
