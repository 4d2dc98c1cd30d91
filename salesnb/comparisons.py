"""KPI tables and honest period-over-period comparisons.

:func:`kpi_table` gives every KPI's value for a period (per segment with ``by``);
:func:`compare` sets it against the previous period, the same period last year or the
target, with an interval, a p-value, a Benjamini–Hochberg q-value and a validity gate
that says why no verdict is given. :func:`reasons`, :func:`sales_cycle` and
:func:`revenue_drivers` explain what moved. The statistics are in :mod:`salesnb.stats`;
the aggregation (any engine) in :mod:`salesnb.aggregate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd

from salesnb.aggregate import (
    OTHERS_LABEL,
    SEG,
    Key,
    Window,
    cohort_lags,
    collect,
    cycle_frame,
    data_end,
    data_start,
    families_of,
    fold_segments,
    immature,
    in_window,
    prefetch,
    segmented,
    summaries,
    weekday_profile,
)
from salesnb.data import SalesData
from salesnb.engines import Engine, Source, as_source
from salesnb.kpis import KPI, registry
from salesnb.periods import Period, parse_period
from salesnb.stats import (
    Calendar,
    Change,
    Counts,
    Daily,
    Moments,
    Proportion,
    Sample,
    Summary,
    attainment,
    bh_qvalues,
    calendar_of,
    two_sample,
)
from salesnb.stats.calendar import day_weights
from salesnb.texts import t

__all__ = ["kpi_table", "compare", "reasons", "sales_cycle", "revenue_drivers", "kpi_trend",
           "DEFAULT_FUNNEL", "DEFAULT_MIN_EVENTS", "Data", "baseline_missing", "elapsed_share", "period_targets",
           "comparison_windows"]

DEFAULT_FUNNEL = ["qualified", "meeting", "proposal", "negotiation", "won"]
DEFAULT_MIN_EVENTS = 20
Against = Literal["previous", "last_year", "target"]
Data = SalesData | Source


def _setup(data: Data, period: str | Period, kpis: Sequence[str] | None, engine: Engine | None,
           custom_kpis: Mapping[str, Any] | None, fiscal_year_start: int) -> tuple[Source, Period, list[KPI]]:
    src = as_source(data, engine)
    p = parse_period(period, fiscal_year_start=fiscal_year_start)
    reg = registry(custom_kpis)
    names = list(kpis) if kpis is not None else list(reg)
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ValueError(f"unknown KPIs {unknown}; known: {', '.join(reg)}")
    return src, p, [reg[n] for n in names]


def _by_column(by: str | None) -> str:
    return by or "segment"


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    return df.reset_index(drop=True)


def kpi_table(data: Data, period: str | Period, *, by: str | None = None,
              kpis: Sequence[str] | None = None, engine: Engine | None = None,
              custom_kpis: Mapping[str, Any] | None = None, funnel_stages: Sequence[str] | None = None,
              min_events: int = DEFAULT_MIN_EVENTS, as_of: str | pd.Timestamp | None = None,
              fiscal_year_start: int = 1) -> pd.DataFrame:
    """Every KPI's value for one period.

    Parameters
    ----------
    data
        Loaded :class:`~salesnb.data.SalesData`, or a :func:`salesnb.scan` source.
    period
        Any period string (``2026-10``, ``2026-Q3``, ``2026``, ``2026-W42``, ``a..b``).
    by
        A segment column (region, channel, owner, product …): one row per KPI × segment.
    kpis
        KPI names (default: all, including ``custom_kpis`` from params).
    engine
        ``pandas``, ``duckdb`` or ``spark``; default: where the data lives.
    min_events
        Fewer events than this → status ``insufficient_data``.
    as_of
        The data's end (default: its latest event), for the immaturity gate.

    Returns
    -------
    DataFrame
        ``kpi``, ``stage`` (funnel stage of ``stage_conversion`` rows), the ``by`` column
        when given, ``label``, ``value``, ``unit``, ``n`` (events behind the value),
        ``status`` (``ok``, ``insufficient_data``, ``immature``, ``missing_table``,
        ``not_segmentable``), ``definition``.
    """
    src, p, kpi_list = _setup(data, period, kpis, engine, custom_kpis, fiscal_year_start)
    stages = list(funnel_stages or DEFAULT_FUNNEL)
    w = Window.of(p)
    # the comparisons usually asked next read the same tables: one pass for all three
    prefetch(src, [w, Window.of(p.previous()), Window.of(p.last_year())], by,
             families=families_of(kpi_list))
    values, problems = summaries(src, kpi_list, w, by, funnel_stages=stages)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    lags = cohort_lags(src, stages) if any(k.kind == "proportion" for k in kpi_list) else {}
    col = _by_column(by)
    rows = []
    for kpi in kpi_list:
        keys = sorted((k for k in values if k[0] == kpi.name),
                      key=lambda k: (stages.index(k[1]) if k[1] in stages else -1, k[2]))
        if kpi.name in problems or not keys:
            rows.append({"kpi": kpi.name, "stage": None, col: None if by else "all",
                         "label": kpi.label, "value": math.nan, "unit": kpi.unit, "n": 0,
                         "status": problems.get(kpi.name, "insufficient_data"),
                         "definition": kpi.definition})
            continue
        for key in keys:
            s = values[key]
            status = "ok"
            if s.n < min_events:
                status = "insufficient_data"
            elif kpi.kind == "proportion" and immature(kpi.name, key[1], w, end, lags):
                status = "immature"
            rows.append({"kpi": kpi.name, "stage": key[1], col: key[2],
                         "label": kpi.label + (t("label.stage_next", stage=key[1]) if key[1] else ""),
                         "value": s.value, "unit": kpi.unit, "n": int(s.n), "status": status,
                         "definition": kpi.definition})
    out = _frame(rows, ["kpi", "stage", col, "label", "value", "unit", "n", "status", "definition"])
    if by is None:
        out = out.drop(columns=[col])
    return out.astype({"value": "float64", "n": "int64"})


def period_targets(src: Source, p: Period, kpis: Sequence[KPI], by: str | None) -> dict[tuple[str, str], float]:
    """Targets for the period: its own rows, else its months (flows summed, rates averaged)."""
    if not src.has("targets"):
        return {}
    t = collect(src.frame("targets"))
    months = [str(m) for m in pd.period_range(p.start, p.end, freq="M")]
    if by is None:
        t = t[t["segment_column"].isna()] if "segment_column" in t.columns else t
        t = t.assign(_seg="all")
    else:
        if "segment_column" not in t.columns:
            return {}
        t = t[t["segment_column"] == by].assign(_seg=lambda d: d["segment_value"].astype(str))
    out: dict[tuple[str, str], float] = {}
    kinds = {k.name: k for k in kpis}
    for (kpi, seg), g in t.groupby(["kpi", SEG]):
        if kpi not in kinds:
            continue
        own = g[g["period"] == p.name]
        if len(own):
            out[(kpi, seg)] = float(own["value"].iloc[0])
        elif p.kind in ("quarter", "year") and set(months) <= set(g["period"]):
            vals = g[g["period"].isin(months)]["value"]
            out[(kpi, seg)] = float(vals.sum() if kinds[kpi].is_flow else vals.mean())
    return out


def comparison_windows(src: Source, period: Period, against: str, *, as_of: str | pd.Timestamp | None = None
                       ) -> tuple[Period, Period | None, bool, pd.Timestamp]:
    """The windows a comparison uses: the period (cut to the data's last day while it is
    open), its baseline (``None`` against a target), whether the period is still open, and
    the day the data ends. Every page that restates a comparison (driver splits, workbook)
    takes its windows from here, so its numbers are the scorecard's."""
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    incomplete = end.normalize() < pd.Timestamp(period.end)
    p = period
    if incomplete and end.normalize() >= pd.Timestamp(period.start):
        p = period.to_date(end.date())
    base = None if against == "target" else p.previous() if against == "previous" else p.last_year()
    return p, base, incomplete, end


