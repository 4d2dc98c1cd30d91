"""Benchmark: kpi_table + compare(previous) + compare(last_year) for one month by region,
on each engine, against a hand-written DuckDB SQL of the same KPIs over the same Parquet.

Each run is a separate process, so wall time and peak memory (the process and its
children, e.g. Spark's JVM: the sum of their high-water marks) are its own. The reference
SQL also serves as a check: every engine's October KPI values must equal the SQL's.

    python bench/bench_kpis.py [--data bench/data] [--period 2026-10] [--engines ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

FUNNEL = ["qualified", "meeting", "proposal", "negotiation", "won"]
PANDAS_COLUMNS: dict[str, list[str] | None] = {
    "orders": ["order_id", "customer_id", "ordered_at", "amount", "status", "quantity", "region"],
    "returns": ["return_id", "order_id", "returned_at", "amount", "kind"],
    "customers": ["customer_id", "first_purchase_at"],
    "leads": ["lead_id", "created_at", "converted_at", "region"],
    "deals": ["deal_id", "lead_id", "created_at", "closed_at", "outcome", "amount", "region"],
    "deal_stages": None, "targets": None,
}


def _peak_mb() -> float:
    """VmHWM of this process plus every descendant still alive (Spark's JVM)."""
    def hwm(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            parents[int(fields["Pid"])] = int(fields["PPid"])
        except (OSError, KeyError, ValueError):
            continue
    me = os.getpid()
    tree = {me}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(hwm(pid) for pid in tree) / 1024


REFERENCE_SQL = """
WITH w AS (
  SELECT * FROM (VALUES ('current', TIMESTAMP '{c0}', TIMESTAMP '{c1}'),
                        ('previous', TIMESTAMP '{p0}', TIMESTAMP '{p1}'),
                        ('last_year', TIMESTAMP '{l0}', TIMESTAMP '{l1}')) t(win, s, e)
),
returned AS (SELECT DISTINCT order_id FROM read_parquet('{d}/returns.parquet')),
o AS (
  SELECT w.win, o.region, o.amount, o.quantity, o.status <> 'cancelled' AS done,
         r.order_id IS NOT NULL AS ret
  FROM read_parquet('{d}/orders.parquet') o JOIN w ON o.ordered_at >= w.s AND o.ordered_at < w.e
  LEFT JOIN returned r USING (order_id)
),
orders_stats AS (
  SELECT win, region, count(*) FILTER (WHERE done) AS orders,
         sum(amount) FILTER (WHERE done) AS revenue, sum(amount * amount) FILTER (WHERE done) AS revenue_sq,
         sum(quantity) FILTER (WHERE done) AS units, count(*) FILTER (WHERE NOT done) AS cancelled,
         count(*) FILTER (WHERE done AND ret) AS returned
  FROM o GROUP BY ALL
),
returns_stats AS (
  SELECT w.win, o.region, count(*) FILTER (WHERE r.kind IS DISTINCT FROM 'refusal') AS returns,
         sum(r.amount) FILTER (WHERE r.kind IS DISTINCT FROM 'refusal') AS returns_amount,
         count(*) FILTER (WHERE r.kind = 'refusal') AS refusal_returns, sum(r.amount) AS all_returned
  FROM read_parquet('{d}/returns.parquet') r JOIN w ON r.returned_at >= w.s AND r.returned_at < w.e
  LEFT JOIN read_parquet('{d}/orders.parquet') o USING (order_id) GROUP BY ALL
),
first_orders AS (
  SELECT customer_id, min(ordered_at) AS first FROM read_parquet('{d}/orders.parquet')
  WHERE status <> 'cancelled' GROUP BY customer_id
),
firsts AS (
  SELECT f.customer_id, least(f.first, c.first_purchase_at) AS first
  FROM first_orders f LEFT JOIN read_parquet('{d}/customers.parquet') c USING (customer_id)
),
new_stats AS (
  SELECT w.win, min(o.region) AS region, f.customer_id
  FROM firsts f JOIN w ON f.first >= w.s AND f.first < w.e
  LEFT JOIN read_parquet('{d}/orders.parquet') o ON o.customer_id = f.customer_id AND o.ordered_at = f.first
       AND o.status <> 'cancelled'
  GROUP BY w.win, f.customer_id
),
new_counts AS (SELECT win, region, count(*) AS new_customers FROM new_stats GROUP BY ALL),
won_leads AS (SELECT DISTINCT lead_id FROM read_parquet('{d}/deals.parquet') WHERE outcome = 'won'),
lead_stats AS (
  SELECT w.win, l.region, count(*) AS leads,
         count(*) FILTER (WHERE l.converted_at IS NOT NULL OR wl.lead_id IS NOT NULL) AS converted
  FROM read_parquet('{d}/leads.parquet') l JOIN w ON l.created_at >= w.s AND l.created_at < w.e
  LEFT JOIN won_leads wl USING (lead_id) GROUP BY ALL
),
deal_stats AS (
  SELECT w.win, d.region, count(*) AS closed, count(*) FILTER (WHERE outcome = 'won') AS won,
         median(date_diff('day', d.created_at::DATE, d.closed_at::DATE)) FILTER (WHERE outcome = 'won') AS cycle
  FROM read_parquet('{d}/deals.parquet') d JOIN w ON d.closed_at >= w.s AND d.closed_at < w.e
  WHERE outcome IN ('won', 'lost') GROUP BY ALL
),
pipeline AS (
  SELECT w.win, d.region, sum(d.amount) AS pipeline_value
  FROM read_parquet('{d}/deals.parquet') d JOIN w ON d.created_at < w.e AND (d.closed_at IS NULL OR d.closed_at >= w.e)
  WHERE d.amount IS NOT NULL GROUP BY ALL
)
SELECT * FROM orders_stats
  FULL JOIN returns_stats USING (win, region) FULL JOIN new_counts USING (win, region)
  FULL JOIN lead_stats USING (win, region) FULL JOIN deal_stats USING (win, region)
  FULL JOIN pipeline USING (win, region)
ORDER BY win, region
"""

STAGES_SQL = """
WITH pairs AS (SELECT * FROM (VALUES {pairs}) t(stage, next_stage)),
entered AS (
  SELECT DISTINCT s.deal_id, s.stage, p.next_stage, d.region
  FROM read_parquet('{d}/deal_stages.parquet') s JOIN pairs p USING (stage)
  LEFT JOIN read_parquet('{d}/deals.parquet') d USING (deal_id)
  WHERE s.entered_at >= TIMESTAMP '{s}' AND s.entered_at < TIMESTAMP '{e}'
),
reached AS (SELECT DISTINCT deal_id, stage AS next_stage FROM read_parquet('{d}/deal_stages.parquet'))
SELECT e.stage, e.region, count(*) AS n, count(r.deal_id) AS advanced
FROM entered e LEFT JOIN reached r USING (deal_id, next_stage) GROUP BY ALL ORDER BY ALL
"""

# the cohort lags behind the immaturity gate, as salesnb computes them
LAGS_SQL = """
SELECT (SELECT quantile_cont(epoch(converted_at - created_at) / 86400, 0.9)
        FROM read_parquet('{d}/leads.parquet') WHERE converted_at IS NOT NULL),
       (SELECT quantile_cont(epoch(r.returned_at - o.ordered_at) / 86400, 0.9)
        FROM read_parquet('{d}/returns.parquet') r JOIN read_parquet('{d}/orders.parquet') o USING (order_id))
"""
STAGE_LAGS_SQL = """
WITH pairs AS (SELECT * FROM (VALUES {pairs}) t(stage, next_stage)),
s AS (SELECT deal_id, stage, entered_at FROM read_parquet('{d}/deal_stages.parquet'))
SELECT a.stage, quantile_cont(epoch(b.entered_at - a.entered_at) / 86400, 0.9)
FROM s a JOIN pairs p USING (stage) JOIN s b ON b.deal_id = a.deal_id AND b.stage = p.next_stage
GROUP BY a.stage
"""


def run_reference(data: str, period: str) -> dict:
    import duckdb

    from salesnb.periods import parse_period

    p = parse_period(period)
    wins = {"c": p, "p": p.previous(), "l": p.last_year()}
    fmt = {f"{k}{i}": (w.start if i == 0 else w.end_ts.date()) for k, w in wins.items() for i in (0, 1)}
    con = duckdb.connect()
    started = time.perf_counter()
    main = con.sql(REFERENCE_SQL.format(d=data, **fmt)).df()
    pairs = ", ".join(f"('{a}', '{b}')" for a, b in zip(FUNNEL[:-1], FUNNEL[1:], strict=True))
    stages = [con.sql(STAGES_SQL.format(d=data, pairs=pairs, s=w.start, e=w.end_ts.date())).df()
              for w in wins.values()]
    con.sql(LAGS_SQL.format(d=data)).fetchall()
    con.sql(STAGE_LAGS_SQL.format(d=data, pairs=pairs)).fetchall()
    seconds = time.perf_counter() - started
    cur = main[main["win"] == "current"].set_index("region")
    values = {
        "revenue": cur["revenue"].to_dict(), "orders": cur["orders"].astype(float).to_dict(),
        "average_check": (cur["revenue"] / cur["orders"]).to_dict(),
        "new_customers": cur["new_customers"].astype(float).to_dict(),
        "leads": cur["leads"].astype(float).to_dict(),
        "conversion_rate": (cur["converted"] / cur["leads"]).to_dict(),
        "win_rate": (cur["won"] / cur["closed"]).to_dict(),
        "sales_cycle_days": cur["cycle"].astype(float).to_dict(),
        "returns": cur["returns"].astype(float).to_dict(),
        "return_rate": (cur["returned"] / cur["orders"]).to_dict(),
        "pipeline_value": cur["pipeline_value"].to_dict(),
    }
    st = stages[0]
    values["stage_conversion"] = {f"{r.stage}/{r.region}": r.advanced / r.n for r in st.itertuples()}
    return {"seconds": seconds, "values": values}


def run_engine(engine: str, data: str, period: str) -> dict:

    import salesnb
    from salesnb.comparisons import compare, kpi_table  # imported before the clock starts

    load_seconds = 0.0
    if engine == "pandas":
        started = time.perf_counter()
        # only the columns the KPIs read, as an analyst would load 10M rows into memory
        import pyarrow.parquet as pq

        # Arrow buffers are released as they convert (self_destruct), halving the load's peak
        tables = {n: pq.read_table(Path(data) / f"{n}.parquet", columns=cols)
                  .to_pandas(self_destruct=True, split_blocks=True)
                  for n, cols in PANDAS_COLUMNS.items()}
        src = salesnb.as_source(salesnb.SalesData(tables))
        load_seconds = time.perf_counter() - started
    else:
        if engine == "spark":  # the session's start is a fixed cost, reported apart
            started = time.perf_counter()
            from salesnb.engines import spark_session

            spark_session()
            load_seconds = time.perf_counter() - started
        src = salesnb.scan(data, engine=engine)  # type: ignore[arg-type]
    started = time.perf_counter()
    table = kpi_table(src, period, by="region", funnel_stages=FUNNEL)
    compare(src, period, by="region", funnel_stages=FUNNEL)
    compare(src, period, against="last_year", by="region", funnel_stages=FUNNEL)
    seconds = time.perf_counter() - started
    values: dict[str, dict] = {}
    for r in table.itertuples():
        key = f"{r.stage}/{r.region}" if r.kpi == "stage_conversion" else r.region
        values.setdefault(r.kpi, {})[key] = r.value
    return {"seconds": seconds, "load_seconds": load_seconds, "values": values}


def _child(args: argparse.Namespace) -> None:
    result = (run_reference(args.data, args.period) if args.run == "reference"
              else run_engine(args.run, args.data, args.period))
    result["peak_mb"] = _peak_mb()
    print("RESULT " + json.dumps(result, default=float))


def _agree(reference: dict, got: dict) -> list[str]:
    bad = []
    for kpi, by_region in reference.items():
        for key, value in by_region.items():
            other = got.get(kpi, {}).get(key)
            if other is None or abs(float(other) - float(value)) > 1e-6 * max(1.0, abs(float(value))):
                bad.append(f"{kpi}[{key}]: sql {value} vs engine {other}")
    return bad


def engine_args(description: str) -> argparse.Namespace:
    """The options both engine benchmarks take (``--run`` is a child process's one run)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default="bench/data")
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--engines", nargs="*", default=["duckdb", "pandas", "spark"])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    return parser.parse_args()


def run_child(script: str, name: str, data: str, period: str, env: dict[str, str] | None = None) -> dict:
    """One run of a benchmark script in its own process (``--run name``); its RESULT line,
    parsed. A failed run stops the benchmark with its error."""
    proc = subprocess.run([sys.executable, script, "--run", name, "--data", data, "--period", period],
                          capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{name} on {data}: failed\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def run_children(script: str, runs: list[str], args: argparse.Namespace) -> dict[str, dict]:
    """Each run in its own process (so peak memory is that run's), its RESULT line parsed;
    prints the data's size first and a failed run's error."""
    info_file = Path(args.data) / "bench.json"
    if info_file.is_file():
        info = json.loads(info_file.read_text())
        print(f"data: {args.data} — " + ", ".join(f"{k} {v:,}" for k, v in info["rows"].items()))
    results = {}
    for name in runs:
        try:
            results[name] = run_child(script, name, args.data, args.period)
        except RuntimeError as exc:
            print(exc)
    return results


def main() -> int:
    args = engine_args(__doc__.splitlines()[0])
    if args.run:
        _child(args)
        return 0
    print(f"work: kpi_table + compare(previous) + compare(last_year), {args.period}, by region\n")
    results = run_children(__file__, ["reference", *args.engines], args)
    ref = results.get("reference")
    header = f"{'run':<22}{'wall s':>9}{'ratio':>8}{'peak MB':>10}{'setup s':>9}  values vs SQL"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        ratio = r["seconds"] / ref["seconds"] if ref else float("nan")
        agree = "reference" if name == "reference" else (
            "agree" if ref and not _agree(ref["values"], r["values"]) else "DIFFER")
        label = "hand-written DuckDB SQL" if name == "reference" else f"salesnb {name}"
        print(f"{label:<22}{r['seconds']:>9.2f}{ratio:>8.2f}{r['peak_mb']:>10.0f}"
              f"{r.get('load_seconds', 0):>9.2f}  {agree}")
        if ref and name != "reference":
            for problem in _agree(ref["values"], r["values"])[:5]:
                print(f"    {problem}")
    print("\nsetup: pandas = reading the Parquet into memory; spark = starting the local session.")
    print("targets: duckdb ≤ 1.5× the reference and < 1 GB; pandas < 3 GB; spark reported.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
