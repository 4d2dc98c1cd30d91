"""The funnel: stage by stage conversion, the weak spots, and how long deals take.

Stage order comes from params (``funnel_stages``). Conversion of a stage is the share of
deals entering it in the period that reached the next stage (``stage_conversion``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from salesnb.aggregate import Window, collect, cycle_frame, data_end, in_window, stage_moves, summaries
from salesnb.comparisons import Data, compare, kpi_table, reasons
from salesnb.context import ReportContext
from salesnb.engines import Source, as_source
from salesnb.periods import Period
from salesnb.stats import Proportion, two_sample

__all__ = ["stage_table", "weak_spots", "lost_reasons", "cycle_incidence", "cycle_days", "conversion_by",
           "snapshot_reach", "is_snapshot", "snapshot_note"]

STAGE_COLUMNS = ["stage", "entered", "advanced", "conversion", "median_days", "vs_previous", "p_previous",
                 "significant_previous", "vs_last_year", "p_last_year", "significant_last_year", "status"]
WEAK_COLUMNS = ["stage", "conversion", "entered", "last_year", "gap_own", "ci_own_low", "ci_own_high", "p_own",
                "others", "gap_others", "ci_others_low", "ci_others_high", "p_others", "weak", "status"]


def _days_in_stage(data: Data, p: Period, stages: list[str]) -> dict[str, float]:
    """Median days from entering each stage to entering the next (deals that moved on)."""
    moved = stage_moves(as_source(data), stages, Window.of(p))
    days = (moved["next_at"] - moved["entered_at"]).dt.total_seconds() / 86400
    return days.groupby(moved["stage"]).median().to_dict()


def is_snapshot(ctx: ReportContext) -> bool:
    """The funnel is read from deals' current stages: no stage history, but deals with a
    ``stage`` (most CRMs export one row per deal)."""
    src = ctx.src
    return (not src.has("deal_stages") and src.has("deals") and "stage" in src.columns("deals")
            and len(ctx.funnel_stages) >= 2)


def snapshot_reach(src: Source, w: Window, stages: Sequence[str]) -> pd.DataFrame:
    """A snapshot funnel of the deals created in window ``w``: per stage, how many reached at
    least it, read from each deal's current stage and outcome.

    A won deal passed every stage; an open deal reached its current stage; a lost deal
    reached the stage the export gives, and where it gives none of the funnel's stages (a
    "closed, lost" stage) it counts only as lost: in the cohort, not past the first stage.
    Returns ``stage``, ``reached``, ``advanced`` (reached the next stage) and ``created``.

    >>> import salesnb
    >>> deals = pd.DataFrame({"deal_id": ["1", "2", "3", "4"], "outcome": ["won", "open", "lost", "lost"],
    ...     "stage": ["won", "b", "c", "closed lost"],
    ...     "created_at": pd.to_datetime(["2026-10-02", "2026-10-05", "2026-10-07", "2026-10-09"])})
    >>> src = salesnb.engines.as_source(salesnb.SalesData({"deals": deals}))
    >>> snapshot_reach(src, Window.of(salesnb.parse_period("2026-10")), ["a", "b", "c", "won"])
      stage  reached  advanced  created
    0     a        4         3        4
    1     b        3         2        4
    2     c        2         1        4
    """
    stages = list(stages)
    columns = ["stage", "reached", "advanced", "created"]
    if not src.has("deals") or "stage" not in src.columns("deals"):
        return pd.DataFrame(columns=columns)
    deals = collect(src.frame("deals").filter(in_window("created_at", w)).select("stage", "outcome"))
    position = {stage: i for i, stage in enumerate(stages)}
    at = deals["stage"].map(position)
    # a won deal passed every stage; an unknown stage (closed-lost, or not in the funnel): the first
    reached = np.where(deals["outcome"].to_numpy(object) == "won", len(stages) - 1, at.fillna(0).to_numpy(float))
    n = len(deals)
    rows = [{"stage": stage, "reached": int((reached >= i).sum()), "advanced": int((reached >= i + 1).sum()),
             "created": n} for i, stage in enumerate(stages[:-1])]
    return pd.DataFrame(rows, columns=columns)


def _snapshot_lag(src: Source) -> float:
    """Days within which 90% of closed deals closed (created → closed): a cohort younger than
    this still has deals moving through the stages."""
    closed = collect(src.frame("deals").filter(~nw.col("closed_at").is_null())
                     .select("created_at", "closed_at")) if "closed_at" in src.columns("deals") else pd.DataFrame()
    if closed.empty:
        return 90.0
    days = (closed["closed_at"] - closed["created_at"]).dt.total_seconds() / 86400
    return float(np.nanpercentile(days.clip(lower=0), 90))


def _snapshot_stages(ctx: ReportContext, p: Period) -> dict[str, Proportion]:
    rows = snapshot_reach(ctx.src, Window.of(p), ctx.funnel_stages)
    return {r["stage"]: Proportion(float(r["advanced"]), float(r["reached"])) for r in rows.to_dict("records")}


def _snapshot_young(ctx: ReportContext, p: Period) -> bool:
    age = (data_end(ctx.src).normalize() - pd.Timestamp(p.end)).days
    return age < _snapshot_lag(ctx.src)


def snapshot_note(ctx: ReportContext) -> str:
    """The line that labels a snapshot funnel for the reader ("" when the stage history is there)."""
    from salesnb.texts import t

    return t("funnel.snapshot_note") if is_snapshot(ctx) else ""


def _snapshot_table(ctx: ReportContext) -> pd.DataFrame:
    p = ctx.period
    reach = snapshot_reach(ctx.src, Window.of(p), ctx.funnel_stages)
    prev, ly = _snapshot_stages(ctx, p.previous()), _snapshot_stages(ctx, p.last_year())
    young = _snapshot_young(ctx, p)
    rows = []
    for r in reach.to_dict("records"):
        now = Proportion(float(r["advanced"]), float(r["reached"]))
        out: dict[str, Any] = {"stage": r["stage"], "entered": r["reached"], "advanced": r["advanced"],
                               "conversion": now.value, "median_days": np.nan}
        for key, other in (("previous", prev), ("last_year", ly)):
            base = other.get(r["stage"])
            change = two_sample(now, base, alpha=ctx.alpha) if base is not None and base.trials and now.trials else None
            out[f"vs_{key}"] = change.abs_change if change else np.nan
            out[f"p_{key}"] = change.p_value if change else np.nan
            out[f"significant_{key}"] = bool(change is not None and not young and change.p_value < ctx.alpha)
        out["status"] = "immature" if young else "snapshot"
        rows.append(out)
    return pd.DataFrame(rows, columns=STAGE_COLUMNS)


def stage_table(ctx: ReportContext) -> pd.DataFrame:
    """Per funnel stage: entered, advanced, conversion, median days in the stage, and the
    change against the previous period and last year (statistics of :func:`salesnb.comparisons`).

    Returns ``stage``, ``entered``, ``advanced``, ``conversion``, ``median_days``,
    ``vs_previous``, ``p_previous``, ``significant_previous``, ``vs_last_year``,
    ``p_last_year``, ``significant_last_year``, ``status``.
    """
    data, p, stages = ctx.src, ctx.period, list(ctx.funnel_stages)
    if is_snapshot(ctx):
        return _snapshot_table(ctx)
    if not data.has("deal_stages"):
        return pd.DataFrame(columns=STAGE_COLUMNS)
    opts: dict[str, Any] = {"kpis": ["stage_conversion"], "funnel_stages": stages, "min_events": ctx.min_events}
    values = kpi_table(data, p, **opts).set_index("stage")
    prev = compare(data, p, alpha=ctx.alpha, **opts).set_index("stage")
    ly = compare(data, p, against="last_year", alpha=ctx.alpha, **opts).set_index("stage")
    days = _days_in_stage(data, p, stages)
    rows = []
    for stage in stages[:-1]:
        if stage not in values.index:
            continue
        v = values.loc[stage]
        rows.append({
            "stage": stage, "entered": int(v["n"]), "advanced": int(round(v["value"] * v["n"])),
            "conversion": v["value"], "median_days": days.get(stage, np.nan),
            "vs_previous": prev.loc[stage, "abs_change"] if stage in prev.index else np.nan,
            "p_previous": prev.loc[stage, "p_value"] if stage in prev.index else np.nan,
            "significant_previous": bool(prev.loc[stage, "significant"]) if stage in prev.index else False,
            "vs_last_year": ly.loc[stage, "abs_change"] if stage in ly.index else np.nan,
            "p_last_year": ly.loc[stage, "p_value"] if stage in ly.index else np.nan,
            "significant_last_year": bool(ly.loc[stage, "significant"]) if stage in ly.index else False,
            "status": v["status"],
        })
    return pd.DataFrame(rows, columns=STAGE_COLUMNS)


def weak_spots(ctx: ReportContext, *, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Funnel stages ranked by how far their conversion falls short, weakest first.

    Two yardsticks, each with the rate test of :func:`salesnb.compare` (Agresti–Caffo and
    Newcombe, widened for between-day variation): the stage's own conversion in the same
    period a year earlier (the same season), and the other stages' pooled conversion in the
    period (their typical level). The rank orders by the sum of the two shortfalls
    (``gap_own + gap_others``, most negative first).

    A stage whose cohort is still converting (entered too recently for most deals to have
    moved on: 90% of moves take longer than the time since the period ended) is not judged:
    status ``immature``, no gaps, never weak — otherwise every stage of the latest month
    would look weak.

    Returns ``stage``, ``conversion``, ``entered``, ``last_year``, ``gap_own``,
    ``ci_own_low``, ``ci_own_high``, ``p_own``, ``others``, ``gap_others``, ``ci_others_low``,
    ``ci_others_high``, ``p_others``, ``weak`` (significantly below the other stages),
    ``status`` (``ok`` or ``immature``).
    """
    from functools import reduce

    from salesnb.aggregate import cohort_lags, immature

    src, p, stages, alpha = ctx.src, ctx.period, list(ctx.funnel_stages), ctx.alpha
    if is_snapshot(ctx):  # the same test on the cohorts' snapshot reach
        cur = {k: v for k, v in _snapshot_stages(ctx, p).items() if v.trials}
        old = _snapshot_stages(ctx, p.last_year())
        young = set(cur) if _snapshot_young(ctx, p) else set()
    elif not src.has("deal_stages"):
        return pd.DataFrame(columns=WEAK_COLUMNS)
    else:
        kpi = ctx.kpis["stage_conversion"]
        now, _ = summaries(src, [kpi], Window.of(p), None, funnel_stages=stages)
        before, _ = summaries(src, [kpi], Window.of(p.last_year()), None, funnel_stages=stages)
        cur = {str(k[1]): v for k, v in now.items() if isinstance(v, Proportion)}
        old = {str(k[1]): v for k, v in before.items() if isinstance(v, Proportion)}
        end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
        lags = cohort_lags(src, stages)
        young = {stage for stage in cur if immature("stage_conversion", stage, Window.of(p), end, lags)}
    mature = {k: v for k, v in cur.items() if k not in young}
    rows = []
    nan = np.nan
    for stage, s in cur.items():
        base = {"stage": stage, "conversion": s.value, "entered": int(s.trials),
                "last_year": old[stage].value if stage in old else nan}
        if stage in young:
            rows.append({**base, "gap_own": nan, "ci_own_low": nan, "ci_own_high": nan, "p_own": nan,
                         "others": nan, "gap_others": nan, "ci_others_low": nan, "ci_others_high": nan,
                         "p_others": nan, "weak": False, "status": "immature"})
            continue
        rest = [v for k, v in mature.items() if k != stage]
        others = reduce(lambda a, b: a + b, rest) if rest else None
        own = two_sample(s, old[stage], alpha=alpha) if stage in old and old[stage].trials else None
        vs = two_sample(s, others, alpha=alpha) if others is not None and others.trials else None
        rows.append({**base,
                     "gap_own": own.abs_change if own else nan, "ci_own_low": own.ci_low if own else nan,
                     "ci_own_high": own.ci_high if own else nan, "p_own": own.p_value if own else nan,
                     "others": others.value if others is not None else nan,
                     "gap_others": vs.abs_change if vs else nan, "ci_others_low": vs.ci_low if vs else nan,
                     "ci_others_high": vs.ci_high if vs else nan, "p_others": vs.p_value if vs else nan,
                     "weak": bool(vs is not None and vs.p_value < alpha and vs.abs_change < 0), "status": "ok"})
    out = pd.DataFrame(rows, columns=WEAK_COLUMNS)
    if out.empty:
        return out
    score = out["gap_others"].fillna(np.inf) + out["gap_own"].fillna(0)
    return out.assign(_score=score).sort_values("_score").drop(columns="_score").reset_index(drop=True)


