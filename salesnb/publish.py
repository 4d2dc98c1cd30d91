"""Publish the reports: run each notebook × period with papermill, convert to HTML.

``salesnb report`` (and ``make report``) calls :func:`publish`:

- every notebook of ``report.notebooks`` in ``params/base.yaml`` for every period that has
  a ``params/<period>.yaml`` (or one period, any form, with ``period=``); papermill gets
  ``base.yaml`` merged with the period's file, plus ``period``;
- incremental: a notebook × period runs again only when its key changed — the notebook,
  the parameters it gets, the ``salesnb`` code or the data files (``force`` runs all);
- jobs run in parallel worker processes; each converts its executed notebook in-process
  with salesnb's nbconvert template (code hidden, images embedded, nothing requested from
  any network) and writes the page atomically;
- a notebook that fails keeps its executed copy under ``<out>/<period>/_failed/``, leaves
  the last good page untouched, and is reported with its cell and message;
- one run at a time per output folder (a lock: a second run waits for the first);
- ``<out>/index.html`` lists every period × notebook with its status and the period's
  headline KPIs; ``<out>/logs/`` keeps a record of every run.

Heavy libraries (papermill, nbconvert, pandas) load only in the workers, so a run with
nothing to do finishes in well under a second.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from salesnb import __version__, config
from salesnb.periods import parse_period

__all__ = ["Job", "JobResult", "PublishReport", "PublishError", "plan_jobs", "run_job", "publish",
           "write_index", "job_key", "code_fingerprint", "declared_parameters", "source_fingerprint",
           "notebook_title", "disk_fault"]

TEMPLATES = Path(__file__).parent / "templates"
_DISK_ERRORS = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EDQUOT: "disk quota exceeded", errno.EIO: "input/output error"}
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

    def line(self) -> str:
        if self.cell is None and self.error.startswith(tuple(_DISK_ERRORS.values())):
            return f"{self.period} {self.notebook}: {self.error}"  # the page, not the notebook
        where = f"cell {self.cell}" if self.cell is not None else "before any cell ran"
        return f"{self.period} {self.notebook}: {where}: {self.error}"


# ---------------------------------------------------------------------------- planning

def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.ROOT))
    except ValueError:
        return str(path)


def _base_params(base: Path, problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    from salesnb.params import check_params

    params = config.read_params(base)
    problems += check_params(params, _rel(base))
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
    root = Path(__file__).parent
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
    from salesnb.params import check_params
    from salesnb.secrets import expand_env, hide_secrets, secret_values

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
                where = _rel(params_dir / f"{name}.yaml") if period is None else "PERIOD"
                problems.append(f"{where}: {exc}")
                continue
            own = params_dir / f"{name}.yaml"
            content = config.read_params(own) if own.is_file() else {}
            problems += check_params(content, _rel(own), period_file=True)
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
    for merged in periods:
        merged = _plain(merged)  # YAML dates (as_of: 2026-11-20 unquoted) travel as text
        secrets = frozenset(secret_values(merged))
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


# ----------------------------------------------------------------------------- running

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
    """Write via a temporary file and a rename: a reader never sees half a page."""
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


def _strip_for_readers(nb: Any) -> Any:
    """Drop what managers should not read: parameter cells, stderr (warnings) and the run
    record meant for the publisher."""
    from salesnb.present import RECORD_MIME

    hidden = {"parameters", "injected-parameters"}
    nb.cells = [c for c in nb.cells if not hidden & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")
                            and RECORD_MIME not in o.get("data", {})]
    return nb


def page_record(nb: Any) -> dict[str, Any]:
    """What the page told the publisher (see :func:`salesnb.present.run_record`): title,
    data fingerprint, KPI definitions, headline figures; several records merge."""
    from salesnb.present import RECORD_MIME

    record: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found = out.get("data", {}).get(RECORD_MIME)
            if isinstance(found, dict):
                files = [*record.get("files", []), *found.get("files", [])]  # files add up
                record.update(found)
                if files:
                    record["files"] = files
    return record


def notebook_title(path: Path, language: str = "en") -> str:
    """A notebook's title: the first level-one heading of its first markdown cell (in
    ``language``, from the catalogue of texts)."""
    try:
        return _title(path, path.stat().st_mtime_ns, language)
    except OSError:
        return path.stem


@functools.lru_cache(maxsize=64)
def _title(path: Path, _mtime: int, language: str) -> str:
    # read once per notebook version: every page's navigation and the index ask for titles
    import nbformat

    from salesnb.texts import translate_cells

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return path.stem
    translate_cells(nb, path.stem, language)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return path.stem


_TEMPLATE_KEYS = ("template.all_reports", "template.compared_with", "template.previous", "template.last_year",
                  "template.run_record", "template.ran", "template.in", "template.fingerprint",
                  "template.commit", "template.notebook", "template.parameters", "template.definitions",
                  "template.page_key", "plot.chart")


def export_html(nb: Any, job: Job, *, seconds: float, commit: str, record: Mapping[str, Any]) -> str:
    """The executed notebook as one self-contained HTML page (code hidden)."""
    from nbconvert import HTMLExporter

    p = parse_period(job.period, fiscal_year_start=int(job.parameters.get("fiscal_year_start", 1)))
    exporter = HTMLExporter(template_name="salesnb", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    from salesnb.texts import using

    with using(str(job.parameters.get("language") or "en")) as language:
        return _export_html(nb, job, exporter, language, seconds=seconds, commit=commit, record=record, p=p)


def _export_html(nb: Any, job: Job, exporter: Any, language: str, *, seconds: float, commit: str,
                 record: Mapping[str, Any], p: Any) -> str:
    from salesnb.params import record_params
    from salesnb.secrets import redact_text
    from salesnb.texts import day, number, t

    exporter.language_code = language  # <html lang="ru">: a screen reader and the spell checker
    title = str(record.get("title") or notebook_title(config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb", language))
    nb.metadata["title"] = f"{title} · {p.label}"
    resources = {"salesnb": {
        "notebook": job.notebook, "period_name": p.name, "period_label": p.label,
        "language": language, "text": {k.split(".", 1)[1]: t(k) for k in _TEMPLATE_KEYS},
        "period_span": t("template.span", start=day(p.start), end=day(p.end)),
        "previous": p.previous().label, "last_year": p.last_year().label,
        "pages": [{"name": n, "title": notebook_title(config.NOTEBOOKS_DIR / f"{n}.ipynb", language)}
                  for n in job.pages],
        "ran_at": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "duration": t("template.seconds", seconds=number(seconds, 1)),
        "fingerprint": record.get("fingerprint") or t("template.no_fingerprint"),
        "version": __version__, "commit": commit, "key": job.key,
        "parameters": yaml.safe_dump(record_params(job.parameters), sort_keys=True, allow_unicode=True),
        "definitions": list(record.get("definitions") or []),
    }}
    body, _ = exporter.from_notebook_node(_strip_for_readers(nb), resources=resources)
    return redact_text(body, job.secrets) if job.secrets else body


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (and so the kernel's start-up chatter) to a log file.

    The kernel inherits file descriptor 2; without this its warnings would break the
    progress bar on the terminal. Errors in the notebook are kept in the notebook itself.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:  # a read-only or full output folder: the page reports that, not the log
        log = open(os.devnull, "a", encoding="utf-8")  # noqa: SIM115
    sys.stderr.flush()
    saved = os.dup(2)
    with log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


_WARM: dict[str, Any] = {}  # this worker process's kernel, kept warm between notebooks
_RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
          "import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt")


def _warm_kernel(log: Path) -> Any:
    """This worker's kernel: started once, its namespace wiped before each notebook.

    Starting a kernel and importing pandas, statsmodels and seaborn into it costs about two
    seconds; a worker runs several notebooks, so it pays that once. Between notebooks the
    namespace is reset (``%reset -f``) and figures are closed, so each notebook still starts
    from nothing but the imported modules.
    """
    import multiprocessing.util

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = _WARM.get("km")
    # a forked worker inherits its parent's entry: that kernel is not this process's to use
    if km is not None and _WARM.get("pid") == os.getpid() and run_sync(km.is_alive)():
        return km
    km = AsyncKernelManager(kernel_name="python3")
    log.parent.mkdir(parents=True, exist_ok=True)
    stderr = open(log, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the kernel's life
    run_sync(km.start_kernel)(cwd=str(config.ROOT), stderr=stderr)
    _WARM.update(km=km, pid=os.getpid())

    def stop() -> None:
        try:
            run_sync(km.shutdown_kernel)(now=True)
        finally:
            stderr.close()

    multiprocessing.util.Finalize(km, stop, exitpriority=10)
    return km


def _reset_kernel(km: Any, folder: Path) -> None:
    import nbformat
    import papermill as pm

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_RESET)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "reset.ipynb"
    nbformat.write(nb, path)
    pm.execute_notebook(str(path), str(path), kernel_name="python3", progress_bar=False, log_output=False,
                        cwd=str(config.ROOT), km=km)




def disk_fault(exc: BaseException | None) -> str | None:
    """``no space left on device: outputs/2026-10`` for a file-system fault anywhere in the
    exception's chain (or in a notebook's error), else None.

    >>> disk_fault(OSError(28, "No space left on device", "/out/x.html"))
    'no space left on device: /out/x.html'
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
            where = exc.filename or ""
            return _DISK_ERRORS[exc.errno] + (f": {_rel(Path(where))}" if where else "")
        # an OSError raised inside the notebook reaches us as papermill's error, as text
        text = f"{getattr(exc, 'ename', '')} {getattr(exc, 'evalue', '')}"
        for code, words in _DISK_ERRORS.items():
            if f"[Errno {code}]" in text:
                return words
        exc = exc.__cause__ or exc.__context__
    return None


