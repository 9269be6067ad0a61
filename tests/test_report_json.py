"""`Report.to_json` writes exactly what `json.dumps(report.to_dict(), indent=...)` would."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.report import _indented
from writers_data import RULES, write_log

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


@pytest.mark.parametrize("indent", [None, 0, 2, 4])
def test_report_json_is_json_dumps(tmp_path: Path, indent: int | None) -> None:
    """The same document; the same text too, but for a series: one event a line."""
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    assert report.findings and report.rejected
    text = report.to_json(indent)
    assert json.loads(text) == report.to_dict()
    without = report.model_copy(
        update={"findings": [f.model_copy(update={"series": None}) for f in report.findings]}
    )
    expected = json.dumps(without.to_dict(), indent=indent, ensure_ascii=False)
    assert without.to_json(indent) == expected
    if indent is not None:
        series = re.findall(r'\n *(\{"event": .*\}),?(?=\n)', text)
        assert len(series) == sum(len(f.series or ()) for f in report.findings) > 0
        assert json.loads(series[0]) == report.findings[0].to_dict()["series"][0]


def test_a_series_shared_by_findings_is_written_for_each(tmp_path: Path) -> None:
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    caps = [f for f in report.findings if f.series is not None]
    assert len(caps) == 4 and all(f.series is caps[0].series for f in caps)  # one period
    written = json.loads(report.to_json())["findings"]
    assert [w["series"] for w in written if "series" in w] == [f.to_dict()["series"] for f in caps]


@given(documents, st.integers(0, 4))
def test_indented_writes_json_dumps_text(document: Any, indent: int) -> None:
    parts: list[str] = []
    _indented(document, parts, "\n", " " * indent)
    assert "".join(parts) == json.dumps(document, indent=indent, ensure_ascii=False)


def test_indented_refuses_keys_that_are_not_strings_and_unknown_objects() -> None:
    # json.dumps would write {1: "a"} with the key "1"; a report never has such keys.
    for document in ({1: "a"}, {"a": object()}):
        with pytest.raises(TypeError):
            _indented(document, [], "\n", "  ")


class _Text(str):
    """A str subclass: json.dumps writes it as a string, and so must `_indented`."""


findings_like = st.dictionaries(
    st.text(max_size=5),
    st.one_of(
        st.text(),
        st.lists(st.text(), max_size=3),
        st.lists(st.text().map(_Text), min_size=1, max_size=2),
        st.lists(st.text() | st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.text() | st.none(), max_size=2),
        st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), max_size=2),
        st.none() | st.booleans() | st.integers(),
    ),
    max_size=8,
)


@given(st.lists(findings_like, max_size=3), st.integers(0, 4))
def test_indented_writes_json_dumps_text_of_finding_like_documents(
    document: list[dict[str, Any]], indent: int
) -> None:
    """What findings hold (strings, lists of them, small dicts, empty ones) is written
    where it is met: still json.dumps's text."""
    parts: list[str] = []
    _indented({"findings": document}, parts, "\n", " " * indent)
    expected = json.dumps({"findings": document}, indent=indent, ensure_ascii=False)
    assert "".join(parts) == expected
