"""The daily summary store: per-day, per-segment sufficient statistics kept between runs.

A monthly report reads three years of history for its trends, unusual months, backtests and
baselines, although only the newest month changed. :mod:`salesnb.aggregate` therefore keeps,
for each family of statistics (orders, returns, new customers, leads), segment column and
engine, one frame of sums per segment and day, together with a fingerprint of the rows
behind each day (a hash of exactly the values the sums are made of). The next run hashes
the rows again (one cheap pass), recomputes only the days whose fingerprint changed, and
serves every window from the frame: the numbers are exactly those of a run without it.

One Parquet file per key, fingerprints in its metadata, replaced atomically (several
notebooks update the store at once); a file written by other code (``CODE``) is ignored.

>>> import tempfile, pandas as pd
>>> store = DailyStore(tempfile.mkdtemp())
>>> store.save(("pandas", "orders", None), pd.DataFrame({"n": [1]}), {"2026-10-01": "7"})
>>> frame, fingerprints = store.load(("pandas", "orders", None))
>>> frame["n"].tolist(), fingerprints
([1], {'2026-10-01': '7'})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["DailyStore", "CODE", "MAX_FILES"]


def _code() -> str:
    """The statistics' code: a store written by another version is recomputed."""
    digest = hashlib.sha256()
    for name in ("aggregate.py", "store.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:12]


CODE = _code()
MAX_FILES = 400
_META = b"salesnb.daily"


class DailyStore:
    """A folder of per-day statistics; ``load`` and ``save`` by key (scope, engine, family,
    segment column)."""

    def __init__(self, folder: str | os.PathLike[str], scope: str = ""):
        self.folder = Path(folder)
        self.scope = scope  # which data this is (the params' source): a new export of it reuses the days
        self.recomputed: dict[tuple, int] = {}  # key -> days recomputed by the last update (for tests and benches)

    def _path(self, key: tuple) -> Path:
        name = hashlib.sha256(json.dumps([str(k) for k in key]).encode()).hexdigest()[:20]
        return self.folder / f"{name}.parquet"

    def load(self, key: tuple) -> tuple[pd.DataFrame, dict[str, str]] | None:
        """The stored frame and its day fingerprints, or None (absent, unreadable or stale code)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
        except (OSError, pa.ArrowException, ValueError):
            return None
        if meta.get("code") != CODE or meta.get("key") != [str(k) for k in key]:
            return None
        return table.to_pandas(), dict(meta["days"])

    def save(self, key: tuple, frame: pd.DataFrame, fingerprints: dict[str, str]) -> None:
        """Write atomically; a store that cannot be written (read-only, disk full) is skipped:
        the next run computes from the rows again."""
        meta = json.dumps({"code": CODE, "key": [str(k) for k in key], "days": fingerprints}).encode()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META: meta})
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            os.close(fd)
            pq.write_table(table, tmp)
            os.replace(tmp, self._path(key))
        except OSError:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return
        self._prune(keep=self._path(key))

    def _prune(self, keep: Path) -> None:
        """At most MAX_FILES keys: the least recently written go (a key per data source,
        engine, family and segment column; tests and trials leave many)."""
        files = sorted(self.folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns if p.exists() else 0)
        for old in files[:max(0, len(files) - MAX_FILES)]:
            if old != keep:
                with contextlib.suppress(OSError):
                    old.unlink()

    def __repr__(self) -> str:
        return f"DailyStore({str(self.folder)!r}, scope={self.scope!r})"
