"""compliance: sanctions measures as declarative rules, shipment logs evaluated against them.

import compliance

rulebook = compliance.load_rulebook()                 # the bundled DPRK rulebook
report = compliance.evaluate("shipments.csv", rulebook)
for finding in report.breaches:
    print(finding.message)
"""

from compliance.api import Engine, evaluate
from compliance.engine.monitor import Changes, Monitor
from compliance.errors import (
    ComplianceError,
    Diagnostic,
    EngineUnavailableError,
    LogError,
    ReportDependencyError,
    RuleFileError,
)
from compliance.events import Shipment
from compliance.io.tracking import Conversion, convert_tracking
from compliance.report import (
    Accounting,
    Finding,
    Measurement,
    PeriodRange,
    Rejection,
    Report,
    Series,
    SeriesPoint,
    Supersession,
)
from compliance.rulebook import Rule, Rulebook, bundled_rulebook_path, load_rulebook

__version__ = "0.1.0"

__all__ = [
    "Accounting",
    "Changes",
    "ComplianceError",
    "Conversion",
    "Diagnostic",
    "Engine",
    "EngineUnavailableError",
    "Finding",
    "LogError",
    "Measurement",
    "Monitor",
    "PeriodRange",
    "Rejection",
    "Report",
    "ReportDependencyError",
    "Rule",
    "RuleFileError",
    "Rulebook",
    "Series",
    "SeriesPoint",
    "Shipment",
    "Supersession",
    "__version__",
    "bundled_rulebook_path",
    "convert_tracking",
    "evaluate",
    "load_rulebook",
]
