"""salesnb: sales KPIs, honest period comparisons and PDCA cycles, published from notebooks.

>>> import salesnb
>>> salesnb.parse_period("2026-Q3").days
92
"""

from salesnb import config, health, plots
from salesnb.data import DataValidationError, MissingTableError, SalesData, load
from salesnb.periods import Period, parse_period

__version__ = "0.1.0"

__all__ = [
    "__version__", "config", "health", "plots", "load", "SalesData", "DataValidationError",
    "MissingTableError", "Period", "parse_period",
]
