"""Where the aggregation runs: pandas (default), DuckDB or Apache Spark.

The KPI aggregation (:mod:`salesnb.aggregate`) is written once against narwhals
LazyFrames; a :class:`Source` hands it the canonical tables on one engine:

- ``as_source(sales_data)`` — the loaded pandas tables (``engine="pandas"``), or the same
  tables handed to DuckDB or Spark (``engine="duckdb"`` / ``"spark"``);
- ``scan(folder, engine="duckdb")`` — a folder of canonical Parquet or CSV files read by
  DuckDB out of core, or by a local Spark session (``engine="spark"``), without pandas.

Examples
--------
>>> import pandas as pd
>>> from salesnb.data import SalesData
>>> src = as_source(SalesData({"orders": pd.DataFrame({"order_id": ["1"]})}))
>>> src.engine, src.present
('pandas', ('orders',))
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import narwhals as nw
import pandas as pd
import pyarrow as pa

from salesnb.data import MissingTableError, SalesData
from salesnb.data.schema import TABLES

__all__ = ["Engine", "Source", "as_source", "scan", "spark_session", "stop_spark", "AUTO_DUCKDB_ROWS"]

Engine = Literal["auto", "pandas", "duckdb", "spark"]
ENGINES: tuple[str, ...] = ("auto", "pandas", "duckdb", "spark")
# engine "auto": DuckDB from this many loaded rows (all tables), pandas below. Measured by
# bench/bench_crossover.py (one period's page analyses on the demo replicated 1× to 16×,
# tables in memory as a report loads them, 2 cores): DuckDB/pandas time 0.85, 1.02 and 0.97
# at 0.26M, 0.52M and 1.05M rows (within noise), 0.70 at 2.1M and 0.57 at 4.2M, with less
# memory from 1M rows on; at 10M orders pandas needs 6.6 GB, DuckDB about 1 GB.
AUTO_DUCKDB_ROWS = 1_500_000


class Source:
    """Canonical tables as narwhals LazyFrames on one engine, plus a small cache."""

    def __init__(self, engine: Engine, natives: dict[str, Any], *, description: str = "",
                 make_frame: Any = None):
        self.engine = engine
        self._natives = natives
        self._make_frame = make_frame
        self.description = description
        self.cache: dict[Any, Any] = {}
        self.calendar: Any = None  # a salesnb.stats.Calendar: public holidays (as_source(holidays=...))
        # why this engine: "auto" (chosen by size), "asked" (params or argument) or "scanned"
        self.chosen: str = "asked"
        self.rows: int | None = None  # the rows loaded, when the data was loaded into memory
        self.store: Any = None  # a salesnb.store.DailyStore: per-day sums kept between runs

    @property
    def present(self) -> tuple[str, ...]:
        return tuple(n for n in TABLES if n in self._natives)

    def has(self, *names: str) -> bool:
        return all(n in self._natives for n in names)

    def frame(self, name: str) -> nw.LazyFrame:
        """The table as a narwhals LazyFrame; :class:`MissingTableError` when absent."""
        if name not in self._natives:
            raise MissingTableError(f"table {name!r} is not loaded")
        return nw.from_native(self._natives[name]).lazy()

    def derive(self, table: str, name: str, compute: Any) -> str:
        """pandas only: add a column ``compute(native table)`` to ``table`` once, for every
        query after (a link or flag that would otherwise be a join of millions of text keys
        per query). Names start with ``_``; returns the name."""
        assert self.engine == "pandas" and name.startswith("_"), "derived columns are for the pandas engine"
        native = self._natives[table]
        if name not in native.columns:
            self._natives = dict(self._natives)  # never the caller's SalesData
            self._natives[table] = native.assign(**{name: compute(native)})
            self.cache.pop(("columns", table), None)
        return name

    def columns(self, name: str) -> list[str]:
        key = ("columns", name)
        if key not in self.cache:
            self.cache[key] = self.frame(name).collect_schema().names() if self.has(name) else []
        return list(self.cache[key])

    def constant(self, df: pd.DataFrame) -> nw.LazyFrame:
        """A small pandas frame moved onto this engine (for joins with lookup tables)."""
        return nw.from_native(self._make_frame(df)).lazy()

    def __repr__(self) -> str:
        return f"Source(engine={self.engine!r}, tables={list(self.present)})"


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


SPARK_MASTER = "local[2]"


_SESSIONS: dict[str, Any] = {}


def spark_session(master: str | None = None) -> Any:
    """A Spark session, created once per master: ``local[2]`` by default (or
    ``SALESNB_SPARK_MASTER``), a cluster's ``spark://host:7077``, ``yarn``, or a Spark
    Connect server ``sc://host:15002`` (the ``pyspark[connect]`` extra). UTC and Arrow
    transfers either way. :func:`stop_spark` ends them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    master = master or os.environ.get("SALESNB_SPARK_MASTER") or SPARK_MASTER
    if master in _SESSIONS:
        return _SESSIONS[master]
    remote = master.startswith("sc://")
    # one classic SparkContext per process: getOrCreate would hand back the session of another
    # master, so that one is stopped first. And one kind of session at a time: pyspark picks
    # classic or Connect columns by a process-wide flag that its first Connect session sets
    # (SPARK_CONNECT_MODE_ENABLED), so a classic session after a Connect one failed with
    # CONNECT_URL_NOT_SET, and a Connect session beside a classic one breaks the classic one
    for other in [m for m in _SESSIONS if not (remote and m.startswith("sc://"))]:  # Connect keeps Connect
        _SESSIONS.pop(other).stop()
    if not remote:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    if remote:  # Spark Connect: the session lives on the server
        session = (SparkSession.builder.remote(master).appName("salesnb")
                   .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    else:
        session = (SparkSession.builder.master(master).appName("salesnb")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.ui.enabled", "false")
                   .config("spark.driver.memory", "3g")
                   .getOrCreate())
    _SESSIONS[master] = session
    return session


def stop_spark() -> None:
    """Stop every session :func:`spark_session` made (a cluster's cores go back to it; a
    Spark Connect client says goodbye while its server is still there to hear it)."""
    while _SESSIONS:
        _, session = _SESSIONS.popitem()
        session.stop()


def as_source(data: SalesData | Source, engine: Engine | None = None, *,
              holidays: Any = None, spark_master: str | None = None) -> Source:
    """The tables of ``data`` on ``engine``.

    ``"auto"`` (or ``None``): data already on an engine stays there; loaded data goes to
    pandas below :data:`AUTO_DUCKDB_ROWS` rows and to DuckDB from there (``src.chosen``
    says ``"auto"``; Spark only when asked).

    ``holidays`` (a country code such as ``RU``, or a list of dates) sets the source's
    calendar: every comparison on it then knows those public holidays. ``spark_master``
    chooses the Spark session for ``engine="spark"`` (see :func:`spark_session`).
    """
    if isinstance(data, Source):
        if holidays is not None:
            from salesnb.stats import calendar_of

            data.calendar = calendar_of(holidays)
        if engine not in (None, "auto") and engine != data.engine:
            raise ValueError(f"the data is already on {data.engine}; scan it again with "
                             f"engine={engine!r}")
        return data
    if not isinstance(data, SalesData):
        raise TypeError(f"expected SalesData or a Source from salesnb.scan, got {type(data).__name__}")
    rows = sum(len(df) for df in data.tables.values())
    chosen = "auto" if engine in (None, "auto") else "asked"
    if chosen == "auto":
        engine = "duckdb" if rows >= AUTO_DUCKDB_ROWS else "pandas"
    assert engine is not None
    # one Source per loaded data and engine, so its cache (windows already aggregated,
    # cohort lags, the data's end) serves every table and comparison of a report
    # (and calendar: a source asked for with holidays must not give them to later callers)
    sources = data.__dict__.setdefault("_sources", {})
    key = (engine, spark_master if engine == "spark" else None, _holidays_key(holidays))
    if key in sources and engine == "spark" and not _session_alive(sources[key]):
        del sources[key]  # its session was stopped (stop_spark, or a session of another master): tables anew
    if key not in sources:
        sources[key] = _from_sales_data(data, engine, spark_master)
        sources[key].rows = rows
        if holidays is not None:
            from salesnb.stats import calendar_of

            sources[key].calendar = calendar_of(holidays)
    sources[key].chosen = chosen
    return sources[key]


def _session_alive(src: Source) -> bool:
    """Whether a Spark source's tables still belong to a session :func:`spark_session` holds."""
    native = next(iter(src._natives.values()), None)
    return native is None or any(native.sparkSession is s for s in _SESSIONS.values())


def _holidays_key(holidays: Any) -> Any:
    """A hashable key for a holidays setting (a country code, a list of dates, a Calendar)."""
    from salesnb.stats import Calendar

    if holidays is None or isinstance(holidays, str | Calendar):
        return holidays.upper() if isinstance(holidays, str) else holidays
    return tuple(sorted(str(d)[:10] for d in holidays))


def _from_sales_data(data: SalesData, engine: str, spark_master: str | None = None) -> Source:
    if engine == "pandas":
        return Source("pandas", dict(data.tables), description="pandas",
                      make_frame=lambda df: df)
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        return Source("duckdb", {n: con.from_arrow(_arrow(df)) for n, df in data.tables.items()},
                      description="duckdb (from pandas)",
                      make_frame=lambda df: con.from_arrow(_arrow(df)))
    if engine == "spark":
        spark = spark_session(spark_master)
        return Source("spark", {n: spark.createDataFrame(_arrow(df)) for n, df in data.tables.items()},
                      description=f"spark on {spark_master or os.environ.get('SALESNB_SPARK_MASTER') or SPARK_MASTER}",
                      make_frame=lambda df: spark.createDataFrame(_arrow(df)))
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def _limit_memory(con: Any) -> None:
    """``SALESNB_DUCKDB_MEMORY`` (such as ``3GB``) caps DuckDB's memory; beyond it DuckDB
    spills to a temporary folder instead of growing (default: DuckDB's own, 80% of RAM)."""
    import re
    import tempfile

    limit = os.environ.get("SALESNB_DUCKDB_MEMORY", "").strip()
    if not limit:
        return
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit, flags=re.IGNORECASE):
        raise ValueError(f"SALESNB_DUCKDB_MEMORY: a size such as 3GB or 512MB, not {limit!r}")
    con.execute(f"SET memory_limit = '{limit}'")
    con.execute(f"SET temp_directory = '{tempfile.gettempdir()}/salesnb-duckdb-{os.getpid()}'")


