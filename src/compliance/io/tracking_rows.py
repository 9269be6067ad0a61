"""Rows of a vessel-tracking export: CSV, JSON Lines, a JSON array or an API response.

Every row comes back as a flat mapping of column name to text, with where it was read
(`line` for CSV and JSON Lines, `index` for a JSON array) and, when it could not be read
at all, the reason. Nested JSON objects (the Events API's `vessel`, `encounter`,
`port_visit`, `position`) are flattened to dotted names (`encounter.vessel.ssvid`), the
same names the Carrier Vessel Portal's CSV download uses for its columns; lists are kept
as JSON text. Only a file that cannot be read at all raises `LogError`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from compliance.errors import Diagnostic, LogError, located

__all__ = ["TrackingRow", "flatten", "read_rows", "rows_from"]

FIELD_LIMIT = 1024 * 1024  # bytes in one CSV field; a longer row is unmapped, not read


@dataclass(frozen=True)
class TrackingRow:
    """One input row: its flat columns, where it came from, and why it is unreadable."""

    columns: Mapping[str, str]
    source: str
    line: int | None = None
    index: int | None = None
    problem: str | None = None
    header: tuple[str, ...] = field(default=(), compare=False)

    def location(self) -> str:
        """`file:line`, `file[index]` or `file`, as rejected shipments are located."""
        return located(self.source, self.line, self.index)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"vessel": {"ssvid": 1}}` → `{"vessel.ssvid": "1"}`; lists as JSON, nulls dropped."""
    out: dict[str, str] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{name}."))
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        elif isinstance(v, bool):
            out[name] = "true" if v else "false"
        elif isinstance(v, list | tuple):
            out[name] = json.dumps(v, default=str, ensure_ascii=False)
        else:
            out[name] = str(v)
    return out


def rows_from(source: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[TrackingRow]:
    """Rows of a file (`-` for standard input) or of an iterable of mappings."""
    if isinstance(source, str | Path):
        yield from read_rows(source)
        return
    for index, item in enumerate(source):
        if isinstance(item, Mapping):
            yield TrackingRow(flatten(item), "<records>", index=index)
        else:
            problem = f"expected a mapping of columns (got {type(item).__name__})"
            yield TrackingRow({}, "<records>", index=index, problem=problem)


def read_rows(path: str | Path) -> Iterator[TrackingRow]:
    """Rows of one export file; the format from its suffix, else from its first byte."""
    name = str(path)
    if name == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        name = "<stdin>"
    else:
        try:
            text = Path(name).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as e:
            raise LogError(Diagnostic(name, f"cannot read export: {e.strerror or e}")) from None
    text = text.removeprefix("\ufeff")
    suffix = Path(name).suffix.lower()
    head = text.lstrip()[:1]
    if suffix in (".jsonl", ".ndjson") or (
        suffix != ".json" and head == "{" and not _one_object(text)
    ):
        yield from _jsonl(text, name)
    elif suffix == ".json" or head in ("[", "{"):
        yield from _json(text, name)
    else:
        yield from _csv(io.StringIO(text, newline=""), name)


def _one_object(text: str) -> bool:
    """An API response saved under another suffix: one JSON object, over several lines."""
    try:
        return isinstance(json.loads(text), dict) and "\n" in text.strip()
    except (json.JSONDecodeError, RecursionError):
        return False


def _csv(handle: IO[str], name: str) -> Iterator[TrackingRow]:
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(handle)
    try:
        header = tuple(h.strip() for h in next(reader))
    except StopIteration:
        raise LogError(Diagnostic(name, "empty file: expected a header row", 1)) from None
    except csv.Error as e:
        raise LogError(Diagnostic(name, f"unreadable header row: {e}", 1)) from None
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if reader.line_num == line:  # the reader cannot move past it
                raise LogError(Diagnostic(name, f"unreadable row: {e}", start)) from None
            line = reader.line_num
            yield TrackingRow({}, name, line=start, problem=f"unreadable row: {e}", header=header)
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is not a row
        if len(cells) > len(header):
            problem = f"row has {len(cells)} fields; the header has {len(header)}"
            yield TrackingRow({}, name, line=start, problem=problem, header=header)
            continue
        columns: dict[str, str] = {}
        for column, cell in zip(header, cells, strict=False):
            columns.setdefault(column, cell)  # a repeated column name: the first one counts
        yield TrackingRow(columns, name, line=start, header=header)


def _jsonl(text: str, name: str) -> Iterator[TrackingRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            problem = f"invalid JSON: {e.msg} at column {e.colno}"
            yield TrackingRow({}, name, line=number, problem=problem)
            continue
        except RecursionError:
            yield TrackingRow({}, name, line=number, problem="JSON nested too deeply")
            continue
        if isinstance(data, dict):
            yield TrackingRow(flatten(data), name, line=number)
        else:
            problem = f"expected a JSON object (got {type(data).__name__})"
            yield TrackingRow({}, name, line=number, problem=problem)


def _json(text: str, name: str) -> Iterator[TrackingRow]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LogError(Diagnostic(name, f"invalid JSON: {e.msg}", e.lineno, e.colno)) from None
    except RecursionError:
        raise LogError(Diagnostic(name, "JSON nested too deeply")) from None
    # An Events API response keeps its events under `entries`, beside paging fields.
    if isinstance(data, dict):
        data = data["entries"] if isinstance(data.get("entries"), list) else [data]
    if not isinstance(data, list):
        raise LogError(Diagnostic(name, "expected a JSON array of event objects", 1, 1))
    for index, item in enumerate(data):
        if isinstance(item, dict):
            yield TrackingRow(flatten(item), name, index=index)
        else:
            problem = f"expected a JSON object (got {type(item).__name__})"
            yield TrackingRow({}, name, index=index, problem=problem)
