"""Publish the demo for a test: params/base.yaml with the given changes, one period."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from salesnb import config, texts
from salesnb.publish import publish


def demo_params(demo_dir: Path, **changes: Any) -> dict[str, Any]:
    """The project's base params on the test's demo data, with ``changes``."""
    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params.update(source=str(demo_dir), **changes)
    return params


def publish_site(folder: Path, params: dict[str, Any], *, period: str = "2026-10") -> Path:
    """Write ``folder/params/base.yaml`` and publish ``period`` into ``folder/out`` (or the
    params' ``report.out``); every page must succeed. Returns the output folder."""
    base = folder / "params" / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    out = Path((params.get("report") or {}).get("out") or folder / "out")
    try:
        report = publish(base=base, period=period, out_dir=out, progress=False)
    finally:
        texts.set_language("en")
    assert not report.failures, [r.line() for r in report.failures]
    return out
