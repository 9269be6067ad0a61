"""Hypothesis strategies for shipment events, logs and rulebooks.

    from hypothesis import given
    from compliance.testing import strategies

    @given(strategies.events_matching(rulebook.get("my-cap"), rulebook))
    def test_counted(event): ...

Matching events are *constructed* from the rule's selector tree (solved into per-field
constraints, see `_constraints`), not found by filtering random events: a rule matching
one HS code in one country would otherwise reject almost every draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from compliance.events import ATTESTATIONS, COUNTRY_FIELDS, FIELDS, MAX_AMOUNT, PROVIDERS, Shipment
from compliance.rulebook.evaluator import compile_rule
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CapRule,
    DeadlineRule,
    DesignationRule,
    PriceCapRule,
    Rule,
    UnnotifiedRule,
)
from compliance.rulebook.selectors import (
    All,
    AnyOf,
    Compare,
    Equals,
    Not,
    Prefix,
    Present,
    Selector,
    parse_selector,
)
from compliance.testing import _constraints as c
from compliance.testing._rulebooks import (
    CORRELATION_BOUNDS,
    CORRELATION_DAYS,
    correlation_rules,
    rulebooks,
)
from compliance.units import MASS_UNITS, VOLUME_UNITS, convert, dimension

__all__ = [
    "CORRELATION_BOUNDS",
    "CORRELATION_DAYS",
    "DEFAULT_DATES",
    "NoMatchingEvent",
    "correlation_rules",
    "event_ids",
    "events_matching",
    "events_not_matching",
    "in_force",
    "logs",
    "rulebooks",
    "shipments",
]

DEFAULT_DATES = (date(2016, 1, 1), date(2027, 12, 31))
"""Dates drawn when nothing narrows them: the DPRK oil caps' lifetime and some margin."""

FAVOURITE_COUNTRIES = ("KP", "CN", "RU", "SG", "PA", "SL", "KR")
FAVOURITE_HS = ("2709", "2710", "271019", "2711", "2701", "7208", "8703", "0302", "2601", "9999")
PRODUCTS = ("crude", "gasoline", "diesel", "kerosene", "jet_fuel", "fuel_oil", "lpg")
CURRENCIES = ("USD", "EUR", "CNY")
SOURCES = ("notification", "ais", "panel-report")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Order matters: later fields depend on earlier ones (quantity is scaled to its unit).
_ORDER = ("date", "reported_on", "hs_code", "product", "currency", "unit", "quantity", "value")


class NoMatchingEvent(ValueError):
    """No valid event satisfies the rule's selectors (with the pinned fields)."""


def event_ids() -> SearchStrategy[str]:
    """Short alphanumeric ids: a suffix such as `#2` sorts right after its original."""
    return st.text(_ID_ALPHABET, min_size=1, max_size=6)


def in_force(rule: Rule, between: tuple[date, date] | None = None) -> tuple[date, date] | None:
    """The dates `rule` is in force within `between` (default `DEFAULT_DATES`), or None."""
    lo, hi = between or DEFAULT_DATES
    if rule.effective.from_ is not None:
        lo = max(lo, rule.effective.from_)
    if rule.effective.to is not None:
        hi = min(hi, rule.effective.to)
    return (lo, hi) if lo <= hi else None


def shipments(**fixed: Any) -> SearchStrategy[Shipment]:
    """Valid shipment events; pin a field with a value, a strategy, or None for absent.

    >>> shipments(destination="KP", quantity=st.decimals(0, 1000, places=2), unit="bbl")
    """
    return _events([{}], None, None, fixed)


def logs(
    min_size: int = 0, max_size: int = 50, events: SearchStrategy[Shipment] | None = None
) -> SearchStrategy[list[Shipment]]:
    """Lists of events with unique ids (drawn from `events`, default `shipments()`)."""
    return st.lists(events if events is not None else shipments(), min_size=min_size,
                    max_size=max_size, unique_by=lambda e: e.id)  # fmt: skip


