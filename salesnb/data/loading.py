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
          where: {Stage: {not_in: [Prospecting]}, Amount: {">": 0}}  # keep rows (source columns)
          na_values: ["-", "не закрыта"]          # texts that mean empty, in any column
          fill: {region: Unknown}    # a constant for empty cells of a mapped column
          compute: {amount: "Quantity * [Unit price]"}   # arithmetic on source columns
          values: {status: {"re:^C": cancelled}}           # a key "re:…" is a pattern
          deduplicate: first         # first | last on the table's id (default: an error)
          id: row                    # or [col, col]: ids for a file without them
          timezone: Europe/Moscow    # times with a zone are converted to it, then stored naive
          delimiter: whitespace      # space-padded columns; header: false with names: [...]

A source column may map to a list of canonical columns (``Order ID: [order_id,
return_id]``). Every cell is read as text first, so a value such as ``NA`` (a territory)
stays text; only empty cells are missing.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.mapping import compute_column, generated_ids, row_filter, value_map
from salesnb.data.schema import TABLES, Column, Table
from salesnb.data.validation import Problems, validate

__all__ = ["read_source", "TableSpec", "parse_source", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".parquet", ".csv", ".tsv", ".txt", ".xlsx", ".xls")
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".zip")
_SPEC_KEYS = {
    "path", "encoding", "delimiter", "decimal", "thousands", "date_format", "sheet",
    "columns", "values", "defaults", "aggregate_lines", "rollup", "fill_from_order", "where", "na_values",
    "fill", "compute", "deduplicate", "id", "timezone", "header", "names", "invalid_rows", "lookup",
    "url", "table", "query", "since",
}
_LOOKUP_KEYS = {"path", "on", "columns", "aggregate", "sheet"}
ROLLUPS = ("first", "most_common", "sum", "max")
# Characters that CRM exports put between thousands: space, no-break space, narrow
# no-break space, apostrophe (Swiss).
_THOUSANDS_CHARS = (" ", "\u00a0", "\u202f", "'")


@dataclass(frozen=True)
class TableSpec:
    """How to read one table: its file and the mapping onto the canonical columns."""

    table: str
    path: Path
    encoding: str | None = None  # None: detected from the file (UTF-8, cp1251 or Latin-1)
    delimiter: str | None = None  # None: detected from the file's first lines
    decimal: str = "."
    thousands: str | None = None
    date_format: str | Mapping[str, str] | None = None
    sheet: str | int | None = None
    columns: Mapping[str, str | list[str]] | None = None
    values: Mapping[str, Mapping[str, str]] | None = None
    defaults: Mapping[str, Any] | None = None
    aggregate_lines: bool = False
    rollup: Mapping[str, str] | None = None
    fill_from_order: Mapping[str, str] | None = None
    where: Mapping[str, Any] | None = None
    na_values: tuple[str, ...] = ()
    fill: Mapping[str, Any] | None = None
    compute: Mapping[str, str] | None = None
    deduplicate: str | None = None
    id: str | tuple[str, ...] | None = None
    timezone: str = "UTC"
    header: bool = True
    names: tuple[str, ...] | None = None
    invalid_rows: str = "stop"
    lookup: tuple[Mapping[str, Any], ...] = ()
    database: str | None = None  # a SQLAlchemy URL: the table comes from a database
    sql_table: str | None = None  # ... named table (schema.table) ...
    query: str | None = None  # ... or query
    since: str | None = None  # rows of the table's date column from this date (pushed into the SQL)
    max_rows: int = 20_000_000  # source.limits.max_rows
    max_unpacked_bytes: int = 4 * 2**30  # source.limits.max_unpacked_mb: what a .gz or .zip may unpack to

    @property
    def row_word(self) -> str:
        """How validation messages count rows: file lines for text and Excel, rows else."""
        return "row" if self.database or self.path.suffix.lower() == ".parquet" else "line"

    @property
    def label(self) -> str:
        """What messages call the input: the file's name, or the database table or query."""
        if self.database:
            return f"database table {self.sql_table}" if self.sql_table else "the database query"
        return self.path.name


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
    unknown = set(source) - {"folder", "tables", "as_of", "database", "since", "limits"}
    if unknown:
        raise ValueError(f"source: unknown keys {sorted(unknown)}; use folder, tables, as_of, database, since, "
                         f"limits")
    limits = _limits(source.get("limits"))
    database = source.get("database") or {}
    if not isinstance(database, Mapping) or (database and not database.get("url")):
        raise ValueError("source.database: give url: a SQLAlchemy URL such as "
                         "postgresql+psycopg://user:${PGPASSWORD}@host:5432/sales")
    specs = _folder_specs(_resolve(source["folder"], base)) if source.get("folder") else {}
    specs = {n: replace(s, **limits) for n, s in specs.items()}
    for name, options in (source.get("tables") or {}).items():
        if name not in TABLES:
            raise ValueError(f"source.tables: unknown table {name!r}; tables are {', '.join(TABLES)}")
        options = dict(options or {})
        bad = set(options) - _SPEC_KEYS
        if bad:
            raise ValueError(f"source.tables.{name}: unknown options {sorted(bad)}; "
                             f"options are {', '.join(sorted(_SPEC_KEYS))}")
        if "table" in options or "query" in options:
            _database_options(name, options, database, source.get("since"))
            _check_options(name, options)
            specs[name] = TableSpec(name, **options, **limits)
            continue
        if "path" not in options:
            raise ValueError(f"source.tables.{name}: 'path' is missing (or table/query for a database)")
        options["path"] = _resolve(options["path"], base)
        looked = options.get("lookup") or []
        for entry in [looked] if isinstance(looked, Mapping) else looked:
            if isinstance(entry, dict) and "path" in entry:
                entry["path"] = _resolve(entry["path"], base)
                if not entry["path"].is_file():
                    raise ValueError(f"source.tables.{name}.lookup: file {entry['path']} does not exist")
        if not options["path"].is_file():
            raise ValueError(f"source.tables.{name}: file {options['path']} does not exist")
        if options.get("fill_from_order") and name != "returns":
            raise ValueError(f"source.tables.{name}: fill_from_order applies to returns only")
        if options.get("aggregate_lines") and name != "orders":
            raise ValueError(f"source.tables.{name}: aggregate_lines applies to orders only")
        _check_options(name, options)
        specs[name] = TableSpec(name, **options, **limits)
    if not specs:
        raise ValueError("source names no tables: give a folder, or tables with paths")
    as_of = source.get("as_of")
    return specs, (pd.Timestamp(as_of).to_pydatetime() if as_of else None)


