"""Publish the reports: run each notebook × period with papermill, convert to HTML.

``salesnb report`` (and ``make report``) calls :func:`publish`:

- every notebook of ``report.notebooks`` in ``params/base.yaml`` for every period that has
  a ``params/<period>.yaml`` (or one period, any form, with ``period=``); papermill gets
  ``base.yaml`` merged with the period's file, plus ``period`` (:mod:`.jobs`);
- incremental: a notebook × period runs again only when its key changed — the notebook,
  the parameters it gets, the ``salesnb`` code or the data files (``force`` runs all);
- jobs run in parallel worker processes, one warm kernel each (:mod:`.workers`); each
  converts its executed notebook in-process with salesnb's nbconvert template (code hidden,
  images embedded, nothing requested from any network: :mod:`.html`) and writes the page
  atomically after its attachments (:mod:`.files`);
- a notebook that fails keeps its executed copy under ``<out>/<period>/_failed/``, leaves
  the last good page untouched, and is reported with its cell and message;
- one run at a time per output folder (:mod:`.locking`); SIGTERM or SIGINT stops every
  worker and kernel, keeps every page whole and still writes the index and the run log;
- ``<out>/index.html`` lists every period × notebook with its status and the period's
  headline KPIs (:mod:`.index`); ``<out>/logs/`` keeps a record of every run.

Heavy libraries (papermill, nbconvert, pandas) load only in the workers, so a run with
nothing to do finishes in well under a second.
"""

from salesnb.publish.files import WORKBOOK, disk_fault, write_workbook
from salesnb.publish.html import export_html, notebook_title, page_record
from salesnb.publish.index import write_index
from salesnb.publish.jobs import (
    Job,
    JobResult,
    PublishError,
    PublishReport,
    code_fingerprint,
    declared_parameters,
    job_key,
    plan_jobs,
    source_fingerprint,
)
from salesnb.publish.run import publish
from salesnb.publish.workers import Stopped, run_job

__all__ = ["Job", "JobResult", "PublishReport", "PublishError", "plan_jobs", "run_job", "publish",
           "write_index", "job_key", "code_fingerprint", "declared_parameters", "source_fingerprint",
           "notebook_title", "disk_fault", "write_workbook", "export_html", "page_record", "WORKBOOK", "Stopped"]
