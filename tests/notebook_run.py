"""Run a report notebook with papermill and collect what it shows (for the notebook tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from salesnb import config


@dataclass
class Executed:
    html: str          # every HTML output, joined
    images: int        # PNG outputs (charts)
    errors: int        # error outputs


def run_notebook(name: str, tmp_path: Path, **parameters: Any) -> Executed:
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(config.NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=parameters,
                        kernel_name="python3", progress_bar=False, cwd=str(config.ROOT))
    outputs = [o for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    return Executed(html="\n".join(o.get("data", {}).get("text/html", "") for o in outputs),
                    images=sum("image/png" in o.get("data", {}) for o in outputs),
                    errors=sum(o.get("output_type") == "error" for o in outputs))
