"""Data health tables against independent pandas counts on the demo."""

from __future__ import annotations

import pandas as pd

import salesnb
from salesnb.health import column_completeness, key_checks, rows_per_month, table_summary


def test_table_summary_counts(demo: salesnb.SalesData) -> None:
    t = table_summary(demo, "2026-10").set_index("table")
    leads = demo["leads"]
    in_oct = ((leads["created_at"] >= "2026-10-01") & (leads["created_at"] < "2026-11-01")).sum()
    assert t.loc["leads", "rows"] == len(leads)
    assert t.loc["leads", "rows_in_period"] == in_oct
    assert t.loc["leads", "first"] == leads["created_at"].min()
    assert t.loc["orders", "columns"] == "11/12"  # all but the optional margin
    assert (t["loaded"] == "yes").all()


def test_missing_tables_are_listed_not_failed(demo: salesnb.SalesData) -> None:
    only_orders = salesnb.SalesData({"orders": demo["orders"]})
    t = table_summary(only_orders, "2026-10").set_index("table")
    assert t.loc["leads", "loaded"] == "no" and t.loc["leads", "rows"] == 0
    checks = key_checks(only_orders, "2026-10").set_index("check")
    assert checks.loc["leads for conversion", "result"] == "missing"
    assert checks.loc["orders cover the period", "result"] == "ok"


def test_quarter_targets_come_from_its_months(demo: salesnb.SalesData) -> None:
    checks = key_checks(demo, "2026-Q3").set_index("check")
    assert checks.loc["targets for the period", "result"] == "ok"
    assert checks.loc["targets for the period", "detail"].startswith("monthly targets for all 3 months")
    assert key_checks(demo, "2027-Q1").set_index("check").loc[
        "targets for the period", "result"] == "warning"


def test_orders_not_covering_the_period_warn(demo: salesnb.SalesData) -> None:
    checks = key_checks(demo, "2026-11").set_index("check")
    assert checks.loc["orders cover the period", "result"] == "warning"


def test_rows_per_month_matches_resample(demo: salesnb.SalesData) -> None:
    counts = rows_per_month(demo)
    got = counts[counts["table"] == "returns"].set_index("month")["rows"]
    expected = demo["returns"].set_index("returned_at").resample("MS").size()
    expected = expected[expected > 0]
    pd.testing.assert_series_equal(got, expected, check_names=False, check_index_type=False,
                                   check_freq=False)
    since = rows_per_month(demo, since="2026-01-01")
    assert since["month"].min() == pd.Timestamp("2026-01-01")


def test_column_completeness(demo: salesnb.SalesData) -> None:
    c = column_completeness(demo).set_index(["table", "column"])
    assert c.loc[("orders", "order_id"), "filled"] == 1.0
    share = demo["leads"]["converted_at"].notna().mean()
    assert c.loc[("leads", "converted_at"), "filled"] == share
