"""The bundled DPRK rulebook: its own test cases, its coverage, its generated docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import bundled_rulebook_path, evaluate, load_rulebook
from compliance.rulebook import DesignationRule
from compliance.rulebook.listing import list_markdown
from compliance.ruletests import coverage, load_cases, run_case

ROOT = bundled_rulebook_path()
RULEBOOK = load_rulebook(ROOT)
CASES = load_cases(ROOT, RULEBOOK)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_case(case):  # type: ignore[no-untyped-def]
    outcome = run_case(case, RULEBOOK)
    assert outcome.passed, "\n".join(outcome.problems)


def test_every_rule_is_shown_firing_and_silent() -> None:
    cov = coverage(RULEBOOK, [run_case(c, RULEBOOK) for c in CASES])
    assert (cov.percent, cov.not_shown_firing, cov.not_shown_silent) == (100.0, [], [])


def test_generated_rulebook_doc_is_in_step() -> None:
    doc = Path(__file__).parents[1] / "docs" / "rulebook.md"
    if not doc.exists():
        pytest.skip("docs/ is not shipped with the package")
    assert doc.read_text() == list_markdown(RULEBOOK), (
        "regenerate: compliance rules list --format markdown > docs/rulebook.md"
    )


def test_designated_vessels_cite_a_source() -> None:
    rule = RULEBOOK.get("unscr-2397-designated-vessels")
    assert isinstance(rule, DesignationRule)
    assert rule.entries and all(e.reference for e in rule.entries)


# The situations an analyst names first, evaluated against the whole rulebook (not one rule
# at a time as the cases above are), so an overlapping or missing rule would show here.
SITUATIONS = [
    (
        {"id": "coal", "date": "2018-03-01", "hs_code": "2701", "origin": "KP",
         "destination": "CN", "quantity": "10000", "unit": "t", "source": "customs"},
        {("unscr-2371-coal-iron", "prohibited", "S/RES/2371 (2017), para. 8")},
    ),
    (
        {"id": "sts", "date": "2018-05-10", "hs_code": "2710", "quantity": "5000",
         "unit": "bbl", "transfer": "ship_to_ship", "counterparty_flag": "KP",
         "source": "vessel_tracking"},
        {("unscr-2375-ship-to-ship", "prohibited", "S/RES/2375 (2017), para. 11")},
    ),
    (
        {"id": "machinery", "date": "2019-04-01", "hs_code": "8429", "origin": "CN",
         "destination": "KP", "quantity": "20", "unit": "t", "source": "customs"},
        {("unscr-2397-import-ban-industrial", "prohibited", "S/RES/2397 (2017), para. 7")},
    ),
    (
        {"id": "q4", "date": "2017-11-01", "hs_code": "2710", "origin": "RU",
         "destination": "KP", "quantity": "500001", "unit": "bbl", "source": "customs"},
        {("unscr-2375-refined-petroleum-2017", "cap_exceeded", "S/RES/2375 (2017), para. 14")},
    ),
]  # fmt: skip


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize(("event", "expected"), SITUATIONS, ids=[e["id"] for e, _ in SITUATIONS])
def test_the_whole_rulebook_gives_the_expected_finding(
    event: dict[str, str], expected: set[tuple[str, str, str]], engine: str
) -> None:
    if engine == "stream":
        # The bundled rulebook's correlation rules run on durable_rules there.
        pytest.importorskip("durable", reason="durable_rules does not import on this Python")
    report = evaluate([event], RULEBOOK, engine=engine)  # type: ignore[arg-type]
    assert report.accounting.evaluated == 1
    assert {(f.rule, f.kind, f.citation) for f in report.findings} == expected
    assert all(f.trigger == event["id"] for f in report.findings)
