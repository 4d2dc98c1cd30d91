"""Notebooks: stored without outputs, parameters that cover params/, and execution on the demo."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

import salesnb
from salesnb import config
from salesnb.publish import plan_jobs
from tests.notebook_run import run_notebook

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
# shared-settings files: base.yaml and the examples (registers of initiatives are not bases)
BASES = [config.PARAMS_DIR / "base.yaml",
         *sorted(p for p in (config.PARAMS_DIR / "examples").glob("*.yaml") if "initiatives" not in p.stem)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count"))]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exactly_one_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("base", BASES, ids=[p.stem for p in BASES])
def test_notebook_parameters_cover_every_params_key(base: Path) -> None:
    # papermill only warns about unknown parameters, so a typo in params/ would be ignored
    for job in plan_jobs(base=base):
        declared = set(pm.inspect_notebook(str(config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb")))
        missing = set(job.parameters) - declared
        assert not missing, f"{job.notebook} lacks parameters {sorted(missing)} ({base.name}, {job.period})"


def test_data_health_executes_on_the_demo(demo_dir: Path, demo: salesnb.SalesData,
                                          tmp_path: Path) -> None:
    run = run_notebook("data_health", tmp_path, period="2026-Q3", source=str(demo_dir))
    assert run.errors == 0
    # the orders row count and the rows in Q3, computed here independently
    orders = demo["orders"]
    in_q3 = orders["ordered_at"].between("2026-07-01", "2026-09-30 23:59:59").sum()
    assert f"{len(orders):,}" in run.html and f"{in_q3:,}" in run.html
    assert demo.fingerprint in run.html
    assert run.images == 1
