"""What runs on the executors: CSV lines numbered per file, and the columnar screen.

Spark reads a CSV log as text lines with the file and the start of the block (split)
holding each line (`_metadata.file_path`, `_metadata.file_block_start`). A block lies in
one partition and its lines arrive in order, so a line's number in its file is the first
line of its block (`count_blocks`, a first cheap pass, gives each block's count) plus its
position in the block. Each executor parses its lines with the columnar engine's CSV
parser and runs the columnar `Screen` on them; what it returns per row is the row's keys
(id hash, content hash, whether it is kept) and, for the few rows the screen keeps, the
line itself, which the driver screens again to the same result. A clean row that only
correlation steps may want is not sent: the executor builds its shipment (as the
columnar engine builds a clean row's) and its rows of the rules' step tables, which
Spark joins (engine/spark/correlate.py).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compliance.engine.columnar.csv_chunks import parse_chunk
from compliance.engine.columnar.expressions import FieldExprs
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import Scan, Screen
from compliance.engine.columnar.shipments import shipments
from compliance.engine.columnar.typed import TRUSTED, Typed
from compliance.engine.correlate import JoinPlan, step_row
from compliance.events import MAX_FIELDS, imitated_field
from compliance.io.readers import FIELD_LIMIT, REQUIRED, parse_stream
from compliance.ledger import RawRecord
from compliance.rulebook.correlation import CompiledCorrelation, correlation_rules
from compliance.rulebook.rulebook import Rulebook

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "ERROR_MARK",
    "FILE",
    "KEY",
    "KEYS_SCHEMA",
    "LINES_SCHEMA",
    "STEP",
    "Correlations",
    "CsvSource",
    "JsonScreen",
    "LineScreen",
    "TypedScreen",
    "correlations_for",
    "json_record",
    "number_lines",
    "odd_line",
    "screen_for",
]

LINES_SCHEMA = "__f string, __no long, value string"
# Per row: source, row (line - 2), id and content hash (as signed 64-bit), whether the
# id is valid (a key), kept by the screen (__rel), a line the screen cannot take (__odd);
# __line: the text of kept and odd rows; __count, __latest: a tally row per batch (its
# records, the latest delivery or reporting date of a clean row).
# __rows: a typed source's rows in one batch (its tally row's __row: the partition's base).
# __cor: a clean row that may match correlation steps only; it stays here, and a step
# row (__step: the rule's index, then its row of the rule's step table, `STEP`, as text;
# with its __s, __row, __h and __line) per correlation rule whose steps it takes part
# in. (One column, not five: every row carries each column through the JVM.)
KEYS_SCHEMA = (
    "__s int, __row long, __h long, __c long, __idok boolean, __rel boolean, "
    "__odd boolean, __line string, __count long, __latest string, __rows long, "
    "__cor boolean, __step array<string>"
)
STEP = ("__r", "__m", "__d", "__e")  # __step's first items; then the join fields' texts
ERROR_MARK = "compliance-spark: "  # marks an executor's error meant for the user


@dataclass(frozen=True)
class CsvSource:
    """One CSV file of the log, as the executors need it."""

    index: int
    name: str
    header: list[str]


def number_lines(
    batches: Iterator[pa.RecordBatch], starts: dict[tuple[str, int], int]
) -> Iterator[pl.DataFrame]:
    """The lines of a partition with their number in their file (`__no`, from 1):
    `starts` holds the number of each block's first line."""
    import polars as pl

    seen: dict[tuple[str, int], int] = {}
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if not frame.height:
            continue
        blocks = frame.group_by("__f", "__b", maintain_order=True).agg(pl.len().alias("n"))
        bases = []
        for f, b, n in blocks.iter_rows():
            bases.append(starts[(f, b)] + seen.get((f, b), 0))
            seen[(f, b)] = seen.get((f, b), 0) + n
        blocks = blocks.with_columns(pl.Series("__base", bases, dtype=pl.Int64)).drop("n")
        position = pl.int_range(pl.len(), dtype=pl.Int64).over("__f", "__b")
        frame = frame.with_columns(position.alias("__pos")).join(
            blocks, on=["__f", "__b"], how="left", maintain_order="left"
        )
        yield frame.select("__f", (pl.col("__base") + pl.col("__pos")).alias("__no"), "value")


def numbered_batches(
    batches: Iterator[pa.RecordBatch], starts: dict[tuple[str, int], int]
) -> Iterator[pa.RecordBatch]:
    """`number_lines` as Arrow batches (for a second pass that fetches some lines)."""
    for frame in number_lines(batches, starts):
        yield from frame.to_arrow().to_batches()


