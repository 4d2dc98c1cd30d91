"""The real Superstore export loads through params/examples/superstore.yaml alone.

Skips when ../shared/data/superstore is absent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb.publish import publish

SUPERSTORE = config.ROOT.parent / "shared" / "data" / "superstore"
PARAMS = config.PARAMS_DIR / "examples" / "superstore.yaml"
pytestmark = pytest.mark.skipif(not (SUPERSTORE / "superstore_orders.csv").is_file(),
                                reason=f"Superstore export not found in {SUPERSTORE}")


@pytest.fixture(scope="module")
def superstore() -> salesnb.SalesData:
    params = config.read_params(PARAMS)
    return salesnb.load(params["source"], base_dir=config.ROOT)


def test_orders_aggregate_from_lines(superstore: salesnb.SalesData) -> None:
    lines = pd.read_csv(SUPERSTORE / "superstore_orders.csv")
    orders = superstore["orders"]
    assert len(orders) == lines["Order ID"].nunique() == 5009
    assert orders["customer_id"].nunique() == 793
    assert orders["amount"].sum() == pytest.approx(lines["Sales"].sum(), rel=1e-12)
    assert orders["quantity"].sum() == lines["Quantity"].sum()
    one = lines[lines["Order ID"] == "CA-2013-152156"]
    row = orders.set_index("order_id").loc["CA-2013-152156"]
    assert row["amount"] == pytest.approx(one["Sales"].sum())
    assert row["ordered_at"] == pd.Timestamp("2013-11-09")
    assert (orders["status"] == "completed").all()


def test_returns_from_the_returns_sheet(superstore: salesnb.SalesData) -> None:
    returns = superstore["returns"]
    sheet = pd.read_csv(SUPERSTORE / "superstore_returns.csv")
    assert len(returns) == 296 == sheet["Order ID"].nunique()
    joined = returns.merge(superstore["orders"], on="order_id", suffixes=("", "_order"))
    assert (joined["amount"] == joined["amount_order"]).all()
    assert (joined["returned_at"] == joined["ordered_at"]).all()
    assert superstore.warnings == ()


def test_superstore_page_publishes(tmp_path: Path) -> None:
    report = publish(base=PARAMS, period="2014-Q4", out_dir=tmp_path, progress=False)
    # every page publishes; sections whose tables the export lacks say so in a line
    assert sorted((r.notebook, r.status) for r in report.results) == [
        ("data_health", "ok"), ("feedback", "ok"), ("forecast", "ok"), ("funnel", "ok"), ("kpi_overview", "ok"),
        ("marketing", "ok"), ("pdca_review", "ok")], [r.error for r in report.results]
    html = (tmp_path / "2014-Q4" / "data_health.html").read_text(encoding="utf-8")
    assert "5,009" in html and "Superstore sample data" in html
    overview = (tmp_path / "2014-Q4" / "kpi_overview.html").read_text(encoding="utf-8")
    q4 = superstore_orders_in("2014-10-01", "2015-01-01")
    assert f"{q4:,}" in overview  # Q4 2014 orders, counted here from the export
    assert "data not loaded" in overview  # no leads or deals in this export: said, not failed


def superstore_orders_in(start: str, end: str) -> int:
    lines = pd.read_csv(SUPERSTORE / "superstore_orders.csv", parse_dates=["Order Date"])
    in_window = lines[(lines["Order Date"] >= start) & (lines["Order Date"] < end)]
    return in_window["Order ID"].nunique()


def test_by_product_revenue_comes_from_the_lines(superstore: salesnb.SalesData) -> None:
    # an order holding a chair and a pen counts its chair's sales for Furniture and its pen's for
    # Office Supplies: by-product revenue equals the export's lines summed per category
    lines = pd.read_csv(SUPERSTORE / "superstore_orders.csv", parse_dates=["Order Date"])
    y2014 = lines[lines["Order Date"].dt.year == 2014]
    t = salesnb.kpi_table(superstore, "2014", by="product", kpis=["revenue", "orders"])
    revenue = t[t["kpi"] == "revenue"].set_index("product")["value"]
    orders = t[t["kpi"] == "orders"].set_index("product")["value"]
    assert revenue.to_dict() == pytest.approx(y2014.groupby("Category")["Sales"].sum().to_dict())
    assert orders.to_dict() == y2014.groupby("Category")["Order ID"].nunique().astype(float).to_dict()
