"""The bundled DPRK rulebook has every property (examples scale with the profile)."""

from __future__ import annotations

import pytest
from hypothesis import settings

import compliance
from compliance.testing import check_rulebook


def test_bundled_rulebook_has_every_property() -> None:
    path = compliance.bundled_rulebook_path()
    if not any(path.glob("*.yaml")):
        pytest.skip(f"the bundled DPRK rulebook ({path}) has no rule files yet")
    # 29 rules x 10 properties: a fifteenth of the profile's examples each (2 under `ci`,
    # 33 under `thorough`) keeps the default run to seconds.
    examples = max(2, (settings.default.max_examples if settings.default else 100) // 15)
    outcomes = check_rulebook(compliance.load_rulebook(), max_examples=examples)
    assert "failed" not in outcomes.values()
