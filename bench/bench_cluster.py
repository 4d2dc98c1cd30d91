"""Benchmark: one period's page analyses on 10 million orders on a Spark standalone cluster
(a master and two worker JVMs on localhost, 1 core and 4 GB each, started with the scripts
that ship with pyspark: tests/spark_cluster.py), against DuckDB on the same Parquet; the
tables must agree (relative 1e-9).

    python bench/bench_cluster.py [--data bench/data] [--period 2026-10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from bench_kpis import run_child  # noqa: E402
from bench_pages import _same  # noqa: E402

from tests import spark_cluster  # noqa: E402


def _run(engine: str, data: str, period: str, env: dict[str, str]) -> dict:
    return run_child(str(HERE / "bench_pages.py"), engine, data, period, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="bench/data")
    parser.add_argument("--period", default="2026-10")
    args = parser.parse_args()
    why = spark_cluster.missing()
    if why:
        print(f"skipped: {why}")
        return 0
    duckdb = _run("duckdb", args.data, args.period, dict(os.environ))
    with spark_cluster.standalone(workers=2, memory="4g", executor_memory="3g", app_cores=2) as cluster:
        spark = _run("spark", args.data, args.period, {**os.environ, "SALESNB_SPARK_MASTER": cluster.master})
    base = sum(duckdb["seconds"].values())
    print(f"work: the page analyses of {args.period} on {args.data}\n")
    header = f"{'engine':<34}{'pages s':>9}{'ratio':>8}{'setup s':>9}  tables"
    print(header)
    print("-" * len(header))
    for label, r in (("DuckDB", duckdb), ("Spark standalone, 2 workers", spark)):
        total = sum(r["seconds"].values())
        differ = [n for n, v in r["values"].items() if not _same(v, duckdb["values"].get(n))]
        print(f"{label:<34}{total:>9.1f}{total / base:>8.2f}{r['setup']:>9.1f}  "
              + ("agree" if not differ else "DIFFER: " + ", ".join(differ)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
