"""Shipments of clean rows, built from the values `parse_shipment` would store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from compliance.events import FIELDS, NUMERIC_FIELDS, Shipment

if TYPE_CHECKING:
    import polars as pl

    from compliance.engine.columnar.screen import Scan

__all__ = ["construct", "shipments"]


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
        numeric = [f in NUMERIC_FIELDS for f in fields]
        width = len(fields)
        for row in normal.iter_rows():
            data: dict[str, Any] = {}
            for f, is_number, v in zip(fields, numeric, row[1 : width + 1], strict=True):
                if v is not None:
                    data[f] = Decimal(v) if is_number else v
            if extras:
                extra = {c: v for c, v in zip(extras, row[width + 1 :], strict=True)
                         if v is not None}  # fmt: skip
                if extra:
                    data["extra"] = extra
            built[row[0]] = construct(data)
    return [built[r] for r in rows]


_TEMPLATE: dict[str, Any] = {}


def construct(data: dict[str, Any]) -> Shipment:
    """`Shipment.model_construct(**data)` for trusted values, without its per-field work.

    model_construct resolves and copies every default on each call (half the cost of
    the findings of a large log); Shipment has no aliases, private attributes or
    post-init hook, so the instance is the defaults (copied once) updated with `data`.
    tests/test_columnar.py checks both give equal objects.
    """
    if not _TEMPLATE:
        _TEMPLATE.update(Shipment.model_construct(id="", date=date.min).__dict__)
    values = _TEMPLATE.copy()
    values.update(data)
    if "extra" not in data:
        values["extra"] = {}
    shipment = Shipment.__new__(Shipment)
    object.__setattr__(shipment, "__dict__", values)
    object.__setattr__(shipment, "__pydantic_fields_set__", set(data))
    object.__setattr__(shipment, "__pydantic_extra__", None)
    object.__setattr__(shipment, "__pydantic_private__", None)
    return shipment