def run_job(job: Job, *, commit: str = "unknown", warm: bool = True) -> JobResult:
    """Execute one notebook for one period and publish its page; never raises.

    On failure the executed notebook (with papermill's error banner) is kept under
    ``<out>/<period>/_failed/`` and the published page is left as it was. A full disk or
    a read-only folder is one line (``no space left on device: …``), nothing lost.
    """
    from salesnb.secrets import redact_text

    started = time.perf_counter()
    try:
        result = _run_job(job, commit, warm, started)
    except OSError as exc:  # the output folder itself could not be written
        result = JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                           key=job.key, error=disk_fault(exc) or f"{type(exc).__name__}: {exc}")
    if job.secrets or "://" in result.error:
        result = replace(result, error=redact_text(result.error, job.secrets))
    return result


def _run_job(job: Job, commit: str, warm: bool, started: float) -> JobResult:
    import nbformat
    import papermill as pm

    source = config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb"
    period_out = job.out_dir / job.period_dir
    period_out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=period_out, prefix=".run-") as tmp:
        executed = Path(tmp) / f"{job.notebook}.ipynb"
        language = str(job.parameters.get("language") or "en")
        if language != "en":  # the markdown cells in the page's language, from the catalogue
            from salesnb.texts import translate_cells

            nb_in = nbformat.read(source, as_version=4)
            translate_cells(nb_in, job.notebook, language)
            source = Path(tmp) / f"source-{job.notebook}.ipynb"
            nbformat.write(nb_in, source)
        try:
            with _stderr_to(job.out_dir / "logs" / "kernels.log"):
                extra: dict[str, Any] = {}
                if warm:
                    km = _warm_kernel(job.out_dir / "logs" / "kernels.log")
                    _reset_kernel(km, Path(tmp))
                    extra["km"] = km
                pm.execute_notebook(str(source), str(executed), parameters=dict(job.parameters),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    cwd=str(config.ROOT), **extra)
        except Exception as exc:  # a failing report must not stop the others
            fault = disk_fault(exc)
            if fault:  # the notebook may be half written: nothing to keep or to read
                return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                                 key=job.key, error=fault)
            failed_dir = period_out / "_failed"
            failed_dir.mkdir(exist_ok=True)
            kept = failed_dir / f"{job.notebook}.ipynb"
            cell, message = _failure(exc, executed)
            if executed.exists():
                _keep_failed(executed, kept, job.secrets)
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                             key=job.key, failed_notebook=str(kept) if kept.exists() else None,
                             cell=cell, error=message)
        nb = nbformat.read(executed, as_version=4)
    seconds = time.perf_counter() - started
    record = page_record(nb)
    try:
        _atomic_write(job.html_path, export_html(nb, job, seconds=seconds, commit=commit,
                                                 record=record))
    except Exception as exc:
        return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                         key=job.key, error=disk_fault(exc) or f"HTML export failed: {type(exc).__name__}: {exc}")
    for attached in record.get("files") or []:
        error = _write_attached(period_out, attached)
        if error:
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started, key=job.key,
                             error=error)
    try:  # this page's sheets of the period's workbook, kept until the page runs again
        _atomic_write(period_out / SHEETS_DIR / f"{job.notebook}.json",
                      json.dumps(record.get("sheets") or [], ensure_ascii=False))
    except OSError as exc:
        return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started, key=job.key,
                         error=disk_fault(exc) or f"could not keep the page's sheets: {exc}")
    (period_out / "_failed" / f"{job.notebook}.ipynb").unlink(missing_ok=True)
    return JobResult(job.notebook, job.period, "ok", time.perf_counter() - started, key=job.key,
                     html=str(job.html_path), fingerprint=str(record.get("fingerprint", "")),
                     headline={str(k): str(v) for k, v in record.get("headline") or []})


