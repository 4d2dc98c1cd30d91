"""The report context: built once from params, taken by every page's analysis.

A page's analyses need the same things: the period and its comparison periods, the data
on its engine with the public-holiday calendar, the KPI registry with the custom KPIs, and
the settings (alpha, min_events, funnel stages, currency, attribution window, gross
margin). :func:`report_context` builds them once; the page modules (``overview``, ``funnel``,
``feedback``, ``marketing``, ``team``, ``pdca``, ``health``) take it instead of loose
settings, so no page can drop a custom KPI or use another ``min_events`` than the rest.

In a notebook, after the ``parameters`` cell::

    ctx = salesnb.context_from(globals())

>>> ctx = report_context("2026-Q1", SalesData({}), fiscal_year_start=4, alpha=0.1)  # no tables: just the settings
>>> ctx.period.label, ctx.previous.name, ctx.alpha, "revenue" in ctx.kpis
('2026-Q1 (Apr–Jun 2026)', '2025-Q4', 0.1, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from salesnb.aggregate import set_complete_through
from salesnb.comparisons import DEFAULT_FUNNEL as _FUNNEL
from salesnb.comparisons import DEFAULT_MIN_EVENTS
from salesnb.data import SalesData
from salesnb.engines import Engine, Source, as_source
from salesnb.kpis import KPI, registry
from salesnb.periods import Period, parse_period

__all__ = ["ReportContext", "report_context", "context_from", "daily_store_folder", "DEFAULT_FUNNEL",
           "DEFAULT_MIN_EVENTS", "ATTRIBUTION_DAYS"]

DEFAULT_FUNNEL = tuple(_FUNNEL)
ATTRIBUTION_DAYS = 180  # days of a new customer's revenue counted for ROMI
TOP_SEGMENTS = 12  # segments shown per breakdown before "all others" (params: top_segments)


@dataclass(frozen=True)
class ReportContext:
    """One report's period, data and settings (see :func:`report_context`)."""

    period: Period
    src: Source
    data: SalesData | None = None
    custom_kpis: Mapping[str, Any] = field(default_factory=dict)
    kpis: Mapping[str, KPI] = field(default_factory=dict)
    funnel_stages: tuple[str, ...] = DEFAULT_FUNNEL
    alpha: float = 0.05
    min_events: int = DEFAULT_MIN_EVENTS
    currency: str = ""
    attribution_days: int = ATTRIBUTION_DAYS
    gross_margin: float | None = None
    feedback_themes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    analyst_note: str = ""
    language: str = "en"
    top_segments: int = TOP_SEGMENTS
    calendar: Literal["days", "months"] = "days"

    @property
    def previous(self) -> Period:
        return self.period.previous()

    @property
    def last_year(self) -> Period:
        return self.period.last_year()

    @property
    def fiscal_year_start(self) -> int:
        return self.period.fiscal_year_start

    def at(self, period: str | Period) -> ReportContext:
        """The same report for another period (same data, settings and fiscal year)."""
        return replace(self, period=parse_period(period, fiscal_year_start=self.fiscal_year_start))


