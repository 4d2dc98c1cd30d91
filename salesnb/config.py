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

__all__ = ["ParamsLoader", "MAX_PARAMS_BYTES", "ROOT", "PARAMS_DIR", "OUTPUTS_DIR", "NOTEBOOKS_DIR", "DEMO_DIR",
           "read_params", "merge_params", "period_params_files", "RECORD_MIME"]

ROOT = Path(os.environ.get("SALESNB_ROOT", Path(__file__).resolve().parents[1]))
PARAMS_DIR = ROOT / "params"
OUTPUTS_DIR = ROOT / "outputs"
NOTEBOOKS_DIR = ROOT / "notebooks"
DEMO_DIR = ROOT / "data" / "demo"
# the output type in which a page tells the publisher its title, headline and sheets
# (:func:`salesnb.present.run_record`); here, so that the publisher reads it without
# importing the page modules (pandas, statsmodels) into its worker processes
RECORD_MIME = "application/vnd.salesnb.record+json"


MAX_PARAMS_BYTES = int(os.environ.get("SALESNB_MAX_PARAMS_BYTES", 2 * 2**20))
"""A params file larger than this (2 MB unless ``SALESNB_MAX_PARAMS_BYTES`` says) is refused
before it is parsed: the largest real one here is 12 kB."""
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 200
MAX_YAML_VALUES = 200_000
"""Values a params document may hold once its aliases are expanded: the walks over params
(checks, secrets) visit every expanded value, so nine levels of aliases ("billion laughs")
would take hours."""


class ParamsLoader(yaml.SafeLoader):
    r"""``yaml.SafeLoader`` with YAML 1.2's core schema for booleans and limits.

    Only ``true`` and ``false`` are booleans, so ``on``, ``off``, ``yes``, ``no`` (a lookup's
    ``on:`` key, a value map ``{Yes: won}``) stay text. Nesting deeper than
    :data:`MAX_YAML_DEPTH`, more than :data:`MAX_YAML_ALIASES` aliases, an alias inside its
    own anchor, more than :data:`MAX_YAML_VALUES` values once aliases are expanded, and a
    key given twice in one mapping are errors naming their line.

    >>> yaml.load("{on: {Order: Order}, flag: true, answer: no}", Loader=ParamsLoader)
    {'on': {'Order': 'Order'}, 'flag': True, 'answer': 'no'}
    >>> try:
    ...     yaml.load("a: 1\nb: 2\na: 3\n", Loader=ParamsLoader)
    ... except yaml.YAMLError as exc:
    ...     print(exc.problem)
    key 'a' is given twice (lines 1 and 3)
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._open: list[str | None] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(None, None, f"the alias *{event.anchor} is inside its own "
                                                  f"anchor &{event.anchor} (a value that contains itself)",
                                                  event.start_mark)
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_YAML_ALIASES} aliases",
                                                  event.start_mark)
            return super().compose_node(parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                              event.start_mark)
        self._open.append(getattr(event, "anchor", None))
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        sizes: dict[int, int] = {}

        def size(n: Any) -> int:  # values once aliases are expanded, each shared node counted once
            if id(n) not in sizes:
                children = (n.value if isinstance(n, yaml.SequenceNode) else
                            [v for pair in n.value for v in pair] if isinstance(n, yaml.MappingNode) else [])
                sizes[id(n)] = min(1 + sum(size(c) for c in children), MAX_YAML_VALUES + 1)
            return sizes[id(n)]

        if node is not None and size(node) > MAX_YAML_VALUES:
            raise yaml.composer.ComposerError(None, None, f"the aliases expand to more than "
                                              f"{MAX_YAML_VALUES:,} values", node.start_mark)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    line = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: the constructor names it
                if line != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"key {key!r} is given twice (lines {line} and {key_node.start_mark.line + 1})",
                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A params YAML file as a dict (safe, YAML 1.2 booleans and limits: :class:`ParamsLoader`;
    an empty file is ``{}``).

    Raises ``ValueError`` naming the file for YAML errors, a file over
    :data:`MAX_PARAMS_BYTES` or a top level that is not a mapping.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ValueError(f"params file {p} is {size / 2**20:.1f} MB; params files are limited to "
                             f"{MAX_PARAMS_BYTES / 2**20:.1f} MB (SALESNB_MAX_PARAMS_BYTES)")
        content = yaml.load(p.read_text(encoding="utf-8"), Loader=ParamsLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ValueError(f"params file {p} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"params file {p} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"params file {p} is not valid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise ValueError(f"params file {p} is nested too deeply") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ValueError(f"params file {p} must hold a mapping of keys, not {type(content).__name__}")
    return content


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: the problem and its line and column."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"{context + ': ' if context else ''}{problem}{where}"


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
