"""Benchmark of real shapes: the seven pages of one period, cold, on the gift wholesaler's
240k invoice lines (3,645 stock codes, 38 countries: params/examples/online_retail.yaml)
against the demo's seven pages in the same run. Target: the wholesaler within 2× the demo.

Each run publishes into a fresh temporary folder with the load cache emptied first (cold:
the export is read, mapped and validated again), through ``make report`` as a user runs it.
Prints wall seconds, the ratio, and each wholesaler page's size and table rows.

    python bench/bench_shapes.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from salesnb import config

RETAIL = config.ROOT.parent / "shared" / "data" / "uci_online_retail_2010_2011" / "online_retail_2010_2011_part.csv.gz"


def _cold(out: Path, *args: str) -> float:
    shutil.rmtree(config.ROOT / ".cache", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", "report", "FORCE=1", f"OUT={out}", *args], check=True,
                   capture_output=True, cwd=config.ROOT)
    return time.perf_counter() - started


def main() -> int:
    if not RETAIL.is_file():
        print(f"skipped: the wholesaler's lines are not at {RETAIL}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        demo = _cold(Path(tmp) / "demo", "PERIOD=2026-10")
        retail_out = Path(tmp) / "retail"
        retail = _cold(retail_out, "PERIOD=2011-05", "BASE=params/examples/online_retail.yaml")
        pages = sorted((retail_out / "2011-05").glob("*.html"))
        sizes = [(p.stem, p.stat().st_size / 2**20, len(re.findall(r"<tr[ >]", p.read_text(encoding="utf-8"))))
                 for p in pages]
    print("seven pages of one period, cold (load cache emptied), make report FORCE=1\n")
    print(f"{'data':<52}{'wall s':>8}")
    print(f"{'demo, 2026-10 (153k orders, 6 products)':<52}{demo:>8.1f}")
    print(f"{'gift wholesaler, 2011-05 (240k lines, 3,645 codes)':<52}{retail:>8.1f}")
    print(f"{'ratio wholesaler / demo (target ≤ 2)':<52}{retail / demo:>8.2f}\n")
    print(f"{'wholesaler page':<24}{'MB':>8}{'table rows':>12}")
    for name, mb, rows in sizes:
        print(f"{name:<24}{mb:>8.2f}{rows:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
