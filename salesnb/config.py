"""Where things live, and how params files are read and merged.

Paths are resolved from the project root (the folder holding ``pyproject.toml``), so the
notebooks, the command line and the tests agree wherever they run from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ParamsLoader", "ROOT", "PARAMS_DIR", "OUTPUTS_DIR", "NOTEBOOKS_DIR", "DEMO_DIR", "read_params",
           "merge_params", "period_params_files"]

ROOT = Path(os.environ.get("SALESNB_ROOT", Path(__file__).resolve().parents[1]))
PARAMS_DIR = ROOT / "params"
OUTPUTS_DIR = ROOT / "outputs"
NOTEBOOKS_DIR = ROOT / "notebooks"
DEMO_DIR = ROOT / "data" / "demo"


class ParamsLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2's core schema for booleans: only ``true`` and
    ``false`` are booleans, so ``on``, ``off``, ``yes``, ``no`` (a lookup's ``on:`` key, a
    value map ``{Yes: won}``) stay text.

    >>> yaml.load("{on: {Order: Order}, flag: true, answer: no}", Loader=ParamsLoader)
    {'on': {'Order': 'Order'}, 'flag': True, 'answer': 'no'}
    """


ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A params YAML file as a dict (safe, YAML 1.2 booleans: :class:`ParamsLoader`; an
    empty file is ``{}``).

    Raises ``ValueError`` naming the file for YAML errors or a top level that is not a
    mapping.
    """
    p = Path(path)
    try:
        content = yaml.load(p.read_text(encoding="utf-8"), Loader=ParamsLoader)  # noqa: S506 (a SafeLoader)
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


def period_params_files(params_dir: Path = PARAMS_DIR, *, fiscal_year_start: int = 1,
                        shared: tuple[str, ...] = ("base.yaml", "initiatives.yaml")) -> tuple[list[Path], list[str]]:
    """The ``params/<period>.yaml`` files, recognised by name, and a note for each other YAML.

    A file is a period file when its name is a period (``2026-10``, ``2026-Q3``, ``2026``,
    ``2026-W42``), or starts like one (``2026-13.yaml`` is a mistake the run reports);
    ``base.yaml``, the PDCA register and any other YAML are not, and do not stop a run
    (each gets a one-line note instead).
    """
    from salesnb.periods import parse_period

    files, notes = [], []
    for path in sorted([*params_dir.glob("*.yaml"), *params_dir.glob("*.yml")]):
        if path.name in shared:
            continue
        try:
            parse_period(path.stem, fiscal_year_start=fiscal_year_start)
        except ValueError:
            if path.stem[:4].isdigit():  # meant as a period (2026-13): the run reports it
                files.append(path)
                continue
            notes.append(f"{path.name}: not a period's name (like 2026-10, 2026-Q3, 2026), ignored")
            continue
        files.append(path)
    return files, notes
