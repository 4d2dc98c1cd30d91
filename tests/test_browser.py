"""Published pages in a real browser (headless Chromium, network blocked, from file://).

Skips with a clear message where Chromium is absent (.ci/run installs Debian's chromium).
Screenshots land in outputs/screenshots/ for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from salesnb import config
from tests.browser import Browser, chromium
from tests.sites import demo_params, publish_site

pytestmark = pytest.mark.skipif(chromium() is None,
                                reason="Chromium is not installed (apt-get install -y chromium; .ci/run does)")


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = demo_params(demo_dir, analyst_note="A note with <script>alert('x')</script> & markup in it")
    return publish_site(tmp_path_factory.mktemp("site"), params)


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser()
    yield b
    b.close()


def _pages(site: Path) -> list[Path]:
    return [site / "index.html", *sorted((site / "2026-10").glob("*.html"))]


def test_pages_load_offline_without_errors(site: Path, browser: Browser) -> None:
    shots = config.OUTPUTS_DIR / "screenshots"
    pages = _pages(site)
    assert len(pages) >= 3  # the index and a page of each notebook
    for page in pages:
        name = "index" if page.name == "index.html" else f"{page.parent.name}-{page.stem}"
        report = browser.open(page, screenshot=shots / f"{name}.png")
        assert report.console_errors == [], (page.name, report.console_errors)
        assert report.network == [], (page.name, report.network)
        assert all(report.images), (page.name, report.images)
        assert report.visible_tables >= 1, page.name
        if page.name != "index.html":
            assert report.images, f"{page.name} shows no chart"
        assert (shots / f"{name}.png").stat().st_size > 10_000


def test_text_from_params_and_data_is_escaped(site: Path, browser: Browser) -> None:
    page = site / "2026-10" / "kpi_overview.html"
    html = page.read_text(encoding="utf-8")
    assert "<script>alert('x')</script>" not in html
    assert "&lt;script&gt;alert(" in html
    report = browser.open(page)
    assert report.console_errors == []


def test_every_page_prints_to_a4_without_cut_tables_or_charts(site: Path, browser: Browser) -> None:
    """Print media at A4's width: nothing sticks out at the right edge, no chart or table row
    may be split across pages; and Chromium prints each page to an A4 PDF."""
    prints = config.OUTPUTS_DIR / "screenshots" / "print"
    for page in _pages(site):
        layout = browser.print_layout(page)
        assert layout["scroll_width"] <= layout["width"], (page.name, layout)
        assert layout["cut"] == [], (page.name, layout["cut"][:5])
        assert layout["split"] == [], (page.name, set(layout["split"]))
        name = "index" if page.name == "index.html" else f"{page.parent.name}-{page.stem}"
        pages = browser.pdf(page, prints / f"{name}.pdf")
        assert pages >= 1, page.name
        head = (prints / f"{name}.pdf").read_bytes()[:2000]
        assert head.startswith(b"%PDF")
        # A4 is 595 × 842 points
        pdf = (prints / f"{name}.pdf").read_bytes()
        assert b"/MediaBox [0 0 595" in pdf or b"/MediaBox [0 0 594" in pdf, page.name


def test_the_index_tiles_and_sparklines_render_under_the_strict_csp(site: Path, browser: Browser) -> None:
    """The KPI tiles' sparklines are inline SVG (no script, the CSP unchanged): each tile
    draws its line with a visible size, and the findings head the page before the table."""
    page = site / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "script-src 'none'" in html and "<script" not in html
    report = browser.open(page)
    assert report.console_errors == [] and report.network == []
    drawn = browser.evaluate(
        "Array.from(document.querySelectorAll('.tile svg polyline')).map(p => p.getTotalLength() > 20"
        " && p.getBoundingClientRect().width > 50)")
    assert drawn and all(drawn), drawn  # type: ignore[arg-type]
    order = browser.evaluate("[document.querySelector('ol.findings, section.latest p') !== null, "
                             "document.querySelector('section.latest').compareDocumentPosition("
                             "document.querySelector('table')) === 4]")
    assert order == [True, True]
