"""Read source files, map them onto the canonical tables, convert types, validate.

A *source* is either a folder holding one file per canonical table (``orders.csv``,
``orders.parquet`` or ``orders.xlsx``, ``leads.csv`` …) or the ``source:`` mapping of a
params file::

    source:
      folder: data/demo              # optional: canonical files, used for tables not listed
      as_of: 2026-11-27              # optional: later dates are errors (default: now)
      tables:
        orders:
          path: exports/orders.csv   # .csv, .txt, .parquet, .xlsx
          encoding: cp1251           # CSV only; default utf-8 (a BOM is dropped)
          delimiter: ";"             # CSV only; default ","
          decimal: ","               # decimal separator of numbers; default "."
          thousands: " "             # thousands separator; spaces are always dropped
          date_format: "%d.%m.%Y"    # strptime format, or a per-column mapping
          sheet: Orders              # .xlsx only
          columns: {Номер: order_id, Сумма: amount, Статус: status}  # source -> canonical
          values: {status: {Выполнен: completed, Отменён: cancelled}}
          defaults: {status: completed}          # a constant for a column the export lacks
          aggregate_lines: true      # one row per order line → one row per order
          fill_from_order: {returned_at: ordered_at, amount: amount}   # returns only

A source column may map to a list of canonical columns (``Order ID: [order_id,
return_id]``). Every cell is read as text first, so a value such as ``NA`` (a territory)
stays text; only empty cells are missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.schema import TABLES, Column, Table
from salesnb.data.validation import Problems, validate

__all__ = ["read_source", "TableSpec", "parse_source", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".parquet", ".csv", ".txt", ".xlsx")
_SPEC_KEYS = {
    "path", "encoding", "delimiter", "decimal", "thousands", "date_format", "sheet",
    "columns", "values", "defaults", "aggregate_lines", "fill_from_order",
}
# Characters that CRM exports put between thousands: space, no-break space, narrow
# no-break space, apostrophe (Swiss).
_THOUSANDS_CHARS = (" ", "\u00a0", "\u202f", "'")


@dataclass(frozen=True)
class TableSpec:
    """How to read one table: its file and the mapping onto the canonical columns."""

    table: str
    path: Path
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    date_format: str | Mapping[str, str] | None = None
    sheet: str | int | None = None
    columns: Mapping[str, str | list[str]] | None = None
    values: Mapping[str, Mapping[str, str]] | None = None
    defaults: Mapping[str, Any] | None = None
    aggregate_lines: bool = False
    fill_from_order: Mapping[str, str] | None = None

    @property
    def row_word(self) -> str:
        """How validation messages count rows: file lines for text and Excel, rows else."""
        return "row" if self.path.suffix.lower() == ".parquet" else "line"


def _resolve(path: str | os.PathLike[str], base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


def _folder_specs(folder: Path) -> dict[str, TableSpec]:
    """One spec per canonical table found in a folder of canonical files."""
    if not folder.is_dir():
        raise ValueError(f"data folder {folder} does not exist (run `make data` for the demo)")
    specs: dict[str, TableSpec] = {}
    for name in TABLES:
        found = [folder / f"{name}{s}" for s in SUPPORTED_SUFFIXES if (folder / f"{name}{s}").is_file()]
        if len(found) > 1:
            raise ValueError(
                f"{name}: several files in {folder} could be the table: "
                f"{', '.join(p.name for p in found)}; keep one"
            )
        if found:
            specs[name] = TableSpec(name, found[0])
    if not specs:
        raise ValueError(
            f"no table files in {folder}: expected files named like orders.csv, "
            f"leads.parquet or deals.xlsx (tables: {', '.join(TABLES)})"
        )
    return specs


def parse_source(
    source: str | os.PathLike[str] | Mapping[str, Any], *,
    base_dir: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, TableSpec], datetime | None]:
    """Turn a folder path or a ``source:`` mapping into table specs (and ``as_of``).

    Raises ``ValueError`` for an unknown table or option, naming it.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(source, (str, os.PathLike)):
        return _folder_specs(_resolve(source, base)), None
    if not isinstance(source, Mapping):
        raise ValueError(f"source must be a folder path or a mapping, got {type(source).__name__}")
    unknown = set(source) - {"folder", "tables", "as_of"}
    if unknown:
        raise ValueError(f"source: unknown keys {sorted(unknown)}; use folder, tables, as_of")
    specs = _folder_specs(_resolve(source["folder"], base)) if source.get("folder") else {}
    for name, options in (source.get("tables") or {}).items():
        if name not in TABLES:
            raise ValueError(f"source.tables: unknown table {name!r}; tables are {', '.join(TABLES)}")
        options = dict(options or {})
        bad = set(options) - _SPEC_KEYS
        if bad:
            raise ValueError(f"source.tables.{name}: unknown options {sorted(bad)}; "
                             f"options are {', '.join(sorted(_SPEC_KEYS))}")
        if "path" not in options:
            raise ValueError(f"source.tables.{name}: 'path' is missing")
        options["path"] = _resolve(options["path"], base)
        if not options["path"].is_file():
            raise ValueError(f"source.tables.{name}: file {options['path']} does not exist")
        if options.get("fill_from_order") and name != "returns":
            raise ValueError(f"source.tables.{name}: fill_from_order applies to returns only")
        if options.get("aggregate_lines") and name != "orders":
            raise ValueError(f"source.tables.{name}: aggregate_lines applies to orders only")
        specs[name] = TableSpec(name, **options)
    if not specs:
        raise ValueError("source names no tables: give a folder, or tables with paths")
    as_of = source.get("as_of")
    return specs, (pd.Timestamp(as_of).to_pydatetime() if as_of else None)


