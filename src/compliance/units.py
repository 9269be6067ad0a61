"""Quantities and exact unit conversions.

Volume and mass conversions are exact by definition (an oil barrel is 42 US gallons of
231 cubic inches: 158.987294928 litres; a US gallon is 3.785411784 litres). Converting
between mass and volume needs a product's barrels-per-tonne factor, which is a cited
figure and therefore lives in the rulebook, never here.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Mapping
from decimal import Decimal

__all__ = [
    "MASS_UNITS",
    "UNITS",
    "VOLUME_UNITS",
    "convert",
    "dimension",
    "for_people",
    "format_amount",
    "is_currency",
    "places_to_show",
]

# 34 significant digits (IEEE decimal128): ample for tens of millions of events summed at
# sub-litre resolution, and the same everywhere so both engines give identical strings.
CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)

VOLUME_UNITS: Mapping[str, Decimal] = {  # litres per unit
    "bbl": Decimal("158.987294928"),
    "l": Decimal(1),
    "kl": Decimal(1000),
    "m3": Decimal(1000),
    "gal": Decimal("3.785411784"),
}
MASS_UNITS: Mapping[str, Decimal] = {  # kilograms per unit
    "t": Decimal(1000),
    "kg": Decimal(1),
}
UNITS = frozenset(VOLUME_UNITS) | frozenset(MASS_UNITS)

_KG_PER_TONNE = Decimal(1000)


def dimension(unit: str) -> str:
    """`"volume"`, `"mass"` or `"currency"` for a normalised unit code."""
    if unit in VOLUME_UNITS:
        return "volume"
    if unit in MASS_UNITS:
        return "mass"
    return "currency"


def is_currency(code: str) -> bool:
    """True for a three-letter upper-case code that is not a quantity unit."""
    return len(code) == 3 and code.isalpha() and code.isupper() and code.lower() not in UNITS


def convert(
    quantity: Decimal, unit: str, target: str, barrels_per_tonne: Decimal | None = None
) -> Decimal | None:
    """Express `quantity` `unit` in `target`; None when that needs a factor we lack.

    >>> convert(Decimal(1), "kl", "bbl")
    Decimal('6.289810770432105128092855276408631')
    >>> convert(Decimal(2), "t", "bbl", Decimal("7.5"))
    Decimal('15.0')
    """
    if unit == target:
        return quantity
    src, dst = dimension(unit), dimension(target)
    if src == "currency" or dst == "currency":
        return None
    with decimal.localcontext(CONTEXT):
        if src == dst:
            table = VOLUME_UNITS if src == "volume" else MASS_UNITS
            return quantity * table[unit] / table[target]
        if barrels_per_tonne is None:
            return None
        if src == "mass":
            barrels = quantity * MASS_UNITS[unit] / _KG_PER_TONNE * barrels_per_tonne
            return barrels * VOLUME_UNITS["bbl"] / VOLUME_UNITS[target]
        tonnes = quantity * VOLUME_UNITS[unit] / VOLUME_UNITS["bbl"] / barrels_per_tonne
        return tonnes * _KG_PER_TONNE / MASS_UNITS[target]


def add(a: Decimal, b: Decimal) -> Decimal:
    """Sum in the shared context, so every engine rounds identically."""
    return CONTEXT.add(a, b)


def format_amount(value: Decimal, grouping: bool = False, places: int | None = None) -> str:
    """Plain decimal string without exponent or trailing zeros (`"500000"`, `"0.5"`).

    `places` rounds for people to read (messages, tables); machine output keeps every digit.
    """
    if places is None and not grouping:
        # str() is exact and fast; it is already the answer unless it has an exponent
        # or trailing zeros (a series writes hundreds of thousands of these).
        text = str(value)
        if "E" not in text and not ("." in text and text.endswith("0")):
            return text
    if places is not None:
        # Precision enough for every digit kept: places_to_show may ask for 30 places.
        exact = _exact(max(CONTEXT.prec, value.adjusted() + places + 2))
        # Quantized, the value has exactly `places` decimals: its trailing zeros are the
        # text's to drop (a cap finding's message formats four or five amounts).
        text = f"{value.quantize(_quantum(places), context=exact):{',' if grouping else ''}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    # In a context as precise as the value: the default one (28 digits) would round it.
    digits = max(len(value.as_tuple().digits), value.adjusted() + 1)
    exact = _exact(max(CONTEXT.prec, digits + 2))
    if value == value.to_integral_value():
        value = value.quantize(_ONE, context=exact)
    else:
        value = value.normalize(exact)
    return f"{value:,f}" if grouping else f"{value:f}"


_ONE = Decimal(1)


@functools.lru_cache(maxsize=64)
def _quantum(places: int) -> Decimal:
    return _ONE.scaleb(-places)


@functools.lru_cache(maxsize=64)
def _exact(prec: int) -> decimal.Context:
    """A context of `prec` digits, rounding half to even: one per precision, as a message
    formats several amounts (only the flags it sets are shared, and nothing reads them)."""
    return decimal.Context(prec=prec, rounding=decimal.ROUND_HALF_EVEN)


def places_to_show(*differences: Decimal, least: int = 2) -> int:
    """The fewest decimal places, at least `least`, at which no non-zero difference
    rounds to zero: what a rounded figure needs so it never hides a difference.

    >>> places_to_show(Decimal("60000"))
    2
    >>> places_to_show(Decimal("0.001"), Decimal("12.5"))
    3
    """
    places = least
    for d in differences:
        if d:
            # Rounded at its leading digit's place a number keeps that digit (≥ 1 there).
            places = max(places, -abs(d).adjusted())
    return places


def for_people(value: Decimal, places: int = 2) -> str:
    """An amount for people to read: thousands grouped, rounded to `places` decimals,
    trailing zeros dropped (`"533,054.15"`, `"500,000"`).

    Every amount a person reads goes through here (messages, table, Markdown, HTML);
    pick `places` with `places_to_show` so a difference beside it never reads as 0.

    >>> for_people(Decimal("500000.001"), places_to_show(Decimal("0.001")))
    '500,000.001'
    """
    # The text depends on the value and the places alone, but -0 equals 0 (the sign is
    # part of the key): a monitor's findings of one change quote the same total, limit
    # and basis several times, and every change quotes the limit.
    return _remembered(value, places, value.is_signed())


@functools.lru_cache(maxsize=4096)
def _remembered(value: Decimal, places: int, signed: bool) -> str:
    return format_amount(value, grouping=True, places=places)
