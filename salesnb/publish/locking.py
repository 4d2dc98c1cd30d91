"""One run at a time per output folder, and the leftovers of killed runs swept under the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

__all__ = ["lock", "sweep"]


@contextmanager
def lock(out_dir: Path, say: Callable[[str], None]) -> Iterator[None]:
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


def sweep(out_dir: Path) -> None:
    """Remove what runs killed mid-way left: ``.run-*`` folders and half-written pages.

    Called under the lock, so nothing found belongs to a run still going.
    """
    import shutil

    for tmp in [*out_dir.glob("*/.run-*"), *out_dir.glob(".*.tmp"), *out_dir.glob("*/.*.tmp"),
                *out_dir.glob("logs/.*.tmp")]:
        with contextlib.suppress(OSError):  # a read-only folder: the run reports that for its pages
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
