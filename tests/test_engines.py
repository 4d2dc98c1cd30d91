"""The same kpi_table and compare on pandas, DuckDB and Spark (local session); the whole report
on a Spark cluster and through Spark Connect: tests/test_spark_cluster.py."""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import compare, config, kpi_table

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
    with pytest.raises(ValueError, match="engine must be one of auto, pandas, duckdb, spark"):
        kpi_table(demo, "2026-10", engine="polars")  # type: ignore[arg-type]


def test_holidays_asked_for_once_are_not_given_to_later_callers() -> None:
    """A source made with a holiday calendar is its own: the same loaded data asked for
    without holidays gets none (a report's RU calendar once moved another page's
    weekday-prorated target)."""
    data = salesnb.SalesData({"orders": pd.DataFrame({"order_id": ["1"], "ordered_at": pd.to_datetime(["2026-01-05"]),
                                                       "amount": [1.0]})})
    ru = salesnb.engines.as_source(data, "pandas", holidays="RU")
    plain = salesnb.engines.as_source(data, "pandas")
    assert ru is not plain and plain.calendar is None
    assert ru.calendar.country == "RU" and salesnb.engines.as_source(data, "pandas", holidays="ru") is ru
    assert salesnb.engines.as_source(data, "pandas") is plain  # still one source per data, engine and calendar


def test_auto_picks_pandas_for_small_data_and_duckdb_for_large(demo: salesnb.SalesData, demo_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from salesnb import engines, health, present

    rows = sum(len(t) for t in demo.tables.values())
    assert rows < engines.AUTO_DUCKDB_ROWS  # the demo is small: pandas
    small = salesnb.as_source(demo, "auto")
    assert (small.engine, small.chosen, small.rows) == ("pandas", "auto", rows)
    note = present.engine_note(health.engine_choice(small)).data
    assert "<code>pandas</code>" in note and f"{rows:,} rows loaded" in note and "<code>engine: auto</code>" in note
    # the same data counted as large: DuckDB, with the same numbers
    monkeypatch.setattr(engines, "AUTO_DUCKDB_ROWS", rows)
    big = salesnb.SalesData(dict(demo.tables))
    large = salesnb.as_source(big)  # auto is the default
    assert (large.engine, large.chosen) == ("duckdb", "auto")
    assert "at least the" in present.engine_note(health.engine_choice(large)).data
    _assert_same(kpi_table(large, "2026-10", by="region"), kpi_table(demo, "2026-10", by="region"))
    # asked for, or already scanned: kept, and said so
    asked = salesnb.as_source(big, "pandas")
    assert asked.chosen == "asked" and "as the params ask" in health.engine_choice(asked)["why"]
    scanned = salesnb.scan(demo_dir)
    assert salesnb.as_source(scanned, "auto") is scanned
    assert health.engine_choice(scanned)["setting"] == "engine: duckdb"


def _pages(ctx: object, *, heavy: bool = True) -> dict[str, pd.DataFrame]:
    """Every page's analysis on one context (the PDCA check and rep table only when heavy)."""
    from salesnb import feedback, funnel, marketing, overview, pdca, team

    out = {"stage_table": funnel.stage_table(ctx), "weak_spots": funnel.weak_spots(ctx),
           "lost_reasons": funnel.lost_reasons(ctx), "cycle_incidence": funnel.cycle_incidence(ctx),
           "feedback_summary": feedback.summary(ctx), "themes": feedback.themes(ctx),
           "linked_reasons": feedback.linked_reasons(ctx, by="product"),
           "channels": marketing.channel_table(ctx), "scorecard": overview.scorecard(ctx),
           "anomalies": feedback.anomalies(ctx, "returns", by="reason", periods=6)}
    if heavy:
        out |= {"conversion_by": funnel.conversion_by(ctx, "channel"), "reps": team.rep_table(ctx),
                "breakdown": overview.breakdown(ctx, "region"),
                "pdca": pdca.check_all(ctx, pdca.read_register(config.PARAMS_DIR / "initiatives.yaml"))}
    return out


@pytest.fixture(scope="module")
def pages_on_pandas(demo: salesnb.SalesData) -> dict[str, pd.DataFrame]:
    themes = config.read_params(config.PARAMS_DIR / "base.yaml")["feedback_themes"]
    return _pages(salesnb.report_context("2026-Q3", demo, holidays="RU", feedback_themes=themes))


def test_a_kept_source_gives_every_page_the_numbers_of_a_fresh_one(
        demo_dir: Path, pages_on_pandas: dict[str, pd.DataFrame]) -> None:
    """A warm kernel's pages share the loaded data and its aggregates (``keep``): a page
    after other pages and periods must show exactly what it shows on its own."""
    themes = config.read_params(config.PARAMS_DIR / "base.yaml")["feedback_themes"]

    def kept(period: str, **settings: object) -> salesnb.ReportContext:
        return salesnb.report_context(period, str(demo_dir), cache=True, keep=True, feedback_themes=themes,
                                      **{"holidays": "RU", **settings})  # type: ignore[arg-type]

    october = kept("2026-10")
    _pages(october, heavy=False)  # another page's windows, prefetched in other groups
    quarter = kept("2026-Q3")
    assert quarter.src is october.src and quarter.data is october.data  # the same data, not loaded again
    for name, frame in _pages(quarter).items():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), pages_on_pandas[name].reset_index(drop=True),
                                      check_exact=True, obj=name)
    # other settings never share a source: the calendar and the day complete through are its own
    assert kept("2026-Q3", holidays=None).src is not october.src
    assert kept("2026-Q3", data_complete_through="2026-10-31").src is not october.src
    again = kept("2026-Q3")
    assert again.src is not october.src and again.src.calendar is not None  # settings changed back: fresh


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.skipif(
    not HAS_SPARK, reason="pyspark or Java not installed (.ci/run installs both)"))])
