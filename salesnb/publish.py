"""Publish the reports: run each notebook × period with papermill, convert to HTML.

``salesnb report`` (and ``make report``) calls :func:`publish`. Jobs run in parallel worker
processes; each converts its executed notebook to one self-contained HTML page in-process
(salesnb's nbconvert template: code hidden, images embedded, nothing loaded from any
network). A notebook that fails keeps its executed copy under ``<out>/<period>/_failed/``
and leaves the last good page in place; the other jobs still run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import yaml

from salesnb import config
from salesnb.periods import parse_period

__all__ = ["Job", "JobResult", "plan_jobs", "run_job", "publish", "export_html",
           "write_index", "PublishError", "NOTEBOOK_TITLES"]

TEMPLATES = Path(__file__).parent / "templates"
NOTEBOOK_TITLES = {"data_health": "Data health", "kpi_overview": "KPI overview",
                   "pdca_review": "PDCA review", "funnel": "Funnel", "feedback": "Feedback",
                   "marketing": "Marketing"}
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
    fingerprint: str = ""

    @property
    def html_path(self) -> Path:
        return self.out_dir / self.period_dir / f"{self.notebook}.html"

    @property
    def period_dir(self) -> str:
        # a custom range "a..b" becomes a folder name without dots
        return self.period.replace("..", "_to_")


@dataclass(frozen=True)
class JobResult:
    """What became of a job: ``ok`` or ``failed`` with the cell and message."""

    notebook: str
    period: str
    status: str
    seconds: float
    html: str | None = None
    failed_notebook: str | None = None
    cell: int | None = None
    error: str = ""

    def line(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else "before any cell ran"
        return f"{self.period} {self.notebook}: {where}: {self.error}"


def _base_params(base: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    params = config.read_params(base)
    settings = params.pop(PUBLISHER_KEY, None) or {}
    if not isinstance(settings, dict):
        raise PublishError(f"{base}: '{PUBLISHER_KEY}' must be a mapping")
    return params, settings


def _notebooks(settings: Mapping[str, Any], notebooks_dir: Path) -> list[str]:
    names = settings.get("notebooks") or sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
    missing = [n for n in names if not (notebooks_dir / f"{n}.ipynb").is_file()]
    if missing:
        raise PublishError(f"report.notebooks names notebooks that do not exist in "
                           f"{notebooks_dir}: {', '.join(missing)}")
    return list(names)


def plan_jobs(*, period: str | None = None, base: Path | None = None,
              params_dir: Path | None = None, out_dir: Path | None = None,
              notebooks_dir: Path | None = None) -> list[Job]:
    """The jobs of one publish run, every period and parameter checked before any runs.

    Without ``period``: one job per notebook for each ``params/<period>.yaml`` (or for the
    base file's ``report.periods`` list). With ``period``: that period only, merged with its
    params file when there is one. Raises :class:`PublishError` for a bad period string or
    params file.
    """
    base = base or config.PARAMS_DIR / "base.yaml"
    params_dir = params_dir or base.parent
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    try:
        params, settings = _base_params(base)
        fys = int(params.get("fiscal_year_start", 1))
        if period is not None:
            names = [period]
        elif settings.get("periods"):
            names = [str(p) for p in settings["periods"]]
        else:
            names = [p.stem for p in config.period_params_files(params_dir)]
        if not names:
            raise PublishError(f"no periods to publish: add params/<period>.yaml files to "
                               f"{params_dir} or run with a period")
        periods = []
        for name in names:
            try:
                p = parse_period(name, fiscal_year_start=fys)
            except ValueError as exc:
                raise PublishError(f"{params_dir / (name + '.yaml')}: {exc}") from None
            own = params_dir / f"{name}.yaml"
            merged = config.merge_params(params, config.read_params(own) if own.is_file() else {})
            merged.pop(PUBLISHER_KEY, None)
            merged["period"] = p.name
            periods.append(merged)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    notebooks = _notebooks(settings, notebooks_dir)
    out = Path(out_dir or settings.get("out") or config.OUTPUTS_DIR)
    if not out.is_absolute():
        out = config.ROOT / out
    return [Job(nb, merged["period"], merged, out, tuple(notebooks))
            for merged in periods for nb in notebooks]


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.ROOT,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=config.ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; published pages are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _strip_for_readers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what managers should not read: parameter cells and stderr (warnings)."""
    hidden = {"parameters", "injected-parameters"}
    nb.cells = [c for c in nb.cells if not hidden & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
    return nb


def export_html(nb: nbformat.NotebookNode, job: Job, *, seconds: float, commit: str) -> str:
    """The executed notebook as one self-contained HTML page (code hidden)."""
    from nbconvert import HTMLExporter

    import salesnb

    p = parse_period(job.period, fiscal_year_start=int(job.parameters.get("fiscal_year_start", 1)))
    exporter = HTMLExporter(template_name="salesnb", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    title = NOTEBOOK_TITLES.get(job.notebook, job.notebook.replace("_", " ").capitalize())
    nb.metadata["title"] = f"{title} · {p.label}"
    resources = {"salesnb": {
        "notebook": job.notebook, "period_name": p.name, "period_label": p.label,
        "period_span": f"{p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}",
        "previous": p.previous().name, "last_year": p.last_year().name,
        "pages": [{"name": n, "title": NOTEBOOK_TITLES.get(n, n)} for n in job.pages],
        "ran_at": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "duration": f"{seconds:.1f} s", "fingerprint": job.fingerprint or "not computed",
        "version": salesnb.__version__, "commit": commit,
        "parameters": yaml.safe_dump(dict(job.parameters), sort_keys=True, allow_unicode=True),
    }}
    body, _ = exporter.from_notebook_node(_strip_for_readers(nb), resources=resources)
    return body


def run_job(job: Job, *, commit: str = "unknown") -> JobResult:
    """Execute one notebook for one period and publish its page; never raises.

    On failure the executed notebook (with papermill's error banner) is kept under
    ``<out>/<period>/_failed/`` and the published page is left as it was.
    """
    import papermill as pm

    started = time.perf_counter()
    source = config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb"
    period_out = job.out_dir / job.period_dir
    period_out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=period_out, prefix=".run-") as tmp:
        executed = Path(tmp) / f"{job.notebook}.ipynb"
        try:
            with _stderr_to(job.out_dir / "logs" / "kernels.log"):
                pm.execute_notebook(str(source), str(executed), parameters=dict(job.parameters),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    cwd=str(config.ROOT))
        except Exception as exc:  # a failing report must not stop the others
            failed_dir = period_out / "_failed"
            failed_dir.mkdir(exist_ok=True)
            kept = failed_dir / f"{job.notebook}.ipynb"
            cell, message = _failure(exc, executed)
            if executed.exists():
                os.replace(executed, kept)
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                             failed_notebook=str(kept) if kept.exists() else None, cell=cell,
                             error=message)
        nb = nbformat.read(executed, as_version=4)
    seconds = time.perf_counter() - started
    try:
        _atomic_write(job.html_path, export_html(nb, job, seconds=seconds, commit=commit))
    except Exception as exc:
        return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                         error=f"HTML export failed: {type(exc).__name__}: {exc}")
    (period_out / "_failed" / f"{job.notebook}.ipynb").unlink(missing_ok=True)
    return JobResult(job.notebook, job.period, "ok", time.perf_counter() - started,
                     html=str(job.html_path))


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (and so the kernel's start-up chatter) to a log file.

    The kernel inherits file descriptor 2; without this its warnings would break the
    progress bar on the terminal. Errors in the notebook are kept in the notebook itself.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _failure(exc: Exception, executed: Path) -> tuple[int | None, str]:
    """The failing cell and a one-line message.

    The cell number is the cell's position in the notebook as the analyst sees it in
    JupyterLab (from 1, markdown cells counted, papermill's injected cell not).
    """
    name = getattr(exc, "ename", type(exc).__name__)
    value = str(getattr(exc, "evalue", exc)).strip().splitlines()
    message = f"{name}: {value[0] if value else ''}".strip()
    cell = None
    if executed.exists():
        nb = nbformat.read(executed, as_version=4)
        added = {"injected-parameters", "papermill-error-cell-tag"}  # cells papermill adds
        cells = [c for c in nb.cells if not added & set(c.get("metadata", {}).get("tags", []))]
        for i, c in enumerate(cells, 1):
            if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs):
                cell = i
                # a data validation error lists every problem: show the first one too
                evalue = next(o["evalue"] for o in c.outputs if o.get("output_type") == "error")
                lines = [ln.strip() for ln in str(evalue).splitlines() if ln.strip()]
                message = f"{name}: " + " ".join(lines[:2])
                break
    return cell, message


