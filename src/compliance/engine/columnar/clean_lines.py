"""CSV lines proved clean by their text: what lets the scan leave most columns unparsed.

One regular expression per header (`LineScreen.pattern`) matches a line only when the
csv module would read it as exactly one row of the header's width and every field it
writes out in full passes `FieldExprs.field_ok` as written: codes from their lists of
spellings, amounts and dates of the shapes the screen accepts, free text with no edge
whitespace and no quote. What a regular expression cannot prove (an IMO number's check
digit, the patterns of `events.SCREENS`, numeric extras) it lets through as any field,
and those columns are checked as columns (`LineScreen.checked`). The lines some
rule may match are left out of it: where a rule's `FieldExprs.necessary` test is a code
or a transfer kind, the pattern of that column leaves out its spellings, so one pass
over a line proves it clean and wanted by no rule (JSON Lines find them by a second
expression, `LineScreen.wanted`).

A line both prove (clean, no rule wanted) needs only its id (for its key), its dates
(for the latest date) and the checked columns; every other line takes the screen's
exact path, all of its columns parsed. Stricter than `field_ok` is allowed (a line
it leaves in doubt costs a full parse), laxer never.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from compliance.events import (
    DATE_FIELDS,
    IMO_FIELDS,
    NUMERIC_FIELDS,
    RANGE_FIELDS,
    SCREENS,
    TRANSFERS,
)
from compliance.rulebook.selectors import All, AnyOf, Equals, NameIn, Selector

if TYPE_CHECKING:
    from compliance.engine.columnar.expressions import FieldExprs

__all__ = ["KEYED", "JsonReads", "LineScreen", "json_line_screen", "json_reads", "line_screen"]

# A character that may start or end free text: no edge whitespace or control character
# (`expressions._EDGE`, which str.strip() would remove), no separator, no quote.
_END = r'[^\x00-\x20\x85\xa0\s,"]'
_END_QUOTED = r'[^\x00-\x20\x85\xa0\s"]'
# Inside free text: anything but the separator and the quote (and NUL, which older csv
# modules refuse).
_FREE = rf'{_END}(?:[^,"\x00]*{_END})?|"{_END_QUOTED}(?:[^"\x00]*{_END_QUOTED})?"'
# Any one field as the csv module and Polars both read it: unquoted without a quote, or
# quoted with "" for a quote.
_ANY = r'[^,"\x00]*|"(?:[^"\x00]|"")*"'
# ISO dates from 1900 to 2999 (`events.DATES`) that exist: the 29th of February only in
# a leap year.
_DAY = (
    r"(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31"
)
_LEAP = r"(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2[048]00"
_DATE = rf"(?:19[0-9]{{2}}|2[0-9]{{3}})-(?:{_DAY})|(?:{_LEAP})-02-29"
# `expressions._AMOUNT`: str(Decimal(text)) is the text.
_AMOUNT = r"[1-9][0-9]{0,14}(?:\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*|0"
# Two to ten digits once dots are dropped, in the usual spellings (271019, 2710.19,
# 2710.19.10).
_HS = r"[0-9]{2,10}|[0-9]{4}\.[0-9]{1,6}|[0-9]{4}\.[0-9]{2}\.[0-9]{1,4}"
# `expressions._PRODUCT` (printable ASCII, no edge space) without separator or quote.
_ASCII = r"[!#-+\--~](?:[ !#-+\--~]*[!#-+\--~])?"
_ASCII_QUOTED = r"[!#-~](?:[ !#-~]*[!#-~])?"
# Record checks of `FieldExprs.checks`: both of a pair present, or neither.
_PAIRS = (("quantity", "unit"), ("value", "currency"))
KEYED = ("id", "date")  # every header has them; a clean row too
W = TypeVar("W")


def _pair_states(fields: Iterable[str]) -> Iterator[dict[str, bool]]:
    """Per combination of the record checks' pairs (both present or both absent; a pair
    with one column missing: both absent), whether each of their columns is present: one
    alternative of the whole line each."""
    names = set(fields)
    pairs = [(a, b) for a, b in _PAIRS if a in names or b in names]
    for presence in itertools.product((True, False), repeat=len(pairs)):
        if any(
            p and not (a in names and b in names) for (a, b), p in zip(pairs, presence, strict=True)
        ):
            continue
        yield {c: p for (a, b), p in zip(pairs, presence, strict=True) for c in (a, b)}


@dataclass(frozen=True)
class LineScreen:
    """The expressions of one header (`line_screen`)."""

    pattern: str  # a clean line (the header's width, fields proved or `checked`)
    wanted: str | None  # a line some rule may match, were it clean (None: none, or in `pattern`)
    checked: tuple[str, ...]  # columns the pattern lets through, checked as columns
    tested: tuple[Equals, ...]  # selectors some rule needs, tested on their columns
    projected: tuple[str, ...]  # columns a proved line is parsed for (id, dates, checked)
    # CSV: `pattern` with the projected columns other than KEYED empty, as on most lines:
    # such a line needs only its id and date.
    plain: str | None = None
    leading: bool = False  # CSV: the header starts with id, date; `plain` writes them bare


def _one_of(values: Iterable[str]) -> str:
    return (
        "(?:"
        + "|".join(re.escape(v) for v in sorted(set(values), key=lambda v: (-len(v), v)))
        + ")"
    )


def _quotable(pattern: str) -> str:
    """A field of a pattern without separator or quote, written bare or quoted."""
    return f'(?:{pattern})|"(?:{pattern})"'


def _field(
    column: str, exprs: FieldExprs, maps: dict[str, dict[str, str]], wanted: frozenset[str]
) -> str | None:
    """The pattern of a present value of `column` that `field_ok` passes and that is not
    one of the spellings in `wanted` (a rule may match them); None when it must be
    checked as a column; "" when no present value is clean."""
    if column in maps or column == "transfer":
        spellings = [v for v in maps.get(column, TRANSFERS) if v not in wanted]
        return _quotable(_one_of(spellings)) if spellings else ""
    if column == "hs_code":
        return _quotable(_HS)
    if column in DATE_FIELDS:
        return _quotable(_DATE)
    if column in NUMERIC_FIELDS:
        return _quotable(_AMOUNT)
    if column in RANGE_FIELDS or column == "supersedes":
        return ""  # never clean, or always screened in full (a correction)
    if column in ("product", "source"):
        return f'{_ASCII}|"{_ASCII_QUOTED}"'
    if column in SCREENS or column in IMO_FIELDS:
        return None
    if column not in exprs.referenced:
        return _ANY  # only its length counts: the line's bounds it
    if column in exprs.numeric_extras:
        return None
    return _FREE


def line_screen(
    exprs: FieldExprs, conditions: Iterable[Selector], maps: dict[str, dict[str, str]]
) -> LineScreen | None:
    """The line screen of a CSV header (`exprs.columns`) and a rulebook's conditions;
    None when no line could be proved (a rule no text test covers: every line is
    screened in full anyway). `maps`: the spellings of each code field."""
    tests = [_necessary(c, exprs, maps, _spelled) for c in conditions]
    if any(t is None for t in tests):
        return None
    # A rule may match a clean line only where one of its tests holds: where a test is
    # a column's spelling, that column's pattern leaves it out.
    wanted: dict[str, set[str]] = {}
    columns: list[Equals] = []
    for test in (p for t in tests if t is not None for p in t):
        if isinstance(test, Equals):
            columns.append(test)
        else:
            wanted.setdefault(test[0], set()).update(test[1])
    fields: dict[str, str | None] = {
        c: _field(c, exprs, maps, frozenset(wanted.get(c, ()))) for c in exprs.columns
    }
    checked = tuple(c for c, p in fields.items() if p is None)
    dates = [c for c in ("date", "reported_on") if c in exprs.columns]
    tested = [p.field for p in columns]
    projected = tuple(dict.fromkeys(["id", *dates, *checked, *tested]))
    pattern = _grammar(fields, set())
    if pattern is None:
        return None
    # A header that starts with id and date (as `compliance convert` writes it): a
    # plain line writes them bare and its id in ASCII, so the first comma ends the id
    # and the date is the ten characters after it (bytes and characters alike).
    leading = list(fields)[:2] == list(KEYED) and fields["id"] == _FREE
    bare = {"id": _ASCII, "date": _DATE} if leading else {}
    side = set(projected) - set(KEYED)
    plain = _grammar({**fields, **bare}, side) if side or bare else pattern
    if plain is None:
        return None  # never, while a side column is not one of a pair
    return LineScreen(
        pattern=pattern, wanted=None, checked=checked, tested=tuple(columns), projected=projected,
        plain=plain, leading=leading,
    )  # fmt: skip


def _grammar(fields: dict[str, str | None], absent: set[str]) -> str | None:
    """The pattern of a line whose fields are `fields` (their patterns, as `_field`
    gives them), the columns `absent` empty; None when no line matches it."""
    alternatives = []
    for states in _pair_states(fields):
        parts = []
        for column, pattern in fields.items():
            empty = '(?:"")?'  # an empty field, bare or quoted
            required = column in KEYED or states.get(column) is True
            if column in absent:
                pattern = ""
            if pattern is None:  # checked as a column (never one of a pair)
                parts.append(f"(?:{_ANY})")
            elif required and pattern == "":
                break  # no such line has this column present
            elif required:
                parts.append(f"(?:{pattern})")
            elif pattern == "" or states.get(column) is False:
                parts.append(empty)
            else:
                parts.append(f'(?:{pattern}|"")?')
        else:
            alternatives.append(",".join(parts))
    if not alternatives:
        return None
    return "^(?:" + "|".join(f"(?:{a})" for a in alternatives) + ")$"


def _spelled(field: str, values: Iterable[str]) -> tuple[str, frozenset[str]]:
    """The spellings of `field` a rule may match (left out of its pattern)."""
    return field, frozenset(values)


def _necessary(
    s: Selector, exprs: FieldExprs, maps: dict[str, dict[str, str]],
    whole: Callable[[str, Iterable[str]], W],
) -> list[W | Equals] | None:  # fmt: skip
    """`FieldExprs.necessary` with the tests of codes on a line's text: tests (`whole`
    of a field and the spellings it is tested for) one of which holds on every clean
    line on which `s` may match, and selectors whose `necessary` tests are run on their
    (projected) columns. None when there are none.

    Short codes are found cheaply in a line's text; seven-digit IMO numbers are not
    (digits are everywhere in a line) and their columns are parsed anyway for their
    check digits, so those and text fields are tested as columns."""
    if isinstance(s, All):
        found = (_necessary(i, exprs, maps, whole) for i in s.items)
        return next((t for t in found if t is not None), None)
    if isinstance(s, AnyOf):
        every = [_necessary(i, exprs, maps, whole) for i in s.items]
        if not every or any(t is None for t in every):
            return None
        return [p for t in every if t is not None for p in t]
    if not isinstance(s, Equals) or s.field.startswith("extra."):
        return None
    field = s.field
    if field not in exprs.present_fields:
        return []  # absent: never matches
    if isinstance(s, NameIn):
        return [s]
    if field in maps:
        wanted = {str(v) for v in s.values}
        return [whole(field, (k for k, v in maps[field].items() if v in wanted))] if wanted else []
    if field == "transfer":
        return [whole(field, (str(v) for v in s.values))] if s.values else []
    if field in ("id", "source", "supersedes", "commodity", "vessel_name", *IMO_FIELDS):
        return [s]
    return None


# JSON Lines. A proved line is compact (no whitespace), flat, its keys in the log's
# order (`ndjson._ordered` trusts such lines), each value a string without an escape, a
# colon or a control character (its text is then its value; a colon could imitate the
# `.0` test `ndjson._integral` counts) or, for amounts and fields nothing reads, a number
# whose text the Python reader's value gives back as a clean amount.
_JSON_TEXT = r'[^"\\:\x00-\x1f]'
_JSON_END = r'[^\x00-\x20\x85\xa0\s"\\:]'
_JSON_FREE = rf'"{_JSON_END}(?:{_JSON_TEXT}*{_JSON_END})?"'
_JSON_ANY = rf'"{_JSON_TEXT}*"'
_JSON_ASCII_CHAR = r"[!#-9;-\[\]-~]"  # printable ASCII but the quote, colon, backslash
_JSON_ASCII = rf'"{_JSON_ASCII_CHAR}(?:[ !#-9;-\[\]-~]*{_JSON_ASCII_CHAR})?"'
# A JSON number whose str() (an int) or repr() (a float) is a clean amount (`_AMOUNT`):
# no sign or exponent, at most fifteen digits, a float neither zero nor below 1e-4
# (repr() writes 0.0 and 1e-05). Part of what `ndjson._EXACT` allows.
_JSON_AMOUNT = (
    r"0|[1-9][0-9]{0,14}"
    r"|0\.(?:[1-9][0-9]{0,12}|0[1-9][0-9]{0,11}|00[1-9][0-9]{0,10}|000[1-9][0-9]{0,9})"
    + "".join(rf"|[1-9][0-9]{{{k}}}\.[0-9]{{1,{13 - k}}}" for k in range(13))
)
_KEY_NAME = re.compile(r"[A-Za-z0-9_]+")  # keys written into a pattern as they are


def _json_field(
    column: str, exprs: FieldExprs, maps: dict[str, dict[str, str]], text: bool = False
) -> str | None:
    """`_field` of a JSON value: the pattern of a present value of `column` that
    `field_ok` passes on the text the Python reader's value gives; None when it must be
    checked as a column; "" when no present value is clean. `text`: strings only."""
    if column in maps:
        return f'"{_one_of(maps[column])}"'
    if column == "transfer":
        return f'"{_one_of(TRANSFERS)}"'
    if column == "hs_code":
        return f'"(?:{_HS})"'  # a number is never clean (events rejects what str() hides)
    if column in DATE_FIELDS:
        return f'"(?:{_DATE})"'
    if column in NUMERIC_FIELDS:
        return f'"(?:{_AMOUNT})"' if text else f'"(?:{_AMOUNT})"|{_JSON_AMOUNT}'
    if column in RANGE_FIELDS or column == "supersedes":
        return ""
    if column in ("product", "source"):
        return _JSON_ASCII
    if column in SCREENS or column in IMO_FIELDS:
        return None
    if column not in exprs.referenced:
        return _JSON_ANY if text else f"{_JSON_ANY}|{_JSON_AMOUNT}"
    if column in exprs.numeric_extras:
        return None
    return _JSON_FREE


def _json_whole(field: str, values: Iterable[str]) -> str:
    """One of `values` as a whole string value of a proved JSON line (after its key;
    the text test holds for any `field`)."""
    return f':"{_one_of(values)}"'


def json_line_screen(
    exprs: FieldExprs, conditions: Iterable[Selector], maps: dict[str, dict[str, str]],
    order: list[str],
) -> LineScreen | None:  # fmt: skip
    """`line_screen` of a JSON Lines log whose columns are `exprs.columns` and whose
    lines write their keys in `order`. A projected column (id, dates, checked, tested)
    is a string in a proved line, read back by `json_reads`."""
    tests = [_necessary(c, exprs, maps, _json_whole) for c in conditions]
    if any(t is None for t in tests):
        return None
    wanted = sorted({p for t in tests if t is not None for p in t if isinstance(p, str)})
    columns = [p for t in tests if t is not None for p in t if not isinstance(p, str)]
    keys = [k for k in order if k in exprs.columns and _KEY_NAME.fullmatch(k)]
    fields: dict[str, str | None] = {c: _json_field(c, exprs, maps) for c in keys}
    checked = tuple(c for c, p in fields.items() if p is None)
    dates = [c for c in ("date", "reported_on") if c in exprs.columns]
    projected = tuple(dict.fromkeys(["id", *dates, *checked, *(p.field for p in columns)]))
    if any(c not in fields for c in projected) or "id" not in fields or "date" not in fields:
        return None
    # A projected column is read from the line's text (`json_reads`): only as a string;
    # a checked one is any string.
    strings = {c: _JSON_ANY if p is None else _json_field(c, exprs, maps, c in projected)
               for c, p in fields.items()}  # fmt: skip
    # A pair whose keys are next to each other in the order (as most writers put
    # quantity and unit) is one optional group of both; only the other pairs double
    # the alternatives of the whole line (four alternatives cost the regular expression
    # a half more than one).
    joined = {a: b for a, b in _PAIRS if a in strings and b in strings
              and keys.index(b) == keys.index(a) + 1}  # fmt: skip
    alternatives = []
    for states in _pair_states(c for c in keys if c not in {*joined, *joined.values()}):
        # Keys before the first required one end with a comma, those after start with
        # one: the line is exactly an object of the present pairs.
        parts, started = [], False
        for column, pattern in strings.items():
            assert pattern is not None
            if column in joined.values():
                continue  # in its pair's group
            pair = f'"{column}":(?:{pattern})'
            if column in joined:
                second = strings[joined[column]]
                if not pattern or not second:
                    continue  # never clean when present: both absent
                pair += f',"{joined[column]}":(?:{second})'
                required = False  # both or neither
            else:
                required = column in ("id", "date") or states.get(column) is True
                if not required and (pattern == "" or states.get(column) is False):
                    continue  # absent
            text = f",{pair}" if started else f"{pair},"
            if required and not started:
                text, started = pair, True
            parts.append(text if required else f"(?:{text})?")
        alternatives.append("".join(parts))
    if not alternatives:
        return None
    pattern = r"^\{(?:" + "|".join(f"(?:{a})" for a in alternatives) + r")\}$"
    return LineScreen(
        pattern=pattern,
        wanted="|".join(wanted) if wanted else None,
        checked=checked,
        tested=tuple(columns),
        projected=projected,
    )


class JsonReads(NamedTuple):
    """How the projected columns are read from a proved JSON line (`json_reads`)."""

    lead: str | None  # anchored at the line's start, a group per column of `leading`
    leading: tuple[str, ...]
    found: str | None  # a line holding a key of `others` matches it (lines without: null)
    others: tuple[tuple[str, str], ...]  # (pattern with one group, column)


def json_reads(projected: Iterable[str], order: list[str]) -> JsonReads:
    """How to read the projected columns from a proved JSON line of a log whose lines
    write their keys in `order`.

    On a proved line a projected value is a string without an escape after its key,
    which appears once. The keys the pattern starts with, if they are id and date (as
    most writers put them), are read by one pattern anchored at the line's start, which
    stops after them: the first key of a proved line is the first of `order` it may
    hold, and id and date it always holds. The other projected keys (rare ones: IMO
    numbers, reporting dates) are searched for in the lines that `found` says may hold
    one, a test of their keys' text alone (without the opening quote, which would hide
    the literals from the regular expression engine's prefilter: eight times the
    cost)."""
    keys = [k for k in order if _KEY_NAME.fullmatch(k)]
    leading = tuple(itertools.takewhile(lambda k: k in ("id", "date"), keys))
    pairs = ",".join(f'"{k}":"({_JSON_TEXT}*)"' for k in leading)
    others = [c for c in projected if c not in leading]
    return JsonReads(
        lead=rf"^\{{{pairs}" if leading else None,
        leading=leading,
        found="|".join(re.escape(f'{c}":') for c in others) if others else None,
        others=tuple((f'"{re.escape(c)}":"({_JSON_TEXT}*)"', c) for c in others),
    )
