"""Next offers, two lists per active customer, each judged on a time hold-out against its
own strong baseline.

- **New to them** (cross-sell): products the customer has never bought, ranked by
  item-to-item association with what they buy — each product keeps its
  :data:`NEIGHBOURS` most associated products (cosine or lift of the customer × product
  purchase matrix, chosen on a validation cut-off before the hold-out's), and a candidate
  scores the sum of its associations with the customer's products; too few associations
  are filled with the most popular products they have not bought. Baseline: the most
  popular products the customer has not bought.
- **Due again** (reorder): products the customer bought in :data:`DUE_MIN_ORDERS` or
  more orders whose usual interval (first to last order over the orders between) has
  passed, or will within ``HOLDOUT_DAYS``; ranked by the chance that such a product is
  bought within ``HOLDOUT_DAYS``, by how often it was bought and how overdue it is, learnt
  from what followed a cut-off ``HOLDOUT_DAYS`` earlier. Baseline: the customer's own
  most-bought products.

Everything is sparse (SciPy): the customer × product matrix holds the pairs bought, and
the association matrix ``NEIGHBOURS`` entries a product, so thousands of products and tens
of thousands of customers fit in about the memory of the order lines. :func:`holdout`
makes the offers from what was known at a cut-off and judges them by the purchases of the
next ``HOLDOUT_DAYS`` (hit rate at ``k``).

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> data = salesnb.SalesData(generate(scale=0.05)[0])
>>> offers = next_offers(data, k=3, kind="due")
>>> list(offers.columns), int(offers["rank"].max())
(['customer_id', 'rank', 'product', 'score', 'owner'], 3)
"""

from __future__ import annotations

import math
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import sparse

from salesnb.aggregate import collect, data_end
from salesnb.comparisons import Data
from salesnb.engines import as_source
from salesnb.texts import t

__all__ = ["next_offers", "holdout", "purchases", "by_rep", "ACTIVE_DAYS", "HOLDOUT_DAYS", "DUE_MIN_ORDERS",
           "NEIGHBOURS", "KINDS", "offers_or_note", "renamed_files", "association"]

ACTIVE_DAYS = 180      # a customer who bought within this many days is active
HOLDOUT_DAYS = 90      # the hold-out: purchases after the cut-off; also the "due" horizon
POPULAR_DAYS = 90      # popularity: distinct buyers in this many days before the cut-off
NEIGHBOURS = 50        # associated products kept per product
MIN_TOGETHER = 2       # customers who must have bought both for an association to count
DUE_MIN_ORDERS = 2     # bought in this many orders or more: it has a usual interval
MIN_JUDGED = 30        # customers a validation needs to choose between similarities
KINDS = ("new", "due")
_NONE = pd.DataFrame(columns=["customer_id", "product"])


def purchases(data: Data, *, since: Any = None, until: Any = None) -> pd.DataFrame:
    """Orders per customer and product (not cancelled) in ``[since, until)``, computed in
    the engine: ``customer_id``, ``product``, ``orders``, ``first`` and ``last`` (its first
    and latest order)."""
    src = as_source(data)
    key = ("purchases", None if since is None else pd.Timestamp(since), None if until is None else pd.Timestamp(until))
    if key not in src.cache:
        src.cache[key] = _purchases(src, since, until)
    return src.cache[key].copy()


def _per_order(src: Any, since: Any, until: Any) -> Any:
    """Each (customer, product, order) bought in ``[since, until)``, with the order's time."""
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
    return (lines.filter(~nw.col("product").is_null())
            .group_by("customer_id", "product", "order_id").agg(nw.col("ordered_at").max()))


def _purchases(src: Any, since: Any, until: Any) -> pd.DataFrame:
    if src.engine == "pandas":
        # the rows are in memory already: every order's products once (a join of all lines),
        # each window then a filter of them, instead of a join per window (a page asks ~11)
        if "offers-per-order" not in src.cache:
            src.cache["offers-per-order"] = _per_order(src, None, None)
        per_order = src.cache["offers-per-order"]
        if since is not None:
            per_order = per_order.filter(nw.col("ordered_at") >= pd.Timestamp(since))
        if until is not None:
            per_order = per_order.filter(nw.col("ordered_at") < pd.Timestamp(until))
    else:
        per_order = _per_order(src, since, until)
    per = per_order.group_by("customer_id", "product").agg(nw.len().alias("orders"),
                                                         nw.col("ordered_at").min().alias("first"),
                                                         nw.col("ordered_at").max().alias("last"))
    df = collect(per)
    if df.empty:
        df = pd.DataFrame({"customer_id": pd.Series(dtype="str"), "product": pd.Series(dtype="str"),
                           "orders": pd.Series(dtype="int64"), "first": pd.Series(dtype="datetime64[us]"),
                           "last": pd.Series(dtype="datetime64[us]")})
    df["customer_id"] = df["customer_id"].astype("str")
    df["product"] = df["product"].astype("str")
    df["first"], df["last"] = pd.to_datetime(df["first"]), pd.to_datetime(df["last"])
    return df


