"""docs/example-report.html (linked from the README) stays what the code makes of the
example log. Regenerate it with:

    compliance evaluate examples/refined-petroleum-2019.csv --format html \\
        --output docs/example-report.html
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance.cli import main

pytest.importorskip("matplotlib", reason="the html report needs the 'report' extra")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "example-report.html"
LOG = ROOT / "examples" / "refined-petroleum-2019.csv"
REGENERATE = (
    "docs/example-report.html is out of date; regenerate it with: compliance evaluate "
    "examples/refined-petroleum-2019.csv --format html --output docs/example-report.html"
)
_GENERATOR = re.compile(r'<meta name="generator" content="([^"]*)">')
_SVG = re.compile(r"<svg .*?</svg>", re.S)


def _without_charts(page: str) -> str:
    return _SVG.sub("<svg/>", _GENERATOR.sub("", page))


def test_example_report_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the command as documented, relative paths and all
    fresh = tmp_path / "example-report.html"
    code = main(["evaluate", str(LOG.relative_to(ROOT)), "--format", "html",
                 "--output", str(fresh)])  # fmt: skip
    assert code == 1  # the example log breaches the refined-petroleum cap
    now, kept = fresh.read_text(encoding="utf-8"), EXAMPLE.read_text(encoding="utf-8")
    made_by = _GENERATOR.search(kept)
    if made_by and made_by.group(1) == _GENERATOR.search(now).group(1):  # type: ignore[union-attr]
        assert now == kept, REGENERATE
    else:
        # Another matplotlib draws the same chart with other bytes: compare the rest.
        assert _without_charts(now) == _without_charts(kept), REGENERATE
        assert len(_SVG.findall(now)) == len(_SVG.findall(kept)), REGENERATE


def test_example_report_shows_the_breach() -> None:
    page = EXAMPLE.read_text(encoding="utf-8")
    assert '<section id="verdict" class="banner breach">' in page
    assert "exceeded</span> on 2019-07-15 by shipment <code>n-2019-07b</code>" in page
    assert page.count('<svg class="chart"') >= 1
