"""Calibration: how often each method raises a false alarm on data where nothing changed,
and how often it finds a change that is there.

Nulls come from two places, never from the model a test assumes:

- a **realistic generator** (:func:`realistic_trial`): a weekday profile (weekends at 0.5
  and 0.2, or a shop shut on Saturdays), public holidays, day-to-day overdispersion (a
  gamma multiplier with a chosen CV, shared by every KPI of the day), heavy-tailed order
  amounts with a day-level amount shock (one day's orders are alike), between-day shocks
  on conversion (logit scale) and deal cycles closed in batches;
- **resampled real days** (:func:`real_day_trials`): two windows whose days are drawn from
  the real days of the same weekday of one dataset (CDNOW's 18 months, Superstore's four
  years) within a half-year, so nothing changed between them.

Each trial compares the two windows with the methods :func:`salesnb.compare` uses
(:func:`salesnb.stats.two_sample` on daily summaries, as the engine builds them), and with
the row-independent tests for contrast. ``make calibrate`` prints the table; the tests run
a smaller version. A method is calibrated when its false-alarm rate is at most α + 2 pp.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from salesnb.stats import (
    Calendar,
    Counts,
    Daily,
    Moments,
    Proportion,
    Sample,
    Summary,
    calendar_of,
    two_sample,
)
from salesnb.stats.calendar import weekday

__all__ = ["Scenario", "SCENARIOS", "realistic_trial", "real_days", "real_day_trials", "run_trials",
           "calibration_table", "KINDS", "pdca_trial", "pdca_table", "anomaly_page", "anomaly_table",
           "target_cases", "reliability_table", "findings_table", "findings_null_realistic", "findings_null_real",
           "real_order_amounts", "activity_null", "rep_pattern_table", "response_null", "response_table",
           "market_null", "market_table"]

KINDS = ("orders", "revenue", "average_check", "conversion_rate", "return_rate", "sales_cycle_days")
WEEKENDS = np.array([1.0, 1.05, 1.1, 1.05, 1.15, 0.5, 0.2])       # Monday first
SHUT_SATURDAY = np.array([1.1, 1.0, 1.0, 1.05, 0.9, 0.0, 0.4])    # the retailer of issue 9


@dataclass(frozen=True)
class Scenario:
    """One realistic null (or, with ``effect``, a planted change)."""

    name: str
    day_cv: float = 0.15             # day-to-day multiplier (gamma), shared by the day's KPIs
    weekday: tuple[float, ...] = tuple(WEEKENDS)
    holiday_factor: float = 0.3
    amount_sigma: float = 1.0        # lognormal order amounts: heavy right tail
    amount_day_sd: float = 0.1       # one day's orders alike
    conversion_day_sd: float = 0.3   # logit-scale shock per day
    orders_per_day: float = 60.0
    leads_per_day: float = 40.0
    won_per_day: float = 3.0
    effect: float = 0.0              # relative change planted in the current window
    quota: bool = False              # a quota-driven team: the month's total, not the day's rate, is steady


SCENARIOS = [
    Scenario("weekday profile only", day_cv=0.0, amount_day_sd=0.0, conversion_day_sd=0.0),
    Scenario("weekdays + day CV 0.15", day_cv=0.15),
    Scenario("weekdays + day CV 0.30", day_cv=0.30, amount_day_sd=0.2, conversion_day_sd=0.5),
    Scenario("shut Saturdays + CV 0.30", day_cv=0.30, weekday=tuple(SHUT_SATURDAY)),
]
# B2B teams on a monthly quota (calendar: months): the month's total is what holds steady
QUOTA_SCENARIOS = [
    Scenario("quota months (calendar: months), day CV 0.15", day_cv=0.15, quota=True, orders_per_day=25.0),
    Scenario("quota months (calendar: months), day CV 0.30", day_cv=0.30, quota=True, orders_per_day=25.0,
             amount_day_sd=0.2),
]
RU = calendar_of("RU", years=range(2023, 2028))


def _months(rng: np.random.Generator) -> tuple[pd.Period, pd.Period]:
    m = pd.Period("2024-02", "M") + int(rng.integers(0, 34))
    return m, m - 1


def _days(p: pd.Period) -> np.ndarray:
    return pd.date_range(p.start_time, p.end_time.normalize(), freq="D").to_numpy().astype("datetime64[D]")


def _window(rng: np.random.Generator, s: Scenario, dates: np.ndarray, calendar: Calendar,
            lift: float) -> dict[str, Summary]:
    """One window's summaries of every KPI kind, drawn day by day."""
    wd = weekday(dates)
    level = np.asarray(s.weekday)[wd] * np.where(calendar.is_holiday(dates), s.holiday_factor, 1.0)
    if s.quota:  # the same monthly number whatever the trading days: fewer days, busier days
        level = level * 30.4 * float(np.mean(s.weekday)) / level.sum()
    g = rng.gamma(1 / s.day_cv**2, s.day_cv**2, len(dates)) if s.day_cv > 0 else np.ones(len(dates))
    n = rng.poisson(s.orders_per_day * level * g * lift)
    day_amount = np.exp(rng.normal(0, s.amount_day_sd, len(dates))) if s.amount_day_sd else np.ones(len(dates))
    amounts = [np.exp(rng.normal(np.log(50.0), s.amount_sigma, k)) * day_amount[i] * lift
               for i, k in enumerate(n)]
    sums = np.array([a.sum() for a in amounts])
    sq = float(sum((a**2).sum() for a in amounts))
    leads = rng.poisson(s.leads_per_day * level * g)
    shock = rng.normal(0, s.conversion_day_sd, len(dates)) if s.conversion_day_sd else np.zeros(len(dates))
    rate = 0.2 * lift
    base_logit = math.log(rate / (1 - rate))
    conv = rng.binomial(leads, 1 / (1 + np.exp(-(base_logit + shock))))
    won = rng.poisson(s.won_per_day * level)
    batch = np.exp(rng.normal(0, 0.25 if s.day_cv else 0.0, len(dates)))   # a day's closes alike
    cycles, clusters = [], []
    for i, k in enumerate(won):
        cycles += list(np.round(np.exp(rng.normal(np.log(30 / lift), 0.6, k)) * batch[i]))
        clusters += [str(dates[i])] * int(k)
    days = len(dates)
    orders = Daily(dates, n.astype(float), n.astype(float))
    money = Daily(dates, sums, n.astype(float))
    return {
        "orders": Counts(float(n.sum()), days, orders),
        "revenue": Moments(float(n.sum()), float(sums.sum()), sq, days, "sum", money),
        "average_check": Moments(float(n.sum()), float(sums.sum()), sq, days, "mean", money),
        "conversion_rate": Proportion(float(conv.sum()), float(leads.sum()),
                                      Daily(dates, conv.astype(float), leads.astype(float))),
        "sales_cycle_days": Sample(tuple(cycles), tuple(clusters)),
    }


