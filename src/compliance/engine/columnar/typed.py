"""Logs with typed columns: Parquet files (read in slices), polars DataFrames and pandas
DataFrames (through Arrow).

The screen reads each column cast to the text `events._validate` makes of its values
(str() of ints, repr() of floats, ISO dates, the UTC date of a datetime), and `__ok` says
where that cast is certainly faithful; other rows are not clean. Rows that go to Python
are read again from the typed columns (a pandas frame's from the pandas frame itself), so
their records, reasons and values are the Python reader's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from compliance.engine.columnar.frames import detached
from compliance.engine.columnar.plan import Fallback
from compliance.events import DATE_FIELDS, MAX_FIELDS, NUMERIC_FIELDS, imitated_field
from compliance.io.readers import REQUIRED, is_frame, log_format, pandas_rows, readable
from compliance.ledger import RawRecord

if TYPE_CHECKING:
    import polars as pl

__all__ = ["TRUSTED", "TYPED_BATCH_ROWS", "Typed", "TypedLog"]

TRUSTED = "__ok"  # the column saying a row's casts are faithful
# Rows per screened batch of a typed log: about as many as a CSV chunk holds.
TYPED_BATCH_ROWS = 1 << 18


class TypedLog(Protocol):
    """What the screen needs of a log it reads as string frames with `__ok` (a typed
    log here, a JSON Lines file in `ndjson`): the rows that reach Python are read again
    from it, as the Python reader yields them."""

    @property
    def name(self) -> str: ...
    @property
    def columns(self) -> list[str]: ...
    def batches(self) -> Iterator[pl.DataFrame]: ...
    def makers(self) -> Iterator[Callable[[], pl.DataFrame]]: ...
    def rows(self, rows: pl.Series) -> pl.DataFrame: ...
    def strings(self, typed: pl.DataFrame) -> pl.DataFrame: ...
    def records(self, rows: pl.Series) -> Iterator[RawRecord]: ...


@dataclass(frozen=True)
class Typed:
    """A log with typed columns, and how to read its rows as strings."""

    name: str  # as the Python reader names its records
    lazy: Callable[[], pl.LazyFrame]
    height: int
    casts: tuple[pl.Expr, ...]  # __row, the string columns and __ok
    pandas: Any = None  # a pandas DataFrame: its rows that reach Python are read from it
    # String columns whose distinct values are known (from a pandas frame's conversion):
    # the screen checks those values once rather than every row.
    values: dict[str, list[str]] = field(default_factory=dict)
    # (place in `casts`, the day) of each date field read from a Date or Datetime
    days: tuple[tuple[int, pl.Expr], ...] = ()
    # Columns whose text is never "" (numbers, dates; strings of a frame without one):
    # the screen reads them as they are, with no test for "" (`FieldExprs.raw`).
    never_empty: frozenset[str] = frozenset()
    frame: pl.DataFrame | None = None  # a frame in memory: sliced as it is
    # Columns whose `FieldExprs.field_ok` `__ok` already makes (float amounts): the
    # screen runs no check of their text.
    implied: frozenset[str] = frozenset()

    @staticmethod
    def of(source: object) -> Typed | None:
        """The typed log for a Parquet path or a polars DataFrame; None for other
        sources; Fallback when a column type has no faithful cast."""
        import polars as pl

        pandas = None
        values: dict[str, list[str]] = {}
        frame: pl.DataFrame | None = None  # in memory
        if isinstance(source, str | Path):
            name = str(source)
            if name == "-" or log_format(name) != "parquet" or not Path(name).is_file():
                return None

            def scan() -> pl.LazyFrame:
                return pl.scan_parquet(name, glob=False)

            lazy = scan
        elif is_frame(source) and isinstance(source, pl.DataFrame):
            name, frame = "<dataframe>", source
            lazy = frame.lazy
        elif is_frame(source) and type(source).__module__.startswith("pandas"):
            (frame, values), name, pandas = _from_pandas(source), "<dataframe>", source
            lazy = frame.lazy
        else:
            return None
        try:
            schema = lazy().collect_schema()
            height = lazy().select(pl.len()).collect().item()  # Parquet: from the footer
            never_empty = {n for n, t in schema.items() if not _maybe_empty(t)}
            if frame is not None:  # a test of the strings in memory: 0.001 CPU-s a column
                strings = [n for n, t in schema.items() if t == pl.String and n not in values]
                held = (
                    frame.select((pl.col(n) == "").any() for n in strings).row(0) if strings else ()
                )
                never_empty.update(n for n, empty in zip(strings, held, strict=True) if not empty)
            never_empty.update(n for n, held in values.items() if "" not in held)
        except pl.exceptions.PolarsError:
            raise Fallback from None
        casts, days = _casts(schema), _days(schema)
        implied = frozenset(n for n, t in schema.items() if _amount_of_float(n, t))
        return Typed(
            name, lazy, height, casts, pandas, values, days, frozenset(never_empty), frame, implied
        )

    @property
    def columns(self) -> list[str]:
        """The log's column names (without __row and __ok)."""
        return [e.meta.output_name() for e in self.casts[1:-1]]

    def _slices(self) -> Iterator[tuple[int, pl.LazyFrame]]:
        """(first row, query) of each slice of TYPED_BATCH_ROWS rows, with `__row`.

        Polars reads only the part of the file a slice needs, so one slice at a time
        keeps memory bounded (the streaming engine's `collect_batches` ran ahead of the
        screen: 1.6 GB at 10M rows, against 0.6 GB).
        """
        for start in range(0, self.height, TYPED_BATCH_ROWS):
            yield start, self.lazy().with_row_index("__row").slice(start, TYPED_BATCH_ROWS)

    def batches(self) -> Iterator[pl.DataFrame]:
        """String frames of TYPED_BATCH_ROWS rows."""
        return (make() for make in self.makers())

    def makers(self) -> Iterator[Callable[[], pl.DataFrame]]:
        """A function making each string frame (the screen runs two at once)."""
        for start in range(0, self.height, TYPED_BATCH_ROWS):
            yield partial(self._strings_of, start)

    def _strings_of(self, start: int) -> pl.DataFrame:
        import polars as pl

        try:
            if self.frame is not None:
                # A slice of a frame in memory is one chunk of each column; a query's
                # result comes in pieces, which cost the screen a fifth more (0.08
                # against 0.06 CPU-s a batch).
                rows = self.frame.slice(start, TYPED_BATCH_ROWS)
                typed = rows.with_row_index("__row", start)
            else:
                query = self.lazy().with_row_index("__row").slice(start, TYPED_BATCH_ROWS)
                typed = query.collect()
            return typed.select(self._texts(typed))
        except pl.exceptions.PolarsError:
            raise Fallback from None

    def _texts(self, typed: pl.DataFrame) -> list[pl.Expr]:
        """`casts` for a batch: the text of a date column whose days span fewer days than
        the batch has rows is each day's text written once, then gathered (0.001 CPU-s
        against 0.016 for a quarter million rows written one by one)."""
        import polars as pl

        casts = list(self.casts)
        numbers = [day.to_physical() for _, day in self.days]  # days since 1970
        ends = [
            e
            for n, day in enumerate(numbers)
            for e in (day.min().alias(f"<{n}"), day.max().alias(f">{n}"))
        ]
        found = typed.select(ends).row(0) if ends else ()  # fmt: skip
        for (i, _), day, first, last in zip(
            self.days, numbers, found[::2], found[1::2], strict=True
        ):
            if first is not None and last - first < typed.height:
                texts = pl.int_range(first, last + 1, dtype=pl.Int32).cast(pl.Date).cast(pl.String)
                casts[i] = texts.gather(day - first).alias(casts[i].meta.output_name())
        return casts

    def rows(self, rows: pl.Series) -> pl.DataFrame:
        """The typed columns of some rows, with their `__row`, in row order: only the
        slices holding them are read."""
        import polars as pl

        parts = []
        for start, query in self._slices():
            inside = rows.filter((rows >= start) & (rows < start + TYPED_BATCH_ROWS))
            if inside.len():
                chosen = query.filter(pl.col("__row").is_in(inside.implode())).collect()
                parts.append(detached(chosen))
        if not parts:
            return self.lazy().with_row_index("__row").head(0).collect()
        return pl.concat(parts)

    def strings(self, typed: pl.DataFrame) -> pl.DataFrame:
        """`__row` and the string columns of typed rows (without __ok)."""
        return typed.select(self.casts).drop(TRUSTED)

    def records(self, rows: pl.Series) -> Iterator[RawRecord]:
        """Records of some rows, as `readers.records_from` yields them."""
        if self.pandas is not None:
            positions = sorted(set(rows.to_list()))
            for index, values in zip(positions, pandas_rows(self.pandas, positions), strict=True):
                yield readable(RawRecord(values, self.name, index=index))
            return
        for values in self.rows(rows).iter_rows(named=True):
            index = values.pop("__row")
            yield RawRecord(values, self.name, index=index)


