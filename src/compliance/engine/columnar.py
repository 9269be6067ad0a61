"""The columnar engine: Polars screens millions of rows, the shared Python code decides.

One streaming pass over each log computes, per row, a conservative validation screen
("clean": certainly valid as written), a hash of the id, and every rule's selector as a
Polars expression. Only a small remainder leaves Polars:

* *Python rows* — rows that are not clean, carry `supersedes`, share an id with another
  row, or are named by a correction — go through `ledger.reconcile`, so rejections,
  reasons, lines, duplicates and corrections are the stream engine's by construction.
* Rows matching a per-event rule (prohibition, deadline, designation) become `Shipment`s
  and go to `findings_for_rule`.
* Caps are screened with float64 sums per (rule, group, period) — or per rolling window —
  and only buckets whose float total comes within 1e-6 of their lowest level (smallest
  threshold or limit) are recomputed exactly, in `Decimal`, by `findings_for_rule`.

Parquet files and polars DataFrames take the same screen on their columns cast to
strings (`_Typed`); a row that reaches Python is read again from its typed columns, so
its record is the Python reader's. Logs that the fast readers cannot reproduce line for
line (JSON arrays, JSON Lines, stdin, quoted newlines, ragged rows, bytes that are not
UTF-8, odd headers, nested or boolean columns), iterables and pandas frames take the
same route with every record as a Python row: slower, never different.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from compliance.engine._polars_select import FieldExprs, _one_of, date_in
from compliance.engine._progress import Progress
from compliance.engine.findings import _span, amount_in, findings_for_rule, sort_findings
from compliance.events import (
    DATE_FIELDS,
    FIELDS,
    IMO_FIELDS,
    MAX_FIELDS,
    NUMERIC_FIELDS,
    Shipment,
    imitated_field,
)
from compliance.io.readers import (
    FIELD_LIMIT,
    REQUIRED,
    check_header,
    display_name,
    is_frame,
    log_format,
    records_from,
    short_rows,
)
from compliance.ledger import RawRecord, reconcile
from compliance.report import Accounting, Finding, Report, RulebookInfo
from compliance.rulebook.evaluator import compile_selector, rule_condition
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, RollingPeriod, Rule
from compliance.units import convert

if TYPE_CHECKING:
    import polars as pl

__all__ = ["evaluate_columnar"]

T = TypeVar("T")
HASH_SEED = 0x5EED
MARGIN = 1e-6  # relative float64 slack before a bucket is recomputed exactly


class _Fallback(Exception):
    """The fast reader cannot reproduce the Python reader on this log."""


@dataclass
class _Scan:
    """What one pass over a log leaves behind."""

    name: str
    columns: list[str]
    exprs: FieldExprs
    keys: pl.DataFrame  # __h (id hash), __c (content hash), __rel, __row of rows with a clean id
    relevant: pl.DataFrame  # raw columns + screening columns of the rows that matter
    records: int  # rows the Python reader would yield
    line_offset: int = 2  # CSV: line of row 0
    typed: _Typed | None = None  # Parquet or DataFrame: where its typed rows come from
    built: dict[int, Shipment] = field(default_factory=dict)  # shipments by __row


@dataclass
class _Plan:
    rulebook: Rulebook
    conditions: list[Any] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conditions = [rule_condition(r) for r in self.rulebook.rules]
        self.group_by = sorted({g for r in self.rulebook.rules if isinstance(r, CapRule)
                                for g in r.group_by})  # fmt: skip

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.rulebook.rules


def evaluate_columnar(sources: Sequence[Any], rulebook: Rulebook) -> Report:
    """Evaluate logs (paths, DataFrames or iterables) with the columnar engine."""
    plan = _Plan(rulebook)
    progress = Progress()
    scans: list[_Scan] = []
    python_records: list[RawRecord] = []
    try:
        for source in sources:
            scan = None
            try:
                if isinstance(source, str | Path) and _fast_csv(source):
                    scan = _scan_csv(str(source), plan, progress)
                elif (typed := _Typed.of(source)) is not None:
                    scan = _scan_typed(typed, plan, progress)
            except _Fallback:
                scan = None
            if scan is not None:
                scans.append(scan)
            else:
                python_records.extend(progress.count(records_from(source)))
        return _finish(plan, scans, python_records, progress)
    finally:
        progress.close()


# Reading ------------------------------------------------------------------------------


def _fast_csv(source: str | Path) -> bool:
    name = str(source)
    fast = name != "-" and log_format(name) == "csv" and Path(name).is_file()
    return fast and display_name(name) == name  # else the Python reader escapes the name


def _header(path: str) -> list[str]:
    """The header as the Python reader sees it; _Fallback when it would complain."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(io.StringIO(handle.readline())))
    except (StopIteration, csv.Error, UnicodeDecodeError, OSError):
        raise _Fallback from None
    header = check_header(path, header)  # the Python reader's LogError, if any
    if any(not h or h.startswith("__") for h in header):
        raise _Fallback
    return header


