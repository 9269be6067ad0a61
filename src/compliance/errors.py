"""Errors raised by compliance.

Every error a user can cause is a `ComplianceError`; its `str()` is one or more lines of
`path:line:col: message`, ready to print without a traceback.

    ComplianceError
    ├── RuleFileError        a rulebook that does not load (every problem, each located)
    ├── LogError             a log that cannot be read at all (missing file, no header, …)
    └── EngineUnavailableError  an engine whose dependency cannot be imported here
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ComplianceError",
    "Diagnostic",
    "EngineUnavailableError",
    "LogError",
    "RuleFileError",
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
