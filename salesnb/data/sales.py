"""``SalesData`` (the loaded canonical tables) and ``load`` (read, map, validate)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.schema import TABLE_NAMES, TABLES

__all__ = ["SalesData", "load", "MissingTableError"]


class MissingTableError(ValueError):
    """A report asked for a table that the source does not have."""


@dataclass(frozen=True)
class SalesData:
    """The loaded canonical tables.

    Every table is optional: ``present`` names those loaded; ``data["orders"]`` (or
    ``data.orders``) gives one as a pandas DataFrame and raises :class:`MissingTableError`
    when it is absent; ``data.get("orders")`` gives ``None`` instead. Treat the frames as
    read-only. ``warnings`` lists what validation found odd but not wrong.
    """

    tables: Mapping[str, pd.DataFrame]
    warnings: tuple[str, ...] = ()
    source: str = ""

    @property
    def present(self) -> tuple[str, ...]:
        """Names of the loaded tables, in the order of DESIGN.md."""
        return tuple(n for n in TABLE_NAMES if n in self.tables)

    def has(self, *names: str) -> bool:
        """True when every named table is loaded."""
        return all(n in self.tables for n in names)

    def get(self, name: str) -> pd.DataFrame | None:
        _check_name(name)
        return self.tables.get(name)

    def __getitem__(self, name: str) -> pd.DataFrame:
        _check_name(name)
        if name not in self.tables:
            raise MissingTableError(
                f"table {name!r} is not loaded (loaded: {', '.join(self.present) or 'none'}); "
                f"add it to the source in params/base.yaml"
            )
        return self.tables[name]

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in TABLES:
            return self[name]
        raise AttributeError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.present)

    @cached_property
    def fingerprint(self) -> str:
        """A short content hash of every loaded table (names, columns, dtypes, values).

        Equal data gives an equal fingerprint wherever it was read from, in whatever row
        order (a database returns rows in no set order); any changed cell changes it. The
        reports print it in their run record.
        """
        digest = hashlib.sha256()
        for name in self.present:
            df = self.tables[name]
            digest.update(name.encode())
            digest.update(repr([(c, str(t)) for c, t in df.dtypes.items()]).encode())
            digest.update(np.sort(pd.util.hash_pandas_object(df, index=False).to_numpy()).tobytes())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}={len(self.tables[n]):,}" for n in self.present)
        return f"SalesData({rows})"


def _check_name(name: str) -> None:
    if name not in TABLES:
        raise KeyError(f"{name!r} is not a canonical table; tables are {', '.join(TABLES)}")


def load(source: str | os.PathLike[str] | Mapping[str, Any], *,
         base_dir: str | os.PathLike[str] | None = None,
         funnel_stages: list[str] | None = None,
         as_of: datetime | str | None = None, cache: bool = False, keep: bool = False) -> SalesData:
    """Load and validate a data source.

    Parameters
    ----------
    source
        A folder of canonical files (``orders.csv``, ``leads.parquet`` …) or the
        ``source:`` mapping of a params file (see :mod:`salesnb.data.loading`).
    base_dir
        Folder that relative paths start from; default the current directory.
    funnel_stages
        Stage order from params; stages outside it are reported as warnings.
    as_of
        Dates after this are errors; default now (or ``source.as_of``).
    cache
        Keep the validated tables under ``.cache/`` in the project, keyed by the files'
        bytes, the options and the loader's code (see :mod:`salesnb.data.cache`); the
        report notebooks use it so that the data is read and checked once.
    keep
        With ``cache``: hold the loaded data in this process, and hand the very same object
        to the next load of the same files and options (one data set at a time). A warm
        kernel's next page then reuses the tables and every aggregate computed on them.
        The tables are shared, so they must not be changed in place.

    Returns
    -------
    SalesData

    Raises
    ------
    DataValidationError
        (a ``ValueError``) listing every problem: table, column, rows and values.
        Loading writes nothing anywhere.
    """
    if not isinstance(source, str | os.PathLike) or "${" in str(source):
        from salesnb.secrets import expand_env

        source = expand_env(source)  # ${NAME}: a value (a password, a folder) from the environment
    if cache:
        from salesnb import config
        from salesnb.data import cache as store

        cache = not store.uses_database(source)  # a database is read every time: it changes under us
    if cache:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        key = store.cache_key(source, base, funnel_stages, as_of and str(as_of))
        if keep and key in _KEPT:
            return _KEPT[key]
        _KEPT.clear()  # the data held for another load goes before this one is read
        hit = store.cached(config.ROOT / ".cache", key)
        if hit is not None:
            return _kept(key, SalesData(*hit), keep)
    from salesnb.data.loading import read_source  # pandas readers and pandera: only on a real read

    tables, warnings, described = read_source(source, base_dir=base_dir,
                                              funnel_stages=funnel_stages, as_of=as_of)
    if cache:
        # a full disk or a read-only project: the cache is a saving, not a need
        with contextlib.suppress(OSError):
            store.store(config.ROOT / ".cache", key, (tables, tuple(warnings), described))
        return _kept(key, SalesData(tables, tuple(warnings), described), keep)
    return SalesData(tables, tuple(warnings), described)


_KEPT: dict[str, SalesData] = {}  # load(keep=True): the data held in this process, by its cache key


def _kept(key: str, data: SalesData, keep: bool) -> SalesData:
    if keep:
        _KEPT[key] = data
    return data
