"""Correlation rules on the stream engine: durable_rules joins the events (a Rete network).

Every accepted event that can take part in a correlation (the evaluator says which steps
it matches, and it has the fields those steps join on) is asserted as a durable_rules
*fact* per step — tagged with its rule and step, carrying its id, its date as a day
number and its join fields as text — and stays one while a window can still need it.
Each correlation rule is one durable_rules rule over all its steps
(`all: [m0: …, m1: …]`), its joins and windows compiled to conditions on the earlier
facts (`vessel_imo == $m0.counterparty_imo`, `day >= $m0.day`,
`day <= $m0.day + 30`), so a chain fires whichever of its events arrives last: a late
transfer report after the port call still infers the delivery. The action records the
chain; which chain of a first-step event infers the event is decided by
`rulebook.correlation.first_chains`, as on every engine.

durable_rules 2.0.28 facts that shape this (DESIGN §7): facts, not events (a posted event
is consumed by the first rule it matches); rulesets built as definitions on a private
Host that starts no timer threads; one-parameter actions (two means asynchronous);
`id` identifies a fact (two facts with one `id` are one fact), so the event's id is the
field `e`; numbers compare as floats, so dates are integer day numbers; not thread-safe,
so every call holds a lock; native rulesets are freed on `close()`.
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from datetime import date
from typing import Any, TypeVar

from compliance.engine._durable import import_durable
from compliance.errors import EngineUnavailableError
from compliance.events import Shipment
from compliance.rulebook.correlation import (
    Chain,
    CompiledCorrelation,
    Inference,
    correlation_rules,
    first_chains,
)
from compliance.rulebook.schema import Rule

__all__ = ["DurableCorrelator"]

_T = TypeVar("_T", bound=Hashable)
_names = itertools.count()
_names_lock = threading.Lock()


def _key(field: str) -> str:
    return "f_" + field.replace(".", "__")


def _join_classes(compiled: CompiledCorrelation) -> dict[tuple[int, str], int] | None:
    """The (step, field) pairs of a rule that its joins make equal, numbered by class;
    None when the joins leave some step unjoined to the others (then any event near
    enough can share a chain with any other)."""
    pairs = [((k, j.field), (j.other, j.other_field))
             for k, joins in enumerate(compiled.joins) for j in joins]  # fmt: skip
    steps = _classes(((a[0], b[0]) for a, b in pairs), range(len(compiled.joins)))
    if len(set(steps.values())) > 1:
        return None
    numbers: dict[tuple[int, str], int] = {}
    return {x: numbers.setdefault(r, len(numbers)) for x, r in _classes(pairs).items()}


def _classes(pairs: Iterable[tuple[_T, _T]], items: Iterable[_T] = ()) -> dict[_T, _T]:
    """Each of `items` and of the pairs' members, with its class's representative once
    each pair is made one class (union-find), in the order first met."""
    parent = {x: x for x in items}

    def root(x: _T) -> _T:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    return {x: root(x) for x in list(parent)}


def _condition(compiled: CompiledCorrelation, n: int, k: int) -> dict[str, Any]:
    """The durable_rules condition on the fact of step k of rule n."""
    tests: list[dict[str, Any]] = [{"k": f"c{n}s{k}"}]
    for join in compiled.joins[k]:
        tests.append({_key(join.field): {f"m{join.other}": _key(join.other_field)}})
    window = compiled.windows[k]
    if window is not None:
        after, days = window
        tests.append({"$gte": {"day": {f"m{after}": "day"}}})
        tests.append({"$lte": {"day": {"$add": {"$l": {f"m{after}": "day"}, "$r": days}}}})
    tests += [{"$neq": {"e": {f"m{j}": "e"}}} for j in range(k)]
    return tests[0] if len(tests) == 1 else {"$and": tests}


POOL_SIZE = 4  # idle rulesets kept per set of correlation rules (one per thread, say)
_POOL: dict[str, list[tuple[Any, str, list[tuple[int, tuple[str, ...]]]]]] = {}


class DurableCorrelator:
    """The chains of a rulebook's correlation rules among the events added, found by
    durable_rules; `inferences()` are the events they infer.

    `add` an accepted event, `remove` one the ledger stops accepting (its facts are
    retracted and the chains resting on it dropped), `expire` facts no window can need
    once every later event is known to be dated on or after a day (batch evaluation
    feeds events in date order). Safe to share between threads."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.compiled = [(i, CompiledCorrelation(r)) for i, r in correlation_rules(rules)]
        try:
            engine = import_durable()
        except EngineUnavailableError as e:
            names = ", ".join(c.rule.id for _, c in self.compiled)
            raise EngineUnavailableError(
                f"correlation rules ({names}) need durable_rules on the stream engine "
                f"(--engine columnar runs them without it): {e}"
            ) from None
        import durable_rules_engine

        class QuietHost(engine.Host):  # type: ignore[misc,name-defined]
            # Host() starts two polling timer threads that never stop; no timers here.
            def _run(self) -> None:
                pass

        self._native = durable_rules_engine
        self._not_handled = engine.MessageNotHandledException
        self._lock = threading.Lock()
        self._found: list[tuple[int, tuple[str, ...]]] = []  # (rule n, event ids)
        self._events: dict[str, Shipment] = {}
        self._order: list[tuple[int, str]] = []  # (day, id) of the events, sorted
        # Facts of events dated before this day number may be retracted (see expire).
        self._watermark = -1
        # The most days between two events of one chain: a step's window tree is at most
        # this deep. A fact is needed no longer than this after the latest event.
        self.span = max((max(c.reach) for _, c in self.compiled), default=0)
        self._facts: dict[str, list[dict[str, Any]]] = {}  # event id -> its live facts
        # event id -> (rule n, fact) of every step it can take: asserted again for a late
        # event, so made once (the step tests are the selectors, each evaluated anew).
        self._known: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        self._by_day: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        # A late event is joined with the events near it that its joins can reach: per
        # rule, its step fields in classes the joins make equal, and per (rule n, class,
        # value) the (day, id) of the events holding that value, sorted (see `add`).
        self._classes = [_join_classes(c) for _, c in self.compiled]
        self._keyed: dict[tuple[int, int, str], list[tuple[int, str]]] = defaultdict(list)
        self._keys_of: dict[str, set[tuple[int, int, str]]] = {}
        self._chains: list[dict[str, set[tuple[str, ...]]]] = [{} for _ in self.compiled]
        self._involved: dict[str, set[tuple[int, str]]] = defaultdict(set)  # id -> (n, head)
        conditions = {
            f"c{n}": [
                {f"m{k}": _condition(compiled, n, k)} for k in range(len(compiled.rule.steps))
            ]
            for n, (_, compiled) in enumerate(self.compiled)
        }
        # durable_rules keeps native memory for every fact a ruleset ever held, even
        # after delete_ruleset (about 1.5 MiB for 300 events): a ruleset is returned to a
        # small pool when closed clean and reused by the next correlator of the same rules.
        self._key = json.dumps(conditions, sort_keys=True)
        with _names_lock:
            pooled = _POOL.get(self._key)
            reused = pooled.pop() if pooled else None
        self._host: Any
        if reused is not None:
            self._host, self._name, self._found = reused
            self._found.clear()
        elif conditions:
            with _names_lock:
                self._name = f"compliance_correlation_{next(_names)}"
            definition = {
                name: {"all": steps, "run": self._action(int(name[1:]), len(steps))}
                for name, steps in conditions.items()
            }
            self._host = QuietHost({self._name: definition})
        else:
            self._name, self._host = "", None

    def _action(self, n: int, steps: int) -> Any:
        found = self._found

        def action(c: Any) -> None:  # one parameter: durable runs it synchronously
            found.append((n, tuple(getattr(c, f"m{k}").e for k in range(steps))))

        return action

    def _facts_of(self, event: Shipment) -> list[tuple[int, int, int, dict[str, Any]]]:
        """(rule n, step k, reach, fact) of each step the event can take part in."""
        facts = []
        for n, (_, compiled) in enumerate(self.compiled):
            for k in compiled.steps_of(event):
                fact: dict[str, Any] = {
                    "id": f"{n}:{k}:{event.id}",
                    "k": f"c{n}s{k}",
                    "e": event.id,
                    "day": event.date.toordinal(),
                }
                for field in compiled.needs[k]:
                    fact[_key(field)] = str(event.get(field))
                facts.append((n, k, compiled.reach[k], fact))
        return facts

    def add(self, event: Shipment) -> set[tuple[int, str]]:
        """Assert an accepted event's facts; the (rule n, first-step event id) whose
        chains it changed.

        An event dated before the watermark (`expire`) is *late*: some facts it could
        join are retracted. The facts of the events a chain through it can hold (within
        `span` days, reached through equal join values: `_near`) are asserted again from
        the shipments kept, the event's with them, the chains collected, and those
        retracted again: the chains found are those every fact being present would give.
        The late event's facts that a window can still need stay, as anyone's would."""
        facts = self._facts_of(event)
        if not facts:
            return set()
        with self._lock:
            if event.id in self._events:
                raise ValueError(f"event {event.id!r} is already a fact")
            self._events[event.id] = event
            self._known[event.id] = [(n, k, f) for n, k, _, f in facts]
            day = event.date.toordinal()
            bisect.insort(self._order, (day, event.id))
            keys = self._keys_of[event.id] = self._join_keys(facts)
            for key in keys:
                bisect.insort(self._keyed[key], (day, event.id))
            # A fact stays while a window can still need it (as `expire` retracts them):
            # a late event's own facts too, for the events that may yet arrive after it.
            live = [(r, f) for _, _, r, f in facts if f["day"] + r >= self._watermark]
            if live:
                self._facts[event.id] = [f for _, f in live]
                for reach, fact in live:
                    self._by_day[fact["day"] + reach].append((event.id, fact))
                    self._assert(fact)
            if day >= self._watermark:
                return self._collect()
            kept = {id(f) for _, f in live}
            revived = [f for _, _, _, f in facts if id(f) not in kept]
            # A chain holds one event per step: another event's fact of step k can join
            # the late event only if the late event takes some other step of the rule.
            steps: dict[int, set[int]] = defaultdict(set)
            for n, k, _, _ in facts:
                steps[n].add(k)
            for other, rule in self._near(event.id, day, set(steps)):
                held = self._facts.get(other, ())
                revived += [
                    f
                    for n, k, f in self._known[other]
                    if n == rule and steps[n] - {k} and f not in held
                ]
            for fact in revived:
                self._assert(fact)
            changed = self._collect()
            for fact in revived:
                self._retract(fact)
            return changed

    def _join_keys(
        self, facts: list[tuple[int, int, int, dict[str, Any]]]
    ) -> set[tuple[int, int, str]]:
        """(rule n, join class, value) of each join field of the event's step facts."""
        keys: set[tuple[int, int, str]] = set()
        for n, k, _, fact in facts:
            classes = self._classes[n]
            if classes is None:
                continue
            keys.update(
                (n, cls, fact[_key(field)]) for (step, field), cls in classes.items() if step == k
            )
        return keys

    def _near(self, event_id: str, day: int, rules: set[int]) -> set[tuple[str, int]]:
        """(event id, rule n) of the events within `span` days that a chain of rule n
        through the event can hold: those reached from it through equal join values,
        transitively (every event of a chain is joined to the others), or every event
        near enough of a rule whose joins leave a step unjoined. A superset of the
        chains' events, so a late event finds every chain that all facts present would
        give."""
        lo_day, hi_day = day - self.span, day + self.span
        near: set[tuple[str, int]] = set()
        unjoined = {n for n in rules if self._classes[n] is None}
        if unjoined:
            lo = bisect.bisect_left(self._order, (lo_day, ""))
            hi = bisect.bisect_right(self._order, (hi_day, "\U0010ffff"))
            near.update((other, n) for _, other in self._order[lo:hi] for n in unjoined)
        todo = [key for key in self._keys_of[event_id] if key[0] in rules]
        seen = set(todo)
        while todo:
            key = todo.pop()
            keyed = self._keyed[key]
            lo = bisect.bisect_left(keyed, (lo_day, ""))
            hi = bisect.bisect_right(keyed, (hi_day, "\U0010ffff"))
            for _, other in keyed[lo:hi]:
                if (other, key[0]) in near:
                    continue
                near.add((other, key[0]))
                for more in self._keys_of[other]:
                    if more[0] == key[0] and more not in seen:
                        seen.add(more)
                        todo.append(more)
        return {(other, n) for other, n in near if other != event_id}

    def _unkey(self, event_id: str, day: int) -> None:
        for key in self._keys_of.pop(event_id, ()):
            keyed = self._keyed[key]
            del keyed[bisect.bisect_left(keyed, (day, event_id))]
            if not keyed:
                del self._keyed[key]

    def _assert(self, fact: dict[str, Any]) -> None:
        try:
            self._host.assert_fact(self._name, fact)
        except self._not_handled:
            pass  # no rule's condition on one fact holds: cannot happen, harmless

    def _collect(self) -> set[tuple[int, str]]:
        changed = set()
        for n, ids in self._found:
            head = ids[0]
            self._chains[n].setdefault(head, set()).add(ids)
            for ident in ids:
                self._involved[ident].add((n, head))
            changed.add((n, head))
        self._found.clear()
        return changed

    def remove(self, event_id: str) -> set[tuple[int, str]]:
        """Retract an event's facts and drop the chains resting on it; the (rule n,
        first-step event id) whose chains changed."""
        with self._lock:
            for fact in self._facts.pop(event_id, []):
                self._retract(fact)
            event = self._events.pop(event_id, None)
            self._known.pop(event_id, None)
            if event is not None:
                # Found by bisection: O(log n) comparisons (and the move insort makes).
                order = self._order
                del order[bisect.bisect_left(order, (event.date.toordinal(), event_id))]
                self._unkey(event_id, event.date.toordinal())
            changed = self._involved.pop(event_id, set())
            for n, head in changed:
                chains = self._chains[n].get(head, set())
                chains -= {c for c in chains if event_id in c}
                if not chains:
                    self._chains[n].pop(head, None)
            return changed

    def expire(self, watermark: date) -> None:
        """Retract the facts no window can need for events dated on or after
        `watermark`; an event dated before it is late (see `add`). The events stay
        known (their shipments), to the chains found and to late events."""
        limit = watermark.toordinal()
        with self._lock:
            if limit <= self._watermark:
                return
            self._watermark = limit
            for day in [d for d in self._by_day if d < limit]:
                for event_id, fact in self._by_day.pop(day):
                    facts = self._facts.get(event_id)
                    if facts is not None and fact in facts:
                        facts.remove(fact)
                        self._retract(fact)
                        if not facts:
                            del self._facts[event_id]

    def forget(self, before: date) -> None:
        """Forget the events dated before `before`, their facts and the chains headed by
        them, once no event that can still arrive or leave is dated within `span` days
        of them (a live monitor's horizon less `span`): no chain through such an event
        can change, nor need their facts again. The inferences already made stay the
        caller's."""
        limit = before.toordinal()
        with self._lock:
            order = self._order
            cut = bisect.bisect_left(order, (limit, ""))
            if not cut:
                return
            gone = order[:cut]
            del order[:cut]
            for day, event_id in gone:
                self._unkey(event_id, day)
                del self._events[event_id]
                del self._known[event_id]
                for fact in self._facts.pop(event_id, []):
                    self._retract(fact)
                for n, head in self._involved.pop(event_id, set()):
                    if head != event_id:
                        continue
                    # A chain is dated from its head: every other event of it is later.
                    for chain in self._chains[n].pop(head, set()):
                        for other in chain:
                            involved = self._involved.get(other)
                            if involved is not None:
                                involved.discard((n, head))
                                if not involved:
                                    del self._involved[other]

    @property
    def events(self) -> int:
        """How many events the correlator knows (their shipments, for late events)."""
        with self._lock:
            return len(self._events)

    @property
    def live_facts(self) -> int:
        """How many facts durable_rules holds now."""
        with self._lock:
            return sum(map(len, self._facts.values()))

    def _retract(self, fact: dict[str, Any]) -> None:
        try:
            self._host.retract_fact(self._name, fact)
        except self._not_handled:
            pass

    def inferences(self, keys: Iterable[tuple[int, str]] | None = None) -> list[Inference]:
        """The inferred events (of the given (rule n, first-step id) only, if given)."""
        with self._lock:
            out: list[Inference] = []
            for n, (_, compiled) in enumerate(self.compiled):
                heads: Iterable[str]
                if keys is None:
                    heads = list(self._chains[n])
                else:
                    heads = [h for m, h in keys if m == n and h in self._chains[n]]
                chains: list[Chain] = [
                    tuple(self._events[i] for i in ids)
                    for head in heads
                    for ids in self._chains[n][head]
                ]
                out.extend(compiled.infer(c) for c in first_chains(chains))
            return out

    def compiled_for(self, rule_id: str) -> CompiledCorrelation:
        return next(c for _, c in self.compiled if c.rule.id == rule_id)

    def close(self) -> None:
        """Retract every fact and give the ruleset back to the pool, or free it (also
        done when the correlator is collected)."""
        with self._lock:
            host, self._host = self._host, None
            if host is None:
                return
            try:
                for facts in self._facts.values():
                    for fact in facts:
                        host.retract_fact(self._name, fact)
                clean = True
            except Exception:
                clean = False  # its state is unknown: never reused
            self._facts.clear()
            with _names_lock:
                pool = _POOL.setdefault(self._key, [])
                if clean and len(pool) < POOL_SIZE:
                    pool.append((host, self._name, self._found))
                    return
            # durable_rules frees a ruleset only by its native handle.
            for ruleset in host._ruleset_list:
                self._native.delete_ruleset(ruleset._handle)

    def __enter__(self) -> DurableCorrelator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
