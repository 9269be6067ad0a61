"""Hypothesis profiles: `ci` (quick, derandomised; the default) and `thorough`.

Pick one with HYPOTHESIS_PROFILE=thorough.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def design_rulebook():  # type: ignore[no-untyped-def]
    import compliance

    return compliance.load_rulebook(DATA / "design-example.yaml")
