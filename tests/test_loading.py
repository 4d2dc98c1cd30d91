"""Loading: every file format, every mapping option, text kept as text, fingerprints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import salesnb
from salesnb.data import MissingTableError

ORDERS_CSV = """order_id,customer_id,ordered_at,amount,status,region,quantity
1001,C1,2026-10-01 09:15,120.50,completed,NA,2
1002,C2,2026-10-02,80,cancelled,,1
1003,C1,2026-10-03 17:00,19.99,completed,North,
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write(tmp_path / "orders.csv", ORDERS_CSV)
    return tmp_path


def test_canonical_csv_folder(folder: Path) -> None:
    data = salesnb.load(folder)
    orders = data["orders"]
    assert data.present == ("orders",)
    assert orders["order_id"].tolist() == ["1001", "1002", "1003"]
    assert str(orders["order_id"].dtype) == "str"
    assert str(orders["ordered_at"].dtype) == "datetime64[us]"
    assert orders["amount"].tolist() == [120.5, 80.0, 19.99]
    assert orders["ordered_at"].iloc[0] == pd.Timestamp("2026-10-01 09:15")


def test_na_is_a_territory_and_only_empty_cells_are_missing(folder: Path) -> None:
    orders = salesnb.load(folder)["orders"]
    assert orders["region"].iloc[0] == "NA"
    assert pd.isna(orders["region"].iloc[1])
    assert pd.isna(orders["quantity"].iloc[2])


def test_parquet_and_excel_give_the_same_table_and_fingerprint(folder: Path, tmp_path: Path) -> None:
    from_csv = salesnb.load(folder)
    raw = pd.read_csv(folder / "orders.csv", dtype=str, keep_default_na=False, na_values=[""])
    pq = tmp_path / "pq"
    pq.mkdir()
    from_csv["orders"].to_parquet(pq / "orders.parquet")
    xl = tmp_path / "xl"
    xl.mkdir()
    raw.to_excel(xl / "orders.xlsx", index=False)
    for other in (salesnb.load(pq), salesnb.load(xl)):
        assert_frame_equal(other["orders"], from_csv["orders"])
        assert other.fingerprint == from_csv.fingerprint


def test_fingerprint_changes_with_any_cell(folder: Path, tmp_path: Path) -> None:
    before = salesnb.load(folder).fingerprint
    _write(folder / "orders.csv", ORDERS_CSV.replace("19.99", "19.98"))
    assert salesnb.load(folder).fingerprint != before


def test_excel_sheet_and_numeric_ids(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="Notes", index=False)
        pd.DataFrame({"Deal": [5001, 5002], "Created": pd.to_datetime(["2026-01-05", "2026-02-01"]),
                      "Result": ["Won", "In progress"]}).to_excel(xw, sheet_name="Deals", index=False)
    data = salesnb.load({"tables": {"deals": {
        "path": str(path), "sheet": "Deals",
        "columns": {"Deal": "deal_id", "Created": "created_at", "Result": "outcome"},
        "values": {"outcome": {"Won": "won", "In progress": "open"}}}}})
    deals = data["deals"]
    assert deals["deal_id"].tolist() == ["5001", "5002"]  # not "5001.0"
    assert deals["outcome"].tolist() == ["won", "open"]


RUSSIAN_EXPORT = """Номер заказа;Клиент;Дата;Сумма;Статус;Регион;Кол-во
A-1;Иванов;01.10.2026;1 234,50;Выполнен;Север;3
A-2;Петров;02.10.2026;99,90;Отменён;Юг;1
A-3;Иванов;15.10.2026;12 000;Выполнен;NA;10
"""


