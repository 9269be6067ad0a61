"""The columnar engine's correlation step tables from columns (engine/columnar/steps.py)
against the Python step test: on random correlation rules and clean evidence (numbers
at a selector's bound and within float rounding of it included), the step table of the
clean rows is the one `step_table` gives of their Shipments, and the findings are those
of chains found among every candidate's Shipment."""

from __future__ import annotations

import csv
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from compliance.engine._progress import Progress
from compliance.engine.columnar.evaluation import findings_of
from compliance.engine.columnar.plan import Plan
from compliance.engine.columnar.screen import scan_csv
from compliance.engine.columnar.selection import select_rows
from compliance.engine.columnar.shipments import shipments
from compliance.engine.columnar.steps import clean_step_table
from compliance.engine.correlate import JoinPlan, polars_chains, step_table
from compliance.events import Shipment
from compliance.rulebook.correlation import Chain, CompiledCorrelation
from compliance.rulebook.rulebook import Rulebook
from compliance.testing.strategies import CORRELATION_BOUNDS, CORRELATION_DAYS, correlation_rules

VESSELS = ["9354521", "9123453"]
COLUMNS = ["id", "date", "transfer", "hs_code", "product", "quantity", "unit", "vessel_imo",
           "counterparty_imo", "destination", "supplier", "reported_on", "voyage"]  # fmt: skip


@st.composite
def quantities(draw: st.DrawFn) -> str:
    """Amounts at the selectors' integer bounds, and within float rounding of them."""
    n = draw(st.sampled_from([*CORRELATION_BOUNDS, 500]))
    return draw(st.sampled_from([str(n), f"{n}.5", f"{n}.00000000000000001",
                                 f"{n - 1}.99999999999999999"]))  # fmt: skip


@st.composite
def evidence(draw: st.DrawFn) -> list[dict[str, str]]:
    lo, hi = CORRELATION_DAYS
    span = (hi - lo).days
    rows = []
    for i in range(draw(st.integers(0, 24))):
        row = {
            "id": f"e{i}",
            "date": (lo + timedelta(days=draw(st.integers(-5, span + 5)))).isoformat(),
            "transfer": draw(st.sampled_from(["ship_to_ship", "port", "rail"])),
            "hs_code": draw(st.sampled_from(["2709", "271019", "2711", "27", "8703", ""])),
            "product": draw(st.sampled_from(["crude", "diesel", "gasoline", ""])),
            "vessel_imo": draw(st.sampled_from(VESSELS)),
            "counterparty_imo": draw(st.sampled_from([*VESSELS, VESSELS[0], ""])),
            "destination": draw(st.sampled_from(["KP", "kp", "CN", "RU", "SG", ""])),
            "supplier": draw(st.sampled_from(["CN", "RU", "SG", ""])),
            "reported_on": draw(st.sampled_from(["", "2019-04-01"])),
            "voyage": draw(st.sampled_from(["", "v1", "v2"])),
        }
        if draw(st.booleans()):
            row.update(quantity=draw(quantities()), unit="bbl")
        rows.append(row)
    return rows


def _selection(directory: Path, rulebook: Rulebook, rows: list[dict[str, str]]) -> Any:
    path = directory / "log.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return select_rows([scan_csv(str(path), Plan(rulebook), Progress())], [])


def _reference(index: int, compiled: CompiledCorrelation, events: list[Shipment]) -> list[Chain]:
    """The chains among Shipments, each tested by the rule's Python step test."""
    plan = JoinPlan.of(compiled)
    first = polars_chains(plan, step_table(compiled, plan, events)[0])
    rows = first.select(f"__i@{k}" for k in range(plan.steps)).iter_rows()
    return [tuple(events[i] for i in row) for row in rows]


@given(st.lists(correlation_rules(), min_size=1, max_size=2), evidence())
def test_clean_step_tables_are_the_python_step_tables(rules: list[Any], rows: Any) -> None:
    rules = [r.model_copy(update={"id": f"c{n}"}) for n, r in enumerate(rules)]
    rulebook = Rulebook(rules=tuple(rules), sources=("<hypothesis>",))
    plan = Plan(rulebook)
    with tempfile.TemporaryDirectory() as tmp:
        selection = _selection(Path(tmp), rulebook, rows)
        again = _selection(Path(tmp), rulebook, rows)
    for index, rule in enumerate(rules):
        compiled = CompiledCorrelation(rule)
        join = JoinPlan.of(compiled)
        for scan, frame in selection.clean:
            # Every clean row's Shipment, tested in Python, against the screened rows'
            # table from columns (a row the screen dropped must be in no step).
            everything = frame.get_column("__row").to_list()
            python, positions = step_table(compiled, join, shipments(scan, frame, everything))
            python = python.with_columns(
                pl.Series("__i", [everything[p] for p in positions], dtype=pl.Int64)
            )
            columns = clean_step_table(compiled, join, scan, frame.filter(pl.col(f"__m{index}")), 0)
            assert columns.sort("__i").to_dicts() == python.sort("__i").to_dicts()
    day = selection.ledger.latest_date
    assert findings_of(plan, selection, day) == findings_of(plan, again, day, _reference)
