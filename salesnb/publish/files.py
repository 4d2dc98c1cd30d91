"""Files a run writes beside the pages: atomic writes, attachments, the period workbook, kept
failed notebooks, and the one-line words for a file-system fault.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from salesnb import config

__all__ = ["DISK_ERRORS", "SHEETS_DIR", "WORKBOOK", "atomic_write", "disk_fault", "keep_failed", "rel_path",
           "unsafe_attachment", "write_attached", "write_workbook"]


DISK_ERRORS = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EDQUOT: "disk quota exceeded", errno.EIO: "input/output error"}


def rel_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.ROOT))
    except ValueError:
        return str(path)


def disk_fault(exc: BaseException | None) -> str | None:
    """``no space left on device: outputs/2026-10`` for a file-system fault anywhere in the
    exception's chain (or in a notebook's error), else None.

    >>> disk_fault(OSError(28, "No space left on device", "/out/x.html"))
    'no space left on device: /out/x.html'
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_ERRORS:
            where = exc.filename or ""
            return DISK_ERRORS[exc.errno] + (f": {rel_path(Path(where))}" if where else "")
        # an OSError raised inside the notebook reaches us as papermill's error, as text
        text = f"{getattr(exc, 'ename', '')} {getattr(exc, 'evalue', '')}"
        for code, words in DISK_ERRORS.items():
            if f"[Errno {code}]" in text:
                return words
        exc = exc.__cause__ or exc.__context__
    return None


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; published pages are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unsafe_attachment(attached: Any) -> str:
    """Why a file a page attached cannot be written under its name, or "" when it can."""
    from salesnb.present import CSV_NAME, MAX_NAME_BYTES

    name = str(attached.get("name", "")) if isinstance(attached, dict) else ""
    if not CSV_NAME.fullmatch(name) or ".." in name:
        return f"the page attached a file with an unsafe name: {name[:80]!r}"
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in name.split("/")):
        return f"the page attached a file whose name is too long: {name[:80]!r}…"
    return ""


def write_attached(period_out: Path, attached: Any) -> str:
    """Write a file a page attached (:func:`salesnb.present.attach_csv`) beside it; an error
    text, or "" when written."""
    name = str(attached.get("name", ""))
    if unsafe_attachment(attached):
        return unsafe_attachment(attached)
    try:
        atomic_write(period_out / name, str(attached.get("text", "")))
    except OSError as exc:
        return disk_fault(exc) or f"could not write {name}: {exc}"
    return ""


SHEETS_DIR = ".sheets"


WORKBOOK = "kpis.xlsx"


def write_workbook(period_out: Path, pages: Sequence[str]) -> int:
    """``<period>/kpis.xlsx`` from the sheets every page of the period kept, in page order
    (none when no page has a sheet). Written atomically: a reader never sees half a file.
    Returns how many texts had characters a workbook cannot hold replaced."""
    from salesnb import workbook

    sheets: list[dict[str, Any]] = []
    folder = period_out / SHEETS_DIR
    kept = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    for name in [*pages, *sorted(set(kept) - set(pages))]:
        if name in kept:
            sheets += json.loads(kept[name].read_text(encoding="utf-8"))
    if not sheets:
        return 0
    path = period_out / WORKBOOK
    tmp = path.with_name(f".{WORKBOOK}.tmp")
    try:
        cleaned = workbook.write(tmp, sheets)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return cleaned


def keep_failed(executed: Path, kept: Path, secrets: frozenset[str]) -> None:
    """Move the executed notebook to ``_failed/``; a secret in an error text is masked."""
    if secrets:
        from salesnb.secrets import redact_text

        executed.write_text(redact_text(executed.read_text(encoding="utf-8"), secrets), encoding="utf-8")
    os.replace(executed, kept)
