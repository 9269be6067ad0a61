"""Shipment events: the model, and validation of raw records into it.

A raw record is a mapping of field name to value as read from CSV (strings), JSON
(strings, numbers, null) or a DataFrame (Python objects). `parse_shipment` returns a
`Shipment` or every problem it found, each naming the field, the value and what was
expected.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from numbers import Integral
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from compliance._codes import COUNTRIES, CURRENCIES
from compliance.trusted import trusted
from compliance.units import UNITS

__all__ = [
    "CODE_FIELDS",
    "COUNTRY_FIELDS",
    "DATES",
    "DATE_FIELDS",
    "FIELDS",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "NUMERIC_FIELDS",
    "PROVIDERS",
    "RANGE_FIELDS",
    "SCREENS",
    "TRANSFERS",
    "Problem",
    "Shipment",
    "escape_undecodable",
    "imitated_field",
    "imo_check_digit_ok",
    "non_ascii",
    "normalise_code",
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
    "quantity_min",
    "quantity_max",
)
COUNTRY_FIELDS = frozenset(
    {"origin", "destination", "supplier", "vessel_flag", "counterparty_flag"}
)
NUMERIC_FIELDS = frozenset({"quantity", "value"})
# Bounds of an estimated amount ("at least 759,793 bbl; 1,367,628 if about 90 % laden").
RANGE_FIELDS = ("quantity_min", "quantity_max")
DATE_FIELDS = frozenset({"date", "reported_on", "contract_date", "unloaded_on"})
IMO_FIELDS = frozenset({"vessel_imo", "counterparty_imo"})
TEXT_FIELDS = frozenset({"id", "commodity", "vessel_name", "supersedes"})
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
# Fields a rule compares with a value of its own: written in ASCII only (see non_ascii).
CODE_FIELDS = frozenset(
    COUNTRY_FIELDS
    | NUMERIC_FIELDS
    | DATE_FIELDS
    | IMO_FIELDS
    | set(RANGE_FIELDS)
    | {"hs_code", "unit", "currency", "transfer", "product", "source", "provider", "attestation"}
)

MAX_TEXT = 4096  # longer free text is almost certainly a broken row, not a description
MAX_AMOUNT = Decimal("1e15")
MAX_FIELDS = 1000  # fields of one record (columns of a CSV header); real logs have ~25
MAX_DEPTH = 32  # nesting of a list or mapping given as an extra field's value
# Dates an event may carry. Rule periods reach at most 1,200 months or 36,600 days from
# an event's date, so every date in this range evaluates; outside it is a typo anyway.
DATES = (date(1900, 1, 1), date(2999, 12, 31))


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
    quantity_min: Decimal | None = None
    quantity_max: Decimal | None = None
    extra: dict[str, str] = {}
    # The ids of the events a correlation rule inferred this one from (empty for a
    # record). Not a field of logs: records never carry it, `to_record` leaves it out.
    inferred_from: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        extra = data.get("extra")
        flat = {k: v for k, v in data.items() if k not in ("extra", "inferred_from")}
        if isinstance(extra, Mapping):
            flat.update(extra)
        result = _validate(flat)
        if isinstance(result, list):
            raise ValueError("; ".join(str(p) for p in result))
        if "inferred_from" in data:
            result["inferred_from"] = tuple(data["inferred_from"])
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
    return trusted(Shipment, result)


def imo_check_digit_ok(number: str) -> bool:
    """IMO ship numbers: 7 digits, the last a check digit (weights 7..2, mod 10)."""
    total = sum(int(d) * w for d, w in zip(number[:6], range(7, 1, -1), strict=True))
    return total % 10 == int(number[6])


# Readers decode with errors="surrogateescape": a lone surrogate marks a byte that was
# not UTF-8 (U+DC80-DCFF); JSON's "\ud800" escapes give the others. None can be encoded.
_UNDECODABLE = re.compile("[\ud800-\udfff]")


def escape_undecodable(text: str) -> str:
    """`text` with each lone surrogate written out: `\\xff` for a byte that was not UTF-8
    (decoded with surrogateescape), `\\ud800` for any other; valid text is unchanged."""
    if not _UNDECODABLE.search(text):
        return text
    return _UNDECODABLE.sub(
        lambda m: (
            f"\\x{ord(m[0]) - 0xDC00:02x}"
            if 0xDC80 <= ord(m[0]) <= 0xDCFF
            else f"\\u{ord(m[0]):04x}"
        ),
        text,
    )


def non_ascii(text: str) -> str | None:
    """Why `text` cannot be a code: its first non-ASCII character named, or None.

    Code fields (HS codes, IMO numbers, country, currency and unit codes, dates, amounts,
    products, transfers, sources) are compared with the ASCII values of rule files, so
    they are ASCII or rejected. Folding (NFKC) was the alternative and is refused on
    purpose: it reads `10²` as `102` and leaves Arabic-Indic digits, dotless `ı` and
    Cyrillic `і` as they are, so it would trade one misreading for another.
    """
    if text.isascii():
        return None
    char = next(c for c in text if not c.isascii())
    name = unicodedata.name(char, "") if not _UNDECODABLE.match(char) else ""
    what = f"U+{ord(char):04X} {name}".rstrip()
    return f"contains {what}; codes, dates and amounts are written in ASCII only"


@lru_cache(maxsize=4096)
def imitated_field(name: str) -> str | None:
    """The field a column or key name imitates without being it, or None.

    `Destination`, `ｄｅｓｔｉｎａｔｉｏｎ` and `dеstination` (a Cyrillic `е`) are not the
    field `destination`: read as extra columns, they would leave every event without a
    destination and outside every rule that needs one. Such a name is refused instead:
    the same name up to case and NFKC folding, or differing from it only in a few
    characters that are not ASCII.
    """
    if name in _FIELD_SET:
        return None
    folded = unicodedata.normalize("NFKC", name).strip().casefold()
    if folded in _FIELD_SET:
        return folded
    if folded.isascii():
        return None
    # A look-alike swaps a letter or two; a name mostly in another script is its own.
    foreign = sum(not c.isascii() for c in folded)
    for field in FIELDS:
        if (
            len(field) == len(folded)
            and 3 * foreign <= len(field)
            and all(a == b or not a.isascii() for a, b in zip(folded, field, strict=True))
        ):
            return field
    return None


_FIELD_SET = frozenset(FIELDS)
_HS_JUNK = re.compile(r"[.\s]")


def normalise_hs(text: str) -> str | None:
    """`2710.19` → `271019`; None when not 2–10 ASCII digits after removing dots and
    spaces."""
    if not text.isascii():
        return None
    code = _HS_JUNK.sub("", text)
    return code if 2 <= len(code) <= 10 and code.isdigit() else None


_CASE: dict[str, Callable[[str], str]] = {
    **dict.fromkeys(COUNTRY_FIELDS, str.upper),
    "currency": str.upper,
    "unit": str.lower,
    "transfer": str.lower,
    "product": str.lower,
}
_TABLES: dict[str, frozenset[str] | tuple[str, ...]] = {
    **dict.fromkeys(COUNTRY_FIELDS, COUNTRIES),
    "currency": CURRENCIES,
    "unit": UNITS,
    "transfer": TRANSFERS,
    "attestation": ATTESTATIONS,
}


def normalise_code(field: str, text: str, *, prefix: bool = False) -> str | None:
    """The stored form of a code field's text, or None when it is not a valid one.

    One function for both sides of a comparison: events are validated with it and rule
    selectors' values (`prefix=True`: their prefixes) are normalised with it, so a value
    accepted on either side is spelled as the other side spells it (`kp` → `KP`, `BBL`
    → `bbl`, `2710.19` → `271019`). Fields without a code table (product, source) need
    only be ASCII; a prefix needs no table entry, and an HS prefix may be one digit.

    >>> normalise_code("destination", "kp"), normalise_code("destination", "kı")
    ('KP', None)
    """
    text = text.strip()
    if not text or non_ascii(text):
        return None
    if field == "hs_code":
        if prefix and len(text) == 1:
            return text if text.isdigit() else None
        return normalise_hs(text)
    code = _CASE.get(field, str)(text)
    table = None if prefix else _TABLES.get(field)
    return code if table is None or code in table else None


def _decimal(field: str, v: Any, text: str | None, problems: list[Problem]) -> Decimal | None:
    if isinstance(v, bool):
        problems.append(Problem(field, "must be a number", v))
        return None
    if text is not None:
        if "," in text:
            if not _THOUSANDS.match(text):
                problems.append(Problem(field, _COMMA, v))
                return None
            text = text.replace(",", "")
        if "_" in text:  # Decimal() takes `4_99_99_9` as 499999, whatever the grouping
            problems.append(Problem(field, "must be a decimal number (no underscores)", v))
            return None
    elif isinstance(v, float):
        text = repr(v)
    elif (text := _str(field, v, problems)) is None:
        return None
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


# A comma is a thousands separator only between groups of three digits: `450000,5` and
# `4,99,99,9` are a decimal comma and an Indian grouping, each a misreading by 10x or more.
_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?\Z")
_COMMA = (
    "has a comma that is not a thousands separator (groups of three digits, as in "
    "1,234,567.5); a decimal comma is ambiguous, write 450000.5"
)


def _date(field: str, v: Any, text: str | None, problems: list[Problem]) -> date | None:
    if isinstance(v, datetime):
        day = v.astimezone(UTC).date() if v.tzinfo else v.date()
    elif isinstance(v, date):
        day = v
    else:
        text = text if text is not None else _str(field, v, problems)
        if text is None:
            return None
        try:
            if len(text) <= 10:
                day = date.fromisoformat(text)
            else:
                moment = datetime.fromisoformat(text)
                day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
        except (ValueError, OverflowError):
            problems.append(Problem(field, "must be a real ISO date YYYY-MM-DD", v))
            return None
    if not DATES[0] <= day <= DATES[1]:
        problems.append(
            Problem(field, f"must be between {DATES[0]} and {DATES[1]}", day.isoformat())
        )
        return None
    return day


def _range_problems(out: Mapping[str, Any]) -> list[Problem]:
    """Bounds in order: quantity_min ≤ quantity ≤ quantity_max, wherever given."""
    low, point, high = out.get("quantity_min"), out.get("quantity"), out.get("quantity_max")
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(Problem("quantity_min", f"must be ≤ quantity_max ({high})", low))
    if point is not None and low is not None and point < low:
        problems.append(Problem("quantity", f"must be ≥ quantity_min ({low})", point))
    if point is not None and high is not None and point > high:
        problems.append(Problem("quantity", f"must be ≤ quantity_max ({high})", point))
    return problems


def _code(message: str) -> Callable[[str, Any, str, list[Problem]], str | None]:
    def parse(field: str, v: Any, text: str, problems: list[Problem]) -> str | None:
        code = normalise_code(field, text)
        if code is None:
            problems.append(Problem(field, message, v))
        return code

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
    if len(number) == 7 and number.isascii() and number.isdigit():
        return number
    problems.append(Problem(field, "must be a 7-digit IMO number", v))
    return None


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
_COUNTRY = _code("must be an ISO 3166-1 alpha-2 code")
_TEXT_PARSERS: dict[str, Parser] = {
    **{f: _COUNTRY for f in COUNTRY_FIELDS},
    **{f: _imo for f in IMO_FIELDS},
    "hs_code": _hs,
    "unit": _code(f"unknown unit; expected one of {', '.join(sorted(UNITS))}"),
    "currency": _code("must be an ISO 4217 currency code"),
    "transfer": _code(f"must be one of {', '.join(TRANSFERS)}"),
    "product": _code("must be a product name"),
    "provider": _providers,
    "attestation": _code("must be an attestation tier: 1, 2 or 3"),
    "source": _plain,
    **{f: _plain for f in TEXT_FIELDS},
}
_VALUE_PARSERS: dict[str, Parser] = {
    "quantity": _decimal,
    "quantity_min": _decimal,
    "quantity_max": _decimal,
    "value": _decimal,
    "date": _date,
    "reported_on": _date,
    "contract_date": _date,
    "unloaded_on": _date,
}
_SCALARS = (str, int, float, Decimal, date, bool)


def _str(field: str, v: Any, problems: list[Problem]) -> str | None:
    """`str(v)`, or None with the problem when it has none a log could hold."""
    try:
        return str(v)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        problems.append(Problem(field, "is a number of more than 4300 digits"))
    except RecursionError:
        problems.append(Problem(field, "is nested too deeply"))
    return None


def _too_deep(v: Any) -> bool:
    """Whether lists/mappings in `v` nest deeper than MAX_DEPTH (without recursion)."""
    level: list[Any] = [v]
    for _ in range(MAX_DEPTH + 1):
        level = [
            item
            for c in level
            if isinstance(c, list | tuple | set | frozenset | Mapping)
            for item in (c.values() if isinstance(c, Mapping) else c)
        ]
        if not level:
            return False
    return True


def _imitation(field: str) -> str:
    return f"imitates the field {field!r}; field names are written as {field!r}"


# A log repeats its codes, dates, countries and units on row after row: the outcome of
# validating one field's text (a pure function of field name and text) is remembered.
# Ids and amounts are nearly always new, and extra columns are not known fields.
_MEMO_TEXT = 64
_MEMO_SIZE = 1 << 14  # per field
_MEMO: dict[str, dict[str, tuple[tuple[Problem, ...], Any]]] = {
    key: {} for key in FIELDS if key not in {"id", "supersedes", *NUMERIC_FIELDS, *RANGE_FIELDS}
}
_NONE: frozenset[str] = frozenset()


def _field(
    key: Any, v: Any, problems: list[Problem], out: dict[str, Any], extra: dict[str, str]
) -> None:
    """Validate one field of a raw record: its value into `out` (or `extra`), or its
    problems."""
    text: str | None
    if type(v) is str:
        text = v.strip()
        if not text:
            return
        if _UNDECODABLE.search(text):
            problems.append(Problem(key, "is not valid UTF-8", escape_undecodable(v)))
            return
        if key in CODE_FIELDS and (why := non_ascii(text)):
            problems.append(Problem(key, why, v))
            return
    elif v is None or (isinstance(v, float) and math.isnan(v)):
        # pandas marks a missing number as NaN; the text "NaN" in a file is rejected.
        return
    elif not isinstance(v, _SCALARS):
        if key in _TEXT_PARSERS or key in _VALUE_PARSERS:
            problems.append(Problem(key, f"must be one value (got a {type(v).__name__})"))
            return
        if _too_deep(v):
            problems.append(Problem(key, f"is nested more than {MAX_DEPTH} levels deep"))
            return
        text = None
    else:
        text = None
    value_parser = _VALUE_PARSERS.get(key)
    if value_parser is not None:
        value = value_parser(key, v, text, problems)
    else:
        text_parser = _TEXT_PARSERS.get(key)
        if text is None and (text := _str(key, v, problems)) is None:
            return
        if text_parser is None:
            if isinstance(key, str) and (field := imitated_field(key)):
                problems.append(Problem(key, _imitation(field)))
                return
            extra[str(key)] = text
            return
        if len(text) > MAX_TEXT:
            problems.append(Problem(key, f"is longer than {MAX_TEXT} characters", text))
            return
        if key in CODE_FIELDS and (why := non_ascii(text)):  # str() of a non-str value
            problems.append(Problem(key, why, v))
            return
        value = text_parser(key, v, text, problems)
    if value is not None:
        out[key] = value


def _fields(
    raw: Mapping[str, Any],
    keys: Iterable[Any],
    problems: list[Problem],
    out: dict[str, Any],
    extra: dict[str, str],
) -> None:
    """Validate the fields `keys` of a raw record into `out` and `extra`, or `problems`."""
    memo = _MEMO
    for key in keys:
        v = raw[key]
        if type(v) is str:
            if not v:
                continue  # a blank field is absent (as `_field` would find, sooner)
            plain = _PLAIN.get(key)
            if plain is not None and v.isascii():
                # The usual id and amount, in the form `_field` would store (ASCII text
                # has no undecodable bytes; a plain decimal of at most 15 integer digits
                # is finite, at least 0 and at most MAX_AMOUNT).
                if plain is _plain:
                    if len(v) <= MAX_TEXT and (text := v.strip()):
                        out[key] = text
                        continue
                elif _PLAIN_AMOUNT.match(v):
                    amount = Decimal(v)
                    out[key] = amount if amount else Decimal(0)
                    continue
            known = memo.get(key)
            if known is not None and len(v) <= _MEMO_TEXT:
                hit = known.get(v)
                if hit is None:
                    found: list[Problem] = []
                    one: dict[str, Any] = {}
                    _field(key, v, found, one, one)
                    hit = (tuple(found), one.get(key))
                    if len(known) >= _MEMO_SIZE:
                        known.clear()  # ever new values: start again, memory stays bounded
                    known[v] = hit
                if hit[0]:
                    problems.extend(hit[0])
                if hit[1] is not None:
                    out[key] = hit[1]
                continue
        _field(key, v, problems, out, extra)


_PLAIN: dict[str, Parser] = {
    **dict.fromkeys(TEXT_FIELDS - set(_MEMO), _plain),
    **dict.fromkeys((*NUMERIC_FIELDS, *RANGE_FIELDS), _decimal),
}
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,30})?\Z")


# Rows of a log repeat their codes together (a trade lane: commodity, HS code, unit,
# countries, transfer, source), so the code fields of a record, as one tuple of texts,
# are remembered with their stored forms when all were valid. Per layout of keys (a CSV
# file has one): which keys are code fields and the getter of their values.
_COMBINED = frozenset(_MEMO) - DATE_FIELDS  # dates take too many values to combine
_COMBO_SIZE = 1 << 14
_LAYOUT_SIZE = 64
_STR_ONLY = frozenset({str})
_Layout = tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], tuple[Any, ...], dict[Any, Any]]
_LAYOUTS: dict[tuple[Any, ...], _Layout | None] = {}
_UNKNOWN: Any = object()


def _layout(keys: tuple[Any, ...]) -> _Layout | None:
    combined = [k for k in keys if k in _COMBINED]
    if len(combined) < 2:
        return None  # itemgetter of one key gives a value, not a tuple; nothing to gain
    rest = tuple(k for k in keys if k not in _COMBINED)
    return (operator.itemgetter(*combined), rest, {})


def _combined(raw: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]] | None:
    """The stored forms of a record's code fields (when all are valid) and its other
    keys, or None when the record is not of a kind remembered."""
    keys = tuple(raw)
    layout = _LAYOUTS.get(keys, _UNKNOWN)
    if layout is _UNKNOWN:
        if len(_LAYOUTS) >= _LAYOUT_SIZE:
            _LAYOUTS.clear()
        layout = _LAYOUTS[keys] = _layout(keys)
    if layout is None:
        return None
    values_of, rest, combos = layout
    values = values_of(raw)
    # Texts only (a str subclass or a number is validated field by field, as written).
    if set(map(type, values)) != _STR_ONLY:
        return None
    known = combos.get(values)
    if known is None:
        if max(map(len, values)) > _MEMO_TEXT:
            return None
        problems: list[Problem] = []
        known = {}
        _fields(raw, [k for k in keys if k in _COMBINED], problems, known, known)
        if problems:
            return None
        if len(combos) >= _COMBO_SIZE:
            combos.clear()
        combos[values] = known
    return known, rest


def _validate(raw: Mapping[str, Any]) -> dict[str, Any] | list[Problem]:
    problems: list[Problem] = []
    extra: dict[str, str] = {}
    if len(raw) > MAX_FIELDS:
        return [Problem("record", f"has {len(raw)} fields; at most {MAX_FIELDS} are read")]
    combined = _combined(raw) if isinstance(raw, dict) else None
    if combined is not None:
        out = dict(combined[0])
        _fields(raw, combined[1], problems, out, extra)
        if problems:  # found again field by field, in the record's order
            problems, out, extra = [], {}, {}
            _fields(raw, raw, problems, out, extra)
    else:
        out = {}
        _fields(raw, raw, problems, out, extra)
    if (
        not problems
        and "id" in out
        and "date" in out
        and ("quantity" in out) == ("unit" in out)
        and ("value" in out) == ("currency" in out)
        and "quantity_min" not in out
        and "quantity_max" not in out
    ):
        # The usual record: none of the checks below can find a problem in it.
        if extra:
            out["extra"] = extra
        return out
    failed = {p.field for p in problems} if problems else _NONE
    for required in ("id", "date"):
        if required not in out and required not in failed:
            problems.append(Problem(required, "is required"))
    for amounts, unit in ((("quantity", *RANGE_FIELDS), "unit"), (("value",), "currency")):
        given = [a for a in amounts if a in out or a in failed]
        has_unit = unit in out or unit in failed
        if given and not has_unit:
            problems.append(Problem(unit, f"is required with {given[0]}"))
        elif has_unit and not given:
            problems.append(Problem(amounts[0], f"is required with {unit}"))
    problems.extend(_range_problems(out))
    if problems:
        return problems
    if extra:
        out["extra"] = extra
    return out