_BY_VALUE = DATE_FIELDS | IMO_FIELDS | {"hs_code", "product", "transfer", "source"}

# 31 MiB of CSV per chunk: ~340k rows, a few hundred MB at most. Under 32 MiB, glibc's
# largest threshold for serving an allocation by a fresh mapping: above it every chunk's
# bytes were mapped and faulted in anew (reading a 10M-row log took 0.5 s, not 0.15 s),
# below it freed ones are reused.
CHUNK_BYTES = 31 << 20
PROBE_BYTES = 1 << 16  # how far back from a chunk's size its last newline is looked for


def _chunk_end(handle: BinaryIO, start: int, size: int) -> int:
    """Where the chunk from `start` ends: after its last newline within CHUNK_BYTES, else
    (a line longer than the probe) after the next newline, else at the end of the file."""
    if start + CHUNK_BYTES >= size:
        return size
    probe = min(PROBE_BYTES, CHUNK_BYTES)
    at = start + CHUNK_BYTES - probe
    handle.seek(at)
    tail = handle.read(probe)
    if (cut := tail.rfind(b"\n")) >= 0:
        return at + cut + 1
    while tail:
        at += len(tail)
        tail = handle.read(probe)
        if (cut := tail.find(b"\n")) >= 0:
            return at + cut + 1
    return at


def _csv_frames(path: str, header: list[str]) -> Iterator[pl.DataFrame]:
    """The log's rows as string frames of about CHUNK_BYTES each, with their `__row`.

    Each chunk ends at a newline and is parsed on its own, so memory stays bounded
    (a lazy scan of the whole plan kept every batch). Its end is found before it is
    read, so it is read straight into one bytes object: cutting a larger read at its
    last newline copied every chunk once more. _Fallback whenever the row count could
    differ from the Python reader's: quoted newlines (a chunk's rows and lines
    disagree, or its last line leaves a quote open), lone carriage returns, parse errors.
    """
    import polars as pl

    schema = dict.fromkeys(header, pl.String)
    offset = 0
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        first_line = handle.readline()  # the header, read by _header()
        if not _whole_lines(first_line):
            raise _Fallback
        start = len(first_line)
        while (end := _chunk_end(handle, start, size)) > start:
            handle.seek(start)
            chunk = handle.read(end - start)
            if len(chunk) != end - start or not _whole_lines(chunk):
                raise _Fallback
            if short_rows(chunk, len(header)):
                raise _Fallback  # the Python reader rejects those rows
            lines = chunk.count(b"\n") + (chunk[-1:] != b"\n")
            try:
                # An unquoted empty field is null already; a quoted one ("") is null
                # by null_values: both mean absent.
                frame = pl.read_csv(chunk, has_header=False, schema=schema, encoding="utf8",
                                    null_values=[""])  # fmt: skip
            except pl.exceptions.PolarsError:
                raise _Fallback from None
            if frame.height != lines or frame.width != len(header):
                raise _Fallback  # quoted newlines or skipped lines: line numbers would differ
            yield frame.with_row_index("__row", offset)
            offset += frame.height
            start = end