def realistic_trial(rng: np.random.Generator, s: Scenario) -> tuple[dict[str, Summary], dict[str, Summary], Calendar]:
    """(current, previous) month summaries of one trial; nothing changed unless ``s.effect``."""
    cur, prev = _months(rng)
    return (_window(rng, s, _days(cur), RU, 1.0 + s.effect), _window(rng, s, _days(prev), RU, 1.0), RU)


def _row_independent(summary: Summary) -> Summary:
    """The same summary without its daily totals or clusters: the tests that assume
    independent rows (Poisson, compound Poisson, Welch, binomial, bootstrap over rows)."""
    if isinstance(summary, Sample):
        return Sample(summary.values)
    return type(summary)(**{k: v for k, v in summary.__dict__.items() if k != "daily"})  # type: ignore[arg-type]


def run_trials(trials: Iterator[tuple[dict[str, Summary], dict[str, Summary], Calendar]], *,
               alpha: float = 0.05, kinds: Sequence[str] = KINDS, contrast: bool = True,
               basis: str = "days", other_basis: bool = False) -> pd.DataFrame:
    """p < alpha rates per KPI kind over the trials: ``kind``, ``method`` (``salesnb`` or
    ``row-independent``; with ``other_basis``, also the other ``calendar`` setting), ``trials``,
    ``rate``. ``basis``: the ``calendar`` setting under test (``days`` or ``months``)."""
    other = "months" if basis == "days" else "days"
    hits: dict[tuple[str, str], list[bool]] = {}
    for cur, base, cal in trials:
        for kind in kinds:
            if kind not in cur:
                continue
            r = two_sample(cur[kind], base[kind], alpha=alpha, calendar=cal, basis=basis)  # type: ignore[arg-type]
            hits.setdefault((kind, "salesnb"), []).append(bool(r.p_value < alpha))
            if other_basis:
                r1 = two_sample(cur[kind], base[kind], alpha=alpha, calendar=cal, basis=other)  # type: ignore[arg-type]
                hits.setdefault((kind, f"calendar: {other}"), []).append(bool(r1.p_value < alpha))
            if contrast:
                r0 = two_sample(_row_independent(cur[kind]), _row_independent(base[kind]), alpha=alpha)
                hits.setdefault((kind, "row-independent"), []).append(bool(r0.p_value < alpha))
    rows = [{"kind": k, "method": m, "trials": len(v), "rate": float(np.mean(v))} for (k, m), v in hits.items()]
    return pd.DataFrame(rows)


# -- real days -------------------------------------------------------------------------------

def real_days(name: str, shared: Path) -> pd.DataFrame:
    """Daily totals of a real dataset: ``date``, ``orders``, ``revenue``, ``revenue_sq`` (Σ of
    squared order amounts), and for Superstore
    ``returned`` (orders later returned). Every calendar day of the span, zeros included."""
    if name == "cdnow":
        raw = pd.read_csv(shared / "cdnow_transactions" / "CDNOW_master.txt", sep=r"\s+", header=None,
                          names=["customer", "date", "cds", "amount"], dtype={"date": str})
        raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
        # one purchase record is one order; zero-value records (returns of free items) stay orders
        raw["sq"] = raw["amount"] ** 2
        daily = raw.groupby("date").agg(orders=("amount", "size"), revenue=("amount", "sum"), revenue_sq=("sq", "sum"))
    elif name == "superstore":
        lines = pd.read_csv(shared / "superstore" / "superstore_orders.csv")
        ret = set(pd.read_csv(shared / "superstore" / "superstore_returns.csv")["Order ID"])
        orders = lines.groupby("Order ID").agg(date=("Order Date", "first"), revenue=("Sales", "sum"))
        orders["returned"] = orders.index.isin(ret).astype(int)
        orders["date"] = pd.to_datetime(orders["date"])
        orders["sq"] = orders["revenue"] ** 2
        daily = orders.groupby("date").agg(orders=("revenue", "size"), revenue=("revenue", "sum"),
                                           revenue_sq=("sq", "sum"), returned=("returned", "sum"))
    else:
        raise ValueError(f"unknown real dataset {name!r}: cdnow or superstore")
    full = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    return daily.reindex(full, fill_value=0).rename_axis("date").reset_index()


