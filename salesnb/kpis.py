"""The KPI registry: every KPI declared once, with the words printed beside its figure.

Built-in KPIs follow DESIGN.md's definitions, and each declares its computation beside
it: ``parts`` turn the totals of a family of sufficient statistics (one query per family in
:mod:`salesnb.aggregate`, shared by all its KPIs) into the KPI's summary. A new KPI over an
existing family is one edit here. An analyst adds a KPI of a simple kind in
``params/base.yaml`` without code::

    custom_kpis:
      big_orders:
        label: Orders over 1,000
        kind: count                 # count | sum | mean | ratio
        table: orders
        date: ordered_at            # default: the table's date column
        where: {status: completed, amount: {">=": 1000}}
        good: up
      events_lead_share:
        label: Share of leads from events
        kind: ratio                 # numerator ÷ denominator, over the same rows
        table: leads
        numerator: {where: {channel: Events}}       # count, or {column: amount} for a sum
        denominator: {}
        unit: share

``where`` maps a column to a value, a list of values, or comparisons
(``{">=": 1000, "<": 5000}``); no code is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from salesnb.data.schema import TABLES
from salesnb.stats import Counts, Daily, Moments, Proportion, Sample, Summary

__all__ = ["KPI", "REGISTRY", "BUILTIN", "registry", "StatKind", "Unit", "Part", "FAMILY_TABLES"]

StatKind = Literal["sum", "count", "proportion", "mean", "median", "ratio", "snapshot"]
Unit = Literal["currency", "count", "share", "days", "units"]

# A built-in KPI is computed from the sufficient statistics of one or more *families* (one
# query each, in salesnb.aggregate, shared by every KPI of the family). A part turns a
# segment's totals ``r`` (and ``daily(x, n)``, the same per day) into the KPI's summary;
# parts from two families add up (refusals: cancelled orders + refusal returns).
Row = Mapping[str, Any]
Part = tuple[str, Callable[[Row, Callable[[str, str], Daily], int], Summary]]
# the table a family reads: a KPI whose family's table is missing is not computed
FAMILY_TABLES = {"orders": "orders", "returns": "returns", "new_customers": "orders", "leads": "leads",
                 "deals_closed": "deals", "cycle": "deals", "pipeline": "deals", "stages": "deal_stages"}


@dataclass(frozen=True)
class KPI:
    """One KPI: what it is, how it is computed, which way is good, how it is tested."""

    name: str
    label: str
    unit: Unit
    formula: str
    population: str
    good: Literal["up", "down"]
    kind: StatKind
    tables: tuple[str, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)  # custom KPIs: table, where, …
    parts: tuple[Part, ...] = ()  # built-in KPIs: how each family's totals make the summary
    needs: tuple[tuple[str, str], ...] = ()  # optional columns (table, column) it cannot do without

    @property
    def definition(self) -> str:
        """The sentence printed beside the figure in every report."""
        return f"{self.formula} — {self.population}"

    @property
    def is_flow(self) -> bool:
        """Counts and sums grow with the period's length (compared per day)."""
        return self.kind in ("sum", "count")


def _k(name: str, label: str, unit: Unit, formula: str, population: str, good: Literal["up", "down"],
       kind: StatKind, *tables: str, parts: tuple[Part, ...] = (),
       needs: tuple[tuple[str, str], ...] = ()) -> KPI:
    return KPI(name, label, unit, formula, population, good, kind, tables, parts=parts, needs=needs)


def _negative(daily: Daily) -> Daily:
    return Daily(daily.dates, -daily.x, daily.n)


# the sufficient statistics of each family (columns of its totals r):
#   orders: n, s, ss (amount), q, qq (quantity), returned, cancelled
#   returns: n_ret, s_ret, ss_ret (returns), n_ref (refusals), n_all, s_all, ss_all (both)
#   new_customers, leads: n (and conv: converted leads); deals_closed: n, won
#   pipeline: n, s, ss (open deals); stages: n (entered), advanced; cycle: days, dates