def events_matching(
    rule: Rule,
    rulebook: Rulebook | None = None,
    *,
    between: tuple[date, date] | None = None,
    **fixed: Any,
) -> SearchStrategy[Shipment]:
    """Events the rule applies to: they satisfy `match`, not `unless`, dated in force.

    For a cap, quantities (or values) are expressed in units the rule's measures can be
    converted from, using the rulebook's factors when given, and scaled to its limit.
    For a designation, the event names a listed identifier on or after its designation.

    Args:
        rule: the rule.
        rulebook: for conversion factors (products whose tonnes convert to barrels).
        between: narrow the dates further (inclusive).
        fixed: pinned fields, as for `shipments`.

    Raises:
        NoMatchingEvent: the selectors contradict each other (or the pinned fields).
    """
    window = in_force(rule, between)
    if window is None:
        raise NoMatchingEvent(f"rule {rule.id} is not in force between {between or DEFAULT_DATES}")
    selector: Selector = rule.match if rule.unless is None else All((rule.match, Not(rule.unless)))
    if isinstance(rule, DesignationRule):
        selector = All((selector, _designated(rule, window)))
    if isinstance(rule, UnnotifiedRule):  # evidence of a group's supply
        evidence: tuple[Selector, ...] = (
            *(Present(f, True) for f in rule.group_by),
            Not(rule.notifications),
        )
        selector = All((selector, *evidence))
    terms = c.solve(selector, [(c.DateRange("date", *window), False)])
    if not terms:
        raise NoMatchingEvent(f"no event can match rule {rule.id}: its selectors contradict each "
                              "other (or its effective dates)")  # fmt: skip
    check: Callable[[Shipment], bool] = lambda e: applies(rule, e)  # noqa: E731
    if isinstance(rule, PriceCapRule):
        return _priced(rule, rulebook, window, terms, fixed, check)
    return _events(terms, rule, rulebook, fixed, check)


def _near(days: Sequence[date], window: tuple[date, date]) -> SearchStrategy[date]:
    """Dates in the window, most often a day before, on or after one of `days`."""
    edges = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)
                    if window[0] <= d + timedelta(days=k) <= window[1]})  # fmt: skip
    anywhere = st.dates(*window)
    return st.sampled_from(edges) | anywhere if edges else anywhere


def _priced(
    rule: PriceCapRule,
    rulebook: Rulebook | None,
    window: tuple[date, date],
    terms: Sequence[c.Constraints],
    fixed: dict[str, Any],
    check: Callable[[Shipment], bool],
) -> SearchStrategy[Shipment]:
    """Cargoes for a price cap: its providers, dates at its changes and wind-downs, and a
    price per unit near its levels (exactly at one, a cent either side, or anywhere)."""
    from compliance.engine.price_caps import quantity_in
    from compliance.units import CONTEXT

    changes = rule.changes
    winds = [w for _, v in changes for w in v.wind_down]
    edges = [d for d, _ in changes] + [
        d for w in winds for d in (w.contract_before, w.loaded_before, w.unloaded_before) if d
    ]
    lo = min(DEFAULT_DATES[0], *edges)
    hi = max(DEFAULT_DATES[1], *edges)
    some = st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=3, unique=True)
    providers = (st.sampled_from(rule.jurisdiction) | some.map(";".join)
                 if rule.jurisdiction else st.none() | some.map(";".join))  # fmt: skip
    mine: dict[str, Any] = {
        "date": _near([d for d, _ in changes], window),
        "provider": providers,
        "currency": st.just(rule.currency) | st.sampled_from(CURRENCIES),
        "unit": st.sampled_from([rule.unit, rule.unit, "m3", "l", "kl"]),
        "contract_date": st.none() | _near(edges, (lo, hi)),
        "unloaded_on": st.none() | _near(edges, (lo, hi)),
        "attestation": st.none() | st.sampled_from(ATTESTATIONS),
    }
    base = _events(terms, rule, rulebook, {**mine, **fixed}, check)
    cent = Decimal("0.01")
    levels = sorted({v.level for _, v in changes})
    near = st.sampled_from(levels).flatmap(lambda lv: st.sampled_from([lv, lv + cent, lv - cent]))
    prices = near | st.decimals(0, levels[-1] * 2, places=2)
    if "value" in fixed:
        return base
    empty = Rulebook(rules=())

    def priced(e: Shipment, price: Decimal) -> Shipment:
        quantity = quantity_in(rule, e, rulebook or empty)
        if quantity is None or e.value is None:
            return e
        return e.model_copy(update={"value": CONTEXT.multiply(price, quantity)})

    return st.tuples(base, prices).map(lambda pair: priced(*pair))


