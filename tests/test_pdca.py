"""PDCA: the register, the Check against statsmodels, the Act verdicts and their calibration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import salesnb
from salesnb import config, pdca
from salesnb.context import report_context
from tests.notebook_run import run_notebook


@pytest.fixture(scope="module")
def register() -> list[pdca.Initiative]:
    return pdca.read_register(config.PARAMS_DIR / "initiatives.yaml")


@pytest.fixture(scope="module")
def checks(demo: salesnb.SalesData, register: list[pdca.Initiative]) -> pd.DataFrame:
    return pdca.check_all(report_context("2026-10", demo), register).set_index("id")


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
    # the verdict's estimator covers the truth; the plain before/after change is a description
    # (its interval ignores the shocks the region's months share, which the control removes)
    assert row["did_ci_low"] <= planted["true_effect"] <= row["did_ci_high"]
    assert row["effect"] > 0 and row["p_value"] < 0.05
    assert row["verdict"] == planted["expected_verdict"] == "standardise"
    assert row["next"].startswith("next cycle: raise conversion at the 'proposal' stage")


def test_planted_null_initiative_is_not_standardised(checks: pd.DataFrame, truth: dict) -> None:
    planted = truth["initiatives"][1]
    row = checks.loc[planted["id"]]
    assert row["verdict"] != "standardise"
    assert row["verdict"] == planted["expected_verdict"]
    assert row["did_ci_low"] <= 0 <= row["did_ci_high"]
    # the smallest detectable effect of the DiD is above the target at any length of window
    assert row["mde"] > row["target_change"]
    assert math.isinf(row["days_needed"]) and "not reachable at this volume" in row["reason"]


def test_running_initiative_waits_for_its_window(checks: pd.DataFrame) -> None:
    row = checks.loc["PDCA-03"]
    assert row["status"] == "check_window_open"
    assert row["verdict"] == "keep_running"
    assert row["design"] == "vs the same months a year earlier"  # no control segment


def _monthly_rates(demo: salesnb.SalesData, region: str, months: pd.PeriodIndex) -> np.ndarray:
    """Share of deals entering 'qualified' in each month that reached 'meeting' (pandas)."""
    st = demo["deal_stages"].merge(demo["deals"][["deal_id", "region"]], on="deal_id")
    met = set(st.loc[st["stage"] == "meeting", "deal_id"])
    q = st[(st["stage"] == "qualified") & (st["region"] == region)]
    q = q.assign(month=q["entered_at"].dt.to_period("M"), moved=q["deal_id"].isin(met))
    return q.groupby("month")["moved"].mean().reindex(months).to_numpy(float)


def test_did_is_ols_on_monthly_differences(demo: salesnb.SalesData, checks: pd.DataFrame) -> None:
    months = pd.period_range("2025-03", "2026-09", freq="M")
    diff = _monthly_rates(demo, "North", months) - _monthly_rates(demo, "South", months)
    frame = pd.DataFrame({"d": diff, "post": (months >= pd.Period("2026-03", "M")).astype(int)})
    fit = smf.ols("d ~ post", data=frame).fit()
    row = checks.loc["PDCA-01"]
    assert row["did_effect"] == pytest.approx(fit.params["post"], rel=1e-9)
    # the interval: OLS residuals, with the persistence ρ found (from these months and up to
    # two years before) in the variance of each block's mean, by hand
    early = pd.period_range("2023-03", "2025-02", freq="M")  # two years before the baseline
    hist = _monthly_rates(demo, "North", early) - _monthly_rates(demo, "South", early)
    from scipy import stats as sps

    from salesnb.stats.did import persistence
    resid = np.concatenate([hist[~np.isnan(hist)] - np.nanmean(hist), fit.resid.to_numpy()])
    rho = persistence(resid)

    def g(m: int) -> float:
        return 1 + 2 * sum((1 - k / m) * rho**k for k in range(1, m))

    sigma2 = (fit.resid**2).sum() / (19 - g(12) - g(7))
    se = np.sqrt(sigma2 * (g(12) / 12 + g(7) / 7))
    t = sps.t.ppf(0.975, round(19 - g(12) - g(7)))
    assert (row["did_ci_low"], row["did_ci_high"]) == pytest.approx(
        (fit.params["post"] - t * se, fit.params["post"] + t * se), rel=1e-9)
    assert se > fit.bse["post"]  # wider than OLS that takes months as independent


def test_persistence_by_hand() -> None:
    # r = (1, -1, 1, -1, 1, -1): raw lag-1 autocorrelation −5/6; Kendall-corrected (−5/6·6 + 1)/(6 − 3)
    # = −4/3 < 0, so ρ is held at 0 (plus its standard error √(1/6) would be imaginary: 0 kept)
    from salesnb.stats.did import persistence
    assert persistence(np.array([1.0, -1, 1, -1, 1, -1])) == 0.0
    r = np.array([1.0, 2, 3, 2, 1, 0, -1, -2, -3, -2, -1, 0])
    raw = (r[1:] * r[:-1]).sum() / (r**2).sum()
    corrected = (raw * 12 + 1) / 9
    assert persistence(r) == pytest.approx(min(0.9, corrected + math.sqrt(max(1 - corrected**2, 0) / 12)))


def test_mde_and_days_needed_come_from_the_same_estimator() -> None:
    from scipy import stats as sps

    from salesnb.stats.did import mde_for, monthly_effect, months_needed
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.05, 19)
    est = monthly_effect(y, np.arange(19) >= 12)
    k = sps.t.ppf(0.975, est.df) + sps.t.ppf(0.8, est.df)
    assert mde_for(est, 7) == pytest.approx(k * est.se)  # the estimator's own standard error
    assert mde_for(est, math.inf) == pytest.approx(k * est.sigma / math.sqrt(12))
    m = months_needed(est, 0.08)
    assert mde_for(est, m) == pytest.approx(0.08)
    assert math.isinf(months_needed(est, mde_for(est, math.inf) * 0.99))  # not reachable


def test_calibration_of_null_initiatives() -> None:
    """Null initiatives under persistent region-month shocks (sd 0.3 on the logit scale, AR 0.5):
    standardise / adjust / roll back at most α + 0.02 — where the row-independent DiD fails."""
    from salesnb.calibration import pdca_table
    table = pdca_table(trials=500, shocks=(0.3,), drifts=((0.3, 0.04),))
    t = table[~table["source"].str.contains("drifting")].set_index("method")
    assert t.loc["salesnb", "false_verdicts"] <= 0.05 + 0.02, t
    assert t.loc["row-independent", "false_verdicts"] > 0.2, t  # what the old check did
    assert t.loc["salesnb", "power"] > 0.1
    # segments trending apart (no effect): the pre-trend check keeps false verdicts within
    # α + 2 pp, where the same DiD without it acts on the drift
    d = table[table["source"].str.contains("drifting")].set_index("method")
    assert d.loc["salesnb", "false_verdicts"] <= 0.05 + 0.02, d
    assert d.loc["no pre-trend check", "false_verdicts"] > d.loc["salesnb", "false_verdicts"] + 0.03, d


def test_a_pre_trend_stops_the_verdict_and_short_months_are_named() -> None:
    from salesnb.stats import Change

    effect = Change(0, 0, 0.2, 0.1, 0.3, 0.001)
    assert pdca.decide(effect, 0.1, "up", alpha=0.05, status="ok", days_needed=0)[0] == "standardise"
    verdict, reason = pdca.decide(effect, 0.1, "up", alpha=0.05, status="ok", days_needed=0, pre_trend_p=0.01)
    assert verdict == "keep_running" and "drifting apart before the start" in reason
    none = Change(0, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    verdict, reason = pdca.decide(none, 0.1, "up", alpha=0.05, status="insufficient_data", days_needed=0,
                                  months=(1, 3))
    assert verdict == "insufficient_data" and "1 with data before the start and 3 after" in reason


def test_operating_characteristics_are_printed(checks: pd.DataFrame) -> None:
    row = checks.loc["PDCA-01"]
    assert 0 <= row["standardise_at_zero"] <= row["false_action_rate"] <= 0.1
    assert row["standardise_at_target"] > row["standardise_at_zero"]
    fields = pdca.CheckResult.__dataclass_fields__
    result = pdca.CheckResult(**{k: v for k, v in row.to_dict().items() if k in fields}, id="PDCA-01")
    table = pdca.result_table(result, "share").set_index("check")["finding"]
    text = table["how this rule errs (simulated)"]
    assert f"keep running {row['false_action_rate']:.0%}" in text
    assert f"at exactly the target: standardise {row['standardise_at_target']:.0%}" in text


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
    run = run_notebook("pdca_review", tmp_path, period="2026-10", source=str(demo_dir),
                       initiatives="params/initiatives.yaml")
    for words in ("PDCA-01", "standardise", "New call script", "Plan", "Act"):
        assert words in run.html, words
    assert run.images >= 2
