"""Shipment events: the model, and validation of raw records into it.

A raw record is a mapping of field name to value as read from CSV (strings), JSON
(strings, numbers, null) or a DataFrame (Python objects). `parse_shipment` returns a
`Shipment` or every problem it found, each naming the field, the value and what was
expected.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from numbers import Integral
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from compliance._codes import COUNTRIES, CURRENCIES
from compliance.units import UNITS

__all__ = [
    "COUNTRY_FIELDS",
    "FIELDS",
    "NUMERIC_FIELDS",
    "PROVIDERS",
    "SCREENS",
    "TRANSFERS",
    "Problem",
    "Shipment",
    "imo_check_digit_ok",
    "normalise_hs",
    "parse_shipment",
]

Transfer = Literal["port", "ship_to_ship", "pipeline", "rail", "road", "air"]
TRANSFERS = ("port", "ship_to_ship", "pipeline", "rail", "road", "air")

FIELDS = (
    "id",
    "date",
    "hs_code",
    "commodity",
    "product",
    "quantity",
    "unit",
    "value",
    "currency",
    "origin",
    "destination",
    "supplier",
    "vessel_imo",
    "counterparty_imo",
    "vessel_name",
    "vessel_flag",
    "counterparty_flag",
    "transfer",
    "reported_on",
    "source",
    "supersedes",
    "provider",
    "contract_date",
    "unloaded_on",
    "attestation",
)
COUNTRY_FIELDS = frozenset(
    {"origin", "destination", "supplier", "vessel_flag", "counterparty_flag"}
)
NUMERIC_FIELDS = frozenset({"quantity", "value"})
DATE_FIELDS = frozenset({"date", "reported_on", "contract_date", "unloaded_on"})
IMO_FIELDS = frozenset({"vessel_imo", "counterparty_imo"})
TEXT_FIELDS = frozenset({"id", "commodity", "vessel_name", "source", "supersedes"})
# Jurisdictions of price-cap service providers (the coalition), as `provider` names them.
PROVIDERS = ("EU", "GB", "US", "CA", "JP", "AU", "NZ", "CH", "NO")
ATTESTATIONS = ("1", "2", "3")
_PROVIDER = "(?:" + "|".join(PROVIDERS) + ")"
SCREENS = {
    "provider": f"^{_PROVIDER}(?:;{_PROVIDER})*$",
    "attestation": "^[123]$",
}
"""Per field, a pattern every value matching which is valid and already in the form
`parse_shipment` stores (the columnar engine's screen passes those rows as written)."""

MAX_TEXT = 4096  # longer free text is almost certainly a broken row, not a description
MAX_AMOUNT = Decimal("1e15")


class Shipment(BaseModel):
    """One delivery, transfer or observation (DESIGN §2).

    >>> Shipment(id="a", date="2019-06-10", hs_code="2710.19", destination="kp",
    ...          quantity="1000", unit="bbl").hs_code
    '271019'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    date: dt.date
    hs_code: str | None = None
    commodity: str | None = None
    product: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    origin: str | None = None
    destination: str | None = None
    supplier: str | None = None
    vessel_imo: str | None = None
    counterparty_imo: str | None = None
    vessel_name: str | None = None
    vessel_flag: str | None = None
    counterparty_flag: str | None = None
    transfer: Transfer | None = None
    reported_on: dt.date | None = None
    source: str | None = None
    supersedes: str | None = None
    provider: str | None = None
    contract_date: dt.date | None = None
    unloaded_on: dt.date | None = None
    attestation: str | None = None
    extra: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        extra = data.get("extra")
        flat = {k: v for k, v in data.items() if k != "extra"}
        if isinstance(extra, Mapping):
            flat.update(extra)
        result = _validate(flat)
        if isinstance(result, list):
            raise ValueError("; ".join(str(p) for p in result))
        return result

    def get(self, field: str) -> Any:
        """Value of a field, or of an extra column given as `extra.<name>`."""
        if field.startswith("extra."):
            return self.extra.get(field[6:])
        return getattr(self, field)

    def to_record(self) -> dict[str, Any]:
        """Flat JSON-ready dict: decimals and dates as strings, extras as columns."""
        out: dict[str, Any] = {}
        for name in FIELDS:
            v = getattr(self, name)
            if v is None:
                continue
            out[name] = str(v) if isinstance(v, Decimal | date) else v
        out.update(self.extra)
        return out

    @property
    def providers(self) -> tuple[str, ...]:
        """The jurisdictions `provider` names, in order, each once."""
        return tuple(dict.fromkeys(self.provider.split(";"))) if self.provider else ()


class Problem:
    """A field that failed validation: `field: message (got 'value')`."""

    __slots__ = ("field", "message", "value")

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        self.field, self.message, self.value = field, message, value

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.field}: {self.message}"
        shown = str(self.value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"{self.field}: {self.message} (got {shown!r})"


def parse_shipment(raw: Mapping[str, Any]) -> Shipment | list[Problem]:
    """Validate one raw record; a `Shipment`, or every problem found."""
    result = _validate(raw)
    if isinstance(result, list):
        return result
    return _construct(result)


_DEFAULTS = {name: None for name in FIELDS}


def _construct(values: dict[str, Any]) -> Shipment:
    """`Shipment.model_construct`, minus its per-field default lookups: the values are
    already validated, and this runs once per event on the hot path."""
    shipment = Shipment.__new__(Shipment)
    fields = {**_DEFAULTS, **values}
    if "extra" not in values:
        fields["extra"] = {}
    object.__setattr__(shipment, "__dict__", fields)
    object.__setattr__(shipment, "__pydantic_fields_set__", set(values))
    object.__setattr__(shipment, "__pydantic_extra__", None)
    object.__setattr__(shipment, "__pydantic_private__", None)
    return shipment


def imo_check_digit_ok(number: str) -> bool:
    """IMO ship numbers: 7 digits, the last a check digit (weights 7..2, mod 10)."""
    total = sum(int(d) * w for d, w in zip(number[:6], range(7, 1, -1), strict=True))
    return total % 10 == int(number[6])


_HS_JUNK = re.compile(r"[.\s]")


def normalise_hs(text: str) -> str | None:
    """`2710.19` → `271019`; None when not 2–10 digits after removing dots and spaces."""
    code = _HS_JUNK.sub("", text)
    return code if 2 <= len(code) <= 10 and code.isdigit() else None


def _decimal(field: str, v: Any, text: str | None, problems: list[Problem]) -> Decimal | None:
    if isinstance(v, bool):
        problems.append(Problem(field, "must be a number", v))
        return None
    if text is not None:
        text = text.replace(",", "")
    elif isinstance(v, float):
        text = repr(v)
    else:
        text = str(v)
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        problems.append(Problem(field, "must be a decimal number", v))
        return None
    if not d.is_finite():
        problems.append(Problem(field, "must be a finite number", v))
    elif d < 0:
        problems.append(Problem(field, "must be ≥ 0", v))
    elif d > MAX_AMOUNT:
        problems.append(Problem(field, "is implausibly large; expected at most 1e15", v))
    else:
        return d if d != 0 else Decimal(0)
    return None


def _date(field: str, v: Any, text: str | None, problems: list[Problem]) -> date | None:
    if isinstance(v, datetime):
        return v.astimezone(UTC).date() if v.tzinfo else v.date()
    if isinstance(v, date):
        return v
    text = text if text is not None else str(v)
    try:
        if len(text) <= 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    except ValueError:
        problems.append(Problem(field, "must be a real ISO date YYYY-MM-DD", v))
        return None


def _code(
    table: frozenset[str] | tuple[str, ...], upper: bool, message: str
) -> Callable[[str, Any, str, list[Problem]], str | None]:
    def parse(field: str, v: Any, text: str, problems: list[Problem]) -> str | None:
        code = text.upper() if upper else text.lower()
        if code in table:
            return code
        problems.append(Problem(field, message, v))
        return None

    return parse


def _hs(field: str, v: Any, text: str, problems: list[Problem]) -> str | None:
    # An HS code read as a number has lost what made it a code: 0901 (coffee) is 901 and
    # 8471.30 is 8471.3. HS codes have an even number of digits, so an integer with an
    # odd count is one that lost its leading zero; a float cannot be trusted at all.
    if isinstance(v, float):
        problems.append(Problem(field, "is a number, which drops zeros; give HS codes as text", v))
        return None
    if isinstance(v, Integral) and not isinstance(v, bool) and len(text) % 2:
        problems.append(
            Problem(field, "is a number that lost its leading zero; give HS codes as text", v)
        )
        return None
    hs = normalise_hs(text)
    if hs is None:
        problems.append(Problem(field, "must be 2–10 digits (dots, spaces ignored)", v))
    return hs


def _imo(field: str, v: Any, text: str, problems: list[Problem]) -> str | None:
    # A failing check digit is kept: a falsified or mistyped number is evidence (a
    # designation rule flags it, naming listed numbers one edit away), not a broken row.
    number = text.upper().removeprefix("IMO").strip()
    if len(number) == 7 and number.isdigit():
        return number
    problems.append(Problem(field, "must be a 7-digit IMO number", v))
    return None


def _lower(field: str, v: Any, text: str, problems: list[Problem]) -> str:
    return text.lower()


def _plain(field: str, v: Any, text: str, problems: list[Problem]) -> str:
    return text


def _providers(field: str, v: Any, text: str, problems: list[Problem]) -> str | None:
    parts = [part.strip().upper() for part in text.split(";")]
    if all(part in PROVIDERS for part in parts):
        return ";".join(parts)
    problems.append(
        Problem(field, f"must be jurisdiction codes separated by ';' ({', '.join(PROVIDERS)})", v)
    )
    return None


Parser = Callable[[str, Any, Any, list[Problem]], Any]
_COUNTRY = _code(COUNTRIES, True, "must be an ISO 3166-1 alpha-2 code")
_TEXT_PARSERS: dict[str, Parser] = {
    **{f: _COUNTRY for f in COUNTRY_FIELDS},
    **{f: _imo for f in IMO_FIELDS},
    "hs_code": _hs,
    "unit": _code(UNITS, False, f"unknown unit; expected one of {', '.join(sorted(UNITS))}"),
    "currency": _code(CURRENCIES, True, "must be an ISO 4217 currency code"),
    "transfer": _code(TRANSFERS, False, f"must be one of {', '.join(TRANSFERS)}"),
    "product": _lower,
    "provider": _providers,
    "attestation": _code(ATTESTATIONS, True, "must be an attestation tier: 1, 2 or 3"),
    **{f: _plain for f in ("id", "commodity", "vessel_name", "source", "supersedes")},
}
_VALUE_PARSERS: dict[str, Parser] = {
    "quantity": _decimal,
    "value": _decimal,
    "date": _date,
    "reported_on": _date,
    "contract_date": _date,
    "unloaded_on": _date,
}


def _validate(raw: Mapping[str, Any]) -> dict[str, Any] | list[Problem]:
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, v in raw.items():
        text: str | None
        if type(v) is str:
            text = v.strip()
            if not text:
                continue
            if _UNDECODABLE.search(text):
                problems.append(Problem(key, "is not valid UTF-8", v.encode("utf-8", "replace")))
                continue
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            # pandas marks a missing number as NaN; the text "NaN" in a file is rejected.
            continue
        else:
            text = None
        value_parser = _VALUE_PARSERS.get(key)
        if value_parser is not None:
            value = value_parser(key, v, text, problems)
        else:
            text_parser = _TEXT_PARSERS.get(key)
            if text is None:
                text = str(v)
            if text_parser is None:
                extra[str(key)] = text
                continue
            if len(text) > MAX_TEXT:
                problems.append(Problem(key, f"is longer than {MAX_TEXT} characters", text))
                continue
            value = text_parser(key, v, text, problems)
        if value is not None:
            out[key] = value
    failed = {p.field for p in problems}
    for required in ("id", "date"):
        if required not in out and required not in failed:
            problems.append(Problem(required, "is required"))
    for amount, unit in (("quantity", "unit"), ("value", "currency")):
        has_amount = amount in out or amount in failed
        has_unit = unit in out or unit in failed
        if has_amount and not has_unit:
            problems.append(Problem(unit, f"is required with {amount}"))
        elif has_unit and not has_amount:
            problems.append(Problem(amount, f"is required with {unit}"))
    if problems:
        return problems
    if extra:
        out["extra"] = extra
    return out


_FIELD_SET = frozenset(FIELDS)


# Readers decode with errors="surrogateescape": a lone surrogate marks a byte that was
# not UTF-8, so the record can be rejected with its line instead of the whole file.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
