"""A one-line progress indicator on stderr, shown only on a terminal.

Never on stdout (JSON or CSV output stays clean) and never when stderr is redirected,
so logs, pipes and tests see nothing. It appears only after a second of work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

__all__ = ["Progress"]

T = TypeVar("T")
DELAY = 1.0  # seconds before the first draw: short runs stay silent
EVERY = 0.2  # seconds between redraws


class Progress:
    """Counts events; draws `evaluating: 1,234,567 events (812,345/s)` on a terminal."""

    def __init__(self, stream: TextIO | None = None, label: str = "evaluating") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self.done = 0
        self.start = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False

    def add(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start >= DELAY and now - self._drawn_at >= EVERY:
            self._drawn_at = now
            rate = self.done / max(now - self.start, 1e-9)
            self.stream.write(f"\r{self.label}: {self.done:,} events ({rate:,.0f}/s)\x1b[K")
            self.stream.flush()
            self._shown = True

    def count(self, items: Iterable[T], every: int = 10_000) -> Iterator[T]:
        """Pass items through, counting them."""
        pending = 0
        for item in items:
            yield item
            pending += 1
            if pending == every:
                self.add(pending)
                pending = 0
        self.add(pending)

    def close(self) -> None:
        """Erase the line, so whatever follows on the terminal starts clean."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
