"""The team: the KPIs a sales rep moves, against the team, with small samples shrunk.

Win rates are shrunk toward the team's rate with an empirical-Bayes beta prior (method of
moments over the reps), so that a rep with three deals does not top or bottom the table by
chance; reps with too few deals are flagged instead of ranked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from salesnb.aggregate import Window, collect, cycle_frame, in_window, segmented
from salesnb.comparisons import compare
from salesnb.context import ReportContext
from salesnb.stats import Daily, Proportion, bh_qvalues, two_sample
from salesnb.stats.scores import beta_prior, shrunk_rate

__all__ = ["rep_table", "coaching_signals", "MIN_DEALS"]

MIN_DEALS = 10


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
            out.append(f"{r['owner']}: wins {r['win_rate']:.0%} of {r['deals']} closed deals against the team's "
                       f"{r['team_win_rate']:.0%} (q = {r['win_gap_q']:.3f}) — review lost deals together")
        if r["cycle_days"] == r["cycle_days"] and team_cycle and r["cycle_days"] > 1.5 * team_cycle:
            out.append(f"{r['owner']}: deals take {r['cycle_days']:.0f} days to sign against the team's "
                       f"median {team_cycle:.0f} — look at where they stall")
    return out
