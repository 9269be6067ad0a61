"""Fuzz the rule loader: `python fuzz/fuzz_rules.py [corpus] [-max_total_time=N]`.

Each input is one rule file. Loading it must give a `Rulebook` or a `RuleFileError`
whose every diagnostic names the file; anything else (RecursionError, MemoryError, a
ValueError from a constructor, a hang) is a finding.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from compliance import RuleFileError, load_rulebook

FOLDER = tempfile.mkdtemp(prefix="compliance-fuzz-rules-")
PATH = os.path.join(FOLDER, "rules.yaml")


def one_input(data: bytes) -> None:
    with open(PATH, "wb") as handle:
        handle.write(data)
    try:
        load_rulebook(FOLDER)
    except RuleFileError as e:
        for d in e.diagnostics:
            assert d.path.startswith(FOLDER), d
            str(d).encode("utf-8")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
