"""The driver's side: Spark jobs for the per-row and per-id work, the ledger and findings here.

1. `count_blocks`: lines per (file, block), and each CSV file's header.
2. The screen on the executors (`LineScreen` for CSV, `JsonScreen` for JSON Lines,
   `TypedScreen` for Parquet files and Spark DataFrames): keys of every row, text of the
   kept rows of text files (persisted; about 40 bytes a row).
3. To the driver: the kept and odd rows, and a tally of records per batch. The driver
   screens kept CSV rows again (the same `Screen`, the same result) into each file's
   `Scan`; kept JSON and typed rows go to the ledger as the Python reader reads them.
4. Ids: which occur more than once (a Spark aggregation over the id hashes), with the
   ids the ledger's rows carry or correct; their groups (count, kept, contents) come to
   the driver, and `resolve_groups` decides them as the columnar engine does. Clean rows
   the screen did not keep and whose id is in a group to resolve are fetched by a
   second pass over the sources.
5. The ledger (`Ledger.add` for those rows, `add_counted` for the rest; `settle`, as
   the columnar engine ends) and the findings (`findings_of`, the columnar engine's own).
6. Correlation rules (`_Chains`): rows that only correlation steps may want stayed on
   the executors as step rows; those of ids the ledger did not see, with the driver's
   step events, are joined by Spark (`spark_chains`, the columnar engine's `JoinPlan`),
   and only the first chains, and the executors' rows in them, reach the driver.
"""

from __future__ import annotations

import csv
import functools
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from compliance.engine.columnar.csv_chunks import parse_chunk
from compliance.engine.columnar.evaluation import findings_of
from compliance.engine.columnar.expressions import FieldExprs
from compliance.engine.columnar.plan import Plan
from compliance.engine.columnar.screen import Scan
from compliance.engine.columnar.selection import (
    Selection,
    involved_ids,
    python_rows,
    resolve_groups,
    settle,
)
from compliance.engine.columnar.typed import TYPED_BATCH_ROWS
from compliance.engine.correlate import JoinPlan, step_table
from compliance.engine.findings import sort_findings
from compliance.engine.spark.correlate import spark_chains
from compliance.engine.spark.executors import (
    ERROR_MARK,
    FILE,
    KEY,
    KEYS_SCHEMA,
    LINES_SCHEMA,
    STEP,
    CsvSource,
    JsonScreen,
    LineScreen,
    TypedScreen,
    json_record,
    numbered_batches,
    screen_for,
)
from compliance.engine.spark.session import spark_session
from compliance.errors import ComplianceError
from compliance.events import Shipment, parse_shipment
from compliance.io.readers import (
    display_name,
    log_format,
    parse_stream,
    readable,
    records_from,
)
from compliance.ledger import Ledger, RawRecord
from compliance.report import Report, RulebookInfo
from compliance.rulebook.correlation import Chain, CompiledCorrelation
from compliance.rulebook.rulebook import Rulebook

if TYPE_CHECKING:
    import polars as pl

__all__ = ["SparkRun", "evaluate_spark"]

BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"


class SparkRun:
    """What one evaluation measured: rows screened and rows that reached the driver."""

    def __init__(self) -> None:
        self.rows = 0
        self.to_driver = 0