def events_not_matching(
    rule: Rule,
    rulebook: Rulebook | None = None,
    *,
    between: tuple[date, date] | None = None,
    **fixed: Any,
) -> SearchStrategy[Shipment]:
    """Events the rule does not apply to: outside `match`, inside `unless`, or not in force.

    Raises:
        NoMatchingEvent: every event matches the rule (`match` is everything, say).
    """
    lo, hi = between or DEFAULT_DATES
    date_range = [(c.DateRange("date", lo, hi), False)]
    options: list[SearchStrategy[Shipment]] = []
    miss = c.solve(Not(rule.match), date_range)
    if miss:
        options.append(_events(miss, None, rulebook, fixed))
    if rule.unless is not None:
        exempt = c.solve(All((rule.match, rule.unless)), date_range)
        if exempt:
            options.append(_events(exempt, None, rulebook, fixed))
    year = timedelta(days=400)
    outsides = []
    if rule.effective.from_ is not None:
        day_before = rule.effective.from_ - timedelta(days=1)
        outsides.append((max(lo, day_before - year), min(hi, day_before)))
    if rule.effective.to is not None:
        day_after = rule.effective.to + timedelta(days=1)
        outsides.append((max(lo, day_after), min(hi, day_after + year)))
    for outside in outsides:
        if outside[0] <= outside[1]:
            terms = c.solve(rule.match, [(c.DateRange("date", *outside), False)])
            if terms:
                options.append(_events(terms, None, rulebook, fixed))
    identifiers = (
        tuple(e.identifier for e in rule.entries if e.identifier is not None)
        if isinstance(rule, DesignationRule)
        else ()
    )
    if isinstance(rule, DesignationRule) and identifiers:
        unlisted = All(tuple(Not(Equals(f, identifiers)) for f in rule.fields))
        terms = c.solve(unlisted, date_range)
        if terms:
            options.append(_events(terms, None, rulebook, fixed))
    if not options:
        raise NoMatchingEvent(f"every event in {lo}–{hi} matches rule {rule.id}")
    return st.one_of(options).filter(lambda e: not applies(rule, e))


_TYPICAL = (date(2019, 1, 31), date(2019, 2, 1))  # deadline edges: the shortest, the longest


def applies(rule: Rule, event: Shipment) -> bool:
    """Does `rule` apply to `event` (in force, match, not unless, a listed identifier
    designated by the event's date)? The engines' own evaluator decides."""
    if not compile_rule(rule)(event):
        return False
    if isinstance(rule, DesignationRule):
        listed = {e.identifier: e.designated for e in rule.entries}
        return any(
            (v := event.get(f)) is not None
            and v in listed
            and event.date >= listed[v]
            and (rule.associate is None or event.get(rule.associate) not in (None, v))
            for f in rule.fields
        )
    return True


def _designated(rule: DesignationRule, window: tuple[date, date]) -> Selector:
    """Some listed identifier in some field, on or after its designation date."""
    entries = rule.entries
    since = [All((Equals(f, (e.identifier,)), c.DateRange("date", e.designated, None)))  # type: ignore[arg-type]
             for e in entries for f in rule.fields
             if e.identifier is not None and e.designated <= window[1]]  # fmt: skip
    items = tuple(since)
    # No entry designated in time: a selector no event satisfies.
    if not items:
        return All((Present("id", False), Present("id", True)))
    if rule.associate is not None:  # and a party associated with the listed one
        return All((AnyOf(items), Present(rule.associate, True)))
    return AnyOf(items)


