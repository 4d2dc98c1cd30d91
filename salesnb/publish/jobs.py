"""Planning a run: the jobs (notebook × period) with their parameters, keys and secrets,
checked before anything runs; what became of each job.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesnb import config
from salesnb.periods import parse_period
from salesnb.publish.files import DISK_ERRORS, rel_path

__all__ = ["Job", "JobResult", "PUBLISHER_KEY", "PublishError", "PublishReport", "all_jobs", "code_fingerprint",
           "declared_parameters", "job_key", "plain", "plan_jobs", "source_fingerprint", "up_to_date"]


# keys of params/base.yaml read by the publisher and not passed to the notebooks
PUBLISHER_KEY = "report"


class PublishError(ValueError):
    """A problem found before anything runs: a bad period, params file or notebook."""


@dataclass(frozen=True)
class Job:
    """One notebook run for one period, with the parameters papermill injects."""

    notebook: str
    period: str
    parameters: Mapping[str, Any]
    out_dir: Path
    pages: tuple[str, ...] = ()
    key: str = ""
    # secret texts of the params (masked wherever the page or a message could show them) and
    # the environment variables that carry them to the notebooks; never written anywhere
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    environment: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def period_dir(self) -> str:
        return self.period.replace("..", "_to_")  # a custom range "a..b" as a folder name

    @property
    def html_path(self) -> Path:
        return self.out_dir / self.period_dir / f"{self.notebook}.html"


@dataclass(frozen=True)
class JobResult:
    """What became of a job: ``ok``, ``failed`` or ``up to date`` (skipped)."""

    notebook: str
    period: str
    status: str
    seconds: float
    key: str = ""
    html: str | None = None
    failed_notebook: str | None = None
    cell: int | None = None
    error: str = ""
    fingerprint: str = ""
    headline: Mapping[str, str] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)  # the period's findings and KPI tiles
    kernel_seconds: float = 0.0  # of ``seconds``, starting the worker's kernel (its first page only)

    def line(self) -> str:
        if self.cell is None and self.error.startswith(tuple(DISK_ERRORS.values())):
            return f"{self.period} {self.notebook}: {self.error}"  # the page, not the notebook
        where = f"cell {self.cell}" if self.cell is not None else "before any cell ran"
        return f"{self.period} {self.notebook}: {where}: {self.error}"


@dataclass
class PublishReport:
    """The outcome of one publish run."""

    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0
    log: Path | None = None
    problems: list[str] = field(default_factory=list)  # the index or the log not written
    notes: list[str] = field(default_factory=list)  # what was changed to be written (not a failure)
    stopped: int | None = None  # the signal (SIGTERM, SIGINT) that stopped the run, if one did

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ran(self) -> list[JobResult]:
        return [r for r in self.results if r.status != "up to date"]


CHECKED_PARAMS = Path(".cache") / "params_checked.json"  # (in the project folder)
MAX_CHECKED_PARAMS = 256


@functools.cache
def _checks_code() -> str:
    """What the params checks are: params.py's models, run by pydantic (once per process; ""
    when unknown, and then nothing is kept)."""
    from importlib.metadata import version

    try:
        checks = Path(__file__).resolve().parent.parent / "params.py"
        return hashlib.sha256(checks.read_bytes() + version("pydantic").encode()).hexdigest()
    except (OSError, ImportError):
        return ""


def _check_params(content: Mapping[str, Any], where: str, *, period_file: bool = False) -> list[str]:
    """:func:`salesnb.params.check_params`, but a content found clean before (by the same
    checks) is not checked again: building the checks' schema took 0.2 s of a run with
    nothing to do (0.85 s). Only clean contents are kept (a problem is always checked and
    reported), the newest :data:`MAX_CHECKED_PARAMS`; a missing or unreadable file is no memo; a
    content with a literal secret is always checked."""
    from salesnb.secrets import hide_secrets

    code = _checks_code()
    if hide_secrets(content)[0] != dict(content):
        code = ""  # a literal secret in params: not even its hash is kept
    key = hashlib.sha256(json.dumps([code, period_file, content], sort_keys=True, default=repr).encode()).hexdigest()
    memo = config.ROOT / CHECKED_PARAMS
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
        known = [k for k in known if isinstance(k, str)] if isinstance(known, list) else []
    except (OSError, ValueError):
        known = []
    if code and key in known:
        return []
    from salesnb.params import check_params

    problems = check_params(content, where, period_file=period_file)
    if code and not problems:
        from salesnb.publish.files import atomic_write

        with contextlib.suppress(OSError):  # a read-only project: checked every time, as before
            atomic_write(memo, json.dumps([*known, key][-MAX_CHECKED_PARAMS:]))
    return problems


def _base_params(base: Path, problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    params = config.read_params(base)
    problems += _check_params(params, rel_path(base))
    settings = params.pop(PUBLISHER_KEY, None) or {}
    return params, settings if isinstance(settings, dict) else {}


def _notebooks(settings: Mapping[str, Any], notebooks_dir: Path) -> list[str]:
    names = settings.get("notebooks") or sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
    missing = [n for n in names if not (notebooks_dir / f"{n}.ipynb").is_file()]
    if missing:
        raise PublishError(f"report.notebooks names notebooks that do not exist in "
                           f"{notebooks_dir}: {', '.join(missing)}")
    return list(names)


def declared_parameters(notebook: Path) -> list[str]:
    """The names a notebook's ``parameters`` cell assigns: the only keys papermill gives it.

    The same names as ``papermill.inspect_notebook`` (a test checks), read with ``ast`` so
    that planning a run does not import papermill (about a second).
    """
    import ast

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            names = []
            for node in tree.body:
                targets = [node.target] if isinstance(node, ast.AnnAssign) else (
                    node.targets if isinstance(node, ast.Assign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def code_fingerprint() -> str:
    """Hash of the ``salesnb`` package's code and templates (a change re-runs every page)."""
    digest = hashlib.sha256()
    root = Path(__file__).parents[1]  # the salesnb package
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".j2", ".css", ".json")
                       and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def source_fingerprint(source: Any, base_dir: Path | None = None) -> str:
    """Hash of the bytes of every data file a source reads (cheap: no parsing).

    The pages' run record shows the loaded data's own fingerprint
    (:attr:`salesnb.SalesData.fingerprint`); this one only decides whether to re-run.
    """
    from salesnb.data.cache import source_fingerprint as files_fingerprint

    return files_fingerprint(source, base_dir or config.ROOT)


