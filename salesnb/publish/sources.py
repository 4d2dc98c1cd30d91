"""The data each period reads, loaded and validated once before any page runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from salesnb import config
from salesnb.periods import parse_period
from salesnb.publish.jobs import Job, PublishError

__all__ = ["validate_sources"]


def _check_periods(jobs: Sequence[Job], data: Any) -> None:
    """A period the data does not reach at all stops the run (one line: the period and the
    span the data covers); a period it reaches in part publishes, with notes on the pages."""
    import pandas as pd

    from salesnb.aggregate import data_end, data_start
    from salesnb.engines import as_source

    src = as_source(data)
    first, last = data_start(src), data_end(src)
    if first == pd.Timestamp.min:
        return
    for job in jobs:
        p = parse_period(job.period, fiscal_year_start=int(job.parameters.get("fiscal_year_start") or 1))
        if p.end_ts <= first or p.start_ts > last:
            raise PublishError(f"period {job.period} ({p.start} to {p.end}) is outside the data, which covers "
                               f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")


def validate_sources(jobs: Sequence[Job]) -> None:
    """Check what the params name before any notebook runs: the custom KPIs, the PDCA
    register and each data source (loaded and validated once).

    Every problem is reported at once (a :class:`PublishError`: exit 2, nothing published
    touched) instead of once per page; a valid load is cached, so the notebooks read it
    from the cache.
    """
    from salesnb.data import load
    from salesnb.params import check_references
    from salesnb.secrets import redact_text

    problems: list[str] = []
    seen: set[str] = set()
    for job in jobs:
        ident = json.dumps([job.parameters.get("custom_kpis"), job.parameters.get("initiatives")],
                           sort_keys=True, default=str)
        if ident not in seen:
            seen.add(ident)
            problems += check_references(job.parameters, root=config.ROOT)
    secrets = frozenset(s for j in jobs for s in j.secrets)
    for job in jobs:
        source, stages = job.parameters.get("source"), job.parameters.get("funnel_stages")
        ident = json.dumps([source, stages], sort_keys=True, default=str)
        if source is None or ident in seen:
            continue
        seen.add(ident)
        try:
            data = load(source, base_dir=config.ROOT, funnel_stages=list(stages) if stages else None, cache=True)
        except ValueError as exc:  # DataValidationError lists every problem; a mapping error names its key
            problems.append(f"the data cannot be loaded:\n{redact_text(str(exc), secrets)}")
            continue
        try:
            _check_periods([j for j in jobs if j.parameters.get("source") == source], data)
        except PublishError as exc:
            problems.append(str(exc))
    if problems:
        raise PublishError("nothing was published:\n" + "\n".join(problems))