def real_day_trials(days: pd.DataFrame, rng: np.random.Generator, n: int, *,
                    block: int = 182) -> Iterator[tuple[dict[str, Summary], dict[str, Summary], Calendar]]:
    """Two windows (31 and 30 days) drawn from the real days of the same weekday within a
    random half-year: nothing changed between them, everything else is real."""
    dates = days["date"].to_numpy().astype("datetime64[D]")
    wd = weekday(dates)
    for _ in range(n):
        lo = int(rng.integers(0, len(days) - block))
        pool = np.arange(lo, lo + block)
        by_wd = {k: pool[wd[pool] == k] for k in range(7)}
        out = []
        start = dates[lo]
        for length, offset in ((31, 30), (30, 0)):
            window = start + offset + np.arange(length)
            pick = np.array([rng.choice(by_wd[int(k)]) for k in weekday(window)])
            t = days.iloc[pick]
            o, r = t["orders"].to_numpy(float), t["revenue"].to_numpy(float)
            sq = float(t["revenue_sq"].sum())
            summ: dict[str, Summary] = {
                "orders": Counts(o.sum(), length, Daily(window, o, o)),
                "revenue": Moments(o.sum(), r.sum(), sq, length, "sum", Daily(window, r, o)),
                "average_check": Moments(o.sum(), r.sum(), sq, length, "mean", Daily(window, r, o)),
            }
            if "returned" in t:
                ret = t["returned"].to_numpy(float)
                summ["return_rate"] = Proportion(ret.sum(), o.sum(), Daily(window, ret, o))
            out.append(summ)
        yield out[0], out[1], Calendar()


def calibration_table(*, trials: int = 500, alpha: float = 0.05, seed: int = 2026,
                      shared: Path | None = None, scenarios: Sequence[Scenario] = tuple(SCENARIOS),
                      effect: float = 0.10, power: bool = True,
                      progress: Callable[[str], Any] | None = None) -> pd.DataFrame:
    """False-alarm rates (and power at a planted ``effect``) of the comparison tests.

    Returns ``source``, ``kind``, ``method``, ``trials``, ``false_alarms`` and, for the
    realistic scenarios, ``power`` (share of trials finding a change of ``effect``).
    """
    frames = []
    for i, s in enumerate(scenarios):
        if progress:
            progress(s.name)
        rng = np.random.default_rng([seed, i])
        null = run_trials((realistic_trial(rng, s) for _ in range(trials)), alpha=alpha)
        if power:
            planted = Scenario(**{**s.__dict__, "effect": effect})
            found = run_trials((realistic_trial(rng, planted) for _ in range(trials)), alpha=alpha, contrast=False)
            null = null.merge(found.rename(columns={"rate": "power"}).drop(columns="trials"),
                              on=["kind", "method"], how="left")
        frames.append(null.assign(source=s.name))
    for i, s in enumerate(QUOTA_SCENARIOS):  # calendar: months, on teams that close a monthly number
        if progress:
            progress(s.name)
        rng = np.random.default_rng([seed, 50 + i])
        null = run_trials((realistic_trial(rng, s) for _ in range(trials)), alpha=alpha, kinds=("orders", "revenue"),
                          contrast=False, basis="months", other_basis=True)
        if power:
            planted = Scenario(**{**s.__dict__, "effect": effect})
            found = run_trials((realistic_trial(rng, planted) for _ in range(trials)), alpha=alpha,
                               kinds=("orders", "revenue"), contrast=False, basis="months")
            null = null.merge(found.rename(columns={"rate": "power"}).drop(columns="trials"),
                              on=["kind", "method"], how="left")
        frames.append(null.assign(source=s.name))
    if shared is not None:
        for j, name in enumerate(("cdnow", "superstore")):
            if not (shared / {"cdnow": "cdnow_transactions"}.get(name, name)).exists():
                continue
            if progress:
                progress(f"real days: {name}")
            rng = np.random.default_rng([seed, 100 + j])
            frames.append(run_trials(real_day_trials(real_days(name, shared), rng, trials), alpha=alpha)
                          .assign(source=f"{name}: resampled real days"))
    out = pd.concat(frames, ignore_index=True).rename(columns={"rate": "false_alarms"})
    return out[["source", "kind", "method", "trials", "false_alarms", *(["power"] if "power" in out else [])]]


# -- PDCA verdicts -----------------------------------------------------------------------------

def pdca_trial(rng: np.random.Generator, *, shock_sd: float, persistence: float = 0.5, effect: float = 0.0,
               months_before: int = 12, months_after: int = 7, per_month: float = 80.0,
               rate: float = 0.5, history: int = 0, drift: float = 0.0) -> tuple[np.ndarray, ...]:
    """Stage conversion of a treated and a control region per month: region-month shocks on
    the logit scale (AR(1) across months with ``persistence``), binomial deals within; with
    ``drift``, the treated region's logit grows by that much a month more than the control's
    all along (segments trending apart, no effect of the change).

    Returns (treated successes, treated trials, control successes, control trials, after);
    with ``history``, that many earlier months come first (``after`` is then None for them:
    the caller splits them off).
    """
    months = history + months_before + months_after
    after = np.arange(months) >= history + months_before
    out = []
    for treated in (True, False):
        shock = np.zeros(months)
        e = rng.normal(0, shock_sd * math.sqrt(1 - persistence**2), months)
        shock[0] = rng.normal(0, shock_sd)
        for m in range(1, months):
            shock[m] = persistence * shock[m - 1] + e[m]
        n = rng.poisson(per_month, months)
        trend = drift * (np.arange(months) - months / 2) if treated else 0.0
        p = 1 / (1 + np.exp(-(math.log(rate / (1 - rate)) + shock + trend)))
        if treated and effect:
            p = np.where(after, np.clip(p + effect, 0, 1), p)
        out += [rng.binomial(n, p).astype(float), n.astype(float)]
    return out[0], out[1], out[2], out[3], after


