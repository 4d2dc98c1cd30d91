"""Write the two CRM activity samples beside the deal samples, in their vendors' formats.

- ``amocrm_events.csv``: amoCRM's event list (Аналитика → Список событий → Экспорт): cp1251,
  ``;``, dates dd.mm.yyyy HH:MM:SS, one row per event of any entity — calls with their
  duration in seconds and result, e-mails, meetings, chat messages, and stage changes
  (not activities: the preset filters them out);
- ``bitrix24_activities.csv``: Bitrix24's ``crm_activity`` dataset (BI Builder) as CSV:
  UTF-8, ``;``, every field quoted, ISO dates, ``OWNER_TYPE_ID`` 2 for a deal, 1 for a lead,
  3 for a contact, ``TYPE_NAME`` Звонок / Письмо / Встреча / Открытая линия / Дело.

The activities belong to the deals of ``amocrm_deals.csv`` and ``bitrix24_deals.csv`` (their
ids, owners and dates). Run ``python tests/data/write_crm_activities.py``; the output is the
same on every run.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
END = pd.Timestamp("2026-10-15")


def _deals(name: str, encoding: str, id_col: str, owner: str, created: str, closed: str | None) -> pd.DataFrame:
    df = pd.read_csv(HERE / name, sep=";", encoding=encoding, dtype=str, keep_default_na=False)
    out = pd.DataFrame({"deal_id": df[id_col], "owner": df[owner],
                        "created": pd.to_datetime(df[created], format="%d.%m.%Y %H:%M:%S")})
    out["closed"] = (pd.to_datetime(df[closed], format="%d.%m.%Y %H:%M:%S", errors="coerce") if closed
                     else pd.NaT)
    return out


def _times(rng: np.random.Generator, deals: pd.DataFrame, per_deal: tuple[int, int]) -> pd.DataFrame:
    n = rng.integers(*per_deal, size=len(deals))
    idx = np.repeat(np.arange(len(deals)), n)
    start = deals["created"].to_numpy()[idx]
    stop = deals["closed"].fillna(END).clip(upper=END).to_numpy()[idx]
    stop = np.maximum(stop, start)
    when = pd.DatetimeIndex(start + (stop - start) * rng.random(len(idx))).normalize()
    when = when + pd.to_timedelta(rng.uniform(8.5, 19.5, size=len(idx)), unit="h")
    return pd.DataFrame({"deal": idx, "when": when.floor("min")}).sort_values("when", kind="stable")


def amocrm(rng: np.random.Generator) -> None:
    deals = _deals("amocrm_deals.csv", "cp1251", "ID", "Ответственный", "Дата создания", "Дата закрытия")
    ev = _times(rng, deals, (6, 12))
    kinds = np.array(["Исходящий звонок", "Входящий звонок", "Письмо отправлено", "Встреча", "Сообщение в чате",
                      "Изменение этапа продажи"])
    kind = kinds[rng.choice(6, size=len(ev), p=(0.4, 0.1, 0.2, 0.1, 0.1, 0.1))]
    call = np.char.find(kind.astype(str), "звонок") >= 0
    results = np.array(["Разговор состоялся", "Не дозвонился", "Занято", "Оставлено голосовое сообщение"])
    result = np.where(call, results[rng.choice(4, size=len(ev), p=(0.65, 0.2, 0.1, 0.05))], "")
    seconds = np.where(call & (result == "Разговор состоялся"), rng.gamma(2.0, 150.0, size=len(ev)).round(), 0)
    rows = []
    for i, (d, when) in enumerate(zip(ev["deal"], ev["when"], strict=True)):
        deal = deals.iloc[d]
        rows.append([f"01j{i:08d}amo", when.strftime("%d.%m.%Y %H:%M:%S"), deal["owner"], "Сделка", deal["deal_id"],
                     f"Сделка #{deal['deal_id']}", kind[i], str(int(seconds[i])) if call[i] else "", result[i],
                     "Просит скидку" if rng.random() < 0.05 else ""])
    with open(HERE / "amocrm_events.csv", "w", encoding="cp1251", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["ID события", "Дата", "Автор", "Тип сущности", "ID сущности", "Название сущности", "Событие",
                    "Длительность, сек", "Результат звонка", "Примечание"])
        w.writerows(rows)


def bitrix24(rng: np.random.Generator) -> None:
    deals = _deals("bitrix24_deals.csv", "utf-8", "ID", "Ответственный", "Дата создания", None)
    ev = _times(rng, deals, (5, 11))
    names = np.array(["Звонок", "Письмо", "Встреча", "Открытая линия", "Дело"])
    type_ids = {"Звонок": "2", "Письмо": "4", "Встреча": "1", "Открытая линия": "6", "Дело": "6"}
    providers = {"Звонок": "VOXIMPLANT_CALL", "Письмо": "CRM_EMAIL", "Встреча": "CRM_MEETING",
                 "Открытая линия": "IMOPENLINES_SESSION", "Дело": "CRM_TODO"}
    kind = names[rng.choice(5, size=len(ev), p=(0.45, 0.25, 0.1, 0.1, 0.1))]
    rows = []
    for i, (d, when) in enumerate(zip(ev["deal"], ev["when"], strict=True)):
        deal = deals.iloc[d]
        end = when + pd.Timedelta(minutes=int(rng.integers(2, 40)))
        rows.append([str(9000 + i), f"{kind[i]}: {deal['deal_id']}", type_ids[kind[i]], kind[i], providers[kind[i]],
                     deal["deal_id"], "2", "Сделка", deal["owner"], "Y" if rng.random() < 0.9 else "N",
                     when.strftime("%Y-%m-%d %H:%M:%S"), when.strftime("%Y-%m-%d %H:%M:%S"),
                     end.strftime("%Y-%m-%d %H:%M:%S"), ""])
    for j in range(12):  # activities of contacts and leads: not the deals' (the preset keeps deals only)
        when = pd.Timestamp("2026-08-03 10:00") + pd.Timedelta(hours=int(rng.integers(0, 900)))
        rows.append([str(9500 + j), "Звонок клиенту", "2", "Звонок", "VOXIMPLANT_CALL", str(70 + j),
                     "3" if j % 2 else "1", "Контакт" if j % 2 else "Лид", "Лев Чен", "Y",
                     when.strftime("%Y-%m-%d %H:%M:%S"), when.strftime("%Y-%m-%d %H:%M:%S"),
                     when.strftime("%Y-%m-%d %H:%M:%S"), ""])
    with open(HERE / "bitrix24_activities.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", quoting=csv.QUOTE_ALL)
        w.writerow(["ID", "SUBJECT", "TYPE_ID", "TYPE_NAME", "PROVIDER_ID", "OWNER_ID", "OWNER_TYPE_ID",
                    "OWNER_TYPE_NAME", "RESPONSIBLE_NAME", "COMPLETED", "DATE_CREATE", "START_TIME", "END_TIME",
                    "DESCRIPTION"])
        w.writerows(rows)


if __name__ == "__main__":
    amocrm(np.random.default_rng(2026_12_06))
    bitrix24(np.random.default_rng(2026_12_07))
