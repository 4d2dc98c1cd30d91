"""Marketing channels: what each channel or campaign spends, brings in and pays back.

:func:`channel_table` follows the leads created in the period: their conversion to
customers, the new customers' revenue within an attribution window after conversion, the
period's share of campaign spend, the customer acquisition cost (CAC) and the return on
marketing spend, ROMI = (margin − spend) ÷ spend where the margin is known (an orders
column ``margin``, or a gross-margin share from params), else (revenue − spend) ÷ spend,
labelled so. ROMI has a bootstrap interval (leads resampled within the channel); channels
are ranked only where those intervals separate, and small channels are flagged, not ranked.
"""

from __future__ import annotations

import math
from typing import Literal

import narwhals as nw
import numpy as np
import pandas as pd

from salesnb.aggregate import Window, collect, conversion_days, data_end, in_window, only_keys
from salesnb.comparisons import Data
from salesnb.context import ATTRIBUTION_DAYS, ReportContext
from salesnb.engines import as_source
from salesnb.periods import Period, parse_period
from salesnb.stats.scores import rate_interval, spend_return_interval
from salesnb.texts import t

__all__ = ["channel_table", "channels_shown", "complete_window", "conversion_lag", "ATTRIBUTION_DAYS", "MIN_LEADS",
           "MIN_CUSTOMERS"]

COLUMNS = ["spend", "leads", "conversion", "conversion_low", "conversion_high", "new_customers", "revenue",
           "margin", "cac", "romi", "romi_low", "romi_high", "romi_basis", "small", "rank", "window_complete", "note"]

MIN_LEADS, MIN_CUSTOMERS = 100, 10


def _spend(campaigns: pd.DataFrame, p: Period, key: str) -> pd.Series:
    """Campaign spend falling in the period, spread evenly over each campaign's days."""
    c = campaigns.copy()
    c["started_at"] = pd.to_datetime(c["started_at"])
    end = pd.to_datetime(c["ended_at"]).fillna(c["started_at"])
    c["days"] = (end.dt.normalize() - c["started_at"].dt.normalize()).dt.days + 1
    lo = c["started_at"].dt.normalize().clip(lower=p.start_ts)
    hi = (end.dt.normalize() + pd.Timedelta(days=1)).clip(upper=p.end_ts)
    overlap = ((hi - lo).dt.days).clip(lower=0)
    c["in_period"] = c["spend"].fillna(0.0) * overlap / c["days"]
    return c.groupby(key)["in_period"].sum()


_NO_REVENUE = pd.DataFrame(columns=["amount", "margin"], dtype=float)


def _attributed(src: object, leads: pd.DataFrame, w: Window, days: int, margin: bool) -> pd.DataFrame:
    """Each converted lead's orders (not cancelled) from the day it converted for ``days``:
    ``amount`` (and ``margin``) summed per lead, indexed like ``leads``. The engine joins the
    period's converted leads (a few thousand) to the orders, so only the sums come back,
    not every order placed since the period began (tens of millions on a large export)."""
    conv = leads[leads["converted"] & leads["customer_id"].notna()]
    if conv.empty:
        return _NO_REVENUE
    start = pd.to_datetime(conv["converted_at"]).dt.normalize().astype("datetime64[us]")
    links = src.constant(pd.DataFrame({  # type: ignore[attr-defined]
        "_lead": conv.index.to_numpy(), "customer_id": conv["customer_id"].astype("str").to_numpy(),
        "_from": start.to_numpy(), "_to": (start + pd.Timedelta(days=days)).to_numpy()}))
    sums = ["amount", *(["margin"] if margin else [])]
    orders = (src.frame("orders")  # type: ignore[attr-defined]
              .filter((nw.col("status") != "cancelled") & (nw.col("ordered_at") >= w.start)
                      & ~nw.col("customer_id").is_null())
              .select("customer_id", "ordered_at", *sums)
              .with_columns(nw.col("customer_id").cast(nw.String)))
    joined = (orders.join(links, on="customer_id", how="inner")
              .filter((nw.col("ordered_at") >= nw.col("_from")) & (nw.col("ordered_at") < nw.col("_to")))
              .group_by("_lead").agg(*[nw.col(c).sum() for c in sums]))
    out = collect(joined).set_index("_lead")
    return out.astype(float)


