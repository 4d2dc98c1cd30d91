"""Monthly forecasts with honest intervals, each judged against a simple baseline.

For a flow KPI (revenue, orders, new customers, leads …) overall or per segment, the
complete months of history go through a **rolling-origin backtest**: from each of the last
(up to) twelve months, every candidate model is fitted on the months before and forecasts
the next three. The candidates are statsmodels' exponential smoothing (damped trend, with
the yearly season once two years are known) and a seasonal ARIMA (the "airline" model),
both on the log scale; the baseline is the **seasonal naive** forecast (the same month a
year earlier), or the naive forecast (last month) while less than a year and a half is
known. A model is used only where its backtest error is below the baseline's; otherwise the
page shows the baseline and says so.

The intervals come from the same backtest (split conformal): on the log scale, each
horizon's errors are divided by their typical size (median absolute error; a farther
horizon is never given a smaller one), pooled, and the 80% and 95% intervals are the
conformal quantiles of those, times the horizon's size: wide where the model erred, narrow
where it did not, with no assumption of normal errors.
``coverage80`` and ``coverage95`` say how often they held, each backtest error judged by
an interval built from the other errors only. Too short a history gives a note, no number.

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> data = salesnb.SalesData(generate(scale=0.05)[0])
>>> f = forecast(data, "orders", horizon=2)
>>> list(f["period"]), bool((f["lo80"] <= f["forecast"]).all() and (f["forecast"] <= f["hi80"]).all())
(['2026-11', '2026-12'], True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from salesnb import texts
from salesnb.aggregate import Window, data_end, data_start, families_of, kpi_problem, prefetch, summaries
from salesnb.comparisons import DEFAULT_FUNNEL, Data, elapsed_share, period_targets
from salesnb.engines import Source, as_source
from salesnb.kpis import KPI, registry
from salesnb.periods import Period, parse_period
from salesnb.stats.calendar import calendar_of
from salesnb.texts import t

__all__ = ["forecast", "backtest", "history", "target_chance", "SeriesForecast", "HORIZON", "FORECASTABLE",
           "OUTLOOK_KPIS", "page_as_of", "month_target", "target_outlook", "chance_text", "target_lines", "model_name",
           "outlook_tables",
           "outlook_kpis", "outlook_charts"]

HORIZON = 3
SEASON = 12
MAX_ORIGINS = 10        # backtest origins: the last ten months
MIN_ORIGINS = 6         # fewer → too short a history to judge a model
MAX_SEGMENTS = 8        # the largest segments; the rest are left to the total
LEVELS = (0.80, 0.95)
FORECASTABLE = ("count", "sum")  # flows: a month's total is what is forecast


@dataclass(frozen=True)
class _Model:
    name: str
    min_months: int                                   # history a fit needs
    predict: Callable[[np.ndarray, int], np.ndarray]  # log-scale history, horizon → forecasts


def _seasonal_naive(z: np.ndarray, h: int) -> np.ndarray:
    return np.array([z[len(z) - SEASON + (i % SEASON)] for i in range(h)])


def _naive(z: np.ndarray, h: int) -> np.ndarray:
    return np.repeat(z[-1], h)


def _ets(z: np.ndarray, h: int, *, seasonal: bool = False) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    # the seasonal model starts from the classical decomposition of its two or more years
    # (a fifth of the fitting time of estimating the start values too: the backtest fits it
    # ten times per series)
    model = ExponentialSmoothing(z, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
                                 seasonal_periods=SEASON if seasonal else None,
                                 initialization_method="heuristic" if seasonal else "estimated")
    return np.asarray(model.fit(use_brute=False).forecast(h), float)


def _ets_seasonal(z: np.ndarray, h: int) -> np.ndarray:
    return _ets(z, h, seasonal=True)


def _airline(z: np.ndarray, h: int) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fit = SARIMAX(z, order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON), concentrate_scale=True).fit(disp=False)
    return np.asarray(fit.forecast(h), float)


SEASONAL_NAIVE = _Model("seasonal naive", SEASON, _seasonal_naive)
NAIVE = _Model("naive", 1, _naive)
# every model keeps its form over the whole backtest: one that needs two years of history
# competes only when every origin has them
MODELS = (_Model("ETS", 8, _ets), _Model("ETS seasonal", 2 * SEASON, _ets_seasonal),
          _Model("SARIMA", 2 * SEASON, _airline))


@dataclass
class SeriesForecast:
    """One series' backtest and forecast (log scale inside, months as ``YYYY-MM``)."""

    segment: str
    months: list[str]
    values: np.ndarray
    model: str = ""
    baseline: str = ""
    mae: float = math.nan
    baseline_mae: float = math.nan
    mase: float = math.nan
    coverage80: float = math.nan
    coverage95: float = math.nan
    origins: int = 0
    note: str = ""
    future: pd.DataFrame = field(default_factory=pd.DataFrame)
    errors: dict[int, np.ndarray] = field(default_factory=dict)   # horizon → log errors of the model


