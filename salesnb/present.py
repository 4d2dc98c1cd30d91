"""Presentation helpers for the report notebooks: styled tables and short HTML blocks.

Every text that came from data is HTML-escaped here, so a comment such as
``<script>`` or ``Had to call <three> times`` shows as text and never as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from IPython.display import HTML
from pandas.io.formats.style import Styler

from salesnb import texts
from salesnb.config import RECORD_MIME
from salesnb.data import SalesData
from salesnb.kpis import KPI
from salesnb.periods import Period

__all__ = ["table", "bullets", "engine_note", "page_intro", "result_badges", "result_word", "heading", "note",
           "with_interval", "run_record", "findings_list",
           "attach_csv", "csv_text", "CSV_NAME", "MAX_NAME_BYTES", "RECORD_MIME"]

# the media type of a page's machine-readable run record: read by the publisher, never shown

_OWN_LABELS = {"all": "all", "(none)": "none", "(several)": "several", "(all others)": "all_others"}
_RESULT_COLOURS = {"ok": "#1b7837", "warning": "#b35806", "missing": "#6c6c6c",
                   "failed": "#b2182b"}


def table(df: pd.DataFrame, *, integers: Sequence[str] = (), percents: Sequence[str] = (),
          money: Sequence[str] = (), dates: Sequence[str] = (), currency: str = "",
          caption: str | None = None, empty: str | None = None,
          wrap: bool = False) -> Styler | HTML:
    """A DataFrame styled the one way every report uses: escaped text, aligned numbers.

    Integers get thousands separators, percentages one decimal, money two decimals and the
    currency code, dates ``YYYY-MM-DD``; missing values show as an en dash. ``wrap`` lets
    long texts wrap so that a wide table fits the page.

    >>> s = table(pd.DataFrame({"name": ["<b>x</b>"], "rows": [1234]}), integers=["rows"])
    >>> "&lt;b&gt;x&lt;/b&gt;" in s.to_html() and "1,234" in s.to_html()
    True
    """
    if df.empty:  # a missing table or a quiet period: say so in one line
        return HTML(f"<p><em>{html.escape(texts.t('intro.nothing') if empty is None else empty)}.</em></p>")
    fmt: dict[str, object] = {}
    fmt.update({c: (lambda v: texts.number(v)) for c in integers})
    fmt.update({c: (lambda v: texts.percent(v)) for c in percents})
    # money: cents only where they matter (below 1,000); the currency added after escaping
    fmt.update({c: (lambda v, cur=currency: html.escape(texts.money(v, cur, 0 if abs(v) >= 1000 else 2)))
                for c in money})
    fmt.update({c: (lambda v: texts.day(v)) for c in dates})
    # any other float: two decimals, thousands separated (no 51.000000)
    fmt.update({c: (lambda v: texts.number(v, 2)) for c in df.columns
                if c not in fmt and pd.api.types.is_float_dtype(df[c])})
    fmt.update({c: (lambda v: texts.yes_no(v)) for c in df.columns
                if c not in fmt and pd.api.types.is_bool_dtype(df[c])})
    if texts.language() != "en":  # the labels salesnb itself gives: the whole, no value, several values
        own = {label: html.escape(texts.t(f"value.{key}")) for label, key in _OWN_LABELS.items()}
        fmt.update({c: (lambda v, own=own: own.get(v, v)) for c in df.columns
                    if c not in fmt and (pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object)})
    fmt = {c: f for c, f in fmt.items() if c in df.columns}  # a column a page dropped is not an error
    # escape="html" escapes a cell before its formatter runs: a formatter escapes what it adds
    styler = (df.style.format(fmt, na_rep="–", escape="html")
              .format_index(escape="html", axis=1)
              .hide(axis="index")
              .set_table_attributes('class="snb-table snb-scorecard"' if wrap else 'class="snb-table"'))
    if texts.language() != "en":  # the column names in the page's language
        styler = styler.relabel_index([texts.column(str(c)) for c in df.columns], axis=1)
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if "result" in df.columns:
        styler = styler.map(lambda v: f"color: {_RESULT_COLOURS.get(v, 'inherit')}; font-weight: 600",
                            subset=["result"])
        if texts.language() != "en":
            styler = styler.format(lambda v: html.escape(result_word(str(v))), subset=["result"])
    if "part" in df.columns and texts.language() != "en":  # the parts of a revenue change
        styler = styler.format(lambda v: html.escape(texts.t(f"driver.{v}") if f"driver.{v}" in texts.catalogue("en")
                                                     else str(v)), subset=["part"])
    if "status" in df.columns and texts.language() != "en":  # ok, immature, insufficient_data …
        styler = styler.format(lambda v: html.escape(texts.status(str(v))) if isinstance(v, str) else "–",
                               subset=["status"])
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler


def bullets(items: Iterable[str], *, empty: str | None = None) -> HTML:
    """An escaped bullet list, or ``empty`` when there are no items."""
    items = list(items)
    if not items:
        return HTML(f"<p>{html.escape(texts.t('intro.none') if empty is None else empty)}</p>")
    return HTML("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")


def engine_note(choice: Mapping[str, str]) -> HTML:
    """The engine a page ran on and why (:func:`salesnb.health.engine_choice`), the engine
    and setting names as code.

    >>> engine_note({"engine": "pandas", "why": "as {setting} asks", "setting": "engine: pandas",
    ...              "other": "duckdb"}).data
    '<p><strong>Engine:</strong> <code>pandas</code> — as <code>engine: pandas</code> asks.</p>'
    """
    code = {name: f"<code>{html.escape(choice[name])}</code>" for name in ("setting", "other")}
    why = html.escape(choice["why"]).replace("{setting}", code["setting"]).replace("{other}", code["other"])
    return HTML(f"<p><strong>{html.escape(texts.t('health.engine'))}:</strong> "
                f"<code>{html.escape(choice['engine'])}</code> — {why}.</p>")


def page_intro(period: Period, data: SalesData, analyst_note: str = "") -> HTML:
    """The block under a report's title: period, its comparison periods, data, note."""
    prev, ly = period.previous(), period.last_year()
    e = html.escape
    names = ", ".join(texts.table_name(n) for n in data.present)
    parts = [
        f"<p><strong>{e(texts.t('intro.period'))}:</strong> {e(period.label)} "
        f"({e(texts.t('intro.span', start=texts.day(period.start), end=texts.day(period.end), days=period.days))}). "
        f"<strong>{e(texts.t('intro.compared'))}:</strong> {e(texts.t('intro.previous', label=prev.label))}; "
        f"{e(texts.t('intro.last_year', label=ly.label))}.</p>",
        f"<p><strong>{e(texts.t('intro.data'))}:</strong> "
        f"{e(texts.t('intro.tables', n=len(data.present), names=names))}; "
        f"{e(texts.t('intro.fingerprint'))} "
        f'<code class="snb-fingerprint">{e(data.fingerprint)}</code>.</p>',
    ]
    if analyst_note.strip():
        parts.append(f'<blockquote class="snb-note"><strong>{e(texts.t("intro.note"))}:</strong> '
                     f"{e(analyst_note.strip())}</blockquote>")
    return HTML("\n".join(parts))


