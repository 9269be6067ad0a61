"""The ledger: duplicates, conflicts, corrections, and its incremental interface."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.events import Shipment
from compliance.ledger import Ledger, RawRecord, reconcile, validate


def rec(line: int, **data: object) -> RawRecord:
    return RawRecord({"date": "2019-01-01", **data}, "log.csv", line=line)


def test_duplicates_are_counted_once() -> None:
    ledger = reconcile(
        [rec(2, id="a", quantity="1", unit="bbl"), rec(3, id="a", quantity="1.0", unit="BBL")]
    )
    assert [s.id for s in ledger.accepted] == ["a"]
    assert ledger.accounting.model_dump() == {
        "read": 2,
        "evaluated": 1,
        "duplicates": 1,
        "superseded": 0,
        "rejected": 0,
    }


def test_conflicting_ids_reject_every_copy() -> None:
    ledger = reconcile(
        [rec(2, id="a", quantity="1", unit="bbl"), rec(5, id="a", quantity="2", unit="bbl")]
    )
    assert ledger.accepted == []
    assert [r.line for r in ledger.rejected] == [2, 5]
    assert "log.csv:2, log.csv:5" in ledger.rejected[0].reasons[0]


def test_supersedes_replaces_and_chains() -> None:
    ledger = reconcile(
        [rec(2, id="a"), rec(3, id="b", supersedes="a"), rec(4, id="c", supersedes="b")]
    )
    assert [s.id for s in ledger.accepted] == ["c"]
    assert ledger.accounting.superseded == 2


def test_supersedes_unknown_id_is_rejected_with_reason() -> None:
    ledger = reconcile([rec(2, id="b", supersedes="zzz")])
    assert ledger.rejected[0].reasons == ["supersedes: no record with id 'zzz' in the log"]
    assert ledger.accounting.rejected == 1


def test_correcting_a_rejected_record_says_it_is_rejected_not_missing() -> None:
    ledger = reconcile(
        [
            rec(2, id="a"),
            rec(3, id="b", supersedes="a"),
            rec(4, id="b2", supersedes="a"),  # two corrections of a: both rejected
            rec(5, id="c", supersedes="b"),  # so c corrects a rejected record
        ]
    )
    reasons = {r.id: r.reasons for r in ledger.rejected}
    assert reasons["c"] == ["supersedes: the record with id 'b' that it corrects is rejected"]
    assert [s.id for s in ledger.accepted] == ["a"]


def test_two_corrections_of_one_record_are_rejected() -> None:
    ledger = reconcile(
        [rec(2, id="a"), rec(3, id="b", supersedes="a"), rec(4, id="c", supersedes="a")]
    )
    assert [s.id for s in ledger.accepted] == ["a"]
    assert {r.id for r in ledger.rejected} == {"b", "c"}


def test_correction_cycle_is_rejected() -> None:
    ledger = reconcile([rec(2, id="a", supersedes="b"), rec(3, id="b", supersedes="a")])
    assert ledger.accepted == [] and ledger.accounting.rejected == 2


def test_invalid_records_keep_source_line_and_every_reason() -> None:
    ledger = reconcile([rec(7, id="x", quantity="-1", unit="furlong")])
    (r,) = ledger.rejected
    assert (r.source, r.line, r.id) == ("log.csv", 7, "x")
    assert len(r.reasons) == 2


def test_a_long_chain_and_a_long_cycle_resolve() -> None:
    n = 5000
    chain = [rec(2, id="r0")] + [
        rec(i + 2, id=f"r{i}", supersedes=f"r{i - 1}") for i in range(1, n)
    ]
    ledger = reconcile(chain)
    assert [s.id for s in ledger.accepted] == [f"r{n - 1}"]
    assert ledger.accounting.superseded == n - 1
    cycle = [rec(i + 2, id=f"r{i}", supersedes=f"r{(i + 1) % n}") for i in range(n)]
    ledger = reconcile(cycle)
    assert ledger.accepted == [] and ledger.accounting.rejected == n
    assert {r.reasons[0] for r in ledger.rejected} == {"supersedes: corrections form a cycle"}


# The reference: the fixed point of the rules as first written (quadratic on chains), with
# the wording of a correction whose target is in the log but rejected.


def reference(records: list[RawRecord]) -> dict[str, Any]:
    rejected: list[tuple[RawRecord, list[str]]] = []
    by_id: dict[str, list[tuple[RawRecord, Shipment]]] = defaultdict(list)
    for record in records:
        result = validate(record)
        if isinstance(result, list):
            rejected.append((record, result))
        else:
            by_id[result.id].append((record, result))
    duplicates = 0
    kept: dict[str, tuple[RawRecord, Shipment]] = {}
    for ident, copies in by_id.items():
        if all(s == copies[0][1] for _, s in copies):
            kept[ident] = min(copies, key=lambda c: (c[0].source, c[0].line or 0))
            duplicates += len(copies) - 1
            continue
        places = ", ".join(sorted(r.where() for r, _ in copies))
        reason = f"id: {ident!r} appears with different content at {places}; use supersedes to correct a record"
        rejected.extend((r, [reason]) for r, _ in copies)
    while True:
        targets: dict[str, list[str]] = defaultdict(list)
        for ident, (_, s) in kept.items():
            if s.supersedes is not None:
                targets[s.supersedes].append(ident)
        bad: dict[str, str] = {}
        for target, cs in targets.items():
            if len(cs) > 1:
                for c in cs:
                    bad[c] = (
                        f"supersedes: {target!r} is corrected by several records "
                        f"({', '.join(sorted(cs))}); keep one correction"
                    )
            elif target == cs[0]:
                bad[cs[0]] = f"supersedes: the record names itself ({target!r})"
            elif target not in kept:
                bad[cs[0]] = (
                    f"supersedes: the record with id {target!r} that it corrects is rejected"
                    if target in by_id
                    else f"supersedes: no record with id {target!r} in the log"
                )
        if not bad:
            for ident in kept:
                seen = {ident}
                cursor = kept[ident][1].supersedes
                while cursor is not None and cursor in kept:
                    if cursor in seen:
                        bad[ident] = "supersedes: corrections form a cycle"
                        break
                    seen.add(cursor)
                    cursor = kept[cursor][1].supersedes
        if not bad:
            break
        for ident, reason in bad.items():
            rejected.append((kept.pop(ident)[0], [reason]))
    accepted = sorted(i for i in kept if i not in targets)
    return {
        "accepted": accepted,
        "read": len(records),
        "duplicates": duplicates,
        "superseded": len(targets),
        "rejected": sorted((r.line or 0, reasons) for r, reasons in rejected),
    }


def outcome(ledger: Ledger) -> dict[str, Any]:
    a = ledger.accounting
    assert a.read == a.evaluated + a.duplicates + a.superseded + a.rejected
    assert a.evaluated == len(ledger.accepted)
    return {
        "accepted": sorted(s.id for s in ledger.accepted),
        "read": a.read,
        "duplicates": a.duplicates,
        "superseded": a.superseded,
        "rejected": sorted((r.line or 0, r.reasons) for r in ledger.rejected),
    }


IDS = "abcdefg"


@st.composite
def record_lists(draw: st.DrawFn) -> list[RawRecord]:
    """Few ids, so that chains, cycles, conflicts, duplicates and rival corrections meet."""
    contents = st.fixed_dictionaries(
        {"id": st.sampled_from(IDS), "quantity": st.sampled_from(["1", "2", "-1"])},
        optional={"supersedes": st.sampled_from(IDS + "z")},
    )
    drawn = draw(st.lists(contents, max_size=14))
    for _ in range(draw(st.integers(0, 3))):  # exact copies
        if drawn:
            drawn.append(dict(draw(st.sampled_from(drawn))))
    return [rec(line + 2, unit="bbl", **data) for line, data in enumerate(drawn)]


@given(record_lists(), st.randoms(use_true_random=False))
def test_outcomes_are_the_rules_fixed_point_in_any_order(
    records: list[RawRecord], rnd: Any
) -> None:
    expected = reference(records)
    assert outcome(reconcile(records)) == expected
    rnd.shuffle(records)
    assert outcome(reconcile(records)) == expected


@given(record_lists(), st.lists(st.booleans(), min_size=20, max_size=20))
def test_changes_follow_accepted_as_records_arrive(
    records: list[RawRecord], asks: list[bool]
) -> None:
    ledger = Ledger()
    seen: dict[str, Shipment] = {}
    for n, record in enumerate(records):
        ledger.add(record)
        if asks[n % len(asks)] or n == len(records) - 1:
            change = ledger.changes()
            assert not {s.id for s in change.accepted} & set(seen)
            assert {s.id for s in change.withdrawn} <= set(seen)
            for s in change.withdrawn:
                assert seen.pop(s.id) == s
            seen.update((s.id, s) for s in change.accepted)
            assert sorted(seen) == sorted(s.id for s in ledger.accepted)
            assert outcome(ledger) == reference(records[: n + 1])
    assert ledger.changes().accepted == ledger.changes().withdrawn == []


def test_changes_report_a_correction_and_a_conflict() -> None:
    ledger = Ledger()
    ledger.add(rec(2, id="a"))
    ledger.add(rec(3, id="b"))
    assert [s.id for s in ledger.changes().accepted] == ["a", "b"]
    ledger.add(rec(4, id="c", supersedes="a"))
    change = ledger.changes()
    assert ([s.id for s in change.accepted], [s.id for s in change.withdrawn]) == (["c"], ["a"])
    ledger.add(rec(5, id="b", quantity="3", unit="bbl"))  # b conflicts now
    ledger.add(rec(6, id="c2", supersedes="a"))  # a has two corrections: a is back
    change = ledger.changes()
    assert ([s.id for s in change.accepted], [s.id for s in change.withdrawn]) == (
        ["a"],
        ["b", "c"],
    )


def test_counted_records_join_the_accounting_only() -> None:
    ledger = reconcile([rec(2, id="a")])
    ledger.add_counted(read=10, duplicates=3)
    assert ledger.accounting.model_dump() == {
        "read": 11,
        "evaluated": 8,
        "duplicates": 3,
        "superseded": 0,
        "rejected": 0,
    }
    assert [s.id for s in ledger.accepted] == ["a"]
    with pytest.raises(ValueError):
        ledger.add_counted(read=1, duplicates=2)


def test_prevalidated_records_are_not_validated_again() -> None:
    record = rec(2, id="a", quantity="-1", unit="bbl")  # invalid as written
    shipment = Shipment.model_validate({"id": "a", "date": "2019-01-01"})
    ledger = reconcile([(record, shipment)])
    assert ledger.accepted == [shipment]


# A compact ledger (a live monitor's): content digests instead of shipments, shipments held
# only where the caller keeps them. It must decide every record as the full ledger does.


@st.composite
def spelled_record_lists(draw: st.DrawFn) -> list[RawRecord]:
    """Like `record_lists`, with amounts spelled several ways (`1`, `1.0`, `1E+0`): equal
    amounts are duplicates, not conflicts, in a digest as in `==`."""
    contents = st.fixed_dictionaries(
        {
            "id": st.sampled_from(IDS),
            "quantity": st.sampled_from(["1", "1.0", "1E+0", "2", "0.10", "0.1", "-1"]),
        },
        optional={
            "supersedes": st.sampled_from(IDS + "z"),
            "note": st.sampled_from(["x", "y"]),  # an extra column
            "unit": st.sampled_from(["bbl", "BBL", "t"]),
        },
    )
    drawn = draw(st.lists(contents, max_size=14))
    for _ in range(draw(st.integers(0, 3))):
        if drawn:
            drawn.append(dict(draw(st.sampled_from(drawn))))
    out = []
    for n, data in enumerate(drawn):
        # Ids spelled with blanks around them (stored stripped, shown as written), and
        # records numbered by line or by index, from two sources: every place is kept.
        padded = draw(st.sampled_from(["{}", " {}", "{} "]))
        data = {"unit": "bbl", "date": "2019-01-01", **data, "id": padded.format(data["id"])}
        source = draw(st.sampled_from(["log.csv", "feed"]))
        by_index = draw(st.booleans())
        out.append(RawRecord(data, source, None if by_index else n + 2, n if by_index else None))
    return out


def _keep(s: Shipment) -> bool:
    return s.quantity is not None and s.quantity < 1  # a function of the content


@given(spelled_record_lists(), st.lists(st.booleans(), min_size=20, max_size=20))
def test_a_compact_ledger_decides_as_a_full_one(records: list[RawRecord], asks: list[bool]) -> None:
    full, compact = Ledger(), Ledger(compact=True)
    held: dict[str, Shipment] = {}
    for n, record in enumerate(records):
        full.add(record)
        shipment = validate(record)
        if isinstance(shipment, Shipment):
            compact.add(record, shipment, keep=_keep(shipment))
        else:
            compact.add(record)
        if asks[n % len(asks)] or n == len(records) - 1:
            change = compact.changes()
            assert all(_keep(s) for s in [*change.accepted, *change.withdrawn])
            for s in change.withdrawn:
                assert held.pop(s.id) == s
            held.update((s.id, s) for s in change.accepted)
        assert compact.accounting == full.accounting
        assert compact.rejected == full.rejected
        assert compact.superseded == full.superseded
        assert compact.accepted == [s for s in full.accepted if _keep(s)]
    assert sorted(held) == sorted(s.id for s in compact.accepted)


def test_only_a_compact_ledger_leaves_shipments_out() -> None:
    with pytest.raises(ValueError, match="compact"):
        Ledger().add(rec(2, id="a"), keep=False)


def _bytes_added(ledger: Ledger, records: list[RawRecord]) -> float:
    """Memory the compact ledger takes per record added (records validated first)."""
    import tracemalloc

    shipments = [validate(r) for r in records]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for record, shipment in zip(records, shipments, strict=True):
        assert isinstance(shipment, Shipment)
        ledger.add(record, shipment, keep=False)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / len(records)


def test_a_compact_ledger_holds_no_record_data() -> None:
    ledger = Ledger(compact=True)
    records = [
        rec(n, id=f"S{n}", commodity="x" * 200, quantity=f"{n}.5", unit="t", note="y" * 200)
        for n in range(5000)
    ]
    grown = _bytes_added(ledger, records)
    # Where each record was read and a 16-byte digest (its data and shipment stay with the
    # caller): a few hundred bytes per record, not the kilobytes of the record.
    assert grown < 400
    assert ledger.accounting.evaluated == 5000 and ledger.accepted == []


def test_a_compact_ledger_entry_is_a_slot_in_flat_arrays() -> None:
    ledger = Ledger(compact=True)
    records = [
        RawRecord({"id": f"S{n:07d}", "date": "2019-01-01"}, "feed", index=n) for n in range(20_000)
    ]
    grown = _bytes_added(ledger, records)
    # Beside the id's text (the caller's): a dict entry and an int for its slot, 16 bytes
    # of digest and 20 of source, line and index; a tuple per record was 220 bytes.
    assert grown < 130
    # The place of a plain id comes back exact when another copy makes it a conflict.
    ledger.add(RawRecord({"id": "S0000007", "date": "2019-01-02"}, "other", line=3))
    assert [(r.source, r.line, r.index, r.id) for r in ledger.rejected] == [
        ("feed", None, 7, "S0000007"),
        ("other", 3, None, "S0000007"),
    ]


def test_a_record_made_at_a_place_is_the_record_the_constructor_makes() -> None:
    made = RawRecord.at({"id": "a", "date": "2019-01-01"}, "feed", None, 7)
    assert made == RawRecord({"id": "a", "date": "2019-01-01"}, "feed", index=7)
    assert made.place() == ("feed", None, 7, "a") and made.problems == ()
    with pytest.raises(AttributeError):
        made.line = 3  # type: ignore[misc]


def test_a_released_id_stays_a_duplicate_and_keeps_its_place_but_is_never_held_again() -> None:
    ledger = Ledger(compact=True)
    first = rec(5, id="a", quantity="1", unit="bbl")
    assert ledger.add(first) is True
    assert ledger.held == 1 and ledger.reconciled_with(_shipment(first)) == [
        ("a", _shipment(first), False)
    ]
    ledger.changes()
    ledger.release("a")
    assert ledger.held == 0 and ledger.accepted == []
    assert ledger.reconciled_with(_shipment(first)) == [("a", None, True)]
    copy = rec(2, id="a", quantity="1.0", unit="bbl")  # the same content, read earlier in the log
    assert ledger.is_copy(_shipment(copy)) and not ledger.is_copy(_shipment(rec(2, id="a")))
    ledger.add(copy)
    assert ledger.held == 0 and ledger.accounting.duplicates == 1
    assert ledger.reconciled_with(_shipment(copy)) == [("a", None, True)]
    # The place kept (the earliest copy's) and the source number survive the mark.
    fix = rec(9, id="b", supersedes="a", quantity="2", unit="bbl")
    ledger.add(fix)
    assert [(s.id, s.source, s.line) for s in ledger.superseded] == [("a", "log.csv", 2)]
    assert ledger.changes().withdrawn == []  # nothing held to withdraw: the caller refuses
    refused = ledger.refuse(rec(11, id="c"), ["date: behind the horizon"])
    assert refused.reasons == ["date: behind the horizon"] and ledger.accounting.rejected == 1
    assert ledger.known("a") and ledger.known("b") and not ledger.known("c")
    with pytest.raises(ValueError, match="compact"):
        Ledger().release("a")


def _shipment(record: RawRecord) -> Shipment:
    result = validate(record)
    assert isinstance(result, Shipment)
    return result
