"""Benchmark: one period's page analyses (every page's tables, not only the scorecard) on
the 10-million-order benchmark data, on pandas, DuckDB and local Spark.

Each engine runs in its own process (peak memory is that process and its children, Spark's
JVM included). The tables of every page must agree across engines; the first engine is the
yardstick of the ratios.

    python bench/bench_pages.py [--data bench/data] [--period 2026-10] [--engines duckdb pandas spark]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kpis import _peak_mb, engine_args, run_children  # noqa: E402  (the same measure and runner)

FUNNEL = ["qualified", "meeting", "proposal", "negotiation", "won"]


def pages(ctx: object) -> dict[str, object]:
    """The analyses of the six pages for one period (what the notebooks compute): the
    scorecard and its breakdowns, trends, unusual months, revenue drivers, reasons, the sales
    cycle, the funnel, feedback, marketing, the team and the PDCA checks."""
    import salesnb
    from salesnb import config, feedback, funnel, marketing, overview, pdca, team

    src, p = ctx.src, ctx.period  # type: ignore[attr-defined]
    register = pdca.read_register(config.PARAMS_DIR / "initiatives.yaml")
    return {
        "trend": lambda: salesnb.kpi_trend(src, p, kpis=overview.TREND_KPIS, funnel_stages=FUNNEL),
        "unusual_months": lambda: feedback.anomalies(ctx, overview.TREND_KPIS, periods=24),
        "revenue_drivers": lambda: salesnb.revenue_drivers(src, p, by="channel"),
        "reasons": lambda: salesnb.reasons(src, p, kind="returns"),
        "sales_cycle": lambda: salesnb.sales_cycle(src, p),
        "pdca": lambda: pdca.check_all(ctx, register),
        "scorecard": lambda: overview.scorecard(ctx), "breakdown": lambda: overview.breakdown(ctx, "region"),
        "stage_table": lambda: funnel.stage_table(ctx), "weak_spots": lambda: funnel.weak_spots(ctx),
        "lost_reasons": lambda: funnel.lost_reasons(ctx), "cycle_incidence": lambda: funnel.cycle_incidence(ctx),
        "conversion_by": lambda: funnel.conversion_by(ctx, "channel"),
        "feedback_summary": lambda: feedback.summary(ctx), "linked_reasons": lambda: feedback.linked_reasons(
            ctx, by="product"),
        "channels": lambda: marketing.channel_table(ctx), "reps": lambda: team.rep_table(ctx),
    }


def _digest(frame: object) -> list:
    """A frame's values as JSON-able rows (floats in full, NaN as None)."""
    import math

    import pandas as pd

    assert isinstance(frame, pd.DataFrame)

    def cell(v: object) -> object:
        if isinstance(v, float):
            return None if math.isnan(v) else v
        return str(v)

    return [[cell(v) for v in row] for row in frame.itertuples(index=False)]


def _same(a: list, b: list | None) -> bool:
    """Equal tables, floats to a relative 1e-9: engines add large sums in different orders
    (at 10M rows DuckDB and Spark p-values differ by up to about 6e-11, relatively)."""
    import math

    if b is None or len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def run(engine: str, data: str, period: str) -> dict:
    import salesnb

    started = time.perf_counter()
    if engine == "pandas":
        import pyarrow.parquet as pq

        tables = {p.stem: pq.read_table(p).to_pandas(self_destruct=True, split_blocks=True)
                  for p in sorted(Path(data).glob("*.parquet"))}
        src = salesnb.as_source(salesnb.SalesData(tables))
    else:
        src = salesnb.scan(data, engine=engine)  # type: ignore[arg-type]
        if engine == "spark":
            src.frame("orders").collect_schema()  # the session starts here: part of setup
    setup = time.perf_counter() - started
    ctx = salesnb.report_context(period, src, funnel_stages=FUNNEL, holidays="RU")
    seconds: dict[str, float] = {}
    values: dict[str, list] = {}
    for name, compute in pages(ctx).items():
        t = time.perf_counter()
        values[name] = _digest(compute())  # type: ignore[operator]
        seconds[name] = time.perf_counter() - t
    return {"setup": setup, "seconds": seconds, "values": values, "peak_mb": _peak_mb()}


def main() -> int:
    args = engine_args(__doc__.splitlines()[0])
    if args.run:
        print("RESULT " + json.dumps(run(args.run, args.data, args.period), default=float))
        return 0
    print(f"work: the page analyses of {args.period} (scorecard, breakdowns, trend, unusual months, drivers, "
          "reasons, cycle, funnel, feedback, marketing, team, PDCA)\n")
    results = run_children(__file__, list(args.engines), args)
    if not results:
        return 1
    first = next(iter(results.values()))
    base = sum(first["seconds"].values())
    header = f"{'engine':<10}{'pages s':>9}{'ratio':>8}{'peak MB':>10}{'setup s':>9}  tables"
    print(header)
    print("-" * len(header))
    for engine, r in results.items():
        total = sum(r["seconds"].values())
        differ = [name for name, v in r["values"].items() if not _same(v, first["values"].get(name))]
        print(f"{engine:<10}{total:>9.2f}{total / base:>8.2f}{r['peak_mb']:>10.0f}{r['setup']:>9.2f}  "
              + ("agree" if not differ else "DIFFER: " + ", ".join(differ)))
    print("\nper page (s): " + "; ".join(
        f"{name} " + "/".join(f"{r['seconds'][name]:.1f}" for r in results.values()) for name in first["seconds"]))
    print("setup: pandas = reading the Parquet into memory; spark = starting the local session.")
    print("targets (issue 11): duckdb ≤ 60 s and ≤ 2 GB; pandas ≤ 3× duckdb; spark the same tables.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
