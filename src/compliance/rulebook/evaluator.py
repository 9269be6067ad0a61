"""The one evaluator of per-event rule semantics: `match`, `unless`, `effective` and
designation lists, compiled once into plain Python closures.

Every engine, `Monitor`, the rule tests, the hypothesis strategies and the reports ask
this module which rules an event reaches. Numbers compare exactly, as `Decimal`s: a rule
`quantity: {gt: 0.3}` matches an event of quantity `0.30000000000000001`. The Polars
compilation of the columnar engine is the only other implementation; the differential
tests hold it equal to this one.

    >>> evaluator = RulebookEvaluator(rulebook)                # doctest: +SKIP
    >>> evaluator.rules_for(event)                             # doctest: +SKIP
    [0, 4]
"""

from __future__ import annotations

import operator
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from compliance.events import IMO_FIELDS, NUMERIC_FIELDS, Shipment, imo_check_digit_ok
from compliance.rulebook.correlation import steps_condition
from compliance.rulebook.schema import CorrelationRule, DesignationRule, Rule, UnnotifiedRule
from compliance.rulebook.selectors import (
    COMPARE,
    All,
    AnyOf,
    BadCheckDigit,
    Compare,
    Equals,
    NameIn,
    Not,
    Prefix,
    Present,
    Selector,
    fields_of,
    normalise_name,
)

__all__ = [
    "Predicate",
    "RulebookEvaluator",
    "compile_rule",
    "compile_selector",
    "matches",
    "reading",
    "rule_condition",
]

Predicate = Callable[[Shipment], bool]
MEMO = 1 << 16  # answers a memo keeps before it starts again


def rule_condition(rule: Rule) -> Selector:
    """What an event must satisfy to reach a rule, as one selector: `match`, not
    `unless`, and for a designation rule a listed identifier in one of its fields, the
    name of an entry listed without one in a name field, or an IMO number failing its
    check digit in an IMO field (the designation date is checked by the findings, which
    report it); for an unnotified rule, every group field present. A correlation rule
    reaches the events of any of its steps."""
    if isinstance(rule, CorrelationRule):
        return steps_condition(rule)
    parts: list[Selector] = [rule.match]
    if rule.unless is not None:
        parts.append(Not(rule.unless))
    if isinstance(rule, DesignationRule):
        ids = tuple(sorted({e.identifier for e in rule.entries if e.identifier is not None}))
        names = tuple(sorted({n for e in rule.entries if e.identifier is None for n in e.names}))
        reach: list[Selector] = [Equals(f, ids) for f in rule.fields] if ids else []
        reach += [BadCheckDigit(f) for f in rule.fields if f in IMO_FIELDS]
        reach += [NameIn(f, names) for f in rule.name_fields] if names else []
        parts.append(AnyOf(tuple(reach)))
    if isinstance(rule, UnnotifiedRule):
        parts += [Present(f, True) for f in rule.group_by]  # evidence is of a group
    return All(tuple(parts))


def compile_rule(rule: Rule) -> Predicate:
    """Does the rule reach this event: its condition holds and the rule is in force on
    the event's date."""
    condition = compile_selector(rule_condition(rule))
    first, last = rule.effective.from_, rule.effective.to
    # The condition first: it turns most events away sooner than the dates would.
    if first is None and last is None:
        return condition
    if last is None:
        start: date = first  # type: ignore[assignment]  # both None returned above
        return lambda e: condition(e) and e.date >= start
    if first is None:
        return lambda e: condition(e) and e.date <= last
    begin: date = first
    return lambda e: condition(e) and begin <= e.date <= last


def matches(selector: Selector, event: Shipment) -> bool:
    """Does one selector hold for one event (compiled once per selector)."""
    return compile_selector(selector)(event)


@lru_cache(maxsize=4096)
def compile_selector(selector: Selector) -> Predicate:
    """A selector as a closure over an event. Absent fields match nothing, so
    `not: {destination: KP}` holds for an event with no destination."""
    s = selector
    if isinstance(s, All | AnyOf):
        parts = [compile_selector(i) for i in s.items]
        both = isinstance(s, All)
        if not parts:
            return _always if both else _never
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            # Two parts joined directly: a generator per event costs more than the tests.
            first, second = parts
            if both:
                return lambda e: first(e) and second(e)
            return lambda e: first(e) or second(e)
        if both:
            return lambda e: all(p(e) for p in parts)
        return lambda e: any(p(e) for p in parts)
    if isinstance(s, Not):
        inner = compile_selector(s.item)
        return lambda e: not inner(e)
    get = _getter(s.field)
    if isinstance(s, BadCheckDigit):
        return lambda e: (v := get(e)) is not None and not imo_check_digit_ok(v)
    if isinstance(s, NameIn):
        names = frozenset(s.values)
        return lambda e: (v := get(e)) is not None and normalise_name(v) in names
    if isinstance(s, Present):
        present = s.present
        return lambda e: (get(e) is not None) is present
    if isinstance(s, Equals):
        return _equals(s, get)
    if isinstance(s, Prefix):
        prefixes = s.prefixes
        return lambda e: (v := get(e)) is not None and str(v).startswith(prefixes)
    if isinstance(s, Compare):
        return _compare(s, get)
    raise TypeError(f"not a selector: {s!r}")


