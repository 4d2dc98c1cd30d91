"""The params schema: every key of ``params/*.yaml`` typed and documented, checked at once.

``salesnb report`` checks ``base.yaml`` and every period file against :class:`ParamsFile`
before anything runs. Unknown keys are rejected with the nearest known one
(``encodng`` → ``encoding``); every message names the file and the key path, and all
problems are listed together.

The run record shows only the keys that describe the report (:func:`record_params`),
secrets masked (see :mod:`salesnb.secrets`).

>>> problems = check_params({"fiscal_year_start": "abc", "encodng": "utf-8"}, "params/base.yaml")
>>> for p in problems: print(p)
params/base.yaml: fiscal_year_start: an integer, not 'abc'
params/base.yaml: encodng: unknown key (did you mean 'encoding'? it belongs under source.tables.<table>)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from salesnb.secrets import redact, redact_text, secret_values

__all__ = ["ParamsFile", "check_params", "check_references", "record_params", "RECORD_KEYS"]


class _Strict(BaseModel):
    # strict: a YAML text is not silently turned into a number (``min_events: twenty``)
    model_config = ConfigDict(extra="forbid", strict=True)


Columns = dict[str, str | list[str]]


class Lookup(_Strict):
    """Columns joined in from another file of the same export."""

    path: str = Field(description="the other file")
    on: dict[str, str] = Field(description="this file's column: the other file's column")
    columns: Columns = Field(description="the other file's column: canonical column")
    aggregate: Literal["first", "sum"] = "first"
    sheet: str | int | None = Field(None, description="the other workbook's sheet (default: the table's)")


class TableOptions(_Strict):
    """How one export file maps onto a canonical table (see README, "Your own data")."""

    path: str | None = Field(None, description="the export file (.csv, .tsv, .xlsx, .xls, .parquet, .gz, .zip)")
    url: str | None = Field(None, description="a database: SQLAlchemy URL (default source.database.url)")
    table: str | None = Field(None, description="a database table (schema.table) to read")
    query: str | None = Field(None, description="a database query to read (instead of table)")
    since: date | str | None = Field(None, description="database rows of the table's date column from this day")
    encoding: str | None = Field(None, description="text encoding, e.g. utf-8, cp1251")
    delimiter: str | None = Field(None, description="field separator of a text file")
    decimal: str | None = Field(None, description="decimal mark, '.' or ','")
    thousands: str | None = Field(None, description="thousands separator in numbers")
    date_format: str | dict[str, str] | None = Field(None, description="strptime format(s) of dates")
    sheet: str | int | None = Field(None, description="the workbook sheet")
    columns: Columns | None = Field(None, description="export column: canonical column(s)")
    values: dict[str, dict[str, Any]] | None = Field(None, description="column: {export value: value}")
    defaults: dict[str, Any] | None = Field(None, description="canonical column: value for every row")
    aggregate_lines: bool = Field(False, description="orders only: one row per line, summed per order")
    rollup: dict[str, Literal["first", "most_common", "sum", "max"]] | None = Field(
        None, description="aggregate_lines: how a column that differs between an order's lines rolls up")
    fill_from_order: dict[str, str] | None = Field(None, description="returns only: column: order column")
    where: dict[str, Any] | None = Field(None, description="keep only the rows matching these conditions")
    na_values: list[str] | None = Field(None, description="texts that mean missing")
    fill: dict[str, Any] | None = Field(None, description="column: value for missing cells")
    compute: dict[str, str] | None = Field(None, description="column: arithmetic on columns")
    deduplicate: Literal["first", "last"] | None = Field(None, description="keep one row per id")
    id: str | list[str] | None = Field(None, description="'row', or the columns that make an id")
    timezone: str | None = Field(None, description="time zone of the export's times")
    header: bool | int | None = Field(None, description="false: the file has no header row")
    names: list[str] | None = Field(None, description="column names of a file without header")
    invalid_rows: Literal["stop", "drop"] = Field("stop", description="drop: skip rows that fail checks")
    lookup: Lookup | list[Lookup] | None = None


class Database(_Strict):
    """Where database tables come from (credentials as ${NAME}, from the environment or .env)."""

    url: str = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg://user:${PGPASSWORD}@host/db")


class Limits(_Strict):
    """Bounds on the work one source may ask for; each stops the run with one message."""

    max_rows: PositiveInt = Field(20_000_000, description="rows of any one table (files, sheets, database tables)")
    max_unpacked_mb: PositiveInt = Field(4096, description="what a .gz or .zip source (or an .xlsx) may unpack to")


class Source(_Strict):
    """A mapping of a CRM's exports (or database tables) onto the canonical tables."""

    folder: str | None = Field(None, description="a folder of canonical files")
    database: Database | None = Field(None, description="the database of tables with table: or query:")
    since: date | str | None = Field(None, description="database rows from this day on (pushed into the SQL)")
    tables: dict[str, TableOptions] | None = Field(None, description="table: export options")
    as_of: date | str | None = Field(None, description="the export's date (open deals age to it)")
    limits: Limits | None = Field(None, description="bounds on rows and unpacked size (defaults: 20M rows, 4 GB)")

    @field_validator("tables", mode="before")
    @classmethod
    def _table_names(cls, value: Any) -> Any:
        from salesnb.data.schema import TABLES

        if isinstance(value, Mapping):
            for name in value:
                if name not in TABLES:
                    near = difflib.get_close_matches(str(name), TABLES, n=1)
                    raise ValueError(f"{name!r} is not a table" + (f" (did you mean {near[0]!r}?)" if near else "")
                                     + f"; tables are {', '.join(TABLES)}")
        return value


