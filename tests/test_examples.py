"""The example logs shaped on reported evasion figures (examples/README.md).

They are what examples/make_examples.py writes, their stated totals are the reported
aggregates, and the bundled rulebook finds the refined-petroleum cap breached in each.
Regenerate them with: python examples/make_examples.py
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

import compliance
from compliance.engine._durable import durable_available
from compliance.report import Report

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REFINED_CAP = "unscr-2397-refined-petroleum"
# conversions.yaml, legacy BP factors (unverified): only the notified tonnes need them.
BARRELS_PER_TONNE = {"diesel": Decimal("7.5"), "gasoline": Decimal("8.5")}


@dataclass(frozen=True)
class Stated:
    """A reported aggregate: the records of `source` number `count` and sum to `total`."""

    source: str
    count: int
    total: Decimal
    unit: str


@dataclass(frozen=True)
class Example:
    log: str
    aggregates: tuple[Stated, ...]
    trigger: str  # the record that takes the year's total over 500,000 bbl
    crossed_on: date
    year_total_bbl: Decimal  # every matching record, tonnes converted
    designated: tuple[str, ...] = ()


EXAMPLES_EXPECTED = [
    Example(
        log="sts-deliveries-2018.csv",
        aggregates=(
            # US report to the 1718 Committee, July 2018: at least 89 port calls,
            # 1,367,628 bbl at about 90% laden (1 Jan - 30 May 2018).
            Stated("us-report", 89, Decimal("1367628"), "bbl"),
            # Legal sales reported by China and Russia by then: about 14,000 t.
            Stated("notification", 6, Decimal("14000"), "t"),
        ),
        trigger="us18-30",
        crossed_on=date(2018, 2, 21),
        year_total_bbl=Decimal("1479842"),
        # AN SAN 1 (IMO 7303803), designated 2018-03-30: its three later calls only.
        designated=("us18-77", "us18-81", "us18-83"),
    ),
    Example(
        log="deliveries-2020-jan-may.csv",
        aggregates=(
            # 43-State complaint, July 2020: more than 1.6 million bbl via 56 deliveries.
            Stated("state-complaint", 56, Decimal("1600000"), "bbl"),
            # China and Russia notified 106,094.17 bbl for the same months.
            Stated("notification", 10, Decimal("106094.17"), "bbl"),
        ),
        trigger="c20-17",
        crossed_on=date(2020, 2, 22),
        year_total_bbl=Decimal("1706094.17"),
    ),
]
IDS = [e.log for e in EXAMPLES_EXPECTED]


def _make_examples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while it is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _rows(log: str) -> list[dict[str, str]]:
    with (EXAMPLES / log).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    # The stream engine, where durable_rules imports for the bundled correlation rules.
    engine: compliance.Engine = "stream" if durable_available() else "columnar"
    return {e.log: compliance.evaluate(EXAMPLES / e.log, engine=engine) for e in EXAMPLES_EXPECTED}


def test_the_committed_logs_are_what_the_script_writes(tmp_path: Path) -> None:
    written = _make_examples().write_examples(tmp_path)
    assert sorted(p.name for p in written) == sorted(IDS)
    for path in written:
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes(), (
            f"examples/{path.name} is out of date: run python examples/make_examples.py"
        )


@pytest.mark.parametrize("example", EXAMPLES_EXPECTED, ids=IDS)
def test_stated_totals_are_the_reported_aggregates(example: Example) -> None:
    rows = _rows(example.log)
    assert len(rows) == sum(a.count for a in example.aggregates)
    for stated in example.aggregates:
        records = [r for r in rows if r["source"] == stated.source]
        assert len(records) == stated.count
        assert {r["unit"] for r in records} == {stated.unit}
        assert sum(Decimal(r["quantity"]) for r in records) == stated.total
    # Every record says which figures are reported and which details are illustrative.
    assert all("reported:" in r["basis"] and "illustrative:" in r["basis"] for r in rows)


@pytest.mark.parametrize("example", EXAMPLES_EXPECTED, ids=IDS)
def test_the_refined_cap_is_breached(example: Example, reports: dict[str, Report]) -> None:
    report = reports[example.log]
    assert report.accounting.rejected == 0 and report.rejected == []
    assert report.accounting.read == report.accounting.evaluated == len(_rows(example.log))
    assert not [f for f in report.findings if f.severity in ("error", "warning")]

    (cap,) = [f for f in report.findings if f.kind == "cap_exceeded"]
    assert cap.rule == REFINED_CAP
    assert (cap.trigger, cap.date) == (example.trigger, example.crossed_on)
    year = example.crossed_on.year
    assert cap.period is not None
    assert (cap.period.start, cap.period.end) == (date(year, 1, 1), date(year, 12, 31))
    assert cap.measure is not None and cap.measure.unit == "bbl"
    assert (
        cap.measure.running
        > Decimal(500000)
        >= cap.measure.running - _quantity(example, cap.trigger)
    )
    assert cap.measure.total == example.year_total_bbl == _total_bbl(example)
    assert cap.measure.excess == example.year_total_bbl - Decimal(500000)
    assert len(cap.events) == len(_rows(example.log))  # every record counts against the cap

    designated = sorted(f.trigger for f in report.findings if f.kind == "designated")
    assert designated == list(example.designated)


def _quantity(example: Example, record: str) -> Decimal:
    (row,) = [r for r in _rows(example.log) if r["id"] == record]
    assert row["unit"] == "bbl"
    return Decimal(row["quantity"])


def _total_bbl(example: Example) -> Decimal:
    total = Decimal(0)
    for r in _rows(example.log):
        factor = BARRELS_PER_TONNE[r["product"]] if r["unit"] == "t" else Decimal(1)
        total += Decimal(r["quantity"]) * factor
    return total
