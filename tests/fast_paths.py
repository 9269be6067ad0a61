"""What the CSV, JSON Lines and pandas tests share: the design example's rulebook, a
log's report on the columnar engine with one fast reader switched off, so that the log
takes the Python reader's path (`readers.records_from`) on the same engine, and the check
of which chunks have a line index."""

from __future__ import annotations

from collections.abc import Container, Iterable
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import event

import compliance

RULES = Path(__file__).parent / "data" / "design-example.yaml"


def columnar_report(source: Any, rulebook: compliance.Rulebook) -> dict[str, Any]:
    """The report of `source` on the columnar engine, as a dict."""
    return compliance.evaluate(source, rulebook, engine="columnar").to_dict()


def python_path(reader: type, source: Any, rulebook: compliance.Rulebook) -> dict[str, Any]:
    """The report of `source` with `reader.of` (`NdjsonLog.of`, `Typed.of`) saying that
    it does not take the source."""
    with mock.patch.object(reader, "of", staticmethod(lambda source: None)):
        return columnar_report(source, rulebook)


def assert_indexed_without_cr(chunks: Iterable[Any], index: Container[int], data: bytes) -> None:
    """Every chunk of `data` that Polars splits into the lines Python reads has a line
    index, and no other: a carriage return (which Polars' line split drops) would put the
    index's byte offsets out, and a chunk starting with a byte order mark (which Polars
    drops), holding bytes that are not UTF-8 or the separator byte is read by Python."""
    for chunk in chunks:
        part = data[chunk.start : chunk.end]
        try:
            part.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        plain = utf8 and not part.startswith(b"\xef\xbb\xbf") and not {13, 1} & set(part)
        indexed = chunk.first in index
        assert indexed is plain
        event("a chunk indexed" if indexed else "a chunk not indexed")