class Report(_Strict):
    """``report:`` in the base file, read by ``make report`` only."""

    notebooks: list[str] | None = Field(None, description="the pages, in this order")
    periods: list[Annotated[str, Field(strict=False)] | int] | None = Field(
        None, description="periods to publish (default: the params/<period>.yaml files)")
    out: str | None = Field(None, description="output folder (default outputs/)")


class ParamsFile(_Strict):
    """The keys a params file may hold (``base.yaml`` or ``<period>.yaml``)."""

    source: str | Source | None = Field(None, description="data: a folder, or a mapping of exports",
                                        json_schema_extra={"record": True})
    currency: str | None = Field(None, max_length=200, description="currency of every amount",
                                 json_schema_extra={"record": True})
    language: Literal["en", "ru"] | None = Field(None, description="language of the pages and the workbook: en or ru",
                                                 json_schema_extra={"record": True})
    fiscal_year_start: int | None = Field(None, ge=1, le=12, description="month the fiscal year starts",
                                          json_schema_extra={"record": True})
    holidays: str | None = Field(None, description="public holidays: a country code (RU, US …) or ''",
                                 json_schema_extra={"record": True})
    # at most aggregate.MAX_FUNNEL_STAGES (not imported: reading params stays light; a test keeps them equal)
    funnel_stages: list[str] | None = Field(None, min_length=2, max_length=30,
                                            description="the deal stages, in order",
                                            json_schema_extra={"record": True})
    analyst_note: str | None = Field(None, description="a note shown under every page's title")
    min_events: int | None = Field(None, ge=1, description="fewer events: no verdict on a change",
                                   json_schema_extra={"record": True})
    alpha: float | None = Field(None, gt=0, le=0.5, description="false-discovery rate of changes",
                                json_schema_extra={"record": True})
    initiatives: str | list[dict[str, Any]] | None = Field(
        None, description="the PDCA register: a YAML file, or the list itself", json_schema_extra={"record": True})
    custom_kpis: dict[str, dict[str, Any]] | None = Field(None, description="KPIs of your own (salesnb/kpis.py)")
    attribution_days: int | None = Field(None, ge=0, description="days of revenue counted for ROMI",
                                         json_schema_extra={"record": True})
    gross_margin: float | None = Field(None, ge=0, lt=1, description="share of revenue kept as margin",
                                       json_schema_extra={"record": True})
    feedback_themes: dict[str, list[str]] | None = Field(None, description="theme: words and stems")
    engine: Literal["auto", "pandas", "duckdb", "spark"] | None = Field(
        None, description="where the analyses run: pandas, duckdb or spark", json_schema_extra={"record": True})
    spark_master: str | None = Field(None, description="Spark: local[2], spark://host:7077, yarn or sc://host:15002",
                                     json_schema_extra={"record": True})
    top_segments: int | None = Field(None, ge=1, le=200, description="segments shown per breakdown; the rest "
                                     "pooled as all others (the workbook lists every one)",
                                     json_schema_extra={"record": True})
    calendar: Literal["days", "months"] | None = Field(
        None, description="days: the earlier period put on this period's calendar; months: period totals as they are",
        json_schema_extra={"record": True})
    data_complete_through: date | str | None = Field(
        None, description="the data is complete through this day (else: through its last event)",
        json_schema_extra={"record": True})
    report: Report | None = Field(None, description="publisher settings (base file only)")

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value:
            import holidays

            known = holidays.list_supported_countries()
            if value.upper() not in known:
                near = difflib.get_close_matches(value.upper(), list(known), n=1)
                raise ValueError(f"{value!r} is not a country code of the holidays package"
                                 + (f" (did you mean {near[0]!r}?)" if near else " (e.g. RU, US, DE)"))
        return value

    @field_validator("funnel_stages")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a stage is listed twice")
        return value


RECORD_KEYS = ("period", *(name for name, f in ParamsFile.model_fields.items()
                           if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("record")))

_MODELS: dict[str, type[BaseModel]] = {"": ParamsFile, "source": Source, "report": Report, "database": Database,
                                       "source.tables.*": TableOptions, "lookup": Lookup}


def _known_keys() -> dict[str, str]:
    """Every key of the schema and where it belongs, for suggestions."""
    out: dict[str, str] = {}
    for where, model in _MODELS.items():
        for name in model.model_fields:
            out.setdefault(name, where)
    return out