def pdca_table(*, trials: int = 500, alpha: float = 0.05, seed: int = 2026, target: float = 0.10,
               shocks: Sequence[float] = (0.0, 0.2, 0.3), history: int = 12,
               drifts: Sequence[tuple[float, float]] = ((0.3, 0.04),)) -> pd.DataFrame:
    """False verdicts (standardise, adjust or roll back at no effect) and power (standardise or
    adjust at an effect of ``target``) of the monthly-cell DiD with its pre-trend gate,
    against the same DiD without the gate and the pooled 2×2 DiD that treats every deal as
    independent; on parallel segments (``shocks``) and on segments trending apart
    (``drifts``: shock sd, logit drift a month)."""
    from salesnb.pdca import decide
    from salesnb.stats import Change
    from salesnb.stats.did import monthly_effect, pre_trend

    def verdict(effect: float, low: float, high: float, p: float, trend_p: float = math.nan) -> str:
        return decide(Change(0, 0, effect, low, high, p), target, "up", alpha=alpha, status="ok",
                      days_needed=math.nan, pre_trend_p=trend_p)[0]

    rows = []
    scenarios = [(sd, 0.0) for sd in shocks] + list(drifts)
    for i, (sd, drift) in enumerate(scenarios):
        rng = np.random.default_rng([seed, 200 + i] if not drift else [seed, 300 + i])
        source = f"region-month shocks sd {sd:.1f} (AR 0.5)" + (f", drifting apart {drift:+.2f}/month" if drift else "")
        for planted in (0.0, target):
            acts: dict[str, list[str]] = {"salesnb": [], "no pre-trend check": [], "row-independent": []}
            for _ in range(trials):
                ts, tn, cs, cn, after = pdca_trial(rng, shock_sd=sd, effect=planted, history=history, drift=drift)
                diff = ts / tn - cs / cn
                est = monthly_effect(diff[history:], after[history:], alpha=alpha, history=diff[:history])
                _, trend_p = pre_trend(np.concatenate([diff[:history], diff[history:][~after[history:]]]))
                ts, tn, cs, cn, after = ts[history:], tn[history:], cs[history:], cn[history:], after[history:]
                acts["salesnb"].append(verdict(est.effect, est.ci_low, est.ci_high, est.p_value, trend_p))
                acts["no pre-trend check"].append(verdict(est.effect, est.ci_low, est.ci_high, est.p_value))
                # pooled 2×2: every deal independent (the old check)
                cells = [(ts[after].sum(), tn[after].sum()), (ts[~after].sum(), tn[~after].sum()),
                         (cs[after].sum(), cn[after].sum()), (cs[~after].sum(), cn[~after].sum())]
                p = [a / b for a, b in cells]
                d = (p[0] - p[1]) - (p[2] - p[3])
                se = math.sqrt(sum(q * (1 - q) / b for q, (_, b) in zip(p, cells, strict=True)))
                z = float(sps.norm.ppf(1 - alpha / 2))
                acts["row-independent"].append(verdict(d, d - z * se, d + z * se, float(2 * sps.norm.sf(abs(d) / se))))
            for method, v in acts.items():
                share = float(np.mean([x in ("standardise", "adjust", "roll_back") for x in v])) if planted == 0 \
                    else float(np.mean([x in ("standardise", "adjust") for x in v]))
                rows.append({"source": source, "method": method, "planted": planted, "trials": trials, "rate": share})
    t = pd.DataFrame(rows)
    null = t[t["planted"] == 0].drop(columns="planted").rename(columns={"rate": "false_verdicts"})
    power = t[t["planted"] > 0].drop(columns=["planted", "trials"]).rename(columns={"rate": "power"})
    return null.merge(power, on=["source", "method"])


# -- anomaly flags -------------------------------------------------------------------------------

def anomaly_page(rng: np.random.Generator, *, day_cv: float = 0.15, drift_sd: float = 0.03,
                 months: int = 48, tested: int = 24, alpha: float = 0.02) -> bool:
    """One overview page of unusual-month checks on steady data; True when anything is flagged.

    Eight monthly series over ``months`` months from daily data with the weekday profile,
    Russian holidays, day-to-day overdispersion, a yearly season (±15%) and a trend (+1% a
    month); rates with a persistent month-to-month drift (logit AR(1) steps of ``drift_sd``)
    and month shocks. The last ``tested`` months are checked as
    :func:`salesnb.feedback.anomalies` does (BH over the page).
    """
    from salesnb.stats import bh_qvalues
    from salesnb.stats.anomaly import month_prediction

    start = pd.Period("2022-11", "M")
    periods = [start + i for i in range(months)]
    offsets, month_days = [], []
    for m in periods:
        d = _days(m)
        wd = weekday(d)
        lvl = WEEKENDS[wd] * np.where(RU.is_holiday(d), 0.3, 1.0)
        offsets.append(float(lvl.sum()))
        month_days.append(lvl)
    season = [1 + 0.15 * math.sin(2 * math.pi * m.month / 12) for m in periods]
    trend = [1.01**i for i in range(months)]
    series: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    for name, base in (("orders", 60.0), ("new_customers", 8.0)):
        y = np.array([rng.poisson(base * season[i] * trend[i] * lvl
                                  * rng.gamma(1 / day_cv**2, day_cv**2, len(lvl))).sum()
                      for i, lvl in enumerate(month_days)], float)
        series.append((name, y, None))
    orders = series[0][1]
    revenue = np.array([np.exp(rng.normal(np.log(50), 1.0, int(k))).sum() for k in orders])
    series.append(("revenue", revenue, None))
    series.append(("average_check", revenue / orders, None))
    for name, rate, per in (("conversion_rate", 0.2, 1200.0), ("win_rate", 0.35, 90.0), ("return_rate", 0.04, 1800.0)):
        walk = np.zeros(months)
        for i in range(1, months):
            walk[i] = 0.7 * walk[i - 1] + rng.normal(0, drift_sd)
        n = rng.poisson(per * np.array(season), months).astype(float)
        p = 1 / (1 + np.exp(-(math.log(rate / (1 - rate)) + walk + rng.normal(0, 0.05, months))))
        series.append((name, rng.binomial(n.astype(int), p).astype(float), n))
    cycle = np.array([np.median(np.exp(rng.normal(np.log(40), 0.6, 40))) for _ in range(months)])
    series.append(("sales_cycle_days", cycle, None))
    kinds = {"orders": "count", "new_customers": "count", "revenue": "sum", "average_check": "mean",
             "conversion_rate": "proportion", "win_rate": "proportion", "return_rate": "proportion",
             "sales_cycle_days": "median"}
    p_values = []
    for name, y, trials_of in series:
        for i in range(months - tested, months):
            p_values.append(month_prediction(y, kind=kinds[name], index=i, trials=trials_of,
                                             months=[m.month for m in periods], offset=offsets).p_value)
    q = bh_qvalues(np.array(p_values))
    return bool((np.nan_to_num(q, nan=1.0) < alpha).any())


