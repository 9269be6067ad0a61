"""Hypothesis profiles: `ci` (quick, derandomised; the default) and `thorough`.

Pick one with HYPOTHESIS_PROFILE=thorough. A property that asks for more examples than a
profile's `max_examples` says so with `examples(ci=..., thorough=...)`: the fresh-clone CI
runs the first count, `thorough` the second.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(PROFILE)


def examples(ci: int, thorough: int) -> int:
    """A property's example count: `ci` under the `ci` profile, else `thorough`."""
    return ci if PROFILE == "ci" else thorough
