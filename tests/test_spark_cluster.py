"""The report on a real Spark cluster: a standalone master with two worker JVMs, and a Spark
Connect server, all on localhost (tests/spark_cluster.py starts them with the scripts that
ship with pyspark). The executors are other JVMs, so the tables travel through Arrow, the
lookup tables are shipped to them and the temporary results come back over the network: every
page's tables must equal pandas' (relative 1e-9), and every published page and workbook the
pandas report's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb.engines import stop_spark
from tests import spark_cluster
from tests.report_compare import publish_with, same_report
from tests.test_engines import _pages

pytestmark = pytest.mark.skipif(spark_cluster.missing() is not None, reason=spark_cluster.missing() or "")

@pytest.fixture(scope="module")
def cluster() -> Iterator[spark_cluster.Cluster]:
    stop_spark()  # a local session of the tests before: its SparkContext would be handed back instead
    with spark_cluster.standalone(workers=2) as running:
        try:
            yield running
        finally:
            stop_spark()


@pytest.fixture(scope="module")
def connect(cluster: spark_cluster.Cluster) -> Iterator[str]:
    stop_spark()  # the standalone tests' session gives its cores back to the cluster first
    with spark_cluster.connect_server(cluster) as url:
        try:
            yield url
        finally:
            stop_spark()  # the client says goodbye while the server is there to hear it


def _themes() -> dict:
    return config.read_params(config.PARAMS_DIR / "base.yaml")["feedback_themes"]


@pytest.fixture(scope="module")
def pandas_pages(demo: salesnb.SalesData) -> dict[str, pd.DataFrame]:
    return _pages(salesnb.report_context("2026-Q3", demo, holidays="RU", feedback_themes=_themes()))


def _same_pages(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame], where: str) -> None:
    assert got.keys() == expected.keys()
    for name, frame in got.items():
        assert len(frame) == len(expected[name]) > 0 or name == "weak_spots", name
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected[name].reset_index(drop=True),
                                      check_dtype=False, rtol=1e-9, obj=f"{name} on {where}")


@pytest.fixture(scope="module")
def pandas_report(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_with(tmp_path_factory.mktemp("pandas"), source=str(demo_dir), engine="pandas")


def test_every_page_on_a_standalone_cluster(cluster: spark_cluster.Cluster, demo_dir: Path,
                                            pandas_pages: dict[str, pd.DataFrame]) -> None:
    src = salesnb.scan(demo_dir, engine="spark", spark_master=cluster.master)
    assert src.frame("orders").to_native().sparkSession.sparkContext.master == cluster.master
    ctx = salesnb.report_context("2026-Q3", src, holidays="RU", feedback_themes=_themes())
    _same_pages(_pages(ctx), pandas_pages, cluster.master)
    stop_spark()


def test_the_whole_report_on_a_standalone_cluster(cluster: spark_cluster.Cluster, demo_dir: Path,
                                                  pandas_report: Path, tmp_path: Path) -> None:
    stop_spark()  # each page's kernel is an application of its own on the cluster
    got = publish_with(tmp_path, source=str(demo_dir), engine="spark", spark_master=cluster.master)
    same_report(got, pandas_report, must_say="engine: spark")


def test_every_page_through_spark_connect(connect: str, demo: salesnb.SalesData,
                                          pandas_pages: dict[str, pd.DataFrame]) -> None:
    ctx = salesnb.report_context("2026-Q3", demo, holidays="RU", feedback_themes=_themes(), engine="spark",
                                 spark_master=connect)
    assert type(ctx.src.frame("orders").to_native()).__module__.startswith("pyspark.sql.connect")
    _same_pages(_pages(ctx), pandas_pages, connect)


def test_the_whole_report_through_spark_connect(connect: str, demo_dir: Path, pandas_report: Path,
                                                tmp_path: Path) -> None:
    got = publish_with(tmp_path, source=str(demo_dir), engine="spark", spark_master=connect)
    same_report(got, pandas_report, must_say="engine: spark")


def test_a_local_session_after_a_connect_one(connect: str) -> None:
    """A kernel that ran a page through Spark Connect can run the next one on local Spark
    (pyspark's process-wide Connect flag once made every later classic session fail), and
    back."""
    from salesnb.engines import spark_session

    assert spark_session(connect).range(3).count() == 3
    local = spark_session("local[1]")
    assert local.range(4).count() == 4 and local.sparkContext.master == "local[1]"
    assert spark_session(connect).range(5).count() == 5
    stop_spark()
