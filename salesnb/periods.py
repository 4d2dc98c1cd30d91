"""Reporting periods: parse a period string, and find the periods to compare it with.

Accepted forms::

    2026-10                  month
    2026-Q3                  quarter (of the fiscal year)
    2026                     year (fiscal year)
    2026-W42                 ISO week
    2026-10-01..2026-10-15   custom range, both ends included

A fiscal year is named after the calendar year in which it *starts*: with
``fiscal_year_start=4`` the year ``2026`` runs 2026-04-01..2027-03-31 and ``2026-Q1`` is
April to June 2026. With the default ``fiscal_year_start=1`` quarters and years are the
calendar ones.

Examples
--------
>>> p = parse_period("2026-10")
>>> p.start, p.end, p.days
(datetime.date(2026, 10, 1), datetime.date(2026, 10, 31), 31)
>>> p.previous().name, p.last_year().name
('2026-09', '2025-10')
>>> cut = p.to_date("2026-10-15")
>>> cut.label, cut.previous().end, cut.last_year().end
('October 2026, 1–15 (to date)', datetime.date(2026, 9, 15), datetime.date(2025, 10, 15))
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd

__all__ = ["Period", "PeriodKind", "parse_period", "ACCEPTED_FORMS"]

PeriodKind = Literal["month", "quarter", "year", "week", "custom"]

ACCEPTED_FORMS = (
    "'2026-10' (month), '2026-Q3' (quarter), '2026' (year), '2026-W42' (ISO week), "
    "'2026-10-01..2026-10-15' (custom range, inclusive)"
)

MIN_YEAR, MAX_YEAR = 1900, 2200
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """(year, month) shifted by a number of months."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _minus_one_year(day: date) -> date:
    """The same calendar day a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _as_date(value: date | datetime | str | pd.Timestamp) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"as_of must be a date like '2026-10-15', got {value!r}") from None


@dataclass(frozen=True)
class Period:
    """A reporting period: a span of whole days, ``start`` and ``end`` both included.

    Build one with :func:`parse_period`. ``name`` is the string that parses back to it;
    ``label`` is for people. A period cut by :meth:`to_date` remembers its full span in
    ``full_end`` so that its comparison periods are cut to the same length.
    """

    kind: PeriodKind
    start: date
    end: date
    name: str
    fiscal_year_start: int = 1
    full_end: date | None = None

    @property
    def days(self) -> int:
        """Number of days in the period, both ends counted."""
        return (self.end - self.start).days + 1

    @property
    def is_cut(self) -> bool:
        """True for a period cut short by :meth:`to_date`."""
        return self.full_end is not None and self.full_end != self.end

    @property
    def label(self) -> str:
        """A human label, e.g. ``October 2026`` or ``2026-Q3 (Jul–Sep 2026)``; in the report's
        language (:mod:`salesnb.texts`)."""
        from salesnb import texts

        if texts.language() != "en":
            return texts.period_label(self)
        if self.kind == "month":
            text = f"{calendar.month_name[self.start.month]} {self.start.year}"
        elif self.kind == "quarter":
            text = f"{self.name} ({self.start:%b}–{self._full_end:%b %Y})"
        elif self.kind == "year":
            text = self.name if self.fiscal_year_start == 1 else (
                f"FY{self.name} ({self.start:%b %Y}–{self._full_end:%b %Y})"
            )
        elif self.kind == "week":
            text = f"{self.name} ({self.start:%d %b}–{self._full_end:%d %b %Y})"
        else:
            text = f"{self.start:%d %b %Y}–{self.end:%d %b %Y}"
        if self.is_cut:
            if self.kind == "month":
                text += f", 1–{self.end.day} (to date)"
            else:
                text += f", to {self.end:%d %b %Y} (to date)"
        return text

    @property
    def _full_end(self) -> date:
        return self.full_end or self.end

    @property
    def start_ts(self) -> pd.Timestamp:
        """First instant of the period, for filtering timestamps: ``start_ts <= t < end_ts``."""
        return pd.Timestamp(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        """First instant *after* the period (exclusive bound)."""
        return pd.Timestamp(self.end + timedelta(days=1))

    def contains(self, values: pd.Series) -> pd.Series:
        """Boolean mask of timestamps that fall inside the period."""
        return (values >= self.start_ts) & (values < self.end_ts)

    def _full(self) -> Period:
        return replace(self, end=self._full_end, full_end=None)

    def _cut_like(self, other: Period) -> Period:
        """``other`` cut to this period's length, when this period is cut."""
        if not self.is_cut:
            return other
        end = min(other.start + timedelta(days=self.days - 1), other.end)
        return replace(other, end=end, full_end=other.end)

    def previous(self) -> Period:
        """The period of the same kind and length right before this one.

        A month's previous period is the previous calendar month (likewise quarters, years
        and weeks); a custom range's is the same number of days right before it.
        """
        full = self._full()
        if full.kind in ("month", "quarter", "year"):
            months = {"month": 1, "quarter": 3, "year": 12}[full.kind]
            y, m = _add_months(full.start.year, full.start.month, -months)
            start = date(y, m, 1)
            ey, em = _add_months(y, m, months - 1)
            prev = _named(full.kind, start, _month_end(ey, em), full.fiscal_year_start)
        elif full.kind == "week":
            start = full.start - timedelta(days=7)
            prev = _named("week", start, start + timedelta(days=6), full.fiscal_year_start)
        else:
            end = full.start - timedelta(days=1)
            prev = _named("custom", end - timedelta(days=full.days - 1), end,
                          full.fiscal_year_start)
        return self._cut_like(prev)

    def last_year(self) -> Period:
        """The same calendar span one year earlier; ISO weeks go 52 weeks (364 days) back."""
        full = self._full()
        if full.kind == "week":
            start = full.start - timedelta(days=364)
            ly = _named("week", start, start + timedelta(days=6), full.fiscal_year_start)
        elif full.kind in ("month", "quarter", "year"):
            start = date(full.start.year - 1, full.start.month, 1)
            ly = _named(full.kind, start, _month_end(full.end.year - 1, full.end.month),
                        full.fiscal_year_start)
        else:
            ly = _named("custom", _minus_one_year(full.start), _minus_one_year(full.end),
                        full.fiscal_year_start)
        return self._cut_like(ly)

    def to_date(self, as_of: date | datetime | str | pd.Timestamp) -> Period:
        """The period cut at ``as_of`` (inclusive) when ``as_of`` falls inside it.

        Its :meth:`previous` and :meth:`last_year` are then cut to the same number of days,
        so that an incomplete period is compared like for like. A period that ended by
        ``as_of`` is returned unchanged; one that starts after ``as_of`` raises.
        """
        day = _as_date(as_of)
        if day < self.start:
            raise ValueError(f"period {self.name} starts on {self.start}, after as_of {day}")
        if day >= self._full_end:
            return self._full()
        return replace(self, end=day, full_end=self._full_end)

    def is_complete(self, as_of: date | datetime | str | pd.Timestamp) -> bool:
        """True when the whole period lies on or before ``as_of``."""
        return not self.is_cut and _as_date(as_of) >= self.end

    def __str__(self) -> str:
        return self.name


