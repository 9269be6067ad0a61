"""What every fuzz target checks: a report or a located error, never anything else.

A report must be valid UTF-8 in every text format and its accounting must sum; an
error must be one of ours (`ComplianceError`). Any other exception, a hang or a crash
is a finding: atheris stops and writes the input as `crash-…` in the working directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from compliance import ComplianceError, Report, Rulebook
from compliance.io.writers import render

sys.setrecursionlimit(1000)  # the default: a bound we rely on must hold under it

RULES = Path(__file__).resolve().parents[1] / "tests" / "data" / "design-example.yaml"


def check_report(report: Report, rulebook: Rulebook) -> None:
    a = report.accounting
    assert a.read == a.evaluated + a.duplicates + a.superseded + a.rejected, a
    assert all(r.line is not None or r.index is not None for r in report.rejected)
    for fmt in ("json", "table", "csv", "markdown"):
        render(report, rulebook, fmt).encode("utf-8")
    json.loads(report.to_json())


def check_error(error: ComplianceError) -> None:
    str(error).encode("utf-8")