def evaluate_spark(
    sources: Sequence[Any], rulebook: Rulebook, *, master: str | None = None,
    conf: Mapping[str, str] | None = None, session: Any = None, run: SparkRun | None = None,
    as_of: date | None = None,
) -> Report:  # fmt: skip
    """Evaluate logs with the spark engine: CSV, JSON Lines and Parquet paths and globs
    (any URI the session reads) and Spark DataFrames are screened on the executors;
    other logs (JSON arrays, `-`, polars or pandas frames, iterables) are read by the
    Python reader on the driver."""
    frames = [s for s in sources if _is_spark_frame(s)]
    if session is None and frames:
        session = frames[0].sparkSession
    spark = session if session is not None else spark_session(master, conf)
    run = run if run is not None else SparkRun()
    plan = Plan(rulebook)
    paths: dict[str, list[str]] = {"csv": [], "jsonl": [], "parquet": []}
    python_records: list[RawRecord] = []
    for source in sources:
        kind = _kind(source)
        if kind in paths:
            paths[kind].append(str(source))
        elif kind is None:
            python_records.extend(records_from(source))
    # Batches of a CSV chunk's size: the screen's fixed cost per batch (its checks by
    # distinct value, stage two's plan) is amortised as on one machine. Restored after.
    previous = spark.conf.get(BATCH_ROWS, None)
    spark.conf.set(BATCH_ROWS, str(TYPED_BATCH_ROWS))
    job: _Job | None = None
    try:
        job = _start(spark, plan, paths, frames)
        selection = _resolve(job, python_records, run) if job else _python_only(python_records)
    except ComplianceError:
        _stop(job)
        raise
    except Exception as e:
        _stop(job)
        raise _one_line(e) from None
    finally:
        if previous is None:
            spark.conf.unset(BATCH_ROWS)
        else:
            spark.conf.set(BATCH_ROWS, previous)
    ledger = selection.ledger
    day = as_of if as_of is not None else ledger.latest_date
    try:
        chains = _Chains(job, run) if job is not None else None
        findings = findings_of(plan, selection, day, chains)
    finally:
        _stop(job)
    return Report(
        findings=sort_findings(findings), accounting=ledger.accounting, rejected=ledger.rejected,
        superseded=ledger.superseded,
        rulebook=RulebookInfo(sources=list(plan.rulebook.sources), rules=len(plan.rules)),
        as_of=day,
    )  # fmt: skip


def _kind(source: object) -> str | None:
    """`csv`, `jsonl` or `parquet` for a path read on Spark, `frame` for a Spark
    DataFrame, None for what the Python reader reads on the driver."""
    if _is_spark_frame(source):
        return "frame"
    if isinstance(source, str | Path) and str(source) != "-":
        kind = log_format(str(source))
        return kind if kind in ("csv", "jsonl", "parquet") else None
    return None


def _is_spark_frame(source: object) -> bool:
    return type(source).__module__.startswith("pyspark.sql") and hasattr(source, "schema")


def _one_line(error: Exception) -> ComplianceError:
    """An executor's failure as one line: ours as we wrote it, Spark's first line."""
    text = str(error)
    if ERROR_MARK in text:
        message = text[text.index(ERROR_MARK) + len(ERROR_MARK) :].splitlines()[0]
        return ComplianceError(message)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A Python worker's failure: the traceback's last "SomeError: ..." line says what.
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    first = raised[-1] if raised else lines[0] if lines else repr(error)
    return ComplianceError(f"spark engine: a Spark job failed: {first}")


def _names(paths: list[str]) -> dict[str, str]:
    """The Python reader's name for each local file, by its absolute path."""
    return {str(Path(p).resolve()): display_name(p) for p in paths if Path(p).is_file()}


def _name_of(uri: str, names: dict[str, str]) -> str:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        local = unquote(parsed.path)
        return names.get(str(Path(local).resolve()), local)
    return uri


def _header(name: str, head: str | None) -> tuple[list[str], str]:
    """A file's header as the Python reader checks it (its LogError, if any)."""
    if head is None:
        list(parse_stream([], name, "csv"))  # the empty-file error
        raise AssertionError("unreachable")
    head = head.removeprefix("\ufeff")
    for record in parse_stream([head + "\n"], name, "csv"):  # raises on a bad header
        del record
    header = [h.strip() for h in next(csv.reader([head]))]
    if any(not h or h.startswith("__") for h in header):
        raise ComplianceError(f"{name}:1: the spark engine takes no blank or __ column names")
    return header, head


