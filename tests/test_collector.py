"""`paused()` stops automatic collection inside, `rare()` makes it rare; both leave the
collector as it was."""

from __future__ import annotations

import gc

from compliance._collector import paused, rare


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


def test_what_is_made_inside_is_old_and_its_cycles_still_collected() -> None:
    """After the pause, what was made inside is in the oldest generation (a young
    collection does not walk it), and a cycle made inside is still collected."""
    import weakref

    class Node:
        pass

    gc.collect()
    with paused():
        kept = [[i] for i in range(1_000)]
        cycle = Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        alive = weakref.ref(cycle)
        del cycle
    young = gc.get_objects(generation=0)
    assert not any(x is kept[0] for x in young)
    assert any(x is kept[0] for x in gc.get_objects(generation=2))
    gc.collect(0)
    assert alive() is not None  # a young collection no longer sees it
    gc.collect()
    assert alive() is None


def test_rare_collects_every_100000_allocations_and_restores_the_threshold() -> None:
    import weakref

    class Node:
        pass

    before = gc.get_threshold()
    with rare():
        assert gc.get_threshold() == (100_000, *before[1:])
        cycle = Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert alive() is None  # cycles are still collected
    assert gc.get_threshold() == before