def anomaly_table(*, pages: int = 500, seed: int = 2026, alpha: float = 0.02,
                  settings: Sequence[tuple[float, float]] = ((0.15, 0.0), (0.15, 0.03), (0.3, 0.05))) -> pd.DataFrame:
    """Share of steady-data pages with any false "unusual month", per (day CV, rate drift)."""
    rows = []
    for i, (cv, drift) in enumerate(settings):
        rng = np.random.default_rng([seed, 300 + i])
        hits = [anomaly_page(rng, day_cv=cv, drift_sd=drift, alpha=alpha) for _ in range(pages)]
        rows.append({"source": f"steady pages: day CV {cv:.2f}, rate drift {drift:.2f}", "pages": pages,
                     "pages_with_false_flag": float(np.mean(hits))})
    return pd.DataFrame(rows)


# -- the chance of reaching a target -------------------------------------------------------------

def target_cases(data: Any, kpi: str, *, days: Sequence[int] = (10, 20), months: int = 24, draws: int = 3,
                 low: float = 0.9, high: float = 1.4, seed: int = 2026) -> pd.DataFrame:
    """Stated chances of reaching a target against what happened, on real months: for each
    of the last ``months`` complete months with a forecast, at the end of each of ``days``
    of the month, ``draws`` targets of the same month a year earlier × U(``low``, ``high``),
    which the model never sees. Returns ``month``, ``day``, ``target``, ``chance``, ``reached``."""
    from salesnb.aggregate import data_end
    from salesnb.engines import as_source
    from salesnb.forecast import history, target_chance

    src = as_source(data)
    rng = np.random.default_rng([seed, sum(map(ord, kpi))])
    totals = history(src, kpi, as_of=data_end(src)).set_index("month")["value"]
    rows = []
    for month in list(totals.index)[-months:]:
        last_year = str(pd.Period(month, "M") - 12)
        if last_year not in totals.index or totals[last_year] <= 0:
            continue
        start = pd.Period(month, "M").start_time
        for day in days:
            as_of = start + pd.Timedelta(days=day) - pd.Timedelta(minutes=1)
            for ratio in rng.uniform(low, high, draws):
                target = float(totals[last_year] * ratio)
                r = target_chance(src, kpi, month, target, as_of=as_of)
                if r["status"] == "open" and r["actual"] < target:
                    rows.append({"month": month, "day": day, "target": target, "chance": r["chance"],
                                 "reached": bool(totals[month] >= target)})
    return pd.DataFrame(rows, columns=["month", "day", "target", "chance", "reached"])


