"""Benchmark: next month's report with the daily summary store warm, against a cold run.

Last month's export is the benchmark data as it stood on the 1st of the period (every dated
row before it; leads converted and deals closed later not yet), written once beside the data
(``<data>_prev/``). Each run is its own process, on the same engine:

- ``cold``: the period's page analyses from the rows, no store;
- ``fill``: last month's report, which fills an empty store (its time: a cold run with the store);
- ``warm``: the period's page analyses on the new export with that store: only the days whose
  rows changed are recomputed.

The tables of ``warm`` must equal ``cold``'s (relative 1e-9: DuckDB adds in its own order).
On DuckDB each run's time is split: the imports on the way, the queries that fingerprint the
days, the other queries, and the rest; imports plus hashing are the least that any store
which must read a rewritten export pays.

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


class _Clock:
    """Where a DuckDB run's time goes: its queries (those that fingerprint the days apart)
    and the modules it imports on the way (timed again in a fresh process, see _imports)."""

    METHODS = ("df", "fetchdf", "fetchall", "fetchone", "arrow", "fetch_arrow_table", "pl")

    def __init__(self) -> None:
        self.hashing = self.queries = 0.0
        self._in_fingerprints = False

    def install(self) -> None:
        import duckdb

        import salesnb.aggregate as agg

        for name in self.METHODS:
            if hasattr(duckdb.DuckDBPyRelation, name):
                setattr(duckdb.DuckDBPyRelation, name, self._timed(getattr(duckdb.DuckDBPyRelation, name)))
        fingerprints = agg._fingerprints

        def marked(*args: object, **kwargs: object) -> object:
            self._in_fingerprints = True
            try:
                return fingerprints(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                self._in_fingerprints = False

        agg._fingerprints = marked  # type: ignore[assignment]

    def _timed(self, method):  # type: ignore[no-untyped-def]
        def timed(rel, *args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return method(rel, *args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                if self._in_fingerprints:
                    self.hashing += spent
                else:
                    self.queries += spent
        return timed


def run(kind: str, engine: str, data: str, period: str, store: str) -> dict:
    import pandas as pd

    import salesnb

    clock = _Clock()
    if engine == "duckdb":
        clock.install()
    src = salesnb.scan(data, engine=engine)  # type: ignore[arg-type]
    if kind == "fill":
        period = str(pd.Period(period, "M") - 1)
    before = set(sys.modules)
    started = time.perf_counter()
    ctx = salesnb.report_context(period, src, funnel_stages=FUNNEL, holidays="RU",
                                 store=None if kind == "cold" else store)
    values = {name: _digest(compute()) for name, compute in pages(ctx).items()}  # type: ignore[operator]
    seconds = time.perf_counter() - started
    recomputed = sum(ctx.src.store.recomputed.values()) if ctx.src.store is not None else None
    imported = [m for m in sys.modules if m not in before]
    return {"seconds": seconds, "values": values, "peak_mb": _peak_mb(), "recomputed": recomputed,
            "hashing": clock.hashing, "queries": clock.queries, "imported": imported}


def _imports(modules: list[str]) -> float:
    """Seconds to import, in a fresh process that has imported salesnb, the modules a run
    imported on the way (statsmodels, scipy: a fixed cost of any run, whatever the data)."""
    code = ("import importlib, sys, time, salesnb\n"
            f"names = {modules!r}\n"
            "t = time.perf_counter()\n"
            "for n in names:\n"
            "    if n not in sys.modules:\n"
            "        try:\n"
            "            importlib.import_module(n)\n"
            "        except Exception:\n"
            "            pass\n"
            "print(time.perf_counter() - t)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else float("nan")


def _parts(r: dict) -> dict[str, float]:
    """A run's seconds split: imports, fingerprint queries, other queries, the rest."""
    imports = _imports(r["imported"])
    return {"imports": imports, "reading and hashing every row": r["hashing"],
            "other queries (sums, funnel, lags, reasons)": r["queries"],
            "the rest (pandas, models, tests)": r["seconds"] - imports - r["hashing"] - r["queries"]}


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
    if args.engine == "duckdb":
        print(f"\nwhere the time goes{'':<26}{'cold':>8}{'warm':>8}")
        rows = {kind: _parts(results[kind]) for kind in ("cold", "warm")}
        for label in rows["warm"]:
            print(f"  {label:<42}{rows['cold'][label]:>8.2f}{rows['warm'][label]:>8.2f}")
        floor = rows["warm"]["imports"] + rows["warm"]["reading and hashing every row"]
        rest = floor + rows["warm"]["the rest (pandas, models, tests)"]
        print(f"a store that reads a rewritten export pays at least imports + hashing: {floor:.2f} s "
              f"({floor / cold:.1%} of cold); with the rest, queries aside: {rest:.2f} s ({rest / cold:.1%})")
    differ = [n for n, v in results["warm"]["values"].items() if not _same(v, results["cold"]["values"].get(n))]
    print("\nwarm tables " + ("agree with cold" if not differ else "DIFFER: " + ", ".join(differ)))
    print("target (issue 25): warm ≤ 20% of cold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
