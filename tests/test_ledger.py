from compliance.ledger import RawRecord, reconcile


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
