"""Market opportunities: the demo's planted fast product, new product and white-space pair are
found with intervals that cover the truth, every figure is the raw rows summed by hand, the
shrinkage is statsmodels' DerSimonian–Laird, a steady market lists nothing in at least 95% of
trials, and the real exports run through every table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb import calibration, config, opportunities

SHARED = config.ROOT.parent / "shared" / "data"
MONTH = "2026-10"


@pytest.fixture(scope="module")
def ctx(demo: salesnb.SalesData) -> salesnb.ReportContext:
    return salesnb.report_context(MONTH, demo)


@pytest.fixture(scope="module")
def grown(ctx: salesnb.ReportContext) -> pd.DataFrame:
    return opportunities.growth(ctx)


@pytest.fixture(scope="module")
def orders(demo_dir: Path) -> pd.DataFrame:
    o = pd.read_parquet(demo_dir / "orders.parquet")
    return o[o["status"] != "cancelled"]


def test_the_planted_fast_product_is_found_within_its_interval(grown: pd.DataFrame, truth: dict) -> None:
    fast = truth["fast_segment"]
    assert fast["judged_at"] == MONTH
    row = grown[(grown["dimension"] == fast["dimension"]) & (grown["value"] == fast["value"])].iloc[0]
    assert row["opportunity"] and row["money"] > 0
    assert row["low"] <= fast["relative_growth"] <= row["high"], (row["low"], fast["relative_growth"], row["high"])
    # the products it takes orders from fall behind; nothing else among the products grows clearly
    products = grown[(grown["dimension"] == "product") & grown["opportunity"]]
    assert list(products["value"]) == [fast["value"]]


def test_growth_is_the_rows_summed_by_hand(grown: pd.DataFrame, orders: pd.DataFrame) -> None:
    before, start, stop = pd.Timestamp("2024-11-01"), pd.Timestamp("2025-11-01"), pd.Timestamp("2026-11-01")
    year0 = orders[(orders["ordered_at"] >= before) & (orders["ordered_at"] < start)]
    year1 = orders[(orders["ordered_at"] >= start) & (orders["ordered_at"] < stop)]
    for dim in ("product", "region", "channel"):
        rows = grown[grown["dimension"] == dim].set_index("value")
        by0, by1 = year0.groupby(dim)["amount"].sum(), year1.groupby(dim)["amount"].sum()
        assert rows["revenue_before"].sort_index().to_numpy() == pytest.approx(
            by0.reindex(rows.index).fillna(0).sort_index().to_numpy(), rel=1e-9)
        # the parts add up to the whole in each year
        assert rows["revenue_now"].sum() == pytest.approx(year1["amount"].sum(), rel=1e-9)
        for value, r in rows.iterrows():
            if r["judged"]:
                rest0, rest1 = year0["amount"].sum() - by0[value], year1["amount"].sum() - by1[value]
                assert r["rest_growth"] == pytest.approx(rest1 / rest0 - 1, rel=1e-9)
                assert r["relative"] == pytest.approx((by1[value] / by0[value]) / (rest1 / rest0), rel=1e-9)


def test_the_shrinkage_is_dersimonian_laird(grown: pd.DataFrame) -> None:
    """τ² by the DerSimonian–Laird formula written out here, and each shrunk growth the
    normal posterior mean toward 1 (grows like the rest)."""
    shrink = grown.attrs["shrinkage"].dropna(subset=["se"]).merge(grown[["dimension", "value", "relative_shrunk"]])
    for dim, g in shrink.groupby("dimension"):
        if len(g) < 3:
            continue
        d, v = g["log_relative"].to_numpy(), g["se"].to_numpy() ** 2
        w = 1 / v
        q = (w * (d - (w * d).sum() / w.sum()) ** 2).sum()
        tau2 = max(0.0, (q - (len(d) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
        assert g["tau2"].iloc[0] == pytest.approx(tau2, rel=1e-9, abs=1e-15), dim
        assert np.log(g["relative_shrunk"]).to_numpy() == pytest.approx(d * tau2 / (tau2 + v), rel=1e-9, abs=1e-12)


def test_the_buyers_variance_matches_a_bootstrap_over_customers(ctx: salesnb.ReportContext) -> None:
    table = opportunities.monthly(ctx)
    clusters = table.attrs["clusters"]
    delta = opportunities._cluster_variances(clusters)
    rng = np.random.default_rng(5)
    total = clusters[clusters["dimension"] == "all"].pivot_table(index="cluster", columns="year", values="revenue",
                                                                 aggfunc="sum", fill_value=0.0)
    for value in ("Accessories", "Pro pack"):
        seg = clusters[(clusters["dimension"] == "product") & (clusters["value"] == value)].pivot_table(
            index="cluster", columns="year", values="revenue", aggfunc="sum", fill_value=0.0).reindex(
            total.index, fill_value=0.0)
        a, tot = seg.to_numpy(), total.to_numpy()
        draws = []
        for _ in range(400):
            pick = rng.integers(0, len(a), len(a))
            s, t_ = a[pick].sum(0), tot[pick].sum(0)
            draws.append(math.log((s[1] / (t_[1] - s[1])) / (s[0] / (t_[0] - s[0]))))
        boot = float(np.var(draws, ddof=1))
        assert delta[("product", value)] == pytest.approx(boot, rel=0.25), value


def test_the_new_product_and_its_white_space(ctx: salesnb.ReportContext, orders: pd.DataFrame, demo_dir: Path,
                                             truth: dict) -> None:
    new = opportunities.new_products(ctx)
    product = truth["new_product"]["product"]
    assert list(new["product"]) == [product]
    row = new.iloc[0]
    sold = orders[orders["product"] == product]
    assert row["launched"] == truth["new_product"]["launched"][:7]
    assert row["buyers"] == sold["customer_id"].nunique() and row["orders"] == len(sold)
    curve = opportunities.uptake(ctx, new)
    assert curve["buyers"].is_monotonic_increasing and curve["buyers"].iloc[-1] == row["buyers"]
    space = opportunities.white_space(ctx)
    ws = truth["white_space"]
    flagged = space[space["opportunity"]]
    assert len(flagged) == 1
    hit = flagged.iloc[0]
    assert (hit["column"], hit["group"], hit["product"]) == (ws["column"], ws["value"], ws["product"])
    assert hit["low"] <= ws["visible_share"] <= hit["high"], (hit["low"], ws["visible_share"], hit["high"])
    # the share by hand: active customers of the segment (an order in the year) who ever bought it
    customers = pd.read_parquet(demo_dir / "customers.parquet").set_index("customer_id")
    active = orders[(orders["ordered_at"] >= "2025-11-01") & (orders["ordered_at"] < "2026-11-01")]["customer_id"]
    active = pd.Index(active.unique())
    inside = active[customers["segment"].reindex(active).to_numpy() == ws["value"]]
    buyers = set(orders.loc[(orders["product"] == product) & (orders["ordered_at"] < "2026-11-01"), "customer_id"])
    assert hit["customers"] == len(inside) and hit["buyers"] == sum(c in buyers for c in inside)
    from statsmodels.stats.proportion import proportions_ztest

    k_out = sum(c in buyers for c in active) - hit["buyers"]
    _, p = proportions_ztest([hit["buyers"], k_out], [len(inside), len(active) - len(inside)])
    assert hit["p_value"] == pytest.approx(p, rel=1e-6)


def test_the_ranked_list_holds_the_three_planted_truths(ctx: salesnb.ReportContext, truth: dict) -> None:
    found = opportunities.opportunities(ctx)
    assert list(found.columns) == opportunities.COLUMNS
    assert found["money"].is_monotonic_decreasing
    assert set(found["kind"]) == {"growth", "new_product", "white_space"}
    text = " | ".join(found["text"])
    assert truth["fast_segment"]["value"] in text and truth["new_product"]["product"] in text


def test_a_steady_market_lists_nothing_in_95_percent_of_trials() -> None:
    """40 trials per scenario (``make calibrate`` runs 200): at most 5% there; here a bound a
    7% rate would still pass with 95% probability."""
    table = calibration.market_table(trials=40)
    print(table.to_string())
    for r in table.itertuples():
        assert r.with_a_false_opportunity <= 6 / 40, r


def test_short_history_says_so(demo: salesnb.SalesData) -> None:
    early = opportunities.growth(salesnb.report_context("2025-06", demo))
    assert early.empty and "two full years" in early.attrs["note"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not here")
@pytest.mark.parametrize(("preset", "period"), [("superstore", "2014-12"), ("cdnow", "1998-06"),
                                                ("online_retail", "2011-11")])
def test_real_exports_run_through_every_table(preset: str, period: str) -> None:
    params = config.read_params(config.PARAMS_DIR / "examples" / f"{preset}.yaml")
    data = salesnb.load(params["source"], base_dir=config.ROOT)
    ctx = salesnb.report_context(period, data, alpha=0.05)
    grown = opportunities.growth(ctx)
    if len(grown):
        for dim, rows in grown.groupby("dimension"):
            assert rows["revenue_now"].sum() > 0, dim
            assert ((rows["low"] <= rows["relative_shrunk"]) | rows["low"].isna()).all()
    else:
        assert grown.attrs["note"]
    found = opportunities.opportunities(ctx)
    assert len(found) <= 10 and list(found.columns) == opportunities.COLUMNS
