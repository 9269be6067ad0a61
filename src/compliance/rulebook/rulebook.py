"""The loaded rulebook: rules, the documents they encode, and conversion factors."""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from compliance.events import Shipment
from compliance.rulebook.schema import (
    ConversionFactor,
    Document,
    FactorValue,
    HsProduct,
    Rule,
)
from compliance.units import dimension, format_amount

__all__ = ["Conversion", "Rulebook"]


@dataclass(frozen=True)
class Conversion:
    """The factor that turns an event's tonnes into barrels (or back), and its citation.

    The 1718 Committee's order: barrels as reported (no factor; volumes convert exactly);
    else the row of the named product (`by="product"`: the event names it); else the
    product its HS code stands for (`by="hs_code"`), which for refined products named by
    no one is the chart's product basket.
    """

    product: str
    barrels_per_tonne: Decimal
    source: str | None
    verified: bool
    since: date | None  # the dated value in use (None: the factor has one value)
    by: Literal["product", "hs_code"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `{"product": "product_basket", "barrels_per_tonne": "8.33", …}`."""
        out: dict[str, Any] = {
            "product": self.product,
            "barrels_per_tonne": format_amount(self.barrels_per_tonne),
            "by": self.by,
            "verified": self.verified,
        }
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.source:
            out["source"] = self.source
        return out

    def describe(self) -> str:
        """`8.33 bbl/t (product_basket, from the HS code; unverified)` for people."""
        how = "named" if self.by == "product" else "from the HS code"
        since = f", value of {self.since}" if self.since else ""
        flag = "" if self.verified else "; unverified"
        return f"{format_amount(self.barrels_per_tonne)} bbl/t ({self.product}, {how}{since}{flag})"


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
    _dated: dict[str, list[tuple[date | None, FactorValue]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})
        longest_first = tuple(sorted(self.hs_products, key=lambda h: -len(h.hs_code)))
        object.__setattr__(self, "hs_products", longest_first)
        dated = {product: factor.dated() for product, factor in self.factors.items()}
        object.__setattr__(self, "_dated", dated)
        object.__setattr__(self, "_conversions", {})

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

    def barrels_per_tonne(self, product: str | None, on: date | None = None) -> Decimal | None:
        """The product's factor on a date (with no date: the newest value)."""
        value = self._value_on(product, on) if product else None
        return value[1].barrels_per_tonne if value else None

    def conversion_for(self, event: Shipment) -> Conversion | None:
        """The tonnes/barrels factor this rulebook converts the event with, on its date;
        None when it has none for the event's product.

        >>> rulebook.conversion_for(notified_tonnes).describe()   # doctest: +SKIP
        '8.33 bbl/t (product_basket, from the HS code; unverified)'
        """
        # A cap's findings ask again for every member each time a live period changes.
        key = (event.product, event.hs_code, event.date)
        memo: dict[tuple[object, ...], Conversion | None] = self._conversions  # type: ignore[attr-defined]
        if key in memo:
            return memo[key]
        if len(memo) >= 1 << 16:
            memo.clear()
        memo[key] = found = self._conversion_for(event)
        return found

    def _conversion_for(self, event: Shipment) -> Conversion | None:
        named = bool(event.product)
        product = self.product_of(event)
        found = self._value_on(product, event.date) if product else None
        if found is None or product is None:
            return None
        since, value = found
        return Conversion(
            product=product,
            barrels_per_tonne=value.barrels_per_tonne,
            source=value.source,
            verified=value.verified,
            since=since,
            by="product" if named else "hs_code",
        )

    def screen_factor(self, product: str | None, unit: str, target: str) -> Decimal | None:
        """The product's value (over all dates) that converts `unit` into the most
        `target`: for screens that do not look at dates, an upper bound of every event's
        amount (the highest barrels per tonne from tonnes, the lowest from barrels)."""
        dated = self._dated.get(product) if product else None
        if not dated:
            return None
        values = [v.barrels_per_tonne for _, v in dated]
        return min(values) if dimension(unit) == "volume" else max(values)

    def _value_on(self, product: str, on: date | None) -> tuple[date | None, FactorValue] | None:
        dated = self._dated.get(product)
        if not dated:
            return None
        if on is None:
            return dated[-1]
        first = dated[0][0]
        if first is None or on <= first:
            return dated[0]  # the first value also serves earlier dates
        at = bisect.bisect_right([d for d, _ in dated], on) - 1  # type: ignore[type-var]
        return dated[at]
