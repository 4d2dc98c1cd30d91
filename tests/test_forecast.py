"""Forecasts: monthly history through the engine, the backtest against seasonal naive, and
intervals that cover at their stated rate out of sample — on the demo and on Superstore and
CDNOW (skipped when ../shared/data lacks them)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb import forecast as F

SHARED = config.ROOT.parent / "shared" / "data"


def _real(name: str, marker: str) -> salesnb.SalesData:
    if not (SHARED / marker).is_file():
        pytest.skip(f"{marker} not found in {SHARED}")
    return salesnb.load(config.read_params(config.PARAMS_DIR / "examples" / f"{name}.yaml")["source"],
                        base_dir=config.ROOT)


@pytest.fixture(scope="module")
def superstore() -> salesnb.SalesData:
    return _real("superstore", "superstore/superstore_orders.csv")


@pytest.fixture(scope="module")
def cdnow() -> salesnb.SalesData:
    return _real("cdnow", "cdnow_transactions/CDNOW_master.txt")


def _monthly_by_hand(data: salesnb.SalesData) -> pd.DataFrame:
    o = data["orders"]
    done = o[o["status"] != "cancelled"]
    month = done["ordered_at"].dt.to_period("M").astype(str)
    return pd.DataFrame({"revenue": done.groupby(month)["amount"].sum(), "orders": done.groupby(month).size()})


def test_history_is_the_monthly_totals_of_the_orders(demo: salesnb.SalesData) -> None:
    by_hand = _monthly_by_hand(demo)
    for kpi in ("revenue", "orders"):
        h = F.history(demo, kpi).set_index("month")["value"]
        assert list(h.index) == list(by_hand.index)  # every complete month, 2024-01 … 2026-10
        np.testing.assert_allclose(h.to_numpy(), by_hand[kpi].to_numpy(), rtol=1e-9)


def test_history_is_the_same_on_duckdb(demo_dir) -> None:  # type: ignore[no-untyped-def]
    pandas_h = F.history(salesnb.load(demo_dir), "revenue", by="region")
    duck_h = F.history(salesnb.scan(demo_dir, engine="duckdb"), "revenue", by="region")
    pd.testing.assert_frame_equal(pandas_h.reset_index(drop=True), duck_h.reset_index(drop=True), rtol=1e-9)


def test_the_baseline_error_is_the_seasonal_naive_error_by_hand(demo: salesnb.SalesData) -> None:
    y = _monthly_by_hand(demo)["revenue"].to_numpy()
    n = len(y)
    origins = range(max(2 * F.SEASON, n - F.MAX_ORIGINS), n)
    errors = [abs(y[o + h] - y[o + h - F.SEASON]) for o in origins for h in range(F.HORIZON) if o + h < n]
    bt = F.backtest(demo, "revenue")
    assert bt.loc[0, "baseline"] == "seasonal naive"
    assert bt.loc[0, "seasonal_naive_mae"] == pytest.approx(np.mean(errors), rel=1e-9)
    assert bt.loc[0, "origins"] == len(origins)


@pytest.mark.parametrize("dataset", ["demo", "superstore", "cdnow"])
def test_a_model_is_used_only_where_it_beats_the_baseline(dataset: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(dataset)
    for kpi in ("revenue", "orders", "new_customers"):
        bt = F.backtest(data, kpi, by="region" if dataset != "cdnow" else None)
        fc = F.forecast(data, kpi, by="region" if dataset != "cdnow" else None)
        for row in bt.itertuples():
            if not row.model:
                continue
            assert row.mae <= row.seasonal_naive_mae + 1e-9, (kpi, row.segment)
            if row.model == row.baseline:
                assert "no model beat" in row.note
            used = fc[fc["segment"] == row.segment]
            assert len(used) == F.HORIZON and set(used["model"]) == {row.model}
            assert (used["lo95"] <= used["lo80"]).all() and (used["lo80"] <= used["forecast"]).all()
            assert (used["forecast"] <= used["hi80"]).all() and (used["hi80"] <= used["hi95"]).all()


def _out_of_sample_coverage(data: salesnb.SalesData, cutoffs: int) -> dict[int, dict[int, tuple[float, int]]]:
    """Forecast from each of the last ``cutoffs`` month ends, with only the data known then
    (``as_of``), and count how often the intervals held the months that followed, per
    horizon (months after the origin) and level."""
    src = salesnb.as_source(data)
    last = (F.data_end(src).normalize() + pd.Timedelta(days=1)).to_period("M") - 1
    hits: dict[int, dict[int, list[bool]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kpi, by in (("revenue", None), ("orders", None), ("new_customers", None), ("revenue", "region")):
            actual = F.history(src, kpi, by=by).set_index(["month", "segment"])["value"]
            for k in range(1, cutoffs + 1):
                origin = last - k
                fc = F.forecast(src, kpi, by=by, as_of=origin.end_time.normalize())
                for r in fc.itertuples():
                    if (r.period, r.segment) in actual.index:
                        a = actual[(r.period, r.segment)]
                        h = (pd.Period(r.period, "M") - origin).n
                        hits.setdefault(h, {80: [], 95: []})
                        hits[h][80].append(r.lo80 <= a <= r.hi80)
                        hits[h][95].append(r.lo95 <= a <= r.hi95)
    return {h: {level: (float(np.mean(v)), len(v)) for level, v in by_level.items()} for h, by_level in hits.items()}


@pytest.mark.parametrize("dataset", ["demo", "superstore"])
def test_intervals_cover_at_their_stated_rate_out_of_sample(dataset: str, request: pytest.FixtureRequest) -> None:
    # a year of forecast origins, so every calendar month (January's holidays too) is judged;
    # each horizon on its own (1, 2 and 3 months ahead)
    cover = _out_of_sample_coverage(request.getfixturevalue(dataset), cutoffs=12)
    print(f"{dataset}: out-of-sample coverage by horizon {cover}")
    assert sorted(cover) == [1, 2, 3]
    for h, c in cover.items():
        assert c[80][1] >= 60
        assert abs(c[80][0] - 0.80) <= 0.08, (h, cover)
        assert c[95][0] >= 0.95 - 0.08, (h, cover)


@pytest.mark.parametrize("dataset", ["demo", "superstore", "cdnow"])
def test_the_backtest_coverage_is_reported_near_the_stated_rate(dataset: str,
                                                                request: pytest.FixtureRequest) -> None:
    # what the page reports as "80% held": pooled over the series, weighted by their origins
    data = request.getfixturevalue(dataset)
    series = [("revenue", None), ("orders", None), ("new_customers", None)]
    if dataset != "cdnow":  # CDNOW has no segments
        series += [("revenue", "region"), ("orders", "region")]
    rows = [r for kpi, by in series for r in F.backtest(data, kpi, by=by).itertuples() if r.model]
    assert all(r.origins >= F.MIN_ORIGINS for r in rows)
    weights = [r.origins for r in rows]
    held80 = np.average([r.coverage80 for r in rows], weights=weights)
    held95 = np.average([r.coverage95 for r in rows], weights=weights)
    print(f"{dataset}: backtest coverage 80% {held80:.3f}, 95% {held95:.3f} over {len(rows)} series")
    assert abs(held80 - 0.80) <= 0.08 and held95 >= 0.95 - 0.08


def test_too_short_a_history_gives_a_note_and_no_forecast(demo: salesnb.SalesData) -> None:
    as_of = pd.Timestamp("2024-10-31 23:59")  # ten complete months
    assert F.forecast(demo, "revenue", as_of=as_of).empty
    note = F.backtest(demo, "revenue", as_of=as_of).loc[0, "note"]
    assert "too short a history" in note and "10 complete months" in note


def test_intervals_on_few_backtest_months_say_so(demo: salesnb.SalesData) -> None:
    hist = F.history(demo, "revenue")
    as_of = pd.Period(hist["month"].iloc[12], "M").end_time.normalize()  # 13 complete months
    row = F.backtest(demo, "revenue", as_of=as_of).iloc[0]
    assert row["origins"] < F.MAX_ORIGINS and row["model"]
    assert f"the intervals rest on only {row['origins']} backtest months" in row["note"]
    full = F.backtest(demo, "revenue").iloc[0]
    assert full["origins"] == F.MAX_ORIGINS and "rest on only" not in full["note"]


def test_a_rate_is_not_forecast(demo: salesnb.SalesData) -> None:
    with pytest.raises(ValueError, match="not a monthly total"):
        F.forecast(demo, "conversion_rate")


def test_the_chance_of_hitting_target(demo: salesnb.SalesData) -> None:
    # a closed month: attainment, from the same revenue the scorecard shows
    closed = F.target_chance(demo, "revenue", "2026-09", 1_000_000.0)
    actual = salesnb.kpi_table(demo, "2026-09", kpis=["revenue"])["value"].iloc[0]
    assert closed["status"] == "closed"
    assert closed["attainment"] == pytest.approx(actual / 1_000_000.0)
    # an open month, half way: the expected total is the actual so far plus the rest of the
    # month's forecast; a target at exactly that is an even chance, higher targets less
    as_of = pd.Timestamp("2026-10-15 23:59:59")
    mid = F.target_chance(demo, "revenue", "2026-10", 1.0, as_of=as_of)
    assert mid["status"] == "open" and 0 < mid["actual"] < mid["expected"]
    even = F.target_chance(demo, "revenue", "2026-10", mid["expected"], as_of=as_of)
    assert even["chance"] == pytest.approx(0.5, abs=1e-9)
    chances = [F.target_chance(demo, "revenue", "2026-10", mid["expected"] * f, as_of=as_of)["chance"]
               for f in (0.9, 1.0, 1.1, 1.3)]
    assert chances == sorted(chances, reverse=True) and chances[0] > 0.5 > chances[-1]
    assert F.target_chance(demo, "revenue", "2026-10", mid["actual"] * 0.9, as_of=as_of)["chance"] == 1.0
    assert math.isnan(F.target_chance(demo, "revenue", "2026-Q4", 1.0, as_of=as_of)["chance"])


def test_an_open_month_shows_its_chance_on_the_scorecard_and_in_the_index(demo: salesnb.SalesData) -> None:
    from salesnb import overview

    as_of = pd.Timestamp("2026-10-15 23:59:59")
    events = {"orders": "ordered_at", "leads": "created_at", "deals": "created_at", "deal_stages": "entered_at",
              "returns": "returned_at", "feedback": "received_at", "activities": "occurred_at"}
    def until(df: pd.DataFrame, col: str | None) -> pd.DataFrame:
        df = df[df[col] <= as_of] if col else df
        return df.assign(**{c: df[c].where(df[c] <= as_of) for c in ("closed_at", "converted_at") if c in df})

    cut = salesnb.SalesData({name: until(df, events.get(name)) for name, df in demo.tables.items()})
    ctx = salesnb.report_context("2026-10", cut)
    target = F.month_target(cut, "revenue", "2026-10")
    expected = F.target_chance(cut, "revenue", "2026-10", target)
    assert expected["status"] == "open"
    card = overview.scorecard(ctx).set_index("kpi")
    assert f"{expected['chance']:.0%} chance of reaching the target" in card.loc["revenue", "vs_target"]
    assert overview.index_headline(ctx)["Sales volume target"] == F.chance_text(expected)
    closed = overview.index_headline(salesnb.report_context("2026-09", demo))["Sales volume target"]
    actual = salesnb.kpi_table(demo, "2026-09", kpis=["revenue"])["value"].iloc[0]
    assert closed == f"{actual / F.month_target(demo, 'revenue', '2026-09'):.0%} of target"


def test_the_outlook_says_in_a_line_what_a_crm_export_without_orders_cannot_forecast(
        demo: salesnb.SalesData) -> None:
    crm = salesnb.SalesData({k: v for k, v in demo.tables.items() if k in ("leads", "deals", "deal_stages", "targets")})
    ctx = salesnb.report_context("2026-10", crm)
    forecasts, backtests = F.outlook_tables(ctx)
    assert forecasts.empty and F.outlook_charts(ctx) == [] and F.target_outlook(ctx).empty
    assert list(backtests["note"]) == ["not forecast (data not loaded)"] * len(F.OUTLOOK_KPIS)


def test_the_chance_of_a_target_is_calibrated_on_real_months(superstore: salesnb.SalesData,
                                                             cdnow: salesnb.SalesData) -> None:
    """Mid-month cut-offs (days 10 and 20) over the last two years of Superstore and CDNOW,
    revenue and orders, targets the model never sees (the month a year earlier × 0.9–1.4):
    stated chances come true at their rate (slope 0.8–1.2; every tenth of the scale with 30
    cases or more within ±10 pp)."""
    from salesnb.calibration import reliability_table, target_cases

    cases = pd.concat([target_cases(d, kpi) for d in (superstore, cdnow) for kpi in ("revenue", "orders")])
    table, slope, (low, high) = reliability_table(cases)
    print(table.to_string(), f"slope {slope:.2f} [{low:.2f}, {high:.2f}], {len(cases)} cases")
    assert len(cases) > 300
    assert 0.8 <= slope <= 1.2 and low < 1 < high
    full = table[table["cases"] >= 30]
    assert len(full) >= 2 and ((full["stated"] - full["observed"]).abs() <= 0.10).all(), table
    # the chance moves with what came in: a target between the extremes is uncertain
    assert cases["chance"].between(0.1, 0.9).mean() > 0.3


def _simulated_orders(seed: int = 7, months: int = 48, per_day: float = 30.0, shock: float = 0.10) -> pd.DataFrame:
    """Four years of orders with a known structure: a weekday profile, a month-level shock
    (sd ``shock`` on the log scale, independent months), day-to-day noise and Poisson orders."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    days = pd.date_range(start, start + pd.DateOffset(months=months) - pd.Timedelta(days=1), freq="D")
    month_shock = pd.Series(rng.normal(0, shock, months), index=pd.period_range("2022-01", periods=months, freq="M"))
    weekday = np.array([1.2, 1.1, 1.0, 1.0, 1.1, 0.7, 0.4])
    rate = (per_day * weekday[days.day_of_week] * np.exp(month_shock.reindex(days.to_period("M")).to_numpy())
            * np.exp(rng.normal(0, 0.15, len(days))))
    n = rng.poisson(rate)
    at = np.repeat(days.to_numpy(), n) + pd.to_timedelta(rng.uniform(8, 18, n.sum()), unit="h").to_numpy()
    k = len(at)
    return pd.DataFrame({"order_id": [f"O{i}" for i in range(k)], "customer_id": [f"C{i % 5000}" for i in range(k)],
                         "ordered_at": at, "amount": rng.gamma(2.0, 50.0, k).round(2), "status": "completed"})


