"""The screen: one streaming pass over a log that leaves behind only what matters.

Per row, in Polars: a conservative validation check ("clean": certainly valid as written),
a hash of the id and of the whole content, and for each rule whether it may match
(`FieldExprs.may_match`). What a pass keeps (`Scan`) is the keys of every row with a clean
id and the few rows that are not clean, carry `supersedes` or may match a rule.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from compliance.engine._progress import Progress
from compliance.engine.columnar.clean_lines import (
    KEYED,
    LineScreen,
    json_line_screen,
    json_reads,
    line_screen,
)
from compliance.engine.columnar.csv_chunks import (
    LINE_SEED,
    Chunk,
    chunk_frame,
    chunk_lines,
    csv_chunks,
    csv_rows,
    parse_chunk,
    parse_columns,
    quotes_closed,
    read_header,
    short_lines,
)
from compliance.engine.columnar.expressions import CODE_MAPS, FieldExprs, date_in, one_of
from compliance.engine.columnar.frames import detached
from compliance.engine.columnar.line_index import LineIndex
from compliance.engine.columnar.ndjson import NdjsonLog
from compliance.engine.columnar.plan import Fallback, Plan
from compliance.engine.columnar.typed import TRUSTED, Typed, TypedLog
from compliance.events import DATE_FIELDS, IMO_FIELDS, MAX_TEXT, Shipment
from compliance.io.readers import FIELD_LIMIT

if TYPE_CHECKING:
    import polars as pl

__all__ = ["HASH_SEED", "Scan", "Screen", "fetch", "scan_csv", "scan_typed"]

T = TypeVar("T")
HASH_SEED = 0x5EED
# What stage one leaves of a chunk: (keys, candidates, records, latest clean date as text).
Outcome = tuple["pl.DataFrame", "pl.DataFrame", int, str | None]


@dataclass
class Scan:
    """What one pass over a log leaves behind."""

    name: str
    columns: list[str]
    exprs: FieldExprs
    keys: pl.DataFrame  # __h (id hash), __c (content hash), __rel, __row of rows with a clean id
    relevant: pl.DataFrame  # raw columns + screening columns of the rows that matter
    records: int  # rows the Python reader would yield
    line_offset: int = 2  # CSV: line of row 0
    chunks: list[Chunk] = field(default_factory=list)  # CSV: where its rows are
    index: LineIndex = field(default_factory=LineIndex)  # CSV: where its chunks' lines are
    typed: TypedLog | None = None  # Parquet, DataFrame, JSON Lines: where its rows come from
    built: dict[int, Shipment] = field(default_factory=dict)  # shipments by __row
    latest: date | None = None  # the latest delivery or reporting date of a clean row


# Columns whose values repeat (dates, codes, vessels, descriptions of goods): checked
# once per distinct value of a chunk.
_BY_VALUE = DATE_FIELDS | IMO_FIELDS | {"hs_code", "product", "transfer", "source",
                                        "commodity", "vessel_name"}  # fmt: skip


def _in_order(jobs: Iterator[Callable[[], T]], workers: int = 2) -> Iterator[T]:
    """The jobs' results in order, `workers` jobs running at once on threads.

    Polars releases the GIL while it parses and screens, and one chunk's work leaves
    cores idle (its steps run one after another): two chunks at once keep both busy.
    At most `workers` jobs are pending, so at most that many chunks are in memory.
    """
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: deque[Future[T]] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(job))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Screen:
    """The screening expressions, built once per log.

    `prove_from`: the lines of a CSV chunk left after the plain pattern (`run_csv`) are
    proved by their projected columns when there are at least this many; fewer take the
    exact path at once (its cost is mostly fixed: a chunk of this log leaves 2,144, of
    which 39 would be proved).

    Stage one (`run`, on every chunk) uses raw columns only: __nb (not blank), __clean,
    __pre (some rule could match: `FieldExprs.necessary`), __h and __c. Stage two
    (`relevant`, once at the end) — normalised columns and one __m<i> per rule (may
    match) — runs on the few rows that are not clean, carry `supersedes` or pass __pre.
    """

    prove_from = 10_000

    def __init__(
        self, exprs: FieldExprs, plan: Plan, every_row: bool = False, csv: bool = False,
        ndjson: list[str] | None = None, known: Mapping[str, list[str]] | None = None,
        implied: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        """`every_row`: the reader yields rows of blanks too (Parquet, DataFrames), so
        they are records (rejected by the ledger) rather than skipped. `csv`: chunks of
        a CSV file's lines are screened (`run_csv`), most lines from their text.
        `ndjson`: the key order of a JSON Lines log whose chunks' lines are screened so
        (`run_lines`). `known`: string columns and every value they hold (a pandas
        frame's), whose checks are run on those values once. `implied`: columns whose
        check the frames' `__ok` makes (`Typed.implied`), left out here."""
        import polars as pl

        self.lines: LineScreen | None = None
        if csv:
            self.lines = line_screen(exprs, plan.conditions, CODE_MAPS)
        elif ndjson is not None:
            self.lines = json_line_screen(exprs, plan.conditions, CODE_MAPS, ndjson)
            if self.lines is not None:
                self.reads = json_reads(self.lines.projected, ndjson)
        if self.lines is not None:
            line = pl.col("__line")
            proved = line.str.contains(self.lines.pattern) & (line.str.len_bytes() <= MAX_TEXT)
            if self.lines.wanted is not None:
                proved = proved & ~line.str.contains(self.lines.wanted)
            self.proved = proved
            self.plain = self.lines.plain or self.lines.pattern
            # Checks and tests of one column each, run once per distinct value.
            self.column_ok = [(c, exprs.field_ok(c, exprs.numeric_extras))
                              for c in self.lines.checked]  # fmt: skip
            tested: dict[str, tuple[str, pl.Expr]] = {}
            for selector in self.lines.tested:
                found = exprs.necessary(selector)
                assert found is not None  # an Equals of a field that has tests
                tested.update((str(e), (selector.field, e)) for e in found)
            self.column_tested = list(tested.values())
        tests = [exprs.necessary(c) for c in plan.conditions]
        if any(t is None for t in tests):
            pre: pl.Expr = pl.lit(True)
        else:
            unique = {str(e): e for t in tests if t is not None for e in t}  # rules share tests
            pre = pl.any_horizontal(list(unique.values())) if unique else pl.lit(False)
        checks, record_checks = exprs.checks()
        for column in implied & checks.keys():
            checks[column] = pl.lit(True)  # in __ok, which every row's __clean reads
        for column, values in (known or {}).items():
            if column in checks:  # a check of the column's value alone: by value, once
                held = pl.DataFrame({column: values}, schema={column: pl.String})
                bad = _values(held.select(pl.col(column).implode()), column, ~checks[column])
                checks[column] = ~one_of(pl.col(column), bad) if bad else pl.lit(True)
        # Columns whose values repeat and whose checks cost most: checked once per
        # distinct value in a chunk, then looked up.
        self.by_value = {c: checks.pop(c) for c in exprs.columns
                         if c in _BY_VALUE and c not in (known or {})}  # fmt: skip
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
            masks.append((exprs.may_match(condition) & effective).alias(f"__m{i}"))
        self.masks = masks
        interesting = ~pl.col("__clean") | exprs.has("supersedes")
        if masks:
            interesting = interesting | pl.any_horizontal([f"__m{i}" for i in range(len(masks))])
        self.interesting = interesting

    def run(self, frame: pl.DataFrame) -> Outcome:
        """(keys, candidates for stage two, records, the latest date of a clean row as
        ISO text) of one chunk."""
        import polars as pl

        distinct = frame.select(pl.col(c).drop_nulls().unique().implode() for c in self.by_value)
        by_value = []
        for (column, check), name in zip(self.by_value.items(), self.by_value_names, strict=True):
            values = distinct.get_column(column).explode().to_frame()
            bad = values.filter(~check).get_column(column)
            if bad.len() == 0:  # the usual case: nothing to look up
                by_value.append(pl.lit(True).alias(name))
            else:  # the few bad values: far fewer than the good ones of a free-text column
                by_value.append((~one_of(pl.col(column), bad.to_list())).alias(name))
        # __ok (typed sources): the row's strings are the text the Python reader's values
        # give; where not, the row is not clean.
        trusted = [TRUSTED] if TRUSTED in frame.columns else []
        # A CSV chunk's frame brings __c, its lines' hashes (`csv_chunks.chunk_frame`).
        hashed = "__c" in frame.columns
        parts = [] if hashed else self.content_parts
        screened = frame.with_columns(*self.first, *parts, *self.checks, *by_value)
        screened = screened.with_columns(
            pl.all_horizontal([*self.check_names, *self.by_value_names, *trusted]).alias("__clean"),
            self.id_ok.alias("__idok"), *([] if hashed else [self.content]),
        ).drop(*self.check_names, *self.by_value_names, *trusted,
               *([] if hashed else ["__c0", "__c1", "__c2", "__c3"]))  # fmt: skip
        records = int(screened.get_column("__nb").sum())
        dated = [c for c in ("date", "reported_on") if c in screened.columns]
        # A clean row's dates are ISO text as written (no spaces to strip): the largest
        # text is the latest date.
        latest = (
            screened.filter(pl.col("__clean"))
            .select(pl.max_horizontal(pl.col(c).max() for c in dated))
            .item()
        )
        keys = screened.filter(pl.col("__idok")).select("__h", "__c", "__row")
        candidates = screened.filter(self.candidates)
        if candidates.height:
            candidates = detached(candidates)
        return keys, candidates, records, latest

    def proved_lines(self, frame: pl.DataFrame) -> pl.Expr:
        """Which rows of a chunk (its lines as `__line`, its `LineScreen.projected`
        columns) are proved clean and wanted by no rule: the line screen's text tests,
        and the checks and tests of columns, each run once per distinct value."""
        import polars as pl

        assert self.lines is not None
        by_value = {c for c, _ in [*self.column_ok, *self.column_tested]}
        distinct = frame.select(pl.col(c).drop_nulls().unique().implode() for c in by_value)
        proved_if = [self.proved]
        for column, check in self.column_ok:
            if bad := _values(distinct, column, ~check):
                proved_if.append(~one_of(pl.col(column), bad))
        for column, test in self.column_tested:
            if hit := _values(distinct, column, test):
                proved_if.append(~one_of(pl.col(column), hit))
        return pl.all_horizontal(proved_if).fill_null(False)

    def run_csv(
        self, data: bytes, chunk: Chunk, header: list[str], index: LineIndex | None = None
    ) -> tuple[Outcome, int]:
        """`run` of a CSV chunk (`data`, its bytes), and its rows; its lines noted in
        `index` (for `fetch`) when they are rows.

        Three ways for a line: most are proved clean and wanted by no rule by one
        pattern (`LineScreen.plain`), and give their keys and dates from their id and
        date (`KEYED`: from the line's text or a parse of those two columns); those
        left, when there are many (`prove_from`: a vessel, a reporting date), are
        parsed for the projected columns and proved by `proved_lines`; the rest (rows
        in doubt, corrections, rows a rule may match) are parsed in full, from their
        lines, and screened by `run`."""
        import polars as pl

        lines = chunk_lines(data, chunk.lines) if self.lines is not None else None
        if self.lines is None or lines is None:
            frame = chunk_frame(data, chunk, header, index)
            return self.run(frame), frame.height
        line = pl.col("__line")
        if self.lines.leading:  # a plain line's id and date from its text
            comma = pl.col("__comma")
            id_date = [
                line.str.head(comma).alias("id"),
                line.str.slice(comma + 1, 10).alias("date"),
            ]
            keyed = (
                lines.alias("__line")
                .to_frame()
                .with_columns(line.str.find(",", literal=True).alias("__comma"))
                .select(id_date)
            )
        else:
            keyed = parse_columns(data, header, list(KEYED))
            if keyed.height != chunk.lines:
                raise Fallback  # quoted newlines or skipped lines: line numbers would differ
        screened = keyed.with_columns(lines.alias("__line")).with_row_index("__row", chunk.first)
        screened = screened.with_columns(
            (line.str.contains(self.plain) & (line.str.len_bytes() <= MAX_TEXT)).alias("__plain"),
            line.hash(LINE_SEED).alias("__c"),
            pl.col("id").hash(HASH_SEED).alias("__h"),
        )
        # Only the few columns a proved line gives are filtered (not its line).
        plain = screened.select("__h", "__c", "__row", "date").filter(screened["__plain"])
        keys = [plain.select("__h", "__c", "__row")]
        latest: str | None = plain.select(pl.col("date").max()).item()
        rest = screened.filter(~pl.col("__plain") & line.is_not_null())
        if not quotes_closed(rest.get_column("__line")):
            # A row spans lines (a plain line may be inside its quoted field): no parse
            # of the whole chunk finds that here, as when id and date are read from it.
            raise Fallback
        if index is not None:
            index.add(chunk.first, data, lines)  # no quote left open: each line is a row
        records = plain.height
        candidates = None
        if rest.height >= self.prove_from and self.lines.plain != self.lines.pattern:
            text = _lines_text(rest.get_column("__line"), len(header))
            more = parse_columns(text, header, list(self.lines.projected)).slice(1)
            if more.height != rest.height:
                raise Fallback
            more = more.with_columns(rest.get_column("__line"), rest.get_column("__row"))
            proof = more.select(self.proved_lines(more)).to_series()
            proved = more.filter(proof)
            dated = [c for c in ("date", "reported_on") if c in proved.columns]
            last = proved.select(pl.max_horizontal(pl.col(c).max() for c in dated)).item()
            latest = _later(latest, last)
            ids = proved.select(pl.col("id").hash(HASH_SEED).alias("__h"))  # as parsed
            keys.append(rest.filter(proof).select("__c", "__row").with_columns(ids))
            records += proved.height
            rest = rest.filter(~proof)
        if rest.height:
            doubtful = rest.get_column("__line")
            text = ("\n".join(doubtful.to_list()) + "\n").encode()
            if short_lines(text, doubtful, len(header)):
                raise Fallback  # the Python reader rejects those rows
            full = parse_chunk(_lines_text(doubtful, len(header)), header).slice(1)
            if full.height != rest.height or full.width != len(header):
                raise Fallback
            full = full.with_columns(rest.get_column("__row"), rest.get_column("__c"))
            more_keys, candidates, n, last = self.run(full.select("__row", *header, "__c"))
            keys.append(more_keys)
            records += n
            latest = _later(latest, last)
        if candidates is None:  # none: the screen of no rows, for the columns' schema
            empty = pl.DataFrame(schema={"__row": pl.UInt32, **dict.fromkeys(header, pl.String),
                                         "__c": pl.UInt64})  # fmt: skip
            candidates = self.run(empty)[1]
        all_keys = keys[0]  # each part in row order: merged, not sorted
        for part in keys[1:]:
            all_keys = all_keys.merge_sorted(part.select(all_keys.columns), "__row")
        return (all_keys, candidates, records, latest), screened.height

    def line_frame(self, lines: pl.Series, first: int) -> pl.DataFrame:
        """A chunk of JSON Lines as `__row`, `__line`, the projected columns read from
        the text (meaningful on proved lines), `__proved` and `__c` (the line's hash)."""
        import polars as pl

        assert self.lines is not None
        frame = pl.DataFrame({"__line": lines}).with_row_index("__row", first)
        line = pl.col("__line")
        reads = self.reads
        if reads.lead is not None:  # one search for the leading keys
            groups = line.str.extract_groups(reads.lead).alias("__g")
            names = {str(i + 1): c for i, c in enumerate(reads.leading)}
            frame = frame.with_columns(groups).unnest("__g").rename(names)
        if reads.found is not None:
            # The rare keys, read from the few lines holding one (null elsewhere).
            some = frame.select(line.str.contains(reads.found)).to_series().arg_true()
            held = frame.select(line.gather(some))
            values = held.select(line.str.extract(p, 1).alias(c) for p, c in reads.others)
            frame = frame.with_columns(
                pl.repeat(None, frame.height, dtype=pl.String, eager=True)
                .scatter(some, values.get_column(c)).alias(c) for _, c in reads.others
            )  # fmt: skip
        return frame.with_columns(
            self.proved_lines(frame).alias("__proved"), line.hash(LINE_SEED).alias("__c")
        )

    def run_lines(
        self, lines: pl.Series, first: int,
        full: Callable[[pl.Series, pl.Series], pl.DataFrame],
    ) -> tuple[Outcome, int]:  # fmt: skip
        """`run` of a chunk of JSON Lines (`lines`, numbered from `first`; null for an
        empty one), and its rows. The lines the line screen proves clean and wanted by
        no rule give their keys and dates from their text; `full` makes the frame of the
        others (`__row`, the columns, `__ok`; blank lines left out), screened by `run`."""
        import polars as pl

        frame = self.line_frame(lines, first)
        proved = frame.filter(pl.col("__proved"))
        keys = proved.select(pl.col("id").hash(HASH_SEED).alias("__h"), "__c", "__row")
        dated = [c for c in ("date", "reported_on") if c in proved.columns]
        latest = proved.select(pl.max_horizontal(pl.col(c).max() for c in dated)).item()
        doubt = frame.filter(~pl.col("__proved"))
        rest = full(doubt.get_column("__line"), doubt.get_column("__row"))
        rows = doubt.get_column("__row")
        hashes = doubt.get_column("__c").gather(rows.search_sorted(rest.get_column("__row")))
        more_keys, candidates, n, last = self.run(rest.with_columns(hashes.alias("__c")))
        if more_keys.height:
            keys = pl.concat([keys, more_keys]).sort("__row")
        if last is not None and (latest is None or last > latest):
            latest = last
        return (keys, candidates, proved.height + n, latest), proved.height + rest.height

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


def _lines_text(lines: pl.Series, width: int) -> bytes:
    """Some lines of a chunk as CSV text to parse, behind a line of the header's width
    (`width` fields), as in the chunk: Polars refuses a first line of fewer fields (a
    blank one, " , ") that it reads later on, and takes a parse's width from it."""
    return ("," * (width - 1) + "\n" + "\n".join(lines.to_list()) + "\n").encode()


def _later(one: str | None, other: str | None) -> str | None:
    """The later of two ISO dates, either perhaps missing."""
    if one is None or (other is not None and other > one):
        return other
    return one


def _values(distinct: pl.DataFrame, column: str, test: pl.Expr) -> list[str]:
    """The values of `column` in `distinct` (its distinct values, imploded) that pass
    `test`, an expression of that column alone."""
    values = distinct.get_column(column).explode().to_frame()
    return values.filter(test).get_column(column).to_list()


def scan_csv(path: str, plan: Plan, progress: Progress) -> Scan:
    """The scan of a CSV file; Fallback when it must take the Python path."""
    import polars as pl

    header = read_header(path)
    exprs = FieldExprs(header, plan.conditions, plan.group_by, empty_is_null=True)
    chunks: list[Chunk] = []
    index = LineIndex()
    screen = Screen(exprs, plan, csv=True)
    jobs = (
        partial(screen.run_csv, data, chunk, header, index)
        for data, chunk in csv_chunks(path, chunks)
    )
    scan = _screen_all(path, exprs, screen, jobs, progress)
    scan.chunks = chunks
    scan.index = index
    relevant = scan.relevant
    longest = relevant.select(pl.max_horizontal(
        pl.col(c).str.len_chars().max() for c in header
    )).item() if relevant.height else 0  # fmt: skip
    if longest is not None and longest > FIELD_LIMIT:
        raise Fallback  # the csv module rejects such a row with its own message
    return scan


def scan_typed(typed: TypedLog, plan: Plan, progress: Progress) -> Scan:
    """The scan of a Parquet file, DataFrame or JSON Lines file; Fallback when it must
    take the Python path."""
    known, never_empty, implied = (
        (typed.values, typed.never_empty, typed.implied)
        if isinstance(typed, Typed)
        else ({}, frozenset(), frozenset())
    )
    exprs = FieldExprs(typed.columns, plan.conditions, plan.group_by, never_empty=never_empty)
    order = typed.order if isinstance(typed, NdjsonLog) else None
    screen = Screen(exprs, plan, every_row=True, ndjson=order, known=known, implied=implied)

    def job(make: Callable[[], pl.DataFrame]) -> tuple[Outcome, int]:
        frame = make()
        return screen.run(frame), frame.height

    if isinstance(typed, NdjsonLog) and screen.lines is not None:
        jobs: Iterator[Callable[[], tuple[Outcome, int]]] = typed.jobs(screen)
    else:
        jobs = (partial(job, make) for make in typed.makers())
    scan = _screen_all(typed.name, exprs, screen, jobs, progress)
    scan.typed = typed
    return scan


def _screen_all(
    name: str, exprs: FieldExprs, screen: Screen, jobs: Iterator[Callable[[], tuple[Outcome, int]]],
    progress: Progress,
) -> Scan:  # fmt: skip
    """Stage one on every chunk of a log (each job reads and screens one, two at once),
    stage two on the candidates: the log's scan."""
    import polars as pl

    def screened(job: Callable[[], tuple[Outcome, int]]) -> tuple[Outcome, int]:
        try:
            return job()
        except pl.exceptions.PolarsError:
            raise Fallback from None

    columns = exprs.columns
    keys: list[pl.DataFrame] = []
    kept: list[pl.DataFrame] = []
    records = 0
    latest: str | None = None
    for (chunk_keys, candidates, n, last), height in _in_order(
        partial(screened, job) for job in jobs
    ):
        keys.append(chunk_keys)
        if candidates.height or not kept:
            kept.append(candidates)
        records += n
        if last is not None and (latest is None or last > latest):
            latest = last
        progress.add(height)
    if not kept:  # no rows at all: run the screen on none for the columns' schema
        empty = pl.DataFrame(schema={"__row": pl.UInt32, **dict.fromkeys(columns, pl.String)})
        chunk_keys, candidates, _, _ = screen.run(empty)
        keys.append(chunk_keys)
        kept.append(candidates)
    try:
        relevant = screen.relevant(pl.concat(kept))
    except pl.exceptions.PolarsError:
        raise Fallback from None
    all_keys = pl.concat(keys)
    all_keys = all_keys.with_columns(
        pl.col("__row").is_in(relevant.get_column("__row").implode()).alias("__rel")
    )
    return Scan(
        name=name, columns=columns, exprs=exprs, keys=all_keys, relevant=relevant,
        records=records, latest=date.fromisoformat(latest) if latest else None,
    )  # fmt: skip


def fetch(scan: Scan, rows: pl.Series) -> pl.DataFrame:
    """Raw columns and `__row` of some rows, by a second pass over the log."""
    if scan.typed is not None:
        return scan.typed.strings(scan.typed.rows(rows))
    return csv_rows(scan.name, scan.columns, scan.chunks, rows, scan.index)
