"""Pydantic models of rule files (DESIGN §3); `compliance rules schema` prints their schema."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from compliance._codes import CURRENCIES
from compliance.events import ATTESTATIONS, PROVIDERS
from compliance.rulebook.selectors import (
    MATCH_ALL,
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
from compliance.rulebook.selectors import to_dict as selector_to_dict
from compliance.units import UNITS

__all__ = [
    "AnyRule",
    "CapRule",
    "ConversionFactor",
    "DeadlineRule",
    "DesignationEntry",
    "DesignationRule",
    "Document",
    "Effective",
    "HsProduct",
    "Measure",
    "Period",
    "PriceCapRule",
    "PriceLevel",
    "ProhibitionRule",
    "Rule",
    "RuleFile",
    "SafeHarbour",
    "Threshold",
    "WindDown",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_SELECTOR_TYPES = (Equals, Prefix, Compare, Present, All, AnyOf, Not)


def _coerce_selector(raw: object) -> Selector:
    if isinstance(raw, _SELECTOR_TYPES):
        return raw

    def ignore(path: tuple[object, ...], message: str) -> None:
        # The loader reports selector problems with their exact line and column first.
        raise ValueError(message)

    return parse_selector(raw, (), ignore)


_SELECTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "field: value | field: [values] | field: {prefix|gt|gte|lt|lte|present: …}"
    " | all: [selectors] | any: [selectors] | not: selector",
    "minProperties": 1,
}
SelectorField = Annotated[
    Selector,
    PlainValidator(_coerce_selector),
    PlainSerializer(selector_to_dict),
    WithJsonSchema(_SELECTOR_SCHEMA),
]


class Document(_Model):
    """The legal instrument a rule file encodes."""

    symbol: str
    title: str | None = None
    adopted: date | None = None
    url: str | None = None


class Effective(_Model):
    """Dates a rule is in force, both inclusive."""

    from_: date | None = Field(None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError(f"to ({self.to}) is before from ({self.from_})")
        return self

    def __contains__(self, day: object) -> bool:
        return (
            isinstance(day, date)
            and (self.from_ is None or day >= self.from_)
            and (self.to is None or day <= self.to)
        )


class Measure(_Model):
    """One limit: an amount in a quantity unit, or in a currency summed from `value`."""

    amount: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    unit: str

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit.lower() in UNITS:
            return unit.lower()
        if unit.upper() in CURRENCIES:
            return unit.upper()
        raise ValueError(
            f"unknown unit {unit!r}; expected one of {', '.join(sorted(UNITS))} "
            "or an ISO 4217 currency code"
        )

    @property
    def is_currency(self) -> bool:
        return self.unit not in UNITS


class CalendarPeriod(_Model):
    calendar: Literal["year", "quarter", "month"]


class MonthsPeriod(_Model):
    months: Annotated[int, Field(gt=0, le=1200)]
    anchor: date


class RollingPeriod(_Model):
    days: Annotated[int, Field(gt=0, le=36600)]


class FixedPeriod(_Model):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> FixedPeriod:
        if self.to < self.from_:
            raise ValueError(f"to ({self.to}) is before from ({self.from_})")
        return self


def _period_tag(raw: Any) -> str | None:
    if isinstance(raw, BaseModel):
        return {
            CalendarPeriod: "calendar",
            MonthsPeriod: "months",
            RollingPeriod: "days",
            FixedPeriod: "fixed",
        }.get(type(raw))
    if isinstance(raw, dict):
        for key, tag in (
            ("calendar", "calendar"),
            ("months", "months"),
            ("days", "days"),
            ("from", "fixed"),
            ("to", "fixed"),
        ):
            if key in raw:
                return tag
    return None


Period = Annotated[
    Annotated[CalendarPeriod, Tag("calendar")]
    | Annotated[MonthsPeriod, Tag("months")]
    | Annotated[RollingPeriod, Tag("days")]
    | Annotated[FixedPeriod, Tag("fixed")],
    Discriminator(
        _period_tag,
        custom_error_type="period",
        custom_error_message="a period is {calendar: year|quarter|month}, "
        "{months: N, anchor: DATE}, {days: N} or {from: DATE, to: DATE}",
    ),
]


class Threshold(_Model):
    """A notice level as a fraction of the limit; unverified when only reported second-hand."""

    fraction: Annotated[Decimal, Field(gt=0, le=1)]
    verified: bool = True

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, raw: Any) -> Any:
        return {"fraction": raw} if isinstance(raw, int | float | Decimal | str) else raw


class Within(_Model):
    days: Annotated[int, Field(ge=0, le=36600)]


class Rule(_Model):
    """What every rule has; `isinstance(x, Rule)` holds for a rule of any kind."""

    kind: str
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=120)]
    title: str | None = None
    citation: str
    verified: bool = True
    description: str | None = None
    notes: str | None = None
    hs_mapping: Literal["resolution", "interpretation"] | None = None
    effective: Effective = Effective.model_validate({})
    match: SelectorField
    unless: SelectorField | None = None

    @property
    def label(self) -> str:
        return self.title or self.id


class CapRule(Rule):
    """The total of matching events in each period must not exceed any measure's amount."""

    kind: Literal["cap"]
    limit: Annotated[list[Measure], Field(min_length=1)]
    period: Period
    thresholds: list[Threshold] = []
    group_by: list[str] = []

    @field_validator("thresholds")
    @classmethod
    def _sorted_thresholds(cls, thresholds: list[Threshold]) -> list[Threshold]:
        fractions = [t.fraction for t in thresholds]
        if len(set(fractions)) != len(fractions):
            raise ValueError("thresholds must not repeat")
        return sorted(thresholds, key=lambda t: t.fraction)


