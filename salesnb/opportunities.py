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
import warnings

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

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


def _cluster_variances(clusters: pd.DataFrame) -> dict[tuple[str, str], float]:
    """The variance of each segment's log relative growth from its buyers (delta method,
    buyers as clusters): who bought, who came and who left is part of the noise.

    Per buyer c, with a = the segment's revenue and t = the buyer's total in each year,
    z_c = a1/A1 − a0/A0 − (t1 − a1)/R1 + (t0 − a0)/R0 = v_c − u_c, where
    v_c = a1(1/A1 + 1/R1) − a0(1/A0 + 1/R0) and u_c = t1/R1 − t0/R0; the variance is
    n/(n−1) Σ z_c². Every sum is a grouped sum, so thousands of segments cost one pass.
    """
    wide = clusters.pivot_table(index=["dimension", "value", "cluster"], columns="year", values="revenue",
                                aggfunc="sum", fill_value=0.0).reindex(columns=[0, 1], fill_value=0.0)
    wide.columns = ["a0", "a1"]
    wide = wide.reset_index()
    total = wide[wide["dimension"] == "all"].set_index("cluster")[["a0", "a1"]]
    t0, t1 = total["a0"], total["a1"]
    n = len(total)
    s00, s11, s01, T0, T1 = float((t0**2).sum()), float((t1**2).sum()), float((t0 * t1).sum()), t0.sum(), t1.sum()
    seg = wide[wide["dimension"] != "all"].copy()
    seg["t0"], seg["t1"] = seg["cluster"].map(t0).to_numpy(float), seg["cluster"].map(t1).to_numpy(float)
    for x, y in (("a0", "a0"), ("a1", "a1"), ("a0", "a1"), ("t0", "a0"), ("t0", "a1"), ("t1", "a0"), ("t1", "a1")):
        seg[f"{x}{y}"] = seg[x] * seg[y]
    g = seg.groupby(["dimension", "value"], sort=False)[
        ["a0", "a1", "a0a0", "a1a1", "a0a1", "t0a0", "t0a1", "t1a0", "t1a1"]].sum()
    A0, A1 = g["a0"].to_numpy(float), g["a1"].to_numpy(float)
    R0, R1 = T0 - A0, T1 - A1
    valid = (A0 > 0) & (A1 > 0) & (R0 > 0) & (R1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k0, k1 = 1 / A0 + 1 / R0, 1 / A1 + 1 / R1
        u_sq = s11 / R1**2 - 2 * s01 / (R1 * R0) + s00 / R0**2
        v_sq = g["a1a1"] * k1**2 - 2 * g["a0a1"] * k0 * k1 + g["a0a0"] * k0**2
        uv = (g["t1a1"] * k1 - g["t1a0"] * k0) / R1 - (g["t0a1"] * k1 - g["t0a0"] * k0) / R0
        z_sq = (u_sq - 2 * uv + v_sq).clip(lower=0.0) * n / max(n - 1, 1)
    return {key: float(v) for key, v, ok in zip(g.index, z_sq, valid, strict=True) if ok}


def _history_problem(ctx: ReportContext) -> str | None:
    if not ctx.src.has("orders"):
        return t("market.no_orders")
    before, _, _ = windows(ctx)
    start = data_start(ctx.src)
    if start is None or start.normalize() > before:
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

    The variance of a segment's log relative growth is the larger of two estimates: the
    months' (Welch, on the monthly log ratios: shocks of the segment's own months) and the
    buyers' (``cluster_var``, from :func:`_cluster_variances`: which customers bought in each
    year). Months alone would call a segment that won a few big customers a trend.

    Returns ``dimension``, ``value``, ``revenue_before``, ``revenue_now``, ``growth``,
    ``rest_growth``, ``relative`` (growth over the rest's, as a ratio), ``relative_shrunk``,
    ``low`` and ``high`` (its interval at 1 − alpha), ``p_value``, ``q_value``, ``money``
    (revenue a year beyond growing like the rest), ``judged`` (enough months and orders) and
    ``opportunity`` (judged, q < alpha, growing, and its shrunk interval above 1).
    """
    n = 2 * MONTHS
    whole = table[table["dimension"] == "all"].groupby("month")["revenue"].sum().reindex(range(n), fill_value=0.0)
    parts = table[table["dimension"] != "all"]
    # one row per segment, one column per month: every segment at once (thousands of products)
    rev = parts.pivot_table(index=["dimension", "value"], columns="month", values="revenue", aggfunc="sum",
                            fill_value=0.0, sort=False).reindex(columns=range(n), fill_value=0.0)
    cnt = parts.pivot_table(index=["dimension", "value"], columns="month", values="orders", aggfunc="sum",
                            fill_value=0, sort=False).reindex(index=rev.index, columns=range(n), fill_value=0)
    seg = rev.to_numpy(float)
    rest = whole.to_numpy(float)[None, :] - seg
    r0, r1 = seg[:, :MONTHS].sum(1), seg[:, MONTHS:].sum(1)
    q0, q1 = rest[:, :MONTHS].sum(1), rest[:, MONTHS:].sum(1)
    ok = (seg > 0) & (rest > 0)
    orders = cnt.to_numpy(float)
    judged = ((ok[:, :MONTHS].sum(1) >= MIN_MONTHS) & (ok[:, MONTHS:].sum(1) >= MIN_MONTHS) & (r0 > 0) & (q0 > 0)
              & (q1 > 0) & (orders[:, :MONTHS].sum(1) >= min_events) & (orders[:, MONTHS:].sum(1) >= min_events))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(ok, np.log(np.where(ok, seg, 1.0) / np.where(ok, rest, 1.0)), np.nan)
        na, nb = ok[:, :MONTHS].sum(1), ok[:, MONTHS:].sum(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a segment without two months: not judged anyway
            va = np.nanvar(log_ratio[:, :MONTHS], axis=1, ddof=1) / na
            vb = np.nanvar(log_ratio[:, MONTHS:], axis=1, ddof=1) / nb
        d = np.log((r1 / q1) / (r0 / q0))  # the ratio of the years' sums: what the manager reads
        welch_df = np.where(va + vb > 0, (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1)), na + nb - 2.0)
        growth_ = np.where(r0 > 0, r1 / r0 - 1, np.nan)
        rest_growth = np.where(q0 > 0, q1 / q0 - 1, np.nan)
    buyers = np.array([(cluster_var or {}).get(key, 0.0) for key in rev.index]) if cluster_var else np.zeros(len(rev))
    # the larger of the two: their sum counts the orders' own noise twice (on the steady-market
    # null it found a planted +30% product in 3% of trials against 22%, at like false-alarm
    # rates); the months alone miss who bought (47% of steady markets listed something)
    se = np.sqrt(np.maximum(np.nan_to_num(va + vb), buyers))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * sps.t.sf(np.abs(d) / se, welch_df), 1.0)
    out = pd.DataFrame({"dimension": rev.index.get_level_values(0), "value": rev.index.get_level_values(1),
                        "revenue_before": r0, "revenue_now": r1, "growth": growth_, "rest_growth": rest_growth,
                        "judged": judged, "_d": np.where(judged, d, np.nan), "_se": np.where(judged, se, np.nan),
                        "_df": np.where(judged, welch_df, np.nan), "p_value": np.where(judged, p, np.nan)})
    columns = ["dimension", "value", "revenue_before", "revenue_now", "growth", "rest_growth", "relative",
               "relative_shrunk", "low", "high", "p_value", "q_value", "money", "judged", "opportunity"]
    if out.empty:
        return pd.DataFrame(columns=columns)
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
        from statsmodels.stats.meta_analysis import combine_effects

        tau2 = float(combine_effects(d[ok], se[ok] ** 2, method_re="dl").tau2)
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
    # products bought by fewer than min_events active customers cannot reach the gate: not tested
    per_product = bought.groupby("product")["customer_id"].nunique()
    products = pd.Index(per_product[per_product >= ctx.min_events].index)
    if products.empty:
        return pd.DataFrame()
    row = active.get_indexer(bought["customer_id"])
    col = products.get_indexer(bought["product"])
    keep = col >= 0
    # customers × products: bought ever (0/1) and the year's revenue, as sparse matrices
    owned = sparse.csr_matrix((np.ones(int(keep.sum())), (row[keep], col[keep])), shape=(len(active), len(products)))
    owned.data[:] = 1.0
    sales = _sales(ctx, start, stop)
    if "product" in sales and "customer_id" in sales:
        spent = sales.groupby(["customer_id", "product"])["amount"].sum().reset_index()
        r_, c_ = active.get_indexer(spent["customer_id"].astype("str")), products.get_indexer(spent["product"])
        ok = (r_ >= 0) & (c_ >= 0)
        revenue = sparse.csr_matrix((spent["amount"].to_numpy(float)[ok], (r_[ok], c_[ok])),
                                    shape=(len(active), len(products)))
    else:
        revenue = sparse.csr_matrix((len(active), len(products)))
    totals = np.asarray(owned.sum(axis=0)).ravel()
    frames = []
    for col_name in cols:
        groups = customers[col_name].astype("str")
        codes, names = pd.factorize(groups)
        member = codes >= 0
        g = sparse.csr_matrix((np.ones(int(member.sum())), (codes[member], np.flatnonzero(member))),
                              shape=(len(names), len(active)))
        n_in = np.asarray(g.sum(axis=1)).ravel()
        usable = (n_in >= ctx.min_events) & (len(active) - n_in >= ctx.min_events)
        k_in = (g @ owned).toarray()[usable]
        spend = (g @ revenue.multiply(owned)).toarray()[usable]
        n_in = n_in[usable][:, None]
        n_out = len(active) - n_in
        k_out = totals[None, :] - k_in
        share, elsewhere = k_in / n_in, k_out / n_out
        pooled = (k_in + k_out) / (n_in + n_out)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
            p = np.where(se > 0, 2 * sps.norm.sf(np.abs(share - elsewhere) / se), 1.0)
            per_buyer = np.where(k_in > 0, spend / k_in, 0.0)
        lo, hi = proportion_confint(k_in, np.broadcast_to(n_in, k_in.shape), alpha=ctx.alpha, method="wilson")
        shape = k_in.shape
        frames.append(pd.DataFrame({
            "column": GROUP_COLUMNS[col_name], "group": np.repeat(np.asarray(names)[usable], shape[1]),
            "product": np.tile(products.to_numpy(), shape[0]), "customers": np.repeat(n_in.ravel(), shape[1]),
            "buyers": k_in.ravel().astype(int), "share": share.ravel(), "low": np.asarray(lo).ravel(),
            "high": np.asarray(hi).ravel(), "share_elsewhere": elsewhere.ravel(),
            "not_yet": (n_in - k_in).ravel().astype(int), "money": ((n_in - k_in) * share * per_buyer).ravel(),
            "p_value": p.ravel()}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if out.empty:
        return out
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy())
    out["opportunity"] = ((out["q_value"] < ctx.alpha) & (out["share"] > out["share_elsewhere"])
                          & (out["buyers"] >= ctx.min_events) & (out["not_yet"] > 0) & (out["money"] > 0))
    return out.sort_values(["opportunity", "money"], ascending=[False, False]).reset_index(drop=True)


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
