"""Selection: which rows leave Polars for the ledger, and which stay to be evaluated in bulk.

A row reaches Python (`Ledger.add`, as the Python reader would yield it) when it is not
clean, carries `supersedes`, shares its id with another row of different content or with
a row that reaches Python, or is named by a correction; the screen did not keep every such
row, so those it left are read again (`screen.fetch`). Every other row is clean and alone
with its id, or an exact copy of such a row: the ledger counts those in bulk
(`Ledger.add_counted`), and the clean ones that may match a rule stay in Polars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from compliance.engine.columnar.screen import HASH_SEED, Scan, fetch
from compliance.ledger import Ledger, RawRecord

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "Selection",
    "hash_ids",
    "id_text",
    "involved_ids",
    "python_rows",
    "resolve_groups",
    "select_rows",
    "settle",
]


@dataclass
class Selection:
    """The ledger of every row of the logs, and the clean rows evaluated in bulk."""

    ledger: Ledger
    clean: list[tuple[Scan, pl.DataFrame]] = field(default_factory=list)  # (scan, its rows)


def select_rows(scans: list[Scan], python_records: Iterable[RawRecord]) -> Selection:
    """The ledger of the scans and of the records of logs that took the Python path."""
    import polars as pl

    ledger = Ledger()
    # 1. Rows that need the ledger whatever else the log holds: not clean, or with
    #    supersedes (and every record of a log the fast readers could not take).
    records: list[RawRecord] = list(python_records)
    counted = 0  # rows of the scans that the ledger does not see one by one
    for scan in scans:
        flagged = scan.relevant.filter(~pl.col("__clean") | scan.exprs.has("supersedes"))
        records.extend(python_rows(scan, flagged))
        counted += scan.records - flagged.height  # (rows of blanks: not records)

    # 2. Ids those rows involve, and ids that occur more than once among clean rows.
    involved = involved_ids(records)
    keys = pl.concat(
        [s.keys.with_columns(pl.lit(n, dtype=pl.Int32).alias("__s")) for n, s in enumerate(scans)]
    ) if scans else pl.DataFrame(schema={"__h": pl.UInt64, "__c": pl.UInt64, "__row": pl.UInt32,
                                         "__rel": pl.Boolean, "__s": pl.Int32})  # fmt: skip
    # Sorting 10M hashes and comparing neighbours takes a seventh of is_duplicated().
    ordered = keys.get_column("__h").sort()
    dup = ordered.filter(ordered == ordered.shift(1)).unique()
    hot_ids = pl.concat([dup, involved]).unique()
    hot_keys = keys.filter(pl.col("__h").is_in(hot_ids.implode()))
    groups = (
        hot_keys.group_by("__h")
        .agg(pl.len().alias("n"), pl.col("__rel").any().alias("rel"),
             (~pl.col("__rel")).sum().alias("plain"), pl.col("__c").n_unique().alias("contents"))
    )  # fmt: skip
    simple, copies, to_fetch = resolve_groups(groups, involved)

    # 3. Clean rows sharing one of the other ids go to the ledger too (a second pass
    #    fetches the ones the screen did not keep); the rest are evaluated in bulk.
    def fetched(n: int, scan: Scan) -> pl.DataFrame | None:
        wanted = hot_keys.filter((pl.col("__s") == n) & ~pl.col("__rel")).join(
            to_fetch.select("__h"), on="__h", how="semi"
        )
        return fetch(scan, wanted.get_column("__row")) if wanted.height else None

    # The second pass reads the log again, mostly in Polars and the kernel (the GIL
    # released): on a thread, while the ledger takes the first rows, in Python.
    with ThreadPoolExecutor(max_workers=1) as pool:
        again = [pool.submit(fetched, n, scan) for n, scan in enumerate(scans)]
        for record in records:
            ledger.add(record)

    def second(n: int, scan: Scan) -> pl.DataFrame | None:
        return again[n].result()

    return settle(ledger, scans, hot_ids, simple, second, counted=counted, copies=copies)


def settle(
    ledger: Ledger, scans: list[Scan], hot_ids: pl.Series, simple: pl.DataFrame,
    second: Callable[[int, Scan], pl.DataFrame | None], *, counted: int, copies: int,
    dates: Iterable[date] = (),
) -> Selection:  # fmt: skip
    """The selection, once the ledger holds every row but the clean ones of the scans:
    clean rows with an id of `hot_ids` (not of a `simple` group) go to the ledger, with
    the rows `second(n, scan)` brings back (raw columns and `__row`: rows of those ids
    the screen did not keep); the others are evaluated in bulk. The ledger counts the
    rest (`counted` less the rows it took, the `copies`) as of the latest of `dates`
    and the scans' dates."""
    import polars as pl

    selection = Selection(ledger)
    simple_h = simple.get_column("__h").implode()
    hot = pl.col("__h").is_in(hot_ids.implode()) & ~pl.col("__h").is_in(simple_h)
    for n, scan in enumerate(scans):
        plain = scan.relevant.filter(pl.col("__clean") & ~scan.exprs.has("supersedes"))
        joined = plain.filter(hot)
        plain = plain.filter(~hot)
        if (again := second(n, scan)) is not None:
            joined = pl.concat([joined.select(again.columns), again])
        for record in python_rows(scan, joined):
            ledger.add(record)
        counted -= joined.height
        selection.clean.append((scan, plain))
    # What is left: clean rows whose id no other row shares and no correction names,
    # plus exact copies (`copies`) of such rows that match no rule.
    latest = [*dates, *(s.latest for s in scans if s.latest is not None)]
    ledger.add_counted(read=counted, duplicates=copies, latest=max(latest, default=None))
    return selection