def test_russian_crm_export_through_mapping_alone(tmp_path: Path) -> None:
    path = _write(tmp_path / "zakazy.csv", RUSSIAN_EXPORT, encoding="cp1251")
    data = salesnb.load({"tables": {"orders": {
        "path": str(path), "encoding": "cp1251", "delimiter": ";", "decimal": ",",
        "date_format": "%d.%m.%Y",
        "columns": {"Номер заказа": "order_id", "Клиент": "customer_id", "Дата": "ordered_at",
                    "Сумма": "amount", "Статус": "status", "Регион": "region", "Кол-во": "quantity"},
        "values": {"status": {"Выполнен": "completed", "Отменён": "cancelled"}},
    }}})
    orders = data["orders"]
    assert orders["amount"].tolist() == [1234.5, 99.9, 12000.0]
    assert orders["status"].tolist() == ["completed", "cancelled", "completed"]
    assert orders["ordered_at"].dt.day.tolist() == [1, 2, 15]
    assert orders["region"].tolist() == ["Север", "Юг", "NA"]
    assert orders["customer_id"].iloc[0] == "Иванов"


def test_encoding_and_delimiter_are_read_from_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "zakazy.csv", RUSSIAN_EXPORT, encoding="cp1251")
    data = salesnb.load({"tables": {"orders": {
        "path": str(path), "decimal": ",", "date_format": "%d.%m.%Y",
        "columns": {"Номер заказа": "order_id", "Клиент": "customer_id", "Дата": "ordered_at",
                    "Сумма": "amount", "Статус": "status"},
        "values": {"status": {"Выполнен": "completed", "Отменён": "cancelled"}}}}})
    assert data["orders"]["customer_id"].tolist() == ["Иванов", "Петров", "Иванов"]
    assert data["orders"]["amount"].tolist() == [1234.5, 99.9, 12000.0]


def test_wrong_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "zakazy.csv", RUSSIAN_EXPORT, encoding="cp1251")
    with pytest.raises(ValueError, match=r"orders.encoding: zakazy.csv is not utf-8 text .*"
                                         r"looks like cp1251: set encoding: cp1251"):
        salesnb.load({"tables": {"orders": {"path": str(path), "delimiter": ";", "encoding": "utf-8"}}})


ORDER_LINES = """Line,Order,Customer,Date,Sales,Qty,Product
1,O-1,C1,2026-10-01,10.5,1,Pens
2,O-1,C1,2026-10-01,4.5,2,Paper
3,O-2,C2,2026-10-02,7.25,3,Ink
"""


def test_order_lines_aggregate_to_orders(tmp_path: Path) -> None:
    path = _write(tmp_path / "lines.csv", ORDER_LINES)
    data = salesnb.load({"tables": {"orders": {
        "path": str(path), "aggregate_lines": True, "defaults": {"status": "completed"},
        "columns": {"Order": "order_id", "Customer": "customer_id", "Date": "ordered_at",
                    "Sales": "amount", "Qty": "quantity", "Product": "product"}}}})
    orders = data["orders"]
    assert orders["order_id"].tolist() == ["O-1", "O-2"]
    assert orders["amount"].tolist() == [15.0, 7.25]
    assert orders["quantity"].tolist() == [3.0, 3.0]
    # not the first line's product for the whole order: the lines stay as order_lines
    assert orders["product"].tolist() == ["(several)", "Ink"]
    assert orders["status"].tolist() == ["completed", "completed"]
    lines = data["order_lines"]
    assert lines["order_id"].tolist() == ["O-1", "O-1", "O-2"] and lines["amount"].sum() == 22.25
    t = salesnb.kpi_table(data, "2026-10", by="product", kpis=["revenue", "orders"], min_events=0)
    revenue = t[t["kpi"] == "revenue"].set_index("product")["value"].to_dict()
    assert revenue == pytest.approx({p: a for p, a in lines.groupby("product")["amount"].sum().items()})


def test_returns_filled_from_their_orders(tmp_path: Path) -> None:
    lines = _write(tmp_path / "lines.csv", ORDER_LINES)
    rets = _write(tmp_path / "returns.csv", "Returned,Order\nYes,O-1\n")
    data = salesnb.load({"tables": {
        "orders": {"path": str(lines), "aggregate_lines": True, "defaults": {"status": "completed"},
                   "columns": {"Order": "order_id", "Customer": "customer_id", "Date": "ordered_at",
                               "Sales": "amount"}},
        "returns": {"path": str(rets), "columns": {"Order": ["order_id", "return_id"]},
                    "defaults": {"reason": "not given", "kind": "return"},
                    "fill_from_order": {"returned_at": "ordered_at", "amount": "amount"}}}})
    r = data["returns"]
    assert r[["return_id", "order_id", "amount", "reason"]].to_dict("records") == [
        {"return_id": "O-1", "order_id": "O-1", "amount": 15.0, "reason": "not given"}]
    assert r["returned_at"].iloc[0] == pd.Timestamp("2026-10-01")