def test_the_chance_of_a_target_is_calibrated_on_a_simulation_with_known_structure() -> None:
    """The same check as on the real months, on simulated sales whose months vary only by
    a known shock: the stated chances come true at their rate."""
    from salesnb.calibration import reliability_table, target_cases

    data = salesnb.SalesData({"orders": _simulated_orders()})
    cases = pd.concat([target_cases(data, kpi, low=0.85, high=1.2) for kpi in ("revenue", "orders")])
    table, slope, (low, high) = reliability_table(cases)
    print(table.to_string(), f"slope {slope:.2f} [{low:.2f}, {high:.2f}], {len(cases)} cases")
    assert len(cases) > 250 and 0.8 <= slope <= 1.2 and low < 1 < high
    full = table[table["cases"] >= 30]
    assert len(full) >= 2 and ((full["stated"] - full["observed"]).abs() <= 0.10).all(), table


@pytest.mark.parametrize(("name", "marker"), [
    ("cdnow", "cdnow_transactions/CDNOW_master.txt"),
    ("online_retail", "uci_online_retail_2010_2011/online_retail_2010_2011_part.csv.gz"),
])
def test_a_real_series_too_short_for_an_honest_interval_says_so(name: str, marker: str) -> None:
    """The dated real sets besides Superstore are too short for a per-horizon coverage check
    (CDNOW 18 months, the wholesaler's part 6): every forecast they get is labelled a rough
    guide, or no forecast is made and the note says why, for each KPI the outlook shows."""
    data = _real(name, marker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kpi in ("revenue", "orders", "new_customers"):
            row = F.backtest(data, kpi).iloc[0]
            fc = F.forecast(data, kpi)
            if fc.empty:
                assert "too short a history" in row["note"], (name, kpi, row["note"])
            else:
                assert row["origins"] < F.MAX_ORIGINS
                assert f"rest on only {row['origins']} backtest months" in row["note"], (name, kpi)


def test_fits_kept_in_the_store_give_the_same_forecasts(demo: salesnb.SalesData, tmp_path) -> None:
    """A report's store keeps the model fits: a second run reads them all back, next month's
    fits only its new origins, and every forecast and backtest is the one a fresh fit gives;
    a damaged memo is computed around, never an error."""
    from salesnb.store import DailyStore

    def run(as_of: str, folder: object) -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
        src = salesnb.as_source(salesnb.SalesData(dict(demo.tables)))  # nothing kept on it yet
        if folder is not None:
            src.store = DailyStore(folder)  # type: ignore[arg-type]
        future = F.forecast(src, "revenue", as_of=as_of)
        tried = F.backtest(src, "revenue", as_of=as_of)
        return future, tried, src.store.fits().computed if folder is not None else None

    plain = run("2026-09-30", None)
    cold, warm = run("2026-09-30", tmp_path), run("2026-09-30", tmp_path)
    for kept in (cold, warm):
        pd.testing.assert_frame_equal(kept[0], plain[0], check_exact=True)
        pd.testing.assert_frame_equal(kept[1], plain[1], check_exact=True)
    assert set(plain[0]["model"]) - {"seasonal naive", "naive"}  # fitted models were chosen
    assert cold[2] and cold[2] > 20 and warm[2] == 0
    later, fresh = run("2026-10-31", tmp_path), run("2026-10-31", None)
    pd.testing.assert_frame_equal(later[0], fresh[0], check_exact=True)
    pd.testing.assert_frame_equal(later[1], fresh[1], check_exact=True)
    assert later[2] is not None and 0 < later[2] < cold[2] / 5  # final fits only (28 -> 3)
    for extra in tmp_path.glob("fits.sqlite*"):
        extra.unlink()
    (tmp_path / "fits.sqlite").write_bytes(b"not a database" * 100)
    broken = run("2026-09-30", tmp_path)
    pd.testing.assert_frame_equal(broken[0], plain[0], check_exact=True)
    assert broken[2] == cold[2]


@pytest.mark.parametrize("model", F.MODELS, ids=lambda m: m.name)
def test_a_backtest_origin_judges_the_first_steps_of_the_full_horizon(model) -> None:
    """The backtest forecasts the full horizon at every origin and keeps the steps the data
    can judge (so an origin's fit is the same next month): those steps are bit for bit the
    forecast of only that many steps."""
    rng = np.random.default_rng(1)
    z = np.log1p(1000 + 100 * np.sin(np.arange(40) * 2 * np.pi / 12) + rng.normal(0, 30, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for origin in (30, 38):
            full = model.predict(z[:origin], 3)
            for steps in (1, 2):
                assert np.array_equal(full[:steps], model.predict(z[:origin], steps))
