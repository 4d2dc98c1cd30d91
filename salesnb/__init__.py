"""salesnb: sales KPIs, honest period comparisons and PDCA cycles, published from notebooks.

The public names below load on first use, so that ``salesnb report`` starts quickly when
nothing needs to run.

>>> import salesnb
>>> salesnb.parse_period("2026-Q3").days
92
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load": "salesnb.data", "SalesData": "salesnb.data", "DataValidationError": "salesnb.data",
    "MissingTableError": "salesnb.data", "Period": "salesnb.periods", "parse_period": "salesnb.periods",
    "kpi_table": "salesnb.comparisons", "compare": "salesnb.comparisons", "kpi_trend": "salesnb.comparisons",
    "reasons": "salesnb.comparisons", "revenue_drivers": "salesnb.comparisons",
    "sales_cycle": "salesnb.comparisons",
    "scan": "salesnb.engines", "as_source": "salesnb.engines", "REGISTRY": "salesnb.kpis",
    "registry": "salesnb.kpis", "report_context": "salesnb.context", "context_from": "salesnb.context",
    "ReportContext": "salesnb.context",
}
# the modules a notebook may use (aggregate, publish, cli and calibration are internals)
_MODULES = {"config", "health", "plots", "present", "overview", "stats", "kpis", "periods",
            "pdca", "funnel", "feedback", "marketing", "team", "data", "engines", "comparisons", "params", "context",
            "secrets", "forecast", "scoring", "offers", "texts", "workbook", "findings", "activities", "opportunities"}

__all__ = ["__version__", *_EXPORTS, *sorted(_MODULES)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"salesnb.{name}")
    else:
        raise AttributeError(f"module 'salesnb' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from salesnb import config, health, overview, plots, present  # noqa: F401
    from salesnb.comparisons import compare, kpi_table, kpi_trend, reasons, revenue_drivers, sales_cycle  # noqa: F401
    from salesnb.context import ReportContext, context_from, report_context  # noqa: F401
    from salesnb.data import DataValidationError, MissingTableError, SalesData, load  # noqa: F401
    from salesnb.engines import as_source, scan  # noqa: F401
    from salesnb.kpis import REGISTRY, registry  # noqa: F401
    from salesnb.periods import Period, parse_period  # noqa: F401