@dataclass
class _Typed:
    """A typed source (the Parquet files of a log, or one Spark DataFrame) on Spark."""

    keyed: Any  # its rows with FILE and KEY
    names: dict[int, str]  # the reader's name by source index
    files: dict[int, str | None]  # FILE by source index
    frame: bool  # a DataFrame: records are numbered across its partitions


@dataclass
class _Job:
    """The sources of one evaluation on Spark, each with its source index."""

    spark: Any
    plan: Plan
    keys: list[Any] = field(default_factory=list)  # Spark frames of KEYS_SCHEMA
    csv: dict[str, CsvSource] = field(default_factory=dict)  # by file path
    csv_text: Any = None
    csv_starts: dict[tuple[str, int], int] = field(default_factory=dict)
    heads: dict[int, str] = field(default_factory=dict)
    json: dict[str, int] = field(default_factory=dict)  # source index by file path
    json_names: dict[int, str] = field(default_factory=dict)
    json_text: Any = None
    json_starts: dict[tuple[str, int], int] = field(default_factory=dict)
    typed: list[_Typed] = field(default_factory=list)
    count: int = 0  # source indexes used
    all_keys: Any = None  # the union of `keys`, persisted while the evaluation runs
    hot: Any = None  # id hashes whose rows the ledger sees (a Spark frame of __h)
    parts: Any = None  # typed sources' rows per batch (the tallies' __rows)
    steps: Any = None  # step rows of ids the ledger did not see, persisted once read

    def add_csv(self, paths: list[str]) -> None:
        import polars as pl

        text, blocks, starts = self._lines(paths)
        names = _names(paths)
        files = sorted(set(blocks.get_column("__f").to_list()))
        seen = {_name_of(uri, names) for uri in files}
        for uri in text.inputFiles():  # a file without lines has no blocks
            if (name := _name_of(uri, names)) not in seen:
                _header(name, None)
        for uri in files:
            first = blocks.filter((pl.col("__f") == uri) & (pl.col("__b") == 0)).get_column("head")
            name = _name_of(uri, names)
            header, self.heads[self.count] = _header(name, first.item() if first.len() else None)
            self.csv[uri] = CsvSource(self.count, name, header)
            self.count += 1
        self.csv_text, self.csv_starts = text, starts
        screen = LineScreen(uuid.uuid4().hex, self.plan.rulebook, self.csv, starts)
        self.keys.append(text.mapInArrow(screen, KEYS_SCHEMA))

    def add_jsonl(self, paths: list[str]) -> None:
        text, blocks, starts = self._lines(paths)
        names = _names(paths)
        for uri in sorted(set(blocks.get_column("__f").to_list())):
            self.json[uri] = self.count
            self.json_names[self.count] = _name_of(uri, names)
            self.count += 1
        self.json_text, self.json_starts = text, starts
        by_path = {uri: self.json_names[i] for uri, i in self.json.items()}
        screen = JsonScreen(uuid.uuid4().hex, self.plan.rulebook, self.json, by_path, starts)
        self.keys.append(text.mapInArrow(screen, KEYS_SCHEMA))

    def add_parquet(self, paths: list[str]) -> None:
        from pyspark.sql import functions as F

        # The union of the files' columns (a column a file lacks is null there, as
        # missing is to the Python reader, which reads each file with its own).
        reader = self.spark.read.option("mergeSchema", "true")
        keyed = reader.parquet(*paths).select(
            "*", F.col("_metadata.file_path").alias(FILE), F.col("_metadata.row_index").alias(KEY)
        )
        names = _names(paths)
        uris = sorted(r[0] for r in keyed.select(FILE).distinct().collect())
        indexes = {uri: self.count + n for n, uri in enumerate(uris)}
        self.count += len(uris)
        self._typed(keyed, {i: _name_of(u, names) for u, i in indexes.items()},
                    dict(indexes), frame=False)  # fmt: skip

    def add_frame(self, frame: Any) -> None:
        from pyspark.sql import functions as F

        keyed = frame.select(
            "*", F.lit(None).cast("string").alias(FILE),
            F.monotonically_increasing_id().alias(KEY),
        )  # fmt: skip
        self._typed(keyed, {self.count: "<dataframe>"}, {None: self.count}, frame=True)
        self.count += 1

    def _typed(
        self, keyed: Any, names: dict[int, str], indexes: dict[str | None, int], frame: bool
    ) -> None:
        screen = TypedScreen(uuid.uuid4().hex, self.plan.rulebook, indexes)
        self.keys.append(keyed.mapInArrow(screen, KEYS_SCHEMA))
        files = {i: uri for uri, i in indexes.items()}
        self.typed.append(_Typed(keyed, names, files, frame))

    def _lines(self, paths: list[str]) -> tuple[Any, pl.DataFrame, dict[tuple[str, int], int]]:
        """A text source's lines, its blocks, and the number of each block's first line."""
        import polars as pl
        from pyspark.sql import functions as F

        text = self.spark.read.text(paths).select(
            "value", F.col("_metadata.file_path").alias("__f"),
            F.col("_metadata.file_block_start").alias("__b"),
        )  # fmt: skip
        blocks = _polars(count_blocks(text))
        starts: dict[tuple[str, int], int] = {}
        for uri in set(blocks.get_column("__f").to_list()):
            line = 1
            own = blocks.filter(pl.col("__f") == uri).sort("__b")
            for b, n in own.select("__b", "n").iter_rows():
                starts[(uri, b)] = line
                line += n
        return text, blocks, starts