# Building events from constraints -----------------------------------------------------


def _collect(problems: list[str]) -> Callable[[tuple[object, ...], str], None]:
    return lambda _path, message: problems.append(message)


def _pin(fixed: dict[str, Any]) -> tuple[list[c.Literal], dict[str, SearchStrategy[Any]]]:
    """Pinned values as literals (normalised like selectors); strategies drawn as given."""
    literals: list[c.Literal] = []
    drawn: dict[str, SearchStrategy[Any]] = {}
    for name, value in fixed.items():
        if name not in FIELDS and not name.startswith("extra."):
            raise TypeError(f"unknown shipment field {name!r}")
        if isinstance(value, SearchStrategy):
            drawn[name] = value
        elif value is None:
            literals.append((Present(name, False), False))
        elif name == "id":
            drawn[name] = st.just(str(value))
        else:
            problems: list[str] = []
            parsed = parse_selector({name: value}, (), _collect(problems))
            if problems:
                raise ValueError(f"{name}={value!r}: {problems[0]}")
            literals.extend(c._dnf(parsed, False)[0])
    return literals, drawn


def _events(
    terms: Sequence[c.Constraints],
    rule: Rule | None,
    rulebook: Rulebook | None,
    fixed: dict[str, Any],
    check: Callable[[Shipment], bool] | None = None,
) -> SearchStrategy[Shipment]:
    literals, drawn = _pin(fixed)
    if literals:
        pinned = [c._merge([*_literals(t), *literals]) for t in terms]
        terms = [t for t in pinned if t is not None]
        if not terms:
            raise NoMatchingEvent(f"the pinned fields {sorted(fixed)} contradict the selectors")
    # One builder per conjunction, built on first use and kept: constructing strategies
    # costs more than drawing from them, and a list of HS prefixes makes many conjunctions.
    builders: dict[int, SearchStrategy[Shipment]] = {}

    def builder(i: int) -> SearchStrategy[Shipment]:
        if i not in builders:
            builders[i] = _event(terms[i], rule, rulebook, drawn)
        return builders[i]

    strategy = st.integers(0, len(terms) - 1).flatmap(builder)
    # Reference check as a safety net: constraints are sound, but a pinned strategy or an
    # exotic selector (prefixes of dates, say) may still produce a miss.
    return strategy.filter(check) if check is not None else strategy


def _literals(spec: c.Constraints) -> list[c.Literal]:
    """A constraint set back as literals, so pinned fields can be merged into it."""
    out: list[c.Literal] = []
    for name, f in spec.items():
        if f.present is not None:
            out.append((Present(name, f.present), False))
        out.extend((Equals(name, (v,)), False) for v in f.pinned)
        if f.excluded:
            out.append((Equals(name, tuple(f.excluded)), True))
        out.extend((Prefix(name, (p,)), False) for p in f.prefixes)
        if f.not_prefixes:
            out.append((Prefix(name, tuple(f.not_prefixes)), True))
        if isinstance(f.lo, date) or isinstance(f.hi, date):
            out.append((c.DateRange(name, f.lo, f.hi), False))
            continue
        # A bound that does not require presence is a negated comparison (it holds when
        # the field is absent), exactly as `_merge` reads it back.
        loose = f.present is None
        if f.lo is not None:
            op = ("lte" if f.lo_strict else "lt") if loose else ("gt" if f.lo_strict else "gte")
            out.append((Compare(name, op, f.lo), loose))
        if f.hi is not None:
            op = ("gte" if f.hi_strict else "gt") if loose else ("lt" if f.hi_strict else "lte")
            out.append((Compare(name, op, f.hi), loose))
    return out