class ProhibitionRule(Rule):
    """Every matching event is a breach (`unless` exempts)."""

    kind: Literal["prohibition"]


class DeadlineRule(Rule):
    """A matching event must be reported within `within` days of its date."""

    kind: Literal["deadline"]
    within: Within


class DesignationEntry(_Model):
    """A designated identifier (an IMO number, say), from its designation date."""

    identifier: str
    name: str | None = None
    designated: date
    reference: str | None = None
    verified: bool = True

    @field_validator("identifier", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v).strip() if isinstance(v, int | str) else v


class DesignationFile(_Model):
    """A YAML (`designations:` list) or CSV file of entries inside the rulebook."""

    file: str


class DesignationRule(Rule):
    """Events naming a designated identifier, on or after its designation, are breaches."""

    kind: Literal["designation"]
    match: SelectorField = MATCH_ALL
    fields: Annotated[list[str], Field(min_length=1)] = ["vessel_imo", "counterparty_imo"]
    designations: list[DesignationEntry] | DesignationFile

    @property
    def entries(self) -> list[DesignationEntry]:
        """The designated identifiers (the loader reads a `file:` reference into a list)."""
        return self.designations if isinstance(self.designations, list) else []


class WindDown(_Model):
    """Cargo a level change does not reach: every condition given must hold (dates
    exclusive: `contract_before: 2025-07-20` is a contract concluded by 19 July)."""

    contract_before: date | None = None
    loaded_before: date | None = None
    unloaded_before: date | None = None
    citation: str | None = None
    verified: bool = True
    notes: str | None = None

    @model_validator(mode="after")
    def _some_condition(self) -> WindDown:
        if not (self.contract_before or self.loaded_before or self.unloaded_before):
            raise ValueError("a wind-down needs contract_before, loaded_before or unloaded_before")
        return self


class PriceLevel(_Model):
    """The level from one date on, with the act that set it and its wind-down."""

    level: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    citation: str
    verified: bool = True
    wind_down: list[WindDown] = []
    notes: str | None = None


