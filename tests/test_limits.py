# ruff: noqa: E501  (the corpus below is a table: one hostile input and its message a line)
"""Limits and clean errors: no input can make a run hang, exhaust memory or end in a traceback.

Each case goes through `salesnb report` (or `deliver`) as `make report` runs it and must end
in exit 2 with one message naming the file, key, table or column, within 10 s, with the
last good page untouched. Unit cases below cover what is cheaper to check directly.
"""

from __future__ import annotations

import gzip
import io
import re
import sqlite3
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from salesnb.cli import main
from tests.test_bad_input import BASE, COLS, OK

BIG = "id,c,at,sum,status\n" + "".join(f"{i},a,2026-10-01,10,completed\n" for i in range(1, 80_001))  # ~2.4 MB


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("orders.csv", text)
    return buffer.getvalue()


def _source(files: dict[str, str | bytes], orders: dict, **extra: object) -> dict:
    return {"files": files, "orders": orders, "extra": extra}


SLOW = "a" * 40 + "!"  # (a+)+$ on this takes hours with backtracking
CORPUS = {
    "zip that unpacks past the limit": (_source({"orders.zip": _zip(BIG)}, {"path": "orders.zip", "columns": COLS}, limits={"max_unpacked_mb": 1}),
                                        r"orders: orders.zip unpacks to more than 1 MB \(source.limits.max_unpacked_mb: 1\)"),
    "gzip that unpacks past the limit": (_source({"orders.csv.gz": gzip.compress(BIG.encode())}, {"path": "orders.csv.gz", "columns": COLS}, limits={"max_unpacked_mb": 1}),
                                         r"orders: orders.csv.gz unpacks to more than 1 MB"),
    "more rows than the limit": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS}, limits={"max_rows": 2}),
                                 r"orders: orders.csv has more than 2 rows \(source.limits.max_rows: 2\)"),
    "limit not a number": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS}, limits={"max_rows": "lots"}),
                           r"source.limits"),
    "catastrophic pattern in values": (_source({"orders.csv": OK.replace("cancelled", SLOW)}, {"path": "orders.csv", "columns": COLS, "values": {"status": {"re:(a+)+$": "completed"}}}),
                                       r"orders.status: not one of completed, cancelled.* '" + SLOW),
    "broken pattern in values": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "values": {"status": {"re:(": "completed"}}}),
                                 r"source.tables.orders.values.status.re:\(: '\(' is not a regular expression"),
    "catastrophic pattern in where": (_source({"orders.csv": OK.replace(",a,", f",{SLOW},").replace(",10,", ",-10,")}, {"path": "orders.csv", "columns": COLS, "where": {"c": {"not_matches": "(a+)+$"}}}),
                                      r"orders.amount: negative"),
    "look-around in where": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "where": {"c": {"matches": "(?=a)"}}}),
                             r"where.c.matches: '\(\?=a\)' is not a regular expression .*look-around"),
    "compute with a 400-digit number": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "compute": {"quantity": "sum * 1" + "0" * 400}}),
                                        r"compute.quantity: the number 1000.*\(401 characters\) is beyond"),
    "compute with 100,000 minus signs": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "compute": {"quantity": "-" * 100_000 + "sum"}}),
                                         r"compute.quantity: the expression is 100,003 characters; at most 1,000"),
    "compute nested deep": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "compute": {"quantity": "-" * 200 + "sum"}}),
                            r"compute.quantity: the expression is nested more than 50 levels"),
    "compute with 20,000 terms": (_source({"orders.csv": OK}, {"path": "orders.csv", "columns": COLS, "compute": {"quantity": "+".join(["sum"] * 20_000)}}),
                                  r"compute.quantity: the expression is 79,999 characters"),
}


