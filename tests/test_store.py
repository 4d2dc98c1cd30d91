"""The daily summary store: every page's numbers exactly equal with and without it, and a
new export recomputes only the days whose rows changed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb.store import DailyStore
from tests.test_engines import _pages

CUTOFF = pd.Timestamp("2026-10-01")
DATES = {"orders": "ordered_at", "returns": "returned_at", "leads": "created_at", "deals": "created_at",
         "deal_stages": "entered_at", "activities": "occurred_at", "feedback": "received_at"}


def _themes() -> dict:
    return config.read_params(config.PARAMS_DIR / "base.yaml")["feedback_themes"]


def _context(data: salesnb.SalesData, store: Path | None, engine: str = "pandas") -> object:
    return salesnb.report_context("2026-Q3", data, holidays="RU", feedback_themes=_themes(), engine=engine,
                                  store=store)


def _copy(data: salesnb.SalesData) -> salesnb.SalesData:
    """The same tables as a fresh SalesData (no source, cache or store of the original)."""
    return salesnb.SalesData({name: frame.copy() for name, frame in data.tables.items()})


def _before(data: salesnb.SalesData, cutoff: pd.Timestamp) -> salesnb.SalesData:
    """Last month's export: every dated row before ``cutoff``, as it stood then (a lead
    converted later was not converted yet, a deal closed later was open)."""
    tables = {}
    for name, frame in data.tables.items():
        column = DATES.get(name)
        tables[name] = frame[frame[column] < cutoff].copy() if column in frame else frame.copy()
    leads, deals = tables["leads"], tables["deals"]
    leads.loc[leads["converted_at"] >= cutoff, "converted_at"] = pd.NaT
    later = deals["closed_at"] >= cutoff
    deals.loc[later, "closed_at"] = pd.NaT
    deals.loc[later, "outcome"] = "open"
    kept = set(tables["orders"]["order_id"])
    tables["order_lines"] = tables["order_lines"][tables["order_lines"]["order_id"].isin(kept)]
    return salesnb.SalesData(tables)


def _same(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame], *, exact: bool = True) -> None:
    assert got.keys() == expected.keys()
    for name, frame in got.items():
        pd.testing.assert_frame_equal(frame, expected[name], check_exact=exact, rtol=1e-12, obj=name)


@pytest.fixture(scope="module")
def without_store(demo: salesnb.SalesData) -> dict[str, pd.DataFrame]:
    return _pages(_context(_copy(demo), None))


def test_every_page_is_exactly_the_same_from_a_cold_and_a_warm_store(
        demo: salesnb.SalesData, without_store: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    cold = _context(_copy(demo), tmp_path)
    _same(_pages(cold), without_store)
    recomputed = cold.src.store.recomputed  # type: ignore[attr-defined]
    assert recomputed and all(days > 300 for days in recomputed.values())  # every day, the first time
    assert {key[2] for key in recomputed} == {"orders", "returns", "new_customers", "leads"}
    warm = _context(_copy(demo), tmp_path)
    _same(_pages(warm), without_store)
    assert set(warm.src.store.recomputed.values()) == {0}  # type: ignore[attr-defined]


def test_next_months_export_recomputes_only_the_days_that_changed(
        demo: salesnb.SalesData, without_store: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    _pages(_context(_before(demo, CUTOFF), tmp_path))  # last month's report filled the store
    ctx = _context(_copy(demo), tmp_path)
    _same(_pages(ctx), without_store)
    recomputed = ctx.src.store.recomputed  # type: ignore[attr-defined]
    scope = next(iter(recomputed))[0]
    orders = demo["orders"]
    # October's days, and the earlier days whose orders were returned in October (their
    # returned flag changed): counted here from the rows
    returned = demo["returns"].loc[demo["returns"]["returned_at"] >= CUTOFF, "order_id"]
    old_days = orders.loc[orders["order_id"].isin(returned) & (orders["ordered_at"] < CUTOFF)
                          & (orders["status"] != "cancelled"), "ordered_at"].dt.normalize()
    new_days = orders.loc[orders["ordered_at"] >= CUTOFF, "ordered_at"].dt.normalize()
    assert recomputed[(scope, "pandas", "orders", None)] == len(set(old_days) | set(new_days))
    days_in_data = orders["ordered_at"].dt.normalize().nunique()
    assert recomputed[(scope, "pandas", "orders", None)] < days_in_data / 10
    leads = demo["leads"]
    assert recomputed[(scope, "pandas", "leads", None)] < leads["created_at"].dt.normalize().nunique() / 3


def test_an_edited_old_row_recomputes_its_day(demo: salesnb.SalesData, tmp_path: Path) -> None:
    _pages(_context(_copy(demo), tmp_path))
    edited = _copy(demo)
    orders = edited.tables["orders"]
    row = orders.index[(orders["ordered_at"] < "2026-07-01") & (orders["status"] != "cancelled")][100]
    orders.loc[row, "amount"] = orders.loc[row, "amount"] + 1000.0
    expected = _pages(_context(_copy(edited), None))
    ctx = _context(edited, tmp_path)
    _same(_pages(ctx), expected)
    scope = next(iter(ctx.src.store.recomputed))[0]  # type: ignore[attr-defined]
    assert ctx.src.store.recomputed[(scope, "pandas", "orders", None)] == 1  # type: ignore[attr-defined]


def test_a_damaged_or_foreign_store_file_is_recomputed_not_trusted(demo: salesnb.SalesData,
                                                                    without_store: dict[str, pd.DataFrame],
                                                                    tmp_path: Path) -> None:
    _pages(_context(_copy(demo), tmp_path))
    files = sorted(tmp_path.glob("*.parquet"))
    assert files
    files[0].write_bytes(b"not parquet")
    ctx = _context(_copy(demo), tmp_path)
    _same(_pages(ctx), without_store)
    assert sorted(ctx.src.store.recomputed.values())[-1] > 300  # type: ignore[attr-defined]


def test_duckdb_with_the_store_gives_duckdbs_numbers(demo: salesnb.SalesData, tmp_path: Path) -> None:
    expected = _pages(_context(_copy(demo), None, "duckdb"))
    for _ in range(2):  # cold, then warm
        _same(_pages(_context(_copy(demo), tmp_path, "duckdb")), expected, exact=False)


def test_store_round_trip_and_scope(tmp_path: Path) -> None:
    store = DailyStore(tmp_path, scope="a")
    frame = pd.DataFrame({"_seg": ["x"], "_day": [pd.Timestamp("2026-10-01")], "n": [3]})
    store.save(("a", "pandas", "orders", None), frame, {"2026-10-01": "1:2:3"})
    got, fps = store.load(("a", "pandas", "orders", None))  # type: ignore[misc]
    pd.testing.assert_frame_equal(got, frame)
    assert fps == {"2026-10-01": "1:2:3"}
    assert store.load(("b", "pandas", "orders", None)) is None


def test_every_published_page_is_the_same_with_and_without_the_store(
        demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.report_compare import publish_with, same_report

    monkeypatch.setenv("SALESNB_DAILY_STORE", "off")
    without = publish_with(tmp_path / "without", source=str(demo_dir))
    assert not (tmp_path / "store").exists()
    monkeypatch.setenv("SALESNB_DAILY_STORE", str(tmp_path / "store"))
    cold = publish_with(tmp_path / "cold", source=str(demo_dir))
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "store").glob("*.parquet")}
    assert stored  # the pages filled it
    warm = publish_with(tmp_path / "warm", source=str(demo_dir))
    # other kernels, the same data: every day's fingerprint matched, nothing was rewritten
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "store").glob("*.parquet")} == stored
    for got in (cold, warm):
        same_report(got, without, rtol=0)  # exactly: the store changes where the sums come from, not them


def test_the_store_keeps_at_most_max_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import salesnb.store

    monkeypatch.setattr(salesnb.store, "MAX_FILES", 3)
    store = DailyStore(tmp_path)
    frame = pd.DataFrame({"n": [1]})
    for i in range(5):
        store.save(("scope", str(i)), frame, {})
    assert len(list(tmp_path.glob("*.parquet"))) == 3
    assert store.load(("scope", "4")) is not None and store.load(("scope", "0")) is None


def test_the_kept_fits_are_bounded_across_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run adds a few fits and none reaches the in-run pruning: opening the memo keeps
    only the newest MAX_FITS, and those still read back."""
    import sqlite3

    import numpy as np

    from salesnb import store

    monkeypatch.setattr(store, "MAX_FITS", 3)
    path = tmp_path / "fits.sqlite"
    for run in range(4):  # four runs of two new fits each
        memo = store.FitMemo(path, code="c")
        for i in range(2):
            memo.predict("m", lambda z, h: np.repeat(z[-1], h), np.array([float(run), float(i)]), 2)
        memo._db.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM fits").fetchone()[0] == 5  # 3 kept on opening + 2 new (8 unbound)
    last = store.FitMemo(path, code="c")
    assert last.predict("m", lambda z, h: 1 / 0, np.array([3.0, 1.0]), 2).tolist() == [1.0, 1.0]  # newest: kept
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM fits").fetchone()[0] == 3


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_breakdowns_share_one_fingerprint_that_still_sees_a_swap_of_segments(
        demo: salesnb.SalesData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """The orders by no segment, by region and by channel hash the orders once. Two orders of
    one day then swap regions: the day keeps its regions and its amounts, so only a hash of
    each row's region with its amount sees it. That day alone is recomputed, and the
    breakdown by region equals the one from the rows."""
    from salesnb import aggregate
    from salesnb.aggregate import Window
    from salesnb.kpis import registry
    from salesnb.periods import parse_period

    calls: list[list[str]] = []
    hashes = aggregate._day_hashes
    monkeypatch.setattr(aggregate, "_day_hashes", lambda lf, columns, eng: calls.append(list(columns))
                        or hashes(lf, columns, eng))
    kpis = [registry()["revenue"], registry()["orders"]]
    w = Window.of(parse_period("2026-09"))

    def by_region(data: salesnb.SalesData, store: Path | None) -> dict:
        src = salesnb.engines.as_source(data, engine)
        if store is not None:
            src.store = DailyStore(store)
        return {by: aggregate.summaries(src, kpis, w, by, funnel_stages=[])[0] for by in (None, "region", "channel")}

    by_region(_copy(demo), tmp_path)
    orders_hashes = [c for c in calls if "amt" in c]
    assert len(orders_hashes) == 1 and {"region", "channel"} <= set(orders_hashes[0])

    swapped = _copy(demo)
    o = swapped.tables["orders"]
    day = o[(o["ordered_at"] >= "2026-09-10") & (o["ordered_at"] < "2026-09-11") & (o["status"] != "cancelled")]
    pair = day[day["region"] != day["region"].iloc[0]].index[:1].union(day.index[:1])
    assert len(pair) == 2 and o.loc[pair, "amount"].nunique() == 2
    o.loc[pair, "region"] = o.loc[pair[::-1], "region"].to_numpy()
    src = salesnb.engines.as_source(swapped, engine)
    src.store = DailyStore(tmp_path)
    got = aggregate.summaries(src, kpis, w, "region", funnel_stages=[])[0]
    want = by_region(_copy(swapped), None)["region"]
    assert got.keys() == want.keys()
    assert {k: v.value for k, v in got.items()} == pytest.approx({k: v.value for k, v in want.items()}, rel=1e-12)
    before = by_region(_copy(demo), None)["region"]
    assert {k: v.value for k, v in got.items()} != {k: v.value for k, v in before.items()}  # (the swap mattered)
    assert src.store.recomputed[("", engine, "orders", "region")] == 1
