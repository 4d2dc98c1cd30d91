"""Every text from data and params that reaches a page is escaped: owner, product, channel,
region, reasons, comments, a header, the analyst note and an initiative title carrying
markup publish as text on every page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from salesnb import config
from salesnb.publish import publish

PAYLOAD = "<b onmouseover=alert(1)>X</b><script>alert(2)</script>"


def test_markup_in_data_and_params_is_text_on_every_page(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in demo_dir.glob("*.parquet"):
        df = pd.read_parquet(f)
        for col in ("owner", "product", "channel", "region", "reason", "lost_reason", "comment"):
            if col in df.columns and len(df):
                first = df[col].dropna().iloc[0] if df[col].notna().any() else None
                if first is not None:
                    df[col] = df[col].where(df[col] != first, PAYLOAD)  # one category becomes markup
        df.to_parquet(data / f.name)
    register = config.read_params(config.PARAMS_DIR / "initiatives.yaml")
    register["initiatives"][0]["title"] = PAYLOAD
    (tmp_path / "initiatives.yaml").write_text(yaml.safe_dump(register, allow_unicode=True), encoding="utf-8")
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params.update(source=str(data), analyst_note=PAYLOAD, initiatives=str(tmp_path / "initiatives.yaml"))
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    report = publish(base=base, period="2026-10", out_dir=tmp_path / "out", progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    pages = [tmp_path / "out" / "index.html", *(tmp_path / "out" / "2026-10").glob("*.html")]
    assert len(pages) == 10  # the index and nine pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script>alert(2)" not in html and "<b onmouseover" not in html, page.name
    overview = (tmp_path / "out" / "2026-10" / "kpi_overview.html").read_text(encoding="utf-8")
    assert "&lt;b onmouseover=alert(1)&gt;" in overview  # shown as text


def test_currency_from_params_is_escaped_in_money_cells() -> None:
    from salesnb import present
    shown = present.table(pd.DataFrame({"spend": [1500.0, 12.5]}), money=["spend"],
                          currency="<img src=x onerror=\"alert(1)\">")
    html = shown.to_html() if hasattr(shown, "to_html") else shown.data
    assert "<img" not in html and "&lt;img src=x" in html


def test_dollar_signs_in_chart_text_are_drawn_as_written() -> None:
    import io

    import matplotlib.pyplot as plt

    from salesnb import plots
    plots.set_theme()
    reasons = pd.DataFrame({"reason": ["overcharged $$ on invoice", "Charged $50 instead of $40"],
                            "count": [3, 2]})
    ax = plots.plot_reasons(reasons, title="Returns by reason: $ and $$")
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")  # mathtext would raise ValueError on "$$"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Charged $50 instead of $40" in labels
    plt.close(ax.figure)