class SafeHarbour(_Model):
    """Providers holding one of these attestation tiers relied on an attestation: an
    above-cap price is a notice for review, not a breach."""

    attestation: Annotated[list[str], Field(min_length=1)]
    citation: str
    verified: bool = True

    @field_validator("attestation", mode="before")
    @classmethod
    def _tiers(cls, v: Any) -> Any:
        tiers = [str(t) for t in v] if isinstance(v, list) else v
        if isinstance(tiers, list):
            bad = [t for t in tiers if t not in ATTESTATIONS]
            if bad:
                raise ValueError(f"attestation tiers are 1, 2 or 3 (got {bad[0]!r})")
        return tiers


class PriceCapRule(Rule):
    """A matching event breaches when its value per unit exceeds the level in force.

    `values` are dated levels (OpenFisca-style): a change reaches cargo loaded on or
    after its date, and cargo still unloading on or after it, unless its wind-down
    exempts the cargo; then the previous level applies (none before the first)."""

    kind: Literal["price_cap"]
    unit: str
    currency: str
    values: Annotated[dict[date, PriceLevel], Field(min_length=1)]
    jurisdiction: list[str] = []
    safe_harbour: SafeHarbour | None = None
    confirmed_until: date | None = None

    @field_validator("unit")
    @classmethod
    def _quantity_unit(cls, unit: str) -> str:
        if unit.lower() not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(sorted(UNITS))}")
        return unit.lower()

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str) -> str:
        if code.upper() not in CURRENCIES:
            raise ValueError(f"{code!r} is not an ISO 4217 currency code")
        return code.upper()

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _jurisdictions(cls, v: Any) -> Any:
        codes = [v] if isinstance(v, str) else v
        if isinstance(codes, list):
            codes = [str(c).strip().upper() for c in codes]
            bad = [c for c in codes if c not in PROVIDERS]
            if bad:
                raise ValueError(
                    f"unknown jurisdiction {bad[0]!r}; expected one of {', '.join(PROVIDERS)}"
                )
            return list(dict.fromkeys(codes))
        return v

    @property
    def changes(self) -> list[tuple[date, PriceLevel]]:
        """The dated levels, earliest first."""
        return sorted(self.values.items())

    @property
    def last_confirmed(self) -> date:
        """The day after which a level may have been revised without this rulebook knowing."""
        return self.confirmed_until or max(self.values)


AnyRule = Annotated[
    CapRule | ProhibitionRule | DeadlineRule | DesignationRule | PriceCapRule,
    Field(discriminator="kind"),
]
"""A rule of any kind, as rule files give it (parsed by its `kind`)."""


class ConversionFactor(_Model):
    """Barrels per tonne of a product: a cited figure."""

    product: str
    barrels_per_tonne: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    source: str | None = None
    verified: bool = True

    @field_validator("product")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()


class HsProduct(_Model):
    """The product an HS prefix denotes, for events that name none."""

    hs_code: str
    product: str
    source: str | None = None

    @field_validator("hs_code", mode="before")
    @classmethod
    def _digits(cls, v: Any) -> Any:
        text = str(v).replace(".", "").replace(" ", "")
        if not (text.isdigit() and 2 <= len(text) <= 10):
            raise ValueError(f"an HS code is 2–10 digits (got {v!r})")
        return text

    @field_validator("product")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()


def _conversion_tag(raw: Any) -> str | None:
    if isinstance(raw, ConversionFactor) or (isinstance(raw, dict) and "barrels_per_tonne" in raw):
        return "factor"
    if isinstance(raw, HsProduct) or (isinstance(raw, dict) and "hs_code" in raw):
        return "hs"
    return None


Conversion = Annotated[
    Annotated[ConversionFactor, Tag("factor")] | Annotated[HsProduct, Tag("hs")],
    Discriminator(
        _conversion_tag,
        custom_error_type="conversion",
        custom_error_message="a conversion is {product, barrels_per_tonne, source} "
        "or {hs_code, product}",
    ),
]


class RuleFile(_Model):
    """One YAML document of a rulebook."""

    document: Document | None = None
    rules: list[AnyRule] = []
    conversions: list[Conversion] = []
    designations: list[DesignationEntry] | None = None
