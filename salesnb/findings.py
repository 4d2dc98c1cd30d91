"""Findings first: the period's few things worth a manager's attention, ranked by money.

Each finding is one sentence with its number, the evidence behind it and a link to the
section that shows it. Only what passed its own page's gate can be a finding — a KPI
change that is significant on the scorecard, a funnel stage the weak-spot test flags, a
month the unusual-months check flags, a PDCA verdict that asks for a decision, a channel
whose ROMI interval lies below the others', a feedback theme that rose significantly — and
the tested ones (changes, stages, themes) pass one more gate together: Benjamini–Hochberg
over all of them at q < ``FINDINGS_Q`` (0.005, or ``alpha`` if lower; set by calibration),
so a page of many tests does not add up to a false finding in most summaries
(``make calibrate`` measures how often a summary of a steady business holds any).
"Nothing stands out" is a valid summary.

Money at stake puts different findings on one scale (a change in orders is worth the
period's average check each; a conversion change the leads it applies to; a weak stage the
deals it loses on their way to a won deal's value). It ranks; it is not a forecast.

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> ctx = salesnb.report_context("2026-10", salesnb.SalesData(generate(scale=0.05)[0]))
>>> list(findings(ctx).columns)
['kind', 'text', 'money', 'link', 'evidence', 'p_value']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from salesnb import texts
from salesnb.comparisons import compare, kpi_table
from salesnb.context import ReportContext
from salesnb.stats import bh_qvalues
from salesnb.texts import t

__all__ = ["findings", "finding_lines", "COLUMNS", "KINDS", "MAX_FINDINGS", "TARGET_RISK", "FINDINGS_Q", "CHANGE_KPIS",
           "anchor"]

COLUMNS = ["kind", "text", "money", "link", "evidence", "p_value"]
KINDS = ("kpi_change", "weak_stage", "unusual_month", "pdca", "target_at_risk", "feedback_theme", "channel")
MAX_FINDINGS = 8       # the few things: more than this and a manager reads none of them
TARGET_RISK = 0.25     # an open month whose chance of reaching its target is below this
FINDINGS_Q = 0.005     # the joint gate (BH) of the tested findings: set by calibration (make calibrate)
CHANGE_KPIS = ["revenue", "orders", "new_customers", "conversion_rate", "average_check", "refusals",
               "return_rate", "win_rate", "sales_cycle_days"]
# where each kind of finding is shown: the page and the heading of its section
_SECTIONS = {"kpi_change": ("kpi_overview", "scorecard"), "weak_stage": ("funnel", "weak_spots"),
             "unusual_month": ("kpi_overview", "unusual"), "pdca": ("pdca_review", "active"),
             "target_at_risk": ("forecast", "targets"), "feedback_theme": ("feedback", "themes"),
             "channel": ("marketing", "complete")}


@dataclass
class _Finding:
    kind: str
    text: str
    money: float
    evidence: str
    p_value: float = math.nan  # tested findings pass the joint gate; the others their page's
    link: str = ""


def anchor(heading: str) -> str:
    """The id nbconvert gives a markdown heading, as a link target: spaces become hyphens and
    what a URL fragment cannot hold is percent-encoded (nbconvert.filters.strings, whose
    function for it is private).

    >>> anchor("Weak spots"), anchor("Каналы")
    ('Weak-spots', '%D0%9A%D0%B0%D0%BD%D0%B0%D0%BB%D1%8B')
    """
    return quote(heading.strip().replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def _link(kind: str) -> str:
    page, section = _SECTIONS[kind]
    return f"{page}.html#{anchor(t(f'findings.section.{section}'))}"


def _values(ctx: ReportContext) -> dict[str, float]:
    """The period's values the money scale needs (revenue, orders, leads, the average check)."""
    names = _computable(ctx, ("revenue", "orders", "leads", "average_check"))
    if not names:
        return {}
    table = kpi_table(ctx.src, ctx.period, kpis=names, min_events=0, funnel_stages=list(ctx.funnel_stages))
    return {r["kpi"]: float(r["value"]) for r in table.to_dict("records")
            if r["stage"] is None or r["stage"] != r["stage"]}