def odd_line(line: str, width: int) -> str:
    """What the Python reader makes of `line`: "ok" (a row the screen takes), "blank"
    (skipped), "odd" (a row with the wrong number of fields, unreadable or over-long:
    it goes to the driver as text) or "open" (a quoted field runs onto the next line,
    which line-by-line reading cannot follow)."""
    if '"' not in line and line.count(",") == width - 1 and len(line) <= FIELD_LIMIT:
        return "ok" if line.replace(",", "").strip() else "blank"
    if line.count('"') % 2:
        return "open"
    csv.field_size_limit(FIELD_LIMIT)
    try:
        rows = list(csv.reader([line]))
    except csv.Error:
        return "odd"
    row = rows[0] if rows else []
    if not any(c.strip() for c in row):
        return "blank"
    return "ok" if len(row) == width and len(line) <= FIELD_LIMIT else "odd"


_SCREENS: dict[tuple[str, tuple[str, ...], bool], tuple[FieldExprs, Screen]] = {}


def screen_for(
    token: str, rulebook: Rulebook, header: list[str], typed: bool = False
) -> tuple[FieldExprs, Screen]:
    """The columnar screen of a CSV header (or, `typed`, of the string columns of typed
    or JSON records, where every row is a record), built once per worker process."""
    key = (token, tuple(header), typed)
    if key not in _SCREENS:
        plan = Plan(rulebook)
        exprs = FieldExprs(header, plan.conditions, plan.group_by, empty_is_null=not typed)
        _SCREENS[key] = (exprs, Screen(exprs, plan, every_row=typed))
    return _SCREENS[key]


@dataclass(frozen=True)
class Correlations:
    """A rulebook's correlation rules as the executors join them: (index, compiled
    rule, join plan) of each, and the indexes of the other rules."""

    rules: list[tuple[int, CompiledCorrelation, JoinPlan]]
    others: list[int]

    @classmethod
    def of(cls, rulebook: Rulebook) -> Correlations:
        rules = []
        for index, rule in correlation_rules(rulebook.rules):
            compiled = CompiledCorrelation(rule)
            rules.append((index, compiled, JoinPlan.of(compiled)))
        taken = {i for i, _, _ in rules}
        return cls(rules, [i for i in range(len(rulebook.rules)) if i not in taken])


_CORRELATIONS: dict[str, Correlations] = {}


def correlations_for(token: str, rulebook: Rulebook) -> Correlations:
    """The rulebook's `Correlations`, built once per worker process."""
    if token not in _CORRELATIONS:
        _CORRELATIONS[token] = Correlations.of(rulebook)
    return _CORRELATIONS[token]


def screened_keys(
    screen: Screen, exprs: FieldExprs, correlations: Correlations, frame: pl.DataFrame,
    where: pl.DataFrame, source: int,
) -> pl.DataFrame:  # fmt: skip
    """The KEYS_SCHEMA rows of one screened frame (`__row`: its positions), its step
    rows and a tally row. `where` maps each `__row` to the row's key (`__key`: its line
    - 2, its row in a Parquet file, ...) and, for text sources, its line (`__line`),
    kept for the rows the screen keeps and for step rows."""
    import polars as pl

    keys, candidates, records, latest = screen.run(frame)
    relevant = screen.relevant(candidates)
    # Rows only correlation steps may want stay on the executors: the join runs here.
    only = pl.lit(False)
    if correlations.rules:
        steps = pl.any_horizontal([pl.col(f"__m{i}") for i, _, _ in correlations.rules])
        other = [pl.col(f"__m{i}") for i in correlations.others]
        only = (
            pl.col("__clean") & ~exprs.has("supersedes") & steps
            & (~pl.any_horizontal(other) if other else pl.lit(True))
        )  # fmt: skip
    kept = relevant.select("__row", (~only).alias("__rel"), only.alias("__cor"))
    # Kept rows whose id is not valid are no keys: they come with __idok false.
    out = keys.join(kept, on="__row", how="full", coalesce=True).join(where, on="__row", how="left")
    out = out.with_columns(
        pl.col("__h").is_not_null().alias("__idok"), pl.col("__rel").fill_null(False),
        pl.col("__cor").fill_null(False),
        pl.col("__h").reinterpret(signed=True), pl.col("__c").reinterpret(signed=True),
        pl.lit(source, dtype=pl.Int32).alias("__s"), pl.lit(False).alias("__odd"),
        pl.col("__key").alias("__row"),
    ).drop("__key")  # fmt: skip
    if "__line" in out.columns:
        out = out.with_columns(pl.when(pl.col("__rel")).then(pl.col("__line")).alias("__line"))
    tally = pl.DataFrame({
        "__s": pl.Series([source], dtype=pl.Int32),
        "__count": pl.Series([records], dtype=pl.Int64),
        "__latest": pl.Series([latest], dtype=pl.String),
    })  # fmt: skip
    parts = [out, tally]
    cor = relevant.filter(only)
    if cor.height:
        parts.append(_step_rows(exprs, correlations, cor, where, source))
    return pl.concat(parts, how="diagonal")