def _whole_lines(chunk: bytes) -> bool:
    """Whether the Python reader ends lines in `chunk` where Polars does: no lone
    carriage return (the csv module ends a line there), no quote left open on its last
    line (a quoted field may run on into the next chunk)."""
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        return False
    return chunk[chunk.rfind(b"\n", 0, len(chunk) - 1) + 1 :].count(b'"') % 2 == 0


def _prefetched(frames: Iterator[T]) -> Iterator[T]:
    """The same items, the next one read and parsed on a thread meanwhile.

    Polars releases the GIL while parsing, and the screen of one chunk leaves cores
    idle (its horizontal checks run one after another): overlapping the two uses them.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, frames, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, frames, None)
            yield item


class _Screen:
    """The screening expressions, built once per log.

    Stage one (`run`, on every chunk) uses raw columns only: __nb (not blank), __clean,
    __pre (some rule could match: `FieldExprs.necessary`), __h and __c. Stage two
    (`relevant`, once at the end) — normalised columns and one __m<i> per rule — runs on
    the few rows that are not clean, carry `supersedes` or pass __pre.
    """

    def __init__(self, exprs: FieldExprs, plan: _Plan, every_row: bool = False) -> None:
        """`every_row`: the reader yields rows of blanks too (Parquet, DataFrames), so
        they are records (rejected by the ledger) rather than skipped."""
        import polars as pl

        tests = [exprs.necessary(c) for c in plan.conditions]
        if any(t is None for t in tests):
            pre: pl.Expr = pl.lit(True)
        else:
            unique = {str(e): e for t in tests if t is not None for e in t}  # rules share tests
            pre = pl.any_horizontal(list(unique.values())) if unique else pl.lit(False)
        checks, record_checks = exprs.checks()
        # Columns whose values repeat (dates, codes, vessels) and whose checks cost most:
        # checked once per distinct value in a chunk, then looked up.
        self.by_value = {c: checks.pop(c) for c in exprs.columns if c in _BY_VALUE}
        # Each check is its own column (__k<i>), computed once: with_columns runs them in
        # parallel (one all_horizontal expression would run them one after another), and
        # it does not share subexpressions, so the id check is read from its column.
        self.checks = [e.alias(f"__k{i}") for i, e in enumerate([*checks.values(), *record_checks])]
        self.check_names = [f"__k{i}" for i in range(len(self.checks))]
        self.by_value_names = [f"__k{i + len(self.checks)}" for i in range(len(self.by_value))]
        id_check = next(i for i, c in enumerate(checks) if c == "id")
        self.id_ok = exprs.has("id") & pl.col(f"__k{id_check}")
        # Exact copies of a row share __c: they resolve as duplicates without re-reading.
        # Per-column hashes (seeded by position) combined by xor cost a tenth of hashing a
        # struct of strings; in four parts computed in parallel, then combined.
        parts: list[pl.Expr] = [pl.lit(0, dtype=pl.UInt64)] * 4
        for i, column in enumerate(exprs.columns):
            parts[i % 4] = parts[i % 4].xor(pl.col(column).hash(HASH_SEED + i))
        self.content_parts = [e.alias(f"__c{i}") for i, e in enumerate(parts)]
        content = pl.col("__c0").xor(pl.col("__c1")).xor(pl.col("__c2")).xor(pl.col("__c3"))
        self.content = content.alias("__c")
        self.first = [
            (pl.lit(True) if every_row else exprs.nonblank()).alias("__nb"),
            pre.alias("__pre"),
            exprs.raw("id").hash(HASH_SEED).alias("__h"),
        ]
        self.candidates = pl.col("__nb") & (
            ~pl.col("__clean") | exprs.has("supersedes") | pl.col("__pre")
        )
        self.materialise = exprs.materialise()
        masks = []
        for i, (rule, condition) in enumerate(zip(plan.rules, plan.conditions, strict=True)):
            effective = date_in(exprs.norm("date"), rule.effective.from_, rule.effective.to)
            masks.append((exprs.select(condition) & effective).alias(f"__m{i}"))
        self.masks = masks
        interesting = ~pl.col("__clean") | exprs.has("supersedes")
        if masks:
            interesting = interesting | pl.any_horizontal([f"__m{i}" for i in range(len(masks))])
        self.interesting = interesting

    def run(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """(keys, candidates for stage two, records) of one chunk."""
        import polars as pl

        distinct = frame.select(pl.col(c).drop_nulls().unique().implode() for c in self.by_value)
        by_value = []
        for (column, check), name in zip(self.by_value.items(), self.by_value_names, strict=True):
            values = distinct.get_column(column).explode().to_frame()
            good = values.filter(check).get_column(column)
            if good.len() == values.height:  # the usual case: nothing to look up
                by_value.append(pl.lit(True).alias(name))
            else:
                ok = _one_of(pl.col(column), good.to_list()) | pl.col(column).is_null()
                by_value.append(ok.alias(name))
        # __ok (typed sources): the row's strings are the text the Python reader's values
        # give; where not, the row is not clean.
        trusted = [_TRUSTED] if _TRUSTED in frame.columns else []
        screened = frame.with_columns(*self.first, *self.content_parts, *self.checks, *by_value)
        screened = screened.with_columns(
            pl.all_horizontal([*self.check_names, *self.by_value_names, *trusted]).alias("__clean"),
            self.id_ok.alias("__idok"), self.content,
        ).drop(*self.check_names, *self.by_value_names, *trusted,
               "__c0", "__c1", "__c2", "__c3")  # fmt: skip
        records = int(screened.get_column("__nb").sum())
        keys = screened.filter(pl.col("__idok")).select("__h", "__c", "__row")
        candidates = screened.filter(self.candidates)
        if candidates.height:
            candidates = _detached(candidates)
        return keys, candidates, records

    def relevant(self, candidates: pl.DataFrame) -> pl.DataFrame:
        """Stage two, once on the candidates of every chunk: its plan (a mask per rule)
        costs more to set up than to run on the two thousand candidates of a chunk."""
        import polars as pl

        return (
            candidates.lazy()
            .with_columns(self.materialise).with_columns(self.masks)
            .filter(self.interesting).with_columns(pl.lit(True).alias("__rel"))
            .collect()
        )  # fmt: skip


def _detached(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of a few filtered rows. Filtered string views still point into the whole
    chunk's buffers: without a copy, every chunk of the file stays in memory."""
    import polars as pl

    buffer = io.BytesIO()
    frame.write_ipc(buffer, compat_level=pl.CompatLevel.oldest())
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _scan_csv(path: str, plan: _Plan, progress: Progress) -> _Scan:
    import polars as pl

    header = _header(path)
    exprs = FieldExprs(header, plan.conditions, plan.group_by, empty_is_null=True)
    scan = _screen_all(path, exprs, _Screen(exprs, plan), _csv_frames(path, header), progress)
    relevant = scan.relevant
    longest = relevant.select(pl.max_horizontal(
        pl.col(c).str.len_chars().max() for c in header
    )).item() if relevant.height else 0  # fmt: skip
    if longest is not None and longest > FIELD_LIMIT:
        raise _Fallback  # the csv module rejects such a row with its own message
    return scan


