"""Validation of the canonical tables: every problem at once, each naming table, column,
rows and values, so that an analyst can fix the data from the message alone.

Column rules (required values present, amounts ≥ 0, allowed values, unique ids) are a
pandera schema built from :mod:`salesnb.data.schema`; rules across tables (returns of
unknown orders, an order with several customers, dates in the future) are checked here.
Problems that make numbers wrong are errors; oddities that a report should mention but
that do not stop it are warnings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd


@contextmanager
def _quiet_pyspark() -> Iterator[None]:
    """pandera imports pyspark.pandas when pyspark is installed (for the Spark engine), on
    import and again on its first validation; pyspark then warns that it does not fully
    support pandas 3. That is not about the data being loaded, so it is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        yield


with _quiet_pyspark():
    import pandera.pandas as pa

from salesnb.data.schema import TABLES  # noqa: E402  (after pandera's quiet import)

__all__ = ["Problems", "Problem", "validate", "DataValidationError", "is_in", "ODDITIES"]

_SAMPLES = 5


class DataValidationError(ValueError):
    """Raised by :func:`salesnb.load` with every problem found; ``problems`` lists them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{len(problems)} data problem{'s' * (len(problems) != 1)} found; "
                 "nothing was loaded. Fix the source or its mapping in params:"]
        lines += [f"- {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Problem:
    """One problem: where (table, column, rows) and what (message, sample values)."""

    table: str
    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    count: int = 0
    values: tuple[str, ...] = ()
    row_word: str = "line"
    all_rows: tuple[int, ...] = field(default=(), compare=False, repr=False)  # every offending row

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.message}"
        if self.count:
            more = f" (first {len(self.rows)} of {self.count})" if self.count > len(self.rows) else ""
            text = (f"{where}: {self.message} — {self.count} value{'s' * (self.count != 1)}, "
                    f"{self.row_word}{'s' * (len(self.rows) != 1)} "
                    f"{', '.join(map(str, self.rows))}{more}: {', '.join(self.values)}")
        return text


@dataclass
class Problems:
    """Collects problems while loading; raises them together at the end."""

    items: list[Problem] = field(default_factory=list)

    def add(self, table: str, column: str | None, message: str, offending: pd.Series,
            row_word: str = "line") -> None:
        """Record ``offending`` values (indexed by the row number a person sees)."""
        head = offending.head(_SAMPLES)
        self.items.append(Problem(
            table, column, message, tuple(int(i) for i in head.index), len(offending),
            tuple(_show(v) for v in head.tolist()), row_word, tuple(int(i) for i in offending.index),
        ))

    def note(self, table: str, column: str | None, message: str) -> None:
        self.items.append(Problem(table, column, message))

    def missing_column(self, table: str, column: str, present: list[str], file: str) -> None:
        self.note(table, column, (
            f"required column is missing from {file} (after mapping the columns are: "
            f"{', '.join(present) or 'none'}); map a source column to it under "
            f"source.tables.{table}.columns, or give it under defaults"
        ))

    def raise_if_any(self) -> None:
        if self.items:
            raise DataValidationError(self.items)


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return repr(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value) if isinstance(value, str) else str(value)


def _schema(name: str, present: list[str]) -> pa.DataFrameSchema:
    """The pandera schema of one table, for the columns that are present."""
    table = TABLES[name]
    columns = {}
    for col in table.columns:
        if col.name not in present:
            continue
        checks = []
        if col.kind == "amount":
            checks.append(pa.Check.ge(0, error="negative"))
        if col.allowed:
            checks.append(pa.Check.isin(list(col.allowed), error="allowed"))
        columns[col.name] = pa.Column(
            nullable=not col.required, unique=col.name == table.key, checks=checks,
            required=False, coerce=False,
        )
    return pa.DataFrameSchema(columns, name=name)


_MESSAGES = {
    "not_nullable": "empty in a required column",
    "negative": "negative (amounts must be ≥ 0)",
    "field_uniqueness": "duplicate ids",
}


def _column_rules(name: str, df: pd.DataFrame, row_word: str, problems: Problems) -> None:
    try:
        with _quiet_pyspark():
            _schema(name, list(df.columns)).validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
            rows = group["index"]
            offending = df.loc[rows[rows.notna()].astype(int).unique(), column]
            if check == "allowed":
                allowed = TABLES[name].column(column).allowed
                message = (f"not one of {', '.join(allowed)}; map them under "
                           f"source.tables.{name}.values.{column}")
            else:
                message = _MESSAGES.get(str(check), str(check))
            problems.add(name, str(column), message, offending, row_word)


def validate(tables: Mapping[str, pd.DataFrame], row_words: Mapping[str, str],
             problems: Problems, *, as_of: pd.Timestamp,
             funnel_stages: list[str] | None = None) -> list[str]:
    """Check the converted tables; add errors to ``problems`` and return the warnings.

    Each table's index holds the source row numbers used in the messages.
    """
    warnings: list[str] = []
    for name, df in tables.items():
        word = row_words.get(name, "line")
        _column_rules(name, df, word, problems)
        for col in TABLES[name].columns:
            if col.kind == "datetime" and not col.future_ok and col.name in df.columns:
                future = df[col.name] > as_of
                if future.any():
                    problems.add(name, col.name, f"in the future (after {as_of:%Y-%m-%d %H:%M})",
                                 df.loc[future, col.name], word)

    orders = tables.get("orders")
    if orders is not None and {"order_id", "customer_id"} <= set(orders.columns):
        per_order = orders.groupby("order_id")["customer_id"].transform("nunique")
        several = orders[per_order > 1]
        if len(several):
            ids = ", ".join(map(repr, several["order_id"].unique()[:_SAMPLES]))
            problems.add("orders", "customer_id",
                         f"one order_id names several customers (orders {ids})",
                         several["customer_id"], row_words.get("orders", "line"))

    _foreign_key(tables, "returns", "order_id", "orders", row_words, problems, error=True)
    _foreign_key(tables, "deal_stages", "deal_id", "deals", row_words, problems, error=True)
    for child, key, parent in (("leads", "campaign_id", "campaigns"), ("deals", "lead_id", "leads"),
                               ("feedback", "order_id", "orders")):
        warnings += _foreign_key(tables, child, key, parent, row_words, problems, error=False)

    warnings += _oddities(tables, funnel_stages)
    warnings += _targets(tables.get("targets"), row_words.get("targets", "line"), problems)
    return warnings


def _targets(targets: pd.DataFrame | None, word: str, problems: Problems) -> list[str]:
    """Targets whose period is not a period are errors; targets of a KPI nobody defined would
    never show: a warning names them (custom KPIs are checked when params are read)."""
    if targets is None or "period" not in targets.columns:
        return []
    from salesnb.kpis import REGISTRY
    from salesnb.periods import parse_period

    def bad(value: object) -> bool:
        try:
            parse_period(str(value))
        except ValueError:
            return True
        return False

    wrong = targets["period"].notna() & targets["period"].map(bad).astype(bool)
    if wrong.any():
        problems.add("targets", "period", "not a period (2026-10, 2026-Q3, 2026, 2026-W42 or a..b)",
                     targets.loc[wrong, "period"], word)
    if "kpi" not in targets.columns:
        return []
    unknown = targets["kpi"].notna() & ~targets["kpi"].isin(list(REGISTRY))
    if not unknown.any():
        return []
    names = ", ".join(map(repr, targets.loc[unknown, "kpi"].unique()[:_SAMPLES]))
    return [f"targets.kpi: {int(unknown.sum())} rows name KPIs that are not built in ({names}): they show only "
            f"if params define them under custom_kpis"]


def is_in(values: pd.Series, reference: pd.Series) -> pd.Series:
    """``values.isin(reference)``, fast for text keys.

    pandas' ``isin`` on ``str`` columns loops in Python (0.5 s for 6k returns against
    150k orders); a hash lookup through an Index takes 20 ms.
    """
    index = pd.Index(reference.dropna().unique())
    return pd.Series(index.get_indexer(values) != -1, index=values.index)


def _foreign_key(tables: Mapping[str, pd.DataFrame], child: str, col: str, parent: str,
                 row_words: Mapping[str, str], problems: Problems, *, error: bool) -> list[str]:
    """Rows of ``child`` whose ``col`` names no row of ``parent`` (when both are loaded)."""
    c, p = tables.get(child), tables.get(parent)
    if c is None or p is None or col not in c.columns or col not in p.columns:
        return []
    values = c[col]
    unknown = values.notna() & ~is_in(values, p[col])
    if not unknown.any():
        return []
    if error:
        problems.add(child, col, f"not found in {parent}.{col}", values[unknown],
                     row_words.get(child, "line"))
        return []
    sample = ", ".join(map(repr, values[unknown].unique()[:_SAMPLES]))
    return [f"{child}.{col}: {int(unknown.sum())} rows point at no row of {parent} ({sample})"]


# the oddities a load reports, each as "<text>: <n> rows" (salesnb.health translates them)
ODDITIES = {
    "zero_amount": "orders.amount: orders of amount 0",
    "guest_orders": "orders.customer_id: guest orders without a customer (in sales; not in new customers)",
    "returned_before_order": "returns.returned_at: returned before the order was placed",
    "return_above_order": "returns.amount: more than the order's amount",
    "closed_before_created": "deals.closed_at: closed before created",
    "closed_without_date": "deals.closed_at: won or lost deals without a close date",
    "converted_before_created": "leads.converted_at: converted before created",
}


def _oddities(tables: Mapping[str, pd.DataFrame], funnel_stages: list[str] | None) -> list[str]:
    """Warnings: things that look wrong but do not stop a report."""
    out: list[str] = []

    def warn(mask: pd.Series, text: str) -> None:
        if mask.any():
            out.append(f"{text}: {int(mask.sum())} rows")

    orders, returns, deals, leads = (tables.get(n) for n in ("orders", "returns", "deals", "leads"))
    if orders is not None and "amount" in orders.columns:
        warn(orders["amount"] == 0, ODDITIES["zero_amount"])
    if orders is not None and "customer_id" in orders.columns:
        warn(orders["customer_id"].isna(),
             ODDITIES["guest_orders"])
    if returns is not None and orders is not None and {"order_id", "returned_at"} <= set(returns.columns):
        linked = returns.merge(orders[["order_id", "ordered_at", "amount"]], on="order_id",
                               how="inner", suffixes=("", "_order"))
        warn(linked["returned_at"] < linked["ordered_at"],
             ODDITIES["returned_before_order"])
        if "amount" in linked.columns:
            warn(linked["amount"] > linked["amount_order"] + 0.005,
                 ODDITIES["return_above_order"])
    if deals is not None and {"closed_at", "created_at", "outcome"} <= set(deals.columns):
        warn(deals["closed_at"] < deals["created_at"], ODDITIES["closed_before_created"])
        warn(deals["outcome"].isin(["won", "lost"]) & deals["closed_at"].isna(),
             ODDITIES["closed_without_date"])
    if leads is not None and "converted_at" in leads.columns:
        warn(leads["converted_at"] < leads["created_at"],
             ODDITIES["converted_before_created"])
    stages = tables.get("deal_stages")
    if stages is not None and funnel_stages and {"deal_id", "stage", "entered_at"} <= set(stages.columns):
        known = stages[stages["stage"].isin(funnel_stages)]
        order = known["stage"].map({st: i for i, st in enumerate(funnel_stages)})
        ranked = known.assign(_rank=order).sort_values(["deal_id", "entered_at"], kind="stable")
        backwards = ranked.groupby("deal_id")["_rank"].diff() < 0
        if backwards.any():
            out.append(f"deal_stages: {int(ranked.loc[backwards, 'deal_id'].nunique())} deals entered a stage "
                       f"before one that comes earlier in params funnel_stages (check the stage order)")
    if stages is not None and funnel_stages and "stage" in stages.columns:
        unknown = ~stages["stage"].isin(funnel_stages)
        if unknown.any():
            names = ", ".join(map(repr, stages.loc[unknown, "stage"].unique()[:_SAMPLES]))
            out.append(f"deal_stages.stage: {int(unknown.sum())} rows name stages missing from "
                       f"params funnel_stages ({names})")
    return out
