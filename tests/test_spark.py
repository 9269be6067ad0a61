"""The spark engine gives the columnar engine's reports (and so the stream engine's).

One local Spark session (`local[2]`) serves the whole test session: starting one takes
seconds. The Spark tests skip, saying why, where PySpark, pyarrow or Java is missing.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from unittest.mock import patch

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compliance
from compliance.engine.spark import SparkRun, evaluate_spark
from compliance.errors import ComplianceError, EngineUnavailableError
from profiles import examples
from test_correlation import rulebook_texts as rulebook_texts_correlation
from test_engines_agree import COLUMNS, logs, rulebook_texts

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.csv"))


def _missing() -> str | None:
    for module in ("pyspark", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install '.[spark]')"
    if shutil.which("java") is None:
        return "no java on the PATH (PySpark 4 needs Java 17)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if (reason := _missing()) is not None:
        pytest.skip(reason)
    from compliance.engine.spark import spark_session

    # A JVM that lives for a few minutes of small jobs spends more CPU compiling with C2
    # than C2's code gives back: C1 alone (and the serial collector) takes a third less
    # CPU for this file (docs/performance.md, stop 14). The JIT changes no result.
    conf = {
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    session = spark_session("local[2]", conf)
    yield session
    session.stop()


def _columnar_and_spark(source: Any, rulebook: compliance.Rulebook, spark: Any) -> tuple[Any, Any]:
    columnar = compliance.evaluate(source, rulebook, engine="columnar").to_dict()
    on_spark = compliance.evaluate(source, rulebook, engine="spark", spark=spark).to_dict()
    return columnar, on_spark


def test_the_examples_evaluate_identically(spark: Any) -> None:
    rulebook = compliance.load_rulebook()
    columnar, on_spark = _columnar_and_spark(EXAMPLES, rulebook, spark)
    assert on_spark == columnar
    assert on_spark["accounting"]["read"] > 100


def test_lines_are_numbered_across_splits(spark: Any) -> None:
    """Files cut into 1 KiB splits (several per partition, a file over several
    partitions): every line still has its number, so every report is the same."""
    rulebook = compliance.load_rulebook()
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1k")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    try:
        columnar, on_spark = _columnar_and_spark(EXAMPLES, rulebook, spark)
        splits = spark.read.text(EXAMPLES).rdd.getNumPartitions()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    assert splits > 10
    assert on_spark == columnar


@settings(max_examples=4)
@given(rulebook_texts(), logs())
def test_spark_agrees_with_columnar_on_random_logs(
    spark: Any, rulebook_text: str, log: list[dict[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(rulebook_text, encoding="utf-8")
        rulebook = compliance.load_rulebook(rules)
        path = Path(tmp) / "log.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(log)
        columnar, on_spark = _columnar_and_spark(str(path), rulebook, spark)
        assert on_spark == columnar


def test_ragged_and_blank_lines_are_rejected_at_their_line(spark: Any, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "id,date,hs_code,quantity,unit,destination\n"
        "a1,2018-01-02,2710,100,bbl,KP\n"
        "\n"
        "a2,2018-01-03,2710\n"  # a field short: line 4
        ",,,,,\n"
        "a1,2018-01-02,2710,100,bbl,KP\n"  # an exact copy of line 2
        "a3,2018-13-03,2710,100,bbl,KP\n",  # no such month: line 7
        encoding="utf-8",
    )
    rulebook = compliance.load_rulebook()
    columnar, on_spark = _columnar_and_spark(str(log), rulebook, spark)
    assert on_spark == columnar
    assert [r["line"] for r in on_spark["rejected"]] == [4, 7]
    assert on_spark["accounting"]["duplicates"] == 1


def test_a_quoted_newline_is_one_clear_error(spark: Any, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text('id,date,note\na1,2018-01-02,"two\nlines"\n', encoding="utf-8")
    with pytest.raises(ComplianceError, match=r"log.csv:2: a quoted field runs onto the next"):
        compliance.evaluate(str(log), engine="spark", spark=spark)


def test_without_pyspark_the_engine_says_what_to_install() -> None:
    from compliance.engine.spark import INSTALL_HINT, spark_session

    with (
        patch.dict(sys.modules, {"pyspark": None, "pyspark.sql": None}),
        pytest.raises(EngineUnavailableError, match=r"pip install 'compliance\[spark\]'"),
    ):
        spark_session()
    assert "\n" not in INSTALL_HINT


def test_importing_compliance_does_not_import_pyspark() -> None:
    code = "import sys, compliance; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_spark_conf_without_equals_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from compliance.cli import main

    code = main(["evaluate", EXAMPLES[0], "--engine", "spark", "--spark-conf", "novalue"])
    assert code == 2
    assert "--spark-conf 'novalue': expected KEY=VALUE" in capsys.readouterr().err


def test_an_executor_failure_is_one_clear_error(spark: Any, tmp_path: Path) -> None:
    from compliance.engine.spark import evaluation

    log = tmp_path / "log.csv"
    log.write_text("id,date\na1,2018-01-02\n", encoding="utf-8")
    resolve = evaluation._resolve

    def vanish(*args: Any) -> Any:  # the file goes away once its blocks are counted
        log.unlink()
        return resolve(*args)

    with (
        patch.object(evaluation, "_resolve", vanish),
        pytest.raises(ComplianceError, match=r"^spark engine: a Spark job failed: ") as caught,
    ):
        compliance.evaluate(str(log), engine="spark", spark=spark)
    assert "\n" not in str(caught.value)


def test_a_python_worker_failure_is_one_clear_error(spark: Any, tmp_path: Path) -> None:
    """An exception raised in a Python worker (here: the screen is given no line
    numbers for the file's block) ends the evaluation with its last line, not Spark's
    Java and Python tracebacks."""
    from compliance.engine.spark import evaluation

    log = tmp_path / "log.csv"
    log.write_text("id,date\na1,2018-01-02\n", encoding="utf-8")
    lines = evaluation._Job._lines

    def unnumbered(job: Any, paths: list[str]) -> Any:
        text, blocks, _ = lines(job, paths)
        return text, blocks, {}

    with (
        patch.object(evaluation._Job, "_lines", unnumbered),
        pytest.raises(
            ComplianceError, match=r"^spark engine: a Spark job failed: KeyError: "
        ) as caught,
    ):
        compliance.evaluate(str(log), engine="spark", spark=spark)
    assert "\n" not in str(caught.value)
    assert "Traceback" not in str(caught.value)


def _write_rows(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_correlation_rows_stay_on_the_executors_but_for_the_chains_found(
    spark: Any, tmp_path: Path
) -> None:
    """A transfer then three port calls infer one delivery, joined on Spark: of the rows
    only correlation steps want, the two of the chain reach the driver, not all four."""
    from test_correlation import call, inferred, rulebook, sts

    rows = [call("c2", "2019-01-25"), sts("t1", "2019-01-03"), call("c1", "2019-01-20"),
            call("c3", "2019-02-01")]  # fmt: skip
    log = _write_rows(tmp_path / "log.csv", rows, sorted({k for r in rows for k in r}))
    columnar, on_spark = _columnar_and_spark(str(log), rulebook(tmp_path), spark)
    assert on_spark == columnar
    run = SparkRun()
    report = evaluate_spark([str(log)], rulebook(tmp_path), session=spark, run=run)
    assert inferred(report) == ["inferred:delivery:t1:c1"]
    assert (run.rows, run.to_driver) == (4, 2)


CORRELATION_COLUMNS = ["id", "date", "transfer", "hs_code", "quantity", "unit", "vessel_imo",
                       "counterparty_imo", "destination", "source", "supersedes"]  # fmt: skip


@st.composite
def corrected_evidence(draw: st.DrawFn) -> list[dict[str, str]]:
    """Correlation evidence with exact copies, conflicting copies and corrections, and
    transfers bound for KP (which the cap may match too: their rows reach the driver)."""
    from test_correlation import VESSELS, evidence

    rows = draw(evidence())
    for row in list(rows):
        what = draw(st.sampled_from(["", "", "", "copy", "conflict", "correct", "kp"]))
        if what == "kp" and row.get("transfer") == "ship_to_ship":
            row["destination"] = "KP"
        elif what == "copy":
            rows.append(dict(row))
        elif what == "conflict":
            rows.append({**row, "date": draw(st.sampled_from(["2019-01-05", "2019-02-10"]))})
        elif what == "correct":
            field = "vessel_imo" if row.get("transfer") == "port" else "counterparty_imo"
            rows.append({**row, "id": f"{row['id']}-fix", "supersedes": row["id"],
                         field: draw(st.sampled_from(VESSELS))})  # fmt: skip
    return rows


@settings(max_examples=examples(ci=3, thorough=100))
@given(
    rulebook_texts_correlation(), corrected_evidence(), st.randoms(use_true_random=False),
    st.integers(0, 20), st.sampled_from(["csv", "jsonl", "parquet"]),
)  # fmt: skip
def test_spark_joins_give_the_columnar_chains(
    spark: Any, rule: tuple[str, int], log: list[dict[str, str]], random: Any, cut: int,
    kind: str,
) -> None:  # fmt: skip
    """Random correlation rules and evidence (copies, conflicts, corrections), in any
    order, split across two files of one format: the Spark joins infer what the
    columnar engine's Polars joins infer (which the stream engine's durable_rules do,
    tests/test_correlation.py), and every report is the same."""
    from test_correlation import rulebook

    text, window = rule
    random.shuffle(log)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        rb = rulebook(directory, window, text)
        paths = []
        for name, part in (("a", log[:cut]), ("b", log[cut:])):
            if kind == "csv":
                paths.append(_write_rows(directory / f"{name}.csv", part, CORRELATION_COLUMNS))
            elif kind == "jsonl":
                _as_jsonl(part, directory / f"{name}.jsonl")
                paths.append(directory / f"{name}.jsonl")
            else:
                frame = pl.DataFrame(
                    {c: [r.get(c) or None for r in part] for c in CORRELATION_COLUMNS},
                    schema=dict.fromkeys(CORRELATION_COLUMNS, pl.String),
                )  # fmt: skip
                frame.write_parquet(directory / f"{name}.parquet")
                paths.append(directory / f"{name}.parquet")
        columnar, on_spark = _columnar_and_spark([str(p) for p in paths], rb, spark)
        assert on_spark == columnar


@settings(max_examples=examples(ci=3, thorough=60))
@given(rulebook_texts_correlation(), st.data(), st.booleans())
def test_dense_evidence_gives_spark_the_columnar_chains(
    spark: Any, rule: tuple[str, int], data: st.DataObject, two_keys: bool
) -> None:
    """Many transfers and calls by two vessels in a week (events matching two steps,
    several candidates a day, vessels not named), on one join key or two: Spark's last
    step, a running `last` over each key's chains and events, infers what Polars' as-of
    join infers."""
    from test_correlation import dense_evidence, rulebook, two_join_keys

    text, window = rule
    if two_keys:
        text = two_join_keys(text)
    log = data.draw(dense_evidence())
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        columns = sorted({"id", "date"}.union(*log))
        path = _write_rows(directory / "log.csv", log, columns)
        rb = rulebook(directory, window, text)
        columnar, on_spark = _columnar_and_spark(str(path), rb, spark)
    assert on_spark == columnar


def test_two_fields_of_the_last_step_may_join_one_earlier_field_on_spark(
    spark: Any, tmp_path: Path
) -> None:
    """Spark's last step takes each join key under a name of its own, so two of them may
    read one earlier field, as in Polars."""
    from test_correlation import inferred, rulebook, two_keys_on_one_field

    text, log = two_keys_on_one_field()
    path = _write_rows(tmp_path / "log.csv", log, sorted({"id", "date"}.union(*log)))
    rb = rulebook(tmp_path, 30, text)
    report = evaluate_spark([str(path)], rb, session=spark)
    assert inferred(report) == ["inferred:delivery:t1:c3"]
    assert report.to_dict() == compliance.evaluate(str(path), rb, engine="columnar").to_dict()


def _as_jsonl(rows: list[dict[str, str]], path: Path, bad_at: int | None = None) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for n, row in enumerate(rows):
            if n == bad_at:
                handle.write('{"id": "x", "date": \n\n')  # an invalid line, then a blank one
            handle.write(json.dumps({k: v for k, v in row.items() if v != ""}) + "\n")


def _example_frames() -> list[pl.DataFrame]:
    return [pl.read_csv(p, infer_schema=False) for p in EXAMPLES]


def test_the_examples_as_json_lines_and_parquet_evaluate_identically(
    spark: Any, tmp_path: Path
) -> None:
    rulebook = compliance.load_rulebook()
    jsonl, parquet = [], []
    for n, frame in enumerate(_example_frames()):
        _as_jsonl(list(frame.fill_null("").iter_rows(named=True)), tmp_path / f"{n}.jsonl", 3)
        frame.write_parquet(tmp_path / f"{n}.parquet")
        jsonl.append(str(tmp_path / f"{n}.jsonl"))
        parquet.append(str(tmp_path / f"{n}.parquet"))
    for logs_ in (jsonl, parquet):
        columnar, on_spark = _columnar_and_spark(logs_, rulebook, spark)
        assert on_spark == columnar
        assert on_spark["superseded"]  # a correction in one file: its column is in no other
    rejected = compliance.evaluate(jsonl, rulebook, engine="spark", spark=spark).rejected
    assert [(r.source, r.line) for r in rejected][:1] == [(jsonl[0], 4)]
    assert "invalid JSON" in rejected[0].reasons[0]


@settings(max_examples=4)
@given(rulebook_texts(), logs())
def test_spark_agrees_with_columnar_on_random_json_lines_parquet_and_frames(
    spark: Any, rulebook_text: str, log: list[dict[str, str]]
) -> None:
    """The differential test's logs as JSON Lines, Parquet and a Spark DataFrame (in
    three partitions): the columnar engine's report (for the DataFrame: on the frame
    collected, which numbers its rows in partition order)."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(rulebook_text, encoding="utf-8")
        rulebook = compliance.load_rulebook(rules)
        jsonl, parquet = Path(tmp) / "log.jsonl", Path(tmp) / "log.parquet"
        _as_jsonl(log, jsonl, bad_at=len(log) // 2)
        frame = pl.DataFrame(log, schema=dict.fromkeys(COLUMNS, pl.String))
        frame.write_parquet(parquet)
        for path in (jsonl, parquet):
            columnar, on_spark = _columnar_and_spark(str(path), rulebook, spark)
            assert on_spark == columnar
            accounting = on_spark["accounting"]
            assert accounting["read"] == sum(v for k, v in accounting.items() if k != "read")
        distributed = spark.read.parquet(str(parquet)).repartition(3)
        collected = pl.from_arrow(distributed.toArrow())
        columnar = compliance.evaluate(collected, rulebook, engine="columnar").to_dict()
        on_spark = compliance.evaluate(distributed, rulebook, engine="spark").to_dict()
        assert on_spark == columnar


def test_typed_parquet_columns_and_types_without_a_cast(spark: Any, tmp_path: Path) -> None:
    """Dates, integers and floats are cast on the executors as the columnar engine casts
    them; a boolean column has no faithful cast: its rows go to the driver whole."""
    rulebook = compliance.load_rulebook()
    frame = pl.DataFrame({
        "id": ["a1", "a2", "a3", "a1"],
        "date": [date(2018, 1, 2), date(2018, 1, 3), None, date(2018, 1, 2)],
        "hs_code": [2710, 2709, 2710, 2710],
        "quantity": [600_000.5, 100.0, 1.0, 600_000.5],
        "unit": ["bbl"] * 4,
        "destination": ["KP"] * 4,
    })  # fmt: skip
    frame.write_parquet(tmp_path / "typed.parquet")
    frame.with_columns(pl.lit(True).alias("flag")).write_parquet(tmp_path / "flag.parquet")
    for name in ("typed.parquet", "flag.parquet"):
        columnar, on_spark = _columnar_and_spark(str(tmp_path / name), rulebook, spark)
        assert on_spark == columnar
        assert on_spark["accounting"]["duplicates"] == 1
        assert [r["index"] for r in on_spark["rejected"]] == [2]


def test_a_spark_dataframe_runs_on_spark_by_default(spark: Any) -> None:
    frame = spark.createDataFrame(
        [("a1", "2018-01-02", "2710", "600000", "bbl", "KP")],
        "id string, date string, hs_code string, quantity string, unit string, destination string",
    )
    with patch("compliance.engine.spark.evaluate_spark", wraps=evaluate_spark) as on_spark:
        report = compliance.evaluate(frame)
    assert on_spark.called
    assert report.accounting.evaluated == 1
