"""Publish the demo's report with changed params, and compare two published periods: every
page's tables as published, cell for cell, and every sheet of the workbook."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import pandas as pd
import yaml

from salesnb import config

PERIOD = "2026-10"


def publish_with(root: Path, **update: object) -> Path:
    """The base params with ``update``, published for :data:`PERIOD` under ``root``; the
    period's folder."""
    from salesnb.publish import publish

    params = config.read_params(config.PARAMS_DIR / "base.yaml")
    params.update(update)
    base = root / "params" / "base.yaml"
    base.parent.mkdir(parents=True)
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    report = publish(base=base, period=PERIOD, out_dir=root / "out", progress=False)
    assert not report.failures, [r.line() for r in report.failures]
    assert len(report.ran) == len(params["report"]["notebooks"])
    return root / "out" / PERIOD


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _same_to_display(a: pd.DataFrame, b: pd.DataFrame, where: str) -> None:
    """Equal tables as shown, where engines that add in other orders may round a number
    that lies on a rounding boundary the other way: each shown number may differ by one
    unit of its last shown digit, the text around it not at all."""
    assert a.shape == b.shape and list(a.columns) == list(b.columns), where
    for r, c in itertools.product(range(a.shape[0]), range(a.shape[1])):
        x, y = str(a.iat[r, c]), str(b.iat[r, c])  # NaN as "nan": pandas' str dtype keeps it missing
        if x == y:
            continue
        assert _NUMBER.sub("#", x) == _NUMBER.sub("#", y), f"{where}, row {r}, {c}: {x!r} != {y!r}"
        for u, v in zip(_NUMBER.findall(x), _NUMBER.findall(y), strict=True):
            decimals = len(u.partition(".")[2])
            gap = abs(float(u.replace(",", "")) - float(v.replace(",", "")))
            assert gap <= 10.0 ** -decimals * 1.000001, f"{where}, row {r}, {c}: {x!r} != {y!r}"


def same_report(got: Path, expected: Path, *, must_say: str = "", rtol: float = 1e-9) -> None:
    """Every page's tables equal as published, and the workbook's sheets to ``rtol``
    (``rtol=0``: exactly, page and workbook)."""
    pages = sorted(p.name for p in expected.glob("*.html"))
    assert pages and pages == sorted(p.name for p in got.glob("*.html"))
    for name in pages:
        text = (got / name).read_text(encoding="utf-8")
        assert must_say in text, name
        ours, theirs = (pd.read_html(io.StringIO(t)) for t in (text, (expected / name).read_text(encoding="utf-8")))
        assert len(ours) == len(theirs), name
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if rtol == 0:
                pd.testing.assert_frame_equal(a, b, obj=f"{name}, table {i + 1}")
            else:
                _same_to_display(a, b, f"{name}, table {i + 1}")
    sheets, reference = (pd.read_excel(folder / "kpis.xlsx", sheet_name=None) for folder in (got, expected))
    assert sheets.keys() == reference.keys() and sheets
    for sheet, frame in sheets.items():
        pd.testing.assert_frame_equal(frame, reference[sheet], check_dtype=False, check_exact=rtol == 0,
                                      rtol=rtol or 1e-9, obj=f"sheet {sheet}")
    assert (got / "lead_scores.csv").read_bytes() == (expected / "lead_scores.csv").read_bytes()