def reliability_table(cases: pd.DataFrame, bins: int = 10) -> tuple[pd.DataFrame, float, tuple[float, float]]:
    """Stated chance against how often it came true, in ``bins`` bins of the stated chance
    (``bin``, ``stated``, ``observed``, ``cases``), and the calibration slope (logistic
    regression of what happened on the logit of the chance; 1 when the chances are neither
    too confident nor too timid) with its 95% interval."""
    import statsmodels.api as sm

    p = cases["chance"].clip(1e-4, 1 - 1e-4).to_numpy(float)
    y = cases["reached"].to_numpy(float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    table = (pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin")
             .agg(stated=("p", "mean"), observed=("y", "mean"), cases=("y", "size")).reset_index())
    if len(y) < 20 or y.min() == y.max():
        return table, math.nan, (math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y, sm.add_constant(np.log(p / (1 - p)))).fit(disp=0)
    low, high = fit.conf_int()[1]
    return table, float(fit.params[1]), (float(low), float(high))


# -- findings: how often a steady business's summary holds a false one --------------------------

FINDINGS_MONTHS = 26  # two years of history before the reported month, as a monthly report has


def _null_days() -> np.ndarray:
    start = pd.Period("2024-09", "M")
    return _days_between(start.start_time, (start + FINDINGS_MONTHS - 1).end_time)


def _days_between(start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return pd.date_range(start.normalize(), end.normalize(), freq="D").to_numpy().astype("datetime64[D]")


def _orders_frame(days: np.ndarray, counts: np.ndarray, amounts: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Canonical orders (guest checkouts: no customer ids) at random times of their days."""
    day = np.repeat(days, counts).astype("datetime64[ns]")
    seconds = rng.integers(8 * 3600, 20 * 3600, len(day)).astype("timedelta64[s]")
    return pd.DataFrame({"order_id": [f"O{i}" for i in range(len(day))], "ordered_at": day + seconds,
                         "amount": amounts, "status": "completed"})


def findings_null_realistic(rng: np.random.Generator, s: Scenario = SCENARIOS[1]) -> pd.DataFrame:
    """Orders of a steady business over :data:`FINDINGS_MONTHS` months: the realistic
    generator's day (weekday profile, Russian holidays, a day-to-day multiplier shared by the
    day's orders and amounts, heavy-tailed amounts with a day shock); nothing changes."""
    days = _null_days()
    level = np.asarray(s.weekday)[weekday(days)] * np.where(RU.is_holiday(days), s.holiday_factor, 1.0)
    g = rng.gamma(1 / s.day_cv**2, s.day_cv**2, len(days)) if s.day_cv > 0 else np.ones(len(days))
    counts = rng.poisson(s.orders_per_day * level * g)
    shock = np.repeat(np.exp(rng.normal(0, s.amount_day_sd, len(days))), counts)
    amounts = np.exp(rng.normal(np.log(50.0), s.amount_sigma, int(counts.sum()))) * shock
    return _orders_frame(days, counts, amounts, rng)


def real_order_amounts(name: str, shared: Path) -> pd.DataFrame:
    """A real dataset's orders as ``date`` and ``amount`` (CDNOW: one purchase record an
    order; Superstore: an order's lines summed)."""
    if name == "cdnow":
        raw = pd.read_csv(shared / "cdnow_transactions" / "CDNOW_master.txt", sep=r"\s+", header=None,
                          names=["customer", "date", "cds", "amount"], dtype={"date": str})
        return pd.DataFrame({"date": pd.to_datetime(raw["date"], format="%Y%m%d"), "amount": raw["amount"]})
    if name == "superstore":
        lines = pd.read_csv(shared / "superstore" / "superstore_orders.csv")
        orders = lines.groupby("Order ID").agg(date=("Order Date", "first"), amount=("Sales", "sum"))
        return pd.DataFrame({"date": pd.to_datetime(orders["date"]).to_numpy(), "amount": orders["amount"].to_numpy()})
    raise ValueError(f"unknown real dataset {name!r}: cdnow or superstore")


def findings_null_real(rng: np.random.Generator, orders: pd.DataFrame, *, block: int = 182) -> pd.DataFrame:
    """Orders over :data:`FINDINGS_MONTHS` months whose every day is a real day of the same
    weekday drawn from one half-year of ``orders`` (:func:`real_order_amounts`), its orders
    copied whole: real days, real checks, and nothing that changes over the months."""
    dates = orders["date"].dt.normalize().to_numpy().astype("datetime64[D]")
    span = _days_between(pd.Timestamp(dates.min()), pd.Timestamp(dates.max()))
    lo = int(rng.integers(0, len(span) - block))
    pool = span[lo:lo + block]
    by_wd = {k: pool[weekday(pool) == k] for k in range(7)}
    rows = pd.Series(np.arange(len(orders))).groupby(dates).agg(list)
    days = _null_days()
    picks = [rng.choice(by_wd[int(k)]) for k in weekday(days)]
    chosen = [rows.get(d, []) for d in picks]
    counts = np.array([len(c) for c in chosen])
    amounts = orders["amount"].to_numpy(float)[np.concatenate([np.asarray(c, int) for c in chosen])]
    return _orders_frame(days, counts, amounts, rng)


def findings_table(*, trials: int = 200, seed: int = 2026, shared: Path | None = None,
                   progress: Callable[[str], Any] | None = None) -> pd.DataFrame:
    """Share of steady-business summaries (:func:`salesnb.findings.findings` for the last
    month, on orders alone) that hold any finding: the realistic generator at day CV 0.15 and
    0.30, and resampled real days of CDNOW and Superstore. Every finding there is false."""
    from salesnb.context import report_context
    from salesnb.data import SalesData
    from salesnb.findings import findings

    period = str(pd.Period("2024-09", "M") + FINDINGS_MONTHS - 1)
    sources: list[tuple[str, Callable[[np.random.Generator], pd.DataFrame]]] = [
        ("steady orders: day CV 0.15", lambda r: findings_null_realistic(r, SCENARIOS[1])),
        ("steady orders: day CV 0.30", lambda r: findings_null_realistic(r, SCENARIOS[2])),
    ]
    for name in ("cdnow", "superstore"):
        if shared is not None and (shared / {"cdnow": "cdnow_transactions"}.get(name, name)).exists():
            real = real_order_amounts(name, shared)
            sources.append((f"{name}: resampled real days", partial(findings_null_real, orders=real)))
    rows = []
    for i, (label, make) in enumerate(sources):
        if progress:
            progress(label)
        rng = np.random.default_rng([seed, 400 + i])
        kinds: list[str] = []
        with_any = 0
        for _ in range(trials):
            ctx = report_context(period, SalesData({"orders": make(rng)}), holidays="RU")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = findings(ctx)
            with_any += bool(len(found))
            kinds += list(found["kind"])
        rows.append({"source": label, "summaries": trials, "with_a_false_finding": with_any / trials,
                     "kinds": ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds))) or "–"})
    return pd.DataFrame(rows)


# --- calls and activities -------------------------------------------------------------------

ACTIVITY_MONTH = "2026-03"
ACTIVITY_BASE = np.array([0.45, 0.30, 0.15, 0.10])  # call, e-mail, meeting, message


