"""pytest plugin of `compliance`: `pytest --rulebook PATH` checks every property of every
rule in PATH (see compliance.testing.plugin).

Registered under the `pytest11` entry point, so pytest loads it in every run wherever the
package is installed. It is a top-level module, as hypothesis' `_hypothesis_pytestplugin`
is, so that loading it imports nothing of `compliance` (pydantic, YAML, the engines):
only the options are registered here, and the machinery is imported when `--rulebook`
is given.
"""

from __future__ import annotations

from typing import Any

import pytest

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
    if config.getoption("--rulebook"):
        from compliance.testing.plugin import collect_rulebooks

        collect_rulebooks(session, config, items)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if config.getoption("--rulebook"):
        from compliance.testing.plugin import summarise

        summarise(terminalreporter)