def _event(
    spec: c.Constraints,
    rule: Rule | None,
    rulebook: Rulebook | None,
    drawn: dict[str, SearchStrategy[Any]],
) -> SearchStrategy[Shipment]:
    names = [n for n in (*_ORDER, *FIELDS, *sorted(spec)) if n not in ("id", "supersedes")]
    if "supersedes" in spec:
        names.append("supersedes")
    order = list(dict.fromkeys(names))
    cache: dict[tuple[Any, ...], SearchStrategy[Any]] = {}
    none = c.FieldSpec()

    def value_of(name: str, field: c.FieldSpec, values: dict[str, Any]) -> SearchStrategy[Any]:
        # A field's strategy depends on earlier fields only through these keys.
        key: tuple[Any, ...] = (name,)
        if name == "unit":
            key = (name, _factor(values, rulebook) is not None)
        elif name in ("quantity", "value"):
            key = (name, values.get("unit"), values.get("currency"), _factor(values, rulebook))
        if key not in cache:
            cache[key] = _value(name, field, values, rule, rulebook)
        return cache[key]

    # Which optional fields an event carries is one draw (a bit mask), not one per field:
    # hypothesis spends most of its time per draw, and the mask shrinks towards none.
    optional = [n for n in order if n not in drawn and n in _OPTIONAL_PRESENT
                and spec.get(n, none).present is None and not _needed(n, rule)]  # fmt: skip
    mask = st.integers(0, 2 ** len(optional) - 1)

    @st.composite
    def build(draw: st.DrawFn) -> Shipment:
        values: dict[str, Any] = {"id": draw(drawn.get("id", event_ids()))}
        bits = draw(mask)
        carried = {n for i, n in enumerate(optional) if bits >> i & 1}
        for name in order:
            if name in drawn:
                value = draw(drawn[name])
            elif name in optional and name not in carried:
                continue
            else:
                value = _draw_field(draw, name, spec.get(name, none), values, value_of)
            if value is not None:
                values[name] = value
        extra = {k[6:]: str(v) for k, v in values.items() if k.startswith("extra.")}
        plain = {k: v for k, v in values.items() if not k.startswith("extra.")}
        return Shipment(**plain, extra=extra)

    return build()


_OPTIONAL_PRESENT = {  # fields an unconstrained event may carry (hypothesis decides which)
    "unit", "currency", "hs_code", "commodity", "product", "origin", "destination", "supplier",
    "vessel_imo", "counterparty_imo", "vessel_name", "vessel_flag", "counterparty_flag", "transfer",
    "reported_on", "source",
}  # fmt: skip


def _draw_field(
    draw: st.DrawFn,
    name: str,
    spec: c.FieldSpec,
    values: dict[str, Any],
    value_of: Callable[[str, c.FieldSpec, dict[str, Any]], SearchStrategy[Any]],
) -> Any:
    """A field the event carries (optional fields were chosen by the caller)."""
    if spec.present is False:
        return None
    if name == "date":
        return spec.pinned[0] if spec.pinned else draw(value_of(name, spec, values))
    if name in ("quantity", "value"):
        # Tied to its unit / currency (drawn first): present exactly when that is.
        if ("unit" if name == "quantity" else "currency") not in values:
            return None
    elif name not in _OPTIONAL_PRESENT and not spec.present:
        return None  # supersedes, extra columns: only when a selector asks for them
    if name == "reported_on":  # drawn as a lag after the date
        if spec.pinned:
            return spec.pinned[0]
        day = values["date"]
        return draw(value_of(name, spec, values).map(lambda n: day + timedelta(days=n))
                    .filter(spec.ok))  # fmt: skip
    return draw(value_of(name, spec, values))


def _needed(name: str, rule: Rule | None) -> bool:
    """A cap counts an event only with an amount in every measure: provide them."""
    if not isinstance(rule, CapRule):
        return False
    if name == "unit":
        return any(not m.is_currency for m in rule.limit)
    if name == "currency":
        return any(m.is_currency for m in rule.limit)
    return False


