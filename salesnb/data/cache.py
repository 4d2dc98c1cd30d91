"""Fingerprints of data files, and a cache of validated loads keyed by them.

Every report notebook loads the same data; reading and validating it costs about half a
second each time. A load with ``cache=True`` stores the validated tables under
``.cache/`` (git-ignored), keyed by the bytes of the files it read, the options and the
loader's own code, so any change to the data, its mapping or salesnb's loading code reads
the files again. Only successful loads are cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from salesnb.data.schema import TABLES

__all__ = ["source_files", "source_fingerprint", "cached", "store"]


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


def source_fingerprint(source: Any, base_dir: Path, *extra: Any) -> str:
    """Hash of the source's options and the bytes of every file it reads (no parsing)."""
    digest = hashlib.sha256(json.dumps([source, *extra], sort_keys=True, default=str).encode())
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
            return pickle.load(fh)  # our own file, written by store() below
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None


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
