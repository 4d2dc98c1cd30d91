"""Benchmark: next month's report with the daily summary store warm, against a cold run.

Last month's export is the benchmark data as it stood on the 1st of the period (every dated
row before it; leads converted and deals closed later not yet), written once beside the data
(``<data>_prev/``). Each run is its own process, on the same engine:

- ``cold``: the period's page analyses from the rows, no store;
- ``fill``: last month's report, which fills an empty store (its time: a cold run with the store);
- ``warm``: the period's page analyses on the new export with that store: only the days whose
  rows changed are recomputed.

The tables of ``warm`` must equal ``cold``'s (relative 1e-9: DuckDB adds in its own order).

    python bench/bench_store.py [--data bench/data] [--period 2026-10] [--engine duckdb]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kpis import _peak_mb  # noqa: E402
from bench_pages import FUNNEL, _digest, _same, pages  # noqa: E402


def previous_export(data: Path, period_start: str) -> Path:
    """The data as it stood on ``period_start``, written once with DuckDB."""
    import duckdb

    out = data.parent / f"{data.name}_prev"
    if (out / "done").is_file():
        return out
    out.mkdir(exist_ok=True)
    cut = f"TIMESTAMP '{period_start}'"
    select = {
        "orders": f"SELECT * FROM t WHERE ordered_at < {cut}",
        "returns": f"SELECT * FROM t WHERE returned_at < {cut}",
        "leads": f"SELECT * REPLACE (CASE WHEN converted_at >= {cut} THEN NULL ELSE converted_at END AS converted_at)"
                 f" FROM t WHERE created_at < {cut}",
        "deals": f"SELECT * REPLACE (CASE WHEN closed_at >= {cut} THEN NULL ELSE closed_at END AS closed_at, "
                 f"CASE WHEN closed_at >= {cut} THEN 'open' ELSE outcome END AS outcome) "
                 f"FROM t WHERE created_at < {cut}",
        "deal_stages": f"SELECT * FROM t WHERE entered_at < {cut}",
    }
    con = duckdb.connect()
    for path in sorted(data.iterdir()):
        name = path.name.removesuffix(".parquet")
        source = f"read_parquet('{path}/**/*.parquet')" if path.is_dir() else f"read_parquet('{path}')"
        if not (path.is_dir() or path.suffix == ".parquet"):
            continue
        query = select.get(name, "SELECT * FROM t").replace(" FROM t", f" FROM {source}")
        con.execute(f"COPY ({query}) TO '{out / (name + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)")
    (out / "done").write_text("")
    return out


def run(kind: str, engine: str, data: str, period: str, store: str) -> dict:
    import pandas as pd

    import salesnb

    src = salesnb.scan(data, engine=engine)  # type: ignore[arg-type]
    if kind == "fill":
        period = str(pd.Period(period, "M") - 1)
    started = time.perf_counter()
    ctx = salesnb.report_context(period, src, funnel_stages=FUNNEL, holidays="RU",
                                 store=None if kind == "cold" else store)
    values = {name: _digest(compute()) for name, compute in pages(ctx).items()}  # type: ignore[operator]
    seconds = time.perf_counter() - started
    recomputed = sum(ctx.src.store.recomputed.values()) if ctx.src.store is not None else None
    return {"seconds": seconds, "values": values, "peak_mb": _peak_mb(), "recomputed": recomputed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="bench/data")
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)  # kind data store
    args = parser.parse_args()
    if args.run:
        kind, data, store = args.run
        print("RESULT " + json.dumps(run(kind, args.engine, data, args.period, store), default=float))
        return 0
    data = Path(args.data)
    prev = previous_export(data, f"{args.period}-01")
    store = tempfile.mkdtemp(prefix="salesnb-store-")
    results = {}
    try:
        for kind, folder in (("cold", data), ("fill", prev), ("warm", data)):
            proc = subprocess.run([sys.executable, __file__, "--run", kind, str(folder), store, "--engine", args.engine,
                                   "--period", args.period], capture_output=True, text=True)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                print(f"{kind}: failed\n{proc.stderr[-3000:]}")
                return 1
            results[kind] = json.loads(line[len("RESULT "):])
    finally:
        shutil.rmtree(store, ignore_errors=True)
    cold = results["cold"]["seconds"]
    print(f"data: {data} ({args.engine}); last month's export: {prev}\n")
    header = f"{'run':<44}{'s':>8}{'ratio':>8}{'peak MB':>10}{'days recomputed':>17}"
    print(header)
    print("-" * len(header))
    labels = {"cold": f"{args.period}, no store (cold)", "fill": "last month, empty store (fills it)",
              "warm": f"{args.period}, next export, store warm"}
    for kind, r in results.items():
        days = "" if r["recomputed"] is None else f"{r['recomputed']:,}"
        print(f"{labels[kind]:<44}{r['seconds']:>8.2f}{r['seconds'] / cold:>8.2f}{r['peak_mb']:>10.0f}{days:>17}")
    differ = [n for n, v in results["warm"]["values"].items() if not _same(v, results["cold"]["values"].get(n))]
    print("\nwarm tables " + ("agree with cold" if not differ else "DIFFER: " + ", ".join(differ)))
    print("target (issue 25): warm ≤ 20% of cold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
