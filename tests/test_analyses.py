"""Funnel, feedback, marketing and team against the demo's planted facts and plain pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb import feedback, funnel
from salesnb.context import report_context


@pytest.mark.parametrize("period", ["2025", "2025-Q4", "2026-Q2", "2026-08", "2026-Q3"])
def test_weak_spot_is_the_planted_weak_stage(demo: salesnb.SalesData, truth: dict, period: str) -> None:
    spots = funnel.weak_spots(report_context(period, demo))
    assert spots.columns[0] == "stage"
    assert spots.iloc[0]["stage"] == truth["weak_stage"]
    assert bool(spots.iloc[0]["weak"])
    assert spots.iloc[0]["ci_others_high"] < 0


def test_stage_table_matches_pandas(demo: salesnb.SalesData) -> None:
    t = funnel.stage_table(report_context("2026-Q2", demo)).set_index("stage")
    st = demo["deal_stages"]
    q2 = st[(st["entered_at"] >= "2026-04-01") & (st["entered_at"] < "2026-07-01")]
    entered = q2[q2["stage"] == "meeting"]
    nxt = st[st["stage"] == "proposal"].set_index("deal_id")["entered_at"]
    moved = entered[entered["deal_id"].isin(nxt.index)]
    days = (moved["deal_id"].map(nxt) - moved["entered_at"]).dt.total_seconds() / 86400
    assert t.loc["meeting", "entered"] == len(entered)
    assert t.loc["meeting", "advanced"] == len(moved)
    assert t.loc["meeting", "median_days"] == pytest.approx(days.median())


def test_lost_reasons_pareto(demo: salesnb.SalesData) -> None:
    lost = funnel.lost_reasons(report_context("2026-Q3", demo))
    assert lost["count"].is_monotonic_decreasing
    assert lost["cumulative"].iloc[-1] == pytest.approx(1.0)


def test_returns_spike_is_the_only_anomaly(demo: salesnb.SalesData, truth: dict) -> None:
    # every month with twelve months of history before it: 2025-01 to 2026-10
    table = feedback.anomalies(report_context("2026-10", demo), "returns", by="reason", periods=22)
    assert list(table.columns) == ["period", "reason", "value", "expected", "low", "high", "p_value", "anomaly"]
    flagged = table[table["anomaly"]]
    spike = truth["returns_spike"]
    assert ((flagged["period"] == spike["period"]) & (flagged["reason"] == spike["reason"])).any()
    assert len(flagged) <= 3, flagged
    r = demo["returns"]
    june = ((r["returned_at"].dt.to_period("M") == spike["period"]) & (r["reason"] == spike["reason"])
            & (r["kind"] == "return")).sum()
    assert flagged.set_index(["period", "reason"]).loc[(spike["period"], spike["reason"]), "value"] == june


def test_anomalies_rarely_fire_on_steady_data() -> None:
    rng = np.random.default_rng(3)
    days = pd.date_range("2023-01-01", "2025-12-31", freq="D")
    rows = []
    for reason in ("a", "b", "c", "d", "e"):
        for day, k in zip(days, rng.poisson(1.5, size=len(days)), strict=True):
            rows += [(reason, day)] * int(k)
    returns = pd.DataFrame(rows, columns=["reason", "returned_at"])
    returns["return_id"] = [f"r{i}" for i in range(len(returns))]
    returns["order_id"], returns["amount"], returns["kind"] = "o", 1.0, "return"
    table = feedback.anomalies(report_context("2025-12", salesnb.SalesData({"returns": returns})), "returns",
                               by="reason", periods=24)
    assert len(table) == 120
    assert table["anomaly"].sum() <= 1


def test_false_anomaly_pages_are_rare_on_realistic_steady_data() -> None:
    """Pages of eight KPIs × 24 months from daily data with weekdays, holidays, day-to-day
    variation, a season, a trend and drifting rates: at most 5% carry any false flag."""
    from salesnb.calibration import anomaly_table
    t = anomaly_table(pages=120, settings=[(0.3, 0.05)])
    assert t["pages_with_false_flag"].iloc[0] <= 0.05, t


def test_a_prediction_interval_uses_t_not_normal() -> None:
    # 13 months of 100 ± noise and a 14th at the *normal* 99% prediction bound of a trend fit:
    # on the t reference with 11 degrees of freedom that is p ≈ 0.026, not 0.01
    import statsmodels.api as sm
    from scipy import stats as sps

    from salesnb.stats.anomaly import month_prediction
    y = np.array([100.0, 103, 97, 101, 99, 102, 98, 100, 104, 96, 101, 99, 100, 0.0])
    X = sm.add_constant(np.arange(14.0))
    pred = sm.OLS(y[:13], X[:13]).fit().get_prediction(X[13:14])
    se_obs = float(np.sqrt(pred.se_mean[0] ** 2 + sm.OLS(y[:13], X[:13]).fit().scale))
    y[13] = float(pred.predicted_mean[0]) + sps.norm.ppf(0.995) * se_obs
    r = month_prediction(y, kind="mean", index=13, months=[1] * 14)
    assert r.expected == pytest.approx(float(pred.predicted_mean[0]))
    assert r.p_value == pytest.approx(2 * sps.t.sf(sps.norm.ppf(0.995), 11), rel=1e-6)
    assert r.p_value > 0.02


def test_latest_month_stages_are_immature_not_weak(demo: salesnb.SalesData) -> None:
    spots = funnel.weak_spots(report_context("2026-10", demo))
    assert (spots["status"] == "immature").all() and not spots["weak"].any()
    # a mature period judges each stage against its own same period a year earlier
    q3 = funnel.weak_spots(report_context("2026-Q3", demo)).set_index("stage")
    st = demo["deal_stages"]
    ly = st[(st["entered_at"] >= "2025-07-01") & (st["entered_at"] < "2025-10-01") & (st["stage"] == "proposal")]
    moved = ly["deal_id"].isin(st.loc[st["stage"] == "negotiation", "deal_id"])
    assert q3.loc["proposal", "last_year"] == pytest.approx(moved.mean())


def test_settings_reach_every_page_through_the_context(demo: salesnb.SalesData) -> None:
    # min_events from params gates the funnel page too (it used to take the default)
    assert (funnel.stage_table(report_context("2026-Q3", demo))["status"] == "ok").all()
    strict = report_context("2026-Q3", demo, min_events=10**6)
    assert (funnel.stage_table(strict)["status"] == "insufficient_data").all()
    # a custom KPI from params reaches the unusual-months check (it used to know built-ins only)
    custom = {"big": {"label": "Big orders", "kind": "count", "table": "orders", "good": "up",
                      "where": {"status": "completed", "amount": {">=": 1000}}}}
    table = feedback.anomalies(report_context("2026-10", demo, custom_kpis=custom), ["big"], periods=3)
    o = demo["orders"]
    big = o[(o["status"] == "completed") & (o["amount"] >= 1000)]
    per_month = big.groupby(big["ordered_at"].dt.to_period("M").astype(str)).size()
    assert list(table["period"]) == ["2026-08", "2026-09", "2026-10"]
    assert table.set_index("period")["value"].to_dict() == {m: per_month[m] for m in table["period"]}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_channel_revenue_is_each_converted_leads_orders_in_the_attribution_window(demo: salesnb.SalesData,
                                                                                  engine: str) -> None:
    """Counted by hand: a Q3 lead converts at its converted_at, else at its won deal's close
    (the deal's customer when the lead names none); its customer's orders, not cancelled,
    from that day for 180 days are the channel's revenue."""
    from salesnb import marketing

    table = marketing.channel_table(report_context("2026-Q3", demo, engine=engine)).set_index("channel")
    leads, deals, orders = demo["leads"], demo["deals"], demo["orders"]
    q3 = leads[(leads["created_at"] >= "2026-07-01") & (leads["created_at"] < "2026-10-01")].copy()
    won = deals[deals["outcome"] == "won"].set_index("lead_id")
    q3["at"] = q3["converted_at"].fillna(q3["lead_id"].map(won["closed_at"])).dt.normalize()
    q3["customer"] = q3["customer_id"].fillna(q3["lead_id"].map(won["customer_id"]))
    done = orders[orders["status"] != "cancelled"]
    expected: dict[str, float] = {}
    for _, lead in q3[q3["at"].notna() & q3["customer"].notna()].iterrows():
        mine = done[(done["customer_id"] == lead["customer"]) & (done["ordered_at"] >= lead["at"])
                    & (done["ordered_at"] < lead["at"] + pd.Timedelta(days=180))]
        expected[lead["channel"]] = expected.get(lead["channel"], 0.0) + float(mine["amount"].sum())
    assert sum(expected.values()) > 0
    for channel, revenue in expected.items():
        assert table.loc[channel, "revenue"] == pytest.approx(revenue, rel=1e-9), channel
    assert table["new_customers"].sum() == q3["at"].notna().sum()


def test_marketing_without_optional_link_columns(demo: salesnb.SalesData) -> None:
    # an export whose deals carry no lead ids and whose orders carry no customers (guest
    # checkout): the channel table still comes, from the leads' own conversions
    from salesnb import marketing

    tables = {n: demo[n] for n in ("leads", "campaigns")}
    tables["deals"] = demo["deals"].drop(columns=["lead_id", "customer_id"])
    tables["orders"] = demo["orders"].drop(columns=["customer_id"])
    table = marketing.channel_table(report_context("2026-Q3", salesnb.SalesData(tables)))
    leads = demo["leads"]
    q3 = leads[(leads["created_at"] >= "2026-07-01") & (leads["created_at"] < "2026-10-01")]
    assert table.set_index("channel")["leads"].to_dict() == q3.groupby("channel").size().to_dict()
    assert (table["revenue"] == 0).all()


def test_romi_bootstrap_draws_only_the_leads_that_carry_a_value() -> None:
    """The ROMI bootstrap draws how many of a resample's leads carry a value, then only
    those: the same distribution of resampled sums as drawing every lead (numpy, drawn in
    one go), the theory's mean and spread, and blocks (bounded memory) that do not change
    the draws. A thinning without the binomial count is told apart by the same checks."""
    from scipy import stats as sps

    from salesnb.stats import scores

    n = 20_000
    values = np.random.default_rng(1).exponential(100.0, n) * (np.random.default_rng(2).random(n) < 0.05)
    resamples = 4_000
    thinned = scores.resampled_totals(values, np.random.default_rng(3), resamples)
    rng = np.random.default_rng(4)
    every = np.concatenate([values[rng.integers(0, n, size=(500, n))].sum(axis=1) for _ in range(resamples // 500)])
    assert sps.ks_2samp(thinned, every).pvalue > 0.01
    mean, sd = n * values.mean(), math.sqrt(n * values.var())  # a resample's sum: n draws of the values
    assert abs(thinned.mean() - mean) < 4 * sd / math.sqrt(resamples)
    assert abs(thinned.std() / sd - 1) < 4 / math.sqrt(2 * resamples)
    # the wrong thinning (each resample the expected number of non-zero leads) is too narrow
    carried = values[values != 0]
    fixed = carried[np.random.default_rng(5).integers(0, len(carried), size=(resamples, len(carried)))].sum(axis=1)
    assert sps.ks_2samp(fixed, every).pvalue < 1e-6 and fixed.std() / sd < 0.9
    # small blocks: the same draws as one block
    small = scores.resampled_totals(values, np.random.default_rng(3), resamples, block=5_000)
    assert np.array_equal(small, thinned)
    # the interval: the percentile bootstrap's, to Monte Carlo error
    low, high = scores.spend_return_interval(values, 5_000.0)
    ref_low, ref_high = np.quantile((every - 5_000.0) / 5_000.0, [0.025, 0.975])
    assert abs(low - ref_low) < 0.1 * (ref_high - ref_low) and abs(high - ref_high) < 0.1 * (ref_high - ref_low)
