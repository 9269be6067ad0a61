"""`RulebookEvaluator.rules_for` keeps its answers by what the rules read: on random
rulebooks and events it answers what testing every rule answers, however its memo is
filled or emptied."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from compliance.events import Shipment
from compliance.rulebook.evaluator import RulebookEvaluator, compile_rule
from compliance.rulebook.rulebook import Rulebook
from compliance.testing import strategies
from compliance.testing.strategies import NoMatchingEvent


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Rulebook, list[Shipment]]:
    rulebook = draw(strategies.rulebooks(max_rules=6))
    events = draw(strategies.logs(max_size=12))
    for rule in draw(st.lists(st.sampled_from(rulebook.rules), max_size=8)):
        try:
            events.append(draw(strategies.events_matching(rule, rulebook)))
        except NoMatchingEvent:
            continue
    # Copies that differ in what no rule reads, and in the text of a number only.
    events += [e.model_copy(update={"id": e.id + "'"}) for e in events]
    events += [
        e.model_copy(update={"quantity": Decimal(f"{e.quantity}.0")})
        for e in events
        if e.quantity is not None and "." not in str(e.quantity) and "E" not in str(e.quantity)
    ]
    return rulebook, draw(st.permutations(events))


@given(_cases())
def test_rules_for_answers_what_every_rule_answers(case: tuple[Rulebook, list[Shipment]]) -> None:
    rulebook, events = case
    kept, forgetful = RulebookEvaluator(rulebook.rules), RulebookEvaluator(rulebook.rules)
    forgetful.memo_size = 2
    tests = [compile_rule(r) for r in rulebook.rules]
    for event in events * 2:
        expected = [i for i, t in enumerate(tests) if t(event)]
        assert kept.rules_for(event) == forgetful.rules_for(event) == expected