def findings_list(lines: Sequence[Mapping[str, str]]) -> HTML:
    """The findings (:func:`salesnb.findings.finding_lines`) as a numbered list, each with its
    money at stake, its evidence and a link to the section that shows it; every text escaped.

    >>> findings_list([]).data
    '<p>Nothing stands out this period: no change, stage, month, channel, theme or target passed its test.</p>'
    """
    e = html.escape
    if not lines:
        return HTML(f"<p>{e(texts.t('findings.none'))}</p>")
    items = []
    for f in lines:
        money = f" <strong>{e(f['money'])}</strong>." if f.get("money") else ""
        link = f' <a href="{e(f["link"], quote=True)}">→</a>' if f.get("link") else ""
        items.append(f'<li>{e(f["text"])}{money}{link}<br><small>{e(f["evidence"])}</small></li>')
    return HTML('<ol class="snb-findings">' + "".join(items) + "</ol>")


def result_word(result: str) -> str:
    """A check's result (``ok``, ``warning``, ``missing``, ``failed``) in the report's language."""
    return texts.t(f"result.{result}") if f"result.{result}" in texts.catalogue("en") else result


def result_badges(checks: pd.DataFrame) -> HTML:
    """One line counting the checks by result, e.g. ``6 ok · 1 warning``."""
    counts = checks["result"].value_counts()
    text = " · ".join(f'<span style="color:{_RESULT_COLOURS.get(str(k), "inherit")}">'
                      f"{int(v)} {html.escape(result_word(str(k)))}</span>" for k, v in counts.items())
    return HTML(f"<p><strong>{html.escape(texts.t('intro.checks'))}:</strong> {text}</p>")


def note(text: str) -> HTML:
    """A sentence under a table, escaped.

    >>> note("a < b").data
    '<p class="snb-note"><em>a &lt; b</em></p>'
    """
    return HTML(f'<p class="snb-note"><em>{html.escape(text)}</em></p>' if text else "")


