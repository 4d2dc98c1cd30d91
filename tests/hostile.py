"""A hostile corpus: the demo with a payload in every text value of every table, and params
with a payload in every text key — what a tester (or a CRM user's free-text field) could
put into a report.

Payloads: script tags, an ``<img onerror>``, a ``javascript:`` URL, markup that closes the
surrounding element, ``$`` and ``$$`` (chart math), Jinja's ``{{ }}`` and ``{% %}``, very
long text and right-to-left marks. Values are mapped one to one, so joins (a region in
orders, leads and targets; a stage in deals and ``funnel_stages``) still hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from salesnb import config
from salesnb.data.schema import TABLES

MARK = "window.__xss=1"
PAYLOADS = (
    f"<script>{MARK}</script>",
    f'<img src=x onerror="{MARK}">',
    f"javascript:{MARK}",
    f'"><svg onload="{MARK}">',
    f"</pre></table><script>{MARK}</script>",
    "overcharged $$ on invoice",
    "Charged $50 instead of $40",
    "{{ 7*7 }} {% if 1 %}jinja{% endif %}",
    "\u202eevil\u202c right-to-left \u200f",
    "<b>bold</b> & <i>amp</i>",
)
LONG = "long " * 1000  # 5,000 characters

# text columns whose values are names the code also reads (periods, KPI names, column names)
KEEP = {("targets", "period"), ("targets", "kpi"), ("targets", "segment_column")}


def hostile(value: str, i: int) -> str:
    """The i-th distinct value of the data made hostile (the original kept: values stay distinct)."""
    if i == 3:
        return f"{LONG}{value}"
    return f"{PAYLOADS[i % len(PAYLOADS)]} {value}"


def write_hostile_data(demo_dir: Path, folder: Path) -> dict[str, str]:
    """The demo with every text column's values made hostile; returns the mapping used."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {p.stem: pd.read_parquet(p) for p in sorted(demo_dir.glob("*.parquet"))}
    values: set[str] = set()
    columns = {name: [c.name for c in TABLES[name].columns if c.kind == "text" and (name, c.name) not in KEEP
                      and c.name in df.columns] for name, df in tables.items()}
    for name, cols in columns.items():
        for c in cols:
            values |= set(tables[name][c].dropna().astype(str))
    mapping = {v: hostile(v, i) for i, v in enumerate(sorted(values))}
    for name, df in tables.items():
        for c in columns[name]:
            df[c] = df[c].map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
        df.to_parquet(folder / f"{name}.parquet", index=False)
    return mapping


def hostile_params(data_dir: Path, mapping: dict[str, str]) -> dict[str, Any]:
    """base.yaml with a payload in every text key, pointing at the hostile data."""
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    register = config.read_params(config.PARAMS_DIR / "initiatives.yaml")["initiatives"]
    for i, item in enumerate(register):
        for key in ("title", "owner", "hypothesis"):
            item[key] = f"{PAYLOADS[(i + len(key)) % len(PAYLOADS)]} {item[key]}"
        item["id"] = f"{item['id']} <i>{i}</i>"
        item["do"]["change"] = f"{PAYLOADS[i % len(PAYLOADS)]} {item['do']['change']}"
        item["act"] = {"decision": None, "next": f"{PAYLOADS[(i + 1) % len(PAYLOADS)]} next"}
        for section, key in (("plan", "segment"), ("check", "control_segment")):
            seg = item[section].get(key)
            if seg:
                item[section][key] = {col: mapping.get(str(v), v) for col, v in seg.items()}
        if item["plan"].get("stage"):
            item["plan"]["stage"] = mapping.get(item["plan"]["stage"], item["plan"]["stage"])
    params.update({
        "source": str(data_dir),
        "currency": f'<img src=x onerror="{MARK}">',
        "analyst_note": " ".join(PAYLOADS) + " " + LONG,
        "funnel_stages": [mapping.get(s, s) for s in params["funnel_stages"]],
        "custom_kpis": {"big_orders": {**params["custom_kpis"]["big_orders"],
                                       "label": f"<script>{MARK}</script> Orders over $1,000 $$"}},
        "feedback_themes": {f"<script>{MARK}</script> delivery": ["deliver", "$$"],
                            "{{ price }}": ["price", "<b>"], "\u202eRTL": ["quality"]},
        "initiatives": register,
    })
    return params
