"""Pydantic models of rule files (DESIGN §3); `compliance rules schema` prints their schema."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
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
    normalise_name,
    parse_selector,
)
from compliance.rulebook.selectors import to_dict as selector_to_dict
from compliance.units import UNITS

__all__ = [
    "AnyRule",
    "ByDay",
    "CapRule",
    "ConversionFactor",
    "CorrelationRule",
    "CorrelationStep",
    "DeadlineRule",
    "DesignationEntry",
    "DesignationRule",
    "Document",
    "Effective",
    "FactorValue",
    "HsProduct",
    "Inferred",
    "Measure",
    "Period",
    "PriceCapRule",
    "PriceLevel",
    "ProhibitionRule",
    "Rule",
    "RuleFile",
    "SafeHarbour",
    "StepWindow",
    "Threshold",
    "UnnotifiedRule",
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


class ByDay(_Model):
    """Due by day `day` of the month after the event's month; in a month shorter than
    `day`, by its last day (day 30 of February is 28 or 29 February)."""

    day: Annotated[int, Field(ge=1, le=31)]
    of: Literal["following_month"]


class DeadlineRule(Rule):
    """A matching event must be reported within `within` days of its date, or `by` a
    day of the following month (a month's supply notified by the 30th of the next)."""

    kind: Literal["deadline"]
    within: Within | None = None
    by: ByDay | None = None

    @model_validator(mode="after")
    def _one_deadline(self) -> DeadlineRule:
        if (self.within is None) == (self.by is None):
            raise ValueError("a deadline rule gives either within: {days: N} or by: {day: D, "
                             "of: following_month}")  # fmt: skip
        return self

    def due(self, day: date) -> date:
        """The last day on which an event of `day` is reported in time."""
        if self.within is not None:
            return day + timedelta(days=self.within.days)
        assert self.by is not None
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return date(year, month, min(self.by.day, calendar.monthrange(year, month)[1]))

    @property
    def terms(self) -> str:
        """The deadline in words: `within 30 days`, `by day 30 of the following month`."""
        if self.within is not None:
            return f"within {self.within.days} days"
        assert self.by is not None
        return f"by day {self.by.day} of the following month"


class DesignationEntry(_Model):
    """A designated identifier (an IMO number, say), from its designation date; or, for
    an entry listed without one, a name and its aliases.

    In a CSV file, `aliases`, `designated` and `measures` may hold several values
    separated by `;`; the earliest designation date is the one that counts.
    """

    identifier: str | None = None
    name: str | None = None
    aliases: list[str] = []
    flag: str | None = None
    designated: date
    dates: list[date] = []  # every designation date, oldest first (`designated` is the first)
    measures: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = []
    basis: str | None = None  # the entry's own legal basis, cited by its findings
    reference: str | None = None
    verified: bool = True

    @model_validator(mode="before")
    @classmethod
    def _cells(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        out = dict(raw)
        for key in ("aliases", "measures", "designated"):
            if isinstance(out.get(key), str):
                out[key] = [p.strip() for p in out[key].split(";") if p.strip()]
        if isinstance(out.get("designated"), list):
            days = []
            for d in out["designated"]:
                try:
                    days.append(date.fromisoformat(d) if isinstance(d, str) else d)
                except ValueError:
                    raise ValueError(
                        f"designated: input should be a valid date YYYY-MM-DD (got {d!r})"
                    ) from None
            days.sort()
            if not days:
                raise ValueError("designated: at least one date")
            out["designated"] = days[0]
            out.setdefault("dates", days)
        return out

    @field_validator("identifier", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, int | str):
            return str(v).strip() or None
        return v

    @model_validator(mode="after")
    def _named(self) -> DesignationEntry:
        if self.identifier is None and not self.name:
            raise ValueError("an entry needs an identifier or a name")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Name and aliases, normalised as names are compared (`normalise_name`)."""
        return tuple(n for n in (normalise_name(x) for x in [self.name or "", *self.aliases]) if n)

    @property
    def label(self) -> str:
        """How findings name the entry: `CHON MA SAN (8660313)`."""
        if self.identifier is None:
            return f"{self.name} (no identifier listed)"
        return f"{self.name} ({self.identifier})" if self.name else self.identifier


class DesignationFile(_Model):
    """A YAML (`designations:` list) or CSV file of entries inside the rulebook."""

    file: str


class DesignationRule(Rule):
    """Events naming a designated identifier, on or after its designation, are breaches."""

    kind: Literal["designation"]
    match: SelectorField = MATCH_ALL
    fields: Annotated[list[str], Field(min_length=1)] = ["vessel_imo", "counterparty_imo"]
    name_fields: list[str] = ["vessel_name"]  # matched with entries listed without identifier
    designations: list[DesignationEntry] | DesignationFile
    # The field naming a party associated with the listed one (the vessel that received
    # goods from a designated vessel, say): findings are `associated` notices about it.
    associate: str | None = None

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


class UnnotifiedRule(Rule):
    """Evidence of supply by a group (a supplying State) in a period for which the group
    notified nothing is a breach.

    Events reaching the rule satisfy `match` and carry every `group_by` field; those
    that also satisfy `notifications` are notifications (one of quantity 0 notifies
    nothing), the others evidence. One finding per group and period with evidence and
    no notification.
    """

    kind: Literal["unnotified"]
    notifications: SelectorField
    group_by: Annotated[list[str], Field(min_length=1)] = ["supplier"]
    period: Period = CalendarPeriod(calendar="month")

    @field_validator("period")
    @classmethod
    def _not_rolling(cls, period: Any) -> Any:
        if isinstance(period, RollingPeriod):
            raise ValueError(
                "notifications are compared per calendar, numbered or fixed period, "
                "not per rolling window"
            )
        return period


class StepWindow(_Model):
    """A step's event is dated 0 to `days` days after the event of step `after`."""

    days: Annotated[int, Field(ge=0, le=36600)]
    after: str | None = None  # default: the step before


class CorrelationStep(_Model):
    """One step of a correlation: events it matches, how it joins the earlier steps."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    match: SelectorField
    unless: SelectorField | None = None
    join: dict[str, str] = {}  # this step's field -> "step.field" of an earlier step
    within: StepWindow | None = None


class Inferred(_Model):
    """The event a correlation infers: `from` copies fields of the steps' events
    (`field: step.field`; absent stays absent), `set` gives literal values. Its date is
    `from.date` or, by default, the last step's."""

    from_: dict[str, str] = Field({}, alias="from")
    set: dict[str, Any] = {}


class CorrelationRule(Rule):
    """Events of several steps joined on fields within time windows infer an event
    (`source: inferred`), which every other rule then evaluates like any event
    (docs/correlation.md). `match`, `unless` and `effective` apply to every step."""

    kind: Literal["correlation"]
    match: SelectorField = MATCH_ALL
    steps: Annotated[list[CorrelationStep], Field(min_length=2, max_length=8)]
    infer: Inferred


AnyRule = Annotated[
    CapRule
    | ProhibitionRule
    | DeadlineRule
    | DesignationRule
    | PriceCapRule
    | UnnotifiedRule
    | CorrelationRule,
    Field(discriminator="kind"),
]
"""A rule of any kind, as rule files give it (parsed by its `kind`)."""


class FactorValue(_Model):
    """One dated value of a conversion factor, with its own citation."""

    barrels_per_tonne: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    source: str | None = None
    verified: bool = True

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, raw: Any) -> Any:
        return {"barrels_per_tonne": raw} if isinstance(raw, int | float | Decimal | str) else raw


class ConversionFactor(_Model):
    """Barrels per tonne of a product: a cited figure, or dated figures.

    `{product, barrels_per_tonne, source}` is one figure for all dates; `{product,
    values: {DATE: {barrels_per_tonne, source, verified}}}` gives the figure in use from
    each date on (as OpenFisca keeps parameters), so a change of practice is one new
    entry. The first value also serves earlier dates: a factor is a measurement, and its
    dates only say when practice changed. A value without `source` or `verified` takes
    the factor's.
    """

    product: str
    barrels_per_tonne: Annotated[Decimal | None, Field(gt=0, allow_inf_nan=False)] = None
    source: str | None = None
    verified: bool = True
    values: dict[date, FactorValue] = {}

    @field_validator("product")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @model_validator(mode="after")
    def _one_form(self) -> ConversionFactor:
        if (self.barrels_per_tonne is None) == (not self.values):
            raise ValueError("a conversion factor gives barrels_per_tonne or values, not both")
        return self

    def dated(self) -> list[tuple[date | None, FactorValue]]:
        """Every value, oldest first, with the date it applies from (None: always)."""
        if self.barrels_per_tonne is not None:
            only = FactorValue(
                barrels_per_tonne=self.barrels_per_tonne, source=self.source, verified=self.verified
            )
            return [(None, only)]
        out: list[tuple[date | None, FactorValue]] = []
        for day, value in sorted(self.values.items()):
            fields = value.model_fields_set
            out.append(
                (
                    day,
                    value.model_copy(
                        update={
                            "source": value.source if "source" in fields else self.source,
                            "verified": value.verified if "verified" in fields else self.verified,
                        }
                    ),
                )
            )
        return out


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
    if isinstance(raw, ConversionFactor) or (
        isinstance(raw, dict) and ("barrels_per_tonne" in raw or "values" in raw)
    ):
        return "factor"
    if isinstance(raw, HsProduct) or (isinstance(raw, dict) and "hs_code" in raw):
        return "hs"
    return None


Conversion = Annotated[
    Annotated[ConversionFactor, Tag("factor")] | Annotated[HsProduct, Tag("hs")],
    Discriminator(
        _conversion_tag,
        custom_error_type="conversion",
        custom_error_message="a conversion is {product, barrels_per_tonne, source}, "
        "{product, values: {DATE: {barrels_per_tonne, source}}} or {hs_code, product}",
    ),
]


class RuleFile(_Model):
    """One YAML document of a rulebook."""

    document: Document | None = None
    rules: list[AnyRule] = []
    conversions: list[Conversion] = []
    designations: list[DesignationEntry] | None = None
