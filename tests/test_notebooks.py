"""Notebooks: stored without outputs, parameters that cover params/, and execution on the demo."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

import salesnb
from salesnb import config
from salesnb.params import ParamsFile
from salesnb.publish import declared_parameters, plan_jobs
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_declared_parameters_are_papermills_and_the_schemas(path: Path) -> None:
    declared = declared_parameters(path)
    assert declared == list(pm.inspect_notebook(str(path)))  # our reading agrees with papermill's
    assert set(declared) <= {"period", *ParamsFile.model_fields}, path.name  # every one documented


def test_every_params_key_is_used_by_some_notebook() -> None:
    used = {name for path in NOTEBOOKS for name in declared_parameters(path)}
    assert {*ParamsFile.model_fields} - {"report"} <= used


@pytest.mark.parametrize("base", BASES, ids=[p.stem for p in BASES])
def test_each_page_gets_only_what_it_declares(base: Path) -> None:
    # papermill only warns about unknown parameters: a page must never be sent one
    for job in plan_jobs(base=base):
        declared = set(declared_parameters(config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb"))
        assert set(job.parameters) <= declared and "period" in job.parameters, (job.notebook, base.name)


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
    # engine: auto (the default) chose pandas for the demo, and the page says why
    assert "<code>pandas</code> — chosen by the data&#x27;s size (<code>engine: auto</code>)" in run.html


def _salesnb_uses(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every salesnb name a notebook's code reaches."""
    import ast

    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse(code)
    aliases = {"salesnb": "salesnb"}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("salesnb"):
            for a in node.names:
                uses.append((node.module or "", a.name))
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            uses.append((aliases[node.value.id], node.attr))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
              and isinstance(node.value.value, ast.Name) and node.value.value.id == "salesnb"):
            uses.append((f"salesnb.{node.value.attr}", node.attr))
    return uses


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_use_the_public_api_only(path: Path) -> None:
    import importlib

    outside = []
    for module, name in _salesnb_uses(path):
        try:
            public = importlib.import_module(module).__all__
        except ModuleNotFoundError:  # salesnb.present.table: the module is an attribute, checked above
            continue
        if name not in public:
            outside.append(f"{module}.{name}")
    assert outside == [], f"{path.name} reaches past the public API: {sorted(set(outside))}"


def test_every_module_declares_its_public_names() -> None:
    import importlib

    for path in sorted((config.ROOT / "salesnb").rglob("*.py")):
        module = ".".join(path.relative_to(config.ROOT).with_suffix("").parts).removesuffix(".__init__")
        names = getattr(importlib.import_module(module), "__all__", None)
        assert names is not None, f"{module} has no __all__"
        assert not [n for n in names if n.startswith("_") and n != "__version__"], module
