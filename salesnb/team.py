"""The team: the KPIs a sales rep moves, against the team, with small samples shrunk.

Win rates are shrunk toward the team's rate with an empirical-Bayes beta prior (method of
moments over the reps), so that a rep with three deals does not top or bottom the table by
chance; reps with too few deals are flagged instead of ranked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from salesnb import texts
from salesnb.aggregate import Window, collect, cycle_frame, in_window, segmented
from salesnb.comparisons import compare
from salesnb.context import ReportContext
from salesnb.stats import Daily, Proportion, bh_qvalues, two_sample
from salesnb.stats.scores import beta_prior, shrunk_rate
from salesnb.texts import t

__all__ = ["rep_table", "coaching_signals", "training_topics", "MIN_DEALS", "TRAINING"]

MIN_DEALS = 10
MIN_GAP = 0.01  # a shrunk shortfall below one point is no reason to train
# a funnel stage where deals leave → what to train (stages of params' funnel_stages)
TRAINING = {
    "qualified": "qualifying leads: discovery questions and getting to a first meeting",
    "meeting": "running first meetings: uncovering the need and agreeing next steps",
    "proposal": "proposals that answer the client's need: value before price",
    "negotiation": "negotiation and price objections: trading concessions, closing",
}


def rep_table(ctx: ReportContext) -> pd.DataFrame:
    """Per rep (``owner``): deals closed, won, win rate (raw and shrunk), average won deal,
    median cycle days, conversion of their leads, and how each compares with the team.

    Returns ``owner``, ``deals``, ``won``, ``win_rate``, ``win_rate_shrunk``, ``team_win_rate``,
    ``win_gap_p`` (the rep against the rest of the team, two-proportion test), ``win_gap_q``
    (Benjamini–Hochberg over the reps), ``avg_deal``, ``cycle_days``, ``lead_conversion``,
    ``small`` (fewer than 10 closed deals: shrunk and flagged, not ranked).
    """
    src, p, alpha = ctx.src, ctx.period, ctx.alpha
    if not src.has("deals") or "closed_at" not in src.columns("deals"):  # no close dates: nothing to rank
        return pd.DataFrame()
    w = Window.of(p)
    closed = collect(segmented(src, "deals", "owner", ["closed_at", "outcome", "amount"],
                               in_window("closed_at", w)))
    closed = closed[closed["outcome"].isin(["won", "lost"])]
    if closed.empty:  # no deal closed in the period (the data starts later, or a quiet week)
        return pd.DataFrame()
    g = closed.assign(won=closed["outcome"] == "won").groupby("_seg").agg(
        deals=("won", "size"), won=("won", "sum"))
    won_amount = (closed[closed["outcome"] == "won"].groupby("_seg")["amount"].mean() if "amount" in closed
                  else pd.Series(dtype=float))  # deals without amounts: no average won deal
    cycle = cycle_frame(src, w, "owner").groupby("_seg")["days"].median()
    a, b = beta_prior(g["won"].to_numpy(float), g["deals"].to_numpy(float))
    days = pd.to_datetime(closed["closed_at"]).dt.normalize().to_numpy()
    wins = (closed["outcome"] == "won").to_numpy(float)

    def daily(mask: np.ndarray) -> Daily:  # per closing day: days whose deals are alike
        return Daily.of(days[mask], wins[mask], np.ones(int(mask.sum())), start=w.start, days=w.days)

    everyone = daily(np.ones(len(closed), bool))
    team = Proportion(float(g["won"].sum()), float(g["deals"].sum()), everyone)
    rows = []
    for owner, r in g.iterrows():
        own = daily((closed["_seg"] == owner).to_numpy())
        rest = Proportion(team.successes - r["won"], team.trials - r["deals"],
                          Daily(everyone.dates, everyone.x - own.x, everyone.n - own.n))
        gap = two_sample(Proportion(float(r["won"]), float(r["deals"]), own), rest, alpha=alpha)
        rows.append({"owner": owner, "deals": int(r["deals"]), "won": int(r["won"]),
                     "win_rate": r["won"] / r["deals"],
                     "win_rate_shrunk": float(shrunk_rate(r["won"], r["deals"], a, b)),
                     "team_win_rate": team.value, "win_gap_p": gap.p_value,
                     "avg_deal": won_amount.get(owner, math.nan), "cycle_days": cycle.get(owner, math.nan),
                     "small": r["deals"] < MIN_DEALS})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["win_gap_q"] = bh_qvalues(out["win_gap_p"].where(~out["small"]).to_numpy(float))
    conv = compare(src, p, by="owner", kpis=["conversion_rate"], min_events=1)
    out["lead_conversion"] = out["owner"].map(conv.set_index("owner")["current"])
    return out.sort_values("win_rate_shrunk", ascending=False).reset_index(drop=True)


def coaching_signals(reps: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """A short list of reps whose numbers call for a conversation, with the evidence."""
    if reps.empty:
        return []
    out = []
    team_cycle = float(reps["cycle_days"].median())
    for r in reps.to_dict("records"):
        if r["small"]:
            continue
        if r["win_gap_q"] < alpha and r["win_rate"] < r["team_win_rate"]:
            out.append(t("team.wins", owner=r["owner"], rate=texts.percent(r["win_rate"], 0), deals=r["deals"],
                         team=texts.percent(r["team_win_rate"], 0), q=texts.number(r["win_gap_q"], 3)))
        if r["cycle_days"] == r["cycle_days"] and team_cycle and r["cycle_days"] > 1.5 * team_cycle:
            out.append(t("team.slow", owner=r["owner"], days=texts.number(r["cycle_days"]),
                         team=texts.number(team_cycle)))
    return out


def training_topics(ctx: ReportContext, *, min_deals: int = MIN_DEALS) -> pd.DataFrame:
    """Each rep's weakest funnel stage against the team, turned into a training topic.

    Per rep and stage, the share of deals that moved on (deals entering the stage in the
    period), shrunk toward the team's rate at that stage with an empirical-Bayes beta prior
    (as the win rates are), so that a rep with few deals is not sent to training by chance.
    The weakest stage is the one with the largest shortfall of the shrunk rate against the
    team's. Returns ``owner``, ``stage``, ``deals`` (entering that stage), ``rate``
    (raw), ``rate_shrunk``, ``team_rate``, ``gap`` (team − shrunk), ``topic``; reps less
    than a point (``MIN_GAP``) behind the team everywhere, or with fewer than ``min_deals``
    deals at every stage, are left out.
    A training run is then an initiative of the PDCA register like any other (KPI
    ``stage_conversion`` at that stage, the rep as segment, the rest of the team as control).
    """
    from salesnb.comparisons import kpi_table

    stages = list(ctx.funnel_stages)
    if not ctx.src.has("deal_stages") or len(stages) < 2:
        return pd.DataFrame()
    table = kpi_table(ctx.src, ctx.period, by="owner", kpis=["stage_conversion"], funnel_stages=stages,
                      min_events=0, custom_kpis=ctx.custom_kpis)
    team = kpi_table(ctx.src, ctx.period, kpis=["stage_conversion"], funnel_stages=stages, min_events=0,
                     custom_kpis=ctx.custom_kpis).set_index("stage")["value"]
    rows = []
    for stage, g in table.dropna(subset=["value"]).groupby("stage"):
        trials = g["n"].to_numpy(float)
        moved = np.round(g["value"].to_numpy(float) * trials)
        if len(g) < 2 or trials.sum() == 0:
            continue
        a, b = beta_prior(moved, trials)
        for owner, n, k in zip(g["owner"], trials, moved, strict=True):
            shrunk = float(shrunk_rate(k, n, a, b))
            rows.append({"owner": owner, "stage": stage, "deals": int(n), "rate": k / n if n else math.nan,
                         "rate_shrunk": shrunk, "team_rate": float(team.get(stage, math.nan)),
                         "gap": float(team.get(stage, math.nan)) - shrunk})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df[(df["deals"] >= min_deals) & (df["gap"] >= MIN_GAP)]
    weakest = df.sort_values("gap", ascending=False).groupby("owner", sort=False).head(1)
    known = {stage: t(f"team.training.{stage}") for stage in TRAINING}
    weakest = weakest.assign(topic=[known.get(s) or t("team.stage_after", stage=s) for s in weakest["stage"]])
    return weakest.sort_values(["gap"], ascending=False).reset_index(drop=True)
