"""Benchmark: how one period's page analyses grow from 10 to 100 million orders on DuckDB.

The 100-million-order data is the demo replicated about 670 times, generated in chunks and
written as folders of Parquet parts (``bench/data100/<table>/part-*.parquet``, 2.5 GB); the
10-million-order data is ``bench/data/``. Each size runs in its own process with DuckDB's
memory capped (``SALESNB_DUCKDB_MEMORY``, default here 3GB: it spills beyond), so the peak is
the process's whole resident memory. Then the next month's report with the store warm
against a cold run (bench/bench_store.py) on the 100M data.

    python bench/bench_scale.py [--small bench/data] [--large bench/data100] [--period 2026-10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_kpis import run_child  # noqa: E402


def _pages(data: str, period: str) -> dict:
    return run_child(str(HERE / "bench_pages.py"), "duckdb", data, period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", default="bench/data")
    parser.add_argument("--large", default="bench/data100")
    parser.add_argument("--period", default="2026-10")
    args = parser.parse_args()
    os.environ.setdefault("SALESNB_DUCKDB_MEMORY", "3GB")
    subprocess.run([sys.executable, str(HERE / "make_data.py"), "--out", args.small], check=True)
    subprocess.run([sys.executable, str(HERE / "make_data.py"), "--orders", "100000000", "--out", args.large,
                    "--part-orders", "10000000"], check=True)
    results = {size: _pages(folder, args.period) for size, folder in (("10M", args.small), ("100M", args.large))}
    print(f"\nwork: the page analyses of {args.period} on DuckDB (memory capped at "
          f"{os.environ['SALESNB_DUCKDB_MEMORY']})\n")
    header = f"{'orders':<8}{'pages s':>10}{'ratio':>8}{'peak MB':>10}"
    print(header)
    print("-" * len(header))
    base = sum(results["10M"]["seconds"].values())
    for size, r in results.items():
        total = sum(r["seconds"].values())
        print(f"{size:<8}{total:>10.1f}{total / base:>8.2f}{r['peak_mb']:>10.0f}")
    slowest = sorted(results["100M"]["seconds"].items(), key=lambda kv: -kv[1])[:5]
    print("\nslowest at 100M (s): " + "; ".join(f"{k} {v:.1f}" for k, v in slowest))
    print("targets (issue 25): 100M peak ≤ 4 GB; time ≤ 12× the 10M time\n")
    subprocess.run([sys.executable, str(HERE / "bench_store.py"), "--data", args.large, "--period", args.period],
                   check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
