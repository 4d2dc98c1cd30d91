"""The run: plan, lock, run what changed, then the workbooks, the index and the run log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from salesnb.publish import files
from salesnb.publish.files import WORKBOOK, disk_fault, write_workbook
from salesnb.publish.index import read_manifest, write_index
from salesnb.publish.jobs import Job, JobResult, PublishReport, all_jobs, plan_jobs, up_to_date
from salesnb.publish.locking import lock, sweep
from salesnb.publish.sources import validate_sources
from salesnb.publish.workers import Workers, deferred, run_all, stop_on_signals, stop_signal

__all__ = ["publish"]


def publish(*, period: str | None = None, base: Path | None = None,
            out_dir: Path | None = None, workers: int | None = None, force: bool = False,
            progress: bool = True, on_result: Callable[[JobResult], None] | None = None,
            say: Callable[[str], None] | None = None) -> PublishReport:
    """Run the jobs of :func:`plan_jobs` that changed (all with ``force``), in parallel.

    SIGTERM or SIGINT before the pages run raises :class:`~salesnb.publish.workers.Stopped`
    (nothing was written); while they run, every worker and kernel is stopped, the pages
    that finished are published, the others keep their last good page, and the index and
    the run log are written; ``report.stopped`` holds the signal.
    """
    with stop_on_signals():
        return _publish(period=period, base=base, out_dir=out_dir, workers=workers, force=force,
                        progress=progress, on_result=on_result, say=say)


def _publish(*, period: str | None, base: Path | None, out_dir: Path | None, workers: int | None, force: bool,
             progress: bool, on_result: Callable[[JobResult], None] | None,
             say: Callable[[str], None] | None) -> PublishReport:
    started = time.perf_counter()
    say = say or (lambda text: print(text, file=sys.stderr))
    jobs = plan_jobs(period=period, base=base, out_dir=out_dir, say=say)
    out = jobs[0].out_dir
    report = PublishReport()
    environment = dict(pair for j in jobs for pair in j.environment)
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)  # the workers and their kernels inherit the secrets from here
    try:
        with lock(out, say):
            sweep(out)
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
    manifest = read_manifest(out)
    todo = [j for j in jobs if force or not up_to_date(j, manifest)]
    report.results += [JobResult(j.notebook, j.period, "up to date", 0.0, key=j.key)
                       for j in jobs if j not in todo]
    if not todo:
        with deferred():
            _run_and_record(todo, jobs, report, out, period=period, base=base, workers=None, force=force,
                            progress=progress, on_result=on_result, started=started)
        return
    # the workers start their kernels while the data is checked; a bad source or a signal
    # before the pages run stops them (the context), and run_all stops them after the pages
    log = todo[0].out_dir / "logs" / "kernels.log"
    had_log, checked = log.exists(), False
    try:
        with Workers(todo, workers) as started_workers:
            validate_sources(todo)
            checked = True
            # longest first (as last time), so that no worker starts a long job alone at the end
            last = {(period_, nb): e.get("seconds", 0.0) for period_, entries in manifest.items()
                    for nb, e in entries.items() if isinstance(e, dict)}
            todo.sort(key=lambda j: -last.get((j.period, j.notebook), 5.0))
            # from here a signal is noted, not raised: the workers stop, and what finished is recorded
            with deferred():
                _run_and_record(todo, jobs, report, out, period=period, base=base, workers=started_workers,
                                force=force, progress=progress, on_result=on_result, started=started)
    finally:
        if not checked and not had_log:  # refused before any page: no log of kernels that ran nothing
            with contextlib.suppress(OSError):
                log.unlink(missing_ok=True)
                log.parent.rmdir()  # (only when empty)


def _run_and_record(todo: list[Job], jobs: list[Job], report: PublishReport, out: Path, *, period: str | None,
                    base: Path | None, workers: Workers | None, force: bool, progress: bool,
                    on_result: Callable[[JobResult], None] | None, started: float) -> None:
    if todo:
        run_all(todo, report, workers, progress, on_result)
        for job in {j.period_dir: j for j in todo}.values():
            try:
                cleaned = write_workbook(job.out_dir / job.period_dir, job.pages)
                if cleaned:
                    report.notes.append(f"{job.period}: {WORKBOOK}: {cleaned:,} texts held characters a "
                                        f"workbook cannot store (control characters); written with "
                                        f"U+FFFD (\ufffd) in their place")
            except Exception as exc:  # noqa: BLE001 — a workbook must not cost the index, manifest and log
                report.problems.append(f"{job.period}: {WORKBOOK} not written: {disk_fault(exc) or exc}")
    report.stopped = stop_signal()
    # the index also marks pages of other periods whose inputs changed as stale
    try:
        everything = jobs if period is None else all_jobs(base, out)
        report.index = write_index(out, report.results, jobs[0].pages,
                                   current_keys={(j.period, j.notebook): j.key for j in everything},
                                   fiscal_year_start=int(jobs[0].parameters.get("fiscal_year_start") or 1),
                                   language=str(jobs[0].parameters.get("language") or "en"))
    except Exception as exc:  # noqa: BLE001 — the run log and the exit status still follow
        report.problems.append(f"index not updated: {disk_fault(exc) or exc}")
    if todo:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        log = out / "logs" / f"run-{stamp}.json"
        stopped = signal.Signals(report.stopped).name if report.stopped else None
        try:
            files.atomic_write(log, json.dumps(
                {"seconds": round(time.perf_counter() - started, 2), "forced": force, "stopped": stopped,
                 "results": [asdict(r) for r in report.results]}, indent=2, default=str))
            report.log = log
        except OSError as exc:
            report.problems.append(f"run log not written: {disk_fault(exc) or exc}")
