"""The PDCA Check: an initiative's effect on monthly cells, its power and its error rates.

Deals, leads and orders of one region and month share that month's shocks (a good month,
a new manager, a competitor's sale), so they are not independent: treating every row as
independent makes a null initiative look real in 12–21% of checks. The estimator works on
**months** instead:

- with a control (a control segment, or the same segment a year earlier): the monthly
  difference d_m = y_treated,m − y_control,m, and the effect is the mean of d_m after the
  start minus its mean before — the difference in differences of two-way fixed effects
  with one treated unit;
- without one: the monthly values y_m themselves (pre/post).

The effect is the coefficient of "after the start" in an OLS of that monthly series. Shocks
that persist from one month to the next make neighbouring months alike: the lag-1
autocorrelation ρ of the residuals (bias-corrected, :func:`persistence`) sets the variance
of each block's mean, σ²·g(m)/m with g(m) = 1 + 2Σ(1 − k/m)ρᵏ, and corrects the residual
variance for the part each block's own mean absorbs (its expected sum of squares is
σ²·(m − g(m))); the t reference has n − g(m₀) − g(m₁) degrees of freedom.

Power uses that same estimator: its standard error scales as √(1/M_before + 1/M_after),
so the smallest detectable effect (80% power) for a longer check window follows, and where
even an endless check window cannot reach the target (the baseline months alone are too
noisy) the answer is "not reachable at this volume". :func:`operating_characteristics`
simulates the verdict rule on the fitted model: how often it would say *standardise* when
the true effect is zero and when it equals the target.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

__all__ = ["MonthlyEffect", "monthly_effect", "persistence", "mde_for", "months_needed", "pre_trend", "PRE_TREND_ALPHA",
           "MIN_PRE_MONTHS",
           "operating_characteristics", "POWER"]

POWER = 0.8
SE_MARGIN = 1.5  # ρ is taken 1.5 standard errors above its estimate: see persistence()


@dataclass(frozen=True)
class MonthlyEffect:
    """The effect per month-cell: ``effect`` (KPI units), interval, p-value, standard
    error, residual sd of a month, degrees of freedom and the months before / after."""

    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    sigma: float
    df: int
    months_before: int
    months_after: int
    design: str
    resid_sd: float = math.nan
    rho: float = 0.0


def monthly_effect(series: np.ndarray, after: np.ndarray, *, alpha: float = 0.05,
                   design: str = "pre/post", history: np.ndarray | None = None) -> MonthlyEffect:
    """Effect of ``after`` (bool per month) on a monthly series (a difference series for a DiD).

    ``history``: the same series in the months before the baseline, when the data has them:
    they only serve to learn how alike neighbouring months are (the persistence ρ).

    Examples
    --------
    >>> y = np.array([0.30, 0.32, 0.29, 0.31, 0.30, 0.33, 0.40, 0.41, 0.39, 0.42])
    >>> r = monthly_effect(y, np.arange(10) >= 6)
    >>> round(r.effect, 3), r.p_value < 0.001, r.df
    (0.097, True, 8)
    """
    y = np.asarray(series, float)
    post = np.asarray(after, bool)
    ok = ~np.isnan(y)
    y, post = y[ok], post[ok]
    m1, m0 = int(post.sum()), int((~post).sum())
    if m1 < 1 or m0 < 2 or len(y) < 4:
        return MonthlyEffect(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0, m0, m1, design)
    X = sm.add_constant(post.astype(float), has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ols = sm.OLS(y, X).fit()
    effect = float(ols.params[1])
    resid = np.asarray(ols.resid, float)
    if history is not None:
        h = np.asarray(history, float)
        h = h[~np.isnan(h)]
        if len(h) >= 3:
            resid = np.concatenate([h - h.mean(), resid])
    rho = persistence(resid)
    # neighbouring months alike: a block of m AR(1) months has Var(mean) = σ²·g(m)/m, and its
    # squared deviations from its own mean sum to σ²·(m − g(m)) — so both the residual
    # variance and the effect's variance are put right for the persistence found
    g0, g1 = _block_factor(m0, rho), _block_factor(m1, rho)
    rss = float((np.asarray(ols.resid, float) ** 2).sum())
    room = len(y) - g0 - g1
    sigma2 = rss / room if room > 1 else math.nan
    se = math.sqrt(sigma2 * (g0 / m0 + g1 / m1)) if sigma2 == sigma2 else math.nan
    df = max(2, int(round(room)))
    if not se > 0:
        return MonthlyEffect(effect, math.nan, math.nan, math.nan, se, 0.0, df, m0, m1, design)
    t = float(sps.t.ppf(1 - alpha / 2, df))
    p = float(2 * sps.t.sf(abs(effect) / se, df))
    # the month-to-month sd the standard error implies for a balanced split (for power)
    sigma = se / math.sqrt(1 / m0 + 1 / m1)
    return MonthlyEffect(effect, effect - t * se, effect + t * se, p, se, sigma, df, m0, m1, design,
                         math.sqrt(float(ols.scale)), rho)


PRE_TREND_ALPHA = 0.10  # a pre-period trend this unlikely under parallel trends stops a verdict
MIN_PRE_MONTHS = 6      # months before the start a trend can be judged on


def pre_trend(pre: np.ndarray) -> tuple[float, float]:
    """The linear trend per month of a series over the months before a change (a difference
    series for a DiD: treated − control), and its p-value, with Newey–West (HAC, one lag)
    standard errors because neighbouring months share shocks. Parallel trends say the slope
    is zero; ``(nan, nan)`` with fewer than :data:`MIN_PRE_MONTHS` months.

    >>> rng = np.random.default_rng(1)
    >>> flat = rng.normal(0, 0.01, 24)
    >>> round(pre_trend(flat)[1], 2) > 0.10, pre_trend(flat + 0.005 * np.arange(24))[1] < 0.01
    (True, True)
    """
    y = np.asarray(pre, float)
    x = np.arange(len(y), dtype=float)
    ok = ~np.isnan(y)
    y, x = y[ok], x[ok]
    if len(y) < MIN_PRE_MONTHS:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": 1, "use_correction": True},
                                                use_t=True)
    slope, p = float(fit.params[1]), float(fit.pvalues[1])
    return slope, (p if p == p else 1.0)


def _block_factor(m: int, rho: float) -> float:
    """g(m) = 1 + 2·Σ_{k<m} (1 − k/m)·ρᵏ: how much more a mean of m AR(1) months varies."""
    k = np.arange(1, m)
    return float(1 + 2 * ((1 - k / m) * rho**k).sum())


def persistence(resid: np.ndarray) -> float:
    """Lag-1 autocorrelation of monthly residuals: corrected for its small-sample bias
    (Kendall: E[ρ̂] ≈ ρ − (1 + 3ρ)/n), plus 1.5 standard errors √((1−ρ²)/n), within [0, 0.9].

    A short series pins ρ down poorly; the margin was set by calibration (``make calibrate``):
    with one standard error, null initiatives under persistent shocks still drew 6–7% false
    verdicts, with 1.5 at most 5%."""
    r = np.asarray(resid, float)
    n = len(r)
    if n < 6 or not (r**2).sum() > 0:
        return 0.0
    raw = float((r[1:] * r[:-1]).sum() / (r**2).sum())
    corrected = (raw * n + 1) / (n - 3)
    # a short series pins ρ down poorly: allow for a persistence the months cannot rule out
    return min(0.9, max(0.0, corrected + SE_MARGIN * math.sqrt(max(1 - corrected**2, 0.0) / n)))


def mde_for(est: MonthlyEffect, months_after: float, *, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest effect detected with ``power`` when the check window has ``months_after`` months."""
    if not est.sigma > 0 or est.df < 1:
        return math.nan
    k = float(sps.t.ppf(1 - alpha / 2, est.df) + sps.t.ppf(power, est.df))
    if math.isinf(months_after):
        return k * est.sigma * math.sqrt(1 / est.months_before)
    return k * est.sigma * math.sqrt(1 / est.months_before + 1 / months_after)


