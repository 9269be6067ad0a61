"""The columnar and stream engines return identical reports (DESIGN §7).

Random rulebooks (every rule kind and period kind, thresholds, several measures,
group_by, unless) against random CSV logs full of what breaks engines: ties on dates,
repeated ids, corrections, unconvertible events, values that need normalising and rows
that must be rejected. Logs are written to CSV so the columnar engine's fast reader runs,
and also given as an iterable of dicts, and with typed columns as Parquet and DataFrames.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.engine.columnar import csv_chunks, evaluation
from compliance.engine.columnar import typed as typed_sources
from compliance.units import CONTEXT

DATES = [date(2018, 1, 1), date(2018, 3, 30), date(2018, 3, 31), date(2018, 4, 1),
         date(2018, 6, 30), date(2018, 12, 21), date(2018, 12, 22), date(2018, 12, 31),
         date(2019, 1, 1), date(2019, 1, 5), date(2019, 1, 9), date(2019, 2, 1)]  # fmt: skip
COLUMNS = [
    "id", "date", "hs_code", "product", "quantity", "unit", "value", "currency",
    "destination", "supplier", "transfer", "vessel_flag", "counterparty_flag", "vessel_imo",
    "vessel_name", "reported_on", "source", "supersedes", "note", "provider", "contract_date",
    "unloaded_on", "attestation", "quantity_min", "quantity_max",
]  # fmt: skip
IDS = [f"s{i}" for i in range(40)]


def _mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Usually a valid value (so caps fill up), sometimes one to normalise or reject."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good),
                     st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))  # fmt: skip


_DATES = [d.isoformat() for d in DATES]
# Numbers within one float64 ulp of a selector's bound (0.3, 300, 5, 12.5) or of a cap's
# limit or threshold (300 bbl and its halves): equal to it as floats, not as decimals.
NEAR_BOUNDS = [
    "0.3", "0.30000000000000001", "0.29999999999999999", "300", "300.00000000000001",
    "299.99999999999999", "150.00000000000001", "149.99999999999999", "1.50",
]  # fmt: skip
_date_text = _mostly(
    _DATES, ["", "2019-02-30", " 2019-01-05", "2019-01-05T23:30:00-05:00", "20190105"]
)
FIELD_VALUES: dict[str, Any] = {
    "hs_code": _mostly(["2710", "271019", "2709", "2709", "27", "8703"], ["2710.19", "", "x1"]),
    "product": _mostly(["crude", "gasoline", "lpg", "kerosene"], ["", "Diesel"]),
    "quantity": _mostly(
        ["100", "250000", "1.5", "0.10", "60000", "400000", "100000.25", *NEAR_BOUNDS],
        ["0", "-3", "abc", "1,000", " 200 ", "007", "1e3"],
    ),
    "unit": _mostly(["bbl", "bbl", "t", "kg", "l", "gal", "m3"], ["BBL", "foo", ""]),
    "value": _mostly(
        ["1000", "700.5", "20", "700.49999999999999", "1500.0000000000001"], ["", "5e3"]
    ),
    "currency": _mostly(["USD", "USD", "EUR"], ["usd", "XXX"]),
    "destination": _mostly(["KP", "KP", "CN"], ["kp", "", "XX"]),
    "supplier": _mostly(["CN", "RU"], ["", "ru"]),
    "transfer": _mostly(["port", "ship_to_ship"], ["", "Ship_To_Ship", "boat"]),
    "vessel_flag": _mostly(["KP", "PA"], [""]),
    "counterparty_flag": _mostly(["KP", "SL"], ["", "sl"]),
    "vessel_imo": _mostly(["9123457", "8123451", "9000007"], ["9123456", "IMO 9123457", "912345"]),
    "vessel_name": _mostly(
        ["SHIP", "NO NUMBER 7", "OTHER"], ["no-number  7", " ship ", "Nó Number 7"]
    ),
    "reported_on": _date_text,
    "source": _mostly(["notification", "ais"], ["", " notification"]),
    "note": _mostly(
        ["x", "5", "12.5", "12.500000000000001", "4.9999999999999999", "-0.5"], ["", " y", "1_0"]
    ),
    "provider": _mostly(["EU", "US;EU", "GB"], ["eu", "EU; GB", "RU", "EU;;US", ""]),
    "contract_date": _date_text,
    "unloaded_on": _date_text,
    "attestation": _mostly(["1", "2", "3"], ["4", " 3", "3.0", ""]),
}


@st.composite
def rows(draw: st.DrawFn) -> dict[str, str]:
    row = {"id": draw(_mostly(IDS, ["", " s1"])), "date": draw(_date_text)}
    for name, strategy in FIELD_VALUES.items():
        if name in ("hs_code", "quantity", "destination", "date") or draw(st.booleans()):
            row[name] = draw(strategy)
    if "quantity" in row and draw(st.integers(0, 9)):
        row["unit"] = draw(FIELD_VALUES["unit"])
    elif "unit" in row and draw(st.integers(0, 9)):
        row.pop("unit")
    shape = draw(st.integers(0, 9))
    if shape == 0:  # a sighting: no amount at all (unquantified)
        for name in ("quantity", "unit", "value", "currency"):
            row.pop(name, None)
    elif shape in (1, 2):  # an estimate: bounds beside or instead of the quantity
        for name in ("quantity_min", "quantity_max"):
            if draw(st.booleans()):
                row[name] = draw(FIELD_VALUES["quantity"])
        if shape == 2:
            row.pop("quantity", None)
        if draw(st.integers(0, 9)):
            row["unit"] = draw(FIELD_VALUES["unit"])
    if "value" in row and row["value"] and draw(st.integers(0, 9)):
        row["currency"] = draw(FIELD_VALUES["currency"])
    else:
        row.pop("currency", None)
    if draw(st.integers(0, 7)) == 0:
        row["supersedes"] = draw(st.sampled_from(IDS[:12]))
    return row


@st.composite
def logs(draw: st.DrawFn) -> list[dict[str, str]]:
    out = draw(st.lists(rows(), min_size=0, max_size=30))
    for _ in range(draw(st.integers(0, 3))):  # exact copies: duplicates
        if out:
            out.append(dict(draw(st.sampled_from(out))))
    for n in range(draw(st.integers(0, 2))):  # corrections of records in the log
        if out:
            target = draw(st.sampled_from(out))
            fixed = {**target, "id": f"c{n}", "supersedes": target["id"]}
            fixed["quantity"] = draw(FIELD_VALUES["quantity"])
            out.append(fixed)
    return draw(st.permutations(out))


MATCHES = [
    {"hs_code": {"prefix": ["2710"]}, "destination": "KP"},
    {"hs_code": {"prefix": ["27"]}},
    {"destination": "KP"},
    {"not": {"destination": "CN"}},
    {"quantity": {"gt": 1000}},
    {"any": [{"vessel_flag": "KP"}, {"counterparty_flag": "KP"}]},
    {"extra.note": {"gte": 5}},
    {"not": {"extra.note": "x"}},
    {"supplier": {"present": False}},
    {"quantity": {"gt": 0.3}},
    {"quantity": {"lte": "0.30000000000000001"}},
    {"not": {"quantity": {"gte": "299.99999999999999"}}},
    {"quantity": {"lt": 300}, "destination": "KP"},
    {"quantity": ["0.3", 1.5, "300.00000000000001"]},
    {"not": {"quantity": [300]}},
    {"value": {"gt": "700.49999999999999"}},
    {"extra.note": {"gt": 12.5}},
    {"not": {"extra.note": {"lte": "4.9999999999999999"}}},
]
PERIODS = [
    {"calendar": "year"}, {"calendar": "quarter"}, {"calendar": "month"},
    {"months": 12, "anchor": date(2017, 12, 22)}, {"months": 3, "anchor": date(2018, 2, 15)},
    {"days": 1}, {"days": 7}, {"days": 90},
    {"from": date(2018, 3, 31), "to": date(2018, 12, 31)},
]  # fmt: skip
MEASURES = [
    {"amount": 300, "unit": "bbl"}, {"amount": 250000, "unit": "bbl"},
    {"amount": 500000, "unit": "bbl"}, {"amount": 40, "unit": "t"},
    {"amount": 1500, "unit": "USD"}, {"amount": 100000, "unit": "l"},
]  # fmt: skip


@st.composite
def rule_dicts(draw: st.DrawFn, index: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["cap", "cap", "cap", "prohibition", "deadline", "designation",
                                 "price_cap", "unnotified"]))  # fmt: skip
    rule: dict[str, Any] = {"id": f"r{index}", "kind": kind, "citation": f"test {index}",
                            "match": draw(st.sampled_from(MATCHES))}  # fmt: skip
    if draw(st.booleans()):
        rule["effective"] = {"from": draw(st.sampled_from(DATES[:6]))}
    if draw(st.integers(0, 3)) == 0:
        rule["unless"] = {"source": "notification"}
    if kind == "cap":
        rule["limit"] = draw(st.lists(st.sampled_from(MEASURES), min_size=1, max_size=2,
                                      unique_by=lambda m: m["unit"]))  # fmt: skip
        rule["period"] = draw(st.sampled_from(PERIODS))
        rule["thresholds"] = sorted(draw(st.sets(st.sampled_from([0.5, 0.75, 0.9]), max_size=2)))
        if draw(st.booleans()):
            rule["group_by"] = [draw(st.sampled_from(["supplier", "destination"]))]
    elif kind == "price_cap":
        days = sorted(draw(st.sets(st.sampled_from(DATES), min_size=1, max_size=3)))
        wind = st.fixed_dictionaries({}, optional={
            "contract_before": st.sampled_from(DATES), "loaded_before": st.sampled_from(DATES),
            "unloaded_before": st.sampled_from(DATES)}).filter(bool)  # fmt: skip
        rule.update(unit=draw(st.sampled_from(["bbl", "t", "l"])), currency="USD", values={
            d.isoformat(): {"level": draw(st.sampled_from([0.5, 3, 7.25, 60])),
                            "citation": f"act {d}", "wind_down": draw(st.lists(wind, max_size=2))}
            for d in days})  # fmt: skip
        if draw(st.booleans()):
            rule["jurisdiction"] = draw(st.sampled_from([["EU"], ["US", "EU"], ["GB"]]))
        if draw(st.booleans()):
            rule["safe_harbour"] = {"attestation": [2, 3], "citation": "guidance"}
        if draw(st.booleans()):
            rule["confirmed_until"] = draw(st.sampled_from(DATES))
    elif kind == "deadline":
        rule.update(draw(st.sampled_from([{"within": {"days": d}} for d in (0, 3, 30)]
                                         + [{"by": {"day": 30, "of": "following_month"}}])))  # fmt: skip
    elif kind == "designation":
        rule.pop("match")
        rule["designations"] = [
            {"identifier": "9123457", "designated": draw(st.sampled_from(DATES))},
            {"identifier": "8123451", "designated": date(2018, 1, 1), "name": "SHIP"},
            {"name": "NO NUMBER 7", "aliases": ["OTHER"], "designated": date(2018, 6, 1)},
        ]
    elif kind == "unnotified":
        rule["notifications"] = {"source": "notification"}
        rule["group_by"] = [draw(st.sampled_from(["supplier", "destination"]))]
        rule["period"] = draw(st.sampled_from(PERIODS[:5] + PERIODS[-1:]))  # not rolling
    return rule


@st.composite
def rulebook_texts(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 4))
    rules = [draw(rule_dicts(i)) for i in range(count)]
    conversions = [
        {
            "product": "crude",
            "values": {"2018-01-01": 7.33, "2019-01-05": {"barrels_per_tonne": 7.9}},
        },
        {"product": "gasoline", "barrels_per_tonne": 8.5, "source": "test"},
        {"hs_code": "2709", "product": "crude"},
        {"hs_code": "271019", "product": "gasoline"},
    ]
    # JSON is YAML without anchors (rule files refuse them) and dates stay ISO strings.
    return json.dumps({"rules": rules, "conversions": conversions}, default=str)


def _write_csv(path: Path, log: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in log:
            writer.writerow(row)


def rulebook_of(text: str) -> compliance.Rulebook:
    """The rulebook of one file holding `text`."""
    with tempfile.TemporaryDirectory() as tmp:
        return _load(Path(tmp), text)


def _load(directory: Path, rulebook_text: str) -> compliance.Rulebook:
    rules = directory / "rules.yaml"
    rules.write_text(rulebook_text, encoding="utf-8")
    return compliance.load_rulebook(rules)


def _check_series(report: compliance.Report) -> None:
    """Each cap finding's series is its evidence: the events counted, in order, and
    running totals that add up to its figures (the engines compare it field by field)."""
    for f in report.findings:
        if f.kind not in ("cap_exceeded", "threshold_reached"):
            assert f.series is None
            continue
        assert f.series is not None and f.measure is not None
        unit = f.measure.unit
        assert [p.event for p in f.series if p.amounts[unit] is not None] == f.events
        assert [(p.date, p.event) for p in f.series] == sorted((p.date, p.event) for p in f.series)
        total = {u: Decimal(0) for u in f.series[0].running}
        for p in f.series:
            total = {u: CONTEXT.add(t, p.amounts[u] or 0) for u, t in total.items()}
            assert p.running == total
        assert next(p for p in f.series if p.event == f.trigger).running[unit] == f.measure.running
        assert f.series[-1].running[unit] == f.measure.total


def _both(source: Any, rulebook: compliance.Rulebook) -> tuple[dict[str, Any], dict[str, Any]]:
    reports = [compliance.evaluate(source, rulebook, engine=e) for e in ("stream", "columnar")]
    for report in reports:
        _check_series(report)
    stream, columnar = (r.to_dict() for r in reports)
    return stream, columnar


@given(rulebook_texts(), logs())
def test_engines_agree_on_csv_logs(rulebook_text: str, log: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rulebook = _load(Path(tmp), rulebook_text)
        path = Path(tmp) / "log.csv"
        _write_csv(path, log)
        stream, columnar = _both(str(path), rulebook)
        assert columnar == stream


@given(rulebook_texts(), logs(), st.integers(1, 300))
def test_engines_agree_on_csv_logs_read_in_small_chunks(
    rulebook_text: str, log: list[dict[str, str]], chunk_bytes: int
) -> None:
    """Chunks of a few rows (or a part of one): duplicates, corrections and the rows a
    second pass fetches fall in different chunks."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        patch.object(csv_chunks, "CHUNK_BYTES", chunk_bytes),
    ):
        rulebook = _load(Path(tmp), rulebook_text)
        path = Path(tmp) / "log.csv"
        _write_csv(path, log)
        stream, columnar = _both(str(path), rulebook)
        assert columnar == stream


