"""Market opportunities: what grows faster than the rest, what is new, and who has not bought yet.

- :func:`growth` — per product, customer segment, region and channel: revenue of the twelve
  months to the period's end against the twelve before, relative to the rest of the
  business. The test is on the twelve monthly log ratios of the segment to the rest in each
  year (Welch): months, not orders, are the units, so a big customer's reorders, a heavy
  order or a segment's own bad month count as what they are. Estimates are shrunk toward
  "grows like the rest" by an empirical-Bayes normal prior fitted over the segments of the
  same column (DerSimonian–Laird), so that a small segment's lucky year does not top the
  list; Benjamini–Hochberg over every segment tested.
- :func:`new_products` — products first sold in the last twelve months (not at the data's
  start): buyers, orders and revenue since launch, and the uptake curve (cumulative buyers by
  month since launch).
- :func:`white_space` — customers × products not bought yet where similar customers (the
  same segment, region or acquisition channel) buy them: the product's share of buyers among
  the active customers of that group against the other active customers (two proportions,
  customers independent), Benjamini–Hochberg, and the revenue at stake if the group's
  non-buyers bought like its buyers.
- :func:`opportunities` — the gated rows of all three, ranked by money.

Money is a ranking scale, not a forecast: the revenue a year beyond growing like the rest,
a new product's current annual run rate, or a group's non-buyers at its buyers' revenue.

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> ctx = salesnb.report_context("2026-10", salesnb.SalesData(generate(scale=0.05)[0]))
>>> list(growth(ctx).columns)[:3]
['dimension', 'value', 'revenue_before']
"""

from __future__ import annotations

import math
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import stats as sps

from salesnb import texts
from salesnb.aggregate import collect, data_start
from salesnb.context import ReportContext
from salesnb.stats import bh_qvalues
from salesnb.texts import t

__all__ = ["growth", "relative_growth", "new_products", "uptake", "white_space", "opportunities", "windows",
           "monthly", "dimension_label", "DIMENSIONS", "GROUP_COLUMNS", "MONTHS", "MIN_MONTHS", "COLUMNS"]

DIMENSIONS = ("product", "segment", "region", "channel")
GROUP_COLUMNS = {"segment": "segment", "region": "region", "acquired_via": "channel"}  # customers' columns
MONTHS = 12            # each of the two years compared
MIN_MONTHS = 10        # months with sales a segment needs in each year to be judged
LAUNCH_AFTER_DAYS = 180  # a product first sold this long after the data starts is new, not old
COLUMNS = ["kind", "text", "money", "evidence"]


def windows(ctx: ReportContext) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(start of the year before, start of the latest year, end): twelve months each, ending
    with the period's end."""
    stop = ctx.period.end_ts  # the first instant after the period
    return stop - pd.DateOffset(years=2), stop - pd.DateOffset(years=1), stop