def _always(e: Shipment) -> bool:
    return True


def _never(e: Shipment) -> bool:
    return False


def _getter(field: str) -> Callable[[Shipment], Any]:
    if field.startswith("extra."):
        name = field[6:]
        return lambda e: e.extra.get(name)
    return lambda e: e.__dict__[field]


def _equals(s: Equals, get: Callable[[Shipment], Any]) -> Predicate:
    if s.field.startswith("extra."):
        # Extra columns are text as read; a rule's `extra.x: 5` means the text "5".
        texts = frozenset(str(v) for v in s.values)
        return lambda e: get(e) in texts
    if s.field in NUMERIC_FIELDS:
        numbers = tuple(Decimal(v) for v in s.values)  # Decimal('10') == Decimal('10.0')
        return lambda e: (v := get(e)) is not None and v in numbers
    values = frozenset(s.values)
    return lambda e: (v := get(e)) is not None and v in values


def _compare(s: Compare, get: Callable[[Shipment], Any]) -> Predicate:
    bound = s.number
    op = COMPARE[s.op]
    if s.field.startswith("extra."):

        def compare_text(e: Shipment) -> bool:
            number = _decimal(get(e))
            return number is not None and bool(op(number, bound))

        return compare_text
    return lambda e: (v := get(e)) is not None and bool(op(v, bound))


def _decimal(v: object) -> Decimal | None:
    if v is None:
        return None
    try:
        number = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


class RulebookEvaluator:
    """Which rules of a rulebook each event reaches: every rule compiled once.

    Rules are indexed by what their condition needs: a field taking one of a few values
    (`destination: KP`, say), or a field being present at all (a prefix, a check digit,
    a comparison), or one of several such (`destination: KP` or `origin: KP`), so an event
    is tested only against the rules its fields can reach. An answer depends only on the
    fields the conditions read and on which of the rules' effective periods hold the
    event's date, so it is kept for the next event with the same of both (events repeat
    their codes, countries and products; the inferred deliveries of a correlation rule
    differ only in what no rule reads). Pure Python and free of shared mutable state but
    that memo, whose races only recompute an answer: one evaluator may serve several
    threads."""

    __slots__ = (
        "_always",
        "_bounds",
        "_conditions",
        "_index",
        "_index_key",
        "_index_memo",
        "_memo",
        "_readers",
        "_tests",
        "memo_size",
    )

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._tests = tuple(compile_rule(r) for r in rules)
        always: list[int] = []
        index: dict[str, tuple[dict[object, list[int]], list[int]]] = {}
        conditions = [rule_condition(r) for r in rules]
        for i, condition in enumerate(conditions):
            need = _necessary(condition)
            if need is None:
                always.append(i)
                continue
            for field, values in need:
                by_value, present = index.setdefault(field, ({}, []))
                if values is None:
                    present.append(i)
                    continue
                for value in values:
                    by_value.setdefault(value, []).append(i)
        self._conditions = tuple(conditions)
        self._always = tuple(always)
        self._index = tuple(
            (_getter(f), by_value, tuple(present)) for f, (by_value, present) in index.items()
        )
        # The candidates depend on the values of the indexed fields alone.
        self._index_key = reading_fields(list(index))
        self._index_memo: dict[object, tuple[int, ...]] = {}
        # Per set of candidate rules, the key of an event their tests depend on alone.
        self._readers: dict[tuple[int, ...], Callable[[Shipment], object]] = {}
        # Days on which some rule comes into or goes out of force: between two of them,
        # every rule is in force on all days or on none.
        bounds = {r.effective.from_ for r in rules} | {
            r.effective.to + timedelta(days=1) for r in rules if r.effective.to is not None
        }
        self._bounds = sorted(b for b in bounds if b is not None)
        self._memo: dict[tuple[object, ...], tuple[int, ...]] = {}
        self.memo_size = MEMO

    def rules_for(self, event: Shipment) -> list[int]:
        """Indices (in rulebook order) of the rules this event reaches."""
        # The index names the rules the event can reach (most events: none); the answer
        # depends only on what those rules read, so that is the memo's key.
        candidates = self._candidates(event)
        if not candidates:
            return []
        reader = self._readers.get(candidates)
        if reader is None:
            if len(self._readers) >= self.memo_size:
                self._readers.clear()
            reader = self._readers[candidates] = reading([self._conditions[i] for i in candidates])
        key = (candidates, bisect_right(self._bounds, event.date), reader(event))
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            tests = self._tests
            found = self._memo[key] = tuple(i for i in candidates if tests[i](event))
        return list(found)

    def _candidates(self, event: Shipment) -> tuple[int, ...]:
        """The rules whose necessary field values the event has, in rulebook order."""
        values = self._index_key(event)
        found = self._index_memo.get(values)
        if found is None:
            if len(self._index_memo) >= self.memo_size:
                self._index_memo.clear()
            found = self._index_memo[values] = self._look_up(event)
        return found

    def _look_up(self, event: Shipment) -> tuple[int, ...]:
        out = list(self._always)
        for get, by_value, present in self._index:
            value = get(event)
            if value is None:
                continue
            if present:
                out.extend(present)
            candidates = by_value.get(value)
            if candidates:
                out.extend(candidates)
        if len(out) > 1:
            return tuple(sorted(set(out)))
        return tuple(out)


