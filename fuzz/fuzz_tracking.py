"""Fuzz the tracking conversion: `python fuzz/fuzz_tracking.py [corpus] [-flags]`.

The first byte picks the export's suffix (CSV, JSON Lines, JSON) and, by its fourth bit,
`both_directions`; the rest is the export. `convert_tracking` must give a conversion or a
`ComplianceError`. A conversion's events, written as CSV and as JSON Lines the way
`compliance convert` writes them, must read back with nothing rejected and every event
read, and give a report that passes the harness's checks: what `convert` writes,
`evaluate` takes whole.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from _harness import check_error, check_report

    import compliance
    from compliance import ComplianceError

FOLDER = Path(tempfile.mkdtemp(prefix="compliance-fuzz-tracking-"))
SUFFIXES = (".csv", ".jsonl", ".json")
RULEBOOK = compliance.load_rulebook()


def one_input(data: bytes) -> None:
    if not data:
        return
    export = FOLDER / ("export" + SUFFIXES[data[0] % 3])
    export.write_bytes(data[1:])
    try:
        conversion = compliance.convert_tracking(export, both_directions=bool(data[0] & 8))
    except ComplianceError as e:
        check_error(e)
        return
    conversion.summary().encode("utf-8")
    if not conversion.events:
        return
    for suffix, text in ((".csv", conversion.to_csv()), (".jsonl", conversion.to_jsonl())):
        events = FOLDER / ("events" + suffix)
        events.write_text(text, encoding="utf-8")
        report = compliance.evaluate(events, RULEBOOK, engine="columnar")
        check_report(report, RULEBOOK)
        rejected = [(r.line, r.reasons) for r in report.rejected][:3]
        assert report.accounting.rejected == 0, (suffix, rejected)
        assert report.accounting.read == len(conversion.events), (suffix, report.accounting)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
