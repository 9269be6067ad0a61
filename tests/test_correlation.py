"""Correlation rules: inferred events from chains of steps (docs/correlation.md).

Both engines (durable_rules facts on the stream engine, Polars joins on the columnar
one) against the same rules, orders and file splits; the rule file's errors; `Monitor`
with late evidence and corrections; the refusal without durable_rules.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.engine._durable import durable_available

AS_OF = date(2030, 1, 1)  # a live monitor's evaluation date, given to evaluate too

needs_durable = pytest.mark.skipif(
    not durable_available(), reason="durable_rules does not import on this Python"
)

RULES = """
document: {symbol: TEST}
rules:
  - id: cap
    kind: cap
    citation: test cap
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 1000, unit: bbl}]
    period: {calendar: year}
  - id: delivery
    kind: correlation
    citation: test correlation
    steps:
      - id: sts
        match: {transfer: ship_to_ship, hs_code: {prefix: ["2710"]}}
      - id: call
        match: {transfer: port, destination: KP}
        join: {vessel_imo: sts.counterparty_imo}
        within: {days: WINDOW, after: sts}
    infer:
      from: {hs_code: sts.hs_code, quantity: sts.quantity, unit: sts.unit, date: call.date}
      set: {destination: KP}
"""
GIVER, RECEIVER, OTHER = "9354521", "9123453", "9191773"


def rulebook(tmp: Path, window: int = 30, text: str = RULES) -> compliance.Rulebook:
    path = tmp / "rules.yaml"
    path.write_text(text.replace("WINDOW", str(window)))
    return compliance.load_rulebook(path)


def sts(ident: str, day: str, quantity: str = "600", receiver: str = RECEIVER) -> dict[str, str]:
    return {"id": ident, "date": day, "transfer": "ship_to_ship", "hs_code": "271019",
            "quantity": quantity, "unit": "bbl", "vessel_imo": GIVER,
            "counterparty_imo": receiver}  # fmt: skip


def call(ident: str, day: str, vessel: str = RECEIVER, country: str = "KP") -> dict[str, str]:
    return {"id": ident, "date": day, "transfer": "port", "vessel_imo": vessel,
            "destination": country, "source": "ais"}  # fmt: skip


def engines() -> list[Any]:
    return [pytest.param("stream", marks=needs_durable), "columnar"]


def inferred(report: compliance.Report) -> list[str]:
    return [f.trigger for f in report.findings if f.kind == "inferred"]


@pytest.mark.parametrize("engine", engines())
def test_one_transfer_then_several_calls_is_one_delivery_from_the_first(
    tmp_path: Path, engine: str
) -> None:
    log = [call("c2", "2019-01-25"), sts("t1", "2019-01-03"), call("c1", "2019-01-20")]
    report = compliance.evaluate(log, rulebook(tmp_path), engine=engine)  # type: ignore[arg-type]
    assert inferred(report) == ["inferred:delivery:t1:c1"]
    (finding,) = [f for f in report.findings if f.kind == "inferred"]
    assert finding.events == ["t1", "c1"]
    assert [(c.step, c.event, c.days_after) for c in finding.chain or []] == [
        ("sts", "t1", None),
        ("call", "c1", 17),
    ]


@pytest.mark.parametrize("engine", engines())
def test_several_transfers_before_one_call_are_one_delivery_each_counted_by_the_cap(
    tmp_path: Path, engine: str
) -> None:
    log = [sts("t1", "2019-01-03"), sts("t2", "2019-01-10", "500"), call("c1", "2019-01-20")]
    report = compliance.evaluate(log, rulebook(tmp_path), engine=engine)  # type: ignore[arg-type]
    assert inferred(report) == ["inferred:delivery:t1:c1", "inferred:delivery:t2:c1"]
    (cap,) = [f for f in report.findings if f.kind == "cap_exceeded"]
    assert cap.trigger == "inferred:delivery:t2:c1"
    assert cap.inferred == cap.events == ["inferred:delivery:t1:c1", "inferred:delivery:t2:c1"]
    assert cap.measure is not None and cap.measure.total == 1100
    # Inferred events are not records: the accounting counts what was read.
    assert report.accounting.read == report.accounting.evaluated == 3


@pytest.mark.parametrize("engine", engines())
def test_outside_the_window_elsewhere_or_before_infers_nothing(tmp_path: Path, engine: str) -> None:
    log = [
        sts("t1", "2019-01-03"),
        call("late", "2019-02-03"),  # 31 days after
        call("before", "2019-01-02"),
        call("elsewhere", "2019-01-10", country="CN"),
        call("other", "2019-01-10", vessel=OTHER),
    ]
    report = compliance.evaluate(log, rulebook(tmp_path), engine=engine)  # type: ignore[arg-type]
    assert inferred(report) == []
    on_the_last_day = [sts("t1", "2019-01-03"), call("c", "2019-02-02")]
    report = compliance.evaluate(on_the_last_day, rulebook(tmp_path), engine=engine)  # type: ignore[arg-type]
    assert inferred(report) == ["inferred:delivery:t1:c"]


@pytest.mark.parametrize("engine", engines())
def test_two_fields_of_the_last_step_may_join_one_earlier_field(
    tmp_path: Path, engine: str
) -> None:
    """A call whose vessel and counterparty are both the transfer's receiver: the last
    step's two join keys read one field of the first step."""
    text, log = two_keys_on_one_field()
    report = compliance.evaluate(log, rulebook(tmp_path, 30, text), engine=engine)  # type: ignore[arg-type]
    assert inferred(report) == ["inferred:delivery:t1:c3"]


