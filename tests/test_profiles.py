"""The hypothesis profile named by HYPOTHESIS_PROFILE is the one loaded, and a property's
`examples(ci=..., thorough=...)` count is the one it runs."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from profiles import PROFILE, examples


def test_the_profile_is_the_one_the_environment_names() -> None:
    assert os.environ.get("HYPOTHESIS_PROFILE", "ci") == PROFILE
    loaded = settings.default
    assert loaded is not None
    assert loaded.max_examples == {"ci": 30, "thorough": 500}[PROFILE]
    assert loaded.derandomize is (PROFILE == "ci")


def test_a_property_runs_the_count_its_profile_gives() -> None:
    runs: list[int] = []

    @settings(max_examples=examples(ci=7, thorough=11), database=None)
    @given(st.integers())
    def prop(n: int) -> None:
        runs.append(n)

    prop()
    assert len(runs) == (7 if PROFILE == "ci" else 11)
