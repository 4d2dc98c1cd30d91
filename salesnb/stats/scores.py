"""Small estimators the pages need beside the comparisons: NPS, shrinkage of small samples,
rate intervals and the return-on-spend interval. Pages call these and hold no formula."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from salesnb.stats.summaries import Change

__all__ = ["nps", "nps_change", "beta_prior", "shrunk_rate", "rate_interval", "spend_return_interval",
           "resampled_totals"]

ROMI_RESAMPLES = 1000
ROMI_SEED = 20261128
ROMI_BLOCK = 4_000_000  # values drawn at once by the ROMI bootstrap (32 MB)


def nps(scores: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """NPS in points (−100…100), its standard error and n (multinomial variance of
    promoters − detractors).

    >>> nps([10, 9, 8, 3])
    (25.0, 41.4578098794425, 4)
    """
    x = np.asarray(scores, float)
    n = len(x)
    if not n:
        return math.nan, math.nan, 0
    pro, det = float((x >= 9).mean()), float((x <= 6).mean())
    var = (pro + det - (pro - det) ** 2) / n
    return 100 * (pro - det), 100 * math.sqrt(var), n


def nps_change(current: tuple[float, float], baseline: tuple[float, float], *, alpha: float = 0.05) -> Change:
    """Difference of two NPS values (value, se): normal interval and p-value."""
    d = current[0] - baseline[0]
    se = math.hypot(current[1], baseline[1])
    if not se or math.isnan(se):
        return Change(current[0], baseline[0], d, math.nan, math.nan, math.nan, "normal")
    z = float(sps.norm.ppf(1 - alpha / 2))
    return Change(current[0], baseline[0], d, d - z * se, d + z * se, float(2 * sps.norm.sf(abs(d) / se)), "normal")


def beta_prior(wins: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Beta(a, b) fitted by the method of moments to per-unit rates (weighted by n), with
    the binomial noise of an average unit removed from their spread; Beta(1, 1) with no data.

    >>> beta_prior(np.array([]), np.array([]))
    (1.0, 1.0)
    """
    ok = n > 0
    if not ok.any():  # no units with trials: a flat prior (nothing to learn the spread from)
        return 1.0, 1.0
    rates, weights = wins[ok] / n[ok], n[ok]
    mean = float(np.average(rates, weights=weights))
    var = float(np.average((rates - mean) ** 2, weights=weights))
    noise = mean * (1 - mean) / float(np.mean(n[ok]))
    spread = max(var - noise, 1e-6)
    strength = max(mean * (1 - mean) / spread - 1, 1.0)
    return mean * strength, (1 - mean) * strength


def shrunk_rate(wins: np.ndarray, n: np.ndarray, a: float, b: float) -> np.ndarray:
    """Posterior mean (wins + a) / (n + a + b): small samples pulled towards the team."""
    return (np.asarray(wins, float) + a) / (np.asarray(n, float) + a + b)


def rate_interval(successes: np.ndarray, trials: np.ndarray, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval of rates (statsmodels ``proportion_confint``)."""
    low, high = proportion_confint(successes, trials, alpha=alpha, method="wilson")
    return np.asarray(low), np.asarray(high)


def spend_return_interval(values: np.ndarray, spend: float, *, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of (Σ values − spend) ÷ spend, resampling the units
    (leads) that carry the values; 1,000 resamples, fixed seed.

    Most leads carry nothing (a channel's few sales among many leads), and a zero adds
    nothing to a resample's sum. So each resample draws how many of its n leads carry a
    value (binomial: n, the share that do) and then only those, from the leads that do: the
    same distribution of sums as drawing all n, at the cost of the non-zero draws alone
    (178,000 leads a channel, 5% of them with sales: 20 times fewer draws).

    >>> spend_return_interval(np.array([0.0, 0.0, 300.0, 0.0]), 100.0)[0] == -1.0
    True
    """
    v = np.asarray(values, float)
    if not spend > 0 or len(v) < 2:
        return math.nan, math.nan
    totals = resampled_totals(v, np.random.default_rng(ROMI_SEED))
    low, high = np.quantile((totals - spend) / spend, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def resampled_totals(values: np.ndarray, rng: np.random.Generator, resamples: int = ROMI_RESAMPLES, *,
                     block: int = ROMI_BLOCK) -> np.ndarray:
    """The sums of ``resamples`` bootstrap resamples of ``values`` (each n draws with
    replacement), drawn as :func:`spend_return_interval` says: how many non-zero values a
    resample holds, then those. Drawn in blocks of resamples of about ``block`` values
    (bounded memory whatever the data); the blocks do not change the draws.

    >>> resampled_totals(np.zeros(3), np.random.default_rng(0), 2).tolist()  # nothing carried: sums of 0
    [0.0, 0.0]
    """
    if not len(values):
        return np.zeros(resamples)
    carried = values[values != 0]
    counts = rng.binomial(len(values), len(carried) / len(values), size=resamples)
    totals = np.zeros(resamples)
    ends = np.cumsum(counts)
    lo = 0
    while lo < resamples:
        hi = min(resamples, max(lo + 1, int(np.searchsorted(ends, ends[lo] - counts[lo] + block, side="right"))))
        k = counts[lo:hi]
        drawn = carried[rng.integers(0, len(carried), size=int(k.sum()))] if len(carried) else np.zeros(0)
        totals[lo:hi] = np.bincount(np.repeat(np.arange(hi - lo), k), weights=drawn, minlength=hi - lo)
        lo = hi
    return totals
