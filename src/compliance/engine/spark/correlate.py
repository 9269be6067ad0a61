"""Correlation rules as Spark joins: `JoinPlan` (engine/correlate.py) run by Spark.

The operations of `polars_chains`, on a Spark step table: the step frames (rows with
the step's bit, columns suffixed `@k`), the two equi-joins per step on the join fields
and the day buckets, the window and distinctness filter, and the first chain of each
first-step event (a row_number over its chains in `plan.choice()` order). The last step
takes each chain's first event in (date, id) order, as Polars' as-of join does, by a
running `last` over the chains and events of one join key in descending order: pairing
every chain with every event of its window grew with the square of the log's density.
Only the first chains reach the driver, sorted there as Polars sorts them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from compliance.engine.correlate import JoinPlan, StepJoin

if TYPE_CHECKING:
    import polars as pl

__all__ = ["spark_chains"]


def _bucket(column: str, size: int) -> Any:
    from pyspark.sql import functions as F

    # Day numbers are positive: integer division is the floor Polars takes.
    return F.expr(f"`{column}` div {size}")


def spark_chains(plan: JoinPlan, table: Any) -> pl.DataFrame:
    """The first chains of a Spark step table, one row each, in `plan.order()`."""
    import polars as pl
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def frame(k: int) -> Any:
        own = table.filter(F.shiftright(F.col("__m"), k) % 2 == 1)
        return own.select(
            *(F.col(c).alias(n) for c, n in plan.step_columns(k, table.columns).items())
        )

    def nearest(chains: Any, join: StepJoin, step: Any) -> Any:
        """Each chain grown by its first last-step event in (date, id) order from its
        window's first day, passing over events already in the chain (`polars_chains`'
        `nearest`). Chains and events of one join key are ordered by a position, (day, 0,
        "", 1) for a chain looking from a day, (day, 1, id, 0) for an event, (day, 1, id,
        1) for a chain looking again after that event; in descending order, a running
        last non-null event (Spark's incremental frame) is the first event at or after
        each chain's position."""
        k = join.step
        keys = [f"__k{n}" for n in range(len(join.left))]
        kept = [*chains.columns]
        places = ("__pd", "__pk", "__pi", "__ps")

        def position(day: Any, kind: int, ident: Any, after: int) -> list[Any]:
            parts = (day, F.lit(kind), ident, F.lit(after))
            return [c.alias(n) for c, n in zip(parts, places, strict=True)]

        ranked = step.dropna(subset=list(join.right)).select(
            *(F.col(c).alias(n) for c, n in zip(join.right, keys, strict=True)),
            *position(F.col(plan.day(k)), 1, F.col(plan.ident(k)), 0),
            F.struct(*step.columns).alias("__ev"),
        )
        looking = chains.dropna(subset=list(join.left)).select(
            *(F.col(c).alias(n) for c, n in zip(join.left, keys, strict=True)),
            *position(F.col(plan.day(join.after)), 0, F.lit(""), 1),
            F.struct(*kept).alias("__ch"),
        )
        order = [F.col(c).desc() for c in places]
        window = (
            Window.partitionBy(*keys).orderBy(*order)
            .rowsBetween(Window.unboundedPreceding, Window.currentRow)
        )  # fmt: skip
        found = []
        while True:  # once at least: an empty result still has the columns
            both = ranked.unionByName(looking, allowMissingColumns=True)
            matched = (
                both.withColumn("__next", F.last("__ev", ignorenulls=True).over(window))
                .filter(F.col("__ch").isNotNull() & F.col("__next").isNotNull())
                .select(*keys, "__ch.*", "__next.*")
                .filter(F.col(plan.day(k)) - F.col(plan.day(join.after)) <= join.days)
                .localCheckpoint()  # what is kept and what looks again: one run of the window
            )  # fmt: skip
            taken = functools.reduce(
                lambda a, b: a | b,
                [F.col(plan.ident(k)) == F.col(plan.ident(j)) for j in range(k)],
            )
            found.append(matched.filter(~taken).select(*kept, *step.columns))
            again = matched.filter(taken).select(
                *keys, *position(F.col(plan.day(k)), 1, F.col(plan.ident(k)), 1),
                F.struct(*kept).alias("__ch"),
            )  # fmt: skip
            if again.isEmpty():
                break
            looking = again
        return functools.reduce(lambda a, b: a.unionByName(b), found)

    chains = frame(0)
    for join in plan.joins:
        if join.step == plan.steps - 1:
            chains = nearest(chains, join, frame(join.step))
            break
        k, size = join.step, join.size
        step = frame(k).withColumn("__b", _bucket(plan.day(k), size))
        parts = []
        for shift in (0, 1):
            left = chains.withColumn("__bl", _bucket(plan.day(join.after), size) + shift)
            # Column names are unique across the two sides (suffixed by step): the
            # condition names them, so Spark never resolves a self-join's columns.
            pairs = [*zip(join.left, join.right, strict=True), ("__bl", "__b")]
            on = functools.reduce(lambda a, b: a & b, [F.col(a) == F.col(b) for a, b in pairs])
            parts.append(left.join(step, on=on, how="inner").drop("__bl", "__b"))
        chains = parts[0].unionByName(parts[1])
        gap = F.col(plan.day(k)) - F.col(plan.day(join.after))
        keep = (gap >= 0) & (gap <= join.days)
        for j in range(k):
            keep = keep & (F.col(plan.ident(k)) != F.col(plan.ident(j)))
        chains = chains.filter(keep)
    first = Window.partitionBy(plan.ident(0)).orderBy(*plan.choice())
    chosen = chains.withColumn("__n", F.row_number().over(first)).filter(F.col("__n") == 1)
    result = pl.from_arrow(chosen.drop("__n").toArrow())
    assert isinstance(result, pl.DataFrame)
    return result.sort(plan.order())
