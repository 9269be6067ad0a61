"""Correlation rules as joins: one plan (`JoinPlan`), executed by Polars and by Spark.

The same rule as the stream engine's durable_rules network (rulebook/correlation.py
says what it means). Each accepted event matching some step of a rule is a row of the
rule's *step table* (`step_row`: its steps as a bit mask, its day number, its id and
the text of the fields the joins read); step k's frame is the rows with bit k, every
column suffixed `@k`. The chain grows one step at a time by equi-joins on the step's
join fields and on buckets of days (an event in the window is in the earlier event's
bucket or the next), filtered to its window and to events not already in the chain;
then each first-step event keeps its first chain in (date, id) order of the later
steps. `JoinPlan` says all of that once, as column names and windows; `polars_chains`
runs it in Polars (the columnar engine, which finds the last step by an as-of join to
its first event in the window instead) and `engine.spark.correlate` in Spark. (The
columnar engine computes the rows of its clean rows from their columns,
`engine.columnar.steps`.)
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

__all__ = [
    "ChainFinder",
    "JoinPlan",
    "StepJoin",
    "StepRow",
    "infer_columnar",
    "polars_chains",
    "step_row",
    "step_table",
]

StepRow = tuple[int, int, str, list[str | None]]
"""(steps as a bit mask, day number, id, text of each of `JoinPlan.fields`)."""

ChainFinder = Callable[[int, CompiledCorrelation, list[Shipment]], list[Chain]]
"""The first chains of a rule (by its rulebook index) among some accepted events."""


def step_row(
    compiled: CompiledCorrelation, fields: Sequence[str], event: Shipment
) -> StepRow | None:
    """An event's row of a rule's step table; None when it takes part in no step."""
    steps = compiled.steps_of(event)
    if not steps:
        return None
    # Joins compare values as text, as the stream engine's facts carry them.
    values = [None if (v := event.get(f)) is None else str(v) for f in fields]
    return sum(1 << k for k in steps), event.date.toordinal(), event.id, values


@dataclass(frozen=True)
class StepJoin:
    """How step `step` joins the chain of the steps before it."""

    step: int
    left: tuple[str, ...]  # chain columns (an earlier step's fields)
    right: tuple[str, ...]  # this step's columns, equal to `left` one by one
    after: int  # the step whose date the window is after
    days: int  # the window: 0 to `days` days after

    @property
    def size(self) -> int:
        """Days per bucket: an event 0..days after another is in its bucket or the
        next, so two equi-joins (with the join fields) find every pair in the window
        without pairing every event with every other."""
        return self.days + 1


@dataclass(frozen=True)
class JoinPlan:
    """A correlation rule's joins, by column name."""

    steps: int
    fields: tuple[str, ...]  # the fields the joins read (step table columns __v0, __v1, …)
    joins: tuple[StepJoin, ...]

    @classmethod
    def of(cls, compiled: CompiledCorrelation) -> JoinPlan:
        fields = tuple(sorted(set().union(*compiled.needs)))
        # Columns are named by position: field names (`extra.x`) are not column names
        # every engine takes.
        name = {f: f"__v{n}" for n, f in enumerate(fields)}
        joins = []
        for k in range(1, len(compiled.rule.steps)):
            window = compiled.windows[k]
            assert window is not None  # the loader requires a window after the first step
            joins.append(StepJoin(
                k, tuple(f"{name[j.other_field]}@{j.other}" for j in compiled.joins[k]),
                tuple(f"{name[j.field]}@{k}" for j in compiled.joins[k]), *window,
            ))  # fmt: skip
        return cls(len(compiled.rule.steps), fields, tuple(joins))

    def columns(self) -> list[str]:
        """The step table's columns of `fields`, in their order."""
        return [f"__v{n}" for n in range(len(self.fields))]

    @staticmethod
    def day(k: int) -> str:
        return f"__d@{k}"

    @staticmethod
    def ident(k: int) -> str:
        return f"__e@{k}"

    def step_columns(self, k: int, columns: Sequence[str]) -> dict[str, str]:
        """Step table column -> step k's frame column (the bit mask is dropped)."""
        return {c: f"{c}@{k}" for c in columns if c != "__m"}

    def choice(self) -> list[str]:
        """Within a first-step event's chains, the first is first in this order."""
        return [c for k in range(1, self.steps) for c in (self.day(k), self.ident(k))]

    def order(self) -> list[str]:
        """The order of the first chains (of every first-step event)."""
        return [c for k in range(self.steps) for c in (self.day(k), self.ident(k))]