def two_keys_on_one_field() -> tuple[str, list[dict[str, str]]]:
    """A rule whose last step joins two of its fields to one field of the first, and a
    log where one call of four has both (c3, the first of c3 and c4)."""
    text = RULES.replace(
        "join: {vessel_imo: sts.counterparty_imo}",
        "join: {vessel_imo: sts.counterparty_imo, counterparty_imo: sts.counterparty_imo}",
    )
    log = [
        sts("t1", "2019-01-03"),
        call("c1", "2019-01-04"),  # no counterparty: the second key joins nothing
        {**call("c2", "2019-01-05"), "counterparty_imo": OTHER},
        {**call("c3", "2019-01-06"), "counterparty_imo": RECEIVER},
        {**call("c4", "2019-01-07"), "counterparty_imo": RECEIVER},
    ]
    return text, log


def test_ids_are_escaped_so_that_chains_never_share_an_id(tmp_path: Path) -> None:
    log = [sts("a:b", "2019-01-03"), call("c", "2019-01-04")]
    report = compliance.evaluate(log, rulebook(tmp_path), engine="columnar")
    assert inferred(report) == ["inferred:delivery:a%3Ab:c"]


BAD = """
document: {symbol: TEST}
rules:
  - id: bad
    kind: correlation
    citation: test
    steps:
      - id: sts
        match: {transfer: ship_to_ship}
      - id: call
        match: {transfer: port}
        join: {vessel_imo: stss.counterparty_imo, vesel_name: sts.vessel_nme}
      - id: third
        match: {transfer: port}
        within: {days: 3, after: cal}
    infer:
      from: {quantity: sts.quantity, id: sts.id}
      set: {destination: XX}
"""