def _step_rows(
    exprs: FieldExprs, correlations: Correlations, cor: pl.DataFrame, where: pl.DataFrame,
    source: int,
) -> pl.DataFrame:  # fmt: skip
    """The step rows of some clean rows (the shipments the columnar engine builds of
    them, tested exactly by each correlation rule)."""
    import polars as pl

    scan = Scan(name="", columns=exprs.columns, exprs=exprs, keys=cor.head(0),
                relevant=cor, records=0)  # fmt: skip
    positions: list[int] = cor.get_column("__row").to_list()
    events = shipments(scan, cor, positions)
    at: list[int] = []
    steps: list[list[str | None]] = []
    for index, compiled, plan in correlations.rules:
        for position, event in zip(positions, events, strict=True):
            if (row := step_row(compiled, plan.fields, event)) is None:
                continue
            mask, day, ident, values = row
            at.append(position)
            steps.append([str(index), str(mask), str(day), ident, *values])
    rows = pl.DataFrame({"__row": pl.Series(at, dtype=pl.UInt32),
                         "__step": pl.Series(steps, dtype=pl.List(pl.String))})  # fmt: skip
    hashes = cor.select("__row", pl.col("__h").reinterpret(signed=True))
    return (
        rows.join(hashes, on="__row", how="left").join(where, on="__row", how="left")
        .with_columns(pl.lit(source, dtype=pl.Int32).alias("__s"), pl.col("__key").alias("__row"))
        .drop("__key")
    )  # fmt: skip


def _as_keys(parts: list[pl.DataFrame]) -> pl.DataFrame | None:
    """Frames with some KEYS_SCHEMA columns as one frame of all of them."""
    import polars as pl

    if not parts:
        return None
    out = pl.concat(parts, how="diagonal")
    return out.select(
        pl.col(n).cast(t) if n in out.columns else pl.lit(None, dtype=t).alias(n)
        for n, t in _keys_types().items()
    )


def _odd_rows(source: int, keys: list[int], lines: list[str] | None) -> pl.DataFrame:
    """Rows that go to the driver whole, to be read there as the Python reader reads them."""
    import polars as pl

    return pl.DataFrame({
        "__s": pl.Series([source] * len(keys), dtype=pl.Int32),
        "__row": pl.Series(keys, dtype=pl.Int64),
        "__odd": pl.Series([True] * len(keys)),
        "__line": pl.Series(lines if lines is not None else [None] * len(keys), dtype=pl.String),
    })  # fmt: skip


