"""Correlation rules on the columnar engine: chains found by Polars joins.

The same rule as the stream engine's durable_rules network (rulebook/correlation.py
says what it means): each step's events are a frame; the chain grows one step at a
time by equi-joins on the step's join fields and on buckets of days (an event in the
window is in the earlier event's bucket or the next), filtered to its window and to
events not already in the chain; then each first-step
event keeps its first chain in (date, id) order of the later steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from compliance.engine.findings import inference_finding
from compliance.events import Shipment
from compliance.report import Finding
from compliance.rulebook.correlation import (
    Chain,
    CompiledCorrelation,
    correlation_rules,
)
from compliance.rulebook.schema import Rule

if TYPE_CHECKING:
    import polars as pl

__all__ = ["infer_columnar", "infer_polars"]


def infer_columnar(
    rules: Sequence[Rule], step_events: Callable[[int], list[Shipment]]
) -> tuple[list[Finding], list[Shipment]]:
    """The `inferred` findings and inferred events of every correlation rule, given the
    accepted events that may match some step of the rule at an index (a superset: each
    is tested against the steps)."""
    findings: list[Finding] = []
    inferred: list[Shipment] = []
    for index, rule in correlation_rules(rules):
        compiled = CompiledCorrelation(rule)
        for chain in infer_polars(compiled, step_events(index)):
            inference = compiled.infer(chain)
            findings.append(inference_finding(compiled, inference))
            inferred.append(inference.event)
    return findings, inferred


def _step_frame(
    compiled: CompiledCorrelation, k: int, events: Sequence[Shipment], steps: list[list[int]]
) -> pl.DataFrame:
    import polars as pl

    fields = sorted(compiled.needs[k])
    rows = [i for i, of in enumerate(steps) if k in of]
    columns: dict[str, list[Any]] = {
        f"__i{k}": rows,
        f"__d{k}": [events[i].date.toordinal() for i in rows],
        f"__e{k}": [events[i].id for i in rows],
    }
    for f in fields:
        # Joins compare values as text, as the stream engine's facts carry them.
        columns[f"{f}@{k}"] = [str(events[i].get(f)) for i in rows]
    schema = {f"__i{k}": pl.Int64, f"__d{k}": pl.Int64, f"__e{k}": pl.String}
    schema |= {f"{f}@{k}": pl.String for f in fields}
    return pl.DataFrame(columns, schema=schema)


def infer_polars(compiled: CompiledCorrelation, events: Sequence[Shipment]) -> list[Chain]:
    """The first chain of each first-step event among `events` (accepted events, those
    matching no step of the rule taking no part), in (date, id) order of the chains."""
    import polars as pl

    steps = len(compiled.rule.steps)
    taking_part = [compiled.steps_of(e) for e in events]
    chains = _step_frame(compiled, 0, events, taking_part)
    for k in range(1, steps):
        step = _step_frame(compiled, k, events, taking_part)
        window = compiled.windows[k]
        assert window is not None  # the loader requires a window after the first step
        after, days = window
        # Days cut into buckets of days + 1: an event 0..days after another is in its
        # bucket or the next, so two equi-joins (with the step's join fields) find every
        # pair in the window without pairing every event with every other.
        size = days + 1
        left = [f"{j.other_field}@{j.other}" for j in compiled.joins[k]] + ["__b"]
        right = [f"{j.field}@{k}" for j in compiled.joins[k]] + ["__b"]
        step = step.with_columns((pl.col(f"__d{k}") // size).alias("__b"))
        parts = [
            chains.with_columns((pl.col(f"__d{after}") // size + shift).alias("__b"))
            .join(step, left_on=left, right_on=right, how="inner", coalesce=False)
            .drop("__b", "__b_right")
            for shift in (0, 1)
        ]
        chains = pl.concat(parts)
        gap = pl.col(f"__d{k}") - pl.col(f"__d{after}")
        distinct = [pl.col(f"__e{k}") != pl.col(f"__e{j}") for j in range(k)]
        chains = chains.filter((gap >= 0) & (gap <= days), *distinct)
    order = [c for k in range(1, steps) for c in (f"__d{k}", f"__e{k}")]
    first = chains.sort(["__e0", *order]).unique(subset=["__e0"], keep="first")
    first = first.sort([c for k in range(steps) for c in (f"__d{k}", f"__e{k}")])
    indices = first.select([f"__i{k}" for k in range(steps)]).iter_rows()
    return [tuple(events[i] for i in row) for row in indices]
