"""Next offers: the products each active customer is most likely to buy next.

From ``order_lines`` (with their orders' customers and dates), an **item-item similarity**
on who buys what: a product scores for a customer by how alike its buyers are to the buyers
of the customer's own products (cosine similarity of the product columns of the
customer × product matrix). Products the customer already buys regularly (in
``REGULAR_ORDERS`` or more orders) are never offered. The method is checked on a time
hold-out against the most-popular baseline: offers made from what was known at a cut-off,
judged by the purchases of the following ``HOLDOUT_DAYS`` (hit rate at ``k``: the share of
customers who bought one of their offers, among those who bought anything they were not
buying regularly).

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> data = salesnb.SalesData(generate(scale=0.05)[0])
>>> offers = next_offers(data, k=3)
>>> list(offers.columns), int(offers["rank"].max())
(['customer_id', 'rank', 'product', 'score', 'owner'], 3)
"""

from __future__ import annotations

import math
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from salesnb.aggregate import collect, data_end
from salesnb.comparisons import Data
from salesnb.engines import as_source

__all__ = ["next_offers", "holdout", "purchases", "by_rep", "ACTIVE_DAYS", "HOLDOUT_DAYS", "REGULAR_ORDERS"]

ACTIVE_DAYS = 180      # a customer who bought within this many days is active
HOLDOUT_DAYS = 90      # the hold-out: purchases after the cut-off
REGULAR_ORDERS = 3     # bought in this many orders or more: a regular purchase, never offered


def purchases(data: Data, *, since: Any = None, until: Any = None) -> pd.DataFrame:
    """Orders per customer and product (not cancelled) in ``[since, until)``, computed in
    the engine: ``customer_id``, ``product``, ``orders``, ``last`` (latest order)."""
    src = as_source(data)
    table = "order_lines" if src.has("order_lines") else "orders"
    if not src.has("orders") or "product" not in src.columns(table) or "customer_id" not in src.columns("orders"):
        raise ValueError("next offers need orders with customers and products (order_lines or orders.product)")
    orders = src.frame("orders").select("order_id", "customer_id", "ordered_at", "status")
    where = (nw.col("status") != "cancelled") & ~nw.col("customer_id").is_null()
    if since is not None:
        where = where & (nw.col("ordered_at") >= pd.Timestamp(since))
    if until is not None:
        where = where & (nw.col("ordered_at") < pd.Timestamp(until))
    orders = orders.filter(where)
    if table == "order_lines":
        lines = src.frame("order_lines").select("order_id", "product").join(orders, on="order_id", how="inner")
    else:
        lines = src.frame("orders").select("order_id", "product").join(orders, on="order_id", how="inner")
    per = (lines.filter(~nw.col("product").is_null())
           .group_by("customer_id", "product", "order_id").agg(nw.col("ordered_at").max())
           .group_by("customer_id", "product").agg(nw.len().alias("orders"), nw.col("ordered_at").max().alias("last")))
    df = collect(per)
    df["customer_id"] = df["customer_id"].astype("str")
    df["product"] = df["product"].astype("str")
    return df


