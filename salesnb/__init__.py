"""salesnb: sales KPIs, honest period comparisons and PDCA cycles, published from notebooks.

>>> import salesnb
>>> salesnb.parse_period("2026-Q3").days
92
"""

from salesnb import config, health, plots
from salesnb.compare import compare, kpi_table, kpi_trend, reasons, revenue_drivers, sales_cycle
from salesnb.data import DataValidationError, MissingTableError, SalesData, load
from salesnb.engines import as_source, scan
from salesnb.kpis import REGISTRY, registry
from salesnb.periods import Period, parse_period

__version__ = "0.1.0"

__all__ = [
    "__version__", "config", "health", "plots", "load", "SalesData", "DataValidationError",
    "MissingTableError", "Period", "parse_period", "kpi_table", "compare", "kpi_trend",
    "reasons", "revenue_drivers", "sales_cycle", "scan", "as_source", "REGISTRY", "registry",
]
