"""Calls and activities: what the team does with leads and deals, and what goes with winning.

From the ``activities`` table (calls, e-mails, meetings, messages with an owner, the lead or
deal they belong to and, where the export has them, a duration and an outcome):

- :func:`rep_activity` — per rep: activities by kind, calls reached, activities per won deal;
- :func:`stage_activity` — per funnel stage: activities per deal while in the stage, for
  deals that moved on against deals lost there;
- :func:`call_times` — calls by weekday and hour, with the share reached;
- :func:`response_effect` — hours to the first response against conversion, as an odds ratio
  per doubling of the wait from a logistic regression adjusted for channel, segment and
  region, with cluster-robust intervals (leads of one week share their shocks). It is an
  association: a rep who answers fast may also pick the better leads;
- :func:`unusual_reps` — reps whose mix of activity kinds or times of day differs from the
  rest of the team, by a permutation test that moves whole leads and deals between reps
  (their activities are not independent), Benjamini–Hochberg over the reps.

An outcome of ``reached`` counts as a call that got through (map the export's own words to it
in params ``values``).

Examples
--------
>>> from salesnb.data.demo import generate
>>> from salesnb.context import report_context
>>> import salesnb
>>> ctx = report_context("2026-06", salesnb.SalesData(generate(scale=0.1)[0]))
>>> "activities_per_won_deal" in rep_activity(ctx).columns
True
"""

from __future__ import annotations

import math
import warnings
import zlib
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import stats as sps

from salesnb import texts
from salesnb.aggregate import Window, collect, in_window
from salesnb.context import ReportContext
from salesnb.stats import bh_qvalues
from salesnb.texts import t

__all__ = ["rep_activity", "stage_activity", "call_times", "response_effect", "fit_response", "response_lines",
           "unusual_reps", "note_themes", "employee_notes", "has_activities", "KINDS", "REACHED", "PERMUTATIONS",
           "RESPONSE_WINDOW_DAYS", "MATURITY_DAYS", "MIN_LEADS"]

KINDS = ("call", "email", "meeting", "message")
REACHED = "reached"
PERMUTATIONS = 199          # permutations behind each rep's null distribution (its mean and variance)
MAX_UNITS = 200_000         # leads and deals permuted at most (a sample beyond): bounded work
RESPONSE_WINDOW_DAYS = 365  # lead cohorts the response analysis learns from
MATURITY_DAYS = 90          # a lead's conversion is known this long after it came in
MIN_LEADS = 200             # matured leads with a response the regression needs
MIN_LEVEL = 50              # leads a channel / segment / region level needs; rarer ones pooled
DAY_PARTS = ((0, 10, "before 10"), (10, 13, "10–13"), (13, 17, "13–17"), (17, 24, "after 17"))
SEED = 20261206


def has_activities(ctx: ReportContext) -> bool:
    """Whether the data has an activities table with owners (what every table here needs)."""
    return ctx.src.has("activities") and "owner" in ctx.src.columns("activities")


def _activities(ctx: ReportContext, w: Window | None = None) -> pd.DataFrame:
    src = ctx.src
    cols = [c for c in ("activity_id", "occurred_at", "kind", "owner", "lead_id", "deal_id", "duration_min",
                        "outcome", "note") if c in src.columns("activities")]
    lf = src.frame("activities").select(*cols)
    if w is not None:
        lf = lf.filter(in_window("occurred_at", w))
    df = collect(lf)
    df["occurred_at"] = pd.to_datetime(df["occurred_at"])
    return df


def _won_deals(ctx: ReportContext, w: Window) -> pd.DataFrame:
    src = ctx.src
    if not src.has("deals") or "closed_at" not in src.columns("deals"):
        return pd.DataFrame(columns=["deal_id", "owner"])
    cols = [c for c in ("deal_id", "owner") if c in src.columns("deals")]
    return collect(src.frame("deals").filter(in_window("closed_at", w) & (nw.col("outcome") == "won"))
                   .select(*cols))


