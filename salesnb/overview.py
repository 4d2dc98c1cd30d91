"""The KPI overview: a scorecard and breakdowns ready to show, built from :mod:`salesnb.comparisons`.

An arrow appears only where a change is significant (status ``ok`` and BH q < alpha):
▲/▼ for the direction, green when it is the good direction for that KPI, red when not.
Where the validity gate stops a verdict, the cell says why in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from salesnb import texts
from salesnb.aggregate import OTHERS_LABEL, Window, summaries
from salesnb.comparisons import compare, comparison_windows, kpi_table, kpi_trend
from salesnb.context import ReportContext
from salesnb.texts import catalogue, t

__all__ = ["format_value", "format_change", "format_attainment", "variation_note", "scorecard", "breakdown",
           "style_scorecard",
           "definitions", "gate_words", "GATE_WORDS", "HEADLINE_KPIS", "TREND_KPIS", "BREAKDOWNS",
           "INDEX_KPIS", "index_headline", "index_tiles", "workbook_sheets", "breakdown_comparison", "breakdown_rows",
           "folded_note", "drivers_note", "segment_label"]

HEADLINE_KPIS = ["revenue", "orders", "new_customers", "conversion_rate", "average_check",
                 "refusals", "returns", "return_rate", "sales_cycle_days", "win_rate"]
INDEX_KPIS = ["revenue", "orders", "new_customers", "conversion_rate"]  # beside each period in the index
TREND_KPIS = ["revenue", "orders", "new_customers", "conversion_rate", "average_check",
              "return_rate", "sales_cycle_days", "win_rate"]
BREAKDOWNS = {"region": "Region", "channel": "Channel", "owner": "Sales rep", "product": "Product"}
GATE_WORDS = {
    "insufficient_data": "too few events to judge",
    "immature": "cohort still converting",
    "incomplete_period": "period not over (compared to date)",
    "no_target": "no target",
    "missing_table": "data not loaded",
    "missing_column": "column not in the data",
    "no_data": "no data that far back",
    "not_segmentable": "cannot split by this column",
    "not_tested": "snapshot, not tested",
}
_TONES = {"good": "color: #1b7837; font-weight: 600", "bad": "color: #b2182b; font-weight: 600",
          "none": "color: #555"}


def format_value(value: float, unit: str, currency: str = "") -> str:
    """A KPI value for people, in the report's language.

    >>> format_value(1654668.2, "currency", "USD"), format_value(0.0442, "share")
    ('1,654,668 USD', '4.4%')
    >>> format_value(51.0, "days"), format_value(7050, "count")
    ('51 days', '7,050')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "currency":
        return texts.money(value, currency, 0 if abs(value) >= 1000 else 2)
    if unit == "share":
        return texts.percent(value)
    if unit == "days":
        return t("unit.days", n=texts.number(value, 1 if value != round(value) else 0))
    return texts.number(value)


def gate_words(status: str) -> str:
    """Why no verdict, in plain words (``too few events to judge``)."""
    return texts.gate(status)


def format_change(row: Mapping[str, Any], unit: str, good: str, currency: str = "") -> tuple[str, str]:
    """(text, tone) for one comparison row: the change with an arrow only if significant."""
    status = row["status"]
    if status != "ok":
        words = gate_words(status)
        if status in ("no_target", "missing_table", "missing_column", "not_segmentable", "no_data") or math.isnan(
                row["abs_change"]):
            return words, "none"
        return f"{_delta(row, unit, currency)} · {words}", "none"
    text = _delta(row, unit, currency)
    if not row["significant"]:
        return f"{text} · {t('verdict.not_significant')}", "none"
    up = row["abs_change"] > 0
    arrow = "▲" if up else "▼"
    tone = "good" if (up and good == "up") or (not up and good == "down") else "bad"
    return f"{arrow} {text}", tone


