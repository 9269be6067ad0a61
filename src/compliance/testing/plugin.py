"""`pytest --rulebook PATH`: every property of every rule in PATH, one item each.

    cd "$(mktemp -d)" && pytest --rulebook /path/to/rules/dprk

One test item per (rule, property), named `PATH::property[rule-id]`, so `-k` selects
them (`-k "boundary_exact and crude"`). The options and hooks live in the light top-level
module `_compliance_pytestplugin` (the `pytest11` entry point), which imports this one
only when `--rulebook` is given. Each passing item records what it checked (examples,
how many exercised the rule), listed at the end of the run; the properties of a rule no
event can match are skipped, naming why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _compliance_pytestplugin import DEFAULT_EXAMPLES

__all__ = ["PropertyItem", "RulebookCollector", "collect_rulebooks", "summarise"]


def collect_rulebooks(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add an item per (rule, property) of every `--rulebook` to the session's items."""
    for path in config.getoption("--rulebook"):
        collector = RulebookCollector.from_parent(
            session, name=str(path), path=Path(path), nodeid=str(path)
        )
        items.extend(collector.collect())


def summarise(terminalreporter: Any) -> None:
    """A section listing what each passing property checked."""
    reports = [r for r in terminalreporter.stats.get("passed", [])
               if any(k == "checked" for k, _ in r.user_properties)]  # fmt: skip
    if not reports:
        return
    terminalreporter.write_sep("-", "rulebook properties: what each checked")
    for r in reports:
        checked = dict(r.user_properties)["checked"]
        terminalreporter.write_line(f"{r.nodeid}: {checked}")


class RulebookCollector(pytest.Collector):
    """The rulebook at `path`; its items are (rule, property) pairs."""

    def collect(self) -> Iterator[pytest.Item]:
        from compliance.testing import require_hypothesis

        try:
            require_hypothesis()
        except ImportError as e:
            raise pytest.UsageError(f"--rulebook: {e}") from None
        import compliance
        from compliance.errors import RuleFileError
        from compliance.testing.properties import PROPERTIES, applicable

        try:
            rulebook = compliance.load_rulebook(self.path)
        except RuleFileError as e:
            message = f"--rulebook {self.path}: the rulebook does not load:\n{e}"
            raise pytest.UsageError(message) from None
        for name in PROPERTIES:
            for rule in rulebook.rules:
                if applicable(name, rule):
                    item = PropertyItem.from_parent(self, name=f"{name}[{rule.id}]")
                    item.setup_check(rulebook, name, rule.id)
                    yield item


class PropertyItem(pytest.Item):
    """One property of one rule."""

    rulebook: Any
    property_name: str
    rule_id: str

    def setup_check(self, rulebook: Any, name: str, rule_id: str) -> None:
        self.rulebook, self.property_name, self.rule_id = rulebook, name, rule_id
        self.add_marker(pytest.mark.compliance_property(name, rule_id))

    def runtest(self) -> None:
        from compliance.testing.properties import PROPERTIES, PropertySkipped

        examples = self.config.getoption("--rulebook-examples")
        if examples is None:
            examples = None if _profile_chosen(self.config) else DEFAULT_EXAMPLES
        # The properties keep no example database: no failing examples are saved into
        # the (possibly unrelated) directory pytest runs in.
        try:
            (checked,) = PROPERTIES[self.property_name](self.rulebook, examples, rule=self.rule_id)
        except PropertySkipped as e:
            pytest.skip(str(e))  # a plain skip: the reason shown without unittest frames
        self.user_properties.append(("checked", str(checked)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.property_name}[{self.rule_id}]"


def _profile_chosen(config: pytest.Config) -> bool:
    """Was a hypothesis profile asked for, by environment or by hypothesis' own option?"""
    # The option exists only while hypothesis' pytest plugin is loaded.
    option = config.getoption("--hypothesis-profile", default=None)
    return bool(os.environ.get("HYPOTHESIS_PROFILE") or option)