def rep_activity(ctx: ReportContext) -> pd.DataFrame:
    """Per rep, in the period: ``activities``, one column per kind present, ``reached`` (share
    of calls whose outcome is ``reached``), ``call_minutes`` (mean, where durations exist),
    ``won_deals`` (closed won in the period, by the deal's owner) and
    ``activities_per_won_deal`` (all the activities ever logged on those deals, by anyone,
    over their number). The last row is the whole team."""
    if not has_activities(ctx):
        return pd.DataFrame()
    w = Window.of(ctx.period)
    acts = _activities(ctx, w)
    if acts.empty:
        return pd.DataFrame()
    acts["owner"] = acts["owner"].astype("str").fillna(t("value.none"))
    kinds = [k for k in KINDS if (acts["kind"] == k).any()]
    out = pd.crosstab(acts["owner"], acts["kind"]).reindex(columns=kinds, fill_value=0)
    out.insert(0, "activities", out.sum(axis=1))
    calls = acts[acts["kind"] == "call"]
    if "outcome" in acts and calls["outcome"].notna().any():
        out["reached"] = (calls["outcome"] == REACHED).groupby(calls["owner"]).mean()
    if "duration_min" in acts and calls["duration_min"].notna().any():
        out["call_minutes"] = calls.groupby("owner")["duration_min"].mean()
    won = _won_deals(ctx, w)
    if len(won) and "deal_id" in acts:
        every = collect(ctx.src.frame("activities").select("deal_id").filter(~nw.col("deal_id").is_null()))
        per_deal = every["deal_id"].value_counts()
        won = won.assign(n=won["deal_id"].map(per_deal).fillna(0))
        if "owner" in won:
            g = won.groupby(won["owner"].astype("str"))
            out = out.join(pd.DataFrame({"won_deals": g.size(), "_acts": g["n"].sum()}), how="outer")
        total = pd.DataFrame({c: [out[c].sum()] for c in out.columns if c not in ("reached", "call_minutes")},
                             index=[t("activity.total")])
        total["won_deals"] = len(won)
        total["_acts"] = won["n"].sum()
    else:
        total = pd.DataFrame({c: [out[c].sum()] for c in out.columns if c not in ("reached", "call_minutes")},
                             index=[t("activity.total")])
    if "reached" in out:
        total["reached"] = float((calls["outcome"] == REACHED).mean())
    if "call_minutes" in out:
        total["call_minutes"] = float(calls["duration_min"].mean())
    out = pd.concat([out.sort_values("activities", ascending=False), total])
    if "_acts" in out:
        out["activities_per_won_deal"] = out.pop("_acts") / out["won_deals"].where(out["won_deals"] > 0)
    for c in ["activities", *kinds, "won_deals"]:
        if c in out:
            out[c] = out[c].fillna(0).astype(int)
    return out.rename_axis("owner").reset_index()


def _stages(ctx: ReportContext) -> pd.DataFrame:
    src = ctx.src
    if not src.has("deal_stages") or not src.has("deals"):
        return pd.DataFrame()
    st = collect(src.frame("deal_stages").select("deal_id", "stage", "entered_at"))
    st["entered_at"] = pd.to_datetime(st["entered_at"])
    return st


def stage_activity(ctx: ReportContext) -> pd.DataFrame:
    """Per funnel stage, for deals that left it in the period: ``deals_moved_on`` and
    ``deals_lost`` there, and the activities per deal while it was in the stage for each
    (``activities_moved_on``, ``activities_lost``). An association: a deal that goes well
    gets more meetings, and more meetings may help it go well."""
    if not has_activities(ctx) or "deal_id" not in ctx.src.columns("activities"):
        return pd.DataFrame()
    st = _stages(ctx)
    if st.empty or "closed_at" not in ctx.src.columns("deals"):
        return pd.DataFrame()
    deals = collect(ctx.src.frame("deals").select("deal_id", "outcome", "closed_at"))
    deals["closed_at"] = pd.to_datetime(deals["closed_at"])
    order = {s: i for i, s in enumerate(ctx.funnel_stages)}
    st = st[st["stage"].isin(order)].sort_values(["deal_id", "entered_at"], kind="stable")
    st["left_at"] = st.groupby("deal_id")["entered_at"].shift(-1)
    st = st.merge(deals, on="deal_id", how="left")
    lost_here = st["left_at"].isna() & (st["outcome"] == "lost")
    st["left_at"] = st["left_at"].fillna(st["closed_at"].where(lost_here))
    st["how"] = np.where(lost_here, "lost", "moved_on")
    w = Window.of(ctx.period)
    st = st[(st["left_at"] >= w.start) & (st["left_at"] < w.end) & (st["stage"] != ctx.funnel_stages[-1])]
    if st.empty:
        return pd.DataFrame()
    acts = collect(ctx.src.frame("activities").select("deal_id", "occurred_at").filter(
        ~nw.col("deal_id").is_null()))
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"])
    acts = acts[acts["deal_id"].isin(st["deal_id"])]
    m = acts.merge(st[["deal_id", "stage", "entered_at", "left_at"]], on="deal_id")
    m = m[(m["occurred_at"] >= m["entered_at"]) & (m["occurred_at"] < m["left_at"])]
    n = m.groupby(["deal_id", "stage"]).size()
    st["n"] = pd.MultiIndex.from_frame(st[["deal_id", "stage"]]).map(lambda k: n.get(k, 0)).astype(float)
    g = st.groupby(["stage", "how"])["n"].agg(["size", "mean"]).unstack("how")
    rows = []
    for stage in sorted(g.index, key=lambda s: order[s]):
        r = g.loc[stage]
        rows.append({"stage": stage,
                     "deals_moved_on": _count(r.get(("size", "moved_on"))),
                     "activities_moved_on": r.get(("mean", "moved_on"), math.nan),
                     "deals_lost": _count(r.get(("size", "lost"))),
                     "activities_lost": r.get(("mean", "lost"), math.nan)})
    return pd.DataFrame(rows)


