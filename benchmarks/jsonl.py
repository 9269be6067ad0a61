"""Write a generated CSV log as JSON Lines, for the JSON Lines benchmark.

    python benchmarks/jsonl.py benchmarks/data/1m.csv benchmarks/data/1m.jsonl

One object per row, as a JSON Lines writer would give it: absent (empty) fields left
out, `quantity` and `value` as JSON numbers (their CSV text, a plain decimal), every
other field a string. Converted in batches with Polars, so memory stays bounded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

NUMBERS = ("quantity", "value")
BATCH = 500_000


def fragments(columns: list[str]) -> list[pl.Expr]:
    """Per column, its `"name":value` text (null where the field is empty)."""
    out = []
    for c in columns:
        if c in NUMBERS:
            # A plain decimal from the generator is a JSON number as written.
            number = pl.col(c).str.contains(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$")
            text = pl.format('"{}":{}', pl.lit(c), pl.col(c))
            quoted = pl.struct(pl.col(c)).struct.json_encode().str.slice(1).str.head(-1)
            out.append(pl.when(number).then(text).otherwise(quoted))
        else:
            # {"c":"…"} without its braces: the field as JSON, escaped by Polars.
            out.append(pl.struct(pl.col(c)).struct.json_encode().str.slice(1).str.head(-1))
        out[-1] = pl.when(pl.col(c).is_not_null() & (pl.col(c) != "")).then(out[-1])
    return out


def convert(source: Path, out: Path) -> None:
    lazy = pl.scan_csv(source, infer_schema=False)
    line = pl.concat_str(fragments(lazy.collect_schema().names()), separator=",",
                         ignore_nulls=True)  # fmt: skip
    query = lazy.select(pl.concat_str(pl.lit("{"), line, pl.lit("}")).alias("line"))
    with out.open("wb") as handle:
        for batch in query.collect_batches(chunk_size=BATCH, maintain_order=True):
            handle.write(("\n".join(batch.get_column("line").to_list()) + "\n").encode())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args()
    convert(args.source, args.out)


if __name__ == "__main__":
    main()
