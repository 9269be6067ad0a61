"""pandas DataFrames on the columnar engine's typed path (through Arrow, `typed.py`).

Each frame is compared with the Python reader's path (the same engine with `Typed.of`
switched off: `readers.records_from`, pandas' own values) and with the same log written
as CSV: same findings, same accounting.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compliance
from compliance.engine.columnar.typed import Typed
from fast_paths import RULES, columnar_report, python_path

pd = pytest.importorskip("pandas", reason="pandas is optional")
pytest.importorskip("pyarrow", reason="pandas frames reach Polars through Arrow")


@pytest.fixture(scope="module")
def rulebook() -> compliance.Rulebook:
    return compliance.load_rulebook(RULES)


def _python_path(frame: Any, rulebook: compliance.Rulebook) -> dict[str, Any]:
    return python_path(Typed, frame, rulebook)


def _text(value: Any) -> str:
    """A value as a CSV cell holds it: missing is empty, a moment its UTC date."""
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date().isoformat()
    return str(value)


def _as_csv(frame: Any, path: Path) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow([_text(v) for v in row])
    return str(path)


def _same(frame: Any, rulebook: compliance.Rulebook, tmp_path: Path) -> dict[str, Any]:
    fast = columnar_report(frame, rulebook)
    assert fast == _python_path(frame, rulebook)
    by_csv = compliance.evaluate(_as_csv(frame, tmp_path / "log.csv"), rulebook).to_dict()
    assert fast["findings"] == by_csv["findings"]
    assert fast["accounting"] == by_csv["accounting"]

    # Reasons name the record's place (`<dataframe>[1]`, `log.csv:3`): compared by
    # their part before it.
    def reasons(report: dict[str, Any]) -> list[list[str]]:
        return [[r.split(" at ")[0] for r in x["reasons"]] for x in report["rejected"]]

    assert reasons(fast) == reasons(by_csv)
    return fast


def _frame() -> Any:
    """Every kind of missing value and the column types logs come in."""
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "date": pd.to_datetime(["2019-01-10", "2019-02-10", None, "2019-03-10", "2019-04-10"]),
        "hs_code": pd.Categorical(["2710", "2710.19", "2710", None, "2710"]),
        "quantity": pd.array([300000, 250000, None, 5, 100], dtype="Int64"),
        "unit": pd.array(["bbl", "bbl", "bbl", "t", "bbl"], dtype="string[pyarrow]"),
        "destination": pd.array(["KP", "kp", pd.NA, "CN", "KP"], dtype="string"),
        "value": [1.5, math.nan, 2.0, 0.1, math.nan],
        "currency": ["USD", None, "USD", "USD", None],
        "source": ["notification", "notification", None, None, "notification"],
        # 23:00 in Tokyo is the same day in UTC only until 09:00: the report date is UTC's.
        "reported_on": pd.to_datetime(
            ["2019-03-01 08:00", "2019-02-11 23:00", None, None, "2019-06-01 10:00"]
        ).tz_localize("Asia/Tokyo"),
        "vessel_imo": pd.Categorical([None, None, None, None, None], categories=["9191773"]),
        "note": ["x", "", None, "y", "z"],
        "weight": pd.array([1.5, None, 0.25, 3.0, None], dtype="float32"),
    })  # fmt: skip


def test_missing_values_and_column_types_match_csv(
    tmp_path: Path, rulebook: compliance.Rulebook
) -> None:
    frame = _frame()
    assert Typed.of(frame) is not None  # the fast path takes it
    report = _same(frame, rulebook, tmp_path)
    assert [(r["index"], r["id"]) for r in report["rejected"]] == [(2, "c")]
    assert {f["kind"] for f in report["findings"]} >= {"cap_exceeded"}


def test_nat_and_na_are_absent_on_the_python_path(rulebook: compliance.Rulebook) -> None:
    # NaT once raised TypeError in validation ("Cannot compare NaT with datetime.date").
    frame = pd.DataFrame({
        "id": ["a", "b"], "date": pd.to_datetime(["2019-01-10", "2019-01-11"]),
        "reported_on": pd.to_datetime([None, "2019-01-12"]),
        "quantity": pd.array([None, 3], dtype="Int64"), "unit": [None, "t"],
    })  # fmt: skip
    report = _python_path(frame, rulebook)
    assert report["accounting"]["rejected"] == 0


@pytest.mark.parametrize("column", [
    pd.array([True, None, False, True, False], dtype="boolean"),  # "True" is no number
    pd.array([1, "x", None, 2.5, "y"], dtype=object),  # mixed types: Python decides
    pd.to_timedelta([1, 2, 3, 4, 5], unit="D"),
    pd.Categorical([1, 22, None, 3, 4]),  # numbers with an odd digit count as HS codes
])  # fmt: skip
def test_columns_without_a_faithful_cast_take_the_python_path(
    tmp_path: Path, rulebook: compliance.Rulebook, column: Any
) -> None:
    frame = _frame().assign(hs_code=column) if isinstance(column, pd.Categorical) else (
        _frame().assign(extra=column)
    )  # fmt: skip
    fast = columnar_report(frame, rulebook)
    assert fast == _python_path(frame, rulebook)


IDS = st.sampled_from(["a", "b", "c", "d"])
DAYS = st.dates(date(2017, 12, 1), date(2020, 12, 31))
MOMENTS = st.datetimes(datetime(2017, 12, 1), datetime(2020, 12, 31))


@st.composite
def frames(draw: st.DrawFn) -> Any:
    n = draw(st.integers(1, 8))

    def column(values: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(st.one_of(values, st.none()), min_size=n, max_size=n))

    # Every row has an id: a row of nothing but missing values is a record in a frame
    # (rejected), and a blank line in a CSV file.
    ids = draw(st.lists(IDS, min_size=n, max_size=n))
    data: dict[str, Any] = {"id": pd.array(ids, dtype="string[pyarrow]")}
    data["date"] = pd.to_datetime(pd.Series(column(DAYS.map(str)), dtype=object))
    moments = pd.to_datetime(pd.Series(column(MOMENTS), dtype=object))
    data["reported_on"] = (
        moments.dt.tz_localize(draw(st.sampled_from(["UTC", "Asia/Tokyo", "America/Lima"])))
        if draw(st.booleans()) else moments
    )  # fmt: skip
    data["hs_code"] = pd.Categorical(column(st.sampled_from(["2710", "271019", "2709", "8703"])))
    data["destination"] = pd.array(column(st.sampled_from(["KP", "CN", "kp"])), dtype="string")
    quantities = column(st.integers(0, 600_000))
    data["quantity"] = pd.array(quantities, dtype="Int64")
    data["unit"] = [None if q is None else draw(st.sampled_from(["bbl", "t"])) for q in quantities]
    data["value"] = column(st.one_of(st.floats(0, 1e9), st.just(math.nan)))
    data["currency"] = [None if v is None or v != v else "USD" for v in data["value"]]
    data["source"] = column(st.sampled_from(["notification", "customs"]))
    return pd.DataFrame(data)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames())
def test_random_frames_match_the_python_path_and_csv(
    tmp_path: Path, rulebook: compliance.Rulebook, frame: Any
) -> None:
    _same(frame, rulebook, tmp_path)


FRAMES = [_frame(), _frame().assign(extra=pd.array([1, "x", None, 2.5, "y"], dtype=object)),
          _frame().assign(when=pd.to_datetime(["2019-01-01"] * 5).tz_localize("UTC")),
          _frame().assign(day=[date(2019, 1, d) for d in range(1, 6)]),
          _frame().assign(codes=pd.Categorical([1, 22, None, 3, 4])),
          _frame().assign(flag=pd.array([True, None, False, True, False], dtype="boolean")),
          _frame().iloc[[4, 0, 2]]]  # fmt: skip


@pytest.mark.parametrize("frame", FRAMES)
def test_the_whole_table_through_arrow_is_what_polars_converts(frame: Any) -> None:
    # typed._from_pandas converts the table at once (pyarrow), not column by column
    # (pl.from_pandas): the same frame, or both refuse.
    import polars as pl

    from compliance.engine.columnar.plan import Fallback
    from compliance.engine.columnar.typed import _from_pandas

    try:
        expected = pl.from_pandas(frame)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        with pytest.raises(Fallback):
            _from_pandas(frame)
        return
    converted, values = _from_pandas(frame)
    for column, held in values.items():  # every string the column holds, no other
        assert sorted(held) == sorted(converted.get_column(column).drop_nulls().unique())
    # A column of nothing but None is Arrow's null type, which the screen casts to text
    # as polars' own String: all null either way.
    nulls = [
        pl.col(c).cast(t) for c, t in expected.schema.items() if converted.schema[c] == pl.Null
    ]
    assert converted.with_columns(nulls).schema == expected.schema
    assert converted.with_columns(nulls).equals(expected)


@settings(max_examples=20, deadline=None)
@given(frame=frames())
def test_random_tables_through_arrow_are_what_polars_converts(frame: Any) -> None:
    test_the_whole_table_through_arrow_is_what_polars_converts(frame)


# Object columns of few distinct objects (`typed._repeated_strings`: the distinct objects
# converted, then gathered), with the distinct share forced so that small frames take it.

SAME = "".join(["K", "P"])  # "KP", another object: equal values of distinct objects
OBJECTS = st.sampled_from(
    ["KP", SAME, "CN", "", " kp", "2710.19", "é", "\ud800", None, math.nan, 1.5, 7, True,
     pd.NA, pd.NaT, date(2019, 1, 1), np.str_("KP"), b"KP"]
)  # fmt: skip


@st.composite
def object_frames(draw: st.DrawFn) -> Any:
    n = draw(st.integers(1, 12))
    data = {}
    for column in ("a", "b"):  # each column drawn from a few objects
        palette = draw(st.lists(OBJECTS, min_size=1, max_size=3))
        data[column] = draw(st.lists(st.sampled_from(palette), min_size=n, max_size=n))
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
    if draw(st.booleans()):  # one 2-D block of objects: strided columns
        frame = pd.DataFrame(frame.to_numpy(dtype=object).T.copy().T, columns=["a", "b"])
    return frame


@pytest.fixture
def repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    from compliance.engine.columnar import typed

    monkeypatch.setattr(typed, "_DISTINCT_SHARE", 1.0)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=object_frames())
def test_repeated_objects_convert_as_pyarrow_converts_them(repeated: None, frame: Any) -> None:
    import polars as pl
    import pyarrow as pa

    from compliance.engine.columnar.plan import Fallback
    from compliance.engine.columnar.typed import _from_pandas

    try:
        expected = pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    except (pa.ArrowException, TypeError, ValueError):
        with pytest.raises(Fallback):
            _from_pandas(frame)
        return
    assert isinstance(expected, pl.DataFrame)
    converted, values = _from_pandas(frame)
    assert converted.schema == expected.schema
    assert converted.equals(expected)
    for column, held in values.items():
        assert converted.schema[column] == pl.String
        assert sorted(held) == sorted(converted.get_column(column).drop_nulls().unique())


def test_a_frame_read_by_pandas_takes_the_repeated_strings(tmp_path: Path) -> None:
    # pandas' CSV reader gives equal cells one object: the columns of codes are
    # converted from their distinct objects, the ids (all distinct) by pyarrow.
    path = tmp_path / "log.csv"
    rows = "".join(f"r{i},2019-01-0{i % 2 + 1},kg,{'' if i % 3 else 'x'}\n" for i in range(99))
    path.write_text("id,date,unit,note\n" + rows)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    import polars as pl

    from compliance.engine.columnar.typed import _from_pandas

    converted, values = _from_pandas(frame)
    assert sorted(values) == ["date", "note", "unit"]
    assert values["unit"] == ["kg"] and sorted(values["note"]) == ["", "x"]
    assert converted.equals(pl.from_pandas(frame))
    typed = Typed.of(frame)
    assert typed is not None and typed.never_empty == {"id", "date", "unit"}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames(), codes=st.lists(st.sampled_from(["KP", "kp", " KP", "", "XX", None, pd.NA]),
                                      min_size=8, max_size=8))  # fmt: skip
def test_frames_of_repeated_strings_match_the_python_path_and_csv(
    tmp_path: Path, rulebook: compliance.Rulebook, repeated: None, monkeypatch: pytest.MonkeyPatch,
    frame: Any, codes: list[Any],
) -> None:  # fmt: skip
    # Known values checked once (bad ones among them), columns with and without "", and
    # batches of three rows (each a slice of the frame in memory).
    from compliance.engine.columnar import typed

    monkeypatch.setattr(typed, "TYPED_BATCH_ROWS", 3)
    codes = codes[: len(frame)]
    ids = [
        "" if isinstance(c, str) and not c else i for i, c in zip(frame["id"], codes, strict=True)
    ]
    # "" is no id: as an object column its values are known, as a string one its column
    # is tested for ""
    as_objects = sum(c is None for c in codes) % 2
    frame = frame.assign(
        id=pd.Series(ids, dtype=object) if as_objects else pd.array(ids, dtype="string"),
        destination=pd.Series(codes, dtype=object),
        hs_code=frame["hs_code"].astype(object).where(frame["hs_code"].notna(), None),
        note=pd.Series(["", "x", None, "x", "", "y", "x", None][: len(frame)], dtype=object),
        commodity="oil",  # a row with id "" is a record here, not a blank line in CSV
    )  # fmt: skip
    _same(frame, rulebook, tmp_path)


# Floats at the bounds of an amount's pattern and of a faithful cast, beside any float.
AMOUNT_BOUNDS = [1e15, float(np.nextafter(1e15, 0)), 1e16, float(np.nextafter(1e16, 0)), 1e-4,
                 float(np.nextafter(1e-4, 0)), 1.0, 0.0, -0.0, -1.0, 5e-324, 123456.5,
                 math.inf, -math.inf, math.nan]  # fmt: skip
AMOUNTS = st.one_of(st.sampled_from(AMOUNT_BOUNDS), st.floats(), st.floats(1e-5, 1e17))


def _clean(frame: Any, implied: bool) -> list[bool]:
    """Each row's `__clean` from the screen's checks and `__ok`, with the float amounts'
    checks left to `__ok` (`Typed.implied`) or run on their text as for any column."""
    import polars as pl

    from compliance.engine.columnar.expressions import FieldExprs
    from compliance.engine.columnar.plan import Plan
    from compliance.engine.columnar.screen import Screen
    from compliance.engine.columnar.typed import TRUSTED

    typed = Typed.of(frame)
    assert typed is not None
    plan = Plan(compliance.load_rulebook(RULES))
    exprs = FieldExprs(typed.columns, plan.conditions, plan.group_by, never_empty=typed.never_empty)
    screen = Screen(exprs, plan, every_row=True, known=typed.values,
                    implied=typed.implied if implied else frozenset())  # fmt: skip
    strings = pl.concat(list(typed.batches()))
    checked = strings.with_columns(*screen.checks)
    return checked.select(pl.all_horizontal(*screen.check_names, TRUSTED)).to_series().to_list()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # float32: to inf
@settings(max_examples=60, deadline=None)
@given(
    quantities=st.lists(st.one_of(AMOUNTS, st.none()), min_size=1, max_size=12),
    values=st.lists(AMOUNTS, min_size=12, max_size=12),
    single=st.booleans(),
)
def test_float_amounts_checked_by_their_number_are_checked_by_their_text(
    quantities: list[float | None], values: list[float], single: bool
) -> None:
    # `__ok` of a float amount (quantity, value) says what `_AMOUNT` says of its text:
    # rows are clean exactly where they were with the pattern; float32 too, NaN and None
    # missing (null), pd.NA in a nullable Float64 column.
    n = len(quantities)
    frame = pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "date": pd.to_datetime(["2019-01-10"] * n),
        "quantity": pd.array(quantities, dtype="float32" if single else "Float64"),
        "unit": ["bbl"] * n,
        "value": np.array(values[:n], dtype=np.float64),
        "currency": ["USD"] * n,
    })  # fmt: skip
    typed = Typed.of(frame)
    assert typed is not None and typed.implied == {"quantity", "value"}
    assert _clean(frame, implied=True) == _clean(frame, implied=False)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames(), amounts=st.lists(AMOUNTS, min_size=8, max_size=8))
def test_frames_of_float_amounts_match_the_python_path_and_csv(
    tmp_path: Path, rulebook: compliance.Rulebook, frame: Any, amounts: list[float]
) -> None:
    # Quantities as floats (the benchmark's pandas frame), values at the bounds.
    frame = frame.assign(
        quantity=frame["quantity"].astype("float64"), value=amounts[: len(frame)],
        currency=["USD" if a == a else None for a in amounts[: len(frame)]],
    )  # fmt: skip
    assert Typed.of(frame) is not None
    _same(frame, rulebook, tmp_path)


def test_amounts_of_other_types_are_checked_by_their_text() -> None:
    # Integers and strings keep the pattern: only a float's text is known by its number.
    frame = _frame().assign(value=["1.5", "-2", None, "0.10", "1e5"])
    typed = Typed.of(frame)
    assert typed is not None and typed.implied == frozenset()
    # "-2" has a sign, row c no date, "1e5" an exponent.
    assert _clean(frame, implied=True) == [True, False, False, True, False]
