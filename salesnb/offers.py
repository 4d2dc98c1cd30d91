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
from salesnb.texts import t

__all__ = ["next_offers", "holdout", "purchases", "by_rep", "ACTIVE_DAYS", "HOLDOUT_DAYS", "REGULAR_ORDERS",
           "WINDOW_DAYS", "RECENT_DAYS", "offers_or_note",
           "renamed_files"]

ACTIVE_DAYS = 180      # a customer who bought within this many days is active
WINDOW_DAYS = 90       # "what follows": the window after a cut-off in which purchases are predicted
RECENT_DAYS = 30       # "lately": the purchases before a cut-off that a follow-up is learnt from
HOLDOUT_DAYS = 90      # the hold-out: purchases after the cut-off
REGULAR_ORDERS = 3     # bought in this many orders or more: a regular purchase, never offered


def purchases(data: Data, *, since: Any = None, until: Any = None) -> pd.DataFrame:
    """Orders per customer and product (not cancelled) in ``[since, until)``, computed in
    the engine: ``customer_id``, ``product``, ``orders``, ``last`` (latest order)."""
    src = as_source(data)
    key = ("purchases", None if since is None else pd.Timestamp(since), None if until is None else pd.Timestamp(until))
    if key not in src.cache:
        src.cache[key] = _purchases(src, since, until)
    return src.cache[key].copy()


def _purchases(src: Any, since: Any, until: Any) -> pd.DataFrame:
    table = "order_lines" if src.has("order_lines") else "orders"
    if not src.has("orders") or "product" not in src.columns(table) or "customer_id" not in src.columns("orders"):
        raise ValueError(t("offers.needs_products"))
    # orders that hold their product themselves need no join with lines
    orders = src.frame("orders").select("order_id", "customer_id", "ordered_at", "status",
                                        *(["product"] if table == "orders" else []))
    where = (nw.col("status") != "cancelled") & ~nw.col("customer_id").is_null()
    if since is not None:
        where = where & (nw.col("ordered_at") >= pd.Timestamp(since))
    if until is not None:
        where = where & (nw.col("ordered_at") < pd.Timestamp(until))
    orders = orders.filter(where)
    lines = (src.frame("order_lines").select("order_id", "product").join(orders, on="order_id", how="inner")
             if table == "order_lines" else orders)
    per = (lines.filter(~nw.col("product").is_null())
           .group_by("customer_id", "product", "order_id").agg(nw.col("ordered_at").max())
           .group_by("customer_id", "product").agg(nw.len().alias("orders"), nw.col("ordered_at").max().alias("last")))
    df = collect(per)
    df["customer_id"] = df["customer_id"].astype("str")
    df["product"] = df["product"].astype("str")
    return df


def _matrix(rows: pd.DataFrame, customers: pd.Index, products: pd.Index, *, value: str | None = None) -> np.ndarray:
    """Customer × product: 1 where the customer bought the product among ``rows`` (or the
    ``value`` column, e.g. the number of orders)."""
    m = np.zeros((len(customers), len(products)))
    if len(rows):
        i = customers.get_indexer(rows["customer_id"])
        j = products.get_indexer(rows["product"])
        ok = (i >= 0) & (j >= 0)
        m[i[ok], j[ok]] = rows[value].to_numpy(float)[ok] if value else 1.0
    return m


