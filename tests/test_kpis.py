"""KPI values against independent pandas calculations on the demo and on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import salesnb
from salesnb import kpi_table

OCT = ("2026-10-01", "2026-11-01")


def _in(s: pd.Series, window: tuple[str, str] = OCT) -> pd.Series:
    return (s >= window[0]) & (s < window[1])


@pytest.fixture(scope="module")
def table(demo: salesnb.SalesData) -> pd.DataFrame:
    return kpi_table(demo, "2026-10").set_index(["kpi", "stage"], drop=False)


def _value(table: pd.DataFrame, kpi: str, stage: str | None = None) -> float:
    rows = table[(table["kpi"] == kpi) & ((table["stage"] == stage) if stage else table["stage"].isna())]
    assert len(rows) == 1
    return float(rows["value"].iloc[0])


def test_order_kpis(demo: salesnb.SalesData, table: pd.DataFrame) -> None:
    o = demo["orders"]
    done = o[_in(o["ordered_at"]) & (o["status"] != "cancelled")]
    assert _value(table, "revenue") == pytest.approx(done["amount"].sum(), rel=1e-12)
    assert _value(table, "orders") == len(done)
    assert _value(table, "units") == done["quantity"].sum()
    assert _value(table, "average_check") == pytest.approx(done["amount"].mean(), rel=1e-12)
    r = demo["returns"]
    in_r = r[_in(r["returned_at"])]
    assert _value(table, "net_revenue") == pytest.approx(done["amount"].sum() - in_r["amount"].sum())
    assert _value(table, "returns") == (in_r["kind"] == "return").sum()
    assert _value(table, "returns_amount") == pytest.approx(in_r.loc[in_r["kind"] == "return", "amount"].sum())
    cancelled = (_in(o["ordered_at"]) & (o["status"] == "cancelled")).sum()
    assert _value(table, "refusals") == cancelled + (in_r["kind"] == "refusal").sum()
    returned = done["order_id"].isin(r["order_id"]).mean()
    assert _value(table, "return_rate") == pytest.approx(returned)


def test_new_customers_use_whole_history(demo: salesnb.SalesData, table: pd.DataFrame) -> None:
    o = demo["orders"]
    first = o[o["status"] != "cancelled"].groupby("customer_id")["ordered_at"].min()
    known = demo["customers"].set_index("customer_id")["first_purchase_at"].dropna()
    first = pd.concat([first, known]).groupby(level=0).min()
    assert _value(table, "new_customers") == _in(first).sum()


def test_lead_and_deal_kpis(demo: salesnb.SalesData, table: pd.DataFrame) -> None:
    leads, deals = demo["leads"], demo["deals"]
    cohort = leads[_in(leads["created_at"])]
    won_leads = deals.loc[deals["outcome"] == "won", "lead_id"]
    converted = cohort["converted_at"].notna() | cohort["lead_id"].isin(won_leads)
    assert _value(table, "leads") == len(cohort)
    assert _value(table, "conversion_rate") == pytest.approx(converted.mean())
    closed = deals[_in(deals["closed_at"]) & deals["outcome"].isin(["won", "lost"])]
    assert _value(table, "win_rate") == pytest.approx((closed["outcome"] == "won").mean())
    won = closed[closed["outcome"] == "won"]
    days = (won["closed_at"].dt.normalize() - won["created_at"].dt.normalize()).dt.days
    assert _value(table, "sales_cycle_days") == np.median(days)
    open_at_end = deals[(deals["created_at"] < OCT[1])
                        & (deals["closed_at"].isna() | (deals["closed_at"] >= OCT[1]))]
    assert _value(table, "pipeline_value") == pytest.approx(open_at_end["amount"].sum())


@pytest.mark.parametrize("stage", ["qualified", "meeting", "proposal", "negotiation"])
def test_stage_conversion(demo: salesnb.SalesData, table: pd.DataFrame, stage: str) -> None:
    st = demo["deal_stages"]
    order = ["qualified", "meeting", "proposal", "negotiation", "won"]
    nxt = order[order.index(stage) + 1]
    entered = st[(st["stage"] == stage) & _in(st["entered_at"])]
    reached = entered["deal_id"].isin(st.loc[st["stage"] == nxt, "deal_id"])
    assert _value(table, "stage_conversion", stage) == pytest.approx(reached.mean())
    row = table[(table["kpi"] == "stage_conversion") & (table["stage"] == stage)].iloc[0]
    assert row["n"] == len(entered)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_windows_stage_conversion_does_not_depend_on_the_windows_computed_with_it(engine: str) -> None:
    """A deal that went back (meeting in January, proposal in February, meeting again in
    March) has not reached the proposal after March's meeting: counted by hand, March's
    meeting converts 1 of 2 (deal 2 reached the proposal in March), alone and beside the
    months before it (which once moved every start back to January's)."""
    from salesnb import aggregate
    from salesnb.periods import parse_period

    rows = [("1", "meeting", "2026-01-10"), ("1", "proposal", "2026-02-10"), ("1", "meeting", "2026-03-10"),
            ("2", "meeting", "2026-03-05"), ("2", "proposal", "2026-03-20")]
    stages = pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at"]).astype({"entered_at": "datetime64[us]"})
    deals = pd.DataFrame({"deal_id": ["1", "2"], "created_at": pd.to_datetime(["2026-01-05", "2026-03-01"])})
    src = salesnb.engines.as_source(salesnb.SalesData({"deals": deals, "deal_stages": stages}), engine)
    funnel = ["meeting", "proposal", "won"]
    months = [aggregate.Window.of(parse_period(f"2026-{m:02d}")) for m in (1, 2, 3)]

    def march(df: pd.DataFrame) -> tuple[int, int]:
        got = df[df["stage"] == "meeting"]
        return int(got["n"].sum()), int(got["advanced"].sum())

    together = {w: aggregate._stages(src, w, None, funnel) for w in months}  # one pass serves all three
    alone = salesnb.engines.as_source(salesnb.SalesData({"deals": deals, "deal_stages": stages}), engine)
    assert march(together[months[2]]) == march(aggregate._stages(alone, months[2], None, funnel))
    assert march(together[months[2]]) == (2, 1)
    assert march(together[months[0]]) == (1, 1)  # January's meeting did reach it


def _stage_counts_by_hand(rows: pd.DataFrame, funnel: list[str], start: pd.Timestamp,
                          end: pd.Timestamp) -> dict[tuple[str, str], tuple[int, int]]:
    """The definition, deal by deal: a deal that entered a stage in the window counts once,
    on the day of its first entry there, and advanced when its latest entry into the next
    stage is at or after the window's start."""
    out: dict[tuple[str, str], list[int]] = {}
    for (deal, stage), g in rows.groupby(["deal_id", "stage"]):
        if stage not in funnel[:-1]:
            continue
        inside = g[(g["entered_at"] >= start) & (g["entered_at"] < end)]
        if inside.empty:
            continue
        day = str(inside["entered_at"].min().normalize().date())
        nxt = rows[(rows["deal_id"] == deal) & (rows["stage"] == funnel[funnel.index(stage) + 1])]["entered_at"]
        cell = out.setdefault((stage, day), [0, 0])
        cell[0] += 1
        cell[1] += int(len(nxt) > 0 and nxt.max() >= start)
    return {k: (a, b) for k, (a, b) in out.items()}


@settings(max_examples=40, deadline=None)
@example(entries=[(0, 0, 2), (0, 1, 6), (1, 0, 4)], window=(0, 30), repeated_deal=True)  # deal 0 twice in deals
@given(entries=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 40)), min_size=1,
                        max_size=30),
       window=st.tuples(st.integers(0, 40), st.integers(1, 30)), repeated_deal=st.booleans())