def _write_attached(period_out: Path, attached: Any) -> str:
    """Write a file a page attached (:func:`salesnb.present.attach_csv`) beside it; an error
    text, or "" when written."""
    from salesnb.present import CSV_NAME

    name = str(attached.get("name", "")) if isinstance(attached, dict) else ""
    if not CSV_NAME.fullmatch(name) or ".." in name:
        return f"the page attached a file with an unsafe name: {name[:80]!r}"
    try:
        _atomic_write(period_out / name, str(attached.get("text", "")))
    except OSError as exc:
        return disk_fault(exc) or f"could not write {name}: {exc}"
    return ""


SHEETS_DIR = ".sheets"
WORKBOOK = "kpis.xlsx"


def write_workbook(period_out: Path, pages: Sequence[str]) -> Path | None:
    """``<period>/kpis.xlsx`` from the sheets every page of the period kept, in page order;
    None when no page has a sheet. Written atomically: a reader never sees half a file."""
    from salesnb import workbook

    sheets: list[dict[str, Any]] = []
    folder = period_out / SHEETS_DIR
    kept = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    for name in [*pages, *sorted(set(kept) - set(pages))]:
        if name in kept:
            sheets += json.loads(kept[name].read_text(encoding="utf-8"))
    if not sheets:
        return None
    path = period_out / WORKBOOK
    tmp = path.with_name(f".{WORKBOOK}.tmp")
    workbook.write(tmp, sheets)
    os.replace(tmp, path)
    return path


