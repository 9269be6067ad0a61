"""What runs on the executors: CSV lines numbered per file, and the columnar screen.

Spark reads a CSV log as text lines with the file and the start of the block (split)
holding each line (`_metadata.file_path`, `_metadata.file_block_start`). A block lies in
one partition and its lines arrive in order, so a line's number in its file is the first
line of its block (`count_blocks`, a first cheap pass, gives each block's count) plus its
position in the block. Each executor parses its lines with the columnar engine's CSV
parser and runs the columnar `Screen` on them; what it returns per row is the row's keys
(id hash, content hash, whether it is kept) and, for the few rows the screen keeps, the
line itself, which the driver screens again to the same result.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compliance.engine.columnar.csv_chunks import parse_chunk
from compliance.engine.columnar.expressions import FieldExprs
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.screen import Screen
from compliance.io.readers import FIELD_LIMIT
from compliance.rulebook.rulebook import Rulebook

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "ERROR_MARK",
    "KEYS_SCHEMA",
    "LINES_SCHEMA",
    "CsvSource",
    "LineScreen",
    "number_lines",
    "odd_line",
    "screen_for",
]

LINES_SCHEMA = "__f string, __no long, value string"
# Per row: source, row (line - 2), id and content hash (as signed 64-bit), whether the
# id is valid (a key), kept by the screen (__rel), a line the screen cannot take (__odd);
# __line: the text of kept and odd rows; __count, __latest: a tally row per batch (its
# records, the latest delivery or reporting date of a clean row).
KEYS_SCHEMA = (
    "__s int, __row long, __h long, __c long, __idok boolean, __rel boolean, "
    "__odd boolean, __line string, __count long, __latest string"
)
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


_SCREENS: dict[tuple[str, tuple[str, ...]], tuple[FieldExprs, Screen]] = {}


def screen_for(token: str, rulebook: Rulebook, header: list[str]) -> tuple[FieldExprs, Screen]:
    """The columnar screen of a CSV header, built once per worker process."""
    key = (token, tuple(header))
    if key not in _SCREENS:
        plan = Plan(rulebook)
        exprs = FieldExprs(header, plan.conditions, plan.group_by, empty_is_null=True)
        _SCREENS[key] = (exprs, Screen(exprs, plan))
    return _SCREENS[key]


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
                    yield from out.to_arrow().to_batches()

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
            parts.append(pl.DataFrame({
                "__s": pl.Series([source.index] * len(odd_numbers), dtype=pl.Int32),
                "__row": pl.Series(odd_numbers, dtype=pl.Int64) - 2,
                "__odd": pl.Series([True] * len(odd_numbers)),
                "__line": pl.Series(odd_texts, dtype=pl.String),
            }))  # fmt: skip
        if numbers:
            parts.append(self.keys(source, numbers, texts))
        if not parts:
            return None
        out = pl.concat(parts, how="diagonal")
        return out.select(
            pl.col(n).cast(t) if n in out.columns else pl.lit(None, dtype=t).alias(n)
            for n, t in _keys_types().items()
        )

    def keys(self, source: CsvSource, numbers: list[int], texts: list[str]) -> pl.DataFrame:
        import polars as pl

        _, screen = screen_for(self.token, self.rulebook, source.header)
        try:
            frame = parse_chunk(("\n".join(texts) + "\n").encode(), source.header)
        except Fallback:
            frame = None
        if frame is None or frame.height != len(texts):
            raise ValueError(f"{ERROR_MARK}{source.name}: lines {numbers[0]}-{numbers[-1]} "
                             "do not parse one row per line")  # fmt: skip
        rows = pl.Series("__row", numbers, dtype=pl.Int64) - 2
        frame = frame.with_columns(rows.cast(pl.UInt32)).select("__row", *source.header)
        keys, candidates, records, latest = screen.run(frame)
        kept = screen.relevant(candidates).get_column("__row")
        line_of = pl.DataFrame({"__row": rows.cast(pl.UInt32), "__line": texts})
        kept_lines = line_of.filter(pl.col("__row").is_in(kept.implode()))
        # Kept rows whose id is not valid are no keys: they come as lines only.
        out = keys.join(kept_lines, on="__row", how="full", coalesce=True).with_columns(
            pl.col("__h").is_not_null().alias("__idok"),
            pl.col("__line").is_not_null().alias("__rel"),
            pl.col("__h").reinterpret(signed=True), pl.col("__c").reinterpret(signed=True),
            pl.lit(source.index, dtype=pl.Int32).alias("__s"), pl.lit(False).alias("__odd"),
            pl.col("__row").cast(pl.Int64),
        )  # fmt: skip
        tally = pl.DataFrame({
            "__s": pl.Series([source.index], dtype=pl.Int32),
            "__count": pl.Series([records], dtype=pl.Int64),
            "__latest": pl.Series([latest], dtype=pl.String),
        })  # fmt: skip
        return pl.concat([out, tally], how="diagonal")


def _keys_types() -> dict[str, Any]:
    import polars as pl

    return {
        "__s": pl.Int32, "__row": pl.Int64, "__h": pl.Int64, "__c": pl.Int64,
        "__idok": pl.Boolean, "__rel": pl.Boolean, "__odd": pl.Boolean,
        "__line": pl.String, "__count": pl.Int64, "__latest": pl.String,
    }  # fmt: skip
