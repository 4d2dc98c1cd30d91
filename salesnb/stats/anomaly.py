"""Unusual months: a month against what the segment's own history predicts for it.

For each tested month the model is fitted on the months before it only (at most
``history``, at least ``min_history``):

- counts and sums: quasi-Poisson regression of the monthly totals on a linear trend and,
  with two years of history, a yearly wave (a sine and a cosine of the month of the year:
  eleven month dummies fitted on two Januaries would chase noise); the month's calendar enters as an
  offset (its expected trading days from the weekday profile and holidays), so a January
  full of holidays or a month with five weekends is expected low;
- rates: the same as a quasi-binomial regression of successes out of trials;
- means and medians: ordinary least squares on the monthly values.

The month is compared with its **prediction interval**: the variance of a new month is
the model's dispersion φ times the mean-variance of the family plus the uncertainty of the
fitted expectation (x₀ᵀΣx₀ on the link scale, by the delta method); the reference is
Student's t with the residual degrees of freedom, not the normal (with 11 df a nominal
1% is really 3% on a normal reference). The dispersion absorbs month-to-month drift.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

__all__ = ["month_prediction", "MonthCheck"]


class MonthCheck(tuple):  # (expected, lower, upper, p_value)
    """Expected value, 95% prediction bounds and two-sided p-value of one month."""

    __slots__ = ()

    def __new__(cls, expected: float, low: float, high: float, p_value: float) -> MonthCheck:
        return super().__new__(cls, (expected, low, high, p_value))

    @property
    def expected(self) -> float:
        return self[0]

    @property
    def p_value(self) -> float:
        return self[3]


_NONE = MonthCheck(math.nan, math.nan, math.nan, math.nan)


def _design(t: np.ndarray, month: np.ndarray, seasonal: bool) -> np.ndarray:
    cols = [np.ones(len(t)), (t - t.mean()) / max(len(t), 1)]
    if seasonal:  # one yearly wave: two terms, not eleven month dummies fitted on two years
        angle = 2 * np.pi * month / 12
        cols += [np.sin(angle), np.cos(angle)]
    return np.column_stack(cols)


def month_prediction(values: Sequence[float] | np.ndarray, *, kind: str, index: int,
                     trials: Sequence[float] | np.ndarray | None = None,
                     months: Sequence[int] | None = None, offset: Sequence[float] | None = None,
                     history: int = 24, min_history: int = 12, alpha: float = 0.05) -> MonthCheck:
    """Check month ``index`` of a monthly series against the months before it.

    ``kind``: ``count``/``sum`` (``values`` are totals), ``proportion`` (``values`` are
    successes, ``trials`` the trials), ``mean``/``median``/other (``values`` as they are).
    ``months``: the month of the year (1–12) of each entry; ``offset``: the expected trading
    days of each month (any positive scale; its logarithm is the model's offset).

    Examples
    --------
    >>> y = [100, 104, 98, 101, 97, 103, 99, 102, 100, 98, 101, 103, 180]
    >>> r = month_prediction(y, kind="count", index=12)
    >>> round(r.expected), r.p_value < 0.001
    (101, True)
    """
    y = np.asarray(values, float)
    lo = max(0, index - history)
    hist = np.arange(lo, index)
    hist = hist[~np.isnan(y[hist])]
    n = np.asarray(trials, float) if trials is not None else None
    if kind == "proportion":
        if n is None or not n[index] > 0:
            return _NONE
        hist = hist[n[hist] > 0]
    if len(hist) < min_history or math.isnan(y[index]):
        return _NONE
    t = np.arange(len(y), dtype=float)
    month = np.asarray(months, int) if months is not None else (np.arange(len(y)) % 12) + 1
    seasonal = len(hist) >= 24 and len(set(month[hist])) == 12
    X_all = _design(t[np.r_[hist, index]], month[np.r_[hist, index]], seasonal)
    X, x0 = X_all[:-1], X_all[-1]
    off = np.log(np.asarray(offset, float)) if offset is not None else np.zeros(len(y))
    df = len(hist) - X.shape[1]
    if df < 3:
        return _NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind in ("count", "sum"):
                if (y[hist] < 0).any() or y[hist].sum() <= 0:
                    return _gaussian(y, hist, index, X, x0, df, alpha)
                res = sm.GLM(y[hist], X, family=sm.families.Poisson(), offset=off[hist]).fit()
                phi = float(res.pearson_chi2 / res.df_resid)
                if kind == "count":
                    phi = max(phi, 1.0)
                eta = float(x0 @ res.params + off[index])
                mu = math.exp(eta)
                var_fit = float(x0 @ (res.cov_params() * (phi / res.scale)) @ x0) * mu * mu
                var = phi * mu + var_fit
                expected, observed = mu, y[index]
            elif kind == "proportion":
                assert n is not None
                ok = hist
                prop = y[ok] / n[ok]
                if prop.sum() <= 0 or prop.sum() >= len(ok):
                    return _NONE
                res = sm.GLM(np.column_stack([y[ok], n[ok] - y[ok]]), X, family=sm.families.Binomial()).fit()
                phi = max(float(res.pearson_chi2 / res.df_resid), 1.0)
                df = int(res.df_resid)
                p = float(1 / (1 + math.exp(-float(x0 @ res.params))))
                var_fit = float(x0 @ res.cov_params() @ x0) * phi * (p * (1 - p)) ** 2
                var = phi * p * (1 - p) / n[index] + var_fit
                expected, observed = p, y[index] / n[index]
            else:
                return _gaussian(y, hist, index, X, x0, df, alpha)
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return _NONE
    return _check(observed, expected, var, df, alpha)


def _gaussian(y: np.ndarray, hist: np.ndarray, index: int, X: np.ndarray, x0: np.ndarray, df: int,
              alpha: float) -> MonthCheck:
    res = sm.OLS(y[hist], X).fit()
    expected = float(x0 @ res.params)
    var = float(res.scale) + float(x0 @ res.cov_params() @ x0)
    return _check(y[index], expected, var, df, alpha)


def _check(observed: float, expected: float, var: float, df: int, alpha: float) -> MonthCheck:
    if not var > 0:
        return MonthCheck(expected, math.nan, math.nan, math.nan)
    se = math.sqrt(var)
    t = float(sps.t.ppf(1 - alpha / 2, df))
    p = float(2 * sps.t.sf(abs(observed - expected) / se, df))
    return MonthCheck(expected, expected - t * se, expected + t * se, p)
