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
    """Every chunk of `data` without a carriage return has a line index, and no other: a CR,
    which Polars' line split drops, would put the index's byte offsets out."""
    for chunk in chunks:
        indexed = chunk.first in index
        assert indexed is (b"\r" not in data[chunk.start : chunk.end])
        event("a chunk indexed" if indexed else "a chunk not indexed")