def _month_windows(first: pd.Period, last: pd.Period) -> list[tuple[str, Window]]:
    return [(str(m), Window.of(parse_period(str(m)))) for m in pd.period_range(first, last, freq="M")]


def _complete_months(src: Source, as_of: pd.Timestamp) -> tuple[pd.Period, pd.Period] | None:
    """The first and last complete months of the data up to ``as_of`` (a month the data
    starts in counts when it starts in its first week)."""
    start = data_start(src)
    if start == pd.Timestamp.min:
        return None
    first = start.to_period("M")
    if start.day > 7:
        first += 1
    last = (as_of.normalize() + pd.Timedelta(days=1)).to_period("M") - 1
    return (first, last) if last >= first else None


def _kpi(name: str, custom_kpis: Any = None) -> KPI:
    reg = registry(custom_kpis)
    if name not in reg:
        raise ValueError(f"unknown KPI {name!r}; known: {', '.join(reg)}")
    kpi = reg[name]
    if kpi.kind not in FORECASTABLE:
        raise ValueError(f"{name} is a {kpi.kind}, not a monthly total: forecast one of the flows "
                         f"({', '.join(k for k, v in reg.items() if v.kind in FORECASTABLE)})")
    return kpi


def history(data: Data, kpi: str, *, by: str | None = None, as_of: str | pd.Timestamp | None = None,
            funnel_stages: Sequence[str] | None = None, custom_kpis: Any = None) -> pd.DataFrame:
    """The KPI per complete month (through the engine): ``month``, ``segment``, ``value``.

    Months without events are 0; segments are ``all`` without ``by``.
    """
    src = as_source(data)
    k = _kpi(kpi, custom_kpis)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    span = _complete_months(src, end)
    if span is None:
        return pd.DataFrame({"month": pd.Series(dtype=str), "segment": pd.Series(dtype=str),
                             "value": pd.Series(dtype=float)})
    months = _month_windows(*span)
    stages = list(funnel_stages or DEFAULT_FUNNEL)
    prefetch(src, [w for _, w in months], by, families=families_of([k]))
    rows = []
    for name, w in months:
        values, problems = summaries(src, [k], w, by, funnel_stages=stages)
        if k.name in problems:
            raise ValueError(f"{k.name} cannot be forecast: {problems[k.name].replace('_', ' ')}"
                             + (f" by {by}" if by else ""))
        rows += [{"month": name, "segment": key[2], "value": float(s.value)} for key, s in values.items()
                 if key[0] == k.name]
    df = pd.DataFrame(rows, columns=["month", "segment", "value"])
    # a month without events is a zero, not a gap
    full = pd.MultiIndex.from_product([[m for m, _ in months], sorted(df["segment"].unique()) or ["all"]],
                                      names=["month", "segment"])
    return df.set_index(["month", "segment"]).reindex(full, fill_value=0.0).reset_index()


def _predict(model: _Model, z: np.ndarray, steps: int, memo: Any = None) -> np.ndarray:
    """The model's forecasts from history ``z``; the fitted models' are read back from
    ``memo`` (a :class:`salesnb.store.FitMemo`) when it holds them, the same arrays."""
    if memo is None or model not in MODELS:  # the naive baselines cost nothing to compute
        return model.predict(z, steps)
    return memo.predict(model.name, model.predict, z, steps)


