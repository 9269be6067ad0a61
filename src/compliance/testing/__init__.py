"""Property-based testing of rulebooks and engines (the `test` extra: hypothesis).

    from compliance.testing import check_rulebook, properties, strategies

    rulebook = compliance.load_rulebook("my-rules/")
    check_rulebook(rulebook)                     # every property, every rule
    properties.boundary_exact(rulebook, max_examples=50)

`strategies` builds events, logs and rulebooks; `properties` checks a rulebook (and the
engine evaluating it), raising `AssertionError` with a minimal counterexample log.
"""

try:
    import hypothesis  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised without the extra installed
    raise ImportError("compliance.testing needs hypothesis: pip install compliance[test]") from e

from compliance.testing import properties, strategies
from compliance.testing.properties import PROPERTIES, PropertySkipped, check_rulebook

__all__ = ["PROPERTIES", "PropertySkipped", "check_rulebook", "properties", "strategies"]
