"""Statistics on sufficient statistics: one test per KPI kind, each from statsmodels/scipy.

A KPI value is summarised per period × segment by a small frozen dataclass (``Counts``,
``Proportion``, ``Moments``, ``Sample``, ``RatioMoments``); :func:`two_sample` compares a
current summary with a baseline one, :func:`against_value` compares it with a fixed target.
Both return a :class:`Change` with the absolute change, its interval and a p-value.

Methods, so that any two correct implementations agree:

- counts: statsmodels ``test_poisson_2indep`` / ``confint_poisson_2indep`` with their
  defaults (score test and interval of the rate ratio), exposure = days in each period;
- proportions: statsmodels ``test_proportions_2indep`` / ``confint_proportions_2indep``
  with their defaults (Agresti–Caffo test, Newcombe interval of the difference);
- means: Welch's t-test from n, Σx, Σx² (``scipy.stats.ttest_ind_from_stats``, equal to
  ``ttest_ind(equal_var=False)`` on the raw rows) and its Welch–Satterthwaite interval;
- sums: a compound-Poisson z-test. A sum S of amounts arriving as a Poisson process over
  e days has Var(S) = λ·e·E[X²], estimated by Σx². The daily rates S/e are compared:
  d = S₁/e₁ − S₀/e₀, Var(d) = Σx²₁/e₁² + Σx²₀/e₀², z = d/√Var(d) (normal reference);
- medians: a bootstrap of the difference (scipy ``bootstrap``, percentile, 2,000
  resamples, fixed seed): its interval, and as p-value twice the share of resampled
  differences on the far side of zero;
- ratios of two sums over the same rows: the delta method on n, Σx, Σy, Σx², Σy², Σxy.

Flows (counts and sums) are compared per day: the baseline is scaled to the current
period's length (``baseline × e₁/e₀``), so a 31-day month is not flattered against a
30-day one; the absolute change and its interval are in current-period units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)
from statsmodels.stats.rates import (
    confint_poisson,
    confint_poisson_2indep,
    test_poisson,
    test_poisson_2indep,
)

__all__ = ["Counts", "Proportion", "Moments", "Sample", "RatioMoments", "Summary",
           "Change", "two_sample", "against_value", "bh_qvalues", "BOOTSTRAP_SEED"]

BOOTSTRAP_SEED = 20261031
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Counts:
    """Events counted over ``exposure`` days (orders, new customers, leads …)."""

    count: float
    exposure: float

    @property
    def value(self) -> float:
        return self.count

    @property
    def n(self) -> int:
        return int(self.count)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.count + other.count, self.exposure)


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``trials`` (conversion, win rate, return rate …)."""

    successes: float
    trials: float

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else math.nan

    @property
    def n(self) -> int:
        return int(self.trials)

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.successes + other.successes, self.trials + other.trials)


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
        return Moments(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq,
                       self.exposure, self.kind)


@dataclass(frozen=True)
class Sample:
    """Raw values, for medians (sales-cycle days)."""

    values: tuple[float, ...] = field(default_factory=tuple)

    @property
    def value(self) -> float:
        return float(np.median(self.values)) if self.values else math.nan

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class RatioMoments:
    """Per-row pairs (x, y) summarised: the KPI is Σx / Σy (a custom ratio KPI)."""

    n: float
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float

    @property
    def value(self) -> float:
        return self.sx / self.sy if self.sy else math.nan

    @property
    def var(self) -> float:
        """Delta-method variance of Σx/Σy."""
        if self.n < 2 or not self.sy:
            return math.nan
        n, r = self.n, self.value
        mx, my = self.sx / n, self.sy / n
        cxx = (self.sxx - n * mx * mx) / (n - 1)
        cyy = (self.syy - n * my * my) / (n - 1)
        cxy = (self.sxy - n * mx * my) / (n - 1)
        return max(cxx - 2 * r * cxy + r * r * cyy, 0.0) / (n * my * my)


Summary = Counts | Proportion | Moments | Sample | RatioMoments


@dataclass(frozen=True)
class Change:
    """A comparison: ``abs_change`` = current − baseline (scaled baseline for flows)."""

    current: float
    baseline: float
    abs_change: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def rel_change(self) -> float:
        return self.abs_change / abs(self.baseline) if self.baseline else math.nan


_NAN = Change(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)


