"""Canonical sales data: load any source into the tables of DESIGN.md, validated.

``salesnb.data.schema`` (what the tables look like) imports nothing heavy; the loader and
its validation (pandas, pandera) load on first use.

Examples
--------
>>> import salesnb
>>> data = salesnb.load("data/demo")            # doctest: +SKIP
>>> data.present                                # doctest: +SKIP
('orders', 'returns', 'customers', 'leads', 'deals', 'deal_stages', 'feedback', ...)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from salesnb.data.schema import TABLE_NAMES, TABLES, Column, Table

__all__ = ["SalesData", "load", "TABLES", "TABLE_NAMES", "Table", "Column",
           "DataValidationError", "MissingTableError"]

_EXPORTS = {"SalesData": "salesnb.data.sales", "load": "salesnb.data.sales",
            "MissingTableError": "salesnb.data.sales", "DataValidationError": "salesnb.data.validation"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'salesnb.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from salesnb.data.sales import MissingTableError, SalesData, load  # noqa: F401
    from salesnb.data.validation import DataValidationError  # noqa: F401