def test_rule_file_errors_are_located_with_suggestions(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    with pytest.raises(compliance.RuleFileError) as caught:
        compliance.load_rulebook(tmp_path / "bad.yaml")
    text = str(caught.value)
    for expected in (
        "bad.yaml:12:28: rule bad: steps.1.join.vessel_imo: unknown step 'stss' (did you mean 'sts'?)",
        "steps.1.join.vesel_name: unknown field 'vesel_name' (did you mean 'vessel_name'?)",
        "unknown field 'vessel_nme' (did you mean 'vessel_name'?)",
        "steps.1: every step after the first needs within",
        "steps.2.within.after: unknown step 'cal' (did you mean 'call'?)",
        "infer.from.id: an inferred event's id is its own",
        "infer: quantity and unit come together",
        "infer.set.destination: destination: must be an ISO 3166-1 alpha-2 code (got 'XX')",
    ):
        assert expected in text
    assert len(text.splitlines()) == 8


def test_the_schema_describes_correlation_rules() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "compliance", "rules", "schema"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert '"CorrelationRule"' in out and '"CorrelationStep"' in out


# Monitor: late evidence and corrections -----------------------------------------------


@needs_durable
def test_monitor_infers_when_the_transfer_report_arrives_after_the_call(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    monitor = compliance.Monitor(rb, as_of=AS_OF)
    try:
        assert monitor.feed(call("c1", "2019-01-20")) == []
        fresh = monitor.feed(sts("t1", "2019-01-03", "1500"))
        assert sorted((f.kind, f.trigger) for f in fresh) == [
            ("cap_exceeded", "inferred:delivery:t1:c1"),
            ("inferred", "inferred:delivery:t1:c1"),
        ]
        # The call is corrected to a later date: the delivery now rests on the correction.
        corrected = {**call("c1b", "2019-01-22"), "supersedes": "c1"}
        fresh = monitor.feed(corrected)
        assert inferred_of(fresh) == ["inferred:delivery:t1:c1b"]
        assert inferred_of(fresh.withdrawn) == ["inferred:delivery:t1:c1"]
        log = [call("c1", "2019-01-20"), sts("t1", "2019-01-03", "1500"), corrected]
        assert monitor.report() == compliance.evaluate(log, rb, engine="stream", as_of=AS_OF)
        assert inferred(monitor.report()) == ["inferred:delivery:t1:c1b"]
        # Corrected to another country: nothing is inferred any more.
        monitor.feed({**call("c1c", "2019-01-22", country="CN"), "supersedes": "c1b"})
        assert inferred(monitor.report()) == []
        assert [f.kind for f in monitor.report().findings] == []
    finally:
        monitor.close()


def inferred_of(findings: list[compliance.Finding]) -> list[str]:
    return [f.trigger for f in findings if f.kind == "inferred"]


@needs_durable
def test_the_monitor_picks_an_earlier_call_that_arrives_later(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    monitor = compliance.Monitor(rb, as_of=AS_OF)
    try:
        monitor.feed(sts("t1", "2019-01-03", "10"))
        assert inferred_of(monitor.feed(call("c2", "2019-01-25"))) == ["inferred:delivery:t1:c2"]
        changes = monitor.feed(call("c1", "2019-01-20"))
        assert inferred_of(changes) == ["inferred:delivery:t1:c1"]
        assert inferred_of(changes.withdrawn) == ["inferred:delivery:t1:c2"]
        assert inferred(monitor.report()) == ["inferred:delivery:t1:c1"]
    finally:
        monitor.close()


@needs_durable
def test_a_late_transfer_still_joins_a_call_that_arrives_after_it(tmp_path: Path) -> None:
    # A step event on 2019-04-10 moves the watermark (the latest step less the 30-day
    # span) to 2019-03-11: a transfer dated 2019-03-05 is late when it arrives, yet a
    # call within its window (2019-03-20, not late) can still arrive and must join it.
    rb = rulebook(tmp_path)
    log = [
        call("c0", "2019-04-10", vessel=OTHER),
        sts("t1", "2019-03-05"),
        call("c1", "2019-03-20"),
    ]
    with compliance.Monitor(rb, as_of=AS_OF) as monitor:
        assert inferred_of(monitor.feed_many(log[:2])) == []
        assert inferred_of(monitor.feed(log[2])) == ["inferred:delivery:t1:c1"]
        assert monitor.report() == compliance.evaluate(log, rb, engine="stream", as_of=AS_OF)


# Without durable_rules ------------------------------------------------------------------


def test_without_durable_rules_the_stream_engine_refuses_and_columnar_reports(
    tmp_path: Path,
) -> None:
    rulebook(tmp_path)  # writes rules.yaml
    log = tmp_path / "log.csv"
    rows = [sts("t1", "2019-01-03", "1500"), call("c1", "2019-01-20")]
    with log.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    code = (
        "import sys; sys.modules['durable'] = None; sys.modules['durable.engine'] = None\n"
        "import compliance\n"
        "rb = compliance.load_rulebook(sys.argv[1])\n"
        "for attempt in (lambda: compliance.evaluate(sys.argv[2], rb, engine='stream'),\n"
        "                lambda: compliance.Monitor(rb)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except compliance.EngineUnavailableError as e:\n"
        "        print(str(e))\n"
        "r = compliance.evaluate(sys.argv[2], rb, engine='columnar')\n"
        "print([(f.kind, f.trigger) for f in r.findings])\n"
        "print(compliance.evaluate([dict(x) for x in __import__('csv').DictReader("
        "open(sys.argv[2]))], rb) == r)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "rules.yaml"), str(log)],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert len(out) == 4
    for line in out[:2]:
        assert line.startswith(
            "correlation rules (delivery) need durable_rules on the stream engine "
            "(--engine columnar runs them without it): durable_rules does not import"
        )
    assert out[2] == str(
        [("cap_exceeded", "inferred:delivery:t1:c1"), ("inferred", "inferred:delivery:t1:c1")]
    )
    assert out[3] == "True"  # auto runs columnar on iterables there


def test_without_correlation_rules_the_stream_engine_needs_no_durable_rules(
    tmp_path: Path,
) -> None:
    text = RULES.split("  - id: delivery")[0]
    rb = rulebook(tmp_path, text=text)
    code = (
        "import sys; sys.modules['durable'] = None\n"
        "import compliance\n"
        "rb = compliance.load_rulebook(sys.argv[1])\n"
        "m = compliance.Monitor(rb); m.feed({'id': 'a', 'date': '2019-01-01'})\n"
        "print(compliance.evaluate([{'id': 'a', 'date': '2019-01-01'}], rb, engine='stream')"
        ".accounting.read)\n"
    )
    assert len(rb.rules) == 1
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "rules.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "1"


# Properties: random rules and evidence, both engines, any order and split ------------------

VESSELS = [GIVER, RECEIVER, OTHER, "9000003"]
START = date(2019, 1, 1)


@st.composite
def evidence(draw: st.DrawFn) -> list[dict[str, str]]:
    n = draw(st.integers(0, 14))
    out = []
    for i in range(n):
        day = (START + timedelta(days=draw(st.integers(0, 60)))).isoformat()
        kind = draw(st.sampled_from(["sts", "sts", "call", "call", "call", "plain"]))
        if kind == "sts":
            row = sts(f"e{i}", day, draw(st.sampled_from(["100", "400.5", "700"])),
                      receiver=draw(st.sampled_from(VESSELS)))  # fmt: skip
            row["vessel_imo"] = draw(st.sampled_from(VESSELS))
        elif kind == "call":
            row = call(f"e{i}", day, vessel=draw(st.sampled_from(VESSELS)),
                       country=draw(st.sampled_from(["KP", "KP", "CN"])))  # fmt: skip
        else:
            row = {"id": f"e{i}", "date": day, "hs_code": "8703", "destination": "CN"}
        out.append(row)
    return out


@st.composite
def dense_evidence(draw: st.DrawFn) -> list[dict[str, str]]:
    """Many transfers and calls by two vessels over a week: chains that share events,
    several candidates on one day (their ids ordered as text: e10 before e2), events
    that match two steps, and some with no vessel named (a key that joins nothing)."""
    out = []
    for i in range(draw(st.integers(0, 40))):
        day = (START + timedelta(days=draw(st.integers(0, 6)))).isoformat()
        vessel = draw(st.sampled_from([GIVER, RECEIVER, RECEIVER, ""]))
        if draw(st.booleans()):
            row = sts(f"e{i}", day, receiver=draw(st.sampled_from([GIVER, RECEIVER, ""])))
            row["vessel_imo"] = vessel
        else:
            row = call(f"e{i}", day, vessel=vessel)
        if flag := draw(st.sampled_from(["KP", "PA", ""])):  # a second join key, in some rules
            row["vessel_flag"] = flag
        out.append(row)
    return out


THREE_STEPS = """
document: {symbol: TEST}
rules:
  - id: cap
    kind: cap
    citation: test cap
    match: {hs_code: {prefix: ["2710"]}, destination: KP}
    limit: [{amount: 1000, unit: bbl}]
    period: {days: 20}
  - id: relay
    kind: correlation
    citation: test relay
    steps:
      - id: first
        match: {transfer: ship_to_ship}
      - id: second
        match: {transfer: ship_to_ship}
        join: {vessel_imo: first.counterparty_imo}
        within: {days: WINDOW, after: first}
      - id: call
        match: {transfer: port, destination: KP}
        join: {vessel_imo: second.counterparty_imo}
        within: {days: 10, after: AFTER}
    infer:
      from: {hs_code: first.hs_code, quantity: second.quantity, unit: second.unit}
      set: {destination: KP}
"""


@st.composite
def rulebook_texts(draw: st.DrawFn) -> tuple[str, int]:
    window = draw(st.sampled_from([0, 1, 7, 30]))
    if draw(st.booleans()):
        return RULES, window
    after = draw(st.sampled_from(["first", "second"]))
    return THREE_STEPS.replace("AFTER", after), window


def _write(directory: Path, rows: list[dict[str, str]], name: str) -> Path:
    path = directory / name
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["id", "date", "transfer", "hs_code", "quantity", "unit",
                                "vessel_imo", "counterparty_imo", "destination", "source"],
        )  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
    return path


@needs_durable
@given(rulebook_texts(), evidence(), st.randoms(use_true_random=False), st.integers(0, 14))
def test_engines_agree_in_any_order_and_file_split(
    rule: tuple[str, int], log: list[dict[str, str]], random: Any, cut: int
) -> None:
    text, window = rule
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        rb = rulebook(directory, window, text)
        stream = compliance.evaluate(log, rb, engine="stream")
        shuffled = list(log)
        random.shuffle(shuffled)
        parts = [
            _write(directory, shuffled[:cut], "a.csv"),
            _write(directory, shuffled[cut:], "b.csv"),
        ]
        columnar = compliance.evaluate([str(p) for p in parts], rb, engine="columnar")
        assert columnar.to_dict() == stream.to_dict()
        assert compliance.evaluate(shuffled, rb, engine="stream") == stream
        monitor = compliance.Monitor(rb, as_of=stream.as_of or AS_OF)
        try:
            monitor.feed_many(shuffled)
            # (An empty log has no date: the monitor's is its own.)
            assert monitor.report().model_copy(update={"as_of": stream.as_of}) == stream
        finally:
            monitor.close()
        # An unrelated event changes nothing but the accounting.
        plain = {"id": "zz", "date": "2019-01-10", "hs_code": "8703", "destination": "CN"}
        more = compliance.evaluate([*log, plain], rb, engine="columnar")
        assert more.findings == stream.findings


@given(st.one_of(evidence(), dense_evidence()))
def test_each_first_step_event_infers_at_most_once_from_its_first_call(
    log: list[dict[str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rb = rulebook(Path(tmp), 30)
        report = compliance.evaluate(log, rb, engine="columnar")
    by_id = {r["id"]: r for r in log}
    chains = [f.events for f in report.findings if f.kind == "inferred"]
    assert len({c[0] for c in chains}) == len(chains)
    for first, then in chains:
        t, c = by_id[first], by_id[then]
        gap = (date.fromisoformat(c["date"]) - date.fromisoformat(t["date"])).days
        assert 0 <= gap <= 30 and c["vessel_imo"] == t["counterparty_imo"]
        earlier = [
            r for r in log
            if r.get("transfer") == "port" and r.get("destination") == "KP"
            and r["vessel_imo"] == t["counterparty_imo"]
            and 0 <= (date.fromisoformat(r["date"]) - date.fromisoformat(t["date"])).days <= 30
            and (r["date"], r["id"]) < (c["date"], c["id"])
        ]  # fmt: skip
        assert earlier == []
    # Every transfer with a call in its window infers one delivery (a blank vessel is
    # none: it joins nothing).
    expected = {
        r["id"] for r in log
        if r.get("transfer") == "ship_to_ship" and r["counterparty_imo"] and any(
            o.get("transfer") == "port" and o.get("destination") == "KP"
            and o["vessel_imo"] == r["counterparty_imo"]
            and 0 <= (date.fromisoformat(o["date"]) - date.fromisoformat(r["date"])).days <= 30
            for o in log
        )
    }  # fmt: skip
    assert {c[0] for c in chains} == expected


def two_join_keys(text: str) -> str:
    """A rulebook of `rulebook_texts` whose later steps join on the flag too."""
    joined = re.sub(
        r"join: \{vessel_imo: (\w+)\.counterparty_imo\}",
        r"join: {vessel_imo: \1.counterparty_imo, vessel_flag: \1.vessel_flag}",
        text,
    )
    assert "vessel_flag" in joined
    return joined


@needs_durable
@given(rulebook_texts(), dense_evidence(), st.booleans())
def test_dense_evidence_gives_both_engines_the_same_chains(
    rule: tuple[str, int], log: list[dict[str, str]], two_keys: bool
) -> None:
    """The columnar engine finds a chain's last step by an as-of join on the events'
    (date, id) order, passing over events already in the chain; the stream engine's
    durable_rules network tries every pair. Where a few vessels make many transfers and
    calls, they agree, on one join key or two."""
    text, window = rule
    if two_keys:
        text = two_join_keys(text)
    with tempfile.TemporaryDirectory() as tmp:
        rb = rulebook(Path(tmp), window, text)
        stream = compliance.evaluate(log, rb, engine="stream")
        columnar = compliance.evaluate(log, rb, engine="columnar")
    assert columnar.to_dict() == stream.to_dict()


@st.composite
def late_feeds(draw: st.DrawFn) -> list[dict[str, str]]:
    """Evidence over 200 days fed in any order, with corrections: many events arrive
    after the monitor's watermark (the latest step event's date less a chain's span)."""
    rows = draw(evidence_over(200))
    for n in range(draw(st.integers(0, 3))):
        if rows:
            target = draw(st.sampled_from(rows))
            moved = START + timedelta(days=draw(st.integers(0, 200)))
            rows.append({**target, "id": f"fix{n}", "supersedes": target["id"],
                         "date": moved.isoformat()})  # fmt: skip
    return draw(st.permutations(rows))


@st.composite
def evidence_over(draw: st.DrawFn, days: int) -> list[dict[str, str]]:
    out = []
    for i in range(draw(st.integers(0, 16))):
        day = (START + timedelta(days=draw(st.integers(0, days)))).isoformat()
        if draw(st.booleans()):
            out.append(sts(f"e{i}", day, receiver=draw(st.sampled_from(VESSELS))))
        else:
            out.append(call(f"e{i}", day, vessel=draw(st.sampled_from(VESSELS))))
    return out


@needs_durable
@given(st.sampled_from([0, 7, 30]), late_feeds())
def test_the_monitor_retracts_facts_behind_its_watermark_and_stays_exact(
    window: int, feed: list[dict[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rb = rulebook(Path(tmp), window)
    with compliance.Monitor(rb, as_of=AS_OF) as monitor:
        announced: list[compliance.Finding] = []
        for n, record in enumerate(feed):
            changes = monitor.feed(record)
            for finding in changes.withdrawn:
                announced.remove(finding)
            announced += changes
            expected = compliance.evaluate(feed[: n + 1], rb, engine="columnar", as_of=AS_OF)
            assert sorted_dicts(announced) == sorted_dicts(expected.findings)


@needs_durable
def test_facts_behind_the_watermark_are_retracted_and_a_late_transfer_still_infers(
    tmp_path: Path,
) -> None:
    rb = rulebook(tmp_path, 7)
    with compliance.Monitor(rb, as_of=AS_OF) as monitor:
        for n in range(100):  # a transfer and a call every day, in date order
            day = (START + timedelta(days=n)).isoformat()
            monitor.feed(sts(f"t{n}", day, receiver=OTHER))
            monitor.feed(call(f"c{n}", day, vessel=GIVER))
        # A transfer's fact is needed 7 days, the watermark is 7 days behind: 15 days
        # of transfers and 8 of calls are facts, not 200 events.
        assert monitor.holding()["facts"] == 15 + 8
        # A transfer reported 90 days late, to a vessel that called 3 days after it.
        changes = monitor.feed(sts("late", (START + timedelta(days=2)).isoformat(),
                                   receiver=GIVER))  # fmt: skip
        assert [f.kind for f in changes] == ["inferred"]
        assert [f.events for f in changes if f.kind == "inferred"] == [["late", "c2"]]
        assert monitor.holding()["facts"] == 15 + 8
        log = [*(sts(f"t{n}", (START + timedelta(days=n)).isoformat(), receiver=OTHER)
                 for n in range(100)),
               *(call(f"c{n}", (START + timedelta(days=n)).isoformat(), vessel=GIVER)
                 for n in range(100)),
               sts("late", (START + timedelta(days=2)).isoformat(), receiver=GIVER)]  # fmt: skip
        assert monitor.report() == compliance.evaluate(log, rb, engine="columnar", as_of=AS_OF)


def sorted_dicts(findings: list[compliance.Finding]) -> list[dict[str, Any]]:
    return sorted((f.to_dict() for f in findings), key=repr)