class _Model:
    """What a customer buys next, learnt from the window before a cut-off: the chance that
    a customer buys ``b`` (not a regular purchase of theirs) in a window given how often
    they had bought it before (never, once, twice), times the lift that their purchases of
    the window before give ``b`` (bought ``a`` lately → ``b`` follows more often than usual:
    cross-selling). The most-popular baseline is each product's plain chance."""

    def __init__(self, src: Any, cut: pd.Timestamp):
        window = pd.Timedelta(days=WINDOW_DAYS)
        mid = cut - window
        history = purchases(src, until=mid)
        lately = purchases(src, since=mid - pd.Timedelta(days=RECENT_DAYS), until=mid)
        after = purchases(src, since=mid, until=cut)
        self.products = pd.Index(sorted(set(history["product"]) | set(after["product"])))
        people = pd.Index(sorted(set(history["customer_id"])))
        counts = _matrix(history, people, self.products, value="orders")
        x = _matrix(lately, people, self.products)
        y = _matrix(after, people, self.products)
        y[counts >= REGULAR_ORDERS] = 0.0  # only what they did not buy regularly
        # the chance of buying b next, by how often they had bought it (0, 1, 2 orders)
        self.by_count = np.vstack([(y * (counts == c)).sum(axis=0) / np.maximum((counts == c).sum(axis=0), 1.0)
                                   for c in range(REGULAR_ORDERS)])
        self.popular = y.mean(axis=0) if len(y) else np.zeros(len(self.products))
        # each b among the customers for whom it is not yet a regular purchase (it could be offered)
        open_to = (counts < REGULAR_ORDERS).astype(float)
        follow = (x.T @ (y * open_to)) / np.maximum(x.T @ open_to, 1.0)
        # against customers who bought anything lately: buying at all makes buying again likelier
        active = (x.sum(axis=1) > 0).astype(float)[:, None]
        usual = (y * open_to * active).sum(axis=0) / np.maximum((open_to * active).sum(axis=0), 1.0)
        self.lift = follow / np.where(usual > 0, usual, 1.0)[None, :]

    def offers(self, src: Any, cut: pd.Timestamp, customers: list[str], k: int, method: str) -> pd.DataFrame:
        cols = ["customer_id", "rank", "product", "score"]
        people = pd.Index(customers)
        if not len(people) or not len(self.products):
            return pd.DataFrame(columns=cols)
        counts = _matrix(purchases(src, until=cut), people, self.products, value="orders")
        if method == "popular":
            scores = np.broadcast_to(self.popular, counts.shape).copy()
        else:
            recent = _matrix(purchases(src, since=cut - pd.Timedelta(days=RECENT_DAYS), until=cut), people,
                             self.products)
            own = np.minimum(counts, REGULAR_ORDERS - 1).astype(int)
            scores = np.take_along_axis(self.by_count, own, axis=0) if len(own) else counts
            n_recent = recent.sum(axis=1, keepdims=True)
            lift = np.where(n_recent > 0, (recent @ self.lift) / np.maximum(n_recent, 1.0), 1.0)
            scores = scores * lift
        scores[counts >= REGULAR_ORDERS] = -np.inf  # what they buy regularly is never offered
        k = min(k, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, axis=1)
        keep = np.isfinite(top)
        out = pd.DataFrame({"customer_id": np.repeat(people.to_numpy(dtype=object), k).reshape(-1, k)[keep],
                            "rank": np.tile(np.arange(1, k + 1), (len(people), 1))[keep],
                            "product": np.asarray(self.products, dtype=object)[order][keep].astype(str),
                            "score": top[keep]})
        return out.sort_values(["customer_id", "rank"], kind="stable").reset_index(drop=True)[cols]


def _active(src: Any, cut: pd.Timestamp) -> list[str]:
    last = purchases(src, since=cut - pd.Timedelta(days=ACTIVE_DAYS), until=cut)
    return sorted(set(last["customer_id"]))


def _owners(data: Data) -> pd.Series:
    src = as_source(data)
    if "owner" not in src.columns("orders"):
        return pd.Series(dtype="str")
    latest = collect(src.frame("orders").select("customer_id", "ordered_at", "owner")
                     .filter(~nw.col("customer_id").is_null() & ~nw.col("owner").is_null())
                     .group_by("customer_id").agg(nw.col("owner").max()))
    return pd.Series(latest["owner"].astype("str").to_numpy(), index=latest["customer_id"].astype("str"))


def next_offers(data: Data, *, as_of: Any = None, k: int = 3, method: str = "follow-up") -> pd.DataFrame:
    """Up to ``k`` products to offer each customer active at ``as_of`` (bought within
    ``ACTIVE_DAYS``), from the purchases up to then.

    Returns ``customer_id``, ``rank``, ``product``, ``score`` (the chance, learnt from the
    two windows before, that a customer who bought one of this customer's latest products
    buys this one in the next ``WINDOW_DAYS``; ``method="popular"``: the plain chance) and
    ``owner`` (the customer's rep, when orders name one).
    """
    src = as_source(data)
    cut = (pd.Timestamp(as_of) if as_of is not None else data_end(src)) + pd.Timedelta(microseconds=1)
    out = _Model(src, cut).offers(src, cut, _active(src, cut), k, method)
    owners = _owners(src)
    out["owner"] = out["customer_id"].map(owners).fillna("(none)") if len(owners) else "(none)"
    return out[["customer_id", "rank", "product", "score", "owner"]]


