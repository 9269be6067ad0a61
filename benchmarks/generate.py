"""Seeded generator of realistic shipment logs for the benchmarks.

    python benchmarks/generate.py --events 10000000 --seed 1 --out benchmarks/data/10m.csv
    python benchmarks/generate.py --events 3000000 --dprk-share 0.05 --out benchmarks/data/dprk.csv

The mix: mostly ordinary trade between other countries (machinery, textiles, coffee,
oil between third countries); about 0.2% refined-petroleum (HS 2710) deliveries to the
DPRK by China and Russia, notified with a reporting date (some late, some never
reported); about 0.05% crude (2709) by pipeline from China; about 0.2% ship-to-ship
transfers, some with a DPRK-flagged vessel and a few with a designated one, and about
0.1% port calls (AIS) by the same vessels, most at DPRK ports, so transfers and calls
correlate into inferred deliveries; about 0.1%
duplicate records and corrections (`supersedes`). `--dprk-share` scales the four kinds
that touch the DPRK (0.55% of records by default) to another share of the log, each
delivery smaller so that a year's refined deliveries still come near the cap: more
findings, more candidates. Written in chunks with numpy
(`pip install '.[bench]'`) and Polars, so 10 million rows take well under a minute.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

COLUMNS = [
    "id", "date", "hs_code", "commodity", "product", "quantity", "unit", "value", "currency",
    "origin", "destination", "supplier", "vessel_imo", "counterparty_imo", "vessel_name",
    "vessel_flag", "counterparty_flag", "transfer", "reported_on", "source", "supersedes",
]  # fmt: skip
COUNTRIES = ["CN", "RU", "US", "DE", "JP", "KR", "IN", "BR", "NL", "SG", "AE", "TR", "VN", "FR"]
TRADE = [  # (hs_code, commodity, unit)
    ("8471.30", "portable computers", "kg"), ("870323", "passenger cars", "t"),
    ("0901.11", "coffee, not roasted", "t"), ("6109.10", "cotton T-shirts", "kg"),
    ("271019", "gas oil", "t"), ("270900", "crude petroleum", "bbl"),
    ("1006.30", "rice", "t"), ("7208.51", "steel plate", "t"), ("3004.90", "medicaments", "kg"),
    ("8517.13", "smartphones", "kg"),
]  # fmt: skip
REFINED = [("271012", "gasoline", "gasoline"), ("271019", "diesel", "diesel"),
           ("271019", "fuel oil", "fuel_oil"), ("271019", "kerosene", "kerosene")]  # fmt: skip
VESSELS = [
    "9191773",
    "9114555",
    "8126070",
    "9123453",
    "8123456",
    "9000003",
    "9354521",
]  # the first three are designated
START = date(2018, 1, 1).toordinal()
DAYS = 6 * 365
CHUNK = 1_000_000
REFINED_SHARE, CRUDE_SHARE, STS_SHARE, CALL_SHARE = 0.002, 0.0005, 0.002, 0.001


class Shares(NamedTuple):
    """The shares of the log's records that touch the DPRK, by kind."""

    refined: float = REFINED_SHARE
    crude: float = CRUDE_SHARE
    sts: float = STS_SHARE
    calls: float = CALL_SHARE

    @staticmethod
    def scaled(total: float | None) -> Shares:
        """The default shares, or the same mix scaled to `total` of the log."""
        if total is None:
            return Shares()
        if not 0 < total <= 1:
            raise SystemExit(f"--dprk-share must be in (0, 1] (got {total})")
        factor = total / sum(Shares())
        return Shares(*(share * factor for share in Shares()))


def _dates(rng: np.random.Generator, n: int) -> np.ndarray:
    days = rng.integers(0, DAYS, n)
    return (np.datetime64("2018-01-01") + days.astype("timedelta64[D]")).astype(str)