LIMIT_KEYS = {"max_rows": "max_rows", "max_unpacked_mb": "max_unpacked_bytes"}


def _limits(given: Any) -> dict[str, Any]:
    """``source.limits`` as TableSpec fields: ``max_rows`` (rows of any one table) and
    ``max_unpacked_mb`` (what a compressed file may unpack to), each a positive whole number.

    >>> _limits({"max_rows": 1000, "max_unpacked_mb": 1})
    {'max_rows': 1000, 'max_unpacked_bytes': 1048576}
    """
    if given is None:
        return {}
    if not isinstance(given, Mapping) or set(given) - set(LIMIT_KEYS):
        raise ValueError(f"source.limits: give {', '.join(LIMIT_KEYS)} (whole numbers), not {given!r}")
    out = {}
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"source.limits.{key}: a positive whole number, not {value!r}")
        out[LIMIT_KEYS[key]] = value * 2**20 if key == "max_unpacked_mb" else value
    return out


def _database_options(name: str, options: dict[str, Any], database: Mapping[str, Any], since: Any) -> None:
    """A table read from a database: its URL (the table's own, or the source's), and the
    table name or the query, turned into TableSpec fields in place."""
    key = f"source.tables.{name}"
    if "table" in options and "query" in options:
        raise ValueError(f"{key}: give table or query, not both")
    url = options.pop("url", None) or database.get("url")
    if not url:
        raise ValueError(f"{key}: a database table needs url, here or under source.database")
    options["database"] = str(url)
    options["sql_table"] = options.pop("table", None)
    options["query"] = options.get("query")
    given = options.get("since", since)
    if given:
        where = f"{key}.since" if "since" in options else "source.since"
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?", str(given)):
                raise ValueError
            pd.Timestamp(str(given))  # 2024-13-01 is not a day
        except ValueError:
            raise ValueError(f"{where}: {str(given)[:80]!r} is not a date like 2024-01-01 (since: "
                             f"is a day, never SQL)") from None
    options["since"] = str(given) if given else None
    options["path"] = Path(f"{name}.sql")  # a name for messages; nothing is read from disk


class _TextConverters(dict):  # type: ignore[type-arg]
    """read_html converters that keep every cell as text (as CSV cells are read)."""

    def __missing__(self, key: object) -> type:
        return str

    def __contains__(self, key: object) -> bool:
        return True


