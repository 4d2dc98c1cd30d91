"""Sufficient statistics of a KPI over one window, and the result of a comparison.

A KPI value is summarised per period × segment by a small frozen dataclass. Flows (counts,
sums), ratios (average check) and rates also carry their **daily totals** (:class:`Daily`)
when the engine provides them: real sales vary from day to day far more than chance, and
the tests estimate that extra variation from the days instead of assuming it away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Daily", "Counts", "Proportion", "Moments", "Sample", "RatioMoments", "Summary", "Change"]


@dataclass(frozen=True, eq=False)
class Daily:
    """Per-day totals over every day of a window (days without events hold zeros).

    ``x`` is the day's total of the KPI's numerator (events, amount, successes), ``n`` the
    day's events or trials (orders behind the amount, leads behind the conversions).

    >>> d = Daily.of(["2026-10-01", "2026-10-03"], [2.0, 5.0], [1, 2], start="2026-10-01", days=3)
    >>> d.x.tolist(), d.n.tolist()
    ([2.0, 0.0, 5.0], [1.0, 0.0, 2.0])
    """

    dates: np.ndarray  # datetime64[D]
    x: np.ndarray
    n: np.ndarray

    @classmethod
    def of(cls, dates: object, x: object, n: object, *, start: object, days: int) -> Daily:
        """Daily totals from (date, x, n) rows, zeros filled for the window's other days."""
        all_days = np.datetime64(str(start)[:10], "D") + np.arange(days)
        xs, ns = np.zeros(days), np.zeros(days)
        d = np.asarray(dates, dtype="datetime64[D]")
        if len(d):
            idx = (d - all_days[0]).astype(int)
            ok = (idx >= 0) & (idx < days)
            np.add.at(xs, idx[ok], np.asarray(x, float)[ok])
            np.add.at(ns, idx[ok], np.asarray(n, float)[ok])
        return cls(all_days, xs, ns)

    def __add__(self, other: Daily) -> Daily:
        if len(self.dates) == len(other.dates) and (self.dates == other.dates).all():
            return Daily(self.dates, self.x + other.x, self.n + other.n)
        days = np.union1d(self.dates, other.dates)
        x, n = np.zeros(len(days)), np.zeros(len(days))
        for part in (self, other):
            i = np.searchsorted(days, part.dates)
            x[i] += part.x
            n[i] += part.n
        return Daily(days, x, n)

    def head(self, days: int) -> Daily:
        return Daily(self.dates[:days], self.x[:days], self.n[:days])


def _add_daily(a: Daily | None, b: Daily | None) -> Daily | None:
    """Two summaries' daily totals added; None when either lacks them."""
    return a + b if a is not None and b is not None else None


@dataclass(frozen=True)
class Counts:
    """Events counted over ``exposure`` days (orders, new customers, leads …)."""

    count: float
    exposure: float
    daily: Daily | None = field(default=None, compare=False, repr=False)

    @property
    def value(self) -> float:
        return self.count

    @property
    def n(self) -> int:
        return int(self.count)

    def __add__(self, other: Counts) -> Counts:
        daily = _add_daily(self.daily, other.daily)
        return Counts(self.count + other.count, self.exposure, daily)


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``trials`` (conversion, win rate, return rate …)."""

    successes: float
    trials: float
    daily: Daily | None = field(default=None, compare=False, repr=False)  # x = successes, n = trials

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else math.nan

    @property
    def n(self) -> int:
        return int(self.trials)

    def __add__(self, other: Proportion) -> Proportion:
        daily = _add_daily(self.daily, other.daily)
        return Proportion(self.successes + other.successes, self.trials + other.trials, daily)


@dataclass(frozen=True)
class Moments:
    """n, Σx and Σx² of amounts over ``exposure`` days.

    ``value`` is the mean (``kind="mean"``) or the sum (``kind="sum"``).
    """

    n: float
    sum: float
    sum_sq: float
    exposure: float = math.nan
    kind: str = "sum"
    daily: Daily | None = field(default=None, compare=False, repr=False)  # x = amount, n = rows

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance (n − 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(self.sum_sq - self.n * self.mean**2, 0.0) / (self.n - 1)

    @property
    def value(self) -> float:
        return self.mean if self.kind == "mean" else self.sum

    def __add__(self, other: Moments) -> Moments:
        daily = _add_daily(self.daily, other.daily)
        return Moments(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq,
                       self.exposure, self.kind, daily)


@dataclass(frozen=True)
class Sample:
    """Raw values, for medians (sales-cycle days); ``clusters`` groups values that are alike
    (the day a deal closed), so the bootstrap resamples whole clusters."""

    values: tuple[float, ...] = field(default_factory=tuple)
    clusters: tuple[object, ...] | None = None

    @property
    def value(self) -> float:
        return float(np.median(self.values)) if self.values else math.nan

    @property
    def n(self) -> int:
        return len(self.values)

    def __add__(self, other: Sample) -> Sample:
        clusters = (self.clusters + other.clusters if self.clusters is not None and other.clusters is not None
                    else None)
        return Sample(self.values + other.values, clusters)


@dataclass(frozen=True)
class RatioMoments:
    """Per-row pairs (x, y) summarised: the KPI is Σx / Σy (a custom ratio KPI)."""

    n: float
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float
    daily: Daily | None = field(default=None, compare=False, repr=False)  # x = Σx, n = Σy per day

    @property
    def value(self) -> float:
        return self.sx / self.sy if self.sy else math.nan

    @property
    def var(self) -> float:
        """Delta-method variance of Σx/Σy (rows independent)."""
        if self.n < 2 or not self.sy:
            return math.nan
        n, r = self.n, self.value
        mx, my = self.sx / n, self.sy / n
        cxx = (self.sxx - n * mx * mx) / (n - 1)
        cyy = (self.syy - n * my * my) / (n - 1)
        cxy = (self.sxy - n * mx * my) / (n - 1)
        return max(cxx - 2 * r * cxy + r * r * cyy, 0.0) / (n * my * my)

    def __add__(self, other: RatioMoments) -> RatioMoments:
        return RatioMoments(self.n + other.n, self.sx + other.sx, self.sy + other.sy, self.sxx + other.sxx,
                            self.syy + other.syy, self.sxy + other.sxy, _add_daily(self.daily, other.daily))


Summary = Counts | Proportion | Moments | Sample | RatioMoments


@dataclass(frozen=True)
class Change:
    """A comparison: ``abs_change`` = current − baseline (baseline on the current calendar for
    flows). ``method`` names the test; ``dispersion`` is the day-to-day variation found, as a
    multiple of what chance alone would give (1 = none beyond chance)."""

    current: float
    baseline: float
    abs_change: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str = ""
    dispersion: float = math.nan

    @property
    def rel_change(self) -> float:
        return self.abs_change / abs(self.baseline) if self.baseline else math.nan
