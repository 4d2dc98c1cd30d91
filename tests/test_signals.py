"""Clean stops: SIGTERM (systemd's stop, a timeout) or SIGINT in the middle of `salesnb report`
stops every worker and kernel, leaves every published page whole, releases the lock, writes
the run log naming the pages that did not finish, and nothing writes after the exit."""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

PERIOD = "2026-10"
LAST_GOOD = "<html><body>the last good page</body></html>\n"


def _children() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; only its exit status is left


def _files(out: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in out.rglob("*") if p.is_file()}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_run_stops_everything_and_keeps_every_page_whole(
        demo_dir: Path, tmp_path: Path, signum: signal.Signals) -> None:
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump({"source": str(demo_dir), "report": {
        "notebooks": ["kpi_overview", "funnel", "marketing", "forecast"]}}), encoding="utf-8")
    out = tmp_path / "out"
    (out / PERIOD).mkdir(parents=True)
    for page in ("kpi_overview", "funnel", "marketing", "forecast"):
        (out / PERIOD / f"{page}.html").write_text(LAST_GOOD, encoding="utf-8")
    command = [sys.executable, "-c", "import sys; from salesnb.cli import main; "
               f"sys.exit(main(['report', '--base', {str(base)!r}, '--period', {PERIOD!r}, '--out', {str(out)!r}, "
               "'--quiet', '--force', '--workers', '2']))"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # pages are running once their kernels exist: grandchildren of the command
        while time.monotonic() < deadline and proc.poll() is None:
            if any(_children().get(w) for w in _children().get(proc.pid, [])) and list((out / PERIOD).glob(".run-*")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        time.sleep(2.0)  # the kernels are now running notebooks
        started = _descendants(proc.pid)
        assert len(started) >= 3, started  # two workers and at least one kernel
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert f"stopped by {signum.name}" in err
    left = sorted(p for p in started if _running(p))
    assert left == [], f"still running after the exit: {left}"
    before = _files(out)
    time.sleep(3.0)
    assert _files(out) == before, "a file was written after the run had ended"
    for page in (out / PERIOD).glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert text == LAST_GOOD or text.rstrip().endswith("</html>"), page.name  # whole: old or new
    logs = sorted((out / "logs").glob("run-*.json"))
    assert logs, "no run log"
    log = json.loads(logs[-1].read_text(encoding="utf-8"))
    assert log["stopped"] == signum.name
    unfinished = [r for r in log["results"] if r["error"].startswith("stopped by")]
    assert unfinished, log["results"]
    assert (out / "index.html").is_file()
    with open(out / ".lock", "a+") as fh:  # released: a new run can take it at once
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _in_kernel(code: str) -> str:
    """Run ``code`` in this worker's warm kernel; what it printed (a worker-side probe)."""
    from salesnb.publish import workers

    printed: list[str] = []
    workers._client(workers._WARM["km"]).execute_interactive(
        code, store_history=False, timeout=60,
        output_hook=lambda m: printed.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    return "".join(printed).strip()


def test_workers_start_their_kernels_with_the_notebooks_imports(demo_dir: Path, tmp_path: Path) -> None:
    """Before the first page, each worker's kernel runs and has imported what the notebooks
    import, with those modules frozen for the collector; nothing of that lands in the
    namespace the page sees."""
    import os

    from salesnb.publish import plan_jobs
    from salesnb.publish.workers import Workers

    jobs = [j for j in plan_jobs(period=PERIOD, out_dir=tmp_path) if j.notebook in ("kpi_overview", "funnel")]
    before = _descendants(os.getpid())  # an earlier test's kernel in this process is not ours
    with Workers(jobs, 2) as started:
        probe = ("import sys, gc; print('salesnb.overview' in sys.modules, 'salesnb.funnel' in sys.modules, "
                 "gc.get_freeze_count() > 1000, '_s' in globals(), '_gc' in globals())")
        seen = [started.pool.submit(_in_kernel, probe).result(timeout=120) for _ in range(2)]
        ours = _descendants(os.getpid()) - before
    assert seen == ["True True True False False"] * 2
    assert len(ours) >= 4, ours  # two workers, two kernels
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in ours if _running(p)]:
        time.sleep(0.1)
    assert not [p for p in ours if _running(p)], "a worker or kernel outlived the run"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("stop", ["bad source", "SIGTERM"])
def test_a_run_stopped_before_its_pages_leaves_no_kernel_running(
        demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    """The workers start their kernels while the parent checks the data: a bad source or a
    signal in that time stops them all, and nothing is published."""
    import os

    from salesnb.publish import publish, run
    from salesnb.publish.jobs import PublishError
    from salesnb.publish.workers import Stopped

    seen: set[int] = set()
    before = _descendants(os.getpid())  # an earlier test's kernel in this process is not ours

    def checking(todo: object) -> None:  # the data check, held until the kernels run
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_descendants(os.getpid()) - before) < 4:  # 2 workers, 2 kernels
            time.sleep(0.1)
        seen.update(_descendants(os.getpid()) - before)
        if stop == "SIGTERM":
            raise Stopped(signal.SIGTERM)
        raise PublishError("nothing was published:\nthe data cannot be loaded: (a test)")

    monkeypatch.setattr(run, "validate_sources", checking)
    out = tmp_path / "out"
    with pytest.raises(Stopped if stop == "SIGTERM" else PublishError):
        publish(period=PERIOD, out_dir=out, workers=2, force=True, progress=False)
    assert len(seen) >= 4, seen
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in seen if _running(p)]:
        time.sleep(0.1)
    assert [p for p in seen if _running(p)] == []
    assert not list(out.rglob("*.html"))
