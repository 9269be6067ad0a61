"""The stream engine: Monitor, and order independence."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import compliance

DATA = Path(__file__).parent / "data"
RULEBOOK = compliance.load_rulebook(DATA / "design-example.yaml")

records = st.fixed_dictionaries(
    {
        "id": st.sampled_from("abcdefgh"),
        "date": st.sampled_from(
            ["2018-12-21", "2018-12-22", "2018-12-31", "2019-01-01", "2019-06-10", "not-a-date"]
        ),
        "hs_code": st.sampled_from(["2710", "271019", "2709", "8901"]),
        "destination": st.sampled_from(["KP", "CN"]),
        "quantity": st.sampled_from(["100000", "250000", "400000", "3000000", "-1"]),
        "unit": st.sampled_from(["bbl", "t", "kl"]),
        "source": st.sampled_from(["notification", "ais"]),
    },
    optional={
        "supersedes": st.sampled_from("abcdefgh"),
        "reported_on": st.sampled_from(["2019-01-15", "2019-03-01"]),
    },
)
logs = st.lists(records, max_size=12)


def as_dict(report: compliance.Report) -> dict[str, Any]:
    out = report.to_dict()
    # Where a record sat in the input is part of the report, not of its meaning.
    out["rejected"] = sorted((str(r.get("id")), len(r["reasons"])) for r in out["rejected"])
    out["superseded"] = sorted((s["id"], s["by"]) for s in out["superseded"])
    return out


@given(logs, st.randoms(use_true_random=False))
def test_shuffling_the_log_gives_the_identical_report(log: list[dict[str, Any]], rnd: Any) -> None:
    shuffled = list(log)
    rnd.shuffle(shuffled)
    assert as_dict(compliance.evaluate(log, RULEBOOK)) == as_dict(
        compliance.evaluate(shuffled, RULEBOOK)
    )


@given(logs)
def test_accounting_always_sums_to_read(log: list[dict[str, Any]]) -> None:
    a = compliance.evaluate(log, RULEBOOK).accounting
    assert a.read == len(log) == a.evaluated + a.duplicates + a.superseded + a.rejected


@given(logs)
def test_duplicating_every_record_changes_only_the_duplicate_count(
    log: list[dict[str, Any]],
) -> None:
    once = compliance.evaluate(log, RULEBOOK)
    twice = compliance.evaluate(log + log, RULEBOOK)
    assert twice.findings == once.findings
    assert twice.accounting.duplicates >= once.accounting.duplicates + once.accounting.evaluated


def test_two_engines_with_different_rulebooks_work_side_by_side(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        "rules:\n  - {id: cn, kind: prohibition, citation: c, match: {destination: CN}}\n"
    )
    first, second = (
        compliance.Monitor(RULEBOOK),
        compliance.Monitor(compliance.load_rulebook(other)),
    )
    event = {"id": "x", "date": "2019-01-01", "destination": "CN"}
    assert list(first.feed(event)) == []
    assert [f.rule for f in second.feed(event)] == ["cn"]


def test_a_thousand_monitors_leave_no_threads_behind() -> None:
    before = threading.active_count()
    for _ in range(1000):
        compliance.Monitor(RULEBOOK).close()
    assert threading.active_count() == before


def test_monitor_report_equals_evaluate_exactly_when_fed_in_order() -> None:
    log = [
        {
            "id": "a",
            "date": "2019-01-01",
            "hs_code": "2710",
            "destination": "KP",
            "quantity": "400000",
            "unit": "bbl",
        },
        {"id": "b", "date": "2019-02-30", "quantity": "1", "unit": "bbl"},
        {
            "id": "c",
            "date": "2019-03-01",
            "hs_code": "2710",
            "destination": "KP",
            "quantity": "200000",
            "unit": "bbl",
        },
    ]
    monitor = compliance.Monitor(RULEBOOK, as_of=date(2019, 3, 1))
    for event in log:
        monitor.feed(event)
    assert monitor.report() == compliance.evaluate(log, RULEBOOK, engine="stream")
    assert monitor.report().as_of == date(2019, 3, 1)  # the log's latest date
