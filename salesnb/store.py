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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["DailyStore", "FitMemo", "CODE", "MAX_FILES", "MAX_FITS"]


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
        self._fits: FitMemo | None = None

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

    def fits(self) -> FitMemo:
        """The forecasts' model fits kept beside the daily sums (one per store)."""
        if self._fits is None:
            self._fits = FitMemo(self.folder / "fits.sqlite")
        return self._fits

    def __repr__(self) -> str:
        return f"DailyStore({str(self.folder)!r}, scope={self.scope!r})"


MAX_FITS = 200_000  # kept fits (about 100 bytes each); the oldest go first


class FitMemo:
    """Model forecasts kept between runs, keyed by the model, the horizon and the exact
    history it was fitted on (its bytes' hash), so next month's backtest fits only its new
    origins: a backtest origin's forecast depends on nothing else. A forecast read back is
    the very array that was computed (float64 bytes), so the numbers are those of a fresh
    fit. SQLite, so several kernels read and write at once; any failure to read or write
    (locked too long, read-only, damaged) means the fit is computed, never an error.

    >>> import tempfile, numpy as np
    >>> memo = FitMemo(Path(tempfile.mkdtemp()) / "fits.sqlite")
    >>> fits = []
    >>> model = lambda z, h: fits.append(1) or np.repeat(z[-1], h)
    >>> z = np.array([1.0, 2.0])
    >>> memo.predict("m", model, z, 3).tolist(), memo.predict("m", model, z, 3).tolist()
    ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    >>> len(fits)
    1
    """

    def __init__(self, path: Path, code: str = ""):
        self.path = Path(path)
        self.code = code or _fit_code()
        self._db: Any = None
        self._broken = False
        self.computed = 0  # fits computed (not read back) by this memo: for tests and benches

    def _connect(self) -> Any:
        import sqlite3

        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS fits (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
                self._db = db
                self._prune()  # each run adds only a few fits: bound the file when it is opened
            except (OSError, sqlite3.Error):
                self._broken = True
        return self._db

    def _key(self, model: str, z: np.ndarray, steps: int) -> str:
        history = np.ascontiguousarray(z, dtype=np.float64).tobytes()
        return f"{self.code}:{model}:{steps}:{hashlib.sha256(history).hexdigest()}"

    def predict(self, model: str, fit: Callable[[np.ndarray, int], np.ndarray], z: np.ndarray,
                steps: int) -> np.ndarray:
        """``fit(z, steps)``, or the array it gave before for the same ``model``, ``z`` and
        ``steps``. An exception of ``fit`` is raised as it is, and nothing is kept."""
        import sqlite3

        key = self._key(model, z, steps)
        db = self._connect()
        if db is not None:
            try:
                row = db.execute("SELECT value FROM fits WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                row = None
            if row is not None and len(row[0]) == 8 * steps:
                return np.frombuffer(row[0], dtype=np.float64).copy()
        out = np.asarray(fit(z, steps), dtype=np.float64)
        self.computed += 1
        if db is not None and out.shape == (steps,):
            with contextlib.suppress(sqlite3.Error):
                db.execute("INSERT OR REPLACE INTO fits (key, value) VALUES (?, ?)", (key, out.tobytes()))
                if self.computed % 500 == 0:  # and now and then in a long run
                    self._prune()
        return out

    def _prune(self) -> None:
        """Keep the newest MAX_FITS fits (a fit written again is new)."""
        import sqlite3

        with contextlib.suppress(sqlite3.Error):
            self._db.execute("DELETE FROM fits WHERE rowid <= (SELECT max(rowid) FROM fits) - ?", (MAX_FITS,))


def _fit_code() -> str:
    """The forecasts' code and statsmodels' version: fits kept by another are not read."""
    import statsmodels

    digest = hashlib.sha256((Path(__file__).parent / "forecast.py").read_bytes())
    digest.update(statsmodels.__version__.encode())
    return digest.hexdigest()[:12]
