"""`Report.to_json` writes exactly what `json.dumps(report.to_dict(), indent=...)` would."""

from __future__ import annotations

import json
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
    rulebook = compliance.load_rulebook(RULES)
    report = compliance.evaluate(str(write_log(tmp_path)), rulebook)
    assert report.findings and report.rejected
    expected = json.dumps(report.to_dict(), indent=indent, ensure_ascii=False)
    assert report.to_json(indent) == expected


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
