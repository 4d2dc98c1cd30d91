"""The calendar a sales team works on: weekdays and public holidays.

Real sales follow the week (shops close, B2B rests at weekends) and dip on holidays. The
flow tests put weekday and holiday terms in their model, and targets of an open period are
prorated by the same profile, so a month with one more weekend is not read as a drop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

__all__ = ["Calendar", "calendar_of", "weekday", "day_weights"]


@dataclass(frozen=True)
class Calendar:
    """Public holidays (a set of dates); weekdays come from the dates themselves.

    >>> cal = calendar_of("RU", years=[2026])
    >>> cal.is_holiday(np.array(["2026-01-07", "2026-01-12"], dtype="datetime64[D]")).tolist()
    [True, False]
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str = ""

    def is_holiday(self, dates: np.ndarray) -> np.ndarray:
        if not self.holidays:
            return np.zeros(len(dates), bool)
        return np.isin(np.asarray(dates, dtype="datetime64[D]"), self._days)

    @cached_property
    def _days(self) -> np.ndarray:
        # sorted once: a page asks hundreds of times, over 41 years of holidays
        return np.array(sorted(self.holidays), dtype="datetime64[D]")

    def describe(self) -> str:
        return f"{self.country} public holidays" if self.country else (
            f"{len(self.holidays)} holidays" if self.holidays else "no holidays")


def weekday(dates: np.ndarray) -> np.ndarray:
    """0 = Monday … 6 = Sunday (1970-01-01 was a Thursday)."""
    return (np.asarray(dates, dtype="datetime64[D]").astype(np.int64) + 3) % 7


def day_weights(dates: np.ndarray, profile: np.ndarray, calendar: Calendar) -> np.ndarray:
    """Each day's weight from a weekday profile (Monday first, holidays at index 7).

    >>> day_weights(np.array(["2026-01-07", "2026-01-12"], dtype="datetime64[D]"),
    ...             np.arange(8.0), calendar_of("RU", years=[2026])).tolist()
    [7.0, 0.0]
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    return np.where(calendar.is_holiday(d), profile[7], np.asarray(profile)[weekday(d)])


def calendar_of(spec: str | Sequence[str] | Calendar | None, years: Iterable[int] = range(2000, 2041)) -> Calendar:
    """A calendar from params: a country code (``RU``, ``US``, ``DE`` …, from the
    ``holidays`` package), a list of dates (``["2026-01-01", …]``), or nothing."""
    if isinstance(spec, Calendar):
        return spec
    if spec is None or spec == "" or spec == []:
        return Calendar()
    if isinstance(spec, str):
        import holidays

        try:
            h = holidays.country_holidays(spec.upper(), years=list(years))
        except NotImplementedError as exc:
            raise ValueError(f"holidays: unknown country code {spec!r} (use an ISO code such as RU, US, DE, "
                             f"or a list of dates)") from exc
        return Calendar(frozenset(h), spec.upper())
    out = set()
    for d in spec:
        try:
            out.add(date.fromisoformat(str(d)[:10]))
        except ValueError as exc:
            raise ValueError(f"holidays: {d!r} is not a date (YYYY-MM-DD)") from exc
    return Calendar(frozenset(out))
