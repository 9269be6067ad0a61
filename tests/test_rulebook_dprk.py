"""The bundled DPRK rulebook: its own test cases, its coverage, its generated docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import bundled_rulebook_path, load_rulebook
from compliance.rulebook.listing import list_markdown
from compliance.ruletests import coverage, load_cases, run_case, run_command

ROOT = bundled_rulebook_path()
RULEBOOK = load_rulebook(ROOT)
CASES = load_cases(ROOT)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_case(case):  # type: ignore[no-untyped-def]
    outcome = run_case(case, RULEBOOK)
    assert outcome.passed, "\n".join(outcome.problems)


def test_every_rule_is_shown_firing_and_silent() -> None:
    percent, never_fired, never_silent = coverage(RULEBOOK, [run_case(c, RULEBOOK) for c in CASES])
    assert (percent, never_fired, never_silent) == (100.0, [], [])


def test_generated_rulebook_doc_is_in_step() -> None:
    doc = Path(__file__).parents[1] / "docs" / "rulebook.md"
    if not doc.exists():
        pytest.skip("docs/ is not shipped with the package")
    assert doc.read_text() == list_markdown(RULEBOOK), (
        "regenerate: compliance rules list --format markdown > docs/rulebook.md"
    )


def test_a_failing_case_is_reported_with_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {id: r, kind: prohibition, citation: c, match: {destination: KP}}\n"
        "  - {id: s, kind: prohibition, citation: c, match: {destination: CN}}\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "cases.yaml").write_text(
        "tests:\n  - name: wrong expectation\n    rules: [r]\n"
        "    events: [{id: a, date: 2019-01-01, destination: KP}]\n    expect: []\n"
    )
    assert run_command(tmp_path, min_coverage=None) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "unexpected finding r prohibited (trigger a" in out
    assert "never fires in any case: s" in out


def test_designated_vessels_cite_a_source() -> None:
    rule = RULEBOOK.get("unscr-2397-designated-vessels")
    assert rule.entries and all(e.reference for e in rule.entries)  # type: ignore[attr-defined]
