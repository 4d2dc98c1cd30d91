"""Findings first: the demo's planted truths are among its findings, each finding is the
number its page shows, and a steady business's summaries rarely hold one (a smaller run
of what ``make calibrate`` measures)."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb import calibration, config, findings, overview, pdca
from salesnb.publish.index import sparkline

SHARED = config.ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def register() -> list:
    return pdca.register_from("params/initiatives.yaml", root=config.ROOT)


@pytest.fixture(scope="module")
def october(demo: salesnb.SalesData, register: list) -> pd.DataFrame:
    return findings.findings(salesnb.report_context("2026-10", demo), initiatives=register)


@pytest.fixture(scope="module")
def june(demo: salesnb.SalesData, register: list) -> pd.DataFrame:
    return findings.findings(salesnb.report_context("2026-06", demo), initiatives=register)


def test_the_planted_truths_are_found(october: pd.DataFrame, june: pd.DataFrame, truth: dict) -> None:
    # the PDCA cycle with a real effect asks for a decision; the one without does not
    verdicts = {i["id"]: i["expected_verdict"] for i in truth["initiatives"]}
    pdca_rows = october[october["kind"] == "pdca"]["text"]
    for ini, verdict in verdicts.items():
        listed = pdca_rows.str.startswith(ini).any()
        assert listed == (verdict != "keep_running"), (ini, list(pdca_rows))
    assert pdca_rows.str.contains("standardise").all()
    # the channel that does not pay back, judged on the months whose revenue is all in
    channels = october[october["kind"] == "channel"]["text"]
    assert len(channels) == 1 and channels.iloc[0].startswith(truth["poor_channel"])
    # the weak stage (June's cohorts have matured; October's are still converting)
    weak = june[june["kind"] == "weak_stage"]["text"]
    assert len(weak) == 1 and f"The {truth['weak_stage']} stage" in weak.iloc[0]
    assert not (october["kind"] == "weak_stage").any()
    # the returns spike: June's return rate stands out from its history and from last year
    spike = truth["returns_spike"]["period"]
    assert spike == "2026-06"
    unusual = june[june["kind"] == "unusual_month"]["text"]
    assert unusual.str.startswith("Return rate in June 2026 is above").any()
    assert june["text"].str.startswith("Return rate rose").any()


def test_ranked_by_money_and_bounded(october: pd.DataFrame, june: pd.DataFrame) -> None:
    for frame in (october, june):
        assert list(frame.columns) == findings.COLUMNS and 0 < len(frame) <= findings.MAX_FINDINGS
        money = frame["money"].to_numpy(float)
        known = money[~np.isnan(money)]
        assert list(known) == sorted(known, reverse=True)
        # the findings without a money figure come after every one with it
        assert not np.isnan(money).any() or np.isnan(money[np.argmax(np.isnan(money)):]).all()
        assert set(frame["kind"]) <= set(findings.KINDS)
        assert frame["link"].str.fullmatch(r"[a-z_]+\.html#\S+").all()


def test_a_change_is_the_scorecards_change(demo: salesnb.SalesData, june: pd.DataFrame) -> None:
    """Each KPI-change finding is a significant row of the scorecard's comparison, with its
    values as the scorecard formats them and a money figure from the period's own numbers."""
    ctx = salesnb.report_context("2026-06", demo)
    changes = june[june["kind"] == "kpi_change"]
    assert len(changes)
    table = salesnb.kpi_table(demo, "2026-06", kpis=["revenue", "orders", "average_check"])
    v = dict(zip(table["kpi"], table["value"], strict=True))
    for against in ("previous", "last_year"):
        c = salesnb.compare(demo, "2026-06", against=against, alpha=ctx.alpha)
        shown = c["significant"] & (c["status"] == "ok") & c["stage"].isna() & c["kpi"].isin(findings.CHANGE_KPIS)
        for r in c[shown].to_dict("records"):
            kpi = ctx.kpis[r["kpi"]]
            hit = changes[changes["p_value"] == r["p_value"]]
            if not len(hit):
                continue  # stricter joint gate (the next test)
            assert hit["p_value"].iloc[0] == r["p_value"]
            before = overview.format_value(r["baseline"], kpi.unit)
            now = overview.format_value(r["current"], kpi.unit)
            assert f"({before} → {now})" in hit["text"].iloc[0]
            if r["kpi"] == "orders":
                assert hit["money"].iloc[0] == pytest.approx(abs(r["abs_change"]) * v["average_check"], rel=1e-9)
            if r["kpi"] == "revenue":
                assert hit["money"].iloc[0] == pytest.approx(abs(r["abs_change"]), rel=1e-9)
    # every change listed passed its own page's gate
    all_p = set()
    for against in ("previous", "last_year"):
        c = salesnb.compare(demo, "2026-06", against=against, alpha=ctx.alpha)
        all_p |= set(c[c["significant"]]["p_value"])
    assert set(changes["p_value"]) <= all_p


