"""The Spark session an evaluation runs on: the active one, else a new one."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from compliance.errors import ComplianceError, EngineUnavailableError

__all__ = ["INSTALL_HINT", "spark_session"]

INSTALL_HINT = "the spark engine needs PySpark and pyarrow: pip install 'compliance[spark]'"


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """The active SparkSession when there is one (a notebook, `spark-submit`), else a new
    one on `master` (default `local[*]`) with `conf`."""
    # PySpark warns about pandas 3, which the engine does not use.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        import pyarrow  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailableError(INSTALL_HINT) from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active
    if master is None or master.startswith("local"):
        # Local workers run this interpreter, which has compliance and its dependencies
        # (`python3` on the PATH may not).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("compliance").master(master or "local[*]")
    builder = builder.config("spark.ui.enabled", "false").config(
        "spark.ui.showConsoleProgress", "false"
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as e:  # a JVM that does not start: one line, not a Java trace
        raise ComplianceError(f"cannot start Spark: {str(e).splitlines()[0]}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session