def _backtest_errors(z: np.ndarray, model: _Model, origins: range, horizon: int,
                     memo: Any = None) -> dict[int, np.ndarray]:
    """Log-scale errors (actual − forecast) per horizon, over the origins."""
    errs: dict[int, list[float]] = {h: [] for h in range(1, horizon + 1)}
    for o in origins:
        steps = min(horizon, len(z) - o)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series: judged by the backtest
            try:
                # always the full horizon, then the steps the data can judge: an origin's fit
                # is then the same whichever month is last (next month's memo reads it back,
                # and this month's final fit is next month's newest origin)
                pred = _predict(model, z[:o], horizon, memo)[:steps]
            except (ValueError, np.linalg.LinAlgError):
                pred = np.full(steps, np.nan)
        for h in range(1, steps + 1):
            errs[h].append(z[o + h - 1] - pred[h - 1])
    return {h: np.array(v, float) for h, v in errs.items()}


def _mae(z: np.ndarray, errors: dict[int, np.ndarray], origins: range) -> float:
    """Mean absolute error on the original scale (errors are log1p-scale)."""
    total = []
    for h, e in errors.items():
        actual = z[origins.start + h - 1: origins.start + h - 1 + len(e)]
        total.append(np.abs(np.expm1(actual) - np.expm1(actual - e)))
    flat = np.concatenate(total) if total else np.array([])
    return float(np.mean(flat)) if len(flat) and np.isfinite(flat).all() else math.nan


MIN_OWN_SCALE = 8  # errors a horizon needs for its scale to stand alone


def _scales(errors: dict[int, np.ndarray]) -> dict[int, float]:
    """Per horizon, the typical size of an error (median absolute log error). A horizon with
    fewer than :data:`MIN_OWN_SCALE` errors is held no narrower than the nearer one (its
    median alone is too noisy: CDNOW's short history), one with fewer than three takes it.
    With enough errors there is no such floor: forcing the scales to grow with the horizon
    made the 3-month intervals hold 89% of the time and the 1-month ones 74% (demo and
    Superstore, out of sample)."""
    out: dict[int, float] = {}
    for h in sorted(errors):
        e = np.abs(errors[h][np.isfinite(errors[h])])
        nearer = out.get(h - 1, math.nan)
        if len(e) < 3:
            out[h] = nearer
        elif len(e) < MIN_OWN_SCALE and nearer == nearer:
            out[h] = max(float(np.median(e)), nearer)
        else:
            out[h] = float(np.median(e))
    return out


def _conformal(r: np.ndarray, level: float) -> float:
    """The split-conformal quantile of absolute errors ``r``: an interval this wide covers
    one more exchangeable error with probability ≥ ``level`` (the largest error when there
    are too few for the level)."""
    r = np.sort(r[np.isfinite(r)])
    if len(r) < 3:
        return math.nan
    k = math.ceil(level * (len(r) + 1))
    return float(r[min(k, len(r)) - 1])


def _normalised(errors: dict[int, np.ndarray], scales: dict[int, float]) -> np.ndarray:
    parts = [np.abs(e[np.isfinite(e)]) / scales[h] for h, e in errors.items() if scales.get(h, 0) > 0]
    return np.concatenate(parts) if parts else np.array([])


def _half_widths(errors: dict[int, np.ndarray], level: float) -> dict[int, float]:
    """Half-widths of the intervals on the log scale, per horizon: the errors of every
    horizon, each divided by its horizon's scale, pooled; their conformal quantile times
    the horizon's scale."""
    scales = _scales(errors)
    q = _conformal(_normalised(errors, scales), level)
    return {h: q * sc if sc > 0 else (0.0 if sc == 0 else math.nan) for h, sc in scales.items()}


def _coverage(errors: dict[int, np.ndarray], level: float) -> float:
    """How often the interval held in the backtest: each error against the interval built
    from the other errors only."""
    hits = []
    for h, e in errors.items():
        for i in np.flatnonzero(np.isfinite(e)):
            rest = {k: (np.delete(v, i) if k == h else v) for k, v in errors.items()}
            half = _half_widths(rest, level).get(h, math.nan)
            if half == half:
                hits.append(abs(e[i]) <= half)
    return float(np.mean(hits)) if hits else math.nan


