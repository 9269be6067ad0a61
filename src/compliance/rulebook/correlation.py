"""What a correlation rule means, shared by every engine (docs/correlation.md).

A correlation rule has steps `s0, s1, …`; each step matches events with the ordinary
selectors, joins earlier steps on fields (`vessel_imo: sts.counterparty_imo`) and is dated
0 to `within.days` days after the event of an earlier step. The events of a *chain* are
one event per step, all distinct, meeting every join and window.

Which chains infer an event: **for each event of the first step, the first chain in
(date, id) order of its later steps** — the second step's event first, then the third's.
So one transfer followed by several port calls infers one delivery, from the first call;
several transfers before one call infer one delivery each. Inferred events are never
step events of a correlation themselves (no chains of inferences).

The engines find the chains (durable_rules on the stream engine, Polars joins on the
columnar engine) and hand them to `first_chains` / `infer`, so what is inferred, its id
and its fields are decided here once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from compliance.events import FIELDS, Shipment, parse_shipment
from compliance.rulebook.schema import CorrelationRule, CorrelationStep, Rule
from compliance.rulebook.selectors import All, AnyOf, Not, Selector
from compliance.trusted import trusted

__all__ = [
    "Chain",
    "CompiledCorrelation",
    "Inference",
    "Join",
    "chain_key",
    "correlation_fields",
    "correlation_problems",
    "correlation_rules",
    "fields_read",
    "first_chains",
    "inferred_id",
    "step_condition",
    "steps_condition",
    "unknown_field",
]

Chain = tuple[Shipment, ...]
"""One event per step, in step order."""

# Fields an inferred event never takes from its rule: its id and source are its own,
# and a correction is a record's, not an inference's.
_OWN = frozenset({"id", "source", "supersedes"})
# Fields that are only meaningful together, so they must come from one place.
_PAIRS = (("quantity", "unit"), ("value", "currency"))


def unknown_field(name: str) -> str | None:
    """A problem with an event field name, with a suggestion; None when it is one."""
    if name in FIELDS or (name.startswith("extra.") and len(name) > 6):
        return None
    hint = difflib.get_close_matches(name, FIELDS, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return f"unknown field {name!r}{suggestion}"


def correlation_rules(rules: Iterable[Rule]) -> list[tuple[int, CorrelationRule]]:
    """(rulebook index, rule) of every correlation rule."""
    return [(i, r) for i, r in enumerate(rules) if isinstance(r, CorrelationRule)]


def fields_read(rule: CorrelationRule) -> set[str]:
    """Event fields a correlation reads besides its selectors: joins and copies."""
    out = set()
    for step in rule.steps:
        for field, ref in step.join.items():
            out |= {field, ref.split(".", 1)[-1]}
    out |= {ref.split(".", 1)[-1] for ref in rule.infer.from_.values()}
    return out


def correlation_fields(rules: Iterable[Rule]) -> set[str]:
    """Fields a rulebook's correlations read besides their selectors (the columnar
    screen normalises them)."""
    return set().union(*(fields_read(r) for _, r in correlation_rules(rules)))


def step_condition(rule: CorrelationRule, step: CorrelationStep) -> Selector:
    """What an event must satisfy to be an event of `step`."""
    parts: list[Selector] = [rule.match, step.match]
    if rule.unless is not None:
        parts.append(Not(rule.unless))
    if step.unless is not None:
        parts.append(Not(step.unless))
    return All(tuple(parts))


def steps_condition(rule: CorrelationRule) -> Selector:
    """What an event must satisfy to be an event of some step of the rule."""
    return AnyOf(tuple(step_condition(rule, s) for s in rule.steps))


@dataclass(frozen=True)
class Join:
    """This step's `field` equals `other_field` of the event of step `other`."""

    field: str
    other: int
    other_field: str


@dataclass(frozen=True)
class Inference:
    """An inferred event and the chain it rests on."""

    rule: CorrelationRule
    event: Shipment
    chain: Chain


