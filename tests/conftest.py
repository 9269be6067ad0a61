"""The suite's fixtures; the hypothesis profiles are loaded from tests/profiles.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import profiles  # noqa: F401  (registers and loads the hypothesis profile)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def design_rulebook():  # type: ignore[no-untyped-def]
    import compliance

    return compliance.load_rulebook(DATA / "design-example.yaml")