def channel_table(ctx: ReportContext, *, by: Literal["channel", "campaign_id"] = "channel") -> pd.DataFrame:
    """One row per channel (or campaign): spend, leads, conversion, new customers, revenue
    from them within ``attribution_days`` of conversion, CAC and ROMI.

    Returns ``channel`` (or ``campaign_id``), ``spend``, ``leads``, ``conversion`` with
    ``conversion_low``/``conversion_high`` (Wilson interval), ``new_customers``, ``revenue``,
    ``margin`` (the orders' ``margin`` column, else revenue × ``gross_margin``, else empty),
    ``cac`` (empty without spend), ``romi`` with ``romi_low``/``romi_high`` (percentile
    bootstrap over the channel's leads, 1,000 resamples, fixed seed), ``romi_basis``
    (``margin`` or ``revenue``), ``small`` (fewer than 100 leads or 10 new customers: flagged,
    not ranked), ``rank`` (1 + the number of channels whose ROMI interval lies wholly above
    this one's: channels whose intervals overlap share a rank), ``window_complete`` (True only
    once the period's end + the longest usual conversion lag (99th percentile) + the
    attribution window have passed, so no revenue is still coming in), ``note``.
    """
    src, p, alpha = ctx.src, ctx.period, ctx.alpha
    attribution_days, gross_margin = ctx.attribution_days, ctx.gross_margin
    if not src.has("leads") or by not in src.columns("leads"):  # e.g. leads without campaign ids
        return pd.DataFrame(columns=[by, *COLUMNS])
    w = Window.of(p)
    # the engine sends only what the table needs: the period's leads, won deals, and orders
    # (not cancelled) from the period's start on
    leads = collect(src.frame("leads").filter(in_window("created_at", w)))
    leads["created_at"] = pd.to_datetime(leads["created_at"])
    converted_at = (pd.to_datetime(leads["converted_at"]) if "converted_at" in leads
                    else pd.Series(pd.NaT, index=leads.index, dtype="datetime64[us]"))
    customer = leads["customer_id"] if "customer_id" in leads else pd.Series(None, index=leads.index, dtype=object)
    deal_columns = set(src.columns("deals")) if src.has("deals") else set()
    if {"lead_id", "closed_at"} <= deal_columns:  # a lead whose deal was won converted at the deal's close
        wanted = ["lead_id", "closed_at", *(["customer_id"] if "customer_id" in deal_columns else [])]
        # only the period's leads' won deals leave the engine, not every deal ever won
        period_leads = src.constant(leads[["lead_id"]].drop_duplicates())
        won = collect(only_keys(src, src.frame("deals").filter(nw.col("outcome") == "won").select(*wanted),
                                period_leads, "lead_id")).set_index("lead_id")
        converted_at = converted_at.fillna(leads["lead_id"].map(pd.to_datetime(won["closed_at"])))
        if "customer_id" in won:
            customer = customer.fillna(leads["lead_id"].map(won["customer_id"]))
    leads = leads.assign(converted_at=converted_at, customer_id=customer,
                         converted=converted_at.notna())
    leads[by] = leads[by].fillna("(none)")
    margin_known = src.has("orders") and {"margin", "customer_id"} <= set(src.columns("orders"))
    # revenue follows the customer: orders without customer ids (guest checkout) cannot be attributed
    attributed = (_attributed(src, leads, w, attribution_days, margin_known)
                  if src.has("orders") and "customer_id" in src.columns("orders") else _NO_REVENUE)
    leads["revenue"] = pd.Series(0.0, index=leads.index).add(attributed.get("amount"), fill_value=0.0)
    if margin_known:
        leads["margin"] = pd.Series(0.0, index=leads.index).add(attributed.get("margin"), fill_value=0.0)
    elif gross_margin is not None:
        leads["margin"] = leads["revenue"] * float(gross_margin)
    basis = "margin" if margin_known or gross_margin is not None else "revenue"
    g = leads.groupby(by).agg(leads=("lead_id", "size"), new_customers=("converted", "sum"),
                              revenue=("revenue", "sum"))
    g["margin"] = leads.groupby(by)["margin"].sum() if basis == "margin" else math.nan
    spend = _spend(collect(src.frame("campaigns")), p, "channel" if by == "channel" else "campaign_id") \
        if src.has("campaigns") else pd.Series(dtype=float)
    g["spend"] = spend.reindex(g.index).fillna(0.0)
    low, high = rate_interval(g["new_customers"].to_numpy(float), g["leads"].to_numpy(float), alpha=alpha)
    g["conversion"], g["conversion_low"], g["conversion_high"] = g["new_customers"] / g["leads"], low, high
    paid = g["spend"] > 0
    g["cac"] = np.where(paid & (g["new_customers"] > 0), g["spend"] / g["new_customers"].clip(lower=1), math.nan)
    g["romi"] = np.where(paid, (g[basis] - g["spend"]) / g["spend"].where(paid), math.nan)
    g["romi_basis"] = basis
    g["romi_low"], g["romi_high"] = math.nan, math.nan
    for key, rows in leads.groupby(by):
        g.loc[key, "romi_low"], g.loc[key, "romi_high"] = spend_return_interval(
            rows[basis].to_numpy(float), float(g.loc[key, "spend"]), alpha=alpha)
    g["small"] = (g["leads"] < MIN_LEADS) | (g["new_customers"] < MIN_CUSTOMERS)
    end = data_end(src)
    lag = conversion_lag(src)
    complete = bool((p.end_ts + pd.Timedelta(days=lag + attribution_days)) <= end)
    g["window_complete"] = complete
    # revenue of an open attribution window is still coming in: no ranking on it
    rankable = g[~g["small"] & g["romi"].notna()] if complete else g.iloc[0:0]
    g["rank"] = pd.Series({k: 1 + int((rankable["romi_low"] > r["romi_high"]).sum())
                           for k, r in rankable.iterrows()}, dtype=float).reindex(g.index)
    no_spend = t("marketing.no_spend")
    g["note"] = np.where(~paid, no_spend, np.where(g["small"], t("marketing.small"),
                         "" if complete else t("marketing.window_open")))
    if len(rankable) > 1:
        order = rankable.sort_values("romi", ascending=False)
        first, second = order.iloc[0], order.iloc[1]
        if first["romi_low"] > second["romi_high"]:
            g.loc[order.index[0], "note"] = t("marketing.best")
        last, before = order.iloc[-1], order.iloc[-2]
        if last["romi_high"] < before["romi_low"]:
            pays = last["romi"] >= 0
            g.loc[order.index[-1], "note"] = t("marketing.worst") if pays else t("marketing.worst_no_payback")
    return g[COLUMNS].sort_values(["rank", "romi"], ascending=[True, False], na_position="last").reset_index()