def _check_options(name: str, options: dict[str, Any]) -> None:
    """Option values a person could get wrong, checked before any file is read."""
    key = f"source.tables.{name}"
    if options.get("invalid_rows", "stop") not in ("stop", "drop"):
        raise ValueError(f"{key}.invalid_rows: stop or drop, not {options['invalid_rows']!r}")
    if options.get("deduplicate") not in (None, "first", "last"):
        raise ValueError(f"{key}.deduplicate: first or last, not {options['deduplicate']!r}")
    if options.get("encoding"):
        import codecs

        try:
            codecs.lookup(str(options["encoding"]))
        except LookupError:
            raise ValueError(f"{key}.encoding: {options['encoding']!r} is not an encoding "
                             f"(e.g. utf-8, cp1251, latin-1)") from None
    if "timezone" in options:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(options["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{key}.timezone: {options['timezone']!r} is not a time zone "
                             f"(e.g. UTC, Europe/Moscow)") from None
    for opt in ("where", "fill", "compute"):
        if opt in options and not isinstance(options[opt], Mapping):
            raise ValueError(f"{key}.{opt}: give a mapping, not {options[opt]!r}")
    if "na_values" in options:
        if not isinstance(options["na_values"], list | tuple):
            raise ValueError(f"{key}.na_values: give a list of texts, not {options['na_values']!r}")
        options["na_values"] = tuple(str(v) for v in options["na_values"])
    if "names" in options:
        if not isinstance(options["names"], list | tuple):
            raise ValueError(f"{key}.names: give a list of column names")
        options["names"] = tuple(str(v) for v in options["names"])
    if options.get("header") is False and not options.get("names"):
        raise ValueError(f"{key}: header: false needs names: [...] for the file's columns")
    if isinstance(options.get("id"), list):
        options["id"] = tuple(options["id"])
    if "rollup" in options:
        rollup = options["rollup"]
        if not options.get("aggregate_lines"):
            raise ValueError(f"{key}.rollup: applies with aggregate_lines: true (one row per order line)")
        if not isinstance(rollup, Mapping):
            raise ValueError(f"{key}.rollup: give a mapping {{column: {' | '.join(ROLLUPS)}}}")
        for col, how in rollup.items():
            if how not in ROLLUPS:
                raise ValueError(f"{key}.rollup.{col}: one of {', '.join(ROLLUPS)}, not {how!r}")
    if "lookup" in options:
        entries = options["lookup"]
        entries = [entries] if isinstance(entries, Mapping) else entries
        if not isinstance(entries, list | tuple):
            raise ValueError(f"{key}.lookup: give a list of {{path, on, columns}}")
        for i, entry in enumerate(entries):
            where = f"{key}.lookup[{i}]"
            if not isinstance(entry, Mapping) or not {"path", "on", "columns"} <= set(entry):
                raise ValueError(f"{where}: give path, on ({{source column: column of the other file}}) "
                                 f"and columns ({{other column: canonical column}})")
            if set(entry) - _LOOKUP_KEYS:
                raise ValueError(f"{where}: unknown keys {sorted(set(entry) - _LOOKUP_KEYS)}; "
                                 f"keys are {', '.join(sorted(_LOOKUP_KEYS))}")
            if entry.get("aggregate", "first") not in ("first", "sum"):
                raise ValueError(f"{where}.aggregate: sum or first, not {entry['aggregate']!r}")
            if not isinstance(entry["on"], Mapping) or len(entry["on"]) != 1:
                raise ValueError(f"{where}.on: one pair {{source column: column of the other file}}")
        options["lookup"] = tuple(dict(e) for e in entries)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in (".csv.gz", ".tsv.gz", ".txt.gz") if name.endswith(s)), path.suffix.lower())


