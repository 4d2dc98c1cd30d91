"""The reports' words and number formats, in the report's language (English or Russian).

Every text a page prints comes from one catalogue per language, ``salesnb/locales/<lang>.yaml``
(keys such as ``page.period``, with ``{name}`` placeholders), and every number and date
through :func:`number`, :func:`money`, :func:`percent` and :func:`month`, which follow the
locale (Russian: ``1 654 668 ₽``, ``2,8 %``, ``октябрь 2026``; Babel's CLDR data). A
notebook's markdown cells are translated by the publisher from the same catalogue (section
``cells``, keyed by notebook and cell id, with a hash of the English they translate, so a
changed English cell shows up as a stale translation in the tests).

The language is set once per page by :func:`salesnb.report_context` (``language: ru`` in
params); English is the default.

>>> _ = set_language("ru")
>>> print(money(1654668, "RUB"), "·", percent(0.028), "·", month(date(2026, 10, 1)), "·", t("page.period"))
1 654 668 ₽ · 2,8 % · октябрь 2026 · Период
>>> _ = set_language("en")
>>> print(money(1654668, "USD"), "·", percent(0.028), "·", month(date(2026, 10, 1)))
1,654,668 USD · 2.8% · October 2026
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LANGUAGES", "set_language", "language", "using", "t", "catalogue", "number", "money", "percent", "month",
           "day", "period_label", "column", "yes_no", "gate", "status", "table_name", "cell_key", "english_hash",
           "translate_cells", "translated_source", "CatalogueError"]

LANGUAGES = ("en", "ru")
LOCALES = Path(__file__).with_name("locales")
_BABEL = {"en": "en_US", "ru": "ru_RU"}
_state = {"language": "en"}


class CatalogueError(KeyError):
    """A text key that the catalogue of a language lacks."""


def set_language(lang: str | None) -> str:
    """Make ``lang`` (``en`` or ``ru``; empty means ``en``) the language of what follows."""
    lang = (lang or "en").strip().lower()
    if lang not in LANGUAGES:
        raise ValueError(f"language: {lang!r} is not one of {', '.join(LANGUAGES)}")
    _state["language"] = lang
    _chart_dates(lang)
    return lang


def _chart_dates(lang: str) -> None:
    """Chart date ticks as numbers outside English: matplotlib names months in English
    whatever the locale (``Oct 2026`` on a Russian page)."""
    import sys

    if "matplotlib" not in sys.modules:  # a page imports it before it draws: set_theme runs first
        return
    import matplotlib as mpl

    numeric = {"year": "%Y", "month": "%m.%Y", "day": "%d.%m.%Y"}
    for unit, fmt in numeric.items():
        key = f"date.autoformatter.{unit}"
        mpl.rcParams[key] = fmt if lang != "en" else mpl.rcParamsDefault[key]  # type: ignore[index]


def language() -> str:
    return _state["language"]


@contextmanager
def using(lang: str | None) -> Iterator[str]:
    """The texts in ``lang`` within the block; the language before it afterwards (the
    publisher and the mailer run in a long-lived process that other reports share)."""
    before = language()
    try:
        yield set_language(lang)
    finally:
        set_language(before)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (tree or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not {"en", "text"} >= set(v):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


@functools.cache
def catalogue(lang: str) -> dict[str, Any]:
    """Every key of ``locales/<lang>.yaml``, flattened (``section.key`` → text)."""
    path = LOCALES / f"{lang}.yaml"
    # the package's own file, read by every kernel: libyaml's safe loader (the same safe
    # constructor, 0.4 s -> 0.05 s) where PyYAML was built with it
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return _flatten(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))  # noqa: S506 - a safe loader


def t(key: str, /, **values: Any) -> str:
    """The text of ``key`` in the current language, with ``{placeholders}`` filled.

    A key missing from a translation falls back to English (the tests fail on it); a key
    missing from English is a programming error.
    """
    texts = catalogue(language())
    text = texts.get(key)
    if text is None:
        text = catalogue("en").get(key)
        if text is None:
            raise CatalogueError(f"no text {key!r} in salesnb/locales/en.yaml")
    return str(text).format(**values) if values else str(text)


def _nan(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def number(value: float, decimals: int = 0) -> str:
    """``1,234`` / ``1 234`` (Russian: no-break space, decimal comma); ``–`` when missing."""
    if _nan(value):
        return "–"
    if language() == "en":
        return f"{value:,.{decimals}f}"
    if not abs(float(value)) < 1e15:  # beyond what a page can mean (a degenerate interval): no Decimal overflow
        return f"{float(value):.3g}".replace(".", ",")
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return str(format_decimal(round(float(value), decimals), pattern, locale=_BABEL[language()]))


def money(value: float, currency: str = "", decimals: int = 0) -> str:
    """``1,654,668 USD`` in English; ``1 654 668 ₽`` in Russian (the currency's symbol)."""
    if _nan(value):
        return "–"
    if language() == "en" or not currency:
        return number(value, decimals) + (f" {currency}" if currency else "")
    from babel.numbers import format_currency

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "\xa0¤"  # never wrapped from its number
    return str(format_currency(round(float(value), decimals), currency, pattern, locale=_BABEL[language()],
                               currency_digits=False))


def percent(value: float, decimals: int = 1) -> str:
    """``2.8%`` / ``2,8 %``."""
    if _nan(value):
        return "–"
    if language() == "en":
        return f"{value:.{decimals}%}"
    return number(float(value) * 100, decimals) + "\xa0%"


def month(d: date) -> str:
    """``October 2026`` / ``октябрь 2026``."""
    from babel.dates import format_date

    return str(format_date(d, "LLLL y", locale=_BABEL[language()]))


def column(name: str) -> str:
    """A table column's name in the current language (as it is where no translation exists)."""
    if language() == "en":
        return name
    return str(catalogue(language()).get(f"column.{name}", name))


def table_name(name: str) -> str:
    """A canonical table's name for readers: as is in English (``orders``), ``заказы`` in Russian."""
    key = f"table_name.{name}"
    return name if language() == "en" or key not in catalogue("en") else t(key)


def status(code: str) -> str:
    """A row's status code (``ok``, ``immature`` …) in words of the current language."""
    return t("result.ok") if code == "ok" else gate(code)


def gate(status: str) -> str:
    """Why no verdict, in plain words (``too few events to judge``)."""
    key = f"gate.{status}"
    return t(key) if key in catalogue("en") else status.replace("_", " ")


def yes_no(value: Any) -> str:
    return t("value.yes") if bool(value) else t("value.no")


def _fmt(d: date, pattern: str) -> str:
    from babel.dates import format_date

    return str(format_date(d, pattern, locale=_BABEL[language()]))


def period_label(p: Any) -> str:
    """A period's label in the current language (``октябрь 2026``, ``2026-Q3 (июль–сент. 2026)``)."""
    end = p.full_end or p.end
    if p.kind == "month":
        text = month(p.start)
    elif p.kind == "quarter":
        text = f"{p.name} ({_fmt(p.start, 'LLL')}–{_fmt(end, 'LLL y')})"
    elif p.kind == "year":
        text = p.name if p.fiscal_year_start == 1 else t(
            "period.fiscal_year", name=p.name, start=_fmt(p.start, "LLL y"), end=_fmt(end, "LLL y"))
    elif p.kind == "week":
        text = f"{p.name} ({_fmt(p.start, 'd MMM')}–{_fmt(end, 'd MMM y')})"
    else:
        text = f"{_fmt(p.start, 'd MMM y')}–{_fmt(p.end, 'd MMM y')}"
    if p.is_cut:
        text += (t("period.cut_month", day=p.end.day) if p.kind == "month"
                 else t("period.cut", end=_fmt(p.end, "d MMM y")))
    return text


def day(d: date) -> str:
    """``2026-10-05`` in English (as every table has it); ``05.10.2026`` in Russian."""
    return f"{d:%Y-%m-%d}" if language() == "en" else f"{d:%d.%m.%Y}"


# --- a notebook's markdown cells ------------------------------------------------------------

def english_hash(text: str) -> str:
    """A short hash of a cell's English text: a translation records which English it translates."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:10]


def cell_key(notebook: str, cell_id: str) -> str:
    return f"cells.{notebook}/{cell_id}"


def translate_cells(nb: Any, notebook: str, lang: str) -> list[str]:
    """Replace ``nb``'s markdown cells by their translation into ``lang``, in place.

    Returns the ids of the cells without an up-to-date translation (left in English).
    """
    if lang == "en":
        return []
    missing = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = translated_source(notebook, cell.get("id", ""), cell.source, lang)
        if text is None:
            missing.append(cell.get("id", ""))
            continue
        cell.source = text
    return missing


def translated_source(notebook: str, cell_id: str, source: str, lang: str) -> str | None:
    """A markdown cell's text in ``lang``: the catalogue's translation when it is of this very
    English (its hash matches), the English itself for ``en``, else None."""
    if lang == "en":
        return source
    entry = catalogue(lang).get(cell_key(notebook, cell_id))
    if not isinstance(entry, dict) or entry.get("en") != english_hash(source):
        return None
    return str(entry["text"])
