"""Data health: what is loaded, how much, over which dates, and whether it can be trusted.

The data_health notebook narrates these tables; every number on that page comes from here.
"""

from __future__ import annotations

import pandas as pd

from salesnb.data import TABLES, SalesData
from salesnb.periods import Period, parse_period

__all__ = ["table_summary", "key_checks", "column_completeness", "rows_per_month"]


def table_summary(data: SalesData, period: Period | str) -> pd.DataFrame:
    """One row per canonical table: loaded or not, rows, rows in the period, date range.

    Returns
    -------
    DataFrame
        ``table``, ``loaded`` (``yes``/``no``), ``rows``, ``rows_in_period``, ``first``, ``last``
        (of the table's date column), ``columns`` (present of canonical, e.g. ``"6/11"``),
        ``description``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_id": ["1", "2"], "customer_id": ["a", "b"],
    ...     "ordered_at": pd.to_datetime(["2026-09-30", "2026-10-02"]),
    ...     "amount": [10.0, 20.0], "status": ["completed", "completed"]})
    >>> t = table_summary(SalesData({"orders": orders}), "2026-10")
    >>> t.loc[t.table == "orders", ["rows", "rows_in_period"]].to_dict("records")
    [{'rows': 2, 'rows_in_period': 1}]
    """
    p = parse_period(period)
    rows = []
    for name, table in TABLES.items():
        df = data.get(name)
        row = {"table": name, "loaded": "yes" if df is not None else "no", "rows": 0, "rows_in_period": 0,
               "first": pd.NaT, "last": pd.NaT, "columns": f"0/{len(table.columns)}",
               "description": table.description}
        if df is not None:
            row["rows"] = len(df)
            row["columns"] = f"{sum(c in df.columns for c in table.column_names)}/{len(table.columns)}"
            if table.date_column and table.date_column in df.columns:
                dates = df[table.date_column]
                row.update(first=dates.min(), last=dates.max(),
                           rows_in_period=int(p.contains(dates).sum()))
            elif name == "targets":
                row["rows_in_period"] = int((df["period"] == p.name).sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.astype({"rows": "int64", "rows_in_period": "int64"})


def _check(name: str, table: str, ok: bool | None, detail: str) -> dict[str, str]:
    result = "missing" if ok is None else ("ok" if ok else "warning")
    return {"check": name, "table": table, "result": result, "detail": detail}


def key_checks(data: SalesData, period: Period | str) -> pd.DataFrame:
    """The checks a reader needs before trusting the period's numbers.

    Returns
    -------
    DataFrame
        ``check``, ``table``, ``result`` (``ok``, ``warning`` or ``missing`` when the
        table is not loaded) and ``detail``.
    """
    p = parse_period(period)
    out = []
    orders = data.get("orders")
    if orders is None:
        out.append(_check("orders cover the period", "orders", None, "no orders table"))
    else:
        last = orders["ordered_at"].max()
        covered = pd.notna(last) and last >= p.end_ts - pd.Timedelta(days=1)
        out.append(_check("orders cover the period", "orders", bool(covered),
                          f"last order {last:%Y-%m-%d %H:%M}; period ends {p.end:%Y-%m-%d}"
                          if pd.notna(last) else "no orders"))
        in_p = orders[p.contains(orders["ordered_at"])]
        cancelled = float((in_p["status"] == "cancelled").mean()) if len(in_p) else 0.0
        out.append(_check("cancelled share of orders in the period", "orders",
                          cancelled < 0.2, f"{cancelled:.1%} of {len(in_p):,} orders"))
    returns = data.get("returns")
    if returns is None:
        out.append(_check("returns linked to orders", "returns", None, "no returns table"))
    else:
        linked = orders is not None
        out.append(_check("returns linked to orders", "returns", linked,
                          "every return names a loaded order (checked on load)" if linked
                          else "orders are not loaded: return rate cannot be computed"))
    leads, deals = data.get("leads"), data.get("deals")
    if leads is None:
        out.append(_check("leads for conversion", "leads", None, "no leads table: no conversion rate"))
    else:
        has_outcome = "converted_at" in leads.columns or (deals is not None and "lead_id" in deals.columns)
        out.append(_check("leads carry their conversion", "leads", has_outcome,
                          "converted_at or linked deals present" if has_outcome
                          else "neither converted_at nor deals.lead_id: conversion unknown"))
    stages = data.get("deal_stages")
    out.append(_check("funnel stage history", "deal_stages", None if stages is None else len(stages) > 0,
                      "no deal_stages table: no stage conversion" if stages is None
                      else f"{stages['stage'].nunique()} stages, {stages['deal_id'].nunique():,} deals"))
    targets = data.get("targets")
    if targets is None:
        out.append(_check("targets for the period", "targets", None, "no targets table"))
    else:
        kpis = sorted(targets.loc[targets["period"] == p.name, "kpi"].unique())
        months = [str(m) for m in pd.period_range(p.start, p.end, freq="M")]
        by_month = targets[targets["period"].isin(months)].groupby("period")["kpi"].unique()
        if kpis:
            out.append(_check("targets for the period", "targets", True,
                              f"{len(kpis)} KPIs: {', '.join(kpis)}"))
        elif p.kind in ("quarter", "year") and len(by_month) == len(months):
            common = sorted(set.intersection(*(set(k) for k in by_month)))
            out.append(_check("targets for the period", "targets", bool(common),
                              f"monthly targets for all {len(months)} months, {len(common)} KPIs: "
                              f"{', '.join(common)}"))
        else:
            out.append(_check("targets for the period", "targets", False,
                              f"no target names period {p.name}"))
    out.append(_check("validation warnings", "all", not data.warnings,
                      f"{len(data.warnings)} warnings (listed below)" if data.warnings else "none"))
    return pd.DataFrame(out)


def column_completeness(data: SalesData) -> pd.DataFrame:
    """Share of filled cells per loaded column (optional columns are often sparse).

    Returns
    -------
    DataFrame
        ``table``, ``column``, ``required`` (bool), ``filled`` (share 0–1).
    """
    rows = []
    for name in data.present:
        df = data[name]
        for col in TABLES[name].columns:
            if col.name in df.columns:
                filled = float(df[col.name].notna().mean()) if len(df) else 0.0
                rows.append({"table": name, "column": col.name, "required": col.required,
                             "filled": filled})
    return pd.DataFrame(rows, columns=["table", "column", "required", "filled"])


def rows_per_month(data: SalesData, *, since: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Rows per calendar month of each loaded table's date column, tidy.

    ``since`` drops earlier months (customers' first purchases can reach back years).

    Returns
    -------
    DataFrame
        ``table``, ``month`` (Timestamp of the month's first day), ``rows``.
    """
    frames = []
    for name in data.present:
        col = TABLES[name].date_column
        df = data[name]
        if col is None or col not in df.columns:
            continue
        dates = df[col].dropna()
        if since is not None:
            dates = dates[dates >= pd.Timestamp(since)]
        month = dates.dt.to_period("M").dt.to_timestamp()
        counts = month.value_counts().sort_index()
        frames.append(pd.DataFrame({"table": name, "month": counts.index,
                                    "rows": counts.to_numpy()}))
    if not frames:
        return pd.DataFrame({"table": pd.Series(dtype="str"), "month": pd.Series(dtype="datetime64[us]"),
                             "rows": pd.Series(dtype="int64")})
    return pd.concat(frames, ignore_index=True)
