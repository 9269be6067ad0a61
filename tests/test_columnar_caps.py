"""The columnar engine's caps (hot buckets ordered, grouped and put in periods in Polars,
then handed to the shared cap code) against the stream engine's per-event code, on random
cap rulebooks and logs of the events that match them (`compliance.testing`)."""

from __future__ import annotations

import csv
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.events import Shipment
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Rulebook, list[Shipment]]:
    rulebook = draw(strategies.rulebooks(max_rules=3))
    caps = [r for r in rulebook.rules if isinstance(r, CapRule)]
    events: list[Shipment] = []
    for k in range(draw(st.integers(0, 40)) if caps else 0):
        rule = draw(st.sampled_from(caps))
        try:
            event = draw(strategies.events_matching(rule, rulebook))
        except NoMatchingEvent:
            continue
        source = draw(st.sampled_from([None, "notification", "panel-report"]))
        # Ids that sort unlike the events' order, and some sharing a day with the last.
        same_day: bool = draw(st.booleans())
        day = events[-1].date if events and same_day else event.date
        events.append(event.model_copy(update={"id": f"e{(k * 7) % 41:02d}-{k}",
                                               "source": source, "date": day}))  # fmt: skip
    return rulebook, events


def _text(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _write(path: Path, events: list[Shipment]) -> None:
    rows = []
    for e in events:
        row = {k: _text(v) for k, v in e.model_dump(exclude_none=True).items()
               if k not in ("extra", "inferred_from")}  # fmt: skip
        row.update({k: _text(v) for k, v in (e.extra or {}).items()})
        rows.append(row)
    columns = sorted({k for row in rows for k in row} | {"id", "date"})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


@given(_cases())
def test_columnar_caps_equal_the_per_event_code(case: tuple[Rulebook, list[Shipment]]) -> None:
    rulebook, events = case
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "log.csv"
        _write(log, events)
        stream, columnar = (
            compliance.evaluate(str(log), rulebook, engine=e) for e in ("stream", "columnar")
        )
    assert columnar.to_dict() == stream.to_dict()
    assert [f.series for f in columnar.findings] == [f.series for f in stream.findings]
