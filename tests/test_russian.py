"""A Russian run of the demo: no English word of the interface on any page (read as a
reader's browser shows it), numbers in the Russian format, the workbook and the e-mail in
Russian.

Data values (names, regions, products, reasons in the demo's tables), the data model's
identifiers (table, column and KPI names, which an analyst maps their exports onto) and
code (``<code>``, ``<pre>``) are not interface text; neither are the acronyms a Russian
sales report uses as they are (KPI, PDCA, NPS, CSAT, ROMI, CAC, AUC, MAE, MASE …).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from salesnb import config, texts
from salesnb.data.schema import TABLES
from salesnb.kpis import BUILTIN
from tests.browser import Browser, chromium
from tests.sites import publish_site

ACRONYMS = {"KPI", "PDCA", "NPS", "CSAT", "ROMI", "CAC", "AUC", "MAE", "MASE", "ETS", "SARIMA", "ARIMA", "CRM", "CSV",
            "ISO", "UTC", "Excel", "salesnb"}
RUSSIAN_TEXTS = {  # what a Russian analyst writes in their own params
    "PDCA-01": ("Новый скрипт первого звонка", "Структурированный первый звонок выводит больше лидов на встречу.",
                "Менеджеры региона используют новый скрипт в каждом первом звонке."),
    "PDCA-02": ("Право на скидку на переговорах", "Менеджеры, которые могут дать скидку до 5 %, чаще закрывают сделки.",
                "Менеджеры могут давать скидку до 5 % без согласования."),
    "PDCA-03": ("Комплект в рассылках", "Предложение комплекта в письмах поднимает средний чек.",
                "Каждое письмо кампании предлагает комплект."),
}


def _russian_params(demo_dir: Path, out: Path) -> dict:
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    register = yaml.safe_load((config.ROOT / "params" / "initiatives.yaml").read_text(encoding="utf-8"))
    for ini in register["initiatives"]:
        ini["title"], ini["hypothesis"], ini["do"]["change"] = RUSSIAN_TEXTS[ini["id"]]
    for i, spec in enumerate(params.get("custom_kpis", {}).values()):
        spec["label"] = f"Собственный показатель {i + 1}"
    themes = {"delivery": "доставка", "price": "цена", "quality": "качество", "support": "поддержка",
              "manager": "менеджер", "internal tools": "внутренние системы", "objections": "возражения"}
    params["feedback_themes"] = {themes.get(k, k): v for k, v in params.get("feedback_themes", {}).items()}
    params.update(source=str(demo_dir), language="ru", currency="RUB", initiatives=register["initiatives"],
                  analyst_note="Примечание аналитика к периоду", report={**params["report"], "out": str(out)})
    return params


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ru")
    return publish_site(tmp, _russian_params(demo_dir, tmp / "out"))


def _schema_words() -> set[str]:
    """The data model's names: tables, their columns and the KPIs (identifiers, not words)."""
    words: set[str] = set()
    for name, table in TABLES.items():
        words |= set(re.findall(r"[A-Za-z]{2,}", name))
        for col in table.column_names:
            words |= set(re.findall(r"[A-Za-z]{2,}", col))
    for name in BUILTIN:
        words |= set(re.findall(r"[A-Za-z]{2,}", name))
    return words


def _allowed(demo_dir: Path) -> set[str]:
    """Words that are not interface: the demo's data values and the data model's names."""
    words = set(ACRONYMS) | _schema_words()
    for path in demo_dir.glob("*.parquet"):
        df = pd.read_parquet(path)
        for c in df.columns:
            if pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object:
                for v in df[c].dropna().astype(str).unique():
                    words |= set(re.findall(r"[A-Za-z]{2,}", v))
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    for name in params.get("custom_kpis", {}):
        words |= set(re.findall(r"[A-Za-z]{2,}", name))
    return words


VISIBLE_TEXT = """(() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('code, pre, script, style').forEach(e => e.remove());
  document.body.after(copy);
  const text = copy.innerText;
  copy.remove();
  return text;
})()"""


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (apt-get install -y chromium; .ci/run does)")
def test_no_english_word_of_the_interface_remains(site: Path, demo_dir: Path) -> None:
    allowed = _allowed(demo_dir)
    pages = [site / "index.html", *sorted((site / "2026-10").glob("*.html"))]
    assert len(pages) == 10
    browser = Browser()
    try:
        left: dict[str, list[str]] = {}
        for page in pages:
            browser.open(page)
            text = str(browser.evaluate(VISIBLE_TEXT))
            assert len(re.findall("[а-яё]", text, re.IGNORECASE)) > 300, page.name  # a Russian page
            for line in text.splitlines():
                for word in re.findall(r"[A-Za-z]{2,}", line):
                    if word not in allowed:
                        left.setdefault(page.name, []).append(f"{word} ← {line.strip()[:100]}")
    finally:
        browser.close()
    assert not left, "\n".join(f"{page}: {w}" for page, words in left.items() for w in words[:15])