_COMPARE_COLUMNS = ["kpi", "stage", "current", "baseline", "abs_change", "rel_change", "ci_low",
                    "ci_high", "p_value", "q_value", "significant", "status", "note", "method", "dispersion"]


def compare(data: Data, period: str | Period, *, against: Against = "previous",
            by: str | None = None, kpis: Sequence[str] | None = None, alpha: float = 0.05,
            engine: Engine | None = None, custom_kpis: Mapping[str, Any] | None = None,
            funnel_stages: Sequence[str] | None = None, min_events: int = DEFAULT_MIN_EVENTS,
            as_of: str | pd.Timestamp | None = None, fiscal_year_start: int = 1,
            holidays: str | Sequence[str] | Calendar | None = None, top: int | None = None,
            basis: Literal["days", "months"] = "days") -> pd.DataFrame:
    """Compare each KPI of a period with a baseline: previous period, last year or target.

    With ``by`` and ``top``, the ``top`` largest segments (by the first KPI: money for a flow,
    events otherwise) are compared one by one and the rest pooled into one row
    ``(all others)`` whose note says how many it holds; segments then still add up to the
    whole, and Benjamini–Hochberg runs over the rows shown. ``basis``: ``days`` puts the
    earlier period's flows on this period's calendar, ``months`` compares totals as they are.

    Returns
    -------
    DataFrame
        ``kpi``, ``stage``, the ``by`` column when given, ``current``, ``baseline``,
        ``abs_change``, ``rel_change``, ``ci_low`` and ``ci_high`` (interval of the absolute
        change at 1 − ``alpha``), ``p_value``, ``q_value`` (Benjamini–Hochberg over the rows
        with status ``ok``), ``significant`` (status ok and q < alpha), ``status`` and
        ``note``, ``method`` (the test used) and ``dispersion`` (how much more the days vary than
        chance alone: 1 = as chance). Status: ``ok``; ``insufficient_data`` (fewer than ``min_events`` on either
        side); ``immature`` (a cohort still converting); ``incomplete_period`` (the current
        period is not over: both sides cut to the same number of days, no verdict);
        ``no_target``; ``missing_table``; ``not_segmentable``; ``not_tested`` (a snapshot).

    Notes
    -----
    Counts and sums are compared on daily totals with weekday and holiday terms
    (``holidays``: a country code such as ``RU`` or a list of dates): the baseline is the
    baseline period's daily rate on the current period's calendar, and the note gives the
    day-to-day dispersion found. Rates allow for between-day variation, the average check
    for days whose orders are alike. Against a target: attainment (actual ÷ target, a flow's
    target prorated by the calendar while the period is open), never a p-value.
    See :mod:`salesnb.stats`.
    """
    if against not in ("previous", "last_year", "target"):
        raise ValueError(f"against must be previous, last_year or target, got {against!r}")
    src, p, kpi_list = _setup(data, period, kpis, engine, custom_kpis, fiscal_year_start)
    stages = list(funnel_stages or DEFAULT_FUNNEL)
    # A page asks the same comparison more than once (the scorecard, its workbook sheet, the
    # variation note, the findings): the tests and bootstraps run once per source.
    key = _compare_key(src, p, against, by, kpi_list, alpha, custom_kpis, stages, min_events, as_of, holidays,
                       top, basis)
    kept = src.cache.setdefault("compare", {})
    if key is not None and key in kept and kept[key][0] is src.calendar:
        return _copy(kept[key][1])
    out = _compare(src, p, kpi_list, stages, against, by, alpha, min_events, as_of, holidays, top, basis)
    rows = sum(len(v[1]) for v in kept.values()) + len(out)
    if key is not None and len(kept) < MAX_KEPT_COMPARISONS and rows <= MAX_KEPT_ROWS:
        kept[key] = (src.calendar, _copy(out))  # the calendar held, so its id in the key is never reused
    return out