def _similarity(matrix: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity of the product columns of a customer × product 0/1 matrix."""
    x = matrix.to_numpy(float)
    norms = np.sqrt((x * x).sum(axis=0))
    sim = (x.T @ x) / np.where(np.outer(norms, norms) > 0, np.outer(norms, norms), 1.0)
    np.fill_diagonal(sim, 0.0)
    return pd.DataFrame(sim, index=matrix.columns, columns=matrix.columns)


def _offers(history: pd.DataFrame, customers: list[str], k: int, method: str) -> pd.DataFrame:
    """The top ``k`` products per customer, never one they buy regularly (matrix algebra
    over the customer × product table: no loop over customers)."""
    bought = history.pivot_table(index="customer_id", columns="product", values="orders", aggfunc="sum",
                                 fill_value=0)
    bought = bought.loc[[c for c in customers if c in bought.index]]
    cols = ["customer_id", "rank", "product", "score"]
    if bought.empty:
        return pd.DataFrame(columns=cols)
    x = bought.to_numpy(float)
    has = (x > 0).astype(float)
    if method == "popular":
        everyone = history.pivot_table(index="customer_id", columns="product", values="orders", aggfunc="sum",
                                       fill_value=0).reindex(columns=bought.columns, fill_value=0)
        scores = np.broadcast_to((everyone.to_numpy() > 0).mean(axis=0), x.shape).copy()
    else:
        scores = has @ _similarity(pd.DataFrame(has, columns=bought.columns)).to_numpy() / np.maximum(
            has.sum(axis=1, keepdims=True), 1.0)
    scores[x >= REGULAR_ORDERS] = -np.inf  # what they buy regularly is never offered
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, order, axis=1)
    products = np.asarray(bought.columns, dtype=object)[order]
    keep = np.isfinite(top)
    out = pd.DataFrame({"customer_id": np.repeat(bought.index.to_numpy(dtype=object), k).reshape(-1, k)[keep],
                        "rank": np.tile(np.arange(1, k + 1), (len(bought), 1))[keep],
                        "product": products[keep].astype(str), "score": top[keep]})
    return out.sort_values(["customer_id", "rank"], kind="stable").reset_index(drop=True)[cols]


def _owners(data: Data) -> pd.Series:
    src = as_source(data)
    if "owner" not in src.columns("orders"):
        return pd.Series(dtype="str")
    latest = collect(src.frame("orders").select("customer_id", "ordered_at", "owner")
                     .filter(~nw.col("customer_id").is_null() & ~nw.col("owner").is_null())
                     .group_by("customer_id").agg(nw.col("owner").max()))
    return pd.Series(latest["owner"].astype("str").to_numpy(), index=latest["customer_id"].astype("str"))


def next_offers(data: Data, *, as_of: Any = None, k: int = 3, method: str = "similar") -> pd.DataFrame:
    """Up to ``k`` products to offer each customer active at ``as_of`` (bought within
    ``ACTIVE_DAYS``), from the purchases up to then.

    Returns ``customer_id``, ``rank``, ``product``, ``score`` (similarity of the product's
    buyers to the customer's products; ``method="popular"``: the share of customers
    buying it) and ``owner`` (the customer's rep, when orders name one).
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    history = purchases(src, until=end + pd.Timedelta(microseconds=1))
    active = history.groupby("customer_id")["last"].max()
    active = sorted(active[pd.to_datetime(active) >= end - pd.Timedelta(days=ACTIVE_DAYS)].index)
    out = _offers(history, active, k, method)
    owners = _owners(src)
    out["owner"] = out["customer_id"].map(owners).fillna("(none)") if len(owners) else "(none)"
    return out


def holdout(data: Data, *, as_of: Any = None, cutoff: Any = None, k: int = 3) -> pd.DataFrame:
    """Offers made at ``cutoff`` (default: ``HOLDOUT_DAYS`` before ``as_of``, itself the
    data's end by default) judged by the next ``HOLDOUT_DAYS`` of purchases, for the
    similarity method and the most-popular baseline: ``method``, ``hit_rate`` (at ``k``),
    ``customers`` (judged), ``hits``.

    A customer is judged when they bought, in the hold-out, a product they were not buying
    regularly before the cut-off; a hit is one of those among their ``k`` offers.
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    cut = pd.Timestamp(cutoff) if cutoff is not None else (end - pd.Timedelta(days=HOLDOUT_DAYS)).normalize()
    before = purchases(src, until=cut)
    after = purchases(src, since=cut, until=cut + pd.Timedelta(days=HOLDOUT_DAYS))
    regular = set(map(tuple, before.loc[before["orders"] >= REGULAR_ORDERS, ["customer_id", "product"]].to_numpy()))
    new = after[[(c, p) not in regular for c, p in after[["customer_id", "product"]].to_numpy()]]
    wanted = new.groupby("customer_id")["product"].apply(set)
    active = before.groupby("customer_id")["last"].max()
    active = set(active[pd.to_datetime(active) >= cut - pd.Timedelta(days=ACTIVE_DAYS)].index)
    judged = sorted(set(wanted.index) & active)
    rows = []
    for method in ("similar", "popular"):
        offers = _offers(before, judged, k, method).groupby("customer_id")["product"].apply(set)
        hits = sum(1 for c in judged if offers.get(c, set()) & wanted[c])
        rows.append({"method": method, "hit_rate": hits / len(judged) if judged else math.nan,
                     "customers": len(judged), "hits": hits})
    return pd.DataFrame(rows)


def by_rep(offers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The offers split per rep, each sorted by customer and rank, under a file-safe name
    (``offers/<rep>.csv``)."""
    import re

    out: dict[str, pd.DataFrame] = {}
    for owner, g in offers.groupby("owner", sort=True):
        slug = re.sub(r"[^\w.-]+", "_", str(owner)).strip("_.") or "rep"
        name = f"offers/{slug}.csv"
        while name in out:  # two names that differ only in letters a file name cannot hold
            name = name.replace(".csv", "_.csv")
        out[name] = g.sort_values(["customer_id", "rank"]).reset_index(drop=True)
    return out
