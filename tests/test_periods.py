from datetime import date

from compliance.periods import Span, add_months, calendar_span, months_span


def test_calendar_spans() -> None:
    assert calendar_span("year", date(2019, 6, 10)) == Span(date(2019, 1, 1), date(2019, 12, 31))
    assert calendar_span("quarter", date(2019, 6, 30)) == Span(date(2019, 4, 1), date(2019, 6, 30))
    assert calendar_span("month", date(2020, 2, 10)) == Span(date(2020, 2, 1), date(2020, 2, 29))


def test_twelve_months_from_the_adoption_of_2397() -> None:
    anchor = date(2017, 12, 22)
    assert months_span(12, anchor, date(2018, 12, 21)) == Span(anchor, date(2018, 12, 21))
    assert months_span(12, anchor, date(2018, 12, 22)) == Span(
        date(2018, 12, 22), date(2019, 12, 21)
    )
    assert months_span(12, anchor, date(2017, 12, 21)).end == date(2017, 12, 21)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2019, 1, 31), 1) == date(2019, 2, 28)
    assert add_months(date(2019, 1, 31), 2) == date(2019, 3, 31)
    assert add_months(date(2019, 11, 30), -12) == date(2018, 11, 30)


def test_labels() -> None:
    assert Span(date(2019, 1, 1), date(2019, 12, 31)).label() == "2019"
    assert Span(date(2019, 4, 1), date(2019, 6, 30)).label() == "2019-Q2"
    assert Span(date(2019, 6, 1), date(2019, 6, 30)).label() == "June 2019"
    assert Span(date(2017, 10, 1), date(2017, 12, 31)).label() == "2017-Q4"
    assert Span(date(2017, 12, 22), date(2018, 12, 21)).label() == "2017-12-22 – 2018-12-21"