def _count(value: Any) -> int:
    """A count from a pivot cell that may be missing (no deal left the stage that way)."""
    return 0 if value is None or pd.isna(value) else int(value)


def call_times(ctx: ReportContext) -> pd.DataFrame:
    """The period's calls by ``weekday`` (0 = Monday) and ``hour``: ``calls`` and ``reached``
    (share whose outcome is ``reached``; missing where the export has no outcomes)."""
    if not has_activities(ctx):
        return pd.DataFrame()
    acts = _activities(ctx, Window.of(ctx.period))
    calls = acts[acts["kind"] == "call"]
    if calls.empty:
        return pd.DataFrame()
    key = [calls["occurred_at"].dt.day_of_week.rename("weekday"), calls["occurred_at"].dt.hour.rename("hour")]
    out = calls.groupby(key).size().rename("calls").to_frame()
    has_outcome = "outcome" in calls and calls["outcome"].notna().any()
    out["reached"] = (calls["outcome"] == REACHED).groupby(key).mean() if has_outcome else math.nan
    return out.reset_index()


def _response_frame(ctx: ReportContext) -> pd.DataFrame:
    """Matured leads of the year before the period's end, with hours to the first activity."""
    from salesnb.scoring import lead_frame  # scoring imports the engines; keep this module light

    end = ctx.period.end_ts - pd.Timedelta(microseconds=1)  # the last instant of the period
    since = end - pd.Timedelta(days=MATURITY_DAYS + RESPONSE_WINDOW_DAYS)
    leads = lead_frame(ctx.src, as_of=end, since=since)
    leads = leads[leads["mature"]]
    acts = collect(ctx.src.frame("activities").select("lead_id", "occurred_at").filter(
        ~nw.col("lead_id").is_null() & (nw.col("occurred_at") >= since) & (nw.col("occurred_at") <= end)))
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"])
    created = leads.set_index("lead_id")["created_at"]
    acts = acts[acts["lead_id"].isin(created.index)]
    if acts.empty:  # no lead was contacted (or none came in): no first response to measure
        leads["hours"] = np.nan
        return leads
    hours = (acts["occurred_at"] - acts["lead_id"].map(created)).dt.total_seconds() / 3600
    first = hours[hours >= 0].groupby(acts.loc[hours >= 0, "lead_id"]).min()
    leads["hours"] = leads["lead_id"].map(first)
    return leads


def _pooled(values: pd.Series) -> pd.Series:
    v = values.astype("str").fillna("(none)")
    counts = v.value_counts()
    return v.where(v.map(counts) >= MIN_LEVEL, "(other)")


def response_effect(ctx: ReportContext) -> dict[str, Any]:
    """The first response's association with conversion, adjusted.

    Leads that came in during the year before the period ended and are at least
    ``MATURITY_DAYS`` old, with a first activity: a logistic regression of converting within
    ``MATURITY_DAYS`` on log2 of the hours to the first activity, with the lead's channel,
    segment and region (the ones the data has) as covariates, intervals robust to shocks
    shared by the leads of one week. Returns ``odds_ratio`` (per doubling of the wait), its
    ``low`` and ``high`` (1 − alpha), ``p_value``, ``unadjusted`` (the same without
    covariates), ``adjusted_for``, ``leads``, ``converted``, ``no_response`` (leads never
    contacted), ``bands`` (conversion by response band) — or ``note`` when too few leads.
    """
    if not has_activities(ctx) or not ctx.src.has("leads") or "lead_id" not in ctx.src.columns("activities"):
        return {"note": t("activity.no_leads")}
    return fit_response(_response_frame(ctx), alpha=ctx.alpha, min_events=ctx.min_events)