MAX_KEPT_COMPARISONS = 256  # per source: a page asks a few dozen
MAX_KEPT_ROWS = 100_000     # and their rows together (thousands of products, no top: not kept)


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy(deep=True)
    out.attrs = dict(frame.attrs)
    return out


def _compare_key(src: Source, p: Period, against: str, by: str | None, kpi_list: Sequence[KPI], alpha: float,
                 custom_kpis: Mapping[str, Any] | None, stages: Sequence[str], min_events: int,
                 as_of: str | pd.Timestamp | None, holidays: Any, top: int | None, basis: str) -> tuple | None:
    """Everything a comparison's numbers depend on besides the rows, or None when some
    argument has no plain value to key on (then it is computed every time)."""
    import json

    if not (holidays is None or isinstance(holidays, str)
            or (isinstance(holidays, list | tuple) and all(isinstance(h, str) for h in holidays))):
        return None
    try:
        custom = json.dumps(custom_kpis, sort_keys=True)
    except (TypeError, ValueError):
        return None
    holidays_key = holidays if holidays is None or isinstance(holidays, str) else tuple(holidays)
    return (p, against, by, tuple(k.name for k in kpi_list), float(alpha), custom,
            tuple(stages), min_events, None if as_of is None else str(as_of), holidays_key, top, basis,
            data_end(src), id(src.calendar))