class _Basket:
    """What every customer had bought before a cut-off, as a sparse customer × product matrix."""

    def __init__(self, src: Any, cut: pd.Timestamp):
        self.cut = cut
        self.rows = purchases(src, until=cut)
        # (unique and sorted in the engine's arrays: iterating Arrow strings in Python is slow)
        self.customers = pd.Index(self.rows["customer_id"].unique()).sort_values()
        self.products = pd.Index(self.rows["product"].unique()).sort_values()
        i = self.customers.get_indexer(self.rows["customer_id"])
        j = self.products.get_indexer(self.rows["product"])
        self.bought = sparse.csr_matrix((np.ones(len(i), np.float32), (i, j)),
                                        shape=(len(self.customers), len(self.products)))
        recent = self.rows[self.rows["last"] >= cut - pd.Timedelta(days=POPULAR_DAYS)]
        counts = recent["product"].value_counts() if len(recent) else self.rows["product"].value_counts()
        self.popularity = counts.reindex(self.products, fill_value=0).to_numpy(float)
        self.by_popularity = np.argsort(-self.popularity, kind="stable")


def _basket(src: Any, cut: pd.Timestamp) -> _Basket:
    """The basket at ``cut``, made once per source: the lists and their hold-out checks ask
    for the same cut-offs several times (seven baskets, four of them different)."""
    key = ("offers-basket", cut)
    if key not in src.cache:
        src.cache[key] = _Basket(src, cut)
    return src.cache[key]  # type: ignore[no-any-return]


