"""Rule files: models, loading and the `Rulebook`."""

from compliance.rulebook.load import bundled_rulebook_path, load_rulebook
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CapRule,
    DeadlineRule,
    DesignationRule,
    ProhibitionRule,
    Rule,
    UnnotifiedRule,
)

__all__ = [
    "CapRule",
    "DeadlineRule",
    "DesignationRule",
    "ProhibitionRule",
    "Rule",
    "Rulebook",
    "UnnotifiedRule",
    "bundled_rulebook_path",
    "load_rulebook",
]
