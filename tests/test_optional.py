"""Optional tables and columns the schema allows an export to lack: every page publishes and
says what is missing in a line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

import salesnb
from salesnb.publish import publish

DROP = {"deals": ["lost_reason", "amount"], "leads": ["converted_at", "campaign_id"]}


def _stripped(demo_dir: Path, out: Path) -> Path:
    """The demo without returns, deals without reasons or amounts, leads without conversion
    dates or campaigns."""
    out.mkdir()
    for f in demo_dir.glob("*.parquet"):
        if f.stem == "returns":
            continue
        df = pd.read_parquet(f)
        df.drop(columns=[c for c in DROP.get(f.stem, []) if c in df.columns]).to_parquet(out / f.name)
    return out


def test_pages_publish_without_optional_tables_and_columns(demo_dir: Path, tmp_path: Path) -> None:
    data_dir = _stripped(demo_dir, tmp_path / "data")
    data = salesnb.load(data_dir)
    c = salesnb.compare(data, "2026-09", kpis=["pipeline_value", "returns", "win_rate"]).set_index("kpi")
    assert c.loc["pipeline_value", "status"] == "missing_column"
    assert c.loc["returns", "status"] == "missing_table"
    assert c.loc["win_rate", "status"] == "ok"
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "source": str(data_dir), "currency": "USD", "fiscal_year_start": 1, "holidays": "RU",
        "gross_margin": 0.0, "funnel_stages": ["qualified", "meeting", "proposal", "negotiation", "won"],
        "min_events": 20, "alpha": 0.05, "custom_kpis": {}, "initiatives": [],
        "attribution_days": 180, "feedback_themes": {}, "analyst_note": "",
        "report": {"notebooks": ["data_health", "kpi_overview", "pdca_review", "funnel", "feedback", "marketing"],
                   "periods": ["2026-09"]}}), encoding="utf-8")
    report = publish(base=base, period="2026-09", out_dir=tmp_path / "out", progress=False)
    assert [r.status for r in report.results] == ["ok"] * 6, [(r.notebook, r.error) for r in report.results]
    overview = (tmp_path / "out" / "2026-09" / "kpi_overview.html").read_text(encoding="utf-8")
    assert "data not loaded" in overview  # returns: said in a line
    # no register: the PDCA page says so (the demo's register is the demo params' alone)
    review = (tmp_path / "out" / "2026-09" / "pdca_review.html").read_text(encoding="utf-8")
    assert "No PDCA register in params" in review and "PDCA-01" not in review


def test_register_from_params() -> None:
    from salesnb import config, pdca
    assert pdca.register_from("", root=config.ROOT) == [] == pdca.register_from(None, root=config.ROOT)
    inline = config.read_params(config.PARAMS_DIR / "initiatives.yaml")["initiatives"][:1]
    assert [i.id for i in pdca.register_from(inline, root=config.ROOT)] == ["PDCA-01"]
