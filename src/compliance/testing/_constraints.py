"""Selector trees solved into per-field constraints, so strategies can build matching events.

A selector is put in disjunctive normal form (a list of conjunctions of literals); each
conjunction becomes one `Constraints` (a `FieldSpec` per field) or is dropped when its
literals contradict each other (`destination: KP` and `destination: CN`, say). An empty
list therefore proves that no event can satisfy the selector.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from compliance._codes import COUNTRIES, CURRENCIES
from compliance.events import COUNTRY_FIELDS, MAX_AMOUNT, TRANSFERS, imo_check_digit_ok
from compliance.rulebook.selectors import (
    All,
    AnyOf,
    Compare,
    Equals,
    Not,
    Prefix,
    Present,
    Selector,
)
from compliance.units import UNITS

__all__ = ["MAX_TERMS", "Constraints", "DateRange", "FieldSpec", "Literal", "solve"]

MAX_TERMS = 512  # conjunctions kept; a selector with more is sampled, never enumerated


@dataclass(frozen=True)
class DateRange:
    """A literal the selector language lacks: `lo <= field <= hi` on a date field."""

    field: str
    lo: date | None
    hi: date | None


Leaf = Equals | Prefix | Compare | Present | DateRange
Literal = tuple[Leaf, bool]  # (leaf, negated)


@dataclass
class FieldSpec:
    """What one field's value must be, if present, and whether it must be present."""

    present: bool | None = None
    pinned: list[Any] = field(default_factory=list)
    excluded: list[Any] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    not_prefixes: list[str] = field(default_factory=list)
    lo: Any = None
    lo_strict: bool = False
    hi: Any = None
    hi_strict: bool = False

    def copy(self) -> FieldSpec:
        return FieldSpec(self.present, list(self.pinned), list(self.excluded),
                         list(self.prefixes), list(self.not_prefixes), self.lo, self.lo_strict,
                         self.hi, self.hi_strict)  # fmt: skip

    def ok(self, value: Any) -> bool:
        """Does a present `value` satisfy every constraint on it?"""
        text = str(value)
        if any(not _equal(value, p) for p in self.pinned):
            return False
        if any(_equal(value, x) for x in self.excluded):
            return False
        if not all(text.startswith(p) for p in self.prefixes):
            return False
        if any(text.startswith(p) for p in self.not_prefixes):
            return False
        if self.lo is not None or self.hi is not None:
            number = _comparable(value, self.lo if self.lo is not None else self.hi)
            if number is None:
                return False
            if self.lo is not None and (number <= self.lo if self.lo_strict else number < self.lo):
                return False
            if self.hi is not None and (number >= self.hi if self.hi_strict else number > self.hi):
                return False
        return True

    @property
    def constrained(self) -> bool:
        return bool(self.pinned or self.excluded or self.prefixes or self.not_prefixes
                    or self.lo is not None or self.hi is not None)  # fmt: skip


def _comparable(value: Any, like: Any) -> Any:
    if isinstance(like, date):
        return value if isinstance(value, date) else None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _equal(value: Any, other: Any) -> bool:
    # extra.<name> columns are text while selector values may be numbers (`extra.grade: 5`).
    if isinstance(value, str) and not isinstance(other, str):
        return value == str(other)
    return bool(value == other)


Constraints = dict[str, FieldSpec]

# Finite value domains: a conjunction is feasible on these fields iff a candidate remains.
DOMAINS: dict[str, tuple[str, ...]] = {
    **{f: tuple(sorted(COUNTRIES)) for f in COUNTRY_FIELDS},
    "transfer": TRANSFERS,
    "unit": tuple(sorted(UNITS)),
    "currency": tuple(sorted(CURRENCIES)),
}
DIGIT_FIELDS = frozenset({"hs_code", "vessel_imo", "counterparty_imo"})
NUMERIC = frozenset({"quantity", "value"})


_CANDIDATES: dict[tuple[str, str], list[str]] = {}


def candidates(name: str, spec: FieldSpec) -> list[str]:
    """The domain values satisfying `spec` (memoised: rulebooks repeat their constraints)."""
    key = (name, repr(spec))
    if key not in _CANDIDATES:
        _CANDIDATES[key] = [v for v in DOMAINS[name] if spec.ok(v)]
    return _CANDIDATES[key]


def _dnf(selector: Selector | DateRange, negated: bool) -> list[list[Literal]]:
    if isinstance(selector, Not):
        return _dnf(selector.item, not negated)
    if isinstance(selector, All | AnyOf):
        parts = [_dnf(item, negated) for item in selector.items]
        if isinstance(selector, All) != negated:  # a conjunction
            terms: list[list[Literal]] = [[]]
            for part in parts:
                terms = [a + b for a, b in itertools.product(terms, part)
                         if _merge(a + b) is not None][:MAX_TERMS]  # fmt: skip
            return terms
        return list(itertools.chain.from_iterable(parts))[:MAX_TERMS]
    # A leaf with several values is an any-of: split it so each term pins one value.
    if isinstance(selector, Equals) and not negated:
        return [[(Equals(selector.field, (v,)), False)] for v in selector.values]
    if isinstance(selector, Prefix) and not negated:
        return [[(Prefix(selector.field, (p,)), False)] for p in selector.prefixes]
    return [[(selector, negated)]]