def _screen_all(
    name: str, exprs: FieldExprs, screen: _Screen, frames: Iterator[pl.DataFrame],
    progress: Progress,
) -> _Scan:  # fmt: skip
    """Stage one on every frame of a log, stage two on the candidates: the log's scan."""
    import polars as pl

    columns = exprs.columns
    keys: list[pl.DataFrame] = []
    kept: list[pl.DataFrame] = []
    records = 0
    for frame in _prefetched(frames):
        try:
            chunk_keys, candidates, n = screen.run(frame)
        except pl.exceptions.PolarsError:
            raise _Fallback from None
        keys.append(chunk_keys)
        if candidates.height or not kept:
            kept.append(candidates)
        records += n
        progress.add(frame.height)
    if not kept:  # no rows at all: run the screen on none for the columns' schema
        empty = pl.DataFrame(schema={"__row": pl.UInt32, **dict.fromkeys(columns, pl.String)})
        chunk_keys, candidates, _ = screen.run(empty)
        keys.append(chunk_keys)
        kept.append(candidates)
    try:
        relevant = screen.relevant(pl.concat(kept))
    except pl.exceptions.PolarsError:
        raise _Fallback from None
    all_keys = pl.concat(keys)
    all_keys = all_keys.with_columns(
        pl.col("__row").is_in(relevant.get_column("__row").implode()).alias("__rel")
    )
    return _Scan(
        name=name, columns=columns, exprs=exprs, keys=all_keys, relevant=relevant,
        records=records,
    )  # fmt: skip