def activity_null(rng: np.random.Generator, *, reps: int = 20, shift: float = 0.0) -> pd.DataFrame:
    """One month of a team's activities where every rep works alike, or, with ``shift``, one
    rep (``rep 0``) whose e-mail share is higher by ``shift`` (taken from calls).

    Not the permutation test's model: reps carry different workloads (gamma), deals have
    overdispersed numbers of activities (1 + negative binomial, mean 5) whose kinds are
    alike within a deal (Dirichlet around the team's mix) and whose times cluster around
    the deal's own hour; days follow a weekday profile with a shared day multiplier (gamma,
    CV 0.3) and a shared day shock on the e-mail share (log-odds sd 0.3).
    """
    days = pd.date_range(ACTIVITY_MONTH, periods=pd.Period(ACTIVITY_MONTH).days_in_month, freq="D")
    profile = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.3, 0.1])[days.day_of_week] * rng.gamma(1 / 0.09, 0.09, len(days))
    email_shock = rng.normal(0, 0.3, len(days))
    workload = rng.gamma(4.0, 15.0, reps)
    units = rng.poisson(workload)
    owner = np.repeat(np.arange(reps), units)
    n_units = len(owner)
    base = np.tile(ACTIVITY_BASE, (n_units, 1))
    if shift:
        base[owner == 0] += np.array([-shift, shift, 0, 0])
    mix = np.vstack([rng.dirichlet(3.0 * b) for b in base])
    size = 1 + rng.negative_binomial(1.5, 1.5 / 5.5, n_units)
    start = rng.choice(len(days), n_units, p=profile / profile.sum())
    hour_centre = rng.choice([9.5, 11.5, 14.5, 16.5, 18.0], n_units)
    idx = np.repeat(np.arange(n_units), size)
    day = np.minimum(start[idx] + rng.exponential(5.0, len(idx)).astype(int), len(days) - 1)
    odds = mix[idx].copy()
    odds[:, 1] *= np.exp(email_shock[day])
    odds /= odds.sum(axis=1, keepdims=True)
    kind = (rng.random(len(idx))[:, None] > np.cumsum(odds, axis=1)).sum(axis=1).clip(0, 3)
    hour = np.clip(hour_centre[idx] + rng.normal(0, 1.5, len(idx)), 7, 21.9)
    when = days.to_numpy()[day] + (hour * 3600e6).astype("timedelta64[us]")
    return pd.DataFrame({"activity_id": [f"A{i}" for i in range(len(idx))], "occurred_at": when,
                         "kind": np.array(["call", "email", "meeting", "message"])[kind],
                         "owner": [f"rep {o}" for o in owner[idx]], "deal_id": [f"D{u}" for u in idx]})


def rep_pattern_table(*, trials: int = 200, seed: int = 2026, alpha: float = 0.05, shift: float = 0.2,
                      permutations: int = 199) -> pd.DataFrame:
    """Months with any rep flagged (:func:`salesnb.activities.unusual_reps`) when every rep
    works alike (all false), and how often the one planted rep is flagged at ``shift``."""
    from salesnb.activities import unusual_reps
    from salesnb.context import report_context
    from salesnb.data import SalesData

    rows = []
    for label, planted in (("reps alike", 0.0), (f"rep 0 e-mails +{shift:.0%}", shift)):
        rng = np.random.default_rng([seed, 500 + int(planted * 100)])
        false_any = found = 0
        for _ in range(trials):
            ctx = report_context(ACTIVITY_MONTH, SalesData({"activities": activity_null(rng, shift=planted)}),
                                 alpha=alpha)
            flagged = unusual_reps(ctx, permutations=permutations)
            flagged = flagged[flagged["differs"]] if len(flagged) else flagged
            false_any += bool((flagged["owner"] != "rep 0").any() if planted else len(flagged))
            found += bool(planted and (flagged["owner"] == "rep 0").any())
        rows.append({"scenario": label, "trials": trials, "months_with_a_false_flag": false_any / trials,
                     "planted_rep_found": found / trials if planted else math.nan})
    return pd.DataFrame(rows)


def response_null(rng: np.random.Generator, *, slope: float = 0.0, leads: int = 4000) -> pd.DataFrame:
    """A year of leads whose conversion does not depend on the wait for the first response
    (or, with ``slope``, falls by ``slope`` in log odds per doubling of it).

    Channels differ in both conversion and response time (the confounder the regression
    adjusts for); weeks share shocks on conversion (logit sd 0.3) and, independently, on
    response times (log2 sd 0.5); response times are heavy-tailed (a t with 4 degrees of
    freedom on log2 hours), not the normal the demo draws.
    """
    weeks = 52
    week = rng.integers(0, weeks, leads)
    channel = rng.choice(4, leads, p=(0.4, 0.3, 0.2, 0.1))
    segment = rng.choice(3, leads, p=(0.6, 0.3, 0.1))
    conv_shock, resp_shock = rng.normal(0, 0.3, weeks), rng.normal(0, 0.5, weeks)
    log2_hours = (2.0 + np.array([0.0, -0.4, 0.3, 1.2])[channel] + resp_shock[week]
                  + 1.5 * rng.standard_t(4, leads))
    logit = (-2.2 + np.array([0.0, 0.3, -0.2, -1.0])[channel] + np.array([0.0, 0.4, -0.3])[segment]
             + conv_shock[week] + slope * (log2_hours - 2.0))
    converted = rng.random(leads) < 1 / (1 + np.exp(-logit))
    created = pd.Timestamp("2025-01-06") + pd.to_timedelta(week * 7 + rng.uniform(0, 7, leads), unit="D")
    return pd.DataFrame({"created_at": created, "hours": np.exp2(log2_hours), "converted_in_time": converted,
                         "channel": np.array(["a", "b", "c", "d"])[channel],
                         "segment": np.array(["s", "m", "l"])[segment]})


def response_table(*, trials: int = 200, seed: int = 2026, alpha: float = 0.05,
                   slope: float = -0.15) -> pd.DataFrame:
    """The response analysis (:func:`salesnb.activities.fit_response`): how often it calls an
    association significant where there is none, how often it finds a planted ``slope``, and
    how often its interval covers the planted odds ratio."""
    from salesnb.activities import fit_response

    rows = []
    for label, planted in (("no effect", 0.0), (f"log odds {slope:+.2f} per doubling", slope)):
        rng = np.random.default_rng([seed, 600 + int(abs(planted) * 100)])
        significant = covered = 0
        for _ in range(trials):
            fit = fit_response(response_null(rng, slope=planted), alpha=alpha)
            significant += fit["p_value"] < alpha
            covered += fit["low"] <= math.exp(planted) <= fit["high"]
        rows.append({"scenario": label, "trials": trials, "significant": significant / trials,
                     "interval_covers_truth": covered / trials})
    return pd.DataFrame(rows)


# --- market opportunities -------------------------------------------------------------------

MARKET_MONTHS = 26
MARKET_PERIOD = str(pd.Period("2024-01", "M") + MARKET_MONTHS - 1)


