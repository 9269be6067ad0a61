"""Selectors: the `match` and `unless` language of rule files.

`field: value` · `field: [a, b]` · `field: {prefix: [...]}` · `field: {gt|gte|lt|lte: n}` ·
`field: {present: bool}` · `all: [...]` · `any: [...]` · `not: {...}`. Several keys in
one mapping must all hold. Values are normalised as event fields are (country codes
upper-case, units lower-case, HS codes digits only), so a selector compares like with
like.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from compliance.events import (
    CODE_FIELDS,
    COUNTRY_FIELDS,
    DATE_FIELDS,
    FIELDS,
    NUMERIC_FIELDS,
    TRANSFERS,
    normalise_code,
)
from compliance.units import UNITS

__all__ = [
    "COMPARE",
    "NAME_JUNK",
    "All",
    "AnyOf",
    "BadCheckDigit",
    "Compare",
    "Equals",
    "NameIn",
    "Not",
    "Prefix",
    "Present",
    "Selector",
    "fields_of",
    "normalise_name",
    "parse_selector",
    "to_dict",
]

# What each comparator does, for numbers and Polars expressions alike.
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}  # fmt: skip
COMPARATORS = tuple(COMPARE)
OPERATORS = ("prefix", "present", *COMPARATORS)
COMBINATORS = ("all", "any", "not")


@dataclass(frozen=True)
class Equals:
    field: str
    values: tuple[Any, ...]  # any of


@dataclass(frozen=True)
class BadCheckDigit(Equals):
    """An IMO number in `field` whose check digit fails. Built by the evaluator for
    designation rules, never written in rule files.

    As an `Equals` of no values it matches no row the columnar engine's screen passes:
    the screen lets no failing check digit through, so those rows take the Python path,
    where the evaluator tests the digit itself.
    """

    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class NameIn(Equals):
    """The field's text, normalised by `normalise_name`, is one of `values` (normalised
    names). Built by the evaluator for names on a designation list."""


NAME_JUNK = r"[^0-9A-Za-z]+"
"""What `normalise_name` turns into one space: everything but ASCII letters and digits
(Python's `re` and Polars' regex agree on this class for any text)."""
_NAME_JUNK = re.compile(NAME_JUNK)


def normalise_name(text: str) -> str:
    """A name as lists compare it: ASCII letters upper-case, every run of other
    characters one space, none at the ends.

    >>> normalise_name("Min-Ning De You  078")
    'MIN NING DE YOU 078'
    >>> normalise_name("BILLIONS NO.18")
    'BILLIONS NO 18'
    """
    return _NAME_JUNK.sub(" ", text).strip(" ").upper()


@dataclass(frozen=True)
class Prefix:
    field: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    number: Decimal


@dataclass(frozen=True)
class Present:
    field: str
    present: bool


@dataclass(frozen=True)
class All:
    items: tuple[Selector, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Selector, ...]


@dataclass(frozen=True)
class Not:
    item: Selector


Selector = Equals | Prefix | Compare | Present | All | AnyOf | Not
MATCH_ALL: Selector = All(())

Report = Callable[[tuple[object, ...], str], None]
"""Callback receiving (path within the rule, message) for each problem found."""


def parse_selector(raw: object, path: tuple[object, ...], report: Report) -> Selector:
    """Parse a selector mapping, reporting every problem; returns a best-effort tree."""
    if not isinstance(raw, Mapping) or not raw:
        report(path, f"a selector must be a non-empty mapping (got {_show(raw)})")
        return MATCH_ALL
    parts: list[Selector] = []
    for key, value in raw.items():
        here = (*path, key)
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                report(here, f"'{key}' takes a non-empty list of selectors (got {_show(value)})")
                continue
            items = tuple(parse_selector(v, (*here, i), report) for i, v in enumerate(value))
            parts.append(All(items) if key == "all" else AnyOf(items))
        elif key == "not":
            parts.append(Not(parse_selector(value, here, report)))
        elif isinstance(key, str) and (key in _FIELDS or (key.startswith("extra.") and key[6:])):
            parts.extend(_parse_field(key, value, here, report))
        else:
            hint = difflib.get_close_matches(str(key), [*_FIELDS, *COMBINATORS], n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            report(
                here,
                f"unknown field{suggestion}; expected an event field (destination, hs_code, …) "
                "or extra.<column>",
            )
    return parts[0] if len(parts) == 1 else All(tuple(parts))


_FIELDS = tuple(f for f in FIELDS)


def _parse_field(
    field: str, value: object, path: tuple[object, ...], report: Report
) -> Iterator[Selector]:
    if isinstance(value, Mapping):
        if not value:
            report(path, "an operator mapping must not be empty")
        for op, operand in value.items():
            here = (*path, op)
            if op == "prefix":
                items = operand if isinstance(operand, list) else [operand]
                prefixes = [_prefix(field, p, here, report) for p in items]
                if not items:
                    report(here, "'prefix' needs at least one prefix")
                yield Prefix(field, tuple(p for p in prefixes if p is not None))
            elif op == "present":
                if not isinstance(operand, bool):
                    report(here, f"'present' takes true or false (got {_show(operand)})")
                yield Present(field, bool(operand))
            elif op in COMPARATORS:
                number = _number(operand)
                if number is None:
                    report(here, f"'{op}' takes a number (got {_show(operand)})")
                    continue
                if field not in NUMERIC_FIELDS and not field.startswith("extra."):
                    report(here, f"'{op}' compares numbers; '{field}' is not numeric")
                yield Compare(field, op, number)
            else:
                hint = difflib.get_close_matches(str(op), OPERATORS, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                report(
                    here, f"unknown operator{suggestion}; expected one of {', '.join(OPERATORS)}"
                )
        return
    items = value if isinstance(value, list) else [value]
    if not items:
        report(path, "an any-of list must not be empty")
    values = [
        _value(field, v, (*path, i) if isinstance(value, list) else path, report)
        for i, v in enumerate(items)
    ]
    yield Equals(field, tuple(v for v in values if v is not None))


def _show(v: object) -> str:
    return repr(v) if not isinstance(v, Mapping | list) else type(v).__name__


def _number(v: object) -> Decimal | None:
    if isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v)) if isinstance(v, int | float | Decimal | str) else None
    except InvalidOperation:
        return None
    return d if d is not None and d.is_finite() else None


def _prefix(field: str, p: object, path: tuple[object, ...], report: Report) -> str | None:
    text = str(p)
    if field.startswith("extra.") or field not in CODE_FIELDS:
        return text
    code = normalise_code(field, text, prefix=True)
    if code is None:
        expected = "1–10 digits" if field == "hs_code" else "ASCII text"
        report(path, f"a '{field}' prefix is {expected} (got {_show(p)})")
    return code


_EXPECTED = {
    **dict.fromkeys(COUNTRY_FIELDS, "an ISO 3166-1 alpha-2 code"),
    "currency": "an ISO 4217 code",
    "unit": f"a unit, one of {', '.join(sorted(UNITS))}",
    "transfer": f"one of {', '.join(TRANSFERS)}",
    "hs_code": "an HS code of 2–10 digits",
    "product": "a product name in ASCII",
    "source": "a source name in ASCII",
}


def _value(field: str, v: object, path: tuple[object, ...], report: Report) -> object:
    if v is None or isinstance(v, Mapping | list):
        report(path, f"expected a value for '{field}' (got {_show(v)})")
        return None
    text = str(v).strip()
    if field in _EXPECTED:
        code = normalise_code(field, text)
        if code is None:
            report(path, f"'{field}' takes {_EXPECTED[field]} (got {_show(v)})")
        return code
    if field in NUMERIC_FIELDS:
        number = _number(v)
        if number is None:
            report(path, f"'{field}' takes a number (got {_show(v)})")
        return number
    if field in DATE_FIELDS:
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(text)
        except ValueError:
            report(path, f"'{field}' takes an ISO date (got {_show(v)})")
            return None
    return text


def fields_of(selector: Selector) -> set[str]:
    """Every event field a selector reads."""
    if isinstance(selector, All | AnyOf):
        return set().union(*(fields_of(s) for s in selector.items)) if selector.items else set()
    if isinstance(selector, Not):
        return fields_of(selector.item)
    return {selector.field}


def to_dict(selector: Selector) -> dict[str, object]:
    """The rule-file form of a selector (values as JSON-ready scalars)."""

    def scalar(v: object) -> object:
        return str(v) if isinstance(v, Decimal | date) else v

    if isinstance(selector, All):
        return {"all": [to_dict(s) for s in selector.items]}
    if isinstance(selector, AnyOf):
        return {"any": [to_dict(s) for s in selector.items]}
    if isinstance(selector, Not):
        return {"not": to_dict(selector.item)}
    if isinstance(selector, Equals):
        values = [scalar(v) for v in selector.values]
        return {selector.field: values[0] if len(values) == 1 else values}
    if isinstance(selector, Prefix):
        return {selector.field: {"prefix": list(selector.prefixes)}}
    if isinstance(selector, Compare):
        return {selector.field: {selector.op: scalar(selector.number)}}
    return {selector.field: {"present": selector.present}}