def lost_reasons(ctx: ReportContext) -> pd.DataFrame:
    """Lost deals by reason as a Pareto table: ``reason``, ``count``, ``share``, ``cumulative``,
    ``amount``, largest first."""
    r = reasons(ctx.src, ctx.period, kind="lost_deals")
    return r.assign(cumulative=r["share"].cumsum())[["reason", "count", "share", "cumulative", "amount"]]


def cycle_incidence(ctx: ReportContext) -> pd.DataFrame:
    """How the deals created in the period ended over time: ``days`` since first contact,
    ``won`` and ``lost`` (cumulative shares; the rest still open), by the Aalen–Johansen
    estimator with a loss as a competing end (:mod:`salesnb.stats.survival`)."""
    from salesnb.stats.survival import win_incidence

    src, p = ctx.src, ctx.period
    if not src.has("deals"):
        return pd.DataFrame(columns=["days", "won", "lost"])
    end = data_end(src)
    created = cycle_frame(src, Window.of(p), None, created=True)
    closed = created["closed_at"].notna() & (created["closed_at"] <= end) & created["outcome"].isin(["won", "lost"])
    time = np.where(closed, created["days"], (end.normalize() - created["created_at"].dt.normalize()).dt.days)
    return win_incidence(time.astype(float), np.where(closed, created["outcome"], "open"))


def cycle_days(ctx: ReportContext) -> pd.DataFrame:
    """Deals won in the period with their calendar days to sign (``days``); empty without deals."""
    if not ctx.src.has("deals"):
        return pd.DataFrame(columns=["created_at", "closed_at", "outcome", "days"])
    return cycle_frame(ctx.src, Window.of(ctx.period), None)


def conversion_by(ctx: ReportContext, by: str, *, against: str = "previous") -> pd.DataFrame:
    """Lead-to-sale conversion per segment (lead channel or rep) against the previous period."""
    return compare(ctx.src, ctx.period, by=by, kpis=["conversion_rate"], against=against,  # type: ignore[arg-type]
                   alpha=ctx.alpha, min_events=ctx.min_events)