def association(bought: sparse.csr_matrix, how: str = "cosine", *, neighbours: int = NEIGHBOURS,
                block: int = 256) -> sparse.csr_matrix:
    """Product × product associations from a customer × product purchase matrix, each
    product's ``neighbours`` strongest kept: ``cosine`` (customers who bought both over the
    geometric mean of each's buyers) or ``lift`` (both over what chance would give). Pairs
    bought together by fewer than :data:`MIN_TOGETHER` customers count as none. Computed in
    blocks of products, so memory stays at ``block`` × products.

    >>> b = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]], float))
    >>> association(b).toarray().round(3)
    array([[0.   , 0.667, 0.   ],
           [0.667, 0.   , 0.   ],
           [0.   , 0.   , 0.   ]])
    """
    b = sparse.csr_matrix(bought, dtype=np.float32)
    b.data[:] = 1.0
    n_customers, n_products = b.shape
    buyers = np.asarray(b.sum(axis=0)).ravel().astype(np.float64)
    bt = b.T.tocsr()
    rows, cols, vals = [], [], []
    for lo in range(0, n_products, block):
        hi = min(lo + block, n_products)
        together = (bt[lo:hi] @ b).toarray().astype(np.float64)
        together[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
        together[together < MIN_TOGETHER] = 0.0
        norm = np.outer(buyers[lo:hi], buyers)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = together / np.sqrt(norm) if how == "cosine" else together * n_customers / norm
        sim = np.nan_to_num(sim, nan=0.0, posinf=0.0)
        keep = min(neighbours, n_products)
        top = np.argpartition(-sim, keep - 1, axis=1)[:, :keep] if keep < n_products else np.tile(
            np.arange(n_products), (hi - lo, 1))
        values = np.take_along_axis(sim, top, axis=1)
        ok = values > 0
        rows.append(np.repeat(np.arange(lo, hi), keep).reshape(-1, keep)[ok])
        cols.append(top[ok])
        vals.append(values[ok])
    r, c, v = (np.concatenate(x) if x else np.array([]) for x in (rows, cols, vals))
    return sparse.csr_matrix((v, (r.astype(int), c.astype(int))), shape=(n_products, n_products))


def _top(scores: sparse.csr_matrix, exclude: sparse.csr_matrix, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each row's ``k`` best columns (and scores) among its stored entries, ``exclude``'s left out."""
    scores, exclude = scores.tocsr(), exclude.tocsr()
    out = []
    for r in range(scores.shape[0]):
        a, b = scores.indptr[r], scores.indptr[r + 1]
        cols, vals = scores.indices[a:b], scores.data[a:b]
        mine = exclude.indices[exclude.indptr[r]:exclude.indptr[r + 1]]
        ok = (vals > 0) & ~np.isin(cols, mine)
        cols, vals = cols[ok], vals[ok]
        if len(cols) > k:
            pick = np.argpartition(-vals, k - 1)[:k]
            cols, vals = cols[pick], vals[pick]
        order = np.lexsort((cols, -vals))
        out.append((cols[order], vals[order]))
    return out


def _frame(customers: list[str], products: pd.Index, picks: list[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """The picks as rows: each customer's products by rank (arrays, not a row at a time)."""
    sizes = np.array([len(js) for js, _ in picks], dtype=np.int64)
    if not sizes.sum():
        return pd.DataFrame([], columns=["customer_id", "rank", "product", "score"])
    cols = np.concatenate([np.asarray(js, dtype=np.int64) for js, _ in picks])
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return pd.DataFrame({"customer_id": pd.Series(customers, dtype="str").repeat(sizes).to_numpy(),
                         "rank": np.arange(len(cols), dtype=np.int64) - starts + 1,
                         "product": products.take(cols).to_numpy(),
                         "score": np.concatenate([np.asarray(vs, dtype=float) for _, vs in picks])})


def _new_to_them(basket: _Basket, customers: list[str], k: int, method: str,
                 similarity: sparse.csr_matrix | None = None) -> pd.DataFrame:
    """Products each customer never bought: by association (``method`` cosine or lift),
    filled with the most popular; or the most popular alone (``popular``)."""
    idx = basket.customers.get_indexer(customers)
    known = [c for c, i in zip(customers, idx, strict=True) if i >= 0]
    idx = idx[idx >= 0]
    mine = basket.bought[idx]
    picks: list[tuple[np.ndarray, np.ndarray]] = [(np.array([], int), np.array([]))] * len(idx)
    if method != "popular" and len(idx):
        sim = similarity if similarity is not None else association(basket.bought, method)
        picks = _top(mine @ sim, mine, k)
    # fill (or, for the baseline, make) the list from the most popular not yet bought,
    # scored below any association
    floor = min((float(v.min()) for _, v in picks if len(v)), default=1.0)
    filled = []
    for r, (cols, vals) in enumerate(picks):
        if len(cols) < k:
            taken = set(mine.indices[mine.indptr[r]:mine.indptr[r + 1]]) | set(cols)
            extra = [j for j in basket.by_popularity[:k + len(taken)] if j not in taken][:k - len(cols)]
            scale = floor * 0.5 if method != "popular" else 1.0
            pops = basket.popularity[extra] / max(basket.popularity.max(), 1.0) * scale
            cols, vals = np.concatenate([cols, extra]).astype(int), np.concatenate([vals, pops])
        filled.append((cols, vals))
    return _frame(known, basket.products, filled)


_ORDER_EDGES = np.array([3, 4, 5, 6, 8, 11, 16, 26, 41])
_RATIO_EDGES = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
_PRIOR = 10.0  # pseudo-customers pulling a sparse cell of the table towards its row


def _due_rows(rows: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """The repeat purchases (``DUE_MIN_ORDERS`` or more orders) whose usual interval has
    passed by ``cut`` or will within ``HOLDOUT_DAYS``, with their ``orders`` and overdue
    ``ratio`` buckets (days since the last order over the usual interval)."""
    rows = rows[rows["orders"] >= DUE_MIN_ORDERS].copy()
    day = pd.Timedelta(days=1)
    interval = ((rows["last"] - rows["first"]) / day / (rows["orders"] - 1)).clip(lower=1.0)
    elapsed = (cut - rows["last"]) / day
    rows = rows[elapsed + HOLDOUT_DAYS >= interval].copy()
    rows["ratio"] = (elapsed / interval).loc[rows.index]
    rows["o_bucket"] = np.digitize(rows["orders"].to_numpy(float), _ORDER_EDGES)
    rows["r_bucket"] = np.digitize(rows["ratio"].to_numpy(float), _RATIO_EDGES)
    return rows


def _due_table(src: Any, cut: pd.Timestamp) -> tuple[pd.Series, pd.Series, float]:
    """The chance that a due repeat purchase is bought within ``HOLDOUT_DAYS``, by orders and
    overdue buckets, learnt at a cut-off ``HOLDOUT_DAYS`` earlier from what followed it (so
    a hold-out judges a table that never saw its own window)."""
    key = ("offers-due-table", cut)
    if key not in src.cache:
        earlier = cut - pd.Timedelta(days=HOLDOUT_DAYS)
        rows = _due_rows(purchases(src, until=earlier), earlier)
        rows = rows[rows["customer_id"].isin(set(_active(src, earlier)))]
        after = purchases(src, since=earlier, until=cut)
        bought = set(zip(after["customer_id"], after["product"], strict=True))
        rows["y"] = [pair in bought for pair in zip(rows["customer_id"], rows["product"], strict=True)]
        overall = float(rows["y"].mean()) if len(rows) else 0.0
        by_orders = rows.groupby("o_bucket")["y"].agg(["sum", "size"])
        row_rate = (by_orders["sum"] + _PRIOR * overall) / (by_orders["size"] + _PRIOR)
        cells = rows.groupby(["o_bucket", "r_bucket"])["y"].agg(["sum", "size"])
        prior = row_rate.reindex(cells.index.get_level_values(0)).to_numpy()
        table = (cells["sum"] + _PRIOR * prior) / (cells["size"] + _PRIOR)
        src.cache[key] = (table, row_rate, overall)
    return src.cache[key]


def _due_again(src: Any, basket: _Basket, customers: list[str], k: int, method: str) -> pd.DataFrame:
    """Products each customer buys repeatedly: those due again, ranked by the chance of
    buying them within ``HOLDOUT_DAYS`` (:func:`_due_table`; ``due``), or simply their
    most-bought ones (``own``, the baseline)."""
    rows = basket.rows[basket.rows["customer_id"].isin(set(customers))].copy()
    if method == "own":
        rows["score"] = rows["orders"].astype(float)
        rows = rows.sort_values(["customer_id", "orders", "last", "product"], ascending=[True, False, False, True])
    else:
        due = _due_rows(rows, basket.cut)
        table, row_rate, overall = _due_table(src, basket.cut)
        cell = pd.MultiIndex.from_arrays([due["o_bucket"], due["r_bucket"]])
        score = table.reindex(cell).to_numpy()
        fallback = row_rate.reindex(due["o_bucket"]).fillna(overall).to_numpy()
        due["score"] = np.where(np.isnan(score), fallback, score)
        # a customer with fewer than k products due: their other purchases follow, most
        # bought first, scored below any due one (a reminder list is never shorter than it can be)
        rest = rows.drop(index=due.index)
        rest = rest.assign(score=rest["orders"] / (rest["orders"].max() + 1.0) - 1.0)
        rows = pd.concat([due, rest]).sort_values(["customer_id", "score", "orders", "product"],
                                                  ascending=[True, False, False, True])
    rows = rows.groupby("customer_id", sort=False).head(k)
    rows["rank"] = rows.groupby("customer_id", sort=False).cumcount() + 1
    return rows[["customer_id", "rank", "product", "score"]].reset_index(drop=True)


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


def _similarity_for(src: Any, cut: pd.Timestamp, k: int) -> str:
    """Cosine or lift, whichever found more of the new products bought after a validation
    cut-off ``HOLDOUT_DAYS`` before ``cut`` (cosine when too few customers to tell)."""
    key = ("offers-similarity", cut, k)
    if key not in src.cache:
        rates = {how: _judge_new(src, cut - pd.Timedelta(days=HOLDOUT_DAYS), k, how) for how in ("cosine", "lift")}
        enough = all(r[1] >= MIN_JUDGED for r in rates.values())
        src.cache[key] = max(rates, key=lambda h: (rates[h][0], h == "cosine")) if enough else "cosine"
    return str(src.cache[key])


def _wanted(src: Any, basket: _Basket, cut: pd.Timestamp, *, new_only: bool) -> pd.DataFrame:
    """The (customer, product) pairs bought in the ``HOLDOUT_DAYS`` after ``cut`` (only the
    products new to the customer with ``new_only``), once each (as :func:`purchases` gives them)."""
    pairs = ["customer_id", "product"]
    after = purchases(src, since=cut, until=cut + pd.Timedelta(days=HOLDOUT_DAYS))[pairs]
    if new_only:
        after = after[~pd.MultiIndex.from_frame(after).isin(pd.MultiIndex.from_frame(basket.rows[pairs]))]
    return after


def _hits(offers: pd.DataFrame, wanted: pd.DataFrame, judged: list[str]) -> int:
    """How many of the ``judged`` customers bought at least one product offered to them."""
    if not len(offers) or not judged:
        return 0
    pairs = ["customer_id", "product"]
    hit = offers.loc[pd.MultiIndex.from_frame(offers[pairs]).isin(pd.MultiIndex.from_frame(wanted[pairs])),
                     "customer_id"]
    return int(hit[hit.isin(judged)].nunique())


def _judge_new(src: Any, cut: pd.Timestamp, k: int, method: str) -> tuple[float, int]:
    basket = _basket(src, cut)
    wanted = _wanted(src, basket, cut, new_only=True)
    judged = sorted(set(wanted["customer_id"]) & set(_active(src, cut)))
    if not judged:
        return math.nan, 0
    hits = _hits(_new_to_them(basket, judged, k, method), wanted, judged)
    return hits / len(judged), len(judged)


def next_offers(data: Data, *, as_of: Any = None, k: int = 3, kind: str = "new") -> pd.DataFrame:
    """Up to ``k`` products to offer each customer active at ``as_of`` (bought within
    ``ACTIVE_DAYS``), from the purchases up to then: ``kind="new"`` products new to them,
    ``kind="due"`` products they buy repeatedly that are due again.

    Returns ``customer_id``, ``rank``, ``product``, ``score`` (new: the summed association
    with their products, popular fillers below any association; due: the chance, learnt
    from an earlier window, of buying it within ``HOLDOUT_DAYS``) and ``owner`` (the customer's rep,
    when orders name one).
    """
    if kind not in KINDS:
        raise ValueError(f"next_offers: kind is one of {', '.join(KINDS)}, not {kind!r}")
    src = as_source(data)
    cut = (pd.Timestamp(as_of) if as_of is not None else data_end(src)) + pd.Timedelta(microseconds=1)
    basket, active = _basket(src, cut), _active(src, cut)
    if kind == "new":
        out = _new_to_them(basket, active, k, _similarity_for(src, cut, k))
    else:
        out = _due_again(src, basket, active, k, "due")
    owners = _owners(src)
    out["owner"] = out["customer_id"].map(owners).fillna("(none)") if len(owners) else "(none)"
    return out[["customer_id", "rank", "product", "score", "owner"]]


def holdout(data: Data, *, as_of: Any = None, cutoff: Any = None, k: int = 3) -> pd.DataFrame:
    """Both lists made at ``cutoff`` (default: ``HOLDOUT_DAYS`` before ``as_of``, itself the
    data's end by default), each with its baseline, judged by the next ``HOLDOUT_DAYS`` of
    purchases: ``list`` (new, due), ``method``, ``hit_rate`` (at ``k``), ``customers``
    (judged), ``hits``. A cut-off with no purchases after it judges no one (rates empty).

    *New to them* judges the customers active at the cut-off who then bought a product new
    to them; *due again* those active who then bought anything.
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    cut = pd.Timestamp(cutoff) if cutoff is not None else (end - pd.Timedelta(days=HOLDOUT_DAYS)).normalize()
    basket, active = _basket(src, cut), set(_active(src, cut))
    rows = []
    new_wanted = _wanted(src, basket, cut, new_only=True)
    judged = sorted(set(new_wanted["customer_id"]) & active)
    how = _similarity_for(src, cut, k)
    for method, label in ((how, "association"), ("popular", "popular")):
        made = _new_to_them(basket, judged, k, method) if judged else _NONE
        hits = _hits(made, new_wanted, judged)
        rows.append({"list": t("offers.list.new"), "method": t(f"offers.method.{label}"),
                     "hit_rate": hits / len(judged) if judged else math.nan, "customers": len(judged), "hits": hits})
    any_wanted = _wanted(src, basket, cut, new_only=False)
    due_now = _due_again(src, basket, sorted(active), k, "due")
    judged = sorted(set(any_wanted["customer_id"]) & set(due_now["customer_id"]))
    for method in ("due", "own"):
        made = _due_again(src, basket, judged, k, method) if judged else _NONE
        hits = _hits(made, any_wanted, judged)
        rows.append({"list": t("offers.list.due"), "method": t(f"offers.method.{method}"),
                     "hit_rate": hits / len(judged) if judged else math.nan, "customers": len(judged), "hits": hits})
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
    """For a page: (the hold-out check, both lists with a ``list`` column, "") or two empty
    tables and the reason in one line when the data holds no customers' products."""
    try:
        check = holdout(data, as_of=as_of, k=k)
        lists = [next_offers(data, as_of=as_of, k=k, kind=kind).assign(list=t(f"offers.list.{kind}"))
                 for kind in KINDS]
        made = pd.concat(lists, ignore_index=True)
        return check, made[["customer_id", "list", "rank", "product", "score", "owner"]], ""
    except ValueError as exc:
        return pd.DataFrame(), pd.DataFrame(), str(exc)
