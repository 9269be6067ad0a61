"""The loaded rulebook: rules, the documents they encode, and conversion factors."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from compliance.events import Shipment
from compliance.rulebook.schema import (
    ConversionFactor,
    Document,
    HsProduct,
    Rule,
)

__all__ = ["Rulebook"]


@dataclass(frozen=True)
class Rulebook:
    """Rules ready to evaluate.

    >>> rulebook = load_rulebook()            # doctest: +SKIP
    >>> rulebook.get("unscr-2397-refined-petroleum").kind
    'cap'
    """

    rules: tuple[Rule, ...]
    sources: tuple[str, ...] = ()
    documents: dict[str, Document] = field(default_factory=dict)  # rule id -> document
    factors: dict[str, ConversionFactor] = field(default_factory=dict)
    hs_products: tuple[HsProduct, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})
        longest_first = tuple(sorted(self.hs_products, key=lambda h: -len(h.hs_code)))
        object.__setattr__(self, "hs_products", longest_first)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        """The rule with this id; `KeyError` naming the closest ids otherwise."""
        by_id: dict[str, Rule] = self._by_id  # type: ignore[attr-defined]
        try:
            return by_id[rule_id]
        except KeyError:
            close = difflib.get_close_matches(rule_id, list(by_id), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise KeyError(f"no rule {rule_id!r} in this rulebook{hint}") from None

    def product_of(self, event: Shipment) -> str | None:
        """The event's product, or the one its HS code maps to."""
        if event.product:
            return event.product
        if event.hs_code:
            for mapping in self.hs_products:
                if event.hs_code.startswith(mapping.hs_code):
                    return mapping.product
        return None

    def barrels_per_tonne(self, product: str | None) -> Decimal | None:
        factor = self.factors.get(product) if product else None
        return factor.barrels_per_tonne if factor else None
