"""A real Spark cluster on localhost for the tests: a standalone master and two worker JVMs
started with the ``spark-class`` launcher that ships with ``pyspark``, and a Spark Connect
server started with its ``sbin/start-connect-server.sh`` against that master.

Every process runs in the foreground of its own process group (``SPARK_NO_DAEMONIZE``), so
the fixture stops all of them, and their children, however the tests end. Skips (with the
reason) only where pyspark or Java is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

STARTUP_SECONDS = 180
WORKER_CORES, WORKER_MEMORY = 1, "1g"


@dataclass(frozen=True)
class Cluster:
    master: str  # spark://127.0.0.1:<port>
    web_ui: str  # the master's status page (JSON at /json)
    logs: Path


def missing() -> str | None:
    """Why no cluster can start here, or None."""
    if find_spec("pyspark") is None:
        return "pyspark is not installed (make installs it with the dev extras)"
    if shutil.which("java") is None:
        return "Java is not installed: Spark's master and workers are JVMs"
    return None


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(logs: Path) -> dict[str, str]:
    return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_NO_DAEMONIZE": "1",
            "SPARK_LOG_DIR": str(logs), "SPARK_PID_DIR": str(logs), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_WORKER_DIR": str(logs / "work"), "PYSPARK_PYTHON": sys.executable}


@contextmanager
def _process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A JVM in its own process group; the group is killed on exit (its executors too)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue


def _wait(ready: object, what: str, log: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {STARTUP_SECONDS} s:\n{log.read_text(errors='replace')[-3000:]}")


def _alive_workers(web_ui: str) -> int:
    import json

    try:
        with urllib.request.urlopen(web_ui + "/json/", timeout=5) as r:  # noqa: S310 (localhost)
            state = json.load(r)
    except OSError:
        return 0
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone(workers: int = 2, *, memory: str = WORKER_MEMORY, executor_memory: str = "768m",
               app_cores: int = WORKER_CORES) -> Iterator[Cluster]:
    """A master and ``workers`` worker JVMs (1 core and ``memory`` each) on free localhost
    ports; each application gets ``app_cores`` cores and ``executor_memory`` per executor."""
    logs = Path(tempfile.mkdtemp(prefix="salesnb-spark-"))
    env = _env(logs)
    spark_class = str(spark_home() / "bin" / "spark-class")
    port, ui = _free_port(), _free_port()
    master = f"spark://127.0.0.1:{port}"
    web_ui = f"http://127.0.0.1:{ui}"
    try:
        with ExitStack() as stack:
            log = logs / "master.log"
            proc = stack.enter_context(_process(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(ui)], env, log))
            _wait(lambda: _alive_workers(web_ui) >= 0 and _up(web_ui), "the Spark master", log, proc)
            for i in range(workers):
                wlog = logs / f"worker{i}.log"
                wproc = stack.enter_context(_process(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                     "--cores", str(WORKER_CORES), "--memory", memory, "--webui-port", str(_free_port()),
                     "--work-dir", str(logs / f"work{i}"), master], env, wlog))
                _wait(lambda n=i + 1: _alive_workers(web_ui) >= n, f"Spark worker {i}", wlog, wproc)
            # each application (a page's kernel) takes one core, as spark-defaults.conf would
            # say on a shared cluster: two pages run at once instead of queueing for all cores
            conf = logs / "conf"
            conf.mkdir()
            (conf / "spark-defaults.conf").write_text(f"spark.cores.max {app_cores}\n"
                                                     f"spark.executor.memory {executor_memory}\n")
            saved = os.environ.get("SPARK_CONF_DIR")
            os.environ["SPARK_CONF_DIR"] = str(conf)
            try:
                yield Cluster(master=master, web_ui=web_ui, logs=logs)
            finally:
                if saved is None:
                    os.environ.pop("SPARK_CONF_DIR", None)
                else:
                    os.environ["SPARK_CONF_DIR"] = saved
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/json/", timeout=5):  # noqa: S310 (localhost)
            return True
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def connect_server(cluster: Cluster) -> Iterator[str]:
    """A Spark Connect server (``sbin/start-connect-server.sh``) whose executors run on the
    cluster; yields its ``sc://127.0.0.1:<port>`` address."""
    port = _free_port()
    env = _env(cluster.logs)
    log = cluster.logs / "connect.log"
    script = str(spark_home() / "sbin" / "start-connect-server.sh")
    cmd = ["bash", script, "--master", cluster.master,
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", "spark.sql.session.timeZone=UTC", "--conf", "spark.ui.enabled=false",
           "--conf", "spark.sql.shuffle.partitions=4", "--conf", f"spark.cores.max={WORKER_CORES * 2}",
           "--conf", "spark.executor.memory=768m",
           # the driver holds every Connect session's uploaded tables (the test process's and
           # each kernel's): at 1 GB the whole report through Connect ran out of heap once
           "--conf", "spark.driver.memory=2g"]
    with _process(cmd, env, log) as proc:
        _wait(lambda: _listening(port), "the Spark Connect server", log, proc)
        yield f"sc://127.0.0.1:{port}"