def format_attainment(row: Mapping[str, Any], unit: str, currency: str = "") -> tuple[str, str]:
    """(text, tone) against a target: attainment, never an arrow — a target is a manager's
    number, not a sample.

    >>> format_attainment({"status": "ok", "current": 96.0, "baseline": 120.0, "abs_change": -24.0,
    ...                    "rel_change": -0.2, "note": "80% of target"}, "count")
    ('80% of target (-24)', 'none')
    """
    if row["status"] != "ok":
        return format_change(row, unit, "up", currency)
    if not row["baseline"]:
        return t("target.zero"), "none"
    share = row["current"] / row["baseline"]
    gap = _delta({**row, "rel_change": math.nan}, unit, currency)
    key = "target.attained_so_far" if "prorated" in str(row.get("note", "")) else "target.attained"
    return t(key, share=texts.percent(share, 0), gap=gap), "none"


def _signed(text: str, value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + text if text != "–" else text


def _delta(row: Mapping[str, Any], unit: str, currency: str) -> str:
    change = row["abs_change"]
    if unit == "share":
        text = t("unit.pp", n=_signed(texts.number(abs(change) * 100, 1), change))
    elif unit == "currency":
        text = _signed(texts.money(abs(change), currency, 0 if abs(change) >= 100 else 2), change)
    elif unit == "days":
        text = t("unit.days", n=_signed(texts.number(abs(change), 1), change))
    else:
        text = _signed(texts.number(abs(change)), change)
    rel = row.get("rel_change")
    if unit != "share" and rel is not None and not math.isnan(rel):
        text += f" ({_signed(texts.percent(abs(rel)), rel)})"
    return text


def _key(row: Mapping[str, Any]) -> tuple[str, Any]:
    stage = row.get("stage")
    return row["kpi"], None if stage is None or (isinstance(stage, float) and math.isnan(stage)) else stage


def _options(ctx: ReportContext, kpis: Sequence[str]) -> dict[str, Any]:
    """The settings every comparison of a page shares, from the context."""
    return {"kpis": list(kpis), "custom_kpis": ctx.custom_kpis, "funnel_stages": list(ctx.funnel_stages),
            "min_events": ctx.min_events}


def scorecard(ctx: ReportContext, *, kpis: Sequence[str] | None = None) -> pd.DataFrame:
    """Each KPI against the previous period, last year and target, ready to show.

    Returns ``kpi``, ``stage``, ``label``, ``value``, ``vs_previous``, ``vs_last_year``,
    ``vs_target``, ``definition``, and the tones of the three changes (``tone_previous``
    …: ``good``, ``bad`` or ``none``) that :func:`style_scorecard` colours by.
    """
    reg, data, p, currency = ctx.kpis, ctx.src, ctx.period, ctx.currency
    names = list(kpis) if kpis is not None else [*HEADLINE_KPIS, *ctx.custom_kpis]
    opts = _options(ctx, names)
    values = kpi_table(data, p, **opts)
    comparisons = {against: {_key(r): r for r in compare(data, p, against=against, alpha=ctx.alpha, basis=ctx.calendar,  # type: ignore[arg-type]
                                                         **opts).to_dict("records")}
                   for against in ("previous", "last_year", "target")}
    rows = []
    for r in values.to_dict("records"):
        kpi = reg[r["kpi"]]
        row = {"kpi": r["kpi"], "stage": _key(r)[1], "label": r["label"],
               "value": format_value(r["value"], kpi.unit, currency), "definition": kpi.definition}
        for against in ("previous", "last_year", "target"):
            c = comparisons[against].get(_key(r))
            if c and against == "target":
                text, tone = format_attainment(c, kpi.unit, currency)
                text += _chance_suffix(ctx, r["kpi"], c)
            else:
                text, tone = format_change(c, kpi.unit, kpi.good, currency) if c else ("–", "none")
            row[f"vs_{against}"], row[f"tone_{against}"] = text, tone
        if r["status"] not in ("ok",) and r["status"] in GATE_WORDS:
            row["value"] += f" ({gate_words(r['status'])})" if r["status"] != "insufficient_data" else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _chance_suffix(ctx: ReportContext, kpi: str, row: Mapping[str, Any]) -> str:
    """For a month still open: the chance of reaching its target by the month's end."""
    from salesnb import forecast

    if (ctx.period.kind != "month" or kpi not in forecast.OUTLOOK_KPIS or row["status"] != "ok"
            or "prorated" not in str(row.get("note", ""))):
        return ""
    target = forecast.month_target(ctx.src, kpi, ctx.period.name, custom_kpis=ctx.custom_kpis)
    if math.isnan(target):
        return ""
    chance = forecast.target_chance(ctx.src, kpi, ctx.period.name, target, custom_kpis=ctx.custom_kpis)
    return f"; {forecast.chance_text(chance)}" if chance["status"] == "open" else ""


def variation_note(ctx: ReportContext, *, kpis: Sequence[str] | None = None) -> str:
    """One sentence for managers: how much this business's days vary beyond chance, per KPI.

    From :func:`compare` against the previous period (its ``dispersion``); empty when no
    KPI could be judged.
    """
    names = list(kpis) if kpis is not None else HEADLINE_KPIS
    c = compare(ctx.src, ctx.period, alpha=ctx.alpha, basis=ctx.calendar, **_options(ctx, names))
    reg = ctx.kpis
    parts = [f"{reg[r['kpi']].label.lower()} {texts.number(r['dispersion'], 1)}×" for r in c.to_dict("records")
             if r["dispersion"] == r["dispersion"] and r["dispersion"] >= 1.05 and r["stage"] is None]
    if not parts:
        return t("overview.variation_none")
    return t("overview.variation", parts=", ".join(parts))


def breakdown(ctx: ReportContext, by: str, *,
              kpis: Sequence[str] = ("revenue", "orders", "average_check")) -> pd.DataFrame:
    """KPIs per segment of ``by`` with their change against the previous period.

    One row per segment — the ``ctx.top_segments`` largest by the first KPI, then one
    "all others" row pooling the rest (so the rows add up to the whole) — and for each KPI
    a value column and a ``<kpi> change`` column (arrow only where significant after
    Benjamini–Hochberg over the rows shown), plus tone columns ``tone:<kpi>``. Sorted by the
    first KPI, largest first, "all others" last. ``attrs["folded"]``: segments pooled.
    """
    reg, currency = ctx.kpis, ctx.currency
    c = breakdown_comparison(ctx, by, kpis=kpis)
    if c.empty or (c["status"] == "not_segmentable").all():  # the data has no such column
        return pd.DataFrame()
    rows: dict[str, dict[str, Any]] = {}
    for r in c.to_dict("records"):
        kpi = reg[r["kpi"]]
        seg = str(r[by])
        row = rows.setdefault(seg, {texts.column(by): segment_label(seg), "_sort": math.nan,
                                    "_last": seg == OTHERS_LABEL})
        row[kpi.label] = format_value(r["current"], kpi.unit, currency)
        text, tone = format_change(r, kpi.unit, kpi.good, currency)
        change = t("overview.change_of", label=kpi.label)
        row[change], row[f"tone:{change}"] = text, tone
        if r["kpi"] == kpis[0]:
            row["_sort"] = r["current"]
    out = pd.DataFrame(list(rows.values()))
    if out.empty:
        return out
    out = out.sort_values(["_last", "_sort"], ascending=[True, False], na_position="last")
    out = out.drop(columns=["_sort", "_last"]).reset_index(drop=True)
    out.attrs["folded"] = c.attrs.get("folded", 0)
    return out


def breakdown_comparison(ctx: ReportContext, by: str, *,
                         kpis: Sequence[str] = ("revenue", "orders", "average_check")) -> pd.DataFrame:
    """:func:`compare` by ``by`` against the previous period, top segments and "all others"
    (the numbers behind :func:`breakdown` and its workbook sheet); ``attrs["folded"]``."""
    return compare(ctx.src, ctx.period, by=by, alpha=ctx.alpha, top=ctx.top_segments, basis=ctx.calendar,
                   **_options(ctx, kpis))


def breakdown_rows(ctx: ReportContext, by: str, *,
                   kpis: Sequence[str] = ("revenue", "orders", "average_check")) -> pd.DataFrame:
    """Every segment of ``by``, for the workbook: the page's rows (:func:`breakdown_comparison`:
    the top segments and "all others", tested), then each pooled segment with its value and
    baseline, not tested (``status`` ``pooled``). A pooled flow's baseline takes the "all
    others" row's calendar factor, so the pooled segments add up to that row exactly."""
    c = breakdown_comparison(ctx, by, kpis=kpis)
    if not c.attrs.get("folded") or by not in c.columns:
        return c
    reg = ctx.kpis
    kpi_list = [reg[k] for k in kpis]
    p, base, _, _ = comparison_windows(ctx.src, ctx.period, "previous")
    assert base is not None
    stages = list(ctx.funnel_stages)
    cur, _ = summaries(ctx.src, kpi_list, Window.of(p), by, funnel_stages=stages)
    old, _ = summaries(ctx.src, kpi_list, Window.of(base), by, funnel_stages=stages)
    shown = set(c[by].astype(str))
    rows = []
    for kpi in kpi_list:
        others = c[(c["kpi"] == kpi.name) & (c[by].astype(str) == OTHERS_LABEL)]
        pooled = sorted({k[2] for k in [*cur, *old] if k[0] == kpi.name and k[2] not in shown})
        raw = sum(old[(kpi.name, None, seg)].value for seg in pooled if (kpi.name, None, seg) in old)
        factor = (float(others["baseline"].iloc[0]) / raw
                  if kpi.is_flow and len(others) and raw and others["baseline"].iloc[0] == others["baseline"].iloc[0]
                  else 1.0)
        for seg in pooled:
            now, before = cur.get((kpi.name, None, seg)), old.get((kpi.name, None, seg))
            value = now.value if now is not None else (0.0 if kpi.is_flow else math.nan)
            baseline = before.value * factor if before is not None else (0.0 if kpi.is_flow else math.nan)
            change = value - baseline
            rows.append({"kpi": kpi.name, "stage": None, by: seg, "current": value, "baseline": baseline,
                         "abs_change": change, "rel_change": change / baseline if baseline else math.nan,
                         "status": "pooled", "note": "pooled as all others on the page: not tested",
                         "significant": False})
    out = pd.concat([c, pd.DataFrame(rows)], ignore_index=True) if rows else c
    out.attrs["folded"] = c.attrs["folded"]
    return out


def folded_note(ctx: ReportContext, frame: pd.DataFrame, by: str) -> str:
    """One line under a breakdown: that the data has no such column, or how many segments
    were pooled and where the full list is ("" when neither)."""
    if frame.empty:
        return t("overview.no_segment", what=texts.column(by).lower())
    n = int(frame.attrs.get("folded", 0) or 0)
    if not n:
        return ""
    return t("overview.folded", top=texts.number(ctx.top_segments), n=texts.number(n),
             what=texts.column(by).lower())


def drivers_note(ctx: ReportContext, drivers: pd.DataFrame) -> str:
    """One line under the driver split: the scorecard's change the parts add up to, the raw
    difference of the totals and what the calendar explains of it."""
    if drivers.empty:
        return ""
    total = float(drivers.loc[drivers["part"] == "total", "effect"].iloc[0])
    raw, calendar = drivers.attrs.get("raw_change", math.nan), drivers.attrs.get("calendar_effect", math.nan)

    def money(v: float) -> str:
        return _signed(texts.money(abs(v), ctx.currency, 0), v)

    parts = [t("overview.drivers_sum", total=money(total))]
    if ctx.calendar == "days" and raw == raw and abs(calendar) >= 0.5:
        parts.append(t("overview.drivers_calendar", raw=money(raw), calendar=money(calendar)))
    if drivers.attrs.get("note", "").startswith("orders have no"):
        parts.append(t("overview.drivers_no_by"))
    return " ".join(parts)


def segment_label(seg: str) -> str:
    """A segment as a page shows it: salesnb's own labels (the whole, all others) in the
    page's language, a data value as it is."""
    if seg == "all":
        return t("value.all")
    if seg == OTHERS_LABEL:
        return t("value.all_others")
    return seg


def style_scorecard(df: pd.DataFrame) -> Styler:
    """Escaped, with changes coloured by their tone; tone columns hidden."""
    tone_cols = [c for c in df.columns if c.startswith("tone")]
    shown = df.drop(columns=tone_cols)
    if "stage" in shown.columns:  # the label names the stage already
        shown = shown.drop(columns=["stage"])
    shown = shown.drop(columns=[c for c in ("kpi",) if c in shown.columns])

    def colours(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for col in frame.columns:
            tone_col = (f"tone_{col[3:]}" if col.startswith("vs_") else f"tone:{col}")
            if tone_col in df.columns:
                out[col] = df.loc[frame.index, tone_col].map(_TONES).fillna("")
        return out

    renamed = {"label": "KPI", "value": texts.column("value"), "vs_previous": texts.column("vs previous period"),
               "vs_last_year": texts.column("vs last year"), "vs_target": texts.column("vs target"),
               "definition": texts.column("definition")}
    styler = (shown.style.apply(colours, axis=None)
              .format(escape="html", na_rep="–")
              .format_index(escape="html", axis=1)
              .relabel_index([renamed.get(c, c) for c in shown.columns], axis=1)
              .hide(axis="index")
              .set_table_attributes('class="snb-table snb-scorecard"'))
    if "definition" in shown.columns:
        styler = styler.set_properties(subset=["definition"], **{"color": "#555", "font-size": "0.85em",
                                                                 "max-width": "18em"})
    return styler


def definitions(ctx: ReportContext) -> pd.DataFrame:
    """Every KPI's definition as printed in the reports' KPI list."""
    return pd.DataFrame([{"KPI": k.label, texts.column("name"): k.name, texts.column("formula"): k.formula,
                          texts.column("population"): k.population,
                          texts.column("good"): t("overview.higher") if k.good == "up" else t("overview.lower"),
                          texts.column("test"): t(f"test.{k.kind}")}
                         for k in ctx.kpis.values()])


def index_headline(ctx: ReportContext) -> dict[str, str]:
    """The period's headline figures for the index of all reports: label → formatted value,
    with the reason in brackets when a value carries a caveat."""
    from salesnb import forecast

    table = kpi_table(ctx.src, ctx.period, **_options(ctx, INDEX_KPIS))
    out = {r["label"]: format_value(r["value"], r["unit"], ctx.currency) + (
        "" if r["status"] == "ok" else f" ({gate_words(r['status'])})")
        for r in table.to_dict("records") if r["status"] != "missing_table"}
    if ctx.period.kind == "month" and "revenue" in ctx.kpis:
        # the revenue target: attained share when the month is over, the chance while it runs
        target = forecast.month_target(ctx.src, "revenue", ctx.period.name, custom_kpis=ctx.custom_kpis)
        if target == target:
            row = forecast.target_chance(ctx.src, "revenue", ctx.period.name, target, custom_kpis=ctx.custom_kpis)
            if row["status"] in ("closed", "open"):
                out[t("overview.target_of", label=ctx.kpis["revenue"].label)] = forecast.chance_text(row)
    return out


def index_tiles(ctx: ReportContext, *, kpis: Sequence[str] = INDEX_KPIS, periods: int = 13) -> list[dict[str, Any]]:
    """The index's KPI tiles for the period: ``kpi``, ``label``, ``value`` and ``change``
    (against the previous period, with the scorecard's arrow only when significant),
    ``tone`` (``good``/``bad``/``none``) and ``series`` — the KPI over the last ``periods``
    periods, oldest first, for a sparkline (``None`` where a period has no value).
    """
    names = [k for k in kpis if k in ctx.kpis]
    trend = kpi_trend(ctx.src, ctx.period, kpis=names, n_periods=periods, custom_kpis=ctx.custom_kpis,
                      funnel_stages=list(ctx.funnel_stages))
    opts = _options(ctx, names)
    now = {r["kpi"]: r for r in kpi_table(ctx.src, ctx.period, **opts).to_dict("records") if r["stage"] is None}
    changes = {r["kpi"]: r for r in compare(ctx.src, ctx.period, against="previous", alpha=ctx.alpha,
                                            basis=ctx.calendar, **opts).to_dict("records")  # type: ignore[arg-type]
               if r["stage"] is None}
    tiles = []
    for name in names:
        r = now.get(name)
        if r is None or r["status"] in ("missing_table", "missing_column"):
            continue
        kpi = ctx.kpis[name]
        change, tone = (format_change(changes[name], kpi.unit, kpi.good, ctx.currency) if name in changes
                        else ("–", "none"))
        series = trend[(trend["kpi"] == name) & trend["stage"].isna()]["value"].astype(float)
        tiles.append({"kpi": name, "label": kpi.label, "tone": tone, "change": change,
                      "value": format_value(r["value"], kpi.unit, ctx.currency) + (
                          "" if r["status"] == "ok" else f" ({gate_words(r['status'])})"),
                      "series": [None if v != v else float(v) for v in series]})
    return tiles


_UNIT_FORMAT = {"currency": "money", "count": "integer", "share": "percent", "days": "number", "units": "number"}


def _verdict(row: Mapping[str, Any] | None) -> str:
    """A change's verdict in words, for the workbook (the page shows it as an arrow)."""
    if not row:
        return "–"
    if row["status"] != "ok":
        return t(f"gate.{row['status']}") if f"gate.{row['status']}" in catalogue("en") else str(row["status"])
    if not row.get("significant"):
        return t("verdict.no_change")
    return t("verdict.up") if row["abs_change"] > 0 else t("verdict.down")


def workbook_sheets(ctx: ReportContext, *, kpis: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The scorecard (values, comparisons, verdicts, target), one sheet per breakdown and the
    definitions, as sheets of the period's ``kpis.xlsx`` (:mod:`salesnb.workbook`): numbers
    as numbers, in each KPI's unit."""
    from salesnb import workbook

    names = list(kpis) if kpis is not None else [*HEADLINE_KPIS, *ctx.custom_kpis]
    opts = _options(ctx, names)
    values = kpi_table(ctx.src, ctx.period, **opts)
    against = {a: {_key(r): r for r in compare(ctx.src, ctx.period, against=a, alpha=ctx.alpha, basis=ctx.calendar,  # type: ignore[arg-type]
                                               **opts).to_dict("records")}
               for a in ("previous", "last_year", "target")}
    rows, kinds = [], []
    for r in values.to_dict("records"):
        prev, ly, tgt = (against[a].get(_key(r)) for a in ("previous", "last_year", "target"))
        kinds.append(_UNIT_FORMAT.get(r["unit"], "number"))
        rows.append({
            t("workbook.kpi"): r["label"], t("workbook.value"): r["value"], t("workbook.status"): _verdict(r)
            if r["status"] != "ok" else t("workbook.ok"),
            t("workbook.previous"): prev["baseline"] if prev else None,
            t("workbook.change_previous"): prev["rel_change"] if prev else None,
            t("workbook.verdict_previous"): _verdict(prev),
            t("workbook.last_year"): ly["baseline"] if ly else None,
            t("workbook.change_last_year"): ly["rel_change"] if ly else None,
            t("workbook.verdict_last_year"): _verdict(ly),
            t("workbook.target"): tgt["baseline"] if tgt and tgt["status"] == "ok" else None,
            t("workbook.attainment"): (tgt["current"] / tgt["baseline"]
                                       if tgt and tgt["status"] == "ok" and tgt["baseline"] else None),
            t("workbook.definition"): r["definition"]})
    score = pd.DataFrame(rows)
    money_cols = [t("workbook.value"), t("workbook.previous"), t("workbook.last_year"), t("workbook.target")]
    formats: dict[str, Any] = {c: kinds for c in money_cols}
    formats.update({c: "percent" for c in (t("workbook.change_previous"), t("workbook.change_last_year"),
                                            t("workbook.attainment"))})
    sheets = [workbook.sheet(t("workbook.scorecard"), score, formats=formats, currency=ctx.currency)]
    for by in BREAKDOWNS:
        c = breakdown_rows(ctx, by)
        if c.empty or by not in c.columns:
            continue
        part = pd.DataFrame({
            t("workbook.segment"): [segment_label(str(v)) for v in c[by]],
            t("workbook.kpi"): [ctx.kpis[k].label for k in c["kpi"]],
            t("workbook.value"): c["current"], t("workbook.previous"): c["baseline"],
            t("workbook.change_previous"): c["rel_change"], t("workbook.verdict_previous"):
                [_verdict(r) for r in c.to_dict("records")]})
        unit_kinds = [_UNIT_FORMAT.get(ctx.kpis[k].unit, "number") for k in c["kpi"]]
        sheets.append(workbook.sheet(t(f"breakdown_sheet.{by}"), part,
                                     formats={t("workbook.value"): unit_kinds, t("workbook.previous"): unit_kinds,
                                              t("workbook.change_previous"): "percent"},
                                     currency=ctx.currency))
    sheets.append(workbook.sheet(t("workbook.definitions"), definitions(ctx)))
    return sheets
