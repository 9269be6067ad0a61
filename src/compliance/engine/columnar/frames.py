"""Small Polars helpers shared by the readers and the screen."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = ["detached"]


def detached(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of a few filtered rows. Filtered string views still point into the whole
    chunk's buffers: without a copy, every chunk of the file stays in memory."""
    import polars as pl

    buffer = io.BytesIO()
    frame.write_ipc(buffer, compat_level=pl.CompatLevel.oldest())
    buffer.seek(0)
    return pl.read_ipc(buffer)