def conversion_lag(data: Data, *, quantile: float = 0.99) -> float:
    """Days from a lead's creation to its conversion that ``quantile`` of converted leads stay
    within (0 without converted leads)."""
    src = as_source(data)
    if not src.has("leads") or "converted_at" not in src.columns("leads"):
        return 0.0
    days = conversion_days(src)
    return float(np.quantile(days, quantile)) if len(days) else 0.0


def complete_window(ctx: ReportContext) -> Period:
    """The latest twelve months whose leads have had the usual conversion lag (99th
    percentile) and the attribution window since: nothing is still coming in."""
    end = (data_end(ctx.src).normalize() - pd.Timedelta(days=ctx.attribution_days)
           - pd.Timedelta(days=math.ceil(conversion_lag(ctx.src))))
    last = end.to_period("M") - 1 if end != end.to_period("M").end_time.normalize() else end.to_period("M")
    return parse_period(f"{(last - 11).start_time.date()}..{last.end_time.date()}")


def channels_shown(table: pd.DataFrame) -> pd.DataFrame:
    """A channel table for the page: conversion and ROMI with their intervals in one column
    each, in the report's language; the flags folded into the note."""
    from salesnb import present

    if not len(table):
        return table
    shown = present.with_interval(table, "conversion", "conversion_low", "conversion_high")
    shown = present.with_interval(shown, "romi", "romi_low", "romi_high")
    basis = table["romi_basis"].iloc[0]
    drop = ["small", "window_complete", "romi_basis"] + (["margin"] if basis == "revenue" else [])
    return shown.drop(columns=drop).rename(columns={"conversion": t("marketing.conversion_ci"),
                                                   "romi": t(f"marketing.romi_{basis}")})
