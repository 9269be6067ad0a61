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
from dataclasses import dataclass
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

__all__ = ["SLICE", "infer_columnar", "infer_polars"]


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


SLICE = 5_000  # first-step chains joined with the last step at a time


@dataclass(frozen=True)
class _Join:
    """Chains grown by step `k`: its events `after` the event of step `after` by 0 to
    `days` days, on the join fields (`left` of the chain, `right` of the step, the day
    bucket last)."""

    k: int
    after: int
    days: int
    left: list[str]
    right: list[str]

    def grown(self, chains: pl.DataFrame, step: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        k, after, size = self.k, self.after, self.days + 1
        pairs = [
            chains.with_columns((pl.col(f"__d{after}") // size + shift).alias("__b"))
            .join(step, left_on=self.left, right_on=self.right, how="inner", coalesce=False)
            .drop("__b", "__b_right")
            for shift in (0, 1)
        ]
        gap = pl.col(f"__d{k}") - pl.col(f"__d{after}")
        distinct = [pl.col(f"__e{k}") != pl.col(f"__e{j}") for j in range(k)]
        return pl.concat(pairs).filter((gap >= 0) & (gap <= self.days), *distinct)


def _firsts(chains: pl.DataFrame, steps: int) -> pl.DataFrame:
    """Each first-step event's first chain among `chains` (in (date, id) order of its
    later steps): of the first chains of several parts, the first of all."""
    order = [c for k in range(1, steps) for c in (f"__d{k}", f"__e{k}")]
    return chains.sort(["__e0", *order]).unique(subset=["__e0"], keep="first")


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
        join = _Join(k, after, days, left, right)
        if k < steps - 1:
            chains = join.grown(chains, step)
            continue
        # The last step: each slice's chains are cut to each first event's first at once.
        # Where a few vessels make many transfers and calls, the pairs in a window grow
        # with the square of the log's density (534,000 for 18,209 chains in the first
        # 1 M rows of the log with a 5 % DPRK share; the whole log peaked at 14 GB),
        # while the first chains are one per first-step event.
        slices = range(0, max(chains.height, 1), SLICE)
        chains = pl.concat(
            [_firsts(join.grown(chains.slice(at, SLICE), step), steps) for at in slices]
        )
    first = _firsts(chains, steps)
    first = first.sort([c for k in range(steps) for c in (f"__d{k}", f"__e{k}")])
    indices = first.select([f"__i{k}" for k in range(steps)]).iter_rows()
    return [tuple(events[i] for i in row) for row in indices]
