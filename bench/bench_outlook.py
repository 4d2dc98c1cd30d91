"""Benchmark: what the Outlook page costs — its computations on the demo (forecasts with
their backtests, target chances, lead scoring, next offers, training topics) and what it
adds to a cold report of one period (all pages against all pages but the Outlook, in the
same run).

    python bench/bench_outlook.py [--period 2026-10]
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

BIN = Path(sys.executable).parent


def _cold_report(period: str, base: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "salesnb"), "report", "--period", period, "--base", str(base), "--out", str(out),
                    "--force", "--quiet"], check=True, capture_output=True, cwd=config.ROOT)
    return time.perf_counter() - started


def _computations(period: str) -> dict[str, float]:
    import salesnb
    from salesnb import forecast, offers, scoring, team

    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    ctx = salesnb.report_context(period, params["source"], base_dir=config.ROOT,
                                 funnel_stages=params.get("funnel_stages"), holidays=params.get("holidays"))
    as_of = forecast.page_as_of(ctx)
    seconds["load the data"] = time.perf_counter() - t
    steps = {
        "forecasts and backtests (3 KPIs)": lambda: forecast.outlook_tables(ctx, as_of=as_of),
        "target chances": lambda: forecast.target_outlook(ctx, as_of=as_of),
        "lead scoring: fit and time split": lambda: scoring.fit(ctx.src, as_of=as_of),
        "lead scoring: open leads": lambda: scoring.score_leads(ctx.src, as_of=as_of),
        "next offers and hold-out": lambda: offers.offers_or_note(ctx.src, as_of=as_of),
        "training topics": lambda: team.training_topics(ctx),
    }
    for name, step in steps.items():
        t = time.perf_counter()
        step()
        seconds[name] = time.perf_counter() - t
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default="2026-10")
    args = parser.parse_args()
    seconds = _computations(args.period)
    base = config.read_params(config.PARAMS_DIR / "base.yaml")
    pages = list(base["report"]["notebooks"])
    with tempfile.TemporaryDirectory() as tmp:
        without = Path(tmp) / "base_without_outlook.yaml"
        trimmed = dict(base, report=dict(base["report"], notebooks=[p for p in pages if p != "forecast"]))
        without.write_text(yaml.safe_dump(trimmed, allow_unicode=True), encoding="utf-8")
        # alternate, twice each, so that a warm disk cache favours neither
        runs: dict[str, list[float]] = {"all pages": [], "all but the Outlook": []}
        for _ in range(2):
            runs["all but the Outlook"].append(_cold_report(args.period, without, Path(tmp) / "a"))
            runs["all pages"].append(_cold_report(args.period, config.PARAMS_DIR / "base.yaml", Path(tmp) / "b"))
    print(f"the Outlook page's computations for {args.period} on the demo, in one process:\n")
    for name, s in seconds.items():
        print(f"  {name:<40}{s:>7.2f} s")
    print(f"  {'total (without loading)':<40}{sum(v for k, v in seconds.items() if k != 'load the data'):>7.2f} s")
    with_all, without_it = min(runs["all pages"]), min(runs["all but the Outlook"])
    print(f"\ncold report of {args.period} (best of 2): all pages {with_all:.1f} s, all but the Outlook "
          f"{without_it:.1f} s: the Outlook adds {with_all / without_it - 1:+.0%}")
    print("target (issue 12): the Outlook adds ≤ 30% to a cold report of one period")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
