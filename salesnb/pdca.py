"""PDCA improvement cycles as data: a register, a statistical Check and an Act verdict.

``params/initiatives.yaml`` lists the cycles::

    initiatives:
      - id: PDCA-01
        title: New call script for first calls
        owner: Anna Ivanova
        hypothesis: A structured first call gets more qualified leads to a meeting.
        plan:
          kpi: stage_conversion          # any registry KPI
          stage: qualified               # for stage_conversion
          segment: {region: North}       # one column filter, or {} for the whole company
          target_change: "+0.10"         # absolute, or relative with a %: "+10%"
          baseline: {start: 2025-03-01, end: 2026-02-28}
        do:
          start: 2026-03-01
          change: Reps in North use the new script on every first call.
        check:
          window: {start: 2026-03-01, end: 2026-09-30}
          control_segment: {region: South}   # optional
        act:
          decision: standardise          # once decided
          next: Roll the script out to all regions.

:func:`check` compares the KPI in the segment over the check window with the baseline
window (the statistics of :func:`salesnb.comparisons` for the KPI's kind), against a control
segment (difference in differences) and against the same windows a year earlier
(seasonality), with the smallest detectable effect and the days still needed; :func:`verdict`
turns that into standardise / adjust / roll_back / keep_running / insufficient_data.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from salesnb import texts
from salesnb.aggregate import Window, cohort_lags, data_end, families_of, immature, prefetch, summaries
from salesnb.comparisons import DEFAULT_FUNNEL, DEFAULT_MIN_EVENTS, Data
from salesnb.context import ReportContext
from salesnb.engines import as_source
from salesnb.initiatives import Initiative, parse_register, read_register, register_from
from salesnb.kpis import KPI, registry
from salesnb.periods import Period, parse_period
from salesnb.stats import Change, Summary, two_sample
from salesnb.stats.did import (
    POWER,
    PRE_TREND_ALPHA,
    mde_for,
    monthly_effect,
    months_needed,
    operating_characteristics,
    pre_trend,
)
from salesnb.texts import t

__all__ = ["Initiative", "CheckResult", "read_register", "register_from",
           "parse_register", "check", "check_each", "check_all",
           "decide", "register_states", "register_table", "next_cycle", "monthly_series",
           "trend_marks", "active_in", "result_table", "chart_title", "register_sheet", "review_date",
           "Verdict", "POWER"]

Verdict = Literal["standardise", "adjust", "roll_back", "keep_running", "insufficient_data"]


def _months(p: Period) -> int:
    return len(pd.period_range(p.start, p.end, freq="M"))


@dataclass(frozen=True)
class CheckResult:
    """The Check of one initiative (values in the KPI's unit; shares as 0–1)."""

    id: str
    kpi: str
    stage: str | None
    segment: str
    baseline: float
    current: float
    effect: float
    rel_effect: float
    ci_low: float
    ci_high: float
    p_value: float
    control_effect: float = math.nan
    did_effect: float = math.nan
    did_ci_low: float = math.nan
    did_ci_high: float = math.nan
    did_p_value: float = math.nan
    seasonal_effect: float = math.nan
    mde: float = math.nan
    target_change: float = math.nan
    days_needed: float = math.nan
    n_baseline: int = 0
    n_check: int = 0
    status: str = "ok"
    verdict: Verdict = "insufficient_data"
    reason: str = ""
    next: str = ""
    design: str = ""
    false_action_rate: float = math.nan       # simulated: any verdict but keep running at true effect 0
    standardise_at_zero: float = math.nan     # simulated: "standardise" at true effect 0
    standardise_at_target: float = math.nan   # simulated: "standardise" at the target effect
    pre_trend: float = math.nan               # the difference's trend per month before the start (window units)
    pre_trend_p: float = math.nan             # its p-value: parallel trends say no trend


def _windows(ini: Initiative, as_of: date) -> tuple[Period, Period, bool]:
    base = parse_period(f"{ini.baseline_start}..{ini.baseline_end}")
    end = min(ini.check_end, as_of)
    chk = parse_period(f"{ini.check_start}..{max(end, ini.check_start)}")
    return base, chk, as_of < ini.check_end


def _summary(src: Any, kpi: KPI, period: Period, segment: Mapping[str, str], stage: str | None,
             stages: list[str]) -> Summary | None:
    by = next(iter(segment), None)
    values, problems = summaries(src, [kpi], Window.of(period), by, funnel_stages=stages)
    if kpi.name in problems:
        raise ValueError(f"{kpi.name}: {problems[kpi.name]} for segment {dict(segment)}")
    seg = segment[by] if by else "all"
    return values.get((kpi.name, stage, seg))


def _month_parts(windows: Sequence[Period]) -> list[Period]:
    """The calendar months of the windows, each cut to its window."""
    return [parse_period(f"{max(m.start_time.date(), w.start)}..{min(m.end_time.date(), w.end)}")
            for w in windows for m in pd.period_range(w.start, w.end, freq="M")]


def _early(base: Period) -> Period:
    """Up to two years before the baseline: they only teach how alike neighbouring months are."""
    return parse_period(f"{(pd.Timestamp(base.start) - pd.DateOffset(months=24)).date()}.."
                        f"{(pd.Timestamp(base.start) - pd.Timedelta(days=1)).date()}")


def _prefetch_checks(src: Any, initiatives: Sequence[Initiative], kpis: Mapping[str, KPI], end: date,
                     stages: list[str]) -> None:
    """Every window the checks of ``initiatives`` read (baseline, check window, their months,
    the two years before and the year before), aggregated in one pass per table and group of
    non-overlapping windows, per segment column: the checks then read the cache."""
    wanted: dict[str | None, tuple[set[Window], set[str]]] = {}
    for ini in initiatives:
        if end < ini.check_start:
            continue
        base, chk, _ = _windows(ini, end)
        periods = [base, chk, _early(base), *_month_parts([base, chk]), *_month_parts([_early(base)])]
        with contextlib.suppress(ValueError):
            periods += [base.last_year(), chk.last_year(), *_month_parts([base.last_year(), chk.last_year()])]
        for seg in (ini.segment, ini.control_segment):
            if seg is not None:
                ws, fams = wanted.setdefault(next(iter(seg), None), (set(), set()))
                ws.update(Window.of(p) for p in periods)
                fams.update(families_of([kpis[ini.kpi]]))
    for by, (ws, fams) in wanted.items():
        prefetch(src, sorted(ws, key=lambda w: (w.start, w.end)), by, families=fams)


def _monthly(src: Any, kpi: KPI, windows: Sequence[Period], segment: Mapping[str, str], stage: str | None,
             stages: list[str], end: pd.Timestamp, lags: Mapping[Any, float]) -> tuple[list[float], list[int]]:
    """The KPI per calendar month of the windows (a month cut to the window), per day for
    flows; months whose cohort is still converting, or with no events, are NaN."""
    values, ns = [], []
    parts = _month_parts(windows)
    # every month's aggregates in one pass per table, not one scan per month
    prefetch(src, [Window.of(part) for part in parts], next(iter(segment), None),
             families=families_of([kpi]))
    for part in parts:
        s = _summary(src, kpi, part, segment, stage, stages)
        young = kpi.kind == "proportion" and immature(kpi.name, stage, Window.of(part), end, lags)
        if s is None or s.n == 0 or young:
            values.append(math.nan)
            ns.append(0)
            continue
        values.append(s.value / part.days if kpi.is_flow else s.value)
        ns.append(int(s.n))
    return values, ns


def decide(effect: Change, target_abs: float, good: str, *, alpha: float, status: str,
           days_needed: float, pre_trend_p: float = math.nan, months: tuple[int, int] | None = None
           ) -> tuple[Verdict, str]:
    """The Act verdict and a one-line reason a manager can read.

    ``pre_trend_p``: the p-value of a trend before the start (:func:`salesnb.stats.did.pre_trend`);
    below ``PRE_TREND_ALPHA`` the segments were already drifting apart, and no verdict but
    keep running is given. ``months``: the months with data before and after the start, named
    when they are too few (rather than the events).
    """
    if status == "insufficient_data" or math.isnan(effect.p_value):
        if months is not None and (months[0] < 2 or months[1] < 1 or sum(months) < 4):
            return "insufficient_data", t("pdca_text.too_few_months", before=months[0], after=months[1])
        return "insufficient_data", t("pdca_text.too_few")
    if pre_trend_p < PRE_TREND_ALPHA:
        return "keep_running", t("pdca_text.pre_trend")
    if math.isinf(days_needed) and not effect.p_value < alpha:
        return "keep_running", t("pdca_text.not_reachable")
    sign = 1 if good == "up" else -1
    improved, harmed = effect.abs_change * sign > 0, effect.abs_change * sign < 0
    significant = effect.p_value < alpha
    if significant and harmed:
        return "roll_back", t("pdca_text.roll_back")
    if significant and improved and effect.abs_change * sign >= abs(target_abs):
        if status == "check_window_open":
            return "keep_running", t("pdca_text.on_track")
        return "standardise", t("pdca_text.standardise")
    if significant and improved:
        return "adjust", t("pdca_text.adjust")
    wait = t("pdca_text.more_days", days=texts.number(days_needed)) if days_needed == days_needed and days_needed > 0 \
        else t("pdca_text.more_data")
    return "keep_running", t("pdca_text.no_effect_yet", wait=wait)


def check(data: Data, initiative: Initiative, *, as_of: str | date | None = None, alpha: float = 0.05,
          funnel_stages: Sequence[str] | None = None, min_events: int = DEFAULT_MIN_EVENTS,
          custom_kpis: Mapping[str, Any] | None = None,
          register: Sequence[Initiative] = ()) -> CheckResult:
    """Check one initiative: effect, control, difference in differences, power, verdict.

    ``effect`` is the KPI in the segment over the check window minus the baseline window
    (counts and sums per day, scaled to the check window's length), with the interval and
    p-value of :func:`salesnb.comparisons`'s test for the KPI kind: a description.

    The verdict uses the estimator of :mod:`salesnb.stats.did` on **monthly cells**: the
    difference in differences against the control segment, or, without one, against the
    same months a year earlier, or, without that history, pre/post (``design`` says which;
    ``did_*`` hold its effect, interval and p-value). ``mde`` and ``days_needed`` come from
    that same estimator (``inf``: not reachable at this volume). ``false_action_rate``,
    ``standardise_at_zero`` and ``standardise_at_target`` are the verdict rule's simulated
    operating characteristics. ``seasonal_effect`` is the same change a year earlier.
    """
    src = as_source(data)
    stages = list(funnel_stages or DEFAULT_FUNNEL)
    kpi = registry(custom_kpis)[initiative.kpi]
    end = pd.Timestamp(as_of).date() if as_of is not None else data_end(src).date()
    base_p, chk_p, open_window = _windows(initiative, end)
    ini = initiative
    empty = CheckResult(ini.id, ini.kpi, ini.stage, ini.segment_label, math.nan, math.nan, math.nan,
                        math.nan, math.nan, math.nan, math.nan)
    if end < ini.check_start:
        return _replace(empty, status="not_started", verdict="keep_running",
                        reason=t("pdca_text.window_starts", start=texts.day(ini.check_start)))
    tb = _summary(src, kpi, base_p, ini.segment, ini.stage, stages)
    tc = _summary(src, kpi, chk_p, ini.segment, ini.stage, stages)
    if tb is None or tc is None:
        return _replace(empty, status="insufficient_data", reason=t("pdca_text.no_events"))
    change = two_sample(tc, tb, alpha=alpha)
    target_abs = ini.target_change * (abs(change.baseline) if ini.target_relative else 1.0)
    status = "ok"
    if tb.n < min_events or tc.n < min_events:
        status = "insufficient_data"
    elif any(_overlaps(ini, other) for other in register if other.id != ini.id):
        status = "baseline_overlap"
    elif open_window:
        status = "check_window_open"
    lags = cohort_lags(src, stages) if kpi.kind == "proportion" else {}
    ts = pd.Timestamp(end) + pd.Timedelta(days=1)
    treated, n_t = _monthly(src, kpi, [base_p, chk_p], ini.segment, ini.stage, stages, ts, lags)
    after = np.array([False] * _months(base_p) + [True] * _months(chk_p))
    control_effect = seasonal = math.nan
    pre_post = t("pdca_text.pre_post")
    series, design = np.array(treated, float), pre_post
    early = _early(base_p)
    history = np.array(_monthly(src, kpi, [early], ini.segment, ini.stage, stages, ts, lags)[0], float)
    if ini.control_segment:
        control, _ = _monthly(src, kpi, [base_p, chk_p], ini.control_segment, ini.stage, stages, ts, lags)
        early_control = np.array(_monthly(src, kpi, [early], ini.control_segment, ini.stage, stages, ts, lags)[0],
                                 float)
        cb = _summary(src, kpi, base_p, ini.control_segment, ini.stage, stages)
        cc = _summary(src, kpi, chk_p, ini.control_segment, ini.stage, stages)
        if cb is not None and cc is not None:
            control_effect = two_sample(cc, cb, alpha=alpha).abs_change
        if np.isfinite(control).sum() >= 4:
            series, design = series - np.array(control, float), t("pdca_text.vs_control", control=ini.control_label)
            history = history - early_control
    try:
        ly_b, ly_c = _summary(src, kpi, base_p.last_year(), ini.segment, ini.stage, stages), \
            _summary(src, kpi, chk_p.last_year(), ini.segment, ini.stage, stages)
        if ly_b is not None and ly_c is not None and ly_b.n >= min_events and ly_c.n >= min_events:
            seasonal = two_sample(ly_c, ly_b, alpha=alpha).abs_change
            if design == pre_post:
                # no control segment: the same windows a year earlier are the control
                year_ago, _ = _monthly(src, kpi, [base_p.last_year(), chk_p.last_year()], ini.segment,
                                       ini.stage, stages, ts, lags)
                if len(year_ago) == len(series) and np.isfinite(year_ago).sum() >= 4:
                    series, design = series - np.array(year_ago, float), t("pdca_text.vs_year_ago")
                    history = history[12:] - history[:-12] if len(history) > 12 else history[:0]
    except ValueError:
        pass
    est = monthly_effect(series, after, alpha=alpha, design=design, history=history)
    scale = chk_p.days if kpi.is_flow else 1.0  # flows: per day in the cells, the check window in the verdict
    used = Change(change.current, change.baseline, est.effect * scale, est.ci_low * scale, est.ci_high * scale,
                  est.p_value, design)
    did, did_low, did_high, did_p = used.abs_change, used.ci_low, used.ci_high, used.p_value
    if n_t and sum(1 for v in treated if v == v) < 3:
        status = "insufficient_data"
    months = months_needed(est, target_abs / scale, alpha=alpha)
    mde = mde_for(est, est.months_after, alpha=alpha) * scale
    days_needed = (math.inf if math.isinf(months) else max(0.0, (months - est.months_after) * 30.44)) \
        if months == months else math.nan
    # parallel trends before the start: the difference (or the series) over the early months
    # and the baseline must not already be drifting
    trend, trend_p = pre_trend(np.concatenate([history, series[~after]]))
    have = (int(np.isfinite(series[~after]).sum()), int(np.isfinite(series[after]).sum()))
    verdict, reason = decide(used, target_abs, kpi.good, alpha=alpha, status=status, days_needed=days_needed,
                             pre_trend_p=trend_p, months=have)

    def rule(effect: float, low: float, p: float) -> str:
        return decide(Change(0, 0, effect * scale, low * scale, math.nan, p), target_abs, kpi.good, alpha=alpha,
                      status="ok", days_needed=math.nan)[0]

    oc = operating_characteristics(est, target_abs / scale * (1 if kpi.good == "up" else -1), rule, alpha=alpha)
    if status == "baseline_overlap":
        reason = t("pdca_text.overlaps") + reason
    return CheckResult(
        ini.id, ini.kpi, ini.stage, ini.segment_label, change.baseline, change.current, change.abs_change,
        change.rel_change, change.ci_low, change.ci_high, change.p_value, control_effect, did, did_low,
        did_high, did_p, seasonal, mde, target_abs, days_needed if verdict == "keep_running" else 0.0,
        int(tb.n), int(tc.n), status, verdict, reason, design=design,
        false_action_rate=oc["any_action_at_zero"], standardise_at_zero=oc["standardise_at_zero"],
        standardise_at_target=oc["standardise_at_target"], pre_trend=trend * scale, pre_trend_p=trend_p)


def _replace(result: CheckResult, **changes: Any) -> CheckResult:
    return CheckResult(**{**asdict(result), **changes})


def _overlaps(a: Initiative, b: Initiative) -> bool:
    """b ran on the same KPI and segment during a's baseline window."""
    if (a.kpi, a.stage, dict(a.segment)) != (b.kpi, b.stage, dict(b.segment)):
        return False
    return b.start <= a.baseline_end and b.check_end >= a.baseline_start


def _check_options(ctx: ReportContext, as_of: str | date | None) -> dict[str, Any]:
    return {"as_of": as_of if as_of is not None else review_date(ctx.src, ctx.period), "alpha": ctx.alpha,
            "funnel_stages": list(ctx.funnel_stages), "min_events": ctx.min_events, "custom_kpis": ctx.custom_kpis}


def check_each(ctx: ReportContext, initiatives: Sequence[Initiative], *,
               as_of: str | date | None = None) -> dict[str, CheckResult]:
    """:func:`check` for every initiative of a register (each checked against the others),
    as the review stood at ``as_of`` (default :func:`review_date` of the context's period)."""
    opts = _check_options(ctx, as_of)
    _prefetch_checks(ctx.src, initiatives, ctx.kpis, pd.Timestamp(opts["as_of"]).date(), list(ctx.funnel_stages))
    return {ini.id: check(ctx.src, ini, register=initiatives, **opts) for ini in initiatives}


def check_all(ctx: ReportContext, initiatives: Sequence[Initiative], *,
              results: Mapping[str, CheckResult] | None = None, as_of: str | date | None = None) -> pd.DataFrame:
    """:func:`check` for many initiatives at once, one row each, with the suggested next cycle.

    Pass ``results`` from :func:`check_each` to tabulate checks already made.
    """
    results = results if results is not None else check_each(ctx, initiatives, as_of=as_of)
    suggestion = next_cycle(ctx, as_of=as_of)
    rows = []
    for ini in initiatives:
        r = results[ini.id]
        rows.append({**asdict(r), "title": ini.title, "next": suggestion if r.verdict in
                     ("standardise", "roll_back") else ""})
    return pd.DataFrame(rows)


def next_cycle(ctx: ReportContext, *, as_of: str | date | None = None) -> str:
    """A suggested next cycle: the funnel stage that converts worst over the last quarter."""
    src = ctx.src
    if not src.has("deal_stages"):
        return ""
    end = pd.Timestamp(as_of).date() if as_of is not None else review_date(src, ctx.period)
    stages = list(ctx.funnel_stages)
    # the last three complete months whose cohorts have had a month to convert
    last = (pd.Timestamp(end) - pd.DateOffset(months=1)).to_period("M")
    window = parse_period(f"{(last - 2).start_time.date()}..{last.end_time.date()}")
    values, _ = summaries(src, [ctx.kpis["stage_conversion"]], Window.of(window), None, funnel_stages=stages)
    rates = {k[1]: v.value for k, v in values.items() if k[0] == "stage_conversion" and v.n >= ctx.min_events}
    if not rates:
        return ""
    worst = min(rates, key=lambda s: rates[s])
    return t("pdca_text.next_cycle", stage=worst, share=texts.percent(rates[worst], 0),
             window=f"{texts.day(window.start)} – {texts.day(window.end)}")


def register_states(initiatives: Sequence[Initiative], periods: Sequence[str | Period]) -> pd.DataFrame:
    """Each initiative's state per period: planned, doing, checking or decided.

    planned — the period ends before the change starts; doing — the change runs within
    its check window; checking — the window is over, no decision recorded yet; decided —
    a decision is recorded and the window is over.
    """
    rows = []
    for period in periods:
        p = parse_period(period)
        for ini in initiatives:
            if p.end < ini.start:
                state = "planned"
            elif p.end <= ini.check_end:
                state = "doing"
            elif ini.decision is None:
                state = "checking"
            else:
                state = "decided"
            rows.append({"period": p.name, "id": ini.id, "state": t(f"pdca_state.{state}")})
    if not rows:  # no register
        return pd.DataFrame(columns=["id", *[parse_period(x).name for x in periods]])
    return pd.DataFrame(rows).pivot(index="id", columns="period", values="state").reset_index()


def _kpi_words(ini: Initiative) -> str:
    """The initiative's KPI by its label (``Stage conversion (qualified)``), the code for a custom one."""
    kpi = registry().get(ini.kpi)
    label = kpi.label if kpi is not None else ini.kpi
    return f"{label} ({ini.stage})" if ini.stage else label


def chart_title(ini: Initiative) -> str:
    """An initiative's chart title: its id and its KPI in the page's language.

    >>> from salesnb import texts
    >>> d = date(2026, 1, 1)
    >>> ini = Initiative("PDCA-01", "title", "owner", "hypothesis", "stage_conversion", {}, 0.05, True,
    ...                  d, d, d, "change", d, d, stage="qualified")
    >>> with texts.using("ru"):
    ...     chart_title(ini)
    'PDCA-01: Конверсия этапа (qualified)'
    """
    return f"{ini.id}: {_kpi_words(ini)}"


def _signed(text: str, value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + text


def register_table(initiatives: Sequence[Initiative], checks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The register as a Plan / Do / Check / Act table, ready to show."""
    by_id = {} if checks is None else {r["id"]: r for r in checks.to_dict("records")}
    rows = []
    for ini in initiatives:
        c = by_id.get(ini.id, {})
        target = (_signed(texts.percent(abs(ini.target_change), 0), ini.target_change) if ini.target_relative
                  else f"{ini.target_change:+g}")
        day = texts.day
        rows.append({
            "id": ini.id, "title": ini.title, "owner": ini.owner,
            "Plan": t("pdca_text.plan", kpi=_kpi_words(ini), segment=ini.segment_label, target=target,
                      start=day(ini.baseline_start), end=day(ini.baseline_end)),
            "Do": t("pdca_text.do", start=day(ini.start), change=ini.change),
            "Check": (f"{day(ini.check_start)} – {day(ini.check_end)}"
                      + (t("pdca_text.check_control", control=ini.control_label) if ini.control_segment else "")),
            "Act": (t(f"pdca_verdict.{ini.decision}") if ini.decision and f"pdca_verdict.{ini.decision}" in
                    texts.catalogue("en") else ini.decision) or (
                t("pdca_text.suggested", verdict=t(f"pdca_verdict.{c['verdict']}")) if c else "—"),
        })
    return pd.DataFrame(rows, columns=["id", "title", "owner", "Plan", "Do", "Check", "Act"])



def active_in(initiatives: Sequence[Initiative], period: str | Period) -> list[Initiative]:
    """Initiatives running, being checked or decided by the end of the period."""
    p = parse_period(period)
    return [i for i in initiatives if i.start <= p.end]


def review_date(data: Data, period: Period) -> date:
    """The day a review of ``period`` stands at: its last day, or the data's last day when
    the period is still open (or the data stops earlier)."""
    return min(period.end, data_end(as_source(data)).date())


def trend_marks(initiatives: Sequence[Initiative]) -> dict[str, list[pd.Timestamp]]:
    """Start dates per KPI, for the trend charts of the overview."""
    marks: dict[str, list[pd.Timestamp]] = {}
    for ini in initiatives:
        marks.setdefault(ini.kpi, []).append(pd.Timestamp(ini.start))
    return marks


def monthly_series(ctx: ReportContext, initiative: Initiative, *, as_of: str | date | None = None) -> pd.DataFrame:
    """The KPI month by month for the segment and the control, baseline start to check end.

    Returns ``month`` (first day), ``group`` (``segment`` or ``control``), ``value``, ``n``.
    """
    src, stages, kpi = ctx.src, list(ctx.funnel_stages), ctx.kpis[initiative.kpi]
    end = pd.Timestamp(as_of).date() if as_of is not None else review_date(src, ctx.period)
    last = min(initiative.check_end, end)
    rows = []
    for month in pd.period_range(initiative.baseline_start, last, freq="M"):
        p = parse_period(str(month))
        for group, seg in (("segment", initiative.segment), ("control", initiative.control_segment)):
            if seg is None:
                continue
            s = _summary(src, kpi, p, seg, initiative.stage, stages)
            if s is not None:
                rows.append({"month": month.start_time, "group": group, "value": s.value, "n": s.n})
    return pd.DataFrame(rows, columns=["month", "group", "value", "n"])


def result_table(result: CheckResult, kpi_unit: str) -> pd.DataFrame:
    """One initiative's Check as label / value rows a manager can read."""
    def fmt(v: float) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if kpi_unit == "share":
            return t("unit.pp", n=_signed(texts.number(abs(v) * 100, 1), v))
        return _signed(texts.number(abs(v), 2), v)

    def level(v: float) -> str:
        return "–" if math.isnan(v) else (texts.percent(v) if kpi_unit == "share" else texts.number(v, 2))

    def share(v: float) -> str:
        return "–" if v != v else texts.percent(v, 0)

    p_text = texts.number(result.did_p_value, 2) if result.did_p_value >= 0.01 else f"{result.did_p_value:.1e}"
    rows = [
        (t("pdca_result.levels"), f"{level(result.baseline)} → {level(result.current)} "
                                  f"(n = {texts.number(result.n_baseline)} → {texts.number(result.n_check)})"),
        (t("pdca_result.pooled"), t("pdca_result.pooled_text", effect=fmt(result.effect), low=fmt(result.ci_low),
                                    high=fmt(result.ci_high))),
        (t("pdca_result.monthly") + (f" ({result.design})" if result.design else ""),
         t("pdca_result.monthly_text", effect=fmt(result.did_effect), low=fmt(result.did_ci_low),
           high=fmt(result.did_ci_high), p=p_text)
         if not math.isnan(result.did_effect) else t("pdca_result.too_few_months")),
        (t("pdca_result.pre_trend"), t("pdca_result.pre_trend_text", slope=fmt(result.pre_trend),
                                       p=texts.number(result.pre_trend_p, 2))
         if result.pre_trend_p == result.pre_trend_p else t("pdca_result.pre_trend_short")),
        (t("pdca_result.control_moved"), fmt(result.control_effect)),
        (t("pdca_result.year_earlier"), fmt(result.seasonal_effect)),
        (t("pdca_result.target_change"), fmt(result.target_change)),
        (t("pdca_result.mde"), fmt(result.mde)),
        (t("pdca_result.errs"), t("pdca_result.errs_text", act=share(result.false_action_rate),
                                  zero=share(result.standardise_at_zero), target=share(result.standardise_at_target))),
        (t("pdca_result.verdict"), f"{t(f'pdca_verdict.{result.verdict}')}: {result.reason}"),
    ]
    if result.verdict == "keep_running" and result.days_needed == result.days_needed:
        rows.append((t("pdca_result.days_needed"), t("pdca_result.not_reachable") if math.isinf(result.days_needed)
                     else t("pdca_result.about", days=texts.number(result.days_needed))))
    return pd.DataFrame(rows, columns=["check", "finding"])


def register_sheet(initiatives: Sequence[Initiative], checks: pd.DataFrame | None = None) -> dict[str, Any]:
    """The register with each check's numbers and verdict, as a sheet of the period's
    ``kpis.xlsx`` (:mod:`salesnb.workbook`): dates as dates, effects as numbers."""
    from salesnb import workbook

    by_id = {} if checks is None else {r["id"]: r for r in checks.to_dict("records")}
    rows = []
    for ini in initiatives:
        c = by_id.get(ini.id, {})
        rows.append({
            "id": ini.id, t("pdca.title"): ini.title, t("pdca.owner"): ini.owner, t("pdca.kpi"): ini.kpi_label,
            t("pdca.segment"): ini.segment_label, t("pdca.target_change"): ini.target_change,
            t("pdca.baseline_from"): ini.baseline_start, t("pdca.baseline_to"): ini.baseline_end,
            t("pdca.start"): ini.start, t("pdca.change"): ini.change,
            t("pdca.check_from"): ini.check_start, t("pdca.check_to"): ini.check_end,
            t("pdca.control"): ini.control_label if ini.control_segment else None,
            t("pdca.baseline"): c.get("baseline"), t("pdca.current"): c.get("current"),
            t("pdca.effect"): c.get("effect"), t("pdca.ci_low"): c.get("ci_low"), t("pdca.ci_high"): c.get("ci_high"),
            t("pdca.p_value"): c.get("p_value"),
            t("pdca.verdict"): t(f"pdca_verdict.{c['verdict']}") if c.get("verdict") else None,
            t("pdca.decision"): ini.decision or None})
    df = pd.DataFrame(rows)
    dates = ("baseline_from", "baseline_to", "start", "check_from", "check_to")
    formats: dict[str, str | list[str]] = {t(f"pdca.{d}"): "date" for d in dates}
    formats[t("pdca.p_value")] = "number"
    formats[t("pdca.target_change")] = ["percent" if ini.target_relative else "number" for ini in initiatives]
    return workbook.sheet(t("pdca.sheet"), df, formats=formats)
