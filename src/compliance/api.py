"""`evaluate()`: a log (or several) against a rulebook, giving a `Report`."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

from compliance.engine._durable import durable_available
from compliance.engine.stream import evaluate_stream
from compliance.errors import ComplianceError, EngineUnavailableError
from compliance.events import Shipment
from compliance.io.readers import is_frame, log_format, records_from
from compliance.report import Report
from compliance.rulebook.correlation import correlation_rules
from compliance.rulebook.load import load_rulebook
from compliance.rulebook.rulebook import Rulebook

__all__ = [
    "ENGINES",
    "Engine",
    "Source",
    "available_engines",
    "engine_runs",
    "evaluate",
    "preferred_engine",
]

Engine = Literal["auto", "stream", "columnar", "spark"]
ENGINES: tuple[Engine, ...] = get_args(Engine)

Source = str | Path | Iterable[Mapping[str, Any] | Shipment] | Any
"""A log path, a list of paths, an iterable of records or a DataFrame (pandas, polars):
`Any` because DataFrames are typed by libraries this package does not require."""


def _sources(source: Any) -> list[Any]:
    """One log or several: a list/tuple of paths is several logs, anything else is one."""
    if (
        isinstance(source, list | tuple)
        and source
        and all(isinstance(s, str | Path) for s in source)
    ):
        return list(source)
    return [source]


def evaluate(
    source: Source,
    rulebook: Rulebook | str | Path | None = None,
    *,
    engine: Engine = "auto",
    as_of: date | None = None,
    spark: Any = None,
) -> Report:
    """Evaluate shipment events against a rulebook.

    >>> report = compliance.evaluate("shipments.csv")            # doctest: +SKIP
    >>> report.accounting.read, [f.rule for f in report.breaches]  # doctest: +SKIP

    Args:
        source: a log path (CSV, JSON Lines, JSON array, Parquet; `-` for stdin), a list
            of paths, an iterable of dicts or `Shipment`s, or a pandas/polars DataFrame.
        rulebook: a loaded `Rulebook`, a path to rule files, or None for the bundled DPRK
            rulebook.
        engine: `stream` (one event at a time), `columnar` (Polars), `spark` (the
            columnar plan on Apache Spark: `pip install 'compliance[spark]'`) or `auto`
            (spark for a Spark DataFrame, columnar for paths and other DataFrames,
            stream for iterables and for CSV and JSON files of under `SMALL_LOG`
            bytes in all — columnar for them too when the rulebook has correlation
            rules and durable_rules does not import here). Every engine gives the
            same report.
        as_of: the evaluation date: a report not yet due on it is `pending`, neither
            late nor unreported. Default: the latest date in the log (a delivery or a
            reporting date); `Report.as_of` says which date was used.
        spark: the SparkSession the spark engine runs on (default: a Spark
            DataFrame's own, else the active one, else a new local one).

    Raises:
        RuleFileError: the rulebook does not load.
        LogError: a log cannot be read at all (rejected records do not raise).
        EngineUnavailableError: the engine cannot run in this interpreter.
        ComplianceError: `engine` names no engine.
    """
    if engine not in ENGINES:
        raise ComplianceError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if not isinstance(rulebook, Rulebook):
        rulebook = load_rulebook(rulebook) if rulebook is not None else load_rulebook()
    sources = _sources(source)
    if engine == "auto" and any(_spark_frame(s) for s in sources):
        engine = "spark"  # a Spark DataFrame is evaluated where it lives
    if engine == "auto":
        # DESIGN §7: files and DataFrames go columnar, iterables (live feeds) stream.
        # A small file streams too: its run is mostly start-up, and Polars' import the most.
        columnar = all(isinstance(s, str | Path) or is_frame(s) for s in sources)
        streams = not correlation_rules(rulebook.rules) or durable_available()
        if not columnar and not streams:
            columnar = True  # only the columnar engine runs correlation without durable_rules
        elif columnar and streams and _small_files(sources):
            columnar = False  # done before Polars would have imported; the same report
        engine = "columnar" if columnar else "stream"
    if engine == "columnar":
        from compliance.engine.columnar import evaluate_columnar

        return evaluate_columnar(sources, rulebook, as_of=as_of)
    if engine == "spark":
        from compliance.engine.spark import evaluate_spark  # pyspark: imported there

        return evaluate_spark(sources, rulebook, session=spark, as_of=as_of)
    records = itertools.chain.from_iterable(records_from(s) for s in sources)
    return evaluate_stream(records, rulebook, as_of=as_of)


# Below this many bytes of CSV or JSON the stream engine has evaluated the whole log in
# less time than importing Polars takes (about 0.35 s, a third of a small log's run).
SMALL_LOG = 256 * 1024
SMALL_FORMATS = frozenset({"csv", "jsonl", "json"})


def _small_files(sources: list[Any]) -> bool:
    total = 0
    for source in sources:
        if not isinstance(source, str | Path) or log_format(str(source)) not in SMALL_FORMATS:
            return False
        try:
            total += os.stat(source).st_size
        except OSError:
            return False  # the engine that reads it says what is wrong
    return total < SMALL_LOG


def _spark_frame(source: object) -> bool:
    return type(source).__module__.startswith("pyspark.sql") and hasattr(source, "schema")


_ENGINES: tuple[Literal["stream", "columnar"], ...] = ("stream", "columnar")


@functools.cache
def engine_runs(name: Literal["stream", "columnar"]) -> bool:
    """Can this engine run in this interpreter (is its dependency importable)?"""
    try:
        evaluate([], Rulebook(rules=()), engine=name)
    except (EngineUnavailableError, ImportError):
        return False
    return True


def available_engines(
    rulebook: Rulebook | None = None,
) -> tuple[Literal["stream", "columnar"], ...]:
    """The engines that run in this interpreter (on `rulebook`: the stream engine runs
    correlation rules only where durable_rules imports), the stream engine first when it
    does (`engines_agree` of `compliance.testing` compares them all)."""
    correlating = rulebook is not None and bool(correlation_rules(rulebook.rules))
    return tuple(
        e
        for e in _ENGINES
        if engine_runs(e) and not (e == "stream" and correlating and not durable_available())
    )


def preferred_engine(rulebook: Rulebook | None = None) -> Literal["stream", "columnar"]:
    """The engine rule tests and the properties of `compliance.testing` evaluate with:
    the stream engine, or the columnar one where it cannot run (`available_engines`)."""
    return available_engines(rulebook)[0]
