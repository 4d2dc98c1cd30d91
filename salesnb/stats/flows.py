"""Counts and sums compared on daily totals, with the calendar in the model.

Method (quasi-Poisson regression, McCullagh & Nelder §9.2; statsmodels ``GLM``): the daily
totals y_d of both windows are fitted with

    log E[y_d] = β₀ + β·[d in current window] + weekday(d) + holiday(d),
    Var[y_d] = φ·E[y_d],

Var[y_d] = φ·(μ_d + κ·μ_d²): the day-level variation κ is estimated from the Poisson fit by
the method of moments and the model refitted as a negative binomial (so busy weekdays,
which vary more, weigh as they should), then φ from the Pearson χ² of that fit. Real sales
vary from day to day far more than a Poisson process (a real retailer: 12×); the test of β
uses a t reference with the residual degrees of freedom. For counts φ is never taken
below 1. A sum (revenue) is fitted in units of its mean order amount. exp(β) is the change in the daily rate with
the calendar held fixed: the baseline is the previous window's rate *on the current
window's days* (its weekdays and holidays), so a month with one more weekend is not a drop.

Weekdays (or holidays) with nothing in either window (a shop shut on Saturdays) carry no
information and are left out of the fit. Windows shorter than a week get no weekday terms.
A flow whose days can be negative (net revenue after returns) is fitted on the same design
with ordinary least squares (additive effects) instead. For sums, whose days are
heavy-tailed, the p-value is also computed by permuting whole days between the two windows
within weekday and holiday strata (:func:`permutation_p`), and the larger one is kept.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np

from salesnb.stats.calendar import Calendar, weekday
from salesnb.stats.summaries import Change, Daily

__all__ = ["daily_flow_change", "calendar_design", "permutation_p", "PERMUTATIONS"]

PERMUTATIONS = 2000
PERMUTATION_SEED = 20261128


def permutation_p(y: np.ndarray, current: np.ndarray, strata: np.ndarray, *,
                  resamples: int = PERMUTATIONS, seed: int = PERMUTATION_SEED) -> float:
    """Two-sided p-value of the current window's total when days are exchangeable within
    strata (weekday, holiday): the window labels are shuffled within each stratum.

    >>> y = np.array([1.0, 2, 3, 4, 50, 60, 70, 80]); cur = np.arange(8) >= 4
    >>> permutation_p(y, cur, np.zeros(8, int)) < 0.05
    True
    """
    y, cur, strata = np.asarray(y, float), np.asarray(current, bool), np.asarray(strata)
    order = np.argsort(strata, kind="stable")
    labels = cur[order].astype(float)  # the labels, laid out stratum by stratum
    rng = np.random.default_rng(seed)
    keys = strata[order][None, :] * 2.0 + rng.random((resamples, len(y)))
    picks = order[np.argsort(keys, axis=1)]  # a random order of the days within each stratum
    totals = (y[picks] * labels).sum(axis=1)
    centre = totals.mean()
    observed = abs(float((y * cur).sum()) - centre)
    return float((1 + (np.abs(totals - centre) >= observed - 1e-9).sum()) / (resamples + 1))


def calendar_design(dates: np.ndarray, current: np.ndarray, calendar: Calendar, *,
                    weekdays: bool = True) -> np.ndarray:
    """Design matrix: intercept, current-window indicator, weekday and holiday dummies."""
    cols = [np.ones(len(dates)), current.astype(float)]
    hol = calendar.is_holiday(dates)
    if weekdays:
        wd = weekday(dates)
        levels = [k for k in range(7) if ((wd == k) & ~hol).any()]
        cols += [((wd == k) & ~hol).astype(float) for k in levels[1:]]
    if hol.any() and not hol.all():
        cols.append(hol.astype(float))
    return np.column_stack(cols)


def daily_flow_change(cur: Daily, base: Daily, *, calendar: Calendar | None = None, alpha: float = 0.05,
                      count: bool = True, basis: Literal["days", "months"] = "days") -> Change:
    """Compare two windows' daily totals (see the module text).

    Returns a :class:`Change` in current-window units: ``baseline`` is the baseline rate
    on the current window's calendar, the interval is that of current − baseline.
    ``basis="months"`` compares the two windows' totals as they are (a team that closes the
    same monthly number whatever the working days): the baseline is the earlier total, and
    the estimate moves by the calendar's part while its standard error, learnt from the
    days with their weekday and holiday terms, stays.

    Examples
    --------
    >>> import numpy as np
    >>> days = np.datetime64("2026-09-01") + np.arange(61)
    >>> y = np.where((days.astype(int) + 3) % 7 >= 5, 20.0, 100.0)   # weekends at a fifth
    >>> sep, octo = Daily(days[:30], y[:30], y[:30]), Daily(days[30:], y[30:], y[30:])
    >>> r = daily_flow_change(octo, sep)
    >>> abs(round(r.abs_change, 6)), round(r.p_value, 3)   # October has one weekend day more: no change
    (0.0, 1.0)
    """
    import statsmodels.api as sm  # here, not above: see the package's note on light imports
    from scipy import stats as sps

    cal = calendar or Calendar()
    c_total, b_total = float(cur.x.sum()), float(base.x.sum())
    nan = math.nan
    if c_total <= 0 and b_total <= 0 and not ((cur.x < 0).any() or (base.x < 0).any()):
        return Change(c_total, nan, nan, nan, nan, nan, "quasi-Poisson", nan)
    dates = np.concatenate([cur.dates, base.dates])
    y = np.concatenate([cur.x, base.x]).astype(float)
    is_cur = np.concatenate([np.ones(len(cur.x), bool), np.zeros(len(base.x), bool)])
    additive = bool((y < 0).any())
    keep = np.ones(len(y), bool)
    if not additive:
        hol = cal.is_holiday(dates)
        wd = weekday(dates)
        for k in range(7):  # structural zeros: a weekday that never trades
            m = (wd == k) & ~hol
            if m.any() and y[m].sum() == 0:
                keep &= ~m
        if hol.any() and y[hol].sum() == 0:
            keep &= ~hol
        if c_total <= 0 or b_total <= 0:  # the rate ratio is 0 or infinite: no interval
            scaled = b_total if basis == "months" else b_total * len(cur.x) / max(len(base.x), 1)
            return Change(c_total, scaled, c_total - scaled, nan, nan, nan, "quasi-Poisson", nan)
    weekdays = min(len(cur.x), len(base.x)) >= 7
    X = calendar_design(dates[keep], is_cur[keep], cal, weekdays=weekdays)
    yk = y[keep]
    df = len(yk) - np.linalg.matrix_rank(X)
    if df < 2:
        return Change(c_total, nan, nan, nan, nan, nan, "quasi-Poisson", nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if additive:
            res = sm.OLS(yk, X).fit()
            beta, se = float(res.params[1]), float(res.bse[1])
            phi = float(res.scale)
        else:
            # day totals in "events": a sum is divided by its mean amount, so that the Poisson
            # part of the variance and the day-level part (κμ²) are on one scale
            unit = 1.0 if count else max(float(yk.sum()) / max(float(np.concatenate([cur.n, base.n])[keep].sum()), 1.0),
                                         1e-12)
            ye = yk / unit
            res = sm.GLM(ye, X, family=sm.families.Poisson()).fit()
            mu = res.fittedvalues
            # day-level variation beyond Poisson, Var = μ + κμ² (method of moments), then a
            # negative-binomial fit that weights busy and quiet days by their own variance
            kappa = max(0.0, float((((ye - mu) ** 2 - mu) / mu**2).sum()) / df)
            if kappa > 0:
                res = sm.GLM(ye, X, family=sm.families.NegativeBinomial(alpha=kappa)).fit()
            phi = float(res.pearson_chi2 / res.df_resid)
            if count:
                phi = max(phi, 1.0)
            beta, se = float(res.params[1]), float(res.bse[1]) * math.sqrt(phi)
            mean_mu = float(res.fittedvalues.mean())
            phi = phi * (1 + kappa * mean_mu)  # reported: variance of an average day ÷ Poisson's
    t = float(sps.t.ppf(1 - alpha / 2, df))
    if basis == "months":
        # the calendar's part of the daily model's estimate, taken out: the totals themselves
        if additive:
            days = int(is_cur[keep].sum())
            return Change(c_total, b_total, c_total - b_total, c_total - b_total - t * se * days,
                          c_total - b_total + t * se * days,
                          float(2 * sps.t.sf(abs(c_total - b_total) / (se * days), df)) if se > 0 else math.nan,
                          "OLS on daily totals", nan)
        days_beta, beta = beta, math.log(c_total / b_total)
    p = float(2 * sps.t.sf(abs(beta) / se, df)) if se > 0 else (1.0 if beta == 0 else 0.0)
    if not count:
        # a sum's days are heavy-tailed (a few big orders make a day): the model's p-value is
        # checked by permuting whole days between the periods within weekday/holiday strata,
        # and the larger of the two is kept. For month totals the current days are first
        # scaled by the calendar's factor, so that equal totals mean exchangeable days.
        hol = cal.is_holiday(dates[keep])
        strata = np.where(hol, 7, weekday(dates[keep])) if weekdays else hol.astype(int)
        y_perm = yk
        if basis == "months":
            y_perm = np.where(is_cur[keep], yk * math.exp(beta - days_beta), yk)
        p = max(p, permutation_p(y_perm, is_cur[keep], strata))
    if additive:
        days = int(is_cur[keep].sum())
        return Change(c_total, c_total - beta * days, beta * days, (beta - t * se) * days,
                      (beta + t * se) * days, p, "OLS on daily totals", nan)
    baseline = c_total * math.exp(-beta)
    low, high = c_total * (1 - math.exp(-(beta - t * se))), c_total * (1 - math.exp(-(beta + t * se)))
    # for sums φ is relative to a Poisson count of orders; the caller relates it to the
    # compound-Poisson value E[X²]/E[X]²
    return Change(c_total, baseline, c_total - baseline, low, high, p, "quasi-Poisson", phi)