def _sales(ctx: ReportContext, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Completed sales in ``[since, until)``: one row per order (per line with order_lines),
    ``ordered_at``, ``amount``, ``order_id``, ``customer_id`` and the dimensions present."""
    src = ctx.src
    have = src.columns("orders")
    wanted = [c for c in ("order_id", "ordered_at", "amount", "customer_id", "region", "channel", "product")
              if c in have and not (c == "product" and src.has("order_lines"))]
    orders = collect(src.frame("orders").filter(
        (nw.col("ordered_at") >= since) & (nw.col("ordered_at") < until) & (nw.col("status") != "cancelled"))
        .select(*wanted))
    if src.has("order_lines") and "product" in src.columns("order_lines"):
        lines = collect(src.frame("order_lines").select(
            "order_id", "product", *(["amount"] if "amount" in src.columns("order_lines") else [])))
        lines = lines[lines["order_id"].isin(orders["order_id"])]
        base = orders.drop(columns=["amount"]) if "amount" in lines else orders
        orders = base.merge(lines, on="order_id", how="inner")
    if "customer_id" in orders and src.has("customers") and "segment" in src.columns("customers"):
        seg = collect(src.frame("customers").select("customer_id", "segment")).drop_duplicates("customer_id")
        orders["segment"] = orders["customer_id"].map(seg.set_index("customer_id")["segment"])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["amount"] = pd.to_numeric(orders["amount"], errors="coerce").fillna(0.0)
    return orders


def monthly(ctx: ReportContext) -> pd.DataFrame:
    """Revenue and orders per dimension, value and month over the two years compared:
    ``dimension``, ``value``, ``month`` (0–23), ``revenue``, ``orders``; plus the whole
    business as dimension ``all``. ``attrs["clusters"]`` holds each buyer's revenue per
    dimension, value and year (``dimension``, ``value``, ``cluster``, ``year`` 0/1,
    ``revenue``, with ``all`` for the buyer's total): the customer is the unit that repeats
    (an order where the data has no customers)."""
    before, _, stop = windows(ctx)
    sales = _sales(ctx, before, stop)
    month = ((sales["ordered_at"].dt.year - before.year) * 12 + sales["ordered_at"].dt.month - before.month)
    cluster = (sales["customer_id"].astype("str") if "customer_id" in sales and sales["customer_id"].notna().all()
               else sales["order_id"].astype("str"))
    sales = sales.assign(month=month.astype(int), cluster=cluster.to_numpy(), year=(month >= MONTHS).astype(int))
    parts = [sales.groupby("month").agg(revenue=("amount", "sum"), orders=("order_id", "nunique"))
             .reset_index().assign(dimension="all", value="all")]
    clusters = [sales.groupby(["cluster", "year"])["amount"].sum().rename("revenue").reset_index()
                .assign(dimension="all", value="all")]
    for dim in DIMENSIONS:
        if dim in sales and sales[dim].notna().any():
            valued = sales.assign(value=sales[dim].astype("str").fillna(t("value.none")))
            g = valued.groupby(["value", "month"])
            parts.append(g.agg(revenue=("amount", "sum"), orders=("order_id", "nunique")).reset_index()
                         .assign(dimension=dim))
            clusters.append(valued.groupby(["value", "cluster", "year"])["amount"].sum().rename("revenue")
                            .reset_index().assign(dimension=dim))
    out = pd.concat(parts, ignore_index=True)[["dimension", "value", "month", "revenue", "orders"]]
    out.attrs["clusters"] = pd.concat(clusters, ignore_index=True)
    return out


VARIANCE = "max"


def _combine(months: float, buyers: float) -> float:
    return {"sum": months + buyers, "max": max(months, buyers), "buyers": buyers or months}[VARIANCE]


def _cluster_variances(clusters: pd.DataFrame) -> dict[tuple[str, str], float]:
    """The variance of each segment's log relative growth from its buyers (delta method,
    buyers as clusters): who bought, who came and who left is part of the noise."""
    total = clusters[clusters["dimension"] == "all"].pivot_table(
        index="cluster", columns="year", values="revenue", aggfunc="sum", fill_value=0.0).reindex(
        columns=[0, 1], fill_value=0.0)
    t0, t1 = total[0], total[1]
    n = len(total)
    s00, s11, s01 = float((t0**2).sum()), float((t1**2).sum()), float((t0 * t1).sum())
    T0, T1 = float(t0.sum()), float(t1.sum())
    out = {}
    for (dim, value), g in clusters[clusters["dimension"] != "all"].groupby(["dimension", "value"], sort=False):
        a = g.pivot_table(index="cluster", columns="year", values="revenue", aggfunc="sum", fill_value=0.0).reindex(
            columns=[0, 1], fill_value=0.0)
        a0, a1 = a[0], a[1]
        A0, A1 = float(a0.sum()), float(a1.sum())
        R0, R1 = T0 - A0, T1 - A1
        if min(A0, A1, R0, R1) <= 0:
            continue
        # z_c = a1/A1 − a0/A0 − (t1 − a1)/R1 + (t0 − a0)/R0 = v_c − u_c with u_c = t1/R1 − t0/R0
        u_sq = s11 / R1**2 - 2 * s01 / (R1 * R0) + s00 / R0**2
        b0, b1 = t0.reindex(a.index), t1.reindex(a.index)
        v = a1 * (1 / A1 + 1 / R1) - a0 * (1 / A0 + 1 / R0)
        u = b1 / R1 - b0 / R0
        z_sq = u_sq - 2 * float((u * v).sum()) + float((v**2).sum())
        out[(dim, value)] = max(z_sq, 0.0) * n / max(n - 1, 1)
    return out


def _history_problem(ctx: ReportContext) -> str | None:
    if not ctx.src.has("orders"):
        return t("market.no_orders")
    before, _, _ = windows(ctx)
    start = data_start(ctx.src)
    if start is None or start > before:
        return t("market.short_history", since=texts.day(before.date()))
    return None


def growth(ctx: ReportContext) -> pd.DataFrame:
    """:func:`relative_growth` on the context's data (empty, with ``attrs["note"]``, when the
    data holds less than two years before the period's end)."""
    problem = _history_problem(ctx)
    if problem:
        out = pd.DataFrame()
        out.attrs["note"] = problem
        return out
    table = monthly(ctx)
    whole = table[table["dimension"] == "all"]
    if whole.empty or not (whole["month"] < MONTHS).any() or not (whole["month"] >= MONTHS).any():
        out = pd.DataFrame()
        out.attrs["note"] = t("market.no_sales")
        return out
    return relative_growth(table, alpha=ctx.alpha, min_events=ctx.min_events,
                           cluster_var=_cluster_variances(table.attrs["clusters"]))


def relative_growth(table: pd.DataFrame, *, alpha: float = 0.05, min_events: int = 20,
                    cluster_var: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Each segment's growth against the rest's, from :func:`monthly`.

    The variance of a segment's log relative growth is the sum of two parts: the months'
    (Welch, on the monthly log ratios: shocks of the segment's own months) and the buyers'
    (``cluster_var``, from :func:`_cluster_variances`: which customers bought in each year).
    Months alone would call a segment that won a few big customers a trend.

    Returns ``dimension``, ``value``, ``revenue_before``, ``revenue_now``, ``growth``,
    ``rest_growth``, ``relative`` (growth over the rest's, as a ratio), ``relative_shrunk``,
    ``low`` and ``high`` (its interval at 1 − alpha), ``p_value``, ``q_value``, ``money``
    (revenue a year beyond growing like the rest), ``judged`` (enough months and orders) and
    ``opportunity`` (judged, q < alpha, growing, and its shrunk interval above 1).
    """
    whole = table[table["dimension"] == "all"].set_index("month")[["revenue", "orders"]].reindex(
        range(2 * MONTHS), fill_value=0)
    rows = []
    for (dim, value), g in table[table["dimension"] != "all"].groupby(["dimension", "value"], sort=False):
        g = g.set_index("month")[["revenue", "orders"]].reindex(range(2 * MONTHS), fill_value=0)
        rest = whole["revenue"] - g["revenue"]
        before, now = slice(0, MONTHS), slice(MONTHS, 2 * MONTHS)
        r0, r1 = float(g["revenue"].iloc[before].sum()), float(g["revenue"].iloc[now].sum())
        q0, q1 = float(rest.iloc[before].sum()), float(rest.iloc[now].sum())
        row: dict[str, Any] = {"dimension": dim, "value": value, "revenue_before": r0, "revenue_now": r1,
                               "growth": r1 / r0 - 1 if r0 > 0 else math.nan,
                               "rest_growth": q1 / q0 - 1 if q0 > 0 else math.nan}
        ok = (g["revenue"] > 0) & (rest > 0)
        months0, months1 = int(ok.iloc[before].sum()), int(ok.iloc[now].sum())
        judged = (months0 >= MIN_MONTHS and months1 >= MIN_MONTHS and r0 > 0 and q0 > 0 and q1 > 0
                  and g["orders"].iloc[before].sum() >= min_events and g["orders"].iloc[now].sum() >= min_events)
        row["judged"] = judged
        if judged:
            lo = np.log(g["revenue"][ok] / rest[ok])
            a, b = lo[lo.index < MONTHS].to_numpy(), lo[lo.index >= MONTHS].to_numpy()
            va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
            se = math.sqrt(_combine(va + vb, (cluster_var or {}).get((dim, value), 0.0)))
            df = ((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0
                  else float(len(a) + len(b) - 2))
            d = math.log((r1 / q1) / (r0 / q0))  # the ratio of the years' sums: what the manager reads
            row.update(_d=d, _se=se, _df=df,
                       p_value=float(2 * sps.t.sf(abs(d) / se, df)) if se > 0 else 1.0)
        rows.append(row)
    out = pd.DataFrame(rows)
    columns = ["dimension", "value", "revenue_before", "revenue_now", "growth", "rest_growth", "relative",
               "relative_shrunk", "low", "high", "p_value", "q_value", "money", "judged", "opportunity"]
    if out.empty:
        return pd.DataFrame(columns=columns)
    for c in ("_d", "_se", "_df", "p_value"):
        if c not in out:
            out[c] = math.nan
    out["relative"] = np.exp(out["_d"])
    shrunk = pd.concat([_shrink(g) for _, g in out.groupby("dimension", sort=False)])
    out = out.join(shrunk)
    tq = sps.t.ppf(1 - alpha / 2, out["_df"].fillna(1.0))
    out["relative_shrunk"] = np.exp(out["_ds"])
    out["low"], out["high"] = np.exp(out["_ds"] - tq * out["_ses"]), np.exp(out["_ds"] + tq * out["_ses"])
    judged = out["judged"].to_numpy(bool)
    q = np.full(len(out), math.nan)
    if judged.any():
        q[judged] = bh_qvalues(out.loc[judged, "p_value"].to_numpy())
    out["q_value"] = q
    out["money"] = out["revenue_before"] * (1 + out["rest_growth"]) * (out["relative_shrunk"] - 1)
    out["opportunity"] = out["judged"] & (out["q_value"] < alpha) & (out["low"] > 1) & (out["money"] > 0)
    result = out[columns].sort_values(["opportunity", "money"], ascending=[False, False]).reset_index(drop=True)
    # how each estimate was shrunk: the log relative growth, its standard error, the column's τ²
    result.attrs["shrinkage"] = out[["dimension", "value", "_d", "_se", "_tau2"]].rename(
        columns={"_d": "log_relative", "_se": "se", "_tau2": "tau2"})
    return result


def _shrink(g: pd.DataFrame) -> pd.DataFrame:
    """Shrink one column's log relative growths toward 0 (grows like the rest) with the
    DerSimonian–Laird between-segment variance; fewer than three judged segments: unshrunk."""
    d, se = g["_d"].to_numpy(float), g["_se"].to_numpy(float)
    ok = np.isfinite(d) & np.isfinite(se) & (se > 0)
    ds, ses = d.copy(), se.copy()
    if ok.sum() >= 3:
        w = 1 / se[ok] ** 2
        mean = float((w * d[ok]).sum() / w.sum())
        q = float((w * (d[ok] - mean) ** 2).sum())
        tau2 = max(0.0, (q - (ok.sum() - 1)) / (w.sum() - (w**2).sum() / w.sum()))
        keep = se[ok] ** 2 / (se[ok] ** 2 + tau2) if tau2 > 0 else np.ones(ok.sum())
        ds[ok] = (1 - keep) * d[ok]
        ses[ok] = np.sqrt((1 - keep) * se[ok] ** 2)
    else:
        tau2 = math.nan
    return pd.DataFrame({"_ds": ds, "_ses": ses, "_tau2": tau2}, index=g.index)


def new_products(ctx: ReportContext) -> pd.DataFrame:
    """Products first sold in the twelve months to the period's end, at least 180 days after
    the data starts: ``product``, ``launched`` (its first month), ``months`` on sale,
    ``buyers``, ``orders``, ``revenue``, ``last_3_months`` (revenue) and ``money`` (that at
    an annual rate). Sorted by revenue."""
    from salesnb.offers import purchases

    if not ctx.src.has("orders"):
        return pd.DataFrame()
    _, start, stop = windows(ctx)
    first_day = data_start(ctx.src)
    try:
        bought = purchases(ctx.src, until=stop)
    except ValueError:  # no products or no customers
        return pd.DataFrame()
    launch = bought.groupby("product")["first"].min()
    fresh = launch[(launch >= start) & (first_day is not None)
                   & (launch >= (first_day or stop) + pd.Timedelta(days=LAUNCH_AFTER_DAYS))]
    if fresh.empty:
        return pd.DataFrame()
    sales = _sales(ctx, fresh.min().normalize(), stop)
    sales = sales[sales["product"].isin(fresh.index)] if "product" in sales else sales.iloc[0:0]
    recent = stop - pd.DateOffset(months=3)
    rows = []
    for product, launched in fresh.items():
        s = sales[sales["product"] == product]
        last3 = float(s.loc[s["ordered_at"] >= max(recent, launched), "amount"].sum())
        months_on = max(1, round((stop - launched).days / 30.44))
        span = min(3.0, (stop - launched).days / 30.44)
        rows.append({"product": product, "launched": launched.strftime("%Y-%m"), "months": int(months_on),
                     "buyers": int(s["customer_id"].nunique()) if "customer_id" in s else 0,
                     "orders": int(s["order_id"].nunique()), "revenue": float(s["amount"].sum()),
                     "last_3_months": last3, "money": last3 * 12 / max(span, 1.0)})
    return pd.DataFrame(rows).sort_values("revenue", ascending=False).reset_index(drop=True)


def uptake(ctx: ReportContext, products: pd.DataFrame) -> pd.DataFrame:
    """Cumulative buyers of each new product by month since its launch (``product``,
    ``month`` from 0, ``buyers``), for the uptake chart."""
    from salesnb.offers import purchases

    if products.empty:
        return pd.DataFrame(columns=["product", "month", "buyers"])
    _, _, stop = windows(ctx)
    bought = purchases(ctx.src, until=stop)
    rows = []
    for product in products["product"]:
        first = bought.loc[bought["product"] == product, "first"]
        launched = first.min()
        months = ((first.dt.year - launched.year) * 12 + first.dt.month - launched.month).to_numpy()
        last = (stop.year - launched.year) * 12 + stop.month - launched.month - (stop.day == 1)
        counts = np.bincount(months, minlength=last + 1)[: last + 1]
        rows += [{"product": product, "month": m, "buyers": int(c)} for m, c in enumerate(np.cumsum(counts))]
    return pd.DataFrame(rows)


def white_space(ctx: ReportContext) -> pd.DataFrame:
    """Groups of customers (by ``segment``, ``region`` or acquisition channel) in which a
    product sells to a clearly larger share of the active customers than elsewhere, and the
    customers of the group who have not bought it yet.

    Active customers: a completed order in the twelve months to the period's end. Returns
    ``column``, ``group``, ``product``, ``customers`` (active in the group), ``buyers``,
    ``share`` with ``low``/``high`` (Wilson, 1 − alpha), ``share_elsewhere``, ``not_yet``
    (the group's customers who have not bought it), ``money`` (``not_yet`` × ``share`` × the
    group's buyers' revenue of the product in the year, per buyer), ``p_value``,
    ``q_value`` (Benjamini–Hochberg over every group × product) and ``opportunity``.
    """
    from salesnb.offers import purchases

    src = ctx.src
    if not src.has("customers") or not src.has("orders"):
        return pd.DataFrame()
    cols = [c for c in GROUP_COLUMNS if c in src.columns("customers")]
    if not cols:
        return pd.DataFrame()
    _, start, stop = windows(ctx)
    try:
        ever = purchases(src, until=stop)
        year = purchases(src, since=start, until=stop)
    except ValueError:
        return pd.DataFrame()
    active = pd.Index(year["customer_id"].unique())
    if active.empty:
        return pd.DataFrame()
    customers = collect(src.frame("customers").select("customer_id", *cols)).drop_duplicates("customer_id")
    customers = customers.set_index(customers["customer_id"].astype("str")).reindex(active)
    bought = ever[ever["customer_id"].isin(active)]
    buyer_sets = {p: pd.Index(g["customer_id"]) for p, g in bought.groupby("product")}
    revenue = _sales(ctx, start, stop)
    per_buyer = (revenue.groupby(["product", "customer_id"])["amount"].sum() if "product" in revenue
                 else pd.Series(dtype=float))
    z = float(sps.norm.ppf(1 - ctx.alpha / 2))
    rows = []
    for col in cols:
        groups = customers[col].astype("str")
        for group, members in groups.groupby(groups):
            if pd.isna(group):
                continue
            inside = pd.Index(members.index)
            n_in, n_out = len(inside), len(active) - len(inside)
            if n_in < ctx.min_events or n_out < ctx.min_events:
                continue
            for product, buyers in buyer_sets.items():
                k_in = int(inside.isin(buyers).sum())
                k_out = len(buyers) - k_in
                share, elsewhere = k_in / n_in, k_out / n_out
                pooled = (k_in + k_out) / (n_in + n_out)
                se = math.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
                p = float(2 * sps.norm.sf(abs(share - elsewhere) / se)) if se > 0 else 1.0
                lo, hi = _wilson(k_in, n_in, z)
                spend = per_buyer.get(product, pd.Series(dtype=float))
                spend = spend[spend.index.isin(inside)]
                mean_spend = float(spend.mean()) if len(spend) else 0.0
                rows.append({"column": GROUP_COLUMNS[col], "group": group, "product": product, "customers": n_in,
                             "buyers": k_in, "share": share, "low": lo, "high": hi, "share_elsewhere": elsewhere,
                             "not_yet": n_in - k_in, "money": (n_in - k_in) * share * mean_spend, "p_value": p})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy())
    out["opportunity"] = ((out["q_value"] < ctx.alpha) & (out["share"] > out["share_elsewhere"])
                          & (out["buyers"] >= ctx.min_events) & (out["not_yet"] > 0) & (out["money"] > 0))
    return out.sort_values(["opportunity", "money"], ascending=[False, False]).reset_index(drop=True)


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def opportunities(ctx: ReportContext, *, grown: pd.DataFrame | None = None, new: pd.DataFrame | None = None,
                  space: pd.DataFrame | None = None, limit: int = 10) -> pd.DataFrame:
    """The gated rows of :func:`growth`, :func:`new_products` (at least ``min_events``
    buyers) and :func:`white_space`, one sentence each, ranked by money: ``kind``, ``text``,
    ``money``, ``evidence``. The growth and white-space tests pass one more gate together
    (Benjamini–Hochberg over both at alpha). Empty is a valid answer: nothing passed."""
    grown = growth(ctx) if grown is None else grown
    new = new_products(ctx) if new is None else new
    space = white_space(ctx) if space is None else space
    cur = ctx.currency
    # one family for the page: the growth and white-space tests pass Benjamini–Hochberg
    # together, so that a steady market lists nothing in all but alpha of months
    grown, space = _joint_gate(grown, space, ctx.alpha)
    rows = []
    if len(grown):
        for r in grown[grown["opportunity"]].itertuples():
            rows.append({"kind": "growth", "money": r.money,
                         "text": t("market.growth", what=_what(r.dimension, r.value), growth=_pct(r.growth),
                                   rest=_pct(r.rest_growth), money=texts.money(r.money, cur)),
                         "evidence": t("market.evidence.growth", low=texts.number(r.low, 2),
                                       high=texts.number(r.high, 2), q=texts.number(r.q_value, 3))})
    if len(new):
        for r in new[new["buyers"] >= ctx.min_events].itertuples():
            rows.append({"kind": "new_product", "money": r.money,
                         "text": t("market.new", product=r.product, launched=r.launched, buyers=texts.number(r.buyers),
                                   money=texts.money(r.money, cur)),
                         "evidence": t("market.evidence.new", orders=texts.number(r.orders),
                                       revenue=texts.money(r.revenue, cur))})
    if len(space):
        for r in space[space["opportunity"]].itertuples():
            rows.append({"kind": "white_space", "money": r.money,
                         "text": t("market.space", product=r.product, group=r.group,
                                   column=t(f"market.column.{r.column}"), share=texts.percent(r.share),
                                   elsewhere=texts.percent(r.share_elsewhere), not_yet=texts.number(r.not_yet),
                                   money=texts.money(r.money, cur)),
                         "evidence": t("market.evidence.space", low=texts.percent(r.low), high=texts.percent(r.high),
                                       q=texts.number(r.q_value, 3))})
    out = pd.DataFrame(rows, columns=["kind", "text", "money", "evidence"])
    return out.sort_values("money", ascending=False).head(limit).reset_index(drop=True)


def dimension_label(name: str) -> str:
    """A dimension's or customer column's name for the page (``product`` → "product", "товар")."""
    return t(f"market.column.{name}")


def _joint_gate(grown: pd.DataFrame, space: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables with ``opportunity`` kept only where the joint q-value is below alpha."""
    judged = grown["judged"].to_numpy(bool) if len(grown) else np.zeros(0, bool)
    p = np.concatenate([grown.loc[judged, "p_value"].to_numpy(float) if len(grown) else np.zeros(0),
                        space["p_value"].to_numpy(float) if len(space) else np.zeros(0)])
    if not len(p):
        return grown, space
    q = bh_qvalues(p)
    if len(grown):
        joint = np.full(len(grown), math.nan)
        joint[judged] = q[: int(judged.sum())]
        grown = grown.assign(opportunity=grown["opportunity"] & (joint < alpha))
    if len(space):
        space = space.assign(opportunity=space["opportunity"] & (q[int(judged.sum()):] < alpha))
    return grown, space


def _what(dimension: str, value: str) -> str:
    return t(f"market.dimension.{dimension}", value=value)


def _pct(x: float) -> str:
    return ("+" if x > 0 else "") + texts.percent(x)
