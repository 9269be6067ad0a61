"""Loading rule files: every problem located, nothing executed, nothing outside read."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import RuleFileError, load_rulebook
from compliance.rulebook.schema import DesignationRule

RULE = "  - id: r\n    kind: prohibition\n    citation: c\n    match: {destination: KP}\n"


def problems(tmp_path: Path, text: str, name: str = "rules.yaml") -> list[str]:
    (tmp_path / name).write_text(text)
    with pytest.raises(RuleFileError) as caught:
        load_rulebook(tmp_path)
    return [str(d).replace(f"{tmp_path}/", "") for d in caught.value.diagnostics]


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, "rules:\n  - id: r\n    id: s\n    kind: prohibition\n")
    assert found == ["rules.yaml:3:5: duplicate key 'id' (first at line 2)"]


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    (found,) = problems(tmp_path, bomb)
    assert found.startswith("rules.yaml:1:4: anchors and aliases")


def test_python_tags_are_not_executed(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "rules: !!python/object/apply:os.system ['touch pwned']\n")
    assert "not allowed" in found or "invalid YAML" in found
    assert not (tmp_path / "pwned").exists()


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n" + RULE)
    found = problems(tmp_path, "rules:\n" + RULE, "b.yaml")
    assert found == ["b.yaml:2:9: rule r: id: duplicate rule id (first defined in a.yaml:2)"]


def test_designation_file_outside_the_rulebook(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (tmp_path / "secret.yaml").write_text("designations: []\n")
    text = (
        "rules:\n  - id: v\n    kind: designation\n    citation: c\n"
        "    designations: {file: ../secret.yaml}\n"
    )
    (book / "rules.yaml").write_text(text)
    with pytest.raises(RuleFileError, match="outside the rulebook"):
        load_rulebook(book)


def test_designation_file_inside_the_rulebook(tmp_path: Path) -> None:
    (tmp_path / "vessels.csv").write_text(
        "identifier,name,designated\n9191773,BILLIONS NO. 18,2017-12-28\n"
    )
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: v\n    kind: designation\n"
        "    citation: c\n    designations: {file: vessels.csv}\n"
    )
    rule = load_rulebook(tmp_path).get("v")
    assert isinstance(rule, DesignationRule)
    assert [e.identifier for e in rule.entries] == ["9191773"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "match: {destinaton: KP}",
            "match.destinaton: unknown field (did you mean 'destination'?)",
        ),
        ("match: {destination: KP}\n    colour: red", "colour: unknown key"),
        (
            "match: {destination: KP}\n    effective: {from: 2019-01-02, to: 2019-01-01}",
            "effective: to (2019-01-01) is before from (2019-01-02)",
        ),
    ],
)
def test_rule_errors_name_file_line_rule_and_field(
    tmp_path: Path, rule: str, expected: str
) -> None:
    found = problems(
        tmp_path, f"rules:\n  - id: r\n    kind: prohibition\n    citation: c\n    {rule}\n"
    )
    assert any(expected in f and f.startswith("rules.yaml:") and "rule r:" in f for f in found), (
        found
    )


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("limit: [{amount: 0, unit: bbl}]\n    period: {calendar: year}", "greater than 0"),
        (
            "limit: [{amount: 5, unit: barrels}]\n    period: {calendar: year}",
            "unknown unit 'barrels'",
        ),
        (
            "limit: [{amount: 5, unit: bbl}]\n    period: {months: 0, anchor: 2017-12-22}",
            "period.months",
        ),
        (
            "limit: [{amount: 5, unit: bbl}]\n    period: {from: 2019-02-01, to: 2019-01-01}",
            "period: to",
        ),
        ("limit: [{amount: 5, unit: bbl}]\n    period: {weeks: 2}", "a period is"),
        (
            "limit: [{amount: 5, unit: bbl}]\n    period: {calendar: year}\n    group_by: [suplier]",
            "unknown field 'suplier' (did you mean 'supplier'?)",
        ),
    ],
)
def test_cap_errors(tmp_path: Path, fragment: str, expected: str) -> None:
    text = f"rules:\n  - id: c1\n    kind: cap\n    citation: c\n    match: {{destination: KP}}\n    {fragment}\n"
    found = problems(tmp_path, text)
    assert any(expected in f for f in found), found


def test_conversion_naming_unknown_product(tmp_path: Path) -> None:
    found = problems(tmp_path, "conversions:\n  - {hs_code: '2710', product: disel}\n")
    assert found == [
        "rules.yaml:2:5: conversions: unknown product 'disel' (did you mean 'diesel'?)"
    ]


def test_get_suggests_close_rule_ids(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules:\n" + RULE)
    with pytest.raises(KeyError, match="did you mean 'r'"):
        load_rulebook(tmp_path).get("r2")