def scan(folder: str | os.PathLike[str], *, engine: Engine = "duckdb", spark_master: str | None = None) -> Source:
    """Canonical files of a folder read lazily by DuckDB or Spark (no pandas in between).

    Takes ``<table>.parquet`` (or ``<table>.csv`` with a header and ISO dates), or a
    folder ``<table>/`` of Parquet parts (partitioned as you like), for each canonical table
    present. Use it for data larger than memory; validation is :func:`salesnb.load`'s job
    and is not repeated here. ``spark_master`` chooses the Spark session (see
    :func:`spark_session`).
    """
    root = Path(folder)
    files = {}
    for name in TABLES:
        if (root / name).is_dir() and any((root / name).rglob("*.parquet")):
            files[name] = root / name  # a partitioned table: every part below it
            continue
        for suffix in (".parquet", ".csv"):
            if (root / f"{name}{suffix}").is_file():
                files[name] = root / f"{name}{suffix}"
                break
    if not files:
        raise ValueError(f"no canonical .parquet or .csv files in {root}")
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")  # lets DuckDB stream out of core
        _limit_memory(con)
        natives = {n: (con.read_parquet(str(p / "**" / "*.parquet")) if p.is_dir()
                       else con.read_parquet(str(p)) if p.suffix == ".parquet" else con.read_csv(str(p)))
                   for n, p in files.items()}
        src = Source("duckdb", natives, description=f"duckdb over {root}",
                     make_frame=lambda df: con.from_arrow(_arrow(df)))
        src.chosen = "scanned"
        return src
    if engine == "spark":
        spark = spark_session(spark_master)
        natives = {n: (spark.read.parquet(str(p)) if p.is_dir() or p.suffix == ".parquet"
                       else spark.read.csv(str(p), header=True, inferSchema=True))
                   for n, p in files.items()}
        src = Source("spark", natives, description=f"spark over {root}",
                     make_frame=lambda df: spark.createDataFrame(_arrow(df)))
        src.chosen = "scanned"
        return src
    raise ValueError(f"scan reads with duckdb or spark, got {engine!r}; use salesnb.load for pandas")