def _read_raw(spec: TableSpec) -> pd.DataFrame:
    """The file as it is, every cell text (CSV) or native (Parquet, Excel).

    The index holds the number a person sees: the file line (header = line 1) for CSV and
    Excel, the 1-based row for Parquet.
    """
    suffix = spec.path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(spec.path)
            df.index = pd.RangeIndex(1, len(df) + 1)
            return df
        if suffix == ".xlsx":
            df = pd.read_excel(spec.path, sheet_name=spec.sheet if spec.sheet is not None else 0,
                               dtype=object, keep_default_na=False, na_values=[""])
        elif suffix in (".csv", ".txt"):
            df = pd.read_csv(spec.path, sep=spec.delimiter, encoding=spec.encoding, dtype=str,
                             keep_default_na=False, na_values=[""], skipinitialspace=True)
        else:
            raise ValueError(f"{spec.table}: cannot read {spec.path.name}: "
                             f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{spec.table}: {spec.path.name} is not {spec.encoding} text "
                         f"({exc.reason} at byte {exc.start}); set encoding, e.g. cp1251") from None
    except (pd.errors.ParserError, ValueError) as exc:
        if str(exc).startswith(spec.table):
            raise
        raise ValueError(f"{spec.table}: cannot read {spec.path}: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(2, len(df) + 2)
    return df


def _map_columns(raw: pd.DataFrame, spec: TableSpec, table: Table) -> pd.DataFrame:
    """Rename source columns to canonical ones; keep only canonical columns."""
    if spec.columns:
        missing = [c for c in spec.columns if c not in raw.columns]
        if missing:
            raise ValueError(
                f"{spec.table}: the mapping names columns that {spec.path.name} lacks: "
                f"{', '.join(map(repr, missing))} (columns in the file: "
                f"{', '.join(map(repr, raw.columns))})"
            )
    out: dict[str, pd.Series] = {}
    mapping = dict(spec.columns or {})
    for col in raw.columns:
        targets = mapping.get(col, col if col in table.column_names and col not in out else None)
        for target in [targets] if isinstance(targets, str) else (targets or []):
            out[target] = raw[col]
    for col, value in (spec.defaults or {}).items():
        if col not in table.column_names:
            raise ValueError(f"{spec.table}: defaults name {col!r}, not a column of {spec.table}")
        if col not in out:
            out[col] = pd.Series(value, index=raw.index, dtype=object)
    return pd.DataFrame(out, index=raw.index)


def _to_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_object_dtype(values):
        # Excel and Parquet give numeric ids as floats (1001.0): write them as 1001.
        def text(v: Any) -> Any:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return np.nan
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v)
        values = values.map(text)
    return values.astype("str").str.strip().replace("", np.nan)