def test_numbers_dates_and_labels_in_russian(site: Path) -> None:
    overview = (site / "2026-10" / "kpi_overview.html").read_text(encoding="utf-8")
    assert '<html lang="ru">' in overview
    assert "Объём продаж" in overview and "октябрь 2026" in overview
    assert re.search(r"\d{1,3}(?:\xa0\d{3})+\xa0₽", overview)  # 1 955 761 ₽
    assert re.search(r"\d+,\d\xa0%", overview)  # 2,8 %
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Отчёты salesnb" in index and "₽" in index


def test_the_workbook_and_the_mail_are_russian(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesnb.deliver import deliver

    book = openpyxl.load_workbook(site / "2026-10" / "kpis.xlsx")
    assert book.sheetnames[:2] == ["Сводка KPI", "По регионам"] and "Реестр PDCA" in book.sheetnames
    assert book["Сводка KPI"]["A2"].value == "Объём продаж"
    assert book["Сводка KPI"]["B2"].number_format == '#,##0 "RUB"'
    base = site.parent / "params" / "base.yaml"
    try:
        delivery, written = deliver("2026-10", ["manager@example.ru"], base=base, dry_run=True, environ={})
    finally:
        texts.set_language("en")
    assert delivery.ok and written is not None
    msg = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Отчёт о продажах 2026-10"
    body = msg.get_body(("plain",)).get_content()
    assert "Объём продаж:" in body and "₽" in body
    # the findings, as on the index, each in Russian
    found = json.loads((site / "manifest.json").read_text(encoding="utf-8"))["2026-10"]["_period"]["findings"]
    assert found and "Что выделяется:" in body
    for i, f in enumerate(found, 1):
        assert f"{i}. {f['text']}" in body
        assert re.search("[а-яё]", f["text"]), f["text"]


def test_every_finding_links_to_a_section_of_its_russian_page(site: Path) -> None:
    found = json.loads((site / "manifest.json").read_text(encoding="utf-8"))["2026-10"]["_period"]["findings"]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Что выделяется" in index and index.count('class="tile"') == 4
    for f in found:
        page, anchor = f["link"].split("#")
        assert f'id="{anchor}"' in (site / "2026-10" / page).read_text(encoding="utf-8"), f["link"]
        assert f'href="2026-10/{f["link"]}"' in index


def test_every_chart_has_a_russian_text_alternative(site: Path) -> None:
    """nbconvert writes an English "No description has been provided for this image"
    into every chart without one; a screen reader reads it out."""
    for page in sorted((site / "2026-10").glob("*.html")):
        markup = page.read_text(encoding="utf-8")
        alts = re.findall(r'<img\b[^>]*?\balt="([^"]*)"', markup)
        assert len(alts) == markup.count("<img"), page.name
        assert alts and all(a.startswith("График") for a in alts), (page.name, alts)
    overview = (site / "2026-10" / "kpi_overview.html").read_text(encoding="utf-8")
    assert 'alt="График: Объём продаж; Заказы; Новые клиенты;' in overview
    assert 'alt="График: Что сдвинуло выручку"' in overview


def _draw_svg_too(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the kernels a publish starts draw every chart as SVG besides PNG (an IPython
    profile; nbconvert then shows the SVG) with text kept as text (a matplotlibrc)."""
    profile = folder / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text('c.InlineBackend.figure_formats = {"png", "svg"}\n')
    (folder / "matplotlibrc").write_text("svg.fonttype: none\n")
    monkeypatch.setenv("IPYTHONDIR", str(folder / "ipython"))
    monkeypatch.setenv("MATPLOTLIBRC", str(folder / "matplotlibrc"))


def _chart_texts(page: Path) -> list[str]:
    """The texts drawn in a page's charts (published as SVG with text kept as text)."""
    import base64
    import html

    found = []
    for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page.read_text(encoding="utf-8")):
        svg = base64.b64decode(data).decode("utf-8")
        found += [html.unescape(re.sub(r"<[^>]+>", "", x)).strip() for x in re.findall(r"<text\b.*?</text>", svg, re.S)]
    return [x for x in found if x]


def test_chart_text_is_russian_too(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Titles, axes, legends, notes and tick labels of every chart: the kernels draw SVG
    besides PNG (an IPython profile) with text kept as text (a matplotlibrc), so the test
    reads what a reader sees in the pictures."""
    _draw_svg_too(tmp_path, monkeypatch)
    out = publish_site(tmp_path, _russian_params(demo_dir, tmp_path / "out"))
    allowed = _allowed(demo_dir)
    left, drawn = [], {}
    for page in sorted((out / "2026-10").glob("*.html")):
        drawn[page.stem] = texts_ = _chart_texts(page)
        for text in texts_:
            assert "$" not in text and "mathdefault" not in text and not re.fullmatch(r"1e\d+", text), text
            left += [f"{page.name}: {w} ← {text}" for w in re.findall(r"[A-Za-z]{2,}", text) if w not in allowed]
    assert not left, "\n".join(left[:30])
    assert set(drawn) == {"data_health", "kpi_overview", "pdca_review", "funnel", "feedback", "marketing",
                          "forecast", "activities", "opportunities"} and all(drawn.values()), {
        k: len(v) for k, v in drawn.items()}
    assert "Звонки по дням недели и часам" in drawn["activities"] and "Пн" in drawn["activities"]
    assert "Новые товары: покупатели с запуска" in drawn["opportunities"]
    assert "Строки по месяцам по таблицам" in drawn["data_health"] and "заказы" in drawn["data_health"]
    assert "10\xa0000" in drawn["data_health"]  # a log axis in numbers, grouped the Russian way
    assert any(re.fullmatch(r"\d{1,3}(\xa0\d{3})+", x) for x in drawn["forecast"])
    assert "прогноз (ETS с сезонностью)" in drawn["forecast"] or "прогноз (ETS)" in drawn["forecast"]
    assert "PDCA-03: Средний чек" in drawn["pdca_review"] and "начало" in drawn["pdca_review"]


CDNOW = config.ROOT.parent / "shared" / "data" / "cdnow_transactions" / "CDNOW_master.txt"


@pytest.mark.skipif(chromium() is None or not CDNOW.is_file(),
                    reason="needs Chromium and ../shared/data/cdnow_transactions (a real export: orders only)")
def test_a_real_export_in_russian_has_no_english_interface(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CDNOW has orders only: every page takes its branches for missing tables, short
    histories and models that cannot be fitted — each of those notes must be Russian too,
    and so must the text drawn in its charts."""
    _draw_svg_too(tmp_path, monkeypatch)
    params = config.read_params(config.ROOT / "params" / "examples" / "cdnow.yaml")
    params["source"]["tables"]["orders"]["path"] = str(CDNOW)
    register = yaml.safe_load((config.ROOT / "params" / "examples" / "cdnow_initiatives.yaml").read_text())
    for ini in register["initiatives"]:
        ini.update(title="Письма клиентам, которые давно не покупали", owner="Маркетинг",
                   hypothesis="Ежемесячное письмо возвращает заказы.")
        ini["do"]["change"] = "Каждый клиент без покупок 90 дней получает письмо раз в месяц."
    params.update(language="ru", initiatives=register["initiatives"], analyst_note="Покупки CDNOW, 1997–1998.",
                  report={**params["report"], "out": str(tmp_path / "out")})
    out = publish_site(tmp_path, params, period="1998-06")
    allowed = ACRONYMS | {"CDNOW", "CD"} | _schema_words()  # CD-01: the register's own id
    browser = Browser()
    left = []
    try:
        for page in [out / "index.html", *sorted((out / "1998-06").glob("*.html"))]:
            browser.open(page)
            for line in str(browser.evaluate(VISIBLE_TEXT)).splitlines():
                left += [f"{page.name}: {w} ← {line.strip()[:100]}" for w in re.findall(r"[A-Za-z]{2,}", line)
                         if w not in allowed]
    finally:
        browser.close()
    charts = {page.stem: _chart_texts(page) for page in sorted((out / "1998-06").glob("*.html"))}
    assert sum(map(len, charts.values())) > 50, {k: len(v) for k, v in charts.items()}  # charts were read
    for name, drawn in charts.items():
        for text in drawn:
            assert "$" not in text and "mathdefault" not in text and not re.fullmatch(r"1e\d+", text), text
            left += [f"{name} (chart): {w} ← {text}" for w in re.findall(r"[A-Za-z]{2,}", text) if w not in allowed]
    assert not left, "\n".join(left[:30])
