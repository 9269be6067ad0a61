"""What the JSON Lines and pandas tests share: the design example's rulebook, and a
log's report on the columnar engine with one fast reader switched off, so that the log
takes the Python reader's path (`readers.records_from`) on the same engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

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