def _read_raw(spec: TableSpec) -> pd.DataFrame:
    """The file as it is, every cell text (CSV) or native (Parquet, Excel).

    The index holds the number a person sees: the file line (header = line 1) for CSV and
    Excel, the 1-based row for Parquet.
    """
    if spec.database:
        return _read_database(spec)
    suffix = _suffix(spec.path)
    given = spec
    if suffix in (*_TEXT_SUFFIXES, ".xls") and (spec.encoding is None or spec.delimiter is None):
        spec = _detected(spec, suffix)
    na = ["", *spec.na_values]
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            _check_rows(spec, pq.ParquetFile(spec.path).metadata.num_rows)
            df = pd.read_parquet(spec.path)
            df.index = pd.RangeIndex(1, len(df) + 1)
            return df
        if suffix == ".xls":
            # Bitrix24's "Excel" export is an HTML table saved as .xls
            head = spec.path.read_bytes()[:512].lstrip().lower()
            if not (head.startswith(b"<") or b"<table" in head or b"<html" in head):
                raise ValueError(f"{spec.table}: {spec.path.name} is an old binary Excel file: save it as "
                                 f".xlsx or .csv")
            from io import StringIO

            html = spec.path.read_bytes().decode(spec.encoding or "utf-8", errors="strict")
            df = pd.read_html(StringIO(html), flavor="lxml", keep_default_na=False, na_values=na,
                              converters=_TextConverters())[0]
            df.columns = [str(c) for c in df.columns]
            df = df.astype(object).where(df.notna(), None).map(lambda v: None if v is None else str(v))
        elif suffix == ".xlsx":
            _check_unpacked_zip(spec)
            df = pd.read_excel(spec.path, sheet_name=spec.sheet if spec.sheet is not None else 0,
                               dtype=object, keep_default_na=False, na_values=na)
        elif suffix in _TEXT_SUFFIXES:
            sep = r"\s+" if spec.delimiter == "whitespace" else spec.delimiter
            with _unpacked(spec, suffix) as stream:
                df = pd.read_csv(stream, sep=sep, encoding=spec.encoding, dtype=str,
                                 keep_default_na=False, na_values=na, skipinitialspace=True,
                                 header=0 if spec.header else None,
                                 names=list(spec.names) if spec.names else None, nrows=spec.max_rows + 1)
        else:
            raise ValueError(f"{spec.table}: cannot read {spec.path.name}: "
                             f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    except UnicodeDecodeError as exc:
        seems = detect_encoding(_sample_bytes(spec.path, suffix))
        hint = (f"the file looks like {seems}: set encoding: {seems}, or remove encoding to detect it"
                if seems != spec.encoding else "set encoding, e.g. cp1251 or latin-1")
        raise ValueError(f"source.tables.{spec.table}.encoding: {spec.path.name} is not {spec.encoding} text "
                         f"({exc.reason} at byte {exc.start}); {hint}") from None
    except (pd.errors.ParserError, ValueError) as exc:
        if str(exc).startswith(spec.table):
            raise
        raise ValueError(f"{spec.table}: cannot read {spec.path}: {exc}") from None
    if (suffix in _TEXT_SUFFIXES and given.delimiter is not None and spec.delimiter != "whitespace"
            and len(df.columns) == 1):
        seems = detect_delimiter(_sample_bytes(spec.path, suffix).decode(spec.encoding or "utf-8", errors="replace"))
        if seems != spec.delimiter:
            raise ValueError(f"source.tables.{spec.table}.delimiter: with {spec.delimiter!r} the header of "
                             f"{spec.path.name} reads as one column ({str(df.columns[0])[:80]!r}); the file looks "
                             f"separated by {seems!r}: set delimiter: {seems!r}, or remove delimiter to detect it")
    _check_rows(spec, len(df))
    notes = _header_notes(spec, [str(c) for c in df.columns])
    df.columns = [str(c).strip() for c in df.columns]
    first = 2 if spec.header else 1  # the file line of the first row
    df.index = pd.RangeIndex(first, len(df) + first)
    if suffix in (".csv", ".tsv", ".txt") and spec.delimiter != "whitespace":
        lines = _record_lines(spec, len(df))
        if lines is not None:  # quoted cells with line breaks: the file line a person sees
            df.index = pd.Index(lines)
    df.attrs["notes"] = notes
    return df


class _Bounded(io.RawIOBase):
    """A binary stream that stops with a one-line error once more than ``limit`` bytes have
    been read from it: a 2.6 MB zip that unpacks to gigabytes is stopped while it streams,
    at the limit, not after it filled the memory."""

    def __init__(self, raw: Any, limit: int, message: str) -> None:
        self._raw, self._limit, self._message, self._read = raw, limit, message, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise ValueError(self._message)
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def _unpacked(spec: TableSpec, suffix: str) -> Iterator[Any]:
    """The text source as a binary stream: a ``.gz`` or the one file of a ``.zip`` unpacked
    while read, bounded by ``source.limits.max_unpacked_mb``; a plain file as it is."""
    import gzip
    import zipfile

    mb = spec.max_unpacked_bytes / 2**20
    message = (f"{spec.table}: {spec.path.name} unpacks to more than {mb:,.0f} MB "
               f"(source.limits.max_unpacked_mb: {mb:.0f}); raise the limit if the file is meant to be this large")
    if suffix.endswith(".gz"):
        with gzip.open(spec.path, "rb") as raw, \
                io.BufferedReader(_Bounded(raw, spec.max_unpacked_bytes, message)) as fh:
            yield fh
    elif suffix == ".zip":
        try:
            archive = zipfile.ZipFile(spec.path)
        except zipfile.BadZipFile:
            raise ValueError(f"{spec.table}: {spec.path.name} is not a zip archive") from None
        with archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"{spec.table}: {spec.path.name} holds {len(names)} files "
                                 f"({', '.join(names[:5])}); a zipped source holds one")
            with archive.open(names[0]) as member, \
                    io.BufferedReader(_Bounded(member, spec.max_unpacked_bytes, message)) as fh:
                yield fh
    else:
        with open(spec.path, "rb") as fh:
            yield fh


def _check_unpacked_zip(spec: TableSpec) -> None:
    """An ``.xlsx`` (a zip) whose parts unpack beyond ``source.limits.max_unpacked_mb`` is
    refused before it is opened (zipfile never unpacks a part beyond its stated size)."""
    import zipfile

    try:
        with zipfile.ZipFile(spec.path) as archive:
            size = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile:
        raise ValueError(f"{spec.table}: {spec.path.name} is not an Excel workbook (.xlsx is a zip)") from None
    if size > spec.max_unpacked_bytes:
        mb = spec.max_unpacked_bytes / 2**20
        raise ValueError(f"{spec.table}: {spec.path.name} unpacks to {size / 2**20:,.0f} MB "
                         f"(source.limits.max_unpacked_mb: {mb:.0f}); raise the limit if it is meant to be this large")


def _check_rows(spec: TableSpec, rows: int) -> None:
    if rows > spec.max_rows:
        raise ValueError(f"{spec.table}: {spec.label} has more than {spec.max_rows:,} rows "
                         f"(source.limits.max_rows: {spec.max_rows}); raise the limit, or read it from a "
                         f"database with since:")


