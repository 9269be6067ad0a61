"""The CLI writes a report's text in encoded pieces, never as one copy in bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from compliance.cli import encoded, write_report

# Any code point, lone surrogates included (a log's undecodable bytes, as os.fsdecode gives
# them), and pieces so small that every boundary falls somewhere.
texts = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
    ),
    max_size=60,
)


@given(texts, st.integers(min_value=1, max_value=7))
def test_pieces_join_to_the_whole_encoding(text: str, piece: int) -> None:
    pieces = list(encoded(text, piece))
    assert b"".join(pieces) == text.encode("utf-8", "backslashreplace")
    assert all(pieces)  # no empty writes
    assert len(pieces) == -(-len(text) // piece)


@given(st.lists(texts, max_size=8), st.integers(min_value=1, max_value=7))
def test_strings_in_pieces_join_to_the_whole_encoding(texts: list[str], piece: int) -> None:
    """A report's pieces (a finding at a time) are written as the whole text would be,
    in writes of about `piece` characters each: small pieces are gathered, large ones
    cut."""
    writes = list(encoded(texts, piece))
    assert b"".join(writes) == "".join(texts).encode("utf-8", "backslashreplace")
    assert all(writes)
    # Under 2 × piece characters a write; a character is at most 6 bytes ("\\udcff").
    assert all(len(w) < 2 * piece * 6 for w in writes)


def test_write_report_takes_text_and_writes_it_valid(tmp_path: Path) -> None:
    text = '{"id": "S\udcff1", "name": "Ünïcode \U0001f6a2"}\n' * 3
    target = tmp_path / "report.json"
    write_report(target, text)
    data = target.read_bytes()
    assert data == text.encode("utf-8", "backslashreplace")
    assert b"\\udcff" in data
    data.decode("utf-8")  # valid UTF-8 whatever the text held
    write_report(target, iter(text.splitlines(keepends=True)))  # or its pieces
    assert target.read_bytes() == data
