"""The cyclic garbage collector, paused while a large acyclic result is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]


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