def _compare(src: Source, p: Period, kpi_list: list[KPI], stages: list[str], against: str, by: str | None,
             alpha: float, min_events: int, as_of: str | pd.Timestamp | None,
             holidays: str | Sequence[str] | Calendar | None, top: int | None, basis: str) -> pd.DataFrame:
    calendar = calendar_of(holidays) if holidays is not None else (src.calendar or calendar_of(None))
    full = p
    p, base_p, incomplete, end = comparison_windows(src, p, against, as_of=as_of)
    cur_w = Window.of(p)
    if base_p is not None:
        prefetch(src, [cur_w, Window.of(base_p)], by, families=families_of(kpi_list))
    current, problems = summaries(src, kpi_list, cur_w, by, funnel_stages=stages)
    lags = cohort_lags(src, stages) if any(k.kind == "proportion" for k in kpi_list) else {}
    if against == "target":
        targets = period_targets(src, full, kpi_list, by)
        elapsed = elapsed_share(src, full, p, calendar) if incomplete else 1.0
        no_data_note = ""
        baseline: dict[Key, Summary] = {}
    else:
        assert base_p is not None
        baseline, base_problems = summaries(src, kpi_list, Window.of(base_p), by, funnel_stages=stages)
        problems = {**base_problems, **problems}
        no_data_note = baseline_missing(src, base_p, against)
        targets = {}
        elapsed = 1.0
    folded = 0
    if by and top is not None:
        (current, baseline), _, folded = fold_segments([current, baseline], kpi_list, top)
    col = _by_column(by)
    rows: list[dict[str, Any]] = []
    for kpi in kpi_list:
        keys = sorted({k for k in [*current, *baseline] if k[0] == kpi.name},
                      key=lambda k: (stages.index(k[1]) if k[1] in stages else -1, k[2]))
        if kpi.name in problems or not keys:
            status = problems.get(kpi.name, "insufficient_data")
            rows.append(_row(kpi, (kpi.name, None, "all"), None, status, _why(status), col))
            continue
        for key in keys:
            row = _compare_one(kpi, key, current.get(key), baseline.get(key), targets, against, p, base_p,
                               cur_w, end, lags, min_events, alpha, incomplete, col, calendar, elapsed, basis)
            if no_data_note:  # the baseline period lies before the data: its figures would be zeros
                row.update(baseline=math.nan, abs_change=math.nan, rel_change=math.nan, ci_low=math.nan,
                           ci_high=math.nan, p_value=math.nan, status="no_data", note=no_data_note)
            if key[2] == OTHERS_LABEL:
                row["note"] = "; ".join(filter(None, [f"{folded} segments pooled", row["note"]]))
            rows.append(row)
    out = pd.DataFrame(rows)
    ok = (out["status"] == "ok").to_numpy()
    q = np.full(len(out), np.nan)
    q[ok] = bh_qvalues(out.loc[ok, "p_value"].to_numpy(float))
    out["q_value"] = q
    out["significant"] = ok & (out["q_value"] < alpha)
    cols = _COMPARE_COLUMNS[:2] + ([col] if by else []) + _COMPARE_COLUMNS[2:]
    out = out[cols].astype({c: "float64" for c in _COMPARE_COLUMNS[2:10]}).reset_index(drop=True)
    out.attrs["folded"] = folded
    return out


def _why(status: str) -> str:
    return {"missing_table": "a table this KPI needs is not loaded",
            "missing_column": "a column this KPI needs is not in the data",
            "not_segmentable": "this KPI's table cannot be split by that column",
            "insufficient_data": "no events in either period"}.get(status, status)


