from decimal import Context
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.units import convert, format_amount, is_currency


@pytest.mark.parametrize(
    ("quantity", "unit", "target", "expected"),
    [
        ("158.987294928", "l", "bbl", "1"),
        ("1", "bbl", "gal", "42"),  # 42 US gallons: the oil barrel, not the 31.5-gallon one
        ("1", "kl", "m3", "1"),
        ("2", "t", "kg", "2000"),
        ("1000", "kg", "t", "1"),
        ("1", "bbl", "l", "158.987294928"),
    ],
)
def test_exact_conversions(quantity: str, unit: str, target: str, expected: str) -> None:
    assert convert(D(quantity), unit, target) == D(expected)


def test_mass_to_volume_needs_a_factor() -> None:
    assert convert(D(1), "t", "bbl") is None
    assert convert(D(525000), "t", "bbl", D("7.619")) == D("3999975.000")
    assert convert(D("7.5"), "bbl", "t", D("7.5")) == D(1)


def test_kilolitres_of_product_to_tonnes_go_through_barrels() -> None:
    tonnes = convert(D("158.987294928"), "kl", "t", D(10))
    assert tonnes == D(100)


def test_currency_is_never_converted() -> None:
    assert convert(D(1), "USD", "bbl") is None
    assert is_currency("USD") and not is_currency("bbl") and not is_currency("usd")


def test_format_amount() -> None:
    assert format_amount(D("500000.000")) == "500000"
    assert format_amount(D("1E+5")) == "100000"
    assert format_amount(D("0.50")) == "0.5"
    assert format_amount(D("1234567.555"), grouping=True, places=2) == "1,234,567.56"


def test_places_to_show_keeps_every_difference() -> None:
    from compliance.units import places_to_show

    assert places_to_show() == 2 and places_to_show(D(0), D(60000)) == 2
    assert places_to_show(D("0.001")) == 3 and places_to_show(D("-0.001")) == 3
    assert places_to_show(D("0.0005")) == 4  # at 3 places it would round (half even) to 0
    assert places_to_show(D("0.5"), least=6) == 6
    assert places_to_show(D("1E-20")) == 20


def test_for_people_groups_and_rounds() -> None:
    from compliance.units import for_people

    assert for_people(D("533054.1484669444730764178487")) == "533,054.15"
    assert for_people(D("500000.000")) == "500,000"
    assert for_people(D("500000.001"), 3) == "500,000.001"


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_format_amount_fast_path_is_the_exact_one(value: D) -> None:
    # The plain path: no exponent, no trailing zeros, every digit (as before the fast path).
    integral = value == value.to_integral_value()
    exact = Context(prec=100)
    plain = value.quantize(D(1), context=exact) if integral else value.normalize(exact)
    assert format_amount(value) == f"{plain:f}"
    assert D(format_amount(value)) == value


def _rounded_by_integers(value: D, places: int, grouping: bool) -> str:
    """What a person reads, from integer arithmetic alone: the value times 10**places
    rounded half to even, its trailing zeros dropped."""
    n = round(Fraction(value) * 10**places)
    whole, part = divmod(abs(n), 10**places)
    text = f"{whole:,}" if grouping else str(whole)
    decimals = str(part).rjust(places, "0").rstrip("0") if places else ""
    sign = "-" if value.is_signed() else ""  # -0.001 at two places reads "-0", as before
    return sign + text + ("." + decimals if decimals else "")


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.integers(0, 30),
    st.booleans(),
)
def test_amounts_for_people_are_rounded_half_even_without_trailing_zeros(
    value: D, places: int, grouping: bool
) -> None:
    from compliance.units import for_people

    assert format_amount(value, grouping=grouping, places=places) == _rounded_by_integers(
        value, places, grouping
    )
    # for_people remembers what it wrote: a value equal to an earlier one reads the same.
    assert for_people(value, places) == _rounded_by_integers(value, places, True)
    negated = value.copy_negate()  # unary minus would give 0 for 0, not -0
    assert for_people(negated, places) == _rounded_by_integers(negated, places, True)


def test_places_beyond_the_default_precision() -> None:
    from compliance.units import for_people

    tiny = "0" * 29 + "1"
    assert for_people(D(f"500000.{tiny}"), 30) == f"500,000.{tiny}"
    # More digits than the default context's 28 are kept, not rounded.
    assert format_amount(D("50843968333038457440.339797069")) == "50843968333038457440.339797069"
    assert format_amount(D("50843968333038457440.3397970690")) == "50843968333038457440.339797069"
