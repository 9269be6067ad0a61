"""The cyclic garbage collector: paused while a large acyclic result is built, and run
rarely in a process that allocates millions of objects and few cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "rare"]


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside (cycles made meanwhile wait for the next one).

    The findings of a large log, and their JSON, are hundreds of thousands of objects
    that stay alive and form no cycles: each full pass of the collector walks all of
    them again, and the passes come more often as the heap grows, which cost a quarter of
    the time after the scan (measured in docs/performance.md). Nested uses leave the
    collector as the outermost found it.

    On leaving, what was made inside joins the oldest generation (`freeze` then
    `unfreeze`: two list splices, no walk): left young, it was all walked by the first
    young collection after the pause (0.17-0.36 s on a 10 M-row log's findings), and
    long-lived results are what the oldest generation is for. Cycles among them are
    still collected, by the next full collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@contextmanager
def rare() -> Iterator[None]:
    """The cyclic garbage collector run every 100,000 allocations instead of 700.

    An evaluation allocates millions of objects (records, shipments, findings, their
    JSON) and almost no cycles; at the default threshold the collector's passes took a
    third of the columnar engine's time after the scan (0.8 s of a 10M-row log) and a
    fifth of the stream engine's. A live monitor's changes re-announce findings that list
    every member of their period: each young pass walked the lists of the last few
    hundred changes, 2 ms a pass late in a feed (docs/monitoring.md). Cycles are still
    collected, in larger batches.
    """
    threshold = gc.get_threshold()
    gc.set_threshold(100_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