def _fit_series(segment: str, months: list[str], values: np.ndarray, horizon: int,
                memo: Any = None) -> SeriesForecast:
    out = SeriesForecast(segment, months, values)
    n = len(values)
    if n >= 2 * SEASON + MIN_ORIGINS:  # the seasonal models fit at every origin
        baseline = SEASONAL_NAIVE
        origins = range(max(2 * SEASON, n - MAX_ORIGINS), n)
    elif n >= SEASON + MIN_ORIGINS:
        baseline = SEASONAL_NAIVE
        origins = range(max(SEASON, n - MAX_ORIGINS), n)
    elif n >= 6 + MIN_ORIGINS:
        baseline = NAIVE
        origins = range(max(6, n - MAX_ORIGINS), n)
    else:
        out.note = t("forecast.too_short", n=n, need=6 + MIN_ORIGINS)
        return out
    if (values < 0).any():
        out.note = t("forecast.negative")
        return out
    z = np.log1p(values)
    out.baseline, out.origins = baseline.name, len(origins)
    base_err = _backtest_errors(z, baseline, origins, horizon)
    out.baseline_mae = _mae(z, base_err, origins)
    best, best_err, best_mae = baseline, base_err, out.baseline_mae
    for model in MODELS:
        if model.min_months > origins.start:
            continue
        err = _backtest_errors(z, model, origins, horizon, memo)
        mae = _mae(z, err, origins)
        if mae == mae and mae < best_mae:  # a model must beat the baseline to be used
            best, best_err, best_mae = model, err, mae
    out.model, out.mae, out.errors = best.name, best_mae, best_err
    lag = SEASON if baseline is SEASONAL_NAIVE else 1
    scale = float(np.mean(np.abs(values[lag:] - values[:-lag]))) if n > lag else math.nan
    out.mase = best_mae / scale if scale and scale == scale else math.nan
    out.coverage80, out.coverage95 = (_coverage(best_err, level) for level in LEVELS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            point = _predict(best, z, horizon, memo)
        except (ValueError, np.linalg.LinAlgError):
            best, point = baseline, baseline.predict(z, horizon)
            out.model = baseline.name
    last = pd.Period(months[-1], "M")
    halves = {level: _half_widths(best_err, level) for level in LEVELS}
    rows = []
    for h in range(1, horizon + 1):
        row: dict[str, Any] = {"period": str(last + h), "segment": segment,
                               "forecast": float(max(0.0, np.expm1(point[h - 1])))}
        for level in LEVELS:
            half = halves[level].get(h, halves[level][max(halves[level])])
            tag = f"{round(level * 100)}"
            row[f"lo{tag}"] = float(max(0.0, np.expm1(point[h - 1] - half)))
            row[f"hi{tag}"] = float(max(0.0, np.expm1(point[h - 1] + half)))
        row["model"] = out.model
        rows.append(row)
    out.future = pd.DataFrame(rows)
    if out.model == baseline.name:
        out.note = t("forecast.no_model_beat", baseline=model_name(baseline.name))
    if out.origins < MAX_ORIGINS:  # the intervals rest on few backtest months: say so
        few = t("forecast.few_origins", n=out.origins, full=MAX_ORIGINS)
        out.note = f"{out.note}; {few}" if out.note else few
    return out


def _series(data: Data, kpi: str, by: str | None, as_of: Any, horizon: int,
            custom_kpis: Any = None) -> list[SeriesForecast]:
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    # the series are the complete months up to the last one before as_of: one key per such month
    last = (end.normalize() + pd.Timedelta(days=1)).to_period("M") - 1
    key = ("forecast", kpi, by, str(last), horizon, repr(_kpi(kpi, custom_kpis).spec))  # None and {} alike
    if key not in src.cache:
        hist = history(src, kpi, by=by, as_of=end, custom_kpis=custom_kpis)
        # a report's store keeps the fits too: next month refits only the new origins
        memo = src.store.fits() if getattr(src, "store", None) is not None else None
        series = []
        if len(hist):
            totals = hist.groupby("segment")["value"].sum().sort_values(ascending=False)
            for seg in list(totals.index)[:MAX_SEGMENTS]:
                g = hist[hist["segment"] == seg].sort_values("month")
                series.append(_fit_series(str(seg), list(g["month"]), g["value"].to_numpy(float), horizon, memo))
        src.cache[key] = series
    return src.cache[key]


def forecast(data: Data, kpi: str, *, horizon: int = HORIZON, by: str | None = None,
             as_of: str | pd.Timestamp | None = None, custom_kpis: Any = None) -> pd.DataFrame:
    """The next ``horizon`` months of a flow KPI, overall or per segment of ``by``.

    One row per future month (and segment): ``period``, ``segment`` (``all`` without
    ``by``), ``forecast``, ``lo80``, ``hi80``, ``lo95``, ``hi95``, ``model`` (the model
    the backtest chose, or the baseline when no model beat it). Series with too short a
    history give no rows (:func:`backtest` says why).
    """
    frames = [s.future for s in _series(data, kpi, by, as_of, horizon, custom_kpis) if len(s.future)]
    cols = ["period", "segment", "forecast", "lo80", "hi80", "lo95", "hi95", "model"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def backtest(data: Data, kpi: str, *, by: str | None = None, as_of: str | pd.Timestamp | None = None,
             horizon: int = HORIZON, custom_kpis: Any = None) -> pd.DataFrame:
    """The rolling-origin backtest behind :func:`forecast`, one row per series.

    ``model`` (chosen), ``mae`` (its mean absolute error over origins and horizons),
    ``seasonal_naive_mae`` (the baseline's; ``baseline`` names it: seasonal naive, or
    naive on a short history), ``mase`` (``mae`` over the in-sample seasonal-naive
    error), ``coverage80`` / ``coverage95`` (how often the intervals held), ``origins``,
    ``months`` (history length), ``note``.
    """
    rows = [{"segment": s.segment, "model": s.model, "mae": s.mae, "seasonal_naive_mae": s.baseline_mae,
             "baseline": s.baseline, "mase": s.mase, "coverage80": s.coverage80, "coverage95": s.coverage95,
             "origins": s.origins, "months": len(s.months), "note": s.note}
            for s in _series(data, kpi, by, as_of, horizon, custom_kpis)]
    return pd.DataFrame(rows, columns=["segment", "model", "mae", "seasonal_naive_mae", "baseline", "mase",
                                       "coverage80", "coverage95", "origins", "months", "note"])


def _total(src: Source, kpi: KPI, period: Period) -> float:
    """The KPI over a period, overall (0 without events)."""
    values, _ = summaries(src, [kpi], Window.of(period), None, funnel_stages=list(DEFAULT_FUNNEL))
    s = values.get((kpi.name, None, "all"))
    return float(s.value) if s is not None else 0.0


def target_chance(data: Data, kpi: str, period: str | Period, target: float, *,
                  as_of: str | pd.Timestamp | None = None, custom_kpis: Any = None) -> dict[str, Any]:
    """The chance that a month ends at or above ``target``.

    A closed period gives its attainment (actual ÷ target) and no chance. An open month: the
    actual to date plus the rest of the month, forecast from two views of it — the
    month-to-date pace (actual × share to come ÷ share done, the shares from the weekday
    profile and holidays) and the whole-month forecast × the share to come — blended on the
    log scale with the weight that predicted the remainder best in the months the forecast's
    backtest judged, at the same day of the month; the remainder's own errors there (not the
    whole month's) give its uncertainty, as a t distribution (:func:`_remainder_model`).

    Returns ``status`` (``closed``, ``open``, ``no_forecast``), ``actual``, ``expected``
    (the period's expected total), ``attainment`` (actual ÷ target) and ``chance``.
    """
    src = as_source(data)
    k = _kpi(kpi, custom_kpis)
    p = parse_period(period) if isinstance(period, str) else period
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    out: dict[str, Any] = {"status": "closed", "actual": math.nan, "expected": math.nan,
                           "attainment": math.nan, "chance": math.nan}
    if end.normalize() >= pd.Timestamp(p.end):  # closed: the actual is the answer
        actual = _total(src, k, p)
        out.update(actual=actual, expected=actual, attainment=actual / target if target else math.nan,
                   chance=float(actual >= target))
        return out
    if p.kind != "month" or end.normalize() < pd.Timestamp(p.start) - pd.Timedelta(days=1):
        out["status"] = "no_forecast"
        return out
    to_date = parse_period(f"{p.start}..{end.date()}") if end.normalize() >= pd.Timestamp(p.start) else None
    actual = _total(src, k, to_date) if to_date is not None else 0.0
    cutoff = pd.Timestamp(p.start) - pd.Timedelta(days=1)  # the month before: complete
    series = _series(src, kpi, None, cutoff, HORIZON, custom_kpis)
    if not series or not len(series[0].future):
        out.update(status="no_forecast", actual=actual, attainment=actual / target if target else math.nan)
        return out
    fc = series[0]
    calendar = src.calendar or calendar_of(None)
    done = elapsed_share(src, p, to_date, calendar) if to_date is not None else 0.0
    whole = float(fc.future["forecast"].iloc[0])
    model = _remainder_model(src, k, fc, 0 if to_date is None else to_date.days, calendar)
    log_rem, scale, df = _remainder(actual, done, whole, model)
    # the median remainder: a target at actual + it is an even chance
    remaining_mean = math.exp(log_rem) if math.isfinite(log_rem) else whole * (1 - done)
    if actual >= target:
        chance = 1.0
    elif not (math.isfinite(log_rem) and scale > 0):
        chance = float(actual >= target)
    else:
        # the remainder on the log scale: a t distribution around the blend of the pace and
        # the forecast, with the remainder's own errors in the months the backtest judged
        chance = float(sps.t.sf((math.log(target - actual) - log_rem) / scale, df))
    out.update(status="open", actual=actual, expected=actual + remaining_mean,
               attainment=actual / target if target else math.nan, chance=chance)
    return out


@dataclass
class _RemainderModel:
    """log(remainder) = log(forecast part) + w · (log(pace part) − log(forecast part)) + c + ε."""

    weight: float = 0.0
    shift: float = 0.0
    scale: float = math.nan
    df: int = 0
    months: int = 0


def _remainder_model(src: Source, kpi: KPI, fc: SeriesForecast, days: int, calendar: Any) -> _RemainderModel:
    """Fit the blend on the months the backtest forecast one month ahead: for each, the
    forecast the model made for it, what had come in after ``days`` days, and what came after.
    The weight is chosen on a grid by leave-one-out error; the scale is the leave-one-out
    residuals' root mean square (so it is the error of a prediction, not of a fit)."""
    key = ("remainder-model", kpi.name, fc.months[-1] if fc.months else "", days)
    if key not in src.cache:
        src.cache[key] = _fit_remainder(src, kpi, fc, days, calendar)
    return src.cache[key]


def _fit_remainder(src: Source, kpi: KPI, fc: SeriesForecast, days: int, calendar: Any) -> _RemainderModel:
    e = fc.errors.get(1, np.array([]))
    months = fc.months[len(fc.months) - len(e):] if len(e) else []
    rows = []
    for month, err, value in zip(months, e, fc.values[len(fc.values) - len(e):], strict=True):
        if not np.isfinite(err) or value <= 0:
            continue
        m = parse_period(month)
        cut = min(pd.Timestamp(m.start) + pd.Timedelta(days=max(days, 1) - 1), pd.Timestamp(m.end))
        to_date = parse_period(f"{m.start}..{cut.date()}")
        done = elapsed_share(src, m, to_date, calendar) if days > 0 else 0.0
        so_far = _total(src, kpi, to_date) if days > 0 else 0.0
        rest = value - so_far
        forecast_whole = float(np.expm1(np.log1p(value) - err))
        if rest <= 0 or forecast_whole <= 0 or not 0 <= done < 1:
            continue
        rows.append((math.log(rest), *_parts(so_far, done, forecast_whole)))
    if len(rows) < 4:
        return _RemainderModel()
    y, f, pace = (np.array(v, float) for v in zip(*rows, strict=True))
    best = None
    for w in np.linspace(0, 1, 11) if np.isfinite(pace).all() else [0.0]:
        pred = f + w * (np.nan_to_num(pace) - f)
        res = y - pred
        # each month's error with the shift learnt from the others
        loo = (res - res.mean()) * len(res) / (len(res) - 1)
        rms = float(np.sqrt(np.mean(loo**2)))
        if best is None or rms < best[0] - 1e-12:
            best = (rms, w, float(res.mean()))
    assert best is not None
    return _RemainderModel(weight=best[1], shift=best[2], scale=best[0], df=len(rows) - 2, months=len(rows))


def _parts(so_far: float, done: float, forecast_whole: float) -> tuple[float, float]:
    """log of the remainder by the forecast (whole × share to come) and by the pace."""
    by_forecast = math.log(forecast_whole * (1 - done)) if forecast_whole > 0 and done < 1 else math.nan
    by_pace = math.log(so_far * (1 - done) / done) if so_far > 0 and 0 < done < 1 else math.nan
    return by_forecast, by_pace


def _remainder(so_far: float, done: float, forecast_whole: float, model: _RemainderModel) -> tuple[float, float, int]:
    """The blended log remainder, its scale and degrees of freedom (nan scale: no model)."""
    by_forecast, by_pace = _parts(so_far, done, forecast_whole)
    if not math.isfinite(model.scale) or not math.isfinite(by_forecast):
        return by_forecast, math.nan, 0
    pace = by_pace if math.isfinite(by_pace) else by_forecast
    return by_forecast + model.weight * (pace - by_forecast) + model.shift, model.scale, max(model.df, 1)


# --- the Outlook page ---------------------------------------------------------------------

OUTLOOK_KPIS = ("revenue", "orders", "new_customers")


def page_as_of(ctx: Any) -> pd.Timestamp:
    """What the page may know: the end of its period, or of the data when that is earlier."""
    end = data_end(ctx.src)
    period_end = pd.Timestamp(ctx.period.end) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return min(end, period_end)


def month_target(data: Data, kpi: str, month: str, *, custom_kpis: Any = None) -> float:
    """The target of a KPI for a month, overall (``nan`` when there is none)."""
    targets = period_targets(as_source(data), parse_period(month), [registry(custom_kpis)[kpi]], None)
    return targets.get((kpi, "all"), math.nan)


def outlook_kpis(ctx: Any, kpis: Sequence[str] = OUTLOOK_KPIS) -> tuple[list[str], list[str]]:
    """The page's KPIs the data can give, and a line for each it cannot (a missing table
    or column says so instead of failing the page)."""
    usable, notes = [], []
    for name in kpis:
        problem = kpi_problem(ctx.src, ctx.kpis[name]) if name in ctx.kpis else "unknown_kpi"
        if problem:
            notes.append(f"{ctx.kpis[name].label if name in ctx.kpis else name}: "
                         + t("forecast.not_forecast", why=texts.gate(problem)))
        else:
            usable.append(name)
    return usable, notes


def outlook_charts(ctx: Any, *, as_of: pd.Timestamp | None = None,
                   kpis: Sequence[str] = OUTLOOK_KPIS) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(label, the last two years of history, the forecast) per KPI the data can give; the
    forecast's ``model`` named in the page's language, for the chart's legend."""
    end = as_of if as_of is not None else page_as_of(ctx)
    return [(ctx.kpis[k].label, history(ctx.src, k, as_of=end, custom_kpis=ctx.custom_kpis).tail(24),
             forecast(ctx.src, k, as_of=end, custom_kpis=ctx.custom_kpis).pipe(
                 lambda ahead: ahead.assign(model=ahead["model"].map(model_name))))
            for k in outlook_kpis(ctx, kpis)[0]]


def target_outlook(ctx: Any, *, kpis: Sequence[str] = OUTLOOK_KPIS,
                   as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per KPI with monthly targets: the report's last month (attainment when closed, the
    chance of reaching the target when open) and the month after (the chance, from the
    forecast). ``kpi``, ``label``, ``month``, ``target``, ``actual``, ``expected``,
    ``attainment``, ``chance``, ``status``."""
    end = as_of if as_of is not None else page_as_of(ctx)
    last = pd.Period(ctx.period.end, "M")
    rows = []
    for kpi in outlook_kpis(ctx, kpis)[0]:
        for month in (last, last + 1):
            target = month_target(ctx.src, kpi, str(month), custom_kpis=ctx.custom_kpis)
            if target != target:
                continue
            r = target_chance(ctx.src, kpi, str(month), target, as_of=end, custom_kpis=ctx.custom_kpis)
            rows.append({"kpi": kpi, "label": ctx.kpis[kpi].label, "month": str(month), "target": target, **r})
    return pd.DataFrame(rows, columns=["kpi", "label", "month", "target", "status", "actual", "expected",
                                       "attainment", "chance"])


def chance_text(row: Any) -> str:
    """One phrase for a target row: attainment when closed, the chance when open."""
    if row["status"] == "closed":
        return t("forecast.of_target", share=texts.percent(row["attainment"], 0))
    if row["status"] == "open" and row["chance"] == row["chance"]:
        return t("forecast.chance", chance=texts.percent(row["chance"], 0))
    return t("forecast.no_forecast")


def target_lines(targets: pd.DataFrame) -> list[str]:
    """One line per KPI and month of :func:`target_outlook`, for the page."""
    return [t("forecast.target_line", label=r["label"], month=texts.month(pd.Timestamp(r["month"] + "-01").date()),
              chance=chance_text(r), target=texts.number(r["target"]))
            for r in targets.to_dict("records")]


def model_name(name: str) -> str:
    """A model's name in the report's language (``seasonal naive`` → ``сезонный наивный``)."""
    key = "model." + name.replace(" ", "_")
    return t(key) if key in texts.catalogue("en") else name


def outlook_tables(ctx: Any, *, as_of: pd.Timestamp | None = None,
                   kpis: Sequence[str] = OUTLOOK_KPIS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The forecasts and their backtests of the page's KPIs, ready to show: (forecasts,
    backtests). Forecast rows: ``KPI``, ``month``, ``forecast``, ``80% interval``,
    ``95% interval``, ``model``. Backtest rows: ``KPI``, ``model``, ``MAE``, ``seasonal naive MAE``
    (or naive, on a short history), ``MASE``, ``80% held``, ``95% held``, ``origins``, ``note``."""
    end = as_of if as_of is not None else page_as_of(ctx)
    fc_rows, bt_rows = [], []
    usable, notes = outlook_kpis(ctx, kpis)
    bt_rows += [{"KPI": note.split(":")[0], "note": note.split(": ", 1)[1]} for note in notes]
    for kpi in usable:
        label = ctx.kpis[kpi].label
        for r in forecast(ctx.src, kpi, as_of=end, custom_kpis=ctx.custom_kpis).to_dict("records"):
            fc_rows.append({"KPI": label, "month": r["period"], "forecast": texts.number(r["forecast"]),
                            "80% interval": f"{texts.number(r['lo80'])} – {texts.number(r['hi80'])}",
                            "95% interval": f"{texts.number(r['lo95'])} – {texts.number(r['hi95'])}",
                            "model": model_name(r["model"])})
        for r in backtest(ctx.src, kpi, as_of=end, custom_kpis=ctx.custom_kpis).to_dict("records"):
            bt_rows.append({"KPI": label, "model": model_name(r["model"]) if r["model"] else "–", "MAE": r["mae"],
                            "baseline MAE": r["seasonal_naive_mae"],
                            "baseline": model_name(r["baseline"]) if r["baseline"] else "–",
                            "MASE": r["mase"], "80% held": r["coverage80"], "95% held": r["coverage95"],
                            "origins": r["origins"], "note": r["note"]})
    return pd.DataFrame(fc_rows), pd.DataFrame(bt_rows)