def _sample_bytes(path: Path, suffix: str, size: int = 65_536) -> bytes:
    """The first ``size`` bytes of a text source, decompressed (``.gz``, the first file of a ``.zip``)."""
    import gzip
    import zipfile

    try:
        if suffix.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(size)
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if not names:
                    return b""
                with archive.open(names[0]) as fh:
                    return fh.read(size)
        with open(path, "rb") as fh:
            return fh.read(size)
    except (OSError, EOFError, zipfile.BadZipFile):
        return b""  # the reader that follows says what is wrong with the file


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else cp1251 where the text is mostly
    Cyrillic, else Latin-1.

    >>> detect_encoding("Сумма;Дата".encode("utf-8")), detect_encoding("Сумма;Дата".encode("cp1251"))
    ('utf-8-sig', 'cp1251')
    >>> detect_encoding("Café;Prix".encode("latin-1"))
    'latin-1'
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for cut in range(4):  # the sample may end inside a character
        try:
            sample[: len(sample) - cut].decode("utf-8")
            return "utf-8-sig"
        except UnicodeDecodeError:
            continue
    # read as cp1251, Russian words are Cyrillic throughout; Latin-1 accents read as cp1251
    # land one by one inside Latin words ("Café" → "Cafй")
    words = re.findall(r"[^\W\d_]+", sample.decode("cp1251", errors="replace"))
    cyrillic = sum(all(ord(ch) > 127 for ch in w) for w in words if any(ord(ch) > 127 for ch in w))
    mixed = sum(not all(ord(ch) > 127 for ch in w) for w in words if any(ord(ch) > 127 for ch in w))
    return "cp1251" if cyrillic >= mixed else "latin-1"


def detect_delimiter(text: str) -> str:
    """The separator of a text file's first lines (``csv.Sniffer`` over , ; tab |), ``,`` when unsure.

    >>> detect_delimiter('"ID";"Name";\\n"1";"Ann";\\n'), detect_delimiter("a,b\\n1,2\\n")
    (';', ',')
    """
    import csv

    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _detected(spec: TableSpec, suffix: str) -> TableSpec:
    """The spec with the encoding and delimiter that params leave open read from the file."""
    from dataclasses import replace

    sample = _sample_bytes(spec.path, suffix)
    encoding = spec.encoding or detect_encoding(sample)
    delimiter = spec.delimiter
    if delimiter is None:
        delimiter = "\t" if suffix.startswith(".tsv") else detect_delimiter(
            sample.decode(encoding, errors="replace"))
    return replace(spec, encoding=encoding, delimiter=delimiter)


