"""The params schema and secrets: every problem of every params file at once (exit 2, before
anything runs), other YAML in params/ ignored with a note, and no secret on any page, log,
message or executed notebook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from salesnb import config
from salesnb.cli import main
from salesnb.params import check_params, record_params
from salesnb.publish import plan_jobs
from salesnb.secrets import expand_env, hide_secrets, redact, secret_values


def _params_dir(tmp_path: Path, base: dict, **periods: dict) -> Path:
    folder = tmp_path / "params"
    folder.mkdir(exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump({"source": "data/demo", **base}, sort_keys=False),
                                      encoding="utf-8")
    for name, content in periods.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return folder / "base.yaml"


def test_every_problem_of_every_file_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = _params_dir(tmp_path, {"fiscal_year_start": "abc", "analyst_note": 123, "min_events": "twenty",
                                  "curency": "RUB", "source": {"tables": {"orders": {
                                      "path": "x.csv", "encodng": "cp1251"}}}},
                       **{"2026-10": {"period": 13, "alpha": 2, "holidays": "XX"}})
    code = main(["report", "--base", str(base), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    lines = [ln.strip() for ln in err.splitlines()[1:]]
    where, period = f"{tmp_path}/params/base.yaml", f"{tmp_path}/params/2026-10.yaml"
    assert lines == [
        f"{where}: source.tables.orders.encodng: unknown key (did you mean 'encoding'?)",
        f"{where}: fiscal_year_start: an integer, not 'abc'",
        f"{where}: analyst_note: a text, not 123",
        f"{where}: min_events: an integer, not 'twenty'",
        f"{where}: curency: unknown key (did you mean 'currency'?)",
        f"{period}: period: the period comes from the file's name (params/<period>.yaml) or from PERIOD=; "
        "remove this key",
        f"{period}: alpha: input should be less than or equal to 0.5, not 2",
        f"{period}: holidays: 'XX' is not a country code of the holidays package (e.g. RU, US, DE)",
    ], err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_shipped_params_follow_the_schema() -> None:
    files = [*config.PARAMS_DIR.glob("*.yaml"), *(config.PARAMS_DIR / "examples").glob("*.yaml")]
    checked = 0
    for path in files:
        if "initiatives" in path.name:
            continue
        content = config.read_params(path)
        assert check_params(content, path.name, period_file=path.stem[:1].isdigit()) == [], path
        checked += 1
    assert checked >= 9


@pytest.mark.parametrize(("content", "expected"), [
    ({"initiatives": 3}, "initiatives: a text or a list, not 3"),
    ({"custom_kpis": {"x": 5}}, "custom_kpis.x: a mapping, not 5"),
    ({"feedback_themes": {"price": "cheap"}}, "feedback_themes.price: a list, not 'cheap'"),
    ({"funnel_stages": ["a", "a"]}, "funnel_stages: a stage is listed twice"),
    ({"gross_margin": 1.5}, "gross_margin: input should be less than 1, not 1.5"),
    ({"fiscal_year_start": 13}, "fiscal_year_start: input should be less than or equal to 12, not 13"),
    ({"source": 5}, "source: a text or a mapping, not 5"),
    ({"report": {"notebook": ["x"]}}, "report.notebook: unknown key (did you mean 'notebooks'?)"),
    ({"source": {"tables": {"orders": {"path": "x", "lookup": [{"path": "y"}]}}}},
     "source.tables.orders.lookup[0].on: missing: this key is required here"),
])
def test_typed_keys(content: dict, expected: str) -> None:
    assert f"b.yaml: {expected}" in check_params(content, "b.yaml")


def test_a_bad_initiative_stops_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    register = config.read_params(config.PARAMS_DIR / "initiatives.yaml")["initiatives"][:2]
    register[0]["plan"] = "x"
    register[1]["do"] = {"start": "soon"}
    base = _params_dir(tmp_path, {"initiatives": register}, **{"2026-10": {}})
    assert main(["report", "--base", str(base), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "initiative PDCA-01: plan: a mapping of kpi, segment, target_change, baseline, not 'x'" in err
    assert "initiative PDCA-02: do.start: 'soon' is not a date" in err  # both at once
    assert "Traceback" not in err and not list((tmp_path / "out").rglob("*.html"))


def test_other_yaml_in_params_is_ignored_with_a_note(tmp_path: Path) -> None:
    base = _params_dir(tmp_path, {}, **{"2026-10": {}, "2026-09": {}})
    (base.parent / "xss_initiatives.yaml").write_text("initiatives: []\n")
    (base.parent / "notes.yml").write_text("- anything\n")
    said: list[str] = []
    jobs = plan_jobs(base=base, say=said.append)
    assert sorted({j.period for j in jobs}) == ["2026-09", "2026-10"]
    assert said == ["note: notes.yml: not a period's name (like 2026-10, 2026-Q3, 2026), ignored",
                    "note: xss_initiatives.yaml: not a period's name (like 2026-10, 2026-Q3, 2026), ignored"]


def test_redaction_and_hidden_secrets() -> None:
    params = {"source": {"tables": {"orders": {"path": "https://ann:s3cr3t-pw@crm.example/o.csv"}}},
              "api_token": "tok-123456", "currency": "RUB", "analyst_note": "hello"}
    assert secret_values(params) == {"s3cr3t-pw", "tok-123456"}
    masked = json.dumps(redact(params), ensure_ascii=False)
    assert "s3cr3t-pw" not in masked and "tok-123456" not in masked and "ann:•••@crm" in masked
    hidden, env = hide_secrets(params)
    assert "s3cr3t-pw" not in json.dumps(hidden) and "tok-123456" not in json.dumps(hidden)
    assert expand_env(hidden, environ=env) == params  # the notebooks get the values back
    assert set(record_params({**params, "period": "2026-10"})) == {"period", "source", "currency"}
    # a reference to the environment is kept as written, and its value counts as a secret
    assert secret_values({"password": "${DB_PASSWORD}"}, environ={"DB_PASSWORD": "from-env"}) == {"from-env"}
    with pytest.raises(ValueError, match="environment variable NOPE is not set"):
        expand_env({"path": "${NOPE}/x"}, environ={})


def test_no_secret_on_pages_logs_or_executed_notebooks(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    # a data folder whose path holds URL credentials (a folder named like a URL with a password)
    secret = "s3cr3t-pw-42"
    folder = tmp_path / "x:" / f"ann:{secret}@crm" / "demo"
    shutil.copytree(demo_dir, folder)
    source = str(folder).replace("/x:/", "/x://")
    assert f"x://ann:{secret}@crm" in source and Path(source).resolve() == folder.resolve()
    # the second page fails on purpose, so that its executed notebook is kept
    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS_DIR, notebooks)
    nb = nbformat.read(notebooks / "funnel.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError(f'cannot read {source}')"))
    nbformat.write(nb, notebooks / "funnel.ipynb")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)
    base = _params_dir(tmp_path, {"source": source, "report": {"notebooks": ["data_health", "funnel"]}})
    out = tmp_path / "out"
    code = main(["report", "--base", str(base), "--period", "2026-10", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "FAILED 2026-10 funnel: cell 4: RuntimeError: cannot read" in err and secret not in err
    page = (out / "2026-10" / "data_health.html").read_text(encoding="utf-8")
    assert "ann:•••@crm" in page  # the run record shows the source, password masked
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "funnel.ipynb" and "_failed" in p.parts for p in written)
    for path in written:
        assert secret not in path.read_text(encoding="utf-8", errors="replace"), path


def test_source_from_the_environment(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    base = _params_dir(tmp_path, {"source": {"folder": "${SALESNB_TEST_EXPORTS}"},
                                  "report": {"notebooks": ["data_health"]}})
    out = tmp_path / "out"
    args = ["report", "--base", str(base), "--period", "2026-10", "--out", str(out), "--quiet"]
    assert main(args) == 2
    assert "environment variable SALESNB_TEST_EXPORTS is not set" in capsys.readouterr().err
    monkeypatch.setenv("SALESNB_TEST_EXPORTS", str(demo_dir))
    assert main(args) == 0, capsys.readouterr().err
    page = (out / "2026-10" / "data_health.html").read_text(encoding="utf-8")
    assert "${SALESNB_TEST_EXPORTS}" in page  # the run record shows the reference as written


def test_references_to_the_environment_stay_as_written() -> None:
    params = {"source": {"database": {"url": "postgresql+psycopg://ann:${PGPASSWORD}@db:5432/sales"}},
              "token": "${API_TOKEN}"}
    hidden, env = hide_secrets(params)
    assert hidden == params and env == {}