def _keep_failed(executed: Path, kept: Path, secrets: frozenset[str]) -> None:
    """Move the executed notebook to ``_failed/``; a secret in an error text is masked."""
    if secrets:
        from salesnb.secrets import redact_text

        executed.write_text(redact_text(executed.read_text(encoding="utf-8"), secrets), encoding="utf-8")
    os.replace(executed, kept)


def _failure(exc: Exception, executed: Path) -> tuple[int | None, str]:
    """The failing cell and a one-line message.

    The cell number is the cell's position in the notebook as the analyst sees it in
    JupyterLab (from 1, markdown cells counted, papermill's added cells not).
    """
    import nbformat

    name = getattr(exc, "ename", type(exc).__name__)
    value = str(getattr(exc, "evalue", exc)).strip().splitlines()
    message = f"{name}: {value[0] if value else ''}".strip()
    cell = None
    try:
        nb = nbformat.read(executed, as_version=4) if executed.exists() else None
    except Exception:  # half written (the kernel died while papermill saved): the message will do
        nb = None
    if nb is not None:
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


# -------------------------------------------------------------------------- the index

def _read_manifest(out_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    path = out_dir / "manifest.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}
    return {}


def write_index(out_dir: Path, results: Sequence[JobResult], notebooks: Sequence[str], *,
                current_keys: Mapping[tuple[str, str], str] | None = None, fiscal_year_start: int = 1,
                language: str = "en") -> Path:
    """``<out>/index.html``: every period × notebook, newest period first, with status.

    Statuses: ``ok``; ``failed`` (the last good page, if any, is still linked); ``stale``
    (the page's notebook, parameters, code or data changed since it was made);
    ``missing``. The manifest (``<out>/manifest.json``) keeps what earlier runs published.
    """

    from salesnb.texts import using

    with using(language):
        return _write_index(out_dir, results, notebooks, current_keys=current_keys,
                            fiscal_year_start=fiscal_year_start, language=language)


def _write_index(out_dir: Path, results: Sequence[JobResult], notebooks: Sequence[str], *,
                 current_keys: Mapping[tuple[str, str], str] | None, fiscal_year_start: int,
                 language: str) -> Path:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from salesnb.texts import t

    manifest = _read_manifest(out_dir)
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for r in results:
        entry = manifest.setdefault(r.period, {}).setdefault(r.notebook, {})
        if r.status == "up to date":
            continue
        entry.update({"status": r.status, "error": r.error, "seconds": round(r.seconds, 1), "at": now})
        if r.status == "ok":
            entry.update({"key": r.key, "fingerprint": r.fingerprint})
            if r.headline:
                manifest[r.period].setdefault("_period", {})["headline"] = dict(r.headline)
        else:
            entry["failed_key"] = r.key
    _atomic_write(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    all_nbs = list(dict.fromkeys([*notebooks, *(n for e in manifest.values() for n in e if n != "_period")]))

    def sort_key(name: str) -> tuple[str, str]:
        p = parse_period(name, fiscal_year_start=fiscal_year_start)
        return (p.end.isoformat(), p.start.isoformat())

    rows = []
    for period in sorted(manifest, key=sort_key, reverse=True):
        folder = period.replace("..", "_to_")
        cells = []
        for nb in all_nbs:
            e = manifest[period].get(nb)
            page = out_dir / folder / f"{nb}.html"
            status = e["status"] if e else "missing"
            key_now = (current_keys or {}).get((period, nb))
            if status == "ok" and key_now and e and key_now != e.get("key"):
                status = "stale"
            note = ""
            if status == "failed":
                note = t("index.kept") if page.is_file() else t("index.no_page")
            elif status == "stale":
                note = t("index.stale_note")
            cells.append({"status": status, "status_text": t(f"index.{status}"),
                          "href": f"{folder}/{nb}.html" if page.is_file() else None,
                          "note": note})
        headline = manifest[period].get("_period", {}).get("headline", {})
        label = parse_period(period, fiscal_year_start=fiscal_year_start).label
        book = out_dir / folder / WORKBOOK
        rows.append({"period": period, "label": label, "cells": cells, "headline": headline,
                     "workbook": f"{folder}/{WORKBOOK}" if book.is_file() else None})
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    rendered = env.get_template("index.html.j2").render(
        rows=rows, notebooks=[{"name": n, "title": notebook_title(config.NOTEBOOKS_DIR / f"{n}.ipynb", language)}
                              for n in all_nbs], language=language,
        text={k: t(f"index.{k}") for k in ("title", "intro", "period", "headline", "view", "workbook")},
        updated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
    path = out_dir / "index.html"
    _atomic_write(path, rendered)
    return path


# --------------------------------------------------------------------------- publishing

@dataclass
class PublishReport:
    """The outcome of one publish run."""

    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0
    log: Path | None = None
    problems: list[str] = field(default_factory=list)  # the index or the log not written

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ran(self) -> list[JobResult]:
        return [r for r in self.results if r.status != "up to date"]


@contextmanager
def _lock(out_dir: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One publish at a time per output folder; a second run waits for the first.

    Where the folder cannot be written (read-only, full) there is no lock to take: the run
    goes on and each page reports the fault.
    """
    path = out_dir / ".lock"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another run"
            say(f"waiting: {holder} is publishing to {out_dir}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        note = f"salesnb report (pid {os.getpid()}, started {datetime.now().astimezone():%Y-%m-%d %H:%M:%S})"
        with contextlib.suppress(OSError):  # a full disk: the lock holds without its note
            os.ftruncate(fh.fileno(), 0)
            os.pwrite(fh.fileno(), note.encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fh.fileno(), 0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sweep(out_dir: Path) -> None:
    """Remove what runs killed mid-way left: ``.run-*`` folders and half-written pages.

    Called under the lock, so nothing found belongs to a run still going.
    """
    import shutil

    for tmp in [*out_dir.glob("*/.run-*"), *out_dir.glob(".*.tmp"), *out_dir.glob("*/.*.tmp"),
                *out_dir.glob("logs/.*.tmp")]:
        with contextlib.suppress(OSError):  # a read-only folder: the run reports that for its pages
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()


def _up_to_date(job: Job, manifest: Mapping[str, Any]) -> bool:
    entry = manifest.get(job.period, {}).get(job.notebook, {})
    return entry.get("status") == "ok" and entry.get("key") == job.key and job.html_path.is_file()


def publish(*, period: str | None = None, base: Path | None = None,
            out_dir: Path | None = None, workers: int | None = None, force: bool = False,
            progress: bool = True, on_result: Callable[[JobResult], None] | None = None,
            say: Callable[[str], None] | None = None) -> PublishReport:
    """Run the jobs of :func:`plan_jobs` that changed (all with ``force``), in parallel."""
    started = time.perf_counter()
    say = say or (lambda text: print(text, file=sys.stderr))
    jobs = plan_jobs(period=period, base=base, out_dir=out_dir, say=say)
    out = jobs[0].out_dir
    report = PublishReport()
    environment = dict(pair for j in jobs for pair in j.environment)
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)  # the workers and their kernels inherit the secrets from here
    try:
        with _lock(out, say):
            _sweep(out)
            _publish_locked(jobs, report, out, period=period, base=base, workers=workers, force=force,
                            progress=progress, on_result=on_result)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    report.seconds = time.perf_counter() - started
    return report


def _publish_locked(jobs: list[Job], report: PublishReport, out: Path, *, period: str | None,
                    base: Path | None, workers: int | None, force: bool, progress: bool,
                    on_result: Callable[[JobResult], None] | None) -> None:
    started = time.perf_counter()
    manifest = _read_manifest(out)
    todo = [j for j in jobs if force or not _up_to_date(j, manifest)]
    report.results += [JobResult(j.notebook, j.period, "up to date", 0.0, key=j.key)
                       for j in jobs if j not in todo]
    if todo:
        _validate_sources(todo)
        # longest first (as last time), so that no worker starts a long job alone at the end
        last = {(period_, nb): e.get("seconds", 0.0) for period_, entries in manifest.items()
                for nb, e in entries.items() if isinstance(e, dict)}
        todo.sort(key=lambda j: -last.get((j.period, j.notebook), 5.0))
        _run(todo, report, workers, progress, on_result)
        for job in {j.period_dir: j for j in todo}.values():
            try:
                write_workbook(job.out_dir / job.period_dir, job.pages)
            except (OSError, ValueError, KeyError) as exc:
                report.problems.append(f"{job.period}: {WORKBOOK} not written: {disk_fault(exc) or exc}")
    # the index also marks pages of other periods whose inputs changed as stale
    everything = jobs if period is None else _all_jobs(base, out)
    try:
        report.index = write_index(out, report.results, jobs[0].pages,
                                   current_keys={(j.period, j.notebook): j.key for j in everything},
                                   fiscal_year_start=int(jobs[0].parameters.get("fiscal_year_start") or 1),
                                   language=str(jobs[0].parameters.get("language") or "en"))
    except OSError as exc:
        report.problems.append(f"index not updated: {disk_fault(exc) or exc}")
    if todo:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        log = out / "logs" / f"run-{stamp}.json"
        try:
            _atomic_write(log, json.dumps(
                {"seconds": round(time.perf_counter() - started, 2), "forced": force,
                 "results": [asdict(r) for r in report.results]}, indent=2, default=str))
            report.log = log
        except OSError as exc:
            report.problems.append(f"run log not written: {disk_fault(exc) or exc}")


def _plain(value: Any) -> Any:
    """Params as JSON-safe values: dates and times as ISO text, containers walked."""
    from datetime import date

    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _check_periods(jobs: Sequence[Job], data: Any) -> None:
    """A period the data does not reach at all stops the run (one line: the period and the
    span the data covers); a period it reaches in part publishes, with notes on the pages."""
    import pandas as pd

    from salesnb.aggregate import data_end, data_start
    from salesnb.engines import as_source

    src = as_source(data)
    first, last = data_start(src), data_end(src)
    if first == pd.Timestamp.min:
        return
    for job in jobs:
        p = parse_period(job.period, fiscal_year_start=int(job.parameters.get("fiscal_year_start") or 1))
        if p.end_ts <= first or p.start_ts > last:
            raise PublishError(f"period {job.period} ({p.start} to {p.end}) is outside the data, which covers "
                               f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")


def _validate_sources(jobs: Sequence[Job]) -> None:
    """Check what the params name before any notebook runs: the custom KPIs, the PDCA
    register and each data source (loaded and validated once).

    Every problem is reported at once (a :class:`PublishError`: exit 2, nothing published
    touched) instead of once per page; a valid load is cached, so the notebooks read it
    from the cache.
    """
    from salesnb.data import load
    from salesnb.params import check_references
    from salesnb.secrets import redact_text

    problems: list[str] = []
    seen: set[str] = set()
    for job in jobs:
        ident = json.dumps([job.parameters.get("custom_kpis"), job.parameters.get("initiatives")],
                           sort_keys=True, default=str)
        if ident not in seen:
            seen.add(ident)
            problems += check_references(job.parameters, root=config.ROOT)
    secrets = frozenset(s for j in jobs for s in j.secrets)
    for job in jobs:
        source, stages = job.parameters.get("source"), job.parameters.get("funnel_stages")
        ident = json.dumps([source, stages], sort_keys=True, default=str)
        if source is None or ident in seen:
            continue
        seen.add(ident)
        try:
            data = load(source, base_dir=config.ROOT, funnel_stages=list(stages) if stages else None, cache=True)
        except ValueError as exc:  # DataValidationError lists every problem; a mapping error names its key
            problems.append(f"the data cannot be loaded:\n{redact_text(str(exc), secrets)}")
            continue
        try:
            _check_periods([j for j in jobs if j.parameters.get("source") == source], data)
        except PublishError as exc:
            problems.append(str(exc))
    if problems:
        raise PublishError("nothing was published:\n" + "\n".join(problems))


def _all_jobs(base: Path | None, out: Path) -> list[Job]:
    try:
        return plan_jobs(base=base, out_dir=out)
    except PublishError:
        return []


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def _share_cores(n_workers: int) -> Iterator[None]:
    """Give each worker's kernel its share of the cores for BLAS threads while pages run.

    Every kernel's OpenBLAS would otherwise start a thread per core, and two kernels fitting
    small statsmodels models on two cores spend their time waiting for each other: the
    Outlook page took 11 s beside another page instead of 5 s. A limit the user set stays.
    """
    share = str(max(1, (os.cpu_count() or 1) // n_workers))
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update({k: share for k, v in saved.items() if v is None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _run(todo: list[Job], report: PublishReport, workers: int | None, progress: bool,
         on_result: Callable[[JobResult], None] | None) -> None:
    from tqdm import tqdm

    commit = _git_commit()
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = tqdm(total=len(todo), unit="page", desc="publishing", disable=not progress)
    with _share_cores(n_workers), ProcessPoolExecutor(max_workers=n_workers) as pool:
        futures = {pool.submit(run_job, job, commit=commit): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception:  # a crashed worker: report it like a failed notebook
                result = JobResult(job.notebook, job.period, "failed", 0.0, key=job.key,
                                   error=traceback.format_exc().strip().splitlines()[-1])
            report.results.append(result)
            bar.set_postfix_str(f"{result.period} {result.notebook} {result.status}")
            bar.update()
            if on_result:
                on_result(result)
    bar.close()

