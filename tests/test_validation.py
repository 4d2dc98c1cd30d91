"""Validation: each problem, its message naming table, column, rows and values; all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

import salesnb
from salesnb.data import DataValidationError

GOOD_ORDERS = """order_id,customer_id,ordered_at,amount,status
O1,C1,2026-10-01,10,completed
O2,C2,2026-10-02,20,completed
O3,C3,2026-10-03,30,cancelled
"""


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def _problems(tmp_path: Path, **files: str) -> str:
    with pytest.raises(DataValidationError) as info:
        salesnb.load(_folder(tmp_path, **files), as_of="2026-11-01")
    return str(info.value)


def test_missing_required_column(tmp_path: Path) -> None:
    text = _problems(tmp_path, orders=GOOD_ORDERS.replace(",amount", ",total"))
    assert "orders.amount: required column is missing from orders.csv" in text
    assert "order_id, customer_id, ordered_at, status" in text
    assert "source.tables.orders.columns" in text


def test_unparseable_dates_name_lines_and_values(tmp_path: Path) -> None:
    bad = GOOD_ORDERS.replace("2026-10-02", "02.10.2026").replace("2026-10-03", "yesterday")
    text = _problems(tmp_path, orders=bad)
    assert ("orders.ordered_at: not dates in ISO form like 2026-10-31 or 2026-10-31 14:05; "
            "set date_format in the mapping, e.g. '%d.%m.%Y' — 2 values, lines 3, 4: "
            "'02.10.2026', 'yesterday'") in text


def test_negative_and_non_numeric_amounts(tmp_path: Path) -> None:
    bad = GOOD_ORDERS.replace(",10,", ",-5,").replace(",30,", ",thirty,")
    text = _problems(tmp_path, orders=bad)
    assert ("orders.amount: not numbers (decimal separator '.'; set decimal in the mapping) — "
            "1 value, line 4: 'thirty'") in text
    assert "orders.amount: negative (amounts must be ≥ 0) — 1 value, line 2: -5" in text


def test_duplicate_ids(tmp_path: Path) -> None:
    text = _problems(tmp_path, orders=GOOD_ORDERS.replace("O2,C2", "O1,C1"))
    assert "orders.order_id: duplicate ids — 2 values, lines 2, 3: 'O1', 'O1'" in text


@pytest.mark.parametrize(
    ("table", "text", "column", "value", "allowed"),
    [("orders", GOOD_ORDERS.replace("cancelled", "refunded"), "status", "'refunded'",
      "completed, cancelled"),
     ("deals", "deal_id,created_at,outcome\nD1,2026-01-01,won\nD2,2026-01-02,pending\n",
      "outcome", "'pending'", "open, won, lost")],
    ids=["status", "outcome"],
)
def test_unknown_status_or_outcome(tmp_path: Path, table: str, text: str, column: str,
                                   value: str, allowed: str) -> None:
    message = _problems(tmp_path, **{table: text})
    assert f"{table}.{column}: not one of {allowed}; map them under " \
           f"source.tables.{table}.values.{column} — 1 value, line" in message
    assert value in message


def test_returns_pointing_at_unknown_orders(tmp_path: Path) -> None:
    returns = ("return_id,order_id,returned_at,amount,reason\n"
               "R1,O1,2026-10-05,10,defective\nR2,O9,2026-10-06,5,late\nR3,O8,2026-10-06,5,late\n")
    text = _problems(tmp_path, orders=GOOD_ORDERS, returns=returns)
    assert "returns.order_id: not found in orders.order_id — 2 values, lines 3, 4: 'O9', 'O8'" in text


def test_dates_in_the_future(tmp_path: Path) -> None:
    text = _problems(tmp_path, orders=GOOD_ORDERS.replace("2026-10-03", "2027-01-03"))
    assert ("orders.ordered_at: in the future (after 2026-11-01 00:00) — 1 value, line 4: "
            "2027-01-03 00:00:00") in text


def test_order_with_several_customers(tmp_path: Path) -> None:
    text = _problems(tmp_path, orders=GOOD_ORDERS.replace("O2,C2", "O1,C9"))
    assert "orders.customer_id: one order_id names several customers (orders 'O1') — " \
           "2 values, lines 2, 3: 'C1', 'C9'" in text


def test_order_lines_with_several_customers(tmp_path: Path) -> None:
    lines = tmp_path / "lines.csv"
    lines.write_text("Order,Customer,Date,Sales\nO1,C1,2026-10-01,1\nO1,C2,2026-10-01,2\n",
                     encoding="utf-8")
    with pytest.raises(DataValidationError, match="order lines of one order name several customers "
                       r"\(order_id 'O1'\) — 2 values, lines 2, 3: 'C1', 'C2'"):
        salesnb.load({"tables": {"orders": {
            "path": str(lines), "aggregate_lines": True, "defaults": {"status": "completed"},
            "columns": {"Order": "order_id", "Customer": "customer_id", "Date": "ordered_at",
                        "Sales": "amount"}}}})


def test_empty_required_values(tmp_path: Path) -> None:
    text = _problems(tmp_path, orders=GOOD_ORDERS.replace("O2,C2", ","))
    assert "orders.order_id: empty in a required column — 1 value, line 3" in text


def test_every_problem_at_once(tmp_path: Path) -> None:
    bad = (GOOD_ORDERS.replace(",10,", ",-5,").replace("2026-10-02", "someday")
           .replace("cancelled", "refunded").replace("O3,C3", "O1,C3"))
    returns = "return_id,order_id,returned_at,amount,reason\nR1,O7,2026-10-05,10,defective\n"
    with pytest.raises(DataValidationError) as info:
        salesnb.load(_folder(tmp_path, orders=bad, returns=returns), as_of="2026-11-01")
    problems = info.value.problems
    where = {(p.table, p.column) for p in problems}
    assert where >= {("orders", "amount"), ("orders", "ordered_at"), ("orders", "status"),
                     ("orders", "order_id"), ("orders", "customer_id"), ("returns", "order_id")}
    assert str(info.value).startswith(f"{len(problems)} data problems found; nothing was loaded.")
    assert isinstance(info.value, ValueError)


def test_many_bad_rows_are_sampled(tmp_path: Path) -> None:
    rows = "".join(f"O{i},C{i},2026-10-01,-{i},completed\n" for i in range(1, 21))
    text = _problems(tmp_path, orders="order_id,customer_id,ordered_at,amount,status\n" + rows)
    assert "orders.amount: negative (amounts must be ≥ 0) — 20 values, lines 2, 3, 4, 5, 6 " \
           "(first 5 of 20): -1, -2, -3, -4, -5" in text


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    returns = "return_id,order_id,returned_at,amount,reason\nR1,O1,2026-09-01,50,defective\n"
    data = salesnb.load(_folder(tmp_path, orders=GOOD_ORDERS, returns=returns), as_of="2026-11-01")
    assert "returns.returned_at: returned before the order was placed: 1 rows" in data.warnings
    assert "returns.amount: more than the order's amount: 1 rows" in data.warnings