def _from_pandas(frame: Any) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """A pandas DataFrame through Arrow (pyarrow's `Table.from_pandas`: NaN and NaT are
    null), and the distinct values of its string columns where known; Fallback when it
    has no faithful conversion: object columns mixing types, names that are not unique
    strings.

    The whole table at once: `pl.from_pandas` converts column by column and took 2.4×
    as long (0.64 against 0.27 CPU-s for a million rows of string columns). Object
    columns holding few distinct strings are converted by `_repeated_strings` instead."""
    import polars as pl

    names = list(frame.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise Fallback
    try:
        import pyarrow as pa
    except ImportError:
        raise Fallback from None
    try:
        # Two columns at once: pandas' factorize and Polars' gather release the GIL, and
        # these columns are most of a frame's conversion (10 M rows: 2.7 s on one core).
        with ThreadPoolExecutor(max_workers=2) as pool:
            found = pool.map(lambda name: _repeated_strings(name, frame[name]), names)
            repeated = {n: c for n, c in zip(names, found, strict=True) if c is not None}
        rest = [n for n in names if n not in repeated]
        # `columns=`, not `frame[rest]`: a selection of columns copies pandas' blocks
        # (0.2 s of references for 10 M rows).
        table = pl.from_arrow(pa.Table.from_pandas(frame, columns=rest, preserve_index=False))
    except (pa.ArrowException, TypeError, ValueError, pl.exceptions.PolarsError):
        raise Fallback from None
    if not isinstance(table, pl.DataFrame):
        raise Fallback
    values = {n: strings.drop_nulls().unique().to_list() for n, (_, strings) in repeated.items()}
    if not repeated:
        return table, values
    columns = [repeated[n][0] if n in repeated else table.get_column(n) for n in names]
    return pl.DataFrame(columns), values


# Rows of an object column sampled for repeats, and the share of distinct objects among
# them above which it is converted by pyarrow (as ids are).
_SAMPLE = 4096
_DISTINCT_SHARE = 0.25


class _Addresses:
    """An object array's elements as integers (its PyObject pointers, each an object's
    `id()`), through the array interface: numpy refuses a view of references."""

    def __init__(self, objects: Any) -> None:
        self.objects = objects  # kept alive while the view is
        interface = objects.__array_interface__
        self.__array_interface__ = {
            "shape": interface["shape"], "strides": interface["strides"],
            "data": interface["data"], "typestr": "<u8", "version": 3,
        }  # fmt: skip


def _repeated_strings(name: str, column: Any) -> tuple[pl.Series, pl.Series] | None:
    """An object column as pyarrow converts it, when it holds few distinct objects, each
    a `str`, None or a float NaN (a string column, NaN and None null), and the strings of
    those objects; None otherwise.

    pyarrow reads each element's object (0.03-0.05 CPU-s a million rows); pandas' CSV
    reader gives equal cells of a column one object, so this converts the distinct
    objects only, found by their addresses in Polars, and gathers them (0.02)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    if column.dtype != np.dtype(object):
        return None  # categorical, string and other extension columns: pyarrow's own way
    objects = column.to_numpy()
    if objects.dtype != object or objects.ndim != 1 or objects.itemsize != 8 or not len(objects):
        return None
    import pandas as pd

    addresses = np.asarray(_Addresses(objects))
    if len(pd.unique(addresses[:_SAMPLE])) > _DISTINCT_SHARE * min(len(addresses), _SAMPLE):
        return None
    # Codes numbered in order of first appearance: the first row of code k is the k-th
    # first occurrence.
    codes = pl.Series(pd.factorize(addresses)[0])
    distinct = objects[codes.arg_unique().to_numpy()]
    if not any(type(o) is str for o in distinct) or not all(
        type(o) is str or o is None or (type(o) is float and o != o) for o in distinct
    ):
        return None  # pyarrow decides: all null (its null type), or other types
    strings = pl.from_arrow(pa.array(distinct, pa.string(), from_pandas=True))
    assert isinstance(strings, pl.Series)
    return strings.gather(codes).alias(name), strings


def _amount_of_float(name: str, dtype: pl.DataType) -> bool:
    """Whether a column is an amount (quantity, value) of floats: `_casts` folds its
    `field_ok` into `__ok`."""
    return name in NUMERIC_FIELDS and dtype.is_float()


def _maybe_empty(dtype: pl.DataType) -> bool:
    """Whether a column of this type may give "" as its text (`_casts`)."""
    import polars as pl

    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _days(schema: pl.Schema) -> tuple[tuple[int, pl.Expr], ...]:
    """(place in `_casts`, the day) of the Date columns and of the date fields read from
    Datetime columns: their text is the day's ISO text."""
    import polars as pl

    days = []
    for i, (name, dtype) in enumerate(schema.items(), start=1):  # after __row
        if (dtype == pl.Date or name in DATE_FIELDS) and (day := _day(name, dtype)) is not None:
            days.append((i, day))
    return tuple(days)


def _day(name: str, dtype: pl.DataType) -> pl.Expr | None:
    """The Date a date field's Date or Datetime column gives (`events._date`: an aware
    datetime's date in UTC, a naive one's own date); None for other types."""
    import polars as pl

    column = pl.col(name)
    if dtype == pl.Date:
        return column
    if isinstance(dtype, pl.Datetime):
        moment = column.dt.convert_time_zone("UTC") if dtype.time_zone else column
        return moment.dt.date()
    return None


def _casts(schema: pl.Schema) -> tuple[pl.Expr, ...]:
    """`__row`, each column as text, and `__ok`: whether every cast of the row is exact."""
    import polars as pl

    names = list(schema)
    if any(c not in names for c in REQUIRED) or len(names) > MAX_FIELDS:
        raise Fallback  # every record is rejected: no need for a screen
    if any(not n or n != n.strip() or n.startswith("__") or imitated_field(n) for n in names):
        raise Fallback  # FieldExprs and the CSV header strip names; these keys are raw
    casts: list[pl.Expr] = [pl.col("__row")]
    trusted: list[pl.Expr] = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if dtype == pl.String:
            text = column
        elif dtype == pl.Null or dtype.is_integer() or isinstance(dtype, pl.Categorical | pl.Enum):
            text = column.cast(pl.String)  # str() of an int, the string of a category
            if name == "hs_code" and dtype.is_integer():
                # events._hs: an odd digit count is a lost leading zero, rejected there.
                trusted.append(column.is_null() | (text.str.len_chars() % 2 == 0))
        elif dtype.is_float():
            # A float32 is a Python float (float64) to the Python reader. NaN is missing
            # there. Polars writes floats below 1e-4 without an exponent (repr() with one)
            # and from 1e16 on differently: such rows take the Python path.
            number = column.cast(pl.Float64)
            number = pl.when(number.is_nan()).then(None).otherwise(number)
            text = number.cast(pl.String)
            if name == "hs_code":  # events._hs rejects every float HS code
                trusted.append(number.is_null())
            elif _amount_of_float(name, dtype):
                # An amount's check (`_AMOUNT`: no sign, at most 15 digits before the
                # point) on the number rather than its text: the text of a float in
                # [1e-4, 1e16) has no exponent, so the pattern passes exactly those in
                # (0, 1e15). A regex over a quarter million texts cost 0.006-0.009 CPU-s.
                trusted.append(number.is_null() | number.is_between(1e-4, 1e15, closed="left"))
            else:
                trusted.append(
                    number.is_null() | number.abs().is_between(1e-4, 1e16, closed="left")
                )
        elif dtype == pl.Date:
            # ISO, as str(date), for years 1000-9999; Polars writes years 0-999 with four
            # digits too (as str(date) from year 1), and others with a sign or five.
            text = column.cast(pl.String)
            trusted.append(column.is_null() | column.dt.year().is_between(0, 9999))
        elif isinstance(dtype, pl.Datetime) and name in DATE_FIELDS:
            day = _day(name, dtype)
            assert day is not None
            text = day.cast(pl.String)
            trusted.append(column.is_null() | day.dt.year().is_between(0, 9999))
        else:
            # Booleans ("True" vs "true", "must be a number"), decimals, datetimes as
            # text, durations, binary and nested values: the Python path decides.
            raise Fallback
        casts.append(text.alias(name))
    casts.append(pl.all_horizontal(trusted or [pl.lit(True)]).alias(TRUSTED))
    return tuple(casts)
