"""The same kpi_table and compare on pandas, DuckDB and Spark (local session)."""

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


@pytest.mark.skipif(not HAS_SPARK, reason="pyspark or Java not installed (.ci/run installs both)")
def test_the_whole_report_runs_on_local_spark(demo: salesnb.SalesData, demo_dir: Path, tmp_path: Path) -> None:
    import yaml

    from salesnb import overview
    from salesnb.publish import publish

    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params.update(source=str(demo_dir), engine="spark", spark_master="local[2]")
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    report = publish(base=base, period="2026-10", out_dir=tmp_path / "out", progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    assert len(report.ran) == 9
    for page in (tmp_path / "out" / "2026-10").glob("*.html"):
        assert "engine: spark" in page.read_text(encoding="utf-8"), page.name  # the run record says where
    # the index's headline, computed on Spark, against pandas
    on_spark = next(r.headline for r in report.results if r.headline)
    on_pandas = overview.index_headline(salesnb.report_context("2026-10", demo, custom_kpis=params["custom_kpis"],
                                                               currency=params["currency"]))
    assert on_spark["Orders"] == on_pandas["Orders"] and on_spark["New customers"] == on_pandas["New customers"]
    assert on_spark == on_pandas