def job_key(notebook: Path, parameters: Mapping[str, Any], code: str, data: str) -> str:
    """What a page depends on: notebook, parameters, salesnb code, data files."""
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(code.encode())
    digest.update(data.encode())
    return digest.hexdigest()[:16]


def plan_jobs(*, period: str | None = None, base: Path | None = None,
              params_dir: Path | None = None, out_dir: Path | None = None,
              notebooks_dir: Path | None = None, say: Callable[[str], None] | None = None) -> list[Job]:
    """The jobs of one publish run, every period and parameter checked before any runs.

    Without ``period``: one job per notebook for each ``params/<period>.yaml`` (or for the
    base file's ``report.periods`` list). With ``period``: that period only, merged with its
    params file when there is one. Raises :class:`PublishError` listing every problem of
    the params files (see :mod:`salesnb.params`) or the period; other YAML files in the
    params folder get a note through ``say``.
    """
    from salesnb.secrets import expand_env, hide_secrets, secret_values, unmaskable

    base = base or config.PARAMS_DIR / "base.yaml"
    params_dir = params_dir or base.parent
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    problems: list[str] = []
    try:
        params, settings = _base_params(base, problems)
        fys = params.get("fiscal_year_start", 1)
        fys = fys if isinstance(fys, int) and 1 <= fys <= 12 else 1
        register = params.get("initiatives")
        shared = ("base.yaml", base.name, "initiatives.yaml",
                  *([Path(register).name] if isinstance(register, str) and register else []))
        if period is not None:
            names = [str(period)]
        elif settings.get("periods"):
            names = [str(p) for p in settings["periods"]]
        else:
            files, notes = config.period_params_files(params_dir, fiscal_year_start=fys, shared=shared)
            for line in notes:
                (say or (lambda _: None))(f"note: {line}")
            names = [p.stem for p in files]
        if not names:
            raise PublishError(f"no periods to publish: add params/<period>.yaml files to "
                               f"{params_dir} or run with a period")
        periods = []
        for name in names:
            try:
                p = parse_period(name, fiscal_year_start=fys)
            except ValueError as exc:
                where = rel_path(params_dir / f"{name}.yaml") if period is None else "PERIOD"
                problems.append(f"{where}: {exc}")
                continue
            own = params_dir / f"{name}.yaml"
            content = config.read_params(own) if own.is_file() else {}
            problems += _check_params(content, rel_path(own), period_file=True)
            merged = config.merge_params(params, content)
            merged.pop(PUBLISHER_KEY, None)
            merged.pop("period", None)
            merged["period"] = p.name
            periods.append(merged)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    if problems:
        raise PublishError("the params have problems; nothing was run:\n" +
                           "\n".join(f"  {line}" for line in dict.fromkeys(problems)))
    notebooks = _notebooks(settings, notebooks_dir)
    out = Path(out_dir or settings.get("out") or config.OUTPUTS_DIR)
    if not out.is_absolute():
        out = config.ROOT / out
    code = code_fingerprint()
    declared = {nb: set(declared_parameters(notebooks_dir / f"{nb}.ipynb")) for nb in notebooks}
    data_keys: dict[str, str] = {}
    jobs = []
    environment: dict[str, str] = {}
    warned: frozenset[str] = frozenset()
    for merged in periods:
        merged = plain(merged)  # YAML dates (as_of: 2026-11-20 unquoted) travel as text
        secrets = frozenset(secret_values(merged))
        for secret in sorted(secrets - warned):
            if (why := unmaskable(secret)) is not None:
                (say or (lambda _: None))(f"note: a secret in the params of {merged['period']} is masked only "
                                          f"where it stands as a password, not elsewhere on the pages: {why}")
        warned |= secrets
        # a secret goes to the notebooks as ${SALESNB_SECRET_n}, its value in the environment
        merged, environment = hide_secrets(merged, env=environment)
        src_key = json.dumps(merged.get("source"), sort_keys=True, default=str)
        if src_key not in data_keys:
            try:  # ${NAME} in the source: the files it names decide, not the text
                source = expand_env(merged.get("source"), environ={**os.environ, **environment})
            except ValueError as exc:
                raise PublishError(f"source: {exc}") from None
            data_keys[src_key] = source_fingerprint(source)
        for nb in notebooks:
            # each page gets the keys it declares, so a key it does not use does not re-run it
            given = {k: v for k, v in merged.items() if k in declared[nb]}
            key = job_key(notebooks_dir / f"{nb}.ipynb", given, code, data_keys[src_key])
            jobs.append(Job(nb, merged["period"], given, out, tuple(notebooks), key, secrets,
                            tuple(environment.items())))
    return jobs


def plain(value: Any) -> Any:
    """Params as JSON-safe values: dates and times as ISO text, containers walked."""
    from datetime import date

    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def all_jobs(base: Path | None, out: Path) -> list[Job]:
    try:
        return plan_jobs(base=base, out_dir=out)
    except PublishError:
        return []


def up_to_date(job: Job, manifest: Mapping[str, Any]) -> bool:
    entry = manifest.get(job.period, {}).get(job.notebook, {})
    return entry.get("status") == "ok" and entry.get("key") == job.key and job.html_path.is_file()
