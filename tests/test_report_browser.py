"""The HTML report opened in a real browser (headless Chromium): charts drawn, findings there.

Skipped, saying why, when no browser is installed; `.ci/install-chromium` installs
Debian's `chromium` on CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import compliance
from writers_data import RULES, write_log

pytest.importorskip("matplotlib", reason="the html report needs the 'report' extra")

from compliance.io.html import render_html


def _browser() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless browser: install Debian's chromium (bash .ci/install-chromium) to run",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"  # a fresh profile: no state shared between runs
    profile.mkdir(exist_ok=True)
    assert BROWSER is not None
    return subprocess.run(
        [
            BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={profile}", *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    rulebook = compliance.load_rulebook(RULES)
    log = str(write_log(tmp_path))
    page = render_html(compliance.evaluate(log, rulebook), rulebook)
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_dom_has_the_charts_and_findings(tmp_path: Path, report_file: Path) -> None:
    done = chromium(tmp_path, "--dump-dom", report_file.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # The browser parsed the inline SVG into elements with drawn paths inside.
    assert dom.count('<svg class="chart"') == 1
    first_chart = dom.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert first_chart.count("<path") >= 5
    assert "limit crossed: b|1" in first_chart
    # Every finding is there, each with its evidence inside a <details>.
    assert dom.count('<details class="finding') == 6
    assert "cap_exceeded" in dom and "threshold_reached" in dom and "prohibited" in dom
    assert "Breach: 2 breaches of 2 rules." in dom
    assert "<script" not in dom  # the escaped commodity stayed text


def _colours(tmp_path: Path, page: Path, name: str) -> dict[tuple[int, int, int], int]:
    image = pytest.importorskip("PIL.Image", reason="Pillow (a matplotlib dependency)")
    shot = tmp_path / f"{name}.png"
    done = chromium(tmp_path, "--window-size=1200,1400", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 22) or []
    return {c: n for n, c in colours}


def test_screenshot_shows_the_charts(tmp_path: Path, report_file: Path) -> None:
    # The same page with and without its charts: what the charts add on screen is the
    # running total in the report's blue and the limit and crossing in its breach red.
    bare = tmp_path / "bare.html"
    page = report_file.read_text(encoding="utf-8")
    bare.write_text(re.sub(r"<svg .*?</svg>", "", page, flags=re.S), encoding="utf-8")
    full, without = _colours(tmp_path, report_file, "full"), _colours(tmp_path, bare, "bare")
    for colour in ((0x1F, 0x4E, 0x79), (0xB0, 0x00, 0x20)):
        assert full.get(colour, 0) - without.get(colour, 0) > 300, colour