def _run(tmp_path: Path, base_text: str, *args: str) -> tuple[int, str, float, Path]:
    base = tmp_path / "base.yaml"
    base.write_text(base_text, encoding="utf-8")
    out = tmp_path / "out"
    (out / "2026-10").mkdir(parents=True, exist_ok=True)
    page = out / "2026-10" / "kpi_overview.html"
    page.write_text("the last good page", encoding="utf-8")
    started = time.perf_counter()
    code = main(["report", "--base", str(base), "--out", str(out), "--quiet", "--force", *args])
    return code, "", time.perf_counter() - started, page


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_limits_corpus(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, expected = CORPUS[case]
    for name, content in spec["files"].items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    orders = {**spec["orders"], "path": str(tmp_path / spec["orders"]["path"])}
    text = yaml.safe_dump({**BASE, "source": {"tables": {"orders": orders}, "as_of": "2026-11-01", **spec["extra"]}})
    code, _, seconds, page = _run(tmp_path, text)
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(expected, err), err
    assert "Traceback" not in err
    assert seconds < 10, f"{case} took {seconds:.1f} s"
    assert page.read_text(encoding="utf-8") == "the last good page"


def _laughs(levels: int) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    lines.append(f"analyst_note: *{chr(ord('a') + levels - 1)}")
    return "\n".join(lines) + "\n"


PARAMS = {
    "aliases that expand a billion times": (_laughs(9), r"base.yaml is not valid YAML: the aliases expand to more than 200,000 values"),
    "an alias inside its own anchor": ("analyst_note: &x [a, *x]\n", r"the alias \*x is inside its own anchor &x"),
    "a key given twice": ("currency: USD\nalpha: 0.05\ncurrency: EUR\n", r"key 'currency' is given twice \(lines 1 and 3\)"),
    "nested 1,000 levels": ("analyst_note: " + "[" * 1000 + "]" * 1000 + "\n", r"nested deeper than 64 levels"),
    "a 3 MB params file": ("analyst_note: '" + "x" * 3 * 2**20 + "'\n", r"base.yaml is 3.0 MB; params files are limited to 2.0 MB"),
    "not UTF-8": ("currency: USD\n".encode("utf-16").decode("latin-1"), r"base.yaml"),
}


@pytest.mark.parametrize("case", list(PARAMS), ids=list(PARAMS))
def test_hostile_params_files(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = PARAMS[case]
    code, _, seconds, page = _run(tmp_path, text, "--period", "2026-10")
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(expected, err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3, err
    assert seconds < 10, f"{case} took {seconds:.1f} s"
    assert page.read_text(encoding="utf-8") == "the last good page"


@pytest.mark.parametrize("period", ["9999-W52", "2026-10-01..9999-12-31", "0001-01", "1899-12", "2201"])
def test_periods_outside_the_years_a_report_can_mean(period: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _, page = _run(tmp_path, yaml.safe_dump({**BASE, "source": str(tmp_path)}), "--period", period)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"PERIOD: '{period}' is not a period: years 1900–2200 only" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("to", ["a@b.c\x0bBcc:x@y.z", "a@b.c\x1cx", "a@b.c\u2028Bcc:x@y.z", "a@b.c\u0085x",
                                "a@b.c\r\nBcc: x@y.z", "two@a.b three@c.d"])
def test_recipients_that_could_inject_headers_are_refused(to: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**BASE, "source": str(tmp_path)}), encoding="utf-8")
    code = main(["deliver", "--period", "2026-10", "--to", to, "--base", str(base), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("salesnb deliver: --to: ") and "is not an e-mail address" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("sender", ["r@example.com\r\nBcc: x@y.z", "r@example.com\nX: y", "nobody"])
def test_a_sender_with_line_breaks_is_refused(sender: str) -> None:
    from salesnb.deliver import DeliveryError, smtp_settings

    with pytest.raises(DeliveryError, match=r"^SALESNB_SMTP_FROM: .* is not an e-mail address"):
        smtp_settings({"SALESNB_SMTP_HOST": "mail.example.com", "SALESNB_SMTP_FROM": sender})


# ------------------------------------------------------------------------- databases

def _database(tmp_path: Path) -> str:
    path = tmp_path / "sales.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id TEXT, c TEXT, at TEXT, sum REAL, status TEXT)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                         [(str(i), "a", "2026-10-01", 10.0, "completed") for i in range(1, 6)])
    return f"sqlite:///{path}"


def test_a_database_error_is_one_line(tmp_path: Path) -> None:
    import salesnb

    with pytest.raises(ValueError) as info:
        salesnb.load({"tables": {"orders": {"url": _database(tmp_path), "table": "ordres", "columns": COLS}}},
                     as_of="2026-11-01")
    message = str(info.value)
    assert message.startswith("orders: cannot read database table ordres from sqlite:///")
    assert "no such table: ordres" in message and "\n" not in message


@pytest.mark.parametrize(("where", "options"), [("source.since", {}), ("source.tables.orders.since", {"since": "x"})])
def test_since_is_a_day_never_sql(where: str, options: dict, tmp_path: Path) -> None:
    import salesnb

    source = {"tables": {"orders": {"url": _database(tmp_path), "table": "orders", "columns": COLS, **options}}}
    if where == "source.since":
        source["since"] = "2026-01-01' OR 1=1 --"
    with pytest.raises(ValueError, match=rf"^{where}: .* is not a date like 2024-01-01 \(since: is a day, never SQL\)"):
        salesnb.load(source, as_of="2026-11-01")


def test_a_database_table_beyond_the_row_limit_stops_at_the_limit(tmp_path: Path) -> None:
    import salesnb

    source = {"tables": {"orders": {"url": _database(tmp_path), "table": "orders", "columns": COLS}},
              "limits": {"max_rows": 3}}
    with pytest.raises(ValueError, match=r"orders: database table orders has more than 3 rows \(source.limits.max_rows: 3\)"):
        salesnb.load(source, as_of="2026-11-01")


# ------------------------------------------------------------------------- unit cases

def test_a_zip_within_its_limit_reads_as_before(tmp_path: Path) -> None:
    import salesnb

    (tmp_path / "orders.zip").write_bytes(_zip(OK))
    (tmp_path / "orders.csv.gz").write_bytes(gzip.compress(OK.encode()))
    for name in ("orders.zip", "orders.csv.gz"):
        data = salesnb.load({"tables": {"orders": {"path": str(tmp_path / name), "columns": COLS}},
                             "limits": {"max_unpacked_mb": 1}}, as_of="2026-11-01")
        assert data["orders"]["amount"].tolist() == [10.0, 5.0, 7.0]


def test_regular_expressions_run_in_linear_time() -> None:
    import pandas as pd

    from salesnb.data.mapping import value_map

    cells = pd.Series(["a" * n + "!" for n in range(20, 4000, 40)])
    started = time.perf_counter()
    mapped = value_map(cells, {"re:(a+)+$": "x", "re:^(a|aa)+$": "y"})
    assert time.perf_counter() - started < 2.0
    assert (mapped == cells).all()  # none matches: each ends in "!"


def test_the_secrets_scanner_is_linear_and_masks_whole_tokens() -> None:
    from salesnb.secrets import redact_text, secret_values

    text = "a" * 40_000 + " pg://ann:s3cr3t@db/x " + "b:" * 20_000
    started = time.perf_counter()
    for _ in range(5):
        masked = redact_text(text, {"s3cr3t", "2026"})
    assert time.perf_counter() - started < 2.0
    assert "s3cr3t" not in masked and "pg://ann:•••@db/x" in masked
    # a number-like secret is masked only where it stands as a password, never in dates
    assert redact_text("October 2026, 2026-10-31, pg://u:2026@h/db", {"2026"}) == \
        "October 2026, 2026-10-31, pg://u:•••@h/db"
    assert redact_text("xs3cr3t s3cr3tx s3cr3t.", {"s3cr3t"}) == "xs3cr3t s3cr3tx •••."
    # a %40-encoded password is a secret both ways
    assert {"p%40ss", "p@ss"} <= secret_values({"url": "postgresql://u:p%40ss@h/db"})
    assert redact_text("the password p@ss and p%40ss", {"p%40ss", "p@ss"}) == "the password ••• and •••"


def test_page_text_is_masked_but_charts_are_not() -> None:
    import nbformat

    from salesnb.publish.html import _mask_text

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("October 2026: the key s3cr3tkey"),
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<td>s3cr3tkey</td>", "image/png": "iVBORs3cr3tkey/x"})])])
    _mask_text(nb, frozenset({"2026", "s3cr3tkey"}))
    assert nb.cells[0].source == "October 2026: the key •••"
    assert nb.cells[1].outputs[0]["data"]["text/html"] == "<td>•••</td>"
    assert nb.cells[1].outputs[0]["data"]["image/png"] == "iVBORs3cr3tkey/x"


def test_dotenv_reads_quotes_comments_and_export(tmp_path: Path) -> None:
    from salesnb.secrets import dotenv

    env = tmp_path / ".env"
    env.write_text("# mail\nexport PGPASSWORD = 'a b c'   # db\nSALESNB_SMTP_PASSWORD=\"x#y\" # z\nPLAIN=v # c\n"
                   "DOLLAR='p$HOME'\n", encoding="utf-8")
    assert dotenv(env) == {"PGPASSWORD": "a b c", "SALESNB_SMTP_PASSWORD": "x#y", "PLAIN": "v", "DOLLAR": "p$HOME"}


def test_a_short_or_numeric_secret_is_named_where_it_is_read(tmp_path: Path) -> None:
    from salesnb.publish import plan_jobs

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**BASE, "source": {"folder": str(tmp_path), "database": {"url": "postgresql://u:2026@h/db"}}}),
                    encoding="utf-8")
    said: list[str] = []
    plan_jobs(period="2026-10", base=base, out_dir=tmp_path / "out", say=said.append)
    assert any("masked only where it stands as a password" in s and "number or a date" in s for s in said), said
    assert not any("2026@" in s for s in said)


def test_control_characters_reach_the_workbook_replaced(tmp_path: Path) -> None:
    import json

    import openpyxl

    from salesnb.publish import write_workbook

    sheets = tmp_path / ".sheets"
    sheets.mkdir()
    sheet = {"name": "Reps", "columns": [{"name": "rep\x00", "kind": "text", "format": "@"}],
             "rows": [["Ann\x01Ctrl"], ["Bob"], ["Tab\tok"]]}
    (sheets / "team.json").write_text(json.dumps([sheet]), encoding="utf-8")
    assert write_workbook(tmp_path, ["team"]) == 2
    ws = openpyxl.load_workbook(tmp_path / "kpis.xlsx")["Reps"]
    assert [c.value for c in ws["A"]] == ["rep\ufffd", "Ann\ufffdCtrl", "Bob", "Tab\tok"]


def test_a_workbook_that_fails_costs_neither_index_nor_log(demo_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl.utils.exceptions import IllegalCharacterError

    import salesnb.publish.run as run

    def broken(*_: object) -> int:
        raise IllegalCharacterError("Ann\x01Ctrl cannot be used in worksheets")

    monkeypatch.setattr(run, "write_workbook", broken)
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"source": str(demo_dir), "report": {"notebooks": ["data_health"]}}), encoding="utf-8")
    code = main(["report", "--base", str(base), "--period", "2026-10", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "2026-10: kpis.xlsx not written: Ann" in err and "Traceback" not in err
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "manifest.json").is_file()
    assert list((tmp_path / "out" / "logs").glob("run-*.json"))


def test_rep_file_names_are_safe_short_and_unique_ignoring_case() -> None:
    import pandas as pd

    from salesnb.offers import by_rep, renamed_files

    owners = ["Anna", "anna", "-rm -rf", "Я" * 300, "Ann\x01Ctrl", "..", "Bob Smith"]
    offers = pd.DataFrame({"owner": owners, "customer_id": "c", "rank": 1})
    names = by_rep(offers)
    assert len(names) == len(owners)
    lowered = [n.casefold() for n in names]
    assert len(set(lowered)) == len(lowered)
    from salesnb.present import CSV_NAME, MAX_NAME_BYTES

    for name in names:
        assert CSV_NAME.fullmatch(name) and len(name.split("/")[1].encode()) <= MAX_NAME_BYTES, name
    renamed = dict(renamed_files(offers))
    assert set(renamed) == {"anna", "Я" * 300}  # numbered apart, and shortened
    assert "offers/Bob_Smith.csv" in names and "offers/rm_-rf.csv" in names