def _strict(pool: Sequence[str], wanted: Sequence[str]) -> SearchStrategy[str]:
    """Only the wanted values the constraints allow; all allowed ones when none is wanted."""
    usable = [w for w in dict.fromkeys(wanted) if w in pool]
    return st.sampled_from(usable) if usable else _choose(pool, ())


def _dates(lo: date, hi: date) -> SearchStrategy[date]:
    return st.dates(lo, hi) if lo <= hi else st.nothing()


def _choose(pool: Sequence[Any], preferred: Sequence[Any]) -> SearchStrategy[Any]:
    if not pool:
        return st.nothing()
    first = [p for p in preferred if p in pool]
    return st.sampled_from(first) | st.sampled_from(list(pool)) if first else st.sampled_from(
        list(pool))  # fmt: skip


def _value(
    name: str,
    spec: c.FieldSpec,
    values: dict[str, Any],
    rule: Rule | None,
    rulebook: Rulebook | None,
) -> SearchStrategy[Any]:
    if spec.pinned:
        return st.just(spec.pinned[0])
    cap = rule if isinstance(rule, CapRule) else None
    if name in c.DOMAINS:
        pool = c.candidates(name, spec)
        if name == "unit":
            return _strict(pool, _units_for(cap, values, rulebook)) if cap else _choose(
                pool, _units_for(cap, values, rulebook))  # fmt: skip
        if name == "currency":
            wanted = [m.unit for m in cap.limit if m.is_currency] if cap else []
            return _strict(pool, wanted) if wanted else _choose(pool, CURRENCIES)
        return _choose(pool, FAVOURITE_COUNTRIES if name in COUNTRY_FIELDS else ())
    if name == "date":
        lo = spec.lo if isinstance(spec.lo, date) else DEFAULT_DATES[0]
        hi = spec.hi if isinstance(spec.hi, date) else DEFAULT_DATES[1]
        return _dates(lo, hi).filter(spec.ok) if spec.constrained else _dates(lo, hi)
    if name == "reported_on":  # days after the date; the deadline's edges are likeliest
        within = (
            [(rule.due(d) - d).days for d in _TYPICAL] if isinstance(rule, DeadlineRule) else []
        )
        return st.sampled_from([0, 1, *within, *(d + 1 for d in within), 45]) | st.integers(0, 400)
    if name == "product":
        factors = sorted(rulebook.factors) if rulebook is not None else []
        if cap is not None and any(spec.ok(p) for p in factors):
            # A cap converts with the product's factor: name only products that have one.
            return st.sampled_from([p for p in factors if spec.ok(p)])
        pool = [p for p in (*factors, *PRODUCTS) if spec.ok(p)]
        return _choose(pool, factors) if pool else _text(spec, "abcdefgh_")
    if name in ("quantity", "value"):
        return _amounts(name, spec, values, cap, rulebook)
    if name.startswith("extra.") and (isinstance(spec.lo, Decimal) or isinstance(spec.hi, Decimal)):
        return _amounts(name, spec, values, None, None).map(str)
    if not spec.constrained and name in _PLAIN:
        return st.sampled_from(_PLAIN[name])
    if name == "hs_code":
        return _digits(spec, 10, FAVOURITE_HS)
    if name in ("vessel_imo", "counterparty_imo"):
        return _imos(spec)
    if name == "source":
        pool = [s for s in SOURCES if spec.ok(s)]
        return _choose(pool, ()) | _text(spec) if pool else _text(spec)
    return _text(spec)


_PLAIN: dict[str, tuple[str, ...]] = {  # realistic values for fields no selector constrains
    "hs_code": (*FAVOURITE_HS, "27101943", "2709000000", "890110"),
    "commodity": ("diesel", "crude oil", "refined products", "coal", "seafood"),
    "vessel_name": ("KUM UN SAN 3", "YU JONG 2", "NEW REGENT", "SUBBLIC"),
    "source": SOURCES,
}