BUILTIN: dict[str, KPI] = {k.name: k for k in [
    _k("revenue", "Sales volume", "currency", "Σ amount of orders not cancelled",
       "orders placed in the period", "up", "sum", "orders",
       parts=(("orders", lambda r, d, days: Moments(r["n"], r["s"], r["ss"], days, "sum", d("s", "n"))),)),
    _k("net_revenue", "Net revenue", "currency", "revenue − Σ amount of returns and refusals",
       "orders placed and returns made in the period", "up", "sum", "orders", "returns",
       parts=(("orders", lambda r, d, days: Moments(r["n"], r["s"], r["ss"], days, "sum", d("s", "n"))),
              # every return and refusal is a negative part of the daily totals
              ("returns", lambda r, d, days: Moments(r["n_all"], -r["s_all"], r["ss_all"], days, "sum",
                                                     _negative(d("s_all", "n_all")))))),
    _k("orders", "Orders", "count", "count of orders not cancelled",
       "orders placed in the period", "up", "count", "orders",
       parts=(("orders", lambda r, d, days: Counts(r["n"], days, d("n", "n"))),)),
    _k("units", "Units sold", "units", "Σ quantity of orders not cancelled",
       "orders placed in the period", "up", "sum", "orders",
       parts=(("orders", lambda r, d, days: Moments(r["n"], r["q"], r["qq"], days, "sum", d("q", "n"))),)),
    _k("average_check", "Average check", "currency", "revenue ÷ orders",
       "orders not cancelled, placed in the period", "up", "mean", "orders",
       parts=(("orders", lambda r, d, days: Moments(r["n"], r["s"], r["ss"], days, "mean", d("s", "n"))),)),
    _k("new_customers", "New customers", "count",
       "customers whose first order not cancelled (whole history, or customers.first_purchase_at)"
       " falls in the period", "customers", "up", "count", "orders",
       parts=(("new_customers", lambda r, d, days: Counts(r["n"], days, d("n", "n"))),),
       needs=(("orders", "customer_id"),)),
    _k("refusals", "Refusals", "count",
       "cancelled orders + returns of kind refusal", "orders placed / refusals made in the period",
       "down", "count", "orders",
       parts=(("orders", lambda r, d, days: Counts(r["cancelled"], days, d("cancelled", "cancelled"))),
              ("returns", lambda r, d, days: Counts(r["n_ref"], days, d("n_ref", "n_ref"))))),
    _k("returns", "Returns", "count", "count of returns of kind return",
       "returns made in the period", "down", "count", "returns",
       parts=(("returns", lambda r, d, days: Counts(r["n_ret"], days, d("n_ret", "n_ret"))),)),
    _k("returns_amount", "Returned amount", "currency", "Σ amount of returns of kind return",
       "returns made in the period", "down", "sum", "returns",
       parts=(("returns", lambda r, d, days: Moments(r["n_ret"], r["s_ret"], r["ss_ret"], days, "sum",
                                                     d("s_ret", "n_ret"))),)),
    _k("return_rate", "Return rate", "share",
       "orders later returned or refused ÷ orders not cancelled",
       "orders placed in the period (linked to the original sale)", "down", "proportion",
       "orders", "returns",
       parts=(("orders", lambda r, d, days: Proportion(r["returned"], r["n"], d("returned", "n"))),)),
    _k("leads", "Leads", "count", "count of leads", "leads created in the period", "up", "count",
       "leads", parts=(("leads", lambda r, d, days: Counts(r["n"], days, d("n", "n"))),)),
    _k("conversion_rate", "Lead-to-sale conversion", "share",
       "leads converted (converted_at set, or a linked won deal) ÷ leads",
       "leads created in the period (a cohort)", "up", "proportion", "leads",
       parts=(("leads", lambda r, d, days: Proportion(r["conv"], r["n"], d("conv", "n"))),)),
    _k("win_rate", "Win rate", "share", "deals won ÷ deals won or lost",
       "deals closed in the period", "up", "proportion", "deals",
       parts=(("deals_closed", lambda r, d, days: Proportion(r["won"], r["n"], d("won", "n"))),),
       needs=(("deals", "closed_at"),)),
    _k("sales_cycle_days", "Sales cycle (median days)", "days",
       "median calendar days from created_at to closed_at", "deals won in the period", "down",
       "median", "deals", parts=(("cycle", lambda r, d, days: Sample(r["days"], r["dates"])),),
       needs=(("deals", "closed_at"),)),
    _k("pipeline_value", "Open pipeline", "currency", "Σ amount of deals still open",
       "deals open at the end of the period (a snapshot, not tested)", "up", "snapshot", "deals",
       parts=(("pipeline", lambda r, d, days: Moments(r["n"], r["s"], r["ss"], days, "sum")),),
       needs=(("deals", "amount"), ("deals", "closed_at"))),
    _k("stage_conversion", "Stage conversion", "share",
       "deals that reached the next funnel stage ÷ deals that entered the stage",
       "deals entering the stage in the period (a cohort)", "up", "proportion", "deal_stages",
       parts=(("stages", lambda r, d, days: Proportion(r["advanced"], r["n"], d("advanced", "n"))),)),
]}

_CUSTOM_KINDS = {"count", "sum", "mean", "ratio"}
_OPS = {"==", "!=", ">", ">=", "<", "<="}


