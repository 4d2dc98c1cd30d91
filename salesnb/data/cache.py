"""Fingerprints of data files, and a cache of validated loads keyed by them.

Every report notebook loads the same data; reading and validating it costs about half a
second each time. A load with ``cache=True`` stores the validated tables under
``.cache/`` (git-ignored), keyed by the bytes of the files it read, the options and the
loader's own code, so any change to the data, its mapping or salesnb's loading code reads
the files again. Only successful loads are cached.

The cache is bounded: after each store the least recently used loads are removed until
the folder holds at most ``SALESNB_CACHE_MB`` megabytes (default 1024; the newest load
always stays). ``make clean`` empties it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from salesnb.data.schema import TABLES

__all__ = ["source_files", "source_fingerprint", "uses_database", "cached", "store", "prune", "DEFAULT_CAP_MB"]

DEFAULT_CAP_MB = 1024


def source_files(source: Any, base_dir: Path) -> list[Path]:
    """The files a source reads (a folder's table files, or the mapped paths)."""
    def resolve(p: Any) -> Path:
        path = Path(str(p)).expanduser()
        return path if path.is_absolute() else base_dir / path

    folders = [source] if isinstance(source, (str, os.PathLike)) else (
        [source["folder"]] if isinstance(source, Mapping) and source.get("folder") else [])
    files = [f for folder in folders for f in sorted(resolve(folder).glob("*"))
             if f.stem in TABLES and f.is_file()]
    if isinstance(source, Mapping):
        files += [resolve(t["path"]) for t in (source.get("tables") or {}).values()
                  if isinstance(t, Mapping) and t.get("path")]
    return files


def uses_database(source: Any) -> bool:
    """Whether any table of the source comes from a database (which can change at any time)."""
    return isinstance(source, Mapping) and any(
        isinstance(t, Mapping) and ("table" in t or "query" in t) for t in (source.get("tables") or {}).values())


def source_fingerprint(source: Any, base_dir: Path, *extra: Any) -> str:
    """Hash of the source's options and the bytes of every file it reads (no parsing).

    A source with database tables gets a new fingerprint every time: nothing cheap tells
    whether the database changed, so its pages are always made again.
    """
    import time

    digest = hashlib.sha256(json.dumps([source, *extra], sort_keys=True, default=str).encode())
    if uses_database(source):
        digest.update(str(time.time_ns()).encode())
    for path in source_files(source, base_dir):
        digest.update(str(path).encode())
        try:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()[:16]


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_key(source: Any, base_dir: Path, *options: Any) -> str:
    return source_fingerprint(source, base_dir, _code_fingerprint(), *options)


def cached(cache_dir: Path, key: str) -> Any | None:
    """The stored load for ``key``, or None."""
    path = cache_dir / f"{key}.pickle"
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            value = pickle.load(fh)  # our own file, written by store() below
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    with contextlib.suppress(OSError):  # a read-only cache still serves
        os.utime(path)  # used now: least recently used is what prune() removes first
    return value


def store(cache_dir: Path, key: str, value: Any) -> None:
    """Store a load atomically (several notebooks may load at once)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=5)
        os.replace(tmp, cache_dir / f"{key}.pickle")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    prune(cache_dir, keep=key)


def _cap_bytes() -> int:
    try:
        return int(float(os.environ.get("SALESNB_CACHE_MB", DEFAULT_CAP_MB)) * 2**20)
    except ValueError:
        return DEFAULT_CAP_MB * 2**20


def prune(cache_dir: Path, *, cap_bytes: int | None = None, keep: str = "") -> list[Path]:
    """Remove the least recently used loads until the cache is within its cap.

    Temporary files of interrupted stores older than an hour go too. Returns what was
    removed.
    """
    import time

    cap = _cap_bytes() if cap_bytes is None else cap_bytes
    removed = []
    entries = []
    for path in cache_dir.glob("*"):
        try:
            st = path.stat()
        except OSError:
            continue  # removed meanwhile by another notebook's prune
        if path.suffix == ".tmp":
            if time.time() - st.st_mtime > 3600:
                path.unlink(missing_ok=True)
                removed.append(path)
            continue
        entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= cap:
            break
        if path.stem == keep:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
        total -= size
    return removed
