"""`--format html`: self-contained, escaped, deterministic, drawn from the `Report` alone,
with a chart per cap period with a finding and the evidence of every finding (the browser
test looks at it rendered)."""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import compliance
from compliance.cli import main
from compliance.io.evidence import cap_series
from writers_data import RULES, write_log

pytest.importorskip("matplotlib", reason="the html report needs the 'report' extra")

from compliance.io.html import render_html


@pytest.fixture
def page(tmp_path: Path) -> str:
    rulebook = compliance.load_rulebook(RULES)
    log = str(write_log(tmp_path))
    return render_html(compliance.evaluate(log, rulebook), rulebook)


def test_one_chart_per_cap_period_with_a_finding(page: str) -> None:
    charts = re.findall(r'<svg class="chart"[^>]*data-chart="(c\d+)"', page)
    assert charts == ["c1"]  # refined petroleum 2019 (breached); crude oil has no finding
    caps = page.split('<section id="caps">', 1)[1].split("</section>", 1)[0]
    assert "Refined petroleum products supplied to the DPRK" in caps
    assert "unscr-2397-crude-oil" not in caps and "is not charted" in caps
    assert "<b>" not in caps  # no markup from the log
    # The crossing is named in words, not only drawn.
    assert "exceeded</span> on 2019-06-10 by shipment <code>b|1</code>" in caps
    # The chart draws the limit and marks the crossing (matplotlib writes labels as text).
    first = caps.split("</svg>", 1)[0]
    assert "limit 500,000 bbl" in first and "limit crossed: b|1" in first
    assert "<path" in first


def test_findings_open_to_their_evidence(page: str) -> None:
    findings = page.split('<section id="findings">', 1)[1].split("</section>", 1)[0]
    assert findings.count('<details class="finding') == 6
    cap = next(d for d in findings.split("<details")[1:] if "cap_exceeded" in d)
    rows = re.findall(r"<tr( class=\"trigger\")?><td>([\d-]+)</td><td><code>([^<]*)</code>", cap)
    assert [(bool(t), d, i) for t, d, i in rows] == [
        (False, "2019-01-10", "a"),
        (True, "2019-06-10", "b|1"),
        (False, "2019-07-01", "c"),
    ]
    assert "<td class=num>300,000</td><td class=num>300,000</td>" in cap
    assert "<td class=num>250,000</td><td class=num>550,000</td>" in cap
    assert "<td class=num>10,000</td><td class=num>560,000</td>" in cap
    # A prohibition names its shipment (the report holds no log records to show).
    sts = next(d for d in findings.split("<details")[1:] if ">prohibited<" in d)
    assert '<ul class="facts"><li>shipment <code>c</code></li></ul>' in sts
    assert 'href="https://undocs.org/S/RES/2397(2017)"' in sts  # the file's one document


def test_banner_accounting_and_rulebook(page: str) -> None:
    banner = page.split('<section id="verdict"', 1)[1].split("</section>", 1)[0]
    assert '<section id="verdict" class="banner breach">' in page
    assert "Breach: 2 breaches of 2 rules." in banner
    assert "<b>2</b> breaches" in banner and "<b>1</b> warnings" in banner
    assert "Incomplete evaluation." in banner
    records = page.split('<section id="accounting">', 1)[1].split("</section>", 1)[0]
    assert "<th>rejected</th><td class=num>1</td>" in records
    assert "log.csv:6" in records and "must be a real ISO date" in records
    rules = page.split('<section id="rulebook">', 1)[1].split("</section>", 1)[0]
    assert rules.count("<tr><td><code>") == 4
    assert '<a href="https://undocs.org/S/RES/2397(2017)" rel="noreferrer">' in rules


