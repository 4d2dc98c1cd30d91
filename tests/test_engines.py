"""The same kpi_table and compare on pandas, DuckDB and Spark (local session)."""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import compare, kpi_table

HAS_SPARK = find_spec("pyspark") is not None and shutil.which("java") is not None


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9)


@pytest.fixture(scope="module")
def reference(demo: salesnb.SalesData) -> dict[str, pd.DataFrame]:
    return {"table": kpi_table(demo, "2026-10", by="region"),
            "previous": compare(demo, "2026-10", by="region"),
            "last_year": compare(demo, "2026-Q3", against="last_year")}


def _check(source: object, reference: dict[str, pd.DataFrame]) -> None:
    _assert_same(kpi_table(source, "2026-10", by="region"), reference["table"])
    _assert_same(compare(source, "2026-10", by="region"), reference["previous"])
    _assert_same(compare(source, "2026-Q3", against="last_year"), reference["last_year"])


def test_duckdb_from_loaded_tables(demo: salesnb.SalesData, reference: dict) -> None:
    _check(salesnb.as_source(demo, "duckdb"), reference)


def test_duckdb_over_parquet(demo_dir: Path, reference: dict) -> None:
    source = salesnb.scan(demo_dir, engine="duckdb")
    assert source.engine == "duckdb"
    _check(source, reference)


@pytest.mark.skipif(not HAS_SPARK, reason="pyspark or Java not installed (.ci/run installs both)")
def test_spark_over_parquet(demo_dir: Path, reference: dict) -> None:
    source = salesnb.scan(demo_dir, engine="spark")
    assert source.engine == "spark"
    _check(source, reference)


def test_engine_follows_the_data_or_the_argument(demo: salesnb.SalesData, demo_dir: Path) -> None:
    assert salesnb.as_source(demo).engine == "pandas"
    scanned = salesnb.scan(demo_dir)
    assert salesnb.as_source(scanned).engine == "duckdb"
    with pytest.raises(ValueError, match="already on duckdb"):
        kpi_table(scanned, "2026-10", engine="pandas")
    with pytest.raises(ValueError, match="engine must be one of pandas, duckdb, spark"):
        kpi_table(demo, "2026-10", engine="polars")  # type: ignore[arg-type]
