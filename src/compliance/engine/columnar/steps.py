"""Correlation chains of the columnar engine: the step tables of clean rows computed from
their columns, and Shipments built only for the events of the chains found.

A clean row's step table row is what `correlate.step_row` gives of its Shipment, from the
normalised values the screen already has (`FieldExprs.norm`, the values `shipments`
builds the Shipment from). A step's test is a selector, and on clean rows
`FieldExprs.may_match` is exact but for numbers within float rounding of a bound: it is
an upper bound of the selector's truth, and `~may_match(Not(s))` a lower bound. Where the
two agree for every step of a row, the columns decide its steps; a row where they differ
(a number at a bound's rounding) is built and tested by the rule's Python step test
(`CompiledCorrelation.steps_of`). So the table is the Python table, row for row
(tests/test_correlation_steps.py compares them on random rules and evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from compliance.engine.columnar.expressions import date_in
from compliance.engine.columnar.shipments import shipments
from compliance.engine.correlate import JoinPlan, polars_chains, step_table
from compliance.events import DATE_FIELDS, Shipment
from compliance.rulebook.correlation import Chain, CompiledCorrelation, step_condition
from compliance.rulebook.selectors import Not, Selector

if TYPE_CHECKING:
    import polars as pl

    from compliance.engine.columnar.expressions import FieldExprs
    from compliance.engine.columnar.screen import Scan

__all__ = ["clean_step_table", "columnar_chains", "surely"]

_ORDINAL = date(1970, 1, 1).toordinal()  # a Polars date's day number is days since 1970
_SCAN_BITS = 32  # a clean row's `__i`: events given + (scan << 32) + row


def surely(exprs: FieldExprs, condition: Selector) -> pl.Expr:
    """On clean rows, true only where `condition` holds (exactly): the lower bound of
    `FieldExprs.may_match`, which is exact but for numbers within float rounding of a
    bound. Where it is false and `may_match` true, only the exact evaluator can say."""
    return ~exprs.may_match(Not(condition))


def clean_step_table(
    compiled: CompiledCorrelation, plan: JoinPlan, scan: Scan, frame: pl.DataFrame, base: int
) -> pl.DataFrame:
    """The step table (`step_table`'s columns) of clean rows of a scan, `__i` being
    `base` + the row's `__row`: the rows the columns decide, and the others tested on
    their Shipment."""
    import polars as pl

    exprs = scan.exprs
    rule = compiled.rule

    def present(field: str) -> pl.Expr:
        return text(field).is_not_null()

    def text(field: str) -> pl.Expr:
        """The join text `step_row` takes of a Shipment's value: str() of it."""
        if field.startswith("extra."):
            name = field[6:]
            # Shipment.extra holds the columns that are no event field only.
            return exprs.raw(name) if name in exprs.extras else pl.lit(None, dtype=pl.String)
        value = exprs.norm(field)
        # A clean amount's text is str(Decimal(text)) already (`_AMOUNT`).
        return value.dt.strftime("%Y-%m-%d") if field in DATE_FIELDS else value

    day = exprs.norm("date")
    effective = date_in(day, rule.effective.from_, rule.effective.to)
    upper: list[pl.Expr] = []
    lower: list[pl.Expr] = []
    for k, step in enumerate(rule.steps):
        condition = step_condition(rule, step)
        needs = [present(f) for f in sorted(compiled.needs[k])]
        fits = pl.all_horizontal([effective, *needs])
        bit = pl.lit(1 << k, dtype=pl.Int64)
        upper.append(pl.when(exprs.may_match(condition) & fits).then(bit).otherwise(0))
        lower.append(pl.when(surely(exprs, condition) & fits).then(bit).otherwise(0))
    rows = frame.select(
        pl.col("__row"),
        pl.sum_horizontal(upper).alias("__m"),
        pl.sum_horizontal(lower).alias("__lo"),
        (day.cast(pl.Int64) + _ORDINAL).alias("__d"),
        exprs.norm("id").alias("__e"),
        *(text(f).alias(c) for f, c in zip(plan.fields, plan.columns(), strict=True)),
    )
    decided = rows.filter((pl.col("__m") == pl.col("__lo")) & (pl.col("__m") != 0)).select(
        (pl.col("__row").cast(pl.Int64) + base).alias("__i"),
        "__m", "__d", "__e", *plan.columns(),
    )  # fmt: skip
    undecided = rows.filter(pl.col("__m") != pl.col("__lo")).get_column("__row").to_list()
    if not undecided:
        return decided
    tested, positions = step_table(compiled, plan, shipments(scan, frame, undecided))
    tested = tested.with_columns(
        pl.Series("__i", [undecided[p] + base for p in positions], dtype=pl.Int64)
    )
    return pl.concat([decided, tested])


def columnar_chains(
    compiled: CompiledCorrelation,
    events: Sequence[Shipment],
    clean: Sequence[tuple[Scan, pl.DataFrame]],
    mask: str,
) -> list[Chain]:
    """The first chain of each first-step event (as `correlate.polars_chains` finds them)
    among the accepted `events` that reached Python and the clean rows (of each scan, its
    rows with `mask`, the screen's test of the rule) in (date, id) order of the chains.
    Only the clean rows of the chains found are built as Shipments."""
    import polars as pl

    plan = JoinPlan.of(compiled)
    parts = [step_table(compiled, plan, events)[0]]
    bases = []
    for n, (scan, frame) in enumerate(clean):
        base = len(events) + (n << _SCAN_BITS)
        bases.append(base)
        parts.append(clean_step_table(compiled, plan, scan, frame.filter(pl.col(mask)), base))
    first = polars_chains(plan, pl.concat(parts))
    columns = [f"__i@{k}" for k in range(plan.steps)]
    # The chains' clean rows, built per scan (and kept there for the other rules).
    wanted = pl.concat([first.get_column(c) for c in columns]).unique()
    built: dict[int, Shipment] = {}
    for n, (scan, frame) in enumerate(clean):
        base = bases[n]
        mine = wanted.filter((wanted >= base) & (wanted < base + (1 << _SCAN_BITS)))
        rows = (mine - base).sort().to_list()
        if rows:
            built.update(zip((r + base for r in rows), shipments(scan, frame, rows), strict=True))
    out = []
    for row in first.select(columns).iter_rows():
        out.append(tuple(events[i] if i < len(events) else built[i] for i in row))
    return out
