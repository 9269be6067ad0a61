"""`Monitor(lateness=…)`: a horizon behind which records are refused and what no change
can need is let go; what it announces is `evaluate()` of the records it did not refuse."""

from __future__ import annotations

import re
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import compliance
from compliance.engine.findings import sort_findings
from test_correlation import GIVER, OTHER, START, call, late_feeds, needs_durable, sorted_dicts, sts
from test_correlation import rulebook as correlation_rulebook
from test_engines_agree import rows, rulebook_of, rulebook_texts

AS_OF = date(2019, 1, 9)
HORIZON = "behind the monitor's horizon"
ROLLING = """\
rules:
  - id: rolling
    title: Refined products to the DPRK in any 30 days
    kind: cap
    citation: test
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 1000, unit: bbl}]
    period: {days: 30}
    thresholds: [0.5]
  - id: yearly
    title: Refined products to the DPRK in a year
    kind: cap
    citation: test
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 50000, unit: bbl}]
    period: {calendar: year}
  - id: report-in-time
    title: Reported within 3 days
    kind: deadline
    citation: test
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    within: {days: 3}
"""


RULEBOOK = rulebook_of(ROLLING)


def _oil(ident: str, day: date, quantity: str = "100", **more: str) -> dict[str, str]:
    return {"id": ident, "date": day.isoformat(), "hs_code": "2710", "destination": "KP",
            "quantity": quantity, "unit": "bbl", "reported_on": day.isoformat(), **more}  # fmt: skip


def _identities(findings: list[compliance.Finding]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in findings]


def _refused(rejection: compliance.Rejection) -> bool:
    return any(HORIZON in r for r in rejection.reasons)