def _z(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


def two_sample(current: Summary, baseline: Summary, *, alpha: float = 0.05) -> Change:
    """Compare a current summary with a baseline summary of the same kind.

    Examples
    --------
    >>> r = two_sample(Proportion(30, 100), Proportion(20, 100))
    >>> round(r.abs_change, 2), round(r.p_value, 3)
    (0.1, 0.106)
    """
    if type(current) is not type(baseline):
        raise TypeError("current and baseline summaries must be of the same kind")
    if isinstance(current, Counts) and isinstance(baseline, Counts):
        return _counts(current, baseline, alpha)
    if isinstance(current, Proportion) and isinstance(baseline, Proportion):
        return _proportions(current, baseline, alpha)
    if isinstance(current, Moments) and isinstance(baseline, Moments):
        return _welch(current, baseline, alpha) if current.kind == "mean" else _sums(current, baseline, alpha)
    if isinstance(current, Sample) and isinstance(baseline, Sample):
        return _medians(current, baseline, alpha)
    if isinstance(current, RatioMoments) and isinstance(baseline, RatioMoments):
        return _ratios(current, baseline, alpha)
    raise TypeError(f"no test for {type(current).__name__}")


def _counts(c: Counts, b: Counts, alpha: float) -> Change:
    scale = c.exposure / b.exposure
    base = b.count * scale
    if c.count + b.count == 0:
        return Change(c.count, base, 0.0, math.nan, math.nan, math.nan)
    p = test_poisson_2indep(c.count, c.exposure, b.count, b.exposure).pvalue
    if b.count == 0:
        return Change(c.count, base, c.count - base, math.nan, math.nan, float(p))
    low, high = confint_poisson_2indep(c.count, c.exposure, b.count, b.exposure, alpha=alpha)
    return Change(c.count, base, c.count - base, base * (low - 1), base * (high - 1), float(p))


def _proportions(c: Proportion, b: Proportion, alpha: float) -> Change:
    degenerate = (c.successes + b.successes == 0) or (c.successes == c.trials and b.successes == b.trials)
    if not c.trials or not b.trials or degenerate:  # no variation to test: no verdict
        return Change(c.value, b.value, c.value - b.value, math.nan, math.nan, math.nan)
    # statsmodels also works out the ratio and odds ratio, which divide by zero when one
    # side has no successes; the difference tested here is well defined
    with np.errstate(divide="ignore", invalid="ignore"):
        p = test_proportions_2indep(c.successes, c.trials, b.successes, b.trials).pvalue
        low, high = confint_proportions_2indep(c.successes, c.trials, b.successes, b.trials, alpha=alpha)
    return Change(c.value, b.value, c.value - b.value, float(low), float(high), float(p))


def _welch(c: Moments, b: Moments, alpha: float) -> Change:
    diff = c.mean - b.mean
    if c.n < 2 or b.n < 2:
        return Change(c.mean, b.mean, diff, math.nan, math.nan, math.nan)
    v1, v0 = c.var / c.n, b.var / b.n
    se = math.sqrt(v1 + v0)
    if se == 0:
        return Change(c.mean, b.mean, diff, diff, diff, 1.0 if diff == 0 else 0.0)
    p = sps.ttest_ind_from_stats(c.mean, math.sqrt(c.var), c.n, b.mean, math.sqrt(b.var), b.n,
                                 equal_var=False).pvalue
    df = (v1 + v0) ** 2 / (v1**2 / (c.n - 1) + v0**2 / (b.n - 1))
    t = float(sps.t.ppf(1 - alpha / 2, df))
    return Change(c.mean, b.mean, diff, diff - t * se, diff + t * se, float(p))


def _sums(c: Moments, b: Moments, alpha: float) -> Change:
    scale = c.exposure / b.exposure
    base = b.sum * scale
    d = c.sum / c.exposure - b.sum / b.exposure  # difference of daily rates
    var = c.sum_sq / c.exposure**2 + b.sum_sq / b.exposure**2
    if var <= 0:
        return Change(c.sum, base, c.sum - base, math.nan, math.nan, math.nan)
    se = math.sqrt(var)
    p = 2 * sps.norm.sf(abs(d) / se)
    z = _z(alpha)
    return Change(c.sum, base, c.sum - base, (d - z * se) * c.exposure,
                      (d + z * se) * c.exposure, float(p))


def _medians(c: Sample, b: Sample, alpha: float) -> Change:
    diff = c.value - b.value
    if c.n < 2 or b.n < 2:
        return Change(c.value, b.value, diff, math.nan, math.nan, math.nan)
    x, y = np.asarray(c.values, float), np.asarray(b.values, float)

    def stat(a: np.ndarray, z: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(a, axis=axis) - np.median(z, axis=axis)

    boot = sps.bootstrap((x, y), stat, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                         confidence_level=1 - alpha, vectorized=True,
                         rng=np.random.default_rng(BOOTSTRAP_SEED))
    # two-sided bootstrap p-value: the share of resampled differences on the far side of 0,
    # doubled (the inversion of the percentile interval)
    dist = boot.bootstrap_distribution
    p = min(1.0, 2 * min(float((dist <= 0).mean()), float((dist >= 0).mean())))
    low, high = boot.confidence_interval
    return Change(c.value, b.value, diff, float(low), float(high), p)


def _ratios(c: RatioMoments, b: RatioMoments, alpha: float) -> Change:
    diff = c.value - b.value
    var = c.var + b.var
    if not var or math.isnan(var):
        return Change(c.value, b.value, diff, math.nan, math.nan, math.nan)
    se = math.sqrt(var)
    z = _z(alpha)
    return Change(c.value, b.value, diff, diff - z * se, diff + z * se,
                      float(2 * sps.norm.sf(abs(diff) / se)))


def against_value(current: Summary, target: float, *, alpha: float = 0.05) -> Change:
    """Compare a current summary with a fixed target value (one-sample tests).

    Counts: statsmodels ``test_poisson`` (mid-p exact) with the target as the expected
    count and the exact (Garwood) interval of the count; proportions: the Wilson interval
    and scipy's exact binomial test; means: a one-sample t-test; sums: the compound-Poisson
    z (Var = Σx²); medians: the bootstrap interval of the median and a sign test.
    """
    value = current.value
    diff = value - target
    if math.isnan(value):
        return Change(value, target, diff, math.nan, math.nan, math.nan)
    if isinstance(current, Counts):
        if target <= 0:
            return Change(value, target, diff, math.nan, math.nan, math.nan)
        p = test_poisson(current.count, 1, target, method="midp-c").pvalue
        low, high = confint_poisson(current.count, 1, method="exact-c", alpha=alpha)
        return Change(value, target, diff, low - target, high - target, float(p))
    if isinstance(current, Proportion):
        if not current.trials:
            return Change(value, target, diff, math.nan, math.nan, math.nan)
        low, high = proportion_confint(current.successes, current.trials, alpha=alpha, method="wilson")
        p = sps.binomtest(int(current.successes), int(current.trials), min(max(target, 0), 1)).pvalue
        return Change(value, target, diff, low - target, high - target, float(p))
    if isinstance(current, Moments):
        if current.kind == "mean":
            if current.n < 2:
                return Change(value, target, diff, math.nan, math.nan, math.nan)
            se = math.sqrt(current.var / current.n)
            df = current.n - 1
            p = 2 * sps.t.sf(abs(diff) / se, df) if se else float(diff != 0)
            t = float(sps.t.ppf(1 - alpha / 2, df))
            return Change(value, target, diff, diff - t * se, diff + t * se, float(p))
        se = math.sqrt(current.sum_sq)
        if not se:
            return Change(value, target, diff, math.nan, math.nan, math.nan)
        z = _z(alpha)
        return Change(value, target, diff, diff - z * se, diff + z * se,
                          float(2 * sps.norm.sf(abs(diff) / se)))
    if isinstance(current, Sample):
        x = np.asarray(current.values, float)
        if len(x) < 2:
            return Change(value, target, diff, math.nan, math.nan, math.nan)
        boot = sps.bootstrap((x,), np.median, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                             confidence_level=1 - alpha, rng=np.random.default_rng(BOOTSTRAP_SEED))
        above, below = int((x > target).sum()), int((x < target).sum())
        p = sps.binomtest(above, above + below, 0.5).pvalue if above + below else 1.0
        low, high = boot.confidence_interval
        return Change(value, target, diff, float(low) - target, float(high) - target, float(p))
    if isinstance(current, RatioMoments):
        se = math.sqrt(current.var) if current.var == current.var else math.nan
        if not se or math.isnan(se):
            return Change(value, target, diff, math.nan, math.nan, math.nan)
        z = _z(alpha)
        return Change(value, target, diff, diff - z * se, diff + z * se,
                          float(2 * sps.norm.sf(abs(diff) / se)))
    raise TypeError(f"no test for {type(current).__name__}")


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (statsmodels ``fdr_bh``); NaN stays NaN."""
    p = np.asarray(p_values, float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q