def test_every_table_is_optional(tmp_path: Path) -> None:
    _write(tmp_path / "deals.csv", "deal_id,created_at,outcome\nD1,2026-01-01,open\n")
    data = salesnb.load(tmp_path)
    assert data.present == ("deals",)
    assert data.has("deals") and not data.has("orders")
    assert data.get("orders") is None
    with pytest.raises(MissingTableError, match="table 'orders' is not loaded \\(loaded: deals\\)"):
        data["orders"]
    with pytest.raises(MissingTableError):
        data.orders  # noqa: B018


def test_folder_and_mapping_combine(folder: Path, tmp_path: Path) -> None:
    deals = _write(tmp_path / "crm_deals.csv", "ID;Start;State\nD1;2026-01-01;open\n")
    data = salesnb.load({"folder": str(folder), "tables": {"deals": {
        "path": str(deals), "delimiter": ";",
        "columns": {"ID": "deal_id", "Start": "created_at", "State": "outcome"}}}})
    assert data.present == ("orders", "deals")


def test_relative_paths_resolve_against_base_dir(folder: Path) -> None:
    data = salesnb.load(folder.name, base_dir=folder.parent)
    assert len(data["orders"]) == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [({"tables": {"sales": {"path": "x.csv"}}}, "unknown table 'sales'"),
     ({"tables": {"orders": {"path": "x.csv", "sep": ";"}}}, "unknown options \\['sep'\\]"),
     ({"tables": {"orders": {"path": "missing.csv"}}}, "file .*missing.csv does not exist"),
     ({"tables": {"orders": {}}}, "'path' is missing"),
     ({"folderr": "x"}, "unknown keys \\['folderr'\\]"),
     ("no/such/folder", "data folder .* does not exist")],
    ids=["table", "option", "file", "path", "key", "folder"],
)
def test_bad_source_mapping(source: object, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        salesnb.load(source, base_dir=tmp_path)  # type: ignore[arg-type]


def test_mapping_names_a_column_the_file_lacks(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.csv", ORDERS_CSV)
    with pytest.raises(ValueError, match="the mapping names columns that o.csv lacks: 'Sum'"):
        salesnb.load({"tables": {"orders": {"path": str(path), "columns": {"Sum": "amount"}}}})


def test_loading_writes_nothing(folder: Path) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    salesnb.load(folder)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


def test_a_kept_load_is_the_same_object_until_the_files_change(folder: Path) -> None:
    first = salesnb.load(folder, cache=True, keep=True)
    assert salesnb.load(folder, cache=True, keep=True) is first  # a warm kernel's next page
    assert salesnb.load(folder, cache=True) is not first  # not asked to keep: a copy of its own
    _write(folder / "orders.csv", ORDERS_CSV.replace("19.99", "29.99"))
    changed = salesnb.load(folder, cache=True, keep=True)
    assert changed is not first and changed["orders"]["amount"].iloc[2] == 29.99
    from salesnb.data import sales

    assert list(sales._KEPT.values()) == [changed]  # one data set held at a time


def test_cached_load_equals_a_fresh_one_and_follows_the_files(folder: Path) -> None:
    fresh = salesnb.load(folder)
    first = salesnb.load(folder, cache=True)
    again = salesnb.load(folder, cache=True)
    assert_frame_equal(again["orders"], fresh["orders"])
    assert again.fingerprint == fresh.fingerprint == first.fingerprint
    _write(folder / "orders.csv", ORDERS_CSV.replace("19.99", "29.99"))
    changed = salesnb.load(folder, cache=True)  # the file changed: read again
    assert changed["orders"]["amount"].iloc[2] == 29.99
    _write(folder / "orders.csv", ORDERS_CSV.replace("19.99", "-1"))
    with pytest.raises(salesnb.DataValidationError):  # a bad file is never served from cache
        salesnb.load(folder, cache=True)
