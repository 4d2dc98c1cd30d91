"""Customer and employee feedback: satisfaction, recurring themes, and anomalies.

- :func:`summary`: CSAT (mean of 1–5 and the share of 4–5), NPS (promoters − detractors on
  0–10) and response counts, against the previous period and last year, with intervals.
- :func:`themes`: comments assigned to themes by a dictionary of words and stems from
  params (``feedback_themes`` in ``params/base.yaml``: English and Russian shipped,
  analysts extend it); each
  theme's share, its change, its average score and a few verbatim comments. Employee notes
  (``source: employee``) are reported apart from customers'.
- :func:`anomalies`: monthly KPI values that stand out from the segment's own history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesnb import texts
from salesnb.aggregate import Window, collect, in_window
from salesnb.comparisons import Data, kpi_table
from salesnb.context import ReportContext
from salesnb.engines import as_source
from salesnb.periods import Period, parse_period
from salesnb.stats import Counts, Daily, Moments, Proportion, bh_qvalues, calendar_of, two_sample
from salesnb.stats.anomaly import MonthCheck, month_prediction
from salesnb.stats.calendar import day_weights
from salesnb.stats.scores import nps, nps_change
from salesnb.texts import t

__all__ = ["summary", "summary_table", "themes", "anomalies", "assign_themes", "linked_reasons"]

def _feedback(data: Data, p: Period) -> pd.DataFrame:
    src = as_source(data)
    if not src.has("feedback"):
        return pd.DataFrame({"received_at": pd.Series(dtype="datetime64[us]"), "source": pd.Series(dtype=str),
                             "score": pd.Series(dtype=float), "scale": pd.Series(dtype=str),
                             "comment": pd.Series(dtype=str)})
    # the engine sends the period's rows only
    df = collect(src.frame("feedback").filter(in_window("received_at", Window.of(p))))
    df["received_at"] = pd.to_datetime(df["received_at"])
    return df


def _scores(df: pd.DataFrame, w: Period) -> dict[str, Any]:
    is_csat = (df.get("scale") == "csat5") & df["score"].notna()
    csat = df.loc[is_csat, "score"].astype(float)
    nps = df.loc[(df.get("scale") == "nps10") & df["score"].notna(), "score"].astype(float)
    responses = df[df["source"] != "employee"]

    def daily(rows: pd.DataFrame, x: pd.Series) -> Daily:
        # per day: the tests allow for days whose answers are alike
        return Daily.of(rows["received_at"].dt.normalize().to_numpy(), x.to_numpy(float),
                        np.ones(len(rows)), start=w.start, days=w.days)

    return {"csat": csat, "nps": nps, "responses": len(responses),
            "csat_daily": daily(df[is_csat], csat), "satisfied_daily": daily(df[is_csat], (csat >= 4).astype(float)),
            "responses_daily": daily(responses, pd.Series(np.ones(len(responses))))}


def _daily_share(rows: pd.DataFrame, hit: np.ndarray, w: Period) -> Daily:
    return Daily.of(rows["received_at"].dt.normalize().to_numpy(), np.asarray(hit, float),
                    np.ones(len(rows)), start=w.start, days=w.days)


def summary(ctx: ReportContext) -> pd.DataFrame:
    """CSAT, share satisfied (4–5), NPS and responses against previous period and last year.

    Returns ``measure``, ``value``, ``n``, and for ``previous`` and ``last_year``:
    ``change_*``, ``ci_low_*``, ``ci_high_*``, ``p_*``. The tests of :func:`salesnb.compare`
    on daily totals: CSAT as a mean with days as clusters, the satisfied share as a rate
    allowing for days that differ, responses as a count with weekday terms; NPS: a normal
    test on the difference with the multinomial variance of promoters − detractors.
    """
    data, p, alpha = ctx.src, ctx.period, ctx.alpha
    windows = {"current": p, "previous": p.previous(), "last_year": p.last_year()}
    s = {k: _scores(_feedback(data, w), w) for k, w in windows.items()}
    rows = []
    for measure in ("csat", "satisfied_share", "nps", "responses"):
        row: dict[str, Any] = {"measure": t(f"feedback.measure.{measure}")}
        for k in windows:
            c = s[k]["csat"]
            if measure == "csat":
                val, n = (float(c.mean()) if len(c) else math.nan), len(c)
                summ: Any = Moments(len(c), float(c.sum()), float((c**2).sum()), kind="mean",
                                    daily=s[k]["csat_daily"])
            elif measure == "satisfied_share":
                summ = Proportion(float((c >= 4).sum()), float(len(c)), s[k]["satisfied_daily"])
                val, n = summ.value, len(c)
            elif measure == "nps":
                val, se, n = nps(s[k]["nps"])
                summ = (val, se)
            else:
                val, n = float(s[k]["responses"]), s[k]["responses"]
                summ = Counts(val, windows[k].days, s[k]["responses_daily"])
            if k == "current":
                row.update(value=val, n=n)
                current = summ
                continue
            r = nps_change(current, summ, alpha=alpha) if measure == "nps" else two_sample(current, summ, alpha=alpha)
            row.update({f"change_{k}": r.abs_change, f"ci_low_{k}": r.ci_low, f"ci_high_{k}": r.ci_high,
                        f"p_{k}": r.p_value})
        row["_unit"] = measure
        rows.append(row)
    return pd.DataFrame(rows)


# how each measure's value and change read: CSAT in points, shares in percent (changes in
# percentage points), NPS in whole points, responses as counts
_SHOWN = {"csat": (lambda v: texts.number(v, 2), lambda v: _signed(texts.number(abs(v), 2), v)),
          "satisfied_share": (lambda v: texts.percent(v),
                              lambda v: t("unit.pp", n=_signed(texts.number(abs(v) * 100, 1), v))),
          "nps": (lambda v: texts.number(v, 0), lambda v: _signed(texts.number(abs(v), 0), v)),
          "responses": (lambda v: texts.number(v, 0), lambda v: _signed(texts.number(abs(v), 0), v))}


def _signed(text: str, value: float) -> str:
    if value != value:
        return "–"
    return ("+" if value > 0 else "-" if value < 0 else "") + text


def summary_table(ctx: ReportContext) -> pd.DataFrame:
    """:func:`summary` as the page shows it: each measure's value, change and interval in its
    own unit (CSAT points, shares in percent and percentage points, NPS points, a count of
    responses as a whole number), p-values to three decimals."""
    raw = summary(ctx)
    rows = []
    for r in raw.to_dict("records"):
        value, change = _SHOWN[r["_unit"]]
        row = {"measure": r["measure"], "value": value(r["value"]), "n": texts.number(r["n"], 0)}
        for k in ("previous", "last_year"):
            row[f"change_{k}"] = change(r.get(f"change_{k}", math.nan))
            low, high = r.get(f"ci_low_{k}", math.nan), r.get(f"ci_high_{k}", math.nan)
            row[f"ci_{k}"] = "–" if low != low else f"{change(low)} … {change(high)}"
            row[f"p_{k}"] = texts.number(r.get(f"p_{k}", math.nan), 3)
        rows.append(row)
    return pd.DataFrame(rows)


def assign_themes(comments: pd.Series, dictionary: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """One row per comment × matching theme (case-insensitive words and stems).

    >>> themes = {"delivery": ["deliver", "доставк"], "price": ["expensive", "дорог"]}
    >>> assign_themes(pd.Series(["Доставка задержалась", "Too expensive", "ok"]), themes)["theme"].tolist()
    ['delivery', 'price']
    """
    text = comments.fillna("").astype(str).str.lower()
    parts = []
    for theme, stems in dictionary.items():
        hit = pd.Series(False, index=text.index)
        for stem in stems:
            hit |= text.str.contains(str(stem).lower(), regex=False)
        parts.append(pd.DataFrame({"row": text.index[hit], "theme": theme}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["row", "theme"])


def themes(ctx: ReportContext, *, employee: bool = False, verbatims: int = 3) -> pd.DataFrame:
    """Recurring problems and objections in the period's comments.

    Customers' comments by default; ``employee=True`` gives employee notes instead. Returns
    ``theme``, ``comments`` (count), ``share`` (of commented responses), ``change`` (share
    points against the previous period), ``p_value`` (two-proportion test, allowing for days that differ), ``avg_score``
    (mean CSAT of those comments, 1–5), ``verbatim`` (the latest few comments, as written).
    The themes are the context's ``feedback_themes``.
    """
    data, p, alpha, dictionary = ctx.src, ctx.period, ctx.alpha, ctx.feedback_themes

    def commented(w: Period) -> pd.DataFrame:
        df = _feedback(data, w)
        df = df[(df["source"] == "employee") == employee]
        return df[df["comment"].notna() & (df["comment"].astype(str).str.strip() != "")]

    now, before = commented(p), commented(p.previous())
    hits_now = assign_themes(now["comment"], dictionary)
    hits_before = assign_themes(before["comment"], dictionary)
    rows = []
    for theme in dictionary:
        idx = hits_now.loc[hits_now["theme"] == theme, "row"]
        n_before = int((hits_before["theme"] == theme).sum())
        hit_now = now.index.isin(idx)
        hit_before = before.index.isin(hits_before.loc[hits_before["theme"] == theme, "row"])
        cur = Proportion(float(len(idx)), float(len(now)), _daily_share(now, hit_now, p))
        old = Proportion(float(n_before), float(len(before)), _daily_share(before, hit_before, p.previous()))
        change = two_sample(cur, old, alpha=alpha) if len(now) and len(before) else None
        sub = now.loc[idx]
        csat = sub.loc[sub.get("scale") == "csat5", "score"] if "scale" in sub else pd.Series(dtype=float)
        latest = sub.sort_values("received_at", ascending=False)["comment"].astype(str).head(verbatims)
        rows.append({"theme": theme, "comments": len(idx), "share": cur.value,
                     "change": change.abs_change if change else math.nan,
                     "p_value": change.p_value if change else math.nan,
                     "avg_score": float(csat.mean()) if len(csat) else math.nan,
                     "verbatim": " | ".join(latest)})
    out = pd.DataFrame(rows, columns=["theme", "comments", "share", "change", "p_value", "avg_score", "verbatim"])
    return out[out["comments"] > 0].sort_values("comments", ascending=False).reset_index(drop=True)


def anomalies(ctx: ReportContext, kpi: str | Sequence[str], *, by: str | None = None, periods: int = 24,
              history: int = 24, alpha: float = 0.02) -> pd.DataFrame:
    """Monthly values that stand out from what the segment's own history predicts.

    For each of the last ``periods`` months (ending with the context's period, or the
    data's last complete month when that is earlier) and each segment of ``by``, the month
    is set against a prediction from the same segment's previous months (up to ``history``,
    at least 12): a trend, the month of the year once two years are there, and the month's
    calendar (trading days by the weekday profile and the source's holidays), with the
    family's over-dispersion and a t reference (:mod:`salesnb.stats.anomaly`). Months whose
    cohort is still converting (status ``immature``) are not tested. The p-values are adjusted over the whole table
    (Benjamini–Hochberg), and a month is an anomaly when q < ``alpha``. The default 0.02 is
    set by calibration (``make calibrate``): on steady realistic data (day-to-day variation
    up to a CV of 0.3, rates drifting from month to month) at most 5% of pages of eight KPIs
    × 24 months carry any false flag.

    Returns ``period`` (e.g. ``2025-11``), the ``by`` column when given, ``value``,
    ``expected``, ``low`` and ``high`` (the 95% prediction interval), ``p_value``,
    ``anomaly``; with a list of KPIs, a ``kpi`` column first.
    """
    from salesnb.aggregate import data_end, weekday_profile

    src, funnel_stages = ctx.src, ctx.funnel_stages
    kpis = [kpi] if isinstance(kpi, str) else list(kpi)
    kinds = {k: ctx.kpis[k].kind for k in kpis}
    calendar = src.calendar or calendar_of(None)
    last_day = data_end(src)
    last = min(pd.Period(ctx.period.end, "M"), (last_day + pd.Timedelta(days=1)).to_period("M") - 1)
    months = pd.period_range(last - (periods + history - 1), last, freq="M")
    from salesnb.aggregate import families_of, prefetch

    # every month's aggregates in one pass per table, not three scans per month
    month_windows = [Window.of(parse_period(str(m))) for m in months]
    prefetch(src, month_windows + [Window.of(parse_period(str(months[0] - 1)))], by,
             families=families_of(ctx.kpis[k] for k in kpis))
    frames = []
    for m in months:
        t = kpi_table(src, str(m), by=by, kpis=kpis, min_events=0, funnel_stages=list(funnel_stages),
                      custom_kpis=ctx.custom_kpis)
        frames.append(t.assign(period=str(m)))
    df = pd.concat(frames, ignore_index=True)
    col = by or "segment"
    if by is None:
        df[col] = "all"
    df = df[df["stage"].isna()]
    if by is not None:
        df = _fold_months(df, col, kinds, ctx.top_segments)
    # each month's expected trading days: the weekday profile of the year before the data's end
    weights = weekday_profile(src, last_day.normalize(), calendar)
    offsets = []
    for m in months:
        days = pd.date_range(m.start_time, m.end_time.normalize(), freq="D").to_numpy().astype("datetime64[D]")
        offsets.append(float(day_weights(days, weights, calendar).sum()) or 1.0)
    rows = []
    names = [str(m) for m in months]
    for (name, seg), g in df.groupby(["kpi", col]):
        kind = kinds[str(name)]
        g = g.set_index("period").reindex(names)
        values, ns = g["value"].to_numpy(float), g["n"].fillna(0).to_numpy(float)
        statuses = g["status"].fillna("ok").to_numpy()
        if kind in ("count", "sum"):
            values = np.nan_to_num(values, nan=0.0)
        # months before the segment's first event are before its history, not zeros
        started = np.cumsum(ns > 0) > 0
        values = np.where(started, values, np.nan)
        series = values * ns if kind == "proportion" else values
        for i in range(history, len(months)):
            if statuses[i] == "immature":  # a cohort still converting is low by construction
                check = MonthCheck(math.nan, math.nan, math.nan, math.nan)
            else:
                check = month_prediction(series, kind=kind, index=i, trials=ns, history=history,
                                         months=[m.month for m in months], offset=offsets)
            rows.append({"kpi": name, "period": names[i], col: seg, "value": values[i],
                         "expected": check[0], "low": check[1], "high": check[2], "p_value": check[3]})
    out = pd.DataFrame(rows, columns=["kpi", "period", col, "value", "expected", "low", "high", "p_value"])
    q = bh_qvalues(out["p_value"].to_numpy(float))
    out["anomaly"] = np.nan_to_num(q, nan=1.0) < alpha
    out = out.sort_values(["kpi", "period", col]).reset_index(drop=True)
    if isinstance(kpi, str):
        out = out.drop(columns=["kpi"])
    return out if by else out.drop(columns=[col])


def _fold_months(df: pd.DataFrame, col: str, kinds: Mapping[str, str], top: int) -> pd.DataFrame:
    """Monthly rows of the ``top`` largest segments (by the first KPI over all months: value for
    a flow, events otherwise) and one pooled "all others" series: thousands of products are
    tested as ``top`` + 1 series, not one model each."""
    from salesnb.aggregate import OTHERS_LABEL

    first = df[df["kpi"] == df["kpi"].iloc[0]] if len(df) else df
    flow = kinds.get(str(first["kpi"].iloc[0]), "") in ("count", "sum") if len(first) else False
    size = (first["value"].abs() if flow else first["n"]).fillna(0).groupby(first[col].astype(str)).sum()
    if len(size) <= top + 1:
        return df
    keep = set(size.sort_values(ascending=False, kind="stable").index[:top])
    seg = df[col].astype(str)
    pooled = df[~seg.isin(keep)].assign(**{col: OTHERS_LABEL})
    pooled = pooled.assign(_vn=pooled["value"].fillna(0) * pooled["n"].fillna(0),
                           _ok=(pooled["status"] == "ok"))
    g = pooled.groupby(["kpi", "period", col], sort=False)
    out = g.agg(value=("value", "sum"), n=("n", "sum"), _vn=("_vn", "sum"), _ok=("_ok", "any"),
                status=("status", "first")).reset_index()
    ratio = ~out["kpi"].map(lambda k: kinds.get(str(k)) in ("count", "sum"))
    out.loc[ratio, "value"] = (out["_vn"] / out["n"].where(out["n"] > 0)).loc[ratio]
    out["status"] = np.where(out["_ok"], "ok", out["status"])
    return pd.concat([df[seg.isin(keep)], out.drop(columns=["_vn", "_ok"])], ignore_index=True)


def linked_reasons(ctx: ReportContext, *, by: str, kind: str = "returns") -> pd.DataFrame:
    """Returns (or refusals) by reason and by a column of the original sale (product,
    channel, owner, region): ``reason``, the ``by`` column, ``count``, ``share``, ``amount``."""
    from salesnb.aggregate import NotSegmentable
    from salesnb.comparisons import reasons

    try:
        return reasons(ctx.src, ctx.period, kind=kind, by=by)  # type: ignore[arg-type]
    except NotSegmentable:  # the orders do not carry that column: nothing to link by
        return pd.DataFrame(columns=["reason", by, "count", "share", "amount"])