def holdout(data: Data, *, as_of: Any = None, cutoff: Any = None, k: int = 3) -> pd.DataFrame:
    """Offers made at ``cutoff`` (default: ``HOLDOUT_DAYS`` before ``as_of``, itself the
    data's end by default) judged by the next ``HOLDOUT_DAYS`` of purchases, for the
    follow-up method and the most-popular baseline: ``method``, ``hit_rate`` (at ``k``),
    ``customers`` (judged), ``hits``.

    A customer is judged when they were active at the cut-off and bought, in the hold-out,
    a product they were not buying regularly before; a hit is one of those among their
    ``k`` offers.
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    cut = pd.Timestamp(cutoff) if cutoff is not None else (end - pd.Timedelta(days=HOLDOUT_DAYS)).normalize()
    before = purchases(src, until=cut)
    after = purchases(src, since=cut, until=cut + pd.Timedelta(days=HOLDOUT_DAYS))
    regular = set(map(tuple, before.loc[before["orders"] >= REGULAR_ORDERS, ["customer_id", "product"]].to_numpy()))
    new = after[[(c, p) not in regular for c, p in after[["customer_id", "product"]].to_numpy()]]
    wanted = new.groupby("customer_id")["product"].apply(set)
    judged = sorted(set(wanted.index) & set(_active(src, cut)))
    model = _Model(src, cut)
    rows = []
    for method in ("follow-up", "popular"):
        offers = model.offers(src, cut, judged, k, method).groupby("customer_id")["product"].apply(set)
        hits = sum(1 for c in judged if offers.get(c, set()) & wanted[c])
        rows.append({"method": t(f"offers.method.{method}"), "hit_rate": hits / len(judged) if judged else math.nan,
                     "customers": len(judged), "hits": hits})
    return pd.DataFrame(rows)


def by_rep(offers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The offers split per rep, each sorted by customer and rank, under a file-safe name
    (``offers/<rep>.csv``): letters, digits, ``_ . -``, starting with a letter or digit, at
    most 60 characters, unique even on a disk that ignores case (``Anna``, ``anna`` →
    ``Anna.csv``, ``anna_2.csv``). :func:`renamed_files` says which names had to change.

    >>> df = pd.DataFrame({"owner": ["Anna", "anna", "-x", "Ann\x01Ctrl"], "customer_id": ["c"] * 4, "rank": 1})
    >>> sorted(by_rep(df))
    ['offers/Ann_Ctrl.csv', 'offers/Anna.csv', 'offers/anna_2.csv', 'offers/x.csv']
    """
    groups = list(offers.groupby("owner", sort=True))
    names = rep_file_names(pd.Series([str(owner) for owner, _ in groups], dtype=object))
    return {names[str(owner)]: g.sort_values(["customer_id", "rank"]).reset_index(drop=True)
            for owner, g in groups}


MAX_REP_NAME = 60


def rep_file_names(owners: pd.Series) -> dict[str, str]:
    """Each rep's offers file, ``offers/<slug>.csv``: see :func:`by_rep`."""
    import re

    names: dict[str, str] = {}
    taken: set[str] = set()
    for owner in owners.astype(str):
        slug = re.sub(r"[^\w.-]+", "_", owner).strip("_.-")[:MAX_REP_NAME].strip("_.-") or "rep"
        candidate, n = slug, 2
        while candidate.casefold() in taken:
            candidate, n = f"{slug}_{n}", n + 1
        taken.add(candidate.casefold())
        names[owner] = f"offers/{candidate}.csv"
    return names


def renamed_files(offers: pd.DataFrame) -> list[tuple[str, str]]:
    """(rep, file) for the reps whose file name is not their name with unsafe characters
    replaced: shortened, or numbered to stay apart from another rep's."""
    import re

    out = []
    owners = sorted({str(o) for o in offers["owner"].dropna()})
    for owner, name in rep_file_names(pd.Series(owners, dtype=object)).items():
        plain = re.sub(r"[^\w.-]+", "_", owner).strip("_.-") or "rep"
        if name != f"offers/{plain}.csv":
            out.append((owner, name))
    return out


def offers_or_note(data: Data, *, as_of: Any = None, k: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """For a page: (the hold-out check, the offers, "") or two empty tables and the reason
    in one line when the data holds no customers' products."""
    try:
        return holdout(data, as_of=as_of, k=k), next_offers(data, as_of=as_of, k=k), ""
    except ValueError as exc:
        return pd.DataFrame(), pd.DataFrame(), str(exc)
