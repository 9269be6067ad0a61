"""Shipments of clean rows, built from the values `parse_shipment` would store."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from compliance.events import FIELDS, NUMERIC_FIELDS, Shipment
from compliance.trusted import trusted

if TYPE_CHECKING:
    import polars as pl

    from compliance.engine.columnar.screen import Scan

__all__ = ["shipments"]


def shipments(scan: Scan, frame: pl.DataFrame, rows: list[int] | None = None) -> list[Shipment]:
    """Shipments of clean rows (`rows` of `frame`, else all of them).

    Built once per row (a row matching several rules is one shipment, as in the stream
    engine) and kept in `scan.built`.
    """
    import polars as pl

    if rows is None:
        rows = frame.get_column("__row").to_list()
    built = scan.built
    missing = [r for r in rows if r not in built]
    if missing:
        new = (
            frame if len(missing) == frame.height else frame.filter(pl.col("__row").is_in(missing))
        )
        exprs = scan.exprs
        fields = [f for f in FIELDS if f in exprs.present_fields]
        normal = new.select(
            pl.col("__row"), *(exprs.norm(f).alias(f) for f in fields),
            *(exprs.raw(c).alias(c) for c in exprs.extras),
        )  # fmt: skip
        extras = exprs.extras
        # Column by column (the numbers' Decimals in one pass each), then a row's
        # fields in one comprehension: the per-value work left is the null test.
        columns = []
        for f in fields:
            values = normal.get_column(f).to_list()
            if f in NUMERIC_FIELDS:
                values = [None if v is None else Decimal(v) for v in values]
            columns.append(values)
        extra_rows = (
            zip(*(normal.get_column(c).to_list() for c in extras), strict=True) if extras else None
        )
        for at, row in zip(normal.get_column("__row").to_list(), zip(*columns, strict=True),
                           strict=True):  # fmt: skip
            data: dict[str, Any] = {f: v for f, v in zip(fields, row, strict=True) if v is not None}
            if extra_rows is not None:
                extra = {c: v for c, v in zip(extras, next(extra_rows), strict=True)
                         if v is not None}  # fmt: skip
                if extra:
                    data["extra"] = extra
            built[at] = trusted(Shipment, data)
    return [built[r] for r in rows]
