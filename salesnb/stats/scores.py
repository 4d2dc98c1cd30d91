"""Small estimators the pages need beside the comparisons: NPS, shrinkage of small samples,
rate intervals and the return-on-spend interval. Pages call these and hold no formula."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from salesnb.stats.summaries import Change

__all__ = ["nps", "nps_change", "beta_prior", "shrunk_rate", "rate_interval", "spend_return_interval"]

ROMI_RESAMPLES = 1000
ROMI_SEED = 20261128


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
    (leads) that carry the values; 1,000 resamples, fixed seed."""
    v = np.asarray(values, float)
    if not spend > 0 or len(v) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(ROMI_SEED)
    # the resamples in blocks of about 4 million draws: the same draws as all at once (the
    # generator continues where it stopped), without 1,000 × a channel's leads in memory
    # (178,000 leads a channel took 2.9 GB at once)
    block = max(1, min(ROMI_RESAMPLES, 4_000_000 // len(v)))
    totals = np.concatenate([v[rng.integers(0, len(v), size=(min(block, ROMI_RESAMPLES - done), len(v)))].sum(axis=1)
                             for done in range(0, ROMI_RESAMPLES, block)])
    low, high = np.quantile((totals - spend) / spend, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