def _python_only(python_records: list[RawRecord]) -> Selection:
    ledger = Ledger()
    for record in python_records:
        ledger.add(record)
    return Selection(ledger)


def _start(spark: Any, plan: Plan, paths: dict[str, list[str]], frames: list[Any]) -> _Job | None:
    """The job of the sources read on Spark, their keys persisted (None: no such source)."""
    if not any(paths.values()) and not frames:
        return None
    job = _Job(spark, plan)
    if paths["csv"]:
        job.add_csv(paths["csv"])
    if paths["jsonl"]:
        job.add_jsonl(paths["jsonl"])
    if paths["parquet"]:
        job.add_parquet(paths["parquet"])
    for frame in frames:
        job.add_frame(frame)
    job.all_keys = functools.reduce(lambda a, b: a.unionByName(b), job.keys).persist()
    return job


def _stop(job: _Job | None) -> None:
    if job is None:
        return
    for frame in (job.all_keys, job.steps):
        if frame is not None:
            frame.unpersist()
    job.all_keys = job.steps = None


def _resolve(job: _Job, python_records: list[RawRecord], run: SparkRun) -> Selection:
    import polars as pl
    from pyspark.sql import functions as F

    spark, plan, keys = job.spark, job.plan, job.all_keys
    # 3. What reaches the driver: kept and odd rows, tallies.
    wanted = (F.coalesce(F.col("__rel"), F.lit(False)) | F.coalesce(F.col("__odd"), F.lit(False))
              | F.col("__count").isNotNull() | F.col("__rows").isNotNull())  # fmt: skip
    small = _polars(keys.filter(wanted))
    tallies = small.filter(pl.col("__count").is_not_null())
    parts = small.filter(pl.col("__rows").is_not_null())
    lines = small.filter(pl.col("__rel").fill_null(False) | pl.col("__odd").fill_null(False))
    ledger = Ledger()
    records = list(python_records)
    scans: list[Scan] = []
    counted = 0
    by_index = {s.index: s for s in job.csv.values()}
    for index, source in sorted(by_index.items()):
        own = lines.filter(pl.col("__s") == index).sort("__row")
        odd = own.filter(pl.col("__odd"))
        for row, line in odd.select("__row", "__line").iter_rows():
            for record in parse_stream([job.heads[index] + "\n", line + "\n"], source.name, "csv"):
                records.append(RawRecord(record.data, source.name, line=row + 2,
                                         problems=record.problems))  # fmt: skip
        scan = _scan(plan, source, own.filter(~pl.col("__odd")))
        tally = tallies.filter(pl.col("__s") == index)
        scan.records = int(tally.get_column("__count").sum())
        latest = tally.get_column("__latest").max()
        scan.latest = date.fromisoformat(str(latest)) if latest else None
        run.rows += scan.records + odd.height
        flagged = scan.relevant.filter(~pl.col("__clean") | scan.exprs.has("supersedes"))
        records.extend(python_rows(scan, flagged))
        counted += scan.records - flagged.height
        scans.append(scan)
    # JSON Lines and typed sources: their kept and odd rows go to the ledger whole.
    whole = lines.filter(~pl.col("__s").is_in(list(by_index)))
    records.extend(_json_records(job, whole))
    records.extend(_typed_records(job, whole, parts))
    screened = tallies.filter(~pl.col("__s").is_in(list(by_index)))
    records_there = int(screened.get_column("__count").sum() or 0)
    kept_there = whole.filter(~pl.col("__odd")).height
    counted += records_there - kept_there
    run.rows += records_there + whole.filter(pl.col("__odd")).height
    run.to_driver += lines.height
    involved = involved_ids(records)
    for record in records:
        ledger.add(record)

    # 4. Ids: duplicates found by Spark, their groups decided here.
    valid = keys.filter(F.col("__idok"))
    dup_hashes = valid.groupBy("__h").count().filter(F.col("count") > 1).select("__h")
    involved_signed = involved.reinterpret(signed=True).to_list()
    hot = dup_hashes
    if involved_signed:
        hot = hot.union(spark.createDataFrame([(h,) for h in involved_signed], "__h long"))
    hot = hot.distinct()
    job.hot, job.parts = hot, parts
    hot_keys = valid.join(F.broadcast(hot), on="__h", how="left_semi")
    # A row kept for correlation steps (__cor) is a rule's as much as a kept one: its
    # group is not plain copies, and (not on the driver) it is fetched like plain rows.
    groups = _polars(
        hot_keys.groupBy("__h").agg(
            F.count(F.lit(1)).alias("n"),
            F.max(F.col("__rel") | F.coalesce(F.col("__cor"), F.lit(False))).alias("rel"),
            F.sum(F.when(~F.col("__rel"), 1).otherwise(0)).alias("plain"),
            F.countDistinct("__c").alias("contents"),
        )
    ).with_columns(pl.col("__h").reinterpret(signed=False),
                   pl.col("n").cast(pl.UInt32), pl.col("plain").cast(pl.UInt32),
                   pl.col("contents").cast(pl.UInt32))  # fmt: skip
    simple, copies, to_fetch = resolve_groups(groups, involved)
    hot_ids = pl.concat([groups.get_column("__h"), involved]).unique()
    rows = pl.DataFrame(schema={"__s": pl.Int32, "__row": pl.Int64, "__odd": pl.Boolean})
    if to_fetch.height:
        fetch_h = to_fetch.select(pl.col("__h").reinterpret(signed=True)).get_column("__h")
        fetch_df = spark.createDataFrame([(h,) for h in fetch_h.to_list()], "__h long")
        rows = _polars(
            hot_keys.filter(~F.col("__rel")).join(F.broadcast(fetch_df), on="__h", how="left_semi")
            .select("__s", "__row", F.lit(False).alias("__odd"))
        )  # fmt: skip
    fetched = _fetch(spark, job.csv_text, job.csv, job.csv_starts, rows, offset=2)
    run.to_driver += rows.height
    second = list(_json_records(job, rows)) + list(_typed_records(job, rows, parts))
    for record in second:
        ledger.add(record)
    counted -= len(second)

    # 5. Clean rows sharing one of those ids go to the ledger; the rest are counted.
    sources = [source for _, source in sorted(by_index.items())]

    def again(n: int, scan: Scan) -> pl.DataFrame | None:
        own = fetched.filter(pl.col("__s") == sources[n].index)
        if not own.height:
            return None
        return _parse_lines(sources[n], own.get_column("__row"), own.get_column("__line"))

    latest = screened.get_column("__latest").max()
    dates = [date.fromisoformat(str(latest))] if latest else []
    return settle(ledger, scans, hot_ids, simple, again, counted=counted, copies=copies,
                  dates=dates)  # fmt: skip


