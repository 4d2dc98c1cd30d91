"""Property-based test (Hypothesis) of the daily summary store: whatever last month's export
held and however the new one differs from it — rows added, removed or edited on any day,
returns arriving for old orders, leads converting late, a region renamed, odd text — every
KPI from the store equals the KPI computed from the rows, exactly, by segment and in total."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import salesnb
from salesnb.store import DailyStore

from .test_properties import ODD  # noqa: F401  (registers the ci / nightly profiles as well)

REGIONS = st.lists(st.text(alphabet=st.sampled_from(list("abXY -") + ["\u202e", "Ж", "😀"]), min_size=1, max_size=4),
                   min_size=1, max_size=4, unique=True)


def _export(rng: np.random.Generator, n: int, regions: list[str], start: pd.Timestamp, days: int) -> salesnb.SalesData:
    at = start + pd.to_timedelta(rng.integers(0, days * 24, n), unit="h")
    orders = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(n)], "customer_id": [f"C{i}" for i in rng.integers(0, max(1, n // 3), n)],
        "ordered_at": at, "amount": np.round(rng.gamma(2.0, 50.0, n), 2),
        "status": np.where(rng.random(n) < 0.1, "cancelled", "completed"),
        "region": np.array(regions, dtype=object)[rng.integers(0, len(regions), n)],
    })
    back = orders.sample(frac=0.1, random_state=int(rng.integers(0, 2**31)))
    returns = pd.DataFrame({"return_id": [f"R{i}" for i in range(len(back))], "order_id": back["order_id"].to_numpy(),
                            "returned_at": back["ordered_at"].to_numpy() + pd.Timedelta(days=5),
                            "amount": back["amount"].to_numpy()})
    m = max(1, n // 2)
    created = start + pd.to_timedelta(rng.integers(0, days * 24, m), unit="h")
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(m)], "created_at": created,
                          "converted_at": created.where(rng.random(m) < 0.3) + pd.Timedelta(days=3),
                          "region": np.array(regions, dtype=object)[rng.integers(0, len(regions), m)]})
    return salesnb.SalesData({"orders": orders, "returns": returns, "leads": leads})


def _next_export(data: salesnb.SalesData, rng: np.random.Generator, edits: int, rename: bool) -> salesnb.SalesData:
    """The export a month later: some rows gone, some amounts edited, a late conversion,
    perhaps a region renamed everywhere, plus the new month's rows."""
    orders, returns, leads = (data[name].copy() for name in ("orders", "returns", "leads"))
    if len(orders) > 2:
        orders = orders.drop(orders.index[rng.integers(0, len(orders), min(edits, len(orders) - 1))])
        edited = orders.index[rng.integers(0, len(orders), edits)]
        orders.loc[edited, "amount"] = orders.loc[edited, "amount"] + 1.0
    returns = returns[returns["order_id"].isin(orders["order_id"])]
    late = leads.index[leads["converted_at"].isna()][:edits]
    leads.loc[late, "converted_at"] = pd.Timestamp("2026-10-15")
    if rename:
        first = orders["region"].iloc[0] if len(orders) else None
        orders.loc[orders["region"] == first, "region"] = "renamed"
    new = _export(rng, 40, ["a", "renamed"], pd.Timestamp("2026-10-01"), 31)
    grown = {name: pd.concat([old, new[name].assign(**{key: new[name][key] + "-new" for key in ids})],
                             ignore_index=True)
             for name, old, ids in (("orders", orders, ["order_id"]), ("returns", returns, ["return_id", "order_id"]),
                                    ("leads", leads, ["lead_id"]))}
    return salesnb.SalesData(grown)


def _kpis(data: salesnb.SalesData, store: DailyStore | None) -> list[pd.DataFrame]:
    src = salesnb.as_source(data, "pandas")
    src.store = store
    return [salesnb.kpi_table(src, period, by=by) for period in ("2026-10", "2026-Q3", "2025")
            for by in (None, "region")]


@settings(deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), regions=REGIONS, edits=st.integers(0, 5),
       rename=st.booleans())
def test_the_store_gives_the_numbers_of_the_rows_on_any_next_export(
        tmp_path_factory: object, seed: int, n: int, regions: list[str], edits: int, rename: bool) -> None:
    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("store")  # type: ignore[attr-defined]
    before = _export(rng, n, regions, pd.Timestamp("2024-10-01"), 730)
    _kpis(before, DailyStore(folder))  # last month's report filled the store
    after = _next_export(before, rng, edits, rename)
    store = DailyStore(folder)
    for got, expected in zip(_kpis(after, store), _kpis(salesnb.SalesData(dict(after.tables)), None), strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # a day is recomputed only when its rows changed: never more days than the data has
    assert all(days <= 800 for days in store.recomputed.values())
