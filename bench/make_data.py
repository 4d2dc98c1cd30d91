"""Benchmark data: the demo company replicated to about 10 million orders, as Parquet.

Each copy k of the demo gets ids suffixed ``-k`` (orders, customers, leads, deals, returns),
so keys stay unique and links stay intact; dates are unchanged, so every KPI's volume is
the demo's times the number of copies while rates stay the same. Written once to
``bench/data/`` (git-ignored); ``make bench`` reuses it.

With ``--part-orders N`` each large table is a folder ``<table>/`` of Parquet parts of
about N orders' worth of copies each (how 100 million orders are written: in chunks, never
all in memory; ``salesnb.scan`` reads such folders).

    python bench/make_data.py [--orders 10000000] [--out bench/data] [--part-orders 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from salesnb.data.demo import generate

# canonical id columns per table: suffixed in every copy
ID_COLUMNS = {
    "orders": ["order_id", "customer_id", "deal_id"],
    "returns": ["return_id", "order_id"],
    "customers": ["customer_id"],
    "leads": ["lead_id", "customer_id"],
    "deals": ["deal_id", "lead_id", "customer_id"],
    "deal_stages": ["deal_id"],
}


def _copy(base: pa.Table, id_cols: list[str], k: int) -> pa.Table:
    t = base
    for col in id_cols:
        i = t.schema.get_field_index(col)
        t = t.set_column(i, col, pc.binary_join_element_wise(
            t[col], pa.scalar(f"-{k}", t[col].type), pa.scalar("", t[col].type)))
    return t


def write(out: Path, orders: int, part_orders: int = 0) -> dict[str, int]:
    tables, _ = generate()
    per_copy = len(tables["orders"])
    copies = max(1, round(orders / per_copy))
    per_part = max(1, round(part_orders / per_copy)) if part_orders else copies
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, id_cols in ID_COLUMNS.items():
        base = pa.Table.from_pandas(tables[name], preserve_index=False)
        if part_orders:  # a folder of parts, each of per_part copies
            folder = out / name
            tmp_folder = out / f"{name}.tmp"
            shutil.rmtree(tmp_folder, ignore_errors=True)
            tmp_folder.mkdir()
            for part, first in enumerate(range(0, copies, per_part)):
                with pq.ParquetWriter(tmp_folder / f"part-{part:04d}.parquet", base.schema,
                                      compression="zstd") as writer:
                    for k in range(first, min(first + per_part, copies)):
                        writer.write_table(_copy(base, id_cols, k))
            shutil.rmtree(folder, ignore_errors=True)
            tmp_folder.rename(folder)
        else:
            path = out / f"{name}.parquet"
            tmp = path.with_suffix(".tmp")
            with pq.ParquetWriter(tmp, base.schema, compression="zstd") as writer:
                for k in range(copies):
                    writer.write_table(_copy(base, id_cols, k))
            tmp.replace(path)
        rows[name] = base.num_rows * copies
    # targets and campaigns are not volumes: one copy (targets scaled for flows)
    pq.write_table(pa.Table.from_pandas(tables["campaigns"], preserve_index=False), out / "campaigns.parquet")
    targets = tables["targets"].copy()
    flows = targets["kpi"].isin(["revenue", "orders", "leads", "new_customers"])
    targets.loc[flows, "value"] *= copies
    pq.write_table(pa.Table.from_pandas(targets, preserve_index=False), out / "targets.parquet")
    (out / "bench.json").write_text(json.dumps({"copies": copies, "rows": rows}, indent=2))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--out", default="bench/data")
    parser.add_argument("--part-orders", type=int, default=0,
                        help="write each large table as a folder of parts of about this many orders")
    args = parser.parse_args()
    out = Path(args.out)
    if (out / "bench.json").is_file():
        info = json.loads((out / "bench.json").read_text())
        if info["rows"]["orders"] >= 0.9 * args.orders:
            print(f"benchmark data already in {out}: {info['rows']['orders']:,} orders")
            return
    started = time.perf_counter()
    rows = write(out, args.orders, args.part_orders)
    print(f"benchmark data written to {out} in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in rows.items()))


if __name__ == "__main__":
    main()
