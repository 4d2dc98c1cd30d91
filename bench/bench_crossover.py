"""Benchmark: where DuckDB overtakes pandas — the measurement behind ``engine: auto``.

The demo company replicated 1×, 4×, 16× and 64× (about 0.15M to 10M orders, written once
to ``bench/data_sizes/``), loaded into memory as a report loads its sources, then one
period's page analyses on pandas and on DuckDB fed from those same tables (what ``auto``
switches between). Each size and engine runs in its own process. Prints the seconds, the
ratio DuckDB / pandas, and the crossover: the smallest size from which DuckDB is faster, in
loaded rows (all tables), against ``salesnb.engines.AUTO_DUCKDB_ROWS``.

    python bench/bench_crossover.py [--copies 1 4 16 64] [--period 2026-10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kpis import _peak_mb  # noqa: E402
from bench_pages import FUNNEL, pages  # noqa: E402
from make_data import write  # noqa: E402

ROOT = Path("bench/data_sizes")


def run(engine: str, data: str, period: str) -> dict:
    import pyarrow.parquet as pq

    import salesnb

    tables = {p.stem: pq.read_table(p).to_pandas() for p in sorted(Path(data).glob("*.parquet"))}
    rows = sum(len(t) for t in tables.values())
    src = salesnb.as_source(salesnb.SalesData(tables), engine)  # type: ignore[arg-type]
    ctx = salesnb.report_context(period, src, funnel_stages=FUNNEL, holidays="RU")
    started = time.perf_counter()
    for compute in pages(ctx).values():
        compute()  # type: ignore[operator]
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mb": _peak_mb()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="*", default=[1, 4, 16, 64])
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print("RESULT " + json.dumps(run(args.run[0], args.run[1], args.period)))
        return 0
    from salesnb.data.demo import generate
    from salesnb.engines import AUTO_DUCKDB_ROWS

    per_copy = len(generate()[0]["orders"])
    header = f"{'orders':>12}{'rows':>12}{'pandas s':>10}{'duckdb s':>10}{'duckdb/pandas':>15}{'peak MB p/d':>14}"
    print("work: one period's page analyses on tables loaded into memory (what a report loads)\n")
    print(header)
    print("-" * len(header))
    rows_ratio: list[tuple[int, float]] = []
    for copies in args.copies:
        data = ROOT / f"x{copies}"
        if not (data / "bench.json").is_file():
            write(data, copies * per_copy)
        result = {}
        for engine in ("pandas", "duckdb"):
            proc = subprocess.run([sys.executable, __file__, "--run", engine, str(data), "--period", args.period],
                                  capture_output=True, text=True)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                print(f"{engine} on {data}: failed\n{proc.stderr[-2000:]}")
                return 1
            result[engine] = json.loads(line[len("RESULT "):])
        p, d = result["pandas"], result["duckdb"]
        orders = json.loads((data / "bench.json").read_text())["rows"]["orders"]
        ratio = d["seconds"] / p["seconds"]
        rows_ratio.append((p["rows"], ratio))
        print(f"{orders:>12,}{p['rows']:>12,}{p['seconds']:>10.2f}{d['seconds']:>10.2f}{ratio:>15.2f}"
              f"{p['peak_mb']:>8.0f}/{d['peak_mb']:.0f}")
    # the crossover: from the smallest size from which DuckDB is clearly (10%) faster at every
    # larger size; at small sizes the two are within noise of each other
    clearly = [i for i in range(len(rows_ratio)) if all(r < 0.9 for _, r in rows_ratio[i:])]
    if clearly:
        i = clearly[0]
        below = f"{rows_ratio[i - 1][0]:,}" if i else "the smallest size"
        print(f"\nDuckDB clearly faster from {rows_ratio[i][0]:,} loaded rows on (not yet at {below})")
    else:
        print("\nDuckDB never clearly faster here")
    print(f"engine: auto switches to DuckDB from {AUTO_DUCKDB_ROWS:,} loaded rows (salesnb/engines.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
