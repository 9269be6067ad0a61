"""The columnar engine: Polars screens millions of rows, the shared Python code decides.

One streaming pass over each log (`screen`) computes, per row, a conservative validation
screen ("clean": certainly valid as written), a hash of the id and of the content, and
whether each rule may match (`expressions`, in float64). Only a small remainder leaves
Polars (`selection`):

* rows that are not clean, carry `supersedes`, share an id with another row, or are
  named by a correction go through the one ledger (`compliance.ledger`), so rejections,
  reasons, lines, duplicates and corrections are the stream engine's by construction;
  the other rows are accounted for in bulk;
* clean rows that may match a per-event rule (prohibition, deadline, designation) become
  `Shipment`s (`shipments`), are confirmed by the exact evaluator and go to
  `findings_for_rule`;
* caps are screened with float64 sums per (rule, group, period) or rolling window, and
  only buckets that come near a level are recomputed exactly (`caps`).

CSV files are read in chunks (`csv_chunks`); Parquet files and polars and pandas
DataFrames take the same screen on their columns cast to strings (`typed`), JSON Lines
files on their plain lines decoded as strings, every other line a row for the Python
reader (`ndjson`). Logs that the fast readers cannot reproduce line for line (JSON arrays,
stdin, quoted newlines, ragged rows, bytes that are not UTF-8 in a CSV file, odd headers,
nested or boolean columns) and iterables take the same route with every record as a
Python row: slower, never different. Rows read again (the selection's second pass) are
read from the blocks of lines holding them (`line_index`), in CSV and JSON Lines alike.
`evaluation` ties the steps together.
"""

from compliance.engine.columnar.evaluation import evaluate_columnar

__all__ = ["evaluate_columnar"]
