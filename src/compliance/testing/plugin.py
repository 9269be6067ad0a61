"""pytest plugin: `pytest --rulebook PATH` checks every property of every rule in PATH.

    cd "$(mktemp -d)" && pytest --rulebook /path/to/rules/dprk

One test item per (rule, property), named `PATH::property[rule-id]`, so `-k` selects
them (`-k "boundary_exact and crude"`). Registered under the `pytest11` entry point, so
pytest loads it in every run: it imports nothing but pytest until `--rulebook` is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PropertyItem", "RulebookCollector"]

DEFAULT_EXAMPLES = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compliance", "compliance rulebook properties")
    group.addoption(
        "--rulebook", action="append", default=[], metavar="PATH",
        help="check every property of every rule in this rulebook (a directory or a YAML "
        "file); may be given several times",
    )  # fmt: skip
    group.addoption(
        "--rulebook-examples", type=int, default=None, metavar="N",
        help=f"hypothesis examples per rule and property (default {DEFAULT_EXAMPLES}, or "
        "the loaded hypothesis profile's max_examples when HYPOTHESIS_PROFILE or "
        "--hypothesis-profile is set)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "compliance_property(name, rule): a rulebook property check (--rulebook)"
    )


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    for path in config.getoption("--rulebook"):
        collector = RulebookCollector.from_parent(
            session, name=str(path), path=Path(path), nodeid=str(path)
        )
        items.extend(collector.collect())


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
        from compliance.testing.properties import PROPERTIES

        examples = self.config.getoption("--rulebook-examples")
        if examples is None:
            examples = None if _profile_chosen(self.config) else DEFAULT_EXAMPLES
        # The properties keep no example database: no failing examples are saved into
        # the (possibly unrelated) directory pytest runs in.
        PROPERTIES[self.property_name](self.rulebook, examples, rule=self.rule_id)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.property_name}[{self.rule_id}]"


def _profile_chosen(config: pytest.Config) -> bool:
    """Was a hypothesis profile asked for, by environment or by hypothesis' own option?"""
    import os

    # The option exists only while hypothesis' pytest plugin is loaded.
    option = config.getoption("--hypothesis-profile", default=None)
    return bool(os.environ.get("HYPOTHESIS_PROFILE") or option)
