"""A deterministic demo company: every canonical table, 2024-01-01 to 2026-10-31.

The generator draws leads, deals moving through the funnel, customers, orders, returns
and refusals, feedback in English and Russian, activities, campaigns and monthly targets
from one seeded random generator, so every run writes identical files. It plants facts
that the reports must find, and writes their true values to ``truth.json``:

- ``initiatives``: from 2026-03-01 a new call script raises conversion at the
  ``qualified`` stage in region North by 25 points (South is the control); a second
  initiative (negotiation stage, East, from 2026-05-01) has no effect at all;
- ``returns_spike``: extra returns for reason ``defective`` in 2026-06;
- ``weak_stage``: ``proposal`` converts clearly worse than the other stages;
- ``poor_channel``: ``Events`` spends far more than the revenue it brings;
- ``response_time``: leads answered later convert less (odds × 0.76 per doubling of the
  hours to the first response, at any channel; Events leads wait longer);
- ``odd_rep``: one rep's activities are mostly e-mails where the team calls;
- ``fast_segment``: ``Accessories`` takes a rising share of the starter and standard packs'
  orders from 2025 (relabelled: no total moves);
- ``new_product`` and ``white_space``: ``Training``, launched 2026-03, bought by 60% of the
  Enterprise customers active in the year to 2026-10 and 4% of the others.

It looks like real sales, not like the model a test assumes (``truth["realism"]`` records
the generating parameters): orders follow a weekday profile (Saturday ×0.5, Sunday ×0.2)
and dip on Russian public holidays (×0.3); every day has its own multiplier (gamma, CV
0.15) shared by its orders and leads; one day's orders are alike in size (a day-level
amount factor) and amounts are heavy-tailed; conversion at every funnel stage has
region-month shocks on the logit scale (sd 0.2, AR(1) 0.5 from month to month); lost
deals are closed late (a loss is recorded 2.5× as slowly as a move on).

Run ``python -m salesnb.data.demo data/demo`` (``make data``).

Examples
--------
>>> from salesnb.data.demo import generate
>>> tables, truth = generate(scale=0.02)
>>> sorted(tables)[:3], truth["weak_stage"]
(['activities', 'campaigns', 'customers'], 'proposal')
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.schema import TABLES

__all__ = ["generate", "write_demo", "SEED", "START", "END", "FUNNEL_STAGES", "REGIONS",
           "CHANNELS", "main"]

SEED = 20261031
START = date(2024, 1, 1)
END = date(2026, 10, 31)
REGIONS = ("North", "South", "East", "West")
CHANNELS = ("Organic search", "Paid search", "Social", "Email", "Referral", "Events")
FUNNEL_STAGES = ("qualified", "meeting", "proposal", "negotiation", "won")
SEGMENTS = ("SMB", "Mid-market", "Enterprise")
REPS = {
    "North": ("Anna Ivanova", "Boris Smirnov", "Clara Olsen", "Dmitri Petrov", "Eva Lind"),
    "South": ("Farid Aliyev", "Gloria Ruiz", "Hugo Marin", "Irina Volkova", "Jonas Berg"),
    "East": ("Kira Sokolova", "Leo Chen", "Maria Kuznetsova", "Nikolai Orlov", "Olga Pavlova"),
    "West": ("Pavel Morozov", "Quinn Taylor", "Rosa Alvarez", "Sergei Fedorov", "Tanya Novak"),
}
# product -> (unit price, is a service: its after-sale cancellations are refusals)
PRODUCTS = {
    "Starter kit": (45.0, False), "Standard pack": (90.0, False), "Pro pack": (180.0, False),
    "Accessories": (25.0, False), "Service plan": (120.0, True), "Installation": (250.0, True),
}
# Conversion from each stage to the next; "proposal" is the planted weak stage.
STAGE_PASS = {"qualified": 0.60, "meeting": 0.68, "proposal": 0.38, "negotiation": 0.66}
STAGE_LAG_DAYS = {"qualified": 4.0, "meeting": 6.0, "proposal": 7.0, "negotiation": 6.0}
LOST_REASONS = {
    "qualified": (("no response", "no budget", "not a fit"), (0.5, 0.3, 0.2)),
    "meeting": (("no budget", "no decision", "not a fit"), (0.4, 0.4, 0.2)),
    "proposal": (("price", "competitor", "no decision"), (0.55, 0.3, 0.15)),
    "negotiation": (("price", "competitor", "timing"), (0.4, 0.35, 0.25)),
}
RETURN_REASONS = (("defective", "not as described", "wrong item", "late delivery",
                   "changed mind", "found cheaper"), (0.22, 0.2, 0.13, 0.17, 0.2, 0.08))
REFUSAL_REASONS = (("service not needed", "price", "poor service", "timing"),
                   (0.35, 0.25, 0.2, 0.2))
# realism: what real sales do and a Poisson demo does not (recorded in truth.json)
REALISM: dict[str, Any] = {
    "weekday_orders": [1.0, 1.05, 1.1, 1.05, 1.15, 0.5, 0.2],   # Monday first
    "weekday_leads": [1.0, 1.05, 1.1, 1.05, 1.0, 0.35, 0.3],
    "holidays": "RU", "holiday_factor": 0.3,
    "day_cv": 0.15, "amount_sigma": 0.55, "amount_day_sd": 0.08,
    "stage_shock_sd": 0.2, "stage_shock_ar": 0.5, "lost_lag_factor": 2.5,
}
SEASON = np.array([0.85, 0.88, 0.97, 1.0, 1.0, 0.93, 0.86, 0.9, 1.05, 1.1, 1.2, 1.3])
GROWTH_PER_YEAR = 0.12
LEAD_CHANNEL_SHARE = (0.22, 0.20, 0.18, 0.14, 0.12, 0.14)
# channel -> (share of leads that become deals, share converting directly, monthly spend)
CHANNEL_ECONOMICS = {
    "Organic search": (0.42, 0.06, 2_500.0), "Paid search": (0.42, 0.06, 9_000.0),
    "Social": (0.38, 0.05, 7_000.0), "Email": (0.44, 0.07, 1_500.0),
    "Referral": (0.50, 0.08, 3_000.0), "Events": (0.16, 0.01, 60_000.0),
}
INITIATIVES: list[dict[str, Any]] = [
    {"id": "PDCA-01", "title": "New call script for first calls", "kpi": "stage_conversion",
     "stage": "qualified", "segment": {"region": "North"},
     "control_segment": {"region": "South"}, "start": "2026-03-01", "true_effect": 0.25,
     "expected_verdict": "standardise"},
    {"id": "PDCA-02", "title": "Discount authority for reps in negotiation",
     "kpi": "stage_conversion", "stage": "negotiation", "segment": {"region": "East"},
     "control_segment": {"region": "West"}, "start": "2026-05-01", "true_effect": 0.0,
     "expected_verdict": "keep_running"},
]
SPIKE: dict[str, Any] = {"period": "2026-06", "reason": "defective", "extra_return_rate": 0.03}
# lead scoring: a lead's segment moves its odds of becoming a deal (channel sets the base)
SEGMENT_DEAL_ODDS = {"SMB": 1.0, "Mid-market": 1.6, "Enterprise": 0.55}
# next offers: a purchase of the first product is often followed, within a month, by one of the second
CROSS_SELL = {"Pro pack": ("Accessories", 0.4), "Installation": ("Service plan", 0.4)}
COMMENTS: dict[str, tuple[tuple[str, ...], float]] = {
    # theme -> (comments in English and Russian, typical csat score)
    "delivery": (("Delivery took too long", "The courier was late again",
                  "Доставка задержалась на неделю", "Долго ждали доставку"), 2.4),
    "price": (("Too expensive compared to others", "Prices went up again",
               "Цена выше, чем у конкурентов", "Дорого для нашего бюджета"), 2.8),
    "quality": (("The product broke after a week", "Arrived damaged & scratched",
                 "Товар пришёл с браком", "Качество хуже, чем ожидали"), 1.8),
    "support": (("Support never answered my email", "Had to call <three> times",
                 "Служба поддержки не отвечает", "Поддержка долго решает вопросы"), 2.2),
    "manager": (("Our account manager was very helpful", "Quick and friendly manager",
                 "Менеджер быстро помог", "Спасибо менеджеру за консультацию"), 4.7),
    "product": (("Great product, works as described", "Exactly what we needed",
                 "Отличный товар, всё понравилось", "Работает как надо"), 4.6),
}
# the first response: log2 of the hours to it is normal around log2_hours, shifted by the
# lead's channel, and by converted_shift for leads that convert within maturity_days; the
# log odds of converting then change by converted_shift / sd**2 per doubling of the wait
RESPONSE: dict[str, Any] = {
    "log2_hours": 2.0, "sd": 1.6, "converted_shift": -0.7, "maturity_days": 90,
    "channel_shift": {"Events": 1.0, "Referral": -0.5, "Paid search": -0.3},
}
# the market page: a product whose sales grow faster than the rest's, and a new product that one
# customer segment takes up (the white space: that segment's customers who have not bought it yet);
# both relabel the product of orders of the `from` products, so totals, counts and returns stay
MARKET: dict[str, Any] = {
    "fast_product": "Accessories", "from": ["Starter kit", "Standard pack"], "ramp_per_year": 0.1,
    "ramp_from": "2025-01-01", "judged_at": "2026-10",
    "new_product": {"product": "Training", "launched": "2026-03-01", "segment": "Enterprise", "share": 0.6,
                    "others": 0.04},
}
# one rep's activities are mostly e-mails (the others': 45% calls, 30% e-mails, 15% meetings, 10% messages)
ODD_REP: dict[str, Any] = {"owner": "Leo Chen", "kinds": (0.15, 0.6, 0.15, 0.1)}
EMPLOYEE_COMMENTS = (
    "The CRM is slow and loses call notes", "Leads from events are poorly qualified",
    "No script for price objections", "Слишком много отчётов, мало времени на клиентов",
    "Нет скрипта для работы с возражениями по цене", "CRM тормозит и теряет заметки",
)


def _days(start: date, end: date) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


def _years_since_start(ts: np.ndarray) -> np.ndarray:
    return (ts - np.datetime64(START)) / np.timedelta64(365, "D")


def _ts(day: np.ndarray, rng: np.random.Generator, *, hours: tuple[int, int] = (8, 19)) -> np.ndarray:
    """Dates plus a random business-hours time of day, to the minute."""
    minutes = rng.integers(hours[0] * 60, hours[1] * 60, size=len(day))
    return (day.astype("datetime64[D]").astype("datetime64[s]")
            + minutes.astype("timedelta64[m]")).astype("datetime64[s]")


def _after(ts: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Timestamps shifted by a (fractional) number of days, to the minute."""
    return (ts + (np.asarray(days) * 24 * 60).round().astype("timedelta64[m]")).astype("datetime64[s]")


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _day_weights(rng: np.random.Generator, profile: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(days, weight per day) from START to END: weekday profile × holidays × a day multiplier."""
    import holidays

    days = _days(START, END)
    hol = np.isin(days.date, np.array(list(holidays.country_holidays(
        REALISM["holidays"], years=range(START.year, END.year + 1))), dtype=object))
    cv = REALISM["day_cv"]
    w = (np.asarray(profile)[days.day_of_week] * np.where(hol, REALISM["holiday_factor"], 1.0)
         * rng.gamma(1 / cv**2, cv**2, size=len(days)))
    return days.values.astype("datetime64[D]"), w


def _stage_shocks(rng: np.random.Generator) -> dict[tuple[str, str, str], float]:
    """Region-month shocks to each stage's conversion on the logit scale, AR(1) over months."""
    months = [str(m) for m in pd.period_range(START, END, freq="M")]
    sd, ar = REALISM["stage_shock_sd"], REALISM["stage_shock_ar"]
    out = {}
    for stage in FUNNEL_STAGES[:-1]:
        for region in REGIONS:
            x = rng.normal(0, sd)
            for m in months:
                out[(stage, region, m)] = x
                x = ar * x + rng.normal(0, sd * np.sqrt(1 - ar**2))
    return out


def _campaigns(rng: np.random.Generator) -> pd.DataFrame:
    """Consecutive campaigns per channel covering the whole span: 40 in all."""
    per_channel = (7, 7, 7, 7, 6, 6)
    rows = []
    span = (END - START).days + 1
    n = 0
    for channel, k in zip(CHANNELS, per_channel, strict=True):
        cuts = np.sort(rng.choice(np.arange(30, span - 30), size=k - 1, replace=False))
        bounds = np.concatenate([[0], cuts, [span]])
        monthly = CHANNEL_ECONOMICS[channel][2]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            n += 1
            s = pd.Timestamp(START) + pd.Timedelta(days=int(a))
            e = pd.Timestamp(START) + pd.Timedelta(days=int(b) - 1)
            season = ("winter", "spring", "summer", "autumn")[(s.month % 12) // 3]
            rows.append({
                "campaign_id": f"CMP{n:02d}", "channel": channel, "started_at": s,
                "ended_at": e, "spend": round(monthly * (b - a) / 30.4 * rng.uniform(0.85, 1.15), 2),
                "name": f"{channel} — {season} {s.year}",
            })
    return pd.DataFrame(rows)


def _campaign_of(campaigns: pd.DataFrame, channel: np.ndarray, created: np.ndarray) -> np.ndarray:
    out = np.full(len(channel), None, dtype=object)
    for row in campaigns.itertuples():
        hit = ((channel == row.channel) & (created >= np.datetime64(row.started_at))
               & (created < np.datetime64(row.ended_at + pd.Timedelta(days=1))))
        out[hit] = row.campaign_id
    return out


def _leads(rng: np.random.Generator, campaigns: pd.DataFrame, scale: float) -> pd.DataFrame:
    days = _days(START, END)
    t = _years_since_start(days.values)
    _, weekday = _day_weights(rng, REALISM["weekday_leads"])
    intensity = 43.0 * scale * (1 + GROWTH_PER_YEAR) ** t * SEASON[days.month - 1] * weekday
    per_day = rng.poisson(intensity)
    day = np.repeat(days.values, per_day)
    n = len(day)
    created = _ts(day, rng)
    order = np.argsort(created, kind="stable")
    created = created[order]
    channel = np.array(CHANNELS, dtype=object)[rng.choice(6, size=n, p=LEAD_CHANNEL_SHARE)]
    region = np.array(REGIONS, dtype=object)[rng.choice(4, size=n, p=(0.3, 0.25, 0.25, 0.2))]
    rep = rng.integers(0, 5, size=n)
    owner = np.array([REPS[r][i] for r, i in zip(region, rep, strict=True)], dtype=object)
    segment = np.array(SEGMENTS, dtype=object)[rng.choice(3, size=n, p=(0.6, 0.3, 0.1))]
    return pd.DataFrame({
        "lead_id": _ids("L", n, 6), "created_at": created, "channel": channel,
        "campaign_id": _campaign_of(campaigns, channel, created), "region": region,
        "owner": owner, "segment": segment,
    })


def _stage_pass(stage: str, region: str, entered: np.datetime64,
                shocks: dict[tuple[str, str, str], float] | None = None) -> float:
    p = STAGE_PASS[stage]
    if shocks:
        shock = shocks.get((stage, region, str(entered)[:7]), 0.0)
        p = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + shock)))
    for ini in INITIATIVES:
        if (stage == ini["stage"] and region == ini["segment"]["region"]
                and entered >= np.datetime64(ini["start"])):
            p = min(p + ini["true_effect"], 0.98)
    return p