def months_needed(est: MonthlyEffect, target: float, *, alpha: float = 0.05, power: float = POWER) -> float:
    """Months of check window the target needs (``inf`` when no length suffices)."""
    if not est.sigma > 0 or not target:
        return math.nan
    k = float(sps.t.ppf(1 - alpha / 2, est.df) + sps.t.ppf(power, est.df))
    room = (abs(target) / (k * est.sigma)) ** 2 - 1 / est.months_before
    return math.inf if room <= 0 else 1 / room


def operating_characteristics(est: MonthlyEffect, target: float, decide: Callable[[float, float, float], str], *,
                              alpha: float = 0.05, sims: int = 2000, seed: int = 20261128) -> dict[str, float]:
    """Simulate the verdict rule on the fitted model at true effect 0 and at the target.

    ``decide(effect, ci_low, p_value)`` returns a verdict. Each simulation draws the monthly
    series as the fit describes it (normal months with the residual sd and the persistence
    found, AR(1)), runs the same estimator and decides. Returns ``standardise_at_zero``,
    ``any_action_at_zero`` (a verdict other than keep running) and ``standardise_at_target``.
    """
    if not est.resid_sd > 0 or est.months_after < 1:
        return {"standardise_at_zero": math.nan, "any_action_at_zero": math.nan, "standardise_at_target": math.nan}
    rng = np.random.default_rng(seed)
    m0, m1 = est.months_before, est.months_after
    n = m0 + m1
    rho = min(est.rho, 0.9)
    out: dict[str, list[str]] = {}
    for name, true in (("zero", 0.0), ("target", target)):
        e = rng.normal(0, est.resid_sd, (sims, n))
        noise = np.empty((sims, n))
        noise[:, 0] = e[:, 0]
        for i in range(1, n):
            noise[:, i] = rho * noise[:, i - 1] + math.sqrt(1 - rho**2) * e[:, i]
        y = noise + true * np.r_[np.zeros(m0), np.ones(m1)]
        effect, low, p = _batch_effect(y, m0, alpha)
        out[name] = [decide(float(a), float(b), float(c)) for a, b, c in zip(effect, low, p, strict=True)]
    return {"standardise_at_zero": float(np.mean([v == "standardise" for v in out["zero"]])),
            "any_action_at_zero": float(np.mean([v in ("standardise", "adjust", "roll_back") for v in out["zero"]])),
            "standardise_at_target": float(np.mean([v == "standardise" for v in out["target"]]))}