def _json_records(job: _Job, rows: pl.DataFrame) -> Iterator[RawRecord]:
    """Records of some rows (`__s`, `__row`: the line, `__line` when known) of JSON
    Lines files, as the Python reader reads them; lines not known are fetched."""
    import polars as pl

    own = rows.filter(pl.col("__s").is_in(list(job.json_names)))
    if not own.height:
        return
    if "__line" not in own.columns or own.get_column("__line").null_count():
        need = own.select("__s", "__row")
        own = _fetch(job.spark, job.json_text, job.json, job.json_starts, need, offset=0)
    for index, number, line in (
        own.select("__s", "__row", "__line").sort("__s", "__row").iter_rows()
    ):
        record = json_record(line, job.json_names[index], number)
        if record is not None:
            yield record


def _typed_records(job: _Job, rows: pl.DataFrame, parts: pl.DataFrame) -> Iterator[RawRecord]:
    """Records of some rows (`__s`, `__row`: their KEY) of typed sources, as the Python
    reader reads them, fetched from the source by a second pass."""
    for _, record in _typed_keyed(job, rows, parts):
        yield record


def _typed_keyed(
    job: _Job, rows: pl.DataFrame, parts: pl.DataFrame
) -> Iterator[tuple[tuple[int, int], RawRecord]]:
    """`_typed_records` with the (`__s`, `__row`) of each."""
    import polars as pl
    from pyspark.sql import functions as F

    for source in job.typed:
        own = rows.filter(pl.col("__s").is_in(list(source.names)))
        if not own.height:
            continue
        files = source.files
        pairs = [(files[s], k) for s, k in own.select("__s", "__row").iter_rows()]
        want = job.spark.createDataFrame(pairs, f"{FILE} string, {KEY} long")
        on = [KEY] if source.frame else [FILE, KEY]
        got = _polars(source.keyed.join(F.broadcast(want.select(*on)), on=on, how="left_semi"))
        index_of = {uri: i for i, uri in files.items()}
        offsets = _offsets(parts, next(iter(source.names))) if source.frame else {}
        mask = (1 << 33) - 1
        for values in got.sort(FILE, KEY, nulls_last=True).iter_rows(named=True):
            uri, key = values.pop(FILE), values.pop(KEY)
            index = index_of[uri]
            if source.frame:
                record = RawRecord(values, source.names[index],
                                   index=offsets[key & ~mask] + (key & mask))  # fmt: skip
                yield (index, key), readable(record)
            else:
                yield (index, key), RawRecord(values, source.names[index], index=key)


