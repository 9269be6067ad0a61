"""Selectors compiled to durable_rules conditions, matched on a private, timer-free Host.

Each shipment is asserted as a *fact* into one ruleset holding every rule, so it reaches
every rule it matches (a posted event would be consumed by the first), then retracted.
Facts carry each referenced field under `f_<name>`, with ABSENT where the event has no
value: durable_rules' `$nex` hangs and `$neq` never matches a missing field, so absence
must be a value for negation to mean "not (…)". HS prefixes are carried as truncations
(`p4_hs_code: "2710"`) because durable's regular expressions have no negated classes.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from compliance.errors import ComplianceError, EngineUnavailableError
from compliance.events import Shipment
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import DesignationRule, Rule
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

__all__ = ["DurableMatcher"]

ABSENT = "∅"
_FLIP = {"gt": "$lte", "gte": "$lt", "lt": "$gte", "lte": "$gt"}
_names = itertools.count()
_names_lock = threading.Lock()


def _import_engine() -> Any:
    try:
        from durable import engine
    except Exception as e:  # ImportError, or a failing C extension on Python 3.13+
        raise EngineUnavailableError(
            f"the stream engine needs durable_rules, which does not import here ({e}); "
            "use Python 3.11 or 3.12, or --engine columnar"
        ) from None
    return engine


def _native() -> Any:
    import durable_rules_engine

    return durable_rules_engine


def _key(field: str) -> str:
    return "f_" + field.replace(".", "__")


class _Compiler:
    def __init__(self) -> None:
        self.fields: set[str] = set()
        self.prefix_lengths: dict[str, set[int]] = {}
        self.numeric_extras: set[str] = set()

    def compile(self, s: Selector, negate: bool = False) -> dict[str, Any]:
        if isinstance(s, Not):
            return self.compile(s.item, not negate)
        if isinstance(s, All | AnyOf):
            if not s.items:  # All(()) matches everything
                return {"$ex": {"f_id": 1}} if not negate else {"f_id": ABSENT}
            parts = [self.compile(i, negate) for i in s.items]
            conjunction = isinstance(s, All) != negate
            if len(parts) == 1:
                return parts[0]
            return {"$and": parts} if conjunction else {"$or": parts}
        self.fields.add(s.field)
        k = _key(s.field)
        if isinstance(s, Present):
            return {k: ABSENT} if s.present == negate else {"$neq": {k: ABSENT}}
        if isinstance(s, Equals):
            values = [_condition_value(v) for v in s.values]
            if negate:
                return _join("$and", [{"$neq": {k: v}} for v in values])
            return _join("$or", [{k: v} for v in values])
        if isinstance(s, Prefix):
            lengths = self.prefix_lengths.setdefault(s.field, set())
            tests = []
            for p in s.prefixes:
                lengths.add(len(p))
                pk = f"p{len(p)}_{k}"
                tests.append({"$neq": {pk: p}} if negate else {pk: p})
            return _join("$and" if negate else "$or", tests)
        if isinstance(s, Compare):
            if s.field.startswith("extra."):
                self.numeric_extras.add(s.field)
                k = "n_" + k
            number = _condition_value(s.number)
            if negate:
                return {"$or": [{_FLIP[s.op]: {k: number}}, {k: ABSENT}]}
            return {"$and": [{f"${s.op}": {k: number}}, {"$neq": {k: ABSENT}}]}
        raise TypeError(s)

    def freeze(self) -> None:
        """Fix the fact layout once every rule is compiled (facts are built per event)."""
        self._layout = [
            (
                field,
                _key(field),
                tuple(
                    (n, f"p{n}_{_key(field)}") for n in sorted(self.prefix_lengths.get(field, ()))
                ),
                field in self.numeric_extras,
            )
            for field in sorted(self.fields)
        ]

    def fact(self, event: Shipment, serial: int) -> dict[str, Any]:
        fact: dict[str, Any] = {"id": serial, "f_id": event.id}
        values = event.__dict__
        for field, k, prefixes, numeric in self._layout:
            value = values[field] if field in values else event.get(field)
            if value is None:
                fact[k] = ABSENT
                for _, pk in prefixes:
                    fact[pk] = ABSENT
            else:
                fact[k] = value if type(value) is str else _fact_value(value)
                text = str(value)
                for n, pk in prefixes:
                    fact[pk] = text[:n] if len(text) >= n else ABSENT
            if numeric:
                fact["n_" + k] = _number(value)
        return fact


def _join(op: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return parts[0] if len(parts) == 1 else {op: parts}


def _condition_value(v: object) -> object:
    if isinstance(v, Decimal):
        number = float(v)
        if "e-" in repr(number):
            # durable_rules' JSON parser rejects negative exponents (1e-05).
            raise ComplianceError(
                f"the stream engine cannot compare with numbers as small as {v}; "
                "use --engine columnar or a larger unit"
            )
        return number
    if isinstance(v, date):
        return v.isoformat()
    return v


def _fact_value(v: object) -> object:
    if isinstance(v, date):
        return v.isoformat()
    return v  # Decimals stay exact until _encode writes them without an exponent


def _number(v: object) -> object:
    try:
        number = Decimal(str(v)) if v is not None else None
    except ArithmeticError:
        return ABSENT
    return number if number is not None and number.is_finite() else ABSENT


def _encode(fact: dict[str, Any]) -> str:
    """The fact as JSON, numbers in plain notation: durable_rules' parser rejects
    negative exponents, which `json.dumps` writes for small floats (1e-05)."""
    parts = []
    for key, value in fact.items():
        if type(value) is str:
            text = _quote(value)
        elif isinstance(value, Decimal):
            text = format(value, "f")
        elif type(value) is int:
            text = str(value)
        else:
            text = json.dumps(value)
        parts.append(f'"{key}":{text}')
    return "{" + ",".join(parts) + "}"


_quote = json.encoder.encode_basestring


def rule_condition(rule: Rule) -> Selector:
    """What an event must satisfy to reach a rule: match, not unless, and for a
    designation rule, a listed identifier in one of its fields."""
    parts: list[Selector] = [rule.match]
    if rule.unless is not None:
        parts.append(Not(rule.unless))
    if isinstance(rule, DesignationRule):
        ids = tuple(entry.identifier for entry in rule.entries)
        parts.append(AnyOf(tuple(Equals(f, ids) for f in rule.fields)) if ids else Not(All(())))
    return All(tuple(parts))


class DurableMatcher:
    """Which rules of a rulebook each event reaches, decided by durable_rules."""

    def __init__(self, rulebook: Rulebook) -> None:
        engine = _import_engine()

        class QuietHost(engine.Host):  # type: ignore[misc,name-defined]
            # Host() starts two polling timer threads that never stop; we use no timers.
            def _run(self) -> None:
                pass

        self._rules = list(rulebook.rules)
        self._compiler = _Compiler()
        self._hits: list[int] = []
        self._serial = itertools.count()
        with _names_lock:
            self._name = f"compliance_{next(_names)}"
        definition: dict[str, Any] = {}
        for index, rule in enumerate(self._rules):
            condition = self._compiler.compile(rule_condition(rule))
            definition[f"r{index}"] = {"all": [{"m": condition}], "run": self._action(index)}
        self._compiler.freeze()
        self._host = QuietHost({self._name: definition}) if self._rules else None
        self._ruleset: Any = self._host.get_ruleset(self._name) if self._host else None
        self._native = _native()
        self._error: BaseException | None = None

    def _action(self, index: int) -> Any:
        hits = self._hits

        def action(c: Any) -> None:  # one parameter: durable runs it synchronously
            hits.append(index)

        return action

    def _complete(self, error: BaseException | None, state: object) -> None:
        if error:
            self._error = error

    def _run(self, call: Any, fact: dict[str, Any], text: str) -> None:
        # What Host.assert_fact does, but with our JSON text (see _encode).
        ruleset = self._ruleset
        status, handle = call(ruleset._handle, text)[:2]
        if status == 1:  # no rule matched: durable's MessageNotHandledException
            return
        if status == 2:  # cannot happen: every fact carries a fresh serial
            raise RuntimeError(f"durable_rules saw fact {text} twice")
        ruleset.do_actions(0 if status == 3 else handle, self._complete)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def match(self, event: Shipment) -> list[int]:
        """Indices (in rulebook order) of the rules this event reaches."""
        if self._ruleset is None:
            return []
        fact = self._compiler.fact(event, next(self._serial))
        text = _encode(fact)
        self._hits.clear()
        try:
            self._run(self._native.assert_fact, fact, text)
        finally:
            self._run(self._native.retract_fact, fact, text)
        # An `$or` compiles to one branch per alternative: a rule can fire more than once.
        return sorted(set(self._hits))

    def match_all(self, events: Iterable[Shipment]) -> dict[int, list[Shipment]]:
        """Events grouped by the index of each rule they reach."""
        out: dict[int, list[Shipment]] = {i: [] for i in range(len(self._rules))}
        for e in events:
            for i in self.match(e):
                out[i].append(e)
        return out

    def close(self) -> None:
        """Free the native ruleset (also done when the matcher is collected)."""
        host, self._host, self._ruleset = self._host, None, None
        if host is not None:
            for ruleset in host._ruleset_list:
                self._native.delete_ruleset(ruleset._handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