def _fiscal_year_of(start: date, fiscal_year_start: int) -> int:
    return start.year if start.month >= fiscal_year_start else start.year - 1


def _named(kind: PeriodKind, start: date, end: date, fiscal_year_start: int) -> Period:
    """A period with its canonical name derived from its span."""
    if kind == "month":
        name = f"{start.year}-{start.month:02d}"
    elif kind == "quarter":
        fy = _fiscal_year_of(start, fiscal_year_start)
        offset = (start.year * 12 + start.month - 1) - (fy * 12 + fiscal_year_start - 1)
        name = f"{fy}-Q{offset // 3 + 1}"
    elif kind == "year":
        name = str(_fiscal_year_of(start, fiscal_year_start))
    elif kind == "week":
        iso = start.isocalendar()
        name = f"{iso.year}-W{iso.week:02d}"
    else:
        name = f"{start.isoformat()}..{end.isoformat()}"
    return Period(kind, start, end, name, fiscal_year_start)


def parse_period(text: str | Period, *, fiscal_year_start: int = 1) -> Period:
    """Parse a period string.

    Parameters
    ----------
    text
        ``2026-10``, ``2026-Q3``, ``2026``, ``2026-W42`` or ``2026-10-01..2026-10-15``.
    fiscal_year_start
        Month (1–12) in which the fiscal year starts; shifts quarters and years.

    Returns
    -------
    Period

    Raises
    ------
    ValueError
        When the string is none of the accepted forms, or names a day, month, quarter or
        week that does not exist; the message lists the accepted forms.

    Examples
    --------
    >>> parse_period("2026-Q3").end
    datetime.date(2026, 9, 30)
    >>> parse_period("2026-Q1", fiscal_year_start=4).start
    datetime.date(2026, 4, 1)
    >>> parse_period("2026-W53").start
    datetime.date(2026, 12, 28)
    >>> parse_period("2026-13")
    Traceback (most recent call last):
    ...
    ValueError: '2026-13' is not a period: month 13 does not exist. Accepted forms: ...
    >>> parse_period("9999-W52")
    Traceback (most recent call last):
    ...
    ValueError: '9999-W52' is not a period: years 1900–2200 only. Accepted forms: ...
    """
    if isinstance(text, Period):
        return text
    if not 1 <= int(fiscal_year_start) <= 12:
        raise ValueError(f"fiscal_year_start must be a month 1–12, got {fiscal_year_start!r}")
    fys = int(fiscal_year_start)
    raw = str(text).strip()

    def bad(why: str) -> ValueError:
        return ValueError(f"{raw!r} is not a period: {why}. Accepted forms: {ACCEPTED_FORMS}")

    # the years a report can mean: beyond them dates overflow (9999-W52's next week) and a
    # name such as '0001-01' does not print back as itself
    if any(not MIN_YEAR <= int(y) <= MAX_YEAR for y in re.findall(r"\d{4,}", raw)):
        raise bad(f"years {MIN_YEAR}–{MAX_YEAR} only")
    if m := _MONTH.match(raw):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise bad(f"month {month} does not exist")
        return _named("month", date(year, month, 1), _month_end(year, month), fys)
    if m := _QUARTER.match(raw):
        fy, q = int(m[1]), int(m[2])
        y, mo = _add_months(fy, fys, 3 * (q - 1))
        ey, em = _add_months(y, mo, 2)
        return _named("quarter", date(y, mo, 1), _month_end(ey, em), fys)
    if m := _YEAR.match(raw):
        fy = int(m[1])
        ey, em = _add_months(fy, fys, 11)
        return _named("year", date(fy, fys, 1), _month_end(ey, em), fys)
    if m := _WEEK.match(raw):
        year, week = int(m[1]), int(m[2])
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise bad(f"ISO year {year} has no week {week}") from None
        return _named("week", start, start + timedelta(days=6), fys)
    if m := _RANGE.match(raw):
        try:
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        except ValueError as exc:
            raise bad(str(exc)) from None
        if end < start:
            raise bad("the range ends before it starts")
        return _named("custom", start, end, fys)
    raise bad("unrecognised form")