def _custom(name: str, spec: Mapping[str, Any]) -> KPI:
    where = f"custom_kpis.{name}"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: must be a mapping of label, kind, table, …")
    unknown = set(spec) - {"label", "kind", "table", "date", "where", "column", "good", "unit",
                           "numerator", "denominator", "formula"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kind = spec.get("kind")
    if kind not in _CUSTOM_KINDS:
        raise ValueError(f"{where}.kind: {kind!r} is not one of {', '.join(sorted(_CUSTOM_KINDS))}")
    table = spec.get("table")
    if table not in TABLES:
        raise ValueError(f"{where}.table: {table!r} is not a table ({', '.join(TABLES)})")
    date = spec.get("date", TABLES[table].date_column)
    columns = TABLES[table].column_names
    if date not in columns:
        raise ValueError(f"{where}.date: {date!r} is not a column of {table}")
    if kind in ("sum", "mean") and spec.get("column") not in columns:
        raise ValueError(f"{where}.column: {kind} needs a column of {table}, got {spec.get('column')!r}")
    parts = [spec.get("where") or {}]
    if kind == "ratio":
        for side in ("numerator", "denominator"):
            part = spec.get(side)
            if not isinstance(part, Mapping):
                raise ValueError(f"{where}.{side}: a ratio needs numerator and denominator mappings")
            if part.get("column") is not None and part["column"] not in columns:
                raise ValueError(f"{where}.{side}.column: {part['column']!r} is not a column of {table}")
            parts.append(part.get("where") or {})
    for filt in parts:
        _check_where(filt, columns, where)
    good = spec.get("good", "up")
    if good not in ("up", "down"):
        raise ValueError(f"{where}.good: 'up' or 'down', got {good!r}")
    unit = spec.get("unit") or {"count": "count", "sum": "currency", "mean": "currency",
                                "ratio": "share"}[kind]
    if unit not in get_args(Unit):
        raise ValueError(f"{where}.unit: one of {', '.join(get_args(Unit))}; got {unit!r}")
    from salesnb.texts import t

    what = f"{table}.{spec['column']}" if spec.get("column") else table
    formula = spec.get("formula") or t(f"custom.{kind}", what=what) + (
        t("custom.where", where=dict(spec["where"])) if spec.get("where") else "")
    return KPI(name, str(spec.get("label", name)), cast(Unit, unit), formula,
               t("custom.population", table=table, date=date), good,
               kind, (table,), dict(spec, date=date))


def _check_where(filt: Any, columns: list[str], where: str) -> None:
    if not isinstance(filt, Mapping):
        raise ValueError(f"{where}.where: must map columns to values")
    for col, cond in filt.items():
        if col not in columns:
            raise ValueError(f"{where}.where: {col!r} is not a column of the table")
        if isinstance(cond, Mapping):
            bad = set(cond) - _OPS
            if bad:
                raise ValueError(f"{where}.where.{col}: unknown comparisons {sorted(bad)}; "
                                 f"use {', '.join(sorted(_OPS))}")


def _in_language(kpi: KPI) -> KPI:
    """A built-in KPI with its label and definition in the report's language (a custom KPI
    keeps the words its author wrote)."""
    from dataclasses import replace

    from salesnb.texts import t

    return replace(kpi, label=t(f"kpi.{kpi.name}.label"), formula=t(f"kpi.{kpi.name}.formula"),
                   population=t(f"kpi.{kpi.name}.population"))


def registry(custom: Mapping[str, Any] | None = None) -> dict[str, KPI]:
    """The built-in KPIs plus custom ones from params (``custom_kpis``), validated.

    >>> sorted(registry({"big": {"kind": "count", "table": "orders",
    ...                          "where": {"amount": {">=": 1000}}}}))[:3]
    ['average_check', 'big', 'conversion_rate']
    """
    import json

    from salesnb import texts

    try:  # a page asks for it about a hundred times: built once per language and definitions
        key = (texts.language(), json.dumps(custom or {}, sort_keys=True, default=repr))
    except (TypeError, ValueError):  # keys json cannot order: built every time
        key = None
    if key is not None and key in _REGISTRIES:
        return dict(_REGISTRIES[key])
    out = dict(BUILTIN) if texts.language() == "en" else {k: _in_language(v) for k, v in BUILTIN.items()}
    for name, spec in (custom or {}).items():
        if name in BUILTIN:
            raise ValueError(f"custom_kpis.{name}: the name is taken by a built-in KPI")
        out[name] = _custom(name, spec)
    if key is not None:
        if len(_REGISTRIES) >= 64:  # bounded: definitions come from params
            _REGISTRIES.clear()
        _REGISTRIES[key] = out
    return dict(out)


_REGISTRIES: dict[tuple[str, str], dict[str, KPI]] = {}


REGISTRY = BUILTIN