def _batch_effect(y: np.ndarray, m0: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`monthly_effect` (without history) on many series at once, rows of ``y`` whose
    first ``m0`` months are before the start: (effect, ci_low, p_value) per row."""
    n = y.shape[1]
    m1 = n - m0
    before, after = y[:, :m0], y[:, m0:]
    effect = after.mean(axis=1) - before.mean(axis=1)
    resid = np.concatenate([before - before.mean(axis=1, keepdims=True),
                            after - after.mean(axis=1, keepdims=True)], axis=1)
    ss = (resid**2).sum(axis=1)
    raw = (resid[:, 1:] * resid[:, :-1]).sum(axis=1) / np.where(ss > 0, ss, 1.0)
    corrected = (raw * n + 1) / (n - 3)
    rho = np.clip(corrected + SE_MARGIN * np.sqrt(np.clip(1 - corrected**2, 0, None) / n), 0.0, 0.9)
    rho = np.where((n < 6) | ~(ss > 0), 0.0, rho)

    def g(m: int) -> np.ndarray:
        k = np.arange(1, m)
        return 1 + 2 * ((1 - k / m)[None, :] * rho[:, None] ** k[None, :]).sum(axis=1)

    g0, g1 = g(m0), g(m1)
    room = n - g0 - g1
    se = np.sqrt(ss / np.where(room > 1, room, np.nan) * (g0 / m0 + g1 / m1))
    df = np.maximum(2, np.round(room))
    t = sps.t.ppf(1 - alpha / 2, df)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * sps.t.sf(np.abs(effect) / se, df)
    return effect, effect - t * se, p