def test_stage_counts_match_the_definition_on_any_history(entries: list[tuple[int, int, int]],
                                                           window: tuple[int, int], repeated_deal: bool) -> None:
    """Random histories with re-entries, backward moves, entries on the same day and a stage
    outside the funnel (entered any number of times): every window's (stage, day) counts
    equal a deal-by-deal count, on pandas and DuckDB; also when they are summed from the
    counts by region made first, and when a deal's row repeats in the deals table (a link
    that would count its entries twice by region: the sum is then refused)."""
    from salesnb import aggregate

    funnel = ["meeting", "proposal", "won"]
    names = [*funnel, "on hold"]
    day0 = pd.Timestamp("2026-01-01")
    rows = pd.DataFrame({"deal_id": [str(d) for d, _, _ in entries], "stage": [names[s] for _, s, _ in entries],
                         "entered_at": [day0 + pd.Timedelta(hours=12 * h) for _, _, h in entries]}
                        ).astype({"entered_at": "datetime64[us]"})
    deals = pd.DataFrame({"deal_id": [str(d) for d in range(6)], "created_at": [day0] * 6,
                          "region": ["North", "South", "North", None, "East", "South"]})
    if repeated_deal:
        deals = pd.concat([deals, deals.iloc[[0]].assign(region="West")], ignore_index=True)
    start = day0 + pd.Timedelta(days=window[0] // 2)
    w = aggregate.Window(start.to_pydatetime(), (start + pd.Timedelta(days=window[1])).to_pydatetime(), window[1])
    want = _stage_counts_by_hand(rows, funnel, pd.Timestamp(w.start), pd.Timestamp(w.end))
    for engine in ("pandas", "duckdb"):
        for first in (None, "region"):
            src = salesnb.engines.as_source(salesnb.SalesData({"deals": deals, "deal_stages": rows}), engine)
            if first is not None:
                aggregate._stages(src, w, first, funnel)
            got = aggregate._stages(src, w, None, funnel)
            assert {(str(s), str(pd.Timestamp(d).date())): (int(n), int(a))
                    for s, d, n, a in zip(got["stage"], got[aggregate.DAY], got["n"], got["advanced"], strict=True)
                    } == want, (engine, first)


def test_by_region_adds_up(demo: salesnb.SalesData, table: pd.DataFrame) -> None:
    by = kpi_table(demo, "2026-10", by="region", kpis=["revenue", "orders", "leads", "win_rate"])
    assert sorted(by["region"].unique()) == ["East", "North", "South", "West"]
    for kpi in ("revenue", "orders", "leads"):
        assert by.loc[by["kpi"] == kpi, "value"].sum() == pytest.approx(_value(table, kpi))
    d = demo["deals"]
    north = d[_in(d["closed_at"]) & d["outcome"].isin(["won", "lost"]) & (d["region"] == "North")]
    got = by[(by["kpi"] == "win_rate") & (by["region"] == "North")]["value"].iloc[0]
    assert got == pytest.approx((north["outcome"] == "won").mean())


def test_returns_by_channel_follow_the_original_sale(demo: salesnb.SalesData) -> None:
    by = kpi_table(demo, "2026-10", by="channel", kpis=["returns"]).set_index("channel")
    r = demo["returns"].merge(demo["orders"][["order_id", "channel"]], on="order_id")
    expected = r[_in(r["returned_at"]) & (r["kind"] == "return")].groupby("channel").size()
    for channel, count in expected.items():
        assert by.loc[channel, "value"] == count


def _tiny() -> salesnb.SalesData:
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "customer_id": ["a", "a", "b", "c", "d"],
        "ordered_at": pd.to_datetime(["2026-09-20", "2026-10-05", "2026-10-06", "2026-09-01",
                                      "2026-10-07"]),
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        "status": ["cancelled", "completed", "completed", "completed", "completed"],
    })
    customers = pd.DataFrame({"customer_id": ["d"], "first_purchase_at": pd.to_datetime(["2019-05-01"])})
    deals = pd.DataFrame({
        "deal_id": ["d1", "d2"], "outcome": ["won", "won"],
        # 23:30 to 00:30 two days later is 2 calendar days; 08:00 to 20:00 same day is 0
        "created_at": pd.to_datetime(["2026-10-01 23:30", "2026-10-10 08:00"]),
        "closed_at": pd.to_datetime(["2026-10-03 00:30", "2026-10-10 20:00"]),
    })
    return salesnb.SalesData({"orders": orders, "customers": customers, "deals": deals})


