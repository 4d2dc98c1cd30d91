"""Running a page's notebook: papermill's own engine, but the notebook is written when it
ends, not twice for every cell.

papermill saves the executed notebook at the start and at the end of every cell, markdown
cells included, so that a long run can be watched. A page is a temporary file nobody
watches: the KPI overview's 27 cells were 56 writes of a notebook that grows to 0.5 MB
(its charts), 1.5 s of JSON in the worker, on the cores the kernels compute on.

This engine writes the notebook once, when the run ends: papermill's final write when it
succeeds; the notebook as far as it got when a cell fails (papermill's error banner) or the
kernel dies (out of memory), for ``_failed/``.

>>> import papermill.engines
>>> papermill.engines.papermill_engines.get_engine(ENGINE) is SaveAtEndEngine
True
"""

from __future__ import annotations

import logging
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE", "SaveAtEndEngine"]

ENGINE = "salesnb"
logger = logging.getLogger("papermill")


class SaveAtEndEngine(NBClientEngine):
    """papermill's nbclient engine that writes the notebook only when the run stops."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None, progress_bar: bool = True,
                         log_output: bool = False, autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        # papermill's Engine.execute_notebook, but the manager has no path while cells run
        # (its every save is then a no-op), and is given it only when the run fails
        nb_man = NotebookExecutionManager(nb, output_path=None, progress_bar=progress_bar, log_output=log_output,
                                          autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        except BaseException:
            nb_man.output_path = output_path  # stopped (the kernel died, a timeout): keep what it did, below
            raise
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()  # writes only when the path was given back above
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: int | None = None, kc: Any = None, **kwargs: Any) -> Any:
        """papermill's, with ``kc``: a ready client of the kernel ``km`` to run the cells through
        (a warm kernel's, kept between pages: a new client waits about 0.2 s for the kernel's
        output channel to connect, on every page)."""
        timeout = execution_timeout or kwargs.get("timeout")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(kwargs, timeout=timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log=logger, log_output=log_output,
                             stdout_file=stdout_file, stderr_file=stderr_file)
        client = PapermillNotebookClient(nb_man, **final)
        client.kc = kc  # None: nbclient makes its own, as papermill does
        return client.execute()


papermill_engines.register(ENGINE, SaveAtEndEngine)