def _row(kpi: KPI, key: Key, result: Change | None, status: str, note: str, col: str) -> dict[str, Any]:
    r = result or Change(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    return {"kpi": kpi.name, "stage": key[1], col: key[2], "current": r.current,
            "baseline": r.baseline, "abs_change": r.abs_change, "rel_change": r.rel_change,
            "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "status": status,
            "note": note, "method": r.method, "dispersion": r.dispersion}


def _empty_like(s: Summary, w: Window | None = None) -> Summary:
    """A summary of no events over window ``w`` (zeros on each of its days), shaped like ``s``."""
    days = w.days if w is not None else getattr(s, "exposure", 0)
    empty = Daily.of([], [], [], start=w.start, days=w.days) if w is not None else None
    if isinstance(s, Counts):
        return Counts(0.0, days, empty)
    if isinstance(s, Proportion):
        return Proportion(0.0, 0.0, empty)
    if isinstance(s, Moments):
        return Moments(0.0, 0.0, 0.0, days, s.kind, empty)
    if isinstance(s, Sample):
        return Sample((), ())
    return s


def _compare_one(kpi: KPI, key: Key, cur: Summary | None, base: Summary | None,
                 targets: Mapping[tuple[str, str], float], against: str, p: Period,
                 base_p: Period | None, cur_w: Window, end: pd.Timestamp,
                 lags: Mapping[Any, float], min_events: int, alpha: float, incomplete: bool,
                 col: str, calendar: Calendar, elapsed: float, basis: str = "days") -> dict[str, Any]:
    template = cur or base
    assert template is not None
    cur = cur or _empty_like(template, cur_w)
    notes: list[str] = []
    if against == "target":
        target = targets.get((key[0], key[2]))
        if target is None:
            return _row(kpi, key, Change(cur.value, math.nan, math.nan, math.nan, math.nan, math.nan),
                        "no_target", f"no target for {p.name}", col)
        result = attainment(cur, target, elapsed_share=elapsed, flow=kpi.is_flow)
        if kpi.kind == "snapshot":
            return _row(kpi, key, result, "not_tested", "a snapshot at the period's end: not tested", col)
        share = result.current / result.baseline if result.baseline else math.nan
        note = f"{share:.0%} of target" if share == share else "target is zero"
        if incomplete and kpi.is_flow:
            note += f" (target prorated to {elapsed:.0%} for the days so far, by the weekday profile)"
        # a target is a manager's number, not a sample: attainment, no test, no arrow
        return _row(kpi, key, result, "ok", note, col)
    else:
        base = base or _empty_like(template, Window.of(base_p) if base_p is not None else None)
        result = two_sample(cur, base, alpha=alpha, calendar=calendar, basis=basis)  # type: ignore[arg-type]
        base_n = base.n
        notes.append(_method_note(result, base_p, p, basis))
    if kpi.kind == "snapshot":
        result = Change(result.current, result.baseline, result.abs_change, math.nan, math.nan, math.nan)
        return _row(kpi, key, result, "not_tested", "a snapshot at the period's end: not tested", col)
    if cur.n < min_events or base_n < min_events:
        status = "insufficient_data"
        notes.insert(0, f"too few events ({cur.n} now, {base_n} before; need {min_events})"
                     if against != "target" else f"too few events ({cur.n}; need {min_events})")
    elif kpi.kind == "proportion" and immature(kpi.name, key[1], cur_w, end, lags):
        status = "immature"
        notes.insert(0, f"cohort still converting: 90% of outcomes take "
                        f"{lags.get((kpi.name, key[1]), 0):.0f} days")
    elif incomplete:
        status = "incomplete_period"
        baseline_text = f" against {base_p.label}" if base_p else ""
        notes.insert(0, f"period not over: compared to date ({p.label}){baseline_text}")
    else:
        status = "ok"
    return _row(kpi, key, result, status, "; ".join(notes), col)


def _method_note(r: Change, base_p: Period | None, p: Period, basis: str = "days") -> str:
    """One sentence on how the change was judged, for the reader."""
    if r.method == "quasi-Poisson":
        text = "daily totals with weekday and holiday terms"
        if r.dispersion == r.dispersion:
            text += f"; days vary {r.dispersion:.1f}× chance" if r.dispersion >= 1.05 else "; days vary as chance"
        if basis == "months":
            text += "; totals compared as they are (calendar: months)"
        elif base_p is not None and base_p.days != p.days:
            text += f"; baseline put on this period's {p.days}-day calendar"
        return text
    if r.method == "quasi-binomial":
        return f"rate varies {r.dispersion:.1f}× chance between days: interval widened"
    if r.method == "day-clustered ratio":
        return "one day's orders counted as one cluster"
    if r.method == "bootstrap over days":
        return "bootstrap over closing days"
    return ""


def elapsed_share(src: Source, full: Period, to_date: Period, calendar: Calendar) -> float:
    """Share of a period's sales expected by the end of ``to_date``, from the weekday profile.

    The profile is the mean number of orders (or leads) per weekday — holidays apart — over
    the year before the period; without history, every day counts the same.
    """
    days = pd.date_range(full.start, full.end, freq="D").to_numpy().astype("datetime64[D]")
    weights = weekday_profile(src, pd.Timestamp(full.start), calendar)
    w = day_weights(days, weights, calendar)
    cut = int((days <= np.datetime64(to_date.end)).sum())
    return float(w[:cut].sum() / w.sum()) if w.sum() > 0 else cut / len(days)


def kpi_trend(data: Data, period: str | Period, *, kpis: Sequence[str] | None = None,
              n_periods: int = 13, engine: Engine | None = None,
              custom_kpis: Mapping[str, Any] | None = None,
              funnel_stages: Sequence[str] | None = None, fiscal_year_start: int = 1) -> pd.DataFrame:
    """KPI values over the ``n_periods`` periods ending with ``period`` (same kind).

    Returns the :func:`kpi_table` columns plus ``period`` and ``start``, oldest first.
    """
    src, p, kpi_list = _setup(data, period, kpis, engine, custom_kpis, fiscal_year_start)
    chain = [p]
    for _ in range(n_periods - 1):
        chain.append(chain[-1].previous())
    # every period of the chain with its previous period and last year: one pass per table
    windows = {Window.of(x) for q in chain for x in (q, q.previous(), q.last_year())}
    prefetch(src, sorted(windows, key=lambda w: (w.start, w.end)), None,
             families=families_of(kpi_list))
    frames = []
    for q in reversed(chain):
        t = kpi_table(src, q, kpis=kpis, custom_kpis=custom_kpis, funnel_stages=funnel_stages,
                      fiscal_year_start=fiscal_year_start)
        frames.append(t.assign(period=q.name, start=pd.Timestamp(q.start)))
    return pd.concat(frames, ignore_index=True)


def reasons(data: Data, period: str | Period, *, kind: Literal["returns", "refusals", "lost_deals"],
            by: str | None = None, engine: Engine | None = None, fiscal_year_start: int = 1) -> pd.DataFrame:
    """Returns, refusals or lost deals of a period by reason: count, share and amount.

    Refusals include cancelled orders (reason ``order cancelled``) beside returns of kind
    ``refusal``. Returns ``reason``, the ``by`` column when given, ``count``, ``share``
    (of the period's total, within the segment), ``amount``; largest first.
    """
    src = as_source(data, engine)
    w = Window.of(parse_period(period, fiscal_year_start=fiscal_year_start))
    cols = ["reason", *([by] if by else []), "count", "share", "amount"]
    frames = []
    if kind in ("returns", "refusals") and src.has("returns"):
        r = segmented(src, "returns", by, ["returned_at", "reason", "amount", "kind"],
                      in_window("returned_at", w))
        is_refusal = (nw.col("kind") == "refusal").fill_null(False) if "kind" in src.columns("returns") \
            else nw.lit(False)
        r = r.filter(is_refusal if kind == "refusals" else ~is_refusal)
        frames.append(collect(r.group_by(SEG, "reason").agg(nw.len().alias("count"),
                                                             nw.col("amount").sum().alias("amount"))))
    if kind == "refusals" and src.has("orders"):
        o = segmented(src, "orders", by, ["ordered_at", "status", "amount"],
                      in_window("ordered_at", w) & (nw.col("status") == "cancelled"))
        frames.append(collect(o.group_by(SEG).agg(nw.len().alias("count"), nw.col("amount").sum().alias("amount")))
                      .assign(reason="order cancelled"))
    if kind == "lost_deals" and src.has("deals") and "closed_at" in src.columns("deals"):
        d = segmented(src, "deals", by, ["closed_at", "outcome", "lost_reason", "amount"],
                      in_window("closed_at", w) & (nw.col("outcome") == "lost"))
        have = src.columns("deals")  # an export may lack reasons or amounts: said, not failed
        fill = [*([] if "lost_reason" in have else [nw.lit(None, nw.String).alias("lost_reason")]),
                *([] if "amount" in have else [nw.lit(None, nw.Float64).alias("amount")])]
        if fill:
            d = d.with_columns(*fill)
        frames.append(collect(d.group_by(SEG, "lost_reason").agg(
            nw.len().alias("count"), nw.col("amount").sum().alias("amount"))).rename(columns={"lost_reason": "reason"}))
    if kind not in ("returns", "refusals", "lost_deals"):
        raise ValueError(f"kind must be returns, refusals or lost_deals, got {kind!r}")
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)
    df["reason"] = df["reason"].fillna("(no reason)").astype(str)
    df = df.groupby([SEG, "reason"], as_index=False)[["count", "amount"]].sum()
    df["share"] = df["count"] / df.groupby(SEG)["count"].transform("sum")
    df = df.sort_values([SEG, "count", "reason"], ascending=[True, False, True])
    if by:
        df = df.rename(columns={SEG: by})
    return df[cols].astype({"count": "int64", "amount": "float64"}).reset_index(drop=True)


