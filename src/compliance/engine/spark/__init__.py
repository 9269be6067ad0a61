"""The spark engine: the columnar engine's plan on Apache Spark.

The per-row work (parsing, the validation screen, the cheap necessary test of every
rule, the id and content hashes) is the columnar `Screen`, run on the executors over
Arrow batches (`mapInArrow`, `executors`). The per-id work (which ids occur more than
once, which the ledger must see) is Spark aggregations over the id hashes. Only the
rows the columnar engine would select reach the driver, where the one ledger and the
shared findings code decide (`evaluation`). Needs `pip install 'compliance[spark]'`;
importing `compliance` never imports pyspark.
"""

from compliance.engine.spark.evaluation import SparkRun, evaluate_spark
from compliance.engine.spark.session import INSTALL_HINT, spark_session

__all__ = ["INSTALL_HINT", "SparkRun", "evaluate_spark", "spark_session"]
