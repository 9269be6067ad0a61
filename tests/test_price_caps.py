"""Price caps (`kind: price_cap`): the event fields they read, the rule format, the
findings, the bundled `price-cap` rulebook and both engines on it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance.cli import main
from compliance.errors import RuleFileError
from compliance.events import Shipment, parse_shipment
from compliance.ruletests import load_cases

ROOT = Path(__file__).parents[1]
PRICE_CAP = ROOT / "rules" / "price-cap"
EXAMPLE = ROOT / "examples" / "price-cap-cargoes-2025.csv"

RULE = """
rules:
  - id: cap
    kind: price_cap
    citation: test act
    jurisdiction: [EU, US]
    match: {origin: RU}
    unit: bbl
    currency: USD
    values:
      2022-12-05: {level: 60, citation: act one}
      2025-09-03:
        level: 47.60
        citation: act two
        wind_down:
          - {contract_before: 2025-07-20, unloaded_before: 2025-10-19}
    safe_harbour: {attestation: [3], citation: guidance}
"""


def rulebook(tmp_path: Path, text: str = RULE) -> compliance.Rulebook:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return compliance.load_rulebook(path)


def cargo(**fields: Any) -> dict[str, Any]:
    base = {"id": "a", "date": "2023-03-01", "origin": "RU", "quantity": "1000", "unit": "bbl",
            "value": "60000", "currency": "USD", "provider": "EU"}  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


# Event fields -----------------------------------------------------------------------------


def test_new_fields_parse_and_normalise() -> None:
    e = parse_shipment(cargo(provider=" eu ; Gb;EU", attestation=3, contract_date="2025-07-01",
                             unloaded_on="2025-10-01T23:00:00+00:00"))  # fmt: skip
    assert isinstance(e, Shipment)
    assert e.provider == "EU;GB;EU" and e.providers == ("EU", "GB")
    assert e.attestation == "3"
    assert str(e.contract_date) == "2025-07-01" and str(e.unloaded_on) == "2025-10-01"
    assert e.to_record()["provider"] == "EU;GB;EU"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("provider", "EU;RU", "provider: must be jurisdiction codes separated by ';'"),
        ("provider", "EU;;US", "provider: must be jurisdiction codes"),
        ("attestation", "4", "attestation: must be an attestation tier: 1, 2 or 3"),
        ("attestation", "3.0", "attestation: must be an attestation tier"),
        ("contract_date", "2025-02-30", "contract_date: must be a real ISO date"),
        ("unloaded_on", "soon", "unloaded_on: must be a real ISO date"),
    ],
)
def test_bad_new_fields_are_rejected(field: str, value: str, message: str) -> None:
    problems = parse_shipment(cargo(**{field: value}))
    assert isinstance(problems, list)
    assert any(str(p).startswith(message) for p in problems), [str(p) for p in problems]


# Findings ---------------------------------------------------------------------------------


def findings(rb: compliance.Rulebook, *events: dict[str, Any]) -> list[Any]:
    return compliance.evaluate(list(events), rb, engine="stream").findings


def test_price_exactly_at_the_level_is_compliant_a_cent_above_breaches(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    assert findings(rb, cargo(value="60000")) == []
    [f] = findings(rb, cargo(value="60010"))
    assert (f.kind, f.severity, f.citation, f.group) == (
        "price_cap_exceeded", "breach", "act one", {"provider": "EU"})  # fmt: skip
    assert f.price is not None and f.price["price_per_bbl"] == "60.01"
    assert f.measure is not None and f.measure.excess == Decimal("0.01")
    assert f.to_dict()["price"]["level"] == "60"


def test_price_per_barrel_is_exact_after_conversion(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    # 158.987294928 l is one barrel exactly: USD 60 for it is at the cap, not over.
    assert findings(rb, cargo(quantity="158.987294928", unit="l", value="60")) == []
    assert findings(rb, cargo(quantity="158.987294928", unit="l", value="60.0000001"))


def test_each_named_jurisdiction_gets_its_finding(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    got = findings(rb, cargo(value="70000", provider="US;EU;GB"))
    assert [f.group["provider"] for f in got] == ["EU", "US"]
    assert findings(rb, cargo(value="70000", provider="GB")) == []
    assert findings(rb, cargo(value="70000", provider=None)) == []


def test_unpriced_cargo_is_a_warning_never_silently_compliant(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    for event in (cargo(value=None, currency=None), cargo(currency="EUR"),
                  cargo(quantity=None, unit=None), cargo(quantity="0")):  # fmt: skip
        [f] = findings(rb, event)
        assert (f.kind, f.severity) == ("unpriced", "warning"), event
    [f] = findings(rb, cargo(unit="t"))
    assert f.kind == "unconvertible"


def test_levels_hand_over_on_their_date_and_wind_down_keeps_the_old_one(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    assert findings(rb, cargo(date="2025-09-02", value="50000")) == []
    [f] = findings(rb, cargo(date="2025-09-03", value="50000"))
    assert f.price is not None and f.price["level_from"] == "2025-09-03"
    assert "would apply if shown: the log gives no unloaded_on or contract_date" in f.message
    exempt = cargo(date="2025-10-01", value="50000", contract_date="2025-07-19",
                   unloaded_on="2025-10-18")  # fmt: skip
    assert findings(rb, exempt) == []
    assert findings(rb, {**exempt, "unloaded_on": "2025-10-19"})
    assert findings(rb, {**exempt, "contract_date": "2025-07-20"})


def test_a_change_reaches_cargo_still_unloading_after_it(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    assert findings(rb, cargo(date="2025-09-01", value="50000")) == []
    [f] = findings(rb, cargo(date="2025-09-01", value="50000", unloaded_on="2025-11-01"))
    assert f.price is not None and f.price["level"] == "47.6"


def test_attestation_in_the_safe_harbour_is_a_notice(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    [f] = findings(rb, cargo(value="70000", attestation="3"))
    assert (f.kind, f.severity) == ("safe_harbour", "notice")
    [f] = findings(rb, cargo(value="70000", attestation="2"))
    assert f.kind == "price_cap_exceeded" and "gives no safe harbour" in f.message


def test_after_the_last_confirmed_change_the_level_may_have_been_revised(tmp_path: Path) -> None:
    rb = rulebook(tmp_path)
    [f] = findings(rb, cargo(date="2025-09-03", value="50000"))
    assert f.price is not None and "may_be_revised" not in f.price
    [f] = findings(rb, cargo(date="2025-09-04", value="50000"))
    assert f.price is not None and f.price["may_be_revised"] == "true"
    assert "may since have been revised" in f.message


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("jurisdiction: [EU, XX]", "unknown jurisdiction 'XX'"),
        ("unit: USD", "unknown unit 'USD'"),
        ("currency: bbl", "'bbl' is not an ISO 4217 currency code"),
        ("values: {}", "values"),
        ("values: {2022-12-05: {level: 0, citation: a}}", "values.2022-12-05.level"),
        (
            "values: {2022-12-05: {level: 60, citation: a, wind_down: [{}]}}",
            "a wind-down needs contract_before, loaded_before or unloaded_before",
        ),
        ("safe_harbour: {attestation: [4], citation: a}", "attestation tiers are 1, 2 or 3"),
        ("safe_harbour: {attestations: [3], citation: a}", "did you mean 'attestation'"),
    ],
)
def test_rule_errors(tmp_path: Path, fragment: str, expected: str) -> None:
    key = fragment.split(":")[0]
    lines = [line for line in RULE.splitlines() if not line.startswith(f"    {key}:")]
    if key == "values":
        lines = lines[: lines.index("      2022-12-05: {level: 60, citation: act one}")]
        lines = [line for line in lines if line.strip()]
    text = "\n".join(lines) + f"\n    {fragment}\n"
    with pytest.raises(RuleFileError) as e:
        rulebook(tmp_path, text)
    assert expected in str(e.value), str(e.value)


# The bundled rulebook -----------------------------------------------------------------------


def test_bundled_by_name_alone_and_together_with_dprk() -> None:
    price_cap = compliance.load_rulebook("price-cap")
    assert len(price_cap) == 9 and price_cap.sources == ("rules/price-cap (bundled)",)
    both = compliance.load_rulebook("dprk", "price-cap")
    assert len(both) == len(compliance.load_rulebook()) + 9


def test_engines_agree_on_every_rule_test_case() -> None:
    rb = compliance.load_rulebook(PRICE_CAP)
    for case in load_cases(PRICE_CAP):
        stream = compliance.evaluate(case.events, rb, engine="stream")
        columnar = compliance.evaluate(case.events, rb, engine="columnar")
        assert stream.to_json() == columnar.to_json(), case.name


def test_monitor_reports_what_evaluate_does_on_every_rule_test_case() -> None:
    rb = compliance.load_rulebook(PRICE_CAP)
    for case in load_cases(PRICE_CAP):
        expected = compliance.evaluate(case.events, rb, engine="stream")
        monitor = compliance.Monitor(rb, as_of=expected.as_of)
        for event in case.events:
            monitor.feed(event)
        assert monitor.report().to_json() == expected.to_json(), case.name


def test_engines_agree_on_the_example_log_file() -> None:
    rb = compliance.load_rulebook("price-cap")
    stream = compliance.evaluate(EXAMPLE, rb, engine="stream")
    columnar = compliance.evaluate(EXAMPLE, rb, engine="columnar")
    assert stream.to_json() == columnar.to_json()
    assert stream.accounting.rejected == 0 and stream.breaches


def test_cli_evaluates_the_example_citing_each_jurisdictions_act(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["evaluate", str(EXAMPLE), "--rules", "price-cap", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    cited = {(f["group"]["provider"], f["citation"].split(",")[0]) for f in report["findings"]}
    assert ("EU", "Reg. (EU) 833/2014") in cited
    assert any(p == "GB" and "OFSI" in c for p, c in cited)
    assert any(p == "US" and c.startswith("Determination") for p, c in cited)


def test_cli_rules_list_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--rules", "price-cap", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {"price_cap"} and len(rows) == 9


def test_cli_several_rulebooks_evaluate_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,date,hs_code,origin,destination,quantity,unit,value,currency,provider\n"
                    "a,2019-06-10,2710,CN,KP,600000,bbl,,,\n"
                    "b,2023-03-01,2709,RU,IN,1000,bbl,70000,USD,EU\n")  # fmt: skip
    code = main(["evaluate", str(path), "--rules", "dprk", "--rules", "price-cap",
                 "--format", "json"])  # fmt: skip
    rules = {f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert code == 1
    assert "unscr-2397-refined-petroleum" in rules and "eu-price-cap-crude" in rules


def test_generated_rulebook_doc_is_current() -> None:
    from compliance.rulebook.listing import list_markdown

    doc = ROOT / "docs" / "rulebook-price-cap.md"
    assert doc.read_text() == list_markdown(compliance.load_rulebook(PRICE_CAP)), (
        "regenerate: compliance rules list --rules price-cap --format markdown "
        "> docs/rulebook-price-cap.md"
    )


def test_wheel_ships_the_price_cap_rulebook() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"rules/price-cap" = "compliance/_rules/price-cap"' in text
