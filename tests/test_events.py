from datetime import date
from decimal import Decimal as D

import pytest

from compliance.events import Shipment, imo_check_digit_ok, parse_shipment

BASE = {"id": "a", "date": "2019-06-10"}


def problems(**fields: object) -> list[str]:
    result = parse_shipment({**BASE, **fields})
    assert isinstance(result, list), f"expected problems, got {result!r}"
    return [str(p) for p in result]


def test_normalisation() -> None:
    s = parse_shipment(
        {
            **BASE,
            "hs_code": "2710.19",
            "destination": "kp",
            "unit": "BBL",
            "quantity": "1,000.5",
            "vessel_imo": "IMO 9191773",
            "extra_col": "x",
        }
    )
    assert isinstance(s, Shipment)
    assert (s.hs_code, s.destination, s.unit, s.quantity) == ("271019", "KP", "bbl", D("1000.5"))
    assert s.vessel_imo == "9191773" and s.extra == {"extra_col": "x"}


def test_datetime_is_taken_at_its_utc_date() -> None:
    s = parse_shipment({"id": "a", "date": "2019-12-31T22:00:00-05:00"})
    assert isinstance(s, Shipment) and s.date == date(2020, 1, 1)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"date": "2019-02-30"}, "date: must be a real ISO date YYYY-MM-DD (got '2019-02-30')"),
        ({"quantity": "-5", "unit": "bbl"}, "quantity: must be ≥ 0 (got '-5')"),
        ({"quantity": "NaN", "unit": "bbl"}, "quantity: must be a finite number (got 'NaN')"),
        ({"quantity": "inf", "unit": "bbl"}, "quantity: must be a finite number (got 'inf')"),
        ({"quantity": "1e400", "unit": "bbl"}, "quantity: is implausibly large"),
        ({"quantity": "12", "unit": "barrels"}, "unit: unknown unit"),
        ({"quantity": "12"}, "unit: is required with quantity"),
        ({"unit": "bbl"}, "quantity: is required with unit"),
        ({"value": "10"}, "currency: is required with value"),
        ({"vessel_imo": "919177"}, "vessel_imo: must be a 7-digit IMO number (got '919177')"),
        ({"vessel_imo": "IMO 91917A4"}, "vessel_imo: must be a 7-digit IMO number"),
        ({"destination": "XX"}, "destination: must be an ISO 3166-1 alpha-2 code (got 'XX')"),
        ({"hs_code": "27a0"}, "hs_code: must be 2–10 digits"),
        ({"transfer": "teleport"}, "transfer: must be one of port, ship_to_ship"),
        ({"id": ""}, "id: is required"),
    ],
)
def test_each_problem_names_field_value_and_expectation(
    fields: dict[str, object], expected: str
) -> None:
    assert any(p.startswith(expected) for p in problems(**fields)), problems(**fields)


def test_every_problem_is_reported_at_once() -> None:
    found = problems(date="2019-13-01", quantity="-1", unit="bbl", destination="ZZ")
    assert [p.split(":")[0] for p in found] == ["date", "quantity", "destination"]


def test_undecodable_bytes_are_rejected_not_crashed() -> None:
    text = b"caf\xff".decode("utf-8", "surrogateescape")
    assert problems(commodity=text)[0].startswith("commodity: is not valid UTF-8")


def test_imo_check_digits() -> None:
    for imo in ("9191773", "9114555", "9020534", "7389704", "8126070", "8312497", "8705539"):
        assert imo_check_digit_ok(imo)
    assert not imo_check_digit_ok("9191770")


def test_a_failing_check_digit_is_kept_for_the_rules_to_flag() -> None:
    # A falsified IMO number is evidence (issue 13): it is no longer a reason to reject.
    shipment = parse_shipment({"id": "a", "date": "2019-01-01", "vessel_imo": "IMO 8660314"})
    assert isinstance(shipment, Shipment) and shipment.vessel_imo == "8660314"


def test_shipment_constructor_validates() -> None:
    assert (
        Shipment.model_validate({"id": "x", "date": "2019-01-01", "destination": "kp"}).destination
        == "KP"
    )
    with pytest.raises(ValueError, match="destination"):
        Shipment.model_validate({"id": "x", "date": "2019-01-01", "destination": "Narnia"})


@pytest.mark.parametrize(
    ("hs_code", "expected"),
    [
        (901, "hs_code: is a number that lost its leading zero; give HS codes as text (got '901')"),
        (2710.0, "hs_code: is a number, which drops zeros; give HS codes as text (got '2710.0')"),
        (8471.3, "hs_code: is a number, which drops zeros; give HS codes as text (got '8471.3')"),
    ],
)
def test_hs_codes_read_as_numbers_are_not_silently_misread(hs_code: object, expected: str) -> None:
    # 0901 (coffee) read as 901 would be chapter 90; 8471.30 read as 8471.3 would be 84713.
    assert problems(hs_code=hs_code) == [expected]


def test_an_integer_hs_code_with_its_digits_intact_is_accepted() -> None:
    shipment = parse_shipment({**BASE, "hs_code": 2710})
    assert isinstance(shipment, Shipment) and shipment.hs_code == "2710"


def test_the_validation_memo_changes_no_outcome() -> None:
    rows = [
        {"id": "a", "date": "2019-01-01", "hs_code": "2710.19", "destination": "kp"},
        {"id": "b", "date": "2019-02-30", "hs_code": "27x", "destination": "K\u0440"},
    ]
    first = [parse_shipment(r) for r in rows]
    again = [parse_shipment(r) for r in rows]  # from the memo now
    assert isinstance(first[0], Shipment) and first[0] == again[0]
    assert first[0].hs_code == "271019"
    assert isinstance(first[1], list) and isinstance(again[1], list)
    assert [str(p) for p in first[1]] == [str(p) for p in again[1]]
    assert len(again[1]) == 3
    for n in range(20_000):  # ever new values: the memo forgets, results do not change
        assert parse_shipment({"id": "x", "date": "2019-01-01", "commodity": f"c{n}"})
    assert parse_shipment(rows[0]) == first[0]
