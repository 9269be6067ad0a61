"""What every step of the columnar engine works from: the rulebook's plan, and the signal
that a log must take the exact Python path instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from compliance.events import Shipment
from compliance.rulebook.correlation import correlation_fields
from compliance.rulebook.evaluator import RulebookEvaluator, compile_selector, rule_condition
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule, Rule
from compliance.rulebook.selectors import Selector

__all__ = ["Fallback", "Plan"]


class Fallback(Exception):
    """The fast readers cannot reproduce the Python reader on this log."""


@dataclass
class Plan:
    """A rulebook compiled for the engine: each rule's condition (the selector Polars
    screens with) and its exact test (`rulebook.evaluator`, which confirms every row that
    reaches a finding), the rulebook's evaluator (for the events that reached Python),
    and the fields caps group on and correlations read."""

    rulebook: Rulebook
    conditions: list[Selector] = field(default_factory=list)
    exact: list[Callable[[Shipment], bool]] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    evaluator: RulebookEvaluator = field(init=False)

    def __post_init__(self) -> None:
        self.conditions = [rule_condition(r) for r in self.rulebook.rules]
        self.exact = [compile_selector(c) for c in self.conditions]
        self.evaluator = RulebookEvaluator(self.rulebook.rules)
        # Fields read besides selectors: caps group on some, correlations join and copy.
        self.group_by = sorted({g for r in self.rulebook.rules if isinstance(r, CapRule)
                                for g in r.group_by}
                               | correlation_fields(self.rulebook.rules))  # fmt: skip

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.rulebook.rules