def _to_number(values: pd.Series, spec: TableSpec) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("str").str.strip()
    for ch in _THOUSANDS_CHARS + ((spec.thousands,) if spec.thousands else ()):
        if ch != spec.decimal:
            text = text.str.replace(ch, "", regex=False)
    if spec.decimal != ".":
        text = text.str.replace(spec.decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _date_format(spec: TableSpec, column: str) -> str | None:
    fmt = spec.date_format
    if isinstance(fmt, Mapping):
        return fmt.get(column)
    return fmt


def _to_datetime(values: pd.Series, fmt: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[us]")
    if pd.api.types.is_object_dtype(values):
        # Excel cells come as datetime objects next to text: keep the former as they are.
        is_dt = values.map(lambda v: isinstance(v, datetime))
        if is_dt.any():
            parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
            parsed[is_dt] = pd.to_datetime(values[is_dt].tolist())
            rest = ~is_dt & values.notna()
            if rest.any():
                parsed[rest] = _to_datetime(values[rest].astype("str"), fmt)
            return parsed
    text = values.astype("str").str.strip()
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
    return parsed.astype("datetime64[us]")


def _convert(df: pd.DataFrame, spec: TableSpec, table: Table, problems: Problems) -> pd.DataFrame:
    """Canonical dtypes; every cell that does not convert is reported, not dropped."""
    out = df.copy()
    for col in [c for c in table.columns if c.name in out.columns]:
        before = out[col.name]
        had_value = before.notna() & (before.astype("str").str.strip() != "")
        if col.kind == "datetime":
            fmt = _date_format(spec, col.name)
            out[col.name] = _to_datetime(before, fmt)
            bad = had_value & out[col.name].isna()
            if bad.any():
                expected = f"the format {fmt!r}" if fmt else "ISO form like 2026-10-31 or 2026-10-31 14:05"
                hint = "" if fmt else "; set date_format in the mapping, e.g. '%d.%m.%Y'"
                problems.add(spec.table, col.name, f"not dates in {expected}{hint}",
                             before[bad], spec.row_word)
        elif col.kind in ("amount", "number"):
            out[col.name] = _to_number(before, spec)
            bad = had_value & out[col.name].isna()
            if bad.any():
                hint = f" (decimal separator {spec.decimal!r}; set decimal in the mapping)"
                problems.add(spec.table, col.name, f"not numbers{hint}", before[bad],
                             spec.row_word)
        else:
            out[col.name] = _to_text(before)
            if spec.values and col.name in spec.values:
                out[col.name] = out[col.name].replace(dict(spec.values[col.name]))
    return out


def _aggregate_lines(df: pd.DataFrame, spec: TableSpec, problems: Problems) -> pd.DataFrame:
    """Order lines → orders: amounts, quantities and margins summed, other columns from the first line.

    An order whose lines name different customers is reported (it cannot be one check).
    """
    if "order_id" not in df.columns:
        return df
    lines = df.assign(_line=df.index)
    if "customer_id" in lines.columns:
        n_customers = lines.groupby("order_id", sort=False)["customer_id"].transform("nunique")
        several = lines[n_customers > 1]
        if len(several):
            problems.add(spec.table, "customer_id",
                         "order lines of one order name several customers (order_id "
                         + ", ".join(map(repr, several["order_id"].unique()[:5])) + ")",
                         several["customer_id"], spec.row_word)
    sums = [c for c in ("amount", "quantity", "margin") if c in lines.columns]
    agg: dict[str, Any] = {c: "first" for c in lines.columns if c not in sums and c != "order_id"}
    agg.update({c: lambda s: s.sum(min_count=1) for c in sums})
    agg["_line"] = "min"
    orders = lines.groupby("order_id", sort=False, dropna=False).agg(agg).reset_index()
    orders.index = pd.Index(orders.pop("_line").to_numpy())
    return orders


def _fill_from_order(returns: pd.DataFrame, orders: pd.DataFrame | None,
                     spec: TableSpec) -> pd.DataFrame:
    """Fill return columns that the export lacks from the returned order (mapping option)."""
    if not spec.fill_from_order:
        return returns
    if orders is None or "order_id" not in returns.columns:
        raise ValueError("returns: fill_from_order needs the orders table and returns.order_id")
    lookup = orders.drop_duplicates("order_id").set_index("order_id")
    out = returns.copy()
    for target, source in spec.fill_from_order.items():
        if source not in lookup.columns:
            raise ValueError(f"returns: fill_from_order takes {target!r} from orders.{source}, "
                             f"which is not loaded")
        filled = out["order_id"].map(lookup[source])
        out[target] = out[target].fillna(filled) if target in out.columns else filled
    return out


def read_source(source: str | os.PathLike[str] | Mapping[str, Any], *,
                base_dir: str | os.PathLike[str] | None = None,
                funnel_stages: list[str] | None = None,
                as_of: datetime | str | None = None) -> tuple[dict[str, pd.DataFrame], list[str], str]:
    """Read, map, convert and validate every table of a source.

    Returns the canonical tables, the validation warnings and a one-line description of
    the source. Raises one ``ValueError`` listing every problem found.
    """
    specs, source_as_of = parse_source(source, base_dir=base_dir)
    problems = Problems()
    tables: dict[str, pd.DataFrame] = {}
    # orders first: returns may take columns from them
    for name in sorted(specs, key=lambda n: (n != "orders", list(TABLES).index(n))):
        spec, table = specs[name], TABLES[name]
        df = _map_columns(_read_raw(spec), spec, table)
        missing = [c for c in table.required if c not in df.columns
                   and not (spec.fill_from_order and c in spec.fill_from_order)]
        for col in missing:
            problems.missing_column(name, col, list(df.columns), spec.path.name)
        df = _convert(df, spec, table, problems)
        if spec.aggregate_lines:
            df = _aggregate_lines(df, spec, problems)
        if name == "returns":
            df = _fill_from_order(df, tables.get("orders"), spec)
        tables[name] = df
    cutoff = pd.Timestamp(as_of or source_as_of or datetime.now())
    warnings = validate(tables, {n: s.row_word for n, s in specs.items()}, problems,
                        as_of=cutoff, funnel_stages=funnel_stages)
    problems.raise_if_any()
    ordered = {}
    for name in TABLES:
        if name in tables:
            df = tables[name]
            cols: list[Column] = [c for c in TABLES[name].columns if c.name in df.columns]
            ordered[name] = df[[c.name for c in cols]].astype(
                {c.name: c.dtype for c in cols}).reset_index(drop=True)
    described = ", ".join(f"{n}: {specs[n].path}" for n in ordered)
    return ordered, warnings, described