def fit_response(leads: pd.DataFrame, *, alpha: float = 0.05, min_events: int = 20) -> dict[str, Any]:
    """:func:`response_effect` on a frame of leads: ``created_at``, ``hours`` (to the first
    activity, missing for none), ``converted_in_time`` and any of ``channel``, ``segment``,
    ``region``."""
    import statsmodels.api as sm

    answered = leads[leads["hours"].notna()].copy()
    y = answered["converted_in_time"].to_numpy(float)
    if len(answered) < MIN_LEADS or y.sum() < min_events or (len(y) - y.sum()) < min_events:
        return {"note": t("activity.too_few_leads", n=texts.number(len(answered)), need=texts.number(MIN_LEADS))}
    x = np.log2(answered["hours"].clip(lower=1 / 60).to_numpy(float))  # a minute at least
    covariates = [c for c in ("channel", "segment", "region") if c in answered and answered[c].nunique() > 1]
    dummies = [pd.get_dummies(_pooled(answered[c]), prefix=c, drop_first=True, dtype=float) for c in covariates]
    design = pd.concat([pd.DataFrame({"const": 1.0, "log2_hours": x}, index=answered.index), *dummies], axis=1)
    design = design.loc[:, design.std(ddof=0).gt(0) | (design.columns == "const")]
    # leads of one week share their shocks (a campaign, a holiday, a busy team): clustered errors
    groups = pd.factorize(answered["created_at"].dt.to_period("W").astype("str"))[0]
    z = float(sps.norm.ppf(1 - alpha / 2))

    def fit(X: pd.DataFrame) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # perfect separation of a tiny level: the estimate still stands
            return sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="cluster", cov_kwds={"groups": groups})

    adj = fit(design)
    raw = fit(design[["const", "log2_hours"]])
    slope, se = float(adj.params["log2_hours"]), float(adj.bse["log2_hours"])
    bands = (leads.assign(band=_response_band(leads["hours"])).groupby("band", sort=False)["converted_in_time"]
             .agg(leads="size", conversion="mean").reindex(list(_BAND_ORDER)).dropna(how="all"))
    bands["leads"] = bands["leads"].fillna(0).astype(int)
    bands.index = [t(f"activity.band.{name}") for name in bands.index]
    return {"odds_ratio": math.exp(slope), "low": math.exp(slope - z * se), "high": math.exp(slope + z * se),
            "log_odds": slope, "se": se, "p_value": float(adj.pvalues["log2_hours"]),
            "unadjusted": math.exp(float(raw.params["log2_hours"])), "adjusted_for": covariates,
            "leads": len(answered), "converted": int(y.sum()), "no_response": int(leads["hours"].isna().sum()),
            "bands": bands.rename_axis("first_response").reset_index()}


_BANDS = ((1, "hour"), (4, "hours"), (24, "day"), (72, "days"))  # hours to the first response → band
_BAND_ORDER = ("hour", "hours", "day", "days", "later", "never")


def _response_band(hours: pd.Series) -> pd.Series:
    out = pd.Series("never", index=hours.index, dtype="str").mask(hours.notna(), "later")
    for limit, band in reversed(_BANDS):
        out = out.mask(hours <= limit, band)
    return out


def response_lines(effect: dict[str, Any]) -> list[str]:
    """The response analysis in sentences for the page (the note when there is none)."""
    if "note" in effect:
        return [effect["note"]]
    adjusted = ", ".join(t(f"activity.covariate.{c}") for c in effect["adjusted_for"]) or t("activity.nothing")
    return [t("activity.effect", ratio=texts.number(effect["odds_ratio"], 2), low=texts.number(effect["low"], 2),
              high=texts.number(effect["high"], 2), p=_p(effect["p_value"]),
              leads=texts.number(effect["leads"]), converted=texts.number(effect["converted"]), adjusted=adjusted),
            t("activity.unadjusted", ratio=texts.number(effect["unadjusted"], 2)),
            t("activity.association")]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else texts.number(p, 3)