def _money(kpi: str, change: float, v: dict[str, float]) -> float:
    """A change of a KPI in money: what it is worth in the period, at its average check."""
    check = v.get("average_check", math.nan)
    per = {"revenue": 1.0, "net_revenue": 1.0, "returns_amount": 1.0,
           "orders": check, "new_customers": check, "refusals": check, "returns": check,
           "average_check": v.get("orders", math.nan),
           "conversion_rate": v.get("leads", math.nan) * check,
           "return_rate": v.get("orders", math.nan) * check}.get(kpi, math.nan)
    return abs(change) * per if per == per else math.nan


def _driver(ctx: ReportContext, against: str) -> str:
    """The larger part of a revenue change: more or fewer orders, or the average check."""
    from salesnb.comparisons import revenue_drivers

    parts = revenue_drivers(ctx.src, ctx.period, against=against, basis=ctx.calendar)  # type: ignore[arg-type]
    parts = parts[parts["part"].isin(["orders", "average_check"])]
    if parts.empty:
        return ""
    top = parts.loc[parts["effect"].abs().idxmax()]
    share = abs(top["effect"]) / max(parts["effect"].abs().sum(), 1e-12)
    way = "up" if top["effect"] > 0 else "down"
    return t(f"findings.driver.{top['part']}_{way}", share=texts.percent(share, 0))


def _kpi_changes(ctx: ReportContext, v: dict[str, float]) -> list[_Finding]:
    from salesnb.overview import format_value

    out = []
    names = _computable(ctx, CHANGE_KPIS)
    if not names:
        return []
    for against in ("previous", "last_year"):
        c = compare(ctx.src, ctx.period, against=against, alpha=ctx.alpha, basis=ctx.calendar,  # type: ignore[arg-type]
                    kpis=names, min_events=ctx.min_events, funnel_stages=list(ctx.funnel_stages))
        for r in c.to_dict("records"):
            if r["status"] != "ok" or not r["significant"] or (r["stage"] == r["stage"] and r["stage"] is not None):
                continue
            kpi = ctx.kpis[r["kpi"]]
            unit = kpi.unit
            change = (texts.percent(abs(r["rel_change"]), 1) if unit != "share"
                      else t("findings.points", points=texts.number(abs(r["abs_change"]) * 100, 1)))
            good = (r["abs_change"] > 0) == (kpi.good == "up")
            driver = _driver(ctx, against) if r["kpi"] in ("revenue", "net_revenue") else ""
            way = t("findings.rose" if r["abs_change"] > 0 else "findings.fell")
            text = t("findings.kpi_change", label=kpi.label, way=way,
                     change=change, against=t(f"findings.against.{against}"),
                     now=format_value(r["current"], unit, ctx.currency),
                     before=format_value(r["baseline"], unit, ctx.currency), driver=driver,
                     tone=t("findings.good" if good else "findings.bad"))
            evidence = t("findings.evidence.change", low=format_value(r["ci_low"], unit, ctx.currency),
                         high=format_value(r["ci_high"], unit, ctx.currency), p=_p(r["p_value"]))
            money = _money(r["kpi"], r["abs_change"], v)
            out.append(_Finding("kpi_change", text, money, evidence, float(r["p_value"])))
    return out


def _computable(ctx: ReportContext, kpis: Sequence[str]) -> list[str]:
    """The KPIs the data can give (a missing table or column leaves a KPI out, silently:
    the scorecard says so in its own line)."""
    from salesnb.aggregate import kpi_problem

    return [k for k in kpis if k in ctx.kpis and not kpi_problem(ctx.src, ctx.kpis[k])]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {texts.number(p, 3)}"


def _weak_stages(ctx: ReportContext, v: dict[str, float]) -> list[_Finding]:
    from salesnb.funnel import weak_spots

    table = weak_spots(ctx)
    if table.empty:
        return []
    order = {s: i for i, s in enumerate(ctx.funnel_stages)}
    rates = dict(zip(table["stage"], table["conversion"], strict=True))
    won_value = _won_value(ctx)
    out = []
    for r in table[table["weak"]].to_dict("records"):
        # a deal lost here would have gone on through the later stages to a won deal's value
        later = [rates.get(s, math.nan) for s in ctx.funnel_stages if order.get(s, -1) > order.get(r["stage"], 99)
                 and s in rates]
        onward = float(np.prod([x for x in later if x == x])) if later else 1.0
        money = abs(r["gap_others"]) * r["entered"] * onward * won_value
        text = t("findings.weak_stage", stage=r["stage"], rate=texts.percent(r["conversion"], 0),
                 others=texts.percent(r["others"], 0), entered=texts.number(r["entered"]))
        evidence = t("findings.evidence.stage", low=texts.number(r["ci_others_low"] * 100, 1),
                     high=texts.number(r["ci_others_high"] * 100, 1), p=_p(r["p_others"]))
        out.append(_Finding("weak_stage", text, money, evidence, float(r["p_others"])))
    return out


