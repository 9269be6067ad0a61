"""Fuzz the log readers and both engines: `python fuzz/fuzz_readers.py [corpus] [-flags]`.

The first byte picks the format (CSV, JSON Lines, JSON) and, when durable_rules can be
imported, compares the stream engine's report with the columnar engine's: the same JSON,
findings and rejections included, not only the same accounting.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from _harness import RULES, check_error, check_report

    import compliance
    from compliance import ComplianceError

# FUZZ_RULEBOOK=rules/dprk: the bundled rulebook (correlation, designations, the caps).
RULEBOOK = compliance.load_rulebook(os.environ.get("FUZZ_RULEBOOK") or RULES)
SUFFIXES = (".csv", ".jsonl", ".json")
FOLDER = tempfile.mkdtemp(prefix="compliance-fuzz-")

try:
    compliance.Monitor(RULEBOOK).close()
    ENGINES: tuple[compliance.Engine, ...] = ("stream", "columnar")
except compliance.EngineUnavailableError:
    ENGINES = ("columnar",)


def one_input(data: bytes) -> None:
    if not data:
        return
    path = os.path.join(FOLDER, "log" + SUFFIXES[data[0] % len(SUFFIXES)])
    with open(path, "wb") as handle:
        handle.write(data[1:])
    outcomes = []
    for engine in ENGINES:
        try:
            report = compliance.evaluate(path, RULEBOOK, engine=engine)
        except ComplianceError as e:
            check_error(e)
            outcomes.append(str(e))
            continue
        check_report(report, RULEBOOK)
        outcomes.append(report.to_json())
    assert len(set(outcomes)) == 1, [o[:3000] for o in outcomes]


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
