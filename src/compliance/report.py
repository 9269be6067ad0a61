"""What an evaluation returns: findings, the accounting of every record, the rejections."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring as _string
from typing import Any, Literal, NamedTuple, overload

from pydantic import BaseModel, ConfigDict

from compliance.errors import located
from compliance.units import format_amount, places_to_show

__all__ = [
    "Accounting",
    "ChainLink",
    "Finding",
    "FindingKind",
    "Measurement",
    "PeriodRange",
    "Rejection",
    "Report",
    "RulebookInfo",
    "Series",
    "SeriesPoint",
    "Severity",
    "Supersession",
    "finding_json",
]

FindingKind = Literal[
    "cap_exceeded",
    "threshold_reached",
    "prohibited",
    "designated",
    "late_report",
    "unreported",
    "unconvertible",
    "price_cap_exceeded",
    "safe_harbour",
    "unpriced",
    "invalid_identifier",
    "unnotified",
    "pending",
    "inferred",
    "associated",
    "unquantified",
]
Day = date  # a field named `date` shadows the type inside Finding
Severity = Literal["breach", "warning", "notice", "error"]
SEVERITY: dict[str, Severity] = {
    "cap_exceeded": "breach",
    "prohibited": "breach",
    "designated": "breach",
    "late_report": "warning",
    "unreported": "warning",
    "pending": "notice",
    "threshold_reached": "notice",
    "unconvertible": "error",
    "price_cap_exceeded": "breach",
    "safe_harbour": "notice",
    "unpriced": "warning",
    "invalid_identifier": "warning",
    "unnotified": "breach",
    "inferred": "notice",
    "associated": "notice",
    "unquantified": "warning",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PeriodRange(_Frozen):
    start: date
    end: date


class Measurement(_Frozen):
    """A cap's figures in one measure (all in `unit`)."""

    unit: str
    limit: Decimal
    running: Decimal
    total: Decimal
    excess: Decimal | None = None
    threshold: Decimal | None = None
    # With ranges, `running` and `total` are the upper bounds' totals, these the lower's.
    running_min: Decimal | None = None
    total_min: Decimal | None = None
    # What `total` rests on: its part by event `source` ("notification", "panel-report",
    # "inferred", …; "unspecified" for events with none), and whether the notified part
    # alone passes the limit (or the threshold's level).
    basis: dict[str, Decimal] | None = None
    on_notifications: bool | None = None

    def places(self, least: int = 2) -> int:
        """Decimal places to show these figures with, at least `least`: enough that the
        limit is quoted exactly and no difference between running, total, limit and the
        threshold's level reads as zero (500,000.001 is over a 500,000 cap, not at it)."""
        differences = [self.running - self.limit, self.total - self.limit]
        if self.threshold is not None:
            differences.append(self.running - self.limit * self.threshold)
        return places_to_show(*differences, least=max(least, _quoted_places(self.limit)))


@lru_cache(maxsize=1024)
def _quoted_places(limit: Decimal) -> int:
    """The decimal places that quote a limit exactly (a rulebook has a few limits, quoted
    in every cap finding's message)."""
    exponent = limit.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class SeriesPoint(NamedTuple):
    """One contributing event of a cap finding: what it added in each measure of the rule
    (None: it cannot be expressed in that one; its `unconvertible` finding says why, and
    it adds nothing there) and the running totals after it, keyed by unit; its `source`
    and the conversion factor that converted it (`"product_basket 8.33 bbl/t since
    2018-01-01"`), None when it has none or needed none."""

    event: str
    date: date
    amounts: dict[str, Decimal | None]
    running: dict[str, Decimal]
    source: str | None = None
    factor: str | None = None


