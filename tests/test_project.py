"""The project's own files agree with each other: dependencies, Makefile, README."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from salesnb import config

# pip name -> conda-forge name, where they differ
CONDA_NAMES: dict[str, str] = {}


def _split(spec: str) -> tuple[str, str]:
    # pip extras (psycopg[binary]) are pip's business: conda-forge's package carries its library
    m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", spec.strip())
    assert m, spec
    return m[1].lower(), m[2].replace(" ", "")


def test_environment_yml_mirrors_pyproject() -> None:
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    wanted = {CONDA_NAMES.get(n, n): v for n, v in map(_split, project["dependencies"])}
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    have = dict(map(_split, conda))
    have.pop("pip", None)
    assert have.pop("python") == f">={project['requires-python'].lstrip('>=')}"
    assert have == wanted
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[dev]"]
    assert env["channels"] == ["conda-forge"]


def test_makefile_targets_are_documented() -> None:
    text = (config.ROOT / "Makefile").read_text()
    assert ".DEFAULT_GOAL := help" in text
    for target in ("help", "report", "test", "lab", "data", "lint", "clean"):
        assert re.search(rf"^{target}:.*## \S", text, re.M), f"make {target} lacks a ## description"


def test_readme_starts_with_the_two_commands() -> None:
    text = (config.ROOT / "README.md").read_text()
    first = text.index("make report")
    assert first < text.index("## ") or first < 1500
    assert "make test" in text[:1500]
    assert "params/examples/superstore.yaml" in text


def test_import_contracts_hold() -> None:
    # the dependency rules of DESIGN.md (pyproject.toml, [tool.importlinter]); make lint runs them too
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=config.ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    contracts = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout


def test_modules_import_each_others_public_names_only() -> None:
    # one module reaching into another's internals (a name outside its __all__) is how a
    # page grows its own kitchen; the import contracts of pyproject.toml cover whole modules
    import ast
    import importlib

    outside = []
    for path in sorted((config.ROOT / "salesnb").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("salesnb."):
                module = importlib.import_module(node.module)
                subpackages = {p.stem for p in Path(getattr(module, "__path__", [""])[0]).glob("*.py")}
                outside += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                            if a.name not in module.__all__ and a.name not in subpackages]
    assert outside == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("variable", ["PERIOD", "BASE", "OUT", "TO"])
def test_makefile_passes_variables_as_one_word(variable: str, tmp_path: Path) -> None:
    """A `;`, a quote, backquotes or make's own $(shell …) in a variable reach the command as
    text, never run: `make -n` prints the command, and nothing is created."""
    value = "1999-13; touch x1 && echo `touch x2` $(shell touch x3) it's"
    target = "deliver" if variable == "TO" else "report"
    done = subprocess.run(["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "-o", "data/demo/truth.json",
                           target, f"{variable}={value}"], cwd=config.ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    flag = {"PERIOD": "--period", "BASE": "--base", "OUT": "--out", "TO": "--to"}[variable]
    assert f"{flag} '1999-13; touch x1 && echo `touch x2` $(shell touch x3) it'\\''s'" in done.stdout
    assert not [p for p in ("x1", "x2", "x3") if (config.ROOT / p).exists()]
