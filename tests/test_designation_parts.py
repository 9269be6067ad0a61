"""A designation finding's `match` and message, written once per (entry, field) and
reused for every event (`findings._Entry`): the same keys in the same order (the JSON
report writes them so) and the same words, for hits by identifier and by name, with
several designation dates and measures, for `designated` and `associated` rules."""

from __future__ import annotations

from pathlib import Path

import compliance

RULES = """
document: {symbol: TEST}
rules:
  - id: listed
    kind: designation
    citation: test list
    fields: [vessel_imo]
    name_fields: [vessel_name]
    designations:
      - {identifier: "9354521", name: ALPHA, designated: "2018-01-01; 2018-06-01",
         measures: [asset_freeze, port_entry_ban], basis: listing of 2018}
      - {name: BRAVO ONE, designated: "2018-02-01; 2019-01-01", measures: [deflag]}
  - id: near
    kind: designation
    citation: test association
    fields: [counterparty_imo]
    associate: vessel_imo
    designations:
      - {identifier: "9123453", name: CHARLIE, designated: "2018-03-01", measures: [deflag]}
"""


def test_matches_and_messages_name_each_entry_as_before(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rulebook = compliance.load_rulebook(path)
    rows = [
        {"id": f"a{i}", "date": f"2019-05-0{i}", "vessel_imo": "9354521"} for i in (1, 2)
    ] + [
        {"id": "b", "date": "2019-05-03", "vessel_name": "bravo  one"},
        {"id": "c", "date": "2019-05-04", "vessel_imo": "9191773", "counterparty_imo": "9123453"},
    ]  # fmt: skip
    report = compliance.evaluate(rows, rulebook, engine="stream")
    found = {f.trigger: f for f in report.findings}
    designated = "2018-01-01; 2018-06-01"
    for trigger in ("a1", "a2"):
        f = found[trigger]
        assert f.match == {"field": "vessel_imo", "designated": "2018-01-01",
                           "entry": "ALPHA (9354521)", "identifier": "9354521", "name": "ALPHA",
                           "dates": designated, "measures": "asset_freeze; port_entry_ban"}  # fmt: skip
        assert list(f.match) == ["field", "designated", "entry", "identifier", "name", "dates",
                                 "measures"]  # fmt: skip
        assert f.citation == "listing of 2018"
    assert found["a1"].match is not found["a2"].match  # each finding its own dict
    assert found["a1"].message == (
        "listed: shipment a1 on 2019-05-01 involves vessel_imo 9354521: ALPHA (9354521), "
        "designated on 2018-01-01 (asset freeze, port entry ban) (listing of 2018)"
    )
    b = found["b"]
    assert b.match is not None
    assert list(b.match.items()) == [
        ("field", "vessel_name"), ("designated", "2018-02-01"),
        ("entry", "BRAVO ONE (no identifier listed)"), ("name", "BRAVO ONE"), ("by", "name"),
        ("value", "bravo  one"), ("dates", "2018-02-01; 2019-01-01"), ("measures", "deflag"),
    ]  # fmt: skip
    assert b.message == (
        "listed: shipment b on 2019-05-03 involves vessel_name 'bravo  one', the name of "
        "BRAVO ONE (no identifier listed), designated on 2018-02-01 (deflag) (test list)"
    )
    c = found["c"]
    assert c.kind == "associated" and c.match is not None
    assert list(c.match.items()) == [
        ("field", "counterparty_imo"), ("designated", "2018-03-01"), ("entry", "CHARLIE (9123453)"),
        ("identifier", "9123453"), ("name", "CHARLIE"), ("measures", "deflag"),
        ("associate", "vessel_imo"), ("associated", "9191773"),
    ]  # fmt: skip
    assert c.message == (
        "near: vessel_imo 9191773 of shipment c on 2019-05-04 is associated with "
        "counterparty_imo 9123453: CHARLIE (9123453), designated on 2018-03-01 (test association)"
    )
