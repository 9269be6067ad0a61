"""Property-based testing of rulebooks and engines (the `test` extra: hypothesis).

    from compliance.testing import check_rulebook, properties, strategies

    rulebook = compliance.load_rulebook("my-rules/")
    check_rulebook(rulebook)                     # every property, every rule
    properties.boundary_exact(rulebook, max_examples=50)

`strategies` builds events, logs and rulebooks; `properties` checks a rulebook (and the
engine evaluating it), raising `AssertionError` with a minimal counterexample log.

The names load on first use, so importing the package stays cheap and does not fail
where hypothesis is not installed. (The pytest plugin pytest loads in every run is the
top-level `_compliance_pytestplugin`, which imports `compliance.testing.plugin` only
when `--rulebook` is given.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compliance.testing import properties, strategies
    from compliance.testing.properties import (
        PROPERTIES,
        Checked,
        PropertySkipped,
        check_rulebook,
    )

__all__ = [
    "PROPERTIES",
    "Checked",
    "PropertySkipped",
    "check_rulebook",
    "properties",
    "strategies",
]

_FROM_PROPERTIES = frozenset({"PROPERTIES", "Checked", "PropertySkipped", "check_rulebook"})


def require_hypothesis() -> None:
    """Raise the ImportError that tells how to install the test extra."""
    try:
        importlib.import_module("hypothesis")
    except ImportError as e:
        raise ImportError(
            "compliance.testing needs hypothesis: pip install compliance[test]"
        ) from e


def __getattr__(name: str) -> Any:
    if name in ("properties", "strategies"):
        require_hypothesis()
        return importlib.import_module(f"compliance.testing.{name}")
    if name in _FROM_PROPERTIES:
        require_hypothesis()
        return getattr(importlib.import_module("compliance.testing.properties"), name)
    raise AttributeError(f"module 'compliance.testing' has no attribute {name!r}")
