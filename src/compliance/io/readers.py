"""Shipment logs in: CSV, JSON Lines, a JSON array, stdin, iterables and DataFrames.

Readers never drop a record. A row that cannot even be parsed (invalid JSON, too many
fields, bytes that are not UTF-8) becomes a record carrying its problem, so the ledger
rejects it with its line; only a file that cannot be read at all raises `LogError`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from compliance.errors import Diagnostic, LogError
from compliance.events import Shipment
from compliance.ledger import RawRecord

__all__ = ["LogSource", "is_frame", "log_format", "parse_stream", "read_log", "records_from"]

LogSource = str | Path | Iterable[Any]
FIELD_LIMIT = 1024 * 1024  # bytes in one CSV field; longer rows are rejected, not read
REQUIRED = ("id", "date")


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
        yield from _frame(source)
    else:
        for index, item in enumerate(source):
            if isinstance(item, Shipment):
                yield RawRecord(item.to_record(), "<records>", index=index)
            elif isinstance(item, Mapping):
                yield RawRecord(item, "<records>", index=index)
            else:
                yield RawRecord(
                    {},
                    "<records>",
                    index=index,
                    problems=(f"expected a mapping of fields (got {type(item).__name__})",),
                )


def read_log(path: str | Path) -> Iterator[RawRecord]:
    """Records of one log file (or standard input for `-`)."""
    name = str(path)
    if name == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").lstrip("\ufeff")
        head = text.lstrip()[:1]
        fmt = "json" if head == "[" else "jsonl" if head == "{" else "csv"
        yield from _parse(io.StringIO(text, newline=""), "<stdin>", fmt)
        return
    fmt = log_format(name)
    if fmt == "parquet":
        yield from _parquet(name)
        return
    try:
        handle = open(name, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
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
        yield from _jsonl(lines, name)
    else:
        raise ValueError(f"a stream is csv or jsonl (got {fmt!r})")


def _parse(handle: IO[str], name: str, fmt: str) -> Iterator[RawRecord]:
    if fmt == "csv":
        yield from _csv(handle, name)
    elif fmt == "jsonl":
        yield from _jsonl(handle, name)
    else:
        yield from _json(handle, name)


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
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LogError(
            Diagnostic(
                name,
                f"missing required column {', '.join(repr(m) for m in missing)} "
                f"(got columns: {', '.join(header) or 'none'})",
                1,
            )
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise LogError(Diagnostic(name, f"duplicate column {', '.join(map(repr, dupes))}", 1))
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
        if len(row) > len(header):
            yield RawRecord(
                dict(zip(header, row, strict=False)),
                name,
                line=start,
                problems=(f"row has {len(row)} fields; the header has {len(header)}",),
            )
            continue
        yield RawRecord(dict(zip(header, row, strict=False)), name, line=start)


def _jsonl(handle: Iterable[str], name: str) -> Iterator[RawRecord]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            yield RawRecord(
                {}, name, line=number, problems=(f"invalid JSON: {e.msg} at column {e.colno}",)
            )
            continue
        except RecursionError:
            yield RawRecord({}, name, line=number, problems=("JSON nested too deeply",))
            continue
        if not isinstance(data, dict):
            yield RawRecord(
                {},
                name,
                line=number,
                problems=(f"expected a JSON object (got {type(data).__name__})",),
            )
            continue
        yield RawRecord(data, name, line=number)


def _json(handle: IO[str], name: str) -> Iterator[RawRecord]:
    try:
        data = json.load(handle)
    except json.JSONDecodeError as e:
        raise LogError(Diagnostic(name, f"invalid JSON: {e.msg}", e.lineno, e.colno)) from None
    except RecursionError:
        raise LogError(Diagnostic(name, "JSON nested too deeply")) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise LogError(Diagnostic(name, "expected a JSON array of shipment objects", 1, 1))
    for index, item in enumerate(data):
        if isinstance(item, dict):
            yield RawRecord(item, name, index=index)
        else:
            yield RawRecord(
                {},
                name,
                index=index,
                problems=(f"expected a JSON object (got {type(item).__name__})",),
            )


def _frame(frame: Any) -> Iterator[RawRecord]:
    module = type(frame).__module__
    rows: Iterable[Mapping[str, Any]]
    if module.startswith("polars"):
        rows = frame.iter_rows(named=True)
    else:
        rows = frame.to_dict("records")
    for index, row in enumerate(rows):
        yield RawRecord(row, "<dataframe>", index=index)


def _parquet(name: str) -> Iterator[RawRecord]:
    import polars as pl

    try:
        frame = pl.read_parquet(name)
    except Exception as e:
        raise LogError(Diagnostic(name, f"cannot read Parquet: {e}")) from None
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield RawRecord(row, name, index=index)
