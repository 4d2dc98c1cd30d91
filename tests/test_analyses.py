"""Funnel, feedback, marketing and team against the demo's planted facts and plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb import feedback, funnel, marketing, team


@pytest.mark.parametrize("period", ["2025", "2025-Q4", "2026-Q2", "2026-08", "2026-Q3"])
def test_weak_spot_is_the_planted_weak_stage(demo: salesnb.SalesData, truth: dict, period: str) -> None:
    spots = funnel.weak_spots(demo, period)
    assert spots.columns[0] == "stage"
    assert spots.iloc[0]["stage"] == truth["weak_stage"]
    assert bool(spots.iloc[0]["weak"])
    assert spots.iloc[0]["ci_others_high"] < 0


def test_stage_table_matches_pandas(demo: salesnb.SalesData) -> None:
    t = funnel.stage_table(demo, "2026-Q2").set_index("stage")
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
    lost = funnel.lost_reasons(demo, "2026-Q3")
    assert lost["count"].is_monotonic_decreasing
    assert lost["cumulative"].iloc[-1] == pytest.approx(1.0)


def test_returns_spike_is_the_only_anomaly(demo: salesnb.SalesData, truth: dict) -> None:
    # every month with twelve months of history before it: 2025-01 to 2026-10
    table = feedback.anomalies(demo, "returns", by="reason", periods=22)
    assert list(table.columns) == ["period", "reason", "value", "expected", "p_value", "anomaly"]
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
    table = feedback.anomalies(salesnb.SalesData({"returns": returns}), "returns", by="reason", periods=24,
                               end="2025-12")
    assert len(table) == 120
    assert table["anomaly"].sum() <= 1


def test_poor_channel_does_not_pay_back(demo: salesnb.SalesData, truth: dict) -> None:
    window = marketing.complete_window(demo)
    table = marketing.channel_table(demo, window).set_index("channel")
    poor = truth["poor_channel"]
    assert table.loc[poor, "romi"] < 0
    ranked = table[~table["small"]]
    assert ranked["rank"].max() == table.loc[poor, "rank"]
    assert table.loc[poor, "note"].startswith("worst return on spend")
    assert (ranked.drop(index=poor)["romi"] > 0).all()


def test_channel_revenue_and_cac_by_hand(demo: salesnb.SalesData) -> None:
    table = marketing.channel_table(demo, "2025-Q3", attribution_days=90).set_index("channel")
    leads, deals, orders = demo["leads"], demo["deals"], demo["orders"]
    q3 = leads[(leads["created_at"] >= "2025-07-01") & (leads["created_at"] < "2025-10-01")
               & (leads["channel"] == "Email")]
    won = deals[deals["outcome"] == "won"].set_index("lead_id")
    conv_at = q3["converted_at"].fillna(q3["lead_id"].map(won["closed_at"]))
    customer = q3["customer_id"].fillna(q3["lead_id"].map(won["customer_id"]))
    conv = pd.DataFrame({"customer_id": customer, "at": conv_at}).dropna()
    done = orders[orders["status"] != "cancelled"].merge(conv, on="customer_id")
    start = done["at"].dt.normalize()
    revenue = done[(done["ordered_at"] >= start) & (done["ordered_at"] < start + pd.Timedelta(days=90))]["amount"].sum()
    row = table.loc["Email"]
    assert row["leads"] == len(q3) and row["new_customers"] == len(conv)
    assert row["revenue"] == pytest.approx(revenue)
    assert row["cac"] == pytest.approx(row["spend"] / row["new_customers"])
    assert row["romi"] == pytest.approx((row["revenue"] - row["spend"]) / row["spend"])
    c = demo["campaigns"]
    email = c[c["channel"] == "Email"]
    start, end = pd.Timestamp("2025-07-01"), pd.Timestamp("2025-10-01")
    days = (email["ended_at"] - email["started_at"]).dt.days + 1
    overlap = (email["ended_at"].clip(upper=end - pd.Timedelta(days=1)) + pd.Timedelta(days=1)
               - email["started_at"].clip(lower=start)).dt.days.clip(lower=0)
    assert row["spend"] == pytest.approx((email["spend"] * overlap / days).sum())


def test_feedback_summary_by_hand(demo: salesnb.SalesData) -> None:
    s = feedback.summary(demo, "2026-Q2").set_index("measure")
    f = demo["feedback"]
    q2 = f[(f["received_at"] >= "2026-04-01") & (f["received_at"] < "2026-07-01")]
    csat = q2.loc[q2["scale"] == "csat5", "score"]
    nps = q2.loc[q2["scale"] == "nps10", "score"]
    assert s.loc["csat", "value"] == pytest.approx(csat.mean())
    assert s.loc["satisfied_share", "value"] == pytest.approx((csat >= 4).mean())
    assert s.loc["nps", "value"] == pytest.approx(100 * ((nps >= 9).mean() - (nps <= 6).mean()))
    assert s.loc["responses", "value"] == (q2["source"] != "employee").sum()


def test_themes_count_comments(demo: salesnb.SalesData) -> None:
    dictionary = salesnb.config.read_params(salesnb.config.PARAMS_DIR / "base.yaml")["feedback_themes"]
    t = feedback.themes(demo, "2026-06", dictionary=dictionary).set_index("theme")
    f = demo["feedback"]
    june = f[(f["received_at"] >= "2026-06-01") & (f["received_at"] < "2026-07-01") & (f["source"] != "employee")
             & f["comment"].notna()]
    text = june["comment"].str.lower()
    hits = np.zeros(len(june), dtype=bool)
    for stem in dictionary["quality"]:
        hits |= text.str.contains(stem.lower(), regex=False).to_numpy()
    assert t.loc["quality", "comments"] == hits.sum()
    assert t.loc["quality", "share"] == pytest.approx(hits.mean())
    assert t.loc["quality", "avg_score"] < 3  # complaints score low
    staff = feedback.themes(demo, "2026-Q3", dictionary=dictionary, employee=True)
    assert "internal tools" in set(staff["theme"])
    assert not set(staff["theme"]) & {"delivery"}  # employees' notes are reported apart


def test_rep_table(demo: salesnb.SalesData) -> None:
    reps = team.rep_table(demo, "2026-Q3").set_index("owner")
    d = demo["deals"]
    closed = d[(d["closed_at"] >= "2026-07-01") & (d["closed_at"] < "2026-10-01") & d["outcome"].isin(["won", "lost"])]
    by_rep = closed.groupby("owner")["outcome"].apply(lambda s: (s == "won").mean())
    for owner, rate in by_rep.items():
        assert reps.loc[owner, "win_rate"] == pytest.approx(rate)
        shrunk, team_rate = reps.loc[owner, "win_rate_shrunk"], reps.loc[owner, "team_win_rate"]
        assert min(rate, team_rate) - 1e-12 <= shrunk <= max(rate, team_rate) + 1e-12
    assert reps["deals"].sum() == len(closed)
    assert isinstance(team.coaching_signals(reps.reset_index()), list)


def test_coaching_signal_names_the_rep_who_lags() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for rep, rate in [("Ann", 0.4), ("Ben", 0.4), ("Cid", 0.4), ("Dee", 0.4), ("Eve", 0.05), ("Fay", 0.4)]:
        for i in range(80):
            rows.append({"deal_id": f"{rep}{i}", "owner": rep, "outcome": "won" if rng.random() < rate else "lost",
                         "created_at": pd.Timestamp("2026-09-01"), "closed_at": pd.Timestamp("2026-10-10"),
                         "amount": 1000.0})
    rows.append({"deal_id": "tiny", "owner": "Gus", "outcome": "lost", "created_at": pd.Timestamp("2026-09-01"),
                 "closed_at": pd.Timestamp("2026-10-10"), "amount": 1000.0})
    data = salesnb.SalesData({"deals": pd.DataFrame(rows)})
    reps = team.rep_table(data, "2026-10")
    signals = team.coaching_signals(reps)
    assert len(signals) == 1 and signals[0].startswith("Eve: wins")
    gus = reps.set_index("owner").loc["Gus"]
    assert bool(gus["small"]) and gus["win_rate"] == 0 < gus["win_rate_shrunk"]  # shrunk, not ranked last


def test_texts_from_data_are_escaped_in_tables() -> None:
    from salesnb import present

    comments = pd.DataFrame({"received_at": pd.to_datetime(["2026-10-02", "2026-09-02"]),
                             "feedback_id": ["f1", "f2"], "source": ["review", "review"],
                             "score": [1.0, 5.0], "scale": ["csat5", "csat5"],
                             "comment": ["<script>alert(1)</script> too expensive", "fine"]})
    t = feedback.themes(salesnb.SalesData({"feedback": comments}), "2026-10", dictionary={"price": ["expensive"]})
    html = present.table(t).to_html()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
