"""The demo generator: deterministic files, realistic volumes, and planted facts that are
really in the data (checked here with plain pandas, independently of salesnb's KPI code)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import salesnb
from salesnb.data.demo import write_demo


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_identical_files_every_run(demo_dir: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again")
    assert _hashes(again) == _hashes(demo_dir)
    other = write_demo(tmp_path / "other", seed=7, scale=0.05)
    assert _hashes(other)["orders.parquet"] != _hashes(demo_dir)["orders.parquet"]


def test_every_table_loads_cleanly(demo: salesnb.SalesData) -> None:
    assert demo.present == salesnb.data.TABLE_NAMES
    assert demo.warnings == ()


@pytest.mark.parametrize(
    ("table", "low", "high"),
    [("orders", 140_000, 165_000), ("leads", 38_000, 45_000), ("deals", 14_000, 18_000),
     ("returns", 5_000, 7_000), ("feedback", 14_000, 16_000)],
    ids=["orders", "leads", "deals", "returns", "feedback"],
)
def test_volumes(demo: salesnb.SalesData, table: str, low: int, high: int) -> None:
    assert low <= len(demo[table]) <= high


def test_company_shape(demo: salesnb.SalesData, truth: dict) -> None:
    orders = demo["orders"]
    assert orders["ordered_at"].min() >= pd.Timestamp("2024-01-01")
    assert orders["ordered_at"].max() < pd.Timestamp("2026-11-01")
    assert orders["ordered_at"].max() >= pd.Timestamp("2026-10-31")
    assert orders.groupby("owner")["region"].nunique().max() == 1  # a rep works one region
    assert orders["owner"].nunique() == 20 and orders["region"].nunique() == 4
    campaigns = demo["campaigns"]
    assert len(campaigns) == 40 and campaigns["channel"].nunique() == 6
    assert (campaigns["spend"] > 0).all()
    stages = demo["deal_stages"]
    assert stages["stage"].nunique() >= 4
    assert list(stages["stage"].unique()) == truth["funnel_stages"]
    assert set(demo["returns"]["kind"]) == {"return", "refusal"}
    comments = demo["feedback"]["comment"].dropna()
    assert comments.str.contains("[а-яА-Я]", regex=True).any()
    assert comments.str.contains("[a-zA-Z]", regex=True).any()
    assert (demo["feedback"]["source"] == "employee").sum() > 100
    targets = demo["targets"]
    per_month = targets[targets["segment_column"].isna()].groupby("period")["kpi"].nunique()
    assert per_month.index.min() == "2024-01" and (per_month >= 8).all()


def test_seasonality_and_growth(demo: salesnb.SalesData) -> None:
    done = demo["orders"][demo["orders"]["status"] == "completed"]
    month = done.groupby(done["ordered_at"].dt.to_period("M"))["amount"].sum()
    assert month[pd.Period("2025-12")] > 1.25 * month[pd.Period("2025-07")]  # December peak
    year = done.groupby(done["ordered_at"].dt.year)["amount"].sum()
    assert year[2025] > year[2024] * 1.05


def _stage_conversion(demo: salesnb.SalesData, stage: str, next_stage: str, region: str,
                      start: str, end: str) -> tuple[int, int]:
    """Deals of a region entering ``stage`` in [start, end) and how many reached the next."""
    stages, deals = demo["deal_stages"], demo["deals"][["deal_id", "region"]]
    s = stages.merge(deals, on="deal_id")
    entered = s[(s["stage"] == stage) & (s["region"] == region)
                & (s["entered_at"] >= start) & (s["entered_at"] < end)]
    advanced = entered["deal_id"].isin(s.loc[s["stage"] == next_stage, "deal_id"])
    return int(advanced.sum()), len(entered)


def _monthly_conversion(demo: salesnb.SalesData, stage: str, next_stage: str, region: str) -> pd.Series:
    s = demo["deal_stages"].merge(demo["deals"][["deal_id", "region"]], on="deal_id")
    entered = s[(s["stage"] == stage) & (s["region"] == region)]
    moved = entered["deal_id"].isin(s.loc[s["stage"] == next_stage, "deal_id"])
    return moved.groupby(entered["entered_at"].dt.to_period("M")).mean()


@pytest.mark.parametrize("index", [0, 1], ids=["call-script", "null-initiative"])
def test_planted_initiatives(demo: salesnb.SalesData, truth: dict, index: int) -> None:
    # region-month shocks make months, not deals, the units: a t-test on monthly differences
    # (region − control) after the start against the year before it
    ini = truth["initiatives"][index]
    stages = truth["funnel_stages"]
    nxt = stages[stages.index(ini["stage"]) + 1]
    start = pd.Period(ini["start"][:7], "M")
    diff = (_monthly_conversion(demo, ini["stage"], nxt, ini["segment"]["region"])
            - _monthly_conversion(demo, ini["stage"], nxt, ini["control_segment"]["region"]))
    after = diff[(diff.index >= start) & (diff.index <= pd.Period("2026-09", "M"))]
    before = diff[(diff.index >= start - 12) & (diff.index < start)]
    res = sps.ttest_ind(after, before, equal_var=False)
    low, high = res.confidence_interval(0.99)
    assert low <= ini["true_effect"] <= high
    assert ini["expected_verdict"] in {"standardise", "keep_running"}


def test_weak_stage_converts_clearly_worse(demo: salesnb.SalesData, truth: dict) -> None:
    stages = demo["deal_stages"]
    order = truth["funnel_stages"]
    reached = {s: set(stages.loc[stages["stage"] == s, "deal_id"]) for s in order}
    conversion = {s: len(reached[s] & reached[n]) / len(reached[s])
                  for s, n in zip(order[:-1], order[1:], strict=True)}
    weakest = min(conversion, key=conversion.get)
    others = [v for k, v in conversion.items() if k != weakest]
    assert weakest == truth["weak_stage"]
    assert conversion[weakest] < min(others) - 0.15


def test_returns_spike(demo: salesnb.SalesData, truth: dict) -> None:
    r = demo["returns"]
    spike = truth["returns_spike"]
    per_month = (r[r["reason"] == spike["reason"]]
                 .groupby(r["returned_at"].dt.to_period("M").astype(str)).size())
    others = per_month.drop(spike["period"])
    assert per_month[spike["period"]] > 2.5 * others.median()
    assert per_month[spike["period"]] == per_month.max()
    # the other reasons do not spike in that month
    month = r[r["returned_at"].dt.to_period("M").astype(str) == spike["period"]]
    assert month["reason"].value_counts().idxmax() == spike["reason"]


def test_poor_channel_does_not_pay_back(demo: salesnb.SalesData, truth: dict) -> None:
    spend = demo["campaigns"].groupby("channel")["spend"].sum()
    leads = demo["leads"].dropna(subset=["customer_id"])
    orders = demo["orders"][demo["orders"]["status"] == "completed"]
    o = orders.merge(leads[["customer_id", "channel", "converted_at"]], on="customer_id",
                     suffixes=("", "_lead"))
    window = (o["ordered_at"] >= o["converted_at"]) & (
        o["ordered_at"] < o["converted_at"] + pd.Timedelta(days=365))
    revenue = o[window].groupby("channel_lead")["amount"].sum()
    romi = (revenue - spend) / spend
    assert romi[truth["poor_channel"]] < 0
    assert romi.drop(truth["poor_channel"]).min() > 0
    assert romi.idxmin() == truth["poor_channel"]


def test_truth_file_fields(truth: dict) -> None:
    for ini in truth["initiatives"]:
        assert set(ini) >= {"id", "kpi", "stage", "segment", "control_segment", "start",
                            "true_effect", "expected_verdict"}
    assert set(truth["returns_spike"]) == {"period", "reason"}
    assert truth["weak_stage"] in truth["funnel_stages"]
    assert isinstance(truth["poor_channel"], str)
    assert np.isclose(truth["initiatives"][0]["true_effect"], 0.25)
    assert truth["realism"]["weekday_orders"][6] < truth["realism"]["weekday_orders"][0]  # quiet Sundays
    assert truth["initiatives"][1]["true_effect"] == 0.0