class _Chains:
    """Correlation chains found by Spark (`spark_chains`): the step rows the executors
    kept (those of ids the ledger saw are the driver's) with the driver's step events;
    the chains' rows from the executors are read here as the Python reader reads them."""

    def __init__(self, job: _Job, run: SparkRun) -> None:
        self.job, self.run = job, run

    def __call__(
        self, index: int, compiled: CompiledCorrelation, events: list[Shipment]
    ) -> list[Chain]:
        try:
            return self._chains(index, compiled, events)
        except ComplianceError:
            raise
        except Exception as e:
            raise _one_line(e) from None

    def _chains(
        self, index: int, compiled: CompiledCorrelation, events: list[Shipment]
    ) -> list[Chain]:
        import polars as pl
        from pyspark.sql import functions as F

        job, plan = self.job, JoinPlan.of(compiled)
        columns = ["__x", "__s", "__row", "__line", "__m", "__d", "__e", *plan.columns()]
        if job.steps is None:
            # Once for every rule, and kept: the joins read it several times, and each
            # read of the keys would be a pass over every row.
            rows = job.all_keys.filter(F.col("__step").isNotNull())
            job.steps = rows.join(F.broadcast(job.hot), on="__h", how="left_anti").persist()
        step = F.col("__step")
        table = (
            job.steps.filter(step[0] == str(index))
            .select(F.lit(None).cast("long").alias("__x"), "__s", "__row", "__line",
                    step[1].cast("long").alias("__m"), step[2].cast("long").alias("__d"),
                    step[3].alias("__e"),
                    *(step[len(STEP) + n].alias(c) for n, c in enumerate(plan.columns())))
        )  # fmt: skip
        here, _ = step_table(compiled, plan, events)
        if here.height:
            schema = ", ".join(
                f"{c} {t}" for c, t in zip(columns, ["long", "int", "long", "string", "long",
                                                      "long", "string"], strict=False)
            )  # fmt: skip
            schema += "".join(f", {c} string" for c in plan.columns())
            driver = here.select(
                pl.col("__i").alias("__x"), pl.lit(None, pl.Int32).alias("__s"),
                pl.lit(None, pl.Int64).alias("__row"), pl.lit(None, pl.String).alias("__line"),
                "__m", "__d", "__e", *plan.columns(),
            )  # fmt: skip
            table = table.unionByName(job.spark.createDataFrame(driver.rows(), schema))
        first = spark_chains(plan, table)
        there = pl.concat(
            [first.select(pl.col(f"{c}@{k}").alias(c) for c in ("__x", "__s", "__row", "__line"))
             for k in range(plan.steps)]
        ).filter(pl.col("__x").is_null()).unique(["__s", "__row"])  # fmt: skip
        self.run.to_driver += there.height
        fetched = self._events(there)
        out = []
        for row in first.iter_rows(named=True):
            chain = []
            for k in range(plan.steps):
                x = row[f"__x@{k}"]
                chain.append(
                    events[x] if x is not None else fetched[(row[f"__s@{k}"], row[f"__row@{k}"])]
                )
            out.append(tuple(chain))
        return out

    def _events(self, rows: pl.DataFrame) -> dict[tuple[int, int], Shipment]:
        """The shipments of some rows of the executors (`__s`, `__row`, `__line`)."""
        job = self.job
        by_index = {s.index: s for s in job.csv.values()}
        records: list[tuple[tuple[int, int], RawRecord]] = []
        for s, row, line in rows.select("__s", "__row", "__line").iter_rows():
            if s in by_index:
                source = by_index[s]
                for record in parse_stream([job.heads[s] + "\n", line + "\n"], source.name,
                                           "csv"):  # fmt: skip
                    records.append(((s, row), record))
            elif (
                s in job.json_names
                and (json := json_record(line, job.json_names[s], row)) is not None
            ):
                records.append(((s, row), json))
        records.extend(_typed_keyed(job, rows, job.parts))
        out: dict[tuple[int, int], Shipment] = {}
        for key, record in records:
            event = parse_shipment(record.data)
            if not isinstance(event, Shipment):  # the screen found it clean
                raise ComplianceError(f"{record.source}: a row of a chain is not valid: "
                                      f"{'; '.join(str(p) for p in event)}")  # fmt: skip
            out[key] = event
        return out


