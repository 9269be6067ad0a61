"""Findings of price caps (`kind: price_cap`): a cargo's value per unit against the level
in force for it, for each jurisdiction its service providers belong to.

Which level governs a cargo: a change of level on day D reaches cargo loaded on or after
D, and cargo loaded before D but unloaded on or after it (its services went on after the
change); a wind-down of the change exempts cargo meeting every one of its conditions, and
the previous level governs it instead (none before the first). A wind-down condition on a
field the event lacks is not met (the exemption is not shown), and the finding says which
field would have decided it. Prices compare exactly: `value > level x quantity`, both
`Decimal`, so a price exactly at the level is compliant and one cent above breaches.

    >>> price_cap_findings(rule, [cargo], rulebook)        # doctest: +SKIP
    [Finding(kind='price_cap_exceeded', ...)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from compliance.events import Shipment
from compliance.report import SEVERITY, Finding, FindingKind, Measurement
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import PriceCapRule, PriceLevel, WindDown
from compliance.units import CONTEXT, convert, format_amount

__all__ = ["Governing", "governing_level", "price_cap_findings", "quantity_in"]


@dataclass(frozen=True)
class Governing:
    """The level a cargo is evaluated at, and how it was chosen."""

    since: date | None  # None: no level reaches the cargo
    level: PriceLevel | None
    consulted: list[WindDown] = field(default_factory=list)
    exempted: list[tuple[date, WindDown]] = field(default_factory=list)
    undecided: list[tuple[date, WindDown, list[str]]] = field(default_factory=list)


def _condition(w: WindDown, e: Shipment) -> tuple[bool, list[str]]:
    """(every condition known to hold, the fields whose absence left one open)."""
    missing: list[str] = []
    ok = True
    if w.loaded_before is not None and not e.date < w.loaded_before:
        ok = False
    if w.unloaded_before is not None:
        if e.date >= w.unloaded_before:
            ok = False  # unloading is never before loading
        elif e.unloaded_on is None:
            missing.append("unloaded_on")
        elif not e.unloaded_on < w.unloaded_before:
            ok = False
    if w.contract_before is not None:
        if e.contract_date is None:
            missing.append("contract_date")
        elif not e.contract_date < w.contract_before:
            ok = False
    return ok and not missing, missing if ok else []


def governing_level(rule: PriceCapRule, e: Shipment) -> Governing:
    """The level in force for cargo `e` (by its loading, unloading and contract dates)."""
    consulted: list[WindDown] = []
    exempted: list[tuple[date, WindDown]] = []
    undecided: list[tuple[date, WindDown, list[str]]] = []
    for day, level in reversed(rule.changes):
        reaches = e.date >= day or (e.unloaded_on is not None and e.unloaded_on >= day)
        if not reaches:
            continue
        held = None
        for w in level.wind_down:
            consulted.append(w)
            holds, missing = _condition(w, e)
            if holds:
                held = w
                break
            if missing:
                undecided.append((day, w, missing))
        if held is None:
            return Governing(day, level, consulted, exempted, undecided)
        exempted.append((day, held))
    return Governing(None, None, consulted, exempted, undecided)


def quantity_in(rule: PriceCapRule, e: Shipment, rulebook: Rulebook) -> Decimal | None:
    """The cargo's quantity in the rule's unit; None without one or without a factor."""
    if e.quantity is None or e.unit is None:
        return None
    factor = rulebook.barrels_per_tonne(rulebook.product_of(e))
    return convert(e.quantity, e.unit, rule.unit, factor)


def price_cap_findings(
    rule: PriceCapRule, events: Sequence[Shipment], rulebook: Rulebook
) -> list[Finding]:
    """Every finding of a price cap: per event, per jurisdiction of the rule it names."""
    out: list[Finding] = []
    for e in events:
        if rule.jurisdiction:
            named = set(e.providers)
            jurisdictions: list[str | None] = [j for j in rule.jurisdiction if j in named]
        else:
            jurisdictions = [None]
        if not jurisdictions:
            continue
        chosen = governing_level(rule, e)
        if chosen.level is None or chosen.since is None:
            continue
        for j in jurisdictions:
            finding = _finding(rule, e, j, chosen, rulebook)
            if finding is not None:
                out.append(finding)
    return out


def _words(w: WindDown) -> str:
    parts = []
    if w.contract_before:
        parts.append(f"contracts concluded before {w.contract_before}")
    if w.loaded_before:
        parts.append(f"loaded before {w.loaded_before}")
    if w.unloaded_before:
        parts.append(f"unloaded before {w.unloaded_before}")
    return ", ".join(parts)


def _money(d: Decimal) -> str:
    """Cents for people to read (`47.60`), or every digit when there are more."""
    if d == d.quantize(Decimal("0.01")):
        return f"{d:,.2f}"
    return format_amount(d, grouping=True)


def _finding(
    rule: PriceCapRule, e: Shipment, j: str | None, chosen: Governing, rulebook: Rulebook
) -> Finding | None:
    level, since = chosen.level, chosen.since
    assert level is not None and since is not None
    per = f"{rule.currency}/{rule.unit}"
    where = f"the {j} cap" if j else "the cap"
    cap = f"{where} of {rule.currency} {_money(level.level)}/{rule.unit} in force from {since}"
    verified = rule.verified and level.verified and all(w.verified for w in chosen.consulted)
    price: dict[str, str] = {
        "level": format_amount(level.level),
        "currency": rule.currency,
        "unit": rule.unit,
        "level_from": since.isoformat(),
    }
    if j:
        price["jurisdiction"] = j
    notes = [f"the {day} change does not apply ({_words(w)})" for day, w in chosen.exempted]
    notes += [
        f"the wind-down of the {day} change ({_words(w)}) would apply if shown: the log "
        f"gives no {' or '.join(missing)}"
        for day, w, missing in chosen.undecided
    ]
    if e.date > rule.last_confirmed and since == max(rule.values):
        notes.append(
            f"levels after {rule.last_confirmed} are not confirmed in this rulebook: the "
            "level may since have been revised"
        )
        price["may_be_revised"] = "true"
    group = {"provider": j} if j else {}
    base = {
        "rule": rule.id,
        "title": rule.label,
        "citation": level.citation,
        "date": e.date,
        "trigger": e.id,
        "events": [e.id],
        "group": group,
    }

    def make(kind: FindingKind, message: str, **extra: object) -> Finding:
        text = "; ".join([message, *notes])
        return Finding(
            **base,  # type: ignore[arg-type]
            kind=kind,
            severity=SEVERITY[kind],
            verified=extra.pop("verified", verified),  # type: ignore[arg-type]
            price=price,
            message=f"{rule.label}: {text} ({level.citation})",
            **extra,  # type: ignore[arg-type]
        )

    loaded = f"shipment {e.id} loaded on {e.date}"
    if e.value is None or e.currency != rule.currency:
        given = "no value" if e.value is None else f"a value in {e.currency}"
        return make("unpriced", f"{loaded} is subject to {cap} but carries {given}, not a "
                    f"price in {rule.currency}; it cannot be shown compliant")  # fmt: skip
    quantity = quantity_in(rule, e, rulebook)
    if quantity is None and e.quantity is not None:
        product = f"product {e.product!r}" if e.product else "an unnamed product"
        return make("unconvertible", f"{loaded}: {e.unit} of {product} cannot be expressed "
                    f"in {rule.unit} without a conversion factor in the rulebook, so its "
                    f"price per {rule.unit} is unknown; the evaluation is incomplete")  # fmt: skip
    if quantity is None or quantity == 0:
        return make("unpriced", f"{loaded} is subject to {cap} but carries no quantity to "
                    f"price per {rule.unit}; it cannot be shown compliant")  # fmt: skip
    if not e.value > CONTEXT.multiply(level.level, quantity):
        return None
    per_unit = CONTEXT.divide(e.value, quantity)
    excess = CONTEXT.subtract(per_unit, level.level)
    price = {f"price_per_{rule.unit}": format_amount(per_unit), **price}
    figures = Measurement(
        unit=per, limit=level.level, running=per_unit, total=per_unit, excess=excess
    )
    over = (
        f"{loaded}: {rule.currency} {_money(per_unit)}/{rule.unit} exceeds {cap} by "
        f"{rule.currency} {_money(excess)}"
    )
    harbour = rule.safe_harbour
    if harbour is not None and e.attestation in harbour.attestation:
        price["attestation"] = e.attestation
        return make(
            "safe_harbour",
            f"{over}; the provider holds a tier {e.attestation} attestation, a safe harbour "
            f"({harbour.citation}): review the attestation, not a breach",
            measure=figures,
            verified=verified and harbour.verified,
        )
    if e.attestation:
        price["attestation"] = e.attestation
        over += f" (a tier {e.attestation} attestation gives no safe harbour here)"
    return make("price_cap_exceeded", over, measure=figures)