def polars_chains(plan: JoinPlan, table: pl.DataFrame) -> pl.DataFrame:
    """The first chains of a step table, one row each, in `plan.order()`."""
    import polars as pl

    def frame(k: int) -> pl.DataFrame:
        own = table.filter((pl.col("__m") // (1 << k)) % 2 == 1)
        return own.select(
            pl.col(c).alias(n) for c, n in plan.step_columns(k, table.columns).items()
        )

    def firsts(chains: pl.DataFrame) -> pl.DataFrame:
        """Each first-step event's first chain among `chains`: of the first chains of
        several parts, the first of all."""
        ordered = chains.sort([plan.ident(0), *plan.choice()])
        return ordered.unique(subset=[plan.ident(0)], keep="first")

    def grown(chains: pl.DataFrame, join: StepJoin, step: pl.DataFrame) -> pl.DataFrame:
        k, size = join.step, join.size
        parts = [
            chains.with_columns((pl.col(plan.day(join.after)) // size + shift).alias("__b"))
            .join(step, left_on=[*join.left, "__b"], right_on=[*join.right, "__b"],
                  how="inner", coalesce=False)
            .drop("__b", "__b_right")
            for shift in (0, 1)
        ]  # fmt: skip
        gap = pl.col(plan.day(k)) - pl.col(plan.day(join.after))
        distinct = [pl.col(plan.ident(k)) != pl.col(plan.ident(j)) for j in range(k)]
        return pl.concat(parts).filter((gap >= 0) & (gap <= join.days), *distinct)

    def nearest(chains: pl.DataFrame, join: StepJoin, step: pl.DataFrame) -> pl.DataFrame:
        """Each chain grown by its first last-step event in (date, id) order: an as-of
        join on the event's rank in that order, from the first rank on the window's
        first day. Pairing every chain with every event of its window grew with the
        square of the log's density, while each chain keeps one event (534,000 pairs
        for 18,209 chains in the first 1 M rows of the log with a 5 % DPRK share; 17.6
        of the 78 s the 10 M rows took). An event already in the chain is passed over:
        the chain looks again from the rank after it."""
        k = join.step
        day = plan.day(join.after)
        # The join keys under names of their own on both sides (two of this step's
        # fields may join one earlier field); nulls join nothing, as in the equi-joins.
        keys = [f"__k{n}" for n in range(len(join.left))]
        ranked = (
            step.drop_nulls(list(join.right))
            .sort([plan.day(k), plan.ident(k)])
            .with_row_index("__o")
            .with_columns(
                pl.col("__o").cast(pl.Int64),
                *(pl.col(c).alias(n) for c, n in zip(join.right, keys, strict=True)),
            )
        )
        days = ranked.get_column(plan.day(k))
        looking = chains.drop_nulls(list(join.left))
        looking = looking.with_columns(
            days.search_sorted(looking.get_column(day), side="left").cast(pl.Int64).alias("__s"),
            *(pl.col(c).alias(n) for c, n in zip(join.left, keys, strict=True)),
        )
        found = []
        while True:  # once at least: an empty join still gives the columns
            matched = looking.sort("__s").join_asof(
                ranked, left_on="__s", right_on="__o", by=keys, strategy="forward",
                coalesce=False, check_sortedness=False,
            ).filter(pl.col("__o").is_not_null())  # fmt: skip
            matched = matched.filter(pl.col(plan.day(k)) - pl.col(day) <= join.days)
            taken = pl.any_horizontal(
                pl.col(plan.ident(k)) == pl.col(plan.ident(j)) for j in range(k)
            )
            found.append(matched.filter(~taken).select(*chains.columns, *step.columns))
            looking = matched.filter(taken).select(
                *chains.columns, (pl.col("__o") + 1).alias("__s"), *keys
            )
            if not looking.height:
                break
        return pl.concat(found)

    chains = frame(0)
    for join in plan.joins:
        if join.step == plan.steps - 1:
            chains = nearest(chains, join, frame(join.step))
            break
        step = frame(join.step).with_columns(
            (pl.col(plan.day(join.step)) // join.size).alias("__b")
        )
        chains = grown(chains, join, step)
    return firsts(chains).sort(plan.order())


def step_table(
    compiled: CompiledCorrelation, plan: JoinPlan, events: Sequence[Shipment]
) -> tuple[pl.DataFrame, list[int]]:
    """The step table of some events (`__i`: the event's position) and the positions."""
    import polars as pl

    rows: list[tuple[int, StepRow]] = []
    for i, event in enumerate(events):
        if (row := step_row(compiled, plan.fields, event)) is not None:
            rows.append((i, row))
    columns: dict[str, Any] = {
        "__i": pl.Series([i for i, _ in rows], dtype=pl.Int64),
        "__m": pl.Series([r[0] for _, r in rows], dtype=pl.Int64),
        "__d": pl.Series([r[1] for _, r in rows], dtype=pl.Int64),
        "__e": pl.Series([r[2] for _, r in rows], dtype=pl.String),
    }
    for n, column in enumerate(plan.columns()):
        columns[column] = pl.Series([r[3][n] for _, r in rows], dtype=pl.String)
    return pl.DataFrame(columns), [i for i, _ in rows]


def infer_columnar(
    rules: Sequence[Rule], chains: Callable[[int, CompiledCorrelation], list[Chain]]
) -> tuple[list[Finding], list[Shipment]]:
    """The `inferred` findings and inferred events of every correlation rule, given its
    first chains (by its rulebook index) in (date, id) order."""
    findings: list[Finding] = []
    inferred: list[Shipment] = []
    for index, rule in correlation_rules(rules):
        compiled = CompiledCorrelation(rule)
        for chain in chains(index, compiled):
            inference = compiled.infer(chain)
            findings.append(inference_finding(compiled, inference))
            inferred.append(inference.event)
    return findings, inferred