def market_null(rng: np.random.Generator, *, ar: float = 0.3, shock_sd: float = 0.08, fast: float = 0.0,
                customers: int = 1500) -> dict[str, pd.DataFrame]:
    """Orders and customers of a business whose products, segments, regions and channels all
    grow alike (or, with ``fast``, one product, ``P0``, whose orders grow by ``fast`` a year
    more than the rest's).

    Not the Welch test's model: customers' order rates are heavy-tailed (gamma, shape 0.7)
    and they come and go (the base grows 12% a year), each has fixed product tastes
    (Dirichlet) independent of their segment, region and channel; months carry a season,
    a shared shock, and every product's, region's and channel's own log shock that follows
    an AR(1) with coefficient ``ar`` (segments drift apart for a while, and back); amounts
    are lognormal (sigma 0.8) with a day-level factor.
    """
    months = pd.period_range("2024-01", periods=MARKET_MONTHS, freq="M")
    products, regions, channels, segments = ([f"P{i}" for i in range(6)], ["N", "S", "E", "W"],
                                             ["web", "ads", "mail", "ref", "events"], ["small", "mid", "large"])

    def ar_path(k: int) -> np.ndarray:
        x = np.zeros((len(months), k))
        x[0] = rng.normal(0, shock_sd / math.sqrt(1 - ar**2), k)
        for m in range(1, len(months)):
            x[m] = ar * x[m - 1] + rng.normal(0, shock_sd, k)
        return x

    shock = {"product": ar_path(6), "region": ar_path(4), "channel": ar_path(5)}
    season = 1 + 0.15 * np.sin(np.arange(len(months)) / 12 * 2 * np.pi) + rng.normal(0, 0.05, len(months))
    joined = rng.uniform(-12, len(months), customers).astype(int)  # months since the start (before: old)
    left = joined + rng.exponential(30, customers).astype(int)
    rate = rng.gamma(0.7, 1.0 / 0.7, customers) * 1.2
    region = rng.integers(0, 4, customers)
    channel = rng.integers(0, 5, customers)
    segment = rng.integers(0, 3, customers)
    taste = rng.dirichlet(np.ones(6) * 0.8, customers)
    rows = []
    for m, month in enumerate(months):
        alive = np.flatnonzero((joined <= m) & (left > m))
        n = rng.poisson(rate[alive] * season[m])
        cust = np.repeat(alive, n)
        if not len(cust):
            continue
        prod = (taste[cust].cumsum(1) > rng.random((len(cust), 1))).argmax(1)
        weight = np.exp(shock["product"][m, prod] + shock["region"][m, region[cust]]
                        + shock["channel"][m, channel[cust]])
        keep = rng.random(len(cust)) < np.minimum(weight / 1.6, 1.0)
        cust, prod = cust[keep], prod[keep]
        if fast:  # the planted product: each of its orders brings extra ones at the growing rate
            copies = 1 + rng.poisson(np.where(prod == 0, (1 + fast) ** (m / 12) - 1, 0.0))
            cust, prod = np.repeat(cust, copies), np.repeat(prod, copies)
        day = rng.integers(0, month.days_in_month, len(cust))
        day_factor = np.exp(rng.normal(0, 0.1, month.days_in_month))[day]
        rows.append(pd.DataFrame({
            "ordered_at": month.start_time + pd.to_timedelta(day * 86400 + rng.integers(8 * 3600, 20 * 3600, len(cust)),
                                                             unit="s"),
            "customer_id": [f"C{c}" for c in cust], "product": np.array(products)[prod],
            "region": np.array(regions)[region[cust]], "channel": np.array(channels)[channel[cust]],
            "amount": (rng.lognormal(4.0, 0.8, len(cust)) * day_factor).round(2)}))
    orders = pd.concat(rows, ignore_index=True).sort_values("ordered_at", kind="stable").reset_index(drop=True)
    orders.insert(0, "order_id", [f"O{i}" for i in range(len(orders))])
    orders["status"] = "completed"
    seen = pd.Index(orders["customer_id"].unique())
    idx = np.array([int(c[1:]) for c in seen])
    customer_table = pd.DataFrame({"customer_id": seen, "segment": np.array(segments)[segment[idx]],
                                   "region": np.array(regions)[region[idx]],
                                   "acquired_via": np.array(channels)[channel[idx]]})
    return {"orders": orders, "customers": customer_table}


def market_table(*, trials: int = 200, seed: int = 2026, alpha: float = 0.05, fast: float = 0.3,
                 progress: Callable[[str], Any] | None = None) -> pd.DataFrame:
    """Share of steady markets (:func:`market_null`) on which the opportunities page lists
    anything (all false), at AR(1) 0 and 0.3 of the segments' monthly shocks, and how often
    a product growing ``fast`` a year more than the rest is listed."""
    from salesnb.context import report_context
    from salesnb.data import SalesData
    from salesnb.opportunities import opportunities

    rows = []
    for label, ar, planted in (("steady, months independent", 0.0, 0.0), ("steady, shocks AR(1) 0.3", 0.3, 0.0),
                               (f"P0 grows {fast:+.0%} a year more", 0.3, fast)):
        if progress:
            progress(label)
        rng = np.random.default_rng([seed, 700 + int(ar * 10) + int(planted * 100)])
        listed = found = 0
        for _ in range(trials):
            ctx = report_context(MARKET_PERIOD, SalesData(market_null(rng, ar=ar, fast=planted)), alpha=alpha)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows_found = opportunities(ctx)
            false = rows_found[~rows_found["text"].str.startswith("Product “P0”")] if planted else rows_found
            listed += bool(len(false))
            found += bool(planted) and rows_found["text"].str.startswith("Product “P0”").any()
        rows.append({"scenario": label, "trials": trials, "with_a_false_opportunity": listed / trials,
                     "planted_found": found / trials if planted else math.nan})
    return pd.DataFrame(rows)
