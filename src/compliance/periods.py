"""Period arithmetic on whole dates (boundaries inclusive)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Span", "add_months", "calendar_span", "months_span"]


@dataclass(frozen=True, order=True)
class Span:
    """A closed range of dates `[start, end]`."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def label(self) -> str:
        """Human wording for messages: `2019`, `2019-Q2`, `June 2019` or a date range."""
        s, e = self.start, self.end
        if (s.month, s.day, e.month, e.day) == (1, 1, 12, 31) and s.year == e.year:
            return str(s.year)
        if s.day == 1 and s.year == e.year and e == _month_end(e.year, e.month):
            if s.month == e.month:
                return f"{calendar.month_name[s.month]} {s.year}"
            if e.month - s.month == 2 and s.month % 3 == 1:
                return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        return f"{s.isoformat()} – {e.isoformat()}"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    """`day` moved by `months`, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def calendar_span(unit: str, day: date) -> Span:
    """The calendar year, quarter or month containing `day`."""
    if unit == "year":
        return Span(date(day.year, 1, 1), date(day.year, 12, 31))
    if unit == "quarter":
        first = 3 * ((day.month - 1) // 3) + 1
        return Span(date(day.year, first, 1), _month_end(day.year, first + 2))
    if unit == "month":
        return Span(date(day.year, day.month, 1), _month_end(day.year, day.month))
    raise ValueError(f"unknown calendar unit {unit!r}")


def months_span(months: int, anchor: date, day: date) -> Span:
    """The period of `months` consecutive months from `anchor` that contains `day`.

    Periods repeat both ways from the anchor: with 12 months from 2017-12-22 the periods
    are …, 2016-12-22 – 2017-12-21, 2017-12-22 – 2018-12-21, ….
    """
    elapsed = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    k = elapsed // months
    # The month estimate can be one period off near the anchor's day of month.
    while add_months(anchor, k * months) > day:
        k -= 1
    while add_months(anchor, (k + 1) * months) <= day:
        k += 1
    start = add_months(anchor, k * months)
    return Span(start, add_months(anchor, (k + 1) * months) - timedelta(days=1))