def sales_cycle(data: Data, period: str | Period, *, by: str | None = None,
                engine: Engine | None = None, as_of: str | pd.Timestamp | None = None,
                fiscal_year_start: int = 1) -> pd.DataFrame:
    """The sales cycle in calendar days.

    ``won``, ``median``, ``mean`` and ``p90`` describe deals *won* in the period (days from
    first contact to signature). ``won_30``, ``won_60`` and ``won_90`` follow the deals
    *created* in the period: the share signed within 30, 60 and 90 days, by the
    Aalen–Johansen cumulative incidence with a loss as a competing end and open deals
    censored at the data's end (:mod:`salesnb.stats.survival`); empty where the cohort has
    not been followed that long. ``cohort_median`` is the winners' median days for that
    cohort, shown only once the cohort has been followed for the 90th percentile of the
    historical cycle (before that, only quick wins are in). ``created``, ``still_open``,
    ``followed_days`` (from the period's end to the data's end).
    """
    from salesnb.stats.survival import incidence_at, win_incidence

    src = as_source(data, engine)
    p = parse_period(period, fiscal_year_start=fiscal_year_start)
    w = Window.of(p)
    columns = [*([by] if by else []), "won", "median", "mean", "p90", "won_30", "won_60", "won_90",
               "cohort_median", "created", "still_open", "followed_days"]
    if not src.has("deals") or "closed_at" not in src.columns("deals"):  # no close dates: no cycle
        return pd.DataFrame(columns=columns)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    won = cycle_frame(src, w, by)
    created = cycle_frame(src, w, by, created=True)
    followed = int((end.normalize() - pd.Timestamp(p.end)).days)
    created = created.assign(
        time=np.where(created["outcome"].isin(["won", "lost"]) & created["closed_at"].notna()
                      & (created["closed_at"] <= end),
                      created["days"], (end.normalize() - created["created_at"].dt.normalize()).dt.days),
        outcome=np.where(created["closed_at"].notna() & (created["closed_at"] <= end),
                         created["outcome"], "open"))
    history = cycle_frame(src, Window(pd.Timestamp("1900-01-01").to_pydatetime(), w.start, 0), None)
    typical = float(np.percentile(history["days"], 90)) if len(history) >= 20 else math.inf
    segs = sorted(set(won[SEG]) | set(created[SEG]))
    rows = []
    for seg in segs:
        days = won.loc[won[SEG] == seg, "days"].to_numpy(float)
        c = created[created[SEG] == seg]
        curve = win_incidence(c["time"].to_numpy(float), c["outcome"].to_numpy())
        at = {d: (incidence_at(curve, d) if followed >= d and len(c) else math.nan) for d in (30, 60, 90)}
        winners = c.loc[c["outcome"] == "won", "time"].to_numpy(float)
        rows.append({SEG: seg, "won": len(days),
                     "median": float(np.median(days)) if len(days) else math.nan,
                     "mean": float(days.mean()) if len(days) else math.nan,
                     "p90": float(np.percentile(days, 90)) if len(days) else math.nan,
                     "won_30": at[30], "won_60": at[60], "won_90": at[90],
                     "cohort_median": float(np.median(winners)) if len(winners) and followed >= typical else math.nan,
                     "created": len(c), "still_open": int((c["outcome"] == "open").sum()), "followed_days": followed})
    df = pd.DataFrame(rows, columns=[SEG, *columns[1 if by else 0:]] if by else [SEG, *columns])
    return (df.rename(columns={SEG: by}) if by else df.drop(columns=[SEG])).reset_index(drop=True)


