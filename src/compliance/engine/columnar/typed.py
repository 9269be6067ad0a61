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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from compliance.engine.columnar.frames import detached
from compliance.engine.columnar.plan import Fallback
from compliance.events import DATE_FIELDS, MAX_FIELDS, imitated_field
from compliance.io.readers import REQUIRED, is_frame, log_format, pandas_rows, readable
from compliance.ledger import RawRecord

if TYPE_CHECKING:
    import polars as pl

__all__ = ["TRUSTED", "TYPED_BATCH_ROWS", "Typed", "TypedLog"]

TRUSTED = "__ok"  # the column saying a row's casts are faithful
# Rows per screened batch of a typed log: about as many as a CSV chunk holds.
TYPED_BATCH_ROWS = 1 << 18
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


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

    @staticmethod
    def of(source: object) -> Typed | None:
        """The typed log for a Parquet path or a polars DataFrame; None for other
        sources; Fallback when a column type has no faithful cast."""
        import polars as pl

        pandas = None
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
            name, frame, pandas = "<dataframe>", _from_pandas(source), source
            lazy = frame.lazy
        else:
            return None
        try:
            schema = lazy().collect_schema()
            height = lazy().select(pl.len()).collect().item()  # Parquet: from the footer
        except pl.exceptions.PolarsError:
            raise Fallback from None
        return Typed(name, lazy, height, _casts(schema), pandas)

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
        for _, query in self._slices():
            yield partial(self._strings_of, query)

    def _strings_of(self, query: pl.LazyFrame) -> pl.DataFrame:
        import polars as pl

        try:
            return query.select(self.casts).collect()
        except pl.exceptions.PolarsError:
            raise Fallback from None

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


def _from_pandas(frame: Any) -> pl.DataFrame:
    """A pandas DataFrame through Arrow (pyarrow's `Table.from_pandas`: NaN and NaT are
    null); Fallback when it has no faithful conversion: object columns mixing types,
    names that are not unique strings.

    The whole table at once: `pl.from_pandas` converts column by column and took 2.4×
    as long (0.64 against 0.27 CPU-s for a million rows of string columns)."""
    import polars as pl

    names = list(frame.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise Fallback
    try:
        import pyarrow as pa
    except ImportError:
        raise Fallback from None
    try:
        table = pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    except (pa.ArrowException, TypeError, ValueError, pl.exceptions.PolarsError):
        raise Fallback from None
    if not isinstance(table, pl.DataFrame):
        raise Fallback
    return table


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
            else:
                trusted.append(
                    number.is_null() | number.abs().is_between(1e-4, 1e16, closed="left")
                )
        elif dtype == pl.Date:
            text = column.cast(pl.String)  # ISO, as str(date), for years 1000-9999
            trusted.append(column.is_null() | text.str.contains(_DATE_TEXT))
        elif isinstance(dtype, pl.Datetime) and name in DATE_FIELDS:
            # _date: an aware datetime's date in UTC, a naive one's own date.
            moment = column.dt.convert_time_zone("UTC") if dtype.time_zone else column
            text = moment.dt.date().cast(pl.String)
            trusted.append(column.is_null() | text.str.contains(_DATE_TEXT))
        else:
            # Booleans ("True" vs "true", "must be a number"), decimals, datetimes as
            # text, durations, binary and nested values: the Python path decides.
            raise Fallback
        casts.append(text.alias(name))
    casts.append(pl.all_horizontal(trusted or [pl.lit(True)]).alias(TRUSTED))
    return tuple(casts)
