"""compare(): each statistic against the library run on the raw rows, the validity gate,
BH q-values, targets, driver split, reasons, sales cycle, calibration and planted facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats import proportion as smp  # module aliases: pytest would collect test_*
from statsmodels.stats import rates as smr
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

import salesnb
from salesnb import compare, reasons, revenue_drivers, sales_cycle

OCT, SEP = ("2026-10-01", "2026-11-01"), ("2026-09-01", "2026-10-01")


def _in(s: pd.Series, window: tuple[str, str]) -> pd.Series:
    return (s >= window[0]) & (s < window[1])


@pytest.fixture(scope="module")
def vs_previous(demo: salesnb.SalesData) -> pd.DataFrame:
    return compare(demo, "2026-10", against="previous").set_index(["kpi", "stage"], drop=False)


def _row(table: pd.DataFrame, kpi: str, stage: str | None = None) -> pd.Series:
    rows = table[(table["kpi"] == kpi) & ((table["stage"] == stage) if stage else table["stage"].isna())]
    assert len(rows) == 1
    return rows.iloc[0]


def _done(demo: salesnb.SalesData, window: tuple[str, str]) -> pd.DataFrame:
    o = demo["orders"]
    return o[_in(o["ordered_at"], window) & (o["status"] != "cancelled")]


def test_average_check_is_welch_on_raw_orders(demo: salesnb.SalesData, vs_previous: pd.DataFrame) -> None:
    x1, x0 = _done(demo, OCT)["amount"], _done(demo, SEP)["amount"]
    row = _row(vs_previous, "average_check")
    assert row["p_value"] == pytest.approx(sps.ttest_ind(x1, x0, equal_var=False).pvalue, rel=1e-9)
    low, high = CompareMeans(DescrStatsW(x1), DescrStatsW(x0)).tconfint_diff(usevar="unequal")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9)
    assert row["abs_change"] == pytest.approx(x1.mean() - x0.mean())


def test_win_rate_is_the_statsmodels_proportion_test(demo: salesnb.SalesData,
                                                     vs_previous: pd.DataFrame) -> None:
    d = demo["deals"]

    def counts(window: tuple[str, str]) -> tuple[int, int]:
        closed = d[_in(d["closed_at"], window) & d["outcome"].isin(["won", "lost"])]
        return int((closed["outcome"] == "won").sum()), len(closed)

    (w1, n1), (w0, n0) = counts(OCT), counts(SEP)
    row = _row(vs_previous, "win_rate")
    assert row["p_value"] == pytest.approx(smp.test_proportions_2indep(w1, n1, w0, n0).pvalue)
    low, high = smp.confint_proportions_2indep(w1, n1, w0, n0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


def test_orders_are_the_statsmodels_poisson_test(demo: salesnb.SalesData, vs_previous: pd.DataFrame) -> None:
    c1, c0 = len(_done(demo, OCT)), len(_done(demo, SEP))
    row = _row(vs_previous, "orders")
    assert row["p_value"] == pytest.approx(smr.test_poisson_2indep(c1, 31, c0, 30).pvalue)
    ratio_low, ratio_high = smr.confint_poisson_2indep(c1, 31, c0, 30)
    scaled = c0 * 31 / 30  # September's count at October's length
    assert row["baseline"] == pytest.approx(scaled)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((scaled * (ratio_low - 1), scaled * (ratio_high - 1)))
    assert row["note"] == "baseline scaled from 30 to 31 days"


def test_revenue_is_the_compound_poisson_z(demo: salesnb.SalesData, vs_previous: pd.DataFrame) -> None:
    x1, x0 = _done(demo, OCT)["amount"], _done(demo, SEP)["amount"]
    d = x1.sum() / 31 - x0.sum() / 30
    se = np.sqrt((x1**2).sum() / 31**2 + (x0**2).sum() / 30**2)
    row = _row(vs_previous, "revenue")
    assert row["p_value"] == pytest.approx(2 * sps.norm.sf(abs(d) / se))
    assert row["ci_low"] == pytest.approx((d - 1.959963984540054 * se) * 31)
    assert row["abs_change"] == pytest.approx(x1.sum() - x0.sum() * 31 / 30)


def test_sales_cycle_median_bootstrap(demo: salesnb.SalesData) -> None:
    d = demo["deals"]

    def days(window: tuple[str, str]) -> np.ndarray:
        won = d[_in(d["closed_at"], window) & (d["outcome"] == "won")]
        return (won["closed_at"].dt.normalize() - won["created_at"].dt.normalize()).dt.days.to_numpy(float)

    x1, x0 = days(("2026-07-01", "2026-10-01")), days(("2026-04-01", "2026-07-01"))
    row = _row(compare(demo, "2026-Q3", kpis=["sales_cycle_days"]), "sales_cycle_days")
    assert row["abs_change"] == np.median(x1) - np.median(x0)

    def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(a, axis=axis) - np.median(b, axis=axis)

    boot = sps.bootstrap((x1, x0), stat, n_resamples=2000, method="percentile", vectorized=True,
                         rng=np.random.default_rng(20261031))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(boot.confidence_interval))
    dist = boot.bootstrap_distribution
    assert row["p_value"] == pytest.approx(min(1, 2 * min((dist <= 0).mean(), (dist >= 0).mean())))


def test_q_values_are_benjamini_hochberg(vs_previous: pd.DataFrame) -> None:
    ok = vs_previous[vs_previous["status"] == "ok"]
    expected = multipletests(ok["p_value"], method="fdr_bh")[1]
    np.testing.assert_allclose(ok["q_value"], expected)
    assert (vs_previous["significant"] == ((vs_previous["status"] == "ok") & (vs_previous["q_value"] < 0.05))).all()
    assert vs_previous.loc[vs_previous["status"] != "ok", "significant"].eq(False).all()


def test_gate_immature_cohorts(vs_previous: pd.DataFrame) -> None:
    # October's leads and funnel entries have not had time to convert by 31 October
    assert _row(vs_previous, "conversion_rate")["status"] == "immature"
    assert _row(vs_previous, "stage_conversion", "proposal")["status"] == "immature"
    assert "cohort still converting" in _row(vs_previous, "conversion_rate")["note"]
    assert _row(vs_previous, "pipeline_value")["status"] == "not_tested"


def test_gate_insufficient_data(demo: salesnb.SalesData) -> None:
    c = compare(demo, "2026-10", kpis=["win_rate", "orders"], min_events=500).set_index("kpi")
    assert c.loc["win_rate", "status"] == "insufficient_data"
    assert c.loc["win_rate", "note"].startswith("too few events (")
    assert not c.loc["win_rate", "significant"]
    assert c.loc["orders", "status"] == "ok"


def test_gate_incomplete_period_compares_to_date(demo: salesnb.SalesData) -> None:
    c = compare(demo, "2026-10", kpis=["revenue"], as_of="2026-10-15").iloc[0]
    assert c["status"] == "incomplete_period" and not c["significant"]
    assert c["current"] == pytest.approx(_done(demo, ("2026-10-01", "2026-10-16"))["amount"].sum())
    assert c["baseline"] == pytest.approx(_done(demo, ("2026-09-01", "2026-09-16"))["amount"].sum())
    assert "compared to date" in c["note"]


def test_gate_missing_table(demo: salesnb.SalesData) -> None:
    only_orders = salesnb.SalesData({"orders": demo["orders"]})
    c = compare(only_orders, "2026-10", kpis=["orders", "win_rate"]).set_index("kpi")
    assert c.loc["win_rate", "status"] == "missing_table"
    assert c.loc["orders", "status"] == "ok"


def test_against_target(demo: salesnb.SalesData) -> None:
    t = demo["targets"]
    c = compare(demo, "2026-10", against="target", kpis=["revenue", "conversion_rate"]).set_index("kpi")
    target = t[(t["period"] == "2026-10") & (t["kpi"] == "revenue") & t["segment_column"].isna()]["value"].iloc[0]
    assert c.loc["revenue", "baseline"] == target
    assert c.loc["revenue", "abs_change"] == pytest.approx(_done(demo, OCT)["amount"].sum() - target)
    assert c.loc["revenue", "status"] == "ok"
    # a quarter's revenue target is the sum of its months' targets
    q = compare(demo, "2026-Q3", against="target", kpis=["revenue"]).iloc[0]
    months = t[t["period"].isin(["2026-07", "2026-08", "2026-09"]) & (t["kpi"] == "revenue")
               & t["segment_column"].isna()]["value"].sum()
    assert q["baseline"] == months
    by = compare(demo, "2026-10", against="target", kpis=["revenue", "orders"], by="region")
    assert (by.loc[by["kpi"] == "orders", "status"] == "no_target").all()
    assert (by.loc[by["kpi"] == "revenue", "status"] == "ok").all()


def test_revenue_driver_split_is_exact(demo: salesnb.SalesData) -> None:
    total = _done(demo, OCT)["amount"].sum() - _done(demo, SEP)["amount"].sum()
    split = revenue_drivers(demo, "2026-10").set_index("part")["effect"]
    assert split["total"] == pytest.approx(total)
    assert split["orders"] + split["average_check"] == pytest.approx(total)
    o1, o0 = len(_done(demo, OCT)), len(_done(demo, SEP))
    a1, a0 = _done(demo, OCT)["amount"].mean(), _done(demo, SEP)["amount"].mean()
    assert split["orders"] == pytest.approx((o1 - o0) * (a0 + a1) / 2)
    mix = revenue_drivers(demo, "2026-10", by="channel")
    parts = mix[mix["part"].isin(["orders", "mix", "rate"])]["effect"].sum()
    assert parts == pytest.approx(total)
    assert set(mix.loc[mix["part"] == "mix", "channel"]) == set(demo["orders"]["channel"])


def test_reasons(demo: salesnb.SalesData) -> None:
    r = demo["returns"]
    got = reasons(demo, "2026-06", kind="returns").set_index("reason")
    june = r[_in(r["returned_at"], ("2026-06-01", "2026-07-01")) & (r["kind"] == "return")]
    expected = june.groupby("reason").agg(count=("amount", "size"), amount=("amount", "sum"))
    assert got["count"].to_dict() == expected["count"].to_dict()
    assert got["amount"].to_dict() == pytest.approx(expected["amount"].to_dict())
    assert got.index[0] == "defective"  # the planted spike leads
    assert got["share"].sum() == pytest.approx(1.0)
    refusals = reasons(demo, "2026-10", kind="refusals").set_index("reason")
    o = demo["orders"]
    assert refusals.loc["order cancelled", "count"] == (_in(o["ordered_at"], OCT) & (o["status"] == "cancelled")).sum()
    lost = reasons(demo, "2026-10", kind="lost_deals")
    d = demo["deals"]
    assert lost["count"].sum() == (_in(d["closed_at"], OCT) & (d["outcome"] == "lost")).sum()


def test_sales_cycle_table_and_kaplan_meier(demo: salesnb.SalesData) -> None:
    t = sales_cycle(demo, "2026-Q2").iloc[0]
    d = demo["deals"]
    won = d[_in(d["closed_at"], ("2026-04-01", "2026-07-01")) & (d["outcome"] == "won")]
    days = (won["closed_at"].dt.normalize() - won["created_at"].dt.normalize()).dt.days
    assert (t["median"], t["mean"], t["won"]) == (np.median(days), pytest.approx(days.mean()), len(won))
    assert t["p90"] == pytest.approx(np.percentile(days, 90))
    created = d[_in(d["created_at"], ("2026-04-01", "2026-07-01")) & d["outcome"].isin(["won", "open"])]
    end = pd.Timestamp("2026-10-31")
    time = np.where(created["outcome"] == "won",
                    (created["closed_at"].dt.normalize() - created["created_at"].dt.normalize()).dt.days,
                    (end - created["created_at"].dt.normalize()).dt.days)
    km = SurvfuncRight(time.astype(float), (created["outcome"] == "won").astype(int).to_numpy())
    assert t["km_median"] == km.quantile(0.5)


def test_kaplan_meier_by_hand() -> None:
    # 4 deals: won after 2 and 4 days, one open (censored) at 3 days, one won after 6 days.
    # KM: S(2)=3/4, S(4)=3/4·1/2=3/8 < 0.5 → median 4
    deals = pd.DataFrame({"deal_id": list("abcd"), "outcome": ["won", "won", "open", "won"],
                          "created_at": pd.to_datetime(["2026-10-01", "2026-10-01", "2026-10-28", "2026-10-02"]),
                          "closed_at": pd.to_datetime(["2026-10-03", "2026-10-05", None, "2026-10-08"])})
    t = sales_cycle(salesnb.SalesData({"deals": deals}), "2026-10", as_of="2026-10-31").iloc[0]
    assert t["km_median"] == 4.0
    assert t["median"] == 4.0 and t["still_open"] == 1


def _null_company(seed: int) -> salesnb.SalesData:
    """Two months with identical daily rates per owner: every change is noise."""
    rng = np.random.default_rng(seed)
    owners = [f"rep{i:03d}" for i in range(120)]
    days = pd.date_range("2026-09-01", "2026-10-31", freq="D")
    orders, leads, deals = [], [], []
    for owner in owners:
        n = rng.poisson(3.0, size=len(days))
        for day, k in zip(days, n, strict=True):
            for _ in range(k):
                orders.append((owner, day + pd.Timedelta(minutes=int(rng.integers(600))),
                               float(rng.lognormal(4.5, 0.6))))
        m = rng.poisson(1.5, size=len(days))
        for day, k in zip(days, m, strict=True):
            for _ in range(k):
                leads.append((owner, day, day + pd.Timedelta(days=1) if rng.random() < 0.2 else None))
                if rng.random() < 0.5:
                    deals.append((owner, day - pd.Timedelta(days=20), day,
                                  "won" if rng.random() < 0.3 else "lost"))
    o = pd.DataFrame(orders, columns=["owner", "ordered_at", "amount"])
    o["order_id"] = [f"o{i}" for i in range(len(o))]
    o["customer_id"] = [f"c{i}" for i in range(len(o))]
    o["status"] = "completed"
    lf = pd.DataFrame(leads, columns=["owner", "created_at", "converted_at"])
    lf["lead_id"] = [f"l{i}" for i in range(len(lf))]
    lf["converted_at"] = pd.to_datetime(lf["converted_at"])
    df = pd.DataFrame(deals, columns=["owner", "created_at", "closed_at", "outcome"])
    df["deal_id"] = [f"d{i}" for i in range(len(df))]
    return salesnb.SalesData({"orders": o, "leads": lf, "deals": df})


def test_calibration_on_null_data() -> None:
    data = _null_company(11)
    kpis = ["orders", "revenue", "average_check", "leads", "conversion_rate", "win_rate"]
    c = compare(data, "2026-10", by="owner", kpis=kpis, min_events=1, as_of="2027-06-30")
    ok = c[c["status"] == "ok"]
    assert len(ok) >= 500
    flagged = (ok["p_value"] < 0.05).mean()
    assert flagged <= 0.05 + 0.02, f"{flagged:.3f} of {len(ok)} null comparisons flagged"
    assert ok["significant"].mean() <= 0.05 + 0.02


def test_planted_facts_inside_95_percent_intervals(demo: salesnb.SalesData, truth: dict) -> None:
    for ini in truth["initiatives"]:
        region = ini["segment"]["region"]
        # check window: from the start to the end of September (October's entries are immature)
        window = f"{ini['start']}..2026-09-30"
        c = compare(demo, window, against="last_year", by="region", kpis=["stage_conversion"])
        row = c[(c["stage"] == ini["stage"]) & (c["region"] == region)].iloc[0]
        assert row["ci_low"] <= ini["true_effect"] <= row["ci_high"], (ini["id"], row.to_dict())
        assert row["status"] == "ok"
    spike = truth["returns_spike"]
    c = compare(demo, spike["period"], kpis=["returns"], against="last_year").iloc[0]
    assert c["significant"] and c["abs_change"] > 0