def _fetch(scan: _Scan, rows: pl.Series) -> pl.DataFrame:
    """Raw columns and `__row` of some rows, by a second pass over the log."""
    import polars as pl

    if scan.typed is not None:
        return scan.typed.strings(scan.typed.rows(rows))
    wanted = rows.implode()
    frames = _csv_frames(scan.name, scan.columns)
    parts = [frame.filter(pl.col("__row").is_in(wanted)) for frame in frames]
    return pl.concat(parts) if parts else pl.DataFrame()


# Parquet files and polars DataFrames -------------------------------------------------

_TRUSTED = "__ok"
# Rows per screened batch of a typed log: about as many as a CSV chunk holds.
TYPED_BATCH_ROWS = 1 << 18
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclass(frozen=True)
class _Typed:
    """A log with typed columns: a Parquet file (read in slices) or a polars DataFrame.

    The screen reads each column cast to the text `events._validate` makes of its values
    (str() of ints, repr() of floats, ISO dates, the UTC date of a datetime), and `__ok`
    says where that cast is certainly faithful; other rows are not clean. Rows that go to
    Python are read again from the typed columns, so their records, reasons and values
    are the Python reader's.
    """

    name: str  # as the Python reader names its records
    lazy: Callable[[], pl.LazyFrame]
    height: int
    casts: tuple[pl.Expr, ...]  # __row, the string columns and __ok

    @staticmethod
    def of(source: object) -> _Typed | None:
        """The typed log for a Parquet path or a polars DataFrame; None for other
        sources; _Fallback when a column type has no faithful cast."""
        import polars as pl

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
        else:
            return None
        try:
            schema = lazy().collect_schema()
            height = lazy().select(pl.len()).collect().item()  # Parquet: from the footer
        except pl.exceptions.PolarsError:
            raise _Fallback from None
        return _Typed(name, lazy, height, _casts(schema))

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
        import polars as pl

        try:
            for _, query in self._slices():
                yield query.select(self.casts).collect()
        except pl.exceptions.PolarsError:
            raise _Fallback from None

    def rows(self, rows: pl.Series) -> pl.DataFrame:
        """The typed columns of some rows, with their `__row`, in row order: only the
        slices holding them are read."""
        import polars as pl

        parts = []
        for start, query in self._slices():
            inside = rows.filter((rows >= start) & (rows < start + TYPED_BATCH_ROWS))
            if inside.len():
                chosen = query.filter(pl.col("__row").is_in(inside.implode())).collect()
                parts.append(_detached(chosen))
        if not parts:
            return self.lazy().with_row_index("__row").head(0).collect()
        return pl.concat(parts)

    def strings(self, typed: pl.DataFrame) -> pl.DataFrame:
        """`__row` and the string columns of typed rows (without __ok)."""
        return typed.select(self.casts).drop(_TRUSTED)

    def records(self, rows: pl.Series) -> Iterator[RawRecord]:
        """Records of some rows, as `readers.records_from` yields them."""
        for values in self.rows(rows).iter_rows(named=True):
            index = values.pop("__row")
            yield RawRecord(values, self.name, index=index)


