"""Marketing channels: what each channel or campaign spends, brings in and pays back.

:func:`channel_table` follows the leads created in the period: their conversion to
customers, the new customers' revenue within an attribution window after conversion, the
period's share of campaign spend, the customer acquisition cost (CAC) and the return on
marketing spend, ROMI = (revenue − spend) ÷ spend. Small channels are flagged, not ranked.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from salesnb.aggregate import collect, data_end
from salesnb.comparisons import Data
from salesnb.engines import as_source
from salesnb.periods import Period, parse_period

__all__ = ["channel_table", "complete_window", "ATTRIBUTION_DAYS", "MIN_LEADS", "MIN_CUSTOMERS"]

ATTRIBUTION_DAYS = 180
COLUMNS = ["spend", "leads", "conversion", "conversion_low", "conversion_high", "new_customers", "revenue",
           "cac", "romi", "small", "rank", "window_complete", "note"]
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


def channel_table(data: Data, period: str | Period, *, by: Literal["channel", "campaign_id"] = "channel",
                  attribution_days: int = ATTRIBUTION_DAYS, alpha: float = 0.05,
                  fiscal_year_start: int = 1) -> pd.DataFrame:
    """One row per channel (or campaign): spend, leads, conversion, new customers, revenue
    from them within ``attribution_days`` of conversion, CAC and ROMI.

    Returns ``channel`` (or ``campaign_id``), ``spend``, ``leads``, ``conversion`` with
    ``conversion_low``/``conversion_high`` (Wilson interval), ``new_customers``, ``revenue``,
    ``cac``, ``romi``, ``small`` (fewer than 100 leads or 10 new customers: flagged, not
    ranked), ``rank`` (by ROMI among the others, 1 = best), ``window_complete`` (False when
    the attribution window runs past the data's end, so revenue is still coming in), ``note``.
    """
    src = as_source(data)
    p = parse_period(period, fiscal_year_start=fiscal_year_start)
    if not src.has("leads"):
        return pd.DataFrame(columns=[by, *COLUMNS])
    leads = collect(src.frame("leads"))
    leads["created_at"] = pd.to_datetime(leads["created_at"])
    leads = leads[(leads["created_at"] >= p.start_ts) & (leads["created_at"] < p.end_ts)]
    converted_at = pd.to_datetime(leads.get("converted_at"))
    if src.has("deals"):  # a lead whose deal was won converted at the deal's close
        deals = collect(src.frame("deals"))
        won = deals[deals["outcome"] == "won"].set_index("lead_id")
        converted_at = converted_at.fillna(leads["lead_id"].map(pd.to_datetime(won["closed_at"])))
        customer = leads["customer_id"].fillna(leads["lead_id"].map(won["customer_id"]))
    else:
        customer = leads["customer_id"]
    leads = leads.assign(converted_at=converted_at, customer_id=customer,
                         converted=converted_at.notna())
    leads[by] = leads[by].fillna("(none)")
    revenue = pd.Series(0.0, index=leads.index)
    if src.has("orders"):
        orders = collect(src.frame("orders"))
        orders = orders[orders["status"] != "cancelled"]
        orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
        conv = leads[leads["converted"]][["customer_id", "converted_at"]]
        o = orders.merge(conv.reset_index(), on="customer_id")
        in_window = (o["ordered_at"] >= o["converted_at"].dt.normalize()) & (
            o["ordered_at"] < o["converted_at"].dt.normalize() + pd.Timedelta(days=attribution_days))
        revenue = revenue.add(o[in_window].groupby("index")["amount"].sum(), fill_value=0.0)
    leads["revenue"] = revenue
    g = leads.groupby(by).agg(leads=("lead_id", "size"), new_customers=("converted", "sum"),
                              revenue=("revenue", "sum"))
    spend = _spend(collect(src.frame("campaigns")), p, "channel" if by == "channel" else "campaign_id") \
        if src.has("campaigns") else pd.Series(dtype=float)
    g["spend"] = spend.reindex(g.index).fillna(0.0)
    low, high = proportion_confint(g["new_customers"], g["leads"], alpha=alpha, method="wilson")
    g["conversion"], g["conversion_low"], g["conversion_high"] = g["new_customers"] / g["leads"], low, high
    g["cac"] = np.where(g["new_customers"] > 0, g["spend"] / g["new_customers"].clip(lower=1), math.nan)
    g["romi"] = np.where(g["spend"] > 0, (g["revenue"] - g["spend"]) / g["spend"].where(g["spend"] > 0), math.nan)
    g["small"] = (g["leads"] < MIN_LEADS) | (g["new_customers"] < MIN_CUSTOMERS)
    end = data_end(src)
    complete = bool((p.end_ts + pd.Timedelta(days=attribution_days)) <= end)
    g["window_complete"] = complete
    # revenue of an open attribution window is still coming in: no ranking on it
    ranked = g[~g["small"] & g["romi"].notna()]["romi"].rank(ascending=False, method="min") if complete \
        else pd.Series(dtype=float)
    g["rank"] = ranked.reindex(g.index)
    g["note"] = np.where(g["small"], "small: not ranked",
                         "" if complete else "attribution window still open: not ranked")
    best = g["rank"].idxmin() if g["rank"].notna().any() else None
    worst = g["rank"].idxmax() if g["rank"].notna().sum() > 1 else None
    if best is not None:
        g.loc[best, "note"] = "best return on spend"
    if worst is not None:
        pays = g.loc[worst, "romi"] >= 0
        g.loc[worst, "note"] = "worst return on spend" + ("" if pays else ": spend does not pay back")
    return g[COLUMNS].sort_values(["rank", "leads"], ascending=[True, False], na_position="last").reset_index()


def complete_window(data: Data, *, attribution_days: int = ATTRIBUTION_DAYS) -> Period:
    """The latest twelve months whose attribution window the data already covers."""
    end = data_end(as_source(data)).normalize() - pd.Timedelta(days=attribution_days)
    last = end.to_period("M") - 1 if end != end.to_period("M").end_time.normalize() else end.to_period("M")
    return parse_period(f"{(last - 11).start_time.date()}..{last.end_time.date()}")
