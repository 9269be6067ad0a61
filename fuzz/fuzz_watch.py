"""Fuzz `compliance watch` against `evaluate`: `python fuzz/fuzz_watch.py [corpus] [-flags]`.

The first byte picks the feed's format (CSV or JSON Lines, by its low bit) and how many
bytes the watch reads at a time (1 to 128, by the rest); the other bytes are the feed
file. Watching it to its end must leave the state `evaluate` gives of the same file: the
same accounting, rejections with their lines and reasons, and findings; or, where
`evaluate` refuses the file, the same error.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from _harness import RULES, check_error

    import compliance
    import compliance.watch as watching
    from compliance import ComplianceError, LogError

FOLDER = Path(tempfile.mkdtemp(prefix="compliance-fuzz-watch-"))
RULEBOOK = compliance.load_rulebook(RULES)
AS_OF = date(2020, 6, 30)


def _state(report: compliance.Report) -> object:
    return (report.accounting, [(r.line, r.reasons) for r in report.rejected],
            [f.to_dict() for f in report.findings])  # fmt: skip


def one_input(data: bytes) -> None:
    if not data:
        return
    fmt = ("csv", "jsonl")[data[0] & 1]
    watching.READ_BYTES = 1 + (data[0] >> 1)
    feed, state = FOLDER / f"feed.{fmt}", FOLDER / "state.db"
    feed.write_bytes(data[1:])
    for stale in FOLDER.glob("state.db*"):
        stale.unlink()
    try:
        expected = _state(compliance.evaluate(feed, RULEBOOK, as_of=AS_OF))
    except LogError as e:
        check_error(e)
        try:
            watching.watch(str(feed), state, RULEBOOK, output=FOLDER / "out.jsonl", as_of=AS_OF)
        except ComplianceError as w:
            assert str(w) == str(e), (str(w), str(e))
            return
        raise AssertionError(f"evaluate refused the file ({e}); watch did not") from None
    watching.watch(str(feed), state, RULEBOOK, output=FOLDER / "out.jsonl", as_of=AS_OF)
    got = _state(watching.report_from_state(state, RULEBOOK, as_of=AS_OF))
    assert got == expected, (got, expected)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
