"""The first period of a dataset, and periods whose comparison periods lie before the data,
publish every page with "no data" notes instead of failing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from salesnb import config
from salesnb.publish import publish
from tests.conftest import SHARED_DATA


def _base(tmp_path: Path, params: dict, notebooks: list[str] | None = None) -> Path:
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    if notebooks:
        params = {**params, "report": {**params.get("report", {}), "notebooks": notebooks}}
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return base


def test_first_month_and_first_week_of_the_demo(demo_dir: Path, tmp_path: Path) -> None:
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params["source"] = str(demo_dir)
    out = tmp_path / "out"
    month = publish(base=_base(tmp_path, params), period="2024-01", out_dir=out, progress=False)
    assert not month.failures, [r.line() for r in month.failures]
    assert len(month.ran) == 9
    overview = (out / "2024-01" / "kpi_overview.html").read_text(encoding="utf-8")
    assert "no data that far back" in overview
    assert "nothing to split: no orders loaded, or no data for the previous period" in overview
    # the index's headline comes from the page's run record: January's orders, counted here
    orders = pd.read_parquet(demo_dir / "orders.parquet")
    january = orders[(orders["ordered_at"] >= "2024-01-01") & (orders["ordered_at"] < "2024-02-01")
                     & (orders["status"] != "cancelled")]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"<small>Orders</small> {len(january):,}</div>" in index
    assert f"<small>Sales volume</small> {january['amount'].sum():,.0f} USD</div>" in index
    assert "vnd.salesnb.record" not in overview  # the record is for the publisher only
    # the first ISO week: no deal closed yet, no previous week in the data
    week = publish(base=_base(tmp_path, params, ["kpi_overview", "funnel"]), period="2024-W01",
                   out_dir=out, progress=False)
    assert not week.failures, [r.line() for r in week.failures]


@pytest.mark.skipif(not (SHARED_DATA / "superstore").is_dir(), reason="../shared/data/superstore is absent")
def test_first_month_of_superstore(tmp_path: Path) -> None:
    params = config.read_params(config.PARAMS_DIR / "examples" / "superstore.yaml")
    report = publish(base=_base(tmp_path, params, ["kpi_overview", "marketing"]), period="2011-01",
                     out_dir=tmp_path / "out", progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    assert "no data that far back" in (tmp_path / "out" / "2011-01" / "kpi_overview.html").read_text(encoding="utf-8")
