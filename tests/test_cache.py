"""The load cache is bounded: least recently used loads go first, the newest always stays."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from salesnb.data import cache


def _entry(folder: Path, key: str, size: int, age: float) -> Path:
    path = folder / f"{key}.pickle"
    path.write_bytes(b"\0" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_prune_removes_least_recently_used_first(tmp_path: Path) -> None:
    old, middle, new = (_entry(tmp_path, k, 400, age) for k, age in (("old", 300), ("middle", 200), ("new", 100)))
    stale_tmp = tmp_path / "x.tmp"
    stale_tmp.write_bytes(b"half")
    os.utime(stale_tmp, (time.time() - 7200, time.time() - 7200))
    removed = cache.prune(tmp_path, cap_bytes=900)
    assert set(removed) == {old, stale_tmp}
    assert middle.exists() and new.exists()
    # reading an entry makes it recently used: now "new" is the oldest use
    import pickle

    middle.write_bytes(pickle.dumps("value"))
    os.utime(middle, (time.time() - 500, time.time() - 500))
    assert cache.cached(tmp_path, "middle") == "value"
    assert cache.prune(tmp_path, cap_bytes=len(pickle.dumps("value"))) == [new]


def test_store_keeps_the_cache_under_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESNB_CACHE_MB", str(3000 / 2**20))  # 3,000 bytes
    for i in range(6):
        cache.store(tmp_path, f"k{i}", b"x" * 1000)
        time.sleep(0.01)
    left = sorted(p.stem for p in tmp_path.glob("*.pickle"))
    assert left[-1] == "k5" and len(left) <= 2 and sum(p.stat().st_size for p in tmp_path.glob("*")) <= 3000
    # a cap smaller than one load still keeps the load just stored
    monkeypatch.setenv("SALESNB_CACHE_MB", "0")
    cache.store(tmp_path, "big", b"x" * 5000)
    assert [p.stem for p in tmp_path.glob("*.pickle")] == ["big"]
