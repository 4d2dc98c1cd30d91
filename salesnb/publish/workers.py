"""The processes: worker processes with one warm kernel each, what runs in them, and how
they stop (a signal to the run stops every worker and kernel; nothing is left running).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from salesnb import config
from salesnb.publish import files
from salesnb.publish.files import SHEETS_DIR, disk_fault, keep_failed, unsafe_attachment, write_attached
from salesnb.publish.html import export_html, page_record
from salesnb.publish.jobs import Job, JobResult, PublishReport

__all__ = ["git_commit", "run_all", "Workers", "notebook_imports", "run_job", "Stopped", "stop_on_signals", "deferred",
           "stop_signal", "longest_first", "PAGE_SECONDS"]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.ROOT,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=config.ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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


# %reset also drops the module's own attributes (__spec__, __file__ …) from __main__, whose
# namespace is the notebook's; a library that reads them (the Spark Connect client checks
# __main__.__spec__) then fails. They are kept on the shell and put back.
_RESET = ("get_ipython()._salesnb_dunders = {k: v for k, v in globals().items()\n"
          "                                  if k.startswith('__') and k.endswith('__')}\n"
          "get_ipython().run_line_magic('reset', '-f')\n"
          "for _k, _v in get_ipython()._salesnb_dunders.items():\n    globals().setdefault(_k, _v)\n"
          "del _k, _v\n"
          "import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt")


def _warm_kernel(log: Path) -> Any:
    """This worker's kernel: started once, its namespace wiped before each notebook.

    Starting a kernel and importing pandas, statsmodels and seaborn into it costs about two
    seconds; a worker runs several notebooks, so it pays that once. Between notebooks the
    namespace is reset (``%reset -f``) and figures are closed, so each notebook starts from
    nothing but the imported modules and the loaded data: the next page on the same files
    and settings reuses the data and its aggregates (:func:`salesnb.context_from` keeps
    them; a page's numbers are the same either way, which a test checks).
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
    # a SIGTERM while the kernel starts waits until its process group is known and noted
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        run_sync(km.start_kernel)(cwd=str(config.ROOT), stderr=stderr)
        pgid = getattr(km.provisioner, "pgid", None) or getattr(getattr(km.provisioner, "process", None), "pid", None)
        _WARM.update(km=km, pid=os.getpid(), pgid=pgid)
        if _WARM.get("registry") and pgid:  # for the parent, should this worker die without stopping it
            with contextlib.suppress(OSError):
                (Path(_WARM["registry"]) / str(os.getpid())).write_text(str(pgid), encoding="utf-8")
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    started = km

    def stop() -> None:
        try:
            for client in ("kc", "page_kc"):
                if _WARM.get(f"{client}_of") is started:
                    _WARM.pop(client).stop_channels()
            run_sync(started.shutdown_kernel)(now=True)
        finally:
            stderr.close()

    multiprocessing.util.Finalize(km, stop, exitpriority=10)
    return km


# A warm kernel outlives its page; its Spark application must not: on a cluster an idle
# application keeps the cores it was given, and the next page's waits for them for ever.
_RELEASE_SPARK = ("import sys as _sys\n"
                  "if 'salesnb.engines' in _sys.modules:\n    _sys.modules['salesnb.engines'].stop_spark()\n"
                  "del _sys")


def _client(km: Any) -> Any:
    """The client kept beside this worker's kernel, ready."""
    from jupyter_client.blocking import BlockingKernelClient

    kc = _WARM.get("kc")
    if kc is None or _WARM.get("kc_of") is not km:
        # a blocking client: an asynchronous one is tied to the event loop it was made in,
        # and papermill runs each notebook in a loop of its own
        kc = BlockingKernelClient()
        kc.load_connection_info(km.get_connection_info())
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        _WARM.update(kc=kc, kc_of=km)
    return kc


def _page_client(km: Any) -> Any:
    """The client kept beside this worker's kernel that papermill runs the pages through: a
    new one per page waited a fifth of a second for the kernel's output channel to connect
    (``wait_for_ready``). Asynchronous, as papermill's own: its sockets belong to the event
    loop that jupyter's ``run_sync`` keeps for this thread, so it serves every page."""
    from jupyter_core.utils import run_sync

    kc = _WARM.get("page_kc")
    if kc is None or _WARM.get("page_kc_of") is not km:
        if kc is not None:  # the client of a kernel that died and was started again
            with contextlib.suppress(Exception):
                kc.stop_channels()
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        kc.allow_stdin = False
        _WARM.update(page_kc=kc, page_kc_of=km)
    return kc


def _reset_kernel(km: Any, code: str = _RESET) -> None:
    """Run ``code`` in the warm kernel through a client kept beside it (a notebook run
    through papermill for the same few lines took half a second per page); raises when
    the code fails, and the page fails with it."""
    kc = _client(km)
    # the kept client also hears every page's outputs; reading up to this reply drops them
    reply = kc.execute_interactive(code, store_history=False, allow_stdin=False, timeout=120,
                                   output_hook=lambda _msg: None)
    content = reply.get("content", {})
    if content.get("status") != "ok":
        raise RuntimeError(f"the warm kernel could not be reset: {content.get('ename')}: {content.get('evalue')}")


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

    from salesnb.publish.execute import ENGINE  # (imports papermill's engines: not before it is needed)

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
        kernel_seconds = 0.0
        try:
            with _stderr_to(job.out_dir / "logs" / "kernels.log"):
                extra: dict[str, Any] = {}
                if warm:
                    before = time.perf_counter()
                    km = _warm_kernel(job.out_dir / "logs" / "kernels.log")
                    _reset_kernel(km)  # (the first one waits for a new kernel to be ready)
                    kernel_seconds = time.perf_counter() - before
                    extra.update(km=km, kc=_page_client(km))
                try:
                    # written when it ends (see salesnb.publish.execute): a failing cell or a
                    # kernel that dies (out of memory) leaves it as far as it got, for _failed/
                    nb = pm.execute_notebook(str(source), str(executed), parameters=dict(job.parameters),
                                             kernel_name="python3", progress_bar=False, log_output=False,
                                             cwd=str(config.ROOT), engine_name=ENGINE, **extra)
                finally:
                    if warm and job.parameters.get("engine") == "spark":
                        with contextlib.suppress(Exception):  # a dead kernel has no application left
                            _reset_kernel(extra["km"], _RELEASE_SPARK)
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
                keep_failed(executed, kept, job.secrets)
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                             key=job.key, failed_notebook=str(kept) if kept.exists() else None,
                             cell=cell, error=message)
    seconds = time.perf_counter() - started
    record = page_record(nb)
    try:
        html = export_html(nb, job, seconds=seconds, commit=commit, record=record)
    except Exception as exc:
        return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started,
                         key=job.key, error=disk_fault(exc) or f"HTML export failed: {type(exc).__name__}: {exc}")
    # the attachments and sheets first, the page last: a failure leaves the last good page,
    # never a new page beside old attachments
    attachments = list(record.get("files") or [])
    for attached in attachments:
        error = unsafe_attachment(attached)
        if error:
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started, key=job.key,
                             error=error)
    for attached in attachments:
        error = write_attached(period_out, attached)
        if error:
            return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started, key=job.key,
                             error=error)
    try:  # this page's sheets of the period's workbook, kept until the page runs again
        files.atomic_write(period_out / SHEETS_DIR / f"{job.notebook}.json",
                      json.dumps(record.get("sheets") or [], ensure_ascii=False))
        files.atomic_write(job.html_path, html)
    except OSError as exc:
        return JobResult(job.notebook, job.period, "failed", time.perf_counter() - started, key=job.key,
                         error=disk_fault(exc) or f"could not write the page: {exc}")
    (period_out / "_failed" / f"{job.notebook}.ipynb").unlink(missing_ok=True)
    return JobResult(job.notebook, job.period, "ok", time.perf_counter() - started, key=job.key,
                     html=str(job.html_path), kernel_seconds=round(kernel_seconds, 3),
                     fingerprint=str(record.get("fingerprint", "")),
                     headline={str(k): str(v) for k, v in record.get("headline") or []},
                     summary={k: record[k] for k in ("findings", "tiles") if isinstance(record.get(k), list)})


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