def _units_for(cap: CapRule | None, values: dict[str, Any], rulebook: Rulebook | None) -> list[str]:
    """Units whose quantities convert into every measure of the cap."""
    if cap is None:
        return ["bbl", "t", "kl"]
    quantity = [m for m in cap.limit if not m.is_currency]
    if not quantity:
        return ["bbl", "t"]
    dims = {dimension(m.unit) for m in quantity}
    factor = _factor(values, rulebook)
    if factor is not None:
        return [m.unit for m in quantity] + ["bbl", "t", "kl", "m3", "l", "gal", "kg"]
    if len(dims) == 1:
        table = VOLUME_UNITS if dims == {"volume"} else MASS_UNITS
        return [m.unit for m in quantity] + sorted(table)
    return [quantity[0].unit]  # mass and volume without a factor: one measure is unconvertible


def _factor(values: dict[str, Any], rulebook: Rulebook | None) -> Decimal | None:
    if rulebook is None:
        return None
    probe = Shipment.model_construct(**{"product": None, "hs_code": None, **values})
    return rulebook.barrels_per_tonne(rulebook.product_of(probe))


def _amounts(
    name: str,
    spec: c.FieldSpec,
    values: dict[str, Any],
    cap: CapRule | None,
    rulebook: Rulebook | None,
) -> SearchStrategy[Decimal]:
    lo = max(spec.lo, Decimal(0)) if isinstance(spec.lo, Decimal) else Decimal(0)
    hi = min(spec.hi, MAX_AMOUNT) if isinstance(spec.hi, Decimal) else MAX_AMOUNT
    scale = Decimal(100000)
    if cap is not None:
        # Scale to the limit so a handful of events crosses it, and sometimes lands on it.
        unit = values.get("unit" if name == "quantity" else "currency")
        factor = _factor(values, rulebook)
        for m in cap.limit:
            converted = convert(m.amount, m.unit, unit, factor) if unit else None
            if converted is not None:
                scale = converted
                break

    def fraction(n: int) -> Decimal:
        return (scale * n / 8).quantize(Decimal("0.001"))

    picks = st.integers(0, 10).map(fraction) | st.decimals(0, min(scale * 2, MAX_AMOUNT), places=3)
    if lo > 0 or hi < MAX_AMOUNT:
        middle = (lo + hi) / 2
        picks = st.just(middle) | picks | st.decimals(lo, hi, places=3)
    return picks.filter(lambda d: lo <= d <= hi and spec.ok(d))


def _digits(spec: c.FieldSpec, length: int, favourites: Sequence[str]) -> SearchStrategy[str]:
    start = max(spec.prefixes, key=len) if spec.prefixes else None
    heads = st.just(start) if start is not None else st.sampled_from(list(favourites)) | st.text(
        "0123456789", min_size=2, max_size=4)  # fmt: skip

    def extend(head: str) -> SearchStrategy[str]:
        room = length - len(head)
        tail = st.text("0123456789", min_size=max(0, 2 - len(head)), max_size=max(0, min(room, 6)))
        return tail.map(lambda t: head + t)

    return heads.flatmap(extend).filter(lambda v: 2 <= len(v) <= length and spec.ok(v))


def _imos(spec: c.FieldSpec) -> SearchStrategy[str]:
    from compliance.testing._rulebooks import imo_numbers

    head = max(spec.prefixes, key=len) if spec.prefixes else ""
    return imo_numbers(head).filter(spec.ok)


def _text(spec: c.FieldSpec, alphabet: str = "abcdefghijklmnopqrstuvwxyz -") -> SearchStrategy[str]:
    head = max(spec.prefixes, key=len) if spec.prefixes else ""
    tail = st.text(alphabet, min_size=0 if head.strip() else 1, max_size=8)
    return tail.map(lambda t: head + t).filter(lambda v: v.strip() == v and v != "" and spec.ok(v))