def _casts(schema: pl.Schema) -> tuple[pl.Expr, ...]:
    """`__row`, each column as text, and `__ok`: whether every cast of the row is exact."""
    import polars as pl

    names = list(schema)
    if any(c not in names for c in REQUIRED) or len(names) > MAX_FIELDS:
        raise _Fallback  # every record is rejected: no need for a screen
    if any(not n or n != n.strip() or n.startswith("__") or imitated_field(n) for n in names):
        raise _Fallback  # FieldExprs and the CSV header strip names; these keys are raw
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
            raise _Fallback
        casts.append(text.alias(name))
    casts.append(pl.all_horizontal(trusted or [pl.lit(True)]).alias(_TRUSTED))
    return tuple(casts)


def _scan_typed(typed: _Typed, plan: _Plan, progress: Progress) -> _Scan:
    columns = [e.meta.output_name() for e in typed.casts[1:-1]]  # without __row and __ok
    exprs = FieldExprs(columns, plan.conditions, plan.group_by)
    screen = _Screen(exprs, plan, every_row=True)
    scan = _screen_all(typed.name, exprs, screen, typed.batches(), progress)
    return replace(scan, typed=typed)


# From scans to a report -----------------------------------------------------------------


def _python_rows(scan: _Scan, frame: pl.DataFrame) -> Iterator[RawRecord]:
    """Rows of a scan as the Python reader yields them (all-blank CSV rows are skipped;
    typed rows are read again, with their own values)."""
    if scan.typed is not None:
        yield from scan.typed.records(frame.get_column("__row"))
        return
    for row in frame.select(["__row", *scan.columns]).iter_rows():
        index, values = row[0], row[1:]
        if all(v is None or not v.strip() for v in values):
            continue
        data = {c: ("" if v is None else v) for c, v in zip(scan.columns, values, strict=True)}
        yield RawRecord(data, scan.name, line=index + scan.line_offset)


def _hash_ids(ids: Iterable[str]) -> pl.Series:
    import polars as pl

    return pl.Series("__h", list(ids), dtype=pl.String).hash(HASH_SEED)


def _text(value: object) -> str:
    """An id as parse_shipment stores it."""
    return value.strip() if isinstance(value, str) else str(value)


