"""Correlation rules as Spark joins: `JoinPlan` (engine/correlate.py) run by Spark.

The operations of `polars_chains`, on a Spark step table: the step frames (rows with
the step's bit, columns suffixed `@k`), the two equi-joins per step on the join fields
and the day buckets, the window and distinctness filter, and the first chain of each
first-step event (a row_number over its chains in `plan.choice()` order). Polars finds
the last step's first event by an as-of join instead of pairing every event of the
window; Spark pairs them all, spilling what does not fit (tests/test_spark.py holds the
reports equal). Only the first chains reach the driver, sorted there as Polars sorts
them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from compliance.engine.correlate import JoinPlan

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

    chains = frame(0)
    for join in plan.joins:
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
