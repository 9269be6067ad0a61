"""durable_rules, imported on demand: it builds and imports on CPython 3.11 and 3.12 only."""

from __future__ import annotations

from typing import Any

from compliance.errors import EngineUnavailableError

__all__ = ["durable_available", "import_durable"]

INSTALL_HINT = (
    "durable_rules does not import on this Python; use CPython 3.11 or 3.12, or install a "
    "durable_rules built from its main branch (the 3.13 fix is merged upstream, unreleased)"
)


def import_durable() -> Any:
    """The `durable.engine` module, or one clear `EngineUnavailableError`."""
    try:
        from durable import engine
    except Exception as e:  # ImportError, or a failing C extension on Python 3.13+
        raise EngineUnavailableError(f"{INSTALL_HINT} ({type(e).__name__}: {e})") from None
    return engine


def durable_available() -> bool:
    """Does durable_rules import here (so the stream engine can run correlation rules)."""
    try:
        import_durable()
    except EngineUnavailableError:
        return False
    return True