def reading(selectors: Sequence[Selector]) -> Callable[[Shipment], object]:
    """A key of an event on which the selectors' tests depend alone: the values of the
    fields they read (10 and 10.0 are one key, and every test but a prefix sees them as
    one number: a prefix's numeric field is also keyed by its text)."""
    read: set[str] = set()
    texts: set[str] = set()
    for s in selectors:
        read |= fields_of(s)
        texts |= _prefixed_numbers(s)
    return reading_fields(read, texts)


def reading_fields(read: Iterable[str], texts: Iterable[str] = ()) -> Callable[[Shipment], object]:
    """A key of an event's values of the fields `read` (and of the text of the numeric
    fields `texts`)."""
    own = sorted(f for f in read if not f.startswith("extra."))
    values = operator.attrgetter(*own) if own else (lambda e: ())
    extras = tuple(sorted(f[6:] for f in read if f.startswith("extra.")))
    numbers = tuple(_getter(f) for f in sorted(texts))
    if not extras and not numbers:
        return values
    return lambda e: (
        values(e),
        *(e.extra.get(name) for name in extras),
        *(str(get(e)) for get in numbers),
    )


def _prefixed_numbers(s: Selector) -> set[str]:
    """Numeric fields a selector tests by prefix (of their text)."""
    if isinstance(s, All | AnyOf):
        return set().union(*(_prefixed_numbers(i) for i in s.items)) if s.items else set()
    if isinstance(s, Not):
        return _prefixed_numbers(s.item)
    return {s.field} if isinstance(s, Prefix) and s.field in NUMERIC_FIELDS else set()


# What a selector needs of an event: one of these (field, values) holds — the field takes
# one of the values, or (values None) is present at all. None: nothing in particular.
Need = list[tuple[str, frozenset[object] | None]]


def _necessary(s: Selector) -> Need | None:
    """Alternatives of which one holds whenever the selector holds, if there are any."""
    if isinstance(s, BadCheckDigit | NameIn | Prefix | Compare):
        # A test of the value (its shape, its normalised name, its text or number), not
        # of its identity: an absent value fails it.
        return [(s.field, None)]
    if isinstance(s, Equals):
        if s.field.startswith("extra.") or s.field in NUMERIC_FIELDS:
            return [(s.field, None)]  # compared as text / by numeric value
        return [(s.field, frozenset(s.values))]
    if isinstance(s, Present):
        return [(s.field, None)] if s.present else None
    if isinstance(s, All):
        found = [n for n in map(_necessary, s.items) if n is not None]
        return min(found, key=_breadth) if found else None
    if isinstance(s, AnyOf) and s.items:
        alternatives = [_necessary(i) for i in s.items]
        if any(n is None for n in alternatives):
            return None
        return [need for n in alternatives if n is not None for need in n]
    return None


def _breadth(need: Need) -> int:
    """How many events a need lets through, roughly: a value few, presence many."""
    return sum(len(values) if values is not None else 1000 for _, values in need)