@given(rulebook_texts(), logs())
def test_engines_agree_on_records(rulebook_text: str, log: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rulebook = _load(Path(tmp), rulebook_text)
    stream, columnar = _both([dict(r) for r in log], rulebook)
    assert columnar == stream


# Typed logs: Parquet files and polars DataFrames ------------------------------------------

_NAN, _INF = float("nan"), float("inf")
# Each log column's strings map to typed values one to one, so exact copies stay copies.
# Beside plain amounts: NaN (missing), inf, 0.0, -0.0, a negative, and floats Polars and
# repr() write differently (below 1e-4, from 1e16 on).
FLOATS = {
    "100": 100.0, "250000": 250000.0, "1.5": 1.5, "0.10": 0.1, "60000": 60000.0,
    "400000": 400000.0, "100000.25": 100000.25, "0": 0.0, "-3": -3.0, "abc": _NAN,
    "1,000": 1e-05, " 200 ": _INF, "007": 1e16, "1e3": 2.5e-7, "1000": 1000.0,
    "0.3": 0.3, "0.30000000000000001": math.nextafter(0.3, 1),
    "0.29999999999999999": math.nextafter(0.3, 0), "300": 300.0,
    "300.00000000000001": math.nextafter(300, 301), "299.99999999999999": 299.99999999999994,
    "150.00000000000001": math.nextafter(150, 151), "149.99999999999999": 149.99999999999997,
    "1.50": 1.25, "700.49999999999999": 700.4999999999999, "1500.0000000000001": 1500.0000000000002,
    "12.500000000000001": math.nextafter(12.5, 13), "4.9999999999999999": 4.999999999999999,
    "-0.5": -0.5,
    "700.5": 700.5, "20": 20.0, "5e3": -0.0, "5": 5.0, "12.5": 12.5, "x": _NAN,
    " y": 1e20, "1_0": 0.0001, "2710": 2710.0, "271019": 271019.0, "2709": 2709.0,
    "27": 27.0, "8703": 8703.0, "2710.19": 2710.19, "x1": _NAN,
}  # fmt: skip
TIME_ZONES = [None, "UTC", "Asia/Tokyo", "America/New_York"]


def _int(text: str) -> int | None:
    digits = text.strip().lstrip("s")
    return int(digits) if digits.lstrip("-").isdigit() else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _typed(kind: str, text: str | None, hour: int) -> Any:
    if kind == "str" or text is None:
        return text
    if text == "":
        return None
    if kind in ("float", "float32"):
        return FLOATS.get(text, _NAN)
    if kind == "int":
        return _int(text)
    if kind == "bool":
        return text.startswith("s1")
    day = _day(text)
    if kind == "date" or day is None:
        return day
    return datetime.combine(day, time(hour))


def _dtype(kind: str, time_zone: str | None) -> pl.DataType:
    return {"str": pl.String(), "float": pl.Float64(), "float32": pl.Float32(),
            "int": pl.Int64(), "date": pl.Date(), "bool": pl.Boolean(),
            "datetime": pl.Datetime("us", time_zone)}[kind]  # fmt: skip


KINDS = {
    "id": ["str", "str", "int"], "supersedes": ["str", "int"],
    "date": ["str", "date", "date", "datetime"], "reported_on": ["str", "date", "datetime"],
    "quantity": ["str", "float", "float", "float32", "int"], "value": ["str", "float", "int"],
    "hs_code": ["str", "str", "int", "float"], "note": ["str", "float", "int"],
    "source": ["str", "str", "str", "bool"],
}  # fmt: skip


@st.composite
def typed_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, bool]:
    """A random log as a polars DataFrame with typed columns; whether every column type
    has a fast cast (else the engine must fall back)."""
    log = draw(logs())
    kinds = {c: draw(st.sampled_from(KINDS.get(c, ["str"]))) for c in COLUMNS}
    hour = draw(st.sampled_from([0, 12, 23]))
    time_zone = draw(st.sampled_from(TIME_ZONES))
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for row in log:
        for c in COLUMNS:
            value = _typed(kinds[c], row.get(c), hour)
            if isinstance(value, datetime) and time_zone is not None:
                value = value.replace(tzinfo=ZoneInfo(time_zone))
            columns[c].append(value)
    schema = {c: _dtype(kinds[c], time_zone) for c in COLUMNS}
    frame = pl.DataFrame(columns, schema=schema)
    return frame, "bool" not in kinds.values()