_BRANCH = re.compile(r"^(str|int|bool|float|date|none|list\[.*\]|dict\[.*\]|function-.*|"
                     r"ParamsFile|Source|Report|TableOptions|Lookup|Database)$")
_KINDS = {"string_type": "a text", "model_type": "a mapping", "dict_type": "a mapping",
          "list_type": "a list", "int_type": "an integer", "int_parsing": "an integer",
          "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
          "date_type": "a date", "date_from_datetime_parsing": "a date"}


def _path(loc: tuple[Any, ...]) -> str:
    """``source.tables.orders.encoding`` from pydantic's location (union branches dropped)."""
    text = ""
    for p in loc:
        if isinstance(p, str) and _BRANCH.match(p):
            continue
        if p == "[key]":  # the key of a mapping itself was wrong: the path already names it
            continue
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _message(error: Mapping[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        known = _known_keys()
        near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
        if not near:
            return "unknown key"
        where = known[near[0]]
        here = _path(error["loc"][:-1])
        at = "" if where in ("", "lookup") or here.startswith(where.split(".")[0]) else (
            f" it belongs under {where.replace('*', '<table>')}")
        return f"unknown key (did you mean {near[0]!r}?{at})"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "missing":
        return "missing: this key is required here"
    if kind in _KINDS:
        return f"{_KINDS[kind]}, not {_shown(value)}"
    if kind == "literal_error" and error["loc"][-1] == "[key]":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown name {value!r}; one of {expected}"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}" + (
        f", not {_shown(value)}" if value is not None else "")


def check_params(content: Mapping[str, Any], where: str, *, period_file: bool = False) -> list[str]:
    """Every problem of one params file's content, as ``file: key.path: message`` lines.

    A ``period`` key is refused (the period comes from the file's name or ``PERIOD=``);
    a period file may not hold ``report``.
    """
    content = dict(content)
    problems = []
    if "period" in content:
        content.pop("period")
        problems.append(f"{where}: period: the period comes from the file's name "
                        f"(params/<period>.yaml) or from PERIOD=; remove this key")
    if period_file and "report" in content:
        content.pop("report")
        problems.append(f"{where}: report: publisher settings belong in the base file only")
    try:
        ParamsFile.model_validate(content)
    except ValidationError as exc:
        errors = [(_path(e["loc"]), e) for e in exc.errors()]
        lines: dict[str, list[str]] = {}
        for path, err in errors:
            # a union (a text or a mapping) reports each branch: where one branch got further,
            # its problems are the ones to show; where none did, say what the key may be
            deeper = any(p.startswith((path + ".", path + "[")) for p, _ in errors)
            if (err["type"] in _KINDS or err["type"] == "model_attributes_type") and deeper:
                continue
            lines.setdefault(path, []).append(_message(err))
        order = {str(k): i for i, k in enumerate(content)}  # in the order the file writes them
        for path, messages in sorted(lines.items(), key=lambda kv: order.get(re.split(r"[.\[]", kv[0])[0], 0)):
            kinds = [m.split(", not ")[0] for m in messages if ", not " in m]
            if len(messages) > 1 and len(kinds) == len(messages):
                messages = [" or ".join(dict.fromkeys(kinds)) + ", not " + messages[0].split(", not ", 1)[1]]
            problems += [f"{where}: {path}: {m}" for m in dict.fromkeys(messages)]
    secrets = secret_values(content)
    return [redact_text(p, secrets) for p in problems]  # a message never quotes a password


def check_references(params: Mapping[str, Any], *, root: str | Path) -> list[str]:
    """Problems of what params define for the pages: the custom KPIs and the PDCA register
    (checked as the pages will read them, before any runs)."""
    from salesnb.initiatives import register_from
    from salesnb.kpis import registry

    custom = params.get("custom_kpis") or {}
    try:
        registry(custom)
    except ValueError as exc:
        return [f"params: {exc}"]
    register = params.get("initiatives")
    try:
        if register:
            register_from(register, root=root, custom_kpis=custom)
    except ValueError as exc:
        return [f"PDCA register: {exc}"]
    return []


def record_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keys a page's run record shows: the declared ones that describe the report,
    secrets masked (a source mapping shows its folder and files only).

    >>> record_params({"period": "2026-10", "currency": "RUB", "db_token": "x", "analyst_note": "hi"})
    {'period': '2026-10', 'currency': 'RUB'}
    """
    out: dict[str, Any] = {}
    for key in RECORD_KEYS:
        if key not in params:
            continue
        value = params[key]
        if key == "source" and isinstance(value, Mapping):
            value = {k: v for k, v in {
                "folder": value.get("folder"),
                "database": (value.get("database") or {}).get("url") if isinstance(value.get("database"), Mapping)
                else None,
                "tables": {t: o.get("path") or (f"table {o['table']}" if o.get("table") else "a query")
                           for t, o in (value.get("tables") or {}).items() if isinstance(o, Mapping)} or None,
                "as_of": value.get("as_of")}.items() if v}
        if key == "initiatives" and isinstance(value, list):
            value = f"{len(value)} initiatives listed in params"
        out[key] = redact(value, key)
    return out