class Stopped(Exception):  # noqa: N818 - not an error: the run was asked to stop
    """The run got SIGTERM or SIGINT while it planned or loaded (nothing was written yet)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_STOP: dict[str, Any] = {"signum": None, "deferred": False}


def _on_signal(signum: int, _frame: Any) -> None:
    if _STOP["signum"] is None:
        _STOP["signum"] = signum
    if not _STOP["deferred"]:
        raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[dict[str, Any]]:
    """SIGTERM and SIGINT stop the run: while it plans and loads they raise :class:`Stopped`;
    inside :func:`deferred` (pages running, the index and log being written) they are noted
    in the yielded state (``signum``), :func:`run_all` stops every worker and kernel, and
    the run still writes what finished. Outside the main thread nothing is installed."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield _STOP
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _STOP.update(signum=None, deferred=False)
    for s in saved:
        signal.signal(s, _on_signal)
    try:
        yield _STOP
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def stop_signal() -> int | None:
    """The signal that asked this run to stop, or None."""
    return _STOP["signum"]


@contextmanager
def deferred() -> Iterator[None]:
    """A signal inside is noted, not raised: see :func:`stop_on_signals`."""
    before = _STOP["deferred"]
    _STOP["deferred"] = True
    try:
        yield
    finally:
        _STOP["deferred"] = before


