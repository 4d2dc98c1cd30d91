"""Every data set in ../shared/data that has dates, mapped through params alone, keeps the
invariants a manager relies on:

- the driver split's parts add up to the scorecard's change (one convention, to the cent),
  with or without the split's column;
- a breakdown shows at most ``top_segments`` segments and one "all others" row, and its
  segments add up to the headline;
- the workbook's numbers are the page's, and its pooled segments add up to "all others".

The gift wholesaler (3,645 stock codes, 38 countries) also publishes every page within the
page budgets (under 300 table rows and 1.5 MB a page). Skips where ../shared/data is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config, overview
from salesnb.aggregate import OTHERS_LABEL
from salesnb.publish import publish

SHARED = config.ROOT.parent / "shared" / "data"
EXAMPLES = config.PARAMS_DIR / "examples"
RETAIL = SHARED / "uci_online_retail_2010_2011" / "online_retail_2010_2011_part.csv.gz"
# (params, period, the file the params read): the real exports with dates
SETS = [
    ("superstore.yaml", "2014-12", SHARED / "superstore" / "superstore_orders.csv"),
    ("cdnow.yaml", "1998-06", SHARED / "cdnow_transactions" / "CDNOW_master.txt"),
    ("online_retail.yaml", "2011-05", RETAIL),
    ("online_retail.yaml", "2011-06", RETAIL),  # the file stops part-way through 26 June
]
PAGE_MB, PAGE_ROWS = 1.5, 300


def _context(params_file: str, period: str, **settings: object) -> salesnb.ReportContext:
    params = config.read_params(EXAMPLES / params_file)
    return salesnb.report_context(period, params["source"], base_dir=config.ROOT, cache=True,
                                  holidays=params.get("holidays") or None, currency=params.get("currency", ""),
                                  **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=SETS, ids=[f"{p.split('.')[0]}-{period}" for p, period, _ in SETS])
def real(request: pytest.FixtureRequest) -> salesnb.ReportContext:
    params_file, period, path = request.param
    if not path.is_file():
        pytest.skip(f"real data not found: {path}")
    return _context(params_file, period)


def _headline(ctx: salesnb.ReportContext, kpi: str) -> pd.Series:
    return salesnb.compare(ctx.src, ctx.period, kpis=[kpi]).iloc[0]


def test_driver_split_adds_up_to_the_scorecard(real: salesnb.ReportContext) -> None:
    scored = _headline(real, "revenue")["abs_change"]
    for by in (None, "channel", "region", "product"):
        split = salesnb.revenue_drivers(real.src, real.period, by=by, top=real.top_segments)
        total = split.loc[split["part"] == "total", "effect"].iloc[0]
        assert total == pytest.approx(scored, abs=0.005), by
        assert split.loc[split["part"] != "total", "effect"].sum() == pytest.approx(scored, abs=0.005), by
        segs = split.drop(columns=["part", "effect"]).stack().nunique() if len(split.columns) > 2 else 0
        assert segs <= real.top_segments + 1, by


@pytest.mark.parametrize("by", ["region", "product"])
def test_breakdown_segments_add_up_to_the_headline(real: salesnb.ReportContext, by: str) -> None:
    c = overview.breakdown_comparison(real, by)
    if by not in c.columns or (c["status"] == "not_segmentable").all():
        assert overview.breakdown(real, by).empty  # the page says so in a line
        pytest.skip(f"no {by} in this export")
    # an order of several products counts in each of them: by product only revenue adds up
    for kpi in ("revenue",) if by == "product" else ("revenue", "orders"):
        rows = c[c["kpi"] == kpi]
        assert len(rows) <= real.top_segments + 1
        assert rows["current"].sum() == pytest.approx(_headline(real, kpi)["current"], rel=1e-12)
    shown = overview.breakdown(real, by)
    assert len(shown) == len(c[c["kpi"] == "revenue"]) <= real.top_segments + 1
    if c.attrs["folded"]:
        assert shown.iloc[-1, 0] == "all others"  # pooled last
        assert overview.folded_note(real, shown, by).startswith(f"The {real.top_segments} largest shown")


@pytest.mark.parametrize("by", ["region", "product"])
def test_workbook_rows_are_the_pages_and_pooled_rows_add_up(real: salesnb.ReportContext, by: str) -> None:
    page = overview.breakdown_comparison(real, by)
    book = overview.breakdown_rows(real, by)
    if by not in page.columns or (page["status"] == "not_segmentable").all():
        pytest.skip(f"no {by} in this export")
    tested = book[book["status"] != "pooled"].reset_index(drop=True)
    pd.testing.assert_frame_equal(tested[page.columns], page, check_dtype=False)
    pooled = book[book["status"] == "pooled"]
    assert len(pooled["product" if by == "product" else by].unique()) == page.attrs["folded"]
    for kpi in ("revenue", "orders"):
        others = page[(page["kpi"] == kpi) & (page[by] == OTHERS_LABEL)]
        if not len(others):
            continue
        mine = pooled[pooled["kpi"] == kpi]
        assert mine["current"].sum() == pytest.approx(others["current"].iloc[0], rel=1e-9)
        assert mine["baseline"].sum() == pytest.approx(others["baseline"].iloc[0], rel=1e-9)


def test_workbook_scorecard_is_the_pages(real: salesnb.ReportContext) -> None:
    from salesnb.texts import t

    score = overview.workbook_sheets(real)[0]
    names = [c["name"] for c in score["columns"]]
    row = next(r for r in score["rows"] if r[names.index(t("workbook.kpi"))] == real.kpis["revenue"].label)
    headline = _headline(real, "revenue")
    assert row[names.index(t("workbook.value"))] == pytest.approx(headline["current"])
    if headline["baseline"] == headline["baseline"]:
        assert row[names.index(t("workbook.previous"))] == pytest.approx(headline["baseline"])


# -- the wholesaler's own figures, counted here from the file --------------------------------

@pytest.fixture(scope="module")
def retail_lines() -> pd.DataFrame:
    if not RETAIL.is_file():
        pytest.skip(f"real data not found: {RETAIL}")
    lines = pd.read_csv(RETAIL, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    lines["at"] = pd.to_datetime(lines["InvoiceDate"], format="%m/%d/%y %H:%M")
    return lines


def test_wholesaler_figures_match_the_file(retail_lines: pd.DataFrame) -> None:
    ctx = _context("online_retail.yaml", "2011-05")
    may = retail_lines[(retail_lines["at"] >= "2011-05-01") & (retail_lines["at"] < "2011-06-01")]
    sales = may[~may["InvoiceNo"].str.startswith("C")]
    revenue = (sales["Quantity"] * sales["UnitPrice"]).abs().sum()
    values = salesnb.kpi_table(ctx.src, ctx.period, kpis=["revenue", "orders"]).set_index("kpi")["value"]
    assert values["orders"] == sales["InvoiceNo"].nunique()
    assert values["revenue"] == pytest.approx(revenue)
    # the invoice's country is the most common among its lines
    orders = ctx.data["orders"].set_index("order_id")
    several = retail_lines.groupby("InvoiceNo")["Country"].nunique()
    invoice = several[several > 1].index[0]
    expected = retail_lines.loc[retail_lines["InvoiceNo"] == invoice, "Country"].mode().iloc[0]
    assert orders.loc[invoice, "region"] == expected


def test_june_counts_as_over_when_the_data_is_complete_through_its_last_day() -> None:
    if not RETAIL.is_file():
        pytest.skip(f"real data not found: {RETAIL}")
    open_june = _headline(_context("online_retail.yaml", "2011-06"), "revenue")
    assert open_june["status"] == "incomplete_period"
    closed = _headline(_context("online_retail.yaml", "2011-06", data_complete_through="2011-06-30"), "revenue")
    assert closed["status"] != "incomplete_period" and "period not over" not in closed["note"]


@pytest.mark.skipif(not RETAIL.is_file(), reason=f"real data not found: {RETAIL}")
def test_wholesaler_publishes_every_page_within_the_budgets(tmp_path: Path) -> None:
    report = publish(base=EXAMPLES / "online_retail.yaml", period="2011-05", out_dir=tmp_path, progress=False)
    assert [r.status for r in report.results] == ["ok"] * 7, [(r.notebook, r.error) for r in report.results]
    for page in (tmp_path / "2011-05").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        rows = len(re.findall(r"<tr[ >]", text))
        assert page.stat().st_size < PAGE_MB * 2**20, f"{page.name}: {page.stat().st_size / 2**20:.2f} MB"
        assert rows < PAGE_ROWS, f"{page.name}: {rows} table rows"
    overview_page = (tmp_path / "2011-05" / "kpi_overview.html").read_text(encoding="utf-8")
    assert "all others" in overview_page and "every one is in the workbook" in overview_page
    from openpyxl import load_workbook

    book = load_workbook(tmp_path / "2011-05" / "kpis.xlsx", read_only=True)
    products = [name for name in book.sheetnames if "roduct" in name]
    assert products and book[products[0]].max_row > 1000  # every product, not only the top ones
