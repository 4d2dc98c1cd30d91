"""Where things live, and how params files are read and merged.

Paths are resolved from the project root (the folder holding ``pyproject.toml``), so the
notebooks, the command line and the tests agree wherever they run from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ROOT", "PARAMS_DIR", "OUTPUTS_DIR", "NOTEBOOKS_DIR", "DEMO_DIR", "read_params",
           "merge_params", "period_params_files"]

ROOT = Path(os.environ.get("SALESNB_ROOT", Path(__file__).resolve().parents[1]))
PARAMS_DIR = ROOT / "params"
OUTPUTS_DIR = ROOT / "outputs"
NOTEBOOKS_DIR = ROOT / "notebooks"
DEMO_DIR = ROOT / "data" / "demo"


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A params YAML file as a dict (``yaml.safe_load``; an empty file is ``{}``).

    Raises ``ValueError`` naming the file for YAML errors or a top level that is not a
    mapping.
    """
    p = Path(path)
    try:
        content = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"params file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"params file {p} is not valid YAML: {exc}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ValueError(f"params file {p} must hold a mapping of keys, not {type(content).__name__}")
    return content


def merge_params(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge key by key, lists replace.

    >>> merge_params({"a": 1, "s": {"x": 1, "y": 2}}, {"s": {"y": 3}})
    {'a': 1, 's': {'x': 1, 'y': 3}}
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_params(out[key], value)
        else:
            out[key] = value
    return out


def period_params_files(params_dir: Path = PARAMS_DIR) -> list[Path]:
    """The ``params/<period>.yaml`` files: every YAML in ``params/`` except ``base.yaml``
    and the other shared settings files (``initiatives.yaml``)."""
    shared = {"base.yaml", "initiatives.yaml"}
    return sorted(p for p in params_dir.glob("*.yaml") if p.name not in shared)
