"""`paused()` stops automatic collection inside and leaves the collector as it was."""

from __future__ import annotations

import gc

from compliance._collector import paused


def test_paused_restores_the_collector_and_nests() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner use leaves it as the outer found it
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()  # a caller's own pause stays
    finally:
        gc.enable()
