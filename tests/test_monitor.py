"""`Monitor`: after every feed, what it announced and did not withdraw is `evaluate()`."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import compliance
from compliance.api import available_engines
from compliance.engine.findings import sort_findings
from profiles import examples
from test_engines_agree import rows, rulebook_of, rulebook_texts

DATA = Path(__file__).parent / "data"
RULEBOOK = compliance.load_rulebook(DATA / "design-example.yaml")
OIL = {"hs_code": "2710", "destination": "KP", "unit": "bbl"}
AS_OF = date(2019, 1, 9)  # inside the random logs' dates: some reports due, some pending


def _identities(findings: list[compliance.Finding]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in findings]


class AnnouncementsAreTheTruth(RuleBasedStateMachine):
    """Random rulebooks; feeds with duplicates, conflicts, corrections in any order and
    late events. The invariant is the announcement contract of docs/monitoring.md."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[dict[str, str]] = []
        self.announced: list[compliance.Finding] = []

    @initialize(text=rulebook_texts())
    def load(self, text: str) -> None:
        self.rulebook = rulebook_of(text)
        self.monitor = compliance.Monitor(self.rulebook, as_of=AS_OF)

    def _feed(self, record: dict[str, str]) -> None:
        self.fed.append(record)
        changes = self.monitor.feed(record)
        # A finding that is still true is not withdrawn and raised again.
        assert not [f for f in changes if f in changes.withdrawn], "re-announced a finding"
        for finding in changes.withdrawn:
            assert finding in self.announced, "withdrew a finding never announced"
            self.announced.remove(finding)
        for finding in changes:
            assert finding not in self.announced, "announced a finding twice"
            self.announced.append(finding)

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
    def announced_equals_evaluate(self) -> None:
        if not hasattr(self, "monitor"):
            return
        expected = compliance.evaluate(list(self.fed), self.rulebook, engine="stream", as_of=AS_OF)
        note(f"fed {len(self.fed)} records")
        got = sort_findings(self.announced)
        assert _identities(got) == _identities(expected.findings)
        report = self.monitor.report()
        assert report.accounting == expected.accounting
        # The compact ledger keeps where each record was read: the same audit trail.
        assert report.rejected == expected.rejected
        assert report.superseded == expected.superseded


TestAnnouncementsAreTheTruth = AnnouncementsAreTheTruth.TestCase
TestAnnouncementsAreTheTruth.settings = settings(
    TestAnnouncementsAreTheTruth.settings, stateful_step_count=12
)


def test_a_breach_is_raised_once_then_updated_as_the_total_grows() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    assert list(monitor.feed({"id": "a", "date": "2019-01-01", "quantity": "300000", **OIL})) == []
    raised = monitor.feed({"id": "b", "date": "2019-02-01", "quantity": "250000", **OIL})
    assert sorted(f.kind for f in raised) == ["cap_exceeded", *["threshold_reached"] * 3]
    grown = monitor.feed({"id": "c", "date": "2019-03-01", "quantity": "1", **OIL})
    # Same breach, same trigger, a larger total: the old statement is withdrawn.
    assert [(f.kind, f.trigger) for f in grown] == [("cap_exceeded", "b")] + [
        ("threshold_reached", "b")
    ] * 3
    assert {str(f.measure.total) for f in grown if f.measure} == {"550001"}
    assert sorted(f.kind for f in grown.withdrawn) == sorted(f.kind for f in raised)


def test_a_record_that_adds_nothing_to_a_breach_announces_only_its_own_finding() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    monitor.feed({"id": "a", "date": "2019-01-01", "quantity": "600000", **OIL})
    # Kilograms of a product with no conversion factor: counted nowhere, so the breach and
    # its threshold notices are what they were.
    changes = monitor.feed({**OIL, "id": "b", "date": "2019-02-01", "quantity": "5",
                            "unit": "kg"})  # fmt: skip
    assert [f.kind for f in changes] == ["unconvertible"]
    assert list(changes.withdrawn) == []


ROLLING_30_DAYS = """\
document: {symbol: test}
rules:
  - id: rolling-refined
    title: Refined products to the DPRK in any 30 days
    kind: cap
    citation: test
    verified: false
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 1500, unit: bbl}]
    period: {days: 30}
    thresholds: [0.5]
"""


