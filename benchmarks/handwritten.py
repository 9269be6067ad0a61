"""The hand-written Polars query the columnar engine is measured against (DESIGN §8).

The two oil caps of S/RES/2397 (2017) on a log, with nothing else: refined petroleum
(HS 2710) to the DPRK per calendar year against 500,000 bbl, crude (HS 2709) per 12
months from 2017-12-22 against 4,000,000 bbl or 525,000 t. Tonnes of refined products
become barrels with the rulebook's product factors. No validation, no ledger, floats.
"""

from __future__ import annotations

import json
import sys

import polars as pl

BBL_PER_TONNE = {"crude": 7.33, "gasoline": 8.45, "diesel": 7.46, "kerosene": 7.8,
                 "jet_fuel": 7.9, "fuel_oil": 6.66, "lpg": 11.6}  # fmt: skip
LITRES_PER_BBL = 158.987294928


def oil_caps(path: str) -> dict[str, object]:
    lf = pl.scan_csv(path, infer_schema=False).select(
        "id", "date", "hs_code", "destination", "product", "quantity", "unit"
    )
    lf = lf.filter(pl.col("destination").str.to_uppercase() == "KP").with_columns(
        pl.col("hs_code").str.replace_all(".", "", literal=True).alias("hs"),
        pl.col("date").str.to_date("%Y-%m-%d"),
        pl.col("quantity").cast(pl.Float64),
        pl.col("unit").str.to_lowercase(),
    )
    factor = (
        pl.col("product")
        .fill_null("crude")
        .replace_strict(BBL_PER_TONNE, default=None, return_dtype=pl.Float64)
    )
    barrels = (
        pl.when(pl.col("unit") == "bbl").then(pl.col("quantity"))
        .when(pl.col("unit") == "t").then(pl.col("quantity") * factor)
        .when(pl.col("unit") == "l").then(pl.col("quantity") / LITRES_PER_BBL)
    )  # fmt: skip
    tonnes = (
        pl.when(pl.col("unit") == "t").then(pl.col("quantity"))
        .when(pl.col("unit") == "bbl").then(pl.col("quantity") / 7.33)
    )  # fmt: skip
    lf = lf.with_columns(barrels.alias("bbl"), tonnes.alias("t")).sort("date", "id")
    refined = (
        lf.filter(pl.col("hs").str.starts_with("2710"))
        .with_columns(pl.col("date").dt.year().alias("period"))
        .with_columns(pl.col("bbl").cum_sum().over("period").alias("running"))
        .group_by("period")
        .agg(pl.col("bbl").sum().alias("total"),
             pl.col("id").filter(pl.col("running") > 500_000).first().alias("trigger"))
    )  # fmt: skip
    months = (pl.col("date").dt.year() - 2017) * 12 + pl.col("date").dt.month() - 12
    months = months - (pl.col("date").dt.day() < 22).cast(pl.Int32)
    crude = (
        lf.filter(pl.col("hs").str.starts_with("2709"))
        .with_columns((months // 12).alias("period"))
        .with_columns(pl.col("bbl").cum_sum().over("period").alias("running_bbl"),
                      pl.col("t").cum_sum().over("period").alias("running_t"))
        .group_by("period")
        .agg(pl.col("bbl").sum().alias("total_bbl"), pl.col("t").sum().alias("total_t"),
             pl.col("id").filter((pl.col("running_bbl") > 4_000_000)
                                 | (pl.col("running_t") > 525_000)).first().alias("trigger"))
    )  # fmt: skip
    refined_df, crude_df = pl.collect_all([refined, crude], engine="streaming")
    return {
        "refined": refined_df.sort("period").to_dicts(),
        "crude": crude_df.sort("period").to_dicts(),
    }


if __name__ == "__main__":
    print(json.dumps(oil_caps(sys.argv[1]), default=str))