def _day_part(hour: np.ndarray) -> np.ndarray:
    out = np.zeros(len(hour), dtype=int)
    for i, (lo, hi, _) in enumerate(DAY_PARTS):
        out[(hour >= lo) & (hour < hi)] = i
    return out


def unusual_reps(ctx: ReportContext, *, permutations: int = PERMUTATIONS) -> pd.DataFrame:
    """Reps whose activity pattern differs from the rest of the team's, in the period.

    Two patterns: the mix of kinds (call, e-mail, meeting, message) and the part of the day
    (before 10, 10–13, 13–17, after 17). For each rep and pattern the statistic is the
    chi-square distance between the rep's mix and the rest's; its null distribution comes
    from reassigning whole units (a lead or deal with all its activities, else the activity)
    to reps at random, keeping each rep's number of units, so that a deal's many alike
    activities count once; the p-value is that distribution's scaled chi-square tail.
    A rep differs when the team as a whole differs (the largest standardised statistic over
    reps and patterns against the largest of each permutation, at alpha: the gate that keeps
    a month of alike reps free of flags in all but alpha of them) and the rep's
    Benjamini–Hochberg q-value over reps × patterns is below alpha.
    Returns ``owner``, ``activities``, ``pattern``, ``rep_mix`` and ``team_mix`` (texts),
    ``p_value``, ``q_value``, ``differs``; reps with fewer than ``min_events`` activities
    are left out.
    """
    if not has_activities(ctx):
        return pd.DataFrame()
    acts = _activities(ctx, Window.of(ctx.period))
    acts = acts[acts["owner"].notna()]
    if acts.empty:
        return pd.DataFrame()
    unit = pd.Series(np.arange(len(acts)).astype(str), index=acts.index)
    for col in ("lead_id", "deal_id"):  # a deal's activities go together; else its lead's
        if col in acts:
            unit = (col[0] + acts[col].astype("str")).where(acts[col].notna(), unit)
    unit_code, _ = pd.factorize(unit)
    # a unit belongs to the rep with most of its activities (ties: the first)
    owner_code, owners = pd.factorize(acts["owner"].astype("str"))
    pairs = pd.DataFrame({"u": unit_code, "o": owner_code}).value_counts().reset_index()
    unit_owner = pairs.sort_values(["u", "count"], ascending=[True, False]).drop_duplicates("u")
    unit_owner = unit_owner.set_index("u")["o"].reindex(range(unit_code.max() + 1)).to_numpy()
    act_owner = unit_owner[unit_code]
    patterns = {"kind": (pd.Categorical(acts["kind"], categories=list(KINDS)).codes, list(KINDS)),
                "time_of_day": (_day_part(acts["occurred_at"].dt.hour.to_numpy()), [p[2] for p in DAY_PARTS])}
    n_reps = len(owners)
    counts = np.bincount(act_owner, minlength=n_reps)
    keep = counts >= ctx.min_events
    if keep.sum() < 2:
        return pd.DataFrame()
    n_units = len(unit_owner)
    sample = (np.arange(n_units) if n_units <= MAX_UNITS
              else np.random.default_rng(SEED).choice(n_units, MAX_UNITS, replace=False))
    owner_of = unit_owner[sample]
    # the permutations are drawn afresh for each data set (seeded by the data, so a page is
    # the same on every run): one fixed set for every month would err the same way every month
    seed = [SEED, zlib.crc32(owner_of.astype(np.int64).tobytes()), zlib.crc32(unit_code.astype(np.int64).tobytes())]
    rows, standardised, standardised_null = [], [], []
    for name, (codes, labels) in patterns.items():
        # per unit, its activities per category: permuting reps over units moves these rows
        per_unit = np.zeros((unit_code.max() + 1, len(labels)))
        np.add.at(per_unit, (unit_code, codes), 1.0)
        per_unit = per_unit[sample]
        observed, table = _chi_by_rep(owner_of, per_unit, n_reps)
        rng = np.random.default_rng(seed)  # the same permutations for every pattern: one joint gate
        null = np.array([_chi_by_rep(rng.permutation(owner_of), per_unit, n_reps)[0] for _ in range(permutations)])
        p = _scaled_chi2_p(observed, null)
        # standardised by the mean and spread of the observed and permuted statistics together:
        # the observed labelling is then one more draw, and the gate below exact
        every = np.vstack([observed[None, keep], null[:, keep]])
        centre, spread = every.mean(axis=0), np.maximum(every.std(axis=0, ddof=1), 1e-12)
        standardised.append((observed[keep] - centre) / spread)
        standardised_null.append((null[:, keep] - centre) / spread)
        team = table.sum(axis=0)
        for r in np.flatnonzero(keep):
            rows.append({"owner": owners[r], "activities": int(counts[r]), "pattern": t(f"activity.pattern.{name}"),
                         "rep_mix": _mix(table[r], labels), "team_mix": _mix(team - table[r], labels),
                         "p_value": float(p[r])})
    # the gate: does anyone differ at all? The largest standardised statistic over reps and
    # patterns against the largest of each permutation (max-T: exact when reps are alike)
    top = max(float(z.max()) for z in standardised)
    null_top = np.max([z.max(axis=1) for z in standardised_null], axis=0)
    p_team = (1 + int((null_top >= top - 1e-9).sum())) / (permutations + 1)
    out = pd.DataFrame(rows)
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy())
    out["differs"] = (p_team <= ctx.alpha) & (out["q_value"] < ctx.alpha)
    return out.sort_values(["differs", "q_value"], ascending=[False, True]).reset_index(drop=True)


