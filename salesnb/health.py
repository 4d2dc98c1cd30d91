"""Data health: what is loaded, how much, over which dates, and whether it can be trusted.

The data_health notebook narrates these tables; every number on that page comes from here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from salesnb import texts
from salesnb.data import TABLES, SalesData
from salesnb.periods import Period, parse_period
from salesnb.texts import t

__all__ = ["table_summary", "key_checks", "column_completeness", "rows_per_month", "warning_lines", "engine_choice"]


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
        row = {"table": texts.table_name(name), "loaded": texts.yes_no(df is not None) if texts.language() != "en"
               else ("yes" if df is not None else "no"), "rows": 0, "rows_in_period": 0,
               "first": pd.NaT, "last": pd.NaT, "columns": f"0/{len(table.columns)}",
               "description": t(f"table.{name}") if texts.language() != "en" else table.description}
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
    return {"check": t(f"health.{name}"), "table": texts.table_name(table) if table != "all" else t("health.all"),
            "result": result, "detail": detail}


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
        out.append(_check("orders_cover", "orders", None, t("health.no_orders_table")))
    else:
        last = orders["ordered_at"].max()
        covered = pd.notna(last) and last >= p.end_ts - pd.Timedelta(days=1)
        out.append(_check("orders_cover", "orders", bool(covered),
                          t("health.last_order", last=f"{texts.day(last)} {last:%H:%M}", end=texts.day(p.end))
                          if pd.notna(last) else t("health.no_orders")))
        in_p = orders[p.contains(orders["ordered_at"])]
        cancelled = float((in_p["status"] == "cancelled").mean()) if len(in_p) else 0.0
        out.append(_check("cancelled_share", "orders",
                          cancelled < 0.2, t("health.share_of_orders", share=texts.percent(cancelled),
                                             n=texts.number(len(in_p)))))
    returns = data.get("returns")
    if returns is None:
        out.append(_check("returns_linked", "returns", None, t("health.no_returns_table")))
    else:
        linked = orders is not None
        out.append(_check("returns_linked", "returns", linked,
                          t("health.returns_named") if linked else t("health.no_orders_for_returns")))
    leads, deals = data.get("leads"), data.get("deals")
    if leads is None:
        out.append(_check("leads_for_conversion", "leads", None, t("health.no_leads_table")))
    else:
        has_outcome = "converted_at" in leads.columns or (deals is not None and "lead_id" in deals.columns)
        out.append(_check("leads_carry_conversion", "leads", has_outcome,
                          t("health.conversion_present") if has_outcome else t("health.conversion_unknown")))
    stages = data.get("deal_stages")
    out.append(_check("stage_history", "deal_stages", None if stages is None else len(stages) > 0,
                      t("health.no_stages_table") if stages is None
                      else t("health.stages_deals", stages=stages["stage"].nunique(),
                             deals=texts.number(stages["deal_id"].nunique()))))
    targets = data.get("targets")
    if targets is None:
        out.append(_check("targets_for_period", "targets", None, t("health.no_targets_table")))
    else:
        kpis = sorted(targets.loc[targets["period"] == p.name, "kpi"].unique())
        months = [str(m) for m in pd.period_range(p.start, p.end, freq="M")]
        by_month = targets[targets["period"].isin(months)].groupby("period")["kpi"].unique()
        if kpis:
            out.append(_check("targets_for_period", "targets", True,
                              t("health.kpis_targeted", n=len(kpis), kpis=", ".join(kpis))))
        elif p.kind in ("quarter", "year") and len(by_month) == len(months):
            common = sorted(set.intersection(*(set(k) for k in by_month)))
            out.append(_check("targets_for_period", "targets", bool(common),
                              t("health.monthly_targets", months=len(months), n=len(common), kpis=", ".join(common))))
        else:
            out.append(_check("targets_for_period", "targets", False, t("health.no_target_for", period=p.name)))
    out.append(_check("validation_warnings", "all", not data.warnings,
                      t("health.n_warnings", n=len(data.warnings)) if data.warnings else t("health.none")))
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
                rows.append({"table": texts.table_name(name), "column": col.name, "required": col.required,
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


def warning_lines(data: SalesData) -> list[str]:
    """The load's validation warnings in the report's language (a note the catalogue does not
    know, such as a mapping's own, stays as the loader wrote it).

    >>> warning_lines(SalesData({}, warnings=["orders.amount: orders of amount 0: 80 rows"]))
    ['orders.amount: orders of amount 0: 80 rows']
    """
    import re

    from salesnb.data.validation import ODDITIES

    known = {text: key for key, text in ODDITIES.items()}
    out = []
    for line in data.warnings:
        m = re.fullmatch(r"(.*): (\d+) rows", line)
        key = known.get(m.group(1)) if m else None
        out.append(t(f"warning.{key}", n=texts.number(int(m.group(2)))) if m and key else line)
    return out


_SPANS = {"setting": "{setting}", "other": "{other}"}  # filled by present.engine_note, as code


def engine_choice(src: Any) -> dict[str, str]:
    """Which engine computed the page and why: ``engine`` (its description), ``why`` (a text
    of the report's language, with ``{setting}`` and ``{other}`` left for code spans) and
    ``setting``/``other``, the names to put there.

    >>> import pandas as pd
    >>> from salesnb.engines import as_source
    >>> choice = engine_choice(as_source(SalesData({"orders": pd.DataFrame({"order_id": ["1"]})})))
    >>> choice["engine"], choice["other"], choice["setting"]
    ('pandas', 'duckdb', 'engine: auto')
    """
    from salesnb.engines import AUTO_DUCKDB_ROWS

    other = "pandas" if src.engine == "duckdb" else "duckdb"
    if src.chosen == "auto":
        key = "health.engine_auto_large" if src.engine == "duckdb" else "health.engine_auto_small"
        why = t(key, rows=texts.number(src.rows or 0), limit=texts.number(AUTO_DUCKDB_ROWS), **_SPANS)
    elif src.chosen == "scanned":
        why = t("health.engine_scanned", **_SPANS)
    else:
        why = t("health.engine_asked", **_SPANS)
    return {"engine": src.description or src.engine, "why": why, "setting": f"engine: {src.chosen}"
            if src.chosen == "auto" else f"engine: {src.engine}", "other": other}