def _reference(text: object, steps: dict[str, int]) -> tuple[str, str] | str:
    """`step.field` split, or a problem."""
    if not isinstance(text, str) or "." not in text:
        return f"expected step.field, e.g. {next(iter(steps), 'sts')}.vessel_imo (got {text!r})"
    step, field = text.split(".", 1)
    if step not in steps:
        hint = difflib.get_close_matches(step, list(steps), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"unknown step {step!r}{suggestion}"
    if (problem := unknown_field(field)) is not None:
        return problem
    return step, field


Problem = tuple[tuple[object, ...], str, bool]  # (path within the rule, message, at the key)


def correlation_problems(rule: CorrelationRule) -> list[Problem]:
    """Every problem of a correlation rule the schema cannot see: unknown steps and
    fields in joins, windows and inferred fields, steps out of order."""
    out: list[Problem] = []
    index: dict[str, int] = {}
    for k, step in enumerate(rule.steps):
        index.setdefault(step.id, k)
    seen: set[str] = set()
    for k, step in enumerate(rule.steps):
        here: tuple[object, ...] = ("steps", k)
        if step.id in seen:
            out.append(((*here, "id"), f"step id {step.id!r} is used twice", False))
        seen.add(step.id)
        for field, ref in step.join.items():
            if (problem := unknown_field(field)) is not None:
                out.append(((*here, "join", field), problem, True))
            parsed = _reference(ref, index)
            if isinstance(parsed, str):
                out.append(((*here, "join", field), parsed, False))
            elif index[parsed[0]] >= k:
                out.append(
                    (
                        (*here, "join", field),
                        f"a step joins earlier steps ({parsed[0]!r} is not)",
                        False,
                    )
                )
        if k == 0:
            if step.within is not None:
                out.append(((*here, "within"), "the first step has no window", True))
            if step.join:
                out.append(((*here, "join"), "the first step joins nothing", True))
        elif step.within is None:
            out.append(
                (here, "every step after the first needs within: {days: N, after: STEP}", False)
            )
        elif step.within.after is not None:
            after = step.within.after
            at = (*here, "within", "after")
            if after not in index:
                hint = difflib.get_close_matches(after, list(index), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                out.append((at, f"unknown step {after!r}{suggestion}", False))
            elif index[after] >= k:
                out.append((at, f"a window is after an earlier step ({after!r} is not)", False))
    sources: dict[str, str] = {}
    for field, ref in rule.infer.from_.items():
        where: tuple[object, ...] = ("infer", "from", field)
        if (problem := unknown_field(field)) is not None:
            out.append((where, problem, True))
        elif field in _OWN:
            out.append((where, f"an inferred event's {field} is its own, not copied", True))
        parsed = _reference(ref, index)
        if isinstance(parsed, str):
            out.append((where, parsed, False))
        else:
            sources[field] = parsed[0]
            if field == "date" and parsed[1] != "date":
                out.append((where, "the date is a step's date (step.date)", False))
    for field in rule.infer.set:
        where = ("infer", "set", field)
        if (problem := unknown_field(field)) is not None:
            out.append((where, problem, True))
        elif field in _OWN or field == "date":
            out.append((where, f"an inferred event's {field} cannot be set", True))
        elif field in rule.infer.from_:
            out.append((where, "given both in from and in set", True))
        else:
            sources[field] = "set"
    for a, b in _PAIRS:
        if sources.get(a) != sources.get(b):
            out.append(
                (
                    ("infer",),
                    f"{a} and {b} come together: copy both from one step or set both",
                    False,
                )
            )
    if rule.infer.set:
        literal = parse_shipment({"id": "x", "date": "2000-01-01", **rule.infer.set})
        if isinstance(literal, list):
            out.extend(
                (("infer", "set", p.field), str(p), False)
                for p in literal
                if p.field in rule.infer.set
            )
    return out


class CompiledCorrelation:
    """A correlation rule ready to run: step predicates, joins, windows, the inference."""

    def __init__(self, rule: CorrelationRule) -> None:
        from compliance.rulebook.evaluator import compile_selector

        self.rule = rule
        names = {s.id: k for k, s in enumerate(rule.steps)}
        self.names = [s.id for s in rule.steps]
        effective = rule.effective
        self.tests = []
        for step in rule.steps:
            test = compile_selector(step_condition(rule, step))
            self.tests.append(
                test
                if effective.from_ is None and effective.to is None
                else (lambda e, t=test: e.date in effective and t(e))
            )
        self.joins: list[list[Join]] = []
        self.windows: list[tuple[int, int] | None] = []  # (after step, days)
        for k, step in enumerate(rule.steps):
            joins = []
            for field, ref in step.join.items():
                other, other_field = ref.split(".", 1)
                joins.append(Join(field, names[other], other_field))
            self.joins.append(joins)
            if step.within is None:
                self.windows.append(None)
            else:
                after = names[step.within.after] if step.within.after else k - 1
                self.windows.append((after, step.within.days))
        # Fields an event needs to take part in a chain as step k: its own join fields
        # and the fields later steps join it on (an absent value joins nothing).
        self.needs: list[set[str]] = [set() for _ in rule.steps]
        for k, joins in enumerate(self.joins):
            for j in joins:
                self.needs[k].add(j.field)
                self.needs[j.other].add(j.other_field)
        # How many days after its own date a step's event can still meet another event
        # of a chain: windows form a tree from the first step, a step's date is at most
        # its depth (the windows on its path) after the first step's and never before its
        # parent's, so an event of step k meets events of its subtree up to their depth
        # less its own, and the others up to their depth.
        n = len(rule.steps)
        depth = [0] * n
        parent = [-1] * n
        for k in range(1, n):
            window = self.windows[k]
            if window is not None:
                parent[k] = window[0]
                depth[k] = depth[window[0]] + window[1]

        def under(j: int, k: int) -> bool:
            while j != -1 and j != k:
                j = parent[j]
            return j == k

        self.reach = [
            max(depth[j] - depth[k] if under(j, k) else depth[j] for j in range(n))
            for k in range(n)
        ]
        self.copies = [
            (field, names[ref.split(".", 1)[0]], ref.split(".", 1)[1])
            for field, ref in rule.infer.from_.items()
        ]
        self.date_step = next(
            (step for field, step, _ in self.copies if field == "date"), len(rule.steps) - 1
        )
        literal = parse_shipment({"id": "x", "date": "2000-01-01", **rule.infer.set})
        if isinstance(literal, list):  # the loader reports these
            raise ValueError("; ".join(str(p) for p in literal))
        self.literals = {f: literal.get(f) for f in rule.infer.set}
        # What `infer` copies, split once: fields, and extra columns (kept as text).
        self._copied = [(f[6:] if f.startswith("extra.") else f, step, source,
                         f.startswith("extra.")) for f, step, source in self.copies]  # fmt: skip
        self._set = {f: v for f, v in self.literals.items() if not f.startswith("extra.")}
        self._set_extra = {f[6:]: str(v) for f, v in self.literals.items()
                           if f.startswith("extra.")}  # fmt: skip

    def steps_of(self, event: Shipment) -> list[int]:
        """The steps an event can take part in: it matches them and has their fields."""
        return [
            k
            for k, test in enumerate(self.tests)
            if test(event) and all(event.get(f) is not None for f in self.needs[k])
        ]

    def infer(self, chain: Chain) -> Inference:
        """The event a chain infers."""
        values: dict[str, Any] = {}
        extras: dict[str, str] = {}
        for field, step, source, is_extra in self._copied:
            value = chain[step].get(source)
            if value is not None:
                if is_extra:
                    extras[field] = str(value)
                else:
                    values[field] = value
        values.update(self._set)
        extras.update(self._set_extra)
        values["id"] = inferred_id(self.rule.id, chain)
        values["date"] = chain[self.date_step].date
        values["source"] = "inferred"
        # Every value is a validated event's or a literal validated at load, and the
        # loader keeps pairs (quantity and unit) together: no validation to repeat.
        values["extra"] = extras
        values["inferred_from"] = tuple(e.id for e in chain)
        event = trusted(Shipment, values)
        return Inference(self.rule, event, chain)


def chain_key(chain: Chain) -> tuple[tuple[date, str], ...]:
    """The order in which a first-step event picks among its chains."""
    return tuple((e.date, e.id) for e in chain[1:])


def first_chains(chains: Iterable[Chain]) -> list[Chain]:
    """For each first-step event, its first chain (see the module docstring)."""
    best: dict[str, Chain] = {}
    for chain in chains:
        head = chain[0].id
        current = best.get(head)
        if current is None or chain_key(chain) < chain_key(current):
            best[head] = chain
    return sorted(best.values(), key=lambda c: tuple((e.date, e.id) for e in c))


def _quote(ident: str) -> str:
    return ident.replace("%", "%25").replace(":", "%3A")


def inferred_id(rule_id: str, chain: Sequence[Shipment]) -> str:
    """`inferred:<rule>:<id>:<id>…`, with `%` and `:` in ids escaped so ids never collide."""
    return ":".join(["inferred", rule_id, *(_quote(e.id) for e in chain)])