def report_context(period: str | Period, source: str | os.PathLike[str] | Mapping[str, Any] | SalesData | Source, *,
            fiscal_year_start: int = 1, funnel_stages: Sequence[str] | None = None, alpha: float = 0.05,
            min_events: int = DEFAULT_MIN_EVENTS, custom_kpis: Mapping[str, Any] | None = None,
            currency: str = "", attribution_days: int = ATTRIBUTION_DAYS, gross_margin: float | None = None,
            holidays: str | Sequence[Any] | None = None, feedback_themes: Mapping[str, Sequence[str]] | None = None,
            analyst_note: str = "", language: str = "en", engine: Engine | None = None, spark_master: str | None = None,
            base_dir: str | os.PathLike[str] | None = None, cache: bool = False,
            top_segments: int = TOP_SEGMENTS, calendar: str = "days",
            data_complete_through: str | date | None = None,
            store: str | os.PathLike[str] | None = None, keep: bool = False) -> ReportContext:
    """Build the context of one report.

    ``source`` is what params name (a folder or a mapping, loaded and validated here, from
    ``base_dir``), or data already loaded (:class:`SalesData`, or a Source from
    :func:`salesnb.scan`). A bad custom KPI or period raises ``ValueError`` naming it.
    ``gross_margin`` 0 means unknown (ROMI on revenue). ``engine`` runs the analyses on
    pandas (default), DuckDB or Spark; ``spark_master`` names the Spark cluster (default
    ``local[2]``; ``spark://host:7077``, ``yarn``, or Spark Connect ``sc://host:15002``).
    ``top_segments``: breakdowns, driver splits and unusual months show this many segments
    and pool the rest into one "all others" row (the workbook lists them all).
    ``store`` is a folder for the daily summary store (:mod:`salesnb.store`): the next run
    recomputes only the days whose rows changed, with exactly the same numbers.
    ``keep`` (with ``cache``) holds the loaded data and its source in this process, so that
    the next report on the same files and settings reuses every aggregate already computed
    (a warm kernel's next page; see :func:`salesnb.load`).
    """
    from salesnb.texts import set_language

    language = set_language(language)  # every text from here on, in the page's language
    p = parse_period(period, fiscal_year_start=fiscal_year_start)
    stages = tuple(funnel_stages) if funnel_stages else DEFAULT_FUNNEL
    data: SalesData | None
    if isinstance(source, SalesData | Source):
        data = source if isinstance(source, SalesData) else None
    else:
        from salesnb.data import load

        data = load(source, base_dir=base_dir, funnel_stages=list(stages), cache=cache, keep=keep)
        if keep:
            # the kept data's sources carry the settings they were made with (calendar, day
            # complete through, store): other settings get sources of their own, and Spark's
            # always new ones (its session is stopped after each page)
            settings = json.dumps([engine, spark_master, holidays, data_complete_through, store], default=str)
            if data.__dict__.get("_kept_for") != settings or (engine == "spark"):
                data.__dict__.pop("_sources", None)
                data.__dict__["_kept_for"] = settings
    src = as_source(data if data is not None else source, engine or None,  # type: ignore[arg-type]
                    holidays=holidays or None, spark_master=spark_master or None)
    if store is not None:
        from salesnb.store import DailyStore

        scope = source if isinstance(source, str | os.PathLike | Mapping) else type(source).__name__
        src.store = DailyStore(store, scope=json.dumps(scope, sort_keys=True, default=str))
    if calendar not in ("days", "months"):
        raise ValueError(f"calendar: days or months, not {calendar!r}")
    if data_complete_through:
        set_complete_through(src, data_complete_through)
    custom = dict(custom_kpis or {})
    return ReportContext(period=p, src=src, data=data, custom_kpis=custom, kpis=registry(custom),
                         funnel_stages=stages, alpha=alpha, min_events=min_events, currency=currency,
                         attribution_days=attribution_days, gross_margin=gross_margin or None,
                         feedback_themes=dict(feedback_themes or {}), analyst_note=analyst_note,
                         language=language, top_segments=max(1, int(top_segments)),
                         calendar=calendar)  # type: ignore[arg-type]


def context_from(namespace: Mapping[str, Any]) -> ReportContext:
    """The context from a notebook's parameters (its ``globals()``): ``period``, ``source``
    and whichever settings the notebook declares; the data is loaded through the cache,
    with relative paths from the project folder."""
    import inspect

    from salesnb import config

    # the settings are report_context's keywords: a notebook passes those it declares
    keywords = set(inspect.signature(report_context).parameters) - {"period", "source", "base_dir", "cache", "keep"}
    settings = {k: namespace[k] for k in keywords if k in namespace}
    return report_context(namespace["period"], namespace["source"], base_dir=Path(config.ROOT), cache=True,
                          keep=True, store=daily_store_folder(), **settings)


def daily_store_folder() -> Path | None:
    """Where reports keep the daily summary store: ``.cache/daily`` in the project, another
    folder named by ``SALESNB_DAILY_STORE``, or none when that is ``off``."""
    from salesnb import config

    setting = os.environ.get("SALESNB_DAILY_STORE", "").strip()
    if setting.lower() == "off":
        return None
    return Path(setting).expanduser() if setting else Path(config.ROOT) / ".cache" / "daily"