@dataclass(frozen=True)
class LineScreen:
    """The screen of the CSV files of a log, as a `mapInArrow` function."""

    token: str  # tells this evaluation's screens apart in a reused worker
    rulebook: Rulebook
    sources: dict[str, CsvSource]  # by file path as Spark names it
    starts: dict[tuple[str, int], int]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import polars as pl

        for lines in number_lines(batches, self.starts):
            for (path,), part in lines.partition_by("__f", as_dict=True).items():
                source = self.sources[str(path)]
                out = self.screen(source, part.filter(pl.col("__no") > 1))
                if out is not None:
                    yield from _batches(out)

    def screen(self, source: CsvSource, part: pl.DataFrame) -> pl.DataFrame | None:
        """The keys, kept lines and odd lines of some lines of one file."""
        import polars as pl

        width = len(source.header)
        # Most lines are plain (no quote, one comma fewer than columns): decided in
        # Polars; the others one by one as the Python reader would read them.
        value = pl.col("value")
        plain = (
            ~value.str.contains('"', literal=True)
            & (value.str.count_matches(",", literal=True) == width - 1)
            & (value.str.len_chars() <= FIELD_LIMIT)
            & (value.str.replace_all(",", "", literal=True).str.strip_chars() != "")
        )
        part = part.with_columns(plain.alias("__plain"))
        fast = part.filter(pl.col("__plain"))
        numbers: list[int] = fast.get_column("__no").to_list()
        texts: list[str] = fast.get_column("value").to_list()
        odd_numbers: list[int] = []
        odd_texts: list[str] = []
        slow = part.filter(~pl.col("__plain")).select("__no", "value")
        for number, text in slow.iter_rows():
            kind = odd_line(text, width)
            if kind == "blank":
                continue  # the Python reader skips it
            if kind == "open":
                raise ValueError(
                    f"{ERROR_MARK}{source.name}:{number}: a quoted field runs onto the next "
                    "line, which the spark engine (reading CSV line by line) cannot follow; "
                    "use --engine columnar for this log"
                )
            (odd_numbers if kind == "odd" else numbers).append(number)
            (odd_texts if kind == "odd" else texts).append(text)
        parts = []
        if odd_numbers:
            parts.append(_odd_rows(source.index, [n - 2 for n in odd_numbers], odd_texts))
        if numbers:
            parts.append(self.keys(source, numbers, texts))
        return _as_keys(parts)

    def keys(self, source: CsvSource, numbers: list[int], texts: list[str]) -> pl.DataFrame:
        import polars as pl

        exprs, screen = screen_for(self.token, self.rulebook, source.header)
        try:
            frame = parse_chunk(("\n".join(texts) + "\n").encode(), source.header)
        except Fallback:
            frame = None
        if frame is None or frame.height != len(texts):
            raise ValueError(f"{ERROR_MARK}{source.name}: lines {numbers[0]}-{numbers[-1]} "
                             "do not parse one row per line")  # fmt: skip
        rows = pl.Series("__row", numbers, dtype=pl.Int64) - 2
        frame = frame.with_columns(rows.cast(pl.UInt32)).select("__row", *source.header)
        where = pl.DataFrame({"__row": rows.cast(pl.UInt32), "__key": rows, "__line": texts})
        correlations = correlations_for(self.token, self.rulebook)
        return screened_keys(screen, exprs, correlations, frame, where, source.index)


def _batches(keys: pl.DataFrame) -> Iterator[pa.RecordBatch]:
    """KEYS_SCHEMA rows as Arrow batches Spark reads (Polars' lists are large lists,
    which it does not)."""
    import pyarrow as pa

    table = keys.to_arrow()
    at = table.schema.get_field_index("__step")
    field = table.schema.field(at)
    table = table.set_column(at, field.name, table.column(at).cast(pa.list_(field.type.value_type)))
    yield from table.to_batches()


def _keys_types() -> dict[str, Any]:
    import polars as pl

    return {
        "__s": pl.Int32, "__row": pl.Int64, "__h": pl.Int64, "__c": pl.Int64,
        "__idok": pl.Boolean, "__rel": pl.Boolean, "__odd": pl.Boolean,
        "__line": pl.String, "__count": pl.Int64, "__latest": pl.String, "__rows": pl.Int64,
        "__cor": pl.Boolean, "__step": pl.List(pl.String),
    }  # fmt: skip


def json_record(text: str, name: str, number: int) -> RawRecord | None:
    """The Python reader's record of line `number` of a JSON Lines file (None: blank)."""
    if number == 1:
        text = text.removeprefix("\ufeff")  # the reader opens files as utf-8-sig
    # Spark's lines lose their terminator; the reader's keep it (a JSON error's column
    # counts it). A file's last line without one is the exception: its error column
    # can differ from the reader's by the newline.
    for record in parse_stream([text + "\n"], name, "jsonl"):
        return RawRecord(record.data, name, line=number, problems=record.problems)
    return None


def _json_text(value: object) -> tuple[bool, str | None]:
    """(whether the screen can take the value, its text as `events._validate` makes it:
    str() of an int, repr() of a float, as the typed columns' casts)."""
    kind = type(value)
    if value is None or kind is str:
        return True, value  # type: ignore[return-value]
    if kind is int:
        return abs(value) < 1 << 63, str(value)  # type: ignore[arg-type]
    if kind is float:
        return 1e-4 <= abs(value) < 1e16, repr(value)  # type: ignore[arg-type]
    return False, None  # booleans, nested values: the Python path decides


def _plain_key(key: object) -> bool:
    return (
        isinstance(key, str) and bool(key) and key == key.strip()
        and not key.startswith("__") and imitated_field(key) is None
    )  # fmt: skip