def deal_chance(leads: pd.DataFrame) -> np.ndarray:
    """Each lead's chance of becoming a deal: its channel's share, its segment's odds."""
    base = leads["channel"].map({c: v[0] for c, v in CHANNEL_ECONOMICS.items()}).to_numpy(float)
    odds = base / (1 - base) * leads["segment"].map(SEGMENT_DEAL_ODDS).to_numpy(float)
    return odds / (1 + odds)


def _win_chance(leads: pd.DataFrame, shocks: dict[tuple[str, str, str], float]) -> np.ndarray:
    """Each lead's chance that a deal from it is won: the stage pass chances of its region,
    at the months it would enter them (nominal lags), shocks and initiatives included."""
    created = leads["created_at"].to_numpy().astype("datetime64[s]")
    out = np.ones(len(leads))
    when = created + np.timedelta64(3 * 24, "h")  # deals open about three days after the lead
    for stage in FUNNEL_STAGES[:-1]:
        months = when.astype("datetime64[M]")
        cache: dict[tuple[str, Any], float] = {}
        p = np.empty(len(leads))
        for i, (region, month) in enumerate(zip(leads["region"].to_numpy(), months, strict=True)):
            key = (region, month)
            if key not in cache:
                cache[key] = _stage_pass(stage, region, np.datetime64(month, "s"), shocks)
            p[i] = cache[key]
        out *= p
        when = when + np.timedelta64(int(2 * STAGE_LAG_DAYS[stage] * 24), "h")
    return out


