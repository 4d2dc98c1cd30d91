"""Bad input is stopped before any notebook runs: every problem on the console at once,
exit 2, nothing published touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salesnb.cli import main

BASE = {"currency": "USD", "fiscal_year_start": 1, "holidays": "", "gross_margin": 0.0,
        "funnel_stages": ["qualified", "meeting", "proposal", "negotiation", "won"], "min_events": 20,
        "alpha": 0.05, "custom_kpis": {}, "initiatives": "", "attribution_days": 180, "feedback_themes": {},
        "analyst_note": "", "report": {"notebooks": ["data_health", "kpi_overview"], "periods": ["2026-10"]}}


def test_every_problem_before_any_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("Номер;Клиент;Дата;Сумма\n1;a;01.10.2026;10,5\n2;b;32.10.2026;7\n3;c;03.10.2026;-4\n"
                      "4;d;04.10.2026;abc\n", encoding="utf-8")
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**BASE, "source": {"tables": {"orders": {
        "path": str(export), "delimiter": ";", "decimal": ",", "date_format": "%d.%m.%Y",
        "columns": {"Номер": "order_id", "Клиент": "customer_id", "Дата": "ordered_at", "Сумма": "amount"},
        "defaults": {"status": "completed"}}}}}, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    (out / "2026-10").mkdir(parents=True)
    published = out / "2026-10" / "kpi_overview.html"
    published.write_text("the last good page", encoding="utf-8")
    code = main(["report", "--base", str(base), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "orders.ordered_at: not dates" in err and "line 3" in err and "'32.10.2026'" in err
    assert "orders.amount: not numbers" in err and "'abc'" in err
    assert "orders.amount: negative" in err and "line 4" in err
    assert "Traceback" not in err
    assert published.read_text(encoding="utf-8") == "the last good page"  # nothing touched
    assert not (out / "2026-10" / "data_health.html").exists()