@dataclass(frozen=True)
class JsonScreen:
    """The screen of the JSON Lines files of a log, as a `mapInArrow` function: each
    line parsed as the Python reader parses it; records whose values all have a text
    the screen takes are screened as string columns, the others go to the driver."""

    token: str
    rulebook: Rulebook
    sources: dict[str, int]  # source index by file path as Spark names it
    names: dict[str, str]  # the reader's name of each file
    starts: dict[tuple[str, int], int]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for lines in number_lines(batches, self.starts):
            for (path,), part in lines.partition_by("__f", as_dict=True).items():
                out = self.screen(self.sources[str(path)], self.names[str(path)], part)
                if out is not None:
                    yield from _batches(out)

    def screen(self, index: int, name: str, part: pl.DataFrame) -> pl.DataFrame | None:
        import polars as pl

        odd_keys: list[int] = []
        odd_lines: list[str] = []
        plain: list[tuple[int, str, dict[str, str | None], bool]] = []
        for number, text in part.select("__no", "value").iter_rows():
            record = json_record(text, name, number)
            if record is None:
                continue
            data = record.data
            texts: dict[str, str | None] = {}
            trusted = not record.problems and len(data) <= MAX_FIELDS
            for key, value in data.items() if trusted else ():
                ok, texts[key] = _json_text(value)
                if not (ok and _plain_key(key)):
                    trusted = False
                    break
            if trusted:
                plain.append((number, text, texts, True))
            else:
                odd_keys.append(number)
                odd_lines.append(text)
        parts = [_odd_rows(index, odd_keys, odd_lines)] if odd_keys else []
        if plain:
            columns = sorted({k for _, _, t, _ in plain for k in t} | set(REQUIRED))
            frame = pl.DataFrame(
                {c: [t.get(c) for _, _, t, _ in plain] for c in columns},
                schema=dict.fromkeys(columns, pl.String),
            ).with_columns(pl.lit(True).alias(TRUSTED))
            frame = frame.with_row_index("__row").select("__row", *columns, TRUSTED)
            where = pl.DataFrame({
                "__row": pl.Series(range(len(plain)), dtype=pl.UInt32),
                "__key": pl.Series([n for n, _, _, _ in plain], dtype=pl.Int64),
                "__line": pl.Series([t for _, t, _, _ in plain], dtype=pl.String),
            })  # fmt: skip
            exprs, screen = screen_for(self.token, self.rulebook, columns, typed=True)
            correlations = correlations_for(self.token, self.rulebook)
            parts.append(screened_keys(screen, exprs, correlations, frame, where, index))
        return _as_keys(parts)


KEY = "__key"  # a typed source's row key: its row in its Parquet file, or
# (partition << 33) + row in the partition, as monotonically_increasing_id makes it
FILE = "__f"  # a typed source's file, as Spark names it (null for a DataFrame)


@dataclass(frozen=True)
class TypedScreen:
    """The screen of typed rows (Parquet files, a Spark DataFrame) as a `mapInArrow`
    function: the columnar engine's casts of typed columns to text, then its screen.
    Rows whose types have no faithful cast go to the driver (their keys only)."""

    token: str
    rulebook: Rulebook
    sources: dict[str | None, int]  # source index by file path (None: a DataFrame)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import polars as pl

        for batch in batches:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if not frame.height:
                continue
            for (path,), part in frame.partition_by(FILE, as_dict=True).items():
                out = self.screen(self.sources[path], part)
                if out is not None:
                    yield from _batches(out)

    def screen(self, index: int, part: pl.DataFrame) -> pl.DataFrame | None:
        import polars as pl

        keys = part.get_column(KEY)
        # A tally row per batch says how many rows its partition holds (a DataFrame's
        # rows are numbered by partition on the driver): in __row, the partition's base.
        first: int = keys.cast(pl.Int64).min()  # type: ignore[assignment]
        base = pl.DataFrame({"__s": pl.Series([index], dtype=pl.Int32),
                             "__row": pl.Series([first >> 33 << 33], dtype=pl.Int64),
                             "__rows": pl.Series([part.height], dtype=pl.Int64)})  # fmt: skip
        try:
            typed = Typed.of(part.drop(FILE, KEY))
            if typed is None:
                raise Fallback
            frames = list(typed.batches())
        except Fallback:
            return _as_keys([_odd_rows(index, keys.to_list(), None), base])
        exprs, screen = screen_for(self.token, self.rulebook, typed.columns, typed=True)
        correlations = correlations_for(self.token, self.rulebook)
        where = pl.DataFrame({"__row": pl.Series(range(part.height), dtype=pl.UInt32),
                              "__key": keys.cast(pl.Int64)})  # fmt: skip
        out = [screened_keys(screen, exprs, correlations, frame, where, index) for frame in frames]
        return _as_keys([*out, base])
