"""Benchmark of `make report`: a cold run of one period against the naive way, and a run
with nothing to do.

- cold: ``make report PERIOD=2026-10 FORCE=1`` (every notebook of params/base.yaml), three
  times, the median (one run on this shared machine varied from 15 to 20 s; the first run
  after a code change also refills the store);
- naive baseline, in the same run: for each notebook, the ``papermill`` command, then the
  ``jupyter nbconvert --to html --no-input`` command, one after another;
- unchanged: ``make report PERIOD=2026-10`` again, nothing to do.

Pages go to a temporary folder, so the published site is left alone.

    python bench/bench_report.py [--period 2026-10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from salesnb import config
from salesnb.publish import plan_jobs

BIN = Path(sys.executable).parent


def _timed(cmd: list[str], **kw: object) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=config.ROOT, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default="2026-10")
    args = parser.parse_args()
    jobs = plan_jobs(period=args.period)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        make = ["make", "--no-print-directory", "report", f"PERIOD={args.period}", f"OUT={out}"]
        colds = [_timed([*make, "FORCE=1"]) for _ in range(3)]
        cold = sorted(colds)[1]
        unchanged = [_timed(make) for _ in range(3)]
        naive = 0.0
        for job in jobs:
            params = Path(tmp) / f"{job.notebook}.yaml"
            params.write_text(yaml.safe_dump(dict(job.parameters)), encoding="utf-8")
            executed = Path(tmp) / f"{job.notebook}.ipynb"
            naive += _timed([str(BIN / "papermill"), str(config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb"),
                             str(executed), "-f", str(params), "--cwd", str(config.ROOT), "--no-progress-bar"])
            naive += _timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)])
    notebooks = ", ".join(j.notebook for j in jobs)
    print(f"make report for {args.period}: {len(jobs)} notebooks ({notebooks}), demo data\n")
    print(f"{'run':<58}{'wall s':>8}")
    print(f"{'cold: make report PERIOD=' + args.period + ' FORCE=1 (median of 3)':<58}{cold:>8.2f}")
    print(f"{'  the three runs':<58}" + " ".join(f"{c:.2f}" for c in colds))
    print(f"{'naive: papermill then jupyter nbconvert, per notebook':<58}{naive:>8.2f}")
    print(f"{'ratio naive / cold':<58}{naive / cold:>8.2f}")
    print(f"{'unchanged: make report PERIOD=' + args.period + ' (best of 3)':<58}{min(unchanged):>8.2f}")
    print(f"{'unchanged / naive':<58}{min(unchanged) / naive:>8.2%}")
    print("\ntargets (issue 25): naive / cold ≥ 6; unchanged ≤ 1% of naive")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
