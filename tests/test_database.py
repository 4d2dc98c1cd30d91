"""Databases as sources: the demo in a real PostgreSQL server (started by the tests), read
through SQLAlchemy with the same column mapping as files, the password only from the
environment or .env, the period filter pushed into the SQL, and a report published from it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

import salesnb
from salesnb import config
from salesnb.data.schema import TABLES
from salesnb.publish import publish
from tests.postgres import Server, postgres_server

# the orders as a CRM database would name them: the mapping turns them into canonical columns
CRM_ORDERS = {"order_id": "Order No", "customer_id": "Client", "ordered_at": "Created", "amount": "Sum",
              "status": "State", "channel": "Channel", "region": "Region", "owner": "Manager", "product": "Product"}


def _copy(engine: sa.Engine, name: str, df: pd.DataFrame) -> None:
    """Create the table from the frame's columns and COPY the rows in (fast, exact)."""
    df.head(0).to_sql(name, engine, index=False, if_exists="replace")
    buffer = io.StringIO()
    df.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f'COPY "{name}" FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


@pytest.fixture(scope="module")
def server(demo_dir: Path) -> Iterator[Server]:
    with postgres_server() as found:
        if isinstance(found, str):
            pytest.skip(found)
        engine = sa.create_engine(found.url())
        for path in sorted(demo_dir.glob("*.parquet")):
            df = pd.read_parquet(path)
            if path.stem == "orders":
                df = df.rename(columns=CRM_ORDERS)
                _copy(engine, "crm_orders", df)
            else:
                _copy(engine, path.stem, df)
        engine.dispose()
        yield found


def _source(server: Server, **extra: Any) -> dict[str, Any]:
    tables: dict[str, Any] = {name: {"table": name} for name in TABLES
                              if name not in ("orders", "leads")}
    tables["orders"] = {"table": "public.crm_orders", "columns": {v: k for k, v in CRM_ORDERS.items()}}
    tables["leads"] = {"query": "SELECT * FROM leads"}
    return {"database": {"url": server.url(password="${SALESNB_TEST_PGPASSWORD}")}, "tables": tables, **extra}


def test_tables_read_from_postgres_equal_the_files(server: Server, demo: salesnb.SalesData,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESNB_TEST_PGPASSWORD", server.password)
    data = salesnb.load(_source(server))
    assert set(data.present) == set(demo.present)
    for name in demo.present:
        key = TABLES[name].key or list(demo[name].columns)
        ours = data[name].sort_values(key).reset_index(drop=True)
        files = demo[name].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, files, check_dtype=False, obj=name)
    assert server.password not in data.source and "database table public.crm_orders" in data.source


def test_since_is_pushed_into_the_sql(server: Server, demo: salesnb.SalesData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESNB_TEST_PGPASSWORD", server.password)
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        source = _source(server, since="2026-01-01")
        source["tables"] = {k: v for k, v in source["tables"].items() if k in ("orders", "leads")}
        data = salesnb.load(source)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    o = demo["orders"]
    assert len(data["orders"]) == int((o["ordered_at"] >= "2026-01-01").sum())
    orders_sql = next(s for s in sent if "crm_orders" in s)
    assert 'WHERE "Created" >= ' in orders_sql  # the export's date column, filtered by the database
    leads_sql = next(s for s in sent if "FROM leads" in s)
    assert 'FROM (SELECT * FROM leads) AS salesnb_rows WHERE created_at >= ' in leads_sql


def test_credentials_only_from_the_environment_or_dotenv(server: Server, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(server)
    source["tables"] = {"orders": source["tables"]["orders"]}
    monkeypatch.delenv("SALESNB_TEST_PGPASSWORD", raising=False)
    monkeypatch.setattr(config, "ROOT", tmp_path)  # a project without .env
    with pytest.raises(ValueError, match="environment variable SALESNB_TEST_PGPASSWORD is not set"):
        salesnb.load(source)
    (tmp_path / ".env").write_text(f"# local secrets\nSALESNB_TEST_PGPASSWORD='{server.password}'\n")
    assert len(salesnb.load(source)["orders"]) > 1000
    # a wrong password: one message, with the URL's password masked
    (tmp_path / ".env").write_text("SALESNB_TEST_PGPASSWORD=wrong-Password-1\n")
    with pytest.raises(ValueError) as caught:
        salesnb.load(source)
    message = str(caught.value)
    assert "cannot read database table public.crm_orders from postgresql+psycopg://salesnb:•••@" in message
    assert "wrong-Password-1" not in message and "password authentication failed" in message


def test_a_report_publishes_from_postgres(server: Server, demo: salesnb.SalesData, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESNB_TEST_PGPASSWORD", server.password)
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params["source"] = _source(server)
    params["report"] = {"notebooks": ["data_health", "kpi_overview"]}
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    report = publish(base=base, period="2026-10", out_dir=out, progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    health = (out / "2026-10" / "data_health.html").read_text(encoding="utf-8")
    assert f"{len(demo['orders']):,}" in health and demo.fingerprint in health  # the same data as the files
    assert "salesnb:•••@127.0.0.1" in health  # the run record names the database, password masked
    for path in out.rglob("*"):
        if path.is_file():
            assert server.password not in path.read_text(encoding="utf-8", errors="replace"), path
    # a database can change at any time: its pages are made again on every run
    again = publish(base=base, period="2026-10", out_dir=out, progress=False)
    assert [r.status for r in again.results] == ["ok", "ok"]