class Series(Sequence[SeriesPoint]):
    """A cap finding's evidence: its contributing events in (date, id) order, each with its
    amounts and the running totals after it in every measure of the rule (for a rolling cap,
    the window's totals from its first day). DESIGN §4's `series`, one object per point.

    Held column by column: a finding over a whole year's deliveries may have 100,000 events,
    and the findings of one period share one `Series`. Room is left for more per event
    (an inferred event marked `"inferred": true`): a new key of each JSON object.

    >>> s = Series(("bbl",), ("a",), (date(2019, 1, 10),), ((Decimal(300),),), ((Decimal(300),),))
    >>> s[0].running
    {'bbl': Decimal('300')}
    """

    __slots__ = ("_amounts", "_running", "dates", "events", "factors", "sources", "units")

    def __init__(
        self,
        units: tuple[str, ...],
        events: Sequence[str],
        dates: Sequence[date],
        amounts: Sequence[tuple[Decimal | None, ...]],
        running: Sequence[tuple[Decimal, ...]],
        sources: Sequence[str | None] | None = None,
        factors: Sequence[str | None] | None = None,
    ) -> None:
        if not len(events) == len(dates) == len(amounts) == len(running):
            raise ValueError("a series needs one date, amounts and running totals per event")
        self.units = units
        self.events = tuple(events)
        self.dates = tuple(dates)
        self._amounts = tuple(amounts)
        self._running = tuple(running)
        none: tuple[str | None, ...] = (None,) * len(self.events)
        self.sources = tuple(sources) if sources is not None else none
        self.factors = tuple(factors) if factors is not None else none
        if not len(self.sources) == len(self.factors) == len(self.events):
            raise ValueError("a series needs one source and factor (or None) per event")

    def __len__(self) -> int:
        return len(self.events)

    @overload
    def __getitem__(self, i: int) -> SeriesPoint: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[SeriesPoint]: ...
    def __getitem__(self, i: int | slice) -> SeriesPoint | Sequence[SeriesPoint]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return SeriesPoint(
            self.events[i],
            self.dates[i],
            dict(zip(self.units, self._amounts[i], strict=True)),
            dict(zip(self.units, self._running[i], strict=True)),
            self.sources[i],
            self.factors[i],
        )

    def running_in(self, unit: str) -> tuple[Decimal, ...]:
        """The running totals in one measure, one per event."""
        j = self.units.index(unit)
        return tuple(r[j] for r in self._running)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (
            self.units, self.events, self.dates, self._amounts, self._running,
            self.sources, self.factors,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"Series({len(self)} events in {', '.join(self.units)})"

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON list of DESIGN §4, decimals as exact strings, a missing amount null."""
        units = self.units
        out = []
        for event, day, amounts, running, source, factor in zip(
            self.events, self.dates, self._amounts, self._running, self.sources, self.factors,
            strict=True,
        ):  # fmt: skip
            point: dict[str, Any] = {
                "event": event,
                "date": day.isoformat(),
                "amounts": {
                    u: None if a is None else format_amount(a)
                    for u, a in zip(units, amounts, strict=True)
                },
                "running": {u: format_amount(r) for u, r in zip(units, running, strict=True)},
            }
            if source is not None:
                point["source"] = source
            if factor is not None:
                point["factor"] = factor
            out.append(point)
        return out

    def json_lines(self) -> list[str]:
        """`to_list()` as JSON text, one object a line: what `Report.to_json` writes.

        Compact, so a 100,000-event series is 100,000 short lines, each event's amounts
        (which repeat) formatted once."""
        units = [_string(u) for u in self.units]
        shown: dict[Decimal, str] = {}

        def amount(a: Decimal | None) -> str:
            if a is None:
                return "null"
            text = shown.get(a)
            if text is None:
                text = shown[a] = '"' + format_amount(a) + '"'
            return text

        lines = []
        one = units[0] if len(units) == 1 else None  # most caps have one measure
        for event, day, amounts, running, source, factor in zip(
            self.events, self.dates, self._amounts, self._running, self.sources, self.factors,
            strict=True,
        ):  # fmt: skip
            if one is not None:
                given = f"{one}: {amount(amounts[0])}"
                totals = f'{one}: "{format_amount(running[0])}"'
            else:
                given = ", ".join(f"{u}: {amount(a)}" for u, a in zip(units, amounts, strict=True))
                totals = ", ".join(
                    f'{u}: "{format_amount(r)}"' for u, r in zip(units, running, strict=True)
                )
            more = "" if source is None else f', "source": {_string(source)}'
            if factor is not None:
                more += f', "factor": {_string(factor)}'
            lines.append(
                f'{{"event": {_string(event)}, "date": "{day.isoformat()}", '
                f'"amounts": {{{given}}}, "running": {{{totals}}}{more}}}'
            )
        return lines

    @classmethod
    def of(cls, points: Iterable[Any]) -> Series:
        """A series from points: `SeriesPoint`s or their JSON objects (from `to_list`)."""
        rows = [p if isinstance(p, SeriesPoint) else _point(p) for p in points]
        units = tuple(rows[0].running) if rows else ()
        return cls(
            units,
            [p.event for p in rows],
            [p.date for p in rows],
            [tuple(p.amounts[u] for u in units) for p in rows],
            [tuple(p.running[u] for u in units) for p in rows],
            [p.source for p in rows],
            [p.factor for p in rows],
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        # Checked by type only: the engines build it from exact figures, and validating
        # 100,000 points one by one would cost more than finding them.
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, Series) else cls.of(v),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda s: s.to_list()),
        )


def _point(value: Any) -> SeriesPoint:
    def number(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    return SeriesPoint(
        str(value["event"]),
        value["date"] if isinstance(value["date"], date) else date.fromisoformat(value["date"]),
        {u: number(a) for u, a in value["amounts"].items()},
        {u: Decimal(str(r)) for u, r in value["running"].items()},
        value.get("source"),
        value.get("factor"),
    )


class ChainLink(_Frozen):
    """One event an inference rests on: its step, id, date, and the days since the
    event of the step its window is after (None for the first step)."""

    step: str
    event: str
    date: date
    days_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "event": self.event}
        out["date"] = self.date.isoformat()
        if self.days_after is not None:
            out["days_after"] = self.days_after
        return out


def _measure_dict(m: Measurement) -> dict[str, Any]:
    """A finding's figures as its JSON holds them (`Finding.to_dict`, `finding_json`)."""
    out: dict[str, Any] = {
        "unit": m.unit,
        "limit": format_amount(m.limit),
        "running": format_amount(m.running),
        "total": format_amount(m.total),
    }
    if m.excess is not None:
        out["excess"] = format_amount(m.excess)
    if m.threshold is not None:
        out["threshold"] = format_amount(m.threshold)
    if m.running_min is not None:
        out["running_min"] = format_amount(m.running_min)
    if m.total_min is not None:
        out["total_min"] = format_amount(m.total_min)
    if m.basis is not None:
        out["basis"] = {k: format_amount(v) for k, v in m.basis.items()}
    if m.on_notifications is not None:
        out["on_notifications"] = m.on_notifications
    return out


class Finding(_Frozen):
    """One breach, warning, notice or error, with everything needed to cite it.

    A cap finding (`cap_exceeded`, `threshold_reached`) also carries its evidence in
    `series`: every contributing event with its amounts and the running totals after it;
    the findings of one period share it. Other kinds have none (None, absent in JSON).
    """

    rule: str
    kind: FindingKind
    severity: Severity
    title: str
    citation: str
    verified: bool
    date: date
    trigger: str
    events: list[str]
    period: PeriodRange | None = None
    group: dict[str, str] = {}
    measure: Measurement | None = None
    series: Series | None = None
    match: dict[str, str] | None = None
    days_late: int | None = None
    due: Day | None = None  # deadline findings: the last day the report was in time
    price: dict[str, str] | None = None
    inferred: list[str] = []  # ids among `events` of events a correlation rule inferred
    chain: list[ChainLink] | None = None  # an `inferred` finding: the events it rests on
    # Cap findings: "certain" when the lower bounds of estimated amounts pass the limit,
    # "possible" when only the upper bounds do (absent: no event of the period is a range).
    certainty: Literal["certain", "possible"] | None = None
    # Matching events of the period with no quantity: counted nowhere, so the totals are
    # "at least" (each also has its `unquantified` finding).
    unquantified: list[str] | None = None
    # A threshold notice: the events up to and including the one that reached it (its
    # `events` stay every event of the period, DESIGN §4).
    reached_with: list[str] | None = None
    message: str

    def sort_key(self) -> tuple[Any, ...]:
        threshold = self.measure.threshold if self.measure and self.measure.threshold else 0
        return (
            self.date,
            self.rule,
            self.trigger,
            self.kind,
            sorted(self.group.items()) if self.group else [],
            self.period.start if self.period else date.min,
            threshold,
            sorted(self.match.items()) if self.match else [],
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN §4 (decimals as strings, absent parts omitted)."""
        out = self._document()
        if self.series is not None:
            out["series"] = self.series.to_list()
        return out

    def _document(self) -> dict[str, Any]:
        """`to_dict()` with the `Series` object in place of its list, for `Report.to_json`."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "citation": self.citation,
            "verified": self.verified,
            "date": self.date.isoformat(),
            "trigger": self.trigger,
            "events": list(self.events),
        }
        if self.period is not None:
            out["period"] = {
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            }
        out["group"] = dict(self.group)
        if self.measure is not None:
            out["measure"] = _measure_dict(self.measure)
        if self.certainty is not None:
            out["certainty"] = self.certainty
        if self.unquantified is not None:
            out["unquantified"] = list(self.unquantified)
        if self.reached_with is not None:
            out["reached_with"] = list(self.reached_with)
        if self.series is not None:
            out["series"] = self.series
        if self.match is not None:
            out["match"] = dict(self.match)
        if self.days_late is not None:
            out["days_late"] = self.days_late
        if self.due is not None:
            out["due"] = self.due.isoformat()
        if self.price is not None:
            out["price"] = dict(self.price)
        if self.inferred:
            out["inferred"] = list(self.inferred)
        if self.chain is not None:
            out["chain"] = [link.to_dict() for link in self.chain]
        out["message"] = self.message
        return out


class Accounting(_Frozen):
    """Where every record read ended: evaluated + duplicates + superseded + rejected = read."""

    read: int = 0
    evaluated: int = 0
    duplicates: int = 0
    superseded: int = 0
    rejected: int = 0


class Rejection(_Frozen):
    """A record that was not evaluated, where it came from, and every reason."""

    source: str
    line: int | None = None
    index: int | None = None
    id: str | None = None
    reasons: list[str]

    def location(self) -> str:
        return located(self.source, self.line, self.index)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Supersession(_Frozen):
    """A superseded record (`id`, where it was read) and the record that replaced it."""

    id: str
    by: str
    source: str
    line: int | None = None
    index: int | None = None

    def location(self) -> str:
        return located(self.source, self.line, self.index)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RulebookInfo(_Frozen):
    sources: list[str]
    rules: int


class Report(_Frozen):
    """The result of an evaluation (DESIGN §4).

    >>> report = compliance.evaluate("shipments.csv")      # doctest: +SKIP
    >>> [f.trigger for f in report.breaches]               # doctest: +SKIP
    ['b']
    """

    findings: list[Finding]
    accounting: Accounting
    rejected: list[Rejection] = []
    rulebook: RulebookInfo
    as_of: date | None = None  # the evaluation date deadlines were judged on
    superseded: list[Supersession] = []  # the audit trail of corrections, by location

    def _of(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    @property
    def breaches(self) -> list[Finding]:
        return self._of("breach")

    @property
    def warnings(self) -> list[Finding]:
        return self._of("warning")

    @property
    def notices(self) -> list[Finding]:
        return self._of("notice")

    @property
    def errors(self) -> list[Finding]:
        return self._of("error")

    @property
    def incomplete(self) -> bool:
        """True when some record was rejected or some event could not be converted."""
        return bool(self.rejected) or bool(self.errors)

    def exit_code(self, fail_on: Literal["breach", "warning"] = "breach") -> int:
        """0 no breach; 1 breach (or warning with fail_on="warning"); 2 incomplete."""
        if self.incomplete:
            return 2
        if self.breaches or (fail_on == "warning" and self.warnings):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "accounting": self.accounting.model_dump(),
            "rejected": [r.to_dict() for r in self.rejected],
            "superseded": [s.to_dict() for s in self.superseded],
            "rulebook": self.rulebook.model_dump(),
            **({"as_of": self.as_of.isoformat()} if self.as_of is not None else {}),
        }

    def to_json(self, indent: int | None = 2, *, end: str = "") -> str:
        """The JSON document of DESIGN §4: `to_dict()` as text, indented like
        `json.dumps(..., indent=indent)` but for a finding's series, one event a line;
        `end` is appended (the document is not copied again to add a newline)."""
        if indent is None:
            return json.dumps(self.to_dict(), ensure_ascii=False) + end
        return "".join(self.iter_json(indent, end=end))

    def iter_json(self, indent: int = 2, *, end: str = "") -> Iterator[str]:
        """`to_json(indent, end=end)` in pieces, a finding at a time: a report of half a
        million findings is a gigabyte of text, which a writer need never hold whole
        (the CLI writes the pieces as they come)."""
        step = " " * indent
        rest = {
            "accounting": self.accounting.model_dump(),
            "rejected": [r.to_dict() for r in self.rejected],
            "superseded": [s.to_dict() for s in self.superseded],
            "rulebook": self.rulebook.model_dump(),
            **({"as_of": self.as_of.isoformat()} if self.as_of is not None else {}),
        }
        tail: list[str] = []
        _indented(rest, tail, "\n", step, {})
        at = "\n" + step * 2
        series: dict[int, list[str]] = {}
        yield "{\n" + step + '"findings": '
        if self.findings:
            yield "[" + at
            between = "," + at
            for n, f in enumerate(self.findings):
                if n:
                    yield between
                yield finding_json(f, at, step, series)
            yield "\n" + step + "]"
        else:
            yield "[]"
        yield ","
        yield tail[0][1:]
        yield from tail[1:]
        if end:
            yield end


def finding_json(
    finding: Finding, newline: str, step: str, series: dict[int, list[str]] | None = None
) -> str:
    """`Report.to_json`'s text of one finding (what `_indented` writes for its
    `_document()`), written from its fields: `newline` is a line break and the finding's
    indentation, `series` the lines of series already written (by identity).

    The fields a finding holds are known, so each is written as its type says, without
    building the document and walking it; a value of another type than its field's
    (a model built without validation) takes the general writer.
    """
    f = finding
    inner = newline + step
    deeper = inner + step
    comma = "," + inner
    parts = [
        "{" + inner + '"rule": ' + _string(f.rule),
        '"kind": ' + _string(f.kind),
        '"severity": ' + _string(f.severity),
        '"title": ' + _string(f.title),
        '"citation": ' + _string(f.citation),
        '"verified": ' + _LITERALS[f.verified],
        '"date": "' + f.date.isoformat() + '"',
        '"trigger": ' + _string(f.trigger),
        '"events": ' + _list_text(f.events, inner, step),
    ]
    if f.period is not None:
        parts.append(
            '"period": {' + deeper + '"start": "' + f.period.start.isoformat() + '",'
            + deeper + '"end": "' + f.period.end.isoformat() + '"' + inner + "}"
        )  # fmt: skip
    parts.append('"group": ' + _dict_text(f.group, inner, step))
    if f.measure is not None:
        parts.append('"measure": ' + _general(_measure_dict(f.measure), inner, step, series))
    if f.certainty is not None:
        parts.append('"certainty": ' + _string(f.certainty))
    if f.unquantified is not None:
        parts.append('"unquantified": ' + _list_text(f.unquantified, inner, step))
    if f.reached_with is not None:
        parts.append('"reached_with": ' + _list_text(f.reached_with, inner, step))
    if f.series is not None:
        parts.append('"series": ' + _general(f.series, inner, step, series))
    if f.match is not None:
        parts.append('"match": ' + _dict_text(f.match, inner, step))
    if f.days_late is not None:
        parts.append('"days_late": ' + _number(f.days_late))
    if f.due is not None:
        parts.append('"due": "' + f.due.isoformat() + '"')
    if f.price is not None:
        parts.append('"price": ' + _dict_text(f.price, inner, step))
    if f.inferred:
        parts.append('"inferred": ' + _list_text(f.inferred, inner, step))
    if f.chain is not None:
        parts.append('"chain": ' + _chain_text(f.chain, inner, step))
    parts.append('"message": ' + _string(f.message) + newline + "}")
    return comma.join(parts)


def _general(value: Any, newline: str, step: str, series: dict[int, list[str]] | None) -> str:
    parts: list[str] = []
    _indented(value, parts, newline, step, series)
    return "".join(parts)


def _number(value: int) -> str:
    return int.__repr__(value) if type(value) is int else _general(value, "", "", None)


def _list_text(items: list[str], newline: str, step: str) -> str:
    """A list of strings as `_indented` writes it at `newline`."""
    if not items:
        return "[]"
    if type(items) is list:
        text = _strings(items, newline + step)
        if text is not None:
            return text + newline + "]"
    return _general(list(items), newline, step, None)


def _dict_text(values: dict[str, str], newline: str, step: str) -> str:
    """A dict of strings as `_indented` writes it at `newline`."""
    if not values:
        return "{}"
    inner = newline + step
    try:
        return (
            "{" + inner
            + ("," + inner).join(_string(k) + ": " + _string(v) for k, v in values.items())
            + newline + "}"
        )  # fmt: skip
    except TypeError:  # a value that is not a string: the general writer says what it is
        return _general(dict(values), newline, step, None)


def _chain_text(chain: list[ChainLink], newline: str, step: str) -> str:
    if not chain:
        return "[]"
    inner = newline + step
    deeper = inner + step
    links = []
    for link in chain:
        text = (
            "{" + deeper + '"step": ' + _string(link.step) + "," + deeper + '"event": '
            + _string(link.event) + "," + deeper + '"date": "' + link.date.isoformat() + '"'
        )  # fmt: skip
        if link.days_after is not None:
            text += "," + deeper + '"days_after": ' + _number(link.days_after)
        links.append(text + inner + "}")
    return "[" + inner + ("," + inner).join(links) + newline + "]"


_LITERALS = {None: "null", True: "true", False: "false"}


def _indented(
    value: Any,
    parts: list[str],
    newline: str,
    step: str,
    series: dict[int, list[str]] | None = None,
) -> None:
    """`json.dumps(value, indent=len(step), ensure_ascii=False)` into `parts`.

    With an indent, json.dumps leaves its C encoder for a Python one built on nested
    generators (half a second for the tens of thousands of findings of a large log).
    This writes the same text, with what most values of a report are — strings,
    literals, lists of strings (a finding's events), empty containers — written where
    they are met rather than by a call each, and lists of strings joined in one call.
    `newline` is a line break followed by the current indentation. A `Series` is
    written one event a line, each series once however many findings share it (the
    lines kept in `series`, by identity).
    """
    if isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + step
        comma = "," + inner
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            kind = type(item)
            if kind is str:
                parts.append(separator + _string(key) + ": " + _string(item))
            elif item is None or kind is bool:
                parts.append(separator + _string(key) + ": " + _LITERALS[item])
            elif kind is list and item:
                text = _strings(item, inner + step)
                if text is None:
                    parts.append(separator + _string(key) + ": ")
                    _indented(item, parts, inner, step, series)
                else:
                    parts.append(separator + _string(key) + ": " + text + inner + "]")
            elif (kind is dict or kind is list) and not item:
                parts.append(separator + _string(key) + (": {}" if kind is dict else ": []"))
            else:
                parts.append(separator + _string(key) + ": ")
                _indented(item, parts, inner, step, series)
            separator = comma
        parts.append(newline + "}")
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, Series):
        if not value:
            parts.append("[]")
            return
        if series is None:
            series = {}
        lines = series.get(id(value))
        if lines is None:
            lines = series[id(value)] = value.json_lines()
        inner = newline + step
        parts.append("[" + inner + ("," + inner).join(lines) + newline + "]")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = newline + step
        text = _strings(value, inner)
        if text is not None:
            parts.append(text + newline + "]")
            return
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _indented(item, parts, inner, step, series)
            separator = "," + inner
        parts.append(newline + "]")
    elif value is None or isinstance(value, bool):
        parts.append(_LITERALS[value])
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        parts.append(json.dumps(value))
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _strings(items: list[Any] | tuple[Any, ...], inner: str) -> str | None:
    """A non-empty list of strings up to its closing line (`[` and one string a line, each
    after `inner`); None when some item is not a string (encode_basestring refuses it,
    or it is a str subclass, which json.dumps would also take as a string)."""
    try:
        return "[" + inner + ("," + inner).join(map(_string, items))
    except TypeError:
        return None
