"""PDCA: the register, the Check against statsmodels, the Act verdicts and their calibration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

import salesnb
from salesnb import config, pdca
from salesnb.stats import Proportion, two_sample
from tests.notebook_run import run_notebook


@pytest.fixture(scope="module")
def register() -> list[pdca.Initiative]:
    return pdca.read_register(config.PARAMS_DIR / "initiatives.yaml")


@pytest.fixture(scope="module")
def checks(demo: salesnb.SalesData, register: list[pdca.Initiative]) -> pd.DataFrame:
    return pdca.check_all(demo, register).set_index("id")


def test_demo_register_ships_the_planted_initiatives(register: list[pdca.Initiative], truth: dict) -> None:
    ids = [i.id for i in register]
    for planted in truth["initiatives"]:
        ini = next(i for i in register if i.id == planted["id"])
        assert (ini.kpi, ini.stage, dict(ini.segment), dict(ini.control_segment or {})) == (
            planted["kpi"], planted["stage"], planted["segment"], planted["control_segment"])
        assert str(ini.start) == planted["start"]
    assert len(ids) == len(truth["initiatives"]) + 1  # plus one still running


def test_planted_initiative_is_found(checks: pd.DataFrame, truth: dict) -> None:
    planted = truth["initiatives"][0]
    row = checks.loc[planted["id"]]
    assert row["ci_low"] <= planted["true_effect"] <= row["ci_high"]
    assert row["did_ci_low"] <= planted["true_effect"] <= row["did_ci_high"]
    assert row["verdict"] == planted["expected_verdict"] == "standardise"
    assert row["next"].startswith("next cycle: raise conversion at the 'proposal' stage")


def test_planted_null_initiative_is_not_standardised(checks: pd.DataFrame, truth: dict) -> None:
    planted = truth["initiatives"][1]
    row = checks.loc[planted["id"]]
    assert row["verdict"] != "standardise"
    assert row["verdict"] == planted["expected_verdict"]
    assert row["ci_low"] <= 0 <= row["ci_high"]
    assert row["days_needed"] > 0 and "more days" in row["reason"]


def test_running_initiative_waits_for_its_window(checks: pd.DataFrame) -> None:
    row = checks.loc["PDCA-03"]
    assert row["status"] == "check_window_open"
    assert row["verdict"] == "keep_running"


def _stage_rows(demo: salesnb.SalesData, stage: str, nxt: str, region: str, start: str, end: str) -> pd.DataFrame:
    st = demo["deal_stages"].merge(demo["deals"][["deal_id", "region"]], on="deal_id")
    entered = st[(st["stage"] == stage) & (st["region"] == region) & (st["entered_at"] >= start)
                 & (st["entered_at"] < end)]
    return pd.DataFrame({"y": entered["deal_id"].isin(st.loc[st["stage"] == nxt, "deal_id"]).astype(float)})


def test_difference_in_differences_is_ols_with_interaction(demo: salesnb.SalesData,
                                                          checks: pd.DataFrame) -> None:
    cells = []
    for region, treated in (("North", 1), ("South", 0)):
        for (start, end), post in ((("2025-03-01", "2026-03-01"), 0), (("2026-03-01", "2026-10-01"), 1)):
            rows = _stage_rows(demo, "qualified", "meeting", region, start, end)
            cells.append(rows.assign(treated=treated, post=post))
    fit = smf.ols("y ~ treated * post", data=pd.concat(cells)).fit()
    low, high = fit.conf_int().loc["treated:post"]
    row = checks.loc["PDCA-01"]
    assert row["did_effect"] == pytest.approx(fit.params["treated:post"], rel=1e-9)
    assert (row["did_ci_low"], row["did_ci_high"]) == pytest.approx((low, high), rel=1e-9)
    assert row["did_p_value"] == pytest.approx(fit.pvalues["treated:post"], rel=1e-6)


def test_power_matches_statsmodels(checks: pd.DataFrame) -> None:
    row = checks.loc["PDCA-01"]
    n0, n1, p0 = row["n_baseline"], row["n_check"], row["baseline"]
    h = NormalIndPower().solve_power(nobs1=n1, alpha=0.05, power=0.8, ratio=n0 / n1)
    assert math.sin(math.asin(math.sqrt(p0)) + h / 2) ** 2 - p0 == pytest.approx(row["mde"])
    # at the mde, statsmodels gives 80% power
    at_mde = NormalIndPower().power(proportion_effectsize(p0 + row["mde"], p0), nobs1=n1, alpha=0.05,
                                    ratio=n0 / n1)
    assert at_mde == pytest.approx(0.8, abs=1e-6)


def test_calibration_of_null_initiatives() -> None:
    """≥ 500 initiatives with no real effect: standardise or roll_back at most α + 0.02."""
    rng = np.random.default_rng(5)
    verdicts = []
    for _ in range(600):
        p, n = rng.uniform(0.2, 0.7), rng.integers(150, 800, size=4)
        tb, tc, cb, cc = (Proportion(float(rng.binomial(k, p)), float(k)) for k in n)
        did, low, high, pv = pdca._did(tb, tc, cb, cc, 0.05)
        change = two_sample(tc, tb)
        used = type(change)(change.current, change.baseline, did, low, high, pv)
        verdicts.append(pdca.decide(used, 0.05, "up", alpha=0.05, status="ok", days_needed=10)[0])
    flagged = np.isin(verdicts, ["standardise", "roll_back"]).mean()
    assert flagged <= 0.05 + 0.02, flagged


def test_gates(demo: salesnb.SalesData, register: list[pdca.Initiative]) -> None:
    ini = register[0]
    few = pdca.check(demo, ini, min_events=10_000)
    assert (few.status, few.verdict) == ("insufficient_data", "insufficient_data")
    early = pdca.check(demo, ini, as_of="2026-02-15")
    assert early.status == "not_started"
    overlapping = pdca.Initiative(**{**ini.__dict__, "id": "X", "start": pd.Timestamp("2025-06-01").date(),
                                     "check_start": pd.Timestamp("2025-06-01").date(),
                                     "check_end": pd.Timestamp("2025-09-30").date(),
                                     "baseline_start": pd.Timestamp("2025-01-01").date(),
                                     "baseline_end": pd.Timestamp("2025-05-31").date()})
    assert pdca.check(demo, ini, register=[ini, overlapping]).status == "baseline_overlap"


def test_register_over_time(register: list[pdca.Initiative]) -> None:
    states = pdca.register_states(register, ["2026-02", "2026-06", "2026-10", "2027-01"]).set_index("id")
    assert list(states.loc["PDCA-01"]) == ["planned", "doing", "checking", "checking"]
    assert list(states.loc["PDCA-03"]) == ["planned", "planned", "doing", "checking"]
    decided = [pdca.Initiative(**{**register[0].__dict__, "decision": "standardise"})]
    assert pdca.register_states(decided, ["2026-10"]).iloc[0]["2026-10"] == "decided"


@pytest.mark.parametrize(
    ("change", "message"),
    [({"plan": {"kpi": "revnue"}}, "initiative PDCA-01: plan.kpi 'revnue' is not a KPI"),
     ({"plan": {"target_change": "a lot"}}, "initiative PDCA-01: plan.target_change 'a lot' is not a change"),
     ({"plan": {"segment": {"region": "North", "channel": "Email"}}}, "initiative PDCA-01: plan.segment: one column"),
     ({"do": {"start": "2025-01-01"}}, "initiative PDCA-01: plan.baseline must end before do.start"),
     ({"check": {"window": {"start": "2026-03-01"}}}, "initiative PDCA-01: check.window: give start and end"),
     ({"act": {"decision": "celebrate"}}, "initiative PDCA-01: act.decision 'celebrate'")],
    ids=["kpi", "target", "segment", "baseline", "window", "decision"],
)
def test_register_errors_name_initiative_and_field(change: dict, message: str) -> None:
    content = config.read_params(config.PARAMS_DIR / "initiatives.yaml")
    first = content["initiatives"][0]
    for section, values in change.items():
        first[section] = {**(first.get(section) or {}), **values}
    with pytest.raises(ValueError, match=message):
        pdca.parse_register(content)


def test_pdca_review_executes(demo_dir: Path, tmp_path: Path) -> None:
    run = run_notebook("pdca_review", tmp_path, period="2026-10", source=str(demo_dir))
    for words in ("PDCA-01", "standardise", "New call script", "Plan", "Act"):
        assert words in run.html, words
    assert run.images >= 2