def _offsets(parts: pl.DataFrame, index: int) -> dict[int, int]:
    """A DataFrame's first record index in each partition (by the partition's KEY base),
    from the rows per batch its screen counted: records are numbered in partition order,
    as the DataFrame collected is."""
    import polars as pl

    own = parts.filter(pl.col("__s") == index).group_by("__row").agg(pl.col("__rows").sum())
    offsets: dict[int, int] = {}
    total = 0
    for base, n in own.sort("__row").iter_rows():
        offsets[base] = total
        total += n
    return offsets


def count_blocks(text: Any) -> Any:
    """Per (file, block): its line count, and its first line (the header, for a file's
    first block), by a Spark aggregation: within a partition, monotonically_increasing_id
    grows in the order lines are read."""
    from pyspark.sql import functions as F

    first = F.min_by("value", "__i")
    return (
        text.withColumn("__i", F.monotonically_increasing_id()).groupBy("__f", "__b")
        .agg(F.count(F.lit(1)).alias("n"),
             F.when(F.col("__b") == 0, first).alias("head"))
    )  # fmt: skip


def _polars(frame: Any) -> pl.DataFrame:
    import polars as pl

    result = pl.from_arrow(frame.toArrow())
    assert isinstance(result, pl.DataFrame)
    return result


def _parse_lines(source: CsvSource, rows: pl.Series, texts: pl.Series) -> pl.DataFrame:
    """Raw columns and `__row` of some lines of a file, parsed as the executors parse them."""
    import polars as pl

    if not texts.len():
        return pl.DataFrame(schema={"__row": pl.UInt32, **dict.fromkeys(source.header, pl.String)})
    frame = parse_chunk(("\n".join(texts.to_list()) + "\n").encode(), source.header)
    return frame.with_columns(rows.cast(pl.UInt32).alias("__row")).select("__row", *source.header)