def _scaled_chi2_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """P-values from the permutation distribution through a scaled chi-square with its mean
    and variance (Satterthwaite): continuous, so that Benjamini–Hochberg over many reps is not
    floored by the permutations' 1 / (B + 1)."""
    mean, var = null.mean(axis=0), null.var(axis=0, ddof=1)
    ok = (mean > 0) & (var > 0)
    scale = np.where(ok, var / (2 * np.where(ok, mean, 1)), 1.0)
    df = np.where(ok, 2 * mean**2 / np.where(ok, var, 1), 1.0)
    return np.where(ok, sps.chi2.sf(observed / scale, df), 1.0)


def _chi_by_rep(owner_of: np.ndarray, per_unit: np.ndarray, n_reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Each rep's chi-square distance between their category counts and the rest's, and the
    reps × categories table (units assigned to reps by ``owner_of``)."""
    table = np.zeros((n_reps, per_unit.shape[1]))
    np.add.at(table, owner_of, per_unit)
    rest = table.sum(axis=0)[None, :] - table
    n_rep, n_rest = table.sum(axis=1, keepdims=True), rest.sum(axis=1, keepdims=True)
    pooled = (table + rest) / np.maximum(n_rep + n_rest, 1)
    e_rep, e_rest = pooled * n_rep, pooled * n_rest
    with np.errstate(divide="ignore", invalid="ignore"):
        chi = (np.where(e_rep > 0, (table - e_rep) ** 2 / e_rep, 0)
               + np.where(e_rest > 0, (rest - e_rest) ** 2 / e_rest, 0))
    return chi.sum(axis=1), table


def _mix(row: np.ndarray, labels: list[str]) -> str:
    total = row.sum()
    if total == 0:
        return "–"
    return ", ".join(f"{t(f'activity.part.{label}')} {texts.percent(v / total, 0)}"
                     for label, v in zip(labels, row, strict=True) if v > 0)


def note_themes(ctx: ReportContext) -> pd.DataFrame:
    """The period's activity notes matched to the feedback themes: ``theme``, ``notes``,
    ``share`` (of the notes written), ``latest`` (up to three, as written)."""
    from salesnb.feedback import assign_themes

    if not has_activities(ctx) or "note" not in ctx.src.columns("activities") or not ctx.feedback_themes:
        return pd.DataFrame()
    acts = _activities(ctx, Window.of(ctx.period))
    notes = acts[acts["note"].notna() & (acts["note"].astype("str").str.strip() != "")]
    if notes.empty:
        return pd.DataFrame()
    hits = assign_themes(notes["note"].astype("str"), ctx.feedback_themes)
    rows = []
    for theme, idx in hits.groupby("theme")["row"]:
        sub = notes.loc[idx].sort_values("occurred_at", ascending=False)
        rows.append({"theme": theme, "notes": len(idx), "share": len(idx) / len(notes),
                     "latest": " | ".join(sub["note"].astype("str").head(3))})
    return pd.DataFrame(rows, columns=["theme", "notes", "share", "latest"]).sort_values(
        "notes", ascending=False).reset_index(drop=True)


def employee_notes(ctx: ReportContext) -> pd.DataFrame:
    """The employees' own notes from the feedback table, by theme (as on the feedback page);
    empty without a feedback table."""
    from salesnb.feedback import themes

    if not ctx.src.has("feedback"):
        return pd.DataFrame()
    return themes(ctx, employee=True)
