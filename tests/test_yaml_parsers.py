"""libyaml and PyYAML's pure-Python parser load rule files identically.

Rule files are read with libyaml where PyYAML has it (the pure-Python scanner was half of a
ten-row log's run); the pure-Python parser remains for installations without it. Both must
give the same data, the same line and column for every value and key, and the same
refusals.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from compliance.rulebook._yaml import PARSERS, Located, YamlProblem, load_located

pytestmark = pytest.mark.skipif("libyaml" not in PARSERS, reason="PyYAML was built without libyaml")

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for folder in ("rules", "examples") for p in (ROOT / folder).rglob("*.yaml"))


def _both(text: str) -> tuple[Located | str, Located | str]:
    def one(parser: str) -> Located | str:
        try:
            return load_located(text, parser=parser)  # type: ignore[arg-type]
        except YamlProblem as e:
            return f"{e.line}:{e.column}: {e.message}"

    return one("libyaml"), one("python")


def _same(a: Located | str, b: Located | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b  # the same refusal, at the same place
        return
    assert (a.data, a.values, a.keys) == (b.data, b.values, b.keys)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_yaml_file_loads_identically(path: Path) -> None:
    _same(*_both(path.read_text(encoding="utf-8")))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(
    data=_DATA,
    flow=st.sampled_from([None, True, False]),
    indent=st.integers(2, 6),
    width=st.sampled_from([20, 80, 1000]),
)
def test_generated_documents_load_identically(
    data: object, flow: bool | None, indent: int, width: int
) -> None:
    text = yaml.safe_dump(
        data, default_flow_style=flow, indent=indent, width=width, allow_unicode=True
    )
    _same(*_both(text))


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: !!python/object:os.system x\n",
        "a: 1\nb: 2\na: 3\n",
        "a: 1.0e+999\n",
        "a: " + "[" * 70 + "]" * 70 + "\n",
        "".join(" " * i + f"k{i}:\n" for i in range(80)),
        "a: b\x00\n",
        "é: x\u0007\n",
        "a: .nan\n",
    ],
    ids=[
        "alias",
        "tag",
        "duplicate",
        "exponent",
        "flow-depth",
        "block-depth",
        "nul",
        "bell",
        "nan",
    ],
)
def test_refusals_are_the_same(text: str) -> None:
    a, b = _both(text)
    assert isinstance(a, str) and a == b
