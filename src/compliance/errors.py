"""Errors raised by compliance.

Every error a user can cause is a `ComplianceError`, and every `ComplianceError` is
defined here; its `str()` is one or more lines (`path:line:col: message` where there is a
place to name), ready to print without a traceback. The CLI exits with its `exit_code`.

    ComplianceError                 exit 2
    ├── RuleFileError               a rulebook or rule-test file that does not load:
    │                               every problem, each `path:line:col: rule X: field: …`
    ├── LogError                    a log that cannot be read at all (missing file, no
    │                               header, …); a bad record is a rejection, not an error
    ├── EngineUnavailableError      an engine whose dependency cannot be imported here
    └── ReportDependencyError       a report format whose extra is not installed
                                    (`--format html` without matplotlib)

Anything else escaping the library is a bug of ours (the CLI says "internal error").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ComplianceError",
    "Diagnostic",
    "EngineUnavailableError",
    "LogError",
    "ReportDependencyError",
    "RuleFileError",
    "located",
]


@dataclass(frozen=True)
class Diagnostic:
    """One located problem: `path:line:col: message`."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


def located(source: str, line: int | None, index: int | None) -> str:
    """Where a record was read: `file:line` (line-based formats), `file[index]` (JSON
    arrays, DataFrames, Parquet) or the source alone."""
    if line is not None:
        return f"{source}:{line}"
    if index is not None:
        return f"{source}[{index}]"
    return source


class ComplianceError(Exception):
    """Root of every error compliance raises on purpose."""

    exit_code = 2


class RuleFileError(ComplianceError):
    """A rulebook failed to load; `diagnostics` holds every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class LogError(ComplianceError):
    """A shipment log could not be read at all (as opposed to a rejected record)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


class EngineUnavailableError(ComplianceError):
    """The requested engine cannot run in this interpreter."""


class ReportDependencyError(ComplianceError):
    """A report format needs an optional dependency that is not installed."""