class LateRecordsAreRefusedNeverLost(RuleBasedStateMachine):
    """The state machine of tests/test_monitor.py with a lateness: after every feed,
    the announcements are `evaluate()` of the records fed less those refused as behind
    the horizon, and so are the report's accounting, rejections and superseded records
    (each refusal one more record read and rejected)."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[dict[str, str]] = []
        self.refused: set[int] = set()
        self.announced: list[compliance.Finding] = []

    @initialize(text=rulebook_texts(), lateness=st.sampled_from([0, 1, 30, 90, 200]))
    def load(self, text: str, lateness: int) -> None:
        self.rulebook = rulebook_of(text)
        self.monitor = compliance.Monitor(self.rulebook, as_of=AS_OF, lateness=lateness)

    def _feed(self, record: dict[str, str]) -> None:
        index = len(self.fed)
        self.fed.append(record)
        changes = self.monitor.feed(record)
        for finding in changes.withdrawn:
            assert finding in self.announced, "withdrew a finding never announced"
            self.announced.remove(finding)
        for finding in changes:
            assert finding not in self.announced, "announced a finding twice"
            self.announced.append(finding)
        refusals = [r for r in changes.rejected if _refused(r)]
        assert len(refusals) <= 1 and all(r.index == index for r in refusals)
        if refusals:
            self.refused.add(index)
            assert list(changes) == [] and changes.withdrawn == []

    @rule(record=rows())
    def feed_a_record(self, record: dict[str, str]) -> None:
        self._feed(record)

    @rule(data=st.data())
    def resend_a_record(self, data: st.DataObject) -> None:
        if self.fed:
            self._feed(dict(data.draw(st.sampled_from(self.fed))))

    @rule(data=st.data(), quantity=st.sampled_from(["1", "250000", "600000"]))
    def correct_a_record(self, data: st.DataObject, quantity: str) -> None:
        if self.fed:
            target = data.draw(st.sampled_from(self.fed))
            fixed = {**target, "id": f"fix-{len(self.fed)}", "supersedes": target.get("id", "")}
            fixed["quantity"], fixed["unit"] = quantity, "bbl"
            self._feed(fixed)

    @rule(data=st.data())
    def conflict_with_a_record(self, data: st.DataObject) -> None:
        if self.fed:
            target = data.draw(st.sampled_from(self.fed))
            self._feed({**target, "quantity": "7", "unit": "t"})

    @invariant()
    def announced_equals_evaluate_of_what_was_not_refused(self) -> None:
        if not hasattr(self, "monitor"):
            return
        taken = [r for i, r in enumerate(self.fed) if i not in self.refused]
        expected = compliance.evaluate(taken, self.rulebook, engine="stream", as_of=AS_OF)
        note(f"fed {len(self.fed)} records, refused {sorted(self.refused)}")
        assert _identities(sort_findings(self.announced)) == _identities(expected.findings)
        report = self.monitor.report()
        assert report.findings == expected.findings
        k = len(self.refused)
        assert report.accounting == expected.accounting.model_copy(
            update={"read": expected.accounting.read + k,
                    "rejected": expected.accounting.rejected + k}
        )  # fmt: skip
        # The refused records are not in the list evaluated: a record's place there is its
        # place among those taken.
        moved = {
            i: j for j, i in enumerate(i for i in range(len(self.fed)) if i not in self.refused)
        }

        def placed(r: compliance.Rejection) -> compliance.Rejection:
            assert r.index is not None
            reasons = [
                re.sub(r"<records>\[(\d+)\]", lambda m: f"<records>[{moved[int(m[1])]}]", text)
                for text in r.reasons
            ]
            # A conflict lists its copies' places in text order.
            reasons = [
                re.sub(r"(?<= at )(.*)(?=; use)", lambda m: ", ".join(sorted(m[1].split(", "))), t)
                for t in reasons
            ]
            return r.model_copy(update={"index": moved[r.index], "reasons": reasons})

        assert [placed(r) for r in report.rejected if not _refused(r)] == expected.rejected
        assert {r.index for r in report.rejected if _refused(r)} == self.refused
        assert [
            s.model_copy(update={"index": moved[s.index]})
            for s in report.superseded
            if s.index is not None
        ] == expected.superseded


TestLateRecordsAreRefusedNeverLost = LateRecordsAreRefusedNeverLost.TestCase
TestLateRecordsAreRefusedNeverLost.settings = settings(
    TestLateRecordsAreRefusedNeverLost.settings, stateful_step_count=15
)


def test_a_late_record_within_the_lateness_gives_what_evaluate_gives() -> None:
    # A rolling crossing that needs a member 29 days older than the late record, with the
    # latest record 30 days later still: nothing a window at or after the horizon needs
    # was let go.
    start = date(2020, 1, 1)
    log = [_oil(f"d{n}", start + timedelta(days=n), "5") for n in range(0, 120)]
    log.insert(61, _oil("old", start + timedelta(days=60), "450"))  # fed on its day
    late = _oil("late", start + timedelta(days=119 - 30), "480")  # at the horizon exactly
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF, lateness=30)
    announced: list[compliance.Finding] = []
    for record in log:
        announced.extend(monitor.feed(record))
    assert monitor.horizon == start + timedelta(days=119 - 30)
    changes = monitor.feed(late)
    assert changes.rejected == []
    # 30 * 5 + 450 + 480 = 1,080 bbl in the 30 days to the late record: over 1,000 only
    # with the member 29 days older than it.
    (breach,) = [f for f in changes if f.rule == "rolling" and f.kind == "cap_exceeded"]
    assert breach.trigger == "late" and "old" in breach.events
    expected = compliance.evaluate([*log, late], RULEBOOK, engine="stream", as_of=AS_OF)
    assert monitor.findings() == expected.findings
    # One day older than the horizon: refused, with why, and accounted for.
    older = _oil("older", start + timedelta(days=119 - 31), "480")
    refused = monitor.feed(older)
    assert list(refused) == [] and len(refused.rejected) == 1
    (reason,) = refused.rejected[0].reasons
    assert reason == (
        "date: 2020-03-29 is behind the monitor's horizon 2020-03-30 (latest date fed "
        "2020-04-29 less lateness 30 days); evaluate it in a batch run"
    )
    report = monitor.report()
    assert report.findings == expected.findings
    assert report.accounting.read == len(log) + 2
    assert report.accounting.rejected == expected.accounting.rejected + 1


def test_a_copy_behind_the_horizon_is_still_a_duplicate() -> None:
    start = date(2019, 6, 1)  # 250 days: 2019's year is over before the horizon
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF, lateness=10)
    log = [_oil(f"d{n}", start + timedelta(days=n)) for n in range(250)]
    for record in log:
        monitor.feed(record)
    assert monitor.horizon == date(2020, 1, 26)
    # 2020's (its year is open) and the 30-day window's before the horizon (from 12-27).
    assert monitor.holding()["shipments"] == 36 + 5
    again = monitor.feed(dict(log[0]))
    assert again.rejected == [] and list(again) == []
    assert monitor.report().accounting.duplicates == 1
    today = (start + timedelta(days=249)).isoformat()
    # Another content under that id: refused (it would reject a record let go).
    changed = monitor.feed({**log[0], "date": today})
    (reason,) = changed.rejected[0].reasons
    assert reason == (
        "id: 'd0' is a record behind the monitor's horizon 2020-01-26 (let go; latest date "
        "fed 2020-02-05 less lateness 10 days): a copy with other content would reject it; "
        "evaluate it in a batch run"
    )
    # A correction of it, dated today: refused too, naming the record.
    fixed = monitor.feed({**log[-1], "id": "fix", "supersedes": "d0"})
    (reason,) = fixed.rejected[0].reasons
    assert reason.startswith(
        "supersedes: the record with id 'd0' that it corrects is behind the monitor's "
        "horizon 2020-01-26 (let go;"
    )
    # Dated before the horizon but still held (its year is open): refused, with its date.
    held = monitor.feed({**log[-1], "id": "fix2", "supersedes": "d235"})
    (reason,) = held.rejected[0].reasons
    assert (
        "'d235' that it corrects is behind the monitor's horizon 2020-01-26 (dated 2020-01-22;"
        in (reason)
    )
    # A correction of a record within the horizon is taken as always.
    ok = monitor.feed({**log[-1], "id": "fix3", "quantity": "5", "supersedes": "d245"})
    assert ok.rejected == []
    report = monitor.report()
    assert report.accounting.superseded == 1 and report.accounting.rejected == 3
    taken = [*log, log[0], {**log[-1], "id": "fix3", "quantity": "5", "supersedes": "d245"}]
    assert report.findings == compliance.evaluate(taken, RULEBOOK, as_of=AS_OF).findings


def test_what_a_monitor_holds_stops_growing_on_a_feed_in_date_order() -> None:
    # Three records a day that some rule reaches (a rolling cap, a yearly cap, a
    # deadline), one that none does: after 1,200 days (three years closed) the monitor
    # holds no more shipments or members than after 200 (the year's members, the
    # window's).
    start, days, reached = date(2000, 1, 1), 1200, 3
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF, lateness=7)
    held: dict[int, dict[str, int]] = {}
    for day in range(days):
        today = start + timedelta(days=day)
        for n in range(reached):
            monitor.feed(_oil(f"k{day}-{n}", today, _amount(day, n)))
        monitor.feed({"id": f"t{day}", "date": today.isoformat(), "hs_code": "0901",
                      "destination": "DE", "quantity": "1", "unit": "t"})  # fmt: skip
        if day + 1 in (200, days):
            held[day + 1] = monitor.holding()
    # Held: at most a year and a week of the yearly cap's members, whose year is open.
    assert held[days]["shipments"] <= held[200]["shipments"] + reached * 200
    assert held[days]["shipments"] <= reached * (366 + 8)
    assert held[days]["members"] <= 3 * reached * (366 + 8)
    assert held[days]["ids"] == (reached + 1) * days
    # Nothing was late: every finding made is still reported, as evaluate() gives it.
    log = [_oil(f"k{day}-{n}", start + timedelta(days=day), _amount(day, n))
           for day in range(days) for n in range(reached)]  # fmt: skip
    expected = compliance.evaluate(log, RULEBOOK, as_of=AS_OF).findings
    assert len([f for f in expected if f.kind == "cap_exceeded"]) == days // 300
    assert monitor.findings() == expected


def _amount(day: int, n: int) -> str:
    """5 bbl, but one record of 1,000 every 300 days: a rolling breach (1,000 bbl in 30
    days), then 30 days over the threshold; otherwise no period is over a level, which
    keeps the feed cheap."""
    return "1000" if n == 0 and day % 300 == 150 else "5"


def test_lateness_none_keeps_everything_and_refuses_nothing() -> None:
    start = date(2020, 1, 1)
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    for n in range(100):
        monitor.feed(_oil(f"d{n}", start + timedelta(days=n)))
    late = monitor.feed(_oil("late", start - timedelta(days=3000)))
    assert late.rejected == [] and monitor.horizon is None
    assert monitor.holding()["shipments"] == 101


@pytest.mark.parametrize(
    ("lateness", "error"),
    [(-1, ValueError), (timedelta(hours=5), ValueError), ("30", TypeError), (True, TypeError),
     (1.5, TypeError)],
)  # fmt: skip
def test_lateness_is_whole_days(lateness: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="lateness"):
        compliance.Monitor(RULEBOOK, as_of=AS_OF, lateness=lateness)


@needs_durable
def test_a_late_transfer_within_the_lateness_still_infers_its_delivery(tmp_path: Path) -> None:
    rb = correlation_rulebook(tmp_path, 7)
    log = []
    with compliance.Monitor(rb, as_of=AS_OF, lateness=20) as monitor:
        for n in range(100):  # a transfer and a call every day, in date order
            day = (START + timedelta(days=n)).isoformat()
            log += [sts(f"t{n}", day, receiver=OTHER), call(f"c{n}", day, vessel=GIVER)]
            monitor.feed(log[-2])
            monitor.feed(log[-1])
        held = monitor.holding()
        assert held["steps"] <= 2 * (20 + 7 + 1) and held["shipments"] <= 2 * (366 + 28)
        # A transfer reported 20 days late, to a vessel that called 3 days after it.
        late = sts("late", (START + timedelta(days=99 - 20)).isoformat(), receiver=GIVER)
        changes = monitor.feed(late)
        assert [f.events for f in changes if f.kind == "inferred"] == [["late", "c79"]]
        expected = compliance.evaluate([*log, late], rb, engine="columnar", as_of=AS_OF)
        assert monitor.findings() == expected.findings
        too_late = monitor.feed(sts("later", (START + timedelta(days=2)).isoformat()))
        assert len(too_late.rejected) == 1 and HORIZON in too_late.rejected[0].reasons[0]


@needs_durable
@given(st.sampled_from([0, 7, 30]), st.sampled_from([0, 5, 40]), late_feeds())
def test_correlations_with_a_lateness_give_evaluate_of_what_was_not_refused(
    window: int, lateness: int, feed: list[dict[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rb = correlation_rulebook(Path(tmp), window)
    with compliance.Monitor(rb, as_of=AS_OF, lateness=lateness) as monitor:
        announced: list[compliance.Finding] = []
        taken: list[dict[str, str]] = []
        for record in feed:
            changes = monitor.feed(record)
            if any(_refused(r) for r in changes.rejected):
                continue
            taken.append(record)
            for finding in changes.withdrawn:
                announced.remove(finding)
            announced += changes
            expected = compliance.evaluate(taken, rb, engine="columnar", as_of=AS_OF)
            assert sorted_dicts(announced) == sorted_dicts(expected.findings)


def test_a_record_dated_after_today_moves_the_horizon_no_further_than_today() -> None:
    # A typo in a year must not make every later record too late.
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF, lateness=30)
    before = date.today()
    assert monitor.feed(_oil("typo", date(2999, 1, 1), "5")).rejected == []
    after = date.today()
    assert monitor.horizon in {before - timedelta(days=30), after - timedelta(days=30)}
    taken = monitor.feed(_oil("recent", before - timedelta(days=29), "5"))
    assert taken.rejected == []
    (refused,) = monitor.feed(_oil("old", before - timedelta(days=60), "5")).rejected
    (reason,) = refused.reasons
    assert HORIZON in reason and "less lateness 30 days: a later date fed counts as today" in reason