def _merge(literals: list[Literal]) -> Constraints | None:
    """Per-field constraints of a conjunction; None when they contradict."""
    specs: dict[str, FieldSpec] = {}
    for leaf, negated in literals:
        spec = specs.setdefault(leaf.field, FieldSpec())
        want: bool | None = None
        if isinstance(leaf, Present):
            want = leaf.present != negated
        elif isinstance(leaf, Equals):
            if negated:
                spec.excluded.extend(leaf.values)
            else:
                spec.pinned.extend(leaf.values)
                want = True
        elif isinstance(leaf, Prefix):
            if negated:
                spec.not_prefixes.extend(leaf.prefixes)
            else:
                spec.prefixes.extend(leaf.prefixes)
                want = True
        elif isinstance(leaf, Compare):
            op = (
                {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}[leaf.op]
                if negated
                else leaf.op
            )
            _bound(spec, op, leaf.number)
            want = None if negated else True  # a negated comparison also holds when absent
        else:  # DateRange: always positive, the event must have the date
            if leaf.lo is not None:
                _bound(spec, "gte", leaf.lo)
            if leaf.hi is not None:
                _bound(spec, "lte", leaf.hi)
            want = True
        if want is not None:
            if spec.present is not None and spec.present != want:
                return None
            spec.present = want
    if not _couple(specs):
        return None
    for name, spec in list(specs.items()):
        if spec.present is not False and not feasible(name, spec):
            if spec.present:
                return None
            spec.present = False  # only absence satisfies it (`not: {destination: {prefix: [""]}}`)
    # Again: a quantity found to be necessarily absent takes its unit with it.
    return specs if _couple(specs) else None


def _couple(specs: dict[str, FieldSpec]) -> bool:
    """A quantity needs a unit and a value a currency, and the other way round."""
    for a, b in (("quantity", "unit"), ("value", "currency")):
        sa, sb = specs.get(a), specs.get(b)
        wants = {s.present for s in (sa, sb) if s is not None} - {None}
        if len(wants) > 1:
            return False
        if wants:
            want = wants.pop()
            for name in (a, b):
                specs.setdefault(name, FieldSpec()).present = want
    return True


def _bound(spec: FieldSpec, op: str, number: Any) -> None:
    if op in ("gt", "gte"):
        strict = op == "gt"
        if spec.lo is None or number > spec.lo or (number == spec.lo and strict):
            spec.lo, spec.lo_strict = number, strict
    else:
        strict = op == "lt"
        if spec.hi is None or number < spec.hi or (number == spec.hi and strict):
            spec.hi, spec.hi_strict = number, strict


def feasible(name: str, spec: FieldSpec) -> bool:
    """Can some valid value of this field satisfy `spec`? (Sound for every field we build.)"""
    if spec.pinned:
        return all(spec.ok(p) and _valid(name, p) for p in spec.pinned)
    if name in DOMAINS:
        return bool(candidates(name, spec))
    if spec.lo is not None or spec.hi is not None:
        lo, hi = spec.lo, spec.hi
        if name in NUMERIC:
            lo = max(lo, Decimal(0)) if lo is not None else Decimal(0)
            hi = min(hi, MAX_AMOUNT) if hi is not None else MAX_AMOUNT
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (
                spec.lo_strict or spec.hi_strict))):  # fmt: skip
            return False
    if spec.prefixes:
        longest = max(spec.prefixes, key=len)
        if not all(longest.startswith(p) for p in spec.prefixes):
            return False
        if any(longest.startswith(p) for p in spec.not_prefixes):
            return False
        if name in DIGIT_FIELDS and not longest.isdigit() and longest:
            return False
        if name == "hs_code" and len(longest) > 10:
            return False
        if name in ("vessel_imo", "counterparty_imo") and len(longest) > 7:
            return False
    elif "" in spec.not_prefixes:
        return False
    return True


def _valid(name: str, value: Any) -> bool:
    if name in ("vessel_imo", "counterparty_imo"):
        text = str(value)
        return len(text) == 7 and text.isdigit() and imo_check_digit_ok(text)
    if name in NUMERIC:
        return isinstance(value, Decimal) and Decimal(0) <= value <= MAX_AMOUNT
    if name in ("date", "reported_on"):
        return isinstance(value, date)
    if name in DOMAINS:
        return value in DOMAINS[name]
    return value is not None


def solve(selector: Selector | None, extra: Sequence[Literal] = ()) -> list[Constraints]:
    """Every satisfiable conjunction of `selector` (and `extra` literals), as constraints."""
    terms = _dnf(selector, False) if selector is not None else [[]]
    out = []
    for term in terms:
        merged = _merge([*term, *extra])
        if merged is not None:
            out.append(merged)
    return out