def _finish(
    plan: _Plan, scans: list[_Scan], python_records: list[RawRecord], progress: Progress
) -> Report:
    import polars as pl

    # 1. Rows that need the Python ledger: not clean, or with supersedes.
    candidates: list[RawRecord] = list(python_records)
    fast_records = 0
    for scan in scans:
        fast_records += scan.records
        flagged = scan.relevant.filter(~pl.col("__clean") | scan.exprs.has("supersedes"))
        rows = list(_python_rows(scan, flagged))
        fast_records -= flagged.height  # the ledger counts them (rows of blanks: not records)
        candidates.extend(rows)

    # 2. Ids those rows involve, and ids that occur more than once among clean rows.
    named: set[str] = set()  # ids of Python rows
    targets: set[str] = set()  # ids Python rows correct
    for record in candidates:
        data = record.data if isinstance(record.data, Mapping) else {}
        for key, into in (("id", named), ("supersedes", targets)):
            value = data.get(key)
            if value is not None and (text := _text(value)):
                into.add(text)
    keys = pl.concat(
        [s.keys.with_columns(pl.lit(n, dtype=pl.Int32).alias("__s")) for n, s in enumerate(scans)]
    ) if scans else pl.DataFrame(schema={"__h": pl.UInt64, "__c": pl.UInt64, "__row": pl.UInt32,
                                         "__rel": pl.Boolean, "__s": pl.Int32})  # fmt: skip
    target_list = sorted(targets)
    named_h, target_h = _hash_ids(named), _hash_ids(target_list)
    target_by_hash = dict(zip(target_h.to_list(), target_list, strict=True))
    # Sorting 10M hashes and comparing neighbours takes a seventh of is_duplicated().
    ordered = keys.get_column("__h").sort()
    dup = ordered.filter(ordered == ordered.shift(1)).unique()
    hot_ids = pl.concat([dup, named_h, target_h]).unique()
    hot_keys = keys.filter(pl.col("__h").is_in(hot_ids.implode()))
    groups = (
        hot_keys.group_by("__h")
        .agg(pl.len().alias("n"), pl.col("__rel").any().alias("rel"),
             (~pl.col("__rel")).sum().alias("plain"), pl.col("__c").n_unique().alias("contents"))
    )  # fmt: skip
    # Groups of identical rows that no rule, correction or odd value touches: copies are
    # duplicates, and a correction's target needs only a stand-in for the ledger.
    simple = groups.filter(
        ~pl.col("rel") & (pl.col("contents") == 1) & ~pl.col("__h").is_in(named_h.implode())
    )
    copies = int((simple.get_column("n") - 1).sum() or 0)
    fast_records -= copies
    stand_ins: list[tuple[RawRecord, Shipment]] = []
    for h in simple.filter(pl.col("__h").is_in(target_h.implode())).get_column("__h"):
        ident = target_by_hash[h]
        stand_ins.append(
            (
                RawRecord({"id": ident}, "<stand-in>"),
                _construct({"id": ident, "date": date.min}),
            )
        )
        fast_records -= 1
    fetch = groups.filter(pl.col("plain") > 0).join(simple.select("__h"), on="__h", how="anti")

    # 3. Clean rows sharing one of those ids join the Python rows (a second pass fetches
    #    the ones the first pass did not keep).
    clean_frames: list[tuple[_Scan, pl.DataFrame]] = []
    simple_h = simple.get_column("__h").implode()
    for n, scan in enumerate(scans):
        plain = scan.relevant.filter(pl.col("__clean") & ~scan.exprs.has("supersedes"))
        hot = pl.col("__h").is_in(hot_ids.implode()) & ~pl.col("__h").is_in(simple_h)
        joined = plain.filter(hot)
        plain = plain.filter(~hot)
        wanted = hot_keys.filter((pl.col("__s") == n) & ~pl.col("__rel")).join(
            fetch.select("__h"), on="__h", how="semi"
        )
        if wanted.height:
            second = _fetch(scan, wanted.get_column("__row"))
            joined = pl.concat([joined.select(second.columns), second])
        candidates.extend(_python_rows(scan, joined))
        clean_frames.append((scan, plain))
        fast_records -= joined.height

    ledger = reconcile([*candidates, *stand_ins])
    # A stand-in stays when its correction was rejected; the row it stands for matched
    # no rule, so it has no findings either.
    standing = {id(s) for _, s in stand_ins}
    accepted = [e for e in ledger.accepted if id(e) not in standing]

    # 4. Findings, rule by rule.
    findings: list[Finding] = []
    for index, rule in enumerate(plan.rules):
        condition = plan.conditions[index]
        matches = compile_selector(condition)
        from_python = [e for e in accepted if matches(e)]
        if isinstance(rule, CapRule):
            clean_parts = [(n, s, f.filter(pl.col(f"__m{index}")))
                           for n, (s, f) in enumerate(clean_frames)]  # fmt: skip
            findings.extend(_cap(plan, rule, from_python, clean_parts))
        else:
            events = list(from_python)
            for scan, frame in clean_frames:
                matched = frame.get_column("__row").filter(frame.get_column(f"__m{index}"))
                events.extend(_shipments(scan, frame, matched.to_list()))
            findings.extend(findings_for_rule(rule, events, plan.rulebook))

    accounting = Accounting(
        read=ledger.accounting.read + fast_records + copies,
        evaluated=ledger.accounting.evaluated + fast_records,
        duplicates=ledger.accounting.duplicates + copies,
        superseded=ledger.accounting.superseded,
        rejected=ledger.accounting.rejected,
    )
    return Report(
        findings=sort_findings(findings), accounting=accounting, rejected=ledger.rejected,
        rulebook=RulebookInfo(sources=list(plan.rulebook.sources), rules=len(plan.rules)),
    )  # fmt: skip


