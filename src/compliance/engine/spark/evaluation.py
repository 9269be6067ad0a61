"""The driver's side: Spark jobs for the per-row and per-id work, the ledger and findings here.

1. `count_blocks`: lines per (file, block), and each file's header.
2. `LineScreen` on the executors: keys of every row, text of the rows the screen keeps
   (persisted; about 40 bytes a row).
3. To the driver: the kept and odd rows, and a tally of records per file. The driver
   screens the kept rows again (the same `Screen`, the same result) into each file's
   `Scan`.
4. Ids: which occur more than once (a Spark aggregation over the id hashes), with the
   ids the ledger's rows carry or correct; their groups (count, kept, contents) come to
   the driver, and `resolve_groups` decides them as the columnar engine does. Clean rows
   the screen did not keep and whose id is in a group to resolve are fetched by a
   second pass over the lines.
5. The ledger (`Ledger.add` for those rows, `add_counted` for the rest) and the findings
   (`findings_of`, the columnar engine's own).
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
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
)
from compliance.engine.columnar.typed import TYPED_BATCH_ROWS
from compliance.engine.findings import sort_findings
from compliance.engine.spark.executors import (
    ERROR_MARK,
    KEYS_SCHEMA,
    LINES_SCHEMA,
    CsvSource,
    LineScreen,
    numbered_batches,
    screen_for,
)
from compliance.engine.spark.session import spark_session
from compliance.errors import ComplianceError
from compliance.io.readers import display_name, log_format, parse_stream, records_from
from compliance.ledger import Ledger, RawRecord
from compliance.report import Report, RulebookInfo
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
    """Evaluate logs with the spark engine: CSV paths and globs (any URI the session
    reads) are screened on the executors; other logs (JSON Lines, JSON, Parquet) are
    read by the Python reader on the driver, as the columnar engine's exact path."""
    spark = session if session is not None else spark_session(master, conf)
    run = run if run is not None else SparkRun()
    plan = Plan(rulebook)
    csv_paths = [str(s) for s in sources if isinstance(s, str | Path) and _is_csv(str(s))]
    python_records: list[RawRecord] = []
    for source in sources:
        if not (isinstance(source, str | Path) and _is_csv(str(source))):
            if _is_spark_frame(source):
                raise ComplianceError(
                    "the spark engine does not take a Spark DataFrame yet: write it as CSV "
                    "(df.write.csv(path, header=True)) and evaluate the path"
                )
            python_records.extend(records_from(source))
    # Batches of a CSV chunk's size: the screen's fixed cost per batch (its checks by
    # distinct value, stage two's plan) is amortised as on one machine. Restored after.
    previous = spark.conf.get(BATCH_ROWS, None)
    spark.conf.set(BATCH_ROWS, str(TYPED_BATCH_ROWS))
    try:
        selection = _select(spark, plan, csv_paths, python_records, run)
    except ComplianceError:
        raise
    except Exception as e:
        raise _one_line(e) from None
    finally:
        if previous is None:
            spark.conf.unset(BATCH_ROWS)
        else:
            spark.conf.set(BATCH_ROWS, previous)
    ledger = selection.ledger
    day = as_of if as_of is not None else ledger.latest_date
    findings = findings_of(plan, selection, day)
    return Report(
        findings=sort_findings(findings), accounting=ledger.accounting, rejected=ledger.rejected,
        superseded=ledger.superseded,
        rulebook=RulebookInfo(sources=list(plan.rulebook.sources), rules=len(plan.rules)),
        as_of=day,
    )  # fmt: skip


def _is_csv(name: str) -> bool:
    return name != "-" and log_format(name) == "csv"


def _is_spark_frame(source: object) -> bool:
    return type(source).__module__.startswith("pyspark.sql")


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


def _select(
    spark: Any, plan: Plan, paths: list[str], python_records: list[RawRecord], run: SparkRun
) -> Selection:
    import polars as pl
    from pyspark.sql import functions as F

    ledger = Ledger()
    if not paths:
        for record in python_records:
            ledger.add(record)
        return Selection(ledger)
    text = spark.read.text(paths).select(
        "value", F.col("_metadata.file_path").alias("__f"),
        F.col("_metadata.file_block_start").alias("__b"),
    )  # fmt: skip
    names = _names(paths)
    # 1. Blocks: line counts and headers.
    blocks = _polars(count_blocks(text))
    files = sorted(set(blocks.get_column("__f").to_list()))
    seen = {_name_of(uri, names) for uri in files}
    for uri in text.inputFiles():  # a file without lines has no blocks
        if (name := _name_of(uri, names)) not in seen:
            _header(name, None)
    starts: dict[tuple[str, int], int] = {}
    sources: dict[str, CsvSource] = {}
    heads: dict[int, str] = {}
    for index, uri in enumerate(files):
        own = blocks.filter(pl.col("__f") == uri).sort("__b")
        line = 1
        for b, n in own.select("__b", "n").iter_rows():
            starts[(uri, b)] = line
            line += n
        first = own.filter(pl.col("__b") == 0).get_column("head")
        name = _name_of(uri, names)
        header, heads[index] = _header(name, first.item() if first.len() else None)
        sources[uri] = CsvSource(index, name, header)
    # 2. The screen on the executors.
    screen = LineScreen(uuid.uuid4().hex, plan.rulebook, sources, starts)
    keys = text.mapInArrow(screen, KEYS_SCHEMA).persist()
    try:
        return _resolve(spark, plan, text, keys, sources, starts, heads, python_records, run)
    finally:
        keys.unpersist()