def _won_value(ctx: ReportContext) -> float:
    """The average amount of the deals won in the period (nan without deal amounts)."""
    from salesnb.aggregate import collect

    src = ctx.src
    if not src.has("deals") or not {"amount", "closed_at"} <= set(src.columns("deals")):
        return math.nan
    import narwhals as nw

    won = collect(src.frame("deals").filter((nw.col("outcome") == "won") & ~nw.col("closed_at").is_null()
                                            & (nw.col("closed_at") >= ctx.period.start_ts)
                                            & (nw.col("closed_at") < ctx.period.end_ts)).select("amount"))
    return float(won["amount"].mean()) if len(won) else math.nan


def _unusual_months(ctx: ReportContext, v: dict[str, float], table: pd.DataFrame | None = None) -> list[_Finding]:
    from salesnb.feedback import anomalies
    from salesnb.overview import TREND_KPIS, format_value

    if ctx.period.kind != "month":
        return []
    if table is None:
        names = _computable(ctx, TREND_KPIS)
        if not names:
            return []
        table = anomalies(ctx, names, periods=24)  # as the page tests them: its gate is over 24 months
    if table.empty:
        return []
    out = []
    for r in table[table["anomaly"] & (table["period"] == ctx.period.name)].to_dict("records"):
        kpi = ctx.kpis[r["kpi"]]
        text = t("findings.unusual", label=kpi.label, month=ctx.period.label,
                 value=format_value(r["value"], kpi.unit, ctx.currency),
                 expected=format_value(r["expected"], kpi.unit, ctx.currency),
                 way=t("findings.above" if r["value"] > r["expected"] else "findings.below"))
        evidence = t("findings.evidence.unusual", low=format_value(r["low"], kpi.unit, ctx.currency),
                     high=format_value(r["high"], kpi.unit, ctx.currency))
        out.append(_Finding("unusual_month", text, _money(r["kpi"], r["value"] - r["expected"], v), evidence))
    return out


def _themes(ctx: ReportContext, v: dict[str, float]) -> list[_Finding]:
    from salesnb.feedback import themes

    if not ctx.src.has("feedback") or not ctx.feedback_themes:
        return []
    table = themes(ctx)
    out = []
    for r in table[(table["change"] > 0) & (table["p_value"] < ctx.alpha)].to_dict("records"):
        text = t("findings.theme", theme=r["theme"], share=texts.percent(r["share"], 0),
                 points=texts.number(r["change"] * 100, 1), comments=texts.number(r["comments"]))
        out.append(_Finding("feedback_theme", text, math.nan, t("findings.evidence.p", p=_p(r["p_value"])),
                            float(r["p_value"])))
    return out


def _channels(ctx: ReportContext, v: dict[str, float]) -> list[_Finding]:
    from salesnb.marketing import channel_table, complete_window

    if not ctx.src.has("leads") or "channel" not in ctx.src.columns("leads"):
        return []
    # the page's ranking stands on the last twelve months whose revenue is all in
    window = complete_window(ctx)
    table = channel_table(ctx.at(window))
    worst = table[table["note"].isin([t("marketing.worst"), t("marketing.worst_no_payback")])]
    out = []
    for r in worst.to_dict("records"):
        rest = table[(table["channel"] != r["channel"]) & table["romi"].notna() & ~table["small"]]
        spend = float(r["spend"])
        others = float(rest["romi"].median()) if len(rest) else math.nan
        money = spend  # the budget in question (what it would return elsewhere is no forecast)
        text = t("findings.channel", channel=r["channel"], romi=texts.percent(r["romi"], 0), window=window.label,
                 others=texts.percent(others, 0), spend=texts.money(spend, ctx.currency))
        evidence = t("findings.evidence.channel", low=texts.percent(r["romi_low"], 0),
                     high=texts.percent(r["romi_high"], 0))
        out.append(_Finding("channel", text, money, evidence))
    return out