def python_rows(scan: Scan, frame: pl.DataFrame) -> Iterator[RawRecord]:
    """Rows of a scan as the Python reader yields them (all-blank CSV rows are skipped;
    typed rows are read again, with their own values)."""
    if scan.typed is not None:
        yield from scan.typed.records(frame.get_column("__row"))
        return
    for row in frame.select(["__row", *scan.columns]).iter_rows():
        index, values = row[0], row[1:]
        if all(v is None or not v.strip() for v in values):
            continue
        data = {c: ("" if v is None else v) for c, v in zip(scan.columns, values, strict=True)}
        yield RawRecord(data, scan.name, line=index + scan.line_offset)


def involved_ids(records: Iterable[RawRecord]) -> pl.Series:
    """Hashes of the ids Python rows carry or correct: clean rows with one of these ids
    must go to the ledger too."""
    ids: set[str] = set()
    for record in records:
        data = record.data if isinstance(record.data, Mapping) else {}
        for key in ("id", "supersedes"):
            value = data.get(key)
            if value is not None and (text := id_text(value)):
                ids.add(text)
    return hash_ids(ids)


def resolve_groups(
    groups: pl.DataFrame, involved: pl.Series
) -> tuple[pl.DataFrame, int, pl.DataFrame]:
    """(simple groups, their copies, groups whose plain rows must be fetched) of the id
    groups (`__h`, n, rel, plain, contents) of ids that occur more than once or are
    involved.

    Simple groups are identical rows that no rule, correction or odd value touches: one
    is evaluated (it matches no rule), the others are its duplicates.
    """
    import polars as pl

    simple = groups.filter(
        ~pl.col("rel") & (pl.col("contents") == 1) & ~pl.col("__h").is_in(involved.implode())
    )
    copies = int((simple.get_column("n") - 1).sum() or 0)
    to_fetch = groups.filter(pl.col("plain") > 0).join(simple.select("__h"), on="__h", how="anti")
    return simple, copies, to_fetch


def hash_ids(ids: Iterable[str]) -> pl.Series:
    """The id hashes (`__h`) of some ids, as the screen computes them."""
    import polars as pl

    return pl.Series("__h", sorted(ids), dtype=pl.String).hash(HASH_SEED)


def id_text(value: object) -> str:
    """An id as parse_shipment stores it."""
    return value.strip() if isinstance(value, str) else str(value)
