"""The index page and the manifest: every period × page with its status and headline KPIs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from salesnb import config
from salesnb.periods import parse_period
from salesnb.publish import files
from salesnb.publish.files import WORKBOOK
from salesnb.publish.html import TEMPLATES, notebook_title
from salesnb.publish.jobs import JobResult

__all__ = ["read_manifest", "write_index", "sparkline"]

SPARK_W, SPARK_H = 120, 30  # a tile's sparkline, in CSS pixels


def sparkline(series: Sequence[float | None], width: int = SPARK_W, height: int = SPARK_H) -> dict[str, Any]:
    """An inline-SVG sparkline's geometry: ``points`` of the polyline (gaps where a period
    has no value split it into ``segments``) and the last point (``x``, ``y``), scaled to
    the series' own range with a pixel of margin. No script: the index's CSP forbids one.

    >>> sparkline([1.0, 3.0, 2.0], width=10, height=10)["segments"]
    ['1.0,9.0 5.0,1.0 9.0,5.0']
    """
    values = [v for v in series if v is not None and v == v]
    if len(values) < 2:
        return {"segments": [], "x": None, "y": None}
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = (width - 2) / max(len(series) - 1, 1)
    segments: list[str] = []
    current: list[str] = []
    last = (0.0, 0.0)
    for i, v in enumerate(series):
        if v is None or v != v:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x, y = 1 + i * step, 1 + (height - 2) * (1 - (v - lo) / span)
        current.append(f"{x:.1f},{y:.1f}")
        last = (x, y)
    if current:
        segments.append(" ".join(current))
    return {"segments": segments, "x": f"{last[0]:.1f}", "y": f"{last[1]:.1f}"}


def read_manifest(out_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    path = out_dir / "manifest.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}
    return {}


def write_index(out_dir: Path, results: Sequence[JobResult], notebooks: Sequence[str], *,
                current_keys: Mapping[tuple[str, str], str] | None = None, fiscal_year_start: int = 1,
                language: str = "en") -> Path:
    """``<out>/index.html``: every period × notebook, newest period first, with status.

    Statuses: ``ok``; ``failed`` (the last good page, if any, is still linked); ``stale``
    (the page's notebook, parameters, code or data changed since it was made);
    ``missing``. The manifest (``<out>/manifest.json``) keeps what earlier runs published.
    """

    from salesnb.texts import using

    with using(language):
        return _write_index(out_dir, results, notebooks, current_keys=current_keys,
                            fiscal_year_start=fiscal_year_start, language=language)


def _write_index(out_dir: Path, results: Sequence[JobResult], notebooks: Sequence[str], *,
                 current_keys: Mapping[tuple[str, str], str] | None, fiscal_year_start: int,
                 language: str) -> Path:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from salesnb.texts import t

    manifest = read_manifest(out_dir)
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for r in results:
        entry = manifest.setdefault(r.period, {}).setdefault(r.notebook, {})
        if r.status == "up to date":
            continue
        entry.update({"status": r.status, "error": r.error, "seconds": round(r.seconds, 1), "at": now})
        if r.status == "ok":
            entry.update({"key": r.key, "fingerprint": r.fingerprint})
            if r.headline:
                manifest[r.period].setdefault("_period", {})["headline"] = dict(r.headline)
            for k, v in r.summary.items():  # the period's findings and KPI tiles
                manifest[r.period].setdefault("_period", {})[k] = v
        else:
            entry["failed_key"] = r.key
    files.atomic_write(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    all_nbs = list(dict.fromkeys([*notebooks, *(n for e in manifest.values() for n in e if n != "_period")]))

    def sort_key(name: str) -> tuple[str, str]:
        p = parse_period(name, fiscal_year_start=fiscal_year_start)
        return (p.end.isoformat(), p.start.isoformat())

    rows = []
    for period in sorted(manifest, key=sort_key, reverse=True):
        folder = period.replace("..", "_to_")
        cells = []
        for nb in all_nbs:
            e = manifest[period].get(nb)
            page = out_dir / folder / f"{nb}.html"
            status = e["status"] if e else "missing"
            key_now = (current_keys or {}).get((period, nb))
            if status == "ok" and key_now and e and key_now != e.get("key"):
                status = "stale"
            note = ""
            if status == "failed":
                note = t("index.kept") if page.is_file() else t("index.no_page")
            elif status == "stale":
                note = t("index.stale_note")
            cells.append({"status": status, "status_text": t(f"index.{status}"),
                          "href": f"{folder}/{nb}.html" if page.is_file() else None,
                          "note": note})
        headline = manifest[period].get("_period", {}).get("headline", {})
        label = parse_period(period, fiscal_year_start=fiscal_year_start).label
        book = out_dir / folder / WORKBOOK
        rows.append({"period": period, "label": label, "cells": cells, "headline": headline,
                     "workbook": f"{folder}/{WORKBOOK}" if book.is_file() else None})
    latest = _latest(out_dir, manifest, sorted(manifest, key=sort_key, reverse=True), fiscal_year_start)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    rendered = env.get_template("index.html.j2").render(
        rows=rows, latest=latest, spark={"w": SPARK_W, "h": SPARK_H},
        notebooks=[{"name": n, "title": notebook_title(config.NOTEBOOKS_DIR / f"{n}.ipynb", language)}
                              for n in all_nbs], language=language,
        text={k: t(f"index.{k}") for k in ("title", "intro", "period", "headline", "view", "workbook", "latest",
                                            "findings", "vs_previous", "trend")} | {"none": t("findings.none")},
        updated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
    path = out_dir / "index.html"
    files.atomic_write(path, rendered)
    return path


def _latest(out_dir: Path, manifest: Mapping[str, Any], periods: Sequence[str],
            fiscal_year_start: int) -> dict[str, Any] | None:
    """The newest period whose overview left its summary: KPI tiles (with sparklines) and
    findings (links into that period's folder, kept only where the page is there)."""
    for period in periods:
        summary = manifest[period].get("_period", {})
        if not summary.get("tiles") and "findings" not in summary:  # an older run, or no overview
            continue
        folder = period.replace("..", "_to_")
        tiles = [{**tile, "spark": sparkline(tile.get("series") or [])} for tile in summary.get("tiles") or []
                 if isinstance(tile, dict)]
        found = []
        for f in summary.get("findings") or []:
            page = str(f.get("link", "")).split("#", 1)[0]
            href = f"{folder}/{f['link']}" if page and (out_dir / folder / page).is_file() else ""
            found.append({**f, "href": href})
        label = parse_period(period, fiscal_year_start=fiscal_year_start).label
        return {"period": period, "label": label, "tiles": tiles, "findings": found}
    return None
