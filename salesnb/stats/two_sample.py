"""Two-window comparisons and target attainment, one method per KPI kind.

With daily totals (what the engine provides for every built-in KPI):

- counts and sums: quasi-Poisson regression on daily totals with weekday and holiday terms
  (:mod:`salesnb.stats.flows`);
- proportions (conversion, win rate, return rate, stage conversion): the Agresti–Caffo test
  and Newcombe interval of the difference (statsmodels), widened by the between-day
  dispersion φ = Pearson χ²/df of the daily cells around each window's rate (quasi-binomial,
  φ ≥ 1), with a t reference;
- means and ratios (average check): the ratio estimator Σamount/Σorders with day-clustered
  (cluster-robust) standard errors, so one day's orders that are alike count as one day;
  Welch–Satterthwaite degrees of freedom over the days;
- medians (sales cycle): a bootstrap that resamples whole days (clusters).

Without daily totals (a summary built by hand), the row-independent tests: Poisson rate
ratio, Agresti–Caffo, Welch, compound-Poisson z, delta method, ordinary bootstrap.

Targets are a manager's number, not a sample: :func:`attainment` reports actual ÷ target,
prorated while the period is open, and no p-value.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np

from salesnb.stats.calendar import Calendar
from salesnb.stats.flows import daily_flow_change
from salesnb.stats.summaries import Change, Counts, Daily, Moments, Proportion, RatioMoments, Sample, Summary

__all__ = ["two_sample", "attainment", "bh_qvalues", "cluster_ratio_var", "binomial_dispersion",
           "BOOTSTRAP_SEED", "BOOTSTRAP_RESAMPLES"]

BOOTSTRAP_SEED = 20261031
BOOTSTRAP_RESAMPLES = 2000
_NAN = math.nan


def _z(alpha: float) -> float:
    from scipy import stats as sps
    return float(sps.norm.ppf(1 - alpha / 2))


def two_sample(current: Summary, baseline: Summary, *, alpha: float = 0.05,
               calendar: Calendar | None = None, basis: Literal["days", "months"] = "days") -> Change:
    """Compare a current summary with a baseline summary of the same kind.

    ``basis`` applies to flows (counts, sums): ``days`` puts the baseline on the current
    window's calendar, ``months`` compares the totals as they are.

    Examples
    --------
    >>> r = two_sample(Proportion(30, 100), Proportion(20, 100))
    >>> round(r.abs_change, 2), round(r.p_value, 3)
    (0.1, 0.106)
    """
    if type(current) is not type(baseline):
        raise TypeError("current and baseline summaries must be of the same kind")
    daily = getattr(current, "daily", None) is not None and getattr(baseline, "daily", None) is not None
    if basis == "months" and isinstance(baseline, Counts | Moments) and not daily:
        baseline = replace(baseline, exposure=current.exposure)  # type: ignore[union-attr]
    if isinstance(current, Counts) and isinstance(baseline, Counts):
        if daily:
            assert current.daily is not None and baseline.daily is not None
            return daily_flow_change(current.daily, baseline.daily, calendar=calendar, alpha=alpha, count=True,
                                     basis=basis)
        return _counts(current, baseline, alpha)
    if isinstance(current, Proportion) and isinstance(baseline, Proportion):
        return _proportions(current, baseline, alpha)
    if isinstance(current, Moments) and isinstance(baseline, Moments):
        if current.kind == "mean":
            return _cluster_ratio(current.daily, baseline.daily, alpha) if daily else _welch(current, baseline, alpha)
        if daily:
            assert current.daily is not None and baseline.daily is not None
            r = daily_flow_change(current.daily, baseline.daily, calendar=calendar, alpha=alpha, count=False,
                                  basis=basis)
            # φ of a sum is in money units; compound Poisson alone would give E[X²]/E[X]
            ss, s, n = current.sum_sq + baseline.sum_sq, current.sum + baseline.sum, current.n + baseline.n
            disp = r.dispersion / (ss * n / s**2) if s > 0 and ss > 0 else _NAN
            return Change(r.current, r.baseline, r.abs_change, r.ci_low, r.ci_high, r.p_value, r.method, disp)
        return _sums(current, baseline, alpha)
    if isinstance(current, Sample) and isinstance(baseline, Sample):
        return _medians(current, baseline, alpha)
    if isinstance(current, RatioMoments) and isinstance(baseline, RatioMoments):
        return _cluster_ratio(current.daily, baseline.daily, alpha) if daily else _ratios(current, baseline, alpha)
    raise TypeError(f"no test for {type(current).__name__}")


# -- counts and sums without daily totals ------------------------------------------------

def _counts(c: Counts, b: Counts, alpha: float) -> Change:
    from statsmodels.stats.rates import confint_poisson_2indep, test_poisson_2indep
    scale = c.exposure / b.exposure
    base = b.count * scale
    if c.count + b.count == 0:
        return Change(c.count, base, 0.0, _NAN, _NAN, _NAN, "Poisson")
    p = test_poisson_2indep(c.count, c.exposure, b.count, b.exposure).pvalue
    if b.count == 0:
        return Change(c.count, base, c.count - base, _NAN, _NAN, float(p), "Poisson")
    low, high = confint_poisson_2indep(c.count, c.exposure, b.count, b.exposure, alpha=alpha)
    return Change(c.count, base, c.count - base, base * (low - 1), base * (high - 1), float(p), "Poisson", 1.0)


def _sums(c: Moments, b: Moments, alpha: float) -> Change:
    from scipy import stats as sps
    base = b.sum * c.exposure / b.exposure
    d = c.sum / c.exposure - b.sum / b.exposure  # difference of daily rates
    var = c.sum_sq / c.exposure**2 + b.sum_sq / b.exposure**2
    if var <= 0:
        return Change(c.sum, base, c.sum - base, _NAN, _NAN, _NAN, "compound Poisson")
    se = math.sqrt(var)
    z = _z(alpha)
    return Change(c.sum, base, c.sum - base, (d - z * se) * c.exposure, (d + z * se) * c.exposure,
                  float(2 * sps.norm.sf(abs(d) / se)), "compound Poisson", 1.0)


# -- proportions ---------------------------------------------------------------------------

def binomial_dispersion(*dailies: Daily) -> tuple[float, int]:
    """(φ, df): how much more a rate varies than binomial chance, from daily cells.

    φ = (Σ cluster-robust variances) ÷ (Σ binomial variances) of each window's rate, with
    days as clusters (:func:`cluster_ratio_var`), never below 1; df by Welch–Satterthwaite
    over the days. Busy days weigh as much as their trials, which a Pearson χ² over days
    would not.
    """
    robust, binom, parts = 0.0, 0.0, []
    for d in dailies:
        p, v, g = cluster_ratio_var(d)
        total = float(d.n.sum())
        if math.isnan(v) or total <= 0 or p <= 0 or p >= 1:
            return 1.0, 0
        robust += v
        binom += p * (1 - p) / total
        parts.append((v, g))
    if binom <= 0:
        return 1.0, 0
    df = robust**2 / sum(v * v / (g - 1) for v, g in parts)
    return max(1.0, robust / binom), int(df)


def _proportions(c: Proportion, b: Proportion, alpha: float) -> Change:
    from scipy import stats as sps
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep
    degenerate = (c.successes + b.successes == 0) or (c.successes == c.trials and b.successes == b.trials)
    if not c.trials or not b.trials or degenerate:  # no variation to test: no verdict
        return Change(c.value, b.value, c.value - b.value, _NAN, _NAN, _NAN, "Agresti–Caffo")
    diff = c.value - b.value
    # statsmodels also works out the ratio and odds ratio, which divide by zero when one
    # side has no successes; the difference tested here is well defined
    with np.errstate(divide="ignore", invalid="ignore"):
        test = test_proportions_2indep(c.successes, c.trials, b.successes, b.trials)
    phi, df = (binomial_dispersion(c.daily, b.daily) if c.daily is not None and b.daily is not None
               else (1.0, 0))
    if phi <= 1.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = confint_proportions_2indep(c.successes, c.trials, b.successes, b.trials, alpha=alpha)
        return Change(c.value, b.value, diff, float(low), float(high), float(test.pvalue), "Agresti–Caffo", 1.0)
    # quasi-binomial: the variance is φ times the binomial one; t reference on the days' df
    t = float(sps.t.ppf(1 - alpha / 2, df))
    level = 2 * float(sps.norm.sf(t * math.sqrt(phi)))  # the Newcombe level whose half-width is t·√φ·se
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = confint_proportions_2indep(c.successes, c.trials, b.successes, b.trials,
                                               alpha=min(max(level, 1e-12), 0.5))
    p = float(2 * sps.t.sf(abs(float(test.statistic)) / math.sqrt(phi), df))
    return Change(c.value, b.value, diff, float(low), float(high), p, "quasi-binomial", phi)


# -- means and ratios ----------------------------------------------------------------------

def cluster_ratio_var(d: Daily) -> tuple[float, float, int]:
    """(ratio, variance, clusters) of Σx/Σn with days as clusters: the delete-one-day
    jackknife, Var = (G−1)/G · Σ_d (r₍₋d₎ − r̄)², over the G days with any rows.

    The jackknife is the cluster-robust variance with its small-sample correction (CR3):
    the plain sandwich understates the variance with a month's 30 clusters.
    """
    ok = d.n > 0
    g = int(ok.sum())
    x, n = d.x[ok], d.n[ok]
    total = float(n.sum())
    if g < 2 or total <= 0:
        return _NAN, _NAN, g
    r = float(x.sum()) / total
    rest = total - n
    if (rest <= 0).any():
        return r, _NAN, g
    loo = (float(x.sum()) - x) / rest
    return r, (g - 1) / g * float(((loo - loo.mean()) ** 2).sum()), g


def _cluster_ratio(c: Daily | None, b: Daily | None, alpha: float) -> Change:
    from scipy import stats as sps
    assert c is not None and b is not None
    r1, v1, g1 = cluster_ratio_var(c)
    r0, v0, g0 = cluster_ratio_var(b)
    diff = r1 - r0
    if math.isnan(v1) or math.isnan(v0) or v1 + v0 <= 0:
        return Change(r1, r0, diff, _NAN, _NAN, _NAN, "day-clustered ratio")
    se = math.sqrt(v1 + v0)
    df = (v1 + v0) ** 2 / (v1**2 / (g1 - 1) + v0**2 / (g0 - 1))
    t = float(sps.t.ppf(1 - alpha / 2, df))
    p = float(2 * sps.t.sf(abs(diff) / se, df))
    return Change(r1, r0, diff, diff - t * se, diff + t * se, p, "day-clustered ratio")


def _welch(c: Moments, b: Moments, alpha: float) -> Change:
    from scipy import stats as sps
    diff = c.mean - b.mean
    if c.n < 2 or b.n < 2:
        return Change(c.mean, b.mean, diff, _NAN, _NAN, _NAN, "Welch")
    v1, v0 = c.var / c.n, b.var / b.n
    se = math.sqrt(v1 + v0)
    if se == 0:
        return Change(c.mean, b.mean, diff, diff, diff, 1.0 if diff == 0 else 0.0, "Welch")
    p = sps.ttest_ind_from_stats(c.mean, math.sqrt(c.var), c.n, b.mean, math.sqrt(b.var), b.n,
                                 equal_var=False).pvalue
    df = (v1 + v0) ** 2 / (v1**2 / (c.n - 1) + v0**2 / (b.n - 1))
    t = float(sps.t.ppf(1 - alpha / 2, df))
    return Change(c.mean, b.mean, diff, diff - t * se, diff + t * se, float(p), "Welch")


def _ratios(c: RatioMoments, b: RatioMoments, alpha: float) -> Change:
    from scipy import stats as sps
    diff = c.value - b.value
    var = c.var + b.var
    if not var or math.isnan(var):
        return Change(c.value, b.value, diff, _NAN, _NAN, _NAN, "delta method")
    se = math.sqrt(var)
    z = _z(alpha)
    return Change(c.value, b.value, diff, diff - z * se, diff + z * se,
                  float(2 * sps.norm.sf(abs(diff) / se)), "delta method")


# -- medians -------------------------------------------------------------------------------

def _clustered(s: Sample) -> list[np.ndarray]:
    values = np.asarray(s.values, float)
    if s.clusters is None:
        return [values[i:i + 1] for i in range(len(values))]
    keys = np.asarray([str(k) for k in s.clusters])
    order = np.argsort(keys, kind="stable")
    _, starts = np.unique(keys[order], return_index=True)
    return np.split(values[order], starts[1:])


MEDIAN_HISTOGRAM_CELLS = 4_000_000  # groups × distinct values up to which resampled medians are counted


def _boot_medians(groups: list[np.ndarray], rng: np.random.Generator, n: int) -> np.ndarray:
    """Medians of ``n`` resamples that draw whole groups with replacement (NaN values are
    skipped; a resample with no value has a NaN median).

    When the groups hold few distinct values (days of a sales cycle, by day of close), each
    resample's values are counted, not sorted: how often it drew each group, times each
    group's count of each value, gives its count of each value, and the median is read off
    the running total. Otherwise the groups are padded with NaN into one matrix and
    NaN-aware medians skip the padding. Both take the same draws and give the same medians.

    >>> groups = [np.array([1.0, 5.0]), np.array([2.0]), np.array([9.0, 9.0, 3.0])]
    >>> _boot_medians(groups, np.random.default_rng(1), 4).tolist()
    [3.0, 5.0, 7.0, 4.0]
    """
    if all(len(g) == 1 for g in groups):
        x = np.concatenate(groups)
        return np.median(x[rng.integers(0, len(x), size=(n, len(x)))], axis=1)
    width = max(len(g) for g in groups)
    chunk = max(1, 2_000_000 // (len(groups) * width))  # bound the memory of one block (and fix the draws)
    values = np.concatenate(groups)
    values = values[~np.isnan(values)]
    distinct = np.unique(values)
    out = np.empty(n)
    # counting pays where days repeat a few values; each block of counts holds at most
    # MEDIAN_HISTOGRAM_CELLS numbers, whatever the groups
    if 0 < len(distinct) <= 4 * width and len(distinct) * len(groups) <= MEDIAN_HISTOGRAM_CELLS:
        counts = np.zeros((len(groups), len(distinct)))  # each group's count of each value
        for i, g in enumerate(groups):
            g = g[~np.isnan(g)]
            np.add.at(counts[i], np.searchsorted(distinct, g), 1)
        rows = max(1, MEDIAN_HISTOGRAM_CELLS // max(len(distinct), len(groups)))
        for lo in range(0, n, chunk):
            pick = rng.integers(0, len(groups), size=(min(chunk, n - lo), len(groups)))
            for at in range(0, len(pick), rows):
                part = pick[at:at + rows]
                drawn = np.zeros((len(part), len(groups)))
                np.add.at(drawn, (np.repeat(np.arange(len(part)), len(groups)), part.ravel()), 1)
                running = np.cumsum(drawn @ counts, axis=1)  # exact: sums of whole counts
                total = running[:, -1]
                lower = np.minimum((running <= ((total - 1) // 2)[:, None]).sum(axis=1), len(distinct) - 1)
                upper = np.minimum((running <= (total // 2)[:, None]).sum(axis=1), len(distinct) - 1)
                # the two middle values' mean, as np.median takes it (one value twice when odd)
                out[lo + at:lo + at + len(part)] = np.where(total > 0, (distinct[lower] + distinct[upper]) / 2,
                                                            np.nan)
        return out
    padded = np.full((len(groups), width), np.nan)
    for i, g in enumerate(groups):
        padded[i, :len(g)] = g
    for lo in range(0, n, chunk):
        pick = rng.integers(0, len(groups), size=(min(chunk, n - lo), len(groups)))
        out[lo:lo + len(pick)] = np.nanmedian(padded[pick].reshape(len(pick), -1), axis=1)
    return out


def _medians(c: Sample, b: Sample, alpha: float) -> Change:
    diff = c.value - b.value
    gc, gb = _clustered(c), _clustered(b)
    if len(gc) < 2 or len(gb) < 2:
        return Change(c.value, b.value, diff, _NAN, _NAN, _NAN, "bootstrap")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    dist = _boot_medians(gc, rng, BOOTSTRAP_RESAMPLES) - _boot_medians(gb, rng, BOOTSTRAP_RESAMPLES)
    # two-sided bootstrap p-value: the share of resampled differences on the far side of 0,
    # doubled (the inversion of the percentile interval)
    p = min(1.0, 2 * min(float((dist <= 0).mean()), float((dist >= 0).mean())))
    low, high = np.quantile(dist, [alpha / 2, 1 - alpha / 2])
    method = "bootstrap over days" if c.clusters is not None else "bootstrap"
    return Change(c.value, b.value, diff, float(low), float(high), p, method)


# -- targets ---------------------------------------------------------------------------------

def attainment(current: Summary, target: float, *, elapsed_share: float = 1.0, flow: bool = True) -> Change:
    """Actual against a target: attainment, not a test.

    A flow's target is prorated to the share of the period elapsed (by the calendar profile)
    while the period is open; rates and means keep their target. ``rel_change`` is
    attainment − 1; the interval and p-value are empty.

    >>> r = attainment(Counts(450, 15), 1000, elapsed_share=0.5)
    >>> r.baseline, round(r.rel_change + 1, 2)
    (500.0, 0.9)
    """
    value = current.value
    goal = target * elapsed_share if flow else target
    return Change(value, goal, value - goal, _NAN, _NAN, _NAN, "attainment")


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (statsmodels ``fdr_bh``); NaN stays NaN."""
    from statsmodels.stats.multitest import multipletests
    p = np.asarray(p_values, float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q
