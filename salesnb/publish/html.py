"""The executed notebook as a page: salesnb's nbconvert template, code hidden, secrets
masked in the text it shows, the page's run record read back.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from salesnb import __version__, config
from salesnb.periods import parse_period
from salesnb.publish.jobs import Job

__all__ = ["TEMPLATES", "export_html", "notebook_title", "page_record", "strip_for_readers"]


TEMPLATES = Path(__file__).parents[1] / "templates"


def strip_for_readers(nb: Any) -> Any:
    """Drop what managers should not read: parameter cells, stderr (warnings) and the run
    record meant for the publisher."""
    hidden = {"parameters", "injected-parameters"}
    nb.cells = [c for c in nb.cells if not hidden & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")
                            and config.RECORD_MIME not in o.get("data", {})]
    return nb


def page_record(nb: Any) -> dict[str, Any]:
    """What the page told the publisher (see :func:`salesnb.present.run_record`): title,
    data fingerprint, KPI definitions, headline figures; several records merge."""
    record: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found = out.get("data", {}).get(config.RECORD_MIME)
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
    # read once per notebook version: every page's navigation and the index ask for titles.
    # Plain JSON, not nbformat: importing nbformat compiles its validator's grammars (about
    # 2.7 s), most of what a run with nothing to do used to cost
    from salesnb.texts import translated_source

    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return path.stem
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            text = translated_source(path.stem, str(cell.get("id", "")), source, language) or source
            for line in text.splitlines():
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
    p = parse_period(job.period, fiscal_year_start=int(job.parameters.get("fiscal_year_start", 1)))
    exporter = _exporter()
    from salesnb.texts import using

    with using(str(job.parameters.get("language") or "en")) as language:
        return _export_html(nb, job, exporter, language, seconds=seconds, commit=commit, record=record, p=p)


@functools.cache
def _exporter() -> Any:
    """One exporter per process: its Jinja templates are compiled once, not for every page
    (a fifth of a second each time)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="salesnb", extra_template_basedirs=[str(TEMPLATES)],
                        exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, embed_images=True)


def _export_html(nb: Any, job: Job, exporter: Any, language: str, *, seconds: float, commit: str,
                 record: Mapping[str, Any], p: Any) -> str:
    from salesnb.params import record_params
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
    body, _ = exporter.from_notebook_node(_mask_text(strip_for_readers(nb), job.secrets), resources=resources)
    return body


_TEXT_OUTPUTS = ("text/plain", "text/html", "text/markdown")


def _mask_text(nb: Any, secrets: frozenset[str]) -> Any:
    """Secrets masked in the text a page shows (markdown, printed text, tables), as whole
    tokens; never inside images, so a chart's bytes stay whole."""
    from salesnb.secrets import redact_text

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = redact_text(cell.source, secrets)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = redact_text(out["text"], secrets)
            for mime in _TEXT_OUTPUTS:
                if mime in out.get("data", {}):
                    value = out["data"][mime]
                    text = "".join(value) if isinstance(value, list) else str(value)
                    out["data"][mime] = redact_text(text, secrets)
    return nb