def _target(ctx: ReportContext, v: dict[str, float]) -> list[_Finding]:
    from salesnb import forecast

    if ctx.period.kind != "month":
        return []
    out = []
    for kpi in forecast.OUTLOOK_KPIS:
        if kpi not in ctx.kpis:
            continue
        target = forecast.month_target(ctx.src, kpi, ctx.period.name, custom_kpis=ctx.custom_kpis)
        if target != target:
            continue
        row = forecast.target_chance(ctx.src, kpi, ctx.period.name, target, custom_kpis=ctx.custom_kpis)
        if row["status"] != "open" or not row["chance"] < TARGET_RISK:
            continue
        label = ctx.kpis[kpi].label
        short = max(target - row["expected"], 0.0)
        text = t("findings.target", label=label, chance=texts.percent(row["chance"], 0),
                 target=texts.number(target), expected=texts.number(row["expected"]))
        out.append(_Finding("target_at_risk", text, _money(kpi, short, v), t("findings.evidence.target")))
    return out


def _pdca(ctx: ReportContext, initiatives: Sequence[Any]) -> list[_Finding]:
    from salesnb import pdca

    active = pdca.active_in(list(initiatives), ctx.period)
    if not active:
        return []
    results = pdca.check_each(ctx, list(initiatives))
    out = []
    for ini in active:
        r = results[ini.id]
        if r.verdict not in ("standardise", "roll_back", "adjust"):
            continue
        text = t("findings.pdca", id=ini.id, title=ini.title, verdict=t(f"pdca_verdict.{r.verdict}"),
                 effect=_pdca_effect(r))
        evidence = t("findings.evidence.pdca", rate=texts.percent(r.false_action_rate, 0)
                     if r.false_action_rate == r.false_action_rate else "–")
        out.append(_Finding("pdca", text, math.nan, evidence))
    return out


def _pdca_effect(r: Any) -> str:
    effect = r.did_effect if r.did_effect == r.did_effect else r.effect
    if r.kpi in ("stage_conversion", "conversion_rate", "win_rate", "return_rate"):
        return t("findings.points", points=f"{effect * 100:+.1f}")
    return f"{effect:+,.0f}"


def findings(ctx: ReportContext, *, initiatives: Sequence[Any] = (), limit: int = MAX_FINDINGS,
             unusual: pd.DataFrame | None = None) -> pd.DataFrame:
    """The period's findings, most money at stake first (those without a money figure after,
    in the order of :data:`KINDS`): ``kind``, ``text``, ``money``, ``link`` (page and section),
    ``evidence``, ``p_value`` (tested kinds). At most ``limit`` rows; empty when nothing
    stands out. ``initiatives``: the PDCA register, for the verdicts due. ``unusual``: the
    page's own unusual-months table (:func:`salesnb.feedback.anomalies` of the trend KPIs
    over 24 months), so that the overview does not compute it twice; computed when missing.
    """
    v = _values(ctx)
    tested = [*_kpi_changes(ctx, v), *_weak_stages(ctx, v), *_themes(ctx, v)]
    if tested:
        q = bh_qvalues(np.array([f.p_value for f in tested], float))
        tested = [f for f, qi in zip(tested, q, strict=True) if qi < min(FINDINGS_Q, ctx.alpha)]
    found = [*tested, *_unusual_months(ctx, v, unusual), *_target(ctx, v), *_channels(ctx, v), *_pdca(ctx, initiatives)]
    for f in found:
        f.link = _link(f.kind)
    frame = pd.DataFrame([asdict(f) for f in found], columns=COLUMNS)
    if frame.empty:
        return frame
    frame["_kind"] = frame["kind"].map({k: i for i, k in enumerate(KINDS)})
    frame["_money"] = frame["money"].fillna(-1.0)
    frame = frame.sort_values(["_money", "_kind"], ascending=[False, True], kind="stable")
    return frame.drop(columns=["_kind", "_money"]).head(limit).reset_index(drop=True)


def finding_lines(frame: pd.DataFrame, currency: str = "") -> list[dict[str, str]]:
    """Findings as plain records for the run record, the index and the e-mail: ``text``,
    ``evidence``, ``money`` (formatted, empty when none) and ``link``."""
    return [{"kind": str(r["kind"]), "text": str(r["text"]), "evidence": str(r["evidence"]),
             "money": t("findings.at_stake", money=texts.money(r["money"], currency))
             if r["money"] == r["money"] else "", "link": str(r["link"])}
            for r in frame.to_dict("records")]
