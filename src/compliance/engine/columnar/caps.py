"""Caps: screened in float64 per (rule, group, period) or rolling window, recomputed exactly.

Clean rows add float64 amounts in Polars; Python rows add theirs too. Only buckets whose
float total comes within MARGIN of their lowest level (smallest threshold or limit) are
recomputed in `Decimal` by the shared cap code (`cap_period_findings`,
`cap_rolling_findings`), on their members confirmed by the exact evaluator (the selection
screen may pass a row whose number is within float rounding of a bound; amounts are never
negative, so extra rows only make more buckets hot), ordered, grouped and put in their
periods here in Polars.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from compliance.engine.columnar.expressions import FieldExprs, date_in
from compliance.engine.columnar.plan import Plan
from compliance.engine.columnar.screen import Scan
from compliance.engine.columnar.shipments import shipments
from compliance.engine.columnar.steps import surely
from compliance.engine.findings import (
    Amounts,
    cap_amounts,
    cap_event_findings,
    cap_period_findings,
    cap_rolling_findings,
    span_of,
)
from compliance.events import DATE_FIELDS, NUMERIC_FIELDS, Shipment
from compliance.report import Finding
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod
from compliance.units import convert

if TYPE_CHECKING:
    import polars as pl

__all__ = ["MARGIN", "CapAmounts", "cap_findings"]

MARGIN = 1e-6  # relative float64 slack before a bucket is recomputed exactly


def _levels(rule: CapRule) -> list[float]:
    lowest = min([Decimal(1), *(t.fraction for t in rule.thresholds)])
    return [float(m.amount * lowest) * (1 - MARGIN) for m in rule.limit]


def _product_expr(exprs: FieldExprs, rulebook: Rulebook) -> pl.Expr:
    """`Rulebook.product_of` as an expression: the product, else the longest HS prefix."""
    import polars as pl

    product = exprs.norm("product")
    mapped: Any = pl.lit(None, dtype=pl.String)
    hs = exprs.norm("hs_code")
    for mapping in reversed(rulebook.hs_products):  # longest prefix wins: apply it last
        mapped = (
            pl.when(hs.str.starts_with(mapping.hs_code))
            .then(pl.lit(mapping.product))
            .otherwise(mapped)
        )
    return pl.coalesce(product, mapped)


def _clean_amounts(
    rule: CapRule, exprs: FieldExprs, frame: pl.DataFrame, rulebook: Rulebook
) -> pl.DataFrame:
    """float64 amount per measure of clean rows (null = unconvertible)."""
    import polars as pl

    base = frame.with_columns(
        exprs.norm("unit").alias("__unit"), _product_expr(exprs, rulebook).alias("__product"),
        exprs.number("quantity").alias("__q"), exprs.number("value").alias("__v"),
        exprs.norm("currency").alias("__cur"),
    )  # fmt: skip
    pairs = base.select("__unit", "__product").unique().rows()
    key = pl.col("__unit") + "|" + pl.col("__product").fill_null(_NO_PRODUCT)
    amounts = []
    for j, m in enumerate(rule.limit):
        if m.is_currency:
            amounts.append(pl.when(pl.col("__cur") == m.unit).then(pl.col("__v")).alias(f"__a{j}"))
            continue
        # convert() is linear in the quantity: one factor per (unit, product) seen.
        factors: dict[str, float] = {}
        for unit, product in pairs:
            if unit is None:
                continue
            k = convert(Decimal(1), unit, m.unit, rulebook.screen_factor(product, unit, m.unit))
            if k is not None:
                factors[f"{unit}|{product if product is not None else _NO_PRODUCT}"] = float(k)
        factor = key.replace_strict(factors, default=None, return_dtype=pl.Float64)
        amounts.append((pl.col("__q") * factor).alias(f"__a{j}"))
    return base.with_columns(amounts)


_NO_PRODUCT = "\x00"


def _group_columns(rule: CapRule) -> list[str]:
    return [f"__g{k}" for k in range(len(rule.group_by))]


def _group_value(exprs: FieldExprs, name: str) -> pl.Expr:
    import polars as pl

    field = name[6:] if name.startswith("extra.") else name
    if name.startswith("extra.") and field not in exprs.extras:
        return pl.lit(None, dtype=pl.String)
    if field in NUMERIC_FIELDS:
        return exprs.number(field)
    if field in DATE_FIELDS:
        return exprs.norm(field).dt.strftime("%Y-%m-%d")
    return exprs.norm(field)


def _python_group_value(e: Shipment, name: str) -> object:
    v = e.get(name)
    if v is None:
        return None
    if name in NUMERIC_FIELDS:
        return float(v)
    return v.isoformat() if isinstance(v, date) else str(v)


class CapAmounts:
    """Events' exact amounts in caps' measures, each event's computed once per set of
    measures in one evaluation: caps on the same measures share members (the rule on
    notified supply counts a subset of the all-evidence rule's events), and an amount
    depends on the measures' units only, not on the rule."""

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self._by_units: dict[tuple[str, ...], dict[int, tuple[Shipment, Amounts]]] = {}

    def of(self, rule: CapRule) -> Callable[[Shipment], Amounts]:
        """`cap_amounts(rule, event, rulebook)`, remembered."""
        # Keyed by identity (the engine builds each event once), the event kept with
        # its amounts: while the memo lives, no other object can take its id.
        memo = self._by_units.setdefault(tuple(m.unit for m in rule.limit), {})
        rulebook = self.rulebook

        def amounts(e: Shipment) -> Amounts:
            known = memo.get(id(e))
            if known is not None:
                return known[1]
            found = cap_amounts(rule, e, rulebook)
            memo[id(e)] = (e, found)
            return found

        return amounts


def cap_findings(
    plan: Plan,
    index: int,
    from_python: list[Shipment],
    clean_parts: list[tuple[int, Scan, pl.DataFrame]],
    seen: CapAmounts,
) -> list[Finding]:
    """The findings of cap `index`: `from_python` are the Python events it matches,
    `clean_parts` the clean rows of each scan that may match it, `seen` the amounts
    computed for the evaluation's other caps."""
    import polars as pl

    rule = plan.rules[index]
    assert isinstance(rule, CapRule)
    exact = plan.exact[index]
    rulebook = plan.rulebook
    amounts_of = seen.of(rule)
    out: list[Finding] = []
    sources: dict[int, tuple[Scan, pl.DataFrame]] = {}
    measures = len(rule.limit)
    groups = _group_columns(rule)
    numeric_group = any(g in NUMERIC_FIELDS for g in rule.group_by)
    schema: dict[str, Any] = {"__src": pl.Int32, "__pos": pl.Int64, "__date": pl.Date,
                              "__id": pl.String}  # fmt: skip
    for k, g in enumerate(rule.group_by):
        schema[groups[k]] = pl.Float64 if g in NUMERIC_FIELDS else pl.String
    for j in range(measures):
        schema[f"__a{j}"] = pl.Float64

    # Python rows: exact amounts, unconvertible findings.
    python_events = [e for e in from_python if e.date in rule.effective]
    python_amounts = [amounts_of(e) for e in python_events]
    # Events that add nothing in some measure raise their own findings (EVENT_KINDS).
    for e, amounts in zip(python_events, python_amounts, strict=True):
        out.extend(cap_event_findings(rule, e, amounts))
    columns: dict[str, list[Any]] = {
        "__src": [-1] * len(python_events), "__pos": list(range(len(python_events))),
        "__date": [e.date for e in python_events], "__id": [e.id for e in python_events],
    }  # fmt: skip
    for k, g in enumerate(rule.group_by):
        columns[groups[k]] = [_python_group_value(e, g) for e in python_events]
    for j in range(measures):
        columns[f"__a{j}"] = [None if (x := a[j]) is None else float(x) for a in python_amounts]
    frames = [pl.DataFrame(columns, schema=schema)]
    members = _Members(rule, python_events, python_amounts, sources, exact, amounts_of)

    # Clean rows: float amounts in Polars.
    for n, scan, part in clean_parts:
        if part.height == 0:
            continue
        part = _clean_amounts(rule, scan.exprs, part, rulebook).with_row_index("__pos")
        # Rows the columns place in the rule take no exact test (`_Members.groups`).
        part = part.with_columns(
            (surely(scan.exprs, plan.conditions[index]) & date_in(
                scan.exprs.norm("date"), rule.effective.from_, rule.effective.to
            )).alias("__sure")
        )  # fmt: skip
        sources[n] = (scan, part)
        bad = part.filter(pl.any_horizontal(pl.col(f"__a{j}").is_null() for j in range(measures)))
        for e in shipments(scan, bad):
            if e.date in rule.effective and exact(e):
                out.extend(cap_event_findings(rule, e, amounts_of(e)))
        frames.append(part.select(
            pl.lit(n, dtype=pl.Int32).alias("__src"), pl.col("__pos").cast(pl.Int64),
            scan.exprs.norm("date").alias("__date"), scan.exprs.raw("id").alias("__id"),
            *(_group_value(scan.exprs, g).alias(groups[k]) for k, g in enumerate(rule.group_by)),
            *(pl.col(f"__a{j}") for j in range(measures)),
        ))  # fmt: skip
    events = pl.concat(frames).with_columns(
        pl.col(f"__a{j}").fill_null(0.0) for j in range(measures)
    )
    if events.height == 0:
        return out

    levels = _levels(rule)
    if isinstance(rule.period, RollingPeriod):
        hot = _rolling_hot(events, groups, levels, rule.period.days, numeric_group)
        for segment in hot:
            for key, bucket in members.groups(segment).items():
                out.extend(cap_rolling_findings(rule, key, bucket, rulebook))
        return out

    dates = events.get_column("__date").unique().to_list()
    spans = {d: span_of(rule, d) for d in dates}
    span_frame = pl.DataFrame(
        {"__date": dates, "__span": [s.start if s else None for s in spans.values()]},
        schema={"__date": pl.Date, "__span": pl.Date},
    )
    events = events.join(span_frame, on="__date").filter(pl.col("__span").is_not_null())
    keys = [*groups, "__span"]
    totals = events.group_by(keys).agg(pl.col(f"__a{j}").sum() for j in range(measures))
    over = pl.any_horizontal(pl.col(f"__a{j}") >= levels[j] for j in range(measures))
    hot_keys = totals.filter(over).select(keys)
    if hot_keys.height == 0:
        return out
    members_frame = events.join(hot_keys, on=keys, nulls_equal=True)
    for part in members_frame.partition_by(keys):
        span = spans[part.get_column("__date")[0]]
        assert span is not None
        for key, bucket in members.groups(part).items():
            out.extend(cap_period_findings(rule, key, span, bucket, rulebook))
    return out


class _Members:
    """The members of hot buckets as the shared cap code takes them: events in (date, id)
    order with their exact amounts, split by their `group_by` values (Polars groups
    float values, which may merge groups), clean rows built and confirmed by the exact
    evaluator; Python events keep the amounts computed for the screen."""

    def __init__(
        self,
        rule: CapRule,
        python_events: list[Shipment],
        python_amounts: list[Amounts],
        sources: dict[int, tuple[Scan, pl.DataFrame]],
        exact: Callable[[Shipment], bool],
        amounts_of: Callable[[Shipment], Amounts],
    ) -> None:
        self.rule = rule
        self.python = python_events
        self.python_amounts = python_amounts
        self.sources = sources
        self.exact = exact
        self.amounts_of = amounts_of

    def groups(
        self, frame: pl.DataFrame
    ) -> dict[tuple[object, ...], list[tuple[Shipment, Amounts]]]:
        """The events of `frame`'s rows by group, each group in (date, id) order (ties
        in the order the rule's events were given: Python events, then each source's
        rows), as `findings_for_rule` orders and groups them."""
        import polars as pl

        frame = frame.sort(["__date", "__id", "__src", "__pos"])
        built: dict[int, dict[int, Shipment]] = {}
        sure: dict[int, set[int]] = {}  # rows certainly matching, by source
        for n, (scan, part) in self.sources.items():
            positions = frame.filter(pl.col("__src") == n).get_column("__pos")
            if positions.len():
                chosen = part.filter(pl.col("__pos").cast(pl.Int64).is_in(positions.implode()))
                row_of = dict(zip(chosen.get_column("__pos").to_list(), shipments(scan, chosen),
                                  strict=True))  # fmt: skip
                built[n] = row_of
                sure[n] = set(chosen.filter("__sure").get_column("__pos").to_list())
        exact, effective, amounts_of = self.exact, self.rule.effective, self.amounts_of
        fields = self.rule.group_by
        out: dict[tuple[object, ...], list[tuple[Shipment, Amounts]]] = defaultdict(list)
        for src, pos in frame.select("__src", "__pos").iter_rows():
            if src == -1:
                e, amounts = self.python[pos], self.python_amounts[pos]
            else:
                e = built[src][pos]
                if pos not in sure[src] and not (e.date in effective and exact(e)):
                    continue
                amounts = amounts_of(e)
            out[tuple(e.get(f) for f in fields) if fields else ()].append((e, amounts))
        return out


def _rolling_hot(
    events: pl.DataFrame,
    groups: list[str],
    levels: list[float],
    days: int,
    numeric_group: bool,
) -> list[pl.DataFrame]:
    """Runs of events (per group, in date order) that may be in a window over a level.

    Each run starts after an event whose window is certainly below every level, so the
    exact computation on the run alone sees the same "was it above?" state as on the
    whole group. Grouping on float values can merge groups; then the whole group is sent.
    """
    import polars as pl

    measures = len(levels)
    if groups:
        ids = events.select(groups).unique().with_row_index("__gid")
        events = events.join(ids, on=groups, nulls_equal=True)
    else:
        events = events.with_columns(pl.lit(0, dtype=pl.UInt32).alias("__gid"))
    order = ["__gid", "__date", "__id"]
    events = events.sort(order)
    daily = (
        events.group_by(["__gid", "__date"])
        .agg(pl.col(f"__a{j}").sum() for j in range(measures))
        .sort(["__gid", "__date"])
    )
    over_parts = []
    for j in range(measures):
        windowed = pl.col(f"__a{j}").rolling_sum_by("__date", f"{days}d").over("__gid")
        # Rolling sums add and subtract: allow for cancellation error on long histories.
        slack = 1e-9 * pl.col(f"__a{j}").abs().sum().over("__gid")
        over_parts.append(windowed >= levels[j] - slack)
    daily = daily.with_columns(pl.any_horizontal(over_parts).alias("__hot"))
    hot_days = daily.filter(pl.col("__hot")).select("__gid", "__date")
    if hot_days.height == 0:
        return []
    if numeric_group:
        return [events.join(hot_days.select("__gid").unique(), on="__gid")]
    # An event is needed when a hot day falls within the window's days after it.
    marks = hot_days.with_columns(pl.col("__date").alias("__hotday")).sort("__date")
    tagged = events.sort("__date").join_asof(
        marks, on="__date", by="__gid", strategy="forward", tolerance=timedelta(days=days - 1),
        check_sortedness=False,  # sorted by date above; the check warns with `by`
    ).sort(order)  # fmt: skip
    inside = pl.col("__hotday").is_not_null()
    run_start = inside & ~inside.shift(1).over("__gid").fill_null(False)
    tagged = tagged.with_columns(
        inside.alias("__in"), run_start.cast(pl.UInt32).cum_sum().over("__gid").alias("__run")
    ).filter(pl.col("__in"))
    return list(tagged.partition_by(["__gid", "__run"]))