def test_every_page_gives_the_same_numbers_on_every_engine(demo: salesnb.SalesData, engine: str,
                                                           pages_on_pandas: dict[str, pd.DataFrame]) -> None:
    themes = config.read_params(config.PARAMS_DIR / "base.yaml")["feedback_themes"]
    ctx = salesnb.report_context("2026-Q3", demo, holidays="RU", feedback_themes=themes, engine=engine)
    assert ctx.src.engine == engine
    got = _pages(ctx, heavy=engine != "spark")  # Spark: the lighter pages (the rest take minutes locally)
    for name, frame in got.items():
        expected = pages_on_pandas[name]
        assert len(frame) == len(expected) > 0 or name in ("weak_spots",), name
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected.reset_index(drop=True),
                                      check_dtype=False, rtol=1e-9, obj=f"{name} on {engine}")


def test_duckdb_over_a_folder_of_parquet_parts(demo_dir: Path, reference: dict, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    for path in demo_dir.glob("*.parquet"):
        table = pq.read_table(path)
        if path.stem in ("orders", "leads"):  # the large tables as parts, as bench/make_data.py writes 100M orders
            (tmp_path / path.stem).mkdir()
            half = table.num_rows // 2
            pq.write_table(table.slice(0, half), tmp_path / path.stem / "part-0000.parquet")
            pq.write_table(table.slice(half), tmp_path / path.stem / "part-0001.parquet")
        else:
            pq.write_table(table, tmp_path / path.name)
    monkeypatch.setenv("SALESNB_DUCKDB_MEMORY", "512MB")  # spills beyond, same numbers
    source = salesnb.scan(tmp_path, engine="duckdb")
    assert source.frame("orders").to_native().query("r", "SELECT count(*) FROM r").fetchall()[0][0] == len(
        pq.read_table(demo_dir / "orders.parquet"))
    _check(source, reference)
    monkeypatch.setenv("SALESNB_DUCKDB_MEMORY", "lots")
    with pytest.raises(ValueError, match="SALESNB_DUCKDB_MEMORY: a size such as 3GB"):
        salesnb.scan(tmp_path, engine="duckdb")


@pytest.mark.skipif(not HAS_SPARK, reason="pyspark or Java not installed (.ci/run installs both)")
def test_a_session_for_another_master_is_not_the_old_one() -> None:
    from salesnb.engines import spark_session, stop_spark

    try:
        first = spark_session("local[1]")
        assert first.sparkContext.master == "local[1]"
        second = spark_session("local[2]")  # getOrCreate alone would return the local[1] session
        assert second.sparkContext.master == "local[2]"
        assert spark_session("local[2]") is second
    finally:
        stop_spark()


@pytest.mark.skipif(not HAS_SPARK, reason="pyspark or Java not installed (.ci/run installs both)")
def test_loaded_data_on_spark_survives_a_stopped_session(demo: salesnb.SalesData) -> None:
    """The same loaded data on Spark after stop_spark (or another master's session) gets its
    tables again, not the stopped session's."""
    from salesnb.engines import as_source, stop_spark

    data = salesnb.SalesData({"orders": demo["orders"].head(50)})
    try:
        first = as_source(data, "spark", spark_master="local[1]")
        assert first.frame("orders").to_native().count() == 50
        stop_spark()
        again = as_source(data, "spark", spark_master="local[1]")
        assert again is not first and again.frame("orders").to_native().count() == 50
        assert as_source(data, "spark", spark_master="local[1]") is again
    finally:
        stop_spark()