def baseline_missing(src: Source, base: Period, against: str = "previous") -> str:
    """A note when the data does not reach back over 90% of the comparison period, else ""."""
    first = data_start(src).normalize()
    covered = (pd.Timestamp(base.end) - max(first, pd.Timestamp(base.start))).days + 1
    if covered >= 0.9 * base.days:
        return ""
    which = "the previous period" if against == "previous" else "last year"
    return f"no data for {which} ({base.label}): the data starts on {first:%Y-%m-%d}"


def revenue_drivers(data: Data, period: str | Period, *, against: Literal["previous", "last_year"] = "previous",
                    by: str | None = None, engine: Engine | None = None, fiscal_year_start: int = 1,
                    top: int | None = None, as_of: str | pd.Timestamp | None = None,
                    holidays: str | Sequence[str] | Calendar | None = None,
                    basis: Literal["days", "months"] = "days") -> pd.DataFrame:
    """Split the scorecard's revenue change into an orders effect and an average-check effect.

    One convention with :func:`compare`: the same windows (an open period to date) and the
    same baseline — the earlier period's revenue and orders put on this period's calendar
    (``basis="days"``; ``"months"``: as they are). With revenue R = O·A (orders × average
    check) and that baseline, the midpoint (Shapley) split is exact:
    ΔR = ΔO·(A₀+A₁)/2 + ΔA·(O₀+O₁)/2. With ``by``, the average-check effect is split
    further across segments into *mix* (shares of orders moving between segments with
    different checks) and *rate* (checks changing within segments):
    ΔĀ = Σ Δwₛ·(Aₛ₀+Aₛ₁)/2 + Σ ΔAₛ·(wₛ₀+wₛ₁)/2, also exact; a segment's baseline takes the
    whole's calendar factor, so segments add up to the whole. With ``top``, segments beyond
    the ``top`` largest are pooled into one ``(all others)`` row.

    Returns one row per part: ``part`` (``orders``, ``average_check`` or, with ``by``,
    ``mix``/``rate`` per segment, and ``total``), the ``by`` column when given, and
    ``effect``. The parts add up to ``total``, which is the scorecard's change (to the cent).
    ``attrs`` holds ``raw_change`` (now − before, raw totals), ``calendar_effect`` (the raw
    change less the scorecard's), ``folded`` (segments pooled) and ``note`` (why there is
    no split, or that ``by`` is not in the data and the split is by the whole).
    """
    src = as_source(data, engine)
    columns = ["part", *([by] if by else []), "effect"]
    empty = pd.DataFrame(columns=columns)
    if not src.has("orders"):
        empty.attrs["note"] = "no orders"
        return empty
    p0 = parse_period(period, fiscal_year_start=fiscal_year_start)
    cal = calendar_of(holidays) if holidays is not None else (src.calendar or calendar_of(None))
    p, base, _, _ = comparison_windows(src, p0, against, as_of=as_of)
    assert base is not None
    if baseline_missing(src, base, against):  # the data begins later: there is nothing to split
        empty.attrs["note"] = baseline_missing(src, base, against)
        return empty
    note = ""
    if by and by not in src.columns("orders"):
        note = f"orders have no {by} column: split by the whole"
        by, columns = None, ["part", "effect"]
    reg = registry()
    kpis = [reg["revenue"], reg["orders"]]
    for seg in dict.fromkeys([None, by]):  # both periods from one pass over the orders
        prefetch(src, [Window.of(p), Window.of(base)], seg, families=["orders"])
    whole_now, _ = summaries(src, kpis, Window.of(p), None, funnel_stages=[])
    whole_before, _ = summaries(src, kpis, Window.of(base), None, funnel_stages=[])
    r_key, o_key = ("revenue", None, "all"), ("orders", None, "all")
    if r_key not in whole_now or r_key not in whole_before:
        out = pd.DataFrame(columns=columns)
        out.attrs["note"] = "no orders in one of the periods"
        return out
    r1, r0 = whole_now[r_key].value, whole_before[r_key].value
    o1, o0 = whole_now[o_key].value, whole_before[o_key].value
    # the scorecard's baselines: the same tests on the same summaries
    r_base = two_sample(whole_now[r_key], whole_before[r_key], calendar=cal, basis=basis).baseline
    o_base = two_sample(whole_now[o_key], whole_before[o_key], calendar=cal, basis=basis).baseline
    f_r = r_base / r0 if r0 and r_base == r_base else 1.0
    f_o = o_base / o0 if o0 and o_base == o_base else 1.0
    rb, ob = r0 * f_r, o0 * f_o
    a1 = r1 / o1 if o1 else 0.0
    a0 = rb / ob if ob else 0.0
    rows = [{"part": "orders", "segment": None, "effect": (o1 - ob) * (a0 + a1) / 2}]
    folded = 0
    if by:
        cur, _ = summaries(src, kpis, Window.of(p), by, funnel_stages=[])
        old, _ = summaries(src, kpis, Window.of(base), by, funnel_stages=[])
        if top is not None:
            (cur, old), _, folded = fold_segments([cur, old], kpis, top)

        def table(values: Mapping[Key, Summary], f_rev: float, f_ord: float) -> pd.DataFrame:
            rows_ = [{"seg": k[2], "orders": v.n * f_ord, "revenue": v.sum * f_rev} for k, v in values.items()
                     if k[0] == "revenue" and isinstance(v, Moments)]
            return pd.DataFrame(rows_, columns=["seg", "orders", "revenue"]).astype(
                {"orders": float, "revenue": float}).set_index("seg")

        t = table(cur, 1.0, 1.0).join(table(old, f_r, f_o), suffixes=("_1", "_0"), how="outer").fillna(0.0)
        w1 = t["orders_1"] / o1 if o1 else t["orders_1"] * 0
        w0 = t["orders_0"] / ob if ob else t["orders_0"] * 0
        seg_a1 = (t["revenue_1"] / t["orders_1"]).where(t["orders_1"] > 0)
        seg_a0 = (t["revenue_0"] / t["orders_0"]).where(t["orders_0"] > 0)
        # a segment absent on one side has no check there: use the other side's
        seg_a1, seg_a0 = seg_a1.fillna(seg_a0).fillna(0.0), seg_a0.fillna(seg_a1).fillna(0.0)
        scale = (ob + o1) / 2
        mix = (w1 - w0) * (seg_a0 + seg_a1) / 2 * scale
        rate = (seg_a1 - seg_a0) * (w0 + w1) / 2 * scale
        # the orders' own rounding: what the segments' checks leave of the whole's check effect
        order = (mix.abs() + rate.abs()).sort_values(ascending=False).index
        for seg in [s for s in order if s != OTHERS_LABEL] + [s for s in order if s == OTHERS_LABEL]:
            rows.append({"part": "mix", "segment": seg, "effect": float(mix[seg])})
            rows.append({"part": "rate", "segment": seg, "effect": float(rate[seg])})
    else:
        rows.append({"part": "average_check", "segment": None, "effect": (a1 - a0) * (ob + o1) / 2})
    rows.append({"part": "total", "segment": None, "effect": r1 - rb})
    df = pd.DataFrame(rows)
    df = df.rename(columns={"segment": by}) if by else df.drop(columns=["segment"])
    df.attrs.update(raw_change=r1 - r0, calendar_effect=(r1 - r0) - (r1 - rb), folded=folded, note=note)
    return df
