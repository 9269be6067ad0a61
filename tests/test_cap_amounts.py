"""`CapAmounts`: the columnar engine's events' exact cap amounts, computed once per event
and set of measures in an evaluation, are `cap_amounts` of each rule asking, on random
rulebooks of several caps and events matching any of them, asked in any order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from compliance.engine.columnar.caps import CapAmounts
from compliance.engine.findings import cap_amounts
from compliance.events import Shipment
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import CapRule
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Rulebook, list[CapRule], list[Shipment]]:
    rulebook = draw(strategies.rulebooks(min_rules=2, max_rules=4))
    caps = [r for r in rulebook.rules if isinstance(r, CapRule)]
    events: list[Shipment] = []
    for _ in range(draw(st.integers(1, 12)) if caps else 0):
        try:
            events.append(draw(strategies.events_matching(draw(st.sampled_from(caps)), rulebook)))
        except NoMatchingEvent:
            continue
    return rulebook, caps, events


@given(_cases(), st.randoms(use_true_random=False))
def test_amounts_are_each_rules_cap_amounts(
    case: tuple[Rulebook, list[CapRule], list[Shipment]], random: object
) -> None:
    rulebook, caps, events = case
    seen = CapAmounts(rulebook)
    asks = [(rule, e) for rule in caps for e in events] * 2  # each asked again, later
    random.shuffle(asks)  # type: ignore[attr-defined]
    for rule, e in asks:
        assert seen.of(rule)(e) == cap_amounts(rule, e, rulebook)
        # An event made and dropped between questions: its id may be another's next.
        double = e.model_copy(update={"quantity": (e.quantity or Decimal(0)) * 2 + 1})
        assert seen.of(rule)(double) == cap_amounts(rule, double, rulebook)


def test_an_event_is_converted_once_per_measures(monkeypatch: object) -> None:
    """The rule on notified supply takes the all-evidence rule's amounts; a cap on other
    measures computes its own."""
    import compliance.engine.columnar.caps as caps_module
    from compliance.rulebook.load import load_rulebook

    rulebook = load_rulebook()
    by_id = {r.id: r for r in rulebook.rules if isinstance(r, CapRule)}
    every, notified = (
        by_id["unscr-2397-refined-petroleum"],
        by_id["unscr-2397-refined-petroleum-notified"],
    )
    other = next(r for r in by_id.values() if [m.unit for m in r.limit] != ["bbl"])
    calls: list[str] = []

    def counted(rule: CapRule, e: Shipment, book: Rulebook) -> tuple[Decimal | None, ...]:
        calls.append(rule.id)
        return cap_amounts(rule, e, book)

    monkeypatch.setattr(caps_module, "cap_amounts", counted)  # type: ignore[attr-defined]
    event = Shipment(id="s1", date=date(2019, 3, 1), quantity=Decimal(100), unit="t",
                     destination="KP", product="diesel", source="notification")  # fmt: skip
    seen = CapAmounts(rulebook)
    for rule in (every, notified, every, other, other):
        assert seen.of(rule)(event) == cap_amounts(rule, event, rulebook)
    assert calls == [every.id, other.id]
