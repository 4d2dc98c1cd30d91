"""The overview's scorecard: arrows only on significant changes, gate words otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

import salesnb
from salesnb import config, overview
from salesnb.context import report_context
from salesnb.overview import format_change, format_value
from tests.notebook_run import run_notebook


def test_arrows_follow_significance_and_direction() -> None:
    row = {"status": "ok", "significant": True, "abs_change": -0.02, "rel_change": -0.1}
    assert format_change(row, "share", "down") == ("▼ -2.0 pp", "good")
    assert format_change(row, "share", "up") == ("▼ -2.0 pp", "bad")
    row = {**row, "significant": False}
    assert format_change(row, "share", "up") == ("-2.0 pp · not significant", "none")
    gated = {**row, "status": "immature"}
    assert format_change(gated, "share", "up") == ("-2.0 pp · cohort still converting", "none")
    assert format_change({**row, "status": "no_target"}, "count", "up") == ("no target", "none")
    assert format_value(float("nan"), "currency", "USD") == "–"


def test_scorecard_matches_compare(demo: salesnb.SalesData) -> None:
    sc = overview.scorecard(report_context("2026-10", demo, currency="USD")).set_index("kpi")
    c = salesnb.compare(demo, "2026-10", kpis=overview.HEADLINE_KPIS).set_index("kpi")
    for kpi, row in sc.iterrows():
        has_arrow = row["vs_previous"][:1] in "▲▼"
        assert has_arrow == bool(c.loc[kpi, "significant"]), kpi
    assert sc.loc["conversion_rate", "vs_previous"].endswith("cohort still converting")
    orders = c.loc["orders"]
    assert sc.loc["orders", "value"] == f"{orders['current']:,.0f}"


def test_breakdown_rows_are_segments(demo: salesnb.SalesData) -> None:
    b = overview.breakdown(report_context("2026-10", demo, currency="USD"), "channel")
    assert set(b["channel"]) == set(demo["orders"]["channel"])
    assert list(b.columns[:3]) == ["channel", "Sales volume", "Sales volume change"]


def test_kpi_overview_executes_with_a_custom_kpi(demo_dir: Path, tmp_path: Path) -> None:
    custom = config.read_params(config.PARAMS_DIR / "base.yaml")["custom_kpis"]
    run = run_notebook("kpi_overview", tmp_path, period="2026-09", source=str(demo_dir), custom_kpis=custom)
    html = run.html
    assert "Orders over 1,000" in html  # the custom KPI from params/base.yaml
    assert run.images >= 3  # trends, revenue drivers, reasons
    for words in ("Sales volume", "By region", "By sales rep", "defective", "won_30"):
        assert words in html, words


@pytest.mark.parametrize("kpi", ["stage_conversion"])
def test_stage_scorecard_has_one_row_per_stage(demo: salesnb.SalesData, kpi: str) -> None:
    sc = overview.scorecard(report_context("2026-Q3", demo), kpis=[kpi])
    assert list(sc["stage"]) == ["qualified", "meeting", "proposal", "negotiation"]