def test_everything_from_the_log_is_escaped(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    records = [
        {"id": i, "date": d, "hs_code": "2710", "destination": "KP", "quantity": q, "unit": "bbl"}
        for i, d, q in (("<script>x</script>", "2019-01-01", "400000"),
                        ("a&<i>", "2019-02-01", "200000"))
    ]  # fmt: skip
    page = render_html(compliance.evaluate(records, rulebook), rulebook)
    assert "<script" not in page.lower() and "<i>" not in page
    assert "<code>&lt;script&gt;x&lt;/script&gt;</code>" in page  # evidence rows
    assert "<code>a&amp;&lt;i&gt;</code>" in page  # trigger and banner
    chart = page.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert "limit crossed: a&amp;&lt;i&gt;" in chart


def test_self_contained(page: str) -> None:
    # Nothing to fetch: no external stylesheet, script, image, font or import.
    assert not re.search(r"<(link|script|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"\bsrc=|@import|url\((?!#)", page)
    assert 'xlink:href="http' not in page


def test_ids_unique_and_output_deterministic(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    log = str(write_log(tmp_path))
    report = compliance.evaluate(log, rulebook)
    first = render_html(report, rulebook)
    again = render_html(report, rulebook)
    assert first == again
    ids = re.findall(r'\bid="([^"]+)"', first)
    assert len(ids) == len(set(ids))
    # Every reference inside a chart resolves to an id of the same page.
    refs = set(re.findall(r'(?:url\(#|href="#)([^")]+)', first))
    assert refs <= set(ids)


def test_charts_draw_the_findings_series(tmp_path: Path) -> None:
    """What a chart draws is the series its findings carry: nothing is recomputed."""
    rulebook = compliance.load_rulebook()
    log = str(Path(__file__).parent.parent / "examples" / "refined-petroleum-2019.csv")
    report = compliance.evaluate(log, rulebook)
    series = cap_series(report, rulebook)
    cap = [f for f in report.findings if f.kind in ("cap_exceeded", "threshold_reached")]
    # Two cap rules fire on the log (all evidence, and the tracker's notifications only):
    # each series holds one rule's period, so compare in report order.
    drawn = sorted((f for s in series for f in s.findings), key=lambda f: f.sort_key())
    assert len(cap) >= 2 and drawn == cap
    for s in series:
        for f in s.findings:
            assert f.series is not None and f.measure is not None
            assert s.points is f.series or s.points == f.series
            assert s.total == f.measure.total
            assert [p.event for p in s.points] == f.events


def test_rolling_and_multi_measure_caps(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: lpg-window\n    kind: cap\n    citation: test\n"
        "    match: {hs_code: {prefix: ['2711']}}\n"
        "    limit: [{amount: 100, unit: t}, {amount: 1000, unit: bbl}]\n"
        "    period: {days: 30}\n"
        "conversions:\n  - {product: lpg, barrels_per_tonne: 11.6, source: test}\n"
        "  - {hs_code: '2711', product: lpg}\n",
        encoding="utf-8",
    )
    rulebook = compliance.load_rulebook(rules)
    records = [
        {"id": f"e{i}", "date": f"2020-0{1 + i // 3}-{10 + i:02d}", "hs_code": "2711",
         "quantity": "40", "unit": "t"}
        for i in range(6)
    ]  # fmt: skip
    report = compliance.evaluate(records, rulebook)
    page = render_html(report, rulebook)
    # Crossed twice, in two windows: a chart for each, each the window's running total.
    assert page.count('<svg class="chart"') == 2
    assert "Total 120 t in the 30 days to 2020-01-12, against 100 t" in page
    assert "30-day window 2019-12-14 – 2020-01-12" in page
    assert "Also capped at 1,000 bbl" in page  # both crossed on e2: the first listed wins
    series = cap_series(report, rulebook)
    breach = report.breaches[0]
    assert breach.measure is not None and series[0].unit == breach.measure.unit == "t"
    assert series[0].total == Decimal("120")  # 3 x 40 t in one window
    # The evidence lists both measures: 40 t is 464 bbl at 11.6 bbl/t.
    evidence = page.split('<table class="evidence">', 1)[1].split("</table>", 1)[0]
    assert "<th class=num>amount (t)</th><th class=num>amount (bbl)</th>" in evidence
    assert "<td class=num>40</td><td class=num>464</td><td class=num>120</td>" in evidence


def test_report_from_json_alone_renders_the_same(tmp_path: Path) -> None:
    """No evaluation inside the renderer: a report rebuilt from its JSON gives the page."""
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    again = compliance.Report.model_validate(json.loads(report.to_json()))
    assert render_html(again, rulebook) == render_html(report, rulebook)


def test_cli_html_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path)
    out = tmp_path / "r.html"
    assert main(["evaluate", str(log), "--rules", str(RULES), "--format", "html",
                 "--output", str(out)]) == 2  # fmt: skip
    from_file = out.read_text(encoding="utf-8")
    assert from_file.count('<svg class="chart"') == 1

    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log.read_bytes())))
    assert main(["evaluate", "-", "--rules", str(RULES), "--format", "html"]) == 2
    from_stdin = capsys.readouterr().out
    # Read once, like a file: the same page but for where the rejected record was.
    assert from_stdin.replace("&lt;stdin&gt;", str(log)) == from_file


def test_missing_matplotlib_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    code = main(["evaluate", str(write_log(tmp_path)), "--rules", str(RULES), "--format", "html"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: --format html draws its charts with matplotlib, which is not installed: "
        "pip install 'compliance[report]'"
    ]


def test_long_logs_stay_readable(tmp_path: Path) -> None:
    """A cap with more events than a page should list: head, the crossing, tail."""
    from datetime import date, timedelta

    log = tmp_path / "many.csv"
    start = date(2019, 1, 1)
    log.write_text(
        "id,date,hs_code,destination,quantity,unit\n"
        + "".join(
            f"e{i:04d},{start + timedelta(days=i % 365)},2710,KP,1000,bbl\n" for i in range(900)
        ),
        encoding="utf-8",
    )
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(log), rulebook)
    page = render_html(report, rulebook)
    cap = next(
        d for d in page.split("<details")[1:] if "cap_exceeded" in d.split("</summary>", 1)[0]
    )
    assert cap.count("<tr") < 200 and cap.count('<tr class="gap">') >= 1
    trigger = report.breaches[0].trigger
    assert '<tr class="trigger"><td>' in cap and f"<code>{trigger}</code>" in cap
    # The chart plots one point a day (365), not one per shipment (900).
    chart = page.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert len(chart) < 400_000


def test_a_chart_of_thousands_of_days_keeps_a_few_hundred_points(tmp_path: Path) -> None:
    from datetime import date, timedelta

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: decade\n    kind: cap\n    citation: test\n"
        "    match: {hs_code: {prefix: ['2710']}}\n    limit: [{amount: 1500, unit: bbl}]\n"
        "    period: {from: 2010-01-01, to: 2019-12-31}\n",
        encoding="utf-8",
    )
    rulebook = compliance.load_rulebook(rules)
    start = date(2010, 1, 1)
    records = [
        {"id": f"e{i:04d}", "date": str(start + timedelta(days=i)), "hs_code": "2710",
         "quantity": "1", "unit": "bbl"}
        for i in range(3000)
    ]  # fmt: skip
    report = compliance.evaluate(records, rulebook)
    (breach,) = report.breaches
    assert breach.trigger == "e1500" and breach.series is not None and len(breach.series) == 3000
    chart = render_html(report, rulebook).split('<svg class="chart"', 1)[1].split("</svg>")[0]
    markers = chart.count("<use ")  # one a point drawn, a few for crossings and the legend
    assert 300 < markers <= 440  # not 3,000
