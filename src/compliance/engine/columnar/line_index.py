"""Where every INDEX_STEP-th line of a chunk starts, so that a second pass reads some
lines again from the blocks holding them rather than from the whole chunk.

Both chunked readers (CSV, `csv_chunks`; JSON Lines, `ndjson`) read a chunk's lines as
text for their screen; the index is taken from those lines' lengths, at the cost of a
sum over them. A chunk whose lines' lengths do not add up to its own (a CRLF, whose CR
Polars drops from the line) has no index: its lines are read again from the whole chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import polars as pl

__all__ = ["INDEX_STEP", "LineIndex"]

# Lines per block: reading a row again costs reading at most this many lines.
INDEX_STEP = 64


class LineIndex:
    """The line index of the chunks of one log, each known by its first line."""

    def __init__(self) -> None:
        # Per chunk: the lines per block it was indexed with, and where each block
        # starts in the chunk with the chunk's length last (block b is bytes bounds[b]
        # to bounds[b + 1]).
        self.blocks: dict[int, tuple[int, pl.Series]] = {}

    def __len__(self) -> int:
        return len(self.blocks)

    def __contains__(self, first: object) -> bool:
        return first in self.blocks

    def clear(self) -> None:
        self.blocks.clear()

    def add(self, first: int, data: bytes, lines: pl.Series) -> bool:
        """Index the chunk `data` of whole lines whose first line is `first`; `lines`:
        its lines as Polars reads them, one per line (null for an empty one). Whether
        it was indexed: not when the lines' lengths do not add up to the chunk's
        (lines not read as they are written: a CRLF, whose CR Polars drops)."""
        import polars as pl

        lengths = lines.str.len_bytes().fill_null(0).cast(pl.UInt64)
        size = len(data) + (not data.endswith(b"\n"))  # a last line without its newline
        if (lengths.sum() or 0) + lengths.len() != size:
            return False
        step = INDEX_STEP
        # Each block's bytes, its lines' and their newlines' (a third of the cost of the
        # running sum over every line); the last block's are never needed.
        padded = lengths.extend_constant(0, -lengths.len() % step)
        sizes = padded.reshape((-1, step)).arr.sum() + step
        zero, end = pl.Series([0], dtype=pl.UInt64), pl.Series([len(data)], dtype=pl.UInt64)
        self.blocks[first] = step, pl.concat([zero, sizes.head(-1).cum_sum(), end])
        return True

    def read(self, handle: BinaryIO, start: int, first: int, rows: pl.Series) -> list[bytes] | None:
        """The lines numbered `rows` (sorted, distinct, all of the chunk at byte `start`
        of `handle` whose first line is `first`), each with its line end as written,
        read from the blocks holding them (consecutive blocks in one read); None when
        the chunk has no index."""
        import polars as pl

        if (indexed := self.blocks.get(first)) is None:
            return None
        step, bounds = indexed
        offsets = (rows.cast(pl.UInt64) - first).to_list()
        blocks = sorted({at // step for at in offsets})
        runs: list[tuple[int, int]] = []  # (first block, last block) of consecutive ones
        for block in blocks:
            if runs and runs[-1][1] == block - 1:
                runs[-1] = (runs[-1][0], block)
            else:
                runs.append((block, block))
        low = bounds.gather([r[0] for r in runs]).to_list()
        high = bounds.gather([r[1] + 1 for r in runs]).to_list()
        picked: list[bytes] = []
        at = 0
        for (block, last), begin, end in zip(runs, low, high, strict=True):
            handle.seek(start + begin)
            pieces = handle.read(end - begin).split(b"\n")
            base = block * step
            while at < len(offsets) and offsets[at] < (last + 1) * step:
                k = offsets[at] - base
                # Every piece but the last ended at a newline; the last is a line only
                # when the chunk's last line has none.
                picked.append(pieces[k] + b"\n" if k < len(pieces) - 1 else pieces[k])
                at += 1
        return picked