def _resolve(
    spark: Any, plan: Plan, text: Any, keys: Any, sources: dict[str, CsvSource],
    starts: dict[tuple[str, int], int], heads: dict[int, str],
    python_records: list[RawRecord], run: SparkRun,
) -> Selection:  # fmt: skip
    import polars as pl
    from pyspark.sql import functions as F

    # 3. What reaches the driver: kept and odd rows, tallies.
    small = _polars(keys.filter(F.col("__line").isNotNull() | F.col("__count").isNotNull()))
    tallies = small.filter(pl.col("__count").is_not_null())
    lines = small.filter(pl.col("__line").is_not_null())
    by_index = {s.index: s for s in sources.values()}
    ledger = Ledger()
    records = list(python_records)
    scans: list[Scan] = []
    counted = 0
    for index, source in sorted(by_index.items()):
        own = lines.filter(pl.col("__s") == index).sort("__row")
        odd = own.filter(pl.col("__odd"))
        for row, line in odd.select("__row", "__line").iter_rows():
            for record in parse_stream([heads[index] + "\n", line + "\n"], source.name, "csv"):
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
    hot_keys = valid.join(F.broadcast(hot), on="__h", how="left_semi")
    groups = _polars(
        hot_keys.groupBy("__h").agg(
            F.count(F.lit(1)).alias("n"), F.max("__rel").alias("rel"),
            F.sum(F.when(~F.col("__rel"), 1).otherwise(0)).alias("plain"),
            F.countDistinct("__c").alias("contents"),
        )
    ).with_columns(pl.col("__h").reinterpret(signed=False),
                   pl.col("n").cast(pl.UInt32), pl.col("plain").cast(pl.UInt32),
                   pl.col("contents").cast(pl.UInt32))  # fmt: skip
    simple, copies, to_fetch = resolve_groups(groups, involved)
    hot_ids = pl.concat([groups.get_column("__h"), involved]).unique()
    wanted = pl.DataFrame(schema={"__s": pl.Int32, "__row": pl.Int64})
    if to_fetch.height:
        fetch_h = to_fetch.select(pl.col("__h").reinterpret(signed=True)).get_column("__h")
        fetch_df = spark.createDataFrame([(h,) for h in fetch_h.to_list()], "__h long")
        wanted = _polars(
            hot_keys.filter(~F.col("__rel")).join(F.broadcast(fetch_df), on="__h", how="left_semi")
            .select("__s", "__row")
        )  # fmt: skip
    fetched = _fetch(spark, text, sources, starts, wanted)
    run.to_driver += fetched.height

    # 5. Clean rows sharing one of those ids go to the ledger; the rest are counted.
    selection = Selection(ledger)
    simple_h = simple.get_column("__h").implode()
    for scan, (index, source) in zip(scans, sorted(by_index.items()), strict=True):
        plain = scan.relevant.filter(pl.col("__clean") & ~scan.exprs.has("supersedes"))
        is_hot = pl.col("__h").is_in(hot_ids.implode()) & ~pl.col("__h").is_in(simple_h)
        joined = plain.filter(is_hot)
        plain = plain.filter(~is_hot)
        own = fetched.filter(pl.col("__s") == index)
        if own.height:
            second = _parse_lines(source, own.get_column("__row"), own.get_column("__line"))
            joined = pl.concat([joined.select(second.columns), second])
        for record in python_rows(scan, joined):
            ledger.add(record)
        counted -= joined.height
        selection.clean.append((scan, plain))
    dates = [s.latest for s in scans if s.latest is not None]
    ledger.add_counted(read=counted, duplicates=copies, latest=max(dates, default=None))
    return selection


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
    spark: Any, text: Any, sources: dict[str, CsvSource], starts: dict[tuple[str, int], int],
    wanted: pl.DataFrame,
) -> pl.DataFrame:  # fmt: skip
    """The lines of some rows (`__s`, `__row`), by a second pass over the files."""
    import polars as pl

    if not wanted.height:
        return pl.DataFrame(schema={"__s": pl.Int32, "__row": pl.Int64, "__line": pl.String})
    uris = {s.index: uri for uri, s in sources.items()}
    pairs = [(uris[s], row + 2) for s, row in wanted.iter_rows()]
    want = spark.createDataFrame(pairs, "__f string, __no long")

    def numbered(batches: Iterator[Any]) -> Iterator[Any]:
        return numbered_batches(batches, starts)

    lines = _polars(
        text.mapInArrow(numbered, LINES_SCHEMA).join(want, on=["__f", "__no"], how="left_semi")
    )
    index = {uri: s.index for uri, s in sources.items()}
    return lines.select(
        pl.col("__f").replace_strict(index, return_dtype=pl.Int32).alias("__s"),
        (pl.col("__no") - 2).alias("__row"), pl.col("value").alias("__line"),
    )  # fmt: skip