def _worker_init(registry: str, log: str = "", prelude: str = "") -> None:
    """Each worker: Ctrl-C is the parent's to handle (the terminal sends it to the whole
    group); SIGTERM from the parent stops this worker's kernel, then the worker. With a
    ``log``, the worker starts its kernel at once and sends it ``prelude`` (see
    :class:`Workers`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    _WARM["registry"] = registry
    _skip_iri_grammars()
    if log:
        _start_warm(Path(log), prelude)


def _start_warm(log: Path, prelude: str) -> None:
    """Start this worker's kernel and send it ``prelude`` without waiting for it: the kernel
    imports while the parent checks the data. Nothing here may fail the worker: the first
    page starts the kernel again if need be, and reports what fails then."""
    try:
        with _stderr_to(log):
            km = _warm_kernel(log)
            if prelude:
                # the imported modules live as long as the kernel: frozen, the full collections
                # of every page's %reset (0.25 s each) no longer walk them (0.03 s)
                prelude += "\nimport gc as _gc\n_gc.freeze()\ndel _gc"
                # stop_on_error=False: a failing prelude must not abort the page queued behind it
                _client(km).execute(prelude, silent=True, store_history=False, stop_on_error=False)
    except Exception:  # noqa: BLE001, S110 - a warm-up only; the page itself reports a kernel that fails
        pass


def notebook_imports(notebooks: Sequence[Path]) -> str:
    """Code that runs the top-level import statements of the notebooks' code cells, each on
    its own and silently (a failing one is the page's to report), into a throwaway
    namespace: what a warm kernel can import before it knows its first page.

    >>> import json, tempfile
    >>> nb = {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\\n", "import math\\n", "x = 1"]}]}
    >>> path = Path(tempfile.mkdtemp()) / "a.ipynb"
    >>> _ = path.write_text(json.dumps(nb), encoding="utf-8")
    >>> notebook_imports([path])
    "for _s in ['import math']:\\n    try:\\n        exec(_s, {})\\n    except Exception:\\n        pass\\ndel _s"
    """
    import ast

    found: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            # IPython's magics and shell lines are not Python
            code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
                    statement = ast.unparse(node)
                    if statement not in found:
                        found.append(statement)
    if not found:
        return ""
    return f"for _s in {found!r}:\n    try:\n        exec(_s, {{}})\n    except Exception:\n        pass\ndel _s"


def _skip_iri_grammars() -> None:
    """Keep ``import nbformat`` from compiling 39 grammars it never uses.

    jsonschema registers an "iri" format checker when ``rfc3987_syntax`` is installed (it
    comes with jupyter-events), and importing that package compiles 39 lark grammars: 1.1 to
    1.5 s of each worker's first page, on cores the kernels need. The notebook schemas use no
    "iri" format, so nothing nbformat checks changes; other processes are left alone.
    """
    if "jsonschema" not in sys.modules:  # already imported: too late, and no longer costly
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: import fails


def _worker_stop(signum: int, _frame: Any) -> None:
    pgid = _WARM.get("pgid") if _WARM.get("pid") == os.getpid() else None
    if pgid:
        with contextlib.suppress(OSError):
            os.killpg(int(pgid), signal.SIGKILL)  # the kernel and anything it started (a Spark JVM)
    with contextlib.suppress(OSError):
        (Path(str(_WARM.get("registry"))) / str(os.getpid())).unlink()
    os._exit(128 + signum)  # no clean-up that could write: the page being written stays a .tmp, swept later


def _stop_workers(registry: Path, grace: float = 10.0) -> None:
    """Stop every worker (SIGTERM: each stops its kernel), then kill what is left: a worker
    after ``grace`` seconds, and any kernel a dead worker noted in ``registry``."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(OSError):
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            child.kill()
            child.join(2.0)
    for noted in registry.glob("*"):
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int(noted.read_text(encoding="utf-8")), signal.SIGKILL)
        noted.unlink(missing_ok=True)


class Workers:
    """The worker processes of a run, started before the pages are known to be runnable:
    each starts its kernel at once and imports there what the notebooks import (about three
    seconds a kernel), while the parent loads and checks the data on the other core.

    :meth:`close` stops them (``stop=True``: at once, their kernels killed); a run that stops
    before the pages run (a bad source, a signal) leaves nothing running.
    """

    def __init__(self, todo: Sequence[Job], workers: int | None = None) -> None:
        self.size = max(1, min(workers or os.cpu_count() or 1, len(todo)))
        self.registry = Path(tempfile.mkdtemp(prefix="salesnb-kernels-"))
        notebooks = dict.fromkeys(config.NOTEBOOKS_DIR / f"{job.notebook}.ipynb" for job in todo)
        log = todo[0].out_dir / "logs" / "kernels.log" if todo else None
        self.closed = False
        with _share_cores(self.size):  # the kernels start now and keep the limit
            self.pool = ProcessPoolExecutor(max_workers=self.size, initializer=_worker_init,
                                            initargs=(str(self.registry), str(log or ""),
                                                      notebook_imports(list(notebooks)) if log else ""))
            for _ in range(self.size):  # starts every worker now, whatever the start method
                self.pool.submit(int)

    def close(self, *, stop: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if stop:
            _stop_workers(self.registry)
        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.registry, ignore_errors=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(stop=kind is not None)


def run_all(todo: list[Job], report: PublishReport, workers: int | Workers | None, progress: bool,
            on_result: Callable[[JobResult], None] | None) -> None:
    """Run ``todo`` in worker processes (``workers``: their number, or :class:`Workers`
    already started), adding each result to ``report`` as it comes, then stop them. On
    SIGTERM or SIGINT (noted by :func:`stop_on_signals`) the workers and their kernels are
    stopped and each unfinished job is reported as stopped; its last good page stays."""
    from tqdm import tqdm

    commit = git_commit()
    started = workers if isinstance(workers, Workers) else Workers(todo, workers)
    todo = longest_first(todo, _page_seconds())
    bar = tqdm(total=len(todo), unit="page", desc="publishing", disable=not progress)
    try:
        with deferred():
            futures = {started.pool.submit(run_job, job, commit=commit): job for job in todo}
            pending = set(futures)
            while pending and _STOP["signum"] is None:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
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
            if pending:
                started.close(stop=True)
                name = signal.Signals(_STOP["signum"]).name
                for future in pending:
                    job = futures[future]
                    report.results.append(JobResult(job.notebook, job.period, "failed", 0.0, key=job.key,
                                                    error=f"stopped by {name} before it finished; the last "
                                                          f"good page is kept"))
    finally:
        started.close()
        bar.close()
        _note_page_seconds(report.results)


# how long each notebook took last time, so that the next run starts the slowest first
PAGE_SECONDS = Path(".cache") / "page_seconds.json"


def longest_first(jobs: list[Job], seconds: dict[str, float]) -> list[Job]:
    """The jobs with the slowest notebooks (by their last run) first: two workers that
    started the two longest pages finish together, instead of one running the longest page
    alone at the end. Notebooks never timed go first (they may be long), in their order.

    >>> jobs = [Job(name, "2026-10", {}, Path("site")) for name in ("a", "b", "c")]
    >>> [j.notebook for j in longest_first(jobs, {"a": 1.0, "b": 3.0})]
    ['c', 'b', 'a']
    """
    return sorted(jobs, key=lambda j: -seconds.get(j.notebook, float("inf")))


def _page_seconds() -> dict[str, float]:
    try:
        seen = json.loads((config.ROOT / PAGE_SECONDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(seen, dict):
        return {}
    return {str(k): float(v) for k, v in seen.items() if isinstance(v, int | float)}


def _note_page_seconds(results: list[JobResult]) -> None:
    """Each notebook's latest time (its slowest period), kept for :func:`longest_first`;
    at most a few hundred names, and a read-only project only loses the ordering."""
    seen = _page_seconds()
    latest: dict[str, float] = {}
    for r in results:
        if r.status == "ok":  # the page's own time, without its worker's kernel start
            latest[r.notebook] = max(latest.get(r.notebook, 0.0), round(r.seconds - r.kernel_seconds, 2))
    if not latest:
        return
    seen.update(latest)
    with contextlib.suppress(OSError):
        files.atomic_write(config.ROOT / PAGE_SECONDS, json.dumps(dict(list(seen.items())[-500:]), indent=1))
