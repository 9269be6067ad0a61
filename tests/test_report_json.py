"""`Report.to_json` writes exactly what `json.dumps(report.to_dict(), indent=...)` would."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance.report import (
    SEVERITY,
    Accounting,
    ChainLink,
    Finding,
    Measurement,
    PeriodRange,
    Report,
    RulebookInfo,
    Series,
    Supersession,
    _indented,
    finding_json,
)
from compliance.trusted import trusted
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


# The finding writer -----------------------------------------------------------------------

texts = st.text(max_size=6)
str_lists = st.lists(texts, max_size=3)
str_dicts = st.dictionaries(texts, texts, max_size=3)
days = st.dates(date(1990, 1, 1), date(2030, 12, 31))
amounts = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 20
)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    optional = st.none() | amounts
    return Measurement(
        unit=draw(texts), limit=draw(amounts), running=draw(amounts), total=draw(amounts),
        excess=draw(optional), threshold=draw(optional), running_min=draw(optional),
        total_min=draw(optional), basis=draw(st.none() | st.dictionaries(texts, amounts, max_size=2)),
        on_notifications=draw(st.none() | st.booleans()),
    )  # fmt: skip


@st.composite
def series(draw: st.DrawFn) -> Series:
    units = tuple(draw(st.lists(texts, min_size=1, max_size=2, unique=True)))
    n = draw(st.integers(0, 3))
    return Series(
        units,
        draw(st.lists(texts, min_size=n, max_size=n)),
        draw(st.lists(days, min_size=n, max_size=n)),
        [tuple(draw(st.none() | amounts) for _ in units) for _ in range(n)],
        [tuple(draw(amounts) for _ in units) for _ in range(n)],
        draw(st.lists(st.none() | texts, min_size=n, max_size=n)),
        draw(st.lists(st.none() | texts, min_size=n, max_size=n)),
    )


links = st.builds(ChainLink, step=texts, event=texts, date=days,
                  days_after=st.none() | st.integers(-5, 400))  # fmt: skip


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    kind = draw(st.sampled_from(sorted(SEVERITY)))
    values: dict[str, Any] = {
        "rule": draw(texts), "kind": kind, "severity": SEVERITY[kind], "title": draw(texts),
        "citation": draw(texts), "verified": draw(st.booleans()), "date": draw(days),
        "trigger": draw(texts), "events": draw(str_lists), "message": draw(st.text()),
    }  # fmt: skip
    optional: dict[str, st.SearchStrategy[Any]] = {
        "period": st.builds(PeriodRange, start=days, end=days), "group": str_dicts,
        "measure": measurements(), "series": series(), "match": str_dicts,
        "days_late": st.integers(-10, 10**6), "due": days, "price": str_dicts,
        "inferred": str_lists, "chain": st.lists(links, max_size=3),
        "certainty": st.sampled_from(["certain", "possible"]), "unquantified": str_lists,
        "reached_with": str_lists,
    }  # fmt: skip
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        values[name] = draw(optional[name])
    return Finding(**values)


def _generic(report: Report, indent: int) -> str:
    """What `Report.to_json` wrote before its finding writer: every finding's document
    through the general writer."""
    document = {
        "findings": [f._document() for f in report.findings],
        "accounting": report.accounting.model_dump(),
        "rejected": [r.to_dict() for r in report.rejected],
        "superseded": [s.to_dict() for s in report.superseded],
        "rulebook": report.rulebook.model_dump(),
        **({"as_of": report.as_of.isoformat()} if report.as_of is not None else {}),
    }
    parts: list[str] = []
    _indented(document, parts, "\n", " " * indent, {})
    return "".join(parts)


@given(findings(), st.integers(0, 4), st.integers(0, 3))
def test_finding_json_writes_what_the_general_writer_writes(
    finding: Finding, indent: int, depth: int
) -> None:
    step = " " * indent
    newline = "\n" + step * depth
    parts: list[str] = []
    _indented(finding._document(), parts, newline, step, {})
    assert finding_json(finding, newline, step, {}) == "".join(parts)


@given(st.lists(findings(), max_size=4), st.integers(0, 4), st.booleans())
def test_report_json_is_the_general_writers_text(
    found: list[Finding], indent: int, shared: bool
) -> None:
    """Whole reports, findings sharing a series or not, none at all, with and without
    an evaluation date: the same text, and `end` only appended."""
    if shared and found and found[0].series is not None:
        found = [f.model_copy(update={"series": found[0].series}) for f in found]
    report = Report(
        findings=found, accounting=Accounting(read=len(found)),
        rulebook=RulebookInfo(sources=["r.yaml"], rules=1),
        as_of=date(2020, 1, 1) if shared else None,
        superseded=[Supersession(id="a", by="b", source="log.csv", line=3)],
    )  # fmt: skip
    assert report.to_json(indent) == _generic(report, indent)
    assert report.to_json(indent, end="\n") == _generic(report, indent) + "\n"
    written = list(report.iter_json(indent))  # what the CLI writes: a finding a piece
    assert "".join(written) == report.to_json(indent)
    assert len(written) >= len(found) + 4


def test_a_finding_value_of_another_type_takes_the_general_writer() -> None:
    """A model built without validation may hold a value of another type than its
    field's (a str subclass, a tuple, a dict value that is a number): written as
    `_indented` writes it."""
    values: dict[str, Any] = {"rule": _Text("r"), "kind": "designated", "severity": "breach",
              "title": "t", "citation": "c", "verified": True, "date": date(2020, 1, 2),
              "trigger": "a", "events": ("a", _Text("b")), "message": "m",
              "match": {"field": 7}, "inferred": [_Text("a")]}  # fmt: skip
    finding = trusted(Finding, values)
    parts: list[str] = []
    _indented(finding._document(), parts, "\n    ", "  ", {})
    assert finding_json(finding, "\n    ", "  ", {}) == "".join(parts)
