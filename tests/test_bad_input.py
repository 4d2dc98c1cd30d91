# ruff: noqa: E501  (the corpus below is a table: one broken input and its message a line)
"""Bad input is stopped before any notebook runs: every problem on the console at once,
exit 2, nothing published touched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from salesnb.cli import main

BASE = {"currency": "USD", "fiscal_year_start": 1, "holidays": "", "gross_margin": 0.0,
        "funnel_stages": ["qualified", "meeting", "proposal", "negotiation", "won"], "min_events": 20,
        "alpha": 0.05, "custom_kpis": {}, "initiatives": "", "attribution_days": 180, "feedback_themes": {},
        "analyst_note": "", "report": {"notebooks": ["data_health", "kpi_overview"], "periods": ["2026-10"]}}


def test_every_problem_before_any_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("Номер;Клиент;Дата;Сумма\n1;a;01.10.2026;10,5\n2;b;32.10.2026;7\n3;c;03.10.2026;-4\n"
                      "4;d;04.10.2026;abc\n", encoding="utf-8")
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**BASE, "source": {"tables": {"orders": {
        "path": str(export), "delimiter": ";", "decimal": ",", "date_format": "%d.%m.%Y",
        "columns": {"Номер": "order_id", "Клиент": "customer_id", "Дата": "ordered_at", "Сумма": "amount"},
        "defaults": {"status": "completed"}}}}}, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    (out / "2026-10").mkdir(parents=True)
    published = out / "2026-10" / "kpi_overview.html"
    published.write_text("the last good page", encoding="utf-8")
    code = main(["report", "--base", str(base), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "orders.ordered_at: not dates" in err and "line 3" in err and "'32.10.2026'" in err
    assert "orders.amount: not numbers" in err and "'abc'" in err
    assert "orders.amount: negative" in err and "line 4" in err
    assert "Traceback" not in err
    assert published.read_text(encoding="utf-8") == "the last good page"  # nothing touched
    assert not (out / "2026-10" / "data_health.html").exists()


OK = "id,c,at,sum,status\n1,a,2026-10-01,10,completed\n2,b,2026-10-02,5,cancelled\n3,c,2026-10-03,7,completed\n"
COLS = {"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount", "status": "status"}


def _orders(text: str = OK, **options: object) -> dict:
    return {"files": {"orders.csv": text}, "tables": {"orders": {"path": "orders.csv", "columns": COLS, **options}}}


# (case, expected message): each names the table, column and file line with the value, or the params key
CORPUS = {
    "negative amount": (_orders(OK.replace(",10,", ",-10,")), r"orders.amount: negative .* line 2: -10"),
    "amount not a number": (_orders(OK.replace(",10,", ",ten,")), r"orders.amount: not numbers .* line 2: 'ten'"),
    "infinite amount": (_orders(OK.replace(",10,", ",inf,")), r"orders.amount: not finite .* line 2"),
    "date not a date": (_orders(OK.replace("2026-10-02", "2nd Oct")), r"orders.ordered_at: not dates .* line 3"),
    "date in the future": (_orders(OK.replace("2026-10-03", "2099-01-01")), r"orders.ordered_at: in the future .* line 4"),
    "mixed date formats": (_orders(OK.replace("2026-10-03", "03.10.2026")), r"orders.ordered_at: not dates .* '03.10.2026'"),
    "empty id": (_orders(OK.replace("2,b", ",b")), r"orders.order_id: empty in a required column .* line 3"),
    "duplicate id": (_orders(OK.replace("3,c", "1,c")), r"orders.order_id: duplicate ids .* line"),
    "unknown status": (_orders(OK.replace("cancelled", "refunded")), r"orders.status: not one of completed, cancelled"),
    "required column missing": (_orders(OK, columns={k: v for k, v in COLS.items() if k != "sum"}),
                                r"orders.amount: required column is missing"),
    "mapped column missing": (_orders(OK, columns={**COLS, "summ": "quantity"}), r"lacks: 'summ'.*did you mean 'sum'"),
    "file missing": ({"files": {}, "tables": {"orders": {"path": "nowhere.csv"}}}, r"orders: file .*nowhere.csv does not exist"),
    "unknown table": ({"files": {"orders.csv": OK}, "tables": {"order": {"path": "orders.csv"}}},
                      r"base.yaml: source.tables: 'order' is not a table \(did you mean 'orders'\?\)"),
    "unknown option": (_orders(OK, encodng="cp1251"), r"base.yaml: source.tables.orders.encodng: unknown key \(did you mean 'encoding'\?\)"),
    "unknown encoding": (_orders(OK, encoding="klingon"), r"source.tables.orders.encoding: 'klingon' is not an encoding"),
    "wrong encoding": ({"files": {"orders.csv": "id,c,at,sum,status\n1,Ёж,2026-10-01,10,completed\n".encode("cp1251")},
                        "tables": {"orders": {"path": "orders.csv", "columns": COLS, "encoding": "utf-8"}}},
                       r"orders.encoding: orders.csv is not utf-8 text .* looks like cp1251"),
    "old binary xls": ({"files": {"orders.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64},
                        "tables": {"orders": {"path": "orders.xls"}}}, r"orders: orders.xls is an old binary Excel file"),
    "aggregate_lines on deals": ({"files": {"orders.csv": OK}, "tables": {"deals": {"path": "orders.csv", "aggregate_lines": True}}},
                                 r"source.tables.deals: aggregate_lines applies to orders only"),
    "where unknown column": (_orders(OK, where={"Stage": {"in": ["x"]}}), r"where: no column 'Stage'"),
    "where unknown condition": (_orders(OK, where={"sum": {"between": [1, 2]}}), r"where.sum.between: unknown condition"),
    "where not a number": (_orders(OK, where={"sum": {">": "lots"}}), r"where.sum.>: 'lots' is not a number"),
    "where bad pattern": (_orders(OK, where={"id": {"matches": "("}}), r"where.id.matches: '\(' is not a regular expression"),
    "compute syntax": (_orders(OK, compute={"quantity": "sum *"}), r"compute.quantity: 'sum \*' is not arithmetic"),
    "compute code": (_orders(OK, compute={"quantity": "__import__('os').getcwd()"}), r"compute.quantity: .*only"),
    "compute target": (_orders(OK, compute={"colour": "sum"}), r"compute: 'colour' is not a column of orders"),
    "deduplicate value": (_orders(OK, deduplicate="middle"), r"source.tables.orders.deduplicate: input should be 'first' or 'last', not 'middle'"),
    "header without names": (_orders(OK, header=False), r"header: false needs names"),
    "fill unmapped": (_orders(OK, fill={"region": "X"}), r"fill: 'region' is not a mapped column"),
    "bad time zone": (_orders(OK, timezone="Mars/Olympus"), r"timezone: 'Mars/Olympus' is not a time zone"),
    "invalid_rows value": (_orders(OK, invalid_rows="skip"), r"source.tables.orders.invalid_rows: input should be 'stop' or 'drop', not 'skip'"),
    "id columns missing": (_orders(OK, id=["Nope"]), r"id: give 'row' or a list of the file's columns; missing: \['Nope'\]"),
    "lookup file missing": (_orders(OK, lookup=[{"path": "teams.csv", "on": {"c": "c"}, "columns": {"r": "region"}}]),
                            r"lookup: file .*teams.csv does not exist"),
    "lookup incomplete": (_orders(OK, lookup=[{"path": "orders.csv"}]), r"lookup\[0\].on: missing: this key is required here\n.*lookup\[0\].columns: missing"),
    "unknown source key": ({"files": {"orders.csv": OK}, "tables": {"orders": {"path": "orders.csv"}}, "extra": {"folders": "x"}},
                           r"source.folders: unknown key \(did you mean 'folder'\?\)"),
    "return of an unknown order": ({"files": {"orders.csv": OK, "returns.csv":
                                              "return_id,order_id,returned_at,amount,reason\nR1,9,2026-10-05,3,broken\n"},
                                    "tables": {"orders": {"path": "orders.csv", "columns": COLS},
                                               "returns": {"path": "returns.csv"}}},
                                   r"returns.order_id: not found in orders.order_id .* line 2: '9'"),
    "target period not a period": ({"files": {"orders.csv": OK, "targets.csv": "period,kpi,value\n2026-13,revenue,100\n"},
                                    "tables": {"orders": {"path": "orders.csv", "columns": COLS},
                                               "targets": {"path": "targets.csv"}}},
                                   r"targets.period: not a period .* line 2: '2026-13'"),
}


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_bad_input_corpus(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, expected = CORPUS[case]
    for name, content in spec["files"].items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    tables = {t: {**o, "path": str(tmp_path / o["path"])} for t, o in spec["tables"].items()}
    for options in tables.values():
        for entry in options.get("lookup", []):
            if "path" in entry:
                entry["path"] = str(tmp_path / entry["path"])
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**BASE, "source": {"tables": tables, "as_of": "2026-11-01",
                                                       **spec.get("extra", {})}}), encoding="utf-8")
    out = tmp_path / "out"
    (out / "2026-10").mkdir(parents=True)
    page = out / "2026-10" / "kpi_overview.html"
    page.write_text("the last good page", encoding="utf-8")
    code = main(["report", "--base", str(base), "--out", str(out), "--quiet", "--force"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(expected, err), err
    assert "Traceback" not in err
    assert page.read_text(encoding="utf-8") == "the last good page"
