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

from salesnb.data import SalesData
from salesnb.kpis import KPI
from salesnb.periods import Period

__all__ = ["table", "bullets", "page_intro", "result_badges", "heading", "note", "with_interval", "run_record",
           "attach_csv", "csv_text", "CSV_NAME", "RECORD_MIME"]

# the media type of a page's machine-readable run record: read by the publisher, never shown
RECORD_MIME = "application/vnd.salesnb.record+json"

_RESULT_COLOURS = {"ok": "#1b7837", "warning": "#b35806", "missing": "#6c6c6c",
                   "failed": "#b2182b"}


def table(df: pd.DataFrame, *, integers: Sequence[str] = (), percents: Sequence[str] = (),
          money: Sequence[str] = (), dates: Sequence[str] = (), currency: str = "",
          caption: str | None = None, empty: str = "nothing for this period",
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
        return HTML(f"<p><em>{html.escape(empty)}.</em></p>")
    fmt: dict[str, object] = {}
    fmt.update({c: "{:,.0f}" for c in integers})
    fmt.update({c: "{:.1%}" for c in percents})
    suffix = f" {html.escape(currency)}" if currency else ""  # added after the cell's own escaping
    # money: cents only where they matter (below 1,000)
    fmt.update({c: (lambda v, s=suffix: f"{v:,.0f}{s}" if abs(v) >= 1000 else f"{v:,.2f}{s}") for c in money})
    fmt.update({c: (lambda v: f"{v:%Y-%m-%d}") for c in dates})
    # any other float: two decimals, thousands separated (no 51.000000)
    fmt.update({c: "{:,.2f}" for c in df.columns
                if c not in fmt and pd.api.types.is_float_dtype(df[c])})
    fmt = {c: f for c, f in fmt.items() if c in df.columns}  # a column a page dropped is not an error
    styler = (df.style.format(fmt, na_rep="–", escape="html")
              .format_index(escape="html", axis=1)
              .hide(axis="index")
              .set_table_attributes('class="snb-table snb-scorecard"' if wrap else 'class="snb-table"'))
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if "result" in df.columns:
        styler = styler.map(lambda v: f"color: {_RESULT_COLOURS.get(v, 'inherit')}; font-weight: 600",
                            subset=["result"])
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler


def bullets(items: Iterable[str], *, empty: str = "None.") -> HTML:
    """An escaped bullet list, or ``empty`` when there are no items."""
    items = list(items)
    if not items:
        return HTML(f"<p>{html.escape(empty)}</p>")
    return HTML("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")


def page_intro(period: Period, data: SalesData, analyst_note: str = "") -> HTML:
    """The block under a report's title: period, its comparison periods, data, note."""
    prev, ly = period.previous(), period.last_year()
    parts = [
        f"<p><strong>Period:</strong> {html.escape(period.label)} "
        f"({period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}, {period.days} days). "
        f"<strong>Compared with:</strong> previous {html.escape(prev.label)}; "
        f"last year {html.escape(ly.label)}.</p>",
        f"<p><strong>Data:</strong> {len(data.present)} tables loaded "
        f"({html.escape(', '.join(data.present))}); fingerprint "
        f'<code class="snb-fingerprint">{html.escape(data.fingerprint)}</code>.</p>',
    ]
    if analyst_note.strip():
        parts.append(f'<blockquote class="snb-note"><strong>Analyst note:</strong> '
                     f"{html.escape(analyst_note.strip())}</blockquote>")
    return HTML("\n".join(parts))


def result_badges(checks: pd.DataFrame) -> HTML:
    """One line counting the checks by result, e.g. ``6 ok · 1 warning``."""
    counts = checks["result"].value_counts()
    text = " · ".join(f'<span style="color:{_RESULT_COLOURS.get(str(k), "inherit")}">'
                      f"{int(v)} {html.escape(str(k))}</span>" for k, v in counts.items())
    return HTML(f"<p><strong>Checks:</strong> {text}</p>")


def note(text: str) -> HTML:
    """A sentence under a table, escaped.

    >>> note("a < b").data
    '<p class="snb-note"><em>a &lt; b</em></p>'
    """
    return HTML(f'<p class="snb-note"><em>{html.escape(text)}</em></p>')


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
            return f"{v:.1%} ({lo * 100:.1f}–{hi * 100:.1f}%)"
        return f"{v:,.2f} ({lo:,.2f}–{hi:,.2f})"

    out = df.copy()
    out[column] = [text(v, lo, hi) for v, lo, hi in zip(df[column], df[low], df[high], strict=True)]
    return out.drop(columns=[low, high])


def run_record(*, title: str | None = None, data: SalesData | None = None,
               kpis: Mapping[str, KPI] | None = None, headline: Mapping[str, str] | None = None,
               files: list[dict[str, str]] | None = None, sheets: list[dict[str, object]] | None = None) -> None:
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
    display({RECORD_MIME: record}, raw=True)


# a file published beside a page: a name, or a folder and a name, ending in .csv
CSV_NAME = re.compile(r"\w[\w.-]*(/\w[\w.-]*)?\.csv")


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
    if not CSV_NAME.fullmatch(name):
        raise ValueError(f"attach_csv: {name!r} is not a plain file name ending in .csv (letters, digits, _ . -, "
                         "at most one folder)")
    run_record(files=[{"name": name, "text": csv_text(df)}])
