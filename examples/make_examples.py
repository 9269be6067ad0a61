"""Write the example logs shaped on publicly reported evasion figures.

    python examples/make_examples.py            # rewrites the logs beside this script
    python examples/make_examples.py OUT_DIR    # or into another directory

Deterministic (a seeded `random.Random`, stdlib only): re-running it reproduces the
committed files byte for byte, and tests/test_examples.py checks that it does.

Only the aggregates are reported figures (see examples/README.md for the sources): the
number of deliveries, their total volume and the total of notified legal supply. Every
per-record detail is illustrative: the dates, the split of the totals between records,
the vessels (except the designation date of AN SAN 1), the suppliers' shares and the
products of the notifications. The `basis` column says so on every record.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent

COLUMNS = [
    "id",
    "date",
    "hs_code",
    "commodity",
    "product",
    "quantity",
    "unit",
    "origin",
    "destination",
    "supplier",
    "vessel_imo",
    "vessel_name",
    "vessel_flag",
    "counterparty_imo",
    "counterparty_flag",
    "transfer",
    "reported_on",
    "source",
    "supersedes",
    "basis",
]

Row = dict[str, str]


@dataclass(frozen=True)
class Aggregate:
    """A reported figure: `count` records whose quantities sum to `total` (in `unit`)."""

    count: int
    total: Decimal
    unit: str
    places: int = 0  # decimal places of each record's quantity


# --- 1 Jan - 30 May 2018: US report to the 1718 Committee, July 2018 -------------------
STS_2018_START, STS_2018_END = date(2018, 1, 1), date(2018, 5, 30)
STS_2018 = Aggregate(count=89, total=Decimal("1367628"), unit="bbl")  # port calls, ~90% laden
NOTIFIED_2018 = Aggregate(count=6, total=Decimal("14000"), unit="t")  # "about 14,000 t"
AN_SAN_1 = ("7303803", "AN SAN 1")  # designated 2018-03-30 (rules/dprk/designated-vessels.csv)
AN_SAN_1_DESIGNATED = date(2018, 3, 30)
AN_SAN_1_CALLS = (1, 3)  # illustrative: one call before its designation, three after
# The `basis` column: what is a reported figure and what is illustrative, on each record.
BASIS_US_2018 = (
    "reported: 89 calls, 1,367,628 bbl in all (US report, Jul 2018); "
    "illustrative: date, quantity, vessel"
)
BASIS_NOTIFIED_2018 = (
    "reported: about 14,000 t notified by CN and RU by 30 May 2018 (US report, Jul 2018); "
    "illustrative: date, quantity, supplier, product"
)

# --- Jan - May 2020: complaint by 43 States, July 2020 ---------------------------------
DELIVERIES_2020_START, DELIVERIES_2020_END = date(2020, 1, 1), date(2020, 5, 31)
ILLICIT_2020 = Aggregate(count=56, total=Decimal("1600000"), unit="bbl")  # "more than"
NOTIFIED_2020 = Aggregate(count=10, total=Decimal("106094.17"), unit="bbl", places=2)
BASIS_COMPLAINT_2020 = (
    "reported: 56 deliveries, more than 1.6 million bbl in all (43-State complaint, "
    "Jul 2020); illustrative: date, quantity"
)
BASIS_NOTIFIED_2020 = (
    "reported: 106,094.17 bbl notified by CN and RU for Jan-May 2020 (43-State complaint, "
    "Jul 2020); illustrative: date, quantity, supplier, product"
)

NOTIFIERS = ("CN", "RU")  # the States that notified legal supply in both periods
NOTIFIED_TRANSFER = {"CN": "rail", "RU": "port"}  # illustrative
NOTIFIED_PRODUCTS = (("diesel", "2710.19"), ("gasoline", "2710.12"))
NOTIFY_WITHIN_DAYS = 30  # S/RES/2397 (2017), para. 5: notified every 30 days


def split(total: Decimal, count: int, places: int, rng: random.Random) -> list[Decimal]:
    """`count` positive amounts with `places` decimals, summing exactly to `total`."""
    step = Decimal(1).scaleb(-places)
    units = int(total / step)
    weights = [0.6 + 0.8 * rng.random() for _ in range(count)]  # each roughly 0.6-1.4x the mean
    scale = units / sum(weights)
    shares = [int(w * scale) for w in weights]
    for i in range(units - sum(shares)):  # hand out what flooring left over
        shares[i % count] += 1
    amounts = [share * step for share in shares]
    assert sum(amounts) == total and all(a > 0 for a in amounts)
    return amounts


def spread(start: date, end: date, count: int, rng: random.Random) -> list[date]:
    """`count` dates between `start` and `end` (inclusive), sorted."""
    days = (end - start).days + 1
    return sorted(start + timedelta(days=rng.randrange(days)) for _ in range(count))


def row(**fields: str) -> Row:
    return {column: fields.get(column, "") for column in COLUMNS}


def notifications(
    prefix: str, figure: Aggregate, start: date, end: date, basis: str, rng: random.Random
) -> list[Row]:
    """Notified legal supply: dated in the period, each reported within 30 days."""
    rows: list[Row] = []
    amounts = split(figure.total, figure.count, figure.places, rng)
    for n, (day, amount) in enumerate(
        zip(spread(start, end, figure.count, rng), amounts, strict=True), 1
    ):
        supplier = NOTIFIERS[n % len(NOTIFIERS)]
        product, hs_code = NOTIFIED_PRODUCTS[0 if rng.random() < 0.75 else 1]
        reported_on = day + timedelta(days=5 + rng.randrange(NOTIFY_WITHIN_DAYS - 5 + 1))
        rows.append(
            row(
                id=f"{prefix}-n-{n:02d}",
                date=day.isoformat(),
                hs_code=hs_code,
                commodity=product,
                product=product,
                quantity=str(amount),
                unit=figure.unit,
                origin=supplier,
                destination="KP",
                supplier=supplier,
                transfer=NOTIFIED_TRANSFER[supplier],
                reported_on=reported_on.isoformat(),
                source="notification",
                basis=basis,
            )
        )
    return rows


def sts_deliveries_2018(rng: random.Random) -> list[Row]:
    """89 port calls by DPRK tankers, 1 Jan - 30 May 2018, plus the notified supply."""
    days = spread(STS_2018_START, STS_2018_END, STS_2018.count, rng)
    amounts = split(STS_2018.total, STS_2018.count, STS_2018.places, rng)
    before = [i for i, d in enumerate(days) if d < AN_SAN_1_DESIGNATED]
    after = [i for i, d in enumerate(days) if d > AN_SAN_1_DESIGNATED]
    an_san_1 = set(rng.sample(before, AN_SAN_1_CALLS[0]) + rng.sample(after, AN_SAN_1_CALLS[1]))
    rows: list[Row] = []
    for i, (day, amount) in enumerate(zip(days, amounts, strict=True)):
        if i in an_san_1:
            imo, name = AN_SAN_1
        else:
            imo, name = "", f"illustrative DPRK tanker {1 + rng.randrange(12):02d}"
        rows.append(
            row(
                id=f"us18-{i + 1:02d}",
                date=day.isoformat(),
                hs_code="2710.19",
                commodity="refined petroleum products procured via STS transfer",
                quantity=str(amount),
                unit=STS_2018.unit,
                destination="KP",
                vessel_imo=imo,
                vessel_name=name,
                vessel_flag="KP",
                transfer="port",
                source="us-report",
                basis=BASIS_US_2018,
            )
        )
    last_notified = STS_2018_END - timedelta(days=NOTIFY_WITHIN_DAYS)  # reported by 30 May
    rows += notifications(
        "2018", NOTIFIED_2018, STS_2018_START, last_notified, BASIS_NOTIFIED_2018, rng
    )
    return rows


def deliveries_2020(rng: random.Random) -> list[Row]:
    """56 illicit tanker deliveries, Jan - May 2020, plus the notified legal supply."""
    days = spread(DELIVERIES_2020_START, DELIVERIES_2020_END, ILLICIT_2020.count, rng)
    amounts = split(ILLICIT_2020.total, ILLICIT_2020.count, ILLICIT_2020.places, rng)
    rows = [
        row(
            id=f"c20-{i:02d}",
            date=day.isoformat(),
            hs_code="2710.19",
            commodity="refined petroleum products (illicit tanker delivery)",
            quantity=str(amount),
            unit=ILLICIT_2020.unit,
            destination="KP",
            transfer="port",
            source="state-complaint",
            basis=BASIS_COMPLAINT_2020,
        )
        for i, (day, amount) in enumerate(zip(days, amounts, strict=True), 1)
    ]
    rows += notifications(
        "2020", NOTIFIED_2020, DELIVERIES_2020_START, DELIVERIES_2020_END, BASIS_NOTIFIED_2020, rng
    )
    return rows


# One seed per log, so that changing one log leaves the other as it is.
LOGS: dict[str, tuple[int, Callable[[random.Random], list[Row]]]] = {
    "sts-deliveries-2018.csv": (20180712, sts_deliveries_2018),
    "deliveries-2020-jan-may.csv": (20200724, deliveries_2020),
}


def write_examples(directory: Path) -> list[Path]:
    """Write every example log into `directory`; return their paths."""
    written = []
    for name, (seed, make) in LOGS.items():
        rows = sorted(make(random.Random(seed)), key=lambda r: (r["date"], r["id"]))
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else HERE
    directory.mkdir(parents=True, exist_ok=True)
    for path in write_examples(directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