def test_new_customers_and_cycle_subtleties() -> None:
    t = kpi_table(_tiny(), "2026-10", kpis=["new_customers", "sales_cycle_days"], min_events=1)
    values = t.set_index("kpi")["value"]
    # a: first non-cancelled order is o2 in October (the cancelled one in September does not
    # count); b: new in October; c: September; d: first_purchase_at in 2019 → not new
    assert values["new_customers"] == 2
    assert values["sales_cycle_days"] == 1.0  # median of 2 and 0 calendar days


def test_missing_table_and_insufficient_data() -> None:
    t = kpi_table(_tiny(), "2026-10", kpis=["orders", "leads", "win_rate"]).set_index("kpi")
    assert t.loc["leads", "status"] == "missing_table" and np.isnan(t.loc["leads", "value"])
    assert t.loc["orders", "status"] == "insufficient_data" and t.loc["orders", "value"] == 3
    assert t.loc["win_rate", "value"] == 1.0


def test_unknown_kpi_is_a_clear_error(demo: salesnb.SalesData) -> None:
    with pytest.raises(ValueError, match=r"unknown KPIs \['revenu'\]"):
        kpi_table(demo, "2026-10", kpis=["revenu"])


def test_custom_kpis_from_params(demo: salesnb.SalesData) -> None:
    custom = {
        "big_orders": {"label": "Orders over 1,000", "kind": "count", "table": "orders",
                       "where": {"status": "completed", "amount": {">=": 1000}}},
        "events_share": {"label": "Share of leads from events", "kind": "ratio", "table": "leads",
                         "numerator": {"where": {"channel": "Events"}}, "denominator": {}},
        "mean_deal": {"kind": "mean", "table": "deals", "column": "amount", "date": "closed_at",
                      "where": {"outcome": ["won"]}},
    }
    t = kpi_table(demo, "2026-10", kpis=list(custom), custom_kpis=custom).set_index("kpi")
    o, leads, d = demo["orders"], demo["leads"], demo["deals"]
    assert t.loc["big_orders", "value"] == (_in(o["ordered_at"]) & (o["status"] == "completed")
                                            & (o["amount"] >= 1000)).sum()
    assert t.loc["big_orders", "label"] == "Orders over 1,000"
    oct_leads = leads[_in(leads["created_at"])]
    assert t.loc["events_share", "value"] == pytest.approx((oct_leads["channel"] == "Events").mean())
    won = d[_in(d["closed_at"]) & (d["outcome"] == "won")]
    assert t.loc["mean_deal", "value"] == pytest.approx(won["amount"].mean())