def _deals(rng: np.random.Generator, leads: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[Any, float]]:
    """Deals from leads, each walked through the funnel stage by stage."""
    end = np.datetime64(END) + np.timedelta64(1, "D")
    is_deal = rng.random(len(leads)) < deal_chance(leads)
    src = leads[is_deal]
    created = _after(src["created_at"].to_numpy(), rng.gamma(2.0, 1.5, size=len(src)))
    keep = created < end
    src, created = src[keep], created[keep]
    n = len(src)
    deal_ids = _ids("D", n, 5)
    stage_rows: list[tuple[str, str, np.datetime64]] = []
    outcome = np.full(n, "open", dtype=object)
    closed = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    last_stage = np.full(n, "qualified", dtype=object)
    lost_reason = np.full(n, None, dtype=object)
    regions = src["region"].to_numpy()
    entered0 = _after(created, rng.uniform(0, 2, size=n))
    u_pass = rng.random((n, 4))
    lags = rng.gamma(2.0, 1.0, size=(n, 4))
    u_reason = rng.random((n, 4))
    shocks = _stage_shocks(rng)
    for i in range(n):
        when = entered0[i]
        if when >= end:
            continue
        stage_rows.append((deal_ids[i], "qualified", when))
        for k, stage in enumerate(FUNNEL_STAGES[:-1]):
            passes = u_pass[i, k] < _stage_pass(stage, regions[i], when, shocks)
            # a deal that will be lost lingers: the loss is recorded late
            slow = 1.0 if passes else REALISM["lost_lag_factor"]
            nxt = _after(np.array([when]), np.array([lags[i, k] * STAGE_LAG_DAYS[stage] * slow]))[0]
            if nxt >= end:
                break  # still open at the end of the data
            if not passes:
                names, probs = LOST_REASONS[stage]
                outcome[i], closed[i] = "lost", nxt
                lost_reason[i] = names[int(np.searchsorted(np.cumsum(probs), u_reason[i, k]))]
                break
            when = nxt
            stage_rows.append((deal_ids[i], FUNNEL_STAGES[k + 1], when))
            last_stage[i] = FUNNEL_STAGES[k + 1]
            if FUNNEL_STAGES[k + 1] == "won":
                outcome[i], closed[i] = "won", when
    seg_amount = {"SMB": 1500.0, "Mid-market": 5000.0, "Enterprise": 15000.0}
    amount = (src["segment"].map(seg_amount).to_numpy()
              * rng.lognormal(0.0, 0.35, size=n)).round(2)
    deals = pd.DataFrame({
        "deal_id": deal_ids, "created_at": created, "outcome": outcome, "closed_at": closed,
        "stage": last_stage, "amount": amount, "owner": src["owner"].to_numpy(),
        "region": regions, "product": np.array(list(PRODUCTS), dtype=object)[
            rng.choice(len(PRODUCTS), size=n)],
        "lead_id": src["lead_id"].to_numpy(), "customer_id": None, "lost_reason": lost_reason,
    })
    stages = pd.DataFrame(stage_rows, columns=["deal_id", "stage", "entered_at"])
    return deals, stages, shocks


