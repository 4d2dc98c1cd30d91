"""Sufficient statistics per KPI × segment for one time window, on any engine.

Written once with narwhals, so the same code runs on pandas, DuckDB and Spark. Every
function filters one window, derives the columns it sums (flags, x²) *before*
``group_by().agg()`` and returns a small pandas DataFrame: one row per segment (``_seg``).
:func:`summaries` turns those rows into :mod:`salesnb.stats` summaries keyed by
``(kpi, stage, segment)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesnb.engines import Source
from salesnb.kpis import KPI
from salesnb.periods import Period
from salesnb.stats import Counts, Daily, Moments, RatioMoments, Summary
from salesnb.stats.calendar import weekday

__all__ = ["Window", "Key", "summaries", "fold_segments", "segment_sizes", "OTHERS_LABEL", "NONE_LABEL",
           "set_complete_through", "SEG", "NotSegmentable", "data_end", "data_start", "cohort_lags",
           "weekday_profile",
           "cycle_frame", "collect", "in_window", "segmented", "immature", "prefetch", "families_of", "kpi_problem",
           "stage_moves", "only_keys", "conversion_days", "MAX_FUNNEL_STAGES"]

SEG = "_seg"
DEFAULT_STAGES_KEY = ["qualified", "meeting", "proposal", "negotiation", "won"]  # comparisons' default funnel
NONE_LABEL = "(none)"
OTHERS_LABEL = "(all others)"  # the segments folded beyond the top ones (see fold_segments)
# how a table without the `by` column reaches one that has it: table -> (key, parent)
_LINKS = {"returns": ("order_id", "orders"), "deal_stages": ("deal_id", "deals"),
          "deals": ("lead_id", "leads")}


class NotSegmentable(ValueError):
    """The KPI's table has no path to the requested segment column."""


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` of ``days`` whole days."""

    start: datetime
    end: datetime
    days: int

    @classmethod
    def of(cls, period: Period) -> Window:
        return cls(period.start_ts.to_pydatetime(), period.end_ts.to_pydatetime(), period.days)


def collect(lf: nw.LazyFrame) -> pd.DataFrame:
    """Run a narwhals query and hand back pandas (Spark results travel through Arrow).

    PySpark warns on every conversion that pandas 3 is not fully supported; the engine
    tests check that its results equal pandas' and DuckDB's, so the warning is muted.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", module="pyspark")  # its pandas-3 deprecation noise
        return lf.collect(backend="pandas").to_native()


def in_window(col: str, w: Window) -> nw.Expr:
    """Rows whose ``col`` falls in the window."""
    return (nw.col(col) >= w.start) & (nw.col(col) < w.end)


WIN = "_win"
DAY = "_day"


def _day(col: str) -> nw.Expr:
    """The calendar day of a timestamp: the tests work on daily totals."""
    return nw.col(col).dt.truncate("1d").alias(DAY)


def _any_window(col: str, ws: Sequence[Window]) -> nw.Expr:
    """Rows in any of the windows; windows that touch are one range (a year of months is
    two comparisons per row, not twenty-four)."""
    spans: list[list[datetime]] = []
    for w in sorted(ws, key=lambda w: w.start):
        if spans and w.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], w.end)
        else:
            spans.append([w.start, w.end])
    expr: nw.Expr | None = None
    for start, end in spans:
        part = (nw.col(col) >= start) & (nw.col(col) < end)
        expr = part if expr is None else expr | part
    assert expr is not None, "no window"
    return expr


def _window_label(col: str, ws: Sequence[Window]) -> nw.Expr:
    """The index of the window a row falls in (windows must not overlap; rows outside every
    window are filtered out before). Sorted windows need no branches: a row's index is the
    number of window starts at or before it, less one."""
    if all(a.end <= b.start for a, b in zip(ws, ws[1:], strict=False)):
        expr: nw.Expr = nw.lit(0)
        for w in ws[1:]:
            expr = expr + (nw.col(col) >= w.start).cast(nw.Int64)
        return expr.alias(WIN)
    expr = nw.lit(len(ws) - 1)
    for i in range(len(ws) - 2, -1, -1):
        expr = nw.when(in_window(col, ws[i])).then(nw.lit(i)).otherwise(expr)
    return expr.alias(WIN)


def segmented(src: Source, table: str, by: str | None, columns: Sequence[str],
              where: nw.Expr | None = None) -> nw.LazyFrame:
    """The ``columns`` of a table (those it has), rows passing ``where``, plus ``_seg``.

    ``_seg`` is the ``by`` column as text, reached through the table's link when the table
    lacks it (returns → orders, deal_stages → deals, deals → leads). Columns are selected
    and rows filtered *before* anything is derived, so the pandas engine copies only what
    the KPI needs (10M orders stay within memory).
    """
    have = src.columns(table)
    link: tuple[str, str] | None = None
    if by is not None and by not in have:
        if table not in _LINKS:
            raise NotSegmentable(f"{table} has no column {by!r}")
        link = _LINKS[table]
        if not src.has(link[1]) or link[0] not in have:
            raise NotSegmentable(f"{table} has no column {by!r} and no link to {link[1]}")
    if link is not None and src.engine == "pandas":
        # the segment reached through the link, computed once per table and column
        linked = src.derive(table, f"_seg_{by}", lambda native: _linked_segment(src, native, by, link))
        lf = src.frame(table).select(*[c for c in dict.fromkeys([*columns, linked]) if c in src.columns(table)])
        if where is not None:
            lf = lf.filter(where)
        return lf.rename({linked: SEG})
    wanted = [*columns, *([by] if by is not None and link is None else []), *([link[0]] if link else [])]
    lf = src.frame(table).select(*[c for c in dict.fromkeys(wanted) if c in have])
    if where is not None:
        lf = lf.filter(where)
    if by is None:
        return lf.with_columns(nw.lit("all").alias(SEG))
    if link is None:
        return lf.with_columns(nw.col(by).cast(nw.String).fill_null(NONE_LABEL).alias(SEG))
    key, parent = link
    # only the parents of the rows kept, then their segment
    parents = only_keys(src, segmented(src, parent, by, [key]).select(key, SEG), lf, key)
    return lf.join(parents, on=key, how="left").with_columns(nw.col(SEG).fill_null(NONE_LABEL))


def _linked_segment(src: Source, native: pd.DataFrame, by: str | None, link: tuple[str, str]) -> pd.Series:
    """pandas: each row's segment through its link (e.g. a deal stage's region from its
    deal's lead), aligned with the table's rows; rows without a parent get ``(none)``."""
    key, parent = link
    parents = collect(segmented(src, parent, by, [key]).select(key, SEG)).drop_duplicates(key)
    at = pd.Index(parents[key]).get_indexer(native[key])
    seg = np.where(at >= 0, parents[SEG].to_numpy(dtype=object)[at], NONE_LABEL)
    return pd.Series(seg, index=native.index, dtype="str")


SMALL_KEY_SET = 500_000


def only_keys(src: Source, big: nw.LazyFrame, small: nw.LazyFrame, key: str, *,
              semi: bool = True) -> nw.LazyFrame:
    """Rows of ``big`` whose ``key`` appears in ``small``.

    On pandas, with few keys, a membership filter: it hashes the small side and probes the
    big one, where a join would hash all ten million keys of an order history. DuckDB and
    Spark plan joins well themselves (a long IN list would slow them down): they get a
    semi-join, or ``big`` unchanged when the caller joins it to ``small`` anyway
    (``semi=False``).
    """
    if src.engine == "pandas":
        keys = collect(small.select(key).unique().drop_nulls())[key]
        if len(keys) <= SMALL_KEY_SET:
            return _keep_keys(big, key, keys)
    return big.join(small.select(key).unique(), on=key, how="semi") if semi else big


def _isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """pandas: which ``values`` are among ``keys``, probed by Arrow: pandas' own ``isin`` on
    text converts every key to a Python object first (seconds per call at a few hundred
    thousand keys)."""
    try:
        hit = pc.is_in(pa.array(values, from_pandas=True), value_set=pa.array(keys, from_pandas=True))
        return hit.to_numpy(zero_copy_only=False).astype(bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # keys of another type
        return values.isin(keys.tolist()).to_numpy(dtype=bool)


def _keep_keys(big: nw.LazyFrame, key: str, keys: pd.Series) -> nw.LazyFrame:
    """pandas rows of ``big`` whose ``key`` is among ``keys``."""
    native = big.to_native()
    return nw.from_native(native[_isin(native[key], keys)]).lazy()


def _order_sums(o: nw.LazyFrame) -> pd.DataFrame:
    """The orders family's sums per window, segment and day, from order-level rows with
    ``done``, ``amt``, ``qty``, ``cancelled`` and ``ret`` (x² derived before the agg)."""
    o = o.with_columns((nw.col("amt") * nw.col("amt")).alias("amt2"),
                       (nw.col("qty") * nw.col("qty")).alias("qty2"))
    return collect(o.group_by(WIN, SEG, DAY).agg(
        nw.col("done").sum().alias("n"), nw.col("amt").sum().alias("s"),
        nw.col("amt2").sum().alias("ss"), nw.col("qty").sum().alias("q"),
        nw.col("qty2").sum().alias("qq"), nw.col("cancelled").sum().alias("cancelled"),
        nw.col("ret").sum().alias("returned")))


def _orders_by_line(src: Source, ws: Sequence[Window], finish: Any = None) -> pd.DataFrame:
    """The orders family by product from ``order_lines``: a product's revenue is its lines'
    amounts, its orders the orders holding it (an order of two products counts for each)."""
    have = src.columns("order_lines")
    lines = src.frame("order_lines").select("order_id", "product", *[c for c in ("quantity", "amount") if c in have])
    orders = (src.frame("orders").select("order_id", "ordered_at", "status")
              .filter(_any_window("ordered_at", ws)))
    lf = only_keys(src, lines, orders, "order_id", semi=False).join(orders, on="order_id", how="inner")
    lf = lf.with_columns(_window_label("ordered_at", ws), _day("ordered_at"),
                         nw.col("product").cast(nw.String).fill_null(NONE_LABEL).alias(SEG),
                         (nw.col("status") != "cancelled").cast(nw.Int64).alias("done"))
    amount = nw.col("amount").fill_null(0) if "amount" in have else nw.lit(0.0)
    qty = nw.col("quantity").fill_null(0) if "quantity" in have else nw.lit(0.0)
    lf = lf.with_columns((amount * nw.col("done")).alias("amt"), (qty * nw.col("done")).alias("qty"),
                         (1 - nw.col("done")).alias("cancelled"))
    if src.has("returns"):
        returned = src.frame("returns").select("order_id").unique().with_columns(nw.lit(1).alias("ret"))
        lf = lf.join(returned, on="order_id", how="left").with_columns(
            (nw.col("ret").fill_null(0) * nw.col("done")).alias("ret"))
    else:
        lf = lf.with_columns(nw.lit(0).alias("ret"))
    # one row per order and product first: an order counts once for each product it holds
    per_order = lf.group_by(WIN, SEG, DAY, "order_id").agg(
        nw.col("done").max(), nw.col("amt").sum(), nw.col("qty").sum(), nw.col("cancelled").max(),
        nw.col("ret").max())
    return (finish or _order_sums)(per_order)


def _orders(src: Source, ws: Sequence[Window], by: str | None, finish: Any = None,
            keep: Sequence[str] = ()) -> pd.DataFrame:
    if by == "product" and src.has("order_lines"):
        return _orders_by_line(src, ws, finish)
    cols = src.columns("orders")
    flag = _returned_flag(src) if src.engine == "pandas" and src.has("returns") else None
    o = segmented(src, "orders", by, ["order_id", "ordered_at", "status", "amount", "quantity",
                                      *([flag] if flag else []), *keep],
                  _any_window("ordered_at", ws)).with_columns(_window_label("ordered_at", ws), _day("ordered_at"))
    o = o.with_columns((nw.col("status") != "cancelled").cast(nw.Int64).alias("done"))
    qty = nw.col("quantity").fill_null(0) if "quantity" in cols else nw.lit(0.0)
    o = o.with_columns((nw.col("amount") * nw.col("done")).alias("amt"),
                       (qty * nw.col("done")).alias("qty"),
                       (1 - nw.col("done")).alias("cancelled"))
    if flag is not None:
        o = o.with_columns((nw.col(flag) * nw.col("done")).alias("ret"))
    elif src.has("returns"):
        returned = (src.frame("returns").select("order_id").unique()
                    .with_columns(nw.lit(1).alias("ret")))
        o = o.join(returned, on="order_id", how="left").with_columns(
            (nw.col("ret").fill_null(0) * nw.col("done")).alias("ret"))
    else:
        o = o.with_columns(nw.lit(0).alias("ret"))
    return (finish or _order_sums)(o)


def _returned_flag(src: Source) -> str:
    """pandas: 1 on orders that were returned, 0 otherwise, kept on the orders table (a join
    of ten million order ids per query otherwise)."""
    def compute(native: pd.DataFrame) -> np.ndarray:
        returned = collect(src.frame("returns").select("order_id").unique().drop_nulls())["order_id"]
        return _isin(native["order_id"], returned).astype(np.int64)

    return src.derive("orders", "_returned", compute)


def _returns(src: Source, ws: Sequence[Window], by: str | None, finish: Any = None,
             keep: Sequence[str] = ()) -> pd.DataFrame:
    r = segmented(src, "returns", by, ["returned_at", "amount", "kind", *keep],
                  _any_window("returned_at", ws)).with_columns(_window_label("returned_at", ws), _day("returned_at"))
    if "kind" in src.columns("returns"):
        refusal = (nw.col("kind") == "refusal").fill_null(False).cast(nw.Int64)
    else:
        refusal = nw.lit(0)
    r = r.with_columns(refusal.alias("ref")).with_columns((1 - nw.col("ref")).alias("ret"))
    r = r.with_columns((nw.col("amount") * nw.col("ret")).alias("ra"),
                       (nw.col("amount") * nw.col("amount")).alias("a2"))
    r = r.with_columns((nw.col("a2") * nw.col("ret")).alias("ra2"))
    return (finish or _return_sums)(r)


def _return_sums(r: nw.LazyFrame) -> pd.DataFrame:
    return collect(r.group_by(WIN, SEG, DAY).agg(
        nw.col("ret").sum().alias("n_ret"), nw.col("ra").sum().alias("s_ret"),
        nw.col("ra2").sum().alias("ss_ret"), nw.col("ref").sum().alias("n_ref"),
        nw.len().alias("n_all"), nw.col("amount").sum().alias("s_all"),
        nw.col("a2").sum().alias("ss_all")))


def _first_orders(src: Source) -> nw.LazyFrame:
    """customer_id, first: the first non-cancelled order (or an earlier first_purchase_at).

    A scan of the whole order history: computed once per source and kept on its engine.
    """
    if "first_orders" not in src.cache:
        orders = src.frame("orders").select("customer_id", "ordered_at", "status")
        if src.engine == "pandas":
            # blank the date of a cancelled order rather than filter the rows: no copy of the
            # whole order history is made, and min() skips the blanks
            done_at = nw.when(nw.col("status") != "cancelled").then(nw.col("ordered_at"))
            orders = orders.select("customer_id", done_at.alias("ordered_at"))
        else:  # the engines push the filter into the scan
            orders = orders.filter(nw.col("status") != "cancelled")
        first = (orders.filter(~nw.col("customer_id").is_null())  # guest checkouts: no customer to count
                 .group_by("customer_id").agg(nw.col("ordered_at").min().alias("first"))
                 .filter(~nw.col("first").is_null()))
        if src.has("customers") and "first_purchase_at" in src.columns("customers"):
            known = src.frame("customers").select("customer_id", "first_purchase_at")
            first = (first.join(known, on="customer_id", how="left")
                     .with_columns(nw.min_horizontal("first", "first_purchase_at").alias("first"))
                     .select("customer_id", "first"))
        src.cache["first_orders"] = src.constant(collect(first))
    return src.cache["first_orders"]


def _new_customers(src: Source, ws: Sequence[Window], by: str | None, finish: Any = None) -> pd.DataFrame:
    finish = finish or _count
    new = (_first_orders(src).filter(_any_window("first", ws))
           .with_columns(_window_label("first", ws), _day("first")))
    if by is None:
        return finish(new.with_columns(nw.lit("all").alias(SEG)))
    # the segment of the customer's first order (the smallest label on a tie); a first
    # order in a window is among that window's orders
    firsts = (segmented(src, "orders", by, ["customer_id", "ordered_at", "status"],
                        _any_window("ordered_at", ws) & (nw.col("status") != "cancelled"))
              .select("customer_id", nw.col("ordered_at").alias("first"), SEG))
    seg = (new.join(firsts, on=["customer_id", "first"], how="left")
           .group_by("customer_id", WIN, DAY).agg(nw.col(SEG).min())
           .with_columns(nw.col(SEG).fill_null(NONE_LABEL)))
    return finish(seg)


def _count(lf: nw.LazyFrame) -> pd.DataFrame:
    return collect(lf.group_by(WIN, SEG, DAY).agg(nw.len().alias("n")))


def _leads(src: Source, ws: Sequence[Window], by: str | None, finish: Any = None,
           keep: Sequence[str] = ()) -> pd.DataFrame:
    cols = src.columns("leads")
    lf = segmented(src, "leads", by, ["lead_id", "created_at", "converted_at", *keep],
                   _any_window("created_at", ws)).with_columns(_window_label("created_at", ws),
                                                                _day("created_at"))
    converted = (~nw.col("converted_at").is_null()).cast(nw.Int64) if "converted_at" in cols else nw.lit(0)
    lf = lf.with_columns(converted.alias("conv"))
    if src.has("deals") and "lead_id" in src.columns("deals"):
        won = (src.frame("deals").select("lead_id", "outcome").filter(nw.col("outcome") == "won")
               .select("lead_id").drop_nulls().unique().with_columns(nw.lit(1).alias("won")))
        lf = (lf.join(won, on="lead_id", how="left")
              .with_columns(nw.max_horizontal(nw.col("conv"), nw.col("won").fill_null(0)).alias("conv")))
    return (finish or _lead_sums)(lf)


def _lead_sums(lf: nw.LazyFrame) -> pd.DataFrame:
    return collect(lf.group_by(WIN, SEG, DAY).agg(nw.len().alias("n"), nw.col("conv").sum().alias("conv")))


def _deals_closed(src: Source, ws: Sequence[Window], by: str | None, finish: Any = None) -> pd.DataFrame:
    d = (segmented(src, "deals", by, ["closed_at", "outcome"],
                   _any_window("closed_at", ws) & nw.col("outcome").is_in(["won", "lost"]))
         .with_columns((nw.col("outcome") == "won").cast(nw.Int64).alias("won"),
                       _window_label("closed_at", ws), _day("closed_at")))
    return (finish or _closed_sums)(d)


def _closed_sums(lf: nw.LazyFrame) -> pd.DataFrame:
    return collect(lf.group_by(WIN, SEG, DAY).agg(nw.len().alias("n"), nw.col("won").sum().alias("won")))


def cycle_frame(src: Source, w: Window, by: str | None, *, created: bool = False) -> pd.DataFrame:
    """Deals won in the window (or, with ``created``, all deals created in it) as pandas:
    ``_seg``, ``created_at``, ``closed_at``, ``outcome``, ``days`` (calendar days)."""
    if "closed_at" not in src.columns("deals"):  # an export without close dates: no cycle to measure
        return pd.DataFrame({SEG: pd.Series(dtype=str), "created_at": pd.Series(dtype="datetime64[us]"),
                             "closed_at": pd.Series(dtype="datetime64[us]"), "outcome": pd.Series(dtype=str),
                             "days": pd.Series(dtype=float)})
    where = (in_window("created_at", w) if created
             else in_window("closed_at", w) & (nw.col("outcome") == "won"))
    d = segmented(src, "deals", by, ["created_at", "closed_at", "outcome"], where)
    df = collect(d.select(SEG, "created_at", "closed_at", "outcome"))
    for col in ("created_at", "closed_at"):
        df[col] = pd.to_datetime(df[col])
    df["days"] = (df["closed_at"].dt.normalize() - df["created_at"].dt.normalize()).dt.days
    return df


def _pipeline(src: Source, w: Window, by: str | None) -> pd.DataFrame:
    open_at_end = ((nw.col("created_at") < w.end)
                   & (nw.col("closed_at").is_null() | (nw.col("closed_at") >= w.end))
                   & ~nw.col("amount").is_null())
    d = segmented(src, "deals", by, ["created_at", "closed_at", "amount"], open_at_end)
    d = d.with_columns((nw.col("amount") * nw.col("amount")).alias("a2"))
    return collect(d.group_by(SEG).agg(nw.len().alias("n"), nw.col("amount").sum().alias("s"),
                                       nw.col("a2").sum().alias("ss")))


# each funnel stage is a column and a branch of the stage query: bounded (params allow as many)
MAX_FUNNEL_STAGES = 30


def _stage_entries(src: Source, by: str | None, stages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every entry into a funnel stage that has a next stage, from one pass over the whole
    table, split in two:

    - ``regular``: the deal entered the stage once, and the next stage (if ever) after it.
      Its counts do not depend on the window, so they are summed by segment, stage and day;
    - ``irregular``: the deal entered the stage more than once, or entered the next stage
      before this one (it went back). A window counts it once, reached when its next stage
      was entered after the window's start (see :func:`_stages`), so these are kept as rows.

    A funnel whose deals only move forward has no irregular entries (the demo, the benchmark
    data); a CRM whose deals often go back (the IBM export in ``../shared/data`` counts up to
    23 stage changes a deal) keeps more here, at most a row per entry, sorted by time.
    """
    key = ("stage entries", by, tuple(stages))
    if key in src.cache:
        return src.cache[key]
    if len(stages) > MAX_FUNNEL_STAGES:  # (a column and a branch per stage below)
        raise ValueError(f"funnel_stages: at most {MAX_FUNNEL_STAGES} stages, got {len(stages)}")
    if by is None and (pooled := _entries_pooled(src, stages)) is not None:
        src.cache[key] = pooled
        return pooled
    if src.engine == "pandas":  # derived once per table: no join of millions of deal ids
        pairs = src.constant(pd.DataFrame({"stage": stages[:-1], "next_stage": stages[1:]}))
        next_at = src.derive("deal_stages", "_next_at_" + "|".join(stages), lambda native: _next_entry(native, stages))
        times = src.derive("deal_stages", "_entries", lambda native: native.groupby(
            ["deal_id", "stage"], observed=True, sort=False)["entered_at"].transform("size"))
        entered = (segmented(src, "deal_stages", by, ["deal_id", "stage", "entered_at", next_at, times])
                   .rename({next_at: "_next_at", times: "_times"}).join(pairs, on="stage", how="inner"))
    else:  # one row per deal (its latest entry into each stage), not one per deal and stage: a smaller join
        latest = [f"_latest_{i}" for i in range(len(stages))]
        per_deal = (src.frame("deal_stages").select("deal_id", "stage", "entered_at")
                    .with_columns(*[nw.when(nw.col("stage") == s).then(nw.col("entered_at")).alias(c)
                                    for s, c in zip(stages, latest, strict=True)])
                    .group_by("deal_id").agg(*[nw.col(c).max() for c in latest], nw.len().alias("_rows"),
                                             nw.col("stage").n_unique().alias("_kinds")))
        following: nw.Expr = nw.lit(None)
        for i in range(len(stages) - 2, -1, -1):
            following = nw.when(nw.col("stage") == stages[i]).then(nw.col(latest[i + 1])).otherwise(following)
        # a deal that entered any stage twice is irregular in every stage (harmless: the
        # irregular count is exact for any entry)
        entered = (segmented(src, "deal_stages", by, ["deal_id", "stage", "entered_at"],
                             nw.col("stage").is_in(stages[:-1]))
                   .join(per_deal, on="deal_id", how="left")
                   .with_columns(following.alias("_next_at"),
                                 ((nw.col("_rows") > nw.col("_kinds")).cast(nw.Int64) + 1).alias("_times")))
    irregular = ((nw.col("_times") > 1) | (nw.col("_next_at") < nw.col("entered_at"))).fill_null(False)
    # one query: regular entries grouped by segment, stage and day; irregular ones keep
    # their deal, time and next entry as group keys (each its own group)
    marked = entered.with_columns(
        _day("entered_at"), nw.when(irregular).then(nw.col("deal_id")).alias("_irr_deal"),
        nw.when(irregular).then(nw.col("entered_at")).alias("_irr_at"),
        nw.when(irregular).then(nw.col("_next_at")).alias("_irr_next"),
        (~irregular & ~nw.col("_next_at").is_null()).cast(nw.Int64).alias("reached"))
    df = collect(marked.group_by(SEG, "stage", DAY, "_irr_deal", "_irr_at", "_irr_next")
                 .agg(nw.len().alias("n"), nw.col("reached").sum().alias("advanced")))
    df[DAY] = pd.to_datetime(df[DAY])
    odd = df["_irr_deal"].notna().to_numpy()
    regular = df.loc[~odd, [SEG, "stage", DAY, "n", "advanced"]].reset_index(drop=True)
    irr = df.loc[odd, [SEG, "stage", "_irr_deal", "_irr_at", "_irr_next"]]
    irr = irr.loc[irr.index.repeat(df.loc[odd, "n"].to_numpy())]  # (a row per entry, should two share a time)
    irregular_rows = pd.DataFrame({SEG: irr[SEG].to_numpy(), "stage": irr["stage"].to_numpy(),
                                   "deal_id": irr["_irr_deal"].to_numpy(),
                                   "entered_at": pd.to_datetime(irr["_irr_at"]).to_numpy(),
                                   "next_at": pd.to_datetime(irr["_irr_next"]).to_numpy()})
    irregular_rows = irregular_rows.sort_values("entered_at", kind="stable", ignore_index=True)
    src.cache[key] = regular, irregular_rows
    return src.cache[key]


def _entries_pooled(src: Source, stages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The stage entries by no segment, from those already made by a segment: the segments'
    counts summed (whether an entry is regular, and whether it advanced, is the deal's, not
    the segment's). Only when every entry is there exactly once: a segment reached through a
    link whose parent key repeats would count an entry once per parent row, so the entries
    are counted in the table first. None when no segment's entries fit."""
    for cached_key, value in list(src.cache.items()):
        if not (isinstance(cached_key, tuple) and len(cached_key) == 3 and cached_key[0] == "stage entries"
                and cached_key[1] is not None and cached_key[2] == tuple(stages)):
            continue
        regular, irregular = value
        count_key = ("stage entries counted", tuple(stages))
        if count_key not in src.cache:
            rows = src.frame("deal_stages").filter(nw.col("stage").is_in(stages[:-1])).select(nw.len().alias("n"))
            src.cache[count_key] = int(collect(rows)["n"].iloc[0])
        if int(regular["n"].sum()) + len(irregular) != src.cache[count_key]:
            continue
        summed = (regular.assign(**{SEG: "all"}).groupby([SEG, "stage", DAY], as_index=False, sort=False, dropna=False)
                  .agg(n=("n", "sum"), advanced=("advanced", "sum")))
        return summed, irregular.assign(**{SEG: "all"})
    return None


def _stages(src: Source, w: Window, by: str | None, stages: list[str]) -> pd.DataFrame:
    """Deals entering each stage in the window (``n``) and how many of them reached the
    next stage (``advanced``), by segment, stage and day.

    A deal counts once per stage and window, on the day of its first entry in the window,
    and reached the next stage when it entered it after the window's start: each window on
    its own. Every window is served from the one pass of :func:`_stage_entries`.
    """
    regular, irregular = _stage_entries(src, by, stages)
    df = regular[(regular[DAY] >= w.start) & (regular[DAY] < w.end)]
    at = irregular["entered_at"].to_numpy()  # sorted: a window's entries are one slice
    lo, hi = np.searchsorted(at, np.datetime64(w.start, "us")), np.searchsorted(at, np.datetime64(w.end, "us"))
    if hi > lo:
        first = irregular.iloc[lo:hi].drop_duplicates(["deal_id", "stage"])  # each pair's first entry in the window
        extra = pd.DataFrame({SEG: first[SEG], "stage": first["stage"], DAY: first["entered_at"].dt.normalize(),
                              "n": 1, "advanced": (first["next_at"] >= w.start).astype(np.int64)})
        df = (pd.concat([df, extra], ignore_index=True).groupby([SEG, "stage", DAY], as_index=False, sort=False)
              .agg(n=("n", "sum"), advanced=("advanced", "sum")))
    return _in_order(df, "stages")


def _next_entry(native: pd.DataFrame, stages: list[str]) -> pd.Series:
    """The latest entry of each row's deal into the stage after the row's stage (NaT when
    it never got there, or the stage is the last)."""
    following = dict(zip(stages[:-1], stages[1:], strict=True))
    latest = native.groupby(["deal_id", "stage"], observed=True, sort=False)["entered_at"].max()
    want = pd.MultiIndex.from_arrays([native["deal_id"], native["stage"].map(following)])
    return pd.Series(latest.reindex(want).to_numpy(), index=native.index)


# families that scan large tables: computed for several windows in one pass and cached
_MULTI: dict[str, Callable[..., pd.DataFrame]] = {
    "orders": _orders, "returns": _returns, "new_customers": _new_customers, "leads": _leads,
    "deals_closed": _deals_closed}
_MULTI_NEEDS = {"deals_closed": ("closed_at", "outcome")}  # optional columns a family cannot do without


def _spans(ws: Sequence[Window]) -> list[Window]:
    """The windows merged into as few non-overlapping spans as cover them (overlapping or
    touching windows are one span), sorted by start: one pass over a table labels every row
    with its span, and each window is its span's days from its start to its end."""
    spans: list[Window] = []
    for w in sorted(dict.fromkeys(ws), key=lambda w: (w.start, w.end)):
        if spans and w.start <= spans[-1].end:
            last = spans[-1]
            end = max(last.end, w.end)
            spans[-1] = Window(last.start, end, (end - last.start).days)
        else:
            spans.append(w)
    return spans


def families_of(kpis: Iterable[KPI]) -> set[str]:
    """The families of sufficient statistics the KPIs are computed from."""
    return {family for kpi in kpis for family, _ in kpi.parts}


def prefetch(src: Source, ws: Sequence[Window], by: str | None, *,
             families: Iterable[str] | None = None) -> None:
    """Aggregate the large-table families for several windows, in one pass per table: the
    rows of every window's days, by segment and day, each window then its own days (every
    family's per-row values depend on the row, not on the window).

    kpi_table prefetches the period, the previous period and last year, so the comparisons
    that follow read them from the cache instead of scanning the tables again; a PDCA check
    prefetches its baseline, check window and their months. ``families`` limits the work to
    the families the caller's KPIs use (see :attr:`salesnb.kpis.KPI.parts`); default all.
    """
    from salesnb.kpis import FAMILY_TABLES

    wanted = set(families) if families is not None else None
    for name, fn in _MULTI.items():
        table = FAMILY_TABLES[name]
        if (wanted is not None and name not in wanted) or not src.has(table) or _stored(src, name):
            continue  # (a stored family serves every window from its days; stages serve all from one pass)
        if not set(_MULTI_NEEDS.get(name, ())) <= set(src.columns(table)):
            continue  # an export without close dates: its KPI says why, nothing to prefetch
        key = (name, by, ())
        todo = [w for w in dict.fromkeys(ws) if ("family", key, w) not in src.cache]
        if len(todo) < 2:
            continue
        spans = _spans(todo)
        try:
            df = fn(src, spans, by)
        except NotSegmentable:
            continue
        days = pd.to_datetime(df[DAY])
        for w in todo:
            i = _span_of(spans, w)
            mine = (df[WIN] == i) & (days >= w.start) & (days < w.end)
            src.cache[("family", key, w)] = _in_order(df[mine.to_numpy()].drop(columns=[WIN]), name)
    if wanted is None or "cycle" in wanted:
        _prefetch_cycles(src, ws, by)


def _span_of(spans: Sequence[Window], w: Window) -> int:
    """The index of the span (see :func:`_spans`) that holds window ``w``."""
    return next(i for i, span in enumerate(spans) if span.start <= w.start and w.end <= span.end)


def _prefetch_cycles(src: Source, ws: Sequence[Window], by: str | None) -> None:
    """The won deals of several windows (the sales-cycle family): one query per span of
    windows, each window then the deals closed in it, in the rows' order."""
    if not src.has("deals") or not {"created_at", "closed_at", "outcome"} <= set(src.columns("deals")):
        return
    todo = [w for w in dict.fromkeys(ws) if ("cycle", by, w) not in src.cache]
    if len(todo) < 2:
        return
    spans = _spans(todo)
    try:
        frames = [cycle_frame(src, span, by) for span in spans]
    except NotSegmentable:
        return
    for w in todo:
        f = frames[_span_of(spans, w)]
        src.cache[("cycle", by, w)] = f[((f["closed_at"] >= w.start) & (f["closed_at"] < w.end)).to_numpy()]


def _family(src: Source, name: str, w: Window, by: str | None,
            funnel_stages: Sequence[str] = ()) -> pd.DataFrame:
    """One family's aggregate for one window (rows by segment, then day), from the daily
    store when the source has one, else from the cache when prefetched."""
    if _stored(src, name):
        full = _daily(src, name, by)
        return full[(full[DAY] >= w.start) & (full[DAY] < w.end)]
    if name == "stages":
        return _stages(src, w, by, list(funnel_stages))
    key = (name, by, ())
    if ("family", key, w) not in src.cache:
        df = _MULTI[name](src, [w], by)
        src.cache[("family", key, w)] = _in_order(df.drop(columns=[WIN]), name)
    return src.cache[("family", key, w)]


def _in_order(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rows by segment (and stage), then day: the order the totals are summed in, so a
    window's numbers are bit for bit the same from the store and from the rows."""
    keys = [SEG, *(["stage"] if name == "stages" else []), DAY]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


# the families the daily store keeps, and the per-row values each one's sums are made of
# (with the segment and the day, they are what a day's fingerprint hashes)
_HASHED = {"orders": ["done", "amt", "qty", "cancelled", "ret"], "returns": ["ret", "ref", "amount"],
           "new_customers": [], "leads": ["conv"]}
_ALL_TIME = Window(datetime(1800, 1, 1), datetime(2300, 1, 1), 1)  # every dated row
MAX_RECOMPUTE_RUNS = 64  # more separate runs of changed days: one span from the first to the last


def _stored(src: Source, name: str) -> bool:
    return getattr(src, "store", None) is not None and name in _HASHED


def _day_hashes(lf: nw.LazyFrame, columns: Sequence[str], engine: str) -> pd.DataFrame:
    """One fingerprint per day: the row count and two sums of a 64-bit hash of each row's
    segment, day and ``columns`` (its halves, so the sums are exact), in any row order."""
    lf = lf.select(SEG, DAY, *columns)
    if engine == "pandas":
        native = lf.to_native()
        h = pd.util.hash_pandas_object(native, index=False).to_numpy()
        parts = pd.DataFrame({DAY: native[DAY].to_numpy(), "hi": (h >> np.uint64(32)).astype(np.int64),
                              "lo": (h & np.uint64(0xFFFFFFFF)).astype(np.int64)})
        sums = parts.groupby(DAY, sort=True).agg(n=("hi", "size"), hi=("hi", "sum"), lo=("lo", "sum")).reset_index()
    elif engine == "duckdb":  # its own hash of the same values
        rel = lf.to_native()
        cols = ", ".join(f'"{c}"' for c in (SEG, DAY, *columns))
        sums = rel.aggregate(f'"{DAY}", count(*) AS n, sum(hash({cols}) >> 32) AS hi, '
                             f"sum(hash({cols}) & 4294967295) AS lo", f'"{DAY}"').df()
    else:  # spark (a cluster's or a Connect session's): xxhash64, signed, so the halves' sums stay in range
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own spelling)

        h = F.xxhash64(*[F.col(c) for c in (SEG, DAY, *columns)])
        sums = collect(nw.from_native(lf.to_native().groupBy(DAY).agg(
            F.count(F.lit(1)).alias("n"), F.sum(F.shiftright(h, 32)).alias("hi"),
            F.sum(h.bitwiseAND(F.lit(0xFFFFFFFF))).alias("lo"))).lazy())
    days = pd.to_datetime(sums[DAY]).dt.strftime("%Y-%m-%d")
    fp = sums["n"].astype(str) + ":" + sums["hi"].astype(str) + ":" + sums["lo"].astype(str)
    return pd.DataFrame({"day": days, "fp": fp})


def _runs(days: Sequence[str]) -> list[Window]:
    """Windows covering the days: one per run of consecutive days (one span when there are
    too many runs: recomputing a day that did not change gives its stored values again)."""
    dates = sorted(pd.Timestamp(d) for d in days)
    runs: list[list[pd.Timestamp]] = []
    for d in dates:
        if runs and d - runs[-1][1] == pd.Timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    if len(runs) > MAX_RECOMPUTE_RUNS:
        runs = [[runs[0][0], runs[-1][1]]]
    return [Window(a.to_pydatetime(), (b + pd.Timedelta(days=1)).to_pydatetime(), (b - a).days + 1) for a, b in runs]


# families whose per-row values come from one table's rows (and lookups by their keys): one
# fingerprint of every column of the row serves every segment column of that table
_ROW_FAMILIES = ("orders", "returns", "leads")
_DERIVED = {"done", "amt", "qty", "cancelled", "ret", "ref", "ra", "a2", "ra2", "conv", "won", "amt2", "qty2"}


def _row_columns(src: Source, table: str) -> list[str]:
    """The table's own columns a shared fingerprint hashes: not the names the families
    derive, nor the engine's derived ``_`` columns, nor the ``…_id`` keys (no report is
    broken down by an id, and hashing ten million ids was a third of the pass; a family's
    values that depend on a key, such as an order's return, are hashed as values)."""
    return [c for c in src.columns(table) if not c.startswith("_") and c not in _DERIVED and not c.endswith("_id")]


def _fingerprints(src: Source, name: str, by: str | None) -> dict[str, str]:
    """Day -> fingerprint of the rows behind a family's sums by ``by``.

    A day's sums by any column of the family's own table are a function of the day's rows,
    each with every column and the values derived from it: one fingerprint of those serves
    the family by no segment and by every such column, so a report's several breakdowns
    hash the table once. A segment reached through a link (a return's channel from its
    order) or another table (products from order lines) hashes its own rows.
    """
    from salesnb.kpis import FAMILY_TABLES

    fn = _MULTI[name]
    table = FAMILY_TABLES[name]
    row = _row_columns(src, table) if name in _ROW_FAMILIES else []
    by_line = name == "orders" and by == "product" and src.has("order_lines")
    if row and (by is None or by in row) and not by_line:
        key = ("fingerprints", name)
        if key not in src.cache:
            now = fn(src, [_ALL_TIME], None, keep=row,
                     finish=lambda lf: _day_hashes(lf, list(dict.fromkeys([*_HASHED[name], *row])), src.engine))
            src.cache[key] = dict(zip(now["day"], now["fp"], strict=True))
        return src.cache[key]
    now = fn(src, [_ALL_TIME], by, finish=lambda lf: _day_hashes(lf, _HASHED[name], src.engine))
    return dict(zip(now["day"], now["fp"], strict=True))


def _daily(src: Source, name: str, by: str | None) -> pd.DataFrame:
    """The family's sums for every day of the data, by segment: the stored days whose rows
    did not change, and the days that did (or are new) computed from the rows."""
    key = ("daily", name, by)
    if key in src.cache:
        return src.cache[key]
    fn = _MULTI[name]
    fingerprints = _fingerprints(src, name, by)
    store = src.store
    store_key = (store.scope, src.engine, name, by)
    loaded = store.load(store_key)
    old, old_fps = loaded if loaded is not None else (None, {})
    changed = [d for d, fp in fingerprints.items() if old_fps.get(d) != fp]
    redo = _runs(changed)
    parts = []
    if old is not None:
        days = pd.to_datetime(old[DAY])
        keep = days.dt.strftime("%Y-%m-%d").isin(list(fingerprints)).to_numpy(copy=True)  # days gone from the data go
        for w in redo:
            keep &= ~((days >= w.start) & (days < w.end)).to_numpy()
        parts.append(old[keep])
    if changed or old is None:
        parts.append(fn(src, redo or [_ALL_TIME], by).drop(columns=[WIN]))
    full = _in_order(pd.concat(parts, ignore_index=True), name)
    full[DAY] = pd.to_datetime(full[DAY])
    store.recomputed[store_key] = len(changed)
    if changed or old_fps.keys() != fingerprints.keys():
        store.save(store_key, full, fingerprints)
    src.cache[key] = full
    return full


def _where(filters: Mapping[str, Any] | None) -> nw.Expr | None:
    """A row filter from a params mapping (no code is evaluated); ``None`` for no filter."""
    expr: nw.Expr | None = None
    ops = {"==": "__eq__", "!=": "__ne__", ">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__"}
    for col, cond in (filters or {}).items():
        if isinstance(cond, Mapping):
            parts = [getattr(nw.col(col), ops[op])(value) for op, value in cond.items()]
        elif isinstance(cond, list | tuple):
            parts = [nw.col(col).is_in(list(cond))]
        else:
            parts = [nw.col(col) == cond]
        for part in parts:
            expr = part if expr is None else expr & part
    return expr


def _custom(src: Source, kpi: KPI, w: Window, by: str | None) -> pd.DataFrame:
    spec = kpi.spec
    used = [spec["date"], *(spec.get("where") or {}), *([spec["column"]] if spec.get("column") else [])]
    for side in ("numerator", "denominator"):
        part = spec.get(side) or {}
        used += [*(part.get("where") or {}), *([part["column"]] if part.get("column") else [])]
    where = _where(spec.get("where"))
    window = in_window(spec["date"], w)
    lf = segmented(src, spec["table"], by, used, window if where is None else window & where)
    lf = lf.with_columns(_day(spec["date"]))
    if kpi.kind == "count":
        return collect(lf.group_by(SEG, DAY).agg(nw.len().alias("n")))
    if kpi.kind in ("sum", "mean"):
        lf = lf.filter(~nw.col(spec["column"]).is_null()).with_columns(
            nw.col(spec["column"]).cast(nw.Float64).alias("x"))
        lf = lf.with_columns((nw.col("x") * nw.col("x")).alias("x2"))
        return collect(lf.group_by(SEG, DAY).agg(nw.len().alias("n"), nw.col("x").sum().alias("s"),
                                            nw.col("x2").sum().alias("ss")))
    parts = []
    for side in ("numerator", "denominator"):
        part = spec[side]
        value = nw.col(part["column"]).fill_null(0).cast(nw.Float64) if part.get("column") else nw.lit(1.0)
        cond = _where(part.get("where"))
        flag = cond.cast(nw.Float64) if cond is not None else nw.lit(1.0)
        parts.append((flag * value).alias(side[0]))
    lf = lf.with_columns(*parts)
    lf = lf.with_columns((nw.col("n") * nw.col("n")).alias("nn"), (nw.col("d") * nw.col("d")).alias("dd"),
                         (nw.col("n") * nw.col("d")).alias("nd"))
    return collect(lf.group_by(SEG, DAY).agg(
        nw.len().alias("rows"), nw.col("n").sum().alias("sx"), nw.col("d").sum().alias("sy"),
        nw.col("nn").sum().alias("sxx"), nw.col("dd").sum().alias("syy"),
        nw.col("nd").sum().alias("sxy")))


def _num(v: Any) -> float:
    return 0.0 if v is None or v != v else float(v)


def _rows(df: pd.DataFrame, w: Window, keys: Sequence[str] = ()) -> Iterable[tuple[str, dict[str, Any], Any]]:
    """(segment, totals, daily) per segment (and per ``keys``, e.g. the funnel stage).

    ``totals`` holds the columns summed over the days (nulls from empty sums as 0, the
    ``keys`` as they are); ``daily(x, n)`` builds a :class:`Daily` of two of the columns.
    Every segment's totals and days come from one grouped pass (thousands of products cost
    one ``np.add.at``, not a query each).
    """
    if len(df) == 0:
        return
    value_cols = [c for c in df.columns if c not in (SEG, DAY, WIN, *keys)]
    # plain arrays, not a pandas groupby: a window's frame is small, and this runs for every
    # family and window of a report (thousands of times), where pandas' overhead dominated
    values = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                              for c in value_cols]) if value_cols else np.zeros((len(df), 0))
    values[np.isnan(values)] = 0.0
    code = np.zeros(len(df), dtype=np.int64)
    labels = []
    for c in [SEG, *keys]:  # one code per (segment, key) combination, in sorted order
        codes, uniques = pd.factorize(df[c], sort=True, use_na_sentinel=False)
        code = code * len(uniques) + codes
        labels.append(np.asarray(uniques, dtype=object))
    present, group = np.unique(code, return_inverse=True)
    group = group.ravel()
    totals = np.column_stack([np.bincount(group, weights=values[:, j], minlength=len(present))
                              for j in range(len(value_cols))]) if value_cols else np.zeros((len(present), 0))
    names = []
    for combined in present:
        parts = []
        for uniques in reversed(labels):
            combined, at_ = divmod(int(combined), len(uniques))
            parts.append(uniques[at_])
        names.append(tuple(reversed(parts)))
    all_days = np.datetime64(str(w.start)[:10], "D") + np.arange(w.days)
    per_day: dict[str, np.ndarray] = {}
    if DAY in df:
        at = (pd.to_datetime(df[DAY]).to_numpy().astype("datetime64[D]") - all_days[0]).astype(int)
        ok = (at >= 0) & (at < w.days)
        for j, c in enumerate(value_cols):
            grid = np.zeros((len(present), w.days))
            np.add.at(grid, (group[ok], at[ok]), values[ok, j])
            grid.flags.writeable = False  # shared by every summary of the window (see _family_rows)
            per_day[c] = grid
    empty = np.zeros(w.days)
    for i, (key, row) in enumerate(zip(names, totals, strict=True)):
        sums: dict[str, Any] = dict(zip(value_cols, map(float, row), strict=True))
        sums.update(zip(keys, key[1:], strict=True))

        def daily(x: str, n: str, _i: int = i) -> Daily:
            if not per_day:
                return Daily(all_days, empty.copy(), empty.copy())
            return Daily(all_days, per_day[x][_i], per_day[n][_i])

        yield str(key[0]), sums, daily


Key = tuple[str, str | None, str]  # (kpi, stage, segment)


def _family_rows(src: Source, family: str, w: Window, by: str | None,
                 funnel_stages: list[str]) -> Iterable[tuple[str | None, str, Mapping[str, Any], Any]]:
    """(stage, segment, totals, daily) of one family of sufficient statistics (see
    :data:`salesnb.kpis.FAMILY_TABLES`): one query, shared by every KPI of the family, and
    its rows made once per window for every set of KPIs asked of it (an unusual-months table
    asks one KPI at a time)."""
    key = ("family rows", family, w, by, tuple(funnel_stages) if family == "stages" else ())
    if key not in src.cache:
        src.cache[key] = list(_family_rows_of(src, family, w, by, funnel_stages))
    return src.cache[key]


def _family_rows_of(src: Source, family: str, w: Window, by: str | None,
                    funnel_stages: list[str]) -> Iterable[tuple[str | None, str, Mapping[str, Any], Any]]:
    if family in ("orders", "returns", "new_customers", "leads"):
        for seg, r, daily in _rows(_family(src, family, w, by), w):
            yield None, seg, r, daily
    elif family == "stages":
        for seg, r, daily in _rows(_family(src, "stages", w, by, funnel_stages), w, keys=["stage"]):
            yield str(r["stage"]), seg, r, daily
    elif family == "deals_closed":
        for seg, r, daily in _rows(_family(src, "deals_closed", w, by), w):
            yield None, seg, r, daily
    elif family == "pipeline":
        for seg, r, daily in _rows(_pipeline(src, w, by), w):
            yield None, seg, r, daily
    elif family == "cycle":  # each won deal's days: the median is tested by resampling days
        frame = src.cache.get(("cycle", by, w))
        for seg, g in (cycle_frame(src, w, by) if frame is None else frame).groupby(SEG):
            yield None, str(seg), {"days": tuple(float(x) for x in g["days"]),
                                   "dates": tuple(str(d) for d in g["closed_at"].dt.normalize().dt.date)}, None
    else:
        raise ValueError(f"no family of sufficient statistics named {family!r}")


def _builtin(src: Source, kpis: Iterable[KPI], w: Window, by: str | None,
             funnel_stages: list[str]) -> Iterable[tuple[set[str], Any]]:
    """(KPIs it yields, a function returning {key: summary}) per family the KPIs need; each
    KPI's summary comes from its own declaration (:attr:`salesnb.kpis.KPI.parts`)."""
    from salesnb.kpis import FAMILY_TABLES

    needed: dict[str, list[tuple[str, Any]]] = {}
    for kpi in kpis:
        for family, part in kpi.parts:
            needed.setdefault(family, []).append((kpi.name, part))
    for family, parts in needed.items():
        if not src.has(FAMILY_TABLES[family]) or (family == "stages" and len(funnel_stages) < 2):
            continue

        def compute(family: str = family, parts: list[tuple[str, Any]] = parts) -> dict[Key, Summary]:
            return {(name, stage, seg): part(r, daily, w.days)
                    for stage, seg, r, daily in _family_rows(src, family, w, by, funnel_stages)
                    for name, part in parts}

        yield {name for name, _ in parts}, compute


def _merge(out: dict[Key, Summary], part: dict[Key, Summary]) -> None:
    """Add a family's summaries; summaries of one KPI from two tables add up."""
    for key, value in part.items():
        out[key] = out[key] + value if key in out else value  # type: ignore[operator]


def kpi_problem(src: Source, kpi: KPI) -> str:
    """Why a KPI cannot be computed on this data (``missing_table``, ``missing_column``), or
    "" when it can."""
    if not all(src.has(t) for t in kpi.tables):
        return "missing_table"
    if any(c not in src.columns(t) for t, c in kpi.needs):
        return "missing_column"
    return ""


def summaries(src: Source, kpis: Iterable[KPI], w: Window, by: str | None, *,
              funnel_stages: list[str]) -> tuple[dict[Key, Summary], dict[str, str]]:
    """Summaries per (kpi, stage, segment) for one window, and per-KPI problems.

    The second mapping names KPIs that could not be computed, with why:
    ``missing_table`` or ``not_segmentable``.
    """
    wanted = {k.name: k for k in kpis}
    # kpi_table and compare of one period share the current window: compute it once
    cache_key = ("summaries", w, by, tuple(sorted(wanted)), tuple(funnel_stages),
                 tuple(sorted((k.name, repr(k.spec)) for k in wanted.values() if k.spec)))
    if cache_key in src.cache:
        cached_out, cached_problems = src.cache[cache_key]
        return dict(cached_out), dict(cached_problems)
    out: dict[Key, Summary] = {}
    problems: dict[str, str] = {}
    for kpi in wanted.values():
        problem = kpi_problem(src, kpi)
        if problem:
            problems[kpi.name] = problem
    names = set(wanted) - set(problems)
    for kpi_names, fn in _builtin(src, [wanted[n] for n in sorted(names)], w, by, funnel_stages):
        try:
            _merge(out, fn())
        except NotSegmentable:
            problems.update(dict.fromkeys(kpi_names, "not_segmentable"))
    for kpi in wanted.values():
        if not kpi.spec or kpi.name in problems:
            continue
        try:
            df = _custom(src, kpi, w, by)
        except NotSegmentable:
            problems[kpi.name] = "not_segmentable"
            continue
        for seg, r, daily in _rows(df, w):
            if kpi.kind == "count":
                out[(kpi.name, None, seg)] = Counts(r["n"], w.days, daily("n", "n"))
            elif kpi.kind in ("sum", "mean"):
                out[(kpi.name, None, seg)] = Moments(r["n"], r["s"], r["ss"], w.days, kpi.kind, daily("s", "n"))
            else:
                out[(kpi.name, None, seg)] = RatioMoments(r["rows"], r["sx"], r["sy"], r["sxx"],
                                                          r["syy"], r["sxy"], daily("sx", "sy"))
    result = {k: v for k, v in out.items() if k[0] in wanted and k[0] not in problems}
    src.cache[cache_key] = (result, problems)
    return dict(result), dict(problems)


def segment_sizes(parts: Iterable[Mapping[Key, Summary]], kpi: KPI) -> dict[str, float]:
    """Each segment's size in ``kpi``: its value summed over the windows for a flow (money,
    orders), its events otherwise — what a segment contributes to the headline."""
    sizes: dict[str, float] = {}
    for part in parts:
        for (name, _, seg), summary in part.items():
            if name == kpi.name:
                size = abs(summary.value) if kpi.is_flow else summary.n
                sizes[seg] = sizes.get(seg, 0.0) + (size if size == size else 0.0)
    return sizes


def fold_segments(parts: Sequence[dict[Key, Summary]], kpis: Sequence[KPI], top: int
                  ) -> tuple[list[dict[Key, Summary]], list[str], int]:
    """Keep the ``top`` segments by their size in the first KPI; pool the rest into one
    :data:`OTHERS_LABEL` segment (summaries add up, so the parts still sum to the whole).

    Returns the folded summaries (one mapping per input), the segments kept, largest first,
    and how many were folded (0 when at most ``top + 1`` segments exist: folding one
    segment into "all others" would only rename it).

    >>> from salesnb.kpis import registry
    >>> from salesnb.stats.summaries import Counts
    >>> cur = {("orders", None, s): Counts(float(n), 30) for s, n in [("a", 50), ("b", 30), ("c", 5), ("d", 2)]}
    >>> (folded,), kept, n = fold_segments([cur], [registry()["orders"]], top=2)
    >>> kept, n, folded[("orders", None, "(all others)")].count
    (['a', 'b'], 2, 7.0)
    """
    sizes = segment_sizes(parts, kpis[0])
    for kpi in kpis[1:]:  # segments the first KPI does not see still count
        for seg in segment_sizes(parts, kpi):
            sizes.setdefault(seg, 0.0)
    ranked = sorted(sizes, key=lambda seg: (-sizes[seg], seg))
    if len(ranked) <= top + 1:
        return [dict(p) for p in parts], ranked, 0
    keep = set(ranked[:top])
    out: list[dict[Key, Summary]] = []
    for part in parts:
        folded: dict[Key, Summary] = {}
        for (name, stage, seg), summary in part.items():
            key = (name, stage, seg if seg in keep else OTHERS_LABEL)
            folded[key] = folded[key] + summary if key in folded else summary  # type: ignore[operator]
        out.append(folded)
    return out, ranked[:top], len(ranked) - top


def data_start(src: Source) -> pd.Timestamp:
    """The first moment the data covers: the earliest event date over the event tables
    (orders, leads, deals created; a customer's earlier first purchase does not count)."""
    if "data_start" not in src.cache:
        starts = []
        for table, col in (("orders", "ordered_at"), ("leads", "created_at"), ("deals", "created_at")):
            if src.has(table):
                v = collect(src.frame(table).select(nw.col(col).min()))[col].iloc[0]
                if v is not None and not pd.isna(v):
                    starts.append(pd.Timestamp(v))
        src.cache["data_start"] = min(starts) if starts else pd.Timestamp.min
    return src.cache["data_start"]


def set_complete_through(src: Source, day: str | Any) -> None:
    """Declare the data complete through ``day`` (params ``data_complete_through``): a
    period that ends by then is over even when its last days had no event."""
    try:
        through = pd.Timestamp(str(day)).normalize()
    except (ValueError, TypeError):
        raise ValueError(f"data_complete_through: {day!r} is not a date (YYYY-MM-DD)") from None
    if pd.isna(through):
        raise ValueError(f"data_complete_through: {day!r} is not a date (YYYY-MM-DD)")
    src.cache["complete_through"] = through + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    src.cache.pop("data_end", None)


def data_end(src: Source) -> pd.Timestamp:
    """The last moment the data covers: the latest event date over the event tables, or the
    end of the day the data is declared complete through, whichever is later."""
    if "data_end" not in src.cache:
        ends = []
        for table, col in (("orders", "ordered_at"), ("leads", "created_at"), ("deals", "created_at"),
                           ("deals", "closed_at"), ("returns", "returned_at"), ("deal_stages", "entered_at")):
            if src.has(table) and col in src.columns(table):
                v = collect(src.frame(table).select(nw.col(col).max()))[col].iloc[0]
                if v is not None and not pd.isna(v):
                    ends.append(pd.Timestamp(v))
        if "complete_through" in src.cache:
            ends.append(src.cache["complete_through"])
        src.cache["data_end"] = max(ends) if ends else pd.Timestamp.now()
    return src.cache["data_end"]


def cohort_lags(src: Source, funnel_stages: list[str]) -> dict[tuple[str, str | None], float]:
    """Days within which 90% of a cohort's outcomes arrive (from the whole history).

    ``("conversion_rate", None)``: lead created → converted; ``("return_rate", None)``:
    order → return; ``("stage_conversion", stage)``: entering a stage → the next. A cohort
    younger than this is immature: its rate will still rise.
    """
    key = ("lags", tuple(funnel_stages))
    if key in src.cache:
        return src.cache[key]
    lags: dict[tuple[str, str | None], float] = {}

    def p90(delta: pd.Series) -> float:
        days = pd.to_timedelta(delta).dt.total_seconds().dropna() / 86400
        return float(np.percentile(days, 90)) if len(days) else 0.0

    if src.has("leads") and "converted_at" in src.columns("leads"):
        days = conversion_days(src)
        lags[("conversion_rate", None)] = float(np.percentile(days, 90)) if len(days) else 0.0
    if src.has("returns", "orders"):
        returns = src.frame("returns").select("order_id", "returned_at")
        orders = only_keys(src, src.frame("orders").select("order_id", "ordered_at"), returns, "order_id",
                           semi=False)
        df = collect(returns.join(orders, on="order_id", how="inner"))
        lags[("return_rate", None)] = p90(pd.to_datetime(df["returned_at"]) - pd.to_datetime(df["ordered_at"]))
    if src.has("deal_stages") and len(funnel_stages) > 1:
        for stage, days in _stage_lag_days(src, funnel_stages).items():
            lags[("stage_conversion", stage)] = float(np.percentile(days, 90)) if len(days) else 0.0
    src.cache[key] = lags
    return lags


def _stage_lag_days(src: Source, funnel_stages: Sequence[str]) -> dict[str, np.ndarray]:
    """Days from entering each stage (but the last) to entering the next, for every deal of
    the history that moved on: one query for all stages, each move as a stage number and a
    duration (the moves as timestamps and text took 3 GB at 25 million stage entries; this
    is 16 bytes a move). Stages no deal left are absent.

    >>> import salesnb
    >>> src = salesnb.engines.as_source(salesnb.SalesData({"deal_stages": pd.DataFrame({
    ...     "deal_id": ["1", "1", "2", "2", "2"], "stage": ["a", "b", "a", "b", "c"],
    ...     "entered_at": pd.to_datetime(["2026-10-01 00:00", "2026-10-03 12:00", "2026-10-02 00:00",
    ...                                   "2026-10-03 00:00", "2026-10-10 00:00"])})}))
    >>> {stage: days.tolist() for stage, days in _stage_lag_days(src, ["a", "b", "c", "d"]).items()}
    {'a': [2.5, 1.0], 'b': [7.0]}
    """
    stages = list(funnel_stages)
    df = collect(_moves(src, stages).select("_i", (nw.col("next_at") - nw.col("entered_at")).alias("_took")))
    which = df["_i"].to_numpy(dtype=np.int64)
    days = pd.to_timedelta(df["_took"]).to_numpy() / np.timedelta64(1, "s") / 86400
    out = {}
    for i, stage in enumerate(stages[:-1]):
        mine = days[which == i]
        if len(mine):
            out[str(stage)] = mine[~np.isnan(mine)]
    return out


def conversion_days(src: Source) -> np.ndarray:
    """Days from creation to conversion of every converted lead, pulled from the engine once
    per source (the cohort lags and the marketing table's attribution window both read it;
    at 100M orders that is 1.9M leads, not the 27M of the whole table)."""
    if "conversion days" not in src.cache:
        df = collect(src.frame("leads").select("created_at", "converted_at")
                     .filter(~nw.col("converted_at").is_null() & ~nw.col("created_at").is_null()))
        delta = pd.to_datetime(df["converted_at"]).to_numpy() - pd.to_datetime(df["created_at"]).to_numpy()
        days = delta / np.timedelta64(1, "s") / 86400
        days.flags.writeable = False  # shared by its readers
        src.cache["conversion days"] = days
    return src.cache["conversion days"]


def _moves(src: Source, stages: Sequence[str], w: Window | None = None) -> nw.LazyFrame:
    """Each entry into a stage (but the last) joined to each entry of the same deal into the
    next stage: ``stage``, ``_i`` (its place in the funnel), ``entered_at``, ``next_at``; the
    entries within ``w`` when given."""
    stages = list(stages)
    pairs = src.constant(pd.DataFrame({"stage": stages[:-1], "next_stage": stages[1:],
                                       "_i": np.arange(len(stages) - 1, dtype=np.int64)}))
    st = src.frame("deal_stages").select("deal_id", "stage", "entered_at")
    nxt = st.select("deal_id", nw.col("stage").alias("next_stage"), nw.col("entered_at").alias("next_at"))
    entered = st.filter(in_window("entered_at", w)) if w is not None else st
    return entered.join(pairs, on="stage", how="inner").join(nxt, on=["deal_id", "next_stage"], how="inner")


def stage_moves(src: Source, funnel_stages: Sequence[str], w: Window | None = None) -> pd.DataFrame:
    """Deals that moved on from a stage to the next: ``stage``, ``entered_at``, ``next_at``
    (as pandas timestamps), for entries into the stage within ``w`` when given."""
    df = collect(_moves(src, funnel_stages, w).select("stage", "entered_at", "next_at"))
    return df.assign(entered_at=pd.to_datetime(df["entered_at"]), next_at=pd.to_datetime(df["next_at"]))


def immature(kpi: str, stage: str | None, w: Window, end: pd.Timestamp,
             lags: Mapping[tuple[str, str | None], float]) -> bool:
    """True when the cohort's last members have had less than the typical lag to convert."""
    lag = lags.get((kpi, stage))
    if lag is None or math.isnan(lag):
        return False
    return (end - pd.Timestamp(w.end)).total_seconds() / 86400 < lag


def weekday_profile(src: Source, before: pd.Timestamp, calendar: Any) -> np.ndarray:
    """Mean daily orders (else leads) per weekday, Monday first, then holidays (index 7),
    over the 364 days before ``before``; ones where there is no history."""
    key = ("weekday_profile", before, calendar)
    if key in src.cache:
        return src.cache[key]
    table, col = next(((t, c) for t, c in (("orders", "ordered_at"), ("leads", "created_at")) if src.has(t)),
                      (None, None))
    weights = np.ones(8)
    if table is not None and col is not None:
        w = Window(before.to_pydatetime() - pd.Timedelta(days=364), before.to_pydatetime(), 364)
        df = collect(src.frame(table).select(col).filter(in_window(col, w)).with_columns(_day(col))
                     .group_by(DAY).agg(nw.len().alias("n")))
        if len(df):
            d = Daily.of(pd.to_datetime(df[DAY]).to_numpy().astype("datetime64[D]"), df["n"], df["n"],
                         start=w.start, days=364)
            wd = weekday(d.dates)
            hol = calendar.is_holiday(d.dates)
            for k in range(7):
                m = (wd == k) & ~hol
                weights[k] = d.x[m].mean() if m.any() else 1.0
            weights[7] = d.x[hol].mean() if hol.any() else float(np.mean(weights[:7]))
            if weights.sum() <= 0:
                weights = np.ones(8)
    src.cache[key] = weights
    return weights