@pytest.mark.parametrize(
    ("spec", "message"),
    [({"kind": "median", "table": "orders"}, "kind: 'median' is not one of"),
     ({"kind": "count", "table": "sales"}, "table: 'sales' is not a table"),
     ({"kind": "sum", "table": "orders"}, "column: sum needs a column"),
     ({"kind": "count", "table": "orders", "where": {"colour": "red"}}, "'colour' is not a column"),
     ({"kind": "count", "table": "orders", "where": {"amount": {"~": 1}}}, "unknown comparisons")],
    ids=["kind", "table", "column", "where-column", "where-op"],
)
def test_bad_custom_kpi(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        salesnb.registry({"x": spec})


def test_a_kpi_is_one_declaration(demo: salesnb.SalesData) -> None:
    # a KPI from an existing family's totals needs its declaration only: no query to write
    from salesnb.aggregate import Window, summaries
    from salesnb.kpis import KPI
    from salesnb.stats import Counts

    placed = KPI("orders_placed", "Orders placed", "count", "orders, cancelled or not", "orders placed", "up",
                 "count", ("orders",),
                 parts=(("orders", lambda r, d, days: Counts(r["n"] + r["cancelled"], days)),))
    p = salesnb.parse_period("2026-09")
    got, problems = summaries(salesnb.as_source(demo), [placed], Window.of(p), "region", funnel_stages=[])
    o = demo["orders"]
    september = o[(o["ordered_at"] >= "2026-09-01") & (o["ordered_at"] < "2026-10-01")]
    assert problems == {}
    assert {k[2]: v.value for k, v in got.items()} == september.groupby("region").size().astype(float).to_dict()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_overlapping_windows_prefetched_in_one_pass_equal_each_window_alone(demo: salesnb.SalesData,
                                                                          engine: str) -> None:
    """A PDCA check asks for a quarter, its months, the year before and a gap between them in
    one prefetch (once three passes, now one span each): every window's rows by segment and
    day equal the window computed on its own, and so do its won deals (the sales cycle)."""
    from salesnb import aggregate
    from salesnb.periods import parse_period

    periods = ["2026-Q2", "2026-04", "2026-05", "2026-06", "2025-Q2", "2025-05", "2026-07"]
    windows = [aggregate.Window.of(parse_period(p)) for p in periods]
    assert len(aggregate._spans(windows)) == 2  # 2025-Q2, and 2026-Q2 touching July
    together = salesnb.engines.as_source(salesnb.SalesData(dict(demo.tables)), engine)
    aggregate.prefetch(together, windows, "region")
    for name in ("orders", "returns", "new_customers", "leads", "deals_closed", "cycle"):
        for w in windows:
            alone = salesnb.engines.as_source(salesnb.SalesData(dict(demo.tables)), engine)
            if name == "cycle":  # each won deal, in the rows' order (the median's bootstrap reads it)
                got = together.cache[("cycle", "region", w)]
                want = aggregate.cycle_frame(alone, w, "region")
            else:
                got = together.cache[("family", (name, "region", ()), w)]
                want = aggregate._family(alone, name, w, "region")
            assert len(got) > 0, (name, w)
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                          check_dtype=False, rtol=1e-12, obj=f"{name} {w.start:%Y-%m}")


