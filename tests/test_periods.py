"""Periods: every accepted form, comparison periods, to-date cuts and fiscal years."""

from __future__ import annotations

from datetime import date

import pytest

from salesnb.periods import parse_period


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "days"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 10, 31), 31),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29), 29),  # leap year
        ("2025-02", "month", date(2025, 2, 1), date(2025, 2, 28), 28),
        ("2026-Q3", "quarter", date(2026, 7, 1), date(2026, 9, 30), 92),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 3, 31), 90),
        ("2024", "year", date(2024, 1, 1), date(2024, 12, 31), 366),
        ("2026-W42", "week", date(2026, 10, 12), date(2026, 10, 18), 7),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3), 7),  # ISO year with 53 weeks
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4), 7),  # week 1 starts in 2025
        ("2026-10-01..2026-10-15", "custom", date(2026, 10, 1), date(2026, 10, 15), 15),
        ("2024-12-30..2025-01-02", "custom", date(2024, 12, 30), date(2025, 1, 2), 4),
    ],
    ids=["month", "feb-leap", "feb", "quarter", "q1", "leap-year", "week", "week53",
         "week1", "range", "range-over-new-year"],
)
def test_parse(text: str, kind: str, start: date, end: date, days: int) -> None:
    p = parse_period(text)
    assert (p.kind, p.start, p.end, p.days) == (kind, start, end, days)
    assert parse_period(p.name) == p  # the name parses back to the same period


@pytest.mark.parametrize(
    ("text", "why"),
    [("2026-13", "month 13 does not exist"), ("2026-Q5", "unrecognised"),
     ("2025-W53", "ISO year 2025 has no week 53"), ("Oct 2026", "unrecognised"),
     ("2026-10-15..2026-10-01", "ends before it starts"), ("2026-02-30..2026-03-01", "day is out"),
     ("", "unrecognised")],
    ids=["month13", "q5", "w53-2025", "words", "reversed", "bad-day", "empty"],
)
def test_bad_period_lists_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        parse_period(text)
    assert "Accepted forms: '2026-10' (month), '2026-Q3' (quarter)" in str(info.value)
    assert "'2026-W42' (ISO week)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "previous", "last_year"),
    [
        ("2026-10", "2026-09", "2025-10"),
        ("2026-01", "2025-12", "2025-01"),  # previous crosses the year end
        ("2026-Q1", "2025-Q4", "2025-Q1"),
        ("2026", "2025", "2025"),
        ("2026-W42", "2026-W41", "2025-W42"),
        ("2026-W01", "2025-W52", "2025-W01"),
        # previous of week 1 is week 53; 52 weeks back from 2027-W01 lands on 2026-W02,
        # because 2026 has 53 ISO weeks
        ("2027-W01", "2026-W53", "2026-W02"),
        ("2026-10-01..2026-10-15", "2026-09-16..2026-09-30", "2025-10-01..2025-10-15"),
        ("2024-02-29..2024-03-01", "2024-02-27..2024-02-28", "2023-02-28..2023-03-01"),
    ],
    ids=["month", "january", "quarter", "year", "week", "week1", "week53", "range", "leap-day"],
)
def test_comparison_periods(text: str, previous: str, last_year: str) -> None:
    p = parse_period(text)
    assert p.previous().name == previous
    assert p.last_year().name == last_year


def test_week_53_last_year_is_52_weeks_back() -> None:
    p = parse_period("2026-W53")
    ly = p.last_year()
    assert (p.start - ly.start).days == 364
    # 2025 has 52 ISO weeks: 364 days before 2026-12-28 is Monday 2025-12-29, ISO 2026-W01
    assert (ly.name, ly.start, ly.end) == ("2026-W01", date(2025, 12, 29), date(2026, 1, 4))


def test_previous_has_same_length_for_custom_range() -> None:
    p = parse_period("2026-03-01..2026-03-31")
    assert p.previous().days == 31
    assert p.previous().end == date(2026, 2, 28)


def test_to_date_cuts_comparisons_to_same_length() -> None:
    p = parse_period("2026-10").to_date("2026-10-15")
    assert (p.start, p.end, p.days, p.is_cut) == (date(2026, 10, 1), date(2026, 10, 15), 15, True)
    assert (p.previous().start, p.previous().end) == (date(2026, 9, 1), date(2026, 9, 15))
    assert (p.last_year().start, p.last_year().end) == (date(2025, 10, 1), date(2025, 10, 15))
    assert p.label == "October 2026, 1–15 (to date)"
    assert not p.is_complete("2026-10-15")


def test_to_date_quarter_and_short_previous_month() -> None:
    q = parse_period("2026-Q3").to_date("2026-08-31")  # 62 days into the quarter
    assert q.days == 62
    assert (q.previous().start, q.previous().end) == (date(2026, 4, 1), date(2026, 6, 1))
    m = parse_period("2026-03").to_date("2026-03-30")  # February is shorter than 30 days
    assert m.previous().end == date(2026, 2, 28)


def test_to_date_of_finished_period_is_unchanged() -> None:
    p = parse_period("2026-09")
    assert p.to_date("2026-10-31") == p
    assert p.is_complete("2026-10-31")
    with pytest.raises(ValueError, match="starts on 2026-09-01, after as_of 2026-08-01"):
        p.to_date("2026-08-01")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("2026", date(2026, 4, 1), date(2027, 3, 31)),
     ("2026-Q1", date(2026, 4, 1), date(2026, 6, 30)),
     ("2026-Q4", date(2027, 1, 1), date(2027, 3, 31))],
    ids=["year", "q1", "q4"],
)
def test_fiscal_year_starting_in_april(text: str, start: date, end: date) -> None:
    p = parse_period(text, fiscal_year_start=4)
    assert (p.start, p.end) == (start, end)
    assert parse_period(p.name, fiscal_year_start=4) == p


def test_fiscal_comparisons_keep_fiscal_names() -> None:
    q1 = parse_period("2026-Q1", fiscal_year_start=4)
    assert q1.previous().name == "2025-Q4"
    assert q1.previous().start == date(2026, 1, 1)
    assert q1.last_year().name == "2025-Q1"
    assert parse_period("2026", fiscal_year_start=10).previous().start == date(2025, 10, 1)


def test_contains_uses_whole_days() -> None:
    import pandas as pd

    p = parse_period("2026-10")
    ts = pd.Series(pd.to_datetime(["2026-09-30 23:59", "2026-10-01 00:00", "2026-10-31 23:59",
                                   "2026-11-01 00:00"]))
    assert p.contains(ts).tolist() == [False, True, True, False]