def heading(text: str, *, level: int = 3) -> HTML:
    """An escaped HTML heading (for headings built in a loop)."""
    return HTML(f"<h{level}>{html.escape(text)}</h{level}>")


def with_interval(df: pd.DataFrame, column: str, low: str, high: str, *, percent: bool = True) -> pd.DataFrame:
    """Replace a value and its interval columns with one text column ``value (low–high)``.

    >>> with_interval(pd.DataFrame({"c": [0.1], "lo": [0.08], "hi": [0.12]}), "c", "lo", "hi")["c"].tolist()
    ['10.0% (8.0–12.0%)']
    """
    def text(v: float, lo: float, hi: float) -> str:
        if v != v:
            return "–"
        if percent:
            return f"{texts.percent(v)} ({texts.number(lo * 100, 1)}–{texts.percent(hi)})"
        return f"{texts.number(v, 2)} ({texts.number(lo, 2)}–{texts.number(hi, 2)})"

    out = df.copy()
    out[column] = [text(v, lo, hi) for v, lo, hi in zip(df[column], df[low], df[high], strict=True)]
    return out.drop(columns=[low, high])


def run_record(*, title: str | None = None, data: SalesData | None = None,
               kpis: Mapping[str, KPI] | None = None, headline: Mapping[str, str] | None = None,
               files: list[dict[str, str]] | None = None, sheets: list[dict[str, object]] | None = None,
               findings: list[dict[str, str]] | None = None, tiles: list[dict[str, object]] | None = None) -> None:
    """Tell the publisher what this page stands on, in a form it reads without parsing HTML:
    the page's title, the data's fingerprint, the definitions of the KPIs it uses and, for
    the index, headline figures. Several calls on one page add up; nothing is shown.
    """
    from IPython.display import display

    record: dict[str, object] = {}
    if title is not None:
        record["title"] = title
    if data is not None:
        record["fingerprint"] = data.fingerprint
    if kpis is not None:
        record["definitions"] = [{"label": k.label, "name": k.name, "definition": k.definition}
                                 for k in kpis.values()]
    if headline is not None:
        record["headline"] = [[k, v] for k, v in headline.items()]  # pairs: the order survives JSON
    if files is not None:
        record["files"] = files
    if sheets is not None:  # for the period's kpis.xlsx (salesnb.workbook)
        record["sheets"] = sheets
    if findings is not None:  # for the index and the e-mail (salesnb.findings.finding_lines)
        record["findings"] = findings
    if tiles is not None:  # the index's KPI tiles (salesnb.overview.index_tiles)
        record["tiles"] = tiles
    display({RECORD_MIME: record}, raw=True)


# a file published beside a page: a name, or a folder and a name, ending in .csv
CSV_NAME = re.compile(r"\w[\w.-]*(/\w[\w.-]*)?\.csv")
MAX_NAME_BYTES = 200  # a file name's bytes (255 on most file systems, less a temporary suffix)


def csv_text(df: pd.DataFrame) -> str:
    """A CSV that opens cleanly in a spreadsheet: UTF-8 with a byte-order mark (Excel then
    reads Cyrillic names right), and text cells that a spreadsheet would run as a formula
    (starting with =, +, -, @) prefixed with an apostrophe.

    >>> csv_text(pd.DataFrame({"name": ["=HYPERLINK(1)", "Анна"], "n": [1, -2]})).splitlines()
    ['\ufeffname,n', "'=HYPERLINK(1),1", 'Анна,-2']
    """
    def safe(v: object) -> object:
        return "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v

    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])
                 and not pd.api.types.is_datetime64_any_dtype(df[c])]
    out = df.assign(**{c: df[c].map(safe) for c in text_cols})
    return "\ufeff" + out.to_csv(index=False, lineterminator="\n")


def attach_csv(name: str, df: pd.DataFrame) -> None:
    """Publish ``df`` as ``outputs/<period>/<name>`` beside the page (see :func:`csv_text`).

    The publisher writes it when the page succeeds, atomically; a failed run leaves the
    last good file in place.
    """
    if not CSV_NAME.fullmatch(name) or any(len(p.encode("utf-8")) > MAX_NAME_BYTES for p in name.split("/")):
        raise ValueError(f"attach_csv: {name!r} is not a plain file name ending in .csv (letters, digits, _ . -, "
                         "at most one folder)")
    run_record(files=[{"name": name, "text": csv_text(df)}])