def test_the_joint_gate_is_benjamini_hochberg_over_every_tested_finding(demo: salesnb.SalesData,
                                                                        register: list) -> None:
    from statsmodels.stats.multitest import multipletests

    ctx = salesnb.report_context("2026-06", demo)
    tested = findings._kpi_changes(ctx, findings._values(ctx)) + findings._weak_stages(ctx, findings._values(ctx))
    p = np.array([f.p_value for f in tested])
    keep = multipletests(p, alpha=findings.FINDINGS_Q, method="fdr_bh")[0]
    found = findings.findings(ctx, initiatives=register, limit=100)
    listed = set(found["p_value"].dropna())
    assert listed == {x for x, k in zip(p, keep, strict=True) if k}


def test_nothing_stands_out_is_a_valid_summary() -> None:
    rng = np.random.default_rng(7)
    quiet = calibration.findings_null_realistic(rng, calibration.Scenario("flat", day_cv=0.0, amount_day_sd=0.0))
    ctx = salesnb.report_context("2026-10", salesnb.SalesData({"orders": quiet}), holidays="RU")
    frame = findings.findings(ctx)
    assert frame.empty and list(frame.columns) == findings.COLUMNS
    lines = findings.finding_lines(frame)
    from salesnb import present

    assert "Nothing stands out" in present.findings_list(lines).data


def test_a_steady_business_rarely_holds_a_finding() -> None:
    """40 summaries per null (``make calibrate`` runs 200): the realistic generator and, where
    ../shared/data is there, resampled real days. At most 5% in calibration; here a bound a
    7% rate would still pass with 95% probability (binomial), so the test is not flaky."""
    table = calibration.findings_table(trials=40, shared=SHARED if SHARED.is_dir() else None)
    print(table.to_string())
    for r in table.itertuples():
        assert r.with_a_false_finding <= 6 / 40, r


def test_a_sparkline_is_the_series_scaled_to_the_tile() -> None:
    geo = sparkline([10.0, None, 30.0, 20.0], width=32, height=12)
    # a gap splits the line; the highest value at the top, the lowest at the bottom
    assert geo["segments"] == ["1.0,11.0", "21.0,1.0 31.0,6.0"]
    assert (geo["x"], geo["y"]) == ("31.0", "6.0")
    assert sparkline([5.0])["segments"] == []


def test_the_index_tiles_are_the_scorecards_values(demo: salesnb.SalesData) -> None:
    ctx = salesnb.report_context("2026-10", demo)
    tiles = {t["kpi"]: t for t in overview.index_tiles(ctx)}
    assert list(tiles) == overview.INDEX_KPIS
    trend = salesnb.kpi_trend(demo, "2026-10", kpis=["revenue"])
    assert tiles["revenue"]["series"] == pytest.approx(list(trend["value"]), rel=1e-12)
    assert len(tiles["revenue"]["series"]) == 13
    card = overview.scorecard(ctx).set_index("kpi")
    for name, tile in tiles.items():
        assert card.loc[name, "value"] == tile["value"]
        assert card.loc[name, "vs_previous"] == tile["change"]


def test_links_name_sections_that_exist_in_both_languages() -> None:
    """Each link's anchor is the heading nbconvert turns into an id: the section's heading in
    the notebook (English) and in its Russian translation."""
    import nbformat
    import yaml

    ru = yaml.safe_load((config.ROOT / "salesnb" / "locales" / "ru.yaml").read_text(encoding="utf-8"))
    for kind in findings.KINDS:
        page, section = findings._SECTIONS[kind]
        nb = nbformat.read(config.NOTEBOOKS_DIR / f"{page}.ipynb", as_version=4)
        heads = [c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"]
        en = yaml.safe_load((config.ROOT / "salesnb" / "locales" / "en.yaml").read_text())["findings"]["section"]
        assert en[section] in heads, (kind, en[section])
        ru_heads = [v["text"].splitlines()[0].lstrip("# ") for k, v in ru["cells"].items() if k.startswith(f"{page}/")]
        assert ru["findings"]["section"][section] in ru_heads, (kind, ru["findings"]["section"][section])
    assert findings.anchor("Initiatives active or checked in the period") == \
        "Initiatives-active-or-checked-in-the-period"
    assert findings.anchor("Что выделяется") == quote("Что-выделяется")


def test_real_exports_give_findings_without_failing() -> None:
    """Superstore (no leads, no funnel) and CDNOW (orders only): the summary is built from
    what each export has."""
    for name, marker, period in (("superstore", "superstore/superstore_orders.csv", "2017-11"),
                                 ("cdnow", "cdnow_transactions/CDNOW_master.txt", "1998-05")):
        if not (SHARED / marker).is_file():
            pytest.skip(f"{marker} not in {SHARED}")
        params = config.read_params(config.PARAMS_DIR / "examples" / f"{name}.yaml")
        data = salesnb.load(params["source"], base_dir=config.ROOT)
        frame = findings.findings(salesnb.report_context(period, data))
        assert list(frame.columns) == findings.COLUMNS and len(frame) <= findings.MAX_FINDINGS
        assert frame["text"].str.len().gt(20).all()


def test_the_overview_passes_its_unusual_months_and_gets_the_same_findings(
        demo: salesnb.SalesData, register: list, june: pd.DataFrame) -> None:
    ctx = salesnb.report_context("2026-06", demo)
    table = salesnb.feedback.anomalies(ctx, overview.TREND_KPIS, periods=24)
    pd.testing.assert_frame_equal(findings.findings(ctx, initiatives=register, unusual=table), june)
