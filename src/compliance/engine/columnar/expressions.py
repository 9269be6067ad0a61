"""Polars expressions over a log's string columns: validation screens, normalised fields,
selectors.

The columnar engine never decides a *rejection* or a *finding* here. A row is "clean" when
every field passes a conservative check that implies `events.parse_shipment` would accept
it and normalise it exactly as these expressions do; every other row goes to the shared
Python code, which gives the exact reasons. So a check may be stricter than the real
validation (costing speed on odd rows), never laxer.

Selectors on clean rows are screens, not verdicts (`FieldExprs.may_match`): every row a
selector matches passes, and so may a row whose number lies within float rounding of a
bound; the engine confirms every row that reaches a finding with the exact evaluator
(`rulebook.evaluator`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from compliance._codes import COUNTRIES, CURRENCIES
from compliance.events import (
    COUNTRY_FIELDS,
    DATE_FIELDS,
    DATES,
    FIELDS,
    IMO_FIELDS,
    MAX_TEXT,
    NUMERIC_FIELDS,
    RANGE_FIELDS,
    SCREENS,
    TRANSFERS,
)
from compliance.rulebook.selectors import (
    COMPARE,
    NAME_JUNK,
    All,
    AnyOf,
    Compare,
    Equals,
    NameIn,
    Not,
    Prefix,
    Present,
    Selector,
    fields_of,
)
from compliance.units import UNITS

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CODE_MAPS", "FieldExprs", "date_in", "numeric_extras_of", "one_of"]

# Python's str.strip() removes Unicode whitespace plus \x1c-\x1f; flag any of them (and
# every control character) at either end so such values take the exact Python path.
_EDGE = r"[\x00-\x20\x85\xa0\s]"
_EDGE_WS = rf"^{_EDGE}|{_EDGE}$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Plain decimals whose str(Decimal(text)) is the text itself: no sign, no exponent, no
# leading zeros, no zero written as 0.00 (parse_shipment turns that into Decimal(0)).
_AMOUNT = r"^(?:[1-9][0-9]{0,14}(?:\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*|0)$"
_PLAIN_NUMBER = r"^-?[0-9]+(?:\.[0-9]+)?$"
_PRODUCT = r"^[!-~](?:[ -~]*[!-~])?$"  # printable ASCII: lower() is the same everywhere


def _case_variants(codes: Iterable[str]) -> dict[str, str]:
    """Every upper/lower-case spelling of short ASCII codes, mapped to the canonical one."""
    out: dict[str, str] = {}
    for code in codes:
        for combo in itertools.product(*((c.lower(), c.upper()) for c in code)):
            out["".join(combo)] = code
    return out


_COUNTRY_MAP = _case_variants(sorted(COUNTRIES))
_CURRENCY_MAP = _case_variants(sorted(CURRENCIES))
_UNIT_MAP = _case_variants(sorted(UNITS))


CODE_MAPS = {
    **dict.fromkeys(COUNTRY_FIELDS, _COUNTRY_MAP), "currency": _CURRENCY_MAP, "unit": _UNIT_MAP,
}  # fmt: skip


_MATERIALISED = COUNTRY_FIELDS | DATE_FIELDS | {"currency", "unit", "product", "hs_code"}


class FieldExprs:
    """Expressions over raw string columns named as the log's header.

    `columns` are the log's column names (stripped); absent standard fields are null.
    `selectors` are every selector the rulebook evaluates, `group_by` the fields caps group
    on: free text that none of them reads is only checked for length (its whitespace
    cannot change a finding). `empty_is_null`: the reader already made "" null;
    `never_empty`: columns that hold no "" (read as they are, as with `empty_is_null`).
    """

    def __init__(
        self, columns: Iterable[str], selectors: Iterable[Selector] = (),
        group_by: Iterable[str] = (), empty_is_null: bool = False,
        never_empty: Iterable[str] = (),
    ) -> None:  # fmt: skip
        self.columns = list(columns)
        self.present_fields = {c for c in self.columns if c in FIELDS}
        self.extras = [c for c in self.columns if c not in FIELDS]
        self.materialised: set[str] = set()
        self.empty_is_null = empty_is_null
        self.never_empty = set(never_empty)
        selectors = list(selectors)
        read = set().union(*(fields_of(x) for x in selectors)) | set(group_by)
        self.referenced = {f[6:] if f.startswith("extra.") else f for f in read}
        self.referenced |= {"id", "supersedes"}
        self.numeric_extras = numeric_extras_of(selectors)
        self.prefix_lengths: dict[str, set[int]] = {}
        for x in selectors:
            _prefix_lengths(x, self.prefix_lengths)

    def materialise(self) -> list[pl.Expr]:
        """Columns `__n_<field>` / `__x_<field>` holding normalised values and numbers.

        Add them in one `with_columns` before any other expression of this object, which
        then reads them instead of recomputing a normalisation once per rule.
        """
        exprs = [self.norm(f).alias(f"__n_{f}") for f in sorted(self.present_fields)
                 if f in _MATERIALISED]  # fmt: skip
        exprs += [self.number(f).alias(f"__x_{f}") for f in sorted(self.present_fields)
                  if f in NUMERIC_FIELDS]  # fmt: skip
        materialised = {f for f in self.present_fields if f in _MATERIALISED | NUMERIC_FIELDS}
        for field, lengths in sorted(self.prefix_lengths.items()):
            value = self._prefix_source(field)
            exprs += [value.str.head(n).alias(f"__p{n}_{field}") for n in sorted(lengths)]
        self.materialised = materialised | {"__heads__"}
        return exprs

    def _prefix_source(self, field: str) -> pl.Expr:
        value = self.norm(field)
        return value.dt.strftime("%Y-%m-%d") if field in DATE_FIELDS else value

    def _head(self, field: str, n: int) -> pl.Expr:
        import polars as pl

        if self.materialised and n in self.prefix_lengths.get(field, ()):
            return pl.col(f"__p{n}_{field}")
        return self._prefix_source(field).str.head(n)

    # Raw access ------------------------------------------------------------------------

    def raw(self, field: str) -> pl.Expr:
        import polars as pl

        if field in self.present_fields or field in self.extras:
            col = pl.col(field)
            if self.empty_is_null or field in self.never_empty:
                return col
            # A quoted empty field is "" rather than null; both mean absent.
            return pl.when(col == "").then(None).otherwise(col)
        return pl.lit(None, dtype=pl.String)

    def has(self, field: str) -> pl.Expr:
        return self.raw(field).is_not_null()

    # Normalised values (meaningful on clean rows) -------------------------------------

    def norm(self, field: str) -> pl.Expr:
        """The value parse_shipment would store, for clean rows (null when absent)."""
        import polars as pl

        if field in self.materialised and field not in NUMERIC_FIELDS:
            return pl.col(f"__n_{field}")

        raw = self.raw(field)
        if field in COUNTRY_FIELDS:
            return raw.replace_strict(_COUNTRY_MAP, default=None, return_dtype=pl.String)
        if field == "currency":
            return raw.replace_strict(_CURRENCY_MAP, default=None, return_dtype=pl.String)
        if field == "unit":
            return raw.replace_strict(_UNIT_MAP, default=None, return_dtype=pl.String)
        if field == "product":
            return raw.str.to_lowercase()
        if field == "hs_code":  # `2710.19` is `271019`; other spellings take the Python path
            return raw.str.replace_all(".", "", literal=True)
        if field in DATE_FIELDS:
            return raw.str.to_date("%Y-%m-%d", strict=False)
        return raw

    def number(self, field: str) -> pl.Expr:
        """float64 of a numeric field (or an extra column): the nearest float to the
        exact value, so comparisons in float only ever err at a bound's rounding."""
        import polars as pl

        if field in self.materialised:
            return pl.col(f"__x_{field}")
        return self.raw(field).cast(pl.Float64, strict=False)

    # Validation screen ----------------------------------------------------------------

    def field_ok(self, field: str, numeric_extras: set[str]) -> pl.Expr:
        """True when the field is absent, or present and certainly valid as written."""

        raw = self.raw(field)
        if field in COUNTRY_FIELDS or field in ("currency", "unit"):
            # The spellings norm() maps, tested on the raw value: the screen needs no
            # normalised column, so it runs before (and without) materialise().
            ok = raw.is_in(list(CODE_MAPS[field]))
        elif field == "transfer":
            ok = raw.is_in(list(TRANSFERS))
        elif field == "hs_code":
            ok = self.norm(field).str.contains(r"^[0-9]{2,10}$")
        elif field in IMO_FIELDS:
            ok = raw.str.contains(r"^[0-9]{7}$") & self._imo_check(raw)
        elif field in DATE_FIELDS:
            parsed = self.norm(field)
            ok = raw.str.contains(_DATE) & parsed.is_between(*DATES)
        elif field in NUMERIC_FIELDS:
            ok = raw.str.contains(_AMOUNT)
        elif field in RANGE_FIELDS:  # bounds are checked against each other in Python
            ok = raw.is_null()  # present: never clean
        elif field in ("product", "source"):  # events.CODE_FIELDS: ASCII only
            ok = raw.str.contains(_PRODUCT) & (raw.str.len_bytes() <= MAX_TEXT)
        elif field in SCREENS:  # valid and already normal as written; others go to Python
            ok = raw.str.contains(SCREENS[field])
        elif field not in self.referenced:
            # Nothing reads it: only an over-long value could change the outcome (a
            # rejection). Bytes bound characters, so this never passes a long one.
            ok = raw.str.len_bytes() <= MAX_TEXT
        else:  # free text and extras
            ok = ~raw.str.contains(_EDGE_WS) & (raw.str.len_chars() <= MAX_TEXT)
            if field in numeric_extras:
                # Decimal() and Polars agree on plain numbers and on text with no digits;
                # anything else ("1_000", "inf", "1e5") takes the Python path.
                no_digits = ~raw.str.contains(r"[0-9]") & ~raw.str.to_lowercase().str.contains(
                    "inf|nan"
                )
                ok = ok & (raw.str.contains(_PLAIN_NUMBER) | no_digits)
        return raw.is_null() | ok.fill_null(False)

    def _imo_check(self, raw: pl.Expr) -> pl.Expr:
        """The check digit, for values already known to be seven ASCII digits.

        Digits by integer arithmetic on one cast: slicing the string seven times cost
        more than all the other checks of a row together.
        """
        import polars as pl

        number = raw.cast(pl.Int64, strict=False)
        total = pl.lit(0, dtype=pl.Int64)
        for i, weight in enumerate(range(7, 1, -1)):
            total = total + (number // 10 ** (6 - i)) % 10 * weight
        return (total % 10) == number % 10

    def clean(self, numeric_extras: set[str] | None = None) -> pl.Expr:
        """Every field certainly valid and the record complete (id, date, unit pairs)."""
        import polars as pl

        fields, record = self.checks(numeric_extras)
        return pl.all_horizontal([*fields.values(), *record])

    def checks(
        self, numeric_extras: set[str] | None = None
    ) -> tuple[dict[str, pl.Expr], list[pl.Expr]]:
        """`clean()` in parts: field_ok per column (a function of that column's value
        alone, so it may be evaluated on distinct values), and the record-level checks."""
        if numeric_extras is None:
            numeric_extras = self.numeric_extras
        fields = {f: self.field_ok(f, numeric_extras) for f in self.columns}
        record = [self.has("id"), self.has("date")]
        record.append(self.has("quantity") == self.has("unit"))
        record.append(self.has("value") == self.has("currency"))
        return fields, record

    def nonblank(self) -> pl.Expr:
        import polars as pl

        return pl.any_horizontal([pl.col(c).is_not_null() for c in self.columns])

    # Selectors ------------------------------------------------------------------------

    def necessary(self, s: Selector) -> list[pl.Expr] | None:
        """Cheap tests on raw columns, one of which every clean row matching `s` passes.

        None when there are none. Used to screen out most rows before normalising them
        and evaluating every rule: on a clean row, `may_match(s)` implies the disjunction of
        these tests. A list rather than one expression, so that rules sharing a test (a
        destination, an origin) have it computed once. Only equality on fields whose raw
        spellings are known is used (codes, transfer, IMO numbers, text kept as written);
        everything else gives no test.
        """
        import polars as pl

        if isinstance(s, All):
            return next((t for t in (self.necessary(i) for i in s.items) if t is not None), None)
        if isinstance(s, AnyOf):
            found = [self.necessary(i) for i in s.items]
            if not found or any(t is None for t in found):
                return None
            return [e for t in found if t is not None for e in t]
        if isinstance(s, NameIn):  # names are compared normalised: the exact test
            return [self.may_match(s)]
        if not isinstance(s, Equals) or s.field.startswith("extra."):
            return None
        field = s.field
        if field not in self.present_fields:
            return [pl.lit(False)]
        raw = self.raw(field)
        if field in CODE_MAPS:
            wanted = {str(v) for v in s.values}
            return [one_of(raw, [k for k, v in CODE_MAPS[field].items() if v in wanted])]
        if field in ("transfer", "id", "source", "supersedes", "commodity", "vessel_name",
                     *IMO_FIELDS):  # fmt: skip
            return [one_of(raw, [str(v) for v in s.values])]
        return None

    def may_match(self, s: Selector) -> pl.Expr:
        """Boolean expression (never null), on clean rows: true wherever `s` holds, and
        perhaps where a number is within float rounding of a bound. Confirm exactly."""
        return self._bound(s, upper=True)

    def _bound(self, s: Selector, upper: bool) -> pl.Expr:
        """An upper bound of the selector's truth on clean rows (`upper`: true wherever it
        holds) or a lower bound (true only where it holds).

        Only numeric comparisons are approximate: rounding to float64 is monotone, so an
        exact `v > b` implies `float(v) >= float(b)` (the upper bound) and is implied by
        `float(v) > float(b)` (the lower bound); `not` swaps the two.
        """
        import polars as pl

        if isinstance(s, All):
            parts = [self._bound(i, upper) for i in s.items]
            return pl.all_horizontal(parts) if parts else pl.lit(True)
        if isinstance(s, AnyOf):
            parts = [self._bound(i, upper) for i in s.items]
            return pl.any_horizontal(parts) if parts else pl.lit(False)
        if isinstance(s, Not):
            return ~self._bound(s.item, not upper)
        field = s.field[6:] if s.field.startswith("extra.") else s.field
        if s.field.startswith("extra.") and field not in self.extras:
            return pl.lit(not s.present) if isinstance(s, Present) else pl.lit(False)
        if isinstance(s, Present):
            return self.has(field) if s.present else ~self.has(field)
        if isinstance(s, NameIn):  # selectors.normalise_name, in Polars
            name = self.norm(field).str.replace_all(NAME_JUNK, " ").str.strip_chars(" ")
            return name.str.to_uppercase().is_in(list(s.values)).fill_null(False)
        if isinstance(s, Equals):
            if not s.values:
                return pl.lit(False)
            if field in NUMERIC_FIELDS and not s.field.startswith("extra."):
                # Exact on clean rows: their text is a plain decimal with no sign or
                # exponent, equal to a value when it is once trailing zeros are dropped.
                expr = _plain_text(self.raw(field)).is_in(_plain_decimals(s.values))
            elif field in DATE_FIELDS:
                expr = self.norm(field).is_in(list(s.values))
            else:
                expr = self.norm(field).is_in([str(v) for v in s.values])
        elif isinstance(s, Prefix):
            if not s.prefixes:
                return pl.lit(False)
            # One set lookup per prefix length instead of a test per prefix (the textile
            # ban lists fourteen chapters).
            by_length: dict[int, list[str]] = {}
            for p in s.prefixes:
                by_length.setdefault(len(p), []).append(p)
            tests = []
            for n, group in sorted(by_length.items()):
                tests.append(self._head(field, n).is_in(group))
            expr = pl.any_horizontal(tests)
        elif isinstance(s, Compare):
            above = s.op in ("gt", "gte")
            if upper:
                op = "gte" if above else "lte"
            else:
                op = "gt" if above else "lt"
            expr = COMPARE[op](self.number(field), float(s.number))
        else:
            raise TypeError(s)
        return expr.fill_null(False)


def _plain_text(raw: pl.Expr) -> pl.Expr:
    """A clean amount's text without trailing fractional zeros: `1.50` → `1.5`, `2.0` → `2`."""
    import polars as pl

    return (
        pl.when(raw.str.contains(".", literal=True))
        .then(raw.str.replace(r"\.?0+$", ""))
        .otherwise(raw)
    )


def _plain_decimals(values: Iterable[object]) -> list[str]:
    """Values as `_plain_text` writes clean amounts: fixed point, no trailing zeros."""
    out = []
    for v in values:
        number = v if isinstance(v, Decimal) else Decimal(str(v))
        if not number.is_finite():
            continue
        if number == 0:
            out.append("0")
            continue
        text = format(number, "f")
        out.append(text.rstrip("0").rstrip(".") if "." in text else text)
    return out


def one_of(raw: pl.Expr, values: list[str]) -> pl.Expr:
    """`raw.is_in(values)`, never null. Polars scans a list of up to eight values at
    two to three times the cost of comparing each in turn; longer lists go through a
    hash set, cheaper than comparisons from nine values on."""
    import polars as pl

    if 0 < len(values) <= 8:
        return pl.any_horizontal([raw == v for v in values]).fill_null(False)
    return raw.is_in(values).fill_null(False)


def _prefix_lengths(s: Selector, out: dict[str, set[int]]) -> None:
    if isinstance(s, All | AnyOf):
        for i in s.items:
            _prefix_lengths(i, out)
    elif isinstance(s, Not):
        _prefix_lengths(s.item, out)
    elif isinstance(s, Prefix):
        field = s.field[6:] if s.field.startswith("extra.") else s.field
        out.setdefault(field, set()).update(len(p) for p in s.prefixes)


def numeric_extras_of(selectors: Iterable[Selector]) -> set[str]:
    """Extra columns some selector compares as numbers."""
    out: set[str] = set()

    def walk(s: Selector) -> None:
        if isinstance(s, All | AnyOf):
            for i in s.items:
                walk(i)
        elif isinstance(s, Not):
            walk(s.item)
        elif isinstance(s, Compare) and s.field.startswith("extra."):
            out.add(s.field[6:])

    for s in selectors:
        walk(s)
    return out


def date_in(expr: pl.Expr, start: date | None, end: date | None) -> pl.Expr:
    """`start <= expr <= end` with open ends."""
    import polars as pl

    out = pl.lit(True)
    if start is not None:
        out = out & (expr >= start)
    if end is not None:
        out = out & (expr <= end)
    return out.fill_null(False)