def _shipments(scan: _Scan, frame: pl.DataFrame, rows: list[int] | None = None) -> list[Shipment]:
    """Shipments of clean rows (`rows` of `frame`, else all of them), built from the
    values parse_shipment would store.

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
            built[row[0]] = _construct(data)
    return [built[r] for r in rows]


_TEMPLATE: dict[str, Any] = {}


def _construct(data: dict[str, Any]) -> Shipment:
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


# Caps -------------------------------------------------------------------------------------


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


def _cap(
    plan: _Plan,
    rule: CapRule,
    from_python: list[Shipment],
    clean_parts: list[tuple[int, _Scan, pl.DataFrame]],
) -> list[Finding]:
    import polars as pl

    rulebook = plan.rulebook
    out: list[Finding] = []
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
    rows: list[dict[str, Any]] = []
    unconvertible: list[Shipment] = []
    for pos, e in enumerate(python_events):
        amounts = [amount_in(e, m, rulebook) for m in rule.limit]
        if any(a is None for a in amounts):
            unconvertible.append(e)
        row: dict[str, Any] = {"__src": -1, "__pos": pos, "__date": e.date, "__id": e.id}
        for k, g in enumerate(rule.group_by):
            row[groups[k]] = _python_group_value(e, g)
        for j, a in enumerate(amounts):
            row[f"__a{j}"] = float(a) if a is not None else None
        rows.append(row)
    frames = [pl.DataFrame(rows, schema=schema)]

    # Clean rows: float amounts in Polars.
    sources: dict[int, tuple[_Scan, pl.DataFrame]] = {}
    for n, scan, part in clean_parts:
        if part.height == 0:
            continue
        part = _clean_amounts(rule, scan.exprs, part, rulebook).with_row_index("__pos")
        sources[n] = (scan, part)
        bad = part.filter(pl.any_horizontal(pl.col(f"__a{j}").is_null() for j in range(measures)))
        unconvertible.extend(_shipments(scan, bad))
        frames.append(part.select(
            pl.lit(n, dtype=pl.Int32).alias("__src"), pl.col("__pos").cast(pl.Int64),
            scan.exprs.norm("date").alias("__date"), scan.exprs.raw("id").alias("__id"),
            *(_group_value(scan.exprs, g).alias(groups[k]) for k, g in enumerate(rule.group_by)),
            *(pl.col(f"__a{j}") for j in range(measures)),
        ))  # fmt: skip
    if unconvertible:
        out.extend(f for f in findings_for_rule(rule, unconvertible, rulebook)
                   if f.kind == "unconvertible")  # fmt: skip
    events = pl.concat(frames).with_columns(
        pl.col(f"__a{j}").fill_null(0.0) for j in range(measures)
    )
    if events.height == 0:
        return out

    levels = _levels(rule)
    if isinstance(rule.period, RollingPeriod):
        hot = _rolling_hot(events, groups, levels, rule.period.days, numeric_group)
        for segment in hot:
            members = _materialise(segment, python_events, sources)
            out.extend(f for f in findings_for_rule(rule, members, rulebook)
                       if f.kind != "unconvertible")  # fmt: skip
        return out

    dates = events.get_column("__date").unique().to_list()
    spans = {d: _span(rule, _construct({"id": "", "date": d})) for d in dates}
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
    members = _materialise(members_frame, python_events, sources)
    out.extend(f for f in findings_for_rule(rule, members, rulebook) if f.kind != "unconvertible")
    return out


def _materialise(
    frame: pl.DataFrame,
    python_events: list[Shipment],
    sources: dict[int, tuple[_Scan, pl.DataFrame]],
) -> list[Shipment]:
    import polars as pl

    out = [python_events[p] for p in frame.filter(pl.col("__src") == -1).get_column("__pos")]
    for n, (scan, part) in sources.items():
        positions = frame.filter(pl.col("__src") == n).get_column("__pos")
        if positions.len():
            chosen = part.filter(pl.col("__pos").cast(pl.Int64).is_in(positions.implode()))
            out.extend(_shipments(scan, chosen))
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
