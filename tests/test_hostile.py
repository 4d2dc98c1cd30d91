"""Hardening: a payload in every params text key and every data text column is published
by all six pages, escaped, and opened in headless Chromium without running anything.

The publish and the static checks run everywhere; the browser half skips where Chromium
is absent (.ci/run installs it).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from salesnb.publish import publish
from tests.browser import Browser, chromium
from tests.hostile import LONG, MARK, PAYLOADS, hostile_params, write_hostile_data

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    mapping = write_hostile_data(demo_dir, tmp / "data")
    base = tmp / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(hostile_params(tmp / "data", mapping), allow_unicode=True), encoding="utf-8")
    report = publish(base=base, period=PERIOD, out_dir=tmp / "out", progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    assert len(report.ran) == 9
    return tmp / "out"


def _pages(site: Path) -> list[Path]:
    return [site / "index.html", *sorted((site / PERIOD).glob("*.html"))]


class _Markup(HTMLParser):
    """Every element and attribute the browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.in_svg: list[str] = []  # every element inside an <svg>, the svg itself included
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "svg" or self._svg_depth:
            self.in_svg.append(tag)
            self._svg_depth += tag not in ("polyline", "circle")  # void in the sparklines
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in ("href", "src", "action") and value and not value.startswith(("data:image/", "#")) \
                    and not re.fullmatch(r"[\w./-]+\.(html|xlsx)(#[\w%?/:@!$&'()*+,;=.-]*)?", value):
                self.urls.append(f"{tag} {name}={value[:60]}")

    def handle_endtag(self, tag: str) -> None:
        if self._svg_depth and tag not in ("polyline", "circle"):
            self._svg_depth -= 1


def test_every_payload_is_text_never_markup(site: Path) -> None:
    pages = _pages(site)
    assert len(pages) == 10  # the index and nine pages
    text = {p.name: p.read_text(encoding="utf-8") for p in pages}
    for name, page in text.items():
        markup = _Markup()
        markup.feed(page)
        assert "script" not in markup.tags, name
        # the only SVG is the index's sparklines, one per KPI tile, a polyline and a dot each
        sparklines = page.count('<div class="tile">') if name == "index.html" else 0
        assert markup.tags.count("svg") == sparklines, name
        assert set(markup.in_svg) <= {"svg", "polyline", "circle"}, (name, set(markup.in_svg))
        assert markup.handlers == [], (name, markup.handlers[:5])
        assert markup.urls == [], (name, markup.urls[:5])
        assert "script-src 'none'" in page and "unsafe-inline'; script" not in page, name
    # the payloads are on the pages, as text: escaped markup, $ signs and braces as written
    every = "".join(text.values())
    assert html.escape(PAYLOADS[0], quote=False) in every
    assert "{{ 7*7 }}" in every and "overcharged $$ on invoice" in every
    assert "Charged $50 instead of $40" in every
    assert html.escape(f'<img src=x onerror="{MARK}">', quote=False) in text["kpi_overview.html"]  # currency
    assert LONG.strip()[:200] in text["kpi_overview.html"]  # the long analyst note, in full


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (apt-get install -y chromium; .ci/run does)")
def test_nothing_runs_in_a_browser(site: Path) -> None:
    browser = Browser()
    try:
        for page in _pages(site):
            report = browser.open(page)
            assert report.console_errors == [], (page.name, report.console_errors[:3])
            assert report.network == [], (page.name, report.network)
            assert all(report.images), page.name
            assert browser.evaluate("typeof window.__xss") == "undefined", page.name
            assert not report.dialogs, (page.name, report.dialogs)
            assert report.visible_tables >= 1, page.name
    finally:
        browser.close()
