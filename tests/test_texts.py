"""The catalogues of texts: every English key translated, with the same placeholders, and
numbers and dates in the locale's format."""

from __future__ import annotations

import re
import string
from datetime import date

import pytest

from salesnb import texts


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_has_a_russian_text_with_the_same_placeholders() -> None:
    en, ru = texts.catalogue("en"), texts.catalogue("ru")
    english_keys = {k for k in en if not k.startswith("cells.")}
    missing = sorted(english_keys - set(ru))
    assert not missing, f"ru.yaml lacks {len(missing)} key(s): {missing[:20]}"
    extra = sorted({k for k in ru if not k.startswith("cells.")} - english_keys)
    assert not extra, f"ru.yaml has keys English does not: {extra[:20]}"
    for key in english_keys:
        assert _fields(str(en[key])) == _fields(str(ru[key])), key
        assert str(ru[key]).strip(), key


def test_russian_texts_are_russian() -> None:
    """A Russian text with no Cyrillic letter is an untranslated one (codes and symbols aside)."""
    allowed = {"KPI", "id", "PDCA", "NPS", "CSAT", "CRM", "CSV", "ROMI", "CAC", "AUC", "MAE", "MASE", "ETS", "SARIMA",
               "FY"}
    for key, text in texts.catalogue("ru").items():
        if key.startswith("cells.") or re.search("[а-яё]", str(text), re.IGNORECASE):
            continue
        words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", str(text))))
        assert words <= allowed, (key, text)


def test_locale_formats() -> None:
    try:
        texts.set_language("ru")
        assert texts.money(1654668, "RUB") == "1\xa0654\xa0668\xa0₽"
        assert texts.percent(0.028) == "2,8\xa0%"
        assert texts.number(1234.5, 1) == "1\xa0234,5"
        assert texts.month(date(2026, 10, 1)) == "октябрь 2026"
        assert texts.t("page.period") == "Период"
        texts.set_language("en")
        assert texts.money(1654668, "USD") == "1,654,668 USD" and texts.percent(0.028) == "2.8%"
    finally:
        texts.set_language("en")


def test_a_language_we_do_not_have_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="language: 'de' is not one of en, ru"):
        texts.set_language("de")
    with pytest.raises(texts.CatalogueError, match="no text 'page.nothing'"):
        texts.t("page.nothing")


def test_every_notebook_markdown_cell_has_an_up_to_date_translation() -> None:
    """A new or edited English cell without its Russian text fails here (the page would show
    it in English): the catalogue records a hash of the English each translation is of."""
    import nbformat

    from salesnb import config

    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        stale = texts.translate_cells(nb, path.stem, "ru")
        assert stale == [], f"{path.name}: cells {stale} lack an up-to-date translation in salesnb/locales/ru.yaml"
        assert all(re.search("[а-яё]", c.source) for c in nb.cells if c.cell_type == "markdown"), path.name


def test_the_catalogues_read_by_libyaml_equal_the_python_safe_loader() -> None:
    """The catalogues are read with libyaml's safe loader when PyYAML has it: every key and
    text must be what the pure-Python safe loader reads."""
    import yaml

    from salesnb import texts

    for lang in ("en", "ru"):
        plain = texts._flatten(yaml.safe_load((texts.LOCALES / f"{lang}.yaml").read_text(encoding="utf-8")))
        assert texts.catalogue(lang) == plain and len(plain) > 500, lang