def _fingerprints(jobs: Sequence[Job]) -> dict[str, str]:
    """Data fingerprint per distinct source (the run record of every page shows it)."""
    import salesnb

    out: dict[str, str] = {}
    for job in jobs:
        key = json.dumps(job.parameters.get("source"), sort_keys=True, default=str)
        if key not in out:
            try:
                out[key] = salesnb.load(job.parameters.get("source", str(config.DEMO_DIR)),
                                        base_dir=config.ROOT).fingerprint
            except ValueError:
                out[key] = "data failed validation"
    return out


def write_index(out_dir: Path, results: Sequence[JobResult], notebooks: Sequence[str]) -> Path:
    """``<out>/index.html``: every period × notebook, newest period first, with status.

    Keeps a manifest (``<out>/manifest.json``) so that pages published by earlier runs
    stay listed.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    manifest_path = out_dir / "manifest.json"
    manifest: dict[str, dict[str, Any]] = {}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for r in results:
        entry = manifest.setdefault(r.period, {})
        entry[r.notebook] = {"status": r.status, "error": r.error, "seconds": round(r.seconds, 1),
                             "at": datetime.now().astimezone().isoformat(timespec="seconds")}
    _atomic_write(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False))
    all_nbs = list(dict.fromkeys([*notebooks, *(n for e in manifest.values() for n in e)]))

    def sort_key(name: str) -> tuple[str, str]:
        p = parse_period(name)
        return (p.end.isoformat(), p.start.isoformat())

    rows = []
    for period in sorted(manifest, key=sort_key, reverse=True):
        folder = period.replace("..", "_to_")
        cells = []
        for nb in all_nbs:
            e = manifest[period].get(nb)
            page = out_dir / folder / f"{nb}.html"
            status = e["status"] if e else "missing"
            cells.append({"status": status,
                          "href": f"{folder}/{nb}.html" if page.is_file() else None,
                          "note": ("last good page kept" if status == "failed" and page.is_file()
                                   else "")})
        rows.append({"period": period, "label": parse_period(period).label, "cells": cells})
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    html = env.get_template("index.html.j2").render(
        rows=rows, notebooks=[{"name": n, "title": NOTEBOOK_TITLES.get(n, n)} for n in all_nbs],
        updated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
    path = out_dir / "index.html"
    _atomic_write(path, html)
    return path


@dataclass
class PublishReport:
    """The outcome of one publish run."""

    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status != "ok"]


def publish(*, period: str | None = None, base: Path | None = None,
            out_dir: Path | None = None, workers: int | None = None,
            progress: bool = True, on_result: Callable[[JobResult], None] | None = None) -> PublishReport:
    """Run every job of :func:`plan_jobs` in parallel, publish pages and the index."""
    from tqdm import tqdm

    started = time.perf_counter()
    jobs = plan_jobs(period=period, base=base, out_dir=out_dir)
    prints = _fingerprints(jobs)
    jobs = [Job(j.notebook, j.period, j.parameters, j.out_dir, j.pages,
                prints[json.dumps(j.parameters.get("source"), sort_keys=True, default=str)])
            for j in jobs]
    commit = _git_commit()
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    report = PublishReport()
    bar = tqdm(total=len(jobs), unit="page", desc="publishing", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job, commit=commit): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception:  # a crashed worker: report it like a failed notebook
                result = JobResult(job.notebook, job.period, "failed", 0.0,
                                   error=traceback.format_exc().strip().splitlines()[-1])
            report.results.append(result)
            bar.set_postfix_str(f"{result.period} {result.notebook} {result.status}")
            bar.update()
            if on_result:
                on_result(result)
    bar.close()
    out = jobs[0].out_dir
    report.index = write_index(out, report.results, jobs[0].pages)
    report.seconds = time.perf_counter() - started
    _atomic_write(out / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.json",
                  json.dumps({"seconds": round(report.seconds, 2),
                              "results": [asdict(r) for r in report.results]}, indent=2))
    return report