def _read_database(spec: TableSpec) -> pd.DataFrame:
    """The table or query's rows, through SQLAlchemy; ``since`` becomes a WHERE on the
    table's date column, so the database sends only those rows.

    Messages show the URL with its password masked; rows are numbered from 1.
    """
    import sqlalchemy as sa

    from salesnb.secrets import redact_text

    where = redact_text(spec.database or "")
    try:
        engine = sa.create_engine(spec.database or "", pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
        raise ValueError(f"source.tables.{spec.table}.url: {where} is not a database URL SQLAlchemy can use "
                         f"({redact_text(str(exc).splitlines()[0])})") from None
    quote = engine.dialect.identifier_preparer.quote
    if spec.sql_table:
        base = f"SELECT * FROM {'.'.join(quote(part) for part in spec.sql_table.split('.'))}"
    else:
        base = str(spec.query)
    sql, params = base, {}
    if spec.since:
        date_col = TABLES[spec.table].date_column
        exported = next((src for src, dst in (spec.columns or {}).items()
                         if dst == date_col or (isinstance(dst, list) and date_col in dst)), date_col)
        sql = f"SELECT * FROM ({base}) AS salesnb_rows WHERE {quote(str(exported))} >= :since"
        params["since"] = pd.Timestamp(spec.since).to_pydatetime()
    try:
        with engine.connect() as conn:
            chunks = []
            # read in chunks so that a table beyond source.limits.max_rows stops at the limit
            for chunk in pd.read_sql_query(sa.text(sql), conn, params=params, chunksize=100_000):
                chunks.append(chunk)
                _check_rows(spec, sum(map(len, chunks)))
            df = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps a driver's error as DatabaseError; the driver's own text, first line only
        cause = getattr(exc, "orig", None) or exc.__cause__ or exc
        text = str(getattr(cause, "orig", None) or cause).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise ValueError(f"{spec.table}: cannot read {spec.label} from {where}: {redact_text(first)[:300]}") from None
    finally:
        engine.dispose()
    df.columns = [str(c) for c in df.columns]
    df.index = pd.RangeIndex(1, len(df) + 1)
    df.attrs["notes"] = []
    return df


def _header_notes(spec: TableSpec, columns: list[str]) -> list[str]:
    """What was done to the header line: spaces trimmed, duplicate names renamed."""
    notes = []
    trimmed = [c for c in columns if c != c.strip()]
    if trimmed:
        notes.append(f"{spec.table}: header {', '.join(repr(c) for c in trimmed)} matched after trimming "
                     f"spaces ({', '.join(repr(c.strip()) for c in trimmed)})")
    stripped = {c.strip() for c in columns}
    renamed = [c for c in columns if re.fullmatch(r"(.+)\.(\d+)", c.strip())
               and re.fullmatch(r"(.+)\.(\d+)", c.strip()).group(1) in stripped]  # type: ignore[union-attr]
    if renamed:
        notes.append(f"{spec.table}: duplicate headers renamed to {', '.join(repr(c.strip()) for c in renamed)} "
                     f"(the first keeps its name): map the one you mean")
    return notes


def _record_lines(spec: TableSpec, records: int) -> list[int] | None:
    """The physical file line where each record starts, when quoted cells hold line breaks
    (None when every record is one line, or the file cannot be walked)."""
    import csv

    if spec.path.stat().st_size > 200_000_000:
        return None
    try:
        with open(spec.path, encoding=spec.encoding, newline="") as f:
            delimiter = spec.delimiter or ","
            reader = csv.reader(f, delimiter=delimiter if len(delimiter) == 1 else ",")
            starts, previous_end = [], 0
            for i, _ in enumerate(reader):
                if i or not spec.header:
                    starts.append(previous_end + 1)
                previous_end = reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(starts) != records or starts[-1:] == [records + (1 if spec.header else 0)]:
        return None
    return starts


def _prepare(raw: pd.DataFrame, spec: TableSpec, table: Table, notes: list[str]) -> pd.DataFrame:
    """Row filter, computed columns and generated ids, on the source columns."""
    key = f"source.tables.{spec.table}"

    def number(values: pd.Series) -> pd.Series:
        return _to_number(values, spec)

    if spec.where:
        keep = row_filter(raw, spec.where, where_key=f"{key}.where", to_number=number)
        if (~keep).any():
            conditions = "; ".join(f"{c} {cond}" for c, cond in spec.where.items())
            notes.append(f"{spec.table}: {int((~keep).sum()):,} of {len(raw):,} rows left out by where ({conditions})")
        raw = raw[keep]
    extra: dict[str, pd.Series] = {}
    for i, entry in enumerate(spec.lookup):
        extra.update(_lookup(raw, spec, table, entry, f"{key}.lookup[{i}]", number))
    for target, expression in (spec.compute or {}).items():
        if target not in table.column_names:
            raise ValueError(f"{key}.compute: {target!r} is not a column of {spec.table}")
        extra[target] = compute_column(raw, expression, key=f"{key}.compute.{target}", to_number=number)
    if spec.id is not None:
        if not table.key:
            raise ValueError(f"{key}.id: {spec.table} has no id column")
        extra[table.key] = generated_ids(raw, spec.id if isinstance(spec.id, str) else list(spec.id),
                                         key=f"{key}.id")
    if extra:
        # computed columns go in under their canonical names; a source column of that name yields
        raw = raw.drop(columns=[c for c in extra if c in raw.columns and c not in (spec.columns or {})])
        raw = raw.assign(**{f"\x00{c}": v for c, v in extra.items()})
    return raw


def _lookup(raw: pd.DataFrame, spec: TableSpec, table: Table, entry: Mapping[str, Any], key: str,
            number: Any) -> dict[str, pd.Series]:
    """Columns looked up in another file (read with the table's options) by a key column."""
    other_spec = TableSpec(**{**spec.__dict__, "path": Path(entry["path"]), "where": None, "compute": None,
                              "id": None, "lookup": (), "names": None, "header": True,
                              "sheet": entry.get("sheet", spec.sheet)})
    other = _read_raw(other_spec)
    (mine, theirs), = entry["on"].items()
    for col, where in ((mine, "the file"), (theirs, Path(entry["path"]).name)):
        pool = raw.columns if where == "the file" else other.columns
        if col not in pool:
            raise ValueError(f"{key}.on: no column {col!r} in {where} (columns: {', '.join(map(repr, pool))})")
    out: dict[str, pd.Series] = {}
    keys = other[theirs].astype("str").str.strip()
    for column, target in entry["columns"].items():
        if column not in other.columns:
            raise ValueError(f"{key}.columns: no column {column!r} in {Path(entry['path']).name} "
                             f"(columns: {', '.join(map(repr, other.columns))})")
        if target not in table.column_names:
            raise ValueError(f"{key}.columns: {target!r} is not a column of {spec.table}")
        if entry.get("aggregate", "first") == "sum":
            values = number(other[column]).groupby(keys).sum(min_count=1)
        else:
            values = other[column].groupby(keys).first()
        out[target] = raw[mine].astype("str").str.strip().map(values)
    return out


def _map_columns(raw: pd.DataFrame, spec: TableSpec, table: Table) -> pd.DataFrame:
    """Rename source columns to canonical ones; keep only canonical columns."""
    if spec.columns:  # a header written with spaces around it matches without them
        spec = TableSpec(**{**spec.__dict__, "columns": {str(k).strip(): v for k, v in spec.columns.items()}})
    if spec.columns:
        missing = [c for c in spec.columns if c not in raw.columns]
        if missing:
            import difflib

            hints = [f"{m!r} → did you mean {close[0]!r}?" for m in missing
                     if (close := difflib.get_close_matches(m.strip(), list(raw.columns), n=1))]
            raise ValueError(
                f"{spec.table}: the mapping names columns that {spec.label} lacks: "
                f"{', '.join(map(repr, missing))} (columns in the file: "
                f"{', '.join(map(repr, raw.columns))})" + (f"; {'; '.join(hints)}" if hints else "")
            )
    out: dict[str, pd.Series] = {}
    mapping = dict(spec.columns or {})
    mapping.update({c: c[1:] for c in raw.columns if c.startswith("\x00")})  # computed columns
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


_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _to_datetime(values: pd.Series, fmt: str | None, timezone: str = "UTC") -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(timezone).dt.tz_localize(None)
        return values.astype("datetime64[us]")
    if pd.api.types.is_object_dtype(values):
        # Excel cells come as datetime objects next to text: keep the former as they are.
        is_dt = values.map(lambda v: isinstance(v, datetime))
        if is_dt.any():
            parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
            parsed[is_dt] = pd.to_datetime(values[is_dt].tolist())
            rest = ~is_dt & values.notna()
            if rest.any():
                parsed[rest] = _to_datetime(values[rest].astype("str"), fmt, timezone)
            return parsed
    text = values.astype("str").str.strip()
    zoned = text.str.contains(_TZ_SUFFIX, regex=True, na=False) if fmt is None else pd.Series(False, index=text.index)
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if (~zoned).any():
        parsed[~zoned] = pd.to_datetime(text[~zoned], format=fmt or "ISO8601", errors="coerce").astype(
            "datetime64[us]")
    if zoned.any():  # times with a zone ("…Z", "+03:00"): to the mapping's time zone, then naive
        utc = pd.to_datetime(text[zoned], format="ISO8601", errors="coerce", utc=True)
        parsed[zoned] = utc.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
    return parsed


def _convert(df: pd.DataFrame, spec: TableSpec, table: Table, problems: Problems) -> pd.DataFrame:
    """Canonical dtypes; every cell that does not convert is reported, not dropped."""
    out = df.copy()
    for col in [c for c in table.columns if c.name in out.columns]:
        before = out[col.name]
        had_value = before.notna() & (before.astype("str").str.strip() != "")
        vkey = f"source.tables.{spec.table}.values.{col.name}"
        if col.kind == "datetime":
            fmt = _date_format(spec, col.name)
            if spec.values and col.name in spec.values:  # e.g. "не закрыта" → empty
                before = value_map(before, spec.values[col.name], key=vkey).replace("", np.nan)
                had_value = before.notna() & (before.astype("str").str.strip() != "")
            out[col.name] = _to_datetime(before, fmt, spec.timezone)
            bad = had_value & out[col.name].isna()
            if bad.any():
                expected = f"the format {fmt!r}" if fmt else "ISO form like 2026-10-31 or 2026-10-31 14:05"
                hint = "" if fmt else "; set date_format in the mapping, e.g. '%d.%m.%Y'"
                problems.add(spec.table, col.name, f"not dates in {expected}{hint}",
                             before[bad], spec.row_word)
        elif col.kind in ("amount", "number"):
            if spec.values and col.name in spec.values:
                before = value_map(before, spec.values[col.name], key=vkey).replace("", np.nan)
                had_value = before.notna() & (before.astype("str").str.strip() != "")
            out[col.name] = _to_number(before, spec)
            inf = out[col.name].isin([np.inf, -np.inf])
            if inf.any():
                problems.add(spec.table, col.name, "not finite numbers (inf)", before[inf], spec.row_word)
                out.loc[inf, col.name] = np.nan
            bad = had_value & out[col.name].isna()
            if bad.any():
                hint = f" (decimal separator {spec.decimal!r}; set decimal in the mapping)"
                problems.add(spec.table, col.name, f"not numbers{hint}", before[bad],
                             spec.row_word)
        else:
            out[col.name] = _to_text(before)
            if spec.values and col.name in spec.values:
                out[col.name] = value_map(out[col.name], spec.values[col.name], key=vkey)
    return out


def _aggregate_lines(df: pd.DataFrame, spec: TableSpec, problems: Problems) -> pd.DataFrame:
    """Order lines → orders: amounts, quantities and margins summed, a product that differs
    between lines as ``(several)``, every other column as ``rollup`` says.

    A column whose lines differ within an order and that ``rollup`` does not name is reported
    (taking one line's value silently would be a guess); so is an order whose lines name
    different customers (it cannot be one check).
    """
    if "order_id" not in df.columns:
        return df
    lines = df.assign(_line=df.index)
    rollup = dict(spec.rollup or {})
    groups = lines.groupby("order_id", sort=False, dropna=False)
    sums = [c for c in ("amount", "quantity", "margin") if c in lines.columns]
    for col in [c for c in lines.columns if c not in (*sums, "order_id", "product", "_line")]:
        if col in rollup:
            continue
        n_values = groups[col].transform("nunique")
        differ = lines[n_values > 1]
        if not len(differ):
            continue
        orders = ", ".join(map(repr, differ["order_id"].unique()[:5]))
        if col == "customer_id":
            problems.add(spec.table, col, f"order lines of one order name several customers (order_id {orders})",
                         differ[col], spec.row_word)
        else:
            problems.add(spec.table, col,
                         f"differs between the lines of one order (order_id {orders}); say how it rolls up "
                         f"under source.tables.{spec.table}.rollup: {{{col}: {' | '.join(ROLLUPS)}}}",
                         differ[col], spec.row_word)
    agg: dict[str, Any] = {c: "first" for c in lines.columns if c not in sums and c not in ("order_id", "_line")}
    if "product" in lines.columns and "product" not in rollup:  # not the first line's product for the order
        agg["product"] = lambda s: s.iloc[0] if s.nunique(dropna=True) <= 1 else "(several)"
    agg.update({c: lambda s: s.sum(min_count=1) for c in sums})
    for col, how in rollup.items():
        if col not in lines.columns:
            continue
        if how == "most_common":  # ties: the value of the earliest line
            agg[col] = lambda s: s.mode(dropna=True).iloc[0] if s.notna().any() else s.iloc[0]
        elif how == "sum":
            agg[col] = lambda s: s.sum(min_count=1)
        else:
            agg[col] = how
    agg["_line"] = "min"
    orders = groups.agg(agg).reset_index()
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
    warnings_found: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    # orders first: returns may take columns from them
    for name in sorted(specs, key=lambda n: (n != "orders", list(TABLES).index(n))):
        spec, table = specs[name], TABLES[name]
        raw = _read_raw(spec)
        warnings_found += raw.attrs.pop("notes", [])
        raw = _prepare(raw, spec, table, warnings_found)
        df = _map_columns(raw, spec, table)
        for col, value in (spec.fill or {}).items():
            if col not in df.columns:
                raise ValueError(f"source.tables.{name}.fill: {col!r} is not a mapped column "
                                 f"(mapped: {', '.join(df.columns)})")
            empty = df[col].isna() | (df[col].astype("str").str.strip() == "")
            df[col] = df[col].astype(object).where(~empty, value)
        missing = [c for c in table.required if c not in df.columns
                   and not (spec.fill_from_order and c in spec.fill_from_order)]
        for col in missing:
            problems.missing_column(name, col, list(df.columns), spec.label)
        df = _convert(df, spec, table, problems)
        if spec.deduplicate and table.key and table.key in df.columns:
            dup = df.duplicated(table.key, keep=spec.deduplicate)
            if dup.any():
                warnings_found.append(f"{name}: {int(dup.sum())} duplicate rows of one {table.key} left out "
                                      f"(deduplicate: {spec.deduplicate})")
                df = df[~dup]
        if spec.aggregate_lines:
            if {"order_id", "product"} <= set(df.columns) and "order_lines" not in specs:
                # the lines stay as the order_lines table: by-product figures come from them
                tables["order_lines"] = df[[c for c in ("order_id", "product", "quantity", "amount")
                                            if c in df.columns]].copy()
            df = _aggregate_lines(df, spec, problems)
        if name == "returns":
            df = _fill_from_order(df, tables.get("orders"), spec)
        tables[name] = df
    cutoff = pd.Timestamp(as_of or source_as_of or datetime.now())
    row_words = {n: s.row_word for n, s in specs.items()}
    if "order_lines" in tables and "order_lines" not in specs:
        row_words["order_lines"] = specs["orders"].row_word
    for _ in range(3):  # dropping rows of one table can orphan rows of another: check again
        found = list(validate(tables, row_words, problems, as_of=cutoff, funnel_stages=funnel_stages))
        # order lines built by aggregate_lines come from the orders' file and follow its rules
        rules = {p.table: specs.get(p.table, specs.get("orders")) for p in problems.items}
        droppable = [p for p in problems.items
                     if p.all_rows and (rule := rules[p.table]) is not None and rule.invalid_rows == "drop"]
        if not droppable or len(droppable) < len(problems.items):
            break  # nothing to leave out, or problems that stop the load anyway: report them all
        for problem in droppable:
            df = tables[problem.table]
            tables[problem.table] = df.drop(index=[r for r in problem.all_rows if r in df.index])
            warnings_found.append(f"left out (invalid_rows: drop): {problem}")
        problems = Problems()
    warnings = warnings_found + found
    if "order_lines" in tables and "order_lines" not in specs:  # lines that aggregate_lines kept
        from dataclasses import replace

        made = specs["orders"]
        problems.items = [
            replace(p, message=f"{p.message} (the lines of {made.label}, kept by aggregate_lines: fix them under "
                               f"source.tables.orders — e.g. fill: {{{p.column}: …}} — or leave them out "
                               f"with invalid_rows: drop)")
            if p.table == "order_lines" else p for p in problems.items]
    problems.raise_if_any()
    ordered = {}
    for name in TABLES:
        if name in tables:
            df = tables[name]
            cols: list[Column] = [c for c in TABLES[name].columns if c.name in df.columns]
            ordered[name] = df[[c.name for c in cols]].astype(
                {c.name: c.dtype for c in cols}).reset_index(drop=True)
    def shown(spec: TableSpec) -> str:
        if spec.database:
            from salesnb.secrets import redact_text

            return f"{spec.label} in {redact_text(spec.database)}"
        return str(spec.path)

    described = ", ".join(f"{n}: {shown(specs[n if n in specs else 'orders'])}" for n in ordered)
    return ordered, warnings, described