def _columnar_without_fallback(source: Any, rulebook: compliance.Rulebook) -> dict[str, Any]:
    """The columnar report, failing if any record took the Python reader."""
    with patch.object(evaluation, "records_from", side_effect=AssertionError("fallback")):
        return compliance.evaluate(source, rulebook, engine="columnar").to_dict()


@given(rulebook_texts(), typed_frames(), st.sampled_from([1, 4, 1 << 18]))
def test_engines_agree_on_typed_parquet_and_frames(
    rulebook_text: str, typed: tuple[pl.DataFrame, bool], batch_rows: int
) -> None:
    """Typed columns (floats with NaN and odd magnitudes, ints, dates, datetimes in time
    zones, nulls) give the stream engine's report to the last field, rejections included,
    read in batches of a few rows or one; and they do take the fast path."""
    frame, fast = typed
    with (
        tempfile.TemporaryDirectory() as tmp,
        patch.object(typed_sources, "TYPED_BATCH_ROWS", batch_rows),
    ):
        rulebook = _load(Path(tmp), rulebook_text)
        path = Path(tmp) / "log.parquet"
        frame.write_parquet(path)
        for source in (str(path), frame):
            stream, columnar = _both(source, rulebook)
            assert columnar == stream
            if fast:
                assert _columnar_without_fallback(source, rulebook) == stream
