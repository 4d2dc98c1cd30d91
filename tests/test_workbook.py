"""kpis.xlsx per period: reopened with openpyxl, its numbers equal kpi_table and the PDCA
checks, numbers are numbers with formats, headers frozen, text never a formula."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import salesnb
from salesnb import config, overview, pdca, texts, workbook
from salesnb.comparisons import kpi_table
from tests.sites import demo_params, publish_site

INJECTIONS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "=1+1"]


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = demo_params(demo_dir, report={"notebooks": ["kpi_overview", "pdca_review"]})
    return publish_site(tmp_path_factory.mktemp("book"), params)


def _rows(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[dict[str, object]]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]


def test_scorecard_values_equal_kpi_table(site: Path, demo_dir: Path) -> None:
    book = openpyxl.load_workbook(site / "2026-10" / "kpis.xlsx")
    assert book.sheetnames[:2] == ["Scorecard", "By region"] and "Definitions" in book.sheetnames
    ws = book["Scorecard"]
    assert ws.freeze_panes == "B2" and ws["A1"].font.b
    ctx = salesnb.report_context("2026-10", str(demo_dir))
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    ref = kpi_table(ctx.src, ctx.period, kpis=[*overview.HEADLINE_KPIS, *params["custom_kpis"]],
                    custom_kpis=params["custom_kpis"], funnel_stages=params["funnel_stages"])
    rows = _rows(ws)
    assert [r["KPI"] for r in rows] == ref["label"].tolist()
    for r, (_, want) in zip(rows, ref.iterrows(), strict=True):
        if math.isnan(want["value"]):
            assert r["Value"] is None
        else:
            assert isinstance(r["Value"], (int, float)) and r["Value"] == pytest.approx(want["value"], rel=1e-12)
    # each value in its unit's format
    fmt = {r["KPI"]: c.number_format for r, c in zip(rows, ws["B"][1:], strict=True)}
    assert fmt["Sales volume"] == '#,##0 "USD"' and fmt["Orders"] == "#,##0"
    assert fmt["Lead-to-sale conversion"] == "0.0%"
    # attainment: the value over the target, as a share
    revenue = rows[0]
    assert revenue["Attainment"] == pytest.approx(revenue["Value"] / revenue["Target"])
    assert ws.column_dimensions["L"].width >= 20  # the definitions are readable


def test_breakdowns_and_pdca_register_with_verdicts(site: Path, demo_dir: Path) -> None:
    book = openpyxl.load_workbook(site / "2026-10" / "kpis.xlsx")
    ctx = salesnb.report_context("2026-10", str(demo_dir))
    region = pd.DataFrame(_rows(book["By region"]))
    revenue = region[region["KPI"] == "Sales volume"].set_index("Segment")["Value"]
    orders = pd.read_parquet(demo_dir / "orders.parquet")  # independent: the orders summed by region
    o = orders[(orders["ordered_at"] >= "2026-10-01") & (orders["ordered_at"] < "2026-11-01")
               & (orders["status"] != "cancelled")]
    want = o.groupby("region")["amount"].sum()
    assert revenue.sort_index().to_dict() == pytest.approx(want.sort_index().to_dict())
    register = pdca.register_from("params/initiatives.yaml", root=config.ROOT)
    checks = pdca.check_all(ctx, register, as_of=pdca.review_date(ctx.src, ctx.period))
    rows = _rows(book["PDCA register"])
    assert [r["id"] for r in rows] == [i.id for i in register]
    by_id = checks.set_index("id")
    for r in rows:
        c = by_id.loc[r["id"]]
        assert r["Verdict"] == c["verdict"].replace("_", " ")
        if not math.isnan(c["effect"]):
            assert r["Effect"] == pytest.approx(c["effect"])
        assert hasattr(r["Change from"], "year")  # a date, not text


def test_index_links_the_workbook(site: Path) -> None:
    assert 'href="2026-10/kpis.xlsx"' in (site / "index.html").read_text(encoding="utf-8")


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    df = pd.DataFrame({"name": INJECTIONS, "value": range(len(INJECTIONS))})
    path = tmp_path / "k.xlsx"
    workbook.write(path, [workbook.sheet("=cmd", df)])
    ws = openpyxl.load_workbook(path)["=cmd"]
    for cell, text in zip(ws["A"][1:], INJECTIONS, strict=True):
        assert cell.value == text and cell.data_type == "s"
    with zipfile.ZipFile(path) as z:  # no formula anywhere in the file
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_a_bad_sheet_is_named() -> None:
    with pytest.raises(ValueError, match="sheet name 'a/b'"):
        workbook.sheet("a/b", pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="column 'x': format 'euro'"):
        workbook.sheet("ok", pd.DataFrame({"x": [1]}), formats={"x": "euro"})


def test_russian_workbook(demo_dir: Path) -> None:
    ctx = salesnb.report_context("2026-10", str(demo_dir), language="ru", currency="RUB")
    try:
        sheets = overview.workbook_sheets(ctx, kpis=["revenue", "conversion_rate"])
    finally:
        texts.set_language("en")
    assert [s["name"] for s in sheets] == ["Сводка KPI", "По регионам", "По каналам", "По менеджерам",
                                           "По продуктам", "Определения"]
    assert sheets[0]["columns"][1]["name"] == "Значение"
    assert sheets[0]["columns"][1]["formats"][0] == '#,##0 "RUB"'
