"""Publishing: self-contained pages with code hidden, the index, failures that keep the
last good page, and bad periods stopped before anything runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

import salesnb
from salesnb import config
from salesnb.cli import main
from salesnb.publish import PublishError, plan_jobs, publish


def _base(tmp_path: Path, source: str, **extra: object) -> Path:
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    content = {"source": source, "currency": "USD", "fiscal_year_start": 1,
               "funnel_stages": ["qualified", "meeting", "proposal", "negotiation", "won"],
               "analyst_note": "", "report": {"notebooks": ["data_health"]}, **extra}
    base.write_text(yaml.safe_dump(content), encoding="utf-8")
    return base


def test_plan_merges_base_and_period_params(tmp_path: Path) -> None:
    base = _base(tmp_path, "data/demo")
    (base.parent / "2026-10.yaml").write_text("analyst_note: late deliveries\n")
    (base.parent / "2026-Q3.yaml").write_text("")
    jobs = plan_jobs(base=base)
    assert sorted(j.period for j in jobs) == ["2026-10", "2026-Q3"]
    oct_job = next(j for j in jobs if j.period == "2026-10")
    assert oct_job.parameters["analyst_note"] == "late deliveries"
    assert oct_job.parameters["period"] == "2026-10"
    assert "report" not in oct_job.parameters


def test_bad_period_stops_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = _base(tmp_path, "data/demo")
    (base.parent / "2026-13.yaml").write_text("")
    with pytest.raises(PublishError, match="2026-13.yaml: '2026-13' is not a period"):
        plan_jobs(base=base)
    assert main(["report", "--base", str(base), "--out", str(tmp_path / "out")]) == 2
    assert "Accepted forms" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_params_yaml_is_a_clear_error(tmp_path: Path) -> None:
    base = _base(tmp_path, "data/demo")
    (base.parent / "2026-10.yaml").write_text("analyst_note: [unclosed\n")
    with pytest.raises(PublishError, match="2026-10.yaml is not valid YAML"):
        plan_jobs(base=base)


def test_publish_self_contained_page_and_keep_last_good_on_failure(
        demo_dir: Path, demo: salesnb.SalesData, tmp_path: Path,
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _base(tmp_path, str(demo_dir))
    out = tmp_path / "out"
    report = publish(base=base, period="2026-10", out_dir=out, progress=False)
    assert [r.status for r in report.results] == ["ok"]
    page = out / "2026-10" / "data_health.html"
    html = page.read_text(encoding="utf-8")
    # nothing from any network: no remote scripts, styles, fonts or images
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "require.js" not in html and "mathjax" not in html.lower()
    assert "data:image/png;base64" in html
    assert "salesnb.load(" not in html  # code is hidden
    assert demo.fingerprint in html and "Run record" in html
    assert f"{len(demo['orders']):,}" in html
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="2026-10/data_health.html"' in index

    # now the data breaks: stopped before any notebook, every problem listed, the page untouched
    good = page.read_bytes()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "orders.csv").write_text("order_id,customer_id,ordered_at,amount,status\n"
                                       "O1,C1,2026-10-01,-5,completed\n")
    code = main(["report", "--base", str(_base(tmp_path, str(broken))), "--period", "2026-10", "--out", str(out),
                 "--quiet", "--force"])
    assert code == 2
    err = capsys.readouterr().err
    assert "orders.amount: negative" in err and "line 2" in err and "FAILED" not in err
    assert page.read_bytes() == good

    # a custom KPI it cannot build: stopped before any notebook, named, the page untouched
    base = _base(tmp_path, str(demo_dir), custom_kpis={"bad_kpi": {"kind": "count"}})
    code = main(["report", "--base", str(base), "--period", "2026-10", "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "custom_kpis.bad_kpi.table" in err and "FAILED" not in err
    assert page.read_bytes() == good

    # a notebook fails: the page stays as it was, the failure is kept and reported
    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS_DIR, notebooks)
    nb = nbformat.read(notebooks / "data_health.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell('raise RuntimeError("planted failure")'))
    nbformat.write(nb, notebooks / "data_health.ipynb")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)  # the forked workers see it too
    code = main(["report", "--base", str(_base(tmp_path, str(demo_dir))), "--period", "2026-10",
                 "--out", str(out), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "FAILED 2026-10 data_health: cell 4: RuntimeError: planted failure" in err
    assert page.read_bytes() == good
    assert (out / "2026-10" / "_failed" / "data_health.ipynb").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "failed" in index and "last good page kept" in index


def test_incremental_force_stale_and_lock(demo_dir: Path, tmp_path: Path) -> None:
    import fcntl
    import threading

    base = _base(tmp_path, str(demo_dir))
    (base.parent / "2026-10.yaml").write_text("analyst_note: first\n")
    (base.parent / "2026-09.yaml").write_text("")
    out = tmp_path / "out"
    first = publish(base=base, out_dir=out, progress=False)
    assert sorted(r.status for r in first.results) == ["ok", "ok"], [r.error for r in first.results]
    page = out / "2026-10" / "data_health.html"
    made = page.stat().st_mtime_ns

    again = publish(base=base, out_dir=out, progress=False)
    assert [r.status for r in again.results] == ["up to date", "up to date"]
    assert page.stat().st_mtime_ns == made

    # September's params change; publishing October alone marks September stale
    (base.parent / "2026-09.yaml").write_text("analyst_note: revised\n")
    october = publish(base=base, out_dir=out, period="2026-10", progress=False)
    assert [r.status for r in october.results] == ["up to date"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "stale" in index and "inputs changed since" in index
    forced = publish(base=base, out_dir=out, period="2026-10", force=True, progress=False)
    assert [r.status for r in forced.results] == ["ok"], [r.error for r in forced.results]
    assert page.stat().st_mtime_ns != made

    # a second run waits for the first (here: a held lock) and then does its work
    messages: list[str] = []
    with open(out / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("salesnb report (pid 1, started earlier)")
        held.flush()
        runner = threading.Thread(target=lambda: publish(base=base, out_dir=out, period="2026-10",
                                                         progress=False, say=messages.append))
        runner.start()
        runner.join(timeout=1.0)
        assert runner.is_alive()  # waiting
        fcntl.flock(held, fcntl.LOCK_UN)
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert messages and messages[0].startswith("waiting: salesnb report (pid 1, started earlier)")


def test_atomic_write_keeps_the_old_page_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from salesnb import publish as pub

    page = tmp_path / "page.html"
    page.write_text("old page")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # the run is killed while writing

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        pub.files.atomic_write(page, "new page")
    assert page.read_text() == "old page"
    assert list(tmp_path.iterdir()) == [page]  # no temporary file left behind


def test_warm_kernel_starts_each_notebook_from_a_clean_namespace(tmp_path: Path) -> None:
    import nbformat
    import papermill as pm

    from salesnb import publish as pub

    def notebook(name: str, code: str) -> Path:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    km = pub.workers._warm_kernel(tmp_path / "kernel.log")
    first = notebook("first", "leak = 'from the first notebook'\nimport math")
    pm.execute_notebook(str(first), str(first), kernel_name="python3", progress_bar=False, km=km)
    pub.workers._reset_kernel(km)
    second = notebook("second", "assert 'leak' not in globals(), leak\nassert 'math' not in globals()")
    pm.execute_notebook(str(second), str(second), kernel_name="python3", progress_bar=False, km=km)
    assert pub.workers._warm_kernel(tmp_path / "kernel.log") is km  # the same kernel, still alive


def test_yaml_dates_in_params_travel_as_text(tmp_path: Path) -> None:
    import json

    base = _base(tmp_path, "data/demo")
    content = yaml.safe_load(base.read_text(encoding="utf-8"))
    base.write_text(yaml.safe_dump(content).replace("source: data/demo",
                                                    "source:\n  folder: data/demo\n  as_of: 2026-10-31"))
    (base.parent / "2026-10.yaml").write_text("")
    job = plan_jobs(base=base)[0]
    assert job.parameters["source"]["as_of"] == "2026-10-31"  # unquoted in YAML: a date, passed as text
    json.dumps(dict(job.parameters))  # what papermill needs


@pytest.mark.parametrize("period", ["2099-01", "2023-05"], ids=["after", "before"])
def test_a_period_outside_the_data_stops_before_any_notebook(demo_dir: Path, tmp_path: Path, period: str,
                                                               capsys: pytest.CaptureFixture) -> None:
    base = _base(tmp_path, str(demo_dir))
    code = main(["report", "--base", str(base), "--period", period, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"period {period}" in err and "is outside the data, which covers 2024-01-01 to 2026-10-31" in err
    assert not list((tmp_path / "out").glob(f"{period}/*.html"))


def test_index_labels_periods_with_the_fiscal_year(tmp_path: Path) -> None:
    from salesnb.publish import JobResult, write_index

    results = [JobResult("kpi_overview", name, "ok", 1.0, key="k") for name in ("2026-Q1", "2026")]
    for fys, quarter, year in ((4, "2026-Q1 (Apr–Jun 2026)", "FY2026 (Apr 2026–Mar 2027)"),
                               (1, "2026-Q1 (Jan–Mar 2026)", "2026")):
        out = tmp_path / f"fy{fys}"
        page = write_index(out, results, ["kpi_overview"], fiscal_year_start=fys).read_text(encoding="utf-8")
        assert quarter in page and year in page
    assert "Jan–Mar" not in (tmp_path / "fy4" / "index.html").read_text(encoding="utf-8")


def test_publish_knows_no_kpi_and_no_page() -> None:
    # the pages tell the publisher their title, fingerprint, definitions and headline
    # (present.run_record); the publish package names none of them
    from salesnb.kpis import registry

    code = "\n".join(p.read_text(encoding="utf-8") for p in sorted((config.ROOT / "salesnb" / "publish").glob("*.py")))
    assert len(code) > 20_000
    named = [k for k in registry() if re.search(rf"""["']{k}["']""", code)]
    named += [p.stem for p in config.NOTEBOOKS_DIR.glob("*.ipynb") if re.search(rf"""["']{p.stem}["']""", code)]
    assert named == []
    assert "import salesnb\n" not in code and "from salesnb.kpis" not in code and "kpi_table" not in code


def test_parallel_pages_share_the_cores_for_blas_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys

    from salesnb import publish as pub

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own limit stays
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    probe = "import os; print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))"
    with pub.workers._share_cores(2):
        seen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert seen.split() == ["2", "3"]  # 4 cores, 2 workers: two threads each
    assert "OPENBLAS_NUM_THREADS" not in os.environ and os.environ["OMP_NUM_THREADS"] == "3"


def test_titles_are_read_without_nbformat_and_match_its_translation() -> None:
    """A run with nothing to do reads every notebook's title for the index: as plain JSON,
    since importing nbformat compiles its validator (seconds), and the same titles as the
    notebooks read by nbformat and translated cell by cell."""
    import subprocess
    import sys

    import nbformat

    from salesnb.publish.html import notebook_title
    from salesnb.texts import translate_cells

    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        for lang in ("en", "ru"):
            nb = nbformat.read(path, as_version=4)
            translate_cells(nb, path.stem, lang)
            first = next(c for c in nb.cells if c.cell_type == "markdown").source.splitlines()[0]
            assert notebook_title(path, lang) == first.removeprefix("# ").strip(), (path.name, lang)
    probe = ("import sys; from pathlib import Path; from salesnb.publish.html import notebook_title; "
             "notebook_title(Path(sys.argv[1]), 'ru'); print('nbformat' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, str(config.NOTEBOOKS_DIR / "kpi_overview.ipynb")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_worker_reads_and_checks_pages_without_the_page_modules_or_iri_grammars(tmp_path: Path) -> None:
    """A worker process reads each executed notebook (nbformat) and its run record; neither
    may import the page modules (statsmodels: seconds) or compile jsonschema's "iri"
    grammars (39 lark grammars, over a second), and nbformat must still reject a broken
    notebook."""
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={config.RECORD_MIME: {"title": "T"}})]
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(nb, good)
    bad.write_text(good.read_text(encoding="utf-8").replace('"cell_type": "code"', '"cell_type": "sode"'),
                   encoding="utf-8")
    probe = ("import sys\n"
             "from salesnb.publish import workers\n"
             "workers._skip_iri_grammars()\n"
             "import nbformat\n"
             "from salesnb.publish.html import page_record, strip_for_readers\n"
             "nb = nbformat.read(sys.argv[1], as_version=4)\n"
             "record = page_record(nb); strip_for_readers(nb)\n"
             "try:\n    nbformat.validate(nbformat.read(sys.argv[2], as_version=4)); broken = 'accepted'\n"
             "except nbformat.ValidationError:\n    broken = 'rejected'\n"
             "print(record['title'], broken, sorted(m for m in ('statsmodels', 'salesnb.present', 'lark', "
             "'rfc3987_syntax') if sys.modules.get(m) is not None))")
    out = subprocess.run([sys.executable, "-c", probe, str(good), str(bad)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["T", "rejected", "[]"]


def test_the_check_before_the_pages_imports_no_statistics(demo_dir: Path, tmp_path: Path) -> None:
    """The parent checks params, registers and data while the kernels start: it must not
    import statsmodels or scipy.stats (two seconds on the core the kernels need), and the
    statistics still import when a page calls them."""
    import subprocess
    import sys

    # The project's own params (every page, the PDCA register), pointed at the session's
    # demo data: a clean clone has no data/demo until `make report` writes it.
    params = yaml.safe_load((config.PARAMS_DIR / "base.yaml").read_text(encoding="utf-8"))
    params |= {"source": str(demo_dir), "initiatives": str(config.PARAMS_DIR / "initiatives.yaml")}
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    probe = ("import sys\n"
             "from pathlib import Path\n"
             "from salesnb.publish import plan_jobs\n"
             "from salesnb.publish.sources import validate_sources\n"
             "jobs = plan_jobs(period='2026-10', base=Path(sys.argv[1]))\n"
             "validate_sources(jobs)\n"
             "print(len(jobs), sorted(m for m in ('statsmodels', 'scipy.stats', 'salesnb.pdca') if m in sys.modules))\n"
             "from salesnb.stats import Counts, two_sample\n"
             "print(round(two_sample(Counts(120, 30), Counts(100, 30)).p_value, 4), 'statsmodels' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, str(base)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    from salesnb.stats import Counts, two_sample

    expected = round(two_sample(Counts(120, 30), Counts(100, 30)).p_value, 4)
    pages = len(plan_jobs(period="2026-10"))
    assert pages > 5 and out.stdout.split("\n")[:2] == [f"{pages} []", f"{expected} True"]


def test_the_last_runs_page_times_order_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesnb import config as cfg
    from salesnb.publish import workers
    from salesnb.publish.jobs import Job, JobResult

    monkeypatch.setattr(cfg, "ROOT", tmp_path)
    workers._note_page_seconds([
        JobResult("overview", "2026-09", "ok", 9.0, kernel_seconds=4.0),  # 5 s of its own
        JobResult("overview", "2026-10", "ok", 6.0),  # the slowest period counts
        JobResult("funnel", "2026-10", "ok", 2.0),
        JobResult("broken", "2026-10", "failed", 30.0)])  # a failure says nothing of its time
    assert workers._page_seconds() == {"overview": 6.0, "funnel": 2.0}
    jobs = [Job(name, "2026-10", {}, tmp_path) for name in ("funnel", "overview", "new_page")]
    assert [j.notebook for j in workers.longest_first(jobs, workers._page_seconds())] == [
        "new_page", "overview", "funnel"]
    (tmp_path / workers.PAGE_SECONDS).write_text("not json")  # a damaged file: no order, no failure
    assert workers._page_seconds() == {}


def test_a_page_is_written_once_and_a_dead_kernel_keeps_what_it_did(
        demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's notebook is written when its run ends, not at every cell: a kernel that
    dies mid-page (out of memory) still leaves the cells it ran in ``_failed/``, and the
    published page is not touched."""
    import papermill.iorw

    from salesnb.publish import workers

    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS_DIR, notebooks)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)
    job = plan_jobs(base=_base(tmp_path, str(demo_dir)), period="2026-10", out_dir=tmp_path / "out")[0]
    writes: list[str] = []
    write = papermill.iorw.write_ipynb

    def counted(nb: object, path: str) -> None:
        writes.append(str(path))
        write(nb, path)

    monkeypatch.setattr(papermill.iorw, "write_ipynb", counted)
    monkeypatch.setattr("papermill.execute.write_ipynb", counted)
    monkeypatch.setattr("papermill.engines.write_ipynb", counted)
    good = workers.run_job(job, warm=False)
    assert good.status == "ok", good.error
    cells = len(nbformat.read(notebooks / "data_health.ipynb", as_version=4).cells)
    assert cells > 10 and len(writes) == 1  # papermill's own engine: 2 writes a cell and 2 more
    page = Path(good.html or "").read_bytes()

    nb = nbformat.read(notebooks / "data_health.ipynb", as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "parameters" not in c.metadata.get(
        "tags", []))
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell('print("ran before the kernel died")'))
    nb.cells.insert(first + 2, nbformat.v4.new_code_cell("import os\nos._exit(9)"))
    nbformat.write(nb, notebooks / "data_health.ipynb")
    dead = workers.run_job(job, warm=False)
    assert dead.status == "failed" and "DeadKernel" in dead.error, dead.error
    kept = nbformat.read(tmp_path / "out" / "2026-10" / "_failed" / "data_health.ipynb", as_version=4)
    said = [o.get("text", "") for c in kept.cells if c.cell_type == "code" for o in c.outputs]
    assert any("ran before the kernel died" in text for text in said)
    assert Path(good.html or "").read_bytes() == page


def test_params_found_clean_are_not_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with nothing to do reads the params it checked before without building the
    checks again (pydantic: 0.2 s of 0.5); a problem is found every time, a changed file is
    checked again, and params with a literal secret are never kept, not even as a hash."""
    import subprocess
    import sys

    from salesnb.params import check_params
    from salesnb.publish import jobs

    monkeypatch.setattr(config, "ROOT", tmp_path)
    calls: list[dict] = []

    def counted(content: dict, where: str, *, period_file: bool = False) -> list[str]:
        calls.append(dict(content))
        return check_params(content, where, period_file=period_file)

    monkeypatch.setattr("salesnb.params.check_params", counted)
    good = {"currency": "EUR", "fiscal_year_start": 4}
    assert jobs._check_params(good, "params/base.yaml") == [] and len(calls) == 1
    assert jobs._check_params(dict(good), "params/base.yaml") == [] and len(calls) == 1  # kept
    bad = {**good, "fiscal_year_start": "April"}
    for _ in range(2):  # a problem is never kept
        assert any("fiscal_year_start" in p for p in jobs._check_params(bad, "params/base.yaml"))
    assert len(calls) == 3
    changed = {**good, "currency": "RUB"}
    assert jobs._check_params(changed, "params/base.yaml") == [] and len(calls) == 4
    secret = {**good, "source": {"url": "postgresql://ann:s3cr3t@db/sales"}}
    for _ in range(2):
        jobs._check_params(secret, "params/base.yaml")
    assert len(calls) == 6
    assert "s3cr3t" not in (tmp_path / jobs.CHECKED_PARAMS).read_text(encoding="utf-8")
    assert len(json.loads((tmp_path / jobs.CHECKED_PARAMS).read_text(encoding="utf-8"))) == 2
    monkeypatch.setattr(jobs, "MAX_CHECKED_PARAMS", 2)
    jobs._check_params({**good, "currency": "USD"}, "params/base.yaml")
    assert len(json.loads((tmp_path / jobs.CHECKED_PARAMS).read_text(encoding="utf-8"))) == 2  # bounded

    # a process planning the same params again does not import the checks at all
    base = _base(tmp_path, "data/demo")
    probe = ("import sys; from pathlib import Path; from salesnb import config; config.ROOT = Path(sys.argv[1]); "
             "from salesnb.publish import plan_jobs; plan_jobs(base=Path(sys.argv[2]), period='2026-10'); "
             "print('pydantic' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe, str(tmp_path), str(base)], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]


def test_a_run_refused_for_bad_data_leaves_no_kernel_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The kernels start while the data is checked; a run refused by the check stops them
    and leaves no log of kernels that ran nothing (a log that was there stays)."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "orders.csv").write_text("order_id,customer_id,ordered_at,amount,status\n"
                                       "O1,C1,2026-10-01,-5,completed\n")
    out = tmp_path / "out"
    args = ["report", "--base", str(_base(tmp_path, str(broken))), "--period", "2026-10", "--out", str(out), "--quiet"]
    assert main(args) == 2
    assert "orders.amount: negative" in capsys.readouterr().err
    assert not (out / "logs" / "kernels.log").exists()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "logs" / "kernels.log").write_text("an earlier run's kernels\n", encoding="utf-8")
    assert main(args) == 2
    assert (out / "logs" / "kernels.log").read_text(encoding="utf-8").startswith("an earlier run's kernels")


def test_a_worker_runs_its_pages_through_one_kept_client(demo_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page of a worker runs through the one client kept beside its warm kernel (a new
    client per page waited for the kernel's output channel): two pages, one client made for
    them, and each page is whole."""
    from salesnb.publish import workers

    monkeypatch.setattr(workers, "_WARM", {})
    base = _base(tmp_path, str(demo_dir), report={"notebooks": ["data_health", "funnel"]})
    jobs = plan_jobs(base=base, period="2026-10", out_dir=tmp_path / "out")
    made: list[object] = []
    try:
        km = workers._warm_kernel(tmp_path / "kernels.log")
        client = type(km).client

        def counted(self: object, **kw: object) -> object:
            made.append(self)
            return client(self, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(type(km), "client", counted)
        results = [workers.run_job(job) for job in jobs]
        assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
        assert len(made) == 1 and workers._WARM["page_kc_of"] is km
        for r in results:
            html = Path(r.html or "").read_text(encoding="utf-8")
            assert "Run record" in html and "Traceback" not in html
    finally:
        if "km" in workers._WARM:
            from jupyter_core.utils import run_sync

            for name in ("kc", "page_kc"):
                if name in workers._WARM:
                    workers._WARM.pop(name).stop_channels()
            run_sync(workers._WARM["km"].shutdown_kernel)(now=True)
