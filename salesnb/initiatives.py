"""The PDCA register: the improvement cycles that ``params/initiatives.yaml`` (or params
themselves) list, read and checked as the pages will use them (see :mod:`salesnb.pdca` for
the format, the Check and the Act).

Light on purpose: the publisher checks every register before any page runs, and this needs
no statistics, no engine and no data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from salesnb.kpis import registry
from salesnb.texts import t

__all__ = ["Initiative", "parse_register", "read_register", "register_from"]


@dataclass(frozen=True)
class Initiative:
    """One improvement cycle of the register."""

    id: str
    title: str
    owner: str
    hypothesis: str
    kpi: str
    segment: Mapping[str, str]
    target_change: float
    target_relative: bool
    baseline_start: date
    baseline_end: date
    start: date
    change: str
    check_start: date
    check_end: date
    stage: str | None = None
    control_segment: Mapping[str, str] | None = None
    decision: str | None = None
    next: str | None = None

    @property
    def segment_label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.segment.items()) or t("pdca_text.whole_company")

    @property
    def control_label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in (self.control_segment or {}).items())

    @property
    def kpi_label(self) -> str:
        return f"{self.kpi} ({self.stage})" if self.stage else self.kpi


_TARGET = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(%?)\s*$")


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date like 2026-03-01") from None


def _window(value: Any, where: str) -> tuple[date, date]:
    if not isinstance(value, Mapping) or not {"start", "end"} <= set(value):
        raise ValueError(f"{where}: give start and end, e.g. {{start: 2026-03-01, end: 2026-08-31}}")
    start, end = _date(value["start"], f"{where}.start"), _date(value["end"], f"{where}.end")
    if end < start:
        raise ValueError(f"{where}: ends ({end}) before it starts ({start})")
    return start, end


def _segment(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > 1:
        raise ValueError(f"{where}: one column filter such as {{region: North}}, or {{}}")
    return {str(k): str(v) for k, v in value.items()}


def parse_register(content: Any, *, custom_kpis: Mapping[str, Any] | None = None,
                   source: str = "initiatives") -> list[Initiative]:
    """Validate a register's content; errors name the initiative and the field.

    Every initiative is checked; the ``ValueError`` lists the first problem of each
    initiative that has one.

    >>> parse_register({"initiatives": [{"id": "X", "title": "t", "plan": "x", "do": {"start": 1},
    ...                                  "check": {"window": 1}}]})
    Traceback (most recent call last):
    ...
    ValueError: initiatives: initiative X: plan: a mapping of kpi, segment, target_change, baseline, not 'x'
    """
    items = content.get("initiatives") if isinstance(content, Mapping) else content
    if not isinstance(items, list):
        raise ValueError(f"{source}: expected a list under 'initiatives'")
    reg = registry(custom_kpis)
    out: list[Initiative] = []
    seen: set[str] = set()
    problems = []
    for i, item in enumerate(items, 1):
        try:
            out.append(_initiative(item, i, source, reg, seen))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("\n".join(problems))
    return out


_SECTIONS = {"plan": "kpi, segment, target_change, baseline", "do": "start, change",
             "check": "window, control_segment", "act": "decision, next"}


def _initiative(item: Any, i: int, source: str, reg: Mapping[str, Any], seen: set[str]) -> Initiative:
    if not isinstance(item, Mapping):
        raise ValueError(f"{source}: initiative {i} is not a mapping")
    ident = str(item.get("id") or f"#{i}")
    where = f"{source}: initiative {ident}"
    for key in ("id", "title", "plan", "do", "check"):
        if not item.get(key):
            raise ValueError(f"{where}: '{key}' is missing")
    for key, fields in _SECTIONS.items():
        if item.get(key) is not None and not isinstance(item[key], Mapping):
            raise ValueError(f"{where}: {key}: a mapping of {fields}, not {item[key]!r}")
    for key in ("title", "owner", "hypothesis"):
        if isinstance(item.get(key), Mapping | list):
            raise ValueError(f"{where}: {key}: a text, not a {type(item[key]).__name__}")
    if ident in seen:
        raise ValueError(f"{where}: id used twice")
    seen.add(ident)
    plan, do, chk, act = item["plan"], item["do"], item["check"], item.get("act") or {}
    kpi = plan.get("kpi")
    if kpi not in reg:
        raise ValueError(f"{where}: plan.kpi {kpi!r} is not a KPI ({', '.join(reg)})")
    stage = plan.get("stage")
    if kpi == "stage_conversion" and not stage:
        raise ValueError(f"{where}: plan.stage is needed for stage_conversion")
    m = _TARGET.match(str(plan.get("target_change", "")))
    if not m:
        raise ValueError(f"{where}: plan.target_change {plan.get('target_change')!r} is not a change "
                         "like +0.05 or +10%")
    baseline = _window(plan.get("baseline"), f"{where}: plan.baseline")
    start = _date(do.get("start"), f"{where}: do.start")
    check_window = _window(chk.get("window"), f"{where}: check.window")
    if baseline[1] >= start:
        raise ValueError(f"{where}: plan.baseline must end before do.start ({start})")
    if check_window[0] < start:
        raise ValueError(f"{where}: check.window must start on or after do.start ({start})")
    decision = act.get("decision")
    if decision not in (None, "standardise", "adjust", "roll_back", "keep_running", "stop"):
        raise ValueError(f"{where}: act.decision {decision!r} is not standardise, adjust, roll_back, "
                         "keep_running or stop")
    return Initiative(
        id=ident, title=str(item["title"]), owner=str(item.get("owner", "")),
        hypothesis=str(item.get("hypothesis", "")), kpi=str(kpi), stage=stage,
        segment=_segment(plan.get("segment"), f"{where}: plan.segment"),
        target_change=float(m.group(1)) / (100 if m.group(2) else 1), target_relative=bool(m.group(2)),
        baseline_start=baseline[0], baseline_end=baseline[1], start=start,
        change=str(do.get("change", "")), check_start=check_window[0], check_end=check_window[1],
        control_segment=_segment(chk.get("control_segment"), f"{where}: check.control_segment") or None,
        decision=decision, next=act.get("next"))


def read_register(path: str | Path, *, custom_kpis: Mapping[str, Any] | None = None) -> list[Initiative]:
    """The initiatives of ``params/initiatives.yaml``, validated."""
    from salesnb.config import read_params

    return parse_register(read_params(path), custom_kpis=custom_kpis, source=str(path))


def register_from(spec: Any, *, root: str | Path, custom_kpis: Mapping[str, Any] | None = None) -> list[Initiative]:
    """The register named by params' ``initiatives``: a YAML file (relative to ``root``), a list
    of initiatives written inline, or nothing (``""``, ``null``, ``[]``): no register.

    >>> register_from([], root=".")
    []
    """
    if spec is None or spec == "" or spec == []:
        return []
    if isinstance(spec, list):
        return parse_register({"initiatives": spec}, custom_kpis=custom_kpis, source="params initiatives")
    if isinstance(spec, str | Path):
        return read_register(Path(root) / spec, custom_kpis=custom_kpis)
    raise ValueError(f"params initiatives: a file name or a list of initiatives, not {spec!r}")
