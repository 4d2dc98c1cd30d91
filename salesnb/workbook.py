"""``outputs/<period>/kpis.xlsx``: the period's numbers for managers who live in spreadsheets.

A page contributes sheets through its run record (:func:`attach_sheet`): a name, typed
columns and rows of plain values. The publisher keeps each page's sheets beside the period
and writes one workbook from all of them (:func:`write`), so a page re-run alone still
leaves a whole workbook. Numbers stay numbers with a number format; headers are frozen and
bold; columns are as wide as their content; a text cell is always text — one that starts
with ``=``, ``+``, ``-`` or ``@`` is never a formula.

>>> import pandas as pd, tempfile, openpyxl
>>> s = sheet("Scorecard", pd.DataFrame({"KPI": ["=1+1"], "value": [1234.5]}), formats={"value": "money"},
...           currency="USD")
>>> path = Path(tempfile.mkdtemp()) / "kpis.xlsx"
>>> write(path, [s])  # how many texts had characters a workbook cannot hold
0
>>> ws = openpyxl.load_workbook(path)["Scorecard"]
>>> ws["A2"].value, ws["A2"].data_type, ws["B2"].value, ws["B2"].number_format, ws.freeze_panes
('=1+1', 's', 1234.5, '#,##0 "USD"', 'B2')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["sheet", "attach_sheet", "write", "FORMATS", "SHEET_NAME"]

Sheet = dict[str, Any]

# a column's kind → its Excel number format (money gets the currency, date the locale's order)
FORMATS = {"integer": "#,##0", "number": "#,##0.00", "percent": "0.0%", "money": '#,##0 "{currency}"',
           "date": "yyyy-mm-dd", "text": "@"}
SHEET_NAME = re.compile(r"[^\[\]:*?/\\]{1,31}")  # what Excel allows
_MAX_WIDTH = 60


def _plain(value: Any) -> Any:
    """A JSON-able cell: NaN/None → None, dates → ISO text, numpy → Python."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return pd.Timestamp(value).date().isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def sheet(name: str, df: pd.DataFrame, *, formats: Mapping[str, str | Sequence[str]] | None = None,
          currency: str = "", date_format: str = "yyyy-mm-dd") -> Sheet:
    """A sheet from ``df``: ``formats`` maps a column to ``integer``, ``number``, ``percent``
    (a share, 0.028 → 2.8%), ``money``, ``date`` or ``text`` — or to one of these per row,
    for a column of mixed units; other numeric columns get ``number``, the rest ``text``."""
    if not SHEET_NAME.fullmatch(name):
        raise ValueError(f"sheet name {name!r}: at most 31 characters, none of [ ] : * ? / \\")
    formats = dict(formats or {})
    columns = []
    for c in df.columns:
        given = formats.get(str(c))
        if given is None:
            given = ("number" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
                     else "text")
        kinds = [given] * len(df) if isinstance(given, str) else list(given)
        for kind in {*kinds, "text"}:
            if kind not in FORMATS:
                raise ValueError(f"sheet {name!r}, column {c!r}: format {kind!r} is not one of {', '.join(FORMATS)}")
        money = FORMATS["money"].replace("{currency}", currency.replace('"', ""))
        fmts = [money if k == "money" else date_format if k == "date" else FORMATS[k] for k in kinds]
        kind = given if isinstance(given, str) else "mixed"
        columns.append({"name": str(c), "kind": kind, "format": fmts[0] if isinstance(given, str) else "General",
                        **({} if isinstance(given, str) else {"formats": fmts})})
    rows = [[_plain(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return {"name": name, "columns": columns, "rows": rows}


def attach_sheet(name: str, df: pd.DataFrame, **options: Any) -> None:
    """Add ``df`` as a sheet of the period's ``kpis.xlsx`` (see :func:`sheet`)."""
    from salesnb.present import run_record

    run_record(sheets=[sheet(name, df, **options)])


def _width(values: Sequence[Any], kind: str) -> float:
    longest = max((len(f"{v:,.2f}") if isinstance(v, float) and kind != "percent" else len(str(v))
                   for v in values if v is not None), default=0)
    return min(_MAX_WIDTH, max(8, longest + 2))


REPLACEMENT = "\ufffd"


def clean_text(value: str) -> tuple[str, bool]:
    """``value`` with the control characters a workbook cannot store (all below U+0020 but
    tab, newline and carriage return) replaced by U+FFFD, and whether any was.

    >>> clean_text("Ann\x01Ctrl")
    ('Ann\ufffdCtrl', True)
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cleaned = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
    return cleaned, cleaned != value


def write(path: Path, sheets: Sequence[Sheet]) -> int:
    """Write ``sheets`` as one workbook at ``path`` (a sheet name met twice gets a number);
    returns how many texts had characters replaced by :func:`clean_text`."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    cleaned = 0

    def text(value: Any) -> str:
        nonlocal cleaned
        out, changed = clean_text(str(value))
        cleaned += changed
        return out

    for spec in sheets:
        name, n = spec["name"], 2
        while name in used:
            name, n = f"{spec['name'][:28]} {n}", n + 1
        used.add(name)
        ws = wb.create_sheet(name)
        columns = spec["columns"]
        for j, col in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=j)
            cell.value = text(col["name"])
            cell.data_type = "s"  # a header is text, whatever it starts with
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, row in enumerate(spec["rows"], start=2):
            for j, (col, value) in enumerate(zip(columns, row, strict=True), start=1):
                cell = ws.cell(row=i, column=j)
                if value is None:
                    continue
                if col["kind"] == "date" and isinstance(value, str):
                    cell.value = date.fromisoformat(value)
                    cell.number_format = col["format"]
                elif isinstance(value, (int, float)) and not isinstance(value, bool) and col["kind"] != "text":
                    cell.value = value
                    cell.number_format = col["formats"][i - 2] if "formats" in col else col["format"]
                else:
                    # text stays text: openpyxl would store "=…" as a formula, and Excel would
                    # re-read "+…", "-…", "@…" as one when the cell is edited
                    cell.value = text(value)
                    cell.data_type = "s"
                    cell.quotePrefix = str(value)[:1] in "=+-@"
        for j, col in enumerate(columns, start=1):
            values = [col["name"], *(r[j - 1] for r in spec["rows"])]
            ws.column_dimensions[get_column_letter(j)].width = _width(values, col["kind"])
        ws.freeze_panes = "B2" if len(columns) > 1 else "A2"  # the header row and the row names
        if spec["rows"]:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(spec['rows']) + 1}"
    if not wb.sheetnames:
        wb.create_sheet("–")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return cleaned