def _scan(plan: Plan, source: CsvSource, kept: pl.DataFrame) -> Scan:
    """The scan of one file from its kept rows: the executors' screen run again."""
    exprs, screen = _driver_screen(plan, source.header)
    frame = _parse_lines(source, kept.get_column("__row"), kept.get_column("__line"))
    _, candidates, _, _ = screen.run(frame)
    relevant = screen.relevant(candidates)
    if relevant.height != kept.height:
        raise ComplianceError(
            f"{source.name}: the driver's screen kept {relevant.height} rows where the "
            f"executors kept {kept.height} (are polars versions the same everywhere?)"
        )
    return Scan(name=source.name, columns=source.header, exprs=exprs, keys=frame.head(0),
                relevant=relevant, records=0)  # fmt: skip


def _driver_screen(plan: Plan, header: list[str]) -> tuple[FieldExprs, Any]:
    return screen_for(f"driver-{id(plan)}", plan.rulebook, header)


def _fetch(
    spark: Any, text: Any, sources: Mapping[str, CsvSource | int],
    starts: dict[tuple[str, int], int], wanted: pl.DataFrame, offset: int,
) -> pl.DataFrame:  # fmt: skip
    """The lines of some rows (`__s`, `__row`: the line - `offset`) of text files, by a
    second pass over the files."""
    import polars as pl

    index = {uri: s if isinstance(s, int) else s.index for uri, s in sources.items()}
    wanted = wanted.filter(pl.col("__s").is_in(list(index.values())))
    if not wanted.height:
        return pl.DataFrame(schema={"__s": pl.Int32, "__row": pl.Int64, "__line": pl.String})
    uris = {i: uri for uri, i in index.items()}
    pairs = [(uris[s], row + offset) for s, row in wanted.select("__s", "__row").iter_rows()]
    want = spark.createDataFrame(pairs, "__f string, __no long")

    def numbered(batches: Iterator[Any]) -> Iterator[Any]:
        return numbered_batches(batches, starts)

    lines = _polars(
        text.mapInArrow(numbered, LINES_SCHEMA).join(want, on=["__f", "__no"], how="left_semi")
    )
    return lines.select(
        pl.col("__f").replace_strict(index, return_dtype=pl.Int32).alias("__s"),
        (pl.col("__no") - offset).alias("__row"), pl.col("value").alias("__line"),
    )  # fmt: skip