def _customers(rng: np.random.Generator, leads: pd.DataFrame, deals: pd.DataFrame,
               scale: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Existing customers (history before 2024) plus those won from leads and deals."""
    end = np.datetime64(END) + np.timedelta64(1, "D")
    leads = leads.copy()
    deals = deals.copy()
    won = deals["outcome"] == "won"
    # direct (self-serve) conversions among leads without a deal
    p_direct = leads["channel"].map({c: v[1] for c, v in CHANNEL_ECONOMICS.items()}).to_numpy()
    no_deal = ~leads["lead_id"].isin(deals["lead_id"]).to_numpy()
    direct_at = _after(leads["created_at"].to_numpy(), rng.gamma(2.0, 5.0, size=len(leads)))
    direct = no_deal & (rng.random(len(leads)) < p_direct) & (direct_at < end)

    n_old = int(round(1500 * scale))
    old = pd.DataFrame({
        "first_purchase_at": _ts(np.datetime64("2019-01-01") + rng.integers(
            0, (np.datetime64("2023-12-31") - np.datetime64("2019-01-01")).astype(int),
            size=n_old).astype("timedelta64[D]"), rng),
        "segment": np.array(SEGMENTS, dtype=object)[rng.choice(3, size=n_old, p=(0.6, 0.3, 0.1))],
        "region": np.array(REGIONS, dtype=object)[rng.choice(4, size=n_old, p=(0.3, 0.25, 0.25, 0.2))],
        "acquired_via": np.array(CHANNELS, dtype=object)[rng.choice(6, size=n_old, p=LEAD_CHANNEL_SHARE)],
    })
    old["owner"] = [REPS[r][i] for r, i in zip(old["region"], rng.integers(0, 5, size=n_old), strict=True)]
    old["since"] = np.datetime64(START, "s")

    won_deals = deals[won].merge(leads[["lead_id", "channel", "segment"]], on="lead_id")
    new_from_deals = pd.DataFrame({
        "first_purchase_at": pd.NaT, "segment": won_deals["segment"].to_numpy(),
        "region": won_deals["region"].to_numpy(), "acquired_via": won_deals["channel"].to_numpy(),
        "owner": won_deals["owner"].to_numpy(), "since": won_deals["closed_at"].to_numpy(),
        "deal_id": won_deals["deal_id"].to_numpy(), "lead_id": won_deals["lead_id"].to_numpy(),
    })
    d = leads[direct]
    new_direct = pd.DataFrame({
        "first_purchase_at": pd.NaT, "segment": d["segment"].to_numpy(),
        "region": d["region"].to_numpy(), "acquired_via": d["channel"].to_numpy(),
        "owner": d["owner"].to_numpy(), "since": direct_at[direct], "deal_id": None,
        "lead_id": d["lead_id"].to_numpy(),
    })
    customers = pd.concat([old, new_from_deals, new_direct], ignore_index=True)
    customers["customer_id"] = _ids("C", len(customers), 5)

    by_lead = customers.dropna(subset=["lead_id"]).set_index("lead_id")
    leads["customer_id"] = leads["lead_id"].map(by_lead["customer_id"])
    leads["converted_at"] = leads["lead_id"].map(by_lead["since"])
    deals["customer_id"] = deals["lead_id"].map(by_lead["customer_id"]).where(won)
    # lost leads carry the deal's lost reason; stale leads without contact say so
    lost_deal = deals[deals["outcome"] == "lost"].set_index("lead_id")["lost_reason"]
    leads["lost_reason"] = leads["lead_id"].map(lost_deal)
    stale = (leads["customer_id"].isna() & leads["lost_reason"].isna() & no_deal
             & (leads["created_at"] < pd.Timestamp(END) - pd.Timedelta(days=60)))
    leads.loc[stale, "lost_reason"] = np.where(rng.random(int(stale.sum())) < 0.6,
                                               "no response", "not interested")
    return customers, leads, deals


def _orders(rng: np.random.Generator, customers: pd.DataFrame) -> pd.DataFrame:
    """Repeat orders per customer: a monthly rate × season × growth, until they churn."""
    end = np.datetime64(END) + np.timedelta64(1, "D")
    n = len(customers)
    since = customers["since"].to_numpy().astype("datetime64[s]")
    lifetime = rng.exponential(30 * 30.4, size=n).astype("timedelta64[D]")
    until = np.minimum(since + lifetime.astype("timedelta64[s]"), end)
    rate = rng.gamma(1.6, 1.1, size=n)  # orders per month, mean ≈ 1.8
    prefs = rng.dirichlet(np.ones(len(PRODUCTS)) * 0.8, size=n)

    months = pd.date_range(START, END, freq="MS").values.astype("datetime64[s]")
    month_end = np.append(months[1:], end.astype("datetime64[s]"))
    a = np.maximum(months[None, :], since[:, None])
    b = np.minimum(month_end[None, :], until[:, None])
    # the calendar: a customer's orders fall on busy days more often (cumulative day weights,
    # continuous in time, so an order's day is drawn by inverting them)
    day0, weights = _day_weights(rng, REALISM["weekday_orders"])
    cum = np.concatenate([[0.0], np.cumsum(weights / weights.mean())])

    def weight_at(ts: np.ndarray) -> np.ndarray:
        x = np.clip((ts - day0[0].astype("datetime64[s]")) / np.timedelta64(1, "D"), 0, len(weights))
        return np.interp(x, np.arange(len(cum)), cum)

    trading = np.clip(weight_at(b) - weight_at(a), 0, None)
    t = _years_since_start(months)
    mu = (rate[:, None] * trading / 30.4 * SEASON[pd.DatetimeIndex(months).month - 1][None, :]
          * ((1 + GROWTH_PER_YEAR) ** t)[None, :])
    counts = rng.poisson(mu)
    ci, mi = np.nonzero(counts)
    reps = counts[ci, mi]
    cust = np.repeat(ci, reps)
    lo = np.repeat(weight_at(a[ci, mi]), reps)
    hi = np.repeat(weight_at(b[ci, mi]), reps)
    u = lo + rng.random(len(cust)) * (hi - lo)
    day_pos = np.interp(u, cum, np.arange(len(cum)))
    ordered = _ts(day0[np.clip(day_pos.astype(int), 0, len(day0) - 1)], rng)
    # the first order of a won deal is the deal itself, on the day it closed
    from_deal = customers["deal_id"].notna().to_numpy()
    first_cust = np.nonzero(from_deal | customers["lead_id"].notna().to_numpy())[0]
    cust = np.concatenate([first_cust, cust])
    ordered = np.concatenate([since[first_cust], ordered])
    k = len(cust)
    product_idx = np.array([rng.choice(len(PRODUCTS), p=prefs[c]) for c in cust[:len(first_cust)]]
                           + list((prefs[cust[len(first_cust):]].cumsum(1)
                                   > rng.random((k - len(first_cust), 1))).argmax(1)))
    names = np.array(list(PRODUCTS), dtype=object)
    prices = np.array([v[0] for v in PRODUCTS.values()])
    qty = rng.geometric(0.55, size=k).clip(max=8)
    day_idx = np.clip(((ordered.astype("datetime64[D]") - day0[0]) / np.timedelta64(1, "D")).astype(int),
                      0, len(day0) - 1)
    day_factors = np.exp(rng.normal(0, REALISM["amount_day_sd"], size=len(day0)))
    day_factor = day_factors[day_idx]
    amount = (prices[product_idx] * qty * rng.lognormal(0.0, REALISM["amount_sigma"], size=k)
              * day_factor).round(2)
    deal_ids = customers["deal_id"].to_numpy()[cust]
    deal_ids[len(first_cust):] = None
    is_first_deal = np.zeros(k, dtype=bool)
    is_first_deal[:len(first_cust)] = from_deal[first_cust]
    amount[is_first_deal] = 0.0  # filled with the deal amount by the caller
    # cross-sell: some purchases of a product are followed within a month by its companion
    extra_cust, extra_at, extra_prod = [], [], []
    for first_product, (then, share) in CROSS_SELL.items():
        i_first, i_then = list(PRODUCTS).index(first_product), list(PRODUCTS).index(then)
        rows = np.flatnonzero((product_idx == i_first) & (rng.random(k) < share))
        at = _after(ordered[rows], rng.uniform(2, 30, size=len(rows)))
        ok = at < until[cust[rows]]
        extra_cust.append(cust[rows][ok])
        extra_at.append(at[ok])
        extra_prod.append(np.full(int(ok.sum()), i_then))
    n_extra = sum(len(x) for x in extra_cust)
    cust = np.concatenate([cust, *extra_cust])
    ordered = np.concatenate([ordered, *extra_at])
    product_idx = np.concatenate([product_idx, *extra_prod]).astype(int)
    extra_qty = rng.geometric(0.55, size=n_extra).clip(max=8)
    qty = np.concatenate([qty, extra_qty])
    extra_day = np.clip(((ordered[k:].astype("datetime64[D]") - day0[0]) / np.timedelta64(1, "D")).astype(int),
                        0, len(day0) - 1)
    amount = np.concatenate([amount, (prices[product_idx[k:]] * extra_qty
                                      * rng.lognormal(0.0, REALISM["amount_sigma"], size=n_extra)
                                      * day_factors[extra_day]).round(2)])
    deal_ids = np.concatenate([deal_ids, np.full(n_extra, None, dtype=object)])
    is_first_deal = np.concatenate([is_first_deal, np.zeros(n_extra, dtype=bool)])
    k = len(cust)
    order = np.lexsort((cust, ordered))
    status = np.where(rng.random(k) < 0.03, "cancelled", "completed").astype(object)
    status[is_first_deal] = "completed"
    df = pd.DataFrame({
        "customer_idx": cust, "ordered_at": ordered, "amount": amount, "status": status,
        "quantity": qty.astype(float), "product": names[product_idx], "deal_id": deal_ids,
    }).iloc[order].reset_index(drop=True)
    df.insert(0, "order_id", _ids("O", len(df), 7))
    return df


def _returns(rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    end = np.datetime64(END) + np.timedelta64(1, "D")
    done = orders[orders["status"] == "completed"]
    service = done["product"].map({k: v[1] for k, v in PRODUCTS.items()}).to_numpy()
    p = np.where(service, 0.045, 0.04)
    hit = rng.random(len(done)) < p
    ret = done[hit]
    returned = _after(ret["ordered_at"].to_numpy(), rng.gamma(2.0, 4.0, size=len(ret)))
    kind = np.where(service[hit], "refusal", "return").astype(object)
    reason = np.empty(len(ret), dtype=object)
    for k, (names, probs) in (("return", RETURN_REASONS), ("refusal", REFUSAL_REASONS)):
        m = kind == k
        reason[m] = np.array(names, dtype=object)[rng.choice(len(names), size=int(m.sum()), p=probs)]
    # the planted spike: extra "defective" returns of goods ordered in the spike month
    spike = pd.Period(SPIKE["period"], "M")
    in_spike = ((done["ordered_at"] >= spike.start_time) & (done["ordered_at"] < spike.end_time
                - pd.Timedelta(days=6)) & ~service & ~hit).to_numpy()
    extra = in_spike & (rng.random(len(done)) < SPIKE["extra_return_rate"])
    ex = done[extra]
    ex_returned = _after(ex["ordered_at"].to_numpy(), rng.uniform(0.5, 5.5, size=len(ex)))
    frames = pd.concat([
        pd.DataFrame({"order_id": ret["order_id"].to_numpy(), "returned_at": returned,
                      "order_amount": ret["amount"].to_numpy(), "reason": reason, "kind": kind}),
        pd.DataFrame({"order_id": ex["order_id"].to_numpy(), "returned_at": ex_returned,
                      "order_amount": ex["amount"].to_numpy(), "reason": SPIKE["reason"],
                      "kind": "return"}),
    ], ignore_index=True)
    frames = frames[frames["returned_at"] < end].sort_values(["returned_at", "order_id"],
                                                             kind="stable")
    partial = rng.random(len(frames)) < 0.2
    share = np.where(partial, rng.uniform(0.2, 0.8, size=len(frames)), 1.0)
    frames["amount"] = (frames.pop("order_amount").to_numpy() * share).round(2)
    frames.insert(0, "return_id", _ids("R", len(frames), 5))
    return frames.reset_index(drop=True)[["return_id", "order_id", "returned_at", "amount",
                                          "reason", "kind"]]


def _comment(rng: np.random.Generator, theme: str) -> str:
    texts = COMMENTS[theme][0]
    return texts[int(rng.integers(len(texts)))]


def _feedback(rng: np.random.Generator, orders: pd.DataFrame, returns: pd.DataFrame,
              customers: pd.DataFrame, scale: float) -> pd.DataFrame:
    end = np.datetime64(END) + np.timedelta64(1, "D")
    themes = list(COMMENTS)
    rows: list[dict[str, Any]] = []
    done = orders[orders["status"] == "completed"]
    returned_reason = returns.drop_duplicates("order_id").set_index("order_id")["reason"]
    # CSAT surveys after orders, and reviews
    for source, n, with_comment in (("survey", 8000, 0.35), ("review", 1500, 0.9)):
        pick = done.iloc[np.sort(rng.choice(len(done), size=int(n * scale), replace=False))]
        for o in pick.itertuples():
            reason = returned_reason.get(o.order_id)
            if reason == "defective" or (reason and rng.random() < 0.5):
                theme = "quality" if reason in ("defective", "not as described") else "delivery"
            else:
                theme = themes[int(rng.choice(len(themes), p=(0.14, 0.14, 0.08, 0.1, 0.24, 0.3)))]
            score = int(np.clip(round(rng.normal(COMMENTS[theme][1], 0.7)), 1, 5))
            rows.append({"received_at": o.ordered_at + pd.Timedelta(days=float(rng.uniform(2, 10))),
                         "source": source, "score": float(score), "scale": "csat5",
                         "comment": _comment(rng, theme) if rng.random() < with_comment else None,
                         "topic": "order", "customer_idx": o.customer_idx, "order_id": o.order_id})
    # NPS surveys of customers, and call notes without a score
    for source, n in (("survey", 4000), ("call", 800), ("interview", 200)):
        cust = rng.integers(0, len(customers), size=int(n * scale))
        when = _ts(np.datetime64(START) + rng.integers(0, (END - START).days, size=len(cust))
                   .astype("timedelta64[D]"), rng)
        for c, w in zip(cust, when, strict=True):
            theme = themes[int(rng.integers(len(themes)))]
            nps = source == "survey"
            nps_score = float(np.clip(round(rng.normal(COMMENTS[theme][1] * 2 + 0.5, 1.8)), 0, 10))
            rows.append({"received_at": pd.Timestamp(w), "source": source,
                         "score": nps_score if nps else np.nan, "scale": "nps10" if nps else None,
                         "comment": _comment(rng, theme) if (not nps or rng.random() < 0.3) else None,
                         "topic": "relationship", "customer_idx": c, "order_id": None})
    for w in _ts(np.datetime64(START) + rng.integers(0, (END - START).days, size=int(500 * scale))
                 .astype("timedelta64[D]"), rng):
        rows.append({"received_at": pd.Timestamp(w), "source": "employee", "score": np.nan,
                     "scale": None, "comment": EMPLOYEE_COMMENTS[int(rng.integers(len(EMPLOYEE_COMMENTS)))],
                     "topic": "internal", "customer_idx": None, "order_id": None})
    fb = pd.DataFrame(rows)
    fb["received_at"] = pd.to_datetime(fb["received_at"]).dt.floor("min")
    fb = fb[fb["received_at"] < pd.Timestamp(end)].sort_values("received_at", kind="stable")
    ids = customers["customer_id"].to_numpy()
    fb["customer_id"] = [ids[int(i)] if pd.notna(i) else None for i in fb.pop("customer_idx")]
    fb.insert(0, "feedback_id", _ids("F", len(fb), 5))
    return fb.reset_index(drop=True)


def _converted_in_time(leads: pd.DataFrame, deals: pd.DataFrame) -> np.ndarray:
    """Each lead converted within RESPONSE["maturity_days"] of coming in, by the rule the
    pages use: its own conversion date, else the close of its first won deal."""
    won = deals[deals["outcome"] == "won"].groupby("lead_id")["closed_at"].min()
    conv = pd.to_datetime(leads["converted_at"]).fillna(leads["lead_id"].map(won))
    return ((conv - leads["created_at"]) <= pd.Timedelta(days=RESPONSE["maturity_days"])).to_numpy()


def _response_hours(rng: np.random.Generator, leads: pd.DataFrame, converted: np.ndarray) -> np.ndarray:
    """Hours to each lead's first response, drawn given whether it converted (see RESPONSE):
    log2 hours is normal with a mean shifted by the channel and by the outcome, so that the
    log odds of converting fall by RESPONSE's slope per doubling of the wait, at any channel."""
    r = RESPONSE
    mean = (r["log2_hours"] + leads["channel"].map(r["channel_shift"]).fillna(0.0).to_numpy(float)
            + np.where(converted, r["converted_shift"], 0.0))
    return np.exp2(mean + r["sd"] * rng.standard_normal(len(leads)))


def _working_hours(ts: np.ndarray) -> np.ndarray:
    hour = pd.DatetimeIndex(ts).hour.to_numpy()
    return (hour >= 8) & (hour < 20)


def _activities(rng: np.random.Generator, leads: pd.DataFrame, deals: pd.DataFrame,
                plant: np.random.Generator) -> pd.DataFrame:
    end = pd.Timestamp(END) + pd.Timedelta(days=1)
    kinds = np.array(["call", "email", "meeting", "message"], dtype=object)
    # every lead gets a first response; its wait goes with converting (RESPONSE)
    hours = _response_hours(plant, leads, _converted_in_time(leads, deals))
    first_at = leads["created_at"].to_numpy() + (hours * 3600e6).astype("timedelta64[us]")
    first = pd.Series(first_at, index=leads["lead_id"].to_numpy())
    k_deal = rng.integers(2, 7, size=len(deals))
    idx = np.repeat(np.arange(len(deals)), k_deal)
    # a deal's activities come after the lead's first response
    start = np.maximum(deals["created_at"].to_numpy()[idx],
                       deals["lead_id"].map(first).to_numpy(dtype="datetime64[us]")[idx])
    stop = np.maximum(deals["closed_at"].fillna(end).to_numpy()[idx], start)
    when = start + ((stop - start) * rng.random(len(idx)))
    # in working hours: the day drawn, the time of day from 8:00 to 20:00 (the next day if that is too early)
    day = when.astype("datetime64[D]").astype("datetime64[us]")
    when = day + (plant.uniform(8, 20, size=len(idx)) * 3600e6).astype("timedelta64[us]")
    when = np.where(when < start, when + np.timedelta64(1, "D"), when)
    kind = kinds[rng.choice(4, size=len(idx), p=(0.45, 0.3, 0.15, 0.1))]
    owner = deals["owner"].to_numpy()[idx]
    odd = owner == ODD_REP["owner"]  # one rep writes where the others call
    kind[odd] = kinds[plant.choice(4, size=int(odd.sum()), p=ODD_REP["kinds"])]
    df = pd.concat([
        pd.DataFrame({"occurred_at": when, "kind": kind, "owner": owner,
                      "lead_id": deals["lead_id"].to_numpy()[idx], "deal_id": deals["deal_id"].to_numpy()[idx]}),
        # a first response outside working hours is an e-mail
        pd.DataFrame({"occurred_at": first_at, "kind": np.where(
                          (plant.random(len(leads)) < 0.8) & _working_hours(first_at), "call", "email"),
                      "owner": leads["owner"].to_numpy(), "lead_id": leads["lead_id"].to_numpy(), "deal_id": None}),
    ], ignore_index=True)
    df = df[df["occurred_at"] < end].sort_values("occurred_at", kind="stable").reset_index(drop=True)
    df["occurred_at"] = df["occurred_at"].dt.floor("min")
    df["duration_min"] = np.where(df["kind"].isin(["call", "meeting"]),
                                  rng.gamma(2.0, 8.0, size=len(df)).round(1), np.nan)
    # calls late in the day reach fewer people
    reach = np.where(df["occurred_at"].dt.hour.to_numpy() >= 17, 0.55, 0.72)
    df["outcome"] = np.where(rng.random(len(df)) < reach, "reached", "no answer")
    df["customer_id"] = df["deal_id"].map(deals.set_index("deal_id")["customer_id"])
    note = np.full(len(df), None, dtype=object)
    note[rng.random(len(df)) < 0.05] = "Asked for a discount"
    df["note"] = note
    df.insert(0, "activity_id", _ids("A", len(df), 6))
    return df


def _window_of(period: str) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """The market page's windows for a month: the twelve months to its end, the twelve before."""
    end = pd.Period(period, "M").end_time.normalize() + pd.Timedelta(days=1)
    return end - pd.DateOffset(years=2), end - pd.DateOffset(years=1), end


def _market(rng: np.random.Generator, orders: pd.DataFrame,
            customers: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Plant the market page's facts (see MARKET) by relabelling the product of existing
    orders, so that no total, count or return moves; return the orders and their truth."""
    orders = orders.copy()
    done = (orders["status"] == "completed").to_numpy()
    at = orders["ordered_at"]
    amount = orders["amount"].to_numpy(float)
    # a product that grows faster than the rest: from `ramp_from`, a rising share of the
    # `from` products' orders is the fast product instead
    fast = MARKET["fast_product"]
    years = ((at - pd.Timestamp(MARKET["ramp_from"])).dt.days / 365.25).clip(lower=0).to_numpy()
    chance = np.where(orders["product"].isin(MARKET["from"]).to_numpy(), MARKET["ramp_per_year"] * years, 0.0)
    moved = rng.random(len(orders)) < chance
    before, start, stop = _window_of(MARKET["judged_at"])

    def sums(lo: pd.Timestamp, hi: pd.Timestamp, shifted: np.ndarray) -> tuple[float, float]:
        w = done & (at >= lo).to_numpy() & (at < hi).to_numpy()
        mine = (orders["product"] == fast).to_numpy()
        return float(amount[w & mine].sum() + shifted[w].sum()), float(amount[w & ~mine].sum() - shifted[w].sum())

    # the truth: the planted factor on the fast product's growth against the rest, with each
    # order moved at its expected chance (the data's own relative growth besides is ~1)
    expected = chance * amount
    (a1, r1), (a0, r0) = sums(start, stop, expected), sums(before, start, expected)
    (b1, q1), (b0, q0) = sums(start, stop, 0 * expected), sums(before, start, 0 * expected)
    relative = (a1 / r1) / (a0 / r0) / ((b1 / q1) / (b0 / q0))
    orders.loc[moved, "product"] = fast
    # a new product, bought by most of one customer segment and few of the others: a buyer's
    # next one or two orders of the `from` products after launch are the new product
    new = MARKET["new_product"]
    launch = pd.Timestamp(new["launched"])
    active = orders[done & (at >= start).to_numpy() & (at < stop).to_numpy()]["customer_id"].unique()
    seg = customers.set_index("customer_id")["segment"].reindex(active).to_numpy()
    buyers = set(active[rng.random(len(active)) < np.where(seg == new["segment"], new["share"], new["others"])])
    take = rng.integers(1, 3, len(active))
    wanted = dict(zip(active, take, strict=True))
    candidates = orders[done & (at >= launch).to_numpy() & orders["customer_id"].isin(buyers).to_numpy()
                        & orders["product"].isin(MARKET["from"]).to_numpy()]
    rank = candidates.groupby("customer_id").cumcount()
    pick = candidates.index[rank.to_numpy() < candidates["customer_id"].map(wanted).to_numpy()]
    orders.loc[pick, "product"] = new["product"]
    # a chosen buyer shows as one only with an order of the `from` products after the launch:
    # the share the page can see is the planted share times the segment's customers that have one
    reachable = set(orders[done & (at >= launch).to_numpy()
                           & orders["product"].isin([*MARKET["from"], new["product"]]).to_numpy()]["customer_id"])
    in_segment = active[seg == new["segment"]]
    visible = float(np.mean([c in reachable for c in in_segment])) if len(in_segment) else 0.0
    truth = {
        "fast_segment": {"dimension": "product", "value": fast, "judged_at": MARKET["judged_at"],
                         "relative_growth": relative},
        "new_product": {"product": new["product"], "launched": new["launched"]},
        "white_space": {"column": "segment", "value": new["segment"], "product": new["product"],
                        "share": new["share"], "others": new["others"], "visible_share": new["share"] * visible,
                        "population": f"customers with a completed order in the twelve months to {MARKET['judged_at']}",
                        "note": "visible_share: the planted share times the segment's active customers "
                                "with an order of the relabelled products after the launch (the others cannot show)"},
    }
    return orders, truth


def _targets(rng: np.random.Generator, orders: pd.DataFrame, leads: pd.DataFrame,
             first_orders: pd.Series) -> pd.DataFrame:
    """Monthly targets: last year's actual plus 10% (2024: the plan, near the actual)."""
    done = orders[orders["status"] == "completed"]
    month = done["ordered_at"].dt.to_period("M")
    actual = pd.DataFrame({
        "revenue": done.groupby(month)["amount"].sum(),
        "orders": done.groupby(month).size(),
        "leads": leads.groupby(leads["created_at"].dt.to_period("M")).size(),
        "new_customers": first_orders.groupby(first_orders.dt.to_period("M")).size(),
    }).reindex(pd.period_range("2024-01", "2026-12", freq="M"))
    rows = []
    for p in actual.index:
        prev = actual.loc[p - 12] if (p - 12) in actual.index else None
        tgt = {}
        for kpi in ("revenue", "orders", "leads", "new_customers"):
            base = prev[kpi] if prev is not None and pd.notna(prev[kpi]) else (
                actual.loc[p, kpi] * rng.uniform(0.95, 1.08))
            base = 0.0 if pd.isna(base) else base  # a tiny demo may have a month without any
            step = 1000 if kpi == "revenue" else 10 if kpi in ("orders", "leads") else 5
            tgt[kpi] = float(round(base * (1.10 if prev is not None else 1.0) / step) * step)
        tgt["average_check"] = round(tgt["revenue"] / tgt["orders"], 2)
        tgt.update({"conversion_rate": 0.12, "win_rate": 0.12, "return_rate": 0.035,
                    "sales_cycle_days": 40.0})
        rows += [{"period": str(p), "kpi": k, "value": v, "segment_column": None,
                  "segment_value": None} for k, v in tgt.items()]
        if p.year == 2026:
            share = {"North": 0.3, "South": 0.25, "East": 0.25, "West": 0.2}
            rows += [{"period": str(p), "kpi": "revenue", "value": float(round(tgt["revenue"] * s, -3)),
                      "segment_column": "region", "segment_value": r} for r, s in share.items()]
    return pd.DataFrame(rows)


def generate(*, seed: int = SEED, scale: float = 1.0) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Generate the demo tables and their truth.

    Parameters
    ----------
    seed
        Seed of the one random generator; equal seeds give equal tables.
    scale
        Multiplies every volume (1.0 ≈ 150k orders); small scales make fast test data.

    Returns
    -------
    tables, truth
        Canonical tables (dtypes as in :mod:`salesnb.data.schema`) and the planted facts.
    """
    rng = np.random.default_rng(seed)
    campaigns = _campaigns(rng)
    leads = _leads(rng, campaigns, scale)
    deals, stages, shocks = _deals(rng, leads)
    # each lead's true chance of converting (a deal won, or a direct purchase without a deal):
    # what a lead-scoring model should approach (written beside the tables, not in them)
    p_deal = deal_chance(leads)
    p_direct = leads["channel"].map({c: v[1] for c, v in CHANNEL_ECONOMICS.items()}).to_numpy(float)
    lead_truth = pd.DataFrame({"lead_id": leads["lead_id"].to_numpy(),
                               "p_convert": p_deal * _win_chance(leads, shocks) + (1 - p_deal) * p_direct})
    customers, leads, deals = _customers(rng, leads, deals, scale)
    orders = _orders(rng, customers)
    # a won deal's first order carries the deal's amount and product
    deal_info = deals.set_index("deal_id")
    first = orders["deal_id"].notna()
    orders.loc[first, "amount"] = orders.loc[first, "deal_id"].map(deal_info["amount"])
    orders.loc[first, "product"] = orders.loc[first, "deal_id"].map(deal_info["product"])
    cust = customers.iloc[orders.pop("customer_idx").to_numpy()]
    orders["customer_id"] = cust["customer_id"].to_numpy()
    orders["channel"] = cust["acquired_via"].to_numpy()
    orders["region"] = cust["region"].to_numpy()
    orders["owner"] = cust["owner"].to_numpy()
    returns = _returns(rng, orders)
    order_cust = orders["customer_id"]
    feedback = _feedback(rng, orders.assign(customer_idx=order_cust.map(
        pd.Series(np.arange(len(customers)), index=customers["customer_id"]))), returns,
        customers, scale)
    # the activities' planted facts draw from their own generator: the other tables stay as they were
    activities = _activities(rng, leads, deals, np.random.default_rng([seed, 24]))
    done = orders[orders["status"] == "completed"]
    first_orders = done.groupby("customer_id")["ordered_at"].min()
    first_orders = first_orders[~first_orders.index.isin(
        customers.loc[customers["first_purchase_at"].notna(), "customer_id"])]
    targets = _targets(rng, orders, leads, first_orders)
    # the market's planted facts come last, from their own generator: the tables above stay as they were
    orders, market = _market(np.random.default_rng([seed, 25]), orders, customers)

    # one line per order: the demo's checks hold one product each (order_lines carry by-product figures)
    order_lines = orders[["order_id", "product", "quantity", "amount"]]
    tables = {
        "orders": orders, "order_lines": order_lines, "returns": returns,
        "customers": customers[["customer_id", "first_purchase_at", "segment", "region",
                                "acquired_via"]],
        "leads": leads, "deals": deals, "deal_stages": stages, "feedback": feedback,
        "activities": activities, "campaigns": campaigns, "targets": targets,
    }
    tables = {name: _canonical(name, df) for name, df in tables.items()}
    truth = {
        "seed": seed, "scale": scale, "start": START.isoformat(), "end": END.isoformat(),
        "funnel_stages": list(FUNNEL_STAGES), "stage_conversion": STAGE_PASS,
        "initiatives": INITIATIVES,
        "returns_spike": {"period": SPIKE["period"], "reason": SPIKE["reason"]},
        "weak_stage": "proposal", "poor_channel": "Events", "realism": REALISM,
        "rows": {name: len(df) for name, df in tables.items()},
        # the forecastable part of every monthly series: a season and steady growth
        "season": {"monthly_factor": [float(x) for x in SEASON], "growth_per_year": GROWTH_PER_YEAR},
        "lead_scoring": {"segment_deal_odds": SEGMENT_DEAL_ODDS,
                         "note": "each lead's true chance of converting is in lead_truth.csv"},
        "response_time": {
            "log_odds_per_doubling": RESPONSE["converted_shift"] / RESPONSE["sd"] ** 2,
            "odds_ratio_per_doubling": float(np.exp(RESPONSE["converted_shift"] / RESPONSE["sd"] ** 2)),
            "maturity_days": RESPONSE["maturity_days"], "channel_shift": RESPONSE["channel_shift"]},
        "odd_rep": {"owner": ODD_REP["owner"], "pattern": "kind", "kinds": list(ODD_REP["kinds"])},
        **market,
        "cross_sell": {first: {"then": then, "share": share, "within_days": 30}
                       for first, (then, share) in CROSS_SELL.items()},
        # not JSON: write_demo writes it as lead_truth.csv beside the tables
        "lead_truth": lead_truth,
    }
    return tables, truth


def _canonical(name: str, df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in TABLES[name].columns if c.name in df.columns]  # optional ones the demo lacks
    out = df[[c.name for c in cols]].copy()
    for c in cols:
        if c.kind in ("id", "text", "category"):
            out[c.name] = out[c.name].astype("str")
    return out.astype({c.name: c.dtype for c in cols}).reset_index(drop=True)


def write_demo(folder: str | os.PathLike[str], *, seed: int = SEED, scale: float = 1.0) -> Path:
    """Write the demo as a canonical folder (one Parquet file per table) plus ``truth.json``.

    Files are written to a temporary folder first and moved into place, so a run that
    stops midway leaves the previous demo whole.
    """
    target = Path(folder)
    tables, truth = generate(seed=seed, scale=scale)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".demo-") as tmp:
        for name, df in tables.items():
            df.to_parquet(Path(tmp) / f"{name}.parquet", index=False, compression="zstd")
        truth = dict(truth)
        truth.pop("lead_truth").to_csv(Path(tmp) / "lead_truth.csv", index=False)  # not a table: not .parquet
        (Path(tmp) / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        target.mkdir(exist_ok=True)
        for f in Path(tmp).iterdir():
            os.replace(f, target / f.name)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the salesnb demo data.")
    parser.add_argument("folder", nargs="?", default="data/demo")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    out = write_demo(args.folder, seed=args.seed, scale=args.scale)
    rows = json.loads((out / "truth.json").read_text())["rows"]
    print(f"demo data written to {out}: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
