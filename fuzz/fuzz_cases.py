"""Fuzz the rule tests' case files: `python fuzz/fuzz_cases.py [corpus] [-flags]`.

Each input is one case file (`tests/cases.yaml`) beside a copy of the bundled rulebook.
Loading it must give cases or a `RuleFileError` whose every diagnostic names the file;
each of the first three cases must then run, with the same outcome on both engines where
durable_rules imports (passed or not, the same misses, unexpected findings and
rejected events).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import compliance
    from compliance import RuleFileError
    from compliance.ruletests import Outcome, load_cases, run_case

BOOK = Path(tempfile.mkdtemp(prefix="compliance-fuzz-cases-")) / "book"
shutil.copytree(compliance.bundled_rulebook_path(), BOOK)
for bundled in (BOOK / "tests").glob("*"):
    bundled.unlink()  # the fuzzed file alone
RULEBOOK = compliance.load_rulebook(BOOK)
CASES = BOOK / "tests" / "cases.yaml"

try:
    compliance.Monitor(RULEBOOK).close()
    ENGINES: tuple[compliance.Engine, ...] = ("stream", "columnar")
except compliance.EngineUnavailableError:
    ENGINES = ("columnar",)


def _outcome(o: Outcome) -> object:
    return (o.passed, [repr(m.expected) for m in o.missing],
            [repr(f.to_dict()) for f in o.unexpected], o.rejected)  # fmt: skip


def one_input(data: bytes) -> None:
    CASES.write_bytes(data)
    try:
        cases = load_cases(BOOK, RULEBOOK)
    except RuleFileError as e:
        for d in e.diagnostics:
            assert d.path == str(CASES), d
            str(d).encode("utf-8")
        return
    for case in cases[:3]:
        outcomes = [_outcome(run_case(case, RULEBOOK, engine)) for engine in ENGINES]
        assert all(o == outcomes[0] for o in outcomes), outcomes


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