def test_a_funnel_of_too_many_stages_is_a_clear_error(demo: salesnb.SalesData) -> None:
    """Each stage is a column of the stage query: the params and the code bound them alike."""
    from salesnb import aggregate
    from salesnb.aggregate import MAX_FUNNEL_STAGES
    from salesnb.params import check_params
    from salesnb.periods import parse_period

    stages = [f"s{i}" for i in range(MAX_FUNNEL_STAGES + 1)]
    src = salesnb.engines.as_source(salesnb.SalesData(dict(demo.tables)), "duckdb")
    with pytest.raises(ValueError, match=f"at most {MAX_FUNNEL_STAGES} stages, got {MAX_FUNNEL_STAGES + 1}"):
        aggregate._stages(src, aggregate.Window.of(parse_period("2026-10")), None, stages)
    problems = check_params({"funnel_stages": stages}, "base.yaml")
    assert len(problems) == 1 and "base.yaml: funnel_stages" in problems[0], problems
    assert check_params({"funnel_stages": stages[:MAX_FUNNEL_STAGES]}, "base.yaml") == []


def test_the_registry_built_once_is_the_registry_built_anew() -> None:
    """The registry is kept per language and custom definitions: the kept one equals a fresh
    build, a caller changing its copy changes nothing for the next, other definitions or
    another language get their own, and a bad definition is still an error every time."""
    from salesnb import kpis, texts

    custom = {"big": {"kind": "count", "table": "orders", "where": {"amount": {">=": 1000}}}}
    kpis._REGISTRIES.clear()
    first = kpis.registry(custom)
    first.pop("big")
    again = kpis.registry(custom)
    kpis._REGISTRIES.clear()
    assert again == kpis.registry(custom) and "big" in again
    assert "big" not in kpis.registry({}) and "big" not in kpis.registry()
    other = kpis.registry({"big": {**custom["big"], "where": {"amount": {">=": 2000}}}})
    assert other["big"].spec["where"] == {"amount": {">=": 2000}}
    with texts.using("ru"):
        ru = kpis.registry(custom)
    assert ru["revenue"].label != again["revenue"].label and ru["big"].label == "big"
    for _ in range(2):
        with pytest.raises(ValueError, match="custom_kpis.big.kind"):
            kpis.registry({"big": {**custom["big"], "kind": "median"}})


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_cohort_lags_are_the_90th_percentile_of_each_stage_move(demo: salesnb.SalesData, engine: str) -> None:
    """The stage lags that mark a young cohort immature: for each stage, the 90th percentile
    of the days from an entry to each entry of the same deal into the next stage, counted
    with a plain pandas merge of the demo's stage history (all stages come from one query)."""
    from salesnb import aggregate

    funnel = ["qualified", "meeting", "proposal", "negotiation", "won"]
    st = demo["deal_stages"]
    want = {}
    for stage, nxt in zip(funnel[:-1], funnel[1:], strict=True):
        moved = st[st["stage"] == stage].merge(st[st["stage"] == nxt], on="deal_id", suffixes=("", "_next"))
        days = (moved["entered_at_next"] - moved["entered_at"]).dt.total_seconds().dropna() / 86400
        want[("stage_conversion", stage)] = float(np.percentile(days, 90))
    lags = aggregate.cohort_lags(salesnb.engines.as_source(demo, engine), funnel)
    got = {k: v for k, v in lags.items() if k[0] == "stage_conversion"}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    assert all(v > 1 for v in got.values())  # (days, not seconds or fractions)
