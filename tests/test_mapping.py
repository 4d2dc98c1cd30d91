"""Mapping options of a source table: row filters, computed columns, patterns, fills, ids,
de-duplication, time zones and file shapes — each against a hand-written export."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb.data.mapping import compute_column


def _load(tmp_path: Path, text: str, name: str = "orders.csv", **options: object) -> salesnb.SalesData:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("export.csv", text)
    else:
        path.write_text(text, encoding="utf-8")
    spec = {"path": str(path), **options}
    return salesnb.load({"tables": {"orders": spec}, "as_of": "2027-01-01"}, base_dir=tmp_path)


INVOICES = """Invoice,Customer,Date,Quantity,Price,Note
536365,17850,2026-10-01,6,2.55,
C536379,14527,2026-10-01,-1,27.50,refund
536370,12583,2026-10-02,24,3.75,-
A563185,,2026-10-03,1,-11062.06,bad debt adjustment
"""
MAPPING = {"columns": {"Invoice": ["order_id", "status"], "Customer": "customer_id", "Date": "ordered_at"},
           "compute": {"amount": "abs(Quantity * Price)"},
           "values": {"status": {"re:^C": "cancelled", "re:^\\d": "completed"}}}


def test_where_compute_and_value_patterns(tmp_path: Path) -> None:
    data = _load(tmp_path, INVOICES, **MAPPING, where={"Invoice": {"not_matches": "^A"}, "Price": {">": 0}})
    o = data["orders"].set_index("order_id")
    assert list(o.index) == ["536365", "C536379", "536370"]  # the bad-debt line left out
    assert o.loc["536365", "amount"] == pytest.approx(6 * 2.55)
    assert o.loc["C536379", "amount"] == pytest.approx(27.5)  # abs()
    # cancellations are invoices starting with C: a pattern on the id, copied to status
    assert o["status"].to_dict() == {"536365": "completed", "C536379": "cancelled", "536370": "completed"}
    assert any("1 of 4 rows left out by where" in w for w in data.warnings)


def test_na_values_and_fill(tmp_path: Path) -> None:
    data = _load(tmp_path, INVOICES, **{**MAPPING, "columns": {**MAPPING["columns"], "Note": "product"}},
                 where={"Invoice": {"not_matches": "^A"}},
                 na_values=["-"], fill={"product": "(none)"})
    o = data["orders"].set_index("order_id")
    assert o.loc["536370", "product"] == "(none)"  # "-" means empty, then filled
    assert o.loc["C536379", "product"] == "refund"


def test_compute_never_evaluates_code() -> None:
    raw = pd.DataFrame({"a": ["1", "2"]})
    num = lambda s: pd.to_numeric(s, errors="coerce")  # noqa: E731
    for bad in ("__import__('os').system('true')", "a.__class__", "a if a else a", "a ** 2", "[x for x in a]"):
        with pytest.raises(ValueError, match="only|not arithmetic|no column"):
            compute_column(raw, bad, key="source.tables.orders.compute.amount", to_number=num)


def test_deduplicate_and_generated_ids(tmp_path: Path) -> None:
    text = "Order,Client,Date,Sum\n1,a,2026-10-01,10\n1,a,2026-10-01,12\n2,b,2026-10-02,5\n"
    cols = {"Order": "order_id", "Client": "customer_id", "Date": "ordered_at", "Sum": "amount"}
    with pytest.raises(ValueError, match="order_id"):
        _load(tmp_path, text, columns=cols, defaults={"status": "completed"})
    last = _load(tmp_path, text, columns=cols, defaults={"status": "completed"}, deduplicate="last")
    assert last["orders"].set_index("order_id").loc["1", "amount"] == 12.0
    assert any("1 duplicate rows of one order_id left out" in w for w in last.warnings)
    rows = _load(tmp_path, text, columns={"Client": "customer_id", "Date": "ordered_at", "Sum": "amount"},
                 defaults={"status": "completed"}, id="row")
    assert rows["orders"]["order_id"].tolist() == ["2", "3", "4"]  # file lines
    hashed = _load(tmp_path, text, columns={"Client": "customer_id", "Date": "ordered_at", "Sum": "amount"},
                   defaults={"status": "completed"}, id=["Order", "Sum"])
    assert hashed["orders"]["order_id"].is_unique and len(hashed["orders"]["order_id"].iloc[0]) == 16


def test_time_zones_to_naive_local(tmp_path: Path) -> None:
    text = ("id,c,at,sum\n1,a,2026-10-01T21:30:00Z,10\n2,a,2026-10-01T10:00:00+03:00,5\n"
            "3,b,2026-10-02 09:00,7\n")
    cols = {"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount"}
    data = _load(tmp_path, text, columns=cols, defaults={"status": "completed"}, timezone="Europe/Moscow")
    at = data["orders"].set_index("order_id")["ordered_at"]
    assert at["1"] == pd.Timestamp("2026-10-02 00:30")  # 21:30 UTC is 00:30 in Moscow
    assert at["2"] == pd.Timestamp("2026-10-01 10:00")
    assert at["3"] == pd.Timestamp("2026-10-02 09:00")  # a time without a zone is kept as it is
    with pytest.raises(ValueError, match="timezone: 'Mars/Olympus' is not a time zone"):
        _load(tmp_path, text, columns=cols, defaults={"status": "completed"}, timezone="Mars/Olympus")


@pytest.mark.parametrize("name", ["orders.tsv", "orders.csv.gz", "orders.zip"], ids=["tsv", "gz", "zip"])
def test_file_shapes(tmp_path: Path, name: str) -> None:
    text = "id\tc\tat\tsum\n1\ta\t2026-10-01\t10\n" if name.endswith(".tsv") else "id,c,at,sum\n1,a,2026-10-01,10\n"
    data = _load(tmp_path, text, name=name,
                 columns={"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount"},
                 defaults={"status": "completed"})
    assert data["orders"]["amount"].tolist() == [10.0]


def test_space_padded_file_without_header(tmp_path: Path) -> None:
    text = " 00001 19970101  1   11.77\n 00002 19970112  5   77.00\n"
    data = _load(tmp_path, text, name="cdnow.txt", delimiter="whitespace", header=False,
                 names=["customer", "date", "cds", "amount"], id="row", date_format="%Y%m%d",
                 columns={"customer": "customer_id", "date": "ordered_at", "cds": "quantity", "amount": "amount"},
                 defaults={"status": "completed"})
    o = data["orders"]
    assert o["order_id"].tolist() == ["1", "2"] and o["customer_id"].tolist() == ["00001", "00002"]
    assert o["ordered_at"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12")]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"where": {"Nope": {"in": [1]}}}, r"where: no column 'Nope' in the file"),
     ({"where": {"Price": {"between": [1, 2]}}}, r"where.Price.between: unknown condition"),
     ({"where": {"Price": {">": "lots"}}}, r"where.Price.>: 'lots' is not a number"),
     ({"where": {"Invoice": {"matches": "("}}}, r"where.Invoice.matches: '\(' is not a regular expression"),
     ({"compute": {"amount": "Quantity *"}}, r"compute.amount: 'Quantity \*' is not arithmetic"),
     ({"compute": {"colour": "Quantity"}}, r"compute: 'colour' is not a column of orders"),
     ({"deduplicate": "middle"}, r"deduplicate: first or last, not 'middle'"),
     ({"encoding": "klingon"}, r"encoding: 'klingon' is not an encoding"),
     ({"header": False}, r"header: false needs names"),
     ({"fill": {"region": "X"}}, r"fill: 'region' is not a mapped column")],
    ids=["where-column", "where-op", "where-number", "where-regex", "compute-syntax", "compute-target",
         "deduplicate", "encoding", "header", "fill"],
)
def test_option_errors_name_the_key(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _load(tmp_path, INVOICES, **{**MAPPING, **options}, defaults={"status": "completed"})


def test_infinite_amounts_are_an_error(tmp_path: Path) -> None:
    text = "id,c,at,sum\n1,a,2026-10-01,10\n2,a,2026-10-01,inf\n"
    with pytest.raises(ValueError, match=r"orders.amount: not finite numbers \(inf\).*line 3"):
        _load(tmp_path, text, columns={"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount"},
              defaults={"status": "completed"})


def test_values_on_a_date_column(tmp_path: Path) -> None:
    # amoCRM writes "не закрыта" (not closed) in the close date of an open deal
    path = tmp_path / "deals.csv"
    path.write_text("ID;Создана;Закрыта;Этап\n1;01.10.2026;05.10.2026;won\n2;02.10.2026;не закрыта;open\n",
                    encoding="utf-8")
    data = salesnb.load({"tables": {"deals": {
        "path": str(path), "delimiter": ";", "date_format": "%d.%m.%Y",
        "columns": {"ID": "deal_id", "Создана": "created_at", "Закрыта": "closed_at", "Этап": "outcome"},
        "values": {"closed_at": {"не закрыта": ""}}}}, "as_of": "2027-01-01"})
    closed = data["deals"].set_index("deal_id")["closed_at"]
    assert closed["1"] == pd.Timestamp("2026-10-05") and pd.isna(closed["2"])


def test_invalid_rows_drop_leaves_them_out_and_lists_them(tmp_path: Path) -> None:
    text = ("id,c,at,sum\n1,a,2026-10-01,10\n2,a,someday,5\n,b,2026-10-02,7\n4,b,2026-10-03,-3\n"
            "5,c,2026-10-04,8\n")
    cols = {"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount"}
    with pytest.raises(ValueError, match="orders.ordered_at: not dates"):
        _load(tmp_path, text, columns=cols, defaults={"status": "completed"})
    data = _load(tmp_path, text, columns=cols, defaults={"status": "completed"}, invalid_rows="drop")
    assert data["orders"]["order_id"].tolist() == ["1", "5"]
    left = [w for w in data.warnings if w.startswith("left out (invalid_rows: drop)")]
    text_all = " | ".join(left)
    assert "orders.ordered_at" in text_all and "line 3" in text_all and "'someday'" in text_all
    assert "orders.amount" in text_all and "line 5" in text_all and "-3" in text_all
    assert "orders.order_id" in text_all and "line 4" in text_all
    with pytest.raises(ValueError, match="invalid_rows: stop or drop, not 'skip'"):
        _load(tmp_path, text, columns=cols, defaults={"status": "completed"}, invalid_rows="skip")


def test_guest_orders_load_and_are_not_new_customers(tmp_path: Path) -> None:
    text = "id,c,at,sum\n1,a,2026-10-01,10\n2,,2026-10-01,5\n3,,2026-10-02,7\n4,b,2026-10-03,8\n"
    data = _load(tmp_path, text, columns={"id": "order_id", "c": "customer_id", "at": "ordered_at", "sum": "amount"},
                 defaults={"status": "completed"})
    t = salesnb.kpi_table(data, "2026-10", kpis=["orders", "new_customers", "revenue"], min_events=0).set_index("kpi")
    assert t.loc["orders", "value"] == 4 and t.loc["revenue", "value"] == 30  # guests count in sales
    assert t.loc["new_customers", "value"] == 2  # but are no new customers
    assert any("2 rows" in w and "guest orders" in w for w in data.warnings)


def test_header_spaces_and_duplicate_headers_are_said(tmp_path: Path) -> None:
    # amoCRM: "Бюджет " with a trailing space, and two columns named "Источник"
    text = ('ID,Бюджет ,Источник,Источник,Создана,Клиент\n'
            '1,"15 000",Сайт,Реклама,2026-10-01,a\n'
            '2,"7 500","Звонок,\nвторой","",2026-10-02,b\n'
            '3,x,Сайт,,2026-10-03,c\n')
    path = tmp_path / "deals.csv"
    path.write_text(text, encoding="utf-8")
    spec = {"path": str(path), "columns": {"ID": "order_id", "Бюджет ": "amount", "Источник.1": "channel",
                                           "Создана": "ordered_at", "Клиент": "customer_id"},
            "defaults": {"status": "completed"}}
    with pytest.raises(ValueError) as err:
        salesnb.load({"tables": {"orders": spec}, "as_of": "2027-01-01"})
    # the bad amount 'x' is on physical line 5: the quoted cell above it spans two lines
    assert "orders.amount: not numbers" in str(err.value) and "line 5" in str(err.value)
    path.write_text(text.replace("3,x,", "3,100,"), encoding="utf-8")
    data = salesnb.load({"tables": {"orders": spec}, "as_of": "2027-01-01"})
    assert data["orders"]["amount"].tolist() == [15000.0, 7500.0, 100.0]
    assert data["orders"]["channel"].tolist()[0] == "Реклама"
    notes = " | ".join(data.warnings)
    assert "header 'Бюджет ' matched after trimming spaces" in notes
    assert "duplicate headers renamed to 'Источник.1'" in notes


def test_a_misspelt_column_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'Invioce' → did you mean 'Invoice'\?"):
        _load(tmp_path, INVOICES, columns={"Invioce": "order_id"})


def test_lookup_from_other_files(tmp_path: Path) -> None:
    # the order's amount is in a payments file (several payments per order), the rep's region
    # in a teams file; both read with the orders' options (';' and decimal commas)
    (tmp_path / "payments.csv").write_text("Заказ;Оплата\n1;10,50\n1;4,50\n2;7\n", encoding="utf-8")
    (tmp_path / "teams.csv").write_text("Менеджер;Регион\nАнна;Север\nБорис;Юг\n", encoding="utf-8")
    text = "Заказ;Клиент;Дата;Менеджер\n1;a;2026-10-01;Анна\n2;b;2026-10-02;Борис\n3;c;2026-10-03;Анна\n"
    data = _load(tmp_path, text, delimiter=";", decimal=",",
                 columns={"Заказ": "order_id", "Клиент": "customer_id", "Дата": "ordered_at", "Менеджер": "owner"},
                 defaults={"status": "completed"}, fill={"amount": 0},
                 lookup=[{"path": str(tmp_path / "payments.csv"), "on": {"Заказ": "Заказ"},
                          "columns": {"Оплата": "amount"}, "aggregate": "sum"},
                         {"path": str(tmp_path / "teams.csv"), "on": {"Менеджер": "Менеджер"},
                          "columns": {"Регион": "region"}}])
    o = data["orders"].set_index("order_id")
    assert o["amount"].to_dict() == {"1": 15.0, "2": 7.0, "3": 0.0}  # order 3 unpaid: filled with 0
    assert o["region"].to_dict() == {"1": "Север", "2": "Юг", "3": "Север"}
    with pytest.raises(ValueError, match=r"lookup\[0\].on: no column 'Order' in payments.csv"):
        _load(tmp_path, text, delimiter=";", columns={"Заказ": "order_id"},
              lookup=[{"path": str(tmp_path / "payments.csv"), "on": {"Заказ": "Order"},
                       "columns": {"Оплата": "amount"}}])


LINES = """Invoice,Date,Stock,Qty,Price,Country,Size
1,2026-10-01 09:00,A,2,1.5,UK,S
1,2026-10-01 09:01,B,1,3,UK,M
1,2026-10-01 09:01,C,1,3,France,M
2,2026-10-02 10:00,A,1,4,France,L
"""
LINE_MAPPING = {"aggregate_lines": True, "defaults": {"status": "completed"},
                "columns": {"Invoice": "order_id", "Date": "ordered_at", "Stock": "product", "Qty": "quantity",
                            "Country": "region", "Size": "channel"},
                "compute": {"amount": "Qty * Price"}}


def test_a_line_level_column_must_say_how_it_rolls_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"orders\.region: differs between the lines of one order "
                                         r"\(order_id '1'\); say how it rolls up under "
                                         r"source\.tables\.orders\.rollup") as err:
        _load(tmp_path, LINES, **LINE_MAPPING)
    assert "orders.channel: differs" in str(err.value) and "orders.ordered_at: differs" in str(err.value)
    rolled = {**LINE_MAPPING, "rollup": {"region": "most_common", "channel": "max", "ordered_at": "first"}}
    orders = _load(tmp_path, LINES, **rolled)["orders"].set_index("order_id")
    assert orders.loc["1", "region"] == "UK" and orders.loc["1", "channel"] == "S"  # 'M' < 'S'
    assert orders.loc["1", "amount"] == pytest.approx(9.0) and orders.loc["1", "product"] == "(several)"
    assert orders.loc["1", "ordered_at"] == pd.Timestamp("2026-10-01 09:00")


@pytest.mark.parametrize(("rollup", "message"), [
    ({"region": "mode"}, r"rollup\.region: one of first, most_common, sum, max, not 'mode'"),
    ("first", r"rollup: give a mapping"),
], ids=["unknown", "not-a-mapping"])
def test_rollup_errors_name_the_key(tmp_path: Path, rollup: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _load(tmp_path, LINES, **{**LINE_MAPPING, "rollup": rollup})


def test_a_problem_in_the_lines_is_named_with_its_fix(tmp_path: Path) -> None:
    """An empty product on a line once ended in KeyError: 'order_lines'."""
    text = LINES.replace("1,2026-10-01 09:01,B,", "1,2026-10-01 09:01,,")
    rolled = {**LINE_MAPPING, "rollup": {"region": "first", "channel": "first", "ordered_at": "first"}}
    with pytest.raises(ValueError, match=r"order_lines\.product: empty in a required column \(the lines of "
                                         r"orders\.csv, kept by aggregate_lines: .*fill: \{product: …\}.*"
                                         r"invalid_rows: drop\) — 1 value, line 3"):
        _load(tmp_path, text, **rolled)
    lines = _load(tmp_path, text, **rolled, fill={"product": "(no name)"})["order_lines"]
    assert sorted(lines["product"]) == ["(no name)", "A", "A", "C"]


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8", ","), ("utf-8-sig", ";"), ("cp1251", ";"),
                                                     ("cp1251", "\t")], ids=["utf8-comma", "bom-semicolon",
                                                                              "cp1251-semicolon", "cp1251-tab"])
def test_encoding_and_delimiter_read_from_the_file(tmp_path: Path, encoding: str, delimiter: str) -> None:
    text = "Номер;Дата;Сумма;Статус\n1;2026-10-01;10.5;Выполнен\n2;2026-10-02;7;Отменён\n".replace(";", delimiter)
    (tmp_path / "orders.csv").write_bytes(text.encode(encoding))
    data = salesnb.load({"tables": {"orders": {
        "path": "orders.csv", "columns": {"Номер": "order_id", "Дата": "ordered_at", "Сумма": "amount",
                                          "Статус": "status"},
        "values": {"status": {"Выполнен": "completed", "Отменён": "cancelled"}}}}}, base_dir=tmp_path)
    assert data["orders"]["status"].tolist() == ["completed", "cancelled"]


def test_a_wrong_encoding_or_delimiter_says_what_the_file_is(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_bytes("Номер,Сумма\n1,10\n".encode())
    spec = {"path": "orders.csv", "columns": {"Номер": "order_id"}}
    with pytest.raises(ValueError, match=r"orders\.csv is not cp1251 text|with ';' the header"):
        salesnb.load({"tables": {"orders": {**spec, "delimiter": ";"}}}, base_dir=tmp_path)
    (tmp_path / "orders.csv").write_bytes("Номер,Сумма\n1,10\n".encode("cp1251"))
    with pytest.raises(ValueError, match=r"encoding: orders\.csv is not utf-8 text .*the file looks like cp1251: "
                                         r"set encoding: cp1251"):
        salesnb.load({"tables": {"orders": {**spec, "encoding": "utf-8"}}}, base_dir=tmp_path)


def test_yaml_reads_on_off_yes_no_as_text(tmp_path: Path) -> None:
    """YAML 1.1 reads an unquoted `on` as true: the README's lookup example failed with
    "keys should be strings, not True"."""
    from salesnb.config import read_params
    from salesnb.params import check_params

    (tmp_path / "base.yaml").write_text(
        "source:\n  tables:\n    orders:\n      path: orders.csv\n"
        "      lookup: [{path: pay.xlsx, sheet: Payments, on: {Order: Order}, columns: {Paid: amount}}]\n"
        "      values: {status: {yes: completed, no: cancelled, On: completed, Off: cancelled}}\n"
        "analyst_note: no\n", encoding="utf-8")
    params = read_params(tmp_path / "base.yaml")
    lookup = params["source"]["tables"]["orders"]["lookup"][0]
    assert lookup["on"] == {"Order": "Order"} and lookup["sheet"] == "Payments"
    assert params["source"]["tables"]["orders"]["values"]["status"] == {
        "yes": "completed", "no": "cancelled", "On": "completed", "Off": "cancelled"}
    assert params["analyst_note"] == "no"
    assert check_params(params, "base.yaml") == []  # sheet is a lookup key now
