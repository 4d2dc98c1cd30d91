"""The CRM presets in params/examples map their vendor's export by params alone: amoCRM and
Bitrix24, each with a sample file written for these tests in the vendor's format."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb import config
from salesnb.publish import publish

DATA = Path(__file__).parent / "data"


def _source(preset: str) -> dict:
    return config.read_params(config.PARAMS_DIR / "examples" / f"{preset}.yaml")["source"]


def _rows(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        return [dict(zip(header, r, strict=False)) for r in reader]  # a duplicate header: the last wins


def test_amocrm_export(tmp_path: Path) -> None:
    data = salesnb.load(_source("amocrm"), base_dir=config.ROOT)
    deals = data["deals"].set_index("deal_id")
    rows = _rows(DATA / "amocrm_deals.csv", "cp1251")
    assert len(deals) == len(rows) == 160
    won = sum(r["Этап сделки"] == "Успешно реализовано" for r in rows)
    lost = sum(r["Этап сделки"] == "Закрыто и не реализовано" for r in rows)
    assert (deals["outcome"] == "won").sum() == won and (deals["outcome"] == "lost").sum() == lost
    assert deals.loc[deals["outcome"] == "open", "closed_at"].isna().all()  # "не закрыта"
    first = rows[0]
    assert deals.loc[first["ID"], "amount"] == float(first["Бюджет "].replace(" ", ""))
    assert deals.loc[first["ID"], "created_at"] == pd.to_datetime(first["Дата создания"], format="%d.%m.%Y %H:%M:%S")
    assert deals.loc[first["ID"], "lost_reason"] == first["Причина отказа"]
    notes = " | ".join(data.warnings)
    assert "'Бюджет ' matched after trimming spaces" in notes and "'Источник.1'" in notes
    # the same export written as UTF-8 with commas loads with those two options changed
    utf8 = tmp_path / "amocrm_utf8.csv"
    with open(DATA / "amocrm_deals.csv", encoding="cp1251", newline="") as f:
        records = list(csv.reader(f, delimiter=";"))
    with open(utf8, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(records)
    source = _source("amocrm")
    source["tables"]["deals"].update(path=str(utf8), encoding="utf-8", delimiter=",")
    pd.testing.assert_frame_equal(salesnb.load(source)["deals"], data["deals"])


def test_bitrix24_export_csv_and_html_xls() -> None:
    data = salesnb.load(_source("bitrix24"), base_dir=config.ROOT)
    deals = data["deals"]
    rows = _rows(DATA / "bitrix24_deals.csv", "utf-8")
    assert len(deals) == len(rows) == 150
    assert (deals["outcome"] == "won").sum() == sum(r["Стадия сделки"] == "Сделка успешна" for r in rows)
    latin = sum(r["Стадия сделки"].startswith("C") for r in rows)  # written with a Latin C
    assert latin > 0 and (deals["stage"] == "Счёт на предоплату").sum() == sum(
        r["Стадия сделки"].endswith("чёт на предоплату") for r in rows)
    assert deals["amount"].sum() == pytest.approx(sum(float(r["Сумма"]) for r in rows))
    source = _source("bitrix24")
    source["tables"]["deals"]["path"] = "tests/data/bitrix24_deals.xls"  # the "Excel" export: HTML
    pd.testing.assert_frame_equal(salesnb.load(source, base_dir=config.ROOT)["deals"], deals)


@pytest.mark.parametrize("preset", ["amocrm", "bitrix24"])
def test_preset_publishes_every_page(preset: str, tmp_path: Path) -> None:
    report = publish(base=config.PARAMS_DIR / "examples" / f"{preset}.yaml", period="2026-Q3", out_dir=tmp_path,
                     progress=False)
    assert [r.status for r in report.results] == ["ok"] * 7, [(r.notebook, r.error) for r in report.results]