def _chunk(
    rng: np.random.Generator, start: int, n: int, scale: float, shares: Shares
) -> pl.DataFrame:
    """`n` rows of a log of `scale` rows per day on average."""
    other_start = shares.refined + shares.crude + shares.sts + shares.calls
    kind = rng.random(n)
    refined = kind < shares.refined
    crude = (kind >= shares.refined) & (kind < shares.refined + shares.crude)
    sts = (kind >= shares.refined + shares.crude) & (kind < other_start - shares.calls)
    calls = (kind >= other_start - shares.calls) & (kind < other_start)
    trade = kind >= other_start
    cols: dict[str, np.ndarray] = {c: np.full(n, "", dtype=object) for c in COLUMNS}
    cols["id"] = np.char.add("S", (np.arange(start, start + n)).astype(str)).astype(object)
    cols["date"] = _dates(rng, n).astype(object)

    t = np.flatnonzero(trade)
    pick = rng.integers(0, len(TRADE), t.size)
    table = np.array(TRADE, dtype=object)
    cols["hs_code"][t] = table[pick, 0]
    cols["commodity"][t] = table[pick, 1]
    cols["unit"][t] = table[pick, 2]
    cols["quantity"][t] = np.round(rng.lognormal(4, 1.5, t.size), 2).astype(str)
    cols["value"][t] = np.round(rng.lognormal(9, 1.2, t.size), 2).astype(str)
    cols["currency"][t] = "USD"
    a = rng.integers(0, len(COUNTRIES), t.size)
    b = (a + rng.integers(1, len(COUNTRIES), t.size)) % len(COUNTRIES)
    countries = np.array(COUNTRIES, dtype=object)
    cols["origin"][t], cols["destination"][t] = countries[a], countries[b]
    cols["supplier"][t] = countries[a]
    cols["transfer"][t] = rng.choice(np.array(["port", "rail", "road", "air"], dtype=object),
                                     t.size)  # fmt: skip
    cols["source"][t] = "customs"

    r = np.flatnonzero(refined)
    pick = rng.integers(0, len(REFINED), r.size)
    table = np.array(REFINED, dtype=object)
    cols["hs_code"][r], cols["commodity"][r], cols["product"][r] = table.T[:, pick]
    in_barrels = rng.random(r.size) < 0.6
    cols["unit"][r] = np.where(in_barrels, "bbl", "t")
    # Sized so a year's deliveries come to about 95-110% of the 500,000 bbl cap.
    barrels = rng.uniform(0.5, 1.5, r.size) * 500_000 * 1.02 / (scale * shares.refined * 365)
    cols["quantity"][r] = np.where(in_barrels, np.round(barrels, 1),
                                   np.round(barrels / 7.5, 2)).astype(str)  # fmt: skip
    cols["origin"][r] = cols["supplier"][r] = rng.choice(np.array(["CN", "RU"], dtype=object),
                                                         r.size)  # fmt: skip
    cols["destination"][r] = "KP"
    cols["transfer"][r] = "port"
    cols["source"][r] = "notification"
    _reported(rng, cols, r)

    c = np.flatnonzero(crude)
    cols["hs_code"][c], cols["commodity"][c] = "270900", "crude petroleum"
    tonnes = rng.uniform(0.5, 1.5, c.size) * 525_000 * 0.9 / (scale * shares.crude * 365)
    cols["quantity"][c] = np.round(tonnes, 1).astype(str)
    cols["unit"][c] = "t"
    cols["origin"][c] = cols["supplier"][c] = "CN"
    cols["destination"][c] = "KP"
    cols["transfer"][c] = "pipeline"
    cols["source"][c] = "notification"
    _reported(rng, cols, c)

    s = np.flatnonzero(sts)
    vessels = np.array(VESSELS, dtype=object)
    cols["transfer"][s] = "ship_to_ship"
    cols["hs_code"][s], cols["commodity"][s], cols["product"][s] = "271019", "diesel", "diesel"
    cols["quantity"][s] = np.round(rng.uniform(100, 500, s.size), 1).astype(str)
    cols["unit"][s] = "t"
    cols["vessel_imo"][s] = vessels[rng.integers(0, len(vessels), s.size)]
    cols["counterparty_imo"][s] = vessels[rng.integers(0, len(vessels), s.size)]
    flags = np.array(["PA", "SL", "TG", "KP"], dtype=object)
    cols["vessel_flag"][s] = flags[rng.integers(0, 3, s.size)]
    cols["counterparty_flag"][s] = flags[rng.integers(0, 4, s.size)]
    cols["source"][s] = "ais"

    p = np.flatnonzero(calls)
    cols["transfer"][p] = "port"
    cols["vessel_imo"][p] = vessels[rng.integers(0, len(vessels), p.size)]
    cols["destination"][p] = np.where(rng.random(p.size) < 0.8, "KP", "CN").astype(object)
    cols["source"][p] = "ais"
    frame = pl.DataFrame({c: pl.Series(c, cols[c], dtype=pl.String) for c in COLUMNS})
    return _duplicates_and_corrections(rng, frame)


def _reported(rng: np.random.Generator, cols: dict[str, np.ndarray], rows: np.ndarray) -> None:
    lag = rng.integers(0, 60, rows.size)
    days = np.array(cols["date"][rows], dtype="datetime64[D]") + lag.astype("timedelta64[D]")
    reported = days.astype(str).astype(object)
    reported[rng.random(rows.size) < 0.05] = ""  # never notified
    cols["reported_on"][rows] = reported


def _duplicates_and_corrections(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """Turn about 0.1% of rows into exact copies and corrections (`supersedes`) of others."""
    k = max(1, frame.height // 2000)
    base = frame.head(frame.height - 2 * k)
    picks = rng.choice(base.height, 2 * k, replace=False)
    copies = base[picks[:k].tolist()]
    corrected = base[picks[k:].tolist()].with_columns(
        (pl.col("id") + "-c").alias("id"),
        pl.col("id").alias("supersedes"),
        (pl.col("quantity").cast(pl.Float64, strict=False) * 1.1)
        .round(2)
        .cast(pl.String)
        .fill_null("")
        .alias("quantity"),
    )
    mixed = pl.concat([base, copies, corrected])
    shuffled: pl.DataFrame = mixed[rng.permutation(mixed.height).tolist()]
    return shuffled


def generate(events: int, seed: int, out: Path, dprk_share: float | None = None) -> None:
    shares = Shares.scaled(dprk_share)
    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for start in range(0, events, CHUNK):
            frame = _chunk(rng, start, min(CHUNK, events - start), events / DAYS, shares)
            empty_as_null = [pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in COLUMNS]
            frame.with_columns(empty_as_null).write_csv(handle, include_header=start == 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("benchmarks/data/events.csv"))
    p.add_argument("--dprk-share", type=float, default=None,
                   help="share of records that touch the DPRK (default 0.0055)")  # fmt: skip
    args = p.parse_args()
    generate(args.events, args.seed, args.out, args.dprk_share)


if __name__ == "__main__":
    main()
