"""Property-based tests (Hypothesis) of the calls and market pages on shapes no one wrote by
hand — any number of reps, owners missing, deals of one activity or of hundreds, names with
control characters and emoji; segments that sell in some months only, one dominant segment,
zero revenue — and the invariants a manager relies on:

- the team row of the activity table is the sum of its reps, and every rep's activities are
  counted once; a flagged rep always has q below alpha and the team gate passed;
- each column's segments add up to the whole business in both years; a shrunk estimate lies
  in its interval; an opportunity's interval lies above 1 and its money is positive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import salesnb
from salesnb import activities, opportunities
from salesnb.texts import t

from .test_properties import ODD  # noqa: F401  (registers the ci / nightly profiles as well)

NAMES = st.text(alphabet=st.sampled_from(list("abcXYZ 01-=+@") + ["\x01", "\u202e", "😀", "Ж", "<", "&"]),
                min_size=1, max_size=10)


@st.composite
def activity_frames(draw: st.DrawFn) -> pd.DataFrame:
    reps = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    n = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    deals = rng.integers(0, max(1, n // draw(st.integers(1, 50))), n)
    owner = np.array(reps, dtype=object)[rng.integers(0, len(reps), n)]
    owner[rng.random(n) < draw(st.sampled_from([0.0, 0.1]))] = None
    return pd.DataFrame({
        "activity_id": [f"A{i}" for i in range(n)],
        "occurred_at": pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.uniform(0, 31 * 24, n), unit="h"),
        "kind": np.array(activities.KINDS)[rng.integers(0, 4, n)],
        "owner": owner, "deal_id": [f"D{d}" for d in deals],
        "outcome": np.where(rng.random(n) < 0.6, "reached", "no answer"),
    })


@given(activity_frames())
def test_activity_tables_add_up_on_any_shape(frame: pd.DataFrame) -> None:
    ctx = salesnb.report_context("2026-03", salesnb.SalesData({"activities": frame}), min_events=5)
    reps = activities.rep_activity(ctx)
    team = reps[reps["owner"] == t("activity.total")].iloc[0]
    assert team["activities"] == len(frame) == reps["activities"].sum() - team["activities"]
    unusual = activities.unusual_reps(ctx, permutations=49)
    if len(unusual):
        assert unusual["p_value"].between(0, 1).all() and unusual["q_value"].between(0, 1).all()
        assert (unusual.loc[unusual["differs"], "q_value"] < ctx.alpha).all()
        assert set(unusual["owner"]) <= set(frame["owner"].dropna())
    calls = activities.call_times(ctx)
    assert calls.empty or calls["calls"].sum() == (frame["kind"] == "call").sum()


@st.composite
def monthly_tables(draw: st.DrawFn) -> pd.DataFrame:
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    values = draw(st.lists(NAMES, min_size=1, max_size=8, unique=True))
    scale = rng.lognormal(0, draw(st.sampled_from([0.1, 2.0])), len(values))
    rows = []
    for v, s in zip(values, scale, strict=True):
        active = rng.random(24) < draw(st.sampled_from([1.0, 0.7, 0.2]))
        revenue = np.where(active, rng.gamma(2.0, 500.0 * s, 24), 0.0)
        rows += [{"dimension": "product", "value": v, "month": m, "revenue": r,
                  "orders": int(rng.poisson(30) if r else 0)} for m, r in enumerate(revenue)]
    table = pd.DataFrame(rows)
    whole = table.groupby("month")[["revenue", "orders"]].sum().reset_index().assign(dimension="all", value="all")
    return pd.concat([whole, table], ignore_index=True)


@given(monthly_tables())
def test_growth_keeps_its_invariants_on_any_shape(table: pd.DataFrame) -> None:
    out = opportunities.relative_growth(table, min_events=5)
    whole = table[table["dimension"] == "all"]
    assert np.isclose(out["revenue_before"].sum(), whole.loc[whole["month"] < 12, "revenue"].sum())
    assert np.isclose(out["revenue_now"].sum(), whole.loc[whole["month"] >= 12, "revenue"].sum())
    shown = out.dropna(subset=["low"])
    inside = (shown["low"] <= shown["relative_shrunk"] + 1e-12) & (shown["relative_shrunk"] <= shown["high"] + 1e-12)
    assert inside.all()
    hits = out[out["opportunity"]]
    assert (hits["low"] > 1).all() and (hits["money"] > 0).all() and hits["judged"].all()
