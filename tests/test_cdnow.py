"""The real CDNOW transactions — space-padded, headerless, without order ids — load and
publish every page through params/examples/cdnow.yaml alone. Skips without ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb.publish import publish

CDNOW = config.ROOT.parent / "shared" / "data" / "cdnow_transactions" / "CDNOW_master.txt"
PARAMS = config.PARAMS_DIR / "examples" / "cdnow.yaml"
pytestmark = pytest.mark.skipif(not CDNOW.is_file(), reason=f"CDNOW file not found: {CDNOW}")


def _raw() -> pd.DataFrame:
    # read independently of the loader: fixed-width fields
    return pd.read_fwf(CDNOW, header=None, names=["customer", "date", "cds", "amount"],
                       dtype={"customer": str, "date": str})


def test_cdnow_loads_through_params_alone() -> None:
    data = salesnb.load(config.read_params(PARAMS)["source"], base_dir=config.ROOT)
    orders, raw = data["orders"], _raw()
    assert len(orders) == len(raw) == 69_659  # the figure of the data's README
    assert orders["order_id"].is_unique and orders["order_id"].iloc[0] == "1"  # file lines as ids
    assert orders["amount"].sum() == pytest.approx(2_500_315.63)
    assert orders["quantity"].sum() == 167_881
    assert orders["customer_id"].nunique() == 23_570
    assert orders["ordered_at"].min() == pd.Timestamp("1997-01-01")


def test_cdnow_publishes_every_page(tmp_path: Path) -> None:
    report = publish(base=PARAMS, period="1998-06", out_dir=tmp_path, progress=False)
    assert all(r.status == "ok" for r in report.results), [(r.notebook, r.error) for r in report.results]
    assert len(report.results) == 7
    raw = _raw()
    june = (raw["date"].str.startswith("199806")).sum()
    overview = (tmp_path / "1998-06" / "kpi_overview.html").read_text(encoding="utf-8")
    assert f"{june:,}" in overview  # June 1998's orders, counted here from the file