def test_a_rolling_cap_fed_backwards_labels_each_window_member_with_its_own_factor(
    tmp_path: Path,
) -> None:
    # Windows overlap and are built again after every record: the factor labels the
    # monitor remembers between them must be each member's (product and date), never a
    # neighbour's.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rolling.yaml").write_text(ROLLING_30_DAYS, encoding="utf-8")
    bundled = compliance.bundled_rulebook_path() / "conversions.yaml"
    (rules / "conversions.yaml").write_text(bundled.read_text(encoding="utf-8"))
    rulebook = compliance.load_rulebook(rules)
    products = ["diesel", "gasoline", "product_basket", "fuel_oil"]
    # Pairs two days apart, 40 days between pairs: each pair's members reach the
    # threshold and breach the limit in a window of their own.
    log = [
        {**OIL, "id": f"t{k:02d}", "date": str(date(2019, 1, 1) + timedelta(40 * (k // 2) + 2 * (k % 2))),
         "quantity": "100", "unit": "t", "product": products[k % len(products)]}
        for k in range(16)
    ]  # fmt: skip
    monitor = compliance.Monitor(rulebook)
    for record in reversed(log):
        monitor.feed(record)
    expected = compliance.evaluate(log, rulebook, engine="stream").findings
    assert _identities(sort_findings(monitor.findings())) == _identities(expected)
    labels = {p.factor for f in expected if f.series is not None for p in f.series}
    assert len(labels) == len(products)  # every product's factor appears in some window


def test_a_correction_that_removes_the_breach_withdraws_it() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    monitor.feed({"id": "a", "date": "2019-01-01", "quantity": "600000", **OIL})
    changes = monitor.feed(
        {"id": "a2", "date": "2019-01-01", "quantity": "6000", "supersedes": "a", **OIL}
    )
    assert {f.kind for f in changes.withdrawn} >= {"cap_exceeded"}
    assert (
        monitor.findings()
        == compliance.evaluate(
            [
                {"id": "a", "date": "2019-01-01", "quantity": "600000", **OIL},
                {"id": "a2", "date": "2019-01-01", "quantity": "6000", "supersedes": "a", **OIL},
            ],
            RULEBOOK,
        ).findings
    )


def test_a_conflict_withdraws_what_the_first_copy_raised() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    first = {"id": "a", "date": "2019-01-01", "quantity": "600000", **OIL}
    assert any(f.kind == "cap_exceeded" for f in monitor.feed(first))
    changes = monitor.feed({**first, "quantity": "1"})
    assert any(f.kind == "cap_exceeded" for f in changes.withdrawn)
    assert len(changes.rejected) == 2  # both copies
    again = monitor.feed(first)  # a third copy: still a conflict, nothing announced
    assert list(again) == [] and again.withdrawn == []
    assert monitor.findings() == []


def test_a_correction_chain_fed_in_reverse_announces_the_last_correction() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    chain = [
        {"id": "d", "date": "2019-01-01", "quantity": "600004", "supersedes": "c", **OIL},
        {"id": "c", "date": "2019-01-01", "quantity": "600003", "supersedes": "b", **OIL},
        {"id": "b", "date": "2019-01-01", "quantity": "600002", **OIL},
    ]
    for record in chain:
        monitor.feed(record)
    breach = [f for f in monitor.findings() if f.kind == "cap_exceeded"]
    assert [f.trigger for f in breach] == ["d"]


def test_an_invalid_record_is_returned_as_a_rejection() -> None:
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    changes = monitor.feed({"id": "x", "date": "2019-02-30"})
    assert list(changes) == [] and len(changes.rejected) == 1
    assert "date" in changes.rejected[0].reasons[0]


@pytest.mark.parametrize("bad", ["x", None, 42, [("id", "a")]])
def test_feed_says_what_it_takes(bad: Any) -> None:
    with pytest.raises(TypeError, match="takes one event: a mapping"):
        compliance.Monitor(RULEBOOK, as_of=AS_OF).feed(bad)


def test_four_threads_give_what_one_thread_gives() -> None:
    log = [
        {"id": f"e{i}", "date": f"{2010 + i % 13}-{1 + i % 12:02d}-{1 + i % 28:02d}",
         "quantity": str(1000 + 37 * i), "supplier": "CN" if i % 3 else "RU",
         "hs_code": "2710" if i % 4 else "2709", "destination": "KP" if i % 5 else "CN",
         "unit": "bbl" if i % 7 else "t", "product": "crude"}
        for i in range(2000)
    ]  # fmt: skip
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    announced: list[compliance.Finding] = []
    withdrawn: list[compliance.Finding] = []
    lock = threading.Lock()

    def work(part: list[dict[str, str]]) -> None:
        for record in part:
            changes = monitor.feed(record)
            with lock:
                announced.extend(changes)
                withdrawn.extend(changes.withdrawn)

    threads = [threading.Thread(target=work, args=(log[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = compliance.evaluate(log, RULEBOOK, engine="stream", as_of=AS_OF)
    assert monitor.report() == expected
    for f in withdrawn:
        announced.remove(f)
    assert sort_findings(announced) == expected.findings


def test_monitor_is_a_context_manager_that_releases_its_state() -> None:
    with compliance.Monitor(RULEBOOK, as_of=AS_OF) as monitor:
        monitor.feed({"id": "a", "date": "2019-01-01", "quantity": "600000", **OIL})
        assert monitor.findings()
    assert monitor.findings() == []


@given(st.lists(rows(), max_size=25), st.randoms(use_true_random=False))
def test_feed_order_never_changes_the_final_state(log: list[dict[str, str]], rnd: Any) -> None:
    shuffled = list(log)
    rnd.shuffle(shuffled)
    monitor = compliance.Monitor(RULEBOOK, as_of=AS_OF)
    for record in shuffled:
        monitor.feed(record)
    assert (
        monitor.findings()
        == compliance.evaluate(log, RULEBOOK, engine="stream", as_of=AS_OF).findings
    )


@given(
    st.lists(
        st.tuples(st.integers(0, 80), st.sampled_from(["300", "500", "800"])),
        min_size=2,
        max_size=14,
    ),
    st.randoms(use_true_random=False),
)
@settings(max_examples=examples(ci=40, thorough=300))
def test_a_dense_rolling_cap_fed_in_any_order_announces_what_evaluate_finds(
    dated: list[tuple[int, str]], rnd: Any
) -> None:
    # Windows that cross, fall back and cross again at the limit and the threshold: a
    # change moves findings of several levels and days, which the monitor keeps in date
    # order and replaces by the slice of the days the change can reach.
    rulebook = rulebook_of(ROLLING_30_DAYS)
    log = [
        {**OIL, "id": f"r{k:02d}", "date": str(date(2019, 1, 1) + timedelta(day)),
         "quantity": quantity}
        for k, (day, quantity) in enumerate(dated)
    ]  # fmt: skip
    rnd.shuffle(log)
    monitor = compliance.Monitor(rulebook)
    announced: list[compliance.Finding] = []
    for n, record in enumerate(log, 1):
        changes = monitor.feed(record)
        for finding in changes.withdrawn:
            announced.remove(finding)
        announced.extend(changes)
        expected = compliance.evaluate(log[:n], rulebook, engine="stream").findings
        assert _identities(sort_findings(announced)) == _identities(expected)


@pytest.mark.parametrize("name", ["dprk", "price-cap"])
def test_every_bundled_rule_test_case_fed_in_reverse_gives_what_evaluate_gives(
    name: str,
) -> None:
    # Every rule kind of the bundled rulebooks, incrementally: announcements and report.
    from compliance.rulebook.load import bundled_rulebook_path
    from compliance.ruletests import load_cases

    rulebook = compliance.load_rulebook(name)
    if "stream" not in available_engines(rulebook):
        pytest.skip("the rulebook's correlation rules need durable_rules, which does not import")
    for case in load_cases(bundled_rulebook_path(name)):
        monitor = compliance.Monitor(rulebook, as_of=AS_OF)
        announced: list[compliance.Finding] = []
        for event in reversed(case.events):
            changes = monitor.feed(event)
            for finding in changes.withdrawn:
                announced.remove(finding)
            announced.extend(changes)
        expected = compliance.evaluate(case.events, rulebook, engine="stream", as_of=AS_OF)
        assert monitor.report().to_json() == expected.to_json(), case.name
        assert sort_findings(announced) == expected.findings


def test_a_monitor_holds_little_of_the_events_that_reach_no_rule() -> None:
    import tracemalloc

    trade = [
        {"id": f"S{i}", "date": f"20{10 + i % 13}-{1 + i % 12:02d}-{1 + i % 28:02d}",
         "hs_code": "0901.11", "commodity": "coffee, not roasted", "quantity": f"{i}.25",
         "unit": "t", "value": f"{3 * i}.5", "currency": "USD", "origin": "BR",
         "destination": "DE", "supplier": "BR", "transfer": "port", "source": "customs"}
        for i in range(20_000)
    ]  # fmt: skip
    with compliance.Monitor(RULEBOOK, as_of=AS_OF) as monitor:
        monitor.feed(trade[0])
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for record in trade[1:]:
            monitor.feed(record)
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert monitor.report().accounting.evaluated == len(trade)
    # Beside its id's text: a slot in flat arrays holding where it was read and a digest
    # of its content (for duplicates, conflicts and corrections to come), about 120 bytes;
    # not the record and its shipment (once 3 KiB an event), nor a tuple of objects (240).
    assert grown / len(trade) < 170
